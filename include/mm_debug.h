/*
 * mm_debug.h - the debug build of the memory manager (beyond the spec).
 *
 * `make DEBUG=1` defines MM_DEBUG for every mm/ file and every file that
 * includes memory.h.  The machinery is then compiled in; it is switched on
 * for the life of a heap by memory_init() when mm_debug_set(1) was called
 * before (the kernel does so for its boot option "mmdebug"; the host tests
 * of tests/host/test_debug.c in their setup).  Off, a debug build behaves as
 * the normal one (and the existing test suites run that way in it).  A
 * normal build has none of it: no field, no byte, no branch.
 *
 * With the checks on, every allocation made through the public API looks like
 *
 *   heap block:   | hdr ... rz4 | object (size asked) | red zone >= 8 | rec |
 *   slab object:  | object (size asked) | red zone (to the stride's end)    |
 *                 (its rec lives in a table in the slab page's header)
 *
 *   rz4   the last 4 bytes of a block's header (padding: the struct ends
 *         before HEAP_HEADER_SIZE on i386 and x86_64), MM_REDZONE_BYTE
 *   rec   8 bytes: the size asked and the call sites of the allocation and
 *         the free (ids in a table of call sites: never a pointer)
 *
 * and the bytes below are written down here, and only here:
 */
#ifndef MM_DEBUG_H
#define MM_DEBUG_H

#include "mm_names.h" /* -DMM_PREFIX: every name mm_<name> */

#include <stddef.h>
#include <stdint.h>

/* Fresh memory from kmalloc / kmem_cache_alloc (not kcalloc): reads of uninitialised data show it.
 */
#define MM_FILL_BYTE    0x5a
/* Freed memory, held in quarantine: a write after free changes it, a read shows it. */
#define MM_POISON_BYTE  0x6b
/* Red zones around every object: a write past the end (or before the start) changes them. */
#define MM_REDZONE_BYTE 0xcc

/* The same bytes as a 32-bit word: what a pointer read from such memory looks like. */
#define MM_BYTE_WORD(b) ((uint32_t)(b)*0x01010101u)

/* Smallest red zone after a heap block's object (slab objects: to their stride's end). */
#define MM_REDZONE_MIN        8
/* The quarantine: recently freed objects stay poisoned and unusable until this much is freed after.
 */
#define MM_QUARANTINE_ENTRIES 64
#define MM_QUARANTINE_BYTES   (256 * 1024)
/* Call sites the leak report and the profile tell apart (more share the line "other"). */
#define MM_DEBUG_SITES        256
/* Allocation trace: the last MM_TRACE_EVENTS allocations and frees. */
#define MM_TRACE_EVENTS       256
/* Size histogram: bucket k holds sizes in [2^k, 2^(k+1)), the last one everything above. */
#define MM_HISTOGRAM_BUCKETS  24

/*
 * What memory_init() does next: 1 = checks on (red zones, fill, poison,
 * quarantine), 0 = off (call sites, the leak report and the profile still
 * work).  Takes effect at the next memory_init(), never in the middle of a
 * heap's life: every block is laid out one way.
 */
void mm_debug_set(int on);
/* Are the checks on for the current heap? (0 in a build without MM_DEBUG) */
int mm_debug_enabled(void);

typedef struct {
    uint32_t live_allocations; /* through the public API, not yet freed */
    uint32_t live_bytes;       /* bytes asked for by those */
    uint32_t peak_bytes;       /* high-water mark of live_bytes */
    uint32_t quarantined;      /* objects in quarantine now */
    uint32_t quarantined_bytes;
    uint32_t fragmentation; /* percent: 100 * (1 - largest free block / free bytes) */
    uint32_t
        histogram[MM_HISTOGRAM_BUCKETS]; /* allocations by size (every one since memory_init) */
    uint32_t trace_events;               /* events recorded since memory_init */
    uint32_t sites;                      /* distinct call sites seen */
} mm_debug_stats_t;

#ifdef MM_DEBUG
/* 0 and *st filled (the checks may be off). */
int mm_debug_get_stats(mm_debug_stats_t *st);
/*
 * The leak report: live allocations grouped by call site, one line each,
 *   "leak: <count> allocations, <bytes> bytes at <file>:<line>"
 * then "leaks: <count> allocations, <bytes> bytes live".  Returns the count.
 */
uint32_t heap_leaks(void);
/* Allocation sizes, one line a bucket: "histogram: <lo>-<hi> <count>". */
void heap_histogram(void);
/*
 * Peak usage, fragmentation index and bytes per call site:
 *   "profile: peak <bytes> bytes live, fragmentation <n>%"
 *   "site: <file>:<line> <allocs> allocations, <bytes> bytes, <live> bytes live"
 */
void heap_profile(void);
/* The trace, oldest first: "trace: <seq> alloc|free <addr> <size> <file>:<line>". */
void heap_trace_dump(void);
/* Release every object in quarantine now (checking each); returns how many. */
uint32_t mm_debug_flush(void);
#endif

#endif /* MM_DEBUG_H */

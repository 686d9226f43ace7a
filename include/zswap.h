/*
 * zswap.h - reclaim of cold pages into the compressed store, and demand paging
 * back in (issue 14, items 3-6; mm/zswap.c).
 *
 * Only memory asked for as compressible is ever compressed:
 *
 *   void *p = vmalloc_compressible(64 << 20);   64 MB, even on a 32 MB machine
 *
 * reserves the span in the vmalloc range (guard pages each side) and maps no
 * page: every page starts as a "zero page" entry, and the first touch faults
 * in a zeroed frame.  The heap, page tables, kernel stacks and ordinary
 * vmalloc memory are never compressed.
 *
 * Reclaim: a CLOCK hand sweeps the pages of the compressible areas.  A present
 * page with PAGE_ACCESSED set has it cleared (one TLB shootdown per swept
 * batch: up to ZSWAP_BATCH pages, or fewer once it took ZSWAP_SWEEP cold ones
 * or what was asked for); a page whose bit is still clear when the hand
 * comes round is cold: its entry is exchanged for a pending one, the batch shot
 * down, the page compressed into include/zstore.h's store and its entry made
 * the swap entry ZSWAP_ENTRY(handle), and the frame freed.  A page whose stored
 * copy is still valid (it was faulted in and PAGE_DIRTY is still clear) is
 * dropped without compressing again.  Reclaim runs on request
 * (zswap_reclaim), when a fault finds fewer free frames than the low
 * watermark (up to the high one), and as a PMM reclaim hook when an
 * allocation finds none.
 *
 * Fault-in: zswap_fault(addr, err), called by the kernel's #PF handler (and on
 * the host by the glue's SIGSEGV handler) for a not-present page: a frame (on
 * the node the page was on), the stored copy decompressed into it (or zeros),
 * mapped clean (the stored copy kept for a later clean drop), 1: the faulting
 * instruction runs again.  0: not a compressible page's fault, or out of
 * memory with nothing left to compress (one line naming the area; the caller
 * then diagnoses the fault): never a wrong byte.
 *
 * A not-present entry of a compressible page:
 *
 *   31                                                        1   0
 *   | the store's handle (31 bits: index 18, generation 13)    | 0 |
 *
 * A handle is never 0 (index 0 is never used), so the entry is never 0: the
 * non-zero word with bit 0 clear is the marker that tells it from an empty
 * entry.  Handles of index 0 encode zswap's own states: ZSWAP_ENTRY_ZERO (a
 * page never written: zeros) and ZSWAP_ENTRY_PENDING (being compressed, under
 * mm/'s lock only).  The present entry carries VMM_PTE_ZSWAP (include/vmm.h).
 *
 * Pages are read and written through the area's addresses only: a write
 * through another mapping (the direct map) would not set PAGE_DIRTY.
 *
 * Locking: mm/'s lock (a fault takes it; it nests on the CPU that holds it).
 * The codec runs with it let go (a CPU's own buffer, mm/zswap.c's top
 * comment) where the CPU holds it once: zswap_reclaim, a fault's reclaim and
 * fault-in.  A fault on a page being compressed meanwhile runs the faulting
 * instruction again until the page is stored (then it comes back as usual).
 * Needs mm/vmm.c's page tables (PAGE_ACCESSED/PAGE_DIRTY in our entries).
 */
#ifndef ZSWAP_H
#define ZSWAP_H

#include "mm_names.h" /* -DMM_PREFIX: every name mm_<name> */

#include <stddef.h>
#include <stdint.h>

#include "zstore.h"

#define ZSWAP_MAX_AREAS     16
#define ZSWAP_SWEEP         32   /* the hand's run: it takes at most this many cold pages */
#define ZSWAP_BATCH         1024 /* pages the hand sweeps (in runs) with one shootdown, at most */
#define ZSWAP_ENTRY(handle) ((uint32_t)(handle) << 1)
#define ZSWAP_HANDLE(entry) ((uint32_t)(entry) >> 1)
#define ZSWAP_ENTRY_ZERO    ZSWAP_ENTRY(1u << ZSTORE_INDEX_BITS) /* index 0, generation 1 */
#define ZSWAP_ENTRY_PENDING ZSWAP_ENTRY(2u << ZSTORE_INDEX_BITS) /* index 0, generation 2 */

/*
 * size bytes (rounded up to pages) of compressible memory, zeroed on first
 * touch; NULL for 0, or when the range or zswap's table (ZSWAP_MAX_AREAS) is
 * full, or no memory for its page tables (one line).  Freed by vfree.
 */
void *vmalloc_compressible(size_t size);

/* Reclaim up to `pages` frames of compressible memory now: the frames freed. */
uint32_t zswap_reclaim(uint32_t pages);

/* The page fault at addr (err: the CPU's error code): 1 handled, 0 not (see above). */
int zswap_fault(uint32_t addr, uint32_t err);

/* Free-frame watermarks: reclaim below low, up to high (0, 0: the default, RAM/64 and twice). */
void zswap_set_watermarks(uint32_t low, uint32_t high);

typedef struct {
    uint32_t areas;         /* compressible areas now */
    uint32_t area_pages;    /* their pages */
    uint32_t present;       /* of those, mapped now */
    uint32_t stored;        /* compressed now (a stored copy, no frame) */
    uint32_t zero;          /* never touched (or not since) */
    uint32_t copies;        /* present pages whose stored copy is kept (clean) */
    uint32_t transit;       /* being compressed, mm/'s lock let go (pending entries) */
    uint32_t compressed;    /* pages compressed by reclaim */
    uint32_t dropped_clean; /* pages dropped without compressing: copy still valid */
    uint32_t faulted_in;    /* pages brought back from the store by a fault */
    uint32_t zero_fills;    /* first touches: zeroed frames */
    uint32_t failures;      /* pages reclaim could not store (store full, no memory) */
    uint32_t oom_faults;    /* faults refused: no frame, nothing left to compress */
    uint32_t reclaims;      /* reclaim runs (request, watermark, PMM hook) */
    uint32_t scanned;       /* pages the hand passed */
    uint32_t low, high;     /* the watermarks now, in free frames */
} zswap_stats_t;
void zswap_get_stats(zswap_stats_t *stats);

/*
 * Every page of every area: its entry present (our bit, a vmalloc frame) or a
 * swap entry naming a live handle (or zero); kept copies only on present
 * pages; the counts.  Returns the problems found (0 = healthy).
 */
int zswap_check(void);
/* zram's statistics, the ratio, and reclaim and fault counts, on the console. */
void zswap_dump(void);
/* Forget every area without freeing (tests that restart the memory manager). */
void zswap_reset(void);

#endif /* ZSWAP_H */

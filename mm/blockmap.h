/*
 * blockmap.h - the heap's out-of-band record of its blocks (mm/blockmap.c).
 *
 * The spec's heap_block_t sits in band, right before each payload, where an
 * overflow of the block below or a write after free can change it.  So the
 * heap keeps a second record of every block where no caller can write: two
 * bits per granule (HEAP_BLOCK_ALIGN bytes) of a region,
 *
 *   region.start                                               region.end
 *   | hdr | payload ....... | hdr | payload | hdr | payload ...      |
 *   start: 1 0 0 0 0 0 0 0 0  1 0 0 0 0 0 0  1 0 0 0 0 0 0 ...
 *   free:  0                  1               0                       (at starts)
 *   sum:   a bit per 32-bit word of start: does it hold a start?
 *
 * A header is believed only when it agrees with the map (heap_block.c:
 * heap_block_problem), and a smashed one is rebuilt from it exactly: the block's
 * end is the next start bit, its state the free bit.  The heap changes the
 * map at the few places where blocks are born, merged or change state.
 *
 * Where the bits live: static arrays for the 64 KB early heap; for the
 * virtual heap, the metadata window (vmm.h, MM_META_BLOCK_STARTS,
 * MM_META_BLOCK_FREE and MM_META_BLOCK_SUMMARY), whose pages are mapped as the heap grows
 * (bmap_cover).  Every accessor takes any address and answers 0 for one the
 * map does not cover, so a forged pointer is simply "not a block".
 *
 * Locking: mm_lock, held by the heap.
 */
#ifndef MM_BLOCKMAP_H
#define MM_BLOCKMAP_H

#include "names_priv.h" /* -DMM_PREFIX: mm/'s shared names too */

#include <stddef.h>
#include <stdint.h>

#include "memory.h"
#include "vmm.h"

#define BMAP_GRANULE HEAP_BLOCK_ALIGN

typedef struct bmap {
    uintptr_t base;  /* the region's first byte: granule 0 */
    uint32_t *start; /* bit g: a block header begins at base + g * BMAP_GRANULE */
    uint32_t *free;  /* bit g: ... and that block is free */
    uint32_t *sum;   /* bit w: start[w] != 0 (the scans skip 32 empty words at a time) */
    uint32_t cap;    /* granules the map can ever describe (a multiple of 32) */
    uint32_t words;  /* words of each bitmap in use (all of them if static) */
    uint32_t mapped; /* words of each bitmap backed by window pages (>= words) */
    uint32_t seen;   /* most words in use since the last bmap_trim (a lazy map's readers) */
    int lazy;        /* read without the lock (bmap_fast_*): pages go only at bmap_trim */
    vaddr_t start_v; /* the bitmaps' kernel virtual addresses (0: static arrays) */
    vaddr_t free_v;
    vaddr_t sum_v;
    uint32_t *marks; /* a bit per HEAP_MARK_SPAN bytes (bmap_marks), NULL: none (static) */
    vaddr_t marks_v;
} bmap_t;

/* A map over static arrays of cap / 32 words each (sum: cap / 1024), every bit clear. */
void bmap_init_static(bmap_t *m, uintptr_t base, uint32_t *start, uint32_t *free, uint32_t *sum,
                      uint32_t cap);
/* A map in the metadata window, with marks (nothing backed yet: see bmap_cover). */
void bmap_init_window(bmap_t *m, uintptr_t base, vaddr_t start_v, vaddr_t free_v, vaddr_t sum_v,
                      vaddr_t marks_v, uint32_t cap);
/* Back the bits of [base, base + bytes) (new words read 0).  0, or -1: no memory, nothing lost. */
int bmap_cover(bmap_t *m, size_t bytes);
/*
 * The pages bmap_cover(m, bytes) needs, mapped and clean but the bits not yet
 * in use (a region about to grow: bmap_cover then, and bmap_uncover gives
 * back what it did not need).  0, or -1.
 */
int bmap_reserve(bmap_t *m, size_t bytes);
/*
 * The region shrank to `bytes`: window pages wholly past its bits go back to
 * the PMM, or, for a lazy map, stay (still mapped, no longer in use) until
 * bmap_trim.
 */
void bmap_uncover(bmap_t *m, size_t bytes);
/*
 * A lazy map's pages past its bits back to the PMM: no reader may be in
 * bmap_fast_* now.  Did any go?
 */
int bmap_trim(bmap_t *m);

/* The granule of addr, or -1 if addr is not a granule the map covers. */
static inline long bmap_granule(const bmap_t *m, uintptr_t addr)
{
    if (addr < m->base || (addr - m->base) % BMAP_GRANULE)
        return -1;
    uintptr_t g = (addr - m->base) / BMAP_GRANULE;
    return g < (uintptr_t)m->words * 32 ? (long)g : -1;
}

static inline int bmap_bit(const uint32_t *bits, long g)
{
    return (int)((bits[g / 32] >> (g % 32)) & 1);
}

/* Does a block header begin at addr? */
static inline int bmap_is_start(const bmap_t *m, uintptr_t addr)
{
    long g = bmap_granule(m, addr);
    return g >= 0 && bmap_bit(m->start, g);
}

/* Does a free block begin at addr? */
static inline int bmap_is_free(const bmap_t *m, uintptr_t addr)
{
    long g = bmap_granule(m, addr);
    return g >= 0 && bmap_bit(m->start, g) && bmap_bit(m->free, g);
}

/*
 * Without the lock (the per-CPU block caches' free, blockcache.c): the payload
 * size of the allocated block whose header is at addr, if it is one of at
 * most `max` bytes; else 0.  Reads only words below `words` (acquire: the
 * pages under them stay mapped while a lazy map's reader runs) with atomic
 * loads: every writer stores whole words atomically (under the lock).  An
 * allocated block's own bits and its successor's start change only when it
 * is freed or resized, which its claimed mark excludes (heap_internal.h).
 */
size_t bmap_fast_block_size(const bmap_t *m, uintptr_t addr, size_t max);

/* A block begins at addr (free or not) / no longer does.  addr must be covered. */
void bmap_set(bmap_t *m, uintptr_t addr, int is_free);
void bmap_clear(bmap_t *m, uintptr_t addr);

/* The first block start at or above from and below end, or end if there is none. */
uintptr_t bmap_first_start(const bmap_t *m, uintptr_t from, uintptr_t end);
/* The last block start at or below addr, or 0 if there is none. */
uintptr_t bmap_start_at_or_below(const bmap_t *m, uintptr_t addr);
/* Block starts below end (heap_check compares it with the walk). */
uint32_t bmap_count(const bmap_t *m, uintptr_t end);
/* Words whose summary bit is wrong, or with a free bit where no block starts (heap_check). */
uint32_t bmap_check(const bmap_t *m);

/*
 * The growing region's block marks: a bit per HEAP_MARK_SPAN bytes, for the
 * block whose header starts there: "in a CPU's cache" (blockcache.c), or
 * "being freed or resized" (kmalloc.c, under the lock).  Every block that can
 * be cached is more than 512 bytes (SLAB_KMALLOC_MAX), so no two of them
 * start in one span.  Set and cleared by locked instructions only
 * (blockcache.h: bc_mark_try; heap_mark_clear): who sets it owns the block until
 * it clears it.  They live in the metadata window (MM_META_BLOCK_MARKS),
 * mapped with the rest of the map as the region grows: a page of marks for
 * each megabyte of heap.  heap_region.c points bmap_marks at the growing
 * region's map; a restart unmaps them all (so they come back zeroed).
 *
 * One word of marks to a cache line (HEAP_MARK_STRIDE words apart, the
 * words between them always 0): each line covers 16 KB of heap, not 256 KB,
 * so two CPUs' locked instructions on the marks of their own blocks seldom
 * meet on one line (thread_bench, random 8 B-64 KB on two threads, builds
 * alternating, 1-second runs on 2026-12-07: 14.3-14.6 Mops/s with the words
 * packed, 16.8-17.3 spread at 22:00; 23.7-27.1 and 24.3-28.7 at 22:01, the
 * spread build ahead in each of 6 pairs).  The cost: a page of marks a
 * megabyte of heap, not one a 16 MB.
 */
#define HEAP_MARK_SPAN   512u
#define HEAP_MARK_STRIDE 16u
typedef struct {
    uintptr_t base;    /* the growing region's start, 0: none */
    const bmap_t *map; /* its map: marks only under the bits it has in use */
} bmap_marks_t;
extern MM_INTERNAL bmap_marks_t bmap_marks;

/* Bytes of marks for `words` words of a map (whole words of marks, each on a line of its own). */
static inline uint32_t bmap_mark_bytes(uint32_t words)
{
    uint64_t marks = ((uint64_t)words * 32 * BMAP_GRANULE + HEAP_MARK_SPAN - 1) / HEAP_MARK_SPAN;
    return (uint32_t)((marks + 31) / 32 * 4 * HEAP_MARK_STRIDE);
}

/*
 * The mark of the block whose header is at b, if b is in the growing region's
 * map (else NULL); its bit in *bit (if bit is not NULL).  Without the lock:
 * bounded by the map's `words` in use (acquire), or, `backed`, by the words
 * whose pages are still mapped (heap_mark_clear); a lazy map keeps the pages
 * under what a reader may have seen (bmap_trim).
 */
static inline uint32_t *mark_word_within(uintptr_t b, int backed, unsigned *bit)
{
    uintptr_t base = __atomic_load_n(&bmap_marks.base, __ATOMIC_ACQUIRE);
    if (!base)
        return NULL;
    const bmap_t *m = bmap_marks.map;
    const uint32_t *words = backed ? &m->mapped : &m->words;
    uint64_t covered = (uint64_t)__atomic_load_n(words, __ATOMIC_ACQUIRE) * 32 * BMAP_GRANULE;
    if (b < base || b - base >= covered)
        return NULL;
    uint32_t k = (uint32_t)((b - base) / HEAP_MARK_SPAN);
    if (bit)
        *bit = k % 32;
    return &m->marks[k / 32 * HEAP_MARK_STRIDE];
}

/* ... within the words in use: the marks that count. */
static inline uint32_t *heap_mark_word(uintptr_t b, unsigned *bit)
{
    return mark_word_within(b, 0, bit);
}

/* Has the block whose header is at b a mark (is b in the growing region's map)? */
static inline int heap_mark_covers(uintptr_t b)
{
    return heap_mark_word(b, NULL) != NULL;
}

/*
 * The mark of the block whose header is at b let go (its setter's call:
 * blockcache.h).  Bounded by the marks' pages still mapped, not by the words
 * in use: a fast free that set the mark, then backs off, may clear it after
 * the heap freed that block without claiming it (a slab page, an aligned
 * block's front) and shrank past it; its clear must still land, or the mark
 * would outlive it and make a later block there "already free" (a hostile
 * review's finding).  Those pages stay until bmap_trim, which waits for
 * every CPU's cache lock, and the setter holds its own.
 */
static inline void heap_mark_clear(uintptr_t b)
{
    unsigned bit;
    uint32_t *w = mark_word_within(b, 1, &bit);
    if (w)
        __atomic_fetch_and(w, ~(1u << bit), __ATOMIC_RELEASE);
}

/* Is the block whose header is at b marked (in a CPU's cache, or being freed)? */
static inline int heap_block_marked(uintptr_t b)
{
    unsigned bit;
    uint32_t *w = heap_mark_word(b, &bit);
    return w && (__atomic_load_n(w, __ATOMIC_ACQUIRE) >> bit) & 1;
}

/*
 * A page of the metadata window, mapped (zeroed, from the PMM) if it is not
 * yet.  0, or -1 when the PMM has no page.  Shared by the heap's maps and the
 * slab descriptors (slab.c).
 */
int mm_meta_page(vaddr_t v);

#endif /* MM_BLOCKMAP_H */

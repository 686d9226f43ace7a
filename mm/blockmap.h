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

typedef struct {
    uintptr_t base;  /* the region's first byte: granule 0 */
    uint32_t *start; /* bit g: a block header begins at base + g * BMAP_GRANULE */
    uint32_t *free;  /* bit g: ... and that block is free */
    uint32_t *sum;   /* bit w: start[w] != 0 (the scans skip 32 empty words at a time) */
    uint32_t cap;    /* granules the map can ever describe (a multiple of 32) */
    uint32_t words;  /* words of each bitmap backed by memory (all of them if static) */
    vaddr_t start_v; /* the bitmaps' kernel virtual addresses (0: static arrays) */
    vaddr_t free_v;
    vaddr_t sum_v;
} bmap_t;

/* A map over static arrays of cap / 32 words each (sum: cap / 1024), every bit clear. */
void bmap_init_static(bmap_t *m, uintptr_t base, uint32_t *start, uint32_t *free, uint32_t *sum,
                      uint32_t cap);
/* A map in the metadata window (nothing backed yet: see bmap_cover). */
void bmap_init_window(bmap_t *m, uintptr_t base, vaddr_t start_v, vaddr_t free_v, vaddr_t sum_v,
                      uint32_t cap);
/* Back the bits of [base, base + bytes) (new words read 0).  0, or -1: no memory, nothing lost. */
int bmap_cover(bmap_t *m, size_t bytes);
/* The region shrank to `bytes`: window pages wholly past its bits go back to the PMM. */
void bmap_uncover(bmap_t *m, size_t bytes);

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
 * A page of the metadata window, mapped (zeroed, from the PMM) if it is not
 * yet.  0, or -1 when the PMM has no page.  Shared by the heap's maps and the
 * slab descriptors (slab.c).
 */
int mm_meta_page(vaddr_t v);

#endif /* MM_BLOCKMAP_H */

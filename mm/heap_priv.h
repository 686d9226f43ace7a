/*
 * heap_priv.h - the block heap's shared state, for its own files only.
 *
 * The block heap is six files that share one state with its three fronts
 * (never include this from an embedding kernel: include/memory.h is the API;
 * heap_internal.h is what the heap, the slabs and debug.c tell each other).
 * From the bottom up; each calls only files listed before it (and blockmap.c,
 * kmap.c, the PMM, lock.c, log.c, string.c below them all):
 *
 *   heap_class.c    the size classes of the free lists (TLSF)
 *   heap_block.c    blocks, the free lists, block surgery, rebuilding the
 *                   lists from the blocks; the state `heap_state` lives here
 *   heap_fit.c      placement: the good fit (O(1)); the fragmentation
 *                   benchmark builds bench/frag_fit.c instead of it and
 *                   heap_class.c
 *   heap_repair.c   a caller's pointer and a block's neighbours checked against
 *                   the block map, damaged headers rebuilt; freeing a block into
 *                   its neighbours
 *   heap_region.c   the regions: the early heap, the virtual heap's range (set
 *                   up, grow, shrink, reserve, trim), and the bitmap of slab pages
 *   heap_alloc.c    a block taken and given back (a caller's, a slab's page)
 *
 * Above them: slab_core.c, slab.c, magazine.c and kmem_cache.c (object
 * caches on slab pages), then the fronts that include this file too,
 * kmalloc.c, heap_stats.c (get_memory_stats, heap_dump, heap_check) and
 * heap_init.c (memory_init, heap_init_virtual, heap_reserve).  debug.c (the
 * debug build's checks) calls none of them: it sits below, beside log.c.
 *
 * Data layout: a region is carved into blocks, each a heap_block_t header
 * (HDR bytes, 32 on i386) then its payload; a free block's payload starts with
 * its free-list links:
 *
 *   region.start                                                   region.end
 *   | hdr | payload ...  | hdr | links | free ... | hdr | payload ...       |
 *     ^ next/prev chain every block of the region in address order; the
 *       region's block map (blockmap.h, out of band) has every block's start
 *       and state, and is what a damaged header is checked and rebuilt against.
 *
 * Every function declared here expects mm_lock held.  Those that report
 * a caller's bug take the public function's name (fn); the few that report
 * from deep inside read heap_state.api (heap_api()), which every public entry
 * sets and restores on its way out (heap_enter, heap_leave), so a public call made
 * from inside another (a slab constructor's kmalloc) names itself, and then
 * the outer call is named again.
 */
#ifndef MM_HEAP_PRIV_H
#define MM_HEAP_PRIV_H

#include "names_priv.h" /* -DMM_PREFIX: mm/'s shared names too */

#include <stddef.h>
#include <stdint.h>

#include "blockmap.h"
#include "heap_internal.h"
#include "memory.h"
#include "vmm.h"

#define HDR HEAP_HEADER_SIZE

_Static_assert(sizeof(void *) != 4 || HEAP_HEADER_SIZE == 32,
               "the spec promises a 32-byte block header on i386");
_Static_assert((HEAP_HEADER_SIZE % HEAP_BLOCK_ALIGN) == 0, "payloads must stay aligned");

typedef struct free_links {
    heap_block_t *next_free;
    heap_block_t *prev_free;
} free_links_t;

#define MIN_PAYLOAD ALIGN_8(sizeof(free_links_t))

/* Size classes (two-level segregated fit, as TLSF): see heap_fit.c. */
#define TLSF_SL_LOG2     4
#define TLSF_SL_COUNT    (1u << TLSF_SL_LOG2)
#define TLSF_SMALL       128u
#define TLSF_FL_COUNT    26 /* sizes below 2^31 */
#define HEAP_MAX_REGIONS 4
/* Largest request we even try: keeps every size computation far from overflow. */
#define HEAP_MAX_REQUEST ((size_t)0x7FFFFFF0u)

#define HEAP_VIRTUAL_INITIAL (16 * PAGE_SIZE) /* mapped by heap_init_virtual */
#define HEAP_GROW_MIN        (16 * PAGE_SIZE) /* grow by at least 64 KB */
#define HEAP_SHRINK_SLACK    (16 * PAGE_SIZE) /* keep 64 KB free at the end */
#define HEAP_SHRINK_MIN      (64 * PAGE_SIZE) /* shrink only when 256 KB can go */
#define HEAP_SHRINK_STEP     (16 * PAGE_SIZE) /* a small kfree unmaps at most 64 KB */
#define HEAP_TRIM            0xFFFFFFFFu      /* heap_shrink's budget for heap_trim: all */

typedef struct {
    uintptr_t start;
    uintptr_t end;
    heap_block_t *last; /* the block ending at `end` (needed to rebuild smashed headers) */
    int retired;        /* early region after heap_init_virtual: frees only */
    vaddr_t vbase;      /* growing region: kernel virtual address of `start` */
    uint32_t *slab_map; /* bit i: page i of the region is a slab (outside the heap's bytes) */
    uint32_t slab_pages;
    bmap_t map; /* every block's start and state, out of band (blockmap.h) */
} heap_region_t;

typedef struct {
    heap_region_t regions[HEAP_MAX_REGIONS];
    int nregions;
    /* segregated free lists (TLSF): class (fl, sl), and bitmaps of the non-empty ones */
    heap_block_t *lists[TLSF_FL_COUNT][TLSF_SL_COUNT];
    uint32_t fl_map;
    uint32_t sl_map[TLSF_FL_COUNT];
    /* counters, kept exact on every operation and re-added by heap_check */
    uint32_t used, free, blocks, free_blocks;
    uint32_t peak_used, allocs, frees;
    uint32_t virtual_peak; /* most bytes the virtual region ever had mapped */
    uint32_t reserve;      /* heap_reserve: bytes the virtual region keeps mapped */
    int oom_reported;      /* print one "out of memory" per episode, not per call */
    /* a free block being released: a rebuild meanwhile must not list it (heap_block_release) */
    heap_block_t *in_transit;
    const char *api; /* the public function running now: named in reports from deep inside */
} heap_state_t;

/* The one heap (heap_block.c); memory_init zeroes it. */
extern heap_state_t heap_state;

/* The public function running now, for a report from deep inside. */
static inline const char *heap_api(void)
{
    return heap_state.api ? heap_state.api : "heap";
}

static inline void *block_payload(heap_block_t *b)
{
    return (char *)b + HDR;
}

static inline heap_block_t *block_of(void *payload)
{
    return (heap_block_t *)((char *)payload - HDR);
}

static inline uintptr_t block_end(const heap_block_t *b)
{
    return (uintptr_t)b + HDR + b->size;
}

static inline free_links_t *block_links(heap_block_t *b)
{
    return (free_links_t *)block_payload(b);
}

static inline int magic_is_valid(uint32_t magic)
{
    return magic == HEAP_MAGIC_ALLOC || magic == HEAP_MAGIC_FREE;
}

/*
 * Is `b` a block header of region r?  The out-of-band map says, with no
 * arithmetic on the pointer that could wrap: a start bit is set only for a
 * real block, whose header and MIN_PAYLOAD bytes (its free-list links) lie
 * inside the region.
 */
static inline int block_addr_ok(const heap_region_t *r, const heap_block_t *b)
{
    return r && bmap_is_start(&r->map, (uintptr_t)b);
}

/* A debug block: | object | red zone | dbg_rec_t |, the record in the payload's last bytes. */
static inline uint32_t block_cap(const heap_block_t *b)
{
    return (uint32_t)(b->size - sizeof(dbg_rec_t));
}

static inline dbg_rec_t *block_rec(heap_block_t *b)
{
    return (dbg_rec_t *)((char *)block_payload(b) + block_cap(b));
}

/* ---- heap_block.c: blocks, free lists, surgery ---- */

/* The region holding addr, or NULL. */
heap_region_t *heap_region_of(uintptr_t addr);
/* Why b's header cannot be trusted, or NULL if it is consistent (O(1)). */
const char *heap_block_problem(const heap_region_t *r, heap_block_t *b);
/* The list a free block of b's size belongs on. */
heap_block_t **heap_list_of(heap_block_t *b);
/* A free-list entry we may follow or write through. */
int heap_free_entry_ok(heap_block_t *b);
/* Take b off its list if its links and its neighbours' agree; else 0, nothing written. */
int heap_freelist_unlink(heap_block_t *b);
/* A free block joins the counters, and the free list unless its region is retired. */
void heap_free_add(heap_region_t *r, heap_block_t *b);
/* b leaves the free list and the counters (the lists rebuilt if forged around it). */
void heap_free_del(heap_region_t *r, heap_block_t *b);
/* b's state, in its header and in the region's out-of-band map. */
void heap_block_set_state(heap_region_t *r, heap_block_t *b, int is_free);
/* Cut b to need bytes; the rest (returned, state not set, on no list) if it can stand alone. */
heap_block_t *heap_block_split(heap_region_t *r, heap_block_t *b, size_t need);
/* b swallows its next neighbour (already off the free list). */
void heap_block_merge_next(heap_region_t *r, heap_block_t *b);
/* The block after b by the map (NULL: b is the last), and the one before (NULL: the first). */
heap_block_t *heap_map_next(const heap_region_t *r, const heap_block_t *b);
heap_block_t *heap_map_prev(const heap_region_t *r, const heap_block_t *b);
/* Rewrite b's header from the block map; 0 if the map has no block at b. */
int heap_block_rebuild(heap_region_t *r, heap_block_t *b);
/* Every header checked against the map, the lists and counters from scratch (skip: unlisted). */
void heap_rebuild(const char *fn, heap_block_t *skip);
/* The same, after saying where the lists were found forged. */
void heap_freelist_rebuild(const char *fn, const void *where, heap_block_t *skip);
/*
 * One class list checked while walked, first fit: the first bad entry, or
 * NULL (*stopped: the first entry of at least `need` bytes, if any).
 */
heap_block_t *heap_list_fit(unsigned fl, unsigned sl, size_t need, heap_block_t **stopped);
/* Every list entry visited (lists rebuilt once if forged); the entry visit stopped at. */
heap_block_t *heap_freelist_scan(const char *fn, int (*visit)(heap_block_t *, size_t), size_t arg);
/* The largest free block's size (stats, fragmentation). */
uint32_t heap_largest_free(const char *fn);

/* ---- heap_class.c (bench/frag_fit.c in the fragmentation benchmark): size classes ---- */

/* The class a free block of `size` bytes is listed in. */
void heap_size_class(size_t size, unsigned *fl, unsigned *sl);

/* ---- heap_fit.c (bench/frag_fit.c in the fragmentation benchmark): placement ---- */
/* A listed free block of at least need bytes, or NULL if none. */
heap_block_t *heap_find_fit(const char *fn, size_t need);

/* ---- heap_repair.c: pointers and neighbours checked against the map ---- */

/* b->next, about to be merged with b: sound, or rebuilt from the map (reported). */
int heap_next_ok(const char *fn, heap_region_t *r, heap_block_t *b);
/* The region's last block, checked (and put right from the map). */
heap_block_t *heap_region_last(const char *fn, heap_region_t *r);
/* b (marked free, on no list, not in `used`) joins its free neighbours and the free list. */
void heap_block_release(const char *fn, heap_region_t *r, heap_block_t *b);
/* The allocated block behind a caller's ptr, or NULL after reporting why not. */
heap_block_t *heap_checked_block(const char *fn, void *ptr, heap_region_t **rp);
/* heap_checked_block for a block the caller has marked (heap_internal.h): the mark is its. */
heap_block_t *heap_checked_cached(const char *fn, void *ptr, heap_region_t **rp);
/* Do b's first `bytes` (and a header after them) belong to b by the map? */
int heap_span_ok(const heap_region_t *r, const heap_block_t *b, size_t bytes);
/* b's header hides a block of the map: reported, every header and list from the map. */
void heap_span_repair(const char *fn, heap_block_t *b);

/* ---- heap_region.c: the regions ---- */

/* A region of one free block (vbase 0: the early heap).  0, or -1: no memory for its block map. */
int heap_region_add(uintptr_t start, size_t size, vaddr_t vbase);
/* The virtual heap's first pages mapped and its region added, the early one retired: 0, or -1. */
int heap_region_init_virtual(void);
/* Map the growing region r up to `want` bytes now (heap_reserve): 0, or -1 if out of memory. */
int heap_region_reserve(heap_region_t *r, uint32_t want);
/* The virtual heap's pages unmapped, heap_state zeroed (memory_init). */
void heap_region_reset(void);
/* The virtual heap's region, or NULL (Phase 1). */
heap_region_t *heap_growing_region(void);
/* The growing region ends in a free block of at least need bytes: that block, or NULL. */
heap_block_t *heap_grow(size_t need);
/* Whole pages at r's end back to the PMM, at most about `budget` bytes (HEAP_TRIM: all). */
void heap_shrink(heap_region_t *r, uint32_t budget);
/* Is page (of region r) a slab page?  Mark or unmark it. */
int heap_slab_bit(const heap_region_t *r, uintptr_t page);
void heap_slab_bit_set(heap_region_t *r, uintptr_t page, int on);
/* Is b the block of a slab page (its header on a page marked as a slab)? */
int heap_is_slab_block(const heap_region_t *r, const heap_block_t *b);

/* ---- heap_alloc.c: blocks taken and given back ---- */

/* Payload bytes for a request of size, or 0 if it can never be met. */
size_t heap_request_size(size_t size);
/* An allocated block of need (heap_request_size) bytes, or NULL: no room (only `used` counts it).
 */
heap_block_t *heap_alloc_block(const char *fn, size_t need);
/* The same from the free lists only: NULL rather than grow the heap. */
heap_block_t *heap_alloc_spare(const char *fn, size_t need);
/* The same, its payload - skew on an align boundary (align a power of two > HEAP_BLOCK_ALIGN). */
heap_block_t *heap_alloc_aligned(const char *fn, size_t need, size_t align, size_t skew);
/* Allocated block b back to its free neighbours and the lists; fn frees it. */
void heap_free_block(const char *fn, heap_region_t *r, heap_block_t *b);
/* ... b, whose mark the caller set (blockmap.h): let go as soon as the map says b is free. */
void heap_free_marked(const char *fn, heap_region_t *r, heap_block_t *b);
/* Allocated block b keeps `need` bytes; a tail big enough to stand alone goes back. */
void heap_block_trim(const char *fn, heap_region_t *r, heap_block_t *b, size_t need);

#endif /* MM_HEAP_PRIV_H */

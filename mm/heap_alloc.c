/*
 * heap_alloc.c - blocks taken from the heap and given back: the one place a
 * free block becomes allocated and an allocated block free.  What kmalloc.c
 * (a caller's block) and slab.c (a slab's page) both stand on.
 *
 *   heap_alloc_block(need)            placement (heap_fit.c), else the heap
 *                                     grows (heap_region.c); the block chosen
 *                                     is checked against the block map first
 *   heap_alloc_spare(need)            the same from the free lists only (the
 *                                     CPUs' block caches' fill: blockcache.c)
 *   heap_alloc_aligned(need, align)   an over-sized block cut to the boundary
 *   heap_free_block(b)                back to its free neighbours and the
 *                                     lists; whole pages at the heap's end
 *                                     back to the PMM (heap_shrink)
 *   heap_slab_page_alloc / _free      a page-aligned block whose page the
 *                                     region marks "slab" (slab.c's pages)
 *
 * No policy: nothing here reaps slabs or empties the quarantine when memory
 * runs short, nor reports "out of memory", nor counts a caller's allocation
 * (allocs, frees): the layers above decide that (kmalloc.c, slab.c).  It
 * keeps heap_state's byte counters (used, peak_used) and the out-of-memory
 * episode flag, which a free ends.
 *
 * Calls: heap_region.c (grow, shrink, slab-page bits), heap_repair.c,
 * heap_fit.c, heap_block.c, log.c.  mm_lock held by every caller.
 */
#include "heap_priv.h"
#include "log.h"

size_t heap_request_size(size_t size)
{
    if (size == 0 || size > HEAP_MAX_REQUEST)
        return 0;
    size = (size + HEAP_BLOCK_ALIGN - 1) & ~(size_t)(HEAP_BLOCK_ALIGN - 1);
    return size < MIN_PAYLOAD ? MIN_PAYLOAD : size;
}

static void account_alloc(heap_block_t *b)
{
    heap_state.used += b->size;
    if (heap_state.used > heap_state.peak_used)
        heap_state.peak_used = heap_state.used;
}

/* A listed free block of at least need bytes: one that fits, else (grow) the grown heap's last. */
static heap_block_t *find_or_grow(const char *fn, size_t need, int grow)
{
    heap_block_t *b = heap_find_fit(fn, need);
    return b || !grow ? b : heap_grow(need);
}

static heap_block_t *alloc_block(const char *fn, size_t need, int grow)
{
    heap_block_t *b = need ? find_or_grow(fn, need, grow) : NULL;
    /*
     * What goes to the caller: a sound free block of at least `need` bytes
     * (never smaller than asked, never one that is not free), whose handed-out
     * part hides no other block of the map.  A hidden one means a forged size:
     * every header is rebuilt from the map and the choice made once more.
     */
    heap_region_t *r = NULL;
    for (int tries = 0; b; tries++) {
        if (!heap_free_entry_ok(b) || b->size < need) {
            mm_report("%s: %p: heap chose a block that is not a free block of %lu bytes: refused",
                      fn, block_payload(b), (unsigned long)need);
            return NULL;
        }
        r = heap_region_of((uintptr_t)b);
        if (heap_span_ok(r, b, need + HDR + MIN_PAYLOAD))
            break;
        if (tries)
            return NULL;
        heap_span_repair(fn, b);
        b = find_or_grow(fn, need, grow);
    }
    if (!b)
        return NULL;
    heap_free_del(r, b);
    heap_block_t *rest = heap_block_split(r, b, need);
    if (rest) {
        /* b was free, so its old next is allocated: rest has no free neighbour. */
        heap_block_set_state(r, rest, 1);
        heap_free_add(r, rest);
    }
    heap_block_set_state(r, b, 0);
    b->file = NULL;
    b->line = 0;
    account_alloc(b);
    return b;
}

heap_block_t *heap_alloc_block(const char *fn, size_t need)
{
    return alloc_block(fn, need, 1);
}

heap_block_t *heap_alloc_spare(const char *fn, size_t need)
{
    return alloc_block(fn, need, 0);
}

/* b back to the heap; its mark (marked: the caller's) let go once the map says it is free. */
static void free_block(const char *fn, heap_region_t *r, heap_block_t *b, int marked)
{
    uint32_t size = b->size;
    heap_state.used -= b->size;
    heap_state.oom_reported = 0;
    heap_block_set_state(r, b, 1);
    if (marked) /* (before the shrink, which may take the mark's page with the block's bytes) */
        heap_mark_clear((uintptr_t)b);
    heap_block_release(fn, r, b);
    heap_shrink(r, size);
}

void heap_free_block(const char *fn, heap_region_t *r, heap_block_t *b)
{
    free_block(fn, r, b, 0);
}

void heap_free_marked(const char *fn, heap_region_t *r, heap_block_t *b)
{
    free_block(fn, r, b, 1);
}

void heap_block_trim(const char *fn, heap_region_t *r, heap_block_t *b, size_t need)
{
    uint32_t old = b->size;
    heap_block_t *rest = heap_block_split(r, b, need);
    if (rest) {
        heap_state.used -= old - b->size;
        heap_block_set_state(r, rest, 1);
        heap_block_release(fn, r, rest);
    }
}

/*
 * Aligned block: take need + align + a header's worth, then carve a free
 * block off the front so that payload - skew lands on the boundary, and give
 * the tail back.  The result is an ordinary block: plain kfree frees it.
 * skew is 0 for kmalloc_aligned, HDR for a slab page (its header on the page).
 *
 *   | hdr | front (free) | hdr | payload @ align ... | hdr | tail (free) |
 */
heap_block_t *heap_alloc_aligned(const char *fn, size_t need, size_t align, size_t skew)
{
    uint32_t peak = heap_state.peak_used;
    /* room for a front block, the payload, and a tail that can always be split off */
    heap_block_t *b =
        heap_alloc_block(fn, heap_request_size(need + align + 2 * (HDR + MIN_PAYLOAD)));
    if (!b)
        return NULL;
    uintptr_t p = (uintptr_t)block_payload(b);
    heap_region_t *r = heap_region_of((uintptr_t)b);
    uintptr_t a = ((p - skew + align - 1) & ~(uintptr_t)(align - 1)) + skew;
    if (a != p) {
        while (a - p < HDR + MIN_PAYLOAD)
            a += align; /* the front must be able to stand as a block */
        heap_state.used -= b->size;
        heap_block_t *aligned = heap_block_split(r, b, a - p - HDR);
        heap_block_set_state(r, aligned, 0);
        heap_state.used += aligned->size;
        heap_block_set_state(r, b, 1);
        heap_block_release(fn, r, b);
        b = aligned;
    }
    heap_block_trim(fn, r, b, need);
    heap_state.peak_used =
        heap_state.used > peak ? heap_state.used : peak; /* not the over-allocation */
    return b;
}

void heap_release_block(const char *fn, void *ptr)
{
    heap_region_t *r;
    heap_block_t *b = heap_checked_block(fn, ptr, &r);
    if (b)
        heap_free_block(fn, r, b);
}

void heap_release_cached(const char *fn, void *ptr)
{
    heap_region_t *r;
    heap_block_t *b = heap_checked_cached(fn, ptr, &r);
    if (b)
        heap_free_marked(fn, r, b);
    else /* reported: kept as allocated, a leak rather than a block handed out twice */
        heap_mark_clear((uintptr_t)ptr - HDR);
}

/* ---------------------------------------------------- slab pages (slab.c) ---- */

void *heap_slab_page_alloc(const char *fn)
{
    heap_block_t *b = heap_alloc_aligned(fn, PAGE_SIZE - HDR, PAGE_SIZE, HDR);
    if (b)
        heap_slab_bit_set(heap_region_of((uintptr_t)b), (uintptr_t)b, 1);
    return b;
}

void heap_slab_page_free(void *page)
{
    heap_region_t *r = heap_region_of((uintptr_t)page);
    heap_block_t *b = page;
    /* its header is in band (an overflow of the block below reaches it); the map is not */
    const char *why = r && heap_slab_bit(r, (uintptr_t)page) ? heap_block_problem(r, b) : NULL;
    if (!why && r && heap_slab_bit(r, (uintptr_t)page) && b->size != PAGE_SIZE - HDR)
        why = "size is not a slab page's";
    if (why && !bmap_is_free(&r->map, (uintptr_t)b) && heap_block_rebuild(r, b))
        mm_report("%s: %p: header of the slab page smashed (%s): rebuilt from the block map",
                  heap_api(), page, why);
    if (!r || !heap_slab_bit(r, (uintptr_t)page) || heap_block_problem(r, b) || b->is_free) {
        mm_printf("heap: slab page %p is not a sound slab block: kept\n", page);
        return;
    }
    heap_slab_bit_set(r, (uintptr_t)page, 0);
    heap_free_block(heap_api(), r, b); /* kmem_cache_shrink, kmem_cache_reap, kfree... */
}

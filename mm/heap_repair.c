/*
 * heap_repair.c - a caller's pointer, and a block's neighbours, checked against
 * the block map; damaged headers rebuilt; a freed block merged into its
 * neighbours.
 *
 * Caller bugs are checked cheaply on every kfree/krealloc (O(1): the header
 * and its neighbours' links, heap_checked_block); only when a check fails do
 * we walk the map to say what the pointer really is (interior pointer,
 * smashed header...: diagnose).  A header smashed by an overflow of the block
 * before it is rebuilt from the out-of-band block map, so the heap stays
 * usable.  When a rebuilt block's state cannot be known for sure it is taken
 * as allocated: a leak, never memory handed out twice.
 *
 * Every report here names fn, the public function the caller called.
 *
 * Owns nothing: it works on heap_state's blocks through heap_block.c.  Calls
 * heap_block.c, blockmap.c and log.c.  mm_lock held.
 */
#include "glue.h"
#include "heap_priv.h"
#include "log.h"

/*
 * b->next, about to be merged with b: usable only if its header is sound.  A
 * smashed one (b overflowed into it) is reported and rebuilt from the map.
 */
int heap_next_ok(const char *fn, heap_region_t *r, heap_block_t *b)
{
    heap_block_t *n = b->next;
    if (heap_block_problem(r, n) == NULL)
        return 1;
    uint32_t magic = n->magic;
    int rebuilt = heap_block_rebuild(r, n);
    mm_report("%s: %p: header of the next block %p smashed (magic 0x%08x): overflow of %p?%s", fn,
              block_payload(b), (void *)n, magic, block_payload(b),
              rebuilt ? " (rebuilt from the block map)" : " (left alone)");
    return rebuilt && heap_block_problem(r, n) == NULL;
}

/*
 * The region's last block, checked: r->last is a stored pointer (heap_grow
 * and heap_shrink change the block at the region's end through it), so it is
 * believed only if the map agrees and its header is sound; else both are
 * put right from the map.
 */
heap_block_t *heap_region_last(const char *fn, heap_region_t *r)
{
    heap_block_t *last = r->last;
    if (block_addr_ok(r, last) && heap_block_problem(r, last) == NULL && last->next == NULL)
        return last;
    heap_block_t *real = (heap_block_t *)bmap_start_at_or_below(&r->map, r->end - BMAP_GRANULE);
    if (!block_addr_ok(r, real) || !heap_block_rebuild(r, real))
        glue_panic("region_last: the block map has no block at the region's end");
    mm_report("%s: %p: header of the heap's last block smashed (overflow of the block before "
              "it?): rebuilt from the block map",
              fn, block_payload(real));
    return real;
}

/* b (marked free, on no list, not in `used`) joins its free neighbours and the free list. */
void heap_block_release(const char *fn, heap_region_t *r, heap_block_t *b)
{
    heap_state.in_transit = b;
    heap_block_t *n = b->next;
    if (n && heap_next_ok(fn, r, b) && n->is_free) {
        heap_free_del(r, n);
        heap_block_merge_next(r, b);
    }
    /*
     * b's prev link, believed when the map has a block there whose header
     * ends exactly at b (O(1)); else the map's previous block (a scan).  A
     * header forged to end at b while swallowing a live block between is
     * caught where it matters, before any of it is handed out (heap_span_ok).
     */
    heap_block_t *p = b->prev, *real = p;
    if (!p || !block_addr_ok(r, p) || (uintptr_t)p >= (uintptr_t)b || p->next != b ||
        p->size != (uintptr_t)b - (uintptr_t)p - HDR)
        real = heap_map_prev(r, b);
    if (p != real) {
        mm_report("%s: %p: its prev link %p is corrupted: repaired from the block map", fn,
                  block_payload(b), (void *)p);
        b->prev = p = real;
    }
    const char *why = p ? heap_block_problem(r, p) : NULL;
    if (why) {
        heap_block_rebuild(r, p);
        mm_report("%s: %p: header of the previous block %p smashed (%s): rebuilt from the "
                  "block map",
                  fn, block_payload(b), block_payload(p), why);
    }
    if (p && heap_block_problem(r, p) == NULL && p->is_free) {
        heap_free_del(r, p);
        heap_block_merge_next(r, p);
        b = p;
    }
    heap_state.in_transit = NULL;
    heap_free_add(r, b);
}

/* ------------------------------------------------- pointer validation ---- */

/* Block b's payload bytes by the map (its header may lie). */
static size_t map_size(const heap_region_t *r, const heap_block_t *b)
{
    const heap_block_t *next = heap_map_next(r, b);
    return (next ? (uintptr_t)next : r->end) - (uintptr_t)b - HDR;
}

/* Does b's header say exactly what the map says (so any trouble is a neighbour's)? */
static int header_matches_map(const heap_region_t *r, heap_block_t *b)
{
    heap_block_t *next = heap_map_next(r, b);
    int is_free = bmap_is_free(&r->map, (uintptr_t)b);
    return b->magic == (is_free ? HEAP_MAGIC_FREE : HEAP_MAGIC_ALLOC) && b->is_free == is_free &&
           b->next == next && b->prev == heap_map_prev(r, b) &&
           b->size == (next ? (uintptr_t)next : r->end) - (uintptr_t)b - HDR;
}

/*
 * Slow path, only after a cheap check failed: say what `ptr` really is, from
 * the out-of-band map, and report it.  If ptr is the payload of an allocated
 * block whose header was smashed, the header is rebuilt and the block
 * returned (the operation may then go on).
 */
static heap_block_t *diagnose(const char *fn, heap_region_t *r, void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    heap_block_t *own = p - r->start >= HDR ? block_of(ptr) : NULL;
    if (own && block_addr_ok(r, own)) {
        int is_free = bmap_is_free(&r->map, (uintptr_t)own);
        if (header_matches_map(r, own)) {
            /* own is sound: a neighbour's header is what an overflow smashed */
            heap_block_t *n = heap_map_next(r, own), *q = heap_map_prev(r, own);
            heap_block_t *bad = n && !header_matches_map(r, n) ? n : q;
            heap_block_rebuild(r, bad);
            mm_report("%s: %p: header of the %s block %p smashed: rebuilt from the block map", fn,
                      ptr, bad == n ? "next" : "previous", block_payload(bad));
        } else {
            heap_block_rebuild(r, own);
            mm_report("%s: %p: block header smashed (overflow of the block before it?): rebuilt "
                      "from the block map%s",
                      fn, ptr, is_free ? "; the block is free: double free" : "");
        }
        return is_free || heap_block_problem(r, own) ? NULL : own;
    }
    heap_block_t *b = (heap_block_t *)bmap_start_at_or_below(&r->map, p);
    if (!b) {
        mm_report("%s: %p: not a block of this heap", fn, ptr);
        return NULL;
    }
    heap_block_t *next = heap_map_next(r, b);
    uintptr_t end = next ? (uintptr_t)next : r->end;
    int is_free = bmap_is_free(&r->map, (uintptr_t)b);
    if (p < (uintptr_t)block_payload(b)) {
        mm_report("%s: %p: points into the header of block %p", fn, ptr, block_payload(b));
    } else if (is_free && own && (uintptr_t)own % BMAP_GRANULE == 0 &&
               own->magic == HEAP_MAGIC_FREE && own->prev == NULL) {
        /* the header block_merge_next leaves behind: a block freed and merged */
        mm_report("%s: %p: double free (block is already free, merged into free block %p)", fn, ptr,
                  block_payload(b));
    } else {
        mm_report("%s: %p: interior pointer, %u bytes into %s block %p (%u bytes)", fn, ptr,
                  (unsigned)(p - (uintptr_t)block_payload(b)), is_free ? "free" : "allocated",
                  block_payload(b), (unsigned)(end - (uintptr_t)block_payload(b)));
    }
    return NULL;
}

/*
 * The allocated block behind ptr, or NULL after reporting why ptr cannot be
 * freed/resized.  O(1) unless something is wrong.
 */
static heap_block_t *checked_block(const char *fn, void *ptr, heap_region_t **rp, int marked_ok);

heap_block_t *heap_checked_block(const char *fn, void *ptr, heap_region_t **rp)
{
    return checked_block(fn, ptr, rp, 0);
}

heap_block_t *heap_checked_cached(const char *fn, void *ptr, heap_region_t **rp)
{
    return checked_block(fn, ptr, rp, 1);
}

static heap_block_t *checked_block(const char *fn, void *ptr, heap_region_t **rp, int marked_ok)
{
    uintptr_t p = (uintptr_t)ptr;
    heap_region_t *r = heap_region_of(p);
    if (!r) {
        mm_report("%s: %p: not a heap pointer (outside the heap)", fn, ptr);
        return NULL;
    }
    *rp = r;
    if (p - r->start < HDR || p % HEAP_ALIGN || !block_addr_ok(r, block_of(ptr)))
        return diagnose(fn, r, ptr);
    heap_block_t *b = block_of(ptr);
    if (bmap_is_free(&r->map, (uintptr_t)b)) {
        mm_report("%s: %p: double free (block is already free)", fn, ptr);
        return NULL;
    }
    /*
     * Marked: freed into a CPU's cache (or a free under way), whatever its
     * header says (a write after free may have smashed it: its size is the
     * map's).  A smaller block shares its mark's span with the next block: not
     * its own.
     */
    if (!marked_ok && heap_block_marked((uintptr_t)b) && map_size(r, b) > SLAB_KMALLOC_MAX) {
        mm_report("%s: %p: double free (block is already free: in a CPU's cache)", fn, ptr);
        return NULL;
    }
    if (b->magic != HEAP_MAGIC_ALLOC || heap_block_problem(r, b) != NULL)
        return diagnose(fn, r, ptr);
    if (!heap_span_ok(r, b, b->size)) {
        heap_span_repair(fn, b);
        if (b->is_free || heap_block_problem(r, b) != NULL)
            return NULL;
    }
    return b;
}

/*
 * Do the first `bytes` of b's payload (all of it if it is smaller), and a
 * header after them, belong to b by the map?  heap_block_problem is O(1) and
 * cannot see a size (with next, and the next block's prev, forged to match)
 * that swallows a live neighbour: the map still has that neighbour's start.
 * O(bytes / 256) on i386, so it is asked only for what a call hands out.
 */
int heap_span_ok(const heap_region_t *r, const heap_block_t *b, size_t bytes)
{
    uintptr_t lim = bytes < b->size ? (uintptr_t)b + 2 * HDR + bytes : block_end(b);
    if (lim > block_end(b))
        lim = block_end(b);
    return bmap_first_start(&r->map, (uintptr_t)b + BMAP_GRANULE, lim) == lim;
}

/* b's header hides a block of the map (heap_span_ok failed): every header and list from the map. */
void heap_span_repair(const char *fn, heap_block_t *b)
{
    mm_report("%s: %p: block header smashed (its size covers another block of the block map): "
              "rebuilt from the block map",
              fn, block_payload(b));
    heap_rebuild(fn, NULL);
}

/*
 * heap_block.c - the block heap's bottom layer: blocks, the TLSF free lists,
 * block surgery, and rebuilding the lists from the blocks.
 *
 * What it owns: `heap_state` (heap_priv.h: the regions, the lists, the
 * counters) and the invariants of one block and of the lists:
 *   - magic is HEAP_MAGIC_FREE iff is_free, else HEAP_MAGIC_ALLOC, and the
 *     block map (blockmap.h, out of band) has the same start and state;
 *   - size is a multiple of HEAP_ALIGN, >= MIN_PAYLOAD, inside the region;
 *   - b->next == the address right after b's payload, or NULL for the last
 *     block, which ends exactly at region.end; b->next->prev == b;
 *   - the free lists hold exactly the free blocks of live regions, once each,
 *     each on the list of its size class (heap_class.c), and the bitmaps agree;
 *   - the counters equal what a walk adds up.
 * heap_check (heap_stats.c) verifies all of them; heap_block_problem checks
 * one header in O(1).
 *
 * Free blocks are on doubly-linked lists whose links live in the first bytes
 * of their payload (free_links_t), one list per size class, with bitmaps of
 * the non-empty classes.  Those links are the one thing a caller's overflow or
 * write after free can forge, so no link is followed or written through
 * unchecked (heap_free_entry_ok, heap_freelist_unlink); a forged list is
 * rebuilt from the blocks (heap_freelist_rebuild), whose headers are first
 * checked against the block map and rebuilt from it where they disagree.
 *
 * Calls: blockmap.c, log.c, string.c, and heap_class.c's heap_size_class (the
 * class a size is listed in).  Nothing above it.  mm_lock is held by every
 * caller.
 */
#include "glue.h"
#include "heap_priv.h"
#include "log.h"

heap_state_t heap_state;

const char *heap_api_swap(const char *fn)
{
    const char *old = heap_state.api;
    heap_state.api = fn;
    return old;
}

/* ------------------------------------------------------------ blocks ---- */

heap_region_t *heap_region_of(uintptr_t addr)
{
    for (int i = 0; i < heap_state.nregions; i++) {
        if (addr >= heap_state.regions[i].start && addr < heap_state.regions[i].end)
            return &heap_state.regions[i];
    }
    return NULL;
}

/*
 * Why b's header cannot be trusted, or NULL if it is consistent.  O(1): reads
 * b and its neighbours' links.  A neighbour whose own magic is gone is that
 * neighbour's problem, not b's: an overflow into the next block must not make
 * this one unfreeable.
 */
const char *heap_block_problem(const heap_region_t *r, heap_block_t *b)
{
    if (!block_addr_ok(r, b))
        return "not a block (the out-of-band map has no block there)";
    if (!magic_is_valid(b->magic))
        return "bad magic number";
    if (b->is_free != (b->magic == HEAP_MAGIC_FREE))
        return "is_free disagrees with the magic number";
    if (b->is_free != bmap_is_free(&r->map, (uintptr_t)b))
        return "state disagrees with the out-of-band map";
    /* b + HDR <= r->end (a real block): no subtraction below can wrap */
    if (b->size % HEAP_ALIGN || b->size < MIN_PAYLOAD || b->size > r->end - (uintptr_t)b - HDR)
        return "size out of range";
    if (b->next == NULL ? block_end(b) != r->end
                        : (uintptr_t)b->next != block_end(b) || !block_addr_ok(r, b->next))
        return "next link does not match the size";
    if (b->next && magic_is_valid(b->next->magic) && b->next->prev != b)
        return "next block does not link back";
    if (b->prev == NULL ? (uintptr_t)b != r->start
                        : !block_addr_ok(r, b->prev) || (uintptr_t)b->prev >= (uintptr_t)b)
        return "prev link out of range";
    if (b->prev && magic_is_valid(b->prev->magic) && b->prev->next != b)
        return "previous block does not link to it";
    return NULL;
}

/* ---------------------------------------------------------- free list ---- */

heap_block_t **heap_list_of(heap_block_t *b)
{
    unsigned fl, sl;
    heap_size_class(b->size, &fl, &sl);
    return &heap_state.lists[fl][sl];
}

static void freelist_link(heap_block_t *b)
{
    unsigned fl, sl;
    heap_size_class(b->size, &fl, &sl);
    free_links_t *l = block_links(b);
    heap_block_t *head = heap_state.lists[fl][sl];
    l->prev_free = NULL;
    l->next_free = head;
    /*
     * The head's links are in band: written only where the block map says a
     * free block starts (a forged head is found and the list rebuilt at the
     * next unlink or walk).
     */
    heap_region_t *hr = head ? heap_region_of((uintptr_t)head) : NULL;
    if (hr && bmap_is_free(&hr->map, (uintptr_t)head))
        block_links(head)->prev_free = b;
    heap_state.lists[fl][sl] = b;
    heap_state.sl_map[fl] |= 1u << sl;
    heap_state.fl_map |= 1u << fl;
}

/*
 * A free-list entry we may follow or write through: a sound, free block
 * header of a live region, with its links inside the region.  The links live
 * in free payloads, so an overflow or a write after free can forge them: we
 * never follow one that fails this.
 */
int heap_free_entry_ok(heap_block_t *b)
{
    heap_region_t *r = heap_region_of((uintptr_t)b);
    return r && !r->retired && bmap_is_free(&r->map, (uintptr_t)b) && b->magic == HEAP_MAGIC_FREE &&
           b->is_free == 1 && heap_block_problem(r, b) == NULL;
}

/* Take b off the list, if its links and its neighbours' agree; else 0, nothing written. */
int heap_freelist_unlink(heap_block_t *b)
{
    free_links_t *l = block_links(b);
    heap_block_t *p = l->prev_free, *n = l->next_free;
    heap_block_t **head = heap_list_of(b);
    if (p ? !heap_free_entry_ok(p) || block_links(p)->next_free != b : *head != b)
        return 0;
    if (n && (!heap_free_entry_ok(n) || block_links(n)->prev_free != b))
        return 0;
    if (p)
        block_links(p)->next_free = n;
    else
        *head = n;
    if (n)
        block_links(n)->prev_free = p;
    if (!*head) {
        unsigned fl, sl;
        heap_size_class(b->size, &fl, &sl);
        heap_state.sl_map[fl] &= ~(1u << sl);
        if (!heap_state.sl_map[fl])
            heap_state.fl_map &= ~(1u << fl);
    }
    return 1;
}

/* A free block joins the counters, and the free list unless its region is retired. */
void heap_free_add(heap_region_t *r, heap_block_t *b)
{
    if (!r->retired)
        freelist_link(b);
    heap_state.free += b->size;
    heap_state.free_blocks++;
}

/*
 * b leaves the free list and the counters.  If the list around b was
 * scribbled on, the whole list is rebuilt from the blocks, without b.
 */
void heap_free_del(heap_region_t *r, heap_block_t *b)
{
    if (!r->retired && !heap_freelist_unlink(b)) {
        heap_freelist_rebuild(heap_api(), block_payload(b), b);
        return; /* the rebuild counted everything but b */
    }
    heap_state.free -= b->size;
    heap_state.free_blocks--;
}

/* ------------------------------------------------------ block surgery ---- */

/* b's state, in its header and in the region's out-of-band map. */
void heap_block_set_state(heap_region_t *r, heap_block_t *b, int is_free)
{
    b->magic = is_free ? HEAP_MAGIC_FREE : HEAP_MAGIC_ALLOC;
    b->is_free = is_free;
    bmap_set(&r->map, (uintptr_t)b, is_free);
}

/*
 * Cut b down to `need` payload bytes; the rest becomes a new block (returned,
 * state not set, on no list) if it can hold a header and MIN_PAYLOAD.
 */
heap_block_t *heap_block_split(heap_region_t *r, heap_block_t *b, size_t need)
{
    if (b->size < need + HDR + MIN_PAYLOAD)
        return NULL;
    heap_block_t *rest = (heap_block_t *)((uintptr_t)b + HDR + need);
    rest->size = b->size - need - HDR;
    rest->next = b->next;
    rest->prev = b;
    rest->file = NULL;
    rest->line = 0;
    bmap_set(&r->map, (uintptr_t)rest, 0);
    if (b->next)
        b->next->prev = rest;
    else
        r->last = rest;
    b->next = rest;
    b->size = need;
    heap_state.blocks++;
    return rest;
}

/* b swallows its next neighbour (already off the free list). */
void heap_block_merge_next(heap_region_t *r, heap_block_t *b)
{
    heap_block_t *n = b->next;
    b->size += HDR + n->size;
    b->next = n->next;
    if (n->next)
        n->next->prev = b;
    else
        r->last = b;
    /*
     * n's header stays behind with HEAP_MAGIC_FREE, so a late kfree(n) reads
     * as a double free; the map no longer has a block there.
     */
    n->prev = NULL;
    bmap_clear(&r->map, (uintptr_t)n);
    heap_state.blocks--;
}

/* The block after b by the map (NULL: b is the last), and the one before (NULL: the first). */
heap_block_t *heap_map_next(const heap_region_t *r, const heap_block_t *b)
{
    uintptr_t n = bmap_first_start(&r->map, (uintptr_t)b + BMAP_GRANULE, r->end);
    return n == r->end ? NULL : (heap_block_t *)n;
}

heap_block_t *heap_map_prev(const heap_region_t *r, const heap_block_t *b)
{
    return (uintptr_t)b == r->start
               ? NULL
               : (heap_block_t *)bmap_start_at_or_below(&r->map, (uintptr_t)b - BMAP_GRANULE);
}

/*
 * Rewrite the header of b (a block by the map) from the out-of-band map: its
 * end is the next block's start, its neighbours and its state are the map's.
 * Exact, whatever was written over the header.  Returns 0 if the map has no
 * block at b (then nothing is written).
 */
int heap_block_rebuild(heap_region_t *r, heap_block_t *b)
{
    if (!block_addr_ok(r, b))
        return 0;
    heap_block_t *next = heap_map_next(r, b);
    b->size = (next ? (uintptr_t)next : r->end) - (uintptr_t)b - HDR;
    b->next = next;
    b->prev = heap_map_prev(r, b);
    b->file = NULL;
    b->line = 0;
    int is_free = bmap_is_free(&r->map, (uintptr_t)b);
    b->magic = is_free ? HEAP_MAGIC_FREE : HEAP_MAGIC_ALLOC;
    b->is_free = is_free;
    if (!next)
        r->last = b;
    return 1;
}

/* --------------------------------------------------- lists rebuilt ---- */

/*
 * Walk region r block by block, by the out-of-band map, rebuilding every
 * header that disagrees with it.  visit(r, b) sees every block.
 */
static void region_walk_repair(const char *fn, heap_region_t *r,
                               void (*visit)(heap_region_t *, heap_block_t *, heap_block_t *),
                               heap_block_t *skip)
{
    for (heap_block_t *b = (heap_block_t *)r->start; b; b = heap_map_next(r, b)) {
        const char *why = heap_block_problem(r, b);
        if (!why && heap_map_next(r, b) != b->next)
            why = "its size covers another block of the block map";
        if (why && heap_block_rebuild(r, b))
            mm_report("%s: %p: block header smashed (%s): rebuilt from the block map", fn,
                      block_payload(b), why);
        if (visit)
            visit(r, b, skip);
    }
}

static void count_block(heap_region_t *r, heap_block_t *b, heap_block_t *skip)
{
    heap_state.blocks++;
    if (!b->is_free)
        heap_state.used += b->size;
    else if (b != skip && b != heap_state.in_transit)
        heap_free_add(r, b);
}

/*
 * The free list and every counter from scratch, by walking every region
 * (after a use after free or an overflow scribbled over free-list links).
 * Pass 1 repairs headers while the old list can still tell free from
 * allocated; pass 2 relinks and recounts.  `skip` is a free block that the
 * caller is in the middle of moving: it is neither listed nor counted free.
 */
void heap_rebuild(const char *fn, heap_block_t *skip)
{
    for (int i = 0; i < heap_state.nregions; i++)
        region_walk_repair(fn, &heap_state.regions[i], NULL, NULL);
    memset(heap_state.lists, 0, sizeof(heap_state.lists));
    memset(heap_state.sl_map, 0, sizeof(heap_state.sl_map));
    heap_state.fl_map = 0;
    heap_state.used = heap_state.free = heap_state.blocks = heap_state.free_blocks = 0;
    for (int i = 0; i < heap_state.nregions; i++)
        region_walk_repair(fn, &heap_state.regions[i], count_block, skip);
}

void heap_freelist_rebuild(const char *fn, const void *where, heap_block_t *skip)
{
    mm_report("%s: %p: free list corrupted here (write after free, or an overflow?): rebuilt "
              "from the blocks",
              fn, where);
    heap_rebuild(fn, skip);
}

/* ------------------------------------------------------ list walks ---- */

/* Most free-list entries there can be: a bound for walks over a list that may be forged. */
static uint32_t freelist_bound(void)
{
    uint32_t bytes = 0;
    for (int i = 0; i < heap_state.nregions; i++)
        bytes += (uint32_t)(heap_state.regions[i].end - heap_state.regions[i].start);
    return bytes / (HDR + MIN_PAYLOAD) + 1;
}

/*
 * One class list, checked: every entry sound and of this class, no loop.
 * Returns the first bad entry (or the loop point), or NULL when all is well
 * or visit asked to stop (*stopped then holds the entry).
 */
static heap_block_t *list_walk(unsigned fl, unsigned sl, int (*visit)(heap_block_t *, size_t),
                               size_t arg, heap_block_t **stopped)
{
    uint32_t steps = 0, bound = freelist_bound();
    for (heap_block_t *b = heap_state.lists[fl][sl]; b; b = block_links(b)->next_free) {
        if (!heap_free_entry_ok(b) || heap_list_of(b) != &heap_state.lists[fl][sl] ||
            ++steps > bound)
            return b;
        if (visit && visit(b, arg)) {
            *stopped = b;
            return NULL;
        }
    }
    return NULL;
}

static int fits_visit(heap_block_t *b, size_t need)
{
    return b->size >= need;
}

heap_block_t *heap_list_fit(unsigned fl, unsigned sl, size_t need, heap_block_t **stopped)
{
    return list_walk(fl, sl, fits_visit, need, stopped);
}

/*
 * Visit each entry of every class list (stats, the benchmark's one-list
 * placements); a forged list is rebuilt once and the scan starts over.
 * visit returns nonzero to stop; that entry is returned.
 */
heap_block_t *heap_freelist_scan(const char *fn, int (*visit)(heap_block_t *, size_t), size_t arg)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        heap_block_t *bad = NULL, *stopped = NULL;
        for (unsigned fl = 0; fl < TLSF_FL_COUNT && !bad && !stopped; fl++) {
            for (unsigned sl = 0; sl < TLSF_SL_COUNT && !bad && !stopped; sl++)
                bad = list_walk(fl, sl, visit, arg, &stopped);
        }
        if (!bad)
            return stopped;
        heap_freelist_rebuild(fn, bad, NULL);
    }
    mm_report("%s: free list still corrupt after a rebuild: giving up on this call", fn);
    return NULL;
}

static int largest_visit(heap_block_t *b, size_t largest_ptr)
{
    uint32_t *largest = (uint32_t *)largest_ptr;
    if (b->size > *largest)
        *largest = b->size;
    return 0;
}

uint32_t heap_largest_free(const char *fn)
{
    uint32_t largest = 0;
    heap_freelist_scan(fn, largest_visit, (size_t)&largest);
    return largest;
}

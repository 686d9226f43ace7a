/*
 * heap_fit.c - placement: which free block a request of `need` bytes gets.
 *
 * Over the size classes of heap_class.c, a bitmap of non-empty classes per
 * level makes "the first non-empty class at or above c" two find-first-set
 * instructions: kmalloc and kfree take bounded time whatever the heap holds.
 *
 * The placement is a good fit that measures within 2% of an exhaustive best
 * fit (make bench).  The fragmentation benchmark also builds the heap with
 * bench/frag_fit.c in place of this file and heap_class.c: one list of every free block,
 * scanned first fit or best fit, to compare placements on the same traces.
 *
 * Owns nothing: it reads heap_state's lists and bitmaps (heap_block.c keeps
 * them).  Calls heap_block.c (list checks and rebuild) and heap_class.c.
 * mm_lock held.
 */
#include "bits.h"
#include "heap_priv.h"

/*
 * Good fit in O(1): the head of the request's own class if it is big enough
 * (classes below 128 bytes are exact), else the head of the first non-empty
 * class above it, found with the bitmaps: every block there is big enough.
 *
 * Only when no class above holds anything can a fitting block hide behind a
 * head that is too small, in the request's own class (the only class that
 * mixes sizes that fit and sizes that do not): then that list is searched,
 * first fit, before kmalloc grows the heap or fails.  Before growing, not
 * after: a hole that fits is reused instead of mapping new pages while it
 * stays empty (footprint, fragmentation), and growing (mapping pages) costs
 * more than the walk anyway.  The walk is bounded by the free blocks of one
 * class: heap bytes / (class's smallest size + 2 headers + MIN_PAYLOAD)
 * steps at worst (free blocks never touch), e.g. 17 for [3584, 3712) and 315
 * for [128, 136) on the 64 KB Phase 1 heap (i386); README, "Heap placement".
 *
 * A head that fails its check means the lists were scribbled on: rebuild
 * them from the blocks and look again.
 */
heap_block_t *heap_find_fit(const char *fn, size_t need)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        unsigned fl, sl;
        heap_size_class(need, &fl, &sl);
        heap_block_t *b = heap_state.lists[fl][sl], *bad = b, *stopped = NULL;
        if (b && heap_free_entry_ok(b) && b->size >= need)
            return b;
        if (!b || heap_free_entry_ok(b)) {
            unsigned f = fl;
            uint32_t above = sl + 1 < TLSF_SL_COUNT ? heap_state.sl_map[fl] & (~0u << (sl + 1)) : 0;
            if (!above) {
                uint32_t fl_above =
                    fl + 1 < TLSF_FL_COUNT ? heap_state.fl_map & (~0u << (fl + 1)) : 0;
                if (fl_above) {
                    f = bits_lowest(fl_above);
                    above = heap_state.sl_map[f];
                }
            }
            if (above) {
                unsigned s = bits_lowest(above);
                bad = heap_state.lists[f][s];
                if (bad && heap_free_entry_ok(bad) && heap_list_of(bad) == &heap_state.lists[f][s])
                    return bad;
            } else {
                bad = b ? heap_list_fit(fl, sl, need, &stopped) : NULL;
                if (!bad)
                    return stopped; /* NULL: nothing in the heap fits */
            }
        }
        heap_freelist_rebuild(fn, bad, NULL);
    }
    return NULL;
}

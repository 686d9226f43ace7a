/*
 * frag_fit.c - the placements the fragmentation benchmark compares ours with,
 * built in place of mm/heap_fit.c (Makefile: build/bench/frag_first and
 * build/bench/frag_bestscan; never in the product).
 *
 * Every free block goes on one list (class 0, 0), scanned in list order:
 *   -DHEAP_FIRST_FIT       the first block that holds the request;
 *   -DHEAP_BEST_FIT_SCAN   the smallest block that holds it (stops early at
 *                          an exact fit).
 * Same interface as heap_fit.c (heap_priv.h); the rest of the heap is the
 * product's, so the traces differ only in placement.
 */
#include "heap_priv.h"

#if !defined(HEAP_FIRST_FIT) && !defined(HEAP_BEST_FIT_SCAN)
#error "frag_fit.c: build with -DHEAP_FIRST_FIT or -DHEAP_BEST_FIT_SCAN"
#endif

void heap_size_class(size_t size, unsigned *fl, unsigned *sl)
{
    (void)size;
    *fl = *sl = 0;
}

static heap_block_t *scan_result;

/* First fit takes the first block that holds the request; best fit the smallest. */
static int one_list_visit(heap_block_t *b, size_t need)
{
    if (b->size >= need && (!scan_result || b->size < scan_result->size))
        scan_result = b;
#ifdef HEAP_FIRST_FIT
    return scan_result != NULL;
#else
    return scan_result && scan_result->size == need;
#endif
}

heap_block_t *heap_find_fit(const char *fn, size_t need)
{
    scan_result = NULL;
    heap_freelist_scan(fn, one_list_visit, need);
    return scan_result && heap_free_entry_ok(scan_result) ? scan_result : NULL;
}

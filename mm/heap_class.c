/*
 * heap_class.c - the size classes of the free lists (two-level segregated
 * fit, as TLSF): which list a free block of `size` bytes is on.
 *
 * Below TLSF_SMALL one class per 8 bytes; above, each power of two
 * [2^f, 2^(f+1)) is cut into TLSF_SL_COUNT equal classes:
 *
 *   size 0..127      fl 0, sl = size / 8
 *   size >= 128      fl = log2(size) - 6, sl = next 4 bits below the top bit
 *
 * The lowest file of the block heap: heap_block.c files blocks by it and
 * heap_fit.c searches by it.  Owns nothing, calls nothing.  The fragmentation
 * benchmark builds bench/frag_fit.c in place of this file and heap_fit.c (one
 * list for every free block, to compare placements on the same traces).
 */
#include "bits.h"
#include "heap_priv.h"

void heap_size_class(size_t size, unsigned *fl, unsigned *sl)
{
    if (size > HEAP_MAX_REQUEST) /* a forged size: never an index past the lists */
        size = HEAP_MAX_REQUEST;
    if (size < TLSF_SMALL) {
        *fl = 0;
        *sl = (unsigned)size / (TLSF_SMALL / TLSF_SL_COUNT);
    } else {
        unsigned f = bits_highest((uint32_t)size);
        *fl = f - 6;
        *sl = (unsigned)(size >> (f - TLSF_SL_LOG2)) ^ TLSF_SL_COUNT;
    }
}

/*
 * range.h - reading a memory map (pmm_range_t, include/pmm.h) that may lie:
 * shared by pmm_init.c (the PMM's map) and early.c (the Phase 1 heap's
 * place).  Inline, so no file depends on another for it.
 */
#ifndef MM_RANGE_H
#define MM_RANGE_H

#include "pmm.h"

/* base + length, saturating: a map entry whose end wraps past 2^64 ends at 2^64 - 1. */
static inline uint64_t range_end(const pmm_range_t *r)
{
    return r->length > UINT64_MAX - r->base ? UINT64_MAX : r->base + r->length;
}

static inline int range_is_ram(const pmm_range_t *r)
{
    return r->type == PMM_RANGE_AVAILABLE && r->length > 0;
}

/*
 * The first byte of [a, a_end) that no RAM range covers, or a_end: ranges in
 * any order, overlapping.  Each step jumps to the furthest end of a RAM range
 * that holds the cursor, so n ranges need at most n steps.
 */
static inline uint64_t range_first_not_ram(const pmm_range_t *map, int count, uint64_t a,
                                           uint64_t a_end)
{
    while (a < a_end) {
        uint64_t reach = a;
        for (int i = 0; i < count; i++) {
            if (range_is_ram(&map[i]) && map[i].base <= a && range_end(&map[i]) > reach)
                reach = range_end(&map[i]);
        }
        if (reach == a)
            return a;
        a = reach;
    }
    return a_end;
}

#endif /* MM_RANGE_H */

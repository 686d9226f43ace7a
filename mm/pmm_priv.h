/*
 * pmm_priv.h - what pmm.c (the buddy allocator: alloc, free, owners),
 * pmm_init.c (the map, the stages: init, pmm_add_range, pmm_set_reachable)
 * and pmm_stats.c (pmm_get_stats, pmm_page_state, pmm_dump, pmm_check)
 * share; nothing else includes it.  The layout of the metadata: pmm.c.
 */
#ifndef MM_PMM_PRIV_H
#define MM_PMM_PRIV_H

#include "names_priv.h" /* -DMM_PREFIX: mm/'s shared names too */

#include "glue.h"
#include "memory.h"
#include "pmm.h"

#define PFN_NONE   0xFFFFFFFFu
#define LOW_MEMORY (1024 * 1024) /* BIOS, VGA, option ROMs: never handed out */
#define FOUR_GB    0x100000000ull
#define PFN_4GB    0x100000u   /* pfn of 4 GB: `reach` when every page is reachable */
#define PFN_HELD   0xFFFFFFFEu /* `prev` of a PG_USED page waiting for a TLB shootdown */

/*
 * A page's state.  Only PG_FREE pages are on the free lists; RAM is
 * PG_RESERVED, PG_FREE, PG_USED or PG_UNREACHABLE (counted in `total`).
 */
enum {
    PG_HOLE,         /* not RAM: pmm_add_range may add it */
    PG_RESERVED,     /* RAM never handed out */
    PG_FREE,         /* in a free block */
    PG_USED,         /* handed out */
    PG_UNREACHABLE,  /* RAM at or above the reachable limit: free once the limit passes it */
    PG_MAP_RESERVED, /* not RAM, and the map (firmware, MMIO) or the kernel image reserved it */
    PG_STATES
};

typedef struct {
    uint32_t next, prev; /* free list links (pfn), on heads only; PG_USED pages held for a
                            TLB shootdown: prev PFN_HELD, next the held chain */
    uint8_t state;       /* PG_* */
    uint8_t head;        /* first page of a free block */
    uint8_t order;       /* that block's order */
    uint8_t owner;       /* pmm_owner_t, on PG_USED pages only */
} pmm_page_t;

_Static_assert(sizeof(pmm_page_t) == 12, "metadata is 12 bytes a page: 3 MB per GB of RAM");

typedef struct {
    pmm_page_t *pages;
    uint32_t npages; /* pfns [0, npages) have metadata */
    uint32_t list[PMM_MAX_ORDER + 1];
    uint32_t nblocks[PMM_MAX_ORDER + 1];
    uint32_t total, free, used, reserved;
    paddr_t meta_phys;
    uint32_t meta_bytes;
    int oom_reported;
    int reclaiming; /* the hooks are running, or pmm_reclaim_hold: no allocation runs them */
    uint32_t owned[PMM_OWNER_COUNT];
    uint32_t reclaims, refused;
    /* the stages: pfns below `reach` may be handed out; `unreachable` pages wait above it */
    uint32_t reach, unreachable;
    uint32_t nadded;
    /* TLB shootdown: pages unmapped, waiting for it (a chain of pfns through `next`) */
    uint32_t held, nheld;
    uint32_t tlb_shootdowns, tlb_ipis;
    struct {
        uint32_t first, last; /* pfns [first, last) */
    } added[PMM_ADDED_RANGES];
} pmm_data_t;

/* The PMM's state (pmm.c). */
extern pmm_data_t pmm_data;

/* Release a run of PG_FREE pages onto the free lists, merging with free buddies (pmm.c). */
void pmm_run_release(uint32_t pfn, uint32_t count);

static inline uint32_t pfn_of(paddr_t a)
{
    return a / PAGE_SIZE;
}

static inline paddr_t addr_of(uint32_t pfn)
{
    return (paddr_t)pfn * PAGE_SIZE;
}

#endif /* MM_PMM_PRIV_H */

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
    uint8_t head : 1;    /* first page of a free block */
    uint8_t order : 7;   /* that block's order */
    uint8_t node;        /* the NUMA node of the page (every pfn: holes too), pmm_node.c */
    uint8_t owner;       /* pmm_owner_t, on PG_USED pages only */
} pmm_page_t;

_Static_assert(sizeof(pmm_page_t) == 12, "metadata is 12 bytes a page: 3 MB per GB of RAM");

/* A node's pages and allocations (pmm_node_stats_t says what each is). */
typedef struct {
    uint32_t total, free, used, reserved, unreachable;
    uint32_t local, fallback, foreign;
} pmm_node_count_t;

typedef struct {
    pmm_page_t *pages;
    uint32_t npages; /* pfns [0, npages) have metadata */
    /* each node its own buddy lists: a block never holds pages of two nodes */
    uint32_t list[PMM_MAX_NODES][PMM_MAX_ORDER + 1];
    uint32_t nblocks[PMM_MAX_NODES][PMM_MAX_ORDER + 1];
    pmm_node_count_t node[PMM_MAX_NODES];
    uint32_t total, free, used, reserved;
    paddr_t meta_phys;
    uint32_t meta_bytes;
    int oom_reported;
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

/*
 * The nodes pmm_set_nodes registered (pmm_node.c fills it; it lives in pmm.c
 * and outlives pmm_init, as the reclaim hooks do).  nodes 0 or 1: one node,
 * node 0, every page and CPU.  Node of pfn p: the node of the last span
 * whose `first` is <= p (the first span's below it), so the spans cut
 * [0, 4 GB) into pieces of one node each.
 */
typedef struct {
    unsigned nodes;  /* 0 (nothing registered) or 1 .. PMM_MAX_NODES */
    unsigned nspans; /* span[0 .. nspans-1]: sorted, neighbours on different nodes */
    struct {
        uint32_t first; /* pfn */
        uint8_t node;
    } span[PMM_MAX_NODE_RANGES];
    unsigned ncpus; /* cpu_node[0 .. ncpus-1]; other CPUs: node 0 */
    uint8_t cpu_node[PMM_MAX_CPUS];
    uint8_t distance[PMM_MAX_NODES][PMM_MAX_NODES]; /* [from][to] */
    uint8_t fallback[PMM_MAX_NODES][PMM_MAX_NODES]; /* [from]: every node, nearest first */
} pmm_nodes_t;

extern pmm_nodes_t pmm_nodes;

/* The node pfn belongs to, from the spans (the page's node byte must agree). */
static inline unsigned pmm_span_node(uint32_t pfn)
{
    unsigned node = pmm_nodes.nspans ? pmm_nodes.span[0].node : 0;
    for (unsigned i = 1; i < pmm_nodes.nspans && pmm_nodes.span[i].first <= pfn; i++)
        node = pmm_nodes.span[i].node;
    return node;
}

/* The pfn where the next span begins after pfn (PFN_4GB: none). */
static inline uint32_t pmm_span_end(uint32_t pfn)
{
    for (unsigned i = 0; i < pmm_nodes.nspans; i++) {
        if (pmm_nodes.span[i].first > pfn)
            return pmm_nodes.span[i].first;
    }
    return PFN_4GB;
}

/* Number of nodes (1 when none were registered). */
static inline unsigned pmm_node_total(void)
{
    return pmm_nodes.nodes ? pmm_nodes.nodes : 1;
}

/* Every page its node byte, every node's page counts from the array (pmm_node.c). */
void pmm_nodes_apply(void);

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

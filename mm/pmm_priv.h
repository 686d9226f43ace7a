/*
 * pmm_priv.h - what pmm.c (the buddy allocator: lists, take, free, owners),
 * pmm_pcp.c (the per-CPU lists), pmm_alloc.c (the public entries), pmm_init.c (the map, the stages:
 * init, pmm_add_range, pmm_set_reachable), pmm_node.c (the NUMA nodes) and pmm_stats.c
 * (pmm_get_stats, pmm_page_state, pmm_dump, pmm_check) share; no other mm/ file includes it (two
 * host tests do, to forge a CPU's list).  The layout of the metadata: pmm.c.
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
    PG_CACHED,       /* free, on a CPU's list of single pages (pmm.c: per-CPU lists) */
    PG_STATES
};

typedef struct {
    uint32_t next, prev; /* free list links (pfn), on heads only; PG_USED pages held for a
                            TLB shootdown: prev PFN_HELD, next the held chain */
    uint8_t state;       /* PG_* */
    uint8_t head : 1;    /* first page of a free block */
    uint8_t order : 7;   /* that block's order */
    union {
        struct {
            uint8_t node;  /* the NUMA node of the page (every pfn: holes too), pmm_node.c */
            uint8_t owner; /* pmm_owner_t, on PG_USED pages only; PG_CLAIM: see below */
        };
        uint16_t claim; /* node | owner << 8, as one: the claim bit's word (pg_claim) */
    };
} pmm_page_t;

_Static_assert(sizeof(pmm_page_t) == 12, "metadata is 12 bytes a page: 3 MB per GB of RAM");

/*
 * The claim bit, bit 7 of the owner byte (bit 15 of `claim`): set with one
 * locked bit-test-and-set by whoever takes a PG_USED page away from its
 * owner (a free, pmm_set_owner, pmm_free_held), so that two CPUs freeing
 * one page at once (one of them on its per-CPU list, without the PMM's lock)
 * cannot both win; the loser reports.  A PG_CACHED page keeps it set.
 */
#define PG_CLAIM 0x80u

/*
 * Set the claim bit of p; was it set?  One "lock btsw" (a 386 has bts; no
 * cmpxchg, which the 486 ISA check forbids); ThreadSanitizer cannot see into
 * asm, so its build takes the builtin.
 */
#if defined(__SANITIZE_THREAD__)
#define PMM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PMM_TSAN 1
#endif
#endif

static inline int pg_claim(pmm_page_t *p)
{
#if (defined(__i386__) || defined(__x86_64__)) && !defined(PMM_TSAN)
    unsigned char was;
    __asm__ volatile("lock btsw $15, %0\n\tsetc %1" : "+m"(p->claim), "=q"(was) : : "memory", "cc");
    return was;
#else
    return (__atomic_fetch_or(&p->claim, (uint16_t)0x8000u, __ATOMIC_ACQ_REL) & 0x8000u) != 0;
#endif
}

/* The state byte and the node/owner word, read or written where a per-CPU list may race. */
static inline unsigned pg_state(const pmm_page_t *p)
{
    return __atomic_load_n(&p->state, __ATOMIC_RELAXED);
}
static inline void pg_set_state(pmm_page_t *p, unsigned s)
{
    __atomic_store_n(&p->state, (uint8_t)s, __ATOMIC_RELAXED);
}
static inline unsigned pg_owner(const pmm_page_t *p)
{
    return (unsigned)__atomic_load_n(&p->claim, __ATOMIC_RELAXED) >> 8;
}
/* owner byte `owner` (maybe | PG_CLAIM), the node byte kept: the claim word in one store */
static inline void pg_set_owner(pmm_page_t *p, unsigned owner)
{
    uint16_t w = (uint16_t)(__atomic_load_n(&p->claim, __ATOMIC_RELAXED) & 0xFFu);
    __atomic_store_n(&p->claim, (uint16_t)(w | owner << 8), __ATOMIC_RELEASE);
}

/* A node's pages and allocations (pmm_node_stats_t says what each is). */
typedef struct {
    uint32_t total, free, used, reserved, unreachable;
    uint32_t local, fallback, foreign;
    uint32_t cached; /* on the per-CPU lists, as of their last fold (pmm_pcp_t) */
} pmm_node_count_t;

typedef struct {
    pmm_page_t *pages;
    uint32_t npages; /* pfns [0, npages) have metadata */
    /* each node its own buddy lists: a block never holds pages of two nodes */
    uint32_t list[PMM_MAX_NODES][PMM_MAX_ORDER + 1];
    uint32_t nblocks[PMM_MAX_NODES][PMM_MAX_ORDER + 1];
    pmm_node_count_t node[PMM_MAX_NODES];
    uint32_t total, free, used, reserved;
    uint32_t
        cached; /* PG_CACHED as of the lists' last fold: cached - sum(pcp.used) is sum(pcp.n) */
    paddr_t meta_phys;
    uint32_t meta_bytes;
    int oom_reported;
    uint32_t owned[PMM_OWNER_COUNT];
    uint32_t reclaims, refused;
    /*
     * Memory pressure (pmm_set_pressure): a take that leaves fewer free frames
     * than press_low, while armed, sets press_pending; the next outermost
     * allocation's exit runs the reclaim hooks (pmm_reclaim_deferred).  A
     * run that leaves them below press_low disarms it until a take sees
     * press_high or more free (nothing left to reclaim: not on every call).
     */
    uint32_t press_low, press_high;
    int press_armed, press_pending;
    uint32_t reclaims_deferred;
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

/* After a take (the PMM's lock held): below the pressure mark and armed, a reclaim is owed. */
static inline void pmm_pressure_note(void)
{
    uint32_t f = pmm_data.free + pmm_data.cached;
    if (f < pmm_data.press_low) {
        if (pmm_data.press_armed)
            __atomic_store_n(&pmm_data.press_pending, 1, __ATOMIC_RELAXED);
    } else if (f >= pmm_data.press_high) {
        pmm_data.press_armed = 1;
    }
}

/*
 * Per-CPU lists of single free pages (pmm.c says how they work).  CPU c <
 * PMM_PCP_CPUS has one; the others always take the shared path.
 */
#define PMM_PCP_CPUS  16 /* MM_MAX_CPUS (include/slab.h), whose per-CPU caches these mirror */
#define PMM_PCP_BATCH 16 /* pages a refill takes, a full list gives back */
#define PMM_PCP_HIGH  64 /* at most on a list */

typedef struct {
    uint32_t lock; /* 0 free, 1 taken: xchg, interrupts off */
    uint32_t head; /* first pfn (n > 0), chained through `next`; each page's prev: this CPU */
    uint32_t n;    /* pages on it */
    uint32_t node; /* its pages' node: the CPU's (pmm_set_nodes and pmm_init set it) */
    /* since the last fold into pmm_data (under the PMM's lock): the pages handed out minus
       those taken back, by owner, and the allocations served (all local) */
    int32_t used;
    int32_t owned[PMM_OWNER_COUNT];
    uint32_t local;
    uint32_t freed; /* a page came back since the last fold: a new OOM is reported again */
    /* for ever (pmm_dump): allocations and frees served here, refills, batches given back */
    uint32_t hits, frees, refills, drains;
    /* a refill or a free came here since pmm_init: else every count above is 0 (pmm_pcp_sum) */
    uint32_t active;
} __attribute__((aligned(64))) pmm_pcp_t; /* a cache line of its own: no false sharing */

extern pmm_pcp_t pmm_pcp[PMM_PCP_CPUS];

/* What the CPUs' lists hold and have not folded yet, by node (pmm_pcp_sum). */
typedef struct {
    uint32_t listed[PMM_MAX_NODES]; /* pages on the lists of the node's CPUs */
    int32_t used[PMM_MAX_NODES];    /* handed out minus taken back since the last fold */
    uint32_t local[PMM_MAX_NODES];  /* allocations served since the last fold */
    int32_t owned[PMM_OWNER_COUNT];
    uint32_t listed_all;
    int32_t used_all;
} pmm_pcp_sum_t;

/*
 * Under the list locks of the CPUs in `held` (pmm_pcp_lock_all) and the PMM's
 * lock: those lists' counts added up, so that pmm_data's counts plus these
 * are exact without a drain (the statistics).
 */
void pmm_pcp_sum(uint32_t held, pmm_pcp_sum_t *s);

/*
 * Every CPU's list lock, in CPU order (the order: mm_lock, these, pmm_lock);
 * only tried, never waited for, by a CPU that holds the PMM's lock.  Returns
 * the CPUs whose locks are held (bit c: CPU c).
 */
uint32_t pmm_pcp_lock_all(void);
void pmm_pcp_unlock_all(uint32_t held);
/* Under the PMM's lock: the lists of the CPUs in `held` emptied onto the buddy lists; pages. */
uint32_t pmm_pcp_drain_locked(uint32_t held);
/* Under the PMM's lock and every list lock: the lists forgotten (pmm_init), nodes set again. */
void pmm_pcp_reset_locked(void);

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

/*
 * pmm.c's buddy lists, for the layers of the PMM above them (pmm_pcp.c,
 * pmm_alloc.c), all under the PMM's lock: a free block of `order` on `node`
 * (split if need be) or PFN_NONE; a block of PG_FREE pages listed (merged).
 */
uint32_t pmm_block_take(unsigned node, unsigned order);
void pmm_block_release(uint32_t pfn, unsigned order);
/* The node of CPU `cpu` (its registered one, else 0); the node an allocation asks for. */
unsigned pmm_cpu_node_locked(int cpu);
unsigned pmm_wanted_node(int node);
/* Has `node` a block of `order` pages or more on its buddy lists? */
int pmm_node_has_block(unsigned node, unsigned order);
/* `count` pages of a block of `order` for `owner`, from node `want` (strict: only) or near: or 0.
 */
paddr_t pmm_take_locked(uint32_t count, unsigned order, unsigned owner, unsigned want, int strict);
/* Free a run `owner` owns, every page checked first (all or nothing); `fn` names the caller. */
void pmm_free_locked(const char *fn, paddr_t base, uint32_t count, pmm_owner_t owner);

/*
 * pmm_pcp.c's fast path, for pmm_alloc.c: a single page for `owner` from this
 * CPU's list (0: take the shared way); the page onto it (0: the shared way,
 * which reports); the lists of the CPUs in `cpus` given back (pages); the
 * CPUs whose lists hold pages of `node`.
 */
paddr_t pmm_pcp_alloc(unsigned owner, int node);
int pmm_pcp_free(paddr_t page, unsigned owner);
uint32_t pmm_pcp_drain_cpus(uint32_t cpus);
uint32_t pmm_pcp_cpus_holding(unsigned node);

static inline uint32_t pfn_of(paddr_t a)
{
    return a / PAGE_SIZE;
}

static inline paddr_t addr_of(uint32_t pfn)
{
    return (paddr_t)pfn * PAGE_SIZE;
}

#endif /* MM_PMM_PRIV_H */

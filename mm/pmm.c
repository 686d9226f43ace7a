/*
 * pmm.c - physical page frames: a binary buddy allocator.
 *
 * Theory of operation
 * -------------------
 * Every page frame below ram_end (the highest RAM, or what pmm_init_layout
 * said) has a pmm_page_t in one array (the metadata), indexed by page frame
 * number (pfn = phys / 4096):
 *
 *   state   PG_HOLE      not RAM (gap in the memory map, or above the RAM)
 *           PG_RESERVED  RAM we never hand out (<1 MB, kernel, heap, metadata...)
 *           PG_FREE      in some free block
 *           PG_USED      handed out
 *           PG_UNREACHABLE  RAM above the reachable limit: not handed out yet
 *           PG_MAP_RESERVED not RAM, reserved by the map or the layout's kernel
 *                           image: pmm_add_range refuses it
 *   head    1 on the first page of a free block, which sits on free list
 *           `order` (a block of order k is 2^k pages, aligned to 2^k pages)
 *   owner   on PG_USED pages, who may free it (pmm_owner_t, pmm.h draws
 *           them); PMM_OWNER_NONE on every other page
 *   next/prev  free-list links (pfns), meaningful on heads only
 *
 * The links live in the metadata, not in the free pages themselves, so the
 * PMM never touches the memory it manages: that memory need not be mapped
 * (a 3 GB machine has more RAM than a 32-bit kernel can map at once).
 *
 * Allocating 2^k pages takes the first block of the smallest order >= k that
 * has one and splits it, pushing the upper halves back: O(PMM_MAX_ORDER).
 * Freeing merges a block with its buddy (pfn ^ 2^k) while the buddy is a free
 * head of the same order: O(PMM_MAX_ORDER).  A single page is order 0, so the
 * spec's pmm_alloc_page/pmm_free_page are O(1).  Runs that are not a power of
 * two are allocated from the next order up, and the unused tail goes back as
 * smaller blocks.
 *
 * Every page of a free block is PG_FREE, so a double free is caught in O(1)
 * by the state byte, and pmm_check() can prove each free page is covered by
 * exactly one free block.  A free is checked against the owner byte too:
 * pmm_free_page of a page table, a heap page or a kernel stack page is
 * refused, as only the owner's own path frees those.
 *
 * Out of memory: before an allocation fails it runs the reclaim hooks the
 * layers above registered (the heap: empty slabs, then its free tail), once,
 * and retries (Linux's shrinkers).  `reclaiming` keeps a hook that allocates
 * from running the hooks again.  The hooks table lives outside `pmm_data` so that
 * a re-init (host tests) keeps the registrations.
 *
 * Nodes (NUMA, pmm_node.c): each node has its own free lists per order, and
 * every page descriptor its node byte.  A block never holds pages of two
 * nodes: pmm_run_release cuts a run where the node changes, block_release
 * never merges with a buddy of another node.  An allocation takes from the
 * node it wants (the calling CPU's, or the one named), then from the other
 * nodes nearest first, unless it is strict; the reclaim hooks run only when
 * no node (or the strict one) has a block.  One node (nothing registered):
 * one set of lists, glue_cpu_id is not even asked.
 *
 * Stages: pages at or above the reachable limit (pmm_set_reachable) are
 * PG_UNREACHABLE, on no free list, so no allocation can reach them and a
 * free block never straddles the limit; pmm_init.c turns them PG_FREE as the
 * limit rises, and adds RAM (pmm_add_range) into pages that were PG_HOLE.
 *
 * This file: the metadata's layout (pmm_priv.h), allocation, free, the
 * owners, the reclaim hooks.  The memory map checked, the metadata placed
 * and the stages are pmm_init.c's; what the PMM reports of itself (stats,
 * dump, check) is pmm_stats.c's.  Calls log.c only: the bottom of mm/ but
 * for it.
 *
 * Per-CPU lists: single pages are handed out and taken back on the calling
 * CPU's own list of free pages, without the PMM's lock in the common case
 * (the section "per-CPU lists" below says how, and how the checks stay).
 *
 * Locking: the PMM has a lock of its own (pmm_lock, mm/lock.c), a leaf: taken
 * inside mm/'s lock (the heap calls the PMM holding it), inside the VMM's
 * (the VMM and kmap) or alone (a caller's pmm_alloc_page), and nothing is
 * called with it held that could take mm_lock or vmm_lock.  So the reclaim
 * hooks, which take mm_lock, run after the PMM drops its lock, under mm_lock
 * (reclaim()), and only on a CPU that may take it (not inside vmm_lock); the
 * hooks table and `reclaiming` are mm_lock's.  Each public function takes the
 * PMM's lock; a page held for a shootdown is added and freed by the holder of
 * vmm_lock (the VMM, kmap, zswap's vfree), so the held chain is one CPU's
 * between pmm_free_held and pmm_tlb_shootdown_free.
 */
#include "pmm_priv.h"
#include "lock.h"
#include "log.h"

pmm_data_t pmm_data;
pmm_nodes_t pmm_nodes;

static size_t (*reclaim_hooks[PMM_RECLAIM_HOOKS])(void);
/* the hooks are running, or pmm_reclaim_hold holds them: mm_lock's, outlives pmm_init */
static int reclaiming;

/* Each owner: its name, the layer that frees its pages, and what such a page is. */
static const struct {
    const char *name, *layer, *what;
} owners[PMM_OWNER_COUNT] = {
    [PMM_OWNER_NONE] = {"none", "none", "page in use by nobody"},
    [PMM_OWNER_CALLER] = {"caller", "caller", "page of a pmm_alloc_page(s) caller"},
    [PMM_OWNER_DIRECTORY] = {"directory", "vmm", "page of the page directory"},
    [PMM_OWNER_TABLE] = {"page-table", "vmm", "page of a page table"},
    [PMM_OWNER_HEAP] = {"heap", "heap", "page of the kernel heap"},
    [PMM_OWNER_META] = {"metadata", "slab", "page of the allocators' metadata (slab descriptors)"},
    [PMM_OWNER_VMALLOC] = {"vmalloc", "vmalloc", "page of a vmalloc allocation"},
    [PMM_OWNER_KSTACK] = {"kstack", "vmalloc", "page of a kernel stack"},
};

/* ---------------------------------------------------------- free lists ---- */

/* The block at pfn goes on its node's list `order` (its pages are all on that node). */
static void block_push(uint32_t pfn, unsigned order)
{
    pmm_page_t *p = &pmm_data.pages[pfn];
    unsigned node = p->node;
    p->head = 1;
    p->order = (uint8_t)order;
    p->prev = PFN_NONE;
    p->next = pmm_data.list[node][order];
    if (p->next != PFN_NONE)
        pmm_data.pages[p->next].prev = pfn;
    pmm_data.list[node][order] = pfn;
    pmm_data.nblocks[node][order]++;
    pmm_data.node[node].free += 1u << order;
}

static void block_unlink(uint32_t pfn)
{
    pmm_page_t *p = &pmm_data.pages[pfn];
    unsigned node = p->node;
    if (p->prev != PFN_NONE)
        pmm_data.pages[p->prev].next = p->next;
    else
        pmm_data.list[node][p->order] = p->next;
    if (p->next != PFN_NONE)
        pmm_data.pages[p->next].prev = p->prev;
    p->head = 0;
    pmm_data.nblocks[node][p->order]--;
    pmm_data.node[node].free -= 1u << p->order;
}

/*
 * The pages of [pfn, pfn + 2^order) are PG_FREE, all on one node: merge with
 * free buddies of that node and list it.  A buddy on another node stays
 * apart, so a block never spans two nodes.
 */
static void block_release(uint32_t pfn, unsigned order)
{
    unsigned node = pmm_data.pages[pfn].node;
    while (order < PMM_MAX_ORDER) {
        uint32_t buddy = pfn ^ (1u << order);
        if (buddy >= pmm_data.npages || !pmm_data.pages[buddy].head ||
            pmm_data.pages[buddy].order != order || pmm_data.pages[buddy].node != node)
            break;
        block_unlink(buddy);
        pfn &= ~(1u << order);
        order++;
    }
    block_push(pfn, order);
}

/*
 * Release a run of PG_FREE pages as the largest aligned blocks that tile it,
 * cut first where the node changes (pmm_span_end: a node's edge need not be
 * aligned to any block size).
 */
void pmm_run_release(uint32_t pfn, uint32_t count)
{
    while (count) {
        uint32_t piece = count;
        if (pmm_nodes.nspans > 1 && count > 1) { /* one page: on one node */
            uint32_t edge = pmm_span_end(pfn);
            if (edge - pfn < piece)
                piece = edge - pfn;
        }
        count -= piece;
        while (piece) {
            unsigned order = 0;
            while (order < PMM_MAX_ORDER && (pfn & (1u << order)) == 0 && (2u << order) <= piece)
                order++;
            block_release(pfn, order);
            pfn += 1u << order;
            piece -= 1u << order;
        }
    }
}

/* A free block of exactly `order` pages on `node`, split from a bigger one if need be. */
static uint32_t block_take(unsigned node, unsigned order)
{
    unsigned k = order;
    while (k <= PMM_MAX_ORDER && pmm_data.list[node][k] == PFN_NONE)
        k++;
    if (k > PMM_MAX_ORDER)
        return PFN_NONE;
    uint32_t pfn = pmm_data.list[node][k];
    block_unlink(pfn);
    while (k > order) {
        k--;
        block_push(pfn + (1u << k), k);
    }
    return pfn;
}

/* ---------------------------------------------------------- allocation ---- */

static unsigned order_for(uint32_t pages)
{
    unsigned k = 0;
    while ((1u << k) < pages)
        k++;
    return k;
}

/*
 * Run every reclaim hook once, unless the hooks are running (a hook that
 * allocates) or pmm_reclaim_hold holds them.  Called without the PMM's lock:
 * the hooks take mm_lock and call the PMM.  `reclaiming` and the hooks table
 * belong to mm_lock, which every change of them holds.
 */
static void reclaim(void)
{
    glue_irqflags_t f = mm_lock();
    if (!reclaiming) {
        reclaiming++;
        glue_irqflags_t g = pmm_lock();
        pmm_data.reclaims++;
        pmm_unlock(g);
        for (unsigned i = 0; i < PMM_RECLAIM_HOOKS; i++) {
            if (reclaim_hooks[i])
                reclaim_hooks[i]();
        }
        reclaiming--;
    }
    mm_unlock(f);
}

/* The node of CPU `cpu`: its registered one, else node 0. */
static unsigned cpu_node_locked(int cpu)
{
    return cpu >= 0 && (unsigned)cpu < pmm_nodes.ncpus ? pmm_nodes.cpu_node[cpu] : 0;
}

/*
 * A block of `order` pages for an allocation that wants `want` (strict: only
 * there), else from the other nodes nearest first; *from: where it came from.
 */
static uint32_t take_near(unsigned want, int strict, unsigned order, unsigned *from)
{
    unsigned nodes = pmm_node_total();
    for (unsigned i = 0; i < nodes; i++) {
        unsigned n = nodes == 1 ? 0 : pmm_nodes.fallback[want][i];
        uint32_t pfn = block_take(n, order);
        if (pfn != PFN_NONE) {
            *from = n;
            return pfn;
        }
        if (strict)
            break;
    }
    return PFN_NONE;
}

/* Take `count` pages of a block of `order` for `owner`, from node `want` or near it: or 0. */
static paddr_t take_locked(uint32_t count, unsigned order, unsigned owner, unsigned want,
                           int strict)
{
    unsigned from = 0;
    uint32_t pfn = pmm_data.npages ? take_near(want, strict, order, &from) : PFN_NONE;
    if (pfn == PFN_NONE)
        return 0;
    owner &= ~PMM_NO_RECLAIM;
    for (uint32_t i = 0; i < count; i++) {
        pg_set_state(&pmm_data.pages[pfn + i], PG_USED);
        pg_set_owner(&pmm_data.pages[pfn + i], owner);
    }
    pmm_run_release(pfn + count, (1u << order) - count); /* the tail beyond count */
    pmm_data.free -= count;
    pmm_data.used += count;
    pmm_data.owned[owner] += count;
    pmm_data.node[from].used += count;
    if (from == want) {
        pmm_data.node[want].local++;
    } else {
        pmm_data.node[want].fallback++;
        pmm_data.node[from].foreign++;
    }
    return addr_of(pfn);
}

/* Has `node` a free block of `order` pages or more (on its buddy lists)? */
static int node_has_block(unsigned node, unsigned order)
{
    for (unsigned k = order; k <= PMM_MAX_ORDER; k++) {
        if (pmm_data.list[node][k] != PFN_NONE)
            return 1;
    }
    return 0;
}

/* The node an allocation asks for, under the PMM's lock: the caller's, or the CPU's. */
static unsigned wanted_node(int node)
{
    if (node != PMM_NODE_ANY)
        return (unsigned)node & ~(unsigned)PMM_NODE_STRICT;
    return pmm_nodes.nodes > 1 ? cpu_node_locked(glue_cpu_id()) : 0;
}

/* ------------------------------------------------------- per-CPU lists ---- */

/*
 * A list of single free pages per CPU (issue 12 item 3), in front of the
 * buddy lists: pmm_alloc_page and pmm_free_page, and every order-0 call of
 * the _owner and _node variants, take a page from and give it to the
 * calling CPU's list without the PMM's lock in the common case.  A single
 * page otherwise costs a split of the smallest block that has one (a 4 MB
 * block down to a page: ten pushes) and, at its free, the merges back.
 *
 *   refill   an empty list takes up to PMM_PCP_BATCH pages of its node, one by
 *            one from the buddy lists (the smallest blocks first), under the
 *            PMM's lock; the first taken is handed out first
 *   give     a full list (PMM_PCP_HIGH) gives PMM_PCP_BATCH back, merged with
 *            their buddies, under the PMM's lock
 *   drain    every list gives all back: an allocation that found no block
 *            (before the reclaim hooks run and after: no strict or aligned
 *            allocation fails, nor is OOM reported, while pages sit on a list),
 *            pmm_set_nodes, pmm_drain_cpu_lists; and the lists of a node's
 *            CPUs, when a non-strict allocation finds that node without a
 *            block, before it takes a remote node's (review finding 4)
 *
 * Only pages of the CPU's node go on its list (a page of another node is
 * freed the shared way), and an allocation that names another node takes the
 * shared way: NUMA placement is as without the lists.
 *
 * A page on a list is PG_CACHED (free, counted in free_pages), its owner byte
 * PG_CLAIM, its `prev` the CPU whose list holds it, its `next` the list's
 * link.  The always-on checks of a free stay: the fast path takes the page
 * only if it is page-aligned, below the descriptors' end, PG_USED, of the
 * owner the call names, on this CPU's node and not held for a shootdown; any
 * other page goes the shared way, which reports it as before (a double free
 * of a PG_CACHED page too: "double free (page already free)").  Two CPUs freeing one page at once:
 * each sets the page's claim bit with one lock bts (pg_claim, pmm_priv.h); the loser takes the
 * shared way, and so does the shared path's own free (run_claimed).
 *
 * Counts: the lists' pages leave the buddy lists (pmm_data.free) for
 * pmm_data.cached at a refill and come back at a give or drain, under the
 * PMM's lock.  The fast path counts what it hands out and takes back in its
 * own pmm_pcp_t (used, owned, local), folded into pmm_data under the PMM's
 * lock at the next refill, give or drain; pmm_check adds them up, and so do
 * the statistics (pmm_pcp_sum, under every list lock: exact, no drain).
 *
 * Locks: a CPU's list lock (an xchg spinlock, interrupts off) is taken by
 * its CPU on each fast-path call, and by pmm_pcp_lock_all (every CPU's, in
 * CPU order) for a drain, pmm_check, pmm_dump, pmm_init and pmm_set_nodes.
 * The order: mm_lock, vmm_lock, the list locks, pmm_lock.  A CPU that holds the PMM's
 * lock takes the shared way, and only tries the list locks (a drain then
 * skips a busy CPU's list).  No mm_lock or vmm_lock is asked for under a list lock.
 */

pmm_pcp_t pmm_pcp[PMM_PCP_CPUS];

static inline void pcp_lock(pmm_pcp_t *pc)
{
    while (__atomic_exchange_n(&pc->lock, 1u, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&pc->lock, __ATOMIC_RELAXED))
            glue_cpu_relax(); /* the kernel answers shootdown requests here */
    }
}

static inline int pcp_trylock(pmm_pcp_t *pc)
{
    return __atomic_exchange_n(&pc->lock, 1u, __ATOMIC_ACQUIRE) == 0;
}

static inline void pcp_unlock(pmm_pcp_t *pc)
{
    __atomic_store_n(&pc->lock, 0u, __ATOMIC_RELEASE);
}

uint32_t pmm_pcp_lock_all(void)
{
    int try_only = pmm_lock_held();
    uint32_t held = 0;
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        if (!try_only)
            pcp_lock(&pmm_pcp[c]);
        if (!try_only || pcp_trylock(&pmm_pcp[c]))
            held |= 1u << c;
    }
    return held;
}

void pmm_pcp_unlock_all(uint32_t held)
{
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        if ((held >> c) & 1)
            pcp_unlock(&pmm_pcp[c]);
    }
}

/* Under pc's lock and the PMM's: pc's counts into pmm_data. */
static void pcp_fold_locked(pmm_pcp_t *pc)
{
    pmm_node_count_t *c = &pmm_data.node[pc->node];
    pmm_data.used += (uint32_t)pc->used;
    pmm_data.cached -= (uint32_t)pc->used;
    c->used += (uint32_t)pc->used;
    c->cached -= (uint32_t)pc->used;
    c->local += pc->local;
    for (unsigned o = 0; o < PMM_OWNER_COUNT; o++) {
        pmm_data.owned[o] += (uint32_t)pc->owned[o];
        pc->owned[o] = 0;
    }
    if (pc->freed)
        pmm_data.oom_reported = 0;
    pc->used = 0;
    pc->local = 0;
    pc->freed = 0;
}

/* Under pc's lock and the PMM's: up to `count` of pc's pages back to the buddy lists. */
static uint32_t pcp_give_locked(pmm_pcp_t *pc, uint32_t count)
{
    uint32_t done = 0;
    pcp_fold_locked(pc);
    for (; done < count && pc->n; done++) {
        uint32_t pfn = pc->head;
        pmm_page_t *p = &pmm_data.pages[pfn];
        pc->head = p->next;
        pc->n--;
        p->next = p->prev = PFN_NONE;
        pg_set_state(p, PG_FREE);
        pg_set_owner(p, PMM_OWNER_NONE);
        block_release(pfn, 0);
    }
    pmm_data.free += done;
    pmm_data.cached -= done;
    pmm_data.node[pc->node].cached -= done;
    pc->drains += done != 0;
    return done;
}

uint32_t pmm_pcp_drain_locked(uint32_t held)
{
    uint32_t pages = 0;
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        if ((held >> c) & 1)
            pages += pcp_give_locked(&pmm_pcp[c], pmm_pcp[c].n);
    }
    return pages;
}

/*
 * The lists of the CPUs in `cpus` (bit c: CPU c) back to the buddy lists (a
 * busy one skipped if this CPU holds the PMM's lock); the pages given back.
 */
static uint32_t pcp_drain_cpus(uint32_t cpus)
{
    glue_irqflags_t f = glue_irq_save();
    uint32_t held = pmm_pcp_lock_all();
    glue_irqflags_t g = pmm_lock();
    uint32_t pages = pmm_pcp_drain_locked(held & cpus);
    pmm_unlock(g);
    pmm_pcp_unlock_all(held);
    glue_irq_restore(f);
    return pages;
}

static void pcp_drain_all(void)
{
    pcp_drain_cpus(~0u);
}

uint32_t pmm_drain_cpu_lists(void)
{
    return pcp_drain_cpus(~0u);
}

/*
 * Under the PMM's lock: the CPUs whose lists hold pages of `node` (bit c: CPU
 * c), read without their locks (a list that changes meanwhile: a drain finds it
 * as it is then).
 */
static uint32_t pcp_cpus_holding(unsigned node)
{
    uint32_t cpus = 0;
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        if (pmm_pcp[c].node == node && __atomic_load_n(&pmm_pcp[c].n, __ATOMIC_RELAXED))
            cpus |= 1u << c;
    }
    return cpus;
}

void pmm_pcp_sum(uint32_t held, pmm_pcp_sum_t *s)
{
    memset(s, 0, sizeof(*s));
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        const pmm_pcp_t *pc = &pmm_pcp[c];
        if (!((held >> c) & 1) || !pc->active)
            continue; /* only tried, and busy (this CPU holds the PMM's lock); or never used */
        unsigned node = pc->node < PMM_MAX_NODES ? pc->node : 0;
        s->listed[node] += pc->n;
        s->used[node] += pc->used;
        s->local[node] += pc->local;
        s->listed_all += pc->n;
        s->used_all += pc->used;
        for (unsigned o = 0; o < PMM_OWNER_COUNT; o++)
            s->owned[o] += pc->owned[o];
    }
}

void pmm_pcp_reset_locked(void)
{
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        pmm_pcp_t *pc = &pmm_pcp[c];
        uint32_t lock = pc->lock;
        memset(pc, 0, sizeof(*pc));
        pc->lock = lock;
        pc->head = PFN_NONE;
        pc->node = pmm_nodes.nodes > 1 ? cpu_node_locked((int)c) : 0;
    }
}

/* Under pc's lock and the PMM's: up to `want` pages of pc's node onto pc (empty). */
static void pcp_take_locked(pmm_pcp_t *pc, unsigned cpu, uint32_t want)
{
    uint32_t first = PFN_NONE, *link = &first, got = 0;
    pcp_fold_locked(pc);
    if (!pmm_data.npages || pc->node >= pmm_node_total())
        return;
    for (; got < want; got++) {
        uint32_t pfn = block_take(pc->node, 0);
        if (pfn == PFN_NONE)
            break;
        pmm_page_t *p = &pmm_data.pages[pfn];
        pg_set_owner(p, PG_CLAIM);
        pg_set_state(p, PG_CACHED);
        p->prev = cpu;
        *link = pfn;
        link = &p->next;
    }
    *link = pc->head;
    pc->head = first;
    pc->n += got;
    pc->active |= got != 0;
    pmm_data.free -= got;
    pmm_data.cached += got;
    pmm_data.node[pc->node].cached += got;
}

static void pcp_refill_locked(pmm_pcp_t *pc, unsigned cpu)
{
    pcp_take_locked(pc, cpu, PMM_PCP_BATCH);
    pc->refills++;
}

/* This CPU's list, its lock held and interrupts off (*f), or NULL: take the shared way. */
static inline pmm_pcp_t *pcp_enter(glue_irqflags_t *f, int *cpu)
{
    *f = glue_irq_save();
    *cpu = glue_cpu_id();
    if ((unsigned)*cpu >= PMM_PCP_CPUS || pmm_lock_held_by(*cpu)) {
        glue_irq_restore(*f);
        return NULL;
    }
    pmm_pcp_t *pc = &pmm_pcp[*cpu];
    pcp_lock(pc);
    return pc;
}

static inline void pcp_leave(pmm_pcp_t *pc, glue_irqflags_t f)
{
    pcp_unlock(pc);
    glue_irq_restore(f);
}

/* A page for `owner` (no flags) from this CPU's list, refilled if empty; 0: the shared way. */
static paddr_t pcp_alloc(unsigned owner, int node)
{
    glue_irqflags_t f;
    int cpu;
    pmm_pcp_t *pc = pcp_enter(&f, &cpu);
    if (!pc)
        return 0;
    if (node != PMM_NODE_ANY && ((unsigned)node & ~(unsigned)PMM_NODE_STRICT) != pc->node) {
        pcp_leave(pc, f);
        return 0;
    }
    if (!pc->n) {
        glue_irqflags_t g = pmm_lock();
        pcp_refill_locked(pc, (unsigned)cpu);
        pmm_unlock(g);
        if (!pc->n) { /* the node has no single page: the shared way falls back, drains, reclaims */
            pcp_leave(pc, f);
            return 0;
        }
    }
    uint32_t pfn = pc->head;
    pmm_page_t *p = &pmm_data.pages[pfn];
    pc->head = p->next;
    __atomic_store_n(&pc->n, pc->n - 1, __ATOMIC_RELAXED); /* (pcp_cpus_holding reads it) */
    p->prev = PFN_NONE;
    pg_set_state(p, PG_USED);
    pg_set_owner(p, owner); /* the claim let go */
    pc->used++;
    pc->owned[owner]++;
    pc->local++;
    pc->hits++;
    pcp_leave(pc, f);
    return addr_of(pfn);
}

/* The page `page` of `owner` onto this CPU's list: 1; 0: the shared way (which reports). */
static int pcp_free(paddr_t page, unsigned owner)
{
    glue_irqflags_t f;
    int cpu;
    pmm_pcp_t *pc = pcp_enter(&f, &cpu);
    if (!pc)
        return 0;
    uint32_t pfn = pfn_of(page);
    unsigned want = pc->node | owner << 8; /* the claim word of such a page */
    if (page % PAGE_SIZE || pfn >= pmm_data.npages)
        goto shared;
    pmm_page_t *p = &pmm_data.pages[pfn];
    /* (prev is read atomically: a CPU that won the claim below may be writing it) */
    if (pg_state(p) != PG_USED || __atomic_load_n(&p->claim, __ATOMIC_RELAXED) != want ||
        __atomic_load_n(&p->prev, __ATOMIC_RELAXED) == PFN_HELD)
        goto shared;
    if (pg_claim(p))
        goto shared; /* being freed on another CPU right now */
    /* again, claimed: a free on another CPU may have finished in between */
    if (pg_state(p) != PG_USED ||
        __atomic_load_n(&p->claim, __ATOMIC_RELAXED) != (want | 0x8000u) ||
        __atomic_load_n(&p->prev, __ATOMIC_RELAXED) == PFN_HELD) {
        __atomic_fetch_and(&p->claim, (uint16_t)0x7FFFu, __ATOMIC_RELEASE);
        goto shared;
    }
    if (pc->n >= PMM_PCP_HIGH) {
        glue_irqflags_t g = pmm_lock();
        pcp_give_locked(pc, PMM_PCP_BATCH);
        pmm_unlock(g);
    }
    pg_set_state(p, PG_CACHED);
    pg_set_owner(p, PG_CLAIM);
    __atomic_store_n(&p->prev, (uint32_t)cpu, __ATOMIC_RELAXED);
    p->next = pc->head;
    pc->head = pfn;
    __atomic_store_n(&pc->n, pc->n + 1, __ATOMIC_RELAXED);
    pc->used--;
    pc->owned[owner]--;
    pc->freed = 1;
    pc->active = 1;
    pc->frees++;
    pcp_leave(pc, f);
    return 1;
shared:
    pcp_leave(pc, f);
    return 0;
}

/*
 * An allocation: under the PMM's lock; if that finds nothing, the lock is
 * dropped, the reclaim hooks run (unless the call says PMM_NO_RECLAIM, or
 * this CPU still holds the PMM's lock from further out) and it tries again.
 */
static paddr_t alloc_now(uint32_t count, unsigned order, unsigned owner, int node)
{
    int strict = node != PMM_NODE_ANY && (node & PMM_NODE_STRICT);
    glue_irqflags_t f = pmm_lock();
    unsigned want = wanted_node(node);
    /* (node_ok asked before the lock: a pmm_set_nodes meanwhile may have taken it away) */
    int gone = want >= pmm_node_total();
    /*
     * Not strict, and the node it wants has no block: before a remote node's
     * page is taken, the pages of that node on its CPUs' lists go back (they
     * are free pages of the wanted node; review finding 4).
     */
    if (!gone && !strict && pmm_node_total() > 1 && !node_has_block(want, order)) {
        uint32_t cpus = pcp_cpus_holding(want);
        if (cpus) {
            pmm_unlock(f);
            pcp_drain_cpus(cpus);
            f = pmm_lock();
            want = wanted_node(node);
            gone = want >= pmm_node_total();
        }
    }
    paddr_t a = gone ? 0 : take_locked(count, order, owner, want, strict);
    /*
     * Nothing: first the pages on the CPUs' lists go back (they may complete a
     * block, or be the node's last), then the reclaim hooks run, and the lists
     * go back again (a hook's frees may have landed on this CPU's list).
     */
    for (int round = 0; !a && !gone && pmm_data.npages && round < 2; round++) {
        if (round == 1 && (owner & PMM_NO_RECLAIM))
            break;
        pmm_unlock(f);
        /*
         * The hooks take mm_lock: skipped on a CPU that holds the PMM's lock
         * from further out, or the VMM's without mm_lock (a page table for
         * vmm_map; the order is mm_lock, vmm_lock, pmm_lock).  mm/'s own
         * callers there ask with PMM_NO_RECLAIM anyway.
         */
        if (round == 1 && !pmm_lock_held() && mm_lock_may_take())
            reclaim();
        pcp_drain_all();
        f = pmm_lock();
        want = wanted_node(node); /* the topology may have changed meanwhile */
        gone = want >= pmm_node_total();
        a = gone ? 0 : take_locked(count, order, owner, want, strict);
    }
    if (gone) {
        pmm_unlock(f);
        mm_report("pmm: node %u: no such node any more (%u nodes): nothing allocated", want,
                  pmm_node_total());
        return 0;
    }
    /* strict: not out of memory, that node is, and was asked for */
    if (!a && pmm_data.npages && !strict) {
        if ((owner & ~PMM_NO_RECLAIM) == PMM_OWNER_CALLER)
            mm_oom_failed(); /* the other owners' calls are counted by their layer */
        if (!pmm_data.oom_reported && mm_oom_reports_on()) {
            mm_oom_printf("pmm: out of memory: %u pages wanted, %u free\n", (unsigned)count,
                          (unsigned)(pmm_data.free + pmm_data.cached));
            pmm_data.oom_reported = 1;
        }
    }
    pmm_unlock(f);
    return a;
}

uint32_t pmm_alloc_page(void)
{
    paddr_t a = pcp_alloc(PMM_OWNER_CALLER, PMM_NODE_ANY);
    return a ? a : alloc_now(1, 0, PMM_OWNER_CALLER, PMM_NODE_ANY);
}

/* Is `node` one an allocation may ask for (PMM_NODE_ANY, or a node maybe | strict)?  Reported. */
static int node_ok(const char *fn, int node)
{
    if (node == PMM_NODE_ANY ||
        (node >= 0 && ((unsigned)node & ~(unsigned)PMM_NODE_STRICT) < pmm_node_total()))
        return 1;
    mm_report("%s: node %d: no such node (%u nodes): nothing allocated", fn, node,
              pmm_node_total());
    return 0;
}

static paddr_t alloc_pages(const char *fn, uint32_t count, uint32_t align, unsigned owner, int node)
{
    if (!node_ok(fn, node))
        return 0;
    if (align == 0)
        align = PAGE_SIZE;
    pmm_owner_t o = (pmm_owner_t)(owner & ~PMM_NO_RECLAIM);
    if (count == 0 || (align & (align - 1)) || align < PAGE_SIZE || o == PMM_OWNER_NONE ||
        o >= PMM_OWNER_COUNT) {
        mm_report("%s: %u pages aligned to 0x%x: %s", fn, (unsigned)count, (unsigned)align,
                  count == 0 ? "zero pages"
                  : o == PMM_OWNER_NONE || o >= PMM_OWNER_COUNT
                      ? "no such owner"
                      : "alignment is not a power of two >= 4096");
        return 0;
    }
    /* the count first: order_for of a count above 2^31 would shift by 32 */
    unsigned order = count > (1u << PMM_MAX_ORDER) ? PMM_MAX_ORDER + 1 : order_for(count);
    unsigned align_order = order_for(align / PAGE_SIZE);
    if (align_order > order)
        order = align_order;
    if (order > PMM_MAX_ORDER) {
        mm_report("%s: %u pages aligned to 0x%x: larger than the biggest block (%u pages)", fn,
                  (unsigned)count, (unsigned)align, 1u << PMM_MAX_ORDER);
        return 0;
    }
    if (order == 0) { /* a single page: this CPU's list first */
        paddr_t a = pcp_alloc(o, node);
        if (a)
            return a;
    }
    return alloc_now(count, order, owner, node);
}

paddr_t pmm_alloc_pages(uint32_t count, uint32_t align)
{
    return alloc_pages("pmm_alloc_pages", count, align, PMM_OWNER_CALLER, PMM_NODE_ANY);
}

paddr_t pmm_alloc_pages_owner(uint32_t count, uint32_t align, unsigned owner)
{
    return alloc_pages("pmm_alloc_pages_owner", count, align, owner, PMM_NODE_ANY);
}

paddr_t pmm_alloc_page_node(int node)
{
    return alloc_pages("pmm_alloc_page_node", 1, PAGE_SIZE, PMM_OWNER_CALLER, node);
}

paddr_t pmm_alloc_pages_node(int node, uint32_t count, uint32_t align)
{
    return alloc_pages("pmm_alloc_pages_node", count, align, PMM_OWNER_CALLER, node);
}

paddr_t pmm_alloc_owner_node(uint32_t count, uint32_t align, unsigned owner, int node)
{
    return alloc_pages("pmm_alloc_owner_node", count, align, owner, node);
}

int pmm_cpu_node(int cpu)
{
    glue_irqflags_t f = pmm_lock();
    unsigned n = cpu_node_locked(cpu == PMM_NODE_ANY ? glue_cpu_id() : cpu);
    pmm_unlock(f);
    return (int)n;
}

int pmm_register_reclaim(size_t (*hook)(void))
{
    glue_irqflags_t f = mm_lock();
    int r = -1;
    for (unsigned i = 0; hook && i < PMM_RECLAIM_HOOKS && r < 0; i++)
        r = reclaim_hooks[i] == hook ? 0 : -1;
    for (unsigned i = 0; hook && i < PMM_RECLAIM_HOOKS && r < 0; i++) {
        if (!reclaim_hooks[i]) {
            reclaim_hooks[i] = hook;
            r = 0;
        }
    }
    mm_unlock(f);
    if (r < 0)
        mm_report("pmm_register_reclaim: %p: %s", (void *)hook,
                  hook ? "the hook table is full" : "NULL hook");
    return r;
}

void pmm_reclaim_hold(int hold)
{
    glue_irqflags_t f = mm_lock();
    int unpaired = !hold && reclaiming == 0;
    if (!unpaired)
        reclaiming += hold ? 1 : -1;
    mm_unlock(f);
    if (unpaired)
        mm_report("pmm_reclaim_hold: released, but not held");
}

void pmm_unregister_reclaim(size_t (*hook)(void))
{
    glue_irqflags_t f = mm_lock();
    for (unsigned i = 0; i < PMM_RECLAIM_HOOKS; i++) {
        if (reclaim_hooks[i] == hook)
            reclaim_hooks[i] = NULL;
    }
    mm_unlock(f);
}

/* ---------------------------------------------------------------- free ---- */

/* Why the page at `a` cannot be freed, or NULL if it is an allocated page. */
static const char *page_problem(paddr_t a)
{
    if (a % PAGE_SIZE)
        return "not page-aligned";
    if (pfn_of(a) >= pmm_data.npages)
        return "beyond RAM";
    switch (pg_state(&pmm_data.pages[pfn_of(a)])) {
    case PG_HOLE:
        return "not RAM (a hole in the memory map)";
    case PG_RESERVED:
        return "reserved page (never handed out)";
    case PG_FREE:
        return "double free (page already free)";
    case PG_CACHED: /* on a CPU's list of free pages: the same words as ever */
        return "double free (page already free)";
    case PG_UNREACHABLE:
        return "not yet reachable (above pmm_set_reachable's limit)";
    case PG_MAP_RESERVED:
        return "not RAM (reserved by the memory map or the kernel image)";
    }
    return NULL;
}

/*
 * Is [base, base + count pages) a run of allocated pages that `owner` may
 * free (or hand over)?  If not, report the first page that is not and why,
 * ending in `undone` ("not freed", "not handed over").
 */
static int run_owned(const char *fn, paddr_t base, uint32_t count, pmm_owner_t owner,
                     const char *undone)
{
    if (count == 0 ||
        (pmm_data.npages && count > pmm_data.npages)) { /* no pages: "beyond RAM" below */
        mm_report("%s: 0x%08lx: bad page count %u", fn, (unsigned long)base, (unsigned)count);
        return 0;
    }
    for (uint32_t i = 0; i < count; i++) {
        paddr_t a = base + i * PAGE_SIZE;
        const char *why = a < base ? "run wraps past 4 GB" : page_problem(a);
        if (why) {
            /* all or nothing: a bad page anywhere leaves the whole run alone */
            mm_report("%s: 0x%08lx: %s", fn, (unsigned long)a, why);
            return 0;
        }
        unsigned has = pg_owner(&pmm_data.pages[pfn_of(a)]);
        if (has == owner)
            continue;
        pmm_data.refused++;
        /*
         * The claim bit set, and we hold the PMM's lock: another CPU is freeing
         * the page onto its list at this moment (review finding 7)
         */
        int racing = has & PG_CLAIM && (has & ~PG_CLAIM) != PMM_OWNER_NONE &&
                     (has & ~PG_CLAIM) < PMM_OWNER_COUNT;
        if (racing)
            has &= ~PG_CLAIM;
        if (racing && has == owner)
            mm_report("%s: 0x%08lx: double free (freed on another CPU at the same time): %s", fn,
                      (unsigned long)a, undone);
        else if (has >= PMM_OWNER_COUNT) /* pmm_check reports it too */
            mm_report("%s: 0x%08lx: owner byte %u is no owner: %s", fn, (unsigned long)a,
                      (unsigned)has, undone);
        else if (owner == PMM_OWNER_CALLER)
            mm_report("%s: 0x%08lx: %s (owner %s): %s", fn, (unsigned long)a, owners[has].what,
                      owners[has].layer, undone);
        else
            mm_report("%s: 0x%08lx: %s (owner %s), not a %s page: %s", fn, (unsigned long)a,
                      owners[has].what, owners[has].layer,
                      owner < PMM_OWNER_COUNT ? owners[owner].name : "?", undone);
        return 0;
    }
    return 1;
}

/*
 * Claim every page of a run run_owned passed (pg_claim): 1; or, if another
 * CPU is freeing one of them at this very moment on its list, let go of the
 * claims taken, report, 0.
 */
static int run_claimed(const char *fn, paddr_t base, uint32_t count, const char *undone)
{
    pmm_page_t *p = &pmm_data.pages[pfn_of(base)];
    for (uint32_t i = 0; i < count; i++) {
        if (pg_claim(&p[i])) {
            while (i--)
                __atomic_fetch_and(&p[i].claim, (uint16_t)0x7FFFu, __ATOMIC_RELEASE);
            mm_report("%s: 0x%08lx: double free (freed on another CPU at the same time): %s", fn,
                      (unsigned long)(base + i * PAGE_SIZE), undone);
            return 0;
        }
    }
    return 1;
}

static void free_locked(const char *fn, paddr_t base, uint32_t count, pmm_owner_t owner)
{
    if (!run_owned(fn, base, count, owner, "not freed"))
        return;
    for (uint32_t i = 0; i < count; i++) {
        if (pmm_data.pages[pfn_of(base) + i].prev == PFN_HELD) {
            mm_report("%s: 0x%08lx: double free (page already waiting for its TLB shootdown)", fn,
                      (unsigned long)(base + i * PAGE_SIZE));
            return;
        }
    }
    if (!run_claimed(fn, base, count, "not freed"))
        return;
    for (uint32_t i = 0; i < count; i++) {
        pmm_page_t *p = &pmm_data.pages[pfn_of(base) + i];
        pg_set_state(p, PG_FREE);
        pg_set_owner(p, PMM_OWNER_NONE); /* and the claim let go */
        pmm_data.node[p->node].used--;
    }
    pmm_run_release(pfn_of(base), count);
    pmm_data.free += count;
    pmm_data.used -= count;
    pmm_data.owned[owner] -= count;
    pmm_data.oom_reported = 0;
}

void pmm_free_page(uint32_t page)
{
    if (pcp_free(page, PMM_OWNER_CALLER))
        return;
    glue_irqflags_t f = pmm_lock();
    free_locked("pmm_free_page", page, 1, PMM_OWNER_CALLER);
    pmm_unlock(f);
}

void pmm_free_pages(paddr_t base, uint32_t count)
{
    if (count == 1 && pcp_free(base, PMM_OWNER_CALLER))
        return;
    glue_irqflags_t f = pmm_lock();
    free_locked("pmm_free_pages", base, count, PMM_OWNER_CALLER);
    pmm_unlock(f);
}

void pmm_free_pages_owner(paddr_t base, uint32_t count, pmm_owner_t owner)
{
    if (count == 1 && owner != PMM_OWNER_NONE && owner < PMM_OWNER_COUNT && pcp_free(base, owner))
        return;
    glue_irqflags_t f = pmm_lock();
    if (owner == PMM_OWNER_NONE || owner >= PMM_OWNER_COUNT)
        mm_report("pmm_free_pages_owner: 0x%08lx: %u is no owner: not freed", (unsigned long)base,
                  (unsigned)owner);
    else
        free_locked("pmm_free_pages_owner", base, count, owner);
    pmm_unlock(f);
}

int pmm_set_owner(paddr_t base, uint32_t count, pmm_owner_t from, pmm_owner_t to)
{
    glue_irqflags_t f = pmm_lock();
    int r = -1;
    if (from == PMM_OWNER_NONE || from >= PMM_OWNER_COUNT || to == PMM_OWNER_NONE ||
        to >= PMM_OWNER_COUNT)
        mm_report("pmm_set_owner: 0x%08lx: owners %u -> %u: no such owner", (unsigned long)base,
                  (unsigned)from, (unsigned)to);
    else if (run_owned("pmm_set_owner", base, count, from, "not handed over") &&
             run_claimed("pmm_set_owner", base, count, "not handed over")) {
        for (uint32_t i = 0; i < count; i++)
            pg_set_owner(&pmm_data.pages[pfn_of(base) + i], to); /* the claim let go */
        pmm_data.owned[from] -= count;
        pmm_data.owned[to] += count;
        r = 0;
    }
    pmm_unlock(f);
    return r;
}

/* ------------------------------------------------------ TLB shootdown ---- */

/*
 * A page unmapped from the kernel's address space may still sit in another
 * CPU's TLB: whoever got it next would share it with a stale translation.
 * So an unmapping layer does not free it at once: pmm_free_held holds it (still
 * PG_USED, its owner's, `prev` PFN_HELD, chained through `next`), and
 * pmm_tlb_shootdown_free, after glue_tlb_shootdown returned, frees every page
 * held.  Only this CPU adds to the chain, between the two: its callers hold mm/'s
 * lock (the PMM's lock keeps the pages' metadata).
 */
int pmm_free_held(const char *fn, paddr_t page, pmm_owner_t owner)
{
    glue_irqflags_t f = pmm_lock();
    int r = -1;
    if (owner == PMM_OWNER_NONE || owner >= PMM_OWNER_COUNT)
        mm_report("%s: 0x%08lx: %u is no owner: not freed", fn, (unsigned long)page,
                  (unsigned)owner);
    else if (run_owned(fn, page, 1, owner, "not freed") && run_claimed(fn, page, 1, "not freed")) {
        pmm_page_t *p = &pmm_data.pages[pfn_of(page)];
        int again = p->prev == PFN_HELD;
        if (!again) {
            p->prev = PFN_HELD;
            p->next = pmm_data.nheld ? pmm_data.held : PFN_NONE;
            pmm_data.held = pfn_of(page);
            pmm_data.nheld++;
            r = 0;
        }
        pg_set_owner(p, owner); /* the claim let go: still the owner's, held */
        if (again)
            mm_report("%s: 0x%08lx: double free (page already waiting for its TLB shootdown)", fn,
                      (unsigned long)page);
    }
    pmm_unlock(f);
    return r;
}

static unsigned shootdown_locked(uint32_t virt, uint32_t pages)
{
    unsigned cpus = glue_tlb_shootdown(virt, pages);
    pmm_data.tlb_shootdowns++;
    pmm_data.tlb_ipis += cpus;
    return cpus;
}

unsigned pmm_tlb_shootdown(uint32_t virt, uint32_t pages)
{
    glue_irqflags_t f = pmm_lock();
    unsigned cpus = shootdown_locked(virt, pages);
    pmm_unlock(f);
    return cpus;
}

void pmm_tlb_shootdown_free(uint32_t virt, uint32_t pages)
{
    glue_irqflags_t f = pmm_lock();
    shootdown_locked(virt, pages);
    while (pmm_data.nheld) {
        uint32_t pfn = pmm_data.held;
        pmm_page_t *p = &pmm_data.pages[pfn];
        pmm_data.held = p->next;
        pmm_data.nheld--;
        p->prev = p->next = PFN_NONE;
        free_locked("pmm_tlb_shootdown_free", addr_of(pfn), 1, (pmm_owner_t)p->owner);
    }
    pmm_unlock(f);
}

void pmm_tlb_counts(uint32_t *shootdowns, uint32_t *ipis)
{
    glue_irqflags_t f = pmm_lock(); /* the pair as one */
    *shootdowns = pmm_data.tlb_shootdowns;
    *ipis = pmm_data.tlb_ipis;
    pmm_unlock(f);
}

pmm_owner_t pmm_page_owner(paddr_t page)
{
    glue_irqflags_t f = pmm_lock();
    uint32_t pfn = pfn_of(page);
    unsigned o = pfn < pmm_data.npages && pg_state(&pmm_data.pages[pfn]) == PG_USED
                     ? pg_owner(&pmm_data.pages[pfn]) & ~PG_CLAIM
                     : 0;
    pmm_unlock(f);
    return (pmm_owner_t)o;
}

const char *pmm_owner_name(pmm_owner_t owner)
{
    return (unsigned)owner < PMM_OWNER_COUNT ? owners[owner].name : "?";
}

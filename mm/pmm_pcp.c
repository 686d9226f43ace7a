/*
 * pmm_pcp.c - the PMM's per-CPU lists of single free pages (issue 12 item 3).
 *
 * Owns pmm_pcp[] (the lists, their locks and the counts not yet folded into
 * pmm_data, pmm_priv.h draws pmm_pcp_t).  Calls pmm.c below it (a block taken
 * from or released onto the buddy lists: pmm_block_take, pmm_block_release),
 * lock.c and string.c; pmm_alloc.c (the public entries), pmm_stats.c,
 * pmm_node.c and pmm_init.c call it.
 *
 * Locking: each CPU's list has its own lock, below vmm_lock and above
 * pmm_lock (pmm_pcp_lock_all takes every one, in CPU order); pmm_lock is
 * taken inside a list's lock to move blocks, and a CPU holding pmm_lock only
 * tries a list's lock, never waits for it.
 */
#include "pmm_priv.h"
#include "lock.h"

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

uint32_t pmm_pcp_lock_all(void)
{
    int try_only = pmm_lock_held();
    uint32_t held = 0;
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        if (!try_only)
            mm_spin_lock(&pmm_pcp[c].lock);
        if (!try_only || mm_spin_trylock(&pmm_pcp[c].lock))
            held |= 1u << c;
    }
    return held;
}

void pmm_pcp_unlock_all(uint32_t held)
{
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        if ((held >> c) & 1)
            mm_spin_unlock(&pmm_pcp[c].lock);
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
        pmm_block_release(pfn, 0);
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
uint32_t pmm_pcp_drain_cpus(uint32_t cpus)
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

uint32_t pmm_drain_cpu_lists(void)
{
    return pmm_pcp_drain_cpus(~0u);
}

/*
 * Under the PMM's lock: the CPUs whose lists hold pages of `node` (bit c: CPU
 * c), read without their locks (a list that changes meanwhile: a drain finds it
 * as it is then).
 */
uint32_t pmm_pcp_cpus_holding(unsigned node)
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
        pc->node = pmm_nodes.nodes > 1 ? pmm_cpu_node_locked((int)c) : 0;
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
        uint32_t pfn = pmm_block_take(pc->node, 0);
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
    pmm_pressure_note();
}

static void pcp_refill_locked(pmm_pcp_t *pc, unsigned cpu)
{
    pcp_take_locked(pc, cpu, PMM_PCP_BATCH);
    pc->refills++;
}

/* This CPU's list, its lock held and interrupts off (*f), or NULL: take the shared way. */
static inline pmm_pcp_t *pcp_enter(glue_irqflags_t *f)
{
    *f = glue_irq_save();
    int cpu = glue_cpu_id();
    if ((unsigned)cpu >= PMM_PCP_CPUS || pmm_lock_held_by(cpu)) {
        glue_irq_restore(*f);
        return NULL;
    }
    pmm_pcp_t *pc = &pmm_pcp[cpu];
    mm_spin_lock(&pc->lock);
    return pc;
}

static inline void pcp_leave(pmm_pcp_t *pc, glue_irqflags_t f)
{
    mm_spin_unlock(&pc->lock);
    glue_irq_restore(f);
}

/* A page for `owner` (no flags) from this CPU's list, refilled if empty; 0: the shared way. */
paddr_t pmm_pcp_alloc(unsigned owner, int node)
{
    glue_irqflags_t f;
    pmm_pcp_t *pc = pcp_enter(&f);
    if (!pc)
        return 0;
    if (node != PMM_NODE_ANY && ((unsigned)node & ~(unsigned)PMM_NODE_STRICT) != pc->node) {
        pcp_leave(pc, f);
        return 0;
    }
    if (!pc->n) {
        glue_irqflags_t g = pmm_lock();
        pcp_refill_locked(pc, (unsigned)(pc - pmm_pcp));
        pmm_unlock(g);
        if (!pc->n) { /* the node has no single page: the shared way falls back, drains, reclaims */
            pcp_leave(pc, f);
            return 0;
        }
    }
    uint32_t pfn = pc->head;
    pmm_page_t *p = &pmm_data.pages[pfn];
    pc->head = p->next;
    __atomic_store_n(&pc->n, pc->n - 1, __ATOMIC_RELAXED); /* (pmm_pcp_cpus_holding reads it) */
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
int pmm_pcp_free(paddr_t page, unsigned owner)
{
    glue_irqflags_t f;
    pmm_pcp_t *pc = pcp_enter(&f);
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
    __atomic_store_n(&p->prev, (uint32_t)(pc - pmm_pcp), __ATOMIC_RELAXED);
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

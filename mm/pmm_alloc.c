/*
 * pmm_alloc.c - the PMM's public allocation and free entries, and the reclaim
 * hooks: pmm_alloc_page(s), the _owner and _node variants, pmm_free_page(s),
 * pmm_free_pages_owner, pmm_register_reclaim, pmm_reclaim_hold.
 *
 * Each entry checks its arguments and names itself in a report, tries the
 * calling CPU's list for a single page (pmm_pcp.c), else takes the PMM's
 * lock and the buddy lists (pmm.c); an allocation that finds nothing drains
 * the CPUs' lists, runs the reclaim hooks once (outside the PMM's lock, under
 * mm_lock) and tries again.  Owns the hooks table and `reclaiming`, which
 * outlive pmm_init (a re-init keeps the registrations).  Calls pmm_pcp.c,
 * pmm.c, lock.c, log.c: nothing above the PMM.
 */
#include "pmm_priv.h"
#include "lock.h"
#include "log.h"

static unsigned order_for(uint32_t pages)
{
    unsigned k = 0;
    while ((1u << k) < pages)
        k++;
    return k;
}

static size_t (*reclaim_hooks[PMM_RECLAIM_HOOKS])(void);
/* the hooks are running, or pmm_reclaim_hold holds them: mm_lock's, outlives pmm_init */
static int reclaiming;

/*
 * Run every reclaim hook once, unless the hooks are running (a hook that
 * allocates) or pmm_reclaim_hold holds them (then 0, else 1).  Called without the PMM's lock:
 * the hooks take mm_lock and call the PMM.  `reclaiming` and the hooks table
 * belong to mm_lock, which every change of them holds.
 */
static int reclaim(void)
{
    glue_irqflags_t f = mm_lock();
    int ran = !reclaiming;
    if (ran) {
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
    return ran;
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
    unsigned want = pmm_wanted_node(node);
    /* (node_ok asked before the lock: a pmm_set_nodes meanwhile may have taken it away) */
    int gone = want >= pmm_node_total();
    /*
     * Not strict, and the node it wants has no block: before a remote node's
     * page is taken, the pages of that node on its CPUs' lists go back (they
     * are free pages of the wanted node; review finding 4).
     */
    if (!gone && !strict && pmm_node_total() > 1 && !pmm_node_has_block(want, order)) {
        uint32_t cpus = pmm_pcp_cpus_holding(want);
        if (cpus) {
            pmm_unlock(f);
            pmm_pcp_drain_cpus(cpus);
            f = pmm_lock();
            want = pmm_wanted_node(node);
            gone = want >= pmm_node_total();
        }
    }
    paddr_t a = gone ? 0 : pmm_take_locked(count, order, owner, want, strict);
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
        /*
         * The lists go back and the take follows under the same locks: a CPU
         * whose list the drain emptied cannot refill it from the drained pages
         * before this take does (CI saw two CPUs dry at once, the hooks giving
         * back two pages, and one of them fail so).  f: the flags from before
         * the list locks, as pmm_lock would have saved them.
         */
        f = glue_irq_save();
        uint32_t held = pmm_pcp_lock_all();
        (void)pmm_lock();
        pmm_pcp_drain_locked(held);
        want = pmm_wanted_node(node); /* the topology may have changed meanwhile */
        gone = want >= pmm_node_total();
        a = gone ? 0 : pmm_take_locked(count, order, owner, want, strict);
        pmm_pcp_unlock_all(held);
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

/*
 * The pressure marks (0, 0: none): zswap's watermarks while it has an area.
 * Below `low` free frames after a take, the reclaim hooks owe a run; it comes
 * at the exit of the next allocation made from outside mm/ (kmalloc's,
 * kmem_cache_alloc's, vmalloc's and the PMM's public calls), since the
 * allocations that go below the mark are often ones that may not run the
 * hooks themselves (the heap growing, a page table: PMM_NO_RECLAIM).
 */
void pmm_set_pressure(uint32_t low, uint32_t high)
{
    glue_irqflags_t g = pmm_lock();
    pmm_data.press_low = low;
    pmm_data.press_high = high > low ? high : low;
    pmm_data.press_armed = 1;
    if (!low)
        pmm_data.press_pending = 0;
    pmm_unlock(g);
}

/*
 * A run of the reclaim hooks is owed (pmm_pressure_note): run it, if this CPU
 * is outside mm/ (holds none of its locks: not inside an allocation, a hook
 * or the codec's window).  An allocation in an interrupt handler may run it,
 * as it may run the hooks when the PMM is dry.
 */
void pmm_reclaim_deferred(void)
{
    if (__builtin_expect(!__atomic_load_n(&pmm_data.press_pending, __ATOMIC_RELAXED), 1))
        return;
    if (mm_lock_held() || !mm_lock_may_take() ||
        !__atomic_exchange_n(&pmm_data.press_pending, 0, __ATOMIC_RELAXED))
        return;
    if (!reclaim()) { /* held (pmm_reclaim_hold): still owed */
        __atomic_store_n(&pmm_data.press_pending, 1, __ATOMIC_RELAXED);
        return;
    }
    glue_irqflags_t g = pmm_lock();
    pmm_data.reclaims_deferred++;
    if (pmm_data.free + pmm_data.cached < pmm_data.press_low)
        pmm_data.press_armed = 0; /* nothing more to give: until a take sees `high` again */
    pmm_unlock(g);
}

uint32_t pmm_alloc_page(void)
{
    paddr_t a = pmm_pcp_alloc(PMM_OWNER_CALLER, PMM_NODE_ANY);
    if (!a)
        a = alloc_now(1, 0, PMM_OWNER_CALLER, PMM_NODE_ANY);
    pmm_reclaim_deferred();
    return a;
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
    paddr_t a = order == 0 ? pmm_pcp_alloc(o, node) : 0; /* a single page: this CPU's list first */
    if (!a)
        a = alloc_now(count, order, owner, node);
    if (!(owner & PMM_NO_RECLAIM))
        pmm_reclaim_deferred();
    return a;
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

void pmm_free_page(uint32_t page)
{
    if (pmm_pcp_free(page, PMM_OWNER_CALLER))
        return;
    glue_irqflags_t f = pmm_lock();
    pmm_free_locked("pmm_free_page", page, 1, PMM_OWNER_CALLER);
    pmm_unlock(f);
}

void pmm_free_pages(paddr_t base, uint32_t count)
{
    if (count == 1 && pmm_pcp_free(base, PMM_OWNER_CALLER))
        return;
    glue_irqflags_t f = pmm_lock();
    pmm_free_locked("pmm_free_pages", base, count, PMM_OWNER_CALLER);
    pmm_unlock(f);
}

void pmm_free_pages_owner(paddr_t base, uint32_t count, pmm_owner_t owner)
{
    if (count == 1 && owner != PMM_OWNER_NONE && owner < PMM_OWNER_COUNT &&
        pmm_pcp_free(base, owner))
        return;
    glue_irqflags_t f = pmm_lock();
    if (owner == PMM_OWNER_NONE || owner >= PMM_OWNER_COUNT)
        mm_report("pmm_free_pages_owner: 0x%08lx: %u is no owner: not freed", (unsigned long)base,
                  (unsigned)owner);
    else
        pmm_free_locked("pmm_free_pages_owner", base, count, owner);
    pmm_unlock(f);
}

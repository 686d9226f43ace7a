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
 * nodes: pmm_run_release cuts a run where the node changes, pmm_block_release
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
 * This file: the metadata's layout (pmm_priv.h), the buddy lists, taking a
 * block for an allocation, the checked free of a run, the owners, the pages
 * held for a TLB shootdown.  Above it, in one direction: pmm_pcp.c (the
 * per-CPU lists of single pages) and pmm_alloc.c (the public allocation and
 * free entries, the reclaim hooks), which call down into this file and never
 * the other way.  The memory map checked, the metadata placed and the stages
 * are pmm_init.c's; what the PMM reports of itself (stats, dump, check) is
 * pmm_stats.c's.  Calls log.c and lock.c only: the bottom of mm/ but for them.
 *
 * Per-CPU lists: single pages are handed out and taken back on the calling
 * CPU's own list of free pages, without the PMM's lock in the common case
 * (pmm_pcp.c says how, and how the checks stay).
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
void pmm_block_release(uint32_t pfn, unsigned order)
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
            pmm_block_release(pfn, order);
            pfn += 1u << order;
            piece -= 1u << order;
        }
    }
}

/* A free block of exactly `order` pages on `node`, split from a bigger one if need be. */
uint32_t pmm_block_take(unsigned node, unsigned order)
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

/* The node of CPU `cpu`: its registered one, else node 0. */
unsigned pmm_cpu_node_locked(int cpu)
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
        uint32_t pfn = pmm_block_take(n, order);
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
paddr_t pmm_take_locked(uint32_t count, unsigned order, unsigned owner, unsigned want, int strict)
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
    pmm_pressure_note();
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
int pmm_node_has_block(unsigned node, unsigned order)
{
    for (unsigned k = order; k <= PMM_MAX_ORDER; k++) {
        if (pmm_data.list[node][k] != PFN_NONE)
            return 1;
    }
    return 0;
}

/* The node an allocation asks for, under the PMM's lock: the caller's, or the CPU's. */
unsigned pmm_wanted_node(int node)
{
    if (node != PMM_NODE_ANY)
        return (unsigned)node & ~(unsigned)PMM_NODE_STRICT;
    return pmm_nodes.nodes > 1 ? pmm_cpu_node_locked(glue_cpu_id()) : 0;
}

int pmm_cpu_node(int cpu)
{
    glue_irqflags_t f = pmm_lock();
    unsigned n = pmm_cpu_node_locked(cpu == PMM_NODE_ANY ? glue_cpu_id() : cpu);
    pmm_unlock(f);
    return (int)n;
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

void pmm_free_locked(const char *fn, paddr_t base, uint32_t count, pmm_owner_t owner)
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
        pmm_free_locked("pmm_tlb_shootdown_free", addr_of(pfn), 1, (pmm_owner_t)p->owner);
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

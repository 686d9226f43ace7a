/*
 * pmm_stats.c - what the PMM says about itself: pmm_get_stats,
 * pmm_page_state, pmm_dump (its totals, the stages, free blocks by order and
 * every run of pages of one state and owner) and pmm_check (every invariant
 * of pmm.c's metadata walked: free lists, block heads, states, owners,
 * counters, the reachable limit, the added ranges).
 *
 * Reads pmm_data (pmm_priv.h), changes nothing.  Calls pmm.c
 * (pmm_owner_name), pmm_pcp.c (the CPUs' lists counted), lock.c, log.c,
 * string.c.  Each public function takes pmm_lock, with every CPU's list lock
 * before it where the lists are counted; pmm_check takes vmm_lock first (a
 * shootdown's held pages are its holder's).
 */
#include "pmm_priv.h"
#include "lock.h"
#include "log.h"

void pmm_get_stats(pmm_stats_t *s)
{
    if (!s) {
        mm_report("pmm_get_stats: NULL stats pointer");
        return;
    }
    memset(s, 0, sizeof(*s)); /* the padding too: callers compare whole structs */
    /*
     * No drain: every list's lock, then the PMM's, and the lists' own counts
     * (pmm_pcp_sum) added to pmm_data's as of their last fold: exact, and the
     * pages stay where they are (a list skipped because this CPU holds the
     * PMM's lock: its pages counted free, its unfolded counts not).
     */
    glue_irqflags_t outer = glue_irq_save();
    uint32_t held = pmm_pcp_lock_all();
    glue_irqflags_t f = pmm_lock();
    pmm_pcp_sum_t sum;
    pmm_pcp_sum(held, &sum);
    s->total_pages = pmm_data.total;
    s->free_pages = pmm_data.free + pmm_data.cached - (uint32_t)sum.used_all;
    s->used_pages = pmm_data.used + (uint32_t)sum.used_all;
    s->reserved_pages = pmm_data.reserved;
    s->highest_page = pmm_data.npages ? addr_of(pmm_data.npages - 1) : 0;
    for (unsigned k = 0; k <= PMM_MAX_ORDER; k++) {
        s->free_blocks[k] = 0;
        for (unsigned n = 0; n < PMM_MAX_NODES; n++)
            s->free_blocks[k] += pmm_data.nblocks[n][k];
    }
    s->free_blocks[0] += sum.listed_all; /* single free pages */
    s->cpu_cached_pages = sum.listed_all;
    s->metadata_bytes = pmm_data.meta_bytes;
    s->metadata_phys = pmm_data.meta_phys;
    for (unsigned o = 0; o < PMM_OWNER_COUNT; o++)
        s->owner_pages[o] = pmm_data.owned[o] + (uint32_t)sum.owned[o];
    s->reclaims = pmm_data.reclaims;
    s->reclaims_deferred = pmm_data.reclaims_deferred;
    s->refused_frees = pmm_data.refused;
    s->unreachable_pages = pmm_data.unreachable;
    s->reachable_limit = (uint64_t)(pmm_data.npages ? pmm_data.reach : PFN_4GB) * PAGE_SIZE;
    s->ram_end = (uint64_t)pmm_data.npages * PAGE_SIZE;
    s->ranges_added = pmm_data.nadded;
    pmm_unlock(f);
    pmm_pcp_unlock_all(held);
    glue_irq_restore(outer);
}

int pmm_page_state(paddr_t page)
{
    glue_irqflags_t f = pmm_lock();
    uint32_t pfn = pfn_of(page);
    unsigned st = pfn < pmm_data.npages ? pg_state(&pmm_data.pages[pfn]) : PG_HOLE;
    int s = st == PG_FREE || st == PG_CACHED ? 0 : st == PG_USED ? 1 : -1;
    pmm_unlock(f);
    return s;
}

void pmm_dump(void)
{
    static const char *names[PG_STATES] = {"hole        ", "reserved    ", "free        ",
                                           "used        ", "unreachable ", "map-reserved",
                                           "cpu-cached  "};
    char a[20], b[20];
    glue_irqflags_t outer = glue_irq_save();
    uint32_t held = pmm_pcp_lock_all(); /* the lists shown as they are, not drained */
    glue_irqflags_t f = pmm_lock();
    int32_t delta = 0;
    uint32_t cached = 0;
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        delta += (held >> c) & 1 ? pmm_pcp[c].used : 0;
        cached += (held >> c) & 1 ? pmm_pcp[c].n : 0;
    }
    mm_printf("pmm: %u pages (%u KB): %u free, %u used, %u reserved, %u unreachable; metadata %u "
              "KB at 0x%08lx\n",
              (unsigned)pmm_data.total, (unsigned)pmm_data.total * 4,
              (unsigned)(pmm_data.free + pmm_data.cached - (uint32_t)delta),
              (unsigned)(pmm_data.used + (uint32_t)delta), (unsigned)pmm_data.reserved,
              (unsigned)pmm_data.unreachable, (unsigned)pmm_data.meta_bytes / 1024,
              (unsigned long)pmm_data.meta_phys);
    if (cached) {
        mm_printf("  on the CPUs' lists of single pages: %u (counted free):", (unsigned)cached);
        for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
            const pmm_pcp_t *pc = &pmm_pcp[c];
            if ((held >> c) & 1 && (pc->n || pc->hits))
                mm_printf(" cpu %u: %u (node %u; %u allocs, %u frees, %u refills, %u given back)",
                          c, (unsigned)pc->n, (unsigned)pc->node, (unsigned)pc->hits,
                          (unsigned)pc->frees, (unsigned)pc->refills, (unsigned)pc->drains);
        }
        mm_printf("\n");
    }
    if (pmm_data.reach >= PFN_4GB)
        mm_printf("  stages: all reachable");
    else
        mm_printf("  stages: reachable below %s",
                  mm_hex64(a, sizeof(a), (uint64_t)pmm_data.reach * PAGE_SIZE));
    mm_printf("; descriptors up to %s; %u ranges added (pmm_add_range)\n",
              mm_hex64(b, sizeof(b), (uint64_t)pmm_data.npages * PAGE_SIZE),
              (unsigned)pmm_data.nadded);
    for (uint32_t i = 0; i < pmm_data.nadded && i < PMM_ADDED_RANGES; i++)
        mm_printf("  added: 0x%08lx-0x%08lx (%u pages)\n",
                  (unsigned long)addr_of(pmm_data.added[i].first),
                  (unsigned long)addr_of(pmm_data.added[i].last) - 1,
                  (unsigned)(pmm_data.added[i].last - pmm_data.added[i].first));
    mm_printf("  used pages by owner:");
    for (unsigned o = PMM_OWNER_NONE + 1; o < PMM_OWNER_COUNT; o++) {
        uint32_t n = pmm_data.owned[o];
        for (unsigned c = 0; c < PMM_PCP_CPUS; c++)
            n += (held >> c) & 1 ? (uint32_t)pmm_pcp[c].owned[o] : 0;
        mm_printf(" %s %u", pmm_owner_name(o), (unsigned)n);
    }
    mm_printf("; %u frees refused, reclaim ran %u times (%u under pressure)\n",
              (unsigned)pmm_data.refused, (unsigned)pmm_data.reclaims,
              (unsigned)pmm_data.reclaims_deferred);
    unsigned nodes = pmm_node_total();
    mm_printf("  free blocks by order (4 KB << order):");
    for (unsigned k = 0; k <= PMM_MAX_ORDER; k++) {
        uint32_t blocks = 0;
        for (unsigned n = 0; n < nodes; n++)
            blocks += pmm_data.nblocks[n][k];
        mm_printf(" %u", (unsigned)blocks);
    }
    mm_printf("\n");
    for (unsigned n = 0; n < nodes && nodes > 1; n++) {
        const pmm_node_count_t *c = &pmm_data.node[n];
        mm_printf("  node %u: %u pages: %u free, %u used, %u reserved, %u unreachable; "
                  "allocations %u local, %u fallback, %u foreign; blocks by order:",
                  n, (unsigned)c->total, (unsigned)c->free, (unsigned)c->used,
                  (unsigned)c->reserved, (unsigned)c->unreachable, (unsigned)c->local,
                  (unsigned)c->fallback, (unsigned)c->foreign);
        for (unsigned k = 0; k <= PMM_MAX_ORDER; k++)
            mm_printf(" %u", (unsigned)pmm_data.nblocks[n][k]);
        mm_printf("\n");
    }
    for (uint32_t pfn = 0; pfn < pmm_data.npages;) {
        const pmm_page_t *p = &pmm_data.pages[pfn];
        uint32_t end = pfn;
        while (end < pmm_data.npages && pmm_data.pages[end].state == p->state &&
               pmm_data.pages[end].owner == p->owner && pmm_data.pages[end].node == p->node)
            end++;
        mm_printf("  0x%08lx-0x%08lx  %s %u pages%s%s", (unsigned long)addr_of(pfn),
                  (unsigned long)addr_of(end) - 1, p->state < PG_STATES ? names[p->state] : "?",
                  (unsigned)(end - pfn), p->state == PG_USED ? ", owner " : "",
                  p->state == PG_USED ? pmm_owner_name((pmm_owner_t)p->owner) : "");
        if (nodes > 1)
            mm_printf(", node %u", (unsigned)p->node);
        mm_printf("\n");
        pfn = end;
    }
    pmm_unlock(f);
    pmm_pcp_unlock_all(held);
    glue_irq_restore(outer);
}

#define check_failed(pfn, what) mm_check_failed_at("pmm_check", addr_of(pfn), what)

int pmm_check(void)
{
    /*
     * vmm_lock first: a CPU between pmm_free_held and pmm_tlb_shootdown_free
     * (the VMM, kmap, zswap's vfree) holds it, and its held pages are not yet
     * "a shootdown that never came"
     */
    glue_irqflags_t outer = vmm_lock();
    uint32_t held = pmm_pcp_lock_all(); /* every CPU's list, in CPU order: none changes now */
    glue_irqflags_t f = pmm_lock();
    int errors = 0;
    uint32_t free_in_blocks = 0;
    unsigned nodes = pmm_node_total();
    uint32_t node_free[PMM_MAX_NODES] = {0};
    for (unsigned node = 0; node < PMM_MAX_NODES; node++) {
        for (unsigned k = 0; k <= PMM_MAX_ORDER; k++) {
            uint32_t n = 0, prev = PFN_NONE;
            if (node >= nodes && pmm_data.list[node][k] != PFN_NONE)
                errors +=
                    check_failed(pmm_data.list[node][k], "free list of a node that does not exist");
            for (uint32_t pfn = pmm_data.list[node][k]; pfn != PFN_NONE;
                 prev = pfn, pfn = pmm_data.pages[pfn].next) {
                if (pfn >= pmm_data.npages || ++n > pmm_data.npages) {
                    errors += check_failed(pfn, "free list runs off the page array or loops");
                    break;
                }
                pmm_page_t *p = &pmm_data.pages[pfn];
                if (!p->head || p->order != k)
                    errors += check_failed(pfn, "listed block is not a head of this order");
                if (p->prev != prev)
                    errors += check_failed(pfn, "free list back link is wrong");
                if (pfn & ((1u << k) - 1) || pfn + (1u << k) > pmm_data.npages)
                    errors += check_failed(pfn, "block misaligned or past the end");
                else
                    for (uint32_t i = 0; i < (1u << k); i++) {
                        if (pmm_data.pages[pfn + i].state != PG_FREE) {
                            errors += check_failed(pfn + i, "page of a free block is not free");
                            break;
                        }
                        if (pmm_data.pages[pfn + i].node != node) {
                            errors += check_failed(pfn + i, "free page on another node's list");
                            break;
                        }
                    }
                uint32_t buddy = pfn ^ (1u << k);
                if (k < PMM_MAX_ORDER && buddy < pmm_data.npages && pmm_data.pages[buddy].head &&
                    pmm_data.pages[buddy].order == k && pmm_data.pages[buddy].node == node)
                    errors += check_failed(pfn, "free buddies not merged");
                free_in_blocks += 1u << k;
                node_free[node] += 1u << k;
            }
            if (n != pmm_data.nblocks[node][k])
                errors +=
                    check_failed(pmm_data.list[node][k], "free list length differs from its count");
        }
    }
    /*
     * The CPUs' lists: each page PG_CACHED, on the list's node, its prev the
     * CPU (so on one list only), as many as the list says; and the counts the
     * fast path keeps, added to pmm_data's, must match the page array below.
     */
    int32_t delta_used = 0, delta_owned[PMM_OWNER_COUNT] = {0}, delta_node[PMM_MAX_NODES] = {0};
    uint32_t listed = 0;
    for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
        const pmm_pcp_t *pc = &pmm_pcp[c];
        if (!((held >> c) & 1))
            continue; /* (only tried: this CPU holds the PMM's lock) */
        if (pc->node >= nodes ||
            pc->node != (pmm_nodes.nodes > 1 && c < pmm_nodes.ncpus ? pmm_nodes.cpu_node[c] : 0u)) {
            errors += check_failed(pc->head, "a CPU's list of pages is not on the CPU's node");
            continue;
        }
        uint32_t n = 0;
        for (uint32_t pfn = pc->head; n < pc->n; pfn = pmm_data.pages[pfn].next, n++) {
            if (pfn >= pmm_data.npages) {
                errors += check_failed(pfn, "a CPU's list of pages runs off the page array");
                break;
            }
            const pmm_page_t *p = &pmm_data.pages[pfn];
            if (p->state != PG_CACHED || p->owner != PG_CLAIM || p->head)
                errors += check_failed(pfn, "page on a CPU's list is not cpu-cached");
            else if (p->prev != c)
                errors += check_failed(pfn, "page on a CPU's list says another CPU's (or two)");
            else if (p->node != pc->node)
                errors += check_failed(pfn, "page on a CPU's list is of another node");
        }
        listed += pc->n;
        delta_used += pc->used;
        delta_node[pc->node] += pc->used;
        for (unsigned o = 0; o < PMM_OWNER_COUNT; o++)
            delta_owned[o] += pc->owned[o];
        if (pc->n > PMM_PCP_HIGH)
            errors += check_failed(pc->head, "a CPU's list holds more pages than it may");
    }
    uint32_t count[PG_STATES] = {0};
    uint32_t owned[PMM_OWNER_COUNT] = {0};
    pmm_node_count_t node_count[PMM_MAX_NODES];
    memset(node_count, 0, sizeof(node_count));
    for (uint32_t pfn = 0; pfn < pmm_data.npages; pfn++) {
        pmm_page_t *p = &pmm_data.pages[pfn];
        if (p->state >= PG_STATES) {
            errors += check_failed(pfn, "bad state byte");
            continue;
        }
        count[p->state]++;
        /* every page on its own node: the byte the buddy code reads, from the spans */
        if (p->node >= nodes || p->node != pmm_span_node(pfn)) {
            errors += check_failed(pfn, "page's node byte differs from the node ranges");
        } else {
            pmm_node_count_t *c = &node_count[p->node];
            c->total += p->state != PG_HOLE && p->state != PG_MAP_RESERVED;
            c->used += p->state == PG_USED;
            c->reserved += p->state == PG_RESERVED;
            c->unreachable += p->state == PG_UNREACHABLE;
            c->free += p->state == PG_FREE;
            c->cached += p->state == PG_CACHED;
        }
        /* who may free a page is only meaningful while it is handed out */
        if (p->state == PG_USED && (p->owner == PMM_OWNER_NONE || p->owner >= PMM_OWNER_COUNT))
            errors += check_failed(pfn, "used page without a valid owner");
        else if (p->state == PG_CACHED) {
            if (p->owner != PG_CLAIM || p->prev >= PMM_PCP_CPUS || !((held >> p->prev) & 1))
                errors += check_failed(pfn, "cpu-cached page on no CPU's list");
        } else if (p->state != PG_USED && p->owner != PMM_OWNER_NONE)
            errors += check_failed(pfn, "page that is not in use has an owner");
        else
            owned[p->owner] += p->state == PG_USED;
        if (p->state == PG_USED && p->prev == PFN_HELD)
            errors += check_failed(pfn, "page held for a TLB shootdown that never came");
        if (p->head && p->state != PG_FREE)
            errors += check_failed(pfn, "block head on a page that is not free");
        /* the stages: nothing at or above the limit is handed out or free, nothing below waits */
        if ((p->state == PG_FREE || p->state == PG_USED || p->state == PG_CACHED) &&
            pfn >= pmm_data.reach)
            errors += check_failed(pfn, "free or used page above the reachable limit");
        if (p->state == PG_UNREACHABLE && pfn < pmm_data.reach)
            errors += check_failed(pfn, "unreachable page below the reachable limit");
        if (p->state != PG_FREE)
            continue;
        /* exactly one free block covers every free page */
        int covers = 0;
        for (unsigned k = 0; k <= PMM_MAX_ORDER; k++) {
            uint32_t h = pfn & ~((1u << k) - 1);
            covers += pmm_data.pages[h].head && pmm_data.pages[h].order == k;
        }
        if (covers != 1)
            errors +=
                check_failed(pfn, covers ? "free page in two blocks" : "free page in no block");
    }
    if (count[PG_FREE] != pmm_data.free || free_in_blocks != pmm_data.free ||
        count[PG_USED] != pmm_data.used + (uint32_t)delta_used ||
        count[PG_CACHED] != pmm_data.cached - (uint32_t)delta_used ||
        (held == (1u << PMM_PCP_CPUS) - 1 && count[PG_CACHED] != listed) ||
        count[PG_RESERVED] != pmm_data.reserved || count[PG_UNREACHABLE] != pmm_data.unreachable ||
        pmm_data.total != pmm_data.free + pmm_data.used + pmm_data.reserved + pmm_data.unreachable +
                              pmm_data.cached)
        errors += check_failed(0, "page counters differ from the page array");
    for (unsigned o = 0; o < PMM_OWNER_COUNT; o++) {
        if (owned[o] != pmm_data.owned[o] + (uint32_t)delta_owned[o])
            errors += check_failed(0, "pages of an owner differ from its count");
    }
    for (unsigned n = 0; n < PMM_MAX_NODES; n++) {
        const pmm_node_count_t *c = &pmm_data.node[n], *seen = &node_count[n];
        if (c->total != seen->total || c->free != seen->free || c->free != node_free[n] ||
            c->used + (uint32_t)delta_node[n] != seen->used ||
            c->cached - (uint32_t)delta_node[n] != seen->cached || c->reserved != seen->reserved ||
            c->unreachable != seen->unreachable ||
            c->total != c->free + c->used + c->reserved + c->unreachable + c->cached)
            errors += check_failed(0, "a node's page counters differ from the page array");
    }
    for (uint32_t p = pfn_of(pmm_data.meta_phys);
         pmm_data.npages &&
         p < pfn_of(pmm_data.meta_phys) + (pmm_data.meta_bytes + PAGE_SIZE - 1) / PAGE_SIZE;
         p++) {
        if (pmm_data.pages[p].state != PG_RESERVED) {
            errors += check_failed(p, "metadata page is not reserved");
            break;
        }
        if (p >= pmm_data.reach) {
            errors += check_failed(p, "metadata page above the reachable limit");
            break;
        }
    }
    if (pmm_data.nadded > PMM_ADDED_RANGES)
        errors += check_failed(0, "more added ranges than the table holds");
    for (uint32_t i = 0; i < pmm_data.nadded && i < PMM_ADDED_RANGES; i++) {
        uint32_t first = pmm_data.added[i].first, last = pmm_data.added[i].last;
        if (first >= last || last > pmm_data.npages) {
            errors += check_failed(first, "added range empty or beyond the descriptors");
            continue;
        }
        for (uint32_t p = first; p < last; p++) {
            if (pmm_data.pages[p].state == PG_HOLE || pmm_data.pages[p].state == PG_MAP_RESERVED) {
                errors += check_failed(p, "page of an added range is not RAM");
                break;
            }
        }
    }
    pmm_unlock(f);
    pmm_pcp_unlock_all(held);
    vmm_unlock(outer);
    return errors;
}

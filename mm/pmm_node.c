/*
 * pmm_node.c - the PMM's NUMA nodes (issue 13, item 2): which page and which
 * CPU is on which node, how far the nodes are from each other, and what
 * each node holds.
 *
 * Theory of operation
 * -------------------
 * The kernel learns the topology from ACPI (arch/x86/numa.c) and hands it
 * over with pmm_set_nodes; mm/ never reads firmware tables.  What is kept
 * (pmm_nodes, pmm_priv.h):
 *
 *   spans     the ranges sorted and cut into pieces of one node each: a page
 *             belongs to the last span starting at or below it (the first
 *             span's node below the first span), so every pfn of [0, 4 GB)
 *             has exactly one node, holes and pages pmm_add_range adds
 *             later included.  Neighbouring spans of one node are merged:
 *             a node's edge is where the node changes.
 *   node byte each page descriptor carries its node (pmm_page_t.node), set
 *             from the spans for every pfn at init and at each
 *             registration, so that the buddy code asks "same node?" in
 *             O(1): block_release never merges a block with a buddy of
 *             another node, and pmm_run_release cuts a run at every edge
 *             before tiling it, so no block holds pages of two nodes even
 *             where an edge is not aligned to any block size.
 *   lists     pmm_data.list[node][order]: each node its own buddy lists; a
 *             page is only ever on its own node's (pmm_check walks them).
 *   fallback  for each node, every node ordered nearest first (the node
 *             itself first, then by distance, ties by number): where an
 *             allocation wanting that node looks, in order.
 *
 * Counts per node (pmm_data.node[]): free pages move with block_push and
 * block_unlink (pmm.c), used pages with alloc and free, total, reserved and
 * unreachable ones with init, pmm_add_range and pmm_set_reachable; this file
 * counts them all again from the page array at every registration.  Each
 * allocation is counted on the node it wanted: local when served there,
 * fallback when another node served it (that one counts it foreign).
 *
 * No registration: nodes is 0, every byte node 0, one set of lists, the PMM
 * as it was before nodes.
 *
 * Calls pmm.c (pmm_run_release, the lists), pmm_pcp.c (the CPUs' lists
 * drained and counted), lock.c, log.c, string.c.  Each public function takes
 * pmm_lock once; a registration takes every CPU's list lock before it.
 */
#include "lock.h"
#include "log.h"
#include "pmm_priv.h"

/* ------------------------------------------------------- registration ---- */

/* Why this topology cannot be taken, or NULL; `out` holds it, sorted. */
static const char *nodes_problem(pmm_nodes_t *out, unsigned nodes, const pmm_node_range_t *ranges,
                                 unsigned nranges, const uint8_t *cpu_node, unsigned ncpus,
                                 const uint8_t *distance, char *why, size_t size)
{
    char a[20], b[20];
    pmm_node_range_t r[PMM_MAX_NODE_RANGES];
    memset(out, 0, sizeof(*out));
    if (nodes == 0 || nodes > PMM_MAX_NODES) {
        mm_snprintf(why, size, "%u nodes: 1 to %u only", nodes, (unsigned)PMM_MAX_NODES);
        return why;
    }
    if (nranges > PMM_MAX_NODE_RANGES) {
        mm_snprintf(why, size, "%u ranges: at most %u", nranges, (unsigned)PMM_MAX_NODE_RANGES);
        return why;
    }
    if (ncpus > PMM_MAX_CPUS) {
        mm_snprintf(why, size, "%u CPUs: at most %u", ncpus, (unsigned)PMM_MAX_CPUS);
        return why;
    }
    if ((nranges && !ranges) || (ncpus && !cpu_node))
        return nranges && !ranges ? "NULL ranges" : "NULL cpu_node table";
    for (unsigned i = 0; i < nranges; i++) {
        const char *bad = ranges[i].base >= ranges[i].end ? "empty"
                          : ranges[i].end > FOUR_GB       ? "ends above 4 GB"
                          : ranges[i].node >= nodes       ? "node out of range"
                                                          : NULL;
        if (bad) {
            mm_snprintf(why, size, "range %s-%s of node %u: %s",
                        mm_hex64(a, sizeof(a), ranges[i].base),
                        mm_hex64(b, sizeof(b), ranges[i].end), (unsigned)ranges[i].node, bad);
            return why;
        }
        /* insertion sort by base: at most PMM_MAX_NODE_RANGES */
        unsigned j = i;
        while (j > 0 && r[j - 1].base > ranges[i].base) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = ranges[i];
    }
    for (unsigned i = 1; i < nranges; i++) {
        if (r[i].base < r[i - 1].end) {
            mm_snprintf(why, size, "range %s-%s of node %u overlaps one of node %u",
                        mm_hex64(a, sizeof(a), r[i].base), mm_hex64(b, sizeof(b), r[i].end),
                        (unsigned)r[i].node, (unsigned)r[i - 1].node);
            return why;
        }
    }
    for (unsigned c = 0; c < ncpus; c++) {
        if (cpu_node[c] >= nodes) {
            mm_snprintf(why, size, "CPU %u on node %u of %u", c, (unsigned)cpu_node[c], nodes);
            return why;
        }
        out->cpu_node[c] = cpu_node[c];
    }
    for (unsigned i = 0; i < nodes; i++) {
        for (unsigned j = 0; j < nodes; j++) {
            unsigned d = distance ? distance[i * nodes + j] : i == j ? PMM_DISTANCE_LOCAL : 20;
            if (i == j ? d != PMM_DISTANCE_LOCAL : d < PMM_DISTANCE_LOCAL) {
                mm_snprintf(why, size, "distance %u -> %u is %u (%s)", i, j, d,
                            i == j ? "must be 10" : "below 10");
                return why;
            }
            out->distance[i][j] = (uint8_t)d;
        }
    }
    /* the spans: each range's first page starts its node's piece, one node's neighbours merged */
    for (unsigned i = 0; i < nranges; i++) {
        uint32_t first = (uint32_t)(r[i].base / PAGE_SIZE);
        if (out->nspans && out->span[out->nspans - 1].first == first)
            out->nspans--; /* two ranges share the page: the later one has it */
        if (out->nspans && out->span[out->nspans - 1].node == r[i].node)
            continue;
        out->span[out->nspans].first = first;
        out->span[out->nspans].node = (uint8_t)r[i].node;
        out->nspans++;
    }
    /* each node's fallback order: itself, then nearest first (ties: lower node) */
    for (unsigned from = 0; from < nodes; from++) {
        uint8_t *f = out->fallback[from];
        unsigned n = 0;
        f[n++] = (uint8_t)from;
        for (unsigned to = 0; to < nodes; to++) {
            if (to == from)
                continue;
            unsigned j = n++;
            while (j > 1 && out->distance[from][f[j - 1]] > out->distance[from][to]) {
                f[j] = f[j - 1];
                j--;
            }
            f[j] = (uint8_t)to;
        }
    }
    out->nodes = nodes;
    out->ncpus = ncpus;
    return NULL;
}

void pmm_nodes_apply(void)
{
    for (unsigned n = 0; n < PMM_MAX_NODES; n++) {
        pmm_node_count_t *c = &pmm_data.node[n];
        c->total = c->used = c->reserved = c->unreachable = 0;
    }
    unsigned s = 0, node = pmm_nodes.nspans ? pmm_nodes.span[0].node : 0;
    for (uint32_t pfn = 0; pfn < pmm_data.npages; pfn++) {
        while (s + 1 < pmm_nodes.nspans && pmm_nodes.span[s + 1].first <= pfn)
            node = pmm_nodes.span[++s].node;
        pmm_page_t *p = &pmm_data.pages[pfn];
        pmm_node_count_t *c = &pmm_data.node[node];
        p->node = (uint8_t)node;
        c->total += p->state != PG_HOLE && p->state != PG_MAP_RESERVED && p->state < PG_STATES;
        c->used += p->state == PG_USED;
        c->reserved += p->state == PG_RESERVED;
        c->unreachable += p->state == PG_UNREACHABLE;
    }
}

/* Every free page onto its (new) node's lists: the lists emptied, the runs released again. */
static void rebuild_locked(void)
{
    for (unsigned n = 0; n < PMM_MAX_NODES; n++) {
        for (unsigned k = 0; k <= PMM_MAX_ORDER; k++) {
            pmm_data.list[n][k] = PFN_NONE;
            pmm_data.nblocks[n][k] = 0;
        }
        pmm_data.node[n].free = 0;
    }
    for (uint32_t pfn = 0; pfn < pmm_data.npages; pfn++)
        pmm_data.pages[pfn].head = 0;
    pmm_nodes_apply();
    for (uint32_t pfn = 0; pfn < pmm_data.npages;) {
        uint32_t end = pfn;
        while (end < pmm_data.npages && pmm_data.pages[end].state == PG_FREE)
            end++;
        if (end > pfn)
            pmm_run_release(pfn, end - pfn);
        pfn = end + 1;
    }
}

/* Registrations taken so far (pmm_nodes_generation). */
static uint32_t generation;

uint32_t pmm_nodes_generation(void)
{
    return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

int pmm_set_nodes(unsigned nodes, const pmm_node_range_t *ranges, unsigned nranges,
                  const uint8_t *cpu_node, unsigned ncpus, const uint8_t *distance)
{
    static pmm_nodes_t next; /* 300 bytes: not on a kernel stack (under the lock, one at a time) */
    char why[128];
    glue_irqflags_t outer = glue_irq_save();
    uint32_t held = pmm_pcp_lock_all(); /* the CPUs' lists: their pages back, their nodes anew */
    glue_irqflags_t f = pmm_lock();
    const char *bad =
        nodes_problem(&next, nodes, ranges, nranges, cpu_node, ncpus, distance, why, sizeof(why));
    if (!bad) {
        pmm_pcp_drain_locked(held);
        pmm_nodes = next;
        if (pmm_data.npages)
            rebuild_locked();
        for (unsigned c = 0; c < PMM_PCP_CPUS; c++) {
            if ((held >> c) & 1)
                pmm_pcp[c].node = nodes > 1 && c < ncpus ? cpu_node[c] : 0;
        }
        __atomic_store_n(&generation, generation + 1, __ATOMIC_RELEASE);
    }
    pmm_unlock(f);
    pmm_pcp_unlock_all(held);
    glue_irq_restore(outer);
    if (bad) {
        mm_report("pmm_set_nodes: %s: refused, the nodes stay as they were", bad);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- questions ---- */

int pmm_node_count(void)
{
    glue_irqflags_t f = pmm_lock();
    int n = (int)pmm_node_total();
    pmm_unlock(f);
    return n;
}

int pmm_page_node(paddr_t phys)
{
    glue_irqflags_t f = pmm_lock();
    uint32_t pfn = pfn_of(phys);
    int n = -1;
    if (pfn < pmm_data.npages && pg_state(&pmm_data.pages[pfn]) != PG_HOLE &&
        pg_state(&pmm_data.pages[pfn]) != PG_MAP_RESERVED)
        n = __atomic_load_n(&pmm_data.pages[pfn].claim, __ATOMIC_RELAXED) & 0xFFu;
    pmm_unlock(f);
    return n;
}

int pmm_get_node_stats(int node, pmm_node_stats_t *out)
{
    /* no drain: as pmm_get_stats (pmm_pcp_sum) */
    glue_irqflags_t outer = glue_irq_save();
    uint32_t held = pmm_pcp_lock_all();
    glue_irqflags_t f = pmm_lock();
    unsigned nodes = pmm_node_total();
    int ok = out && node >= 0 && (unsigned)node < nodes;
    if (ok) {
        const pmm_node_count_t *c = &pmm_data.node[node];
        pmm_pcp_sum_t sum;
        pmm_pcp_sum(held, &sum);
        memset(out, 0, sizeof(*out));
        out->cpu_cached_pages = sum.listed[node];
        out->total_pages = c->total;
        out->free_pages = c->free + c->cached - (uint32_t)sum.used[node];
        out->used_pages = c->used + (uint32_t)sum.used[node];
        out->reserved_pages = c->reserved;
        out->unreachable_pages = c->unreachable;
        for (unsigned k = 0; k <= PMM_MAX_ORDER; k++)
            out->free_blocks[k] = pmm_data.nblocks[node][k];
        out->free_blocks[0] += sum.listed[node]; /* single free pages */
        out->local_allocs = c->local + sum.local[node];
        out->fallback_allocs = c->fallback;
        out->foreign_allocs = c->foreign;
        for (unsigned cpu = 0; cpu < pmm_nodes.ncpus; cpu++)
            out->cpus += pmm_nodes.cpu_node[cpu] == (unsigned)node;
        for (unsigned to = 0; to < nodes; to++)
            out->distance[to] = pmm_nodes.nodes ? pmm_nodes.distance[node][to] : PMM_DISTANCE_LOCAL;
    }
    pmm_unlock(f);
    pmm_pcp_unlock_all(held);
    glue_irq_restore(outer);
    if (!ok)
        mm_report("pmm_get_node_stats: node %d: %s", node,
                  out ? "no such node" : "NULL stats pointer");
    return ok ? 0 : -1;
}

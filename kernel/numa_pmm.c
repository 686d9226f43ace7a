/*
 * numa_pmm.c - the NUMA topology (arch/x86/numa.c, found before paging) told
 * to the PMM (mm/pmm_node.c), and the boot check that each CPU's pages come
 * from its own node.  mm/ reads no firmware table: it learns the nodes here,
 * through pmm_set_nodes.
 */
#include "numa_pmm.h"

#include "console.h"
#include "memory.h"
#include "cpus.h"
#include "numa.h"
#include "pmm.h"
#include "slab.h"
#include "smp.h"
#include "vmalloc.h"
#include "vmm.h"

static pmm_node_range_t ranges[NUMA_MAX_RANGES];
static uint8_t distance[NUMA_MAX_NODES * NUMA_MAX_NODES];
static uint8_t cpu_node[KERNEL_MAX_CPUS];

_Static_assert(NUMA_MAX_NODES <= PMM_MAX_NODES, "the PMM holds every node numa.c finds");
_Static_assert(KERNEL_MAX_CPUS <= PMM_MAX_CPUS, "the PMM holds every CPU's node");

/* Register the topology with CPU c's node in cpu_node[c]. */
static void register_nodes(const numa_topology_t *t, unsigned ncpus)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->ranges && n < NUMA_MAX_RANGES; i++) {
        /* hot-pluggable ranges too: RAM added there later is that node's */
        ranges[n].base = t->range[i].base;
        ranges[n].end = t->range[i].end;
        ranges[n].node = t->range[i].node;
        n++;
    }
    for (unsigned i = 0; i < t->nodes; i++)
        for (unsigned j = 0; j < t->nodes; j++)
            distance[i * t->nodes + j] = t->distance[i][j];
    if (pmm_set_nodes(t->nodes, ranges, n, cpu_node, ncpus, distance) != 0)
        kprintf("numa: pmm: the PMM refused the nodes (above): FAILED, one node\n");
}

void numa_pmm_register(void)
{
    const numa_topology_t *t = numa_topology();
    if (!t || t->nodes <= 1)
        return;
    for (unsigned c = 0; c < t->cpus && c < KERNEL_MAX_CPUS; c++)
        cpu_node[c] = t->cpu_node[c];
    register_nodes(t, t->cpus < KERNEL_MAX_CPUS ? t->cpus : KERNEL_MAX_CPUS);
}

void numa_pmm_cpus(void)
{
    const numa_topology_t *t = numa_topology();
    const cpu_topology_t *cpus = cpu_topology();
    if (!t || t->nodes <= 1 || !cpus)
        return;
    unsigned online = smp_cpu_count(), changed = 0;
    for (unsigned c = 0; c < online && c < KERNEL_MAX_CPUS; c++) {
        uint8_t node = 0; /* an online CPU cpu_topology() does not list (none should): node 0 */
        for (unsigned i = 0; i < cpus->count && i < t->cpus; i++) {
            if (cpus->cpu[i].apic_id == smp_cpus[c].apic_id)
                node = t->cpu_node[i];
        }
        changed |= node != cpu_node[c];
        cpu_node[c] = node;
    }
    if (changed || online != t->cpus)
        register_nodes(t, online < KERNEL_MAX_CPUS ? online : KERNEL_MAX_CPUS);
}

/* ---------------------------------------------------------------- check ---- */

static int got_node[KERNEL_MAX_CPUS];

/* On one CPU: a page from pmm_alloc_page, its node, the page given back. */
static void alloc_here(void *arg)
{
    unsigned c = (unsigned)(uintptr_t)arg;
    paddr_t p = pmm_alloc_page();
    got_node[c] = p ? pmm_page_node(p) : -1;
    if (p)
        pmm_free_page(p);
}

/* The node a page for `want` must come from: itself if it has free pages, else the nearest. */
static int expected_node(int want)
{
    pmm_node_stats_t w, s;
    int best = -1, nodes = pmm_node_count();
    if (pmm_get_node_stats(want, &w) != 0)
        return -1;
    if (w.free_pages)
        return want;
    for (int n = 0; n < nodes; n++) {
        if (n != want && pmm_get_node_stats(n, &s) == 0 && s.free_pages &&
            (best < 0 || w.distance[n] < w.distance[best]))
            best = n;
    }
    return best;
}

/* Strict runs taken from a node to empty it: few, as they go largest first. */
#define TAKEN_MAX 2048
static struct {
    paddr_t base;
    uint32_t pages;
} taken[TAKEN_MAX];

/*
 * Empty `node` with strict allocations (largest blocks first), then ask for
 * one more page for it, not strict: it must come from `next`, the nearest
 * node with free pages.  Everything is given back.  Returns 1 when it did.
 */
static int exhaust(int node, int next, uint32_t *pages_taken, int *fell_to)
{
    unsigned n = 0;
    uint32_t pages = 0;
    for (int k = PMM_MAX_ORDER; k >= 0; k--) {
        paddr_t a;
        while (n < TAKEN_MAX &&
               (a = pmm_alloc_pages_node(node | PMM_NODE_STRICT, 1u << k, 0)) != 0) {
            taken[n].base = a;
            taken[n].pages = 1u << k;
            pages += 1u << k;
            n++;
        }
    }
    pmm_node_stats_t s;
    pmm_get_node_stats(node, &s);
    paddr_t extra = s.free_pages == 0 ? pmm_alloc_page_node(node) : 0;
    *fell_to = extra ? pmm_page_node(extra) : -1;
    *pages_taken = pages;
    if (extra)
        pmm_free_page(extra);
    for (unsigned i = 0; i < n; i++)
        pmm_free_pages(taken[i].base, taken[i].pages);
    return s.free_pages == 0 && *fell_to == next;
}

/*
 * vmalloc_node on each node, then VMALLOC_INTERLEAVE: every page where it
 * should be (the node asked for, or the nearest with memory).  One line.
 */
#define VPAGES 16
static void vmalloc_node_check(int nodes)
{
    int ok = 1;
    kprintf("numa: pmm vmalloc_node:");
    for (int n = 0; n <= nodes; n++) {
        int node = n < nodes ? n : VMALLOC_INTERLEAVE, bad = 0, where = -1;
        int expect[VPAGES];
        for (int i = 0; i < VPAGES; i++)
            expect[i] = expected_node(n < nodes ? n : i % nodes);
        char *p = vmalloc_node(VPAGES * PAGE_SIZE, node);
        for (int i = 0; p && i < VPAGES; i++) {
            p[i * PAGE_SIZE] = (char)i; /* mapped */
            where = pmm_page_node(vmm_get_physical((uint32_t)(p + i * PAGE_SIZE)));
            bad += where != expect[i];
        }
        if (!p || bad)
            ok = 0;
        if (n < nodes)
            kprintf("%s node %d -> node %d", n ? "," : "", n, p ? where : -1);
        else
            kprintf("; interleaved over %d nodes", nodes);
        if (!p || bad)
            kprintf(" (FAILED: %s)", p ? "pages on other nodes" : "NULL");
        vfree(p);
    }
    kprintf(": %s\n", ok ? "ok" : "FAILED");
}

/* The node of the frame behind byte p of the kernel's address space (-1: not mapped). */
static int node_of(const void *p)
{
    uint32_t phys = vmm_get_physical((uint32_t)(uintptr_t)p);
    return phys ? pmm_page_node(phys) : -1;
}

/* Every page of [p, p + size) on node n? */
static int all_on(const void *p, size_t size, int n)
{
    for (size_t off = 0; off < size; off += PAGE_SIZE) {
        if (node_of((const char *)p + off) != n)
            return 0;
    }
    return node_of((const char *)p + size - 1) == n;
}

static int kmalloc_node_got[KERNEL_MAX_CPUS];

/* On one CPU: kmalloc(64) (its per-CPU cache of its size class), its node, the object freed. */
static void kmalloc_here(void *arg)
{
    unsigned c = (unsigned)(uintptr_t)arg;
    void *p = kmalloc(64);
    kmalloc_node_got[c] = p ? node_of(p) : -1;
    kfree(p);
}

/*
 * kmalloc_node (a size-class object and a 3-page block) and
 * kmem_cache_alloc_node (strict, when the node has memory) on each node: on
 * it, or on the nearest with memory; then kmalloc on each CPU: from its own
 * node's slabs (or the nearest's); the slabs' and heap's checkers after.
 * One line.
 */
#define BIG (3 * PAGE_SIZE + 100)
static void kmalloc_node_check(int nodes)
{
    int ok = 1;
    kmem_cache_t *c = kmem_cache_create("numa-check", 200, 0, NULL);
    kprintf("numa: pmm kmalloc_node:");
    for (int n = 0; n < nodes; n++) {
        int expect = expected_node(n);
        void *small = kmalloc_node(64, n), *big = kmalloc_node(BIG, n);
        void *obj = c ? kmem_cache_alloc_node(c, expect == n ? n | PMM_NODE_STRICT : n) : NULL;
        int where = small ? node_of(small) : -1;
        int good = small && big && obj && where == expect && all_on(big, BIG, expect) &&
                   all_on(obj, 200, expect);
        kprintf("%s node %d -> node %d", n ? "," : "", n, where);
        if (!good) {
            kprintf(" (FAILED: block on %d, object on %d)", big ? node_of(big) : -1,
                    obj ? node_of(obj) : -1);
            ok = 0;
        }
        kfree(small);
        kfree(big);
        if (obj)
            kmem_cache_free(c, obj);
    }
    if (c && kmem_cache_destroy(c) != 0)
        ok = 0;
    unsigned online = smp_cpu_count(), bad = 0;
    for (unsigned cpu = 0; cpu < online && cpu < KERNEL_MAX_CPUS; cpu++) {
        int expect = expected_node(pmm_cpu_node((int)cpu));
        kmalloc_node_got[cpu] = -2;
        if (cpu == 0) {
            kmalloc_here((void *)0);
        } else if (smp_run(cpu, kmalloc_here, (void *)(uintptr_t)cpu) == 0) {
            smp_wait(cpu);
        }
        if (kmalloc_node_got[cpu] != expect) {
            kprintf("%s cpu %u on node %d (FAILED: wanted %d)", bad ? "," : ";", cpu,
                    kmalloc_node_got[cpu], expect);
            bad++;
        }
    }
    int broken = kmem_cache_check() + heap_check();
    /* what the heap grew for these goes back now, not in the PMM's reclaim of the next check */
    kmem_cache_reap();
    ok = ok && !bad && !broken;
    kprintf("; kmalloc by CPU: %s; checkers %d: %s\n",
            bad ? "FAILED" : "each from its own node or the nearest", broken, ok ? "ok" : "FAILED");
}

void numa_pmm_check(void)
{
    int nodes = pmm_node_count(), ok = 1;
    if (nodes <= 1)
        return;
    pmm_node_stats_t s;
    kprintf("numa: pmm");
    for (int n = 0; n < nodes; n++) {
        pmm_get_node_stats(n, &s);
        kprintf("%s node %d %u pages", n ? "," : "", n, s.total_pages);
    }
    kprintf("\n");

    kprintf("numa: pmm pages by CPU:");
    unsigned online = smp_cpu_count();
    for (unsigned c = 0; c < online && c < KERNEL_MAX_CPUS; c++) {
        int want = pmm_cpu_node((int)c), expect = expected_node(want);
        got_node[c] = -2;
        if (c == 0) {
            alloc_here((void *)0);
        } else if (smp_run(c, alloc_here, (void *)(uintptr_t)c) == 0) {
            smp_wait(c);
        }
        kprintf("%s cpu %u node %d", c ? "," : "", c, got_node[c]);
        if (want != expect)
            kprintf(" (node %d has no free memory)", want);
        if (got_node[c] != expect) {
            kprintf(" (FAILED: wanted node %d)", expect);
            ok = 0;
        }
    }
    kprintf(": %s\n", ok ? "each from its own node or the nearest" : "FAILED");

    vmalloc_node_check(nodes);
    kmalloc_node_check(nodes);

    /* the last node with memory emptied: its next page from the nearest other node */
    int last = -1;
    for (int n = 0; n < nodes; n++) {
        if (pmm_get_node_stats(n, &s) == 0 && s.free_pages)
            last = n;
    }
    pmm_stats_t before;
    pmm_get_stats(&before);
    uint32_t pages = 0;
    int fell = -1, next = -1;
    if (last >= 0) {
        pmm_node_stats_t l;
        pmm_get_node_stats(last, &l);
        for (int n = 0; n < nodes; n++) {
            if (n != last && pmm_get_node_stats(n, &s) == 0 && s.free_pages &&
                (next < 0 || l.distance[n] < l.distance[next]))
                next = n;
        }
    }
    if (last < 0 || next < 0) {
        kprintf("numa: pmm fallback: fewer than two nodes with free memory: not tried\n");
    } else {
        int good = exhaust(last, next, &pages, &fell);
        pmm_stats_t after;
        pmm_get_stats(&after);
        int broken = pmm_check();
        good = good && after.free_pages == before.free_pages && broken == 0;
        kprintf("numa: pmm fallback: node %d emptied (strict), its next page from node %d "
                "(nearest with memory: node %d); all given back, pmm_check %d: %s\n",
                last, fell, next, broken, good ? "ok" : "FAILED");
    }
}

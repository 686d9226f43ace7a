/*
 * test_pmm_node.c - the PMM's NUMA nodes (issue 13, item 2) on simulated
 * physical memory: the real mm/pmm*.c, node layouts made up by the tests
 * (edges on no block boundary, a node in several pieces, a node without
 * memory, one without CPUs), random node-local, strict and fallback runs
 * with pmm_check after each step, and bad input.
 *
 * The tests keep their own idea of the layout (which node an address is
 * on, which node is nearest) and compare the PMM's answers with it.
 */
#include "harness.h"
#include "pmm.h"

#define MB          (1024u * 1024u)
#define KB          1024u
#define CHECK_PMM() assert_int_equal(pmm_check(), 0)

/* The layout a test registered, in the test's own terms (pmm_set_nodes' contract). */
static struct {
    unsigned nodes, nranges;
    pmm_node_range_t range[PMM_MAX_NODE_RANGES];
    uint8_t distance[PMM_MAX_NODES * PMM_MAX_NODES];
} lay;

static int setup(void **state)
{
    host_console_clear();
    memory_init();
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    memset(&lay, 0, sizeof(lay));
    lay.nodes = 1;
    return 0;
}

#define teardown one_node_natural_cpu

static void set_layout(unsigned nodes, const pmm_node_range_t *r, unsigned n, const uint8_t *cpu,
                       unsigned ncpus, const uint8_t *dist)
{
    lay.nodes = nodes;
    lay.nranges = n;
    memcpy(lay.range, r, n * sizeof(*r));
    for (unsigned i = 0; i < nodes; i++)
        for (unsigned j = 0; j < nodes; j++)
            lay.distance[i * nodes + j] = dist ? dist[i * nodes + j] : i == j ? 10 : 20;
    assert_int_equal(pmm_set_nodes(nodes, r, n, cpu, ncpus, dist), 0);
}

/* The node of an address by the contract: the range below it, the lowest range's below all. */
static int node_of(paddr_t a)
{
    int node = -1;
    uint64_t best = 0;
    for (unsigned i = 0; i < lay.nranges; i++) {
        uint64_t first = lay.range[i].base / PAGE_SIZE * PAGE_SIZE;
        if (first <= a && (node < 0 || first >= best)) {
            best = first;
            node = (int)lay.range[i].node;
        }
    }
    if (node >= 0)
        return node;
    for (unsigned i = 0; i < lay.nranges; i++) {
        if (node < 0 || lay.range[i].base < best) {
            best = lay.range[i].base;
            node = (int)lay.range[i].node;
        }
    }
    return node < 0 ? 0 : node;
}

static pmm_node_stats_t nstats(int node)
{
    pmm_node_stats_t s;
    assert_int_equal(pmm_get_node_stats(node, &s), 0);
    return s;
}

/* Has node n a free block of at least `order`? */
static int fits(int n, unsigned order)
{
    pmm_drain_cpu_lists(); /* the blocks as merged: as an allocation that finds none sees them */
    pmm_node_stats_t s = nstats(n);
    for (unsigned k = order; k <= PMM_MAX_ORDER; k++) {
        if (s.free_blocks[k])
            return 1;
    }
    return 0;
}

/* The node an allocation wanting `want` must come from: itself, else nearest (ties: lower). */
static int expected_node(int want, unsigned order)
{
    if (fits(want, order))
        return want;
    int best = -1;
    for (unsigned n = 0; n < lay.nodes; n++) {
        if ((int)n == want || !fits((int)n, order))
            continue;
        if (best < 0 || lay.distance[want * lay.nodes + n] < lay.distance[want * lay.nodes + best])
            best = (int)n;
    }
    return best;
}

static unsigned order_of(uint32_t count, uint32_t align)
{
    unsigned k = 0;
    while ((1u << k) < count || (1u << k) * PAGE_SIZE < align)
        k++;
    return k;
}

/* Every page of [a, a + count pages) on node `n`, by the PMM and by the layout. */
static void assert_run_on(paddr_t a, uint32_t count, int n)
{
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(pmm_page_node(a + i * PAGE_SIZE), n);
        assert_int_equal(node_of(a + i * PAGE_SIZE), n);
    }
}

/*
 * No pmm_set_nodes: one node, node 0, which is the whole PMM.
 * Expect node 0's totals to be the PMM's, every page node 0, node 1 refused.
 */
static void test_one_node_without_registration(void **state)
{
    pmm_init(16 * MB);
    CHECK_PMM();
    assert_int_equal(pmm_node_count(), 1);
    pmm_stats_t s = pstats();
    pmm_node_stats_t n = nstats(0);
    assert_int_equal(n.total_pages, s.total_pages);
    assert_int_equal(n.free_pages, s.free_pages);
    assert_int_equal(n.reserved_pages, s.reserved_pages);
    assert_memory_equal(n.free_blocks, s.free_blocks, sizeof(s.free_blocks));
    paddr_t a = pmm_alloc_page(), b = pmm_alloc_page_node(0);
    paddr_t c = pmm_alloc_pages_node(0 | PMM_NODE_STRICT, 5, 8 * PAGE_SIZE);
    assert_true(a && b && c && c % (8 * PAGE_SIZE) == 0);
    assert_int_equal(pmm_page_node(a), 0);
    assert_int_equal(pmm_page_node(c + 4 * PAGE_SIZE), 0);
    assert_int_equal(nstats(0).used_pages, 7);
    assert_int_equal(nstats(0).local_allocs, 3);
    assert_int_equal(pmm_cpu_node(PMM_NODE_ANY), 0);
    assert_int_equal(pmm_cpu_node(5), 0);
    CHECK_PMM();
    uint32_t errors = errors_now();
    assert_int_equal(pmm_alloc_page_node(1), 0);
    assert_true(host_console_has("pmm_alloc_page_node: node 1: no such node (1 nodes)"));
    assert_int_equal(errors_now(), errors + 1);
    pmm_free_page(a);
    pmm_free_page(b);
    pmm_free_pages(c, 5);
    CHECK_PMM();
    assert_int_equal(pstats().free_pages, s.free_pages);
}

/*
 * Two nodes, the edge 20 KB past 13 MB: on no block boundary of order > 2.
 *
 *   0          13 MB + 20 KB                32 MB
 *   | node 0   | node 1 ...                  |
 *
 * Expect the pages on each side counted on their node, no free block across
 * the edge (pmm_check), node-local allocations inside their node, strict ones
 * failing once the node is empty, fallback ones going to the other node.
 */
static void test_two_nodes_unaligned_edge(void **state)
{
    const paddr_t edge = 13 * MB + 20 * KB;
    const pmm_node_range_t r[] = {{edge, 32 * MB, 1}, {0, edge, 0}}; /* any order */
    set_layout(2, r, 2, NULL, 0, NULL);
    const pmm_range_t map[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    CHECK_PMM();
    assert_int_equal(pmm_node_count(), 2);
    pmm_node_stats_t n0 = nstats(0), n1 = nstats(1);
    assert_int_equal(n0.total_pages, edge / PAGE_SIZE);
    assert_int_equal(n1.total_pages, (32 * MB - edge) / PAGE_SIZE);
    assert_int_equal(n1.free_pages, n1.total_pages); /* the metadata and the heap are low */
    assert_int_equal(n0.total_pages + n1.total_pages, pstats().total_pages);
    assert_int_equal(n0.free_pages + n1.free_pages, pstats().free_pages);
    assert_int_equal(pmm_page_node(edge - PAGE_SIZE), 0);
    assert_int_equal(pmm_page_node(edge), 1);
    assert_int_equal(n1.distance[0], 20);
    assert_int_equal(n1.distance[1], 10);

    /* node 1 strictly, to the last page: every one inside node 1 */
    uint32_t got = 0;
    paddr_t p;
    while ((p = pmm_alloc_page_node(1 | PMM_NODE_STRICT)) != 0) {
        assert_true(p >= edge && p < 32 * MB);
        got++;
    }
    assert_int_equal(got, n1.total_pages);
    assert_false(host_console_has("out of memory")); /* a strict miss is no OOM */
    CHECK_PMM();
    assert_int_equal(nstats(1).free_pages, 0);
    assert_int_equal(nstats(1).local_allocs, got);
    /* node 1 is empty: its fallback allocations come from node 0, counted as such */
    p = pmm_alloc_page_node(1);
    assert_true(p != 0 && p < edge);
    assert_int_equal(nstats(1).fallback_allocs, 1);
    assert_int_equal(nstats(0).foreign_allocs, 1);
    paddr_t run = pmm_alloc_pages_node(1, 3, 0);
    assert_true(run != 0);
    assert_run_on(run, 3, 0);
    assert_int_equal(pmm_alloc_pages_node(1 | PMM_NODE_STRICT, 3, 0), 0);
    CHECK_PMM();
    /* give node 1 back: the pages next to the edge merge on their side only */
    for (paddr_t a = edge; a < 32 * MB; a += PAGE_SIZE)
        pmm_free_page(a);
    pmm_free_page(p);
    pmm_free_pages(run, 3);
    CHECK_PMM();
    assert_int_equal(nstats(1).free_pages, n1.total_pages);
    assert_int_equal(nstats(0).free_pages, n0.free_pages);
    /* merged back into the blocks node 1 started with: none across the edge (pmm_check) */
    assert_memory_equal(nstats(1).free_blocks, n1.free_blocks, sizeof(n1.free_blocks));
    assert_int_equal(n1.free_blocks[0] + 2 * n1.free_blocks[1] + 4 * n1.free_blocks[2] > 0, 1);
    assert_int_equal(errors_now(), 0);
}

/*
 * Registered after pmm_init, with pages allocated: the free lists are built
 * again on the new nodes; the used pages keep working and are counted on
 * their node.
 */
static void test_nodes_registered_after_init(void **state)
{
    const pmm_range_t map[] = {{0, 24 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    paddr_t a[64];
    for (int i = 0; i < 64; i++)
        assert_true((a[i] = pmm_alloc_pages(3, 0)) != 0);
    pmm_stats_t before = pstats();
    const pmm_node_range_t r[] = {{0, 7 * MB + 4 * KB, 0}, {7 * MB + 4 * KB, 24 * MB, 1}};
    set_layout(2, r, 2, NULL, 0, NULL);
    CHECK_PMM();
    assert_int_equal(pstats().free_pages, before.free_pages);
    assert_int_equal(nstats(0).used_pages + nstats(1).used_pages, 64 * 3);
    for (int i = 0; i < 64; i++) {
        pmm_free_pages(a[i], 3);
        CHECK_PMM();
    }
    assert_int_equal(nstats(0).used_pages + nstats(1).used_pages, 0);
    /* and back to one node: the lists merge across the old edge again */
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    CHECK_PMM();
    pmm_init(24 * MB);
    pmm_stats_t fresh = pstats();
    assert_int_equal(pmm_set_nodes(2, r, 2, NULL, 0, NULL), 0);
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    assert_memory_equal(pstats().free_blocks, fresh.free_blocks, sizeof(fresh.free_blocks));
    CHECK_PMM();
}

/*
 * Four nodes, node 0 in two pieces, node 3 without memory, node 2 without
 * CPUs, distances asymmetric:
 *
 *   0      5 MB+12K   11 MB+28K    19 MB+4K      32 MB
 *   | n0   | n1       | n2         | n0 again    |
 *
 * CPUs 0-1 on node 0, 2 on node 1, 3-4 on node 3 (no memory), 5 and up on
 * node 0 (not registered).  Expect each CPU's pages from its node, node 3's
 * CPUs served by node 3's nearest node, an unregistered CPU by node 0.
 */
static const pmm_node_range_t four[] = {{0, 5 * MB + 12 * KB, 0},
                                        {5 * MB + 12 * KB, 11 * MB + 28 * KB, 1},
                                        {11 * MB + 28 * KB, 19 * MB + 4 * KB, 2},
                                        {19 * MB + 4 * KB, 32 * MB, 0}};
static const uint8_t four_cpus[] = {0, 0, 1, 3, 3};
static const uint8_t four_dist[] = {10, 20, 30, 40, /* from 0 */
                                    21, 10, 20, 30, /* from 1 */
                                    31, 21, 10, 20, /* from 2 */
                                    40, 30, 15, 10 /* from 3: node 2 nearest */};

static void four_nodes(void)
{
    set_layout(4, four, 4, four_cpus, 5, four_dist);
    const pmm_range_t map[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    CHECK_PMM();
}

static void test_cpus_allocate_on_their_node(void **state)
{
    four_nodes();
    assert_int_equal(nstats(3).total_pages, 0);
    assert_int_equal(nstats(0).cpus, 2);
    assert_int_equal(nstats(2).cpus, 0);
    assert_int_equal(nstats(3).cpus, 2);
    assert_int_equal(nstats(0).total_pages,
                     (5 * MB + 12 * KB + 32 * MB - 19 * MB - 4 * KB) / PAGE_SIZE);
    static const int want[] = {0, 0, 1, 2, 2, 0, 0};
    for (int cpu = 0; cpu < 7; cpu++) {
        host_forced_cpu_id = cpu;
        assert_int_equal(pmm_cpu_node(PMM_NODE_ANY), cpu < 5 ? four_cpus[cpu] : 0);
        paddr_t p = pmm_alloc_page();
        assert_true(p != 0);
        assert_int_equal(pmm_page_node(p), want[cpu]);
        assert_int_equal(node_of(p), want[cpu]);
        paddr_t run = pmm_alloc_pages(9, 4 * PAGE_SIZE);
        assert_true(run != 0);
        assert_run_on(run, 9, want[cpu]);
        CHECK_PMM();
    }
    /* the CPUs of node 3 wanted node 3 and got node 2: fallbacks of 3, foreign on 2 */
    assert_int_equal(nstats(3).fallback_allocs, 4);
    assert_int_equal(nstats(2).foreign_allocs, 4);
    assert_int_equal(nstats(3).local_allocs, 0);
    assert_int_equal(nstats(0).local_allocs, 8);
    /* node 2 has memory and no CPU: asked for by name, it serves */
    paddr_t p = pmm_alloc_page_node(2 | PMM_NODE_STRICT);
    assert_int_equal(pmm_page_node(p), 2);
    assert_int_equal(pmm_alloc_page_node(3 | PMM_NODE_STRICT), 0); /* no memory at all */
    assert_int_equal(errors_now(), 0);
    host_console_clear();
    pmm_dump();
    assert_true(host_console_has("  node 3: 0 pages"));
    assert_true(host_console_has(", node 2\n"));
}

/*
 * A node runs dry: its allocations go to the nearest node, then the next,
 * by the distances of its own row (asymmetric: row 1 is not column 1).
 */
static void test_exhaustion_falls_back_by_distance(void **state)
{
    four_nodes();
    uint32_t n1 = nstats(1).free_pages, n2 = nstats(2).free_pages;
    for (uint32_t i = 0; i < n1; i++)
        assert_int_equal(pmm_page_node(pmm_alloc_page_node(1)), 1);
    /* from 1: node 2 (20) before node 0 (21) */
    for (uint32_t i = 0; i < n2; i++)
        assert_int_equal(pmm_page_node(pmm_alloc_page_node(1)), 2);
    CHECK_PMM();
    assert_int_equal(pmm_page_node(pmm_alloc_page_node(1)), 0);
    assert_int_equal(pmm_alloc_page_node(2 | PMM_NODE_STRICT), 0);
    /* from 2: node 1 (21) is empty too, then node 0 (31) */
    assert_int_equal(pmm_page_node(pmm_alloc_page_node(2)), 0);
    assert_int_equal(nstats(1).fallback_allocs, n2 + 1);
    assert_int_equal(nstats(2).fallback_allocs, 1);
    CHECK_PMM();
}

/*
 * Random runs: node-local, strict and fallback single pages and aligned runs
 * on random nodes and CPUs, frees in random order, pmm_check after each step.
 * Expect every allocation from the node it wanted whenever that node had a
 * free block big enough, else (not strict) from the nearest node that had
 * one, else 0; strict ones from their node or 0.
 */
#define SLOTS 96
static void random_run(uint32_t seed, int steps)
{
    static paddr_t base[SLOTS];
    static uint32_t len[SLOTS];
    memset(base, 0, sizeof(base));
    uint32_t free0 = pstats().free_pages;
    for (int step = 0; step < steps; step++) {
        int i = (int)rng_below(&seed, SLOTS);
        if (base[i]) {
            pmm_free_pages(base[i], len[i]);
            base[i] = 0;
        } else {
            uint32_t count = rng_below(&seed, 4) ? 1 : 1 + rng_below(&seed, 70);
            uint32_t align = PAGE_SIZE << rng_below(&seed, 4);
            unsigned kind = rng_below(&seed, 3);
            int want, node;
            if (kind == 0) { /* the CPU's node */
                host_forced_cpu_id = (int)rng_below(&seed, 7);
                want = pmm_cpu_node(PMM_NODE_ANY);
                node = PMM_NODE_ANY;
            } else {
                want = (int)rng_below(&seed, lay.nodes);
                node = want | (kind == 2 ? PMM_NODE_STRICT : 0);
            }
            unsigned order = order_of(count, align);
            int expect = kind == 2 ? (fits(want, order) ? want : -1) : expected_node(want, order);
            paddr_t a = kind == 0 && count == 1 && align == PAGE_SIZE ? pmm_alloc_page()
                        : kind == 0 ? pmm_alloc_pages(count, align)
                                    : pmm_alloc_pages_node(node, count, align);
            if (expect < 0) {
                assert_int_equal(a, 0);
            } else {
                assert_true(a != 0);
                assert_int_equal(a % align, 0);
                assert_run_on(a, count, expect);
                base[i] = a;
                len[i] = count;
            }
        }
        CHECK_PMM();
    }
    free_runs_and_check(base, len, SLOTS, free0);
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
}

static void test_random_four_nodes(void **state)
{
    four_nodes();
    random_run(0x5eed0001u, 1500);
}

/* Small nodes (a few hundred pages each, odd edges) so that they run dry often. */
static void test_random_small_nodes(void **state)
{
    const pmm_node_range_t r[] = {{0, 6 * MB + 36 * KB, 0},
                                  {6 * MB + 36 * KB, 7 * MB + 100 * KB, 1},
                                  {7 * MB + 100 * KB, 8 * MB + 4 * KB, 2}};
    const uint8_t dist[] = {10, 12, 14, 13, 10, 11, 14, 12, 10};
    const uint8_t cpus[] = {2, 1, 0, 1, 2, 0, 2};
    set_layout(3, r, 3, cpus, 7, dist);
    const pmm_range_t map[] = {{0, 8 * MB + 4 * KB + 40 * KB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    CHECK_PMM();
    random_run(0xabcdef12u, 2500);
}

/*
 * The stages: reachable limit inside node 1, then raised; RAM added later on
 * node 1.  Expect the unreachable and added pages counted on their node.
 */
static void test_stages_count_on_their_node(void **state)
{
    const pmm_node_range_t r[] = {{0, 10 * MB + 8 * KB, 0}, {10 * MB + 8 * KB, 40 * MB, 1}};
    set_layout(2, r, 2, NULL, 0, NULL);
    const pmm_range_t map[] = {{0, 24 * MB, PMM_RANGE_AVAILABLE}};
    const pmm_layout_t l = {.reachable = 16 * MB, .ram_end = 40 * MB};
    assert_int_equal(pmm_init_layout(map, 1, &l), 0);
    CHECK_PMM();
    assert_int_equal(nstats(1).unreachable_pages, 8 * MB / PAGE_SIZE);
    assert_int_equal(nstats(0).unreachable_pages, 0);
    assert_int_equal(pmm_set_reachable(UINT64_MAX), 0);
    CHECK_PMM();
    assert_int_equal(nstats(1).unreachable_pages, 0);
    assert_int_equal(nstats(1).free_pages, (24 * MB - 10 * MB - 8 * KB) / PAGE_SIZE);
    assert_int_equal(pmm_add_range(30 * MB, 4 * MB), 0);
    CHECK_PMM();
    assert_int_equal(nstats(1).total_pages, (28 * MB - 10 * MB - 8 * KB) / PAGE_SIZE);
    assert_int_equal(pmm_page_node(31 * MB), 1);
    assert_int_equal(pmm_page_node(26 * MB), -1); /* a hole */
}

/* pmm_check sees a page whose node byte was changed behind the PMM's back. */
static void test_check_finds_wrong_node(void **state)
{
    const pmm_node_range_t r[] = {{0, 12 * MB, 0}, {12 * MB, 16 * MB, 1}};
    set_layout(2, r, 2, NULL, 0, NULL);
    pmm_init(16 * MB);
    CHECK_PMM();
    /* white box: pmm_page_t is {next, prev, state, head:1 order:7, node, owner} */
    pmm_stats_t s = pstats();
    unsigned char *node =
        (unsigned char *)host_phys_base() + s.metadata_phys + 12 * (13 * MB / PAGE_SIZE) + 10;
    assert_int_equal(*node, 1);
    *node = 0;
    host_console_clear();
    assert_true(pmm_check() >= 1);
    assert_true(host_console_has("pmm_check"));
    assert_true(host_console_has("node"));
    *node = 1;
    CHECK_PMM();
}

/* Each bad registration: one line naming pmm_set_nodes, -1, the nodes as they were. */
static void test_bad_registrations_refused(void **state)
{
    const pmm_node_range_t ok[] = {{0, 8 * MB, 0}, {8 * MB, 16 * MB, 1}};
    set_layout(2, ok, 2, NULL, 0, NULL);
    pmm_init(16 * MB);
    pmm_node_stats_t n1 = nstats(1);
    const pmm_node_range_t empty[] = {{8 * MB, 8 * MB, 1}};
    const pmm_node_range_t high[] = {{8 * MB, 0x100001000ull, 1}};
    const pmm_node_range_t far[] = {{8 * MB, 16 * MB, 2}};
    const pmm_node_range_t overlap[] = {{0, 9 * MB, 0}, {8 * MB, 16 * MB, 1}};
    const uint8_t cpu_bad[] = {0, 2};
    const uint8_t diag[] = {10, 20, 20, 11};
    const uint8_t below[] = {10, 9, 20, 10};
    static pmm_node_range_t many[PMM_MAX_NODE_RANGES + 1];
    static const uint8_t cpus[PMM_MAX_CPUS + 1];
    struct {
        unsigned nodes;
        const pmm_node_range_t *r;
        unsigned n;
        const uint8_t *cpu;
        unsigned ncpus;
        const uint8_t *dist;
        const char *said;
    } bad[] = {
        {0, ok, 2, NULL, 0, NULL, "0 nodes: 1 to 8 only"},
        {9, ok, 2, NULL, 0, NULL, "9 nodes: 1 to 8 only"},
        {2, NULL, 2, NULL, 0, NULL, "NULL ranges"},
        {2, ok, 2, NULL, 3, NULL, "NULL cpu_node table"},
        {2, empty, 1, NULL, 0, NULL, "empty"},
        {2, high, 1, NULL, 0, NULL, "ends above 4 GB"},
        {2, far, 1, NULL, 0, NULL, "node out of range"},
        {2, overlap, 2, NULL, 0, NULL, "overlaps one of node 0"},
        {2, ok, 2, cpu_bad, 2, NULL, "CPU 1 on node 2 of 2"},
        {2, ok, 2, NULL, 0, diag, "distance 1 -> 1 is 11 (must be 10)"},
        {2, ok, 2, NULL, 0, below, "distance 0 -> 1 is 9 (below 10)"},
        {2, many, PMM_MAX_NODE_RANGES + 1, NULL, 0, NULL, "33 ranges: at most 32"},
        {2, ok, 2, cpus, PMM_MAX_CPUS + 1, NULL, "65 CPUs: at most 64"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        host_console_clear();
        uint32_t errors = errors_now();
        assert_int_equal(
            pmm_set_nodes(bad[i].nodes, bad[i].r, bad[i].n, bad[i].cpu, bad[i].ncpus, bad[i].dist),
            -1);
        assert_int_equal(errors_now(), errors + 1);
        assert_true(host_console_has("pmm_set_nodes: "));
        if (!host_console_has(bad[i].said))
            fail_msg("case %u: expected \"%s\"", i, bad[i].said);
        assert_int_equal(pmm_node_count(), 2);
        assert_int_equal(nstats(1).total_pages, n1.total_pages);
        CHECK_PMM();
    }
}

/* Bad node numbers and pointers in the other calls: one line, 0 or -1, nothing changed. */
static void test_bad_node_arguments(void **state)
{
    const pmm_node_range_t r[] = {{0, 8 * MB, 0}, {8 * MB, 16 * MB, 1}};
    set_layout(2, r, 2, NULL, 0, NULL);
    pmm_init(16 * MB);
    uint32_t free0 = pstats().free_pages, errors = errors_now();
    static const int nodes[] = {2, 7, -2, 0x200, 2 | PMM_NODE_STRICT, INT32_MIN};
    for (unsigned i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        assert_int_equal(pmm_alloc_page_node(nodes[i]), 0);
        assert_int_equal(pmm_alloc_pages_node(nodes[i], 2, 0), 0);
        assert_int_equal(pmm_alloc_owner_node(1, 0, PMM_OWNER_CALLER, nodes[i]), 0);
    }
    assert_true(host_console_has("pmm_alloc_pages_node: node 7: no such node (2 nodes)"));
    assert_int_equal(errors_now(), errors + 18);
    assert_int_equal(pmm_alloc_pages_node(0, 0, 0), 0); /* the usual checks still apply */
    assert_true(host_console_has("zero pages"));
    pmm_node_stats_t s;
    assert_int_equal(pmm_get_node_stats(2, &s), -1);
    assert_int_equal(pmm_get_node_stats(-1, &s), -1);
    assert_int_equal(pmm_get_node_stats(0, NULL), -1);
    assert_true(host_console_has("pmm_get_node_stats: node 0: NULL stats pointer"));
    assert_int_equal(pmm_page_node(0xF0000000u), -1); /* beyond the descriptors */
    assert_int_equal(pmm_page_node(HEAP_START), 0);   /* reserved RAM has a node too */
    assert_int_equal(pstats().free_pages, free0);
    CHECK_PMM();
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_one_node_without_registration),
        T(test_two_nodes_unaligned_edge),
        T(test_nodes_registered_after_init),
        T(test_cpus_allocate_on_their_node),
        T(test_exhaustion_falls_back_by_distance),
        T(test_random_four_nodes),
        T(test_random_small_nodes),
        T(test_stages_count_on_their_node),
        T(test_check_finds_wrong_node),
        T(test_bad_registrations_refused),
        T(test_bad_node_arguments),
    };
    return cmocka_run_group_tests_name("pmm_node", tests, NULL, NULL);
}

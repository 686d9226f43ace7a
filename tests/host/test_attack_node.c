/*
 * test_attack_node.c - the hostile review of the node-aware PMM
 * (mm/pmm_node.c, the node parts of mm/pmm.c): attacks that found nothing,
 * kept as regression tests.  (The finding, which fails before its mend, is in
 * test_attack_node_failing.c.)
 *
 *  - registrations the contract allows but that look wrong: ranges unsorted
 *    (the same as sorted), ranges past the RAM, two nodes sharing one page
 *    (a range inside a single page, edges on no boundary), a node with CPUs
 *    and no memory, an asymmetric distance table with 255s;
 *  - bad registrations while pages are allocated and held for a TLB
 *    shootdown: refused, nothing moved;
 *  - counts and alignments that wrap (2^32 - 1 pages, 2^31 alignment,
 *    alignment not a power of two) on every _node call: refused, nothing
 *    counted;
 *  - exactness: after every step of random allocations and frees across
 *    re-registrations, the nodes' totals add up to the PMM's and pmm_check
 *    is clean; at the end every page is back;
 *  - threads: three CPUs allocating (any, named, strict) while a fourth keeps
 *    registering other topologies.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "glue_common.h"
#include "harness.h"
#include "pmm.h"

#define MB (1024u * 1024u)
#define KB 1024u

static int setup(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    fresh_pmm_alone();
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    const pmm_range_t map[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    host_console_clear();
    return 0;
}

/*
 * The nodes' counts add up to the PMM's; each node's free pages are its
 * blocks; pmm_check finds `problems` (1 while a page waits for its TLB
 * shootdown: by design it reports such a page).
 */
static void assert_nodes_add_up_but(int problems)
{
    pmm_stats_t s = pstats();
    uint32_t total = 0, free = 0, used = 0, reserved = 0, unreachable = 0;
    int nodes = pmm_node_count();
    for (int n = 0; n < nodes; n++) {
        pmm_node_stats_t ns;
        assert_int_equal(pmm_get_node_stats(n, &ns), 0);
        uint32_t in_blocks = 0;
        for (unsigned k = 0; k <= PMM_MAX_ORDER; k++)
            in_blocks += ns.free_blocks[k] << k;
        assert_int_equal(in_blocks, ns.free_pages);
        total += ns.total_pages;
        free += ns.free_pages;
        used += ns.used_pages;
        reserved += ns.reserved_pages;
        unreachable += ns.unreachable_pages;
    }
    assert_int_equal(total, s.total_pages);
    assert_int_equal(free, s.free_pages);
    assert_int_equal(used, s.used_pages);
    assert_int_equal(reserved, s.reserved_pages);
    assert_int_equal(pmm_check(), problems);
    (void)unreachable;
}

static void assert_nodes_add_up(void)
{
    assert_nodes_add_up_but(0);
}

/* Every page's node, as a table (to compare two registrations). */
static uint8_t node_map_a[32 * MB / 4096], node_map_b[32 * MB / 4096];
static void snapshot(uint8_t *m)
{
    for (uint32_t p = 0; p < 32 * MB / 4096; p++)
        m[p] = (uint8_t)pmm_page_node((paddr_t)p * 4096);
}

/*
 * Registrations the contract takes: unsorted equals sorted; ranges past the
 * RAM; two nodes sharing a page (node 1's range wholly inside one page: the
 * later range has the page); a node with CPUs and no memory (served by the
 * nearest); 255s in an asymmetric table.
 */
static void attack_odd_but_legal_layouts(void **state)
{
    (void)state;
    const pmm_node_range_t sorted[] = {{0, 5 * MB + 100, 0},
                                       {5 * MB + 100, 9 * MB + 3, 1},
                                       {9 * MB + 3, 20 * MB, 2},
                                       {20 * MB, 0xC0000000u, 0}};
    const pmm_node_range_t unsorted[] = {sorted[2], sorted[0], sorted[3], sorted[1]};
    assert_int_equal(pmm_set_nodes(3, sorted, 4, NULL, 0, NULL), 0);
    assert_nodes_add_up();
    snapshot(node_map_a);
    assert_int_equal(pmm_set_nodes(3, unsorted, 4, NULL, 0, NULL), 0);
    assert_nodes_add_up();
    snapshot(node_map_b);
    assert_memory_equal(node_map_a, node_map_b, sizeof(node_map_a));
    /* the page of 5 MB + 100 is node 1's (the later range), the one below node 0's */
    assert_int_equal(pmm_page_node(5 * MB), 1);
    assert_int_equal(pmm_page_node(5 * MB - 4096), 0);
    assert_int_equal(pmm_page_node(30 * MB), 0);

    /* node 1 only inside one page: [12 MB + 16, 12 MB + 32) */
    const pmm_node_range_t inside[] = {
        {0, 12 * MB + 16, 0}, {12 * MB + 16, 12 * MB + 32, 1}, {12 * MB + 32, 32 * MB, 2}};
    assert_int_equal(pmm_set_nodes(3, inside, 3, NULL, 0, NULL), 0);
    assert_nodes_add_up();
    pmm_node_stats_t n1;
    assert_int_equal(pmm_get_node_stats(1, &n1), 0);
    assert_int_equal(n1.total_pages, 0); /* its page went to node 2, the later range */
    assert_int_equal(pmm_page_node(12 * MB), 2);
    assert_int_equal(pmm_alloc_page_node(1 | PMM_NODE_STRICT), 0);
    paddr_t p = pmm_alloc_page_node(1);
    assert_true(p != 0);
    pmm_free_page(p);

    /* CPUs 0-3 on node 3 without memory; distances asymmetric with 255s */
    const pmm_node_range_t r4[] = {{0, 16 * MB, 0}, {16 * MB, 24 * MB, 1}, {24 * MB, 32 * MB, 2}};
    const uint8_t cpu[] = {3, 3, 3, 3};
    const uint8_t dist[] = {10,       255, 255, 255, /**/ 12,  10,  255, 255,
                            /**/ 255, 255, 10,  11,  /**/ 255, 200, 40,  10};
    assert_int_equal(pmm_set_nodes(4, r4, 3, cpu, 4, dist), 0);
    assert_nodes_add_up();
    host_forced_cpu_id = 2;
    p = pmm_alloc_page(); /* node 3 has nothing: node 2 (40) before node 1 (200), node 0 (255) */
    assert_int_equal(pmm_page_node(p), 2);
    pmm_node_stats_t n3;
    assert_int_equal(pmm_get_node_stats(3, &n3), 0);
    assert_int_equal(n3.fallback_allocs, 1);
    assert_int_equal(n3.cpus, 4);
    assert_int_equal(n3.distance[0], 255);
    pmm_free_page(p);
    assert_nodes_add_up();
    assert_int_equal(errors_now(), 0);
}

/* Bad registrations with pages used and held for a shootdown: -1, nothing moved. */
static void attack_bad_registration_while_busy(void **state)
{
    (void)state;
    const pmm_node_range_t two[] = {{0, 16 * MB, 0}, {16 * MB, 32 * MB, 1}};
    assert_int_equal(pmm_set_nodes(2, two, 2, NULL, 0, NULL), 0);
    paddr_t a = pmm_alloc_pages_node(1, 7, 0), b = pmm_alloc_page_node(0);
    assert_true(a && b);
    assert_int_equal(pmm_free_held("attack", b, PMM_OWNER_CALLER), 0);
    snapshot(node_map_a);
    pmm_node_stats_t before[2];
    pmm_get_node_stats(0, &before[0]);
    pmm_get_node_stats(1, &before[1]);
    const pmm_node_range_t touch[] = {{0, 16 * MB + 1, 0}, {16 * MB, 32 * MB, 1}}; /* 1 byte */
    const pmm_node_range_t wrap[] = {{0xFFFFF000u, 0x100000000ull + 4096, 0}};
    const pmm_node_range_t eight[] = {{0, 16 * MB, 8}};
    const uint8_t zero_dist[] = {10, 0, 0, 10};
    const uint8_t cpu_far[] = {0, 1, 200};
    assert_int_equal(pmm_set_nodes(2, touch, 2, NULL, 0, NULL), -1);
    assert_int_equal(pmm_set_nodes(2, wrap, 1, NULL, 0, NULL), -1);
    assert_int_equal(pmm_set_nodes(8, eight, 1, NULL, 0, NULL), -1);
    assert_int_equal(pmm_set_nodes(2, two, 2, NULL, 0, zero_dist), -1);
    assert_int_equal(pmm_set_nodes(2, two, 2, cpu_far, 3, NULL), -1);
    assert_int_equal(pmm_set_nodes(UINT32_MAX, two, 2, NULL, 0, NULL), -1);
    assert_int_equal(pmm_set_nodes(2, two, UINT32_MAX, NULL, 0, NULL), -1);
    assert_int_equal(pmm_set_nodes(2, two, 2, cpu_far, UINT32_MAX, NULL), -1);
    assert_int_equal(errors_now(), 8);
    snapshot(node_map_b);
    assert_memory_equal(node_map_a, node_map_b, sizeof(node_map_a));
    pmm_node_stats_t after[2];
    pmm_get_node_stats(0, &after[0]);
    pmm_get_node_stats(1, &after[1]);
    for (int n = 0; n < 2;
         n++) /* the CPUs' lists when asked (drained by the asking): not the nodes */
        before[n].cpu_cached_pages = after[n].cpu_cached_pages = 0;
    assert_memory_equal(before, after, sizeof(before));
    assert_nodes_add_up_but(1);
    /* a good one meanwhile: the held page stays held, the run stays used */
    const pmm_node_range_t three[] = {
        {0, 4 * MB, 2}, {4 * MB, 20 * MB + 8 * KB, 0}, {20 * MB + 8 * KB, 32 * MB, 1}};
    assert_int_equal(pmm_set_nodes(3, three, 3, NULL, 0, NULL), 0);
    assert_nodes_add_up_but(1);
    pmm_tlb_shootdown_free(0xD0000000u, 1);
    pmm_free_pages(a, 7);
    assert_nodes_add_up();
    assert_int_equal(pstats().used_pages, 0);
}

/* Counts and alignments that wrap, on every _node call: 0, one line each, nothing counted. */
static void attack_wrapping_counts(void **state)
{
    (void)state;
    const pmm_node_range_t two[] = {{0, 16 * MB, 0}, {16 * MB, 32 * MB, 1}};
    assert_int_equal(pmm_set_nodes(2, two, 2, NULL, 0, NULL), 0);
    pmm_stats_t s0 = pstats();
    pmm_node_stats_t n0;
    pmm_get_node_stats(1, &n0);
    const struct {
        uint32_t count, align;
    } bad[] = {
        {UINT32_MAX, 0},  {0, 0},        {1025, 0},       {(1u << 31) + 1, 4096},
        {1, 0x80000000u}, {1, 1u << 23}, /* order 11 */
        {1, 4096 + 1},    {1, 2048},     {1, UINT32_MAX}, {1u << 31, 1u << 31},
    };
    const int nodes[] = {PMM_NODE_ANY, 0, 1 | PMM_NODE_STRICT};
    unsigned calls = 0;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (unsigned j = 0; j < 3; j++) {
            assert_int_equal(pmm_alloc_pages_node(nodes[j], bad[i].count, bad[i].align), 0);
            assert_int_equal(
                pmm_alloc_owner_node(bad[i].count, bad[i].align, PMM_OWNER_CALLER, nodes[j]), 0);
            calls += 2;
        }
    }
    assert_int_equal(errors_now(), calls);
    /* the largest legal one works: 1024 pages aligned to 4 MB on node 1 */
    paddr_t big = pmm_alloc_pages_node(1 | PMM_NODE_STRICT, 1024, 4 * MB);
    assert_true(big != 0 && big % (4 * MB) == 0);
    assert_int_equal(pmm_page_node(big), 1);
    pmm_free_pages(big, 1024);
    pmm_stats_t s1 = pstats();
    assert_int_equal(s1.free_pages, s0.free_pages);
    pmm_node_stats_t n1;
    pmm_get_node_stats(1, &n1);
    assert_int_equal(n1.local_allocs, n0.local_allocs + 1);
    assert_int_equal(n1.fallback_allocs, n0.fallback_allocs);
    assert_nodes_add_up();
}

/* Random steps across re-registrations, the sums after each. */
static const pmm_node_range_t lay4[] = {{0, 7 * MB + 4 * KB, 0},
                                        {7 * MB + 4 * KB, 13 * MB + 12 * KB, 1},
                                        {13 * MB + 12 * KB, 19 * MB, 2},
                                        {19 * MB, 32 * MB, 3}};
static const pmm_node_range_t lay2u[] = {{16 * MB + 20 * KB, 32 * MB, 0},
                                         {0, 16 * MB + 20 * KB, 1}};
static const pmm_node_range_t lay3[] = {{0, 2 * MB, 2},
                                        {2 * MB, 3 * MB + 4 * KB, 1},
                                        {3 * MB + 4 * KB, 30 * MB, 0},
                                        {30 * MB, 31 * MB, 2}};
static const uint8_t cpu4[] = {0, 1, 2, 3, 3, 2};

/* The topologies registered at random: four nodes, two (upside down), three (node 2 split), one. */
static const node_layout_t layouts[] = {
    {4, lay4, 4, cpu4, 6},
    {2, lay2u, 2, cpu4, 2},
    {3, lay3, 4, cpu4, 3},
    {1, NULL, 0, NULL, 0},
};

static void attack_exact_across_registrations(void **state)
{
    (void)state;
    enum { MAX = 400 };
    static struct {
        paddr_t a;
        uint32_t n;
    } live[MAX];
    unsigned nlive = 0;
    uint32_t seed = 0x0DE0DEu, free0 = pstats().free_pages;
    mm_set_oom_reports(0);
    for (int step = 0; step < 3000; step++) {
        uint32_t r = rng_below(&seed, 100);
        if (r < 2) {
            set_node_layout(&layouts[rng_next(&seed) % 4]);
        } else if (r < 55 && nlive < MAX) {
            host_forced_cpu_id = (int)rng_below(&seed, 8);
            uint32_t n = 1 + rng_below(&seed, 9);
            uint32_t align = 4096u << rng_below(&seed, 4);
            int node = rng_below(&seed, 3) == 0 ? PMM_NODE_ANY : (int)rng_below(&seed, 4);
            if (node >= 0 && (unsigned)node >= (unsigned)pmm_node_count())
                node = 0;
            if (node >= 0 && rng_below(&seed, 2))
                node |= PMM_NODE_STRICT;
            paddr_t a = pmm_alloc_pages_node(node, n, align);
            if (a) {
                assert_true(a % align == 0);
                int want = node == PMM_NODE_ANY ? -1 : node & ~PMM_NODE_STRICT;
                if (node != PMM_NODE_ANY && (node & PMM_NODE_STRICT))
                    for (uint32_t i = 0; i < n; i++)
                        assert_int_equal(pmm_page_node(a + i * 4096), want);
                live[nlive].a = a;
                live[nlive++].n = n;
            }
        } else if (nlive) {
            unsigned i = rng_below(&seed, nlive);
            pmm_free_pages(live[i].a, live[i].n);
            live[i] = live[--nlive];
        }
        if (step % 50 == 0)
            assert_nodes_add_up();
    }
    mm_set_oom_reports(1);
    while (nlive) {
        nlive--;
        pmm_free_pages(live[nlive].a, live[nlive].n);
    }
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    assert_nodes_add_up();
    assert_int_equal(pstats().free_pages, free0);
    assert_int_equal(errors_now(), 0);
}

/* ------------------------------------------------------------ threads ---- */

static volatile int stop_flipper;
static unsigned flips;
static void *flipper(void *arg)
{
    (void)arg;
    uint32_t seed = 0xF11Fu;
    while (!stop_flipper) {
        switch (rng_below(&seed, 4)) {
        case 0:
            pmm_set_nodes(4, lay4, 4, cpu4, 6, NULL);
            break;
        case 1:
            pmm_set_nodes(2, lay2u, 2, cpu4, 2, NULL);
            break;
        case 2:
            pmm_set_nodes(3, lay3, 4, cpu4, 3, NULL);
            break;
        default:
            pmm_set_nodes(1, NULL, 0, NULL, 0, NULL);
        }
        __atomic_fetch_add(&flips, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

struct allocator {
    uint32_t seed;
    unsigned got, wrong_node, misaligned;
};

static void *allocator(void *arg)
{
    struct allocator *w = arg;
    paddr_t live[64];
    uint32_t count[64];
    unsigned n = 0;
    while (!__atomic_load_n(&flips, __ATOMIC_RELAXED)) /* the topology flips under every op */
        sched_yield();
    for (int op = 0; op < 4000; op++) {
        if (n < 64 && rng_below(&w->seed, 2)) {
            int node = rng_below(&w->seed, 3) == 0 ? PMM_NODE_ANY : (int)rng_below(&w->seed, 4);
            if (node >= 0 && rng_below(&w->seed, 2))
                node |= PMM_NODE_STRICT;
            uint32_t c = 1 + rng_below(&w->seed, 5), align = 4096u << rng_below(&w->seed, 3);
            paddr_t a = pmm_alloc_pages_node(node, c, align);
            if (a) {
                w->got++;
                w->misaligned += a % align != 0;
                live[n] = a;
                count[n++] = c;
            }
        } else if (n) {
            unsigned i = rng_below(&w->seed, n);
            pmm_free_pages(live[i], count[i]);
            live[i] = live[n - 1];
            count[i] = count[--n];
        }
    }
    while (n) {
        n--;
        pmm_free_pages(live[n], count[n]);
    }
    return NULL;
}

static void attack_threads_with_flipping_topology(void **state)
{
    (void)state;
    uint32_t free0 = pstats().free_pages;
    stop_flipper = 0;
    flips = 0;
    pthread_t f, t[3];
    struct allocator w[3];
    assert_int_equal(pthread_create(&f, NULL, flipper, NULL), 0);
    for (int i = 0; i < 3; i++) {
        w[i] = (struct allocator){0xA110Cu + (uint32_t)i, 0, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, allocator, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].misaligned, 0);
        assert_true(w[i].got > 0);
    }
    stop_flipper = 1;
    assert_int_equal(pthread_join(f, NULL), 0);
    printf("node threads: %u registrations while 3 CPUs allocated %u, %u, %u runs\n", flips,
           w[0].got, w[1].got, w[2].got);
    assert_true(flips > 0);
    assert_nodes_add_up();
    assert_int_equal(pstats().free_pages, free0);
    assert_int_equal(pstats().used_pages, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, one_node_natural_cpu)
    const struct CMUnitTest tests[] = {
        T(attack_odd_but_legal_layouts),
        T(attack_bad_registration_while_busy),
        T(attack_wrapping_counts),
        T(attack_exact_across_registrations),
        T(attack_threads_with_flipping_topology),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

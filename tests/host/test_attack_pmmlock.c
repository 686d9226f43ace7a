/*
 * test_attack_pmmlock.c - a hostile review of the PMM's own lock (pmm_lock
 * below mm_lock, the reclaim hooks run after the PMM drops it) and of the
 * per-node PMM (pmm_set_nodes, node edges, strict allocations).  Threads
 * stand in for CPUs (the host's glue_cpu_id is per thread).
 *
 * The attacks mm/ survives are kept as regression tests here.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "lock.h"
#include "log.h"
#include "pmm.h"

#define MB (1024u * 1024u)
#define KB 1024u

#define setup    fresh_pmm_one_node
#define teardown one_node_natural_cpu

static void init_32mb(void)
{
    const pmm_range_t map[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    assert_int_equal(pmm_check(), 0);
}

/* ---- two CPUs run dry at once: the hooks give back enough for both ---- */

#define STASH 64
static uint32_t stash[STASH]; /* mm_lock's: filled before, emptied by the hook */
static unsigned nstash;
static unsigned hook_runs;
static size_t stash_hook(void)
{
    assert_true(mm_lock_held());
    assert_false(pmm_lock_held());
    hook_runs++;
    size_t n = nstash;
    while (nstash)
        pmm_free_page(stash[--nstash]);
    return n;
}

static pthread_barrier_t bar;
static uint32_t got[2];
static void *dry_alloc(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    pthread_barrier_wait(&bar);
    got[i] = pmm_alloc_page();
    return NULL;
}

static uint32_t all[16384];
static unsigned take_all(void)
{
    unsigned n = 0;
    uint32_t p;
    while (n < 16384 && (p = pmm_alloc_pages_owner(1, 0, PMM_OWNER_CALLER | PMM_NO_RECLAIM)))
        all[n++] = p;
    return n;
}

static void test_two_cpus_dry_at_once_both_served(void **state)
{
    (void)state;
    init_32mb();
    assert_int_equal(pmm_register_reclaim(stash_hook), 0);
    unsigned n = take_all();
    assert_true(n > 1000);
    uint32_t oom0 = mm_oom_count();
    int quiet = mm_set_oom_reports(1);
    pthread_barrier_init(&bar, NULL, 2);
    unsigned failed = 0;
    for (int round = 0; round < 300; round++) {
        /* the PMM is dry: both CPUs need the hooks, which give back two pages */
        glue_irqflags_t f = mm_lock();
        stash[0] = all[--n];
        stash[1] = all[--n];
        nstash = 2;
        mm_unlock(f);
        pthread_t t[2];
        for (uintptr_t i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&t[i], NULL, dry_alloc, (void *)i), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < 2; i++) {
            if (!got[i])
                failed++;
            else
                all[n++] = got[i];
        }
        assert_int_equal(pmm_check(), 0);
    }
    pthread_barrier_destroy(&bar);
    mm_set_oom_reports(quiet);
    pmm_unregister_reclaim(stash_hook);
    assert_int_equal(failed, 0);
    assert_int_equal(mm_oom_count(), oom0);
    assert_true(hook_runs >= 300);
    printf("  (note: 300 rounds of two CPUs dry at once ran the hooks %u times)\n", hook_runs);
    while (n)
        pmm_free_page(all[--n]);
    assert_int_equal(pmm_check(), 0);
}

/*
 * ---- a drain and the take after it: another CPU's refill in between ----
 * Three pages free, two CPUs each holding at most one: every allocation has
 * a page.  A CPU that finds none drains the lists; were its take not under
 * the same locks as the drain, the other CPU's refill (its list just emptied)
 * could take the drained pages back before it, and it would fail with a
 * free page on a list (found by CI, x86_64-debug, once in ~5 runs).
 */
static volatile int stop_pairs;
static unsigned pair_fails[2];
static unsigned long pair_rounds[2];
static void *alloc_free_loop(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    pthread_barrier_wait(&bar);
    while (!stop_pairs) {
        uint32_t p = pmm_alloc_page();
        if (!p)
            pair_fails[i]++;
        else
            pmm_free_page(p);
        pmm_drain_cpu_lists(); /* the next allocation refills: the window is hit often */
        pair_rounds[i]++;
    }
    return NULL;
}

static void test_drain_then_take_not_raced_by_a_refill(void **state)
{
    (void)state;
    init_32mb();
    unsigned n = take_all();
    assert_true(n > 1000);
    for (int i = 0; i < 3; i++)
        pmm_free_page(all[--n]);
    assert_int_equal(pmm_drain_cpu_lists(), 3);
    uint32_t oom0 = mm_oom_count();
    int quiet = mm_set_oom_reports(1);
    stop_pairs = 0;
    pthread_barrier_init(&bar, NULL, 3);
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, alloc_free_loop, (void *)i), 0);
    pthread_barrier_wait(&bar);
    while (pair_rounds[0] < 200000 || pair_rounds[1] < 200000)
        sched_yield();
    stop_pairs = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    mm_set_oom_reports(quiet);
    printf("  (note: %lu + %lu allocations with 3 pages free among two CPUs)\n", pair_rounds[0],
           pair_rounds[1]);
    assert_int_equal(pair_fails[0] + pair_fails[1], 0);
    assert_int_equal(mm_oom_count(), oom0);
    assert_int_equal(pmm_check(), 0);
    while (n)
        pmm_free_page(all[--n]);
    assert_int_equal(pmm_check(), 0);
}

/* ---- pmm_set_nodes while other CPUs allocate and free ---- */

static volatile int stop_churn;
static void *churn(void *arg)
{
    uint32_t rng = 0x1234567u * (uint32_t)(uintptr_t)(arg) + 1;
    paddr_t held[32] = {0};
    uint32_t len[32] = {0};
    while (!stop_churn) {
        unsigned i = rng_next(&rng) % 32;
        if (held[i]) {
            pmm_free_pages(held[i], len[i]);
            held[i] = 0;
        } else {
            len[i] = 1 + rng_next(&rng) % 9;
            held[i] = pmm_alloc_pages(len[i], 0);
        }
    }
    for (unsigned i = 0; i < 32; i++)
        if (held[i])
            pmm_free_pages(held[i], len[i]);
    return NULL;
}

static void test_set_nodes_while_cpus_allocate(void **state)
{
    (void)state;
    init_32mb();
    const pmm_node_range_t two[] = {{0, 13 * MB + 20 * KB, 0}, {13 * MB + 20 * KB, 32 * MB, 1}};
    const pmm_node_range_t three[] = {{0, 7 * MB + 4 * KB, 2},
                                      {7 * MB + 4 * KB, 21 * MB + 36 * KB, 0},
                                      {21 * MB + 36 * KB, 32 * MB, 1}};
    const uint8_t cpus[] = {0, 1, 1, 0, 1, 0, 1, 0};
    const node_layout_t layouts[] = {
        {2, two, 2, cpus, 8}, {3, three, 3, cpus, 8}, {1, NULL, 0, NULL, 0}};
    uint32_t err0 = mm_error_count();
    stop_churn = 0;
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)i), 0);
    for (int r = 0; r < 300; r++) {
        set_node_layout(&layouts[r % 3]);
        assert_int_equal(pmm_check(), 0);
    }
    stop_churn = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(mm_error_count(), err0);
    pmm_stats_t s;
    pmm_get_stats(&s);
    assert_int_equal(s.owner_pages[PMM_OWNER_CALLER], 0);
}

/* ---- single pages freed right at unaligned node edges, in every order ---- */

static void test_single_pages_at_unaligned_edges(void **state)
{
    (void)state;
    /* edges at odd pages: 1 page, 3 pages and 1 page wide nodes between */
    const paddr_t e1 = 9 * MB + 4 * KB, e2 = e1 + 4 * KB, e3 = e2 + 12 * KB, e4 = e3 + 4 * KB;
    const pmm_node_range_t r[] = {
        {0, e1, 0}, {e1, e2, 1}, {e2, e3, 2}, {e3, e4, 1}, {e4, 32 * MB, 3}};
    assert_int_equal(pmm_set_nodes(4, r, 5, NULL, 0, NULL), 0);
    init_32mb();
    uint32_t n = take_all();
    assert_true(n > 1000);
    /* pages around the edges first, one by one, each followed by a check */
    uint32_t rng = 77;
    for (uint32_t i = n; i > 1; i--) { /* shuffle */
        uint32_t j = rng_next(&rng) % i, x = all[i - 1];
        all[i - 1] = all[j];
        all[j] = x;
    }
    for (uint32_t i = 0; i < n; i++) {
        paddr_t a = all[i];
        pmm_free_page(a);
        if ((a >= e1 - 8 * KB && a < e4 + 8 * KB) || i % 512 == 0)
            assert_int_equal(pmm_check(), 0);
    }
    assert_int_equal(pmm_check(), 0);
    pmm_node_stats_t s1, s2;
    assert_int_equal(pmm_get_node_stats(1, &s1), 0);
    assert_int_equal(pmm_get_node_stats(2, &s2), 0);
    assert_int_equal(s1.free_pages, 2);
    assert_int_equal(s1.free_blocks[0], 2); /* two lone pages: never merged across node 2 */
    assert_int_equal(s2.free_pages, 3);
    assert_int_equal(pmm_page_node(e1), 1);
    assert_int_equal(pmm_page_node(e2), 2);
    assert_int_equal(pmm_page_node(e3), 1);
    assert_int_equal(pmm_page_node(e4), 3);
    /* node 2's three pages, one at a time strictly, then none; a run of 3 needs a block of 4 */
    assert_int_equal(pmm_alloc_pages_node(2 | PMM_NODE_STRICT, 3, 0), 0);
    paddr_t a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = pmm_alloc_page_node(2 | PMM_NODE_STRICT);
        assert_true(a[i] >= e2 && a[i] < e3);
    }
    assert_int_equal(pmm_alloc_page_node(2 | PMM_NODE_STRICT), 0);
    for (int i = 0; i < 3; i++)
        pmm_free_page(a[i]);
    assert_int_equal(pmm_check(), 0);
}

/* ---- a strict allocation on a node without memory ---- */

static unsigned count_hook_runs;
static size_t count_hook(void)
{
    count_hook_runs++;
    return 0;
}

static void test_strict_on_memoryless_node(void **state)
{
    (void)state;
    const pmm_node_range_t r[] = {{0, 32 * MB, 0}, {0x40000000u, 0x40001000u, 1}};
    assert_int_equal(pmm_set_nodes(2, r, 2, NULL, 0, NULL), 0);
    init_32mb();
    uint32_t oom0 = mm_oom_count(), err0 = mm_error_count();
    host_console_clear();
    int was = mm_set_oom_reports(1);
    assert_int_equal(pmm_register_reclaim(count_hook), 0);
    count_hook_runs = 0;
    assert_int_equal(pmm_alloc_page_node(1 | PMM_NODE_STRICT), 0);
    assert_int_equal(pmm_alloc_pages_node(1 | PMM_NODE_STRICT, 8, 0), 0);
    unsigned runs = count_hook_runs;
    paddr_t p = pmm_alloc_page_node(1); /* not strict: node 0 serves it */
    assert_int_not_equal(p, 0);
    assert_int_equal(pmm_page_node(p), 0);
    pmm_free_page(p);
    pmm_unregister_reclaim(count_hook);
    mm_set_oom_reports(was);
    assert_int_equal(mm_oom_count(), oom0);
    assert_int_equal(mm_error_count(), err0);
    assert_false(host_console_has("out of memory"));
    pmm_node_stats_t s;
    assert_int_equal(pmm_get_node_stats(1, &s), 0);
    assert_int_equal(s.total_pages, 0);
    assert_int_equal(s.fallback_allocs, 1);
    assert_int_equal(pmm_check(), 0);
    printf("  (note: strict allocations on the memoryless node ran the reclaim hooks %u times)\n",
           runs);
}

/* ---- reclaim hold / unpaired release now that `reclaiming` is mm_lock's ---- */

static void test_reclaim_hold_blocks_hooks_and_nests(void **state)
{
    (void)state;
    init_32mb();
    assert_int_equal(pmm_register_reclaim(count_hook), 0);
    unsigned n = take_all();
    count_hook_runs = 0;
    int was = mm_set_oom_reports(0);
    pmm_reclaim_hold(1);
    pmm_reclaim_hold(1);
    assert_int_equal(pmm_alloc_page(), 0);
    pmm_reclaim_hold(0);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(count_hook_runs, 0);
    pmm_reclaim_hold(0);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(count_hook_runs, 1);
    uint32_t err0 = mm_error_count();
    pmm_reclaim_hold(0); /* unpaired: reported, nothing changes */
    assert_int_equal(mm_error_count(), err0 + 1);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(count_hook_runs, 2);
    mm_set_oom_reports(was);
    pmm_unregister_reclaim(count_hook);
    while (n)
        pmm_free_page(all[--n]);
    assert_int_equal(pmm_check(), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_two_cpus_dry_at_once_both_served),    T(test_set_nodes_while_cpus_allocate),
        T(test_single_pages_at_unaligned_edges),     T(test_strict_on_memoryless_node),
        T(test_reclaim_hold_blocks_hooks_and_nests), T(test_drain_then_take_not_raced_by_a_refill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

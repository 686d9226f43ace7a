/*
 * test_attack_pmmlock_findings - the findings of the hostile review of the
 * PMM's own lock and the per-node PMM, each failing before its mend, kept as
 * regression tests (test_attack_pmmlock.c keeps the attacks that found
 * nothing).  Threads stand in for CPUs.  The mends: alloc_now checks the
 * node again under the PMM's lock, both times; pmm_check takes mm_lock
 * first; log.c's way out has a lock of its own; pmm_tlb_counts takes the
 * PMM's lock; `reclaiming` lives outside pmm_data.
 *
 *  1. alloc_now keeps the node it computed (and node_ok's check, made
 *     before pmm_lock) across the window where it drops the lock for the
 *     reclaim hooks: a topology changed there (pmm_set_nodes) leaves `want`
 *     naming a node that no longer exists, and a STRICT allocation for it is
 *     served from node 0 (pmm_nodes.fallback[want] zeroed).  The same
 *     through the window between node_ok and pmm_lock.
 *  2. pmm_check takes only pmm_lock: run while another CPU (holding mm_lock,
 *     as the VMM and kmap do) has a page between pmm_free_held and
 *     pmm_tlb_shootdown_free, it reports "page held for a TLB shootdown that
 *     never came".
 *  3. log.c's error count, last error and the console are written by the
 *     PMM under pmm_lock only, and by every other layer under mm_lock: two
 *     CPUs reporting at once lose counts (and race in glue_console_write).
 *  4. pmm_tlb_counts (public) reads the two counters without any lock: a
 *     pair torn against a shootdown in progress.
 *  5. `reclaiming` (mm_lock's) lives in pmm_data, which pmm_init clears under
 *     pmm_lock only: a re-init while another CPU runs the hooks leaves it at
 *     -1, and no allocation runs the hooks again.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "glue_common.h"
#include "harness.h"
#include "lock.h"
#include "log.h"
#include "pmm.h"
#include "pmm_priv.h"

#define MB (1024u * 1024u)
#define KB 1024u

static int setup(void **state)
{
    assert_int_equal(fresh_pmm_one_node(state), 0);
    const pmm_range_t map[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    return 0;
}

#define teardown one_node_natural_cpu

/* four nodes, node 3 without memory (its range above the RAM) */
static const pmm_node_range_t four[] = {
    {0, 8 * MB, 0}, {8 * MB, 16 * MB, 1}, {16 * MB, 32 * MB, 2}, {0x40000000u, 0x40001000u, 3}};
static const pmm_node_range_t two[] = {{0, 16 * MB, 0}, {16 * MB, 32 * MB, 1}};

/* 1a. a reclaim hook changes the topology while alloc_now waits without the PMM's lock */
static size_t shrink_hook(void)
{
    pmm_set_nodes(2, two, 2, NULL, 0, NULL);
    return 0;
}

static void test_strict_node_gone_during_reclaim(void **state)
{
    (void)state;
    assert_int_equal(pmm_set_nodes(4, four, 4, NULL, 0, NULL), 0);
    assert_int_equal(pmm_register_reclaim(shrink_hook), 0);
    paddr_t p = pmm_alloc_page_node(3 | PMM_NODE_STRICT); /* node 3: no memory */
    pmm_unregister_reclaim(shrink_hook);
    int node = p ? pmm_page_node(p) : -1;
    if (p)
        pmm_free_page(p);
    if (p)
        fail_msg("strict allocation for node 3 (none left after the hook) got 0x%08lx on node %d",
                 (unsigned long)p, node);
}

/* 1c. PMM_NODE_ANY while the hook takes the CPU's node away: the CPU's new node serves it */
#define HELD_MAX 16384
static paddr_t held[HELD_MAX];
static unsigned nheld;

static size_t free_and_shrink_hook(void)
{
    while (nheld)
        pmm_free_page(held[--nheld]);
    pmm_set_nodes(2, two, 2, NULL, 0, NULL);
    return 1;
}

static void test_any_node_gone_during_reclaim(void **state)
{
    (void)state;
    static const uint8_t cpu_on_3[1] = {3};
    host_forced_cpu_id = 0;
    assert_int_equal(pmm_set_nodes(4, four, 4, cpu_on_3, 1, NULL), 0);
    paddr_t p;
    while (nheld < HELD_MAX && (p = pmm_alloc_page_node(PMM_NODE_ANY)) != 0)
        held[nheld++] = p; /* every node empty: the next one needs the hook */
    assert_true(nheld > 0 && nheld < HELD_MAX);
    assert_int_equal(pmm_register_reclaim(free_and_shrink_hook), 0);
    host_console_clear();
    p = pmm_alloc_page();
    pmm_unregister_reclaim(free_and_shrink_hook);
    if (!p)
        fail_msg("PMM_NODE_ANY after the hook left 2 nodes: nothing; the console said: %s",
                 host_console_text());
    assert_int_equal(pmm_page_node(p), 0); /* CPU 0's node in the new topology */
    pmm_free_page(p);
    assert_int_equal(pmm_check(), 0);
}

/* 1b. the same between node_ok (no lock) and alloc_now's pmm_lock */
static volatile int asker_ready;
static paddr_t asker_got;
static void *asker(void *arg)
{
    (void)arg;
    asker_ready = 1;
    asker_got = pmm_alloc_page_node(3 | PMM_NODE_STRICT);
    return NULL;
}

static void shrink_in_shootdown(uintptr_t virt, size_t pages)
{
    (void)virt, (void)pages;
    while (!asker_ready)
        ;
    usleep(100 * 1000); /* the asker passed node_ok and spins for the PMM's lock */
    assert_int_equal(pmm_set_nodes(2, two, 2, NULL, 0, NULL), 0); /* nested: this CPU holds it */
}

static void test_strict_node_gone_before_the_lock(void **state)
{
    (void)state;
    assert_int_equal(pmm_set_nodes(4, four, 4, NULL, 0, NULL), 0);
    asker_ready = 0;
    host_tlb_hook = shrink_in_shootdown;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, asker, NULL), 0);
    pmm_tlb_shootdown(0xD0000000u, 1); /* holds the PMM's lock while the hook runs */
    host_tlb_hook = NULL;
    pthread_join(t, NULL);
    paddr_t p = asker_got;
    int node = p ? pmm_page_node(p) : -1;
    if (p)
        pmm_free_page(p);
    assert_int_equal(pmm_check(), 0);
    if (p)
        fail_msg(
            "strict allocation for node 3 (gone before it got the lock) got 0x%08lx on node %d",
            (unsigned long)p, node);
}

/* 2. pmm_check from one CPU while another holds a page for its shootdown */
static pthread_barrier_t bar;
static paddr_t held_page;
static void *unmapper(void *arg)
{
    (void)arg;
    glue_irqflags_t f = vmm_lock(); /* as the VMM, kmap and zswap's vfree hold it */
    assert_int_equal(pmm_free_held("attack", held_page, PMM_OWNER_CALLER), 0);
    pthread_barrier_wait(&bar); /* held */
    usleep(100 * 1000);         /* the other CPU's pmm_check meanwhile */
    pmm_tlb_shootdown_free(0xD0000000u, 1);
    vmm_unlock(f);
    return NULL;
}

/* Mended: pmm_check takes vmm_lock first (mm_lock before the split), so it waits for the holder's
   shootdown. */
static void test_check_during_a_shootdown(void **state)
{
    (void)state;
    held_page = pmm_alloc_page();
    assert_int_not_equal(held_page, 0);
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, unmapper, NULL), 0);
    pthread_barrier_wait(&bar);
    int broken = pmm_check();
    assert_int_equal(pmm_page_state(held_page), 0); /* the check came after the shootdown */
    pthread_join(t, NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(broken, 0);
}

/* 3. two CPUs report at once: the PMM under pmm_lock, another layer under mm_lock */
#define REPORTS 30000
static void *pmm_reporter(void *arg)
{
    (void)arg;
    for (int i = 0; i < REPORTS; i++)
        pmm_free_page(0x1001); /* "not page-aligned", under the PMM's lock only */
    return NULL;
}

static void *mm_reporter(void *arg)
{
    (void)arg;
    for (int i = 0; i < REPORTS; i++) {
        glue_irqflags_t f = mm_lock(); /* as every other layer reports */
        mm_report("attack: %d: under mm_lock", i);
        mm_unlock(f);
    }
    return NULL;
}

static void test_reports_from_both_locks(void **state)
{
    (void)state;
    uint32_t made = 0, counted = 0;
    for (int round = 0; round < 3; round++) {
        uint32_t e0 = mm_error_count();
        pthread_t a, b;
        assert_int_equal(pthread_create(&a, NULL, pmm_reporter, NULL), 0);
        assert_int_equal(pthread_create(&b, NULL, mm_reporter, NULL), 0);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        made += 2u * REPORTS;
        counted += mm_error_count() - e0;
    }
    if (counted != made)
        fail_msg("%u reports made, the error count rose by %u", made, counted);
}

/* 4. pmm_tlb_counts read while shootdowns (each interrupting one CPU) run under the locks */
static volatile int stop;
static void *shooter(void *arg)
{
    (void)arg;
    while (!stop) {
        glue_irqflags_t f = mm_lock();
        pmm_tlb_shootdown(0xD0000000u, 1);
        mm_unlock(f);
    }
    return NULL;
}

static void test_tlb_counts_torn(void **state)
{
    (void)state;
    host_tlb_return = 1; /* every call interrupts one CPU: ipis == shootdowns, always */
    uint32_t s0, i0;
    pmm_tlb_counts(&s0, &i0);
    stop = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, shooter, NULL), 0);
    unsigned torn = 0;
    unsigned long reads = 0;
    for (int round = 0; round < 5; round++) {
        for (int k = 0; k < 100000; k++, reads++) {
            uint32_t s, i;
            pmm_tlb_counts(&s, &i);
            torn += s - s0 != i - i0;
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    if (torn)
        fail_msg("%u of %lu reads of pmm_tlb_counts saw shootdowns != ipis", torn, reads);
}

/*
 * 5. `reclaiming` is mm_lock's, but lives in pmm_data, which pmm_init's
 * memset clears under pmm_lock alone: a re-init (host tests restart the
 * PMM) while another CPU runs the hooks leaves it at -1, and no allocation
 * runs the hooks again.
 */
static pthread_barrier_t bar5;
static int hook5_wait, hook5_runs;
static size_t hook5(void)
{
    hook5_runs++;
    if (hook5_wait) {
        hook5_wait = 0;
        pthread_barrier_wait(&bar5); /* running, reclaiming == 1 */
        pthread_barrier_wait(&bar5); /* the other CPU re-inited the PMM */
    }
    return 0;
}

static void *dry_page(void *arg)
{
    (void)arg;
    uint32_t p;
    while ((p = pmm_alloc_page()) != 0) /* until dry: the hook runs (and waits) */
        ;
    return NULL;
}

static void test_reinit_during_reclaim(void **state)
{
    (void)state;
    int was = mm_set_oom_reports(0);
    assert_int_equal(pmm_register_reclaim(hook5), 0);
    pthread_barrier_init(&bar5, NULL, 2);
    hook5_wait = 1;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, dry_page, NULL), 0);
    pthread_barrier_wait(&bar5);
    const pmm_range_t map[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0); /* takes only the PMM's lock: not held off */
    pthread_barrier_wait(&bar5);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&bar5);
    /* now run dry again on this CPU: the hook must run */
    hook5_runs = 0;
    while (pmm_alloc_page() != 0)
        ;
    pmm_unregister_reclaim(hook5);
    mm_set_oom_reports(was);
    const pmm_range_t again[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(again, 1), 0);
    pmm_reclaim_hold(1); /* whatever `reclaiming` is now: hold and release leave it */
    pmm_reclaim_hold(0);
    if (hook5_runs == 0)
        fail_msg("after a re-init during reclaim, running dry ran no reclaim hook");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_strict_node_gone_during_reclaim),
        T(test_any_node_gone_during_reclaim),
        T(test_strict_node_gone_before_the_lock),
        T(test_check_during_a_shootdown),
        T(test_reports_from_both_locks),
        T(test_tlb_counts_torn),
        T(test_reinit_during_reclaim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

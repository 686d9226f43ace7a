/*
 * test_attack_percpu.c - a hostile review of the per-CPU caches
 * (mm/magazine.c and their side of mm/slab.c), each finding a case.
 *
 * A slab holds per_slab objects and its map's bits past the last one read as
 * taken (slab.c's slab_new).  A pointer one stride past the last object of
 * a slab lies on the cache's stride grid, inside the slab's page when the
 * page has slack past the last object, and its map bit is set: the free
 * paths must still refuse it (it is no object), or the slab's count goes
 * wrong and a later caller gets memory that runs off the page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>

#include <cmocka.h>

#include "glue_common.h"
#include "harness.h"
#include "slab.h"
#ifdef MM_DEBUG
#include "mm_debug.h"
#endif

#define PAGE            4096u
#define MAG_BATCH_GUESS 40 /* more than a magazine holds: some go back, some stay */

/* ---- finding: statistics taken by a constructor during a magazine fill ---- */

static kmem_cache_t *ctor_cache; /* the cache whose ctor looks */
static int ctor_calls, ctor_bad;
static uint32_t ctor_live_seen, ctor_cached_seen;

/*
 * The ctor of a 1000-byte cache (4 a slab): on the 5th object (the 2nd slab,
 * built by a fill that already took the 1st slab's 4 for this CPU's
 * magazine) it asks for the cache's statistics.  The caller holds no object
 * then: live must read 0, and every object out of the slabs is "cached".
 */
static void stats_ctor(void *obj)
{
    (void)obj;
    if (++ctor_calls != 5)
        return;
    kmem_cache_stats_t st;
    if (kmem_cache_get_stats(ctor_cache, &st) != 0) {
        ctor_bad = 1;
        return;
    }
    ctor_live_seen = st.live;
    ctor_cached_seen = st.cpu_cached;
    /* the checkers, from inside the fill: sound, nothing to report */
    if (kmem_cache_check() != 0 || heap_check() != 0)
        ctor_bad = 2;
    memory_stats_t ms;
    get_memory_stats(&ms);
    if (ms.slab_cpu_cached < st.cpu_cached)
        ctor_bad = 3;
}

static void test_stats_from_a_ctor_during_a_fill(void **state)
{
    (void)state;
    ctor_calls = ctor_bad = 0;
    ctor_live_seen = ctor_cached_seen = 0xdead;
    ctor_cache = kmem_cache_create("statctor", 1000, 0, stats_ctor);
    assert_non_null(ctor_cache);
    void *o = kmem_cache_alloc(ctor_cache); /* CPU 0's first: a fill of MAG_BATCH */
    assert_non_null(o);
    assert_true(ctor_calls >= 5);
    assert_int_equal(ctor_bad, 0);
    print_message("      inside the fill: live %u, cpu_cached %u\n", ctor_live_seen,
                  ctor_cached_seen);
    assert_int_equal(ctor_live_seen, 0); /* the caller holds nothing yet */
    kmem_cache_free(ctor_cache, o);
    kmem_cache_stats_t st;
    assert_int_equal(kmem_cache_get_stats(ctor_cache, &st), 0);
    assert_int_equal(st.live, 0);
    assert_int_equal(kmem_cache_destroy(ctor_cache), 0);
    check_every_layer();
}

/* ---- finding: kmem_cache_destroy from inside mm/ with this CPU's magazines busy ---- */

static kmem_cache_t *victim;
static int destroy_result = 99;

/* The ctor of another cache destroys `victim`, all of whose objects its callers freed. */
static void destroy_ctor(void *obj)
{
    (void)obj;
    if (victim) {
        destroy_result = kmem_cache_destroy(victim);
        victim = NULL;
    }
}

static void test_destroy_from_a_ctor(void **state)
{
    (void)state;
    kmem_cache_t *v = kmem_cache_create("victim", 64, 0, NULL);
    assert_non_null(v);
    void *a = kmem_cache_alloc(v);
    kmem_cache_free(v, a); /* into CPU 0's magazine: the caller holds nothing of v */
    kmem_cache_stats_t st;
    assert_int_equal(kmem_cache_get_stats(v, &st), 0);
    assert_int_equal(st.live, 0);
    kmem_cache_t *c = kmem_cache_create("destroyer", 100, 0, destroy_ctor);
    assert_non_null(c);
    victim = v;
    uint32_t e = errors_now();
    void *o = kmem_cache_alloc(c); /* CPU 0's fill runs the ctor, CPU 0's cache lock held */
    assert_non_null(o);
    print_message("      kmem_cache_destroy from the ctor: %d (%s)\n", destroy_result,
                  errors_now() != e ? mm_last_error() : "no report");
    assert_int_equal(errors_now(), e);
    assert_int_equal(destroy_result, 0);
    kmem_cache_free(c, o);
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
}

/* ---- finding: kmem_cache_cpu_objects from inside mm/ on its own CPU ---- */

static void hung(int sig)
{
    (void)sig;
    static const char msg[] = "test_attack_percpu: hung (a CPU spins on its own cache lock)\n";
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to say */
    }
    _exit(1);
}

static uint32_t seen_cpu_objects = 0xdead;

/* The ctor of a cache, run by CPU 0's fill (CPU 0's cache lock held), asks what CPU 0 keeps. */
static void cpu_objects_ctor(void *obj)
{
    (void)obj;
    seen_cpu_objects = kmem_cache_cpu_objects(0);
}

static void test_cpu_objects_from_a_ctor(void **state)
{
    (void)state;
    void *k = kmalloc(40);
    kfree(k); /* CPU 0 keeps some of kmalloc's 48-byte class */
    uint32_t before = kmem_cache_cpu_objects(0);
    assert_true(before > 0);
    kmem_cache_t *c = kmem_cache_create("cpuobj", 100, 0, cpu_objects_ctor);
    assert_non_null(c);
    signal(SIGALRM, hung);
    alarm(10);
    void *o = kmem_cache_alloc(c); /* the fill runs the ctor */
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    assert_non_null(o);
    assert_true(seen_cpu_objects >= before); /* the other classes', and the fill's so far */
    kmem_cache_free(c, o);
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
}

/* ---- memory_init / heap_init_virtual restarts while every CPU's magazines hold objects ---- */

static void fill_cpus(kmem_cache_t *c)
{
    for (int cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        host_forced_cpu_id = cpu;
        void *p[MAG_BATCH_GUESS];
        for (int i = 0; i < MAG_BATCH_GUESS; i++)
            p[i] = kmalloc((size_t)(8 + 8 * (i % 20)));
        for (int i = 0; i < MAG_BATCH_GUESS; i++)
            kfree(p[i]);
        if (c) {
            void *o = kmem_cache_alloc(c);
            kmem_cache_free(c, o);
        }
        assert_true(kmem_cache_cpu_objects(cpu) > 0);
    }
    host_forced_cpu_id = 0;
}

static void assert_no_cpu_objects(void)
{
    for (int cpu = 0; cpu < MM_MAX_CPUS; cpu++)
        assert_int_equal(kmem_cache_cpu_objects(cpu), 0);
    assert_int_equal(stats_now().slab_cpu_cached, 0);
}

/* Then the same slots, the same caches again: no stale magazine survives. */
static void test_restart_with_full_magazines(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        kmem_cache_t *c = kmem_cache_create("restart", 56, 0, NULL);
        assert_non_null(c);
        fill_cpus(c);
        assert_true(stats_now().slab_cpu_cached > 0);
        check_every_layer();
        fresh_every_layer(32u << 20); /* memory_init, paging, the virtual heap again */
        assert_no_cpu_objects();
        check_every_layer();
        /* the new cache takes the old one's slot: its magazines start empty */
        kmem_cache_t *d = kmem_cache_create("restart", 56, 0, NULL);
        assert_non_null(d);
        kmem_cache_stats_t st;
        assert_int_equal(kmem_cache_get_stats(d, &st), 0);
        assert_int_equal(st.cpu_cached, 0);
        assert_int_equal(st.live, 0);
        void *o[40];
        for (int i = 0; i < 40; i++)
            assert_non_null(o[i] = kmem_cache_alloc(d));
        for (int i = 0; i < 40; i++)
            kmem_cache_free(d, o[i]);
        check_every_layer();
        assert_int_equal(kmem_cache_destroy(d), 0);
        fresh_every_layer(32u << 20);
    }
}

/* Destroy with objects in every CPU's magazines, then a new cache in the slot. */
static void test_destroy_with_objects_on_every_cpu(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("everycpu", 200, 0, NULL);
    assert_non_null(c);
    fill_cpus(c);
    kmem_cache_stats_t st;
    assert_int_equal(kmem_cache_get_stats(c, &st), 0);
    assert_int_equal(st.live, 0);
    assert_true(st.cpu_cached >= MM_MAX_CPUS);
    host_forced_cpu_id = 5;
    assert_int_equal(kmem_cache_destroy(c), 0);
    host_forced_cpu_id = 0;
    check_every_layer();
    /* a freed slot is reused last: create (and destroy) until c's slot comes back */
    kmem_cache_t *d = NULL;
    for (int i = 0; i < 4 * KMEM_CACHE_MAX && d != c; i++) {
        if (d)
            assert_int_equal(kmem_cache_destroy(d), 0);
        d = kmem_cache_create("everycpu2", 200, 0, NULL);
        assert_non_null(d);
    }
    assert_ptr_equal(d, c);
    assert_int_equal(kmem_cache_get_stats(d, &st), 0);
    assert_int_equal(st.cpu_cached, 0);
    void *o = kmem_cache_alloc(d);
    assert_non_null(o);
    kmem_cache_free(d, o);
    check_every_layer();
}

#ifdef MM_DEBUG
/* The debug build: checks switched on by a restart while the magazines hold objects, then off. */
static void test_debug_on_and_off_across_restarts(void **state)
{
    (void)state;
    fill_cpus(NULL);
    mm_debug_set(1);
    fresh_every_layer(32u << 20);
    assert_no_cpu_objects();
    unsigned long before = host_spin_locks;
    for (int i = 0; i < 100; i++)
        kfree(kmalloc(64));
    assert_true(host_spin_locks - before >= 100); /* checks on: the shared path */
    assert_no_cpu_objects();
    char *p = kmalloc(64);
    kfree(p);
    uint32_t e = errors_now();
    kfree(p);
    assert_int_equal(errors_now(), e + 1);
    check_every_layer();
    mm_debug_set(0);
    fresh_every_layer(32u << 20);
    fill_cpus(NULL);
    check_every_layer();
    mm_debug_set(1);
    fresh_every_layer(32u << 20);
    assert_no_cpu_objects();
    check_every_layer();
    mm_debug_set(0);
    fresh_every_layer(32u << 20);
}
#endif

/*
 * ---- the PMM dry while fills run: a fill fails half-way ----
 * The heap grows without the PMM's reclaim (pmm.h: a slab being made is not
 * reclaimed under itself), so a hook never runs inside a fill: the fill
 * stops, what it got is handed out, and nothing is lost or left marked.
 */

static int hook_runs;
static uint32_t hook_saw_cpu0 = 0xdead;

static size_t reaping_hook(void)
{
    hook_runs++;
    kmem_cache_reap();
    hook_saw_cpu0 = kmem_cache_cpu_objects(0);
    return 0;
}

static void test_fill_fails_half_way(void **state)
{
    (void)state;
    void *p[16];
    for (int i = 0; i < 16; i++)
        p[i] = kmalloc(256);
    for (int i = 0; i < 16; i++)
        kfree(p[i]); /* CPU 0 keeps some of the 256-byte class */
    assert_true(kmem_cache_cpu_objects(0) > 0);
    kmem_cache_t *c = kmem_cache_create("hooked", 300, 0, NULL);
    assert_non_null(c);
    static paddr_t taken[(32u << 20) / 4096];
    unsigned n = 0;
    pmm_stats_t ps;
    for (pmm_get_stats(&ps); ps.free_pages; pmm_get_stats(&ps))
        assert_int_not_equal(taken[n++] = pmm_alloc_page(), 0); /* the PMM dry */
    assert_int_equal(pmm_register_reclaim(reaping_hook), 0);
    signal(SIGALRM, hung);
    alarm(10);
    static void *objs[40000];
    int got = 0;
    while (got < 40000 && (objs[got] = kmem_cache_alloc(c)) != NULL)
        got++; /* until no page is left for a slab */
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    pmm_unregister_reclaim(reaping_hook);
    print_message("      %d objects before the heap ran dry; the hook ran %d times\n", got,
                  hook_runs);
    assert_true(got > 0 && got < 40000);
    assert_int_equal(hook_runs, 0); /* never from inside a fill */
    kmem_cache_stats_t st;
    assert_int_equal(kmem_cache_get_stats(c, &st), 0);
    assert_int_equal(st.live, (uint32_t)got); /* the callers' exactly, the rest kept */
    assert_int_equal(kmem_cache_check(), 0);
    while (n)
        pmm_free_page(taken[--n]);
    for (int i = 0; i < got; i++)
        kmem_cache_free(c, objs[i]);
    check_every_layer();
    assert_int_equal(kmem_cache_get_stats(c, &st), 0);
    assert_int_equal(st.live, 0);
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
}

#define T(f) cmocka_unit_test_setup_teardown(f, fresh_as_cpu0, natural_cpu_ids)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_stats_from_a_ctor_during_a_fill),  T(test_destroy_from_a_ctor),
        T(test_cpu_objects_from_a_ctor),          T(test_fill_fails_half_way),
        T(test_restart_with_full_magazines),      T(test_destroy_with_objects_on_every_cpu),
#ifdef MM_DEBUG
        T(test_debug_on_and_off_across_restarts),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

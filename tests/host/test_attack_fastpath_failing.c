/*
 * test_attack_fastpath_failing.c - FINDINGS of the hostile review of the
 * per-CPU fast path (mm/magazine.h, mm/magazine.c, mm/slab.c's fill and
 * mm/kmem_cache.c's statistics): each case FAILS on main (b512a3f) and
 * describes what goes wrong and where.  Do not merge before the fixes: the
 * host suite (make test-host, test-debug) fails while they are open.
 * The attacks the code survives are test_attack_fastpath.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>

#include <cmocka.h>

#include "glue_common.h"
#include "harness.h"
#include "slab.h"

/*
 * FINDING (statistics): a destroyed cache's slot is reused by the next
 * kmem_cache_create, but each CPU's magazine of that slot keeps its
 * allocs/frees counters (slab_cache_init clears the kmem_cache_t, not
 * slab_all.cpu[*].mag[slot]; kmem_cache_destroy's drain empties the
 * magazines, m->n = 0, and leaves the counters).  The new cache's
 * kmem_cache_get_stats then reports allocations and frees it never had.
 */
static void test_reused_slot_starts_with_zero_counts(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("first", 200, 0, NULL);
    assert_non_null(c);
    for (int cpu = 0; cpu < 3; cpu++) {
        host_forced_cpu_id = cpu;
        for (int i = 0; i < 10; i++)
            kmem_cache_free(c, kmem_cache_alloc(c));
    }
    host_forced_cpu_id = 0;
    assert_int_equal(cache_stats(c).allocs, 30);
    assert_int_equal(kmem_cache_destroy(c), 0);
    /* a freed slot is reused last: create (and destroy) until c's comes back */
    kmem_cache_t *d = NULL;
    for (int i = 0; i < 4 * KMEM_CACHE_MAX && d != c; i++) {
        if (d)
            assert_int_equal(kmem_cache_destroy(d), 0);
        d = kmem_cache_create("second", 200, 0, NULL);
        assert_non_null(d);
    }
    assert_ptr_equal(d, c);
    kmem_cache_stats_t st = cache_stats(d);
    print_message("      new cache in the old slot: allocs %u, frees %u (want 0, 0)\n",
                  (unsigned)st.allocs, (unsigned)st.frees);
    assert_int_equal(st.allocs, 0);
    assert_int_equal(st.frees, 0);
    void *o = kmem_cache_alloc(d);
    kmem_cache_free(d, o);
    st = cache_stats(d);
    assert_int_equal(st.allocs, 1);
    assert_int_equal(st.frees, 1);
    assert_int_equal(kmem_cache_destroy(d), 0);
}

/*
 * FINDING (statistics): peak_live counts the objects a fill moved into a
 * CPU's magazine.  One kmem_cache_alloc on a fresh cache fills MAG_BATCH (16) objects
 * (slab_mag_fill -> slab_take_live raises c->live and c->peak_live by each),
 * so kmem_cache_get_stats says live 1 and peak_live 16: a high-water mark the
 * caller never reached.  live itself is corrected (c->live - cached); the
 * peak is not.
 */
static void test_peak_live_is_the_callers(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("peak", 48, 0, NULL);
    assert_non_null(c);
    void *o = kmem_cache_alloc(c);
    assert_non_null(o);
    kmem_cache_stats_t st = cache_stats(c);
    print_message("      after one alloc: live %u, peak_live %u, cpu_cached %u\n",
                  (unsigned)st.live, (unsigned)st.peak_live, (unsigned)st.cpu_cached);
    assert_int_equal(st.live, 1);
    assert_true(st.peak_live >= st.live);
    assert_int_equal(st.peak_live, 1);
    kmem_cache_free(c, o);
    assert_int_equal(kmem_cache_destroy(c), 0);
}

/* ---- a second CPU allocates from a cache while it is destroyed ---- */

/*
 * FINDING (always-on check, race): mag_cache_alloc checks slab_cache_ok(c)
 * before mag_cpu_enter takes this CPU's cache lock, and mag_take never looks
 * again.  kmem_cache_destroy holds every CPU's cache lock while it drains
 * and clears the magic, so a CPU that passed the check and then waits for
 * its own cache lock (held by the destroy) goes on, once the destroy is
 * done, with an empty magazine into mag_take_filled: slab_mag_fill makes a
 * new slab for the destroyed cache and hands its object out.  The shared
 * path re-checks under the lock (idle_cache); the fast path does not.  The
 * slab page is then a slab of no live cache (kmem_cache_check: "slab's cache
 * is not a live cache"), lost until memory_init, and the caller's free of
 * the object is refused ("not a cache").
 *
 * The allocating thread holds nothing between its calls, so each destroy
 * sees no live object and succeeds; a successful alloc that the destroy
 * did not see is the bug.
 */
static kmem_cache_t *volatile race_cache;
static volatile int race_stop, race_go;
static volatile unsigned long race_allocs;

static void *race_allocator(void *arg)
{
    (void)arg;
    while (!race_stop) {
        kmem_cache_t *c = race_cache;
        if (!c || !race_go) {
            sched_yield();
            continue;
        }
        void *o = kmem_cache_alloc(c); /* NULL (reported) once c is gone: a caller's bug */
        if (o) {
            race_allocs++;
            kmem_cache_free(c, o);
        }
    }
    return NULL;
}

static int natural_fresh(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    fresh_every_layer(32u << 20);
    return 0;
}

static void test_alloc_racing_destroy(void **state)
{
    (void)state;
    race_stop = race_go = 0;
    race_cache = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, race_allocator, NULL), 0);
    int destroyed = 0, bad_rounds = 0, first_bad = -1;
    for (int round = 0; round < 300 && bad_rounds == 0; round++) {
        kmem_cache_t *c = kmem_cache_create("racy", 64, 0, NULL);
        assert_non_null(c);
        race_cache = c;
        race_go = 1;
        unsigned long a0 = race_allocs;
        while (race_allocs - a0 < 50)
            sched_yield();
        int r;
        while ((r = kmem_cache_destroy(c)) != 0)
            sched_yield(); /* refused while the thread holds an object: again */
        destroyed++;
        race_go = 0;
        race_cache = NULL;
        /* the thread's last call is done before it looks at race_go again */
        unsigned long a1 = race_allocs;
        for (int k = 0; k < 1000; k++)
            sched_yield();
        (void)a1;
        host_console_clear();
        int errors = kmem_cache_check();
        if (errors) {
            bad_rounds++;
            first_bad = round;
            assert_true(host_console_has("not a live cache"));
        }
    }
    race_stop = 1;
    pthread_join(t, NULL);
    print_message("      %d destroys, %lu allocations raced them; first broken round %d%s\n",
                  destroyed, race_allocs, first_bad,
                  bad_rounds ? ": kmem_cache_check found a slab of no live cache" : "");
    assert_int_equal(bad_rounds, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reused_slot_starts_with_zero_counts, fresh_as_cpu0,
                                        natural_cpu_ids),
        cmocka_unit_test_setup_teardown(test_peak_live_is_the_callers, fresh_as_cpu0,
                                        natural_cpu_ids),
        cmocka_unit_test_setup_teardown(test_alloc_racing_destroy, natural_fresh, natural_cpu_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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

#include <cmocka.h>

#include "glue_common.h"
#include "harness.h"
#include "slab.h"

#define PAGE 4096u

static int fresh(void **state)
{
    (void)state;
    host_forced_cpu_id = 0;
    fresh_every_layer(32u << 20);
    return 0;
}

static int natural(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    return 0;
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stats_from_a_ctor_during_a_fill, fresh, natural),
        cmocka_unit_test_setup_teardown(test_destroy_from_a_ctor, fresh, natural),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_percpu.c - the per-CPU caches in front of the slabs (mm/magazine.c).
 *
 * The host glue lets a test say which CPU it is (host_forced_cpu_id), and
 * counts the times mm/'s shared lock is taken (host_spin_locks).  Expect:
 * allocations and frees that balance on one CPU take no shared lock; an
 * object freed on another CPU than the one that allocated it works and is
 * not lost; every always-on check (double free, in a cache or already in its
 * slab; an interior pointer; a wild one; another cache's object) still
 * reports and refuses; statistics count callers' objects and those the CPUs
 * keep apart, exactly; shrink, destroy and the PMM's reclaim drain the CPUs;
 * a CPU numbered past MM_MAX_CPUS works on the shared path.
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

/* Balanced kmalloc/kfree and kmem_cache_alloc/free on one CPU: no shared lock after warm-up. */
static void test_fast_path_takes_no_shared_lock(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("fast", 72, 0, NULL);
    void *warm = kmalloc(64), *warm2 = kmem_cache_alloc(c); /* the magazines filled once */
    kfree(kcalloc(4, 10));
    kfree(kmalloc_aligned(100, 8));
    kfree(warm);
    kmem_cache_free(c, warm2);
    unsigned long before = host_spin_locks;
    for (int i = 0; i < 10000; i++) {
        void *p = kmalloc(64), *q = kmem_cache_alloc(c), *r = kcalloc(4, 10);
        assert_non_null(p);
        assert_non_null(q);
        assert_non_null(r);
        memset(p, 0xA5, 64);
        memset(q, 0x5A, 72);
        assert_int_equal(((unsigned char *)r)[39], 0);
        kfree(r);
        kmem_cache_free(c, q);
        kfree(p);
        void *a = kmalloc_aligned(100, 8); /* malloc's alignment or less: kmalloc's path */
        assert_int_equal((uintptr_t)a % 8, 0);
        kfree(a);
    }
    print_message("      40000 allocations and frees took the shared lock %lu times\n",
                  host_spin_locks - before);
    assert_int_equal(host_spin_locks - before, 0);
    check_every_layer();
    memory_stats_t s = stats_now();
    assert_int_equal(s.allocation_count - s.free_count, 0);
    assert_int_equal(kmem_cache_destroy(c), 0);
}

/* A burst bigger than a magazine: the lock once per MAG_BATCH objects at most. */
static void test_bursts_take_the_lock_per_batch(void **state)
{
    (void)state;
    enum { N = 4096 };
    static void *p[N];
    unsigned long before = host_spin_locks;
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = kmalloc(32));
    for (int i = 0; i < N; i++)
        kfree(p[i]);
    unsigned long taken = host_spin_locks - before;
    print_message("      %d kmallocs then %d kfrees of 32 bytes: the shared lock %lu times\n", N, N,
                  taken);
    assert_true(taken <= 2 * N / 8 + 8);
    check_every_layer();
}

/*
 * Allocated on CPU 0, freed on CPU 1: kept by CPU 1 apart from its own (its remote magazine,
 * slab_cpu_t.rmag), given back to the slabs 32 at a time, never handed out by CPU 1; nothing
 * lost, every count exact.
 */
static void test_free_on_another_cpu(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("remote", 100, 0, NULL);
    enum { N = 100, ROUNDS = 32 /* MAG_ROUNDS */ };
    void *p[N], *k[N];
    for (int i = 0; i < N; i++) {
        assert_non_null(p[i] = kmem_cache_alloc(c));
        assert_non_null(k[i] = kmalloc(200));
        memset(p[i], i, 100);
    }
    memory_stats_t s0 = stats_now();
    assert_int_equal(cache_stats(c).live, N);
    uint32_t cpu0 = kmem_cache_cpu_objects(0);
    assert_int_equal(kmem_cache_cpu_objects(1), 0);
    host_forced_cpu_id = 1;
    for (int i = 0; i < N; i++) {
        kmem_cache_free(c, p[i]);
        kfree(k[i]);
    }
    check_every_layer();
    kmem_cache_stats_t st = cache_stats(c);
    assert_int_equal(st.live, 0);
    assert_int_equal(st.allocs, N);
    assert_int_equal(st.frees, N);
    /* CPU 1 keeps the last N % 32 of each cache (a full remote magazine goes back whole) */
    assert_int_equal(kmem_cache_cpu_objects(1), 2 * (N % ROUNDS));
    assert_int_equal(kmem_cache_cpu_objects(0), cpu0);
    /* (CPU 0 keeps what its last fills left, of this cache and of kmalloc-256: cpu0 in all) */
    assert_true(st.cpu_cached >= N % ROUNDS && st.cpu_cached <= N % ROUNDS + cpu0);
    memory_stats_t s1 = stats_now();
    assert_int_equal(s1.slab_objects, s0.slab_objects - 2 * N);
    assert_int_equal(s1.free_count - s0.free_count, N); /* kfree's count: kmalloc's objects */
    /* CPU 1 hands out none of those it keeps for CPU 0's slabs (the last N % 32 freed) */
    void *again[2 * ROUNDS];
    for (int j = 0; j < 2 * ROUNDS; j++) {
        assert_non_null(again[j] = kmem_cache_alloc(c));
        for (int i = N - N % ROUNDS; i < N; i++)
            assert_ptr_not_equal(again[j], p[i]);
    }
    for (int j = 0; j < 2 * ROUNDS; j++)
        kmem_cache_free(c, again[j]);
    check_every_layer();
    /* destroy drains every CPU's cache of it, whoever runs it */
    host_forced_cpu_id = 0;
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
    assert_int_equal(kmem_cache_cpu_objects(1) + kmem_cache_cpu_objects(0),
                     stats_now().slab_cpu_cached);
}

/*
 * Each CPU fills its magazines from slabs of its own: four CPUs taking turns
 * (a batch each, as their fills interleave) never get objects of one page,
 * in a caller's cache or in a kmalloc class, while the slabs have room; the
 * checker stays at 0 after each round; a released slab is no CPU's any more.
 */
static void test_cpus_fill_from_their_own_slabs(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("own", 100, 0, NULL);
    enum { CPUS = 4, ROUNDS = 6, EACH = 8 };
    void *obj[2][CPUS][ROUNDS * EACH];
    for (int r = 0; r < ROUNDS; r++) {
        for (int cpu = 0; cpu < CPUS; cpu++) {
            host_forced_cpu_id = cpu;
            for (int k = 0; k < EACH; k++) {
                assert_non_null(obj[0][cpu][r * EACH + k] = kmem_cache_alloc(c));
                assert_non_null(obj[1][cpu][r * EACH + k] = kmalloc(64));
            }
        }
        check_every_layer();
    }
    for (int kind = 0; kind < 2; kind++) {
        for (int a = 0; a < CPUS; a++) {
            for (int b = a + 1; b < CPUS; b++) {
                for (int i = 0; i < ROUNDS * EACH; i++) {
                    for (int j = 0; j < ROUNDS * EACH; j++) {
                        uintptr_t pa = (uintptr_t)obj[kind][a][i] >> 12;
                        uintptr_t pb = (uintptr_t)obj[kind][b][j] >> 12;
                        if (pa == pb)
                            fail_msg("%s: CPUs %d and %d share page %#lx",
                                     kind ? "kmalloc-64" : "own", a, b, (unsigned long)pa << 12);
                    }
                }
            }
        }
    }
    /* all back (each on the CPU after its own: remote frees), every slab released */
    for (int cpu = 0; cpu < CPUS; cpu++) {
        host_forced_cpu_id = (cpu + 1) % CPUS;
        for (int i = 0; i < ROUNDS * EACH; i++) {
            kmem_cache_free(c, obj[0][cpu][i]);
            kfree(obj[1][cpu][i]);
        }
    }
    check_every_layer();
    host_forced_cpu_id = 0;
    assert_int_equal(kmem_cache_shrink(c) >= 0, 1);
    assert_int_equal(cache_stats(c).slabs, 0);
    check_every_layer();
    /* and the CPUs fill again from new slabs */
    for (int cpu = 0; cpu < CPUS; cpu++) {
        host_forced_cpu_id = cpu;
        void *p = kmem_cache_alloc(c);
        assert_non_null(p);
        kmem_cache_free(c, p);
    }
    check_every_layer();
    host_forced_cpu_id = 0;
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
}

/*
 * A slab a CPU filled from stays that CPU's while objects of it are out,
 * after the CPU moved on to another: CPU 0 takes three slabs' worth and
 * gives some of the first back (shrink drains its magazine into that slab:
 * partial again, no CPU's current one); then CPU 1's objects come from
 * pages none of CPU 0's objects are on.  (Two CPUs on one slab write its
 * descriptor's cached marks, one cache line, on every kmalloc and kfree:
 * random 200-300 B on two threads measured 0.66-1.68x one thread's rate.)
 */
static void test_a_slab_moved_on_from_stays_its_cpus(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("moved", 100, 0, NULL);
    unsigned per = cache_stats(c).objects_per_slab;
    enum { MAX = 3 * 64, EACH = 8 };
    assert_true(per >= 8 && 3 * per <= MAX);
    void *a[MAX], *b[EACH];
    host_forced_cpu_id = 0;
    for (unsigned i = 0; i < 3 * per; i++)
        assert_non_null(a[i] = kmem_cache_alloc(c));
    for (unsigned i = 0; i < per / 2; i++) /* half of the first slab's back */
        kmem_cache_free(c, a[i]);
    assert_int_equal(kmem_cache_shrink(c) >= 0, 1); /* CPU 0's magazine drained into it */
    check_every_layer();
    host_forced_cpu_id = 1;
    for (int k = 0; k < EACH; k++)
        assert_non_null(b[k] = kmem_cache_alloc(c));
    check_every_layer();
    for (int k = 0; k < EACH; k++) {
        for (unsigned i = per / 2; i < 3 * per; i++) {
            if ((uintptr_t)b[k] >> 12 == (uintptr_t)a[i] >> 12)
                fail_msg("CPU 1's object %p is on page %#lx, where CPU 0 holds %p", b[k],
                         (unsigned long)((uintptr_t)a[i] >> 12 << 12), a[i]);
        }
    }
    for (int k = 0; k < EACH; k++)
        kmem_cache_free(c, b[k]);
    host_forced_cpu_id = 0;
    for (unsigned i = per / 2; i < 3 * per; i++)
        kmem_cache_free(c, a[i]);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
}

/* A double free of an object a CPU keeps: reported, refused, never handed out twice. */
static void test_double_free_in_a_cache(void **state)
{
    (void)state;
    void *a = kmalloc(48);
    kfree(a);
    uint32_t e = errors_now();
    kfree(a); /* a sits in this CPU's magazine */
    assert_int_equal(errors_now(), e + 1);
    assert_reported("kfree", a, "double free");
    host_forced_cpu_id = 3;
    kfree(a); /* and from another CPU */
    assert_int_equal(errors_now(), e + 2);
    assert_reported("kfree", a, "in a CPU's cache");
    host_forced_cpu_id = 0;
    void *x = kmalloc(48), *y = kmalloc(48);
    assert_ptr_not_equal(x, y);
    check_every_layer();
    kfree(x);
    kfree(y);
    /* freed back into its slab (the magazine flushed), then freed again */
    enum { N = 64 };
    void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = kmalloc(48);
    for (int i = 0; i < N - 1; i++) /* p[N - 1] keeps the slab */
        kfree(p[i]);
    kmem_cache_reap(); /* every CPU's cache drained: p[0] is free in its slab */
    e = errors_now();
    kfree(p[0]);
    assert_int_equal(errors_now(), e + 1);
    assert_reported("kfree", p[0], "already free");
    kfree(p[N - 1]);
    check_every_layer();
}

/* Interior, wild and other-cache pointers on the fast path: reported by the shared path. */
static void test_bad_pointers_still_reported(void **state)
{
    (void)state;
    kmem_cache_t *a = kmem_cache_create("a", 40, 0, NULL), *b = kmem_cache_create("b", 40, 0, NULL);
    char *o = kmem_cache_alloc(a);
    uint32_t e = errors_now();
    kmem_cache_free(b, o);
    assert_int_equal(errors_now(), e + 1);
    assert_reported("kmem_cache_free", o, "not of 'b'");
    kmem_cache_free(a, o + 8);
    assert_int_equal(errors_now(), e + 2);
    assert_reported("kmem_cache_free", o + 8, "interior pointer");
    char *k = kmalloc(64);
    kfree(k + 1);
    assert_int_equal(errors_now(), e + 3);
    assert_reported("kfree", k + 1, "interior pointer");
    static char not_heap[64];
    kfree(not_heap);
    assert_int_equal(errors_now(), e + 4);
    kmem_cache_free(a, o);
    kfree(k);
    assert_int_equal(errors_now(), e + 4);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(a), 0);
    assert_int_equal(kmem_cache_destroy(b), 0);
}

/* Statistics: callers' objects and those the CPUs keep, apart and exact. */
static void test_statistics_are_exact(void **state)
{
    (void)state;
    memory_stats_t s0 = stats_now();
    enum { N = 50 };
    void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = kmalloc(16 + i);
    memory_stats_t s1 = stats_now();
    assert_int_equal(s1.slab_objects, s0.slab_objects + N);
    assert_int_equal(s1.allocation_count, s0.allocation_count + N);
    for (int i = 0; i < N; i++)
        kfree(p[i]);
    memory_stats_t s2 = stats_now();
    assert_int_equal(s2.slab_objects, s0.slab_objects);
    assert_int_equal(s2.free_count, s0.free_count + N);
    assert_true(s2.slab_cpu_cached > 0);
    assert_int_equal(s2.slab_cpu_cached, kmem_cache_cpu_objects(0));
    host_console_clear();
    kmem_cache_dump();
    assert_true(host_console_has(" cpu"));
    kmem_cache_reap();
    assert_int_equal(stats_now().slab_cpu_cached, 0);
    assert_int_equal(kmem_cache_cpu_objects(0), 0);
    assert_int_equal(kmem_cache_cpu_objects(-1), 0);
    assert_int_equal(kmem_cache_cpu_objects(MM_MAX_CPUS), 0);
}

/* shrink drains the CPUs' caches of that cache first, then gives the empty slabs back. */
static void test_shrink_drains(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("shrunk", 500, 0, NULL);
    void *o[8];
    for (int cpu = 0; cpu < 4; cpu++) {
        host_forced_cpu_id = cpu;
        for (int i = 0; i < 8; i++)
            o[i] = kmem_cache_alloc(c);
        for (int i = 0; i < 8; i++)
            kmem_cache_free(c, o[i]);
    }
    assert_true(cache_stats(c).cpu_cached > 0);
    assert_true(cache_stats(c).slabs > 0);
    host_forced_cpu_id = 2;
    assert_true(kmem_cache_shrink(c) > 0);
    kmem_cache_stats_t st = cache_stats(c);
    assert_int_equal(st.cpu_cached, 0);
    assert_int_equal(st.slabs, 0);
    check_every_layer();
}

/* A CPU past MM_MAX_CPUS runs on the shared path: correct, counted, checked. */
static void test_cpu_without_a_cache(void **state)
{
    (void)state;
    host_forced_cpu_id = MM_MAX_CPUS + 5;
    unsigned long before = host_spin_locks;
    void *p = kmalloc(64);
    kfree(p);
    assert_int_equal(host_spin_locks - before, 2);
    assert_int_equal(stats_now().slab_cpu_cached, 0);
    host_forced_cpu_id = 0;
    check_every_layer();
}

/* The PMM's reclaim, run from inside mm/, drains the caches of CPUs not busy. */
static void test_reclaim_drains(void **state)
{
    (void)state;
    host_forced_cpu_id = 1;
    void *p[16];
    for (int i = 0; i < 16; i++)
        p[i] = kmalloc(256);
    for (int i = 0; i < 16; i++)
        kfree(p[i]);
    assert_true(stats_now().slab_cpu_cached > 0);
    host_forced_cpu_id = 0;
    static paddr_t taken[(32u << 20) / PAGE_SIZE];
    unsigned n = 0;
    pmm_stats_t ps;
    for (pmm_get_stats(&ps); ps.free_pages; pmm_get_stats(&ps))
        assert_int_not_equal(taken[n++] = pmm_alloc_page(), 0); /* the PMM dry */
    assert_true(stats_now().slab_cpu_cached > 0);
    uint32_t reclaims = ps.reclaims;
    paddr_t more = pmm_alloc_page(); /* runs the reclaim hooks first */
    pmm_get_stats(&ps);
    assert_int_equal(ps.reclaims, reclaims + 1);
    assert_int_equal(stats_now().slab_cpu_cached, 0);
    if (more)
        pmm_free_page(more);
    while (n)
        pmm_free_page(taken[--n]);
    check_every_layer();
}

#define T(f) cmocka_unit_test_setup_teardown(f, fresh_as_cpu0, natural_cpu_ids)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_fast_path_takes_no_shared_lock),
        T(test_bursts_take_the_lock_per_batch),
        T(test_free_on_another_cpu),
        T(test_cpus_fill_from_their_own_slabs),
        T(test_a_slab_moved_on_from_stays_its_cpus),
        T(test_double_free_in_a_cache),
        T(test_bad_pointers_still_reported),
        T(test_statistics_are_exact),
        T(test_shrink_drains),
        T(test_cpu_without_a_cache),
        T(test_reclaim_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

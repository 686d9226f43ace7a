/*
 * test_lock.c - the lock contract of mm/glue.h: mm/ counts its own nesting,
 * so the glue's spinlock is taken once per outermost call and never twice by
 * one CPU.  The host's spinlock is an error-checking mutex that aborts if it
 * is taken twice: every host test would die if a path nested it.  Here: the
 * counts, a re-entry from inside mm/ (a reclaim hook that allocates, as an
 * embedder's page-table code would), threads as CPUs with every checker
 * after, the host glue's wait (spin, yield, then sleep) and its mutual
 * exclusion, an unlock by a CPU that does not hold the lock, and a describer
 * asked under the lock while another CPU unregisters it.  The PMM's own lock
 * below it: the PMM serves one CPU while another holds mm/'s lock, and the
 * order (mm_lock, then pmm_lock) is enforced.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "glue_common.h"
#include "harness.h"
#include "lock.h"
#include "lock_holder.h"

/* Nesting is counted: two levels, one glue_spin_lock; held until the outermost unlock. */
static void test_nesting_takes_the_spinlock_once(void **state)
{
    (void)state;
    unsigned long before = host_spin_locks;
    assert_false(mm_lock_held());
    glue_irqflags_t a = mm_lock();
    assert_true(mm_lock_held());
    glue_irqflags_t b = mm_lock();
    assert_true(mm_lock_held());
    mm_unlock(b);
    assert_true(mm_lock_held()); /* the inner unlock does not release it */
    mm_unlock(a);
    assert_false(mm_lock_held());
    assert_int_equal(host_spin_locks - before, 1);
}

/* A kmalloc that grows the heap goes heap -> VMM -> PMM, all under one spinlock acquisition. */
static void test_growing_kmalloc_takes_it_once(void **state)
{
    (void)state;
    fresh_every_layer(32u << 20);
    memory_stats_t s0 = stats_now();
    unsigned long before = host_spin_locks;
    void *p = kmalloc(1u << 20); /* beyond the initial mapping: the heap grows */
    assert_int_equal(host_spin_locks - before, 1);
    assert_non_null(p);
    memory_stats_t s1 = stats_now();
    assert_true(s1.heap_virtual_size > s0.heap_virtual_size);
    kfree(p);
    check_every_layer();
}

/*
 * A reclaim hook runs inside pmm_alloc_page with mm/'s lock held (taken for
 * it: the PMM's calls take only the PMM's lock) and the PMM's lock dropped,
 * and calls mm/ again.
 */
static int hook_calls, hook_in_pmm_lock;
static void *hook_got;
static size_t hostile_hook(void)
{
    hook_calls++;
    assert_true(mm_lock_held());
    hook_in_pmm_lock += pmm_lock_held();
    hook_got = kmalloc(64); /* re-enters the heap on the CPU holding the lock */
    return 0;
}

static void test_hook_reenters_mm(void **state)
{
    (void)state;
    fresh_every_layer(16u << 20);
    assert_int_equal(pmm_register_reclaim(hostile_hook), 0);
    unsigned long before = host_spin_locks;
    uint32_t taken = 0;
    static uint32_t pages[4096];
    while (taken < 4096 && (pages[taken] = pmm_alloc_page()) != 0)
        taken++;
    assert_true(taken > 1000 && taken < 4096); /* ran dry: the hook ran */
    assert_true(hook_calls > 0);
    assert_non_null(hook_got);
    assert_int_equal(hook_in_pmm_lock, 0);
    /* the PMM's calls never take the glue's spinlock: only the one reclaim did */
    assert_int_equal(host_spin_locks - before, 1);
    pmm_unregister_reclaim(hostile_hook);
    for (uint32_t i = 0; i < taken; i++)
        pmm_free_page(pages[i]);
    kfree(hook_got);
    check_every_layer();
}

/* Threads as CPUs: each allocates, fills, verifies and frees; then every checker is exact. */
#define THREADS 4
#define ROUNDS  3000
struct worker {
    unsigned id;
    unsigned long bad;
};

static void *worker(void *arg)
{
    struct worker *w = arg;
    uint32_t rng = 0x9E3779B9u * (w->id + 1);
    void *slot[32] = {0};
    size_t size[32] = {0};
    uint32_t page[8] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        unsigned i = rng_next(&rng) % 32;
        if (slot[i]) {
            for (size_t k = 0; k < size[i]; k++)
                if (((unsigned char *)slot[i])[k] != (unsigned char)(w->id + k))
                    w->bad++;
            kfree(slot[i]);
            slot[i] = NULL;
        } else {
            size[i] = 1 + rng_next(&rng) % 3000;
            slot[i] = kmalloc(size[i]);
            if (slot[i])
                for (size_t k = 0; k < size[i]; k++)
                    ((unsigned char *)slot[i])[k] = (unsigned char)(w->id + k);
        }
        unsigned j = rng_next(&rng) % 8;
        if (page[j]) {
            pmm_free_page(page[j]);
            page[j] = 0;
        } else {
            page[j] = pmm_alloc_page();
        }
    }
    for (int i = 0; i < 32; i++)
        kfree(slot[i]);
    for (int j = 0; j < 8; j++)
        if (page[j])
            pmm_free_page(page[j]);
    return NULL;
}

static void test_threads_as_cpus(void **state)
{
    (void)state;
    fresh_every_layer(32u << 20);
    struct worker warm = {.id = THREADS}; /* the size-class caches made, once */
    worker(&warm);
    assert_int_equal(warm.bad, 0);
    kmem_cache_reap(); /* what the CPUs' caches keep goes back: heap_used comparable */
    memory_stats_t s0 = stats_now();
    assert_int_equal(s0.slab_cpu_cached, 0);
    pmm_stats_t p0;
    pmm_get_stats(&p0);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.id = i};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
    assert_false(mm_lock_held());
    check_every_layer();
    assert_int_equal(stats_now().slab_objects, s0.slab_objects); /* before the reap too */
    kmem_cache_reap();
    memory_stats_t s1 = stats_now();
    assert_int_equal(s1.slab_cpu_cached, 0);
    assert_int_equal(s1.heap_used, s0.heap_used); /* nothing lost, nothing counted twice */
    assert_int_equal(s1.allocation_count - s1.free_count, s0.allocation_count - s0.free_count);
    assert_int_equal(s1.allocation_count - s0.allocation_count, s1.free_count - s0.free_count);
    assert_true(s1.allocation_count - s0.allocation_count > THREADS * ROUNDS / 4);
    pmm_stats_t p1;
    pmm_get_stats(&p1); /* every caller's page back (the heap may keep what it grew) */
    assert_int_equal(p1.owner_pages[PMM_OWNER_CALLER], p0.owner_pages[PMM_OWNER_CALLER]);
}

/*
 * The host glue's wait (host/glue_common.c): a CPU that finds mm_lock taken
 * spins, then yields, then sleeps on the mutex.  A holder that keeps it
 * (lock_holder.h) past all of that: the waiter's kmalloc goes to sleep once,
 * is still waiting when the holder lets go, and then gets its block.
 */
static int waiter_done; /* __atomic */
static void *waiter_got;

static void *block_waiter(void *arg)
{
    (void)arg;
    waiter_got = kmalloc(2000); /* above the size classes: mm_lock at once */
    __atomic_store_n(&waiter_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static unsigned long slept_now(void)
{
    return __atomic_load_n(&host_spin_slept, __ATOMIC_RELAXED);
}

static void test_waiter_of_a_long_hold_sleeps_then_gets_it(void **state)
{
    (void)state;
    fresh_every_layer(16u << 20);
    unsigned long taken0 = host_spin_locks, slept0 = slept_now();
    unsigned long contended0 = __atomic_load_n(&host_spin_contended, __ATOMIC_RELAXED);
    __atomic_store_n(&waiter_done, 0, __ATOMIC_RELAXED);
    pthread_t h = start_holder(mm_lock, mm_unlock);
    pthread_t w;
    assert_int_equal(pthread_create(&w, NULL, block_waiter, NULL), 0);
    for (int i = 0; i < 10000 && slept_now() == slept0; i++)
        usleep(1000);
    assert_int_equal(slept_now() - slept0, 1); /* spun, yielded, then slept */
    assert_false(__atomic_load_n(&waiter_done, __ATOMIC_ACQUIRE));
    assert_true(stop_holder(h)); /* held all along: the waiter never had it */
    assert_int_equal(pthread_join(w, NULL), 0);
    assert_true(__atomic_load_n(&waiter_done, __ATOMIC_ACQUIRE));
    assert_non_null(waiter_got);
    assert_int_equal(__atomic_load_n(&host_spin_contended, __ATOMIC_RELAXED) - contended0, 1);
    assert_int_equal(host_spin_locks - taken0, 2); /* the holder's and the waiter's */
    kfree(waiter_got);
    check_every_layer();
}

/*
 * Two CPUs take mm_lock over and over around a counter of their own that
 * only the lock guards (the waits now mostly spins, some yields): no
 * increment is lost, and each outermost take is one glue_spin_lock.
 */
#define EXCLUSION_ROUNDS 20000
static unsigned long guarded; /* under mm_lock alone */

static void *take_and_count(void *arg)
{
    (void)arg;
    for (int i = 0; i < EXCLUSION_ROUNDS; i++) {
        glue_irqflags_t f = mm_lock();
        unsigned long v = guarded;
        for (volatile int k = 0; k < 20; k++) /* a short hold, as kmalloc's */
            ;
        guarded = v + 1;
        mm_unlock(f);
    }
    return NULL;
}

static void test_contended_lock_excludes(void **state)
{
    (void)state;
    unsigned long taken0 = host_spin_locks;
    guarded = 0;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, take_and_count, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(guarded, 2 * EXCLUSION_ROUNDS);
    assert_int_equal(host_spin_locks - taken0, 2 * EXCLUSION_ROUNDS);
    assert_false(mm_lock_held());
}

static void unlock_not_held(void)
{
    mm_unlock(0);
}

/* An unlock by a CPU that does not hold the lock is mm/'s own bug: a panic, named. */
static void test_unlock_not_held_panics(void **state)
{
    (void)state;
    assert_child_panics(unlock_not_held,
                        "mm_unlock: the memory manager's lock is not held by this CPU");
}

/*
 * vmm_describe asks a registered describer with mm/'s lock held, like every
 * other walk of mm/'s state: a CPU unregistering it (or re-registering
 * another) meanwhile waits, and never sees, nor changes, a slot being read
 * (between the check of a slot's function and the call through it).
 *
 * Expect the describer to run with the lock held, and another CPU's
 * vmm_unregister_describer to finish only after vmm_describe returned.
 */
static int unregistered; /* __atomic: written by one thread, polled by another */
static const char *slow_describer(vaddr_t a, char *buf, size_t len);
static void *unregister_it(void *arg)
{
    (void)arg;
    vmm_unregister_describer(slow_describer);
    __atomic_store_n(&unregistered, 1, __ATOMIC_RELEASE);
    return NULL;
}
static int held_inside, done_inside;
static const char *slow_describer(vaddr_t a, char *buf, size_t len)
{
    held_inside = mm_lock_held();
    pthread_t t;
    if (pthread_create(&t, NULL, unregister_it, NULL) != 0)
        return NULL;
    usleep(100 * 1000); /* another CPU's unregister, meanwhile */
    done_inside = __atomic_load_n(&unregistered, __ATOMIC_ACQUIRE);
    pthread_detach(t);
    snprintf(buf, len, "slow layer at 0x%08x", (unsigned)a);
    return buf;
}

static void test_describer_runs_under_the_lock(void **state)
{
    (void)state;
    fresh_every_layer(32u << 20);
    __atomic_store_n(&unregistered, 0, __ATOMIC_RELEASE);
    assert_int_equal(vmm_register_describer(0x70000000u, 0x70000fffu, "slow", slow_describer), 0);
    assert_string_equal(vmm_describe(0x70000010u), "slow layer at 0x70000010");
    assert_true(held_inside);
    assert_false(done_inside);
    while (!__atomic_load_n(&unregistered, __ATOMIC_ACQUIRE))
        usleep(1000);
    assert_null(strstr(vmm_describe(0x70000010u), "slow layer"));
}

/*
 * The PMM's lock is its own: a CPU holding mm/'s lock (here a thread that
 * takes it and waits) does not stop another CPU's pmm_alloc_page,
 * pmm_alloc_pages, pmm_free_page(s) and pmm_get_stats.  With one lock for both, the main thread
 * would wait for the holder, which waits (up to 10 s) for the main thread.
 */
static void test_pmm_runs_while_another_cpu_holds_mm_lock(void **state)
{
    (void)state;
    fresh_every_layer(16u << 20);
    pthread_t t = start_holder(mm_lock, mm_unlock);
    uint32_t pages[64];
    for (int i = 0; i < 64; i++)
        assert_int_not_equal(pages[i] = pmm_alloc_page(), 0);
    paddr_t run = pmm_alloc_pages(16, 16 * PAGE_SIZE);
    assert_int_not_equal(run, 0);
    pmm_stats_t st;
    pmm_get_stats(&st); /* (pmm_check takes mm_lock first: it waits for a shootdown's holder) */
    assert_true(st.owner_pages[PMM_OWNER_CALLER] >= 64 + 16);
    for (int i = 0; i < 64; i++)
        pmm_free_page(pages[i]);
    pmm_free_pages(run, 16);
    assert_true(stop_holder(t)); /* the holder never let go meanwhile */
    check_every_layer();
}

static void mm_lock_inside_pmm_lock(void)
{
    (void)pmm_lock();
    (void)mm_lock();
}

/*
 * mm_lock asked for by a CPU that holds the PMM's lock (and not mm_lock) is
 * the wrong order, which could deadlock against a CPU holding mm_lock and
 * waiting for the PMM's: a panic, named, at the first run.  The other way
 * round, and mm_lock again inside both, are the allowed order.
 */
static void test_lock_order_is_enforced(void **state)
{
    (void)state;
    glue_irqflags_t a = mm_lock();
    glue_irqflags_t b = pmm_lock();
    glue_irqflags_t c = mm_lock(); /* held already: nested, no wait */
    assert_true(mm_lock_held() && pmm_lock_held());
    mm_unlock(c);
    pmm_unlock(b);
    assert_false(pmm_lock_held());
    mm_unlock(a);
    assert_false(mm_lock_held());
    assert_child_panics(mm_lock_inside_pmm_lock, "mm_lock: asked for inside the PMM's lock");
}

static void pmm_unlock_not_held(void)
{
    pmm_unlock(0);
}

static void test_pmm_unlock_not_held_panics(void **state)
{
    (void)state;
    assert_child_panics(pmm_unlock_not_held, "pmm_unlock: the PMM's lock is not held by this CPU");
}

static void lock_as_cpu_minus_one(void)
{
    host_forced_cpu_id = -1;
    (void)mm_lock();
}

/* A glue_cpu_id that returns -1 would make every CPU the holder: mm_lock panics, named. */
static void test_cpu_id_minus_one_panics(void **state)
{
    (void)state;
    assert_child_panics(lock_as_cpu_minus_one, "mm_lock: glue_cpu_id returned -1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesting_takes_the_spinlock_once),
        cmocka_unit_test(test_growing_kmalloc_takes_it_once),
        cmocka_unit_test(test_hook_reenters_mm),
        cmocka_unit_test(test_threads_as_cpus),
        cmocka_unit_test(test_waiter_of_a_long_hold_sleeps_then_gets_it),
        cmocka_unit_test(test_contended_lock_excludes),
        cmocka_unit_test(test_unlock_not_held_panics),
        cmocka_unit_test(test_cpu_id_minus_one_panics),
        cmocka_unit_test(test_describer_runs_under_the_lock),
        cmocka_unit_test(test_pmm_runs_while_another_cpu_holds_mm_lock),
        cmocka_unit_test(test_lock_order_is_enforced),
        cmocka_unit_test(test_pmm_unlock_not_held_panics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

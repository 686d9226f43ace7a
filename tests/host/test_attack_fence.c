/*
 * test_attack_fence.c - a hostile review of two changes to the per-CPU
 * caches (mm/magazine.h, mm/magazine.c, mm/slab_priv.h, mm/slab_core.c):
 *
 *   - the fenced cache lock (CPU_CACHE_FENCED, the host builds but TSan):
 *     the owner writes `busy` and reads `lock` with plain moves; another
 *     CPU sets `lock`, fences every CPU (glue_fence_cpus: membarrier, or
 *     the mprotect fallback) and waits for `busy` to clear;
 *   - remote magazines (slab_cpu_t.rmag): an object of another CPU's slab
 *     (slab_t.filler, 0 for a slab no CPU filled from) freed here is kept
 *     apart, never handed out here, flushed whole when full.
 *
 * Each case is an attack; those mm/ survives stay as regression tests.  The
 * threaded cases run with the CPU ids natural (never one forced id on two
 * live threads); the others force one (host_forced_cpu_id).
 *
 * What an object's remote magazine keeps after N frees on one CPU: a full
 * one (MAG_ROUNDS, 32) goes back whole before the next goes in, so the last
 * ((N - 1) % 32) + 1 of them.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "glue_common.h"
#include "harness.h"
#include "lock.h"
#include "slab.h"
#include "slab_priv.h" /* (slab_all.cpu[].busy and .lock: where a frozen CPU is) */

#define ROUNDS         32 /* MAG_ROUNDS (mm/slab_priv.h) */
#define KEPT_AFTER(n)  ((n) == 0 ? 0u : (unsigned)(((n)-1) % ROUNDS + 1))
#define RAM_NODES      (16u << 20)
#define NODE0_EXTRA_MB 4u

static void hung(int sig)
{
    (void)sig;
    static const char msg[] = "test_attack_fence: hung (a CPU waits for a cache forever)\n";
    if (write(2, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to say */
    }
    _exit(1);
}

static void alarm_on(unsigned seconds)
{
    signal(SIGALRM, hung);
    alarm(seconds);
}

static void alarm_off(void)
{
    alarm(0);
    signal(SIGALRM, SIG_DFL);
}

/* Is CPU cpu inside its fast path (busy; the xchg build: its lock taken)?  Read, no lock. */
static int kmem_cache_cpu_objects_busy(int cpu)
{
    const slab_cpu_t *pc = &slab_all.cpu[cpu];
    return __atomic_load_n(&pc->busy, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&pc->lock, __ATOMIC_ACQUIRE);
}

/* The sum of kmem_cache_cpu_objects over every CPU. */
static uint32_t all_cpu_objects(void)
{
    uint32_t n = 0;
    for (int cpu = 0; cpu < MM_MAX_CPUS; cpu++)
        n += kmem_cache_cpu_objects(cpu);
    return n;
}

/* ---- objects of a slab no CPU filled from (slab_t.filler 0): the shared path's ---- */

/*
 * Allocated the shared way (kmem_cache_alloc_node with a node: no CPU fills
 * from the slab), freed on CPU 0's fast path: into its remote magazine,
 * flushed whole at 32, never handed out by CPU 0; the counts exact; a second
 * free of one of them reported on this CPU and on another; all drained by a
 * destroy run on a third CPU.
 */
static void test_filler_zero_objects_kept_apart(void **state)
{
    (void)state;
    enum { N = 70 };
    kmem_cache_t *c = kmem_cache_create("fence-shared", 96, 0, NULL);
    assert_non_null(c);
    void *p[N];
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = kmem_cache_alloc_node(c, 0)); /* the shared path: filler 0 */
    for (int i = 0; i < N; i++)
        kmem_cache_free(c, p[i]);
    kmem_cache_stats_t st = cache_stats(c);
    print_message("      %d freed on CPU 0: %u kept (live %u)\n", N, st.cpu_cached, st.live);
    assert_int_equal(st.live, 0);
    assert_int_equal(st.cpu_cached, KEPT_AFTER(N));
    assert_int_equal(kmem_cache_cpu_objects(0), KEPT_AFTER(N));
    assert_int_equal(stats_now().slab_cpu_cached, KEPT_AFTER(N));
    assert_int_equal(kmem_cache_check(), 0);
    /* CPU 0 allocates: never one of those its remote magazine keeps (the last KEPT_AFTER(N)) */
    void *q[40];
    for (int i = 0; i < 40; i++) {
        assert_non_null(q[i] = kmem_cache_alloc(c));
        for (int k = N - (int)KEPT_AFTER(N); k < N; k++)
            assert_ptr_not_equal(q[i], p[k]);
        for (int k = 0; k < i; k++)
            assert_ptr_not_equal(q[i], q[k]);
    }
    st = cache_stats(c);
    assert_int_equal(st.live, 40);
    assert_int_equal(kmem_cache_check(), 0);
    /* a kept one freed again: on CPU 0 (where it is), then on CPU 1 */
    uint32_t e = errors_now();
    kmem_cache_free(c, p[N - 1]);
    assert_int_equal(errors_now(), e + 1);
    assert_reported("kmem_cache_free", p[N - 1], "double free");
    host_forced_cpu_id = 1;
    kmem_cache_free(c, p[N - 2]);
    assert_int_equal(errors_now(), e + 2);
    assert_reported("kmem_cache_free", p[N - 2], "double free");
    /* one flushed back to its slab long ago, freed again on CPU 1 */
    kmem_cache_free(c, p[0]);
    assert_int_equal(errors_now(), e + 3);
    host_forced_cpu_id = 0;
    st = cache_stats(c);
    assert_int_equal(st.live, 40);
    assert_int_equal(kmem_cache_check(), 0);
    for (int i = 0; i < 40; i++)
        kmem_cache_free(c, q[i]);
    host_forced_cpu_id = 2;
    assert_int_equal(kmem_cache_destroy(c), 0);
    host_forced_cpu_id = 0;
    assert_int_equal(all_cpu_objects(), 0);
    check_every_layer();
}

/* ---- a remote magazine exactly full, its flush, and a double free at each edge ---- */

/*
 * CPU 1 fills from its own slab; CPU 0 frees 31, 32, 33 of them: its remote
 * magazine holds 31, 32, then 1 (the 33rd free flushes the 32 whole).  After
 * each step the object just freed is freed again on CPU 0 and on CPU 1: one
 * report each, nothing lost, the counts exact.
 */
static void test_remote_magazine_edges(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("fence-edge", 40, 0, NULL);
    assert_non_null(c);
    enum { N = 33 };
    void *p[N];
    host_forced_cpu_id = 1;
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = kmem_cache_alloc(c));
    uint32_t cpu1 = kmem_cache_cpu_objects(1);
    host_forced_cpu_id = 0;
    for (int i = 0; i < N; i++) {
        kmem_cache_free(c, p[i]);
        unsigned want = KEPT_AFTER((unsigned)i + 1);
        assert_int_equal(kmem_cache_cpu_objects(0), want);
        if (i == 30 || i == 31 || i == 32) {
            uint32_t e = errors_now();
            kmem_cache_free(c, p[i]); /* in CPU 0's remote magazine */
            host_forced_cpu_id = 1;
            kmem_cache_free(c, p[i]);
            host_forced_cpu_id = 0;
            assert_int_equal(errors_now(), e + 2);
            if (i == 32) { /* and one the flush sent back to its slab */
                kmem_cache_free(c, p[0]);
                assert_int_equal(errors_now(), e + 3);
            }
            assert_int_equal(kmem_cache_cpu_objects(0), want);
            assert_int_equal(kmem_cache_cpu_objects(1), cpu1);
            kmem_cache_stats_t st = cache_stats(c);
            assert_int_equal(st.live, (uint32_t)(N - 1 - i));
            assert_int_equal(st.cpu_cached, want + cpu1);
            assert_int_equal(kmem_cache_check(), 0);
        }
    }
    /* CPU 1 hands out none of CPU 0's kept one (it has its own), CPU 0 none either */
    host_forced_cpu_id = 1;
    void *a = kmem_cache_alloc(c);
    host_forced_cpu_id = 0;
    void *b = kmem_cache_alloc(c);
    assert_ptr_not_equal(a, p[N - 1]);
    assert_ptr_not_equal(b, p[N - 1]);
    assert_ptr_not_equal(a, b);
    kmem_cache_free(c, a);
    kmem_cache_free(c, b);
    assert_int_equal(cache_stats(c).live, 0);
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_int_equal(all_cpu_objects(), 0);
    check_every_layer();
}

/* ---- a ctor's destroy and reap during a fill, with remote magazines holding objects ---- */

static kmem_cache_t *victim, *reentered;
static int destroy_result = 99, ctor_armed, ctor_errors;
static uint32_t ctor_live = 0xdead, ctor_cached = 0xdead, ctor_cpu0 = 0xdead;

/* A ctor run by CPU 0's fill: destroys `victim` (its objects in CPU 0's remote magazine). */
static void destroy_ctor(void *obj)
{
    (void)obj;
    kmem_cache_t *v = victim;
    victim = NULL; /* (once: the fill builds more than one object) */
    if (v)
        destroy_result = kmem_cache_destroy(v);
}

static void test_destroy_from_a_ctor_with_remote_objects(void **state)
{
    (void)state;
    kmem_cache_t *v = kmem_cache_create("fence-victim", 64, 0, NULL);
    assert_non_null(v);
    void *p[5];
    host_forced_cpu_id = 1;
    for (int i = 0; i < 5; i++)
        assert_non_null(p[i] = kmem_cache_alloc(v)); /* CPU 1's slab, CPU 1 keeps 11 */
    host_forced_cpu_id = 0;
    for (int i = 0; i < 5; i++)
        kmem_cache_free(v, p[i]); /* CPU 0's remote magazine */
    assert_int_equal(kmem_cache_cpu_objects(0), 5);
    assert_int_equal(cache_stats(v).live, 0);
    kmem_cache_t *c = kmem_cache_create("fence-destroyer", 100, 0, destroy_ctor);
    assert_non_null(c);
    victim = v;
    uint32_t e = errors_now();
    alarm_on(20);
    void *o = kmem_cache_alloc(c); /* CPU 0's fill of c runs the ctor */
    alarm_off();
    assert_non_null(o);
    assert_int_equal(errors_now(), e);
    assert_int_equal(destroy_result, 0);
    assert_int_equal(cache_stats(c).live, 1);
    assert_int_equal(kmem_cache_cpu_objects(0), cache_stats(c).cpu_cached); /* v's gone */
    assert_int_equal(kmem_cache_cpu_objects(1), 0);
    kmem_cache_free(c, o);
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
}

/*
 * The ctor of c, run by CPU 0's fill of c while CPU 0's remote magazine of
 * c holds objects of CPU 1's slab: it reaps (every CPU drained but CPU 0's
 * magazines of c, the busy slot: mag[] and rmag[] both left), checks, and
 * asks for c's statistics: the caller holds nothing, so live is 0.
 */
static void reap_ctor(void *obj)
{
    (void)obj;
    if (!ctor_armed)
        return;
    ctor_armed = 0;
    kmem_cache_reap();
    ctor_errors = kmem_cache_check() + heap_check();
    kmem_cache_stats_t st;
    if (kmem_cache_get_stats(reentered, &st) != 0)
        ctor_errors++;
    ctor_live = st.live;
    ctor_cached = st.cpu_cached;
    ctor_cpu0 = kmem_cache_cpu_objects(0);
}

static void test_reap_from_a_ctor_leaves_the_busy_remote_magazine(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("fence-reaper", 200, 0, reap_ctor);
    assert_non_null(c);
    reentered = c;
    enum { N = 10 };
    void *p[N];
    host_forced_cpu_id = 1;
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = kmem_cache_alloc(c));
    host_forced_cpu_id = 0;
    for (int i = 0; i < N; i++)
        kmem_cache_free(c, p[i]);
    assert_int_equal(kmem_cache_cpu_objects(0), N);
    ctor_armed = 1;
    alarm_on(20);
    void *o = kmem_cache_alloc(c); /* a new slab for CPU 0 (CPU 1's is its own): the ctor */
    alarm_off();
    assert_non_null(o);
    assert_int_equal(ctor_armed, 0);
    print_message("      inside the fill: live %u, cpu_cached %u, CPU 0 keeps %u\n", ctor_live,
                  ctor_cached, ctor_cpu0);
    assert_int_equal(ctor_errors, 0);
    assert_int_equal(ctor_live, 0);
    assert_true(ctor_cpu0 >= N); /* the busy slot's remote magazine was left alone */
    kmem_cache_stats_t st = cache_stats(c);
    assert_int_equal(st.live, 1);
    assert_int_equal(kmem_cache_cpu_objects(1), 0); /* CPU 1 drained by the reap */
    assert_int_equal(kmem_cache_cpu_objects(0), st.cpu_cached);
    assert_true(st.cpu_cached >= N);
    /* none of the kept remote objects handed out here */
    for (int i = 0; i < N; i++)
        assert_ptr_not_equal(o, p[i]);
    kmem_cache_free(c, o);
    assert_int_equal(kmem_cache_check(), 0);
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
}

/* ---- a stale pointer kept in a remote magazine, its slab released and reused ---- */

/*
 * X of cache A (CPU 0's slab) freed on CPU 1: CPU 1's remote magazine.
 * kmem_cache_shrink(A) from CPU 0 drains it, the slab goes back, cache B
 * (same size) takes the page; X freed to A again on CPU 1: one report, B's
 * object at X untouched.
 */
static void test_stale_remote_pointer_after_slab_reuse(void **state)
{
    (void)state;
    kmem_cache_t *a = kmem_cache_create("fence-a", 128, 0, NULL), *b = NULL;
    void *x = a ? kmem_cache_alloc(a) : NULL;
    assert_non_null(x);
    assert_non_null(b = kmem_cache_create("fence-b", 128, 0, NULL)); /* (same size: same grid) */
    host_forced_cpu_id = 1;
    kmem_cache_free(a, x);
    assert_int_equal(kmem_cache_cpu_objects(1), 1);
    host_forced_cpu_id = 0;
    assert_true(kmem_cache_shrink(a) >= 1);
    kmem_cache_stats_t st = cache_stats(a);
    assert_int_equal(st.slabs, 0);
    assert_int_equal(st.cpu_cached, 0);
    assert_int_equal(kmem_cache_cpu_objects(1), 0);
    void *bo[64];
    int at = -1;
    for (int i = 0; i < 64; i++) {
        assert_non_null(bo[i] = kmem_cache_alloc(b));
        memset(bo[i], 0x5B, 128);
        if (bo[i] == x)
            at = i;
    }
    print_message("      X's page %s by cache B\n", at >= 0 ? "reused" : "not reused");
    uint32_t e = errors_now();
    host_forced_cpu_id = 1;
    kmem_cache_free(a, x);
    host_forced_cpu_id = 0;
    assert_int_equal(errors_now(), e + 1);
    assert_int_equal(cache_stats(b).live, 64);
    assert_int_equal(cache_stats(a).live, 0);
    for (int i = 0; i < 64; i++) {
        for (int k = 0; k < 128; k++)
            assert_int_equal(((unsigned char *)bo[i])[k], 0x5B);
    }
    assert_int_equal(kmem_cache_check(), 0);
    for (int i = 0; i < 64; i++)
        kmem_cache_free(b, bo[i]);
    assert_int_equal(kmem_cache_destroy(a), 0);
    assert_int_equal(kmem_cache_destroy(b), 0);
    check_every_layer();
}

/* ---- NUMA: another node's object never enters a remote magazine ---- */

static int two_nodes_cpu0(void **state)
{
    (void)state;
    host_forced_cpu_id = 0;
    fresh_every_layer(RAM_NODES);
    pmm_node_range_t r[2] = {{0, 10u << 20, 0}, {10u << 20, RAM_NODES, 1}};
    uint8_t cpus[8];
    for (unsigned c = 0; c < 8; c++)
        cpus[c] = (uint8_t)(c % 2);
    assert_int_equal(pmm_set_nodes(2, r, 2, cpus, 8, NULL), 0);
    check_every_layer();
    return 0;
}

/*
 * Two nodes, CPU c on node c % 2.  Node 0's objects of a slab no CPU filled
 * from, freed on CPU 1 (node 1): the shared way, CPU 1 keeps none; on CPU 0
 * (node 0): its remote magazine.  Node 1's objects of CPU 1's slab freed on
 * CPU 3 (node 1): its remote magazine; on CPU 2 (node 0): the shared way.
 * Then the topology goes to one node with those kept: checkers and counts
 * exact, everything drained.
 */
static void test_numa_remote_and_foreign_frees(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("fence-numa", 100, 0, NULL);
    assert_non_null(c);
    enum { N = 12 };
    void *n0[N], *n1[N];
    host_forced_cpu_id = 1;
    for (int i = 0; i < N; i++)
        assert_non_null(n0[i] = kmem_cache_alloc_node(c, 0 | PMM_NODE_STRICT));
    for (int i = 0; i < N; i++)
        assert_non_null(n1[i] = kmem_cache_alloc(c)); /* CPU 1's fill: node 1 */
    uint32_t cpu1 = kmem_cache_cpu_objects(1);
    for (int i = 0; i < N / 2; i++)
        kmem_cache_free(c, n0[i]); /* node 0's object on node 1's CPU: the shared way */
    assert_int_equal(kmem_cache_cpu_objects(1), cpu1);
    host_forced_cpu_id = 0;
    for (int i = N / 2; i < N; i++)
        kmem_cache_free(c, n0[i]); /* CPU 0, node 0, filler 0: its remote magazine */
    assert_int_equal(kmem_cache_cpu_objects(0), N / 2);
    host_forced_cpu_id = 3;
    for (int i = 0; i < N / 2; i++)
        kmem_cache_free(c, n1[i]); /* CPU 3, node 1, CPU 1's slab: CPU 3's remote magazine */
    assert_int_equal(kmem_cache_cpu_objects(3), N / 2);
    host_forced_cpu_id = 2;
    for (int i = N / 2; i < N; i++)
        kmem_cache_free(c, n1[i]); /* CPU 2, node 0: the shared way */
    assert_int_equal(kmem_cache_cpu_objects(2), 0);
    host_forced_cpu_id = 0;
    kmem_cache_stats_t st = cache_stats(c);
    assert_int_equal(st.live, 0);
    assert_int_equal(st.cpu_cached, cpu1 + N);
    assert_int_equal(all_cpu_objects(), cpu1 + N);
    assert_int_equal(kmem_cache_check(), 0);
    /* one node again, the remote magazines still full of the old nodes' objects */
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    assert_int_equal(kmem_cache_check(), 0);
    st = cache_stats(c);
    assert_int_equal(st.live, 0);
    assert_int_equal(st.cpu_cached, cpu1 + N);
    void *o[50];
    for (int i = 0; i < 50; i++)
        assert_non_null(o[i] = kmem_cache_alloc(c));
    for (int i = 0; i < 50; i++) {
        for (int k = N / 2; k < N; k++)
            assert_ptr_not_equal(o[i], n0[k]); /* CPU 0 hands out none of its remote ones */
    }
    for (int i = 0; i < 50; i++)
        kmem_cache_free(c, o[i]);
    assert_int_equal(cache_stats(c).live, 0);
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_int_equal(all_cpu_objects(), 0);
    check_every_layer();
}

static int one_node_again(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    return pmm_set_nodes(1, NULL, 0, NULL, 0, NULL);
}

/* ---- threads as CPUs: owners on the fast path, a remote draining, checking, counting ---- */

/*
 * Each object's first words while a caller holds it: LIVE and its holder's
 * tag.  An allocation swaps LIVE in: finding it there already means the
 * object was handed out twice.  A free checks the tag, clears LIVE, frees.
 */
#define LIVE 0x4C495645u

typedef struct {
    pthread_mutex_t lock;
    void *slot[256];
    unsigned head, tail; /* tail - head objects in flight */
} ring_t;

static ring_t rings[2];
static kmem_cache_t *shared_cache;
static volatile int stop_all, stop_workers;
static unsigned long dup_handouts, bad_tags, null_allocs;

static void obj_take(void *o, uint32_t tag)
{
    uint32_t *w = o;
    if (__atomic_exchange_n(&w[0], LIVE, __ATOMIC_RELAXED) == LIVE)
        __atomic_fetch_add(&dup_handouts, 1, __ATOMIC_RELAXED);
    w[1] = tag;
}

static void obj_give(void *o, uint32_t tag)
{
    uint32_t *w = o;
    if (w[0] != LIVE || w[1] != tag)
        __atomic_fetch_add(&bad_tags, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&w[0], 0, __ATOMIC_RELAXED);
}

/* A handed-over object's tag says what it is: kmalloc's (KTAG) or shared_cache's (CTAG). */
#define KTAG 0x200u
#define CTAG 0x300u

static void give_handed(void *o)
{
    uint32_t kind = ((uint32_t *)o)[1];
    obj_give(o, kind == CTAG ? CTAG : KTAG);
    if (kind == CTAG)
        kmem_cache_free(shared_cache, o);
    else
        kfree(o);
}

static int ring_put(ring_t *r, void *o)
{
    pthread_mutex_lock(&r->lock);
    int ok = r->tail - r->head < 256;
    if (ok)
        r->slot[r->tail++ % 256] = o;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static void *ring_get(ring_t *r)
{
    pthread_mutex_lock(&r->lock);
    void *o = r->tail != r->head ? r->slot[r->head++ % 256] : NULL;
    pthread_mutex_unlock(&r->lock);
    return o;
}

/*
 * Worker `me` (0 or 1): batches of kmalloc'd and cache objects; each batch's
 * even ones freed here, the odd ones handed to the other worker (its remote
 * magazines); the other's handed ones freed here.
 */
typedef struct {
    int me;
} worker_arg_t;

static void *worker(void *argp)
{
    worker_arg_t *arg = argp;
    int me = arg->me;
    uint32_t tag = 0x100u + (uint32_t)me;
    for (int r = 0; !__atomic_load_n(&stop_workers, __ATOMIC_RELAXED); r++) {
        void *b[24];
        for (int i = 0; i < 24; i++) {
            b[i] =
                i % 3 ? kmalloc((size_t)(16 + 8 * ((r + i) % 30))) : kmem_cache_alloc(shared_cache);
            if (!b[i]) {
                __atomic_fetch_add(&null_allocs, 1, __ATOMIC_RELAXED);
                continue;
            }
            obj_take(b[i], i % 2 ? (i % 3 ? KTAG : CTAG) : tag);
        }
        for (int i = 0; i < 24; i++) {
            if (!b[i])
                continue;
            if (i % 2 && ring_put(&rings[!me], b[i]))
                continue; /* the other frees it */
            obj_give(b[i], i % 2 ? (i % 3 ? KTAG : CTAG) : tag);
            if (i % 3)
                kfree(b[i]);
            else
                kmem_cache_free(shared_cache, b[i]);
        }
        void *o;
        while ((o = ring_get(&rings[me])) != NULL)
            give_handed(o);
    }
    return NULL;
}

/*
 * A remote on the other side: drains, checks and counts the owners'
 * caches while they run.
 */
static unsigned long remote_errors, remote_rounds;

static void *remote(void *argp)
{
    (void)argp;
    while (!__atomic_load_n(&stop_all, __ATOMIC_RELAXED)) {
        remote_errors += (unsigned long)kmem_cache_check();
        (void)all_cpu_objects();
        kmem_cache_stats_t st;
        if (kmem_cache_get_stats(shared_cache, &st) != 0)
            remote_errors++;
        memory_stats_t ms;
        get_memory_stats(&ms);
        if (remote_rounds % 4 == 0)
            (void)kmem_cache_shrink(shared_cache);
        if (remote_rounds % 16 == 0)
            (void)kmem_cache_reap();
        remote_rounds++;
    }
    return NULL;
}

/* The two workers for `msec` milliseconds, the remote all along. */
static void run_owners_and_remote(unsigned msec)
{
    stop_all = stop_workers = 0;
    dup_handouts = bad_tags = null_allocs = remote_errors = remote_rounds = 0;
    for (int i = 0; i < 2; i++) {
        memset(&rings[i], 0, sizeof(rings[i]));
        pthread_mutex_init(&rings[i].lock, NULL);
    }
    shared_cache = kmem_cache_create("fence-shared-t", 24 + 16 + 8 * 30 + 8, 0, NULL);
    assert_non_null(shared_cache);
    unsigned long fences = host_fences, by_mprotect = host_fences_mprotect;
    pthread_t w[2], rt;
    worker_arg_t args[2] = {{0}, {1}};
    alarm_on(240);
    assert_int_equal(pthread_create(&rt, NULL, remote, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&w[i], NULL, worker, &args[i]), 0);
    usleep(msec * 1000u);
    __atomic_store_n(&stop_workers, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(w[i], NULL), 0);
    __atomic_store_n(&stop_all, 1, __ATOMIC_RELAXED);
    assert_int_equal(pthread_join(rt, NULL), 0);
    alarm_off();
    /* what is still in the rings: freed here (the threads are gone: this is a third CPU) */
    for (int i = 0; i < 2; i++) {
        void *o;
        while ((o = ring_get(&rings[i])) != NULL)
            give_handed(o);
    }
    print_message("      %lu remote rounds, %lu fences (%lu by mprotect); dup %lu, bad tags %lu, "
                  "NULL %lu\n",
                  remote_rounds, host_fences - fences, host_fences_mprotect - by_mprotect,
                  dup_handouts, bad_tags, null_allocs);
    assert_int_equal(dup_handouts, 0);
    assert_int_equal(bad_tags, 0);
    assert_int_equal(null_allocs, 0);
    assert_int_equal(remote_errors, 0);
    assert_true(remote_rounds > 0);
    kmem_cache_stats_t st = cache_stats(shared_cache);
    assert_int_equal(st.live, 0);
    memory_stats_t ms = stats_now();
    assert_int_equal(ms.slab_cpu_cached, all_cpu_objects());
    assert_int_equal(ms.slab_objects, 0);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(shared_cache), 0);
    check_every_layer();
}

#define THREAD_MS 2000u

/* Two owners trading objects (remote magazines) while a remote drains, checks and counts. */
static void test_owners_and_a_remote(void **state)
{
    (void)state;
    run_owners_and_remote(THREAD_MS);
}

/* The same with glue_fence_cpus' mprotect fallback every time. */
static void test_owners_and_a_remote_mprotect_fence(void **state)
{
    (void)state;
    unsigned long before = host_fences_mprotect;
    host_fence_force_mprotect = 1;
    run_owners_and_remote(THREAD_MS / 2);
    host_fence_force_mprotect = 0;
#ifdef CPU_CACHE_FENCED
    assert_true(host_fences_mprotect > before);
#else
    (void)before; /* (the TSan build takes the xchg: no fence) */
#endif
}

/* ---- fork while another CPU is on its fast path ---- */

/*
 * The shim registers host_lock_fork_* with pthread_atfork.  Mended: they
 * held mm_lock across fork(), not the CPUs' cache locks (28 of 40 children
 * hung, x86_64; now every cache lock, before mm_lock).  A thread on its fast path
 * at the fork (between cpu_cache_enter and cpu_cache_exit: busy set, or in
 * the xchg build its `lock` taken) is not in the child, and the child
 * inherits that CPU's cache marked busy (or locked) forever, its magazine
 * maybe half-changed.  Then every mag_lock_all of the child (statistics,
 * checks, kmem_cache_cpu_objects of that CPU: in the shim, get_memory_stats
 * and heap_check at exit with MM_SHIM_STATS) waits forever.
 *
 * Here the simulated memory is a MAP_SHARED memfd (host/glue.c): a child's
 * writes would be the parent's, and the parent's the child's.  So a thread
 * churns on the fast path while this one forks; a parent handler of the
 * test's, run before host_lock_fork_parent lets the locks go, freezes the
 * churning thread (by a signal: outside mm/ or waiting for its locks, once
 * they are held across the fork; anywhere before the mend) until the child
 * is done, and the child only looks: every CPU's objects, a cache's
 * statistics, kmem_cache_check, within 2 s, all 0.
 */
static volatile int churn_stop, churn_frozen, churn_thaw, churn_cpu = -1, forking;
static pthread_t churn_thread;
static volatile int *child_saw_busy; /* (a shared page: the children count there) */

static void freeze(int sig)
{
    (void)sig;
    __atomic_store_n(&churn_frozen, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&churn_thaw, __ATOMIC_SEQ_CST))
        ;
    __atomic_store_n(&churn_frozen, 0, __ATOMIC_SEQ_CST);
}

/* The parent's side of a fork, before host_lock_fork_parent: the churning thread frozen. */
static void fork_parent_freeze(void)
{
    if (!forking)
        return;
    churn_thaw = 0;
    if (pthread_kill(churn_thread, SIGUSR1) != 0)
        abort();
    while (!__atomic_load_n(&churn_frozen, __ATOMIC_SEQ_CST))
        ;
}

static void *churn(void *argp)
{
    kmem_cache_t *c = argp;
    churn_cpu = glue_cpu_id();
    while (!__atomic_load_n(&churn_stop, __ATOMIC_RELAXED)) {
        void *p[8];
        for (int i = 0; i < 8; i++)
            p[i] = i % 2 ? kmalloc(64) : kmem_cache_alloc(c);
        for (int i = 0; i < 8; i++) {
            if (i % 2)
                kfree(p[i]);
            else
                kmem_cache_free(c, p[i]);
        }
    }
    return NULL;
}

static void fork_child(kmem_cache_t *c)
{
    signal(SIGALRM, SIG_DFL); /* (not the parent's `hung`): the child dies of SIGALRM */
    alarm(2);
    if (kmem_cache_cpu_objects_busy(churn_cpu))
        __atomic_fetch_add(child_saw_busy, 1, __ATOMIC_SEQ_CST);
    (void)all_cpu_objects();
    kmem_cache_stats_t st;
    int bad = kmem_cache_get_stats(c, &st) != 0;
    bad += kmem_cache_check();
    _exit(bad ? 1 : 0);
}

static void test_fork_while_another_cpu_is_on_its_fast_path(void **state)
{
    (void)state;
#ifdef MM_TSAN
    skip(); /* ThreadSanitizer's fork with threads running: its child is not ours to test */
#endif
    static int registered;
    if (!registered++) { /* parent handlers run in the order registered: the freeze first */
        assert_int_equal(pthread_atfork(NULL, fork_parent_freeze, NULL), 0);
        assert_int_equal(
            pthread_atfork(host_lock_fork_prepare, host_lock_fork_parent, host_lock_fork_child), 0);
    }
    child_saw_busy = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(child_saw_busy != MAP_FAILED);
    *child_saw_busy = 0;
    kmem_cache_t *c = kmem_cache_create("fence-fork", 48, 0, NULL);
    assert_non_null(c);
    churn_stop = churn_frozen = 0;
    churn_cpu = -1;
    signal(SIGUSR1, freeze);
    assert_int_equal(pthread_create(&churn_thread, NULL, churn, c), 0);
    while (churn_cpu < 0)
        usleep(1000);
    int hangs = 0, failed = 0, forks = sizeof(void *) == 4 ? 20 : 40;
    alarm_on(200); /* (a child that hangs takes 2 s) */
    for (int k = 0; k < forks; k++) {
        fflush(NULL);
        forking = 1;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            fork_child(c);
        forking = 0;
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
            hangs++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
        __atomic_store_n(&churn_thaw, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&churn_frozen, __ATOMIC_SEQ_CST))
            ;
        usleep(500);
    }
    alarm_off();
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
    assert_int_equal(pthread_join(churn_thread, NULL), 0);
    signal(SIGUSR1, SIG_DFL);
    int saw_busy = *child_saw_busy;
    munmap((void *)child_saw_busy, 4096);
    print_message("      %d forks (%d children saw the churning CPU busy): %d hung, %d failed "
                  "a check\n",
                  forks, saw_busy, hangs, failed);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
    assert_int_equal(hangs, 0);
    assert_int_equal(failed, 0);
    assert_int_equal(saw_busy, 0);
}

#define T(f)  cmocka_unit_test_setup_teardown(f, fresh_as_cpu0, natural_cpu_ids)
#define TN(f) cmocka_unit_test_setup_teardown(f, natural_fresh, natural_cpu_ids)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_filler_zero_objects_kept_apart),
        T(test_remote_magazine_edges),
        T(test_destroy_from_a_ctor_with_remote_objects),
        T(test_reap_from_a_ctor_leaves_the_busy_remote_magazine),
        T(test_stale_remote_pointer_after_slab_reuse),
        cmocka_unit_test_setup_teardown(test_numa_remote_and_foreign_frees, two_nodes_cpu0,
                                        one_node_again),
        TN(test_owners_and_a_remote),
        TN(test_owners_and_a_remote_mprotect_fence),
        TN(test_fork_while_another_cpu_is_on_its_fast_path), /* last: it registers atfork */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

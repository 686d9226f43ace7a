/*
 * test_attack_fastfree.c - a hostile review of bc_kfree (mm/blockcache.h), the
 * per-CPU fast free of a heap block, kept as tests.  bc_kfree reads the block
 * map once: the same mm_lock_seq before that read and after the block's mark
 * is claimed says no holder of mm/'s lock changed the map meanwhile, and only
 * then is the header read.  Threads as CPUs: racing CPUs call bc_kfree on a
 * block in a loop (a stale or double free racing its owner's calls) while the
 * main thread changes that block under mm/'s lock.
 *
 *   A  stale size vs resize in place: the block alternates between 3000 and
 *      6000 bytes (krealloc grows it into the free block after it, then trims
 *      it), its owner letting its mark go only for each krealloc.  A racer
 *      that wins the mark caches the block (a double free, legitimately fast);
 *      a bug caches it in the class of a size the map no longer says.  Expect:
 *      heap_check (its bc_check compares every cached block's class with the
 *      map) 0 after every round, and the racer won at least once.
 *   B  header read vs unmap: the block x (60000 bytes) sits at the heap's end
 *      after a 400000-byte block y; x is freed, y is freed (the heap shrinks
 *      past x: x's page unmapped), both are allocated again at the same
 *      places.  The owner holds x's mark all along except inside the holds of
 *      the lock that free it and take it again (a CPU's flush and fill: the
 *      real protocol, heap_release_cached and a mark taken in the allocation's
 *      hold).  Each round a signal stops the racer wherever it is (past its
 *      map read of x, some rounds) until x's page is unmapped: x's mark is
 *      then free, and only mm_lock_seq keeps the racer from reading x's
 *      header.  Expect: no racer ever takes x, no fault, heap_check 0 after
 *      every round, and x's page unmapped in most rounds.
 *   C  header read vs rebuild: the owner's fast free of p, whose size an
 *      overflow forged, against kmalloc_usable_size(p) on another CPU (which
 *      reports the forgery and rebuilds the header from the map, or reports p
 *      as freed when the owner's free got in first), at moments spread over
 *      the owner's call.  Expect: one or two reports a round (the forgery, and
 *      a call that raced the owner's free), and heap_check 0 after every round
 *      (a forged header in a CPU's cache: its walk says so).
 *
 * Bugs put back in bc_kfree, and what failed (x86_64, whole runs):
 *   - no mm_lock_seq_still check: B faults (every run, 5 of 5);
 *   - the header read before the mm_lock_seq_still check, with or without
 *     it: B faults (2 runs of 2 each);
 *   - no header size check (h->size != s): C, heap_check of a forged header
 *     cached (every run, 5 of 5, in tens of rounds or more);
 *   - no mm_lock_seq_still check and no header size check: A, a block cached
 *     in the wrong class (1 run of 2); A passes with either check alone (the
 *     header, rewritten by the resize, disagrees with a stale size).
 *
 * ATTACK_ITERS=N multiplies the loop counts.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "blockcache.h"
#include "glue_common.h"
#include "harness.h"
#include "heap_priv.h"
#include "slab.h"

#define LD(v)    __atomic_load_n(&(v), __ATOMIC_ACQUIRE)
#define ST(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELEASE)

/*
 * A fault in any thread (the racers read headers with no lock) ends the run
 * with the attack's name: cmocka's own handler would longjmp into the main
 * thread's stack from a racer's.
 */
static const char *attack = "";
static void crashed(int sig)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg),
                     "FINDING %s: signal %d (a header read of an unmapped page?)\n", attack, sig);
    if (write(2, msg, (size_t)n) < 0)
        _exit(2);
    _exit(1);
}

static void watch_faults(const char *name)
{
    attack = name;
    signal(SIGSEGV, crashed);
    signal(SIGBUS, crashed);
}

/* ----------------------------------------------------------- racers ---- */

static int stop, hit, ready;
static uintptr_t target; /* the racers' pointer to free, 0: none yet */
static long tries;       /* the racers' bc_kfree calls (relaxed) */
static long calls;       /* B's racer's bc_kfree calls so far */
static int parked, unpark;

/* B's racer, stopped wherever it is (its bc_kfree's map read made, maybe) until unpark */
static void park(int sig)
{
    (void)sig;
    ST(parked, 1);
    while (!LD(unpark))
        ;
    ST(parked, 0);
}

static void *racer(void *arg)
{
    (void)arg;
    kfree(kmalloc(100)); /* a CPU id for this thread (a slab object: no block of the heap) */
    __atomic_add_fetch(&ready, 1, __ATOMIC_ACQ_REL);
    long n = 0;
    while (!LD(stop)) {
        uintptr_t t = LD(target);
        if (bc_kfree((void *)t)) {
            ST(hit, 1);
            break;
        }
        ST(calls, ++n);
    }
    __atomic_add_fetch(&tries, n, __ATOMIC_RELAXED);
    return NULL;
}

static void start_racers(pthread_t *th, int n, uintptr_t t)
{
    ST(stop, 0), ST(hit, 0), ST(ready, 0), ST(target, t);
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&th[i], NULL, racer, NULL), 0);
    while (LD(ready) < n)
        sched_yield();
}

static void join_racers(pthread_t *th, int n)
{
    ST(stop, 1);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

/* heap_check (bc_check in it: each cached block's class by the map), then the racers' caches
 * drained */
static int end_round(const char *what, long round)
{
    host_console_clear();
    int c = heap_check();
    if (c)
        fprintf(stderr, "FINDING %s round %ld: heap_check %d: %s\n", what, round, c,
                host_console_text());
    mm_set_block_cache(0);
    mm_set_block_cache(1);
    return c;
}

/* -------------------------------------- A: stale size vs resize in place ---- */

static void test_stale_size_vs_resize(void **state)
{
    (void)state;
    long hits = 0, rounds = 0, bad = 0;
    pthread_t th[1];
    tries = 0;
    watch_faults("A (stale size vs resize)");
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    for (long k = 0; k < attack_iters(1500); k++) {
        char *a = kcalloc(1, 30000), *g = kcalloc(1, 3000);
        assert_true(krealloc(a, 3000) == a); /* its tail a free block after it: room to grow */
        uintptr_t ab = (uintptr_t)a - HDR;
        int own = bc_mark_try(ab); /* the owner keeps the mark between its calls */
        assert_true(own);
        start_racers(th, 1, (uintptr_t)a);
        for (long i = 0; i < 20000 && !LD(hit); i++, rounds++) {
            heap_mark_clear(ab);
            char *p = krealloc(a, (i & 1) ? 3000 : 6000);
            own = bc_mark_try(ab);
            if (!own || p != a) /* the racer's (a double free: krealloc reported it) */
                break;
        }
        join_racers(th, 1);
        if (own)
            heap_mark_clear(ab);
        int h = LD(hit);
        bad += end_round("A", k) != 0;
        hits += h;
        if (!h)
            krealloc(a, 0); /* (a hit: a is the racer's, drained by end_round) */
        krealloc(g, 0);
    }
    fprintf(stderr, "A: %ld racer's fast frees in %ld resizes, %ld tried, %ld rounds bad\n", hits,
            rounds, tries, bad);
    check_every_layer();
    assert_int_equal(bad, 0);
    assert_true(hits > 0); /* the window was sampled */
}

/* ------------------------------------------------ B: header read vs unmap ---- */

#define XSIZE 60000
#define YSIZE 400000

/*
 * x's block taken and marked in one hold of the lock, as a CPU's fill takes
 * one.  A racer's mark on it can only be a stray one (its sequence check
 * fails: this hold), let go at once; one that stays is a racer's fast free
 * that took the block (hit).
 */
static char *alloc_marked(size_t size)
{
    heap_call_t c = heap_enter("kmalloc");
    heap_block_t *b = heap_alloc_block("kmalloc", heap_request_size(size));
    if (b)
        while (!bc_mark_try((uintptr_t)b) && !LD(hit))
            ;
    heap_leave(c);
    return b ? (char *)b + HDR : NULL;
}

/* ... and given back with its mark held, let go as the map says free (a flush's way) */
static void free_marked(char *p)
{
    heap_call_t c = heap_enter("kfree");
    heap_release_cached("kfree", p);
    heap_leave(c);
}

/* A y (YSIZE bytes, a free tail after it) at the heap's end, or NULL. */
static char *alloc_y(void)
{
    char *y = kcalloc(1, YSIZE + 131072);
    if (y)
        assert_true(krealloc(y, YSIZE) == y);
    return y;
}

/* x (XSIZE bytes) right after *yp, the region's last block after it; misplaced ones leaked. */
static char *place_x(heap_region_t *r, char **yp)
{
    for (int t = 0; t < 400; t++) {
        if (!*yp && !(*yp = alloc_y()))
            return NULL;
        if (((heap_block_t *)(*yp - HDR))->next != r->last) {
            *yp = NULL; /* leaked: the next y from the heap's end */
            continue;
        }
        char *x = kcalloc(1, XSIZE);
        if (!x)
            return NULL;
        if (x == *yp + YSIZE + HDR && ((heap_block_t *)(x - HDR))->next == r->last)
            return x;
        /* x filled a hole: leaked */
    }
    return NULL;
}

static int fresh_big(void **state)
{
    (void)state;
    host_forced_cpu_id = 0;
    fresh_every_layer(64u << 20);
    return 0;
}

static void test_header_read_vs_unmap(void **state)
{
    (void)state;
    long hits = 0, rounds = 0, bad = 0, unmapped = 0;
    pthread_t th[1];
    tries = 0;
    watch_faults("B (header read vs unmap)");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = park;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    heap_region_t *r = heap_growing_region();
    char *y = NULL;
    for (long k = 0; k < attack_iters(5); k++) {
        char *x = place_x(r, &y);
        assert_non_null(x);
        assert_true(bc_mark_try((uintptr_t)x - HDR));
        start_racers(th, 1, (uintptr_t)x);
        for (long i = 0; i < 500 && !LD(hit); i++, rounds++) {
            /*
             * The racer stopped at some instruction of its loop, maybe past its
             * map read of x (allocated), and let go with x freed and its page
             * unmapped: its mark then comes free, and only mm_lock_seq keeps it
             * from reading x's header.
             */
            ST(unpark, 0);
            pthread_kill(th[0], SIGUSR1);
            while (!LD(parked) && !LD(hit))
                ;
            free_marked(x);
            krealloc(y, 0); /* the heap shrinks past x */
            if (r->end <= (uintptr_t)x)
                unmapped++;
            long c0 = LD(calls);
            ST(unpark, 1);
            while (LD(calls) < c0 + 2 && !LD(hit)) /* the call it was in, over */
                ;
            y = alloc_y();
            assert_non_null(y);
            char *x2 = alloc_marked(XSIZE);
            assert_non_null(x2);
            if (x2 != x) { /* a hole took it: the racer follows */
                x = x2;
                ST(target, (uintptr_t)x);
            }
        }
        join_racers(th, 1);
        int h = LD(hit);
        if (h)
            fprintf(stderr,
                    "FINDING B round %ld: a racer's fast free took x (%p), its mark the "
                    "owner's\n",
                    k, (void *)x);
        else
            heap_mark_clear((uintptr_t)x - HDR);
        bad += end_round("B", k) != 0;
        hits += h;
        if (!h)
            krealloc(x, 0);
        if (((heap_block_t *)(y - HDR))->next != r->last) {
            krealloc(y, 0);
            y = NULL;
        }
    }
    fprintf(stderr,
            "B: %ld racers' fast frees in %ld rounds (x's page unmapped in %ld), %ld "
            "tried, %ld rounds bad\n",
            hits, rounds, unmapped, tries, bad);
    check_every_layer();
    assert_int_equal(hits, 0);
    assert_int_equal(bad, 0);
    assert_true(unmapped > rounds / 2); /* the attack attacked */
}

/* ---------------------------------------------- C: header read vs rebuild ---- */

static int c_go, c_done;
static char *c_p;
static long c_fast, c_shared;

/* The owner: bc_kfree(p), else what kfree does next (the shared path). */
static void *c_owner(void *arg)
{
    (void)arg;
    kfree(kmalloc(100));
    __atomic_add_fetch(&ready, 1, __ATOMIC_ACQ_REL);
    for (;;) {
        while (!LD(c_go) && !LD(stop))
            ;
        if (LD(stop))
            break;
        ST(c_go, 0);
        if (bc_kfree(LD(c_p))) {
            c_fast++;
            ST(c_done, 1);
        } else {
            kfree(LD(c_p));
            c_shared++;
            ST(c_done, 2);
        }
    }
    return NULL;
}

static void test_header_read_vs_rebuild(void **state)
{
    (void)state;
    long rounds = attack_iters(20000), wrong = 0, bad = 0;
    watch_faults("C (header read vs rebuild)");
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    ST(stop, 0), ST(ready, 0);
    c_fast = c_shared = 0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, c_owner, NULL), 0);
    while (!LD(ready))
        sched_yield();
    uint32_t e0 = errors_now();
    for (long i = 0; i < rounds; i++) {
        char *p = kcalloc(1, 1000), *q = kcalloc(1, 1000), *g = kcalloc(1, 1000);
        heap_block_t *hp = (heap_block_t *)(p - HDR);
        uint32_t e1 = errors_now();
        host_console_clear();
        hp->size += 16; /* an overflow of the block before p: p's size forged */
        ST(c_p, p);
        ST(c_done, 0);
        ST(c_go, 1);
        for (volatile long d = i % 1024; d > 0; d--) /* both orders, and the moments between */
            ;
        (void)kmalloc_usable_size(p); /* p's header rebuilt from the map (reported) */
        int how;
        while (!(how = LD(c_done)))
            ;
        uint32_t n = errors_now() - e1;
        if (n < 1 || n > 2) {
            fprintf(stderr, "FINDING C round %ld: %u reports, the owner's free %s: %s\n", i, n,
                    how == 1 ? "fast" : "shared", host_console_text());
            wrong++;
        }
        int c = heap_check(); /* a forged header in a CPU's cache: its walk says so */
        if (c) {
            fprintf(stderr, "FINDING C round %ld: heap_check %d, the owner's free %s\n", i, c,
                    how == 1 ? "fast" : "shared");
            bad++;
        }
        krealloc(q, 0);
        krealloc(g, 0);
        if ((i & 63) == 0) {
            mm_set_block_cache(0);
            mm_set_block_cache(1);
        }
    }
    ST(stop, 1);
    pthread_join(th, NULL);
    fprintf(stderr,
            "C: %ld rounds: the owner's free fast %ld, shared %ld; reports %u; rounds with "
            "wrong reports %ld, bad %ld\n",
            rounds, c_fast, c_shared, errors_now() - e0, wrong, bad);
    mm_set_block_cache(0);
    mm_set_block_cache(1);
    check_every_layer();
    assert_int_equal(wrong, 0);
    assert_int_equal(bad, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fresh_as_cpu0, natural_cpu_ids)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_stale_size_vs_resize),
        cmocka_unit_test_setup_teardown(test_header_read_vs_unmap, fresh_big, natural_cpu_ids),
        T(test_header_read_vs_rebuild),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

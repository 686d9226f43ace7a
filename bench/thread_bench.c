/*
 * thread_bench.c - threaded malloc workloads, against whichever malloc the
 * process has (glibc as is; jemalloc, mimalloc, tcmalloc or ours,
 * build/host/libkmalloc.so, through LD_PRELOAD: tools/thread-bench.sh runs it
 * under each).  No mm/ code is linked in: every allocator, ours included, is
 * reached the same way, through the same calls of the same binary.
 *
 * Workloads, each with 1, 2 and 4 threads, each run for a fixed time:
 *
 *   fixed64   each thread frees and reallocates 64-byte objects in turn
 *             from a live set of its own (64 objects);
 *   small     the same with random sizes 8-512 B (live set 256);
 *   prodcons  a producer thread allocates (8-512 B) and passes each object
 *             through a queue to a consumer thread that frees it: 2 threads
 *             are one pair, 4 threads two pairs; 1 thread alternates the two
 *             roles on batches of 64 objects (all its frees are local);
 *   large     random sizes 8 B-64 KB, a live set of 256 per thread.
 *
 * Throughput is operations (a malloc or a free) per second, summed over the
 * threads (each thread's operations over its own time).  Threads come from a
 * pool of four created at start and reused by every run, so a thread-indexed
 * cache (ours numbers threads as CPUs, host/glue_common.c) sees four threads,
 * not one new one per run.
 *
 * remote: thread A allocates a batch of 1024 64-byte objects; then either A
 * frees them (local) or thread B does while A waits (remote).  Nanoseconds
 * per free, the fastest of 100 rounds for each (local and remote alternate).
 *
 * A shared machine's other processes take CPUs from the threads: each thread
 * reads from Linux's schedstat how long it waited, runnable, for a CPU, and
 * each run says what share of its threads' time that was.  (Subtracting that
 * wait would not give an idle machine's figure: threads that seldom run at
 * the same time seldom contend, so a lock-bound allocator would look as if it
 * scaled.)
 *
 * A second argument names one workload: its runs alone, no remote (to
 * count one workload's locks: MM_SHIM_STATS=1 under the shim); a third, a
 * thread count (1, 2 or 4): that run alone (to profile it).
 *
 * Output, one line per figure (tools/thread-bench.sh collects them):
 *   tput WORKLOAD THREADS OPS_PER_SECOND SHARE_OF_TIME_WAITING_FOR_A_CPU (-1: unknown)
 *   remote LOCAL_NS REMOTE_NS
 * Timing only: nothing here passes or fails.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tests/rng.h"
#include "bench.h"

#define MAX_THREADS   4
#define BATCH         128 /* operations between two looks at the stop flag */
#define QUEUE_SIZE    1024
#define REMOTE_BATCH  1024
#define REMOTE_ROUNDS 200

static void *must_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "thread_bench: malloc(%zu) failed\n", n);
        exit(1);
    }
    touch(p, n);
    return p;
}

/* ------------------------------------------------------------ the pool ---- */

struct worker {
    int id;
    uint32_t rng;
    long ops;
    double seconds; /* wall-clock time of its part of the run */
    double waited;  /* ... of which runnable but waiting for a CPU (schedstat), or -1 */
    char pad[64];
};

static struct worker workers[MAX_THREADS];
static void (*job)(struct worker *);
static int job_threads;
static int stop_flag;
static int quit;
static pthread_barrier_t start_barrier, end_barrier;

static int stopped(void)
{
    return __atomic_load_n(&stop_flag, __ATOMIC_RELAXED);
}

/*
 * Nanoseconds this thread has spent runnable but waiting for a CPU: the
 * second field of /proc/thread-self/schedstat; -1 if there is none.  Read
 * with open/read, not stdio: nothing here may call malloc.
 */
static double waited_ns(void)
{
    char buf[128];
    int fd = open("/proc/thread-self/schedstat", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strchr(buf, ' ');
    return p ? strtod(p + 1, NULL) : -1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        pthread_barrier_wait(&start_barrier);
        if (quit)
            return NULL;
        if (w->id < job_threads) {
            double w0 = waited_ns(), t0 = now();
            w->ops = 0;
            job(w);
            w->seconds = now() - t0;
            double w1 = waited_ns();
            w->waited = w0 < 0 || w1 < 0 ? -1 : (w1 - w0) * 1e-9;
        }
        pthread_barrier_wait(&end_barrier);
    }
}

/*
 * Run fn on n threads of the pool for about `seconds`; total operations per
 * second.  *waited: the share of the threads' time spent runnable but waiting
 * for a CPU (-1 without schedstat).
 */
static double run(void (*fn)(struct worker *), int n, double seconds, double *waited)
{
    job = fn;
    job_threads = n;
    stop_flag = 0;
    pthread_barrier_wait(&start_barrier);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    pthread_barrier_wait(&end_barrier);
    double rate = 0, wait = 0, total = 0;
    for (int i = 0; i < n; i++) {
        rate += workers[i].ops / workers[i].seconds;
        total += workers[i].seconds;
        wait = wait < 0 || workers[i].waited < 0 ? -1 : wait + workers[i].waited;
    }
    if (waited)
        *waited = wait < 0 ? -1 : wait / total;
    return rate;
}

/* ----------------------------------------------------------- workloads ---- */

static void churn(struct worker *w, int live, size_t lo, size_t span)
{
    void *slot[256] = {0};
    long ops = 0;
    while (!stopped()) {
        for (int b = 0; b < BATCH; b++) {
            int k = rng_below(&w->rng, (uint32_t)live);
            free(slot[k]);
            size_t n = lo + (span ? rng_below(&w->rng, (uint32_t)span) : 0);
            slot[k] = must_malloc(n);
        }
        ops += 2 * BATCH;
    }
    for (int k = 0; k < live; k++)
        free(slot[k]);
    w->ops = ops;
}

static void fixed64(struct worker *w)
{
    churn(w, 64, 64, 0);
}

static void small(struct worker *w)
{
    churn(w, 256, 8, 512 - 8 + 1);
}

static void large(struct worker *w)
{
    churn(w, 256, 8, 64 * 1024 - 8 + 1);
}

/* One queue per producer/consumer pair: single producer, single consumer. */
struct queue {
    void *slot[QUEUE_SIZE];
    _Alignas(64) unsigned head; /* next to push (producer) */
    _Alignas(64) unsigned tail; /* next to pop (consumer) */
    _Alignas(64) int done;      /* the producer has stopped */
};
static struct queue queues[MAX_THREADS / 2];

static void wait_a_little(int *spins)
{
    if (++*spins < 64)
        __builtin_ia32_pause();
    else
        sched_yield(); /* 4 threads on 2 cores: let the other side run */
}

static void producer(struct worker *w, struct queue *q)
{
    long ops = 0;
    unsigned head = q->head;
    while (!stopped()) {
        for (int b = 0; b < BATCH; b++) {
            void *p = must_malloc(8 + rng_below(&w->rng, 505));
            int spins = 0;
            while (head - __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) == QUEUE_SIZE)
                wait_a_little(&spins);
            q->slot[head % QUEUE_SIZE] = p;
            __atomic_store_n(&q->head, ++head, __ATOMIC_RELEASE);
        }
        ops += BATCH;
    }
    __atomic_store_n(&q->done, 1, __ATOMIC_RELEASE);
    w->ops = ops;
}

static void consumer(struct worker *w, struct queue *q)
{
    long ops = 0;
    unsigned tail = q->tail;
    int spins = 0;
    for (;;) {
        unsigned head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
        if (head == tail) {
            if (__atomic_load_n(&q->done, __ATOMIC_ACQUIRE) &&
                __atomic_load_n(&q->head, __ATOMIC_ACQUIRE) == tail)
                break;
            wait_a_little(&spins);
            continue;
        }
        spins = 0;
        while (tail != head) {
            free(q->slot[tail % QUEUE_SIZE]);
            __atomic_store_n(&q->tail, ++tail, __ATOMIC_RELEASE);
            ops++;
        }
    }
    w->ops = ops;
}

static void prodcons(struct worker *w)
{
    if (job_threads == 1) { /* both roles, one after the other */
        void *batch[64];
        long ops = 0;
        while (!stopped()) {
            for (int r = 0; r < BATCH / 64; r++) {
                for (int i = 0; i < 64; i++)
                    batch[i] = must_malloc(8 + rng_below(&w->rng, 505));
                for (int i = 0; i < 64; i++)
                    free(batch[i]);
            }
            ops += 2 * BATCH;
        }
        w->ops = ops;
        return;
    }
    struct queue *q = &queues[w->id / 2];
    if (w->id % 2 == 0)
        producer(w, q);
    else
        consumer(w, q);
}

static void prodcons_reset(void)
{
    memset(queues, 0, sizeof(queues));
}

/* -------------------------------------------------------- remote free ---- */

static void *remote_objs[REMOTE_BATCH];
static double local_best, remote_best;
static pthread_barrier_t pair_barrier;

static void remote(struct worker *w)
{
    for (int round = 0; round < REMOTE_ROUNDS; round++) {
        int is_remote = round % 2;
        if (w->id == 0)
            for (int i = 0; i < REMOTE_BATCH; i++)
                remote_objs[i] = must_malloc(64);
        pthread_barrier_wait(&pair_barrier);
        if (w->id == is_remote) { /* local rounds: thread 0 frees; remote: thread 1 */
            double t0 = now();
            for (int i = 0; i < REMOTE_BATCH; i++)
                free(remote_objs[i]);
            double ns = (now() - t0) * 1e9 / REMOTE_BATCH;
            double *best = is_remote ? &remote_best : &local_best;
            if (*best == 0 || ns < *best)
                *best = ns;
        }
        pthread_barrier_wait(&pair_barrier);
    }
}

/* ---------------------------------------------------------------- main ---- */

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.15;
    const char *only = argc > 2 ? argv[2] : NULL; /* one workload's runs alone (no remote) */
    int threads = argc > 3 ? atoi(argv[3]) : 0;   /* and only this many threads (to profile) */
    if (seconds <= 0 || seconds > 10 || argc > 4 || threads < 0 || threads > MAX_THREADS) {
        fprintf(stderr,
                "usage: thread_bench [SECONDS_PER_RUN (0 < s <= 10) [WORKLOAD [THREADS]]]\n");
        return 2;
    }
    pthread_barrier_init(&start_barrier, NULL, MAX_THREADS + 1);
    pthread_barrier_init(&end_barrier, NULL, MAX_THREADS + 1);
    pthread_barrier_init(&pair_barrier, NULL, 2);
    pthread_t tid[MAX_THREADS];
    for (int i = 0; i < MAX_THREADS; i++) {
        workers[i].id = i;
        workers[i].rng = 12345u + 7919u * (uint32_t)i;
        if (pthread_create(&tid[i], NULL, worker_main, &workers[i])) {
            fprintf(stderr, "thread_bench: pthread_create failed\n");
            return 1;
        }
    }
    static const struct {
        const char *name;
        void (*fn)(struct worker *);
    } work[] = {{"fixed64", fixed64}, {"small", small}, {"prodcons", prodcons}, {"large", large}};
    enum { NWORK = sizeof(work) / sizeof(work[0]) };
    /* warm-up: every thread's first allocations (and the heap's start) are not timed */
    for (int k = 0; k < NWORK; k++) {
        prodcons_reset();
        run(work[k].fn, MAX_THREADS, 0.02, NULL);
    }
    int known = !only;
    for (int k = 0; k < NWORK; k++) {
        if (only && strcmp(only, work[k].name))
            continue;
        known = 1;
        for (int n = 1; n <= MAX_THREADS; n *= 2) {
            if (threads && n != threads)
                continue;
            prodcons_reset();
            double waited, rate = run(work[k].fn, n, seconds, &waited);
            printf("tput %s %d %.0f %.3f\n", work[k].name, n, rate, waited);
            fflush(stdout);
        }
    }
    if (!known)
        fprintf(stderr, "thread_bench: no workload %s (fixed64, small, prodcons, large)\n", only);
    if (!only) {
        run(remote, 2, 0, NULL); /* ends when its rounds are done */
        printf("remote %.1f %.1f\n", local_best, remote_best);
    }
    quit = 1;
    pthread_barrier_wait(&start_barrier);
    for (int i = 0; i < MAX_THREADS; i++)
        pthread_join(tid[i], NULL);
    return known ? 0 : 2;
}

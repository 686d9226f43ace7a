/*
 * threads.c - threads and fork against the process's malloc, whichever it is,
 * after the edge cases of the API (api_checks: what glibc does, we must do).
 *
 * tools/shim-check.sh runs this plain and under LD_PRELOAD=libkmalloc.so; the
 * output must be the same.  It links no mm/ code: it only calls malloc & co.
 *
 *   main ----+---- fork ---- fork ---- ... ---- join ---- check own blocks
 *            |      |
 *            |      +- child: checks the blocks it inherited, runs two
 *            |         threads of its own, scribbles on its copies, exits
 *            +- 4 threads x OPS random malloc/calloc/realloc/aligned/free,
 *               every block filled with a pattern and checked before it goes
 *
 *   then 4 threads x HANDOFF blocks passed between threads: each thread
 *   mallocs (or callocs) a block, fills it with a pattern of (sender, number)
 *   and hands it to another thread, which checks it, sometimes reallocs it
 *   (the prefix must survive) and frees it: every block is freed by a thread
 *   that did not allocate it (under the shim, on another per-CPU cache)
 *
 * What would break: a lock held by another thread at fork (the child hangs:
 * alarm() turns that into a failure), heap metadata shared between parent
 * and child (the parent's blocks change when the child writes its copies),
 * a lost update between threads (a pattern check fails), a block freed on
 * another thread than its own going astray or handed out twice (a pattern
 * check fails), an alignment short
 * of 16 bytes, malloc_usable_size below the size asked for.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../rng.h"

#define THREADS 4
#define OPS     200000
#define SLOTS   512
#define FORKS   6
#define OWN     64    /* blocks the main thread keeps across the forks */
#define HANDOFF 50000 /* blocks each thread hands to the others */
#define QUEUE   64

typedef struct {
    unsigned char *p;
    size_t size;
    unsigned char fill;
} slot_t;

static int failures;
static int progress[THREADS]; /* operations done, OPS when finished */

static void fail(const char *what, long detail)
{
    fprintf(stderr, "threads: FAILED: %s (%ld)\n", what, detail);
    __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
}

/* Mostly small, sometimes a page or two, now and then 256 KB. */
static size_t random_size(uint32_t *s)
{
    uint32_t r = rng_next(s);
    switch (r % 16) {
    case 0:
        return r % (256 * 1024);
    case 1:
    case 2:
        return r % 9000;
    default:
        return r % 300;
    }
}

static int check(const slot_t *sl)
{
    for (size_t i = 0; i < sl->size; i++) {
        if (sl->p[i] != sl->fill)
            return 0;
    }
    return 1;
}

static void fill(slot_t *sl, unsigned char c)
{
    memset(sl->p, c, sl->size);
    sl->fill = c;
}

/* One random operation on one slot; returns 0 if something was wrong. */
static int operate(slot_t *sl, uint32_t *rng, unsigned char tag)
{
    uint32_t r = rng_next(rng);
    size_t n = random_size(rng);
    unsigned char c = (unsigned char)(tag ^ r >> 24);
    if (sl->p && !check(sl)) {
        fail("block changed under us", (long)sl->size);
        return 0;
    }
    if (sl->p && r % 3 == 0) { /* realloc keeps the common prefix */
        unsigned char *q = realloc(sl->p, n ? n : 1);
        if (!q)
            return fail("realloc returned NULL", (long)n), 0;
        sl->p = q;
        sl->size = sl->size < n ? sl->size : n;
        if (!check(sl))
            return fail("realloc lost data", (long)n), 0;
        sl->size = n ? n : 1;
        fill(sl, c);
    } else if (sl->p) {
        free(sl->p);
        sl->p = NULL;
    } else {
        size_t align = (size_t)16 << (r >> 8) % 9; /* 16 .. 4096 */
        switch (r % 5) {
        case 0:
            align = 16;
            sl->p = calloc(1, n);
            for (size_t i = 0; sl->p && i < n; i++) {
                if (sl->p[i])
                    return fail("calloc memory not zero", (long)i), 0;
            }
            break;
        case 1:
            if (posix_memalign((void **)&sl->p, align, n))
                sl->p = NULL;
            break;
        case 2:
            sl->p = aligned_alloc(align, n);
            break;
        default:
            align = 16;
            sl->p = malloc(n);
        }
        if (!sl->p)
            return fail("allocation returned NULL", (long)n), 0;
        if ((uintptr_t)sl->p % align)
            return fail("misaligned block", (long)align), 0;
        if (malloc_usable_size(sl->p) < n)
            return fail("malloc_usable_size below the size asked for", (long)n), 0;
        sl->size = n;
        fill(sl, c);
    }
    if (sl->p && (uintptr_t)sl->p % 16)
        return fail("block not 16-byte aligned", (long)sl->size), 0;
    return 1;
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    static slot_t slots[THREADS][SLOTS];
    uint32_t rng = 0x9E3779B9u * (uint32_t)(id + 1); /* odd: never 0 */
    for (int i = 0; i < OPS; i++) {
        if (!operate(&slots[id][rng_next(&rng) % SLOTS], &rng, (unsigned char)(id * 40)))
            break;
        __atomic_store_n(&progress[id], i, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&progress[id], OPS, __ATOMIC_RELAXED);
    for (int s = 0; s < SLOTS; s++)
        free(slots[id][s].p);
    return NULL;
}

static void *child_worker(void *arg)
{
    uint32_t rng = (uint32_t)(intptr_t)arg; /* 1, 2, ...: never 0 */
    slot_t slots[64] = {{0}};
    for (int i = 0; i < 20000; i++)
        operate(&slots[rng_next(&rng) % 64], &rng, 0x5A);
    for (int s = 0; s < 64; s++)
        free(slots[s].p);
    return NULL;
}

/* The child of a fork: the inherited blocks are intact, malloc works, threads too. */
static void child(slot_t *own, int round)
{
    alarm(20); /* a lock left held at fork would hang us: fail instead */
    int bad = 0;
    for (int i = 0; i < OWN; i++)
        bad += !check(&own[i]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, child_worker, (void *)(intptr_t)(round * 2 + i + 1));
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < OWN; i++) { /* the parent's copies must not see this */
        unsigned char *q = realloc(own[i].p, own[i].size + 100);
        if (!q)
            bad++;
        else
            memset(q, 0xEE, own[i].size + 100);
    }
    _exit(bad || failures ? 1 : 0);
}

/* ---- handoff: blocks freed by another thread than the one that allocated them ---- */

typedef struct {
    unsigned char *p;
    size_t size;
    uint32_t seq;
} sent_t;

static struct {
    pthread_mutex_t lock;
    sent_t item[QUEUE];
    unsigned head, count;
} queue[THREADS][THREADS]; /* [from][to] */
static int senders_left = THREADS;
static long handed_over[THREADS], reallocated[THREADS];

static unsigned char handoff_byte(int from, uint32_t seq, size_t i)
{
    return (unsigned char)(from * 71 + seq * 13 + i * 7 + (i >> 8) + 1);
}

static int handoff_check(const unsigned char *p, size_t n, int from, uint32_t seq)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != handoff_byte(from, seq, i))
            return 0;
    }
    return 1;
}

static void handoff_fill(unsigned char *p, size_t from_byte, size_t n, int from, uint32_t seq)
{
    for (size_t i = from_byte; i < n; i++)
        p[i] = handoff_byte(from, seq, i);
}

/* Take what the others sent thread `me`: check, maybe realloc, free. */
static void receive(int me, uint32_t *rng)
{
    for (int from = 0; from < THREADS; from++) {
        for (;;) {
            sent_t s;
            pthread_mutex_lock(&queue[from][me].lock);
            int got = queue[from][me].count > 0;
            if (got) {
                s = queue[from][me].item[queue[from][me].head];
                queue[from][me].head = (queue[from][me].head + 1) % QUEUE;
                queue[from][me].count--;
            }
            pthread_mutex_unlock(&queue[from][me].lock);
            if (!got)
                break;
            if (!handoff_check(s.p, s.size, from, s.seq))
                fail("handoff: a block changed on its way to another thread", (long)s.size);
            if (rng_next(rng) % 3 == 0) { /* realloc by the receiver keeps the prefix */
                size_t n = 1 + random_size(rng);
                unsigned char *q = realloc(s.p, n);
                if (!q) {
                    fail("handoff: realloc returned NULL", (long)n);
                } else {
                    size_t keep = n < s.size ? n : s.size;
                    if (!handoff_check(q, keep, from, s.seq))
                        fail("handoff: realloc by another thread lost data", (long)n);
                    handoff_fill(q, keep, n, from, s.seq);
                    if (!handoff_check(q, n, from, s.seq))
                        fail("handoff: realloc'd block does not hold its bytes", (long)n);
                    s.p = q;
                }
                reallocated[me]++;
            }
            free(s.p);
            handed_over[me]++;
        }
    }
}

static void *handoff_worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint32_t rng = 0x2545F491u * (uint32_t)(me + 1);
    for (uint32_t seq = 0; seq < HANDOFF; seq++) {
        sent_t s = {.size = 1 + random_size(&rng), .seq = seq};
        s.p = rng_next(&rng) % 4 ? malloc(s.size) : calloc(1, s.size);
        if (!s.p) {
            fail("handoff: allocation returned NULL", (long)s.size);
            break;
        }
        handoff_fill(s.p, 0, s.size, me, seq);
        int to = (me + 1 + (int)(rng_next(&rng) % (THREADS - 1))) % THREADS;
        for (;;) { /* the receiver drains its queues whenever it waits: no deadlock */
            pthread_mutex_lock(&queue[me][to].lock);
            int room = queue[me][to].count < QUEUE;
            if (room) {
                queue[me][to].item[(queue[me][to].head + queue[me][to].count) % QUEUE] = s;
                queue[me][to].count++;
            }
            pthread_mutex_unlock(&queue[me][to].lock);
            if (room)
                break;
            receive(me, &rng);
            sched_yield();
        }
        receive(me, &rng);
    }
    __atomic_sub_fetch(&senders_left, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&senders_left, __ATOMIC_ACQUIRE) > 0) {
        receive(me, &rng);
        sched_yield();
    }
    receive(me, &rng);
    return NULL;
}

static void handoff(void)
{
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < THREADS; j++)
            pthread_mutex_init(&queue[i][j].lock, NULL);
    }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, handoff_worker, (void *)(intptr_t)i);
    long total = 0, resized = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += handed_over[i];
        resized += reallocated[i] > 0;
    }
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < THREADS; j++) {
            if (queue[i][j].count)
                fail("handoff: blocks left in a queue", (long)queue[i][j].count);
        }
    }
    if (total != (long)THREADS * HANDOFF)
        fail("handoff: blocks freed by their receivers", total);
    printf("handoff: %d threads x %d blocks, each checked, reallocated or not, and freed by "
           "another thread; %ld of %ld; %ld threads reallocated some\n",
           THREADS, HANDOFF, total, (long)THREADS * HANDOFF, resized);
}

static int api_ok, api_total;

static void api_check(int ok, const char *what, int line)
{
    api_total++;
    api_ok += ok;
    if (!ok)
        fail(what, line);
}
#define API_CHECK(cond) api_check(!!(cond), #cond, __LINE__)

static void api_checks(void)
{
    void *p, *q;
    p = malloc(0);
    q = malloc(0);
    API_CHECK(p && q && p != q); /* malloc(0): unique pointers */
    free(p);
    free(q);
    p = malloc(10);
    API_CHECK(realloc(p, 0) == NULL); /* frees p */
    errno = 0;
    API_CHECK(calloc((size_t)-1 / 2, 4) == NULL && errno == ENOMEM);
    API_CHECK(posix_memalign(&p, 3, 8) == EINVAL && posix_memalign(&p, 24, 8) == EINVAL);
    p = NULL;
    API_CHECK(posix_memalign(&p, 8, 100) == 0 && p && (uintptr_t)p % 16 == 0);
    free(p);
    API_CHECK(posix_memalign(&p, 65536, 100) == 0 && (uintptr_t)p % 65536 == 0);
    free(p);
    volatile size_t odd = 24; /* a variable: the compiler rejects a constant one */
    p = memalign(odd, 100);   /* glibc rounds the alignment up to a power of two */
    API_CHECK(p && (uintptr_t)p % 32 == 0);
    free(p);
    p = valloc(100);
    API_CHECK(p && (uintptr_t)p % 4096 == 0);
    free(p);
    p = pvalloc(100);
    API_CHECK(p && (uintptr_t)p % 4096 == 0 && malloc_usable_size(p) >= 4096);
    free(p);
    p = aligned_alloc(4096, 3 * 4096);
    API_CHECK(p && (uintptr_t)p % 4096 == 0 && malloc_usable_size(p) >= 3 * 4096);
    free(p);
    API_CHECK(malloc_usable_size(NULL) == 0);
    p = calloc(1000, 1000);
    API_CHECK(p && ((char *)p)[0] == 0 && ((char *)p)[999999] == 0);
    free(p);
    p = malloc(1);
    for (size_t n = 2; p && n < 1000000; n = n * 3 / 2 + 1) { /* grow, keep data, stay aligned */
        memset((char *)p + n / 2, (int)(n & 0xFF), n - n / 2);
        q = realloc(p, n * 3 / 2 + 1);
        API_CHECK(q && (uintptr_t)q % 16 == 0 && ((unsigned char *)q)[n - 1] == (n & 0xFF));
        p = q;
    }
    free(p);
    errno = 12345;
    free(malloc(5)); /* free leaves errno alone */
    API_CHECK(errno == 12345);
    printf("api: %d of %d checks\n", api_ok, api_total);
}

int main(void)
{
    api_checks();

    slot_t own[OWN];
    uint32_t rng = 42;
    for (int i = 0; i < OWN; i++) {
        own[i].size = 1 + random_size(&rng);
        own[i].p = malloc(own[i].size);
        if (!own[i].p)
            return fail("main: malloc", (long)own[i].size), 1;
        fill(&own[i], (unsigned char)(0x80 + i));
    }

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);

    int children_ok = 0;
    for (int round = 0; round < FORKS; round++) {
        /* fork while the workers are busy allocating */
        while (__atomic_load_n(&progress[0], __ATOMIC_RELAXED) < (round + 1) * OPS / (FORKS + 2))
            usleep(1000);
        pid_t pid = fork();
        if (pid < 0)
            return fail("fork", errno), 1;
        if (pid == 0)
            child(own, round);
        int st;
        if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            children_ok++;
        else
            fail("child failed (status)", (long)st);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    handoff();

    int intact = 0;
    for (int i = 0; i < OWN; i++) {
        intact += check(&own[i]);
        free(own[i].p);
    }
    printf("threads: %d x %d operations\n", THREADS, OPS);
    printf("forks: %d of %d children checked their inherited blocks and allocated\n", children_ok,
           FORKS);
    printf("parent blocks intact after the children rewrote theirs: %d of %d\n", intact, OWN);
    printf("failures: %d\n", failures);
    return failures ? 1 : 0;
}

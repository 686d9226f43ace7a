/*
 * test_smp.c - threads as CPUs: mm/ under concurrent use (issue 12).
 *
 * The host glue gives every thread its own glue_cpu_id (host/glue_common.c),
 * so each thread here stands in for a CPU.  The cases run the real mm/ from
 * several threads at once, each with a fixed operation count and a fixed seed
 * per thread, and check what a per-CPU cache must not break:
 *
 *   - every thread runs a verifying stress at once: kmalloc, kcalloc,
 *     krealloc, kfree of random sizes (mostly kmalloc's size classes, some
 *     large), kmem_cache_alloc/free on caches shared by all threads,
 *     pmm_alloc_page/free and vmalloc/vfree; every byte carries a pattern of
 *     (thread, slot, offset) and is verified before it is freed and after a
 *     krealloc;
 *   - cross-thread frees: a handoff queue per pair of threads, objects
 *     allocated on one thread freed on another; nothing leaks (slab_objects,
 *     heap_used, phys_used_pages and each cache's live count back to their
 *     start values, the test caches destroyed);
 *   - the checkers exact while other threads allocate;
 *   - get_memory_stats' identities in every snapshot while others allocate;
 *   - the same object freed by two threads at once: one free, one report;
 *   - kmem_cache_shrink and kmem_cache_destroy while others allocate.
 *
 * The same file is built under ASan+UBSan (x86_64), MM_DEBUG, i386 (under
 * qemu-i386 here: the counts are smaller there) and ThreadSanitizer
 * (mk/tsan.mk).  Worker threads never call cmocka's asserts (they would
 * longjmp into the main thread's stack): they count failures, keep the first
 * message, and the main thread asserts after joining them.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "glue.h"
#include "glue_common.h"
#include "harness.h"
#include "lock.h"

#define THREADS 4
#if defined(__i386__)
#define SCALE 1 /* under qemu-i386: a few seconds for the whole file */
#else
#define SCALE 4
#endif
#define STRESS_OPS  (1500 * SCALE) /* per thread */
#define HANDOFF_OPS (1500 * SCALE) /* objects sent per thread */
#define DOUBLE_RUNS (50 * SCALE)   /* double frees per kind */
#define SLOTS       64
#define PAGES       8
#define VAREAS      3
#define RAM         (32u << 20)

/* ---------------------------------------------------- worker failures ---- */

static int failures;
static char first_failure[256];
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 1, 2))) static void bad(const char *fmt, ...)
{
    pthread_mutex_lock(&failure_lock);
    if (failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first_failure, sizeof(first_failure), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&failure_lock);
}

static void reset_failures(void)
{
    pthread_mutex_lock(&failure_lock);
    failures = 0;
    first_failure[0] = '\0';
    pthread_mutex_unlock(&failure_lock);
}

static void assert_no_failures(void)
{
    pthread_mutex_lock(&failure_lock);
    int n = failures;
    pthread_mutex_unlock(&failure_lock);
    if (n)
        fail_msg("%d failure(s) in the threads; the first: %s", n, first_failure);
}

/* ---------------------------------------------------------- patterns ---- */

/* The byte at offset i of the object a thread keeps in a slot (or sends with a sequence number). */
static unsigned char pattern(unsigned thread, uint32_t slot, size_t i)
{
    return (unsigned char)(thread * 67 + slot * 29 + i * 7 + (i >> 8) * 13 + 1);
}

static void fill(unsigned char *p, size_t n, unsigned thread, uint32_t slot)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(thread, slot, i);
}

/* 1 if the n bytes at p are (thread, slot)'s pattern; else a failure, named. */
static int verify(const unsigned char *p, size_t n, unsigned thread, uint32_t slot,
                  const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != pattern(thread, slot, i)) {
            bad("%s: thread %u slot %u: %p byte %zu of %zu is 0x%02x, not 0x%02x", what, thread,
                (unsigned)slot, (const void *)p, i, n, p[i], pattern(thread, slot, i));
            return 0;
        }
    }
    return 1;
}

/* Mostly kmalloc's size classes (up to 512 bytes), some up to a page, a few larger. */
static size_t random_size(uint32_t *rng)
{
    static const struct rng_range mix[3] = {{75, 1, 512}, {18, 513, 3600}, {7, 4097, 16000}};
    return rng_size(rng, mix);
}

/* --------------------------------------------------------- the caches ---- */

#define CACHES 3
static kmem_cache_t *cache[CACHES];
static const size_t cache_size[CACHES] = {24, 100, 700};

static void make_caches(void)
{
    static const char *const names[CACHES] = {"smp-24", "smp-100", "smp-700"};
    for (int c = 0; c < CACHES; c++) {
        cache[c] = kmem_cache_create(names[c], cache_size[c], 0, NULL);
        assert_non_null(cache[c]);
    }
}

static uint32_t cache_live(int c)
{
    kmem_cache_stats_t st;
    assert_int_equal(kmem_cache_get_stats(cache[c], &st), 0);
    return st.live;
}

static void destroy_caches(void)
{
    for (int c = 0; c < CACHES; c++) {
        assert_int_equal(cache_live(c), 0);
        assert_int_equal(kmem_cache_destroy(cache[c]), 0);
        cache[c] = NULL;
    }
}

/* The size-class caches and the test caches made once, the heap grown: then the baseline. */
static void warm_up(void)
{
    void *p[64];
    for (int i = 0; i < 64; i++)
        p[i] = kmalloc((size_t)8 << (i % 7));
    for (int i = 0; i < 64; i++)
        kfree(p[i]);
    kmem_cache_reap();
}

/* Every thread starts at once. */
static pthread_barrier_t start_line;

static void run_threads(unsigned n, void *(*fn)(void *), void *args, size_t arg_size)
{
    pthread_t t[8];
    assert_true(n <= 8);
    assert_int_equal(pthread_barrier_init(&start_line, NULL, n), 0);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fn, (char *)args + i * arg_size), 0);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&start_line);
    assert_no_failures();
    assert_false(mm_lock_held());
}

/* ------------------------------------------------ the verifying stress ---- */

enum kind { NONE, HEAP, ZEROED, CACHE };

struct stress {
    unsigned id;
    uint32_t seed;
    int ops; /* operations to run; 0: until *stop */
    const int *stop;
    unsigned long done; /* operations run */
};

struct obj {
    unsigned char *p;
    size_t n;
    enum kind kind;
    int cache;
};

static void release(struct stress *w, struct obj *o, uint32_t slot)
{
    if (!o->p)
        return;
    verify(o->p, o->n, w->id, slot, "before free");
    if (o->kind == CACHE)
        kmem_cache_free(cache[o->cache], o->p);
    else
        kfree(o->p);
    o->p = NULL;
}

static void stress_object(struct stress *w, struct obj *o, uint32_t slot, uint32_t *rng)
{
    uint32_t r = rng_next(rng) % 10;
    if (o->p && (o->kind == HEAP || o->kind == ZEROED) && r < 3) {
        size_t n = random_size(rng);
        verify(o->p, o->n, w->id, slot, "before krealloc");
        unsigned char *q = krealloc(o->p, n);
        if (!q) {
            bad("krealloc(%p, %zu) failed", (void *)o->p, n);
            return;
        }
        size_t keep = n < o->n ? n : o->n;
        verify(q, keep, w->id, slot, "after krealloc");
        o->p = q;
        o->n = n;
        fill(q, n, w->id, slot);
    } else if (o->p) {
        release(w, o, slot);
    } else {
        if (r < 5) {
            o->n = random_size(rng);
            o->p = kmalloc(o->n);
            o->kind = HEAP;
        } else if (r < 7) {
            o->n = random_size(rng);
            o->p = kcalloc(1, o->n);
            o->kind = ZEROED;
            for (size_t i = 0; o->p && i < o->n; i++) {
                if (o->p[i]) {
                    bad("kcalloc(1, %zu): byte %zu is 0x%02x", o->n, i, o->p[i]);
                    break;
                }
            }
        } else {
            o->cache = (int)(rng_next(rng) % CACHES);
            o->n = cache_size[o->cache];
            o->p = kmem_cache_alloc(cache[o->cache]);
            o->kind = CACHE;
        }
        if (!o->p) {
            bad("thread %u: allocation of %zu bytes (kind %d) failed", w->id, o->n, o->kind);
            return;
        }
        if ((uintptr_t)o->p % HEAP_ALIGN)
            bad("%p is not %u-aligned", (void *)o->p, (unsigned)HEAP_ALIGN);
        fill(o->p, o->n, w->id, slot);
    }
}

static void stress_page(struct stress *w, uint32_t *page, uint32_t slot)
{
    uint32_t tag = 1000 + slot;
    if (*page) {
        verify((unsigned char *)host_phys_base() + *page, PAGE_SIZE, w->id, tag, "page");
        pmm_free_page(*page);
        *page = 0;
    } else if ((*page = pmm_alloc_page()) != 0) {
        fill((unsigned char *)host_phys_base() + *page, PAGE_SIZE, w->id, tag);
    } else {
        bad("thread %u: pmm_alloc_page failed", w->id);
    }
}

static void stress_varea(struct stress *w, struct obj *v, uint32_t slot, uint32_t *rng)
{
    uint32_t tag = 2000 + slot;
    if (v->p) {
        verify(v->p, v->n, w->id, tag, "vmalloc area");
        vfree(v->p);
        v->p = NULL;
        return;
    }
    v->n = 1 + rng_next(rng) % (3 * PAGE_SIZE);
    v->p = vmalloc(v->n);
    if (!v->p)
        bad("thread %u: vmalloc(%zu) failed", w->id, v->n);
    else
        fill(v->p, v->n, w->id, tag);
}

static void *stress(void *arg)
{
    struct stress *w = arg;
    uint32_t rng = w->seed;
    struct obj obj[SLOTS] = {{0}}, varea[VAREAS] = {{0}};
    uint32_t page[PAGES] = {0};
    pthread_barrier_wait(&start_line);
    for (w->done = 0; w->ops ? (int)w->done < w->ops : !__atomic_load_n(w->stop, __ATOMIC_ACQUIRE);
         w->done++) {
        uint32_t r = rng_next(&rng) % 100;
        if (r < 88) {
            uint32_t slot = rng_next(&rng) % SLOTS;
            stress_object(w, &obj[slot], slot, &rng);
        } else if (r < 96) {
            uint32_t slot = rng_next(&rng) % PAGES;
            stress_page(w, &page[slot], slot);
        } else {
            uint32_t slot = rng_next(&rng) % VAREAS;
            stress_varea(w, &varea[slot], slot, &rng);
        }
    }
    for (uint32_t i = 0; i < SLOTS; i++)
        release(w, &obj[i], i);
    for (uint32_t i = 0; i < PAGES; i++) {
        if (page[i])
            stress_page(w, &page[i], i);
    }
    for (uint32_t i = 0; i < VAREAS; i++) {
        if (varea[i].p)
            stress_varea(w, &varea[i], i, &rng);
    }
    return NULL;
}

/* What must be back where it was after the threads freed everything. */
struct baseline {
    memory_stats_t s;
    pmm_stats_t p;
    vmalloc_stats_t v;
    uint32_t live[CACHES];
};

static struct baseline baseline_now(void)
{
    struct baseline b;
    kmem_cache_reap(); /* empty slabs and the heap's free end back: the same state each time */
    get_memory_stats(&b.s);
    pmm_get_stats(&b.p);
    vmalloc_get_stats(&b.v);
    for (int c = 0; c < CACHES; c++)
        b.live[c] = cache[c] ? cache_live(c) : 0;
    return b;
}

static void assert_back_to(const struct baseline *b0)
{
    check_every_layer();
    memory_stats_t s;
    get_memory_stats(&s);
    /* counted without a reap first: objects waiting in a per-CPU cache are not live */
    assert_int_equal(s.slab_objects, b0->s.slab_objects);
    for (int c = 0; c < CACHES; c++) {
        if (cache[c])
            assert_int_equal(cache_live(c), b0->live[c]);
    }
    assert_int_equal(s.allocation_count - b0->s.allocation_count, s.free_count - b0->s.free_count);
    assert_int_equal(s.error_count, b0->s.error_count);
    struct baseline b = baseline_now();
    assert_int_equal(b.s.heap_used, b0->s.heap_used);
    assert_int_equal(b.s.slab_objects, b0->s.slab_objects);
    /*
     * Every page back but the heap's own: where the free space lies decides how
     * far heap_trim can go (64 KB of slack at the end), not a leak.
     */
    uint32_t heap_pages = b.s.heap_virtual_size / PAGE_SIZE;
    uint32_t heap_pages0 = b0->s.heap_virtual_size / PAGE_SIZE;
    if (b.s.phys_used_pages - heap_pages != b0->s.phys_used_pages - heap_pages0)
        fail_msg("phys_used_pages %u (%u of them the heap's), %u before (%u)", b.s.phys_used_pages,
                 heap_pages, b0->s.phys_used_pages, heap_pages0);
    assert_int_equal(b.p.owner_pages[PMM_OWNER_HEAP] - heap_pages,
                     b0->p.owner_pages[PMM_OWNER_HEAP] - heap_pages0);
    assert_int_equal(b.p.owner_pages[PMM_OWNER_CALLER], b0->p.owner_pages[PMM_OWNER_CALLER]);
    assert_int_equal(b.v.live, b0->v.live);
    assert_int_equal(b.v.pages, b0->v.pages);
    check_every_layer();
}

static void setup_smp(void)
{
    reset_failures();
    fresh_every_layer(RAM);
    make_caches();
    warm_up();
}

/* Every thread runs the verifying stress at once; then everything is back. */
static void test_every_thread_stresses(void **state)
{
    (void)state;
    setup_smp();
    struct baseline b0 = baseline_now();
    struct stress w[THREADS];
    for (unsigned i = 0; i < THREADS; i++)
        w[i] = (struct stress){.id = i, .seed = 0x51A7E5u + 7919u * i, .ops = STRESS_OPS};
    run_threads(THREADS, stress, w, sizeof(w[0]));
    memory_stats_t s = stats_now();
    assert_true(s.allocation_count - b0.s.allocation_count > THREADS * STRESS_OPS / 4);
    assert_back_to(&b0);
    destroy_caches();
    check_every_layer();
}

/* -------------------------------------------------- cross-thread frees ---- */

#define QUEUE 32
struct queue { /* from one thread to another */
    pthread_mutex_t lock;
    struct sent {
        unsigned char *p;
        size_t n;
        int cache; /* -1: kmalloc'd */
        uint32_t seq;
    } item[QUEUE];
    unsigned head, count;
};

static struct queue queue[THREADS][THREADS]; /* [from][to] */
static int senders_left;

struct handoff {
    unsigned id;
    uint32_t seed;
    unsigned long sent, received, freed_here;
};

static int queue_put(struct queue *q, const struct sent *s)
{
    pthread_mutex_lock(&q->lock);
    int ok = q->count < QUEUE;
    if (ok)
        q->item[(q->head + q->count++) % QUEUE] = *s;
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static int queue_get(struct queue *q, struct sent *s)
{
    pthread_mutex_lock(&q->lock);
    int ok = q->count > 0;
    if (ok) {
        *s = q->item[q->head];
        q->head = (q->head + 1) % QUEUE;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static void free_sent(const struct sent *s, unsigned from)
{
    verify(s->p, s->n, from, s->seq, "handed over");
    if (s->cache >= 0)
        kmem_cache_free(cache[s->cache], s->p);
    else
        kfree(s->p);
}

/* Take what the others sent this thread; returns how many. */
static unsigned receive(struct handoff *w)
{
    unsigned got = 0;
    struct sent s;
    for (unsigned from = 0; from < THREADS; from++) {
        while (from != w->id && queue_get(&queue[from][w->id], &s)) {
            free_sent(&s, from);
            got++;
        }
    }
    w->received += got;
    return got;
}

static void *handoff(void *arg)
{
    struct handoff *w = arg;
    uint32_t rng = w->seed;
    pthread_barrier_wait(&start_line);
    for (uint32_t seq = 0; seq < HANDOFF_OPS; seq++) {
        struct sent s = {.seq = seq, .cache = -1};
        if (rng_next(&rng) % 3 == 0) {
            s.cache = (int)(rng_next(&rng) % CACHES);
            s.n = cache_size[s.cache];
            s.p = kmem_cache_alloc(cache[s.cache]);
        } else {
            s.n = random_size(&rng);
            s.p = kmalloc(s.n);
        }
        if (!s.p) {
            bad("thread %u: allocation of %zu bytes failed", w->id, s.n);
            break;
        }
        fill(s.p, s.n, w->id, seq);
        unsigned to = (w->id + 1 + rng_next(&rng) % (THREADS - 1)) % THREADS;
        int put = queue_put(&queue[w->id][to], &s);
        for (int tries = 0; !put && tries < 100; tries++) { /* the receiver is behind: wait */
            receive(w);
            sched_yield();
            put = queue_put(&queue[w->id][to], &s);
        }
        if (put) {
            w->sent++;
        } else {
            free_sent(&s, w->id); /* the receiver is behind: freed here */
            w->freed_here++;
        }
        receive(w);
    }
    __atomic_sub_fetch(&senders_left, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&senders_left, __ATOMIC_ACQUIRE) > 0)
        receive(w);
    receive(w); /* what came after the last sender finished */
    return NULL;
}

/* Objects allocated on one thread are freed on another; nothing leaks. */
static void test_cross_thread_frees(void **state)
{
    (void)state;
    setup_smp();
    struct baseline b0 = baseline_now();
    for (unsigned i = 0; i < THREADS; i++) {
        for (unsigned j = 0; j < THREADS; j++) {
            queue[i][j] = (struct queue){.head = 0};
            pthread_mutex_init(&queue[i][j].lock, NULL);
        }
    }
    senders_left = THREADS;
    struct handoff w[THREADS];
    for (unsigned i = 0; i < THREADS; i++)
        w[i] = (struct handoff){.id = i, .seed = 0xC0FFEEu + 104729u * i};
    run_threads(THREADS, handoff, w, sizeof(w[0]));
    unsigned long sent = 0, received = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        sent += w[i].sent;
        received += w[i].received;
        assert_int_equal(w[i].sent + w[i].freed_here, HANDOFF_OPS);
    }
    print_message("handoff: %lu objects sent, %lu received\n", sent, received);
    assert_int_equal(sent, received); /* every object sent was freed by its receiver */
    assert_true(sent > THREADS * HANDOFF_OPS / 2);
    for (unsigned i = 0; i < THREADS; i++) {
        for (unsigned j = 0; j < THREADS; j++) {
            assert_int_equal(queue[i][j].count, 0);
            pthread_mutex_destroy(&queue[i][j].lock);
        }
    }
    assert_back_to(&b0);
    destroy_caches();
    check_every_layer();
}

/* ------------------------------------------- observers while others run ---- */

static int stressers_done;

/* Run `observer` on one thread while THREADS - 1 threads stress; returns its rounds. */
static void with_stressers(void *(*observer)(void *), unsigned long *rounds)
{
    setup_smp();
    struct baseline b0 = baseline_now();
    __atomic_store_n(&stressers_done, 0, __ATOMIC_RELEASE);
    struct stress w[THREADS] = {{0}};
    for (unsigned i = 0; i + 1 < THREADS; i++)
        w[i] = (struct stress){.id = i, .seed = 0xAB5EEDu + 31337u * i, .ops = STRESS_OPS};
    pthread_t t[THREADS], obs;
    assert_int_equal(pthread_barrier_init(&start_line, NULL, THREADS), 0);
    for (unsigned i = 0; i + 1 < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, stress, &w[i]), 0);
    assert_int_equal(pthread_create(&obs, NULL, observer, rounds), 0);
    for (unsigned i = 0; i + 1 < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    __atomic_store_n(&stressers_done, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(obs, NULL), 0);
    pthread_barrier_destroy(&start_line);
    assert_no_failures();
    assert_true(*rounds >= 2); /* a round began while the others still ran */
    assert_back_to(&b0);
    destroy_caches();
    check_every_layer();
}

static void *checker(void *arg)
{
    unsigned long *rounds = arg;
    pthread_barrier_wait(&start_line);
    do {
        int e[5] = {heap_check(), pmm_check(), vmm_check(), vmalloc_check(), kmem_cache_check()};
        static const char *const name[5] = {"heap_check", "pmm_check", "vmm_check", "vmalloc_check",
                                            "kmem_cache_check"};
        for (int i = 0; i < 5; i++) {
            if (e[i])
                bad("%s found %d broken invariants while others allocated (round %lu)", name[i],
                    e[i], *rounds);
        }
        ++*rounds;
    } while (!__atomic_load_n(&stressers_done, __ATOMIC_ACQUIRE));
    return NULL;
}

/* One thread runs every checker in a loop while three others stress: each says 0. */
static void test_checkers_exact_while_others_allocate(void **state)
{
    (void)state;
    unsigned long rounds = 0;
    with_stressers(checker, &rounds);
    print_message("checkers: %lu rounds of all five while 3 threads stressed\n", rounds);
}

static void snapshot_identities(unsigned long round, memory_stats_t *last)
{
    memory_stats_t s;
    get_memory_stats(&s);
    if (s.heap_size != s.heap_used + s.heap_free + s.block_count * HEAP_HEADER_SIZE)
        bad("round %lu: heap_size %u != used %u + free %u + %u headers", round, s.heap_size,
            s.heap_used, s.heap_free, s.block_count);
    if (s.free_block_count > s.block_count)
        bad("round %lu: %u free blocks of %u", round, s.free_block_count, s.block_count);
    if (s.peak_heap_used < s.heap_used || s.heap_virtual_peak < s.heap_virtual_size)
        bad("round %lu: a peak below its value", round);
    if (s.largest_free_block > s.heap_free)
        bad("round %lu: largest free block %u > heap_free %u", round, s.largest_free_block,
            s.heap_free);
    if (s.phys_total_pages != s.phys_free_pages + s.phys_used_pages + s.phys_reserved_pages)
        bad("round %lu: phys total %u != free %u + used %u + reserved %u", round,
            s.phys_total_pages, s.phys_free_pages, s.phys_used_pages, s.phys_reserved_pages);
    if (s.slab_pages * (PAGE_SIZE - HEAP_HEADER_SIZE) > s.heap_used)
        bad("round %lu: %u slab pages but heap_used %u", round, s.slab_pages, s.heap_used);
    if (s.allocation_count < last->allocation_count || s.free_count < last->free_count ||
        s.peak_heap_used < last->peak_heap_used || s.error_count != last->error_count)
        bad("round %lu: a counter went back (allocations %u -> %u, frees %u -> %u) or an error "
            "(%u -> %u)",
            round, last->allocation_count, s.allocation_count, last->free_count, s.free_count,
            last->error_count, s.error_count);
    *last = s;

    pmm_stats_t p;
    pmm_get_stats(&p);
    if (p.total_pages != p.free_pages + p.used_pages + p.reserved_pages + p.unreachable_pages)
        bad("round %lu: pmm total %u != free %u + used %u + reserved %u + unreachable %u", round,
            p.total_pages, p.free_pages, p.used_pages, p.reserved_pages, p.unreachable_pages);
    uint32_t owned = 0;
    for (int o = 0; o < PMM_OWNER_COUNT; o++)
        owned += p.owner_pages[o];
    if (owned != p.used_pages)
        bad("round %lu: pages by owner %u != used %u", round, owned, p.used_pages);

    vmalloc_stats_t v;
    vmalloc_get_stats(&v);
    if (v.guard_pages != 2 * v.live || v.pages < v.live || v.allocs - v.frees != v.live)
        bad("round %lu: vmalloc live %u, pages %u, guards %u, allocs %u, frees %u", round, v.live,
            v.pages, v.guard_pages, v.allocs, v.frees);

    for (int c = 0; c < CACHES; c++) {
        kmem_cache_stats_t k;
        if (kmem_cache_get_stats(cache[c], &k) != 0) {
            bad("kmem_cache_get_stats failed");
            continue;
        }
        if (k.allocs - k.frees != k.live || k.live > k.peak_live ||
            k.live > (k.slabs - k.empty_slabs) * k.objects_per_slab || k.empty_slabs > k.slabs)
            bad("round %lu: cache %s: live %u peak %u allocs %u frees %u slabs %u (%u empty, %u "
                "objects each)",
                round, k.name, k.live, k.peak_live, k.allocs, k.frees, k.slabs, k.empty_slabs,
                k.objects_per_slab);
    }
}

static void *statistician(void *arg)
{
    unsigned long *rounds = arg;
    memory_stats_t last;
    get_memory_stats(&last);
    pthread_barrier_wait(&start_line);
    do
        snapshot_identities((*rounds)++, &last);
    while (!__atomic_load_n(&stressers_done, __ATOMIC_ACQUIRE));
    return NULL;
}

/* Every snapshot of the statistics, taken while three threads stress, keeps the identities. */
static void test_statistics_while_others_allocate(void **state)
{
    (void)state;
    unsigned long rounds = 0;
    with_stressers(statistician, &rounds);
    print_message("statistics: %lu snapshots while 3 threads stressed\n", rounds);
}

/*
 * The two above again with glue_fence_cpus' fallback (an mprotect downgrade, host/glue_common.c)
 * in place of membarrier: the CPUs' cache locks taken by the checkers and the statistics rely
 * on it (mm/slab_priv.h, cpu_cache_settle).  Where the build takes its cache lock by xchg
 * (ThreadSanitizer's) no fence is asked for.
 */
static void test_fallback_fence_checkers_and_statistics(void **state)
{
    unsigned long fences = host_fences, by_mprotect = host_fences_mprotect;
    host_fence_force_mprotect = 1;
    test_checkers_exact_while_others_allocate(state);
    test_statistics_while_others_allocate(state);
    host_fence_force_mprotect = 0;
#if defined(GLUE_FENCE_CPUS) && !defined(MM_TSAN)
    assert_true(host_fences > fences);
    assert_int_equal(host_fences - fences, host_fences_mprotect - by_mprotect);
#else
    assert_int_equal(host_fences, fences);
#endif
    print_message("fences by mprotect: %lu\n", host_fences_mprotect - by_mprotect);
}

/* ----------------------------------------------------- double free race ---- */

struct racer {
    void *p;
    int cache; /* -1: kfree */
};

static void *free_it(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(&start_line);
    if (r->cache >= 0)
        kmem_cache_free(cache[r->cache], r->p);
    else
        kfree(r->p);
    return NULL;
}

/* Allocated again after a double free: distinct objects, each one's bytes its own. */
static void assert_not_handed_out_twice(size_t n, int c)
{
    enum { K = 16 };
    unsigned char *p[K];
    for (int i = 0; i < K; i++) {
        p[i] = c >= 0 ? kmem_cache_alloc(cache[c]) : kmalloc(n);
        assert_non_null(p[i]);
        fill(p[i], n, 9, (uint32_t)i);
    }
    for (int i = 0; i < K; i++) {
        assert_true(verify(p[i], n, 9, (uint32_t)i, "after a double free"));
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(p[i], p[j]);
    }
    for (int i = 0; i < K; i++) {
        if (c >= 0)
            kmem_cache_free(cache[c], p[i]);
        else
            kfree(p[i]);
    }
}

/* Two threads free one object at the same moment: exactly one free, one report, nothing broken. */
static void test_double_free_from_two_threads(void **state)
{
    (void)state;
    setup_smp();
    struct baseline b0 = baseline_now();
    static const size_t sizes[] = {16, 100, 512, 3000, 20000};
    const int kinds = (int)(sizeof(sizes) / sizeof(sizes[0])) + CACHES;
    for (int run = 0; run < DOUBLE_RUNS; run++) {
        for (int k = 0; k < kinds; k++) {
            int c = k < 5 ? -1 : k - 5;
            size_t n = c >= 0 ? cache_size[c] : sizes[k];
            void *keep = kmalloc(n); /* a neighbour that must not change */
            void *p = c >= 0 ? kmem_cache_alloc(cache[c]) : kmalloc(n);
            assert_non_null(keep);
            assert_non_null(p);
            fill(keep, n, 7, (uint32_t)k);
            uint32_t e0 = errors_now();
            struct racer r[2] = {{p, c}, {p, c}};
            run_threads(2, free_it, r, sizeof(r[0]));
            if (errors_now() != e0 + 1)
                fail_msg("run %d: %zu-byte object %p (cache %d) freed by two threads: %u reports, "
                         "not 1 (last: %s)",
                         run, n, p, c, errors_now() - e0, mm_last_error());
            assert_true(verify(keep, n, 7, (uint32_t)k, "neighbour of a double free"));
            kfree(keep);
            assert_not_handed_out_twice(n, c);
        }
        assert_int_equal(heap_check(), 0);
        assert_int_equal(kmem_cache_check(), 0);
    }
    memory_stats_t s = stats_now();
    assert_int_equal(s.error_count - b0.s.error_count, DOUBLE_RUNS * kinds);
    b0.s.error_count = s.error_count; /* the reports were the point */
    assert_back_to(&b0);
    destroy_caches();
    check_every_layer();
}

/* --------------------------------------- shrink and destroy meanwhile ---- */

struct lifecycle {
    unsigned long rounds, pages_back;
};

/* Make a cache, fill it, empty it, shrink it, destroy it; over and over. */
static void *cache_lifecycle(void *arg)
{
    struct lifecycle *l = arg;
    uint32_t rng = 0x5EED5u;
    enum { N = 80 };
    unsigned char *obj[N];
    pthread_barrier_wait(&start_line);
    do {
        size_t size = 8 + rng_next(&rng) % 1500;
        kmem_cache_t *c = kmem_cache_create("smp-lifecycle", size, 0, NULL);
        if (!c) {
            bad("kmem_cache_create(%zu) failed", size);
            break;
        }
        for (int i = 0; i < N; i++) {
            obj[i] = kmem_cache_alloc(c);
            if (obj[i])
                fill(obj[i], size, 5, (uint32_t)i);
            else
                bad("kmem_cache_alloc of the lifecycle cache failed");
        }
        /* half freed and the cache shrunk while objects live; then the rest */
        for (int i = 0; i < N; i += 2) {
            if (obj[i] && verify(obj[i], size, 5, (uint32_t)i, "lifecycle"))
                kmem_cache_free(c, obj[i]);
        }
        l->pages_back += kmem_cache_shrink(c);
        for (int i = 1; i < N; i += 2) {
            if (obj[i] && verify(obj[i], size, 5, (uint32_t)i, "lifecycle after shrink"))
                kmem_cache_free(c, obj[i]);
        }
        kmem_cache_stats_t st;
        if (kmem_cache_get_stats(c, &st) != 0 || st.live != 0)
            bad("lifecycle cache: %u objects live after every free", st.live);
        size_t back = kmem_cache_shrink(c);
        if (back == 0 || kmem_cache_get_stats(c, &st) != 0 || st.slabs != 0)
            bad("kmem_cache_shrink of an empty cache gave %zu pages back, %u slabs left", back,
                st.slabs);
        l->pages_back += back;
        if (kmem_cache_destroy(c) != 0)
            bad("kmem_cache_destroy of an empty cache failed: %s", mm_last_error());
        l->rounds++;
    } while (!__atomic_load_n(&stressers_done, __ATOMIC_ACQUIRE));
    return NULL;
}

/* kmem_cache_shrink and kmem_cache_destroy on one thread while three allocate from other caches. */
static void test_shrink_and_destroy_while_others_allocate(void **state)
{
    (void)state;
    struct lifecycle l = {0};
    with_stressers(cache_lifecycle, &l.rounds);
    print_message("lifecycle: %lu caches made, shrunk and destroyed while 3 threads stressed\n",
                  l.rounds);
}

/* ------------------------------------------------------------ CPU ids ---- */

static int seen_id[THREADS];

static void *record_id(void *arg)
{
    int *id = arg;
    *id = glue_cpu_id();
    void *p = kmalloc(40); /* mm/ works on the thread, whatever its id */
    if (!p)
        bad("kmalloc on a new thread failed");
    kfree(p);
    pthread_barrier_wait(&start_line); /* all live at once */
    return NULL;
}

static pthread_key_t late_key;
static int late_id;

/* Runs after the glue's own key destructor (a later key): the thread calls mm/ while exiting. */
static void late_destructor(void *value)
{
    (void)value;
    late_id = glue_cpu_id();
    void *p = kmalloc(24);
    if (!p)
        bad("kmalloc from a key destructor failed");
    kfree(p);
}

static void *exit_late(void *arg)
{
    (void)arg;
    kfree(kmalloc(8)); /* numbered: the glue's key is set */
    pthread_setspecific(late_key, (void *)1);
    return NULL;
}

/*
 * The glue's CPU ids: unique among live threads, dense (the lowest free one),
 * an exited thread's id reused; a thread calling mm/ from its exit path gets
 * a late id that is nobody's dense one.
 */
static void test_cpu_ids_unique_dense_reused(void **state)
{
    (void)state;
    reset_failures();
    fresh_every_layer(RAM);
    int me = glue_cpu_id();
    assert_true(me >= 0 && me < THREADS);
    int live0 = host_cpu_ids_live();
    for (int round = 0; round < 20; round++) {
        memset(seen_id, -1, sizeof(seen_id));
        run_threads(THREADS, record_id, seen_id, sizeof(seen_id[0]));
        for (int i = 0; i < THREADS; i++) {
            /* dense: with this thread and THREADS others live, ids below THREADS + live0 */
            assert_true(seen_id[i] >= 0 && seen_id[i] < THREADS + live0);
            assert_int_not_equal(seen_id[i], me);
            for (int j = 0; j < i; j++)
                assert_int_not_equal(seen_id[i], seen_id[j]);
        }
        assert_int_equal(host_cpu_ids_live(), live0); /* given back at exit */
    }
    assert_int_equal(pthread_key_create(&late_key, late_destructor), 0);
    pthread_t t;
    late_id = -1;
    assert_int_equal(pthread_create(&t, NULL, exit_late, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(late_id >= 0x10000000); /* not a dense id another thread may hold */
    assert_int_equal(host_cpu_ids_live(), live0);
    pthread_key_delete(late_key);
    assert_no_failures();
    check_every_layer();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_thread_stresses),
        cmocka_unit_test(test_cross_thread_frees),
        cmocka_unit_test(test_checkers_exact_while_others_allocate),
        cmocka_unit_test(test_statistics_while_others_allocate),
        cmocka_unit_test(test_fallback_fence_checkers_and_statistics),
        cmocka_unit_test(test_double_free_from_two_threads),
        cmocka_unit_test(test_shrink_and_destroy_while_others_allocate),
        cmocka_unit_test(test_cpu_ids_unique_dense_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_attack_blockcache.c - a hostile review of the per-CPU block caches
 * (mm/blockcache.c), kept as tests.  What a buggy or hostile caller does, and
 * what must hold: wild pointers around the growing region's ends; writes after
 * free into a cached block's header (reported, never handed out over another);
 * forged headers of live blocks; a shrink past a freed block's header; a random
 * workload with the caches turned on and off, its statistics exact; and races:
 * krealloc against kfree of one block, double frees against drains, and a stale
 * or wild kfree against the moments the heap makes a block that is no caller's
 * look like one (an aligned block's front, a slab page's birth): two reproduced
 * a block handed out twice before the fast free learned to watch mm/'s lock
 * (mm_lock_seq).
 *
 * ATTACK_ITERS=N multiplies the loop counts; ATTACK_FILTER=glob runs some.
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

#include "blockcache.h"
#include "glue_common.h"
#include "harness.h"
#include "heap_priv.h"
#include "slab.h"

#define CHECK() assert_int_equal(heap_check(), 0)

static int findings;
#define FINDING(...)                                                                               \
    do {                                                                                           \
        findings++;                                                                                \
        fprintf(stderr, "FINDING %s:%d: ", __func__, __LINE__);                                    \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
    } while (0)

/* ------------------------------------------------ live-object shadow ---- */
#define MAXLIVE 512
static struct {
    unsigned char *p;
    size_t n;
    unsigned char c;
} live[MAXLIVE];
static int nlive;

static void live_add(void *p, size_t n)
{
    static unsigned char c = 1;
    assert_true(nlive < MAXLIVE);
    live[nlive].p = p;
    live[nlive].n = n;
    live[nlive].c = c++;
    if (!c)
        c = 1;
    memset(p, live[nlive].c, n);
    nlive++;
}

static void live_del(void *p)
{
    for (int i = 0; i < nlive; i++)
        if (live[i].p == p) {
            live[i] = live[--nlive];
            return;
        }
    fail_msg("live_del: %p not live", p);
}

/* every live object still holds its byte, and no two overlap */
static int live_verify(const char *where)
{
    int bad = 0;
    for (int i = 0; i < nlive; i++) {
        for (size_t k = 0; k < live[i].n; k++)
            if (live[i].p[k] != live[i].c) {
                FINDING("%s: live object %p (%zu B) byte %zu is 0x%02x not 0x%02x (overwritten)",
                        where, (void *)live[i].p, live[i].n, k, live[i].p[k], live[i].c);
                bad++;
                break;
            }
        for (int j = i + 1; j < nlive; j++)
            if (live[i].p < live[j].p + live[j].n && live[j].p < live[i].p + live[i].n) {
                FINDING("%s: live objects %p (%zu) and %p (%zu) overlap", where, (void *)live[i].p,
                        live[i].n, (void *)live[j].p, live[j].n);
                bad++;
            }
    }
    return bad;
}

static void live_reset(void)
{
    nlive = 0;
}

static memory_stats_t st(void)
{
    memory_stats_t s;
    get_memory_stats(&s);
    return s;
}

/* ------------------------------------------------ attack 1: wild pointers ---- */

static void try_free(const char *what, void *p)
{
    uint32_t e = errors_now();
    uint32_t cached = st().heap_cpu_cached;
    kfree(p);
    uint32_t e2 = errors_now();
    uint32_t cached2 = st().heap_cpu_cached;
    int chk = heap_check();
    if (cached2 != cached)
        FINDING("kfree(%s = %p): cached %u -> %u", what, p, cached, cached2);
    if (e2 != e + 1)
        FINDING("kfree(%s = %p): %u reports (want 1): %s", what, p, e2 - e, mm_last_error());
    if (chk)
        FINDING("kfree(%s = %p): heap_check %d", what, p, chk);
}

static void test_wild_pointers(void **state)
{
    (void)state;
    findings = 0;
    live_reset();
    char *keep[8];
    for (int i = 0; i < 8; i++) {
        keep[i] = kmalloc(1000 + (size_t)i * 3000);
        live_add(keep[i], 1000 + (size_t)i * 3000);
    }
    kfree(kmalloc(2000)); /* something cached */
    heap_region_t *r = heap_growing_region();
    uintptr_t base = heap_quick.base, end = r->end;
    fprintf(stderr, "base %p end %p (%zu bytes) HDR %zu limit %#x\n", (void *)base, (void *)end,
            (size_t)(end - base), (size_t)HDR, (unsigned)HEAP_VIRTUAL_LIMIT);
    struct {
        const char *what;
        uintptr_t p;
    } w[] = {
        {"1", 1},
        {"16", 16},
        {"HDR", HDR},
        {"0xFFFFFFF0", 0xFFFFFFF0u},
        {"-HDR", (uintptr_t)-HDR},
        {"-1", (uintptr_t)-1},
        {"-16", (uintptr_t)-16},
        {"base-HDR", base - HDR},
        {"base", base},
        {"base+1", base + 1},
        {"base+HDR-16", base + HDR - BMAP_GRANULE},
        {"base+LIMIT-HDR", base + HEAP_VIRTUAL_LIMIT - HDR},
        {"base+LIMIT", base + HEAP_VIRTUAL_LIMIT},
        {"base+LIMIT+HDR", base + HEAP_VIRTUAL_LIMIT + HDR},
        {"end", end},
        {"end+HDR", end + HDR},
        {"end-16", end - 16},
        {"last payload", (uintptr_t)r->last + HDR},
        {"keep0+16", (uintptr_t)keep[0] + 16},
        {"keep0+1024+HDR+16", (uintptr_t)keep[0] + 1024 + HDR + 16},
        {"keep1-HDR", (uintptr_t)keep[1] - HDR},
        {"keep1+HDR", (uintptr_t)keep[1] + HDR},
        {"keep7+5000", (uintptr_t)keep[7] + 5008},
    };
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        try_free(w[i].what, (void *)w[i].p);
    /* krealloc / usable_size of the same pointers (shared path only) */
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        uint32_t e = errors_now();
        size_t u = kmalloc_usable_size((void *)w[i].p);
        if (u || errors_now() != e + 1)
            FINDING("kmalloc_usable_size(%s) = %zu, %u reports", w[i].what, u, errors_now() - e);
        void *q = krealloc((void *)w[i].p, 3000);
        if (q)
            FINDING("krealloc(%s) = %p", w[i].what, q);
    }
    CHECK();
    live_verify("wild");
    for (int i = 0; i < 8; i++)
        kfree(keep[i]);
    check_every_layer();
    assert_int_equal(findings, 0);
}

/* ------------------------------------------------ attack 2: UAF header writes ---- */

enum {
    SCR_MAGIC,
    SCR_SIZE_BIG,
    SCR_SIZE_SMALL,
    SCR_IS_FREE,
    SCR_LOOKS_FREE,
    SCR_NEXT,
    SCR_PREV,
    SCR_ALL,
    SCR_N
};
static const char *scr_name[SCR_N] = {"magic",      "size big", "size small", "is_free",
                                      "looks free", "next",     "prev",       "all 0x41"};

static void scribble(void *p, int how)
{
    heap_block_t *h = (heap_block_t *)((char *)p - HDR);
    switch (how) {
    case SCR_MAGIC:
        h->magic = 0x41414141;
        break;
    case SCR_SIZE_BIG:
        h->size = h->size + HDR + 1024;
        break; /* swallows the next */
    case SCR_SIZE_SMALL:
        h->size = 528;
        break;
    case SCR_IS_FREE:
        h->is_free = 1;
        break;
    case SCR_LOOKS_FREE:
        h->is_free = 1;
        h->magic = 0xFEEDFACE;
        break;
    case SCR_NEXT:
        h->next = (heap_block_t *)((char *)h + 64);
        break;
    case SCR_PREV:
        h->prev = NULL;
        break;
    case SCR_ALL:
        memset(h, 0x41, HDR);
        break;
    }
}

/* follow-ups after the scribble of a cached block */
enum {
    F_KMALLOC,
    F_REAP,
    F_CHECK,
    F_STATS,
    F_USABLE,
    F_REALLOC,
    F_FREE_AGAIN,
    F_PREV_FREE,
    F_NEXT_FREE,
    F_OFF,
    F_N
};
static const char *f_name[F_N] = {"kmalloc same class",   "kmem_cache_reap",     "heap_check",
                                  "get_memory_stats",     "kmalloc_usable_size", "krealloc",
                                  "kfree again",          "kfree of prev",       "kfree of next",
                                  "mm_set_block_cache(0)"};

static void uaf_case(int how, int f)
{
    live_reset();
    char *prev = kmalloc(1000), *p = kmalloc(1000), *next = kmalloc(1000), *guard = kmalloc(1000);
    live_add(prev, 1000);
    live_add(next, 1000);
    live_add(guard, 1000);
    kfree(p);
    assert_int_equal(st().heap_cpu_cached, 1);
    uint32_t e0 = errors_now();
    scribble(p, how);
    char tag[128];
    snprintf(tag, sizeof tag, "scribble %s, then %s", scr_name[how], f_name[f]);
    void *q = NULL, *q2 = NULL;
    switch (f) {
    case F_KMALLOC:
        q = kmalloc(1000);
        q2 = kmalloc(1000);
        if (q == p)
            fprintf(stderr, "  [%s] the scribbled block handed out, %u reports at kmalloc\n", tag,
                    errors_now() - e0);
        live_add(q, 1000);
        live_add(q2, 1000);
        break;
    case F_REAP:
        kmem_cache_reap();
        break;
    case F_CHECK: {
        int c = heap_check();
        if (!c)
            fprintf(stderr, "  [%s] heap_check saw nothing\n", tag);
        break;
    }
    case F_STATS: {
        memory_stats_t s = st();
        if (s.heap_cpu_cached != 1 || s.heap_cpu_cached_bytes != 1024)
            FINDING("%s: cached %u/%u", tag, s.heap_cpu_cached, s.heap_cpu_cached_bytes);
        break;
    }
    case F_USABLE: {
        size_t u = kmalloc_usable_size(p);
        if (u)
            FINDING("%s: kmalloc_usable_size of a block in a CPU's cache = %zu (last: %s)", tag, u,
                    mm_last_error());
        break;
    }
    case F_REALLOC:
        q = krealloc(p, 3000);
        if (q) {
            FINDING("%s: krealloc of a cached (freed) block returned %p", tag, q);
            live_add(q, 3000);
        }
        break;
    case F_FREE_AGAIN: {
        uint32_t e = errors_now();
        kfree(p);
        if (errors_now() == e)
            FINDING("%s: double free of a cached block not reported", tag);
        break;
    }
    case F_PREV_FREE:
        live_del(prev);
        kfree(prev);
        prev = NULL;
        break;
    case F_NEXT_FREE:
        live_del(next);
        kfree(next);
        next = NULL;
        break;
    case F_OFF:
        mm_set_block_cache(0);
        mm_set_block_cache(1);
        break;
    }
    live_verify(tag);
    /* drain and settle: every cached block back; the scribble must be repaired by then */
    kmem_cache_reap();
    /* allocate a lot of this class: no live object may be overwritten */
    void *more[16];
    for (int i = 0; i < 16; i++) {
        more[i] = kmalloc(1000);
        live_add(more[i], 1000);
    }
    live_verify(tag);
    for (int i = 0; i < 16; i++) {
        live_del(more[i]);
        kfree(more[i]);
    }
    if (q) {
        live_del(q);
        kfree(q);
    }
    if (q2) {
        live_del(q2);
        kfree(q2);
    }
    kmem_cache_reap();
    int c = heap_check();
    if (c)
        FINDING("%s: heap_check %d after everything was freed (last: %s)", tag, c, mm_last_error());
    if (errors_now() == e0)
        FINDING("%s: the scribble was never reported", tag);
    if (prev)
        kfree(prev);
    if (next)
        kfree(next);
    kfree(guard);
    kmem_cache_reap();
    c = heap_check();
    if (c)
        FINDING("%s: heap_check %d at the end", tag, c);
    memory_stats_t s = st();
    if (s.heap_cpu_cached || s.heap_cpu_cached_bytes)
        FINDING("%s: still cached %u", tag, s.heap_cpu_cached);
}

static void test_uaf_header_scribbles(void **state)
{
    (void)state;
    findings = 0;
    for (int how = 0; how < SCR_N; how++)
        for (int f = 0; f < F_N; f++) {
            fresh_as_cpu0(NULL);
            uaf_case(how, f);
        }
    assert_int_equal(findings, 0);
}

/* ------------------------------------------------ attack 4: forged live headers ---- */

static void forged_case(int how)
{
    live_reset();
    char *a = kmalloc(2000), *p = kmalloc(2000), *b = kmalloc(2000), *c = kmalloc(2000);
    live_add(a, 2000);
    live_add(b, 2000);
    live_add(c, 2000);
    heap_block_t *h = (heap_block_t *)(p - HDR);
    heap_block_t *hb = (heap_block_t *)((char *)b - HDR);
    uint32_t e0 = errors_now();
    switch (how) {
    case 0:
        h->size = h->size + HDR + hb->size;
        break; /* covers b */
    case 1:
        h->size = h->size + HDR + hb->size;
        h->next = hb->next;
        hb->next->prev = h;
        break;
    case 2:
        h->size = 640;
        break; /* smaller */
    case 3:
        h->size = 640;
        h->next = (heap_block_t *)(p + 640);
        break;
    case 4:
        h->is_free = 1;
        break;
    case 5:
        h->is_free = 1;
        h->magic = HEAP_MAGIC_FREE;
        break;
    case 6:
        h->size = (size_t)-HDR;
        break; /* wraps */
    case 7:
        h->size = 0xFFFFFFF0u;
        break;
    case 8:
        h->size = 512;
        break; /* at the claim's threshold */
    case 9:
        h->size = 0;
        break;
    }
    kfree(p);
    char tag[64];
    snprintf(tag, sizeof tag, "forged live header #%d", how);
    if (errors_now() == e0)
        FINDING("%s: not reported", tag);
    if (st().heap_cpu_cached)
        FINDING("%s: cached anyway", tag);
    void *x[8];
    for (int i = 0; i < 8; i++) {
        x[i] = kmalloc(i & 1 ? 2000 : 6000);
        live_add(x[i], i & 1 ? 2000 : 6000);
    }
    live_verify(tag);
    int k = heap_check();
    if (k)
        FINDING("%s: heap_check %d", tag, k);
    for (int i = 0; i < 8; i++)
        kfree(x[i]);
    kfree(a);
    kfree(b);
    kfree(c);
    kmem_cache_reap();
    k = heap_check();
    if (k)
        FINDING("%s: heap_check %d at the end", tag, k);
}

static void test_forged_headers(void **state)
{
    (void)state;
    findings = 0;
    for (int how = 0; how < 10; how++) {
        fresh_as_cpu0(NULL);
        forged_case(how);
    }
    assert_int_equal(findings, 0);
}

/* ------------------------------------------------ attack 5: a free that shrinks past the block
 * ---- */

/*
 * big, then b (shared path: > 64 KB, or over BC_BLOCK_MAX) right before the heap's free tail;
 * big freed, then b: b's free merges into big's and the shrink drops b's header.  Every size of
 * b over a range so that the page rounding puts the new end exactly at, before and after b.
 */
static void test_shrink_past_the_freed_block(void **state)
{
    (void)state;
    findings = 0;
    uint32_t e0 = errors_now();
    for (size_t bsz = 66000; bsz < 66000 + 3 * PAGE_SIZE; bsz += BMAP_GRANULE) {
        char *big = kmalloc(300000), *b = kmalloc(bsz);
        assert_non_null(big);
        assert_non_null(b);
        kfree(big);
        int c = heap_check();
        kfree(b);
        c += heap_check();
        /* the heap back over the old place */
        char *again = kmalloc(400000);
        c += heap_check();
        char *small = kmalloc(3000);
        kfree(small);
        c += heap_check();
        kfree(again);
        c += heap_check();
        if (c) {
            FINDING("b of %zu: heap_check errors %d (%s)", bsz, c, mm_last_error());
            break;
        }
    }
    for (size_t bsz = 1000; bsz < 64000; bsz += 997) { /* the same through a krealloc that moves */
        char *big = kmalloc(300000), *b = kmalloc(bsz);
        kfree(big);
        char *q = krealloc(b, bsz + 70000);
        int c = heap_check();
        kfree(q);
        c += heap_check();
        if (c) {
            FINDING("krealloc of %zu: heap_check errors %d (%s)", bsz, c, mm_last_error());
            break;
        }
    }
    if (errors_now() != e0)
        FINDING("reports: %s", mm_last_error());
    kmem_cache_reap();
    check_every_layer();
    assert_int_equal(findings, 0);
}

/* ------------------------------------------------ attack 6: statistics exactness ---- */

static void stats_exact(const char *where, uint32_t used0, uint32_t live0)
{
    memory_stats_t s = st();
    uint64_t sum = 0;
    for (int i = 0; i < nlive; i++)
        sum += kmalloc_usable_size(live[i].p);
    if (s.heap_used != used0 + sum + s.heap_cpu_cached_bytes) {
        FINDING("%s: heap_used %u != %u + live %llu + cached %u", where, s.heap_used, used0,
                (unsigned long long)sum, s.heap_cpu_cached_bytes);
    }
    if (s.allocation_count - s.free_count != live0 + (uint32_t)nlive)
        FINDING("%s: allocs-frees %u != %u", where, s.allocation_count - s.free_count,
                live0 + nlive);
    if (s.heap_size != s.heap_used + s.heap_free + s.block_count * HDR)
        FINDING("%s: heap_size does not balance", where);
}

static void test_random_workload_stats(void **state)
{
    (void)state;
    findings = 0;
    live_reset();
    uint32_t rng = 12345;
    kmem_cache_reap();
    memory_stats_t s0 = st();
    uint32_t used0 = s0.heap_used, live0 = s0.allocation_count - s0.free_count;
    for (int op = 0; op < 6000 && findings < 5; op++) {
        unsigned r = rng_next(&rng) % 100;
        char where[64];
        snprintf(where, sizeof where, "op %d (%u)", op, r);
        if (op == 2000 || op == 4500)
            mm_set_block_cache(0);
        if (op == 3000 || op == 5000)
            mm_set_block_cache(1);
        if (r < 45 && nlive < MAXLIVE - 20) {
            size_t n = 513 + rng_next(&rng) % (r < 5 ? 200000 : 65536 - 513);
            if (r % 7 == 0)
                host_forced_cpu_id = (int)(rng_next(&rng) % 4);
            void *p = kmalloc(n);
            host_forced_cpu_id = 0;
            if (p)
                live_add(p, n);
        } else if (r < 85 && nlive) {
            int i = (int)(rng_next(&rng) % (unsigned)nlive);
            void *p = live[i].p;
            live_del(p);
            if (r % 5 == 0)
                host_forced_cpu_id = (int)(rng_next(&rng) % 4);
            kfree(p);
            host_forced_cpu_id = 0;
        } else if (r < 95 && nlive) {
            int i = (int)(rng_next(&rng) % (unsigned)nlive);
            void *p = live[i].p;
            size_t keep = live[i].n, n = 513 + rng_next(&rng) % 70000;
            unsigned char c = live[i].c;
            void *q = krealloc(p, n);
            if (q) {
                size_t k = keep < n ? keep : n;
                for (size_t j = 0; j < k; j++)
                    if (((unsigned char *)q)[j] != c) {
                        FINDING("%s: krealloc lost data", where);
                        break;
                    }
                live_del(p);
                live_add(q, n);
            }
        } else if (r < 97) {
            kmem_cache_reap();
        } else if (r < 99) {
            heap_trim();
        } else {
            void *p = kmalloc(600); /* and a double free of a cached one */
            kfree(p);
            uint32_t e = errors_now();
            kfree(p);
            if (errors_now() != e + 1)
                FINDING("%s: double free reported %u times", where, errors_now() - e);
        }
        int c = heap_check();
        if (c)
            FINDING("%s: heap_check %d: %s", where, c, mm_last_error());
        stats_exact(where, used0, live0);
        if (op % 500 == 0)
            live_verify(where);
    }
    live_verify("end");
    while (nlive) {
        void *p = live[0].p;
        live_del(p);
        kfree(p);
    }
    kmem_cache_reap();
    stats_exact("end", used0, live0);
    mm_set_block_cache(1);
    check_every_layer();
    assert_int_equal(findings, 0);
}

/* ------------------------------------------------ attack 3: races ---- */

enum {
    OP_NONE,
    OP_KFREE,
    OP_KREALLOC,
    OP_REAP,
    OP_OFF,
    OP_TRIM,
    OP_KFREE_SPIN,
    OP_STATS,
    OP_CHECK
};
struct worker {
    pthread_t t;
    int op;
    void *p;
    size_t n;
    void *ret;
    int quit;
};
static pthread_barrier_t go, done;
static struct worker wk[3];

static void run_op(struct worker *w)
{
    switch (w->op) {
    case OP_KFREE:
        kfree(w->p);
        break;
    case OP_KFREE_SPIN:
        for (volatile int i = 0; i < (int)(w->n % 200); i++)
            ;
        kfree(w->p);
        break;
    case OP_KREALLOC:
        w->ret = krealloc(w->p, w->n);
        break;
    case OP_REAP:
        kmem_cache_reap();
        break;
    case OP_OFF:
        mm_set_block_cache(0);
        mm_set_block_cache(1);
        break;
    case OP_TRIM:
        heap_trim();
        break;
    case OP_STATS:
        (void)st();
        break;
    case OP_CHECK:
        (void)heap_check();
        break;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        pthread_barrier_wait(&go);
        if (w->quit)
            break;
        run_op(w);
        pthread_barrier_wait(&done);
    }
    return NULL;
}

static void workers_start(void)
{
    pthread_barrier_init(&go, NULL, 4);
    pthread_barrier_init(&done, NULL, 4);
    for (int i = 0; i < 3; i++) {
        memset(&wk[i], 0, sizeof wk[i]);
        pthread_create(&wk[i].t, NULL, worker_main, &wk[i]);
    }
}

static void workers_round(void)
{
    pthread_barrier_wait(&go);
    pthread_barrier_wait(&done);
}

static void workers_stop(void)
{
    for (int i = 0; i < 3; i++)
        wk[i].quit = 1;
    pthread_barrier_wait(&go);
    for (int i = 0; i < 3; i++)
        pthread_join(wk[i].t, NULL);
    pthread_barrier_destroy(&go);
    pthread_barrier_destroy(&done);
}

/* krealloc(p) on one CPU, kfree(p) on another (a double free race), a third CPU reaping or not */
static void test_race_krealloc_vs_kfree(void **state)
{
    (void)state;
    findings = 0;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    live_reset();
    uint32_t rng = 777;
    char *nb[6];
    for (int i = 0; i < 6; i++) {
        nb[i] = kmalloc(3000);
        live_add(nb[i], 3000);
    }
    workers_start();
    int outc[3] = {0};
    for (int run = 0; run < attack_iters(4000) && findings < 5; run++) {
        size_t n = 600 + rng_next(&rng) % 64000;
        size_t m = rng_next(&rng) & 1 ? n / 2 + 1 : n + 1 + rng_next(&rng) % 80000;
        void *p = kmalloc(n);
        assert_non_null(p);
        memset(p, 0xAB, n);
        if (rng_next(&rng) % 3 == 0)
            kfree(kmalloc(n));         /* a block of the class cached already */
        if (rng_next(&rng) % 4 == 0) { /* a free neighbour to grow into, sometimes */
            void *x = kmalloc(m);
            kfree(x);
        }
        uint32_t e = errors_now();
        wk[0] = (struct worker){wk[0].t, OP_KREALLOC, p, m, NULL, 0};
        wk[1] = (struct worker){wk[1].t, OP_KFREE_SPIN, p, rng_next(&rng), NULL, 0};
        int third = (int)(rng_next(&rng) % 6);
        wk[2] = (struct worker){
            wk[2].t, third == 0 ? OP_REAP : third == 1 ? OP_OFF : third == 2 ? OP_TRIM : OP_NONE,
            NULL,    0,
            NULL,    0};
        workers_round();
        uint32_t rep = errors_now() - e;
        void *q = wk[0].ret;
        char tag[96];
        snprintf(tag, sizeof tag, "run %d: krealloc(%zu -> %zu) = %s, %u reports", run, n, m,
                 !q       ? "NULL"
                 : q == p ? "same"
                          : "moved",
                 rep);
        int ok = (!q && rep == 1) || (q == p && rep == 0) || (q && q != p && rep == 1);
        if (!ok)
            FINDING("%s (%s)", tag, mm_last_error());
        outc[!q ? 0 : q == p ? 1 : 2]++;
        if (q && q != p) {
            unsigned char *c = q;
            size_t k = n < m ? n : m;
            for (size_t j = 0; j < k; j++)
                if (c[j] != 0xAB) {
                    FINDING("%s: moved data lost at %zu", tag, j);
                    break;
                }
            live_add(q, m);
        }
        int ch = heap_check();
        if (ch)
            FINDING("%s: heap_check %d (%s)", tag, ch, mm_last_error());
        if (run % 16 == 15)
            while (nlive > 6) {
                void *x = live[nlive - 1].p;
                live_del(x);
                kfree(x);
            }
        if (run % 100 == 0)
            live_verify(tag);
    }
    workers_stop();
    fprintf(stderr, "outcomes: NULL %d, same %d, moved %d\n", outc[0], outc[1], outc[2]);
    live_verify("end");
    while (nlive) {
        void *x = live[0].p;
        live_del(x);
        kfree(x);
    }
    kmem_cache_reap();
    check_every_layer();
    assert_int_equal(findings, 0);
}

/* two CPUs free one block while a third reaps, turns the caches off and on, or trims */
static void test_race_double_free_vs_drain(void **state)
{
    (void)state;
    findings = 0;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    live_reset();
    uint32_t rng = 99;
    workers_start();
    for (int run = 0; run < attack_iters(4000) && findings < 5; run++) {
        size_t n = 600 + rng_next(&rng) % 64000;
        void *p = kmalloc(n);
        void *keep = kmalloc(n);
        live_add(keep, n);
        int pre = (int)(rng_next(&rng) % 3);
        if (pre == 1)
            kfree(p); /* already cached on this CPU: both frees are double frees */
        uint32_t e = errors_now();
        int third = (int)(rng_next(&rng) % 5);
        wk[0] = (struct worker){wk[0].t, OP_KFREE_SPIN, p, rng_next(&rng), NULL, 0};
        wk[1] = (struct worker){wk[1].t, OP_KFREE_SPIN, p, rng_next(&rng), NULL, 0};
        wk[2] = (struct worker){wk[2].t,
                                third == 0   ? OP_REAP
                                : third == 1 ? OP_OFF
                                : third == 2 ? OP_TRIM
                                : third == 3 ? OP_CHECK
                                             : OP_STATS,
                                NULL,
                                0,
                                NULL,
                                0};
        workers_round();
        uint32_t rep = errors_now() - e, want = pre == 1 ? 2 : 1;
        if (rep != want)
            FINDING("run %d (%zu B, pre %d, third %d): %u reports, want %u (%s)", run, n, pre,
                    third, rep, want, mm_last_error());
        int ch = heap_check();
        if (ch)
            FINDING("run %d: heap_check %d", run, ch);
        /* the block must come back once */
        void *a = kmalloc(n), *b = kmalloc(n);
        live_add(a, n);
        live_add(b, n);
        if (a == b)
            FINDING("run %d: one block handed out twice", run);
        if (live_verify("double free"))
            break;
        while (nlive) {
            void *x = live[0].p;
            live_del(x);
            kfree(x);
        }
    }
    workers_stop();
    kmem_cache_reap();
    check_every_layer();
    assert_int_equal(findings, 0);
}

/* the fast path on two CPUs, hammering, while a third reaps, toggles, trims, checks */
struct hammer {
    int cpu_seed;
    volatile int *stop;
    int bad;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    uint32_t rng = (uint32_t)h->cpu_seed;
    enum { K = 24 };
    unsigned char *p[K] = {0};
    size_t n[K] = {0};
    unsigned char c[K] = {0};
    while (!*h->stop) {
        int i = (int)(rng_next(&rng) % K);
        if (p[i]) {
            for (size_t j = 0; j < n[i]; j += 61)
                if (p[i][j] != c[i]) {
                    h->bad++;
                    break;
                }
            kfree(p[i]);
            p[i] = NULL;
        } else {
            n[i] = 513 + rng_next(&rng) % (rng_next(&rng) % 50 ? 65536 - 513 : 300000);
            p[i] = kmalloc(n[i]);
            c[i] = (unsigned char)(rng_next(&rng) | 1);
            if (p[i])
                memset(p[i], c[i], n[i]);
        }
    }
    for (int i = 0; i < K; i++)
        kfree(p[i]);
    return NULL;
}

static void test_race_hammer_vs_drain(void **state)
{
    (void)state;
    findings = 0;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    volatile int stop = 0;
    struct hammer h[2] = {{1, &stop, 0}, {2, &stop, 0}};
    pthread_t t[2];
    uint32_t e0 = errors_now();
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    int checks = 0;
    for (int round = 0; round < attack_iters(3000); round++) {
        switch (round % 5) {
        case 0:
            kmem_cache_reap();
            break;
        case 1:
            mm_set_block_cache(0);
            break;
        case 2:
            mm_set_block_cache(1);
            break;
        case 3:
            heap_trim();
            break;
        case 4: {
            int c = heap_check();
            if (c && checks++ < 5)
                FINDING("round %d: heap_check %d (%s)", round, c, mm_last_error());
            break;
        }
        }
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (h[0].bad || h[1].bad)
        FINDING("live data overwritten: %d %d", h[0].bad, h[1].bad);
    if (errors_now() != e0)
        FINDING("%u reports in a clean run: %s", errors_now() - e0, mm_last_error());
    mm_set_block_cache(1);
    kmem_cache_reap();
    check_every_layer();
    memory_stats_t s = st();
    if (s.heap_cpu_cached)
        FINDING("cached after reap: %u", s.heap_cpu_cached);
    assert_int_equal(findings, 0);
}

/* ------------------------------------------------ the map's transient states ---- */

/*
 * heap_alloc_aligned takes a block (set allocated: magic, size, map all sound),
 * splits the front off it and only then sets the front free.  Meanwhile the
 * front is, by the map and its own header, an allocated block: a CPU's fast
 * kfree of a stale pointer to it (a double free of an earlier block there)
 * passes every check of bc_kfree and caches it, and the heap then lists it
 * free as well.  A: kmalloc_aligned + kfree in a loop (the lock held for each);
 * B: bc_kfree(stale pointer) in a loop, the lock-free part of kfree (when it
 * says 0, kfree would take the shared path and report a double free).
 */
static volatile int race_stop;
static volatile uintptr_t race_target;
static volatile long race_hits, race_tries;
static volatile int race_cpu;

static void *stale_freer(void *arg)
{
    (void)arg;
    kfree(kmalloc(3000)); /* this thread numbered as a CPU (glue_cpu_id), as a real CPU is */
    kmem_cache_reap();
    race_cpu = glue_cpu_id();
    while (!race_stop) {
        uintptr_t t = race_target;
        if (!t)
            continue;
        race_tries++;
        if (bc_kfree((void *)t)) {
            race_hits++;
            race_stop = 1;
        }
    }
    return NULL;
}

static void test_race_stale_free_vs_aligned_front(void **state)
{
    (void)state;
    findings = 0;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    live_reset();
    /* a layout: a 40 KB hole before a guard, a stale pointer to its start */
    char *stale = kmalloc(40000), *guard = kmalloc(3000);
    live_add(guard, 3000);
    mm_set_block_cache(0);
    kfree(stale); /* stale: a freed block's pointer, kept by a buggy caller */
    mm_set_block_cache(1);
    void *q = kmalloc_aligned(2000, 4096);
    heap_block_t *front = heap_map_prev(heap_growing_region(), (heap_block_t *)((char *)q - HDR));
    fprintf(stderr, "stale %p, aligned %p, front payload %p\n", (void *)stale, q,
            front ? (void *)((char *)front + HDR) : NULL);
    krealloc(q, 0);
    race_stop = 0;
    race_hits = race_tries = 0;
    race_target = (uintptr_t)front + HDR; /* where the front block's payload is each time */
    pthread_t t;
    pthread_create(&t, NULL, stale_freer, NULL);
    long rounds = 0;
    uint32_t e0 = errors_now();
    for (; !race_stop && rounds < attack_iters(2000000); rounds++) {
        void *a = kmalloc_aligned(2000, 4096);
        if (a != q) {
            fprintf(stderr, "round %ld: aligned at %p, not %p\n", rounds, a, q);
            q = a;
        }
        if (race_stop) {
            live_add(a, 2000);
            break;
        }
        krealloc(a, 0); /* the shared path's free: the front merges back, same layout each time */
    }
    race_stop = 1;
    pthread_join(t, NULL);
    fprintf(stderr, "rounds %ld, stale frees tried %ld, accepted by the fast path %ld\n", rounds,
            race_tries, race_hits);
    if (race_hits) {
        memory_stats_t s = st();
        host_console_clear();
        int c = heap_check();
        FINDING("a stale pointer's kfree was cached by the fast path while kmalloc_aligned held "
                "the block transiently allocated: cached %u (%u bytes), heap_check %d: %s, "
                "reports %u",
                s.heap_cpu_cached, s.heap_cpu_cached_bytes, c, host_console_text(),
                errors_now() - e0);
        /* the cached block back out on its CPU, and the heap's free block over it on another */
        static const size_t cls[] = {700, 6000};
        host_forced_cpu_id = race_cpu;
        for (int k = 0; k < 2; k++) {
            void *x = kmalloc(cls[k]);
            fprintf(stderr, "CPU %d's kmalloc(%zu) = %p (target %p)\n", race_cpu, cls[k], x,
                    (void *)race_target);
            live_add(x, cls[k]);
        }
        host_forced_cpu_id = HOST_CPU_ID_NATURAL;
        for (int k = 0; k < 2; k++) {
            void *y = kcalloc(1, cls[k]); /* the shared path: a heap block of the class's size */
            fprintf(stderr, "kcalloc(1, %zu) = %p\n", cls[k], y);
            if (y)
                live_add(y, cls[k]);
        }
        live_verify("after the stale free");
    }
    assert_int_equal(findings, 0);
}

/*
 * The same window at a slab page's birth: heap_slab_page_alloc gets a sound
 * allocated block from heap_alloc_aligned and only then marks its page a slab.
 * A CPU's fast kfree of a wild pointer to page + HDR in between caches the
 * slab's page as a free kmalloc block.  No header forged: the heap wrote it.
 */
static void test_race_wild_free_vs_slab_page_birth(void **state)
{
    (void)state;
    findings = 0;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    live_reset();
    kmem_cache_t *c = kmem_cache_create("attack", 1000, 0, NULL);
    assert_non_null(c);
    void *o = kmem_cache_alloc(c);
    uintptr_t page = heap_slab_page_of((uintptr_t)o);
    kmem_cache_free(c, o);
    kmem_cache_shrink(c);
    fprintf(stderr, "slab page %p\n", (void *)page);
    race_stop = 0;
    race_hits = race_tries = 0;
    race_target = page + HDR;
    pthread_t t;
    pthread_create(&t, NULL, stale_freer, NULL);
    long rounds = 0, moved = 0;
    void *last = NULL;
    for (; !race_stop && rounds < attack_iters(300000); rounds++) {
        last = kmem_cache_alloc(c);
        if (heap_slab_page_of((uintptr_t)last) != page)
            moved++;
        if (race_stop)
            break;
        kmem_cache_free(c, last);
        last = NULL;
        kmem_cache_shrink(c); /* the page back to the heap: born again next round */
    }
    race_stop = 1;
    pthread_join(t, NULL);
    fprintf(stderr, "rounds %ld (page elsewhere %ld), tried %ld, accepted %ld\n", rounds, moved,
            race_tries, race_hits);
    if (race_hits) {
        host_console_clear();
        int k = heap_check();
        FINDING("a wild kfree(slab page + HDR) was cached while the page was being born: "
                "heap_check %d: %s",
                k, host_console_text());
        host_forced_cpu_id = race_cpu;
        void *x = kmalloc(3500);
        host_forced_cpu_id = HOST_CPU_ID_NATURAL;
        fprintf(stderr, "CPU %d's kmalloc(3500) = %p, slab object %p on page %p\n", race_cpu, x,
                last, (void *)heap_slab_page_of((uintptr_t)last));
        if (x && last && (uintptr_t)x <= (uintptr_t)last && (uintptr_t)last < (uintptr_t)x + 3500)
            FINDING("kmalloc handed out a live slab object's page: %p covers %p", x, last);
    }
    assert_int_equal(findings, 0);
}

/* A write after free into a cached block's header: what the next owner's calls say. */
static void test_uaf_then_next_owner(void **state)
{
    (void)state;
    findings = 0;
    char *keep = kmalloc(1000), *p = kmalloc(1000), *after = kmalloc(1000);
    kfree(p);
    uint32_t e0 = errors_now();
    ((heap_block_t *)(p - HDR))->magic = 0x41414141; /* the old owner writes after its free */
    char *q = kmalloc(1000); /* the next owner: the same block, from the CPU's cache */
    fprintf(stderr, "kmalloc = %p (freed %p), reports at kmalloc %u\n", (void *)q, (void *)p,
            errors_now() - e0);
    host_console_clear();
    int c = heap_check();
    fprintf(stderr, "heap_check while the next owner holds it: %d: %s", c, host_console_text());
    kfree(q); /* the innocent owner's free */
    fprintf(stderr, "next owner's kfree: %u reports: %s\n", errors_now() - e0, mm_last_error());
    if (errors_now() - e0 == 0)
        FINDING("never reported");
    kfree(keep);
    kfree(after);
    kmem_cache_reap();
    CHECK();
}

/*
 * A fast free sets a block's mark, then is delayed (preempted, an NMI, a vCPU
 * descheduled) before it backs off and clears it, while the lock's holder
 * frees that block without claiming its mark (a slab page's death) and
 * shrinks the heap past it.  The late clear must still land: a mark left
 * there made heap_check fail and a later block in that span "already free"
 * (found by a second hostile review).  The reader's two atomic steps are
 * called directly, the delay between them made by the test.
 */
static int raw_mark(uintptr_t b)
{
    uint32_t k = (uint32_t)((b - bmap_marks.base) / HEAP_MARK_SPAN);
    return (int)((bmap_marks.map->marks[k / 32 * HEAP_MARK_STRIDE] >> (k % 32)) & 1);
}

static void test_late_mark_clear_past_a_shrink(void **state)
{
    (void)state;
    int was = mm_set_block_cache(0); /* exact sizes for the layout */
    heap_region_t *r = heap_growing_region();
    char *f = kmalloc(400000);
    kmem_cache_t *c = kmem_cache_create("victim", 1000, 0, NULL);
    void *o = kmem_cache_alloc(c);
    uintptr_t page = heap_slab_page_of((uintptr_t)o);
    kfree(f);                       /* a big free block before the slab page */
    assert_true(bc_mark_try(page)); /* the reader's bts */
    kmem_cache_free(c, o);
    kmem_cache_shrink(c); /* the holder: the page dies, the heap shrinks past it */
    assert_true(r->end <= page);
    heap_mark_clear(page); /* the reader backs off */
    assert_int_equal(raw_mark(page), 0);
    void *again = kmalloc(400000), *more = kmalloc(400000); /* the heap back over the page */
    assert_true(r->end > page);
    CHECK();
    kfree(more);
    kfree(again);
    assert_int_equal(kmem_cache_destroy(c), 0);
    mm_set_block_cache(was);
    check_every_layer();
}

#define T(f) cmocka_unit_test_setup_teardown(f, fresh_as_cpu0, natural_cpu_ids)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_wild_pointers),
        T(test_uaf_header_scribbles),
        T(test_uaf_then_next_owner),
        T(test_late_mark_clear_past_a_shrink),
        T(test_forged_headers),
        T(test_shrink_past_the_freed_block),
        T(test_random_workload_stats),
        T(test_race_krealloc_vs_kfree),
        T(test_race_double_free_vs_drain),
        T(test_race_hammer_vs_drain),
        T(test_race_stale_free_vs_aligned_front),
        T(test_race_wild_free_vs_slab_page_birth),
    };
    if (getenv("ATTACK_FILTER"))
        cmocka_set_test_filter(getenv("ATTACK_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

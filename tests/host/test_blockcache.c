/*
 * test_blockcache.c - the per-CPU caches of heap blocks (mm/blockcache.c):
 * kmalloc of 513 B to 64 KB and kfree of such a block on the local CPU.
 *
 * Expect: a block freed on a CPU comes back to that CPU's next kmalloc of its
 * class without mm/'s shared lock, and never to another CPU's; sizes are
 * rounded up to their class (at most a quarter more); a miss takes BC_FILL
 * blocks of the class from the free lists at once, never growing the heap for
 * them; a class keeps at most BC_ROUNDS blocks and a CPU at most its budget
 * (an eighth of the heap, 256 KB to BC_CPU_BYTES); every always-on check
 * (double free from either path, wild, interior, a header an overflow forged
 * or smashed) still reports and refuses, and nothing is handed out twice;
 * statistics count the cached blocks exactly; the reclaim hook, memory
 * pressure and kmem_cache_reap give them back; heap_check finds a mark that
 * disagrees with the caches.  heap_check runs after every step.
 */
#include <pthread.h>
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

/* A freed block comes back to the next kmalloc of its class on this CPU, with no shared lock. */
static void test_free_then_alloc_on_one_cpu(void **state)
{
    (void)state;
    char *p = kmalloc(1000);
    assert_non_null(p);
    memory_stats_t s0 = stats_now();
    kfree(p);
    CHECK();
    memory_stats_t s1 = stats_now(); /* (s0: the miss's fill may have cached more of the class) */
    assert_int_equal(s1.heap_cpu_cached, s0.heap_cpu_cached + 1);
    assert_int_equal(s1.heap_cpu_cached_bytes, s0.heap_cpu_cached_bytes + 1024);
    assert_int_equal(s1.free_count, s0.free_count + 1);
    assert_int_equal(s1.heap_used, s0.heap_used); /* still the heap's: allocated, kept */
    unsigned long before = host_spin_locks;
    for (int i = 0; i < 1000; i++) {
        char *q = kmalloc(900 + (size_t)i % 124); /* every size of the class 897..1024 */
        assert_ptr_equal(q, p);
        memset(q, 0x5A, 900);
        kfree(q);
    }
    assert_int_equal(host_spin_locks - before, 0);
    CHECK();
    memory_stats_t s2 = stats_now();
    assert_int_equal(s2.allocation_count - s2.free_count, s1.allocation_count - s1.free_count);
    assert_int_equal(s2.heap_cpu_cached, s1.heap_cpu_cached);
    check_every_layer();
}

/* Every size from 513 B to 64 KB gets its class's size: at least asked, at most a quarter more. */
static void test_sizes_round_to_their_class(void **state)
{
    (void)state;
    static const struct {
        size_t ask, get;
    } edge[] = {{513, 640},   {640, 640},   {641, 768},     {1024, 1024},   {1025, 1280},
                {4000, 4096}, {4097, 5120}, {40000, 40960}, {65535, 65536}, {65536, 65536}};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        void *p = kmalloc(edge[i].ask);
        assert_non_null(p);
        if (kmalloc_usable_size(p) != edge[i].get)
            fail_msg("kmalloc(%zu): %zu usable, not %zu", edge[i].ask, kmalloc_usable_size(p),
                     edge[i].get);
        kfree(p);
    }
    for (size_t n = BC_MIN; n <= BC_MAX; n += 37) {
        unsigned c = bc_class_of(n);
        assert_true(c < BC_CLASSES);
        assert_true(bc_class_size(c) >= n);
        assert_true(c == 0 || bc_class_size(c - 1) < n);
        assert_true(bc_class_size(c) * 4 <= n * 5 + 512); /* a quarter more at most (640: 513) */
        assert_int_equal(bc_class_floor(bc_class_size(c)), c);
    }
    void *big = kmalloc(BC_MAX + 4096); /* past the caches: the heap's own size, never cached */
    assert_int_equal(kmalloc_usable_size(big), BC_MAX + 4096);
    uint32_t cached = stats_now().heap_cpu_cached;
    kfree(big);
    assert_int_equal(stats_now().heap_cpu_cached, cached);
    CHECK();
}

/* A block freed on CPU 1 goes to CPU 1's cache: CPU 0 never gets it, CPU 1 does. */
static void test_other_cpus_block_stays_there(void **state)
{
    (void)state;
    void *p = kmalloc(3000);
    uint32_t c0 = stats_now().heap_cpu_cached; /* (CPU 0's fill from its miss) */
    host_forced_cpu_id = 1;
    kfree(p);
    CHECK();
    host_forced_cpu_id = 0;
    void *q = kmalloc(3000);
    assert_ptr_not_equal(q, p);
    host_forced_cpu_id = 1;
    void *r = kmalloc(3000);
    assert_ptr_equal(r, p);
    kfree(r);
    host_forced_cpu_id = 0;
    kfree(q);
    CHECK();
    assert_int_equal(stats_now().heap_cpu_cached, c0 + 1); /* p on CPU 1; CPU 0 as it was */
    check_every_layer();
}

/* Double free of a cached block, from its CPU and another; krealloc and usable_size of one. */
static void test_double_free_of_a_cached_block(void **state)
{
    (void)state;
    char *p = kmalloc(2000), *keep = kmalloc(2000);
    kfree(p);
    uint32_t c1 = stats_now().heap_cpu_cached, e = errors_now();
    kfree(p);
    assert_int_equal(errors_now(), e + 1);
    assert_reported("kfree", p, "double free");
    host_forced_cpu_id = 5;
    kfree(p);
    assert_int_equal(errors_now(), e + 2);
    assert_reported("kfree", p, "in a CPU's cache");
    host_forced_cpu_id = 0;
    assert_null(krealloc(p, 4000));
    assert_int_equal(errors_now(), e + 3);
    assert_reported("krealloc", p, "in a CPU's cache");
    assert_int_equal(kmalloc_usable_size(p), 0);
    assert_int_equal(errors_now(), e + 4);
    CHECK();
    assert_int_equal(stats_now().heap_cpu_cached, c1); /* none of the reports cached it again */
    /* handed out once only */
    void *a = kmalloc(2000), *b = kmalloc(2000);
    assert_ptr_equal(a, p);
    assert_ptr_not_equal(b, p);
    kfree(a);
    kfree(b);
    kfree(keep);
    CHECK();
    /* drained back to the heap, then freed again: the heap's own double free */
    kmem_cache_reap();
    assert_int_equal(stats_now().heap_cpu_cached, 0);
    e = errors_now();
    kfree(p);
    assert_int_equal(errors_now(), e + 1);
    assert_reported("kfree", p, "double free");
    check_every_layer();
}

/* Wild and interior pointers, and a block of the early heap: the shared path reports them. */
static void test_bad_pointers_reported(void **state)
{
    (void)state;
    char *p = kmalloc(5000);
    uint32_t e = errors_now(), c0 = stats_now().heap_cpu_cached;
    kfree(p + 16);
    assert_int_equal(errors_now(), e + 1);
    assert_reported("kfree", p + 16, "interior");
    kfree(p + 5000 + 64); /* past it: inside whatever follows, or free space */
    assert_int_equal(errors_now(), e + 2);
    static char not_heap[4096];
    kfree(not_heap + HEAP_HEADER_SIZE);
    assert_int_equal(errors_now(), e + 3);
    assert_int_equal(stats_now().heap_cpu_cached, c0);
    kfree(p);
    assert_int_equal(errors_now(), e + 3);
    assert_int_equal(stats_now().heap_cpu_cached, c0 + 1);
    CHECK();
}

/*
 * A stray write forges a live block's header bigger before it is freed: the
 * fast path takes its size from the map, not the header, and leaves it to the
 * shared path, which reports and rebuilds it.  No block is handed out over
 * another.
 */
static void test_forged_header_never_cached(void **state)
{
    (void)state;
    char *p = kmalloc(1024), *next = kmalloc(1024);
    memset(next, 0x77, 1024);
    heap_block_t *h = (heap_block_t *)(p - HEAP_HEADER_SIZE);
    h->size = 4096; /* would swallow next */
    uint32_t e = errors_now(), c0 = stats_now().heap_cpu_cached;
    kfree(p);
    assert_true(errors_now() > e);
    assert_int_equal(stats_now().heap_cpu_cached, c0);
    CHECK();
    void *q = kmalloc(4096);
    assert_true((char *)q + 4096 <= next || (char *)q >= next + 1024);
    for (int i = 0; i < 1024; i++)
        assert_int_equal((unsigned char)next[i], 0x77);
    /* the header smashed outright (magic): reported, rebuilt, not cached */
    char *r = kmalloc(1024);
    memset(r - HEAP_HEADER_SIZE, 0x41, HEAP_HEADER_SIZE);
    e = errors_now();
    c0 = stats_now().heap_cpu_cached;
    kfree(r);
    assert_true(errors_now() > e);
    assert_non_null(strstr(mm_last_error(), "smashed"));
    assert_int_equal(stats_now().heap_cpu_cached, c0);
    kfree(q);
    kfree(next);
    check_every_layer();
}

/*
 * A miss takes the caller's block and BC_FILL - 1 more of its class from the
 * heap's free lists in one hold of the lock: the next BC_FILL - 1 kmallocs of
 * the class take no lock.  The fill never grows the heap.
 */
static void test_a_miss_fills_from_the_free_lists(void **state)
{
    (void)state;
    kfree(kmalloc(300000)); /* free space in the lists (less than a shrink gives back) */
    kmem_cache_reap();
    memory_stats_t s0 = stats_now();
    assert_int_equal(s0.heap_cpu_cached, 0);
    assert_true(s0.largest_free_block >= BC_FILL * (5120 + HEAP_HEADER_SIZE));
    unsigned long before = host_spin_locks;
    char *p[BC_FILL + 1];
    p[0] = kmalloc(5000);
    assert_non_null(p[0]);
    assert_int_equal(host_spin_locks - before, 1);
    memory_stats_t s1 = stats_now();
    assert_int_equal(s1.heap_cpu_cached, BC_FILL - 1);
    assert_int_equal(s1.heap_virtual_size, s0.heap_virtual_size);
    assert_int_equal(s1.allocation_count, s0.allocation_count + 1); /* the caller's only */
    CHECK();
    before = host_spin_locks;
    for (int i = 1; i < BC_FILL; i++) {
        assert_non_null(p[i] = kmalloc(4097 + (size_t)i * 300));
        memset(p[i], i, 4097);
        for (int k = 0; k < i; k++) /* distinct blocks of 5120 bytes, none over another */
            assert_true(p[i] + 5120 <= p[k] || p[k] + 5120 <= p[i]);
    }
    assert_int_equal(host_spin_locks - before, 0);
    assert_int_equal(stats_now().heap_cpu_cached, 0);
    before = host_spin_locks;
    p[BC_FILL] = kmalloc(5000); /* empty again: the lock */
    assert_int_equal(host_spin_locks - before, 1);
    CHECK();
    for (int i = 0; i <= BC_FILL; i++)
        kfree(p[i]);
    CHECK();
    /* no free block big enough: the heap grows for the caller's block alone */
    kmem_cache_reap();
    int was = mm_set_block_cache(0);
    enum { PLUGS = 16 };
    void *plug[PLUGS] = {0};
    for (int k = 0; k < PLUGS && stats_now().largest_free_block >= 40960; k++)
        plug[k] = kmalloc(stats_now().largest_free_block);
    mm_set_block_cache(was);
    memory_stats_t s2 = stats_now();
    assert_true(s2.largest_free_block < 40960);
    void *g = kmalloc(40000);
    assert_non_null(g);
    memory_stats_t s3 = stats_now();
    assert_true(s3.heap_virtual_size > s2.heap_virtual_size);
    assert_int_equal(s3.heap_cpu_cached, 0);
    kfree(g);
    for (int k = 0; k < PLUGS; k++)
        kfree(plug[k]);
    check_every_layer();
}

/* A class keeps BC_ROUNDS blocks; the next free sends its older half back under the lock. */
static void test_a_full_class_gives_half_back(void **state)
{
    (void)state;
    void *p[BC_ROUNDS + 1];
    for (int i = 0; i <= BC_ROUNDS; i++)
        assert_non_null(p[i] = kmalloc(8192));
    kmem_cache_reap(); /* (the misses' fills: the class empty again) */
    assert_int_equal(stats_now().heap_cpu_cached, 0);
    for (int i = 0; i < BC_ROUNDS; i++)
        kfree(p[i]);
    CHECK();
    assert_int_equal(stats_now().heap_cpu_cached, BC_ROUNDS);
    unsigned long before = host_spin_locks;
    kfree(p[BC_ROUNDS]);
    assert_int_equal(host_spin_locks - before, 1);
    CHECK();
    assert_int_equal(stats_now().heap_cpu_cached, BC_ROUNDS / 2 + 1);
    /* the newest come back first: p[16], then p[15] ... */
    assert_ptr_equal(kmalloc(8192), p[BC_ROUNDS]);
    assert_ptr_equal(kmalloc(8192), p[BC_ROUNDS - 1]);
    check_every_layer();
}

/* A CPU never keeps more than its budget: an eighth of the heap, 256 KB to BC_CPU_BYTES. */
static void test_a_cpu_keeps_at_most_its_bytes(void **state)
{
    (void)state;
    enum { N = 120 };
    static void *p[N];
    for (int i = 0; i < N; i++) /* 24 KB .. 64 KB: every class of the top two doublings */
        assert_non_null(p[i] = kmalloc(24576 + (size_t)i * 340));
    for (int i = 0; i < N; i++) {
        kfree(p[i]);
        memory_stats_t s = stats_now();
        uint32_t budget = bc_budget(heap_quick.blocks);
        assert_true(budget >= BC_CPU_FLOOR && budget <= BC_CPU_BYTES);
        assert_true(budget >= s.heap_virtual_size / BC_SHARE || budget == BC_CPU_BYTES);
        /* (its bytes are the map's: a block may be a header's worth more than its class) */
        if (s.heap_cpu_cached_bytes > budget + BC_ROUNDS * 64)
            fail_msg("after %d frees: %u bytes cached, more than %u", i + 1,
                     s.heap_cpu_cached_bytes, budget);
    }
    assert_true(stats_now().heap_cpu_cached > 0);
    check_every_layer();
}

/* kmem_cache_reap (the PMM's reclaim hook) gives every CPU's blocks back; heap_used as before. */
static void test_reap_drains_every_cpu(void **state)
{
    (void)state;
    kmem_cache_reap();
    memory_stats_t s0 = stats_now();
    for (int cpu = 0; cpu < 4; cpu++) {
        host_forced_cpu_id = cpu;
        void *p[6];
        for (int i = 0; i < 6; i++)
            p[i] = kmalloc(700 + (size_t)i * 9000);
        for (int i = 0; i < 6; i++)
            kfree(p[i]);
    }
    host_forced_cpu_id = 0;
    memory_stats_t s1 = stats_now();
    assert_true(s1.heap_cpu_cached >= 24); /* (and what the misses' fills took) */
    assert_true(s1.heap_used > s0.heap_used);
    CHECK();
    kmem_cache_reap();
    memory_stats_t s2 = stats_now();
    assert_int_equal(s2.heap_cpu_cached, 0);
    assert_int_equal(s2.heap_cpu_cached_bytes, 0);
    assert_int_equal(s2.heap_used, s0.heap_used);
    assert_int_equal(s2.allocation_count - s2.free_count, s0.allocation_count - s0.free_count);
    check_every_layer();
}

/* The PMM dry: a kmalloc that needs the heap to grow gets the blocks other CPUs keep. */
static void test_pressure_takes_the_cached_blocks(void **state)
{
    (void)state;
    enum { N = 40 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = kmalloc(60000));
    kmem_cache_reap(); /* (the misses' fills) */
    host_forced_cpu_id = 2;
    for (int i = 10; i < 14; i++) /* neighbours: room for 200 KB once merged */
        kfree(p[i]);
    host_forced_cpu_id = 0;
    assert_int_equal(stats_now().heap_cpu_cached, 4); /* (4 x 64 KB: within any budget) */
    static paddr_t taken[(32u << 20) / PAGE_SIZE];
    unsigned t = 0;
    pmm_stats_t ps;
    for (pmm_get_stats(&ps); ps.free_pages; pmm_get_stats(&ps))
        assert_int_not_equal(taken[t++] = pmm_alloc_page(), 0);
    /* a size no cached block has: the heap must find room, and only the caches have it */
    void *q = kmalloc(200000);
    assert_non_null(q);
    assert_int_equal(stats_now().heap_cpu_cached, 0);
    kfree(q);
    while (t)
        pmm_free_page(taken[--t]);
    for (int i = 0; i < N; i++)
        if (i < 10 || i >= 14)
            kfree(p[i]);
    check_every_layer();
}

/* heap_check finds a cached block whose mark was lost, and a mark no cache explains. */
static void test_check_finds_a_lost_mark(void **state)
{
    (void)state;
    char *p = kmalloc(3000), *q = kmalloc(3000);
    kfree(p);
    CHECK();
    unsigned bit;
    uint32_t *w = heap_mark_word((uintptr_t)p - HEAP_HEADER_SIZE, &bit);
    assert_non_null(w);
    *w &= ~(1u << bit);
    assert_true(heap_check() > 0);
    *w |= 1u << bit;
    CHECK();
    uint32_t *w2 = heap_mark_word((uintptr_t)q - HEAP_HEADER_SIZE, &bit);
    *w2 |= 1u << bit; /* q marked, in no cache */
    assert_true(heap_check() > 0);
    *w2 &= ~(1u << bit);
    CHECK();
    host_console_clear();
    heap_dump();
    assert_true(host_console_has("cached"));
    kfree(q);
    check_every_layer();
}

/*
 * A free on the shared path claims the block's mark; a free that shrinks the
 * heap past the block's header must let it go first (a mark left in the dropped
 * tail would make a later block there "already free", and heap_check count a
 * mark more than the caches hold).  Laid out so that the shrink ends exactly
 * at the freed block's header:
 *
 *   ... | front (128 KB, freed first) | tail (256 KB, the region's last block) |end
 *
 * kfree(tail) merges it into front; the shrink keeps front's payload and its
 * slack (68 KB), but a free of 256 KB unmaps at most 256 KB: the new end is
 * tail's header.  The caches are off so that sizes are exact; the shared
 * path claims the marks all the same.
 */
static heap_block_t *region_last(void)
{
    return heap_region_last("test", heap_growing_region());
}

static void test_a_shrinking_free_leaves_no_mark(void **state)
{
    (void)state;
    uint32_t e0 = errors_now();
    int was = mm_set_block_cache(0);
    void *fill[4] = {0};
    /* the region's last block allocated, so the next two grow it by exactly their size */
    for (int k = 0; k < 4 && region_last()->is_free; k++) {
        size_t n = region_last()->size;
        assert_non_null(fill[k] = kmalloc(n > 4096 ? n : 8192));
    }
    assert_false(region_last()->is_free);
    char *front = kmalloc(32 * 4096 - HDR), *tail = kmalloc(64 * 4096 - HDR);
    assert_non_null(front);
    assert_non_null(tail);
    heap_region_t *r = heap_growing_region();
    uintptr_t h = (uintptr_t)tail - HDR;
    assert_ptr_equal(h, (uintptr_t)front + 32 * 4096 - HDR); /* adjacent */
    assert_int_equal(h % 4096, 0);
    assert_int_equal(r->end, (uintptr_t)tail + 64 * 4096 - HDR); /* the last block */
    CHECK();
    kfree(front);
    kfree(tail); /* claimed; merged into front; the heap shrinks to h */
    assert_int_equal(r->end, h);
    CHECK();
    assert_false(heap_block_marked(h)); /* (not covered now: reads 0 either way) */
    char *again = kmalloc(64 * 4096 - HDR), *more = kmalloc(64 * 4096 - HDR);
    assert_non_null(again);
    assert_non_null(more);
    assert_true(r->end > h); /* the map covers h again: a mark left there counts */
    CHECK();
    kfree(more);
    kfree(again);
    for (int k = 0; k < 4; k++)
        kfree(fill[k]);
    mm_set_block_cache(was);
    CHECK();
    assert_int_equal(errors_now(), e0);
    check_every_layer();
}

/* -------------------------------------------------------- threads ---- */

struct pair {
    void *p;
    pthread_barrier_t *go;
};

static void *free_it(void *arg)
{
    struct pair *x = arg;
    pthread_barrier_wait(x->go);
    kfree(x->p);
    return NULL;
}

/* Two threads free one block at the same moment: one free, one report, never cached twice. */
static void test_two_threads_free_one_block(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    for (int run = 0; run < 300; run++) {
        size_t n = 600 + (size_t)(run % 30) * 2000;
        void *p = kmalloc(n);
        assert_non_null(p);
        if (run % 3 == 0)
            kfree(kmalloc(n)); /* sometimes a block of its class already cached */
        uint32_t e = errors_now();
        struct pair x = {p, &go};
        pthread_t a, b;
        pthread_create(&a, NULL, free_it, &x);
        pthread_create(&b, NULL, free_it, &x);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        if (errors_now() != e + 1)
            fail_msg("run %d: %zu bytes freed by two threads: %u reports (%s)", run, n,
                     errors_now() - e, mm_last_error());
        CHECK();
        if (run % 50 == 49)
            kmem_cache_reap(); /* back to the heap: each block once, or heap_check says */
    }
    pthread_barrier_destroy(&go);
    kmem_cache_reap();
    check_every_layer();
}

#define T(f) cmocka_unit_test_setup_teardown(f, fresh_as_cpu0, natural_cpu_ids)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_free_then_alloc_on_one_cpu),
        T(test_sizes_round_to_their_class),
        T(test_other_cpus_block_stays_there),
        T(test_double_free_of_a_cached_block),
        T(test_bad_pointers_reported),
        T(test_forged_header_never_cached),
        T(test_a_miss_fills_from_the_free_lists),
        T(test_a_full_class_gives_half_back),
        T(test_a_cpu_keeps_at_most_its_bytes),
        T(test_reap_drains_every_cpu),
        T(test_pressure_takes_the_cached_blocks),
        T(test_check_finds_a_lost_mark),
        T(test_a_shrinking_free_leaves_no_mark),
        T(test_two_threads_free_one_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_review.c - targeted attacks on the block map, the slab metadata and
 * the page owners (review of the session that landed them), both ABIs.
 *
 * Each case forges what a caller's stray write can reach (in-band headers,
 * free-list links in free payloads), then calls the heap.  Expect: no crash,
 * a one-line report, no allocation overlapping a live block, every live
 * block's bytes intact, heap_check() back at 0.
 */
#include "attack.h"
#include "slab.h"

#define MB (1024u * 1024u)

static void phase2(void)
{
    fresh_paging_ram(8 * MB);
    heap_init_virtual();
    /* the heap's own blocks: freed ones straight back to the free lists (test_blockcache.c
       forges the headers of blocks the CPUs keep) */
    mm_set_block_cache(0);
    host_console_clear();
}

/* A case's start: the crash watch on, a fresh heap of that phase (1: early, 2: virtual). */
static void start(int phase)
{
    crash_watch(20);
    if (phase == 2)
        phase2();
    else
        memory_init();
    host_console_clear();
}

/* After a report, heap_check() is back at 0 (else the console says what it found). */
static void assert_healed(void)
{
    if (heap_check() != 0)
        fail_msg("heap_check after the report:\n%s", host_console_text());
}

/* [a, a + n) and [b, b + m) do not meet. */
static void assert_apart(const void *a, size_t n, const void *b, size_t m)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    if (x < y + m && y < x + n)
        fail_msg("%p (+%zu) overlaps the live block %p (+%zu)", a, n, b, m);
}

static int all_bytes(const void *p, size_t n, unsigned char v)
{
    for (size_t k = 0; k < n; k++) {
        if (((const unsigned char *)p)[k] != v)
            return 0;
    }
    return 1;
}

/*
 * A: | hdr A | a | hdr B | b | hdr C | c | ...   (tiny blocks, B live)
 * One stray write forges A's size and next to swallow B, and C's prev to
 * match: a header consistent with its neighbours' links, not with the map.
 * Expect the heap to believe the map: freeing A never frees B's bytes.
 */
static void swallow_next(int phase, int free_a_first)
{
    start(phase);
    size_t n = 600; /* a heap block in both phases */
    char *a = kmalloc(n), *b = kmalloc(n), *c = kmalloc(n);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_ptr_equal(hdr(b), (char *)a + hdr(a)->size);
    assert_ptr_equal(hdr(c), (char *)b + hdr(b)->size);
    memset(b, 0xbb, n);
    if (free_a_first)
        kfree(a);
    heap_block_t *ha = hdr(a);
    ha->size += HDR + hdr(b)->size;
    ha->next = hdr(c);
    hdr(c)->prev = ha;
    if (!free_a_first)
        kfree(a);
    /* whatever the heap now hands out must miss B */
    for (int i = 0; i < 8; i++) {
        size_t want = i % 2 ? n : 2 * n + HDR; /* A's own class, and A's forged size */
        char *p = kmalloc(want);
        if (p) {
            memset(p, 0x11, want);
            assert_apart(p - HDR, want + HDR, b - HDR, n + HDR);
        }
    }
    assert_true(all_bytes(b, n, 0xbb));
    assert_true(host_console_has("its size covers another block"));
    assert_healed();
    kfree(b);
    assert_int_equal(heap_check(), 0);
}

IN_BOTH_PHASES(swallow_next_live, swallow_next, 1, 2, 0)
IN_BOTH_PHASES(swallow_next_free, swallow_next, 1, 2, 1)

/*
 * | hdr A | a (live) | hdr B | b (free) | hdr C | c (live) | hdr D | ...
 * B's size, next and D's prev forged so B swallows C; then krealloc(a)
 * asks for more than A + B really hold.  Expect: not grown over C.
 */
static void realloc_into_forged(int phase, size_t n)
{
    start(phase);
    char *a = kmalloc(n), *b = kmalloc(n), *c = kmalloc(n), *d = kmalloc(n);
    assert_non_null(d);
    memset(a, 0xaa, n);
    memset(c, 0xcc, n);
    kfree(b);
    heap_block_t *hb = hdr(b);
    hb->size += HDR + hdr(c)->size;
    hb->next = hdr(d);
    hdr(d)->prev = hb;
    size_t want = 2 * n + HDR + n / 2; /* reaches into C */
    char *p = krealloc(a, want);
    assert_non_null(p);
    assert_true(all_bytes(p, n, 0xaa));
    assert_apart(p - HDR, want + HDR, c - HDR, n + HDR);
    memset(p, 0x77, want);
    assert_true(all_bytes(c, n, 0xcc));
    assert_healed();
    assert_non_null(strstr(mm_last_error(), "krealloc"));
    kfree(p);
    kfree(c);
    assert_int_equal(heap_check(), 0);
}

IN_BOTH_PHASES(realloc_into_forged, realloc_into_forged, 1, 2, 600)

/*
 * | hdr (slab page, in band) | obj | obj | ... |   the heap block of a slab
 * A stray write zeroes the slab page's heap header; then every object is
 * freed and the caches reaped.  Expect the header rebuilt from the block
 * map, the page back in the heap (no leak), heap_check() at 0.
 */
static void test_slab_page_header_smashed_then_reap(void **state)
{
    start(2);
    kmem_cache_reap();
    memory_stats_t s0 = stats_now();
    enum { N = 40 };
    char *o[N];
    for (int i = 0; i < N; i++)
        assert_non_null(o[i] = kmalloc(64));
    char *page = (char *)((uintptr_t)o[0] & ~(uintptr_t)(PAGE_SIZE - 1));
    assert_int_equal(heap_check(), 0);
    memset(page, 0, HDR); /* the slab page's heap_block_t */
    for (int i = 0; i < N; i++)
        kfree(o[i]);
    kmem_cache_reap();
    assert_healed();
    memory_stats_t s1 = stats_now();
    assert_int_equal(s1.heap_used, s0.heap_used);
    assert_true(s1.error_count > s0.error_count); /* the smashed header was reported */
    assert_non_null(strstr(mm_last_error(), "kmem_cache_reap: "));
    assert_non_null(strstr(mm_last_error(), "header of the slab page smashed"));
    /* the page is a heap page again: a block can be had there */
    assert_int_equal(kmem_cache_check(), 0);
}

/*
 * Every public function with wild, interior, odd, stale pointers and sizes
 * at the edges, in Phase 2.  Expect NULL or a report, no crash, heap_check 0.
 */
static void test_edges_phase2(void **state)
{
    start(2);
    char *p = kmalloc(1000), *q = kmalloc(64);
    assert_non_null(p);
    assert_non_null(q);
    assert_null(kmalloc(SIZE_MAX));
    assert_null(kmalloc((size_t)UINT32_MAX));
    assert_null(kmalloc((size_t)0x7FFFFFF1u));
    assert_null(kcalloc((size_t)UINT32_MAX, 2));
    assert_null(kmalloc_aligned(16, (size_t)1 << 30));
    assert_null(kmalloc_aligned(SIZE_MAX - 4096, 4096));
    assert_null(kmalloc_aligned(16, 3));
    assert_null(krealloc(p, SIZE_MAX));
    assert_non_null(p = krealloc(p, 1000));
    kfree(p + 1);
    kfree(p + 8);
    kfree(q + 1);
    kfree(q + 8);
    assert_int_equal(kmalloc_usable_size(p + 1), 0);
    kmem_cache_t *c = kmem_cache_create("t", 40, 0, NULL);
    assert_non_null(c);
    void *o = kmem_cache_alloc(c);
    assert_non_null(o);
    kmem_cache_free((kmem_cache_t *)((char *)c + 4), o);
    assert_null(kmem_cache_alloc((kmem_cache_t *)((char *)c + 1)));
    kmem_cache_free(c, o);
    kmem_cache_free(c, o);
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_int_equal(kmem_cache_destroy(c), -1);
    assert_null(kmem_cache_alloc(c));
    kfree(c);
    kfree(p);
    kfree(q);
    kfree(q);
    if (heap_check() != 0 || kmem_cache_check() != 0)
        fail_msg("check after the reports:\n%s", host_console_text());
}

/* memory_init again with objects live: their stale pointers are reported, not followed. */
static void test_memory_init_again_phase2(void **state)
{
    start(2);
    char *big = kmalloc(5000), *small = kmalloc(48);
    assert_non_null(big);
    assert_non_null(small);
    memory_init();
    host_console_clear();
    kfree(big);
    kfree(small);
    assert_int_equal(kmalloc_usable_size(big), 0);
    assert_int_equal(heap_check(), 0);
    heap_init_virtual();
    char *n = kmalloc(5000);
    assert_non_null(n);
    kfree(big); /* the same address may be live again: either freed once or reported */
    kfree(small);
    assert_int_equal(heap_check(), 0);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(vmm_check(), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, crash_watch_off)
    const struct CMUnitTest tests[] = {
        T(test_swallow_next_live_phase1),           T(test_swallow_next_live_phase2),
        T(test_swallow_next_free_phase1),           T(test_swallow_next_free_phase2),
        T(test_realloc_into_forged_phase1),         T(test_realloc_into_forged_phase2),
        T(test_slab_page_header_smashed_then_reap), T(test_edges_phase2),
        T(test_memory_init_again_phase2),
    };
    return cmocka_run_group_tests_name("review", tests, NULL, NULL);
}

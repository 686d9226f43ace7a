/*
 * test_heap.c - every Phase 1 statement of the spec about kmalloc, kfree,
 * kcalloc, krealloc, get_memory_stats and heap_dump, plus the misuse cases.
 * Each test starts from a fresh heap; heap_check() runs after every operation.
 */
#include <sys/mman.h>

#include "harness.h"

/* the smallest payload: room for two free-list links */
#define MIN_PAYLOAD_T ALIGN_8(2 * sizeof(void *))

/* memory_init: one free block covering the spec's 64 KB at HEAP_START. */
static void test_init_gives_one_64k_block(void **state)
{
    memory_stats_t s = stats_now();
    assert_int_equal(s.heap_size, INITIAL_HEAP_SIZE);
    assert_int_equal(s.heap_used, 0);
    assert_int_equal(s.heap_free, INITIAL_HEAP_SIZE - HDR);
    assert_int_equal(s.largest_free_block, INITIAL_HEAP_SIZE - HDR);
    assert_int_equal(s.allocation_count, 0);
    assert_int_equal(s.free_count, 0);
    assert_int_equal(s.block_count, 1);
    assert_int_equal(s.free_block_count, 1);
    assert_int_equal(s.error_count, 0);
    CHECK_HEAP();
}

/* The spec's header is 32 bytes on i386 and sits right before the payload. */
static void test_header_is_32_bytes_on_i386(void **state)
{
    if (sizeof(void *) == 4)
        assert_int_equal(HDR, 32);
    assert_int_equal(HDR % HEAP_ALIGN, 0);
    char *a = t_kmalloc(1);
    assert_ptr_equal(a, (char *)HEAP_BASE + HDR);
    heap_block_t *b = (heap_block_t *)(a - HDR);
    assert_int_equal(b->magic, HEAP_MAGIC_ALLOC);
    assert_int_equal(b->is_free, 0);
}

/* The heap lives at HEAP_START (5 MB) of (simulated) physical memory. */
static void test_heap_is_at_heap_start(void **state)
{
    uintptr_t p = (uintptr_t)t_kmalloc(100);
    assert_true(p >= HEAP_BASE && p < HEAP_END);
    assert_int_equal(HEAP_START, 0x500000);
    assert_int_equal(INITIAL_HEAP_SIZE, 64 * 1024);
}

/* kmalloc(0) returns NULL and changes nothing. */
static void test_kmalloc_zero_returns_null(void **state)
{
    assert_null(t_kmalloc(0));
    memory_stats_t s = stats_now();
    assert_int_equal(s.allocation_count, 0);
    assert_int_equal(s.error_count, 0);
}

/* All allocations are 8-byte aligned, whatever the size. */
static void test_alignment_is_8(void **state)
{
    for (size_t n = 1; n <= 200; n++) {
        void *p = t_kmalloc(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % HEAP_ALIGN, 0);
        assert_true(kmalloc_usable_size(p) >= ALIGN_8(n)); /* the spec's rounding */
    }
}

/* Every payload is HEAP_BLOCK_ALIGN-aligned (16 on x86_64, where max_align_t wants it). */
static void test_every_block_aligned(void **state)
{
    _Static_assert(HEAP_BLOCK_ALIGN >= _Alignof(max_align_t) || sizeof(void *) == 4,
                   "x86_64 blocks must suit every type");
    void *p[40];
    for (int i = 0; i < 40; i++) {
        p[i] = t_kmalloc(1 + (size_t)i * 37);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % HEAP_BLOCK_ALIGN, 0);
    }
    for (int i = 0; i < 40; i += 2)
        t_kfree(p[i]);
    for (int i = 0; i < 20; i++) {
        void *q = t_kmalloc(1 + (size_t)i * 11);
        assert_int_equal((uintptr_t)q % HEAP_BLOCK_ALIGN, 0);
    }
}

/* Each allocation costs its size rounded to 8 (16 on x86_64) plus one header (32 bytes on i386). */
static void test_overhead_is_one_header(void **state)
{
    char *a = t_kmalloc(24);
    char *b = t_kmalloc(13);
    char *c = t_kmalloc(8);
    assert_int_equal(b - a, BLOCK_SIZE(24) + HDR);
    assert_int_equal(c - b, BLOCK_SIZE(13) + HDR);
    assert_stats_balance();
}

/* Blocks never overlap and hold what was written into them. */
static void test_blocks_hold_their_data(void **state)
{
    unsigned char *p[32];
    for (int i = 0; i < 32; i++) {
        p[i] = t_kmalloc(100 + i);
        memset(p[i], i, 100 + i);
    }
    for (int i = 0; i < 32; i++) {
        for (int j = 0; j < 100 + i; j++)
            assert_int_equal(p[i][j], i);
    }
}

/*
 * Coalescing:  | a | b | c | rest |  free a, free c, free b
 * Expect one free block again (a+b+c+rest), whatever the order.
 */
static void test_kfree_coalesces_both_sides(void **state)
{
    void *a = t_kmalloc(100), *b = t_kmalloc(200), *c = t_kmalloc(300);
    t_kfree(a);
    t_kfree(c);
    assert_int_equal(stats_now().free_block_count, 2); /* a, and c merged with rest */
    t_kfree(b);
    memory_stats_t s = stats_now();
    assert_int_equal(s.block_count, 1);
    assert_int_equal(s.heap_free, INITIAL_HEAP_SIZE - HDR);
    assert_int_equal(s.free_count, 3);
}

/* Best fit: a request goes to the smallest free block that holds it. */
static void test_best_fit_placement(void **state)
{
    void *big = t_kmalloc(512), *sep1 = t_kmalloc(8);
    void *small = t_kmalloc(64), *sep2 = t_kmalloc(8);
    t_kfree(big);
    t_kfree(small);
    assert_ptr_equal(t_kmalloc(64), small);
    assert_ptr_equal(t_kmalloc(500), big);
    (void)sep1, (void)sep2;
}

/* kfree(NULL) does nothing and reports nothing. */
static void test_kfree_null_is_noop(void **state)
{
    memory_stats_t before = stats_now();
    t_kfree(NULL);
    memory_stats_t after = stats_now();
    assert_memory_equal(&before, &after, sizeof(before));
    assert_string_equal(mm_last_error(), "");
}

/* Double free: detected by the magic number, reported, survived. */
static void test_double_free_detected(void **state)
{
    void *a = t_kmalloc(64), *b = t_kmalloc(64);
    t_kfree(a);
    t_kfree(a);
    assert_reported("kfree", a, "double free");
    assert_int_equal(stats_now().error_count, 1);
    assert_int_equal(stats_now().free_count, 1);
    t_kfree(b);
    assert_int_equal(stats_now().block_count, 1);
    assert_non_null(t_kmalloc(1000));
}

/* Double free of a block already merged into its free neighbour. */
static void test_double_free_after_coalescing(void **state)
{
    void *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    t_kfree(a);
    t_kfree(b); /* b merges into a */
    t_kfree(b);
    assert_reported("kfree", b, "double free");
    assert_int_equal(stats_now().error_count, 1);
    t_kfree(c);
    assert_int_equal(stats_now().block_count, 1);
}

/* Wild pointers (stack, low addresses, just past the heap): outside the heap. */
static void test_wild_pointer_rejected(void **state)
{
    int local;
    void *wild[] = {&local, (void *)0x1234, (void *)HEAP_END, (void *)(HEAP_BASE - 8)};
    void *a = t_kmalloc(32);
    for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
        t_kfree(wild[i]);
        assert_reported("kfree", wild[i], "outside the heap");
    }
    assert_int_equal(stats_now().error_count, 4);
    assert_int_equal(stats_now().free_count, 0);
    t_kfree(a);
    assert_int_equal(stats_now().free_count, 1);
}

/* Interior pointers (aligned or not, or into a header) are named, not freed. */
static void test_interior_pointer_rejected(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64);
    memset(a, 0, 64);
    t_kfree(a + 8);
    assert_reported("kfree", a + 8, "interior pointer");
    t_kfree(a + 3);
    assert_reported("kfree", a + 3, "interior pointer");
    t_kfree(b - 8);
    assert_reported("kfree", b - 8, "header");
    t_kfree((char *)HEAP_BASE + 4); /* inside the very first header */
    assert_reported("kfree", (char *)HEAP_BASE + 4, "header");
    assert_int_equal(stats_now().error_count, 4);
    assert_int_equal(stats_now().free_count, 0);
    t_kfree(a);
    t_kfree(b);
    assert_int_equal(stats_now().block_count, 1);
}

/*
 * Overflow by a header's worth:  | a | hdr(b) smashed | b | c |
 * Expect kfree(b) to report the smashed header, rebuild it from its
 * neighbours and free b; the heap is whole afterwards.
 */
static void test_smashed_header_detected_and_rebuilt(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    memset(a, 0x41, 64 + HDR);
    assert_int_not_equal(heap_check(), 0); /* the checker sees it */
    kfree(b);
    assert_reported("kfree", b, "smashed");
    CHECK_HEAP();
    assert_int_equal(stats_now().free_count, 1);
    t_kfree(a);
    t_kfree(c);
    assert_int_equal(stats_now().block_count, 1);
    assert_int_equal(stats_now().heap_free, INITIAL_HEAP_SIZE - HDR);
}

/* The same overflow, found when the overflowing block itself is freed. */
static void test_smashed_next_header_found_from_before(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    memset(a, 0x41, 64 + 4); /* just b's magic */
    kfree(a);
    assert_reported("kfree", a, "smashed");
    CHECK_HEAP();
    t_kfree(b);
    t_kfree(c);
    assert_int_equal(stats_now().block_count, 1);
}

/* Overflow by one byte past a block whose size is a multiple of 8: b's magic. */
static void test_one_byte_overflow_detected(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64);
    a[64] = 0;
    kfree(b);
    assert_reported("kfree", b, "smashed");
    CHECK_HEAP();
    t_kfree(a);
    assert_int_equal(stats_now().block_count, 1);
}

/* A header smashed into something unrecognisable is refused, never trusted. */
static void test_corrupted_header_refused(void **state)
{
    char *a = t_kmalloc(64);
    t_kmalloc(64);
    heap_block_t *h = (heap_block_t *)(a - HDR);
    h->size = 12345; /* magic intact, size wrong */
    kfree(a);
    /* reported, and put right from the out-of-band block map: the free goes on */
    assert_reported("kfree", a, "block header smashed");
    assert_non_null(strstr(mm_last_error(), "rebuilt from the block map"));
    assert_int_equal(stats_now().free_count, 1);
    assert_int_equal(h->size, 64);
    CHECK_HEAP();
}

/*
 * Exhaustion: fill the 64 KB heap with small blocks until kmalloc fails,
 * free them all, and get one 64 KB-minus-header block back.
 */
static void test_exhaustion_then_full_recovery(void **state)
{
    enum { MAX = INITIAL_HEAP_SIZE / (HDR + 16) + 1 };
    static void *p[MAX];
    int n = 0;
    while ((p[n] = t_kmalloc(16)) != NULL)
        n++;
    assert_in_range(n, INITIAL_HEAP_SIZE / (HDR + 16 + 16), MAX - 1);
    assert_true(host_console_has("out of memory"));
    assert_true(stats_now().largest_free_block < 16);
    for (int i = 0; i < n; i += 2)
        t_kfree(p[i]);
    for (int i = 1; i < n; i += 2)
        t_kfree(p[i]);
    memory_stats_t s = stats_now();
    assert_int_equal(s.block_count, 1);
    assert_int_equal(s.heap_free, INITIAL_HEAP_SIZE - HDR);
    /* the last block may keep a tail too small to split off */
    assert_in_range(s.peak_heap_used, (uint32_t)n * 16, (uint32_t)n * 16 + HDR + 16);
    void *all = t_kmalloc(INITIAL_HEAP_SIZE - HDR);
    assert_ptr_equal(all, (char *)HEAP_BASE + HDR);
    t_kfree(all);
    assert_null(t_kmalloc(INITIAL_HEAP_SIZE - HDR + 1));
}

/* Requests larger than the heap, or absurd, fail cleanly. */
static void test_huge_requests_fail(void **state)
{
    assert_null(t_kmalloc(INITIAL_HEAP_SIZE));
    assert_null(t_kmalloc(SIZE_MAX));
    assert_null(t_kmalloc(SIZE_MAX - 3));
    assert_int_equal(stats_now().heap_used, 0);
    assert_non_null(t_kmalloc(100));
}

/* kcalloc returns zeroed memory, even where the heap held data before. */
static void test_kcalloc_zeroes(void **state)
{
    unsigned char *dirty = t_kmalloc(4000);
    memset(dirty, 0xAB, 4000);
    t_kfree(dirty);
    unsigned char *z = t_kcalloc(100, 40);
    assert_ptr_equal(z, dirty);
    for (int i = 0; i < 4000; i++)
        assert_int_equal(z[i], 0);
    assert_null(t_kcalloc(0, 16));
    assert_null(t_kcalloc(16, 0));
}

/* kcalloc: count * size overflow returns NULL with a report. */
static void test_kcalloc_overflow(void **state)
{
    assert_null(t_kcalloc(SIZE_MAX / 2, 3));
    assert_true(strstr(mm_last_error(), "kcalloc") && strstr(mm_last_error(), "overflow"));
    assert_null(t_kcalloc((size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4)));
    assert_int_equal(stats_now().heap_used, 0);
    assert_int_equal(stats_now().error_count, 2);
}

/* krealloc(NULL, n) is kmalloc(n); krealloc(p, 0) frees p and returns NULL. */
static void test_krealloc_null_and_zero(void **state)
{
    void *p = t_krealloc(NULL, 100);
    assert_non_null(p);
    assert_int_equal(stats_now().allocation_count, 1);
    assert_null(t_krealloc(p, 0));
    assert_int_equal(stats_now().free_count, 1);
    assert_int_equal(stats_now().heap_used, 0);
}

/* Shrinking happens in place and gives the tail back. */
static void test_krealloc_shrinks_in_place(void **state)
{
    char *p = t_kmalloc(1000);
    t_kmalloc(8); /* keep p from being the last block */
    memset(p, 7, 1000);
    uint32_t free_before = stats_now().heap_free;
    assert_ptr_equal(t_krealloc(p, 100), p);
    assert_int_equal(stats_now().heap_free, free_before + 1000 - ALIGN_8(100) - HDR);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 7);
    assert_stats_balance();
}

/* Growing into a free next neighbour happens in place. */
static void test_krealloc_grows_in_place(void **state)
{
    char *p = t_kmalloc(100);
    char *n = t_kmalloc(400);
    t_kmalloc(8);
    memset(p, 9, 100);
    t_kfree(n);
    assert_ptr_equal(t_krealloc(p, 300), p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 9);
    assert_ptr_equal(t_krealloc(p, 100 + 400 + HDR), p); /* the whole neighbour */
    assert_int_equal(stats_now().allocation_count, 3);
}

/* When the neighbour is taken, krealloc moves the data and frees the old block. */
static void test_krealloc_moves_when_needed(void **state)
{
    char *p = t_kmalloc(100);
    t_kmalloc(8);
    for (int i = 0; i < 100; i++)
        p[i] = (char)i;
    char *q = t_krealloc(p, 5000);
    assert_non_null(q);
    assert_ptr_not_equal(q, p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(q[i], (char)i);
    assert_int_equal(stats_now().free_count, 1);
    t_kfree(p);
    assert_reported("kfree", p, "double free");
}

/* A failed krealloc leaves the original block untouched and valid. */
static void test_krealloc_failure_keeps_block(void **state)
{
    char *p = t_kmalloc(100);
    memset(p, 5, 100);
    assert_null(t_krealloc(p, INITIAL_HEAP_SIZE));
    assert_null(t_krealloc(p, SIZE_MAX));
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 5);
    assert_int_equal(stats_now().heap_used, BLOCK_SIZE(100));
    t_kfree(p);
    assert_int_equal(stats_now().error_count, 0);
}

/* krealloc of a freed or wild pointer is reported and returns NULL. */
static void test_krealloc_misuse(void **state)
{
    char *p = t_kmalloc(100);
    t_kfree(p);
    assert_null(t_krealloc(p, 200));
    assert_reported("krealloc", p, "double free");
    int local;
    assert_null(t_krealloc(&local, 200));
    assert_reported("krealloc", &local, "outside the heap");
}

/* get_memory_stats: the spec's figures plus largest free block and peak. */
static void test_stats_track_operations(void **state)
{
    void *a = t_kmalloc(1024), *b = t_kmalloc(2048);
    memory_stats_t s = stats_now();
    assert_int_equal(s.heap_used, 3072);
    assert_int_equal(s.allocation_count, 2);
    assert_int_equal(s.block_count, 3);
    assert_int_equal(s.heap_free, INITIAL_HEAP_SIZE - 3 * HDR - 3072);
    assert_int_equal(s.largest_free_block, s.heap_free);
    t_kfree(a);
    s = stats_now();
    assert_int_equal(s.heap_used, 2048);
    assert_int_equal(s.peak_heap_used, 3072);
    assert_int_equal(s.free_count, 1);
    assert_int_equal(s.free_block_count, 2);
    assert_int_equal(s.largest_free_block, INITIAL_HEAP_SIZE - 3 * HDR - 3072);
    assert_stats_balance();
    t_kfree(b);
}

/* get_memory_stats(NULL) is a reported caller bug, not a crash. */
static void test_stats_null(void **state)
{
    get_memory_stats(NULL);
    assert_true(strstr(mm_last_error(), "get_memory_stats") != NULL);
}

/* heap_dump lists every block with its address, size and state. */
static void test_heap_dump_lists_blocks(void **state)
{
    char *a = t_kmalloc(48);
    char *b = t_kmalloc(80);
    t_kfree(a);
    host_console_clear();
    heap_dump();
    char line[64];
    snprintf(line, sizeof(line), "0x%0*lx  %8u  free", (int)(2 * sizeof(void *)),
             (unsigned long)(uintptr_t)a, 48u);
    assert_true(host_console_has(line));
    snprintf(line, sizeof(line), "0x%0*lx  %8u  ALLOC", (int)(2 * sizeof(void *)),
             (unsigned long)(uintptr_t)b, 80u);
    assert_true(host_console_has(line));
    assert_true(host_console_has("1 allocations") == 0);
    assert_true(host_console_has("2 allocations, 1 frees"));
}

/* heap_check finds a broken invariant and says where. */
static void test_heap_check_finds_corruption(void **state)
{
    char *a = t_kmalloc(64);
    heap_block_t *h = (heap_block_t *)(a - HDR);
    h->is_free = 1;
    host_console_clear();
    assert_true(heap_check() >= 1);
    assert_true(host_console_has("heap_check") && host_console_has("is_free disagrees"));
    h->is_free = 0;
    h->magic = 0x12345678;
    assert_true(heap_check() >= 1);
    h->magic = HEAP_MAGIC_ALLOC;
    CHECK_HEAP();
}

/* A last block whose next link points at the end of the region is caught, not followed. */
static void test_heap_check_never_walks_past_the_region(void **state)
{
    char *a = t_kmalloc(64);
    heap_block_t *rest = (heap_block_t *)(a + 64);
    assert_null(rest->next);
    rest->next = (heap_block_t *)HEAP_END;
    /* reading a header at HEAP_END would now fault instead of reading zeros */
    assert_int_equal(mprotect((void *)HEAP_END, 4096, PROT_NONE), 0);
    int broken = heap_check();
    assert_int_equal(mprotect((void *)HEAP_END, 4096, PROT_READ | PROT_WRITE), 0);
    assert_true(broken >= 1);
    assert_true(host_console_has("next link does not match"));
    rest->next = NULL;
    CHECK_HEAP();
}

/* kmalloc_aligned: every power of two, the memory usable, plain kfree frees it. */
static void test_kmalloc_aligned(void **state)
{
    void *keep[64];
    int n = 0;
    for (size_t align = 1; align <= 8192; align <<= 1) {
        for (size_t size = 1; size <= 600; size += 199) {
            unsigned char *p = kmalloc_aligned(size, align);
            CHECK_HEAP();
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % (align < 8 ? 8 : align), 0);
            assert_true(kmalloc_usable_size(p) >= size);
            memset(p, 0xA5, kmalloc_usable_size(p));
            if (n < 64 && (size & 1))
                keep[n++] = p;
            else
                t_kfree(p);
        }
    }
    assert_stats_balance();
    for (int i = 0; i < n; i++)
        t_kfree(keep[i]);
    memory_stats_t s = stats_now();
    assert_int_equal(s.block_count, 1);
    assert_int_equal(s.heap_used, 0);
    assert_int_equal(s.error_count, 0);
    assert_true(s.peak_heap_used < 16 * 1024); /* the over-allocation is not counted */
}

static void test_kmalloc_aligned_bad_input(void **state)
{
    assert_null(kmalloc_aligned(100, 24));
    assert_true(strstr(mm_last_error(), "not a power of two"));
    assert_null(kmalloc_aligned(100, 0));
    assert_null(kmalloc_aligned(SIZE_MAX, 16));
    assert_null(kmalloc_aligned(100, (size_t)1 << (sizeof(size_t) * 8 - 1)));
    assert_null(kmalloc_aligned(0, 16));
    assert_null(kmalloc_aligned(60000, 8192)); /* cannot fit in 64 KB */
    CHECK_HEAP();
    assert_int_equal(stats_now().heap_used, 0);
    assert_int_equal(kmalloc_usable_size(NULL), 0);
    int local;
    assert_int_equal(kmalloc_usable_size(&local), 0);
    assert_reported("kmalloc_usable_size", &local, "outside the heap");
    char *p = t_kmalloc(10);
    assert_int_equal(kmalloc_usable_size(p), 16 > MIN_PAYLOAD_T ? 16 : MIN_PAYLOAD_T);
}

/* memory_init starts over: everything before it is forgotten. */
static void test_memory_init_resets(void **state)
{
    t_kmalloc(100);
    t_kfree((void *)0x10);
    memory_init();
    memory_stats_t s = stats_now();
    assert_int_equal(s.heap_used, 0);
    assert_int_equal(s.error_count, 0);
    assert_int_equal(s.block_count, 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh_heap)
    const struct CMUnitTest tests[] = {
        T(test_init_gives_one_64k_block),
        T(test_header_is_32_bytes_on_i386),
        T(test_heap_is_at_heap_start),
        T(test_kmalloc_zero_returns_null),
        T(test_alignment_is_8),
        T(test_overhead_is_one_header),
        T(test_every_block_aligned),
        T(test_blocks_hold_their_data),
        T(test_kfree_coalesces_both_sides),
        T(test_best_fit_placement),
        T(test_kfree_null_is_noop),
        T(test_double_free_detected),
        T(test_double_free_after_coalescing),
        T(test_wild_pointer_rejected),
        T(test_interior_pointer_rejected),
        T(test_smashed_header_detected_and_rebuilt),
        T(test_smashed_next_header_found_from_before),
        T(test_one_byte_overflow_detected),
        T(test_corrupted_header_refused),
        T(test_exhaustion_then_full_recovery),
        T(test_huge_requests_fail),
        T(test_kcalloc_zeroes),
        T(test_kcalloc_overflow),
        T(test_krealloc_null_and_zero),
        T(test_krealloc_shrinks_in_place),
        T(test_krealloc_grows_in_place),
        T(test_krealloc_moves_when_needed),
        T(test_krealloc_failure_keeps_block),
        T(test_krealloc_misuse),
        T(test_stats_track_operations),
        T(test_stats_null),
        T(test_heap_dump_lists_blocks),
        T(test_heap_check_finds_corruption),
        T(test_heap_check_never_walks_past_the_region),
        T(test_kmalloc_aligned),
        T(test_kmalloc_aligned_bad_input),
        T(test_memory_init_resets),
    };
    return cmocka_run_group_tests_name("heap", tests, NULL, NULL);
}

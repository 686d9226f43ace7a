/*
 * test_heap.c (kernel) - the spec's Phase 1 heap promises and the misuse
 * cases, on the real 64 KB heap at physical 0x500000.  The host suite
 * (tests/host/test_heap.c) covers the same ground in more depth.
 */
#include "ktest.h"

#define HDR HEAP_HEADER_SIZE

static memory_stats_t stats(void)
{
    memory_stats_t s;
    get_memory_stats(&s);
    return s;
}

/* The heap is where the spec puts it, with the spec's 32-byte header. */
static void heap_at_5mb_with_32_byte_headers(void)
{
    KT_ASSERT(HDR == 32);
    char *a = kmalloc(24), *b = kmalloc(1);
    KT_ASSERT((uintptr_t)a == HEAP_START + HDR);
    KT_ASSERT(b - a == 24 + HDR);
    KT_ASSERT(((heap_block_t *)(a - HDR))->magic == HEAP_MAGIC_ALLOC);
    KT_ASSERT(stats().heap_size == INITIAL_HEAP_SIZE);
    KT_CHECK_HEAP();
}

static void kmalloc_zero_is_null_and_alignment_is_8(void)
{
    KT_ASSERT(kmalloc(0) == NULL);
    for (size_t n = 1; n < 100; n++) {
        void *p = kmalloc(n);
        KT_ASSERT(p && (uintptr_t)p % 8 == 0);
        KT_CHECK_HEAP();
    }
}

/*  | a | b | c | rest |  free a, c, b: one free block again. */
static void kfree_coalesces(void)
{
    void *a = kmalloc(100), *b = kmalloc(200), *c = kmalloc(300);
    kfree(a);
    KT_CHECK_HEAP();
    kfree(c);
    KT_CHECK_HEAP();
    KT_ASSERT(stats().free_block_count == 2);
    kfree(b);
    KT_CHECK_HEAP();
    KT_ASSERT(stats().block_count == 1);
    KT_ASSERT(stats().heap_free == INITIAL_HEAP_SIZE - HDR);
}

static void kcalloc_zeroes_and_refuses_overflow(void)
{
    unsigned char *d = kmalloc(2000);
    memset(d, 0xEE, 2000);
    kfree(d);
    unsigned char *z = kcalloc(50, 40);
    KT_ASSERT(z == d);
    for (int i = 0; i < 2000; i++)
        KT_ASSERT(z[i] == 0);
    KT_ASSERT(kcalloc(0x80000000u, 2) == NULL);
    KT_REPORTED("kcalloc", "overflow");
    KT_ASSERT(kcalloc(0x10000u, 0x10001u) == NULL);
    KT_CHECK_HEAP();
}

static void krealloc_semantics(void)
{
    char *p = krealloc(NULL, 100);
    KT_ASSERT(p != NULL);
    for (int i = 0; i < 100; i++)
        p[i] = (char)i;
    char *keep = kmalloc(8);
    KT_ASSERT(krealloc(p, 40) == p); /* shrink in place */
    char *q = krealloc(p, 3000);     /* neighbour taken: moves */
    KT_ASSERT(q && q != p);
    for (int i = 0; i < 40; i++)
        KT_ASSERT(q[i] == (char)i);
    KT_ASSERT(krealloc(q, 70000) == NULL); /* fails: q untouched */
    KT_ASSERT(q[39] == 39);
    kfree(keep);
    KT_ASSERT(krealloc(q, 0) == NULL);
    KT_ASSERT(stats().heap_used == 0);
    KT_CHECK_HEAP();
}

static void double_free_detected(void)
{
    void *a = kmalloc(64);
    kfree(a);
    kfree(a);
    KT_REPORTED("kfree", "double free");
    KT_ASSERT(stats().error_count == 1 && stats().free_count == 1);
    KT_CHECK_HEAP();
    KT_ASSERT(kmalloc(1000) != NULL);
}

static void wild_pointer_rejected(void)
{
    int local;
    kfree(&local);
    KT_REPORTED("kfree", "outside the heap");
    kfree((void *)0xB8000); /* VGA memory */
    KT_REPORTED("kfree", "outside the heap");
    kfree((void *)(HEAP_START + INITIAL_HEAP_SIZE));
    KT_REPORTED("kfree", "outside the heap");
    KT_ASSERT(stats().error_count == 3 && stats().free_count == 0);
    KT_CHECK_HEAP();
}

static void interior_pointer_rejected(void)
{
    char *a = kmalloc(64), *b = kmalloc(64);
    memset(a, 0, 64);
    kfree(a + 16);
    KT_REPORTED("kfree", "interior pointer");
    kfree(a + 5);
    KT_REPORTED("kfree", "interior pointer");
    kfree(b - 4);
    KT_REPORTED("kfree", "header");
    KT_ASSERT(stats().free_count == 0);
    kfree(a);
    kfree(b);
    KT_ASSERT(stats().block_count == 1);
    KT_CHECK_HEAP();
}

/* A header's worth of overflow from a smashes b's header: reported, rebuilt, freed. */
static void smashed_header_detected(void)
{
    char *a = kmalloc(64), *b = kmalloc(64), *c = kmalloc(64);
    memset(a, 0x41, 64 + HDR);
    KT_ASSERT(heap_check() > 0);
    kfree(b);
    KT_REPORTED("kfree", "smashed");
    KT_CHECK_HEAP();
    kfree(a);
    kfree(c);
    KT_ASSERT(stats().block_count == 1);
    KT_CHECK_HEAP();
}

/* Fill the 64 KB heap, free everything, get one 64 KB-minus-header block back. */
static void exhaustion_then_recovery(void)
{
    static void *p[INITIAL_HEAP_SIZE / (HDR + 16) + 1];
    int n = 0;
    while ((p[n] = kmalloc(16)) != NULL)
        n++;
    KT_ASSERT(n > 1000);
    KT_ASSERT(stats().largest_free_block < 16);
    KT_CHECK_HEAP();
    for (int i = n - 1; i >= 0; i--)
        kfree(p[i]);
    KT_CHECK_HEAP();
    KT_ASSERT(stats().block_count == 1);
    KT_ASSERT(stats().heap_free == INITIAL_HEAP_SIZE - HDR);
    void *all = kmalloc(INITIAL_HEAP_SIZE - HDR);
    KT_ASSERT(all == (void *)(HEAP_START + HDR));
    kfree(all);
    KT_ASSERT(stats().error_count == 0);
}

static void stats_and_dump(void)
{
    void *a = kmalloc(1000), *b = kmalloc(2000);
    memory_stats_t s = stats();
    KT_ASSERT(s.heap_used == 3000 && s.allocation_count == 2 && s.block_count == 3);
    KT_ASSERT(s.heap_size == s.heap_used + s.heap_free + s.block_count * HDR);
    kfree(a);
    s = stats();
    KT_ASSERT(s.peak_heap_used == 3000 && s.heap_used == 2000 && s.free_count == 1);
    heap_dump();
    kfree(b);
    KT_CHECK_HEAP();
}

const struct ktest ktest_heap[] = {
    {"heap: at 5 MB with 32-byte headers", heap_at_5mb_with_32_byte_headers},
    {"heap: kmalloc(0) is NULL, alignment 8", kmalloc_zero_is_null_and_alignment_is_8},
    {"heap: kfree coalesces both sides", kfree_coalesces},
    {"heap: kcalloc zeroes, refuses overflow", kcalloc_zeroes_and_refuses_overflow},
    {"heap: krealloc semantics", krealloc_semantics},
    {"misuse: double free", double_free_detected},
    {"misuse: wild pointer", wild_pointer_rejected},
    {"misuse: interior pointer", interior_pointer_rejected},
    {"misuse: header smashed by overflow", smashed_header_detected},
    {"heap: exhaustion then full recovery", exhaustion_then_recovery},
    {"heap: stats and dump", stats_and_dump},
    {NULL, NULL},
};

/*
 * test_bugclass.c (kernel) - one case per class of caller bug on the live
 * Phase 2 heap, as tests/host/test_bugclass.c does on the host (the guard
 * page hit, with a real fault, is in test_vmalloc.c).  Each case commits the
 * bug, checks the report (bug and address) and that the heap goes on.
 */
#include "ktest.h"
#include "log.h"
#include "slab.h"
#include "vmalloc.h"
#include "vmm.h"

/* The heap goes on: random work with every byte checked, then a clean heap_check. */
static int heap_usable(void)
{
    enum { N = 32 };
    static char *p[N];
    static uint32_t n[N];
    uint32_t rng = 99;
    for (int op = 0; op < 300; op++) {
        int i = (int)rng_below(&rng, N);
        if (p[i]) {
            for (uint32_t k = 0; k < n[i]; k++) {
                if ((uint8_t)p[i][k] != (uint8_t)(i ^ k))
                    return 0;
            }
            kfree(p[i]);
        }
        n[i] = 1 + rng_below(&rng, 3000);
        if (!(p[i] = kmalloc(n[i])))
            return 0;
        for (uint32_t k = 0; k < n[i]; k++)
            p[i][k] = (char)(i ^ k);
    }
    for (int i = 0; i < N; i++) {
        kfree(p[i]);
        p[i] = NULL;
    }
    return heap_check() == 0;
}

static void double_frees(void)
{
    char *s = kmalloc(24), *l = kmalloc(2000);
    kfree(s);
    kfree(s);
    KT_REPORTED("kfree", "double free");
    kfree(l);
    kfree(l);
    KT_REPORTED("kfree", "double free");
    kmem_cache_t *c = kmem_cache_create("kt-pool", 40, 0, NULL);
    void *o = kmem_cache_alloc(c);
    kmem_cache_free(c, o);
    kmem_cache_free(c, o);
    KT_REPORTED("kmem_cache_free", "double free");
    KT_ASSERT(kmem_cache_destroy(c) == 0);
    KT_ASSERT(mm_error_count() == 3);
    KT_ASSERT(heap_usable());
}

static void pointers_not_ours(void)
{
    int on_the_stack;
    kfree(&on_the_stack);
    KT_REPORTED("kfree", "not a heap pointer");
    char *small = kmalloc(64), *large = kmalloc(3000);
    kfree(small + 16);
    KT_REPORTED("kfree", "interior pointer");
    kfree(large + 3);
    KT_REPORTED("kfree", "interior pointer, 3 bytes into");
    void *v = vmalloc(8192);
    KT_ASSERT(v != NULL);
    kfree(v);
    KT_REPORTED("kfree", "not a heap pointer");
    vfree(large);
    KT_REPORTED("vfree", "");
    vfree(v);
    kfree(small);
    kfree(large);
    KT_ASSERT(mm_error_count() == 5);
    KT_ASSERT(heap_usable());
}

static void wrong_cache(void)
{
    kmem_cache_t *a = kmem_cache_create("kt-a", 48, 0, NULL);
    kmem_cache_t *b = kmem_cache_create("kt-b", 48, 0, NULL);
    void *o = kmem_cache_alloc(a);
    kmem_cache_free(b, o);
    KT_REPORTED("kmem_cache_free", "object of cache 'kt-a', not of 'kt-b'");
    kmem_cache_free(a, o);
    KT_ASSERT(kmem_cache_destroy(a) == 0 && kmem_cache_destroy(b) == 0);
    KT_ASSERT(heap_usable());
}

/*
 * Into the next block's header, by one byte and by a header's worth; then below a header.
 * 1024 bytes: a size class of the CPUs' block caches, so no slack after it.  The caches
 * off: each `next` must be the block right after p, as in a heap without them (the host's
 * test_bugclass overflows a block the caches serve; test_attack_blockcache, a cached one).
 */
static void overflows_into_headers(void)
{
    int was = mm_set_block_cache(0);
    char *p = kmalloc(1024), *next = kmalloc(1024);
    KT_ASSERT(kmalloc_usable_size(p) == 1024);
    KT_ASSERT(next == p + 1024 + HEAP_HEADER_SIZE);
    p[1024] = 0x41;
    KT_ASSERT(heap_check() > 0);
    kfree(next);
    KT_REPORTED("kfree", "block header smashed");
    KT_CHECK_HEAP();
    next = kmalloc(1024);
    KT_ASSERT(next == p + 1024 + HEAP_HEADER_SIZE);
    memset(p + 1024, 0x41, HEAP_HEADER_SIZE);
    kfree(next);
    KT_REPORTED("kfree", "block header smashed");
    KT_CHECK_HEAP();
    memset(p - HEAP_HEADER_SIZE, 0x41, 4); /* underflow down to the magic */
    kfree(p);
    KT_REPORTED("kfree", "block header smashed");
    KT_CHECK_HEAP();
    mm_set_block_cache(was);
    KT_ASSERT(heap_usable());
}

/*
 * A block's free-list links are checked before they are followed (a block
 * larger than the CPUs' block caches take, 64 KB: one they keep has no links).
 */
static void write_after_free_block(void)
{
    char *p = kmalloc(80000), *keep = kmalloc(64);
    kfree(p);
    memset(p, 0x41, 2 * sizeof(void *));
    KT_ASSERT(heap_check() > 0);
    char *q = kmalloc(80000);
    KT_ASSERT(q != NULL);
    KT_REPORTED("kmalloc", "free list");
    KT_CHECK_HEAP();
    kfree(q);
    kfree(keep);
    KT_ASSERT(heap_usable());
}

#ifndef MM_DEBUG
/* Slab objects have no header: without the debug build nothing sees this (README's table). */
static void slab_overflow_unseen(void)
{
    char *a = kmalloc(32), *b = kmalloc(32);
    KT_ASSERT(b - a == 32);
    a[32] = 0x41;
    KT_CHECK_HEAP();
    KT_ASSERT(mm_error_count() == 0 && (uint8_t)b[0] == 0x41);
    kfree(a);
    kfree(b);
    KT_ASSERT(heap_usable());
}
#endif

/*
 * A stray write over everything a caller can reach in a slab page (issue 9,
 * bugs 8 and 9): the page's free words zeroed, a kfree of the cache
 * descriptor.  The slabs' maps and the descriptors live out of band (the
 * metadata window, a static table), so no object is handed out twice.
 */
static void slab_metadata_out_of_reach(void)
{
    enum { N = 48 };
    static char *o[N];
    kmem_cache_t *c = kmem_cache_create("kt-meta", 64, 0, NULL);
    KT_ASSERT(c != NULL);
    kfree(c);
    KT_REPORTED("kfree", "not a heap pointer");
    KT_ASSERT((uint32_t)(uintptr_t)c < HEAP_VIRTUAL_START ||
              (uint32_t)(uintptr_t)c > HEAP_VIRTUAL_END);
    for (int i = 0; i < N; i++) {
        o[i] = kmem_cache_alloc(c);
        KT_ASSERT(o[i] != NULL);
        for (int k = 0; k < 64; k++)
            o[i][k] = (char)i;
    }
    uintptr_t page = (uintptr_t)o[0] & ~(uintptr_t)(PAGE_SIZE - 1);
    KT_ASSERT(vmm_get_entry(MM_META_START) & PAGE_PRESENT); /* the descriptors' window */
    for (int i = 1; i < N; i += 2) {
        kmem_cache_free(c, o[i]);
        o[i] = NULL;
    }
    for (uintptr_t a = page + HEAP_HEADER_SIZE; a < page + PAGE_SIZE; a += 4) {
        int live = 0;
        for (int i = 0; i < N; i++)
            live |= o[i] && a - (uintptr_t)o[i] < 64;
        if (!live)
            *(volatile uint32_t *)a = 0;
    }
    KT_CHECK_HEAP();
    for (int i = 1; i < N; i += 2) {
        o[i] = kmem_cache_alloc(c);
        KT_ASSERT(o[i] != NULL);
        for (int j = 0; j < N; j++)
            KT_ASSERT(j == i || !o[j] || o[i] != o[j]);
        for (int k = 0; k < 64; k++)
            o[i][k] = (char)i;
    }
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 64; k++)
            KT_ASSERT(o[i][k] == (char)i);
        kmem_cache_free(c, o[i]);
    }
    KT_ASSERT(kmem_cache_destroy(c) == 0);
    KT_ASSERT(heap_usable());
}

const struct ktest ktest_bugclass[] = {
    {"bugclass: double free (small, large, pool object)", double_frees},
    {"bugclass: wild, interior, unaligned, other allocator", pointers_not_ours},
    {"bugclass: kmem_cache_free into the wrong cache", wrong_cache},
    {"bugclass: overflow and underflow into block headers", overflows_into_headers},
    {"bugclass: write after free of a block", write_after_free_block},
    {"bugclass: slab maps and cache descriptors out of a scribble's reach",
     slab_metadata_out_of_reach},
#ifndef MM_DEBUG
    {"bugclass: slab overflow unseen without the debug build", slab_overflow_unseen},
#endif
    {NULL, NULL},
};

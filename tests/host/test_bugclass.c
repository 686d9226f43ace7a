/*
 * test_bugclass.c - one case per class of caller bug, on the Phase 2 heap
 * (virtual heap up: small sizes in slabs, the rest as blocks), in the words
 * of the README's detection table.
 *
 * Each case commits the bug, then checks what the memory manager says (the
 * bug named, the address) and that the heap is fully usable afterwards: a
 * few hundred random allocations and frees, every byte verified, and
 * heap_check() == 0.  Where this build cannot see a bug the case says so
 * and checks exactly that (nothing reported, nothing broken), so the table
 * cannot claim more than the code does.
 */
#include "harness.h"
#include "heap_internal.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"
#include "vmm.h"

#define MB (1024u * 1024u)

static int fresh_virtual(void **state)
{
    (void)state;
    fresh_paging_ram(48 * MB);
    heap_init_virtual();
    return 0;
}

/* The heap goes on: random work with every byte checked, then a clean heap_check. */
static void assert_heap_usable(void)
{
    enum { N = 64 };
    char *p[N] = {0};
    size_t n[N] = {0};
    uint32_t rng = 99;
    for (int op = 0; op < 600; op++) {
        int i = rng_below(&rng, N);
        if (p[i]) {
            for (size_t k = 0; k < n[i]; k++)
                assert_int_equal((unsigned char)p[i][k], (unsigned char)(i ^ k));
            kfree(p[i]);
        }
        n[i] = 1 + rng_below(&rng, 3000);
        p[i] = kmalloc(n[i]);
        assert_non_null(p[i]);
        for (size_t k = 0; k < n[i]; k++)
            p[i][k] = (char)(i ^ k);
    }
    for (int i = 0; i < N; i++)
        kfree(p[i]);
    CHECK_HEAP();
}

/* ------------------------------------------------------- double free ---- */

/* kmalloc(n), kfree twice: the second is reported, and the heap goes on. */
static void double_free(size_t n)
{
    char *p = t_kmalloc(n);
    t_kfree(p);
    t_kfree(p);
    assert_reported("kfree", p, "double free");
    assert_heap_usable();
}

static void test_double_free_small(void **state)
{
    double_free(24);
}

static void test_double_free_large(void **state)
{
    double_free(2000);
}

static void test_double_free_pool_object(void **state)
{
    kmem_cache_t *c = kmem_cache_create("pool", 40, 0, NULL);
    void *o = kmem_cache_alloc(c);
    kmem_cache_free(c, o);
    kmem_cache_free(c, o);
    assert_reported("kmem_cache_free", o, "double free");
    CHECK_HEAP();
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_heap_usable();
}

/* ------------------------------------------------- pointers not ours ---- */

static void test_wild_pointer(void **state)
{
    int on_the_stack;
    t_kfree(&on_the_stack);
    assert_reported("kfree", &on_the_stack, "not a heap pointer");
    assert_heap_usable();
}

/* kfree(p + off) of a small (slab) and of a large (block) allocation: each reported as `why`. */
static void free_inside(size_t small_n, size_t large_n, size_t off, const char *why)
{
    char *small = t_kmalloc(small_n), *large = t_kmalloc(large_n);
    t_kfree(small + off);
    assert_reported("kfree", small + off, why);
    t_kfree(large + off);
    assert_reported("kfree", large + off, why);
    t_kfree(small);
    t_kfree(large);
}

static void test_interior_pointer(void **state)
{
    free_inside(64, 3000, 16, "interior pointer");
    assert_int_equal(errors_now(), 2);
    assert_heap_usable();
}

/* malloc's memory and vmalloc's pages are not kmalloc's, and the reverse. */
static void test_pointer_from_another_allocator(void **state)
{
    char *m = malloc(64);
    t_kfree(m);
    assert_reported("kfree", m, "not a heap pointer");
    free(m);
    void *v = vmalloc(8192);
    assert_non_null(v);
    t_kfree(v);
    assert_reported("kfree", v, "not a heap pointer");
    char *k = t_kmalloc(4096);
    vfree(k);
    assert_non_null(strstr(mm_last_error(), "vfree"));
    vfree(v);
    t_kfree(k);
    assert_int_equal(errors_now(), 3);
    assert_heap_usable();
}

static void test_unaligned_free(void **state)
{
    free_inside(32, 1500, 3, "interior pointer, 3 bytes into");
    assert_heap_usable();
}

static void test_wrong_cache(void **state)
{
    kmem_cache_t *a = kmem_cache_create("a", 48, 0, NULL), *b = kmem_cache_create("b", 48, 0, NULL);
    void *o = kmem_cache_alloc(a);
    kmem_cache_free(b, o);
    assert_reported("kmem_cache_free", o, "object of cache 'a', not of 'b'");
    CHECK_HEAP();
    kmem_cache_free(a, o); /* still a's, still live */
    CHECK_HEAP();
    assert_int_equal(kmem_cache_destroy(a), 0);
    assert_int_equal(kmem_cache_destroy(b), 0);
    assert_heap_usable();
}

/* ------------------------------------------------- writes out of bounds ---- */

/*
 * | block (1024 bytes, a size class of the CPUs' block caches: no slack) | next header | next ...
 *                                                                        ^ p[1024]
 * Expect the next block's smashed header to be found by heap_check and
 * rebuilt from its neighbours when it is freed (the fast free checks the
 * header against the map and leaves a smashed one to the shared path).
 */
static void overflow_large(size_t bytes_over)
{
    char *p = t_kmalloc(1024), *next = t_kmalloc(1024);
    assert_int_equal(kmalloc_usable_size(p), 1024);
    assert_ptr_equal(next, p + 1024 + HDR); /* (the miss's fill hands out its blocks in order) */
    memset(p + 1024, 0x41, bytes_over);
    assert_true(heap_check() > 0);
    kfree(next);
    assert_reported("kfree", next, "block header smashed");
    CHECK_HEAP();
    t_kfree(p);
    assert_heap_usable();
}

static void test_overflow_one_byte_large(void **state)
{
    overflow_large(1);
}

/* The same over the whole header. */
static void test_overflow_header_large(void **state)
{
    overflow_large(HDR);
}

/*
 * | obj | obj | obj |   one slab: no header between objects.
 * Without the debug build's red zones an overflow into the next object is
 * not seen (the next object's bytes change, nothing reports).
 */
static void test_overflow_small(void **state)
{
    char *a = t_kmalloc(32), *b = t_kmalloc(32);
    assert_int_equal(b - a, 32); /* next object, no header between */
    b[0] = 0;
    a[32] = 0x41;              /* one byte over */
    memset(a + 32, 0x41, HDR); /* and a header's worth */
#ifdef MM_DEBUG
    skip(); /* the debug build's expectations: see test_debug.c */
#else
    assert_int_equal(heap_check(), 0);
    assert_int_equal(errors_now(), 0);
    assert_int_equal((unsigned char)b[0], 0x41); /* the neighbour took it */
    t_kfree(a);
    t_kfree(b);
    assert_heap_usable();
#endif
}

/* The byte before a block is its header's padding: seen only once the writes reach the magic. */
static void test_underflow_large(void **state)
{
    char *p = t_kmalloc(1000);
    heap_block_t *h = (heap_block_t *)(p - HDR);
    memset(h, 0x41, sizeof(h->magic)); /* an underflow of a header's worth reaches the magic */
    assert_true(heap_check() > 0);
    kfree(p);
    assert_reported("kfree", p, "block header smashed");
    CHECK_HEAP();
    assert_heap_usable();
}

/*
 * Write after free of a block: its first bytes hold the free-list links,
 * which are checked before they are followed.  (A block larger than the
 * CPUs' block caches take, 64 KB: a freed block they keep is still allocated
 * to the heap, with no links to smash, as a slab object in a magazine.)
 */
static void test_write_after_free_large(void **state)
{
    char *p = t_kmalloc(80000), *keep = t_kmalloc(64);
    t_kfree(p);
    memset(p, 0x41, 2 * sizeof(void *)); /* both links */
    assert_true(heap_check() > 0);
    char *q = kmalloc(80000); /* the list is checked before use, and rebuilt */
    assert_non_null(q);
    assert_non_null(strstr(mm_last_error(), "free list"));
    CHECK_HEAP();
    t_kfree(q);
    t_kfree(keep);
    assert_heap_usable();
}

/* A freed slab object's bytes are not looked at without the debug build's poison. */
static void test_write_after_free_small(void **state)
{
    char *p = t_kmalloc(48);
    t_kfree(p);
    p[0] = 0x41;
#ifdef MM_DEBUG
    skip(); /* the debug build's expectations: see test_debug.c */
#else
    assert_int_equal(heap_check(), 0);
    assert_int_equal(errors_now(), 0);
    assert_heap_usable();
#endif
}

/* ------------------------------------------------------- guard pages ---- */

static void test_guard_page_named(void **state)
{
    char buf[160];
    char *v = vmalloc(3 * PAGE_SIZE);
    assert_non_null(v);
    /* the host runs kernel addresses in a window: back to the kernel's address */
    vaddr_t base = VMALLOC_START + (vaddr_t)(v - (char *)host_virt_ptr(VMALLOC_START));
    vaddr_t below = base - 1, above = base + 3 * PAGE_SIZE;
    assert_true(vmalloc_is_guard(below) && vmalloc_is_guard(above));
    assert_false(vmm_get_entry(below) & PAGE_PRESENT);
    assert_false(vmm_get_entry(above) & PAGE_PRESENT);
    assert_non_null(vmalloc_describe(below, buf, sizeof(buf)));
    assert_non_null(strstr(buf, "guard page below vmalloc allocation"));
    assert_non_null(strstr(vmm_describe(above), "guard"));
    vfree(v);
    assert_int_equal(vmalloc_check(), 0);
    assert_heap_usable();
}

#define T(f) cmocka_unit_test_setup(f, fresh_virtual)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_double_free_small),       T(test_double_free_large),
        T(test_double_free_pool_object), T(test_wild_pointer),
        T(test_interior_pointer),        T(test_pointer_from_another_allocator),
        T(test_unaligned_free),          T(test_wrong_cache),
        T(test_overflow_one_byte_large), T(test_overflow_header_large),
        T(test_overflow_small),          T(test_underflow_large),
        T(test_write_after_free_large),  T(test_write_after_free_small),
        T(test_guard_page_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

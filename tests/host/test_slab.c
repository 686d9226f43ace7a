/*
 * test_slab.c - object caches (kmem_cache_*) and kmalloc's size classes.
 *
 * The heap (slab pages included) and every cache are checked after every
 * operation: heap_check() walks the blocks, the slab-page bitmaps, every
 * cache's lists and every slab's map.
 *
 *   page                                                     page + 4096
 *   | heap hdr | pad | obj 0 | obj 1 | ... | obj n-1 |
 *
 * The slab's map, counts and links, and every kmem_cache_t, are out of band
 * (mm/slab.c): the tests at the end scribble over everything a caller can
 * reach and expect no object handed out twice.
 */
#include "harness.h"
#include "heap_internal.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"
#include "vmm.h"

#define MB        (1024u * 1024u)
#define RAM       (48 * MB)
/* malloc's alignment: what kmalloc's size classes promise */
#define MIN_ALIGN (sizeof(void *) == 8 ? 16u : 8u)

static int fresh_paging(void **state)
{
    (void)state;
    fresh_paging_ram(RAM);
    return 0;
}

static int fresh_virtual(void **state)
{
    fresh_paging(state);
    heap_init_virtual();
    CHECK_HEAP();
    return 0;
}

static kmem_cache_t *t_create(const char *name, size_t size, size_t align, void (*ctor)(void *))
{
    kmem_cache_t *c = kmem_cache_create(name, size, align, ctor);
    CHECK_HEAP();
    return c;
}

static void *t_alloc(kmem_cache_t *c)
{
    void *p = kmem_cache_alloc(c);
    CHECK_HEAP();
    return p;
}

static void t_free(kmem_cache_t *c, void *p)
{
    kmem_cache_free(c, p);
    CHECK_HEAP();
}

/* ---------------------------------------------------- size classes ---- */

/* Before heap_init_virtual the spec's Phase 1 heap is untouched: every block has its header. */
static void test_phase1_small_blocks_have_headers(void **state)
{
    char *p = t_kmalloc(16);
    assert_non_null(p);
    heap_block_t *b = (heap_block_t *)(p - HDR);
    assert_int_equal(b->magic, HEAP_MAGIC_ALLOC);
    assert_int_equal(stats_now().slab_pages, 0);
    t_kfree(p);
}

/* Expect consecutive small objects one stride apart: no header between them. */
static void test_small_objects_have_no_header(void **state)
{
    for (size_t n = 1; n <= SLAB_KMALLOC_MAX; n += 7) {
        char *a = t_kmalloc(n), *b = t_kmalloc(n);
        assert_non_null(a);
        assert_non_null(b);
        size_t usable = kmalloc_usable_size(a);
        assert_true(usable >= n && usable < n + 128);
        assert_int_equal((uintptr_t)a % MIN_ALIGN, 0);
        /* same slab, neighbours (a CPU's cache hands back its last free first) */
        assert_int_equal(b > a ? b - a : a - b, (ptrdiff_t)usable);
        memset(a, 0xAB, usable);
        memset(b, 0xCD, usable);
        CHECK_HEAP();
        t_kfree(a);
        t_kfree(b);
    }
    memory_stats_t s = stats_now();
    assert_true(s.slab_pages > 0);
    assert_int_equal(s.slab_objects, 0);
}

/*
 * 20000 16-byte objects: the pages they take and their out-of-band descriptors,
 * over the bytes asked, is well under a header.
 */
static void test_small_object_overhead(void **state)
{
    enum { N = 20000 };
    static void *p[N];
    memory_stats_t before = stats_now();
    for (int i = 0; i < N; i++) {
        p[i] = kmalloc(16);
        assert_non_null(p[i]);
    }
    CHECK_HEAP();
    memory_stats_t s = stats_now();
    assert_int_equal(s.slab_objects, N);
    /* the pages, and each page's descriptor in the metadata window */
    double per_object =
        (double)(s.slab_pages - before.slab_pages) * (PAGE_SIZE + SLAB_DESC_SIZE) / N - 16;
    print_message("      16-byte objects: %.2f bytes of overhead each (pages and descriptors)\n",
                  per_object);
    assert_true(per_object < 2.0);
    for (int i = 0; i < N; i++)
        kfree(p[i]);
    CHECK_HEAP();
    assert_int_equal(stats_now().slab_objects, 0);
}

static void test_double_free_small(void **state)
{
    char *p = t_kmalloc(40);
    t_kfree(p);
    uint32_t errors = stats_now().error_count;
    t_kfree(p);
    assert_reported("kfree", p, "double free");
    assert_int_equal(stats_now().error_count, errors + 1);
    assert_non_null(t_kmalloc(40)); /* still usable */
}

static void test_interior_and_header_pointers_small(void **state)
{
    char *p = t_kmalloc(64);
    t_kfree(p + 8);
    assert_reported("kfree", p + 8, "interior pointer, 8 bytes into object");
    uintptr_t page = heap_slab_page_of((uintptr_t)p);
    assert_true(page != 0);
    t_kfree((void *)(page + 8)); /* inside the page's block header */
    assert_reported("kfree", (void *)(page + 8), "points before the first object of slab");
    assert_int_equal(kmalloc_usable_size(p + 8), 0);
    assert_reported("kmalloc_usable_size", p + 8, "interior pointer");
    assert_null(t_krealloc(p + 8, 100));
    assert_reported("krealloc", p + 8, "interior pointer");
    t_kfree(p); /* the object itself is still fine */
}

static void test_krealloc_between_classes_and_blocks(void **state)
{
    char *p = t_kmalloc(20);
    memcpy(p, "0123456789abcdefghi", 20);
    size_t usable = kmalloc_usable_size(p);
    assert_ptr_equal(t_krealloc(p, usable), p); /* fits its class: stays */
    char *q = t_krealloc(p, 300);               /* another class */
    assert_non_null(q);
    assert_memory_equal(q, "0123456789abcdefghi", 20);
    char *r = t_krealloc(q, 5000); /* a block */
    assert_non_null(r);
    assert_null(heap_slab_page_of((uintptr_t)r) ? r : NULL);
    assert_memory_equal(r, "0123456789abcdefghi", 20);
    assert_null(t_krealloc(r, 0));
    char *s = t_kmalloc(100);
    assert_null(t_krealloc(s, 0)); /* frees a slab object too */
    assert_int_equal(stats_now().slab_objects, 0);
}

static void test_kmalloc_aligned_small(void **state)
{
    for (size_t align = 16; align <= 512; align *= 2) {
        char *p = kmalloc_aligned(24, align);
        CHECK_HEAP();
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        assert_true(kmalloc_usable_size(p) >= 24);
        t_kfree(p);
    }
}

/* A shadow of every live allocation, small and large, with its fill byte. */
static void test_random_against_shadow(void **state)
{
    enum { SLOTS = 300, OPS = 20000 };
    static char *ptr[SLOTS];
    static size_t len[SLOTS];
    uint32_t rng = 7;
    for (int op = 0; op < OPS; op++) {
        int i = rng_below(&rng, SLOTS);
        if (ptr[i]) {
            for (size_t k = 0; k < len[i]; k++)
                assert_int_equal((unsigned char)ptr[i][k], (unsigned char)(i + k));
        }
        size_t n = rng_below(&rng, 4) ? 1 + rng_below(&rng, 600) : 1 + rng_below(&rng, 9000);
        switch (rng_below(&rng, 4)) {
        case 0:
            kfree(ptr[i]);
            ptr[i] = kmalloc(n);
            assert_non_null(ptr[i]);
            break;
        case 3: { /* aligned: small ones from the classes, the rest carved from blocks */
            size_t align = (size_t)1 << rng_below(&rng, 13);
            kfree(ptr[i]);
            ptr[i] = kmalloc_aligned(n, align);
            assert_non_null(ptr[i]);
            assert_int_equal((uintptr_t)ptr[i] % align, 0);
            break;
        }
        case 1: {
            char *q = krealloc(ptr[i], n);
            assert_non_null(q);
            for (size_t k = 0; k < (len[i] < n ? len[i] : n); k++) /* the prefix moved with it */
                assert_int_equal((unsigned char)q[k], (unsigned char)(i + k));
            ptr[i] = q;
            break;
        }
        default:
            kfree(ptr[i]);
            ptr[i] = NULL;
            n = 0;
        }
        len[i] = n;
        for (size_t k = 0; k < len[i]; k++)
            ptr[i][k] = (char)(i + k);
        CHECK_HEAP();
    }
    for (int i = 0; i < SLOTS; i++)
        kfree(ptr[i]);
    CHECK_HEAP();
    assert_int_equal(stats_now().slab_objects, 0);
    assert_int_equal(stats_now().error_count, 0);
}

/* The object index is a reciprocal multiply: exact for every stride and every object. */
static void test_every_stride_frees_exactly(void **state)
{
    for (size_t size = 1; size <= KMEM_CACHE_MAX_OBJECT; size += 13) {
        kmem_cache_t *c = kmem_cache_create("stride", size, size % 3 ? 0 : 8, NULL);
        assert_non_null(c);
        kmem_cache_stats_t st = cache_stats(c);
        static void *obj[SLAB_KMALLOC_MAX + 1];
        unsigned n = st.objects_per_slab < 64 ? st.objects_per_slab : 64;
        for (unsigned i = 0; i < n; i++)
            assert_non_null(obj[i] = kmem_cache_alloc(c));
        for (unsigned i = 0; i < n; i++)
            kmem_cache_free(c, obj[i]);
        assert_int_equal(cache_stats(c).live, 0);
        assert_int_equal(kmem_cache_destroy(c), 0);
    }
    CHECK_HEAP();
    assert_int_equal(stats_now().error_count, 0);
}

/* -------------------------------------------------------------- caches ---- */

static void test_cache_lifecycle(void **state)
{
    enum { N = 1000 };
    static void *p[N];
    uint32_t pages0 = stats_now().slab_pages;
    kmem_cache_t *c = t_create("thing", 100, 0, NULL);
    assert_non_null(c);
    kmem_cache_stats_t s = cache_stats(c);
    assert_string_equal(s.name, "thing");
    assert_int_equal(s.object_size, 100);
    assert_int_equal(s.stride % MIN_ALIGN, 0);
    for (int i = 0; i < N; i++) {
        p[i] = t_alloc(c);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % MIN_ALIGN, 0);
        memset(p[i], i & 0xFF, 100);
    }
    s = cache_stats(c);
    assert_int_equal(s.live, N);
    assert_int_equal(s.slabs, (N + s.objects_per_slab - 1) / s.objects_per_slab);
    assert_int_equal(kmem_cache_destroy(c), -1);
    assert_reported("kmem_cache_destroy", c, "still has 1000 live objects");
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 100; k++)
            assert_int_equal(((unsigned char *)p[i])[k], i & 0xFF);
        t_free(c, p[i]);
    }
    s = cache_stats(c);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.empty_slabs, 1); /* one kept for the next allocation */
    assert_int_equal(s.allocs, N);
    assert_int_equal(s.frees, N);
    assert_int_equal(kmem_cache_destroy(c), 0);
    CHECK_HEAP();
    kmem_cache_reap(); /* the empty slab that held the cache itself (kmalloc-96 or so) */
    CHECK_HEAP();
    assert_int_equal(stats_now().slab_pages, pages0);
    /* a destroyed cache is not a cache any more */
    assert_null(kmem_cache_alloc(c));
    assert_reported("kmem_cache_alloc", c, "not a cache");
}

static int ctor_calls;
static void ctor(void *obj)
{
    ctor_calls++;
    memset(obj, 0x5A, 48);
}

/* Expect the constructor on every object of a slab when the slab is made, not on each alloc. */
static void test_cache_ctor(void **state)
{
    kmem_cache_t *c = t_create("ctor", 48, 64, ctor);
    ctor_calls = 0;
    unsigned char *o = t_alloc(c);
    assert_int_equal((uintptr_t)o % 64, 0);
    kmem_cache_stats_t s = cache_stats(c);
    assert_int_equal(ctor_calls, (int)s.objects_per_slab);
    for (int k = 0; k < 48; k++)
        assert_int_equal(o[k], 0x5A);
    t_free(c, o);
    assert_non_null(t_alloc(c));
    assert_int_equal(ctor_calls, (int)s.objects_per_slab);
}

static void test_cache_misuse(void **state)
{
    kmem_cache_t *a = t_create("a", 32, 0, NULL), *b = t_create("b", 32, 0, NULL);
    uint32_t objects0 = stats_now().slab_objects; /* the caches themselves are kmalloc'd */
    void *x = t_alloc(a);
    t_free(b, x);
    assert_reported("kmem_cache_free", x, "object of cache 'a', not of 'b'");
    assert_int_equal(cache_stats(a).live, 1); /* left alone */
    t_free(a, x);
    t_free(a, x);
    assert_reported("kmem_cache_free", x, "double free");
    char *block = t_kmalloc(1000);
    t_free(a, block);
    assert_reported("kmem_cache_free", block, "not an object of any cache");
    char *small = t_kmalloc(32);
    t_free(a, small);
    assert_reported("kmem_cache_free", small, "object of cache 'kmalloc-32', not of 'a'");
    t_free((kmem_cache_t *)block, small);
    assert_reported("kmem_cache_free", block, "not a cache");
    assert_int_equal(kmem_cache_destroy(NULL), -1);
    assert_reported("kmem_cache_destroy", NULL, "not a cache");
    assert_int_equal(stats_now().slab_objects, objects0 + 1); /* small is still live */
    t_kfree(small);
    t_kfree(block);
    assert_int_equal(kmem_cache_destroy(a), 0);
    assert_int_equal(kmem_cache_destroy(b), 0);
    CHECK_HEAP();
}

static void test_cache_create_bad_arguments(void **state)
{
    assert_null(t_create("zero", 0, 0, NULL));
    assert_non_null(strstr(mm_last_error(), "kmem_cache_create: 'zero': object size 0"));
    assert_null(t_create("huge", KMEM_CACHE_MAX_OBJECT + 1, 0, NULL));
    assert_non_null(strstr(mm_last_error(), "'huge': object size 2049"));
    assert_null(t_create("odd", 16, 3, NULL));
    assert_non_null(strstr(mm_last_error(), "'odd': alignment 3"));
    assert_null(t_create("wide", 16, 4096, NULL));
    assert_non_null(strstr(mm_last_error(), "'wide': alignment 4096"));
    assert_int_equal(stats_now().error_count, 4);
    kmem_cache_t *c = t_create("a name much longer than the twenty-four bytes kept", 8, 0, NULL);
    assert_non_null(c);
    assert_int_equal(strlen(cache_stats(c).name), KMEM_CACHE_NAME_MAX - 1);
    kmem_cache_t *big = t_create("big", KMEM_CACHE_MAX_OBJECT, 0, NULL);
    assert_non_null(t_alloc(big));
    assert_int_equal(cache_stats(big).objects_per_slab, 1);
}

/* Expect the heap to take empty slabs back when it runs out, and the pages to reach the PMM. */
static void test_empty_slabs_go_back(void **state)
{
    enum { N = 30000 };
    static void *p[N];
    pmm_stats_t ps0;
    pmm_get_stats(&ps0);
    kmem_cache_t *c = t_create("pressure", 200, 0, NULL);
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = kmem_cache_alloc(c));
    CHECK_HEAP();
    uint32_t slabs = cache_stats(c).slabs;
    assert_true(slabs >= N / 20);
    for (int i = 0; i < N; i++)
        kmem_cache_free(c, p[i]);
    CHECK_HEAP();
    /* the rest went back at once; the objects this CPU's cache keeps pin a slab or two */
    kmem_cache_stats_t left = cache_stats(c);
    print_message("      left: %u slabs, %u objects in CPU caches\n", left.slabs, left.cpu_cached);
    assert_true(left.slabs >= 1 && left.slabs <= 1 + left.cpu_cached);
    assert_int_equal(left.live, 0);
    assert_int_equal(kmem_cache_reap(), left.slabs);
    CHECK_HEAP();
    assert_int_equal(cache_stats(c).slabs, 0);
    pmm_stats_t ps1;
    pmm_get_stats(&ps1);
    print_message("      %u slabs; PMM free pages %u before, %u after; heap %u KB\n", slabs,
                  ps0.free_pages, ps1.free_pages, stats_now().heap_virtual_size / 1024);
    /*
     * the heap gave its end back: what stays is its slack, not the slabs, and
     * the metadata pages of the slabs' descriptors (one per 32 heap pages)
     */
    uint32_t per_meta = PAGE_SIZE / SLAB_DESC_SIZE;
    uint32_t meta = (stats_now().heap_virtual_peak / PAGE_SIZE + per_meta - 1) / per_meta;
    assert_true(ps0.free_pages - ps1.free_pages < 8 + meta); /* page tables, the cache's slab */
}

/*
 * Memory pressure from outside the heap: the PMM is empty, but the heap
 * holds the pages of freed slabs.  Expect vmalloc to get them back through
 * the PMM's reclaim hook, kmem_cache_reap (empty slabs, then the heap's free
 * end), and succeed.
 */
static void test_vmalloc_under_pressure_takes_slab_pages_back(void **state)
{
    enum { N = 30000, MAXPAGES = 16384 };
    static void *p[N];
    static paddr_t held[MAXPAGES];
    kmem_cache_t *c = t_create("squeezed", 200, 0, NULL);
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = kmem_cache_alloc(c));
    for (int i = 0; i < N; i++)
        kmem_cache_free(c, p[i]);
    CHECK_HEAP();
    assert_true(stats_now().heap_virtual_size > 2 * MB); /* freed, still mapped */
    int n = 0;
    /* every free page, without reclaim: vmalloc is the one that finds the PMM empty */
    while (n < MAXPAGES &&
           (held[n] = pmm_alloc_pages_owner(1, 0, PMM_OWNER_CALLER | PMM_NO_RECLAIM)) != 0)
        n++;
    assert_true(n < MAXPAGES);
    void *v = vmalloc(64 * PAGE_SIZE);
    assert_non_null(v);
    assert_int_equal(cache_stats(c).slabs, 0);
    assert_true(stats_now().heap_virtual_size < MB);
    CHECK_HEAP();
    assert_int_equal(vmalloc_check(), 0);
    vfree(v);
    for (int i = 0; i < n; i++)
        pmm_free_page(held[i]);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(kmem_cache_destroy(c), 0);
}

/*
 * A ctor that allocates, and whose allocation fails (the heap then reaps
 * empty slabs): the slab being built is on no list yet, so it is neither
 * reaped under the ctor nor handed out to it.  Found by a review.
 */
static kmem_cache_t *ctor_cache;
static int ctor_depth;
static void *ctor_child, *ctor_block;
static void greedy_ctor(void *obj)
{
    memset(obj, 0, 64);
    if (ctor_depth++ == 0 && !ctor_block) {
        assert_null(kmalloc(0x40000000)); /* fails: the heap reaps */
        ctor_block = kmalloc(2000);
        memset(ctor_block, 'P', 2000);
        ctor_child = kmem_cache_alloc(ctor_cache); /* its own cache: refused */
    }
    ctor_depth--;
}

static void test_ctor_that_allocates(void **state)
{
    ctor_cache = t_create("greedy", 64, 0, greedy_ctor);
    ctor_child = ctor_block = NULL;
    void *o = t_alloc(ctor_cache);
    assert_non_null(o);
    assert_null(ctor_child);
    assert_non_null(strstr(mm_last_error(), "own constructor: refused"));
    kmem_cache_stats_t st = cache_stats(ctor_cache);
    assert_int_equal(st.live, 1);
    assert_int_equal(st.slabs, 1);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(((char *)ctor_block)[i], 'P');
    t_free(ctor_cache, o);
    t_kfree(ctor_block);
    assert_int_equal(kmem_cache_destroy(ctor_cache), 0);
    CHECK_HEAP();
}

/*
 * Bug 9 of issue 9: a slab's map lived in its page, so a 4-byte zero over it
 * made the next kmalloc(64) hand out a live object.  Expect nothing a caller
 * can write to change which objects are free: every byte of a slab page
 * outside the heap's block header (the pad before object 0, freed objects,
 * live ones) scribbled, then hundreds of allocations, none overlapping a
 * live object, and the slabs' bookkeeping still exact.
 */
static void test_slab_page_scribbles_change_nothing(void **state)
{
    enum { LIVE = 40, MORE = 600 };
    char *live[LIVE + MORE];
    void *probe = t_kmalloc(64);
    size_t stride = kmalloc_usable_size(probe);
    t_kfree(probe);
    for (int i = 0; i < LIVE; i++) {
        live[i] = t_kmalloc(64);
        memset(live[i], 'a' + i % 26, 64);
    }
    for (int i = 1; i < LIVE; i += 3) { /* holes, freed then written after free */
        t_kfree(live[i]);
        memset(live[i], 0, 64);
        live[i] = NULL;
    }
    uintptr_t page = heap_slab_page_of((uintptr_t)live[0]);
    assert_true(page != 0);
    uintptr_t first = page + PAGE_SIZE - (PAGE_SIZE - HDR) / stride * stride;
    memset((void *)(page + HDR), 0, first - (page + HDR)); /* where a header would be */
    for (uintptr_t a = first; a < page + PAGE_SIZE; a += 4) {
        int is_live = 0;
        for (int i = 0; i < LIVE; i++)
            is_live |= live[i] && a >= (uintptr_t)live[i] && a < (uintptr_t)live[i] + 64;
        if (!is_live)
            *(uint32_t *)a = 0; /* every free word of the page: no map, no link, no count */
    }
    assert_int_equal(heap_check(), 0);
    for (int i = LIVE; i < LIVE + MORE; i++) {
        live[i] = t_kmalloc(64);
        assert_non_null(live[i]);
        for (int j = 0; j < i; j++)
            assert_false(live[j] && (uintptr_t)live[i] - (uintptr_t)live[j] < stride);
        memset(live[i], 'A' + i % 26, 64);
    }
    for (int i = 0; i < LIVE; i++) {
        for (int k = 0; live[i] && k < 64; k++)
            assert_int_equal(live[i][k], 'a' + i % 26);
    }
    for (int i = 0; i < LIVE + MORE; i++)
        t_kfree(live[i]);
    assert_int_equal(heap_check(), 0);
    assert_int_equal(stats_now().slab_objects, 0);
}

/*
 * Bug 8 of issue 9: a kmem_cache_t was an ordinary kmalloc block: kfree took
 * it, and a stray write could change its stride or constructor.  Expect the
 * descriptor outside every heap region: kfree of it is "not a heap pointer",
 * a heap overflow cannot reach it, and the cache goes on working.
 */
static void test_cache_descriptor_out_of_band(void **state)
{
    kmem_cache_t *c = t_create("task", 96, 0, NULL);
    void *o = t_alloc(c);
    t_kfree(c);
    assert_reported("kfree", c, "not a heap pointer");
    assert_int_equal(kmalloc_usable_size(c), 0);
    /* the heap's whole mapped extent holds no byte of it */
    uintptr_t heap = (uintptr_t)host_virt_ptr(HEAP_VIRTUAL_START);
    assert_false((uintptr_t)c >= heap && (uintptr_t)c - heap < stats_now().heap_virtual_size);
    /* fill the heap around: stats and the cache are untouched */
    for (int i = 0; i < 50; i++) {
        char *b = t_kmalloc(1000);
        memset(b, 0xFF, 1000);
    }
    memory_stats_t st;
    get_memory_stats(&st);
    assert_int_equal(cache_stats(c).stride, 96);
    void *p = t_alloc(c);
    assert_non_null(p);
    t_free(c, p);
    t_free(c, o);
    assert_int_equal(kmem_cache_destroy(c), 0);
    /* a destroyed cache is "not a cache", and get_memory_stats follows no dead link */
    assert_null(kmem_cache_alloc(c));
    assert_reported("kmem_cache_alloc", c, "not a cache");
    get_memory_stats(&st);
    CHECK_HEAP();
}

/* Expect KMEM_CACHE_MAX caches at once, the next refused with a report, a freed slot reused. */
static void test_cache_table_full(void **state)
{
    kmem_cache_t *c[KMEM_CACHE_MAX];
    for (int i = 0; i < KMEM_CACHE_MAX; i++)
        assert_non_null(c[i] = t_create("many", 16 + (size_t)i, 0, NULL));
    assert_null(t_create("one too many", 16, 0, NULL));
    assert_non_null(strstr(mm_last_error(), "cache slots in use"));
    assert_int_equal(kmem_cache_destroy(c[7]), 0);
    kmem_cache_t *again = t_create("again", 16, 0, NULL);
    assert_true(again == c[7]); /* the only free slot */
    for (int i = 0; i < KMEM_CACHE_MAX; i++)
        assert_int_equal(kmem_cache_destroy(c[i]), 0);
    CHECK_HEAP();
}

/* Caches in Phase 1 come from the early heap and survive the move to the virtual heap. */
static void test_cache_in_phase1(void **state)
{
    fresh_paging(state);
    kmem_cache_t *c = t_create("early", 24, 0, NULL);
    void *e = t_alloc(c);
    assert_non_null(e);
    assert_true((uintptr_t)e >= HEAP_BASE && (uintptr_t)e < HEAP_END);
    heap_init_virtual();
    CHECK_HEAP();
    void *v = t_alloc(c); /* the early slab still has room: fine either way */
    assert_non_null(v);
    t_free(c, e);
    t_free(c, v);
    assert_int_equal(kmem_cache_destroy(c), 0);
    CHECK_HEAP();
}

static void test_dumps_show_caches(void **state)
{
    kmem_cache_t *c = t_create("shown", 40, 0, NULL);
    void *o = t_alloc(c);
    void *k = t_kmalloc(64);
    host_console_clear();
    heap_dump();
    assert_true(host_console_has("slab shown 1/"));
    assert_true(host_console_has("slab kmalloc-64 1/"));
    host_console_clear();
    kmem_cache_dump();
    assert_true(host_console_has("shown "));
    assert_true(host_console_has("kmalloc-64 "));
    t_free(c, o);
    t_kfree(k);
}

#define T(f)  cmocka_unit_test_setup(f, fresh_virtual)
#define T1(f) cmocka_unit_test_setup(f, fresh_heap)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T1(test_phase1_small_blocks_have_headers),
        T(test_small_objects_have_no_header),
        T(test_small_object_overhead),
        T(test_double_free_small),
        T(test_interior_and_header_pointers_small),
        T(test_krealloc_between_classes_and_blocks),
        T(test_kmalloc_aligned_small),
        T(test_random_against_shadow),
        T(test_every_stride_frees_exactly),
        T(test_cache_lifecycle),
        T(test_cache_ctor),
        T(test_ctor_that_allocates),
        T(test_cache_misuse),
        T(test_cache_create_bad_arguments),
        T(test_empty_slabs_go_back),
        T(test_vmalloc_under_pressure_takes_slab_pages_back),
        T(test_slab_page_scribbles_change_nothing),
        T(test_cache_descriptor_out_of_band),
        T(test_cache_table_full),
        T(test_cache_in_phase1),
        T(test_dumps_show_caches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

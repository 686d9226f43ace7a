/*
 * test_attack_layers.c - a hostile caller against the PMM's memory map and
 * argument checks, the VMM's owner windows and vmalloc's pre-free checks.
 * Expect one report line and a safe return; every checker at 0 afterwards.
 */
#include "attack.h"
#include "slab.h"
#include "vmalloc.h"
#ifdef MM_DEBUG
#include "mm_debug.h"
#endif

#define MB (1024u * 1024u)

static int fresh(void **state)
{
    (void)state;
    fresh_every_layer(16 * MB);
    return 0;
}

static pmm_stats_t pst(void)
{
    pmm_stats_t s;
    pmm_get_stats(&s);
    return s;
}

/* ---- PMM: memory maps ---- */

/* RAM only below 1 MB, plus a one-page "available" range at 2^64 - 4096 whose end wraps. */
static void test_map_meta_at_top_wrap(void **state)
{
    crash_watch(10);
    fresh_pmm_alone();
    const pmm_range_t map[] = {{0, MB, PMM_RANGE_AVAILABLE},
                               {0xFFFFFFFFFFFFF000ull, 0x1000, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 2), -1);
    assert_true(host_console_has("pmm: no usable RAM above 1 MB"));
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(pmm_check(), 0);
    fresh(state);
}

/* An unaligned base just under 2^64: aligning it up wraps to 0. Metadata must stay in RAM. */
static void test_map_meta_unaligned_top(void **state)
{
    crash_watch(10);
    fresh_pmm_alone();
    const pmm_range_t map[] = {{0, 0xA0000, PMM_RANGE_AVAILABLE},
                               {16 * MB, 16 * MB, PMM_RANGE_AVAILABLE},
                               {0xFFFFFFFFFFFFF001ull, 0xFFE, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 3), 0);
    pmm_stats_t s = pst();
    assert_true(s.metadata_phys >= 16 * MB);
    assert_int_equal(pmm_check(), 0);
    fresh(state);
}

/* Zero-length, unsorted, overlapping, beyond-RAM reserved, avail wrapping from below 4 GB. */
static void test_map_lies(void **state)
{
    crash_watch(20);
    fresh_pmm_alone();
    const pmm_range_t map[] = {
        {32 * MB, 0, PMM_RANGE_AVAILABLE},  {8 * MB, 8 * MB, PMM_RANGE_AVAILABLE},
        {MB, 10 * MB, PMM_RANGE_AVAILABLE}, {60 * MB, 0, PMM_RANGE_RESERVED},
        {12 * MB, MB, PMM_RANGE_RESERVED},  {100 * MB, UINT64_MAX, PMM_RANGE_RESERVED},
        {0, 0xA0000, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 7), 0);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(pmm_page_state(12 * MB), -1);
    assert_int_equal(pmm_page_state(0x500000), -1); /* early heap reserved */
    paddr_t p;
    while ((p = pmm_alloc_page()) != 0) {
        assert_true(p >= MB && p < 16 * MB);
        assert_false(p >= 12 * MB && p < 13 * MB);
    }
    assert_int_equal(pmm_check(), 0);
    /* available from 1 GB, wrapping past 2^64: clipped at 4 GB, metadata 12 MB */
    const pmm_range_t wrap[] = {{MB, 40 * MB, PMM_RANGE_AVAILABLE},
                                {0x40000000, UINT64_MAX, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(wrap, 2), 0);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(pst().highest_page, 0xFFFFF000u);
    fresh(state);
}

/* A refused map, then every PMM call: nothing crashes, the state is consistent. */
static void test_map_refused_state(void **state)
{
    fresh_pmm_alone();
    const pmm_range_t map[] = {{0, MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), -1);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(pmm_alloc_pages(4, 0), 0);
    pmm_free_page(0x200000);
    pmm_free_pages(0xFFFFF000u, 2);
    assert_int_equal(pmm_set_owner(0x200000, 1, PMM_OWNER_CALLER, PMM_OWNER_HEAP), -1);
    assert_int_equal(pmm_check(), 0);
    fresh(state);
}

/* ---- PMM: argument checks ---- */

static void test_alloc_args(void **state)
{
    uint32_t e0 = errors_now();
    assert_int_equal(pmm_alloc_pages(0xFFFFFFFFu, 0), 0);
    assert_int_equal(pmm_alloc_pages(0x80000001u, 0), 0);
    assert_int_equal(pmm_alloc_pages(1025, 0), 0);
    assert_int_equal(pmm_alloc_pages(1, 0x80000000u), 0);
    assert_int_equal(pmm_alloc_pages(1, 0xFFFFF000u), 0);
    assert_int_equal(pmm_alloc_pages(1, 0x800), 0);
    assert_int_equal(pmm_alloc_pages(0, 0), 0);
    assert_int_equal(pmm_alloc_pages_owner(1, 0, PMM_OWNER_COUNT), 0);
    assert_int_equal(pmm_alloc_pages_owner(1, 0, 0xFFFFFFFFu), 0);
    assert_int_equal(pmm_alloc_pages_owner(1, 0, PMM_NO_RECLAIM), 0);
    assert_int_equal(errors_now() - e0, 10);
    paddr_t p = pmm_alloc_pages(1024, 4 * MB);
    if (p) {
        assert_int_equal(p % (4 * MB), 0);
        pmm_free_pages(p, 1024);
    }
    /* frees that wrap: 0xFFFFF000 + 2 pages; base + count beyond RAM; count 0 / huge */
    pmm_free_pages(0xFFFFF000u, 2);
    pmm_free_pages(PAGE_SIZE, 0);
    pmm_free_pages(0x100000, 0xFFFFFFFFu);
    paddr_t q = pmm_alloc_page();
    pmm_free_pages(q, 0x00100001u); /* count * PAGE_SIZE wraps to 1 page */
    assert_int_equal(pmm_page_state(q), 1);
    pmm_free_page(q);
    check_every_layer();
}

/* ---- PMM: freeing another layer's pages ---- */
static void test_free_foreign(void **state)
{
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    void *k = kmalloc(100000);
    assert_non_null(k);
    paddr_t heap_page = vmm_get_physical(HEAP_VIRTUAL_START) & ~0xFFFu;
    paddr_t table =
        VMM_FRAME(vmm_get_entry(VMM_PT_WINDOW + VMM_PDX(HEAP_VIRTUAL_START) * PAGE_SIZE));
    void *v = vmalloc(3 * PAGE_SIZE);
    vaddr_t top = kstack_alloc(2 * PAGE_SIZE);
    assert_non_null(v);
    assert_true(top != 0);
    paddr_t vpage = vmm_get_physical(VMALLOC_START + PAGE_SIZE) & ~0xFFFu;
    paddr_t spage = vmm_get_physical(top - PAGE_SIZE) & ~0xFFFu;
    paddr_t pages[] = {vs.page_directory, table, heap_page, vpage, spage, pst().metadata_phys};
    for (unsigned i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        uint32_t e0 = errors_now();
        pmm_free_page(pages[i]);
        pmm_free_pages(pages[i], 1);
        pmm_free_pages_owner(pages[i], 1, PMM_OWNER_CALLER);
        assert_int_equal(errors_now() - e0, 3);
    }
    /* an owner's unmap of a page that is not its own */
    uint32_t e0 = errors_now();
    vmm_heap_unmap(VMALLOC_START + PAGE_SIZE);
    vmm_meta_unmap(HEAP_VIRTUAL_START);
    vmm_vmalloc_unmap(HEAP_VIRTUAL_START);
    vmm_heap_unmap(top - PAGE_SIZE);
    assert_int_equal(errors_now() - e0, 4);
    check_every_layer();
    kstack_free(top);
    vfree(v);
    kfree(k);
    check_every_layer();
}

/* ---- VMM: owner windows, at their edges and the top of the address space ---- */
static void test_owner_windows(void **state)
{
    paddr_t p = pmm_alloc_pages_owner(1, 0, PMM_OWNER_HEAP);
    const vaddr_t bad_heap[] = {HEAP_VIRTUAL_START - PAGE_SIZE,
                                VMALLOC_START,
                                MM_META_START,
                                0xFFFFF000u,
                                0xFFC00000u,
                                0x00400000u,
                                0,
                                HEAP_VIRTUAL_END + 1u,
                                KERNEL_VIRTUAL_BASE};
    for (unsigned i = 0; i < sizeof(bad_heap) / sizeof(bad_heap[0]); i++) {
        uint32_t e0 = errors_now();
        assert_int_equal(vmm_heap_map(bad_heap[i], p), -1);
        assert_int_equal(errors_now() - e0, 1);
    }
    const vaddr_t bad_vm[] = {VMALLOC_START - PAGE_SIZE, VMALLOC_END + 1u, 0xFFFFF000u,
                              0x00800000u};
    for (unsigned i = 0; i < sizeof(bad_vm) / sizeof(bad_vm[0]); i++) {
        uint32_t e0 = errors_now();
        assert_int_equal(vmm_vmalloc_map(bad_vm[i], p), -1);
        assert_int_equal(errors_now() - e0, 1);
    }
    const vaddr_t bad_meta[] = {MM_META_START - PAGE_SIZE, (MM_META_END + 1u), 0xFFFFF000u,
                                0x00800000u, HEAP_VIRTUAL_START + 0x100000u};
    for (unsigned i = 0; i < sizeof(bad_meta) / sizeof(bad_meta[0]); i++) {
        uint32_t e0 = errors_now();
        assert_int_equal(vmm_meta_map(bad_meta[i], p), -1);
        assert_int_equal(errors_now() - e0, 1);
    }
    /* unmaps outside the window: refused, one line */
    uint32_t e0 = errors_now();
    vmm_heap_unmap(0xFFFFF000u);
    vmm_vmalloc_unmap(HEAP_VIRTUAL_START);
    vmm_meta_unmap(VMALLOC_START);
    vmm_meta_unmap(MM_META_END + 1u);
    assert_int_equal(errors_now() - e0, 4);
    pmm_free_pages_owner(p, 1, PMM_OWNER_HEAP);
    check_every_layer();
}

/* ---- vmalloc: pages unmapped or handed over behind its back ---- */
static void test_vfree_tampered(void **state)
{
    void *v = vmalloc(3 * PAGE_SIZE);
    assert_non_null(v);
    vaddr_t base = VMALLOC_START + PAGE_SIZE;
    paddr_t mid = vmm_get_physical(base + PAGE_SIZE) & ~0xFFFu;
    /* hand the middle page to the heap behind vmalloc's back */
    assert_int_equal(pmm_set_owner(mid, 1, PMM_OWNER_VMALLOC, PMM_OWNER_HEAP), 0);
    uint32_t e0 = errors_now();
    vfree(v);
    assert_int_equal(errors_now() - e0, 1);
    assert_true(strstr(mm_last_error(), "vfree") != NULL);
    assert_int_equal(vmm_get_physical(base) & ~0xFFFu, vmm_get_physical(base) & ~0xFFFu);
    assert_int_equal(pmm_set_owner(mid, 1, PMM_OWNER_HEAP, PMM_OWNER_VMALLOC), 0);
    check_every_layer();
    vfree(v);
    check_every_layer();

    /* a kstack whose page was given to vmalloc's plain owner */
    vaddr_t top = kstack_alloc(2 * PAGE_SIZE);
    paddr_t sp = vmm_get_physical(top - PAGE_SIZE) & ~0xFFFu;
    assert_int_equal(pmm_set_owner(sp, 1, PMM_OWNER_KSTACK, PMM_OWNER_VMALLOC), 0);
    e0 = errors_now();
    kstack_free(top);
    assert_int_equal(errors_now() - e0, 1);
    assert_int_equal(pmm_set_owner(sp, 1, PMM_OWNER_VMALLOC, PMM_OWNER_KSTACK), 0);
    kstack_free(top);
    /* sizes that wrap */
    assert_null(vmalloc(0xFFFFFFFFu));
    assert_null(vmalloc(0xFFFFF001u));
    assert_int_equal(kstack_alloc(0xFFFFFFFFu), 0);
    vfree(host_virt_ptr(MM_META_START));
    kstack_free(0xFFFFFFFFu);
    kstack_free(VMALLOC_END + 1u);
    check_every_layer();
}

/* ---- heap/slab under memory pressure: quarantine drained, slabs reaped, retried ---- */
static int ctor_calls;
static void ctor_alloc(void *obj)
{
    ctor_calls++;
    void *p = kmalloc(24); /* allocates from inside a slab being built, under pressure */
    memset(obj, 0, 48);
    kfree(p);
}

static void test_pressure(void **state)
{
    crash_watch(60);
#ifdef MM_DEBUG
    mm_debug_set(1);
    fresh(state);
#endif
    enum { N = 20000 };
    static void *p[N];
    /*
     * The heap's own blocks: with the PMM dry, whether the ctor's new slab finds
     * its descriptor page already mapped depends on where the 3000-byte blocks
     * lie; the CPUs' block caches round them to 3072 and move them (on i386
     * the slab then needs a page the PMM no longer has: a correct NULL).
     */
    mm_set_block_cache(0);
    unsigned n = 0;
    while (n < N && (p[n] = kmalloc(n % 3 ? 40 : 3000)) != NULL)
        n++;
    assert_true(n > 100 && n < N);
    check_every_layer();
    assert_int_equal(kmem_cache_check(), 0);
    for (unsigned i = 0; i < n; i++) {
        if (i % 3 == 0 || i % 2 == 0) { /* every big block, half the small objects */
            kfree(p[i]);
            p[i] = NULL;
        }
    }
    check_every_layer();
    /* memory is short: big blocks, small objects and a cache with a ctor all must fit now */
    kmem_cache_t *c = kmem_cache_create("attack", 48, 0, ctor_alloc);
    assert_non_null(c);
    void *big = kmalloc(64 * 1024);
    void *o = kmem_cache_alloc(c);
    assert_non_null(o);
    kmem_cache_free(c, o);
    kfree(big);
    for (unsigned i = 0; i < n; i++)
        kfree(p[i]);
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
    assert_int_equal(kmem_cache_check(), 0);
    assert_non_null(big);
#ifdef MM_DEBUG
    mm_debug_set(0);
#endif
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh)
    const struct CMUnitTest tests[] = {
        T(test_map_meta_at_top_wrap),
        T(test_map_meta_unaligned_top),
        T(test_map_lies),
        T(test_map_refused_state),
        T(test_alloc_args),
        T(test_free_foreign),
        T(test_owner_windows),
        T(test_vfree_tampered),
        T(test_pressure),
    };
    if (getenv("ATTACK"))
        cmocka_set_test_filter(getenv("ATTACK"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

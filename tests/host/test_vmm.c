/*
 * test_vmm.c - page tables on the simulated MMU, and the virtual heap that
 * grows and shrinks through them.
 *
 * After every operation a software walker reads the tables straight from
 * simulated physical memory and compares every mapping made through vmm_map
 * with a shadow; vmm_check(), pmm_check() and heap_check() run too.
 */
#include <stdio.h>

#include "harness.h"
#include "heap_internal.h"
#include "pmm.h"
#include "vmm.h"

#define MB        (1024u * 1024u)
#define RAM       (48 * MB)
/* inside the host window, between the direct map and the heap */
#define FREE_AREA 0xCF000000u

/* ---- shadow of the mappings made through vmm_map ---- */
#define SHADOW 512
struct mapping {
    vaddr_t v;
    paddr_t p;
    uint32_t flags;
};
static struct mapping shadow[SHADOW];
static int nshadow;

static uint32_t *pd_host(void)
{
    vmm_stats_t s;
    vmm_get_stats(&s);
    return (uint32_t *)(host_phys_base() + s.page_directory);
}

/* Walk the tables like the MMU: the physical address behind v, or 0. */
static paddr_t walk(vaddr_t v, uint32_t *flags)
{
    uint32_t pde = pd_host()[VMM_PDX(v)];
    if (!(pde & PAGE_PRESENT))
        return 0;
    uint32_t pte = ((uint32_t *)(host_phys_base() + VMM_FRAME(pde)))[VMM_PTX(v)];
    if (!(pte & PAGE_PRESENT))
        return 0;
    if (flags)
        *flags = (pte & PAGE_USER && pde & PAGE_USER ? PAGE_USER : 0) | (pte & PAGE_WRITABLE);
    return VMM_FRAME(pte);
}

static void check_all(void)
{
    assert_int_equal(vmm_check(), 0);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(heap_check(), 0);
    for (int i = 0; i < nshadow; i++) {
        uint32_t fl = 0;
        if (walk(shadow[i].v, &fl) != shadow[i].p || fl != shadow[i].flags)
            fail_msg("0x%08x should map 0x%08x flags %x", shadow[i].v, shadow[i].p,
                     shadow[i].flags);
        assert_int_equal(vmm_get_physical(shadow[i].v + 0x123), shadow[i].p + 0x123);
    }
    vmm_stats_t s;
    vmm_get_stats(&s);
    assert_true(s.mapped_pages >= (uint32_t)nshadow);
}

/* A whole fresh memory manager: early heap, PMM over RAM, paging on. */
static int fresh_paging(void **state)
{
    fresh_paging_ram(RAM);
    nshadow = 0;
    return 0;
}

static void test_init_maps_kernel_and_leaves_null_unmapped(void **state)
{
    vmm_stats_t s;
    vmm_get_stats(&s);
    assert_true(s.paging_enabled);
    assert_int_equal(walk(0, NULL), 0);
    assert_int_equal(vmm_get_physical(0x10), 0);
    assert_int_equal(vmm_get_physical(0x100000), 0x100000);             /* kernel image */
    assert_int_equal(vmm_get_physical(HEAP_START + 8), HEAP_START + 8); /* early heap */
    assert_int_equal(vmm_get_physical(KERNEL_VIRTUAL_BASE + 0x2345678), 0x2345678);
    assert_int_equal(vmm_get_physical(KERNEL_VIRTUAL_BASE + RAM), 0); /* direct map ends with RAM */
    assert_int_equal(pd_host()[VMM_RECURSIVE_SLOT], s.page_directory | 3);
    assert_true(vmm_identity_end() >= HEAP_START + INITIAL_HEAP_SIZE);
    assert_true(strstr(vmm_describe(0), "NULL"));
    /* pointers read out of poisoned memory, plus a field offset, are named (mm_debug.h) */
    assert_true(strstr(vmm_describe(0x6b6b6b6b + 8), "freed memory's poison"));
    assert_true(strstr(vmm_describe(0x5a5a5a5a), "fill of new memory"));
    assert_true(strstr(vmm_describe(0xcccccccc - 4), "red zone"));
    assert_false(strstr(vmm_describe(0x6b6b6b6b + 0x20000), "poison"));
    check_all();
    /* the CPU sets Accessed/Dirty in entries it walks: still a healthy directory */
    pd_host()[VMM_RECURSIVE_SLOT] |= PAGE_ACCESSED | PAGE_DIRTY;
    pd_host()[VMM_PDX(HEAP_START)] |= PAGE_ACCESSED;
    check_all();
}

/* Physical memory through the direct map is the same bytes. */
static void test_direct_map_aliases_physical_memory(void **state)
{
    paddr_t p = pmm_alloc_page();
    char *phys = host_phys_base() + p;
    char *virt = vmm_phys_to_virt(p);
    assert_non_null(virt);
    strcpy(virt, "through the direct map");
    assert_string_equal(phys, "through the direct map");
    pmm_free_page(p);
}

static void test_map_translate_unmap(void **state)
{
    pmm_stats_t before;
    pmm_get_stats(&before);
    vmm_stats_t vs0;
    vmm_get_stats(&vs0);
    paddr_t p = pmm_alloc_page();
    vmm_map_page(FREE_AREA, p, PAGE_PRESENT | PAGE_WRITABLE);
    shadow[nshadow++] = (struct mapping){FREE_AREA, p, PAGE_WRITABLE};
    check_all();
    /* the mapping is real: a write through it lands in the physical page */
    strcpy(host_virt_ptr(FREE_AREA), "mapped");
    assert_string_equal(host_phys_base() + p, "mapped");
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    assert_int_equal(vs.page_tables, vs0.page_tables + 1);
    vmm_unmap_page(FREE_AREA);
    nshadow = 0;
    check_all();
    assert_int_equal(vmm_get_physical(FREE_AREA), 0);
    assert_int_equal(pmm_page_state(p), 0); /* the spec: unmap frees the page */
    vmm_get_stats(&vs);
    assert_int_equal(vs.page_tables, vs0.page_tables); /* empty table given back */
    pmm_stats_t after;
    pmm_get_stats(&after);
    assert_int_equal(after.free_pages, before.free_pages);
    assert_int_equal(stats_now().error_count, 0);
}

static void test_user_only_when_asked(void **state)
{
    paddr_t a = pmm_alloc_page(), b = pmm_alloc_page();
    assert_int_equal(vmm_map(0x40000000, a, PAGE_WRITABLE), 0);
    assert_int_equal(vmm_map(0x40800000, b, PAGE_USER), 0);
    assert_int_equal(vmm_get_entry(0x40000000) & PAGE_USER, 0);
    assert_int_equal(pd_host()[VMM_PDX(0x40000000)] & PAGE_USER, 0);
    assert_int_equal(vmm_get_entry(0x40800000) & (PAGE_USER | PAGE_WRITABLE), PAGE_USER);
    assert_int_equal(pd_host()[VMM_PDX(0x40800000)] & PAGE_USER, PAGE_USER);
    shadow[nshadow++] = (struct mapping){0x40000000, a, PAGE_WRITABLE};
    shadow[nshadow++] = (struct mapping){0x40800000, b, PAGE_USER};
    check_all();
}

/*
 * The cache bits for device registers (the local APIC's page): PCD and PWT
 * reach the entry as given, vmm_check calls them healthy, vmm_dump shows
 * them and keeps a range of other cache bits apart; any other bit (PS,
 * global, the bits the MMU ignores) is still refused with one line.
 */
static void test_cache_bits_for_device_registers(void **state)
{
    paddr_t a = pmm_alloc_page(), b = pmm_alloc_page(), c = pmm_alloc_page();
    assert_int_equal(PAGE_WRITE_THROUGH, 0x008);
    assert_int_equal(PAGE_CACHE_DISABLE, 0x010);
    assert_int_equal(
        vmm_map(FREE_AREA, a,
                PAGE_PRESENT | PAGE_WRITABLE | PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH),
        0);
    vmm_map_page(FREE_AREA + PAGE_SIZE, b,
                 PAGE_WRITABLE | PAGE_WRITE_THROUGH); /* the spec's call */
    assert_int_equal(vmm_map(FREE_AREA + 2 * PAGE_SIZE, c, PAGE_WRITABLE), 0);
    shadow[nshadow++] = (struct mapping){FREE_AREA, a, PAGE_WRITABLE};
    shadow[nshadow++] = (struct mapping){FREE_AREA + PAGE_SIZE, b, PAGE_WRITABLE};
    shadow[nshadow++] = (struct mapping){FREE_AREA + 2 * PAGE_SIZE, c, PAGE_WRITABLE};
    check_all();
    /* the entries themselves, read from simulated memory as the MMU would */
    uint32_t *t = (uint32_t *)(host_phys_base() + VMM_FRAME(pd_host()[VMM_PDX(FREE_AREA)]));
    uint32_t ea = t[VMM_PTX(FREE_AREA)], eb = t[VMM_PTX(FREE_AREA) + 1],
             ec = t[VMM_PTX(FREE_AREA) + 2];
    assert_int_equal(ea & VMM_FLAG_BITS,
                     PAGE_PRESENT | PAGE_WRITABLE | PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH);
    assert_int_equal(eb & VMM_FLAG_BITS, PAGE_PRESENT | PAGE_WRITABLE | PAGE_WRITE_THROUGH);
    assert_int_equal(ec & VMM_FLAG_BITS, PAGE_PRESENT | PAGE_WRITABLE);
    assert_int_equal(vmm_get_entry(FREE_AREA), ea);
    assert_int_equal(vmm_get_entry(FREE_AREA + PAGE_SIZE), eb);
    /* the directory entry stays cached: the bits are the page's, not its table's */
    assert_int_equal(pd_host()[VMM_PDX(FREE_AREA)] & (PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH), 0);
    /* contiguous frames, but three kinds of caching: three lines */
    host_console_clear();
    vmm_dump();
    char line[96];
    snprintf(line, sizeof(line), "  0x%08x-0x%08x -> 0x%08x rw uncached\n", FREE_AREA,
             FREE_AREA + PAGE_SIZE - 1, a);
    assert_true(host_console_has(line));
    snprintf(line, sizeof(line), "  0x%08x-0x%08x -> 0x%08x rw write-through\n",
             FREE_AREA + PAGE_SIZE, FREE_AREA + 2 * PAGE_SIZE - 1, b);
    assert_true(host_console_has(line));
    snprintf(line, sizeof(line), "  0x%08x-0x%08x -> 0x%08x rw\n", FREE_AREA + 2 * PAGE_SIZE,
             FREE_AREA + 3 * PAGE_SIZE - 1, c);
    assert_true(host_console_has(line));
    assert_int_equal(stats_now().error_count, 0);
    /* bits outside the accepted set: refused with one line each, nothing mapped */
    static const uint32_t refused[] = {0x080 /* PS */, 0x100 /* G */, 0x200, 0x800,
                                       PAGE_CACHE_DISABLE | 0x080};
    paddr_t q = pmm_alloc_page();
    pmm_stats_t ps0;
    pmm_get_stats(&ps0);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        host_console_clear();
        assert_int_equal(vmm_map(0x40000000, q, PAGE_WRITABLE | refused[i]), -1);
        assert_non_null(strstr(mm_last_error(), "unknown flag bits"));
        const char *out = host_console_text();
        const char *nl = strchr(out, '\n');
        assert_non_null(nl);
        assert_null(strchr(nl + 1, '\n')); /* one line */
        assert_int_equal(vmm_get_entry(0x40000000), 0);
        assert_int_equal(stats_now().error_count, i + 1);
    }
    pmm_stats_t ps1;
    pmm_get_stats(&ps1);
    assert_int_equal(ps1.free_pages, ps0.free_pages); /* no page table left behind */
    check_all();
    /* unmapping an uncached page frees it like any other caller's page */
    vmm_unmap_page(FREE_AREA);
    nshadow = 0;
    shadow[nshadow++] = (struct mapping){FREE_AREA + PAGE_SIZE, b, PAGE_WRITABLE};
    shadow[nshadow++] = (struct mapping){FREE_AREA + 2 * PAGE_SIZE, c, PAGE_WRITABLE};
    assert_int_equal(pmm_page_state(a), 0);
    check_all();
    pmm_free_page(q);
}

/* Bad input: one line each, and nothing changes. */
static void test_bad_input_changes_nothing(void **state)
{
    paddr_t p = pmm_alloc_page(), q = pmm_alloc_page();
    assert_int_equal(vmm_map(FREE_AREA, p, PAGE_WRITABLE), 0);
    shadow[nshadow++] = (struct mapping){FREE_AREA, p, PAGE_WRITABLE};
    pmm_stats_t ps0;
    pmm_get_stats(&ps0);
    const struct bad_map bad[] = {
        {FREE_AREA + 4, q, 0, "not page-aligned"},
        {FREE_AREA + PAGE_SIZE, q + 8, 0, "physical address not page-aligned"},
        {FREE_AREA, q, PAGE_WRITABLE, "already mapped to"},
        {0, q, 0, "NULL page"},
        {0xFFC00000, q, 0, "page-table window"},
        {0x00100000, q, 0, "fixed mappings"},
        {KERNEL_VIRTUAL_BASE + 0x1000, q, 0, "fixed mappings"},
        {FREE_AREA + PAGE_SIZE, q, 0x100, "unknown flag bits"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(vmm_map(bad[i].v, bad[i].p, bad[i].flags), -1);
        if (!strstr(mm_last_error(), bad[i].why))
            fail_msg("vmm_map(0x%x): expected \"%s\", got \"%s\"", bad[i].v, bad[i].why,
                     mm_last_error());
        check_all();
    }
    vmm_unmap_page(FREE_AREA + PAGE_SIZE);
    assert_true(strstr(mm_last_error(), "not mapped"));
    vmm_unmap_page(0x00200000);
    assert_true(strstr(mm_last_error(), "fixed mappings"));
    vmm_unmap_page(FREE_AREA + 1);
    assert_true(strstr(mm_last_error(), "not page-aligned"));
    assert_int_equal(vmm_map(HEAP_VIRTUAL_START + 0x100000, q, PAGE_WRITABLE), -1);
    assert_true(strstr(mm_last_error(), "kernel heap"));
    check_all();
    pmm_stats_t ps1;
    pmm_get_stats(&ps1);
    assert_int_equal(ps1.free_pages, ps0.free_pages); /* no table allocated and kept */
    assert_int_equal(stats_now().error_count, 12);
    assert_int_equal(pmm_page_state(q), 1);
}

/* Mapping the page directory (or a table) somewhere and unmapping it never frees it. */
static void test_unmap_never_frees_paging_structures(void **state)
{
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    uint32_t table = VMM_FRAME(pd_host()[VMM_PDX(HEAP_START)]);
    assert_int_equal(vmm_map(0x40000000, vs.page_directory, PAGE_WRITABLE), 0);
    assert_int_equal(vmm_map(0x40001000, table, PAGE_WRITABLE), 0);
    vmm_unmap_page(0x40000000);
    vmm_unmap_page(0x40001000);
    assert_int_equal(pmm_page_state(vs.page_directory), 1);
    assert_int_equal(pmm_page_state(table), 1);
    check_all();
    /* and the heap's own pages cannot be pulled out through the public API */
    heap_init_virtual();
    vmm_unmap_page(HEAP_VIRTUAL_START);
    assert_true(strstr(mm_last_error(), "kernel heap"));
    assert_int_not_equal(vmm_get_physical(HEAP_VIRTUAL_START), 0);
    check_all();
}

/* A map that cannot get a page table fails and leaves nothing half-done. */
static void test_no_memory_for_a_table(void **state)
{
    static paddr_t all[RAM / PAGE_SIZE];
    uint32_t n = 0;
    paddr_t p;
    while ((p = pmm_alloc_page()) != 0)
        all[n++] = p;
    vmm_stats_t before;
    vmm_get_stats(&before);
    assert_int_equal(vmm_map(0x50000000, all[0], PAGE_WRITABLE), -1);
    assert_true(host_console_has("no memory for a page table"));
    vmm_stats_t after;
    vmm_get_stats(&after);
    assert_int_equal(after.page_tables, before.page_tables);
    assert_int_equal(after.mapped_pages, before.mapped_pages);
    assert_int_equal(vmm_get_physical(0x50000000), 0);
    for (uint32_t i = 0; i < n; i++)
        pmm_free_page(all[i]);
    check_all();
}

/* Random map / unmap / translate against the shadow, walker after every step. */
static void test_random_against_shadow(void **state)
{
    uint32_t rng = 777;
    pmm_stats_t ps0;
    pmm_get_stats(&ps0);
    for (int op = 0; op < 4000; op++) {
        rng_next(&rng);
        /* 4 areas of 4 MB, 64 pages each: tables come and go */
        vaddr_t v = 0x60000000u + (rng % 4) * 0x400000u + ((rng >> 8) % 64) * PAGE_SIZE;
        int i;
        for (i = 0; i < nshadow && shadow[i].v != v; i++)
            ;
        if (i < nshadow) {
            vmm_unmap_page(v);
            shadow[i] = shadow[--nshadow];
        } else if (nshadow < SHADOW) {
            paddr_t p = pmm_alloc_page();
            uint32_t fl = (rng >> 20) & 1 ? PAGE_WRITABLE : 0;
            assert_int_equal(vmm_map(v, p, fl), 0);
            shadow[nshadow++] = (struct mapping){v, p, fl};
        }
        check_all();
    }
    while (nshadow)
        vmm_unmap_page(shadow[--nshadow].v);
    check_all();
    pmm_stats_t ps1;
    pmm_get_stats(&ps1);
    assert_int_equal(ps1.free_pages, ps0.free_pages);
    assert_int_equal(stats_now().error_count, 0);
}

/* ---------------------------------------------------------- virtual heap ---- */

static int in_virtual_heap(void *p)
{
    char *base = host_virt_ptr(HEAP_VIRTUAL_START);
    return (char *)p >= base && (char *)p < base + (HEAP_VIRTUAL_END - HEAP_VIRTUAL_START);
}

/* heap_init_virtual: kmalloc moves to HEAP_VIRTUAL_START; early blocks stay valid. */
static void test_heap_moves_and_early_blocks_stay_valid(void **state)
{
    char *early = t_kmalloc(100);
    strcpy(early, "early");
    heap_init_virtual();
    CHECK_HEAP();
    memory_stats_t s = stats_now();
    assert_true(s.paging_enabled);
    assert_int_equal(s.heap_virtual_size, 16 * PAGE_SIZE);
    char *late = t_kmalloc(100);
    assert_true(in_virtual_heap(late));
    assert_false(in_virtual_heap(early));
    assert_string_equal(early, "early");
    t_kfree(early);
    /* freed early memory is not handed out again: allocations stay virtual */
    for (int i = 0; i < 10; i++)
        assert_true(in_virtual_heap(t_kmalloc(64)));
    t_kfree(late);
    assert_int_equal(stats_now().error_count, 0);
    heap_init_virtual();
    assert_true(strstr(mm_last_error(), "already exists"));
}

/* The heap grows past 16 MB page by page, then gives the pages back. */
static void test_heap_grows_past_16mb_and_shrinks(void **state)
{
    heap_init_virtual();
    mm_set_block_cache(0); /* the heap's own growth and shrink: a freed block goes back at once */
    pmm_stats_t ps0;
    pmm_get_stats(&ps0);
    enum { CHUNK = 64 * 1024, N = 300 }; /* 300 x 64 KB = 18.75 MB */
    static unsigned char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = t_kmalloc(CHUNK);
        assert_non_null(p[i]);
        assert_true(in_virtual_heap(p[i]));
        memset(p[i], i, CHUNK);
    }
    memory_stats_t s = stats_now();
    assert_true(s.heap_virtual_size > 16 * MB);
    assert_true(s.phys_used_pages >= ps0.used_pages + 16 * MB / PAGE_SIZE);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < CHUNK; k += 997)
            assert_int_equal(p[i][k], (unsigned char)i);
    }
    for (int i = N - 1; i >= 0; i--)
        t_kfree(p[i]);
    s = stats_now();
    assert_true(s.heap_virtual_size <= 16 * PAGE_SIZE + 64 * PAGE_SIZE);
    assert_true(s.heap_virtual_peak > 16 * MB);
    pmm_stats_t ps1;
    pmm_get_stats(&ps1);
    /* every page went back but what the small heap still holds */
    assert_true(ps1.free_pages + 80 >= ps0.free_pages);
    assert_int_equal(s.error_count, 0);
}

/* When the PMM runs dry, kmalloc returns NULL and nothing is leaked. */
static void test_heap_growth_fails_cleanly(void **state)
{
    heap_init_virtual();
    pmm_stats_t ps0;
    pmm_get_stats(&ps0);
    void *big = t_kmalloc(RAM); /* more than all RAM */
    assert_null(big);
    assert_true(host_console_has("out of memory"));
    pmm_stats_t ps1;
    pmm_get_stats(&ps1);
    assert_int_equal(ps1.free_pages, ps0.free_pages);
    assert_non_null(t_kmalloc(1000)); /* still usable */
    /* fill almost everything, then ask for more */
    int n = 0;
    while (t_kmalloc(256 * 1024))
        n++;
    assert_true(n > 100);
    CHECK_HEAP();
    assert_int_equal(pmm_check(), 0);
}

/*
 * The last block is free and big enough, but a smaller block heads its size
 * class, so the class lookup misses it.  Expect kmalloc to use it (this used
 * to wrap a 32-bit subtraction and fail on i386).
 */
static void test_heap_grow_finds_hidden_last_block(void **state)
{
    heap_init_virtual();
    mm_set_block_cache(0); /* the heap's own growth and shrink: a freed block goes back at once */
    /* fill the initial 64 KB so that the last block is free with 1080 bytes (the
       separator is too big for a size-class cache: a block like the others) */
    const size_t sep_size = SLAB_KMALLOC_MAX + 8;
    char *fill = t_kmalloc(64 * 1024 - 4 * HDR - 1080 - 1024 - sep_size);
    assert_non_null(fill);
    char *small = t_kmalloc(1024), *sep = t_kmalloc(sep_size);
    t_kfree(small); /* a 1024-byte free block heads the class of 1040 */
    assert_int_equal(stats_now().heap_virtual_size, 64 * 1024);
    void *p = t_kmalloc(1040);
    assert_non_null(p);
    assert_int_equal(stats_now().heap_virtual_size, 64 * 1024); /* no growth was needed */
    (void)fill, (void)sep;
}

/*
 * | big (4 MB, freed) | s (600 B) | free tail |
 * Expect kfree(s) to unmap 64 KB, not the megabytes it makes free: a small
 * free does bounded work; later frees go on shrinking.
 */
static void test_small_free_unmaps_a_bounded_amount(void **state)
{
    heap_init_virtual();
    mm_set_block_cache(0); /* the heap's own growth and shrink: a freed block goes back at once */
    char *big = t_kmalloc(4 * MB), *s = t_kmalloc(600);
    assert_non_null(big);
    assert_non_null(s);
    uint32_t size0 = stats_now().heap_virtual_size;
    t_kfree(big);
    assert_int_equal(stats_now().heap_virtual_size, size0); /* s holds the end */
    t_kfree(s);
    assert_int_equal(size0 - stats_now().heap_virtual_size, 64 * 1024);
    for (int i = 0; i < 200 && stats_now().heap_virtual_size > 512 * 1024; i++)
        t_kfree(t_kmalloc(600)); /* each free goes on */
    assert_true(stats_now().heap_virtual_size <= 512 * 1024);
    assert_true(heap_trim() > 0); /* all at once, on request */
    CHECK_HEAP();
    assert_true(stats_now().heap_virtual_size <= 128 * 1024);
    assert_int_equal(heap_trim(), 0);
}

/* heap_reserve: the pages stay mapped, and kmalloc/kfree inside it never touch the PMM. */
static void test_heap_reserve(void **state)
{
    heap_reserve(MB);
    assert_non_null(strstr(mm_last_error(), "heap_reserve: 0xd0000000: no virtual heap"));
    heap_init_virtual();
    heap_reserve(0x20000000u);
    assert_non_null(strstr(mm_last_error(), "heap_reserve: 0xd0000000: 536870912 bytes: more"));
    heap_reserve(4 * MB);
    CHECK_HEAP();
    assert_true(stats_now().heap_virtual_size >= 4 * MB);
    pmm_stats_t ps0, ps1;
    pmm_get_stats(&ps0);
    static void *p[256];
    uint32_t rng = 3;
    for (int op = 0; op < 20000; op++) {
        int i = rng_below(&rng, 256);
        kfree(p[i]);
        p[i] = kmalloc(rng_below(&rng, 2) ? 1 + rng_below(&rng, 512) : 1 + rng_below(&rng, 16000));
        assert_non_null(p[i]);
    }
    for (int i = 0; i < 256; i++)
        kfree(p[i]);
    CHECK_HEAP();
    pmm_get_stats(&ps1);
    assert_int_equal(ps1.free_pages, ps0.free_pages); /* nothing mapped or unmapped */
    assert_true(stats_now().heap_virtual_size >= 4 * MB);
}

/*
 * | a (free) | x | b (free) | y | ...   early heap, a and b in one size class
 * Expect the switch to the virtual heap to park both (found by the fuzzer:
 * the region was marked retired first, so the second unlink was refused).
 */
static void test_switch_parks_free_blocks_of_one_class(void **state)
{
    char *a = t_kmalloc(100), *x = t_kmalloc(16), *b = t_kmalloc(100), *y = t_kmalloc(16);
    t_kfree(a);
    t_kfree(b);
    heap_init_virtual();
    CHECK_HEAP();
    assert_int_equal(stats_now().error_count, 0);
    char *v = t_kmalloc(100);
    assert_true((uintptr_t)v < HEAP_BASE || (uintptr_t)v >= HEAP_END); /* not a parked block */
    assert_int_equal(stats_now().error_count, 0);
    t_kfree(x);
    t_kfree(y);
}

static void test_heap_init_virtual_needs_paging(void **state)
{
    memory_init();
    vmm_reset();
    heap_init_virtual();
    assert_true(strstr(mm_last_error(), "paging is off"));
    assert_int_equal(stats_now().heap_virtual_size, 0);
    assert_non_null(t_kmalloc(10)); /* Phase 1 heap still works */
}

/* Random workload on the growing heap, every byte checked (shadow model). */
static void test_virtual_heap_random_workload(void **state)
{
    heap_init_virtual();
    enum { SLOTS = 64 };
    static struct shadow_slot live[SLOTS];
    memset(live, 0, sizeof(live));
    uint32_t rng = 99;
    for (int op = 0; op < 3000; op++) {
        rng_next(&rng);
        int i = rng % SLOTS;
        if (live[i].p) {
            for (size_t k = 0; k < live[i].n; k++)
                if (live[i].p[k] != live[i].c)
                    fail_msg("byte %zu of block %d changed", k, i);
            t_kfree(live[i].p);
            live[i].p = NULL;
        } else {
            live[i].n = (rng >> 8) % 4 ? 1 + (rng >> 12) % 512 : 1 + (rng >> 12) % (512 * 1024);
            live[i].c = (unsigned char)(rng >> 24);
            live[i].p = t_kmalloc(live[i].n);
            assert_non_null(live[i].p);
            memset(live[i].p, live[i].c, live[i].n);
        }
        if (op % 100 == 0)
            assert_int_equal(vmm_check() + pmm_check(), 0);
    }
    for (int i = 0; i < SLOTS; i++)
        kfree(live[i].p);
    CHECK_HEAP();
    assert_int_equal(stats_now().error_count, 0);
}

/* A layer above the VMM describes its own range through a registered describer. */
static const char *describe_a(vaddr_t a, char *buf, size_t len)
{
    snprintf(buf, len, "layer A at 0x%08x", (unsigned)a);
    return buf;
}
static const char *describe_none(vaddr_t a, char *buf, size_t len)
{
    (void)a, (void)buf, (void)len;
    return NULL;
}
static const char *describe_b(vaddr_t a, char *buf, size_t len)
{
    return describe_none(a, buf, len);
}
static const char *describe_c(vaddr_t a, char *buf, size_t len)
{
    return describe_none(a, buf, len);
}
static const char *describe_d(vaddr_t a, char *buf, size_t len)
{
    return describe_none(a, buf, len);
}

/*
 * Expect vmm_describe to ask the describer of the range (the VMM knows no layer
 * above it), to fall back to the name given when the describer says nothing,
 * a second registration of the same describer to move its range, and the
 * fifth describer refused with a report.
 */
static void test_registered_describers(void **state)
{
    assert_int_equal(vmm_register_describer(0x40000000u, 0x40000fffu, "A", describe_a), 0);
    assert_string_equal(vmm_describe(0x40000010u), "layer A at 0x40000010");
    assert_int_equal(vmm_register_describer(0x50000000u, 0x50000fffu, "A", describe_a), 0);
    assert_null(strstr(vmm_describe(0x40000010u), "layer A"));
    assert_string_equal(vmm_describe(0x50000020u), "layer A at 0x50000020");
    assert_int_equal(vmm_register_describer(0x60000000u, 0x60000fffu, "quiet layer", describe_none),
                     0);
    assert_string_equal(vmm_describe(0x60000000u), "quiet layer");
    /* four slots: A, the quiet one and B, C, D (and vmalloc's, if a test before made one) */
    int refused = vmm_register_describer(0x61000000u, 0x61000fffu, "B", describe_b) < 0;
    refused += vmm_register_describer(0x62000000u, 0x62000fffu, "C", describe_c) < 0;
    refused += vmm_register_describer(0x63000000u, 0x63000fffu, "D", describe_d) < 0;
    assert_true(refused >= 1);
    assert_non_null(strstr(mm_last_error(), "describer slots in use"));
    /* give the slots back (they outlive vmm_reset), so later tests see vmm_describe as it was */
    vmm_unregister_describer(describe_a);
    vmm_unregister_describer(describe_none);
    vmm_unregister_describer(describe_b);
    vmm_unregister_describer(describe_c);
    vmm_unregister_describer(describe_d);
    assert_null(strstr(vmm_describe(0x50000020u), "layer A"));
}

/*
 * The kernel's layers fill every describer slot before vmalloc's first
 * allocation (vmalloc registers its describer then).  Expect vmalloc to work
 * and its failed registration to cost the caller at most one report, not
 * one for every vmalloc; vmm_describe still names the vmalloc range.
 */
static void test_describers_full_before_vmalloc(void **state)
{
    vmm_describer_t fns[] = {describe_a, describe_none, describe_b, describe_c, describe_d};
    int n = 0;
    while (n < 5 && vmm_register_describer(0x40000000u + (vaddr_t)n * 0x1000u,
                                           0x40000fffu + (vaddr_t)n * 0x1000u, "L", fns[n]) == 0)
        n++;
    assert_true(n <= 4);
    uint32_t errors = stats_now().error_count;
    void *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = vmalloc(100);
        assert_non_null(v[i]);
    }
    assert_true(stats_now().error_count <= errors + 1);
    assert_non_null(strstr(vmm_describe(VMALLOC_START + 0x800000u), "vmalloc"));
    for (int i = 0; i < 3; i++)
        vfree(v[i]);
    for (int i = 0; i < 5; i++)
        vmm_unregister_describer(fns[i]);
}

/*
 * A describer that asks vmm_describe itself (about a neighbour in its own
 * range, say): it recursed once per neighbour to the range's end (a thousand
 * frames, each writing the one static buffer it read).  Expect no recursion: inside a describer,
 * the registry is not asked again (the inner call answers as if no layer had registered), and the
 * outer text is the describer's.
 */
static const char *describe_asks_again(vaddr_t a, char *buf, size_t len)
{
    const char *inner = vmm_describe(a + 4);
    snprintf(buf, len, "layer R (next: %s)", inner);
    return buf;
}

static void test_describer_asks_vmm_describe(void **state)
{
    assert_int_equal(vmm_register_describer(0x70000000u, 0x70000fffu, "R", describe_asks_again), 0);
    const char *why = vmm_describe(0x70000010u);
    assert_non_null(strstr(why, "layer R (next: "));
    assert_null(strstr(why + 5, "layer R"));
    vmm_unregister_describer(describe_asks_again);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh_paging)
    const struct CMUnitTest tests[] = {
        T(test_init_maps_kernel_and_leaves_null_unmapped),
        T(test_describers_full_before_vmalloc),
        T(test_registered_describers),
        T(test_describer_asks_vmm_describe),
        T(test_direct_map_aliases_physical_memory),
        T(test_map_translate_unmap),
        T(test_user_only_when_asked),
        T(test_bad_input_changes_nothing),
        T(test_cache_bits_for_device_registers),
        T(test_no_memory_for_a_table),
        T(test_unmap_never_frees_paging_structures),
        T(test_random_against_shadow),
        T(test_heap_moves_and_early_blocks_stay_valid),
        T(test_heap_grows_past_16mb_and_shrinks),
        T(test_heap_growth_fails_cleanly),
        T(test_heap_init_virtual_needs_paging),
        T(test_heap_grow_finds_hidden_last_block),
        T(test_small_free_unmaps_a_bounded_amount),
        T(test_heap_reserve),
        T(test_switch_parks_free_blocks_of_one_class),
        T(test_virtual_heap_random_workload),
    };
    return cmocka_run_group_tests_name("vmm", tests, NULL, NULL);
}

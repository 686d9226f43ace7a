/*
 * test_phase2.c (kernel) - the PMM, paging and the virtual heap on the real
 * machine, at whatever memory size QEMU was given (the boot matrix runs this
 * at 8 MB to 3 GB).  Each test starts with a fresh virtual heap; the runner
 * also runs vmm_check() and pmm_check() after each.
 */
#include "cpu.h"
#include "idt.h"
#include "ktest.h"
#include "memmap.h"
#include "pmm.h"
#include "slab.h"
#include "vmm.h"

#define MB (1024u * 1024u)

static memory_stats_t stats(void)
{
    memory_stats_t s;
    get_memory_stats(&s);
    return s;
}

/* The PMM's total is exactly the whole pages below 4 GB the loader called available. */
static void pmm_total_matches_the_map(void)
{
    static pmm_range_t map[MEMMAP_MAX_RANGES];
    int n = memmap_build(map, MEMMAP_MAX_RANGES);
    KT_ASSERT(n > 0);
    uint32_t expect = 0;
    for (int i = 0; i < n; i++) {
        if (map[i].type != PMM_RANGE_AVAILABLE || map[i].base >= 0x100000000ull)
            continue;
        uint64_t end = map[i].base + map[i].length;
        if (end > 0x100000000ull)
            end = 0x100000000ull;
        uint64_t first = (map[i].base + PAGE_SIZE - 1) / PAGE_SIZE, last = end / PAGE_SIZE;
        if (last > first)
            expect += (uint32_t)(last - first);
    }
    pmm_stats_t s;
    pmm_get_stats(&s);
    kprintf("    map: %u available pages; pmm: %u total, %u free, %u used, %u reserved\n", expect,
            s.total_pages, s.free_pages, s.used_pages, s.reserved_pages);
    KT_ASSERT(s.total_pages == expect);
    KT_ASSERT(s.total_pages == s.free_pages + s.used_pages + s.reserved_pages);
    /* one stage: the kernel maps all RAM, so every page is reachable and none was added */
    KT_ASSERT(s.unreachable_pages == 0 && s.ranges_added == 0);
    KT_ASSERT(s.reachable_limit == 0x100000000ull);
}

/* Every free page can be allocated exactly once (no duplicates, none lost) and freed back. */
static uint8_t seen[(0x100000000ull / PAGE_SIZE) / 8];

static void every_free_page_allocated_once(void)
{
    pmm_stats_t before;
    pmm_get_stats(&before);
    memset(seen, 0, sizeof(seen));
    uint32_t n = 0, dup = 0, reserved = 0;
    paddr_t p;
    /* without reclaim: the heap's hook would add its free tail to the count */
    while ((p = pmm_alloc_pages_owner(1, 0, PMM_OWNER_CALLER | PMM_NO_RECLAIM)) != 0) {
        uint32_t pfn = p / PAGE_SIZE;
        dup += (seen[pfn / 8] >> (pfn % 8)) & 1;
        seen[pfn / 8] |= (uint8_t)(1u << (pfn % 8));
        reserved += p < MB || (p >= HEAP_START && p < HEAP_START + INITIAL_HEAP_SIZE);
        n++;
    }
    KT_ASSERT(pmm_check() == 0);
    for (uint32_t pfn = 0; pfn < sizeof(seen) * 8; pfn++) {
        if ((seen[pfn / 8] >> (pfn % 8)) & 1)
            pmm_free_page(pfn * PAGE_SIZE);
    }
    pmm_stats_t after;
    pmm_get_stats(&after);
    kprintf("    %u pages allocated (%u MB), %u duplicates, %u from reserved memory\n", n, n / 256,
            dup, reserved);
    KT_ASSERT(n == before.free_pages);
    KT_ASSERT(dup == 0 && reserved == 0);
    KT_ASSERT(after.free_pages == before.free_pages && after.used_pages == before.used_pages);
    KT_ASSERT(stats().error_count == 0);
}

/* map / translate / unmap on the live page tables, and the TLB really follows. */
static void map_translate_unmap(void)
{
    const vaddr_t v = 0x40000000;
    vmm_stats_t vs0;
    vmm_get_stats(&vs0);
    paddr_t p = pmm_alloc_page();
    KT_ASSERT(p != 0);
    vmm_map_page(v, p, PAGE_PRESENT | PAGE_WRITABLE);
    KT_ASSERT(vmm_get_physical(v + 0x10) == p + 0x10);
    KT_ASSERT((vmm_get_entry(v) & PAGE_USER) == 0);
    *(volatile uint32_t *)v = 0xC0FFEE;
    if (p < VMM_DIRECT_MAP_SIZE) /* the same bytes through the direct map */
        KT_ASSERT(*(volatile uint32_t *)vmm_phys_to_virt(p) == 0xC0FFEE);
    /* remap the same virtual page to another frame: the TLB must not keep the old one */
    vmm_unmap_page(v);
    KT_ASSERT(vmm_get_physical(v) == 0);
    KT_ASSERT(pmm_page_state(p) == 0);
    paddr_t q = pmm_alloc_page();
    vmm_map_page(v, q, PAGE_WRITABLE);
    *(volatile uint32_t *)v = 0xBEEF;
    if (q < VMM_DIRECT_MAP_SIZE)
        KT_ASSERT(*(volatile uint32_t *)vmm_phys_to_virt(q) == 0xBEEF);
    vmm_unmap_page(v);
    vmm_stats_t vs1;
    vmm_get_stats(&vs1);
    KT_ASSERT(vs1.page_tables == vs0.page_tables); /* empty table went back */
    KT_ASSERT(stats().error_count == 0);
}

static void bad_mappings_refused(void)
{
    paddr_t p = pmm_alloc_page();
    KT_ASSERT(vmm_map(0x40001000, p, PAGE_WRITABLE) == 0);
    KT_ASSERT(vmm_map(0x40001000, p, PAGE_WRITABLE) == -1);
    KT_REPORTED("vmm_map", "already mapped");
    KT_ASSERT(vmm_map(0x40002001, p, 0) == -1);
    KT_REPORTED("vmm_map", "not page-aligned");
    KT_ASSERT(vmm_map(0, p, 0) == -1);
    KT_REPORTED("vmm_map", "NULL page");
    KT_ASSERT(vmm_map(HEAP_START, p, 0) == -1);
    KT_REPORTED("vmm_map", "fixed mappings");
    vmm_unmap_page(0x40005000);
    KT_REPORTED("vmm_unmap_page", "not mapped");
    vmm_unmap_page(0x00100000);
    KT_REPORTED("vmm_unmap_page", "fixed mappings");
    KT_ASSERT(vmm_get_physical(0x00100000) == 0x00100000); /* the kernel is still mapped */
    vmm_unmap_page(0x40001000);
    KT_ASSERT(stats().error_count == 6);
}

static volatile uint32_t fault_cr2, fault_count;
static const char *volatile fault_what;

static int expect_page_fault(struct interrupt_frame *f)
{
    fault_cr2 = read_cr2();
    fault_what = vmm_describe(fault_cr2);
    fault_count++;
    idt_print_diagnosis(f);
    f->eip += 2; /* the 2-byte mov below */
    return 1;
}

/* Past the heap's end is unmapped: a read faults and is named as such. */
static void unmapped_heap_page_faults_with_diagnosis(void)
{
    uint32_t beyond = HEAP_VIRTUAL_START + stats().heap_virtual_size + 16 * PAGE_SIZE, value;
    idt_set_fault_hook(14, expect_page_fault);
    fault_count = 0;
    kprintf("    (a read past the heap's end; the diagnosis below is expected)\n");
    __asm__ volatile("mov (%%eax), %%ecx" : "=c"(value) : "a"(beyond) : "memory");
    idt_set_fault_hook(14, NULL);
    KT_ASSERT(fault_count == 1 && fault_cr2 == beyond);
    KT_ASSERT(kt_contains(fault_what, "unmapped heap page"));
    KT_ASSERT(vmm_get_physical(0) == 0 && kt_contains(vmm_describe(0), "NULL page"));
    (void)value;
}

/* The heap grows past 16 MB (RAM permitting) and gives the pages back. */
static void heap_grows_and_shrinks(void)
{
    static uint8_t *chunk[512];
    const uint32_t size = 64 * 1024;
    /* the heap's own growth and shrink: a freed block goes back at once (on again below) */
    mm_set_block_cache(0);
    uint32_t free0 = stats().phys_free_pages;
    /* past 16 MB when RAM allows it, else until the PMM runs dry */
    int big_enough = free0 > (24 * MB) / PAGE_SIZE;
    int n = 0;
    while (n < 512 && (chunk[n] = kmalloc(size)) != NULL) {
        KT_ASSERT((uintptr_t)chunk[n] >= HEAP_VIRTUAL_START);
        memset(chunk[n], n, size);
        n++;
        if (big_enough && stats().heap_virtual_size > 17 * MB)
            break;
    }
    memory_stats_t s = stats();
    kprintf("    %d x 64 KB: heap grew to %u KB, %u physical pages left\n", n,
            s.heap_virtual_size / 1024, s.phys_free_pages);
    KT_ASSERT(big_enough ? s.heap_virtual_size > 16 * MB : n > 8);
    KT_ASSERT(heap_check() == 0);
    for (int i = 0; i < n; i++) {
        for (uint32_t k = 0; k < size; k += 4093)
            KT_ASSERT(chunk[i][k] == (uint8_t)i);
    }
    for (int i = n - 1; i >= 0; i--)
        kfree(chunk[i]);
    s = stats();
    kprintf("    freed: heap back to %u KB, %u physical pages free (%u before)\n",
            s.heap_virtual_size / 1024, s.phys_free_pages, free0);
    KT_ASSERT(s.heap_virtual_size <= 80 * PAGE_SIZE);
    KT_ASSERT(s.phys_free_pages + 80 >= free0);
    KT_ASSERT(s.error_count == 0 || !big_enough);
    mm_set_block_cache(1);
}

/* Blocks from the early heap stay valid and kfree-able after the switch. */
static void early_blocks_survive_the_switch(void)
{
    memory_init(); /* back to Phase 1 only */
    char *early = kmalloc(100);
    KT_ASSERT((uintptr_t)early < HEAP_START + INITIAL_HEAP_SIZE);
    memset(early, 'e', 100);
    heap_init_virtual();
    char *late = kmalloc(100);
    KT_ASSERT((uintptr_t)late >= HEAP_VIRTUAL_START && (uintptr_t)late <= HEAP_VIRTUAL_END);
    KT_ASSERT(early[99] == 'e');
    kfree(early);
    kfree(late);
    KT_ASSERT(stats().error_count == 0);
}

/* kmalloc's small sizes come from slabs: no header between objects, misuse reported. */
static void small_sizes_come_from_slabs(void)
{
    char *a = kmalloc(40), *b = kmalloc(40);
    KT_ASSERT(a && b);
    KT_ASSERT(b - a == (int)kmalloc_usable_size(a)); /* the next object of the same slab */
    KT_ASSERT(stats().slab_objects == 2);
    KT_CHECK_HEAP();
    kfree(a + 4);
    KT_REPORTED("kfree", "interior pointer");
    kfree(a);
    kfree(a);
    KT_REPORTED("kfree", "double free");
    kfree(b);
    KT_CHECK_HEAP();
    KT_ASSERT(stats().slab_objects == 0);
    KT_ASSERT(stats().error_count == 2);
}

static int ctor_runs;
static void count_ctor(void *obj)
{
    ctor_runs++;
    *(uint32_t *)obj = 0xC0FFEE;
}

/* A pool: objects constructed, aligned, destroy refused while live, pages back after. */
static void kmem_cache_lifecycle(void)
{
    enum { N = 3000 };
    static uint32_t *obj[N];
    uint32_t pages0 = stats().slab_pages;
    kmem_cache_t *c = kmem_cache_create("ktest-obj", 72, 64, count_ctor);
    KT_ASSERT(c != NULL);
    ctor_runs = 0;
    for (int i = 0; i < N; i++) {
        obj[i] = kmem_cache_alloc(c);
        KT_ASSERT(obj[i] && (uintptr_t)obj[i] % 64 == 0 && *obj[i] == 0xC0FFEE);
    }
    KT_CHECK_HEAP();
    kmem_cache_stats_t st;
    KT_ASSERT(kmem_cache_get_stats(c, &st) == 0);
    kprintf("    %u objects of %u bytes (stride %u): %u slabs, %u per slab\n", st.live,
            st.object_size, st.stride, st.slabs, st.objects_per_slab);
    KT_ASSERT(st.live == N && ctor_runs == (int)(st.slabs * st.objects_per_slab));
    KT_ASSERT(kmem_cache_destroy(c) == -1);
    KT_REPORTED("kmem_cache_destroy", "live objects");
    kmem_cache_free(c, kmalloc(72)); /* not this cache's */
    KT_REPORTED("kmem_cache_free", "not of 'ktest-obj'");
    for (int i = 0; i < N; i++)
        kmem_cache_free(c, obj[i]);
    KT_CHECK_HEAP();
    KT_ASSERT(kmem_cache_destroy(c) == 0);
    kmem_cache_reap();
    KT_CHECK_HEAP();
    KT_ASSERT(stats().slab_pages <= pages0 + 1); /* + the kmalloc-72 object leaked above */
}

const struct ktest ktest_phase2[] = {
    {"phase2: PMM total matches the multiboot map", pmm_total_matches_the_map},
    {"phase2: every free page allocated once, then freed", every_free_page_allocated_once},
    {"phase2: map, translate, unmap (TLB follows)", map_translate_unmap},
    {"phase2: bad mappings refused", bad_mappings_refused},
    {"phase2: unmapped heap page faults with diagnosis", unmapped_heap_page_faults_with_diagnosis},
    {"phase2: heap grows past 16 MB and shrinks", heap_grows_and_shrinks},
    {"phase2: early blocks survive the switch", early_blocks_survive_the_switch},
    {"phase2: small sizes come from slabs", small_sizes_come_from_slabs},
    {"phase2: kmem_cache lifecycle", kmem_cache_lifecycle},
    {NULL, NULL},
};

/*
 * test_ownpaging.c - mm/ in a kernel that has its own paging: built WITHOUT
 * mm/vmm.c (see the Makefile).  This file is that kernel's paging: a flat
 * table of its own for the three ranges mm/ maps, a "page table" page taken
 * from the PMM (pmm_alloc_page, inside glue_kmap: mm/'s lock is held, the
 * re-entry is counted) for each 4 MB it maps in, and the host's window made
 * real by glue_mapping_changed.  On it: the growing heap, the slabs,
 * kmem_cache, vmalloc with its guard pages and kernel stacks, with every
 * checker after each step; a two-stage PMM start-up; paging not on yet; the
 * kernel refusing a mapping; pages freed behind mm/'s back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "glue_common.h"
#include "harness.h"
#include "lock.h"
#include "slab.h"
#include "vmalloc.h"

/* ---------------------------------------------- the kernel's own paging ---- */

#define OWN_LO    HEAP_VIRTUAL_START
#define OWN_PAGES ((MM_META_END - OWN_LO + 1) / PAGE_SIZE)
#define OWN_SLOTS ((MM_META_END - OWN_LO + 1) / 0x400000u + 1)

static uint32_t own_map[OWN_PAGES];    /* virt -> phys, 0: unmapped */
static uint32_t own_tables[OWN_SLOTS]; /* the "page table" of each 4 MB, from our PMM */
static uint16_t own_used[OWN_SLOTS];   /* its present entries */
static int own_ready;                  /* paging on */
static int own_refuse_after = -1;      /* glue_kmap fails after this many more maps */
static unsigned long own_maps, own_unmaps;
static uintptr_t own_kunmap_lie;   /* glue_kunmap returns the page mapped here instead */
static unsigned long own_no_table; /* glue_kmap found no page for a page table */
static int own_kunmap_refuse;      /* glue_kunmap leaves the page mapped and returns 0 */

/* Emptied tables wait for the shootdown mm/ makes after its glue_kunmaps (host_tlb_hook). */
static uint32_t own_pending[OWN_SLOTS];
static unsigned own_npending;
static unsigned long own_shootdowns;

static void own_shootdown(uintptr_t virt, size_t pages)
{
    (void)virt;
    (void)pages;
    own_shootdowns++;
    while (own_npending)
        pmm_free_page(own_pending[--own_npending]);
}

int glue_kmap_ready(void)
{
    return own_ready;
}

int glue_kmap(uintptr_t virt, uintptr_t phys)
{
    assert_true(mm_lock_held()); /* mm/ calls its kernel pages under its lock */
    if (virt < OWN_LO || virt > MM_META_END || (virt | phys) & (PAGE_SIZE - 1))
        fail_msg("glue_kmap: mm/ asked for 0x%lx -> 0x%lx", (unsigned long)virt,
                 (unsigned long)phys);
    if (own_refuse_after == 0)
        return -1;
    if (own_refuse_after > 0)
        own_refuse_after--;
    uint32_t i = (uint32_t)(virt - OWN_LO) / PAGE_SIZE, slot = (uint32_t)(virt - OWN_LO) >> 22;
    if (own_map[i])
        return -1;
    if (!own_tables[slot]) {
        own_tables[slot] = pmm_alloc_page(); /* re-enters mm/ with its lock held */
        if (!own_tables[slot]) {
            own_no_table++;
            return -1;
        }
    }
    own_used[slot]++;
    own_map[i] = (uint32_t)phys;
    glue_mapping_changed(virt, phys);
    own_maps++;
    return 0;
}

uintptr_t glue_kunmap(uintptr_t virt)
{
    if (virt < OWN_LO || virt > MM_META_END)
        return 0;
    uint32_t i = (uint32_t)(virt - OWN_LO) / PAGE_SIZE, slot = (uint32_t)(virt - OWN_LO) >> 22;
    uint32_t p = own_map[i];
    if (!p || own_kunmap_refuse)
        return 0;
    own_map[i] = 0;
    glue_mapping_changed(virt, 0);
    if (--own_used[slot] == 0) {
        /* mm/glue.h: a table freed only after mm/'s shootdown for the run (own_shootdown) */
        if (own_npending < OWN_SLOTS)
            own_pending[own_npending++] = own_tables[slot];
        own_tables[slot] = 0;
    }
    own_unmaps++;
    if (own_kunmap_lie)
        return own_map[(own_kunmap_lie - OWN_LO) / PAGE_SIZE];
    return p;
}

uintptr_t glue_kmapped(uintptr_t virt)
{
    if (virt < OWN_LO || virt > MM_META_END)
        return 0;
    return own_map[(virt - OWN_LO) / PAGE_SIZE];
}

/* -------------------------------------------------------------- set-up ---- */

/* The kernel's start-up: Phase 1, the PMM over ram bytes, its paging, the virtual heap. */
static void own_start(uint32_t ram)
{
    memory_init(); /* gives a previous virtual heap's pages back (through glue_kunmap) */
    vmalloc_reset();
    memset(own_map, 0, sizeof(own_map));
    memset(own_tables, 0, sizeof(own_tables));
    memset(own_used, 0, sizeof(own_used));
    own_npending = 0;
    own_refuse_after = -1;
    own_kunmap_lie = 0;
    own_kunmap_refuse = 0;
    host_mmu_reset();
    pmm_init(ram);
    own_ready = 1;
    heap_init_virtual();
    host_console_clear();
}

static void own_check(void)
{
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(vmalloc_check(), 0);
    assert_int_equal(heap_check(), 0);
    assert_int_equal(kmem_cache_check(), 0);
}

/* Pages mapped in our table, and the PMM's count of mm/'s own pages, agree. */
static void assert_tables_match(void)
{
    uint32_t mapped = 0, tables = 0;
    for (uint32_t i = 0; i < OWN_PAGES; i++)
        mapped += own_map[i] != 0;
    for (uint32_t s = 0; s < OWN_SLOTS; s++)
        tables += own_tables[s] != 0;
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    assert_int_equal(mapped, ps.owner_pages[PMM_OWNER_HEAP] + ps.owner_pages[PMM_OWNER_META] +
                                 ps.owner_pages[PMM_OWNER_VMALLOC] +
                                 ps.owner_pages[PMM_OWNER_KSTACK]);
    assert_true(ps.owner_pages[PMM_OWNER_CALLER] >= tables);
    assert_int_equal(ps.owner_pages[PMM_OWNER_TABLE], 0); /* no VMM of ours */
}

/* --------------------------------------------------------------- tests ---- */

/* Paging not on yet: the heap stays in Phase 1, vmalloc fails, both say why. */
static void test_paging_not_on_yet(void **state)
{
    (void)state;
    memory_init();
    vmalloc_reset();
    host_mmu_reset();
    pmm_init(16u << 20);
    own_ready = 0;
    host_console_clear();
    heap_init_virtual();
    assert_true(host_console_has("heap_init_virtual: 0xd0000000: paging is off"));
    assert_int_equal(stats_now().heap_virtual_size, 0);
    assert_int_equal(stats_now().paging_enabled, 0);
    assert_null(vmalloc(100));
    assert_true(host_console_has("vmalloc: 100 bytes: paging is off"));
    assert_non_null(kmalloc(100)); /* the early heap still serves */
    assert_int_equal(own_maps, 0);
    own_ready = 1;
    heap_init_virtual();
    assert_true(stats_now().heap_virtual_size > 0);
    assert_int_equal(stats_now().paging_enabled, 1);
    own_check();
}

/* The heap grows and shrinks through our paging; the slabs map their metadata there too. */
static void test_heap_grows_on_own_paging(void **state)
{
    (void)state;
    own_start(32u << 20);
    unsigned long maps0 = own_maps;
    void *big = kmalloc(3u << 20);
    assert_non_null(big);
    memset(big, 0xA5, 3u << 20);
    assert_true(own_maps - maps0 >= (3u << 20) / PAGE_SIZE - 16); /* 16: mapped at start */
    void *small[500];
    for (int i = 0; i < 500; i++) {
        small[i] = kmalloc(16 + (size_t)i % 200);
        assert_non_null(small[i]);
        memset(small[i], i, 16 + (size_t)i % 200);
    }
    own_check();
    assert_tables_match();
    unsigned long unmaps0 = own_unmaps, shots0 = own_shootdowns;
    for (int i = 0; i < 500; i++) {
        for (size_t k = 0; k < 16 + (size_t)i % 200; k++)
            assert_int_equal(((unsigned char *)small[i])[k], (unsigned char)i);
        kfree(small[i]);
    }
    kfree(big);
    heap_trim();
    assert_true(own_unmaps > 0); /* the shrink went through glue_kunmap */
    /* ... and mm/ shot the run down in one call per run, not one per page */
    /* mm/ shoots down per run, never more often than it unmaps */
    assert_true(own_shootdowns - shots0 <= own_unmaps - unmaps0);
    assert_int_equal(own_npending, 0); /* every emptied table freed at a shootdown */
    own_check();
    assert_tables_match();
}

/* kmem_cache on the virtual heap's slabs. */
static void test_kmem_cache_on_own_paging(void **state)
{
    (void)state;
    own_start(32u << 20);
    kmem_cache_t *c = kmem_cache_create("own", 200, 0, NULL);
    assert_non_null(c);
    void *o[300];
    for (int i = 0; i < 300; i++) {
        o[i] = kmem_cache_alloc(c);
        assert_non_null(o[i]);
        memset(o[i], i, 200);
    }
    own_check();
    for (int i = 0; i < 300; i++) {
        assert_int_equal(((unsigned char *)o[i])[199], (unsigned char)i);
        kmem_cache_free(c, o[i]);
    }
    kmem_cache_destroy(c);
    own_check();
    assert_tables_match();
}

/* vmalloc and kernel stacks: pages mapped by us, guard pages left unmapped, all back on free. */
static void test_vmalloc_and_stacks_on_own_paging(void **state)
{
    (void)state;
    own_start(32u << 20);
    pmm_stats_t p0;
    pmm_get_stats(&p0);
    char *v = vmalloc(5 * PAGE_SIZE + 1);
    assert_non_null(v);
    memset(v, 7, 5 * PAGE_SIZE + 1);
    vaddr_t va =
        (vaddr_t)VMALLOC_START + (vaddr_t)((uintptr_t)v - (uintptr_t)host_virt_ptr(VMALLOC_START));
    assert_int_equal(glue_kmapped(va - PAGE_SIZE), 0);     /* guard below */
    assert_int_equal(glue_kmapped(va + 6 * PAGE_SIZE), 0); /* guard above */
    assert_true(vmalloc_is_guard(va - PAGE_SIZE));
    for (int k = 0; k < 6; k++)
        assert_int_not_equal(glue_kmapped(va + (vaddr_t)k * PAGE_SIZE), 0);
    vaddr_t top = kstack_alloc(8192);
    assert_true(top != 0);
    assert_int_equal(glue_kmapped(top - 8192 - PAGE_SIZE), 0); /* the guard below the stack */
    own_check();
    assert_tables_match();
    unsigned long unmaps0 = own_unmaps, shots0 = own_shootdowns;
    kstack_free(top);
    assert_int_equal(own_unmaps - unmaps0, 2);
    assert_int_equal(own_shootdowns - shots0, 1); /* one glue_tlb_shootdown for the stack */
    vfree(v);
    assert_int_equal(own_unmaps - unmaps0, 8);
    assert_int_equal(own_shootdowns - shots0, 2); /* ... and one for the 6 pages */
    own_check();
    pmm_stats_t p1;
    pmm_get_stats(&p1);
    assert_int_equal(p1.owner_pages[PMM_OWNER_VMALLOC], p0.owner_pages[PMM_OWNER_VMALLOC]);
    assert_int_equal(p1.owner_pages[PMM_OWNER_KSTACK], p0.owner_pages[PMM_OWNER_KSTACK]);
    assert_tables_match();
}

/* The kernel refuses a mapping: the call fails whole, nothing kept, nothing leaked. */
static void test_kernel_refuses_a_mapping(void **state)
{
    (void)state;
    own_start(32u << 20);
    pmm_stats_t p0;
    pmm_get_stats(&p0);
    own_refuse_after = 3;
    assert_null(vmalloc(10 * PAGE_SIZE));
    own_refuse_after = 2;
    assert_null(kmalloc(8u << 20)); /* the heap cannot grow that far */
    own_refuse_after = -1;
    own_check();
    assert_tables_match();
    pmm_stats_t p1;
    pmm_get_stats(&p1);
    assert_int_equal(p1.owner_pages[PMM_OWNER_VMALLOC], p0.owner_pages[PMM_OWNER_VMALLOC]);
    void *p = kmalloc(8u << 20); /* and works once the kernel maps again */
    assert_non_null(p);
    kfree(p);
    own_check();
}

/* A vmalloc page the kernel unmapped behind mm/'s back: vfree reports it and frees nothing. */
static void test_page_unmapped_behind_mms_back(void **state)
{
    (void)state;
    own_start(32u << 20);
    char *v = vmalloc(2 * PAGE_SIZE);
    assert_non_null(v);
    vaddr_t va =
        (vaddr_t)VMALLOC_START + (vaddr_t)((uintptr_t)v - (uintptr_t)host_virt_ptr(VMALLOC_START));
    uintptr_t phys = glue_kunmap(va + PAGE_SIZE); /* the kernel's own unmap */
    assert_true(phys != 0);
    assert_true(vmalloc_check() >= 1);
    assert_true(host_console_has("page not mapped"));
    vfree(v);
    assert_true(host_console_has("is not mapped: not freed"));
    glue_irqflags_t f = mm_lock(); /* our glue asserts mm/'s lock, so we take it to call it */
    assert_int_equal(glue_kmap(va + PAGE_SIZE, phys), 0); /* put back: vfree works */
    mm_unlock(f);
    host_console_clear();
    vfree(v);
    own_check();
}

/* Two-stage start-up: the first stage reachable only below 4 MB, then the rest. */
static void test_two_stage_start_on_own_paging(void **state)
{
    (void)state;
    memory_init();
    vmalloc_reset();
    memset(own_map, 0, sizeof(own_map));
    memset(own_tables, 0, sizeof(own_tables));
    memset(own_used, 0, sizeof(own_used));
    own_npending = 0;
    host_mmu_reset();
    pmm_range_t map[] = {{0, 16u << 20, PMM_RANGE_AVAILABLE}};
    pmm_layout_t layout = {.reachable = 4u << 20, .ram_end = 48u << 20};
    assert_int_equal(pmm_init_layout(map, 1, &layout), 0);
    own_ready = 1;
    heap_init_virtual();
    void *p[64];
    int n = 0;
    while (n < 64 && (p[n] = kmalloc(64u << 10)) != NULL)
        n++;
    assert_true(n > 0 && n < 64); /* below 4 MB only */
    for (uint32_t i = 0; i < OWN_PAGES; i++)
        assert_true(own_map[i] < (4u << 20));
    own_check();
    assert_int_equal(pmm_set_reachable(48u << 20), 0);
    assert_int_equal(pmm_add_range(16u << 20, 32u << 20), 0);
    while (n < 64 && (p[n] = kmalloc(64u << 10)) != NULL)
        n++;
    assert_int_equal(n, 64);
    own_check();
    for (int i = 0; i < n; i++)
        kfree(p[i]);
    own_check();
    assert_tables_match();
}

/*
 * The PMM runs dry exactly when the heap, growing, crosses into a 4 MB slot
 * that needs a new page table: glue_kmap's pmm_alloc_page (allowed, the
 * README says) runs the reclaim hooks, and the heap's own hook trims the
 * heap's free tail while the heap is halfway through growing it.
 *
 *   0xD0000000              3.8 MB       4 MB (new slot)  4.1 MB
 *   | allocated ...          | free tail  | being mapped ... |
 *                              ^ trimmed by the hook, under heap_grow's feet
 *
 * Expect the kmalloc to succeed or fail cleanly, every checker at 0, and
 * every byte of what it returns writable.
 */
/* The heap grown to end exactly at 4 MB (a page-table slot's end), its last 200 KB free. */
static void heap_to_slot_edge(void **a, void **x1)
{
    *a = kmalloc(3u << 20);
    assert_non_null(*a);
    memory_stats_t m = stats_now();
    uint32_t end = m.heap_virtual_size, tail = m.largest_free_block;
    *x1 = kmalloc(tail + (4u << 20) - end - (200u << 10));
    assert_non_null(*x1);
    assert_int_equal(stats_now().heap_virtual_size, (4u << 20) - (200u << 10));
    void *x2 = kmalloc((200u << 10) - HEAP_HEADER_SIZE);
    assert_non_null(x2);
    assert_int_equal(stats_now().heap_virtual_size, 4u << 20);
    kfree(x2); /* a free tail of 200 KB: too little for kfree to shrink */
    assert_int_equal(stats_now().heap_virtual_size, 4u << 20);
    own_check();
}

static paddr_t held[(32u << 20) / PAGE_SIZE];
static uint32_t nheld;

/* Hold every free page but `left` (no reclaim: it would trim the heap's tail now). */
static void pmm_hold_all_but(uint32_t left)
{
    paddr_t p;
    nheld = 0; /* (a failed test's pages went with its PMM) */
    while ((p = pmm_alloc_pages_owner(1, 0, PMM_OWNER_CALLER | PMM_NO_RECLAIM)) != 0)
        held[nheld++] = p;
    for (uint32_t i = 0; i < left; i++)
        pmm_free_page(held[--nheld]);
}

static void pmm_release_held(void)
{
    while (nheld)
        pmm_free_page(held[--nheld]);
}

/*
 * kmalloc(300 KB) grows the heap past 4 MB with 4 pages free: the next page of
 * each of the block map's two bitmaps and of its marks (a page of marks a
 * megabyte of heap: mm/blockmap.h), one heap page; none for the page table.
 */
static void grow_past_slot_edge(void)
{
    pmm_hold_all_but(4);
    unsigned long no_table = own_no_table;
    unsigned char *b = kmalloc(300u << 10);
    assert_int_equal(own_no_table, no_table + 1); /* the trap was sprung: the PMM was dry */
    own_check();
    if (b)
        memset(b, 0x5A, 300u << 10);
    kfree(b);
    pmm_release_held();
    own_check();
}

static void test_table_alloc_reclaims_mid_growth(void **state)
{
    (void)state;
    void *a, *x1;
    own_start(32u << 20);
    heap_to_slot_edge(&a, &x1);
    grow_past_slot_edge();
    kfree(x1);
    kfree(a);
    own_check();
    assert_tables_match();
}

/*
 * The same with the kernel's own reclaim hook, a shrinker that frees a cache
 * of its own with kfree (what the hooks are for, pmm.h): run for the page
 * table, it frees the block just before the heap's free tail, while the heap
 * is halfway through growing that tail.
 */
static void *shrinker_cache;
static size_t shrinker(void)
{
    if (!shrinker_cache)
        return 0;
    kfree(shrinker_cache);
    shrinker_cache = NULL;
    return 1;
}

static void test_shrinker_kfree_mid_growth(void **state)
{
    (void)state;
    void *a;
    own_start(32u << 20);
    heap_to_slot_edge(&a, &shrinker_cache);
    assert_int_equal(pmm_register_reclaim(shrinker), 0);
    grow_past_slot_edge();
    pmm_unregister_reclaim(shrinker);
    kfree(shrinker_cache);
    kfree(a);
    own_check();
    assert_tables_match();
}

/*
 * A glue_kunmap that lies: it unmaps v1's page but returns the physical page
 * of v2, another live vmalloc page (same owner in the PMM).
 *
 * Expect vfree(v1) to report it and free nothing: v2's page stays v2's (not
 * freed while still mapped, to be handed out again under v2's feet).
 */
static void test_kunmap_returns_another_page(void **state)
{
    (void)state;
    own_start(32u << 20);
    char *v1 = vmalloc(PAGE_SIZE), *v2 = vmalloc(PAGE_SIZE);
    assert_non_null(v1);
    assert_non_null(v2);
    vaddr_t base = VMALLOC_START;
    char *host_base = host_virt_ptr(VMALLOC_START);
    vaddr_t va2 = base + (vaddr_t)(v2 - host_base);
    paddr_t p2 = (paddr_t)glue_kmapped(va2);
    own_kunmap_lie = va2;
    vfree(v1);
    own_kunmap_lie = 0;
    assert_true(host_console_has("vfree: "));
    assert_int_equal(pmm_page_owner(p2), PMM_OWNER_VMALLOC); /* still v2's */
    assert_int_equal(pmm_check(), 0);
    memset(v2, 0x11, PAGE_SIZE);
    vfree(v2);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(vmalloc_check(), 0);
}

/*
 * The kernel refuses the n-th mapping, for every n through a workload that
 * grows the heap, fills slabs (their descriptors mapped in the metadata
 * window), makes a kmem_cache, vmallocs and takes kernel stacks.
 *
 * Expect, for every n: each call succeeds or fails whole, every checker at 0,
 * our table and the PMM's owners agree, and once all is freed and trimmed
 * the PMM holds no more of mm/'s pages than after a run not refused.
 */
static void test_kmap_refused_at_every_step(void **state)
{
    (void)state;
    uint32_t baseline = 0;
    unsigned long maps = 0; /* the workload's mappings, when none is refused */
    for (int n = -1; n <= (int)maps; n += 1) {
        own_start(32u << 20);
        unsigned long maps0 = own_maps;
        own_refuse_after = n;
        void *big = kmalloc(1u << 20);
        void *small[200];
        for (int i = 0; i < 200; i++)
            small[i] = kmalloc(8 + (size_t)(i * 37) % 900);
        kmem_cache_t *c = kmem_cache_create("refused", 300, 0, NULL);
        void *o[40] = {0};
        for (int i = 0; c && i < 40; i++)
            o[i] = kmem_cache_alloc(c);
        void *v = vmalloc(7 * PAGE_SIZE);
        vaddr_t st = kstack_alloc(8192);
        own_refuse_after = -1;
        if (n == -1)
            maps = own_maps - maps0;
        assert_true(maps > 256); /* the heap's 1 MB at least */
        own_check();
        assert_tables_match();
        if (st)
            kstack_free(st);
        vfree(v);
        for (int i = 0; c && i < 40; i++)
            if (o[i])
                kmem_cache_free(c, o[i]);
        if (c)
            kmem_cache_destroy(c);
        for (int i = 0; i < 200; i++)
            kfree(small[i]);
        kfree(big);
        kmem_cache_reap();
        heap_trim();
        own_check();
        assert_tables_match();
        pmm_stats_t ps;
        pmm_get_stats(&ps);
        uint32_t mine = ps.owner_pages[PMM_OWNER_HEAP] + ps.owner_pages[PMM_OWNER_META] +
                        ps.owner_pages[PMM_OWNER_VMALLOC] + ps.owner_pages[PMM_OWNER_KSTACK];
        if (n == -1)
            baseline = mine;
        if (mine > baseline)
            fail_msg("refused at %d: %u pages of mm/ kept, %u by a run not refused", n, mine,
                     baseline);
    }
}

/*
 * A glue_kunmap that does not unmap a page mm/ asks it to (and says 0,
 * "nothing was mapped"), while glue_kmapped says it is mapped.
 *
 * Expect vfree to report it in one line naming vfree and the address, the
 * page neither freed nor counted as unmapped (still mapped, still vmalloc's).
 */
static void test_kunmap_leaves_page_mapped(void **state)
{
    (void)state;
    own_start(32u << 20);
    char *v = vmalloc(PAGE_SIZE);
    assert_non_null(v);
    vaddr_t va = VMALLOC_START + (vaddr_t)(v - (char *)host_virt_ptr(VMALLOC_START));
    paddr_t p = (paddr_t)glue_kmapped(va);
    own_kunmap_refuse = 1;
    vfree(v);
    own_kunmap_refuse = 0;
    char want[64];
    snprintf(want, sizeof(want), "vfree: 0x%08x: ", (unsigned)va);
    assert_true(host_console_has(want));
    assert_true(host_console_has("still mapped"));
    assert_int_equal(glue_kmapped(va), p);
    assert_int_equal(pmm_page_owner(p), PMM_OWNER_VMALLOC);
    assert_int_equal(pmm_check(), 0);
}

int main(void)
{
    host_tlb_hook = own_shootdown;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paging_not_on_yet),
        cmocka_unit_test(test_heap_grows_on_own_paging),
        cmocka_unit_test(test_kmem_cache_on_own_paging),
        cmocka_unit_test(test_vmalloc_and_stacks_on_own_paging),
        cmocka_unit_test(test_kernel_refuses_a_mapping),
        cmocka_unit_test(test_page_unmapped_behind_mms_back),
        cmocka_unit_test(test_two_stage_start_on_own_paging),
        cmocka_unit_test(test_table_alloc_reclaims_mid_growth),
        cmocka_unit_test(test_shrinker_kfree_mid_growth),
        cmocka_unit_test(test_kunmap_returns_another_page),
        cmocka_unit_test(test_kunmap_leaves_page_mapped),
        cmocka_unit_test(test_kmap_refused_at_every_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

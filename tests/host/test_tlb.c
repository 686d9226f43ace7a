/*
 * test_tlb.c - TLB shootdown (mm/glue.h's glue_tlb_shootdown, issue 12 item 4):
 * every path that removes a kernel mapping shoots it down before its frame
 * can be handed out again, batched: one shootdown per vfree, per heap
 * shrink, per kernel stack, per vmm_unmap_page; the counts in memory_stats_t.
 *
 * The order checker: the host glue tells us each window page it unmaps and
 * the frame it mapped (host_unmap_hook); we note the frame and its owner then.
 * At each shootdown (host_tlb_hook) every noted page inside the shot range
 * must still be allocated to that owner (not freed, not handed out again):
 * else a violation.  At the end of each test nothing noted is left uncovered.
 * test_checker_catches_free_before_shootdown shows the checker failing on a
 * deliberately broken order.
 */
#include "harness.h"
#include "glue.h"
#include "glue_common.h"

#define MB  (1024u * 1024u)
#define RAM (16 * MB)

#define NOTED_MAX 4096
static struct {
    uintptr_t virt, phys;
    pmm_owner_t owner;
} noted[NOTED_MAX];
static unsigned nnoted, violations, overflow;

/* the shootdowns seen: ranges */
#define SHOTS_MAX 64
static struct {
    uintptr_t virt;
    size_t pages;
} shots[SHOTS_MAX];
static unsigned nshots;

static void on_unmap(uintptr_t virt, uintptr_t old_phys)
{
    if (nnoted == NOTED_MAX) {
        overflow++;
        return;
    }
    noted[nnoted].virt = virt;
    noted[nnoted].phys = old_phys;
    noted[nnoted].owner = pmm_page_owner((paddr_t)old_phys);
    nnoted++;
}

static void on_shootdown(uintptr_t virt, size_t pages)
{
    if (nshots < SHOTS_MAX) {
        shots[nshots].virt = virt;
        shots[nshots].pages = pages;
    }
    nshots++;
    unsigned kept = 0;
    for (unsigned i = 0; i < nnoted; i++) {
        if (noted[i].virt >= virt && noted[i].virt - virt < pages * PAGE_SIZE) {
            if (noted[i].owner == PMM_OWNER_NONE ||
                pmm_page_owner((paddr_t)noted[i].phys) != noted[i].owner) {
                fprintf(stderr,
                        "test_tlb: 0x%lx's frame 0x%lx left its owner before the "
                        "shootdown covered it\n",
                        (unsigned long)noted[i].virt, (unsigned long)noted[i].phys);
                violations++;
            }
            continue; /* covered */
        }
        noted[kept++] = noted[i];
    }
    nnoted = kept;
}

static int fresh(void **state)
{
    (void)state;
    host_unmap_hook = NULL;
    host_tlb_hook = NULL;
    host_tlb_return = 0;
    fresh_vmalloc_ram(RAM);
    nnoted = violations = overflow = nshots = 0;
    host_unmap_hook = on_unmap;
    host_tlb_hook = on_shootdown;
    return 0;
}

/* Every unmapped frame was covered by a shootdown while still its owner's; the checkers 0. */
static void assert_order_kept(void)
{
    assert_int_equal(overflow, 0);
    assert_int_equal(violations, 0);
    assert_int_equal(nnoted, 0);
    assert_int_equal(vmalloc_check(), 0);
    assert_int_equal(vmm_check(), 0);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(heap_check(), 0);
}

/* vfree of 64 pages: one shootdown, exactly the area; the frames back only after it. */
static void test_vfree_one_shootdown(void **state)
{
    (void)state;
    uint32_t free0 = free_pages();
    char *p = vmalloc(64 * PAGE_SIZE);
    assert_non_null(p);
    memset(p, 0x5a, 64 * PAGE_SIZE);
    unsigned shots0 = nshots;
    unsigned long calls0 = host_tlb_shootdowns;
    vfree(p);
    assert_int_equal(nshots - shots0, 1);
    assert_int_equal(host_tlb_shootdowns - calls0, 1);
    assert_int_equal(shots[shots0].virt, vmalloc_kvirt(p));
    assert_int_equal(shots[shots0].pages, 64);
    assert_order_kept();
    assert_true(free_pages() >= free0 - 1); /* the page table may stay */
}

/* The same vfree takes one system call to unmap the host mirror of all 64 pages. */
static void test_vfree_one_mirror_call(void **state)
{
    (void)state;
    char *p = vmalloc(64 * PAGE_SIZE);
    assert_non_null(p);
    unsigned long m0 = host_mirror_calls;
    vfree(p);
    assert_int_equal(host_mirror_calls - m0, 1);
    assert_order_kept();
}

/* A kernel stack: one shootdown for its pages. */
static void test_kstack_free_one_shootdown(void **state)
{
    (void)state;
    vaddr_t top = kstack_alloc(4 * PAGE_SIZE);
    assert_true(top != 0);
    unsigned shots0 = nshots;
    kstack_free(top);
    assert_int_equal(nshots - shots0, 1);
    assert_int_equal(shots[shots0].virt, top - 4 * PAGE_SIZE);
    assert_int_equal(shots[shots0].pages, 4);
    assert_order_kept();
}

/* The heap shrinking: one shootdown covers every heap page it unmapped. */
static void test_heap_shrink_one_shootdown(void **state)
{
    (void)state;
    heap_init_virtual();
    void *big = kmalloc(2 * MB);
    assert_non_null(big);
    memset(big, 1, 2 * MB);
    unsigned shots0 = nshots;
    kfree(big);
    heap_trim();
    unsigned heap_shots = 0;
    size_t heap_pages = 0;
    for (unsigned i = shots0; i < nshots && i < SHOTS_MAX; i++) {
        if (shots[i].virt >= HEAP_VIRTUAL_START && shots[i].virt <= HEAP_VIRTUAL_END) {
            heap_shots++;
            heap_pages += shots[i].pages;
        }
    }
    assert_int_equal(heap_shots, 1);
    assert_true(heap_pages >= (2 * MB - 64 * 1024) / PAGE_SIZE);
    assert_order_kept();
}

/*
 * vmm_unmap_page: one shootdown for the page.  The last page of a table: the
 * table's frame too is still the VMM's at the shootdown, and free after it.
 */
#define LONE 0xC8000000u /* in the host window, outside every owned range */
static pmm_stats_t at_shot;
static void snapshot(uintptr_t virt, size_t pages)
{
    on_shootdown(virt, pages);
    pmm_get_stats(&at_shot);
}

static void test_unmap_page_and_table(void **state)
{
    (void)state;
    host_tlb_hook = snapshot;
    pmm_stats_t before, after;
    pmm_get_stats(&before);
    paddr_t pg = pmm_alloc_page();
    assert_int_equal(vmm_map(LONE, pg, PAGE_WRITABLE), 0);
    unsigned shots0 = nshots;
    pmm_stats_t mapped;
    pmm_get_stats(&mapped);
    assert_int_equal(mapped.owner_pages[PMM_OWNER_TABLE],
                     before.owner_pages[PMM_OWNER_TABLE] + 1); /* a table of its own */
    vmm_unmap_page(LONE);
    pmm_get_stats(&after);
    assert_int_equal(nshots - shots0, 1);
    assert_int_equal(shots[shots0].virt, LONE);
    assert_int_equal(shots[shots0].pages, 1);
    /* at the shootdown: the table and the page still allocated; after it, both free */
    assert_int_equal(at_shot.owner_pages[PMM_OWNER_TABLE], mapped.owner_pages[PMM_OWNER_TABLE]);
    assert_int_equal(at_shot.owner_pages[PMM_OWNER_CALLER], mapped.owner_pages[PMM_OWNER_CALLER]);
    assert_int_equal(after.owner_pages[PMM_OWNER_TABLE], before.owner_pages[PMM_OWNER_TABLE]);
    assert_int_equal(after.owner_pages[PMM_OWNER_CALLER], before.owner_pages[PMM_OWNER_CALLER]);
    assert_int_equal(after.free_pages, before.free_pages);
    /* the slot's next table: its window page is shot down once (another CPU may cache it) */
    pg = pmm_alloc_page();
    shots0 = nshots;
    assert_int_equal(vmm_map(LONE, pg, PAGE_WRITABLE), 0);
    assert_int_equal(nshots - shots0, 1);
    assert_int_equal(shots[shots0].virt, VMM_PT_WINDOW + VMM_PDX(LONE) * PAGE_SIZE);
    /* ... only once: the window is fresh now */
    vmm_map(LONE + PAGE_SIZE, pmm_alloc_page(), PAGE_WRITABLE);
    assert_int_equal(nshots - shots0, 1);
    vmm_unmap_page(LONE + PAGE_SIZE);
    vmm_unmap_page(LONE);
    assert_order_kept();
}

/* memory_stats_t counts the calls and sums their returns (the CPUs interrupted). */
static void test_stats_count(void **state)
{
    (void)state;
    memory_stats_t s0, s1;
    get_memory_stats(&s0);
    host_tlb_return = 3;
    void *a = vmalloc(3 * PAGE_SIZE), *b = vmalloc(PAGE_SIZE);
    assert_non_null(a);
    assert_non_null(b);
    unsigned long calls0 = host_tlb_shootdowns;
    vfree(a);
    vfree(b);
    get_memory_stats(&s1);
    assert_int_equal(host_tlb_shootdowns - calls0, 2);
    assert_int_equal(s1.tlb_shootdowns - s0.tlb_shootdowns, 2);
    assert_int_equal(s1.tlb_ipis - s0.tlb_ipis, 6);
    host_tlb_return = 0;
    assert_order_kept();
}

/*
 * The checker can fail: a deliberately broken order (the frame freed, then
 * the shootdown) is seen.  Played on the glue directly, as a broken mm/ would.
 */
static void test_checker_catches_free_before_shootdown(void **state)
{
    (void)state;
    paddr_t pg = pmm_alloc_page();
    assert_int_equal(vmm_map(LONE, pg, PAGE_WRITABLE), 0);
    glue_mapping_changed(LONE, 0); /* the mirror unmapped: the checker notes the frame */
    pmm_free_page(pg);             /* broken: freed before the shootdown */
    glue_tlb_shootdown(LONE, 1);
    assert_int_equal(violations, 1);
    assert_int_equal(nnoted, 0);
}

/* A page noted but never shot down stays noted: the end-of-test check sees it. */
static void test_checker_catches_missing_shootdown(void **state)
{
    (void)state;
    paddr_t pg = pmm_alloc_page();
    assert_int_equal(vmm_map(LONE, pg, PAGE_WRITABLE), 0);
    glue_mapping_changed(LONE, 0);
    glue_tlb_shootdown(LONE + PAGE_SIZE, 1); /* another page's */
    assert_int_equal(nnoted, 1);
    assert_int_equal(violations, 0);
}

/* The PMM refuses a page held twice for a shootdown, and frees the held page once. */
static void test_held_twice_refused(void **state)
{
    (void)state;
    paddr_t pg = pmm_alloc_page();
    uint32_t free0 = free_pages();
    assert_int_equal(pmm_free_held("test", pg, PMM_OWNER_CALLER), 0);
    assert_int_equal(pmm_free_held("test", pg, PMM_OWNER_CALLER), -1);
    assert_non_null(strstr(mm_last_error(), "waiting for its TLB shootdown"));
    assert_int_equal(pmm_check(), 1); /* held, no shootdown yet: pmm_check says so */
    assert_int_equal(free_pages(), free0);
    pmm_tlb_shootdown_free(0xE0000000u, 1);
    assert_int_equal(free_pages(), free0 + 1);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(pmm_free_held("test", pg, PMM_OWNER_CALLER), -1); /* free now */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh)
    const struct CMUnitTest tests[] = {
        T(test_vfree_one_shootdown),
        T(test_vfree_one_mirror_call),
        T(test_kstack_free_one_shootdown),
        T(test_heap_shrink_one_shootdown),
        T(test_unmap_page_and_table),
        T(test_stats_count),
        T(test_checker_catches_free_before_shootdown),
        T(test_checker_catches_missing_shootdown),
        T(test_held_twice_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_owners.c (kernel) - who may free a page, on the live machine (issue
 * 9, bug 5): pmm_free_page of the page directory, a page table, the kernel
 * stack this suite runs on, a heap page, slab metadata or a vmalloc page is
 * refused in one line and changes nothing; the owner's own path still frees;
 * the PMM runs its reclaim hooks (the heap's: empty slabs, free tail) before
 * it fails, and never re-enters them.  Runs in Phase 2 (the runner also runs
 * vmm_check, pmm_check and vmalloc_check after each test).
 *
 * Before the owners, each pfree here wrecked the kernel: the directory's
 * page came back zeroed as the next page table (nested page fault, halt),
 * the stack page as somebody's data (a return to EIP 0), the heap page under
 * a live block (heap_check broken from then on).
 */
#include "../reclaim_hook.h"
#include "ktest.h"
#include "log.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"
#include "vmm.h"

#define SCRATCH 0x50000000u /* a free virtual address whose page table does not exist yet */

static paddr_t page_of(vaddr_t v)
{
    return vmm_get_physical(v) & ~(paddr_t)(PAGE_SIZE - 1);
}

/* The page table behind v: the directory's entry, read through the table window. */
static paddr_t table_of(vaddr_t v)
{
    return VMM_FRAME(vmm_get_entry(VMM_PT_WINDOW + VMM_PDX(v) * PAGE_SIZE));
}

/* A map that needs a new page table: the page a bad free released would be zeroed as one. */
static int map_scratch(void)
{
    paddr_t p = pmm_alloc_page();
    if (!p || vmm_map(SCRATCH, p, PAGE_WRITABLE) != 0)
        return 0;
    *(volatile uint32_t *)SCRATCH = 0x5ca7c4u;
    vmm_unmap_page(SCRATCH); /* the caller's page: the spec's unmap frees it */
    return pmm_page_state(p) == 0;
}

static void directory_refused(void)
{
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    KT_ASSERT(VMM_PDX(SCRATCH) != VMM_PDX(HEAP_VIRTUAL_START) && !table_of(SCRATCH));
    uint32_t e0 = mm_error_count();
    pmm_free_page(vs.page_directory);
    KT_ASSERT(mm_error_count() == e0 + 1);
    KT_REPORTED("pmm_free_page", "page of the page directory (owner vmm): not freed");
    KT_ASSERT(pmm_page_state(vs.page_directory) == 1);
    KT_ASSERT(pmm_page_owner(vs.page_directory) == PMM_OWNER_DIRECTORY);
    KT_ASSERT(map_scratch());
    KT_ASSERT(vmm_check() == 0);
}

static void page_table_refused(void)
{
    paddr_t t = table_of(HEAP_VIRTUAL_START);
    KT_ASSERT(t && pmm_page_owner(t) == PMM_OWNER_TABLE);
    pmm_free_pages(t, 1);
    KT_REPORTED("pmm_free_pages", "page of a page table (owner vmm): not freed");
    KT_ASSERT(pmm_page_state(t) == 1);
    KT_ASSERT(map_scratch());
    KT_CHECK_HEAP();
}

/* The page under our own stack frame: the suite runs on a kstack_alloc stack. */
static void this_stack_refused(void)
{
    volatile uint32_t here = 0x57ac4u;
    paddr_t sp = page_of((vaddr_t)&here);
    KT_ASSERT((vaddr_t)&here >= VMALLOC_START && (vaddr_t)&here <= VMALLOC_END);
    KT_ASSERT(pmm_page_owner(sp) == PMM_OWNER_KSTACK);
    pmm_free_page(sp);
    KT_REPORTED("pmm_free_page", "page of a kernel stack (owner vmalloc): not freed");
    KT_ASSERT(pmm_page_state(sp) == 1);
    KT_ASSERT(map_scratch());
    KT_ASSERT(here == 0x57ac4u);
}

static void heap_page_refused(void)
{
    uint8_t *b = kmalloc(3000); /* a block, not a slab object */
    KT_ASSERT(b != NULL);
    for (int i = 0; i < 3000; i++)
        b[i] = (uint8_t)(i * 13);
    paddr_t hp = page_of((vaddr_t)b);
    KT_ASSERT(pmm_page_owner(hp) == PMM_OWNER_HEAP);
    pmm_free_page(hp);
    KT_REPORTED("pmm_free_page", "page of the kernel heap (owner heap): not freed");
    KT_ASSERT(pmm_page_state(hp) == 1);
    KT_ASSERT(map_scratch());
    for (int i = 0; i < 3000; i++)
        KT_ASSERT(b[i] == (uint8_t)(i * 13));
    KT_CHECK_HEAP();
    kfree(b);
    KT_CHECK_HEAP();
}

/* Slab metadata and a vmalloc page: refused; vfree, the owner's path, frees. */
static void metadata_and_vmalloc_refused(void)
{
    void *o = kmalloc(32);
    KT_ASSERT(o != NULL);
    paddr_t mp = page_of(MM_META_START);
    KT_ASSERT(mp && pmm_page_owner(mp) == PMM_OWNER_META);
    pmm_free_page(mp);
    KT_REPORTED("pmm_free_page", "(owner slab): not freed");
    KT_ASSERT(pmm_page_state(mp) == 1);
    kfree(o);

    void *v = vmalloc(2 * PAGE_SIZE);
    KT_ASSERT(v != NULL);
    paddr_t vp = page_of((vaddr_t)v);
    pmm_free_pages(vp, 1);
    KT_REPORTED("pmm_free_pages", "page of a vmalloc allocation (owner vmalloc): not freed");
    KT_ASSERT(pmm_page_state(vp) == 1);
    KT_ASSERT(vmalloc_check() == 0);
    vfree(v);
    KT_ASSERT(pmm_page_state(vp) == 0);
    KT_CHECK_HEAP();
}

/* vmm_unmap_page of an alias of a heap page: the alias goes, the page stays the heap's. */
static void unmap_of_an_alias_keeps_the_page(void)
{
    uint8_t *b = kmalloc(3000);
    KT_ASSERT(b != NULL);
    paddr_t hp = page_of((vaddr_t)b);
    KT_ASSERT(vmm_map(SCRATCH, hp, PAGE_WRITABLE) == 0);
    uint32_t e0 = mm_error_count();
    vmm_unmap_page(SCRATCH);
    KT_ASSERT(mm_error_count() == e0);
    KT_ASSERT(pmm_page_owner(hp) == PMM_OWNER_HEAP);
    b[0] = 1;
    kfree(b);
    KT_CHECK_HEAP();
}

/*
 * On a small machine (the matrix's -m 8M): fill the heap until kmalloc says
 * no, free everything, and ask for 64 contiguous pages.  Expect them: the
 * PMM runs the heap's reclaim hook (empty slabs, free tail, their metadata).
 */
static void *fill[20000];

static void reclaim_after_a_full_heap(void)
{
    pmm_stats_t s0;
    pmm_get_stats(&s0);
    if (s0.total_pages > 16 * 256) {
        kprintf("    (%u MB of RAM: the heap cannot fill it; the -m 8M boot runs this)\n",
                (unsigned)(s0.total_pages / 256));
        return;
    }
    int n = 0;
    while (n < (int)(sizeof(fill) / sizeof(fill[0])) && (fill[n] = kmalloc(n % 4 ? 48 : 2000)))
        n++;
    KT_ASSERT(n > 100 && n < (int)(sizeof(fill) / sizeof(fill[0])));
    for (int i = 0; i < n; i++)
        kfree(fill[i]);
    KT_CHECK_HEAP();
    paddr_t run = pmm_alloc_pages(64, 0);
    pmm_stats_t s1;
    pmm_get_stats(&s1);
    kprintf("    %d allocations filled the heap; pmm_alloc_pages(64) = 0x%08x after %u reclaims\n",
            n, run, (unsigned)(s1.reclaims - s0.reclaims));
    KT_ASSERT(run != 0);
    KT_ASSERT(s1.reclaims == s0.reclaims + 1);
    pmm_free_pages(run, 64);
}

/* Every free page taken without reclaim: runs from the largest down (at most ~1800 of them). */
static struct {
    paddr_t base;
    uint32_t pages;
} held[4096];
static uint32_t nheld;

static void take_everything(void)
{
    nheld = 0;
    for (int k = PMM_MAX_ORDER; k >= 0; k--) {
        paddr_t a;
        while (nheld < sizeof(held) / sizeof(held[0]) &&
               (a = pmm_alloc_pages_owner(1u << k, 0, PMM_OWNER_CALLER | PMM_NO_RECLAIM)) != 0) {
            held[nheld].base = a;
            held[nheld++].pages = 1u << k;
        }
    }
}

static void give_everything_back(void)
{
    for (uint32_t i = 0; i < nheld; i++)
        pmm_free_pages(held[i].base, held[i].pages);
    nheld = 0;
}

static void reclaim_hooks_not_reentered(void)
{
    hook_calls = hook_depth = hook_max_depth = 0;
    kmem_cache_reap(); /* the heap's own hook then has nothing left to give */
    KT_ASSERT(pmm_register_reclaim(reclaim_hook) == 0);
    take_everything();
    KT_ASSERT(nheld < sizeof(held) / sizeof(held[0]));
    pmm_stats_t s;
    pmm_get_stats(&s);
    KT_ASSERT(s.free_pages == 0 && nheld > 0);
    /* the hook's spare: the last page of the last run (runs may be freed a page at a time) */
    held[nheld - 1].pages--;
    hook_spare = held[nheld - 1].base + held[nheld - 1].pages * PAGE_SIZE;
    if (held[nheld - 1].pages == 0)
        nheld--;
    paddr_t p = pmm_alloc_page();
    int calls1 = hook_calls, depth1 = hook_max_depth;
    paddr_t none = pmm_alloc_page();
    int calls2 = hook_calls;
    if (p)
        pmm_free_page(p);
    give_everything_back();
    pmm_unregister_reclaim(reclaim_hook);
    KT_ASSERT(p != 0 && none == 0);
    KT_ASSERT(calls1 == 1 && depth1 == 1 && calls2 == 2 && hook_max_depth == 1);
    KT_ASSERT(pmm_check() == 0);
}

const struct ktest ktest_owners[] = {
    {"owners: pfree of the page directory refused, map still works", directory_refused},
    {"owners: pfree of a page table refused", page_table_refused},
    {"owners: pfree of this kernel stack's page refused", this_stack_refused},
    {"owners: pfree of a heap page refused, the block intact", heap_page_refused},
    {"owners: slab metadata and vmalloc pages refused, vfree frees", metadata_and_vmalloc_refused},
    {"owners: unmap of an alias keeps the heap's page", unmap_of_an_alias_keeps_the_page},
    {"owners: reclaim gives 64 pages after a full heap (-m 8M)", reclaim_after_a_full_heap},
    {"owners: reclaim hooks run once, never nested", reclaim_hooks_not_reentered},
    {NULL, NULL},
};

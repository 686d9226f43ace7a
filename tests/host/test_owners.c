/*
 * test_owners.c - who may free a page: the PMM's owner byte, on simulated
 * physical memory with paging and the virtual heap (issue 9, bug 5), and
 * the reclaim hooks the PMM runs before it fails ("Also").
 *
 *   PMM page descriptor        the page is                 freed only by
 *   owner = directory          the VMM's page directory    (never)
 *   owner = page-table         a page table                the VMM
 *   owner = heap               a virtual heap page         vmm_heap_unmap
 *   owner = metadata           slab descriptors            vmm_meta_unmap
 *   owner = vmalloc / kstack   vmalloc / a kernel stack    vfree / kstack_free
 *   owner = caller             pmm_alloc_page(s)'s page    pmm_free_page(s)
 *
 * Expect a pmm_free_page(s) of anybody else's page to be refused in one line
 * naming the page, its owner and the function; the owner's own path still
 * frees; pmm_check, vmm_check, heap_check and vmalloc_check see a forged
 * owner or state.  pmm_check, vmm_check, vmalloc_check and heap_check run
 * after every case.
 */
#include "../reclaim_hook.h"
#include "harness.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"
#include "vmm.h"

#define MB (1024u * 1024u)

/* The PMM's per-page descriptor, as mm/pmm.c lays it out (to forge one). */
typedef struct {
    uint32_t next, prev;
    uint8_t state, head_order, node, owner; /* head:1, order:7 */
} page_desc_t;
_Static_assert(sizeof(page_desc_t) == 12, "mm/pmm.c's pmm_page_t");
enum { PG_FREE_STATE = 2, PG_USED_STATE = 3 };

static page_desc_t *desc(paddr_t page)
{
    pmm_stats_t s;
    pmm_get_stats(&s);
    return (page_desc_t *)(host_phys_base() + s.metadata_phys) + page / PAGE_SIZE;
}

/*
 * One forged descriptor byte (an owner or a state): with *field = forged,
 * check() counts a broken invariant and says `said` (when not NULL); then the
 * byte is put back.
 */
static void assert_check_sees(int (*check)(void), uint8_t *field, uint8_t forged, const char *said)
{
    uint8_t real = *field;
    host_console_clear();
    *field = forged;
    assert_true(check() > 0);
    if (said)
        assert_true(host_console_has(said));
    *field = real;
}

static int fresh(void **state)
{
    (void)state;
    fresh_every_layer(16 * MB);
    return 0;
}

static uint32_t errors(void)
{
    return stats_now().error_count;
}

/* The last report is "fn: 0x<page>: <what>" and ends in "not freed". */
static void assert_refused(const char *fn, paddr_t page, const char *what)
{
    char where[64];
    snprintf(where, sizeof(where), "%s: 0x%08lx: ", fn, (unsigned long)page);
    const char *last = mm_last_error();
    if (!strstr(last, where) || !strstr(last, what) || !strstr(last, "not freed"))
        fail_msg("expected \"%s%s ... not freed\", got \"%s\"", where, what, last);
}

static paddr_t phys_of(vaddr_t v)
{
    return vmm_get_physical(v) & ~(paddr_t)(PAGE_SIZE - 1);
}

static vaddr_t kvirt(void *p, vaddr_t base)
{
    return base + (vaddr_t)((char *)p - (char *)host_virt_ptr(base));
}

/* The page table behind virt: the directory's entry, read through the table window. */
static paddr_t table_of(vaddr_t virt)
{
    return VMM_FRAME(vmm_get_entry(VMM_PT_WINDOW + VMM_PDX(virt) * PAGE_SIZE));
}

/*
 * pfree of the page directory, then a map that needs a new page table.
 * Expect: "pmm_free_page: 0x...: page of the page directory (owner vmm): not
 * freed"; the directory stays allocated; the map works.  (Before: the next
 * allocation got the directory's page and zeroed it.)
 */
static void test_directory_refused(void **state)
{
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    uint32_t e0 = errors();
    pmm_free_page(vs.page_directory);
    assert_int_equal(errors(), e0 + 1);
    assert_refused("pmm_free_page", vs.page_directory, "page of the page directory (owner vmm)");
    assert_int_equal(pmm_page_state(vs.page_directory), 1);
    assert_int_equal(pmm_page_owner(vs.page_directory), PMM_OWNER_DIRECTORY);
    paddr_t p = pmm_alloc_page();
    assert_int_not_equal(p, vs.page_directory);
    assert_int_equal(vmm_map(0x50000000, p, PAGE_WRITABLE), 0);
    assert_int_equal(vmm_get_physical(0x50000000), p);
    check_every_layer();
    vmm_unmap_page(0x50000000);
    assert_int_equal(pmm_page_state(p), 0); /* the caller's page: the spec's unmap frees it */
    check_every_layer();
}

/* pmm_free_pages of a page table: refused; unmapping its last page frees it (the VMM's path). */
static void test_page_table_refused(void **state)
{
    paddr_t p = pmm_alloc_page();
    assert_int_equal(vmm_map(0x50000000, p, PAGE_WRITABLE), 0);
    paddr_t t = table_of(0x50000000);
    assert_int_equal(pmm_page_owner(t), PMM_OWNER_TABLE);
    pmm_free_pages(t, 1);
    assert_refused("pmm_free_pages", t, "page of a page table (owner vmm)");
    assert_int_equal(pmm_page_state(t), 1);
    check_every_layer();
    vmm_unmap_page(0x50000000);
    assert_int_equal(pmm_page_state(t), 0);
    assert_int_equal(pmm_page_state(p), 0);
    check_every_layer();
}

/* A heap page: refused; the live block in it survives; heap_check stays 0. */
static void test_heap_page_refused(void **state)
{
    char *b = kmalloc(3000); /* a block, not a slab object */
    assert_non_null(b);
    memset(b, 0xab, 3000);
    paddr_t hp = phys_of(kvirt(b, HEAP_VIRTUAL_START));
    assert_int_equal(pmm_page_owner(hp), PMM_OWNER_HEAP);
    pmm_free_page(hp);
    assert_refused("pmm_free_page", hp, "page of the kernel heap (owner heap)");
    assert_int_equal(pmm_page_state(hp), 1);
    /* before: the next map's page table took the page and zeroed the block */
    paddr_t p = pmm_alloc_page();
    assert_int_equal(vmm_map(0x50000000, p, PAGE_WRITABLE), 0);
    for (int i = 0; i < 3000; i++)
        assert_int_equal((unsigned char)b[i], 0xab);
    check_every_layer();
    vmm_unmap_page(0x50000000);
    kfree(b);
    check_every_layer();
}

/* The slab descriptors' page (allocator metadata): refused. */
static void test_metadata_page_refused(void **state)
{
    void *o = kmalloc(32); /* a slab object: its slab's descriptor page is mapped */
    assert_non_null(o);
    paddr_t mp = phys_of(MM_META_START);
    assert_int_not_equal(mp, 0);
    assert_int_equal(pmm_page_owner(mp), PMM_OWNER_META);
    pmm_free_pages(mp, 1);
    assert_refused("pmm_free_pages", mp, "allocators' metadata");
    assert_true(strstr(mm_last_error(), "(owner slab)") != NULL);
    assert_int_equal(pmm_page_state(mp), 1);
    kfree(o);
    check_every_layer();
}

/* A vmalloc page and a kernel stack page: refused; vfree / kstack_free free them. */
static void test_vmalloc_and_kstack_pages_refused(void **state)
{
    void *v = vmalloc(2 * PAGE_SIZE);
    assert_non_null(v);
    paddr_t vp = phys_of(kvirt(v, VMALLOC_START) + PAGE_SIZE);
    pmm_free_page(vp);
    assert_refused("pmm_free_page", vp, "page of a vmalloc allocation (owner vmalloc)");
    assert_int_equal(pmm_page_owner(vp), PMM_OWNER_VMALLOC);

    vaddr_t top = kstack_alloc(2 * PAGE_SIZE);
    assert_int_not_equal(top, 0);
    paddr_t sp = phys_of(top - PAGE_SIZE);
    pmm_free_pages(sp, 1);
    assert_refused("pmm_free_pages", sp, "page of a kernel stack (owner vmalloc)");
    assert_int_equal(pmm_page_owner(sp), PMM_OWNER_KSTACK);
    check_every_layer();

    vfree(v);
    kstack_free(top);
    assert_int_equal(pmm_page_state(vp), 0);
    assert_int_equal(pmm_page_state(sp), 0);
    check_every_layer();
}

/*
 * The owners' own paths: a run frees only as the owner its pages have.
 * Expect the caller's page refused to the heap's path, a heap page refused
 * to vmalloc's, and each freed by its own; pmm_set_owner hands a page over.
 */
static void test_owner_paths(void **state)
{
    paddr_t p = pmm_alloc_page();
    assert_int_equal(pmm_page_owner(p), PMM_OWNER_CALLER);
    pmm_free_pages_owner(p, 1, PMM_OWNER_HEAP);
    assert_refused("pmm_free_pages_owner", p, "(owner caller), not a heap page");
    assert_int_equal(pmm_page_state(p), 1);

    paddr_t h = pmm_alloc_pages_owner(4, 4 * PAGE_SIZE, PMM_OWNER_HEAP);
    assert_int_not_equal(h, 0);
    assert_int_equal(h % (4 * PAGE_SIZE), 0);
    pmm_free_pages_owner(h, 4, PMM_OWNER_VMALLOC);
    assert_refused("pmm_free_pages_owner", h,
                   "page of the kernel heap (owner heap), not a vmalloc");
    pmm_free_pages(h, 4);
    assert_refused("pmm_free_pages", h, "(owner heap): not freed");
    assert_int_equal(pmm_page_state(h + 3 * PAGE_SIZE), 1);
    check_every_layer();

    /* all or nothing: a run whose last page is someone else's is left alone */
    assert_int_equal(pmm_set_owner(h + 3 * PAGE_SIZE, 1, PMM_OWNER_HEAP, PMM_OWNER_CALLER), 0);
    pmm_free_pages_owner(h, 4, PMM_OWNER_HEAP);
    assert_refused("pmm_free_pages_owner", h + 3 * PAGE_SIZE, "(owner caller), not a heap page");
    assert_int_equal(pmm_page_state(h), 1);
    assert_int_equal(pmm_set_owner(h, 1, PMM_OWNER_VMALLOC, PMM_OWNER_HEAP), -1); /* not its */
    assert_int_equal(pmm_page_owner(h), PMM_OWNER_HEAP);
    check_every_layer();

    uint32_t e0 = errors();
    pmm_free_pages_owner(h, 3, PMM_OWNER_HEAP);
    pmm_free_page(h + 3 * PAGE_SIZE);
    pmm_free_page(p);
    assert_int_equal(errors(), e0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pmm_page_state(h + (paddr_t)i * PAGE_SIZE), 0);
    assert_int_equal(pmm_page_owner(p), PMM_OWNER_NONE);
    pmm_free_page(p);
    assert_true(strstr(mm_last_error(), "double free (page already free)") != NULL);
    check_every_layer();
}

/*
 * vmm_unmap_page of an alias: a heap page mapped a second time with
 * vmm_map, then unmapped.  Expect the alias gone and the page still the
 * heap's (before: the unmap freed it under the live heap).
 */
static void test_unmap_of_an_alias_keeps_the_page(void **state)
{
    char *b = kmalloc(3000);
    paddr_t hp = phys_of(kvirt(b, HEAP_VIRTUAL_START));
    assert_int_equal(vmm_map(0x50000000, hp, PAGE_WRITABLE), 0);
    uint32_t e0 = errors();
    vmm_unmap_page(0x50000000);
    assert_int_equal(errors(), e0); /* not a caller bug: an alias may go */
    assert_int_equal(vmm_get_physical(0x50000000), 0);
    assert_int_equal(pmm_page_state(hp), 1);
    assert_int_equal(pmm_page_owner(hp), PMM_OWNER_HEAP);
    check_every_layer();
    /* a page table aliased the same way stays the VMM's */
    paddr_t t = table_of(HEAP_VIRTUAL_START);
    assert_int_equal(vmm_map(0x50000000, t, 0), 0);
    vmm_unmap_page(0x50000000);
    assert_int_equal(pmm_page_owner(t), PMM_OWNER_TABLE);
    kfree(b);
    check_every_layer();
}

/* pmm_check: a used page without an owner, a free page with one, counts that disagree. */
static void test_pmm_check_sees_forged_owners(void **state)
{
    paddr_t p = pmm_alloc_page();
    uint8_t *owner = &desc(p)->owner;
    assert_check_sees(pmm_check, owner, PMM_OWNER_NONE, "used page without a valid owner");
    assert_check_sees(pmm_check, owner, 200, NULL);
    /* valid, but the heap's count says otherwise */
    assert_check_sees(pmm_check, owner, PMM_OWNER_HEAP, "pages of an owner differ from its count");
    assert_int_equal(*owner, PMM_OWNER_CALLER);
    assert_int_equal(pmm_check(), 0);

    paddr_t q = pmm_alloc_page();
    pmm_free_page(q);
    pmm_drain_cpu_lists(); /* q off this CPU's list of single pages, into the buddy lists */
    assert_int_equal(desc(q)->state, PG_FREE_STATE);
    assert_check_sees(pmm_check, &desc(q)->owner, PMM_OWNER_CALLER,
                      "page that is not in use has an owner");
    pmm_free_page(p);
    check_every_layer();
}

/* vmm_check: the directory or a table that the PMM holds as free or as someone else's. */
static void test_vmm_check_sees_forged_tables(void **state)
{
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    /* the directory as a caller's page: pmm_free_page would take it */
    assert_check_sees(vmm_check, &desc(vs.page_directory)->owner, PMM_OWNER_CALLER,
                      "the directory's page has another owner");
    assert_int_equal(desc(vs.page_directory)->owner, PMM_OWNER_DIRECTORY);

    paddr_t t = table_of(HEAP_VIRTUAL_START);
    assert_check_sees(vmm_check, &desc(t)->owner, PMM_OWNER_HEAP,
                      "page table has another owner in the PMM");
    assert_int_equal(desc(t)->owner, PMM_OWNER_TABLE);
    /* as if it had been freed */
    assert_check_sees(vmm_check, &desc(t)->state, PG_FREE_STATE,
                      "page table is not a page the PMM handed out");
    assert_int_equal(desc(t)->state, PG_USED_STATE);
    check_every_layer();
}

/* heap_check: a heap page the PMM holds as free or as another owner's. */
static void test_heap_check_sees_forged_heap_pages(void **state)
{
    paddr_t hp = phys_of(HEAP_VIRTUAL_START + PAGE_SIZE);
    assert_check_sees(heap_check, &desc(hp)->owner, PMM_OWNER_CALLER,
                      "virtual heap page not the heap's in the PMM");
    assert_int_equal(desc(hp)->owner, PMM_OWNER_HEAP);
    desc(hp)->owner = PMM_OWNER_NONE; /* and free, as if freed behind the heap's back */
    desc(hp)->state = PG_FREE_STATE;
    assert_true(heap_check() > 0);
    desc(hp)->state = PG_USED_STATE;
    desc(hp)->owner = PMM_OWNER_HEAP;
    check_every_layer();

    void *v = vmalloc(PAGE_SIZE);
    paddr_t vp = phys_of(kvirt(v, VMALLOC_START));
    assert_check_sees(vmalloc_check, &desc(vp)->owner, PMM_OWNER_KSTACK,
                      "page has another owner in the PMM");
    assert_int_equal(desc(vp)->owner, PMM_OWNER_VMALLOC);
    vfree(v);
    check_every_layer();
}

/* pmm_dump counts the used pages of each owner and names the owner of each run. */
static void test_dump_names_owners(void **state)
{
    void *v = vmalloc(3 * PAGE_SIZE);
    paddr_t p = pmm_alloc_page();
    host_console_clear();
    pmm_dump();
    pmm_stats_t s;
    pmm_get_stats(&s);
    char line[64];
    snprintf(line, sizeof(line), " heap %u ", (unsigned)s.owner_pages[PMM_OWNER_HEAP]);
    assert_true(host_console_has(line));
    assert_true(host_console_has(" vmalloc 3 "));
    assert_true(host_console_has(" directory 1 "));
    assert_true(host_console_has(" caller 1 "));
    assert_true(host_console_has("used pages by owner:"));
    assert_true(host_console_has(", owner page-table"));
    assert_true(host_console_has(", owner metadata") || s.owner_pages[PMM_OWNER_META] == 0);
    uint32_t sum = 0;
    for (int o = 0; o < PMM_OWNER_COUNT; o++)
        sum += s.owner_pages[o];
    assert_int_equal(sum, s.used_pages);
    assert_string_equal(pmm_owner_name(PMM_OWNER_KSTACK), "kstack");
    assert_string_equal(pmm_owner_name((pmm_owner_t)99), "?");
    pmm_free_page(p);
    vfree(v);
    check_every_layer();
}

/*
 * Reclaim: an 8 MB machine, the heap filled (slab objects and blocks) until
 * kmalloc says no, then everything freed.  Empty slabs and the heap's free
 * tail still hold most of RAM.  Expect pmm_alloc_pages(64, 0) to succeed:
 * the PMM runs the heap's hook (kmem_cache_reap) before it fails.
 */
static void test_reclaim_after_a_full_heap(void **state)
{
    enum { MAX = 40000 };
    static void *p[MAX];
    vmalloc_reset();
    fresh_paging_ram(8 * MB);
    heap_init_virtual();
    int n = 0;
    for (; n < MAX; n++) {
        p[n] = kmalloc(n % 4 ? 48 : 2000);
        if (!p[n])
            break;
    }
    assert_true(n > 100 && n < MAX);
    for (int i = 0; i < n; i++)
        kfree(p[i]);
    CHECK_HEAP();
    pmm_stats_t before;
    pmm_get_stats(&before);
    paddr_t run = pmm_alloc_pages(64, 0);
    assert_int_not_equal(run, 0);
    pmm_stats_t after;
    pmm_get_stats(&after);
    assert_int_equal(after.reclaims, before.reclaims + 1);
    pmm_free_pages(run, 64);
    check_every_layer();
}

static size_t other_hook(void)
{
    return 0;
}

static size_t third_hook(void)
{
    return 0;
}

static size_t fourth_hook(void)
{
    return 0;
}

/*
 * The hooks run once per failing allocation, never nested, and the retry
 * finds what they freed.  Registering twice keeps one; the table is finite.
 */
static void test_reclaim_hooks_not_reentered(void **state)
{
    enum { MAXPAGES = 16 * MB / PAGE_SIZE };
    static paddr_t held[MAXPAGES];
    hook_calls = hook_depth = hook_max_depth = 0;
    kmem_cache_reap(); /* the heap's own hook then has nothing left to give */
    assert_int_equal(pmm_register_reclaim(reclaim_hook), 0);
    assert_int_equal(pmm_register_reclaim(reclaim_hook), 0); /* still one */
    int n = 0;
    while ((held[n] = pmm_alloc_pages_owner(1, 0, PMM_OWNER_CALLER | PMM_NO_RECLAIM)) != 0)
        n++;
    assert_int_equal(hook_calls, 0); /* PMM_NO_RECLAIM */
    hook_spare = held[--n];
    paddr_t p = pmm_alloc_page();
    assert_int_equal(p, held[n]); /* the page the hook gave back, found by the retry */
    assert_int_equal(hook_calls, 1);
    assert_int_equal(hook_max_depth, 1);
    assert_int_equal(pmm_alloc_page(), 0); /* nothing to give: fails after one more round */
    assert_int_equal(hook_calls, 2);
    assert_int_equal(hook_max_depth, 1);
    pmm_free_page(p);
    for (int i = 0; i < n; i++)
        pmm_free_page(held[i]);
    pmm_unregister_reclaim(reclaim_hook);

    /* PMM_RECLAIM_HOOKS slots, the heap's kmem_cache_reap in one of them */
    size_t (*const more[])(void) = {reclaim_hook, other_hook, third_hook};
    for (unsigned i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        assert_int_equal(pmm_register_reclaim(more[i]), 0);
    assert_int_equal(pmm_register_reclaim(fourth_hook), -1);
    assert_true(strstr(mm_last_error(), "pmm_register_reclaim") &&
                strstr(mm_last_error(), "table is full"));
    for (unsigned i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        pmm_unregister_reclaim(more[i]);
    assert_int_equal(pmm_register_reclaim(NULL), -1);
    check_every_layer();
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh)
    const struct CMUnitTest tests[] = {
        T(test_directory_refused),
        T(test_page_table_refused),
        T(test_heap_page_refused),
        T(test_metadata_page_refused),
        T(test_vmalloc_and_kstack_pages_refused),
        T(test_owner_paths),
        T(test_unmap_of_an_alias_keeps_the_page),
        T(test_pmm_check_sees_forged_owners),
        T(test_vmm_check_sees_forged_tables),
        T(test_heap_check_sees_forged_heap_pages),
        T(test_dump_names_owners),
        T(test_reclaim_after_a_full_heap),
        T(test_reclaim_hooks_not_reentered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

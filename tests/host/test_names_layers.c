/*
 * test_names_layers.c - every layer's report names the function the caller
 * called (issue 10, item 3), as test_names.c does for the heap: the PMM, the
 * VMM, vmalloc and the slab caches, each given bad arguments, bad pointers
 * or a damaged state through its public functions only.
 *
 * Expect, for every case: exactly one new report, "ERROR: <function>: ..."
 * naming the public function called (not a helper, not a lower layer's
 * function it went through), the documented result, and every checker
 * (pmm_check, vmm_check, vmalloc_check, heap_check, kmem_cache_check) at 0
 * afterwards (for a damaged state: once the test has undone its damage, the
 * call having changed nothing).  Calls whose documentation promises no
 * report (a NULL free, a query about a wild address, vmalloc(0)) are checked
 * to make none.  The calls issues 11-14 added are here too: the _node calls
 * and pmm_set_nodes, the per-CPU caches' count, the compressed store
 * (zstore_*), compressible areas and zswap.
 */
#include "harness.h"
#include "log.h"
#include "lz4.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"
#include "vmm.h"
#include "zstore.h"
#include "zswap.h"

#define MB        (1024u * 1024u)
#define RAM       (16 * MB)
/* inside the host window, between the direct map and the heap: nobody's range */
#define FREE_AREA 0xCF000000u
/* far from where vmalloc's next fit starts: nothing is mapped there */
#define VM_QUIET  (VMALLOC_END + 1u - 64 * PAGE_SIZE)
/* the last page of the metadata window: unused while the heap is small */
#define META_LAST (MM_META_END & ~(uint32_t)(PAGE_SIZE - 1))

static int fresh(void **state)
{
    (void)state;
    fresh_every_layer(RAM);
    return 0;
}

/* ---- one call, one report naming it ---- */

static uint32_t reports0;

static void begin(void)
{
    reports0 = mm_error_count();
}

/* Exactly one report since begin(), beginning with head and holding reason. */
static void assert_one_line(const char *head, const char *reason)
{
    const char *last = mm_last_error();
    if (mm_error_count() != reports0 + 1)
        fail_msg("expected one report \"%s... %s\", got %u (last \"%s\")", head, reason,
                 (unsigned)(mm_error_count() - reports0), last);
    if (strncmp(last, head, strlen(head)) != 0 || !strstr(last, reason))
        fail_msg("expected a report \"%s... %s\", got \"%s\"", head, reason, last);
}

/* The same, and every checker at 0: the state is safe. */
static void assert_one_report(const char *head, const char *reason)
{
    assert_one_line(head, reason);
    check_every_layer();
}

/* "ERROR: fn: " */
static void named(const char *fn, const char *reason)
{
    char head[96];
    snprintf(head, sizeof(head), "ERROR: %s: ", fn);
    assert_one_report(head, reason);
}

/* "ERROR: fn: 0x%08x: " (a page, a virtual address: the PMM, the VMM, vmalloc) */
static void named_at(const char *fn, uint32_t addr, const char *reason)
{
    char head[96];
    snprintf(head, sizeof(head), "ERROR: %s: 0x%08x: ", fn, (unsigned)addr);
    assert_one_report(head, reason);
}

/* The same line, the checkers not run: the damage the test made is still there. */
static void named_at_damaged(const char *fn, uint32_t addr, const char *reason)
{
    char head[96];
    snprintf(head, sizeof(head), "ERROR: %s: 0x%08x: ", fn, (unsigned)addr);
    assert_one_line(head, reason);
}

/* "ERROR: fn: %p: " (a cache or an object: every hex digit of the pointer) */
static void named_ptr(const char *fn, const void *p, const char *reason)
{
    char head[96];
    snprintf(head, sizeof(head), "ERROR: %s: 0x%0*lx: ", fn, (int)(2 * sizeof(void *)),
             (unsigned long)(uintptr_t)p);
    assert_one_report(head, reason);
}

/* No report since begin(); checkers at 0. */
static void quiet(void)
{
    if (mm_error_count() != reports0)
        fail_msg("expected no report, got \"%s\"", mm_last_error());
    check_every_layer();
}

#define NAMED(call, fn, reason)                                                                    \
    do {                                                                                           \
        begin();                                                                                   \
        call;                                                                                      \
        named(fn, reason);                                                                         \
    } while (0)
#define NAMED_AT(call, fn, addr, reason)                                                           \
    do {                                                                                           \
        begin();                                                                                   \
        call;                                                                                      \
        named_at(fn, addr, reason);                                                                \
    } while (0)
#define NAMED_PTR(call, fn, p, reason)                                                             \
    do {                                                                                           \
        begin();                                                                                   \
        call;                                                                                      \
        named_ptr(fn, p, reason);                                                                  \
    } while (0)
#define QUIET(call)                                                                                \
    do {                                                                                           \
        begin();                                                                                   \
        call;                                                                                      \
        quiet();                                                                                   \
    } while (0)

static paddr_t phys_of(vaddr_t v)
{
    return vmm_get_physical(v) & ~(paddr_t)(PAGE_SIZE - 1);
}

/* ================================================================ PMM ==== */

/*
 * pmm_free_page and pmm_free_pages of pages that are not a caller's to free:
 * unaligned, beyond RAM, reserved, already free, a run with a free page in it,
 * a bad count.  Expect each refused in one line naming the function; nothing
 * freed (a run is all or nothing).
 */
static void test_pmm_frees(void **state)
{
    paddr_t p = pmm_alloc_page();
    assert_int_not_equal(p, 0);
    uint32_t free0 = free_pages();
    NAMED_AT(pmm_free_page(p + 0x10), "pmm_free_page", p + 0x10, "not page-aligned");
    NAMED_AT(pmm_free_page(RAM), "pmm_free_page", RAM, "beyond RAM");
    NAMED_AT(pmm_free_page(0x1000), "pmm_free_page", 0x1000, "reserved page");
    NAMED_AT(pmm_free_page(HEAP_START), "pmm_free_page", HEAP_START, "reserved page");
    NAMED_AT(pmm_free_page(0xFFFFF000u), "pmm_free_page", 0xFFFFF000u, "beyond RAM");
    assert_int_equal(free_pages(), free0);
    pmm_free_page(p);
    NAMED_AT(pmm_free_page(p), "pmm_free_page", p, "double free");

    paddr_t run = pmm_alloc_pages(4, 0);
    assert_int_not_equal(run, 0);
    free0 = free_pages();
    NAMED_AT(pmm_free_pages(run, 0), "pmm_free_pages", run, "bad page count 0");
    NAMED_AT(pmm_free_pages(run, 0xFFFFFFFFu), "pmm_free_pages", run, "bad page count");
    NAMED_AT(pmm_free_pages(run + 8, 4), "pmm_free_pages", run + 8, "not page-aligned");
    QUIET(pmm_free_page(run + 3 * PAGE_SIZE)); /* the run's last page: the caller's to free */
    NAMED_AT(pmm_free_pages(run, 4), "pmm_free_pages", run + 3 * PAGE_SIZE, "double free");
    assert_int_equal(pmm_page_state(run), 1); /* all or nothing */
    NAMED_AT(pmm_free_pages(0xFFFFF000u, 2), "pmm_free_pages", 0xFFFFF000u, "beyond RAM");
    assert_int_equal(free_pages(), free0 + 1);
    QUIET(pmm_free_pages(run, 3));
}

/*
 * The owners' paths: pmm_free_pages_owner and pmm_set_owner with no such
 * owner, with the wrong owner, on a wild page.  Expect one line each naming
 * the function called, nothing freed or handed over.
 */
static void test_pmm_owner_paths(void **state)
{
    paddr_t p = pmm_alloc_page();
    assert_int_not_equal(p, 0);
    NAMED_AT(pmm_free_pages_owner(p, 1, PMM_OWNER_NONE), "pmm_free_pages_owner", p,
             "0 is no owner: not freed");
    NAMED_AT(pmm_free_pages_owner(p, 1, (pmm_owner_t)42), "pmm_free_pages_owner", p,
             "42 is no owner: not freed");
    NAMED_AT(pmm_free_pages_owner(p, 1, PMM_OWNER_HEAP), "pmm_free_pages_owner", p,
             "(owner caller), not a heap page: not freed");
    NAMED_AT(pmm_free_pages_owner(p + 1, 1, PMM_OWNER_CALLER), "pmm_free_pages_owner", p + 1,
             "not page-aligned");
    NAMED_AT(pmm_free_pages_owner(p, 0, PMM_OWNER_CALLER), "pmm_free_pages_owner", p,
             "bad page count 0");
    assert_int_equal(pmm_page_owner(p), PMM_OWNER_CALLER);

    NAMED_AT(assert_int_equal(pmm_set_owner(p, 1, PMM_OWNER_NONE, PMM_OWNER_HEAP), -1),
             "pmm_set_owner", p, "no such owner");
    NAMED_AT(assert_int_equal(pmm_set_owner(p, 1, PMM_OWNER_CALLER, (pmm_owner_t)99), -1),
             "pmm_set_owner", p, "no such owner");
    NAMED_AT(assert_int_equal(pmm_set_owner(p, 1, PMM_OWNER_HEAP, PMM_OWNER_VMALLOC), -1),
             "pmm_set_owner", p, "(owner caller), not a heap page: not handed over");
    NAMED_AT(assert_int_equal(pmm_set_owner(0x3, 1, PMM_OWNER_CALLER, PMM_OWNER_HEAP), -1),
             "pmm_set_owner", 0x3, "not page-aligned");
    NAMED_AT(assert_int_equal(pmm_set_owner(p, 0, PMM_OWNER_CALLER, PMM_OWNER_HEAP), -1),
             "pmm_set_owner", p, "bad page count 0");
    assert_int_equal(pmm_page_owner(p), PMM_OWNER_CALLER);
    QUIET(pmm_free_pages_owner(p, 1, PMM_OWNER_CALLER));
}

/*
 * pmm_alloc_pages / pmm_alloc_pages_owner with a bad count, alignment or
 * owner: zero pages, an alignment that is no power of two >= 4096, more than
 * the biggest block (counts up to 2^32 - 1, alignments past 4 MB), no owner.
 * Expect 0, one line naming the function, and nothing allocated.
 */
static void test_pmm_alloc_bad_arguments(void **state)
{
    uint32_t free0 = free_pages();
    NAMED(assert_int_equal(pmm_alloc_pages(0, 0), 0), "pmm_alloc_pages", "zero pages");
    NAMED(assert_int_equal(pmm_alloc_pages(1, 0x1800), 0), "pmm_alloc_pages",
          "alignment is not a power of two >= 4096");
    NAMED(assert_int_equal(pmm_alloc_pages(1, 0x800), 0), "pmm_alloc_pages",
          "alignment is not a power of two >= 4096");
    NAMED(assert_int_equal(pmm_alloc_pages(1025, 0), 0), "pmm_alloc_pages",
          "larger than the biggest block");
    NAMED(assert_int_equal(pmm_alloc_pages(1, 0x800000), 0), "pmm_alloc_pages",
          "larger than the biggest block");
    NAMED(assert_int_equal(pmm_alloc_pages(0x80000001u, 0), 0), "pmm_alloc_pages",
          "larger than the biggest block");
    NAMED(assert_int_equal(pmm_alloc_pages(0xFFFFFFFFu, 0x80000000u), 0), "pmm_alloc_pages",
          "larger than the biggest block");
    NAMED(assert_int_equal(pmm_alloc_pages_owner(1, 0, PMM_OWNER_NONE), 0), "pmm_alloc_pages_owner",
          "no such owner");
    NAMED(assert_int_equal(pmm_alloc_pages_owner(1, 0, PMM_OWNER_COUNT | PMM_NO_RECLAIM), 0),
          "pmm_alloc_pages_owner", "no such owner");
    NAMED(assert_int_equal(pmm_alloc_pages_owner(0xFFFFFFFFu, 0, PMM_OWNER_HEAP), 0),
          "pmm_alloc_pages_owner", "larger than the biggest block");
    assert_int_equal(free_pages(), free0);
}

/*
 * pmm_get_stats(NULL), pmm_register_reclaim(NULL), pmm_init_map with no map:
 * one line each naming the function; the PMM as it was (pmm_init_map refuses
 * before it forgets anything).  pmm_page_state and pmm_page_owner of wild
 * addresses answer (-1, PMM_OWNER_NONE) without a report, as documented.
 */
static void test_pmm_other_calls(void **state)
{
    pmm_stats_t s0, s1;
    pmm_get_stats(&s0);
    NAMED(pmm_get_stats(NULL), "pmm_get_stats", "NULL stats pointer");
    NAMED(assert_int_equal(pmm_register_reclaim(NULL), -1), "pmm_register_reclaim", "NULL hook");
    pmm_range_t map[] = {{0, RAM, PMM_RANGE_AVAILABLE}};
    NAMED(assert_int_equal(pmm_init_map(NULL, 1), -1), "pmm_init_map", "empty memory map");
    NAMED(assert_int_equal(pmm_init_map(map, 0), -1), "pmm_init_map", "empty memory map");
    NAMED(assert_int_equal(pmm_init_map(map, -5), -1), "pmm_init_map", "empty memory map");
    pmm_get_stats(&s1);
    assert_memory_equal(&s0, &s1, sizeof(s0));

    QUIET(assert_int_equal(pmm_page_state(0xFFFFF000u), -1));
    QUIET(assert_int_equal(pmm_page_state(0x1000), -1));
    QUIET(assert_int_equal(pmm_page_owner(0xFFFFF000u), PMM_OWNER_NONE));
    QUIET(assert_int_equal(pmm_page_owner(0x1000), PMM_OWNER_NONE));
    QUIET(pmm_unregister_reclaim(NULL));
}

/*
 * A firmware map that lies: unsorted, available ranges overlapping each
 * other, a reserved range inside one, a reserved range whose end wraps past
 * 2^64, RAM above 4 GB whose end wraps too.  All documented as accepted:
 * expect 0, no caller-bug report (only the "ignoring RAM above 4 GB" line),
 * the reserved pages withheld, pmm_check at 0.
 *
 *   0     640K  1M        9M   10M            16M                   32M
 *   | avail |   | avail    | res |  avail      | reserved to 2^64 ... (wraps)
 *                     | avail (overlap) |
 */
static void test_pmm_lying_map_accepted(void **state)
{
    fresh_pmm_alone();
    pmm_range_t map[] = {
        {0x1000000, 0xFFFFFFFFFFFFFFFFull, PMM_RANGE_RESERVED}, /* wraps: saturated */
        {0x100000, 0x1F00000, PMM_RANGE_AVAILABLE},
        {0x900000, 0x100000, PMM_RANGE_RESERVED},
        {0x800000, 0x400000, PMM_RANGE_AVAILABLE},            /* overlaps the first RAM range */
        {0xFFFFFFFFFFFFF000ull, 0x2000, PMM_RANGE_AVAILABLE}, /* above 4 GB, wraps */
        {0, 0xA0000, PMM_RANGE_AVAILABLE},
    };
    host_console_clear();
    begin();
    assert_int_equal(pmm_init_map(map, (int)(sizeof(map) / sizeof(map[0]))), 0);
    assert_int_equal(mm_error_count(), reports0);
    assert_true(host_console_has("above 4 GB"));
    assert_false(host_console_has("ERROR"));
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(pmm_page_state(0x900000), -1);  /* reserved inside RAM */
    assert_int_equal(pmm_page_state(0x1000000), -1); /* the wrapping reservation */
    assert_int_equal(pmm_page_state(0x1F00000), -1);
    assert_int_equal(pmm_page_state(0x800000), 0);
    assert_int_equal(pmm_page_state(0xA00000), 0);
    /* and bad frees on it still name the function */
    NAMED_AT(pmm_free_page(0x900000), "pmm_free_page", 0x900000, "reserved page");
    NAMED_AT(pmm_free_page(0x1000), "pmm_free_page", 0x1000, "reserved page");
    NAMED_AT(pmm_free_page(0xA0000), "pmm_free_page", 0xA0000, "not RAM");
    fresh(state);
}

/*
 * Reservations that reach to 2^64 (their end wraps) where the PMM looks for
 * room for its metadata:
 *
 *   16M  +4K          +64K                                      32M
 *   | res |  avail     | reserved to 2^64 ...                    |
 *
 * 15 free pages, no room for 96 KB of metadata.  Expect -1 and the PMM's
 * line saying so, no caller-bug report, pmm_check at 0 (before: the
 * metadata went to 0x100000, which the map does not call RAM).  And
 *
 *   0        1M                                                  48M
 *   | avail  | reserved to 2^64 ...                              |
 *
 * expect -1 the same way (before: pmm_init_map never returned).
 */
static void test_pmm_wrapping_reservations(void **state)
{
    fresh_pmm_alone();
    const pmm_range_t cut[] = {{16 * MB, 16 * MB, PMM_RANGE_AVAILABLE},
                               {16 * MB, PAGE_SIZE, PMM_RANGE_RESERVED},
                               {16 * MB + 0x10000, UINT64_MAX, PMM_RANGE_RESERVED}};
    QUIET(assert_int_equal(pmm_init_map(cut, 3), -1));
    assert_true(host_console_has("pmm: no usable RAM above 1 MB"));
    NAMED_AT(pmm_free_page(16 * MB + PAGE_SIZE), "pmm_free_page", 16 * MB + PAGE_SIZE,
             "beyond RAM");
    assert_int_equal(pmm_alloc_page(), 0);

    const pmm_range_t all[] = {{0, 48 * MB, PMM_RANGE_AVAILABLE},
                               {MB, UINT64_MAX, PMM_RANGE_RESERVED}};
    QUIET(assert_int_equal(pmm_init_map(all, 2), -1));
    fresh(state);
}

/* ================================================================ VMM ==== */

/*
 * vmm_map_page and vmm_map with every kind of bad input: unaligned addresses,
 * the NULL page, the fixed maps, the table window, the heap's, vmalloc's and
 * the metadata's windows, unknown flags, a page already mapped.  Expect one
 * line each naming the function called (vmm_map returns -1), nothing mapped.
 */
static void test_vmm_map_bad_input(void **state)
{
    paddr_t p = pmm_alloc_page(), q = pmm_alloc_page();
    assert_int_equal(vmm_map(FREE_AREA, p, PAGE_WRITABLE), 0);
    check_every_layer();
    uint32_t free0 = free_pages();
    const struct bad_map bad[] = {
        {FREE_AREA + PAGE_SIZE + 4, q, PAGE_WRITABLE, "not page-aligned"},
        {FREE_AREA + PAGE_SIZE, q + 8, PAGE_WRITABLE, "physical address not page-aligned"},
        {FREE_AREA + PAGE_SIZE, q, 0x80, "unknown flag bits"},
        {FREE_AREA, q, PAGE_WRITABLE, "already mapped to"},
        {0, q, PAGE_WRITABLE, "the NULL page stays unmapped"},
        {0x100000, q, PAGE_WRITABLE, "fixed mappings"},
        {KERNEL_VIRTUAL_BASE + PAGE_SIZE, q, PAGE_WRITABLE, "fixed mappings"},
        {VMM_PT_WINDOW, q, PAGE_WRITABLE, "page-table window"},
        {0xFFFFF000u, q, PAGE_WRITABLE, "page-table window"},
        {HEAP_VIRTUAL_START + 0x100000, q, PAGE_WRITABLE, "kernel heap's range"},
        {VM_QUIET, q, PAGE_WRITABLE, "vmalloc range"},
        {META_LAST, q, PAGE_WRITABLE, "metadata window"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t entry = vmm_get_entry(bad[i].v & ~(PAGE_SIZE - 1));
        NAMED_AT(vmm_map_page(bad[i].v, bad[i].p, bad[i].flags), "vmm_map_page", bad[i].v,
                 bad[i].why);
        NAMED_AT(assert_int_equal(vmm_map(bad[i].v, bad[i].p, bad[i].flags), -1), "vmm_map",
                 bad[i].v, bad[i].why);
        assert_int_equal(vmm_get_entry(bad[i].v & ~(PAGE_SIZE - 1)), entry); /* unchanged */
    }
    assert_int_equal(vmm_get_physical(FREE_AREA), p);
    assert_int_equal(free_pages(), free0); /* no page table kept */
    QUIET(vmm_unmap_page(FREE_AREA));
    QUIET(pmm_free_page(q));
}

/*
 * vmm_unmap_page of a page not mapped, unaligned, fixed, or in a range that
 * has an owner.  Expect one line naming vmm_unmap_page, nothing unmapped.
 */
static void test_vmm_unmap_bad_input(void **state)
{
    struct {
        vaddr_t v;
        const char *why;
    } bad[] = {
        {FREE_AREA, "not mapped"},
        {FREE_AREA + 12, "not page-aligned"},
        {0, "NULL page"},
        {0x200000, "fixed mappings"},
        {VMM_PT_WINDOW + PAGE_SIZE, "page-table window"},
        {HEAP_VIRTUAL_START, "kernel heap's range"},
        {VM_QUIET, "vmalloc range"},
        {MM_META_START, "metadata window"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        NAMED_AT(vmm_unmap_page(bad[i].v), "vmm_unmap_page", bad[i].v, bad[i].why);
    assert_int_not_equal(vmm_get_physical(HEAP_VIRTUAL_START), 0);
    assert_int_not_equal(vmm_get_physical(0x200000), 0);
}

/*
 * The owners' map and unmap (vmm_heap_map, vmm_vmalloc_map, vmm_meta_map and
 * their unmaps) outside their own window, or in another owner's, or of a page
 * not mapped.  Expect one line naming the function called, nothing mapped or
 * unmapped.  (Before: the maps said "vmm_map" and the unmaps
 * "vmm_unmap_page"; outside every owner's window they were not refused at
 * all, and vmm_heap_unmap took a caller's mapping away.)
 */
static void test_vmm_owner_windows(void **state)
{
    paddr_t p = pmm_alloc_page();
    assert_int_not_equal(p, 0);
    assert_int_equal(vmm_get_entry(META_LAST) & PAGE_PRESENT, 0);
    assert_int_equal(vmm_get_entry(VM_QUIET) & PAGE_PRESENT, 0);
    uint32_t free0 = free_pages();

    NAMED_AT(assert_int_equal(vmm_heap_map(VM_QUIET, p), -1), "vmm_heap_map", VM_QUIET,
             "vmalloc range");
    NAMED_AT(assert_int_equal(vmm_heap_map(FREE_AREA, p), -1), "vmm_heap_map", FREE_AREA,
             "outside the kernel heap's range");
    NAMED_AT(assert_int_equal(vmm_heap_map(HEAP_VIRTUAL_START + 1, p), -1), "vmm_heap_map",
             HEAP_VIRTUAL_START + 1, "not page-aligned");
    NAMED_AT(assert_int_equal(vmm_vmalloc_map(HEAP_VIRTUAL_START + 0x100000, p), -1),
             "vmm_vmalloc_map", HEAP_VIRTUAL_START + 0x100000, "kernel heap's range");
    NAMED_AT(assert_int_equal(vmm_vmalloc_map(META_LAST, p), -1), "vmm_vmalloc_map", META_LAST,
             "metadata window");
    NAMED_AT(assert_int_equal(vmm_vmalloc_map(FREE_AREA, p), -1), "vmm_vmalloc_map", FREE_AREA,
             "outside the vmalloc range");
    NAMED_AT(assert_int_equal(vmm_meta_map(VM_QUIET, p), -1), "vmm_meta_map", VM_QUIET,
             "vmalloc range");
    NAMED_AT(assert_int_equal(vmm_meta_map(FREE_AREA, p), -1), "vmm_meta_map", FREE_AREA,
             "outside the allocators' metadata window");
    NAMED_AT(assert_int_equal(vmm_meta_map(VMM_PT_WINDOW, p), -1), "vmm_meta_map", VMM_PT_WINDOW,
             "page-table window");
    assert_int_equal(free_pages(), free0);

    NAMED_AT(vmm_heap_unmap(HEAP_VIRTUAL_START + 0x8000000), "vmm_heap_unmap",
             HEAP_VIRTUAL_START + 0x8000000, "not mapped");
    NAMED_AT(vmm_vmalloc_unmap(VM_QUIET), "vmm_vmalloc_unmap", VM_QUIET, "not mapped");
    NAMED_AT(vmm_meta_unmap(META_LAST), "vmm_meta_unmap", META_LAST, "not mapped");
    NAMED_AT(vmm_meta_unmap(HEAP_VIRTUAL_START), "vmm_meta_unmap", HEAP_VIRTUAL_START,
             "kernel heap's range");

    /* a caller's mapping is not the heap's to take: refused, still mapped */
    assert_int_equal(vmm_map(FREE_AREA, p, PAGE_WRITABLE), 0);
    NAMED_AT(vmm_heap_unmap(FREE_AREA), "vmm_heap_unmap", FREE_AREA,
             "outside the kernel heap's range");
    NAMED_AT(vmm_vmalloc_unmap(FREE_AREA), "vmm_vmalloc_unmap", FREE_AREA,
             "outside the vmalloc range");
    assert_int_equal(vmm_get_physical(FREE_AREA), p);
    assert_int_equal(pmm_page_state(p), 1);
    QUIET(vmm_unmap_page(FREE_AREA)); /* the caller's unmap frees it */
    assert_int_equal(pmm_page_state(p), 0);
}

/*
 * An owner's unmap of a page that is not its own in the PMM: a caller's page
 * mapped into the vmalloc range with vmm_vmalloc_map, then vmm_vmalloc_unmap.
 * Expect the page unmapped and left to its owner, and one line naming
 * vmm_vmalloc_unmap (before: "pmm_free_pages_owner", the PMM call inside).
 */
static void test_vmm_owner_unmap_of_another_owners_page(void **state)
{
    paddr_t p = pmm_alloc_page();
    assert_int_not_equal(p, 0);
    assert_int_equal(vmm_vmalloc_map(VM_QUIET, p), 0);
    NAMED_AT(vmm_vmalloc_unmap(VM_QUIET), "vmm_vmalloc_unmap", VM_QUIET,
             "not a vmalloc page: unmapped, not freed");
    assert_int_equal(vmm_get_entry(VM_QUIET) & PAGE_PRESENT, 0);
    assert_int_equal(pmm_page_owner(p), PMM_OWNER_CALLER);

    /* the same for the metadata window and the heap's (past the heap's end) */
    assert_int_equal(vmm_meta_map(META_LAST, p), 0);
    NAMED_AT(vmm_meta_unmap(META_LAST), "vmm_meta_unmap", META_LAST,
             "not a metadata page: unmapped, not freed");
    vaddr_t past = HEAP_VIRTUAL_START + 0x8000000;
    assert_int_equal(vmm_heap_map(past, p), 0);
    NAMED_AT(vmm_heap_unmap(past), "vmm_heap_unmap", past, "not a heap page: unmapped, not freed");
    assert_int_equal(pmm_page_owner(p), PMM_OWNER_CALLER);
    QUIET(pmm_free_page(p));
}

/*
 * vmm_init a second time, vmm_get_stats(NULL), and a fifth describer: one line
 * each naming the function.  vmm_get_entry, vmm_get_physical and
 * vmm_describe of wild addresses answer without a report.
 */
/* Five describers that describe nothing: distinct functions, as each slot holds one. */
#define DESCRIBER(name)                                                                            \
    static const char *name(vaddr_t addr, char *buf, size_t len)                                   \
    {                                                                                              \
        (void)addr, (void)buf, (void)len;                                                          \
        return NULL;                                                                               \
    }
DESCRIBER(describe_any)
DESCRIBER(describe_other)
DESCRIBER(describe_third)
DESCRIBER(describe_fourth)
DESCRIBER(describe_fifth)

static void test_vmm_other_calls(void **state)
{
    vmm_stats_t s;
    vmm_get_stats(&s);
    NAMED_AT(vmm_init(), "vmm_init", s.page_directory, "paging is already set up");
    NAMED(vmm_get_stats(NULL), "vmm_get_stats", "NULL stats pointer");

    vmm_describer_t fns[] = {describe_any, describe_other, describe_third, describe_fourth,
                             describe_fifth};
    int registered = 0;
    begin();
    for (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]) && registered == (int)i; i++)
        registered += vmm_register_describer(0x40000000u + i * 0x1000u, 0x40000fffu + i * 0x1000u,
                                             "test layer", fns[i]) == 0;
    assert_true(registered < 5); /* four slots (vmalloc's may hold one) */
    named_at("vmm_register_describer", 0x40000000u + (uint32_t)registered * 0x1000u,
             "describer slots in use");
    for (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        QUIET(vmm_unregister_describer(fns[i]));

    QUIET(assert_int_equal(vmm_get_entry(FREE_AREA + 0x123), 0));
    QUIET(assert_int_equal(vmm_get_physical(0xFFBFF000u), 0));
    QUIET(assert_non_null(vmm_describe(0x6b6b6b6b)));
    QUIET(assert_null(vmm_phys_to_virt(0xF0000000u)));
}

/* ============================================================ vmalloc ==== */

/*
 * vfree of pointers that are not a live allocation's base: wild, interior,
 * unaligned, in a guard page, a kernel stack's, twice.  Expect one line each
 * naming vfree, nothing freed; NULL is no report.
 */
static void test_vfree_bad_pointers(void **state)
{
    char *v = vmalloc(2 * PAGE_SIZE);
    assert_non_null(v);
    vaddr_t b = vmalloc_kvirt(v);
    vaddr_t top = kstack_alloc(PAGE_SIZE);
    assert_int_not_equal(top, 0);
    uint32_t free0 = free_pages();

    NAMED_AT(vfree((void *)(uintptr_t)0x1234), "vfree", 0x1234, "not a vmalloc pointer");
    NAMED_AT(vfree(v + 100), "vfree", b + 100, "interior pointer, 100 bytes into vmalloc");
    NAMED_AT(vfree(v + PAGE_SIZE), "vfree", b + PAGE_SIZE, "interior pointer");
    NAMED_AT(vfree(host_virt_ptr(b - PAGE_SIZE)), "vfree", b - PAGE_SIZE,
             "in the guard page below");
    NAMED_AT(vfree(host_virt_ptr(b + 2 * PAGE_SIZE)), "vfree", b + 2 * PAGE_SIZE,
             "in the guard page above");
    NAMED_AT(vfree(host_virt_ptr(VM_QUIET)), "vfree", VM_QUIET, "not a live vmalloc allocation");
    NAMED_AT(vfree(host_virt_ptr(VM_QUIET + 8)), "vfree", VM_QUIET + 8, "not page-aligned");
    NAMED_AT(vfree(host_virt_ptr(top - PAGE_SIZE)), "vfree", top - PAGE_SIZE,
             "free it with kstack_free");
    assert_int_equal(free_pages(), free0);
    QUIET(vfree(NULL));
    QUIET(vfree(v));
    NAMED_AT(vfree(v), "vfree", b, "double free of vmalloc allocation");
    QUIET(kstack_free(top));
}

/*
 * kstack_free of values that are not a live stack's top: 0, a wild address,
 * the stack's base, a vmalloc allocation's end, twice.  Expect one line each
 * naming kstack_free, nothing freed.
 */
static void test_kstack_free_bad_tops(void **state)
{
    vaddr_t top = kstack_alloc(2 * PAGE_SIZE);
    assert_int_not_equal(top, 0);
    char *v = vmalloc(PAGE_SIZE);
    assert_non_null(v);
    vaddr_t b = vmalloc_kvirt(v);
    uint32_t free0 = free_pages();

    NAMED_AT(kstack_free(0), "kstack_free", 0, "not a vmalloc pointer");
    NAMED_AT(kstack_free(0xF0000000u), "kstack_free", 0xF0000000u, "not a vmalloc pointer");
    NAMED_AT(kstack_free(top - 2 * PAGE_SIZE), "kstack_free", top - 2 * PAGE_SIZE,
             "not the top of kernel stack");
    NAMED_AT(kstack_free(top - 16), "kstack_free", top - 16, "not the top of kernel stack");
    NAMED_AT(kstack_free(b + PAGE_SIZE), "kstack_free", b + PAGE_SIZE, "free it with vfree");
    NAMED_AT(kstack_free(VM_QUIET), "kstack_free", VM_QUIET, "not a live vmalloc allocation");
    assert_int_equal(free_pages(), free0);
    QUIET(kstack_free(top));
    NAMED_AT(kstack_free(top), "kstack_free", top, "double free of kernel stack");
    QUIET(vfree(v));
}

/* alloc (named fn) of 0 bytes: NULL, nothing printed; of the whole range: NULL, fn's one line */
static void sizes_as_vmalloc(void *(*alloc)(size_t), const char *fn)
{
    char head[64];
    snprintf(head, sizeof(head), "%s: ", fn);
    host_console_clear();
    QUIET(assert_null(alloc(0)));
    assert_string_equal(host_console_text(), "");
    QUIET(assert_null(alloc((size_t)VMALLOC_END - VMALLOC_START)));
    assert_true(strncmp(host_console_text(), head, strlen(head)) == 0);
    assert_true(host_console_has("larger than the whole vmalloc range"));
    host_console_clear();
}

/*
 * vmalloc(0) is NULL without a word (as kmalloc(0)); sizes beyond the range
 * fail with the one line vmalloc.h promises (running out is not a caller
 * bug: no report), naming vmalloc / kstack_alloc; vmalloc_get_stats(NULL)
 * is reported.
 */
static void test_vmalloc_sizes(void **state)
{
    sizes_as_vmalloc((vmalloc), "vmalloc");
    QUIET(assert_int_equal(kstack_alloc((size_t)-1), 0));
    assert_true(strncmp(host_console_text(), "kstack_alloc: ", 14) == 0);
    NAMED(vmalloc_get_stats(NULL), "vmalloc_get_stats", "NULL stats pointer");
}

/*
 * A damaged allocation: one of its pages handed to another owner behind
 * vmalloc's back (pmm_set_owner, an owner's call misused), or unmapped
 * behind its back (vmm_vmalloc_unmap, vmalloc's own call misused).  Expect
 * vfree / kstack_free to name themselves in one line (before: the PMM's
 * "pmm_free_pages_owner", the VMM's "vmm_unmap_page" from inside) and change
 * nothing: once the damage is undone every checker is at 0 and the free works.
 */
static void test_vfree_of_a_damaged_allocation(void **state)
{
    char *v = vmalloc(3 * PAGE_SIZE);
    assert_non_null(v);
    vaddr_t b = vmalloc_kvirt(v);
    paddr_t mid = phys_of(b + PAGE_SIZE);
    vmalloc_stats_t s0, s1;

    assert_int_equal(pmm_set_owner(mid, 1, PMM_OWNER_VMALLOC, PMM_OWNER_CALLER), 0);
    vmalloc_get_stats(&s0);
    begin();
    vfree(v);
    named_at_damaged("vfree", b + PAGE_SIZE, "page 1 of vmalloc allocation");
    assert_true(strstr(mm_last_error(), "a page of owner caller in the PMM: not freed"));
    vmalloc_get_stats(&s1);
    assert_memory_equal(&s0, &s1, sizeof(s0)); /* nothing changed */
    assert_int_equal(phys_of(b + PAGE_SIZE), mid);
    assert_int_equal(pmm_page_owner(phys_of(b)), PMM_OWNER_VMALLOC);
    assert_int_equal(pmm_set_owner(mid, 1, PMM_OWNER_CALLER, PMM_OWNER_VMALLOC), 0);
    check_every_layer();

    vmm_vmalloc_unmap(b + 2 * PAGE_SIZE); /* the page goes back to the PMM */
    begin();
    vfree(v);
    named_at_damaged("vfree", b + 2 * PAGE_SIZE, "page 2 of vmalloc allocation");
    assert_true(strstr(mm_last_error(), "is not mapped: not freed"));
    assert_int_equal(phys_of(b + PAGE_SIZE), mid);
    /* a vmalloc page put back under it: the allocation is whole again */
    paddr_t again = pmm_alloc_pages_owner(1, 0, PMM_OWNER_VMALLOC);
    assert_int_equal(vmm_vmalloc_map(b + 2 * PAGE_SIZE, again), 0);
    check_every_layer();
    QUIET(vfree(v));

    vaddr_t top = kstack_alloc(2 * PAGE_SIZE);
    assert_int_not_equal(top, 0);
    paddr_t low = phys_of(top - 2 * PAGE_SIZE);
    assert_int_equal(pmm_set_owner(low, 1, PMM_OWNER_KSTACK, PMM_OWNER_HEAP), 0);
    begin();
    kstack_free(top);
    named_at_damaged("kstack_free", top - 2 * PAGE_SIZE, "page 0 of kernel stack");
    assert_true(strstr(mm_last_error(), "a page of owner heap in the PMM: not freed"));
    assert_int_equal(pmm_set_owner(low, 1, PMM_OWNER_HEAP, PMM_OWNER_KSTACK), 0);
    check_every_layer();
    QUIET(kstack_free(top));
}

/* ========================================================= slab caches ==== */

/*
 * kmem_cache_create with a bad size or alignment, or with every slot taken.
 * Expect NULL and one line naming kmem_cache_create.
 */
static void test_cache_create_bad_arguments(void **state)
{
    NAMED(assert_null(kmem_cache_create("zero", 0, 0, NULL)), "kmem_cache_create",
          "'zero': object size 0");
    NAMED(assert_null(kmem_cache_create("huge", KMEM_CACHE_MAX_OBJECT + 1, 0, NULL)),
          "kmem_cache_create", "'huge': object size 2049");
    NAMED(assert_null(kmem_cache_create("big", (size_t)-1, 0, NULL)), "kmem_cache_create",
          "'big': object size");
    NAMED(assert_null(kmem_cache_create("odd", 16, 3, NULL)), "kmem_cache_create",
          "'odd': alignment 3");
    NAMED(assert_null(kmem_cache_create("wide", 16, 2 * KMEM_CACHE_MAX_OBJECT, NULL)),
          "kmem_cache_create", "'wide': alignment 4096");
    NAMED(assert_null(kmem_cache_create(NULL, 0, 0, NULL)), "kmem_cache_create",
          "'(unnamed)': object size 0");

    static kmem_cache_t *all[KMEM_CACHE_MAX];
    for (int i = 0; i < KMEM_CACHE_MAX; i++) {
        all[i] = kmem_cache_create("many", 16, 0, NULL);
        assert_non_null(all[i]);
    }
    NAMED(assert_null(kmem_cache_create("one more", 16, 0, NULL)), "kmem_cache_create",
          "'one more': all");
    for (int i = 0; i < KMEM_CACHE_MAX; i++)
        QUIET(assert_int_equal(kmem_cache_destroy(all[i]), 0));
}

/*
 * kmem_cache_free of an object of another cache, of a block, of a wild
 * pointer, of an interior pointer, twice; with a cache that is none.
 * Expect one line each naming kmem_cache_free, nothing freed.
 */
static void test_cache_free_bad_pointers(void **state)
{
    kmem_cache_t *a = kmem_cache_create("a", 48, 0, NULL);
    kmem_cache_t *b = kmem_cache_create("b", 48, 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    char *x = kmem_cache_alloc(a);
    assert_non_null(x);
    char *block = kmalloc(1000);
    char *small = kmalloc(32);
    void *wild = (void *)(uintptr_t)0x1234;

    NAMED_PTR(kmem_cache_free(b, x), "kmem_cache_free", x, "object of cache 'a', not of 'b'");
    NAMED_PTR(kmem_cache_free(a, small), "kmem_cache_free", small,
              "object of cache 'kmalloc-32', not of 'a'");
    NAMED_PTR(kmem_cache_free(a, block), "kmem_cache_free", block, "not an object of any cache");
    NAMED_PTR(kmem_cache_free(a, wild), "kmem_cache_free", wild, "not an object of any cache");
    NAMED_PTR(kmem_cache_free(a, x + 8), "kmem_cache_free", x + 8, "interior pointer");
    NAMED_PTR(kmem_cache_free(NULL, x), "kmem_cache_free", NULL, "not a cache");
    NAMED_PTR(kmem_cache_free((kmem_cache_t *)block, x), "kmem_cache_free", block, "not a cache");
    kmem_cache_stats_t st;
    assert_int_equal(kmem_cache_get_stats(a, &st), 0);
    assert_int_equal(st.live, 1);
    QUIET(kmem_cache_free(a, NULL));
    QUIET(kmem_cache_free(a, x));
    NAMED_PTR(kmem_cache_free(a, x), "kmem_cache_free", x, "double free");

    kfree(small);
    kfree(block);
    QUIET(assert_int_equal(kmem_cache_destroy(b), 0));
    NAMED_PTR(kmem_cache_free(b, x), "kmem_cache_free", b, "not a cache"); /* destroyed */
    QUIET(assert_int_equal(kmem_cache_destroy(a), 0));
}

/* A constructor that calls kmem_cache_shrink on its own cache (once). */
static kmem_cache_t *ctor_cache;
static int ctor_shrinks;

static void shrinking_ctor(void *obj)
{
    (void)obj;
    if (ctor_shrinks++ == 0)
        assert_int_equal(kmem_cache_shrink(ctor_cache), 0);
}

/*
 * kmem_cache_alloc, kmem_cache_destroy, kmem_cache_shrink and
 * kmem_cache_get_stats of a cache that is none (NULL, a block, destroyed),
 * kmem_cache_destroy with live objects, and a public call made from inside
 * another (a constructor's kmem_cache_shrink of its own cache, during
 * kmem_cache_alloc).  Expect one line each naming the call made.
 */
static void test_cache_bad_caches(void **state)
{
    char *block = kmalloc(1000);
    kmem_cache_t *fake = (kmem_cache_t *)block;
    kmem_cache_stats_t st;
    NAMED_PTR(assert_null(kmem_cache_alloc(NULL)), "kmem_cache_alloc", NULL, "not a cache");
    NAMED_PTR(assert_null(kmem_cache_alloc(fake)), "kmem_cache_alloc", fake, "not a cache");
    NAMED_PTR(assert_int_equal(kmem_cache_destroy(NULL), -1), "kmem_cache_destroy", NULL,
              "not a cache");
    NAMED_PTR(assert_int_equal(kmem_cache_destroy(fake), -1), "kmem_cache_destroy", fake,
              "not a cache");
    NAMED_PTR(assert_int_equal(kmem_cache_shrink(fake), 0), "kmem_cache_shrink", fake,
              "not a cache");
    NAMED_PTR(assert_int_equal(kmem_cache_get_stats(fake, &st), -1), "kmem_cache_get_stats", fake,
              "not a cache");

    kmem_cache_t *c = kmem_cache_create("live", 64, 0, NULL);
    assert_non_null(c);
    void *o = kmem_cache_alloc(c);
    assert_non_null(o);
    NAMED_PTR(assert_int_equal(kmem_cache_destroy(c), -1), "kmem_cache_destroy", c,
              "cache 'live' still has 1 live objects");
    NAMED(assert_int_equal(kmem_cache_get_stats(c, NULL), -1), "kmem_cache_get_stats",
          "NULL stats pointer");
    kmem_cache_free(c, o);
    QUIET(assert_int_equal(kmem_cache_destroy(c), 0));
    NAMED_PTR(assert_null(kmem_cache_alloc(c)), "kmem_cache_alloc", c, "not a cache");
    NAMED_PTR(assert_int_equal(kmem_cache_destroy(c), -1), "kmem_cache_destroy", c, "not a cache");
    NAMED_PTR(assert_int_equal(kmem_cache_shrink(c), 0), "kmem_cache_shrink", c, "not a cache");

    ctor_cache = kmem_cache_create("ctor", 64, 0, shrinking_ctor);
    assert_non_null(ctor_cache);
    ctor_shrinks = 0;
    begin();
    void *obj = kmem_cache_alloc(ctor_cache);
    assert_non_null(obj);
    named_ptr("kmem_cache_shrink", ctor_cache, "own constructor: refused");
    kmem_cache_free(ctor_cache, obj);
    QUIET(assert_int_equal(kmem_cache_destroy(ctor_cache), 0));
    kfree(block);
    check_every_layer();
}

/* ---- the public functions of issues 11-14: nodes, per-CPU caches, the compressed store ---- */

/* fresh, with an empty store and no compressible area (the heap under them starts again) */
static int fresh_store(void **state)
{
    zswap_reset();
    zstore_reset();
    fresh(state);
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(zswap_check(), 0);
    return 0;
}

/*
 * The _node calls on one node, given a node that does not exist (1, 7 | strict,
 * -2): pmm_alloc_page_node, pmm_alloc_pages_node, pmm_alloc_owner_node,
 * pmm_get_node_stats, kmalloc_node, kmem_cache_alloc_node,
 * kmem_cache_node_stats, vmalloc_node.  Expect one line each naming the call,
 * NULL / 0 / -1, nothing allocated.  kmem_cache_cpu_objects of a CPU without a
 * cache (-1, past MM_MAX_CPUS) is documented 0, and says nothing.
 */
static void test_node_calls_bad_nodes(void **state)
{
    kmem_cache_t *c = kmem_cache_create("nodes", 40, 0, NULL);
    assert_non_null(c);
    uint32_t free0 = free_pages();
    pmm_node_stats_t ns;
    uint32_t slabs, objects;
    assert_int_equal(pmm_node_count(), 1);

    NAMED(assert_int_equal(pmm_alloc_page_node(1), 0), "pmm_alloc_page_node",
          "node 1: no such node");
    NAMED(assert_int_equal(pmm_alloc_page_node(-2), 0), "pmm_alloc_page_node",
          "node -2: no such node");
    NAMED(assert_int_equal(pmm_alloc_pages_node(7 | PMM_NODE_STRICT, 2, 0), 0),
          "pmm_alloc_pages_node", "no such node");
    NAMED(assert_int_equal(pmm_alloc_owner_node(1, 0, PMM_OWNER_CALLER, 1), 0),
          "pmm_alloc_owner_node", "node 1: no such node");
    NAMED(assert_int_equal(pmm_get_node_stats(1, &ns), -1), "pmm_get_node_stats", "node 1: ");
    NAMED(assert_int_equal(pmm_get_node_stats(0, NULL), -1), "pmm_get_node_stats", "node 0: ");
    assert_int_equal(free_pages(), free0);

    NAMED(assert_null(kmalloc_node(16, 1)), "kmalloc_node", "node 1: no such node");
    NAMED(assert_null(kmalloc_node(3 * PAGE_SIZE, -2)), "kmalloc_node", "node -2: no such node");
    NAMED(assert_null(kmem_cache_alloc_node(c, 1 | PMM_NODE_STRICT)), "kmem_cache_alloc_node",
          "no such node");
    NAMED_PTR(assert_null(kmem_cache_alloc_node(NULL, 0)), "kmem_cache_alloc_node", NULL,
              "not a cache");
    NAMED(assert_int_equal(kmem_cache_node_stats(c, 1, &slabs, &objects), -1),
          "kmem_cache_node_stats", "node 1: no such node");
    NAMED(assert_int_equal(kmem_cache_node_stats(c, 0, NULL, &objects), -1),
          "kmem_cache_node_stats", "NULL slabs or objects pointer");
    NAMED_PTR(assert_int_equal(kmem_cache_node_stats(NULL, 0, &slabs, &objects), -1),
              "kmem_cache_node_stats", NULL, "not a cache");
    NAMED(assert_null(vmalloc_node(PAGE_SIZE, 1)), "vmalloc_node", "on node 1: no such node");
    assert_int_equal(free_pages(), free0);

    QUIET(assert_int_equal(kmem_cache_cpu_objects(-1), 0));
    QUIET(assert_int_equal(kmem_cache_cpu_objects(MM_MAX_CPUS + 100), 0));
    QUIET(assert_int_equal(pmm_page_node(0xFFFFF000u), -1));
    QUIET(assert_int_equal(kmem_cache_node_stats(c, 0, &slabs, &objects), 0));
    QUIET(assert_int_equal(kmem_cache_destroy(c), 0));
}

/*
 * pmm_set_nodes given tables that lie: no nodes, too many, a range of a node
 * that does not exist, an empty range, one above 4 GB, two overlapping, a CPU
 * on no node, a distance that is not 10 to itself, NULL tables with counts.
 * Expect one line each naming pmm_set_nodes, -1, and the topology as it was
 * (one node, the same generation).
 */
static void test_pmm_set_nodes_lying_tables(void **state)
{
    uint32_t gen0 = pmm_nodes_generation();
    const pmm_node_range_t halves[] = {{0, 8 * MB, 0}, {8 * MB, RAM, 1}};
    const pmm_node_range_t node2[] = {{0, 8 * MB, 0}, {8 * MB, RAM, 2}};
    const pmm_node_range_t empty[] = {{0, 8 * MB, 0}, {8 * MB, 8 * MB, 1}};
    const pmm_node_range_t high[] = {{0, 8 * MB, 0}, {8 * MB, 0x100001000ull, 1}};
    const pmm_node_range_t overlap[] = {{0, 9 * MB, 0}, {8 * MB, RAM, 1}};
    const uint8_t cpus_bad[] = {0, 3};
    const uint8_t dist_bad[] = {20, 20, 20, 10};
    const char *why = "refused, the nodes stay as they were";

    NAMED(assert_int_equal(pmm_set_nodes(0, NULL, 0, NULL, 0, NULL), -1), "pmm_set_nodes", why);
    NAMED(assert_int_equal(pmm_set_nodes(PMM_MAX_NODES + 1, NULL, 0, NULL, 0, NULL), -1),
          "pmm_set_nodes", why);
    NAMED(assert_int_equal(pmm_set_nodes(2, node2, 2, NULL, 0, NULL), -1), "pmm_set_nodes", why);
    NAMED(assert_int_equal(pmm_set_nodes(2, empty, 2, NULL, 0, NULL), -1), "pmm_set_nodes", why);
    NAMED(assert_int_equal(pmm_set_nodes(2, high, 2, NULL, 0, NULL), -1), "pmm_set_nodes", why);
    NAMED(assert_int_equal(pmm_set_nodes(2, overlap, 2, NULL, 0, NULL), -1), "pmm_set_nodes", why);
    NAMED(assert_int_equal(pmm_set_nodes(2, halves, 2, cpus_bad, 2, NULL), -1), "pmm_set_nodes",
          why);
    NAMED(assert_int_equal(pmm_set_nodes(2, halves, 2, NULL, 0, dist_bad), -1), "pmm_set_nodes",
          why);
    NAMED(assert_int_equal(pmm_set_nodes(2, NULL, 2, NULL, 0, NULL), -1), "pmm_set_nodes", why);
    NAMED(assert_int_equal(pmm_set_nodes(2, halves, 2, NULL, 3, NULL), -1), "pmm_set_nodes", why);
    NAMED(assert_int_equal(pmm_set_nodes(2, halves, PMM_MAX_NODE_RANGES + 1, NULL, 0, NULL), -1),
          "pmm_set_nodes", why);
    assert_int_equal(pmm_node_count(), 1);
    assert_int_equal(pmm_nodes_generation(), gen0);
}

/* the store's own checker too, after the layers' */
static void store_checked(void)
{
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(zswap_check(), 0);
}

/*
 * zstore_put of NULL and of a misaligned page; zstore_get and zstore_free of
 * handles that are none (0, a wild one), freed (a double free: its handle is
 * stale), and into NULL;
 * zstore_get_stats(NULL).  Expect one line each naming the call, 0 / -1, the
 * store unchanged (zstore_check at 0).  zstore_set_limit has no bad value:
 * a limit of 1 byte makes a put fail without a report (counted, documented).
 */
static void test_zstore_bad_calls(void **state)
{
    static uint32_t page[PAGE_SIZE / 4], back[PAGE_SIZE / 4 + 1];
    for (uint32_t i = 0; i < PAGE_SIZE / 4; i++)
        page[i] = i * 2654435761u;
    NAMED(assert_int_equal(zstore_put(NULL), 0), "zstore_put", "no page (NULL)");
    NAMED(assert_int_equal(zstore_put((char *)back + 1), 0), "zstore_put",
          "not aligned to 4 bytes");
    store_checked();

    uint32_t h = zstore_put(page);
    assert_int_not_equal(h, 0);
    NAMED(assert_int_equal(zstore_get(h, NULL), -1), "zstore_get", "no page (NULL)");
    NAMED(assert_int_equal(zstore_get(0, back), -1), "zstore_get", "not a handle of the store");
    NAMED(assert_int_equal(zstore_get(0x7FFFFFFFu, back), -1), "zstore_get",
          "not a handle of the store");
    NAMED(assert_int_equal(zstore_free(0x80000000u | h), -1), "zstore_free",
          "not a handle of the store");
    NAMED(assert_int_equal(zstore_free(0), -1), "zstore_free", "not a handle of the store");
    QUIET(assert_int_equal(zstore_get(h, back), 0));
    assert_memory_equal(page, back, PAGE_SIZE);
    QUIET(assert_int_equal(zstore_free(h), 0));
    /* a free moves the entry's generation on: the second free's handle is stale */
    NAMED(assert_int_equal(zstore_free(h), -1), "zstore_free", "stale handle (its page was freed)");
    NAMED(assert_int_equal(zstore_get(h, back), -1), "zstore_get", "stale handle");
    NAMED(zstore_get_stats(NULL), "zstore_get_stats", "no buffer (NULL)");
    store_checked();

    zstore_stats_t st;
    QUIET(zstore_set_limit(1));
    QUIET(assert_int_equal(zstore_put(page), 0));
    zstore_get_stats(&st);
    assert_int_equal(st.refused_limit, 1);
    QUIET(zstore_set_limit(0));
    QUIET(assert_int_equal(zstore_live(h), 0));
    store_checked();
}

/*
 * zstore_set_codec: NULL is lz4 (0, no report); a codec whose work memory the
 * store has no room for, and another codec while pages are stored with lz4,
 * are refused in one line naming zstore_set_codec (-1), the codec unchanged.
 */
static void test_zstore_set_codec_refusals(void **state)
{
    static uint32_t page[PAGE_SIZE / 4], back[PAGE_SIZE / 4];
    for (uint32_t i = 0; i < PAGE_SIZE / 4; i++)
        page[i] = i / 8; /* compressible, not one repeated word */
    mm_codec_t big = lz4_codec, other = lz4_codec;
    big.name = "big";
    big.work_size = ZSTORE_WORK_MAX + 1;
    other.name = "other";

    QUIET(assert_int_equal(zstore_set_codec(NULL), 0));
    NAMED(assert_int_equal(zstore_set_codec(&big), -1), "zstore_set_codec", "bytes of work memory");
    uint32_t h = zstore_put(page);
    assert_int_not_equal(h, 0);
    NAMED(assert_int_equal(zstore_set_codec(&other), -1), "zstore_set_codec",
          "stored compressed with 'lz4': not changed");
    QUIET(assert_int_equal(zstore_get(h, back), 0));
    assert_memory_equal(page, back, PAGE_SIZE);
    QUIET(assert_int_equal(zstore_free(h), 0));
    store_checked();
}

/*
 * vmalloc_compressible as vmalloc: 0 is NULL without a word, a size beyond the
 * range is NULL with vmalloc's one out-of-memory line naming the call (running
 * out is no caller bug: no report).  vfree of a compressible area's interior
 * pointer, or its guard page: one line naming vfree, the area kept.
 * zswap_reclaim has no bad argument (0, or more pages than there are: what it
 * freed), zswap_fault of an address that is no area's is 0, both silent;
 * zswap_get_stats(NULL) is reported.
 */
static void test_compressible_areas(void **state)
{
    sizes_as_vmalloc(vmalloc_compressible, "vmalloc_compressible");
    store_checked();

    char *a = vmalloc_compressible(4 * PAGE_SIZE);
    assert_non_null(a);
    vaddr_t b = vmalloc_kvirt(a);
    NAMED_AT(vfree(a + PAGE_SIZE), "vfree", b + PAGE_SIZE, "interior pointer");
    NAMED_AT(vfree(a + 8), "vfree", b + 8, "interior pointer, 8 bytes into");
    NAMED_AT(vfree(host_virt_ptr(b - PAGE_SIZE)), "vfree", b - PAGE_SIZE,
             "in the guard page below");
    store_checked();
    zswap_stats_t zs;
    zswap_get_stats(&zs);
    assert_int_equal(zs.areas, 1);
    assert_int_equal(zs.zero, 4);

    QUIET(assert_int_equal(zswap_reclaim(0), 0));
    QUIET(assert_int_equal(zswap_reclaim(0xFFFFFFFFu), 0)); /* nothing present */
    QUIET(assert_int_equal(zswap_fault(0x1000, 2), 0));
    QUIET(assert_int_equal(zswap_fault(VM_QUIET, 2), 0));
    NAMED(zswap_get_stats(NULL), "zswap_get_stats", "NULL stats pointer");
    QUIET(vfree(a));
    NAMED_AT(vfree(a), "vfree", b, "double free of compressible area");
    zswap_get_stats(&zs);
    assert_int_equal(zs.areas, 0);
    store_checked();
}

/*
 * The PMM's reclaim hold released without being held: one line naming
 * pmm_reclaim_hold; pmm_drain_cpu_lists and zswap_set_watermarks take
 * anything and say nothing.
 */
static void test_pmm_hold_and_drain(void **state)
{
    NAMED(pmm_reclaim_hold(0), "pmm_reclaim_hold", "released, but not held");
    QUIET(pmm_reclaim_hold(1));
    QUIET(pmm_reclaim_hold(0));
    QUIET(pmm_drain_cpu_lists());
    QUIET(zswap_set_watermarks(0, 0));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh)
    const struct CMUnitTest tests[] = {
        T(test_pmm_frees),
        T(test_pmm_owner_paths),
        T(test_pmm_alloc_bad_arguments),
        T(test_pmm_other_calls),
        T(test_pmm_lying_map_accepted),
        T(test_pmm_wrapping_reservations),
        T(test_vmm_map_bad_input),
        T(test_vmm_unmap_bad_input),
        T(test_vmm_owner_windows),
        T(test_vmm_owner_unmap_of_another_owners_page),
        T(test_vmm_other_calls),
        T(test_vfree_bad_pointers),
        T(test_kstack_free_bad_tops),
        T(test_vmalloc_sizes),
        T(test_vfree_of_a_damaged_allocation),
        T(test_cache_create_bad_arguments),
        T(test_cache_free_bad_pointers),
        T(test_cache_bad_caches),
        T(test_node_calls_bad_nodes),
        T(test_pmm_set_nodes_lying_tables),
        cmocka_unit_test_setup(test_zstore_bad_calls, fresh_store),
        cmocka_unit_test_setup(test_zstore_set_codec_refusals, fresh_store),
        cmocka_unit_test_setup(test_compressible_areas, fresh_store),
        T(test_pmm_hold_and_drain),
    };
    return cmocka_run_group_tests_name("names_layers", tests, NULL, NULL);
}

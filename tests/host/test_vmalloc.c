/*
 * test_vmalloc.c - vmalloc/vfree and kernel stacks on the simulated MMU:
 * whole pages between two unmapped guard pages.
 *
 *   guard   pages                 guard
 *   +-----+-----+-----+-----+-----+-----+
 *   |  -  | rw  | rw  | ... | rw  |  -  |      - : unmapped (a touch faults)
 *   +-----+-----+-----+-----+-----+-----+
 *         ^ vmalloc()
 *
 * vmalloc_check(), vmm_check() and pmm_check() run after every operation.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pmm.h"
#include "vmalloc.h"
#include "vmm.h"

#define MB  (1024u * 1024u)
#define RAM (16 * MB)

static void check_all(void)
{
    assert_int_equal(vmalloc_check(), 0);
    assert_int_equal(vmm_check(), 0);
    assert_int_equal(pmm_check(), 0);
}

static void *t_vmalloc(size_t n)
{
    void *p = vmalloc(n);
    check_all();
    return p;
}

static void t_vfree(void *p)
{
    vfree(p);
    check_all();
}

static vmalloc_stats_t vstats(void)
{
    vmalloc_stats_t s;
    vmalloc_get_stats(&s);
    return s;
}

static int mapped(vaddr_t v)
{
    return (vmm_get_entry(v) & PAGE_PRESENT) != 0;
}

/* The last report names the function, the kernel address and the reason. */
static void assert_vreported(const char *fn, vaddr_t addr, const char *reason)
{
    char where[64];
    snprintf(where, sizeof(where), "%s: 0x%08x: ", fn, addr);
    const char *last = mm_last_error();
    if (!strstr(last, where) || !strstr(last, reason))
        fail_msg("expected \"%s...%s\", got \"%s\"", where, reason, last);
}

static int fresh_vmalloc(void **state)
{
    fresh_vmalloc_ram(RAM);
    return 0;
}

/*
 *   | - | rw rw | - |      vmalloc(5000): two pages, a guard each side
 * Expect the pages mapped and writable, the guards unmapped, then all back.
 */
static void test_alloc_maps_pages_between_guards(void **state)
{
    uint32_t free0 = free_pages();
    char *p = t_vmalloc(5000);
    assert_non_null(p);
    vaddr_t v = vmalloc_kvirt(p);
    assert_int_equal(v % PAGE_SIZE, 0);
    assert_true(v >= VMALLOC_START + PAGE_SIZE && v + 2 * PAGE_SIZE <= VMALLOC_END);
    assert_true(mapped(v) && mapped(v + PAGE_SIZE));
    assert_true(vmm_get_entry(v) & PAGE_WRITABLE);
    assert_false(mapped(v - PAGE_SIZE));     /* guard below */
    assert_false(mapped(v + 2 * PAGE_SIZE)); /* guard above */
    memset(p, 0xA5, 2 * PAGE_SIZE);          /* the whole of both pages is ours */
    assert_int_equal((unsigned char)p[8191], 0xA5);
    /* the bytes are the physical page's: the mapping is real */
    assert_int_equal((unsigned char)host_phys_base()[vmm_get_physical(v + 100)], 0xA5);
    vmalloc_stats_t s = vstats();
    assert_int_equal(s.live, 1);
    assert_int_equal(s.pages, 2);
    assert_int_equal(s.guard_pages, 2);
    assert_int_equal(s.bytes_asked, 5000);
    assert_true(free_pages() <= free0 - 2);
    t_vfree(p);
    assert_false(mapped(v) || mapped(v + PAGE_SIZE));
    assert_int_equal(free_pages(), free0); /* pages and the page table went back */
    s = vstats();
    assert_int_equal(s.live + s.pages + s.bytes_asked, 0);
    assert_int_equal(s.allocs, 1);
    assert_int_equal(s.frees, 1);
    assert_int_equal(stats_now().error_count, 0);
}

/* A touch of a guard page really faults (in a child process: it dies). */
static void segv_exit(int sig)
{
    (void)sig;
    _exit(42);
}

static void test_guard_page_really_faults(void **state)
{
    char *p = t_vmalloc(PAGE_SIZE);
    assert_non_null(p);
    p[0] = 1, p[PAGE_SIZE - 1] = 2; /* its own page: fine */
    for (int side = 0; side < 2; side++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            signal(SIGSEGV, segv_exit);
            signal(SIGBUS, segv_exit);
            volatile char *g = side ? p + PAGE_SIZE : p - 1;
            *g = 1;
            _exit(0); /* not reached if the guard works */
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 42);
    }
    t_vfree(p);
}

/*
 * The describer names the allocation for an address in either guard page,
 * and the VMM's fault describer calls it a guard-page hit.
 */
static void test_describe_guard_pages(void **state)
{
    char *p = vmalloc_at(8192, "file.c", 42);
    assert_non_null(p);
    vaddr_t v = vmalloc_kvirt(p);
    char buf[256], want[200];
    assert_ptr_equal(vmalloc_describe(v - 1, buf, sizeof(buf)), buf);
    snprintf(want, sizeof(want),
             "guard page below vmalloc allocation 0x%08x (8192 bytes, allocated at file.c:42)", v);
    assert_string_equal(buf, want);
    vmalloc_describe(v + 8192 + 100, buf, sizeof(buf));
    snprintf(want, sizeof(want),
             "guard page above vmalloc allocation 0x%08x (8192 bytes, allocated at file.c:42)", v);
    assert_string_equal(buf, want);
    assert_true(vmalloc_is_guard(v - PAGE_SIZE) && vmalloc_is_guard(v + 8192));
    assert_false(vmalloc_is_guard(v) || vmalloc_is_guard(v + 8191));
    const char *why = vmm_describe(v - 16);
    assert_true(strstr(why, "guard-page hit: guard page below vmalloc allocation"));
    assert_true(strstr(why, "file.c:42"));
    assert_true(strstr(vmalloc_describe(v + 10, buf, sizeof(buf)), "10 bytes into vmalloc"));
    assert_null(strstr(vmm_describe(v + 10), "guard"));
    assert_null(vmalloc_describe(HEAP_VIRTUAL_START, buf, sizeof(buf))); /* not ours */
    t_vfree(p);
    assert_true(strstr(vmalloc_describe(v + 10, buf, sizeof(buf)), "freed vmalloc allocation"));
    assert_false(vmalloc_is_guard(v - 1)); /* no allocation: no guard */
}

/* Misuse: one line each naming function, address and bug; nothing changes. */
static void test_bad_vfree_reported_and_survived(void **state)
{
    char *p = t_vmalloc(3 * PAGE_SIZE), *q = t_vmalloc(100);
    vaddr_t v = vmalloc_kvirt(p), w = vmalloc_kvirt(q);
    uint32_t free0 = free_pages();
    vfree(NULL); /* a no-op */
    assert_int_equal(stats_now().error_count, 0);

    vfree((void *)0x1234);
    assert_vreported("vfree", 0x1234, "not a vmalloc pointer");
    vfree(p + 4096 + 8);
    assert_vreported("vfree", v + 4104, "interior pointer, 4104 bytes into vmalloc allocation");
    vfree(p + PAGE_SIZE);
    assert_vreported("vfree", v + PAGE_SIZE, "interior pointer");
    vfree(p - 8);
    assert_vreported("vfree", v - 8, "in the guard page below vmalloc allocation");
    vfree(p + 3 * PAGE_SIZE);
    assert_vreported("vfree", v + 3 * PAGE_SIZE, "in the guard page above");
    vfree(host_virt_ptr(VMALLOC_END - 100)); /* in the range, in a hole, unaligned */
    assert_vreported("vfree", VMALLOC_END - 100, "not page-aligned");
    vfree(host_virt_ptr(VMALLOC_END - 4095));
    assert_vreported("vfree", VMALLOC_END - 4095, "not a live vmalloc allocation");
    assert_int_equal(stats_now().error_count, 7);
    check_all();
    assert_int_equal(free_pages(), free0);
    assert_int_equal(vstats().live, 2);
    assert_int_equal(((unsigned char *)p)[0] = 7, 7); /* still mapped */

    t_vfree(p);
    vfree(p);
    assert_vreported("vfree", v, "double free of vmalloc allocation");
    vfree(q);
    vfree(q);
    assert_vreported("vfree", w, "double free");
    assert_int_equal(stats_now().error_count, 9);
    check_all();
    assert_int_equal(vstats().live, 0);
}

/* Kernel stacks: the top is what is returned; only kstack_free frees them. */
static void test_kstack(void **state)
{
    vaddr_t top = kstack_alloc(16 * 1024);
    check_all();
    assert_int_not_equal(top, 0);
    assert_int_equal(top % PAGE_SIZE, 0);
    vaddr_t bottom = top - 16 * 1024;
    assert_true(mapped(bottom) && mapped(top - 4));
    assert_false(mapped(bottom - PAGE_SIZE)); /* the guard an overflow runs into */
    assert_false(mapped(top));
    char buf[200];
    vmalloc_describe(bottom - 4, buf, sizeof(buf));
    assert_true(strstr(buf, "guard page below kernel stack"));
    assert_true(strstr(buf, "a stack overflow"));
    assert_int_equal(vstats().stacks, 1);

    vfree(host_virt_ptr(bottom));
    assert_vreported("vfree", bottom, "kernel stack");
    assert_true(strstr(mm_last_error(), "kstack_free"));
    kstack_free(top - PAGE_SIZE);
    assert_vreported("kstack_free", top - PAGE_SIZE, "not the top of kernel stack");
    char *p = t_vmalloc(PAGE_SIZE);
    kstack_free(vmalloc_kvirt(p) + PAGE_SIZE);
    assert_vreported("kstack_free", vmalloc_kvirt(p) + PAGE_SIZE, "free it with vfree");
    check_all();
    assert_true(mapped(bottom));

    kstack_free(top);
    check_all();
    assert_false(mapped(bottom));
    kstack_free(top);
    assert_vreported("kstack_free", top, "double free of kernel stack");
    t_vfree(p);
    assert_int_equal(stats_now().error_count, 4);
    assert_int_equal(kstack_alloc(0), 0);
}

/* Out of physical pages: NULL, a line, and nothing kept or half-mapped. */
static void test_out_of_physical_memory(void **state)
{
    uint32_t free0 = free_pages();
    vmm_stats_t vs0;
    vmm_get_stats(&vs0);
    assert_null(t_vmalloc((size_t)(free0 + 1) * PAGE_SIZE));
    assert_true(host_console_has("vmalloc: "));
    assert_true(host_console_has("out of physical memory"));
    assert_int_equal(free_pages(), free0);
    vmm_stats_t vs1;
    vmm_get_stats(&vs1);
    assert_int_equal(vs1.vmalloc_pages, 0);
    assert_int_equal(vs1.page_tables, vs0.page_tables);
    assert_int_equal(vstats().failures, 1);
    assert_int_equal(stats_now().error_count, 0); /* not a caller bug */
    /* and with almost nothing left, a map that needs a page table fails cleanly too */
    static paddr_t all[RAM / PAGE_SIZE];
    uint32_t n = 0;
    paddr_t pg;
    while (free_pages() > 1 && (pg = pmm_alloc_page()) != 0)
        all[n++] = pg;
    assert_null(t_vmalloc(PAGE_SIZE)); /* one page left: the table takes it */
    assert_int_equal(free_pages(), 1);
    for (uint32_t i = 0; i < n; i++)
        pmm_free_page(all[i]);
    void *p = t_vmalloc(PAGE_SIZE); /* usable again */
    assert_non_null(p);
    t_vfree(p);
    assert_int_equal(free_pages(), free0);
}

/* Out of virtual space, oversized and zero-sized requests. */
static void test_out_of_virtual_space(void **state)
{
    assert_null(t_vmalloc(0));
    assert_null(t_vmalloc(VMALLOC_END - VMALLOC_START)); /* no room for the guards */
    assert_true(host_console_has("larger than the whole vmalloc range"));
    if (sizeof(size_t) > 4) {
        assert_null(t_vmalloc((size_t)-1));
        assert_null(t_vmalloc((size_t)-PAGE_SIZE + 1)); /* would wrap to 0 pages */
    }
    host_console_clear();
    assert_null(t_vmalloc(VMALLOC_END - VMALLOC_START - PAGE_SIZE)); /* needs 2 guards */
    assert_true(host_console_has("larger than the whole vmalloc range"));
    vmalloc_stats_t s = vstats();
    assert_int_equal(s.free_bytes, VMALLOC_END - VMALLOC_START + 1);
    assert_int_equal(s.largest_hole, VMALLOC_END - VMALLOC_START + 1 - 2 * PAGE_SIZE);
    /* one page at the start of the range: what is left is one page short */
    char *a = t_vmalloc(PAGE_SIZE);
    assert_non_null(a);
    s = vstats();
    assert_int_equal(s.free_bytes, VMALLOC_END - VMALLOC_START + 1 - 3 * PAGE_SIZE);
    assert_int_equal(s.largest_hole, s.free_bytes - 2 * PAGE_SIZE);
    host_console_clear();
    assert_null(t_vmalloc(s.largest_hole + 1));
    assert_true(host_console_has("out of virtual space"));
    t_vfree(a);
}

/* The table is bounded: VMALLOC_MAX_AREAS allocations, then a clear NULL. */
static void test_many_allocations_and_full_table(void **state)
{
    static char *p[VMALLOC_MAX_AREAS];
    uint32_t free0 = free_pages();
    for (int i = 0; i < VMALLOC_MAX_AREAS; i++) {
        p[i] = t_vmalloc(1 + (size_t)(i % 3) * PAGE_SIZE);
        assert_non_null(p[i]);
        memset(p[i], i, 1 + (size_t)(i % 3) * PAGE_SIZE);
    }
    assert_int_equal(vstats().live, VMALLOC_MAX_AREAS);
    assert_null(t_vmalloc(100));
    assert_true(host_console_has("table full"));
    /* no two spans overlap and every byte is still what it was */
    for (int i = 0; i < VMALLOC_MAX_AREAS; i++) {
        for (int j = i + 1; j < VMALLOC_MAX_AREAS; j++) {
            vaddr_t a = vmalloc_kvirt(p[i]), b = vmalloc_kvirt(p[j]);
            uint32_t na = (1 + i % 3) * PAGE_SIZE, nb = (1 + j % 3) * PAGE_SIZE;
            assert_true(a + na + PAGE_SIZE <= b - PAGE_SIZE || b + nb + PAGE_SIZE <= a - PAGE_SIZE);
        }
        assert_int_equal((unsigned char)p[i][0], i);
        assert_false(mapped(vmalloc_kvirt(p[i]) - PAGE_SIZE));
    }
    for (int i = 0; i < VMALLOC_MAX_AREAS; i += 2) /* every other: holes */
        t_vfree(p[i]);
    for (int i = 1; i < VMALLOC_MAX_AREAS; i += 2)
        t_vfree(p[i]);
    assert_int_equal(free_pages(), free0);
    assert_int_equal(stats_now().error_count, 0);
}

/* A freed span is not handed out again at once: a stale pointer hits a hole. */
static void test_freed_space_not_reused_at_once(void **state)
{
    char *a = t_vmalloc(PAGE_SIZE);
    vaddr_t va = vmalloc_kvirt(a);
    t_vfree(a);
    char *b = t_vmalloc(PAGE_SIZE);
    assert_int_not_equal(vmalloc_kvirt(b), va);
    vfree(a); /* stale: reported, and b is untouched */
    assert_vreported("vfree", va, "double free");
    assert_true(mapped(vmalloc_kvirt(b)));
    t_vfree(b);
}

/*
 * Next fit walks up the range, one 3-page span per vmalloc/vfree pair, and
 * wraps to its start at the end: expect allocations to keep working.
 */
static void test_cursor_wraps_around(void **state)
{
    uint32_t free0 = free_pages();
    vaddr_t first = 0;
    int wrapped = 0;
    for (int i = 0; i < 40000 && !wrapped; i++) {
        char *p = vmalloc(PAGE_SIZE);
        assert_non_null(p);
        if (!first)
            first = vmalloc_kvirt(p);
        else if (vmalloc_kvirt(p) <= first)
            wrapped = 1;
        vfree(p);
        if (i % 1000 == 0)
            check_all();
    }
    assert_true(wrapped);
    check_all();
    assert_int_equal(free_pages(), free0);
    assert_int_equal(stats_now().error_count, 0);
}

/* Random vmalloc/vfree against a shadow, every byte checked, checkers every step. */
static void test_random_against_shadow(void **state)
{
    enum { SLOTS = 48 };
    static struct shadow_slot live[SLOTS];
    memset(live, 0, sizeof(live));
    uint32_t free0 = free_pages(), rng = 4242;
    for (int op = 0; op < 3000; op++) {
        int i = rng_next(&rng) % SLOTS;
        if (live[i].p) {
            for (size_t k = 0; k < live[i].n; k += 61)
                assert_int_equal(live[i].p[k], live[i].c);
            t_vfree(live[i].p);
            live[i].p = NULL;
        } else {
            live[i].n = 1 + (rng >> 8) % (5 * PAGE_SIZE);
            live[i].c = (unsigned char)(rng >> 24);
            live[i].p = t_vmalloc(live[i].n);
            assert_non_null(live[i].p);
            memset(live[i].p, live[i].c, live[i].n);
            assert_false(mapped(vmalloc_kvirt(live[i].p) - PAGE_SIZE));
        }
    }
    for (int i = 0; i < SLOTS; i++)
        t_vfree(live[i].p);
    assert_int_equal(free_pages(), free0);
    assert_int_equal(vstats().live, 0);
    assert_int_equal(stats_now().error_count, 0);
}

/* Nobody else maps or unmaps in the vmalloc range. */
static void test_range_refused_to_others(void **state)
{
    char *p = t_vmalloc(PAGE_SIZE);
    vaddr_t v = vmalloc_kvirt(p);
    paddr_t q = pmm_alloc_page();
    assert_int_equal(vmm_map(v - PAGE_SIZE, q, PAGE_WRITABLE), -1); /* its guard page */
    assert_true(strstr(mm_last_error(), "vmalloc range"));
    vmm_unmap_page(v);
    assert_vreported("vmm_unmap_page", v, "inside the vmalloc range");
    assert_int_equal(vmm_heap_map(VMALLOC_START, q), -1); /* the heap may not either */
    assert_true(mapped(v));
    pmm_free_page(q);
    check_all();
    t_vfree(p);
}

/* Before paging there is nowhere to map: NULL and a line. */
static void test_needs_paging(void **state)
{
    vmm_reset();
    assert_null(vmalloc(100));
    assert_true(host_console_has("paging is off"));
    assert_int_equal(kstack_alloc(4096), 0);
}

/* vmalloc_check finds a broken record and a stray mapping in the range. */
static void test_check_finds_damage(void **state)
{
    char *p = t_vmalloc(PAGE_SIZE);
    vaddr_t v = vmalloc_kvirt(p);
    /* a page mapped behind vmalloc's back, in its guard page */
    paddr_t q = pmm_alloc_page();
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    uint32_t *pd = (uint32_t *)(host_phys_base() + vs.page_directory);
    uint32_t *pt = (uint32_t *)(host_phys_base() + VMM_FRAME(pd[VMM_PDX(v)]));
    pt[VMM_PTX(v - PAGE_SIZE)] = q | PAGE_PRESENT | PAGE_WRITABLE;
    assert_true(vmalloc_check() >= 1);
    assert_true(host_console_has("guard page below is mapped"));
    pt[VMM_PTX(v - PAGE_SIZE)] = 0;
    pmm_free_page(q);
    check_all();
    /* a page of the allocation unmapped behind its back */
    uint32_t saved = pt[VMM_PTX(v)];
    pt[VMM_PTX(v)] = 0;
    assert_true(vmalloc_check() >= 1);
    assert_true(host_console_has("page not mapped"));
    pt[VMM_PTX(v)] = saved;
    check_all();
    t_vfree(p);
}

/* vmalloc_dump lists every allocation with its guard pages. */
static void test_dump(void **state)
{
    char *p = vmalloc_at(3 * PAGE_SIZE, "dump.c", 7);
    vaddr_t top = kstack_alloc(8192);
    host_console_clear();
    vmalloc_dump();
    char want[128];
    assert_true(host_console_has("vmalloc: 2 allocations (1 kernel stacks), 5 pages mapped, "
                                 "4 guard pages"));
    snprintf(want, sizeof(want), "0x%08x-0x%08x     3 pages, guard pages 0x%08x 0x%08x",
             vmalloc_kvirt(p), vmalloc_kvirt(p) + 3 * PAGE_SIZE - 1, vmalloc_kvirt(p) - PAGE_SIZE,
             vmalloc_kvirt(p) + 3 * PAGE_SIZE);
    assert_true(host_console_has(want));
    assert_true(host_console_has("vmalloc allocation"));
    assert_true(host_console_has("dump.c:7"));
    assert_true(host_console_has("kernel stack"));
    kstack_free(top);
    t_vfree(p);
}

/* ---- NUMA nodes: vmalloc_node (issue 13, item 3) ---- */

/*
 *   0             10 MB + 4 KB        16 MB
 *   | node 0      | node 1             |      CPU 0 on node 0, CPU 1 on node 1
 */
#define EDGE (10 * MB + 4 * 1024)

static int two_nodes(void **state)
{
    static const pmm_node_range_t r[] = {{0, EDGE, 0}, {EDGE, RAM, 1}};
    static const uint8_t cpus[] = {0, 1};
    fresh_vmalloc(state);
    assert_int_equal(pmm_set_nodes(2, r, 2, cpus, 2, NULL), 0);
    host_forced_cpu_id = 0;
    check_all();
    return 0;
}

#define one_node_again one_node_natural_cpu

/* The node of the page behind virtual page i of p. */
static int node_at(void *p, uint32_t i)
{
    return pmm_page_node(vmm_get_physical(vmalloc_kvirt(p) + i * PAGE_SIZE));
}

static uint32_t node_free(int node)
{
    pmm_node_stats_t s;
    assert_int_equal(pmm_get_node_stats(node, &s), 0);
    return s.free_pages;
}

/* Expect each call's pages on the node asked for, or on the CPU's node for PMM_NODE_ANY. */
static void test_vmalloc_node_places_pages(void **state)
{
    char *a = vmalloc_node(10 * PAGE_SIZE, 1), *b = vmalloc_node(3 * PAGE_SIZE, 0);
    check_all();
    assert_non_null(a);
    assert_non_null(b);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(node_at(a, i), 1);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(node_at(b, i), 0);
    memset(a, 0x5a, 10 * PAGE_SIZE); /* mapped and writable */
    host_forced_cpu_id = 1;
    char *c = vmalloc_node(2 * PAGE_SIZE, PMM_NODE_ANY), *d = vmalloc(PAGE_SIZE);
    check_all();
    assert_int_equal(node_at(c, 0), 1);
    assert_int_equal(node_at(c, 1), 1);
    assert_int_equal(node_at(d, 0), 1);
    host_forced_cpu_id = 0;
    t_vfree(d);
    d = t_vmalloc(PAGE_SIZE);
    assert_int_equal(node_at(d, 0), 0);
    t_vfree(a);
    t_vfree(b);
    t_vfree(c);
    t_vfree(d);
    assert_int_equal(stats_now().error_count, 0);
}

/*
 * Strict: more pages than node 1 has free.  Expect NULL, one line, nothing
 * kept; the same without PMM_NODE_STRICT: node 1 to its last page, then node 0.
 */
static void test_vmalloc_node_strict_and_fallback(void **state)
{
    uint32_t n1 = node_free(1), free0 = free_pages();
    size_t size = (size_t)(n1 + 4) * PAGE_SIZE;
    assert_null(vmalloc_node(size, 1 | PMM_NODE_STRICT));
    check_all();
    assert_true(host_console_has("vmalloc_node: "));
    assert_true(host_console_has("no free page left on the node (strict; nothing kept)"));
    assert_int_equal(free_pages(), free0);
    assert_int_equal(node_free(1), n1);
    vmm_stats_t v0, v1;
    vmm_get_stats(&v0);
    char *p = vmalloc_node(size, 1);
    check_all();
    assert_non_null(p);
    assert_int_equal(node_free(1), 0);
    /*
     * node 1's pages first, then node 0's; a new page table comes from the
     * node of the page it maps (vmm.c), so node 1 lost up to one page per new
     * table to them
     */
    vmm_get_stats(&v1);
    uint32_t on1 = 0, tables = v1.page_tables - v0.page_tables;
    while (on1 < n1 + 4 && node_at(p, on1) == 1)
        on1++;
    assert_true(on1 <= n1 && on1 + tables >= n1);
    for (uint32_t i = on1; i < n1 + 4; i++)
        assert_int_equal(node_at(p, i), 0);
    t_vfree(p);
    assert_int_equal(node_free(1), n1);
    assert_int_equal(stats_now().error_count, 0);
}

/* Interleave: page i from node i % 2, while both have pages. */
static void test_vmalloc_node_interleave(void **state)
{
    char *p = vmalloc_node(16 * PAGE_SIZE + 1, VMALLOC_INTERLEAVE);
    check_all();
    assert_non_null(p);
    for (uint32_t i = 0; i < 17; i++)
        assert_int_equal(node_at(p, i), (int)(i % 2));
    t_vfree(p);
}

/* A node that does not exist: one line, NULL, nothing allocated. */
static void test_vmalloc_node_bad_node(void **state)
{
    uint32_t free0 = free_pages();
    static const int bad[] = {2, 7, -3, 0x200, 2 | PMM_NODE_STRICT};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(vmalloc_node(PAGE_SIZE, bad[i]));
    assert_true(host_console_has("vmalloc_node: 4096 bytes on node 2: no such node (2 nodes)"));
    assert_int_equal(stats_now().error_count, 5);
    assert_null(vmalloc_node(0, 1)); /* as vmalloc(0) */
    assert_int_equal(free_pages(), free0);
    check_all();
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh_vmalloc)
    const struct CMUnitTest tests[] = {
        T(test_alloc_maps_pages_between_guards),
        T(test_guard_page_really_faults),
        T(test_describe_guard_pages),
        T(test_bad_vfree_reported_and_survived),
        T(test_kstack),
        T(test_out_of_physical_memory),
        T(test_out_of_virtual_space),
        T(test_many_allocations_and_full_table),
        T(test_freed_space_not_reused_at_once),
        T(test_cursor_wraps_around),
        T(test_random_against_shadow),
        T(test_range_refused_to_others),
        T(test_needs_paging),
        T(test_check_finds_damage),
        T(test_dump),
#define N(f) cmocka_unit_test_setup_teardown(f, two_nodes, one_node_again)
        N(test_vmalloc_node_places_pages),
        N(test_vmalloc_node_strict_and_fallback),
        N(test_vmalloc_node_interleave),
        N(test_vmalloc_node_bad_node),
    };
    return cmocka_run_group_tests_name("vmalloc", tests, NULL, NULL);
}

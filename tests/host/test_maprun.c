/*
 * test_maprun.c - runs of pages mapped in one host call (issue 12 item 7):
 * mm/ brackets a run of pages it maps (a vmalloc area, a kernel stack, the
 * heap growing) with glue_kmap_run_begin/_end, and the host glue
 * mirrors the run with one mmap per stretch of adjacent pages whose frames
 * are adjacent too, not one per page.
 *
 * The simulated MMU stays honest: after every case, each page of the heap's
 * and vmalloc's ranges is readable and writable in the host exactly when the
 * VMM maps it (/proc/self/maps, the kernel's own view of our protections), so
 * a page mm/ did not map (a guard page, the rest of a run cut short) faults.
 */
#include <inttypes.h>

#include "harness.h"
#include "glue.h"
#include "glue_common.h"

#define MB  (1024u * 1024u)
#define RAM (16 * MB)

static int fresh(void **state)
{
    (void)state;
    fresh_vmalloc_ram(RAM);
    heap_init_virtual();
    return 0;
}

/* The host's readable-and-writable mappings, from /proc/self/maps. */
#define AREAS_MAX 4096
static struct {
    uintptr_t lo, hi;
} rw[AREAS_MAX];
static unsigned nrw;

static void read_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    nrw = 0;
    while (fgets(line, sizeof(line), f)) {
        uintmax_t lo, hi;
        char prot[8];
        if (sscanf(line, "%jx-%jx %7s", &lo, &hi, prot) != 3)
            continue;
        if (prot[0] == 'r' && prot[1] == 'w') {
            assert_true(nrw < AREAS_MAX);
            rw[nrw].lo = (uintptr_t)lo;
            rw[nrw].hi = (uintptr_t)hi;
            nrw++;
        }
    }
    fclose(f);
}

static int host_rw(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    for (unsigned i = 0; i < nrw; i++) {
        if (a >= rw[i].lo && a < rw[i].hi)
            return 1;
    }
    return 0;
}

/* Pages of [lo, lo + pages * 4K) whose host mirror disagrees with the VMM (0: honest). */
static unsigned mirror_disagrees(vaddr_t lo, uint32_t pages)
{
    read_maps();
    unsigned bad = 0;
    for (uint32_t i = 0; i < pages; i++) {
        vaddr_t v = lo + i * PAGE_SIZE;
        int mapped = (vmm_get_entry(v) & PAGE_PRESENT) != 0;
        if (mapped != host_rw(host_virt_ptr(v))) {
            if (bad < 4)
                fprintf(stderr, "test_maprun: 0x%08x: the VMM says %s, the host %s\n", (unsigned)v,
                        mapped ? "mapped" : "unmapped", mapped ? "faults" : "reads and writes");
            bad++;
        }
    }
    return bad;
}

/* The heap's first 16 MB and vmalloc's first 8 MB: the host as the VMM says, page by page. */
static void assert_honest(void)
{
    assert_int_equal(mirror_disagrees(HEAP_VIRTUAL_START, 16 * MB / PAGE_SIZE), 0);
    assert_int_equal(mirror_disagrees(VMALLOC_START, 8 * MB / PAGE_SIZE), 0);
    assert_int_equal(vmalloc_check(), 0);
    assert_int_equal(vmm_check(), 0);
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(heap_check(), 0);
}

/* Stretches of [v, v + pages * 4K) whose frames follow each other: the fewest calls possible. */
static unsigned frame_runs(vaddr_t v, uint32_t pages)
{
    unsigned runs = 0;
    paddr_t prev = 0;
    for (uint32_t i = 0; i < pages; i++) {
        paddr_t p = vmm_get_physical(v + i * PAGE_SIZE);
        assert_true(p != 0);
        runs += i == 0 || p != prev + PAGE_SIZE;
        prev = p;
    }
    return runs;
}

/* A 64-page vmalloc: one mmap per run of adjacent frames (here at most 3), not 64. */
static void test_vmalloc_maps_in_runs(void **state)
{
    (void)state;
    unsigned long maps0 = host_mirror_maps, pages0 = host_mirror_map_pages;
    char *p = vmalloc(64 * PAGE_SIZE);
    assert_non_null(p);
    unsigned runs = frame_runs(vmalloc_kvirt(p), 64);
    assert_int_equal(host_mirror_maps - maps0, runs);
    assert_int_equal(host_mirror_map_pages - pages0, 64);
    assert_true(runs <= 3); /* a fresh buddy PMM hands its pages out in order */
    memset(p, 0x5a, 64 * PAGE_SIZE);
    read_maps();
    assert_false(host_rw(p - 1));              /* the guard page below */
    assert_false(host_rw(p + 64 * PAGE_SIZE)); /* and above */
    assert_honest();
    vfree(p);
    assert_honest();
}

/* A kernel stack: its pages in one run too. */
static void test_kstack_maps_in_runs(void **state)
{
    (void)state;
    unsigned long maps0 = host_mirror_maps;
    vaddr_t top = kstack_alloc(8 * PAGE_SIZE);
    assert_true(top != 0);
    assert_int_equal(host_mirror_maps - maps0, frame_runs(top - 8 * PAGE_SIZE, 8));
    assert_true(host_mirror_maps - maps0 <= 2);
    memset(host_virt_ptr(top - 8 * PAGE_SIZE), 1, 8 * PAGE_SIZE);
    assert_honest();
    kstack_free(top);
    assert_honest();
}

/* The heap growing by 1 MB for one kmalloc: a few calls (block-map pages one each), not 256. */
static void test_heap_growth_maps_in_runs(void **state)
{
    (void)state;
    vmm_stats_t v0, v1;
    vmm_get_stats(&v0);
    uint32_t size0 = stats_now().heap_virtual_size;
    unsigned long maps0 = host_mirror_maps;
    char *p = t_kmalloc(MB);
    assert_non_null(p);
    vmm_get_stats(&v1);
    uint32_t grown = (stats_now().heap_virtual_size - size0) / PAGE_SIZE;
    assert_true(grown >= MB / PAGE_SIZE - 16); /* the heap's free end counts too */
    assert_true(v1.mapped_pages - v0.mapped_pages >= grown);
    unsigned long calls = host_mirror_maps - maps0;
    /* the heap's pages: one call per 128 (or per break in the frames); each block-map page one */
    uint32_t meta = v1.mapped_pages - v0.mapped_pages - grown;
    unsigned runs = frame_runs(HEAP_VIRTUAL_START + size0, grown);
    assert_true(calls >= 1);
    assert_true(calls <= runs + (grown + 127) / 128 + meta);
    assert_true(calls * 16 <= grown); /* it was one call per page */
    memset(p, 0xa5, MB);
    assert_honest();
    t_kfree(p);
    heap_trim();
    assert_honest();
}

/* Caller pages taken until `left` remain free; their addresses in held[]. */
#define HELD_MAX (RAM / PAGE_SIZE)
static paddr_t held[HELD_MAX];
static unsigned nheld;

static void drain_pmm_to(uint32_t left)
{
    pmm_stats_t s;
    for (pmm_get_stats(&s); s.free_pages > left; pmm_get_stats(&s)) {
        assert_true(nheld < HELD_MAX);
        held[nheld] = pmm_alloc_page();
        assert_true(held[nheld] != 0);
        nheld++;
    }
}

static void give_back(unsigned n)
{
    while (n-- && nheld)
        pmm_free_page(held[--nheld]);
}

/* A run cut short (the PMM dry halfway): nothing of it stays mapped, in mm/ or in the host. */
static void test_run_cut_short_leaves_nothing(void **state)
{
    (void)state;
    nheld = 0;
    heap_trim();
    drain_pmm_to(5);
    unsigned long maps0 = host_mirror_maps;
    assert_null(vmalloc(40 * PAGE_SIZE)); /* 5 pages mapped (one run), then no more */
    assert_true(host_mirror_maps - maps0 <= 2);
    vmalloc_stats_t vs;
    vmalloc_get_stats(&vs);
    assert_int_equal(vs.pages, 0);
    assert_honest(); /* the 5 pages unmapped, the 35 never mapped: all fault */
    give_back(nheld);
    assert_honest();
}

/* The heap grows by what the PMM has left (less than it wanted): exactly that is usable. */
static void test_heap_growth_cut_short(void **state)
{
    (void)state;
    nheld = 0;
    heap_trim();
    uint32_t size0 = stats_now().heap_virtual_size;
    drain_pmm_to(8);
    /* needs 2 pages beyond the heap's free end, wants 16 (HEAP_GROW_MIN), gets what is left */
    char *p = kmalloc(size0 + 4 * PAGE_SIZE);
    uint32_t size1 = stats_now().heap_virtual_size;
    assert_non_null(p);
    assert_true(size1 > size0);
    assert_true(size1 - size0 < 16 * PAGE_SIZE); /* what the run got before the PMM ran dry */
    memset(p, 7, size0 + 4 * PAGE_SIZE);
    assert_honest(); /* the pages the run did not get fault */
    kfree(p);
    give_back(nheld);
    assert_honest();
}

/*
 * A reclaim hook, run by the PMM while a vmalloc gathers its frames, grows the
 * heap (a run of its own, and block-map pages one by one) and writes to what
 * it got at once: no run is open then, so nothing it maps is deferred.
 */
static char *hook_block;
static unsigned hook_calls;

static size_t grow_heap_hook(void)
{
    if (hook_calls++)
        return 0;
    give_back(96);                    /* room for the heap, and for the vmalloc */
    hook_block = kmalloc(256 * 1024); /* the heap grows: a nested run */
    if (hook_block)
        memset(hook_block, 0x3c, 256 * 1024); /* faults unless its run was made real */
    return 96;
}

static void test_reclaim_hook_grows_heap_mid_vmalloc(void **state)
{
    (void)state;
    nheld = hook_calls = 0;
    hook_block = NULL;
    heap_trim();
    drain_pmm_to(4);
    assert_int_equal(pmm_register_reclaim(grow_heap_hook), 0);
    char *p = vmalloc(12 * PAGE_SIZE); /* 4 pages, then the hooks run, then the rest */
    pmm_unregister_reclaim(grow_heap_hook);
    assert_int_equal(hook_calls, 1);
    assert_non_null(hook_block);
    assert_non_null(p);
    memset(p, 0x11, 12 * PAGE_SIZE);
    assert_int_equal((unsigned char)hook_block[256 * 1024 - 1], 0x3c);
    assert_honest();
    vfree(p);
    kfree(hook_block);
    give_back(nheld);
    assert_honest();
}

/* Maps outside a run (vmm_map by a caller) are applied at once, one call each, as before. */
static void test_map_outside_a_run_at_once(void **state)
{
    (void)state;
    paddr_t ph = pmm_alloc_page();
    assert_true(ph != 0);
    vaddr_t v = KERNEL_VIRTUAL_BASE + 128 * MB; /* past the direct map of 16 MB, below the heap */
    unsigned long maps0 = host_mirror_maps;
    assert_int_equal(vmm_map(v, ph, PAGE_WRITABLE), 0);
    assert_int_equal(host_mirror_maps - maps0, 1);
    read_maps();
    assert_true(host_rw(host_virt_ptr(v)));
    *(volatile char *)host_virt_ptr(v) = 1;
    vmm_unmap_page(v);
    read_maps();
    assert_false(host_rw(host_virt_ptr(v)));
    assert_int_equal(mirror_disagrees(v - 4 * PAGE_SIZE, 8), 0);
    assert_honest();
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh)
    const struct CMUnitTest tests[] = {
        T(test_vmalloc_maps_in_runs),      T(test_kstack_maps_in_runs),
        T(test_heap_growth_maps_in_runs),  T(test_run_cut_short_leaves_nothing),
        T(test_heap_growth_cut_short),     T(test_reclaim_hook_grows_heap_mid_vmalloc),
        T(test_map_outside_a_run_at_once),
    };
    return cmocka_run_group_tests_name("maprun", tests, NULL, NULL);
}

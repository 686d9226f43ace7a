/*
 * ktest_pressure.c - the boot option zswap-pressure: the in-kernel suite with
 * zswap's reclaim running under every test that runs with paging (issue 14
 * item 5, "the normal suite passes with reclaim running").
 *
 * ktest restarts the heap before every test, and the compressed copies live
 * in kmalloc blocks, so a compressible area cannot outlive a test.  Instead,
 * for each test, on the fresh heap:
 *
 *   1. the store is reset (its entry chunks were blocks of the heap just
 *      dropped) and a compressible area is made, sized from the free frames so
 *      that filling it takes free RAM just below zswap's low watermark: the
 *      last page faults of the fill run reclaim (up to the high watermark);
 *   2. every page is written with realistic data (kernel/zswap_pages.h,
 *      seeded by the test's number);
 *   3. the test runs unchanged: when its allocations run the PMM dry, the
 *      PMM's reclaim hook compresses pages of the area under its feet;
 *   4. every byte of the area is compared (faulting pages back, which runs
 *      reclaim again), then zswap_check and zstore_check, the vfree, and
 *      zswap_check and zstore_check once more (no area, no stored page left).
 *
 * A few tests cannot hold with an area under them (kt_pressure_excluded says
 * which and why; README.md lists them): they run as usual, without an area.
 * kt_pressure_summary prints the totals, the proof that reclaim ran.
 */
#include "ktest.h"
#include "multiboot.h"
#include "pmm.h"
#include "vmm.h"
#include "vmalloc.h"
#include "zstore.h"
#include "zswap.h"
#include "zswap_pages.h"

/* Tests run without an area, and why (the names as in their suites). */
static const struct {
    const char *name;
    const char *why;
} excluded[] = {
    {"phase2: early blocks survive the switch",
     "restarts the heap (memory_init): the area's page records and the store's copies are "
     "blocks of the heap it drops"},
    {"phase2: heap grows past 16 MB and shrinks",
     "checks that the heap shrinks back to 80 pages: the store's copies and the area's page "
     "records hold more of it than that"},
    {"phase2: small sizes come from slabs",
     "counts the heap's slab objects (2) and expects its two blocks side by side in a fresh "
     "slab: the store's small copies are slab objects too"},
    {"bugclass: overflow and underflow into block headers",
     "expects the block it asks for after a repair to land right after its first one, as in "
     "an empty heap: the store's blocks fill the holes"},
    {"vmalloc: out of memory leaves nothing behind",
     "asks for one page more than the free RAM and expects NULL: the PMM's reclaim hook makes "
     "that room by compressing the area, so the vmalloc succeeds"},
    {"owners: reclaim hooks run once, never nested",
     "takes every free page and expects its own reclaim hook to be the only one that gives a "
     "page back: zswap's hook gives the area's pages"},
    {"zstore: 400 pages of five kinds stored, got back shuffled, freed",
     "resets the store (zstore_reset) under the area's stored pages, and counts its exact "
     "statistics"},
    {"zstore: bad handles refused, the limit kept",
     "resets the store and sets its limit: the area's stored pages would be dropped"},
    {"zstore: a damaged copy caught by its checksum",
     "resets the store under the area's stored pages"},
    {"vmalloc: pages mapped between unmapped guard pages",
     "expects the free frames after vfree to be exactly those before: a reclaim owed under "
     "pressure runs at the vmalloc's exit and frees the area's frames"},
    {"vmalloc: kstack_alloc runs code, kstack_free",
     "expects the free frames after kstack_free to be exactly those before: a reclaim owed "
     "under pressure runs at kstack_alloc's exit"},
    {"smp_vfree_reader_faults",
     "takes every free frame until the one vfree gave back comes: a reclaim at an allocation's "
     "exit may give that frame to the heap for the store's copies first"},
    {"smp_heap_stress_handoff",
     "expects heap_used after every block is freed to be what it was before: a reclaim at an "
     "allocation's exit stores compressed copies in the heap"},
};

static struct {
    int on; /* the boot option was given */
    uint8_t *area;
    uint32_t pages, seed;
    zswap_stats_t before; /* after the fill: what the test's own run adds */
} pr;

static struct {
    uint32_t tests, tests_reclaimed, skipped;
    uint32_t pages;             /* area pages written and verified */
    uint32_t during_compressed; /* compressed or dropped while the tests themselves ran */
    uint32_t mismatched;
} tot;

static uint8_t want[ZPAGE_SIZE];

int kt_pressure_on(void)
{
    static int asked;
    if (!asked) {
        asked = 1;
        pr.on = multiboot_has_option("zswap-pressure");
        if (pr.on)
            kprintf("[ktest] zswap-pressure: a compressible area filled under every test with "
                    "paging, verified after it\n");
    }
    return pr.on;
}

/* Why the test named so runs without an area, or NULL: it runs with one. */
static const char *excluded_why(const char *name)
{
    for (unsigned i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++) {
        const char *a = excluded[i].name, *b = name;
        while (*a && *a == *b)
            a++, b++;
        if (!*a && !*b)
            return excluded[i].why;
    }
    return NULL;
}

static uint32_t free_frames(void)
{
    pmm_stats_t s;
    pmm_get_stats(&s);
    return s.free_pages;
}

int kt_pressure_begin(const char *name, uint32_t number)
{
    pr.area = NULL;
    const char *why = excluded_why(name);
    if (why) {
        kprintf("    zswap-pressure: no area under this test: it %s\n", why);
        tot.skipped++;
        return 0;
    }
    zstore_reset(); /* its entry chunks were blocks of the heap memory_init dropped */
    /*
     * The heap's blocks from the heap, not from a CPU's cache of freed ones: a
     * test's kmallocs then take frames as they did before the caches and meet
     * the reclaim this suite is for (with the caches on, reclaim ran inside 9
     * of 31 tests' bodies, not the 16 asked; memory_init turns them on again).
     */
    mm_set_block_cache(0);
    zswap_stats_t zs;
    zswap_get_stats(&zs);
    if (zs.areas != 0) {
        kprintf("    zswap-pressure: %u compressible areas left from before\n", zs.areas);
        return -1;
    }
    /*
     * Free frames now, less what the area costs besides its pages (a page
     * table per 4 MB, 5 bytes a page of records in the heap), less the low
     * watermark, plus a few: the fill ends just below it, so its last faults
     * run reclaim up to the high watermark (zswap keeps that much free for
     * the heap, which grows without reclaim: PMM_NO_RECLAIM).
     */
    uint32_t f = free_frames(), low = zs.low;
    uint32_t overhead = f / 1024 + 2 + (f * 5) / PAGE_SIZE + 2;
    if (f < low + overhead + 64) {
        kprintf("    zswap-pressure: %u free frames: too few for an area\n", f);
        return -1;
    }
    pr.pages = f - low - overhead + 40;
    pr.seed = 0x9E3779B9u * (number + 1);
    pr.area = vmalloc_compressible((size_t)pr.pages * PAGE_SIZE);
    if (!pr.area) {
        kprintf("    zswap-pressure: vmalloc_compressible(%u pages) failed\n", pr.pages);
        return -1;
    }
    for (uint32_t i = 0; i < pr.pages; i++)
        zpage_fill(pr.area + (size_t)i * PAGE_SIZE, i, pr.seed, 0);
    /*
     * The low watermark just under the free frames now (the high one as far
     * above it as before): a test that takes a few frames leaves fewer than
     * `low`, and the next allocation's exit runs reclaim inside its body.
     */
    uint32_t now = free_frames();
    if (now > 16)
        zswap_set_watermarks(now - 8, now - 8 + (zs.high - zs.low));
    zswap_get_stats(&pr.before);
    kprintf("    zswap-pressure: %u pages (%u KB) filled, %u free frames left (low %u, high %u); "
            "%u present, %u compressed\n",
            pr.pages, pr.pages * 4, free_frames(), pr.before.low, pr.before.high, pr.before.present,
            pr.before.stored);
    return 0;
}

int kt_pressure_end(void)
{
    if (!pr.area)
        return 0;
    zswap_stats_t during;
    zswap_get_stats(&during);
    uint32_t under = (during.compressed - pr.before.compressed) +
                     (during.dropped_clean - pr.before.dropped_clean);
    uint32_t bad = 0, first = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < pr.pages; i++) {
        if (zpage_check(pr.area + (size_t)i * PAGE_SIZE, i, pr.seed, 0, want) >= 0) {
            if (!bad)
                first = i;
            bad++;
        }
    }
    zswap_stats_t after;
    zswap_get_stats(&after);
    /* the checkers with the area in place, half of it stored */
    int z1 = zswap_check(), s1 = zstore_check();
    int others = vmm_check() + pmm_check() + vmalloc_check() + heap_check();
    vfree(pr.area);
    pr.area = NULL;
    zswap_set_watermarks(0, 0); /* the defaults again */
    zswap_stats_t gone;
    zswap_get_stats(&gone);
    zstore_stats_t st;
    zstore_get_stats(&st);
    int z2 = zswap_check(), s2 = zstore_check();
    kprintf(
        "    zswap-pressure: during the test %u pages reclaimed, %u faulted back; verify: "
        "%u pages, %u mismatched, %u brought back; zswap/zstore checks %d %d (vmm, pmm, vmalloc, "
        "heap %d), after vfree %d %d (%u areas, %u stored)\n",
        under, during.faulted_in - pr.before.faulted_in, pr.pages, bad,
        after.faulted_in - during.faulted_in, z1, s1, others, z2, s2, gone.areas, st.pages_stored);
    if (bad)
        kprintf("    zswap-pressure: MISMATCH from page %u\n", first);
    tot.tests++;
    tot.pages += pr.pages;
    tot.mismatched += bad;
    tot.during_compressed += under;
    tot.tests_reclaimed += under != 0;
    return bad || z1 || s1 || others || z2 || s2 || gone.areas || st.pages_stored ? -1 : 0;
}

void kt_pressure_summary(void)
{
    if (!pr.on)
        return;
    zswap_stats_t s;
    zswap_get_stats(&s);
    kprintf("[ktest] zswap-pressure: %u tests with an area (%u without: excluded), %u pages "
            "written and verified, %u mismatched\n",
            tot.tests, tot.skipped, tot.pages, tot.mismatched);
    kprintf("[ktest] zswap-pressure: %u pages reclaimed while %u of the tests ran; in all, "
            "%u reclaim runs, %u compressed, %u dropped clean, %u brought back, %u failed, "
            "%u out of memory\n",
            tot.during_compressed, tot.tests_reclaimed, s.reclaims, s.compressed, s.dropped_clean,
            s.faulted_in, s.failures, s.oom_faults);
}

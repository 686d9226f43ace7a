/*
 * test_pmm_stages.c - a PMM that grows in stages (pmm_init_layout,
 * pmm_add_range, pmm_set_reachable) and refuses inconsistent maps, on
 * simulated physical memory.  pmm_check() runs after every operation.
 *
 * The machine of most tests: an xv6-like kernel that maps 4 MB at boot.
 *
 *   0      640K   1 MB   1.25 MB        4 MB    5 MB   12 MB    20-21 MB    32 MB
 *   | low  |      |kernel| free ...      | unreachable ... | hole | reserved | hole |
 *                                        ^ reachable      heap ^           ram_end ^
 */
#include "harness.h"
#include "pmm.h"

#define MB           (1024u * 1024u)
#define PAGES(bytes) ((bytes) / PAGE_SIZE)
#define CHECK_PMM()  assert_int_equal(pmm_check(), 0)
#define KERNEL_BASE  MB
#define KERNEL_SIZE  (256u * 1024u)

static const pmm_range_t boot_map[] = {
    {0x0, 0x9fc00, PMM_RANGE_AVAILABLE},
    {MB, 11 * MB, PMM_RANGE_AVAILABLE},
    {KERNEL_BASE, KERNEL_SIZE, PMM_RANGE_RESERVED},
    {20 * MB, MB, PMM_RANGE_RESERVED}, /* firmware, in a hole */
};
#define BOOT_COUNT 4

static int setup(void **state)
{
    (void)state;
    fresh_pmm_alone();
    return 0;
}

static pmm_layout_t xv6_layout(void)
{
    pmm_layout_t l = {0};
    l.reachable = 4 * MB;
    l.ram_end = 32 * MB;
    l.kernel_base = KERNEL_BASE;
    l.kernel_length = KERNEL_SIZE;
    return l;
}

static void start_xv6(void)
{
    pmm_layout_t l = xv6_layout();
    assert_int_equal(pmm_init_layout(boot_map, BOOT_COUNT, &l), 0);
    CHECK_PMM();
    host_console_clear();
}

/* Take every page pmm_alloc_page gives; each must lie in [lo, hi) and outside the kernel. */
static uint32_t alloc_all(paddr_t lo, paddr_t hi, paddr_t *got, uint32_t max)
{
    uint32_t n = 0;
    paddr_t p;
    while ((p = pmm_alloc_page()) != 0) {
        if (p < lo || p >= hi)
            fail_msg("page 0x%x outside [0x%x, 0x%x)", p, lo, hi);
        assert_false(p >= KERNEL_BASE && p < KERNEL_BASE + KERNEL_SIZE);
        assert_false(p >= HEAP_START && p < HEAP_START + INITIAL_HEAP_SIZE);
        assert_int_equal(pmm_page_state(p), 1);
        assert_true(n < max);
        got[n++] = p;
        CHECK_PMM();
    }
    CHECK_PMM();
    return n;
}

/*
 * Stage 1: init with 4 MB reachable.  Expect every page handed out below
 * 4 MB, none above, the metadata below 4 MB and clear of the kernel.
 * Stage 2: the limit rises to 16 MB: the rest of the map's RAM comes free.
 * Stage 3: [12 MB, 14 MB) is added below the limit: free at once.
 * Stage 4: [24 MB, 28 MB) is added above it: known, unreachable, until the
 * limit rises to 4 GB.  Everything given back merges into the blocks of a
 * PMM that had it all from the start.
 */
static void test_two_stage_start_up(void **state)
{
    static paddr_t got[PAGES(32 * MB)];
    uint32_t n = 0;

    start_xv6();
    pmm_stats_t s = pstats();
    assert_int_equal(s.reachable_limit, 4 * MB);
    assert_int_equal(s.ram_end, 32 * MB);
    assert_int_equal(s.ranges_added, 0);
    assert_true(s.metadata_phys >= KERNEL_BASE + KERNEL_SIZE);
    assert_true(s.metadata_phys + s.metadata_bytes <= 4 * MB);
    assert_int_equal(s.metadata_bytes, pmm_layout_bytes(32 * MB)); /* the whole array */
    assert_int_equal(s.total_pages, PAGES(0x9f000) + PAGES(11 * MB));
    assert_int_equal(s.unreachable_pages, PAGES(8 * MB) - PAGES(INITIAL_HEAP_SIZE));
    assert_int_equal(s.total_pages,
                     s.free_pages + s.used_pages + s.reserved_pages + s.unreachable_pages);
    assert_int_equal(pmm_page_state(8 * MB), -1); /* known, not yet reachable */

    n += alloc_all(KERNEL_BASE + KERNEL_SIZE, 4 * MB, got + n, PAGES(32 * MB) - n);
    assert_int_equal(n, s.free_pages);
    assert_int_equal(pmm_alloc_pages(1, 0), 0);

    assert_int_equal(pmm_set_reachable(16 * MB), 0);
    CHECK_PMM();
    s = pstats();
    assert_int_equal(s.unreachable_pages, 0);
    assert_int_equal(s.free_pages, PAGES(8 * MB) - PAGES(INITIAL_HEAP_SIZE));
    n += alloc_all(4 * MB, 12 * MB, got + n, PAGES(32 * MB) - n);

    assert_int_equal(pmm_add_range(12 * MB, 2 * MB), 0);
    CHECK_PMM();
    assert_int_equal(pstats().free_pages, PAGES(2 * MB));
    n += alloc_all(12 * MB, 14 * MB, got + n, PAGES(32 * MB) - n);

    assert_int_equal(pmm_add_range(24 * MB, 4 * MB), 0);
    CHECK_PMM();
    s = pstats();
    assert_int_equal(s.free_pages, 0);
    assert_int_equal(s.unreachable_pages, PAGES(4 * MB));
    assert_int_equal(s.ranges_added, 2);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(pmm_set_reachable(0x100000000ull), 0);
    CHECK_PMM();
    assert_int_equal(pstats().reachable_limit, 0x100000000ull);
    n += alloc_all(24 * MB, 28 * MB, got + n, PAGES(32 * MB) - n);

    s = pstats();
    assert_int_equal(s.used_pages, n);
    assert_int_equal(s.total_pages, n + s.reserved_pages);
    for (uint32_t i = 0; i < n; i++)
        pmm_free_page(got[i]);
    CHECK_PMM();
    pmm_stats_t after = pstats();
    assert_int_equal(after.free_pages, n);
    assert_int_equal(stats_now().error_count, 0);

    /* the same RAM in one map from the start: the same free blocks */
    const pmm_range_t all[] = {{0x0, 0x9fc00, PMM_RANGE_AVAILABLE},
                               {MB, 13 * MB, PMM_RANGE_AVAILABLE},
                               {24 * MB, 4 * MB, PMM_RANGE_AVAILABLE},
                               {KERNEL_BASE, KERNEL_SIZE, PMM_RANGE_RESERVED},
                               {after.metadata_phys, after.metadata_bytes, PMM_RANGE_RESERVED},
                               {20 * MB, MB, PMM_RANGE_RESERVED}};
    assert_int_equal(pmm_init_map(all, 6), 0);
    CHECK_PMM();
    pmm_stats_t once = pstats();
    assert_int_equal(once.free_pages + (once.metadata_bytes + PAGE_SIZE - 1) / PAGE_SIZE,
                     after.free_pages);
}

/* A page above the reachable limit is never freed, nor handed out in a run. */
static void test_unreachable_pages_are_untouchable(void **state)
{
    start_xv6();
    pmm_free_page(8 * MB);
    assert_true(strstr(mm_last_error(), "pmm_free_page: 0x00800000: not yet reachable"));
    CHECK_PMM();
    /* runs and big alignments too stay below the limit */
    paddr_t r;
    while ((r = pmm_alloc_pages(8, 8 * PAGE_SIZE)) != 0) {
        assert_true(r + 8 * PAGE_SIZE <= 4 * MB);
        CHECK_PMM();
    }
    assert_int_equal(pmm_alloc_pages(1, 4 * MB), 0); /* 4 MB-aligned: only at 0 or above */
    CHECK_PMM();
}

/* The default is today's PMM: no layout and an all-zero layout are pmm_init_map. */
static void test_default_layout_is_init_map(void **state)
{
    assert_int_equal(pmm_init_map(boot_map, BOOT_COUNT), 0);
    pmm_stats_t a = pstats();
    pmm_layout_t zero = {0};
    assert_int_equal(pmm_init_layout(boot_map, BOOT_COUNT, &zero), 0);
    pmm_stats_t b = pstats();
    assert_int_equal(pmm_init_layout(boot_map, BOOT_COUNT, NULL), 0);
    pmm_stats_t c = pstats();
    CHECK_PMM();
    assert_memory_equal(&a, &b, sizeof(a));
    assert_memory_equal(&a, &c, sizeof(a));
    assert_int_equal(a.unreachable_pages, 0);
    assert_int_equal(a.reachable_limit, 0x100000000ull);
    assert_int_equal(a.ram_end, 12 * MB);
    /* without a ram_end, pmm_add_range still fills holes below the map's top */
    const pmm_range_t holey[] = {{MB, 7 * MB, PMM_RANGE_AVAILABLE},
                                 {10 * MB, 6 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(holey, 2), 0);
    assert_int_equal(pmm_add_range(8 * MB, 2 * MB), 0);
    CHECK_PMM();
    assert_int_equal(pmm_add_range(16 * MB, 4096), -1);
    assert_true(strstr(mm_last_error(), "beyond the pages the PMM describes"));
    CHECK_PMM();
}

/* pmm_add_range trims unaligned ends inward: only whole pages are added. */
static void test_add_range_trims_inward(void **state)
{
    start_xv6();
    pmm_set_reachable(64 * MB);
    uint32_t total = pstats().total_pages;
    assert_int_equal(pmm_add_range(28 * MB + 0x800, MB), 0);
    CHECK_PMM();
    assert_int_equal(pstats().total_pages, total + 255);
    assert_int_equal(pmm_page_state(28 * MB), -1);
    assert_int_equal(pmm_page_state(28 * MB + PAGE_SIZE), 0);
    assert_int_equal(pmm_page_state(29 * MB - PAGE_SIZE), 0);
    assert_int_equal(pmm_page_state(29 * MB), -1);
    /* the partial page below is not RAM yet: a range ending in it is fine */
    assert_int_equal(pmm_add_range(27 * MB, MB + 0x800), 0);
    CHECK_PMM();
    assert_int_equal(pstats().total_pages, total + 255 + 256);
}

/* Every refusal of pmm_add_range: one line naming the call and why; nothing changed. */
static void test_add_range_refusals(void **state)
{
    static const struct {
        uint64_t base, length;
        const char *why;
    } bad[] = {
        {30 * MB, 0, "zero length"},
        {UINT64_MAX - 0xfff, 0x2000, "wraps past 2^64"},
        {0x100000000ull, MB, "above 4 GB"},
        {0xfff00000ull, 2 * MB, "above 4 GB"},
        {30 * MB + 0x10, 0x800, "no whole page"},
        {30 * MB + 0x10, PAGE_SIZE, "no whole page"},
        {32 * MB, MB,
         "beyond the pages the PMM describes (up to 0x02000000: pmm_init_layout's ram_end)"},
        {30 * MB, 8 * MB, "beyond the pages the PMM describes"},
        {8 * MB, 8 * MB, "0x00800000 is RAM the PMM already manages"},
        {KERNEL_BASE, PAGE_SIZE, "0x00100000 is RAM the PMM already manages"},
        {19 * MB, 2 * MB, "0x01400000 is reserved by the memory map"},
        {0xa0000, 0x10000, "the first 1 MB"},
    };
    start_xv6();
    pmm_stats_t before = pstats();
    uint32_t errors = errors_now();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        host_console_clear();
        assert_int_equal(pmm_add_range(bad[i].base, bad[i].length), -1);
        const char *last = mm_last_error();
        if (!strstr(last, "pmm_add_range: ") || !strstr(last, bad[i].why) ||
            !strstr(last, "nothing added"))
            fail_msg("add #%zu: expected \"%s\", got \"%s\"", i, bad[i].why, last);
        /* one line on the console */
        const char *text = host_console_text();
        assert_non_null(strchr(text, '\n'));
        assert_null(strchr(strchr(text, '\n') + 1, '\n'));
        CHECK_PMM();
        pmm_stats_t now = pstats();
        assert_memory_equal(&now, &before, sizeof(now));
        assert_int_equal(errors_now(), errors + i + 1);
    }
    /* the table of added ranges is full after PMM_ADDED_RANGES */
    for (uint32_t i = 0; i < PMM_ADDED_RANGES; i++) {
        assert_int_equal(pmm_add_range(24 * MB + 2 * i * PAGE_SIZE, PAGE_SIZE), 0);
        CHECK_PMM();
    }
    before = pstats();
    assert_int_equal(before.ranges_added, PMM_ADDED_RANGES);
    assert_int_equal(pmm_add_range(26 * MB, PAGE_SIZE), -1);
    assert_true(strstr(mm_last_error(), "pmm_add_range: 0x01a00000-0x01a01000: the PMM "
                                        "describes at most 16 added ranges: nothing added"));
    CHECK_PMM();
    pmm_stats_t now = pstats();
    assert_memory_equal(&now, &before, sizeof(now));
}

/* pmm_set_reachable only raises; lowering is refused and changes nothing. */
static void test_reachable_only_rises(void **state)
{
    start_xv6();
    assert_int_equal(pmm_set_reachable(16 * MB + 0x123), 0); /* rounded down */
    CHECK_PMM();
    assert_int_equal(pstats().reachable_limit, 16 * MB);
    pmm_stats_t before = pstats();
    assert_int_equal(pmm_set_reachable(8 * MB), -1);
    assert_true(strstr(mm_last_error(), "pmm_set_reachable: 0x00800000: below the limit "
                                        "already set (0x01000000): the limit only rises"));
    CHECK_PMM();
    pmm_stats_t now = pstats();
    assert_memory_equal(&now, &before, sizeof(now));
    assert_int_equal(pmm_set_reachable(16 * MB), 0); /* the same: nothing to do */
    assert_int_equal(pmm_set_reachable(UINT64_MAX), 0);
    CHECK_PMM();
    assert_int_equal(pstats().unreachable_pages, 0);
}

/* An empty PMM (never started, or its map refused) refuses the stages too. */
static void test_stages_need_a_pmm(void **state)
{
    const pmm_range_t map[] = {{0, 0x9fc00, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), -1);
    assert_int_equal(pmm_add_range(8 * MB, MB), -1);
    assert_true(strstr(mm_last_error(), "pmm_add_range: 0x00800000-0x00900000: the PMM has no "
                                        "pages (not started, or its map was refused)"));
    assert_int_equal(pmm_set_reachable(8 * MB), -1);
    assert_true(strstr(mm_last_error(), "pmm_set_reachable: 0x00800000: the PMM has no pages"));
    assert_int_equal(pmm_alloc_page(), 0);
    CHECK_PMM();
}

/* Refusals of pmm_init_layout leave an empty PMM that hands out nothing. */
static void assert_init_refused(const pmm_range_t *map, int count, const pmm_layout_t *l,
                                const char *why)
{
    host_console_clear();
    uint32_t errors = errors_now();
    assert_int_equal(pmm_init_layout(map, count, l), -1);
    const char *last = mm_last_error();
    if (!strstr(last, "pmm_init_layout: ") || !strstr(last, why))
        fail_msg("expected \"%s\", got \"%s\"", why, last);
    assert_int_equal(errors_now(), errors + 1);
    const char *text = host_console_text();
    assert_null(strchr(strchr(text, '\n') + 1, '\n')); /* one line */
    CHECK_PMM();
    pmm_stats_t s = pstats();
    assert_int_equal(s.total_pages, 0);
    assert_int_equal(s.metadata_bytes, 0);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(pmm_alloc_pages(4, 0), 0);
}

/*
 * A map that forgets the kernel image:
 *
 *   1 MB        1.25 MB
 *   | kernel    |        the map: [1 MB, 24 MB) available, nothing reserved
 *
 * Expect "kernel image ... not reserved", and not one byte of metadata
 * written: the RAM at 1 MB (where the PMM would have put it) is unchanged.
 */
static void test_kernel_not_reserved_is_refused(void **state)
{
    const pmm_range_t forgot[] = {{0x0, 0x9fc00, PMM_RANGE_AVAILABLE},
                                  {MB, 23 * MB, PMM_RANGE_AVAILABLE}};
    unsigned char *kernel = (unsigned char *)host_phys_base() + KERNEL_BASE;
    memset(kernel, 0xC3, KERNEL_SIZE); /* "the kernel's code" */
    pmm_layout_t l = xv6_layout();
    assert_init_refused(forgot, 2, &l,
                        "pmm_init_layout: kernel image 0x00100000-0x00140000: 0x00100000 is "
                        "available RAM the map does not reserve: refused, no page handed out");
    for (uint32_t i = 0; i < KERNEL_SIZE; i++)
        assert_int_equal(kernel[i], 0xC3);

    /* half reserved: the report names the first byte that is not */
    const pmm_range_t half[] = {{MB, 23 * MB, PMM_RANGE_AVAILABLE},
                                {KERNEL_BASE, KERNEL_SIZE / 2, PMM_RANGE_RESERVED}};
    assert_init_refused(half, 2, &l, "0x00120000 is available RAM the map does not reserve");

    /* reserved in two overlapping pieces, in any order: accepted */
    const pmm_range_t pieces[] = {{KERNEL_BASE + 0x10000, KERNEL_SIZE, PMM_RANGE_RESERVED},
                                  {MB, 23 * MB, PMM_RANGE_AVAILABLE},
                                  {KERNEL_BASE, 0x20000, PMM_RANGE_RESERVED}};
    assert_int_equal(pmm_init_layout(pieces, 3, &l), 0);
    CHECK_PMM();
    /* a kernel outside the map's RAM (ROM, say) needs no reservation */
    l.kernel_base = 0xfff00000u;
    l.kernel_length = 0x10000;
    assert_int_equal(pmm_init_layout(forgot, 2, &l), 0);
    CHECK_PMM();
    /* no map at all: named as the call the caller made; the PMM stays as it was */
    uint32_t total = pstats().total_pages;
    assert_int_equal(pmm_init_layout(NULL, 0, &l), -1);
    assert_true(strstr(mm_last_error(), "pmm_init_layout: empty memory map"));
    assert_int_equal(pstats().total_pages, total);
    CHECK_PMM();
    /* a kernel image that wraps is refused */
    l.kernel_base = UINT64_MAX - 0xfff;
    assert_init_refused(forgot, 2, &l, "kernel image");
}

/* The kernel names where the metadata goes; every bad place is refused in one line. */
static void test_metadata_where_the_kernel_says(void **state)
{
    pmm_layout_t l = xv6_layout();
    uint32_t bytes = pmm_layout_bytes(32 * MB);
    assert_int_equal(bytes, PAGES(32 * MB) * 12);

    l.meta_base = 2 * MB;
    l.meta_length = bytes;
    assert_int_equal(pmm_init_layout(boot_map, BOOT_COUNT, &l), 0);
    CHECK_PMM();
    assert_int_equal(pstats().metadata_phys, 2 * MB);
    assert_int_equal(pmm_page_state(2 * MB), -1);
    assert_int_equal(pmm_page_state(2 * MB + 23 * PAGE_SIZE), -1);
    assert_int_equal(pmm_page_state(2 * MB + 24 * PAGE_SIZE), 0);

    static const struct {
        uint64_t base, length;
        const char *why;
    } bad[] = {
        {2 * MB + 8, 256 * 1024, "not page-aligned"},
        {2 * MB, 4096, "too small: 98304 bytes needed"},
        {KERNEL_BASE + 0x10000, 256 * 1024, "overlaps a reserved range"},
        {0x10000, 256 * 1024, "overlaps the first 1 MB"},
        {HEAP_START, 256 * 1024, "overlaps the Phase 1 heap"},
        {4 * MB - 0x10000, 256 * 1024, "not below the reachable limit 0x00400000"},
        {8 * MB, 256 * 1024, "not below the reachable limit"},
        {UINT64_MAX - 0xfff, 256 * 1024, "wraps past 2^64"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        l.meta_base = bad[i].base;
        l.meta_length = bad[i].length;
        assert_init_refused(boot_map, BOOT_COUNT, &l, bad[i].why);
    }
    /* in a hole of the map: not RAM */
    l.reachable = 0;
    l.meta_base = 12 * MB - 0x10000;
    l.meta_length = bytes;
    assert_init_refused(boot_map, BOOT_COUNT, &l, "0x00c00000 is not RAM");
}

/* No room for the metadata below the reachable limit: refused, nothing written. */
static void test_no_metadata_room_below_limit(void **state)
{
    pmm_layout_t l = xv6_layout();
    l.reachable = KERNEL_BASE + KERNEL_SIZE + 16 * PAGE_SIZE; /* 24 pages needed */
    assert_init_refused(boot_map, BOOT_COUNT, &l,
                        "no room below the reachable limit 0x00150000 for 24 pages of metadata");
    /* ram_end at 4 GB: 12 MB of metadata, which 4 MB cannot hold */
    l = xv6_layout();
    l.ram_end = 0x100000000ull;
    assert_init_refused(boot_map, BOOT_COUNT, &l, "3072 pages of metadata");
    /* ... and which 23 MB of RAM can, once 20 MB are reachable */
    const pmm_range_t big[] = {{MB, 23 * MB, PMM_RANGE_AVAILABLE},
                               {KERNEL_BASE, KERNEL_SIZE, PMM_RANGE_RESERVED}};
    l.reachable = 20 * MB;
    assert_int_equal(pmm_init_layout(big, 2, &l), 0);
    CHECK_PMM();
    assert_int_equal(pstats().ram_end, 0x100000000ull);
    assert_int_equal(pmm_add_range(0xF0000000u, 64 * MB), 0);
    CHECK_PMM();
    assert_int_equal(pstats().unreachable_pages,
                     PAGES(4 * MB) + PAGES(64 * MB)); /* [20, 24) MB and the new range */
}

/* pmm_dump shows the stages: the limit, the unreachable runs, the ranges added. */
static void test_dump_shows_stages(void **state)
{
    start_xv6();
    assert_int_equal(pmm_add_range(24 * MB, 4 * MB), 0);
    host_console_clear();
    pmm_dump();
    assert_true(host_console_has("reachable below 0x00400000"));
    assert_true(host_console_has("unreachable"));
    assert_true(host_console_has("0x00400000-0x004fffff  unreachable  256 pages"));
    assert_true(host_console_has("added: 0x01800000-0x01bfffff"));
    assert_true(host_console_has("descriptors up to 0x02000000"));
}

/*
 * A random run of add / alloc / free / raise against a shadow of what each
 * page is; pmm_check after each operation.  Every page handed out is known
 * RAM below the limit at that moment, and no page is handed out twice.
 */
enum { SH_HOLE, SH_KEPT, SH_RAM };
static void test_random_stages(void **state)
{
    static unsigned char what[PAGES(64 * MB)], mine[PAGES(64 * MB)];
    const pmm_range_t map[] = {{MB, 7 * MB, PMM_RANGE_AVAILABLE},
                               {KERNEL_BASE, KERNEL_SIZE, PMM_RANGE_RESERVED},
                               {18 * MB, MB, PMM_RANGE_RESERVED}};
    pmm_layout_t l = {.reachable = 3 * MB,
                      .ram_end = 24 * MB,
                      .kernel_base = KERNEL_BASE,
                      .kernel_length = KERNEL_SIZE};
    assert_int_equal(pmm_init_layout(map, 3, &l), 0);
    CHECK_PMM();
    memset(what, SH_HOLE, sizeof(what));
    memset(mine, 0, sizeof(mine));
    for (uint32_t p = 0; p < PAGES(8 * MB); p++)
        what[p] = p < PAGES(MB) ? SH_HOLE : SH_RAM;
    for (uint32_t p = PAGES(18 * MB); p < PAGES(19 * MB); p++)
        what[p] = SH_KEPT;

    enum { SLOTS = 48 };
    paddr_t base[SLOTS] = {0};
    uint32_t len[SLOTS] = {0};
    uint64_t limit = 3 * MB;
    uint32_t rng = 4242, added = 0, accepted = 0, refused = 0, raised = 0;
    for (int op = 0; op < 3000; op++) {
        uint32_t r = rng_next(&rng), pick = r % 100;
        if (pick < 4) { /* add a range somewhere in [0, 28 MB), maybe unaligned */
            uint64_t b = (uint64_t)(rng_next(&rng) % (28 * MB)) & ~0x3ffull;
            uint64_t n = (rng_next(&rng) % (2 * MB)) & ~0x3ffull;
            uint64_t first = (b + PAGE_SIZE - 1) / PAGE_SIZE, last = (b + n) / PAGE_SIZE;
            int expect = n != 0 && first < last && last <= PAGES(24 * MB) && first >= PAGES(MB) &&
                         added < PMM_ADDED_RANGES;
            for (uint64_t p = first; expect && p < last; p++)
                expect = what[p] == SH_HOLE &&
                         !(p >= PAGES(HEAP_START) && p < PAGES(HEAP_START + INITIAL_HEAP_SIZE));
            int got = pmm_add_range(b, n);
            if (got != (expect ? 0 : -1))
                fail_msg("op %d: pmm_add_range(0x%llx, 0x%llx) = %d, shadow says %d: %s", op,
                         (unsigned long long)b, (unsigned long long)n, got, expect,
                         mm_last_error());
            if (expect) {
                for (uint64_t p = first; p < last; p++)
                    what[p] = SH_RAM;
                added++;
                accepted++;
            } else {
                refused++;
            }
        } else if (pick < 7) { /* raise the limit a little */
            uint64_t to = limit + (rng_next(&rng) % (2 * MB));
            assert_int_equal(pmm_set_reachable(to), 0);
            limit = to & ~(uint64_t)(PAGE_SIZE - 1);
            raised++;
        } else {
            int i = r % SLOTS;
            if (base[i]) {
                for (uint32_t k = 0; k < len[i]; k++)
                    mine[base[i] / PAGE_SIZE + k] = 0;
                pmm_free_pages(base[i], len[i]);
                base[i] = 0;
            } else {
                len[i] = (r >> 8) % 3 == 0 ? 1 + (r >> 12) % 20 : 1;
                base[i] = len[i] == 1 ? pmm_alloc_page() : pmm_alloc_pages(len[i], 0);
                for (uint32_t k = 0; base[i] && k < len[i]; k++) {
                    uint32_t p = base[i] / PAGE_SIZE + k;
                    if (what[p] != SH_RAM || (uint64_t)(p + 1) * PAGE_SIZE > limit)
                        fail_msg("op %d: page 0x%x handed out: %s", op, p * PAGE_SIZE,
                                 what[p] != SH_RAM ? "not RAM" : "above the limit");
                    assert_int_equal(mine[p]++, 0);
                }
            }
        }
        CHECK_PMM();
    }
    for (int i = 0; i < SLOTS; i++) {
        if (base[i])
            pmm_free_pages(base[i], len[i]);
    }
    CHECK_PMM();
    pmm_stats_t s = pstats();
    assert_int_equal(s.used_pages, 0);
    assert_int_equal(s.ranges_added, accepted);
    assert_true(accepted >= 4 && refused >= 4 && raised >= 4);
}

/*
 * A kernel image the map does not mention at all (a hole: accepted, it is not
 * RAM), and later RAM added over it.
 *
 *   1 MB        4 MB  4.25 MB        8 MB      12 MB           32 MB
 *   | RAM       |kernel|  hole        | RAM     |  hole ...      | ram_end
 *                ^ pmm_add_range(4 MB, 1 MB) covers it
 *
 * Expect the add refused in one line (the layout named the kernel there),
 * and no page of the kernel ever handed out.
 */
static void test_add_range_over_kernel_in_a_hole(void **state)
{
    const pmm_range_t map[] = {{MB, 3 * MB, PMM_RANGE_AVAILABLE},
                               {8 * MB, 4 * MB, PMM_RANGE_AVAILABLE}};
    pmm_layout_t l = {0};
    l.ram_end = 32 * MB;
    l.kernel_base = 4 * MB;
    l.kernel_length = KERNEL_SIZE;
    assert_int_equal(pmm_init_layout(map, 2, &l), 0);
    CHECK_PMM();
    pmm_stats_t before = pstats();
    assert_int_equal(pmm_add_range(4 * MB, MB), -1);
    assert_true(strstr(mm_last_error(), "pmm_add_range: 0x00400000-0x00500000: 0x00400000 is "
                                        "reserved by the memory map or the kernel image: "
                                        "nothing added"));
    CHECK_PMM();
    pmm_stats_t now = pstats();
    assert_memory_equal(&now, &before, sizeof(now));
    /* past the image: accepted */
    assert_int_equal(pmm_add_range(4 * MB + KERNEL_SIZE, MB - KERNEL_SIZE), 0);
    CHECK_PMM();
    paddr_t p;
    while ((p = pmm_alloc_page()) != 0)
        assert_false(p >= 4 * MB && p < 4 * MB + KERNEL_SIZE);
    CHECK_PMM();
}

/*
 * The last page below 4 GB, added later: base + length == 2^32 exactly.
 *
 *   1 MB        32 MB         ...          4 GB - 1 MB     4 GB
 *   | RAM       | hole                      | added          | (ram_end)
 *
 * Expect it added, unreachable until the limit reaches 4 GB (4 GB - 1 page
 * leaves the last page out), its pages handed out aligned runs included, a
 * run that would wrap past 4 GB refused, everything back in one piece.
 */
static void test_add_range_ending_at_4gb(void **state)
{
    const pmm_range_t map[] = {{MB, 31 * MB, PMM_RANGE_AVAILABLE},
                               {KERNEL_BASE, KERNEL_SIZE, PMM_RANGE_RESERVED}};
    pmm_layout_t l = xv6_layout();
    l.reachable = 24 * MB;
    l.ram_end = 0x100000000ull;
    assert_int_equal(pmm_init_layout(map, 2, &l), 0);
    CHECK_PMM();
    assert_int_equal(pstats().ram_end, 0x100000000ull);
    assert_int_equal(pmm_add_range(0x100000000ull - MB, MB), 0);
    CHECK_PMM();
    assert_int_equal(pstats().unreachable_pages, PAGES(8 * MB) + PAGES(MB));
    assert_int_equal(pmm_set_reachable(0x100000000ull - PAGE_SIZE), 0);
    CHECK_PMM();
    assert_int_equal(pstats().unreachable_pages, 1);
    assert_int_equal(pmm_page_state(0xfffff000u), -1);
    assert_int_equal(pmm_set_reachable(0x100000000ull), 0);
    CHECK_PMM();
    assert_int_equal(pstats().unreachable_pages, 0);
    /* the whole added MB as one aligned run */
    paddr_t top = pmm_alloc_pages(256, MB);
    CHECK_PMM();
    assert_true(top != 0);
    assert_int_equal(top % MB, 0);
    pmm_free_pages(top, 256);
    CHECK_PMM();
    /* every page: the highest ones too */
    static paddr_t got[PAGES(64 * MB)];
    uint32_t n = 0;
    paddr_t p;
    int saw_last = 0;
    while ((p = pmm_alloc_page()) != 0) {
        assert_true(n < PAGES(64 * MB));
        saw_last |= p == 0xfffff000u;
        got[n++] = p;
    }
    assert_true(saw_last);
    CHECK_PMM();
    uint32_t errors = errors_now();
    pmm_free_pages(0xfffff000u, 2); /* wraps past 4 GB: refused, nothing freed */
    assert_int_equal(errors_now(), errors + 1);
    assert_int_equal(pmm_page_state(0xfffff000u), 1);
    while (n)
        pmm_free_page(got[--n]);
    CHECK_PMM();
    assert_int_equal(pstats().used_pages, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
        T(test_two_stage_start_up),
        T(test_unreachable_pages_are_untouchable),
        T(test_default_layout_is_init_map),
        T(test_add_range_trims_inward),
        T(test_add_range_refusals),
        T(test_reachable_only_rises),
        T(test_stages_need_a_pmm),
        T(test_kernel_not_reserved_is_refused),
        T(test_metadata_where_the_kernel_says),
        T(test_no_metadata_room_below_limit),
        T(test_dump_shows_stages),
        T(test_random_stages),
        T(test_add_range_over_kernel_in_a_hole),
        T(test_add_range_ending_at_4gb),
    };
    return cmocka_run_group_tests_name("pmm_stages", tests, NULL, NULL);
}

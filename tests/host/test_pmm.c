/*
 * test_pmm.c - the physical memory manager on simulated physical memory.
 * pmm_check() runs after every operation.
 */
#include "harness.h"
#include "pmm.h"

#define MB           (1024u * 1024u)
#define PAGES(bytes) ((bytes) / PAGE_SIZE)
#define CHECK_PMM()  assert_int_equal(pmm_check(), 0)

static int setup(void **state)
{
    host_console_clear();
    memory_init(); /* resets the error counter too */
    return 0;
}

static uint32_t meta_pages(uint32_t npages)
{
    return (uint32_t)((ALIGN_8(npages * 12u) + PAGE_SIZE - 1) / PAGE_SIZE);
}

/*
 * pmm_init(16 MB): RAM is [0, 16 MB), and without a map the kernel may be
 * anywhere from 1 MB up to the early heap.
 * Expect everything free but [0, 5 MB), the early heap and the metadata.
 */
static void test_spec_init_reserves_low_heap_metadata(void **state)
{
    pmm_init(16 * MB);
    CHECK_PMM();
    pmm_stats_t s = pstats();
    uint32_t reserved = PAGES(HEAP_START) + PAGES(INITIAL_HEAP_SIZE) + meta_pages(PAGES(16 * MB));
    assert_int_equal(s.total_pages, PAGES(16 * MB));
    assert_int_equal(s.reserved_pages, reserved);
    assert_int_equal(s.free_pages, PAGES(16 * MB) - reserved);
    assert_int_equal(s.used_pages, 0);
    assert_true(s.metadata_phys >= HEAP_START + INITIAL_HEAP_SIZE); /* never on the kernel */
    assert_int_equal(pmm_page_state(0x100000), -1);                 /* the kernel image */
    assert_int_equal(pmm_page_state(0), -1);
    assert_int_equal(pmm_page_state(HEAP_START), -1);
    assert_int_equal(pmm_page_state(s.metadata_phys), -1);
}

/* Every free page can be allocated exactly once, none reserved; then all come back. */
static void test_alloc_all_then_free_all(void **state)
{
    pmm_init(16 * MB);
    pmm_stats_t before = pstats();
    static unsigned char seen[PAGES(16 * MB)];
    static uint32_t got[PAGES(16 * MB)];
    memset(seen, 0, sizeof(seen));
    uint32_t n = 0, p;
    while ((p = pmm_alloc_page()) != 0) {
        assert_int_equal(p % PAGE_SIZE, 0);
        assert_true(p >= MB && p < 16 * MB);
        assert_false(p >= HEAP_START && p < HEAP_START + INITIAL_HEAP_SIZE);
        assert_int_equal(seen[p / PAGE_SIZE]++, 0); /* no duplicates */
        assert_int_equal(pmm_page_state(p), 1);
        got[n++] = p;
    }
    assert_int_equal(n, before.free_pages);
    assert_int_equal(pstats().free_pages, 0);
    assert_true(host_console_has("pmm: out of memory"));
    CHECK_PMM();
    for (uint32_t i = 0; i < n; i++)
        pmm_free_page(got[i]);
    CHECK_PMM();
    pmm_stats_t after = pstats();
    assert_int_equal(after.free_pages, before.free_pages);
    assert_int_equal(after.used_pages, 0);
    pmm_drain_cpu_lists(); /* the CPU's list of single pages back, merged */
    after = pstats();
    /* buddies merged back into exactly the blocks we started with */
    assert_memory_equal(after.free_blocks, before.free_blocks, sizeof(before.free_blocks));
    assert_int_equal(stats_now().error_count, 0);
}

/*
 * A firmware-like map: low RAM, holes, reserved firmware areas, the kernel
 * image (reserved, overlapping RAM), unaligned edges, RAM above 4 GB.
 *
 *   0        0x9fc00        0x100000   0x10d000             0x1fe0000
 *   | avail  | res |  hole   | kernel  |  avail ...         | res |   (RAM above 4 GB)
 *
 * Expect only whole available pages outside every reservation to be handed out.
 */
static const pmm_range_t qemu_like[] = {
    {0x1fe0000, 0x20000, PMM_RANGE_RESERVED}, /* unsorted on purpose */
    {0x0, 0x9fc00, PMM_RANGE_AVAILABLE},
    {0x9fc00, 0x400, PMM_RANGE_RESERVED},
    {0xf0000, 0x10000, PMM_RANGE_RESERVED},
    {0x100000, 0x1ee0000, PMM_RANGE_AVAILABLE},
    {0x100000, 0xd000, PMM_RANGE_RESERVED},               /* kernel image */
    {0x800200, 0x100, PMM_RANGE_RESERVED},                /* multiboot info: a partial page */
    {0xfffc0000, 0x40000, PMM_RANGE_RESERVED},            /* BIOS ROM */
    {0x100000000ull, 0x40000000ull, PMM_RANGE_AVAILABLE}, /* above 4 GB */
    {0x1500000, 0, PMM_RANGE_AVAILABLE},                  /* empty */
};

static int in_range(uint64_t a, const pmm_range_t *r)
{
    return a >= r->base && a < r->base + r->length;
}

static void test_memory_map_is_respected(void **state)
{
    assert_int_equal(pmm_init_map(qemu_like, 10), 0);
    CHECK_PMM();
    assert_true(host_console_has("above 4 GB"));
    pmm_stats_t s = pstats();
    assert_int_equal(s.total_pages, PAGES(0x9f000) + PAGES(0x1ee0000));
    assert_int_equal(s.highest_page, 0x1fdf000);
    uint32_t p, n = 0;
    while ((p = pmm_alloc_page()) != 0) {
        n++;
        int avail = 0;
        for (int i = 0; i < 10; i++) {
            if (qemu_like[i].type == PMM_RANGE_AVAILABLE)
                avail |= in_range(p, &qemu_like[i]) && in_range(p + PAGE_SIZE - 1, &qemu_like[i]);
            else if (in_range(p, &qemu_like[i]) || in_range(p + PAGE_SIZE - 1, &qemu_like[i]))
                fail_msg("page 0x%x handed out from reserved range %d", p, i);
        }
        assert_true(avail);
        assert_true(p >= MB);
        assert_false(p >= HEAP_START && p < HEAP_START + INITIAL_HEAP_SIZE);
        assert_false(p >= s.metadata_phys && p < s.metadata_phys + s.metadata_bytes);
    }
    assert_int_equal(n, s.free_pages);
    CHECK_PMM();
}

/* An available range with unaligned ends gives only its whole pages. */
static void test_unaligned_available_range(void **state)
{
    const pmm_range_t map[] = {{0x100800, 0x100000 - 0x400, PMM_RANGE_AVAILABLE},
                               {0x2000000, 0x400000, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 2), 0);
    CHECK_PMM();
    pmm_stats_t s = pstats();
    /* [0x101000, 0x200000) and [0x2000000, 0x2400000); metadata goes in the first */
    assert_int_equal(s.total_pages, 0xff + 0x400);
    uint32_t p;
    while ((p = pmm_alloc_page()) != 0)
        assert_true((p >= 0x101000 && p < 0x200000) || (p >= 0x2000000 && p < 0x2400000));
}

/* Bad frees are reported, ignored, and never change the counts. */
static void test_bad_frees_are_reported(void **state)
{
    pmm_init(16 * MB);
    uint32_t p = pmm_alloc_page();
    pmm_stats_t before = pstats();
    struct {
        uint32_t addr;
        const char *why;
    } bad[] = {
        {p + 12, "not page-aligned"}, {0x1000, "reserved"},
        {HEAP_START, "reserved"},     {before.metadata_phys, "reserved"},
        {64 * MB, "beyond RAM"},      {p + PAGE_SIZE, "double free"}, /* a free page */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pmm_free_page(bad[i].addr);
        assert_true(strstr(mm_last_error(), "pmm_free_page"));
        if (!strstr(mm_last_error(), bad[i].why))
            fail_msg("free of 0x%x: expected \"%s\", got \"%s\"", bad[i].addr, bad[i].why,
                     mm_last_error());
        CHECK_PMM();
    }
    pmm_stats_t after = pstats();
    assert_int_equal(after.free_pages, before.free_pages);
    assert_int_equal(after.used_pages, 1);
    pmm_free_page(p);
    pmm_free_page(p);
    assert_true(strstr(mm_last_error(), "double free"));
    assert_int_equal(pstats().used_pages, 0);
    assert_int_equal(stats_now().error_count, 7);
    CHECK_PMM();
}

/*
 * Contiguous, aligned runs of any size up to 4 MB.  A 4 MB alignment takes a
 * whole order-10 block, so 128 MB of RAM (31 clean 4 MB blocks) holds them all.
 */
static void test_contiguous_aligned_runs(void **state)
{
    pmm_init(128 * MB);
    pmm_stats_t before = pstats();
    static const uint32_t counts[] = {1, 2, 3, 5, 8, 13, 16, 100, 255, 256, 1000, 1024};
    paddr_t runs[12][3];
    for (int i = 0; i < 12; i++) {
        for (int a = 0; a < 3; a++) {
            uint32_t align = PAGE_SIZE << (a * 5); /* 4 KB, 128 KB, 4 MB */
            paddr_t r = pmm_alloc_pages(counts[i], align);
            CHECK_PMM();
            assert_int_not_equal(r, 0);
            assert_int_equal(r % align, 0);
            for (uint32_t k = 0; k < counts[i]; k++)
                assert_int_equal(pmm_page_state(r + k * PAGE_SIZE), 1);
            runs[i][a] = r;
        }
    }
    uint32_t used = 0;
    for (int i = 0; i < 12; i++)
        used += 3 * counts[i];
    assert_int_equal(pstats().used_pages, used); /* tails went back */
    for (int i = 0; i < 12; i++) {
        for (int a = 0; a < 3; a++) {
            pmm_free_pages(runs[i][a], counts[i]);
            CHECK_PMM();
        }
    }
    pmm_drain_cpu_lists(); /* the CPU's list of single pages back, merged */
    pmm_stats_t after = pstats();
    assert_int_equal(after.free_pages, before.free_pages);
    assert_memory_equal(after.free_blocks, before.free_blocks, sizeof(before.free_blocks));
    assert_int_equal(stats_now().error_count, 0);
}

static void test_bad_run_requests(void **state)
{
    pmm_init(16 * MB);
    assert_int_equal(pmm_alloc_pages(0, 0), 0);
    assert_true(strstr(mm_last_error(), "zero pages"));
    assert_int_equal(pmm_alloc_pages(1, 3000), 0);
    assert_int_equal(pmm_alloc_pages(1, 0x3000), 0);
    assert_true(strstr(mm_last_error(), "power of two"));
    assert_int_equal(pmm_alloc_pages(1025, 0), 0);
    assert_int_equal(pmm_alloc_pages(1, 8 * MB), 0);
    assert_true(strstr(mm_last_error(), "biggest block"));
    /* a run with one page not allocated is refused whole */
    paddr_t r = pmm_alloc_pages(4, 0);
    pmm_free_page(r + PAGE_SIZE);
    pmm_free_pages(r, 4);
    assert_true(strstr(mm_last_error(), "double free"));
    assert_int_equal(pmm_page_state(r), 1);
    assert_int_equal(pmm_page_state(r + 2 * PAGE_SIZE), 1);
    assert_int_equal(pstats().used_pages, 3);
    pmm_free_pages(r + 2 * PAGE_SIZE, 0);
    assert_true(strstr(mm_last_error(), "bad page count"));
    CHECK_PMM();
}

/* Random single pages and runs against a shadow of which pages are ours. */
static void test_random_against_shadow(void **state)
{
    const pmm_range_t map[] = {{MB, 3 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    enum { SLOTS = 64 };
    paddr_t base[SLOTS] = {0};
    uint32_t len[SLOTS] = {0};
    static unsigned char owner[PAGES(4 * MB)];
    memset(owner, 0, sizeof(owner));
    uint32_t rng = 12345, free0 = pstats().free_pages;
    for (int op = 0; op < 20000; op++) {
        int i = rng_next(&rng) % SLOTS;
        if (base[i]) {
            for (uint32_t k = 0; k < len[i]; k++)
                owner[base[i] / PAGE_SIZE + k] = 0;
            if (len[i] == 1 && (rng & 0x100))
                pmm_free_page(base[i]);
            else
                pmm_free_pages(base[i], len[i]);
            base[i] = 0;
        } else {
            len[i] = (rng >> 8) % 4 == 0 ? 1 + (rng >> 12) % 40 : 1;
            uint32_t align = PAGE_SIZE << ((rng >> 20) % 4);
            base[i] =
                len[i] == 1 && (rng & 0x200) ? pmm_alloc_page() : pmm_alloc_pages(len[i], align);
            if (!base[i])
                continue;
            if (len[i] > 1)
                assert_int_equal(base[i] % align, 0);
            for (uint32_t k = 0; k < len[i]; k++)
                assert_int_equal(owner[base[i] / PAGE_SIZE + k]++, 0);
        }
        CHECK_PMM();
    }
    free_runs_and_check(base, len, SLOTS, free0);
}

/* pmm_check sees a page whose state byte was flipped behind the PMM's back. */
static void test_pmm_check_finds_corruption(void **state)
{
    pmm_init(16 * MB);
    pmm_stats_t s = pstats();
    /* white box: pmm_page_t is {next, prev, state, ...}: state at byte 8 of 12 */
    unsigned char *meta = (unsigned char *)host_phys_base() + s.metadata_phys;
    unsigned char *state_byte = meta + 12 * (8 * MB / PAGE_SIZE) + 8;
    unsigned char saved = *state_byte;
    *state_byte = 3; /* PG_USED */
    host_console_clear();
    assert_true(pmm_check() >= 1);
    assert_true(host_console_has("pmm_check"));
    *state_byte = saved;
    CHECK_PMM();
}

/* A reserved entry whose end wraps past 2^64 still reserves everything from its base. */
static void test_wrapping_reserved_entry(void **state)
{
    const pmm_range_t map[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE},
                               {16 * MB, UINT64_MAX, PMM_RANGE_RESERVED}};
    assert_int_equal(pmm_init_map(map, 2), 0);
    CHECK_PMM();
    assert_int_equal(pmm_page_state(16 * MB), -1);
    assert_int_equal(pmm_page_state(32 * MB - PAGE_SIZE), -1);
    pmm_stats_t s = pstats();
    assert_true(s.metadata_phys + s.metadata_bytes <= 16 * MB);
    paddr_t p;
    while ((p = pmm_alloc_page()) != 0)
        assert_true(p < 16 * MB);
}

/* RAM reaching exactly 4 GB: the top page is managed, nothing overflows. */
static void test_ram_up_to_4gb(void **state)
{
    const pmm_range_t map[] = {{0, 48 * MB, PMM_RANGE_AVAILABLE},
                               {0xFFFFF000ull, 0x1000, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 2), 0);
    CHECK_PMM();
    assert_int_equal(pstats().highest_page, 0xFFFFF000u);
    assert_int_equal(pmm_page_state(0xFFFFF000u), 0);
}

/* A map with no usable RAM above 1 MB is refused. */
static void test_unusable_map_refused(void **state)
{
    const pmm_range_t map[] = {{0, 0x9fc00, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), -1);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(pmm_init_map(NULL, 0), -1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
        T(test_spec_init_reserves_low_heap_metadata),
        T(test_alloc_all_then_free_all),
        T(test_memory_map_is_respected),
        T(test_unaligned_available_range),
        T(test_bad_frees_are_reported),
        T(test_contiguous_aligned_runs),
        T(test_bad_run_requests),
        T(test_random_against_shadow),
        T(test_pmm_check_finds_corruption),
        T(test_unusable_map_refused),
        T(test_wrapping_reserved_entry),
        T(test_ram_up_to_4gb),
    };
    return cmocka_run_group_tests_name("pmm", tests, NULL, NULL);
}

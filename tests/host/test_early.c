/*
 * test_early.c - memory_init_map (mm/early.c): the Phase 1 heap is built at
 * HEAP_START only when the memory map says that 64 KB is RAM nobody uses;
 * otherwise one line says why and the memory there is not touched.
 *
 * Each case draws its map around the heap (H = [0x500000, 0x510000)):
 *
 *   0x100000            0x500000  0x510000
 *   |-------- RAM --------|#### H ####|------- RAM -------|
 *
 * A refused case fills H with a pattern first and expects it back intact.
 */
#include "harness.h"
#include "log.h"

#define KB         1024ull
#define MB         (1024 * KB)
#define H_LO       ((uint64_t)HEAP_START)
#define H_HI       ((uint64_t)HEAP_START + INITIAL_HEAP_SIZE)
#define AVL        PMM_RANGE_AVAILABLE
#define RES        PMM_RANGE_RESERVED
#define PATTERN    0x5a
#define R(b, l, t) ((pmm_range_t){.base = (b), .length = (l), .type = (t)})
#define N(map)     ((int)(sizeof(map) / sizeof((map)[0])))
#define WHERE      "memory_init: 0x00500000-0x00510000: "

static uint8_t *heap_bytes(void)
{
    return (uint8_t *)HEAP_BASE;
}

/* Expect a refusal naming `reason`, and not one byte of the heap's place written. */
static void expect_refused(const pmm_range_t *map, int count, const char *reason)
{
    memset(heap_bytes(), PATTERN, INITIAL_HEAP_SIZE);
    uint32_t errors = mm_error_count();

    assert_int_equal(memory_init_map(map, count), -1);

    const char *last = mm_last_error();
    if (!strstr(last, WHERE) || !strstr(last, reason))
        fail_msg("expected \"%s...%s\", got \"%s\"", WHERE, reason, last);
    assert_int_equal(mm_error_count(), errors + 1);
    for (size_t i = 0; i < INITIAL_HEAP_SIZE; i++) {
        if (heap_bytes()[i] != PATTERN)
            fail_msg("byte 0x%zx of the heap's place written by a refused memory_init_map", i);
    }
}

/* Expect a working 64 KB heap at HEAP_START. */
static void expect_accepted(const pmm_range_t *map, int count)
{
    memset(heap_bytes(), PATTERN, INITIAL_HEAP_SIZE);
    assert_int_equal(memory_init_map(map, count), 0);
    memory_stats_t s = stats_now();
    assert_int_equal(s.heap_size, INITIAL_HEAP_SIZE);
    uint8_t *p = t_kmalloc(1000);
    assert_non_null(p);
    assert_true((uintptr_t)p >= HEAP_BASE && (uintptr_t)p + 1000 <= HEAP_END);
    memset(p, 0x11, 1000);
    t_kfree(p);
}

/* QEMU -m 32M: the e820 map, the kernel image and a module below 5 MB. */
static void test_qemu_32m_accepted(void **state)
{
    const pmm_range_t map[] = {
        R(0, 0x9fc00, AVL),          R(0x9fc00, 0x400, RES),     R(0xf0000, 0x10000, RES),
        R(0x100000, 0x1ee0000, AVL), R(0x1fe0000, 0x20000, RES), R(0xfffc0000, 0x40000, RES),
        R(0x100000, 0x26000, RES),  /* kernel image */
        R(0x127000, 0x100000, RES), /* a module below the heap */
    };
    expect_accepted(map, N(map));
}

/*
 * QEMU -m 5M: RAM ends at 0x4e0000, SeaBIOS keeps the last 128 KB.
 *   0x100000          0x4e0000 0x500000
 *   |------ RAM ------|  res  |  H (nothing)  |
 * Expect "the machine's RAM ends at 0x004dffff".
 */
static void test_qemu_5m_refused(void **state)
{
    const pmm_range_t map[] = {
        R(0, 0x9fc00, AVL),
        R(0x100000, 0x3e0000, AVL),
        R(0x4e0000, 0x20000, RES),
        R(0xfffc0000, 0x40000, RES),
    };
    expect_refused(map, N(map), "not RAM: the machine's RAM ends at 0x004dffff");
}

/* RAM ends inside the heap: the first 32 KB exist, the rest does not. */
static void test_ram_ends_inside_heap(void **state)
{
    const pmm_range_t map[] = {R(1 * MB, H_LO + 32 * KB - 1 * MB, AVL)};
    expect_refused(map, N(map), "not RAM: the machine's RAM ends at 0x00507fff");
}

/*
 *   |--- RAM ---|  hole  |--- RAM ---|
 *           0x504000  0x50c000
 * Expect the hole named, with RAM on both sides.
 */
static void test_hole_in_heap(void **state)
{
    const pmm_range_t map[] = {R(0x50c000, 8 * MB, AVL), R(1 * MB, 0x504000 - 1 * MB, AVL)};
    expect_refused(map, N(map), "not RAM: 0x00504000-0x0050c000 is a hole in the memory map");
}

/* RAM only above the heap: the hole runs from HEAP_START to the heap's end. */
static void test_ram_only_above(void **state)
{
    const pmm_range_t map[] = {R(0, 0x9fc00, AVL), R(16 * MB, 16 * MB, AVL)};
    expect_refused(map, N(map), "not RAM: 0x00500000-0x00510000 is a hole in the memory map");
}

/* A module (reserved by the kernel) across HEAP_START: named, range and all. */
static void test_module_in_the_way(void **state)
{
    const pmm_range_t map[] = {
        R(0, 0x9fc00, AVL), R(1 * MB, 31 * MB, AVL),
        R(0x127000, 0x600000, RES), /* QEMU -initrd of 6 MB: 0x127000-0x727000 */
    };
    expect_refused(map, N(map), "reserved range 0x00127000-0x00727000 is in the way");
}

/* Any type that is not AVAILABLE is in the way (ACPI, NVS, bad RAM, unknown). */
static void test_other_types_in_the_way(void **state)
{
    const uint32_t types[] = {3, 4, 5, 0, 0xffffffff};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const pmm_range_t map[] = {R(1 * MB, 31 * MB, AVL), R(H_HI - 1, 1, types[i])};
        expect_refused(map, N(map), "reserved range 0x0050ffff-0x00510000 is in the way");
    }
}

/* Reserved ranges that touch the heap's edges but do not overlap it. */
static void test_neighbours_touching(void **state)
{
    const pmm_range_t map[] = {
        R(1 * MB, 31 * MB, AVL), R(H_LO - 4 * KB, 4 * KB, RES), /* ends exactly at HEAP_START */
        R(H_HI, 4 * KB, RES), /* starts exactly at the heap's end */
    };
    expect_accepted(map, N(map));
}

/* Zero-length ranges mean nothing: no RAM, and nothing in the way. */
static void test_zero_length(void **state)
{
    const pmm_range_t only_empty_ram[] = {R(H_LO, 0, AVL), R(0, 0x9fc00, AVL)};
    expect_refused(only_empty_ram, N(only_empty_ram),
                   "not RAM: the machine's RAM ends at 0x0009fbff");

    const pmm_range_t empty_reserved[] = {R(1 * MB, 31 * MB, AVL), R(H_LO + 4 * KB, 0, RES)};
    expect_accepted(empty_reserved, N(empty_reserved));
}

/*
 * Lengths that run past 2^64 saturate.  Wrapped, the first would end at
 * 0xfffff (no RAM at 5 MB) and the second at 0x3fffff (nothing in the way).
 */
static void test_wrapping_lengths_saturate(void **state)
{
    const pmm_range_t ram_to_the_top[] = {R(1 * MB, UINT64_MAX, AVL)};
    expect_accepted(ram_to_the_top, N(ram_to_the_top));

    const pmm_range_t reserved_to_the_top[] = {R(1 * MB, 31 * MB, AVL),
                                               R(4 * MB, UINT64_MAX - 1 * MB + 1, RES)};
    expect_refused(reserved_to_the_top, N(reserved_to_the_top),
                   "reserved range 0x00400000-0xffffffffffffffff is in the way");
}

/* The heap covered only by several overlapping RAM ranges, listed out of order. */
static void test_overlapping_unsorted_ram(void **state)
{
    const pmm_range_t map[] = {
        R(0x508000, 0x300000, AVL), /* covers the top half and beyond */
        R(0x100000, 0x402000, AVL), /* up to 0x502000 */
        R(0x501000, 0x8000, AVL),   /* 0x501000-0x509000 bridges the two */
        R(0x100000, 0x402000, AVL), /* listed twice */
    };
    expect_accepted(map, N(map));

    /* The same pieces without the bridge: a hole from 0x502000 to 0x508000. */
    const pmm_range_t gap[] = {map[0], map[1], map[3]};
    expect_refused(gap, N(gap), "not RAM: 0x00502000-0x00508000 is a hole in the memory map");
}

/* RAM above 4 GB does not count for the heap; its addresses print in full. */
static void test_ram_above_4g_only(void **state)
{
    const pmm_range_t map[] = {R(0x100000000ull, 1 * MB, AVL)};
    expect_refused(map, N(map), "not RAM: 0x00500000-0x00510000 is a hole in the memory map");
}

/* No map at all: nothing can be checked, so nothing is built. */
static void test_no_map(void **state)
{
    const pmm_range_t map[] = {R(1 * MB, 31 * MB, AVL)};
    expect_refused(NULL, 3, "no memory map (0 ranges)");
    expect_refused(map, 0, "no memory map (0 ranges)");
    expect_refused(map, -1, "no memory map (-1 ranges)");
}

/* A refusal leaves a heap built before it as it was (no fresh heap over it). */
static void test_refusal_keeps_the_old_heap(void **state)
{
    const pmm_range_t good[] = {R(1 * MB, 31 * MB, AVL)};
    const pmm_range_t bad[] = {R(1 * MB, 3 * MB, AVL)};
    assert_int_equal(memory_init_map(good, N(good)), 0);
    char *p = t_kmalloc(64);
    assert_non_null(p);
    strcpy(p, "still here");
    assert_int_equal(memory_init_map(bad, N(bad)), -1);
    assert_string_equal(p, "still here");
    CHECK_HEAP();
    t_kfree(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_qemu_32m_accepted, fresh_heap),
        cmocka_unit_test_setup(test_qemu_5m_refused, fresh_heap),
        cmocka_unit_test_setup(test_ram_ends_inside_heap, fresh_heap),
        cmocka_unit_test_setup(test_hole_in_heap, fresh_heap),
        cmocka_unit_test_setup(test_ram_only_above, fresh_heap),
        cmocka_unit_test_setup(test_module_in_the_way, fresh_heap),
        cmocka_unit_test_setup(test_other_types_in_the_way, fresh_heap),
        cmocka_unit_test_setup(test_neighbours_touching, fresh_heap),
        cmocka_unit_test_setup(test_zero_length, fresh_heap),
        cmocka_unit_test_setup(test_wrapping_lengths_saturate, fresh_heap),
        cmocka_unit_test_setup(test_overlapping_unsorted_ram, fresh_heap),
        cmocka_unit_test_setup(test_ram_above_4g_only, fresh_heap),
        cmocka_unit_test_setup(test_no_map, fresh_heap),
        cmocka_unit_test_setup(test_refusal_keeps_the_old_heap, fresh_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

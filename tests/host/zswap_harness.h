/*
 * zswap_harness.h - what the host tests of compressed memory share
 * (test_zswap.c, test_zswap_transit.c): every checker, a fresh memory
 * manager with the fault handler installed, realistic pages written and read
 * back (kernel/zswap_pages.h), zswap's and the PMM's counts.
 */
#ifndef ZSWAP_HARNESS_H
#define ZSWAP_HARNESS_H

#include "harness.h"
#include "zstore.h"
#include "zswap.h"

#include "../../kernel/zswap_pages.h"

#define PAGE 4096u

static __thread uint8_t scratch[PAGE]; /* zpage_check's */

static inline void check_all(void)
{
    check_every_layer();
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(zswap_check(), 0);
}

/* The problems every checker finds now (0: healthy), for a step that cannot assert. */
static inline int every_checker(void)
{
    return pmm_check() + vmm_check() + heap_check() + vmalloc_check() + zstore_check() +
           zswap_check();
}

/* Every layer fresh over ram bytes, an empty store (its default limit), zswap's defaults. */
static inline void fresh(uint32_t ram)
{
    zswap_reset();
    zstore_reset();
    fresh_every_layer(ram);
    zstore_set_limit(0);
    zswap_set_watermarks(0, 0);
    host_fault_install();
    check_all();
}

static inline void fill(uint8_t *area, uint32_t pages, uint32_t seed, int random)
{
    for (uint32_t i = 0; i < pages; i++)
        zpage_fill(area + i * PAGE, i, seed, random);
}

/* Every page, in order, byte for byte. */
static inline void verify_pages(uint8_t *area, uint32_t pages, uint32_t seed)
{
    for (uint32_t i = 0; i < pages; i++) {
        int at = zpage_check(area + i * PAGE, i, seed, 0, scratch);
        if (at >= 0)
            fail_msg("page %u differs at byte %d", (unsigned)i, at);
    }
}

/* Pages the PMM holds as vmalloc's: a compressible area's frames (no other area lives here). */
static inline uint32_t vmalloc_frames(void)
{
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    return ps.owner_pages[PMM_OWNER_VMALLOC];
}

static inline zswap_stats_t stats(void)
{
    zswap_stats_t s;
    zswap_get_stats(&s);
    return s;
}

/* Reclaim until no page of the area is present (the first sweep only clears Accessed). */
static inline void reclaim_all(uint32_t pages)
{
    for (int round = 0; round < 4 && stats().present; round++) {
        zswap_reclaim(pages);
        check_all();
    }
    assert_int_equal(stats().present, 0);
}

#endif /* ZSWAP_HARNESS_H */

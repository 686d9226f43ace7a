/*
 * transit_attack.h - what the hostile review of zswap's transit records
 * shares (test_attack_transit.c: the attacks mm/ survives;
 * test_attack_transit_findings.c: the ones it does not): a codec that runs a
 * step of the test at its n-th call (on the CPU that let mm/'s lock go, or
 * under the lock on the locked path), a touch of a page that reports whether
 * its fault was refused, and forged page-table entries.
 */
#ifndef TRANSIT_ATTACK_H
#define TRANSIT_ATTACK_H

#include "lock.h"
#include "lz4.h"
#include "vmm_swap.h"
#include "zswap_harness.h"

#include <setjmp.h>
#include <stdlib.h>

/* ---- a codec with a step of the test at its n-th call from now ---- */

struct codec_step {
    int countdown;     /* calls left before the step runs (0: none armed) */
    void (*run)(void); /* the step */
    int calls;         /* calls since the last arm */
};
static struct codec_step at_compress, at_decompress;

static inline void step_arm(struct codec_step *s, int nth, void (*run)(void))
{
    s->calls = 0;
    s->run = run;
    __atomic_store_n(&s->countdown, nth, __ATOMIC_RELEASE);
}

static inline void step_maybe(struct codec_step *s)
{
    __atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
    int c = __atomic_load_n(&s->countdown, __ATOMIC_ACQUIRE);
    if (c > 0 &&
        __atomic_compare_exchange_n(&s->countdown, &c, c - 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE) &&
        c == 1)
        s->run();
}

static int stepped_compress(const void *src, size_t n, void *dst, size_t cap, void *work)
{
    step_maybe(&at_compress);
    return lz4_compress(src, n, dst, cap, work);
}

static int stepped_decompress(const void *src, size_t n, void *dst, size_t cap)
{
    step_maybe(&at_decompress);
    return lz4_decompress(src, n, dst, cap);
}

static const mm_codec_t stepped = {"stepped-lz4", LZ4_WORK_SIZE, stepped_compress,
                                   stepped_decompress, lz4_bound};

/* A fresh machine of 16 MB, the stepped codec in force, nothing armed. */
static inline void fresh_stepped(void)
{
    fresh(16u << 20);
    assert_int_equal(zstore_set_codec(&stepped), 0);
    step_arm(&at_compress, 0, NULL);
    step_arm(&at_decompress, 0, NULL);
}

/* A test's start: fresh_stepped (in the test: cmocka's setup runs before its signal handlers). */
static inline void start(void **state)
{
    (void)state;
    fresh_stepped();
}

/* The end of a test: nothing armed, no refusal handler, the default codec back. */
static inline void finish(void)
{
    step_arm(&at_compress, 0, NULL);
    step_arm(&at_decompress, 0, NULL);
    host_fault_unhandled = NULL;
    zstore_set_limit(0);
    assert_int_equal(zstore_set_codec(NULL), 0); /* nothing compressed left: every area freed */
}

/* ---- entries, pages ---- */

static inline uint32_t pte_at(const void *p)
{
    return vmm_get_entry(vmalloc_kvirt(p));
}

/* Forge the entry of the page at p (a hostile writer of page tables): the entry it had. */
static inline uint32_t forge(const void *p, uint32_t e)
{
    uint32_t old = 0;
    assert_int_equal(vmm_swap_set(vmalloc_kvirt(p), e, &old), 0);
    return old;
}

/* A compressible area of pages pages (never touched). */
static inline uint8_t *new_area(uint32_t pages)
{
    uint8_t *a = vmalloc_compressible(pages * PAGE);
    assert_non_null(a);
    return a;
}

/* ... filled with seed's realistic pages (present, dirty). */
static inline uint8_t *filled(uint32_t pages, uint32_t seed)
{
    uint8_t *a = new_area(pages);
    fill(a, pages, seed, 0);
    return a;
}

/* ... then all reclaimed (stored). */
static inline uint8_t *stored_area(uint32_t pages, uint32_t seed)
{
    uint8_t *a = filled(pages, seed);
    reclaim_all(pages);
    return a;
}

static inline uint32_t pool_pages(void)
{
    zstore_stats_t z;
    zstore_get_stats(&z);
    return z.pages_stored;
}

static inline void vfree_checked(void *a)
{
    vfree(a);
    check_all();
}

/* The last area a freed: every checker clean, no vmalloc frame, nothing stored; finish(). */
static inline void all_gone(void *a)
{
    vfree_checked(a);
    assert_int_equal(vmalloc_frames(), 0);
    assert_int_equal(pool_pages(), 0);
    finish();
}

/* ---- faults refused: they come back here ---- */

static sigjmp_buf refused_jump;
static void refused_here(uint32_t virt)
{
    (void)virt;
    siglongjmp(refused_jump, 1);
}

/* fn run: 1 if a fault in it was refused (mm/ did not map the page; fn cut short), else 0. */
static inline int refused_in(void (*fn)(void))
{
    volatile int refused = 0;
    host_fault_unhandled = refused_here;
    if (sigsetjmp(refused_jump, 1) == 0)
        fn();
    else
        refused = 1;
    host_fault_unhandled = NULL;
    return refused;
}

static const uint8_t *touched;
static uint8_t touched_byte;
static void touch_it(void)
{
    touched_byte = *(volatile const uint8_t *)touched;
}

/* Read the byte at p: 0 (read, *got), or 1 (the fault was refused: nothing read). */
static inline int touch(const uint8_t *p, uint8_t *got)
{
    touched = p;
    int refused = refused_in(touch_it);
    if (!refused)
        *got = touched_byte;
    return refused;
}

/* The page at p is the one seed wrote at index idx, byte for byte. */
static inline int page_is(const uint8_t *p, uint32_t idx, uint32_t seed)
{
    return zpage_check(p, idx, seed, 0, scratch) < 0;
}

/*
 * A finding's start: skipped with its one-line reason unless RUN_FINDINGS is
 * set (cmocka's skip() leaves the test from here); else a fresh machine.
 */
static inline void finding(const char *why)
{
    if (!getenv("RUN_FINDINGS")) {
        print_message("skipped: %s\n", why);
        skip();
    }
    fresh_stepped();
}

#endif /* TRANSIT_ATTACK_H */

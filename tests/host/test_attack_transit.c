/*
 * test_attack_transit.c - the hostile review of zswap's transit records and
 * the compressed store (mm/zswap*.c, mm/zstore*.c): attacks mm/ survives,
 * kept as regression tests.  (The ones it does not survive:
 * test_attack_transit_findings.c.)  A codec of the test's own runs a step of
 * the attack at its n-th call (transit_attack.h): on the CPU that let mm/'s
 * lock go around the codec, in the middle of a transit.
 *
 *   - forged or stale not-present entries: a handle freed, its index reused
 *     by another page, wild ones, each generation bit flipped, a pending
 *     entry no reclaim has in flight: each fault refused in one line, no byte
 *     mapped, the frame back, the store unchanged;
 *   - the area vfree'd in the middle of a run (pages stored before it, one
 *     encoding, more pending), and vfree'd and made again at the same base
 *     while a page is encoded or decoded: the new area never sees the old
 *     one's bytes or entries;
 *   - the same page faulted in, dropped clean and faulted in again (an ABA of
 *     its entry) while a fault decodes it; written and compressed again
 *     meanwhile: the newer bytes win;
 *   - zstore_set_codec while a page is encoded (the put refused, the page
 *     mapped back as it was) or decoded (refused);
 *   - the pool's limit reached in the middle of a batch, on the unlocked and
 *     the locked path: the pages stored before it stay, the rest come back
 *     dirty, one failure counted;
 *   - the window onto frames beyond the direct map (direct map shrunk to
 *     4 MB): pages round trip through it; every slot taken: reclaim and fault
 *     refuse safely; no window: the same; a slot left mapped is reported;
 *   - threads: four CPUs faulting one page at once, round after round (one
 *     fault-in each round); areas made, filled, checked and vfree'd while
 *     another CPU reclaims, every checker exact at every step.
 * Every layer's checker, zstore_check and zswap_check after each operation.
 */
#include "transit_attack.h"
#include "vmm_priv.h"
#include "zswap_priv.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

/* ---- forged and stale entries ---- */

/*
 * The page at p (index idx of seed) has its entry forged to e: the fault is
 * refused with a line holding `line`, nothing is mapped, no frame is kept, the
 * store is unchanged; the real entry back, the page reads right.
 */
static void forged_refused(uint8_t *p, uint32_t e, const char *line)
{
    assert_false(pte_at(p) & PAGE_PRESENT); /* (forged over a present page, a TLB would keep it) */
    uint32_t frames = vmalloc_frames(), in_pool = pool_pages();
    zswap_stats_t before = stats();
    uint32_t real = forge(p, e);
    host_console_clear();
    uint8_t got = 0;
    if (!touch(p, &got))
        fail_msg("entry 0x%08x forged over 0x%08x: the fault was not refused (read 0x%02x)",
                 (unsigned)e, (unsigned)real, got);
    if (!host_console_has(line))
        fail_msg("entry 0x%08x: no line '%s'", (unsigned)e, line);
    assert_int_equal(pte_at(p), e); /* nothing mapped */
    assert_int_equal(vmalloc_frames(), frames);
    assert_int_equal(pool_pages(), in_pool);
    zswap_stats_t after = stats();
    assert_int_equal(after.faulted_in, before.faulted_in);
    assert_int_equal(after.zero_fills, before.zero_fills);
    forge(p, real); /* still stored: the next forgery replaces a not-present entry too */
    check_all();
}

static void test_forged_stale_and_wild_entries(void **state)
{
    start(state);
    const uint32_t pages = 8;
    uint8_t *a = stored_area(pages, 21);
    /* page 0's handle freed: written after it came back, then compressed anew */
    uint32_t old0 = pte_at(a);
    assert_true(page_is(a, 0, 21));
    ((volatile uint8_t *)a)[100] ^= 1;
    ((volatile uint8_t *)a)[100] ^= 1; /* the same bytes, but Dirty: compressed again */
    reclaim_all(pages);
    assert_int_not_equal(pte_at(a), old0);
    assert_int_equal(zstore_live(ZSWAP_HANDLE(old0)), 0);
    check_all();

    forged_refused(a + PAGE, old0, "is not its own copy's handle");
    uint32_t e1 = pte_at(a + PAGE);
    forged_refused(a + PAGE, ZSWAP_ENTRY(1u << ZSTORE_INDEX_BITS | (ZSTORE_MAX_ENTRIES - 1)),
                   "is not its own copy's handle"); /* beyond the table */
    forged_refused(a + PAGE, ZSWAP_ENTRY(5u << ZSTORE_INDEX_BITS), "is not its own copy's handle");
    forged_refused(a + PAGE, ZSWAP_ENTRY(ZSWAP_HANDLE(e1) & ((1u << ZSTORE_INDEX_BITS) - 1)),
                   "is not its own copy's handle"); /* generation 0 */
    forged_refused(a + PAGE, ZSWAP_ENTRY_PENDING, "not a stored page");
    /* each generation bit of a live entry flipped: stale or no handle, never another page */
    for (uint32_t bit = 1 + ZSTORE_INDEX_BITS; bit < 32; bit++)
        forged_refused(a + PAGE, e1 ^ (1u << bit), "handle");
    verify_pages(a, pages, 21);
    check_all();
    all_gone(a);
}

/* A handle freed, its index handed to another page since: the old handle names nothing. */
static void test_stale_handle_of_a_reused_index(void **state)
{
    start(state);
    uint8_t *a = stored_area(8, 22);
    uint32_t old0 = pte_at(a), index = ZSWAP_HANDLE(old0) & ((1u << ZSTORE_INDEX_BITS) - 1);
    assert_true(page_is(a, 0, 22));
    a[7] ^= 0x40;
    reclaim_all(8); /* old0 freed: to the tail of the store's free list */
    /* other pages put and freed until one takes old0's index */
    static uint32_t other[PAGE / 4] __attribute__((aligned(16)));
    uint32_t h = 0;
    for (uint32_t n = 0; n < 2 * ZSTORE_CHUNK_ENTRIES; n++) {
        for (uint32_t w = 0; w < PAGE / 4; w++)
            other[w] = 0xDEAD0000u + n;
        h = zstore_put(other);
        assert_int_not_equal(h, 0);
        if ((h & ((1u << ZSTORE_INDEX_BITS) - 1)) == index)
            break;
        assert_int_equal(zstore_free(h), 0);
    }
    assert_int_equal(h & ((1u << ZSTORE_INDEX_BITS) - 1), index);
    assert_int_not_equal(h, ZSWAP_HANDLE(old0));
    check_all();
    forged_refused(a + 2 * PAGE, old0, "is not its own copy's handle");
    assert_true(page_is(a + 2 * PAGE, 2, 22));
    assert_int_equal(zstore_free(h), 0);
    a[7] ^= 0x40;
    assert_true(page_is(a, 0, 22));
    all_gone(a);
}

/* ---- vfree in the middle of a transit ---- */

static uint8_t *victim;
static uint32_t victim_pages;
static uint8_t *reborn; /* the area made again in its place */
static int step_checks = -1;

static void vfree_victim(void)
{
    vfree(victim);
    step_checks = every_checker();
}

/* The third page of an 8-page run being encoded (two stored, five pending): vfree. */
static void test_vfree_in_the_middle_of_a_run(void **state)
{
    start(state);
    victim_pages = 8;
    victim = new_area(victim_pages);
    for (uint32_t i = 0; i < victim_pages; i++) /* every page compressible: 8 codec calls */
        zpage_fill(victim + i * PAGE, i, 23, 0), victim[i * PAGE + 4000] = (uint8_t)i;
    uint32_t compressed0 = stats().compressed;
    step_checks = -1;
    step_arm(&at_compress, 3, vfree_victim);
    uint32_t freed = zswap_reclaim(victim_pages);
    assert_int_equal(step_checks, 0);
    assert_int_equal(at_compress.countdown, 0);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.areas, 0);
    assert_int_equal(freed, victim_pages); /* two stored, six the reclaimer's to free */
    assert_int_equal(vmalloc_frames(), 0);
    assert_int_equal(pool_pages(), 0);
    assert_int_equal(s.compressed - compressed0, 2); /* only the pages stored before the vfree */
    finish();
}

/*
 * vfree, then areas of the same size made and freed until one is at the freed
 * base: vmalloc's next fit hands a freed span out again only once its cursor
 * came round the range (a hostile caller can make it come round).
 */
static void vfree_and_make_again(void)
{
    vfree(victim);
    reborn = NULL;
    for (uint32_t n = 0; n < 20000 && !reborn; n++) {
        uint8_t *p = vmalloc_compressible(victim_pages * PAGE);
        if (p == victim)
            reborn = p;
        else if (p)
            vfree(p);
    }
    step_checks = every_checker();
}

/* victim (8 pages, of seed; stored too if `stored`) and a step at its next codec call. */
static void victim_armed(uint32_t seed, int stored, struct codec_step *at, void (*step)(void))
{
    victim_pages = 8;
    victim = stored ? stored_area(victim_pages, seed) : filled(victim_pages, seed);
    step_checks = -1;
    reborn = NULL;
    step_arm(at, 1, step);
}

/*
 * vfree'd and made again while a page is encoded: the new area (same base)
 * keeps its zero entries; the old frames are the reclaimer's to free.
 */
static void test_area_reborn_while_compressing(void **state)
{
    start(state);
    victim_armed(24, 0, &at_compress, vfree_and_make_again);
    zswap_reclaim(victim_pages);
    assert_int_equal(step_checks, 0);
    assert_ptr_equal(reborn, victim);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.areas, 1);
    assert_int_equal(s.zero, victim_pages); /* the new area: never touched */
    assert_int_equal(vmalloc_frames(), 0);
    assert_int_equal(pool_pages(), 0);
    for (uint32_t i = 0; i < victim_pages * PAGE; i += 512)
        assert_int_equal(reborn[i], 0);
    fill(reborn, victim_pages, 25, 0);
    reclaim_all(victim_pages);
    verify_pages(reborn, victim_pages, 25);
    all_gone(reborn);
}

/*
 * vfree'd and made again while a fault decodes one of its pages: the fault
 * gives its frame back, runs again, and finds the new area's zero page: never
 * the old bytes.
 */
static void test_area_reborn_while_decoding(void **state)
{
    start(state);
    victim_armed(26, 1, &at_decompress, vfree_and_make_again);
    uint8_t got = 0xFF;
    assert_int_equal(touch(victim + 16, &got), 0);
    assert_int_equal(step_checks, 0);
    assert_ptr_equal(reborn, victim); /* the same base: the fault ran again in the new area */
    assert_int_equal(got, 0);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.faulted_in, 0);
    assert_int_equal(s.zero_fills, victim_pages + 1); /* the fill's first touches, and this one */
    assert_int_equal(vmalloc_frames(), 1);
    assert_int_equal(pool_pages(), 0);
    all_gone(reborn);
}

/* ---- the page's entry changes (and changes back) while a fault decodes it ---- */

static uint8_t *aba_page;
static int aba_read_ok;

/* on the same CPU, the lock let go: the page faulted in (nested: the locked path), dropped clean */
static void fault_in_and_drop_clean(void)
{
    aba_read_ok = page_is(aba_page, 0, 27);
    zswap_reclaim(1); /* Accessed cleared */
    zswap_reclaim(1); /* clean, its copy kept: dropped, the entry what it was */
    step_checks = every_checker();
}

/*
 * These steps fault inside a fault (the decode runs in the glue's SIGSEGV
 * handler): ThreadSanitizer's signal handling does not take a synchronous
 * SIGSEGV raised inside a handler (the process dies), so its build skips them.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NESTED_FAULTS_TSAN_SKIP() skip()
#endif
#endif
#ifndef NESTED_FAULTS_TSAN_SKIP
#define NESTED_FAULTS_TSAN_SKIP() ((void)0)
#endif

/* A fresh one-page area of seed, stored, and step armed at its next decode: the page. */
static uint8_t *decode_race(uint32_t seed, void (*step)(void))
{
    NESTED_FAULTS_TSAN_SKIP();
    fresh_stepped();
    aba_page = stored_area(1, seed);
    step_checks = -1;
    step_arm(&at_decompress, 1, step);
    return aba_page;
}

static void test_entry_aba_while_decoding(void **state)
{
    (void)state;
    uint8_t *a = decode_race(27, fault_in_and_drop_clean);
    uint32_t e = pte_at(a);
    assert_true(page_is(a, 0, 27)); /* the outer fault maps its frame: the same bytes */
    assert_int_equal(aba_read_ok, 1);
    assert_int_equal(step_checks, 0);
    zswap_stats_t s = stats();
    assert_int_equal(s.dropped_clean, 1);
    assert_int_equal(s.faulted_in, 2);
    assert_int_equal(s.present, 1);
    assert_int_equal(s.copies, 1);
    assert_int_equal(vmalloc_frames(), 1);
    check_all();
    reclaim_all(1);
    assert_int_equal(pte_at(a), e); /* dropped clean again: the copy it kept */
    assert_true(page_is(a, 0, 27));
    all_gone(a);
}

/* on the same CPU: the page faulted in, written, compressed again (a new handle) */
static void fault_in_write_compress(void)
{
    aba_page[10] = 0xA5;
    zswap_reclaim(1);
    zswap_reclaim(1);
    step_checks = every_checker();
}

static void test_page_rewritten_while_decoding(void **state)
{
    (void)state;
    uint8_t *a = decode_race(28, fault_in_write_compress);
    uint32_t e = pte_at(a);
    uint8_t got = 0;
    assert_int_equal(touch(a + 10, &got), 0);
    assert_int_equal(got, 0xA5); /* the newer bytes, not the decoded old copy */
    assert_int_equal(step_checks, 0);
    assert_int_not_equal(pte_at(a), e);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.present, 1);
    assert_int_equal(vmalloc_frames(), 1);
    assert_int_equal(pool_pages(), 1); /* the new copy kept, the old one freed */
    a[10] = 0;
    all_gone(a);
}

/* ---- zstore_set_codec in the middle of a transit ---- */

static int set_codec_result = 99;
static void swap_codec(void)
{
    set_codec_result = zstore_set_codec(NULL); /* lz4_codec: another codec than the stepped one */
}

/*
 * While the only page is encoded: allowed (nothing stored compressed); its
 * put is refused, and the page is encoded again with the new codec and stored
 * (transit finding 3: the refusal was taken for a full store).
 */
static void test_codec_swapped_while_compressing(void **state)
{
    start(state);
    uint8_t *a = filled(1, 29);
    zstore_stats_t z0;
    zstore_get_stats(&z0);
    set_codec_result = 99;
    step_arm(&at_compress, 1, swap_codec);
    assert_int_equal(zswap_reclaim(1), 1);
    assert_int_equal(set_codec_result, 0);
    zstore_stats_t z;
    zstore_get_stats(&z);
    assert_int_equal(z.pages_stored, 1);
    assert_true(z.refused_busy > z0.refused_busy); /* the old codec's encoding refused */
    zswap_stats_t s = stats();
    assert_int_equal(s.present, 0); /* stored, encoded by the new codec */
    assert_int_equal(s.compressed, 1);
    assert_int_equal(s.failures, 0);
    check_all();
    assert_true(page_is(a, 0, 29)); /* faulted back through the new codec */
    all_gone(a);
}

/* While a page is decoded: refused (it is still stored compressed); the fault completes. */
static void test_codec_swap_refused_while_decoding(void **state)
{
    start(state);
    uint8_t *a = stored_area(1, 30);
    set_codec_result = 99;
    step_arm(&at_decompress, 1, swap_codec);
    assert_true(page_is(a, 0, 30));
    assert_int_equal(set_codec_result, -1);
    assert_true(host_console_has("pages are stored compressed"));
    check_all();
    all_gone(a);
}

/* ---- the pool's limit reached in the middle of a batch ---- */

static void limit_to_one_byte(void)
{
    zstore_set_limit(1);
}

static void limit_mid_batch(int locked)
{
    fresh_stepped();
    const uint32_t pages = 8;
    uint8_t *a = new_area(pages);
    for (uint32_t i = 0; i < pages; i++)
        zpage_fill(a + i * PAGE, 0, 31 + i, 0); /* index 0's kind: text, compressible */
    check_all();
    step_arm(&at_compress, 4, limit_to_one_byte); /* the fourth page's put: over the limit */
    uint32_t freed;
    if (locked) {
        glue_irqflags_t f = mm_lock(); /* nested: reclaim encodes under the lock */
        freed = zswap_reclaim(pages);
        mm_unlock(f);
    } else {
        freed = zswap_reclaim(pages);
    }
    assert_int_equal(freed, 3);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.compressed, 3);
    assert_int_equal(s.stored, 3);
    assert_int_equal(s.present, pages - 3);
    assert_int_equal(s.failures, 1);
    assert_int_equal(vmalloc_frames(), pages - 3);
    for (uint32_t i = 3; i < pages; i++) /* mapped back dirty: compressed again next time */
        assert_int_equal(pte_at(a + i * PAGE) & (PAGE_PRESENT | PAGE_DIRTY),
                         PAGE_PRESENT | PAGE_DIRTY);
    for (uint32_t i = 0; i < pages; i++)
        assert_true(page_is(a + i * PAGE, 0, 31 + i));
    zstore_set_limit(0);
    reclaim_all(pages);
    for (uint32_t i = 0; i < pages; i++)
        assert_true(page_is(a + i * PAGE, 0, 31 + i));
    all_gone(a);
}

static void test_limit_mid_batch_unlocked(void **state)
{
    (void)state;
    limit_mid_batch(0);
}

static void test_limit_mid_batch_locked(void **state)
{
    (void)state;
    limit_mid_batch(1);
}

/* ---- CPUs without a transit record, a vfree inside a fault's own reclaim ---- */

/* A CPU numbered past TRANSIT_CPUS (or -1): reclaim and faults run the codec under the lock. */
static void test_cpus_without_a_record(void **state)
{
    (void)state;
    const int ids[] = {(int)TRANSIT_CPUS, 200};
    for (uint32_t k = 0; k < 2; k++) {
        fresh_stepped();
        host_forced_cpu_id = ids[k];
        uint8_t *a = filled(8, 60 + k);
        reclaim_all(8);
        verify_pages(a, 8, 60 + k);
        check_all();
        for (uint32_t c = 0; c < TRANSIT_CPUS; c++)
            assert_null(zswap_data.transit[c].buf); /* no record was ever used */
        zswap_stats_t s = stats();
        assert_int_equal(s.compressed, 8);
        assert_int_equal(s.faulted_in, 8);
        assert_int_equal(pool_pages(), s.stored + s.copies);
        vfree_checked(a);
        host_forced_cpu_id = HOST_CPU_ID_NATURAL;
        finish();
    }
}

/*
 * A fault below the low watermark reclaims first, the lock let go around the
 * encode; the faulting page's own area is vfree'd meanwhile: the fault is
 * refused (no area), no frame taken, the other area's pages intact.
 */
static void test_area_freed_during_its_faults_reclaim(void **state)
{
    start(state);
    victim = stored_area(4, 62);
    uint8_t *b = filled(4, 63);
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    zswap_set_watermarks(ps.free_pages + 64, ps.free_pages + 128); /* every fault reclaims */
    step_checks = -1;
    step_arm(&at_compress, 1, vfree_victim);
    uint8_t got;
    host_console_clear();
    assert_int_equal(touch(victim, &got), 1); /* refused: its area is gone */
    assert_int_equal(step_checks, 0);
    zswap_set_watermarks(0, 0);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.areas, 1);
    assert_int_equal(s.faulted_in, 0);
    assert_int_equal(vmalloc_frames(), s.present);
    assert_int_equal(pool_pages(), s.stored + s.copies);
    verify_pages(b, 4, 63);
    all_gone(b);
}

/* ---- the pool full in the middle of a batch, other pages' kept copies to give up ---- */

static void limit_at_the_pool(void)
{
    zstore_stats_t z;
    zstore_get_stats(&z);
    zstore_set_limit(z.mem_used);
}

static void test_pool_full_mid_batch_copies_given_up(void **state)
{
    start(state);
    uint8_t *a = new_area(4), *b = new_area(4);
    for (uint32_t i = 0; i < 4; i++) {
        zpage_fill(a + i * PAGE, 0, 64 + i, 0);
        zpage_fill(b + i * PAGE, 0, 68 + i, 0);
    }
    reclaim_all(8);
    for (uint32_t i = 0; i < 4; i++) /* b's pages back clean: their copies kept */
        assert_true(page_is(b + i * PAGE, 0, 68 + i));
    for (uint32_t i = 0; i < 4; i++) /* a's pages back and written: to compress again */
        a[i * PAGE + 9] ^= 0x20;
    zswap_stats_t s0 = stats();
    assert_int_equal(s0.copies, 8);
    step_arm(&at_compress, 1, limit_at_the_pool); /* a's first page: the pool is full */
    uint32_t freed = zswap_reclaim(4);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.copies, 0);                    /* b's copies given up (only a saving) */
    assert_true(freed >= 1);                          /* ... so a's first page found room */
    assert_false(pte_at(a) & PAGE_PRESENT);           /* stored */
    assert_int_equal(s.failures, freed == 4 ? 0 : 1); /* the rest as the room went */
    assert_int_equal(pool_pages(), s.stored + s.copies);
    zstore_set_limit(0);
    for (uint32_t i = 0; i < 4; i++) {
        a[i * PAGE + 9] ^= 0x20;
        assert_true(page_is(a + i * PAGE, 0, 64 + i));
        assert_true(page_is(b + i * PAGE, 0, 68 + i));
    }
    vfree(a);
    all_gone(b);
}

/* ---- the window onto frames beyond the direct map ---- */

/*
 * The direct map made to end at `bytes` (a machine whose RAM passes it): the
 * pages above it are counted as mapped pages as the VMM counts any other.
 */
static void direct_map_ends_at(uint32_t bytes)
{
    vmm_data.mapped = vmm_data.mapped + vmm_data.direct_size / PAGE_SIZE - bytes / PAGE_SIZE;
    vmm_data.direct_size = bytes;
}

/* A fresh machine whose direct map ends at 4 MB (the rest of its 16 MB reached by the window). */
static void fresh_short_direct_map(void)
{
    fresh_stepped();
    direct_map_ends_at(4u << 20);
    check_all();
}

static void test_window_round_trip(void **state)
{
    (void)state;
    fresh_short_direct_map();
    uint8_t *a = new_area(16);
    assert_int_not_equal(zswap_data.window, 0);
    fill(a, 16, 32, 0);
    reclaim_all(16);
    assert_true(zswap_data.win_uses >= 8); /* the frames are beyond 4 MB */
    verify_pages(a, 16, 32);
    check_all();
    assert_int_equal(zswap_data.win_used, 0);
    all_gone(a);
}

/* Every slot taken (a leak of frame_get's): reclaim and faults refuse, nothing lost. */
static void test_window_exhausted(void **state)
{
    (void)state;
    fresh_short_direct_map();
    uint8_t *a = filled(8, 33);
    reclaim_all(8);
    for (uint32_t i = 0; i < 8; i += 2) /* half of them back: present and clean */
        assert_true(page_is(a + i * PAGE, i, 33));
    paddr_t high = (paddr_t)(12u << 20);
    int slot[WINDOW_SLOTS + 1];
    glue_irqflags_t f = mm_lock();
    for (uint32_t k = 0; k < WINDOW_SLOTS; k++)
        assert_non_null(zswap_frame_get(high, &slot[k]));
    host_console_clear();
    assert_null(zswap_frame_get(high, &slot[WINDOW_SLOTS]));
    mm_unlock(f);
    assert_true(host_console_has("every window slot is in use"));
    check_all();
    /* reclaim: written pages cannot be read to compress: mapped back, counted */
    for (uint32_t i = 0; i < 8; i += 2)
        a[i * PAGE + 1] ^= 0x11;
    zswap_stats_t s0 = stats();
    zswap_reclaim(8);
    zswap_reclaim(8);
    check_all();
    zswap_stats_t s = stats();
    assert_true(s.failures > s0.failures);
    assert_int_equal(s.compressed, s0.compressed);
    /* a fault on a stored page: its new frame cannot be reached: refused, frame back */
    uint32_t frames = vmalloc_frames();
    host_console_clear();
    uint8_t got;
    uint32_t stored_one = 1;
    while (pte_at(a + stored_one * PAGE) & PAGE_PRESENT)
        stored_one += 2;
    int refused = touch(a + stored_one * PAGE, &got);
    if (refused) {
        assert_true(host_console_has("not mapped"));
        assert_int_equal(vmalloc_frames(), frames);
    } else {
        /* (its frame happened to be in the direct map) */
        assert_true(page_is(a + stored_one * PAGE, stored_one, 33));
    }
    check_all();
    f = mm_lock();
    for (uint32_t k = 0; k < WINDOW_SLOTS; k++)
        zswap_window_put(slot[k]);
    mm_unlock(f);
    check_all();
    for (uint32_t i = 0; i < 8; i += 2)
        a[i * PAGE + 1] ^= 0x11;
    reclaim_all(8);
    verify_pages(a, 8, 33);
    all_gone(a);
}

/* An area made before RAM passed the direct map: no window; frames beyond it refused safely. */
static void test_no_window(void **state)
{
    start(state);
    uint8_t *a = new_area(8);
    assert_int_equal(zswap_data.window, 0);
    fill(a, 8, 34, 0);
    direct_map_ends_at(4u << 20); /* (memory hot-added past it, say) */
    host_console_clear();
    zswap_reclaim(8);
    zswap_reclaim(8);
    check_all();
    assert_true(host_console_has("there is no window"));
    assert_true(stats().failures > 0);
    direct_map_ends_at(16u << 20);
    verify_pages(a, 8, 34);
    all_gone(a);
}

/* zswap_check finds problems, one of them reported as `line`. */
static int zswap_check_says(const char *line)
{
    host_console_clear();
    return zswap_check() > 0 && host_console_has(line);
}

/* A slot left mapped while marked idle, or marked in use but idle: zswap_check says so. */
static void test_window_slot_left_mapped(void **state)
{
    (void)state;
    fresh_short_direct_map();
    uint8_t *a = new_area(1);
    vaddr_t slot3 = zswap_data.window + 3 * PAGE_SIZE;
    assert_int_equal(vmm_swap_set(slot3, (12u << 20) | PAGE_PRESENT | PAGE_WRITABLE, NULL), 0);
    assert_true(zswap_check_says("window slot not idle"));
    assert_int_equal(vmm_swap_set(slot3, WINDOW_IDLE, NULL), 0);
    zswap_data.win_used |= 1u << 5;
    assert_true(zswap_check_says("window slot in use not mapped"));
    zswap_data.win_used = 0;
    check_all();
    all_gone(a);
}

/* ---- threads (x86_64: see test_zswap.c on qemu-i386's signal handlers) ---- */

#if defined(__i386__)
#define THREADS_NATIVE() skip()
#else
#define THREADS_NATIVE() ((void)0)
#endif

#define CPUS 4

/*
 * A write while the page is being compressed: the writer faults (pending)
 * until the page is stored, brings it back, and writes; the page is then dirty,
 * so the next reclaim compresses it again (not dropped clean): the write kept.
 */
static uint8_t *written_page;
static pthread_t writer;
static unsigned long writer_faults;

static void *writer_main(void *arg)
{
    (void)arg;
    ((volatile uint8_t *)written_page)[5] = 0x77;
    return NULL;
}

static void writer_faults_while_encoding(void)
{
    unsigned long before = __atomic_load_n(&host_zswap_faults, __ATOMIC_RELAXED);
    assert_int_equal(pthread_create(&writer, NULL, writer_main, NULL), 0);
    time_t t0 = time(NULL);
    do {
        writer_faults = __atomic_load_n(&host_zswap_faults, __ATOMIC_RELAXED) - before;
    } while (writer_faults < 3 && time(NULL) - t0 < 3);
}

static void test_write_while_compressing_is_dirty(void **state)
{
    (void)state;
    THREADS_NATIVE();
    fresh_stepped();
    uint8_t *a = filled(1, 57);
    uint8_t want5 = a[5];
    written_page = a;
    writer_faults = 0;
    step_arm(&at_compress, 1, writer_faults_while_encoding);
    assert_int_equal(zswap_reclaim(1), 1);
    pthread_join(writer, NULL);
    assert_true(writer_faults >= 3); /* it ran again while the page was pending */
    assert_int_equal(pte_at(a) & (PAGE_PRESENT | PAGE_DIRTY), PAGE_PRESENT | PAGE_DIRTY);
    check_all();
    reclaim_all(1);
    zswap_stats_t s = stats();
    assert_int_equal(s.compressed, 2); /* compressed again, not dropped clean */
    assert_int_equal(s.dropped_clean, 0);
    assert_int_equal(a[5], 0x77);
    a[5] = want5;
    assert_true(page_is(a, 0, 57));
    all_gone(a);
}

static uint8_t *shared_page;
static uint32_t shared_idx, shared_seed;
static int round_go, round_bad;

static void *same_page_cpu(void *arg)
{
    int want = (int)(intptr_t)arg;
    static __thread uint8_t mine[PAGE];
    while (__atomic_load_n(&round_go, __ATOMIC_ACQUIRE) != want)
        sched_yield();
    if (zpage_check(shared_page, shared_idx, shared_seed, 0, mine) >= 0)
        __atomic_fetch_add(&round_bad, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void test_cpus_fault_one_page_at_once(void **state)
{
    (void)state;
    THREADS_NATIVE();
    fresh(16u << 20);
    const uint32_t pages = 8;
    uint8_t *a = stored_area(pages, 35);
    shared_idx = 1;
    shared_seed = 35;
    shared_page = a + PAGE;
    round_bad = 0;
    for (int r = 1; r <= 40; r++) {
        zswap_stats_t s0 = stats();
        pthread_t t[CPUS];
        for (int c = 0; c < CPUS; c++)
            assert_int_equal(pthread_create(&t[c], NULL, same_page_cpu, (void *)(intptr_t)r), 0);
        __atomic_store_n(&round_go, r, __ATOMIC_RELEASE);
        for (int c = 0; c < CPUS; c++)
            pthread_join(t[c], NULL);
        zswap_stats_t s = stats();
        assert_int_equal(s.faulted_in - s0.faulted_in, 1); /* one mapped it, the others ran again */
        assert_int_equal(vmalloc_frames(), 1);
        check_all();
        reclaim_all(pages);
        assert_int_equal(vmalloc_frames(), 0);
    }
    assert_int_equal(round_bad, 0);
    all_gone(a);
}

static int reclaiming;
static void *reclaim_cpu(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&reclaiming, __ATOMIC_ACQUIRE))
        zswap_reclaim(16);
    return NULL;
}

/* Areas made, filled, read back and vfree'd while another CPU reclaims: checkers exact. */
static void test_vfree_against_a_reclaiming_cpu(void **state)
{
    (void)state;
    THREADS_NATIVE();
    fresh(16u << 20);
    __atomic_store_n(&reclaiming, 1, __ATOMIC_RELEASE);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reclaim_cpu, NULL), 0);
    int errors = 0, bad = 0;
    for (uint32_t r = 0; r < 60; r++) {
        uint32_t pages = 4 + r % 12;
        uint8_t *a = filled(pages, 40 + r);
        errors += every_checker();
        for (uint32_t i = 0; i < pages; i++)
            bad += !page_is(a + i * PAGE, i, 40 + r);
        errors += every_checker();
        vfree(a);
        errors += every_checker();
    }
    __atomic_store_n(&reclaiming, 0, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    assert_int_equal(errors, 0);
    assert_int_equal(bad, 0);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.areas, 0);
    assert_int_equal(vmalloc_frames(), 0);
    assert_int_equal(pool_pages(), 0);
    print_message("vfree race: %u compressed, %u brought back, %u dropped clean\n",
                  (unsigned)s.compressed, (unsigned)s.faulted_in, (unsigned)s.dropped_clean);
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_stale_and_wild_entries),
        cmocka_unit_test(test_stale_handle_of_a_reused_index),
        cmocka_unit_test(test_vfree_in_the_middle_of_a_run),
        cmocka_unit_test(test_area_reborn_while_compressing),
        cmocka_unit_test(test_area_reborn_while_decoding),
        cmocka_unit_test(test_entry_aba_while_decoding),
        cmocka_unit_test(test_page_rewritten_while_decoding),
        cmocka_unit_test(test_codec_swapped_while_compressing),
        cmocka_unit_test(test_codec_swap_refused_while_decoding),
        cmocka_unit_test(test_limit_mid_batch_unlocked),
        cmocka_unit_test(test_limit_mid_batch_locked),
        cmocka_unit_test(test_cpus_without_a_record),
        cmocka_unit_test(test_area_freed_during_its_faults_reclaim),
        cmocka_unit_test(test_pool_full_mid_batch_copies_given_up),
        cmocka_unit_test(test_window_round_trip),
        cmocka_unit_test(test_window_exhausted),
        cmocka_unit_test(test_no_window),
        cmocka_unit_test(test_window_slot_left_mapped),
        cmocka_unit_test(test_write_while_compressing_is_dirty),
        cmocka_unit_test(test_cpus_fault_one_page_at_once),
        cmocka_unit_test(test_vfree_against_a_reclaiming_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_zswap.c - reclaim of cold pages and demand paging back in (mm/zswap.c,
 * issue 14 items 3 and 5) on the simulated MMU: the host glue keeps Accessed
 * and Dirty of compressible pages by page protection and hands a not-present
 * page's SIGSEGV to zswap_fault, as the kernel's #PF handler does
 * (host/glue.c's top comment).
 *
 *   - pages of realistic data written, reclaimed (two sweeps: the first
 *     clears Accessed, the second finds them cold), read back in random order
 *     byte for byte through faults;
 *   - a page read back and not written is dropped clean (its copy kept); a
 *     page written after it is compressed again;
 *   - an area larger than the PMM's free memory filled and checked: the faults
 *     reclaim by the watermark on their own;
 *   - noise larger than RAM: a fault at last refused with one line naming the
 *     area, no page ever read back wrong, the checkers clean after;
 *   - two threads faulting at once while a third reclaims;
 *   - vfree of an area in every state gives every frame and copy back;
 *   - on two nodes, a page comes back on the node it was compressed from;
 *   - bad input.
 * Every layer's checker, zstore_check and zswap_check after each operation.
 */
#include "harness.h"
#include "zstore.h"
#include "zswap.h"

#include <pthread.h>

#include "lock.h"
#include "zswap_harness.h"

/* Every page, in an order shuffled by seed, byte for byte. */
static void verify_shuffled(uint8_t *area, uint32_t pages, uint32_t seed, int random)
{
    uint32_t *order = malloc(pages * sizeof(*order)), s = seed ^ 0x5bd1e995u;
    assert_non_null(order);
    for (uint32_t i = 0; i < pages; i++)
        order[i] = i;
    for (uint32_t i = pages - 1; i > 0; i--) {
        uint32_t k = rng_next(&s) % (i + 1), t = order[i];
        order[i] = order[k];
        order[k] = t;
    }
    for (uint32_t i = 0; i < pages; i++) {
        int at = zpage_check(area + order[i] * PAGE, order[i], seed, random, scratch);
        if (at >= 0)
            fail_msg("page %u differs at byte %d", order[i], at);
    }
    free(order);
}

/* A fresh machine of ram bytes with one compressible area of pages pages on it. */
static uint8_t *fresh_area(uint32_t ram, uint32_t pages)
{
    fresh(ram);
    uint8_t *a = vmalloc_compressible(pages * PAGE);
    assert_non_null(a);
    return a;
}

/* fresh_area over 16 MB, every page written with seed's realistic data, then all reclaimed. */
static uint8_t *reclaimed_area(uint32_t pages, uint32_t seed)
{
    uint8_t *a = fresh_area(16u << 20, pages);
    fill(a, pages, seed, 0);
    reclaim_all(pages);
    return a;
}

/* fresh_area over 16 MB on two nodes: node 0 below 10 MB (CPU 0), node 1 above (CPU 1). */
static uint8_t *two_node_area(uint32_t pages)
{
    fresh(16u << 20);
    static const pmm_node_range_t r[] = {{0, 10u << 20, 0}, {10u << 20, 16u << 20, 1}};
    static const uint8_t cpus[] = {0, 1};
    assert_int_equal(pmm_set_nodes(2, r, 2, cpus, 2, NULL), 0);
    uint8_t *a = vmalloc_compressible(pages * PAGE);
    assert_non_null(a);
    return a;
}

/* The area freed, every checker clean after. */
static void free_area(uint8_t *a)
{
    vfree(a);
    check_all();
}

static void test_reclaim_and_fault_in(void **state)
{
    (void)state;
    const uint32_t pages = 512;
    uint8_t *a = fresh_area(16u << 20, pages);
    check_all();
    assert_int_equal(stats().zero, pages); /* nothing mapped yet */
    uint32_t before = free_pages();
    fill(a, pages, 7, 0);
    check_all();
    zswap_stats_t s = stats();
    assert_int_equal(s.present, pages);
    assert_int_equal(s.zero_fills, pages);
    assert_true(before - free_pages() >= pages);

    /* CLOCK: every page was just touched, so the hand clears every Accessed bit
     * going round once and takes the first page it finds cold the second time,
     * and stops there (before 2026-12-07 it went on to the end of the run of
     * ZSWAP_SWEEP pages, passing cold pages it did not take) */
    assert_int_equal(zswap_reclaim(1), 1);
    check_all();
    s = stats();
    assert_int_equal(s.present, pages - 1);
    assert_int_equal(s.scanned, pages + 1);
    /* the second half touched again (read): the hand takes the cold first half only */
    for (uint32_t i = pages / 2; i < pages; i++)
        assert_int_equal(zpage_check(a + i * PAGE, i, 7, 0, scratch), -1);
    assert_int_equal(zswap_reclaim(pages / 2 - 1), pages / 2 - 1);
    check_all();
    s = stats();
    assert_int_equal(s.present, pages / 2);
    for (uint32_t i = pages / 2; i < pages; i++) {
        assert_true(vmm_get_entry(vmalloc_kvirt(a + i * PAGE)) & PAGE_PRESENT);
    }
    reclaim_all(pages);
    s = stats();
    assert_int_equal(s.stored, pages);
    assert_int_equal(s.compressed, pages);
    zstore_stats_t z;
    zstore_get_stats(&z);
    assert_int_equal(z.pages_stored, pages);
    assert_true(z.compr_bytes < z.orig_bytes / 2); /* realistic data compresses */
    assert_int_equal(vmalloc_frames(), 0);         /* every frame went back */

    verify_shuffled(a, pages, 7, 0);
    check_all();
    s = stats();
    assert_int_equal(s.faulted_in, pages);
    assert_int_equal(s.present, pages);
    assert_int_equal(s.copies, pages); /* clean, copies kept */
    assert_true(host_zswap_faults >= pages);
    free_area(a);
    zstore_get_stats(&z);
    assert_int_equal(z.pages_stored, 0);
    assert_int_equal(stats().areas, 0);
}

static void test_clean_dropped_dirty_recompressed(void **state)
{
    (void)state;
    const uint32_t pages = 256;
    uint8_t *a = reclaimed_area(pages, 11);
    verify_shuffled(a, pages, 11, 0); /* all back, clean */
    check_all();
    /* write one byte into every 4th page (then put it back: the bytes stay the run's) */
    for (uint32_t i = 0; i < pages; i += 4) {
        volatile uint8_t *p = a + i * PAGE + 100;
        uint8_t v = *p;
        *p = (uint8_t)~v;
        *p = v;
    }
    check_all();
    zswap_stats_t s0 = stats();
    reclaim_all(pages);
    zswap_stats_t s1 = stats();
    assert_int_equal(s1.compressed - s0.compressed, pages / 4);
    assert_int_equal(s1.dropped_clean - s0.dropped_clean, pages - pages / 4);
    assert_int_equal(s1.failures, 0);
    verify_shuffled(a, pages, 11, 0);
    check_all();
    free_area(a);
}

/* A page changed for good is compressed again, and comes back changed. */
static void test_changed_page_comes_back_changed(void **state)
{
    (void)state;
    const uint32_t pages = 64;
    uint8_t *a = reclaimed_area(pages, 3);
    verify_shuffled(a, pages, 3, 0);
    uint8_t was = a[5 * PAGE + 7];
    a[5 * PAGE + 7] = (uint8_t)(was ^ 0xFF);
    zswap_stats_t s0 = stats();
    reclaim_all(pages);
    zswap_stats_t s1 = stats();
    assert_int_equal(s1.compressed - s0.compressed, 1);
    assert_int_equal(a[5 * PAGE + 7], (uint8_t)(was ^ 0xFF));
    a[5 * PAGE + 7] = was;
    verify_shuffled(a, pages, 3, 0);
    check_all();
    free_area(a);
}

/* An area twice the free memory: the faults reclaim on their own (the watermark). */
static void test_overcommit(void **state)
{
    (void)state;
    fresh(8u << 20);
    zstore_set_limit(6u << 20);
    uint32_t pages = free_pages() * 2;
    uint8_t *a = vmalloc_compressible(pages * PAGE);
    assert_non_null(a);
    fill(a, pages, 21, 0);
    check_all();
    zswap_stats_t s = stats();
    assert_true(s.compressed > pages / 2);
    assert_true(s.reclaims > 0);
    assert_int_equal(s.oom_faults, 0);
    verify_shuffled(a, pages, 21, 0);
    check_all();
    verify_shuffled(a, pages, 21, 0); /* a second pass: the clean pages dropped, not compressed */
    check_all();
    s = stats();
    assert_true(s.dropped_clean > 0);
    assert_int_equal(s.oom_faults, 0);
    assert_int_equal(s.failures, 0);
    free_area(a);
}

static sigjmp_buf oom_jump;
static volatile uint32_t oom_virt;

static void oom_escape(uint32_t virt)
{
    oom_virt = virt;
    siglongjmp(oom_jump, 1);
}

/* Noise larger than RAM: a fault refused at last, one line; never a wrong byte; all freed. */
static void test_noise_larger_than_ram_fails_cleanly(void **state)
{
    (void)state;
    fresh(8u << 20);
    uint32_t before = free_pages();
    uint32_t pages = before * 2;
    uint8_t *a = vmalloc_compressible(pages * PAGE);
    assert_non_null(a);
    host_fault_unhandled = oom_escape;
    volatile uint32_t written = 0;
    if (sigsetjmp(oom_jump, 1) == 0) {
        for (; written < pages; written++)
            zpage_fill(a + written * PAGE, written, 33, 1);
    }
    host_fault_unhandled = NULL;
    assert_true(written < pages); /* it cannot all fit */
    assert_true(host_console_has("out of memory with nothing left to compress"));
    assert_true(host_console_has("compressible area"));
    char want[64];
    snprintf(want, sizeof(want), "page %u of compressible area", (unsigned)written);
    assert_true(host_console_has(want));
    assert_true(stats().oom_faults > 0);
    check_all();
    /* every page written before comes back exact, or its fault is refused: never wrong */
    uint32_t good = 0, refused = 0;
    for (volatile uint32_t i = 0; i < written; i++) {
        host_fault_unhandled = oom_escape;
        if (sigsetjmp(oom_jump, 1) == 0) {
            int at = zpage_check(a + i * PAGE, i, 33, 1, scratch);
            host_fault_unhandled = NULL;
            if (at >= 0)
                fail_msg("noise page %u differs at byte %d", (unsigned)i, at);
            good++;
        } else {
            refused++;
        }
    }
    host_fault_unhandled = NULL;
    print_message("noise: %u of %u pages written, then %u read back exact, %u refused\n",
                  (unsigned)written, (unsigned)pages, (unsigned)good, (unsigned)refused);
    assert_true(good > 0);
    check_all();
    free_area(a);
    zstore_stats_t z;
    zstore_get_stats(&z);
    assert_int_equal(z.pages_stored, 0);
    assert_int_equal(vmalloc_frames(), 0); /* every frame back (the heap may keep its pages) */
    /* and memory works again */
    uint8_t *b = vmalloc_compressible(64 * PAGE);
    assert_non_null(b);
    fill(b, 64, 34, 0);
    verify_shuffled(b, 64, 34, 0);
    vfree(b);
    check_all();
}

struct reader {
    uint8_t *a;
    uint32_t from, pages, seed, rounds;
    int bad;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    uint32_t s = r->seed;
    for (uint32_t n = 0; n < r->rounds; n++) {
        uint32_t i = r->from + rng_next(&s) % r->pages;
        if (zpage_check(r->a + i * PAGE, i, 44, 0, scratch) >= 0)
            r->bad++;
        if (n % 3 == 0) { /* a write that leaves the bytes as they were: the page goes dirty */
            volatile uint8_t *p = r->a + i * PAGE + (n % PAGE);
            *p = *p;
        }
    }
    return NULL;
}

static volatile int stop_reclaim;

static void *reclaimer_main(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_reclaim, __ATOMIC_ACQUIRE))
        zswap_reclaim(16);
    return NULL;
}

/* Two threads faulting (reading, writing) at once while a third reclaims. */
static void test_threads_fault_while_reclaiming(void **state)
{
    (void)state;
#if defined(__i386__)
    /*
     * The i386 programs run under qemu-i386 (tools/host-exec.sh), whose
     * SIGSEGV handler in a program of several threads reads another thread's
     * thread-local storage: three threads faulting on pages they mprotect,
     * each handler comparing its __thread id with gettid(), saw 57 580
     * mismatches of 600 000 under qemu-i386 and 0 natively (2026-12-06).
     * The glue's CPU id is thread-local, so mm/'s lock would be taken as
     * another CPU's.  The native x86_64 builds run this case.
     */
    skip();
#endif
    const uint32_t pages = 512;
    uint8_t *a = reclaimed_area(pages, 44);
    struct reader r[2] = {{a, 0, pages / 2, 1, 3000, 0}, {a, pages / 2, pages / 2, 2, 3000, 0}};
    pthread_t t[3];
    stop_reclaim = 0;
    assert_int_equal(pthread_create(&t[2], NULL, reclaimer_main, NULL), 0);
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, reader_main, &r[k]), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    __atomic_store_n(&stop_reclaim, 1, __ATOMIC_RELEASE);
    pthread_join(t[2], NULL);
    assert_int_equal(r[0].bad + r[1].bad, 0);
    check_all();
    zswap_stats_t s = stats();
    print_message("threads: %u brought back, %u compressed, %u dropped clean\n",
                  (unsigned)s.faulted_in, (unsigned)s.compressed, (unsigned)s.dropped_clean);
    assert_true(s.faulted_in > pages);
    verify_shuffled(a, pages, 44, 0);
    free_area(a);
}

/* vfree of an area with pages in every state: every frame and stored copy goes back. */
static void test_vfree_every_state(void **state)
{
    (void)state;
    const uint32_t pages = 300;
    uint8_t *a = fresh_area(16u << 20, pages);
    fill(a, 200, 55, 0); /* 100 never touched */
    reclaim_all(pages);
    verify_shuffled(a, 50, 55, 0); /* 50 present with copies, 150 stored */
    a[PAGE] ^= 1;                  /* one dirty */
    zswap_stats_t s = stats();
    assert_int_equal(s.present, 50);
    assert_int_equal(s.stored, 150);
    assert_int_equal(s.zero, 100);
    check_all();
    free_area(a);
    zstore_stats_t z;
    zstore_get_stats(&z);
    assert_int_equal(z.pages_stored, 0);
    assert_int_equal(stats().areas, 0);
    assert_int_equal(vmalloc_frames(), 0);
    vfree(a); /* twice: vmalloc's report */
    assert_true(host_console_has("double free of compressible area"));
    check_all();
}

/* The node of the frame behind page i of a (present). */
static int node_of_page(uint8_t *a, uint32_t i)
{
    uint32_t e = vmm_get_entry(vmalloc_kvirt(a + i * PAGE));
    assert_true(e & PAGE_PRESENT);
    return pmm_page_node(VMM_FRAME(e));
}

/* Two nodes: a page compressed on node 1 comes back on node 1, whichever CPU faults. */
static void test_page_comes_back_on_its_node(void **state)
{
    (void)state;
    const uint32_t pages = 64;
    uint8_t *a = two_node_area(pages);
    host_forced_cpu_id = 1; /* the first touches on CPU 1: node 1's frames */
    fill(a, pages / 2, 66, 0);
    host_forced_cpu_id = 0;
    for (uint32_t i = pages / 2; i < pages; i++)
        zpage_fill(a + i * PAGE, i, 66, 0);
    for (uint32_t i = 0; i < pages; i++)
        assert_int_equal(node_of_page(a, i), i < pages / 2 ? 1 : 0);
    reclaim_all(pages);
    check_all();
    verify_shuffled(a, pages, 66, 0); /* all faulted on CPU 0 */
    for (uint32_t i = 0; i < pages; i++)
        assert_int_equal(node_of_page(a, i), i < pages / 2 ? 1 : 0);
    check_all();
    free_area(a);
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
}

/* A page compressed on node 1, then one node left (pmm_set_nodes): its fault takes any node
   (it failed as out of memory when it asked for node 1 by name). */
static void test_node_gone_before_the_fault(void **state)
{
    (void)state;
    const uint32_t pages = 16;
    uint8_t *a = two_node_area(pages);
    host_forced_cpu_id = 1;
    fill(a, pages, 67, 0);
    host_forced_cpu_id = 0;
    reclaim_all(pages);
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    uint32_t oom = errors_now();
    verify_shuffled(a, pages, 67, 0);
    assert_int_equal(errors_now(), oom);
    check_all();
    free_area(a);
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
}

static void test_bad_input(void **state)
{
    (void)state;
    fresh(16u << 20);
    assert_null(vmalloc_compressible(0));
    assert_null(vmalloc_compressible(0x40000000u));   /* more than the vmalloc range */
    assert_int_equal(zswap_fault(0xE0000000u, 0), 0); /* no area there */
    assert_int_equal(zswap_fault(0, 2), 0);
    zswap_get_stats(NULL);
    assert_true(host_console_has("zswap_get_stats: NULL stats pointer"));
    assert_int_equal(zswap_reclaim(100), 0); /* no areas: nothing */
    /* a present page's protection fault is not ours */
    uint8_t *a = vmalloc_compressible(4 * PAGE);
    a[0] = 1;
    uint32_t v = vmalloc_kvirt(a);
    assert_int_equal(zswap_fault(v, 1), 0);
    assert_int_equal(zswap_fault(v, 0), 1); /* a spurious one (another CPU's): run again */
    /* too many areas: the table's limit, one line */
    void *more[ZSWAP_MAX_AREAS];
    int got = 0;
    for (int k = 0; k < ZSWAP_MAX_AREAS; k++)
        if ((more[got] = vmalloc_compressible(PAGE)) != NULL)
            got++;
    assert_int_equal(got, ZSWAP_MAX_AREAS - 1);
    assert_true(host_console_has("table full"));
    for (int k = 0; k < got; k++)
        vfree(more[k]);
    free_area(a);
}

/*
 * Pressure: allocations that may not run the hooks (PMM_NO_RECLAIM: the heap
 * growing, page tables) take free frames below the low watermark; the next
 * allocation made from outside mm/ runs the reclaim on its way out (up to
 * the high one), one nested in mm/'s lock does not.  A run that cannot get
 * back over `low` is not repeated on every call, until free frames pass
 * `high` again.
 */
static paddr_t held_pages[4096];

static uint32_t take_below(uint32_t mark)
{
    uint32_t n = 0;
    while (free_pages() >= mark && n < 4096) {
        held_pages[n] = pmm_alloc_pages_owner(1, 0, PMM_OWNER_CALLER | PMM_NO_RECLAIM);
        assert_true(held_pages[n] != 0);
        n++;
    }
    return n;
}

static void give_back(uint32_t n)
{
    while (n)
        pmm_free_page(held_pages[--n]);
}

static void test_pressure_reclaims_at_the_next_allocation(void **state)
{
    (void)state;
    fresh(8u << 20);
    zswap_set_watermarks(64, 128);
    uint32_t pages = free_pages() / 2;
    uint8_t *a = vmalloc_compressible(pages * PAGE);
    assert_non_null(a);
    fill(a, pages, 41, 0);
    check_all();
    uint32_t z0 = stats().reclaims, d0 = pstats().reclaims_deferred;
    uint32_t n = take_below(64 - 16); /* (a CPU's list notes it at its next refill: 16 pages) */
    /* the takes themselves (PMM_NO_RECLAIM) ran nothing */
    assert_int_equal(stats().reclaims, z0);
    assert_int_equal(pstats().reclaims_deferred, d0);
    /* inside mm/'s lock: owed, not run */
    glue_irqflags_t f = mm_lock();
    void *inner = kmalloc(3000);
    mm_unlock(f);
    assert_non_null(inner);
    assert_int_equal(pstats().reclaims_deferred, d0);
    assert_true(free_pages() < 48);
    /* held (pmm_reclaim_hold): still owed after the call */
    pmm_reclaim_hold(1);
    void *held = kmalloc(3000);
    pmm_reclaim_hold(0);
    assert_non_null(held);
    assert_int_equal(pstats().reclaims_deferred, d0);
    /*
     * The next one from outside that enters mm/'s shared path: on its way out.
     * (A size whose class this CPU's block cache has nothing of: the misses
     * above filled 3000's; a hit of a CPU's cache takes no page and runs none.)
     */
    void *p = kmalloc(50000);
    assert_non_null(p);
    assert_int_equal(pstats().reclaims_deferred, d0 + 1);
    assert_true(stats().reclaims > z0);
    printf("  (note: %u free frames after the run)\n", (unsigned)free_pages());
    assert_true(free_pages() >= 64); /* over low (the store's copies took some of what it freed) */
    check_all();
    kfree(p);
    kfree(held);
    kfree(inner);
    give_back(n);
    verify_pages(a, pages, 41);
    check_all();
    free_area(a);
}

static void test_pressure_not_rerun_with_nothing_to_reclaim(void **state)
{
    (void)state;
    fresh(8u << 20);
    zswap_set_watermarks(64, 128);
    uint8_t *a = vmalloc_compressible(16 * PAGE); /* untouched: nothing to compress */
    assert_non_null(a);
    uint32_t d0 = pstats().reclaims_deferred;
    uint32_t n = take_below(32); /* well below low: the heap's spare pages cannot lift it */
    int quiet = mm_set_oom_reports(1);
    for (int i = 0; i < 50; i++) {
        void *p = vmalloc(PAGE);
        vfree(p);
    }
    assert_int_equal(pstats().reclaims_deferred, d0 + 1); /* one run, then disarmed */
    /* free frames pass `high`, then a take goes below `low` again: owed once more */
    give_back(n);
    assert_true(free_pages() >= 128);
    n = take_below(32);
    void *p = vmalloc(PAGE);
    assert_int_equal(pstats().reclaims_deferred, d0 + 2);
    vfree(p);
    mm_set_oom_reports(quiet);
    give_back(n);
    check_all();
    free_area(a);
    /* no area, no marks: nothing owed however low memory goes */
    n = take_below(32);
    p = vmalloc(PAGE);
    vfree(p);
    assert_int_equal(pstats().reclaims_deferred, d0 + 2);
    give_back(n);
    check_all();
}

int main(void)
{
    const char *only = getenv("ZSWAP_ONLY");
    if (only)
        cmocka_set_test_filter(only);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reclaim_and_fault_in),
        cmocka_unit_test(test_clean_dropped_dirty_recompressed),
        cmocka_unit_test(test_changed_page_comes_back_changed),
        cmocka_unit_test(test_overcommit),
        cmocka_unit_test(test_noise_larger_than_ram_fails_cleanly),
        cmocka_unit_test(test_threads_fault_while_reclaiming),
        cmocka_unit_test(test_vfree_every_state),
        cmocka_unit_test(test_page_comes_back_on_its_node),
        cmocka_unit_test(test_node_gone_before_the_fault),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_pressure_reclaims_at_the_next_allocation),
        cmocka_unit_test(test_pressure_not_rerun_with_nothing_to_reclaim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

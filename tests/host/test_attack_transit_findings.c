/*
 * test_attack_transit_findings.c - what the hostile review of zswap's transit
 * records and the compressed store found broken (the attacks mm/ survives:
 * test_attack_transit.c).  Each test asserts the right outcome, so it fails
 * until its mend; until then it is skipped with its one-line reason (set
 * RUN_FINDINGS=1 to run them).  Mended: 1 (a fault believes an entry only if
 * it names the page's own copy, zswap's copy[]; zswap_check compares them),
 * 2 (vfree refuses zswap's window: vmalloc_pin_area), 3 (a put refused for
 * a codec change: the page encoded again, zstore_encoded_current) and 6 (an
 * atomic load): their cases run always.  4 and 5 need a codec that calls
 * mm/, which mm/lz4.h now forbids: they stay skipped, the record of what
 * such a codec does.
 *
 *  1. A not-present entry naming another page's live handle is believed: the
 *     fault maps that page's bytes.  zswap_fault fetches ZSWAP_HANDLE(e) from
 *     the store with no check that the handle is this page's, so an entry of
 *     area A forged to B's handle shows A's reader B's bytes, and A's page
 *     then keeps B's handle as its copy (two owners: B's vfree frees it under
 *     A; zswap_check sees nothing wrong).  Worse, one flipped bit does it: the
 *     handles of an area's pages are consecutive indexes of generation 1, so
 *     flipping the entry's bit 1 (the index's bit 0) names the neighbour page.
 *  2. A vfree of zswap's window (a wild vfree of a span vmalloc handed out to
 *     zswap, not to the caller) while a CPU encodes a page through a slot of
 *     it: release_area unmaps every slot under the encoding CPU, which then
 *     reads an unmapped page (a kernel #PF: a crash).  vfree accepts the
 *     window's base like any area's.
 *  3. zstore_set_codec while reclaim encodes a page (nothing yet stored
 *     compressed, so it is allowed): the put is refused (refused_busy), and
 *     reclaim takes the refusal for a full store: it gives up every kept copy
 *     of every present page (drop_copies) and counts a failure, though the
 *     store had room; the page could simply be encoded again.
 *  4. A codec that vfrees the area whose page it compresses, on the locked
 *     path (a CPU without a transit record, reclaim nested in mm_lock, the
 *     PMM's hook; mm_lock nests on this CPU, so vfree goes through):
 *     reclaim_locked and store_cold keep their `struct zarea *` across
 *     zstore_put, so the page is stored for no area (its handle leaked:
 *     pages_stored counts 4 pages of no area), its entry set in the freed
 *     span, and a->copy[i] / a->node[i] written into the freed records (a
 *     block kmalloc'd after the vfree is changed).
 *  5. The same while a fault decodes under the lock: zstore_get holds its
 *     entry across the codec; the nested vfree frees the copy being decoded
 *     (a read after free), reported and counted as a corrupt copy (it was
 *     not); zswap_fault then reports with its stale `a`.  Had the freed block
 *     still decoded, the frame would have been mapped into the freed span.
 *  6. (No case here: only ThreadSanitizer sees it.)  vmm_get_entry reads the
 *     entry with a plain load (mm/vmm.c) while another CPU's MMU sets its
 *     Accessed bit (a locked update: the glue's compare-exchange); two CPUs
 *     faulting one page race there (zswap_fault's first read of the entry).
 *     build/tsan/test_attack_transit reports it in test_cpus_fault_one_page_at_once;
 *     vmm_swap_set and vmm_clear_accessed already use atomics.
 */
#include "log.h"
#include "transit_attack.h"
#include "vmm_priv.h"
#include "zswap_priv.h"

/* ---- 1: another page's live handle ---- */

static void test_forged_entry_names_another_areas_page(void **state)
{
    (void)state;
    fresh_stepped(); /* (mended: runs always) */
    uint8_t *a = stored_area(8, 51), *b = stored_area(8, 52);
    check_all();
    uint32_t real = forge(a, pte_at(b)); /* A's page 0 names B's page 0 */
    host_console_clear();
    uint8_t got = 0;
    int refused = touch(a, &got);
    int shows_b = !refused && page_is(a, 0, 52);
    if (!refused)
        fail_msg("A's fault mapped %s (A's page 0 now holds B's handle as its copy; zswap_check "
                 "finds %d problems)",
                 shows_b ? "B's page 0, byte for byte" : "some bytes", zswap_check());
    assert_true(host_console_has("not mapped"));
    forge(a, real);
    check_all();
    vfree(a);
    vfree_checked(b);
    finish();
}

static void test_one_flipped_bit_names_the_neighbour(void **state)
{
    (void)state;
    fresh_stepped(); /* (mended: runs always) */
    uint8_t *a = stored_area(8, 53);
    uint32_t e1 = pte_at(a + PAGE);
    uint32_t real = forge(a + PAGE, e1 ^ 2u);
    uint8_t got = 0;
    int refused = touch(a + PAGE, &got);
    if (!refused) {
        uint32_t other = ZSWAP_HANDLE(e1 ^ 2u) & ((1u << ZSTORE_INDEX_BITS) - 1);
        fail_msg("page 1 (handle 0x%08x) with bit 1 flipped was mapped: the copy of index %u "
                 "(page 1 reads as page %s)",
                 (unsigned)ZSWAP_HANDLE(e1), (unsigned)other,
                 page_is(a + PAGE, 1, 53) ? "1 (by chance)" : "of another index");
    }
    forge(a + PAGE, real);
    check_all();
    vfree_checked(a);
    finish();
}

/* ---- 2: the window vfree'd under an encoding CPU ---- */

static uint8_t *window_victim;
static vaddr_t vfreed_window;
static void wild_vfree_of_the_window(void)
{
    vfreed_window = zswap_data.window;
    vfree(glue_virt_to_ptr(zswap_data.window));
}

static void reclaim_the_victim(void)
{
    zswap_reclaim(4);
}

static void test_window_vfreed_while_encoding(void **state)
{
    (void)state;
    fresh_stepped(); /* (mended: runs always) */
    vmm_data.mapped = vmm_data.mapped + vmm_data.direct_size / PAGE_SIZE - (4u << 20) / PAGE_SIZE;
    vmm_data.direct_size = 4u << 20; /* frames above 4 MB: through the window */
    check_all();
    window_victim = new_area(4);
    assert_int_not_equal(zswap_data.window, 0);
    fill(window_victim, 4, 54, 0);
    step_arm(&at_compress, 1, wild_vfree_of_the_window);
    host_console_clear();
    uint32_t err0 = mm_error_count();
    if (refused_in(reclaim_the_victim))
        fail_msg("the reclaimer's encode read a slot of the vfree'd window 0x%08x: a crash",
                 (unsigned)vfreed_window);
    assert_true(host_console_has("mm/'s own span (zswap's window)")); /* refused, one line */
    assert_int_equal(mm_error_count(), err0 + 1);
    assert_int_equal(zswap_data.window, vfreed_window); /* still there */
    check_all();
    verify_pages(window_victim, 4, 54);
    vfree_checked(window_victim);
    finish();
}

/* ---- 3: the codec swapped under reclaim's encode ---- */

static uint8_t *kept;
static void swap_to_lz4(void)
{
    assert_int_equal(zstore_set_codec(NULL), 0); /* allowed: nothing stored compressed */
}

static void test_codec_swap_drops_every_kept_copy(void **state)
{
    (void)state;
    fresh_stepped(); /* (mended: runs always) */
    /* page 0 text (compressed), pages 1-7 zero pages (stored as their word: no codec) */
    kept = new_area(8);
    zpage_fill(kept, 0, 55, 0);
    for (uint32_t i = 1; i < 8; i++)
        zpage_fill(kept + i * PAGE, 4, 55, 0);
    reclaim_all(8);
    assert_true(page_is(kept, 0, 55)); /* all back, clean: their copies kept */
    for (uint32_t i = 1; i < 8; i++)
        assert_true(page_is(kept + i * PAGE, 4, 55));
    ((volatile uint8_t *)kept)[3] ^= 1; /* page 0 written: its copy is stale */
    zswap_stats_t s0 = stats();
    assert_int_equal(s0.copies, 8);
    /* page 0's stale copy is freed before its encode: nothing compressed left, the swap allowed */
    step_arm(&at_compress, 1, swap_to_lz4);
    zswap_reclaim(1);
    check_all();
    zswap_stats_t s = stats();
    if (s.copies != 7 || s.failures != s0.failures)
        fail_msg("kept copies %u -> %u, failures %u -> %u: the put refused for the codec change "
                 "dropped the other pages' copies",
                 (unsigned)s0.copies, (unsigned)s.copies, (unsigned)s0.failures,
                 (unsigned)s.failures);
    ((volatile uint8_t *)kept)[3] ^= 1;
    assert_true(page_is(kept, 0, 55));
    vfree_checked(kept);
    finish();
}

/* ---- 4: the area vfree'd by a codec that runs under the lock ---- */

static uint8_t *locked_victim;
static uint8_t *sentinel; /* a block of the size of the area's page records, made after the vfree */
static void vfree_locked_victim(void)
{
    vfree(locked_victim);      /* mm_lock nests on this CPU: let through */
    sentinel = kmalloc(4 * 5); /* the freed records' size: likely their block again */
    memset(sentinel, 0xAB, 4 * 5);
}

static int sentinel_changed(void)
{
    for (uint32_t k = 0; k < 4 * 5; k++)
        if (sentinel[k] != 0xAB)
            return 1;
    return 0;
}

static int heap_problems_after;

static void test_vfree_from_a_codec_under_the_lock(void **state)
{
    (void)state;
    finding("store_cold keeps its zarea pointer across zstore_put: a vfree from the codec is a use "
            "after free");
    locked_victim = filled(4, 56);
    step_arm(&at_compress, 1, vfree_locked_victim);
    glue_irqflags_t f = mm_lock(); /* nested: reclaim compresses under the lock (store_cold) */
    zswap_reclaim(4);
    mm_unlock(f);
    host_console_clear();
    heap_problems_after = heap_check();
    int zswap_problems = zswap_check(), pmm_problems = pmm_check(), vmm_problems = vmm_check();
    int changed = sentinel_changed();
    if (heap_problems_after || zswap_problems || pmm_problems || vmm_problems || vmalloc_frames() ||
        pool_pages() || changed)
        fail_msg("after the vfree from inside the codec: heap %d, zswap %d, pmm %d, vmm %d "
                 "problems, %u vmalloc frames, %u pages stored for no area, a block kmalloc'd "
                 "after the vfree %s: %s",
                 heap_problems_after, zswap_problems, pmm_problems, vmm_problems,
                 (unsigned)vmalloc_frames(), (unsigned)pool_pages(),
                 changed ? "written through the freed records" : "intact", host_console_text());
    kfree(sentinel);
    check_all();
    finish();
}

static void vfree_only(void)
{
    vfree(locked_victim);
}

/* The same in a fault that decodes under the lock (a CPU without a transit record). */
static void test_vfree_from_a_decoder_under_the_lock(void **state)
{
    (void)state;
    finding("zswap_fault keeps its zarea pointer across zstore_get: a vfree from the codec maps "
            "a frame into the freed span");
    locked_victim = stored_area(4, 59);
    host_forced_cpu_id = (int)TRANSIT_CPUS; /* no record: the fault decodes under the lock */
    step_arm(&at_decompress, 1, vfree_only);
    uint8_t got = 0;
    int refused = touch(locked_victim, &got);
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    host_console_clear();
    int problems = pmm_check() + vmm_check() + heap_check() + vmalloc_check() + zswap_check();
    zstore_stats_t z;
    zstore_get_stats(&z);
    uint32_t e = pte_at(locked_victim);
    if (!refused || problems || z.corrupt || (e & PAGE_PRESENT) || vmalloc_frames())
        fail_msg("the fault on the area freed by its decoder was %s; the freed span's entry "
                 "0x%08x, %u vmalloc frames, %u copies counted corrupt, %d problems: %s",
                 refused ? "refused" : "let through (read the old bytes)", (unsigned)e,
                 (unsigned)vmalloc_frames(), (unsigned)z.corrupt, problems, host_console_text());
    check_all();
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_entry_names_another_areas_page),
        cmocka_unit_test(test_one_flipped_bit_names_the_neighbour),
        cmocka_unit_test(test_window_vfreed_while_encoding),
        cmocka_unit_test(test_codec_swap_drops_every_kept_copy),
        cmocka_unit_test(test_vfree_from_a_codec_under_the_lock),
        cmocka_unit_test(test_vfree_from_a_decoder_under_the_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_attack_zstore_findings.c - the findings of the hostile review of the
 * compressed page store (mm/zstore.c): each test failed before its mend.
 * (The attacks that found nothing: test_attack_zstore.c.  The review's sixth
 * finding, PMM_NODE_ANY after a reclaim hook shrank the topology, is
 * test_attack_pmmlock_findings' test_any_node_gone_during_reclaim.)
 *
 *  1. A stale handle becomes valid again: an entry's generation has 13 bits
 *     and wraps from 8191 to 1 (zstore_free), so after 8191 frees of one
 *     entry the handle of its first page names the page stored there now,
 *     and zstore_get returns another page's bytes, zstore_free frees it.
 *     zstore.h promises "a stale one ... is refused: never another page's
 *     bytes".  The FIFO only delays it: with the other entries in use, 8191
 *     put/free pairs suffice.  Mended: an entry freed at generation 8191 is
 *     retired (entries_retired), and the next put takes another entry.
 *  2. An unaligned page: zstore_put(page + 1) reads the page as uint32_t
 *     words (same_filled, and zs_sum in the debug build), zstore_get(h,
 *     page + 1) writes a same-filled page as words: undefined behaviour, which
 *     the host builds' UBSan stops (the process dies).  Neither says anything
 *     about alignment; a bad page pointer must get a line and a safe return,
 *     or be handled (memcpy-safe access).
 *  3. Debug build only: the checksum is taken from the caller's page after
 *     the compressor read it (put_locked: zs_sum(page) last), not from what
 *     was stored.  A second CPU writing the page during the put (simulated
 *     here by a codec that changes one byte after compressing) leaves a copy
 *     of the old bytes with the sum of the new ones: every get then fails as
 *     "checksum mismatch" and zeroes the page - the copy the store holds is
 *     good, yet the page is lost.  The release build returns the old bytes.
 *     The sum should describe the stored copy (the bytes the compressor saw),
 *     e.g. summed before compressing from a snapshot, or the copy decoded once.
 *  4. A get into the store's own copy: zstore_get(h, zstore_peek(h)) of a
 *     compressed page decodes 4096 bytes into the copy's own 36-byte kmalloc
 *     block (reading it while it is overwritten), the decode fails, and
 *     corrupt() zeroes 4096 bytes there: the heap around the block is
 *     smashed (heap_check finds 3 problems).  The store has the copy's block
 *     in hand and could refuse a page overlapping it in one line.  (A put
 *     of the copy's block reads 4096 bytes from a 36-byte block: an over-read
 *     of the heap the store cannot see; it stores the neighbours' bytes.)
 *  5. The codec swapped from inside a put: a codec whose compress calls
 *     zstore_set_codec (the lock nests on this CPU) is let through - the check
 *     counts the pages stored, and the put under way is not one yet - so the
 *     page is stored in the old codec's format and every get decodes it with
 *     the new one: "does not decode", the page lost.  zstore_set_codec should
 *     refuse while a put is under way (zs.busy), as a nested put is refused.
 */
#include <sys/wait.h>

#include "attack.h"
#include "harness.h"
#include "lz4.h"
#include "zstore.h"

#define PAGE                    4096u
/* an entry's generations run 1..8191: handed out 8191 times, then retired */
#define ZSTORE_GEN_MAX_FOR_TEST ((1u << ZSTORE_GEN_BITS) - 1u)
/* pages the store reads and writes as words: aligned (finding 2 of the failing file) */
#define ALIGNED                 __attribute__((aligned(16)))

static unsigned char page_a[PAGE] ALIGNED, page_b[PAGE] ALIGNED;

static int fresh_store(void **state)
{
    (void)state;
    zstore_reset();
    fresh_every_layer(32u << 20);
    zstore_set_limit(0xFFFFFFFFu);
    assert_int_equal(zstore_set_codec(NULL), 0);
    for (size_t i = 0; i < PAGE; i++) {
        page_a[i] = (unsigned char)(i * 7 + (i >> 5));
        page_b[i] = (unsigned char)(i * 13 + 1 + (i >> 4));
    }
    return 0;
}

/* 1. After 8191 frees of one entry its first handle is live again. */
static void finding_generation_wraps(void **state)
{
    (void)state;
    static uint32_t hold[ZSTORE_CHUNK_ENTRIES];
    static unsigned char same[PAGE] ALIGNED;
    /* the first chunk: entries 1..255; hold all but one, so one entry is reused */
    size_t held = 0;
    for (; held < ZSTORE_CHUNK_ENTRIES - 2; held++) {
        memset(same, (int)held, PAGE);
        hold[held] = zstore_put(same);
        assert_true(hold[held] != 0);
    }
    uint32_t stale = zstore_put(page_a);
    assert_true(stale != 0);
    assert_int_equal(zstore_free(stale), 0);
    uint32_t revived = 0, moved = 0;
    unsigned rounds;
    for (rounds = 1; rounds <= 8192 && !revived; rounds++) {
        uint32_t h = zstore_put(page_b);
        assert_true(h != 0);
        if (h == stale) {
            revived = h;
        } else if ((h & (ZSTORE_MAX_ENTRIES - 1)) != (stale & (ZSTORE_MAX_ENTRIES - 1))) {
            moved = h; /* the entry retired: another one serves */
            break;
        } else {
            assert_int_equal(zstore_free(h), 0);
        }
    }
    zstore_stats_t st;
    zstore_get_stats(&st);
    static unsigned char back[PAGE] ALIGNED;
    memset(back, 0, PAGE);
    int r = zstore_get(stale, back);
    if (revived)
        zstore_free(revived);
    if (moved)
        assert_int_equal(zstore_free(moved), 0);
    for (size_t i = 0; i < held; i++)
        assert_int_equal(zstore_free(hold[i]), 0);
    assert_int_equal(zstore_check(), 0);
    if (revived)
        fail_msg("stale handle 0x%08x (freed) is live again after %u reuses of its entry: "
                 "zstore_get %s",
                 stale, rounds - 1,
                 r == 0 && memcmp(back, page_b, PAGE) == 0 ? "returned another page's bytes"
                                                           : "succeeded");
    /* the entry's last generation was handed out once, then the entry retired */
    assert_int_equal(rounds, ZSTORE_GEN_MAX_FOR_TEST);
    assert_int_equal(st.entries_retired, 1);
    assert_int_equal(r, -1);
    assert_true(host_console_has("stale handle"));
}

/* 2. An unaligned page, in a child process (UBSan ends the process it runs in). */
static void finding_unaligned_page(void **state)
{
    (void)state;
    static unsigned char buf[PAGE + 8] ALIGNED;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char *p = buf + 1;
        memset(p, 0x42, PAGE); /* same-filled */
        uint32_t h = zstore_put(p);
        if (h) {
            memset(p, 0, PAGE);
            int r = zstore_get(h, p); /* writes the page as words */
            _exit(r == 0 && p[0] == 0x42 && p[PAGE - 1] == 0x42 ? 0 : 3);
        }
        /* refused: it must have said why */
        _exit(host_console_has("zstore_put") ? 0 : 4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("zstore_put/get of a page at an odd address: the process %s %d (UBSan: "
                 "misaligned uint32_t access in same_filled / zstore_get)",
                 WIFEXITED(status) ? "exited with" : "died of signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* 3. A page written during its put: the get must return one of the two versions. */
static int racing_compress(const void *src, size_t n, void *dst, size_t cap, void *work)
{
    int r = lz4_compress(src, n, dst, cap, work);
    ((unsigned char *)src)[100] ^= 0xFF; /* the other CPU's store, after the compressor read it */
    return r;
}
static const mm_codec_t racing = {"racing", LZ4_WORK_SIZE, racing_compress, lz4_decompress, NULL};

static void finding_debug_sum_of_a_changed_page(void **state)
{
    (void)state;
    static unsigned char old[PAGE] ALIGNED, back[PAGE] ALIGNED;
    memcpy(old, page_a, PAGE);
    assert_int_equal(zstore_set_codec(&racing), 0);
    uint32_t h = zstore_put(page_a);
    assert_true(h != 0);
    assert_int_equal(zstore_set_codec(NULL), -1); /* h is stored compressed */
    memset(back, 0x5A, PAGE);
    int r = zstore_get(h, back);
    int is_old = memcmp(back, old, PAGE) == 0, is_new = memcmp(back, page_a, PAGE) == 0;
    assert_int_equal(zstore_free(h), 0);
    assert_int_equal(zstore_set_codec(NULL), 0);
    if (r != 0 || !(is_old || is_new))
        fail_msg("a page written during its put: zstore_get %d (%s); the copy held the bytes the "
                 "compressor read",
                 r,
                 is_old   ? "old bytes"
                 : is_new ? "new bytes"
                          : "neither version");
}

/* 4. zstore_get into the stored copy's own block (run in a child: the heap is smashed). */
static void finding_get_into_own_copy(void **state)
{
    (void)state;
    static unsigned char text[PAGE] ALIGNED;
    for (size_t i = 0; i < PAGE; i++)
        text[i] = (unsigned char)(i % 11);
    uint32_t h = zstore_put(text);
    assert_true(h != 0);
    uint32_t len = 0;
    void *own = zstore_peek(h, &len);
    assert_non_null(own);
    assert_true(len < PAGE);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int r = zstore_get(h, own);
        int heap = heap_check();
        _exit(heap == 0 ? 0 : 10 + (r == 0));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(zstore_free(h), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("zstore_get(h, the copy's own %u-byte block): %s", len,
                 WIFEXITED(status) && WEXITSTATUS(status) >= 10
                     ? "the heap around it was smashed (heap_check found problems)"
                     : "the process died");
}

/* 5. A codec that swaps the codec from inside its own compress. */
static int swap_once;
static int xor_compress(const void *src, size_t n, void *dst, size_t cap, void *work)
{
    if (swap_once) {
        swap_once = 0;
        zstore_set_codec(NULL); /* from inside the put */
    }
    int r = lz4_compress(src, n, dst, cap, work);
    for (int i = 0; i < r; i++)
        ((unsigned char *)dst)[i] ^= 0x5A; /* not LZ4's format */
    return r;
}
static int xor_decompress(const void *src, size_t n, void *dst, size_t cap)
{
    static unsigned char plain[PAGE];
    if (n > PAGE)
        return LZ4_E_ARG;
    for (size_t i = 0; i < n; i++)
        plain[i] = ((const unsigned char *)src)[i] ^ 0x5A;
    return lz4_decompress(plain, n, dst, cap);
}
static const mm_codec_t xor_lz4 = {"xor-lz4", LZ4_WORK_SIZE, xor_compress, xor_decompress, NULL};

static void finding_codec_swapped_inside_put(void **state)
{
    (void)state;
    static unsigned char back[PAGE] ALIGNED;
    assert_int_equal(zstore_set_codec(&xor_lz4), 0);
    swap_once = 1;
    uint32_t h = zstore_put(page_a);
    assert_true(h != 0);
    memset(back, 0x5A, PAGE);
    int r = zstore_get(h, back);
    int same = memcmp(back, page_a, PAGE) == 0;
    assert_int_equal(zstore_free(h), 0);
    zstore_set_codec(NULL);
    if (r != 0 || !same)
        fail_msg("zstore_set_codec called from inside a put's compress was accepted: the page "
                 "stored by the old codec, decoded by the new one: zstore_get %d%s",
                 r, same ? "" : ", page lost");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(finding_generation_wraps, fresh_store),
        cmocka_unit_test_setup(finding_unaligned_page, fresh_store),
        cmocka_unit_test_setup(finding_debug_sum_of_a_changed_page, fresh_store),
        cmocka_unit_test_setup(finding_get_into_own_copy, fresh_store),
        cmocka_unit_test_setup(finding_codec_swapped_inside_put, fresh_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

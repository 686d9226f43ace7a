/*
 * test_zstore.c - the compressed page store (mm/zstore.c, issue 14 items 2 and 5).
 *
 * Over a corpus of realistic pages (tests/host/lz4_corpus.h: text, ELF
 * binaries, the kernel image, zeroed, random and mixed pages, plus pages of
 * one repeated word and pages of structures built here):
 *   - random runs of put/get/free, each followed by zstore_check() and the
 *     statistics compared with the test's own shadow (which page each handle
 *     holds, its kind and compressed size computed here with lz4_compress),
 *     every get compared byte for byte;
 *   - the limit: puts over it refused and counted, nothing lost, room again
 *     after frees;
 *   - bad handles (0, wild, out of the table, stale, double free): one line,
 *     -1, never another page's bytes;
 *   - a stored copy damaged: the get fails (a copy that does not decode, in
 *     every build; a copy that decodes to other bytes, by the checksum in the
 *     debug build), the page zeroed;
 *   - the PMM run dry: puts fail cleanly, every stored page still comes back;
 *   - four threads (four CPU ids) putting, getting and freeing at once;
 *   - the store called from a PMM reclaim hook (the PMM dry, mm_lock held): a put
 *     and a free work there; the store's own puts never run the hooks;
 *   - the two steps (the codec without mm_lock): every corpus page encoded,
 *     stored, fetched and decoded gives what zstore_put and zstore_get give,
 *     with the same counters; a fetched copy outlives its handle's free; an
 *     encoding of another codec than the one in force is refused; a fetched
 *     copy damaged fails its decode, the page zeroed, one line; bad input.
 */
#include "harness.h"
#include "lz4.h"
#include "lz4_corpus.h"
#include "zstore.h"

#include <pthread.h>

#define PAGE       CORPUS_PAGE
#define EXTRA_SAME 24 /* pages of one repeated non-zero word */
#define EXTRA_STRU 24 /* pages of C structures */

static struct corpus corpus;
static unsigned char *pages; /* corpus pages, then EXTRA_SAME, then EXTRA_STRU */
static size_t npages;
static uint16_t *expect_len; /* per page: 0 same-filled, 4096 whole, else compressed size */
static uint32_t work[LZ4_WORK_SIZE / 4];

static unsigned char *page_at(size_t i)
{
    return pages + i * PAGE;
}

/* What the store should make of page p: its stored length (0: same-filled). */
static uint16_t expected_len(const unsigned char *p)
{
    uint32_t w0;
    memcpy(&w0, p, 4);
    size_t i;
    for (i = 4; i < PAGE; i += 4) {
        uint32_t w;
        memcpy(&w, p + i, 4);
        if (w != w0)
            break;
    }
    if (i == PAGE)
        return 0;
    static unsigned char out[PAGE];
    int n = lz4_compress(p, PAGE, out, ZSTORE_HUGE_BYTES, work);
    return n > 0 && (uint32_t)n <= ZSTORE_HUGE_BYTES ? (uint16_t)n : PAGE;
}

static int setup(void **state)
{
    (void)state;
    corpus_build(&corpus, "build/kernel.elf");
    npages = corpus.pages + EXTRA_SAME + EXTRA_STRU;
    pages = malloc(npages * PAGE);
    expect_len = malloc(npages * sizeof(*expect_len));
    if (!pages || !expect_len)
        return -1;
    memcpy(pages, corpus.data, corpus.pages * PAGE);
    uint32_t seed = 0xC0FFEEu;
    for (size_t i = 0; i < EXTRA_SAME; i++) {
        uint32_t w = i == 0 ? 0xFFFFFFFFu : rng_next(&seed);
        for (size_t k = 0; k < PAGE; k += 4)
            memcpy(page_at(corpus.pages + i) + k, &w, 4);
    }
    /* structures: records of a pointer, a counter, flags, a short name, padding */
    for (size_t i = 0; i < EXTRA_STRU; i++) {
        unsigned char *p = page_at(corpus.pages + EXTRA_SAME + i);
        memset(p, 0, PAGE);
        for (size_t r = 0; r + 32 <= PAGE; r += 32) {
            uint32_t rec[8] = {0xD0000000u + (uint32_t)(i * 4096 + r),
                               (uint32_t)(r / 32),
                               rng_below(&seed, 4) ? 0x3u : 0x80000001u,
                               0x6b736174u,
                               (uint32_t)('0' + r % 10),
                               0,
                               rng_below(&seed, 16) ? 0 : rng_next(&seed),
                               0xFEEDFACEu};
            memcpy(p + r, rec, sizeof(rec));
        }
    }
    size_t kinds[3] = {0};
    for (size_t i = 0; i < npages; i++) {
        expect_len[i] = expected_len(page_at(i));
        kinds[expect_len[i] == 0 ? 0 : expect_len[i] == PAGE ? 2 : 1]++;
    }
    printf("zstore corpus: %zu pages: %zu same-filled, %zu compressible, %zu incompressible\n",
           npages, kinds[0], kinds[1], kinds[2]);
    return corpus.count[K_TEXT] && kinds[0] && kinds[1] && kinds[2] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(corpus.data);
    free(pages);
    free(expect_len);
    return 0;
}

/* Every layer fresh over ram bytes, an empty store, no limit. */
static void fresh_store(uint32_t ram)
{
    zstore_reset();
    fresh_every_layer(ram);
    zstore_set_limit(0xFFFFFFFFu);
    zstore_set_codec(NULL);
    assert_int_equal(zstore_check(), 0);
}

static int fresh64(void **state)
{
    (void)state;
    fresh_store(64u << 20);
    return 0;
}

static zstore_stats_t zs_now(void)
{
    zstore_stats_t s;
    zstore_get_stats(&s);
    return s;
}

/* The test's shadow: which corpus page each live handle holds. */
struct live {
    uint32_t h;
    size_t page;
};

/* The statistics as the shadow says they must be. */
static void assert_accounting(const struct live *l, size_t n)
{
    uint32_t same = 0, huge = 0, compr = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t len = expect_len[l[i].page];
        same += len == 0;
        huge += len == PAGE;
        compr += len;
    }
    zstore_stats_t s = zs_now();
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(s.pages_stored, n);
    assert_int_equal(s.orig_bytes, n * PAGE);
    assert_int_equal(s.same_pages, same);
    assert_int_equal(s.huge_pages, huge);
    assert_int_equal(s.compr_bytes, compr);
    assert_int_equal(s.puts - s.frees, n);
    /*
     * The pool holds at least the copies and the entries, and not wildly more:
     * per copy at most what the heap can add to a block of its length, its
     * header (counted above the slab classes) plus a tail too small to split
     * off (under a header and a minimum payload, 16 bytes at most) plus the
     * rounding to the heap's alignment (under 16); a slab class's step is
     * under 64.  (A bound of one header + 64 failed on a corpus whose 2940-byte
     * copy got a 3008-byte block: 4 of rounding, a 64-byte tail.)
     */
    assert_true(s.mem_used >= compr + s.mem_entries);
    assert_true(s.mem_used <= compr + s.mem_entries + (n - same) * (2 * HEAP_HEADER_SIZE + 32));
}

static void assert_get_equal(uint32_t h, size_t page)
{
    static unsigned char back[PAGE];
    memset(back, 0x5A, PAGE);
    assert_int_equal(zstore_get(h, back), 0);
    assert_memory_equal(back, page_at(page), PAGE);
}

static void assert_handle_shape(uint32_t h)
{
    assert_true(h != 0);
    assert_true(h >> ZSTORE_HANDLE_BITS == 0); /* 31 bits: shifted left once it fits a PTE */
    assert_true((h & (ZSTORE_MAX_ENTRIES - 1)) != 0);
}

/* Random put/get/free over the corpus, the accounting and the bytes after every operation. */
static void zstore_random_runs(void **state)
{
    (void)state;
    enum { MAXLIVE = 600, OPS = 6000 };
    static struct live l[MAXLIVE];
    size_t n = 0;
    uint32_t seed = 0x5EED0001u, gets = 0, puts = 0, frees = 0;
    for (int op = 0; op < OPS; op++) {
        uint32_t r = rng_below(&seed, 10);
        if ((r < 5 || n == 0) && n < MAXLIVE) {
            size_t page = rng_below(&seed, (uint32_t)npages);
            uint32_t h = zstore_put(page_at(page));
            assert_handle_shape(h);
            for (size_t i = 0; i < n; i++)
                assert_true(l[i].h != h);
            l[n++] = (struct live){h, page};
            puts++;
        } else if (r < 8) {
            size_t i = rng_below(&seed, (uint32_t)n);
            assert_get_equal(l[i].h, l[i].page);
            gets++;
        } else {
            size_t i = rng_below(&seed, (uint32_t)n);
            assert_int_equal(zstore_free(l[i].h), 0);
            l[i] = l[--n];
            frees++;
        }
        assert_accounting(l, n);
        assert_int_equal(zs_now().gets, gets);
    }
    /* every live page back, then every one freed */
    for (size_t i = 0; i < n; i++)
        assert_get_equal(l[i].h, l[i].page);
    while (n) {
        assert_int_equal(zstore_free(l[n - 1].h), 0);
        n--;
        assert_accounting(l, n);
    }
    zstore_stats_t s = zs_now();
    assert_int_equal(s.mem_used, s.mem_entries);
    assert_int_equal(s.bad_handles, 0);
    assert_int_equal(s.corrupt, 0);
    assert_int_equal(errors_now(), 0);
    check_every_layer();
    printf("zstore random run: %u puts, %u gets, %u frees, peak pool %u KB, entries %u\n", puts,
           gets, frees, s.mem_used_max >> 10, s.entries);
}

/* Every corpus page stored at once and back; the store's overhead on it. */
static void zstore_whole_corpus(void **state)
{
    (void)state;
    uint32_t *h = malloc(npages * sizeof(*h));
    assert_non_null(h);
    for (size_t i = 0; i < npages; i++) {
        h[i] = zstore_put(page_at(i));
        assert_handle_shape(h[i]);
    }
    assert_int_equal(zstore_check(), 0);
    for (size_t i = 0; i < npages; i++)
        assert_get_equal(h[i], i);
    zstore_stats_t s = zs_now();
    assert_int_equal(s.pages_stored, npages);
    uint32_t data = s.mem_used - s.mem_entries;
    printf("zstore whole corpus: orig %u KB, compressed %u B, pool %u B (copies %u, entries %u): "
           "overhead %.2f%%\n",
           s.orig_bytes >> 10, s.compr_bytes, s.mem_used, data, s.mem_entries,
           100.0 * (s.mem_used - s.compr_bytes) / s.compr_bytes);
    assert_true(s.mem_used < s.compr_bytes + s.compr_bytes / 10); /* the target */
    for (size_t i = 0; i < npages; i++)
        assert_int_equal(zstore_free(h[i]), 0);
    assert_int_equal(zstore_check(), 0);
    free(h);
    zstore_dump();
    assert_non_null(strstr(host_console_text(), "zstore: 0 pages stored"));
}

/* Bad handles: one line each, -1, the caller's page untouched, the store intact. */
static void zstore_bad_handles(void **state)
{
    (void)state;
    static unsigned char back[PAGE];
    size_t text = corpus.first[K_TEXT];
    uint32_t h = zstore_put(page_at(text));
    assert_handle_shape(h);
    uint32_t bad[] = {0,
                      0xFFFFFFFFu,
                      0x80000000u | h,
                      h & ~(ZSTORE_MAX_ENTRIES - 1),
                      h + 1,
                      (h & (ZSTORE_MAX_ENTRIES - 1)) | (2u << ZSTORE_INDEX_BITS),
                      (ZSTORE_MAX_ENTRIES - 1) | (1u << ZSTORE_INDEX_BITS)};
    uint32_t errs = errors_now();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[64];
        memset(back, 0x77, PAGE);
        assert_int_equal(zstore_get(bad[i], back), -1);
        snprintf(want, sizeof(want), "zstore_get: handle 0x%08x: ", bad[i]);
        assert_non_null(strstr(mm_last_error(), want));
        for (size_t k = 0; k < PAGE; k++)
            assert_int_equal(back[k], 0x77);
        assert_int_equal(zstore_free(bad[i]), -1);
        snprintf(want, sizeof(want), "zstore_free: handle 0x%08x: ", bad[i]);
        assert_non_null(strstr(mm_last_error(), want));
        assert_int_equal(zstore_check(), 0);
    }
    assert_int_equal(errors_now(), errs + 2 * sizeof(bad) / sizeof(bad[0]));
    assert_int_equal(zs_now().bad_handles, 2 * sizeof(bad) / sizeof(bad[0]));
    assert_get_equal(h, text);

    /* freed: get and free again refused as freed */
    assert_int_equal(zstore_free(h), 0);
    assert_int_equal(zstore_get(h, back), -1);
    assert_non_null(strstr(mm_last_error(), "stale"));
    assert_int_equal(zstore_free(h), -1);
    assert_non_null(strstr(mm_last_error(), "stale"));

    /* the entry used again: the old handle still refused, the new one right */
    uint32_t h2 = 0;
    size_t other = corpus.first[K_ELF];
    uint32_t *mine = malloc(ZSTORE_CHUNK_ENTRIES * sizeof(*mine));
    size_t k = 0;
    while (k < ZSTORE_CHUNK_ENTRIES) {
        mine[k] = zstore_put(page_at(other));
        assert_handle_shape(mine[k]);
        if ((mine[k] & (ZSTORE_MAX_ENTRIES - 1)) == (h & (ZSTORE_MAX_ENTRIES - 1))) {
            h2 = mine[k++];
            break;
        }
        k++;
    }
    assert_true(h2 != 0 && h2 != h);
    memset(back, 0x77, PAGE);
    assert_int_equal(zstore_get(h, back), -1);
    assert_non_null(strstr(mm_last_error(), "stale"));
    assert_int_equal(back[0], 0x77);
    assert_int_equal(zstore_free(h), -1);
    assert_get_equal(h2, other);
    for (size_t i = 0; i < k; i++)
        assert_int_equal(zstore_free(mine[i]), 0);
    free(mine);
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(zs_now().pages_stored, 0);

    /* NULL pages */
    assert_int_equal(zstore_put(NULL), 0);
    assert_non_null(strstr(mm_last_error(), "zstore_put"));
    h = zstore_put(page_at(text));
    assert_int_equal(zstore_get(h, NULL), -1);
    assert_non_null(strstr(mm_last_error(), "zstore_get"));
    assert_get_equal(h, text);
    assert_int_equal(zstore_free(h), 0);
    assert_int_equal(zstore_check(), 0);
}

/* Same-filled pages take an entry and nothing else. */
static void zstore_same_filled(void **state)
{
    (void)state;
    uint32_t h0 = zstore_put(page_at(corpus.first[K_ZERO])); /* makes the first chunk */
    zstore_stats_t before = zs_now();
    uint32_t h[EXTRA_SAME];
    for (size_t i = 0; i < EXTRA_SAME; i++)
        h[i] = zstore_put(page_at(corpus.pages + i));
    zstore_stats_t s = zs_now();
    assert_int_equal(s.mem_used, before.mem_used);
    assert_int_equal(s.same_pages, EXTRA_SAME + 1);
    assert_int_equal(s.compr_bytes, 0);
    for (size_t i = 0; i < EXTRA_SAME; i++) {
        assert_null(zstore_peek(h[i], NULL));
        assert_get_equal(h[i], corpus.pages + i);
    }
    assert_get_equal(h0, corpus.first[K_ZERO]);
    assert_int_equal(zstore_check(), 0);
}

/* The limit: refused and counted over it, nothing lost, room again after frees. */
static void zstore_limit(void **state)
{
    (void)state;
    size_t rnd = corpus.first[K_RANDOM], text = corpus.first[K_TEXT];
    const uint32_t limit = 64u << 10;
    zstore_set_limit(limit);
    assert_int_equal(zs_now().limit_bytes, limit);
    enum { MAX = 64 };
    uint32_t h[MAX];
    size_t n = 0;
    for (; n < MAX; n++) {
        h[n] = zstore_put(page_at(rnd + n % corpus.count[K_RANDOM]));
        if (!h[n])
            break;
        assert_true(zs_now().mem_used <= limit);
    }
    assert_true(n > 8 && n < MAX);
    zstore_stats_t s = zs_now();
    assert_int_equal(s.refused_limit, 1);
    assert_true(s.mem_used <= limit);
    assert_true(s.mem_used + PAGE + HEAP_HEADER_SIZE > limit);
    assert_int_equal(zstore_check(), 0);
    /* same-filled pages need no memory: still stored */
    uint32_t z = zstore_put(page_at(corpus.first[K_ZERO]));
    assert_handle_shape(z);
    assert_int_equal(zstore_put(page_at(rnd)), 0);
    assert_int_equal(zs_now().refused_limit, 2);
    for (size_t i = 0; i < n; i++)
        assert_get_equal(h[i], rnd + i % corpus.count[K_RANDOM]);
    /* two freed: a compressible page fits again */
    assert_int_equal(zstore_free(h[0]), 0);
    assert_int_equal(zstore_free(h[1]), 0);
    uint32_t t = zstore_put(page_at(text));
    assert_handle_shape(t);
    assert_get_equal(t, text);
    /* the default: half the PMM's RAM */
    zstore_set_limit(0);
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    assert_int_equal(zs_now().limit_bytes, ps.total_pages / 2 * PAGE);
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(errors_now(), 0);
}

/* The first text page that compresses. */
static size_t compressible_page(void)
{
    for (size_t i = corpus.first[K_TEXT]; i < corpus.first[K_TEXT] + corpus.count[K_TEXT]; i++)
        if (expect_len[i] > 0 && expect_len[i] < PAGE)
            return i;
    fail_msg("no compressible text page");
    return 0;
}

/* A damaged copy: the get fails in one line naming the handle, the page zeroed. */
static void zstore_corruption(void **state)
{
    (void)state;
    static unsigned char back[PAGE];
    size_t text = compressible_page(), rnd = corpus.first[K_RANDOM];
    uint32_t h = zstore_put(page_at(text)), w = zstore_put(page_at(rnd));
    uint32_t len = 0;
    unsigned char *copy = zstore_peek(h, &len);
    assert_non_null(copy);
    assert_int_equal(len, expect_len[text]);
    assert_true(len < PAGE);
    assert_non_null(zstore_peek(w, &len));
    assert_int_equal(len, PAGE);

    /* a copy that does not decode (every build): all 0xFF is one endless literal length */
    static unsigned char saved[PAGE];
    memcpy(saved, copy, len = expect_len[text]);
    memset(copy, 0xFF, len);
    memset(back, 0x77, PAGE);
    assert_int_equal(zstore_get(h, back), -1);
    char want[80];
    snprintf(want, sizeof(want), "zstore_get: handle 0x%08x: stored copy corrupt", h);
    assert_non_null(strstr(mm_last_error(), want));
    for (size_t k = 0; k < PAGE; k++)
        assert_int_equal(back[k], 0);
    memcpy(copy, saved, len);
    assert_get_equal(h, text);

#ifdef MM_DEBUG
    /* a copy that decodes to other bytes: the last byte is a literal */
    copy[len - 1] ^= 0x20;
    memset(back, 0x77, PAGE);
    assert_int_equal(zstore_get(h, back), -1);
    assert_non_null(strstr(mm_last_error(), want));
    assert_non_null(strstr(mm_last_error(), "checksum mismatch"));
    for (size_t k = 0; k < PAGE; k++)
        assert_int_equal(back[k], 0);
    /* a page kept whole, one byte flipped */
    unsigned char *whole = zstore_peek(w, NULL);
    whole[100] ^= 1;
    assert_int_equal(zstore_get(w, back), -1);
    snprintf(want, sizeof(want), "zstore_get: handle 0x%08x: stored copy corrupt", w);
    assert_non_null(strstr(mm_last_error(), want));
    assert_non_null(strstr(mm_last_error(), "checksum mismatch"));
    assert_int_equal(zs_now().corrupt, 3);
    whole[100] ^= 1;
    copy[len - 1] ^= 0x20;
    assert_get_equal(w, rnd);
#else
    assert_int_equal(zs_now().corrupt, 1);
#endif
    assert_get_equal(h, text);
    assert_int_equal(zstore_check(), 0);
}

/* The PMM run dry: puts fail cleanly (counted), every stored page still comes back. */
static void zstore_out_of_memory(void **state)
{
    (void)state;
    fresh_store(8u << 20);
    mm_set_oom_reports(0);
    enum { MAX = 2048 };
    static uint32_t h[MAX];
    size_t n = 0, rnd = corpus.first[K_RANDOM];
    for (; n < MAX; n++) {
        h[n] = zstore_put(page_at(rnd + n % corpus.count[K_RANDOM]));
        if (!h[n])
            break;
    }
    mm_set_oom_reports(1);
    assert_true(n > 100 && n < MAX);
    zstore_stats_t s = zs_now();
    assert_int_equal(s.refused_nomem, 1);
    assert_int_equal(s.refused_limit, 0);
    assert_int_equal(zstore_check(), 0);
    check_every_layer();
    /* a same-filled page needs only its entry: stored if one is free */
    uint32_t z = zstore_put(page_at(corpus.first[K_ZERO]));
    if (z)
        assert_get_equal(z, corpus.first[K_ZERO]);
    for (size_t i = 0; i < n; i++)
        assert_get_equal(h[i], rnd + i % corpus.count[K_RANDOM]);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zstore_free(h[i]), 0);
    /* memory back: a compressible page is stored again */
    uint32_t t = zstore_put(page_at(corpus.first[K_TEXT]));
    assert_handle_shape(t);
    assert_get_equal(t, corpus.first[K_TEXT]);
    assert_int_equal(zstore_check(), 0);
    check_every_layer();
    printf("zstore out of memory at 8 MB: %zu incompressible pages stored before the refusal\n", n);
}

/*
 * The store called from a PMM reclaim hook (as the lead's reclaim will be),
 * with mm_lock held by the PMM: a put and a free work there (no deadlock, the
 * lock nests), and the store's own allocations never run the hooks (the heap
 * grows with PMM_NO_RECLAIM), so a put is never entered from inside a put.
 */
static uint32_t hook_victim, hook_put_result;
static int hook_calls;
static size_t hook_page;
static size_t reclaim_into_store(void)
{
    hook_calls++;
    hook_put_result = zstore_put(page_at(hook_page));
    if (hook_victim) {
        assert_int_equal(zstore_free(hook_victim), 0);
        hook_victim = 0;
    }
    return 0;
}

static void zstore_called_from_reclaim(void **state)
{
    (void)state;
    fresh_store(8u << 20);
    mm_set_oom_reports(0);
    size_t rnd = corpus.first[K_RANDOM];
    static uint32_t h[2048];
    size_t n = 0;
    hook_calls = 0;
    hook_victim = 0;
    assert_int_equal(pmm_register_reclaim(reclaim_into_store), 0);
    for (; n < 2048; n++) {
        h[n] = zstore_put(page_at(rnd + n % corpus.count[K_RANDOM]));
        if (!h[n])
            break;
    }
    assert_true(n > 100 && n < 2048);
    assert_int_equal(hook_calls, 0); /* the store's puts never ran the hooks */
    assert_int_equal(zs_now().refused_busy, 0);
    /*
     * The pages the heap's last growth could not use (it needs its block
     * map's and marks' pages with the heap's: a put can fail with a page or
     * two free) held, so the PMM is dry.
     */
    static paddr_t spare[64];
    unsigned nspare = 0;
    paddr_t sp;
    while (nspare < 64 &&
           (sp = pmm_alloc_pages_owner(1, 0, PMM_OWNER_CALLER | PMM_NO_RECLAIM)) != 0)
        spare[nspare++] = sp;
    assert_true(nspare < 64);
    /* the PMM dry: its hook runs, stores a same-filled page and frees h[0] */
    hook_page = corpus.first[K_ZERO];
    hook_victim = h[0];
    paddr_t pg = pmm_alloc_page();
    mm_set_oom_reports(1);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(hook_victim, 0);
    h[0] = 0;
    if (pg)
        pmm_free_page(pg);
    while (nspare)
        pmm_free_page(spare[--nspare]);
    assert_int_equal(zstore_check(), 0);
    if (hook_put_result)
        assert_get_equal(hook_put_result, corpus.first[K_ZERO]);
    pmm_unregister_reclaim(reclaim_into_store);
    for (size_t i = 1; i < n; i++) {
        assert_get_equal(h[i], rnd + i % corpus.count[K_RANDOM]);
        assert_int_equal(zstore_free(h[i]), 0);
    }
    if (hook_put_result)
        assert_int_equal(zstore_free(hook_put_result), 0);
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(zs_now().pages_stored, 0);
    check_every_layer();
}

/* Another codec plugged in: used for new pages; refused while pages are stored with the old. */
static int copy_compress(const void *src, size_t n, void *dst, size_t cap, void *w)
{
    (void)w;
    const unsigned char *s = src;
    size_t half = n / 2; /* "compresses" pages whose halves are equal */
    if (memcmp(s, s + half, half) || cap < half)
        return LZ4_E_NOSPACE;
    memcpy(dst, s, half);
    return (int)half;
}
static int copy_decompress(const void *src, size_t n, void *dst, size_t cap)
{
    if (cap < 2 * n)
        return LZ4_E_NOSPACE;
    memcpy(dst, src, n);
    memcpy((unsigned char *)dst + n, src, n);
    return (int)(2 * n);
}
static const mm_codec_t halves_codec = {"halves", 0, copy_compress, copy_decompress, NULL};
static const mm_codec_t greedy_codec = {"greedy", ZSTORE_WORK_MAX + 1, copy_compress,
                                        copy_decompress, NULL};

static void zstore_other_codec(void **state)
{
    (void)state;
    static unsigned char p[PAGE];
    for (size_t i = 0; i < PAGE; i++)
        p[i] = (unsigned char)(i % 2048 * 7 / 3);
    assert_int_equal(zstore_set_codec(&greedy_codec), -1);
    assert_non_null(strstr(mm_last_error(), "zstore_set_codec"));
    assert_int_equal(zstore_set_codec(&halves_codec), 0);
    uint32_t h = zstore_put(p);
    uint32_t len;
    assert_non_null(zstore_peek(h, &len));
    assert_int_equal(len, PAGE / 2);
    static unsigned char back[PAGE];
    assert_int_equal(zstore_get(h, back), 0);
    assert_memory_equal(back, p, PAGE);
    assert_int_equal(zstore_set_codec(NULL), -1); /* a page is stored with halves */
    assert_int_equal(zstore_free(h), 0);
    assert_int_equal(zstore_set_codec(NULL), 0);
    h = zstore_put(page_at(corpus.first[K_TEXT]));
    assert_get_equal(h, corpus.first[K_TEXT]);
    assert_int_equal(zstore_check(), 0);
}

/* Several CPUs at once (threads, each its own CPU id; mm_lock a real mutex on the host). */
enum { THREADS = 4, THREAD_OPS = 1500, THREAD_LIVE = 64 };
struct worker {
    uint32_t seed;
    int failures;
};

static void *store_worker(void *arg)
{
    struct worker *w = arg;
    struct live l[THREAD_LIVE];
    static __thread unsigned char back[PAGE];
    size_t n = 0;
    for (int op = 0; op < THREAD_OPS; op++) {
        uint32_t r = rng_below(&w->seed, 10);
        if ((r < 5 || n == 0) && n < THREAD_LIVE) {
            size_t page = rng_below(&w->seed, (uint32_t)npages);
            uint32_t h = zstore_put(page_at(page));
            if (!h)
                w->failures++;
            else
                l[n++] = (struct live){h, page};
        } else if (r < 8) {
            size_t i = rng_below(&w->seed, (uint32_t)n);
            if (zstore_get(l[i].h, back) || memcmp(back, page_at(l[i].page), PAGE))
                w->failures++;
        } else {
            size_t i = rng_below(&w->seed, (uint32_t)n);
            if (zstore_free(l[i].h))
                w->failures++;
            l[i] = l[--n];
        }
    }
    while (n)
        if (zstore_free(l[--n].h))
            w->failures++;
    return NULL;
}

static void zstore_several_cpus(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){0x1000u + (uint32_t)i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, store_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    zstore_stats_t s = zs_now();
    assert_int_equal(s.pages_stored, 0);
    assert_int_equal(s.puts, s.frees);
    assert_int_equal(s.mem_used, s.mem_entries);
    assert_int_equal(s.bad_handles + s.corrupt, 0);
    assert_int_equal(zstore_check(), 0);
    check_every_layer();
}

/* The two steps of zstore.h (encode / put_encoded, fetch / decode / decoded). */
static void zstore_two_steps(void **state)
{
    (void)state;
    static zstore_buf_t b;
    static unsigned char back[PAGE] __attribute__((aligned(16)));
    uint32_t *h = malloc(npages * sizeof(*h));
    assert_non_null(h);
    for (size_t i = 0; i < npages; i++) {
        assert_int_equal(zstore_encode(page_at(i), &b), 0);
        assert_int_equal(b.len, expect_len[i]); /* what zstore_put would store */
        h[i] = zstore_put_encoded(&b);
        assert_handle_shape(h[i]);
        uint32_t len = 0;
        zstore_peek(h[i], &len);
        assert_int_equal(len, expect_len[i]);
    }
    assert_int_equal(zstore_check(), 0);
    zstore_stats_t s = zs_now();
    assert_int_equal(s.puts, npages);
    assert_int_equal(s.pages_stored, npages);
    for (size_t i = 0; i < npages; i++) {
        assert_int_equal(zstore_fetch(h[i], &b), 0);
        if (i % 2) /* the copy is b's now: the handle may go before the decode */
            assert_int_equal(zstore_free(h[i]), 0);
        memset(back, 0x77, PAGE);
        assert_int_equal(zstore_decode(&b, back), 0);
        assert_int_equal(zstore_decoded(&b), 0);
        assert_memory_equal(back, page_at(i), PAGE);
        assert_get_equal(h[i - i % 2], i - i % 2); /* and zstore_get agrees */
    }
    s = zs_now();
    assert_int_equal(s.gets, npages + npages); /* every decode and every get counted */
    assert_int_equal(s.corrupt + s.bad_handles, 0);
    for (size_t i = 0; i < npages; i += 2)
        assert_int_equal(zstore_free(h[i]), 0);
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(zs_now().pages_stored, 0);
    free(h);
}

/* An encoding made before zstore_set_codec: refused, counted, nothing stored. */
static int plain_copy(const void *src, size_t n, void *dst, size_t cap, void *work)
{
    (void)work;
    if (n > cap)
        return LZ4_E_NOSPACE;
    memcpy(dst, src, n);
    return (int)n;
}
static int plain_back(const void *src, size_t n, void *dst, size_t cap)
{
    if (n > cap)
        return LZ4_E_NOSPACE;
    memcpy(dst, src, n);
    return (int)n;
}
static const mm_codec_t plain = {"plain", 0, plain_copy, plain_back, NULL};

static void zstore_two_steps_codec_changed(void **state)
{
    (void)state;
    static zstore_buf_t b;
    size_t text = compressible_page();
    assert_int_equal(zstore_encode(page_at(text), &b), 0); /* by lz4 */
    assert_int_equal(zstore_set_codec(&plain), 0);
    zstore_stats_t s0 = zs_now();
    assert_int_equal(zstore_put_encoded(&b), 0);
    zstore_stats_t s1 = zs_now();
    assert_int_equal(s1.refused_busy, s0.refused_busy + 1);
    assert_int_equal(s1.pages_stored, 0);
    assert_int_equal(zstore_set_codec(NULL), 0);
    uint32_t h = zstore_put_encoded(&b); /* lz4's again: taken */
    assert_handle_shape(h);
    assert_get_equal(h, text);
    assert_int_equal(zstore_free(h), 0);
    assert_int_equal(zstore_check(), 0);
}

/* A fetched copy damaged, a failed encode or fetch, NULL: one line each, nothing stored. */
static void zstore_two_steps_bad(void **state)
{
    (void)state;
    static zstore_buf_t b;
    static unsigned char back[PAGE + 4] __attribute__((aligned(16)));
    size_t text = compressible_page();
    uint32_t h = zstore_put(page_at(text));
    assert_handle_shape(h);
    assert_int_equal(zstore_fetch(h, &b), 0);
    memset(b.data, 0xFF, b.len); /* one endless literal length: does not decode */
    memset(back, 0x77, PAGE);
    assert_int_equal(zstore_decode(&b, back), -1);
    for (size_t k = 0; k < PAGE; k++)
        assert_int_equal(back[k], 0);
    zstore_stats_t s0 = zs_now();
    assert_int_equal(zstore_decoded(&b), -1);
    char want[96];
    snprintf(want, sizeof(want), "zstore_get: handle 0x%08x: stored copy corrupt (does not decode)",
             h);
    assert_non_null(strstr(mm_last_error(), want));
    assert_int_equal(zs_now().corrupt, s0.corrupt + 1);
    assert_int_equal(zs_now().gets, s0.gets);
    assert_get_equal(h, text); /* the stored copy itself is whole */

    /* a fetch of a freed handle: refused, and b holds no copy (its decode and put fail) */
    assert_int_equal(zstore_free(h), 0);
    assert_int_equal(zstore_fetch(h, &b), -1);
    assert_non_null(strstr(mm_last_error(), "zstore_fetch: handle"));
    assert_int_equal(zstore_decode(&b, back), -1);
    assert_int_equal(zstore_decoded(&b), -1);
    assert_non_null(strstr(mm_last_error(), "no copy fetched"));
    assert_int_equal(zstore_put_encoded(&b), 0);
    /* an unaligned page, NULL buffers */
    assert_int_equal(zstore_encode(back + 1, &b), -1);
    assert_non_null(strstr(mm_last_error(), "zstore_encode: page"));
    assert_int_equal(zstore_put_encoded(&b), 0); /* the failed encode left no encoding */
    assert_int_equal(zstore_encode(page_at(text), NULL), -1);
    assert_non_null(strstr(mm_last_error(), "zstore_encode"));
    assert_int_equal(zstore_put_encoded(NULL), 0);
    assert_int_equal(zstore_fetch(1, NULL), -1);
    assert_int_equal(zstore_decode(NULL, back), -1);
    assert_int_equal(zs_now().pages_stored, 0);
    assert_int_equal(zstore_check(), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh64)
    const struct CMUnitTest tests[] = {
        T(zstore_random_runs),   T(zstore_whole_corpus),
        T(zstore_bad_handles),   T(zstore_same_filled),
        T(zstore_limit),         T(zstore_corruption),
        T(zstore_out_of_memory), T(zstore_called_from_reclaim),
        T(zstore_other_codec),   T(zstore_several_cpus),
        T(zstore_two_steps),     T(zstore_two_steps_codec_changed),
        T(zstore_two_steps_bad),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

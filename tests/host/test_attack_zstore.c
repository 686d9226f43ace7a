/*
 * test_attack_zstore.c - the hostile review of the compressed page store
 * (mm/zstore.c) and its codec (mm/lz4.c): attacks that found nothing, kept
 * as regression tests.  (The findings, which fail before their mends, are in
 * test_attack_zstore_failing.c.)
 *
 * The store: forged handles of every shape, double free, get after free;
 * the limit at 1 byte, exactly at the pool, lowered while full, back to the
 * default; codecs that lie (a length over the buffer, negative, 0; a decoder
 * that says short or long); the codec swapped while pages are stored; the PMM
 * run dry between the entry chunk and the copy's block, with every counter
 * compared before and after; the entry table filled to its last index; four
 * threads putting, getting and freeing while a fifth checks and reads the
 * statistics.
 *
 * The codec: buffers that end (or begin) at an unmapped page, so a read or a
 * write one byte outside is a crash the watch turns into a failure (the i386
 * build runs without ASan); lengths whose sums would wrap a 32-bit size_t;
 * offsets before the output; a match running past the end; every output
 * capacity from 0 to the bound.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "attack.h"
#include "harness.h"
#include "lz4.h"
#include "zstore.h"

#define PAGE    4096u
/* pages the store reads and writes as words: aligned (finding 2 of the failing file) */
#define ALIGNED __attribute__((aligned(16)))

static unsigned char text_page[PAGE] ALIGNED, rand_page[PAGE] ALIGNED, same_page[PAGE] ALIGNED;
static uint32_t lz_work[LZ4_WORK_SIZE / 4];

static void make_pages(void)
{
    static const char *words[] = {"memory ", "page ", "the ",  "allocator ", "of ",
                                  "kernel ", "node ", "lock ", "a ",         "compressed "};
    uint32_t seed = 0xA77AC4u;
    size_t k = 0;
    while (k < PAGE) {
        const char *w = words[rng_below(&seed, 10)];
        for (size_t i = 0; w[i] && k < PAGE; i++)
            text_page[k++] = (unsigned char)w[i];
    }
    for (size_t i = 0; i < PAGE; i++)
        rand_page[i] = (unsigned char)rng_next(&seed);
    for (size_t i = 0; i < PAGE; i += 4)
        memcpy(same_page + i, "\x11\x22\x33\x44", 4);
}

static int setup(void **state)
{
    (void)state;
    make_pages();
    return 0;
}

static int fresh_store(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    zstore_reset();
    fresh_every_layer(64u << 20);
    zstore_set_limit(0xFFFFFFFFu);
    assert_int_equal(zstore_set_codec(NULL), 0);
    assert_int_equal(zstore_check(), 0);
    return 0;
}

static zstore_stats_t zs_now(void)
{
    zstore_stats_t s;
    zstore_get_stats(&s);
    return s;
}

static void assert_back(uint32_t h, const unsigned char *page)
{
    static unsigned char back[PAGE] ALIGNED;
    memset(back, 0x5A, PAGE);
    assert_int_equal(zstore_get(h, back), 0);
    assert_memory_equal(back, page, PAGE);
}

/* The counters that must not move when an operation is refused. */
static void assert_same_contents(const zstore_stats_t *a, const zstore_stats_t *b)
{
    assert_int_equal(a->orig_bytes, b->orig_bytes);
    assert_int_equal(a->compr_bytes, b->compr_bytes);
    assert_int_equal(a->mem_used, b->mem_used);
    assert_int_equal(a->same_pages, b->same_pages);
    assert_int_equal(a->huge_pages, b->huge_pages);
    assert_int_equal(a->pages_stored, b->pages_stored);
    assert_int_equal(a->puts, b->puts);
    assert_int_equal(a->frees, b->frees);
    assert_int_equal(a->gets, b->gets);
}

/* ------------------------------------------------------------ handles ---- */

/*
 * Every forged handle: refused with one line, counted once, the page given
 * left untouched, nothing else changed; a live handle still good afterwards.
 */
static void attack_forged_handles(void **state)
{
    (void)state;
    uint32_t h = zstore_put(text_page);
    assert_true(h != 0);
    uint32_t index = h & (ZSTORE_MAX_ENTRIES - 1), gen = h >> ZSTORE_INDEX_BITS;
    const uint32_t forged[] = {
        0,
        h | 0x80000000u,                /* bit 31 */
        gen << ZSTORE_INDEX_BITS,       /* index 0 */
        index,                          /* generation 0 */
        gen << ZSTORE_INDEX_BITS | 256, /* index past the one chunk */
        gen << ZSTORE_INDEX_BITS | (ZSTORE_MAX_ENTRIES - 1),
        (gen + 1) << ZSTORE_INDEX_BITS | index, /* a future generation */
        1u << ZSTORE_INDEX_BITS | (index + 1),  /* an entry never handed out */
        0xFFFFFFFFu,
        0x7FFFFFFFu,
    };
    zstore_stats_t before = zs_now();
    static unsigned char back[PAGE] ALIGNED;
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        memset(back, 0xA5, PAGE);
        host_console_clear();
        assert_int_equal(zstore_get(forged[i], back), -1);
        assert_true(host_console_has("zstore_get: handle"));
        for (size_t k = 0; k < PAGE; k++)
            if (back[k] != 0xA5)
                fail_msg("forged handle 0x%08x: the page was written at %zu", forged[i], k);
        host_console_clear();
        assert_int_equal(zstore_free(forged[i]), -1);
        assert_true(host_console_has("zstore_free: handle"));
        uint32_t len = 77;
        assert_null(zstore_peek(forged[i], &len));
        assert_int_equal(len, 0);
    }
    zstore_stats_t after = zs_now();
    assert_same_contents(&before, &after);
    assert_int_equal(after.bad_handles - before.bad_handles,
                     3 * (sizeof(forged) / sizeof(forged[0])));
    assert_back(h, text_page);
    assert_int_equal(zstore_check(), 0);
    /* double free, get after free, free after reuse of the entry */
    assert_int_equal(zstore_free(h), 0);
    assert_int_equal(zstore_free(h), -1);
    assert_int_equal(zstore_get(h, back), -1);
    uint32_t h2 = zstore_put(rand_page);
    assert_true(h2 != 0 && h2 != h);
    assert_int_equal(zstore_free(h), -1); /* the stale one cannot free the new page */
    assert_back(h2, rand_page);
    assert_int_equal(zstore_free(h2), 0);
    assert_int_equal(zstore_check(), 0);
    check_every_layer();
}

/* --------------------------------------------------------------- limit ---- */

/*
 * The limit: 1 byte (not even the entry chunk fits: refused_limit, nothing
 * made); exactly the pool after one copy (a same-filled page still fits, a
 * copy does not); lowered under the pool while full (stored pages stay and
 * come back, puts refused, frees work); 0: the default, half the PMM's RAM.
 */
static void attack_limits(void **state)
{
    (void)state;
    zstore_set_limit(1);
    zstore_stats_t s0 = zs_now();
    assert_int_equal(zstore_put(same_page), 0);
    assert_int_equal(zstore_put(text_page), 0);
    zstore_stats_t s1 = zs_now();
    assert_int_equal(s1.refused_limit - s0.refused_limit, 2);
    assert_int_equal(s1.entries, 0);
    assert_int_equal(s1.mem_used, 0);
    assert_int_equal(zstore_check(), 0);

    zstore_set_limit(0xFFFFFFFFu);
    uint32_t a = zstore_put(text_page);
    assert_true(a != 0);
    zstore_set_limit(zs_now().mem_used); /* exactly full */
    uint32_t b = zstore_put(same_page);  /* no memory: fits */
    assert_true(b != 0);
    s0 = zs_now();
    assert_int_equal(zstore_put(text_page), 0);
    assert_int_equal(zstore_put(rand_page), 0);
    s1 = zs_now();
    assert_same_contents(&s0, &s1);
    assert_int_equal(s1.refused_limit - s0.refused_limit, 2);
    assert_int_equal(s1.limit_bytes, s1.mem_used);

    zstore_set_limit(100); /* below what is stored */
    assert_back(a, text_page);
    assert_back(b, same_page);
    assert_int_equal(zstore_put(same_page), 0); /* the pool is over: even 0 bytes more is refused */
    assert_int_equal(zstore_free(a), 0);
    assert_int_equal(zstore_free(b), 0);
    assert_int_equal(zstore_check(), 0);

    /* halfway: a new entry chunk fits the limit, the copy after it does not */
    zstore_set_limit(0xFFFFFFFFu);
    static uint32_t fill[ZSTORE_CHUNK_ENTRIES];
    static unsigned char word_page[PAGE] ALIGNED;
    for (unsigned i = 0; i < ZSTORE_CHUNK_ENTRIES - 1; i++) {
        memset(word_page, (int)i, PAGE);
        fill[i] = zstore_put(word_page);
        assert_true(fill[i] != 0);
    }
    s0 = zs_now();
    assert_int_equal(s0.entries, ZSTORE_CHUNK_ENTRIES - 1); /* every entry in use */
    zstore_set_limit(s0.mem_used + s0.mem_entries);         /* room for one more chunk only */
    assert_int_equal(zstore_put(text_page), 0);
    s1 = zs_now();
    assert_int_equal(s1.refused_limit, s0.refused_limit + 1);
    assert_int_equal(s1.entries, 2 * ZSTORE_CHUNK_ENTRIES - 1); /* the chunk stays, counted */
    assert_int_equal(s1.mem_entries, 2 * s0.mem_entries);
    assert_int_equal(s1.mem_used, s0.mem_used + s0.mem_entries);
    assert_int_equal(s1.pages_stored, s0.pages_stored);
    assert_int_equal(s1.puts, s0.puts);
    assert_int_equal(zstore_check(), 0);
    uint32_t w = zstore_put(same_page); /* an entry of the new chunk, no memory */
    assert_true(w != 0);
    assert_back(w, same_page);
    assert_int_equal(zstore_free(w), 0);
    for (unsigned i = 0; i < ZSTORE_CHUNK_ENTRIES - 1; i++)
        assert_int_equal(zstore_free(fill[i]), 0);
    assert_int_equal(zstore_check(), 0);

    zstore_set_limit(0);
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    assert_int_equal(zs_now().limit_bytes, ps.total_pages / 2 * PAGE);
    uint32_t c = zstore_put(rand_page);
    assert_true(c != 0);
    assert_back(c, rand_page);
    assert_int_equal(zstore_free(c), 0);
    assert_int_equal(zstore_check(), 0);
}

/* --------------------------------------------------------------- codecs ---- */

static int lie_mode;
static int lying_compress(const void *src, size_t n, void *dst, size_t cap, void *work)
{
    int r = lz4_compress(src, n, dst, cap, work);
    switch (lie_mode) {
    case 0:
        return (int)cap + 1; /* longer than the buffer */
    case 1:
        return -12345;
    case 2:
        return 0;
    case 3:
        return 0x7FFFFFFF;
    default:
        return r;
    }
}
static int dec_mode;
static int lying_decompress(const void *src, size_t n, void *dst, size_t cap)
{
    int r = lz4_decompress(src, n, dst, cap);
    switch (dec_mode) {
    case 1:
        return r - 1; /* short */
    case 2:
        return r + 1; /* longer than the page */
    case 3:
        return -7;
    default:
        return r;
    }
}
static size_t lying_bound(size_t n)
{
    return n;
}
static const mm_codec_t liar = {"liar", LZ4_WORK_SIZE, lying_compress, lying_decompress,
                                lying_bound};

/*
 * A compressor that lies about its length (over the buffer, negative, 0,
 * INT_MAX): the page is kept whole, nothing read past the output buffer.  A
 * decompressor that says short, long or error: the get fails, one line, the
 * page zeroed, counted corrupt.  And a codec the store cannot use (work
 * memory too big, no function): refused.
 */
static void attack_lying_codec(void **state)
{
    (void)state;
    assert_int_equal(zstore_set_codec(&liar), 0);
    for (lie_mode = 0; lie_mode < 4; lie_mode++) {
        zstore_stats_t s0 = zs_now();
        uint32_t h = zstore_put(text_page);
        assert_true(h != 0);
        uint32_t len = 0;
        assert_non_null(zstore_peek(h, &len));
        assert_int_equal(len, PAGE); /* whole */
        assert_int_equal(zs_now().huge_pages, s0.huge_pages + 1);
        assert_back(h, text_page);
        assert_int_equal(zstore_free(h), 0);
        assert_int_equal(zstore_check(), 0);
    }
    lie_mode = 9; /* honest compressor, lying decompressor */
    static unsigned char back[PAGE] ALIGNED;
    for (dec_mode = 1; dec_mode <= 3; dec_mode++) {
        uint32_t h = zstore_put(text_page);
        assert_true(h != 0);
        memset(back, 0x5A, PAGE);
        uint32_t corrupt = zs_now().corrupt;
        host_console_clear();
        assert_int_equal(zstore_get(h, back), -1);
        assert_true(host_console_has("stored copy corrupt"));
        assert_int_equal(zs_now().corrupt, corrupt + 1);
        for (size_t k = 0; k < PAGE; k++)
            assert_int_equal(back[k], 0);
        assert_int_equal(zstore_free(h), 0);
    }
    dec_mode = 0;
    assert_int_equal(zstore_check(), 0);
    const mm_codec_t greedy = {"greedy", ZSTORE_WORK_MAX + 1, lz4_compress, lz4_decompress, NULL};
    const mm_codec_t half = {"half", 16, lz4_compress, NULL, NULL};
    assert_int_equal(zstore_set_codec(&greedy), -1);
    assert_int_equal(zstore_set_codec(&half), -1);
    assert_int_equal(zstore_set_codec(NULL), 0);
}

/* A codec that is not LZ4: one byte of XOR key, then the page XORed (always 4097 > limit: whole);
 * "rle" stores the page as it is: fits only when the store's limit lets it (never). */
static int shift_compress(const void *src, size_t n, void *dst, size_t cap, void *work)
{
    (void)work;
    if (n / 2 > cap)
        return LZ4_E_NOSPACE;
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (size_t i = 0; i < n / 2; i++)
        d[i] = s[2 * i];
    return (int)(n / 2);
}
static int shift_decompress(const void *src, size_t n, void *dst, size_t cap)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    if (2 * n > cap)
        return LZ4_E_NOSPACE;
    for (size_t i = 0; i < n; i++)
        d[2 * i] = d[2 * i + 1] = s[i];
    return (int)(2 * n);
}
static const mm_codec_t halver = {"halver", 0, shift_compress, shift_decompress, NULL};

/*
 * The codec swapped while pages are stored: refused while any page is kept
 * compressed (its old pages would be decoded by the new codec); allowed when
 * only same-filled and whole pages are stored, and those come back after.
 */
static void attack_codec_swap(void **state)
{
    (void)state;
    static unsigned char pairs[PAGE] ALIGNED; /* each byte twice: the halver's own page */
    for (size_t i = 0; i < PAGE; i++)
        pairs[i] = (unsigned char)(i / 2 * 7);
    uint32_t t = zstore_put(text_page);
    assert_true(t != 0);
    host_console_clear();
    assert_int_equal(zstore_set_codec(&halver), -1);
    assert_true(host_console_has("pages are stored compressed"));
    assert_back(t, text_page);
    assert_int_equal(zstore_free(t), 0);
    uint32_t s = zstore_put(same_page), r = zstore_put(rand_page);
    assert_true(s && r);
    assert_int_equal(zstore_set_codec(&halver), 0);
    uint32_t p = zstore_put(pairs);
    assert_true(p != 0);
    uint32_t len = 0;
    zstore_peek(p, &len);
    assert_int_equal(len, PAGE / 2);
    assert_back(p, pairs);
    assert_back(s, same_page);
    assert_back(r, rand_page);
    assert_int_equal(zstore_set_codec(NULL), -1); /* p is the halver's */
    assert_int_equal(zstore_free(p), 0);
    assert_int_equal(zstore_set_codec(NULL), 0);
    assert_back(r, rand_page);
    assert_int_equal(zstore_free(s), 0);
    assert_int_equal(zstore_free(r), 0);
    assert_int_equal(zstore_check(), 0);
}

/* A codec that calls the store from inside its compress (the lock nests on this CPU). */
static uint32_t reenter_victim;
static int reenter_put_result = -1, reenter_free_result = -1;
static int reentering_compress(const void *src, size_t n, void *dst, size_t cap, void *work)
{
    if (reenter_victim) {
        reenter_put_result = (int)zstore_put(src);         /* nested: refused */
        reenter_free_result = zstore_free(reenter_victim); /* nested: works */
        reenter_victim = 0;
    }
    return lz4_compress(src, n, dst, cap, work);
}
static const mm_codec_t reenterer = {"reenter", LZ4_WORK_SIZE, reentering_compress, lz4_decompress,
                                     NULL};

/*
 * A codec that puts and frees from inside its compress: the nested put is
 * refused (refused_busy), the nested free works, the outer put stores its
 * page; every counter and zstore_check right afterwards.
 */
static void attack_codec_reenters(void **state)
{
    (void)state;
    assert_int_equal(zstore_set_codec(&reenterer), 0);
    uint32_t v = zstore_put(rand_page); /* whole: no codec call that matters */
    assert_true(v != 0);
    zstore_stats_t s0 = zs_now();
    reenter_victim = v;
    uint32_t h = zstore_put(text_page);
    assert_true(h != 0);
    assert_int_equal(reenter_put_result, 0);
    assert_int_equal(reenter_free_result, 0);
    zstore_stats_t s1 = zs_now();
    assert_int_equal(s1.refused_busy, s0.refused_busy + 1);
    assert_int_equal(s1.pages_stored, s0.pages_stored); /* one in, one out */
    assert_int_equal(s1.huge_pages, s0.huge_pages - 1);
    assert_int_equal(zstore_check(), 0);
    assert_back(h, text_page);
    static unsigned char scratch[PAGE] ALIGNED;
    assert_int_equal(zstore_get(v, scratch), -1); /* freed from inside */
    assert_int_equal(zstore_free(h), 0);
    assert_int_equal(zstore_set_codec(NULL), 0);
    assert_int_equal(zstore_check(), 0);
}

/* ----------------------------------------------------- out of memory ---- */

/*
 * The PMM dry, two ways: (a) the free list empty, so the put needs a new
 * entry chunk and cannot get one; (b) an entry free but no block for the
 * copy.  Each refused put: refused_nomem + 1, every other counter as before,
 * zstore_check and every layer's checker clean, every stored page back.
 */
static void attack_dry_exact(void **state)
{
    (void)state;
    fresh_every_layer(8u << 20);
    zstore_reset();
    zstore_set_limit(0xFFFFFFFFu);
    mm_set_oom_reports(0);
    enum { MAX = 4096 };
    static uint32_t h[MAX];
    size_t n = 0;
    /* fill with incompressible pages until the heap cannot grow */
    while (n < MAX && (h[n] = zstore_put(rand_page)) != 0)
        n++;
    assert_true(n > 10 && n < MAX);
    /* (b) entries are free (the chunk had room), no block for a copy */
    zstore_stats_t s0 = zs_now();
    assert_true(s0.entries > s0.pages_stored); /* entries free: the copy's block failed */
    assert_int_equal(zstore_put(rand_page), 0);
    assert_int_equal(zstore_put(rand_page), 0);
    zstore_stats_t s1 = zs_now();
    assert_same_contents(&s0, &s1);
    assert_int_equal(s1.refused_nomem - s0.refused_nomem, 2);
    assert_int_equal(s1.refused_limit, s0.refused_limit);
    assert_int_equal(zstore_check(), 0);
    /* (a) same-filled pages take the last free entries, then a chunk is needed */
    size_t same = 0;
    static uint32_t sh[1024];
    while (same < 1024 && (sh[same] = zstore_put(same_page)) != 0)
        same++;
    s0 = zs_now();
    assert_true(same < 1024);
    assert_int_equal(zstore_put(same_page), 0);
    s1 = zs_now();
    assert_same_contents(&s0, &s1);
    assert_int_equal(s1.refused_nomem - s0.refused_nomem, 1);
    assert_int_equal(s1.entries, s0.entries);
    assert_int_equal(s1.mem_entries, s0.mem_entries);
    assert_int_equal(zstore_check(), 0);
    mm_set_oom_reports(1);
    for (size_t i = 0; i < n; i++) {
        assert_back(h[i], rand_page);
        assert_int_equal(zstore_free(h[i]), 0);
    }
    for (size_t i = 0; i < same; i++) {
        assert_back(sh[i], same_page);
        assert_int_equal(zstore_free(sh[i]), 0);
    }
    zstore_stats_t e = zs_now();
    assert_int_equal(e.pages_stored, 0);
    assert_int_equal(e.mem_used, e.mem_entries);
    assert_int_equal(zstore_check(), 0);
    check_every_layer();
}

/*
 * The entry table to its last index (262143 same-filled pages): the handle of
 * the last entry well formed and good, the next put refused (no memory,
 * counted), a free makes room again.
 */
static void attack_table_full(void **state)
{
    (void)state;
    static unsigned char zero[PAGE] ALIGNED;
    uint32_t maxh = 0, count = 0, h = 0;
    for (;;) {
        h = zstore_put(zero);
        if (!h)
            break;
        count++;
        if ((h & (ZSTORE_MAX_ENTRIES - 1)) > (maxh & (ZSTORE_MAX_ENTRIES - 1)))
            maxh = h;
        assert_true(h >> ZSTORE_HANDLE_BITS == 0);
    }
    zstore_stats_t s = zs_now();
    assert_int_equal(count, ZSTORE_MAX_ENTRIES - 1);
    assert_int_equal(maxh & (ZSTORE_MAX_ENTRIES - 1), ZSTORE_MAX_ENTRIES - 1);
    assert_int_equal(s.entries, ZSTORE_MAX_ENTRIES - 1);
    assert_int_equal(s.refused_nomem, 1);
    assert_back(maxh, zero);
    assert_int_equal(zstore_check(), 0);
    assert_int_equal(zstore_free(maxh), 0);
    uint32_t again = zstore_put(zero);
    assert_true(again != 0 && again != maxh);
    assert_int_equal(again & (ZSTORE_MAX_ENTRIES - 1), maxh & (ZSTORE_MAX_ENTRIES - 1));
    assert_int_equal(zstore_get(maxh, zero), -1);
    assert_int_equal(zstore_check(), 0);
    /* forget them (the heap is built again by the next test) */
}

/* ------------------------------------------------------------ threads ---- */

#define THREADS 4
static volatile int stop_checker;
static unsigned checker_rounds, checker_bad;
static void *checker(void *arg)
{
    (void)arg;
    while (!stop_checker) {
        zstore_stats_t s;
        zstore_get_stats(&s);
        if (s.pages_stored != s.puts - s.frees || s.orig_bytes != s.pages_stored * PAGE ||
            s.mem_used < s.mem_entries)
            checker_bad++;
        if (zstore_check())
            checker_bad++;
        checker_rounds++;
    }
    return NULL;
}

struct worker {
    uint32_t seed;
    unsigned failures, doubles;
};

static void *worker(void *arg)
{
    struct worker *w = arg;
    static const unsigned char *pages[3] = {text_page, rand_page, same_page};
    struct {
        uint32_t h;
        int p;
    } l[64];
    size_t n = 0;
    unsigned char back[PAGE] ALIGNED;
    for (int op = 0; op < 3000; op++) {
        uint32_t r = rng_below(&w->seed, 10);
        if ((r < 5 || n == 0) && n < 64) {
            int p = (int)rng_below(&w->seed, 3);
            uint32_t h = zstore_put(pages[p]);
            if (!h)
                w->failures++;
            else
                l[n].h = h, l[n++].p = p;
        } else if (r < 8) {
            size_t i = rng_below(&w->seed, (uint32_t)n);
            if (zstore_get(l[i].h, back) || memcmp(back, pages[l[i].p], PAGE))
                w->failures++;
        } else {
            size_t i = rng_below(&w->seed, (uint32_t)n);
            if (zstore_free(l[i].h) || zstore_free(l[i].h) != -1) /* and a double free */
                w->failures++;
            w->doubles++;
            l[i] = l[--n];
        }
    }
    while (n)
        if (zstore_free(l[--n].h))
            w->failures++;
    return NULL;
}

static void attack_threads_with_checker(void **state)
{
    (void)state;
    pthread_t t[THREADS], c;
    struct worker w[THREADS];
    stop_checker = 0;
    checker_rounds = checker_bad = 0;
    assert_int_equal(pthread_create(&c, NULL, checker, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){0xBEEF00u + (uint32_t)i, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    unsigned doubles = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
        doubles += w[i].doubles;
    }
    stop_checker = 1;
    assert_int_equal(pthread_join(c, NULL), 0);
    printf("zstore threads: %u checker rounds, %u inconsistent\n", checker_rounds, checker_bad);
    assert_int_equal(checker_bad, 0);
    zstore_stats_t s = zs_now();
    assert_int_equal(s.pages_stored, 0);
    assert_int_equal(s.bad_handles, doubles);
    assert_int_equal(s.corrupt, 0);
    assert_int_equal(zstore_check(), 0);
    check_every_layer();
}

/* ---------------------------------------------------------------- lz4 ---- */

/*
 * A buffer of n bytes that ends at an unmapped page (end_guard) or starts
 * right after one: one byte outside is a SIGSEGV, which the crash watch
 * reports as the test's failure.
 */
struct guarded {
    unsigned char *map;
    size_t maplen;
};

static unsigned char *guarded_alloc(struct guarded *g, size_t n, int end_guard)
{
    size_t pages = (n + PAGE - 1) / PAGE + 2;
    g->maplen = pages * PAGE;
    g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map, PAGE, PROT_NONE), 0);
    assert_int_equal(mprotect(g->map + g->maplen - PAGE, PAGE, PROT_NONE), 0);
    return end_guard ? g->map + g->maplen - PAGE - n : g->map + PAGE;
}

static void guarded_free(struct guarded *g)
{
    munmap(g->map, g->maplen);
}

/* Random and mutated blocks decoded from and into guarded buffers, every capacity edge. */
static void attack_lz4_guarded(void **state)
{
    (void)state;
    crash_watch(120);
    uint32_t seed = 0x1234567u;
    static unsigned char comp[PAGE * 2];
    int clen = lz4_compress(text_page, PAGE, comp, sizeof(comp), lz_work);
    assert_true(clen > 0);
    unsigned long decoded = 0, refused = 0;
    for (int round = 0; round < 4000; round++) {
        size_t n = round < 2000 ? (size_t)clen : 1 + rng_below(&seed, 300);
        int side = round & 1;
        struct guarded gs, gd;
        unsigned char *src = guarded_alloc(&gs, n, side);
        if (round < 2000) {
            memcpy(src, comp, n);
            for (int m = 0; m < 1 + round % 4; m++)
                src[rng_below(&seed, (uint32_t)n)] = (unsigned char)rng_next(&seed);
        } else {
            for (size_t i = 0; i < n; i++)
                src[i] = (unsigned char)rng_next(&seed);
        }
        size_t cap = rng_below(&seed, 3) == 0 ? PAGE : rng_below(&seed, PAGE + 64);
        unsigned char *dst = guarded_alloc(&gd, cap ? cap : 1, !side);
        if (!side)
            dst += (cap ? cap : 1) - cap; /* ends at the guard */
        snprintf(crash_case, sizeof(crash_case), "decode round %d: %zu bytes into %zu, guard %s",
                 round, n, cap, side ? "after src, before dst" : "before src, after dst");
        int r = lz4_decompress(src, n, dst, cap);
        assert_true(r <= (int)cap);
        if (r >= 0)
            decoded++;
        else
            refused++;
        guarded_free(&gs);
        guarded_free(&gd);
    }
    crash_case[0] = 0;
    printf("lz4 guarded decode: %lu decoded, %lu refused\n", decoded, refused);
    /* valid blocks decoded into exactly their size, one less, one more, the output at a guard */
    const unsigned char *valid[] = {text_page, rand_page, same_page};
    for (int in = 0; in < 3; in++) {
        for (size_t n = 1; n <= PAGE; n += n < 80 ? 1 : 211) {
            static unsigned char blk[PAGE + PAGE / 255 + 16];
            int c = lz4_compress(valid[in], n, blk, sizeof(blk), lz_work);
            assert_true(c > 0);
            for (int d = -1; d <= 1; d++) {
                for (int side = 0; side < 2; side++) {
                    size_t cap = n + (size_t)d;
                    struct guarded gs, gd;
                    unsigned char *src = guarded_alloc(&gs, (size_t)c, side);
                    memcpy(src, blk, (size_t)c);
                    unsigned char *dst = guarded_alloc(&gd, cap, !side);
                    snprintf(crash_case, sizeof(crash_case), "valid %d, %zu bytes, cap %zu", in, n,
                             cap);
                    int r = lz4_decompress(src, (size_t)c, dst, cap);
                    if (d < 0) {
                        assert_int_equal(r, LZ4_E_NOSPACE);
                    } else {
                        assert_int_equal(r, (int)n);
                        assert_memory_equal(dst, valid[in], n);
                    }
                    guarded_free(&gs);
                    guarded_free(&gd);
                }
            }
        }
    }
    crash_case[0] = 0;
    /* compress: src ends at a guard (and starts after one), every capacity 0 .. bound */
    const unsigned char *inputs[] = {text_page, rand_page, same_page};
    for (int in = 0; in < 3; in++) {
        for (size_t n = 0; n <= PAGE; n += n < 64 ? 1 : 397) {
            for (int side = 0; side < 2; side++) {
                struct guarded gs;
                unsigned char *src = guarded_alloc(&gs, n ? n : 1, side);
                if (side && !n)
                    src++; /* 0 bytes ending at the guard */
                memcpy(src, inputs[in], n);
                size_t bound = lz4_bound(n);
                for (size_t cap = 0; cap <= bound; cap += cap < 32 || cap + 40 > bound ? 1 : 37) {
                    struct guarded gd;
                    unsigned char *dst = guarded_alloc(&gd, cap ? cap : 1, 1);
                    if (!cap)
                        dst++;
                    snprintf(crash_case, sizeof(crash_case),
                             "compress input %d, %zu bytes, cap %zu", in, n, cap);
                    int c = lz4_compress(src, n, cap ? dst : NULL, cap, lz_work);
                    if (c == LZ4_E_NOSPACE) {
                        guarded_free(&gd);
                        continue;
                    }
                    assert_true(c > 0 && (size_t)c <= cap);
                    static unsigned char back[PAGE] ALIGNED;
                    assert_int_equal(lz4_decompress(dst, (size_t)c, back, n), (int)n);
                    assert_memory_equal(back, src, n);
                    guarded_free(&gd);
                }
                guarded_free(&gs);
            }
        }
    }
    /* inputs around 64 KB (the 16-bit table's end) and past it (32-bit table, offsets
     * up to 65535): text and random stretches, src and both outputs against guards */
    const size_t sizes[] = {65535, 65536, 65537, 200003};
    uint32_t seed2 = 0x64C0DEu;
    for (unsigned i = 0; i < 4; i++) {
        size_t n = sizes[i];
        for (int side = 0; side < 2; side++) {
            struct guarded gs, gd, gb;
            unsigned char *src = guarded_alloc(&gs, n, side);
            for (size_t k = 0; k < n; k += PAGE) {
                size_t part = n - k < PAGE ? n - k : PAGE;
                memcpy(src + k, rng_below(&seed2, 3) ? text_page : rand_page, part);
            }
            size_t bound = lz4_bound(n);
            unsigned char *dst = guarded_alloc(&gd, bound, 1);
            snprintf(crash_case, sizeof(crash_case), "compress %zu bytes, guard %s", n,
                     side ? "after" : "before");
            int c = lz4_compress(src, n, dst, bound, lz_work);
            assert_true(c > 0 && (size_t)c <= bound);
            unsigned char *back = guarded_alloc(&gb, n, !side);
            snprintf(crash_case, sizeof(crash_case), "decode %zu bytes", n);
            assert_int_equal(lz4_decompress(dst, (size_t)c, back, n), (int)n);
            assert_memory_equal(back, src, n);
            assert_int_equal(lz4_decompress(dst, (size_t)c, back, n - 1), LZ4_E_NOSPACE);
            /* too small an output: refused, or a block that still decodes */
            int c2 = lz4_compress(src, n, dst + bound - (size_t)c + 1, (size_t)c - 1, lz_work);
            assert_true(c2 == LZ4_E_NOSPACE || (c2 > 0 && c2 < c));
            guarded_free(&gs);
            guarded_free(&gd);
            guarded_free(&gb);
        }
    }
    crash_case[0] = 0;
    crash_watch(0);
}

/*
 * Lengths that would wrap a 32-bit size_t: a literal length or a match length
 * of 9 million 255-bytes (over LZ4_MAX_INPUT): refused, nothing written past
 * the output.  An offset one byte before the output; offset 0; a match one
 * byte past the end; a literal run one byte past the input.
 */
static void attack_lz4_lengths(void **state)
{
    (void)state;
    crash_watch(120);
    size_t big = 9u << 20;
    unsigned char *b = malloc(big + 16);
    assert_non_null(b);
    static unsigned char out[64];
    /* literal length: token F0, then 255s to the end */
    b[0] = 0xF0;
    memset(b + 1, 255, big);
    assert_int_equal(lz4_decompress(b, big + 1, out, sizeof(out)), LZ4_E_TRUNCATED);
    /* a literal 'a', offset 1, match length of 255s */
    b[0] = 0x1F;
    b[1] = 'a';
    b[2] = 1;
    b[3] = 0;
    memset(b + 4, 255, big - 4);
    int r = lz4_decompress(b, big, out, sizeof(out));
    assert_true(r == LZ4_E_NOSPACE || r == LZ4_E_TRUNCATED);
    /* the same, dst_cap at the largest size_t: clamped, still refused */
    r = lz4_decompress(b, big, out, (size_t)-1 - (uintptr_t)out);
    assert_true(r < 0);
    free(b);
    /* offsets */
    const unsigned char before[] = {0x24, 'a', 'b', 3, 0, 0x50, 1, 2, 3, 4, 5};
    assert_int_equal(lz4_decompress(before, sizeof(before), out, sizeof(out)), LZ4_E_OFFSET);
    const unsigned char zero_off[] = {0x24, 'a', 'b', 0, 0, 0x50, 1, 2, 3, 4, 5};
    assert_int_equal(lz4_decompress(zero_off, sizeof(zero_off), out, sizeof(out)), LZ4_E_OFFSET);
    const unsigned char exact[] = {0x24, 'a', 'b', 2, 0, 0x50, 1, 2, 3, 4, 5};
    assert_int_equal(lz4_decompress(exact, sizeof(exact), out, sizeof(out)), 2 + 8 + 5);
    assert_memory_equal(out, "abababababab", 10);
    /* the match one byte past the output */
    memset(out, 0xEE, sizeof(out));
    assert_int_equal(lz4_decompress(exact, sizeof(exact), out, 9), LZ4_E_NOSPACE);
    for (size_t i = 9; i < sizeof(out); i++)
        assert_int_equal(out[i], 0xEE);
    /* literals one past the input */
    const unsigned char lit[] = {0x50, 1, 2, 3, 4};
    assert_int_equal(lz4_decompress(lit, sizeof(lit), out, sizeof(out)), LZ4_E_TRUNCATED);
    /* compress of 0 bytes: one token; it decodes to 0 bytes */
    unsigned char tok[4];
    assert_int_equal(lz4_compress(NULL, 0, tok, sizeof(tok), lz_work), 1);
    assert_int_equal(tok[0], 0);
    assert_int_equal(lz4_decompress(tok, 1, NULL, 0), 0);
    assert_int_equal(lz4_compress(text_page, PAGE, NULL, 0, lz_work), LZ4_E_NOSPACE);
    assert_int_equal(lz4_compress(text_page, PAGE, tok, 0, NULL), LZ4_E_ARG);
    /* a src that wraps the address space */
    assert_int_equal(lz4_compress((void *)((uintptr_t)-16), 64, out, sizeof(out), lz_work),
                     LZ4_E_ARG);
    assert_int_equal(lz4_decompress((void *)((uintptr_t)-16), 64, out, sizeof(out)), LZ4_E_ARG);
    crash_watch(0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, fresh_store)
    const struct CMUnitTest tests[] = {
        T(attack_forged_handles), T(attack_limits),
        T(attack_lying_codec),    T(attack_codec_swap),
        T(attack_codec_reenters), T(attack_dry_exact),
        T(attack_table_full),     T(attack_threads_with_checker),
        T(attack_lz4_guarded),    T(attack_lz4_lengths),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

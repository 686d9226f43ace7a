/*
 * test_lz4.c - mm/lz4.c against Debian's liblz4 (issue 14, items 1 and 5).
 *
 * On every 4 KB page of a corpus built from this machine's own files
 * (tests/host/lz4_corpus.h: text under /usr/share, ELF binaries, our kernel
 * image, zeroed, random and mixed pages):
 *   - our block decodes with liblz4's LZ4_decompress_safe to the same bytes,
 *     and keeps the format's end-of-block rules (parsed here, not trusted to
 *     liblz4's tolerance);
 *   - liblz4's LZ4_compress_default block decodes with ours to the same bytes;
 *   - our own round trip, and one byte less of output room is refused.
 * Then malformed input: every truncation of valid blocks, flipped bytes,
 * crafted offsets and lengths (0, before the output, 32-bit overflow), NULL
 * and wrapping buffers: a negative error, never a byte written outside the
 * output (guard bytes around it, checked after every call) nor read outside
 * the input (each input ends at a PROT_NONE page; ASan too on x86_64).
 */
#include "harness.h"
#include "lz4.h"
#include "lz4_corpus.h"

#include <sys/mman.h>
#include <unistd.h>

/*
 * liblz4's block API (lz4.h of liblz4-dev).  Declared here: its header is also
 * named lz4.h, and -Imm would find ours first.
 */
int LZ4_compress_default(const char *src, char *dst, int src_size, int dst_capacity);
int LZ4_decompress_safe(const char *src, char *dst, int compressed_size, int dst_capacity);
int LZ4_versionNumber(void);

#define PAGE      CORPUS_PAGE
#define GUARD     64
#define GUARD_VAL 0xA5
#define BOUND     LZ4_BOUND(PAGE)

static struct corpus corpus;
static uint32_t work[LZ4_WORK_SIZE / 4];

static int setup(void **state)
{
    corpus_build(&corpus, "build/kernel.elf");
    printf("lz4 corpus: %zu pages (text %zu from %zu files, elf %zu, kernel %zu, zero %zu, "
           "random %zu, mixed %zu); liblz4 %d\n",
           corpus.pages, corpus.count[K_TEXT], corpus.text_files, corpus.count[K_ELF],
           corpus.count[K_KERNEL], corpus.count[K_ZERO], corpus.count[K_RANDOM],
           corpus.count[K_MIXED], LZ4_versionNumber());
    return corpus.count[K_TEXT] && corpus.count[K_ELF] ? 0 : -1;
}

static int teardown(void **state)
{
    free(corpus.data);
    return 0;
}

/* ------------------------------------------------ guarded buffers ---- */

/* An output buffer of cap bytes with GUARD bytes of GUARD_VAL either side. */
struct out {
    unsigned char *mem; /* GUARD + cap + GUARD */
    size_t cap;
};

static unsigned char *out_arm(struct out *o, size_t cap)
{
    o->mem = malloc(2 * GUARD + cap);
    assert_non_null(o->mem);
    o->cap = cap;
    memset(o->mem, GUARD_VAL, 2 * GUARD + cap);
    return o->mem + GUARD;
}

static void out_check(struct out *o, const char *what)
{
    for (size_t i = 0; i < GUARD; i++) {
        if (o->mem[i] != GUARD_VAL)
            fail_msg("%s: guard byte %zu before the output changed to %#x", what, GUARD - i,
                     o->mem[i]);
        if (o->mem[GUARD + o->cap + i] != GUARD_VAL)
            fail_msg("%s: guard byte %zu after the output (cap %zu) changed to %#x", what, i,
                     o->cap, o->mem[GUARD + o->cap + i]);
    }
    free(o->mem);
}

/*
 * Inputs end exactly at a PROT_NONE page: a read past the end faults on every
 * ABI (qemu-i386 runs the i386 build without ASan).
 */
static unsigned char *fence_mem;
static size_t fence_size;

static const unsigned char *fenced(const void *data, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t need = (n + pg - 1) / pg * pg + pg;
    if (need > fence_size) {
        if (fence_mem)
            munmap(fence_mem, fence_size);
        fence_mem = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(fence_mem != MAP_FAILED);
        fence_size = need;
        assert_int_equal(mprotect(fence_mem + need - pg, pg, PROT_NONE), 0);
    }
    unsigned char *p = fence_mem + fence_size - pg - n;
    memcpy(p, data, n);
    return p;
}

/* Our decoder on n bytes at src (fenced) into a guarded buffer of cap bytes. */
static int ours_decode(const void *src, size_t n, size_t cap, unsigned char *copy_out)
{
    struct out o;
    unsigned char *dst = out_arm(&o, cap);
    int r = lz4_decompress(fenced(src, n), n, dst, cap);
    if (r > (int)cap)
        fail_msg("lz4_decompress returned %d for an output of %zu", r, cap);
    if (copy_out && r > 0)
        memcpy(copy_out, dst, (size_t)r);
    out_check(&o, "lz4_decompress");
    return r;
}

/* Our compressor into a guarded buffer of cap bytes. */
static int ours_encode(const void *src, size_t n, size_t cap, unsigned char *copy_out)
{
    struct out o;
    unsigned char *dst = out_arm(&o, cap);
    int r = lz4_compress(fenced(src, n), n, dst, cap, work);
    if (r > (int)cap)
        fail_msg("lz4_compress returned %d for an output of %zu", r, cap);
    if (copy_out && r > 0)
        memcpy(copy_out, dst, (size_t)r);
    out_check(&o, "lz4_compress");
    return r;
}

/* ------------------------------------------------- the block format ---- */

/*
 * Parse a block as the format describes it (independently of both decoders)
 * and check the end-of-block rules for an input of n bytes: the last sequence
 * has literals only, the last match starts at least 12 bytes before the end,
 * the last 5 bytes are literals.  Returns a reason, or NULL if it obeys.
 */
/* A length nibble of 15 goes on in bytes up to one below 255, each added to *n: 0, or -1 if the
   block ends first. */
static int more_length(const unsigned char *b, size_t len, size_t *i, size_t *n)
{
    unsigned x;
    do {
        if (*i >= len)
            return -1;
        x = b[(*i)++];
        *n += x;
    } while (x == 255);
    return 0;
}

static const char *end_rules_broken(const unsigned char *b, size_t len, size_t n)
{
    size_t i = 0, out = 0, last_match_start = 0, last_match_end = 0;
    int matches = 0;

    while (i < len) {
        unsigned token = b[i++];
        size_t lit = token >> 4, ml = token & 15;
        if (lit == 15 && more_length(b, len, &i, &lit))
            return "truncated literal length";
        if (i + lit > len)
            return "literals past the end";
        i += lit;
        out += lit;
        if (i == len)
            break;
        if (i + 2 > len)
            return "truncated offset";
        i += 2;
        if (ml == 15 && more_length(b, len, &i, &ml))
            return "truncated match length";
        if (i == len)
            return "the last sequence has a match";
        last_match_start = out;
        out += ml + 4;
        last_match_end = out;
        matches++;
    }
    if (out != n)
        return "decodes to another length";
    if (matches && n - last_match_start < 12)
        return "the last match starts less than 12 bytes before the end";
    if (matches && n - last_match_end < 5)
        return "the last match ends less than 5 bytes before the end";
    return NULL;
}

/* ------------------------------------------------------------- tests ---- */

/*
 * Every page: ours -> liblz4, liblz4 -> ours, ours -> ours, and decoding into
 * one byte less than the page is refused (LZ4_E_NOSPACE).
 */
static void test_every_page_both_ways(void **state)
{
    static unsigned char ours[BOUND], theirs[BOUND], back[PAGE];
    size_t ours_total = 0, theirs_total = 0;
    size_t kind_ours[K_COUNT] = {0}, kind_theirs[K_COUNT] = {0};

    for (size_t p = 0; p < corpus.pages; p++) {
        const unsigned char *page = corpus_page(&corpus, p);
        int kind = corpus_kind_of(&corpus, p);

        int n = ours_encode(page, PAGE, BOUND, ours);
        if (n <= 0)
            fail_msg("page %zu (%s): lz4_compress returned %d", p, corpus_kind_name[kind], n);
        const char *why = end_rules_broken(ours, (size_t)n, PAGE);
        if (why)
            fail_msg("page %zu (%s): our block breaks the format: %s", p, corpus_kind_name[kind],
                     why);

        memset(back, 0, PAGE);
        int r = LZ4_decompress_safe((const char *)ours, (char *)back, n, PAGE);
        if (r != PAGE || memcmp(back, page, PAGE) != 0)
            fail_msg("page %zu (%s): liblz4 decodes our %d-byte block to %d bytes%s", p,
                     corpus_kind_name[kind], n, r, r == PAGE ? ", not the page" : "");

        memset(back, 0, PAGE);
        r = ours_decode(ours, (size_t)n, PAGE, back);
        if (r != PAGE || memcmp(back, page, PAGE) != 0)
            fail_msg("page %zu (%s): our round trip gives %d bytes%s", p, corpus_kind_name[kind], r,
                     r == PAGE ? ", not the page" : "");
        r = ours_decode(ours, (size_t)n, PAGE - 1, NULL);
        if (r != LZ4_E_NOSPACE)
            fail_msg("page %zu: decoding into %u bytes returned %d, not LZ4_E_NOSPACE", p, PAGE - 1,
                     r);

        int m = LZ4_compress_default((const char *)page, (char *)theirs, PAGE, BOUND);
        assert_true(m > 0);
        memset(back, 0, PAGE);
        r = ours_decode(theirs, (size_t)m, PAGE, back);
        if (r != PAGE || memcmp(back, page, PAGE) != 0)
            fail_msg("page %zu (%s): we decode liblz4's %d-byte block to %d bytes%s", p,
                     corpus_kind_name[kind], m, r, r == PAGE ? ", not the page" : "");

        ours_total += (size_t)n;
        theirs_total += (size_t)m;
        kind_ours[kind] += (size_t)n;
        kind_theirs[kind] += (size_t)m;
    }
    printf("lz4: %zu pages both ways; compressed bytes, ours / liblz4:\n", corpus.pages);
    for (int k = 0; k < K_COUNT; k++) {
        if (corpus.count[k])
            printf("  %-6s %4zu pages %8zu / %8zu (ratio %.3f / %.3f)\n", corpus_kind_name[k],
                   corpus.count[k], kind_ours[k], kind_theirs[k],
                   (double)corpus.count[k] * PAGE / (double)kind_ours[k],
                   (double)corpus.count[k] * PAGE / (double)kind_theirs[k]);
    }
    printf("  all    %4zu pages %8zu / %8zu (ratio %.3f / %.3f)\n", corpus.pages, ours_total,
           theirs_total, (double)corpus.pages * PAGE / (double)ours_total,
           (double)corpus.pages * PAGE / (double)theirs_total);
}

/*
 * Inputs that are not one page: every size 0..300 and a few larger ones,
 * including the whole kernel image in one block (32-bit positions above 64 KB)
 * and a run of one byte longer than a match length field's first extra byte.
 */
static void test_other_sizes(void **state)
{
    size_t big = corpus.pages * PAGE;
    size_t sizes[] = {4095, 4097, 65535, 65536, 65547, 200000, big};
    size_t cap = LZ4_BOUND(big);
    unsigned char *block = malloc(cap), *back = malloc(big), *theirs = malloc(cap);
    assert_non_null(block);
    assert_non_null(back);
    assert_non_null(theirs);

    for (size_t i = 0; i < 301 + sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = i <= 300 ? i : sizes[i - 301];
        /* from a text page: small sizes see both literals and matches */
        const unsigned char *src = corpus_page(&corpus, i <= 300 ? corpus.first[K_TEXT] : 0);
        int c = lz4_compress(src, n, block, cap, work);
        if (c <= 0)
            fail_msg("size %zu: lz4_compress returned %d", n, c);
        assert_true((size_t)c <= lz4_bound(n));
        const char *why = end_rules_broken(block, (size_t)c, n);
        if (why)
            fail_msg("size %zu: our block breaks the format: %s", n, why);
        int r = LZ4_decompress_safe((const char *)block, (char *)back, c, (int)n);
        if (r != (int)n || memcmp(back, src, n) != 0)
            fail_msg("size %zu: liblz4 decodes our block to %d bytes", n, r);
        r = lz4_decompress(block, (size_t)c, back, n);
        if (r != (int)n || memcmp(back, src, n) != 0)
            fail_msg("size %zu: our round trip gives %d bytes", n, r);
        int m = LZ4_compress_default((const char *)src, (char *)theirs, (int)n, (int)cap);
        r = lz4_decompress(theirs, (size_t)m, back, n);
        if (r != (int)n || memcmp(back, src, n) != 0)
            fail_msg("size %zu: we decode liblz4's block to %d bytes", n, r);
    }
    /* 100 000 equal bytes: offset 1, a match length of many 255 bytes */
    memset(back, 'z', 100000);
    int c = lz4_compress(back, 100000, block, cap, work);
    assert_true(c > 0 && c < 1000);
    int r = LZ4_decompress_safe((const char *)block, (char *)theirs, c, 100000);
    assert_int_equal(r, 100000);
    assert_int_equal(memcmp(theirs, back, 100000), 0);
    free(block);
    free(back);
    free(theirs);
}

/*
 * The compressor never writes past dst_cap: for a page of each kind, every
 * capacity below the block's size is refused (LZ4_E_NOSPACE, guards intact),
 * and the block's exact size gives the same block.
 */
static void test_compress_into_every_smaller_output(void **state)
{
    static unsigned char full[BOUND], again[BOUND];

    for (int k = 0; k < K_COUNT; k++) {
        if (!corpus.count[k])
            continue;
        const unsigned char *page = corpus_page(&corpus, corpus.first[k] + corpus.count[k] / 2);
        int n = ours_encode(page, PAGE, BOUND, full);
        assert_true(n > 0);
        for (int cap = 0; cap < n; cap++) {
            int r = ours_encode(page, PAGE, (size_t)cap, NULL);
            if (r != LZ4_E_NOSPACE)
                fail_msg("%s page into %d bytes (block %d): returned %d, not LZ4_E_NOSPACE",
                         corpus_kind_name[k], cap, n, r);
        }
        assert_int_equal(ours_encode(page, PAGE, (size_t)n, again), n);
        assert_memory_equal(full, again, (size_t)n);
    }
}

/*
 * Every prefix of a valid block (ours and liblz4's): an error, or, where the
 * cut falls right after a sequence's literals (a well-formed shorter block),
 * the page's first bytes and no more; never a crash.
 */
static void test_every_truncation(void **state)
{
    static unsigned char block[BOUND], back[PAGE];
    size_t tried = 0, refused = 0;

    for (int k = 0; k < K_COUNT; k++) {
        if (!corpus.count[k])
            continue;
        for (int who = 0; who < 2; who++) {
            const unsigned char *page = corpus_page(&corpus, corpus.first[k]);
            int n = who ? LZ4_compress_default((const char *)page, (char *)block, PAGE, BOUND)
                        : lz4_compress(page, PAGE, block, BOUND, work);
            assert_true(n > 0);
            for (int len = 0; len < n; len++, tried++) {
                int r = ours_decode(block, (size_t)len, PAGE, back);
                if (r < 0) {
                    refused++;
                    continue;
                }
                if (r >= (int)PAGE || memcmp(back, page, (size_t)r) != 0)
                    fail_msg("%s block of %s, %d of its %d bytes: decoded to %d bytes%s",
                             corpus_kind_name[k], who ? "liblz4" : "ours", len, n, r,
                             r < (int)PAGE ? " that are not the page's" : "");
            }
        }
    }
    printf("lz4: %zu truncated blocks: %zu refused, %zu a shorter well-formed block\n", tried,
           refused, tried - refused);
    assert_true(refused > tried / 2);
}

/*
 * Bytes flipped in valid blocks: any result but a crash or a write outside
 * the output; a block that still decodes says so within its capacity.  Also
 * blocks of random bytes, and random bytes after a valid start.
 */
static void test_flipped_and_random_bytes(void **state)
{
    static unsigned char block[BOUND], bad[BOUND];
    uint32_t seed = 0xC0FFEEu;
    size_t refused = 0, decoded = 0;

    for (size_t p = 0; p < corpus.pages; p += 7) {
        int n = lz4_compress(corpus_page(&corpus, p), PAGE, block, BOUND, work);
        assert_true(n > 0);
        for (int t = 0; t < 24; t++) {
            memcpy(bad, block, (size_t)n);
            int flips = 1 + (int)rng_below(&seed, 3);
            for (int f = 0; f < flips; f++)
                bad[rng_below(&seed, (uint32_t)n)] ^= (unsigned char)(1u << rng_below(&seed, 8));
            size_t cap = t & 1 ? PAGE : rng_below(&seed, PAGE + 1);
            int r = ours_decode(bad, (size_t)n, cap, NULL);
            r < 0 ? refused++ : decoded++;
        }
    }
    for (int t = 0; t < 2000; t++) {
        size_t n = 1 + rng_below(&seed, 600);
        for (size_t i = 0; i < n; i++)
            bad[i] = (unsigned char)rng_next(&seed);
        int r = ours_decode(bad, n, rng_below(&seed, 2 * PAGE), NULL);
        r < 0 ? refused++ : decoded++;
    }
    printf("lz4: damaged blocks: %zu refused, %zu decoded within bounds\n", refused, decoded);
    assert_true(refused > 0);
}

/* Crafted blocks, each with the one error it must give. */
static void test_crafted_blocks(void **state)
{
    /* 4 literals "abcd", then a match of 4 at offset 0 */
    static const unsigned char off0[] = {0x40, 'a', 'b', 'c', 'd', 0x00, 0x00, 0x10, 'x'};
    /* offset 5 with 4 bytes written: before the output's start */
    static const unsigned char off5[] = {0x40, 'a', 'b', 'c', 'd', 0x05, 0x00, 0x10, 'x'};
    /* a match right at the start: nothing written yet */
    static const unsigned char off1_at0[] = {0x00, 0x01, 0x00, 0x10, 'x'};
    /* valid: "abcd" + 4 x "abcd" (offset 4) + "x" = 9 bytes */
    static const unsigned char ok9[] = {0x40, 'a', 'b', 'c', 'd', 0x04, 0x00, 0x10, 'x'};
    /* valid, offset 1 over 19 bytes: "a" + 19 x "a" + "bcdef" */
    static const unsigned char run[] = {0x1F, 'a', 0x01, 0x00, 0x00, 0x50, 'b', 'c', 'd', 'e', 'f'};
    /* the block ends on a match (no last literals) */
    static const unsigned char ends_on_match[] = {0x40, 'a', 'b', 'c', 'd', 0x04, 0x00};
    /* 15 literals announced, the length byte missing */
    static const unsigned char no_length[] = {0xF0};
    /* a literal count larger than the input */
    static const unsigned char long_lit[] = {0x50, 'a', 'b'};
    /* a match length byte missing */
    static const unsigned char no_mlen[] = {0x4F, 'a', 'b', 'c', 'd', 0x04, 0x00};
    static const unsigned char only_token[] = {0x00};
    unsigned char out[64];

    assert_int_equal(ours_decode(off0, sizeof(off0), 64, NULL), LZ4_E_OFFSET);
    assert_int_equal(ours_decode(off5, sizeof(off5), 64, NULL), LZ4_E_OFFSET);
    assert_int_equal(ours_decode(off1_at0, sizeof(off1_at0), 64, NULL), LZ4_E_OFFSET);
    assert_int_equal(ours_decode(ok9, sizeof(ok9), 64, out), 9);
    assert_memory_equal(out, "abcdabcdx", 9);
    assert_int_equal(ours_decode(ok9, sizeof(ok9), 8, NULL), LZ4_E_NOSPACE);
    assert_int_equal(ours_decode(ok9, sizeof(ok9), 7, NULL), LZ4_E_NOSPACE); /* match too long */
    assert_int_equal(ours_decode(ok9, sizeof(ok9), 3, NULL), LZ4_E_NOSPACE); /* literals */
    assert_int_equal(ours_decode(run, sizeof(run), 64, out), 25);
    assert_memory_equal(out, "aaaaaaaaaaaaaaaaaaaabcdef", 25);
    for (size_t cap = 0; cap < 25; cap++)
        assert_int_equal(ours_decode(run, sizeof(run), cap, NULL), LZ4_E_NOSPACE);
    assert_int_equal(ours_decode(ends_on_match, sizeof(ends_on_match), 64, NULL), LZ4_E_TRUNCATED);
    assert_int_equal(ours_decode(no_length, sizeof(no_length), 64, NULL), LZ4_E_TRUNCATED);
    assert_int_equal(ours_decode(long_lit, sizeof(long_lit), 64, NULL), LZ4_E_TRUNCATED);
    assert_int_equal(ours_decode(no_mlen, sizeof(no_mlen), 64, NULL), LZ4_E_TRUNCATED);
    assert_int_equal(ours_decode(only_token, 1, 0, NULL), 0);
    assert_int_equal(ours_decode(only_token, 0, 64, NULL), LZ4_E_TRUNCATED);
    /* liblz4 agrees on the one that keeps the end-of-block rules (ok9's last
     * match is 5 bytes from the end: liblz4 may refuse it, we need not) */
    assert_int_equal(LZ4_decompress_safe((const char *)run, (char *)out, sizeof(run), 64), 25);
}

/*
 * Lengths whose extra bytes add up past 32 bits: 20 M bytes of 255 after a
 * literal length field, and after a match length field, must stop at
 * LZ4_MAX_INPUT (a sum that wrapped would turn into a small, "valid" length).
 */
static void test_overflowing_lengths(void **state)
{
    size_t n = 20u << 20;
    unsigned char *b = malloc(n);
    assert_non_null(b);

    memset(b, 0xFF, n);
    b[0] = 0xF0; /* 15 literals + 255 + 255 + ... */
    assert_int_equal(ours_decode(b, n, PAGE, NULL), LZ4_E_TRUNCATED);

    b[0] = 0x1F; /* one literal, offset 1, match length 15 + 255 + ... */
    b[1] = 'a';
    b[2] = 0x01;
    b[3] = 0x00;
    assert_int_equal(ours_decode(b, n, PAGE, NULL), LZ4_E_NOSPACE);

    /* 2^32 / 255 + 1 bytes of 255 then 1: would wrap to a small length */
    size_t wrap = 0xFFFFFFFFu / 255 + 1;
    b[0] = 0xF0;
    memset(b + 1, 0xFF, wrap);
    b[1 + wrap] = 0x01;
    assert_int_equal(ours_decode(b, 2 + wrap + 16, PAGE, NULL), LZ4_E_TRUNCATED);
    free(b);
}

/* NULL, wrapping and oversized buffers: LZ4_E_ARG, nothing touched. */
static void test_bad_arguments(void **state)
{
    unsigned char in[16] = {0x00}, out[16];
    void *top = (void *)(UINTPTR_MAX - 7);

    assert_int_equal(lz4_decompress(NULL, 1, out, 16), LZ4_E_ARG);
    assert_int_equal(lz4_decompress(in, 1, NULL, 16), LZ4_E_ARG);
    assert_int_equal(lz4_decompress(in, 1, NULL, 0), 0); /* nothing to write */
    assert_int_equal(lz4_decompress(top, 16, out, 16), LZ4_E_ARG);
    assert_int_equal(lz4_decompress(in, 1, top, 16), LZ4_E_ARG);
    assert_int_equal(lz4_compress(NULL, 4, out, 16, work), LZ4_E_ARG);
    assert_int_equal(lz4_compress(in, 4, NULL, 16, work), LZ4_E_ARG);
    assert_int_equal(lz4_compress(in, 4, out, 16, NULL), LZ4_E_ARG);
    assert_int_equal(lz4_compress(in, (size_t)LZ4_MAX_INPUT + 1, out, 16, work), LZ4_E_ARG);
    assert_int_equal(lz4_compress(top, 16, out, 16, work), LZ4_E_ARG);
    assert_int_equal(lz4_compress(in, 0, out, 16, work), 1); /* one token: empty block */
    assert_int_equal(out[0], 0);
    assert_int_equal(lz4_compress(in, 0, out, 0, work), LZ4_E_NOSPACE);
    assert_int_equal(lz4_compress(NULL, 0, NULL, 0, work), LZ4_E_NOSPACE);
    assert_int_equal(lz4_compress(NULL, 0, out, 16, work), 1);
    assert_int_equal(lz4_bound(4096), 4096 + 4096 / 255 + 16);
    assert_int_equal(lz4_bound((size_t)LZ4_MAX_INPUT + 1), 0);
    assert_string_equal(lz4_strerror(LZ4_E_OFFSET), "bad match offset");
    assert_string_equal(lz4_strerror(-99), "unknown error");
}

/* The codec interface: the default codec is LZ4, and works through its pointers. */
static void test_codec_interface(void **state)
{
    static unsigned char block[BOUND], back[PAGE];
    const mm_codec_t *c = &lz4_codec;
    size_t worst = 0;

    assert_string_equal(c->name, "lz4");
    assert_int_equal(c->work_size, LZ4_WORK_SIZE);
    for (size_t p = 0; p < corpus.pages; p += 3) {
        const unsigned char *page = corpus_page(&corpus, p);
        int n = c->compress(page, PAGE, block, c->bound(PAGE), work);
        assert_true(n > 0 && (size_t)n <= c->bound(PAGE));
        if ((size_t)n > worst)
            worst = (size_t)n;
        assert_int_equal(c->decompress(block, (size_t)n, back, PAGE), PAGE);
        assert_memory_equal(back, page, PAGE);
    }
    /* random pages do not compress: the worst case is over a page, under the bound */
    assert_true(worst > PAGE && worst <= c->bound(PAGE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_page_both_ways),
        cmocka_unit_test(test_other_sizes),
        cmocka_unit_test(test_compress_into_every_smaller_output),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_flipped_and_random_bytes),
        cmocka_unit_test(test_crafted_blocks),
        cmocka_unit_test(test_overflowing_lengths),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_codec_interface),
    };
    return cmocka_run_group_tests_name("lz4", tests, setup, teardown);
}

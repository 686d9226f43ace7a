/*
 * test_lz4.c (kernel) - the LZ4 codec as the kernel builds it (i386, -march=i486,
 * no SSE/MMX/x87, mm/string.c's memset): a block made by Debian's liblz4 decoded
 * to its text, round trips of pages of several kinds, and malformed blocks
 * refused.  (The thorough interop tests run on the host: tests/host/test_lz4.c.)
 */
#include "ktest.h"
#include "lz4.h"

#define PAGE 4096u

static uint32_t work[LZ4_WORK_SIZE / 4];
static unsigned char page[PAGE], back[PAGE + 64], block[LZ4_BOUND(PAGE)];

/*
 * liblz4 1.9.4 (the lz4 tool, one block taken from its frame) on 12 lines
 * "page N: the compressed page store keeps cold pages small; ", N = i % 5.
 */
static const unsigned char liblz4_block[] = {
    0xf1, 0x08, 0x70, 0x61, 0x67, 0x65, 0x20, 0x30, 0x3a, 0x20, 0x74, 0x68, 0x65, 0x20, 0x63,
    0x6f, 0x6d, 0x70, 0x72, 0x65, 0x73, 0x73, 0x65, 0x64, 0x20, 0x17, 0x00, 0xf2, 0x00, 0x73,
    0x74, 0x6f, 0x72, 0x65, 0x20, 0x6b, 0x65, 0x65, 0x70, 0x73, 0x20, 0x63, 0x6f, 0x6c, 0x16,
    0x00, 0x82, 0x73, 0x20, 0x73, 0x6d, 0x61, 0x6c, 0x6c, 0x3b, 0x23, 0x00, 0x1f, 0x31, 0x3a,
    0x00, 0x26, 0x1f, 0x32, 0x3a, 0x00, 0x26, 0x1f, 0x33, 0x3a, 0x00, 0x26, 0x1f, 0x34, 0x3a,
    0x00, 0x26, 0x0f, 0x22, 0x01, 0xff, 0x7a, 0x50, 0x61, 0x6c, 0x6c, 0x3b, 0x20};

static size_t liblz4_text(unsigned char *out)
{
    static const char rest[] = ": the compressed page store keeps cold pages small; ";
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        for (const char *p = "page "; *p; p++)
            out[n++] = (unsigned char)*p;
        out[n++] = (unsigned char)('0' + i % 5);
        for (const char *p = rest; *p; p++)
            out[n++] = (unsigned char)*p;
    }
    return n;
}

static void lz4_decodes_liblz4(void)
{
    static unsigned char text[1024];
    size_t n = liblz4_text(text);
    KT_ASSERT(n == 696);
    int r = lz4_decompress(liblz4_block, sizeof(liblz4_block), back, sizeof(back));
    KT_ASSERT(r == 696);
    KT_ASSERT(memcmp(back, text, n) == 0);
    /* and ours of the same text comes back */
    int c = lz4_compress(text, n, block, sizeof(block), work);
    KT_ASSERT(c > 0 && c < 200);
    KT_ASSERT(lz4_decompress(block, (size_t)c, back, n) == 696);
    KT_ASSERT(memcmp(back, text, n) == 0);
}

/* kind 0: zeroes, 1: words of a structure, 2: text-like, 3: random */
static void fill(int kind, uint32_t *seed)
{
    static const char words[] = "the page store keeps cold pages compressed and brings them back ";
    for (size_t i = 0; i < PAGE; i++) {
        switch (kind) {
        case 0:
            page[i] = 0;
            break;
        case 1:
            page[i] = (i & 15) < 4 ? (unsigned char)(i >> 4) : (i & 15) < 8 ? 0 : 0xC0;
            break;
        case 2:
            page[i] = (unsigned char)words[(i + rng_below(seed, 4) / 3) % (sizeof(words) - 1)];
            break;
        default:
            page[i] = (unsigned char)rng_next(seed);
        }
    }
}

static void lz4_round_trips_pages(void)
{
    uint32_t seed = 0xBEEF;
    for (int kind = 0; kind < 4; kind++) {
        for (int rep = 0; rep < 4; rep++) {
            fill(kind, &seed);
            int c = lz4_codec.compress(page, PAGE, block, lz4_codec.bound(PAGE), work);
            KT_ASSERT(c > 0 && (size_t)c <= lz4_bound(PAGE));
            if (kind == 0)
                KT_ASSERT(c < 64);
            if (kind == 3)
                KT_ASSERT(c > (int)PAGE);
            for (size_t i = 0; i < sizeof(back); i++)
                back[i] = 0x5A;
            KT_ASSERT(lz4_codec.decompress(block, (size_t)c, back, PAGE) == (int)PAGE);
            KT_ASSERT(memcmp(back, page, PAGE) == 0);
            for (size_t i = PAGE; i < sizeof(back); i++)
                KT_ASSERT(back[i] == 0x5A);
        }
    }
}

static void lz4_refuses_malformed(void)
{
    static const unsigned char off0[] = {0x40, 'a', 'b', 'c', 'd', 0x00, 0x00, 0x10, 'x'};
    static const unsigned char far[] = {0x40, 'a', 'b', 'c', 'd', 0x05, 0x00, 0x10, 'x'};
    KT_ASSERT(lz4_decompress(off0, sizeof(off0), back, 64) == LZ4_E_OFFSET);
    KT_ASSERT(lz4_decompress(far, sizeof(far), back, 64) == LZ4_E_OFFSET);
    /* every truncation of liblz4's block: an error or a shorter prefix of its text */
    static unsigned char text[1024];
    size_t n = liblz4_text(text);
    for (size_t len = 0; len < sizeof(liblz4_block); len++) {
        for (size_t i = 0; i < sizeof(back); i++)
            back[i] = 0x5A;
        int r = lz4_decompress(liblz4_block, len, back, n);
        KT_ASSERT(r < 0 || ((size_t)r < n && memcmp(back, text, (size_t)r) == 0));
        for (size_t i = n; i < sizeof(back); i++)
            KT_ASSERT(back[i] == 0x5A);
    }
    /* too small an output */
    KT_ASSERT(lz4_decompress(liblz4_block, sizeof(liblz4_block), back, n - 1) == LZ4_E_NOSPACE);
    KT_ASSERT(lz4_compress(text, n, block, 10, work) == LZ4_E_NOSPACE);
}

const struct ktest ktest_lz4[] = {
    {"lz4: decodes a block of liblz4's", lz4_decodes_liblz4},
    {"lz4: round trips of zero, structure, text and random pages", lz4_round_trips_pages},
    {"lz4: malformed blocks refused, nothing written past the output", lz4_refuses_malformed},
    {NULL, NULL},
};

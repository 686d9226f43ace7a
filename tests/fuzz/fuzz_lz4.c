/*
 * fuzz_lz4.c - libFuzzer target for the LZ4 codec (mm/lz4.c, issue 14 item 1),
 * x86_64 under ASan + UBSan, linked with Debian's liblz4 as the reference.
 *
 * Input: byte 0 picks the mode.
 *   even: decode.  Bytes 1-2 (little-endian) give the output capacity (mod
 *         2 pages + 1), the rest is a block for lz4_decompress.  The output sits
 *         between two guard zones that ASan poisons (a touch stops the fuzzer)
 *         and that are checked after; the input is a copy of exactly its size.
 *         The result is an error or at most the capacity; where liblz4 decodes
 *         the same block, ours must give the same bytes (but for an offset of 0,
 *         which the format calls invalid: ours refuses it, liblz4 1.9.4 does
 *         not); what ours decodes is
 *         compressed again and must come back (round trip, liblz4 too).
 *   odd:  round trip.  The rest (up to 8 KB: a page, or any length) is
 *         compressed by ours into the bound and into a capacity from byte 1;
 *         the smaller one either fails with LZ4_E_NOSPACE (the block is larger)
 *         or gives the same block; liblz4 and ours both decode it to the input.
 *
 *   build/fuzz/fuzz_lz4 FILE   replays one input
 */
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lz4.h"
#include "memory.h" /* memcpy & co.: mm/string.c's (MM_HOSTED renames them) */

/* liblz4's block API (its header is also lz4.h) */
int LZ4_compress_default(const char *src, char *dst, int src_size, int dst_capacity);
int LZ4_decompress_safe(const char *src, char *dst, int compressed_size, int dst_capacity);

#define PAGE      4096u
#define GUARD     64u
#define GUARD_VAL 0xA5
#define MAX_IN    8192u

static uint32_t work[LZ4_WORK_SIZE / 4];

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_lz4: " __VA_ARGS__);                                                 \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* An output of cap bytes between two poisoned guard zones. */
static unsigned char *guarded(size_t cap, unsigned char **mem)
{
    *mem = malloc(2 * GUARD + cap);
    if (!*mem)
        abort();
    memset(*mem, GUARD_VAL, 2 * GUARD + cap);
    ASAN_POISON_MEMORY_REGION(*mem, GUARD);
    ASAN_POISON_MEMORY_REGION(*mem + GUARD + cap, GUARD);
    return *mem + GUARD;
}

static void guard_check(unsigned char *mem, size_t cap, const char *what)
{
    ASAN_UNPOISON_MEMORY_REGION(mem, GUARD);
    ASAN_UNPOISON_MEMORY_REGION(mem + GUARD + cap, GUARD);
    for (size_t i = 0; i < GUARD; i++)
        if (mem[i] != GUARD_VAL || mem[GUARD + cap + i] != GUARD_VAL)
            FAIL("%s: a guard byte changed (capacity %zu)", what, cap);
    free(mem);
}

/* Ours compresses data; liblz4 and ours decode it back to data. */
static void round_trip(const unsigned char *data, size_t n, size_t small_cap)
{
    size_t bound = lz4_bound(n);
    unsigned char *mem, *block = guarded(bound, &mem);
    int c = lz4_compress(data, n, block, bound, work);
    if (c <= 0 || (size_t)c > bound)
        FAIL("lz4_compress of %zu bytes returned %d (bound %zu)", n, c, bound);

    if (small_cap < bound) {
        unsigned char *mem2, *small = guarded(small_cap, &mem2);
        int s = lz4_compress(data, n, small, small_cap, work);
        if (s >= 0 && (s != c || memcmp(small, block, (size_t)c) != 0))
            FAIL("compressing %zu bytes into %zu gave %d bytes, into the bound %d", n, small_cap, s,
                 c);
        if (s < 0 && (s != LZ4_E_NOSPACE || small_cap >= (size_t)c))
            FAIL("compressing %zu bytes into %zu returned %d (block %d)", n, small_cap, s, c);
        guard_check(mem2, small_cap, "lz4_compress");
    }

    unsigned char *back = malloc(n + 1);
    if (!back)
        abort();
    int r = LZ4_decompress_safe((const char *)block, (char *)back, c, (int)n);
    if (r != (int)n || memcmp(back, data, n) != 0)
        FAIL("liblz4 decodes our %d-byte block of %zu bytes to %d bytes", c, n, r);
    r = lz4_decompress(block, (size_t)c, back, n);
    if (r != (int)n || memcmp(back, data, n) != 0)
        FAIL("our round trip of %zu bytes gives %d bytes", n, r);
    free(back);
    guard_check(mem, bound, "lz4_compress");
}

/*
 * 1 if the first bad offset of a block (walking it as the format describes)
 * is 0, which the format calls invalid and we refuse, while liblz4 1.9.4
 * decodes it (its reference decoder fills the match with zeros).
 */
static int zero_offset_first(const unsigned char *b, size_t n)
{
    size_t i = 0, pos = 0;

    while (i < n) {
        unsigned token = b[i++];
        size_t lit = token >> 4, ml = token & 15;
        for (unsigned x = 255; lit >= 15 && x == 255 && i < n; lit += x)
            x = b[i++];
        i += lit;
        pos += lit;
        if (i + 2 > n)
            return 0;
        size_t off = b[i] | (size_t)b[i + 1] << 8;
        i += 2;
        if (off == 0)
            return 1;
        if (off > pos)
            return 0;
        for (unsigned x = 255; ml >= 15 && x == 255 && i < n; ml += x)
            x = b[i++];
        pos += ml + 4;
    }
    return 0;
}

static void decode(const unsigned char *data, size_t n, size_t cap)
{
    unsigned char *in = malloc(n ? n : 1);
    unsigned char *mem, *out = guarded(cap, &mem);
    if (!in)
        abort();
    memcpy(in, data, n);
    int r = lz4_decompress(in, n, out, cap);
    if (r > (int)cap)
        FAIL("lz4_decompress returned %d for a capacity of %zu", r, cap);
    if (r < 0 && !(r == LZ4_E_NOSPACE || r == LZ4_E_TRUNCATED || r == LZ4_E_OFFSET))
        FAIL("lz4_decompress returned %d (%s) for a valid call", r, lz4_strerror(r));

    unsigned char *ref = malloc(cap + 1);
    if (!ref)
        abort();
    int lr = LZ4_decompress_safe((const char *)in, (char *)ref, (int)n, (int)cap);
    int zero_ok = r == LZ4_E_OFFSET && zero_offset_first(in, n);
    if (lr >= 0 && !zero_ok && (r != lr || memcmp(out, ref, (size_t)lr) != 0))
        FAIL("liblz4 decodes the %zu-byte block to %d bytes, ours returns %d%s", n, lr, r,
             r == lr ? " other bytes" : "");
    if (r > 0)
        round_trip(out, (size_t)r, (size_t)r / 2);
    free(ref);
    free(in);
    guard_check(mem, cap, "lz4_decompress");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        if (size < 3)
            return 0;
        size_t cap = ((size_t)data[1] | (size_t)data[2] << 8) % (2 * PAGE + 1);
        decode(data + 3, size - 3, cap);
    } else {
        if (size < 2)
            return 0;
        size_t n = size - 2 > MAX_IN ? MAX_IN : size - 2;
        round_trip(data + 2, n, (size_t)data[1] * 16);
    }
    return 0;
}

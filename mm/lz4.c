/*
 * lz4.c - LZ4 block compression, written from the public block format
 * description (lz4_Block_format.md); see lz4.h for the format and contract.
 *
 * Compressor: greedy LZ77 over a hash table of positions.  The table lives in
 * the caller's work memory (LZ4_WORK_SIZE bytes, zeroed per block so the
 * output depends on the input only): inputs under 64 KB index 8192 16-bit
 * positions, larger ones 4096 32-bit positions.  At each position the first 4
 * bytes are hashed (Fibonacci hashing); the position last seen with that hash
 * is a candidate if it is within 65535 bytes and its 4 bytes really match.  A
 * match is extended backwards over pending literals and forwards a word at a
 * time.  After 64 misses in a row the scan steps 2 bytes, after 128 3, ...
 * (incompressible data costs little).  The format's end-of-block rules, which
 * liblz4's decoder relies on, are kept: a match starts at least MF_LIMIT (12)
 * bytes before the end, ends at least LAST_LITERALS (5) bytes before it, and
 * the block ends with a sequence of literals only.
 *
 *   sequence:  | token | literal length+ | literals | offset (LE16) | match length+ |
 *   token:     | literals (4 bits) | match length - 4 (4 bits) |   15: + bytes, 255 = more
 *
 * Decompressor: every length is checked against the bytes left in the input
 * and in the output before it is used, every offset against the bytes already
 * written (offset 0 is invalid), and length bytes stop adding once the total
 * passes LZ4_MAX_INPUT, so no sum wraps on a 32-bit machine.  Copies go a
 * machine word at a time (unaligned loads: x86; no vector registers), and
 * write past a run's exact end only inside the output buffer: the common
 * sequence (a run under 15 bytes, a match under 19 bytes a word or more back)
 * is copied as 16 and 18 bytes rounded to words when both buffers have room
 * for that (FAST_ROOM, SHORT_MATCH_ROOM), a longer copy in 2-word steps when
 * 2 words are left past its end.  A match closer than a word is first
 * extended byte by byte, then copied from a multiple of its period at least a
 * word back.  The offset 0, invalid in the format, is refused (liblz4 1.9.4
 * decodes it as zeros).
 *
 * Uses only memset (mm/string.c); no allocation, no lock, no log: the caller
 * (the compressed page store) reports.
 */
#include "lz4.h"
#include "memory.h"

#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lz4.c counts matching bytes with a little-endian word compare"
#endif

#define MIN_MATCH        4
#define LAST_LITERALS    5  /* the last 5 bytes of a block are always literals */
#define MF_LIMIT         12 /* a match starts at least 12 bytes before the end */
#define MAX_OFFSET       65535u
#define RUN_MASK         15u /* a 4-bit length field of 15: more bytes follow */
#define SKIP_SHIFT       6   /* step + 1 after every 64 misses in a row */
#define SMALL_INPUT      65536u
#define HASH_LOG16       13 /* 8192 x uint16_t = LZ4_WORK_SIZE */
#define HASH_LOG32       12 /* 4096 x uint32_t = LZ4_WORK_SIZE */
#define WILD             16 /* a literal run under 15 bytes is copied as 16 */
/* room for the longest short match (18 bytes) copied in whole words */
#define SHORT_MATCH_ROOM ((RUN_MASK - 1 + MIN_MATCH + W - 1) / W * W)
/* a short run and its short match both copied whole */
#define FAST_ROOM        (RUN_MASK - 1 + SHORT_MATCH_ROOM + W)

_Static_assert((1u << HASH_LOG16) * sizeof(uint16_t) == LZ4_WORK_SIZE, "table of 16-bit positions");
_Static_assert((1u << HASH_LOG32) * sizeof(uint32_t) == LZ4_WORK_SIZE, "table of 32-bit positions");
_Static_assert(LZ4_BOUND((size_t)LZ4_MAX_INPUT) < 0x80000000u, "sizes fit an int");

/* Unaligned, aliasing-safe word and 32-bit access (x86 loads unaligned words). */
typedef size_t __attribute__((may_alias, aligned(1))) lz4_word_t;
typedef uint32_t __attribute__((may_alias, aligned(1))) lz4_u32_t;
#define W sizeof(size_t)

static inline uint32_t read32(const uint8_t *p)
{
    return *(const lz4_u32_t *)p;
}

static inline size_t read_word(const uint8_t *p)
{
    return *(const lz4_word_t *)p;
}

static inline void write_word(uint8_t *p, size_t v)
{
    *(lz4_word_t *)p = v;
}

/* Bytes equal at the low end of two words whose XOR is diff (not 0). */
static inline size_t equal_low_bytes(size_t diff)
{
#if defined(__SIZEOF_SIZE_T__) && __SIZEOF_SIZE_T__ == 8
    return (size_t)__builtin_ctzll(diff) >> 3;
#else
    /* bsf: every x86 since the 386, no library call */
    return (size_t)__builtin_ctz((uint32_t)diff) >> 3;
#endif
}

/*
 * Copy n bytes from s to d, s before d or in another buffer, s at least a word
 * before d when they overlap (each word is read after the words before it were
 * written: may_alias keeps the order).  room: the bytes that may be read from s
 * on and written from d on; when it allows, whole 2-word steps overrun the end
 * (fewer tests than a word loop and a byte tail).
 */
static void copy_forward(uint8_t *d, const uint8_t *s, size_t n, size_t room)
{
    if (room >= n + 2 * W) {
        for (size_t i = 0; i < n; i += 2 * W) {
            write_word(d + i, read_word(s + i));
            write_word(d + i + W, read_word(s + i + W));
        }
        return;
    }
    for (; n >= W; n -= W, d += W, s += W)
        write_word(d, read_word(s));
    while (n--)
        *d++ = *s++;
}

/* Copy WILD bytes (the caller has room for them): a short run in one go. */
static inline void copy_wild(uint8_t *d, const uint8_t *s)
{
    for (size_t i = 0; i < WILD; i += W)
        write_word(d + i, read_word(s + i));
}

/* ---------------------------------------------------------- compressor ---- */

static inline uint32_t hash4(uint32_t v, unsigned log)
{
    return (v * 2654435761u) >> (32 - log);
}

/* The extra bytes of a length field for len (>= 15): 255 each, then the rest. */
static inline size_t extra_bytes(size_t len)
{
    return len >= RUN_MASK ? (len - RUN_MASK) / 255 + 1 : 0;
}

static inline uint8_t *put_extra(uint8_t *op, size_t len)
{
    if (len < RUN_MASK)
        return op;
    for (len -= RUN_MASK; len >= 255; len -= 255)
        *op++ = 255;
    *op++ = (uint8_t)len;
    return op;
}

/* Bytes equal at a and b (b before a), a going no further than limit. */
static inline size_t match_length(const uint8_t *a, const uint8_t *b, const uint8_t *limit)
{
    const uint8_t *start = a;

    while (a + W <= limit) {
        size_t diff = read_word(a) ^ read_word(b);
        if (diff)
            return (size_t)(a - start) + equal_low_bytes(diff);
        a += W;
        b += W;
    }
    while (a < limit && *a == *b) {
        a++;
        b++;
    }
    return (size_t)(a - start);
}

/*
 * One block; small (a constant in each caller) picks the table of 16-bit
 * positions.  Returns the compressed size or LZ4_E_NOSPACE.
 */
static inline __attribute__((always_inline)) int
compress_block(const uint8_t *src, size_t n, uint8_t *dst, size_t cap, void *work, int small)
{
    uint16_t *table16 = work;
    uint32_t *table32 = work;
    unsigned log = small ? HASH_LOG16 : HASH_LOG32;
    const uint8_t *ip = src, *anchor = src;
    const uint8_t *const end = src + n;
    uint8_t *op = dst;
    uint8_t *const oend = dst + cap;

    if (n > MF_LIMIT) {
        const uint8_t *const mflimit = end - MF_LIMIT;     /* the last match start */
        const uint8_t *const mlimit = end - LAST_LITERALS; /* no match goes past it */

        /* Every entry 0: position 0 is in the table. */
        memset(work, 0, LZ4_WORK_SIZE);
        ip++;
        for (;;) {
            const uint8_t *ref;
            unsigned misses = 1u << SKIP_SHIFT;

            for (;;) { /* find a match at ip (ip <= mflimit here) */
                uint32_t seq = read32(ip);
                uint32_t h = hash4(seq, log);
                size_t pos = (size_t)(ip - src);
                size_t cand = small ? table16[h] : table32[h];
                if (small)
                    table16[h] = (uint16_t)pos;
                else
                    table32[h] = (uint32_t)pos;
                ref = src + cand;
                /* (a small input's every offset fits 16 bits) */
                if (cand < pos && (small || pos - cand <= MAX_OFFSET) && read32(ref) == seq)
                    break;
                size_t step = misses++ >> SKIP_SHIFT;
                if (step > (size_t)(mflimit - ip))
                    goto last_literals; /* (never a pointer past the end) */
                ip += step;
            }
            while (ip > anchor && ref > src && ip[-1] == ref[-1]) {
                ip--;
                ref--;
            }

            size_t lit = (size_t)(ip - anchor);
            size_t mlen = MIN_MATCH + match_length(ip + MIN_MATCH, ref + MIN_MATCH, mlimit);
            size_t off = (size_t)(ip - ref);
            size_t need = 1 + extra_bytes(lit) + lit + 2 + extra_bytes(mlen - MIN_MATCH);
            if (need > (size_t)(oend - op))
                return LZ4_E_NOSPACE;

            uint8_t *token = op++;
            *token = (uint8_t)(((lit < RUN_MASK ? lit : RUN_MASK) << 4) |
                               (mlen - MIN_MATCH < RUN_MASK ? mlen - MIN_MATCH : RUN_MASK));
            op = put_extra(op, lit);
            size_t oroom = (size_t)(oend - op), iroom = (size_t)(end - anchor);
            copy_forward(op, anchor, lit, oroom < iroom ? oroom : iroom);
            op += lit;
            *op++ = (uint8_t)off;
            *op++ = (uint8_t)(off >> 8);
            op = put_extra(op, mlen - MIN_MATCH);

            ip += mlen;
            anchor = ip;
            if (ip > mflimit)
                break;
            /* the position 2 back, so that a repeat right after is found */
            uint32_t h2 = hash4(read32(ip - 2), log);
            if (small)
                table16[h2] = (uint16_t)(ip - 2 - src);
            else
                table32[h2] = (uint32_t)(ip - 2 - src);
        }
    }

last_literals:;
    size_t lit = (size_t)(end - anchor);
    if (1 + extra_bytes(lit) + lit > (size_t)(oend - op))
        return LZ4_E_NOSPACE;
    *op++ = (uint8_t)((lit < RUN_MASK ? lit : RUN_MASK) << 4);
    op = put_extra(op, lit);
    copy_forward(op, anchor, lit, 0);
    op += lit;
    return (int)(op - dst);
}

/* A buffer of n bytes at p that wraps around the address space is a wild pointer. */
static inline int wraps(const void *p, size_t n)
{
    return (uintptr_t)p + n < (uintptr_t)p;
}

int lz4_compress(const void *src, size_t src_len, void *dst, size_t dst_cap, void *work)
{
    if ((!src && src_len) || (!dst && dst_cap) || !work || src_len > LZ4_MAX_INPUT ||
        wraps(src, src_len) || wraps(dst, dst_cap))
        return LZ4_E_ARG;
    if (!dst)
        return LZ4_E_NOSPACE; /* dst_cap is 0: no room even for an empty block's token */
    if (!src)
        src = dst; /* src_len is 0: never read, but src + 0 must be defined */
    if (src_len < SMALL_INPUT)
        return compress_block(src, src_len, dst, dst_cap, work, 1);
    return compress_block(src, src_len, dst, dst_cap, work, 0);
}

size_t lz4_bound(size_t src_len)
{
    return src_len > LZ4_MAX_INPUT ? 0 : LZ4_BOUND(src_len);
}

/* -------------------------------------------------------- decompressor ---- */

/*
 * Add the extra bytes of a length field to *len.  LZ4_E_TRUNCATED if the input
 * ends first; LZ4_E_NOSPACE once the length passes LZ4_MAX_INPUT (no output
 * holds it, and the sum stays far from wrapping).
 */
static inline int read_length(const uint8_t **pp, const uint8_t *iend, size_t *len)
{
    const uint8_t *p = *pp;
    unsigned b;

    do {
        if (p >= iend)
            return LZ4_E_TRUNCATED;
        b = *p++;
        *len += b;
        if (*len > LZ4_MAX_INPUT)
            return LZ4_E_NOSPACE;
    } while (b == 255);
    *pp = p;
    return 0;
}

int lz4_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap)
{
    static uint8_t nothing;
    const uint8_t *ip = src;
    uint8_t *op = dst;

    if (!src || (!dst && dst_cap) || wraps(src, src_len) || wraps(dst, dst_cap))
        return LZ4_E_ARG;
    if (!dst)
        op = &nothing; /* dst_cap is 0: never written, but op + 0 must be defined */
    if (dst_cap > LZ4_MAX_INPUT)
        dst_cap = LZ4_MAX_INPUT;

    const uint8_t *const iend = ip + src_len;
    uint8_t *const ostart = op;
    uint8_t *const oend = op + dst_cap;
    /* the last addresses where the fast paths have room (0: nowhere; no
     * pointer before a buffer is ever formed) */
    const uintptr_t ifast = src_len >= WILD + 2 ? (uintptr_t)iend - (WILD + 2) : 0;
    const uintptr_t ofast = dst_cap >= FAST_ROOM ? (uintptr_t)oend - FAST_ROOM : 0;
    const uintptr_t omatch = dst_cap >= SHORT_MATCH_ROOM ? (uintptr_t)oend - SHORT_MATCH_ROOM : 0;

    for (;;) {
        int err;

        if (ip >= iend)
            return LZ4_E_TRUNCATED; /* empty, or a match was the last sequence */
        unsigned token = *ip++;

        size_t lit = token >> 4;
        if (lit < RUN_MASK && (uintptr_t)ip <= ifast && (uintptr_t)op <= ofast) {
            /* the common case: a short run with room after it in both buffers;
             * its offset is in the input (lit + 2 <= WILD + 2) */
            copy_wild(op, ip);
            ip += lit;
            op += lit;
        } else {
            if (lit == RUN_MASK && (err = read_length(&ip, iend, &lit)) != 0)
                return err == LZ4_E_NOSPACE ? LZ4_E_TRUNCATED : err; /* more than the input */
            if (lit > (size_t)(iend - ip))
                return LZ4_E_TRUNCATED;
            if (lit > (size_t)(oend - op))
                return LZ4_E_NOSPACE;
            size_t oroom = (size_t)(oend - op), iroom = (size_t)(iend - ip);
            copy_forward(op, ip, lit, oroom < iroom ? oroom : iroom);
            ip += lit;
            op += lit;
            if (ip == iend)
                return (int)(op - ostart); /* the last sequence: literals only */
            if (iend - ip < 2)
                return LZ4_E_TRUNCATED;
        }

        size_t off = (size_t)ip[0] | (size_t)ip[1] << 8;
        ip += 2;
        /* offset 0 wraps to the largest size_t: one test for both errors */
        if (off - 1 >= (size_t)(op - ostart))
            return LZ4_E_OFFSET;
        const uint8_t *m = op - off;
        size_t mlen = token & RUN_MASK;
        if (mlen < RUN_MASK && off >= W && (uintptr_t)op <= omatch) {
            /* a short match a word or more back: its longest (18 bytes) in whole words */
            for (size_t i = 0; i < RUN_MASK - 1 + MIN_MATCH; i += W)
                write_word(op + i, read_word(m + i));
            op += mlen + MIN_MATCH;
            continue;
        }
        if (mlen == RUN_MASK && (err = read_length(&ip, iend, &mlen)) != 0)
            return err;
        mlen += MIN_MATCH;
        if (mlen > (size_t)(oend - op))
            return LZ4_E_NOSPACE;

        if (off < W) {
            /* closer than a word: the first word's bytes one by one, then the
             * rest from the multiple of the period at least a word back */
            size_t head = mlen < W ? mlen : W;
            for (size_t i = 0; i < head; i++)
                op[i] = m[i];
            op += head;
            mlen -= head;
            if (mlen == 0)
                continue;
            m = op - off * ((W + off - 1) / off); /* op - ostart >= off + W: in dst */
        }
        copy_forward(op, m, mlen, (size_t)(oend - op));
        op += mlen;
    }
}

const char *lz4_strerror(int err)
{
    switch (err) {
    case LZ4_E_ARG:
        return "bad argument (NULL, wrapping or over LZ4_MAX_INPUT)";
    case LZ4_E_NOSPACE:
        return "output does not fit";
    case LZ4_E_TRUNCATED:
        return "input truncated";
    case LZ4_E_OFFSET:
        return "bad match offset";
    default:
        return err >= 0 ? "no error" : "unknown error";
    }
}

const mm_codec_t lz4_codec = {
    .name = "lz4",
    .work_size = LZ4_WORK_SIZE,
    .compress = lz4_compress,
    .decompress = lz4_decompress,
    .bound = lz4_bound,
};

/*
 * lz4.h - the LZ4 block format (compressor and bounds-checked decompressor),
 * and the codec interface the compressed page store calls (issue 14).
 *
 * The format is LZ4's *block* format (lz4_Block_format.md), not its frame
 * format: a block is a run of sequences, each a token byte (literal count in
 * the high nibble, match length - 4 in the low one, 15 meaning "more length
 * bytes follow"), the literals, a 2-byte little-endian offset (1..65535) and
 * the match length's extra bytes; the last sequence has literals only.  Every
 * block lz4_compress makes is decoded by liblz4's LZ4_decompress_safe, and
 * every block liblz4 makes is decoded by lz4_decompress (tests/host/test_lz4.c).
 *
 * Both functions return a byte count (>= 0) or a negative LZ4_E_* error; they
 * never read or write outside [src, src + src_len) and [dst, dst + dst_cap),
 * whatever the input.  Neither allocates, locks or logs: the caller reports.
 */
#ifndef MM_LZ4_H
#define MM_LZ4_H

#include "names_priv.h"

#include <stddef.h>

/*
 * A codec: what the compressed page store needs of one.  An embedder may plug
 * in another (the store takes a const mm_codec_t *); lz4_codec is the default.
 *   compress(src, n, dst, cap, work): the compressed size, or a negative error
 *       (LZ4_E_NOSPACE: does not fit in cap bytes: store the page whole);
 *       work is work_size bytes of the caller's, aligned for a uint32_t
 *   decompress(src, n, dst, cap): the decompressed size, or a negative error
 *   bound(n): the most compress can write for n input bytes (0: n too large)
 * A codec is pure computation: it must not call mm/ (no vfree, no
 * zstore_set_codec; it may run with mm/'s lock held, where such a call nests
 * and frees what its caller holds: test_attack_transit_findings 3-5).
 */
typedef struct mm_codec {
    const char *name;
    size_t work_size;
    int (*compress)(const void *src, size_t src_len, void *dst, size_t dst_cap, void *work);
    int (*decompress)(const void *src, size_t src_len, void *dst, size_t dst_cap);
    size_t (*bound)(size_t src_len);
} mm_codec_t;

extern const mm_codec_t lz4_codec;

/* Errors (negative return values); lz4_strerror names one in a few words. */
#define LZ4_E_ARG       (-1) /* NULL buffer, or an input larger than LZ4_MAX_INPUT */
#define LZ4_E_NOSPACE   (-2) /* the output does not fit in dst_cap bytes */
#define LZ4_E_TRUNCATED (-3) /* the block ends inside a sequence (or is empty) */
#define LZ4_E_OFFSET    (-4) /* a match offset of 0, or before the start of the output */

/* The largest input either function accepts (as liblz4's LZ4_MAX_INPUT_SIZE). */
#define LZ4_MAX_INPUT 0x7E000000u

/* Bytes of work memory lz4_compress needs: its hash table of positions. */
#define LZ4_WORK_SIZE 16384u

/* The most lz4_compress writes for n input bytes (n + n/255 + 16, as liblz4's bound). */
#define LZ4_BOUND(n) ((n) + (n) / 255u + 16u)

int lz4_compress(const void *src, size_t src_len, void *dst, size_t dst_cap, void *work);
int lz4_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap);
size_t lz4_bound(size_t src_len);
const char *lz4_strerror(int err);

#endif /* MM_LZ4_H */

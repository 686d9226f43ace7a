/*
 * lz4_bench.c - make bench: our LZ4 codec (mm/lz4.c) against Debian's liblz4
 * (LZ4_compress_default, LZ4_decompress_safe) on the corpus of the tests
 * (tests/host/lz4_corpus.h), one 4 KB page per block, as the compressed page
 * store will use it.  Issue 14's targets: a ratio within 3% of liblz4's,
 * compression and decompression at least 0.7x liblz4's speed.
 *
 *   lz4_bench               ratios, then speeds: each pass over every page, the
 *                           best of ROUNDS rounds of PASSES passes (4 x for
 *                           decompression, ~5x faster), ours' and
 *                           liblz4's rounds in turn (one run)
 *   lz4_bench --insn WHAT   one pass of WHAT (ours-compress, liblz4-compress,
 *                           ours-decompress, liblz4-decompress) inside insn_pass(),
 *                           for callgrind --toggle-collect=insn_pass (tools/lz4-bench.sh):
 *                           instruction counts, the same on every run
 *
 * Ours is built for x86_64 at -O2 -fno-builtin like the host tests (liblz4 is
 * Debian's x86_64 build); the kernel's i386 build is not timed (this machine may
 * not run i386 programs natively).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/host/lz4_corpus.h"
#include "bench.h"
#include "lz4.h"

/* liblz4's block API (its lz4.h: -Imm would find ours first) */
int LZ4_compress_default(const char *src, char *dst, int src_size, int dst_capacity);
int LZ4_decompress_safe(const char *src, char *dst, int compressed_size, int dst_capacity);
int LZ4_versionNumber(void);

#define PAGE   CORPUS_PAGE
#define BOUND  LZ4_BOUND(PAGE)
#define ROUNDS 15
#define PASSES 5

static struct corpus corpus;
static uint32_t work[LZ4_WORK_SIZE / 4];
static unsigned char *blocks[2]; /* [0] ours, [1] liblz4's: BOUND bytes per page */
static int *sizes[2];
static unsigned char out[PAGE];
static volatile unsigned sink;

static void compress_all(int who)
{
    for (size_t p = 0; p < corpus.pages; p++) {
        const unsigned char *page = corpus_page(&corpus, p);
        unsigned char *b = blocks[who] + p * BOUND;
        int n = who ? LZ4_compress_default((const char *)page, (char *)b, PAGE, BOUND)
                    : lz4_compress(page, PAGE, b, BOUND, work);
        if (n <= 0) {
            fprintf(stderr, "lz4_bench: %s compress failed on page %zu: %d\n",
                    who ? "liblz4" : "ours", p, n);
            exit(1);
        }
        sizes[who][p] = n;
    }
}

static void decompress_all(int who)
{
    for (size_t p = 0; p < corpus.pages; p++) {
        const unsigned char *b = blocks[who] + p * BOUND;
        int n = who ? LZ4_decompress_safe((const char *)b, (char *)out, sizes[who][p], PAGE)
                    : lz4_decompress(b, (size_t)sizes[who][p], out, PAGE);
        if (n != (int)PAGE) {
            fprintf(stderr, "lz4_bench: %s decompress failed on page %zu: %d\n",
                    who ? "liblz4" : "ours", p, n);
            exit(1);
        }
        sink += out[p % PAGE];
    }
}

/* callgrind counts what runs inside this function (--toggle-collect=insn_pass) */
__attribute__((noinline)) void insn_pass(int who, int decompress)
{
    if (decompress)
        decompress_all(who);
    else
        compress_all(who);
}

/*
 * MB/s of ours and liblz4's best round (PASSES passes over the corpus each),
 * rounds alternating between the two so that both see the same load of the
 * shared machine.
 */
static void speeds(int decompress, double mbs[2])
{
    double best[2] = {1e30, 1e30};
    int passes = decompress ? 4 * PASSES : PASSES; /* decoding is ~5x faster */
    for (int r = 0; r < ROUNDS; r++) {
        for (int who = 0; who < 2; who++) {
            double t = now();
            for (int i = 0; i < passes; i++)
                insn_pass(who, decompress);
            t = now() - t;
            if (t < best[who])
                best[who] = t;
        }
    }
    for (int who = 0; who < 2; who++)
        mbs[who] = (double)corpus.pages * PAGE * passes / best[who] / 1e6;
}

int main(int argc, char **argv)
{
    corpus_build(&corpus, "build/kernel.elf");
    for (int w = 0; w < 2; w++) {
        blocks[w] = malloc(corpus.pages * BOUND);
        sizes[w] = malloc(corpus.pages * sizeof(int));
        if (!blocks[w] || !sizes[w])
            return 1;
        compress_all(w);
    }

    if (argc == 3 && strcmp(argv[1], "--insn") == 0) {
        int who = strncmp(argv[2], "liblz4", 6) == 0;
        int dec = strstr(argv[2], "decompress") != NULL;
        insn_pass(who, dec);
        printf("pages %zu bytes %zu\n", corpus.pages, corpus.pages * (size_t)PAGE);
        return 0;
    }

    printf("corpus: %zu pages of 4 KB (text %zu, elf %zu, kernel %zu, zero %zu, random %zu, "
           "mixed %zu); liblz4 %d\n",
           corpus.pages, corpus.count[K_TEXT], corpus.count[K_ELF], corpus.count[K_KERNEL],
           corpus.count[K_ZERO], corpus.count[K_RANDOM], corpus.count[K_MIXED],
           LZ4_versionNumber());
    printf("%-8s %12s %12s %10s %10s %8s\n", "kind", "ours bytes", "liblz4", "ours", "liblz4",
           "ours/lz4");
    size_t all[2] = {0, 0};
    for (int k = 0; k < K_COUNT; k++) {
        size_t sum[2] = {0, 0};
        for (size_t p = corpus.first[k]; p < corpus.first[k] + corpus.count[k]; p++)
            for (int w = 0; w < 2; w++)
                sum[w] += (size_t)sizes[w][p];
        if (!corpus.count[k])
            continue;
        double in = (double)corpus.count[k] * PAGE;
        printf("%-8s %12zu %12zu %10.3f %10.3f %8.3f\n", corpus_kind_name[k], sum[0], sum[1],
               in / sum[0], in / sum[1], (double)sum[1] / sum[0]);
        all[0] += sum[0];
        all[1] += sum[1];
    }
    double in = (double)corpus.pages * PAGE;
    double rel = (double)all[1] / all[0];
    printf("%-8s %12zu %12zu %10.3f %10.3f %8.3f\n", "all", all[0], all[1], in / all[0],
           in / all[1], rel);
    printf("ratio: ours %.3f, liblz4 %.3f: ours is %.2f%% of liblz4's (target: within 3%%): %s\n",
           in / all[0], in / all[1], 100 * rel, rel >= 0.97 ? "met" : "MISSED");

    double c[2], d[2];
    speeds(0, c);
    speeds(1, d);
    double c0 = c[0], c1 = c[1], d0 = d[0], d1 = d[1];
    printf("speed (MB/s of input, best of %d rounds of %d passes (decompression %d), ours' and "
           "liblz4's rounds in turn; wall clock, shared machine):\n",
           ROUNDS, PASSES, 4 * PASSES);
    printf("  compress    ours %7.0f  liblz4 %7.0f  ours/liblz4 %.2fx (target >= 0.7x): %s\n", c0,
           c1, c0 / c1, c0 / c1 >= 0.7 ? "met" : "MISSED");
    printf("  decompress  ours %7.0f  liblz4 %7.0f  ours/liblz4 %.2fx (target >= 0.7x): %s\n", d0,
           d1, d0 / d1, d0 / d1 >= 0.7 ? "met" : "MISSED");
    return 0;
}

/*
 * lz4_corpus.h - the codec's test corpus, built at run time from data any
 * Debian machine has (issue 14, item 5): shared by tests/host/test_lz4.c and
 * bench/lz4_bench.c, so the tests and the figures see the same pages.
 *
 *   text     regular files under /usr/share whose first 512 bytes are printable
 *            (licences, documentation, scripts...), up to 64 KB of each, CORPUS_TEXT in all
 *   elf      /bin/ls, /bin/bash, /usr/bin/python3, libc: up to 256 KB of each (the
 *            first pages: headers, code, tables), CORPUS_ELF in all
 *   kernel   build/kernel.elf (ours, when make has built it), whole
 *   zero     16 zeroed pages
 *   random   16 pages of xorshift32 output (incompressible)
 *   mixed    16 pages: a text page with zeroed runs and a repeated 32-bit word
 *
 * corpus_build() fills a growing buffer of whole pages (a file's last partial
 * page is zero-padded, as a page of memory would be) and notes where each kind
 * starts, so a test can pick pages of a kind.
 */
#ifndef LZ4_CORPUS_H
#define LZ4_CORPUS_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../rng.h"

#define CORPUS_PAGE     4096u
#define CORPUS_TEXT     (1536u * 1024)
#define CORPUS_ELF      (1024u * 1024)
#define CORPUS_PER_TEXT (64u * 1024)
#define CORPUS_PER_ELF  (256u * 1024)

enum corpus_kind { K_TEXT, K_ELF, K_KERNEL, K_ZERO, K_RANDOM, K_MIXED, K_COUNT };
static const char *const corpus_kind_name[K_COUNT] = {"text", "elf",    "kernel",
                                                      "zero", "random", "mixed"};

struct corpus {
    unsigned char *data; /* pages * CORPUS_PAGE bytes */
    size_t pages, cap;
    size_t first[K_COUNT], count[K_COUNT]; /* the pages of each kind */
    size_t text_files;
};

static struct corpus *corpus_now; /* nftw's callback has no argument */
static size_t corpus_text_bytes;

static void corpus_reserve(struct corpus *c, size_t pages)
{
    if (c->pages + pages <= c->cap)
        return;
    while (c->cap < c->pages + pages)
        c->cap = c->cap ? c->cap * 2 : 256;
    c->data = realloc(c->data, c->cap * CORPUS_PAGE);
    if (!c->data) {
        fprintf(stderr, "lz4 corpus: out of memory for %zu pages\n", c->cap);
        exit(1);
    }
}

/* Append up to max bytes of path (whole pages, the last one zero-padded); bytes read. */
static size_t corpus_add_file(struct corpus *c, const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    size_t total = 0;

    if (!f)
        return 0;
    while (total < max) {
        corpus_reserve(c, 1);
        unsigned char *page = c->data + c->pages * CORPUS_PAGE;
        size_t n = fread(page, 1, CORPUS_PAGE, f);
        if (n == 0)
            break;
        memset(page + n, 0, CORPUS_PAGE - n);
        c->pages++;
        total += n;
        if (n < CORPUS_PAGE)
            break;
    }
    fclose(f);
    return total;
}

static int corpus_is_text(const char *path)
{
    unsigned char buf[512];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n < 256)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t' && buf[i] != '\r')
            return 0;
        if (buf[i] > 0x7e)
            return 0;
    }
    return 1;
}

static int corpus_text_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (type != FTW_F || st->st_size < 1024)
        return 0;
    if (!corpus_is_text(path))
        return 0;
    corpus_text_bytes += corpus_add_file(corpus_now, path, CORPUS_PER_TEXT);
    corpus_now->text_files++;
    return corpus_text_bytes >= CORPUS_TEXT; /* nonzero stops the walk */
}

static void corpus_build(struct corpus *c, const char *kernel_elf)
{
    static const char *const elves[] = {"/bin/ls", "/bin/bash", "/usr/bin/python3",
                                        "/lib/x86_64-linux-gnu/libc.so.6"};
    uint32_t seed = 0x1234567u;

    memset(c, 0, sizeof(*c));

    c->first[K_TEXT] = c->pages;
    corpus_now = c;
    corpus_text_bytes = 0;
    nftw("/usr/share", corpus_text_visit, 16, FTW_PHYS);
    c->count[K_TEXT] = c->pages - c->first[K_TEXT];

    c->first[K_ELF] = c->pages;
    for (size_t i = 0, bytes = 0; i < sizeof(elves) / sizeof(elves[0]) && bytes < CORPUS_ELF; i++)
        bytes += corpus_add_file(c, elves[i], CORPUS_PER_ELF);
    c->count[K_ELF] = c->pages - c->first[K_ELF];

    c->first[K_KERNEL] = c->pages;
    if (kernel_elf)
        corpus_add_file(c, kernel_elf, 16u << 20);
    c->count[K_KERNEL] = c->pages - c->first[K_KERNEL];

    corpus_reserve(c, 48);
    c->first[K_ZERO] = c->pages;
    memset(c->data + c->pages * CORPUS_PAGE, 0, 16 * CORPUS_PAGE);
    c->pages += 16;
    c->count[K_ZERO] = 16;

    c->first[K_RANDOM] = c->pages;
    for (size_t i = 0; i < 16 * CORPUS_PAGE; i += 4) {
        uint32_t r = rng_next(&seed);
        memcpy(c->data + c->pages * CORPUS_PAGE + i, &r, 4);
    }
    c->pages += 16;
    c->count[K_RANDOM] = 16;

    /* mixed: a text page (or an ELF one if there is no text) with a zeroed run
     * and a run of one repeated word, at places that vary from page to page */
    c->first[K_MIXED] = c->pages;
    for (size_t i = 0; i < 16; i++) {
        unsigned char *page = c->data + c->pages * CORPUS_PAGE;
        size_t from = c->count[K_TEXT] ? c->first[K_TEXT] : c->first[K_ELF];
        size_t have = c->count[K_TEXT] ? c->count[K_TEXT] : c->count[K_ELF];
        if (have)
            memcpy(page, c->data + (from + i % have) * CORPUS_PAGE, CORPUS_PAGE);
        else
            memset(page, 'x', CORPUS_PAGE);
        size_t z = rng_below(&seed, CORPUS_PAGE / 2), zn = rng_below(&seed, 1024);
        memset(page + z, 0, zn);
        size_t w = rng_below(&seed, CORPUS_PAGE / 2) & ~(size_t)3, wn = rng_below(&seed, 256);
        uint32_t word = rng_next(&seed);
        for (size_t k = 0; k < wn && w + 4 * k + 4 <= CORPUS_PAGE; k++)
            memcpy(page + w + 4 * k, &word, 4);
        c->pages++;
    }
    c->count[K_MIXED] = 16;
}

static inline unsigned char *corpus_page(const struct corpus *c, size_t i)
{
    return c->data + i * CORPUS_PAGE;
}

static inline int corpus_kind_of(const struct corpus *c, size_t page)
{
    for (int k = 0; k < K_COUNT; k++)
        if (page >= c->first[k] && page < c->first[k] + c->count[k])
            return k;
    return -1;
}

#endif /* LZ4_CORPUS_H */

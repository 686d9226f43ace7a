/*
 * zswap_pages.h - the pages the compression demo and tests write and check:
 * realistic ones (text, arrays of C structures, zero pages, pages of one
 * word, buffers mostly zero) or incompressible ones (noise), each a function of its
 * index and a seed, so a reader can rebuild it to compare byte for byte.
 * Used by the kernel's zswap demo (kernel/zswap_demo.c) and the host test
 * (tests/host/test_zswap.c).  Freestanding: no library call.
 */
#ifndef ZSWAP_PAGES_H
#define ZSWAP_PAGES_H

#include <stdint.h>

#define ZPAGE_SIZE 4096u

static inline uint32_t zpage_rng(uint32_t *s)
{
    uint32_t x = *s; /* xorshift32, as tests/rng.h */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 0x9E3779B9u;
}

static inline void zpage_text(uint8_t *p, uint32_t from, uint32_t to, uint32_t *s)
{
    static const char *const words[] = {
        "the ",       "memory ", "page ",    "kernel ", "compressed ", "frame ",  "of ",   "a ",
        "fault ",     "store ",  "returns ", "cold ",   "and ",        "CLOCK ",  "hand ", "bit ",
        "is ",        "table ",  "entry ",   "free ",   "node ",       "reclaim", ". ",    "\n",
        "allocator ", "with ",   "lock ",    "to ",     "in ",         "handle ", "zram ", "swap "};
    uint32_t i = from;
    while (i < to) {
        const char *w = words[zpage_rng(s) % (sizeof(words) / sizeof(words[0]))];
        while (*w && i < to)
            p[i++] = (uint8_t)*w++;
    }
}

/* Page idx of a run named by seed: realistic (random == 0) or noise. */
static inline void zpage_fill(uint8_t *p, uint32_t idx, uint32_t seed, int random)
{
    uint32_t s = (idx + 1) * 2654435761u ^ seed;
    zpage_rng(&s);
    unsigned kind = random ? 8 : idx % 8;
    uint32_t i;
    switch (kind) {
    case 2:
    case 3: /* an array of records: an id, a pointer, flags, a name, padding */
        for (i = 0; i < ZPAGE_SIZE; i += 32) {
            uint32_t id = idx * 128 + i / 32;
            uint32_t ptr = zpage_rng(&s) % 8 ? 0xC0100000u + id * 32 : 0;
            for (unsigned b = 0; b < 4; b++) {
                p[i + b] = (uint8_t)(id >> (8 * b));
                p[i + 4 + b] = (uint8_t)(ptr >> (8 * b));
            }
            p[i + 8] = (uint8_t)(zpage_rng(&s) % 4 ? 1 : 3);
            p[i + 9] = 0;
            const char name[] = "object-";
            for (unsigned b = 0; b < 7; b++)
                p[i + 10 + b] = (uint8_t)name[b];
            p[i + 17] = (uint8_t)('0' + id % 10);
            for (unsigned b = 18; b < 32; b++)
                p[i + b] = 0;
        }
        break;
    case 6: /* a buffer mostly unused: zeros, a few lines of text at its start */
        for (i = 0; i < ZPAGE_SIZE; i++)
            p[i] = 0;
        zpage_text(p, 0, 64 + zpage_rng(&s) % 448, &s);
        break;
    case 4: /* a zero page */
        for (i = 0; i < ZPAGE_SIZE; i++)
            p[i] = 0;
        break;
    case 5: /* one word repeated */
        for (i = 0; i < ZPAGE_SIZE; i += 4) {
            p[i] = (uint8_t)idx;
            p[i + 1] = (uint8_t)(idx >> 8);
            p[i + 2] = 0x5A;
            p[i + 3] = 0xA5;
        }
        break;
    case 8: /* noise: incompressible */
        for (i = 0; i < ZPAGE_SIZE; i += 4) {
            uint32_t w = zpage_rng(&s);
            p[i] = (uint8_t)w;
            p[i + 1] = (uint8_t)(w >> 8);
            p[i + 2] = (uint8_t)(w >> 16);
            p[i + 3] = (uint8_t)(w >> 24);
        }
        break;
    default: /* text */
        zpage_text(p, 0, ZPAGE_SIZE, &s);
        break;
    }
}

/* The first byte of p that differs from page idx, or -1: p holds it exactly (want: scratch). */
static inline int zpage_check(const uint8_t *p, uint32_t idx, uint32_t seed, int random,
                              uint8_t *want)
{
    zpage_fill(want, idx, seed, random);
    for (uint32_t i = 0; i < ZPAGE_SIZE; i++) {
        if (p[i] != want[i])
            return (int)i;
    }
    return -1;
}

#endif /* ZSWAP_PAGES_H */

/*
 * test_zstore.c (kernel) - the compressed page store (mm/zstore.c, issue 14
 * item 2) in the booted kernel, on the virtual heap: a few hundred pages of
 * five kinds (zeroed, one repeated word, structures, text, random) stored, got
 * back in a shuffled order and compared byte for byte, half freed, the rest
 * got again; zstore_check() after every step and the statistics against what
 * each kind must give; bad handles; the limit; in the debug build a damaged
 * copy caught by its checksum.  (The thorough tests run on the host:
 * tests/host/test_zstore.c.)
 */
#include "ktest.h"
#include "lz4.h"
#include "zstore.h"

#define PAGE   ZSTORE_PAGE
#define NPAGES 400
#define KINDS  5 /* 0 zero, 1 one word, 2 structures, 3 text, 4 random */

static unsigned char page[PAGE], back[PAGE];
static uint32_t handle[NPAGES];
static uint16_t order[NPAGES];

/* Page i of the test's corpus, made again whenever it is needed. */
static void make_page(unsigned i, unsigned char *p)
{
    static const char words[] = "the store keeps cold pages small and gives them back whole; ";
    uint32_t seed = i * 2654435761u + 1;
    uint32_t *w = (uint32_t *)p;
    switch (i % KINDS) {
    case 0:
        memset(p, 0, PAGE);
        break;
    case 1:
        for (unsigned k = 0; k < PAGE / 4; k++)
            w[k] = 0x01010101u * (i & 0xFF) + 0x10000u;
        break;
    case 2:
        for (unsigned k = 0; k < PAGE / 4; k += 8) {
            w[k] = 0xD0000000u + i * 64 + k;
            w[k + 1] = k / 8;
            w[k + 2] = rng_below(&seed, 4) ? 3 : 0x80000001u;
            w[k + 3] = 0x6b736174u;
            w[k + 4] = i;
            w[k + 5] = 0;
            w[k + 6] = rng_below(&seed, 16) ? 0 : rng_next(&seed);
            w[k + 7] = 0xFEEDFACEu;
        }
        break;
    case 3:
        for (unsigned k = 0; k < PAGE; k++)
            p[k] = (unsigned char)words[(k + i + rng_below(&seed, 4) / 3) % (sizeof(words) - 1)];
        break;
    default:
        for (unsigned k = 0; k < PAGE / 4; k++)
            w[k] = rng_next(&seed);
    }
}

static int get_matches(unsigned i)
{
    memset(back, 0x5A, PAGE);
    if (zstore_get(handle[i], back) != 0)
        return 0;
    make_page(i, page);
    return memcmp(page, back, PAGE) == 0;
}

static void zstore_store_and_get_pages(void)
{
    zstore_reset(); /* the heap under any earlier store is gone */
    zstore_set_limit(0);
    for (unsigned i = 0; i < NPAGES; i++) {
        make_page(i, page);
        handle[i] = zstore_put(page);
        KT_ASSERT(handle[i] != 0 && handle[i] >> ZSTORE_HANDLE_BITS == 0);
        order[i] = (uint16_t)i;
    }
    KT_ASSERT(zstore_check() == 0);
    zstore_stats_t s;
    zstore_get_stats(&s);
    KT_ASSERT(s.pages_stored == NPAGES && s.puts == NPAGES);
    KT_ASSERT(s.same_pages == 2 * NPAGES / KINDS); /* zeroed and one-word pages */
    KT_ASSERT(s.huge_pages == NPAGES / KINDS);     /* random pages */
    KT_ASSERT(s.orig_bytes == NPAGES * PAGE);
    /* random pages whole; structures and text under half a page on average (1830 B seen) */
    KT_ASSERT(s.compr_bytes > NPAGES / KINDS * PAGE);
    KT_ASSERT(s.compr_bytes < NPAGES / KINDS * PAGE + NPAGES / KINDS * 2 * PAGE / 2);
    KT_ASSERT(s.mem_used >= s.compr_bytes && s.mem_used < s.compr_bytes + s.compr_bytes / 10);
    /* back in a shuffled order */
    uint32_t seed = 0x2545F491u;
    for (unsigned i = NPAGES - 1; i > 0; i--) {
        unsigned j = rng_below(&seed, i + 1);
        uint16_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (unsigned k = 0; k < NPAGES; k++)
        KT_ASSERT(get_matches(order[k]));
    /* half freed; the freed refused, the rest still right */
    for (unsigned k = 0; k < NPAGES / 2; k++)
        KT_ASSERT(zstore_free(handle[order[k]]) == 0);
    KT_ASSERT(zstore_check() == 0);
    KT_ASSERT(zstore_get(handle[order[0]], back) == -1);
    KT_REPORTED("zstore_get", "stale");
    for (unsigned k = NPAGES / 2; k < NPAGES; k++)
        KT_ASSERT(get_matches(order[k]));
    for (unsigned k = NPAGES / 2; k < NPAGES; k++)
        KT_ASSERT(zstore_free(handle[order[k]]) == 0);
    zstore_get_stats(&s);
    KT_ASSERT(s.pages_stored == 0 && s.mem_used == s.mem_entries && s.gets == NPAGES * 3 / 2);
    KT_ASSERT(zstore_check() == 0);
    zstore_dump();
}

static void zstore_bad_handles_and_limit(void)
{
    zstore_reset();
    make_page(3, page);
    uint32_t h = zstore_put(page);
    KT_ASSERT(h != 0);
    memset(back, 0x77, PAGE);
    KT_ASSERT(zstore_get(0, back) == -1);
    KT_REPORTED("zstore_get", "not a handle");
    KT_ASSERT(zstore_get(h + (1u << ZSTORE_INDEX_BITS), back) == -1);
    KT_REPORTED("zstore_get", "stale");
    KT_ASSERT(zstore_free(0x7FFFFFFFu) == -1);
    KT_REPORTED("zstore_free", "not a handle");
    KT_ASSERT(back[0] == 0x77 && back[PAGE - 1] == 0x77);
    KT_ASSERT(zstore_get(h, back) == 0 && memcmp(page, back, PAGE) == 0);
    KT_ASSERT(zstore_free(h) == 0);
    KT_ASSERT(zstore_free(h) == -1);
    KT_REPORTED("zstore_free", "stale");
    /* the limit: 32 KB of pool, random pages refused past it, counted */
    zstore_set_limit(32u << 10);
    unsigned n = 0;
    for (; n < 16; n++) {
        make_page(4 + n * KINDS, page);
        if (!(handle[n] = zstore_put(page)))
            break;
    }
    zstore_stats_t s;
    zstore_get_stats(&s);
    KT_ASSERT(n >= 4 && n < 16 && s.refused_limit == 1 && s.mem_used <= (32u << 10));
    for (unsigned k = 0; k < n; k++) {
        make_page(4 + k * KINDS, page);
        KT_ASSERT(zstore_get(handle[k], back) == 0 && memcmp(page, back, PAGE) == 0);
        KT_ASSERT(zstore_free(handle[k]) == 0);
    }
    zstore_set_limit(0);
    KT_ASSERT(zstore_check() == 0);
}

#ifdef MM_DEBUG
static void zstore_corrupt_copy_caught(void)
{
    zstore_reset();
    make_page(3, page);
    uint32_t h = zstore_put(page), len = 0;
    unsigned char *copy = zstore_peek(h, &len);
    KT_ASSERT(copy && len > 0 && len < PAGE);
    copy[len - 1] ^= 0x20; /* the last literal: decodes, to other bytes */
    KT_ASSERT(zstore_get(h, back) == -1);
    KT_REPORTED("zstore_get", "checksum mismatch");
    KT_ASSERT(back[0] == 0 && back[PAGE - 1] == 0);
    copy[len - 1] ^= 0x20;
    KT_ASSERT(zstore_get(h, back) == 0 && memcmp(page, back, PAGE) == 0);
    KT_ASSERT(zstore_free(h) == 0 && zstore_check() == 0);
}
#endif

const struct ktest ktest_zstore[] = {
    {"zstore: 400 pages of five kinds stored, got back shuffled, freed",
     zstore_store_and_get_pages},
    {"zstore: bad handles refused, the limit kept", zstore_bad_handles_and_limit},
#ifdef MM_DEBUG
    {"zstore: a damaged copy caught by its checksum", zstore_corrupt_copy_caught},
#endif
    {0, 0},
};

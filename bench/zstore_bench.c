/*
 * zstore_bench.c - make bench-zstore (part of make bench): the compressed page
 * store's space overhead over the compressed bytes (issue 14 item 6: target
 * under 10%), on the corpus of the LZ4 tests and bench (tests/host/lz4_corpus.h),
 * with the whole memory manager on the host glue (as the host tests).
 *
 * Every corpus page is put once, then:
 *   store's view   mem_used (each copy's heap block: usable size, plus the
 *                  heap's header above the slab classes; the entry table)
 *                  over compr_bytes (the codec's output, 4096 for a page kept
 *                  whole, 0 for a same-filled one);
 *   heap's view    the physical pages the memory manager took during the puts
 *                  (heap pages, its metadata, page tables: the PMM's used
 *                  count) over compr_bytes: what the slab pages' tails and the
 *                  heap's free space cost on top;
 * then half the pages freed at random and other pages put in their place
 * (churn), and both views again; then the time of a put and a get.
 * Built for i386 (the kernel's ABI: 32-byte heap headers, 8-byte entries)
 * and x86_64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/host/lz4_corpus.h"
#include "bench.h"
#include "host.h"
#include "machine.h"
#include "memory.h"
#include "pmm.h"
#include "vmm.h"
#include "zstore.h"

#define PAGE CORPUS_PAGE

static struct corpus corpus;

static uint32_t used_pages(void)
{
    memory_stats_t m;
    get_memory_stats(&m);
    return m.phys_used_pages;
}

static void report(const char *when, uint32_t base_pages)
{
    zstore_stats_t s;
    zstore_get_stats(&s);
    uint32_t heap = (used_pages() - base_pages) * PAGE;
    double c = s.compr_bytes;
    printf("%-12s %5u pages (%3u same, %3u whole): orig %6u KB, compressed %8u B; "
           "pool %8u B (entries %6u B): overhead %5.2f%%; heap's pages %8u B: %5.2f%%\n",
           when, s.pages_stored, s.same_pages, s.huge_pages, s.orig_bytes >> 10, s.compr_bytes,
           s.mem_used, s.mem_entries, 100.0 * (s.mem_used - c) / c, heap, 100.0 * (heap - c) / c);
}

int main(void)
{
    bench_machine(64u << 20);
    zstore_set_limit(0xFFFFFFFFu);
    corpus_build(&corpus, "build/kernel.elf");
    size_t n = corpus.pages;
    uint32_t *h = calloc(n, sizeof(*h));
    if (!h)
        return 1;
    printf("zstore bench (%s, %zu-bit): %zu corpus pages (text %zu, elf %zu, kernel %zu, zero %zu, "
           "random %zu, mixed %zu)\n",
           sizeof(void *) == 4 ? "i386" : "x86_64", 8 * sizeof(void *), n, corpus.count[K_TEXT],
           corpus.count[K_ELF], corpus.count[K_KERNEL], corpus.count[K_ZERO],
           corpus.count[K_RANDOM], corpus.count[K_MIXED]);
    uint32_t base = used_pages();
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        if (!(h[i] = zstore_put(corpus_page(&corpus, i))))
            return printf("zstore_bench: put %zu refused\n", i), 1;
    double t_put = now() - t0;
    if (zstore_check())
        return 1;
    report("all stored", base);

    /* churn: half freed at random, as many others put in their place */
    uint32_t seed = 0x5EEDu;
    for (size_t k = 0; k < n / 2; k++) {
        size_t i = rng_below(&seed, (uint32_t)n);
        if (h[i] && zstore_free(h[i]) == 0)
            h[i] = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!h[i] && !(h[i] = zstore_put(corpus_page(&corpus, (i * 7 + 3) % n))))
            return printf("zstore_bench: churn put refused\n"), 1;
    if (zstore_check())
        return 1;
    report("after churn", base);

    static unsigned char back[PAGE];
    t0 = now();
    for (size_t i = 0; i < n; i++)
        if (zstore_get(h[i], back))
            return printf("zstore_bench: get %zu failed\n", i), 1;
    double t_get = now() - t0;
    printf("time: put %.2f us a page (compression included), get %.2f us a page "
           "(this host, O2, one run; i386 under qemu-i386 where it cannot run natively)\n",
           1e6 * t_put / n, 1e6 * t_get / n);
    for (size_t i = 0; i < n; i++)
        zstore_free(h[i]);
    free(h);
    free(corpus.data);
    return zstore_check() ? 1 : 0;
}

/*
 * zswap_bench.c - make bench-zswap (part of make bench): the time to fault a
 * compressed page back in (issue 14 item 6), with the whole memory manager on
 * the host glue (as tests/host/test_zswap.c).
 *
 * A compressible area of PAGES realistic pages (kernel/zswap_pages.h: text,
 * arrays of structures, zero pages, pages of one word, buffers mostly zero) is
 * written and reclaimed whole, then brought back three ways, each over every
 * page in a shuffled order, each after the area was reclaimed again:
 *   zswap_fault   mm/'s fault path called directly: the watermark check, a
 *                 frame, the decompression, the entry (the host's mirror of
 *                 the mapping, one mmap, is in it);
 *   touch         a read of the page: the host's SIGSEGV, zswap_fault, then
 *                 the simulated MMU's second fault for the Accessed bit
 *                 (mprotect): what a host process pays, not a kernel;
 *   zstore_get    the decompression alone, into a buffer: its share.
 * And the reclaim: per page freed (sweep, shootdown, compression, unmap).
 * The kernel's own fault costs no signal and no system call: between the first
 * and the third figure.  i386 (the kernel's ABI, under qemu-i386: slower) and
 * x86_64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernel/zswap_pages.h"
#include "../tests/rng.h"
#include "bench.h"
#include "host.h"
#include "memory.h"
#include "pmm.h"
#include "vmalloc.h"
#include "vmm.h"
#include "zstore.h"
#include "zswap.h"

#define PAGES 4096u
#define SEED  0x2545F491u

static uint8_t *area;
static uint32_t order[PAGES];

static uint32_t virt_of(uint32_t i)
{
    return VMALLOC_START +
           (uint32_t)((uintptr_t)(area + i * ZPAGE_SIZE) - (uintptr_t)host_virt_ptr(VMALLOC_START));
}

/* Reclaim until nothing is present: the time per page freed. */
static double reclaim_all(void)
{
    zswap_stats_t s;
    uint32_t freed = 0;
    double t0 = now();
    do {
        freed += zswap_reclaim(PAGES);
        zswap_get_stats(&s);
    } while (s.present);
    return freed ? (now() - t0) / freed : 0;
}

int main(void)
{
    memory_init();
    pmm_init(64u << 20);
    vmm_reset();
    host_mmu_reset();
    vmm_init();
    heap_init_virtual();
    zstore_set_limit(0xFFFFFFFFu);
    host_fault_install();
    area = vmalloc_compressible(PAGES * ZPAGE_SIZE);
    if (!area)
        return printf("zswap_bench: vmalloc_compressible failed\n"), 1;
    uint32_t s = 0xBE7Cu;
    for (uint32_t i = 0; i < PAGES; i++)
        order[i] = i;
    for (uint32_t i = PAGES - 1; i > 0; i--) {
        uint32_t k = rng_next(&s) % (i + 1), t = order[i];
        order[i] = order[k];
        order[k] = t;
    }
    double t0 = now();
    for (uint32_t i = 0; i < PAGES; i++)
        zpage_fill(area + i * ZPAGE_SIZE, i, SEED, 0);
    double t_first = (now() - t0) / PAGES; /* zero-fill faults and the writing */
    double t_reclaim = reclaim_all();

    /* mm/'s path, called directly */
    t0 = now();
    for (uint32_t i = 0; i < PAGES; i++)
        if (zswap_fault(virt_of(order[i]), 0) != 1)
            return printf("zswap_bench: fault of page %u refused\n", order[i]), 1;
    double t_fault = (now() - t0) / PAGES;
    static uint8_t want[ZPAGE_SIZE];
    for (uint32_t i = 0; i < PAGES; i++)
        if (zpage_check(area + i * ZPAGE_SIZE, i, SEED, 0, want) >= 0)
            return printf("zswap_bench: page %u came back wrong\n", i), 1;

    /* a read of each page: the host's signal, the fault, the Accessed bit's fault */
    double t_reclaim_clean = reclaim_all(); /* clean pages: dropped, not compressed */
    volatile uint8_t sink = 0;
    t0 = now();
    for (uint32_t i = 0; i < PAGES; i++)
        sink ^= area[order[i] * ZPAGE_SIZE];
    double t_touch = (now() - t0) / PAGES;
    (void)sink;

    /* the decompression alone */
    reclaim_all();
    uint32_t *handles = malloc(PAGES * sizeof(*handles));
    if (!handles)
        return 1;
    for (uint32_t i = 0; i < PAGES; i++)
        handles[i] = ZSWAP_HANDLE(vmm_get_entry(virt_of(order[i])));
    t0 = now();
    for (uint32_t i = 0; i < PAGES; i++)
        if (zstore_get(handles[i], want) < 0)
            return printf("zswap_bench: get failed\n"), 1;
    double t_get = (now() - t0) / PAGES;
    free(handles);

    zstore_stats_t z;
    zstore_get_stats(&z);
    zswap_stats_t w;
    zswap_get_stats(&w);
    printf("zswap bench (%s): %u pages of realistic data, ratio %.2f (%u KB in %u KB of the "
           "store)\n",
           sizeof(void *) == 4 ? "i386" : "x86_64", PAGES, (double)z.orig_bytes / z.mem_used,
           z.orig_bytes >> 10, z.mem_used >> 10);
    printf("fault back in: zswap_fault %.2f us a page; a read of the page (host SIGSEGV + "
           "Accessed fault) %.2f us; zstore_get alone %.2f us\n",
           1e6 * t_fault, 1e6 * t_touch, 1e6 * t_get);
    printf("reclaim: %.2f us a page compressed, %.2f us a clean page dropped; first touch + "
           "write %.2f us a page (%u compressed, %u dropped clean in all)\n",
           1e6 * t_reclaim, 1e6 * t_reclaim_clean, 1e6 * t_first, w.compressed, w.dropped_clean);
    vfree(area);
    return zswap_check() || zstore_check() || vmalloc_check() ? 1 : 0;
}

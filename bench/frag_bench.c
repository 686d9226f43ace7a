/*
 * frag_bench.c - heap fragmentation on a fixed trace: peak footprint / peak
 * live bytes (TLSF's measure), where footprint is what the virtual heap had
 * mapped (heap_virtual_peak) and live is the sum of the sizes asked for.
 *
 * The same source is built three times (Makefile): with the heap's own
 * placement (mm/heap_fit.c: TLSF good fit, O(1)), and with bench/frag_fit.c in
 * place of mm/heap_fit.c, -DHEAP_BEST_FIT_SCAN (the smallest block that fits,
 * by scanning one list of all free blocks) or -DHEAP_FIRST_FIT (the first
 * block of that list that fits); `make bench`
 * runs them on the same seeded traces and prints the ratios.  Runs on the host glue: simulated PMM
 * + paging. First fit here means: the first block on the same free list (most recently freed first)
 * that holds the request.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../tests/rng.h"
#include "host.h"
#include "machine.h"
#include "memory.h"
#include "pmm.h"
#include "vmm.h"

#define SLOTS 4096
static struct {
    void *p;
    uint32_t n;
} live[SLOTS];
static uint32_t rng;

static uint32_t next(void)
{
    return rng_next(&rng);
}

/* Size mixes: what kernels allocate (many small), and harder cases. */
static uint32_t size_for(int trace)
{
    uint32_t r = next() % 100;
    switch (trace) {
    case 0: /* kernel-like: mostly small, some pages, few large */
        return r < 70 ? 16 + next() % 240 : r < 95 ? 256 + next() % 3840 : 4096 + next() % 61440;
    case 1: /* bimodal: tiny and big interleaved (a classic fragmenter) */
        return r < 50 ? 8 + next() % 56 : 16384 + next() % 16384;
    default: /* uniform 8 B - 64 KB */
        return 8 + next() % 65528;
    }
}

static const char *names[] = {"kernel-like", "bimodal", "uniform 8B-64KB"};

int main(void)
{
    const char *policy =
#if defined(HEAP_FIRST_FIT)
        "first-fit";
#elif defined(HEAP_BEST_FIT_SCAN)
        "best-scan";
#else
        "good-fit";
#endif
    for (int trace = 0; trace < 3; trace++) {
        bench_machine(60u << 20);
        memset(live, 0, sizeof(live));
        rng = 0x2545F491u + (uint32_t)trace;
        uint64_t cur = 0, peak = 0;
        /* a working set that ramps up, churns, and ramps down */
        for (int op = 0; op < 300000; op++) {
            int phase = op < 100000 ? 0 : op < 250000 ? 1 : 2;
            /* the uniform trace's blocks are big: fewer of them, to stay inside RAM */
            int i = (int)(next() % (trace == 2 ? SLOTS / 4 : SLOTS));
            int want_alloc = phase == 0   ? next() % 4 != 0
                             : phase == 1 ? next() % 2
                                          : next() % 4 == 0;
            if (live[i].p && !want_alloc) {
                kfree(live[i].p);
                cur -= live[i].n;
                live[i].p = NULL;
            } else if (!live[i].p && want_alloc) {
                uint32_t n = size_for(trace);
                if ((live[i].p = kmalloc(n)) != NULL) {
                    live[i].n = n;
                    cur += n;
                    if (cur > peak)
                        peak = cur;
                }
            }
        }
        memory_stats_t s;
        get_memory_stats(&s);
        int broken = heap_check();
        for (int i = 0; i < SLOTS; i++)
            kfree(live[i].p);
        if (s.error_count || s.phys_free_pages < 256)
            printf("warning: the trace ran out of memory: figures below are not comparable\n");
        printf("%-9s %-16s peak live %9llu  peak footprint %9u  fragmentation %.3f%s\n", policy,
               names[trace], (unsigned long long)peak, s.heap_virtual_peak,
               (double)s.heap_virtual_peak / (double)peak, broken ? "  HEAP_CHECK FAILED" : "");
    }
    return 0;
}

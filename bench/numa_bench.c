/*
 * numa_bench.c - make bench, issue 13: how node-local the PMM's allocations
 * are under a multi-CPU workload, and what the node-aware path costs.  The
 * real mm/ over the host glue (simulated RAM and MMU), the CPUs simulated
 * with host_forced_cpu_id taking turns.
 *
 *   numa_bench               locality: 2 nodes of 32 MB, CPUs 0-1 on node 0
 *                            and 2-3 on node 1 (distance 21); the CPUs take
 *                            turns at random page allocations and frees,
 *                            runs, vmalloc areas and kmallocs that grow the
 *                            heap, keeping each node under half full; every
 *                            page the PMM hands out directly is looked up
 *                            (pmm_page_node) against its CPU's node, and
 *                            the PMM's own local/fallback counts are shown
 *
 * The instructions of the page path: bench/pmm_pairs.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/rng.h"
#include "machine.h"

#define MB   (1024u * 1024u)
#define RAM  (64 * MB)
#define CPUS 4

#define SLOTS 256
static struct {
    paddr_t page[SLOTS];
    uint32_t pages[SLOTS]; /* 1: pmm_alloc_page, else a run */
    void *area[SLOTS / 8];
    void *obj[SLOTS];
} cpu[CPUS];

static unsigned long asked, local, remote;

static void count_pages(int c, paddr_t a, uint32_t n)
{
    int want = pmm_cpu_node(c);
    for (uint32_t i = 0; i < n; i++) {
        asked++;
        if (pmm_page_node(a + i * PAGE_SIZE) == want)
            local++;
        else
            remote++;
    }
}

static int locality(void)
{
    bench_machine(RAM);
    bench_two_nodes();
    pmm_node_stats_t before[2], after[2];
    for (int n = 0; n < 2; n++)
        pmm_get_node_stats(n, &before[n]);
    uint32_t rng = 0x5eed1234u;
    for (int step = 0; step < 200000; step++) {
        int c = (int)(rng_next(&rng) % CPUS);
        host_forced_cpu_id = c;
        unsigned i = rng_next(&rng) % SLOTS, kind = rng_next(&rng) % 8;
        if (kind < 5) { /* a page or a run of 2..16 pages */
            if (cpu[c].page[i]) {
                pmm_free_pages(cpu[c].page[i], cpu[c].pages[i]);
                cpu[c].page[i] = 0;
            } else {
                uint32_t n = kind == 0 ? 2 + rng_next(&rng) % 15 : 1;
                paddr_t a = n == 1 ? pmm_alloc_page() : pmm_alloc_pages(n, 0);
                if (a) {
                    count_pages(c, a, n);
                    cpu[c].page[i] = a;
                    cpu[c].pages[i] = n;
                }
            }
        } else if (kind == 5) { /* a vmalloc area of 1..8 pages */
            void **v = &cpu[c].area[i % (SLOTS / 8)];
            if (*v) {
                vfree(*v);
                *v = NULL;
            } else {
                *v = vmalloc((1 + rng_next(&rng) % 8) * PAGE_SIZE);
            }
        } else { /* kmalloc: the heap grows on this CPU's node */
            if (cpu[c].obj[i]) {
                kfree(cpu[c].obj[i]);
                cpu[c].obj[i] = NULL;
            } else {
                cpu[c].obj[i] = kmalloc(16 + rng_next(&rng) % 4000);
            }
        }
    }
    for (int n = 0; n < 2; n++)
        pmm_get_node_stats(n, &after[n]);
    host_forced_cpu_id = 0;
    int errors = pmm_check();
    unsigned long pl = 0, pf = 0;
    for (int n = 0; n < 2; n++) {
        pl += after[n].local_allocs - before[n].local_allocs;
        pf += after[n].fallback_allocs - before[n].fallback_allocs;
        printf("  node %d: %u of %u pages free at the end\n", n, (unsigned)after[n].free_pages,
               (unsigned)after[n].total_pages);
    }
    printf("  pages the PMM handed out directly: %lu, on the CPU's own node %lu, elsewhere %lu: "
           "%.2f%% node-local (target >= 99%%): %s\n",
           asked, local, remote, 100.0 * (double)local / (double)asked,
           local * 100 >= asked * 99 ? "met" : "MISSED");
    printf("  the PMM's own counts, every allocation (a run counts once; vmalloc, the heap, tables "
           "too): %lu local, "
           "%lu fallback: %.2f%%\n",
           pl, pf, 100.0 * (double)pl / (double)(pl + pf));
    printf("  pmm_check: %d\n", errors);
    return errors == 0 && asked > 0 ? 0 : 1;
}

int main(void)
{
    printf("NUMA locality (issue 13): 2 nodes of 32 MB, 4 CPUs, 200 000 random operations:\n");
    return locality();
}

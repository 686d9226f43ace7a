/*
 * machine.h - a fresh simulated machine for the benchmark programs that run
 * the real mm/ over the host glue: RAM of `ram` bytes, paging on, the
 * virtual heap up (as the host tests' harness does).  bench/pmm_pairs.c is
 * also built against the mm/ of an older commit (tools/numa-bench.sh): use
 * only calls that commit has.
 */
#ifndef BENCH_MACHINE_H
#define BENCH_MACHINE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "glue_common.h"
#include "host.h"
#include "memory.h"
#include "pmm.h"
#include "vmalloc.h"
#include "vmm.h"

static inline void bench_machine(uint32_t ram)
{
    memory_init();
    pmm_init(ram);
    vmm_reset();
    vmalloc_reset();
    host_mmu_reset();
    vmm_init();
    memory_init(); /* the error counter back to 0 */
    heap_init_virtual();
}

#ifdef PMM_NODE_ANY
/* The benchmarks' NUMA layout: nodes 0 and 1 of 32 MB each, CPUs 0-1 on node 0 and 2-3 on
   node 1, distance 21 between them.  Exits if the PMM refuses it. */
static inline void bench_two_nodes(void)
{
    static const pmm_node_range_t ranges[] = {{0, 32u << 20, 0}, {32u << 20, 64u << 20, 1}};
    static const uint8_t cpu_node[] = {0, 0, 1, 1};
    static const uint8_t distance[] = {10, 21, 21, 10};
    if (pmm_set_nodes(2, ranges, 2, cpu_node, 4, distance) != 0) {
        fprintf(stderr, "bench: pmm_set_nodes refused the two-node layout\n");
        exit(1);
    }
}
#endif

#endif /* BENCH_MACHINE_H */

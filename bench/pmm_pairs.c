/*
 * pmm_pairs.c - make bench-numa: PAIRS pmm_alloc_page + pmm_free_page pairs
 * on CPU 0 inside insn_pass(), for callgrind --toggle-collect=insn_pass
 * (tools/numa-bench.sh).  Built against this tree, and against the tree of
 * the last commit before the PMM knew nodes (the node-blind PMM), which has
 * no PMM_NODE_ANY:
 *
 *   pmm_pairs one   64 MB, no nodes registered (this tree: one set of lists)
 *   pmm_pairs two   this tree only: two nodes of 32 MB, CPU 0 on node 0
 *                   (its node looked up, its lists first)
 */
#include <stdio.h>
#include <string.h>

#include "machine.h"

#define MB    (1024u * 1024u)
#define PAIRS 100000

__attribute__((noinline)) void insn_pass(void)
{
    for (int i = 0; i < PAIRS; i++)
        pmm_free_page(pmm_alloc_page());
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "one") && strcmp(argv[1], "two")))
        return 2;
    bench_machine(64 * MB);
    host_forced_cpu_id = 0;
    if (strcmp(argv[1], "two") == 0) {
#ifdef PMM_NODE_ANY
        bench_two_nodes();
#else
        return 2;
#endif
    }
    insn_pass();
    printf("pairs %d\n", PAIRS);
    return pmm_check() == 0 ? 0 : 1;
}

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
 *   pmm_pairs threads N   N threads (CPUs 0 .. N-1 by the host glue), each
 *                   THREAD_PAIRS pairs at once, one node: the wall-clock
 *                   nanoseconds per pair of the whole run (not for callgrind;
 *                   a shared machine makes it noisy: the script takes the best
 *                   of a few runs)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine.h"

#define MB    (1024u * 1024u)
#define PAIRS 100000

__attribute__((noinline)) void insn_pass(void)
{
    for (int i = 0; i < PAIRS; i++)
        pmm_free_page(pmm_alloc_page());
}

#define THREAD_PAIRS 400000
static pthread_barrier_t start;

static void *thread_pairs(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < THREAD_PAIRS; i++) {
        uint32_t p = pmm_alloc_page();
        if (!p)
            abort();
        pmm_free_page(p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc == 3 && strcmp(argv[1], "threads") == 0 ? atoi(argv[2]) : 0;
    if (threads < 0 || threads > 8 || (argc != 2 && !threads) ||
        (!threads && strcmp(argv[1], "one") && strcmp(argv[1], "two")))
        return 2;
    bench_machine(64 * MB);
    host_forced_cpu_id = 0;
    if (threads) {
        host_forced_cpu_id = HOST_CPU_ID_NATURAL;
        pthread_t t[8];
        struct timespec a, b;
        pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, thread_pairs, NULL);
        clock_gettime(CLOCK_MONOTONIC, &a);
        pthread_barrier_wait(&start);
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
        printf("threads %d ns_per_pair %.1f\n", threads, ns / ((double)threads * THREAD_PAIRS));
        return pmm_check() == 0 ? 0 : 1;
    }
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

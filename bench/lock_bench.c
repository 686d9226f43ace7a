/*
 * lock_bench.c - make bench-locks: what the VMM's own lock (vmm_lock) buys.
 * Two threads (CPUs 0 and 1 by the host glue) over one simulated machine:
 *
 *   lock_bench vmm    one thread: OPS vmm_map + vmm_unmap_page pairs of a
 *                     caller's page (its shootdown included)
 *   lock_bench heap   one thread: OPS kmalloc(2000) + kfree pairs (heap
 *                     blocks: the heap's path, mm_lock, no per-CPU cache)
 *   lock_bench both   both threads at once
 *   lock_bench check  the heap thread, and beside it a thread running
 *                     vmm_check and pmm_check back to back until it is done
 *                     (before the split both held mm_lock for a whole walk)
 *
 * Prints the wall-clock nanoseconds per pair of each thread.  Uses only calls
 * an mm/ with one lock for the heap and the VMM has too, so the same file
 * builds against the tree before the split (by hand: the same clang line
 * over that tree's mm sources and host glue).  A shared machine makes it
 * noisy: take the best of a few runs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "machine.h"

#define MB         (1024u * 1024u)
#define OPS        200000
#define CALLER_WIN (KERNEL_VIRTUAL_BASE + 128 * MB) /* past the direct map, below the heap */

static pthread_barrier_t start;
static double ns[2];
static int heap_done; /* __atomic */
static unsigned long checks;

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *vmm_pairs(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    double a = now_ns();
    for (int i = 0; i < OPS; i++) {
        uint32_t p = pmm_alloc_page();
        vaddr_t v = CALLER_WIN + (vaddr_t)(i % 64) * PAGE_SIZE;
        if (!p || vmm_map(v, p, PAGE_WRITABLE) < 0)
            abort();
        vmm_unmap_page(v); /* the page goes back to the PMM after its shootdown */
    }
    ns[0] = (now_ns() - a) / OPS;
    return NULL;
}

static void *heap_pairs(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    double a = now_ns();
    for (int i = 0; i < OPS; i++) {
        void *p = kmalloc(2000);
        if (!p)
            abort();
        kfree(p);
    }
    ns[1] = (now_ns() - a) / OPS;
    __atomic_store_n(&heap_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *checking(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    while (!__atomic_load_n(&heap_done, __ATOMIC_ACQUIRE)) {
        if (vmm_check() + pmm_check())
            abort();
        checks++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int vmm = argc == 2 && (!strcmp(argv[1], "vmm") || !strcmp(argv[1], "both"));
    int check = argc == 2 && !strcmp(argv[1], "check");
    int heap = check || (argc == 2 && (!strcmp(argv[1], "heap") || !strcmp(argv[1], "both")));
    if (!vmm && !heap)
        return 2;
    bench_machine(64 * MB);
    void *warm = kmalloc(2000); /* the heap's first growth, before the clock */
    kfree(warm);
    pthread_t t[2];
    pthread_barrier_init(&start, NULL, (unsigned)(vmm + heap + check));
    if (vmm)
        pthread_create(&t[0], NULL, vmm_pairs, NULL);
    if (check)
        pthread_create(&t[0], NULL, checking, NULL);
    if (heap)
        pthread_create(&t[1], NULL, heap_pairs, NULL);
    if (vmm || check)
        pthread_join(t[0], NULL);
    if (heap)
        pthread_join(t[1], NULL);
    if (vmm)
        printf("%s vmm_ns_per_pair %.1f\n", argv[1], ns[0]);
    if (heap)
        printf("%s heap_ns_per_pair %.1f spin_locks %lu\n", argv[1], ns[1], host_spin_locks);
    if (check)
        printf("%s checks %lu\n", argv[1], checks);
    int errors = pmm_check() + vmm_check() + heap_check();
    return errors == 0 ? 0 : 1;
}

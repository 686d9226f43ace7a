/*
 * dump_sample.c - a fragmented heap, dumped: sample input for tools/heapviz.py.
 *
 * Built like the host tests (the real mm/ sources, host/glue.c), it makes a
 * heap with holes, calls heap_dump() and prints what the memory manager
 * printed, then one line the tests compare the parsed dump with:
 *
 *   sample-stats: heap_size S used U free F blocks B free_blocks FB header H
 *
 * usage: dump_sample early     the spec's 64 KB heap (Phase 1)
 *        dump_sample virtual   Phase 2: PMM, paging, the virtual heap and its slabs
 */
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "memory.h"
#include "pmm.h"
#include "vmm.h"

#define KEEP 400

static unsigned rng = 12345;

static unsigned next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Mostly small, some medium, a few large: a kernel's mix. */
static size_t random_size(size_t large)
{
    unsigned r = next_rand() % 100;
    if (r < 60)
        return 8 + next_rand() % 120;
    if (r < 95)
        return 128 + next_rand() % 1500;
    return 1024 + next_rand() % large;
}

int main(int argc, char **argv)
{
    int virt = argc > 1 && strcmp(argv[1], "virtual") == 0;
    static void *keep[KEEP];
    int n = virt ? KEEP : 60;

    memory_init();
    if (virt) {
        pmm_init(32u * 1024 * 1024);
        vmm_reset();
        host_mmu_reset();
        vmm_init();
        memory_init();
        heap_init_virtual();
    }
    for (int i = 0; i < n; i++)
        keep[i] = kmalloc(random_size(virt ? 60000 : 3000));
    /* holes: free two of every three, and a run in the middle */
    for (int i = 0; i < n; i++) {
        if (i % 3 != 0 || (i > n / 3 && i < n / 2)) {
            kfree(keep[i]);
            keep[i] = NULL;
        }
    }
    for (int i = 0; i < n / 6; i++)
        (void)kmalloc_aligned(64 + next_rand() % 400, (size_t)64 << (next_rand() % 4));
    if (heap_check() != 0) {
        fprintf(stderr, "dump_sample: heap_check failed:\n%s", host_console_text());
        return 1;
    }

    host_console_clear();
    heap_dump();
    fputs(host_console_text(), stdout);
    memory_stats_t s;
    get_memory_stats(&s);
    printf("sample-stats: heap_size %u used %u free %u blocks %u free_blocks %u header %u\n",
           s.heap_size, s.heap_used, s.heap_free, s.block_count, s.free_block_count,
           (unsigned)HEAP_HEADER_SIZE);
    return 0;
}

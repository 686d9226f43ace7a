/*
 * harness.h - shared by the host test files: cmocka, the real mm/ API, and
 * wrappers that run heap_check() after every heap operation.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../rng.h"
#include "glue_common.h"
#include "host.h"
#include "memory.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"
#include "vmm.h"

#define HDR           HEAP_HEADER_SIZE
/* What a block of n bytes really holds: n rounded to HEAP_BLOCK_ALIGN (8 on i386, 16 on x86_64). */
#define BLOCK_SIZE(n) (((n) + HEAP_BLOCK_ALIGN - 1) & ~(size_t)(HEAP_BLOCK_ALIGN - 1))
#define HEAP_BASE     ((uintptr_t)host_phys_base() + HEAP_START)
#define HEAP_END      (HEAP_BASE + INITIAL_HEAP_SIZE)

/* An attack test's loop count n, times ATTACK_ITERS from the environment if set (a longer run). */
static inline long attack_iters(long n)
{
    const char *e = getenv("ATTACK_ITERS");
    return e ? n * atol(e) : n;
}

/* The heap must be healthy after every operation. */
#define CHECK_HEAP() assert_int_equal(heap_check(), 0)

static inline void *t_kmalloc(size_t n)
{
    void *p = kmalloc(n);
    CHECK_HEAP();
    return p;
}

static inline void t_kfree(void *p)
{
    kfree(p);
    CHECK_HEAP();
}

static inline void *t_krealloc(void *p, size_t n)
{
    void *q = krealloc(p, n);
    CHECK_HEAP();
    return q;
}

static inline void *t_kcalloc(size_t c, size_t n)
{
    void *p = kcalloc(c, n);
    CHECK_HEAP();
    return p;
}

static inline memory_stats_t stats_now(void)
{
    memory_stats_t s;
    get_memory_stats(&s);
    return s;
}

/* A random test's shadow of one live allocation: where, how long, its fill byte. */
struct shadow_slot {
    unsigned char *p;
    size_t n;
    unsigned char c;
};

/* The PMM's statistics now. */
static inline pmm_stats_t pstats(void)
{
    pmm_stats_t s;
    pmm_get_stats(&s);
    return s;
}

/*
 * The end of a random run of the PMM: the runs still held (base[i] != 0, of
 * len[i] pages) freed; then the PMM exact, free0 pages free as at the start,
 * and no caller bug reported.
 */
#define free_runs_and_check(base, len, n, free0)                                                   \
    do {                                                                                           \
        for (int i_ = 0; i_ < (n); i_++)                                                           \
            if ((base)[i_])                                                                        \
                pmm_free_pages((base)[i_], (len)[i_]);                                             \
        assert_int_equal(pmm_check(), 0);                                                          \
        assert_int_equal(pstats().free_pages, (free0));                                            \
        assert_int_equal(stats_now().error_count, 0);                                              \
    } while (0)

/* Pages free in the PMM now. */
static inline uint32_t free_pages(void)
{
    return pstats().free_pages;
}

/* The kernel's virtual address of p, a host pointer into vmalloc's range (see host_virt_ptr). */
static inline vaddr_t vmalloc_kvirt(const void *p)
{
    return VMALLOC_START + (vaddr_t)((const char *)p - (const char *)host_virt_ptr(VMALLOC_START));
}

/* Caller bugs reported so far. */
static inline uint32_t errors_now(void)
{
    return stats_now().error_count;
}

/* Every byte of the heap is accounted for: payloads plus one header per block. */
static inline void assert_stats_balance(void)
{
    memory_stats_t s = stats_now();
    assert_int_equal(s.heap_size, s.heap_used + s.heap_free + s.block_count * HDR);
}

/* Fresh heap and empty console before each test. */
static inline int fresh_heap(void **state)
{
    (void)state;
    memory_init();
    host_console_clear();
    return 0;
}

/*
 * A whole fresh memory manager: the early heap, the PMM over ram bytes of
 * simulated RAM, paging on; the error counter at 0 and an empty console.
 * (memory_init first: it gives a previous virtual heap's pages back.)
 */
static inline void fresh_paging_ram(uint32_t ram)
{
    memory_init();
    pmm_init(ram);
    vmm_reset();
    host_mmu_reset();
    vmm_init();
    memory_init();
    host_console_clear();
}

/* fresh_paging_ram with vmalloc's areas forgotten too (no virtual heap yet). */
static inline void fresh_vmalloc_ram(uint32_t ram)
{
    memory_init();
    pmm_init(ram);
    vmm_reset();
    vmalloc_reset();
    host_mmu_reset();
    vmm_init();
    host_console_clear();
    memory_init(); /* the error counter back to 0 */
}

/* The last caller-bug report names the function, the address and the reason. */
static inline void assert_reported(const char *fn, const void *addr, const char *reason)
{
    char where[64];
    /* mm_printf's %p: 0x and every hex digit of the pointer */
    snprintf(where, sizeof(where), "%s: 0x%0*lx", fn, (int)(2 * sizeof(void *)),
             (unsigned long)(uintptr_t)addr);
    const char *last = mm_last_error();
    if (!strstr(last, where) || !strstr(last, reason))
        fail_msg("expected a report \"%s ... %s\", got \"%s\"", where, reason, last);
}

/* One bad call vmm_map(v, p, flags) and the reason its report must give (test_vmm.c,
   test_names_layers.c). */
struct bad_map {
    vaddr_t v;
    paddr_t p;
    uint32_t flags;
    const char *why;
};

/* Every layer's checker at 0: the PMM, the VMM, vmalloc, the heap, the slabs. */
static inline void check_every_layer(void)
{
    assert_int_equal(pmm_check(), 0);
    assert_int_equal(vmm_check(), 0);
    assert_int_equal(vmalloc_check(), 0);
    assert_int_equal(heap_check(), 0);
    assert_int_equal(kmem_cache_check(), 0);
}

/* Every layer fresh: vmalloc forgotten, paging over ram bytes, the virtual heap up, all checked. */
static inline void fresh_every_layer(uint32_t ram)
{
    vmalloc_reset();
    fresh_paging_ram(ram);
    heap_init_virtual();
    host_console_clear();
    check_every_layer();
}

/* Paging and the heap's pages forgotten: the PMM may be built again from a map. */
static inline void fresh_pmm_alone(void)
{
    memory_init(); /* the virtual heap's pages go back; then paging is forgotten */
    vmalloc_reset();
    vmm_reset();
    host_mmu_reset();
    memory_init();
    host_console_clear();
}

/* A teardown for tests that change the machine: one node again, the CPU id
   natural, no shootdown hook.  0, or pmm_set_nodes' -1. */
static inline int one_node_natural_cpu(void **state)
{
    (void)state;
    host_tlb_hook = NULL;
    host_tlb_return = 0;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    return pmm_set_nodes(1, NULL, 0, NULL, 0, NULL);
}

/* A setup: fresh_pmm_alone on one node, with the teardown's CPU id and hook. */
static inline int fresh_pmm_one_node(void **state)
{
    fresh_pmm_alone();
    return one_node_natural_cpu(state);
}

/* A node topology for pmm_set_nodes, without distances (10 local, 20 remote): {1} is one node. */
typedef struct {
    unsigned nodes;
    const pmm_node_range_t *ranges;
    unsigned nranges;
    const uint8_t *cpu_node;
    unsigned ncpus;
} node_layout_t;

/* Register layout l: pmm_set_nodes must take it. */
static inline void set_node_layout(const node_layout_t *l)
{
    assert_int_equal(pmm_set_nodes(l->nodes, l->ranges, l->nranges, l->cpu_node, l->ncpus, NULL),
                     0);
}

/* A cache's statistics (kmem_cache_get_stats must succeed). */
static inline kmem_cache_stats_t cache_stats(kmem_cache_t *c)
{
    kmem_cache_stats_t st;
    assert_int_equal(kmem_cache_get_stats(c, &st), 0);
    return st;
}

/*
 * The per-CPU caches' tests (test_percpu.c, test_attack_percpu.c): set up as
 * CPU 0 with every layer fresh over 32 MB; tear down back to the thread's
 * own CPU id (host_forced_cpu_id, host/glue_common.h).
 */
static inline int fresh_as_cpu0(void **state)
{
    (void)state;
    host_forced_cpu_id = 0;
    fresh_every_layer(32u << 20);
    return 0;
}

static inline int natural_cpu_ids(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    return 0;
}

/* A setup for threads as CPUs: every layer fresh over 32 MB, the CPU ids natural. */
static inline int natural_fresh(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    fresh_every_layer(32u << 20);
    return 0;
}

/*
 * child() run in a forked child must die of SIGABRT (glue_panic), having
 * printed msg on stderr (test_lock.c, test_lock_split.c: mm/'s own bugs panic).
 */
static inline void assert_child_panics(void (*child)(void), const char *msg)
{
    fflush(NULL);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        child();
        _exit(0); /* not reached */
    }
    close(fd[1]);
    char buf[512] = {0};
    ssize_t n = read(fd[0], buf, sizeof(buf) - 1);
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(n > 0);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    if (!strstr(buf, msg))
        fail_msg("expected \"%s\", got \"%s\"", msg, buf);
}

#endif /* HARNESS_H */

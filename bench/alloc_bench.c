/*
 * alloc_bench.c - our heap against the process's malloc, same workloads,
 * same run.
 *
 * The driver calls the heap through two tables: `mm` (kmalloc & co. over the
 * host glue: simulated PMM + paging, the code the kernel runs) and `libc`
 * (malloc & co., whichever allocator the process has: glibc, or jemalloc,
 * mimalloc, tcmalloc through LD_PRELOAD; tools/alloc-bench.sh runs it under
 * each).  It prints, per workload, throughput in Mops/s for both, and the
 * latency of single operations in cycles (rdtsc): median, p99, p99.99, max.
 * Timing only: nothing here passes or fails.
 *
 * kmalloc is O(1) but for one case (heap_fit.c, heap_find_fit): when no size class
 * above the request's has a free block and the head of its own class is too
 * small, it walks that one class list (first fit) before growing or failing,
 * so that it never fails, nor grows, while a block that fits is free.  Worst
 * case: one step per free block of that class, at most heap bytes / (the
 * class's smallest size + 2 headers + 16).  class_walk() times that walk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "../tests/rng.h"
#include "bench.h"
#include "host.h"
#include "machine.h"
#include "memory.h"
#include "pmm.h"
#include "vmm.h"

struct api {
    const char *name;
    void *(*alloc)(size_t);
    void (*free)(void *);
    void *(*realloc)(void *, size_t);
};

static void *libc_malloc(size_t n)
{
    return malloc(n);
}
static void libc_free(void *p)
{
    free(p);
}
static void *libc_realloc(void *p, size_t n)
{
    return realloc(p, n);
}

static const struct api mm = {"mm", kmalloc, kfree, krealloc};
static const struct api libc = {"malloc", libc_malloc, libc_free, libc_realloc};

#define SLOTS 1024
static void *slot[SLOTS];
static uint32_t rng;

static uint32_t next(void)
{
    return rng_next(&rng);
}

/* Each workload returns the number of operations it did. */
static long fixed_churn(const struct api *a)
{
    long ops = 0;
    for (int round = 0; round < 2000; round++) {
        for (int i = 0; i < SLOTS; i++, ops++) {
            a->free(slot[i]);
            slot[i] = a->alloc(64);
            touch(slot[i], 64);
        }
    }
    return ops;
}

static long random_sizes(const struct api *a)
{
    long ops = 0;
    for (int i = 0; i < 1000000; i++, ops++) {
        int k = next() % SLOTS;
        a->free(slot[k]);
        size_t n = 8 + next() % (64 * 1024 - 8);
        slot[k] = a->alloc(n);
        touch(slot[k], n);
    }
    return ops;
}

static long realloc_growth(const struct api *a)
{
    long ops = 0;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 64; i++) {
            size_t n = 16;
            void *p = NULL;
            while (n < 64 * 1024) {
                p = a->realloc(p, n);
                touch(p, n);
                n += 16 + next() % 512;
                ops++;
            }
            a->free(p);
            ops++;
        }
    }
    return ops;
}

static long small_storm(const struct api *a)
{
    static void *objs[20000];
    long ops = 0;
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 20000; i++, ops++) {
            size_t n = 16 + next() % 113;
            objs[i] = a->alloc(n);
            touch(objs[i], n);
        }
        for (int i = 0; i < 20000; i++, ops++)
            a->free(objs[i]);
    }
    return ops;
}

static void release_slots(const struct api *a)
{
    for (int i = 0; i < SLOTS; i++) {
        a->free(slot[i]);
        slot[i] = NULL;
    }
}

static double throughput(const struct api *a, long (*w)(const struct api *))
{
    rng = 12345;
    double t0 = now();
    long ops = w(a);
    double dt = now() - t0;
    release_slots(a);
    return ops / dt / 1e6;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* A million mixed operations (kmalloc/kfree, random sizes), each timed alone. */
#define LAT_OPS  1000000
#define LAT_RUNS 5
static uint64_t lat[LAT_OPS], lat_min[LAT_OPS];

static void latency_run(const struct api *a)
{
    rng = 777;
    for (int i = 0; i < LAT_OPS; i++) {
        int k = next() % SLOTS;
        size_t n = next() % 4 ? 8 + next() % 512 : 8 + next() % 32768;
        uint64_t t0 = __rdtsc();
        if (slot[k]) {
            a->free(slot[k]);
            slot[k] = NULL;
        } else {
            slot[k] = a->alloc(n);
        }
        lat[i] = __rdtsc() - t0;
        touch(slot[k], slot[k] ? n : 0);
    }
    release_slots(a);
}

static void percentiles(uint64_t *v, uint64_t out[4])
{
    qsort(v, LAT_OPS, sizeof(v[0]), cmp_u64);
    out[0] = v[LAT_OPS / 2];
    out[1] = v[LAT_OPS * 99 / 100];
    out[2] = v[LAT_OPS - LAT_OPS / 10000];
    out[3] = v[LAT_OPS - 1];
}

/* Our heap from scratch: the same state before every run, so run k's op i is run 0's op i. */
static void mm_fresh(size_t reserve)
{
    bench_machine(60u << 20);
    if (reserve)
        heap_reserve(reserve);
}

/*
 * raw: one run, as it comes (our heap growing on demand).  quiet: the same
 * operation sequence LAT_RUNS times, each operation's minimum over the runs:
 * an interrupt or a preemption lands on a given operation in every run only
 * by chance, so what stays is the allocator's own cost (ours with a reserve:
 * no page mapped or unmapped inside the run).
 */
static void latency(const struct api *a, size_t reserve, uint64_t raw[4], uint64_t quiet[4])
{
    for (int run = 0; run < LAT_RUNS; run++) {
        if (a == &mm)
            mm_fresh(run ? reserve : 0);
        latency_run(a);
        for (int i = 0; i < LAT_OPS; i++)
            lat_min[i] = run < 2 || lat[i] < lat_min[i] ? lat[i] : lat_min[i];
        if (run == 0)
            percentiles(lat, raw); /* sorts lat: run 1 starts lat_min afresh */
    }
    percentiles(lat_min, quiet);
}

/*
 * The worst case of heap_find_fit: n free blocks of 3600 bytes ahead of the only
 * one that fits 3650 (3696 bytes) in the class [3584, 3712), nothing free in
 * any class above (the rest of the heap taken).  Cycles of that kmalloc.
 */
static uint64_t class_walk(int n)
{
    enum { MAX = 4096 };
    static void *small[MAX], *sep[MAX];
    mm_fresh(0);
    void *fit = kmalloc(3696), *fit_sep = kmalloc(1000);
    for (int i = 0; i < n && i < MAX; i++) {
        small[i] = kmalloc(3600);
        sep[i] = kmalloc(1000);
    }
    memory_stats_t s;
    get_memory_stats(&s);
    void *rest = kmalloc(s.largest_free_block);
    kfree(fit); /* the list: small[n-1] -> ... -> small[0] -> fit */
    for (int i = 0; i < n && i < MAX; i++)
        kfree(small[i]);
    uint64_t t0 = __rdtsc();
    void *p = kmalloc(3650);
    uint64_t t = __rdtsc() - t0;
    if (p != fit)
        printf("WARNING: class_walk(%d): kmalloc(3650) = %p, not the block that fits %p\n", n, p,
               fit);
    kfree(p);
    kfree(rest);
    kfree(fit_sep);
    for (int i = 0; i < n && i < MAX; i++)
        kfree(sep[i]);
    return t;
}

static void print_latency(const char *who, const char *how, const uint64_t v[4])
{
    printf("latency cycles  %-8s %-34s median %5llu p99 %6llu p99.99 %7llu max %9llu (max/median "
           "%.0fx)\n",
           who, how, (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
           (unsigned long long)v[3], (double)v[3] / (double)v[0]);
}

int main(int argc, char **argv)
{
    const char *label = argc > 1 ? argv[1] : "malloc";
    bench_machine(60u << 20);

    static const struct {
        const char *name;
        long (*fn)(const struct api *);
    } work[] = {{"fixed 64 B churn", fixed_churn},
                {"random 8 B-64 KB", random_sizes},
                {"realloc growth", realloc_growth},
                {"small-object storm", small_storm}};
    for (size_t w = 0; w < sizeof(work) / sizeof(work[0]); w++) {
        double ours = throughput(&mm, work[w].fn);
        double theirs = throughput(&libc, work[w].fn);
        printf("throughput %-20s mm %7.2f Mops/s  %-10s %7.2f Mops/s  mm/%s %.2fx\n", work[w].name,
               ours, label, theirs, label, ours / theirs);
    }
    uint64_t a[4], aq[4], b[4], bq[4];
    latency(&mm, 16u << 20, a, aq);
    latency(&libc, 0, b, bq);
    print_latency("mm", "one run, heap grows on demand", a);
    print_latency(label, "one run", b);
    print_latency("mm", "heap_reserve 16 MB, min of 4 runs", aq);
    print_latency(label, "min of 4 runs", bq);
    for (int n = 16; n <= 4096; n *= 16) {
        uint64_t best = UINT64_MAX;
        for (int run = 0; run < 5; run++) {
            uint64_t t = class_walk(n);
            best = t < best ? t : best;
        }
        printf("latency cycles  mm       kmalloc walking its class past %4d blocks: %7llu (%.1f "
               "a block, min of 5 runs)\n",
               n, (unsigned long long)best, (double)best / n);
    }
    memory_stats_t s;
    get_memory_stats(&s);
    if (heap_check() || s.error_count)
        printf("WARNING: heap_check or error_count not clean after the run\n");
    return 0;
}

/*
 * string_bench.c - mm/string.c against a byte-at-a-time loop (the spec's
 * "~4x faster than byte-by-byte" claim) and against glibc, in one run.
 *
 * Built for i386 with mm/string.c compiled as the kernel compiles it (no
 * SSE/MMX: the kernel never touches vector registers), see the Makefile.
 * Each figure is the best of several timed repetitions; the table shows
 * throughput and ratios, never a pass/fail on time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* ours, as exported by a hosted build of mm/string.c (MM_HOSTED renames) */
void *mm_memset(void *ptr, int value, size_t size);
void *mm_memcpy(void *dest, const void *src, size_t size);
void *mm_memmove(void *dest, const void *src, size_t size);
int mm_memcmp(const void *a, const void *b, size_t size);

/* The naive reference: one byte per iteration, not vectorised or unrolled. */
__attribute__((noinline)) static void *byte_memset(void *p, int v, size_t n)
{
    unsigned char *d = p;
#pragma clang loop vectorize(disable) interleave(disable) unroll(disable)
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)v;
    return p;
}

__attribute__((noinline)) static void *byte_memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
#pragma clang loop vectorize(disable) interleave(disable) unroll(disable)
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
    return dst;
}

enum { MEMSET, MEMCPY, MEMMOVE, MEMCMP };
static unsigned char *a, *b;

static void run(int op, int impl, size_t n)
{
    switch (op) {
    case MEMSET:
        impl == 0   ? mm_memset(a, 0x5A, n)
        : impl == 1 ? byte_memset(a, 0x5A, n)
                    : memset(a, 0x5A, n);
        break;
    case MEMCPY:
        impl == 0 ? mm_memcpy(a, b, n) : impl == 1 ? byte_memcpy(a, b, n) : memcpy(a, b, n);
        break;
    case MEMMOVE:
        impl == 0 ? mm_memmove(a + 1, a, n) : memmove(a + 1, a, n);
        break;
    case MEMCMP:
        if ((impl == 0 ? mm_memcmp(a, b, n) : memcmp(a, b, n)) != 0)
            abort();
        break;
    }
}

/* Best-of-5 bytes per second for one implementation. */
static double measure(int op, int impl, size_t n)
{
    size_t reps = (64u << 20) / n + 1; /* about 64 MB per timing */
    double best = 1e30;
    for (int t = 0; t < 5; t++) {
        double t0 = now();
        for (size_t r = 0; r < reps; r++) {
            run(op, impl, n);
            __asm__ volatile("" : : "r"(a), "r"(b) : "memory");
        }
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    return (double)n * reps / best;
}

int main(void)
{
    static const size_t sizes[] = {8, 64, 256, 4096, 65536, 1 << 20};
    static const char *names[] = {"memset", "memcpy", "memmove", "memcmp"};
    a = aligned_alloc(64, (1 << 20) + 64);
    b = aligned_alloc(64, (1 << 20) + 64);
    memset(a, 1, (1 << 20) + 64);
    memset(b, 1, (1 << 20) + 64);

    printf("mm/string.c (i386, kernel flags) vs a byte loop and glibc, %zu-bit words\n",
           sizeof(size_t) * 8);
    printf("%-8s %8s %10s %10s %10s %9s %9s\n", "function", "size", "mm MB/s", "byte MB/s",
           "glibc MB/s", "mm/byte", "mm/glibc");
    for (int op = 0; op < 4; op++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            size_t n = sizes[i];
            double mm = measure(op, 0, n);
            double glibc = measure(op, 2, n);
            if (op <= MEMCPY) {
                double byte = measure(op, 1, n);
                printf("%-8s %8zu %10.0f %10.0f %10.0f %8.2fx %8.2fx\n", names[op], n, mm / 1e6,
                       byte / 1e6, glibc / 1e6, mm / byte, mm / glibc);
            } else {
                printf("%-8s %8zu %10.0f %10s %10.0f %9s %8.2fx\n", names[op], n, mm / 1e6, "-",
                       glibc / 1e6, "-", mm / glibc);
            }
        }
    }
    return 0;
}

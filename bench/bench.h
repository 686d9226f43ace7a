/*
 * bench.h - what the benchmark programs share: a wall clock and a touch of
 * each allocation (so that an allocator cannot hand out memory it never
 * maps, and the work is not optimised away).
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stddef.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Write the first and the last byte of [p, p + n): NULL or n == 0 touches nothing. */
static inline void touch(void *p, size_t n)
{
    if (p && n)
        ((volatile char *)p)[0] = ((volatile char *)p)[n - 1] = 1;
}

#endif /* BENCH_BENCH_H */

/*
 * rng.h - the tests' random numbers, one generator for every suite: the host
 * and kernel tests, the embedding test kernel (tests/embed/stress.c), the
 * fuzzers under tests/host, the shim's thread test and the benchmarks.
 *
 * xorshift32 (Marsaglia 2003, shifts 13, 17, 5): period 2^32 - 1 over the
 * nonzero states; a state of 0 stays 0, so seeds are never 0.  A seed names a
 * run: test_stress prints its figures per seed, test_misuse's fuzzers and
 * MM_SEED repeat a run by its seed, the benchmarks' traces are fixed by theirs.
 * So the sequence of a seed must never change.
 *
 * (Two programs keep their own generator, because recorded output depends on
 * it: tests/scribble/scribble.c (splitmix64: the seeds the README and past
 * reports name) and tests/tools/dump_sample.c (an LCG: the captured samples in
 * tests/tools/samples/ came from it).)
 */
#ifndef TESTS_RNG_H
#define TESTS_RNG_H

#include <stdint.h>

/* The next number; the state advances to it. */
static inline uint32_t rng_next(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* A number below n (n > 0): rng_next % n, slightly biased, which no test minds. */
static inline uint32_t rng_below(uint32_t *state, uint32_t n)
{
    return rng_next(state) % n;
}

/*
 * A size from a mix of three ranges, the way kernels allocate (mostly small,
 * some medium, a few large): range k is [base, base + span), taken `percent`
 * times in 100; the last range takes the rest.  Two draws per size, always.
 */
struct rng_range {
    uint32_t percent, base, span;
};

static inline uint32_t rng_size(uint32_t *state, const struct rng_range mix[3])
{
    uint32_t pick = rng_next(state) % 100;
    int k = pick < mix[0].percent ? 0 : pick < mix[0].percent + mix[1].percent ? 1 : 2;
    return mix[k].base + rng_next(state) % mix[k].span;
}

#endif /* TESTS_RNG_H */

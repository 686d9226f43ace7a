/*
 * bits.h - counting bits of a 32-bit word, without the compiler's runtime.
 *
 * mm/ links with no libgcc and no compiler-rt (-nostdlib): a __builtin_ that
 * becomes a library call (gcc turns __builtin_popcount into __popcountsi2 on
 * i386 without POPCNT) would leave an undefined symbol in the kernel.  These
 * three are the only bit tricks mm/ uses; make test-names builds mm/ with gcc
 * (-O0, -O2, -Os, -march=i486) and clang and fails on any such call.
 */
#ifndef MM_BITS_H
#define MM_BITS_H

#include <stdint.h>

/* Set bits in x (SWAR: no table, no library call, no POPCNT instruction). */
static inline unsigned bits_popcount(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

/*
 * Index of the lowest / highest set bit; x must not be 0.  Every x86 since the
 * 386 has bsf and bsr, and both compilers emit them here at any -O and -march.
 */
static inline unsigned bits_lowest(uint32_t x)
{
    return (unsigned)__builtin_ctz(x);
}

static inline unsigned bits_highest(uint32_t x)
{
    return 31u - (unsigned)__builtin_clz(x);
}

#endif /* MM_BITS_H */

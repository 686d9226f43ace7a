/*
 * kstring.h - memset / memcpy / memmove / memcmp (mm/string.c).
 *
 * In the kernel these are the real `memset` etc.: the compiler's own calls
 * (struct copies, zeroing) land on them too.  In a hosted build (the host
 * tests, the benchmarks, the LD_PRELOAD shim) libc already owns those names,
 * so MM_HOSTED renames ours to mm_memset etc. at the preprocessor level
 * (include/mm_names.h; MM_PREFIX does the same for every name of mm/): the
 * mm/ sources still say `memset`, the object file exports `mm_memset`, and
 * nothing collides with libc.  Host code that wants libc's version includes
 * <string.h> *before* this header and calls it through `libc_memset`-style
 * wrappers of its own, or simply calls mm_memset explicitly.
 */
#ifndef KSTRING_H
#define KSTRING_H

#include <stddef.h>

#include "mm_names.h" /* MM_HOSTED, MM_PREFIX: mm_memset etc. */

void *memset(void *ptr, int value, size_t size);
void *memcpy(void *dest, const void *src, size_t size);
void *memmove(void *dest, const void *src, size_t size);
int memcmp(const void *ptr1, const void *ptr2, size_t size);

#endif /* KSTRING_H */

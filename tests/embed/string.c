/*
 * string.c - memset, memcpy, memmove and memcmp as a kernel that embeds mm/
 * already owns them (and as the compiler calls them for struct copies and
 * zeroing, in mm/ too).  Compiled without mm/'s headers and without the
 * prefix switch: these are the kernel's names.  Two test kernels link it:
 * the embedding test's (tests/embed/, make test-embed) and the one
 * tools/names-check.sh links with the prefixed mm/ beside
 * tests/names/kernel_own.c (make test-names).
 *
 * Byte loops on purpose: these prove ownership, not speed.
 */
#include <stddef.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memset(void *dst, int c, size_t n)
{
    volatile unsigned char *d = dst; /* volatile: the compiler must not make this a memset call */
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    return memmove(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n)
{
    volatile unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

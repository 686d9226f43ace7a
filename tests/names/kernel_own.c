/*
 * kernel_own.c - the names an embedding kernel already owns (make test-names).
 *
 * Like xv6: kfree(char *) frees one of its pages, kmalloc is its own, and it
 * has its own memset & co.  Linked with mm/ built with -DMM_PREFIX, none of
 * these may clash with a symbol of mm/.  (Never run: only linked.)
 */
#include <stddef.h>

static char pages[4][4096];
static int next_page;

void kfree(char *v)
{
    (void)v;
    next_page--;
}

void *kmalloc(unsigned int n)
{
    return n <= sizeof pages[0] && next_page < 4 ? pages[next_page++] : NULL;
}

void *memset(void *dst, int c, size_t n)
{
    volatile char *d = dst;
    while (n--)
        *d++ = (char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    volatile char *d = dst;
    const char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    volatile char *d = dst;
    const char *s = src;
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
    for (; n; n--, x++, y++) {
        if (*x != *y)
            return *x - *y;
    }
    return 0;
}

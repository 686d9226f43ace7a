/*
 * kernel_own.c - the names an embedding kernel already owns (make test-names).
 *
 * Like xv6: kfree(char *) frees one of its pages, kmalloc is its own, and it
 * has its own memset & co. (tests/embed/string.c, the embedding test kernel's,
 * linked beside this file).  Linked with mm/ built with -DMM_PREFIX, none of
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

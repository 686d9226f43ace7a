/*
 * kernel_uses.c - a kernel file that calls mm/ (make test-names).
 *
 * Built with -DMM_PREFIX like mm/ itself: it says kmalloc, kfree, memset...
 * and calls mm_kmalloc, mm_kfree, mm_memset.  After `#undef kfree` the same
 * file calls the kernel's own kfree(char *) (kernel_own.c) and still reaches
 * ours as mm_kfree: the declarations were renamed when they were read.
 */
#include "memory.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"

void kernel_uses_mm(void)
{
    char *p = kmalloc(64); /* mm_kmalloc */
    memset(p, 0, 64);      /* mm_memset */
    kfree(p);              /* mm_kfree */
    kmem_cache_t *c = kmem_cache_create("names", 32, 0, NULL);
    kmem_cache_free(c, kmem_cache_alloc(c));
    vfree(vmalloc(4096));
    pmm_free_page(pmm_alloc_page());
}

#undef kfree
void kfree(char *v); /* the kernel's page free */

void kernel_uses_both(char *page)
{
    void *obj = kmalloc(16);
    mm_kfree(obj); /* ours, by its prefixed name */
    kfree(page);   /* the kernel's */
}

void _start(void)
{
    kernel_uses_mm();
    kernel_uses_both(0);
    for (;;) {
    }
}

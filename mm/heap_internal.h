/*
 * heap_internal.h - what heap.c and slab.c tell each other (never an embedder's business).
 *
 * A slab is one heap block laid out on exactly one page, its heap header at
 * the page's first byte:
 *
 *   page                                                       page + PAGE_SIZE
 *   | heap_block_t | slab_t (map...) | pad | obj 0 | obj 1 | ... | obj n-1 |
 *   ^ HEAP_HEADER_SIZE               ^ slab.first: objects end at the page end,
 *                                      so each is aligned to its stride's power of two
 *
 * The heap keeps, outside the heap's own bytes (so no overflow can forge it),
 * one bit per page of each region saying "this page is a slab": kfree asks
 * it first, so a slab object is never mistaken for a block or the reverse.
 *
 * Every function here expects the glue lock held.
 */
#ifndef MM_HEAP_INTERNAL_H
#define MM_HEAP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* ---- heap.c, for slab.c ---- */

/* A fresh slab page (address of its first byte), or NULL (out of memory, reported). */
void *heap_slab_page_alloc(const char *fn);
/* Give a slab page back to the heap. */
void heap_slab_page_free(void *page);
/* The slab page holding addr, or 0 if addr is not in a slab page. */
uintptr_t heap_slab_page_of(uintptr_t addr);
/* The first slab page at or above addr (regions in order), or 0: to walk every slab. */
uintptr_t heap_slab_page_next(uintptr_t addr);
/* Does the heap own [p, p + n)?  (to validate a cache pointer before reading it) */
int heap_owns(const void *p, size_t n);
/* heap_trim with the lock held. */
size_t heap_trim_locked(void);
/* Slab pages marked in the regions' bitmaps. */
uint32_t heap_slab_page_count(void);

/* ---- slab.c, for heap.c ---- */

/* Forget every cache and slab (memory_init). */
void slab_reset(void);
/* The virtual heap is up: kmalloc's small sizes go to the size-class caches from now on. */
void slab_enable(void);
/* Largest size kmalloc serves from a size-class cache. */
#define SLAB_KMALLOC_MAX 512
/*
 * kmalloc / kmalloc_aligned for size <= SLAB_KMALLOC_MAX: an object of the
 * smallest class whose stride is a multiple of align; NULL if none or no memory.
 */
void *slab_kmalloc(size_t size, size_t align);
/* kfree of a slab object at ptr in slab page `page`: 1, or 0 after reporting a bad pointer. */
int slab_kfree(const char *fn, uintptr_t page, void *ptr);
/* Usable bytes of the object at ptr, or 0 after reporting a bad pointer. */
size_t slab_usable(const char *fn, uintptr_t page, void *ptr);
/* Empty slabs of every cache back to the heap; returns pages released. */
size_t slab_reap_locked(void);
/* kmem_cache_check with the lock held. */
int slab_check_locked(void);
/* Live objects and slab pages of all caches (get_memory_stats). */
void slab_totals(uint32_t *objects, uint32_t *pages);
/* "kmalloc-64 12/63" for heap_dump. */
void slab_describe(uintptr_t page, char *buf, size_t len);

#endif /* MM_HEAP_INTERNAL_H */

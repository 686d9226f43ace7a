/*
 * magazine.h - the per-CPU caches' fast path (magazine.c), for kmalloc.c and
 * kmem_cache.c.  Each function takes no lock of the memory manager's in the
 * common case; NULL or 0 means "take the shared path" (which reports, if
 * there is anything to report): never an error by itself.
 */
#ifndef MM_MAGAZINE_H
#define MM_MAGAZINE_H

#include "names_priv.h"

#include <stddef.h>
#include <stdint.h>

#include "glue.h"
#include "slab.h"

/* kmalloc(size) for 1..SLAB_KMALLOC_MAX bytes from this CPU's cache of its class, or NULL. */
void *mag_kmalloc(size_t size);
/* kfree(ptr) into this CPU's cache: 1, or 0 (not a slab object we may take here). */
int mag_kfree(void *ptr);
/* kmem_cache_alloc(c) from this CPU's cache, or NULL. */
void *mag_cache_alloc(kmem_cache_t *c);
/* kmem_cache_free(c, obj) into this CPU's cache: 1, or 0. */
int mag_cache_free(kmem_cache_t *c, void *obj);

/*
 * Interrupts off and every CPU's cache lock, in CPU order, before mm/'s lock:
 * no magazine changes until mag_unlock_all.  Returns the CPUs whose locks are
 * held (bit n: CPU n): all of them, unless this CPU already holds mm/'s lock,
 * when a busy CPU is left out (it may be waiting for that lock).
 */
uint32_t mag_lock_all(glue_irqflags_t *flags);
void mag_unlock_all(uint32_t held, glue_irqflags_t flags);

/* Every CPU's cache lock held: mag_lock_all returned this. */
#define MAG_ALL ((uint32_t)((1ull << MM_MAX_CPUS) - 1))

#endif /* MM_MAGAZINE_H */

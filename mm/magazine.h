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
#include "slab_priv.h"

/*
 * The fast path is inline here (kmalloc.c and kmem_cache.c build it into
 * their public functions, no call on the way); its cold halves, a fill and a
 * flush under mm/'s lock, are magazine.c's.
 */

/* The descriptor of slab page `page`: the growing region's inline, the early heap's by call. */
static inline __attribute__((always_inline)) slab_t *mag_desc_of(uintptr_t page)
{
    uintptr_t off = page - slab_all.virtual_base;
    if (slab_all.virtual_base && off < VIRTUAL_BYTES)
        return &slab_all.meta_descs[off / PAGE_SIZE].s;
    return slab_desc_of(page);
}

/*
 * This CPU's caches, interrupts off and its cache lock held; NULL: take the
 * shared path (this CPU has no cache, holds mm/'s lock, or the debug checks
 * are on).
 */
static inline __attribute__((always_inline)) slab_cpu_t *mag_cpu_enter(glue_irqflags_t *flags)
{
    *flags = glue_irq_save();
    int cpu = glue_cpu_id();
    if ((unsigned)cpu >= MM_MAX_CPUS || mm_lock_held_by(cpu) || dbg_on()) {
        glue_irq_restore(*flags);
        return NULL;
    }
    slab_cpu_t *pc = &slab_all.cpu[cpu];
    cpu_cache_lock(pc);
    return pc;
}

static inline __attribute__((always_inline)) void mag_cpu_leave(slab_cpu_t *pc,
                                                                glue_irqflags_t flags)
{
    cpu_cache_unlock(pc);
    glue_irq_restore(flags);
}

/* The newest object of m (not empty), a magazine of c: no longer marked cached. */
static inline __attribute__((always_inline)) void *mag_pop(kmem_cache_t *c, mag_t *m)
{
    void *obj = m->obj[--m->n];
    uintptr_t page = (uintptr_t)obj & ~(uintptr_t)(PAGE_SIZE - 1);
    unsigned i = slab_index(c, (uintptr_t)obj - page);
    __atomic_fetch_and(&mag_desc_of(page)->cmap[i / 32], ~(1u << (i % 32)), __ATOMIC_RELAXED);
    m->allocs++;
    return obj;
}

/*
 * The cold half of mag_take, pc's magazine of c empty: filled from the slabs
 * under mm/'s lock, then popped; pc's lock and the interrupts let go.  NULL
 * if the slabs have nothing (the shared path then reports).
 */
__attribute__((noinline)) void *mag_take_filled(const char *fn, kmem_cache_t *c, slab_cpu_t *pc,
                                                glue_irqflags_t flags);
/* The cold half of mag_give, m full: its oldest MAG_BATCH objects back to the slabs. */
__attribute__((noinline)) void mag_give_flushed(const char *fn, kmem_cache_t *c, slab_cpu_t *pc,
                                                mag_t *m);

/* An object of c from this CPU's magazine (filled if empty), or NULL: the shared path. */
static inline __attribute__((always_inline)) void *mag_take(const char *fn, kmem_cache_t *c)
{
    glue_irqflags_t flags;
    slab_cpu_t *pc = mag_cpu_enter(&flags);
    if (!pc)
        return NULL;
    mag_t *m = &pc->mag[c->slot];
    if (!m->n)
        return mag_take_filled(fn, c, pc, flags);
    void *obj = mag_pop(c, m);
    mag_cpu_leave(pc, flags);
    return obj;
}

/*
 * ptr into this CPU's magazine of its cache: 1, or 0 if any check fails or
 * this CPU has no cache now (the shared path then frees or reports it).
 * want: the cache kmem_cache_free named (never a kmalloc class: those go
 * the shared way, so each class's magazines count kmalloc's calls alone),
 * or NULL for kfree (which takes only kmalloc's classes here).
 */
static inline __attribute__((always_inline)) int mag_give(const char *fn, kmem_cache_t *want,
                                                          void *ptr)
{
    uintptr_t page = heap_slab_page_quick((uintptr_t)ptr);
    if (!page)
        return 0;
    glue_irqflags_t flags;
    slab_cpu_t *pc = mag_cpu_enter(&flags); /* (descriptors are read under it: slab_meta_trim) */
    if (!pc)
        return 0;
    slab_t *s = mag_desc_of(page);
    kmem_cache_t *c = s ? __atomic_load_n(&s->cache, __ATOMIC_RELAXED) : NULL;
    uintptr_t off = (uintptr_t)ptr - page;
    if (!c || (want ? want != c : !c->builtin) || off < c->first ||
        __atomic_load_n(&s->node, __ATOMIC_RELAXED) != __atomic_load_n(&pc->node, __ATOMIC_RELAXED))
        goto shared; /* (another node's object: back to its own slab, not into this CPU's cache) */
    unsigned i = slab_index(c, off);
    uint32_t bit = 1u << (i % 32);
    if (off - c->first != (uintptr_t)i * c->stride ||
        !(__atomic_load_n(&s->map[i / 32], __ATOMIC_RELAXED) & bit))
        goto shared;
    if (slab_test_and_set(&s->cmap[i / 32], i % 32))
        goto shared; /* in some CPU's cache already: a double free */
    if (__atomic_load_n(&s->cache, __ATOMIC_RELAXED) != c ||
        !(__atomic_load_n(&s->map[i / 32], __ATOMIC_RELAXED) & bit)) {
        /* freed and released under us: a double free racing its slab's end */
        __atomic_fetch_and(&s->cmap[i / 32], ~bit, __ATOMIC_RELAXED);
        goto shared;
    }
    mag_t *m = &pc->mag[c->slot];
    if (m->n == MAG_ROUNDS)
        mag_give_flushed(fn, c, pc, m);
    m->obj[m->n++] = ptr;
    m->frees++;
    mag_cpu_leave(pc, flags);
    return 1;
shared:
    mag_cpu_leave(pc, flags);
    return 0;
}

/* kmalloc(size) for 1..SLAB_KMALLOC_MAX bytes from this CPU's cache of its class, or NULL. */
static inline __attribute__((always_inline)) void *mag_kmalloc(size_t size)
{
    if (size - 1 >= SLAB_KMALLOC_MAX || !__atomic_load_n(&slab_all.enabled, __ATOMIC_RELAXED))
        return NULL;
    unsigned k = slab_all.class_of[(size + 7) / 8];
    /* no classes laid out (heap_init_virtual without memory_init): blocks, as slab_kmalloc says */
    if (k >= slab_all.nclasses)
        return NULL;
    return mag_take("kmalloc", &slab_all.caches[k]);
}

/* kfree(ptr) into this CPU's cache: 1, or 0 (not a slab object we may take here). */
static inline __attribute__((always_inline)) int mag_kfree(void *ptr)
{
    return mag_give("kfree", NULL, ptr);
}

/* kmem_cache_alloc(c) from this CPU's cache, or NULL.  (A kmalloc class named by a caller
 * goes the shared way: see mag_give.) */
static inline __attribute__((always_inline)) void *mag_cache_alloc(kmem_cache_t *c)
{
    return slab_cache_ok(c) && !c->builtin ? mag_take("kmem_cache_alloc", c) : NULL;
}

/* kmem_cache_free(c, obj) into this CPU's cache: 1, or 0. */
static inline __attribute__((always_inline)) int mag_cache_free(kmem_cache_t *c, void *obj)
{
    return slab_cache_ok(c) && !c->builtin && mag_give("kmem_cache_free", c, obj);
}

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

/*
 * magazine.h - the per-CPU caches' fast path (magazine.c), for kmalloc.c and
 * kmem_cache.c (heap_stats.c takes mag_lock_all from it).  Each function
 * takes no shared lock of mm/'s in the common case (only its CPU's cache
 * lock); NULL or 0 means "take the shared path" (which reports, if there is
 * anything to report): never an error by itself.
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
 * shared path (this CPU has no cache, holds mm/'s lock, the debug checks are
 * on, or its cache lock is held elsewhere: a drain, a check or the
 * statistics have it, and the shared path is as good, without a spin).
 */
static inline __attribute__((always_inline)) slab_cpu_t *mag_cpu_enter(glue_irqflags_t *flags)
{
    *flags = glue_irq_save_fast();
    int cpu = glue_cpu_id_fast();
    if (__builtin_expect((unsigned)cpu < MM_MAX_CPUS && !mm_lock_held_by(cpu) && !dbg_on(), 1)) {
        slab_cpu_t *pc = &slab_all.cpu[cpu];
        if (__builtin_expect(cpu_cache_enter(pc), 1))
            return pc;
    }
    glue_irq_restore_fast(*flags);
    return NULL;
}

static inline __attribute__((always_inline)) void mag_cpu_leave(slab_cpu_t *pc,
                                                                glue_irqflags_t flags)
{
    cpu_cache_exit(pc);
    glue_irq_restore_fast(flags);
}

/*
 * The newest object of m (not empty), a magazine of c: no longer marked
 * cached.  (The early heap's pages too: their descriptors by call.)
 */
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
 * The cold half of mag_take, the newest object of pc's magazine of c in the
 * early heap (a descriptor found by call): popped, pc's lock and the
 * interrupts let go.
 */
__attribute__((noinline)) void *mag_take_early(kmem_cache_t *c, slab_cpu_t *pc,
                                               glue_irqflags_t flags);

/*
 * The cold half of mag_take, pc's magazine of c empty: filled from the slabs
 * under mm/'s lock, then popped; pc's lock and the interrupts let go.  NULL
 * if the slabs have nothing (the shared path then reports).
 */
__attribute__((noinline)) void *mag_take_filled(const char *fn, kmem_cache_t *c, slab_cpu_t *pc,
                                                glue_irqflags_t flags);
/*
 * The cold half of mag_give, m full: its oldest MAG_BATCH objects back to the
 * slabs, then ptr into it; pc's lock and the interrupts let go.
 */
__attribute__((noinline)) void mag_give_flushed(const char *fn, kmem_cache_t *c, slab_cpu_t *pc,
                                                mag_t *m, void *ptr, glue_irqflags_t flags);

/*
 * An object of c from this CPU's magazine (filled if empty and `fill`), or
 * NULL: the shared path (or, not `fill`, a caller's cold path that calls
 * again with it).  Every call out of it is its last (a leaf otherwise: no
 * frame to build).  slot: c->slot, known to a kmalloc caller without the
 * load; kmalloc: c is a size class of kmalloc's.
 */
static inline __attribute__((always_inline)) void *mag_take(const char *fn, kmem_cache_t *c,
                                                            unsigned slot, int kmalloc, int fill)
{
    glue_irqflags_t flags;
    slab_cpu_t *pc = mag_cpu_enter(&flags);
    if (!pc)
        return NULL;
    mag_t *m = &pc->mag[slot];
    uint32_t n = m->n;
    if (__builtin_expect(!n, 0)) {
        if (fill)
            return mag_take_filled(fn, c, pc, flags);
        mag_cpu_leave(pc, flags);
        return NULL;
    }
    void *obj = m->obj[n - 1];
    uintptr_t page = (uintptr_t)obj & ~(uintptr_t)(PAGE_SIZE - 1);
    uintptr_t vbase = slab_all.virtual_base, voff = page - vbase;
    /*
     * (no virtual heap yet, or an object of the early heap's: a descriptor by call; kmalloc's
     * classes are used from slab_enable on, which sets vbase first: no test of it)
     */
    if (__builtin_expect(voff >= VIRTUAL_BYTES, 0) || (!kmalloc && __builtin_expect(!vbase, 0))) {
        if (fill)
            return mag_take_early(c, pc, flags);
        mag_cpu_leave(pc, flags); /* (the caller's cold path calls again with fill) */
        return NULL;
    }
    m->n = n - 1;
    unsigned i = slab_index(c, (uintptr_t)obj - page);
    __atomic_fetch_and(&slab_all.meta_descs[voff / PAGE_SIZE].s.cmap[i / 32], ~(1u << (i % 32)),
                       __ATOMIC_RELAXED);
    m->allocs++;
    mag_cpu_leave(pc, flags);
    if (!obj) /* (a slab object: never; the caller tests no more) */
        __builtin_unreachable();
    return obj;
}

/*
 * ptr into this CPU's magazine of its cache: 1, or 0 if any check fails or
 * this CPU has no cache now (the shared path then frees or reports it).
 * want: the cache kmem_cache_free named (never a kmalloc class: those go
 * the shared way, so each class's magazines count kmalloc's calls alone),
 * or NULL for kfree (which takes only kmalloc's classes here).
 *
 * Only slab pages of the growing region come this way (heap_quick's bit):
 * their descriptors are the window's, indexed by the page number the bit
 * test computed (heap_quick.base is slab_all.virtual_base: both are
 * HEAP_VIRTUAL_START's pointer, and no page's bit is set before
 * slab_enable).  Each test below is one of the always-on checks
 * (magazine.c's table); every failure takes the shared path, which reports.
 */
static inline __attribute__((always_inline)) int mag_give(const char *fn, kmem_cache_t *want,
                                                          void *ptr)
{
    uintptr_t a = (uintptr_t)ptr;
    /* (base 0: no growing region, and no page's bit set: heap_region_reset clears them) */
    uintptr_t off = a - __atomic_load_n(&heap_quick.base, __ATOMIC_RELAXED);
    if (off >= HEAP_VIRTUAL_LIMIT) /* not the growing region's (wild; NULL too) */
        return 0;
    uint32_t pg = (uint32_t)(off / PAGE_SIZE);
    if (!((__atomic_load_n(&heap_quick.map[pg / 32], __ATOMIC_RELAXED) >> (pg % 32)) & 1))
        return 0; /* not a slab page: a block, or wild */
    glue_irqflags_t flags;
    slab_cpu_t *pc = mag_cpu_enter(&flags); /* (descriptors are read under it: slab_meta_trim) */
    if (!pc)
        return 0;
    slab_t *s = &slab_all.meta_descs[pg].s;
    kmem_cache_t *c = __atomic_load_n(&s->cache, __ATOMIC_RELAXED);
    off = a % PAGE_SIZE;
    if (!c || (want ? want != c : !c->builtin) || off < c->first ||
        __atomic_load_n(&s->node, __ATOMIC_RELAXED) != __atomic_load_n(&pc->node, __ATOMIC_RELAXED))
        goto shared; /* (another node's object: back to its own slab, not into this CPU's cache) */
    unsigned i;
    if (!slab_on_grid(c, off, &i) ||
        !((__atomic_load_n(&s->map[i / 32], __ATOMIC_RELAXED) >> (i % 32)) & 1))
        goto shared;
    if (slab_test_and_set(&s->cmap[i / 32], i % 32))
        goto shared; /* in some CPU's cache already: a double free */
    if (__builtin_expect(
            __atomic_load_n(&s->cache, __ATOMIC_RELAXED) != c ||
                !((__atomic_load_n(&s->map[i / 32], __ATOMIC_RELAXED) >> (i % 32)) & 1),
            0)) {
        /* freed and released under us: a double free racing its slab's end */
        __atomic_fetch_and(&s->cmap[i / 32], ~(1u << (i % 32)), __ATOMIC_RELAXED);
        goto shared;
    }
    mag_t *m = &pc->mag[c->slot];
    if (__builtin_expect(__atomic_load_n(&s->filler, __ATOMIC_RELAXED) != pc->filler_key, 0))
        m = &pc->rmag[c->slot]; /* another CPU's slab: kept apart (slab_cpu_t.rmag) */
    uint32_t n = m->n;
    if (__builtin_expect(n == MAG_ROUNDS, 0)) {
        mag_give_flushed(fn, c, pc, m, ptr, flags); /* (a last call: the caller has no more) */
        return 1;
    }
    m->obj[n] = ptr;
    m->n = n + 1;
    pc->mag[c->slot].frees++;
    mag_cpu_leave(pc, flags);
    return 1;
shared:
    mag_cpu_leave(pc, flags);
    return 0;
}

/*
 * kmalloc(size) for 1..SLAB_KMALLOC_MAX bytes from this CPU's cache of its
 * class (filled if empty and `fill`), or NULL.
 */
static inline __attribute__((always_inline)) void *mag_kmalloc_fill(size_t size, int fill)
{
    if (size > SLAB_KMALLOC_MAX)
        return NULL;
    /* 0: size 0, or not enabled, or no classes laid out (heap_init_virtual without memory_init:
     * blocks, as slab_kmalloc says) */
    unsigned k1 = __atomic_load_n(&slab_all.mag_class[size], __ATOMIC_RELAXED);
    if (!k1)
        return NULL;
    return mag_take("kmalloc", &slab_all.caches[k1 - 1], k1 - 1, 1, fill); /* (a class's slot: k) */
}

static inline __attribute__((always_inline)) void *mag_kmalloc(size_t size)
{
    return mag_kmalloc_fill(size, 1);
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
    return slab_cache_ok(c) && !c->builtin ? mag_take("kmem_cache_alloc", c, c->slot, 0, 1) : NULL;
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
/*
 * For a host's fork: in the child, mag_lock_all's `held` let go and every CPU
 * off its fast path (the parent's other threads are gone).  The parent calls
 * mag_unlock_all.
 */
void mag_fork_child(uint32_t held);

/* Every CPU's cache lock held: mag_lock_all returned this. */
#define MAG_ALL ((uint32_t)((1ull << MM_MAX_CPUS) - 1))

#endif /* MM_MAGAZINE_H */

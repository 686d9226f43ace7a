/*
 * magazine.c - the per-CPU caches: kmalloc's size classes and every
 * kmem_cache allocate and free on the local CPU without the memory manager's
 * lock, in the common case.
 *
 * Theory of operation
 * -------------------
 * Each CPU numbered below MM_MAX_CPUS keeps, for every cache, a magazine (in
 * the sense of Bonwick and Adams, "Magazines and Vmem", 2001): an array of
 * up to MAG_ROUNDS objects of that cache, the newest on top.  kmalloc and
 * kmem_cache_alloc pop one, kfree and kmem_cache_free push one.  An empty
 * magazine is filled with MAG_BATCH objects from the slabs, a full one gives
 * its MAG_BATCH oldest back, each under the memory manager's lock: one lock
 * round trip per MAG_BATCH operations at worst, none while a CPU's frees and
 * allocations balance.
 *
 * An object in a magazine is out of its slab (its map bit is set, it counts
 * in the slab's inuse) and marked cached in the slab's descriptor (its cmap
 * bit, slab_priv.h).  So the slabs never hand it out, a slab holding it is
 * never released, and every check stays always on:
 *
 *   check             how, on the fast free path                     cost
 *   wild pointer      the heap's slab-page bit for the page          a load, a shift
 *   interior pointer  offset on the cache's stride grid              a multiply
 *   wrong cache       the slab descriptor names another cache        a load, a compare
 *   double free       map bit clear (free in its slab), or the       a load; lock bts
 *                     cmap bit already set (in some CPU's cache)
 *
 * The cmap bit is set with one locked bit-test-and-set (lock bts), so two
 * CPUs freeing the same object at once cannot both win: the loser, like every
 * free that fails a check here, goes the shared way (kmalloc.c, kmem_cache.c),
 * which reports it under the lock.  The fast path itself never reports.
 *
 * Locks, in the order they are taken (never the other way):
 *
 *   1. a CPU's cache lock (slab_priv.h: an xchg spinlock, interrupts off):
 *      its owner takes it on every fast-path call; a drain, a check or the
 *      statistics take every CPU's (mag_lock_all), in CPU order;
 *   2. the memory manager's lock (lock.c: the heap, the slabs, the VMM, the
 *      PMM), taken inside 1 to fill or flush a magazine.
 *
 * Nothing that holds 2 waits for a 1: the PMM's reclaim and the metadata
 * trim only try the cache locks and leave a busy CPU alone
 * (slab_cpu_drain), and a CPU that holds 2 (a constructor, a reclaim hook, a
 * page-table allocation running inside mm/) takes the shared path for every
 * call it makes.  The debug build with its checks on takes the shared path
 * too (red zones and the quarantine are per object).
 *
 * Owns no state (the magazines are slab.c's, in slab_all.cpu).  Calls
 * slab.c, heap_region.c (heap_slab_page_quick), lock.c.
 */
#include "slab_priv.h"

#include "magazine.h"

/* The descriptor of slab page `page`: the growing region's inline, the early heap's by call. */
static inline slab_t *desc_of(uintptr_t page)
{
    uintptr_t off = page - slab_all.virtual_base;
    if (slab_all.virtual_base && off < VIRTUAL_BYTES)
        return &slab_all.meta_descs[off / PAGE_SIZE].s;
    return slab_desc_of(page);
}

/* This CPU's caches, interrupts off and its cache lock held; NULL: take the shared path. */
static slab_cpu_t *cpu_enter(glue_irqflags_t *flags)
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

static void cpu_leave(slab_cpu_t *pc, glue_irqflags_t flags)
{
    cpu_cache_unlock(pc);
    glue_irq_restore(flags);
}

/* An object of c from this CPU's magazine (filled if empty), or NULL: the shared path. */
static void *take(const char *fn, kmem_cache_t *c, int kmalloc)
{
    glue_irqflags_t flags;
    slab_cpu_t *pc = cpu_enter(&flags);
    if (!pc)
        return NULL;
    mag_t *m = &pc->mag[c->slot];
    void *obj = NULL;
    if (!m->n) {
        pc->busy_slot = c->slot;
        heap_call_t call = heap_enter(fn);
        slab_mag_fill(fn, c, m, MAG_BATCH);
        heap_leave(call);
        pc->busy_slot = NCACHES;
    }
    if (m->n) {
        obj = m->obj[--m->n];
        uintptr_t page = (uintptr_t)obj & ~(uintptr_t)(PAGE_SIZE - 1);
        slab_t *s = desc_of(page);
        unsigned i = (unsigned)(((uint64_t)((uintptr_t)obj - page - c->first) * c->recip) >> 32);
        __atomic_fetch_and(&s->cmap[i / 32], ~(1u << (i % 32)), __ATOMIC_RELAXED);
        m->allocs++;
        pc->kmallocs += (uint32_t)kmalloc;
    }
    cpu_leave(pc, flags);
    return obj;
}

/*
 * ptr into this CPU's magazine of its cache (want: the cache the caller
 * named, or NULL for kfree): 1, or 0 if any check fails or this CPU has no
 * cache now (the shared path then frees or reports it).
 */
static int give(const char *fn, kmem_cache_t *want, void *ptr, int kmalloc)
{
    uintptr_t page = heap_slab_page_quick((uintptr_t)ptr);
    if (!page)
        return 0;
    glue_irqflags_t flags;
    slab_cpu_t *pc = cpu_enter(&flags);
    if (!pc)
        return 0;
    slab_t *s = desc_of(page);
    kmem_cache_t *c = s ? __atomic_load_n(&s->cache, __ATOMIC_RELAXED) : NULL;
    uintptr_t off = (uintptr_t)ptr - page;
    if (!c || (want && want != c) || off < c->first)
        goto shared;
    unsigned i = (unsigned)(((uint64_t)(off - c->first) * c->recip) >> 32);
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
    if (m->n == MAG_ROUNDS) { /* the oldest half back to the slabs */
        pc->busy_slot = c->slot;
        heap_call_t call = heap_enter(fn);
        slab_mag_flush(c, m->obj, MAG_BATCH);
        heap_leave(call);
        pc->busy_slot = NCACHES;
        for (unsigned k = MAG_BATCH; k < MAG_ROUNDS; k++)
            m->obj[k - MAG_BATCH] = m->obj[k];
        m->n -= MAG_BATCH;
    }
    m->obj[m->n++] = ptr;
    m->frees++;
    pc->kfrees += (uint32_t)kmalloc;
    cpu_leave(pc, flags);
    return 1;
shared:
    cpu_leave(pc, flags);
    return 0;
}

void *mag_kmalloc(size_t size)
{
    if (size == 0 || size > SLAB_KMALLOC_MAX ||
        !__atomic_load_n(&slab_all.enabled, __ATOMIC_RELAXED))
        return NULL;
    unsigned k = slab_all.class_of[(size + 7) / 8];
    /* no classes laid out (heap_init_virtual without memory_init): blocks, as slab_kmalloc says */
    if (k >= slab_all.nclasses)
        return NULL;
    return take("kmalloc", &slab_all.caches[k], 1);
}

int mag_kfree(void *ptr)
{
    return give("kfree", NULL, ptr, 1);
}

void *mag_cache_alloc(kmem_cache_t *c)
{
    return slab_cache_ok(c) ? take("kmem_cache_alloc", c, 0) : NULL;
}

int mag_cache_free(kmem_cache_t *c, void *obj)
{
    return slab_cache_ok(c) && give("kmem_cache_free", c, obj, 0);
}

uint32_t mag_lock_all(glue_irqflags_t *flags)
{
    *flags = glue_irq_save();
    int inside = mm_lock_held(); /* then a CPU waiting for mm/'s lock holds its cache lock */
    uint32_t held = 0;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        slab_cpu_t *pc = &slab_all.cpu[cpu];
        if (inside && !cpu_cache_trylock(pc))
            continue;
        if (!inside)
            cpu_cache_lock(pc);
        held |= 1u << cpu;
    }
    return held;
}

void mag_unlock_all(uint32_t held, glue_irqflags_t flags)
{
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        if ((held >> cpu) & 1)
            cpu_cache_unlock(&slab_all.cpu[cpu]);
    }
    glue_irq_restore(flags);
}

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
 *   another node's    the slab's node is not this CPU's home node    two loads, a compare
 *     object          (slab_cpu_t.node): back to its own slab, the
 *                     shared way (measured: 5 instructions a free)
 *
 * A CPU's magazines are filled from its home node's slabs (slab.c), so the
 * objects it hands out are its node's while that node has memory.
 *
 * The cmap bit is set with one locked bit-test-and-set (lock bts), so two
 * CPUs freeing the same object at once cannot both win: the loser, like every
 * free that fails a check here, goes the shared way (kmalloc.c, kmem_cache.c),
 * which reports it under the lock.  The fast path itself never reports.
 *
 * Locks, in the order they are taken (never the other way):
 *
 *   1. a CPU's cache lock (slab_priv.h, interrupts off: with the glue's
 *      fence a flag its owner sets with a plain move, else an xchg
 *      spinlock): its owner takes it on every fast-path call; a drain, a
 *      check or the statistics take every CPU's (mag_lock_all), in CPU
 *      order;
 *   2. mm_lock (the heap, the slabs' shared path), taken inside 1 to fill or
 *      flush a magazine; the locks below it (vmm_lock, the PMM's) are the
 *      order mm/lock.c writes down.
 *
 * Nothing that holds 2 waits for a 1: the PMM's reclaim and the metadata
 * trim only try the cache locks and leave a busy CPU alone
 * (slab_cpu_drain), and a CPU that holds 2 (a constructor, a reclaim hook, a
 * page-table allocation running inside mm/) takes the shared path for every
 * call it makes.  The debug build with its checks on takes the shared path
 * too (red zones and the quarantine are per object).
 *
 * The fast path (magazine.h) is inline in kmalloc.c's and kmem_cache.c's
 * public functions; this file holds its cold halves (a fill, a flush) and
 * mag_lock_all.  Owns no state (the magazines are slab_core.c's, in
 * slab_all.cpu).  Calls slab.c (slab_mag_fill), slab_core.c (slab_mag_flush,
 * the cache and descriptor checks), heap_block.c (the name for the reports),
 * lock.c; the inline path reads heap_region.c's heap_quick and slab_core.c's
 * slab_all, and calls the glue.
 */
#include "magazine.h"

void *mag_take_filled(const char *fn, kmem_cache_t *c, slab_cpu_t *pc, glue_irqflags_t flags)
{
    mag_t *m = &pc->mag[c->slot];
    pc->busy_slot = c->slot;
    heap_call_t call = heap_enter(fn);
    /*
     * Again under mm/'s lock: the caller checked c before waiting for its
     * CPU's lock, which a kmem_cache_destroy may have held meanwhile (then c
     * is dead, and the shared path reports the call).
     */
    if (slab_cache_ok(c))
        slab_mag_fill(fn, c, (unsigned)(pc - slab_all.cpu), m, MAG_BATCH);
    heap_leave(call);
    pc->busy_slot = NCACHES;
    void *obj = m->n ? mag_pop(c, m) : NULL;
    mag_cpu_leave(pc, flags);
    return obj;
}

void *mag_take_early(kmem_cache_t *c, slab_cpu_t *pc, glue_irqflags_t flags)
{
    void *obj = mag_pop(c, &pc->mag[c->slot]);
    mag_cpu_leave(pc, flags);
    return obj;
}

void mag_give_flushed(const char *fn, kmem_cache_t *c, slab_cpu_t *pc, mag_t *m, void *ptr,
                      glue_irqflags_t flags)
{
    /* the oldest MAG_BATCH of this CPU's own; all of the others' (rmag: never handed out here) */
    unsigned out = m == &pc->mag[c->slot] ? MAG_BATCH : m->n;
    pc->busy_slot = c->slot;
    heap_call_t call = heap_enter(fn);
    slab_mag_flush(c, m->obj, out);
    heap_leave(call);
    pc->busy_slot = NCACHES;
    for (unsigned k = out; k < m->n; k++)
        m->obj[k - out] = m->obj[k];
    m->n -= out;
    m->obj[m->n++] = ptr;
    pc->mag[c->slot].frees++;
    mag_cpu_leave(pc, flags);
}

uint32_t mag_lock_all(glue_irqflags_t *flags)
{
    *flags = glue_irq_save();
    if (mm_lock_held()) /* then a CPU waiting for mm/'s lock holds its cache lock: try only */
        return cpu_cache_try_all(0);
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++)
        mm_spin_lock(&slab_all.cpu[cpu].lock);
#ifdef CPU_CACHE_FENCED
    (void)cpu_cache_settle(MAG_ALL, 1); /* then each owner off its fast path (one fence) */
#endif
    return MAG_ALL;
}

void mag_unlock_all(uint32_t held, glue_irqflags_t flags)
{
    cpu_cache_unlock_set(held);
    glue_irq_restore(flags);
}

void mag_fork_child(uint32_t held)
{
    /*
     * Only the forking thread lives on: no CPU is on its fast path.  A
     * `busy` left set was an owner backing off from the taken cache
     * (cpu_cache_enter) when the fork came.
     */
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++)
        __atomic_store_n(&slab_all.cpu[cpu].busy, 0u, __ATOMIC_RELAXED);
    cpu_cache_unlock_set(held);
}

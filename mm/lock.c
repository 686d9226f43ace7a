/*
 * lock.c - mm/'s two locks, nesting counted here.
 *
 *   mm_lock   the memory manager's lock: the heap, the slabs, the VMM,
 *             vmalloc, kmap, the debug build's records, the describers, the
 *             reclaim hooks.  Mutual exclusion from the glue's spinlock.
 *   pmm_lock  the PMM's own, a leaf: taken inside mm_lock or alone, never
 *             the other way round.  mm/'s own xchg spinlock (a 386 has
 *             xchg), its waiting loop calling glue_cpu_relax like every
 *             other spin loop of mm/'s.
 *
 * The order, outermost first (mm/glue.h has the whole list): a CPU's cache
 * lock, mm_lock, the PMM's per-CPU list locks (mm/pmm.c: in CPU order, never
 * waited for by a CPU holding pmm_lock), pmm_lock.  A CPU that holds pmm_lock and asks for mm_lock
 * (which it does not hold) could wait for a CPU that holds mm_lock and waits
 * for pmm_lock: mm_lock refuses it with glue_panic, so a broken order shows at
 * its first run, not as a hang under load.  Nothing in mm/ does it: the PMM
 * runs the reclaim hooks (which take mm_lock) after dropping its lock.
 *
 * A lock's holder and depth are written only by its holder.  Another CPU
 * reads the holder without the lock, and can only ever see its own number
 * there if it wrote it itself: a CPU that wrote it and has not cleared it
 * still holds the lock, and it cannot have moved to another CPU since,
 * because interrupts are off (glue_irq_save before glue_cpu_id).
 *
 * Owns the locks' state.  Calls only the glue: the bottom of mm/.
 */
#include "lock.h"

#define NO_CPU (-1)

int mm_lock_holder = NO_CPU; /* read without the lock: __atomic (lock.h's mm_lock_held_by) */
static unsigned depth;       /* the holder's alone */

static struct {
    uint32_t word; /* 0 free, 1 taken: xchg */
    unsigned depth;
} pmm_spin = {0, 0};
/* its holder, read without the lock: __atomic (lock.h's pmm_lock_held_by, the PMM's lists) */
int pmm_lock_holder = NO_CPU;

static int this_cpu(const char *fn)
{
    int cpu = glue_cpu_id();
    if (cpu == NO_CPU) /* it would read as "nobody holds it": no mutual exclusion at all */
        glue_panic(fn);
    return cpu;
}

glue_irqflags_t mm_lock(void)
{
    glue_irqflags_t flags = glue_irq_save();
    int cpu = this_cpu("mm_lock: glue_cpu_id returned -1, which mm/glue.h forbids");

    if (__atomic_load_n(&mm_lock_holder, __ATOMIC_RELAXED) == cpu) {
        depth++;
        return flags;
    }
    if (__atomic_load_n(&pmm_lock_holder, __ATOMIC_RELAXED) == cpu)
        glue_panic("mm_lock: asked for inside the PMM's lock: the lock order is mm_lock, then "
                   "pmm_lock (mm/lock.c)");
    glue_spin_lock();
    __atomic_store_n(&mm_lock_holder, cpu, __ATOMIC_RELAXED);
    depth = 1;
    return flags;
}

void mm_unlock(glue_irqflags_t flags)
{
    if (__atomic_load_n(&mm_lock_holder, __ATOMIC_RELAXED) != glue_cpu_id() || depth == 0)
        glue_panic("mm_unlock: the memory manager's lock is not held by this CPU");
    if (--depth == 0) {
        __atomic_store_n(&mm_lock_holder, NO_CPU, __ATOMIC_RELAXED);
        glue_spin_unlock();
    }
    glue_irq_restore(flags);
}

int mm_lock_held(void)
{
    return __atomic_load_n(&mm_lock_holder, __ATOMIC_RELAXED) == glue_cpu_id();
}

glue_irqflags_t pmm_lock(void)
{
    glue_irqflags_t flags = glue_irq_save();
    int cpu = this_cpu("pmm_lock: glue_cpu_id returned -1, which mm/glue.h forbids");

    if (__atomic_load_n(&pmm_lock_holder, __ATOMIC_RELAXED) == cpu) {
        pmm_spin.depth++;
        return flags;
    }
    while (__atomic_exchange_n(&pmm_spin.word, 1u, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&pmm_spin.word, __ATOMIC_RELAXED))
            glue_cpu_relax(); /* the kernel answers shootdown requests here */
    }
    __atomic_store_n(&pmm_lock_holder, cpu, __ATOMIC_RELAXED);
    pmm_spin.depth = 1;
    return flags;
}

void pmm_unlock(glue_irqflags_t flags)
{
    if (__atomic_load_n(&pmm_lock_holder, __ATOMIC_RELAXED) != glue_cpu_id() || pmm_spin.depth == 0)
        glue_panic("pmm_unlock: the PMM's lock is not held by this CPU");
    if (--pmm_spin.depth == 0) {
        __atomic_store_n(&pmm_lock_holder, NO_CPU, __ATOMIC_RELAXED);
        __atomic_store_n(&pmm_spin.word, 0u, __ATOMIC_RELEASE);
    }
    glue_irq_restore(flags);
}

int pmm_lock_held(void)
{
    return __atomic_load_n(&pmm_lock_holder, __ATOMIC_RELAXED) == glue_cpu_id();
}

/*
 * lock.c - the memory manager's one lock: nesting counted here, mutual
 * exclusion between CPUs from the glue's spinlock.
 *
 * The holder's CPU number and the depth are written only by the holder.
 * Another CPU reads `mm_lock_holder` without the lock, and can only ever see its own
 * number there if it wrote it itself: a CPU that wrote it and has not cleared
 * it still holds the lock, and it cannot have moved to another CPU since,
 * because interrupts are off (glue_irq_save before glue_cpu_id).
 *
 * Owns the lock's state.  Calls only the glue: the bottom of mm/.
 */
#include "lock.h"

#define NO_CPU (-1)

int mm_lock_holder = NO_CPU; /* read without the lock: __atomic (lock.h's mm_lock_held_by) */
static unsigned depth;       /* the holder's alone */

glue_irqflags_t mm_lock(void)
{
    glue_irqflags_t flags = glue_irq_save();
    int cpu = glue_cpu_id();
    if (cpu == NO_CPU) /* it would read as "nobody holds it": no mutual exclusion at all */
        glue_panic("mm_lock: glue_cpu_id returned -1, which mm/glue.h forbids");

    if (__atomic_load_n(&mm_lock_holder, __ATOMIC_RELAXED) == cpu) {
        depth++;
        return flags;
    }
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

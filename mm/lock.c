/*
 * lock.c - mm/'s three ranked locks, nesting counted here.
 *
 * The locks of mm/ and their order, outermost first (a CPU holding one may
 * take only those further down; mm/glue.h has the list for embedders):
 *
 *   a CPU's cache lock  (mm/magazine.h, slab_priv.h's cpu_cache_lock) the
 *             per-CPU magazines, taken with interrupts off by the fast path
 *             of its own CPU, by a drain or a check of another (mag_lock_all:
 *             every CPU's, in CPU order).
 *   mm_lock   rank 1, the heap's lock: the heap and its regions, the slabs'
 *             shared path (lists, refill and flush of the magazines),
 *             vmalloc's areas, zswap and the zstore, the debug build's
 *             records, the describers, the reclaim hooks and their table.
 *             Mutual exclusion from the glue's spinlock.
 *   vmm_lock  rank 2, the VMM's lock: the page directory and tables, kmap's
 *             counts, the window's stale bits, and the PMM's chain of pages
 *             held for a shootdown (pmm_free_held .. pmm_tlb_shootdown_free
 *             run under one hold of it).  mm/'s own xchg spinlock.  A CPU
 *             mapping or unmapping a page (vmm_map, a caller's vmm_unmap_page,
 *             a kernel stack, vmm_check) no longer waits for kmalloc's slow
 *             paths on other CPUs, nor they for it.
 *   the PMM's per-CPU list locks (mm/pmm_pcp.c: in CPU order, never waited for
 *             by a CPU holding pmm_lock).
 *   pmm_lock  rank 3, the PMM's: its free lists, a leaf.  mm/'s own xchg
 *             spinlock.
 *   log.c's out_lock, the innermost: nothing but the console under it.
 *
 * Each spinlock's waiting loop calls glue_cpu_relax like every other spin
 * loop of mm/'s (a kernel answers shootdown requests there).
 *
 * Deadlock-proofing: a CPU that holds a lock of a higher rank and asks for
 * one of a lower rank (which it does not hold) could wait for a CPU that
 * holds the lower and waits for the higher: the lock refuses it with one
 * glue_panic line naming both locks, so a broken order shows at its first
 * run, not as a hang under load.  Nothing in mm/ does it: the PMM runs the
 * reclaim hooks (which take mm_lock) after dropping its lock, and skips them
 * on a CPU that holds vmm_lock without mm_lock (mm_lock_may_take); the VMM
 * calls nothing above it with its lock held (vmm_describe asks the
 * describers after letting it go).  Re-entering a lock the CPU holds is
 * counted, never an error: the heap calls the VMM, a reclaim hook the heap.
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
uint32_t mm_lock_seq;        /* odd while held: lock.h's mm_lock_seq_begin */
static unsigned depth;       /* the holder's alone */

/* mm/'s own spinlocks: the VMM's and the PMM's */
typedef struct {
    uint32_t word; /* 0 free, 1 taken: xchg */
    unsigned depth;
} own_spin_t;

static own_spin_t vmm_spin, pmm_spin;
int vmm_lock_holder = NO_CPU; /* read without the lock: __atomic */
/* its holder, read without the lock: __atomic (lock.h's pmm_lock_held_by, the PMM's lists) */
int pmm_lock_holder = NO_CPU;

static int this_cpu(const char *fn)
{
    int cpu = glue_cpu_id();
    if (cpu == NO_CPU) /* it would read as "nobody holds it": no mutual exclusion at all */
        glue_panic(fn);
    return cpu;
}

static int holds(const int *holder, int cpu)
{
    return __atomic_load_n(holder, __ATOMIC_RELAXED) == cpu;
}

glue_irqflags_t mm_lock(void)
{
    glue_irqflags_t flags = glue_irq_save();
    int cpu = this_cpu("mm_lock: glue_cpu_id returned -1, which mm/glue.h forbids");

    if (holds(&mm_lock_holder, cpu)) {
        depth++;
        return flags;
    }
    if (holds(&pmm_lock_holder, cpu))
        glue_panic("mm_lock: asked for inside the PMM's lock (pmm_lock): the lock order is "
                   "mm_lock, vmm_lock, pmm_lock (mm/lock.c)");
    if (holds(&vmm_lock_holder, cpu))
        glue_panic("mm_lock: asked for inside the VMM's lock (vmm_lock): the lock order is "
                   "mm_lock, vmm_lock, pmm_lock (mm/lock.c)");
    glue_spin_lock();
    __atomic_store_n(&mm_lock_holder, cpu, __ATOMIC_RELAXED);
    /* odd, and seen before any store of the holder's (a plain store and a fence: no xadd) */
    __atomic_store_n(&mm_lock_seq, __atomic_load_n(&mm_lock_seq, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    depth = 1;
    return flags;
}

void mm_unlock(glue_irqflags_t flags)
{
    if (__atomic_load_n(&mm_lock_holder, __ATOMIC_RELAXED) != glue_cpu_id() || depth == 0)
        glue_panic("mm_unlock: the memory manager's lock is not held by this CPU");
    if (--depth == 0) {
        __atomic_store_n(&mm_lock_seq, __atomic_load_n(&mm_lock_seq, __ATOMIC_RELAXED) + 1,
                         __ATOMIC_RELEASE); /* even: after them all */
        __atomic_store_n(&mm_lock_holder, NO_CPU, __ATOMIC_RELAXED);
        glue_spin_unlock();
    }
    glue_irq_restore(flags);
}

int mm_lock_held(void)
{
    return __atomic_load_n(&mm_lock_holder, __ATOMIC_RELAXED) == glue_cpu_id();
}

int mm_lock_outermost(void)
{
    return mm_lock_held() && depth == 1;
}

int mm_lock_may_take(void)
{
    glue_irqflags_t flags = glue_irq_save();
    int cpu = glue_cpu_id();
    int ok = holds(&mm_lock_holder, cpu) ||
             (!holds(&vmm_lock_holder, cpu) && !holds(&pmm_lock_holder, cpu));
    glue_irq_restore(flags);
    return ok;
}

/* Interrupts off, then l (or one more level of it); `cpu` is this CPU's. */
static glue_irqflags_t own_lock(own_spin_t *l, int *holder, int cpu, glue_irqflags_t flags)
{
    if (holds(holder, cpu)) {
        l->depth++;
        return flags;
    }
    mm_spin_lock(&l->word);
    __atomic_store_n(holder, cpu, __ATOMIC_RELAXED);
    l->depth = 1;
    return flags;
}

static void own_unlock(own_spin_t *l, int *holder, glue_irqflags_t flags, const char *not_held)
{
    if (__atomic_load_n(holder, __ATOMIC_RELAXED) != glue_cpu_id() || l->depth == 0)
        glue_panic(not_held);
    if (--l->depth == 0) {
        __atomic_store_n(holder, NO_CPU, __ATOMIC_RELAXED);
        mm_spin_unlock(&l->word);
    }
    glue_irq_restore(flags);
}

glue_irqflags_t vmm_lock(void)
{
    glue_irqflags_t flags = glue_irq_save();
    int cpu = this_cpu("vmm_lock: glue_cpu_id returned -1, which mm/glue.h forbids");
    if (!holds(&vmm_lock_holder, cpu) && holds(&pmm_lock_holder, cpu))
        glue_panic("vmm_lock: asked for inside the PMM's lock (pmm_lock): the lock order is "
                   "mm_lock, vmm_lock, pmm_lock (mm/lock.c)");
    return own_lock(&vmm_spin, &vmm_lock_holder, cpu, flags);
}

void vmm_unlock(glue_irqflags_t flags)
{
    own_unlock(&vmm_spin, &vmm_lock_holder, flags,
               "vmm_unlock: the VMM's lock is not held by this CPU");
}

int vmm_lock_held(void)
{
    return __atomic_load_n(&vmm_lock_holder, __ATOMIC_RELAXED) == glue_cpu_id();
}

glue_irqflags_t pmm_lock(void)
{
    glue_irqflags_t flags = glue_irq_save();
    int cpu = this_cpu("pmm_lock: glue_cpu_id returned -1, which mm/glue.h forbids");
    return own_lock(&pmm_spin, &pmm_lock_holder, cpu, flags);
}

void pmm_unlock(glue_irqflags_t flags)
{
    own_unlock(&pmm_spin, &pmm_lock_holder, flags,
               "pmm_unlock: the PMM's lock is not held by this CPU");
}

int pmm_lock_held(void)
{
    return __atomic_load_n(&pmm_lock_holder, __ATOMIC_RELAXED) == glue_cpu_id();
}

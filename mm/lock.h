/*
 * lock.h - the memory manager's lock, over the glue's spinlock, and the
 * VMM's and the PMM's own locks below it (mm/lock.c: the order and why).
 *
 * Every public function of mm/ takes one of them: the PMM's functions
 * pmm_lock, the VMM's and kmap's vmm_lock, every other one mm_lock.  A call may re-enter mm/ on the
 * CPU that holds mm_lock: the heap calls the VMM, the VMM the PMM, an embedder's glue_map_page a
 * pmm_alloc_page for its page table, a page-fault handler vmm_describe.  mm/ counts that nesting
 * itself (per CPU, by glue_cpu_id), so the glue's spinlock is taken once per outermost call and
 * never twice by one CPU: it need not nest (see mm/glue.h).  pmm_lock nests the same way.
 */
#ifndef MM_LOCK_H
#define MM_LOCK_H

#include "names_priv.h"

#include "glue.h"

/*
 * mm/'s one spinlock word (0 free, 1 taken), under the VMM's and the PMM's
 * locks, the per-CPU caches' and lists' locks and the report lock: an xchg,
 * then reads until it looks free (no bus traffic while it spins), with the
 * glue's pause hint (where the kernel answers shootdown requests).  No
 * nesting and no owner: the callers keep those.
 */
static inline void mm_spin_lock(uint32_t *w)
{
    while (__atomic_exchange_n(w, 1u, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(w, __ATOMIC_RELAXED))
            glue_cpu_relax();
    }
}

static inline int mm_spin_trylock(uint32_t *w)
{
    return __atomic_exchange_n(w, 1u, __ATOMIC_ACQUIRE) == 0;
}

static inline void mm_spin_unlock(uint32_t *w)
{
    __atomic_store_n(w, 0u, __ATOMIC_RELEASE);
}

/* Interrupts off on this CPU, then the lock (or one more level of it). */
glue_irqflags_t mm_lock(void);
/* One level off; the outermost releases the glue's spinlock; interrupts as they were. */
void mm_unlock(glue_irqflags_t flags);
/* Does this CPU hold the lock?  (Call with interrupts off, or from inside mm/.) */
int mm_lock_held(void);
/* The CPU holding the lock, -1 if none (lock.c's; read it only through mm_lock_held_by). */
extern MM_INTERNAL int mm_lock_holder;
/* mm_lock_held for CPU `cpu` (this CPU's glue_cpu_id, interrupts off), inline: the fast path's. */
static inline int mm_lock_held_by(int cpu)
{
    return __atomic_load_n(&mm_lock_holder, __ATOMIC_RELAXED) == cpu;
}

/*
 * How often mm/'s lock was taken and let go: odd while it is held (lock.c
 * writes it under the lock).  For a reader without the lock that must see no
 * holder at work at all across a few reads: mm_lock_seq_begin, the reads,
 * then mm_lock_seq_still.  (blockcache.h's fast free: inside one hold of the
 * lock, the heap makes blocks look like a caller's for a moment: an aligned
 * block's front, a slab page before its bit, a CPU's fill before its mark.)
 */
extern MM_INTERNAL uint32_t mm_lock_seq;
static inline uint32_t mm_lock_seq_begin(void)
{
    return __atomic_load_n(&mm_lock_seq, __ATOMIC_ACQUIRE);
}

/*
 * mm_lock_seq_begin once no holder is at work, waited for up to MM_SEQ_SPINS
 * pause hints (odd if one still is).  Going to the shared path at once instead
 * made two threads a convoy: each free that met the other's hold took the
 * lock itself (thread_bench, random 8 B-64 KB: 1.8 Mops/s on two threads, 88%
 * of the takes contended, against 16 on one).
 */
#define MM_SEQ_SPINS 4096
static inline uint32_t mm_lock_seq_quiet(void)
{
    uint32_t seq = mm_lock_seq_begin();
    for (unsigned spins = 0; (seq & 1) && spins < MM_SEQ_SPINS; spins++) {
        glue_cpu_relax();
        seq = mm_lock_seq_begin();
    }
    return seq;
}

/* No holder since mm_lock_seq_begin gave seq, and none then? (The reads before it stay before.) */
static inline int mm_lock_seq_still(uint32_t seq)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return !(seq & 1) && __atomic_load_n(&mm_lock_seq, __ATOMIC_RELAXED) == seq;
}

/*
 * Does this CPU hold mm_lock once, as the outermost caller (no caller of its
 * own holding it around this one)?  Only then may it let the lock go and take
 * it again in the middle of its work (mm/zswap.c: the codec outside the lock).
 */
int mm_lock_outermost(void);

/*
 * May this CPU take mm_lock now?  1 if it holds it already or holds neither
 * vmm_lock nor pmm_lock (mm_lock would panic otherwise): the reclaim hooks,
 * the describers and zswap's fault ask before they take it.
 */
int mm_lock_may_take(void);

/*
 * The VMM's lock (mm/vmm.c, mm/kmap.c, and a caller of pmm_free_held ..
 * pmm_tlb_shootdown_free): interrupts off, then mm/'s own spinlock, or one
 * more level of it.  Taken inside mm_lock or alone; pmm_lock may be taken
 * inside it, mm_lock never (it panics if asked to).
 */
glue_irqflags_t vmm_lock(void);
void vmm_unlock(glue_irqflags_t flags);
int vmm_lock_held(void);
extern int vmm_lock_holder;

/*
 * The PMM's lock (mm/pmm*.c only): interrupts off, then mm/'s own spinlock,
 * or one more level of it.  Taken inside mm_lock, vmm_lock or alone; neither
 * is taken inside it (they panic if asked to).
 */
glue_irqflags_t pmm_lock(void);
void pmm_unlock(glue_irqflags_t flags);
int pmm_lock_held(void);
/* The CPU holding the PMM's lock, -1 if none (lock.c's; read it through pmm_lock_held_by). */
extern int pmm_lock_holder;
/* pmm_lock_held for CPU `cpu` (this CPU's glue_cpu_id, interrupts off), inline: the lists'. */
static inline int pmm_lock_held_by(int cpu)
{
    return __atomic_load_n(&pmm_lock_holder, __ATOMIC_RELAXED) == cpu;
}

#endif /* MM_LOCK_H */

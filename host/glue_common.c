/*
 * glue_common.c - the part of mm/glue.h both host glues share: the lock,
 * physical addresses and page tables in simulated physical memory, and paging
 * (nothing to switch on).  Built into the host tests (with host/glue.c) and
 * into build/host/libkmalloc.so (with host/shim_glue.c); each provides the
 * simulated memory (host/glue_common.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glue.h"
#include "glue_common.h"
#include "lock.h"

/*
 * Error-checking, not recursive: mm/ counts its own nesting (mm/lock.c) and
 * must never ask for the spinlock twice on one thread; if it did, this aborts.
 */
static pthread_mutex_t mm_mutex = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

glue_irqflags_t glue_irq_save(void)
{
    return 0;
}

void glue_irq_restore(glue_irqflags_t flags)
{
    (void)flags;
}

/* A thread is a CPU: numbered in the order they first ask. */
static int next_cpu;
static __thread int this_cpu = -1;

int host_forced_cpu_id = HOST_CPU_ID_NATURAL;

int glue_cpu_id(void)
{
    if (host_forced_cpu_id != HOST_CPU_ID_NATURAL)
        return host_forced_cpu_id;
    if (this_cpu < 0)
        this_cpu = __atomic_fetch_add(&next_cpu, 1, __ATOMIC_RELAXED);
    return this_cpu;
}

unsigned long host_spin_locks;

void glue_spin_lock(void)
{
    int e = pthread_mutex_lock(&mm_mutex);
    if (e) {
        fprintf(stderr, "host glue: glue_spin_lock: %s (mm/ took the spinlock twice)\n",
                strerror(e));
        abort();
    }
    host_spin_locks++;
}

void glue_spin_unlock(void)
{
    int e = pthread_mutex_unlock(&mm_mutex);
    if (e) {
        fprintf(stderr, "host glue: glue_spin_unlock: %s\n", strerror(e));
        abort();
    }
}

void host_lock_fork_prepare(void)
{
    glue_irqflags_t f = mm_lock();
    (void)f; /* glue_irq_save's 0 */
}

void host_lock_fork_parent(void)
{
    mm_unlock(0);
}

/* The child's thread has a new kernel id: the mutex it inherited locked is not its own. */
void host_lock_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
    mm_mutex = fresh;
    pthread_mutex_lock(&mm_mutex);
    mm_unlock(0);
}

unsigned long host_tlb_shootdowns, host_tlb_pages;
unsigned host_tlb_return;
void (*host_tlb_hook)(uintptr_t virt, size_t pages);

/* Threads stand in for CPUs, and the host's MMU is shared: flushing is the host's mirror. */
unsigned glue_tlb_shootdown(uintptr_t virt, size_t pages)
{
    host_mapping_flush(); /* the coalesced unmaps, one system call per run */
    host_tlb_shootdowns++;
    host_tlb_pages += pages;
    if (host_tlb_hook)
        host_tlb_hook(virt, pages);
    return host_tlb_return;
}

void glue_cpu_relax(void)
{
#if defined(__i386__) || defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

void *glue_phys_to_virt(uintptr_t p)
{
    if (p >= host_phys_size)
        glue_panic("glue_phys_to_virt: address beyond simulated physical memory");
    return host_phys_base() + p;
}

void *glue_page_table(unsigned pdx, uintptr_t table_phys)
{
    (void)pdx; /* no recursive window on the host: tables are in simulated physical memory */
    return glue_phys_to_virt(table_phys);
}

void glue_paging_enable(uintptr_t directory_phys)
{
    (void)directory_phys;
}

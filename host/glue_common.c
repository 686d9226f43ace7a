/*
 * glue_common.c - the part of mm/glue.h both host glues share: the lock,
 * physical addresses and page tables in simulated physical memory, and paging
 * (nothing to switch on).  Built into the host tests (with host/glue.c) and
 * into build/host/libkmalloc.so (with host/shim_glue.c); each provides the
 * simulated memory (host/glue_common.h).
 */
#include <pthread.h>
#include <string.h>

#include "glue.h"
#include "glue_common.h"

/* recursive: mm/ nests it (the heap calls the VMM, the VMM the PMM, under the lock) */
static pthread_mutex_t mm_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

glue_irqflags_t glue_lock(void)
{
    pthread_mutex_lock(&mm_mutex);
    return 0;
}

void glue_unlock(glue_irqflags_t flags)
{
    (void)flags;
    pthread_mutex_unlock(&mm_mutex);
}

void host_lock_fork_prepare(void)
{
    pthread_mutex_lock(&mm_mutex);
}

void host_lock_fork_parent(void)
{
    pthread_mutex_unlock(&mm_mutex);
}

void host_lock_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    memcpy(&mm_mutex, &fresh, sizeof(fresh));
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

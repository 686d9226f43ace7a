/*
 * vmm_priv.h - what vmm.c (map, unmap, translate, init) and vmm_stats.c
 * (vmm_get_stats, vmm_describe, vmm_dump, vmm_check) share; nothing else
 * includes it.  The theory of operation: vmm.c.
 */
#ifndef MM_VMM_PRIV_H
#define MM_VMM_PRIV_H

#include "names_priv.h"

#include "glue.h"
#include "memory.h"
#include "vmm.h"

/* Who is mapping right now: owned ranges are refused to everyone else. */
enum range_owner { OWNER_NONE, OWNER_HEAP, OWNER_VMALLOC, OWNER_META };

typedef struct {
    paddr_t pd_phys;
    int enabled;
    vaddr_t identity_end;
    uint32_t direct_size;
    uint16_t pt_used[VMM_ENTRIES];
    uint32_t tables;
    uint32_t mapped;
    uint32_t vmalloc_mapped; /* of `mapped`, pages in the vmalloc range */
    enum range_owner caller; /* set while an owner maps/unmaps its own range */
    /* a table of this slot was freed since: other CPUs may still cache its window page */
    uint32_t window_stale[VMM_ENTRIES / 32];
} vmm_data_t;

extern vmm_data_t vmm_data;

static inline uint32_t *directory(void)
{
    return glue_page_table(VMM_RECURSIVE_SLOT, vmm_data.pd_phys);
}

static inline uint32_t *table(unsigned pdx)
{
    return glue_page_table(pdx, VMM_FRAME(directory()[pdx]));
}

static inline int in_vmalloc(vaddr_t v)
{
    return v >= VMALLOC_START && v <= VMALLOC_END;
}

static inline int in_meta(vaddr_t v)
{
    return v >= MM_META_START && v <= MM_META_END;
}

static inline int in_fixed(vaddr_t v)
{
    return v < vmm_data.identity_end ||
           (v >= KERNEL_VIRTUAL_BASE && v - KERNEL_VIRTUAL_BASE < vmm_data.direct_size);
}

#endif /* MM_VMM_PRIV_H */

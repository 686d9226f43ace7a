/*
 * kmap_standin.c - TEMPORARY: what mm/ will do itself once glue_kmap is
 * merged: the VMM functions the layers above call (vmm_heap_map, vmalloc's
 * and the metadata's maps, vmm_get_entry, vmm_get_stats...), answered
 * through the kernel's glue_kmap / glue_kunmap / glue_kmapped /
 * glue_kmap_ready instead of mm/vmm.c's own page tables.  Compiled as an
 * mm/ file (its lock, its reports, its names); removed at that merge
 * (tools/embed-check.sh stops building it when mm/glue.h has glue_kmap).
 */
#include "glue.h"
#include "kmap_standin.h"
#include "lock.h"
#include "log.h"
#include "memory.h"
#include "pmm.h"
#include "vmm.h"

static struct {
    uint32_t mapped, vmalloc_mapped;
} kv;

static int map(const char *fn, vaddr_t lo, vaddr_t hi, vaddr_t virt, paddr_t phys)
{
    glue_irqflags_t f = mm_lock();
    int r = -1;
    if (virt < lo || virt > hi || virt % PAGE_SIZE || phys % PAGE_SIZE)
        mm_report("%s: 0x%08lx: outside its range or unaligned", fn, (unsigned long)virt);
    else if (glue_kmapped(virt))
        mm_report("%s: 0x%08lx: already mapped", fn, (unsigned long)virt);
    else if (glue_kmap(virt, phys) < 0)
        mm_report("%s: 0x%08lx: the kernel's glue_kmap refused", fn, (unsigned long)virt);
    else {
        r = 0;
        kv.mapped++;
        kv.vmalloc_mapped += virt >= VMALLOC_START && virt <= VMALLOC_END;
    }
    mm_unlock(f);
    return r;
}

static void unmap(const char *fn, vaddr_t lo, vaddr_t hi, vaddr_t virt, pmm_owner_t owner)
{
    glue_irqflags_t f = mm_lock();
    paddr_t phys = virt >= lo && virt <= hi ? (paddr_t)glue_kunmap(virt) : 0;
    if (!phys) {
        mm_report("%s: 0x%08lx: not mapped", fn, (unsigned long)virt);
    } else {
        kv.mapped--;
        kv.vmalloc_mapped -= virt >= VMALLOC_START && virt <= VMALLOC_END;
        if (owner == PMM_OWNER_VMALLOC && pmm_page_owner(phys) == PMM_OWNER_KSTACK)
            owner = PMM_OWNER_KSTACK; /* vmalloc's range holds the kernel stacks too */
        pmm_free_pages_owner(phys, 1, owner);
    }
    mm_unlock(f);
}

int vmm_heap_map(vaddr_t virt, paddr_t phys)
{
    return map("vmm_heap_map", HEAP_VIRTUAL_START, HEAP_VIRTUAL_END, virt, phys);
}

void vmm_heap_unmap(vaddr_t virt)
{
    unmap("vmm_heap_unmap", HEAP_VIRTUAL_START, HEAP_VIRTUAL_END, virt, PMM_OWNER_HEAP);
}

int vmm_vmalloc_map(vaddr_t virt, paddr_t phys)
{
    return map("vmm_vmalloc_map", VMALLOC_START, VMALLOC_END, virt, phys);
}

void vmm_vmalloc_unmap(vaddr_t virt)
{
    unmap("vmm_vmalloc_unmap", VMALLOC_START, VMALLOC_END, virt, PMM_OWNER_VMALLOC);
}

int vmm_meta_map(vaddr_t virt, paddr_t phys)
{
    return map("vmm_meta_map", MM_META_START, MM_META_END, virt, phys);
}

void vmm_meta_unmap(vaddr_t virt)
{
    unmap("vmm_meta_unmap", MM_META_START, MM_META_END, virt, PMM_OWNER_META);
}

uint32_t vmm_get_entry(vaddr_t virt)
{
    glue_irqflags_t f = mm_lock();
    uintptr_t phys = glue_kmapped(virt & ~(vaddr_t)(PAGE_SIZE - 1));
    mm_unlock(f);
    return phys ? (uint32_t)phys | PAGE_PRESENT | PAGE_WRITABLE : 0;
}

void vmm_get_stats(vmm_stats_t *s)
{
    s->page_tables = 0; /* the kernel's, not ours */
    s->mapped_pages = kv.mapped;
    s->vmalloc_pages = kv.vmalloc_mapped;
    s->page_directory = 0;
    s->paging_enabled = glue_kmap_ready();
}

/* Fault descriptions are the kernel's business here: nothing to register. */
int vmm_register_describer(vaddr_t lo, vaddr_t hi, const char *name, vmm_describer_t fn)
{
    (void)lo, (void)hi, (void)name, (void)fn;
    return 0;
}

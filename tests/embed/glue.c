/*
 * glue.c - everything mm/ asks of this kernel (mm/glue.h): the whole cost of
 * embedding mm/, counted by make test-embed.
 *
 *   console   COM1 (lib.c), one lock so lines of two CPUs do not mix
 *   panic     one line, then QEMU exits with a failure
 *   lock      interrupts off on this CPU; the kernel's own non-nesting
 *             xchg spinlock (smp.c) between CPUs; the CPU's number is its
 *             local APIC id
 *   phys      identity: this kernel maps all the RAM it gives the PMM at
 *             virtual == physical (the PMM only ever holds mapped RAM)
 *   kmap      mm/'s heap, vmalloc and metadata pages, in this kernel's own
 *             page directory; a missing page table comes from mm/'s PMM
 *             (re-entering mm/ under its lock is allowed, counted by mm/);
 *             unmap flushes this CPU's TLB (invlpg); mm/ then calls
 *             glue_tlb_shootdown once for the run, which flushes the other
 *             CPU too (smp_shootdown: an IPI, acknowledged)
 *   relax     `rep; nop`, answering a pending shootdown (smp_poll)
 * Not here: glue_page_table, glue_paging_enable, glue_mapping_changed,
 * which only mm/vmm.c calls, and this kernel does not link mm/vmm.c.
 */
#include "glue.h"
#include "pmm.h"
#include "vmm.h"
#undef memset /* this kernel's own, from here on */
#include "embed.h"

void glue_console_write(const char *s, size_t len)
{
    serial_write(s, len);
}

void glue_panic(const char *msg)
{
    kprintf("embed: FAIL mm/ panicked on APIC id %d: %s\n", lapic_id(), msg);
    embed_exit(1);
}

glue_irqflags_t glue_irq_save(void)
{
    glue_irqflags_t f = read_eflags();
    __asm__ volatile("cli" ::: "memory");
    return f;
}

void glue_irq_restore(glue_irqflags_t flags)
{
    if (flags & EFLAGS_IF)
        __asm__ volatile("sti" ::: "memory");
}

int glue_cpu_id(void)
{
    return lapic_id();
}

static spinlock_t mm_spin;

void glue_spin_lock(void)
{
    spin_acquire(&mm_spin);
}

void glue_spin_unlock(void)
{
    spin_release(&mm_spin);
}

void *glue_phys_to_virt(uintptr_t phys)
{
    if (phys >= paging_mapped_end)
        glue_panic("glue_phys_to_virt: physical address not mapped yet");
    return (void *)phys;
}

void *glue_virt_to_ptr(uintptr_t virt)
{
    return (void *)virt;
}

/* ---- mm/'s kernel pages, in this kernel's page tables ---- */
static int mm_range(uintptr_t v)
{
    return (v >= HEAP_VIRTUAL_START && v <= HEAP_VIRTUAL_END) ||
           (v >= VMALLOC_START && v <= VMALLOC_END) || (v >= MM_META_START && v <= MM_META_END);
}

static uint32_t *pte_of(uintptr_t virt)
{
    uint32_t pde = kernel_pd[PDX(virt)];
    return (pde & PTE_P) ? &((uint32_t *)(pde & PTE_FRAME))[PTX(virt)] : NULL;
}

int glue_kmap(uintptr_t virt, uintptr_t phys)
{
    if (!mm_range(virt) || (virt | phys) % EMBED_PAGE)
        return -1;
    if (!(kernel_pd[PDX(virt)] & PTE_P)) {
        paddr_t t = mm_pmm_alloc_pages_owner(1, 0, PMM_OWNER_TABLE | PMM_NO_RECLAIM);
        if (!t)
            return -1;
        memset((void *)t, 0, EMBED_PAGE);
        kernel_pd[PDX(virt)] = t | PTE_P | PTE_W; /* tables stay: never freed */
    }
    uint32_t *e = pte_of(virt);
    if (*e & PTE_P)
        return -1;
    *e = phys | PTE_P | PTE_W;
    return 0;
}

uintptr_t glue_kunmap(uintptr_t virt)
{
    uint32_t *e = mm_range(virt) ? pte_of(virt) : NULL;
    if (!e || !(*e & PTE_P))
        return 0;
    uintptr_t phys = *e & PTE_FRAME;
    *e = 0;
    invlpg(virt); /* this CPU; the others at mm/'s glue_tlb_shootdown for the run */
    return phys;
}

unsigned glue_tlb_shootdown(uintptr_t virt, size_t pages)
{
    return smp_shootdown(virt, pages);
}

void glue_cpu_relax(void)
{
    smp_poll();
    cpu_relax();
}

uintptr_t glue_kmapped(uintptr_t virt)
{
    uint32_t *e = pte_of(virt);
    return e && (*e & PTE_P) ? *e & PTE_FRAME : 0;
}

int glue_kmap_ready(void)
{
    return paging_mapped_end != 0;
}

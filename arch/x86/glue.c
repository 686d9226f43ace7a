/*
 * glue.c - the kernel's side of mm/glue.h: what the memory manager may ask
 * of its environment, answered for an x86 kernel on one CPU or several.
 *
 *   console  the kernel console (COM1 + VGA)
 *   panic    every other CPU stopped (panic.c: an NMI), the message, then
 *            this CPU stopped too (cli; hlt)
 *   lock     interrupts off; the previous IF is restored on unlock, so the
 *            lock also works when taken with interrupts already disabled;
 *            an xchg spinlock whose wait answers TLB shootdowns (smp.c)
 *   cpu id   the dense index in %fs:0 (arch/x86/smp.h), 0 until gdt_init
 *   phys     identity until paging; then identity below vmm_identity_end()
 *            and the direct map (KERNEL_VIRTUAL_BASE + phys) above it
 *   tables   identity until paging; then the recursive window: PD slot 1023
 *            points at the PD, so table i is at 0xFFC00000 + 4096 * i
 *   TLB      invlpg (the spec's flush_tlb_single) for every changed entry;
 *            glue_tlb_shootdown: the other CPUs (smp_tlb_shootdown)
 *   fence    glue_fence_cpus (glue_fast.h): a request every other CPU that
 *            is not idle acknowledges (smp_fence_cpus)
 *
 * Turning paging on also gives the double-fault task (gdt.c) the page
 * directory: a task switch loads CR3 from the TSS.
 */
#include "glue.h"

#include "console.h"
#include "cpu.h"
#include "gdt.h"
#include "panic.h"
#include "smp.h"
#include "vmm.h"

static int paging_on;

void glue_console_write(const char *s, size_t len)
{
    terminal_write(s, len);
}

void glue_panic(const char *msg)
{
    panic_stop_others(); /* interrupts off; a CPU that panics second halts in there */
    kprintf("\nPANIC: %s\n", msg);
    panic_say_where();
    kprintf("System halted.\n");
    panic_run_hook();
    cpu_halt_forever();
}

glue_irqflags_t glue_irq_save(void)
{
    glue_irqflags_t flags = read_eflags();

    cli();
    return flags;
}

void glue_irq_restore(glue_irqflags_t flags)
{
    if (flags & EFLAGS_IF)
        sti();
}

/* The dense index (BSP 0): one load from this CPU's data block, once %fs holds it. */
int glue_cpu_id(void)
{
    return glue_percpu_ready ? (int)smp_cpu_index() : 0;
}

/* A test-and-set spinlock (xchg is atomic and a full barrier on every x86). */
static volatile uint32_t mm_spin;

void glue_spin_lock(void)
{
    uint32_t taken = 1;

    for (;;) {
        __asm__ volatile("xchgl %0, %1" : "+r"(taken), "+m"(mm_spin) : : "memory");
        if (!taken)
            return;
        while (mm_spin) {
            if (panic_this_cpu())
                return;  /* its holder is stopped for good (panic.c): ours, to report */
            smp_relax(); /* pause (a plain nop before the Pentium 4), and answer shootdowns */
        }
        taken = 1;
    }
}

void glue_spin_unlock(void)
{
    __asm__ volatile("" : : : "memory");
    mm_spin = 0;
}

void *glue_phys_to_virt(uintptr_t phys)
{
    if (!paging_on || phys < vmm_identity_end())
        return (void *)phys;
    void *v = vmm_phys_to_virt(phys);
    if (!v)
        glue_panic("glue_phys_to_virt: physical address above the direct map");
    return v;
}

void *glue_page_table(unsigned pdx, uintptr_t table_phys)
{
    return paging_on ? (void *)(VMM_PT_WINDOW + pdx * 4096u) : (void *)table_phys;
}

void glue_paging_enable(uintptr_t directory_phys)
{
    gdt_set_task_cr3(directory_phys);
    enable_paging(directory_phys);
    /* CR0.WP: read-only pages are read-only for the kernel too */
    uint32_t cr0 = read_cr0() | CR0_WP;
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
    paging_on = 1;
}

void glue_mapping_changed(uintptr_t virt, uintptr_t phys)
{
    if (!paging_on)
        return;
    (void)phys;
    flush_tlb_single(virt); /* this CPU; the others at mm/'s glue_tlb_shootdown for the run */
}

unsigned glue_tlb_shootdown(uintptr_t virt, size_t pages)
{
    return smp_tlb_shootdown(virt, pages);
}

void glue_fence_cpus(void)
{
    smp_fence_cpus();
}

void glue_cpu_relax(void)
{
    smp_relax();
}

void *glue_virt_to_ptr(uintptr_t virt)
{
    return (void *)virt;
}

/*
 * gdt.h - the kernel's Global Descriptor Table (arch/x86/gdt.c).
 */
#ifndef ARCH_X86_GDT_H
#define ARCH_X86_GDT_H

#include <stdint.h>

struct tss;
struct descriptor_table_register;

/*
 * Install a flat GDT of our own and reload every segment register from it.
 * The loader's GDT lives in memory we do not own and may reuse, so this runs
 * before anything that could fault.  It also loads TR with the kernel's TSS
 * and prepares the double-fault task, which runs on a stack of its own (idt.c
 * points the #DF task gate at it).
 */
void gdt_init(void);

/*
 * An AP's table (arch/x86/smp.c, before it is started): the same segments,
 * its own TSS, its own double-fault task on the stack below
 * double_fault_stack_top, its own data block (smp_cpus[cpu]) at PERCPU_SEL.
 * gdt_register gives what lgdt loads; the AP loads TR itself (gdt_load_task).
 */
void gdt_prepare_cpu(unsigned cpu, uint32_t double_fault_stack_top);
void gdt_register(unsigned cpu, struct descriptor_table_register *out);
void gdt_load_task(void);

/* Where the double-fault task starts (idt_init sets it). */
void gdt_set_double_fault_entry(void (*entry)(void));

/* The page directory the double-fault task switches to (call when CR3 changes). */
void gdt_set_task_cr3(uint32_t page_directory_phys);

/* Inside the #DF task: the registers of the task it interrupted on this CPU, saved by the CPU. */
const struct tss *gdt_interrupted_task(void);

#endif /* ARCH_X86_GDT_H */

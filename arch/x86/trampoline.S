/*
 * trampoline.S - an application processor's first instructions.
 *
 * smp.c copies smp_trampoline..smp_trampoline_end to SMP_TRAMPOLINE_PHYS
 * (a page below 1 MB) and names that page in the start-up IPI.  The AP
 * begins there in real mode, CS = SMP_TRAMPOLINE_PHYS >> 4, IP = 0, so every
 * address the code uses before its far jump is written as T(label): where
 * the label lands in the copy.  The copy lives in .rodata here (it is data
 * until it is copied; it never runs where it is linked).
 *
 *   real mode   cli; lgdt the AP's own GDT (its 6-byte pointer in the copy,
 *               smp_trampoline_gdtr, written by smp.c for each AP); CR0.PE
 *   protected   far jump to KERNEL_CS; data segments; %fs = PERCPU_SEL (the
 *               CPU's own struct cpu from this instruction on: glue_cpu_id)
 *   paging      CR3 = the kernel's page directory (smp_ap_cr3), CR0.PG|WP;
 *               the copy is identity-mapped, so the next fetch still works
 *   kernel      ESP = smp_ap_stack_top (its kstack_alloc stack), EFLAGS = 0,
 *               call smp_ap_main (absolute), which never returns
 *
 * The kernel's variables (smp_ap_cr3, ...) are in its image above 1 MB,
 * reachable once in protected mode with the flat segments.
 */
#include "segment.h"
#include "trampoline.h"

#define T(label) ((label) - smp_trampoline + SMP_TRAMPOLINE_PHYS)

    .section .rodata
    .globl smp_trampoline, smp_trampoline_end, smp_trampoline_gdtr
    .p2align 4
    .code16
smp_trampoline:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    lgdtl T(smp_trampoline_gdtr)
    mov %cr0, %eax
    or $1, %eax                 /* PE */
    mov %eax, %cr0
    ljmpl $KERNEL_CS, $T(trampoline_protected)

    .code32
trampoline_protected:
    mov $KERNEL_DS, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %gs
    mov $PERCPU_SEL, %ax
    mov %ax, %fs
    mov smp_ap_cr3, %eax
    mov %eax, %cr3
    mov %cr0, %eax
    or $0x80010000, %eax        /* PG | WP, as glue_paging_enable */
    mov %eax, %cr0
    mov smp_ap_stack_top, %esp
    pushl $0
    popfl
    xor %ebp, %ebp              /* ends the frame-pointer chain */
    mov $smp_ap_main, %eax      /* absolute: the copy is not where it was linked */
    call *%eax
1:  cli
    hlt
    jmp 1b

    .p2align 2
smp_trampoline_gdtr:
    .word 0                     /* limit, base: smp.c writes them in the copy */
    .long 0
smp_trampoline_end:

    .section .note.GNU-stack, "", @progbits

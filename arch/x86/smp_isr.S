/*
 * smp_isr.S - the entry points of the IPIs (vectors in smp.h).
 *
 * Interrupt gates (IF cleared on entry).  The kernel's data segments are the
 * same everywhere and %fs is the CPU's own, so the stubs only save the
 * general registers around the C handler.  The spurious vector takes no EOI
 * (the SDM: a spurious interrupt is not in service).
 */
    .text
.macro IPI_STUB name, handler
    .globl \name
    .type \name, @function
    .p2align 4
\name:
    pusha
    cld
    call \handler
    popa
    iret
    .size \name, . - \name
.endm

IPI_STUB smp_shootdown_entry, smp_shootdown_interrupt
IPI_STUB smp_wake_entry, smp_wake_interrupt

    .globl smp_spurious_entry
    .type smp_spurious_entry, @function
    .p2align 4
smp_spurious_entry:
    iret
    .size smp_spurious_entry, . - smp_spurious_entry

    .section .note.GNU-stack, "", @progbits

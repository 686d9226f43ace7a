/*
 * isr.S - entry stubs for the 32 CPU exceptions.
 *
 * The CPU pushes EFLAGS, CS, EIP and, for some vectors only, an error code.
 * Each stub makes the stack uniform (a dummy 0 where the CPU pushes no error
 * code), pushes its vector number and joins isr_common, which saves the rest
 * and calls isr_dispatch(struct interrupt_frame *) in idt.c.  The frame
 * layout is struct interrupt_frame in idt.h.
 *
 * isr_stub_table lists the 32 stub addresses in vector order for idt_init.
 */
#include "segment.h"

/* Vector without a CPU error code: push a dummy one. */
.macro ISR_NOERR vector
    .p2align 4
isr_stub_\vector:
    pushl $0
    pushl $\vector
    jmp isr_common
.endm

/* Vector where the CPU has already pushed an error code. */
.macro ISR_ERR vector
    .p2align 4
isr_stub_\vector:
    pushl $\vector
    jmp isr_common
.endm

    .text
/* Error codes on 8 (#DF), 10-14 (#TS #NP #SS #GP #PF), 17 (#AC), 21 (#CP), 29, 30. */
ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR   29
ISR_ERR   30
ISR_NOERR 31

    .p2align 4
isr_common:
    pusha
    pushl %ds
    pushl %es
    pushl %fs
    pushl %gs

    /* The interrupted code may have had other data segments; C needs ours. */
    mov $KERNEL_DS, %ax
    mov %ax, %ds
    mov %ax, %es
    cld                         /* the C ABI assumes DF = 0 */

    pushl %esp                  /* struct interrupt_frame * */
    call isr_dispatch
    add $4, %esp

    /* A hook may have edited the frame: restore from it, not from registers. */
    popl %gs
    popl %fs
    popl %es
    popl %ds
    popa
    add $8, %esp                /* vector and error code */
    iret

    .section .rodata
    .p2align 2
    .globl isr_stub_table
isr_stub_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long isr_stub_\v
    .endr

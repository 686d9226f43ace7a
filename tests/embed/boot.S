/*
 * boot.S - the embedding test kernel's entry, its GDT and IDT stubs, and the
 * real-mode trampoline the second CPU starts in.
 *
 * Nothing here comes from our own kernel (arch/x86/): this is a second
 * kernel, written as an outside user of mm/ would write theirs.
 *
 *   _start          Multiboot v1 entry (EAX magic, EBX info, paging off)
 *   gdt             null, code 0x08, data 0x10: flat 4 GB
 *   isr_stubs       one stub per vector 0..31 (exceptions), 0xF0 (TLB
 *                   shootdown IPI) and 0xFF (APIC spurious); each pushes
 *                   a zero error code where the CPU pushes none, then the
 *                   vector, and calls isr_dispatch(frame)
 *   ap_trampoline   copied by the BSP to EMBED_TRAMPOLINE (0x8000), the
 *                   page the SIPI names (vector 0x08): real mode, CS=0x0800.
 *                   It loads the GDT, turns on protection and paging (the
 *                   BSP's directory, ap_cr3) and calls ap_main on
 *                   ap_stack_top.  Position-dependent: every address in it
 *                   is written as (label - ap_trampoline + 0x8000), and it
 *                   leaves with an absolute jump.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-aligned modules, memory map */
#define TRAMP    0x8000
#define T(label) ((label) - ap_trampoline + TRAMP)

    .section .multiboot, "a"
    .p2align 2
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .bss
    .p2align 12
    .globl boot_stack_top
boot_stack:
    .skip 16384
boot_stack_top:

    .data
    .p2align 3
    .globl gdt
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF /* 0x08: code, ring 0, 4 GB */
    .quad 0x00CF92000000FFFF /* 0x10: data, ring 0, 4 GB */
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt

    .text
    .globl _start
_start:
    cli
    mov $boot_stack_top, %esp
    mov %eax, %esi
    mov %ebx, %ebp
    cld
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    lgdt gdt_ptr
    ljmp $0x08, $1f
1:  mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    pushl $0
    popfl
    push %ebp                   /* multiboot info (physical) */
    push %esi                   /* magic */
    xor %ebp, %ebp
    call kmain
2:  cli
    hlt
    jmp 2b

/* ---- interrupt stubs ---- */
.macro STUB vec, has_error
    .globl isr_\vec
isr_\vec:
    .if \has_error == 0
    pushl $0
    .endif
    pushl $\vec
    jmp isr_common
.endm

    .irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,21,22,23,24,25,26,27,28,29,30,31,240,255
    STUB \v, 0
    .endr
    .irp v, 8,10,11,12,13,14,17
    STUB \v, 1
    .endr

isr_common:
    pusha
    push %esp                   /* struct isr_frame * */
    cld
    call isr_dispatch
    add $4, %esp
    popa
    add $8, %esp                /* vector, error code */
    iret

/* The stubs' addresses, in vector order of the list isr_vectors (kernel.c walks both). */
    .section .rodata
    .p2align 2
    .globl isr_table
isr_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,240,255
    .long isr_\v
    .endr
    .globl isr_table_end
isr_table_end:

/* ---- the second CPU's first instructions ---- */
    .text
    .globl ap_trampoline, ap_trampoline_end
    .code16
ap_trampoline:
    cli
    xor %ax, %ax
    mov %ax, %ds
    lgdtl T(ap_gdt_ptr)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $T(ap_protected)
    .code32
ap_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov ap_cr3, %eax
    mov %eax, %cr3
    mov %cr0, %eax
    or $0x80010000, %eax        /* PG | WP */
    mov %eax, %cr0
    mov ap_stack_top, %esp
    pushl $0
    popfl
    xor %ebp, %ebp
    mov $ap_main, %eax          /* absolute: this code runs away from where it was linked */
    call *%eax
3:  cli
    hlt
    jmp 3b
    .p2align 2
ap_gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
ap_trampoline_end:
    .section .note.GNU-stack, "", @progbits

/*
 * boot.S - the kernel's first instructions.
 *
 * A Multiboot v1 loader (QEMU -kernel, GRUB) reads the header below from
 * the first 8 KB of the file, loads the ELF segments at their physical
 * addresses (1 MB, see linker.ld) and jumps to _start in 32-bit protected
 * mode with paging off, interrupts off, and:
 *     EAX = 0x2BADB002 (MULTIBOOT_BOOTLOADER_MAGIC)
 *     EBX = physical address of struct multiboot_info
 * Nothing else is promised: ESP is undefined, the GDT may be the loader's,
 * EFLAGS is unknown.  So: our own stack, a zeroed .bss, clean EFLAGS, then C.
 * No a.out kludge (flag bit 16): QEMU understands ELF.
 */
/* The Multiboot v1 header (specification 0.6.96, section 3.1.1). */
#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define MULTIBOOT_PAGE_ALIGN   0x00000001 /* load modules on 4 KB boundaries */
#define MULTIBOOT_MEMORY_INFO  0x00000002 /* give us mem_* and the memory map */
#define MULTIBOOT_HEADER_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)

#define BOOT_STACK_SIZE 16384

    .section .multiboot, "a"
    .p2align 2
multiboot_header:
    .long MULTIBOOT_HEADER_MAGIC
    .long MULTIBOOT_HEADER_FLAGS
    .long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS) /* checksum */

    .bss
    .p2align 4
    .globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip BOOT_STACK_SIZE
boot_stack_top:

    .text
    .globl _start
    .type _start, @function
_start:
    cli
    mov $boot_stack_top, %esp
    mov %eax, %esi              /* keep magic and info pointer over the clear */
    mov %ebx, %ebp

    /*
     * Zero .bss ourselves: the Multiboot spec only promises it for the
     * a.out kludge, and the C code relies on zeroed statics.  The stack is
     * in .bss too, but nothing is on it yet.
     */
    cld
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    pushl $0                    /* EFLAGS = 0: IF, DF, NT, AC all clear */
    popfl

    /* kernel_main(magic, mbi); keep ESP 16-byte aligned at the call (SysV). */
    sub $8, %esp
    push %ebp                   /* uint32_t mbi_phys */
    push %esi                   /* uint32_t magic */
    xor %ebp, %ebp              /* terminates the frame-pointer chain */
    call kernel_main

    /* kernel_main should never return; if it does, stop quietly. */
1:  cli
    hlt
    jmp 1b
    .size _start, . - _start

/*
 * paging.S - the spec's two paging primitives, as the spec gives them
 * (cdecl: one uint32_t argument at 8(%ebp) after the frame is set up).
 * Declared in cpu.h.  Written in assembly because C has no way to say
 * "mov to CR0" or "invlpg".
 */

    .text

/* void enable_paging(uint32_t page_directory): CR3 = dir, then CR0.PG = 1. */
    .globl enable_paging
    .type enable_paging, @function
enable_paging:
    push %ebp
    mov %esp, %ebp
    mov 8(%ebp), %eax           /* page_directory parameter */
    mov %eax, %cr3              /* load page directory */
    mov %cr0, %eax
    or $0x80000000, %eax        /* set PG bit */
    mov %eax, %cr0              /* enable paging */
    pop %ebp
    ret
    .size enable_paging, . - enable_paging

/* void flush_tlb_single(uint32_t virtual_address): invlpg one page. */
    .globl flush_tlb_single
    .type flush_tlb_single, @function
flush_tlb_single:
    push %ebp
    mov %esp, %ebp
    mov 8(%ebp), %eax           /* virtual_address parameter */
    invlpg (%eax)               /* invalidate page */
    pop %ebp
    ret
    .size flush_tlb_single, . - flush_tlb_single

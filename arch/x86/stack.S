/*
 * stack.S - run a function on another stack.
 *
 * void cpu_call_on_stack(uint32_t top, void (*fn)(void *), void *arg)
 *
 * Moves ESP to `top` (the first address above a kernel stack: it grows
 * down from there), calls fn(arg) with ESP 16-byte aligned at the call as
 * the SysV ABI wants, and comes back to the caller's stack through EBP,
 * which fn preserves (callee-saved).  fn's frame links to ours, so a
 * backtrace can cross from the new stack to the old one.
 */
    .text
    .globl cpu_call_on_stack
    .type cpu_call_on_stack, @function
cpu_call_on_stack:
    push %ebp
    mov %esp, %ebp
    mov 8(%ebp), %eax           /* top */
    mov 12(%ebp), %ecx          /* fn */
    mov 16(%ebp), %edx          /* arg */
    and $-16, %eax
    mov %eax, %esp
    sub $12, %esp
    push %edx                   /* ESP = top - 16 at the call */
    call *%ecx
    mov %ebp, %esp              /* back to the caller's stack */
    pop %ebp
    ret
    .size cpu_call_on_stack, . - cpu_call_on_stack

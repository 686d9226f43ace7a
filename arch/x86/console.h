/*
 * console.h - the one thing arch/x86 needs from the kernel above it: a place
 * to print (the CPU check's verdict, exception and page-fault diagnoses, a
 * panic).
 *
 * Declared here, by the layer that calls it, and implemented by the kernel
 * (kernel/terminal.c and kernel/kprintf.c: COM1 and the VGA screen), which
 * includes this header too, so the two cannot drift apart.  arch/x86 includes
 * no header of kernel/ but this one; the only other reference upward is
 * boot.S's jump to kernel_main, the kernel's entry point.
 */
#ifndef ARCH_X86_CONSOLE_H
#define ARCH_X86_CONSOLE_H

#include <stddef.h>

/* len bytes of s, as they are, on every console. */
void terminal_write(const char *s, size_t len);

/* printf to every console: the subset include/terminal.h describes. */
__attribute__((format(printf, 1, 2))) void kprintf(const char *fmt, ...);

#endif /* ARCH_X86_CONSOLE_H */

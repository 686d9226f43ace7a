/*
 * gdt.h - the kernel's Global Descriptor Table (arch/x86/gdt.c).
 */
#ifndef ARCH_X86_GDT_H
#define ARCH_X86_GDT_H

/*
 * Install a flat GDT of our own and reload every segment register from it.
 * The loader's GDT lives in memory we do not own and may reuse, so this runs
 * before anything that could fault.
 */
void gdt_init(void);

#endif /* ARCH_X86_GDT_H */

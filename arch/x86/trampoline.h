/*
 * trampoline.h - where the APs start (arch/x86/trampoline.S, smp.c).
 *
 * The page below 1 MB a start-up IPI names: the SIPI's vector is its page
 * number, and the AP starts there in real mode at CS = page << 8, IP = 0.
 * The PMM withholds it: pmm_init_layout marks the whole first 1 MB reserved
 * and never hands out a page of it (mm/pmm_init.c), so nothing else in the
 * kernel allocates it; smp.c checks that the loader's multiboot information
 * does not lie in it before copying the trampoline there.
 */
#ifndef ARCH_X86_TRAMPOLINE_H
#define ARCH_X86_TRAMPOLINE_H

#define SMP_TRAMPOLINE_PHYS 0x7000

#endif /* ARCH_X86_TRAMPOLINE_H */

/*
 * lapic.h - the local APIC (arch/x86/lapic.c): its registers mapped through
 * the VMM, this CPU's APIC id, IPIs, EOI; the legacy PICs silenced; and
 * delays timed by the PIT (a 486 has no TSC).
 */
#ifndef ARCH_X86_LAPIC_H
#define ARCH_X86_LAPIC_H

#include <stdint.h>

/* Map the APIC page at phys (paging must be on).  0, or -1 after a line saying why. */
int lapic_map(uint32_t phys);
/* 1 once lapic_map succeeded. */
int lapic_ready(void);
/* Software-enable this CPU's APIC, spurious vector `spurious` (0x?F), TPR 0. */
void lapic_enable(uint8_t spurious);
/* This CPU's APIC id (bits 31:24 of the ID register). */
uint32_t lapic_id(void);
/* End of interrupt. */
void lapic_eoi(void);

/* IPIs to one APIC id; each returns 0, or -1 if the APIC never took it (a line says so). */
int lapic_send_init(uint32_t apic_id);
int lapic_send_startup(uint32_t apic_id, uint32_t page_phys); /* SIPI to page_phys (< 1 MB) */
int lapic_send_fixed(uint32_t apic_id, uint8_t vector);
/* An NMI to one APIC id; to every other APIC (all-excluding-self): panic.c's stop. */
int lapic_send_nmi(uint32_t apic_id);
int lapic_send_nmi_others(void);

/* Both 8259 PICs moved to vectors 0x20-0x2F and every line masked: no IRQ reaches a CPU. */
void pic_disable(void);

/* Wait us microseconds, timed by PIT channel 2 (the BSP only: one PIT). */
void pit_delay_us(uint32_t us);
/* The same, in steps: start a countdown of at most 50 ms, then poll it. */
void pit_start(uint32_t us);
int pit_expired(void);

#endif /* ARCH_X86_LAPIC_H */

/*
 * cpus.h - which processors the machine has (CPU discovery: the ACPI MADT,
 * else the MP floating table, else the boot processor alone).
 */
#ifndef ARCH_X86_CPUS_H
#define ARCH_X86_CPUS_H

#include <stdint.h>

#define KERNEL_MAX_CPUS 16
typedef struct {
    uint8_t apic_id; /* local APIC id */
    uint8_t bsp;     /* 1: the boot processor */
} cpu_desc_t;
typedef struct {
    unsigned count; /* CPUs found, enabled ones only, BSP included, <= KERNEL_MAX_CPUS */
    cpu_desc_t cpu[KERNEL_MAX_CPUS];
    uint32_t lapic_phys; /* local APIC base (0xFEE00000 unless a table says otherwise) */
    const char *source;  /* "ACPI MADT", "MP table", "none (one CPU)" */
} cpu_topology_t;
/* Find the processors: ACPI MADT, else the MP floating table, else one CPU (the BSP).
   Prints one line saying what was found or why each table was refused. Never fails. */
void cpu_discover(cpu_topology_t *out);

#endif /* ARCH_X86_CPUS_H */

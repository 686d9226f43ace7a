/*
 * cpus.h - which processors the machine has (issue 12: SMP bring-up).
 *
 * The firmware lists them: the ACPI MADT (arch/x86/acpi.c), else the Intel
 * MP configuration table (arch/x86/mptable.c), else the kernel runs on the
 * boot processor alone.  arch/x86/cpus.c checks what the tables say and
 * decides; arch/x86/cpus_boot.c is the kernel's side (how physical memory
 * and the local APIC are read at boot).  The AP bring-up (arch/x86/smp.c)
 * starts the CPUs listed here.
 *
 * The first part is the interface the issue-12 helpers share (fixed by the
 * lead: /work/briefs/interfaces.md); below it, additions.
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

/* ---- beyond the shared interface ---- */

/*
 * What cpu_discover guarantees beyond the above: cpu[0] is the BSP (the CPU
 * running cpu_discover), the others follow in the table's order; the APIC ids
 * are distinct and none is 0xFF (the broadcast id).
 */

#define CPUS_LAPIC_DEFAULT 0xFEE00000u /* the architectural default base */

/* Which source cpu_discover may use: the boot option cpus=madt|mp|one (kernel/main.c). */
typedef enum {
    CPUS_FROM_ANY,  /* the MADT, else the MP table, else one CPU (the default) */
    CPUS_FROM_MADT, /* the MADT, else one CPU */
    CPUS_FROM_MP,   /* the MP table, else one CPU */
    CPUS_FROM_NONE, /* one CPU, no table read */
} cpus_source_t;

/* Set before cpu_discover: which source it may use. */
void cpu_discover_force(cpus_source_t source);

/* What the boot's cpu_discover found (a copy kept by it), or NULL before it ran. */
const cpu_topology_t *cpu_topology(void);

#endif /* ARCH_X86_CPUS_H */

/*
 * cpus_boot.c - cpu_discover in the kernel: how the table parsers
 * (arch/x86/acpi.c, mptable.c, cpus.c) read physical memory and the BSP's
 * local APIC here.
 *
 * When: kernel_main calls cpu_discover early, before paging: after the
 * multiboot information (the boot option cpus=... is read from it) and
 * before the heap.  With paging off and flat segments a physical address is
 * the pointer itself, so every byte below 4 GB can be read without mapping
 * anything: the BIOS areas below 1 MB (the EBDA pointer at 0x40E, the RSDP
 * and MP floating pointer in 0xE0000-0xFFFFF), the ACPI tables wherever the
 * firmware put them (QEMU and most PCs: the top of RAM, which after paging
 * may lie beyond the 256 MB the direct map covers), and the local APIC's ID
 * register at 0xFEE00020, which paging would first have to map uncached.
 * Nothing is allocated, so nothing waits for the heap either.
 *
 * Called later, with paging on, the reader still works as far as the direct
 * map (KERNEL_VIRTUAL_BASE + phys, RAM below 256 MB) reaches: a table beyond
 * it is refused as "cannot be read", and the BSP's id counts as unreadable
 * (the local APIC is not mapped): poorer, never a fault.
 *
 * Reading the local APIC is no CPUID test: on a CPU without one (a 486) the
 * read finds no device and gives all ones (or whatever the bus floats), which
 * is taken as "cannot be read" when it is 0xFF; only machines whose tables
 * list CPUs have the APIC the tables describe.
 */
#include "cpus.h"

#include "cpu.h"
#include "firmware.h"
#include "vmm.h"

#define LAPIC_ID_REGISTER 0x20u /* bits 31-24: this CPU's APIC id */

static cpus_source_t forced = CPUS_FROM_ANY;
static cpu_topology_t boot_topology;
static int discovered;

static const void *phys_read(void *ctx, uint32_t phys, uint32_t len)
{
    (void)ctx;
    if (!(read_cr0() & CR0_PG)) /* identity: the address is the pointer (0 is no table's) */
        return phys ? (const void *)(uintptr_t)phys : 0;
    const uint8_t *first = vmm_phys_to_virt(phys);
    const uint8_t *last = vmm_phys_to_virt(phys + (len - 1));
    return first && last == first + (len - 1) ? first : 0;
}

static int lapic_id(void *ctx, uint32_t lapic_phys)
{
    (void)ctx;
    if (read_cr0() & CR0_PG || !lapic_phys || lapic_phys % 4096)
        return -1;
    uint32_t v = *(volatile const uint32_t *)(uintptr_t)(lapic_phys + LAPIC_ID_REGISTER);
    return v == 0xFFFFFFFFu ? -1 : (int)(v >> 24);
}

void cpu_discover_force(cpus_source_t source)
{
    forced = source;
}

static const fw_reader_t boot_reader = {phys_read, lapic_id, 0};

const fw_reader_t *fw_boot_reader(void)
{
    return &boot_reader;
}

void cpu_discover(cpu_topology_t *out)
{
    cpus_discover_with(&boot_reader, forced, out);
    if (out) {
        boot_topology = *out;
        discovered = 1;
    }
}

const cpu_topology_t *cpu_topology(void)
{
    return discovered ? &boot_topology : 0;
}

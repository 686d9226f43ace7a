/*
 * numa_boot.c - numa_discover in the kernel: the SRAT and SLIT read through
 * the boot reader (arch/x86/cpus_boot.c: before paging, a physical address
 * below 4 GB is the pointer itself), checked against cpu_topology() and the
 * memory map kernel_main gives.  The result is kept for numa_topology().
 */
#include "numa.h"

static numa_topology_t boot_numa;
static int discovered;

void numa_discover(const pmm_range_t *map, int count)
{
    numa_discover_with(fw_boot_reader(), cpu_topology(), map, count, &boot_numa);
    discovered = 1;
}

const numa_topology_t *numa_topology(void)
{
    return discovered ? &boot_numa : 0;
}

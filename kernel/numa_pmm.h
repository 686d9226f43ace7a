/*
 * numa_pmm.h - the NUMA nodes the firmware describes (arch/x86/numa.c)
 * handed to the physical memory manager, and the boot's check that the PMM
 * uses them (kernel/numa_pmm.c).
 */
#ifndef KERNEL_NUMA_PMM_H
#define KERNEL_NUMA_PMM_H

/*
 * numa_topology() to pmm_set_nodes: call after numa_discover and before
 * pmm_init_layout.  One node (no SRAT, or a refused one): nothing is
 * registered, the PMM stays as it was without nodes.  CPU numbers are
 * cpu_topology()'s, which are glue_cpu_id's for the BSP, the only CPU that
 * runs before smp_start.
 */
void numa_pmm_register(void);

/*
 * After smp_start: glue_cpu_id numbers the CPUs in the order they came up,
 * which may differ from the tables' (an AP that did not answer): the CPUs'
 * nodes are registered again, by APIC id, if so.
 */
void numa_pmm_cpus(void);

/*
 * With more than one node, the boot's proof, in lines starting "numa: pmm":
 * each node's pages; a page allocated on every online CPU (pmm_alloc_page)
 * from its own node, or, if that node has no free memory, from the nearest
 * one that has; one node emptied with strict allocations, then the next
 * page for it from the nearest other node; everything given back and
 * pmm_check clean; vmalloc_node on each node and interleaved, every page
 * where it belongs.  "FAILED" in a line if anything differs.
 */
void numa_pmm_check(void);

#endif /* KERNEL_NUMA_PMM_H */

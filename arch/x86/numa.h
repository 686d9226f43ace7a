/*
 * numa.h - which memory and which CPUs sit on which node (issue 13, item 1:
 * the topology from ACPI).  arch/x86/numa.c reads it from the SRAT (System
 * Resource Affinity Table) and the SLIT (System Locality Information Table),
 * found through acpi_find_table (arch/x86/acpi.c); arch/x86/numa_boot.c is
 * the kernel's side.
 *
 * When: kernel_main calls numa_discover right after cpu_discover, before
 * paging.  Like the CPU discovery (arch/x86/cpus_boot.c) it reads the tables
 * through the boot reader, for which a physical address below 4 GB is the
 * pointer itself: the tables are reachable wherever the firmware put them,
 * nothing is mapped and nothing is allocated.
 *
 * What is believed (the decisions, each tested in tests/host/test_srat.c):
 *   - entries whose Enabled flag is clear are ignored, their proximity
 *     domain too (QEMU pads the SRAT with such empty memory entries);
 *   - proximity domains become dense node numbers 0..n-1 in the order they
 *     first appear among the enabled entries (CPU or memory);
 *   - a memory range must lie inside the memory map given (any type of
 *     entry: firmware puts the EBDA and its ACPI tables in reserved parts of
 *     a node's RAM), unless SRAT marks it hot-pluggable: then it is recorded,
 *     present only when the map holds all of it;
 *   - the map's available RAM from 1 MB up to 4 GB must lie in the present
 *     ranges (the PMM never hands out the first MB, which firmware often
 *     leaves out of the SRAT);
 *   - ranges (hot-pluggable ones included) never overlap, neither between
 *     nodes nor within one; what lies above 4 GB is cut off (a 32-bit kernel
 *     without PAE cannot reach it) after being checked like the rest;
 *   - a node with memory and no CPU, and a node with CPUs and no memory, are
 *     both valid;
 *   - every running CPU (cpu_topology()) must be listed: a CPU of no known
 *     node refuses the SRAT (one line naming every such CPU, then one node).
 *     SRAT CPUs that are not running (hot-pluggable, or listed by the SRAT
 *     but not by the MADT) are counted in the summary and otherwise ignored,
 *     their proximity domains still nodes;
 *   - SLIT: the number of localities must equal the number of nodes, so the
 *     proximity domains must be 0..n-1 (sparse domain numbers are accepted
 *     only without a SLIT); the diagonal must be 10 and every other distance
 *     at least 10.  An asymmetric matrix is accepted, as ACPI allows: the
 *     distance from node a to node b is distance[a][b] (row a: the
 *     allocating node's view);
 *   - no SLIT: 10 to itself, 20 to every other node.
 * Anything else wrong (a checksum or length, an entry of length 0 or one
 * running past the table, overlapping ranges, a range outside the memory map,
 * more proximity domains than NUMA_MAX_NODES, more ranges than
 * NUMA_MAX_RANGES, an APIC id listed in two domains, a bad SLIT) is one line
 * saying what, then one node (a table acpi_find_table refuses, for its
 * checksum or length, is named by it first: one line more).  No SRAT: one
 * node, and no line but the summary.  One node covers [0, the end of the
 * highest available RAM below 4 GB) and every CPU.
 *
 * Every discovery ends with one summary line, for example
 *   numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff
 *   0x00100000-0x01ffffff cpus 0 1, node 1 0x02000000-0x03ffffff cpus 2 3;
 *   SLIT 10 21/21 10
 * (on one line; "cpus" are indices in cpu_topology(), not APIC ids).
 */
#ifndef ARCH_X86_NUMA_H
#define ARCH_X86_NUMA_H

#include <stdint.h>

#include "cpus.h"
#include "firmware.h"
#include "pmm.h"

#define NUMA_MAX_NODES       8              /* nodes this build holds; uint8_t node numbers */
#define NUMA_MAX_RANGES      32             /* enabled SRAT memory ranges it holds */
#define NUMA_LOCAL_DISTANCE  10             /* ACPI: a node's distance to itself */
#define NUMA_REMOTE_DISTANCE 20             /* every other node's, without a SLIT */
#define NUMA_LIMIT           0x100000000ull /* ranges are cut off here */

typedef struct {
    uint64_t base, end; /* [base, end), end <= NUMA_LIMIT, base < end */
    uint8_t node;       /* < nodes */
    uint8_t hotplug;    /* the SRAT marks it hot-pluggable */
    uint8_t present;    /* RAM now: in the memory map (every range not hot-pluggable is) */
} numa_range_t;

typedef struct {
    unsigned nodes;  /* 1 .. NUMA_MAX_NODES */
    unsigned ranges; /* range[0 .. ranges-1]: sorted by base, disjoint */
    numa_range_t range[NUMA_MAX_RANGES];
    uint32_t domain[NUMA_MAX_NODES];   /* node n's ACPI proximity domain (one node: 0) */
    unsigned cpus;                     /* cpu_node[0 .. cpus-1] hold: cpu_topology()'s count */
    uint8_t cpu_node[KERNEL_MAX_CPUS]; /* by index in cpu_topology() */
    uint8_t distance[NUMA_MAX_NODES][NUMA_MAX_NODES]; /* [from][to]; 10 on the diagonal */
    const char *source;                               /* "ACPI SRAT", "no SRAT", "SRAT refused" */
    const char *distances;          /* "ACPI SLIT", "no SLIT" (10 local, 20 remote) */
    unsigned srat_cpus_not_running; /* enabled SRAT CPU entries of no running CPU */
    unsigned above_4g;              /* SRAT ranges wholly above 4 GB: checked, left out */
} numa_topology_t;

/*
 * The topology the firmware describes, checked against the running CPUs
 * (`cpus`, NULL: none) and the memory map (`map`, `count` entries, as the
 * PMM gets it: type PMM_RANGE_AVAILABLE is RAM, any type is a place
 * firmware may put in a node's ranges).  Never fails: a refused table gives
 * one node.  Prints at most a line of refusal (or one per running CPU the
 * SRAT misses) and the summary.  The host tests call it with their reader.
 */
void numa_discover_with(const fw_reader_t *r, const cpu_topology_t *cpus, const pmm_range_t *map,
                        int count, numa_topology_t *out);

/* The node a physical address belongs to (a present range's), or -1 (none: a hole). */
int numa_node_of(const numa_topology_t *t, uint64_t phys);

/* Print the summary line of a topology (numa_discover_with ends with it). */
void numa_print(const numa_topology_t *t);

/* ---- the kernel (arch/x86/numa_boot.c) ---- */

/* numa_discover_with on the boot reader and cpu_topology(); the result is kept. */
void numa_discover(const pmm_range_t *map, int count);

/* What the boot's numa_discover found, or NULL before it ran. */
const numa_topology_t *numa_topology(void);

#endif /* ARCH_X86_NUMA_H */

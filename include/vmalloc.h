/*
 * vmalloc.h - page-granular allocations with guard pages, and kernel stacks
 * on top of them (beyond the spec: Phase 3, "guard pages").
 *
 * Every allocation lives in [VMALLOC_START, VMALLOC_END] (drawn in vmm.h)
 * between two pages that stay unmapped:
 *
 *      guard     size bytes, rounded up to whole pages       guard
 *   +--------+----------------------------------------------+--------+
 *   |unmapped| mapped, writable, from the PMM               |unmapped|
 *   +--------+----------------------------------------------+--------+
 *            ^ vmalloc() returns this (page-aligned)
 *
 * so running off either end faults at once, and the page-fault diagnosis
 * names the allocation (vmm_describe asks vmalloc_describe through the describer
 * vmalloc registers with the VMM).  A kernel stack
 * is such an allocation used from its top down: an overflow hits the guard
 * page below it.
 *
 * Misuse of vfree/kstack_free (wild, interior, unaligned pointers, double
 * vfree) is reported in one line and survived, as kfree does.
 */
#ifndef VMALLOC_H
#define VMALLOC_H

#include "mm_names.h" /* -DMM_PREFIX: every name mm_<name> */

#include <stddef.h>
#include <stdint.h>

#include "vmm.h"

/* At most this many live allocations (a fixed table: vmalloc never calls kmalloc). */
#define VMALLOC_MAX_AREAS 128

/*
 * size bytes (rounded up to pages), page-aligned, not zeroed; NULL for 0,
 * when the range or the table is full, or out of physical pages (one line
 * says which; nothing is left mapped or allocated).  Needs paging (vmm_init).
 */
void *(vmalloc)(size_t size);
#if defined(MM_DEBUG) && !defined(MM_PREFIX)
#define vmalloc(size) vmalloc_at((size), __FILE__, __LINE__)
#elif defined(MM_DEBUG) /* on the name mm_names.h makes of it (see memory.h) */
#define mm_vmalloc(size) vmalloc_at((size), __FILE__, __LINE__)
#endif
/* vmalloc recording where it was called from (for dumps and fault messages). */
void *vmalloc_at(size_t size, const char *file, int line);

/*
 * vmalloc with its pages from a NUMA node (issue 13; pmm.h's nodes):
 *   PMM_NODE_ANY            the calling CPU's node, then the nearest: as vmalloc
 *   node                    that node's pages, the nearest nodes' once it has none
 *   node | PMM_NODE_STRICT  that node's pages only: NULL (one line) if they run out
 *   VMALLOC_INTERLEAVE      page i from node i % nodes (a large area's bandwidth
 *                           spread over every node), each the nearest node's if
 *                           that one has no free page
 * A node that does not exist: one line, NULL.  Freed by vfree.
 */
#define VMALLOC_INTERLEAVE (-2)
void *(vmalloc_node)(size_t size, int node);
#if defined(MM_DEBUG) && !defined(MM_PREFIX)
#define vmalloc_node(size, node) vmalloc_node_at((size), (node), __FILE__, __LINE__)
#elif defined(MM_DEBUG)
#define mm_vmalloc_node(size, node) vmalloc_node_at((size), (node), __FILE__, __LINE__)
#endif
void *vmalloc_node_at(size_t size, int node, const char *file, int line);

/* Unmap and free; NULL does nothing; a bad pointer is reported and ignored. */
void vfree(void *ptr);

/*
 * A kernel stack of size bytes (rounded up to pages) with the guard page
 * below it.  Returns its top, the first ESP (the stack grows down from
 * there), or 0.  kstack_free takes that top.
 */
vaddr_t kstack_alloc(size_t size);
void kstack_free(vaddr_t top);

/*
 * What addr is, if it is in the vmalloc range, written to buf: "guard page
 * below vmalloc allocation 0xe0001000 (8192 bytes, allocated at f.c:42)",
 * "guard page below kernel stack ...", "inside ...", "freed ...".  Returns
 * buf, or NULL if addr is outside the range.  Takes no locks but the glue
 * lock and never allocates: fault handlers use it.
 */
const char *vmalloc_describe(vaddr_t addr, char *buf, size_t len);
/* Is addr in the guard page of a live allocation (or kernel stack)? */
int vmalloc_is_guard(vaddr_t addr);

typedef struct {
    uint32_t live;          /* allocations now (kernel stacks included) */
    uint32_t stacks;        /* of those, kernel stacks */
    uint32_t pages;         /* pages mapped for them */
    uint32_t guard_pages;   /* 2 per allocation, never mapped */
    uint32_t bytes_asked;   /* sum of the sizes asked for */
    uint32_t free_bytes;    /* of the range, not used by allocations or guards */
    uint32_t largest_hole;  /* largest allocation that fits now, in bytes */
    uint32_t allocs, frees; /* successful calls since vmalloc_reset */
    uint32_t failures;      /* vmalloc calls that returned NULL */
} vmalloc_stats_t;
void vmalloc_get_stats(vmalloc_stats_t *stats);

/*
 * Walk every record: inside the range, in order, no overlaps, every page
 * mapped (to a page the PMM handed out), both guard pages unmapped, the
 * counters right, and the VMM's count of vmalloc pages equal to ours.
 * Returns the number of broken invariants (one line each).
 */
int vmalloc_check(void);

/* Print every allocation: address, size, pages, guard pages, who allocated it. */
void vmalloc_dump(void);

/* Forget every allocation without unmapping: for host tests that restart the
 * memory manager (see vmm_reset). */
void vmalloc_reset(void);

#endif /* VMALLOC_H */

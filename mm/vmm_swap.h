/*
 * vmm_swap.h - what mm/zswap.c needs of the VMM's page tables and of vmalloc (mm/ only).
 *
 * The pages of a compressible area (include/zswap.h) are zswap's alone: vmalloc
 * reserves their span and maps nothing there; zswap writes their entries with
 * these calls.  An entry of such a page is one of
 *   present      frame | PAGE_PRESENT | PAGE_WRITABLE | VMM_PTE_ZSWAP (the MMU
 *                adds PAGE_ACCESSED and PAGE_DIRTY);
 *   not present  a non-zero word with bit 0 clear: zswap's swap entry (the
 *                stored copy's handle, or "zero page"); the VMM counts it as an
 *                entry in use, so its table stays;
 *   0            only while the area is being made or freed.
 * All run with mm_lock held (zswap's); each takes vmm_lock (mm/lock.c) itself.
 */
#ifndef MM_VMM_SWAP_H
#define MM_VMM_SWAP_H

#include "names_priv.h"

#include <stddef.h>
#include <stdint.h>

#include "vmm.h"

/*
 * Exchange the entry of virt (a page of the vmalloc range) for `entry`
 * (atomically: the old one, with whatever PAGE_ACCESSED/PAGE_DIRTY the MMU set
 * up to the exchange, goes to *old if old is not NULL).  A page table is
 * allocated (without reclaim) if needed; an entry going to 0 may empty its
 * table, which is then held for the caller's next pmm_tlb_shootdown_free.
 * This CPU's TLB entry is flushed when the presence changes (glue_mapping_changed);
 * the other CPUs' are the caller's (pmm_tlb_shootdown).  0, or -1 (reported:
 * outside the vmalloc range, unaligned, no memory for a table).
 */
int vmm_swap_set(vaddr_t virt, uint32_t entry, uint32_t *old);
/*
 * Clear PAGE_ACCESSED of virt's present entry (a locked and, so a Dirty bit the
 * MMU sets meanwhile stays) and return the entry as it was (0: none).  No TLB
 * flush: the caller flushes the run it swept, with one shootdown.
 */
uint32_t vmm_clear_accessed(vaddr_t virt);

/*
 * A compressible area (mm/zswap.c's vmalloc_compressible, include/zswap.h):
 * the span of size bytes between two guard pages, with NO page mapped; its
 * pages are zswap's (vmalloc_check checks the span and the guards, zswap_check
 * the pages).  vfree of it calls release(base, pages) first, which gives back
 * every frame, stored copy and entry.  Its base, or 0 (reported as vmalloc's).
 */
vaddr_t vmalloc_compressible_area(size_t size, const char *file, int line,
                                  void (*release)(vaddr_t base, uint32_t pages));
/* Such an area made mm/'s own (zswap's window): vfree refuses it in one line.  0, or -1. */
int vmalloc_pin_area(vaddr_t base);

#endif /* MM_VMM_SWAP_H */

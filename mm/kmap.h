/*
 * kmap.h - the kernel pages mm/ maps for itself: the growing heap, the slab
 * descriptors and block maps (the metadata window), vmalloc and kernel stacks.
 *
 * Through mm/glue.h's four kernel-page functions (glue_kmap, glue_kunmap,
 * glue_kmapped, glue_kmap_ready): mm/vmm.c implements them with our page
 * tables, and a kernel with its own paging implements them with its own.
 * So nothing above this file needs our VMM.
 *
 * Each page mm/ maps here comes from the PMM under an owner (PMM_OWNER_HEAP,
 * _META, _VMALLOC, _KSTACK) and goes back to it as that owner's.  Only the
 * three ranges of include/vmm.h are ever asked for: [HEAP_VIRTUAL_START,
 * HEAP_VIRTUAL_END], [VMALLOC_START, VMALLOC_END], [MM_META_START, MM_META_END].
 *
 * Locking: kmap.c takes vmm_lock (mm/lock.c) around every change of a
 * mapping; its callers (the heap, the slabs, vmalloc) hold mm_lock, above it.
 */
#ifndef MM_KMAP_H
#define MM_KMAP_H

#include "names_priv.h"

#include <stdint.h>

#include "pmm.h"
#include "vmm.h"

enum kmap_range { KMAP_HEAP, KMAP_VMALLOC, KMAP_META, KMAP_RANGES };

/* Can kernel pages be mapped now (paging on)? */
int kmap_ready(void);
/* Map phys at virt (a page of one of the three ranges): 0, or -1 (nothing changed). */
int kmap_page(vaddr_t virt, paddr_t phys);
/*
 * Allocate up to `pages` pages from the PMM as `owner` (a pmm_owner_t, maybe
 * | PMM_NO_RECLAIM) and map them from base on, in order, in runs of up to 128
 * pages (the frames of a run gathered first, then mapped between
 * glue_kmap_run_begin and _end: a host glue changes a run in one call).
 * Stops at the first page the PMM or the mapping refuses; returns the pages
 * mapped, all usable on return (the caller unmaps them, kmap_unmap_run, if
 * too few).
 */
uint32_t kmap_alloc_run(vaddr_t base, uint32_t pages, unsigned owner);
/*
 * The same with the pages from NUMA node `node` (pmm_alloc_owner_node's:
 * PMM_NODE_ANY, a node, maybe | PMM_NODE_STRICT), or, for
 * VMALLOC_INTERLEAVE, page i from node i % nodes (each then the nearest
 * node with memory).
 */
uint32_t kmap_alloc_run_node(vaddr_t base, uint32_t pages, unsigned owner, int node);
/*
 * Unmap virt and give its page back to the PMM as owner's, after its TLB
 * shootdown (one glue_tlb_shootdown call).  A page that is not
 * owner's in the PMM (someone freed or handed it away behind mm/'s back) is
 * unmapped, not freed, and reported in fn's name; so is a page glue_kunmap
 * names other than glue_kmapped did, and one glue_kunmap leaves mapped.
 * Nothing mapped: nothing done.
 */
void kmap_unmap(const char *fn, vaddr_t virt, pmm_owner_t owner);
/*
 * The same for `pages` pages from base (one range), batched: every page is
 * unmapped first (glue_kunmap flushes this CPU only), then ONE
 * glue_tlb_shootdown covers the run (from the first to the last page that was
 * mapped), and only then do the pages (and any page table emptied on the way)
 * go back to the PMM.  No page was mapped: no shootdown.
 */
void kmap_unmap_run(const char *fn, vaddr_t base, uint32_t pages, pmm_owner_t owner);
/*
 * Move the mapped page at virt onto a frame of NUMA node `node` (a node, maybe
 * | PMM_NODE_STRICT): a frame of that node (else, not strict, of the nearest
 * node that has one) is taken as owner's, virt is remapped to it, its first
 * `keep` bytes (at most KMAP_REHOME_KEEP) are copied over, and the old frame
 * goes back to the PMM after one glue_tlb_shootdown.  The rest of the page is
 * NOT copied: only for a page nobody but the caller uses, whose contents past
 * `keep` do not matter yet (a heap block just taken).  Returns the node of
 * the frame now behind virt (unchanged if it was on `node` already, or no
 * better frame was free), or -1: not a mapped page of ours, or strict and
 * `node` has no free page (then nothing changed).
 */
#define KMAP_REHOME_KEEP 64
int kmap_rehome(const char *fn, vaddr_t virt, int node, unsigned keep, pmm_owner_t owner);
/* The physical page behind virt, 0 if none. */
paddr_t kmap_phys(vaddr_t virt);
/* Pages mapped through kmap_page and not unmapped since, in one range. */
uint32_t kmap_count(enum kmap_range r);
/* Forget the counts (memory_init's restart of everything, host tests). */
void kmap_reset_range(enum kmap_range r);

#endif /* MM_KMAP_H */

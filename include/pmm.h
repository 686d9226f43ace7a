/*
 * pmm.h - the physical memory manager: 4 KB page frames (spec, Phase 2).
 *
 * The spec's three functions keep their signatures; everything else here is
 * beyond the spec: initialisation from a firmware memory map, physically
 * contiguous aligned runs, statistics and a checker.
 */
#ifndef PMM_H
#define PMM_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t paddr_t; /* a physical address (below 4 GB: no PAE) */

/* Blocks go up to 2^PMM_MAX_ORDER pages (4 MB): the largest contiguous run. */
#define PMM_MAX_ORDER 10

/* A range of the firmware's memory map (multiboot's layout, 64-bit). */
#define PMM_RANGE_AVAILABLE 1 /* usable RAM */
#define PMM_RANGE_RESERVED  2 /* anything else: firmware, kernel image, modules ... */
typedef struct {
    uint64_t base;
    uint64_t length;
    uint32_t type;
} pmm_range_t;

typedef struct {
    uint32_t total_pages;    /* RAM pages below 4 GB that the map calls available */
    uint32_t free_pages;     /* ready to hand out */
    uint32_t used_pages;     /* handed out and not yet freed */
    uint32_t reserved_pages; /* available RAM kept back: <1 MB, kernel, heap, PMM metadata... */
    uint32_t highest_page;   /* physical address of the last page managed */
    uint32_t free_blocks[PMM_MAX_ORDER + 1]; /* free blocks of each order */
    uint32_t metadata_bytes;                 /* size of the PMM's own page array */
    paddr_t metadata_phys;                   /* where it lives */
} pmm_stats_t;

/* ---- spec ---- */

/*
 * RAM is [0, mem_size): everything available but the first 1 MB, the
 * Phase 1 heap and the PMM's own metadata.  (A kernel with a firmware memory
 * map uses pmm_init_map instead.)
 */
void pmm_init(uint32_t mem_size);
/* One 4 KB page; its physical address, or 0 when memory is exhausted.  O(1). */
uint32_t pmm_alloc_page(void);
/* Give a page back.  Bad addresses (unaligned, reserved, beyond RAM, already free) are reported and
 * ignored.  O(1). */
void pmm_free_page(uint32_t page);

/* ---- beyond the spec ---- */

/*
 * Initialise from a memory map: only ranges of type PMM_RANGE_AVAILABLE are
 * ever handed out, minus every PMM_RANGE_RESERVED range (overlaps allowed, in
 * any order), the first 1 MB, the Phase 1 heap and the metadata.  Ranges above
 * 4 GB are ignored (reported).  Returns 0, or -1 if nothing usable remains.
 */
int pmm_init_map(const pmm_range_t *map, int count);

/*
 * `count` physically contiguous pages starting at a multiple of `align` bytes
 * (a power of two, at least PAGE_SIZE; 0 means PAGE_SIZE).  Returns the
 * physical address, or 0.  Buddy allocator: O(PMM_MAX_ORDER), no scan.
 */
paddr_t pmm_alloc_pages(uint32_t count, uint32_t align);
/* Free a run from pmm_alloc_pages (or any run of allocated pages). */
void pmm_free_pages(paddr_t base, uint32_t count);

void pmm_get_stats(pmm_stats_t *stats);
/* Print the totals and the free blocks per order. */
void pmm_dump(void);
/* Verify every structure; returns the number of broken invariants. */
int pmm_check(void);
/* Is this page allocated (1), free (0) or not managed/reserved (-1)? */
int pmm_page_state(paddr_t page);

#endif /* PMM_H */

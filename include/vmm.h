/*
 * vmm.h - the virtual memory manager: x86 two-level paging (spec, Phase 2).
 *
 * The kernel's address space once vmm_init() has run:
 *
 *   0x00000000 +------------------------+
 *              | NULL page: unmapped    |  so NULL dereferences fault
 *   0x00001000 +------------------------+
 *              | identity map of low    |  kernel image, VGA, the early heap,
 *              | memory                 |  the PMM metadata: addresses used
 *              |                        |  before paging stay valid after it
 *              +------------------------+  (vmm_identity_end())
 *              | free for vmm_map_page  |
 *   0xC0000000 +------------------------+  KERNEL_VIRTUAL_BASE
 *              | direct map of physical |  phys P at KERNEL_VIRTUAL_BASE + P,
 *              | [0, 256 MB)            |  for RAM below 256 MB
 *   0xD0000000 +------------------------+  HEAP_VIRTUAL_START
 *              | kernel heap, grows up  |  heap_init_virtual(): kmalloc
 *   0xDFFFFFFF +------------------------+  HEAP_VIRTUAL_END
 *   0xE0000000 +------------------------+  VMALLOC_START
 *              | vmalloc: page-granular |  every allocation (kernel stacks
 *              | allocations, each with |  too) has an unmapped guard page
 *              | a guard page each side |  on each side (mm/vmalloc.c)
 *   0xEFFFFFFF +------------------------+  VMALLOC_END
 *   0xF0000000 +------------------------+  MM_META_START
 *              | allocator metadata:    |  mapped on demand, out of reach
 *              | slab descriptors (8M), |  of any heap overflow: one slab_t
 *              | the heap's block map:  |  per heap page (mm/slab.c), two
 *              | starts (4M), free (4M) |  bits per 8 bytes (mm/blockmap.h)
 *              | their summary (128K),  |
 *              | block marks (1M)       |  a bit per 512 bytes, a word a line
 *   0xF111FFFF +------------------------+  MM_META_END
 *              | free for vmm_map_page  |
 *   0xFFC00000 +------------------------+  VMM_PT_WINDOW
 *              | the page tables        |  PD[1023] points at the PD itself,
 *              | (recursive mapping)    |  so table i is at 0xFFC00000 + 4K*i
 *   0xFFFFFFFF +------------------------+
 *
 * The linear address, as the MMU splits it:
 *
 *   31           22 21           12 11            0
 *   | dir index    | table index   | offset        |
 *     VMM_PDX(va)    VMM_PTX(va)
 */
#ifndef VMM_H
#define VMM_H

#include "mm_names.h" /* -DMM_PREFIX: every name mm_<name> */

#include <stddef.h>
#include <stdint.h>

#include "pmm.h"

typedef uint32_t vaddr_t; /* a virtual address of the 32-bit kernel */

/* ---- spec: layout ---- */
#define KERNEL_VIRTUAL_BASE  0xC0000000
#define KERNEL_PHYSICAL_BASE 0x100000
#define HEAP_VIRTUAL_START   0xD0000000
#define HEAP_VIRTUAL_END     0xDFFFFFFF

/* ---- beyond the spec: the vmalloc range (include/vmalloc.h) ---- */
#define VMALLOC_START 0xE0000000u
#define VMALLOC_END   0xEFFFFFFFu /* inclusive, like HEAP_VIRTUAL_END */

/* ---- beyond the spec: the allocators' own metadata, out of band ---- */
#define MM_META_START         0xF0000000u
#define MM_META_END           0xF111FFFFu                  /* inclusive */
#define MM_META_SLABS         MM_META_START                /* 128 bytes per heap page: 8 MB */
#define MM_META_BLOCK_STARTS  (MM_META_START + 0x800000u)  /* a bit per heap granule: 4 MB */
#define MM_META_BLOCK_FREE    (MM_META_START + 0xC00000u)  /* the same: 4 MB */
#define MM_META_BLOCK_SUMMARY (MM_META_START + 0x1000000u) /* a bit per word of starts: 128 KB */
#define MM_META_BLOCK_MARKS   (MM_META_START + 0x1020000u) /* a bit per 512 heap bytes: 1 MB */

/* ---- spec: page flags ---- */
#define PAGE_PRESENT  0x001
#define PAGE_WRITABLE 0x002
#define PAGE_USER     0x004
#define PAGE_ACCESSED 0x020
#define PAGE_DIRTY    0x040

/* ---- beyond the spec: the cache bits, for device registers (MMIO) ---- */
#define PAGE_WRITE_THROUGH 0x008 /* PWT: writes go through the cache to memory */
#define PAGE_CACHE_DISABLE 0x010 /* PCD: not cached; with PWT, UC: device registers */

/*
 * ---- beyond the spec: a page of a compressible area (mm/zswap.c, include/zswap.h) ----
 * Bit 9, one of the three the MMU leaves to software (AVL), set on the
 * present entry of a page mm/zswap.c may compress.  The MMU ignores it; a
 * simulated MMU (host/glue.c) keeps PAGE_ACCESSED and PAGE_DIRTY of such
 * entries by page protection.  A compressed page's entry is not present and
 * names its stored copy (include/zswap.h's ZSWAP_ENTRY).
 */
#define VMM_PTE_ZSWAP 0x200

/* ---- beyond the spec: the encoding, in one place ---- */
/*
 * A directory or table entry:
 *
 *   31                     12 11      7   6   5   4    3    2   1   0
 *   | frame: physical >> 12   | (ours 0)| D | A | PCD | PWT | U | W | P |
 *     VMM_FRAME(entry)          VMM_FLAG_BITS, the low 12 bits:
 *                               D, A: VMM_HARDWARE_FLAGS;
 *                               PCD, PWT, U, W, P: VMM_ENTRY_FLAGS
 */
#define VMM_PDX(va)         (((uint32_t)(va) >> 22) & 0x3FF)
#define VMM_PTX(va)         (((uint32_t)(va) >> 12) & 0x3FF)
#define VMM_VADDR(pdx, ptx) ((vaddr_t)(pdx) << 22 | (vaddr_t)(ptx) << 12) /* the inverse */
#define VMM_FLAG_BITS       0x00000FFFu
#define VMM_FRAME(entry)    ((uint32_t)(entry) & ~VMM_FLAG_BITS)
#define VMM_CACHE_FLAGS     (PAGE_WRITE_THROUGH | PAGE_CACHE_DISABLE)
#define VMM_ENTRY_FLAGS                                                                            \
    (PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER | VMM_CACHE_FLAGS) /* vmm_map's                      \
                                                                  */
#define VMM_HARDWARE_FLAGS  (PAGE_ACCESSED | PAGE_DIRTY)         /* what the MMU sets */
#define VMM_ENTRIES         1024
#define VMM_RECURSIVE_SLOT  1023
#define VMM_PT_WINDOW       0xFFC00000u
#define VMM_DIRECT_MAP_SIZE 0x10000000u /* 256 MB */

/* ---- spec ---- */
void vmm_init(void);
/* Map virt -> phys.  Reports and changes nothing on bad input (see vmm_map). */
void vmm_map_page(uint32_t virt_addr, uint32_t phys_addr, uint32_t flags);
/*
 * Unmap virt, free its physical page and flush the TLB entry.  The page is
 * freed only if it is a plain caller's page (pmm_alloc_page, owner
 * PMM_OWNER_CALLER): a page of any other owner mapped here as an alias (a
 * heap page, a page table, a kernel stack...) is unmapped and stays its
 * owner's, without a report; MMIO and kernel memory are never freed.  A
 * caller's page mapped at two addresses is freed by the first unmap (the
 * spec's rule): unmap aliases with care.
 */
void vmm_unmap_page(uint32_t virt_addr);
/* The physical address behind virt_addr, or 0 if it is not mapped. */
uint32_t vmm_get_physical(uint32_t virt_addr);

/* ---- beyond the spec ---- */

/*
 * vmm_map_page with a result: 0 on success, -1 after reporting why not
 * (unaligned address, already mapped, a fixed kernel mapping or the table
 * window, unknown flags, no memory for a page table).  flags: PAGE_WRITABLE,
 * PAGE_USER, and for device registers PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH
 * (uncached); PAGE_PRESENT is implied.  On failure nothing is
 * left half-done: no page table is allocated that stays empty.
 */
int vmm_map(vaddr_t virt, paddr_t phys, uint32_t flags);

/*
 * For the kernel heap only: map / unmap (and free) a page of
 * [HEAP_VIRTUAL_START, HEAP_VIRTUAL_END], which vmm_map and vmm_unmap_page
 * refuse so that nobody pulls a page out from under kmalloc.  The unmap
 * frees the page as the heap's (PMM_OWNER_HEAP; the PMM refuses any other):
 * so do the vmalloc unmap (PMM_OWNER_VMALLOC or _KSTACK) and the metadata
 * unmap (PMM_OWNER_META).  Page tables are PMM_OWNER_TABLE, the directory
 * PMM_OWNER_DIRECTORY: only the VMM frees them.
 */
int vmm_heap_map(vaddr_t virt, paddr_t phys);
void vmm_heap_unmap(vaddr_t virt);

/* The same for vmalloc and [VMALLOC_START, VMALLOC_END]: nobody else maps there. */
int vmm_vmalloc_map(vaddr_t virt, paddr_t phys);
void vmm_vmalloc_unmap(vaddr_t virt);

/* The same for the allocators' metadata and [MM_META_START, MM_META_END]. */
int vmm_meta_map(vaddr_t virt, paddr_t phys);
void vmm_meta_unmap(vaddr_t virt);

/* The page-table entry for virt (0 if none): flags included. */
uint32_t vmm_get_entry(vaddr_t virt);

/* Where physical memory can be read after paging: KERNEL_VIRTUAL_BASE + p, or 0. */
void *vmm_phys_to_virt(paddr_t p);

/* First address above the identity-mapped low memory. */
vaddr_t vmm_identity_end(void);

/*
 * What an address is, for fault messages: "NULL page", "unmapped heap page",
 * "guard-page hit: the guard page below vmalloc allocation 0x... (...)"...
 * The text may live in a static buffer, valid until the next call.
 */
const char *vmm_describe(vaddr_t addr);

/*
 * A layer above the VMM that owns [lo, hi] (vmalloc) registers how to say
 * what an address there is: vmm_describe then asks it (the VMM itself knows
 * nothing of vmalloc).  fn writes at most len bytes to buf and returns buf,
 * or NULL (vmm_describe then says `name`); it runs with mm/'s lock held.
 * Re-registering the same fn replaces its range.  0, or -1 when the few
 * slots are taken (reported).
 */
typedef const char *(*vmm_describer_t)(vaddr_t addr, char *buf, size_t len);
int vmm_register_describer(vaddr_t lo, vaddr_t hi, const char *name, vmm_describer_t fn);
/* Forget fn's range (nothing if it has none). */
void vmm_unregister_describer(vmm_describer_t fn);

/* Page tables in use, mappings made through vmm_map. */
typedef struct {
    uint32_t page_tables;
    uint32_t mapped_pages;  /* by vmm_map / vmm_map_page, not the fixed maps */
    uint32_t vmalloc_pages; /* of those, in [VMALLOC_START, VMALLOC_END] */
    paddr_t page_directory;
    int paging_enabled;
} vmm_stats_t;
void vmm_get_stats(vmm_stats_t *stats);

/* Walk every table: entries sane, counts right.  Returns broken invariants. */
int vmm_check(void);

/*
 * Forget the page directory without touching it: for host tests that restart
 * the whole memory manager (memory_init, pmm_init*, vmm_reset, vmm_init).
 * Never in a kernel running with paging on: the next vmm_init would reach the
 * new directory through the live one's table window.
 */
void vmm_reset(void);

/* Print the mapped ranges (coalesced): rw/ro, user, uncached (PCD) or write-through (PWT). */
void vmm_dump(void);

#endif /* VMM_H */

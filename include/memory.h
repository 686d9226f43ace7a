/*
 * memory.h - the public API of the memory manager (the spec's names and types).
 *
 * An embedding kernel includes this header and links the mm/ sources plus its own glue
 * (see mm/glue.h).  Everything named in ../shared/spec/memory-api-reference.md
 * is declared here exactly as the spec gives it; additions are marked
 * "beyond the spec".
 */
#ifndef MEMORY_H
#define MEMORY_H

#include "mm_names.h" /* -DMM_PREFIX: every name mm_<name> */

#include <stddef.h>
#include <stdint.h>

#include "kstring.h"

/* ---- Memory layout constants (spec, Phase 1) ---- */
#define PAGE_SIZE         4096
#define HEAP_START        0x500000    /* 5MB physical address */
#define INITIAL_HEAP_SIZE (64 * 1024) /* 64KB fixed size */
#define HEAP_ALIGN        8           /* 8-byte alignment */

/* ---- Magic numbers (spec) ---- */
#define HEAP_MAGIC_ALLOC 0xDEADBEEF /* Allocated block signature */
#define HEAP_MAGIC_FREE  0xFEEDFACE /* Free block signature */

/* ---- Alignment macros (spec) ---- */
#define ALIGN_8(size) (((size) + 7) & ~7) /* 8-byte alignment */

/* ---- Data structures (spec) ---- */
typedef struct heap_block {
    uint32_t magic;          /* 0xDEADBEEF (alloc) / 0xFEEDFACE (free) */
    size_t size;             /* Block size excluding header */
    int is_free;             /* 1 = free, 0 = allocated */
    struct heap_block *next; /* Next block in linked list (address order) */
    struct heap_block *prev; /* Previous block in linked list */
    const char *file;        /* Source file (debug builds) */
    uint32_t line;           /* Source line (debug builds) */
} heap_block_t;

/*
 * The header every block carries: sizeof(heap_block_t) rounded up to
 * HEAP_ALIGN.  32 bytes on i386, as the spec says (checked in heap_priv.h).
 */
#define HEAP_HEADER_SIZE                                                                           \
    ((sizeof(heap_block_t) + HEAP_BLOCK_ALIGN - 1) & ~(size_t)(HEAP_BLOCK_ALIGN - 1))

/*
 * Every payload's alignment (beyond the spec): the spec's HEAP_ALIGN on i386;
 * 16 on x86_64 hosts, where the ABI (max_align_t) wants it.  Sizes are
 * rounded to it too, so a block's end stays aligned for the next header.
 */
#define HEAP_BLOCK_ALIGN (sizeof(void *) == 8 ? 16 : HEAP_ALIGN)

typedef struct {
    uint32_t heap_size;        /* Current heap size (64KB in Phase 1) */
    uint32_t heap_used;        /* Allocated heap memory (payload bytes of live blocks) */
    uint32_t heap_free;        /* Free heap memory (payload bytes of free blocks) */
    uint32_t allocation_count; /* Total allocations made */
    uint32_t free_count;       /* Total frees made */
    /* ---- beyond the spec (appended; the spec's fields keep their place) ---- */
    uint32_t largest_free_block; /* biggest single kmalloc() that can succeed now */
    uint32_t peak_heap_used;     /* high-water mark of heap_used */
    uint32_t block_count;        /* blocks in the heap, allocated and free */
    uint32_t free_block_count;   /* free blocks (fragmentation: many small ones is bad) */
    uint32_t error_count;        /* caller bugs detected and survived (double free, ...) */
    /* ---- Phase 2 (zero until pmm_init*, vmm_init, heap_init_virtual) ---- */
    uint32_t phys_total_pages;    /* RAM pages the PMM manages */
    uint32_t phys_free_pages;     /* ready to hand out */
    uint32_t phys_used_pages;     /* handed out (heap pages and page tables included) */
    uint32_t phys_reserved_pages; /* RAM kept back: <1 MB, kernel, early heap, metadata */
    uint32_t page_tables;         /* page tables in use */
    uint32_t paging_enabled;      /* 1 once vmm_init has turned paging on */
    uint32_t heap_virtual_size;   /* bytes mapped at HEAP_VIRTUAL_START */
    uint32_t heap_virtual_peak;   /* high-water mark of heap_virtual_size */
    /* ---- object caches (slab.h; kmalloc's small sizes once the virtual heap is up) ---- */
    uint32_t slab_pages;   /* pages held by caches: allocated one-page blocks of the heap */
    uint32_t slab_objects; /* objects allocated from caches now */
    /* ---- out of memory (mm_set_oom_reports) ---- */
    uint32_t oom_failures; /* allocation calls failed for want of memory, since memory_init */
    /* ---- per-CPU caches (include/slab.h): counted in slab_pages, not in slab_objects ---- */
    uint32_t slab_cpu_cached; /* objects kept in per-CPU caches for the next allocations */
    /* ---- TLB shootdown (mm/glue.h's glue_tlb_shootdown) ---- */
    uint32_t tlb_shootdowns; /* glue_tlb_shootdown calls (batches) */
    uint32_t tlb_ipis;       /* CPUs interrupted by them (sum of its returns) */
    /* ---- per-CPU block caches (kmalloc's 513 B - 64 KB): counted in heap_used, block_count ----
     */
    uint32_t heap_cpu_cached;       /* freed blocks kept in per-CPU caches for the next kmallocs */
    uint32_t heap_cpu_cached_bytes; /* their payload bytes */
    /* heap_size == heap_used + heap_free + block_count * HEAP_HEADER_SIZE */
} memory_stats_t;

/* ---- Core memory functions (spec, Phase 1) ---- */
void memory_init(void);
void *kmalloc(size_t size);
void kfree(void *ptr);
void *kcalloc(size_t count, size_t size);
void *krealloc(void *ptr, size_t size);

/*
 * Phase 2 (spec): move kmalloc to a growing heap at HEAP_VIRTUAL_START (after
 * pmm_init*() and vmm_init()).  Blocks from the early heap stay valid.
 */
void heap_init_virtual(void);

/* ---- Debug and statistics (spec) ---- */
void get_memory_stats(memory_stats_t *stats);
void heap_dump(void);

/* ---- beyond the spec ---- */

/*
 * Walk every block and the free list; verify magic numbers, sizes, links,
 * coalescing and the counters.  Prints one line per broken invariant and
 * returns how many there were (0 = healthy).
 */
int heap_check(void);

/*
 * size bytes at a multiple of align (a power of two, any size: 16, 4096,
 * 1 MB...), freed by plain kfree.  NULL on failure; a bad alignment is
 * reported.
 */
void *kmalloc_aligned(size_t size, size_t align);

/*
 * size bytes on NUMA node `node` (pmm.h: a node, node | PMM_NODE_STRICT, or
 * PMM_NODE_ANY: the calling CPU's, exactly kmalloc): up to 512 bytes an
 * object of a size-class slab whose page is on that node, more a block of
 * whole pages each moved onto it.  Not strict: that node while it has
 * memory, else the nearest.  Strict: that node or NULL (one out-of-memory
 * line).  A node that does not exist: one line, NULL.  Freed by plain kfree.
 */
void *kmalloc_node(size_t size, int node);

/* Bytes usable at ptr (at least what was asked; 0 for NULL or a bad pointer, reported). */
size_t kmalloc_usable_size(void *ptr);

/*
 * Map at least `bytes` of virtual heap now and never shrink below them: for
 * code that must not wait for pages to be mapped (interrupt handlers,
 * real-time paths).  With a reserve big enough, kmalloc and kfree never map
 * or unmap a page, and their worst case is the heap's own bounded work.
 */
void heap_reserve(size_t bytes);

/*
 * Give every free page at the virtual heap's end back to the PMM now (down to
 * 64 KB of slack and the reserve); returns the bytes unmapped.  kfree does
 * this a bounded step at a time; kmem_cache_reap does it all at once.
 */
size_t heap_trim(void);

/* The last caller-bug message the memory manager printed ("" if none). */
const char *mm_last_error(void);

/*
 * Out-of-memory lines on (1, the default) or off (0); returns the setting it
 * replaces.  Off, an allocation that fails for want of memory returns NULL (0)
 * without a word: for a kernel that expects a quiet NULL.  Either way each
 * failed call of kmalloc, kcalloc, krealloc, kmalloc_aligned, kmem_cache_alloc,
 * vmalloc, kstack_alloc, heap_reserve and the caller's pmm_alloc_page(s)
 * counts once in memory_stats_t.oom_failures (a layer's own request failing
 * inside such a call is not counted again).  Caller bugs are reported either
 * way, and so is heap_init_virtual staying in Phase 1 for want of pages.
 */
int mm_set_oom_reports(int on);

/*
 * Beyond the spec: the per-CPU block caches (mm/blockcache.c) on (1, what
 * memory_init sets) or off (0); returns the previous setting.  On, kmalloc of
 * 513 B to 64 KB is rounded up to one of four sizes a doubling and a freed
 * block waits on its CPU for the next kmalloc of its size, without the heap's
 * lock (memory_stats_t.heap_cpu_cached).  Off, every such kmalloc and kfree
 * takes the heap's lock, a block is the size asked (to HEAP_BLOCK_ALIGN), and a
 * freed block goes straight back to the free lists, where a write after free
 * into its links is caught: for a kernel short of memory, or to watch the
 * heap's own placement.  Turning them off gives back what the CPUs keep.
 */
int mm_set_block_cache(int on);

/*
 * ---- debug build (make DEBUG=1 defines MM_DEBUG; see mm_debug.h) ----
 * The allocation functions become macros that pass their call site, so the
 * leak report, the profile and every debug report can name it.  The real
 * functions above stay (taking &kmalloc still works; their calls have no site).
 */
#ifdef MM_DEBUG
void *kmalloc_debug(size_t size, const char *file, uint32_t line);
void kfree_debug(void *ptr, const char *file, uint32_t line);
void *kcalloc_debug(size_t count, size_t size, const char *file, uint32_t line);
void *krealloc_debug(void *ptr, size_t size, const char *file, uint32_t line);
void *kmalloc_aligned_debug(size_t size, size_t align, const char *file, uint32_t line);
void *kmalloc_node_debug(size_t size, int node, const char *file, uint32_t line);
#ifndef MM_PREFIX
#define kmalloc_node(size, node)     kmalloc_node_debug((size), (node), __FILE__, __LINE__)
#define kmalloc(size)                kmalloc_debug((size), __FILE__, __LINE__)
#define kfree(ptr)                   kfree_debug((ptr), __FILE__, __LINE__)
#define kcalloc(count, size)         kcalloc_debug((count), (size), __FILE__, __LINE__)
#define krealloc(ptr, size)          krealloc_debug((ptr), (size), __FILE__, __LINE__)
#define kmalloc_aligned(size, align) kmalloc_aligned_debug((size), (align), __FILE__, __LINE__)
#else /* kmalloc is already a macro (mm_kmalloc, mm_names.h): the call site goes on that name */
#define mm_kmalloc_node(size, node)     kmalloc_node_debug((size), (node), __FILE__, __LINE__)
#define mm_kmalloc(size)                kmalloc_debug((size), __FILE__, __LINE__)
#define mm_kfree(ptr)                   kfree_debug((ptr), __FILE__, __LINE__)
#define mm_kcalloc(count, size)         kcalloc_debug((count), (size), __FILE__, __LINE__)
#define mm_krealloc(ptr, size)          krealloc_debug((ptr), (size), __FILE__, __LINE__)
#define mm_kmalloc_aligned(size, align) kmalloc_aligned_debug((size), (align), __FILE__, __LINE__)
#endif
#endif

/* ---- beyond the spec: the Phase 1 heap checked against a memory map (mm/early.c) ---- */
#include "pmm.h" /* pmm_range_t */

/*
 * memory_init(), but only if [HEAP_START, HEAP_START + INITIAL_HEAP_SIZE) is
 * RAM nobody else uses: covered by PMM_RANGE_AVAILABLE ranges of `map` and
 * overlapped by no range of another type (the map pmm_init_map takes: the
 * firmware's ranges plus your kernel's reservations; overlapping, unsorted,
 * zero-length and wrapping entries are handled).  Returns 0 with the heap
 * built, or -1 after one line saying what is in the way ("not RAM: the
 * machine's RAM ends at ...", "reserved range ... is in the way"), the
 * memory at HEAP_START untouched.
 */
int memory_init_map(const pmm_range_t *map, int count);

#endif /* MEMORY_H */

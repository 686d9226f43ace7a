/*
 * pmm.h - the physical memory manager: 4 KB page frames (spec, Phase 2).
 *
 * The spec's three functions keep their signatures; everything else here is
 * beyond the spec: initialisation from a firmware memory map, physically
 * contiguous aligned runs, page owners, reclaim hooks, statistics and a
 * checker.
 */
#ifndef PMM_H
#define PMM_H

#include "mm_names.h" /* -DMM_PREFIX: every name mm_<name> */

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

/*
 * Who owns an allocated page: who alone may free it.  Every page the PMM
 * hands out carries one (a byte of its descriptor); a free from anyone else
 * is reported and refused.  The spec's pmm_alloc_page/pmm_free_page (and
 * pmm_alloc_pages/pmm_free_pages) are the plain caller's: PMM_OWNER_CALLER.
 * The other layers allocate and free their pages with the _owner functions
 * below, each on its own path:
 *
 *   owner               name        freed by              the page is
 *   PMM_OWNER_CALLER    caller      pmm_free_page(s)      whatever the caller wants
 *   PMM_OWNER_DIRECTORY directory   (never: lives on)     the VMM's page directory
 *   PMM_OWNER_TABLE     page-table  vmm.c                 a page table
 *   PMM_OWNER_HEAP      heap        vmm_heap_unmap        a page of the virtual heap
 *   PMM_OWNER_META      metadata    vmm_meta_unmap        allocator metadata (slab.c)
 *   PMM_OWNER_VMALLOC   vmalloc     vfree                 a vmalloc allocation's page
 *   PMM_OWNER_KSTACK    kstack      kstack_free           a kernel stack's page
 *
 * The byte has room: a layer that needs to tell its pages apart (the heap's
 * block runs from its slabs, say) adds values here and hands pages over with
 * pmm_set_owner.  Free, reserved and hole pages have PMM_OWNER_NONE.
 *
 * Owners catch mistakes (a pfree of the wrong page), they are not a security
 * boundary: the *_owner functions and pmm_set_owner believe the owner they
 * are told, so only an owner's own code names it.
 */
typedef enum {
    PMM_OWNER_NONE,
    PMM_OWNER_CALLER,
    PMM_OWNER_DIRECTORY,
    PMM_OWNER_TABLE,
    PMM_OWNER_HEAP,
    PMM_OWNER_META,
    PMM_OWNER_VMALLOC,
    PMM_OWNER_KSTACK,
    PMM_OWNER_COUNT
} pmm_owner_t;

/*
 * Or'ed into the owner of pmm_alloc_pages_owner: do not call the reclaim
 * hooks if no run is free.  For allocations made in the middle of an
 * operation that reclaim would change under them (the heap growing, a slab's
 * metadata, a page table being added).
 */
#define PMM_NO_RECLAIM 0x100u

typedef struct {
    uint32_t total_pages;    /* RAM pages below 4 GB: the map's available ones, pmm_add_range's */
    uint32_t free_pages;     /* ready to hand out */
    uint32_t used_pages;     /* handed out and not yet freed */
    uint32_t reserved_pages; /* available RAM kept back: <1 MB, kernel, heap, PMM metadata... */
                             /* total = free + used + reserved + unreachable_pages (below) */
    uint32_t highest_page;   /* physical address of the last page managed */
    uint32_t free_blocks[PMM_MAX_ORDER + 1]; /* free blocks of each order (the pages on the
                                                CPUs' lists: blocks of order 0) */
    uint32_t metadata_bytes;                 /* size of the PMM's own page array */
    paddr_t metadata_phys;                   /* where it lives */
    uint32_t owner_pages[PMM_OWNER_COUNT];   /* used pages of each owner ([NONE]: 0) */
    uint32_t reclaims;                       /* times the reclaim hooks ran */
    uint32_t refused_frees;                  /* frees refused: not the owner's path */
    /* the stages (pmm_init_layout, pmm_add_range, pmm_set_reachable) */
    uint32_t unreachable_pages; /* RAM known, above the reachable limit: not handed out yet */
    uint32_t ranges_added;      /* ranges pmm_add_range accepted (at most PMM_ADDED_RANGES) */
    uint64_t reachable_limit;   /* pages below it may be handed out (4 GB: all of them) */
    uint64_t ram_end;           /* the descriptors cover [0, ram_end): pmm_add_range's ceiling */
    uint32_t cpu_cached_pages;  /* free pages on the CPUs' lists of single pages (in free_pages) */
    uint32_t reclaims_deferred; /* of reclaims: owed under pressure (pmm_set_pressure) */
} pmm_stats_t;

/* ---- spec ---- */

/*
 * RAM is [0, mem_size): everything available but the first 1 MB, the
 * Phase 1 heap and the PMM's own metadata.  (A kernel with a firmware memory
 * map uses pmm_init_map instead.)
 */
void pmm_init(uint32_t mem_size);
/*
 * One 4 KB page (owner: the caller); its physical address, or 0 when memory
 * is exhausted even after the reclaim hooks ran.  O(1) while pages are free.
 */
uint32_t pmm_alloc_page(void);
/*
 * Give a page back.  Bad addresses (unaligned, reserved, beyond RAM, already
 * free) and pages of another owner (a page table, the heap, a kernel
 * stack...) are reported and ignored.  O(1).
 */
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
 * A PMM that grows in stages, for a kernel that maps a few MB at boot and the
 * rest once its page tables are built, or that learns of more RAM later:
 *
 *   0      1 MB      reachable                ram_end            4 GB
 *   |  low  | free ...  | unreachable (known)  | not described     |
 *           ^ metadata: below `reachable`, where the PMM writes
 *
 * Pages at or above the reachable limit are counted (unreachable_pages) and
 * shown by pmm_dump, but never handed out until pmm_set_reachable raises the
 * limit past them.  The per-page descriptors are one array placed at init:
 * they cover [0, ram_end) and never move, so a kernel that will add RAM
 * later says at init how far it may go (ram_end); pmm_add_range refuses
 * anything beyond (12 bytes of metadata per 4 KB page described: 3 MB per GB).
 *
 * Every field is optional (0: as pmm_init_map does it):
 *   reachable    hand out only pages below it (page-rounded down; 0: no limit)
 *   ram_end      describe pages up to here, for pmm_add_range (rounded up;
 *                0 or below the map's highest RAM: the map's highest RAM)
 *   meta_base,   the metadata goes exactly here (page-aligned, at least
 *   meta_length  pmm_layout_bytes(...) long, in available RAM, clear of every
 *                reserved range, the first 1 MB and the Phase 1 heap, and below
 *                `reachable`); length 0: the lowest such place the PMM finds
 *   kernel_base, the kernel's image: every byte of it that the map calls
 *   kernel_length available RAM must be covered by a reserved range of the
 *                map, or the map is refused (length 0: not checked)
 */
typedef struct {
    uint64_t reachable;
    uint64_t ram_end;
    uint64_t meta_base, meta_length;
    uint64_t kernel_base, kernel_length;
} pmm_layout_t;

/*
 * pmm_init_map with a layout (NULL: exactly pmm_init_map).  Refused in one
 * line, with the PMM left empty (it hands out nothing and writes nowhere):
 * a kernel image the map does not reserve, a metadata place that is not
 * free RAM, too small or not reachable, no room for the metadata below the
 * reachable limit.  (No map at all is refused as by pmm_init_map: the PMM
 * stays as it was.)  Returns 0, or -1 if refused or nothing usable remains.
 */
int pmm_init_layout(const pmm_range_t *map, int count, const pmm_layout_t *layout);
/* Bytes of metadata the PMM needs to describe RAM up to ram_end (a meta_length that fits). */
uint32_t pmm_layout_bytes(uint64_t ram_end);

/*
 * A second (third...) stage: [base, base + length) is more RAM, trimmed inward
 * to whole pages.  Pages below the reachable limit are free at once, the rest
 * unreachable until the limit rises.  Refused in one line, nothing changed
 * (-1): zero length, a range that wraps past 2^64, reaches above 4 GB, holds
 * no whole page, ends beyond the descriptors (ram_end), overlaps RAM the PMM
 * already knows, a range the map reserved, the first 1 MB or the Phase 1
 * heap, or would be the (PMM_ADDED_RANGES + 1)th.  Returns 0 when added.
 */
#define PMM_ADDED_RANGES 16
int pmm_add_range(uint64_t base, uint64_t length);
/*
 * The kernel can now reach every page below `limit` (rounded down to a page;
 * 4 GB or more: all): the unreachable pages below it become free.  The limit
 * only rises: a lower one is refused (-1, one line, nothing changed), as
 * pages below the current one may be handed out already.  Returns 0.
 */
int pmm_set_reachable(uint64_t limit);

/*
 * `count` physically contiguous pages starting at a multiple of `align` bytes
 * (a power of two, at least PAGE_SIZE; 0 means PAGE_SIZE).  Returns the
 * physical address, or 0.  Buddy allocator: O(PMM_MAX_ORDER), no scan.
 */
paddr_t pmm_alloc_pages(uint32_t count, uint32_t align);
/* Free a run of the caller's pages (from pmm_alloc_pages or pmm_alloc_page). */
void pmm_free_pages(paddr_t base, uint32_t count);

/*
 * The same for an owner's own path: the pages get `owner` (a pmm_owner_t,
 * maybe | PMM_NO_RECLAIM); the free refuses (one line, nothing freed) unless
 * every page of the run has that owner.
 */
paddr_t pmm_alloc_pages_owner(uint32_t count, uint32_t align, unsigned owner);
void pmm_free_pages_owner(paddr_t base, uint32_t count, pmm_owner_t owner);
/* Hand a run over from one owner to another (0), or report and change nothing (-1). */
int pmm_set_owner(paddr_t base, uint32_t count, pmm_owner_t from, pmm_owner_t to);
/* The owner of an allocated page; PMM_OWNER_NONE if free, reserved or not RAM. */
pmm_owner_t pmm_page_owner(paddr_t page);
/* "heap", "page-table", ...: the owner's name in dumps ("?" if out of range). */
const char *pmm_owner_name(pmm_owner_t owner);

/*
 * Reclaim hooks: when no run fits, an allocation calls every registered hook
 * (each gives memory back to the PMM and returns how much, in any unit)
 * and tries once more.  The hooks run with mm/'s lock held and may call
 * mm/ again (mm/lock.c counts the nesting); a
 * hook that allocates from the PMM does not run the hooks again.  At most
 * PMM_RECLAIM_HOOKS; registering one twice keeps one.  Returns 0, or -1 if
 * the table is full.  The hooks outlive pmm_init (host tests restart it).
 */
#define PMM_RECLAIM_HOOKS 4
int pmm_register_reclaim(size_t (*hook)(void));
void pmm_unregister_reclaim(size_t (*hook)(void));
/*
 * mm/'s own: while held (it nests), no allocation runs the hooks.  kmap.c
 * holds it around glue_kmap, whose page table comes in the middle of a change
 * (the heap growing) that a hook's kfree or trim must not see.
 */
void pmm_reclaim_hold(int hold);
/*
 * Memory pressure: while marks are set (zswap sets its watermarks while it
 * has an area; 0, 0: none), an allocation that leaves fewer than `low` free
 * frames owes a run of the hooks, and the next allocation made from outside
 * mm/ (kmalloc, kcalloc, krealloc, kmalloc_aligned, kmalloc_node,
 * kmem_cache_alloc, vmalloc and its variants, the pmm_alloc_* calls without
 * PMM_NO_RECLAIM) that enters mm/'s shared path runs them on its way out (a
 * hit of a CPU's cache, which takes no frame, does not look): the allocations
 * that cross the mark are often ones that may not run them (the heap
 * growing, a page table).
 * A run that leaves fewer than `low` free waits until an allocation sees
 * `high` or more again.  The mark is read where the PMM's shared counts
 * change (a take, a CPU's list refilled): up to a refill's 16 pages late for
 * each CPU's list of single pages.  pmm_reclaim_deferred: that run, if one is owed and
 * this CPU holds none of mm/'s locks (for a kernel's own allocator on top).
 */
void pmm_set_pressure(uint32_t low, uint32_t high);
void pmm_reclaim_deferred(void);
/*
 * mm/'s own, for the TLB shootdown (mm/glue.h's glue_tlb_shootdown): a page
 * just unmapped from kernel memory is not freed before every CPU flushed it.
 * pmm_free_held: the page (owner's, else refused as pmm_free_pages_owner
 * would, in fn's name: -1) is held, still allocated; 0.
 * pmm_tlb_shootdown: glue_tlb_shootdown(virt, pages), counted; its return.
 * pmm_tlb_shootdown_free: the same, then every held page goes back to the PMM.
 * pmm_tlb_counts: the calls and the sum of their returns since pmm_init.
 */
int pmm_free_held(const char *fn, paddr_t page, pmm_owner_t owner);
unsigned pmm_tlb_shootdown(uint32_t virt, uint32_t pages);
void pmm_tlb_shootdown_free(uint32_t virt, uint32_t pages);
void pmm_tlb_counts(uint32_t *shootdowns, uint32_t *ipis);

void pmm_get_stats(pmm_stats_t *stats);
/*
 * Print the totals, the stages (reachable limit, descriptors' end, ranges
 * added), the used pages per owner, the free blocks per order and the page runs.
 */
void pmm_dump(void);
/* Verify every structure; returns the number of broken invariants. */
int pmm_check(void);
/* Is this page allocated (1), free (0) or not managed/reserved/unreachable (-1)? */
int pmm_page_state(paddr_t page);

/* ---- NUMA nodes (issue 13) ---- */

/*
 * The PMM keeps one set of buddy free lists per node; a page never moves
 * from one node's lists to another's (blocks never merge across a node's
 * edge, wherever it lies).  The kernel tells it the nodes with
 * pmm_set_nodes, before or after pmm_init_layout; without it there is one
 * node, node 0, and the PMM behaves exactly as without nodes.
 *
 * pmm_alloc_page, pmm_alloc_pages(_owner) prefer the node of the CPU that
 * calls (glue_cpu_id()), then every other node nearest first (distance);
 * the _node calls prefer the node given (PMM_NODE_ANY: the CPU's), or with
 * PMM_NODE_STRICT or'ed in take that node's pages only and fail (0) when it
 * has none, even after the reclaim hooks ran.  A node without memory (its
 * CPUs are served by the nearest node that has some) and a node without
 * CPUs are both fine.  Any page is freed by the usual calls.
 */
#define PMM_MAX_NODES       8     /* node numbers 0 .. PMM_MAX_NODES - 1 */
#define PMM_MAX_NODE_RANGES 32    /* ranges pmm_set_nodes takes */
#define PMM_MAX_CPUS        64    /* CPUs (glue_cpu_id) whose node it keeps; others: node 0 */
#define PMM_NODE_ANY        (-1)  /* the calling CPU's node, then the nearest */
#define PMM_NODE_STRICT     0x100 /* or'ed into a node: that node or nothing */
#define PMM_DISTANCE_LOCAL  10    /* ACPI SLIT: a node's distance to itself */

/* Physical memory [base, end) is on `node`. */
typedef struct {
    uint64_t base, end;
    uint32_t node;
} pmm_node_range_t;

/*
 * Register the topology: `nodes` nodes (1 .. PMM_MAX_NODES); `ranges` say
 * which memory is on which node (any order; none: all on node 0); memory
 * outside every range belongs to the node of the range below it (the
 * lowest range's node below the lowest range).  cpu_node[c] is the node of
 * CPU c (glue_cpu_id), for c < ncpus; later CPUs are on node 0.  distance
 * (NULL: 10 to itself, 20 elsewhere) is nodes x nodes bytes, row `from`:
 * 10 on the diagonal, every other entry 10 .. 255.  Refused in one line,
 * nothing changed (-1): a node count out of range, a range empty, above
 * 4 GB, of a node >= nodes or overlapping another, more than
 * PMM_MAX_NODE_RANGES ranges or PMM_MAX_CPUS CPUs, a CPU on no node, a bad
 * distance, NULL tables with counts.  After pmm_init the free lists are
 * rebuilt.  pmm_set_nodes(1, NULL, 0, NULL, 0, NULL): back to one node.
 */
int pmm_set_nodes(unsigned nodes, const pmm_node_range_t *ranges, unsigned nranges,
                  const uint8_t *cpu_node, unsigned ncpus, const uint8_t *distance);
/* The number of nodes (1 without pmm_set_nodes). */
int pmm_node_count(void);
/* The node of CPU `cpu` (PMM_NODE_ANY: the calling CPU). */
int pmm_cpu_node(int cpu);
/* The node of a page of RAM the PMM describes, or -1 (not RAM, beyond the descriptors). */
int pmm_page_node(paddr_t phys);
/*
 * How many registrations pmm_set_nodes took (0: none yet): a layer that keeps
 * nodes of its own (the slabs' node of each page) sees the topology changed.
 */
uint32_t pmm_nodes_generation(void);

/* One page / a run as pmm_alloc_page(s), on `node` (maybe | PMM_NODE_STRICT): 0 if none. */
paddr_t pmm_alloc_page_node(int node);
paddr_t pmm_alloc_pages_node(int node, uint32_t count, uint32_t align);
/* pmm_alloc_pages_owner on `node` (the layers' _node calls). */
paddr_t pmm_alloc_owner_node(uint32_t count, uint32_t align, unsigned owner, int node);

typedef struct {
    uint32_t total_pages, free_pages, used_pages, reserved_pages, unreachable_pages;
    uint32_t free_blocks[PMM_MAX_ORDER + 1];
    uint32_t local_allocs;           /* wanted this node (CPU's or named), got it */
    uint32_t fallback_allocs;        /* wanted this node, got another's page (it had none free) */
    uint32_t foreign_allocs;         /* served here, wanted elsewhere */
    uint32_t cpus;                   /* CPUs on it */
    uint8_t distance[PMM_MAX_NODES]; /* from it to each node */
    uint32_t cpu_cached_pages;       /* on its CPUs' lists (counted free, order-0 free_blocks) */
} pmm_node_stats_t;
/* A node's totals; 0, or -1 (one line) for a node that does not exist or NULL. */
int pmm_get_node_stats(int node, pmm_node_stats_t *out);

/*
 * Every CPU's list of single free pages given back to the buddy lists (merged
 * with their buddies); the pages given back.  The statistics do not drain
 * them: call this first to see free_blocks as merged.
 */
uint32_t pmm_drain_cpu_lists(void);

#endif /* PMM_H */

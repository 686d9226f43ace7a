/*
 * heap_internal.h - what the heap and slab.c tell each other (never an embedder's business).
 *
 * A slab is one heap block laid out on exactly one page, its heap header at
 * the page's first byte, then only objects; its descriptor (map, counts,
 * links) is out of band, in slab_core.c's tables (slab.c draws them):
 *
 *   page                                                       page + PAGE_SIZE
 *   | heap_block_t | pad | obj 0 | obj 1 | ... | obj n-1 |
 *   ^ HEAP_HEADER_SIZE   ^ cache.first: objects end at the page end,
 *                          so each is aligned to its stride's power of two
 *
 * The heap keeps, outside the heap's own bytes (so no overflow can forge it),
 * one bit per page of each region saying "this page is a slab": kfree asks
 * it first, so a slab object is never mistaken for a block or the reverse.
 *
 * Every function here expects mm_lock held.
 *
 * Debug build (MM_DEBUG, mm_debug.h): debug.c keeps the call sites, the
 * quarantine, the profile and the trace; the heap and slab.c call its dbg_*
 * hooks at the few points where an object is born, dies or is checked, and
 * only when dbg_on() (the mode memory_init latched).  Without MM_DEBUG the
 * hooks are the inline no-ops at the end of this file, dbg_on() is the
 * constant 0, and the compiler drops every call: no #ifdef at a call site.
 * debug.c calls nothing above it: what leaves quarantine is handed back to
 * the caller (dbg_evict), which frees it (slab_drain_quarantine).
 */
#ifndef MM_HEAP_INTERNAL_H
#define MM_HEAP_INTERNAL_H

#include "names_priv.h" /* -DMM_PREFIX: mm/'s shared names too */

#include <stddef.h>
#include <stdint.h>

#include "glue.h"
#include "lock.h"
#include "memory.h"
#include "vmm.h"
#include "mm_debug.h"

/* ---- the heap (heap_alloc.c, heap_region.c, heap_block.c), for slab.c ---- */

/* A fresh slab page (address of its first byte), or NULL (out of memory, reported). */
void *heap_slab_page_alloc(const char *fn);
/* Give a slab page back to the heap. */
void heap_slab_page_free(void *page);
/* The public function running now, named in the heap's reports; returns the previous one. */
const char *heap_api_swap(const char *fn);

/* A public function's way in: mm_lock taken, its name set for the reports. */
typedef struct {
    glue_irqflags_t flags;
    const char *outer; /* the public call this one runs inside (a ctor's kmalloc), or NULL */
} heap_call_t;

static inline heap_call_t heap_enter(const char *fn)
{
    heap_call_t call;
    call.flags = mm_lock();
    call.outer = heap_api_swap(fn);
    return call;
}

/* ... and its way out: the outer call's name back, the lock released. */
static inline void heap_leave(heap_call_t call)
{
    heap_api_swap(call.outer);
    mm_unlock(call.flags);
}
/*
 * Heap page `page` (page-aligned, wholly the caller's block: a slab page just
 * taken, a kmalloc_node block's page) onto a frame of NUMA node `node` (a
 * node, maybe | PMM_NODE_STRICT), its first `keep` bytes kept (kmap_rehome;
 * the rest is not copied).  Returns the node of its frame now, or -1: strict
 * and that node has no free page (nothing changed).  An early-heap page
 * cannot move: its frame's node, or -1 if strict and that is not `node`.
 */
int heap_rehome(const char *fn, uintptr_t page, int node, unsigned keep);
/* The NUMA node of heap page `page`'s frame (0: a page the PMM does not describe). */
unsigned heap_page_node(uintptr_t page);
/* The slab page holding addr, or 0 if addr is not in a slab page. */
uintptr_t heap_slab_page_of(uintptr_t addr);
/*
 * The growing region's start (0: none yet; fixed once set) and its slab-page
 * bits, one per page: heap_region.c writes them under the lock (one atomic
 * store a word), heap_slab_page_quick reads them without it.
 */
/* The growing region's largest size. */
#define HEAP_VIRTUAL_LIMIT ((uint32_t)HEAP_VIRTUAL_END - HEAP_VIRTUAL_START + 1)
typedef struct {
    uintptr_t base;
    uint32_t map[HEAP_VIRTUAL_LIMIT / PAGE_SIZE / 32];
    struct bmap *blocks; /* the growing region's block map (NULL: none) */
    /*
     * After a shrink, the block map's pages past the region go back if no CPU
     * can be reading them (blockcache.c: bc_map_trim_locked, which tries every
     * CPU's cache lock).  A hook, set by heap_init_virtual, as the PMM's
     * reclaim hooks are: the heap sits below the CPUs' caches.
     */
    void (*map_trim)(void);
} heap_quick_t;
extern MM_INTERNAL heap_quick_t heap_quick;
/*
 * heap_slab_page_of for the growing region only, without the lock (the
 * per-CPU caches' free path): the slab page holding addr, or 0.  A racing
 * change of the bit is seen before or after, never torn.
 */
static inline uintptr_t heap_slab_page_quick(uintptr_t addr)
{
    uintptr_t base = __atomic_load_n(&heap_quick.base, __ATOMIC_RELAXED);
    if (!base || addr - base >= HEAP_VIRTUAL_LIMIT) /* (below base: wraps, too far) */
        return 0;
    uint32_t i = (uint32_t)((addr - base) / PAGE_SIZE);
    uint32_t w = __atomic_load_n(&heap_quick.map[i / 32], __ATOMIC_RELAXED);
    return (w >> (i % 32)) & 1 ? base + (uintptr_t)i * PAGE_SIZE : 0;
}
/* The first slab page at or above addr (regions in order), or 0: to walk every slab. */
uintptr_t heap_slab_page_next(uintptr_t addr);
/* heap_trim with the lock held. */
size_t heap_trim_locked(void);
/*
 * The growing region's block-map pages past its end back to the PMM (a shrink
 * leaves them: bmap_uncover); did any go?  No CPU may be on a fast free,
 * reading the map (blockcache.h): every CPU's cache lock held, or this CPU's
 * own fast path under way inside mm/.
 */
int heap_map_trim_locked(void);
/*
 * kmalloc(size) for mm/'s own stores above the heap (zstore's compressed
 * copies): never rounded up to a class of the CPUs' block caches, whose
 * quarter would eat what compression saved; always the shared path.  Reported
 * as kmalloc's; kfree frees it.
 */
void *kmalloc_exact_at(size_t size, const char *file, uint32_t line);
#define kmalloc_exact(size) kmalloc_exact_at(size, __FILE__, __LINE__)
/* A caller's block at ptr back to the heap (what leaves quarantine); a bad ptr is fn's, reported.
 */
void heap_release_block(const char *fn, void *ptr);
/* ... a block whose mark the caller holds (a CPU's cache let it go: blockcache.c). */
void heap_release_cached(const char *fn, void *ptr);

/* ---- slab.c, for the heap ---- */

/* Forget every cache and slab (memory_init). */
void slab_reset(void);
/* The virtual heap is up: kmalloc's small sizes go to the size-class caches from now on. */
void slab_enable(void);
/* Bytes of out-of-band metadata per slab page: its slab_t slot (32 to a metadata page). */
#define SLAB_DESC_SIZE   128
/* Largest size kmalloc serves from a size-class cache. */
#define SLAB_KMALLOC_MAX 512
/*
 * kmalloc / kmalloc_aligned for size <= SLAB_KMALLOC_MAX: an object of the
 * smallest class whose stride is a multiple of align; NULL if none or no
 * memory.  fn: the public call (kmalloc, kcalloc, krealloc...), for reports.
 */
void *slab_kmalloc(const char *fn, size_t size, size_t align);
/* The same on NUMA node `node` (slab_cache_alloc_node): NULL also when strict and it has none. */
void *slab_kmalloc_node(const char *fn, size_t size, size_t align, int node);
/* kfree of a slab object at ptr in slab page `page`: 1, or 0 after reporting a bad pointer. */
int slab_kfree(const char *fn, uintptr_t page, void *ptr);
/* Usable bytes of the object at ptr, or 0 after reporting a bad pointer. */
size_t slab_usable(const char *fn, uintptr_t page, void *ptr);
/*
 * Map the metadata pages for the slab descriptors of heap pages [start,
 * start + bytes) now (heap_reserve: later slabs there need no PMM page).
 * 0, or -1 if the PMM is out of pages.
 */
int slab_meta_reserve(uintptr_t start, size_t bytes);
/* Empty slabs of every cache back to the heap; returns pages released. */
size_t slab_reap_locked(void);
/*
 * Memory pressure, one step at a time, for an allocation that failed (a
 * block, a slab's page): step 0 gives the quarantine back (debug build,
 * checks on), step 1 every cache's empty slabs.  Nonzero if anything went
 * back: then the allocation is worth trying again.
 */
int slab_relieve(const char *fn, int step);
#define SLAB_RELIEF_STEPS 2
/*
 * Metadata pages describing no mapped heap page back to the PMM (kmem_cache_reap),
 * if every CPU's cache lock is held (the CPUs in `held` by the caller) or free.
 */
void slab_meta_trim_locked(uint32_t held);
/*
 * What debug.c's quarantine lets go (all: everything in it; else what is
 * over its limits) back to the heap or its slab, each checked first; fn is
 * the public call that pushed it out.  Returns how many (0 without MM_DEBUG).
 */
uint32_t slab_drain_quarantine(const char *fn, int all);
/* The slabs checked, lock held: broken invariants, each reported as fn's (heap_check,
 * kmem_cache_check). */
int slab_check_locked(const char *fn, uint32_t held);
/* Live objects and slab pages of all caches (get_memory_stats). */
void slab_totals(uint32_t *objects, uint32_t *pages, uint32_t *cached);
/* kmalloc and kfree calls the per-CPU caches served (the rest are heap_state's). */
void slab_cpu_calls(uint32_t *kmallocs, uint32_t *kfrees);
/* "kmalloc-64 12/63" for heap_dump. */
void slab_describe(uintptr_t page, char *buf, size_t len);

/* ---- debug.c, for the heap and slab.c ---- */

/* Kept for every object: after a heap block's red zone, in a table for a slab's objects. */
typedef struct {
    uint32_t size;      /* bytes the caller asked for: the red zone starts here */
    uint16_t site;      /* call site of the allocation (0: unknown) */
    uint16_t free_site; /* ... and of the free, once freed */
} dbg_rec_t;

/* What a heap block adds to a request with the checks on: red zone and record. */
#define DBG_TAIL (MM_REDZONE_MIN + sizeof(dbg_rec_t))

#ifdef MM_DEBUG

/* memory_init: latch mm_debug_set's mode, forget every site, the quarantine, the trace. */
void dbg_reset(void);
int dbg_on(void);
/* The call site of the public call running now (file NULL: not known). */
void dbg_site(const char *file, uint32_t line);
/*
 * A caller's new object: obj[0, size) asked, [size, cap) red zone, rec its
 * record; hdr is its heap header (front red zone, file/line), or NULL for a
 * slab object.  fill: write MM_FILL_BYTE over the object.
 */
void dbg_arm(void *obj, uint32_t size, uint32_t cap, dbg_rec_t *rec, heap_block_t *hdr, int fill);
/* Is ptr in quarantine?  Then it was freed already: reported as fn's misuse, returns 1. */
int dbg_quarantined(const char *fn, const void *ptr);
/*
 * The caller frees obj: its red zones are checked (damage reported and
 * repaired), it is poisoned and quarantined.  Returns 1 if it went into
 * quarantine (then the caller drains what that pushes out: dbg_evict), 0 if
 * it must be released now (poison 0: a cache with a constructor).
 */
int dbg_free(const char *fn, void *obj, uint32_t cap, dbg_rec_t *rec, heap_block_t *hdr,
             int poison);
/*
 * The oldest object in quarantine, taken out and checked (a write after free
 * reported as fn's and repaired), for the caller to free: if `all`, while any
 * is left; else only while the quarantine is over its limits.  NULL: none.
 */
void *dbg_evict(const char *fn, int all);
/* heap_check on a live object: red zones; damage reported once (then repaired): 1, else 0. */
int dbg_check_live(void *obj, uint32_t cap, dbg_rec_t *rec, heap_block_t *hdr);
/* heap_check on the quarantine: every poisoned byte still the poison?  Broken objects. */
int dbg_check_quarantine(void);
/* The size the caller asked for (kmalloc_usable_size), rec checked against cap. */
uint32_t dbg_user_size(const dbg_rec_t *rec, uint32_t cap);
/* heap_dump's state word for a caller's object ("ALLOC", "redzone", "quarantine") and where from.
 */
const char *dbg_dump_state(const void *obj, uint32_t cap, const dbg_rec_t *rec,
                           const heap_block_t *hdr, char *detail, size_t len);
/* mm_debug_get_stats' fields debug.c keeps (all but fragmentation). */
void dbg_get_stats(mm_debug_stats_t *st);
/* heap_profile's lines, given the heap's fragmentation index. */
void dbg_profile(uint32_t fragmentation);
#else
/* The normal build: no checks, and every hook a no-op the compiler drops. */
static inline void dbg_reset(void) {}
static inline int dbg_on(void)
{
    return 0;
}
static inline void dbg_site(const char *file, uint32_t line)
{
    (void)file, (void)line;
}
static inline void dbg_arm(void *obj, uint32_t size, uint32_t cap, dbg_rec_t *rec,
                           heap_block_t *hdr, int fill)
{
    (void)obj, (void)size, (void)cap, (void)rec, (void)hdr, (void)fill;
}
static inline int dbg_quarantined(const char *fn, const void *ptr)
{
    (void)fn, (void)ptr;
    return 0;
}
static inline int dbg_free(const char *fn, void *obj, uint32_t cap, dbg_rec_t *rec,
                           heap_block_t *hdr, int poison)
{
    (void)fn, (void)obj, (void)cap, (void)rec, (void)hdr, (void)poison;
    return 0;
}
static inline void *dbg_evict(const char *fn, int all)
{
    (void)fn, (void)all;
    return NULL;
}
static inline int dbg_check_live(void *obj, uint32_t cap, dbg_rec_t *rec, heap_block_t *hdr)
{
    (void)obj, (void)cap, (void)rec, (void)hdr;
    return 0;
}
static inline int dbg_check_quarantine(void)
{
    return 0;
}
static inline uint32_t dbg_user_size(const dbg_rec_t *rec, uint32_t cap)
{
    (void)rec;
    return cap;
}
static inline const char *dbg_dump_state(const void *obj, uint32_t cap, const dbg_rec_t *rec,
                                         const heap_block_t *hdr, char *detail, size_t len)
{
    (void)obj, (void)cap, (void)rec, (void)hdr, (void)detail, (void)len;
    return "ALLOC";
}
#endif

#endif /* MM_HEAP_INTERNAL_H */

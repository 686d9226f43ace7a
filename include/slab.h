/*
 * slab.h - object caches (memory pools) for fixed-size objects (Phase 3, beyond the spec).
 *
 *   kmem_cache_t *c = kmem_cache_create("task", sizeof(struct task), 0, NULL);
 *   struct task *t = kmem_cache_alloc(c);
 *   ...
 *   kmem_cache_free(c, t);
 *   kmem_cache_destroy(c);     refused, with a message, while objects are live
 *
 * Objects live in one-page slabs taken from the heap: no per-object header
 * (a page holds the heap's block header and as many objects as fit; the
 * slab's map of free objects is kept out of band), O(1) allocation and free.  kmalloc uses the same
 * machinery for its small sizes once the virtual heap is up (caches "kmalloc-8" ... "kmalloc-512"),
 * and plain kfree frees any slab object.
 *
 * ctor, if given, runs once on every object when its slab is created (as in
 * Linux): an object handed back must be left in its constructed state.
 *
 * Caller bugs (double free, a pointer that is not an object, an interior
 * pointer, an object of another cache, destroying a cache in use) are
 * reported in one line and survived, as everywhere in the memory manager.
 */
#ifndef SLAB_H
#define SLAB_H

#include "mm_names.h" /* -DMM_PREFIX: every name mm_<name> */

#include <stddef.h>
#include <stdint.h>

typedef struct kmem_cache kmem_cache_t;

/* Largest object a cache can hold (one per page at worst). */
#define KMEM_CACHE_MAX_OBJECT 2048
/* Longest name kept (longer ones are cut). */
#define KMEM_CACHE_NAME_MAX   24
/*
 * Caches a kernel may have at once besides kmalloc's size classes.  Cache
 * descriptors live in one static table, out of reach of any heap overflow
 * (mm/slab.c): kmem_cache_create reports and returns NULL past this.
 */
#ifndef KMEM_CACHE_MAX
#define KMEM_CACHE_MAX 64
#endif
/*
 * CPUs with a per-CPU cache in front of every cache's slabs (glue_cpu_id 0 to
 * MM_MAX_CPUS - 1); a CPU with a higher number works, on the shared path.
 */
#ifndef MM_MAX_CPUS
#define MM_MAX_CPUS 16
#endif

/*
 * A cache of `size`-byte objects aligned to `align` (0 = the natural
 * alignment: 8 bytes, 16 on x86_64; else a power of two up to 2048).  NULL,
 * with a message, for a bad size or alignment or no memory.
 */
kmem_cache_t *kmem_cache_create(const char *name, size_t size, size_t align,
                                void (*ctor)(void *obj));
void *kmem_cache_alloc(kmem_cache_t *cache);
/*
 * An object from a slab whose page is on NUMA node `node` (pmm.h: a node,
 * node | PMM_NODE_STRICT, or PMM_NODE_ANY: the calling CPU's, as
 * kmem_cache_alloc).  Not strict: that node while it has memory (a new
 * slab's page moved onto it, if need be), else the nearest node's slabs.
 * Strict: that node or NULL (one out-of-memory line).  A node that does not
 * exist: one line, NULL.  kmem_cache_free frees it as any other object.
 */
void *kmem_cache_alloc_node(kmem_cache_t *cache, int node);
void kmem_cache_free(kmem_cache_t *cache, void *obj);
/* 0 when destroyed; -1 (reported) while objects are live or for a bad cache. */
int kmem_cache_destroy(kmem_cache_t *cache);
/* Give the cache's empty slabs back to the heap; returns how many pages went. */
size_t kmem_cache_shrink(kmem_cache_t *cache);
/*
 * The same for every cache (done by the heap itself when it runs out of
 * memory), then heap_trim(): the pages go back to the PMM.
 */
size_t kmem_cache_reap(void);

typedef struct {
    char name[KMEM_CACHE_NAME_MAX];
    uint32_t object_size;      /* as asked */
    uint32_t stride;           /* bytes each object takes in its slab */
    uint32_t align;            /* every object's address is a multiple of this */
    uint32_t objects_per_slab; /* one page each */
    uint32_t slabs;            /* pages held */
    uint32_t empty_slabs;      /* kept for the next allocations */
    uint32_t live;             /* objects allocated now */
    uint32_t peak_live;        /* the most objects out of the slabs at once: callers' and
                                  those the per-CPU caches kept (a fill moves 16 at a time) */
    uint32_t allocs, frees;
    uint32_t cpu_cached; /* objects kept in per-CPU caches (out of the slabs, not live) */
} kmem_cache_stats_t;

/* 0 and *stats filled, or -1 (reported) for a bad cache. */
int kmem_cache_get_stats(kmem_cache_t *cache, kmem_cache_stats_t *stats);
/*
 * Node `node`'s part of a cache: *slabs its slabs (pages on that node),
 * *objects its objects out of them (callers' and those per-CPU caches keep).
 * 0, or -1 (one line) for a bad cache, node or NULL pointer.
 */
int kmem_cache_node_stats(kmem_cache_t *cache, int node, uint32_t *slabs, uint32_t *objects);
/* Objects CPU `cpu` keeps in its per-CPU caches now (all caches; 0 for a CPU without one). */
uint32_t kmem_cache_cpu_objects(int cpu);

/* One line per cache, like Linux's /proc/slabinfo (the console's `slabinfo`). */
void kmem_cache_dump(void);

/* Walk every cache and slab.  Returns broken invariants (heap_check adds these). */
int kmem_cache_check(void);

/* Debug build (MM_DEBUG, see memory.h): the call site goes with the object. */
#ifdef MM_DEBUG
void *kmem_cache_alloc_debug(kmem_cache_t *cache, const char *file, uint32_t line);
void kmem_cache_free_debug(kmem_cache_t *cache, void *obj, const char *file, uint32_t line);
void *kmem_cache_alloc_node_debug(kmem_cache_t *cache, int node, const char *file, uint32_t line);
#ifndef MM_PREFIX
#define kmem_cache_alloc(cache)     kmem_cache_alloc_debug((cache), __FILE__, __LINE__)
#define kmem_cache_free(cache, obj) kmem_cache_free_debug((cache), (obj), __FILE__, __LINE__)
#define kmem_cache_alloc_node(cache, node)                                                         \
    kmem_cache_alloc_node_debug((cache), (node), __FILE__, __LINE__)
#else /* on the names mm_names.h makes of them (see memory.h) */
#define mm_kmem_cache_alloc(cache)     kmem_cache_alloc_debug((cache), __FILE__, __LINE__)
#define mm_kmem_cache_free(cache, obj) kmem_cache_free_debug((cache), (obj), __FILE__, __LINE__)
#define mm_kmem_cache_alloc_node(cache, node)                                                      \
    kmem_cache_alloc_node_debug((cache), (node), __FILE__, __LINE__)
#endif
#endif

#endif /* SLAB_H */

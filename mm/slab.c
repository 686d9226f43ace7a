/*
 * slab.c - object caches: kmem_cache_* and kmalloc's small size classes.
 *
 * Theory of operation
 * -------------------
 * A cache hands out objects of one size from slabs: one page each, taken
 * from the heap as an ordinary block (heap_slab_page_alloc, heap_alloc.c).  The page holds
 * nothing but the heap's block header and the objects:
 *
 *   page                                                       page + PAGE_SIZE
 *   | heap_block_t | pad | obj 0 | obj 1 | ... | obj n-1 |
 *   ^ HEAP_HEADER_SIZE   ^ cache.first: objects end at the page end,
 *                          so each is aligned to its stride's power of two
 *
 * Metadata out of band.  Everything the slab allocator trusts lives where no
 * caller's overflow, underflow or write after free can reach it, as in
 * hardened_malloc and Linux's struct page:
 *
 *   - a slab's descriptor (slab_t: cache, list links, counts, hint and the
 *     allocation bitmap, set = allocated, and the map of objects sitting
 *     in per-CPU caches) is one 128-byte slot of a table
 *     indexed by the page's place in its heap region: a static table for
 *     the 16 pages of the early heap, and for the virtual heap the metadata
 *     window's first 8 MB (MM_META_SLABS, vmm.h), whose pages are mapped
 *     from the PMM when the first slab of their 32 heap pages is made (one
 *     metadata page per 128 KB of heap at most; kept until memory_init);
 *   - "this page is a slab" is the heap's bit per page (heap_internal.h),
 *     also outside the heap's bytes;
 *   - cache descriptors (kmem_cache_t) are slots of one static table: kmalloc's
 *     size classes first, then up to KMEM_CACHE_MAX caches of callers.  A
 *     kmem_cache_t * is valid only if it points at a slot whose magic is keyed
 *     by its address, so kfree(cache) is "not a heap pointer", and no heap
 *     overflow can change a stride or a constructor.
 *
 * So a scribble anywhere in the heap can damage objects' bytes and the
 * in-band heap_block_t of a slab page (which the heap checks and repairs),
 * never which objects are free.  There is no header per object:
 *
 *   - allocation is a find-first-zero in at most SLAB_MAP_WORDS words,
 *     starting at a hint: bounded, and no pointer stored in free objects that
 *     a write after free could forge;
 *   - free is a bit clear; a clear bit is a double free, an address off the
 *     stride grid is an interior pointer; both are reported and ignored.
 *
 * A cache keeps its partial slabs (some objects free) and its empty ones on
 * two lists; full slabs are on none (as in Linux's SLUB: nothing to do for
 * them until an object comes back).  Allocation takes from the first partial
 * slab, then an empty one, then a new page; at most SLAB_KEEP_EMPTY empty
 * slabs stay, the rest go back to the heap at once.  When the heap has no
 * page for a new slab, the quarantine and then every cache's empty slabs go
 * back first (slab_relieve), and the page is asked for again; kmem_cache_reap (the
 * PMM's reclaim hook, kmem_cache.c) gives back all of them too.
 *
 * kmalloc's size classes (kmalloc-8 ... kmalloc-512, 16-byte steps on
 * x86_64 where malloc must align to 16) are caches like any other, built in.
 *
 * NUMA nodes (issue 13).  A slab is on the node of its page's frame
 * (slab_t.node, read from the PMM: heap_page_node), and a cache keeps its
 * partial and empty slabs on lists per node.  The design choice: a slab's
 * page is always an ordinary heap page, so a slab for node N is made by
 * moving the frame under a fresh heap page onto N when it is elsewhere
 * (heap_rehome -> kmap_rehome: a frame of N from the PMM, the page remapped
 * to it, its heap header copied, the old frame freed after one TLB
 * shootdown), not by a heap of its own per node: the heap, its block map,
 * the slab-page bits and the descriptor table stay as they are, and a slab's
 * page goes back to the heap as any other.  An allocation for node N takes a
 * slab of N's (partial, empty), else a new one on N while N has a free page;
 * not strict, then the other nodes' slabs nearest first (SLIT), a new slab
 * on the nearest node with a page, any slab.  Each node keeps up to
 * SLAB_KEEP_EMPTY empty slabs.  The per-CPU caches fill from their CPU's home
 * node (its node, or the nearest with memory: slab_cpu_t.node).  When the
 * PMM's topology changes (pmm_nodes_generation), the next slab call under
 * the lock reads every slab's node from its frame again and lists it anew
 * (slab_nodes_sync); objects already in per-CPU caches stay there and are
 * handed out as they are (a locality loss after a change, never a wrong
 * count).  One node: every slab on node 0, lists[0] alone, nothing moved.
 *
 * Debug build (MM_DEBUG) with the checks on: each object's stride ends in
 * a red zone of at least MM_REDZONE_MIN bytes (when one still fits the
 * page), and its record (size asked, call sites) sits in a table at the start
 * of the page, before object 0 (a debugging aid, checked before it is
 * believed: never used to decide what is free):
 *
 *   | heap hdr | dbg_rec_t[per_slab] | pad | obj 0 | rz | obj 1 | rz |...
 *
 * A freed object goes to debug.c's quarantine (still allocated in its slab's
 * map); what the quarantine lets go, debug.c hands back to whoever freed
 * into it, which gives it to slab_drain_quarantine here: a slab object back
 * to its slab, a block back to the heap (heap_release_block).
 *
 * This file: making a slab (slab_new: its page from the heap, moved to its
 * node, its objects constructed), choosing the slab an allocation takes from
 * (the nodes, a CPU's own slab), a per-CPU magazine's fill, and kmalloc's
 * size classes (slab_kmalloc, slab_kfree, slab_usable).  Below it,
 * slab_core.c: the descriptors, the lists, taking and returning an object,
 * releasing a slab, the per-CPU caches' flush and drain, the quarantine's
 * drain and the relief under memory pressure; this file calls it, never the
 * other way.  The public kmem_cache_* functions and the check are
 * kmem_cache.c's, the per-CPU fast path magazine.c's; what they share is
 * slab_priv.h.  Calls: slab_core.c, heap_alloc.c (pages), heap_region.c
 * (the page's node, heap_rehome), the PMM (nodes and their distances),
 * debug.c, log.c, string.c.
 *
 * Locking: mm_lock, held by every caller (kmem_cache.c's public functions,
 * kmalloc.c, magazine.c's fill, heap_init.c take it).
 */
#include "blockcache.h"
#include "log.h"
#include "pmm.h"
#include "slab_priv.h"

/* -------------------------------------------------- new slabs ---- */

/* A page for a slab of c and its descriptor's metadata page, or NULL (quiet). */
static slab_t *page_and_desc(const char *fn, void **page)
{
    *page = heap_slab_page_alloc(fn);
    slab_t *s = *page ? slab_desc_get((uintptr_t)*page) : NULL;
    if (*page && !s)
        heap_slab_page_free(*page); /* quiet, as heap_slab_page_alloc: kmalloc falls back */
    return s;
}

/*
 * A new slab of c on NUMA node `node` (a node, maybe | PMM_NODE_STRICT): its
 * page's frame moved there if it is elsewhere (heap_rehome), else (not
 * strict) on the nearest node with a free page.  NULL: no memory, or strict
 * and the node has no free page.
 */
static slab_t *slab_new(const char *fn, kmem_cache_t *c, int node)
{
    void *page;
    slab_t *s = page_and_desc(fn, &page);
    for (int step = 0; !s && step < SLAB_RELIEF_STEPS; step++) {
        if (slab_relieve(fn, step))
            s = page_and_desc(fn, &page);
    }
    if (!s && bc_drain_locked(0)) /* then the blocks the CPUs keep (blockcache.c) */
        s = page_and_desc(fn, &page);
    if (!s)
        return NULL;
    int at = slab_all.nodes > 1 ? heap_rehome(fn, (uintptr_t)page, node, HDR) : 0;
    if (at < 0) {
        heap_slab_page_free(page); /* quiet: the caller reports a strict allocation's failure */
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    __atomic_store_n(&s->node, (uint8_t)at, __ATOMIC_RELAXED);
    s->page = (uintptr_t)page;
    s->total = (uint16_t)c->per_slab;
    s->cache = c;
    if (c->per_slab % 32) /* the bits past the last object read as taken */
        s->map[map_words(c->per_slab) - 1] = ~0u << (c->per_slab % 32);
    /*
     * Build the objects before the slab is listed: a ctor may allocate, and an
     * allocation that fails reaps empty slabs; a listed half-built slab would
     * be reaped under us, or handed out to the ctor itself.
     */
    if (c->ctor) {
        s->building = 1;
        c->constructing = 1;
        for (unsigned i = 0; i < s->total; i++)
            c->ctor(slab_object(s, i));
        c->constructing = 0;
        s->building = 0;
        if (slab_all.nodes > 1) /* (a ctor's allocation may have seen the topology change) */
            __atomic_store_n(&s->node, (uint8_t)heap_page_node(s->page), __ATOMIC_RELAXED);
    }
    slab_list_push(c, s);
    c->slabs++;
    c->node_slabs[s->node]++;
    return s;
}

/*
 * Does a CPU other than `cpu` fill its magazine of c from s?  Or, `held`,
 * has another CPU filled from it last, which may still hold objects of it
 * (some are out): a CPU that moved on from a slab keeps the objects it took,
 * and frees them back into it.  Two CPUs on one slab would both write its
 * descriptor's cached marks (one cache line) on every kmalloc and kfree.
 */
static int slab_other_cpus(const kmem_cache_t *c, unsigned cpu, const slab_t *s, int held)
{
    if (held && s->inuse && s->filler && s->filler != cpu + 1)
        return 1;
    for (unsigned k = 0; k < MM_MAX_CPUS; k++) {
        if (k != cpu && c->cpu_slab[k] == s)
            return 1;
    }
    return 0;
}

/*
 * The first of the few slabs from s on (a list) that no CPU but `cpu` fills
 * from (and, `held`, none holds objects of: slab_other_cpus), or NULL.
 */
#define SLAB_OWN_LOOK 16
static slab_t *slab_unowned(const kmem_cache_t *c, unsigned cpu, slab_t *s, int held)
{
    for (unsigned k = 0; s && k < SLAB_OWN_LOOK; k++, s = s->next) {
        if (!slab_other_cpus(c, cpu, s, held))
            return s;
    }
    return NULL;
}

/* ------------------------------------------------------ nodes ---- */

/* Does node n have a free page now?  (Asked before a slab is made for it.) */
static int node_has_free(unsigned n)
{
    pmm_node_stats_t st;
    return pmm_get_node_stats((int)n, &st) == 0 && st.free_pages > 0;
}

/* Every node, nearest to `from` first (itself first; ties: the lower number): how many. */
static unsigned nodes_by_distance(unsigned from, uint8_t order[PMM_MAX_NODES])
{
    pmm_node_stats_t st;
    unsigned n = 0, nodes = slab_all.nodes ? slab_all.nodes : 1;
    order[n++] = (uint8_t)from;
    if (nodes <= 1 || pmm_get_node_stats((int)from, &st) < 0)
        return n;
    for (unsigned to = 0; to < nodes; to++) {
        if (to == from)
            continue;
        unsigned j = n++;
        while (j > 1 && st.distance[order[j - 1]] > st.distance[to]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (uint8_t)to;
    }
    return n;
}

/* The node whose objects CPU cpu's magazines hold: its own, or the nearest with memory. */
static unsigned home_node(unsigned cpu)
{
    if (slab_all.nodes <= 1)
        return 0;
    int own = pmm_cpu_node((int)cpu);
    uint8_t order[PMM_MAX_NODES];
    unsigned n = nodes_by_distance((unsigned)own, order);
    for (unsigned k = 0; k < n; k++) {
        pmm_node_stats_t st;
        if (pmm_get_node_stats(order[k], &st) == 0 && st.total_pages)
            return order[k];
    }
    return (unsigned)own;
}

void slab_nodes_sync(void)
{
    uint32_t gen = pmm_nodes_generation();
    if (gen == slab_all.node_gen)
        return;
    slab_all.node_gen = gen;
    int nodes = pmm_node_count();
    slab_all.nodes = nodes > 0 && nodes <= PMM_MAX_NODES ? (unsigned)nodes : 1;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++)
        __atomic_store_n(&slab_all.cpu[cpu].node, (uint8_t)home_node(cpu), __ATOMIC_RELAXED);
    for_each_cache(c)
    {
        memset(c->lists, 0, sizeof(c->lists));
        memset(c->node_slabs, 0, sizeof(c->node_slabs));
        memset(c->node_live, 0, sizeof(c->node_live));
        memset(c->cpu_slab, 0, sizeof(c->cpu_slab));
        c->empty_slabs = 0;
    }
    /* every slab listed again by the node of its frame (one being built: by slab_new after) */
    for (uintptr_t page = heap_slab_page_next(0); page; page = heap_slab_page_next(page + 1)) {
        slab_t *s = slab_desc_of(page);
        if (!s || slab_problem(page))
            continue; /* (slab_check reports a broken one) */
        __atomic_store_n(&s->node, (uint8_t)heap_page_node(page), __ATOMIC_RELAXED);
        s->cache->node_slabs[s->node]++;
        s->cache->node_live[s->node] += s->inuse;
        slab_list_push(s->cache, s);
    }
}

/* This CPU's home node (for PMM_NODE_ANY). */
static unsigned this_home(void)
{
    int cpu = glue_cpu_id();
    if ((unsigned)cpu < MM_MAX_CPUS)
        return slab_all.cpu[cpu].node;
    int n = pmm_cpu_node(cpu);
    return (unsigned)n < slab_all.nodes ? (unsigned)n : 0;
}

int slab_node_ok(const char *fn, int node)
{
    int n = pmm_node_count();
    if (node == PMM_NODE_ANY || (node >= 0 && (node & ~PMM_NODE_STRICT) < n))
        return 1;
    mm_report("%s: node %d: no such node (%d node%s; PMM_NODE_ANY, or a node maybe | "
              "PMM_NODE_STRICT)",
              fn, node, n, n == 1 ? "" : "s");
    return 0;
}

/*
 * A slab of node n's with room, or NULL: partial first.  For a CPU (cpu <
 * MM_MAX_CPUS) a partial one no other CPU holds objects of (slab_other_cpus),
 * else an empty one no other CPU fills from; NULL then makes a new slab
 * (slab_with_room), and only without a page for one does a CPU share
 * another's slab.
 */
static slab_t *node_pick(kmem_cache_t *c, unsigned n, unsigned cpu)
{
    if (cpu < MM_MAX_CPUS) {
        slab_t *s = slab_unowned(c, cpu, c->lists[n][SLAB_PARTIAL], 1);
        return s ? s : slab_unowned(c, cpu, c->lists[n][SLAB_EMPTY], 0);
    }
    return c->lists[n][SLAB_PARTIAL] ? c->lists[n][SLAB_PARTIAL] : c->lists[n][SLAB_EMPTY];
}

/*
 * A slab of c with room for an object on node `want` (strict: that node's
 * only), or NULL.  In order: a slab of that node (for CPU cpu < MM_MAX_CPUS:
 * one no other CPU fills from or holds objects of: node_pick), a new one on
 * it while it has a free page, one another CPU holds objects of;
 * then, not strict, the other nodes' slabs nearest first, a new slab on the
 * nearest node with a page, and last any node's slab (another CPU's too).
 */
static slab_t *slab_with_room(const char *fn, kmem_cache_t *c, unsigned want, int strict,
                              unsigned cpu)
{
    slab_t *s = node_pick(c, want, cpu);
    if (!s && (slab_all.nodes <= 1 || node_has_free(want)))
        s = slab_new(fn, c, (int)want | PMM_NODE_STRICT);
    if (!s && cpu < MM_MAX_CPUS) /* no page for one: a slab another CPU holds objects of */
        s = slab_unowned(c, cpu, c->lists[want][SLAB_PARTIAL], 0);
    if (s || strict)
        return s;
    uint8_t order[PMM_MAX_NODES];
    unsigned n = nodes_by_distance(want, order);
    for (unsigned k = 1; !s && k < n; k++)
        s = node_pick(c, order[k], cpu);
    if (!s && slab_all.nodes > 1)
        s = slab_new(fn, c, (int)want);
    /* (slab_new's relief may have emptied or released some) */
    for (unsigned k = 0; !s && k < n; k++)
        s = node_pick(c, order[k], MM_MAX_CPUS);
    return s;
}

/*
 * The slab CPU `cpu` fills from next, with room, or NULL: no memory.  Its
 * own while that has room and is on the CPU's home node; else another of
 * that node (slab_with_room).  What it takes becomes its own.
 */
static slab_t *slab_for_cpu(const char *fn, kmem_cache_t *c, unsigned cpu)
{
    unsigned home = slab_all.cpu[cpu].node;
    slab_t *s = c->cpu_slab[cpu];
    if (s && s->inuse < s->total && s->node == home)
        return s;
    s = slab_with_room(fn, c, home, 0, cpu);
    c->cpu_slab[cpu] = s;
    if (s) /* (read by the fast free without the lock: magazine.h's mag_give) */
        __atomic_store_n(&s->filler, (uint8_t)(cpu + 1), __ATOMIC_RELAXED);
    return s;
}

void *slab_cache_alloc_node(const char *fn, kmem_cache_t *c, int node)
{
    slab_nodes_sync();
    int strict = node != PMM_NODE_ANY && (node & PMM_NODE_STRICT);
    unsigned want = node == PMM_NODE_ANY ? this_home() : (unsigned)(node & ~PMM_NODE_STRICT);
    if (want >= slab_all.nodes)
        return NULL; /* (slab_node_ok said so; or the topology shrank under the caller) */
    slab_t *s = slab_with_room(fn, c, want, strict, MM_MAX_CPUS);
    void *obj = s ? slab_take_live(c, s) : NULL;
    c->allocs += obj != NULL;
    return obj;
}

void *slab_cache_alloc(const char *fn, kmem_cache_t *c)
{
    return slab_cache_alloc_node(fn, c, PMM_NODE_ANY);
}

/* ----------------------------------------- the per-CPU caches ---- */

void slab_mag_fill(const char *fn, kmem_cache_t *c, unsigned cpu, mag_t *m, unsigned n)
{
    slab_nodes_sync();
    while (m->n < n) {
        slab_t *from = slab_for_cpu(fn, c, cpu);
        if (!from)
            break;
        void *obj = slab_take_live(c, from);
        unsigned i;
        slab_t *s = slab_cached_object(c, obj, &i);
        if (slab_test_and_set(&s->cmap[i / 32], i % 32))
            continue; /* a racing double free of a stale pointer put it in its CPU's cache */
        m->obj[m->n++] = obj;
    }
    for (unsigned k = 0; k < m->n / 2; k++) { /* popped from the top: in address order */
        void *t = m->obj[k];
        m->obj[k] = m->obj[m->n - 1 - k];
        m->obj[m->n - 1 - k] = t;
    }
}

/* ---------------------------------------------------- kmalloc ---- */

void *slab_kmalloc(const char *fn, size_t size, size_t align)
{
    return slab_kmalloc_node(fn, size, align, PMM_NODE_ANY);
}

void *slab_kmalloc_node(const char *fn, size_t size, size_t align, int node)
{
    if (!slab_all.enabled || size > SLAB_KMALLOC_MAX || align > SLAB_KMALLOC_MAX)
        return NULL;
    unsigned k = slab_all.class_of[(size + 7) / 8];
    while (align > SLAB_MIN_ALIGN && k < slab_all.nclasses && slab_all.caches[k].stride % align)
        k++;
    if (k == slab_all.nclasses)
        return NULL;
    void *obj = slab_cache_alloc_node(fn, &slab_all.caches[k], node);
    if (obj && dbg_on())
        slab_arm_object(&slab_all.caches[k], obj, (uint32_t)size);
    return obj;
}

int slab_kfree(const char *fn, uintptr_t page, void *ptr)
{
    unsigned i;
    slab_t *s = slab_object_of(fn, NULL, page, ptr, &i);
    if (s && slab_quarantine_object(fn, s->cache, s, i)) {
        slab_drain_quarantine(fn, 0);
        return 1;
    }
    return s && slab_object_free(fn, s->cache, s, i);
}

size_t slab_usable(const char *fn, uintptr_t page, void *ptr)
{
    unsigned i;
    slab_t *s = slab_object_of(fn, NULL, page, ptr, &i);
    if (s && dbg_on())
        return dbg_user_size(slab_rec(s, i), s->cache->stride);
    return s ? s->cache->stride : 0;
}

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
 * This file: the descriptors, the slabs and their objects, kmalloc's size
 * classes, the quarantine drain.  The public kmem_cache_* functions and the
 * check are kmem_cache.c's; what both share is slab_priv.h.  Calls:
 * heap_alloc.c (pages), heap_region.c (the slab-page bitmap), blockmap.c
 * (metadata pages), debug.c, vmm.c, log.c, string.c.
 *
 * Locking: the glue lock, held by every caller (kmem_cache.c's public
 * functions, kmalloc.c, heap_init.c take it).
 */
#include "bits.h"
#include "blockmap.h"
#include "kmap.h"
#include "log.h"
#include "pmm.h"
#include "slab_priv.h"

static const uint16_t class_sizes[] = {8,   16,  24,  32,  40,  48,  56,  64,  72,  80,  88,  96,
                                       104, 112, 120, 128, 160, 192, 224, 256, 320, 384, 448, 512};
_Static_assert(sizeof(class_sizes) / sizeof(class_sizes[0]) == NCLASSES, "NCLASSES counts them");

slab_all_t slab_all;
static slab_desc_t early_desc[EARLY_PAGES]; /* the early heap's slabs */

/* ------------------------------------------------------------ helpers ---- */

/* Index of page in the metadata window's table, or -1 if it is not a virtual heap page. */
static long meta_index(uintptr_t page)
{
    uintptr_t base = slab_all.virtual_base;
    return base && page >= base && page - base < VIRTUAL_BYTES ? (long)((page - base) / PAGE_SIZE)
                                                               : -1;
}

/*
 * The descriptor of slab page `page` (one the heap marks as a slab), or NULL
 * if the page is in no heap region we know.
 */
slab_t *slab_desc_of(uintptr_t page)
{
    uintptr_t early = slab_all.early_base;
    if (page >= early && page - early < INITIAL_HEAP_SIZE)
        return &early_desc[(page - early) / PAGE_SIZE].s;
    long i = meta_index(page);
    return i < 0 ? NULL : &slab_all.meta_descs[i].s;
}

/* desc_of for a new slab: the metadata page under it mapped first.  NULL: no memory. */
static slab_t *desc_get(uintptr_t page)
{
    long i = meta_index(page);
    if (i >= 0) {
        if (mm_meta_page(MM_META_SLABS + (vaddr_t)i * SLAB_DESC_SIZE) < 0)
            return NULL;
    }
    return slab_desc_of(page);
}

int slab_meta_reserve(uintptr_t start, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += PAGE_SIZE / SLAB_DESC_SIZE * PAGE_SIZE) {
        if (!desc_get(start + off))
            return -1;
    }
    return bytes && !desc_get(start + bytes - PAGE_SIZE) ? -1 : 0;
}

/* Is c a live cache?  Checked before anything is read through a caller's pointer. */
int slab_cache_ok(const kmem_cache_t *c)
{
    uintptr_t a = (uintptr_t)c, lo = (uintptr_t)&slab_all.caches[0];
    if (a < lo || a >= (uintptr_t)&slab_all.caches[NCACHES] || (a - lo) % sizeof(kmem_cache_t))
        return 0;
    return c->magic == (CACHE_MAGIC ^ (uint32_t)a);
}

/*
 * Why the slab at page cannot be used, or NULL.  The descriptor is out of
 * every caller's reach: a problem here is the memory manager's own bug, or
 * a page being built.
 */
const char *slab_problem(uintptr_t page)
{
    slab_t *s = slab_desc_of(page);
    if (!s)
        return "slab page outside the heap's regions";
    if (s->building)
        return "slab is being built (its constructor is running)";
    if (!slab_cache_ok(s->cache))
        return "slab's cache is not a live cache";
    if (s->page != page || s->total != s->cache->per_slab || s->inuse > s->total ||
        s->hint >= map_words(s->total))
        return "slab descriptor fields out of range";
    return NULL;
}

/*
 * A slab's map words are read without the lock by the per-CPU caches' free
 * path (magazine.c), so every write here, under the lock, is one atomic
 * store: a racing reader sees the old word or the new one.
 */
static inline void map_store(uint32_t *w, uint32_t v)
{
    __atomic_store_n(w, v, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------- lists ---- */

/* List s by its state (a full slab goes on no list). */
static void list_push(kmem_cache_t *c, slab_t *s)
{
    int st = slab_state(s);
    s->prev = s->next = NULL;
    if (st == SLAB_FULL)
        return;
    slab_t **head = &c->lists[s->node][st];
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
    c->empty_slabs += st == SLAB_EMPTY;
}

/* Take s off the list of state `was`. */
static void list_del(kmem_cache_t *c, slab_t *s, int was)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->lists[s->node][was] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    c->empty_slabs -= was == SLAB_EMPTY;
}

/* s changed state from `was`: move it to its list. */
static void slab_moved(kmem_cache_t *c, slab_t *s, int was)
{
    if (slab_state(s) == was)
        return;
    if (was != SLAB_FULL)
        list_del(c, s, was);
    list_push(c, s);
}

/* ------------------------------------------------------------- slabs ---- */

/* A page for a slab of c and its descriptor's metadata page, or NULL (quiet). */
static slab_t *page_and_desc(const char *fn, void **page)
{
    *page = heap_slab_page_alloc(fn);
    slab_t *s = *page ? desc_get((uintptr_t)*page) : NULL;
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
    list_push(c, s);
    c->slabs++;
    c->node_slabs[s->node]++;
    return s;
}

static void slab_release(kmem_cache_t *c, slab_t *s)
{
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        if (c->cpu_slab[cpu] == s)
            c->cpu_slab[cpu] = NULL;
    }
    list_del(c, s, SLAB_EMPTY);
    c->slabs--;
    c->node_slabs[s->node]--;
    uintptr_t page = s->page;
    __atomic_store_n(&s->cache, NULL, __ATOMIC_RELAXED); /* the free path reads it unlocked */
    for (unsigned w = 0; w < SLAB_MAP_WORDS; w++)
        map_store(&s->map[w], 0);
    memset(s, 0, sizeof(*s));
    heap_slab_page_free((void *)page);
}

/* An object from s, which has room (its map and count are ours alone: they agree). */
static void *slab_take(kmem_cache_t *c, slab_t *s)
{
    unsigned words = map_words(s->total);
    unsigned w = s->hint;
    for (unsigned k = 0; k < words; k++) {
        uint32_t clear = ~s->map[w];
        if (clear) {
            unsigned bit = bits_lowest(clear);
            int was = slab_state(s);
            map_store(&s->map[w], s->map[w] | 1u << bit);
            s->hint = (uint16_t)w;
            s->inuse++;
            c->node_live[s->node]++;
            slab_moved(c, s, was);
            return slab_object(s, w * 32 + bit);
        }
        w = w + 1 == words ? 0 : w + 1;
    }
    glue_panic("slab_take: a slab with room has no clear bit: descriptor broken");
}

/* An object from s (which has room), counted live. */
static void *slab_take_live(kmem_cache_t *c, slab_t *s)
{
    void *obj = slab_take(c, s);
    if (++c->live > c->peak_live)
        c->peak_live = c->live;
    return obj;
}

/* Does a CPU other than `cpu` fill its magazine of c from s? */
static int slab_other_cpus(const kmem_cache_t *c, unsigned cpu, const slab_t *s)
{
    for (unsigned k = 0; k < MM_MAX_CPUS; k++) {
        if (k != cpu && c->cpu_slab[k] == s)
            return 1;
    }
    return 0;
}

/* The first of the few slabs from s on (a list) that no CPU but `cpu` fills from, or NULL. */
#define SLAB_OWN_LOOK 4
static slab_t *slab_unowned(const kmem_cache_t *c, unsigned cpu, slab_t *s)
{
    for (unsigned k = 0; s && k < SLAB_OWN_LOOK; k++, s = s->next) {
        if (!slab_other_cpus(c, cpu, s))
            return s;
    }
    return NULL;
}

/* ------------------------------------------------------------- nodes ---- */

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
        __atomic_store_n(&slab_all.cpu[cpu].node, home_node(cpu), __ATOMIC_RELAXED);
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
        list_push(s->cache, s);
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

/* A slab of node n's with room: partial first (no other CPU's if cpu < MM_MAX_CPUS), or NULL. */
static slab_t *node_pick(kmem_cache_t *c, unsigned n, unsigned cpu)
{
    if (cpu < MM_MAX_CPUS) {
        slab_t *s = slab_unowned(c, cpu, c->lists[n][SLAB_PARTIAL]);
        return s ? s : slab_unowned(c, cpu, c->lists[n][SLAB_EMPTY]);
    }
    return c->lists[n][SLAB_PARTIAL] ? c->lists[n][SLAB_PARTIAL] : c->lists[n][SLAB_EMPTY];
}

/*
 * A slab of c with room for an object on node `want` (strict: that node's
 * only), or NULL.  In order: a slab of that node (for CPU cpu < MM_MAX_CPUS:
 * one no other CPU fills from), a new one on it while it has a free page;
 * then, not strict, the other nodes' slabs nearest first, a new slab on the
 * nearest node with a page, and last any node's slab (another CPU's too).
 */
static slab_t *slab_with_room(const char *fn, kmem_cache_t *c, unsigned want, int strict,
                              unsigned cpu)
{
    slab_t *s = node_pick(c, want, cpu);
    if (!s && (slab_all.nodes <= 1 || node_has_free(want)))
        s = slab_new(fn, c, (int)want | PMM_NODE_STRICT);
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

/*
 * The slab and object index behind ptr in slab page `page`, or NULL after
 * reporting why ptr is not an allocated object.  want: the cache the caller
 * named (kmem_cache_free), or NULL (kfree: any cache).
 */
slab_t *slab_object_of(const char *fn, kmem_cache_t *want, uintptr_t page, void *ptr,
                       unsigned *index)
{
    const char *why = slab_problem(page);
    if (why) {
        mm_report("%s: %p: slab page %p cannot be used (%s): not freed", fn, ptr, (void *)page,
                  why);
        return NULL;
    }
    slab_t *s = slab_desc_of(page);
    kmem_cache_t *c = s->cache;
    uintptr_t off = (uintptr_t)ptr - page;
    if (off < c->first) {
        mm_report("%s: %p: points before the first object of slab %p (cache '%s')", fn, ptr,
                  (void *)page, c->name);
        return NULL;
    }
    unsigned i = slab_index(c, off);
    unsigned into = (unsigned)(off - c->first - (uintptr_t)i * c->stride);
    if (into) {
        mm_report("%s: %p: interior pointer, %u bytes into object %p of cache '%s' (%u bytes)", fn,
                  ptr, into, slab_object(s, i), c->name, (unsigned)c->size);
        return NULL;
    }
    if (!(s->map[i / 32] & (1u << (i % 32)))) {
        mm_report("%s: %p: double free (object of cache '%s' is already free)", fn, ptr, c->name);
        return NULL;
    }
    if (__atomic_load_n(&s->cmap[i / 32], __ATOMIC_RELAXED) & (1u << (i % 32))) {
        mm_report("%s: %p: double free (object of cache '%s' is already free, in a CPU's cache)",
                  fn, ptr, c->name);
        return NULL;
    }
    if (want && want != c) {
        mm_report("%s: %p: object of cache '%s', not of '%s': not freed", fn, ptr, c->name,
                  want->name);
        return NULL;
    }
    *index = i;
    return s;
}

/* Does node n of c keep more than SLAB_KEEP_EMPTY empty slabs? */
static int node_empties_over(const kmem_cache_t *c, unsigned n)
{
    unsigned k = 0;
    for (const slab_t *e = c->lists[n][SLAB_EMPTY]; e && k <= SLAB_KEEP_EMPTY; e = e->next)
        k++;
    return k > SLAB_KEEP_EMPTY;
}

/* Object i of s back into its slab (no caller's count). */
static void slab_in(kmem_cache_t *c, slab_t *s, unsigned i)
{
    int was = slab_state(s);
    map_store(&s->map[i / 32], s->map[i / 32] & ~(1u << (i % 32)));
    s->hint = (uint16_t)(i / 32);
    s->inuse--;
    c->node_live[s->node]--;
    c->live--;
    slab_moved(c, s, was);
    if (s->inuse == 0 && node_empties_over(c, s->node))
        slab_release(c, s);
}

int slab_object_free(const char *fn, kmem_cache_t *c, slab_t *s, unsigned i)
{
    /*
     * Claim the object's cached mark first (lock bts): a CPU's fast free of
     * the same pointer racing this one then finds it taken and goes the
     * shared way, which reports it, instead of slipping it into a magazine
     * between slab_object_of's look and the map bit's clearing here.
     */
    if (slab_test_and_set(&s->cmap[i / 32], i % 32)) {
        mm_report("%s: %p: double free (object of cache '%s' is already free, in a CPU's cache)",
                  fn, slab_object(s, i), c->name);
        return 0;
    }
    c->frees++;
    slab_in(c, s, i); /* the map bit clear: from here the fast path sees it free */
    __atomic_fetch_and(&s->cmap[i / 32], ~(1u << (i % 32)), __ATOMIC_RELAXED);
    return 1;
}

/* ------------------------------------------------- the per-CPU caches ---- */

/* The slab and index of obj, an object of c that the caches keep (trusted: ours). */
static slab_t *cached_object(const kmem_cache_t *c, const void *obj, unsigned *index)
{
    uintptr_t page = (uintptr_t)obj & ~(uintptr_t)(PAGE_SIZE - 1);
    slab_t *s = slab_desc_of(page);
    if (!s || s->cache != c)
        glue_panic("slab_mag_flush: a per-CPU cache holds what is not its cache's object");
    *index = slab_index(c, (uintptr_t)obj - page);
    return s;
}

void slab_mag_fill(const char *fn, kmem_cache_t *c, unsigned cpu, mag_t *m, unsigned n)
{
    slab_nodes_sync();
    while (m->n < n) {
        slab_t *from = slab_for_cpu(fn, c, cpu);
        if (!from)
            break;
        void *obj = slab_take_live(c, from);
        unsigned i;
        slab_t *s = cached_object(c, obj, &i);
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

void slab_mag_flush(kmem_cache_t *c, void *const *objs, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        unsigned i;
        slab_t *s = cached_object(c, objs[k], &i);
        slab_in(c, s, i); /* map bit first: a racing fast free sees it free or still cached */
        __atomic_fetch_and(&s->cmap[i / 32], ~(1u << (i % 32)), __ATOMIC_RELAXED);
    }
}

size_t slab_cpu_drain(kmem_cache_t *c, uint32_t held, uint32_t *busy)
{
    size_t moved = 0;
    uint32_t left = 0;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        slab_cpu_t *pc = &slab_all.cpu[cpu];
        int mine = (held >> cpu) & 1;
        uint32_t skip = NCACHES;
        if (!mine && !cpu_cache_trylock(pc)) {
            /*
             * This CPU, inside mm/ from its own fast path's fill or flush (a
             * ctor, a reclaim hook): that one magazine is in use, the others
             * hold still (any other holder of this lock waits for mm/'s).
             */
            if ((int)cpu != glue_cpu_id() || !mm_lock_held() || pc->busy_slot >= NCACHES) {
                left |= 1u << cpu;
                continue;
            }
            skip = pc->busy_slot;
            mine = 1;
            left |= 1u << cpu;
        }
        for (kmem_cache_t *k = c ? c : slab_all.caches; k < (c ? c + 1 : slab_all.caches + NCACHES);
             k++) {
            mag_t *m = &pc->mag[k - slab_all.caches];
            if (!m->n || (uint32_t)(k - slab_all.caches) == skip)
                continue;
            slab_mag_flush(k, m->obj, m->n);
            moved += m->n;
            m->n = 0;
        }
        if (!mine)
            cpu_cache_unlock(pc);
    }
    if (busy)
        *busy = left;
    return moved;
}

size_t slab_cache_shrink(kmem_cache_t *c)
{
    size_t n = 0;
    for (unsigned node = 0; node < PMM_MAX_NODES; node++) {
        while (c->lists[node][SLAB_EMPTY]) {
            slab_release(c, c->lists[node][SLAB_EMPTY]);
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------ for the heap ---- */

void slab_cache_init(kmem_cache_t *c, const char *name, uint32_t size, uint32_t align,
                     void (*ctor)(void *))
{
    memset(c, 0, sizeof(*c));
    c->magic = CACHE_MAGIC ^ (uint32_t)(uintptr_t)c;
    c->slot = (uint32_t)(c - slab_all.caches);
    size_t n = 0;
    while (name[n] && n < KMEM_CACHE_NAME_MAX - 1) {
        c->name[n] = name[n];
        n++;
    }
    c->name[n] = '\0';
    c->size = size;
    c->align = align;
    c->stride = (size + align - 1) & ~(align - 1);
    /* debug build, checks on: a red zone after every object, if the page still holds one */
    uint32_t rz = (size + MM_REDZONE_MIN + align - 1) & ~(align - 1);
    if (dbg_on() && rz + sizeof(dbg_rec_t) <= PAGE_SIZE - HDR)
        c->stride = rz;
    c->per_slab = (uint32_t)((PAGE_SIZE - HDR) / (c->stride + REC_SIZE));
    if (c->per_slab > SLAB_MAX_OBJS)
        c->per_slab = SLAB_MAX_OBJS;
    c->first = PAGE_SIZE - c->per_slab * c->stride;
    c->recip = (uint64_t)(0xFFFFFFFFu / c->stride) + 1; /* ceil(2^32 / stride), no 64-bit divide */
    c->ctor = ctor;
}

void slab_reset(void)
{
    memset(&slab_all, 0, sizeof(slab_all));
    memset(early_desc, 0, sizeof(early_desc));
    slab_all.early_base = (uintptr_t)glue_phys_to_virt(HEAP_START);
    /* the descriptors' pages go back: the old heap's slabs are forgotten */
    /* nothing if not mapped; one shootdown for what was */
    kmap_unmap_run("slab_reset", MM_META_SLABS, (MM_META_BLOCK_STARTS - MM_META_SLABS) / PAGE_SIZE,
                   PMM_OWNER_META);
    slab_all.next_slot = NCLASSES;
    slab_all.nodes = 1;
    slab_all.node_gen = pmm_nodes_generation() - 1; /* the nodes are read at the first slab */
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++)
        slab_all.cpu[cpu].busy_slot = NCACHES; /* no fill or flush under way */
    for (unsigned i = 0; i < NCLASSES; i++) {
        if (class_sizes[i] % SLAB_MIN_ALIGN)
            continue;
        kmem_cache_t *c = &slab_all.caches[slab_all.nclasses++];
        char name[KMEM_CACHE_NAME_MAX];
        mm_snprintf(name, sizeof(name), "kmalloc-%u", (unsigned)class_sizes[i]);
        slab_cache_init(c, name, class_sizes[i], SLAB_MIN_ALIGN, NULL);
        c->builtin = 1;
    }
    unsigned k = 0;
    for (unsigned n = 0; n <= SLAB_KMALLOC_MAX / 8; n++) {
        while (slab_all.caches[k].size < n * 8)
            k++;
        slab_all.class_of[n] = (uint8_t)k;
    }
}

void slab_enable(void)
{
    slab_all.enabled = 1;
    slab_all.virtual_base = (uintptr_t)glue_virt_to_ptr(HEAP_VIRTUAL_START);
    slab_all.meta_descs = glue_virt_to_ptr(MM_META_SLABS);
}

/* The record of obj, an allocated object of a sound slab. */
static dbg_rec_t *rec_of(const kmem_cache_t *c, const void *obj)
{
    uintptr_t page = heap_slab_page_of((uintptr_t)obj);
    unsigned i = slab_index(c, (uintptr_t)obj - page);
    return slab_rec(slab_desc_of(page), i);
}

/* A caller's new object (size bytes asked): red zone and record; filled unless constructed. */
void slab_arm_object(kmem_cache_t *c, void *obj, uint32_t size)
{
    dbg_arm(obj, size, c->stride, rec_of(c, obj), NULL, c->ctor == NULL);
}

/*
 * A caller frees object i of s: checked and quarantined (1), or 0: release
 * it now (a cache with a constructor: its objects must stay constructed).
 */
int slab_quarantine_object(const char *fn, kmem_cache_t *c, slab_t *s, unsigned i)
{
    return dbg_on() && dbg_free(fn, slab_object(s, i), c->stride, slab_rec(s, i), NULL, !c->ctor);
}

/* A slab object leaves quarantine: back to its slab (no hook, no count). */
static void release_object(const char *fn, uintptr_t page, void *ptr)
{
    unsigned i;
    slab_t *s = slab_object_of(fn, NULL, page, ptr, &i);
    if (s)
        slab_object_free(fn, s->cache, s, i);
}

uint32_t slab_drain_quarantine(const char *fn, int all)
{
    uint32_t n = 0;
    void *obj;
    while ((obj = dbg_evict(fn, all)) != NULL) {
        uintptr_t page = heap_slab_page_of((uintptr_t)obj);
        if (page)
            release_object(fn, page, obj);
        else
            heap_release_block(fn, obj);
        n++;
    }
    return n;
}

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

int slab_relieve(const char *fn, int step)
{
    if (step == 0)
        return dbg_on() && slab_drain_quarantine(fn, 1);
    return step == 1 && slab_reap_locked();
}

size_t slab_reap_locked(void)
{
    slab_cpu_drain(NULL, 0, NULL); /* what the CPUs keep first (those not busy) */
    size_t n = 0;
    for_each_cache(c) n += slab_cache_shrink(c);
    return n;
}

static void meta_trim(void);

void slab_meta_trim_locked(uint32_t held)
{
    /*
     * The per-CPU caches' free path reads descriptors without the lock
     * (holding its CPU's cache lock): unmap none while any CPU is there.
     */
    uint32_t got = cpu_cache_try_all(held);
    if ((held | got) == (uint32_t)((1ull << MM_MAX_CPUS) - 1))
        meta_trim();
    cpu_cache_unlock_set(got);
}

/* slab_meta_trim_locked, every CPU's cache lock held. */
static void meta_trim(void)
{
    for (vaddr_t v = MM_META_SLABS; v < MM_META_BLOCK_STARTS; v += PAGE_SIZE) {
        if (!kmap_phys(v))
            continue;
        vaddr_t heap_va = HEAP_VIRTUAL_START + (v - MM_META_SLABS) / SLAB_DESC_SIZE * PAGE_SIZE;
        unsigned k = 0;
        while (k < PAGE_SIZE / SLAB_DESC_SIZE && !kmap_phys(heap_va + k * PAGE_SIZE))
            k++;
        if (k == PAGE_SIZE / SLAB_DESC_SIZE) {
            kmap_unmap(
                "slab_meta_trim", v,
                PMM_OWNER_META); /* else it pins RAM between the runs the PMM could hand out */
        }
    }
}

/*
 * kmem_cache.c - the object caches' public functions: kmem_cache_create,
 * _alloc, _alloc_node, _free, _destroy, _shrink, _reap, _get_stats,
 * _node_stats, _cpu_objects, _dump, _check; and what the heap's reports ask
 * of the slabs (slab_check_locked, slab_describe, slab_totals,
 * slab_cpu_calls).
 *
 * kmem_cache_alloc and _free try this CPU's magazine first (magazine.h, no
 * shared lock).  Otherwise each public function takes mm_lock (those that
 * drain, count or check the per-CPU caches take every CPU's cache lock before
 * it: mag_lock_all), names itself for the reports (heap_enter, heap_leave)
 * and checks the caller's cache pointer against the table (slab_cache_ok)
 * before reading through it.  The debug build's hooks (heap_internal.h) arm a
 * new object and quarantine a freed one; what the quarantine lets go comes
 * back through slab_drain_quarantine.
 *
 * Owns nothing: the caches and the slabs are slab_core.c's (slab_all,
 * slab_priv.h).  Calls slab.c, slab_core.c, magazine.c, heap_region.c
 * (heap_trim_locked, the slab-page bitmap, a page's node), heap_block.c (the
 * name for the reports), debug.c, lock.c, log.c, string.c.
 */
#include "bits.h"
#include "blockcache.h"
#include "log.h"
#include "magazine.h"
#include "slab_priv.h"

/* What the CPUs' magazines say of c: objects kept, callers' allocations and frees served. */
static void cpu_counts(const kmem_cache_t *c, uint32_t *cached, uint32_t *allocs, uint32_t *frees)
{
    *cached = *allocs = *frees = 0;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        const mag_t *m = &slab_all.cpu[cpu].mag[c - slab_all.caches];
        *cached += m->n + slab_all.cpu[cpu].rmag[c - slab_all.caches].n;
        *allocs += m->allocs;
        *frees += m->frees;
    }
}

/* Objects of c that callers hold: out of the slabs, less those the CPUs keep. */
static uint32_t caller_live(const kmem_cache_t *c)
{
    uint32_t cached, allocs, frees;
    cpu_counts(c, &cached, &allocs, &frees);
    return c->live - cached;
}

void slab_describe(uintptr_t page, char *buf, size_t len)
{
    const char *why = slab_problem(page);
    if (why)
        mm_snprintf(buf, len, "CORRUPT (%s)", why);
    else {
        const slab_t *s = slab_desc_of(page);
        unsigned cached = 0;
        for (unsigned w = 0; w < SLAB_MAP_WORDS; w++)
            cached += bits_popcount(__atomic_load_n(&s->cmap[w], __ATOMIC_RELAXED));
        if (cached)
            mm_snprintf(buf, len, "%s %u/%u (%u in CPU caches)", s->cache->name, s->inuse - cached,
                        s->total, cached);
        else
            mm_snprintf(buf, len, "%s %u/%u", s->cache->name, s->inuse, s->total);
    }
}

/* (a NULL name still prints a suffix: "(cache '(null)')", as the line always said) */
#define check_failed(where, what, name) mm_check_failed(fn, where, what, (name) ? (name) : "(null)")

/* The map of s agrees with its count, and the bits past the last object read as taken. */
static const char *map_problem(const slab_t *s)
{
    unsigned words = map_words(s->total), set = 0;
    for (unsigned w = 0; w < words; w++)
        set += bits_popcount(s->map[w]);
    for (unsigned w = words; w < SLAB_MAP_WORDS; w++) {
        if (s->map[w])
            return "map bits set past the last word";
    }
    if (s->total % 32 && (~s->map[words - 1] >> (s->total % 32)))
        return "map bits past the last object are clear";
    if (set != s->inuse + words * 32 - s->total)
        return "slab map disagrees with its in-use count";
    return NULL;
}

/*
 * Two views that must agree: every slab page the heap marks (each sound, of
 * a live cache, its map matching its count), tallied per cache; and each
 * cache's lists and counters.
 */
/*
 * Every object the CPUs keep for c is an object of c marked cached, and the
 * slabs mark no more than that (with every CPU's cache lock held: exact).
 */
static int check_cpu_caches(const char *fn, kmem_cache_t *c, uint32_t marked)
{
    int errors = 0;
    uint32_t kept = 0;
    for (unsigned q = 0; q < 2 * MM_MAX_CPUS; q++) { /* each CPU's mag[], then its rmag[] */
        const slab_cpu_t *pc = &slab_all.cpu[q % MM_MAX_CPUS];
        const mag_t *m =
            q < MM_MAX_CPUS ? &pc->mag[c - slab_all.caches] : &pc->rmag[c - slab_all.caches];
        if (m->n > MAG_ROUNDS) {
            errors += check_failed(m, "per-CPU cache count out of range", c->name);
            continue;
        }
        kept += m->n;
        for (unsigned k = 0; k < m->n; k++) {
            uintptr_t obj = (uintptr_t)m->obj[k];
            uintptr_t page = heap_slab_page_of(obj);
            slab_t *s = page ? slab_desc_of(page) : NULL;
            unsigned i = 0;
            if (s && s->cache == c && obj - page >= c->first)
                i = slab_index(c, obj - page);
            if (!s || s->cache != c || obj - page < c->first ||
                obj - page - c->first != (uintptr_t)i * c->stride ||
                !(s->map[i / 32] & s->cmap[i / 32] & (1u << (i % 32)))) {
                errors += check_failed(m->obj[k], "per-CPU cache holds what is not a cached object",
                                       c->name);
            }
        }
    }
    if (kept != marked)
        errors += check_failed(c, "objects marked cached differ from those the CPUs keep", c->name);
    return errors;
}

int slab_check_locked(const char *fn, uint32_t held)
{
    int errors = 0;
    uint32_t own_seen[NCACHES] = {0}; /* bit n: CPU n's own slab of the cache was seen */
    slab_nodes_sync(); /* (the topology changed: each slab's node read from its frame again) */
    for (kmem_cache_t *c = slab_all.caches; c < slab_all.caches + NCACHES; c++) {
        if (c->magic && !slab_cache_ok(c))
            errors += check_failed(c, "cache slot's magic is not keyed by its address", "?");
        c->seen_slabs = c->seen_live = c->seen_partial = c->seen_empty = c->seen_cached = 0;
        memset(c->seen_node_slabs, 0, sizeof(c->seen_node_slabs));
        memset(c->seen_node_live, 0, sizeof(c->seen_node_live));
    }
    for (uintptr_t page = heap_slab_page_next(0); page; page = heap_slab_page_next(page + 1)) {
        slab_t *s = slab_desc_of(page);
        const char *why = slab_problem(page);
        if (s && s->building)
            continue; /* a constructor is running: the slab is in no count yet */
        if (why) {
            errors += check_failed((void *)page, why, "?");
            continue;
        }
        if ((why = map_problem(s)) != NULL) {
            errors += check_failed((void *)page, why, s->cache->name);
            continue;
        }
        kmem_cache_t *c = s->cache;
        if (s->node >= slab_all.nodes || s->node != heap_page_node(page)) {
            errors +=
                check_failed((void *)page, "slab's node is not the node of its frame", c->name);
            continue;
        }
        c->seen_node_slabs[s->node]++;
        c->seen_node_live[s->node] += s->inuse;
        for (unsigned w = 0; w < SLAB_MAP_WORDS; w++) {
            uint32_t cm = __atomic_load_n(&s->cmap[w], __ATOMIC_RELAXED);
            if (held == MAG_ALL && (cm & ~s->map[w])) {
                errors +=
                    check_failed((void *)page, "object marked cached is free in its slab", c->name);
            }
            c->seen_cached += bits_popcount(cm);
        }
        for (unsigned i = 0; dbg_on() && i < s->total; i++) {
            if (s->map[i / 32] & (1u << (i % 32)))
                errors += dbg_check_live(slab_object(s, i), c->stride, slab_rec(s, i), NULL);
        }
        for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++)
            own_seen[c - slab_all.caches] |= (uint32_t)(c->cpu_slab[cpu] == s) << cpu;
        c->seen_slabs++;
        c->seen_live += s->inuse;
        c->seen_partial += slab_state(s) == SLAB_PARTIAL;
        c->seen_empty += slab_state(s) == SLAB_EMPTY;
    }
    for_each_cache(c)
    {
        uint32_t listed[2] = {0, 0};
        for (unsigned node = 0; node < PMM_MAX_NODES; node++) {
            if (c->node_slabs[node] != c->seen_node_slabs[node] ||
                c->node_live[node] != c->seen_node_live[node])
                errors += check_failed(c, "cache's counts per node differ from its slabs", c->name);
            for (int st = SLAB_PARTIAL; st <= SLAB_EMPTY; st++) {
                slab_t *prev = NULL;
                uint32_t here = 0;
                for (slab_t *s = c->lists[node][st]; s; prev = s, s = s->next) {
                    if (heap_slab_page_of(s->page) != s->page || slab_desc_of(s->page) != s ||
                        s->cache != c) {
                        errors +=
                            check_failed(s, "list holds something that is not its slab", c->name);
                        break;
                    }
                    if (slab_state(s) != st)
                        errors += check_failed(s, "slab on the list of another state", c->name);
                    if (s->node != node)
                        errors += check_failed(s, "slab on the list of another node", c->name);
                    if (s->prev != prev)
                        errors += check_failed(s, "slab list back link is wrong", c->name);
                    if (++here > c->slabs) {
                        errors += check_failed(s, "slab list longer than the slab count", c->name);
                        break;
                    }
                }
                listed[st] += here;
            }
        }
        for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
            if (c->cpu_slab[cpu] && !((own_seen[c - slab_all.caches] >> cpu) & 1))
                errors += check_failed(c->cpu_slab[cpu],
                                       "a CPU fills from what is not a slab of its cache", c->name);
        }
        if (listed[SLAB_PARTIAL] != c->seen_partial || listed[SLAB_EMPTY] != c->seen_empty)
            errors += check_failed(c, "a partial or empty slab is missing from its list", c->name);
        if (c->seen_slabs != c->slabs || c->seen_live != c->live || c->seen_empty != c->empty_slabs)
            errors += check_failed(c, "cache counters differ from its slabs", c->name);
        if (held == MAG_ALL)
            errors += check_cpu_caches(fn, c, c->seen_cached);
    }
    return errors;
}

/* ------------------------------------------------------------- public ---- */

/*
 * A free slot of the cache table, searched round-robin from the one after
 * the last taken: a destroyed cache's slot is reused as late as possible, so
 * a stale pointer to it stays "not a cache" for as long as can be.
 */
static kmem_cache_t *cache_slot(void)
{
    for (unsigned k = 0; k < KMEM_CACHE_MAX; k++) {
        unsigned i = NCLASSES + (slab_all.next_slot - NCLASSES + k) % KMEM_CACHE_MAX;
        if (!slab_all.caches[i].magic) {
            slab_all.next_slot = i + 1 < NCACHES ? i + 1 : NCLASSES;
            return &slab_all.caches[i];
        }
    }
    return NULL;
}

kmem_cache_t *kmem_cache_create(const char *name, size_t size, size_t align,
                                void (*ctor)(void *obj))
{
    heap_call_t call = heap_enter("kmem_cache_create");
    kmem_cache_t *c = NULL;
    if (!name)
        name = "(unnamed)";
    if (size == 0 || size > KMEM_CACHE_MAX_OBJECT) {
        mm_report("kmem_cache_create: '%s': object size %lu: must be 1..%u bytes", name,
                  (unsigned long)size, (unsigned)KMEM_CACHE_MAX_OBJECT);
    } else if (align & (align - 1) || align > KMEM_CACHE_MAX_OBJECT) {
        mm_report("kmem_cache_create: '%s': alignment %lu: must be 0 or a power of two up to %u",
                  name, (unsigned long)align, (unsigned)KMEM_CACHE_MAX_OBJECT);
    } else if ((c = cache_slot()) == NULL) {
        mm_report("kmem_cache_create: '%s': all %u cache slots in use (KMEM_CACHE_MAX)", name,
                  (unsigned)KMEM_CACHE_MAX);
    } else {
        slab_cache_init(c, name, (uint32_t)size, align ? (uint32_t)align : SLAB_MIN_ALIGN, ctor);
    }
    heap_leave(call);
    return c;
}

static kmem_cache_t *checked_cache(const char *fn, kmem_cache_t *c);

/* A live cache whose ctor is not running (its own ctor may not alloc, shrink or destroy it). */
static kmem_cache_t *idle_cache(const char *fn, kmem_cache_t *c)
{
    if (!checked_cache(fn, c))
        return NULL;
    if (c->constructing) {
        mm_report("%s: %p: called from cache '%s''s own constructor: refused", fn, (void *)c,
                  c->name);
        return NULL;
    }
    return c;
}

/* The cache behind a caller's pointer, or NULL after reporting. */
static kmem_cache_t *checked_cache(const char *fn, kmem_cache_t *c)
{
    if (!slab_cache_ok(c)) {
        mm_report("%s: %p: not a cache (never created, or destroyed)", fn, (void *)c);
        return NULL;
    }
    return c;
}

static void *cache_alloc_at(kmem_cache_t *cache, const char *file, uint32_t line)
{
    void *fast = mag_cache_alloc(cache);
    if (fast)
        return fast;
    heap_call_t call = heap_enter("kmem_cache_alloc"); /* a new slab page comes from the heap */
    void *obj = NULL;
    dbg_site(file, line);
    if (idle_cache("kmem_cache_alloc", cache)) {
        obj = slab_cache_alloc("kmem_cache_alloc", cache);
        if (!obj) {
            mm_oom_failed();
            mm_oom_printf("kmem_cache_alloc: cache '%s': out of memory\n", cache->name);
        }
        if (obj && dbg_on())
            slab_arm_object(cache, obj, cache->size);
    }
    heap_leave(call);
    pmm_reclaim_deferred(); /* owed under pressure (pmm.h) */
    return obj;
}

/* kmem_cache_alloc_node: PMM_NODE_ANY is kmem_cache_alloc; a node the shared way, on it. */
static void *cache_alloc_node_at(kmem_cache_t *cache, int node, const char *file, uint32_t line)
{
    if (node == PMM_NODE_ANY)
        return cache_alloc_at(cache, file, line);
    heap_call_t call = heap_enter("kmem_cache_alloc_node");
    void *obj = NULL;
    dbg_site(file, line);
    if (idle_cache("kmem_cache_alloc_node", cache) && slab_node_ok("kmem_cache_alloc_node", node)) {
        obj = slab_cache_alloc_node("kmem_cache_alloc_node", cache, node);
        if (!obj) {
            mm_oom_failed();
            mm_oom_printf("kmem_cache_alloc_node: cache '%s': node %d%s: out of memory\n",
                          cache->name, node & ~PMM_NODE_STRICT,
                          node & PMM_NODE_STRICT ? " (strict)" : "");
        }
        if (obj && dbg_on())
            slab_arm_object(cache, obj, cache->size);
    }
    heap_leave(call);
    pmm_reclaim_deferred(); /* owed under pressure (pmm.h) */
    return obj;
}

static void cache_free_at(kmem_cache_t *cache, void *obj, const char *file, uint32_t line)
{
    if (!obj || mag_cache_free(cache, obj))
        return;
    heap_call_t call = heap_enter("kmem_cache_free");
    dbg_site(file, line);
    if (dbg_on() && dbg_quarantined("kmem_cache_free", obj)) {
        /* a double free, or a use after free: reported */
    } else if (checked_cache("kmem_cache_free", cache)) {
        uintptr_t page = heap_slab_page_of((uintptr_t)obj);
        unsigned i;
        slab_t *s;
        if (!page)
            mm_report("kmem_cache_free: %p: not an object of any cache (cache '%s')", obj,
                      cache->name);
        else if ((s = slab_object_of("kmem_cache_free", cache, page, obj, &i)) != NULL) {
            if (slab_quarantine_object("kmem_cache_free", cache, s, i))
                slab_drain_quarantine("kmem_cache_free", 0);
            else
                slab_object_free("kmem_cache_free", cache, s, i);
        }
    }
    heap_leave(call);
}

/* The real functions (in the debug build slab.h makes the names macros passing the call site). */
void *(kmem_cache_alloc)(kmem_cache_t *cache)
{
    return cache_alloc_at(cache, NULL, 0);
}

void(kmem_cache_free)(kmem_cache_t *cache, void *obj)
{
    cache_free_at(cache, obj, NULL, 0);
}

void *(kmem_cache_alloc_node)(kmem_cache_t *cache, int node)
{
    return cache_alloc_node_at(cache, node, NULL, 0);
}

#ifdef MM_DEBUG
void *kmem_cache_alloc_node_debug(kmem_cache_t *cache, int node, const char *file, uint32_t line)
{
    return cache_alloc_node_at(cache, node, file, line);
}

void *kmem_cache_alloc_debug(kmem_cache_t *cache, const char *file, uint32_t line)
{
    return cache_alloc_at(cache, file, line);
}

void kmem_cache_free_debug(kmem_cache_t *cache, void *obj, const char *file, uint32_t line)
{
    cache_free_at(cache, obj, file, line);
}
#endif

int kmem_cache_destroy(kmem_cache_t *cache)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags);
    heap_call_t call = heap_enter("kmem_cache_destroy");
    int result = -1;
    if (!idle_cache("kmem_cache_destroy", cache)) {
        /* reported */
    } else if ((void)slab_drain_quarantine("kmem_cache_destroy", 1),
               (void)slab_cpu_drain(cache, held, NULL), cache->builtin) {
        mm_report("kmem_cache_destroy: %p: '%s' is one of kmalloc's size classes: kept",
                  (void *)cache, cache->name);
    } else if (cache->live) {
        mm_report("kmem_cache_destroy: %p: cache '%s' still has %u live objects: not destroyed",
                  (void *)cache, cache->name, (unsigned)cache->live);
    } else {
        slab_cache_shrink(cache);
        if (cache->slabs) {
            mm_printf("kmem_cache_destroy: cache '%s': %u slabs could not be released: kept\n",
                      cache->name, (unsigned)cache->slabs);
        } else {
            /*
             * its magazines are empty (drained above, every CPU's cache lock
             * held); their counts go too, or the slot's next cache would
             * report this one's calls as its own
             */
            for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
                mag_t *m = &slab_all.cpu[cpu].mag[cache->slot];
                m->allocs = m->frees = 0;
            }
            __atomic_store_n(&cache->magic, 0, __ATOMIC_RELAXED);
            result = 0;
        }
    }
    heap_leave(call);
    mag_unlock_all(held, flags);
    return result;
}

size_t kmem_cache_shrink(kmem_cache_t *cache)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags);
    heap_call_t call = heap_enter("kmem_cache_shrink");
    size_t n = 0;
    if (idle_cache("kmem_cache_shrink", cache)) {
        uint32_t before = cache->slabs;
        slab_cpu_drain(cache, held, NULL); /* what the CPUs keep first */
        slab_cache_shrink(cache);
        n = before - cache->slabs;
    }
    heap_leave(call);
    mag_unlock_all(held, flags);
    return n;
}

size_t kmem_cache_reap(void)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags);
    heap_call_t call = heap_enter("kmem_cache_reap");
    size_t n = 0;
    for_each_cache(c) n += c->slabs;
    slab_cpu_drain(NULL, held, NULL); /* what the CPUs keep first: objects and blocks */
    bc_drain_locked(held);
    slab_reap_locked();
    for_each_cache(c) n -= c->slabs;
    heap_trim_locked();          /* and the pages they leave free at the heap's end go to the PMM */
    slab_meta_trim_locked(held); /* with the descriptors of those pages */
    if (held == MAG_ALL)
        heap_map_trim_locked(); /* and of the block map (no CPU can be reading it now) */
    heap_leave(call);
    mag_unlock_all(held, flags);
    return n;
}

int kmem_cache_get_stats(kmem_cache_t *cache, kmem_cache_stats_t *st)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags);
    heap_call_t call = heap_enter("kmem_cache_get_stats");
    int result = -1;
    if (!st) {
        mm_report("kmem_cache_get_stats: NULL stats pointer");
    } else if (checked_cache("kmem_cache_get_stats", cache)) {
        memcpy(st->name, cache->name, sizeof(st->name));
        st->object_size = cache->size;
        st->stride = cache->stride;
        st->align = cache->align;
        st->objects_per_slab = cache->per_slab;
        st->slabs = cache->slabs;
        st->empty_slabs = cache->empty_slabs;
        uint32_t cached, allocs, frees;
        cpu_counts(cache, &cached, &allocs, &frees);
        st->live = cache->live - cached;
        st->peak_live = cache->peak_live;
        st->allocs = cache->allocs + allocs;
        st->frees = cache->frees + frees;
        st->cpu_cached = cached;
        result = 0;
    }
    heap_leave(call);
    mag_unlock_all(held, flags);
    return result;
}

int kmem_cache_node_stats(kmem_cache_t *cache, int node, uint32_t *slabs, uint32_t *objects)
{
    heap_call_t call = heap_enter("kmem_cache_node_stats");
    int result = -1;
    if (!slabs || !objects) {
        mm_report("kmem_cache_node_stats: NULL slabs or objects pointer");
    } else if (checked_cache("kmem_cache_node_stats", cache)) {
        slab_nodes_sync();
        if (node < 0 || (unsigned)node >= slab_all.nodes) {
            mm_report("kmem_cache_node_stats: node %d: no such node (%u node%s)", node,
                      slab_all.nodes, slab_all.nodes == 1 ? "" : "s");
        } else {
            *slabs = cache->node_slabs[node];
            *objects = cache->node_live[node];
            result = 0;
        }
    }
    heap_leave(call);
    return result;
}

uint32_t kmem_cache_cpu_objects(int cpu)
{
    if (cpu < 0 || cpu >= MM_MAX_CPUS)
        return 0;
    glue_irqflags_t flags;
    slab_cpu_t *pc = &slab_all.cpu[cpu];
    uint32_t n = 0;
    flags = glue_irq_save();
    /*
     * Inside mm/ (a ctor, a reclaim hook) this CPU never waits for a cache
     * lock (magazine.c's lock order): its own is held by its own fill, or by
     * a CPU waiting for mm/'s lock.  A busy CPU's count is then read as it
     * is: this CPU's exact (its fill counts as it goes), another's a snapshot.
     */
    int locked = mm_lock_held() ? cpu_cache_trylock(pc) : (cpu_cache_lock(pc), 1);
    for (unsigned k = 0; k < NCACHES; k++)
        n += __atomic_load_n(&pc->mag[k].n, __ATOMIC_RELAXED) +
             __atomic_load_n(&pc->rmag[k].n, __ATOMIC_RELAXED);
    if (locked)
        cpu_cache_unlock(pc);
    glue_irq_restore(flags);
    return n;
}

void kmem_cache_dump(void)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags);
    heap_call_t call = heap_enter("kmem_cache_dump");
    slab_nodes_sync();
    unsigned nodes = slab_all.nodes;
    mm_printf("%-16s %8s %8s %6s %6s %6s %6s %6s%s\n", "cache", "live", "peak", "size", "stride",
              "/slab", "slabs", "cpu", nodes > 1 ? "  node:objects/slabs" : "");
    for_each_cache(c)
    {
        uint32_t cached, allocs, frees;
        cpu_counts(c, &cached, &allocs, &frees);
        if (c->builtin && !c->slabs && !c->allocs && !allocs)
            continue;
        mm_printf("%-16s %8u %8u %6u %6u %6u %6u %6u", c->name, (unsigned)(c->live - cached),
                  (unsigned)c->peak_live, (unsigned)c->size, (unsigned)c->stride,
                  (unsigned)c->per_slab, (unsigned)c->slabs, (unsigned)cached);
        for (unsigned n = 0; nodes > 1 && n < nodes; n++) /* (objects: out of the slabs) */
            mm_printf(" %u:%u/%u", n, (unsigned)c->node_live[n], (unsigned)c->node_slabs[n]);
        mm_printf("\n");
    }
    heap_leave(call);
    mag_unlock_all(held, flags);
}

int kmem_cache_check(void)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags);
    heap_call_t call = heap_enter("kmem_cache_check");
    int errors = slab_check_locked("kmem_cache_check", held);
    heap_leave(call);
    mag_unlock_all(held, flags);
    return errors;
}

void slab_totals(uint32_t *objects, uint32_t *pages, uint32_t *cached)
{
    *objects = *pages = *cached = 0;
    for_each_cache(c)
    {
        uint32_t kept = caller_live(c);
        *objects += kept;
        *cached += c->live - kept;
        *pages += c->slabs;
    }
}

void slab_cpu_calls(uint32_t *kmallocs, uint32_t *kfrees)
{
    /* kmalloc's classes take only kmalloc's and kfree's calls on the fast path (magazine.c) */
    *kmallocs = *kfrees = 0;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        for (unsigned k = 0; k < slab_all.nclasses; k++) {
            *kmallocs += slab_all.cpu[cpu].mag[k].allocs;
            *kfrees += slab_all.cpu[cpu].mag[k].frees;
        }
    }
}

/*
 * slab_core.c - the slabs themselves (slab.c draws their layout): descriptors
 * and the metadata pages under them, a cache's lists of partial and empty
 * slabs, taking an object from a slab and giving one back (slab_object_of
 * checks a caller's pointer: interior, double free, wrong cache), releasing
 * an empty slab to the heap, the per-CPU magazines' flush and drain, the
 * debug build's red zones and quarantine drain, the relief under memory
 * pressure (quarantine, then empty slabs: slab_relieve, slab_reap_locked),
 * and the set-up of kmalloc's size classes (slab_reset).
 *
 * Owns slab_all (the cache table, the per-CPU caches' state) and the early
 * heap's descriptors.  Calls: heap_alloc.c (a slab page back, a quarantined
 * block released), heap_region.c (the slab-page bitmap), blockmap.c
 * (metadata pages), kmap.c (unmapping them), pmm_node.c (the topology's
 * generation), debug.c, lock.c (is mm_lock held?), log.c, string.c; and
 * nothing of slab.c, kmem_cache.c or magazine.c, which call it.
 *
 * Locking: as slab.c (mm_lock held by every caller; the per-CPU caches'
 * free path reads the descriptors and maps without it: map_store).
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

/* ---------------------------------------------------- helpers ---- */

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
slab_t *slab_desc_get(uintptr_t page)
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
        if (!slab_desc_get(start + off))
            return -1;
    }
    return bytes && !slab_desc_get(start + bytes - PAGE_SIZE) ? -1 : 0;
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

/* ------------------------------------------------------ lists ---- */

/* List s by its state (a full slab goes on no list). */
void slab_list_push(kmem_cache_t *c, slab_t *s)
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
    slab_list_push(c, s);
}

/* ------------------------------------------ slabs and objects ---- */

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
void *slab_take_live(kmem_cache_t *c, slab_t *s)
{
    void *obj = slab_take(c, s);
    if (++c->live > c->peak_live)
        c->peak_live = c->live;
    return obj;
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

/* ----------------------------------------- the per-CPU caches ---- */

/* The slab and index of obj, an object of c that the caches keep (trusted: ours). */
slab_t *slab_cached_object(const kmem_cache_t *c, const void *obj, unsigned *index)
{
    uintptr_t page = (uintptr_t)obj & ~(uintptr_t)(PAGE_SIZE - 1);
    slab_t *s = slab_desc_of(page);
    if (!s || s->cache != c)
        glue_panic("slab_mag_flush: a per-CPU cache holds what is not its cache's object");
    *index = slab_index(c, (uintptr_t)obj - page);
    return s;
}

void slab_mag_flush(kmem_cache_t *c, void *const *objs, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        unsigned i;
        slab_t *s = slab_cached_object(c, objs[k], &i);
        slab_in(c, s, i); /* map bit first: a racing fast free sees it free or still cached */
        __atomic_fetch_and(&s->cmap[i / 32], ~(1u << (i % 32)), __ATOMIC_RELAXED);
    }
}

size_t slab_cpu_drain(kmem_cache_t *c, uint32_t held, uint32_t *busy)
{
    size_t moved = 0;
    uint32_t left = 0, got = cpu_cache_try_all(held);
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        slab_cpu_t *pc = &slab_all.cpu[cpu];
        uint32_t skip = NCACHES;
        if (!((held | got) >> cpu & 1)) {
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
            left |= 1u << cpu;
        }
        for (kmem_cache_t *k = c ? c : slab_all.caches; k < (c ? c + 1 : slab_all.caches + NCACHES);
             k++) {
            if ((uint32_t)(k - slab_all.caches) == skip)
                continue;
            for (mag_t *m = &pc->mag[k - slab_all.caches]; m; /* mag[], then rmag[] */
                 m = m == &pc->mag[k - slab_all.caches] ? &pc->rmag[k - slab_all.caches] : NULL) {
                slab_mag_flush(k, m->obj, m->n);
                moved += m->n;
                m->n = 0;
            }
        }
    }
    cpu_cache_unlock_set(got);
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

/* --------------------------------- set-up, quarantine, relief ---- */

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
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        slab_all.cpu[cpu].busy_slot = NCACHES; /* no fill or flush under way */
        slab_all.cpu[cpu].filler_key = (uint8_t)(cpu + 1);
    }
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
    for (unsigned n = 1; n <= SLAB_KMALLOC_MAX; n++) { /* (no classes laid out: none) */
        unsigned k = slab_all.class_of[(n + 7) / 8];
        __atomic_store_n(&slab_all.mag_class[n], k < slab_all.nclasses ? (uint8_t)(k + 1) : 0,
                         __ATOMIC_RELAXED);
    }
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

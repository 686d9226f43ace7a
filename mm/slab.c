/*
 * slab.c - object caches: kmem_cache_* and kmalloc's small size classes.
 *
 * Theory of operation
 * -------------------
 * A cache hands out objects of one size from slabs: one page each, taken
 * from the heap as an ordinary block (heap_slab_page_alloc).  The page holds
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
 *     allocation bitmap, set = allocated) is one 128-byte slot of a table
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
 * slabs stay, the rest go back to the heap at once; kmem_cache_reap (run by
 * the heap when it runs out of memory) gives back all of them.
 *
 * kmalloc's size classes (kmalloc-8 ... kmalloc-512, 16-byte steps on
 * x86_64 where malloc must align to 16) are caches like any other, built in.
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
 * map) and comes back through slab_release_object.
 *
 * Locking: the glue lock, taken by every public function; the *_locked and
 * slab_* functions of heap_internal.h expect it held.
 */
#include "blockmap.h"
#include "glue.h"
#include "heap_internal.h"
#include "log.h"
#include "memory.h"
#include "pmm.h"
#include "slab.h"
#include "vmm.h"

#define HDR HEAP_HEADER_SIZE

#define CACHE_MAGIC     0xCAC4E0DDu /* xor the cache's address */
#define SLAB_MAP_WORDS  16          /* at most 512 objects a slab */
#define SLAB_MAX_OBJS   (SLAB_MAP_WORDS * 32)
#define SLAB_KEEP_EMPTY 1
/* malloc's alignment: 8 on i386 (HEAP_ALIGN), 16 on x86_64 */
#define SLAB_MIN_ALIGN  (sizeof(void *) == 8 ? 16u : (unsigned)HEAP_ALIGN)

#define EARLY_PAGES   (INITIAL_HEAP_SIZE / PAGE_SIZE)
#define VIRTUAL_BYTES ((uint32_t)HEAP_VIRTUAL_END - HEAP_VIRTUAL_START + 1)

typedef struct slab {
    struct kmem_cache *cache; /* NULL: no slab here (never made, released) */
    struct slab *next, *prev; /* on the cache's list for the slab's state */
    uintptr_t page;           /* the page it describes */
    uint16_t inuse, total;    /* objects allocated / objects in the slab */
    uint16_t hint;            /* a map word that may have a clear bit */
    uint16_t building;        /* its ctor is running: on no list, in no count yet */
    uint32_t map[SLAB_MAP_WORDS];
} slab_t;

typedef union {
    slab_t s;
    char slot[SLAB_DESC_SIZE];
} slab_desc_t;

_Static_assert(sizeof(slab_t) <= SLAB_DESC_SIZE, "a slab descriptor fits its slot");
_Static_assert(PAGE_SIZE % SLAB_DESC_SIZE == 0, "no descriptor straddles two metadata pages");
_Static_assert((uint64_t)MM_META_BLOCK_STARTS - MM_META_SLABS >=
                   (uint64_t)VIRTUAL_BYTES / PAGE_SIZE * SLAB_DESC_SIZE,
               "the metadata window holds a descriptor for every page of the virtual heap");
_Static_assert(PAGE_SIZE - HDR >= KMEM_CACHE_MAX_OBJECT,
               "a slab must hold at least one of the largest objects");

enum { SLAB_PARTIAL, SLAB_EMPTY, SLAB_FULL }; /* the first two have lists */

struct kmem_cache {
    uint32_t magic; /* CACHE_MAGIC ^ its address; 0: a free slot */
    char name[KMEM_CACHE_NAME_MAX];
    uint32_t size, stride, align, per_slab, first;
    uint64_t recip; /* ceil(2^32 / stride): offset / stride without a divide */
    void (*ctor)(void *obj);
    slab_t *lists[2]; /* by state: partial, empty */
    uint32_t slabs, empty_slabs, live, peak_live, allocs, frees;
    uint32_t seen_slabs, seen_live, seen_partial, seen_empty; /* slab_check_locked's tally */
    int builtin;      /* a kmalloc size class: never destroyed */
    int constructing; /* its ctor is running on a new slab (which is on no list yet) */
};

#ifdef MM_DEBUG
/* kmem_cache_destroy: objects in quarantine still count as live; they go back first. */
#define MM_DBG_FLUSH() (dbg_on() ? dbg_flush_locked() : 0)
#else
#define MM_DBG_FLUSH() 0
#endif

static const uint16_t class_sizes[] = {8,   16,  24,  32,  40,  48,  56,  64,  72,  80,  88,  96,
                                       104, 112, 120, 128, 160, 192, 224, 256, 320, 384, 448, 512};
#define NCLASSES (sizeof(class_sizes) / sizeof(class_sizes[0]))
#define NCACHES  (NCLASSES + KMEM_CACHE_MAX)

static struct {
    /* every cache: kmalloc's classes in [0, nclasses), callers' in [NCLASSES, NCACHES) */
    kmem_cache_t caches[NCACHES];
    unsigned nclasses;  /* only those with stride % SLAB_MIN_ALIGN == 0 */
    unsigned next_slot; /* where kmem_cache_create looks first: a freed slot is reused last */
    uint8_t class_of[SLAB_KMALLOC_MAX / 8 + 1]; /* (size + 7) / 8 -> first class that fits */
    int enabled;                                /* kmalloc uses the classes (virtual heap up) */
    /* where the regions and the descriptor window are (glue_*_to_*, asked once) */
    uintptr_t early_base, virtual_base; /* virtual_base 0: no virtual heap yet */
    slab_desc_t *meta_descs;
} slab;

static slab_desc_t early_desc[EARLY_PAGES]; /* the early heap's slabs */

/* Every live cache, in table order. */
#define for_each_cache(c)                                                                          \
    for (kmem_cache_t *c = slab.caches; c < slab.caches + NCACHES; c++)                            \
        if (c->magic)

/* ------------------------------------------------------------ helpers ---- */

/* Index of page in the metadata window's table, or -1 if it is not a virtual heap page. */
static long meta_index(uintptr_t page)
{
    uintptr_t base = slab.virtual_base;
    return base && page >= base && page - base < VIRTUAL_BYTES ? (long)((page - base) / PAGE_SIZE)
                                                               : -1;
}

/*
 * The descriptor of slab page `page` (one the heap marks as a slab), or NULL
 * if the page is in no heap region we know.
 */
static slab_t *desc_of(uintptr_t page)
{
    uintptr_t early = slab.early_base;
    if (page >= early && page - early < INITIAL_HEAP_SIZE)
        return &early_desc[(page - early) / PAGE_SIZE].s;
    long i = meta_index(page);
    return i < 0 ? NULL : &slab.meta_descs[i].s;
}

/* desc_of for a new slab: the metadata page under it mapped first.  NULL: no memory. */
static slab_t *desc_get(uintptr_t page)
{
    long i = meta_index(page);
    if (i >= 0) {
        if (mm_meta_page(MM_META_SLABS + (vaddr_t)i * SLAB_DESC_SIZE) < 0)
            return NULL;
    }
    return desc_of(page);
}

int slab_meta_reserve(uintptr_t start, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 32 * PAGE_SIZE) {
        if (!desc_get(start + off))
            return -1;
    }
    return bytes && !desc_get(start + bytes - PAGE_SIZE) ? -1 : 0;
}

#ifdef MM_DEBUG
/* Object i's record: the table at the start of the page (debug build, checks on). */
static inline dbg_rec_t *slab_rec(const slab_t *s, unsigned i)
{
    return (dbg_rec_t *)(s->page + HDR) + i;
}

/* Bytes a slab needs per object besides its stride. */
#define REC_SIZE (dbg_on() ? sizeof(dbg_rec_t) : 0)
#else
#define REC_SIZE 0
#endif

static inline unsigned map_words(unsigned total)
{
    return (total + 31) / 32;
}

static inline void *slab_object(const slab_t *s, unsigned i)
{
    return (char *)s->page + s->cache->first + (size_t)i * s->cache->stride;
}

static int slab_state(const slab_t *s)
{
    return s->inuse == 0 ? SLAB_EMPTY : s->inuse == s->total ? SLAB_FULL : SLAB_PARTIAL;
}

/* Is c a live cache?  Checked before anything is read through a caller's pointer. */
static int cache_ok(const kmem_cache_t *c)
{
    uintptr_t a = (uintptr_t)c, lo = (uintptr_t)&slab.caches[0];
    if (a < lo || a >= (uintptr_t)&slab.caches[NCACHES] || (a - lo) % sizeof(kmem_cache_t))
        return 0;
    return c->magic == (CACHE_MAGIC ^ (uint32_t)a);
}

/*
 * Why the slab at page cannot be used, or NULL.  The descriptor is out of
 * every caller's reach: a problem here is the memory manager's own bug, or
 * a page being built.
 */
static const char *slab_problem(uintptr_t page)
{
    slab_t *s = desc_of(page);
    if (!s)
        return "slab page outside the heap's regions";
    if (s->building)
        return "slab is being built (its constructor is running)";
    if (!cache_ok(s->cache))
        return "slab's cache is not a live cache";
    if (s->page != page || s->total != s->cache->per_slab || s->inuse > s->total ||
        s->hint >= map_words(s->total))
        return "slab descriptor fields out of range";
    return NULL;
}

/* ------------------------------------------------------------- lists ---- */

/* List s by its state (a full slab goes on no list). */
static void list_push(kmem_cache_t *c, slab_t *s)
{
    int st = slab_state(s);
    s->prev = s->next = NULL;
    if (st == SLAB_FULL)
        return;
    slab_t **head = &c->lists[st];
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
        c->lists[was] = s->next;
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

static slab_t *slab_new(const char *fn, kmem_cache_t *c)
{
    void *page = heap_slab_page_alloc(fn);
    if (!page)
        return NULL;
    slab_t *s = desc_get((uintptr_t)page);
    if (!s) {
        /* quiet, as heap_slab_page_alloc: kmalloc falls back to a block */
        heap_slab_page_free(page);
        return NULL;
    }
    memset(s, 0, sizeof(*s));
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
    }
    list_push(c, s);
    c->slabs++;
    return s;
}

static void slab_release(kmem_cache_t *c, slab_t *s)
{
    list_del(c, s, SLAB_EMPTY);
    c->slabs--;
    uintptr_t page = s->page;
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
            unsigned bit = (unsigned)__builtin_ctz(clear);
            int was = slab_state(s);
            s->map[w] |= 1u << bit;
            s->hint = (uint16_t)w;
            s->inuse++;
            slab_moved(c, s, was);
            return slab_object(s, w * 32 + bit);
        }
        w = w + 1 == words ? 0 : w + 1;
    }
    glue_panic("slab_take: a slab with room has no clear bit: descriptor broken");
}

static void *cache_alloc_locked(const char *fn, kmem_cache_t *c)
{
    slab_t *s = c->lists[SLAB_PARTIAL] ? c->lists[SLAB_PARTIAL] : c->lists[SLAB_EMPTY];
    if (!s)
        s = slab_new(fn, c);
    if (!s)
        return NULL;
    void *obj = slab_take(c, s);
    c->allocs++;
    if (++c->live > c->peak_live)
        c->peak_live = c->live;
    return obj;
}

/*
 * The slab and object index behind ptr in slab page `page`, or NULL after
 * reporting why ptr is not an allocated object.  want: the cache the caller
 * named (kmem_cache_free), or NULL (kfree: any cache).
 */
static slab_t *object_of(const char *fn, kmem_cache_t *want, uintptr_t page, void *ptr,
                         unsigned *index)
{
    const char *why = slab_problem(page);
    if (why) {
        mm_report("%s: %p: slab page %p cannot be used (%s): not freed", fn, ptr, (void *)page,
                  why);
        return NULL;
    }
    slab_t *s = desc_of(page);
    kmem_cache_t *c = s->cache;
    uintptr_t off = (uintptr_t)ptr - page;
    if (off < c->first) {
        mm_report("%s: %p: points before the first object of slab %p (cache '%s')", fn, ptr,
                  (void *)page, c->name);
        return NULL;
    }
    unsigned i = (unsigned)(((uint64_t)(off - c->first) * c->recip) >> 32);
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
    if (want && want != c) {
        mm_report("%s: %p: object of cache '%s', not of '%s': not freed", fn, ptr, c->name,
                  want->name);
        return NULL;
    }
    *index = i;
    return s;
}

static void object_free(kmem_cache_t *c, slab_t *s, unsigned i)
{
    int was = slab_state(s);
    s->map[i / 32] &= ~(1u << (i % 32));
    s->hint = (uint16_t)(i / 32);
    s->inuse--;
    c->live--;
    c->frees++;
    slab_moved(c, s, was);
    if (s->inuse == 0 && c->empty_slabs > SLAB_KEEP_EMPTY)
        slab_release(c, s);
}

static size_t cache_shrink_locked(kmem_cache_t *c)
{
    size_t n = 0;
    while (c->lists[SLAB_EMPTY]) {
        slab_release(c, c->lists[SLAB_EMPTY]);
        n++;
    }
    return n;
}

/* ------------------------------------------------ for the heap ---- */

static void cache_init(kmem_cache_t *c, const char *name, uint32_t size, uint32_t align,
                       void (*ctor)(void *))
{
    memset(c, 0, sizeof(*c));
    c->magic = CACHE_MAGIC ^ (uint32_t)(uintptr_t)c;
    size_t n = 0;
    while (name[n] && n < KMEM_CACHE_NAME_MAX - 1) {
        c->name[n] = name[n];
        n++;
    }
    c->name[n] = '\0';
    c->size = size;
    c->align = align;
    c->stride = (size + align - 1) & ~(align - 1);
#ifdef MM_DEBUG
    /* a red zone after every object, if the page still holds one with it */
    uint32_t rz = (size + MM_REDZONE_MIN + align - 1) & ~(align - 1);
    if (dbg_on() && rz + sizeof(dbg_rec_t) <= PAGE_SIZE - HDR)
        c->stride = rz;
#endif
    c->per_slab = (uint32_t)((PAGE_SIZE - HDR) / (c->stride + REC_SIZE));
    if (c->per_slab > SLAB_MAX_OBJS)
        c->per_slab = SLAB_MAX_OBJS;
    c->first = PAGE_SIZE - c->per_slab * c->stride;
    c->recip = (uint64_t)(0xFFFFFFFFu / c->stride) + 1; /* ceil(2^32 / stride), no 64-bit divide */
    c->ctor = ctor;
}

void slab_reset(void)
{
    memset(&slab, 0, sizeof(slab));
    memset(early_desc, 0, sizeof(early_desc));
    slab.early_base = (uintptr_t)glue_phys_to_virt(HEAP_START);
    /* the descriptors' pages go back: the old heap's slabs are forgotten */
    for (vaddr_t v = MM_META_SLABS; v < MM_META_BLOCK_STARTS; v += PAGE_SIZE) {
        if (vmm_get_entry(v) & PAGE_PRESENT)
            vmm_meta_unmap(v);
    }
    slab.next_slot = NCLASSES;
    for (unsigned i = 0; i < NCLASSES; i++) {
        if (class_sizes[i] % SLAB_MIN_ALIGN)
            continue;
        kmem_cache_t *c = &slab.caches[slab.nclasses++];
        char name[KMEM_CACHE_NAME_MAX];
        mm_snprintf(name, sizeof(name), "kmalloc-%u", (unsigned)class_sizes[i]);
        cache_init(c, name, class_sizes[i], SLAB_MIN_ALIGN, NULL);
        c->builtin = 1;
    }
    unsigned k = 0;
    for (unsigned n = 0; n <= SLAB_KMALLOC_MAX / 8; n++) {
        while (slab.caches[k].size < n * 8)
            k++;
        slab.class_of[n] = (uint8_t)k;
    }
}

void slab_enable(void)
{
    slab.enabled = 1;
    slab.virtual_base = (uintptr_t)glue_virt_to_ptr(HEAP_VIRTUAL_START);
    slab.meta_descs = glue_virt_to_ptr(MM_META_SLABS);
}

#ifdef MM_DEBUG
/* The record of obj, an allocated object of a sound slab. */
static dbg_rec_t *rec_of(const kmem_cache_t *c, const void *obj)
{
    uintptr_t page = heap_slab_page_of((uintptr_t)obj);
    unsigned i = (unsigned)(((uint64_t)((uintptr_t)obj - page - c->first) * c->recip) >> 32);
    return slab_rec(desc_of(page), i);
}

/* A caller's new object (size bytes asked): red zone and record; filled unless constructed. */
static void arm_object(kmem_cache_t *c, void *obj, uint32_t size)
{
    dbg_arm(obj, size, c->stride, rec_of(c, obj), NULL, c->ctor == NULL);
}

/*
 * A caller frees object i of s: checked and quarantined (1), or 0: release
 * it now (a cache with a constructor: its objects must stay constructed).
 */
static int quarantine_object(const char *fn, kmem_cache_t *c, slab_t *s, unsigned i)
{
    return dbg_on() && dbg_free(fn, slab_object(s, i), c->stride, slab_rec(s, i), NULL, !c->ctor);
}

void slab_release_object(uintptr_t page, void *ptr)
{
    unsigned i;
    slab_t *s = object_of("kfree", NULL, page, ptr, &i);
    if (s)
        object_free(s->cache, s, i);
}
#endif

void *slab_kmalloc(size_t size, size_t align)
{
    if (!slab.enabled || size > SLAB_KMALLOC_MAX || align > SLAB_KMALLOC_MAX)
        return NULL;
    unsigned k = slab.class_of[(size + 7) / 8];
    while (align > SLAB_MIN_ALIGN && k < slab.nclasses && slab.caches[k].stride % align)
        k++;
    if (k == slab.nclasses)
        return NULL;
    void *obj = cache_alloc_locked("kmalloc", &slab.caches[k]);
#ifdef MM_DEBUG
    if (obj && dbg_on())
        arm_object(&slab.caches[k], obj, (uint32_t)size);
#endif
    return obj;
}

int slab_kfree(const char *fn, uintptr_t page, void *ptr)
{
    unsigned i;
    slab_t *s = object_of(fn, NULL, page, ptr, &i);
#ifdef MM_DEBUG
    if (s && quarantine_object(fn, s->cache, s, i))
        return 1;
#endif
    if (s)
        object_free(s->cache, s, i);
    return s != NULL;
}

size_t slab_usable(const char *fn, uintptr_t page, void *ptr)
{
    unsigned i;
    slab_t *s = object_of(fn, NULL, page, ptr, &i);
#ifdef MM_DEBUG
    if (s && dbg_on())
        return dbg_user_size(slab_rec(s, i), s->cache->stride);
#endif
    return s ? s->cache->stride : 0;
}

size_t slab_reap_locked(void)
{
    size_t n = 0;
    for_each_cache(c) n += cache_shrink_locked(c);
    return n;
}

void slab_describe(uintptr_t page, char *buf, size_t len)
{
    const char *why = slab_problem(page);
    if (why)
        mm_snprintf(buf, len, "CORRUPT (%s)", why);
    else
        mm_snprintf(buf, len, "%s %u/%u", desc_of(page)->cache->name, desc_of(page)->inuse,
                    desc_of(page)->total);
}

/* (a NULL name still prints a suffix: "(cache '(null)')", as the line always said) */
#define check_failed(where, what, name)                                                            \
    mm_check_failed("heap_check", where, what, (name) ? (name) : "(null)")

/* The map of s agrees with its count, and the bits past the last object read as taken. */
static const char *map_problem(const slab_t *s)
{
    unsigned words = map_words(s->total), set = 0;
    for (unsigned w = 0; w < words; w++)
        set += (unsigned)__builtin_popcount(s->map[w]);
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
int slab_check_locked(void)
{
    int errors = 0;
    for (kmem_cache_t *c = slab.caches; c < slab.caches + NCACHES; c++) {
        if (c->magic && !cache_ok(c))
            errors += check_failed(c, "cache slot's magic is not keyed by its address", "?");
        c->seen_slabs = c->seen_live = c->seen_partial = c->seen_empty = 0;
    }
    for (uintptr_t page = heap_slab_page_next(0); page; page = heap_slab_page_next(page + 1)) {
        slab_t *s = desc_of(page);
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
#ifdef MM_DEBUG
        for (unsigned i = 0; dbg_on() && i < s->total; i++) {
            if (s->map[i / 32] & (1u << (i % 32)))
                errors += dbg_check_live(slab_object(s, i), c->stride, slab_rec(s, i), NULL);
        }
#endif
        c->seen_slabs++;
        c->seen_live += s->inuse;
        c->seen_partial += slab_state(s) == SLAB_PARTIAL;
        c->seen_empty += slab_state(s) == SLAB_EMPTY;
    }
    for_each_cache(c)
    {
        uint32_t listed[2] = {0, 0};
        for (int st = SLAB_PARTIAL; st <= SLAB_EMPTY; st++) {
            slab_t *prev = NULL;
            for (slab_t *s = c->lists[st]; s; prev = s, s = s->next) {
                if (heap_slab_page_of(s->page) != s->page || desc_of(s->page) != s ||
                    s->cache != c) {
                    errors += check_failed(s, "list holds something that is not its slab", c->name);
                    break;
                }
                if (slab_state(s) != st)
                    errors += check_failed(s, "slab on the list of another state", c->name);
                if (s->prev != prev)
                    errors += check_failed(s, "slab list back link is wrong", c->name);
                if (++listed[st] > c->slabs) {
                    errors += check_failed(s, "slab list longer than the slab count", c->name);
                    break;
                }
            }
        }
        if (listed[SLAB_PARTIAL] != c->seen_partial || listed[SLAB_EMPTY] != c->seen_empty)
            errors += check_failed(c, "a partial or empty slab is missing from its list", c->name);
        if (c->seen_slabs != c->slabs || c->seen_live != c->live || c->seen_empty != c->empty_slabs)
            errors += check_failed(c, "cache counters differ from its slabs", c->name);
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
        unsigned i = NCLASSES + (slab.next_slot - NCLASSES + k) % KMEM_CACHE_MAX;
        if (!slab.caches[i].magic) {
            slab.next_slot = i + 1 < NCACHES ? i + 1 : NCLASSES;
            return &slab.caches[i];
        }
    }
    return NULL;
}

kmem_cache_t *kmem_cache_create(const char *name, size_t size, size_t align,
                                void (*ctor)(void *obj))
{
    glue_irqflags_t f = glue_lock();
    const char *api = heap_api_swap("kmem_cache_create");
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
        cache_init(c, name, (uint32_t)size, align ? (uint32_t)align : SLAB_MIN_ALIGN, ctor);
    }
    heap_api_swap(api);
    glue_unlock(f);
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
    if (!cache_ok(c)) {
        mm_report("%s: %p: not a cache (never created, or destroyed)", fn, (void *)c);
        return NULL;
    }
    return c;
}

static void *cache_alloc_at(kmem_cache_t *cache, const char *file, uint32_t line)
{
    glue_irqflags_t f = glue_lock();
    const char *api = heap_api_swap("kmem_cache_alloc"); /* a new slab page comes from the heap */
    void *obj = NULL;
#ifdef MM_DEBUG
    dbg_site(file, line);
#else
    (void)file, (void)line; /* call sites are the debug build's */
#endif
    if (idle_cache("kmem_cache_alloc", cache)) {
        obj = cache_alloc_locked("kmem_cache_alloc", cache);
        if (!obj)
            mm_printf("kmem_cache_alloc: cache '%s': out of memory\n", cache->name);
#ifdef MM_DEBUG
        if (obj && dbg_on())
            arm_object(cache, obj, cache->size);
#endif
    }
    heap_api_swap(api);
    glue_unlock(f);
    return obj;
}

static void cache_free_at(kmem_cache_t *cache, void *obj, const char *file, uint32_t line)
{
    if (!obj)
        return;
    glue_irqflags_t f = glue_lock();
#ifndef MM_DEBUG
    (void)file, (void)line;
#endif
#ifdef MM_DEBUG
    dbg_site(file, line);
    if (dbg_on() && dbg_quarantined("kmem_cache_free", obj)) {
        glue_unlock(f);
        return;
    }
#endif
    const char *api = heap_api_swap("kmem_cache_free");
    if (checked_cache("kmem_cache_free", cache)) {
        uintptr_t page = heap_slab_page_of((uintptr_t)obj);
        unsigned i;
        slab_t *s;
        if (!page)
            mm_report("kmem_cache_free: %p: not an object of any cache (cache '%s')", obj,
                      cache->name);
        else if ((s = object_of("kmem_cache_free", cache, page, obj, &i)) != NULL) {
#ifdef MM_DEBUG
            if (quarantine_object("kmem_cache_free", cache, s, i))
                s = NULL;
#endif
            if (s)
                object_free(cache, s, i);
        }
    }
    heap_api_swap(api);
    glue_unlock(f);
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

#ifdef MM_DEBUG
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
    glue_irqflags_t f = glue_lock();
    int result = -1;
    const char *api = heap_api_swap("kmem_cache_destroy");
    if (!idle_cache("kmem_cache_destroy", cache)) {
        /* reported */
    } else if ((void)MM_DBG_FLUSH(), cache->builtin) {
        mm_report("kmem_cache_destroy: %p: '%s' is one of kmalloc's size classes: kept",
                  (void *)cache, cache->name);
    } else if (cache->live) {
        mm_report("kmem_cache_destroy: %p: cache '%s' still has %u live objects: not destroyed",
                  (void *)cache, cache->name, (unsigned)cache->live);
    } else {
        cache_shrink_locked(cache);
        if (cache->slabs) {
            mm_printf("kmem_cache_destroy: cache '%s': %u slabs could not be released: kept\n",
                      cache->name, (unsigned)cache->slabs);
        } else {
            cache->magic = 0; /* the slot is free; the pointer is "not a cache" from now on */
            result = 0;
        }
    }
    heap_api_swap(api);
    glue_unlock(f);
    return result;
}

size_t kmem_cache_shrink(kmem_cache_t *cache)
{
    glue_irqflags_t f = glue_lock();
    const char *api = heap_api_swap("kmem_cache_shrink");
    size_t n = idle_cache("kmem_cache_shrink", cache) ? cache_shrink_locked(cache) : 0;
    heap_api_swap(api);
    glue_unlock(f);
    return n;
}

/* Metadata pages that describe no mapped heap page (the heap gave them back) go to the PMM. */
static void meta_trim_locked(void)
{
    for (vaddr_t v = MM_META_SLABS; v < MM_META_BLOCK_STARTS; v += PAGE_SIZE) {
        if (!(vmm_get_entry(v) & PAGE_PRESENT))
            continue;
        vaddr_t heap_va = HEAP_VIRTUAL_START + (v - MM_META_SLABS) / SLAB_DESC_SIZE * PAGE_SIZE;
        unsigned k = 0;
        while (k < PAGE_SIZE / SLAB_DESC_SIZE &&
               !(vmm_get_entry(heap_va + k * PAGE_SIZE) & PAGE_PRESENT))
            k++;
        if (k == PAGE_SIZE / SLAB_DESC_SIZE) {
            vmm_meta_unmap(v); /* else it pins RAM between the runs the PMM could hand out */
        }
    }
}

size_t kmem_cache_reap(void)
{
    glue_irqflags_t f = glue_lock();
    const char *api = heap_api_swap("kmem_cache_reap");
    size_t n = slab_reap_locked();
    heap_trim_locked(); /* and the pages they leave free at the heap's end go to the PMM */
    meta_trim_locked(); /* with the descriptors of those pages */
    heap_api_swap(api);
    glue_unlock(f);
    return n;
}

int kmem_cache_get_stats(kmem_cache_t *cache, kmem_cache_stats_t *st)
{
    glue_irqflags_t f = glue_lock();
    const char *api = heap_api_swap("kmem_cache_get_stats");
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
        st->live = cache->live;
        st->peak_live = cache->peak_live;
        st->allocs = cache->allocs;
        st->frees = cache->frees;
        result = 0;
    }
    heap_api_swap(api);
    glue_unlock(f);
    return result;
}

void kmem_cache_dump(void)
{
    glue_irqflags_t f = glue_lock();
    const char *api = heap_api_swap("kmem_cache_dump");
    mm_printf("%-16s %8s %8s %6s %6s %6s %6s\n", "cache", "live", "peak", "size", "stride", "/slab",
              "slabs");
    for_each_cache(c)
    {
        if (c->builtin && !c->slabs && !c->allocs)
            continue;
        mm_printf("%-16s %8u %8u %6u %6u %6u %6u\n", c->name, (unsigned)c->live,
                  (unsigned)c->peak_live, (unsigned)c->size, (unsigned)c->stride,
                  (unsigned)c->per_slab, (unsigned)c->slabs);
    }
    heap_api_swap(api);
    glue_unlock(f);
}

int kmem_cache_check(void)
{
    glue_irqflags_t f = glue_lock();
    const char *api = heap_api_swap("kmem_cache_check");
    int errors = slab_check_locked();
    heap_api_swap(api);
    glue_unlock(f);
    return errors;
}

void slab_totals(uint32_t *objects, uint32_t *pages)
{
    *objects = *pages = 0;
    for_each_cache(c)
    {
        *objects += c->live;
        *pages += c->slabs;
    }
}

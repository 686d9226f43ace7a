/*
 * heap.c - kmalloc / kfree / kcalloc / krealloc, statistics, dump and check.
 *
 * Theory of operation
 * -------------------
 * The heap is made of regions (Phase 1: one, the spec's 64 KB at HEAP_START).
 * A region is carved into blocks, each a heap_block_t header (HEAP_HEADER_SIZE,
 * 32 bytes on i386) followed by its payload:
 *
 *   region.start                                                   region.end
 *   | hdr | payload ...  | hdr | payload | hdr | payload ...            |
 *     ^ next/prev chain every block of the region in address order.
 *
 * Free blocks are also on doubly-linked free lists whose links live in the
 * first bytes of their payload (free_links_t), so kmalloc never walks
 * allocated blocks, and the minimum payload is MIN_PAYLOAD.  There is one
 * list per size class (two-level segregated fit, as TLSF: see TLSF_*
 * below), with bitmaps of the non-empty classes, so kmalloc and kfree take
 * bounded time: a good fit that measures within 2% of an exhaustive best fit
 * (make bench).  One exception, before kmalloc grows the heap or fails: a walk
 * of the request's own class (find_fit).
 *
 * The free-list links are the one thing a caller's overflow or write after
 * free can forge, so no link is followed or written through unchecked
 * (free_entry_ok, freelist_unlink); a forged list is rebuilt from the blocks.
 *
 * Invariants (heap_check verifies all of them):
 *   - magic is HEAP_MAGIC_FREE iff is_free, else HEAP_MAGIC_ALLOC;
 *   - size is a multiple of HEAP_ALIGN, >= MIN_PAYLOAD, inside the region;
 *   - b->next == the address right after b's payload, or NULL for the last
 *     block, which ends exactly at region.end; b->next->prev == b;
 *   - no two neighbours are both free (kfree coalesces at once);
 *   - the free lists hold exactly the free blocks of live regions, once each,
 *     each on the list of its size class, and the bitmaps agree;
 *   - the counters equal what a walk adds up.
 *
 * Caller bugs are checked cheaply on every kfree/krealloc (O(1): the header
 * and its neighbours' links); only when a check fails do we walk the region
 * to say what the pointer really is (interior pointer, smashed header...).
 * A header smashed by an overflow of the block before it is rebuilt from its
 * neighbours (the next block's prev link marks where it ends), so the heap
 * stays usable.  When a rebuilt block's state cannot be known for sure it is
 * taken as allocated: a leak, never memory handed out twice.
 *
 * Phase 2: heap_init_virtual() adds a region at HEAP_VIRTUAL_START whose
 * pages come from the PMM through the VMM.  It grows at its end when no free
 * block fits (at least HEAP_GROW_MIN at a time, up to HEAP_VIRTUAL_END) and
 * gives whole pages back when more than HEAP_SHRINK_MIN is free at its end.
 * The early region is then retired: its blocks stay valid and kfree-able,
 * but its free blocks are parked (counted, not on the free list), so new
 * allocations come from the virtual heap, as the spec says.
 *
 * Debug build (MM_DEBUG, mm_debug.h): with the checks on, a caller's block
 * is asked DBG_TAIL bytes bigger and armed by debug.c (red zones, record,
 * call site in the header's file/line); kfree hands it to debug.c's
 * quarantine, which gives it back later through heap_release_locked.
 * krealloc then always moves.  The heap's own blocks (slab pages) are never
 * armed.  Without MM_DEBUG none of this is compiled.
 *
 * Locking: every public function takes the glue lock once; the *_locked
 * helpers assume it is held.  The lock nests (the heap calls the VMM, which
 * calls the PMM).
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

_Static_assert(sizeof(void *) != 4 || HEAP_HEADER_SIZE == 32,
               "the spec promises a 32-byte block header on i386");
_Static_assert((HEAP_HEADER_SIZE % HEAP_BLOCK_ALIGN) == 0, "payloads must stay aligned");

typedef struct free_links {
    heap_block_t *next_free;
    heap_block_t *prev_free;
} free_links_t;

#define MIN_PAYLOAD ALIGN_8(sizeof(free_links_t))

/*
 * Size classes (two-level segregated fit, as TLSF): below TLSF_SMALL one
 * class per 8 bytes; above, each power of two [2^f, 2^(f+1)) is cut into
 * TLSF_SL_COUNT equal classes.  A bitmap of non-empty classes per level
 * makes "the first non-empty class at or above c" two find-first-set
 * instructions: kmalloc and kfree take bounded time whatever the heap holds.
 *
 *   size 0..127      fl 0, sl = size / 8
 *   size >= 128      fl = log2(size) - 6, sl = next 4 bits below the top bit
 *
 * Built with HEAP_FIRST_FIT or HEAP_BEST_FIT_SCAN (the fragmentation
 * benchmark only), every free block goes on one list, scanned first-fit or
 * best-fit, to compare placements on the same traces.
 */
#define TLSF_SL_LOG2  4
#define TLSF_SL_COUNT (1u << TLSF_SL_LOG2)
#define TLSF_SMALL    128u
#define TLSF_FL_COUNT 26 /* sizes below 2^31 */
#if defined(HEAP_FIRST_FIT) || defined(HEAP_BEST_FIT_SCAN)
#define HEAP_ONE_LIST 1
#endif
#define HEAP_MAX_REGIONS 4
/* Largest request we even try: keeps every size computation far from overflow. */
#define HEAP_MAX_REQUEST ((size_t)0x7FFFFFF0u)

#define HEAP_VIRTUAL_INITIAL (16 * PAGE_SIZE) /* mapped by heap_init_virtual */
#define HEAP_GROW_MIN        (16 * PAGE_SIZE) /* grow by at least 64 KB */
#define HEAP_SHRINK_SLACK    (16 * PAGE_SIZE) /* keep 64 KB free at the end */
#define HEAP_SHRINK_MIN      (64 * PAGE_SIZE) /* shrink only when 256 KB can go */
#define HEAP_SHRINK_STEP     (16 * PAGE_SIZE) /* a small kfree unmaps at most 64 KB */
#define HEAP_TRIM            0xFFFFFFFFu      /* heap_shrink's budget for heap_trim: all */
#define HEAP_VIRTUAL_LIMIT   ((uint32_t)HEAP_VIRTUAL_END - HEAP_VIRTUAL_START + 1)

typedef struct {
    uintptr_t start;
    uintptr_t end;
    heap_block_t *last; /* the block ending at `end` (needed to rebuild smashed headers) */
    int retired;        /* early region after heap_init_virtual: frees only */
    vaddr_t vbase;      /* growing region: kernel virtual address of `start` */
    uint32_t *slab_map; /* bit i: page i of the region is a slab (outside the heap's bytes) */
    uint32_t slab_pages;
    bmap_t map; /* every block's start and state, out of band (blockmap.h) */
} heap_region_t;

/* The regions' slab-page bitmaps: the early heap's, and the virtual heap's (8 KB). */
static uint32_t slab_map_early[(INITIAL_HEAP_SIZE / PAGE_SIZE + 31) / 32];
static uint32_t slab_map_virtual[HEAP_VIRTUAL_LIMIT / PAGE_SIZE / 32];
/* The early heap's block map (the virtual heap's is in the metadata window). */
#define EARLY_GRANULES (INITIAL_HEAP_SIZE / BMAP_GRANULE)
static uint32_t bmap_early_start[EARLY_GRANULES / 32], bmap_early_free[EARLY_GRANULES / 32];

static struct {
    heap_region_t regions[HEAP_MAX_REGIONS];
    int nregions;
    /* segregated free lists (TLSF): class (fl, sl), and bitmaps of the non-empty ones */
    heap_block_t *lists[TLSF_FL_COUNT][TLSF_SL_COUNT];
    uint32_t fl_map;
    uint32_t sl_map[TLSF_FL_COUNT];
    /* counters, kept exact on every operation and re-added by heap_check */
    uint32_t used, free, blocks, free_blocks;
    uint32_t peak_used, allocs, frees;
    uint32_t virtual_peak; /* most bytes the virtual region ever had mapped */
    uint32_t reserve;      /* heap_reserve: bytes the virtual region keeps mapped */
    int oom_reported;      /* print one "out of memory" per episode, not per call */
    /* a free block being released: a rebuild meanwhile must not list it (block_release) */
    heap_block_t *in_transit;
    const char *api; /* the public function running now: named in reports from deep inside */
} heap;

/* A public call begins: its name for the reports (and in the debug build, its call site). */
#ifdef MM_DEBUG
#define API(name, file, line) (heap.api = (name), dbg_site((file), (line)))
#else
#define API(name, file, line) (heap.api = (name), (void)(file), (void)(line))
#endif

/* ------------------------------------------------------------ helpers ---- */

static inline void *block_payload(heap_block_t *b)
{
    return (char *)b + HDR;
}

static inline heap_block_t *block_of(void *payload)
{
    return (heap_block_t *)((char *)payload - HDR);
}

static inline uintptr_t block_end(const heap_block_t *b)
{
    return (uintptr_t)b + HDR + b->size;
}

static inline free_links_t *block_links(heap_block_t *b)
{
    return (free_links_t *)block_payload(b);
}

static inline int magic_is_valid(uint32_t magic)
{
    return magic == HEAP_MAGIC_ALLOC || magic == HEAP_MAGIC_FREE;
}

static heap_region_t *region_of(uintptr_t addr)
{
    for (int i = 0; i < heap.nregions; i++) {
        if (addr >= heap.regions[i].start && addr < heap.regions[i].end)
            return &heap.regions[i];
    }
    return NULL;
}

/*
 * Is `b` a block header of region r?  The out-of-band map says, with no
 * arithmetic on the pointer that could wrap: a start bit is set only for a
 * real block, whose header and MIN_PAYLOAD bytes (its free-list links) lie
 * inside the region.
 */
static int block_addr_ok(const heap_region_t *r, const heap_block_t *b)
{
    return r && bmap_is_start(&r->map, (uintptr_t)b);
}

/*
 * Why b's header cannot be trusted, or NULL if it is consistent.  O(1): reads
 * b and its neighbours' links.  A neighbour whose own magic is gone is that
 * neighbour's problem, not b's: an overflow into the next block must not make
 * this one unfreeable.
 */
static const char *block_problem(const heap_region_t *r, heap_block_t *b)
{
    if (!block_addr_ok(r, b))
        return "not a block (the out-of-band map has no block there)";
    if (!magic_is_valid(b->magic))
        return "bad magic number";
    if (b->is_free != (b->magic == HEAP_MAGIC_FREE))
        return "is_free disagrees with the magic number";
    if (b->is_free != bmap_is_free(&r->map, (uintptr_t)b))
        return "state disagrees with the out-of-band map";
    /* b + HDR <= r->end (a real block): no subtraction below can wrap */
    if (b->size % HEAP_ALIGN || b->size < MIN_PAYLOAD || b->size > r->end - (uintptr_t)b - HDR)
        return "size out of range";
    if (b->next == NULL ? block_end(b) != r->end
                        : (uintptr_t)b->next != block_end(b) || !block_addr_ok(r, b->next))
        return "next link does not match the size";
    if (b->next && magic_is_valid(b->next->magic) && b->next->prev != b)
        return "next block does not link back";
    if (b->prev == NULL ? (uintptr_t)b != r->start
                        : !block_addr_ok(r, b->prev) || (uintptr_t)b->prev >= (uintptr_t)b)
        return "prev link out of range";
    if (b->prev && magic_is_valid(b->prev->magic) && b->prev->next != b)
        return "previous block does not link to it";
    return NULL;
}

/* ---------------------------------------------------------- free list ---- */

#ifndef HEAP_ONE_LIST
static inline unsigned fls32(uint32_t x)
{
    return 31u - (unsigned)__builtin_clz(x);
}
#endif

/* The class a free block of `size` bytes is listed in. */
static void size_class(size_t size, unsigned *fl, unsigned *sl)
{
#ifdef HEAP_ONE_LIST
    (void)size;
    *fl = *sl = 0;
#else
    if (size > HEAP_MAX_REQUEST) /* a forged size: never an index past the lists */
        size = HEAP_MAX_REQUEST;
    if (size < TLSF_SMALL) {
        *fl = 0;
        *sl = (unsigned)size / (TLSF_SMALL / TLSF_SL_COUNT);
    } else {
        unsigned f = fls32((uint32_t)size);
        *fl = f - 6;
        *sl = (unsigned)(size >> (f - TLSF_SL_LOG2)) ^ TLSF_SL_COUNT;
    }
#endif
}

static heap_block_t **list_of(heap_block_t *b)
{
    unsigned fl, sl;
    size_class(b->size, &fl, &sl);
    return &heap.lists[fl][sl];
}

static void freelist_link(heap_block_t *b)
{
    unsigned fl, sl;
    size_class(b->size, &fl, &sl);
    free_links_t *l = block_links(b);
    heap_block_t *head = heap.lists[fl][sl];
    l->prev_free = NULL;
    l->next_free = head;
    /*
     * The head's links are in band: written only where the block map says a
     * free block starts (a forged head is found and the list rebuilt at the
     * next unlink or walk).
     */
    heap_region_t *hr = head ? region_of((uintptr_t)head) : NULL;
    if (hr && bmap_is_free(&hr->map, (uintptr_t)head))
        block_links(head)->prev_free = b;
    heap.lists[fl][sl] = b;
    heap.sl_map[fl] |= 1u << sl;
    heap.fl_map |= 1u << fl;
}

static const char *block_problem(const heap_region_t *r, heap_block_t *b);

/*
 * A free-list entry we may follow or write through: a sound, free block
 * header of a live region, with its links inside the region.  The links live
 * in free payloads, so an overflow or a write after free can forge them: we
 * never follow one that fails this.
 */
static int free_entry_ok(heap_block_t *b)
{
    heap_region_t *r = region_of((uintptr_t)b);
    return r && !r->retired && bmap_is_free(&r->map, (uintptr_t)b) && b->magic == HEAP_MAGIC_FREE &&
           b->is_free == 1 && block_problem(r, b) == NULL;
}

/* Take b off the list, if its links and its neighbours' agree; else 0, nothing written. */
static int freelist_unlink(heap_block_t *b)
{
    free_links_t *l = block_links(b);
    heap_block_t *p = l->prev_free, *n = l->next_free;
    heap_block_t **head = list_of(b);
    if (p ? !free_entry_ok(p) || block_links(p)->next_free != b : *head != b)
        return 0;
    if (n && (!free_entry_ok(n) || block_links(n)->prev_free != b))
        return 0;
    if (p)
        block_links(p)->next_free = n;
    else
        *head = n;
    if (n)
        block_links(n)->prev_free = p;
    if (!*head) {
        unsigned fl, sl;
        size_class(b->size, &fl, &sl);
        heap.sl_map[fl] &= ~(1u << sl);
        if (!heap.sl_map[fl])
            heap.fl_map &= ~(1u << fl);
    }
    return 1;
}

static void freelist_rebuild(const char *fn, const void *where, heap_block_t *skip);
static int span_ok(const heap_region_t *r, const heap_block_t *b, size_t bytes);
static void span_repair(const char *fn, heap_block_t *b);

/* A free block joins the counters, and the free list unless its region is retired. */
static void free_add(heap_region_t *r, heap_block_t *b)
{
    if (!r->retired)
        freelist_link(b);
    heap.free += b->size;
    heap.free_blocks++;
}

/*
 * b leaves the free list and the counters.  If the list around b was
 * scribbled on, the whole list is rebuilt from the blocks, without b.
 */
static void free_del(heap_region_t *r, heap_block_t *b)
{
    if (!r->retired && !freelist_unlink(b)) {
        freelist_rebuild(heap.api, block_payload(b), b);
        return; /* the rebuild counted everything but b */
    }
    heap.free -= b->size;
    heap.free_blocks--;
}

static uint32_t freelist_bound(void);

/* ------------------------------------------------------ block surgery ---- */

/* b's state, in its header and in the region's out-of-band map. */
static void block_set_state(heap_region_t *r, heap_block_t *b, int is_free)
{
    b->magic = is_free ? HEAP_MAGIC_FREE : HEAP_MAGIC_ALLOC;
    b->is_free = is_free;
    bmap_set(&r->map, (uintptr_t)b, is_free);
}

/*
 * Cut b down to `need` payload bytes; the rest becomes a new block (returned,
 * state not set, on no list) if it can hold a header and MIN_PAYLOAD.
 */
static heap_block_t *block_split(heap_region_t *r, heap_block_t *b, size_t need)
{
    if (b->size < need + HDR + MIN_PAYLOAD)
        return NULL;
    heap_block_t *rest = (heap_block_t *)((uintptr_t)b + HDR + need);
    rest->size = b->size - need - HDR;
    rest->next = b->next;
    rest->prev = b;
    rest->file = NULL;
    rest->line = 0;
    bmap_set(&r->map, (uintptr_t)rest, 0);
    if (b->next)
        b->next->prev = rest;
    else
        r->last = rest;
    b->next = rest;
    b->size = need;
    heap.blocks++;
    return rest;
}

/* b swallows its next neighbour (already off the free list). */
static void block_merge_next(heap_region_t *r, heap_block_t *b)
{
    heap_block_t *n = b->next;
    b->size += HDR + n->size;
    b->next = n->next;
    if (n->next)
        n->next->prev = b;
    else
        r->last = b;
    /*
     * n's header stays behind with HEAP_MAGIC_FREE, so a late kfree(n) reads
     * as a double free; the map no longer has a block there.
     */
    n->prev = NULL;
    bmap_clear(&r->map, (uintptr_t)n);
    heap.blocks--;
}

/* The block after b by the map (NULL: b is the last), and the one before (NULL: the first). */
static heap_block_t *map_next(const heap_region_t *r, const heap_block_t *b)
{
    uintptr_t n = bmap_first_start(&r->map, (uintptr_t)b + BMAP_GRANULE, r->end);
    return n == r->end ? NULL : (heap_block_t *)n;
}

static heap_block_t *map_prev(const heap_region_t *r, const heap_block_t *b)
{
    return (uintptr_t)b == r->start
               ? NULL
               : (heap_block_t *)bmap_start_at_or_below(&r->map, (uintptr_t)b - BMAP_GRANULE);
}

/*
 * Rewrite the header of b (a block by the map) from the out-of-band map: its
 * end is the next block's start, its neighbours and its state are the map's.
 * Exact, whatever was written over the header.  Returns 0 if the map has no
 * block at b (then nothing is written).
 */
static int block_rebuild(heap_region_t *r, heap_block_t *b)
{
    if (!block_addr_ok(r, b))
        return 0;
    heap_block_t *next = map_next(r, b);
    b->size = (next ? (uintptr_t)next : r->end) - (uintptr_t)b - HDR;
    b->next = next;
    b->prev = map_prev(r, b);
    b->file = NULL;
    b->line = 0;
    int is_free = bmap_is_free(&r->map, (uintptr_t)b);
    b->magic = is_free ? HEAP_MAGIC_FREE : HEAP_MAGIC_ALLOC;
    b->is_free = is_free;
    if (!next)
        r->last = b;
    return 1;
}

/*
 * b->next, about to be merged with b: usable only if its header is sound.  A
 * smashed one (b overflowed into it) is reported and rebuilt from the map.
 */
static int next_ok(const char *fn, heap_region_t *r, heap_block_t *b)
{
    heap_block_t *n = b->next;
    if (block_problem(r, n) == NULL)
        return 1;
    uint32_t magic = n->magic;
    int rebuilt = block_rebuild(r, n);
    mm_report("%s: %p: header of the next block %p smashed (magic 0x%08x): overflow of %p?%s", fn,
              block_payload(b), (void *)n, magic, block_payload(b),
              rebuilt ? " (rebuilt from the block map)" : " (left alone)");
    return rebuilt && block_problem(r, n) == NULL;
}

/*
 * The region's last block, checked: r->last is a stored pointer (heap_grow
 * and heap_shrink change the block at the region's end through it), so it is
 * believed only if the map agrees and its header is sound; else both are
 * put right from the map.
 */
static heap_block_t *region_last(const char *fn, heap_region_t *r)
{
    heap_block_t *last = r->last;
    if (block_addr_ok(r, last) && block_problem(r, last) == NULL && last->next == NULL)
        return last;
    heap_block_t *real = (heap_block_t *)bmap_start_at_or_below(&r->map, r->end - BMAP_GRANULE);
    if (!block_addr_ok(r, real) || !block_rebuild(r, real))
        glue_panic("region_last: the block map has no block at the region's end");
    mm_report("%s: %p: header of the heap's last block smashed (overflow of the block before "
              "it?): rebuilt from the block map",
              fn, block_payload(real));
    return real;
}

/* b (marked free, on no list, not in `used`) joins its free neighbours and the free list. */
static void block_release(const char *fn, heap_region_t *r, heap_block_t *b)
{
    heap.in_transit = b;
    heap_block_t *n = b->next;
    if (n && next_ok(fn, r, b) && n->is_free) {
        free_del(r, n);
        block_merge_next(r, b);
    }
    heap_block_t *p = b->prev, *real = map_prev(r, b);
    if (p != real) {
        mm_report("%s: %p: its prev link %p is corrupted: repaired from the block map", fn,
                  block_payload(b), (void *)p);
        b->prev = p = real;
    }
    const char *why = p ? block_problem(r, p) : NULL;
    if (why) {
        block_rebuild(r, p);
        mm_report("%s: %p: header of the previous block %p smashed (%s): rebuilt from the "
                  "block map",
                  fn, block_payload(b), block_payload(p), why);
    }
    if (p && block_problem(r, p) == NULL && p->is_free) {
        free_del(r, p);
        block_merge_next(r, p);
        b = p;
    }
    heap.in_transit = NULL;
    free_add(r, b);
}

/* ------------------------------------------------- pointer validation ---- */

/*
 * Slow path, only after a cheap check failed: say what `ptr` really is, from
 * the out-of-band map, and report it.  If ptr is the payload of an allocated
 * block whose header was smashed, the header is rebuilt and the block
 * returned (the operation may then go on).
 */
/* Does b's header say exactly what the map says (so any trouble is a neighbour's)? */
static int header_matches_map(const heap_region_t *r, heap_block_t *b)
{
    heap_block_t *next = map_next(r, b);
    int is_free = bmap_is_free(&r->map, (uintptr_t)b);
    return b->magic == (is_free ? HEAP_MAGIC_FREE : HEAP_MAGIC_ALLOC) && b->is_free == is_free &&
           b->next == next && b->prev == map_prev(r, b) &&
           b->size == (next ? (uintptr_t)next : r->end) - (uintptr_t)b - HDR;
}

static heap_block_t *diagnose(const char *fn, heap_region_t *r, void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    heap_block_t *own = p - r->start >= HDR ? block_of(ptr) : NULL;
    if (own && block_addr_ok(r, own)) {
        int is_free = bmap_is_free(&r->map, (uintptr_t)own);
        if (header_matches_map(r, own)) {
            /* own is sound: a neighbour's header is what an overflow smashed */
            heap_block_t *n = map_next(r, own), *q = map_prev(r, own);
            heap_block_t *bad = n && !header_matches_map(r, n) ? n : q;
            block_rebuild(r, bad);
            mm_report("%s: %p: header of the %s block %p smashed: rebuilt from the block map", fn,
                      ptr, bad == n ? "next" : "previous", block_payload(bad));
        } else {
            block_rebuild(r, own);
            mm_report("%s: %p: block header smashed (overflow of the block before it?): rebuilt "
                      "from the block map%s",
                      fn, ptr, is_free ? "; the block is free: double free" : "");
        }
        return is_free || block_problem(r, own) ? NULL : own;
    }
    heap_block_t *b = (heap_block_t *)bmap_start_at_or_below(&r->map, p);
    if (!b) {
        mm_report("%s: %p: not a block of this heap", fn, ptr);
        return NULL;
    }
    heap_block_t *next = map_next(r, b);
    uintptr_t end = next ? (uintptr_t)next : r->end;
    int is_free = bmap_is_free(&r->map, (uintptr_t)b);
    if (p < (uintptr_t)block_payload(b)) {
        mm_report("%s: %p: points into the header of block %p", fn, ptr, block_payload(b));
    } else if (is_free && own && (uintptr_t)own % BMAP_GRANULE == 0 &&
               own->magic == HEAP_MAGIC_FREE && own->prev == NULL) {
        /* the header block_merge_next leaves behind: a block freed and merged */
        mm_report("%s: %p: double free (block is already free, merged into free block %p)", fn, ptr,
                  block_payload(b));
    } else {
        mm_report("%s: %p: interior pointer, %u bytes into %s block %p (%u bytes)", fn, ptr,
                  (unsigned)(p - (uintptr_t)block_payload(b)), is_free ? "free" : "allocated",
                  block_payload(b), (unsigned)(end - (uintptr_t)block_payload(b)));
    }
    return NULL;
}

/*
 * The allocated block behind ptr, or NULL after reporting why ptr cannot be
 * freed/resized.  O(1) unless something is wrong.
 */
static heap_block_t *checked_block(const char *fn, void *ptr, heap_region_t **rp)
{
    uintptr_t p = (uintptr_t)ptr;
    heap_region_t *r = region_of(p);
    if (!r) {
        mm_report("%s: %p: not a heap pointer (outside the heap)", fn, ptr);
        return NULL;
    }
    *rp = r;
    if (p - r->start < HDR || p % HEAP_ALIGN || !block_addr_ok(r, block_of(ptr)))
        return diagnose(fn, r, ptr);
    heap_block_t *b = block_of(ptr);
    if (bmap_is_free(&r->map, (uintptr_t)b)) {
        mm_report("%s: %p: double free (block is already free)", fn, ptr);
        return NULL;
    }
    if (b->magic != HEAP_MAGIC_ALLOC || block_problem(r, b) != NULL)
        return diagnose(fn, r, ptr);
    if (!span_ok(r, b, b->size)) {
        span_repair(fn, b);
        if (b->is_free || block_problem(r, b) != NULL)
            return NULL;
    }
    return b;
}

/* -------------------------------------------------------- allocation ---- */

/* Payload size for a request, or 0 if the request can never be met. */
static size_t request_size(size_t size)
{
    if (size == 0 || size > HEAP_MAX_REQUEST)
        return 0;
    size = (size + HEAP_BLOCK_ALIGN - 1) & ~(size_t)(HEAP_BLOCK_ALIGN - 1);
    return size < MIN_PAYLOAD ? MIN_PAYLOAD : size;
}

/*
 * Walk region r block by block, by the out-of-band map, rebuilding every
 * header that disagrees with it.  visit(r, b) sees every block.
 */
static void region_walk_repair(const char *fn, heap_region_t *r,
                               void (*visit)(heap_region_t *, heap_block_t *, heap_block_t *),
                               heap_block_t *skip)
{
    for (heap_block_t *b = (heap_block_t *)r->start; b; b = map_next(r, b)) {
        const char *why = block_problem(r, b);
        if (!why && map_next(r, b) != b->next)
            why = "its size covers another block of the block map";
        if (why && block_rebuild(r, b))
            mm_report("%s: %p: block header smashed (%s): rebuilt from the block map", fn,
                      block_payload(b), why);
        if (visit)
            visit(r, b, skip);
    }
}

static void count_block(heap_region_t *r, heap_block_t *b, heap_block_t *skip)
{
    heap.blocks++;
    if (!b->is_free)
        heap.used += b->size;
    else if (b != skip && b != heap.in_transit)
        free_add(r, b);
}

/*
 * The free list and every counter from scratch, by walking every region
 * (after a use after free or an overflow scribbled over free-list links).
 * Pass 1 repairs headers while the old list can still tell free from
 * allocated; pass 2 relinks and recounts.  `skip` is a free block that the
 * caller is in the middle of moving: it is neither listed nor counted free.
 */
static void heap_rebuild(const char *fn, heap_block_t *skip)
{
    for (int i = 0; i < heap.nregions; i++)
        region_walk_repair(fn, &heap.regions[i], NULL, NULL);
    memset(heap.lists, 0, sizeof(heap.lists));
    memset(heap.sl_map, 0, sizeof(heap.sl_map));
    heap.fl_map = 0;
    heap.used = heap.free = heap.blocks = heap.free_blocks = 0;
    for (int i = 0; i < heap.nregions; i++)
        region_walk_repair(fn, &heap.regions[i], count_block, skip);
}

static void freelist_rebuild(const char *fn, const void *where, heap_block_t *skip)
{
    mm_report("%s: %p: free list corrupted here (write after free, or an overflow?): rebuilt "
              "from the blocks",
              fn, where);
    heap_rebuild(fn, skip);
}

/*
 * Do the first `bytes` of b's payload (all of it if it is smaller), and a
 * header after them, belong to b by the map?  block_problem is O(1) and
 * cannot see a size (with next, and the next block's prev, forged to match)
 * that swallows a live neighbour: the map still has that neighbour's start.
 * O(bytes / 256) on i386, so it is asked only for what a call hands out.
 */
static int span_ok(const heap_region_t *r, const heap_block_t *b, size_t bytes)
{
    uintptr_t lim = bytes < b->size ? (uintptr_t)b + 2 * HDR + bytes : block_end(b);
    if (lim > block_end(b))
        lim = block_end(b);
    return bmap_first_start(&r->map, (uintptr_t)b + BMAP_GRANULE, lim) == lim;
}

/* b's header hides a block of the map (span_ok failed): every header and list from the map. */
static void span_repair(const char *fn, heap_block_t *b)
{
    mm_report("%s: %p: block header smashed (its size covers another block of the block map): "
              "rebuilt from the block map",
              fn, block_payload(b));
    heap_rebuild(fn, NULL);
}

/* Most free-list entries there can be: a bound for walks over a list that may be forged. */
static uint32_t freelist_bound(void)
{
    uint32_t bytes = 0;
    for (int i = 0; i < heap.nregions; i++)
        bytes += (uint32_t)(heap.regions[i].end - heap.regions[i].start);
    return bytes / (HDR + MIN_PAYLOAD) + 1;
}

/*
 * Visit each free-list entry; if the list turns out forged (a bad entry, a
 * loop), rebuild it once and start over.  visit returns nonzero to stop.
 */
/*
 * One class list, checked: every entry sound and of this class, no loop.
 * Returns the first bad entry (or the loop point), or NULL when all is well
 * or visit asked to stop (*stopped then holds the entry).
 */
static heap_block_t *list_walk(unsigned fl, unsigned sl, int (*visit)(heap_block_t *, size_t),
                               size_t arg, heap_block_t **stopped)
{
    uint32_t steps = 0, bound = freelist_bound();
    for (heap_block_t *b = heap.lists[fl][sl]; b; b = block_links(b)->next_free) {
        if (!free_entry_ok(b) || list_of(b) != &heap.lists[fl][sl] || ++steps > bound)
            return b;
        if (visit && visit(b, arg)) {
            *stopped = b;
            return NULL;
        }
    }
    return NULL;
}

/*
 * Visit each entry of every class list (stats, the benchmark's one-list
 * placements); a forged list is rebuilt once and the scan starts over.
 * visit returns nonzero to stop; that entry is returned.
 */
static heap_block_t *freelist_scan(const char *fn, int (*visit)(heap_block_t *, size_t), size_t arg)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        heap_block_t *bad = NULL, *stopped = NULL;
        for (unsigned fl = 0; fl < TLSF_FL_COUNT && !bad && !stopped; fl++) {
            for (unsigned sl = 0; sl < TLSF_SL_COUNT && !bad && !stopped; sl++)
                bad = list_walk(fl, sl, visit, arg, &stopped);
        }
        if (!bad)
            return stopped;
        freelist_rebuild(fn, bad, NULL);
    }
    mm_report("%s: free list still corrupt after a rebuild: giving up on this call", fn);
    return NULL;
}

static int largest_visit(heap_block_t *b, size_t largest_ptr)
{
    uint32_t *largest = (uint32_t *)largest_ptr;
    if (b->size > *largest)
        *largest = b->size;
    return 0;
}

#ifdef HEAP_ONE_LIST
static heap_block_t *scan_result;

/* First fit takes the first block that holds the request; best fit the smallest. */
static int one_list_visit(heap_block_t *b, size_t need)
{
    if (b->size >= need && (!scan_result || b->size < scan_result->size))
        scan_result = b;
#ifdef HEAP_FIRST_FIT
    return scan_result != NULL;
#else
    return scan_result && scan_result->size == need;
#endif
}

static heap_block_t *find_fit(const char *fn, size_t need)
{
    scan_result = NULL;
    freelist_scan(fn, one_list_visit, need);
    return scan_result && free_entry_ok(scan_result) ? scan_result : NULL;
}
#else
static int fits_visit(heap_block_t *b, size_t need)
{
    return b->size >= need;
}

/*
 * Good fit in O(1): the head of the request's own class if it is big enough
 * (classes below 128 bytes are exact), else the head of the first non-empty
 * class above it, found with the bitmaps: every block there is big enough.
 *
 * Only when no class above holds anything can a fitting block hide behind a
 * head that is too small, in the request's own class (the only class that
 * mixes sizes that fit and sizes that do not): then that list is searched,
 * first fit, before kmalloc grows the heap or fails.  Before growing, not
 * after: a hole that fits is reused instead of mapping new pages while it
 * stays empty (footprint, fragmentation), and growing (mapping pages) costs
 * more than the walk anyway.  The walk is bounded by the free blocks of one
 * class: heap bytes / (class's smallest size + 2 headers + MIN_PAYLOAD)
 * steps at worst (free blocks never touch), e.g. 17 for [3584, 3712) and 315
 * for [128, 136) on the 64 KB Phase 1 heap (i386); README, "Heap placement".
 *
 * A head that fails its check means the lists were scribbled on: rebuild
 * them from the blocks and look again.
 */
static heap_block_t *find_fit(const char *fn, size_t need)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        unsigned fl, sl;
        size_class(need, &fl, &sl);
        heap_block_t *b = heap.lists[fl][sl], *bad = b, *stopped = NULL;
        if (b && free_entry_ok(b) && b->size >= need)
            return b;
        if (!b || free_entry_ok(b)) {
            unsigned f = fl;
            uint32_t above = sl + 1 < TLSF_SL_COUNT ? heap.sl_map[fl] & (~0u << (sl + 1)) : 0;
            if (!above) {
                uint32_t fl_above = fl + 1 < TLSF_FL_COUNT ? heap.fl_map & (~0u << (fl + 1)) : 0;
                if (fl_above) {
                    f = (unsigned)__builtin_ctz(fl_above);
                    above = heap.sl_map[f];
                }
            }
            if (above) {
                unsigned s = (unsigned)__builtin_ctz(above);
                bad = heap.lists[f][s];
                if (bad && free_entry_ok(bad) && list_of(bad) == &heap.lists[f][s])
                    return bad;
            } else {
                bad = b ? list_walk(fl, sl, fits_visit, need, &stopped) : NULL;
                if (!bad)
                    return stopped; /* NULL: nothing in the heap fits */
            }
        }
        freelist_rebuild(fn, bad, NULL);
    }
    return NULL;
}
#endif

static void out_of_memory(const char *fn, size_t size)
{
    if (size > HEAP_MAX_REQUEST) {
        mm_printf("%s: %lu bytes: larger than the heap can ever be\n", fn, (unsigned long)size);
        return;
    }
    if (heap.oom_reported)
        return;
    heap.oom_reported = 1;
    mm_printf("%s: out of memory: %lu bytes requested, %u bytes free in %u blocks\n", fn,
              (unsigned long)size, (unsigned)heap.free, (unsigned)heap.free_blocks);
}

static void account_alloc(heap_block_t *b)
{
    heap.used += b->size;
    if (heap.used > heap.peak_used)
        heap.peak_used = heap.used;
}

static heap_block_t *heap_grow(size_t need);

static void *kmalloc_locked(const char *fn, size_t size)
{
    size_t need = request_size(size);
    heap_block_t *b = need ? find_fit(fn, need) : NULL;
    if (!b && need)
        b = heap_grow(need); /* the grown last block, free and big enough */
#ifdef MM_DEBUG
    if (!b && need && dbg_on() && dbg_flush_locked()) { /* the quarantine goes back first */
        b = find_fit(fn, need);
        if (!b)
            b = heap_grow(need);
    }
#endif
    if (!b && need && slab_reap_locked()) { /* memory pressure: empty slabs go back first */
        b = find_fit(fn, need);
        if (!b)
            b = heap_grow(need);
    }
    if (b && free_entry_ok(b) && !span_ok(region_of((uintptr_t)b), b, need + HDR + MIN_PAYLOAD)) {
        span_repair(fn, b); /* then choose again, from sound headers */
        b = find_fit(fn, need);
        if (!b)
            b = heap_grow(need);
        if (b && free_entry_ok(b) && !span_ok(region_of((uintptr_t)b), b, need + HDR + MIN_PAYLOAD))
            b = NULL;
    }
    if (b && (!free_entry_ok(b) || b->size < need)) {
        /* never hand out a block smaller than asked, or one that is not free */
        mm_report("%s: %p: heap chose a block that is not a free block of %lu bytes: refused", fn,
                  block_payload(b), (unsigned long)need);
        b = NULL;
    }
    if (!b) {
        if (size)
            out_of_memory(fn, size);
        return NULL;
    }
    heap_region_t *r = region_of((uintptr_t)b);
    free_del(r, b);
    heap_block_t *rest = block_split(r, b, need);
    if (rest) {
        /* b was free, so its old next is allocated: rest has no free neighbour. */
        block_set_state(r, rest, 1);
        free_add(r, rest);
    }
    block_set_state(r, b, 0);
    b->file = NULL;
    b->line = 0;
    account_alloc(b);
    heap.allocs++;
    return block_payload(b);
}

static void heap_shrink(heap_region_t *r, uint32_t budget);

/* Allocated block b goes back to the free list (and maybe pages to the PMM). */
static void block_free_now(heap_region_t *r, heap_block_t *b)
{
    uint32_t size = b->size;
    heap.used -= b->size;
    heap.oom_reported = 0;
    block_set_state(r, b, 1);
    block_release("kfree", r, b);
    heap_shrink(r, size);
}

static void kfree_locked(heap_region_t *r, heap_block_t *b)
{
    heap.frees++;
    block_free_now(r, b);
}

/* --------------------------------------------------------- public API ---- */

/* A region of one free block.  0, or -1 if there is no memory for its block map. */
static int region_add(uintptr_t start, size_t size, vaddr_t vbase)
{
    if (heap.nregions == HEAP_MAX_REGIONS || start % PAGE_SIZE || size < HDR + MIN_PAYLOAD)
        glue_panic("region_add: no room for another heap region, or a bad one");
    heap_region_t *r = &heap.regions[heap.nregions];
    if (vbase)
        bmap_init_window(&r->map, start, MM_META_BLOCK_STARTS, MM_META_BLOCK_FREE,
                         HEAP_VIRTUAL_LIMIT / BMAP_GRANULE);
    else
        bmap_init_static(&r->map, start, bmap_early_start, bmap_early_free, EARLY_GRANULES);
    if (bmap_cover(&r->map, size) < 0)
        return -1;
    heap.nregions++;
    r->start = start;
    r->end = start + size;
    r->retired = 0;
    r->vbase = vbase;
    r->slab_map = vbase ? slab_map_virtual : slab_map_early;
    r->slab_pages = 0;
    if (size > (vbase ? HEAP_VIRTUAL_LIMIT : INITIAL_HEAP_SIZE))
        glue_panic("region_add: region larger than its slab-page bitmap");
    memset(r->slab_map, 0, vbase ? sizeof(slab_map_virtual) : sizeof(slab_map_early));
    heap_block_t *b = (heap_block_t *)start;
    b->size = size - HDR;
    b->next = b->prev = NULL;
    b->file = NULL;
    b->line = 0;
    block_set_state(r, b, 1);
    r->last = b;
    heap.blocks++;
    free_add(r, b);
    return 0;
}

/* ------------------------------------------------------- virtual heap ---- */

static heap_region_t *growing_region(void)
{
    for (int i = 0; i < heap.nregions; i++) {
        if (heap.regions[i].vbase)
            return &heap.regions[i];
    }
    return NULL;
}

/* Unmap [from, to) bytes of the growing region (pages go back to the PMM). */
static void unmap_range(vaddr_t from, vaddr_t to)
{
    for (vaddr_t v = from; v < to; v += PAGE_SIZE)
        vmm_heap_unmap(v);
}

/*
 * Map up to `want` bytes (at least `need`) at virtual `at`.  Returns the
 * bytes mapped, or 0 with nothing left mapped if even `need` was impossible.
 */
static uint32_t map_range(vaddr_t at, uint32_t need, uint32_t want)
{
    uint32_t done = 0;
    while (done < want) {
        paddr_t p = pmm_alloc_pages_owner(1, 0, PMM_OWNER_HEAP | PMM_NO_RECLAIM);
        if (!p)
            break;
        if (vmm_heap_map(at + done, p) < 0) {
            pmm_free_pages_owner(p, 1, PMM_OWNER_HEAP);
            break;
        }
        done += PAGE_SIZE;
    }
    if (done >= need)
        return done;
    unmap_range(at, at + done);
    return 0;
}

/*
 * Make the growing region end in a free block of at least `need` bytes and
 * return it (NULL if the region cannot grow that far).
 */
static heap_block_t *heap_grow(size_t need)
{
    heap_region_t *r = growing_region();
    if (!r)
        return NULL;
    heap_block_t *last = region_last(heap.api, r);
    uint32_t size = (uint32_t)(r->end - r->start);
    /* (the last block may already be big enough: a class head hid it from find_fit) */
    if (last->is_free && last->size >= need)
        return last;
    uint64_t extra = last->is_free ? (uint64_t)need - last->size : (uint64_t)need + HDR;
    uint64_t min = (extra + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
    uint64_t want = min < HEAP_GROW_MIN ? HEAP_GROW_MIN : min;
    if (want > HEAP_VIRTUAL_LIMIT - size)
        want = HEAP_VIRTUAL_LIMIT - size;
    if (min > want)
        return NULL; /* would pass HEAP_VIRTUAL_END */
    if (bmap_cover(&r->map, size + want) < 0)
        return NULL; /* no page for the block map: as good as none for the heap */
    uint32_t got = map_range(r->vbase + size, (uint32_t)min, (uint32_t)want);
    bmap_uncover(&r->map, size + got); /* what want mapped beyond what was got */
    if (!got)
        return NULL;
    uintptr_t old_end = r->end;
    r->end += got;
    if (last->is_free) {
        free_del(r, last);
        last->size += got;
        free_add(r, last);
    } else {
        heap_block_t *b = (heap_block_t *)old_end;
        b->size = got - HDR;
        b->prev = last;
        b->next = NULL;
        b->file = NULL;
        b->line = 0;
        block_set_state(r, b, 1);
        last->next = b;
        r->last = b;
        heap.blocks++;
        free_add(r, b);
    }
    if (r->end - r->start > heap.virtual_peak)
        heap.virtual_peak = (uint32_t)(r->end - r->start);
    return r->last;
}

/*
 * Give whole pages at the end of the growing region back, keeping some
 * slack and the reserve (heap_reserve).  Bounded work: a kfree of `budget`
 * bytes unmaps at most max(budget, HEAP_SHRINK_STEP) bytes, so freeing a
 * small object never unmaps megabytes at once; the next frees go on.
 */
static void heap_shrink(heap_region_t *r, uint32_t budget)
{
    heap_block_t *last = r->vbase ? region_last(heap.api, r) : NULL;
    if (!last || !last->is_free)
        return;
    uintptr_t keep = (uintptr_t)block_payload(last) + HEAP_SHRINK_SLACK;
    keep = r->start + ((keep - r->start + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1));
    if (keep < r->start + HEAP_VIRTUAL_INITIAL)
        keep = r->start + HEAP_VIRTUAL_INITIAL;
    if (keep < r->start + heap.reserve)
        keep = r->start + heap.reserve;
    if (keep >= r->end || (r->end - keep < HEAP_SHRINK_MIN && budget != HEAP_TRIM))
        return;
    if (budget != HEAP_TRIM) {
        budget = budget < HEAP_SHRINK_STEP ? HEAP_SHRINK_STEP
                                           : (budget + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        if (r->end - keep > budget)
            keep = r->end - budget;
    }
    uintptr_t old_end = r->end;
    free_del(r, last);
    last->size -= old_end - keep;
    free_add(r, last);
    r->end = keep;
    unmap_range(r->vbase + (vaddr_t)(keep - r->start), r->vbase + (vaddr_t)(old_end - r->start));
    bmap_uncover(&r->map, keep - r->start);
}

void heap_init_virtual(void)
{
    glue_irqflags_t f = glue_lock();
    heap.api = "heap_init_virtual";
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    if (!vs.paging_enabled) {
        mm_report("heap_init_virtual: 0x%08x: paging is off (vmm_init first)",
                  (unsigned)HEAP_VIRTUAL_START);
    } else if (growing_region()) {
        mm_report("heap_init_virtual: 0x%08x: the virtual heap already exists",
                  (unsigned)HEAP_VIRTUAL_START);
    } else if (!map_range(HEAP_VIRTUAL_START, HEAP_VIRTUAL_INITIAL, HEAP_VIRTUAL_INITIAL)) {
        mm_printf("heap_init_virtual: no memory for the first %u pages: staying in Phase 1\n",
                  (unsigned)(HEAP_VIRTUAL_INITIAL / PAGE_SIZE));
    } else if (region_add((uintptr_t)glue_virt_to_ptr(HEAP_VIRTUAL_START), HEAP_VIRTUAL_INITIAL,
                          HEAP_VIRTUAL_START) < 0) {
        unmap_range(HEAP_VIRTUAL_START, HEAP_VIRTUAL_START + HEAP_VIRTUAL_INITIAL);
        mm_printf("heap_init_virtual: no memory for the heap's block map: staying in Phase 1\n");
    } else {
        /* park the early region's free blocks: new allocations come from the virtual heap */
        int relist = 0;
        for (int i = 0; i < heap.nregions - 1; i++) {
            heap_region_t *old = &heap.regions[i];
            for (heap_block_t *b = (heap_block_t *)old->start; b; b = map_next(old, b)) {
                if (block_problem(old, b))
                    block_rebuild(old, b);
                relist |= b->is_free && !freelist_unlink(b);
            }
            /* only now: freelist_unlink trusts no neighbour in a retired region */
            old->retired = 1;
        }
        if (relist) /* a list link was forged: the lists again, without the retired blocks */
            freelist_rebuild("heap_init_virtual", (void *)heap.regions[0].start, NULL);
        heap.virtual_peak = HEAP_VIRTUAL_INITIAL;
        slab_enable();
        pmm_register_reclaim(kmem_cache_reap); /* the PMM, when dry: empty slabs, free tail */
    }
    glue_unlock(f);
}

size_t heap_trim_locked(void)
{
    heap_region_t *r = growing_region();
    if (!r)
        return 0;
    uintptr_t end = r->end;
    heap_shrink(r, HEAP_TRIM);
    return end - r->end;
}

size_t heap_trim(void)
{
    glue_irqflags_t f = glue_lock();
    heap.api = "heap_trim";
    size_t n = heap_trim_locked();
    glue_unlock(f);
    return n;
}

void heap_reserve(size_t bytes)
{
    glue_irqflags_t f = glue_lock();
    heap.api = "heap_reserve";
    heap_region_t *r = growing_region();
    if (!r) {
        mm_report("heap_reserve: 0x%08x: no virtual heap (heap_init_virtual first)",
                  (unsigned)HEAP_VIRTUAL_START);
    } else if (bytes > HEAP_VIRTUAL_LIMIT - HDR) {
        mm_report("heap_reserve: 0x%08x: %lu bytes: more than the virtual heap can hold",
                  (unsigned)HEAP_VIRTUAL_START, (unsigned long)bytes);
    } else {
        uint32_t want = (uint32_t)((bytes + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1));
        uint32_t size = (uint32_t)(r->end - r->start);
        /* heap_grow(need) maps what the last block lacks to hold need bytes */
        uint32_t extra = want > size ? want - size : 0;
        heap_block_t *last = region_last("heap_reserve", r);
        size_t need = last->is_free ? last->size + extra
                                    : (extra > HDR + MIN_PAYLOAD ? extra - HDR : MIN_PAYLOAD);
        if ((extra && !heap_grow(need)) || slab_meta_reserve(r->start, want) < 0)
            mm_printf("heap_reserve: no memory to map %u KB: reserve not made\n",
                      (unsigned)(want / 1024));
        else
            heap.reserve = want > heap.reserve ? want : heap.reserve;
    }
    glue_unlock(f);
}

void memory_init(void)
{
    glue_irqflags_t f = glue_lock();
    /* a restart gives the virtual heap's pages back first */
    heap_region_t *r = growing_region();
    if (r) {
        unmap_range(r->vbase, r->vbase + (vaddr_t)(r->end - r->start));
        bmap_uncover(&r->map, 0);
    }
    memset(&heap, 0, sizeof(heap));
    mm_log_reset();
#ifdef MM_DEBUG
    dbg_reset(); /* before slab_reset: the size classes are laid out for the mode */
#endif
    slab_reset();
    region_add((uintptr_t)glue_phys_to_virt(HEAP_START), INITIAL_HEAP_SIZE, 0); /* static map */
    glue_unlock(f);
}

#ifdef MM_DEBUG
/* A debug block: | object | red zone | dbg_rec_t |, the record in the payload's last bytes. */
static uint32_t block_cap(const heap_block_t *b)
{
    return (uint32_t)(b->size - sizeof(dbg_rec_t));
}

static dbg_rec_t *block_rec(heap_block_t *b)
{
    return (dbg_rec_t *)((char *)block_payload(b) + block_cap(b));
}

/* What to ask the heap for a caller's `size` bytes: room for the red zone and the record. */
static size_t debug_size(size_t size)
{
    if (!dbg_on() || size == 0)
        return size;
    return size <= HEAP_MAX_REQUEST - DBG_TAIL ? size + DBG_TAIL : (size_t)-1;
}

static void *armed(void *p, size_t size)
{
    if (p && dbg_on())
        dbg_arm(p, (uint32_t)size, block_cap(block_of(p)), block_rec(block_of(p)), block_of(p), 1);
    return p;
}
#else
#define debug_size(size) (size)
#define armed(p, size)   (p)
#endif

/* Small sizes from the size-class caches (virtual heap only), the rest as blocks. */
static void *alloc_locked(const char *fn, size_t size)
{
    void *p = size <= SLAB_KMALLOC_MAX && size ? slab_kmalloc(size, 1) : NULL;
    if (p) {
        heap.allocs++;
        return p;
    }
    size_t want = debug_size(size);
    if (want == (size_t)-1) {
        out_of_memory(fn, size);
        return NULL;
    }
    return armed(kmalloc_locked(fn, want), size);
}

static void *kmalloc_at(size_t size, const char *file, uint32_t line)
{
    glue_irqflags_t f = glue_lock();
    API("kmalloc", file, line);
    void *p = alloc_locked("kmalloc", size);
    glue_unlock(f);
    return p;
}

/* A caller's free of ptr (reported and ignored if ptr is not a live object). */
static void free_locked(const char *fn, void *ptr)
{
#ifdef MM_DEBUG
    if (dbg_on() && dbg_quarantined(fn, ptr))
        return;
#endif
    uintptr_t page = heap_slab_page_of((uintptr_t)ptr);
    if (page) {
        if (slab_kfree(fn, page, ptr)) {
            heap.frees++;
            heap.oom_reported = 0;
        }
        return;
    }
    heap_region_t *r;
    heap_block_t *b = checked_block(fn, ptr, &r);
    if (!b)
        return;
#ifdef MM_DEBUG
    if (dbg_on()) { /* into quarantine: the heap gets it back in heap_release_locked */
        heap.frees++;
        dbg_free(fn, ptr, block_cap(b), block_rec(b), b, 1);
        return;
    }
#endif
    kfree_locked(r, b);
}

static void kfree_at(void *ptr, const char *file, uint32_t line)
{
    if (!ptr)
        return;
    glue_irqflags_t f = glue_lock();
    API("kfree", file, line);
    free_locked("kfree", ptr);
    glue_unlock(f);
}

static void *kcalloc_at(size_t count, size_t size, const char *file, uint32_t line)
{
    glue_irqflags_t f = glue_lock();
    API("kcalloc", file, line);
    void *p = NULL;
    if (count && size > (size_t)-1 / count)
        mm_report("kcalloc: %lu * %lu bytes overflows size_t: refused", (unsigned long)count,
                  (unsigned long)size);
    else
        p = alloc_locked("kcalloc", count * size);
    glue_unlock(f);
    if (p)
        memset(p, 0, count * size);
    return p;
}

/* Allocated block b keeps `need` bytes; a tail big enough to stand alone goes back. */
static void block_trim(const char *fn, heap_region_t *r, heap_block_t *b, size_t need)
{
    uint32_t old = b->size;
    heap_block_t *rest = block_split(r, b, need);
    if (rest) {
        heap.used -= old - b->size;
        block_set_state(r, rest, 1);
        block_release(fn, r, rest);
    }
}

/*
 * Aligned block: take need + align + a header's worth, then carve a free
 * block off the front so that payload - skew lands on the boundary, and give
 * the tail back.  The result is an ordinary block: plain kfree frees it.
 * skew is 0 for kmalloc_aligned, HDR for a slab page (its header on the page).
 *
 *   | hdr | front (free) | hdr | payload @ align ... | hdr | tail (free) |
 */
static heap_block_t *aligned_locked(const char *fn, size_t need, size_t align, size_t skew)
{
    uint32_t peak = heap.peak_used;
    /* room for a front block, the payload, and a tail that can always be split off */
    char *p = kmalloc_locked(fn, need + align + 2 * (HDR + MIN_PAYLOAD));
    if (!p)
        return NULL;
    heap_block_t *b = block_of(p);
    heap_region_t *r = region_of((uintptr_t)b);
    uintptr_t a = (((uintptr_t)p - skew + align - 1) & ~(uintptr_t)(align - 1)) + skew;
    if (a != (uintptr_t)p) {
        while (a - (uintptr_t)p < HDR + MIN_PAYLOAD)
            a += align; /* the front must be able to stand as a block */
        heap.used -= b->size;
        heap_block_t *aligned = block_split(r, b, a - (uintptr_t)p - HDR);
        block_set_state(r, aligned, 0);
        heap.used += aligned->size;
        block_set_state(r, b, 1);
        block_release(fn, r, b);
        b = aligned;
    }
    block_trim(fn, r, b, need);
    heap.peak_used = heap.used > peak ? heap.used : peak; /* not the over-allocation */
    return b;
}

static void *kmalloc_aligned_at(size_t size, size_t align, const char *file, uint32_t line)
{
    glue_irqflags_t f = glue_lock();
    API("kmalloc_aligned", file, line);
    void *result = NULL;
    size_t need = request_size(debug_size(size));
    if (align == 0 || (align & (align - 1))) {
        mm_report("kmalloc_aligned: %lu bytes: alignment %lu is not a power of two",
                  (unsigned long)size, (unsigned long)align);
    } else if (align <= HEAP_BLOCK_ALIGN) {
        result = alloc_locked("kmalloc_aligned", size);
    } else if (size && size <= SLAB_KMALLOC_MAX && (result = slab_kmalloc(size, align))) {
        heap.allocs++;
    } else if (!need || align > HEAP_MAX_REQUEST / 2 ||
               need > HEAP_MAX_REQUEST - align - 2 * (HDR + MIN_PAYLOAD)) {
        if (size)
            out_of_memory("kmalloc_aligned", size > HEAP_MAX_REQUEST ? size : (size_t)-1);
    } else {
        heap_block_t *b = aligned_locked("kmalloc_aligned", need, align, 0);
        result = b ? armed(block_payload(b), size) : NULL;
    }
    glue_unlock(f);
    return result;
}

/* Bytes usable at ptr (the debug build: exactly what was asked), or 0 after a report. */
static size_t usable_locked(const char *fn, void *ptr)
{
#ifdef MM_DEBUG
    if (dbg_on() && dbg_quarantined(fn, ptr))
        return 0;
#endif
    uintptr_t page = heap_slab_page_of((uintptr_t)ptr);
    if (page)
        return slab_usable(fn, page, ptr);
    heap_region_t *r;
    heap_block_t *b = checked_block(fn, ptr, &r);
#ifdef MM_DEBUG
    if (b && dbg_on())
        return dbg_user_size(block_rec(b), block_cap(b));
#endif
    return b ? b->size : 0;
}

size_t kmalloc_usable_size(void *ptr)
{
    if (!ptr)
        return 0;
    glue_irqflags_t f = glue_lock();
    heap.api = "kmalloc_usable_size";
    size_t n = usable_locked("kmalloc_usable_size", ptr);
    glue_unlock(f);
    return n;
}

/* Resize b in place if it can be done: shrink, or grow into a free next block. */
static int resize_in_place(heap_region_t *r, heap_block_t *b, size_t need)
{
    heap_block_t *n = b->next;
    if (need > b->size) {
        if (!n || !next_ok("krealloc", r, b) || !n->is_free || b->size + HDR + n->size < need)
            return 0;
        if (!span_ok(r, n, need - b->size + MIN_PAYLOAD)) {
            span_repair("krealloc", n);
            return 0; /* moves, if the heap has room */
        }
        free_del(r, n);
        heap.used -= b->size;
        block_merge_next(r, b);
        heap.used += b->size;
    }
    block_trim("krealloc", r, b, need);
    if (heap.used > heap.peak_used)
        heap.peak_used = heap.used;
    return 1;
}

/* krealloc of a slab object: stays if the new size fits its class, else moves. */
static void *krealloc_slab(uintptr_t page, void *ptr, size_t size)
{
    size_t usable = slab_usable("krealloc", page, ptr);
    if (!usable)
        return NULL; /* reported; ptr left alone */
    if (size == 0) {
        slab_kfree("krealloc", page, ptr);
        heap.frees++;
        return NULL;
    }
    if (size <= usable)
        return ptr;
    void *p = alloc_locked("krealloc", size);
    if (p) {
        memcpy(p, ptr, usable);
        slab_kfree("krealloc", page, ptr);
        heap.frees++;
    }
    return p;
}

#ifdef MM_DEBUG
/* krealloc with the checks on always moves: a stale pointer to the old place is caught. */
static void *krealloc_debug_locked(void *ptr, size_t size)
{
    size_t old = usable_locked("krealloc", ptr);
    if (!old)
        return NULL; /* reported; ptr left alone */
    if (size == 0) {
        free_locked("krealloc", ptr);
        return NULL;
    }
    void *p = alloc_locked("krealloc", size);
    if (p) {
        memcpy(p, ptr, old < size ? old : size);
        free_locked("krealloc", ptr);
    }
    return p;
}
#endif

static void *krealloc_at(void *ptr, size_t size, const char *file, uint32_t line)
{
    if (!ptr)
        return kmalloc_at(size, file, line);
    glue_irqflags_t f = glue_lock();
    API("krealloc", file, line);
    void *result = NULL;
#ifdef MM_DEBUG
    if (dbg_on()) {
        result = krealloc_debug_locked(ptr, size);
        glue_unlock(f);
        return result;
    }
#endif
    uintptr_t page = heap_slab_page_of((uintptr_t)ptr);
    if (page) {
        result = krealloc_slab(page, ptr, size);
        glue_unlock(f);
        return result;
    }
    heap_region_t *r;
    heap_block_t *b = checked_block("krealloc", ptr, &r);
    size_t need = request_size(size);
    if (b && size == 0) {
        kfree_locked(r, b); /* krealloc(p, 0) frees p and returns NULL */
    } else if (!b || size == 0) {
        /* reported; ptr left alone */
    } else if (!need) {
        out_of_memory("krealloc", size);
    } else if (resize_in_place(r, b, need)) {
        result = ptr;
    } else {
        result = alloc_locked("krealloc", size);
        if (result) {
            memcpy(result, ptr, b->size);
            kfree_locked(r, b);
        }
    }
    glue_unlock(f);
    return result;
}

/*
 * The public names.  In the debug build memory.h makes them macros passing
 * the call site; the parentheses here keep the real functions.
 */
void *(kmalloc)(size_t size)
{
    return kmalloc_at(size, NULL, 0);
}

void(kfree)(void *ptr)
{
    kfree_at(ptr, NULL, 0);
}

void *(kcalloc)(size_t count, size_t size)
{
    return kcalloc_at(count, size, NULL, 0);
}

void *(krealloc)(void *ptr, size_t size)
{
    return krealloc_at(ptr, size, NULL, 0);
}

void *(kmalloc_aligned)(size_t size, size_t align)
{
    return kmalloc_aligned_at(size, align, NULL, 0);
}

#ifdef MM_DEBUG
void *kmalloc_debug(size_t size, const char *file, uint32_t line)
{
    return kmalloc_at(size, file, line);
}

void kfree_debug(void *ptr, const char *file, uint32_t line)
{
    kfree_at(ptr, file, line);
}

void *kcalloc_debug(size_t count, size_t size, const char *file, uint32_t line)
{
    return kcalloc_at(count, size, file, line);
}

void *krealloc_debug(void *ptr, size_t size, const char *file, uint32_t line)
{
    return krealloc_at(ptr, size, file, line);
}

void *kmalloc_aligned_debug(size_t size, size_t align, const char *file, uint32_t line)
{
    return kmalloc_aligned_at(size, align, file, line);
}

void heap_release_locked(void *obj)
{
    uintptr_t page = heap_slab_page_of((uintptr_t)obj);
    if (page) {
        slab_release_object(page, obj);
        return;
    }
    heap_region_t *r;
    heap_block_t *b = checked_block(heap.api, obj, &r);
    if (b)
        block_free_now(r, b);
}

uint32_t heap_fragmentation_locked(void)
{
    uint32_t largest = 0, free = heap.free;
    freelist_scan(heap.api, largest_visit, (size_t)&largest);
    if (!free || largest > free)
        return 0;
    while (free > 0xFFFFFFFFu / 100) { /* 100 * free must fit (no 64-bit divide in the kernel) */
        free >>= 1;
        largest >>= 1;
    }
    return 100 - 100 * largest / free;
}
#endif

/* ------------------------------------------------ slab pages (slab.c) ---- */

static inline uint32_t page_index(const heap_region_t *r, uintptr_t page)
{
    return (uint32_t)((page - r->start) / PAGE_SIZE);
}

static int slab_bit(const heap_region_t *r, uintptr_t page)
{
    uint32_t i = page_index(r, page);
    return (int)((r->slab_map[i / 32] >> (i % 32)) & 1);
}

static void slab_bit_set(heap_region_t *r, uintptr_t page, int on)
{
    uint32_t i = page_index(r, page);
    if (on)
        r->slab_map[i / 32] |= 1u << (i % 32);
    else
        r->slab_map[i / 32] &= ~(1u << (i % 32));
    r->slab_pages += on ? 1 : (uint32_t)-1;
}

/* Is b the block of a slab page (its header on a page marked as a slab)? */
static int is_slab_block(const heap_region_t *r, const heap_block_t *b)
{
    return ((uintptr_t)b - r->start) % PAGE_SIZE == 0 && slab_bit(r, (uintptr_t)b);
}

void *heap_slab_page_alloc(const char *fn)
{
    /* quiet: kmalloc falls back to an ordinary block, kmem_cache_alloc reports */
    int reported = heap.oom_reported;
    heap.oom_reported = 1;
    heap_block_t *b = aligned_locked(fn, PAGE_SIZE - HDR, PAGE_SIZE, HDR);
    heap.oom_reported = reported;
    if (!b)
        return NULL;
    heap.allocs--; /* the heap's own use, not a caller's allocation */
    slab_bit_set(region_of((uintptr_t)b), (uintptr_t)b, 1);
    return b;
}

const char *heap_api_swap(const char *fn)
{
    const char *old = heap.api;
    heap.api = fn;
    return old;
}

void heap_slab_page_free(void *page)
{
    heap_region_t *r = region_of((uintptr_t)page);
    heap_block_t *b = page;
    /* its header is in band (an overflow of the block below reaches it); the map is not */
    const char *why = r && slab_bit(r, (uintptr_t)page) ? block_problem(r, b) : NULL;
    if (!why && r && slab_bit(r, (uintptr_t)page) && b->size != PAGE_SIZE - HDR)
        why = "size is not a slab page's";
    if (why && !bmap_is_free(&r->map, (uintptr_t)b) && block_rebuild(r, b))
        mm_report("%s: %p: header of the slab page smashed (%s): rebuilt from the block map",
                  heap.api, page, why);
    if (!r || !slab_bit(r, (uintptr_t)page) || block_problem(r, b) || b->is_free) {
        mm_printf("heap: slab page %p is not a sound slab block: kept\n", page);
        return;
    }
    slab_bit_set(r, (uintptr_t)page, 0);
    kfree_locked(r, b);
    heap.frees--;
}

uintptr_t heap_slab_page_of(uintptr_t addr)
{
    heap_region_t *r = region_of(addr);
    if (!r || !r->slab_pages)
        return 0;
    uintptr_t page = r->start + ((addr - r->start) & ~(uintptr_t)(PAGE_SIZE - 1));
    return slab_bit(r, page) ? page : 0;
}

uintptr_t heap_slab_page_next(uintptr_t addr)
{
    uintptr_t best = 0;
    for (int i = 0; i < heap.nregions; i++) {
        heap_region_t *r = &heap.regions[i];
        uintptr_t page =
            addr <= r->start
                ? r->start
                : r->start + ((addr - r->start + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1));
        for (; r->slab_pages && page < r->end && (!best || page < best); page += PAGE_SIZE) {
            if (slab_bit(r, page)) {
                best = page;
                break;
            }
        }
    }
    return best;
}

uint32_t heap_slab_page_count(void)
{
    uint32_t n = 0;
    for (int i = 0; i < heap.nregions; i++)
        n += heap.regions[i].slab_pages;
    return n;
}

/* ------------------------------------------------------ stats and dump ---- */

void get_memory_stats(memory_stats_t *stats)
{
    glue_irqflags_t f = glue_lock();
    heap.api = "get_memory_stats";
    if (!stats) {
        mm_report("get_memory_stats: NULL stats pointer");
        glue_unlock(f);
        return;
    }
    uint32_t size = 0;
    for (int i = 0; i < heap.nregions; i++)
        size += heap.regions[i].end - heap.regions[i].start;
    uint32_t largest = 0;
    freelist_scan("get_memory_stats", largest_visit, (size_t)&largest);
    stats->heap_size = size;
    stats->heap_used = heap.used;
    stats->heap_free = heap.free;
    stats->allocation_count = heap.allocs;
    stats->free_count = heap.frees;
    stats->largest_free_block = largest;
    stats->peak_heap_used = heap.peak_used;
    stats->block_count = heap.blocks;
    stats->free_block_count = heap.free_blocks;
    stats->error_count = mm_error_count();
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    heap_region_t *vr = growing_region();
    stats->phys_total_pages = ps.total_pages;
    stats->phys_free_pages = ps.free_pages;
    stats->phys_used_pages = ps.used_pages;
    stats->phys_reserved_pages = ps.reserved_pages;
    stats->page_tables = vs.page_tables;
    stats->paging_enabled = (uint32_t)vs.paging_enabled;
    stats->heap_virtual_size = vr ? (uint32_t)(vr->end - vr->start) : 0;
    stats->heap_virtual_peak = heap.virtual_peak;
    slab_totals(&stats->slab_objects, &stats->slab_pages);
    glue_unlock(f);
}

void heap_dump(void)
{
    glue_irqflags_t f = glue_lock();
    heap.api = "heap_dump";
    mm_printf("heap: %u used, %u free in %u blocks (%u free), %u allocations, %u frees\n",
              (unsigned)heap.used, (unsigned)heap.free, (unsigned)heap.blocks,
              (unsigned)heap.free_blocks, (unsigned)heap.allocs, (unsigned)heap.frees);
    for (int i = 0; i < heap.nregions; i++) {
        heap_region_t *r = &heap.regions[i];
        if (r->vbase)
            mm_printf("region %d: 0x%08lx-0x%08lx (virtual heap, %lu KB mapped)\n", i,
                      (unsigned long)r->vbase, (unsigned long)(r->vbase + (r->end - r->start)),
                      (unsigned long)(r->end - r->start) / 1024);
        else
            mm_printf("region %d: %p-%p%s\n", i, (void *)r->start, (void *)r->end,
                      r->retired ? " (early heap: frees only)" : "");
        for (heap_block_t *b = (heap_block_t *)r->start; b; b = b->next) {
            const char *why = block_problem(r, b);
            if (why) {
                mm_printf("  %p  CORRUPT (%s, magic 0x%08x): dump stops here\n", (void *)b, why,
                          b->magic);
                break;
            }
            if (!b->is_free && is_slab_block(r, b)) {
                char what[48];
                slab_describe((uintptr_t)b, what, sizeof(what));
                mm_printf("  %p  %8u  slab %s\n", block_payload(b), (unsigned)b->size, what);
            } else {
                const char *state = b->is_free ? "free" : "ALLOC";
                char detail[160] = "";
#ifdef MM_DEBUG
                if (!b->is_free && dbg_on())
                    state = dbg_dump_state(block_payload(b), block_cap(b), block_rec(b), b, detail,
                                           sizeof(detail));
#endif
                mm_printf("  %p  %8u  %s%s%s\n", block_payload(b), (unsigned)b->size, state,
                          detail[0] ? " " : "", detail);
            }
        }
    }
    glue_unlock(f);
}

/* --------------------------------------------------------------- check ---- */

#define check_failed(where, what) mm_check_failed("heap_check", where, what, NULL)

int heap_check(void)
{
    glue_irqflags_t f = glue_lock();
    heap.api = "heap_check";
    int errors = 0;
    uint32_t used = 0, free = 0, blocks = 0, free_blocks = 0, listable = 0, slab_blocks = 0;

    for (int i = 0; i < heap.nregions; i++) {
        heap_region_t *r = &heap.regions[i];
        for (uintptr_t a = r->start; r->vbase && a < r->end; a += PAGE_SIZE) {
            uint32_t e = vmm_get_entry(r->vbase + (vaddr_t)(a - r->start));
            if (!(e & PAGE_PRESENT) || pmm_page_owner(VMM_FRAME(e)) != PMM_OWNER_HEAP) {
                errors += check_failed((void *)a, e & PAGE_PRESENT
                                                      ? "virtual heap page not the heap's in the "
                                                        "PMM (free or another owner's)"
                                                      : "virtual heap page not mapped");
                break;
            }
        }
        heap_block_t *b = (heap_block_t *)r->start;
        uint32_t walked = 0;
        for (; b; b = b->next) {
            const char *why = block_problem(r, b);
            if (why) {
                errors += check_failed(b, why);
                break; /* its links cannot be followed */
            }
            if (bmap_first_start(&r->map, (uintptr_t)b + BMAP_GRANULE, r->end) != block_end(b))
                errors += check_failed(b, "the out-of-band map has a block inside this one");
            blocks++;
            walked++;
            if (is_slab_block(r, b)) {
                slab_blocks++;
                if (b->is_free || b->size != PAGE_SIZE - HDR)
                    errors += check_failed(b, "slab page is not an allocated one-page block");
            }
            if (b->is_free) {
                free += b->size;
                free_blocks++;
                listable += !r->retired;
                if (b->next && b->next->is_free)
                    errors += check_failed(b, "two free neighbours not coalesced");
            } else {
                used += b->size;
#ifdef MM_DEBUG
                if (dbg_on() && !is_slab_block(r, b))
                    errors += dbg_check_live(block_payload(b), block_cap(b), block_rec(b), b);
#endif
            }
            if (!b->next && b != r->last)
                errors += check_failed(b, "region's last-block pointer is stale");
        }
        if (!b && bmap_count(&r->map, r->end) != walked)
            errors += check_failed((void *)r->start, "the out-of-band map and the blocks differ");
    }

    uint32_t listed = 0;
    for (unsigned fl = 0; fl < TLSF_FL_COUNT; fl++) {
        for (unsigned sl = 0; sl < TLSF_SL_COUNT; sl++) {
            heap_block_t *prev = NULL;
            int nonempty = heap.lists[fl][sl] != NULL;
            if (nonempty != !!(heap.sl_map[fl] & (1u << sl)))
                errors += check_failed(heap.lists[fl][sl], "class bitmap disagrees with its list");
            for (heap_block_t *b = heap.lists[fl][sl]; b; prev = b, b = block_links(b)->next_free) {
                if (!free_entry_ok(b)) {
                    errors +=
                        check_failed(b, "free list holds a block that is not a sound free block");
                    break;
                }
                if (list_of(b) != &heap.lists[fl][sl])
                    errors += check_failed(b, "free block on the list of another size class");
                if (block_links(b)->prev_free != prev)
                    errors += check_failed(b, "free list back link is wrong");
                if (++listed > heap.blocks) {
                    errors += check_failed(b, "free list has a cycle");
                    break;
                }
            }
        }
        if (!!heap.sl_map[fl] != !!(heap.fl_map & (1u << fl)))
            errors += check_failed(NULL, "first-level bitmap disagrees with the second level");
    }
    if (listed != listable)
        errors += check_failed(NULL, "free lists' length differs from free blocks");
    if (used != heap.used || free != heap.free || blocks != heap.blocks ||
        free_blocks != heap.free_blocks)
        errors += check_failed(NULL, "counters differ from the blocks");
    uint32_t marked = 0;
    for (int i = 0; i < heap.nregions; i++) {
        const heap_region_t *r = &heap.regions[i];
        uint32_t n = 0;
        for (uint32_t w = 0; w < ((r->end - r->start) / PAGE_SIZE + 31) / 32; w++)
            n += (uint32_t)__builtin_popcount(r->slab_map[w]);
        if (n != r->slab_pages)
            errors += check_failed((void *)r->start, "region's slab-page count is wrong");
        marked += n;
    }
    if (marked != slab_blocks)
        errors += check_failed(NULL, "a page marked as a slab does not start with a block");
    errors += slab_check_locked();
#ifdef MM_DEBUG
    if (dbg_on())
        errors += dbg_check_quarantine();
#endif
    glue_unlock(f);
    return errors;
}

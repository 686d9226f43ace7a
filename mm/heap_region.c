/*
 * heap_region.c - the heap's regions: the early heap, the virtual heap's range
 * (set up, grow, shrink, reserve, trim), and who owns each of its pages:
 * blocks, or a slab (the bitmap of slab pages).
 *
 * Phase 1: one region, the spec's 64 KB at HEAP_START.  Phase 2:
 * heap_init_virtual() adds a region at HEAP_VIRTUAL_START whose pages come
 * from the PMM through the VMM.  It grows at its end when no free block fits
 * (at least HEAP_GROW_MIN at a time, up to HEAP_VIRTUAL_END) and gives whole
 * pages back when more than HEAP_SHRINK_MIN is free at its end.  The early
 * region is then retired: its blocks stay valid and kfree-able, but its free
 * blocks are parked (counted, not on the free list), so new allocations come
 * from the virtual heap, as the spec says.
 *
 *   HEAP_VIRTUAL_START                 start + mapped            HEAP_VIRTUAL_END
 *   | blocks ...         | last block  |  (unmapped: grows into it)          |
 *   <------- mapped, PMM_OWNER_HEAP --->
 *
 * What it owns, outside the heap's own bytes (so no overflow can forge them):
 * each region's block map storage (the early heap's here; the virtual heap's
 * in the metadata window, blockmap.h) and its slab-page bitmap, one bit per
 * page: "this page is a slab" (heap_internal.h draws a slab page).
 *
 * Calls: heap_repair.c (the checked last block), heap_block.c, blockmap.c,
 * kmap.c (pages mapped, unmapped, moved to a node), pmm.c and pmm_node.c
 * (the CPU's node, a page's node), lock.c, log.c, string.c.  Nothing above
 * it: heap_init.c sets up what sits on top (the slabs, the debug state)
 * around the calls here.  mm_lock: heap_trim takes it; the rest expect it
 * held.
 */
#include "glue.h"
#include "heap_priv.h"
#include "kmap.h"
#include "log.h"
#include "pmm.h"

/* The regions' slab-page bitmaps: the early heap's, and the virtual heap's (8 KB). */
static uint32_t slab_map_early[(INITIAL_HEAP_SIZE / PAGE_SIZE + 31) / 32];
/* The early heap's block map (the virtual heap's is in the metadata window). */
#define EARLY_GRANULES (INITIAL_HEAP_SIZE / BMAP_GRANULE)
static uint32_t bmap_early_start[EARLY_GRANULES / 32], bmap_early_free[EARLY_GRANULES / 32];
static uint32_t bmap_early_sum[(EARLY_GRANULES / 32 + 31) / 32];

/* The growing region's start and slab-page bits (heap_internal.h: read without the lock). */
heap_quick_t heap_quick;

/* ------------------------------------------------------------ regions ---- */

/* A region of one free block.  0, or -1 if there is no memory for its block map. */
int heap_region_add(uintptr_t start, size_t size, vaddr_t vbase)
{
    if (heap_state.nregions == HEAP_MAX_REGIONS || start % PAGE_SIZE || size < HDR + MIN_PAYLOAD)
        glue_panic("region_add: no room for another heap region, or a bad one");
    heap_region_t *r = &heap_state.regions[heap_state.nregions];
    if (vbase)
        bmap_init_window(&r->map, start, MM_META_BLOCK_STARTS, MM_META_BLOCK_FREE,
                         MM_META_BLOCK_SUMMARY, MM_META_BLOCK_MARKS,
                         HEAP_VIRTUAL_LIMIT / BMAP_GRANULE);
    else
        bmap_init_static(&r->map, start, bmap_early_start, bmap_early_free, bmap_early_sum,
                         EARLY_GRANULES);
    if (bmap_cover(&r->map, size) < 0)
        return -1;
    heap_state.nregions++;
    r->start = start;
    r->end = start + size;
    r->retired = 0;
    r->vbase = vbase;
    r->slab_map = vbase ? heap_quick.map : slab_map_early;
    r->slab_pages = 0;
    if (size > (vbase ? HEAP_VIRTUAL_LIMIT : INITIAL_HEAP_SIZE))
        glue_panic("region_add: region larger than its slab-page bitmap");
    memset(r->slab_map, 0, vbase ? sizeof(heap_quick.map) : sizeof(slab_map_early));
    if (vbase) {
        r->map.lazy = 1; /* the per-CPU block caches read it without the lock (bmap_trim) */
        __atomic_store_n(&heap_quick.blocks, &r->map, __ATOMIC_RELEASE);
        bmap_marks.map = &r->map;
        __atomic_store_n(&bmap_marks.base, start, __ATOMIC_RELEASE);
        __atomic_store_n(&heap_quick.base, start, __ATOMIC_RELEASE);
    }
    heap_block_t *b = (heap_block_t *)start;
    b->size = size - HDR;
    b->next = b->prev = NULL;
    b->file = NULL;
    b->line = 0;
    heap_block_set_state(r, b, 1);
    r->last = b;
    heap_state.blocks++;
    heap_free_add(r, b);
    return 0;
}

/* ---------------------------------------------------------- NUMA nodes ---- */

/* The frame behind heap page `page`, or 0 (no region of ours, not mapped). */
static paddr_t page_frame(uintptr_t page, heap_region_t **rp)
{
    heap_region_t *r = heap_region_of(page);
    *rp = r;
    if (!r)
        return 0;
    if (!r->vbase) /* the early heap: direct, at HEAP_START */
        return (paddr_t)(HEAP_START + (page - r->start));
    return kmap_phys(r->vbase + (vaddr_t)(page - r->start));
}

unsigned heap_page_node(uintptr_t page)
{
    heap_region_t *r;
    paddr_t phys = page_frame(page, &r);
    int n = phys ? pmm_page_node(phys) : -1;
    return n < 0 ? 0 : (unsigned)n;
}

int heap_rehome(const char *fn, uintptr_t page, int node, unsigned keep)
{
    heap_region_t *r;
    paddr_t phys = page_frame(page, &r);
    int strict = node != PMM_NODE_ANY && (node & PMM_NODE_STRICT);
    int want = node == PMM_NODE_ANY ? pmm_cpu_node(PMM_NODE_ANY) : node & ~PMM_NODE_STRICT;
    if (phys && r->vbase && pmm_node_count() > 1)
        return kmap_rehome(fn, r->vbase + (vaddr_t)(page - r->start),
                           want | strict * PMM_NODE_STRICT, keep, PMM_OWNER_HEAP);
    int now = phys ? pmm_page_node(phys) : -1;
    now = now < 0 ? 0 : now;
    return strict && now != want ? -1 : now;
}

/* ------------------------------------------------------- virtual heap ---- */

heap_region_t *heap_growing_region(void)
{
    for (int i = 0; i < heap_state.nregions; i++) {
        if (heap_state.regions[i].vbase)
            return &heap_state.regions[i];
    }
    return NULL;
}

/* Unmap [from, to) bytes of the growing region (pages go back to the PMM). */
static void unmap_range(vaddr_t from, vaddr_t to)
{
    if (to > from) /* one TLB shootdown for the whole run */
        kmap_unmap_run("vmm_heap_unmap", from, (to - from) / PAGE_SIZE, PMM_OWNER_HEAP);
}

/*
 * Map up to `want` bytes (at least `need`) at virtual `at`.  Returns the
 * bytes mapped, or 0 with nothing left mapped if even `need` was impossible.
 */
static uint32_t map_range(vaddr_t at, uint32_t need, uint32_t want)
{
    /* one run: the glue may map it at once (the host: one system call) */
    uint32_t done =
        kmap_alloc_run(at, want / PAGE_SIZE, PMM_OWNER_HEAP | PMM_NO_RECLAIM) * PAGE_SIZE;
    if (done >= need)
        return done;
    unmap_range(at, at + done);
    return 0;
}

/*
 * Make the growing region end in a free block of at least `need` bytes and
 * return it (NULL if the region cannot grow that far).
 */
heap_block_t *heap_grow(size_t need)
{
    heap_region_t *r = heap_growing_region();
    if (!r)
        return NULL;
    heap_block_t *last = heap_region_last(heap_api(), r);
    uint32_t size = (uint32_t)(r->end - r->start);
    /* (the last block may already be big enough: a class head hid it from heap_find_fit) */
    if (last->is_free && last->size >= need)
        return last;
    uint64_t extra = last->is_free ? (uint64_t)need - last->size : (uint64_t)need + HDR;
    uint64_t min = (extra + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
    uint64_t want = min < HEAP_GROW_MIN ? HEAP_GROW_MIN : min;
    if (want > HEAP_VIRTUAL_LIMIT - size)
        want = HEAP_VIRTUAL_LIMIT - size;
    if (min > want)
        return NULL; /* would pass HEAP_VIRTUAL_END */
    if (bmap_reserve(&r->map, size + want) < 0)
        return NULL; /* no page for the block map: as good as none for the heap */
    uint32_t got = map_range(r->vbase + size, (uint32_t)min, (uint32_t)want);
    if (got && bmap_cover(&r->map, size + got) < 0) /* (its pages are there: never fails) */
        glue_panic("heap_grow: the block map's reserved pages are gone");
    bmap_uncover(&r->map, size + got); /* the pages reserved for more than was got */
    if (!got)
        return NULL;
    uintptr_t old_end = r->end;
    r->end += got;
    if (last->is_free) {
        heap_free_del(r, last);
        last->size += got;
        heap_free_add(r, last);
    } else {
        heap_block_t *b = (heap_block_t *)old_end;
        b->size = got - HDR;
        b->prev = last;
        b->next = NULL;
        b->file = NULL;
        b->line = 0;
        heap_block_set_state(r, b, 1);
        last->next = b;
        r->last = b;
        heap_state.blocks++;
        heap_free_add(r, b);
    }
    if (r->end - r->start > heap_state.virtual_peak)
        heap_state.virtual_peak = (uint32_t)(r->end - r->start);
    return r->last;
}

/*
 * Give whole pages at the end of the growing region back, keeping some
 * slack and the reserve (heap_reserve).  Bounded work: a kfree of `budget`
 * bytes unmaps at most max(budget, HEAP_SHRINK_STEP) bytes, so freeing a
 * small object never unmaps megabytes at once; the next frees go on.
 */
void heap_shrink(heap_region_t *r, uint32_t budget)
{
    heap_block_t *last = r->vbase ? heap_region_last(heap_api(), r) : NULL;
    if (!last || !last->is_free)
        return;
    uintptr_t keep = (uintptr_t)block_payload(last) + HEAP_SHRINK_SLACK;
    keep = r->start + ((keep - r->start + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1));
    if (keep < r->start + HEAP_VIRTUAL_INITIAL)
        keep = r->start + HEAP_VIRTUAL_INITIAL;
    if (keep < r->start + heap_state.reserve)
        keep = r->start + heap_state.reserve;
    if (keep >= r->end || (r->end - keep < HEAP_SHRINK_MIN && budget != HEAP_TRIM))
        return;
    if (budget != HEAP_TRIM) {
        budget = budget < HEAP_SHRINK_STEP ? HEAP_SHRINK_STEP
                                           : (budget + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        if (r->end - keep > budget)
            keep = r->end - budget;
    }
    uintptr_t old_end = r->end;
    heap_free_del(r, last);
    last->size -= old_end - keep;
    heap_free_add(r, last);
    r->end = keep;
    unmap_range(r->vbase + (vaddr_t)(keep - r->start), r->vbase + (vaddr_t)(old_end - r->start));
    bmap_uncover(&r->map, keep - r->start);
    void (*trim)(void) = heap_quick.map_trim;
    if (trim && r->map.mapped > r->map.words)
        trim(); /* (else they wait for the next shrink, or the reclaim hook) */
}

int heap_region_init_virtual(void)
{
    if (!map_range(HEAP_VIRTUAL_START, HEAP_VIRTUAL_INITIAL, HEAP_VIRTUAL_INITIAL)) {
        mm_printf("heap_init_virtual: no memory for the first %u pages: staying in Phase 1\n",
                  (unsigned)(HEAP_VIRTUAL_INITIAL / PAGE_SIZE));
        return -1;
    }
    if (heap_region_add((uintptr_t)glue_virt_to_ptr(HEAP_VIRTUAL_START), HEAP_VIRTUAL_INITIAL,
                        HEAP_VIRTUAL_START) < 0) {
        unmap_range(HEAP_VIRTUAL_START, HEAP_VIRTUAL_START + HEAP_VIRTUAL_INITIAL);
        mm_printf("heap_init_virtual: no memory for the heap's block map: staying in Phase 1\n");
        return -1;
    }
    /* park the early region's free blocks: new allocations come from the virtual heap */
    int relist = 0;
    for (int i = 0; i < heap_state.nregions - 1; i++) {
        heap_region_t *old = &heap_state.regions[i];
        for (heap_block_t *b = (heap_block_t *)old->start; b; b = heap_map_next(old, b)) {
            if (heap_block_problem(old, b))
                heap_block_rebuild(old, b);
            relist |= b->is_free && !heap_freelist_unlink(b);
        }
        /* only now: heap_freelist_unlink trusts no neighbour in a retired region */
        old->retired = 1;
    }
    if (relist) /* a list link was forged: the lists again, without the retired blocks */
        heap_freelist_rebuild("heap_init_virtual", (void *)heap_state.regions[0].start, NULL);
    heap_state.virtual_peak = HEAP_VIRTUAL_INITIAL;
    return 0;
}

size_t heap_trim_locked(void)
{
    heap_region_t *r = heap_growing_region();
    if (!r)
        return 0;
    uintptr_t end = r->end;
    heap_shrink(r, HEAP_TRIM);
    return end - r->end;
}

int heap_map_trim_locked(void)
{
    heap_region_t *r = heap_growing_region();
    return r && bmap_trim(&r->map);
}

size_t heap_trim(void)
{
    heap_call_t call = heap_enter("heap_trim");
    size_t n = heap_trim_locked();
    heap_leave(call);
    return n;
}

int heap_region_reserve(heap_region_t *r, uint32_t want)
{
    uint32_t size = (uint32_t)(r->end - r->start);
    /* heap_grow(need) maps what the last block lacks to hold need bytes */
    uint32_t extra = want > size ? want - size : 0;
    heap_block_t *last = heap_region_last("heap_reserve", r);
    size_t need = last->is_free ? last->size + extra
                                : (extra > HDR + MIN_PAYLOAD ? extra - HDR : MIN_PAYLOAD);
    return extra && !heap_grow(need) ? -1 : 0;
}

void heap_region_reset(void)
{
    /* a restart gives the virtual heap's pages back first */
    heap_region_t *r = heap_growing_region();
    if (r) {
        unmap_range(r->vbase, r->vbase + (vaddr_t)(r->end - r->start));
        bmap_uncover(&r->map, 0);
        bmap_trim(&r->map);
    }
    memset(&heap_state, 0, sizeof(heap_state));
    __atomic_store_n(&heap_quick.base, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&heap_quick.blocks, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&bmap_marks.base, 0, __ATOMIC_RELAXED); /* (their pages went above) */
    for (size_t w = 0; w < sizeof(heap_quick.map) / sizeof(heap_quick.map[0]); w++)
        __atomic_store_n(&heap_quick.map[w], 0,
                         __ATOMIC_RELAXED); /* (mag_give reads them at base 0) */
}

/* ------------------------------------------------ slab pages (slab.c) ---- */

static inline uint32_t page_index(const heap_region_t *r, uintptr_t page)
{
    return (uint32_t)((page - r->start) / PAGE_SIZE);
}

int heap_slab_bit(const heap_region_t *r, uintptr_t page)
{
    uint32_t i = page_index(r, page);
    return (int)((r->slab_map[i / 32] >> (i % 32)) & 1);
}

/* (one atomic store: heap_slab_page_quick reads the words without the lock) */
void heap_slab_bit_set(heap_region_t *r, uintptr_t page, int on)
{
    uint32_t i = page_index(r, page);
    uint32_t w = r->slab_map[i / 32];
    w = on ? w | 1u << (i % 32) : w & ~(1u << (i % 32));
    __atomic_store_n(&r->slab_map[i / 32], w, __ATOMIC_RELAXED);
    r->slab_pages += on ? 1 : (uint32_t)-1;
}

/* Is b the block of a slab page (its header on a page marked as a slab)? */
int heap_is_slab_block(const heap_region_t *r, const heap_block_t *b)
{
    return ((uintptr_t)b - r->start) % PAGE_SIZE == 0 && heap_slab_bit(r, (uintptr_t)b);
}

uintptr_t heap_slab_page_of(uintptr_t addr)
{
    heap_region_t *r = heap_region_of(addr);
    if (!r || !r->slab_pages)
        return 0;
    uintptr_t page = r->start + ((addr - r->start) & ~(uintptr_t)(PAGE_SIZE - 1));
    return heap_slab_bit(r, page) ? page : 0;
}

uintptr_t heap_slab_page_next(uintptr_t addr)
{
    uintptr_t best = 0;
    for (int i = 0; i < heap_state.nregions; i++) {
        heap_region_t *r = &heap_state.regions[i];
        uintptr_t page =
            addr <= r->start
                ? r->start
                : r->start + ((addr - r->start + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1));
        for (; r->slab_pages && page < r->end && (!best || page < best); page += PAGE_SIZE) {
            if (heap_slab_bit(r, page)) {
                best = page;
                break;
            }
        }
    }
    return best;
}

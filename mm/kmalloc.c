/*
 * kmalloc.c - the public entry points: kmalloc, kfree, kcalloc, krealloc,
 * kmalloc_aligned, kmalloc_usable_size (and their _debug twins), and the
 * heap's slab pages for slab.c.
 *
 * The way in goes by size: up to SLAB_KMALLOC_MAX bytes to a size-class cache
 * (slab.c, once the virtual heap is up), the rest to a block of the heap
 * (kmalloc_locked: placement, then growing the heap, then giving back the
 * quarantine and empty slabs).  The way out goes by page: a pointer into a
 * page the region's bitmap marks as a slab goes to slab.c, any other to the
 * block checks (heap_checked_block) and back to the free lists.
 *
 *   kmalloc(n)  --n <= 512--> slab_kmalloc --(new slab page)--> heap_slab_page_alloc
 *               --larger---> kmalloc_locked --> heap_find_fit / heap_grow
 *   kfree(p)    --slab page--> slab_kfree
 *               --block----> heap_checked_block --> block_free_now --> heap_shrink
 *
 * Every public function takes the glue lock once, names itself for the reports
 * (heap_state.api, through api_enter) and restores the caller's name on its
 * way out, so a public call made from inside another (a slab constructor's
 * kmalloc) names itself and then its caller again.
 *
 * Debug build (MM_DEBUG, mm_debug.h): with the checks on, a caller's block
 * is asked DBG_TAIL bytes bigger and armed by debug.c (red zones, record,
 * call site in the header's file/line); kfree hands it to debug.c's
 * quarantine, which gives it back later through heap_release_locked.
 * krealloc then always moves.  The heap's own blocks (slab pages) are never
 * armed.  Without MM_DEBUG none of this is compiled.
 *
 * Owns nothing of its own (heap_state's counters of allocations and frees
 * are kept here).  Calls everything below it: heap_region.c, heap_repair.c,
 * heap_fit.c, heap_block.c, slab.c, debug.c.  Not yet one way: slab.c calls
 * back up for its pages (heap_slab_page_alloc/free, at the end of this file),
 * and kmalloc_locked reaps empty slabs (slab_reap_locked) when memory runs
 * short; breaking that circle is issue 10's item 1.  The lock nests (the heap
 * calls the VMM, which calls the PMM).
 */
#include "glue.h"
#include "heap_priv.h"
#include "log.h"
#include "slab.h"

/* A public call begins: its name for the reports (and in the debug build, its call site). */
static const char *api_enter(const char *name, const char *file, uint32_t line)
{
#ifdef MM_DEBUG
    dbg_site(file, line);
#else
    (void)file, (void)line;
#endif
    return heap_api_swap(name);
}

/* ---------------------------------------------------- block allocation ---- */

/* Payload size for a request, or 0 if the request can never be met. */
static size_t request_size(size_t size)
{
    if (size == 0 || size > HEAP_MAX_REQUEST)
        return 0;
    size = (size + HEAP_BLOCK_ALIGN - 1) & ~(size_t)(HEAP_BLOCK_ALIGN - 1);
    return size < MIN_PAYLOAD ? MIN_PAYLOAD : size;
}

static void out_of_memory(const char *fn, size_t size)
{
    if (size > HEAP_MAX_REQUEST) {
        mm_printf("%s: %lu bytes: larger than the heap can ever be\n", fn, (unsigned long)size);
        return;
    }
    if (heap_state.oom_reported)
        return;
    heap_state.oom_reported = 1;
    mm_printf("%s: out of memory: %lu bytes requested, %u bytes free in %u blocks\n", fn,
              (unsigned long)size, (unsigned)heap_state.free, (unsigned)heap_state.free_blocks);
}

static void account_alloc(heap_block_t *b)
{
    heap_state.used += b->size;
    if (heap_state.used > heap_state.peak_used)
        heap_state.peak_used = heap_state.used;
}

static void *kmalloc_locked(const char *fn, size_t size)
{
    size_t need = request_size(size);
    heap_block_t *b = need ? heap_find_fit(fn, need) : NULL;
    if (!b && need)
        b = heap_grow(need); /* the grown last block, free and big enough */
#ifdef MM_DEBUG
    if (!b && need && dbg_on() && dbg_flush_locked()) { /* the quarantine goes back first */
        b = heap_find_fit(fn, need);
        if (!b)
            b = heap_grow(need);
    }
#endif
    if (!b && need && slab_reap_locked()) { /* memory pressure: empty slabs go back first */
        b = heap_find_fit(fn, need);
        if (!b)
            b = heap_grow(need);
    }
    /*
     * What goes to the caller: a sound free block of at least `need` bytes
     * (never smaller than asked, never one that is not free), whose handed-out
     * part hides no other block of the map.  A hidden one means a forged size:
     * every header is rebuilt from the map and the choice made once more.
     */
    heap_region_t *r = NULL;
    for (int tries = 0; b; tries++) {
        if (!heap_free_entry_ok(b) || b->size < need) {
            mm_report("%s: %p: heap chose a block that is not a free block of %lu bytes: refused",
                      fn, block_payload(b), (unsigned long)need);
            b = NULL;
            break;
        }
        r = heap_region_of((uintptr_t)b);
        if (heap_span_ok(r, b, need + HDR + MIN_PAYLOAD))
            break;
        if (tries) {
            b = NULL;
            break;
        }
        heap_span_repair(fn, b);
        b = heap_find_fit(fn, need);
        if (!b)
            b = heap_grow(need);
    }
    if (!b) {
        if (size)
            out_of_memory(fn, size);
        return NULL;
    }
    heap_free_del(r, b);
    heap_block_t *rest = heap_block_split(r, b, need);
    if (rest) {
        /* b was free, so its old next is allocated: rest has no free neighbour. */
        heap_block_set_state(r, rest, 1);
        heap_free_add(r, rest);
    }
    heap_block_set_state(r, b, 0);
    b->file = NULL;
    b->line = 0;
    account_alloc(b);
    heap_state.allocs++;
    return block_payload(b);
}

/* Allocated block b goes back to the free list (and maybe pages to the PMM); fn frees it. */
static void block_free_now(const char *fn, heap_region_t *r, heap_block_t *b)
{
    uint32_t size = b->size;
    heap_state.used -= b->size;
    heap_state.oom_reported = 0;
    heap_block_set_state(r, b, 1);
    heap_block_release(fn, r, b);
    heap_shrink(r, size);
}

static void kfree_locked(const char *fn, heap_region_t *r, heap_block_t *b)
{
    heap_state.frees++;
    block_free_now(fn, r, b);
}

#ifdef MM_DEBUG
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

/* -------------------------------------------------------- public API ---- */

/* Small sizes from the size-class caches (virtual heap only), the rest as blocks. */
static void *alloc_locked(const char *fn, size_t size)
{
    void *p = size <= SLAB_KMALLOC_MAX && size ? slab_kmalloc(size, 1) : NULL;
    if (p) {
        heap_state.allocs++;
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
    const char *api = api_enter("kmalloc", file, line);
    void *p = alloc_locked("kmalloc", size);
    heap_api_swap(api);
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
            heap_state.frees++;
            heap_state.oom_reported = 0;
        }
        return;
    }
    heap_region_t *r;
    heap_block_t *b = heap_checked_block(fn, ptr, &r);
    if (!b)
        return;
#ifdef MM_DEBUG
    if (dbg_on()) { /* into quarantine: the heap gets it back in heap_release_locked */
        heap_state.frees++;
        dbg_free(fn, ptr, block_cap(b), block_rec(b), b, 1);
        return;
    }
#endif
    kfree_locked(fn, r, b);
}

static void kfree_at(void *ptr, const char *file, uint32_t line)
{
    if (!ptr)
        return;
    glue_irqflags_t f = glue_lock();
    const char *api = api_enter("kfree", file, line);
    free_locked("kfree", ptr);
    heap_api_swap(api);
    glue_unlock(f);
}

static void *kcalloc_at(size_t count, size_t size, const char *file, uint32_t line)
{
    glue_irqflags_t f = glue_lock();
    const char *api = api_enter("kcalloc", file, line);
    void *p = NULL;
    if (count && size > (size_t)-1 / count)
        mm_report("kcalloc: %lu * %lu bytes overflows size_t: refused", (unsigned long)count,
                  (unsigned long)size);
    else
        p = alloc_locked("kcalloc", count * size);
    heap_api_swap(api);
    glue_unlock(f);
    if (p)
        memset(p, 0, count * size);
    return p;
}

/* Allocated block b keeps `need` bytes; a tail big enough to stand alone goes back. */
static void block_trim(const char *fn, heap_region_t *r, heap_block_t *b, size_t need)
{
    uint32_t old = b->size;
    heap_block_t *rest = heap_block_split(r, b, need);
    if (rest) {
        heap_state.used -= old - b->size;
        heap_block_set_state(r, rest, 1);
        heap_block_release(fn, r, rest);
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
    uint32_t peak = heap_state.peak_used;
    /* room for a front block, the payload, and a tail that can always be split off */
    char *p = kmalloc_locked(fn, need + align + 2 * (HDR + MIN_PAYLOAD));
    if (!p)
        return NULL;
    heap_block_t *b = block_of(p);
    heap_region_t *r = heap_region_of((uintptr_t)b);
    uintptr_t a = (((uintptr_t)p - skew + align - 1) & ~(uintptr_t)(align - 1)) + skew;
    if (a != (uintptr_t)p) {
        while (a - (uintptr_t)p < HDR + MIN_PAYLOAD)
            a += align; /* the front must be able to stand as a block */
        heap_state.used -= b->size;
        heap_block_t *aligned = heap_block_split(r, b, a - (uintptr_t)p - HDR);
        heap_block_set_state(r, aligned, 0);
        heap_state.used += aligned->size;
        heap_block_set_state(r, b, 1);
        heap_block_release(fn, r, b);
        b = aligned;
    }
    block_trim(fn, r, b, need);
    heap_state.peak_used =
        heap_state.used > peak ? heap_state.used : peak; /* not the over-allocation */
    return b;
}

static void *kmalloc_aligned_at(size_t size, size_t align, const char *file, uint32_t line)
{
    glue_irqflags_t f = glue_lock();
    const char *api = api_enter("kmalloc_aligned", file, line);
    void *result = NULL;
    size_t need = request_size(debug_size(size));
    if (align == 0 || (align & (align - 1))) {
        mm_report("kmalloc_aligned: %lu bytes: alignment %lu is not a power of two",
                  (unsigned long)size, (unsigned long)align);
    } else if (align <= HEAP_BLOCK_ALIGN) {
        result = alloc_locked("kmalloc_aligned", size);
    } else if (size && size <= SLAB_KMALLOC_MAX && (result = slab_kmalloc(size, align))) {
        heap_state.allocs++;
    } else if (!need || align > HEAP_MAX_REQUEST / 2 ||
               need > HEAP_MAX_REQUEST - align - 2 * (HDR + MIN_PAYLOAD)) {
        if (size)
            out_of_memory("kmalloc_aligned", size > HEAP_MAX_REQUEST ? size : (size_t)-1);
    } else {
        heap_block_t *b = aligned_locked("kmalloc_aligned", need, align, 0);
        result = b ? armed(block_payload(b), size) : NULL;
    }
    heap_api_swap(api);
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
    heap_block_t *b = heap_checked_block(fn, ptr, &r);
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
    const char *api = heap_api_swap("kmalloc_usable_size");
    size_t n = usable_locked("kmalloc_usable_size", ptr);
    heap_api_swap(api);
    glue_unlock(f);
    return n;
}

/* Resize b in place if it can be done: shrink, or grow into a free next block. */
static int resize_in_place(heap_region_t *r, heap_block_t *b, size_t need)
{
    heap_block_t *n = b->next;
    if (need > b->size) {
        if (!n || !heap_next_ok("krealloc", r, b) || !n->is_free || b->size + HDR + n->size < need)
            return 0;
        if (!heap_span_ok(r, n, need - b->size + MIN_PAYLOAD)) {
            heap_span_repair("krealloc", n);
            return 0; /* moves, if the heap has room */
        }
        heap_free_del(r, n);
        heap_state.used -= b->size;
        heap_block_merge_next(r, b);
        heap_state.used += b->size;
    }
    block_trim("krealloc", r, b, need);
    if (heap_state.used > heap_state.peak_used)
        heap_state.peak_used = heap_state.used;
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
        heap_state.frees++;
        return NULL;
    }
    if (size <= usable)
        return ptr;
    void *p = alloc_locked("krealloc", size);
    if (p) {
        memcpy(p, ptr, usable);
        slab_kfree("krealloc", page, ptr);
        heap_state.frees++;
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

static void *krealloc_locked(void *ptr, size_t size)
{
    void *result = NULL;
#ifdef MM_DEBUG
    if (dbg_on())
        return krealloc_debug_locked(ptr, size);
#endif
    uintptr_t page = heap_slab_page_of((uintptr_t)ptr);
    if (page)
        return krealloc_slab(page, ptr, size);
    heap_region_t *r;
    heap_block_t *b = heap_checked_block("krealloc", ptr, &r);
    size_t need = request_size(size);
    if (b && size == 0) {
        kfree_locked("krealloc", r, b); /* krealloc(p, 0) frees p and returns NULL */
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
            kfree_locked("krealloc", r, b);
        }
    }
    return result;
}

static void *krealloc_at(void *ptr, size_t size, const char *file, uint32_t line)
{
    if (!ptr)
        return kmalloc_at(size, file, line);
    glue_irqflags_t f = glue_lock();
    const char *api = api_enter("krealloc", file, line);
    void *result = krealloc_locked(ptr, size);
    heap_api_swap(api);
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
    heap_block_t *b = heap_checked_block(heap_api(), obj, &r);
    if (b)
        block_free_now(heap_api(), r, b); /* the call that pushed it out of quarantine */
}
#endif

/* ------------------------------------------------ slab pages (slab.c) ---- */

void *heap_slab_page_alloc(const char *fn)
{
    /* quiet: kmalloc falls back to an ordinary block, kmem_cache_alloc reports */
    int reported = heap_state.oom_reported;
    heap_state.oom_reported = 1;
    heap_block_t *b = aligned_locked(fn, PAGE_SIZE - HDR, PAGE_SIZE, HDR);
    heap_state.oom_reported = reported;
    if (!b)
        return NULL;
    heap_state.allocs--; /* the heap's own use, not a caller's allocation */
    heap_slab_bit_set(heap_region_of((uintptr_t)b), (uintptr_t)b, 1);
    return b;
}

void heap_slab_page_free(void *page)
{
    heap_region_t *r = heap_region_of((uintptr_t)page);
    heap_block_t *b = page;
    /* its header is in band (an overflow of the block below reaches it); the map is not */
    const char *why = r && heap_slab_bit(r, (uintptr_t)page) ? heap_block_problem(r, b) : NULL;
    if (!why && r && heap_slab_bit(r, (uintptr_t)page) && b->size != PAGE_SIZE - HDR)
        why = "size is not a slab page's";
    if (why && !bmap_is_free(&r->map, (uintptr_t)b) && heap_block_rebuild(r, b))
        mm_report("%s: %p: header of the slab page smashed (%s): rebuilt from the block map",
                  heap_api(), page, why);
    if (!r || !heap_slab_bit(r, (uintptr_t)page) || heap_block_problem(r, b) || b->is_free) {
        mm_printf("heap: slab page %p is not a sound slab block: kept\n", page);
        return;
    }
    heap_slab_bit_set(r, (uintptr_t)page, 0);
    kfree_locked(heap_api(), r, b); /* kmem_cache_shrink, kmem_cache_reap, kfree... */
    heap_state.frees--;
}

/*
 * kmalloc.c - the public entry points of the heap: kmalloc, kfree, kcalloc,
 * krealloc, kmalloc_aligned, kmalloc_node, kmalloc_usable_size (and their
 * _debug twins), and mm_debug_flush.
 *
 * The way in goes by size: up to SLAB_KMALLOC_MAX bytes first to this CPU's
 * magazine of the size class (magazine.h, inline, no shared lock), then to
 * the size-class cache (slab.c, once the virtual heap is up); up to BC_MAX
 * (64 KB) first to this CPU's blocks of its class (blockcache.h), then to a
 * block of the class's size; the rest to a block (heap_alloc.c).  When no block is free, the memory
 * that can be given back goes back first (the quarantine, then empty slabs) and the block is asked
 * for again.  The way out goes by page: a slab object first back into this CPU's magazine
 * (magazine.h), else a pointer into a page the region's bitmap marks as a slab goes to slab.c, any
 * other to the block checks (heap_checked_block) and back to the free lists.  Each file below is
 * entered once on either way, and none calls back up:
 *
 *   kmalloc(n)  --n <= 512--> magazine.h: mag_kmalloc (this CPU's, no lock)
 *                 --empty--> magazine.c: mag_take_filled --> slab.c:
 *                            slab_mag_fill --> slab_core.c
 *                 --none---> slab.c: slab_kmalloc --new page--> heap_alloc.c
 *               --n <= 64 KB--> blockcache.h: bc_kmalloc (this CPU's, no lock)
 *               --larger or none--> heap_alloc.c: heap_alloc_block --> heap_fit.c,
 *                            heap_region.c (grow) --> heap_block.c
 *   kfree(p)    --slab object--> magazine.h: mag_kfree (this CPU's, no lock)
 *                 --full---> magazine.c: mag_give_flushed --> slab_core.c:
 *                            slab_mag_flush
 *                 --refused (a check failed, another node's)--> slab.c: slab_kfree
 *               --block of 640 B - 64 KB--> blockcache.h: bc_kfree (this CPU's, no lock)
 *                 --full---> blockcache.c: bc_give_flushed --> heap_alloc.c
 *               --block----> heap_repair.c: heap_checked_block,
 *                            then heap_alloc.c: heap_free_block --> heap_region.c
 *
 * Every public function's shared path takes mm_lock once (the magazine's
 * fast path takes only its CPU's cache lock, and a fill or flush mm_lock
 * inside it), names itself for the reports (heap_enter, through api_enter)
 * and restores the caller's name on its way out, so a public call made from
 * inside another (a slab constructor's kmalloc) names itself and then its
 * caller again.
 *
 * Debug build (MM_DEBUG, mm_debug.h): with the checks on, a caller's block
 * is asked DBG_TAIL bytes bigger and armed by debug.c (red zones, record,
 * call site in the header's file/line); kfree hands it to debug.c's
 * quarantine and gives back to the heap what that pushes out
 * (slab_drain_quarantine).  krealloc then always moves.  The heap's own
 * blocks (slab pages) are never armed.  The hooks are heap_internal.h's:
 * without MM_DEBUG they are inline no-ops and dbg_on() is 0.
 *
 * Owns nothing of its own (heap_state's counters of allocations and frees
 * are kept here).  Calls: magazine.c (and magazine.h's inline path), blockcache.c (and
 * blockcache.h's), slab.c,
 * slab_core.c (the relief, the quarantine's drain), heap_alloc.c,
 * heap_repair.c, heap_region.c (the slab-page bitmap, a page moved to a
 * node), heap_block.c, pmm_node.c (kmalloc_node's node checked), debug.c,
 * lock.c, log.c, string.c.
 */
#include "blockcache.h"
#include "glue.h"
#include "heap_priv.h"
#include "log.h"
#include "magazine.h"
#include "slab.h"

/* A public call begins: its name for the reports (and in the debug build, its call site). */
static heap_call_t api_enter(const char *name, const char *file, uint32_t line)
{
    heap_call_t call = heap_enter(name);
    dbg_site(file, line);
    return call;
}

/* An allocation's public call ends: the lock goes, then a reclaim owed under pressure runs. */
static void alloc_leave(heap_call_t call)
{
    heap_leave(call);
    pmm_reclaim_deferred();
}

/* ---------------------------------------------------- block allocation ---- */

/* A caller's call fails for want of memory: counted; reported once per episode (if on). */
static void out_of_memory(const char *fn, size_t size)
{
    mm_oom_failed();
    if (size > HEAP_MAX_REQUEST) {
        mm_oom_printf("%s: %lu bytes: larger than the heap can ever be\n", fn, (unsigned long)size);
        return;
    }
    if (heap_state.oom_reported || !mm_oom_reports_on())
        return;
    heap_state.oom_reported = 1;
    mm_oom_printf("%s: out of memory: %lu bytes requested, %u bytes free in %u blocks\n", fn,
                  (unsigned long)size, (unsigned)heap_state.free, (unsigned)heap_state.free_blocks);
}

static heap_block_t *block_try(const char *fn, size_t need, size_t align)
{
    return align ? heap_alloc_aligned(fn, need, align, 0) : heap_alloc_block(fn, need);
}

/* Memory pressure: slab_relieve's steps, then the blocks the CPUs keep.  Did it give any back? */
#define RELIEF_STEPS (SLAB_RELIEF_STEPS + 1)
static int relieve(const char *fn, int step)
{
    return step < SLAB_RELIEF_STEPS ? slab_relieve(fn, step) : bc_drain_locked(0) != 0;
}

/*
 * A block of need bytes (aligned as asked: align 0 is any); under memory
 * pressure, after each step of relieve that gave something back, once
 * more.  NULL if the heap still has no room.
 */
static heap_block_t *block_alloc(const char *fn, size_t need, size_t align)
{
    heap_block_t *b = block_try(fn, need, align);
    for (int step = 0; !b && step < RELIEF_STEPS; step++) {
        if (relieve(fn, step))
            b = block_try(fn, need, align);
    }
    return b;
}

/* A caller's block of `size` bytes (the size the heap is asked for), or NULL after a report. */
static void *kmalloc_locked(const char *fn, size_t size)
{
    size_t need = heap_request_size(size);
    heap_block_t *b = need ? block_alloc(fn, need, 0) : NULL;
    if (!b) {
        if (size)
            out_of_memory(fn, size);
        return NULL;
    }
    heap_state.allocs++;
    return block_payload(b);
}

/*
 * A caller's free of b.  Its mark is claimed for the time (blockcache.h) unless
 * the caller holds it (claimed): a CPU's fast free of the same block then
 * fails, and the shared path reports it; a fast free that got there first
 * makes this one the report.
 */
static void kfree_locked(const char *fn, heap_region_t *r, heap_block_t *b, int claimed)
{
    uintptr_t a = (uintptr_t)b;
    size_t size = b->size;
    if (!claimed && !bc_claim(a, size)) {
        mm_report("%s: %p: double free (block is already free: in a CPU's cache)", fn,
                  block_payload(b));
        return;
    }
    heap_state.frees++;
    /* the mark goes as the map says free: then a racing fast free sees a free block */
    if (claimed || bc_claims(a, size))
        heap_free_marked(fn, r, b);
    else
        heap_free_block(fn, r, b);
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

/* -------------------------------------------------------- public API ---- */

static void *alloc_sized(const char *fn, size_t size, int round);

/* Small sizes from the size-class caches (virtual heap only), the rest as blocks. */
static void *alloc_locked(const char *fn, size_t size)
{
    return alloc_sized(fn, size, 1);
}

/* ... a block rounded up to its class for the CPUs' block caches if `round`. */
static void *alloc_sized(const char *fn, size_t size, int round)
{
    void *p = size <= SLAB_KMALLOC_MAX && size ? slab_kmalloc(fn, size, 1) : NULL;
    if (p) {
        heap_state.allocs++;
        return p;
    }
    size_t want = debug_size(size);
    if (want == (size_t)-1) {
        out_of_memory(fn, size);
        return NULL;
    }
    /*
     * A size the CPUs' block caches serve (the growing region's blocks): its
     * class's size, so that any block of the class fits any request of it.
     */
    if (round && !dbg_on() && bc_rounds(size))
        want = bc_class_size(bc_class_of(size));
    return armed(kmalloc_locked(fn, want), size);
}

/* (noinline: the fast path before it builds no frame for it) */
static __attribute__((noinline)) void *kmalloc_shared(size_t size, const char *file, uint32_t line)
{
    void *filled = mag_kmalloc(size); /* the magazine was empty: filled, if it can be */
    if (filled) {
        pmm_reclaim_deferred(); /* (the fill may have taken a slab's page) */
        return filled;
    }
    heap_call_t call = api_enter("kmalloc", file, line);
    void *p = alloc_locked("kmalloc", size);
    if (p && size >= BC_MIN && size <= BC_MAX)
        bc_fill_locked(size); /* this CPU's class was empty: more of it at once */
    alloc_leave(call);
    return p;
}

void *kmalloc_exact_at(size_t size, const char *file, uint32_t line)
{
    heap_call_t call = api_enter("kmalloc", file, line);
    void *p = alloc_sized("kmalloc", size, 0);
    alloc_leave(call);
    return p;
}

static inline __attribute__((always_inline)) void *kmalloc_at(size_t size, const char *file,
                                                              uint32_t line)
{
    /* this CPU's cache of the size class, no lock: a magazine, or blocks above 512 bytes */
    void *fast = size <= SLAB_KMALLOC_MAX ? mag_kmalloc_fill(size, 0)
                 : size <= BC_MAX         ? bc_kmalloc(size)
                                          : NULL;
    return fast ? fast : kmalloc_shared(size, file, line);
}

/* A caller's free of ptr (reported and ignored if ptr is not a live object). */
static void free_locked(const char *fn, void *ptr)
{
    if (dbg_on() && dbg_quarantined(fn, ptr))
        return;
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
    if (dbg_on()) { /* into quarantine; what that pushes out comes back to the heap */
        heap_state.frees++;
        dbg_free(fn, ptr, block_cap(b), block_rec(b), b, 1);
        slab_drain_quarantine(fn, 0);
        return;
    }
    kfree_locked(fn, r, b, 0);
}

static __attribute__((noinline)) void kfree_shared(void *ptr, const char *file, uint32_t line)
{
    if (!ptr)
        return;
    heap_call_t call = api_enter("kfree", file, line);
    free_locked("kfree", ptr);
    heap_leave(call);
}

static inline void kfree_at(void *ptr, const char *file, uint32_t line)
{
    /* this CPU's cache first, no lock: a slab object's magazine, or a block's class */
    if (!mag_kfree(ptr) && !bc_kfree(ptr))
        kfree_shared(ptr, file, line);
}

static void *kcalloc_at(size_t count, size_t size, const char *file, uint32_t line)
{
    size_t bytes;
    int wraps = __builtin_mul_overflow(count, size, &bytes); /* one mul and its carry: no divide */
    void *fast = wraps ? NULL : mag_kmalloc(bytes);
    if (fast) {
        memset(fast, 0, bytes);
        return fast;
    }
    heap_call_t call = api_enter("kcalloc", file, line);
    void *p = NULL;
    if (wraps)
        mm_report("kcalloc: %lu * %lu bytes overflows size_t: refused", (unsigned long)count,
                  (unsigned long)size);
    else
        p = alloc_locked("kcalloc", bytes);
    alloc_leave(call);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static __attribute__((noinline)) void *kmalloc_aligned_shared(size_t size, size_t align,
                                                              const char *file, uint32_t line)
{
    heap_call_t call = api_enter("kmalloc_aligned", file, line);
    void *result = NULL;
    size_t need = heap_request_size(debug_size(size));
    if (align == 0 || (align & (align - 1))) {
        mm_report("kmalloc_aligned: %lu bytes: alignment %lu is not a power of two",
                  (unsigned long)size, (unsigned long)align);
    } else if (align <= HEAP_BLOCK_ALIGN) {
        result = alloc_locked("kmalloc_aligned", size);
    } else if (size && size <= SLAB_KMALLOC_MAX &&
               (result = slab_kmalloc("kmalloc_aligned", size, align))) {
        heap_state.allocs++;
    } else if (!need || align > HEAP_MAX_REQUEST / 2 ||
               need > HEAP_MAX_REQUEST - align - 2 * (HDR + MIN_PAYLOAD)) {
        if (size)
            out_of_memory("kmalloc_aligned", size > HEAP_MAX_REQUEST ? size : (size_t)-1);
    } else {
        heap_block_t *b = block_alloc("kmalloc_aligned", need, align);
        if (b)
            heap_state.allocs++;
        else /* (the size it took: the block cut to the boundary, as the heap saw it) */
            out_of_memory("kmalloc_aligned", need + align + 2 * (HDR + MIN_PAYLOAD));
        result = b ? armed(block_payload(b), size) : NULL;
    }
    alloc_leave(call);
    return result;
}

static inline void *kmalloc_aligned_at(size_t size, size_t align, const char *file, uint32_t line)
{
    /* 1, 2, 4, 8 (and 16 on x86_64): kmalloc's alignment is enough (no popcount: a table) */
    const uint32_t powers = 0x10116u & ((2u << HEAP_BLOCK_ALIGN) - 1);
    void *fast = align <= HEAP_BLOCK_ALIGN && (powers >> align) & 1 ? mag_kmalloc(size) : NULL;
    return fast ? fast : kmalloc_aligned_shared(size, align, file, line);
}

/*
 * kmalloc_node's block (more than SLAB_KMALLOC_MAX bytes, or no size classes
 * yet): whole pages, its header at the first one's start as a slab page's,
 * so no other block shares them; each page then moved onto the node
 * (heap_rehome).  NULL, quiet (the caller reports): no memory, or strict and
 * the node has no free page (the block goes back).
 */
static void *block_node_locked(const char *fn, size_t size, int node)
{
    size_t want = debug_size(size);
    if (want == (size_t)-1 || want > HEAP_MAX_REQUEST - PAGE_SIZE)
        return NULL;
    size_t pages = (want + HDR + PAGE_SIZE - 1) / PAGE_SIZE;
    size_t need = pages * PAGE_SIZE - HDR;
    heap_block_t *b = heap_alloc_aligned(fn, need, PAGE_SIZE, HDR);
    for (int step = 0; !b && step < RELIEF_STEPS; step++) {
        if (relieve(fn, step))
            b = heap_alloc_aligned(fn, need, PAGE_SIZE, HDR);
    }
    for (size_t i = 0; b && i < pages; i++) {
        if (heap_rehome(fn, (uintptr_t)b + i * PAGE_SIZE, node, i ? 0 : (unsigned)HDR) < 0) {
            heap_free_block(fn, heap_region_of((uintptr_t)b), b);
            b = NULL;
        }
    }
    if (!b)
        return NULL;
    heap_state.allocs++;
    return armed(block_payload(b), size);
}

static void *kmalloc_node_at(size_t size, int node, const char *file, uint32_t line)
{
    /* (the CPU's cache holds its node's objects; one node: any block is on it) */
    if (node == PMM_NODE_ANY && (size <= SLAB_KMALLOC_MAX || pmm_node_count() <= 1))
        return kmalloc_at(size, file, line);
    heap_call_t call = api_enter("kmalloc_node", file, line);
    void *p = NULL;
    if (size && slab_node_ok("kmalloc_node", node)) {
        p = size <= SLAB_KMALLOC_MAX ? slab_kmalloc_node("kmalloc_node", size, 1, node) : NULL;
        if (p)
            heap_state.allocs++;
        else
            p = block_node_locked("kmalloc_node", size, node);
        if (!p) {
            mm_oom_failed();
            mm_oom_printf("kmalloc_node: %lu bytes on node %d%s: out of memory\n",
                          (unsigned long)size, node == PMM_NODE_ANY ? -1 : node & ~PMM_NODE_STRICT,
                          node != PMM_NODE_ANY && node & PMM_NODE_STRICT ? " (strict)" : "");
        }
    }
    alloc_leave(call);
    return p;
}

/* Bytes usable at ptr (the debug build: exactly what was asked), or 0 after a report. */
static size_t usable_locked(const char *fn, void *ptr)
{
    if (dbg_on() && dbg_quarantined(fn, ptr))
        return 0;
    uintptr_t page = heap_slab_page_of((uintptr_t)ptr);
    if (page)
        return slab_usable(fn, page, ptr);
    heap_region_t *r;
    heap_block_t *b = heap_checked_block(fn, ptr, &r);
    if (b && dbg_on())
        return dbg_user_size(block_rec(b), block_cap(b));
    return b ? b->size : 0;
}

size_t kmalloc_usable_size(void *ptr)
{
    if (!ptr)
        return 0;
    heap_call_t call = heap_enter("kmalloc_usable_size");
    size_t n = usable_locked("kmalloc_usable_size", ptr);
    heap_leave(call);
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
    heap_block_trim("krealloc", r, b, need);
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

static void *krealloc_locked(void *ptr, size_t size)
{
    void *result = NULL;
    if (dbg_on())
        return krealloc_debug_locked(ptr, size);
    uintptr_t page = heap_slab_page_of((uintptr_t)ptr);
    if (page)
        return krealloc_slab(page, ptr, size);
    heap_region_t *r;
    heap_block_t *b = heap_checked_block("krealloc", ptr, &r);
    size_t need = heap_request_size(size);
    /* its mark held throughout (if it can have one): no CPU's fast free of it gets in */
    uintptr_t a = (uintptr_t)b;
    int claimed = b && bc_claims(a, b->size);
    if (claimed && !bc_mark_try(a)) {
        mm_report("krealloc: %p: double free (block is already free: in a CPU's cache)", ptr);
        return NULL;
    }
    if (b && size == 0) {
        kfree_locked("krealloc", r, b, claimed); /* krealloc(p, 0) frees p and returns NULL */
        claimed = 0;                             /* (the free let the mark go) */
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
            kfree_locked("krealloc", r, b, claimed);
            claimed = 0;
        }
    }
    if (claimed) /* still allocated, in the region: its mark's page is there */
        heap_mark_clear(a);
    return result;
}

static void *krealloc_at(void *ptr, size_t size, const char *file, uint32_t line)
{
    heap_call_t call = api_enter("krealloc", file, line);
    /* krealloc(NULL, n) is kmalloc(n), named krealloc in its reports */
    void *result = ptr ? krealloc_locked(ptr, size) : alloc_locked("krealloc", size);
    alloc_leave(call);
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

void *(kmalloc_node)(size_t size, int node)
{
    return kmalloc_node_at(size, node, NULL, 0);
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

void *kmalloc_node_debug(size_t size, int node, const char *file, uint32_t line)
{
    return kmalloc_node_at(size, node, file, line);
}

/* Every object in quarantine back to the heap now (each checked first): how many. */
uint32_t mm_debug_flush(void)
{
    heap_call_t call = heap_enter("mm_debug_flush");
    uint32_t n = slab_drain_quarantine("mm_debug_flush", 1);
    heap_leave(call);
    return n;
}
#endif

/* mm_set_block_cache: the CPUs' block caches (blockcache.c) on or off. */
int mm_set_block_cache(int on)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags);
    heap_call_t call = heap_enter("mm_set_block_cache");
    int was = !slab_all.bc_off;
    __atomic_store_n(&slab_all.bc_off, !on, __ATOMIC_RELAXED);
    if (!on)
        bc_drain_locked(held);
    heap_leave(call);
    mag_unlock_all(held, flags);
    return was;
}

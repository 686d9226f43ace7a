/*
 * blockcache.h - the per-CPU block caches' fast path (blockcache.c), for
 * kmalloc.c: kmalloc of 513 B to 64 KB and kfree of such a block on the
 * local CPU without mm/'s lock, in the common case.  NULL or 0 means "take
 * the shared path" (which reports, if there is anything to report).
 */
#ifndef MM_BLOCKCACHE_H
#define MM_BLOCKCACHE_H

#include "names_priv.h"

#include <stddef.h>
#include <stdint.h>

#include "bits.h"
#include "blockmap.h"
#include "magazine.h"

/* A CPU's busy_slot while its blocks go back under the lock (bc_give_flushed). */
#define BC_BUSY (NCACHES + 1)

/* The class of a request of n bytes, BC_MIN <= n <= BC_MAX: the first whose size holds n. */
static inline unsigned bc_class_of(size_t n)
{
    uint32_t m = (uint32_t)n - 1;
    unsigned d = bits_highest(m) - 9; /* m in [2^(9+d), 2^(10+d)) */
    return d * 4 + ((m >> (d + 7)) & 3);
}

/* The size of class c: 512 << d, plus a quarter of that for each step of c within d. */
static inline uint32_t bc_class_size(unsigned c)
{
    unsigned d = c / 4;
    return (512u << d) + (c % 4 + 1) * (128u << d);
}

/* The class a block of s payload bytes (s >= bc_class_size(0)) serves: the largest it holds. */
static inline unsigned bc_class_floor(size_t s)
{
    if (s >= BC_MAX)
        return BC_CLASSES - 1;
    unsigned c = bc_class_of(s);
    return bc_class_size(c) == s ? c : c - 1;
}

/*
 * The bytes a CPU may keep now: an eighth of the growing region (its map's
 * span, read without the lock), at least BC_CPU_FLOOR, at most BC_CPU_BYTES.
 * A heap of a few megabytes does not leave a megabyte idle on each CPU; a big
 * one keeps enough that a random mix of sizes seldom misses (thread_bench,
 * random 8 B-64 KB: a 4 MB budget misses a twentieth as often as 1 MB did).
 */
static inline uint32_t bc_budget(const bmap_t *map)
{
    uint32_t span = __atomic_load_n(&map->words, __ATOMIC_RELAXED) * (32 * BMAP_GRANULE / BC_SHARE);
    uint32_t floor = BC_CPU_FLOOR < BC_CPU_BYTES ? BC_CPU_FLOOR : BC_CPU_BYTES;
    return span < floor ? floor : span > BC_CPU_BYTES ? BC_CPU_BYTES : span;
}

/* The largest block a CPU takes: the top class and a remainder too small to have been split. */
#define BC_BLOCK_MAX (BC_MAX + HEAP_HEADER_SIZE + 2 * sizeof(void *))

/*
 * The block whose header is at b (in the growing region): its mark set, if it
 * was clear: 1, the caller owns the block until heap_mark_clear; 0: someone
 * else has it (a CPU's cache, a free under way), or b is not in the region.
 */
static inline int bc_mark_try(uintptr_t b)
{
    unsigned bit;
    uint32_t *w = heap_mark_word(b, &bit);
    return w && !slab_test_and_set(w, bit);
}

/*
 * The shared path's free or resize of the block at b (size bytes), under
 * mm/'s lock: does it have a mark to claim (a block a CPU may cache)?  Then
 * bc_claim claims it for the time (a CPU's fast free of it then fails, and
 * the shared path reports that): 1, go on (or nothing to claim); 0, it was
 * marked: a double free racing a CPU's.  A free lets it go as the map says
 * free (heap_free_marked), a resize with heap_mark_clear.
 */
static inline int bc_claims(uintptr_t b, size_t size)
{
    return size > SLAB_KMALLOC_MAX && heap_mark_covers(b);
}

static inline int bc_claim(uintptr_t b, size_t size)
{
    return !bc_claims(b, size) || bc_mark_try(b);
}

/*
 * The cold half of bc_kfree: pc's class c is full, or pc is over its budget:
 * the older blocks back to the heap under the lock, then ptr in (or back too);
 * pc's lock and the interrupts let go.
 */
__attribute__((noinline)) void bc_give_flushed(slab_cpu_t *pc, unsigned c, void *ptr,
                                               glue_irqflags_t flags);

/*
 * The cold half of bc_kmalloc: the newest block of pc's class c had its header
 * written after it was freed (a caller's use after free): reported, its header
 * rebuilt from the block map and the block back to the heap, under the lock;
 * pc's lock and the interrupts let go.  NULL: the shared path.
 */
__attribute__((noinline)) void *bc_take_scribbled(slab_cpu_t *pc, unsigned c,
                                                  glue_irqflags_t flags);

/* kmalloc(size), BC_MIN <= size <= BC_MAX, from this CPU's blocks of its class, or NULL. */
static inline __attribute__((always_inline)) void *bc_kmalloc(size_t size)
{
    glue_irqflags_t flags;
    slab_cpu_t *pc = mag_cpu_enter(&flags);
    if (!pc)
        return NULL;
    unsigned c = bc_class_of(size);
    bc_mag_t *m = &pc->blk[c];
    uint32_t n = m->n;
    if (!n) {
        mag_cpu_leave(pc, flags);
        return NULL;
    }
    void *p = m->blk[n - 1];
    const heap_block_t *h = (const heap_block_t *)((uintptr_t)p - HEAP_HEADER_SIZE);
    if (__builtin_expect(h->magic != HEAP_MAGIC_ALLOC || h->is_free, 0))
        return bc_take_scribbled(pc, c, flags); /* written after its free: reported */
    m->n = n - 1;
    pc->blk_bytes -= bc_class_size(c);
    pc->blk_allocs++;
    heap_mark_clear((uintptr_t)p - HEAP_HEADER_SIZE); /* the caller's now */
    mag_cpu_leave(pc, flags);
    return p;
}

/*
 * kfree(ptr) into this CPU's blocks: 1, or 0 (not an allocated block of the
 * growing region of 640 B to 64 KB by its map, or marked: in a cache already,
 * or a free under way; or this CPU has no cache now; or mm/'s lock was held
 * meanwhile).  Its size is the map's, never the header's (which an overflow
 * can forge): the next block start after it (bmap_fast_block_size).  All of
 * it with no holder of mm/'s lock at work from the first read to the last
 * (mm_lock_seq): inside one hold, the heap makes blocks that are no caller's
 * look like one for a moment (an aligned block's front, a slab page before
 * its bit, a CPU's fill before its mark), and a stale or wild free of such a
 * block must not cache it (a hostile test did: the block was then handed out
 * twice).  The map changes only under the lock, so the same sequence number
 * before the first read and after the mark is claimed says the size read is
 * still the map's: a free or resize that got in between would have changed
 * it (no second read of the map).  Every check that fails here goes to the
 * shared path, which reports.
 */
static inline __attribute__((always_inline)) int bc_kfree(void *ptr)
{
    uintptr_t b = (uintptr_t)ptr - HEAP_HEADER_SIZE;
    uintptr_t base = __atomic_load_n(&heap_quick.base, __ATOMIC_ACQUIRE);
    if (b - base >= HEAP_VIRTUAL_LIMIT || __atomic_load_n(&slab_all.bc_off, __ATOMIC_RELAXED))
        return 0; /* (base 0: no growing region) */
    const bmap_t *map = __atomic_load_n(&heap_quick.blocks, __ATOMIC_ACQUIRE);
    glue_irqflags_t flags;
    slab_cpu_t *pc = mag_cpu_enter(&flags);
    if (!pc)
        return 0;
    size_t s = 0;
    for (int tries = 0;; tries++) { /* (again once if a holder came by: it seldom does) */
        uint32_t seq = mm_lock_seq_quiet();
        s = map && !(seq & 1) ? bmap_fast_block_size(map, b, BC_BLOCK_MAX) : 0;
        if (s < bc_class_size(0) || heap_slab_page_quick((uintptr_t)ptr) || !bc_mark_try(b))
            goto shared;
        if (mm_lock_seq_still(seq))
            break;
        heap_mark_clear(b);
        if (tries)
            goto shared;
    }
    /*
     * Its mark held since a moment when the map said so (no holder since the
     * first read), the block is an allocated one of s bytes and stays so,
     * mapped: only a holder of its mark frees or resizes it.  (Its header is
     * read only now: a block freed and its page unmapped by a holder between
     * the first read and the mark would fault.)  The header must agree with
     * the map, else the shared path reports and rebuilds it.
     */
    const heap_block_t *h = (const heap_block_t *)b;
    if (h->magic != HEAP_MAGIC_ALLOC || h->size != s || h->is_free) {
        heap_mark_clear(b);
        goto shared;
    }
    unsigned c = bc_class_floor(s);
    bc_mag_t *m = &pc->blk[c];
    if (m->n == BC_ROUNDS || pc->blk_bytes + bc_class_size(c) > bc_budget(map)) {
        bc_give_flushed(pc, c, ptr, flags);
        return 1;
    }
    m->blk[m->n++] = ptr;
    pc->blk_bytes += bc_class_size(c);
    pc->blk_frees++;
    mag_cpu_leave(pc, flags);
    return 1;
shared:
    mag_cpu_leave(pc, flags);
    return 0;
}

/* The blocks a CPU serves get their class's size (kmalloc.c): the caches on, for this size? */
static inline int bc_rounds(size_t size)
{
    return size >= BC_MIN && size <= BC_MAX && BC_CPU_BYTES != 0 &&
           __atomic_load_n(&heap_quick.base, __ATOMIC_RELAXED) &&
           !__atomic_load_n(&slab_all.bc_off, __ATOMIC_RELAXED);
}

/*
 * After a miss of this CPU's class for size, whose caller's block the heap
 * just gave (mm/'s lock held): up to BC_FILL - 1 more blocks of the class from
 * the heap's free lists (never a growth) into this CPU's cache, within its
 * budget.  Nothing if this CPU's cache is busy (held by a drain or the
 * statistics, or this CPU is inside mm/ from its own fast path's cold half).
 */
void bc_fill_locked(size_t size);
/*
 * Every block the CPUs keep back to the heap (mm/'s lock held).  The CPUs in
 * `held` have their cache locks held by the caller; the others are tried, and
 * a busy one is left alone.  Returns the blocks moved.
 */
size_t bc_drain_locked(uint32_t held);
/*
 * heap_quick.map_trim (mm/'s lock held): the block map's pages past the
 * growing region back to the PMM if every other CPU's cache lock can be had
 * (this CPU, under the lock, is on no fast free).
 */
void bc_map_trim_locked(void);
/*
 * The blocks the CPUs keep, their bytes (the map's sizes), and the callers'
 * calls they served (mm/'s lock held, and every CPU's cache lock for exact
 * figures).
 */
void bc_totals(uint32_t *blocks, uint32_t *bytes, uint32_t *allocs, uint32_t *frees);
/*
 * heap_check's part: every cached block an allocated block of its class by
 * the map, marked; with every CPU's cache lock held (`held` MAG_ALL), as many
 * marks as cached blocks.  The number of broken invariants (each reported).
 */
int bc_check(uint32_t held);

#endif /* MM_BLOCKCACHE_H */

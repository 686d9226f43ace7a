/*
 * blockcache.c - per-CPU caches of heap blocks: kmalloc of 513 B to 64 KB and
 * kfree of such a block take no shared lock in the common case.
 *
 * Theory of operation
 * -------------------
 * Sizes up to SLAB_KMALLOC_MAX are the slabs' and their magazines'
 * (magazine.c).  Above that every kmalloc and kfree took mm/'s lock for the
 * heap's free lists, and two CPUs allocating such sizes took turns at it
 * (thread_bench, random 8 B - 64 KB: two threads made 0.55x the operations
 * of one).  So each CPU keeps, beside its magazines (slab_cpu_t.blk), up to
 * BC_ROUNDS freed blocks of each of BC_CLASSES size classes, four to a
 * doubling from 640 B to 64 KB, and at most BC_CPU_BYTES in all:
 *
 *   kmalloc(n)  the newest block of n's class (blockcache.h: bc_kmalloc), or
 *               the shared path, which asks the heap for the class's size
 *               (kmalloc.c: a block is at most a quarter bigger than asked),
 *               so any block of the class serves any request of it, and
 *               BC_FILL - 1 more for the cache if the free lists have them
 *               (bc_fill_locked);
 *   kfree(p)    onto its class on this CPU (bc_kfree); a full class gives
 *               its older half back to the heap under the lock, a CPU over
 *               its budget the older half of every class, as often as it
 *               takes (bc_give_flushed).
 *
 * A CPU's budget follows the heap (blockcache.h: bc_budget): an eighth of
 * the growing region, 256 KB to 4 MB.  Why these figures: with random sizes
 * of 8 B to 64 KB each class's count is a random walk between empty (a miss:
 * mm/'s lock) and full (a flush: mm/'s lock).  Eight rounds, one block a miss
 * and 1 MB took the lock on 12% of the calls (MM_SHIM_STATS, thread_bench
 * large), and two threads made fewer calls than one; sixteen rounds, four
 * blocks a miss and a budget of 4 MB let the walk wander far from both ends.
 *
 * A cached block is still an allocated block of the heap (heap_used and
 * block_count count it; get_memory_stats says how many and how big in
 * heap_cpu_cached and heap_cpu_cached_bytes).  So the heap never hands it out,
 * never merges it, and every one of its checks stays as it was.  What marks
 * it as freed is out of band, where no overflow reaches: its bit in
 * bmap_marks (blockmap.h), set with a locked bit-test-and-set.  Whoever sets a mark
 * owns the block until it clears it:
 *
 *   check             how, on the fast free path                     cost
 *   wild pointer      outside the growing region, or a slab page,    a compare;
 *                     or no block of the map starts there             a load
 *   interior pointer  no block start of the map at ptr - header      (the same)
 *   double free       the map's free bit; or the mark already set    a load;
 *                     (in a CPU's cache, or a free under way)         lock bts
 *   forged size       the size is the map's, never the header's:     a scan of
 *                     the next start after it                         1-3 words
 *
 * The shared path claims the mark too for every free or resize of a block
 * that could be cached (kmalloc.c: bc_claim): two CPUs freeing one block at
 * once end in one free and one report, whichever path each took.  The fast
 * free reads the map without the lock, so the map is written a whole word
 * at a time (blockmap.c), and the growing region's map keeps its pages when
 * the heap shrinks until every CPU's cache lock is held (heap_map_trim_locked,
 * from kmem_cache_reap).
 *
 * Locks: a CPU's cache lock (slab_priv.h), then mm/'s lock for a flush; a
 * drain from under mm/'s lock only tries the other CPUs' cache locks, as
 * slab_cpu_drain does.  The debug build with its checks on takes the shared
 * path (red zones and the quarantine are per block).
 *
 * Owns no state (the caches are slab_core.c's slab_all.cpu, the marks
 * heap_region.c's heap_quick).  Calls heap_alloc.c (heap_release_cached),
 * blockmap.c, heap_region.c (the growing region), lock.c, log.c.
 */
#include "blockcache.h"
#include "heap_priv.h"
#include "log.h"

/* A cached block back to the heap (mm/'s lock held); its mark goes as the map says free. */
static void flush_block(void *p)
{
    heap_release_cached("kfree", p);
}

/* The oldest `out` blocks of pc's class c back to the heap. */
static void flush_class(slab_cpu_t *pc, unsigned c, uint32_t out)
{
    bc_mag_t *m = &pc->blk[c];
    for (uint32_t k = 0; k < out; k++)
        flush_block(m->blk[k]);
    for (uint32_t k = out; k < m->n; k++)
        m->blk[k - out] = m->blk[k];
    m->n -= out;
    pc->blk_bytes -= out * bc_class_size(c);
}

void bc_give_flushed(slab_cpu_t *pc, unsigned c, void *ptr, glue_irqflags_t flags)
{
    pc->busy_slot = BC_BUSY;
    heap_call_t call = heap_enter("kfree");
    const bmap_t *map = heap_quick.blocks; /* (ptr is a block of it: bc_kfree) */
    if (pc->blk[c].n == BC_ROUNDS)
        flush_class(pc, c, BC_ROUNDS / 2);
    /* the older half of each class, again while over (the budget falls as the heap shrinks) */
    while (pc->blk_bytes && pc->blk_bytes + bc_class_size(c) > bc_budget(map)) {
        for (unsigned k = 0; k < BC_CLASSES; k++)
            flush_class(pc, k, (pc->blk[k].n + 1) / 2);
    }
    if (pc->blk_bytes + bc_class_size(c) > bc_budget(map)) {
        flush_block(ptr); /* (a budget below the class's size: it never stays) */
    } else {
        bc_mag_t *m = &pc->blk[c];
        m->blk[m->n++] = ptr;
        pc->blk_bytes += bc_class_size(c);
    }
    pc->blk_frees++;
    heap_leave(call);
    pc->busy_slot = NCACHES;
    mag_cpu_leave(pc, flags);
}

void bc_fill_locked(size_t size)
{
    int cpu = glue_cpu_id();
    const bmap_t *map = heap_quick.blocks;
    if ((unsigned)cpu >= MM_MAX_CPUS || !map || !bc_rounds(size) || dbg_on())
        return;
    slab_cpu_t *pc = &slab_all.cpu[cpu];
    /*
     * Its owner's way in (this CPU, so no other is on its fast path), unless
     * this CPU is inside mm/ from its own fast path's cold half (busy_slot:
     * a ctor's kmalloc), whose cache is held further up this call.
     */
    if (pc->busy_slot != NCACHES || !cpu_cache_enter(pc))
        return;
    unsigned c = bc_class_of(size);
    uint32_t want = bc_class_size(c);
    bc_mag_t *m = &pc->blk[c];
    uint32_t n0 = m->n;
    for (unsigned k = 1; k < BC_FILL && m->n < BC_ROUNDS && pc->blk_bytes + want <= bc_budget(map);
         k++) {
        heap_block_t *b = heap_alloc_spare("kmalloc", want);
        if (!b)
            break;
        /*
         * One the fast free would take: the region's last block is not (its size
         * is no next start's), and a free block has no mark (heap_check says why).
         */
        if (bmap_fast_block_size(map, (uintptr_t)b, BC_BLOCK_MAX) < want ||
            !bc_mark_try((uintptr_t)b)) {
            heap_free_block("kmalloc", heap_region_of((uintptr_t)b), b);
            break;
        }
        m->blk[m->n++] = block_payload(b);
        pc->blk_bytes += want;
    }
    /* the first taken (the lowest, cut one after another) handed out first, as a heap would */
    for (uint32_t i = n0, j = m->n; i + 1 < j; i++, j--) {
        void *t = m->blk[i];
        m->blk[i] = m->blk[j - 1];
        m->blk[j - 1] = t;
    }
    cpu_cache_exit(pc);
}

void *bc_take_scribbled(slab_cpu_t *pc, unsigned c, glue_irqflags_t flags)
{
    bc_mag_t *m = &pc->blk[c];
    void *p = m->blk[--m->n];
    pc->blk_bytes -= bc_class_size(c);
    pc->busy_slot = BC_BUSY;
    heap_call_t call = heap_enter("kmalloc");
    mm_report("kmalloc: %p: block header smashed while the block was free in a CPU's cache "
              "(written after kfree?): rebuilt from the block map, the block back to the heap",
              p);
    heap_block_t *b = (heap_block_t *)((uintptr_t)p - HDR);
    heap_region_t *r = heap_region_of((uintptr_t)b);
    heap_block_rebuild(r, b); /* (an allocated block by the map) */
    heap_free_marked("kmalloc", r, b);
    heap_leave(call);
    pc->busy_slot = NCACHES;
    mag_cpu_leave(pc, flags);
    return NULL;
}

size_t bc_drain_locked(uint32_t held)
{
    size_t moved = 0;
    uint32_t got = cpu_cache_try_all(held), quiet = held | got;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        slab_cpu_t *pc = &slab_all.cpu[cpu];
        /*
         * A CPU whose lock is neither held nor got: this one, inside mm/ from
         * its own fast path (a magazine's fill or flush, a ctor, a reclaim
         * hook, or its blocks' flush), is not reading the block map, and its
         * blocks hold still unless they are on their way already (BC_BUSY);
         * any other is left alone.
         */
        if (!((quiet >> cpu) & 1)) {
            if ((int)cpu != glue_cpu_id() || !mm_lock_held())
                continue;
            quiet |= 1u << cpu;
            if (pc->busy_slot == NCACHES) /* (its lock another's, who waits for mm/'s) */
                continue;
        }
        if (pc->busy_slot == BC_BUSY)
            continue;
        for (unsigned c = 0; c < BC_CLASSES; c++) {
            moved += pc->blk[c].n;
            flush_class(pc, c, pc->blk[c].n);
        }
    }
    /* no CPU reading the block map: the pages a shrink left it go back too (heap_region.c) */
    if (quiet == MAG_ALL && heap_map_trim_locked())
        moved++;
    cpu_cache_unlock_set(got);
    return moved;
}

void bc_map_trim_locked(void)
{
    uint32_t got = cpu_cache_try_all(0), quiet = got;
    int me = glue_cpu_id();
    if (me >= 0 && me < MM_MAX_CPUS)
        quiet |= 1u << me;
    if (quiet == MAG_ALL)
        (void)heap_map_trim_locked();
    cpu_cache_unlock_set(got);
}

/* The payload bytes of cached block p by the map (0: not an allocated block of the region). */
static uint32_t cached_size(const void *p)
{
    const bmap_t *map = heap_quick.blocks;
    return map ? (uint32_t)bmap_fast_block_size(map, (uintptr_t)p - HDR, BC_BLOCK_MAX) : 0;
}

void bc_totals(uint32_t *blocks, uint32_t *bytes, uint32_t *allocs, uint32_t *frees)
{
    *blocks = *bytes = *allocs = *frees = 0;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        const slab_cpu_t *pc = &slab_all.cpu[cpu];
        for (unsigned c = 0; c < BC_CLASSES; c++) {
            *blocks += pc->blk[c].n;
            for (uint32_t k = 0; k < pc->blk[c].n; k++)
                *bytes += cached_size(pc->blk[c].blk[k]);
        }
        *allocs += pc->blk_allocs;
        *frees += pc->blk_frees;
    }
}

#define check_failed(where, what) mm_check_failed("heap_check", where, what, NULL)

int bc_check(uint32_t held)
{
    int errors = 0;
    uint32_t cached = 0;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        const slab_cpu_t *pc = &slab_all.cpu[cpu];
        uint32_t bytes = 0;
        for (unsigned c = 0; c < BC_CLASSES; c++) {
            const bc_mag_t *m = &pc->blk[c];
            if (m->n > BC_ROUNDS) {
                errors += check_failed(NULL, "a CPU's block cache holds more than it can");
                break;
            }
            for (uint32_t k = 0; k < m->n; k++) {
                void *p = m->blk[k];
                uint32_t s = cached_size(p);
                if (!s || s < bc_class_size(0) || bc_class_floor(s) != c)
                    errors += check_failed(p, "a CPU's cached block is not an allocated block "
                                              "of its class by the block map");
                else if (heap_slab_page_quick((uintptr_t)p))
                    errors += check_failed(p, "a CPU's cached block is a slab page");
                else if (!heap_block_marked((uintptr_t)p - HDR))
                    errors += check_failed(p, "a CPU's cached block is not marked");
                bytes += bc_class_size(c);
                cached++;
            }
        }
        if (bytes != pc->blk_bytes)
            errors += check_failed(NULL, "a CPU's block cache miscounts its bytes");
    }
    heap_region_t *r = heap_growing_region();
    if (held != MAG_ALL || !r) /* a CPU on its fast path may hold a mark for a moment */
        return errors;
    uint32_t marks = 0, words = bmap_mark_bytes(r->map.words) / 4;
    for (uint32_t w = 0; w < words; w += HEAP_MARK_STRIDE) /* (the words between: always 0) */
        marks += bits_popcount(__atomic_load_n(&r->map.marks[w], __ATOMIC_RELAXED));
    if (marks != cached)
        errors += check_failed((void *)r->start, "the block marks and the CPUs' cached blocks "
                                                 "differ (a block cached twice?)");
    return errors;
}

/*
 * heap_init.c - the heap's life: memory_init (Phase 1: the early heap),
 * heap_init_virtual (Phase 2: the virtual heap, and the slabs on it) and
 * heap_reserve.
 *
 * Each sets up the layers in order, bottom first: the regions
 * (heap_region.c), then what stands on them, the debug state (debug.c) and
 * the slabs (slab_core.c, whose descriptors and size classes depend on the
 * debug mode).  heap_init_virtual also registers the PMM's reclaim hook: when the
 * PMM runs dry, kmem_cache_reap gives it the empty slabs and the heap's free
 * tail (as Linux's shrinkers).
 *
 * Owns nothing.  Calls: heap_region.c, heap_block.c (the name for the
 * reports), slab_core.c, kmem_cache.c (the hook's function), debug.c,
 * pmm_alloc.c (the hook registered), kmap.c (is paging up?), lock.c, log.c.
 * Each public function takes mm_lock and names itself for the reports.
 */
#include "blockcache.h"
#include "glue.h"
#include "heap_priv.h"
#include "kmap.h"
#include "lock.h"
#include "log.h"
#include "pmm.h"
#include "slab.h"

void memory_init(void)
{
    glue_irqflags_t f = mm_lock();
    heap_region_reset();
    heap_state.api = "memory_init";
    mm_log_reset();
    dbg_reset(); /* before slab_reset: the size classes are laid out for the mode */
    slab_reset();
    heap_region_add((uintptr_t)glue_phys_to_virt(HEAP_START), INITIAL_HEAP_SIZE, 0); /* static */
    heap_state.api = NULL; /* no public call is running */
    mm_unlock(f);
}

void heap_init_virtual(void)
{
    heap_call_t call = heap_enter("heap_init_virtual");
    if (!kmap_ready()) {
        mm_report("heap_init_virtual: 0x%08x: paging is off (vmm_init, or glue_kmap_ready, first)",
                  (unsigned)HEAP_VIRTUAL_START);
    } else if (heap_growing_region()) {
        mm_report("heap_init_virtual: 0x%08x: the virtual heap already exists",
                  (unsigned)HEAP_VIRTUAL_START);
    } else if (heap_region_init_virtual() == 0) {
        slab_enable();
        pmm_register_reclaim(kmem_cache_reap);    /* the PMM, when dry: empty slabs, free tail */
        heap_quick.map_trim = bc_map_trim_locked; /* a shrink's block-map pages, when safe */
    }
    heap_leave(call);
}

void heap_reserve(size_t bytes)
{
    heap_call_t call = heap_enter("heap_reserve");
    heap_region_t *r = heap_growing_region();
    if (!r) {
        mm_report("heap_reserve: 0x%08x: no virtual heap (heap_init_virtual first)",
                  (unsigned)HEAP_VIRTUAL_START);
    } else if (bytes > HEAP_VIRTUAL_LIMIT - HDR) {
        mm_report("heap_reserve: 0x%08x: %lu bytes: more than the virtual heap can hold",
                  (unsigned)HEAP_VIRTUAL_START, (unsigned long)bytes);
    } else {
        uint32_t want = (uint32_t)((bytes + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1));
        if (heap_region_reserve(r, want) < 0 || slab_meta_reserve(r->start, want) < 0) {
            mm_oom_failed();
            mm_oom_printf("heap_reserve: no memory to map %u KB: reserve not made\n",
                          (unsigned)(want / 1024));
        } else {
            heap_state.reserve = want > heap_state.reserve ? want : heap_state.reserve;
        }
    }
    heap_leave(call);
}

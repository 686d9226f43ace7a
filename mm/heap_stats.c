/*
 * heap_stats.c - what the heap says about itself: get_memory_stats,
 * heap_dump (every block, one line each) and heap_check (every invariant of
 * heap_block.c walked and re-added: the number of broken ones), and the
 * debug build's reports that need the heap: mm_debug_get_stats and
 * heap_profile (the fragmentation index).
 *
 * Reads heap_state and the regions; changes nothing but what a walk repairs
 * (a forged free list is rebuilt by get_memory_stats' scan).  Calls
 * heap_region.c (the slab-page bitmap), heap_block.c, blockmap.c, kmap.c,
 * pmm.c and pmm_stats.c (the virtual heap's pages, their owners, the
 * totals), kmem_cache.c (the slabs' totals, their check, a slab page's
 * description), magazine.c (every CPU's cache held still), debug.c, lock.c,
 * log.c, string.c.  The public functions take mm_lock (get_memory_stats and
 * heap_check every CPU's cache lock before it) and name themselves for the
 * reports.
 */
#include "bits.h"
#include "blockcache.h"
#include "glue.h"
#include "heap_priv.h"
#include "kmap.h"
#include "log.h"
#include "magazine.h"
#include "pmm.h"

void get_memory_stats(memory_stats_t *stats)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags); /* the per-CPU caches' counts hold still too */
    heap_call_t call = heap_enter("get_memory_stats");
    if (!stats) {
        mm_report("get_memory_stats: NULL stats pointer");
        heap_leave(call);
        mag_unlock_all(held, flags);
        return;
    }
    uint32_t size = 0;
    for (int i = 0; i < heap_state.nregions; i++)
        size += heap_state.regions[i].end - heap_state.regions[i].start;
    uint32_t largest = heap_largest_free("get_memory_stats");
    stats->heap_size = size;
    stats->heap_used = heap_state.used;
    stats->heap_free = heap_state.free;
    uint32_t kmallocs, kfrees, bmallocs, bfrees;
    slab_cpu_calls(&kmallocs, &kfrees);
    bc_totals(&stats->heap_cpu_cached, &stats->heap_cpu_cached_bytes, &bmallocs, &bfrees);
    stats->allocation_count = heap_state.allocs + kmallocs + bmallocs;
    stats->free_count = heap_state.frees + kfrees + bfrees;
    stats->largest_free_block = largest;
    stats->peak_heap_used = heap_state.peak_used;
    stats->block_count = heap_state.blocks;
    stats->free_block_count = heap_state.free_blocks;
    stats->error_count = mm_error_count();
    stats->oom_failures = mm_oom_count();
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    heap_region_t *vr = heap_growing_region();
    stats->phys_total_pages = ps.total_pages;
    stats->phys_free_pages = ps.free_pages;
    stats->phys_used_pages = ps.used_pages;
    stats->phys_reserved_pages = ps.reserved_pages;
    stats->page_tables = ps.owner_pages[PMM_OWNER_TABLE]; /* our VMM's, or none */
    stats->paging_enabled = (uint32_t)kmap_ready();
    stats->heap_virtual_size = vr ? (uint32_t)(vr->end - vr->start) : 0;
    stats->heap_virtual_peak = heap_state.virtual_peak;
    slab_totals(&stats->slab_objects, &stats->slab_pages, &stats->slab_cpu_cached);
    pmm_tlb_counts(&stats->tlb_shootdowns, &stats->tlb_ipis);
    heap_leave(call);
    mag_unlock_all(held, flags);
}

void heap_dump(void)
{
    heap_call_t call = heap_enter("heap_dump");
    mm_printf("heap: %u used, %u free in %u blocks (%u free), %u allocations, %u frees\n",
              (unsigned)heap_state.used, (unsigned)heap_state.free, (unsigned)heap_state.blocks,
              (unsigned)heap_state.free_blocks, (unsigned)heap_state.allocs,
              (unsigned)heap_state.frees);
    for (int i = 0; i < heap_state.nregions; i++) {
        heap_region_t *r = &heap_state.regions[i];
        if (r->vbase)
            mm_printf("region %d: 0x%08lx-0x%08lx (virtual heap, %lu KB mapped)\n", i,
                      (unsigned long)r->vbase, (unsigned long)(r->vbase + (r->end - r->start)),
                      (unsigned long)(r->end - r->start) / 1024);
        else
            mm_printf("region %d: %p-%p%s\n", i, (void *)r->start, (void *)r->end,
                      r->retired ? " (early heap: frees only)" : "");
        for (heap_block_t *b = (heap_block_t *)r->start; b; b = b->next) {
            const char *why = heap_block_problem(r, b);
            if (why) {
                mm_printf("  %p  CORRUPT (%s, magic 0x%08x): dump stops here\n", (void *)b, why,
                          b->magic);
                break;
            }
            if (!b->is_free && heap_is_slab_block(r, b)) {
                char what[48];
                slab_describe((uintptr_t)b, what, sizeof(what));
                mm_printf("  %p  %8u  slab %s\n", block_payload(b), (unsigned)b->size, what);
            } else {
                const char *state = b->is_free ? "free"
                                    : b->size > SLAB_KMALLOC_MAX && heap_block_marked((uintptr_t)b)
                                        ? "cached (a CPU's)"
                                        : "ALLOC";
                char detail[160] = "";
                if (!b->is_free && dbg_on())
                    state = dbg_dump_state(block_payload(b), block_cap(b), block_rec(b), b, detail,
                                           sizeof(detail));
                mm_printf("  %p  %8u  %s%s%s\n", block_payload(b), (unsigned)b->size, state,
                          detail[0] ? " " : "", detail);
            }
        }
    }
    heap_leave(call);
}

/* --------------------------------------------------------------- check ---- */

#define check_failed(where, what) mm_check_failed("heap_check", where, what, NULL)

int heap_check(void)
{
    glue_irqflags_t flags;
    uint32_t held = mag_lock_all(&flags);
    heap_call_t call = heap_enter("heap_check");
    int errors = 0;
    uint32_t used = 0, free = 0, blocks = 0, free_blocks = 0, listable = 0, slab_blocks = 0;

    for (int i = 0; i < heap_state.nregions; i++) {
        heap_region_t *r = &heap_state.regions[i];
        for (uintptr_t a = r->start; r->vbase && a < r->end; a += PAGE_SIZE) {
            paddr_t e = kmap_phys(r->vbase + (vaddr_t)(a - r->start));
            if (!e || pmm_page_owner(e) != PMM_OWNER_HEAP) {
                errors += check_failed((void *)a, e ? "virtual heap page not the heap's in the "
                                                      "PMM (free or another owner's)"
                                                    : "virtual heap page not mapped");
                break;
            }
        }
        heap_block_t *b = (heap_block_t *)r->start;
        uint32_t walked = 0;
        for (; b; b = b->next) {
            const char *why = heap_block_problem(r, b);
            if (why) {
                errors += check_failed(b, why);
                break; /* its links cannot be followed */
            }
            if (bmap_first_start(&r->map, (uintptr_t)b + BMAP_GRANULE, r->end) != block_end(b))
                errors += check_failed(b, "the out-of-band map has a block inside this one");
            blocks++;
            walked++;
            if (heap_is_slab_block(r, b)) {
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
                if (dbg_on() && !heap_is_slab_block(r, b))
                    errors += dbg_check_live(block_payload(b), block_cap(b), block_rec(b), b);
            }
            if (!b->next && b != r->last)
                errors += check_failed(b, "region's last-block pointer is stale");
        }
        if (bmap_check(&r->map))
            errors +=
                check_failed((void *)r->start, "the block map's summary or free bits are wrong");
        if (!b && bmap_count(&r->map, r->end) != walked)
            errors += check_failed((void *)r->start, "the out-of-band map and the blocks differ");
    }

    uint32_t listed = 0;
    for (unsigned fl = 0; fl < TLSF_FL_COUNT; fl++) {
        for (unsigned sl = 0; sl < TLSF_SL_COUNT; sl++) {
            heap_block_t *prev = NULL;
            int nonempty = heap_state.lists[fl][sl] != NULL;
            if (nonempty != !!(heap_state.sl_map[fl] & (1u << sl)))
                errors +=
                    check_failed(heap_state.lists[fl][sl], "class bitmap disagrees with its list");
            for (heap_block_t *b = heap_state.lists[fl][sl]; b;
                 prev = b, b = block_links(b)->next_free) {
                if (!heap_free_entry_ok(b)) {
                    errors +=
                        check_failed(b, "free list holds a block that is not a sound free block");
                    break;
                }
                if (heap_list_of(b) != &heap_state.lists[fl][sl])
                    errors += check_failed(b, "free block on the list of another size class");
                if (block_links(b)->prev_free != prev)
                    errors += check_failed(b, "free list back link is wrong");
                if (++listed > heap_state.blocks) {
                    errors += check_failed(b, "free list has a cycle");
                    break;
                }
            }
        }
        if (!!heap_state.sl_map[fl] != !!(heap_state.fl_map & (1u << fl)))
            errors += check_failed(NULL, "first-level bitmap disagrees with the second level");
    }
    if (listed != listable)
        errors += check_failed(NULL, "free lists' length differs from free blocks");
    if (used != heap_state.used || free != heap_state.free || blocks != heap_state.blocks ||
        free_blocks != heap_state.free_blocks)
        errors += check_failed(NULL, "counters differ from the blocks");
    uint32_t marked = 0;
    for (int i = 0; i < heap_state.nregions; i++) {
        const heap_region_t *r = &heap_state.regions[i];
        uint32_t n = 0;
        for (uint32_t w = 0; w < ((r->end - r->start) / PAGE_SIZE + 31) / 32; w++)
            n += bits_popcount(r->slab_map[w]);
        if (n != r->slab_pages)
            errors += check_failed((void *)r->start, "region's slab-page count is wrong");
        marked += n;
    }
    if (marked != slab_blocks)
        errors += check_failed(NULL, "a page marked as a slab does not start with a block");
    errors += slab_check_locked("heap_check", held);
    errors += bc_check(held);
    if (dbg_on())
        errors += dbg_check_quarantine();
    heap_leave(call);
    mag_unlock_all(held, flags);
    return errors;
}

#ifdef MM_DEBUG
/* Fragmentation index in percent: 100 * (1 - largest free block / free bytes). */
static uint32_t fragmentation_locked(void)
{
    uint32_t free = heap_state.free, largest = heap_largest_free(heap_api());
    if (!free || largest > free)
        return 0;
    while (free > 0xFFFFFFFFu / 100) { /* 100 * free must fit (no 64-bit divide in the kernel) */
        free >>= 1;
        largest >>= 1;
    }
    return 100 - 100 * largest / free;
}

int mm_debug_get_stats(mm_debug_stats_t *st)
{
    heap_call_t call = heap_enter("mm_debug_get_stats"); /* the scan may rebuild lists */
    int result = -1;
    if (!st) {
        mm_report("mm_debug_get_stats: NULL stats pointer");
    } else {
        dbg_get_stats(st);
        st->fragmentation = fragmentation_locked();
        result = 0;
    }
    heap_leave(call);
    return result;
}

void heap_profile(void)
{
    heap_call_t call = heap_enter("heap_profile"); /* the scan may rebuild lists */
    dbg_profile(fragmentation_locked());
    heap_leave(call);
}
#endif

/*
 * zswap_window.c - zswap's private window onto frames beyond the direct map
 * (RAM over 256 MB): a few pages of a vmalloc span of its own, each slot
 * mapped to one frame while a caller reads or fills it (zswap.c, "Frames are
 * reached...").  Defines zswap_data; owns its window fields; the free frames
 * and the watermarks in force (zswap_watermarks).  Calls vmalloc.c (the
 * span), vmm.c (the slots' entries), pmm_stats.c, log.c.  mm_lock held.
 */
#include "log.h"
#include "pmm.h"
#include "vmalloc.h"
#include "zswap_priv.h"

/* zswap's state (zswap_priv.h), defined in the lowest of its three files */
zswap_data_t zswap_data;

/* (not the window's, but the lowest file's: zswap.c and zswap_stats.c read them) */
uint32_t zswap_free_frames(void)
{
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    return ps.free_pages;
}

void zswap_watermarks(uint32_t *low, uint32_t *high)
{
    if (zswap_data.low) {
        *low = zswap_data.low;
        *high = zswap_data.high > zswap_data.low ? zswap_data.high : zswap_data.low;
        return;
    }
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    *low = ps.total_pages / 64 > 32 ? ps.total_pages / 64 : 32;
    *high = 2 * *low;
}

/* Does RAM pass the direct map (frames the window must reach)? */
int zswap_ram_beyond_direct_map(void)
{
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    return ps.total_pages && !vmm_phys_to_virt(ps.highest_page);
}

/* Reserve the window's span, its slots idle (their page table made now): 0, or -1. */
int zswap_window_make(void (*release)(vaddr_t base, uint32_t pages))
{
    vaddr_t w = vmalloc_compressible_area(WINDOW_SLOTS * PAGE_SIZE, NULL, 0, release);
    if (!w)
        return -1;
    zswap_data.window = w; /* before the slots: a vfree below finds it */
    for (uint32_t k = 0; k < WINDOW_SLOTS; k++) {
        if (vmm_swap_set(w + k * PAGE_SIZE, WINDOW_IDLE, NULL) < 0) {
            vfree(glue_virt_to_ptr(w));
            return -1;
        }
    }
    (void)vmalloc_pin_area(w); /* a wild vfree of it refused from now: its slots stay mapped */
    return 0;
}

/*
 * Where the frame's bytes can be read or written now (under the lock; used
 * with it or without): the direct map (*slot -1), or a free slot of the
 * window mapped for this caller (*slot its number: window_put after).  NULL
 * (reported): beyond the direct map and no slot.
 */
void *zswap_frame_get(paddr_t frame, int *slot)
{
    *slot = -1;
    void *p = vmm_phys_to_virt(frame);
    if (p)
        return p;
    uint32_t k = 0;
    while (k < WINDOW_SLOTS && (zswap_data.win_used >> k & 1))
        k++;
    if (!zswap_data.window || k == WINDOW_SLOTS) {
        mm_printf("zswap: frame 0x%08lx is beyond the direct map and %s\n", (unsigned long)frame,
                  zswap_data.window ? "every window slot is in use" : "there is no window");
        return NULL;
    }
    vaddr_t v = zswap_data.window + k * PAGE_SIZE;
    if (vmm_swap_set(v, frame | PAGE_PRESENT | PAGE_WRITABLE, NULL) < 0)
        return NULL;
    zswap_data.win_used |= 1u << k;
    zswap_data.win_uses++;
    *slot = (int)k;
    return glue_virt_to_ptr(v);
}

/* A frame_get's slot unmapped (this CPU's TLB entry flushed with it); -1: none. */
void zswap_window_put(int slot)
{
    if (slot < 0 || !zswap_data.window)
        return; /* (the window vfreed meanwhile: its slots are gone with it) */
    zswap_data.win_used &= ~(1u << slot);
    vmm_swap_set(zswap_data.window + (uint32_t)slot * PAGE_SIZE, WINDOW_IDLE, NULL);
}

/*
 * blockmap.c - the heap's out-of-band record of its blocks: see blockmap.h.
 *
 * Two bitmaps a region, one bit per granule: "a block starts here" and "that
 * block is free".  The scans (next start, start at or below) go a word at a
 * time: a 1 MB block is 4096 words on i386 (16 bytes of map per KB); they run
 * on repair and diagnosis paths and in heap_check, never per allocation.
 */
#include "blockmap.h"
#include "glue.h"
#include "kstring.h"
#include "pmm.h"

int mm_meta_page(vaddr_t v)
{
    v &= ~(vaddr_t)(PAGE_SIZE - 1);
    if (vmm_get_entry(v) & PAGE_PRESENT)
        return 0;
    /* no reclaim: the heap may be halfway through growing (PMM_NO_RECLAIM, pmm.h) */
    paddr_t p = pmm_alloc_pages_owner(1, 0, PMM_OWNER_META | PMM_NO_RECLAIM);
    if (!p)
        return -1;
    if (vmm_meta_map(v, p) < 0) {
        pmm_free_pages_owner(p, 1, PMM_OWNER_META);
        return -1;
    }
    memset(glue_virt_to_ptr(v), 0, PAGE_SIZE);
    return 0;
}

void bmap_init_static(bmap_t *m, uintptr_t base, uint32_t *start, uint32_t *free, uint32_t cap)
{
    m->base = base;
    m->start = start;
    m->free = free;
    m->cap = cap;
    m->words = cap / 32;
    m->start_v = m->free_v = 0;
    memset(start, 0, m->words * sizeof(uint32_t));
    memset(free, 0, m->words * sizeof(uint32_t));
}

void bmap_init_window(bmap_t *m, uintptr_t base, vaddr_t start_v, vaddr_t free_v, uint32_t cap)
{
    m->base = base;
    m->start = glue_virt_to_ptr(start_v);
    m->free = glue_virt_to_ptr(free_v);
    m->cap = cap;
    m->words = 0;
    m->start_v = start_v;
    m->free_v = free_v;
}

int bmap_cover(bmap_t *m, size_t bytes)
{
    uint64_t granules = ((uint64_t)bytes + BMAP_GRANULE - 1) / BMAP_GRANULE;
    if (granules > m->cap)
        return -1;
    uint32_t words = (uint32_t)(granules + 31) / 32;
    if (words <= m->words)
        return 0;
    if (m->start_v) {
        /* the window's pages: already there (an earlier, larger heap) or new and zeroed */
        for (uint32_t off = m->words * 4; off < words * 4; off += PAGE_SIZE) {
            if (mm_meta_page(m->start_v + off) < 0 || mm_meta_page(m->free_v + off) < 0)
                return -1;
        }
        if ((words * 4) % PAGE_SIZE && (mm_meta_page(m->start_v + words * 4 - 1) < 0 ||
                                        mm_meta_page(m->free_v + words * 4 - 1) < 0))
            return -1;
    }
    /* a window page may hold a previous heap's bits (memory_init again): start clean */
    memset(m->start + m->words, 0, (words - m->words) * sizeof(uint32_t));
    memset(m->free + m->words, 0, (words - m->words) * sizeof(uint32_t));
    m->words = words;
    return 0;
}

void bmap_uncover(bmap_t *m, size_t bytes)
{
    uint32_t words = (uint32_t)((((uint64_t)bytes + BMAP_GRANULE - 1) / BMAP_GRANULE + 31) / 32);
    if (!m->start_v || words >= m->words)
        return;
    uint32_t keep = (words * 4 + PAGE_SIZE - 1) / PAGE_SIZE; /* pages of each bitmap kept */
    uint32_t had = (m->words * 4 + PAGE_SIZE - 1) / PAGE_SIZE;
    for (uint32_t pg = keep; pg < had; pg++) {
        vmm_meta_unmap(m->start_v + pg * PAGE_SIZE);
        vmm_meta_unmap(m->free_v + pg * PAGE_SIZE);
    }
    if (m->words > keep * PAGE_SIZE / 4)
        m->words = keep * PAGE_SIZE / 4;
}

void bmap_set(bmap_t *m, uintptr_t addr, int is_free)
{
    long g = bmap_granule(m, addr);
    if (g < 0)
        glue_panic("bmap_set: a block outside its region's map");
    m->start[g / 32] |= 1u << (g % 32);
    if (is_free)
        m->free[g / 32] |= 1u << (g % 32);
    else
        m->free[g / 32] &= ~(1u << (g % 32));
}

void bmap_clear(bmap_t *m, uintptr_t addr)
{
    long g = bmap_granule(m, addr);
    if (g < 0)
        glue_panic("bmap_clear: a block outside its region's map");
    m->start[g / 32] &= ~(1u << (g % 32));
    m->free[g / 32] &= ~(1u << (g % 32));
}

uintptr_t bmap_first_start(const bmap_t *m, uintptr_t from, uintptr_t end)
{
    uint64_t g =
        from <= m->base ? 0 : ((uint64_t)(from - m->base) + BMAP_GRANULE - 1) / BMAP_GRANULE;
    for (uint64_t w = g / 32; w < m->words; w++) {
        uint32_t bits = m->start[w];
        if (w == g / 32)
            bits &= ~0u << (g % 32);
        if (bits) {
            uint64_t a = m->base + (w * 32 + (uint64_t)__builtin_ctz(bits)) * BMAP_GRANULE;
            return a < end ? (uintptr_t)a : end;
        }
        if (m->base + (w + 1) * 32 * BMAP_GRANULE >= end)
            break;
    }
    return end;
}

uintptr_t bmap_start_at_or_below(const bmap_t *m, uintptr_t addr)
{
    if (addr < m->base || m->words == 0)
        return 0;
    uint64_t g = (addr - m->base) / BMAP_GRANULE;
    if (g >= (uint64_t)m->words * 32)
        g = (uint64_t)m->words * 32 - 1;
    for (long w = (long)(g / 32); w >= 0; w--) {
        uint32_t bits = m->start[w];
        if ((uint64_t)w == g / 32 && g % 32 != 31)
            bits &= (2u << (g % 32)) - 1;
        if (bits)
            return m->base +
                   ((uintptr_t)w * 32 + 31 - (uintptr_t)__builtin_clz(bits)) * BMAP_GRANULE;
    }
    return 0;
}

uint32_t bmap_count(const bmap_t *m, uintptr_t end)
{
    uint32_t n = 0;
    for (uintptr_t a = bmap_first_start(m, m->base, end); a < end;
         a = bmap_first_start(m, a + BMAP_GRANULE, end))
        n++;
    return n;
}

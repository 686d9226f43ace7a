/*
 * blockmap.c - the heap's out-of-band record of its blocks: see blockmap.h.
 *
 * Two bitmaps a region, one bit per granule: "a block starts here" and "that
 * block is free", and a summary of the first: one bit per word of it, "this
 * word has a start".  The scans (the next start, the start at or below an
 * address) look at the word they begin in, then at the summary, 32 words
 * (8 KB of heap on i386) at a time: a free of a 1 MB block reads about 130
 * words of map, not 4096.
 *
 * Owns the bitmaps' storage only as far as the metadata window's pages go
 * (mm_meta_page maps them, PMM_OWNER_META); the early heap's are the
 * caller's static arrays.  Calls kmap.c (mapping those pages), pmm_alloc.c
 * (their frames, as PMM_OWNER_META), string.c.
 */
#include "bits.h"
#include "blockmap.h"
#include "glue.h"
#include "kmap.h"
#include "kstring.h"
#include "pmm.h"

int mm_meta_page(vaddr_t v)
{
    v &= ~(vaddr_t)(PAGE_SIZE - 1);
    if (kmap_phys(v))
        return 0;
    /* no reclaim: the heap may be halfway through growing (PMM_NO_RECLAIM, pmm.h) */
    paddr_t p = pmm_alloc_pages_owner(1, 0, PMM_OWNER_META | PMM_NO_RECLAIM);
    if (!p)
        return -1;
    if (kmap_page(v, p) < 0) {
        pmm_free_pages_owner(p, 1, PMM_OWNER_META);
        return -1;
    }
    memset(glue_virt_to_ptr(v), 0, PAGE_SIZE);
    return 0;
}

void bmap_init_static(bmap_t *m, uintptr_t base, uint32_t *start, uint32_t *free, uint32_t *sum,
                      uint32_t cap)
{
    m->base = base;
    m->start = start;
    m->free = free;
    m->sum = sum;
    m->cap = cap;
    m->words = m->mapped = m->seen = cap / 32;
    m->lazy = 0;
    m->start_v = m->free_v = m->sum_v = m->marks_v = 0;
    m->marks = NULL;
    memset(start, 0, m->words * sizeof(uint32_t));
    memset(free, 0, m->words * sizeof(uint32_t));
    memset(sum, 0, (m->words + 31) / 32 * sizeof(uint32_t));
}

void bmap_init_window(bmap_t *m, uintptr_t base, vaddr_t start_v, vaddr_t free_v, vaddr_t sum_v,
                      vaddr_t marks_v, uint32_t cap)
{
    m->marks = glue_virt_to_ptr(marks_v);
    m->marks_v = marks_v;
    m->base = base;
    m->start = glue_virt_to_ptr(start_v);
    m->free = glue_virt_to_ptr(free_v);
    m->sum = glue_virt_to_ptr(sum_v);
    m->cap = cap;
    __atomic_store_n(&m->words, 0u, __ATOMIC_RELEASE);
    m->mapped = m->seen = 0;
    m->lazy = 0;
    m->start_v = start_v;
    m->free_v = free_v;
    m->sum_v = sum_v;
}

/*
 * Unmap the window pages that hold words [words, had) of each bitmap but none
 * below `words`; returns the pages of each bitmap kept.
 */
static uint32_t unmap_beyond(bmap_t *m, uint32_t words, uint32_t had_words)
{
    uint32_t keep = (words * 4 + PAGE_SIZE - 1) / PAGE_SIZE; /* pages of each bitmap kept */
    uint32_t had = (had_words * 4 + PAGE_SIZE - 1) / PAGE_SIZE;
    if (had > keep) { /* one TLB shootdown per bitmap's run */
        kmap_unmap_run("bmap_uncover", m->start_v + keep * PAGE_SIZE, had - keep, PMM_OWNER_META);
        kmap_unmap_run("bmap_uncover", m->free_v + keep * PAGE_SIZE, had - keep, PMM_OWNER_META);
    }
    uint32_t sum_keep = ((keep * PAGE_SIZE / 4 + 31) / 32 * 4 + PAGE_SIZE - 1) / PAGE_SIZE;
    uint32_t sum_had = ((had * PAGE_SIZE / 4 + 31) / 32 * 4 + PAGE_SIZE - 1) / PAGE_SIZE;
    if (sum_had > sum_keep)
        kmap_unmap_run("bmap_uncover", m->sum_v + sum_keep * PAGE_SIZE, sum_had - sum_keep,
                       PMM_OWNER_META);
    /* the marks' pages past those of the words kept (a page of marks for each megabyte) */
    uint32_t mark_keep = (bmap_mark_bytes(keep * PAGE_SIZE / 4) + PAGE_SIZE - 1) / PAGE_SIZE;
    uint32_t mark_had = (bmap_mark_bytes(had * PAGE_SIZE / 4) + PAGE_SIZE - 1) / PAGE_SIZE;
    if (m->marks_v && mark_had > mark_keep)
        kmap_unmap_run("bmap_uncover", m->marks_v + mark_keep * PAGE_SIZE, mark_had - mark_keep,
                       PMM_OWNER_META);
    return keep;
}

/* Map the window pages under [off, end) bytes of a bitmap at v. */
static int cover_bytes(vaddr_t v, uint32_t off, uint32_t end)
{
    for (uint32_t b = off & ~(uint32_t)(PAGE_SIZE - 1); b < end; b += PAGE_SIZE) {
        if (mm_meta_page(v + b) < 0)
            return -1;
    }
    return 0;
}

/*
 * The words a reader without the lock may be in (a lazy map: every word
 * published since the last bmap_trim); the window pages under them stay.
 */
static uint32_t in_use(const bmap_t *m)
{
    return m->lazy && m->seen > m->words ? m->seen : m->words;
}

/* Window pages past in_use(m) and up to `upto` words back to the PMM; `mapped` follows. */
static void release_unused(bmap_t *m, uint32_t upto)
{
    uint32_t floor = in_use(m), had = upto > m->mapped ? upto : m->mapped;
    if (!m->start_v || had <= floor)
        return;
    uint32_t keep = unmap_beyond(m, floor, had) * PAGE_SIZE / 4;
    /* (read without the lock: heap_mark_clear) */
    __atomic_store_n(&m->mapped, keep > floor ? (keep < had ? keep : had) : floor,
                     __ATOMIC_RELAXED);
}

/* Words [words, want) backed and clean, not yet published: 0, or -1 (none mapped anew kept). */
static int reserve(bmap_t *m, uint32_t want)
{
    if (want <= m->words)
        return 0;
    uint32_t sums = (want + 31) / 32, had = (m->words + 31) / 32;
    /* the window's pages: already there (an earlier, larger heap) or new and zeroed */
    /* (marks: fresh pages read 0, and a map's marks past its blocks are all clear) */
    if (m->start_v && (cover_bytes(m->start_v, m->words * 4, want * 4) < 0 ||
                       cover_bytes(m->free_v, m->words * 4, want * 4) < 0 ||
                       cover_bytes(m->sum_v, had * 4, sums * 4) < 0 ||
                       (m->marks_v && cover_bytes(m->marks_v, bmap_mark_bytes(m->words),
                                                  bmap_mark_bytes(want)) < 0))) {
        release_unused(m, want); /* the pages mapped before the one that failed */
        return -1;
    }
    /*
     * A window page may hold a previous heap's bits (memory_init again): start
     * clean.  Word by word, atomically: a reader without the lock may have
     * read these words before the region last shrank (bmap_fast_block_size).
     */
    for (uint32_t w = m->words; w < want; w++) {
        __atomic_store_n(&m->start[w], 0u, __ATOMIC_RELAXED);
        __atomic_store_n(&m->free[w], 0u, __ATOMIC_RELAXED);
        __atomic_store_n(&m->sum[w / 32], m->sum[w / 32] & ~(1u << (w % 32)), __ATOMIC_RELAXED);
    }
    if (want > m->mapped)
        __atomic_store_n(&m->mapped, want, __ATOMIC_RELEASE);
    return 0;
}

/* The words of a region of `bytes` bytes, or 0 past its cap (*ok 0). */
static uint32_t words_for(const bmap_t *m, size_t bytes, int *ok)
{
    uint64_t granules = ((uint64_t)bytes + BMAP_GRANULE - 1) / BMAP_GRANULE;
    *ok = granules <= m->cap;
    return *ok ? (uint32_t)(granules + 31) / 32 : 0;
}

int bmap_reserve(bmap_t *m, size_t bytes)
{
    int ok;
    uint32_t want = words_for(m, bytes, &ok);
    return ok ? reserve(m, want) : -1;
}

int bmap_cover(bmap_t *m, size_t bytes)
{
    int ok;
    uint32_t want = words_for(m, bytes, &ok);
    if (!ok || reserve(m, want) < 0)
        return -1;
    if (want > m->words) {
        __atomic_store_n(&m->words, want, __ATOMIC_RELEASE);
        if (want > m->seen)
            m->seen = want;
    }
    return 0;
}

void bmap_uncover(bmap_t *m, size_t bytes)
{
    uint32_t words = (uint32_t)((((uint64_t)bytes + BMAP_GRANULE - 1) / BMAP_GRANULE + 31) / 32);
    if (!m->start_v)
        return;
    if (words < m->words)
        __atomic_store_n(&m->words, words, __ATOMIC_RELEASE);
    /* a lazy map keeps what a reader may be in until bmap_trim; the rest goes now */
    release_unused(m, m->mapped);
}

int bmap_trim(bmap_t *m)
{
    uint32_t had = m->mapped;
    m->seen = m->words;
    release_unused(m, had);
    return m->mapped < had;
}

bmap_marks_t bmap_marks;

/* Bit g of a bitmap read without the lock. */
static inline int fast_bit(const uint32_t *bits, uint32_t g)
{
    return (int)((__atomic_load_n(&bits[g / 32], __ATOMIC_RELAXED) >> (g % 32)) & 1);
}

size_t bmap_fast_block_size(const bmap_t *m, uintptr_t addr, size_t max)
{
    uint32_t words = __atomic_load_n(&m->words, __ATOMIC_ACQUIRE);
    if (addr < m->base || (addr - m->base) % BMAP_GRANULE)
        return 0;
    uintptr_t g0 = (addr - m->base) / BMAP_GRANULE;
    if (g0 >= (uintptr_t)words * 32 || !fast_bit(m->start, (uint32_t)g0) ||
        fast_bit(m->free, (uint32_t)g0))
        return 0;
    /* the next start, within HDR + max bytes: g0's word, then the next word with one (summary) */
    uint32_t g = (uint32_t)g0 + 1;
    uint32_t last = (uint32_t)g0 + (uint32_t)((HEAP_HEADER_SIZE + max) / BMAP_GRANULE);
    while (g <= last && g / 32 < words) {
        uint32_t w = g / 32;
        uint32_t bits = __atomic_load_n(&m->start[w], __ATOMIC_RELAXED) & (~0u << (g % 32));
        if (bits) {
            uint32_t next = w * 32 + bits_lowest(bits);
            return next > last ? 0 : (size_t)(next - g0) * BMAP_GRANULE - HEAP_HEADER_SIZE;
        }
        uint32_t x = w + 1; /* words x.. of x's summary word */
        if (x >= words)
            break;
        uint32_t sum = __atomic_load_n(&m->sum[x / 32], __ATOMIC_RELAXED) & (~0u << (x % 32));
        g = sum ? (x / 32 * 32 + bits_lowest(sum)) * 32 : (x / 32 + 1) * 1024;
    }
    return 0; /* larger than max, or the region's last block: the shared path's */
}

void bmap_set(bmap_t *m, uintptr_t addr, int is_free)
{
    long g = bmap_granule(m, addr);
    if (g < 0)
        glue_panic("bmap_set: a block outside its region's map");
    /* whole words, atomically: bmap_fast_block_size reads them without the lock */
    __atomic_store_n(&m->start[g / 32], m->start[g / 32] | 1u << (g % 32), __ATOMIC_RELAXED);
    __atomic_store_n(&m->sum[g / 1024], m->sum[g / 1024] | 1u << (g / 32 % 32), __ATOMIC_RELAXED);
    uint32_t f = m->free[g / 32];
    f = is_free ? f | 1u << (g % 32) : f & ~(1u << (g % 32));
    __atomic_store_n(&m->free[g / 32], f, __ATOMIC_RELAXED);
}

void bmap_clear(bmap_t *m, uintptr_t addr)
{
    long g = bmap_granule(m, addr);
    if (g < 0)
        glue_panic("bmap_clear: a block outside its region's map");
    __atomic_store_n(&m->start[g / 32], m->start[g / 32] & ~(1u << (g % 32)), __ATOMIC_RELAXED);
    __atomic_store_n(&m->free[g / 32], m->free[g / 32] & ~(1u << (g % 32)), __ATOMIC_RELAXED);
    if (!m->start[g / 32])
        __atomic_store_n(&m->sum[g / 1024], m->sum[g / 1024] & ~(1u << (g / 32 % 32)),
                         __ATOMIC_RELAXED);
}

/* The address of the first start bit of word w (which has one). */
static uintptr_t word_first(const bmap_t *m, uint32_t w)
{
    return m->base + ((uintptr_t)w * 32 + (uintptr_t)bits_lowest(m->start[w])) * BMAP_GRANULE;
}

uintptr_t bmap_first_start(const bmap_t *m, uintptr_t from, uintptr_t end)
{
    uint64_t g =
        from <= m->base ? 0 : ((uint64_t)(from - m->base) + BMAP_GRANULE - 1) / BMAP_GRANULE;
    if (g >= (uint64_t)m->words * 32)
        return end;
    uint32_t w = (uint32_t)(g / 32);
    uint32_t bits = m->start[w] & (~0u << (g % 32));
    if (bits) {
        uintptr_t a = m->base + ((uintptr_t)w * 32 + (uintptr_t)bits_lowest(bits)) * BMAP_GRANULE;
        return a < end ? a : end;
    }
    /* the words after w, 32 at a time through the summary */
    for (uint32_t x = w + 1; x < m->words;) {
        if (m->base + (uint64_t)x * 32 * BMAP_GRANULE >= end)
            break;
        uint32_t s = m->sum[x / 32] & (~0u << (x % 32));
        if (s) {
            uint32_t nw = x / 32 * 32 + bits_lowest(s);
            if (nw >= m->words)
                break;
            uintptr_t a = word_first(m, nw);
            return a < end ? a : end;
        }
        x = (x / 32 + 1) * 32;
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
    uint32_t w = (uint32_t)(g / 32);
    uint32_t bits = m->start[w];
    if (g % 32 != 31)
        bits &= (2u << (g % 32)) - 1;
    if (bits)
        return m->base + ((uintptr_t)w * 32 + (uintptr_t)bits_highest(bits)) * BMAP_GRANULE;
    /* the words before w, 32 at a time through the summary */
    for (long x = (long)w - 1; x >= 0;) {
        uint32_t s = m->sum[x / 32];
        if (x % 32 != 31)
            s &= (2u << (x % 32)) - 1;
        if (s) {
            uint32_t pw = (uint32_t)(x / 32 * 32 + bits_highest(s));
            return m->base +
                   ((uintptr_t)pw * 32 + (uintptr_t)bits_highest(m->start[pw])) * BMAP_GRANULE;
        }
        x = x / 32 * 32 - 1;
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

uint32_t bmap_check(const bmap_t *m)
{
    uint32_t bad = 0;
    for (uint32_t w = 0; w < m->words; w++) {
        int summed = (int)((m->sum[w / 32] >> (w % 32)) & 1);
        bad += summed != (m->start[w] != 0);
        bad += (m->free[w] & ~m->start[w]) != 0; /* a free bit only where a block starts */
    }
    return bad;
}

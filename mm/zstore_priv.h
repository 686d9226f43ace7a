/*
 * zstore_priv.h - what zstore.c (put, get, free, the two steps) and
 * zstore_stats.c (stats, check, dump) share: the entry table's layout and
 * the store's state.  Nothing else includes it.  The design: zstore.c.
 */
#ifndef MM_ZSTORE_PRIV_H
#define MM_ZSTORE_PRIV_H

#include "names_priv.h"

#include "glue.h"
#include "lz4.h"
#include "memory.h"
#include "pmm.h"
#include "zstore.h"

#define ZS_CHUNKS    (ZSTORE_MAX_ENTRIES / ZSTORE_CHUNK_ENTRIES)
#define ZS_INDEX_MAX (ZSTORE_MAX_ENTRIES - 1u)
#define ZS_GEN_MAX   ((1u << ZSTORE_GEN_BITS) - 1u)
#define ZS_SLAB_MAX  512u /* kmalloc's slab classes end here (SLAB_KMALLOC_MAX); above: a block */

_Static_assert(ZSTORE_HANDLE_BITS <= 31, "a handle fits a not-present entry beside the P bit");
_Static_assert(ZSTORE_MAX_ENTRIES % ZSTORE_CHUNK_ENTRIES == 0, "whole chunks");

enum { ZS_FREE, ZS_SAME, ZS_COMP, ZS_WHOLE, ZS_RETIRED };

typedef struct {
    union {
        void *data;    /* ZS_COMP, ZS_WHOLE: the copy's kmalloc block */
        uint32_t word; /* ZS_SAME: the word repeated */
        uint32_t next; /* ZS_FREE: the next free index (0: none); ZS_RETIRED: 0 */
    } u;
    uint16_t len; /* bytes of the copy: the block's length, 4096 whole, 0 same-filled */
    uint8_t kind;
    uint8_t pad;
    uint16_t gen; /* 1..ZS_GEN_MAX, bumped by every free */
#ifdef MM_DEBUG
    uint32_t sum; /* the page's checksum (zs_sum) */
#endif
} zs_entry_t;

typedef struct {
    zs_entry_t *chunk[ZS_CHUNKS];
    uint32_t chunks;
    uint32_t free_head, free_tail; /* the FIFO of free entries (0: empty) */
    uint32_t free_count;
    uint32_t limit; /* as set (0: the default) */
    const mm_codec_t *codec;
    int busy; /* a put is under way on the CPU holding the lock */
    zstore_stats_t st;
} zstore_data_t;

extern zstore_data_t zstore_data;

/* The codec in force (read without the lock by zstore_encode: written atomically). */
static inline const mm_codec_t *codec(void)
{
    const mm_codec_t *c = __atomic_load_n(&zstore_data.codec, __ATOMIC_ACQUIRE);
    return c ? c : &lz4_codec;
}

static inline zs_entry_t *entry_at(uint32_t index)
{
    return &zstore_data.chunk[index / ZSTORE_CHUNK_ENTRIES][index % ZSTORE_CHUNK_ENTRIES];
}

static inline uint32_t handle_of(uint32_t index, const zs_entry_t *e)
{
    return (uint32_t)e->gen << ZSTORE_INDEX_BITS | index;
}

/* Bytes a block of the heap really takes: its usable size, plus the header above the slabs. */
static inline uint32_t footprint(void *block)
{
    size_t n = kmalloc_usable_size(block);
    return (uint32_t)(n > ZS_SLAB_MAX ? n + HEAP_HEADER_SIZE : n);
}

/* The limit in force: as set, else half the PMM's RAM (0: none). */
static inline uint32_t limit_now(void)
{
    if (zstore_data.limit)
        return zstore_data.limit;
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    return ps.total_pages / 2 > UINT32_MAX / ZSTORE_PAGE ? UINT32_MAX
                                                         : ps.total_pages / 2 * ZSTORE_PAGE;
}

#endif /* MM_ZSTORE_PRIV_H */

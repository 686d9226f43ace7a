/*
 * zswap_priv.h - what zswap.c (areas, reclaim, faults), zswap_window.c (the
 * window for frames beyond the direct map) and zswap_stats.c (stats, check,
 * dump) share; nothing else includes it.  The theory of operation: zswap.c.
 */
#ifndef MM_ZSWAP_PRIV_H
#define MM_ZSWAP_PRIV_H

#include "names_priv.h"

#include "glue.h"
#include "memory.h"
#include "vmm.h"
#include "vmm_swap.h"
#include "zstore.h"
#include "zswap.h"

#define NODE_UNKNOWN         0xFFu
#define TRANSIT_CPUS         16u /* CPUs with a transit record (glue_cpu_id below this) */
#define WINDOW_SLOTS         (TRANSIT_CPUS + 4u) /* one per record, 4 for the lock's nesting */
#define WINDOW_IDLE          ZSWAP_ENTRY_PENDING /* a slot unused: not present, its table kept */
#define PRESENT_ENTRY(frame) ((frame) | PAGE_PRESENT | PAGE_WRITABLE | VMM_PTE_ZSWAP)

struct zarea {
    vaddr_t base;
    uint32_t pages;
    uint32_t size;
    uint32_t *copy; /* per page: its stored copy's handle (stored, or kept while present and clean),
                       else 0 */
    uint8_t *node;  /* per page: the node its last frame was on */
};

/* A CPU's work between two holds of the lock (see the top). */
struct transit {
    zstore_buf_t *buf; /* kmalloc'd at the first use; NULL: none yet */
    int busy;          /* buf in use, the lock let go */
    /* reclaim: pages next..n-1 of the area at base have their pending entries */
    vaddr_t base;
    uint32_t next, n;
    int orphaned; /* the area was freed meanwhile: the frames are ours, no entries */
    uint32_t page[ZSWAP_SWEEP];
    uint32_t old[ZSWAP_SWEEP]; /* the entries they had (frame, Dirty) */
    /* fault-in: a frame being filled for the page at fault_v (0: none) */
    vaddr_t fault_v;
    paddr_t fault_frame;
};

typedef struct {
    struct zarea areas[ZSWAP_MAX_AREAS];
    uint32_t count;
    uint32_t hand_area, hand_page;
    uint32_t low, high; /* 0: the defaults */
    zswap_stats_t st;   /* the event counters (the state counts are recomputed) */
    int hooked;
    vaddr_t window;    /* the window's first slot (0: none yet) */
    uint32_t win_used; /* slots in use: a bit each */
    uint32_t win_uses; /* frames reached through it (zswap_dump) */
    struct transit transit[TRANSIT_CPUS];
} zswap_data_t;

extern zswap_data_t zswap_data;

_Static_assert(WINDOW_SLOTS <= 32, "a bit of win_used per slot");

static inline int is_swap_entry(uint32_t e)
{
    return e && !(e & PAGE_PRESENT);
}

static inline int is_handle_entry(uint32_t e)
{
    return is_swap_entry(e) && (ZSWAP_HANDLE(e) & ((1u << ZSTORE_INDEX_BITS) - 1)) != 0;
}

/* zswap.c: the area holding v, or NULL. */
struct zarea *zswap_area_of(vaddr_t v);
/* zswap_window.c: the PMM's free frames; the low and high watermarks in force. */
uint32_t zswap_free_frames(void);
void zswap_watermarks(uint32_t *low, uint32_t *high);
/* zswap.c: the record that has page i of the area at base in flight (pending), or NULL. */
struct transit *zswap_transit_of(vaddr_t base, uint32_t i);

/* zswap_window.c (mm_lock held): does RAM pass the direct map? */
int zswap_ram_beyond_direct_map(void);
/* The window's span reserved (its area freed by `release` at a vfree), its slots idle: 0 or -1. */
int zswap_window_make(void (*release)(vaddr_t base, uint32_t pages));
/*
 * Where the frame's bytes can be read or written now: the direct map (*slot
 * -1), or a window slot mapped for this caller (zswap_window_put after); NULL
 * (reported): beyond the direct map and no slot.
 */
void *zswap_frame_get(paddr_t frame, int *slot);
void zswap_window_put(int slot);

#endif /* MM_ZSWAP_PRIV_H */

/*
 * zstore.h - the compressed page store (issue 14, item 2): zram's pool.
 *
 * zstore_put keeps a copy of one 4 KB page and returns a handle naming it;
 * zstore_get writes the page back; zstore_free forgets it.  A page is kept as
 *
 *   same-filled   one 32-bit word repeated over the page: the word alone,
 *                 in the entry (no memory but the entry);
 *   compressed    the codec's block (lz4_codec unless zstore_set_codec said
 *                 otherwise) when it is at most ZSTORE_HUGE_BYTES (3/4 page),
 *                 in a kmalloc block of its exact size (the slab classes of
 *                 8-byte steps up to 512 bytes, above that a heap block:
 *                 8-byte granules plus a header), so the waste is small;
 *   whole         (incompressible) the 4096 bytes themselves, counted.
 *
 * A handle is a uint32_t of ZSTORE_HANDLE_BITS (31) bits, never 0 (0 means
 * failure): bits 0-17 an entry index (1..262143), bits 18-30 the entry's
 * generation, bumped at every free.  The lead's not-present page-table entry
 * holds it shifted left by one (bit 0, present, clear).  A wild handle (bit 31,
 * index 0 or beyond the table), a stale one (generation differs) or a double
 * free is reported in one line and refused: never another page's bytes.  So
 * that a generation never comes round again, an entry freed at generation
 * 8191 is retired for good (counted in entries_retired), not reused: the
 * table's 262143 entries last for about 2 * 10^9 frees.  Pages are read and
 * written as 32-bit words: a page pointer not aligned to 4 bytes is refused
 * in one line, as is a get into the stored copy itself.
 *
 * The pool's memory (mem_used) is what it took from the heap: each stored
 * copy's kmalloc block (usable size, plus the heap's header above the slab
 * classes) and the entry table's chunks (ZSTORE_CHUNK_ENTRIES entries each,
 * kept once made so a stale handle's generation is never forgotten).  The
 * compressor's work memory and output buffer are static (not counted).  A
 * put that would take mem_used over the limit (zstore_set_limit) fails.
 *
 * Locking: the memory manager's lock (mm/lock.c) is the store's lock, so the
 * store sits inside the one lock order (per-CPU cache locks, then mm_lock)
 * and may be called with mm_lock held (a PMM reclaim hook, a page fault:
 * the lock nests on the CPU that holds it).  A put allocates (kmalloc) with
 * the lock held; the heap grows with PMM_NO_RECLAIM, so no reclaim hook runs
 * from inside a put.  Should one ever call the store from there, a nested get
 * or free is safe (a put allocates before it changes anything) and a nested
 * put is refused (counted in refused_busy: the put's static buffers are in
 * use).  zstore_put compresses with the lock held (one static work area) and
 * zstore_get decompresses under it, straight into the caller's page.
 *
 * The codec outside the lock: a put or a get in two steps, a buffer of the
 * caller's (zstore_buf_t, about 20 KB: mm/zswap.c keeps one per CPU) carrying
 * the page's encoding between them, so CPUs waiting for mm_lock do not wait
 * for a compression (mm/zswap.c's reclaim and fault-in):
 *
 *   zstore_encode(page, b)   no lock taken: page classified and compressed
 *                            into b (the page must not change meanwhile)
 *   zstore_put_encoded(b)    the lock: b's copy stored, as zstore_put
 *   zstore_fetch(h, b)       the lock: the stored copy of h copied into b
 *                            (h may be freed after: b holds the bytes)
 *   zstore_decode(b, page)   no lock taken: b decoded into page
 *   zstore_decoded(b)        the lock: the get counted, or the copy found
 *                            corrupt reported in one line and counted
 *
 * A put_encoded whose buffer was encoded by another codec than the one in
 * force now (zstore_set_codec in between) is refused (refused_busy).
 *
 * Debug build (MM_DEBUG): each entry keeps a checksum of the copy as stored
 * (decoded once at the put: the bytes the compressor saw, even if the page
 * changed under it), checked at every get; a mismatch is one line naming the handle and the get
 * fails. Every get that fails after finding its entry (corrupt copy) zeroes the page it was given,
 * so no wrong bytes are left there either.
 */
#ifndef ZSTORE_H
#define ZSTORE_H

#include "mm_names.h" /* -DMM_PREFIX: every name mm_<name> */

#include <stddef.h>
#include <stdint.h>

#define ZSTORE_PAGE          4096u
#define ZSTORE_HUGE_BYTES    (ZSTORE_PAGE * 3 / 4) /* a block above this: keep the page whole */
#define ZSTORE_INDEX_BITS    18u
#define ZSTORE_GEN_BITS      13u
#define ZSTORE_HANDLE_BITS   (ZSTORE_INDEX_BITS + ZSTORE_GEN_BITS) /* 31 */
#define ZSTORE_MAX_ENTRIES   (1u << ZSTORE_INDEX_BITS)             /* index 0 is never used */
#define ZSTORE_CHUNK_ENTRIES 256u
#define ZSTORE_WORK_MAX      16384u /* the largest codec work memory the store has room for */

typedef struct {
    /* zram's figures */
    uint32_t orig_bytes;   /* pages stored * 4096 */
    uint32_t compr_bytes;  /* bytes of the stored copies (compressed, or 4096 whole) */
    uint32_t mem_used;     /* bytes taken from the heap: copies' blocks + entry chunks */
    uint32_t mem_used_max; /* high-water mark of mem_used */
    uint32_t same_pages;   /* stored as their repeated word */
    uint32_t huge_pages;   /* incompressible, stored whole */
    uint32_t pages_stored; /* live handles */
    uint32_t gets;         /* pages brought back */
    /* beyond zram's */
    uint32_t mem_entries;     /* of mem_used: the entry table's chunks */
    uint32_t entries;         /* entries made (the table's capacity now) */
    uint32_t puts;            /* puts that stored a page */
    uint32_t frees;           /* handles freed */
    uint32_t refused_limit;   /* puts refused: over the limit */
    uint32_t refused_nomem;   /* puts refused: no memory (kmalloc failed, table full) */
    uint32_t refused_busy;    /* puts refused: called from inside a put (reclaim) */
    uint32_t bad_handles;     /* gets/frees of wild, stale or freed handles */
    uint32_t corrupt;         /* gets of a copy that did not decode or match its checksum */
    uint32_t limit_bytes;     /* the limit now (0: none) */
    uint32_t entries_retired; /* entries freed at the last generation: never reused */
} zstore_stats_t;

/* The codec a store compresses with (mm/lz4.h's mm_codec_t). */
struct mm_codec;

/* A page's encoding between the two steps of a put or a get (see the top). */
typedef struct zstore_buf {
    const struct mm_codec *codec;       /* encoded with (NULL: not a compressed copy) */
    uint32_t handle;                    /* fetched: the handle it came from (reports) */
    uint32_t word;                      /* same-filled: the word */
    uint32_t sum;                       /* MM_DEBUG: the page's checksum */
    uint16_t len;                       /* bytes in data: compressed, 4096 whole, 0 same-filled */
    uint8_t kind;                       /* the store's entry kind */
    int8_t result;                      /* zstore_decode's, for zstore_decoded */
    uint32_t work[ZSTORE_WORK_MAX / 4]; /* the compressor's work memory (and decode's scratch) */
    uint8_t data[ZSTORE_PAGE];
} zstore_buf_t;

/* A handle of the page's copy, or 0 (NULL page: reported; limit, no memory: counted). */
uint32_t zstore_put(const void *page);
/* The page's 4096 bytes into page: 0, or -1 (reported: bad handle, corrupt copy). */
int zstore_get(uint32_t handle, void *page);
/* Forget the copy: 0, or -1 (reported: wild, stale, double free). */
int zstore_free(uint32_t handle);

/* page encoded into b, without mm_lock (see the top): 0, or -1 (reported: NULL, unaligned). */
int zstore_encode(const void *page, zstore_buf_t *b);
/* b stored (mm_lock taken): a handle, or 0 (limit, no memory, the codec changed: counted). */
uint32_t zstore_put_encoded(const zstore_buf_t *b);
/* Was b encoded by the codec in force (1), or must it be encoded again (0: the codec changed)? */
int zstore_encoded_current(const zstore_buf_t *b);
/* The stored copy of handle copied into b (mm_lock taken): 0, or -1 (reported: bad handle). */
int zstore_fetch(uint32_t handle, zstore_buf_t *b);
/* b decoded into page, without mm_lock: 0, or -1 (page zeroed; zstore_decoded reports it). */
int zstore_decode(zstore_buf_t *b, void *page);
/* The decode of b counted (mm_lock taken): a get, or a corrupt copy (one line): its result. */
int zstore_decoded(const zstore_buf_t *b);

/*
 * The limit on mem_used in bytes; 0 restores the default, half the RAM the
 * PMM manages (none before pmm_init).  Stored pages stay; later puts obey it.
 */
void zstore_set_limit(uint32_t bytes);
/* Compress with codec (NULL: lz4_codec): 0, or -1 (pages stored, a put under way (called
   from a codec), work memory too big). */
int zstore_set_codec(const struct mm_codec *codec);

void zstore_get_stats(zstore_stats_t *stats);
/* Walk every entry and the free list, recompute every counter: the problems found (0 = healthy). */
int zstore_check(void);
/* The statistics and the compression ratio, on the console. */
void zstore_dump(void);

/* The stored copy behind a live handle and its length (NULL: none): for tests and debugging. */
void *zstore_peek(uint32_t handle, uint32_t *len);
/* Is handle a live one?  1 or 0, without a report (checkers: mm/zswap.c's). */
int zstore_live(uint32_t handle);
/* Forget everything without freeing (the heap under it was started again: tests). */
void zstore_reset(void);

#endif /* ZSTORE_H */

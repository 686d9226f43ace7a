/*
 * zstore.c - the compressed page store (include/zstore.h says what it does).
 *
 * The entry table: up to ZSTORE_MAX_ENTRIES entries in chunks of
 * ZSTORE_CHUNK_ENTRIES, each chunk one kmalloc block, found through a static
 * array of chunk pointers.  Entry 0 is never handed out (a handle is never
 * 0).  Free entries form a FIFO through their `u.next` (the oldest freed is
 * reused first).  An entry freed at the last generation is retired, not put
 * on the list: a generation never comes round again.  Chunks are never given
 * back: an entry's generation must outlive every handle that named it.
 *
 *   handle:  | 31: 0 | 30 ... 18: generation (1..8191) | 17 ... 0: index |
 *
 * A put: encode the page into a zstore_buf_t (one repeated word?  else
 * compressed, at most ZSTORE_HUGE_BYTES, else the page whole); then, under
 * the lock, make sure an entry is free (a new chunk if not), kmalloc the
 * copy's block, check the limit with the block's real size, then take the
 * entry and fill it.  Every allocation comes before any change to the store,
 * so a reclaim hook run by kmalloc may free or get (a nested zstore_put is
 * refused: `busy`, its static buffer is in use).  zstore_put encodes into
 * that static buffer under the lock; zstore_encode into the caller's, without
 * it (zstore.h: the two steps), and reads nothing of the store but the codec.
 *
 * The copies and the chunks are kmalloc blocks, asked for under mm_lock
 * (which kmalloc takes again, nested): the store sits above the heap and is
 * one of its callers like any other (in the debug build its blocks get red
 * zones, and a damaged free list found by its kmalloc is reported as
 * kmalloc's).  What zstore says about itself (zstore_get_stats, zstore_check,
 * zstore_dump) is zstore_stats.c's; zstore_priv.h is what both share.
 *
 * Calls: the heap (kmalloc, kfree, kmalloc_usable_size), the codec (lz4.h),
 * the PMM's statistics (the default limit), the lock, the log, string.c.
 */
#include "zstore.h"

#include "glue.h"
#include "heap_internal.h"
#include "kstring.h"
#include "lock.h"
#include "log.h"
#include "lz4.h"
#include "memory.h"
#include "pmm.h"
#include "zstore_priv.h"

zstore_data_t zstore_data;

/* zstore_put's encoding: under the lock, never nested (`busy`). */
static zstore_buf_t zs_buf;

/*
 * The debug build's checksum of each stored page (FNV-1a over its words),
 * taken at the encoding and compared at every decode: a damaged copy is
 * caught.  Without MM_DEBUG these are no-ops the compiler drops (ZS_SUMS 0:
 * the encoding is not decoded again), so no call site has an #ifdef.
 */
#ifdef MM_DEBUG
#define ZS_SUMS 1
static uint32_t zs_sum(const void *page)
{
    const uint32_t *w = page;
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < ZSTORE_PAGE / 4; i++)
        h = (h ^ w[i]) * 16777619u;
    return h;
}
static inline void entry_sum_set(zs_entry_t *e, uint32_t sum)
{
    e->sum = sum;
}
static inline uint32_t entry_sum(const zs_entry_t *e)
{
    return e->sum;
}
#else
#define ZS_SUMS 0
static inline uint32_t zs_sum(const void *page)
{
    (void)page;
    return 0;
}
static inline void entry_sum_set(zs_entry_t *e, uint32_t sum)
{
    (void)e;
    (void)sum;
}
static inline uint32_t entry_sum(const zs_entry_t *e)
{
    (void)e;
    return 0;
}
#endif

/* Does the decoded page differ from its checksum?  (Always 0 without MM_DEBUG.) */
static inline int sum_wrong(const void *page, uint32_t sum)
{
    return ZS_SUMS && zs_sum(page) != sum;
}

/*
 * A copy (kind, word or len bytes at data, compressed by c) into page: 4096,
 * or the codec's short count or error (a compressed copy that does not decode).
 */
static int decode_copy(uint8_t kind, uint32_t word, const void *data, uint32_t len,
                       const mm_codec_t *c, void *page)
{
    if (kind == ZS_SAME) {
        uint32_t *w = page;
        for (uint32_t i = 0; i < ZSTORE_PAGE / 4; i++)
            w[i] = word;
        return (int)ZSTORE_PAGE;
    }
    if (kind == ZS_WHOLE) {
        memcpy(page, data, ZSTORE_PAGE);
        return (int)ZSTORE_PAGE;
    }
    return c->decompress(data, len, page, ZSTORE_PAGE);
}

/* The page of a live entry into page (decode_copy's answer). */
static int decode(const zs_entry_t *e, void *page)
{
    return decode_copy(e->kind, e->u.word, e->u.data, e->len, codec(), page);
}

/* A page pointer the store can take (fn names the caller): 1, or 0 after one line. */
static int page_ok(const char *fn, uint32_t handle, const void *page)
{
    const char *why = !page                      ? "no page (NULL)"
                      : (uintptr_t)page % 4 != 0 ? "not aligned to 4 bytes"
                                                 : NULL;
    if (!why)
        return 1;
    if (handle)
        mm_report("%s: handle 0x%08x: page %p: %s", fn, (unsigned)handle, page, why);
    else
        mm_report("%s: page %p: %s", fn, page, why);
    return 0;
}

/* The word the whole page repeats, in *word: 1, or 0 if it is not same-filled. */
static int same_filled(const void *page, uint32_t *word)
{
    const uint32_t *w = page;
    for (uint32_t i = 1; i < ZSTORE_PAGE / 4; i++)
        if (w[i] != w[0])
            return 0;
    *word = w[0];
    return 1;
}

/* The live entry a handle names, or NULL after one line (fn: the caller's name). */
static zs_entry_t *lookup(const char *fn, uint32_t handle)
{
    uint32_t index = handle & ZS_INDEX_MAX;
    uint32_t gen = handle >> ZSTORE_INDEX_BITS;
    const char *why = NULL;
    zs_entry_t *e = NULL;
    if (handle >> ZSTORE_HANDLE_BITS || index == 0 || gen == 0 ||
        index >= zstore_data.chunks * ZSTORE_CHUNK_ENTRIES)
        why = "not a handle of the store";
    else {
        e = entry_at(index);
        if (e->gen != gen)
            why = "stale handle (its page was freed)";
        else if (e->kind == ZS_FREE || e->kind == ZS_RETIRED)
            why = "freed already (double free?)";
    }
    if (why) {
        zstore_data.st.bad_handles++;
        mm_report("%s: handle 0x%08x: %s", fn, (unsigned)handle, why);
        return NULL;
    }
    return e;
}

/* Entry `index` (at e) goes to the tail of the free list: the oldest free entry is reused first. */
static void free_push(uint32_t index, zs_entry_t *e)
{
    e->u.next = 0;
    if (zstore_data.free_tail)
        entry_at(zstore_data.free_tail)->u.next = index;
    else
        zstore_data.free_head = index;
    zstore_data.free_tail = index;
    zstore_data.free_count++;
}

/*
 * One more chunk of free entries at the tail of the FIFO: 0, or -1 (table
 * full, no memory), -2 (the chunk would take the pool over limit).
 */
static int add_chunk(uint32_t limit)
{
    if (zstore_data.chunks >= ZS_CHUNKS)
        return -1;
    zs_entry_t *c = kmalloc(ZSTORE_CHUNK_ENTRIES * sizeof(zs_entry_t));
    if (!c)
        return -1;
    uint32_t size = footprint(c);
    if (limit && zstore_data.st.mem_used + size > limit) {
        kfree(c);
        return -2;
    }
    uint32_t base = zstore_data.chunks * ZSTORE_CHUNK_ENTRIES;
    memset(c, 0, ZSTORE_CHUNK_ENTRIES * sizeof(zs_entry_t));
    zstore_data.chunk[zstore_data.chunks++] = c;
    for (uint32_t i = base ? 0 : 1; i < ZSTORE_CHUNK_ENTRIES; i++) {
        uint32_t index = base + i;
        c[i].kind = ZS_FREE;
        c[i].gen = 1;
        free_push(index, &c[i]);
    }
    zstore_data.st.entries = zstore_data.chunks * ZSTORE_CHUNK_ENTRIES - 1;
    zstore_data.st.mem_entries += size;
    zstore_data.st.mem_used += size;
    if (zstore_data.st.mem_used > zstore_data.st.mem_used_max)
        zstore_data.st.mem_used_max = zstore_data.st.mem_used;
    return 0;
}

/*
 * page classified and compressed into b: the kind, the word or the bytes
 * (never more than ZSTORE_HUGE_BYTES compressed, else the page whole), and in
 * the debug build the checksum of the copy as stored (decoded once, into the
 * work memory the compressor is done with: the bytes it saw, even if the page
 * changed under it).  Touches nothing of the store's but the codec pointer.
 */
static void encode(const void *page, zstore_buf_t *b)
{
    const mm_codec_t *c = codec();
    b->codec = c;
    b->handle = 0;
    b->word = 0;
    b->result = 0;
    if (same_filled(page, &b->word)) {
        b->kind = ZS_SAME;
        b->len = 0;
    } else {
        int n = c->compress(page, ZSTORE_PAGE, b->data, ZSTORE_HUGE_BYTES, b->work);
        if (n > 0 && (uint32_t)n <= ZSTORE_HUGE_BYTES) {
            b->kind = ZS_COMP;
            b->len = (uint16_t)n;
        } else {
            b->kind = ZS_WHOLE; /* LZ4_E_NOSPACE: above the threshold (any error: the same) */
            b->len = ZSTORE_PAGE;
            memcpy(b->data, page, ZSTORE_PAGE);
        }
    }
    b->sum = 0;
    if (ZS_SUMS && decode_copy(b->kind, b->word, b->data, b->len, c, b->work) == (int)ZSTORE_PAGE)
        b->sum = zs_sum(b->work);
}

static uint32_t put_locked(const zstore_buf_t *b)
{
    if (b->codec != codec() || (b->kind != ZS_SAME && b->kind != ZS_COMP && b->kind != ZS_WHOLE)) {
        zstore_data.st
            .refused_busy++; /* zstore_set_codec since the encode (or no encoding at all) */
        return 0;
    }
    uint32_t limit = limit_now();
    /* allocations first: kmalloc may run reclaim, which may call zstore_free/get */
    int r = zstore_data.free_head ? 0 : add_chunk(limit);
    if (r < 0) {
        if (r == -2)
            zstore_data.st.refused_limit++;
        else
            zstore_data.st.refused_nomem++;
        return 0;
    }
    void *data = NULL;
    uint32_t size = 0;
    if (b->kind != ZS_SAME) {
        data = kmalloc_exact(b->len); /* (not rounded up to a block cache's class) */
        if (!data) {
            zstore_data.st.refused_nomem++;
            return 0;
        }
        size = footprint(data);
    }
    if (limit && zstore_data.st.mem_used + size > limit) {
        kfree(data);
        zstore_data.st.refused_limit++;
        return 0;
    }
    if (!zstore_data.free_head) { /* a nested call cannot take entries; be safe anyway */
        kfree(data);
        zstore_data.st.refused_nomem++;
        return 0;
    }
    uint32_t index = zstore_data.free_head;
    zs_entry_t *e = entry_at(index);
    zstore_data.free_head = e->u.next;
    if (!zstore_data.free_head)
        zstore_data.free_tail = 0;
    zstore_data.free_count--;
    e->kind = b->kind;
    e->len = b->len;
    if (b->kind == ZS_SAME) {
        e->u.word = b->word;
        zstore_data.st.same_pages++;
    } else {
        memcpy(data, b->data, b->len);
        e->u.data = data;
        if (b->kind == ZS_WHOLE)
            zstore_data.st.huge_pages++;
    }
    entry_sum_set(e, b->sum);
    zstore_data.st.orig_bytes += ZSTORE_PAGE;
    zstore_data.st.compr_bytes += b->len;
    zstore_data.st.mem_used += size;
    if (zstore_data.st.mem_used > zstore_data.st.mem_used_max)
        zstore_data.st.mem_used_max = zstore_data.st.mem_used;
    zstore_data.st.pages_stored++;
    zstore_data.st.puts++;
    return handle_of(index, e);
}

uint32_t zstore_put(const void *page)
{
    if (!page_ok("zstore_put", 0, page))
        return 0;
    glue_irqflags_t f = mm_lock();
    uint32_t h = 0;
    if (zstore_data.busy) {
        zstore_data.st.refused_busy++;
    } else {
        zstore_data.busy = 1;
        encode(page, &zs_buf);
        h = put_locked(&zs_buf);
        zstore_data.busy = 0;
    }
    mm_unlock(f);
    return h;
}

int zstore_encode(const void *page, zstore_buf_t *b)
{
    if (!b) {
        mm_report("zstore_encode: page %p: no buffer (NULL)", page);
        return -1;
    }
    b->kind = ZS_FREE; /* not an encoding until it is one */
    if (!page_ok("zstore_encode", 0, page))
        return -1;
    encode(page, b);
    return 0;
}

uint32_t zstore_put_encoded(const zstore_buf_t *b)
{
    if (!b) {
        mm_report("zstore_put_encoded: no buffer (NULL)");
        return 0;
    }
    glue_irqflags_t f = mm_lock();
    uint32_t h = put_locked(b);
    mm_unlock(f);
    return h;
}

int zstore_encoded_current(const zstore_buf_t *b)
{
    return b && b->codec == codec();
}

/* A copy found bad: one line, counted, the caller's page zeroed. */
static int corrupt(uint32_t handle, void *page, const char *what)
{
    zstore_data.st.corrupt++;
    memset(page, 0, ZSTORE_PAGE);
    mm_report("zstore_get: handle 0x%08x: stored copy corrupt (%s): page not returned",
              (unsigned)handle, what);
    return -1;
}

int zstore_get(uint32_t handle, void *page)
{
    if (!page_ok("zstore_get", handle, page))
        return -1;
    glue_irqflags_t f = mm_lock();
    zs_entry_t *e = lookup("zstore_get", handle);
    int r = e ? 0 : -1;
    if (e && e->kind != ZS_SAME && (uintptr_t)page < (uintptr_t)e->u.data + e->len &&
        (uintptr_t)e->u.data < (uintptr_t)page + ZSTORE_PAGE) {
        mm_report("zstore_get: handle 0x%08x: page %p overlaps the stored copy at %p: not "
                  "returned",
                  (unsigned)handle, page, e->u.data);
        e = NULL;
        r = -1;
    }
    if (e) {
        int n = decode(e, page);
        if (n != (int)ZSTORE_PAGE)
            r = corrupt(handle, page, n < 0 ? "does not decode" : "decodes short");
        if (r == 0 && sum_wrong(page, entry_sum(e)))
            r = corrupt(handle, page, "checksum mismatch");
        if (r == 0)
            zstore_data.st.gets++;
    }
    mm_unlock(f);
    return r;
}

int zstore_fetch(uint32_t handle, zstore_buf_t *b)
{
    if (!b) {
        mm_report("zstore_fetch: handle 0x%08x: no buffer (NULL)", (unsigned)handle);
        return -1;
    }
    b->kind = ZS_FREE;
    glue_irqflags_t f = mm_lock();
    zs_entry_t *e = lookup("zstore_fetch", handle);
    if (e) {
        b->codec = codec();
        b->handle = handle;
        b->kind = e->kind;
        b->len = e->len;
        b->word = e->kind == ZS_SAME ? e->u.word : 0;
        b->result = 0;
        b->sum = entry_sum(e);
        if (e->kind != ZS_SAME)
            memcpy(b->data, e->u.data, e->len);
    }
    mm_unlock(f);
    return e ? 0 : -1;
}

int zstore_decode(zstore_buf_t *b, void *page)
{
    if (!b || !page_ok("zstore_decode", b->handle, page))
        return -1;
    if (b->kind == ZS_SAME || b->kind == ZS_COMP || b->kind == ZS_WHOLE) {
        int n = decode_copy(b->kind, b->word, b->data, b->len, b->codec, page);
        b->result = n == (int)ZSTORE_PAGE ? 0 : n < 0 ? -1 : -2;
    } else {
        b->result = -4; /* no copy fetched into it */
    }
    if (b->result == 0 && sum_wrong(page, b->sum))
        b->result = -3;
    if (b->result)
        memset(page, 0, ZSTORE_PAGE);
    return b->result ? -1 : 0;
}

int zstore_decoded(const zstore_buf_t *b)
{
    static const char *const why[] = {"", "does not decode", "decodes short", "checksum mismatch"};
    if (!b)
        return -1;
    glue_irqflags_t f = mm_lock();
    if (b->result == 0) {
        zstore_data.st.gets++;
    } else {
        zstore_data.st.corrupt++;
        mm_report("zstore_get: handle 0x%08x: stored copy corrupt (%s): page not returned",
                  (unsigned)b->handle,
                  b->result < 0 && b->result >= -3 ? why[-b->result] : "no copy fetched");
    }
    mm_unlock(f);
    return b->result ? -1 : 0;
}

int zstore_free(uint32_t handle)
{
    glue_irqflags_t f = mm_lock();
    uint32_t index = handle & ZS_INDEX_MAX;
    zs_entry_t *e = lookup("zstore_free", handle);
    if (e) {
        if (e->kind != ZS_SAME) {
            uint32_t size = footprint(e->u.data);
            kfree(e->u.data);
            zstore_data.st.mem_used -= size;
        }
        if (e->kind == ZS_SAME)
            zstore_data.st.same_pages--;
        else if (e->kind == ZS_WHOLE)
            zstore_data.st.huge_pages--;
        zstore_data.st.orig_bytes -= ZSTORE_PAGE;
        zstore_data.st.compr_bytes -= e->len;
        zstore_data.st.pages_stored--;
        zstore_data.st.frees++;
        e->kind = ZS_FREE;
        e->len = 0;
        if (e->gen == ZS_GEN_MAX) { /* its generations are used up: never again */
            e->kind = ZS_RETIRED;
            e->u.next = 0;
            zstore_data.st.entries_retired++;
        } else {
            e->gen++;
            free_push(index, e);
        }
    }
    mm_unlock(f);
    return e ? 0 : -1;
}

void zstore_set_limit(uint32_t bytes)
{
    glue_irqflags_t f = mm_lock();
    zstore_data.limit = bytes;
    mm_unlock(f);
}

int zstore_set_codec(const mm_codec_t *c)
{
    int r = 0;
    glue_irqflags_t f = mm_lock();
    if (c && (c->work_size > ZSTORE_WORK_MAX || !c->compress || !c->decompress)) {
        mm_report("zstore_set_codec: %p: codec '%s' needs %u bytes of work memory (room: %u) or "
                  "lacks a function: not used",
                  (const void *)c, c->name ? c->name : "?", (unsigned)c->work_size,
                  (unsigned)ZSTORE_WORK_MAX);
        r = -1;
    } else if (zstore_data.busy) {
        mm_report("zstore_set_codec: %p: a put is under way (called from its codec?): not "
                  "changed",
                  (const void *)c);
        r = -1;
    } else if (zstore_data.st.pages_stored - zstore_data.st.same_pages -
               zstore_data.st.huge_pages) {
        mm_report("zstore_set_codec: %p: %u pages are stored compressed with '%s': not changed",
                  (const void *)c,
                  (unsigned)(zstore_data.st.pages_stored - zstore_data.st.same_pages -
                             zstore_data.st.huge_pages),
                  codec()->name);
        r = -1;
    } else {
        __atomic_store_n(&zstore_data.codec, c,
                         __ATOMIC_RELEASE); /* zstore_encode reads it unlocked */
    }
    mm_unlock(f);
    return r;
}

void *zstore_peek(uint32_t handle, uint32_t *len)
{
    glue_irqflags_t f = mm_lock();
    zs_entry_t *e = lookup("zstore_peek", handle);
    void *p = e && e->kind != ZS_SAME ? e->u.data : NULL;
    if (len)
        *len = e ? e->len : 0;
    mm_unlock(f);
    return p;
}

int zstore_live(uint32_t handle)
{
    glue_irqflags_t f = mm_lock();
    uint32_t index = handle & ZS_INDEX_MAX, gen = handle >> ZSTORE_INDEX_BITS;
    int live = !(handle >> ZSTORE_HANDLE_BITS) && index && gen &&
               index < zstore_data.chunks * ZSTORE_CHUNK_ENTRIES && entry_at(index)->gen == gen &&
               entry_at(index)->kind != ZS_FREE && entry_at(index)->kind != ZS_RETIRED;
    mm_unlock(f);
    return live;
}

void zstore_reset(void)
{
    glue_irqflags_t f = mm_lock();
    const mm_codec_t *c = zstore_data.codec;
    memset(&zstore_data, 0, sizeof(zstore_data));
    zstore_data.codec = c;
    mm_unlock(f);
}

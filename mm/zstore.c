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
 * Calls: the heap (kmalloc, kfree, kmalloc_usable_size), the codec (lz4.h),
 * the PMM's statistics (the default limit), the lock, the log, string.c.
 */
#include "zstore.h"

#include "glue.h"
#include "kstring.h"
#include "lock.h"
#include "log.h"
#include "lz4.h"
#include "memory.h"
#include "pmm.h"

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

static struct {
    zs_entry_t *chunk[ZS_CHUNKS];
    uint32_t chunks;
    uint32_t free_head, free_tail; /* the FIFO of free entries (0: empty) */
    uint32_t free_count;
    uint32_t limit; /* as set (0: the default) */
    const mm_codec_t *codec;
    int busy; /* a put is under way on the CPU holding the lock */
    zstore_stats_t st;
} zs;

/* zstore_put's encoding: under the lock, never nested (`busy`). */
static zstore_buf_t zs_buf;

/* The codec in force (read without the lock by zstore_encode: written atomically). */
static const mm_codec_t *codec(void)
{
    const mm_codec_t *c = __atomic_load_n(&zs.codec, __ATOMIC_ACQUIRE);
    return c ? c : &lz4_codec;
}

static zs_entry_t *entry_at(uint32_t index)
{
    return &zs.chunk[index / ZSTORE_CHUNK_ENTRIES][index % ZSTORE_CHUNK_ENTRIES];
}

static uint32_t handle_of(uint32_t index, const zs_entry_t *e)
{
    return (uint32_t)e->gen << ZSTORE_INDEX_BITS | index;
}

/* Bytes a block of the heap really takes: its usable size, plus the header above the slabs. */
static uint32_t footprint(void *block)
{
    size_t n = kmalloc_usable_size(block);
    return (uint32_t)(n > ZS_SLAB_MAX ? n + HEAP_HEADER_SIZE : n);
}

/* The limit in force: as set, else half the PMM's RAM (0: none). */
static uint32_t limit_now(void)
{
    if (zs.limit)
        return zs.limit;
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    return ps.total_pages / 2 > UINT32_MAX / ZSTORE_PAGE ? UINT32_MAX
                                                         : ps.total_pages / 2 * ZSTORE_PAGE;
}

#ifdef MM_DEBUG
/* FNV-1a over the page's words. */
static uint32_t zs_sum(const void *page)
{
    const uint32_t *w = page;
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < ZSTORE_PAGE / 4; i++)
        h = (h ^ w[i]) * 16777619u;
    return h;
}
#endif

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
        index >= zs.chunks * ZSTORE_CHUNK_ENTRIES)
        why = "not a handle of the store";
    else {
        e = entry_at(index);
        if (e->gen != gen)
            why = "stale handle (its page was freed)";
        else if (e->kind == ZS_FREE || e->kind == ZS_RETIRED)
            why = "freed already (double free?)";
    }
    if (why) {
        zs.st.bad_handles++;
        mm_report("%s: handle 0x%08x: %s", fn, (unsigned)handle, why);
        return NULL;
    }
    return e;
}

/* Entry `index` (at e) goes to the tail of the free list: the oldest free entry is reused first. */
static void free_push(uint32_t index, zs_entry_t *e)
{
    e->u.next = 0;
    if (zs.free_tail)
        entry_at(zs.free_tail)->u.next = index;
    else
        zs.free_head = index;
    zs.free_tail = index;
    zs.free_count++;
}

/*
 * One more chunk of free entries at the tail of the FIFO: 0, or -1 (table
 * full, no memory), -2 (the chunk would take the pool over limit).
 */
static int add_chunk(uint32_t limit)
{
    if (zs.chunks >= ZS_CHUNKS)
        return -1;
    zs_entry_t *c = kmalloc(ZSTORE_CHUNK_ENTRIES * sizeof(zs_entry_t));
    if (!c)
        return -1;
    uint32_t size = footprint(c);
    if (limit && zs.st.mem_used + size > limit) {
        kfree(c);
        return -2;
    }
    uint32_t base = zs.chunks * ZSTORE_CHUNK_ENTRIES;
    memset(c, 0, ZSTORE_CHUNK_ENTRIES * sizeof(zs_entry_t));
    zs.chunk[zs.chunks++] = c;
    for (uint32_t i = base ? 0 : 1; i < ZSTORE_CHUNK_ENTRIES; i++) {
        uint32_t index = base + i;
        c[i].kind = ZS_FREE;
        c[i].gen = 1;
        free_push(index, &c[i]);
    }
    zs.st.entries = zs.chunks * ZSTORE_CHUNK_ENTRIES - 1;
    zs.st.mem_entries += size;
    zs.st.mem_used += size;
    if (zs.st.mem_used > zs.st.mem_used_max)
        zs.st.mem_used_max = zs.st.mem_used;
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
#ifdef MM_DEBUG
    if (decode_copy(b->kind, b->word, b->data, b->len, c, b->work) == (int)ZSTORE_PAGE)
        b->sum = zs_sum(b->work);
#endif
}

static uint32_t put_locked(const zstore_buf_t *b)
{
    if (b->codec != codec() || (b->kind != ZS_SAME && b->kind != ZS_COMP && b->kind != ZS_WHOLE)) {
        zs.st.refused_busy++; /* zstore_set_codec since the encode (or no encoding at all) */
        return 0;
    }
    uint32_t limit = limit_now();
    /* allocations first: kmalloc may run reclaim, which may call zstore_free/get */
    int r = zs.free_head ? 0 : add_chunk(limit);
    if (r < 0) {
        if (r == -2)
            zs.st.refused_limit++;
        else
            zs.st.refused_nomem++;
        return 0;
    }
    void *data = NULL;
    uint32_t size = 0;
    if (b->kind != ZS_SAME) {
        data = kmalloc(b->len);
        if (!data) {
            zs.st.refused_nomem++;
            return 0;
        }
        size = footprint(data);
    }
    if (limit && zs.st.mem_used + size > limit) {
        kfree(data);
        zs.st.refused_limit++;
        return 0;
    }
    if (!zs.free_head) { /* a nested call cannot take entries; be safe anyway */
        kfree(data);
        zs.st.refused_nomem++;
        return 0;
    }
    uint32_t index = zs.free_head;
    zs_entry_t *e = entry_at(index);
    zs.free_head = e->u.next;
    if (!zs.free_head)
        zs.free_tail = 0;
    zs.free_count--;
    e->kind = b->kind;
    e->len = b->len;
    if (b->kind == ZS_SAME) {
        e->u.word = b->word;
        zs.st.same_pages++;
    } else {
        memcpy(data, b->data, b->len);
        e->u.data = data;
        if (b->kind == ZS_WHOLE)
            zs.st.huge_pages++;
    }
#ifdef MM_DEBUG
    e->sum = b->sum;
#endif
    zs.st.orig_bytes += ZSTORE_PAGE;
    zs.st.compr_bytes += b->len;
    zs.st.mem_used += size;
    if (zs.st.mem_used > zs.st.mem_used_max)
        zs.st.mem_used_max = zs.st.mem_used;
    zs.st.pages_stored++;
    zs.st.puts++;
    return handle_of(index, e);
}

uint32_t zstore_put(const void *page)
{
    if (!page_ok("zstore_put", 0, page))
        return 0;
    glue_irqflags_t f = mm_lock();
    uint32_t h = 0;
    if (zs.busy) {
        zs.st.refused_busy++;
    } else {
        zs.busy = 1;
        encode(page, &zs_buf);
        h = put_locked(&zs_buf);
        zs.busy = 0;
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

/* A copy found bad: one line, counted, the caller's page zeroed. */
static int corrupt(uint32_t handle, void *page, const char *what)
{
    zs.st.corrupt++;
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
#ifdef MM_DEBUG
        if (r == 0 && zs_sum(page) != e->sum)
            r = corrupt(handle, page, "checksum mismatch");
#endif
        if (r == 0)
            zs.st.gets++;
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
        b->sum = 0;
#ifdef MM_DEBUG
        b->sum = e->sum;
#endif
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
#ifdef MM_DEBUG
    if (b->result == 0 && zs_sum(page) != b->sum)
        b->result = -3;
#endif
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
        zs.st.gets++;
    } else {
        zs.st.corrupt++;
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
            zs.st.mem_used -= size;
        }
        if (e->kind == ZS_SAME)
            zs.st.same_pages--;
        else if (e->kind == ZS_WHOLE)
            zs.st.huge_pages--;
        zs.st.orig_bytes -= ZSTORE_PAGE;
        zs.st.compr_bytes -= e->len;
        zs.st.pages_stored--;
        zs.st.frees++;
        e->kind = ZS_FREE;
        e->len = 0;
        if (e->gen == ZS_GEN_MAX) { /* its generations are used up: never again */
            e->kind = ZS_RETIRED;
            e->u.next = 0;
            zs.st.entries_retired++;
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
    zs.limit = bytes;
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
    } else if (zs.busy) {
        mm_report("zstore_set_codec: %p: a put is under way (called from its codec?): not "
                  "changed",
                  (const void *)c);
        r = -1;
    } else if (zs.st.pages_stored - zs.st.same_pages - zs.st.huge_pages) {
        mm_report("zstore_set_codec: %p: %u pages are stored compressed with '%s': not changed",
                  (const void *)c,
                  (unsigned)(zs.st.pages_stored - zs.st.same_pages - zs.st.huge_pages),
                  codec()->name);
        r = -1;
    } else {
        __atomic_store_n(&zs.codec, c, __ATOMIC_RELEASE); /* zstore_encode reads it unlocked */
    }
    mm_unlock(f);
    return r;
}

void zstore_get_stats(zstore_stats_t *stats)
{
    if (!stats) {
        mm_report("zstore_get_stats: %p: no buffer (NULL)", (void *)stats);
        return;
    }
    glue_irqflags_t f = mm_lock();
    *stats = zs.st;
    stats->limit_bytes = limit_now();
    mm_unlock(f);
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
               index < zs.chunks * ZSTORE_CHUNK_ENTRIES && entry_at(index)->gen == gen &&
               entry_at(index)->kind != ZS_FREE && entry_at(index)->kind != ZS_RETIRED;
    mm_unlock(f);
    return live;
}

void zstore_reset(void)
{
    glue_irqflags_t f = mm_lock();
    const mm_codec_t *c = zs.codec;
    memset(&zs, 0, sizeof(zs));
    zs.codec = c;
    mm_unlock(f);
}

#define check_failed(where, what) mm_check_failed("zstore_check", where, what, NULL)

/* A counter recomputed: 1 (and a line) if the store's differs. */
static int check_count(const char *name, uint32_t kept, uint32_t counted)
{
    if (kept == counted)
        return 0;
    char what[96];
    mm_snprintf(what, sizeof(what), "%s is %u, the entries say %u", name, (unsigned)kept,
                (unsigned)counted);
    return check_failed(&zs, what);
}

int zstore_check(void)
{
    glue_irqflags_t f = mm_lock();
    int errors = 0;
    uint32_t cap = zs.chunks * ZSTORE_CHUNK_ENTRIES;
    uint32_t orig = 0, compr = 0, mem = 0, same = 0, huge = 0, stored = 0, free = 0, retired = 0;
    for (uint32_t c = 0; c < zs.chunks; c++) {
        if (!zs.chunk[c]) {
            errors += check_failed(&zs.chunk[c], "entry chunk missing");
            continue;
        }
        mem += footprint(zs.chunk[c]);
    }
    uint32_t mem_entries = mem;
    for (uint32_t i = 1; i < cap; i++) {
        if (!zs.chunk[i / ZSTORE_CHUNK_ENTRIES])
            continue;
        zs_entry_t *e = entry_at(i);
        if (e->gen == 0 || e->gen > ZS_GEN_MAX)
            errors += check_failed(e, "generation out of range");
        switch (e->kind) {
        case ZS_FREE:
            free++;
            if (e->len)
                errors += check_failed(e, "free entry with a length");
            break;
        case ZS_SAME:
            same++;
            if (e->len)
                errors += check_failed(e, "same-filled entry with a length");
            break;
        case ZS_RETIRED:
            retired++;
            if (e->len || e->gen != ZS_GEN_MAX)
                errors += check_failed(e, "retired entry with a length or a live generation");
            continue;
        case ZS_WHOLE:
        case ZS_COMP:
            if (e->kind == ZS_WHOLE)
                huge++;
            if (e->kind == ZS_WHOLE ? e->len != ZSTORE_PAGE
                                    : e->len == 0 || e->len > ZSTORE_HUGE_BYTES) {
                errors += check_failed(e, "length out of range for its kind");
                break;
            }
            if (!e->u.data || kmalloc_usable_size(e->u.data) < e->len) {
                errors += check_failed(e, "copy's block missing or too small");
                break;
            }
            mem += footprint(e->u.data);
            break;
        default:
            errors += check_failed(e, "unknown kind");
            continue;
        }
        if (e->kind != ZS_FREE) {
            stored++;
            orig += ZSTORE_PAGE;
            compr += e->len;
        }
    }
    /* the free list: every free entry once, in bounds, ending at the tail */
    uint32_t walked = 0, last = 0;
    for (uint32_t i = zs.free_head; i; i = entry_at(i)->u.next) {
        if (i >= cap || walked > cap) {
            errors += check_failed(&zs.free_head, "free list leaves the table or loops");
            break;
        }
        if (entry_at(i)->kind != ZS_FREE) {
            errors += check_failed(entry_at(i), "entry on the free list is in use");
            break;
        }
        walked++;
        last = i;
    }
    if (last != zs.free_tail)
        errors += check_failed(&zs.free_tail, "free list does not end at its tail");
    errors += check_count("free list length", walked, free);
    errors += check_count("free count", zs.free_count, free);
    errors += check_count("entries_retired", zs.st.entries_retired, retired);
    errors += check_count("pages_stored", zs.st.pages_stored, stored);
    errors += check_count("orig_bytes", zs.st.orig_bytes, orig);
    errors += check_count("compr_bytes", zs.st.compr_bytes, compr);
    errors += check_count("same_pages", zs.st.same_pages, same);
    errors += check_count("huge_pages", zs.st.huge_pages, huge);
    errors += check_count("mem_used", zs.st.mem_used, mem);
    errors += check_count("mem_entries", zs.st.mem_entries, mem_entries);
    errors += check_count("entries", zs.st.entries, cap ? cap - 1 : 0);
    errors += check_count("puts - frees", zs.st.puts - zs.st.frees, stored);
    mm_unlock(f);
    return errors;
}

void zstore_dump(void)
{
    zstore_stats_t s;
    zstore_get_stats(&s);
    /* orig / pool in hundredths, in 32 bits (no 64-bit division in the kernel) */
    uint32_t pool = s.mem_used >> 8 ? s.mem_used >> 8 : 1;
    uint32_t pct = (s.orig_bytes >> 8) * 100 / pool;
    mm_printf("zstore: %u pages stored (%u same-filled, %u incompressible), codec %s\n",
              (unsigned)s.pages_stored, (unsigned)s.same_pages, (unsigned)s.huge_pages,
              codec()->name);
    mm_printf("zstore: orig %u KB, compressed %u KB, pool %u KB (entries %u KB, peak %u KB), "
              "ratio %u.%02u\n",
              (unsigned)(s.orig_bytes >> 10), (unsigned)(s.compr_bytes >> 10),
              (unsigned)(s.mem_used >> 10), (unsigned)(s.mem_entries >> 10),
              (unsigned)(s.mem_used_max >> 10), (unsigned)(pct / 100), (unsigned)(pct % 100));
    mm_printf("zstore: puts %u, gets %u, frees %u; refused: limit %u, no memory %u, nested %u; "
              "bad handles %u, corrupt %u; limit %u KB; entries retired %u\n",
              (unsigned)s.puts, (unsigned)s.gets, (unsigned)s.frees, (unsigned)s.refused_limit,
              (unsigned)s.refused_nomem, (unsigned)s.refused_busy, (unsigned)s.bad_handles,
              (unsigned)s.corrupt, (unsigned)(s.limit_bytes >> 10), (unsigned)s.entries_retired);
}

/*
 * debug.c - the debug build's checks and profile (MM_DEBUG; mm_debug.h).
 *
 * Theory of operation
 * -------------------
 * The heap (kmalloc.c, heap_stats.c) and slab.c call the dbg_* hooks
 * (heap_internal.h) when a caller's object is born (dbg_arm), freed
 * (dbg_free) or checked (heap_check); this file owns everything the debug
 * build adds:
 *
 *   sites        a table of call sites (file, line), found by hashing the
 *                pair, never by reading the file name; an object's record
 *                names its site by index, so a smashed record is a bad index,
 *                never a wild pointer.  Per site: allocations, bytes, live.
 *   quarantine   a FIFO of the last MM_QUARANTINE_ENTRIES freed objects (at
 *                most MM_QUARANTINE_BYTES), poisoned.  The heap still counts
 *                them as allocated; when one leaves (or at heap_check) every
 *                poisoned byte is checked: a changed one is a write after
 *                free, reported with its offset and both call sites.  What
 *                leaves is handed back to the caller (dbg_evict), which
 *                frees it: this file calls nothing of the heap's.
 *   profile      the size histogram, peak live bytes, the trace ring of the
 *                last MM_TRACE_EVENTS allocations and frees.
 *
 * Every report is one line through mm_report naming the bug, the object and
 * its call sites; the damage is then repaired (red zone re-armed, poison
 * rewritten) so that it is reported once and the heap goes on.
 *
 * Calls: lock.c, log.c, string.c; nothing above it (the public functions
 * that need the heap, mm_debug_get_stats, heap_profile and mm_debug_flush,
 * live in heap_stats.c and kmalloc.c).  Locking: the hooks run under mm_lock;
 * this file's public functions take it.
 */
#include "bits.h"
#include "glue.h"
#include "heap_internal.h"
#include "lock.h"
#include "log.h"
#include "memory.h"
#include "mm_debug.h"

static int want_on; /* mm_debug_set: what the next memory_init latches (off until asked) */

#ifndef MM_DEBUG
void mm_debug_set(int on)
{
    want_on = on;
}

int mm_debug_enabled(void)
{
    return 0;
}
#else

/* Bytes from the end of heap_block_t's last field to the payload: the front red zone. */
#define FRONT_RZ (HEAP_HEADER_SIZE - (offsetof(heap_block_t, line) + sizeof(uint32_t)))
_Static_assert(FRONT_RZ >= 4, "a block header ends in at least 4 bytes of padding");

typedef struct {
    const char *file; /* a __FILE__ literal (or NULL: not known) */
    uint32_t line;
    uint32_t allocs, bytes; /* every allocation from here (bytes saturate) */
    uint32_t live, live_bytes;
} site_t;

/* The quarantine's ring: one slot more than it keeps, for the newest before the oldest leaves. */
#define Q_SLOTS  (MM_QUARANTINE_ENTRIES + 1)

typedef struct {
    void *obj;
    uint32_t cap;    /* obj[0, cap) is poisoned */
    dbg_rec_t *rec;  /* its record, and what the record held when it came in */
    dbg_rec_t saved; /* (a heap block's record lies in its own bytes: a write after free there) */
} quarantine_entry_t;

typedef struct {
    uint32_t seq;
    uintptr_t addr;
    uint32_t size;
    uint16_t site;
    uint8_t free;
} trace_event_t;

static struct {
    int on;
    const char *file; /* the public call running now */
    uint32_t line;
    site_t sites[MM_DEBUG_SITES + 1]; /* [0]: unknown, or the table was full */
    uint32_t nsites;
    quarantine_entry_t q[Q_SLOTS];
    uint32_t q_head, q_count, q_bytes;
    uint32_t live, live_bytes, peak_bytes;
    uint32_t histogram[MM_HISTOGRAM_BUCKETS];
    trace_event_t trace[MM_TRACE_EVENTS];
    uint32_t trace_seq;
} dbg;

void mm_debug_set(int on)
{
    glue_irqflags_t f = mm_lock();
    want_on = on;
    mm_unlock(f);
}

int mm_debug_enabled(void)
{
    return dbg.on;
}

void dbg_reset(void)
{
    memset(&dbg, 0, sizeof(dbg));
    dbg.on = want_on;
}

int dbg_on(void)
{
    return dbg.on;
}

void dbg_site(const char *file, uint32_t line)
{
    dbg.file = file;
    dbg.line = line;
}

/* ------------------------------------------------------------ sites ---- */

/* The site (file, line), added if new and there is room; 0 if not known. */
static uint16_t site_find(const char *file, uint32_t line, int add)
{
    if (!file)
        return 0;
    uint32_t h = ((uint32_t)(uintptr_t)file * 2654435761u) ^ (line * 40503u);
    for (uint32_t k = 0; k < MM_DEBUG_SITES; k++) {
        uint32_t i = 1 + (h + k) % MM_DEBUG_SITES;
        site_t *s = &dbg.sites[i];
        if (s->file == file && s->line == line)
            return (uint16_t)i;
        if (!s->file) {
            if (!add)
                return 0;
            s->file = file;
            s->line = line;
            dbg.nsites++;
            return (uint16_t)i;
        }
    }
    return 0;
}

/* "file:line" of a site id (any id: a smashed record's is "?"). */
static void site_name(uint16_t id, char *buf, size_t len)
{
    if (id == 0 || id > MM_DEBUG_SITES || !dbg.sites[id].file)
        mm_snprintf(buf, len, "?");
    else
        mm_snprintf(buf, len, "%s:%u", dbg.sites[id].file, (unsigned)dbg.sites[id].line);
}

static int site_ok(uint16_t id)
{
    return id <= MM_DEBUG_SITES && (id == 0 || dbg.sites[id].file != NULL);
}

/* ------------------------------------------------------------- trace ---- */

static void trace(int is_free, const void *obj, uint32_t size, uint16_t site)
{
    trace_event_t *e = &dbg.trace[dbg.trace_seq % MM_TRACE_EVENTS];
    e->seq = dbg.trace_seq++;
    e->addr = (uintptr_t)obj;
    e->size = size;
    e->site = site;
    e->free = (uint8_t)is_free;
}

/* --------------------------------------------------------- red zones ---- */

static uint8_t *front_rz(const heap_block_t *hdr)
{
    return (uint8_t *)hdr + HEAP_HEADER_SIZE - FRONT_RZ;
}

/* A record we can believe: a size that leaves a red zone, sites that exist. */
static int rec_ok(const dbg_rec_t *rec, uint32_t cap, const heap_block_t *hdr)
{
    if (rec->size > cap || !site_ok(rec->site) || !site_ok(rec->free_site))
        return 0;
    /* (a header rebuilt from its neighbours has lost its site: the record still has it) */
    int rebuilt = hdr && hdr->file == NULL && hdr->line == 0;
    if (hdr && !rebuilt &&
        (rec->site
             ? dbg.sites[rec->site].file != hdr->file || dbg.sites[rec->site].line != hdr->line
             : hdr->file != NULL && site_find(hdr->file, hdr->line, 0) != 0))
        return 0;
    return !hdr || cap - rec->size >= MM_REDZONE_MIN;
}

/* The object's site, from its record or (a smashed record) its header. */
static uint16_t obj_site(const dbg_rec_t *rec, uint32_t cap, const heap_block_t *hdr)
{
    if (rec_ok(rec, cap, hdr))
        return rec->site;
    return hdr ? site_find(hdr->file, hdr->line, 0) : 0;
}

void dbg_arm(void *obj, uint32_t size, uint32_t cap, dbg_rec_t *rec, heap_block_t *hdr, int fill)
{
    uint16_t id = site_find(dbg.file, dbg.line, 1);
    if (fill)
        memset(obj, MM_FILL_BYTE, size);
    memset((uint8_t *)obj + size, MM_REDZONE_BYTE, cap - size);
    rec->size = size;
    rec->site = id;
    rec->free_site = 0;
    if (hdr) {
        hdr->file = id ? dbg.sites[id].file : NULL;
        hdr->line = id ? dbg.sites[id].line : 0;
        memset(front_rz(hdr), MM_REDZONE_BYTE, FRONT_RZ);
    }
    site_t *s = &dbg.sites[id];
    s->allocs++;
    s->bytes = s->bytes + size < s->bytes ? 0xFFFFFFFFu : s->bytes + size;
    s->live++;
    s->live_bytes += size;
    dbg.live++;
    dbg.live_bytes += size;
    if (dbg.live_bytes > dbg.peak_bytes)
        dbg.peak_bytes = dbg.live_bytes;
    unsigned k = size ? bits_highest(size) : 0;
    dbg.histogram[k < MM_HISTOGRAM_BUCKETS ? k : MM_HISTOGRAM_BUCKETS - 1]++;
    trace(0, obj, size, id);
}

/*
 * Check obj's red zones; report the first damage in one line and re-arm
 * them.  Returns 1 if they were damaged.
 */
static int redzone_check(const char *fn, void *obj, uint32_t cap, dbg_rec_t *rec, heap_block_t *hdr)
{
    const char *what = hdr ? "block" : "object";
    char where[96];
    site_name(obj_site(rec, cap, hdr), where, sizeof(where));
    if (!rec_ok(rec, cap, hdr)) {
        mm_report("%s: %p: red zone and record of a %s overwritten (%s size record %u of %u "
                  "bytes) allocated at %s",
                  fn, obj, what, hdr ? "overflow of more than 8 bytes?" : "slab record smashed:",
                  (unsigned)rec->size, (unsigned)cap, where);
        uint16_t id = obj_site(rec, cap, hdr);
        /* (a block rebuilt as allocated may hold less than a red zone: no wrap) */
        rec->size = !hdr ? cap : cap >= MM_REDZONE_MIN ? cap - MM_REDZONE_MIN : 0;
        rec->site = id;
        rec->free_site = 0;
        memset((uint8_t *)obj + rec->size, MM_REDZONE_BYTE, cap - rec->size);
        if (hdr)
            memset(front_rz(hdr), MM_REDZONE_BYTE, FRONT_RZ);
        return 1;
    }
    const uint8_t *p = obj;
    uint32_t last = 0;
    for (uint32_t i = rec->size; i < cap; i++) {
        if (p[i] != MM_REDZONE_BYTE)
            last = i + 1;
    }
    if (last) {
        uint32_t past = last - rec->size;
        mm_report("%s: %p: red zone overwritten %u byte%s past the end of a %u-byte %s allocated "
                  "at %s",
                  fn, obj, (unsigned)past, past == 1 ? "" : "s", (unsigned)rec->size, what, where);
        memset((uint8_t *)obj + rec->size, MM_REDZONE_BYTE, cap - rec->size);
        return 1;
    }
    if (hdr) {
        const uint8_t *f = front_rz(hdr);
        for (uint32_t i = 0; i < FRONT_RZ; i++) {
            if (f[i] != MM_REDZONE_BYTE) {
                uint32_t before = (uint32_t)FRONT_RZ - i;
                mm_report("%s: %p: red zone overwritten %u byte%s before the start of a %u-byte "
                          "block allocated at %s",
                          fn, obj, (unsigned)before, before == 1 ? "" : "s", (unsigned)rec->size,
                          where);
                memset(front_rz(hdr), MM_REDZONE_BYTE, FRONT_RZ);
                return 1;
            }
        }
    }
    return 0;
}

static quarantine_entry_t *q_find(const void *ptr);

int dbg_check_live(void *obj, uint32_t cap, dbg_rec_t *rec, heap_block_t *hdr)
{
    if (q_find(obj))
        return 0; /* dbg_check_quarantine checks it */
    return redzone_check("heap_check", obj, cap, rec, hdr);
}

uint32_t dbg_user_size(const dbg_rec_t *rec, uint32_t cap)
{
    return rec->size <= cap ? rec->size : 0;
}

/* -------------------------------------------------------- quarantine ---- */

static quarantine_entry_t *q_at(uint32_t k)
{
    return &dbg.q[(dbg.q_head + k) % Q_SLOTS];
}

static quarantine_entry_t *q_find(const void *ptr)
{
    for (uint32_t k = 0; k < dbg.q_count; k++) {
        if (q_at(k)->obj == ptr)
            return q_at(k);
    }
    return NULL;
}

/* A second free is a double free; anything else on a freed object is a use after free. */
static int is_free_call(const char *fn)
{
    static const char *const frees[] = {"kfree", "kmem_cache_free"};
    for (unsigned k = 0; k < 2; k++) {
        const char *a = fn, *b = frees[k];
        while (*a && *a == *b)
            a++, b++;
        if (*a == *b)
            return 1;
    }
    return 0;
}

int dbg_quarantined(const char *fn, const void *ptr)
{
    quarantine_entry_t *e = q_find(ptr);
    if (!e)
        return 0;
    char freed[96], allocated[96];
    site_name(e->saved.free_site, freed, sizeof(freed));
    site_name(e->saved.site, allocated, sizeof(allocated));
    mm_report("%s: %p: %s (in quarantine: freed at %s, allocated at %s)", fn, ptr,
              is_free_call(fn) ? "double free" : "use after free", freed, allocated);
    return 1;
}

/*
 * Is e's object still all poison (and its record as it was)?  Else report
 * the first changed byte and repair.  Returns 1 if it was written to.
 */
static int q_verify(const char *fn, quarantine_entry_t *e)
{
    const uint8_t *p = e->obj;
    uint32_t off = 0;
    int bad = 0;
    for (; off < e->cap; off++) {
        if (p[off] != MM_POISON_BYTE) {
            bad = 1;
            break;
        }
    }
    if (!bad && memcmp(e->rec, &e->saved, sizeof(dbg_rec_t)) != 0) {
        bad = 1;
        off = (uint32_t)((uintptr_t)e->rec - (uintptr_t)e->obj);
    }
    if (!bad)
        return 0;
    char freed[96], allocated[96];
    site_name(e->saved.free_site, freed, sizeof(freed));
    site_name(e->saved.site, allocated, sizeof(allocated));
    mm_report("%s: %p: write after free (offset %u) into a %u-byte object freed at %s "
              "(allocated at %s)",
              fn, e->obj, (unsigned)off, (unsigned)e->saved.size, freed, allocated);
    memset(e->obj, MM_POISON_BYTE, e->cap);
    *e->rec = e->saved;
    return 1;
}

/*
 * Over its limits: more objects than MM_QUARANTINE_ENTRIES or more bytes than
 * MM_QUARANTINE_BYTES, with more than the newest object in it (one object
 * larger than the limit still waits its turn, alone).
 */
static int q_over(void)
{
    return dbg.q_count > 1 &&
           (dbg.q_count > MM_QUARANTINE_ENTRIES || dbg.q_bytes > MM_QUARANTINE_BYTES);
}

void *dbg_evict(const char *fn, int all)
{
    if (!dbg.q_count || (!all && !q_over()))
        return NULL;
    quarantine_entry_t e = *q_at(0);
    dbg.q_head = (dbg.q_head + 1) % Q_SLOTS;
    dbg.q_count--;
    dbg.q_bytes -= e.cap;
    q_verify(fn, &e);
    return e.obj;
}

int dbg_free(const char *fn, void *obj, uint32_t cap, dbg_rec_t *rec, heap_block_t *hdr, int poison)
{
    redzone_check(fn, obj, cap, rec, hdr);
    uint16_t free_site = site_find(dbg.file, dbg.line, 1);
    site_t *s = &dbg.sites[rec->site];
    s->live -= s->live ? 1 : 0;
    s->live_bytes -= s->live_bytes >= rec->size ? rec->size : s->live_bytes;
    dbg.live -= dbg.live ? 1 : 0;
    dbg.live_bytes -= dbg.live_bytes >= rec->size ? rec->size : dbg.live_bytes;
    trace(1, obj, rec->size, free_site);
    if (!poison)
        return 0;
    rec->free_site = free_site;
    memset(obj, MM_POISON_BYTE, cap);
    quarantine_entry_t *e = q_at(dbg.q_count++);
    e->obj = obj;
    e->cap = cap;
    e->rec = rec;
    e->saved = *rec;
    dbg.q_bytes += cap;
    return 1;
}

int dbg_check_quarantine(void)
{
    int broken = 0;
    for (uint32_t k = 0; k < dbg.q_count; k++)
        broken += q_verify("heap_check", q_at(k));
    return broken;
}

const char *dbg_dump_state(const void *obj, uint32_t cap, const dbg_rec_t *rec,
                           const heap_block_t *hdr, char *detail, size_t len)
{
    char a[96], f[96];
    quarantine_entry_t *e = q_find(obj);
    if (e) {
        site_name(e->saved.free_site, f, sizeof(f));
        site_name(e->saved.site, a, sizeof(a));
        mm_snprintf(detail, len, "freed at %s (allocated at %s)", f, a);
        return "quarantine";
    }
    site_name(obj_site(rec, cap, hdr), a, sizeof(a));
    int damaged = !rec_ok(rec, cap, hdr);
    for (uint32_t i = damaged ? cap : rec->size; i < cap; i++)
        damaged |= ((const uint8_t *)obj)[i] != MM_REDZONE_BYTE;
    for (uint32_t i = 0; hdr && i < FRONT_RZ; i++)
        damaged |= front_rz(hdr)[i] != MM_REDZONE_BYTE;
    mm_snprintf(detail, len, "%u bytes at %s, red zone %u", (unsigned)rec->size, a,
                (unsigned)(cap - (rec->size <= cap ? rec->size : cap)));
    return damaged ? "redzone" : "ALLOC";
}

/* ------------------------------------------------------------ public ---- */

void dbg_get_stats(mm_debug_stats_t *st)
{
    st->live_allocations = dbg.live;
    st->live_bytes = dbg.live_bytes;
    st->peak_bytes = dbg.peak_bytes;
    st->quarantined = dbg.q_count;
    st->quarantined_bytes = dbg.q_bytes;
    memcpy(st->histogram, dbg.histogram, sizeof(st->histogram));
    st->trace_events = dbg.trace_seq;
    st->sites = dbg.nsites;
}

/* Before a report of what the checks recorded: say so when they are off. */
static void say_if_off(const char *report)
{
    if (!dbg.on)
        mm_printf("%s: the debug checks are off (mm_debug_set / boot option mmdebug)\n", report);
}

uint32_t heap_leaks(void)
{
    glue_irqflags_t f = mm_lock();
    say_if_off("leaks");
    for (uint32_t i = 0; i <= MM_DEBUG_SITES; i++) {
        const site_t *s = &dbg.sites[i];
        if (!s->live)
            continue;
        char where[96];
        site_name((uint16_t)i, where, sizeof(where));
        mm_printf("leak: %u allocation%s, %u bytes at %s\n", (unsigned)s->live,
                  s->live == 1 ? "" : "s", (unsigned)s->live_bytes, where);
    }
    uint32_t live = dbg.live;
    mm_printf("leaks: %u allocations, %u bytes live\n", (unsigned)live, (unsigned)dbg.live_bytes);
    mm_unlock(f);
    return live;
}

void heap_histogram(void)
{
    glue_irqflags_t f = mm_lock();
    say_if_off("histogram");
    for (unsigned k = 0; k < MM_HISTOGRAM_BUCKETS; k++) {
        if (!dbg.histogram[k])
            continue;
        if (k + 1 == MM_HISTOGRAM_BUCKETS)
            mm_printf("histogram: %u- %u\n", 1u << k, (unsigned)dbg.histogram[k]);
        else
            mm_printf("histogram: %u-%u %u\n", 1u << k, (2u << k) - 1, (unsigned)dbg.histogram[k]);
    }
    mm_unlock(f);
}

void dbg_profile(uint32_t fragmentation)
{
    mm_printf("profile: peak %u bytes live, %u bytes live now, fragmentation %u%%\n",
              (unsigned)dbg.peak_bytes, (unsigned)dbg.live_bytes, (unsigned)fragmentation);
    for (uint32_t i = 0; i <= MM_DEBUG_SITES; i++) {
        const site_t *s = &dbg.sites[i];
        if (!s->allocs)
            continue;
        char where[96];
        site_name((uint16_t)i, where, sizeof(where));
        mm_printf("site: %s %u allocations, %u bytes, %u bytes live\n", where, (unsigned)s->allocs,
                  (unsigned)s->bytes, (unsigned)s->live_bytes);
    }
}

void heap_trace_dump(void)
{
    glue_irqflags_t f = mm_lock();
    uint32_t n = dbg.trace_seq < MM_TRACE_EVENTS ? dbg.trace_seq : MM_TRACE_EVENTS;
    for (uint32_t seq = dbg.trace_seq - n; seq != dbg.trace_seq; seq++) {
        const trace_event_t *e = &dbg.trace[seq % MM_TRACE_EVENTS];
        char where[96];
        site_name(e->site, where, sizeof(where));
        mm_printf("trace: %u %s %p %u %s\n", (unsigned)e->seq, e->free ? "free" : "alloc",
                  (void *)e->addr, (unsigned)e->size, where);
    }
    mm_unlock(f);
}

#endif /* MM_DEBUG */

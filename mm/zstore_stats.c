/*
 * zstore_stats.c - what the compressed page store says about itself:
 * zstore_get_stats (zram's figures), zstore_check (every entry, chunk, block
 * and counter recomputed from the table) and zstore_dump.  Reads zstore_data
 * (zstore_priv.h), changes nothing.  Calls the heap (kmalloc_usable_size),
 * the PMM's statistics, lock.c, log.c.  Takes mm_lock.
 */
#include "lock.h"
#include "log.h"
#include "zstore_priv.h"

void zstore_get_stats(zstore_stats_t *stats)
{
    if (!stats) {
        mm_report("zstore_get_stats: %p: no buffer (NULL)", (void *)stats);
        return;
    }
    glue_irqflags_t f = mm_lock();
    *stats = zstore_data.st;
    stats->limit_bytes = limit_now();
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
    return check_failed(&zstore_data, what);
}

int zstore_check(void)
{
    glue_irqflags_t f = mm_lock();
    int errors = 0;
    uint32_t cap = zstore_data.chunks * ZSTORE_CHUNK_ENTRIES;
    uint32_t orig = 0, compr = 0, mem = 0, same = 0, huge = 0, stored = 0, free = 0, retired = 0;
    for (uint32_t c = 0; c < zstore_data.chunks; c++) {
        if (!zstore_data.chunk[c]) {
            errors += check_failed(&zstore_data.chunk[c], "entry chunk missing");
            continue;
        }
        mem += footprint(zstore_data.chunk[c]);
    }
    uint32_t mem_entries = mem;
    for (uint32_t i = 1; i < cap; i++) {
        if (!zstore_data.chunk[i / ZSTORE_CHUNK_ENTRIES])
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
    for (uint32_t i = zstore_data.free_head; i; i = entry_at(i)->u.next) {
        if (i >= cap || walked > cap) {
            errors += check_failed(&zstore_data.free_head, "free list leaves the table or loops");
            break;
        }
        if (entry_at(i)->kind != ZS_FREE) {
            errors += check_failed(entry_at(i), "entry on the free list is in use");
            break;
        }
        walked++;
        last = i;
    }
    if (last != zstore_data.free_tail)
        errors += check_failed(&zstore_data.free_tail, "free list does not end at its tail");
    errors += check_count("free list length", walked, free);
    errors += check_count("free count", zstore_data.free_count, free);
    errors += check_count("entries_retired", zstore_data.st.entries_retired, retired);
    errors += check_count("pages_stored", zstore_data.st.pages_stored, stored);
    errors += check_count("orig_bytes", zstore_data.st.orig_bytes, orig);
    errors += check_count("compr_bytes", zstore_data.st.compr_bytes, compr);
    errors += check_count("same_pages", zstore_data.st.same_pages, same);
    errors += check_count("huge_pages", zstore_data.st.huge_pages, huge);
    errors += check_count("mem_used", zstore_data.st.mem_used, mem);
    errors += check_count("mem_entries", zstore_data.st.mem_entries, mem_entries);
    errors += check_count("entries", zstore_data.st.entries, cap ? cap - 1 : 0);
    errors += check_count("puts - frees", zstore_data.st.puts - zstore_data.st.frees, stored);
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

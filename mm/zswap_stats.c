/*
 * zswap_stats.c - what zswap says about itself: zswap_get_stats (the state
 * counts walked from the entries, the event counters), zswap_check (every
 * page's entry against its area's records, the transit records, the window)
 * and zswap_dump.  Reads zswap_data (zswap_priv.h), changes nothing.  Calls
 * zswap.c, zstore.c, vmm.c, the PMM, log.c, lock.c.  Takes mm_lock.
 */
#include "lock.h"
#include "log.h"
#include "pmm.h"
#include "zswap_priv.h"

/* The state counts of one area added to s, its problems reported: the problems. */
static int walk_area(const struct zarea *a, zswap_stats_t *s, int check)
{
    int errors = 0;
    for (uint32_t i = 0; i < a->pages; i++) {
        vaddr_t v = a->base + i * PAGE_SIZE;
        uint32_t e = vmm_get_entry(v);
        if (e & PAGE_PRESENT) {
            s->present++;
            s->copies += a->copy[i] != 0;
            if (check && !(e & VMM_PTE_ZSWAP))
                errors += mm_check_failed_at("zswap_check", v, "present without VMM_PTE_ZSWAP");
            if (check && pmm_page_owner(VMM_FRAME(e)) != PMM_OWNER_VMALLOC)
                errors += mm_check_failed_at("zswap_check", v, "frame is not vmalloc's in the PMM");
            if (check && a->copy[i] && !zstore_live(a->copy[i]))
                errors += mm_check_failed_at("zswap_check", v, "kept copy's handle is not live");
            continue;
        }
        if (check && a->copy[i] && !is_handle_entry(e))
            errors += mm_check_failed_at("zswap_check", v, "a copy of a page not stored");
        if (e == ZSWAP_ENTRY_ZERO) {
            s->zero++;
        } else if (e == ZSWAP_ENTRY_PENDING && zswap_transit_of(a->base, i)) {
            s->transit++;
        } else if (is_handle_entry(e)) {
            s->stored++;
            if (check && !zstore_live(ZSWAP_HANDLE(e)))
                errors += mm_check_failed_at("zswap_check", v, "swap entry's handle is not live");
            if (check && ZSWAP_HANDLE(e) != a->copy[i])
                errors += mm_check_failed_at("zswap_check", v, "swap entry names another copy");
        } else if (check) {
            errors += mm_check_failed_at(
                "zswap_check", v, e ? "pending entry no reclaim has in flight" : "empty entry");
        }
    }
    return errors;
}

/* The transit records: what each has in flight is where it says (the problems). */
static int check_transit(void)
{
    int errors = 0;
    for (uint32_t c = 0; c < TRANSIT_CPUS; c++) {
        const struct transit *t = &zswap_data.transit[c];
        if (!t->busy) {
            if (t->n || t->fault_frame)
                errors += mm_check_failed_at("zswap_check", t->base, "idle record with pages");
            continue;
        }
        if (t->buf == NULL || t->next > t->n || t->n > ZSWAP_SWEEP)
            errors += mm_check_failed_at("zswap_check", t->base,
                                         "record without a buffer or "
                                         "with its counts out of range");
        const struct zarea *a = t->orphaned ? NULL : zswap_area_of(t->base);
        if (t->next < t->n && !t->orphaned && (!a || a->base != t->base))
            errors += mm_check_failed_at("zswap_check", t->base, "pages in flight of no area");
        for (uint32_t k = t->next; k < t->n && k < ZSWAP_SWEEP; k++) {
            vaddr_t v = t->base + t->page[k] * PAGE_SIZE;
            if (pmm_page_owner(VMM_FRAME(t->old[k])) != PMM_OWNER_VMALLOC)
                errors += mm_check_failed_at("zswap_check", v, "frame in flight is not vmalloc's");
            if (a && (t->page[k] >= a->pages || vmm_get_entry(v) != ZSWAP_ENTRY_PENDING))
                errors += mm_check_failed_at("zswap_check", v, "page in flight not pending");
        }
        if (t->fault_frame && pmm_page_owner(t->fault_frame) != PMM_OWNER_VMALLOC)
            errors += mm_check_failed_at("zswap_check", t->fault_v,
                                         "frame being filled is not vmalloc's");
    }
    return errors;
}

static void stats_locked(zswap_stats_t *s, int check, int *errors)
{
    *s = zswap_data.st;
    s->areas = zswap_data.count;
    s->area_pages = s->present = s->stored = s->zero = s->copies = s->transit = 0;
    for (uint32_t k = 0; k < zswap_data.count; k++) {
        s->area_pages += zswap_data.areas[k].pages;
        *errors += walk_area(&zswap_data.areas[k], s, check);
    }
    zswap_watermarks(&s->low, &s->high);
}

void zswap_get_stats(zswap_stats_t *s)
{
    if (!s) {
        mm_report("zswap_get_stats: NULL stats pointer");
        return;
    }
    glue_irqflags_t f = mm_lock();
    int errors = 0;
    stats_locked(s, 0, &errors);
    mm_unlock(f);
}

int zswap_check(void)
{
    glue_irqflags_t f = mm_lock();
    int errors = 0;
    zswap_stats_t s;
    stats_locked(&s, 1, &errors);
    if (s.present + s.stored + s.zero + s.transit != s.area_pages)
        errors += mm_check_failed_at("zswap_check", 0, "page states do not add up");
    if (zswap_data.count > ZSWAP_MAX_AREAS)
        errors += mm_check_failed_at("zswap_check", 0, "area count beyond the table");
    errors += check_transit();
    for (uint32_t k = 0; zswap_data.window && k < WINDOW_SLOTS; k++) {
        vaddr_t slot = zswap_data.window + k * PAGE_SIZE;
        int used = zswap_data.win_used >> k & 1;
        if (vmm_get_entry(slot) != (used ? vmm_get_entry(slot) | PAGE_PRESENT : WINDOW_IDLE))
            errors +=
                mm_check_failed_at("zswap_check", slot,
                                   used ? "window slot in use not mapped" : "window slot not idle");
    }
    if (!zswap_data.window && zswap_data.win_used)
        errors += mm_check_failed_at("zswap_check", 0, "window slots in use without a window");
    mm_unlock(f);
    return errors;
}

void zswap_dump(void)
{
    zswap_stats_t s;
    zswap_get_stats(&s);
    zstore_dump();
    mm_printf("zswap: %u compressible areas, %u pages: %u present (%u with a clean copy kept), "
              "%u compressed, %u never touched\n",
              (unsigned)s.areas, (unsigned)s.area_pages, (unsigned)s.present, (unsigned)s.copies,
              (unsigned)s.stored, (unsigned)s.zero);
    mm_printf("zswap: reclaim %u runs, %u pages scanned, %u compressed, %u dropped clean, "
              "%u failed; faults: %u brought back, %u zero-filled, %u out of memory; "
              "watermarks %u/%u free frames\n",
              (unsigned)s.reclaims, (unsigned)s.scanned, (unsigned)s.compressed,
              (unsigned)s.dropped_clean, (unsigned)s.failures, (unsigned)s.faulted_in,
              (unsigned)s.zero_fills, (unsigned)s.oom_faults, (unsigned)s.low, (unsigned)s.high);
    glue_irqflags_t f = mm_lock();
    vaddr_t window = zswap_data.window;
    uint32_t uses = zswap_data.win_uses;
    mm_unlock(f);
    if (window)
        mm_printf("zswap: window for frames beyond the direct map at 0x%08lx: %u frames "
                  "reached through it\n",
                  (unsigned long)window, (unsigned)uses);
}

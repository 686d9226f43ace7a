/*
 * zswap.c - reclaim of cold pages of compressible areas into the compressed
 * store, and demand paging back in (include/zswap.h says what; this file how).
 *
 * Theory of operation
 * -------------------
 * An area is a span vmalloc reserved (vmalloc_compressible_area: no page
 * mapped) and a record here: its base, its pages, and per page the handle of
 * its stored copy (copy[]: while stored, and kept while present and clean;
 * a fault believes only an entry naming it) and the
 * NUMA node its frame was on (node[]).  Each page is in one of three states,
 * all in its page-table entry (mm/vmm_swap.h):
 *
 *   zero      ZSWAP_ENTRY_ZERO: never touched; a fault maps a zeroed frame
 *   stored    ZSWAP_ENTRY(handle): compressed; a fault decompresses it into a
 *             new frame, maps it clean, and keeps the handle in copy[]
 *   present   frame | P | W | VMM_PTE_ZSWAP (+ A, D by the MMU)
 *
 * The CLOCK hand (area, page) sweeps a batch at a time (runs of ZSWAP_SWEEP
 * pages, up to ZSWAP_BATCH pages, ending early at the run where it has
 * ZSWAP_SWEEP cold pages or what was asked for): each present page's Accessed
 * bit is read and cleared (vmm_clear_accessed); those that had it clear are
 * cold.  Cold pages get the pending entry (exchanged atomically: the Dirty
 * bit is read from what the exchange returned), then ONE shootdown covers the
 * batch (the cleared Accessed bits and the pending entries: no CPU
 * can touch those frames after it), then each cold page is stored: dropped
 * when clean with a kept copy, else compressed (a stale copy freed first).
 * The entry gets the handle and the frame goes back to the PMM.  A page the
 * store refuses (over its limit, no memory) first makes reclaim give up the
 * kept copies of present pages (they are only a saving) and try once more; if
 * it is still refused it is mapped again as it was (dirty) and counted in
 * failures, and the sweep stops.
 *
 * Faults (zswap_fault) check the watermark first: below `low` free frames,
 * reclaim up to `high`, so the store's own allocations (kmalloc, which grows
 * the heap without reclaim) find memory.  The frame comes from the page's
 * node (pmm_alloc_owner_node) and may run the PMM's reclaim hooks, ours too
 * (nested under this fault: fine, the faulting page is not present).
 *
 * The codec outside mm/'s lock.  A CPU that holds the lock as the outermost
 * caller (zswap_reclaim, a fault's watermark reclaim, a fault-in) lets it go
 * around the codec, so other CPUs' faults and allocations do not wait for a
 * compression; it uses its own transit record (transit[cpu]: a zstore_buf_t
 * kmalloc'd at its first use, kept while any area lives, and the pages it has
 * in flight):
 *
 *   reclaim   the run's cold pages that must be compressed are listed in the
 *             record (area base, page, old entry: the frame) with their
 *             pending entries; page by page the lock goes, the page is encoded
 *             (zstore_encode: the frame cannot change, it is shot down), the
 *             lock comes back, and the encoding is stored, the entry set, the
 *             frame freed, as above.  A fault on a pending page finds it in a
 *             record and runs the instruction again (it faults until the page
 *             is stored or mapped back: a compression's time).  A vfree of the
 *             area meanwhile sets the entries to 0 and marks the record
 *             orphaned: the frames are the reclaimer's to free, nothing stored.
 *   fault-in  under the lock: the entry read, a frame taken, the stored copy
 *             copied into the record's buffer (zstore_fetch: the handle may be
 *             freed meanwhile); the lock goes, the copy is decoded; under
 *             the lock again the page is mapped only if its area and its
 *             entry are still the ones read (a handle is never reused, and
 *             the copy it names never changes: the same entry means the same
 *             bytes).  (A first touch's frame is zeroed under the lock: a
 *             memset costs less than a second hold.)  Otherwise (another CPU faulted it
 *             in first, it was freed) the frame goes back and the instruction
 *             runs again, to find the page present or diagnosed.
 *
 * A CPU numbered past TRANSIT_CPUS, one whose record is in use (a fault from
 * an interrupt), a reclaim from a PMM hook (its caller's critical section
 * around it) or from inside mm/ (the lock nested) runs the codec under the
 * lock, with the store's own static buffer (zstore_put, zstore_get).
 * zswap_check sees the records: a pending entry is healthy only where a
 * record names it, a frame being filled is vmalloc's.
 *
 * Frames are reached through the direct map (vmm_phys_to_virt) to compress and
 * to fill.  A frame beyond it (RAM over 256 MB) is reached through zswap's
 * window: a few pages of a vmalloc span of its own (no area record), made with
 * the first area on a machine whose RAM passes the direct map.  Each use maps
 * the frame at a free slot (WINDOW_SLOTS: one per transit record, and a few
 * for the lock's nesting; taken and given back under the lock, used by one
 * CPU, with the lock or without; the mapping CPU's own TLB entry is flushed
 * as the slot becomes present and as it goes idle, so a translation another
 * CPU may have cached speculatively is never used), and unmaps it after.  So reclaim reads
 * such a page only after its entry is pending and shot down, and a fault fills
 * its frame before the page's entry is made present: no CPU can write the page
 * meanwhile, no write is lost, no CPU sees it half filled.
 *
 * This file: the areas, reclaim, the fault.  Below it zswap_window.c (the
 * window), above it zswap_stats.c (zswap_get_stats, zswap_check, zswap_dump);
 * zswap_priv.h is what the three share (the areas, the transit records).
 * Calls zswap_window.c, vmm.c (entries), vmalloc.c (the spans), zstore.c,
 * pmm*.c, kmalloc.c, log.c, lock.c, string.c.  Called by the kernel's fault handler, the host
 * glue's SIGSEGV handler, the PMM's reclaim hooks (a pointer) and vfree (a
 * pointer): nothing below calls it by name.
 *
 * Locking: mm/'s lock for every call, let go around the codec as above.
 */
#include "zswap.h"

#include "glue.h"
#include "lock.h"
#include "log.h"
#include "memory.h"
#include "pmm.h"
#include "vmalloc.h"
#include "vmm.h"
#include "vmm_swap.h"
#include "zstore.h"
#include "zswap_priv.h"

struct zarea *zswap_area_of(vaddr_t v)
{
    for (uint32_t i = 0; i < zswap_data.count; i++) {
        struct zarea *a = &zswap_data.areas[i];
        if (v >= a->base && v - a->base < a->pages * PAGE_SIZE)
            return a;
    }
    return NULL;
}

static void release_area(vaddr_t base, uint32_t pages);

/* The PMM's pressure marks (pmm_set_pressure): the watermarks while an area lives, else none. */
static void pressure_marks(void)
{
    uint32_t low = 0, high = 0;
    if (zswap_data.count)
        zswap_watermarks(&low, &high);
    pmm_set_pressure(low, high);
}

/*
 * This CPU's transit record, its buffer made, marked busy (under the lock,
 * which the caller holds once: mm_lock_outermost), or NULL: the codec runs
 * under the lock (a CPU past TRANSIT_CPUS, its record busy, no memory).
 */
static struct transit *transit_take(void)
{
    int cpu = glue_cpu_id();
    if (!mm_lock_outermost() || cpu < 0 || (unsigned)cpu >= TRANSIT_CPUS)
        return NULL;
    struct transit *t = &zswap_data.transit[cpu];
    if (t->busy)
        return NULL;
    if (!t->buf)
        t->buf = kmalloc(sizeof(zstore_buf_t));
    if (!t->buf)
        return NULL;
    t->busy = 1;
    return t;
}

/* Buffers of records not busy given back once no area is left (they are 20 KB each). */
static void transit_trim(void)
{
    for (uint32_t c = 0; !zswap_data.count && c < TRANSIT_CPUS; c++) {
        if (zswap_data.transit[c].buf && !zswap_data.transit[c].busy) {
            kfree(zswap_data.transit[c].buf);
            zswap_data.transit[c].buf = NULL;
        }
    }
}

static void transit_give(struct transit *t)
{
    if (!t)
        return;
    t->busy = 0;
    t->n = t->next = 0;
    t->orphaned = 0;
    transit_trim();
}

/* The record that has page i of the area at base in flight (pending), or NULL. */
struct transit *zswap_transit_of(vaddr_t base, uint32_t i)
{
    for (uint32_t c = 0; c < TRANSIT_CPUS; c++) {
        struct transit *t = &zswap_data.transit[c];
        if (!t->busy || t->orphaned || t->base != base)
            continue;
        for (uint32_t k = t->next; k < t->n; k++)
            if (t->page[k] == i)
                return t;
    }
    return NULL;
}

/* Give up every kept copy of a present page (they only save a compression): how many. */
static uint32_t drop_copies(void)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < zswap_data.count; k++) {
        struct zarea *a = &zswap_data.areas[k];
        for (uint32_t i = 0; i < a->pages; i++) {
            if (a->copy[i] && (vmm_get_entry(a->base + i * PAGE_SIZE) & PAGE_PRESENT)) {
                zstore_free(a->copy[i]);
                a->copy[i] = 0;
                n++;
            }
        }
    }
    return n;
}

/* Page i of a stored under handle h: its entry names h, its frame (shot down) is freed. */
static void stored(struct zarea *a, uint32_t i, paddr_t frame, uint32_t h)
{
    a->copy[i] = h; /* its own: a fault believes an entry only if it names this one */
    int node = pmm_page_node(frame);
    a->node[i] = node >= 0 && node < (int)NODE_UNKNOWN ? (uint8_t)node : NODE_UNKNOWN;
    vmm_swap_set(a->base + i * PAGE_SIZE, ZSWAP_ENTRY(h), NULL);
    pmm_free_pages_owner(frame, 1, PMM_OWNER_VMALLOC); /* shot down already */
}

/*
 * One cold page of a, its entry now pending, the run shot down: store it and
 * free its frame (1), or map it again as it was, dirty (0: the store refused).
 */
static int store_cold(struct zarea *a, uint32_t i, uint32_t old)
{
    vaddr_t v = a->base + i * PAGE_SIZE;
    paddr_t frame = VMM_FRAME(old);
    uint32_t h = a->copy[i];
    int slot = -1;
    if (h && !(old & PAGE_DIRTY)) {
        zswap_data.st.dropped_clean++;
    } else {
        if (h)
            zstore_free(h); /* written since: that copy is stale */
        a->copy[i] = 0;
        /* (the entry pending and shot down: nobody writes the page while it is read) */
        void *src = zswap_frame_get(frame, &slot);
        h = src ? zstore_put(src) : 0;
        if (src && !h && drop_copies())
            h = zstore_put(src);
        zswap_window_put(slot);
        if (!h) {
            zswap_data.st.failures++;
            vmm_swap_set(v, PRESENT_ENTRY(frame) | PAGE_ACCESSED | PAGE_DIRTY, NULL);
            return 0;
        }
        zswap_data.st.compressed++;
    }
    stored(a, i, frame, h);
    return 1;
}

/*
 * The cold pages of one run, in the transit record t (their pending entries
 * set, shot down; none with a kept copy): each encoded with the lock let go,
 * then stored as store_cold does: the frames freed.  *refused set if the
 * store refused one (it and the rest are mapped again as they were).  The
 * area may be freed while the lock is away: then the frames are freed and
 * nothing is stored.
 */
static uint32_t store_cold_unlocked(struct transit *t, glue_irqflags_t *lockf, int *refused)
{
    int ok = 1, again = 0;
    uint32_t freed = 0;
    for (; t->next < t->n; t->next++) {
        uint32_t i = t->page[t->next];
        paddr_t frame = VMM_FRAME(t->old[t->next]);
        uint32_t h = 0;
        if (ok && !t->orphaned) {
            int slot;
            void *src = zswap_frame_get(frame, &slot);
            int encoded = -1;
            if (src) {
                mm_unlock(*lockf);
                encoded = zstore_encode(src, t->buf); /* shot down: nobody writes it */
                *lockf = mm_lock();
                zswap_window_put(slot);
            }
            if (!t->orphaned && encoded == 0) {
                h = zstore_put_encoded(t->buf);
                if (!h && !zstore_encoded_current(t->buf) && again++ < 4) {
                    t->next--; /* the codec changed since the encode: again, with the new one */
                    continue;
                }
                if (!h && drop_copies())
                    h = zstore_put_encoded(t->buf);
            }
        }
        if (t->orphaned) { /* vfree'd meanwhile: no entry left to set */
            pmm_free_pages_owner(frame, 1, PMM_OWNER_VMALLOC);
            freed++;
            continue;
        }
        struct zarea *a = zswap_area_of(t->base);
        vaddr_t v = t->base + i * PAGE_SIZE;
        if (!h) {
            if (ok)
                zswap_data.st.failures++;
            ok = 0;
            vmm_swap_set(v, PRESENT_ENTRY(frame) | PAGE_ACCESSED | PAGE_DIRTY, NULL);
            continue;
        }
        zswap_data.st.compressed++;
        stored(a, i, frame, h);
        freed++;
    }
    *refused = !ok;
    return freed;
}

/*
 * Sweep until `want` frames are freed or the hand went twice round: the frames
 * freed.  With t (this CPU's transit record, lockf the flags of its one hold
 * of the lock) the pages are encoded with the lock let go; else under it.
 */
static uint32_t reclaim_locked(uint32_t want, struct transit *t, glue_irqflags_t *lockf)
{
    uint32_t total = 0, freed = 0, scanned = 0;
    for (uint32_t k = 0; k < zswap_data.count; k++)
        total += zswap_data.areas[k].pages;
    if (!want || !total)
        return 0;
    zswap_data.st.reclaims++;
    int stop = 0;
    while (!stop && zswap_data.count && freed < want && scanned < 2 * total + ZSWAP_BATCH) {
        if (zswap_data.hand_area >= zswap_data.count)
            zswap_data.hand_area = 0, zswap_data.hand_page = 0;
        struct zarea *a = &zswap_data.areas[zswap_data.hand_area];
        if (zswap_data.hand_page >= a->pages) {
            zswap_data.hand_area++;
            zswap_data.hand_page = 0;
            continue;
        }
        /*
         * One batch: runs of ZSWAP_SWEEP pages of this area, until the cold
         * pages it takes reach what is wanted (or ZSWAP_SWEEP), or it covers
         * ZSWAP_BATCH pages; then one shootdown for all of it.  (Each
         * shootdown waits for every busy CPU: on QEMU's TCG, with more
         * virtual CPUs than host cores, that wait is most of reclaim's time.)
         */
        uint32_t start = zswap_data.hand_page, n = 0;
        uint32_t cold[ZSWAP_SWEEP], old[ZSWAP_SWEEP], ncold = 0;
        int flush = 0;
        while (start + n < a->pages && n < ZSWAP_BATCH && freed + ncold < want &&
               ncold < ZSWAP_SWEEP) {
            uint32_t run = a->pages - start - n;
            if (run > ZSWAP_SWEEP)
                run = ZSWAP_SWEEP;
            for (uint32_t k = n; k < n + run; k++) {
                /*
                 * Enough taken: the hand stops here, not at the run's end (a
                 * small request, the PMM's hook inside a bigger reclaim, would
                 * otherwise pass over cold pages it did not take, and the
                 * bigger one, its pages counted, not come back to them).
                 */
                if (freed + ncold >= want || ncold >= ZSWAP_SWEEP) {
                    run = k - n;
                    break;
                }
                vaddr_t v = a->base + (start + k) * PAGE_SIZE;
                uint32_t e = vmm_clear_accessed(v);
                if (!(e & PAGE_PRESENT))
                    continue;
                if (e & PAGE_ACCESSED)
                    flush = 1;
                else
                    cold[ncold++] = start + k;
            }
            n += run;
        }
        for (uint32_t k = 0; k < ncold; k++)
            vmm_swap_set(a->base + cold[k] * PAGE_SIZE, ZSWAP_ENTRY_PENDING, &old[k]);
        if (flush || ncold)
            pmm_tlb_shootdown(a->base + start * PAGE_SIZE, n);
        /* the hand moves on before the lock may go: another reclaimer sweeps the next run */
        zswap_data.hand_page += n;
        scanned += n;
        zswap_data.st.scanned += n;
        if (t) {
            t->base = a->base;
            t->next = t->n = 0;
            t->orphaned = 0;
        }
        for (uint32_t k = 0; k < ncold; k++) {
            uint32_t i = cold[k];
            if (stop) { /* the store is full: the rest go back as they were */
                vmm_swap_set(a->base + i * PAGE_SIZE,
                             PRESENT_ENTRY(VMM_FRAME(old[k])) | PAGE_ACCESSED | PAGE_DIRTY, NULL);
                continue;
            }
            if (t && !(a->copy[i] && !(old[k] & PAGE_DIRTY))) { /* to compress: later, unlocked */
                if (a->copy[i])
                    zstore_free(a->copy[i]); /* written since: that copy is stale */
                a->copy[i] = 0;
                t->page[t->n] = i;
                t->old[t->n++] = old[k];
                continue;
            }
            if (store_cold(a, i, old[k]))
                freed++;
            else
                stop = 1;
        }
        if (t && t->n) {
            int refused = 0;
            freed += store_cold_unlocked(t, lockf, &refused);
            stop |= refused;
            t->next = t->n = 0;
            t->orphaned = 0;
        }
    }
    return freed;
}

/* The PMM ran dry (mm_lock held, no PMM lock): free up to the high watermark. */
static size_t reclaim_hook(void)
{
    uint32_t low, high;
    zswap_watermarks(&low, &high);
    uint32_t f = zswap_free_frames();
    return reclaim_locked(high > f ? high - f : 1, NULL, NULL); /* the caller's lock stays */
}

uint32_t zswap_reclaim(uint32_t pages)
{
    glue_irqflags_t f = mm_lock();
    struct transit *t = transit_take();
    uint32_t n = reclaim_locked(pages, t, &f);
    transit_give(t);
    mm_unlock(f);
    return n;
}

void zswap_set_watermarks(uint32_t low, uint32_t high)
{
    glue_irqflags_t f = mm_lock();
    zswap_data.low = low;
    zswap_data.high = high;
    pressure_marks();
    mm_unlock(f);
}

/* vfree of an area (vmalloc's release): frames, copies, entries go; the record too. */
static void release_area(vaddr_t base, uint32_t pages)
{
    if (zswap_data.window &&
        base == zswap_data.window) { /* the window (a wild vfree of it): slots unmapped */
        for (uint32_t k = 0; k < pages; k++)
            vmm_swap_set(base + k * PAGE_SIZE, 0, NULL);
        pmm_tlb_shootdown_free(base, pages);
        zswap_data.window = 0;
        zswap_data.win_used = 0; /* (a user with the lock let go finds no window: window_put) */
        return;
    }
    struct zarea *a = zswap_area_of(base);
    if (!a || a->base != base || a->pages != pages)
        return; /* vmalloc_compressible's own undo before it recorded the area: nothing mapped */
    /*
     * The copies first, while no frame is held: a zstore_free may shrink the
     * heap, whose shootdown frees every held page, and it covers only the
     * heap's range.  (Under mm_lock: no fault sees the entries meanwhile.)
     */
    for (uint32_t i = 0; i < pages; i++) { /* (a stored page's copy is copy[i] too) */
        if (a->copy[i])
            zstore_free(a->copy[i]);
        a->copy[i] = 0;
    }
    /* pages in flight on a CPU that let the lock go: their frames are its to free */
    for (uint32_t c = 0; c < TRANSIT_CPUS; c++) {
        struct transit *t = &zswap_data.transit[c];
        if (t->busy && t->base == base && t->next < t->n)
            t->orphaned = 1;
    }
    /* the PMM's held chain is the holder of vmm_lock's: one hold from the first to the free */
    glue_irqflags_t f = vmm_lock();
    for (uint32_t i = 0; i < pages; i++) {
        uint32_t old = 0;
        vmm_swap_set(base + i * PAGE_SIZE, 0, &old);
        if (old & PAGE_PRESENT)
            pmm_free_held("vfree", VMM_FRAME(old), PMM_OWNER_VMALLOC);
    }
    pmm_tlb_shootdown_free(base, pages); /* the frames and emptied tables after it */
    vmm_unlock(f);
    kfree(a->copy);
    uint32_t k = (uint32_t)(a - zswap_data.areas);
    for (; k + 1 < zswap_data.count; k++)
        zswap_data.areas[k] = zswap_data.areas[k + 1];
    zswap_data.count--;
    zswap_data.hand_area = 0;
    zswap_data.hand_page = 0;
    transit_trim();
    pressure_marks();
}

void *vmalloc_compressible(size_t size)
{
    if (size == 0)
        return NULL;
    glue_irqflags_t f = mm_lock();
    void *r = NULL;
    if (!zswap_data.hooked) {
        zswap_data.hooked = 1;
        pmm_register_reclaim(reclaim_hook);
    }
    if (!zswap_data.window && zswap_ram_beyond_direct_map() &&
        zswap_window_make(release_area) < 0) {
        mm_oom_printf("vmalloc_compressible: %lu bytes: no window for the frames beyond the "
                      "direct map\n",
                      (unsigned long)size);
        goto out;
    }
    if (zswap_data.count == ZSWAP_MAX_AREAS) {
        mm_oom_printf("vmalloc_compressible: %lu bytes: table full (%u areas)\n",
                      (unsigned long)size, (unsigned)ZSWAP_MAX_AREAS);
        goto out;
    }
    vaddr_t base = vmalloc_compressible_area(size, NULL, 0, release_area);
    if (!base)
        goto out;
    uint32_t pages = (uint32_t)((size + PAGE_SIZE - 1) / PAGE_SIZE);
    uint32_t *copy = kcalloc(pages, sizeof(uint32_t) + 1);
    if (!copy) {
        mm_oom_printf("vmalloc_compressible: %lu bytes: no memory for its page records\n",
                      (unsigned long)size);
        vfree(glue_virt_to_ptr(base)); /* no record: release_area finds nothing to give back */
        goto out;
    }
    struct zarea *a = &zswap_data.areas[zswap_data.count];
    *a = (struct zarea){base, pages, (uint32_t)size, copy, (uint8_t *)(copy + pages)};
    zswap_data.count++; /* recorded before the entries: a vfree below finds it */
    int ok = 1;
    for (uint32_t i = 0; ok && i < pages; i++) {
        a->node[i] = NODE_UNKNOWN;
        ok = vmm_swap_set(base + i * PAGE_SIZE, ZSWAP_ENTRY_ZERO, NULL) == 0;
    }
    if (!ok) {
        mm_oom_printf("vmalloc_compressible: %lu bytes: no memory for its page tables\n",
                      (unsigned long)size);
        vfree(glue_virt_to_ptr(base));
        goto out;
    }
    r = glue_virt_to_ptr(base);
    pressure_marks();
out:
    mm_unlock(f);
    return r;
}

/*
 * The frame at dst filled with the page entry e names: zeros, or its stored
 * copy.  With t (this CPU's record, the stored copy fetched into t->buf
 * already) the lock is let go around the decode; else all under it
 * (zstore_get).  0, or -1.
 */
static int fill(void *dst, uint32_t e, struct transit *t, glue_irqflags_t *lockf)
{
    if (e == ZSWAP_ENTRY_ZERO) {
        memset(dst, 0, PAGE_SIZE);
        return 0;
    }
    if (!t)
        return zstore_get(ZSWAP_HANDLE(e), dst);
    mm_unlock(*lockf);
    zstore_decode(t->buf, dst);
    *lockf = mm_lock();
    return zstore_decoded(t->buf);
}

int zswap_fault(uint32_t addr, uint32_t err)
{
    vaddr_t v = addr & ~(vaddr_t)(PAGE_SIZE - 1);
    /*
     * never a compressible page's: outside vmalloc's range, or from inside the
     * PMM or the VMM (which never touch one; mm_lock would be out of order)
     */
    if (v < VMALLOC_START || v > VMALLOC_END || !mm_lock_may_take())
        return 0;
    glue_irqflags_t f = mm_lock();
    struct transit *t = zswap_data.count ? transit_take() : NULL;
    int r = 0;
    uint32_t low, high, fr = zswap_free_frames();
    zswap_watermarks(&low, &high);
    if (fr < low) /* first: with t, the lock may go meanwhile */
        reclaim_locked(high - fr, t, &f);
    struct zarea *a = zswap_area_of(v);
    if (!a)
        goto out;
    uint32_t i = (v - a->base) / PAGE_SIZE;
    uint32_t e = vmm_get_entry(v);
    if (e & PAGE_PRESENT) {
        /* another CPU brought it in first: run again; a protection fault is not ours */
        r = !(err & PAGE_PRESENT);
        goto out;
    }
    struct transit *owner = e == ZSWAP_ENTRY_PENDING ? zswap_transit_of(a->base, i) : NULL;
    if (owner && owner - zswap_data.transit != glue_cpu_id()) {
        r = 1; /* another CPU is compressing it, the lock let go: run again until it is done */
        transit_give(t);
        mm_unlock(f);
        glue_cpu_relax();
        return r;
    }
    if (owner) { /* (an interrupt of the reclaim on this CPU: waiting would never end) */
        mm_printf("zswap: fault at 0x%08lx: page %u of compressible area 0x%08lx is being "
                  "compressed by this CPU's own reclaim: not mapped\n",
                  (unsigned long)addr, (unsigned)i, (unsigned long)a->base);
        goto out;
    }
    if (!is_swap_entry(e) || e == ZSWAP_ENTRY_PENDING) {
        mm_printf("zswap: fault at 0x%08lx: page %u of compressible area 0x%08lx has entry "
                  "0x%08lx, not a stored page\n",
                  (unsigned long)addr, (unsigned)i, (unsigned long)a->base, (unsigned long)e);
        goto out;
    }
    if (e == ZSWAP_ENTRY_ZERO ? a->copy[i] != 0 : ZSWAP_HANDLE(e) != a->copy[i]) {
        mm_printf("zswap: fault at 0x%08lx: page %u of compressible area 0x%08lx: its entry "
                  "0x%08lx is not its own copy's handle 0x%08lx (a damaged page table?): not "
                  "mapped\n",
                  (unsigned long)addr, (unsigned)i, (unsigned long)a->base, (unsigned long)e,
                  (unsigned long)a->copy[i]);
        goto out;
    }
    /* (a node taken away by pmm_set_nodes since: any) */
    int node =
        a->node[i] == NODE_UNKNOWN || a->node[i] >= pmm_node_count() ? PMM_NODE_ANY : a->node[i];
    paddr_t frame = pmm_alloc_owner_node(1, 0, PMM_OWNER_VMALLOC, node);
    if (!frame) {
        zswap_data.st.oom_faults++;
        zstore_stats_t zst;
        zstore_get_stats(&zst);
        mm_oom_failed();
        mm_printf("zswap: fault at 0x%08lx, page %u of compressible area 0x%08lx (%u bytes): "
                  "out of memory with nothing left to compress (%u pages stored, %u KB in the "
                  "store): not mapped\n",
                  (unsigned long)addr, (unsigned)i, (unsigned long)a->base, (unsigned)a->size,
                  (unsigned)zst.pages_stored, (unsigned)(zst.mem_used / 1024));
        goto out;
    }
    /* filled before the page's entry is present: nobody sees it half filled */
    int slot;
    void *dst = zswap_frame_get(frame, &slot);
    int got = -1;
    /* a zeroed frame under the lock: a memset costs less than letting it go and back */
    struct transit *ft = e == ZSWAP_ENTRY_ZERO ? NULL : t;
    if (dst && ft && zstore_fetch(ZSWAP_HANDLE(e), ft->buf) < 0)
        dst = NULL, got = -2; /* (a live area's entry names a live handle: zswap_check) */
    if (dst) {
        if (ft) {
            ft->fault_v = v;
            ft->fault_frame = frame;
        }
        got = fill(dst, e, ft, &f);
        if (ft)
            ft->fault_v = ft->fault_frame = 0;
    }
    zswap_window_put(slot);
    if (ft) { /* the lock was let go: the page may be mapped, its area freed, since */
        a = zswap_area_of(v);
        if (!a || vmm_get_entry(v) != e) {
            pmm_free_pages_owner(frame, 1, PMM_OWNER_VMALLOC); /* never mapped at v */
            r = 1; /* run again: it finds the page present, or its fault diagnosed */
            goto out;
        }
        i = (v - a->base) / PAGE_SIZE;
    }
    if (got < 0) {
        mm_printf("zswap: fault at 0x%08lx, page %u of compressible area 0x%08lx: %s "
                  "(handle 0x%08lx): not mapped\n",
                  (unsigned long)addr, (unsigned)i, (unsigned long)a->base,
                  dst || got == -2 ? "its stored copy is lost" : "its new frame cannot be reached",
                  (unsigned long)ZSWAP_HANDLE(e));
        pmm_free_pages_owner(frame, 1, PMM_OWNER_VMALLOC); /* never mapped at v */
        zswap_data.st.failures++;
        goto out;
    }
    if (e == ZSWAP_ENTRY_ZERO) {
        zswap_data.st.zero_fills++;
    } else {
        a->copy[i] = ZSWAP_HANDLE(e); /* kept: a clean page is dropped, not compressed again */
        zswap_data.st.faulted_in++;
    }
    /*
     * Clean (PAGE_DIRTY clear) and accessed: the access that faulted is one, and the CLOCK
     * sweep gives such a page one pass of grace.  Mapped with Accessed clear, a reclaimer
     * sweeping without pause took it back before the faulting CPU ran its access again, over
     * and over (test_zswap_transit's writer: 57 stores back in 300 s under ThreadSanitizer,
     * 1 135 faults dropped clean unwritten, once mm/'s lock let its taker retake it at once).
     */
    vmm_swap_set(v, PRESENT_ENTRY(frame) | PAGE_ACCESSED, NULL);
    r = 1;
out:
    transit_give(t);
    mm_unlock(f);
    return r;
}

void zswap_reset(void)
{
    glue_irqflags_t f = mm_lock();
    int hooked = zswap_data.hooked;
    memset(&zswap_data, 0, sizeof(zswap_data));
    zswap_data.hooked = hooked; /* the PMM keeps its hooks across a restart */
    pressure_marks();
    mm_unlock(f);
}

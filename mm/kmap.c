/*
 * kmap.c - the kernel pages mm/ maps for itself, through the glue
 * (mm/kmap.h).  Checks the range and the alignment of every request (a bug
 * above is reported, not passed on to the kernel's page tables), counts the
 * pages of each range, and frees an unmapped page as its owner's.
 *
 * Unmapping batches the TLB shootdown: a run of pages is unmapped (each
 * flushed on this CPU by glue_kunmap), then one glue_tlb_shootdown covers the
 * run, then its pages go back to the PMM (held there till then).  Mapping a
 * run (kmap_alloc_run) gathers its frames first, then maps them between
 * glue_kmap_run_begin and _end, so a glue may change the run at once: the
 * host glues make one system call for it, not one per page.
 *
 * Locking: vmm_lock (mm/lock.c) around every change of a mapping and the
 * counts, from the first unmap of a run to its shootdown's frees (the PMM's
 * held chain is its holder's); a run's frames are taken before it, so the
 * PMM's reclaim hooks (mm_lock) never run inside it.  The reclaim hold is
 * taken before vmm_lock: it takes mm_lock.
 *
 * Owns the counts.  Calls the glue's kernel-page functions (mm/vmm.c, or the
 * embedding kernel's own paging), the PMM (pmm.c, pmm_alloc.c, pmm_node.c:
 * frames, owners, the held chain, nodes), lock.c, log.c, string.c.
 */
#include "glue.h"
#include "kmap.h"
#include "lock.h"
#include "log.h"
#include "memory.h"
#include "vmalloc.h" /* VMALLOC_INTERLEAVE */

/*
 * mm/glue.h's optional run calls: nothing to do on a real MMU (an entry works
 * as soon as it is written), so a glue need not define them; the host's do.
 */
__attribute__((weak)) void glue_kmap_run_begin(void) {}

__attribute__((weak)) void glue_kmap_run_end(void) {}

static const struct {
    vaddr_t lo, hi;
} ranges[KMAP_RANGES] = {
    [KMAP_HEAP] = {HEAP_VIRTUAL_START, HEAP_VIRTUAL_END},
    [KMAP_VMALLOC] = {VMALLOC_START, VMALLOC_END},
    [KMAP_META] = {MM_META_START, MM_META_END},
};

static uint32_t counts[KMAP_RANGES];

static int range_of(vaddr_t v)
{
    for (int r = 0; r < KMAP_RANGES; r++) {
        if (v >= ranges[r].lo && v <= ranges[r].hi)
            return r;
    }
    return -1;
}

int kmap_ready(void)
{
    return glue_kmap_ready();
}

/* kmap_page's check and map, vmm_lock and the reclaim hold taken by the caller. */
static int kmap_page_locked(vaddr_t virt, paddr_t phys)
{
    int r = range_of(virt);
    if (r < 0 || (virt | phys) & (PAGE_SIZE - 1) || !phys) {
        mm_report("kmap_page: 0x%08lx -> 0x%08lx: %s", (unsigned long)virt, (unsigned long)phys,
                  r < 0 ? "outside the ranges mm/ maps" : "unaligned or physical page 0");
        return -1;
    }
    if (glue_kmap(virt, phys) < 0)
        return -1;
    counts[r]++;
    return 0;
}

int kmap_page(vaddr_t virt, paddr_t phys)
{
    /* the glue's page table: no hook, our caller is mid-change (the hold before vmm_lock) */
    pmm_reclaim_hold(1);
    glue_irqflags_t f = vmm_lock();
    int r = kmap_page_locked(virt, phys);
    vmm_unlock(f);
    pmm_reclaim_hold(0);
    return r;
}

/* Frames gathered before they are mapped: 512 bytes of stack, 512 KB a glue run. */
#define RUN_CHUNK 128

uint32_t kmap_alloc_run(vaddr_t base, uint32_t pages, unsigned owner)
{
    return kmap_alloc_run_node(base, pages, owner, PMM_NODE_ANY);
}

uint32_t kmap_alloc_run_node(vaddr_t base, uint32_t pages, unsigned owner, int node)
{
    pmm_owner_t o = (pmm_owner_t)(owner & ~PMM_NO_RECLAIM);
    uint32_t done = 0;
    int nodes = node == VMALLOC_INTERLEAVE ? pmm_node_count() : 1;
    while (done < pages) {
        paddr_t frames[RUN_CHUNK];
        uint32_t want = pages - done < RUN_CHUNK ? pages - done : RUN_CHUNK, n = 0, mapped = 0;
        /*
         * The frames first, without vmm_lock: the PMM may run reclaim hooks,
         * and they may map (and touch) pages of their own.  Then the glue's
         * run holds nothing but the mappings, under vmm_lock (glue_kmap runs
         * no hook either: the hold, taken before the lock).
         */
        while (n < want &&
               (frames[n] = pmm_alloc_owner_node(
                    1, 0, owner,
                    node == VMALLOC_INTERLEAVE ? (int)((done + n) % (uint32_t)nodes) : node)) != 0)
            n++;
        pmm_reclaim_hold(1);
        glue_irqflags_t f = vmm_lock();
        glue_kmap_run_begin();
        while (mapped < n &&
               kmap_page_locked(base + (done + mapped) * PAGE_SIZE, frames[mapped]) == 0)
            mapped++;
        glue_kmap_run_end();
        vmm_unlock(f);
        pmm_reclaim_hold(0);
        for (uint32_t i = mapped; i < n; i++)
            pmm_free_pages_owner(frames[i], 1, o); /* never mapped: no shootdown to wait for */
        done += mapped;
        if (mapped < want)
            break;
    }
    return done;
}

/* Unmap one page of range r (this CPU's TLB only); hold its page for the shootdown.  1 if unmapped.
 */
static int unmap_one(const char *fn, int r, vaddr_t virt, pmm_owner_t owner)
{
    paddr_t mapped = glue_kmapped(virt), phys = glue_kunmap(virt);
    if (!phys) {
        if (mapped && glue_kmapped(virt)) /* the kernel kept it: the page stays its owner's */
            mm_report("%s: 0x%08lx: glue_kunmap left 0x%08lx mapped: still mapped, not freed", fn,
                      (unsigned long)virt, (unsigned long)mapped);
        return 0;
    }
    if (counts[r])
        counts[r]--;
    if (phys != mapped) { /* the page we would free may still be mapped elsewhere */
        mm_report("%s: 0x%08lx: glue_kunmap returned 0x%08lx, glue_kmapped said 0x%08lx: "
                  "unmapped, not freed",
                  fn, (unsigned long)virt, (unsigned long)phys, (unsigned long)mapped);
        return 1;
    }
    pmm_owner_t has = pmm_page_owner(phys);
    if (has == owner) {
        pmm_free_held(fn, phys, owner); /* freed after the shootdown */
        return 1;
    }
    mm_report("%s: 0x%08lx: maps 0x%08lx, a page of owner %s in the PMM, not a %s page: "
              "unmapped, not freed",
              fn, (unsigned long)virt, (unsigned long)phys, pmm_owner_name(has),
              pmm_owner_name(owner));
    return 1;
}

void kmap_unmap_run(const char *fn, vaddr_t base, uint32_t pages, pmm_owner_t owner)
{
    int r = range_of(base);
    if (!pages)
        return;
    if (r < 0 || base & (PAGE_SIZE - 1) || range_of(base + (pages - 1) * PAGE_SIZE) != r ||
        base + (pages - 1) * PAGE_SIZE < base) {
        mm_report("%s: 0x%08lx: not a page of the ranges mm/ maps", fn, (unsigned long)base);
        return;
    }
    /*
     * every page off this CPU's TLB first, then one shootdown, then the frames
     * go back: one hold of vmm_lock (the PMM's held chain is its holder's)
     */
    glue_irqflags_t f = vmm_lock();
    vaddr_t lo = 0, hi = 0;
    for (uint32_t i = 0; i < pages; i++) {
        vaddr_t v = base + i * PAGE_SIZE;
        if (unmap_one(fn, r, v, owner)) {
            lo = hi == 0 ? v : lo;
            hi = v + PAGE_SIZE;
        }
    }
    if (hi)
        pmm_tlb_shootdown_free(lo, (hi - lo) / PAGE_SIZE);
    vmm_unlock(f);
}

void kmap_unmap(const char *fn, vaddr_t virt, pmm_owner_t owner)
{
    kmap_unmap_run(fn, virt, 1, owner);
}

int kmap_rehome(const char *fn, vaddr_t virt, int node, unsigned keep, pmm_owner_t owner)
{
    int r = range_of(virt);
    paddr_t old = r < 0 || virt & (PAGE_SIZE - 1) ? 0 : glue_kmapped(virt);
    if (!old || keep > KMAP_REHOME_KEEP) {
        mm_report("%s: 0x%08lx: not a mapped page of mm/'s (or keep %u > %u): not moved", fn,
                  (unsigned long)virt, keep, (unsigned)KMAP_REHOME_KEEP);
        return -1;
    }
    int strict = node != PMM_NODE_ANY && (node & PMM_NODE_STRICT);
    int want = node == PMM_NODE_ANY ? pmm_cpu_node(PMM_NODE_ANY) : node & ~PMM_NODE_STRICT;
    int was = pmm_page_node(old);
    if (was == want)
        return was;
    /* no reclaim: its hooks would change the heap this page is in the middle of */
    paddr_t frame = pmm_alloc_owner_node(1, 0, owner | PMM_NO_RECLAIM, node);
    int now = frame ? pmm_page_node(frame) : -1;
    if (!frame || now == was) { /* none free, or only on the node it is on already */
        if (frame)
            pmm_free_pages_owner(frame, 1, owner);
        return strict ? -1 : was;
    }
    unsigned char head[KMAP_REHOME_KEEP];
    memcpy(head, (const void *)glue_virt_to_ptr(virt), keep);
    pmm_reclaim_hold(1); /* kmap_page's hold, before the lock */
    glue_irqflags_t f = vmm_lock();
    paddr_t phys = glue_kunmap(virt);
    if (phys && counts[r])
        counts[r]--;
    /*
     * The slot's page table stays while another page of it is mapped (the
     * heap's pages around this one); if it went, mapping needs a new one, and
     * without it the old frame goes back where it was: nothing is lost.
     */
    if (kmap_page_locked(virt, frame) < 0) {
        pmm_free_pages_owner(frame, 1, owner);
        if (!phys || kmap_page_locked(virt, phys) < 0)
            glue_panic("kmap_rehome: a page taken from under a heap block cannot be mapped back");
        /* the unmap may have held the slot's emptied page table: let it go now, not later */
        pmm_tlb_shootdown_free(virt, 1);
        vmm_unlock(f);
        pmm_reclaim_hold(0);
        return strict ? -1 : was;
    }
    memcpy(glue_virt_to_ptr(virt), head, keep);
    if (phys && pmm_page_owner(phys) == owner)
        pmm_free_held(fn, phys,
                      owner); /* freed after the shootdown: other CPUs may still reach it */
    else if (phys)
        mm_report("%s: 0x%08lx: mapped 0x%08lx, not a %s page in the PMM: unmapped, not freed", fn,
                  (unsigned long)virt, (unsigned long)phys, pmm_owner_name(owner));
    pmm_tlb_shootdown_free(virt, 1);
    vmm_unlock(f);
    pmm_reclaim_hold(0);
    return now;
}

paddr_t kmap_phys(vaddr_t virt)
{
    return range_of(virt) < 0 ? 0 : (paddr_t)glue_kmapped(virt & ~(vaddr_t)(PAGE_SIZE - 1));
}

uint32_t kmap_count(enum kmap_range r)
{
    return r < KMAP_RANGES ? counts[r] : 0;
}

void kmap_reset_range(enum kmap_range r)
{
    if (r < KMAP_RANGES)
        counts[r] = 0;
}

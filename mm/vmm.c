/*
 * vmm.c - page directory and page tables: map, unmap, translate.
 *
 * Theory of operation
 * -------------------
 * One page directory (PD) for the kernel.  Its last slot points at itself,
 * so once paging is on every page table is visible at a fixed address (the
 * window, VMM_PT_WINDOW); glue_page_table() hides whether we are before
 * paging (identity), after it (window), or on the host (simulated memory).
 * The layout of the address space is drawn in include/vmm.h.
 *
 * Page tables come from the PMM on demand and go back to it when their last
 * entry is unmapped; pt_used[] counts the present entries of each table so
 * that is O(1).  The PMM knows them as ours (PMM_OWNER_TABLE, the directory
 * PMM_OWNER_DIRECTORY) and refuses anyone else's free of them.  The fixed mappings made by vmm_init
 * (identity of low memory, direct map) cannot be changed through vmm_map/vmm_unmap_page: an unmap
 * there would free pages the kernel itself lives in.  Three ranges have an owner who alone maps
 * there: the kernel heap (vmm_heap_map/unmap), vmalloc (vmm_vmalloc_map/unmap) and the allocators'
 * metadata window (vmm_meta_map/unmap); vmm_map and vmm_unmap_page refuse them, so nobody pulls a
 * page out from under kmalloc, a vmalloc allocation or a slab. An owner's unmap frees the page as
 * that owner's (PMM_OWNER_HEAP, _META, _VMALLOC or _KSTACK); vmm_unmap_page frees only a plain
 * caller's page (PMM_OWNER_CALLER) and leaves any other owner's page to its owner.  mm/kmap.c
 * reaches those three through glue_kmap/glue_kunmap, which this file implements (the range
 * chooses the owner).
 *
 * TLB shootdown: an unmap clears the entry (this CPU's TLB flushed by
 * glue_mapping_changed), holds the page, and a table it empties, in the PMM
 * (pmm_free_held), then one glue_tlb_shootdown (pmm_tlb_shootdown_free) frees
 * them: no frame is handed out while another CPU may still reach it.  Through
 * glue_kunmap, mm/kmap.c makes that one call for a whole run of pages.  A
 * freed table's window page may linger in other TLBs: the slot's next table
 * shoots it down (window_stale).  Finding what a page is, and whose, is O(1):
 * the PMM's owner byte (pmm_page_owner), no scan of the tables.
 *
 * Errors: every refusal is one mm_report line (function, address, reason)
 * and leaves the tables exactly as they were.
 *
 * This file: map, unmap, translate, init; what the VMM reports (stats,
 * describe, dump, check) is vmm_stats.c's, what both share vmm_priv.h.
 * Calls the PMM (pmm.c, pmm_alloc.c, pmm_node.c: table pages, owners, the
 * held chain; pmm_stats.c: the totals), lock.c, log.c, string.c; nothing
 * above it: a layer that wants its addresses described in a fault
 * registers a describer (vmm_register_describer).
 *
 * Locking: the VMM's own lock, vmm_lock (mm/lock.c), taken once per public
 * call (nested calls count): below mm_lock (the heap and vmalloc call the VMM
 * holding it), above the PMM's.  Nothing above the VMM is called with it held:
 * a page table comes with PMM_NO_RECLAIM (no hook), and vmm_describe asks the
 * describers (mm_lock's) after vmm_get_entry let the lock go.  So a caller's
 * vmm_map/vmm_unmap_page, a kernel stack or vmm_check on one CPU does not
 * wait for kmalloc's slow path on another, nor it for them.
 */
#include "glue.h"
#include "lock.h"
#include "log.h"
#include "pmm.h"
#include "vmm_priv.h"
#include "vmm_swap.h"

#define FOUR_MB 0x400000u

_Static_assert(VMM_PT_WINDOW == VMM_VADDR(VMM_RECURSIVE_SLOT, 0), "window = recursive slot");
_Static_assert(HEAP_VIRTUAL_START >= KERNEL_VIRTUAL_BASE + VMM_DIRECT_MAP_SIZE,
               "direct map must end before the heap");
_Static_assert(VMALLOC_START > HEAP_VIRTUAL_END && VMALLOC_END < VMM_PT_WINDOW,
               "vmalloc range between the heap and the table window");
_Static_assert(MM_META_START > VMALLOC_END && MM_META_END < VMM_PT_WINDOW,
               "metadata window between vmalloc and the table window");

vmm_data_t vmm_data;

/* Each range owner's own window: it maps nowhere else. */
static const struct {
    vaddr_t lo, hi;
    const char *outside;
} windows[] = {
    [OWNER_HEAP] = {HEAP_VIRTUAL_START, HEAP_VIRTUAL_END, "outside the kernel heap's range"},
    [OWNER_VMALLOC] = {VMALLOC_START, VMALLOC_END, "outside the vmalloc range"},
    [OWNER_META] = {MM_META_START, MM_META_END, "outside the allocators' metadata window"},
};

/* The PMM owner of the pages each range owner maps (vmalloc: also PMM_OWNER_KSTACK). */
static const pmm_owner_t page_owner_of[] = {
    [OWNER_NONE] = PMM_OWNER_CALLER,
    [OWNER_HEAP] = PMM_OWNER_HEAP,
    [OWNER_VMALLOC] = PMM_OWNER_VMALLOC,
    [OWNER_META] = PMM_OWNER_META,
};

/* The page-table entry of virt, or NULL if its table does not exist. */
static uint32_t *entry_of(vaddr_t virt)
{
    if (!vmm_data.pd_phys || !(directory()[VMM_PDX(virt)] & PAGE_PRESENT))
        return NULL;
    return &table(VMM_PDX(virt))[VMM_PTX(virt)];
}

/* Why virt cannot be changed by the caller, or NULL. */
static const char *virt_problem(vaddr_t virt)
{
    if (!vmm_data.pd_phys)
        return "paging is not set up (vmm_init first)";
    if (virt % PAGE_SIZE)
        return "not page-aligned";
    if (virt < PAGE_SIZE)
        return "the NULL page stays unmapped";
    if (virt >= VMM_PT_WINDOW)
        return "inside the page-table window";
    if (in_fixed(virt))
        return "inside the kernel's fixed mappings (identity or direct map)";
    if (virt >= HEAP_VIRTUAL_START && virt <= HEAP_VIRTUAL_END && vmm_data.caller != OWNER_HEAP)
        return "inside the kernel heap's range (only the heap maps there)";
    if (in_vmalloc(virt) && vmm_data.caller != OWNER_VMALLOC)
        return "inside the vmalloc range (only vmalloc maps there)";
    if (in_meta(virt) && vmm_data.caller != OWNER_META)
        return "inside the allocators' metadata window (only they map there)";
    if (vmm_data.caller != OWNER_NONE &&
        (virt < windows[vmm_data.caller].lo || virt > windows[vmm_data.caller].hi))
        return windows[vmm_data.caller].outside;
    return NULL;
}

/*
 * A page table for virt, allocated (zeroed) if missing.  0 or -1 (no memory).
 * A new table comes from the NUMA node of phys, the page about to be mapped
 * (the nearest node with a free page if that one has none; any node for a
 * page the PMM does not describe, or NO_FRAME): the walk to a node's memory
 * stays on it.
 */
#define NO_FRAME ((paddr_t)-1) /* table_for's phys when no page is about to be mapped */

static int table_for(vaddr_t virt, paddr_t phys, uint32_t flags)
{
    unsigned pdx = VMM_PDX(virt);
    uint32_t *pd = directory();
    if (pd[pdx] & PAGE_PRESENT) {
        pd[pdx] |= flags & PAGE_USER; /* user access needs USER at both levels */
        return 0;
    }
    /* no reclaim: it could unmap heap pages while the heap is mapping this one */
    int node = pmm_node_count() > 1 && phys != NO_FRAME ? pmm_page_node(phys) : PMM_NODE_ANY;
    paddr_t t = pmm_alloc_owner_node(1, 0, PMM_OWNER_TABLE | PMM_NO_RECLAIM,
                                     node < 0 ? PMM_NODE_ANY : node);
    if (!t)
        return -1;
    pd[pdx] = t | PAGE_PRESENT | PAGE_WRITABLE | (flags & PAGE_USER);
    glue_mapping_changed(VMM_PT_WINDOW + pdx * PAGE_SIZE, t);
    if (vmm_data.window_stale[pdx / 32] & (1u << pdx % 32)) {
        /* another CPU may still translate this window page to the slot's old table */
        vmm_data.window_stale[pdx / 32] &= ~(1u << pdx % 32);
        pmm_tlb_shootdown(VMM_PT_WINDOW + pdx * PAGE_SIZE, 1);
    }
    memset(table(pdx), 0, PAGE_SIZE);
    vmm_data.tables++;
    return 0;
}

static int map_locked(const char *fn, vaddr_t virt, paddr_t phys, uint32_t flags, int fixed)
{
    const char *why = fixed ? NULL : virt_problem(virt);
    if (!why && phys % PAGE_SIZE)
        why = "physical address not page-aligned";
    if (!why && (flags & ~(uint32_t)VMM_ENTRY_FLAGS))
        why = "unknown flag bits (PAGE_PRESENT, PAGE_WRITABLE, PAGE_USER, PAGE_WRITE_THROUGH, "
              "PAGE_CACHE_DISABLE only)";
    uint32_t *e = why ? NULL : entry_of(virt);
    if (e && (*e & PAGE_PRESENT)) {
        mm_report("%s: 0x%08lx: already mapped to 0x%08lx", fn, (unsigned long)virt,
                  (unsigned long)VMM_FRAME(*e));
        return -1;
    }
    if (why) {
        mm_report("%s: 0x%08lx: %s", fn, (unsigned long)virt, why);
        return -1;
    }
    if (!e) {
        if (table_for(virt, phys, flags) < 0) {
            mm_oom_printf("%s: 0x%08lx: no memory for a page table\n", fn, (unsigned long)virt);
            return -1;
        }
        e = entry_of(virt);
    } else {
        directory()[VMM_PDX(virt)] |= flags & PAGE_USER;
    }
    *e = phys | (flags & VMM_ENTRY_FLAGS) | PAGE_PRESENT;
    vmm_data.pt_used[VMM_PDX(virt)]++;
    vmm_data.mapped += !fixed;
    vmm_data.vmalloc_mapped += in_vmalloc(virt);
    glue_mapping_changed(virt, phys);
    return 0;
}

int vmm_map(vaddr_t virt, paddr_t phys, uint32_t flags)
{
    glue_irqflags_t f = vmm_lock();
    int r = map_locked("vmm_map", virt, phys, flags, 0);
    vmm_unlock(f);
    return r;
}

void vmm_map_page(uint32_t virt_addr, uint32_t phys_addr, uint32_t flags)
{
    glue_irqflags_t f = vmm_lock();
    map_locked("vmm_map_page", virt_addr, phys_addr, flags, 0);
    vmm_unlock(f);
}

/* Unmap virt for the public function fn (vmm_unmap_page, or an owner's unmap). */
/* Clear the present entry e of virt (TLB flushed, counts down): the page it mapped. */
static paddr_t clear_locked(vaddr_t virt, uint32_t *e)
{
    paddr_t phys = VMM_FRAME(*e);
    *e = 0;
    vmm_data.mapped--;
    vmm_data.vmalloc_mapped -= in_vmalloc(virt);
    glue_mapping_changed(virt, 0);
    return phys;
}

/*
 * After clear_locked: virt's table goes back to the PMM if that was its last
 * entry, held until the shootdown of virt (pmm_tlb_shootdown_free), which also
 * drops other CPUs' cached directory entries.  Its window page may stay in
 * their TLBs: the next table of the slot shoots it down (table_for).
 */
static void table_release_locked(vaddr_t virt)
{
    unsigned pdx = VMM_PDX(virt);
    if (--vmm_data.pt_used[pdx] == 0) {
        uint32_t *pd = directory();
        paddr_t t = VMM_FRAME(pd[pdx]);
        pd[pdx] = 0;
        glue_mapping_changed(VMM_PT_WINDOW + pdx * PAGE_SIZE, 0);
        pmm_free_held("vmm_unmap_page", t, PMM_OWNER_TABLE);
        vmm_data.window_stale[pdx / 32] |= 1u << pdx % 32;
        vmm_data.tables--;
    }
}

static void unmap_locked(const char *fn, vaddr_t virt)
{
    const char *why = virt_problem(virt);
    uint32_t *e = why ? NULL : entry_of(virt);
    if (!why && (!e || !(*e & PAGE_PRESENT)))
        why = "not mapped";
    if (why) {
        mm_report("%s: 0x%08lx: %s", fn, (unsigned long)virt, why);
        return;
    }
    paddr_t phys = clear_locked(virt, e);
    /*
     * The spec frees the page: only if the PMM handed it out (not MMIO, not
     * the kernel), and only as its owner would.  The caller's unmap frees a
     * plain caller's page; a page of anyone else (a heap page, a table, a
     * kernel stack aliased with vmm_map) stays with its owner.  An owner's
     * unmap frees its own page; a page that is not its own stays with its
     * owner too, and is reported here, in fn's name (the PMM would name its
     * own function).
     */
    pmm_owner_t has = pmm_page_owner(phys);
    pmm_owner_t want = page_owner_of[vmm_data.caller];
    if (vmm_data.caller == OWNER_VMALLOC && has == PMM_OWNER_KSTACK)
        want = PMM_OWNER_KSTACK; /* vmalloc's range holds the kernel stacks too */
    if (has != PMM_OWNER_NONE && has == want)
        pmm_free_held(fn, phys, want); /* freed after the shootdown below */
    else if (has != PMM_OWNER_NONE && vmm_data.caller != OWNER_NONE)
        mm_report("%s: 0x%08lx: maps 0x%08lx, a page of owner %s in the PMM, not a %s page: "
                  "unmapped, not freed",
                  fn, (unsigned long)virt, (unsigned long)phys, pmm_owner_name(has),
                  pmm_owner_name(want));
    table_release_locked(virt);
    pmm_tlb_shootdown_free(virt, 1);
}

void vmm_unmap_page(uint32_t virt)
{
    glue_irqflags_t f = vmm_lock();
    unmap_locked("vmm_unmap_page", virt);
    vmm_unlock(f);
}

/* An owner maps / unmaps a page of its own range (never outside it); fn: the public function. */
/* (`caller` is restored, not cleared: an owner's call may nest in another's through reclaim) */
static int owner_map(enum range_owner who, const char *fn, vaddr_t virt, paddr_t phys)
{
    glue_irqflags_t f = vmm_lock();
    enum range_owner outer = vmm_data.caller;
    vmm_data.caller = who;
    int r = map_locked(fn, virt, phys, PAGE_WRITABLE, 0);
    vmm_data.caller = outer;
    vmm_unlock(f);
    return r;
}

static void owner_unmap(enum range_owner who, const char *fn, vaddr_t virt)
{
    glue_irqflags_t f = vmm_lock();
    enum range_owner outer = vmm_data.caller;
    vmm_data.caller = who;
    unmap_locked(fn, virt);
    vmm_data.caller = outer;
    vmm_unlock(f);
}

int vmm_heap_map(vaddr_t virt, paddr_t phys)
{
    return owner_map(OWNER_HEAP, "vmm_heap_map", virt, phys);
}

void vmm_heap_unmap(vaddr_t virt)
{
    owner_unmap(OWNER_HEAP, "vmm_heap_unmap", virt);
}

int vmm_vmalloc_map(vaddr_t virt, paddr_t phys)
{
    return owner_map(OWNER_VMALLOC, "vmm_vmalloc_map", virt, phys);
}

void vmm_vmalloc_unmap(vaddr_t virt)
{
    owner_unmap(OWNER_VMALLOC, "vmm_vmalloc_unmap", virt);
}

int vmm_meta_map(vaddr_t virt, paddr_t phys)
{
    return owner_map(OWNER_META, "vmm_meta_map", virt, phys);
}

void vmm_meta_unmap(vaddr_t virt)
{
    owner_unmap(OWNER_META, "vmm_meta_unmap", virt);
}

/*
 * mm/glue.h's kernel pages, implemented with our page tables: what the layers
 * above (mm/kmap.c) use, so that they need no VMM of ours.  The range decides
 * the owner, whose map refuses anything outside its window; the unmap keeps the
 * page (mm/kmap.c frees it as its owner's after its shootdown, which also
 * frees a page table the unmap emptied: held here till then).
 */
static enum range_owner window_of(vaddr_t v)
{
    for (unsigned w = OWNER_HEAP; w <= OWNER_META; w++) {
        if (v >= windows[w].lo && v <= windows[w].hi)
            return (enum range_owner)w;
    }
    return OWNER_NONE;
}

static const char *const map_names[] = {
    [OWNER_NONE] = "vmm_map",
    [OWNER_HEAP] = "vmm_heap_map",
    [OWNER_VMALLOC] = "vmm_vmalloc_map",
    [OWNER_META] = "vmm_meta_map",
};

int glue_kmap_ready(void)
{
    return vmm_data.enabled;
}

int glue_kmap(uintptr_t virt, uintptr_t phys)
{
    enum range_owner who = window_of((vaddr_t)virt);
    if (who == OWNER_NONE) {
        mm_report("glue_kmap: 0x%08lx: outside the ranges mm/ maps", (unsigned long)virt);
        return -1;
    }
    return owner_map(who, map_names[who], (vaddr_t)virt, (paddr_t)phys);
}

uintptr_t glue_kunmap(uintptr_t virt)
{
    glue_irqflags_t f = vmm_lock();
    paddr_t phys = 0;
    uint32_t *e = window_of((vaddr_t)virt) == OWNER_NONE || virt & (PAGE_SIZE - 1)
                      ? NULL
                      : entry_of((vaddr_t)virt);
    if (e && (*e & PAGE_PRESENT)) {
        phys = clear_locked((vaddr_t)virt, e);
        table_release_locked((vaddr_t)virt);
    }
    vmm_unlock(f);
    return phys;
}

/*
 * The entries of compressible pages (mm/vmm_swap.h): zswap's, in the vmalloc
 * range.  pt_used counts every non-zero entry (a swap entry keeps its table);
 * mapped and vmalloc_mapped count the present ones.
 */
int vmm_swap_set(vaddr_t virt, uint32_t entry, uint32_t *old_out)
{
    glue_irqflags_t f = vmm_lock();
    int r = -1;
    uint32_t old = 0;
    uint32_t *e = NULL;
    if (!vmm_data.pd_phys || !in_vmalloc(virt) || virt % PAGE_SIZE) {
        mm_report("vmm_swap_set: 0x%08lx: %s", (unsigned long)virt,
                  !vmm_data.pd_phys ? "paging is not set up" : "not a page of the vmalloc range");
        goto out;
    }
    e = entry_of(virt);
    if (!e && entry) {
        if (table_for(virt, NO_FRAME, 0) < 0) { /* a swap entry: no frame */
            mm_oom_printf("vmm_swap_set: 0x%08lx: no memory for a page table\n",
                          (unsigned long)virt);
            goto out;
        }
        e = entry_of(virt);
    }
    r = 0;
    if (!e)
        goto out; /* no table, entry 0: nothing to do */
    old = __atomic_exchange_n(e, entry, __ATOMIC_SEQ_CST);
    int was = (old & PAGE_PRESENT) != 0, is = (entry & PAGE_PRESENT) != 0;
    if (!old && entry)
        vmm_data.pt_used[VMM_PDX(virt)]++;
    vmm_data.mapped += (uint32_t)(is - was);
    vmm_data.vmalloc_mapped += (uint32_t)(is - was);
    if (was || is)
        glue_mapping_changed(virt, is ? VMM_FRAME(entry) : 0);
    if (old && !entry)
        table_release_locked(virt);
out:
    if (old_out)
        *old_out = old;
    vmm_unlock(f);
    return r;
}

uint32_t vmm_clear_accessed(vaddr_t virt)
{
    glue_irqflags_t f = vmm_lock();
    uint32_t *e = entry_of(virt);
    uint32_t v = e ? __atomic_load_n(e, __ATOMIC_SEQ_CST) : 0;
    if ((v & PAGE_PRESENT) && (v & PAGE_ACCESSED))
        __atomic_and_fetch(e, ~(uint32_t)PAGE_ACCESSED, __ATOMIC_SEQ_CST); /* lock and */
    vmm_unlock(f);
    return v;
}

uintptr_t glue_kmapped(uintptr_t virt)
{
    uint32_t e = vmm_get_entry((vaddr_t)virt);
    return e & PAGE_PRESENT ? VMM_FRAME(e) : 0;
}

uint32_t vmm_get_entry(vaddr_t virt)
{
    glue_irqflags_t f = vmm_lock();
    uint32_t *e = entry_of(virt);
    /* (atomic: another CPU's MMU may set A or D in it meanwhile) */
    uint32_t v = e ? __atomic_load_n(e, __ATOMIC_RELAXED) : 0;
    vmm_unlock(f);
    return v;
}

uint32_t vmm_get_physical(uint32_t virt_addr)
{
    uint32_t e = vmm_get_entry(virt_addr);
    return (e & PAGE_PRESENT) ? VMM_FRAME(e) | (virt_addr & (PAGE_SIZE - 1)) : 0;
}

void *vmm_phys_to_virt(paddr_t p)
{
    return p < vmm_data.direct_size ? glue_virt_to_ptr(KERNEL_VIRTUAL_BASE + p) : NULL;
}

vaddr_t vmm_identity_end(void)
{
    return vmm_data.identity_end;
}

/*
 * Build the kernel's directory and turn paging on.  Identity-map low memory
 * up to the early heap and the PMM metadata (rounded to whole 4 MB tables),
 * direct-map RAM below 256 MB at KERNEL_VIRTUAL_BASE, leave page 0 out.
 */
void vmm_init(void)
{
    glue_irqflags_t f = vmm_lock();
    if (vmm_data.pd_phys) {
        mm_report("vmm_init: 0x%08lx: paging is already set up", (unsigned long)vmm_data.pd_phys);
        vmm_unlock(f);
        return;
    }
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    paddr_t pd =
        ps.free_pages ? pmm_alloc_pages_owner(1, 0, PMM_OWNER_DIRECTORY | PMM_NO_RECLAIM) : 0;
    if (!pd) {
        mm_report("vmm_init: 0x%08x: no physical page for the page directory (PMM not set up?): "
                  "paging stays off",
                  0u);
        vmm_unlock(f);
        return;
    }
    vmm_data.pd_phys = pd;
    memset(directory(), 0, PAGE_SIZE);
    directory()[VMM_RECURSIVE_SLOT] = pd | PAGE_PRESENT | PAGE_WRITABLE;

    uint32_t low = HEAP_START + INITIAL_HEAP_SIZE;
    uint32_t meta_end = ps.metadata_phys + ps.metadata_bytes;
    if (meta_end > low)
        low = meta_end;
    vmm_data.identity_end = (low + FOUR_MB - 1) & ~(FOUR_MB - 1);
    uint64_t ram_top = (uint64_t)ps.highest_page + PAGE_SIZE; /* 4 GB fits only in 64 bits */
    vmm_data.direct_size = ram_top < VMM_DIRECT_MAP_SIZE ? (uint32_t)ram_top : VMM_DIRECT_MAP_SIZE;

    for (vaddr_t v = PAGE_SIZE; v < vmm_data.identity_end; v += PAGE_SIZE) {
        if (map_locked("vmm_init", v, v, PAGE_WRITABLE, 1) < 0)
            glue_panic("vmm_init: no memory for the identity map");
    }
    for (paddr_t p = 0; p < vmm_data.direct_size; p += PAGE_SIZE) {
        if (map_locked("vmm_init", KERNEL_VIRTUAL_BASE + p, p, PAGE_WRITABLE, 1) < 0)
            glue_panic("vmm_init: no memory for the direct map");
    }
    glue_paging_enable(pd);
    vmm_data.enabled = 1;
    vmm_unlock(f);
}

void vmm_reset(void)
{
    glue_irqflags_t f = vmm_lock();
    memset(&vmm_data, 0, sizeof(vmm_data));
    vmm_unlock(f);
}

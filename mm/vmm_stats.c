/*
 * vmm_stats.c - what the VMM says about itself and about an address:
 * vmm_get_stats, vmm_describe (what an address is: the NULL page, a poison
 * pattern of the debug build, the heap, a registered describer's range, the
 * fixed maps, the table window), vmm_dump (every run of mapped pages) and
 * vmm_check (every invariant of the tables walked: the recursive slot, the
 * PMM's owners of the directory and the tables, flags, the fixed maps, the
 * counts).
 *
 * Reads vmm_data (vmm_priv.h), changes nothing.  Calls vmm.c (vmm_get_entry),
 * describe.c, the PMM (owners and states of the table pages), log.c.  Takes
 * vmm_lock as vmm.c does; vmm_describe asks the describers outside it.
 */
#include "describe.h"
#include "lock.h"
#include "log.h"
#include "mm_debug.h"
#include "pmm.h"
#include "vmm_priv.h"
#include "vmm_swap.h"

void vmm_get_stats(vmm_stats_t *s)
{
    if (!s) {
        mm_report("vmm_get_stats: NULL stats pointer");
        return;
    }
    s->page_tables = vmm_data.tables;
    s->mapped_pages = vmm_data.mapped;
    s->vmalloc_pages = vmm_data.vmalloc_mapped;
    s->page_directory = vmm_data.pd_phys;
    s->paging_enabled = vmm_data.enabled;
}

const char *vmm_describe(vaddr_t a)
{
    if (a < PAGE_SIZE)
        return "NULL page (a NULL pointer dereference?)";
    if (!vmm_data.pd_phys)
        return "paging is off";
    uint32_t e = vmm_get_entry(a & ~(PAGE_SIZE - 1));
    int mapped = e & PAGE_PRESENT;
    /* a pointer read out of poisoned memory, plus a field offset (mm_debug.h's bytes) */
    static const struct {
        uint32_t word;
        const char *what;
    } poison[] = {
        {MM_BYTE_WORD(MM_POISON_BYTE), "looks like freed memory's poison (0x6b6b6b6b): a pointer "
                                       "read from memory after kfree?"},
        {MM_BYTE_WORD(MM_FILL_BYTE), "looks like the fill of new memory (0x5a5a5a5a): a pointer "
                                     "read before it was written?"},
        {MM_BYTE_WORD(MM_REDZONE_BYTE), "looks like a red zone (0xcccccccc): a pointer read past "
                                        "the end of an object?"},
    };
    for (unsigned i = 0; !mapped && i < sizeof(poison) / sizeof(poison[0]); i++) {
        if (a - (poison[i].word - 0x10000u) < 0x20000u)
            return poison[i].what;
    }
    if (a >= HEAP_VIRTUAL_START && a <= HEAP_VIRTUAL_END)
        return mapped ? "kernel heap page" : "unmapped heap page (past the heap's end)";
    const char *described = describe_range(a);
    if (described)
        return described;
    if (in_vmalloc(a))
        return "vmalloc range";
    if (in_meta(a))
        return mapped ? "allocator metadata (slab descriptors)"
                      : "allocator metadata window, page not mapped";
    if (a < vmm_data.identity_end)
        return "identity-mapped low memory";
    if (a >= KERNEL_VIRTUAL_BASE && a - KERNEL_VIRTUAL_BASE < vmm_data.direct_size)
        return "direct map of physical memory";
    if (a >= VMM_PT_WINDOW)
        return mapped ? "page-table window" : "page-table window, table not present";
    return mapped ? "page mapped with vmm_map" : "outside any region (never mapped)";
}

/* One line of vmm_dump: the range, where it starts in physical memory, its flags. */
static void dump_range(vaddr_t start, vaddr_t last, uint32_t e)
{
    mm_printf("  0x%08lx-0x%08lx -> 0x%08lx %s%s%s\n", (unsigned long)start, (unsigned long)last,
              (unsigned long)VMM_FRAME(e), e & PAGE_WRITABLE ? "rw" : "ro",
              e & PAGE_USER ? " user" : "",
              e & PAGE_CACHE_DISABLE   ? " uncached"
              : e & PAGE_WRITE_THROUGH ? " write-through"
                                       : "");
}

void vmm_dump(void)
{
    glue_irqflags_t f = vmm_lock();
    mm_printf("vmm: directory 0x%08lx, %u page tables, %u pages mapped by vmm_map, paging %s\n",
              (unsigned long)vmm_data.pd_phys, (unsigned)vmm_data.tables, (unsigned)vmm_data.mapped,
              vmm_data.enabled ? "on" : "off");
    vaddr_t start = 0, next = 0;
    uint32_t first = 0, expect = 0;
    for (unsigned pdx = 0; vmm_data.pd_phys && pdx < VMM_RECURSIVE_SLOT; pdx++) {
        if (!(directory()[pdx] & PAGE_PRESENT))
            continue;
        uint32_t *t = table(pdx);
        for (unsigned i = 0; i < VMM_ENTRIES; i++) {
            vaddr_t v = VMM_VADDR(pdx, i);
            if (!(t[i] & PAGE_PRESENT))
                continue;
            if (next && v == next && (t[i] & ~VMM_HARDWARE_FLAGS) == expect) {
                next += PAGE_SIZE;
                expect += PAGE_SIZE;
                continue;
            }
            if (next)
                dump_range(start, next - 1, first);
            start = v;
            first = t[i];
            expect = (t[i] & ~VMM_HARDWARE_FLAGS) + PAGE_SIZE;
            next = v + PAGE_SIZE;
        }
    }
    if (next)
        dump_range(start, next - 1, first);
    vmm_unlock(f);
}

#define check_failed(v, what) mm_check_failed_at("vmm_check", v, what)

int vmm_check(void)
{
    if (!vmm_data.pd_phys)
        return 0;
    glue_irqflags_t f = vmm_lock();
    int errors = 0;
    uint32_t tables = 0, mapped = 0, vmalloc_mapped = 0;
    uint32_t *pd = directory();
    /* the CPU sets Accessed/Dirty as it walks: they are not ours to check */
    if ((pd[VMM_RECURSIVE_SLOT] & ~(uint32_t)(PAGE_ACCESSED | PAGE_DIRTY)) !=
        (vmm_data.pd_phys | PAGE_PRESENT | PAGE_WRITABLE))
        errors += check_failed(VMM_PT_WINDOW, "recursive slot does not point at the directory");
    /* the PMM must hold our pages as ours: free, another owner's, and somebody could free them */
    if (pmm_page_owner(vmm_data.pd_phys) != PMM_OWNER_DIRECTORY)
        errors += check_failed(VMM_PT_WINDOW, pmm_page_state(vmm_data.pd_phys) != 1
                                                  ? "the directory's page is free in the PMM"
                                                  : "the directory's page has another owner "
                                                    "in the PMM");
    if (pd[0] & PAGE_PRESENT && table(0)[0] & PAGE_PRESENT)
        errors += check_failed(0, "the NULL page is mapped");
    for (unsigned pdx = 0; pdx < VMM_RECURSIVE_SLOT; pdx++) {
        vaddr_t base = VMM_VADDR(pdx, 0);
        if (!(pd[pdx] & PAGE_PRESENT)) {
            if (vmm_data.pt_used[pdx])
                errors += check_failed(base, "count of a missing table is not 0");
            continue;
        }
        tables++;
        paddr_t tp = VMM_FRAME(pd[pdx]);
        if (pmm_page_owner(tp) != PMM_OWNER_TABLE)
            errors += check_failed(base, pmm_page_state(tp) != 1
                                             ? "page table is not a page the PMM handed out"
                                             : "page table has another owner in the PMM");
        uint32_t *t = table(pdx);
        uint32_t present = 0;
        for (unsigned i = 0; i < VMM_ENTRIES; i++) {
            vaddr_t v = VMM_VADDR(pdx, i);
            if (!(t[i] & PAGE_PRESENT)) {
                /* a not-present non-zero entry: a compressed page's (mm/vmm_swap.h) */
                if (t[i] && !in_vmalloc(v))
                    errors += check_failed(v, "not-present entry with bits outside the vmalloc "
                                              "range (swap entries live there only)");
                present += t[i] != 0;
                continue;
            }
            present++;
            if ((t[i] & VMM_PTE_ZSWAP) && !in_vmalloc(v))
                errors += check_failed(v, "compressible-page bit outside the vmalloc range");
            if (t[i] & VMM_FLAG_BITS & ~(VMM_ENTRY_FLAGS | VMM_HARDWARE_FLAGS | VMM_PTE_ZSWAP))
                errors += check_failed(v, "entry has unknown flag bits");
            if ((t[i] & PAGE_USER) && !(pd[pdx] & PAGE_USER))
                errors += check_failed(v, "user page under a supervisor-only table");
            if (v < vmm_data.identity_end && VMM_FRAME(t[i]) != v)
                errors += check_failed(v, "identity map points elsewhere");
            else if (v >= KERNEL_VIRTUAL_BASE && v - KERNEL_VIRTUAL_BASE < vmm_data.direct_size &&
                     VMM_FRAME(t[i]) != v - KERNEL_VIRTUAL_BASE)
                errors += check_failed(v, "direct map points elsewhere");
            mapped += !in_fixed(v);
            vmalloc_mapped += in_vmalloc(v);
        }
        if (present != vmm_data.pt_used[pdx])
            errors += check_failed(base, "present entries differ from the table's count");
        if (present == 0)
            errors += check_failed(base, "empty page table not given back");
    }
    if (tables != vmm_data.tables || mapped != vmm_data.mapped ||
        vmalloc_mapped != vmm_data.vmalloc_mapped)
        errors += check_failed(0, "table or mapping counters differ from the tables");
    vmm_unlock(f);
    return errors;
}

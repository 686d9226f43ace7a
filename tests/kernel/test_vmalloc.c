/*
 * test_vmalloc.c (kernel) - guard pages on the real MMU: vmalloc, vfree,
 * kernel stacks, and the fault diagnosis naming the allocation whose guard
 * page was hit.  Runs in Phase 2 (the runner also runs vmm_check,
 * pmm_check and vmalloc_check after each test).
 *
 * ktest_overflow is apart: it overflows a kernel stack on purpose, which
 * ends the boot (the double-fault task reports it and leaves QEMU).  It
 * runs only with the boot option ktest=overflow (tools/boot-check.sh).
 */
#include "cpu.h"
#include "idt.h"
#include "ktest.h"
#include "log.h"
#include "pmm.h"
#include "power.h"
#include "slab.h"
#include "vmalloc.h"
#include "vmm.h"

static uint32_t free_pages(void)
{
    pmm_stats_t s;
    pmm_get_stats(&s);
    return s.free_pages;
}

static int mapped(vaddr_t v)
{
    return (vmm_get_entry(v) & PAGE_PRESENT) != 0;
}

/*   | - | rw rw rw rw | - |   vmalloc(3 pages + 1 byte): 4 pages, a guard each side */
static void pages_mapped_between_guards(void)
{
    uint32_t free0 = free_pages();
    uint8_t *p = vmalloc(3 * PAGE_SIZE + 1);
    KT_ASSERT(p != NULL);
    vaddr_t v = (vaddr_t)p;
    KT_ASSERT(v % PAGE_SIZE == 0 && v > VMALLOC_START && v < VMALLOC_END);
    for (uint32_t i = 0; i < 4 * PAGE_SIZE; i++)
        p[i] = (uint8_t)(i * 7);
    for (uint32_t i = 0; i < 4 * PAGE_SIZE; i++)
        KT_ASSERT(p[i] == (uint8_t)(i * 7));
    KT_ASSERT(mapped(v) && mapped(v + 3 * PAGE_SIZE));
    KT_ASSERT(!mapped(v - PAGE_SIZE) && !mapped(v + 4 * PAGE_SIZE));
    KT_ASSERT(vmalloc_check() == 0);
    vfree(p);
    KT_ASSERT(!mapped(v) && !mapped(v + 3 * PAGE_SIZE));
    KT_ASSERT(free_pages() == free0); /* the pages and the page table went back */
    KT_ASSERT(mm_error_count() == 0);
}

static volatile uint32_t fault_cr2, fault_count;
static char fault_what[256];

/* Ask the describer the IDT really uses, then skip the 2-byte `mov (%eax), %ecx`. */
static int expect_page_fault(struct interrupt_frame *f)
{
    fault_cr2 = read_cr2();
    idt_address_describer_t describe = idt_address_describer();
    mm_snprintf(fault_what, sizeof(fault_what), "%s", describe ? describe(fault_cr2) : "none");
    fault_count++;
    idt_print_diagnosis(f);
    f->eip += 2;
    return 1;
}

static void touch(vaddr_t addr)
{
    uint32_t value;
    __asm__ volatile("mov (%%eax), %%ecx" : "=c"(value) : "a"(addr) : "memory");
    (void)value;
}

/* A read of either guard page faults, and the diagnosis names the allocation. */
static void guard_page_hit_is_named(void)
{
    char *p = vmalloc_at(8192, "test_vmalloc.c", 42);
    KT_ASSERT(p != NULL);
    vaddr_t v = (vaddr_t)p;
    char want[160];
    idt_set_fault_hook(14, expect_page_fault);
    fault_count = 0;
    kprintf("    (reads of both guard pages; the two diagnoses below are expected)\n");
    touch(v - 4);
    KT_ASSERT(fault_count == 1 && fault_cr2 == v - 4);
    mm_snprintf(want, sizeof(want),
                "guard-page hit: guard page below vmalloc allocation 0x%08x (8192 bytes, "
                "allocated at test_vmalloc.c:42)",
                v);
    KT_ASSERT(kt_contains(fault_what, want));
    touch(v + 8192);
    idt_set_fault_hook(14, NULL);
    KT_ASSERT(fault_count == 2 && fault_cr2 == v + 8192);
    KT_ASSERT(kt_contains(fault_what, "guard-page hit: guard page above vmalloc allocation"));
    vfree(p);
    KT_ASSERT(kt_contains(vmm_describe(v + 10), "freed vmalloc allocation"));
}

/* Wild, interior, unaligned pointers and a double vfree: reported, nothing changes. */
static void bad_vfree_reported(void)
{
    char *p = vmalloc(2 * PAGE_SIZE);
    KT_ASSERT(p != NULL);
    uint32_t free0 = free_pages();
    vfree(NULL);
    KT_ASSERT(mm_error_count() == 0);
    vfree((void *)0x1234);
    KT_REPORTED("vfree", "not a vmalloc pointer");
    vfree(p + 100);
    KT_REPORTED("vfree", "interior pointer, 100 bytes into vmalloc allocation");
    vfree(p - PAGE_SIZE);
    KT_REPORTED("vfree", "in the guard page below");
    vfree((void *)(VMALLOC_END - 10));
    KT_REPORTED("vfree", "not page-aligned");
    KT_ASSERT(free_pages() == free0 && mapped((vaddr_t)p));
    KT_ASSERT(vmalloc_check() == 0);
    vfree(p);
    vfree(p);
    KT_REPORTED("vfree", "double free of vmalloc allocation");
    KT_ASSERT(mm_error_count() == 5);
}

/* The kernel itself runs on a kernel stack with a guard page below it. */
static void kernel_runs_on_a_guarded_stack(void)
{
    char buf[200];
    vaddr_t esp = (vaddr_t)(uintptr_t)buf;
    KT_ASSERT(vmalloc_describe(esp, buf, sizeof(buf)) != NULL);
    KT_ASSERT(kt_contains(buf, "into kernel stack"));
    vaddr_t page = esp & ~(PAGE_SIZE - 1);
    for (int i = 0; i < 64 && mapped(page); i++)
        page -= PAGE_SIZE;
    KT_ASSERT(!mapped(page) && vmalloc_is_guard(page));
    vmalloc_describe(page, buf, sizeof(buf));
    KT_ASSERT(kt_contains(buf, "guard page below kernel stack"));
}

static void note_stack(void *arg)
{
    volatile uint32_t here = 0;
    *(vaddr_t *)arg = (vaddr_t)(uintptr_t)&here;
}

/* kstack_alloc: code runs on it and comes back; kstack_free gives it all back. */
static void kstack_runs_code(void)
{
    uint32_t free0 = free_pages();
    vaddr_t top = kstack_alloc(8192), seen = 0;
    KT_ASSERT(top != 0 && top % PAGE_SIZE == 0);
    KT_ASSERT(!mapped(top - 8192 - PAGE_SIZE)); /* the guard below */
    cpu_call_on_stack(top, note_stack, &seen);
    KT_ASSERT(seen >= top - 8192 && seen < top);
    vfree((void *)(top - 8192));
    KT_REPORTED("vfree", "free it with kstack_free");
    kstack_free(top);
    KT_ASSERT(!mapped(top - PAGE_SIZE));
    KT_ASSERT(free_pages() == free0);
    KT_ASSERT(mm_error_count() == 1);
}

/* More than the free RAM: NULL, a line, nothing kept or half-mapped. */
static void out_of_memory_leaves_nothing(void)
{
    kmem_cache_reap(); /* else the PMM's reclaim hook gives the heap's spare pages back in it */
    uint32_t free0 = free_pages();
    vmm_stats_t vs0, vs1;
    vmm_get_stats(&vs0);
    void *p = vmalloc((size_t)(free0 + 1) * PAGE_SIZE);
    vmm_get_stats(&vs1);
    KT_ASSERT(p == NULL);
    KT_ASSERT(free_pages() == free0);
    KT_ASSERT(vs1.vmalloc_pages == vs0.vmalloc_pages && vs1.page_tables == vs0.page_tables);
    KT_ASSERT(mm_error_count() == 0);
}

const struct ktest ktest_vmalloc[] = {
    {"vmalloc: pages mapped between unmapped guard pages", pages_mapped_between_guards},
    {"vmalloc: a guard-page hit names the allocation", guard_page_hit_is_named},
    {"vmalloc: bad vfree reported and survived", bad_vfree_reported},
    {"vmalloc: the kernel runs on a guarded kernel stack", kernel_runs_on_a_guarded_stack},
    {"vmalloc: kstack_alloc runs code, kstack_free", kstack_runs_code},
    {"vmalloc: out of memory leaves nothing behind", out_of_memory_leaves_nothing},
    {NULL, NULL},
};

/* ---------------------------------------------------------- overflow ---- */

#define OVERFLOW_TEST "overflow: a kernel stack overflow hits its guard page"

/*
 * Runs in the double-fault task: CR2 must be in the guard page below the
 * stack, the stack pointer at its bottom or in that guard page (a push that
 * faults leaves ESP as it was), and the describer must say so.  The verdict goes out the way the
 * runner's does ("N passed, N failed", isa-debug-exit).
 */
static int double_fault_verdict(struct interrupt_frame *f)
{
    uint32_t cr2 = read_cr2();
    int ok = kt_overflow_hit_guard(f, cr2) && kt_contains(vmm_describe(cr2), "guard-page hit");
    kprintf(ok ? "[  OK  ] %s\n1 passed, 0 failed\n" : "[ FAIL ] %s\n0 passed, 1 failed\n",
            OVERFLOW_TEST);
    qemu_exit(ok ? 0 : 1);
}

static void stack_overflow_is_reported(void)
{
    vaddr_t top = kt_overflow_stack(double_fault_verdict, "recursing");
    KT_ASSERT(top != 0);
    uint32_t result = 0;
    cpu_call_on_stack(top, kt_overflow_this_stack, &result);
    idt_set_fault_hook(8, NULL);
    KT_ASSERT(!"the recursion came back: the guard page did not stop it");
    (void)result;
}

const struct ktest ktest_overflow[] = {
    {OVERFLOW_TEST, stack_overflow_is_reported},
    {NULL, NULL},
};

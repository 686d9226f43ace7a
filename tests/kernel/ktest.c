/*
 * ktest.c - runs every in-kernel suite and prints "N passed, N failed".
 * kernel_main (KERNEL_TEST build) turns the failure count into QEMU's exit
 * status through isa-debug-exit.
 */
#include "ktest.h"
#include "console.h"
#include "idt.h"
#include "vmalloc.h"
#include "vmm.h"
#include "multiboot.h"

static int current_failed;

void kt_fail(const char *file, int line, const char *cond)
{
    kprintf("    FAILED at %s:%d: %s\n", file, line, cond);
    current_failed = 1;
}

int kt_contains(const char *haystack, const char *needle)
{
    for (; *haystack; haystack++) {
        const char *h = haystack, *n = needle;
        while (*n && *h == *n)
            h++, n++;
        if (!*n)
            return 1;
    }
    return *needle == '\0';
}

/*
 * Boot option "ktest=PREFIX" runs only the tests whose name starts with
 * PREFIX (tools/qemu-accel.sh boots "ktest=cpu:" to see whether KVM can
 * deliver exceptions at all).  Tests that end the boot (ktest_overflow,
 * ktest_panic) run only when named that way: `explicit` leaves them out
 * otherwise.
 */
static volatile uint32_t depth_limit = 0xFFFFFFFF; /* never reached: the guard page is */

static uint32_t recurse(uint32_t depth)
{
    volatile uint8_t pad[200];
    pad[0] = (uint8_t)depth;
    if (depth >= depth_limit)
        return pad[0];
    return recurse(depth + 1) + pad[0]; /* not a tail call: every frame stays */
}

void kt_overflow_this_stack(void *result)
{
    *(uint32_t *)result = recurse(0);
}

vaddr_t kt_overflow_bottom;

vaddr_t kt_overflow_stack(fault_hook_t verdict, const char *who)
{
    vaddr_t top = kstack_alloc(8192);
    if (!top)
        return 0;
    kt_overflow_bottom = top - 8192;
    idt_set_fault_hook(8, verdict);
    kprintf("    (%s on an 8 KB kernel stack at 0x%08x; the #DF diagnosis below is expected)\n",
            who, kt_overflow_bottom);
    return top;
}

int kt_overflow_hit_guard(const struct interrupt_frame *f, uint32_t cr2)
{
    vaddr_t bottom = kt_overflow_bottom;
    return cr2 >= bottom - PAGE_SIZE && cr2 < bottom && f->esp_at_pusha + PAGE_SIZE >= bottom &&
           f->esp_at_pusha <= bottom &&
           kt_contains(vmm_describe(cr2), "guard page below kernel stack");
}

static int selected(const char *name, int explicit)
{
    const char *c = multiboot_cmdline();
    for (; *c; c++) {
        if ((c == multiboot_cmdline() || c[-1] == ' ') && c[0] == 'k' && c[1] == 't' &&
            c[2] == 'e' && c[3] == 's' && c[4] == 't' && c[5] == '=') {
            const char *p = c + 6;
            const char *n = name;
            while (*p && *p != ' ' && *n == *p)
                p++, n++;
            return *p == '\0' || *p == ' ';
        }
    }
    return !explicit;
}

int kernel_tests_run(void)
{
    const struct ktest *suites[] = {
        ktest_heap,   ktest_string,  ktest_lz4,      ktest_cpu,      ktest_memmap, ktest_idt,
        ktest_phase2, ktest_vmalloc, ktest_bugclass, ktest_owners,   ktest_smp,    ktest_ipi,
        ktest_zstore, ktest_zswap,   ktest_debug,    ktest_overflow, ktest_panic};
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    int passed = 0, failed = 0;
    uint32_t number = 0;
    kprintf("\n[ktest] in-kernel test suite\n");
    for (unsigned s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
        for (const struct ktest *t = suites[s]; t->name; t++) {
            int ends = suites[s] == ktest_overflow || suites[s] == ktest_panic;
            if (!selected(t->name, ends))
                continue;
            int phase2 = suites[s] == ktest_phase2 || suites[s] == ktest_vmalloc ||
                         suites[s] == ktest_bugclass || suites[s] == ktest_owners ||
                         suites[s] == ktest_smp || suites[s] == ktest_ipi ||
                         suites[s] == ktest_zstore || suites[s] == ktest_zswap || ends;
            memory_init(); /* every test starts from a fresh 64 KB heap */
            current_failed = 0;
            kprintf("[ RUN  ] %s\n", t->name);
            if (phase2 && !vs.paging_enabled)
                kt_fail(t->name, 0, "paging is not on (the test kernel boots into Phase 2)");
            else {
                if (phase2)
                    heap_init_virtual(); /* and a fresh virtual heap */
                int pressed = phase2 && !ends && kt_pressure_on();
                if (pressed && kt_pressure_begin(t->name, number) != 0)
                    kt_fail(t->name, 0, "zswap-pressure: the area under the test");
                else {
                    t->fn();
                    if (pressed && kt_pressure_end() != 0 && !current_failed)
                        kt_fail(t->name, 0, "zswap-pressure: the area after the test");
                }
            }
            number++;
            if (!current_failed && heap_check() != 0)
                kt_fail(t->name, 0, "heap_check() after the test");
            if (!current_failed && phase2 &&
                (vmm_check() != 0 || pmm_check() != 0 || vmalloc_check() != 0))
                kt_fail(t->name, 0, "vmm_check(), pmm_check() or vmalloc_check() after the test");
            kprintf(current_failed ? "[ FAIL ] %s\n" : "[  OK  ] %s\n", t->name);
            current_failed ? failed++ : passed++;
        }
    }
    kt_pressure_summary();
    kprintf("%d passed, %d failed\n", passed, failed);
    return failed;
}

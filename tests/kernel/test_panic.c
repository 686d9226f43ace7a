/*
 * test_panic.c (kernel) - the end of the kernel with several CPUs: a panic
 * or a double fault on an AP stops every other CPU (arch/x86/panic.c).
 *
 * Each test ends the boot, so ktest_panic runs only when named with the
 * boot option ktest=PREFIX (tools/run-smp-tests.sh boots -smp 4):
 *
 *   panic-ap       CPUs 0, 2, 3 run a verifying kmalloc/kfree loop that
 *                  prints its progress; CPU 1 panics once each has printed.
 *                  The panic hook, on CPU 1 after the message: every other
 *                  CPU said it stopped, and none of their counters moves in
 *                  300 ms.  The runner checks no progress line follows the
 *                  PANIC line.
 *   panic-two      CPUs 1 and 2 panic at the same moment, once CPUs 0 and
 *                  3 have printed progress: one message; the other CPU
 *                  halts without a word (in the xchg, or by the NMI if that
 *                  came first).
 *   panic-second   the same, deterministic: CPU 2 sits in an NMI handler
 *                  (NMIs blocked, so the stop NMI waits) until CPU 1 has
 *                  begun to panic, then panics: it must lose the xchg and
 *                  halt quietly, and CPU 1 print once CPU 2 said it stopped.
 *   ap-overflow    a kernel stack overflow on CPU 1: CPU 1's own
 *                  double-fault task reports it, the other CPUs stopped.
 *
 * Every verdict is printed as the runner's ("N passed, N failed") and
 * leaves QEMU through isa-debug-exit.
 */
#include "cpu.h"
#include "glue.h"
#include "idt.h"
#include "ktest.h"
#include "lapic.h"
#include "panic.h"
#include "power.h"
#include "smp.h"
#include "vmalloc.h"
#include "vmm.h"
#include "../rng.h" /* tests/rng.h */

#define PANIC_AP_TEST     "panic-ap: a panic on CPU 1 stops the CPUs that stress"
#define PANIC_TWO_TEST    "panic-two: two CPUs panic at once, one message"
#define PANIC_SECOND_TEST "panic-second: a CPU that panics second halts without a word"
#define OVERFLOW_AP_TEST  "ap-overflow: a stack overflow on CPU 1 ends in its own #DF task"

#define STRESS_LINE 64 /* a progress line every STRESS_LINE rounds */
#define QUIET_US    300000u

static volatile uint32_t progress[KERNEL_MAX_CPUS];
static volatile uint32_t bad_bytes;
static volatile uint32_t all_busy; /* every stresser printed twice before the panic */
static volatile uint32_t two_ready, two_go, two_armed;
static const char *test_name;

static void verdict(int ok)
{
    kprintf(ok ? "[  OK  ] %s\n1 passed, 0 failed\n" : "[ FAIL ] %s\n0 passed, 1 failed\n",
            test_name);
    qemu_exit(ok ? 0 : 1);
}

/* kmalloc, fill, verify, kfree, forever; the progress on the console now and then. */
static void stress_forever(void *unused)
{
    unsigned me = smp_cpu_index();
    uint32_t rng = 0x9E3779B9u * (me + 1);

    (void)unused;
    for (;;) {
        uint32_t n = 8 + rng_below(&rng, 1500);
        uint8_t *p = kmalloc(n);
        if (p) {
            for (uint32_t i = 0; i < n; i++)
                p[i] = (uint8_t)(me * 31 + i);
            for (uint32_t i = 0; i < n; i++)
                if (p[i] != (uint8_t)(me * 31 + i))
                    bad_bytes++;
            kfree(p);
        }
        uint32_t k = ++progress[me];
        if (k % STRESS_LINE == 0)
            kprintf("    stress CPU %u: %u rounds\n", me, k);
        /* panic-two: the BSP lets the two panics go once the stressers have shown progress */
        if (two_armed && me == 0 && k >= 2 * STRESS_LINE &&
            (smp_cpu_count() < 4 || progress[3] >= 2 * STRESS_LINE))
            two_go = 1;
    }
}

/* Every CPU but `except` (and the caller) has done at least `rounds`: bounded wait. */
static int others_busy(unsigned except, uint32_t rounds)
{
    unsigned me = smp_cpu_index(), n = smp_cpu_count();
    for (uint32_t spins = 0; spins < 100000000u; spins++) {
        unsigned ready = 0;
        for (unsigned i = 0; i < n; i++)
            ready += i == me || i == except || progress[i] >= rounds;
        if (ready == n)
            return 1;
        smp_relax();
    }
    return 0;
}

/* On the panicking CPU, after its message: nobody else runs. */
static int others_frozen(void)
{
    uint32_t before[KERNEL_MAX_CPUS];
    unsigned n = smp_cpu_count(), moved = 0, running = panic_cpus_running();

    for (unsigned i = 0; i < n; i++)
        before[i] = progress[i];
    pit_delay_us(QUIET_US); /* the PIT is the BSP's, but the BSP is stopped */
    kprintf("    after the panic: %u CPU%s still running; rounds in %u ms:", running,
            running == 1 ? "" : "s", QUIET_US / 1000u);
    for (unsigned i = 0; i < n; i++) {
        kprintf(" CPU %u %u->%u", i, before[i], progress[i]);
        moved += progress[i] != before[i];
    }
    kprintf("\n");
    return running == 0 && moved == 0;
}

/* ---- panic-ap ---- */

static void after_panic_ap(void)
{
    int frozen = others_frozen();
    kprintf("    panicked on CPU %u; the stressers verified every byte: %s\n", smp_cpu_index(),
            bad_bytes ? "NO" : "yes");
    verdict(frozen && all_busy && smp_cpu_index() == 1 && !bad_bytes &&
            panic_cpus_lost_race() == 0);
}

static void panic_when_all_busy(void *unused)
{
    (void)unused;
    all_busy = others_busy(1, 2 * STRESS_LINE);
    glue_panic("ktest: CPU 1 panics on purpose while the other CPUs stress");
}

static void panic_on_an_ap(void)
{
    unsigned n = smp_cpu_count();
    test_name = PANIC_AP_TEST;
    KT_ASSERT(n >= 3);
    panic_set_hook(after_panic_ap);
    for (unsigned cpu = 2; cpu < n; cpu++)
        KT_ASSERT(smp_run(cpu, stress_forever, NULL) == 0);
    KT_ASSERT(smp_run(1, panic_when_all_busy, NULL) == 0);
    stress_forever(NULL); /* until the NMI stops this CPU too */
}

/* ---- panic-two ---- */

static void after_panic_two(void)
{
    unsigned me = smp_cpu_index();
    int frozen = others_frozen();
    unsigned lost = panic_cpus_lost_race();
    kprintf("    CPU %u's message went out; the other halted %s\n", me,
            lost ? "in the xchg, without a word" : "by the NMI before it got there");
    verdict(frozen && (me == 1 || me == 2) && lost <= 1 && !bad_bytes);
}

static void panic_at_once(void *msg)
{
    __asm__ volatile("lock; incl %0" : "+m"(two_ready) : : "memory");
    while (!two_go)
        __asm__ volatile("rep; nop" : : : "memory");
    glue_panic(msg);
}

static void two_cpus_panic_at_once(void)
{
    unsigned n = smp_cpu_count();
    test_name = PANIC_TWO_TEST;
    KT_ASSERT(n >= 3);
    panic_set_hook(after_panic_two);
    KT_ASSERT(smp_run(1, panic_at_once, "ktest: CPU 1 panics at the same moment as CPU 2") == 0);
    KT_ASSERT(smp_run(2, panic_at_once, "ktest: CPU 2 panics at the same moment as CPU 1") == 0);
    for (unsigned cpu = 3; cpu < n; cpu++)
        KT_ASSERT(smp_run(cpu, stress_forever, NULL) == 0);
    for (uint32_t spins = 0; two_ready < 2 && spins < 100000000u; spins++)
        smp_relax();
    KT_ASSERT(two_ready == 2);
    two_armed = 1; /* stress_forever lets them go */
    stress_forever(NULL);
}

/* ---- panic-second ---- */

static volatile uint32_t in_nmi;

static void after_panic_second(void)
{
    int frozen = others_frozen();
    unsigned lost = panic_cpus_lost_race();
    kprintf("    CPU %u's message went out; %u CPU halted in the xchg without a word\n",
            smp_cpu_index(), lost);
    verdict(frozen && smp_cpu_index() == 1 && lost == 1 && !bad_bytes);
}

/* CPU 2's NMI hook: NMIs are blocked until an iret that never comes; panic after CPU 1. */
static int panic_second_in_nmi(struct interrupt_frame *f)
{
    (void)f;
    if (smp_cpu_index() != 2)
        return 0;
    in_nmi = 1;
    while (!panic_in_progress())
        __asm__ volatile("rep; nop" : : : "memory");
    glue_panic("ktest: CPU 2 panics while CPU 1 does (this line must not appear)");
    return 0;
}

static void panic_now(void *msg)
{
    glue_panic(msg);
}

static void a_second_panic_halts_quietly(void)
{
    unsigned n = smp_cpu_count();
    test_name = PANIC_SECOND_TEST;
    KT_ASSERT(n >= 3);
    panic_set_hook(after_panic_second);
    idt_set_fault_hook(2, panic_second_in_nmi);
    for (unsigned cpu = 2; cpu < n; cpu++)
        KT_ASSERT(smp_run(cpu, stress_forever, NULL) == 0);
    KT_ASSERT(others_busy(1, 2 * STRESS_LINE)); /* CPUs 2 and 3 (this is CPU 0) */
    KT_ASSERT(lapic_send_nmi(smp_cpus[2].apic_id) == 0);
    for (uint32_t spins = 0; !in_nmi && spins < 100000000u; spins++)
        smp_relax();
    KT_ASSERT(in_nmi);
    KT_ASSERT(smp_run(1, panic_now, "ktest: CPU 1 panics while CPU 2 waits in an NMI handler") ==
              0);
    stress_forever(NULL);
}

/* ---- ap-overflow ---- */

static void overflow_on_this_ap(void *unused)
{
    static uint32_t result;
    (void)unused;
    cpu_call_on_stack(kt_overflow_bottom + 8192, kt_overflow_this_stack, &result);
}

/* In CPU 1's double-fault task: its own stack, its own CPU, the guard page named. */
static int ap_double_fault_verdict(struct interrupt_frame *f)
{
    uint32_t cr2 = read_cr2(), here = (uint32_t)&cr2;
    unsigned me = smp_cpu_index();
    int guard = kt_overflow_hit_guard(f, cr2);
    /* the task's stack: neither the overflowed one nor the BSP's (in the kernel image) */
    int own_stack = here >= VMALLOC_START && here <= VMALLOC_END &&
                    !(here >= kt_overflow_bottom - PAGE_SIZE && here < kt_overflow_bottom + 8192);
    unsigned running = panic_cpus_running();
    kprintf("    #DF task on CPU %u, its stack at 0x%08x (%s); %u other CPU%s running\n", me, here,
            vmm_describe(here), running, running == 1 ? "" : "s");
    verdict(me == 1 && guard && own_stack && running == 0);
    return 0;
}

static void stack_overflow_on_an_ap(void)
{
    test_name = OVERFLOW_AP_TEST;
    KT_ASSERT(smp_cpu_count() >= 2);
    KT_ASSERT(kt_overflow_stack(ap_double_fault_verdict, "CPU 1 recurses") != 0);
    KT_ASSERT(smp_run(1, overflow_on_this_ap, NULL) == 0);
    smp_wait(1); /* until the NMI of CPU 1's double-fault task stops this CPU */
    idt_set_fault_hook(8, NULL);
    KT_ASSERT(!"CPU 1's recursion came back: the guard page did not stop it");
}

const struct ktest ktest_panic[] = {
    {PANIC_AP_TEST, panic_on_an_ap},
    {PANIC_TWO_TEST, two_cpus_panic_at_once},
    {PANIC_SECOND_TEST, a_second_panic_halts_quietly},
    {OVERFLOW_AP_TEST, stack_overflow_on_an_ap},
    {NULL, NULL},
};

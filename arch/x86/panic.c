/*
 * panic.c - stopping every CPU when one of them cannot go on (panic.h).
 *
 *   CPU A (panics)                          CPU B, C ... (anything, IF on or off)
 *   cli; xchg(panicking, 1) == 0: first
 *   NMI to all but self (ICR, lapic.c) ---> NMI: isr_dispatch -> panic_nmi:
 *   wait for every online CPU's             stopped[me] = 1; cli; hlt forever
 *   stopped flag (bounded)
 *   take the console, print, halt
 *
 * An NMI is not masked by IF, so a CPU spinning with interrupts off (for
 * mm/'s lock, which A may hold; for a shootdown's acknowledgement) stops
 * too.  A CPU whose own panic loses the xchg writes its stopped flag and
 * halts without a word.  What the stopped CPUs held stays held: the
 * panicking CPU takes the console's lock and mm/'s spinlock without waiting
 * (panic_this_cpu, kernel/terminal.c and glue.c), so its message and a
 * fault diagnosis's address describer cannot hang on a CPU that is gone.
 */
#include "panic.h"

#include "console.h"
#include "cpu.h"
#include "lapic.h"
#include "smp.h"

/* About a second of polls under TCG: a CPU that has not stopped by then is named. */
#define STOP_SPIN_LIMIT 50000000u

static volatile uint32_t panicking; /* 0, then 1 for good (xchg) */
static volatile int panic_cpu = -1; /* the CPU that won it */
static volatile uint32_t stopped[KERNEL_MAX_CPUS];
static volatile uint32_t lost_race; /* CPUs that panicked second and halted without a word */
static void (*volatile panic_hook)(void);

static unsigned this_cpu(void)
{
    return glue_percpu_ready ? smp_cpu_index() : 0;
}

static uint32_t xchg(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
}

__attribute__((noreturn)) static void stop_here(void)
{
    unsigned me = this_cpu();

    if (me < KERNEL_MAX_CPUS)
        xchg(&stopped[me], 1); /* a full barrier: everything before it is visible first */
    cpu_halt_forever();
}

int panic_in_progress(void)
{
    return panicking != 0;
}

int panic_this_cpu(void)
{
    return panicking && panic_cpu == (int)this_cpu();
}

unsigned panic_cpus_running(void)
{
    unsigned n = 0, count = smp_cpu_count();

    for (unsigned i = 0; i < count && i < KERNEL_MAX_CPUS; i++)
        n += (int)i != panic_cpu && smp_cpus[i].online && !stopped[i];
    return n;
}

void panic_stop_others(void)
{
    cli();
    if (panic_this_cpu())
        return; /* this CPU's panic path panicked again: the others are stopped already */
    if (xchg(&panicking, 1)) {
        __asm__ volatile("lock; incl %0" : "+m"(lost_race) : : "memory");
        stop_here(); /* another CPU panics: its message is the one */
    }
    panic_cpu = (int)this_cpu();
    if (smp_cpu_count() <= 1 || !lapic_ready())
        return;
    if (lapic_send_nmi_others() != 0)
        return; /* said in a line; the message goes out anyway */
    for (uint32_t spins = 0; spins < STOP_SPIN_LIMIT && panic_cpus_running(); spins++)
        __asm__ volatile("rep; nop" : : : "memory"); /* under TCG: lets the other vCPUs run */
}

int panic_nmi(void)
{
    if (!panicking)
        return 0;
    stop_here();
}

unsigned panic_cpus_lost_race(void)
{
    return lost_race;
}

void panic_say_where(void)
{
    unsigned count = smp_cpu_count();

    if (count <= 1)
        return;
    if (!panic_cpus_running()) {
        kprintf("  on CPU %d of %u; the other CPUs are stopped\n", panic_cpu, count);
        return;
    }
    kprintf("  on CPU %d of %u; still running (no answer to the stop NMI):", panic_cpu, count);
    for (unsigned i = 0; i < count && i < KERNEL_MAX_CPUS; i++)
        if ((int)i != panic_cpu && smp_cpus[i].online && !stopped[i])
            kprintf(" CPU %u", i);
    kprintf("\n");
}

void panic_set_hook(void (*fn)(void))
{
    panic_hook = fn;
}

void panic_run_hook(void)
{
    void (*fn)(void) = panic_hook;

    if (fn && panic_this_cpu())
        fn();
}

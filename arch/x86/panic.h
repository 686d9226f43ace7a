/*
 * panic.h - the end of the kernel on every CPU at once (arch/x86/panic.c).
 *
 * Every fatal path - glue_panic, an exception nobody handles (idt.c), the
 * double-fault task - calls panic_stop_others() before it prints anything.
 * The first CPU to get there (an xchg: a 486 has no cmpxchg) sends an NMI
 * to every other CPU (local APIC, all-excluding-self); each halts for good
 * (cli; hlt) in its NMI handler, interrupts on or off, whatever it was
 * doing.  When every online CPU has said so, or after a bounded wait, the
 * panicking CPU takes the console and prints: its message is the last
 * thing on the console.  A second CPU that panics meanwhile halts quietly
 * inside panic_stop_others: one message, the first.
 */
#ifndef ARCH_X86_PANIC_H
#define ARCH_X86_PANIC_H

#include <stdint.h>

/*
 * Stop every other CPU; interrupts off from here on.  Returns on the first
 * CPU to panic only; any other halts inside.  Without a local APIC (one
 * CPU, or before smp_start) there is nobody to stop.
 */
void panic_stop_others(void);

/*
 * From the NMI handler: if a panic is stopping the CPUs, halt this one for
 * good (never returns); else return 0 (an NMI of another kind).
 */
int panic_nmi(void);

/* 1 once a CPU has begun to panic (its message may not be out yet). */
int panic_in_progress(void);

/* 1 on the CPU that is panicking (it may take any lock: its holder is stopped). */
int panic_this_cpu(void);

/* Online CPUs other than the panicking one that have not confirmed they stopped. */
unsigned panic_cpus_running(void);

/* CPUs that panicked while another did, and so halted in panic_stop_others without a word. */
unsigned panic_cpus_lost_race(void);

/* With several CPUs, a line: which CPU panics, and whether the others stopped (which did not). */
void panic_say_where(void);

/*
 * Tests: fn runs on the panicking CPU after its message, the others
 * stopped, instead of halting; it may only leave (qemu_exit).  NULL removes it.
 */
void panic_set_hook(void (*fn)(void));
void panic_run_hook(void);

#endif /* ARCH_X86_PANIC_H */

/*
 * smp.h - several CPUs: starting the application processors, the per-CPU
 * data block, running work on another CPU, and TLB shootdown
 * (arch/x86/smp.c, the trampoline in arch/x86/trampoline.S, the local APIC
 * in arch/x86/lapic.c).
 *
 * CPU indexes are dense: the BSP is 0, the APs 1..n-1 in the order they came
 * up (include/glue.h's glue_cpu_id).  Each CPU's %fs holds a segment whose
 * base is its own struct cpu (arch/x86/gdt.c), so "who am I" is one load,
 * valid from the AP's first protected-mode instruction on.
 */
#ifndef ARCH_X86_SMP_H
#define ARCH_X86_SMP_H

#include <stddef.h>
#include <stdint.h>

#include "cpus.h"

struct cpu {
    uint32_t index;                      /* %fs:0: this CPU's dense index (keep first) */
    uint32_t apic_id;                    /* its local APIC id */
    volatile uint32_t online;            /* 1 once it runs the kernel (paging on) */
    volatile uint32_t shootdowns;        /* TLB shootdown requests it answered */
    volatile uint32_t fences;            /* fence requests it answered (smp_fence_cpus) */
    volatile uint32_t shootdown_pending; /* a request waits for this CPU */
    volatile uint32_t idle;              /* an AP between works: shootdowns deferred */
    volatile uint32_t flush_on_wake;     /* one was: flush the whole TLB before working */
    volatile uint32_t lazy_flushes;      /* how often that happened */
    void (*volatile work)(void *);       /* smp_run: what to run next (APs) */
    void *volatile work_arg;
    uint32_t kstack_top; /* its kernel stack (kstack_alloc) */
} __attribute__((aligned(64)));

extern struct cpu smp_cpus[KERNEL_MAX_CPUS];
extern volatile int glue_percpu_ready; /* the BSP's %fs is loaded (gdt_init) */

/* This CPU's index: %fs:0 (only once glue_percpu_ready; glue_cpu_id checks). */
static inline unsigned smp_cpu_index(void)
{
    unsigned id;
    __asm__ volatile("movl %%fs:0, %0" : "=r"(id));
    return id;
}

/*
 * What the kernel tells smp_start of its boot (arch/x86 reads no loader's
 * structure itself): the physical ranges the loader's information occupies,
 * which the trampoline page must not overlap (each named for the refusal's
 * line), and an APIC id that gets no SIPI, as a dead AP would (the test
 * kernel's boot option smpmute1; -1: none).
 */
#define SMP_BOOT_RANGES 4
typedef struct {
    uint32_t base, len;
    const char *what; /* "the multiboot information is there", ... */
} smp_range_t;
typedef struct {
    smp_range_t taken[SMP_BOOT_RANGES];
    unsigned ntaken;
    int mute_apic_id;
} smp_boot_t;

/*
 * Find the CPUs (cpu_discover), map the local APIC and start every AP the
 * tables name.  Call once, on the BSP, with paging on and kstack_alloc
 * working.  Prints one line per CPU (index, APIC id) and one per AP that did
 * not answer (skipped).  With one CPU (or no tables) it only says so.
 * `boot` may be NULL (nothing taken, no AP muted).  Returns the number of
 * CPUs online, BSP included.
 */
unsigned smp_start(const cpu_topology_t *topology, const smp_boot_t *boot);

/* CPUs online (BSP included; 1 before smp_start). */
unsigned smp_cpu_count(void);
/* CPUs the tables named (1 without tables or without a usable local APIC). */
unsigned smp_cpus_listed(void);
/* APs the tables named that did not come up (reported and skipped). */
unsigned smp_cpus_skipped(void);

/*
 * Run fn(arg) on AP `cpu` (1..smp_cpu_count()-1), which must be idle; it runs
 * there with interrupts on.  smp_wait returns when it has returned (spinning,
 * answering shootdowns meanwhile).  -1 (and a line) for a CPU that is not an
 * online AP or is busy.
 */
int smp_run(unsigned cpu, void (*fn)(void *), void *arg);
void smp_wait(unsigned cpu);

/*
 * TLB shootdown.  smp_tlb_shootdown: this CPU has flushed [virt, virt + pages
 * * 4096); flush it on every other online CPU (an IPI, or their own polling
 * while they spin) and return when all have acknowledged; invlpg page by
 * page, a CR3 reload above SMP_SHOOTDOWN_FULL pages.  Returns the number of
 * CPUs interrupted (0 on one CPU).  Any context, interrupts on or off.
 * An idle AP (halted between works, touching nothing but its stack and the
 * kernel image, which are never unmapped) is not interrupted: it is told to
 * reload CR3 before its next work (lazy TLB), and not counted.
 * smp_poll_shootdown: answer a request pending for this CPU, if any (every
 * spin loop of the kernel calls it: glue_cpu_relax).
 */
#define SMP_SHOOTDOWN_FULL 32
unsigned smp_tlb_shootdown(uintptr_t virt, size_t pages);
void smp_poll_shootdown(void);

/*
 * A full memory barrier on every other online CPU that is not idle, answered
 * as a shootdown is (an IPI, or the CPU's polling while it spins): mm/'s
 * glue_fence_cpus (arch/x86/glue.c).  Returns the number of CPUs asked.
 */
unsigned smp_fence_cpus(void);
extern volatile uint32_t smp_fences; /* the fences that asked a CPU (counted under its lock) */

/* A pause in a spin loop that also answers shootdowns. */
void smp_relax(void);

/* The vectors of the IPIs (arch/x86/smp_isr.S). */
#define SMP_VECTOR_SHOOTDOWN 0xF0
#define SMP_VECTOR_WAKE      0xF1
#define SMP_VECTOR_SPURIOUS  0xFF

#endif /* ARCH_X86_SMP_H */

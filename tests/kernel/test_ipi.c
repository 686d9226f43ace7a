/*
 * test_ipi.c (kernel) - when the BSP answers another CPU's TLB shootdown.
 *
 * CPU 1 asks for a shootdown while the BSP runs a loop that neither spins
 * for a lock nor polls (smp_poll_shootdown): a plain counter.
 *
 *   ipi_bsp_interrupts_off   interrupts off: the request waits, unanswered,
 *                            until the BSP polls (here: one smp_relax)
 *   ipi_bsp_interrupts_on    interrupts on, as the kernel runs once the
 *                            local APIC is up (the 8259s masked): the IPI's
 *                            handler answers it in the middle of the loop,
 *                            and CPU 1's request returns before it ends
 *
 * With one CPU both only check that a shootdown asks nobody.
 */
#include "cpu.h"
#include "ktest.h"
#include "smp.h"
#include "vmalloc.h"

#define LOOP_LIMIT 200000000u

static volatile uint32_t req_go, req_done, req_asked;

/* On CPU 1: one shootdown of a vmalloc page, when told. */
static void request(void *unused)
{
    (void)unused;
    while (!req_go)
        __asm__ volatile("rep; nop" : : : "memory");
    req_asked = smp_tlb_shootdown(VMALLOC_START, 1);
    req_done = 1;
}

static int start_request(void)
{
    req_go = req_done = req_asked = 0;
    return smp_run(1, request, NULL);
}

static void ipi_bsp_interrupts_off(void)
{
    if (smp_cpu_count() < 2) {
        KT_ASSERT(smp_tlb_shootdown(VMALLOC_START, 1) == 0);
        return;
    }
    uint32_t flags = read_eflags();
    cli();
    uint32_t before = smp_cpus[0].shootdowns;
    KT_ASSERT(start_request() == 0);
    req_go = 1;
    /* wait (not polling) until CPU 1 has asked us, then a while longer */
    uint32_t i = 0, seen_at = 0;
    for (; i < LOOP_LIMIT; i++) {
        if (!seen_at && smp_cpus[0].shootdown_pending)
            seen_at = i;
        if (seen_at && i - seen_at > 2000000u)
            break;
    }
    int unanswered = smp_cpus[0].shootdowns == before && !req_done && smp_cpus[0].shootdown_pending;
    smp_relax(); /* a spin loop's poll answers it */
    int answered = smp_cpus[0].shootdowns == before + 1;
    smp_wait(1);
    if (flags & EFLAGS_IF)
        sti();
    KT_ASSERT(seen_at != 0);
    KT_ASSERT(unanswered);
    KT_ASSERT(answered);
    KT_ASSERT(req_done && req_asked >= 1);
}

static void ipi_bsp_interrupts_on(void)
{
    if (smp_cpu_count() < 2) {
        KT_ASSERT(smp_tlb_shootdown(VMALLOC_START, 1) == 0);
        return;
    }
    uint32_t flags = read_eflags();
    KT_ASSERT(flags & EFLAGS_IF); /* the kernel runs with interrupts on (kernel/main.c) */
    uint32_t before = smp_cpus[0].shootdowns;
    KT_ASSERT(start_request() == 0);
    sti();
    req_go = 1;
    /* a plain loop: only the IPI's handler can answer CPU 1 while it runs */
    uint32_t i = 0;
    while (i < LOOP_LIMIT && !req_done)
        i++;
    cli();
    uint32_t after = smp_cpus[0].shootdowns;
    int done_in_loop = req_done;
    smp_wait(1);
    if (flags & EFLAGS_IF)
        sti();
    kprintf("    CPU 1's shootdown answered by the BSP's IPI handler after %u loop rounds\n", i);
    KT_ASSERT(done_in_loop);
    KT_ASSERT(i < LOOP_LIMIT);
    KT_ASSERT(after == before + 1);
    KT_ASSERT(req_asked >= 1);
}

const struct ktest ktest_ipi[] = {
    {"ipi: interrupts off, the BSP answers a shootdown only when it polls", ipi_bsp_interrupts_off},
    {"ipi: interrupts on, the BSP's IPI handler answers a shootdown at once",
     ipi_bsp_interrupts_on},
    {NULL, NULL},
};

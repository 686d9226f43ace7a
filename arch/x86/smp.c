/*
 * smp.c - the application processors: started, given work, and kept
 * consistent with the BSP's page tables (TLB shootdown).
 *
 * Start-up (smp_start, on the BSP, paging on):
 *   1. the local APIC mapped (lapic.c), enabled, the BSP's APIC id read;
 *      gates for the IPI vectors in the shared IDT
 *   2. the trampoline copied to its page below 1 MB (trampoline.h: the PMM
 *      withholds the whole first 1 MB; we check that the loader's
 *      information, as the kernel names it in smp_boot_t, is not there)
 *   3. for each AP the tables name, in their order, as index n (the next
 *      free one): a kernel stack and a double-fault stack from kstack_alloc
 *      (guard page below each), its own GDT with its TSS, double-fault task
 *      and data block (gdt_prepare_cpu), the GDT's pointer written into the
 *      trampoline copy; then the SDM / MP spec sequence INIT, 10 ms, SIPI,
 *      200 us, SIPI (only if it is not up yet), all timed by the PIT; then
 *      up to 1 s for it to say it is online.  An AP that does not is
 *      reported in one line, parked again with INIT, and skipped: its index
 *      goes to the next AP, and its stacks stay allocated (a late AP could
 *      still be on them).
 *   4. the AP (smp_ap_main): TR, the IDT, its APIC enabled, online; then it
 *      idles: sti; hlt until smp_run gives it work (the wake IPI).
 *
 * TLB shootdown: one request at a time (sd_lock), its range in sd_virt /
 * sd_pages, a pending flag in each target's struct cpu and a counter of the
 * acknowledgements still missing (sd_acks, decremented with lock decl: no
 * xadd or cmpxchg on a 486).  A target answers from the IPI's handler when
 * its interrupts are on, and from smp_poll_shootdown in every spin loop when
 * they are off (glue_spin_lock, the console lock, smp_wait, the requester's
 * own wait for sd_lock): a CPU waiting for a lock that the requester holds
 * (mm/'s lock) still answers, so the requester never waits for it forever.
 * The flag is taken with xchg, so an IPI that interrupts a poll on the same
 * CPU cannot answer twice.
 *
 * A fence (smp_fence_cpus, mm/glue.h's glue_fence_cpus) is the same request
 * with no page (sd_pages 0): a target's answer, an xchg and a lock decl, is
 * the full barrier asked for; it counts in the target's `fences`, not its
 * `shootdowns`.  An idle AP is not asked: the requester's xchg of sd_lock
 * comes before its read of `idle`, and the AP's xchg of `idle` before its
 * next work, so either the requester sees it busy (and asks it) or the AP's
 * work sees whatever the requester wrote before the fence.  With one CPU
 * online, or on the CPU that panicked (the others are stopped), it asks
 * nobody.
 *
 * Lazy TLB: an AP waiting for work (idle = 1) is not interrupted; the
 * requester sets its flush_on_wake, and the AP, before it starts a work,
 * clears idle and then reads flush_on_wake (a CR3 reload if set).  Both
 * sides use xchg (a full barrier), Dekker-style: the requester sets the flag
 * and then reads idle again, so either it sees the AP busy (and sends the
 * IPI) or the AP sees the flag.  Without this each page unmapped at -smp 8
 * would wake seven halted CPUs.
 */
#include "smp.h"

#include "console.h"
#include "cpu.h"
#include "gdt.h"
#include "glue.h"
#include "idt.h"
#include "kstring.h"
#include "lapic.h"
#include "panic.h"
#include "segment.h"
#include "trampoline.h"
#include "vmalloc.h"

#define AP_STACK_SIZE         (32 * 1024)
#define AP_DOUBLE_FAULT_STACK (16 * 1024)
#define AP_ANSWER_MS          1000u
#define SHOOTDOWN_SPIN_LIMIT  200000000u

struct cpu smp_cpus[KERNEL_MAX_CPUS];
volatile int glue_percpu_ready;

/* The trampoline's parameters (read by the AP in protected mode, trampoline.S). */
uint32_t smp_ap_cr3, smp_ap_stack_top;
static volatile int ap_expected = -1; /* the index the AP being started must have */

static volatile unsigned online_count = 1;
static unsigned cpus_listed = 1; /* what the tables named */
static unsigned cpus_skipped;    /* APs that did not answer */

extern const char smp_trampoline[], smp_trampoline_end[], smp_trampoline_gdtr[];
void smp_shootdown_entry(void), smp_wake_entry(void), smp_spurious_entry(void);
void smp_shootdown_interrupt(void), smp_wake_interrupt(void);
__attribute__((noreturn)) void smp_ap_main(void);

unsigned smp_cpu_count(void)
{
    return online_count;
}

unsigned smp_cpus_listed(void)
{
    return cpus_listed;
}

unsigned smp_cpus_skipped(void)
{
    return cpus_skipped;
}

void smp_relax(void)
{
    smp_poll_shootdown();
    __asm__ volatile("rep; nop" : : : "memory"); /* pause; under QEMU TCG it yields the vCPU */
}

/* ---------------------------------------------------------- shootdown ---- */

static volatile uint32_t sd_lock;
static volatile uintptr_t sd_virt;
static volatile uint32_t sd_pages;
static volatile uint32_t sd_acks;
volatile uint32_t smp_fences;

static uint32_t xchg(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
}

static void flush_range(uintptr_t virt, uint32_t pages)
{
    if (pages > SMP_SHOOTDOWN_FULL) {
        write_cr3(read_cr3()); /* every non-global entry: we use no global pages */
        return;
    }
    for (uint32_t i = 0; i < pages; i++)
        flush_tlb_single(virt + i * 4096u); /* invlpg: the one place it may be (boot-check) */
}

void smp_poll_shootdown(void)
{
    if (online_count <= 1 || !glue_percpu_ready)
        return;
    struct cpu *c = &smp_cpus[smp_cpu_index()];
    if (!c->shootdown_pending || !xchg(&c->shootdown_pending, 0))
        return;
    if (sd_pages) {
        flush_range(sd_virt, sd_pages);
        c->shootdowns++;
    } else {
        c->fences++; /* the xchg above was the barrier */
    }
    __asm__ volatile("lock; decl %0" : "+m"(sd_acks) : : "memory");
}

void smp_shootdown_interrupt(void)
{
    smp_poll_shootdown();
    lapic_eoi();
}

void smp_wake_interrupt(void)
{
    lapic_eoi(); /* only to leave hlt: the idle loop looks at its work */
}

/*
 * A request to every other online CPU that is not idle, answered by each
 * before this returns: flush [virt, + pages pages), or a fence (pages 0).
 * Returns the number of CPUs asked.
 */
static unsigned request_all(uintptr_t virt, uint32_t pages)
{
    uint32_t flags = read_eflags();
    cli();
    unsigned me = smp_cpu_index(), n = 0;

    while (xchg(&sd_lock, 1))
        smp_relax(); /* the holder may be waiting for us */
    sd_virt = virt;
    sd_pages = pages;
    uint8_t target[KERNEL_MAX_CPUS] = {0};
    for (unsigned i = 0; i < online_count; i++) {
        struct cpu *c = &smp_cpus[i];
        if (i == me || !c->online)
            continue;
        if (c->idle) {
            if (!pages)
                continue; /* a fence: see above */
            xchg(&c->flush_on_wake, 1);
            if (c->idle)
                continue; /* it reloads CR3 before its next work */
        }
        target[i] = 1;
        n++;
    }
    sd_acks = n;
    if (!pages && n)
        smp_fences++;
    for (unsigned i = 0; i < online_count; i++) {
        if (!target[i])
            continue;
        smp_cpus[i].shootdown_pending = 1;
        lapic_send_fixed(smp_cpus[i].apic_id, SMP_VECTOR_SHOOTDOWN);
    }
    for (uint32_t spins = 0; sd_acks; spins++) {
        if (spins == SHOOTDOWN_SPIN_LIMIT) {
            kprintf("smp: %s of 0x%08x (+%u pages) from CPU %u: no answer from CPUs",
                    pages ? "TLB shootdown" : "fence", (uint32_t)virt, pages, me);
            for (unsigned i = 0; i < online_count; i++)
                if (smp_cpus[i].shootdown_pending)
                    kprintf(" %u", i);
            kprintf("\n");
            glue_panic(pages ? "smp: a TLB shootdown was never acknowledged"
                             : "smp: a fence was never acknowledged");
        }
        __asm__ volatile("rep; nop" : : : "memory");
    }
    sd_lock = 0;
    if (flags & EFLAGS_IF)
        sti();
    return n;
}

unsigned smp_tlb_shootdown(uintptr_t virt, size_t pages)
{
    if (online_count <= 1 || pages == 0)
        return 0;
    return request_all(virt, pages > 0xFFFFFFFFu / 4096u ? 0xFFFFFFFFu / 4096u : (uint32_t)pages);
}

unsigned smp_fence_cpus(void)
{
    if (online_count <= 1 || panic_this_cpu())
        return 0;
    return request_all(0, 0);
}

/* ---------------------------------------------------------------- work ---- */

int smp_run(unsigned cpu, void (*fn)(void *), void *arg)
{
    if (cpu == 0 || cpu >= online_count || !smp_cpus[cpu].online) {
        kprintf("smp_run: CPU %u is not an online AP (%u CPUs online)\n", cpu, online_count);
        return -1;
    }
    struct cpu *c = &smp_cpus[cpu];
    if (c->work) {
        kprintf("smp_run: CPU %u is busy\n", cpu);
        return -1;
    }
    c->work_arg = arg;
    __asm__ volatile("" : : : "memory");
    c->work = fn;
    lapic_send_fixed(c->apic_id, SMP_VECTOR_WAKE);
    return 0;
}

void smp_wait(unsigned cpu)
{
    if (cpu >= KERNEL_MAX_CPUS)
        return;
    while (smp_cpus[cpu].work)
        smp_relax();
}

__attribute__((noreturn)) static void ap_idle(struct cpu *c)
{
    for (;;) {
        cli();
        void (*fn)(void *) = c->work;
        if (fn) {
            xchg(&c->idle, 0); /* then the flag: see "Lazy TLB" above */
            if (xchg(&c->flush_on_wake, 0)) {
                write_cr3(read_cr3());
                c->lazy_flushes++;
            }
            sti();
            fn(c->work_arg);
            cli();
            __asm__ volatile("" : : : "memory");
            c->work = 0;
            xchg(&c->idle, 1);
            continue;
        }
        /* sti's one-instruction shadow: a wake IPI sent after the check ends this hlt */
        __asm__ volatile("sti; hlt" : : : "memory");
    }
}

__attribute__((noreturn)) void smp_ap_main(void)
{
    struct cpu *c = &smp_cpus[smp_cpu_index()];

    if ((int)c->index != ap_expected) /* a late AP after its timeout: stay out */
        cpu_halt_forever();
    gdt_load_task();
    idt_load();
    lapic_enable(SMP_VECTOR_SPURIOUS);
    c->apic_id = lapic_id();
    c->idle = 1; /* its TLB is fresh: nothing to flush before its first work */
    __asm__ volatile("" : : : "memory");
    c->online = 1;
    ap_idle(c);
}

/* ------------------------------------------------------------ start-up ---- */

static int overlaps(uint32_t base, uint32_t len)
{
    return len && base < SMP_TRAMPOLINE_PHYS + 4096u && base + len > SMP_TRAMPOLINE_PHYS;
}

/* The loader's information (as the kernel told it) must not be where the trampoline goes. */
static const char *trampoline_page_taken(const smp_boot_t *boot)
{
    uint32_t tramp_len = (uint32_t)(smp_trampoline_end - smp_trampoline);

    if (tramp_len > 4096u)
        return "the trampoline is larger than a page";
    for (unsigned i = 0; boot && i < boot->ntaken && i < SMP_BOOT_RANGES; i++) {
        if (overlaps(boot->taken[i].base, boot->taken[i].len))
            return boot->taken[i].what;
    }
    return NULL;
}

/* Wait up to ms for the AP to come online (PIT steps of 10 ms). */
static int wait_online(struct cpu *c, uint32_t ms)
{
    for (uint32_t step = 0; step < ms / 10u; step++) {
        pit_start(10000);
        while (!pit_expired()) {
            if (c->online)
                return 1;
            __asm__ volatile("rep; nop");
        }
    }
    return c->online;
}

static int start_ap(unsigned index, uint32_t apic_id, int mute_apic_id)
{
    struct cpu *c = &smp_cpus[index];
    vaddr_t stack = kstack_alloc(AP_STACK_SIZE), df = kstack_alloc(AP_DOUBLE_FAULT_STACK);

    if (!stack || !df) {
        kprintf("[boot] smp: no kernel stack for the AP with APIC id %u; not started\n", apic_id);
        if (stack)
            kstack_free(stack);
        if (df)
            kstack_free(df);
        return -1;
    }
    *c = (struct cpu){.index = index, .apic_id = apic_id, .kstack_top = stack};
    gdt_prepare_cpu(index, df);
    gdt_register(index,
                 (struct descriptor_table_register *)(SMP_TRAMPOLINE_PHYS +
                                                      (smp_trampoline_gdtr - smp_trampoline)));
    smp_ap_cr3 = read_cr3();
    smp_ap_stack_top = stack;
    ap_expected = (int)index;
    __asm__ volatile("" : : : "memory");

    if (lapic_send_init(apic_id) != 0)
        return -1;
    pit_delay_us(10000);
    /* the test kernel's boot option smpmute1 (tools/run-smp-tests.sh): no SIPI, as a dead AP */
    int mute = (int)apic_id == mute_apic_id;
    for (int sipi = 0; sipi < 2 && !c->online && !mute; sipi++) {
        if (lapic_send_startup(apic_id, SMP_TRAMPOLINE_PHYS) != 0)
            break;
        pit_delay_us(200);
    }
    if (wait_online(c, AP_ANSWER_MS))
        return 0;
    kprintf("[boot] smp: the AP with APIC id %u did not answer within %u ms; skipped\n", apic_id,
            AP_ANSWER_MS);
    ap_expected = -1;
    lapic_send_init(apic_id); /* back to waiting for a SIPI */
    return -1;
}

unsigned smp_start(const cpu_topology_t *t, const smp_boot_t *boot)
{
    struct cpu *bsp = &smp_cpus[0];

    bsp->index = 0;
    bsp->online = 1;
    bsp->kstack_top = 0;
    if (!t || t->count == 0 || t->count > KERNEL_MAX_CPUS || !t->lapic_phys) {
        kprintf("[boot] smp: one CPU (%s): no local APIC used\n",
                t && t->source ? t->source : "no CPU tables");
        return 1;
    }
    if (!cpu_has_apic()) {
        kprintf("[boot] smp: the %s names %u CPU%s, but CPUID shows no local APIC here; one CPU\n",
                t->source, t->count, t->count == 1 ? "" : "s");
        return 1;
    }
    if (lapic_map(t->lapic_phys) != 0)
        return 1;
    cpus_listed = t->count;
    lapic_enable(SMP_VECTOR_SPURIOUS);
    bsp->apic_id = lapic_id();
    idt_set_interrupt_gate(SMP_VECTOR_SHOOTDOWN, smp_shootdown_entry);
    idt_set_interrupt_gate(SMP_VECTOR_WAKE, smp_wake_entry);
    idt_set_interrupt_gate(SMP_VECTOR_SPURIOUS, smp_spurious_entry);
    kprintf("[boot] smp: %u CPU%s in the %s, local APIC at 0x%08x; CPU 0: APIC id %u (BSP)\n",
            t->count, t->count == 1 ? "" : "s", t->source, t->lapic_phys, bsp->apic_id);

    const char *taken = t->count > 1 ? trampoline_page_taken(boot) : NULL;
    if (taken) {
        kprintf("[boot] smp: trampoline page 0x%05x: %s; the APs stay off\n", SMP_TRAMPOLINE_PHYS,
                taken);
        return 1;
    }
    if (t->count > 1)
        memcpy((void *)SMP_TRAMPOLINE_PHYS, smp_trampoline,
               (size_t)(smp_trampoline_end - smp_trampoline));

    unsigned n = 1;
    for (unsigned i = 0; i < t->count && n < KERNEL_MAX_CPUS; i++) {
        uint32_t id = t->cpu[i].apic_id;
        if (t->cpu[i].bsp || id == bsp->apic_id)
            continue;
        if (start_ap(n, id, boot ? boot->mute_apic_id : -1) != 0) {
            cpus_skipped++;
            continue;
        }
        kprintf("[boot] smp: CPU %u: APIC id %u online, kernel stack 0x%08x-0x%08x\n", n, id,
                smp_cpus[n].kstack_top - AP_STACK_SIZE, smp_cpus[n].kstack_top - 1);
        n++;
        online_count = n;
    }
    ap_expected = -1;
    if (t->count > 1)
        kprintf("[boot] smp: %u of %u CPUs online\n", n, t->count);
    return n;
}

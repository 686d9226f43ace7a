/*
 * smp.c - the embedding test kernel's two CPUs: local APIC, IDT, spinlock,
 * starting the AP, and TLB shootdown.
 *
 * The AP: QEMU (-smp 2,sockets=2) gives the BSP APIC id 0 and the second
 * CPU APIC id 1.  We assume exactly that instead of reading the MP table:
 * the BSP sends INIT-SIPI-SIPI to "the other id" (1 if we are 0, else 0).
 *
 * TLB shootdown (smp_shootdown, for mm/'s glue_tlb_shootdown, after its
 * glue_kunmaps flushed this CPU): one request at a time (its only caller
 * holds mm/'s lock), as a generation number and a run of pages:
 *
 *   requester                          the other CPU
 *   (glue_kunmap: invlpg here)         (running, IF=1)   (spinning, IF=0)
 *   shoot.addr, .pages = run; gen++    IPI 0xF0 arrives  spin_acquire's
 *   IPI 0xF0 to the other CPU          -> smp_poll       wait calls
 *   wait until done[other] == gen      (invlpg, ack)     smp_poll
 *
 * A CPU that waits for a lock with interrupts off cannot take the IPI, and
 * the requester waits with interrupts off too (mm/'s lock is held): so every
 * spin loop in this kernel (spin_acquire, the requester's own wait) answers a
 * pending request itself.  That is the whole handshake: the IPI for a CPU
 * that is running, the poll for one that is waiting.  A CPU that never
 * answers (halted with interrupts off) is reported after ~1 s of spinning.
 */
#include "embed.h"

#define LAPIC_ID     0x020
#define LAPIC_TPR    0x080
#define LAPIC_EOI    0x0B0
#define LAPIC_SVR    0x0F0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_BUSY     (1u << 12)
#define ICR_INIT     0x00004500u
#define ICR_SIPI     0x00004600u
#define ICR_FIXED    0x00004000u

static volatile uint32_t *lapic_reg(unsigned off)
{
    return (volatile uint32_t *)(EMBED_LAPIC + off);
}

int lapic_id(void)
{
    return (int)(*lapic_reg(LAPIC_ID) >> 24);
}

void lapic_init(void)
{
    *lapic_reg(LAPIC_TPR) = 0;
    *lapic_reg(LAPIC_SVR) = 0x100 | EMBED_VEC_SPUR; /* software enable */
}

static void lapic_ipi(int dest, uint32_t icr)
{
    while (*lapic_reg(LAPIC_ICR_LO) & ICR_BUSY)
        cpu_relax();
    *lapic_reg(LAPIC_ICR_HI) = (uint32_t)dest << 24;
    *lapic_reg(LAPIC_ICR_LO) = icr;
    while (*lapic_reg(LAPIC_ICR_LO) & ICR_BUSY)
        cpu_relax();
}

/* ---- spinlock ---- */
void spin_acquire(spinlock_t *l)
{
    for (;;) {
        uint32_t v = 1;
        __asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(l->taken) : : "memory");
        if (!v)
            return;
        while (l->taken) {
            smp_poll();
            cpu_relax();
        }
    }
}

void spin_release(spinlock_t *l)
{
    __asm__ volatile("" ::: "memory");
    l->taken = 0;
}

/* ---- TLB shootdown ---- */
static int bsp_id = -1;
volatile int ap_online;
static struct {
    volatile uintptr_t addr;
    volatile size_t pages;
    volatile uint32_t gen;
    volatile uint32_t done[2]; /* by CPU index: 0 the BSP, 1 the AP */
} shoot;

static int cpu_index(void)
{
    return lapic_id() == bsp_id ? 0 : 1;
}

void smp_poll(void)
{
    if (bsp_id < 0)
        return;
    int me = cpu_index();
    uint32_t g = shoot.gen;
    if (shoot.done[me] != g) {
        invlpg_run(shoot.addr, shoot.pages);
        shoot.done[me] = g;
    }
}

unsigned smp_shootdown(uintptr_t virt, size_t pages)
{
    if (!ap_online)
        return 0;
    int other = !cpu_index();
    shoot.addr = virt;
    shoot.pages = pages;
    __asm__ volatile("" ::: "memory");
    uint32_t g = ++shoot.gen;
    shoot.done[!other] = g; /* ours is done */
    lapic_ipi(other ? (bsp_id ^ 1) : bsp_id, ICR_FIXED | EMBED_VEC_SHOOT);
    for (uint32_t spins = 0; shoot.done[other] != g; spins++) {
        if (spins > 400000000u) {
            kprintf("embed: FAIL TLB shootdown of %p: CPU %d never answered\n", (void *)virt,
                    other);
            embed_exit(1);
        }
        cpu_relax();
    }
    return 1;
}

/* ---- IDT ---- */
struct gate {
    uint16_t off_lo, sel;
    uint8_t zero, type;
    uint16_t off_hi;
} __attribute__((packed));
static struct gate idt[256] __attribute__((aligned(8)));
static const uint8_t isr_vectors[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,    9,   10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20,   21,  22, 23,
                                      24, 25, 26, 27, 28, 29, 30, 31, 0xF0, 0xFF};
extern const uint32_t isr_table[], isr_table_end[];

struct isr_frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error, eip, cs, eflags;
};

void idt_init(void)
{
    _Static_assert(sizeof(isr_vectors) == 34, "one vector per stub");
    for (unsigned i = 0; i < sizeof(isr_vectors); i++) {
        uint32_t a = isr_table[i];
        struct gate *g = &idt[isr_vectors[i]];
        g->off_lo = (uint16_t)a;
        g->off_hi = (uint16_t)(a >> 16);
        g->sel = 0x08;
        g->type = 0x8E; /* present, ring 0, 32-bit interrupt gate */
    }
}

void idt_load(void)
{
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) p = {sizeof(idt) - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" : : "m"(p));
}

/*
 * Is virt mapped for this CPU right now (its TLB included)?  1 if a read of
 * it works, 0 if it page-faults: the fault handler recognises probe_insn,
 * clears EDX and steps over the 2-byte load.
 */
extern const char probe_insn[];
__attribute__((noinline)) int probe_read(uintptr_t virt)
{
    int ok;
    __asm__ volatile("movl $1, %0\n\t"
                     ".globl probe_insn\n"
                     "probe_insn:\n\t"
                     "movb (%1), %%al"
                     : "=&d"(ok)
                     : "c"(virt)
                     : "eax", "memory");
    return ok;
}

void isr_dispatch(struct isr_frame *f);
void isr_dispatch(struct isr_frame *f)
{
    if (f->vector == EMBED_VEC_SHOOT) {
        smp_poll();
        *lapic_reg(LAPIC_EOI) = 0;
        return;
    }
    if (f->vector == EMBED_VEC_SPUR)
        return;
    if (f->vector == 14 && f->eip == (uint32_t)probe_insn) {
        f->edx = 0;  /* probe_read's result: it faulted */
        f->eip += 2; /* over "movb (%ecx), %al" (8A 01) */
        return;
    }
    uint32_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    kprintf("embed: FAIL exception %u (error 0x%x) at eip %p, cr2 %p, on APIC id %d\n", f->vector,
            f->error, (void *)f->eip, (void *)cr2, lapic_id());
    embed_exit(1);
}

/* ---- the second CPU ---- */
extern const char ap_trampoline[], ap_trampoline_end[];
uint32_t ap_cr3, ap_stack_top;
static uint8_t ap_stack[16384] __attribute__((aligned(16)));

static void delay(unsigned n)
{
    for (volatile unsigned i = 0; i < n * 1000u; i++)
        cpu_relax();
}

int smp_start_ap(void)
{
    bsp_id = lapic_id();
    int ap = bsp_id ^ 1;
    memcpy((void *)EMBED_TRAMPOLINE, ap_trampoline, (size_t)(ap_trampoline_end - ap_trampoline));
    ap_cr3 = (uint32_t)kernel_pd;
    ap_stack_top = (uint32_t)(ap_stack + sizeof(ap_stack));
    lapic_ipi(ap, ICR_INIT);
    delay(10);
    for (int i = 0; i < 2 && !ap_online; i++) {
        lapic_ipi(ap, ICR_SIPI | (EMBED_TRAMPOLINE >> 12));
        delay(1);
    }
    for (unsigned spins = 0; !ap_online; spins++) {
        if (spins > 100000000u)
            return -1;
        cpu_relax();
    }
    return 0;
}

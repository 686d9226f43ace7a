/*
 * lapic.c - the local APIC: registers, IPIs; the PIT as our only clock.
 *
 * The APIC's 4 KB of registers sit at a physical address the CPU tables give
 * (0xFEE00000 as a rule).  After paging they are reached through a mapping
 * of our own: the page is mapped at the same virtual address (identity, in
 * the range "free for vmm_map_page" above the allocators' metadata).  The SDM
 * wants the page strong-uncacheable: PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH
 * (PCD|PWT, UC whatever the PAT holds), as for any device's registers.
 *
 * An ICR write (IPI) is two 32-bit stores: the destination in ICR high,
 * then the command in ICR low, which sends it.  Delivery status (bit 12)
 * says the APIC is still sending: we wait for it to clear, a bounded time.
 *
 *   ICR low:  vector 7:0, delivery mode 10:8 (000 fixed, 100 NMI, 101 INIT,
 *             110 start-up), 11 destination mode (0 physical), 12 busy,
 *             14 level (1 assert), 15 trigger (0 edge), 19:18 shorthand
 *             (00 the destination field, 11 all excluding self)
 *
 * The two 8259 PICs: the BIOS leaves the master's IRQs on vectors 8-15 with
 * the timer (IRQ0) unmasked, so on the BSP (whose APIC passes the PIC's
 * interrupt through, LINT0 in ExtINT mode) an sti would take the timer's
 * tick as vector 8, a "double fault".  We take no IRQ at all: pic_disable
 * moves them to 0x20-0x2F (no gate there: a stray one is a #GP that names
 * its vector) and masks every line.  Then interrupts on mean IPIs only.
 *
 * The PIT (8254) channel 2, gated by port 0x61 bit 0, its output read back
 * in port 0x61 bit 5, counts down 1193182 times a second in mode 0
 * (interrupt on terminal count): OUT2 goes high when the count reaches 0.
 */
#include "lapic.h"

#include "io.h"
#include "console.h"
#include "vmm.h"

#define LAPIC_ID     0x020
#define LAPIC_TPR    0x080
#define LAPIC_EOI    0x0B0
#define LAPIC_SVR    0x0F0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310

#define SVR_ENABLE       0x100u
#define ICR_FIXED        0x00000000u
#define ICR_NMI          0x00000400u
#define ICR_INIT         0x00000500u
#define ICR_STARTUP      0x00000600u
#define ICR_BUSY         0x00001000u
#define ICR_LEVEL_ASSERT 0x00004000u
#define ICR_ALL_BUT_SELF 0x000C0000u

#define PIC1_COMMAND 0x20
#define PIC1_DATA    0x21
#define PIC2_COMMAND 0xA0
#define PIC2_DATA    0xA1
#define PIC_ICW1     0x11 /* edge, cascade, ICW4 follows */
#define PIC_ICW4     0x01 /* 8086 mode */

#define PIT_HZ      1193182u
#define PIT_CH2     0x42
#define PIT_COMMAND 0x43
#define PIT_GATE    0x61
#define PIT_MAX_US  50000u

static volatile uint32_t *lapic_base;

static volatile uint32_t *reg(unsigned off)
{
    return (volatile uint32_t *)((uintptr_t)lapic_base + off);
}

int lapic_map(uint32_t phys)
{
    if (phys & 0xFFF) {
        kprintf("lapic: base 0x%08x is not page-aligned; no APIC\n", phys);
        return -1;
    }
    if (phys < MM_META_END || phys >= VMM_PT_WINDOW) {
        kprintf("lapic: base 0x%08x is not in 0x%08x-0x%08x, where we can map it at the same "
                "address; no APIC\n",
                phys, MM_META_END + 1, VMM_PT_WINDOW - 1);
        return -1;
    }
    if (vmm_get_physical(phys) != phys &&
        vmm_map(phys, phys,
                PAGE_PRESENT | PAGE_WRITABLE | PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH)) {
        kprintf("lapic: mapping 0x%08x failed (above); no APIC\n", phys);
        return -1;
    }
    lapic_base = (volatile uint32_t *)phys;
    return 0;
}

int lapic_ready(void)
{
    return lapic_base != 0;
}

void lapic_enable(uint8_t spurious)
{
    *reg(LAPIC_TPR) = 0;
    *reg(LAPIC_SVR) = SVR_ENABLE | spurious;
}

uint32_t lapic_id(void)
{
    return *reg(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
    *reg(LAPIC_EOI) = 0;
}

/* Wait for the previous IPI to leave; bounded (about a second of polls). */
static int icr_idle(void)
{
    for (uint32_t spins = 0; *reg(LAPIC_ICR_LO) & ICR_BUSY; spins++) {
        if (spins > 10000000u)
            return 0;
        __asm__ volatile("rep; nop");
    }
    return 1;
}

static int send(uint32_t apic_id, uint32_t command)
{
    if (!lapic_base)
        return -1;
    if (!icr_idle()) {
        kprintf("lapic: the APIC is still sending its last IPI; IPI 0x%05x to %u not sent\n",
                command, apic_id);
        return -1;
    }
    *reg(LAPIC_ICR_HI) = apic_id << 24;
    *reg(LAPIC_ICR_LO) = command;
    if (!icr_idle()) {
        kprintf("lapic: IPI 0x%05x to APIC id %u never left\n", command, apic_id);
        return -1;
    }
    return 0;
}

int lapic_send_init(uint32_t apic_id)
{
    return send(apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
}

int lapic_send_startup(uint32_t apic_id, uint32_t page_phys)
{
    return send(apic_id, ICR_STARTUP | ICR_LEVEL_ASSERT | ((page_phys >> 12) & 0xFF));
}

int lapic_send_fixed(uint32_t apic_id, uint8_t vector)
{
    return send(apic_id, ICR_FIXED | ICR_LEVEL_ASSERT | vector);
}

int lapic_send_nmi(uint32_t apic_id)
{
    return send(apic_id, ICR_NMI | ICR_LEVEL_ASSERT);
}

int lapic_send_nmi_others(void)
{
    return send(0, ICR_NMI | ICR_LEVEL_ASSERT | ICR_ALL_BUT_SELF); /* the shorthand: no id */
}

void pic_disable(void)
{
    static const struct {
        uint16_t port;
        uint8_t value;
    } seq[] = {
        {PIC1_COMMAND, PIC_ICW1}, {PIC2_COMMAND, PIC_ICW1}, /* ICW1: initialise both */
        {PIC1_DATA, 0x20},        {PIC2_DATA, 0x28},        /* ICW2: vector bases */
        {PIC1_DATA, 0x04},        {PIC2_DATA, 0x02},        /* ICW3: slave on IRQ2 */
        {PIC1_DATA, PIC_ICW4},    {PIC2_DATA, PIC_ICW4},    /* ICW4 */
        {PIC1_DATA, 0xFF},        {PIC2_DATA, 0xFF},        /* OCW1: every line masked */
    };
    for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        outb(seq[i].port, seq[i].value);
        io_wait(); /* an old 8259 needs a moment between writes */
    }
}

void pit_start(uint32_t us)
{
    if (us > PIT_MAX_US)
        us = PIT_MAX_US;
    uint32_t count = us * (PIT_HZ / 1000u) / 1000u + 1;          /* <= 59650: fits 16 bits */
    outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02u) | 0x01u)); /* gate on, speaker off */
    outb(PIT_COMMAND, 0xB0); /* channel 2, low then high byte, mode 0, binary */
    outb(PIT_CH2, (uint8_t)(count & 0xFF));
    outb(PIT_CH2, (uint8_t)(count >> 8));
}

int pit_expired(void)
{
    return (inb(PIT_GATE) & 0x20) != 0;
}

void pit_delay_us(uint32_t us)
{
    while (us) {
        uint32_t step = us > PIT_MAX_US ? PIT_MAX_US : us;
        pit_start(step);
        while (!pit_expired())
            __asm__ volatile("rep; nop");
        us -= step;
    }
}

/*
 * idt.c - the Interrupt Descriptor Table and the C side of exception handling.
 *
 * The IDT has all 256 slots but only the 32 exception vectors are present.
 * A stray `int n` or IRQ on any other vector therefore raises #GP with an
 * error code naming that vector, so it too ends in a diagnosis.
 *
 * isr_dispatch() is reached from isr.S with interrupts off.  It offers the
 * exception to the vector's fault hook (tests that provoke a fault on
 * purpose); otherwise it prints what the CPU told us - vector, error code
 * decoded, EIP/CS/EFLAGS, CR2 and the control registers, the general
 * registers, a frame-pointer backtrace - and halts with cli; hlt.  Before it
 * prints, it stops every other CPU (panic.c: an NMI, which lands here too,
 * on vector 2, and halts the CPU it reaches), so the diagnosis is the last
 * thing on the console.  It never returns into a faulting instruction it did
 * not fix, so an exception can neither loop nor escalate to a triple fault
 * (which QEMU would turn into a silent reboot or exit).
 *
 * For a page fault the diagnosis also asks the address describer (set by
 * the VMM: "NULL page", "unmapped heap page", ...) what lives at CR2.  A
 * hook may print the same diagnosis (idt_print_diagnosis) and then go its
 * own way.  A fault while a diagnosis is being printed (a describer walking
 * a broken page table, say) skips the hooks and halts after one line, so
 * hooks and describers are never re-entered.
 *
 * #DF is the exception: its gate is a task gate, so the CPU switches to the
 * double-fault task (gdt.c) with a stack of its own instead of pushing a
 * frame on the current stack.  That is what makes a kernel stack overflow
 * reportable: the overflow's #PF cannot push its frame on a stack that ran
 * into its guard page, the CPU raises #DF, and a #DF through an ordinary
 * gate would fault the same way and triple-fault.  double_fault_task prints
 * the diagnosis from the registers the CPU saved in the kernel's TSS (CR2 is
 * the guard page address; the describer names it) and halts.
 */
#include "idt.h"

#include "console.h"
#include "cpu.h"
#include "gdt.h"
#include "panic.h"
#include "segment.h"
#include "serial.h"

static struct idt_gate idt[256];
static fault_hook_t fault_hooks[IDT_EXCEPTIONS];
static idt_address_describer_t address_describer;
static volatile int diagnosing;     /* nonzero while printing a diagnosis */
static uint32_t stack_lo, stack_hi; /* the kernel stack once it left the boot stack */

extern const uint32_t isr_stub_table[IDT_EXCEPTIONS]; /* isr.S */
extern char boot_stack_bottom[], boot_stack_top[];    /* boot.S */

static const char *const exception_names[IDT_EXCEPTIONS] = {
    [0] = "#DE Divide Error",
    [1] = "#DB Debug",
    [2] = "NMI Non-Maskable Interrupt",
    [3] = "#BP Breakpoint",
    [4] = "#OF Overflow",
    [5] = "#BR BOUND Range Exceeded",
    [6] = "#UD Invalid Opcode",
    [7] = "#NM Device Not Available",
    [8] = "#DF Double Fault",
    [9] = "Coprocessor Segment Overrun",
    [10] = "#TS Invalid TSS",
    [11] = "#NP Segment Not Present",
    [12] = "#SS Stack-Segment Fault",
    [13] = "#GP General Protection",
    [14] = "#PF Page Fault",
    [16] = "#MF x87 Floating-Point Error",
    [17] = "#AC Alignment Check",
    [18] = "#MC Machine Check",
    [19] = "#XM SIMD Floating-Point",
    [20] = "#VE Virtualization",
    [21] = "#CP Control Protection",
    [28] = "#HV Hypervisor Injection",
    [29] = "#VC VMM Communication",
    [30] = "#SX Security",
};

const char *idt_exception_name(uint32_t vector)
{
    if (vector >= IDT_EXCEPTIONS)
        return "Interrupt";
    return exception_names[vector] ? exception_names[vector] : "Reserved";
}

static void set_gate(int vector, uint32_t handler)
{
    idt[vector] = (struct idt_gate){
        .offset_low = handler & 0xFFFF,
        .selector = KERNEL_CS,
        .zero = 0,
        .type_attr = GATE_PRESENT | GATE_DPL(0) | GATE_INTERRUPT_32,
        .offset_high = handler >> 16,
    };
}

static void set_task_gate(int vector, uint16_t tss_selector)
{
    idt[vector] = (struct idt_gate){
        .selector = tss_selector,
        .type_attr = GATE_PRESENT | GATE_DPL(0) | GATE_TASK,
    };
}

static void double_fault_task(void);

void idt_init(void)
{
    struct descriptor_table_register idtr;

    for (int v = 0; v < IDT_EXCEPTIONS; v++)
        set_gate(v, isr_stub_table[v]);
    gdt_set_double_fault_entry(double_fault_task);
    set_task_gate(8, TSS_DOUBLE_SEL);

    idtr.limit = sizeof(idt) - 1;
    idtr.base = (uint32_t)idt;
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void idt_load(void)
{
    struct descriptor_table_register idtr = {.limit = sizeof(idt) - 1, .base = (uint32_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void idt_set_interrupt_gate(int vector, void (*handler)(void))
{
    if (vector < IDT_EXCEPTIONS || vector > 255) {
        kprintf("idt_set_interrupt_gate: vector %d: not an interrupt vector (32..255)\n", vector);
        return;
    }
    set_gate(vector, (uint32_t)handler);
}

void idt_set_fault_hook(int vector, fault_hook_t hook)
{
    if (vector < 0 || vector >= IDT_EXCEPTIONS) {
        kprintf("idt_set_fault_hook: vector %d: not an exception vector\n", vector);
        return;
    }
    fault_hooks[vector] = hook;
}

static idt_page_fault_handler_t page_fault_handler;

void idt_set_page_fault_handler(idt_page_fault_handler_t fn)
{
    page_fault_handler = fn;
}

void idt_set_address_describer(idt_address_describer_t fn)
{
    address_describer = fn;
}

idt_address_describer_t idt_address_describer(void)
{
    return address_describer;
}

void idt_set_kernel_stack(uint32_t lo, uint32_t hi)
{
    stack_lo = lo;
    stack_hi = hi;
}

/* #PF: say what kind of access failed, in words (bits drawn in cpu.h), and what is there. */
static void explain_page_fault(uint32_t err)
{
    const char *access = "read";
    uint32_t cr2 = read_cr2();

    if (err & PF_IFETCH)
        access = "instruction fetch";
    else if (err & PF_WRITE)
        access = "write";
    kprintf("  page fault at CR2=0x%08x: %s, %s, %s mode%s\n", cr2,
            (err & PF_PRESENT) ? "protection violation" : "page not present", access,
            (err & PF_USER) ? "user" : "kernel",
            (err & PF_RESERVED) ? ", reserved bit set in a paging entry" : "");
    if (address_describer) {
        const char *what = address_describer(cr2);
        kprintf("  address: %s\n", what ? what : "(the describer does not know it)");
    }
}

/*
 * #TS #NP #SS #GP: a nonzero error code is a selector (or an IDT vector).
 *   bit 0 EXT (external event), bit 1 IDT, bit 2 TI (LDT), bits 3-15 index
 */
static void explain_selector_error(uint32_t err)
{
    if (err == 0)
        return;
    if (err & 0x2)
        kprintf("  caused by IDT vector %u (no handler installed)", (err >> 3) & 0x1FFF);
    else
        kprintf("  caused by %s selector 0x%04x", (err & 0x4) ? "LDT" : "GDT", err & 0xFFF8);
    kprintf("%s\n", (err & 0x1) ? " during an external event" : "");
}

/* Return addresses up the EBP chain, as long as it stays on the stack it starts on. */
static void print_backtrace(const struct interrupt_frame *f)
{
    uint32_t lo = (uint32_t)boot_stack_bottom, hi = (uint32_t)boot_stack_top;
    uint32_t ebp = f->ebp;
    if (stack_hi && ebp >= stack_lo && ebp < stack_hi)
        lo = stack_lo, hi = stack_hi;

    kprintf("  backtrace: 0x%08x", f->eip);
    for (int depth = 0; depth < 12; depth++) {
        if (ebp < lo || ebp > hi - 8 || (ebp & 3))
            break;
        const uint32_t *frame = (const uint32_t *)ebp;
        kprintf(" 0x%08x", frame[1]);
        if (frame[0] <= ebp) /* callers' frames are higher up: a loop otherwise */
            break;
        ebp = frame[0];
    }
    kprintf("\n");
}

/* #DF: the stack it left behind, and what CR2 says the last fault hit. */
static void explain_double_fault(uint32_t esp)
{
    uint32_t cr2 = read_cr2();

    kprintf("  handled by the double-fault task on its own stack; the interrupted ESP=0x%08x\n",
            esp);
    kprintf("  last page fault at CR2=0x%08x\n", cr2);
    if (address_describer) {
        const char *what = address_describer(cr2);
        kprintf("  address: %s\n", what ? what : "(the describer does not know it)");
    }
}

static void diagnose(const struct interrupt_frame *f, uint32_t esp)
{
    kprintf("\n*** CPU exception %u: %s, error code 0x%08x ***\n", f->vector,
            idt_exception_name(f->vector), f->error_code);
    if (f->vector == 14)
        explain_page_fault(f->error_code);
    else if (f->vector == 8)
        explain_double_fault(esp);
    else if (f->vector >= 10 && f->vector <= 13)
        explain_selector_error(f->error_code);
    kprintf("  EIP=0x%08x  CS=0x%04x  EFLAGS=0x%08x  CR2=0x%08x\n", f->eip, f->cs & 0xFFFF,
            f->eflags, read_cr2());
    kprintf("  EAX=0x%08x  EBX=0x%08x  ECX=0x%08x  EDX=0x%08x\n", f->eax, f->ebx, f->ecx, f->edx);
    kprintf("  ESI=0x%08x  EDI=0x%08x  EBP=0x%08x  ESP=0x%08x\n", f->esi, f->edi, f->ebp, esp);
    /* `push %ds` may leave the upper half of the slot as it was: mask it. */
    kprintf("  DS=0x%04x  ES=0x%04x  FS=0x%04x  GS=0x%04x\n", f->ds & 0xFFFF, f->es & 0xFFFF,
            f->fs & 0xFFFF, f->gs & 0xFFFF);
    uint32_t cr4;
    kprintf("  CR0=0x%08x  CR3=0x%08x", read_cr0(), read_cr3());
    if (cpu_read_cr4(&cr4)) /* a 486 may have no CR4: reading it would be #UD */
        kprintf("  CR4=0x%08x", cr4);
    kprintf("\n");
    print_backtrace(f);
}

void idt_print_diagnosis(const struct interrupt_frame *f)
{
    int outer = diagnosing;

    diagnosing = 1;
    /* Same-privilege exceptions push no ESP: the old stack is just above the frame. */
    diagnose(f, f->vector == 8 ? f->esp_at_pusha : (uint32_t)(f + 1));
    diagnosing = outer;
}

void isr_dispatch(struct interrupt_frame *f);

void isr_dispatch(struct interrupt_frame *f)
{
    if (f->vector == 2)
        panic_nmi(); /* another CPU panics: this one halts here, quietly */
    if (diagnosing) {
        /* The diagnosis itself faulted: trust nothing but the serial port. */
        static const char msg[] = "\n*** nested CPU exception while reporting one; halted\n";
        serial_write(msg, sizeof(msg) - 1);
        cpu_halt_forever();
    }

    /* a not-present page the memory manager can bring back (mm/zswap.c): run again */
    if (f->vector == 14 && page_fault_handler && page_fault_handler(read_cr2(), f->error_code))
        return;

    fault_hook_t hook = f->vector < IDT_EXCEPTIONS ? fault_hooks[f->vector] : NULL;
    if (hook && hook(f))
        return;

    panic_stop_others(); /* every other CPU halted first; a second one to fail halts in there */
    diagnosing = 1;
    diagnose(f, (uint32_t)(f + 1));
    panic_say_where();
    kprintf("System halted.\n");
    cpu_halt_forever();
}

/*
 * The double-fault task's entry point (gdt.c's TSS, the #DF task gate).  It
 * starts on its own stack with the CPU's error code (always 0) where a
 * return address would be, and never returns: the interrupted task's stack
 * is not to be trusted.  The frame it builds for the hook and the diagnosis
 * comes from the kernel's TSS, where the CPU saved every register; its
 * esp_at_pusha is the interrupted ESP.  A #DF hook (a test that overflows a
 * stack on purpose) runs after the diagnosis and may leave QEMU; whatever it
 * returns, the CPU halts.
 */
__attribute__((noreturn)) static void double_fault_task(void)
{
    const struct tss *t = gdt_interrupted_task();
    struct interrupt_frame f = {
        .gs = t->gs,
        .fs = t->fs,
        .es = t->es,
        .ds = t->ds,
        .edi = t->edi,
        .esi = t->esi,
        .ebp = t->ebp,
        .esp_at_pusha = t->esp,
        .ebx = t->ebx,
        .edx = t->edx,
        .ecx = t->ecx,
        .eax = t->eax,
        .vector = 8,
        .error_code = 0,
        .eip = t->eip,
        .cs = t->cs,
        .eflags = t->eflags,
    };

    panic_stop_others();
    diagnosing = 1; /* a fault from here on is nested: one line and halt */
    diagnose(&f, t->esp);
    panic_say_where();
    if (fault_hooks[8])
        fault_hooks[8](&f);
    kprintf("System halted.\n");
    cpu_halt_forever();
}

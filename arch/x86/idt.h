/*
 * idt.h - CPU exceptions: the Interrupt Descriptor Table and its handlers
 * (arch/x86/idt.c, arch/x86/isr.S).
 *
 * Every exception (vectors 0-31) stops the kernel with a diagnosis on the
 * console instead of a triple fault and a silent reboot.  A test that
 * *expects* a fault registers a hook for that vector first.  Interrupts
 * (IRQs) stay disabled: nothing here programs the PIC.
 */
#ifndef ARCH_X86_IDT_H
#define ARCH_X86_IDT_H

#include <stddef.h>
#include <stdint.h>

#define IDT_EXCEPTIONS 32 /* vectors 0-31 are reserved for CPU exceptions */

/*
 * The stack as isr.S leaves it when it calls the C handler, lowest address
 * first.  Handlers may modify it: isr.S restores every field on return.
 * There is no user ESP/SS: the kernel runs only in ring 0, where the CPU
 * pushes neither, and the interrupted ESP is simply the end of this frame.
 */
struct interrupt_frame {
    /* pushed by isr_common: segment registers, then pusha */
    uint32_t gs, fs, es, ds;
    uint32_t edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
    /* pushed by the stub */
    uint32_t vector;
    /* pushed by the CPU, or a 0 pushed by the stub where the CPU pushes none */
    uint32_t error_code;
    /* pushed by the CPU */
    uint32_t eip, cs, eflags;
};

/* isr.S pushes exactly this; change both together. */
_Static_assert(offsetof(struct interrupt_frame, edi) == 16, "interrupt_frame: pusha block");
_Static_assert(offsetof(struct interrupt_frame, vector) == 48, "interrupt_frame: vector");
_Static_assert(offsetof(struct interrupt_frame, eip) == 56, "interrupt_frame: CPU part");
_Static_assert(sizeof(struct interrupt_frame) == 68, "interrupt_frame size");

/* Install the IDT with handlers for the 32 exceptions. */
void idt_init(void);

/* Load the same IDT on this CPU (an AP: the IDT is shared). */
void idt_load(void);

/* An interrupt gate (IF cleared on entry) for vector 32..255 (the IPIs, arch/x86/smp.c). */
void idt_set_interrupt_gate(int vector, void (*handler)(void));

/*
 * A fault hook sees the frame of an exception on its vector.  Returning
 * nonzero means "handled": the faulting code resumes at f->eip, which the
 * hook may have moved past the faulting instruction.  Returning 0 falls
 * through to the diagnosis and halt.  Pass NULL to remove a hook.
 *
 * #DF (vector 8) is different: it runs in the double-fault task, on its own
 * stack, because the interrupted stack may be gone.  Its hook is called
 * after the diagnosis, with a frame built from the saved registers
 * (esp_at_pusha is the interrupted ESP), and the CPU halts after it: a hook
 * may only leave (qemu_exit), never resume.
 */
typedef int (*fault_hook_t)(struct interrupt_frame *f);
void idt_set_fault_hook(int vector, fault_hook_t hook);

/*
 * Print the standard diagnosis of an exception (what isr_dispatch prints
 * before it halts) and return: for a fault hook that wants the report and
 * then does something else, e.g. a test that expects the fault and leaves
 * QEMU with a pass status.
 */
void idt_print_diagnosis(const struct interrupt_frame *f);

/*
 * The address describer names what lives at a faulting address ("NULL
 * page", "unmapped heap page", ...; the VMM knows).  When one is set, the
 * #PF diagnosis prints "address: <what it says>" for CR2.  It runs inside
 * the exception handler: it must not fault, allocate or take locks.  NULL
 * removes it.
 */
/*
 * The page-fault handler (mm/zswap.c's zswap_fault): called first for every
 * #PF with CR2 and the error code; 1: handled (the page is there now, the
 * instruction runs again), 0: not its fault (the fault hook, then the
 * diagnosis).  It stays set while tests set and clear their #PF hooks.
 */
typedef int (*idt_page_fault_handler_t)(uint32_t addr, uint32_t err);
void idt_set_page_fault_handler(idt_page_fault_handler_t fn);

typedef const char *(*idt_address_describer_t)(uint32_t addr);
void idt_set_address_describer(const char *(*fn)(uint32_t addr));
/* The describer now set (NULL if none): to put it back after replacing it. */
idt_address_describer_t idt_address_describer(void);

/*
 * The stack the kernel runs on once it left the boot stack (a kernel stack
 * from kstack_alloc): the backtrace follows EBP chains within [lo, hi).
 */
void idt_set_kernel_stack(uint32_t lo, uint32_t hi);

/* "Page Fault" etc.; "Reserved" or "Interrupt" outside the known vectors. */
const char *idt_exception_name(uint32_t vector);

#endif /* ARCH_X86_IDT_H */

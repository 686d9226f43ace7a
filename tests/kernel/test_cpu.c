/*
 * test_cpu.c (kernel) - the machine the memory manager runs on: the CPU
 * check's decision, the IDT really dispatches exceptions (checked with a hook
 * that expects them), and the kernel image stays below the early heap.  (Not
 * #UD: KVM intercepts it and then fails to emulate our iret; TCG and real
 * CPUs do not care.)
 */
#include "cpu.h"
#include "idt.h"
#include "ktest.h"

extern char kernel_start[], kernel_end[];

static volatile uint32_t seen_vector = 0xFFFFFFFF;
static volatile uint32_t seen_eip;

/* Expect exactly the fault we provoke, then skip the 2-byte instruction. */
static int skip_two_bytes(struct interrupt_frame *f)
{
    seen_vector = f->vector;
    seen_eip = f->eip;
    f->eip += 2;
    return 1;
}

/* #BP is a trap: the CPU already points EIP past int3. */
static int note_breakpoint(struct interrupt_frame *f)
{
    seen_vector = f->vector;
    seen_eip = f->eip;
    return 1;
}

static void breakpoint_reaches_its_handler(void)
{
    idt_set_fault_hook(3, note_breakpoint);
    seen_vector = 0xFFFFFFFF;
    __asm__ volatile("int3");
    idt_set_fault_hook(3, NULL);
    KT_ASSERT(seen_vector == 3);
    KT_ASSERT(seen_eip >= (uint32_t)kernel_start && seen_eip < (uint32_t)kernel_end);
}

static volatile uint32_t seen_error;

static int note_gp(struct interrupt_frame *f)
{
    seen_error = f->error_code;
    return skip_two_bytes(f);
}

/* #GP pushes an error code: the selector we tried to load (0x1230, GDT, RPL 0). */
static void general_protection_carries_error_code(void)
{
    idt_set_fault_hook(13, note_gp);
    seen_vector = 0xFFFFFFFF;
    __asm__ volatile("mov $0x1230, %%ax; mov %%ax, %%fs" /* 8e e0: two bytes */ : : : "eax");
    idt_set_fault_hook(13, NULL);
    KT_ASSERT(seen_vector == 13);
    KT_ASSERT(seen_error == 0x1230);
}

static void divide_error_reaches_its_handler(void)
{
    idt_set_fault_hook(0, skip_two_bytes);
    seen_vector = 0xFFFFFFFF;
    /* div %ecx with ecx = 0 (f7 f1: two bytes) */
    __asm__ volatile("xor %%edx, %%edx; mov $1, %%eax; xor %%ecx, %%ecx; div %%ecx"
                     :
                     :
                     : "eax", "ecx", "edx");
    idt_set_fault_hook(0, NULL);
    KT_ASSERT(seen_vector == 0);
}

static void kernel_image_below_heap(void)
{
    KT_ASSERT((uintptr_t)kernel_start >= 0x100000);
    KT_ASSERT((uintptr_t)kernel_end <= HEAP_START);
}

/*
 * The CPU check's decision.  QEMU has no 386 model (and its 486 has CPUID),
 * so the refusal is tested here on the values a 386 gives, and the
 * detection itself only on what this CPU gives.
 */
static void a_386_is_refused(void)
{
    struct cpu_info i386 = {.has_ac = 0, .has_cpuid = 0, .family = 3};
    const char *why = cpu_refusal(&i386);
    KT_ASSERT(why != NULL);
    KT_ASSERT(kt_contains(why, "needs a 486 or later") && kt_contains(why, "this is a 386"));

    struct cpu_info i486 = {.has_ac = 1, .has_cpuid = 0, .family = 4};
    KT_ASSERT(cpu_refusal(&i486) == NULL);
    struct cpu_info pentium = {.has_ac = 1, .has_cpuid = 1, .family = 5, .vendor = "GenuineIntel"};
    KT_ASSERT(cpu_refusal(&pentium) == NULL);
}

/* Every CPU QEMU offers is a 486 or later with CPUID; detection leaves EFLAGS as it was. */
static void detection_sees_this_cpu(void)
{
    struct cpu_info c;
    uint32_t before = read_eflags();
    cpu_detect(&c);
    KT_ASSERT(((read_eflags() ^ before) & (EFLAGS_AC | EFLAGS_ID | EFLAGS_IF)) == 0);
    KT_ASSERT(c.has_ac && c.has_cpuid);
    KT_ASSERT(c.family >= 4 && c.max_leaf >= 1);
    KT_ASSERT(c.vendor[0] != '\0' && c.vendor[12] == '\0');
    KT_ASSERT(cpu_refusal(&c) == NULL);
    uint32_t cr4;
    KT_ASSERT(cpu_read_cr4(&cr4) == cpu_has_cr4());
}

const struct ktest ktest_cpu[] = {
    {"cpu: a 386 is refused, a 486 and later accepted", a_386_is_refused},
    {"cpu: detection sees this CPU, EFLAGS unchanged", detection_sees_this_cpu},
    {"cpu: #BP reaches its handler", breakpoint_reaches_its_handler},
    {"cpu: #GP carries its error code", general_protection_carries_error_code},
    {"cpu: #DE reaches its handler", divide_error_reaches_its_handler},
    {"cpu: kernel image below the heap", kernel_image_below_heap},
    {NULL, NULL},
};

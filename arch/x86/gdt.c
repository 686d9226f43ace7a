/*
 * gdt.c - a flat Global Descriptor Table.
 *
 *   index  selector  segment
 *   0      0x00      null (the CPU requires it; loading it faults on use)
 *   1      0x08      kernel code, ring 0, base 0, limit 4 GB, readable
 *   2      0x10      kernel data, ring 0, base 0, limit 4 GB, writable
 *   3      0x1B      user code, ring 3   (unused until there is user mode)
 *   4      0x23      user data, ring 3
 *   5      0x28      TSS of the kernel's task (TR): where a task switch saves it
 *   6      0x30      TSS of the double-fault task: own stack, entered by the
 *                    #DF task gate (idt.c), so a dead kernel stack is reported
 *   7      0x38      this CPU's data block (struct cpu, arch/x86/smp.h), in %fs:
 *                    glue_cpu_id is one load from %fs:0
 *
 * Every CPU has a table of its own (gdts[cpu]): entries 0-4 are the same in
 * all of them, 5-7 are the CPU's own TSS, double-fault TSS and data block.
 * The selectors are the same on every CPU, so the one IDT (idt.c) with its
 * #DF task gate on 0x30 serves them all, each switching to its own task.
 *
 * The encoding is drawn in segment.h.  Loading the table changes nothing
 * until a segment register is reloaded, so gdt_init reloads all of them; CS
 * can only be changed by a far jump.
 */
#include "gdt.h"

#include "segment.h"
#include "smp.h"

#define DOUBLE_FAULT_STACK_SIZE 16384

static struct gdt_descriptor gdts[KERNEL_MAX_CPUS][GDT_ENTRIES] __attribute__((aligned(8)));
static struct tss kernel_tss[KERNEL_MAX_CPUS], double_fault_tss[KERNEL_MAX_CPUS];
/* the BSP's; an AP's double-fault stack comes from kstack_alloc (smp.c) */
static uint8_t double_fault_stack[DOUBLE_FAULT_STACK_SIZE] __attribute__((aligned(16)));
static void (*double_fault_entry)(void);
static uint32_t task_cr3;

/* A base-0, 4 GB, 32-bit, page-granular segment with the given access byte. */
static struct gdt_descriptor flat_segment(uint8_t access)
{
    const uint32_t limit = 0xFFFFF; /* in 4 KB units: 4 GB */
    struct gdt_descriptor d = {
        .limit_low = limit & 0xFFFF,
        .base_low = 0,
        .base_mid = 0,
        .access = access,
        .flags_limit_high = SEG_FLAG_4K | SEG_FLAG_32BIT | ((limit >> 16) & 0x0F),
        .base_high = 0,
    };
    return d;
}

static uint8_t code_access(int dpl)
{
    return SEG_ACCESS_PRESENT | SEG_ACCESS_DPL(dpl) | SEG_ACCESS_CODE_DATA | SEG_TYPE_CODE |
           SEG_TYPE_READ_WRITE | SEG_TYPE_ACCESSED;
}

static uint8_t data_access(int dpl)
{
    return SEG_ACCESS_PRESENT | SEG_ACCESS_DPL(dpl) | SEG_ACCESS_CODE_DATA | SEG_TYPE_READ_WRITE |
           SEG_TYPE_ACCESSED;
}

/* A byte-granular descriptor of an available 32-bit TSS. */
static struct gdt_descriptor tss_segment(const struct tss *t)
{
    uint32_t base = (uint32_t)t, limit = sizeof(*t) - 1;
    struct gdt_descriptor d = {
        .limit_low = limit & 0xFFFF,
        .base_low = base & 0xFFFF,
        .base_mid = (base >> 16) & 0xFF,
        .access = SEG_ACCESS_PRESENT | SEG_ACCESS_DPL(0) | SEG_TYPE_TSS32,
        .flags_limit_high = (limit >> 16) & 0x0F,
        .base_high = base >> 24,
    };
    return d;
}

/* A byte-granular ring-0 data segment over [base, base + size): a CPU's data block. */
static struct gdt_descriptor percpu_segment(const void *block, uint32_t size)
{
    uint32_t base = (uint32_t)block, limit = size - 1;
    struct gdt_descriptor d = {
        .limit_low = limit & 0xFFFF,
        .base_low = base & 0xFFFF,
        .base_mid = (base >> 16) & 0xFF,
        .access = data_access(0),
        .flags_limit_high = SEG_FLAG_32BIT | ((limit >> 16) & 0x0F),
        .base_high = base >> 24,
    };
    return d;
}

/*
 * The double-fault task runs on its own stack, with the kernel's segments,
 * this CPU's data block in %fs and interrupts off.  Its entry point comes
 * from idt.c (gdt_set_double_fault_entry); its CR3 must be the live page
 * directory, as the task switch loads it (gdt_set_task_cr3).
 */
static void double_fault_task_init(unsigned cpu, uint32_t stack_top)
{
    double_fault_tss[cpu] = (struct tss){
        .eflags = 0x2, /* bit 1 is always set; IF, DF, NT clear */
        .eip = (uint32_t)double_fault_entry,
        .esp = stack_top,
        .cs = KERNEL_CS,
        .ss = KERNEL_DS,
        .ds = KERNEL_DS,
        .es = KERNEL_DS,
        .fs = PERCPU_SEL,
        .gs = KERNEL_DS,
        .iomap_base = sizeof(struct tss), /* no I/O bitmap (ring 0 needs none) */
    };
    uint32_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    double_fault_tss[cpu].cr3 = task_cr3 ? task_cr3 : cr3;
}

void gdt_set_double_fault_entry(void (*entry)(void))
{
    double_fault_entry = entry;
    for (unsigned i = 0; i < KERNEL_MAX_CPUS; i++)
        double_fault_tss[i].eip = (uint32_t)entry;
}

void gdt_set_task_cr3(uint32_t page_directory_phys)
{
    task_cr3 = page_directory_phys;
    for (unsigned i = 0; i < KERNEL_MAX_CPUS; i++)
        double_fault_tss[i].cr3 = page_directory_phys;
}

const struct tss *gdt_interrupted_task(void)
{
    return &kernel_tss[smp_cpu_index()];
}

void gdt_prepare_cpu(unsigned cpu, uint32_t double_fault_stack_top)
{
    struct gdt_descriptor *gdt = gdts[cpu];

    gdt[GDT_NULL] = (struct gdt_descriptor){0};
    gdt[GDT_KERNEL_CODE] = flat_segment(code_access(0));
    gdt[GDT_KERNEL_DATA] = flat_segment(data_access(0));
    gdt[GDT_USER_CODE] = flat_segment(code_access(3));
    gdt[GDT_USER_DATA] = flat_segment(data_access(3));
    kernel_tss[cpu] = (struct tss){.iomap_base = sizeof(struct tss)};
    double_fault_task_init(cpu, double_fault_stack_top);
    gdt[GDT_TSS_KERNEL] = tss_segment(&kernel_tss[cpu]);
    gdt[GDT_TSS_DOUBLE] = tss_segment(&double_fault_tss[cpu]);
    gdt[GDT_PERCPU] = percpu_segment(&smp_cpus[cpu], sizeof(smp_cpus[cpu]));
}

void gdt_register(unsigned cpu, struct descriptor_table_register *out)
{
    out->limit = sizeof(gdts[cpu]) - 1;
    out->base = (uint32_t)gdts[cpu];
}

void gdt_load_task(void)
{
    /* TR: the task we are, so that a switch to the #DF task has somewhere to save us */
    __asm__ volatile("ltr %w0" : : "r"(TSS_KERNEL_SEL) : "memory");
}

void gdt_init(void)
{
    struct descriptor_table_register gdtr;

    smp_cpus[0].index = 0;
    gdt_prepare_cpu(0, (uint32_t)double_fault_stack + sizeof(double_fault_stack));
    gdt_register(0, &gdtr);

    /* The far jump reloads CS; the data registers take a plain mov; %fs: our data block. */
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\n\t"
                     "mov %w2, %%ds\n\t"
                     "mov %w2, %%es\n\t"
                     "mov %w3, %%fs\n\t"
                     "mov %w2, %%gs\n\t"
                     "mov %w2, %%ss\n\t"
                     :
                     : "m"(gdtr), "i"(KERNEL_CS), "r"(KERNEL_DS), "r"(PERCPU_SEL)
                     : "memory");
    gdt_load_task();
    glue_percpu_ready = 1; /* glue_cpu_id may read %fs:0 from now on */
}

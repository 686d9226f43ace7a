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
 *
 * The encoding is drawn in segment.h.  Loading the table changes nothing
 * until a segment register is reloaded, so gdt_init reloads all of them; CS
 * can only be changed by a far jump.
 */
#include "gdt.h"

#include "segment.h"

#define DOUBLE_FAULT_STACK_SIZE 16384

static struct gdt_descriptor gdt[GDT_ENTRIES];
static struct tss kernel_tss, double_fault_tss;
static uint8_t double_fault_stack[DOUBLE_FAULT_STACK_SIZE] __attribute__((aligned(16)));

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

/*
 * The double-fault task runs on its own stack, with the kernel's segments and
 * interrupts off.  Its entry point comes from idt.c (gdt_set_double_fault_entry);
 * its CR3 must be the live page directory, as the task switch loads it
 * (gdt_set_task_cr3).
 */
static void double_fault_task_init(void)
{
    double_fault_tss = (struct tss){
        .eflags = 0x2, /* bit 1 is always set; IF, DF, NT clear */
        .esp = (uint32_t)double_fault_stack + sizeof(double_fault_stack),
        .cs = KERNEL_CS,
        .ss = KERNEL_DS,
        .ds = KERNEL_DS,
        .es = KERNEL_DS,
        .fs = KERNEL_DS,
        .gs = KERNEL_DS,
        .iomap_base = sizeof(struct tss), /* no I/O bitmap (ring 0 needs none) */
    };
    uint32_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    double_fault_tss.cr3 = cr3;
}

void gdt_set_double_fault_entry(void (*entry)(void))
{
    double_fault_tss.eip = (uint32_t)entry;
}

void gdt_set_task_cr3(uint32_t page_directory_phys)
{
    double_fault_tss.cr3 = page_directory_phys;
}

const struct tss *gdt_interrupted_task(void)
{
    return &kernel_tss;
}

void gdt_init(void)
{
    struct descriptor_table_register gdtr;

    gdt[GDT_NULL] = (struct gdt_descriptor){0};
    gdt[GDT_KERNEL_CODE] = flat_segment(code_access(0));
    gdt[GDT_KERNEL_DATA] = flat_segment(data_access(0));
    gdt[GDT_USER_CODE] = flat_segment(code_access(3));
    gdt[GDT_USER_DATA] = flat_segment(data_access(3));
    kernel_tss = (struct tss){.iomap_base = sizeof(struct tss)};
    double_fault_task_init();
    gdt[GDT_TSS_KERNEL] = tss_segment(&kernel_tss);
    gdt[GDT_TSS_DOUBLE] = tss_segment(&double_fault_tss);

    gdtr.limit = sizeof(gdt) - 1;
    gdtr.base = (uint32_t)gdt;

    /* The far jump reloads CS; the data registers take a plain mov. */
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\n\t"
                     "mov %w2, %%ds\n\t"
                     "mov %w2, %%es\n\t"
                     "mov %w2, %%fs\n\t"
                     "mov %w2, %%gs\n\t"
                     "mov %w2, %%ss\n\t"
                     :
                     : "m"(gdtr), "i"(KERNEL_CS), "r"(KERNEL_DS)
                     : "memory");
    /* TR: the task we are, so that a switch to the #DF task has somewhere to save us */
    __asm__ volatile("ltr %w0" : : "r"(TSS_KERNEL_SEL) : "memory");
}

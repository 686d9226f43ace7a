/*
 * gdt.c - a flat Global Descriptor Table.
 *
 *   index  selector  segment
 *   0      0x00      null (the CPU requires it; loading it faults on use)
 *   1      0x08      kernel code, ring 0, base 0, limit 4 GB, readable
 *   2      0x10      kernel data, ring 0, base 0, limit 4 GB, writable
 *   3      0x1B      user code, ring 3   (unused until there is user mode)
 *   4      0x23      user data, ring 3
 *
 * The encoding is drawn in segment.h.  Loading the table changes nothing
 * until a segment register is reloaded, so gdt_init reloads all of them; CS
 * can only be changed by a far jump.
 */
#include "gdt.h"

#include "segment.h"

static struct gdt_descriptor gdt[GDT_ENTRIES];

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

void gdt_init(void)
{
    struct descriptor_table_register gdtr;

    gdt[GDT_NULL] = (struct gdt_descriptor){0};
    gdt[GDT_KERNEL_CODE] = flat_segment(code_access(0));
    gdt[GDT_KERNEL_DATA] = flat_segment(data_access(0));
    gdt[GDT_USER_CODE] = flat_segment(code_access(3));
    gdt[GDT_USER_DATA] = flat_segment(data_access(3));

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
}

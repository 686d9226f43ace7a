/*
 * segment.h - the x86 descriptor encodings: GDT segment descriptors, IDT
 * gate descriptors, selectors.  gdt.c and idt.c fill these in; no other file
 * shifts descriptor bits.  The selector values are shared with isr.S.
 *
 * Our segmentation is flat: every segment has base 0 and a 4 GB limit, so
 * segments only carry the privilege level and code/data type.  All of the
 * kernel runs in ring 0; the user segments exist for later phases.
 */
#ifndef ARCH_X86_SEGMENT_H
#define ARCH_X86_SEGMENT_H

/*
 * Selectors: GDT index << 3 | table indicator (0 = GDT) << 2 | RPL.
 */
#define GDT_NULL        0
#define GDT_KERNEL_CODE 1
#define GDT_KERNEL_DATA 2
#define GDT_USER_CODE   3
#define GDT_USER_DATA   4
#define GDT_TSS_KERNEL  5 /* the task the kernel runs as (TR) */
#define GDT_TSS_DOUBLE  6 /* the #DF handler's task: its own stack */
#define GDT_PERCPU      7 /* this CPU's data block (arch/x86/smp.h), loaded in %fs */
#define GDT_ENTRIES     8

#define KERNEL_CS      (GDT_KERNEL_CODE << 3)     /* 0x08 */
#define KERNEL_DS      (GDT_KERNEL_DATA << 3)     /* 0x10 */
#define USER_CS        ((GDT_USER_CODE << 3) | 3) /* 0x1B */
#define USER_DS        ((GDT_USER_DATA << 3) | 3) /* 0x23 */
#define TSS_KERNEL_SEL (GDT_TSS_KERNEL << 3)      /* 0x28 */
#define TSS_DOUBLE_SEL (GDT_TSS_DOUBLE << 3)      /* 0x30 */
#define PERCPU_SEL     (GDT_PERCPU << 3)          /* 0x38 */

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

/*
 * Segment descriptor (8 bytes, Intel SDM vol. 3, 3.4.5):
 *
 *   63      56 55 54 53 52 51    48 47 46 45 44 43   40 39      32
 *  +----------+--+--+--+--+--------+--+-----+--+-------+----------+
 *  |base 31:24| G|DB| L|AV|lim 19:16| P| DPL | S| type  |base 23:16|
 *  +----------+--+--+--+--+--------+--+-----+--+-------+----------+
 *   31                          16 15                            0
 *  +------------------------------+------------------------------+
 *  |          base 15:0           |          limit 15:0          |
 *  +------------------------------+------------------------------+
 *
 *  G   limit counts 4 KB units (so 0xFFFFF means 4 GB)
 *  DB  32-bit segment
 *  P   present;  DPL privilege 0..3;  S  1 = code/data (0 = system)
 *  type for S=1: bit 3 code, bit 1 readable (code) / writable (data),
 *       bit 0 accessed (the CPU sets it; we preset it so the CPU never
 *       has to write the GDT)
 */
struct gdt_descriptor {
    uint16_t limit_low;
    uint16_t base_low;
    uint8_t base_mid;
    uint8_t access;           /* P | DPL | S | type */
    uint8_t flags_limit_high; /* G DB L AVL | limit 19:16 */
    uint8_t base_high;
} __attribute__((packed));

#define SEG_ACCESS_PRESENT   0x80
#define SEG_ACCESS_DPL(n)    ((n) << 5)
#define SEG_ACCESS_CODE_DATA 0x10 /* S = 1 */
#define SEG_TYPE_CODE        0x08
#define SEG_TYPE_READ_WRITE  0x02 /* readable code / writable data */
#define SEG_TYPE_ACCESSED    0x01
#define SEG_FLAG_4K          0x80 /* G */
#define SEG_FLAG_32BIT       0x40 /* DB */
#define SEG_TYPE_TSS32       0x09 /* S = 0: an available 32-bit TSS (0x0B once busy) */

/*
 * 32-bit Task State Segment (104 bytes, SDM vol. 3, 7.2.1): where a task
 * switch saves the outgoing task's registers and loads the incoming one's.
 * We use it for one thing: #DF arrives through a task gate, so its handler
 * runs on a stack of its own even when the kernel stack is gone (an
 * overflow into a guard page).  Offsets, as the CPU reads them:
 *
 *    0 link   4 esp0   8 ss0   12 esp1  16 ss1   20 esp2  24 ss2
 *   28 cr3   32 eip   36 eflags 40 eax  44 ecx   48 edx   52 ebx
 *   56 esp   60 ebp   64 esi   68 edi   72 es    76 cs    80 ss
 *   84 ds    88 fs    92 gs    96 ldt  100 trap 102 iomap base
 *
 * Selectors take 16 bits of a 32-bit slot; the upper half is reserved (0).
 */
struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
} __attribute__((packed));

/*
 * Gate descriptor in the IDT (8 bytes, SDM vol. 3, 6.11):
 *
 *   63                          48 47 46 45 44 43   40 39  32
 *  +------------------------------+--+-----+--+-------+------+
 *  |        offset 31:16          | P| DPL | 0| type  |  0   |
 *  +------------------------------+--+-----+--+-------+------+
 *   31                          16 15                        0
 *  +------------------------------+--------------------------+
 *  |     segment selector         |       offset 15:0        |
 *  +------------------------------+--------------------------+
 *
 *  type 0xE = 32-bit interrupt gate: the CPU clears IF on entry, which is
 *  what we want (the console and the heap lock assume IF stays clear).
 *  type 0x5 = task gate (only #DF): a hardware task switch to the TSS named
 *  by the selector, whose EFLAGS has IF clear too.
 */
struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero;
    uint8_t type_attr; /* P | DPL | 0 | type */
    uint16_t offset_high;
} __attribute__((packed));

#define GATE_PRESENT      0x80
#define GATE_DPL(n)       ((n) << 5)
#define GATE_INTERRUPT_32 0x0E
#define GATE_TASK         0x05 /* selector = a TSS in the GDT; offset unused */

/* The operand of lgdt and lidt: limit (size - 1) and linear base. */
struct descriptor_table_register {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

_Static_assert(sizeof(struct gdt_descriptor) == 8, "GDT descriptor is 8 bytes");
_Static_assert(sizeof(struct idt_gate) == 8, "IDT gate is 8 bytes");
_Static_assert(sizeof(struct tss) == 104, "32-bit TSS is 104 bytes");
_Static_assert(offsetof(struct tss, cr3) == 28 && offsetof(struct tss, esp) == 56 &&
                   offsetof(struct tss, es) == 72 && offsetof(struct tss, iomap_base) == 102,
               "TSS layout as the CPU reads it");
_Static_assert(sizeof(struct descriptor_table_register) == 6, "lgdt/lidt operand is 6 bytes");

#endif /* __ASSEMBLER__ */
#endif /* ARCH_X86_SEGMENT_H */

/*
 * test_idt.c (kernel) - the page-fault diagnosis: the address describer is
 * asked about CR2, and a fault hook can print the standard diagnosis and
 * then carry on (idt_print_diagnosis returns).
 *
 * The second case takes a real #PF.  Before the VMM exists, paging is off,
 * so the test turns it on for a moment with its own tables: 0-8 MB
 * identity-mapped except the NULL page,
 *
 *   dir[0] -> table[0]: page 0 not present, pages 1..1023 = themselves
 *   dir[1] -> table[1]: 4-8 MB = themselves (the early heap is at 5 MB)
 *
 * and turns it off again.  Once the VMM has paging on, the test uses the
 * VMM's tables instead, which leave page 0 unmapped too (DESIGN.md).
 */
#include "cpu.h"
#include "idt.h"
#include "ktest.h"

#define PTE_PRESENT 0x1u
#define PTE_WRITE   0x2u

static volatile uint32_t described_addr, described_calls;
static volatile uint32_t fault_cr2, fault_error, fault_calls;

static const char *describe(uint32_t addr)
{
    described_addr = addr;
    described_calls++;
    return "the test's NULL page";
}

/* A synthetic #PF frame: the diagnosis asks the describer and returns to us. */
static void diagnosis_asks_the_describer(void)
{
    struct interrupt_frame f = {.vector = 14, .error_code = PF_WRITE, .eip = 0x100000};
    idt_address_describer_t before = idt_address_describer();

    idt_set_address_describer(describe);
    described_calls = 0;
    kprintf("    (a synthetic page fault frame; the diagnosis below is expected)\n");
    idt_print_diagnosis(&f);
    idt_set_address_describer(before);
    KT_ASSERT(described_calls == 1);
    KT_ASSERT(described_addr == read_cr2());
}

/* Print the diagnosis, then skip the 2-byte `mov (%eax), %ecx` that faulted. */
static int expect_page_fault(struct interrupt_frame *f)
{
    fault_cr2 = read_cr2();
    fault_error = f->error_code;
    fault_calls++;
    idt_print_diagnosis(f);
    f->eip += 2;
    return 1;
}

static uint32_t dir[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t table[2][1024] __attribute__((aligned(PAGE_SIZE)));

static void paging_on_with_test_tables(void)
{
    for (uint32_t t = 0; t < 2; t++) {
        for (uint32_t i = 0; i < 1024; i++)
            table[t][i] = ((t * 1024 + i) * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
        dir[t] = (uint32_t)table[t] | PTE_PRESENT | PTE_WRITE;
    }
    table[0][0] = 0; /* the NULL page */
    enable_paging((uint32_t)dir);
}

static void paging_off(uint32_t cr3)
{
    uint32_t cr0;

    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~CR0_PG) : "memory");
    write_cr3(cr3);
}

static void real_null_fault_reaches_describer_and_hook(void)
{
    uint32_t cr3 = read_cr3(), value = 0;
    int own_tables = !(read_cr0() & CR0_PG);
    idt_address_describer_t before = idt_address_describer();

    idt_set_address_describer(describe);
    idt_set_fault_hook(14, expect_page_fault);
    described_calls = fault_calls = 0;
    if (own_tables)
        paging_on_with_test_tables();
    kprintf("    (a NULL read under paging; the diagnosis below is expected)\n");
    __asm__ volatile("mov (%%eax), %%ecx" /* 8b 08: two bytes */
                     : "=c"(value)
                     : "a"(0)
                     : "memory");
    if (own_tables)
        paging_off(cr3);
    idt_set_fault_hook(14, NULL);
    idt_set_address_describer(before);

    KT_ASSERT(fault_calls == 1);
    KT_ASSERT(fault_cr2 == 0);
    KT_ASSERT(fault_error == 0); /* not present, read, kernel mode */
    KT_ASSERT(described_calls == 1 && described_addr == 0);
    (void)value;
}

const struct ktest ktest_idt[] = {
    {"idt: #PF diagnosis asks the address describer", diagnosis_asks_the_describer},
    {"idt: real NULL fault reaches describer and hook", real_null_fault_reaches_describer_and_hook},
    {NULL, NULL},
};

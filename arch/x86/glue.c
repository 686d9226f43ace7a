/*
 * glue.c - the kernel's side of mm/glue.h: what the memory manager may ask
 * of its environment, answered for a uniprocessor x86 kernel without paging.
 *
 *   console  the kernel console (COM1 + VGA)
 *   panic    message, then stop this CPU (cli; hlt)
 *   lock     interrupts off; the previous IF is restored on unlock, so the
 *            lock also works when taken with interrupts already disabled
 *   phys     identity: physical addresses are CPU addresses until paging
 */
#include "glue.h"

#include "cpu.h"
#include "terminal.h"

void glue_console_write(const char *s, size_t len)
{
    terminal_write(s, len);
}

void glue_panic(const char *msg)
{
    cli();
    kprintf("\nPANIC: %s\nSystem halted.\n", msg);
    cpu_halt_forever();
}

glue_irqflags_t glue_lock(void)
{
    glue_irqflags_t flags = read_eflags();

    cli();
    return flags;
}

void glue_unlock(glue_irqflags_t flags)
{
    if (flags & EFLAGS_IF)
        sti();
}

void *glue_phys_to_virt(uintptr_t phys)
{
    return (void *)phys;
}

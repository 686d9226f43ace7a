/*
 * glue.h - everything the memory manager needs from its environment.
 *
 * the mm/ sources never touch hardware or libc; they call only these functions.
 * The kernel implements them in arch/x86/glue.c, the host (Linux, for the
 * unit tests, fuzzers and benchmarks) in host/glue.c.  To embed mm/ in your
 * own kernel, implement these functions and nothing else (the last four only
 * if you use the VMM and the virtual heap: Phase 2).
 */
#ifndef MM_GLUE_H
#define MM_GLUE_H

#include <stddef.h>
#include <stdint.h>

/* Write len bytes to the console (serial, screen, a test buffer...). */
void glue_console_write(const char *s, size_t len);

/* Stop everything: an internal invariant of mm/ is broken (never a caller bug). */
__attribute__((noreturn)) void glue_panic(const char *msg);

/*
 * The memory manager's one lock.  In the kernel: save EFLAGS and disable
 * interrupts (uniprocessor); on the host: a recursive mutex.  It must nest:
 * the VMM calls the PMM, and the heap calls both, with the lock held.
 */
typedef unsigned long glue_irqflags_t;
glue_irqflags_t glue_lock(void);
void glue_unlock(glue_irqflags_t flags);

/*
 * Where physical address `phys` can be reached by the CPU right now.  The
 * kernel before paging: identity (returns phys).  The host: inside its
 * simulated physical memory.
 */
void *glue_phys_to_virt(uintptr_t phys);

/* ---- Phase 2: paging ---- */

/*
 * The page table for directory slot `pdx`, which lives at physical
 * `table_phys`, as the CPU can reach it now.  Before paging: identity.  After
 * paging, in the kernel: the recursive window, 0xFFC00000 + 4096 * pdx (slot
 * 1023 is the directory itself).  On the host: simulated physical memory.
 */
void *glue_page_table(unsigned pdx, uintptr_t table_phys);

/* Load the page directory and turn paging on (CR3, CR0.PG | CR0.WP). */
void glue_paging_enable(uintptr_t directory_phys);

/*
 * A page-table entry changed: flush that TLB entry (invlpg).  The host also
 * makes the simulated mapping real (phys == 0: unmapped), so the virtual heap
 * is backed by the same bytes as simulated physical memory.
 */
void glue_mapping_changed(uintptr_t virt, uintptr_t phys);

/* A pointer through which the code can use kernel virtual address `virt`. */
void *glue_virt_to_ptr(uintptr_t virt);

#endif /* MM_GLUE_H */

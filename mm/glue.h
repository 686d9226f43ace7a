/*
 * glue.h - everything the memory manager needs from its environment.
 *
 * the mm/ sources never touch hardware or libc; they call only these functions.
 * The kernel implements them in arch/x86/glue.c, the host (Linux, for the
 * unit tests, fuzzers and benchmarks) in host/glue.c.  To embed mm/ in your
 * own kernel, implement these five functions and nothing else.
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
 * interrupts (uniprocessor); on the host: a mutex.  Not recursive: mm/ takes
 * it once per public call.
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

#endif /* MM_GLUE_H */

/*
 * glue_fast.h - the kernel glue's inline forms of three mm/glue.h calls, for
 * the per-CPU caches' fast path (mm/glue.h, "Inline forms").  Found on the
 * kernel's include path (-Iarch/x86) by every kernel build of mm/; the same
 * as arch/x86/glue.c's functions, without the calls: pushf and cli; sti if
 * the saved flags had IF; this CPU's index at %fs:0 once the BSP's %fs is
 * loaded (glue_percpu_ready, arch/x86/smp.c), 0 before.  And the fence
 * (GLUE_FENCE_CPUS): every other CPU acknowledges a request, as for a TLB
 * shootdown (arch/x86/smp.c, smp_fence_cpus), so a CPU's fast path takes its
 * cache with plain moves (mm/slab_priv.h, cpu_cache_enter).
 */
#ifndef ARCH_X86_GLUE_FAST_H
#define ARCH_X86_GLUE_FAST_H

extern volatile int glue_percpu_ready;

static inline __attribute__((always_inline)) int glue_cpu_id_fast(void)
{
    unsigned id;
    if (!glue_percpu_ready)
        return 0;
    __asm__ volatile("movl %%fs:0, %0" : "=r"(id));
    return (int)id;
}

static inline __attribute__((always_inline)) glue_irqflags_t glue_irq_save_fast(void)
{
    glue_irqflags_t flags;
    __asm__ volatile("pushfl; popl %0; cli" : "=r"(flags) : : "memory");
    return flags;
}

static inline __attribute__((always_inline)) void glue_irq_restore_fast(glue_irqflags_t flags)
{
    if (flags & (1u << 9)) /* EFLAGS.IF */
        __asm__ volatile("sti" : : : "memory");
}

/* Every other CPU through a full barrier before it returns (arch/x86/glue.c). */
#define GLUE_FENCE_CPUS 1
void glue_fence_cpus(void);

#endif /* ARCH_X86_GLUE_FAST_H */

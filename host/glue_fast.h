/*
 * glue_fast.h - the host glues' inline forms of three mm/glue.h calls, for
 * the per-CPU caches' fast path (mm/glue.h, "Inline forms").  Found on the
 * include path (-Ihost) by every host build of mm/: the tests, the fuzzers,
 * the shim.  Interrupts do not exist here (glue_irq_save is 0), and a
 * thread's CPU number is a thread-local word (host/glue_common.c).
 */
#ifndef HOST_GLUE_FAST_H
#define HOST_GLUE_FAST_H

/*
 * The thread's CPU number once it has one, else -1 (host/glue_common.c);
 * initial-exec: one load in the shim too (loaded at start-up).
 */
extern __thread __attribute__((tls_model("initial-exec"), visibility("hidden"))) int glue_host_cpu;
/* host_forced_cpu_id (glue_common.h): GLUE_HOST_CPU_NATURAL unless a test forces one. */
extern __attribute__((visibility("hidden"))) int glue_host_cpu_forced;
#define GLUE_HOST_CPU_NATURAL (-12345) /* HOST_CPU_ID_NATURAL */

/* The thread's number, the forced one, or -1 before its first glue_cpu_id (mm/ then takes the
 * shared path, which calls glue_cpu_id: numbered from then on). */
static inline __attribute__((always_inline)) int glue_cpu_id_fast(void)
{
#ifdef HOST_SHIM /* the shim (host/shim.c): no test forces a CPU there */
    return glue_host_cpu;
#else
    int forced = glue_host_cpu_forced;
    return __builtin_expect(forced == GLUE_HOST_CPU_NATURAL, 1) ? glue_host_cpu : forced;
#endif
}

static inline __attribute__((always_inline)) glue_irqflags_t glue_irq_save_fast(void)
{
    return 0;
}

static inline __attribute__((always_inline)) void glue_irq_restore_fast(glue_irqflags_t flags)
{
    (void)flags;
}

/*
 * Every thread of the process through a full memory barrier before it
 * returns (mm/glue.h, "Inline forms"): Linux's membarrier (private
 * expedited), or where that is refused, a page's write permission taken
 * away, whose TLB shootdown interrupts every CPU running one of this
 * process's threads (host/glue_common.c).
 */
#define GLUE_FENCE_CPUS 1
void glue_fence_cpus(void);

/*
 * A thread is its CPU, and it cannot enter mm/'s fast path again from inside
 * it (a signal handler may not call malloc): no check for it (mm/glue.h).
 */
#define GLUE_FAST_NO_REENTRY 1

#endif /* HOST_GLUE_FAST_H */

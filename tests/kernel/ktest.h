/*
 * ktest.h - the in-kernel test harness: a list of test functions, run one
 * after the other on a fresh heap; KT_ASSERT stops the current test on the
 * first failure and names the file, line and condition on serial.
 */
#ifndef KTEST_H
#define KTEST_H

#include "../rng.h"
#include "memory.h"
#include "terminal.h"
#include "vmm.h" /* vaddr_t */

struct ktest {
    const char *name;
    void (*fn)(void);
};

void kt_fail(const char *file, int line, const char *cond);
int kt_contains(const char *haystack, const char *needle);

#define KT_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            kt_fail(__FILE__, __LINE__, #c);                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* The heap is healthy after every operation. */
#define KT_CHECK_HEAP() KT_ASSERT(heap_check() == 0)

/* The last report mentions this reason (and the function). */
#define KT_REPORTED(fn, reason)                                                                    \
    KT_ASSERT(kt_contains(mm_last_error(), fn) && kt_contains(mm_last_error(), reason))

/*
 * The stack-overflow tests (test_vmalloc.c, test_panic.c).  kt_overflow_stack
 * allocates an 8 KB kernel stack (its bottom in kt_overflow_bottom), sets the
 * double-fault hook to verdict and says on serial that a #DF diagnosis follows
 * (who: "recursing", "CPU 1 recurses"); it returns the stack's top, or 0.
 * kt_overflow_this_stack, for cpu_call_on_stack on it, recurses with 200 bytes
 * a frame until the guard page stops it (the double-fault task then decides);
 * `result` is written only if it ever came back.  In that task,
 * kt_overflow_hit_guard: CR2 in the guard page below the stack, the stack
 * pointer at its bottom or in that guard page (a push that faults leaves ESP
 * as it was), and the describer naming the guard page at CR2.
 */
struct interrupt_frame;
extern vaddr_t kt_overflow_bottom;
vaddr_t kt_overflow_stack(int (*verdict)(struct interrupt_frame *f), const char *who);
void kt_overflow_this_stack(void *result);
int kt_overflow_hit_guard(const struct interrupt_frame *f, uint32_t cr2);

/* Suites, each a NULL-terminated array (tests/kernel/test_*.c). */
extern const struct ktest ktest_heap[];
extern const struct ktest ktest_string[];
extern const struct ktest ktest_lz4[]; /* the LZ4 codec (issue 14) */
extern const struct ktest ktest_cpu[];
extern const struct ktest ktest_phase2[];
extern const struct ktest ktest_memmap[];
extern const struct ktest ktest_idt[];
extern const struct ktest ktest_vmalloc[];  /* Phase 2, like ktest_phase2 */
extern const struct ktest ktest_bugclass[]; /* Phase 2, like ktest_phase2 */
extern const struct ktest ktest_owners[];   /* Phase 2, like ktest_phase2 */
extern const struct ktest ktest_smp[];      /* Phase 2: every CPU at once (test_smp.c) */
extern const struct ktest ktest_ipi[];      /* Phase 2: when the BSP answers a shootdown */
extern const struct ktest ktest_zstore[];   /* Phase 2: the compressed page store (issue 14) */
extern const struct ktest ktest_zswap[];    /* Phase 2: compressible memory (issue 14) */
extern const struct ktest ktest_debug[];    /* MM_DEBUG builds only (else empty) */
extern const struct ktest ktest_overflow[]; /* only with the boot option ktest=overflow */
extern const struct ktest ktest_panic[];    /* only when named: ktest=panic-ap... (test_panic.c) */

int kernel_tests_run(void);

/*
 * The boot option zswap-pressure (ktest_pressure.c): a compressible area
 * filled under every test with paging, verified after it.  kt_pressure_on:
 * the option was given; _begin (on the test's fresh heap) and _end: 0, or -1
 * (said why); _summary: the totals, the proof that reclaim ran.
 */
int kt_pressure_on(void);
int kt_pressure_begin(const char *name, uint32_t number);
int kt_pressure_end(void);
void kt_pressure_summary(void);

#endif /* KTEST_H */

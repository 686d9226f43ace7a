/*
 * shell.h - the kernel's serial console (kernel/shell.c) and the commands
 * behind it that other code reuses.
 */
#ifndef KERNEL_SHELL_H
#define KERNEL_SHELL_H

#include <stdint.h>

/* Read commands from COM1 forever ("mm> " prompt); `help` lists them. */
__attribute__((noreturn)) void shell_run(void);

/* Print every field of get_memory_stats(), one per line. */
void meminfo_print(void);

/* What heap_stress() did and found. */
struct stress_result {
    uint32_t ops; /* operations done */
    uint32_t mallocs, callocs, reallocs, frees;
    uint32_t out_of_memory;  /* NULL returns the heap was entitled to */
    uint32_t bytes_verified; /* bytes read back and compared to their pattern */
    uint32_t errors;         /* wrong bytes, misaligned blocks, bad NULLs, stats drift */
    int check_failures;      /* broken invariants reported by heap_check() */
};

/* Upper bound on ops, so that bytes_verified cannot overflow 32 bits. */
#define STRESS_MAX_OPS 1000000u

/*
 * `ops` random kmalloc/kcalloc/krealloc/kfree calls on up to 64 live blocks
 * (kernel/stress.c), every byte checked against a pattern; at the end
 * everything is freed and heap_check() run.  Same seed, same sequence.
 * Returns 1 on PASS (no errors, no check failures), 0 on FAIL.
 */
int heap_stress(uint32_t ops, uint32_t seed, struct stress_result *result);

/*
 * The same on `cpus` CPUs at once (1..smp_cpu_count()), `ops` operations
 * each, CPU c with seed + c * 0x9E3779B9 and its own slots, blocks handed
 * from one CPU to another to free; results summed.  *handed_over (if not
 * NULL): blocks freed by another CPU than the one that filled them.
 */
int heap_stress_smp(unsigned cpus, uint32_t ops, uint32_t seed, struct stress_result *result,
                    uint32_t *handed_over);

#endif /* KERNEL_SHELL_H */

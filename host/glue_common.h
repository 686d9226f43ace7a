/*
 * glue_common.h - what the two host glues share (host/glue_common.c) and what
 * each of them provides to it.
 *
 * host/glue.c (the unit tests, fuzzers and benchmarks) and host/shim_glue.c
 * (the LD_PRELOAD malloc) differ in where simulated memory comes from and how
 * a mapping is mirrored; the lock and the page tables are the same, and live
 * once, in host/glue_common.c.
 */
#ifndef HOST_GLUE_COMMON_H
#define HOST_GLUE_COMMON_H

#include <stddef.h>
#include <stdint.h>

/*
 * Provided by each glue: its simulated physical memory.  Physical address P
 * is at host_phys_base() + P, for P < host_phys_size.
 */
char *host_phys_base(void);
extern const size_t host_phys_size;

/*
 * pthread_atfork handlers for the memory manager's lock and every CPU's cache
 * lock (the shim registers them): held across fork(), so the child's only
 * thread owns a heap nobody is halfway through changing, and no CPU of it is
 * left inside its fast path.  The child re-initialises the mutex and takes it
 * before mm_unlock releases it: glibc records an error-checking mutex's owner
 * by thread id, and the child's thread has a new one.
 */
/* How many times glue_spin_lock was taken (tests: nesting does not take it again). */
extern unsigned long host_spin_locks;
/* ... how often it was found taken, and how often its taker then slept for it (__atomic). */
extern unsigned long host_spin_contended, host_spin_slept;
extern unsigned long host_fences, host_fences_mprotect; /* glue_fence_cpus: calls, by mprotect */
extern int host_fence_force_mprotect; /* set: glue_fence_cpus by mprotect even with membarrier */
/* Tests: what glue_cpu_id returns instead of the thread's number (a glue that breaks the contract).
 */
#define HOST_CPU_ID_NATURAL (-12345)
/* (named glue_*: glue_fast.h's inline glue_cpu_id_fast reads it inside mm/) */
#define host_forced_cpu_id  glue_host_cpu_forced
extern int host_forced_cpu_id;
/* Threads holding a dense CPU id now (host/glue_common.c: ids of exited threads are reused). */
int host_cpu_ids_live(void);
/* The highest CPU id given so far, plus one (with reuse: the most threads live at once). */
int host_cpu_ids_peak(void);
/*
 * TLB shootdown (glue_tlb_shootdown): calls, pages, and what it returns
 * (tests: the CPUs a kernel would have interrupted).  Each glue provides
 * host_mapping_flush(): the unmaps it coalesced are applied there, at the
 * shootdown (every unmap of mm/ is followed by one) and before any map.
 * host_tlb_hook, if set, runs inside every shootdown, after the flush.
 */
extern unsigned long host_tlb_shootdowns, host_tlb_pages;
extern unsigned host_tlb_return;
extern void (*host_tlb_hook)(uintptr_t virt, size_t pages);
void host_mapping_flush(void);
/*
 * Also each glue's: the TLB entries of [virt, virt + pages * 4096) were flushed
 * (glue_tlb_shootdown): a simulated MMU that keeps Accessed/Dirty bits by page
 * protection reads the entries again (host/glue.c; the shim's does nothing).
 */
void host_tlb_sync(uintptr_t virt, size_t pages);
/* The page directory glue_paging_enable was given (0 before). */
extern uintptr_t host_directory_phys;
void host_lock_fork_prepare(void);
void host_lock_fork_parent(void);
void host_lock_fork_child(void);

#endif /* HOST_GLUE_COMMON_H */

/*
 * glue.h - everything the memory manager needs from its environment.
 *
 * the mm/ sources never touch hardware or libc; they call only these functions.
 * The kernel implements them in arch/x86/glue.c, the host (Linux, for the
 * unit tests, fuzzers and benchmarks) in host/glue.c.  To embed mm/ in your
 * own kernel, implement these functions and nothing else: Phase 1 needs the
 * console, the panic, the lock and glue_phys_to_virt; the growing heap, the
 * slabs, vmalloc and kernel stacks (Phase 2) the kernel pages, which mm/vmm.c
 * implements if you link it (then the last three too).
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
 * Locking: five functions, for one lock that need not nest.
 *
 * Every public function of mm/ but the PMM's and the VMM's takes the memory
 * manager's lock (mm/lock.c): interrupts off on this CPU (glue_irq_save),
 * then, unless this CPU already holds it, glue_spin_lock.  (The VMM's and the
 * PMM's take locks of their own, below that one, xchg spinlocks inside mm/:
 * they need nothing more from you than glue_cpu_relax.)  mm/'s locks, in the
 * order a CPU may take them (mm/lock.c says what each covers):
 *   1. a CPU's cache lock (the per-CPU slab magazines; interrupts off),
 *   2. mm_lock: the heap, the slabs' shared path, vmalloc, zswap, the
 *      describers, the reclaim hooks (glue_spin_lock),
 *   3. vmm_lock: the page tables, kmap, a shootdown's held pages,
 *   4. the PMM's per-CPU list locks, in CPU order,
 *   5. pmm_lock: the PMM's free lists,
 *   6. the report line's lock (log.c).
 * A CPU asking for a lock above one it holds (and not holding it already)
 * gets glue_panic with one line naming both, at the first run.  A call that
 * re-enters mm/ on the CPU holding the lock (the heap calls the VMM, the
 * VMM the PMM, a reclaim hook the heap, your own page-table code a
 * pmm_alloc_page, a fault handler vmm_describe) is counted by mm/ and does
 * not call glue_spin_lock again: so glue_spin_lock is
 * never called twice by one CPU without a glue_spin_unlock between, and a
 * kernel's ordinary spinlock (one that refuses to nest, as xv6's acquire) is
 * exactly what it needs.
 *
 * glue_irq_save:     disable interrupts on this CPU; return what restores them.
 * glue_irq_restore:  put them back as glue_irq_save found them.
 * glue_cpu_id:       this CPU's number (any int but -1, unique per CPU); mm/
 *                    calls it with interrupts off only.  One CPU: return 0.
 * glue_spin_lock:    mutual exclusion between CPUs, called with interrupts
 *                    off; need not (and is never asked to) nest.  One CPU:
 *                    may do nothing.
 * glue_spin_unlock:  release it.
 *
 * The kernel here: pushf/cli, popf's IF, CPU 0, an xchg spinlock
 * (arch/x86/glue.c).  The host: nothing, a per-thread number, an
 * error-checking pthread mutex that aborts if it is ever taken twice.
 */
typedef unsigned long glue_irqflags_t;
glue_irqflags_t glue_irq_save(void);
void glue_irq_restore(glue_irqflags_t flags);
int glue_cpu_id(void);
void glue_spin_lock(void);
void glue_spin_unlock(void);

/*
 * Inline forms (optional).  The per-CPU caches' fast path (mm/magazine.h)
 * calls glue_irq_save_fast, glue_irq_restore_fast and glue_cpu_id_fast, which
 * are the three functions above unless a header "glue_fast.h" on the include
 * path defines them as static inline functions doing the same (the kernel
 * here: pushf/cli, popf's IF, one %fs load; the host: nothing, nothing, a
 * thread-local word).  glue_cpu_id_fast may return -1 when the number is
 * not at hand cheaply (the host: a thread's first call); mm/ then takes its
 * shared path, which calls glue_cpu_id.  The header may also define
 * GLUE_FENCE_CPUS and declare `void glue_fence_cpus(void)`: return only
 * when every CPU has executed a full memory barrier (mfence or stronger)
 * since the call began (the host: Linux's membarrier; a kernel: an IPI that
 * every other CPU acknowledges).  With it, a CPU's fast path takes its cache
 * with plain moves and the rare side fences (mm/slab_priv.h,
 * cpu_cache_enter); without it, an xchg on every call.  With it, an owner
 * that finds its cache already busy (its CPU re-entered the fast path from
 * an NMI or exception handler inside it) takes the shared path; a glue whose
 * CPUs cannot re-enter (the host's threads) may define GLUE_FAST_NO_REENTRY
 * to skip that load.  A glue without the header needs nothing more.  Whatever
 * the inline forms read from outside mm/ must be named glue_*
 * (tools/layers.py).
 */
#if defined(__has_include)
#if __has_include("glue_fast.h")
#include "glue_fast.h"
#define MM_GLUE_FAST 1
#endif
#endif
#ifndef MM_GLUE_FAST
#define glue_irq_save_fast    glue_irq_save
#define glue_irq_restore_fast glue_irq_restore
#define glue_cpu_id_fast      glue_cpu_id
#endif

/*
 * (mm/'s own, not the glue's to define.)  MM_TSAN: this is a ThreadSanitizer
 * build (gcc's -fsanitize=thread says __SANITIZE_THREAD__, clang's a feature;
 * gcc before 14 has no __has_feature: an #if of its own).  TSan sees neither
 * inside an asm statement nor a fence by another CPU: mm/ then takes the
 * builtins and the xchg form of the per-CPU cache lock (mm/slab_priv.h).
 */
#if defined(__SANITIZE_THREAD__)
#define MM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MM_TSAN 1
#endif
#endif

/*
 * Where physical address `phys` can be reached by the CPU right now.  The
 * kernel before paging: identity (returns phys).  The host: inside its
 * simulated physical memory.
 */
void *glue_phys_to_virt(uintptr_t phys);

/* ---- Phase 2: kernel pages (the growing heap, slabs, vmalloc, kernel stacks) ---- */

/*
 * mm/ maps single 4 KB pages of kernel memory for itself, only inside the
 * three ranges of include/vmm.h: [HEAP_VIRTUAL_START, HEAP_VIRTUAL_END],
 * [VMALLOC_START, VMALLOC_END] and [MM_META_START, MM_META_END] (leave them to
 * mm/).  Link mm/vmm.c and it implements these four with our page tables (the
 * kernel here and the host tests do); a kernel with its own paging writes them
 * itself, and needs neither vmm.c nor the four paging functions below.  All
 * four run inside mm/'s locks: glue_kmap and glue_kunmap with its VMM lock
 * held (vmm_lock, mm/lock.c; often mm_lock too), glue_kmapped (a read) and
 * glue_kmap_ready with either or both.  They may call pmm_alloc_page (a page
 * table), never kmalloc or anything else above the VMM; that re-enters mm/
 * on this CPU (counted, see above); inside glue_kmap it
 * runs no reclaim hook (mm/ is halfway through a change): none left, -1.
 *
 * glue_kmap_ready:  1 once pages can be mapped (paging is on), else 0.
 * glue_kmap:        map virt -> phys, present, writable, kernel only; 0, or
 *                   -1 if it cannot (no memory for a page table, already mapped).
 * glue_kunmap:      unmap virt and flush its TLB entry on THIS CPU only (invlpg);
 *                   return the physical address it mapped (0 if it was not
 *                   mapped).  mm/ then calls glue_tlb_shootdown once for the
 *                   whole run it unmapped, and frees the pages only after it
 *                   returned (a page table your kunmap empties: free it no
 *                   earlier either; or keep it, as the simplest kernels do).
 * glue_kmapped:     the physical address behind virt, 0 if unmapped.
 */
int glue_kmap_ready(void);
int glue_kmap(uintptr_t virt, uintptr_t phys);
uintptr_t glue_kunmap(uintptr_t virt);
uintptr_t glue_kmapped(uintptr_t virt);

/*
 * Runs of pages mapped (optional: mm/kmap.c defines both as weak no-ops, so a
 * glue that leaves them out still links and works; every kernel with a real
 * MMU can, since a page table entry works as soon as it is written).
 *
 * glue_kmap_run_begin:  mm/ is about to map a run of pages one by one
 *                       (glue_kmap; with mm/vmm.c, glue_mapping_changed):
 *                       the heap growing, a vmalloc area or kernel stack
 *                       (mm/kmap.c's kmap_alloc_run, up to 128 pages).
 * glue_kmap_run_end:    the run is over: every page mapped since the begin
 *                       must be usable when this returns.
 *
 * Between the two, mm/ calls nothing of the glue but glue_kmap (with
 * mm/vmm.c: glue_mapping_changed, and a page table from the PMM, no reclaim
 * hook) and touches none of the pages, so a glue may defer making them real
 * and change the whole run at once: the host glues make one system call per
 * run (mprotect, or one mmap of the memfd where the frames are consecutive
 * too) instead of one per page.  Runs never nest, and mm/ holds vmm_lock
 * from the begin to the end.  A run stopped by a refused glue_kmap ends too;
 * the pages it did not map stay unmapped.
 */
void glue_kmap_run_begin(void);
void glue_kmap_run_end(void);

/*
 * TLB shootdown (every kernel with paging, mm/vmm.c's or its own).
 *
 * Kernel mappings of [virt, virt + pages * 4096) were removed or changed, and
 * this CPU has flushed them.  Before returning, every other CPU that may have
 * cached them has flushed them too (an IPI with acknowledgement), so mm/ may
 * now free their frames.  Returns the number of CPUs interrupted (0 on one
 * CPU).  Called with mm/'s VMM lock held (vmm_lock), interrupts off.
 *
 * mm/ batches: a vfree, a kernel stack freed, the heap shrinking, a run of
 * metadata pages unmapped make ONE call for the whole run (after every page
 * of it is unmapped, before any of its frames goes back to the PMM); a page
 * table emptied by the run is covered by the same call (INVLPG of an address
 * also drops the paging-structure caches), and its frame goes back after it.
 * vmm_unmap_page makes one call for its page.  Counted in memory_stats_t's
 * tlb_shootdowns (calls) and tlb_ipis (the sum of the returns).
 *
 * One CPU: return 0 (this CPU flushed already).
 */
unsigned glue_tlb_shootdown(uintptr_t virt, size_t pages);

/*
 * A pause hint inside mm/'s own spin loops (the per-CPU caches' locks, taken
 * with interrupts off; x86: `rep; nop`, the PAUSE instruction).  A kernel
 * whose shootdown waits for an acknowledgement also answers pending shootdown
 * requests here, as in its glue_spin_lock's loop: a CPU spinning for a lock
 * with interrupts off cannot take the shootdown's IPI.
 */
void glue_cpu_relax(void);

/* A pointer through which the code can use kernel virtual address `virt` (a kernel: the cast). */
void *glue_virt_to_ptr(uintptr_t virt);

/* ---- Only with mm/vmm.c, our paging ---- */

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

#endif /* MM_GLUE_H */

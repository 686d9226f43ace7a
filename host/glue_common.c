/*
 * glue_common.c - the part of mm/glue.h both host glues share: the lock,
 * physical addresses and page tables in simulated physical memory, and paging
 * (nothing to switch on).  Built into the host tests (with host/glue.c) and
 * into build/host/libkmalloc.so (with host/shim_glue.c); each provides the
 * simulated memory (host/glue_common.h).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "glue.h"
#include "glue_common.h"
#include "lock.h"
#include "magazine.h" /* mag_lock_all: the CPUs' cache locks across a fork */

_Static_assert(GLUE_HOST_CPU_NATURAL == HOST_CPU_ID_NATURAL, "glue_fast.h tests the same number");

/*
 * Error-checking, not recursive: mm/ counts its own nesting (mm/lock.c) and
 * must never ask for the spinlock twice on one thread; if it did, this aborts.
 */
static pthread_mutex_t mm_mutex = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

glue_irqflags_t glue_irq_save(void)
{
    return 0;
}

void glue_irq_restore(glue_irqflags_t flags)
{
    (void)flags;
}

/*
 * A thread is a CPU.  Its number is dense, as the kernel's are (mm/'s per-CPU
 * caches index by it, ids below MM_MAX_CPUS): the lowest id no live thread
 * has, given at the thread's first glue_cpu_id.  When the thread exits, a
 * pthread key's destructor gives the id back, so a long-running process (the
 * shim's programs, a test file that starts threads case after case) keeps
 * reusing 0, 1, 2...; two live threads never share one.  A thread that calls
 * mm/ again after its destructor ran (the C library frees a little after the
 * key destructors) gets a late id, above every dense one, never given twice
 * while it could still be live (a counter).  Past HOST_CPU_IDS live threads,
 * ids are counted up and not reused.
 *
 * Nothing here allocates: the key is made at the first glue_cpu_id of the
 * process (in the shim that is its own start-up, so the key is one of the
 * first, whose value glibc keeps without allocating), and this_cpu is set
 * before pthread_setspecific, so were it to allocate, that malloc would find
 * the thread numbered and re-enter nothing half-done.  ThreadSanitizer sees
 * the mutex and the key; this_cpu is the thread's own.
 */
#define HOST_CPU_IDS       1024
#define HOST_LATE_CPU_BASE 0x10000000
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char id_used[HOST_CPU_IDS];
static int id_next_unshared = HOST_CPU_IDS; /* beyond the table: counted up */
static int id_peak;                         /* highest id given + 1 */
static unsigned id_late;
static pthread_key_t id_key;
static pthread_once_t id_key_once = PTHREAD_ONCE_INIT;
/* initial-exec: one instruction in the shim too (an LD_PRELOAD library is loaded at start-up) */
#define HOST_TLS __attribute__((tls_model("initial-exec")))
__thread HOST_TLS int glue_host_cpu = -1; /* glue_fast.h reads it inline */
#define this_cpu glue_host_cpu
static __thread HOST_TLS int this_cpu_gone; /* the key's destructor ran: the thread is exiting */

int host_forced_cpu_id = HOST_CPU_ID_NATURAL; /* (glue_common.h: glue_host_cpu_forced) */

static void cpu_id_release(void *value)
{
    (void)value;
    int id = this_cpu;
    pthread_mutex_lock(&id_lock);
    if (id >= 0 && id < HOST_CPU_IDS)
        id_used[id] = 0;
    pthread_mutex_unlock(&id_lock);
    this_cpu = -1;
    this_cpu_gone = 1;
}

static void cpu_id_key_create(void)
{
    if (pthread_key_create(&id_key, cpu_id_release) != 0)
        glue_panic("host glue: pthread_key_create for the CPU ids failed");
}

/* (noinline: glue_cpu_id, on every kmalloc and kfree, stays a leaf) */
static __attribute__((noinline)) int cpu_id_assign(void)
{
    if (this_cpu_gone) { /* exiting: a late id, its dense one may already be another's */
        this_cpu = HOST_LATE_CPU_BASE +
                   (int)(__atomic_fetch_add(&id_late, 1, __ATOMIC_RELAXED) % 0x40000000u);
        return this_cpu;
    }
    pthread_once(&id_key_once, cpu_id_key_create);
    pthread_mutex_lock(&id_lock);
    int id = 0;
    while (id < HOST_CPU_IDS && id_used[id])
        id++;
    if (id < HOST_CPU_IDS)
        id_used[id] = 1;
    else
        id = id_next_unshared++;
    if (id >= id_peak)
        id_peak = id + 1;
    pthread_mutex_unlock(&id_lock);
    this_cpu = id;
    if (pthread_setspecific(id_key, (void *)1) != 0)
        glue_panic("host glue: pthread_setspecific for the CPU id failed");
    return id;
}

int glue_cpu_id(void)
{
    int forced = host_forced_cpu_id, id = this_cpu;
    if (forced != HOST_CPU_ID_NATURAL)
        return forced;
    return id >= 0 ? id : cpu_id_assign();
}

int host_cpu_ids_peak(void)
{
    pthread_mutex_lock(&id_lock);
    int n = id_peak;
    pthread_mutex_unlock(&id_lock);
    return n;
}

int host_cpu_ids_live(void)
{
    pthread_mutex_lock(&id_lock);
    int n = 0;
    for (int i = 0; i < HOST_CPU_IDS; i++)
        n += id_used[i];
    pthread_mutex_unlock(&id_lock);
    return n;
}

unsigned long host_spin_locks;

/* How often glue_spin_lock found the lock taken, and how often it then slept (__atomic). */
unsigned long host_spin_contended, host_spin_slept;

/*
 * The lock is waited for as the kernel's spinlock is, then slept for: up to
 * HOST_SPIN_TRIES tries with the pause hint between them, then HOST_YIELD_TRIES
 * with a sched_yield between them (its holder may have lost its CPU: a thread
 * is a CPU here, and the host's scheduler can preempt it inside mm/, which no
 * kernel CPU can be with interrupts off), and only then the mutex's sleeping
 * wait.  mm_lock is held for well under a microsecond at a time; waking a
 * sleeping thread costs a futex wake system call in the holder's unlock and a
 * context switch in the sleeper; a yield needs nothing of the holder (10
 * yields, not 1 000, still slept 120-8 789 times in 800 000 takes of two
 * threads on an idle machine).  Sleeping at once made two threads that take
 * the lock on every call (kmalloc of more than 512 bytes) a convoy: with
 * random 8 B-64 KB sizes, 200 000 calls on each of two threads made 50 952
 * context switches and took 1.2 s, one thread alone 0.13 s.  trylock on
 * an error-checking mutex fails on the caller's own lock as on another's: a
 * second take by one thread still reaches pthread_mutex_lock, which reports it.
 */
#ifndef HOST_SPIN_TRIES
#define HOST_SPIN_TRIES 1000
#endif
#ifndef HOST_YIELD_TRIES
#define HOST_YIELD_TRIES 1000
#endif

static int spin_for_mutex(void)
{
    if (pthread_mutex_trylock(&mm_mutex) == 0)
        return 1;
    __atomic_fetch_add(&host_spin_contended, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < HOST_SPIN_TRIES + HOST_YIELD_TRIES; i++) {
        if (i < HOST_SPIN_TRIES)
            glue_cpu_relax();
        else
            sched_yield();
        if (pthread_mutex_trylock(&mm_mutex) == 0)
            return 1;
    }
    __atomic_fetch_add(&host_spin_slept, 1, __ATOMIC_RELAXED);
    return 0;
}

void glue_spin_lock(void)
{
    if (!spin_for_mutex()) {
        int e = pthread_mutex_lock(&mm_mutex);
        if (e) {
            fprintf(stderr, "host glue: glue_spin_lock: %s (mm/ took the spinlock twice)\n",
                    strerror(e));
            abort();
        }
    }
    host_spin_locks++;
}

void glue_spin_unlock(void)
{
    int e = pthread_mutex_unlock(&mm_mutex);
    if (e) {
        fprintf(stderr, "host glue: glue_spin_unlock: %s\n", strerror(e));
        abort();
    }
}

/*
 * Every CPU's cache lock first (mm/magazine.c's lock order: before mm_lock), so that no thread
 * is inside its fast path at the fork: one that is (busy set; in the xchg build its lock taken)
 * is not in the child, which would inherit its CPU busy and wait for it in every mag_lock_all
 * (statistics, checks), with that CPU's magazine maybe half-changed.
 */
static uint32_t fork_cpus_held;

void host_lock_fork_prepare(void)
{
    glue_irqflags_t c;
    fork_cpus_held = mag_lock_all(&c); /* (glue_irq_save's 0) */
    glue_irqflags_t f = mm_lock();
    (void)f;          /* glue_irq_save's 0 */
    (void)vmm_lock(); /* the VMM's own, below it (mm/lock.c's order) */
}

void host_lock_fork_parent(void)
{
    vmm_unlock(0);
    mm_unlock(0);
    mag_unlock_all(fork_cpus_held, 0);
}

/*
 * The child's thread has a new kernel id: the mutex it inherited locked is not its own.
 * The CPU ids of the parent's other threads are free again in the child.
 */
void host_lock_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
    mm_mutex = fresh;
    /* the parent's other threads are not here: only this one's id stays taken */
    pthread_mutex_t fresh_ids = PTHREAD_MUTEX_INITIALIZER;
    id_lock = fresh_ids;
    for (int i = 0; i < HOST_CPU_IDS; i++)
        id_used[i] = 0;
    if (this_cpu >= 0 && this_cpu < HOST_CPU_IDS)
        id_used[this_cpu] = 1;
    pthread_mutex_lock(&mm_mutex);
    vmm_unlock(0); /* taken by this thread before the fork: its id is the same */
    mm_unlock(0);
    /*
     * An owner's cpu_cache_enter sets busy before it reads `lock` and backs off: a thread
     * forked in that moment left its CPU busy with `lock` held, and is not here to clear it.
     */
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++)
        __atomic_store_n(&slab_all.cpu[cpu].busy, 0u, __ATOMIC_RELAXED);
    mag_unlock_all(fork_cpus_held, 0);
}

unsigned long host_tlb_shootdowns, host_tlb_pages;
unsigned host_tlb_return;
void (*host_tlb_hook)(uintptr_t virt, size_t pages);

/* Threads stand in for CPUs, and the host's MMU is shared: flushing is the host's mirror. */
unsigned glue_tlb_shootdown(uintptr_t virt, size_t pages)
{
    host_mapping_flush(); /* the coalesced unmaps, one system call per run */
    host_tlb_sync(virt, pages);
    host_tlb_shootdowns++;
    host_tlb_pages += pages;
    if (host_tlb_hook)
        host_tlb_hook(virt, pages);
    return host_tlb_return;
}

/*
 * glue_fence_cpus (host/glue_fast.h).  membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
 * makes every CPU running one of this process's threads execute a full
 * barrier before it returns (a thread not running passed one when it was
 * switched out); the process registers once (again after a fork: a new
 * process).  Where the system call is missing or refused (an old kernel, a
 * seccomp filter, an emulator), a page made writable, written, and made
 * read-only again: taking a permission away flushes it from every CPU that
 * may hold it in its TLB, and on x86 Linux does that by an interrupt to each
 * CPU running this process, which serialises it (Folly's
 * asymmetricHeavyBarrier does the same).  Counted in host_fences.
 */
#define MB_CMD_PRIVATE_EXPEDITED          (1 << 3) /* <linux/membarrier.h> */
#define MB_CMD_REGISTER_PRIVATE_EXPEDITED (1 << 4)

unsigned long host_fences, host_fences_mprotect;
int host_fence_force_mprotect; /* a test's: the fallback even where membarrier works */
static pthread_mutex_t fence_lock = PTHREAD_MUTEX_INITIALIZER;
static int fence_by_mprotect;
static volatile char *fence_page;

static int membarrier_now(void)
{
#ifdef SYS_membarrier
    if (syscall(SYS_membarrier, MB_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return 1;
    if (errno == EPERM && syscall(SYS_membarrier, MB_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 &&
        syscall(SYS_membarrier, MB_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return 1; /* (not registered yet: the first call, or a forked child) */
#endif
    return 0;
}

void glue_fence_cpus(void)
{
    __atomic_fetch_add(&host_fences, 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* this thread's own */
    if (!__atomic_load_n(&host_fence_force_mprotect, __ATOMIC_RELAXED) &&
        !__atomic_load_n(&fence_by_mprotect, __ATOMIC_RELAXED) && membarrier_now())
        return;
    pthread_mutex_lock(&fence_lock);
    if (!host_fence_force_mprotect)
        __atomic_store_n(&fence_by_mprotect, 1, __ATOMIC_RELAXED); /* refused: from now on */
    host_fences_mprotect++;
    if (!fence_page) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            glue_panic("host glue: glue_fence_cpus: no page for the fence");
        fence_page = p;
    }
    if (mprotect((void *)fence_page, 4096, PROT_READ | PROT_WRITE) != 0)
        glue_panic("host glue: glue_fence_cpus: mprotect failed");
    fence_page[0]++; /* in this CPU's TLB, writable: the downgrade must flush it everywhere */
    if (mprotect((void *)fence_page, 4096, PROT_READ) != 0)
        glue_panic("host glue: glue_fence_cpus: mprotect failed");
    pthread_mutex_unlock(&fence_lock);
}

void glue_cpu_relax(void)
{
#if defined(__i386__) || defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

void *glue_phys_to_virt(uintptr_t p)
{
    if (p >= host_phys_size)
        glue_panic("glue_phys_to_virt: address beyond simulated physical memory");
    return host_phys_base() + p;
}

void *glue_page_table(unsigned pdx, uintptr_t table_phys)
{
    (void)pdx; /* no recursive window on the host: tables are in simulated physical memory */
    return glue_phys_to_virt(table_phys);
}

uintptr_t host_directory_phys;

void glue_paging_enable(uintptr_t directory_phys)
{
    host_directory_phys = directory_phys; /* the simulated MMU walks from here (host/glue.c) */
}

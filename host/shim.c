/*
 * shim.c - the C library's malloc API on top of kmalloc, for LD_PRELOAD.
 *
 *   LD_PRELOAD=build/host/libkmalloc.so python3 script.py
 *
 * makes our heap (mm/kmalloc.c and the heap_*.c files on the PMM and VMM, glue in host/shim_glue.c)
 * the process's malloc: malloc, free, calloc, realloc, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc and malloc_usable_size.  Only those
 * names leave the library (everything is built -fvisibility=hidden), so a
 * program's own kmalloc or heap_check cannot collide with ours.
 *
 * Start-up.  Nothing happens before the first call: then, under the glue
 * lock, the heap is brought up the way the kernel's Phase 2 does it
 * (memory_init, pmm_init, vmm_init, heap_init_virtual) and the fork handlers
 * are registered.  A call made from inside that start-up (the C library may
 * allocate while we set things up) is served from `boot`, a small static
 * bump buffer that is never reused: free() of such a pointer does nothing,
 * realloc() copies it out.  Other threads wait on the lock.
 *
 * Mapping onto the heap.
 *   - glibc promises 16-byte alignment on x86_64; so does the heap there
 *     (HEAP_BLOCK_ALIGN), and kmalloc_aligned(n, MALLOC_ALIGN) is then plain
 *     kmalloc.  Coarser alignments go through kmalloc_aligned.
 *   - malloc(0) is a unique pointer (kmalloc(0) is NULL by the spec):
 *     we ask for 1 byte.
 *   - realloc(p, 0) frees p and returns NULL, as glibc does.  krealloc keeps
 *     p where it is whenever it can, and what it returns is 16-byte aligned
 *     (the check after it stays, for a build with 8-byte blocks).
 *   - every NULL sets errno = ENOMEM (posix_memalign returns the code).
 *   - only pointers inside the heap window reach kfree/krealloc; a bad one
 *     there (double free, interior pointer...) is reported by the heap on
 *     stderr and survived.  Anything else is reported here and ignored.
 *   - calloc's zeroing and realloc's copy are mm/string.c's memset and
 *     memcpy too (memory.h renames them to mm_* under MM_HOSTED).
 *
 * MM_SHIM_STATS=1 in the environment prints one line at exit on stderr: the
 * heap's counters, its peak sizes, what heap_check() found, and the system
 * calls of the simulated MMU (runs mapped and unmapped, and their pages).
 * MM_SHIM_STATS=/absolute/path appends that line to a file instead (for
 * programs that close stderr, and to keep a program's stderr its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glue.h"
#include "glue_common.h"
#include "lock.h"
#include "log.h"
#include "magazine.h" /* kmalloc's and kfree's per-CPU fast path, inline in malloc and free */
#include "memory.h"
#include "pmm.h"
#include "shim.h"
#include "vmm.h"

#define SHIM_API     __attribute__((visibility("default")))
#define MALLOC_ALIGN 16 /* glibc's MALLOC_ALIGNMENT on x86_64 */
#define BOOT_SIZE    (64 * 1024)

_Static_assert(MALLOC_ALIGN >= _Alignof(max_align_t), "malloc must suit every type");

static int ready;        /* kmalloc is up (read without the lock: atomic) */
static int initialising; /* start-up in progress (under the lock) */
static unsigned long foreign_count;

/* ---------------------------------------------------------- messages ---- */

static __attribute__((noinline, cold)) void report_foreign(const char *fn, void *p)
{
    char line[256];
    size_t n =
        mm_snprintf(line, sizeof(line),
                    "ERROR: %s: %p: not allocated by this malloc (kmalloc shim): ignored\n", fn, p);
    shim_write_stderr(line, n);
    __atomic_add_fetch(&foreign_count, 1, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------- bootstrap ---- */

/*
 * Start-up allocations: bump, never reused.  The size is kept in the word
 * below each block, for realloc and malloc_usable_size.
 */
static _Alignas(MALLOC_ALIGN) char boot[BOOT_SIZE];
static size_t boot_used;

static int boot_owns(const void *p)
{
    return (const char *)p >= boot && (const char *)p < boot + BOOT_SIZE;
}

static size_t boot_size(const void *p)
{
    return ((const size_t *)p)[-1];
}

static void *boot_alloc(size_t size, size_t align)
{
    uintptr_t base = (uintptr_t)boot;
    uintptr_t p = (base + boot_used + sizeof(size_t) + align - 1) & ~(uintptr_t)(align - 1);
    if (size > BOOT_SIZE || p - base > BOOT_SIZE - size) {
        errno = ENOMEM;
        return NULL;
    }
    ((size_t *)p)[-1] = size;
    boot_used = p + size - base;
    return (void *)p;
}

/* ----------------------------------------------------------- start-up ---- */

/* heap_ready's first call: brings the heap up (noinline: malloc's frame stays small). */
static __attribute__((noinline)) int heap_start(void)
{
    glue_irqflags_t f = mm_lock();
    if (!ready && !initialising) {
        initialising = 1;
        if (shim_glue_init() < 0)
            abort();
        memory_init();
        pmm_init(SHIM_RAM_SIZE);
        vmm_init();
        heap_init_virtual();
        memory_stats_t s;
        get_memory_stats(&s);
        if (!s.heap_virtual_size)
            glue_panic("heap_init_virtual did not start the virtual heap");
        initialising = 0;
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
        /* after `ready`: if registering allocates, the heap serves it */
        pthread_atfork(host_lock_fork_prepare, host_lock_fork_parent, host_lock_fork_child);
    }
    int r = ready;
    mm_unlock(f);
    return r;
}

/* Is kmalloc usable?  Brings the heap up on the first call; 0 only from inside start-up. */
static inline int heap_ready(void)
{
    return __atomic_load_n(&ready, __ATOMIC_ACQUIRE) || heap_start();
}

/* ------------------------------------------------------------- the API ---- */

static int power_of_two(size_t x)
{
    return x && (x & (x - 1)) == 0;
}

/* size bytes (0 counts as 1) at a multiple of align (a power of two); errno on NULL. */
static void *alloc(size_t size, size_t align)
{
    if (align < MALLOC_ALIGN)
        align = MALLOC_ALIGN;
    if (!heap_ready())
        return boot_alloc(size, align);
    /* (kmalloc's own alignment, HEAP_BLOCK_ALIGN, is malloc's on x86_64: no detour) */
    void *p = align <= HEAP_BLOCK_ALIGN ? kmalloc(size ? size : 1)
                                        : kmalloc_aligned(size ? size : 1, align);
    if (!p)
        errno = ENOMEM;
    return p;
}

/*
 * malloc and free take kmalloc's and kfree's per-CPU fast path inline
 * (mm/magazine.h: the same code, every check included), and call the
 * functions only when it declines.  The fast path touches no errno and makes
 * no system call.
 */
/* malloc's other cases (noinline: its fast path builds no frame for them). */
static __attribute__((noinline)) void *malloc_slow(size_t size)
{
    return alloc(size, MALLOC_ALIGN);
}

SHIM_API void *malloc(size_t size)
{
    /*
     * (kmalloc's alignment is malloc's: see alloc.  0: an empty magazine is malloc_slow's.  No
     * test of `ready`: until heap_start's slab_enable the classes are not laid out and this is
     * NULL; from then on start-up holds mm/'s lock, which a fill waits for and which makes its
     * own thread's calls decline here.)
     */
    void *p = mag_kmalloc_fill(size, 0);
    return p ? p : malloc_slow(size);
}

/* free's other cases (noinline: free's fast path builds no frame for them). */
static __attribute__((noinline)) void free_slow(void *p)
{
    if (!p || boot_owns(p))
        return;
    int saved = errno; /* glibc's free leaves errno alone */
    if (shim_glue_owns(p))
        kfree(p);
    else
        report_foreign("free", p);
    errno = saved;
}

SHIM_API void free(void *p)
{
    /* (a pointer of the growing heap's slabs is inside the window: shim_glue_owns) */
    if (!mag_kfree(p)) /* (NULL too: it is no slab object) */
        free_slow(p);
}

SHIM_API void *calloc(size_t count, size_t size)
{
    if (count && size > (size_t)-1 / count) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = alloc(count * size, MALLOC_ALIGN);
    if (p && !boot_owns(p)) /* the boot buffer is never reused: still zero */
        memset(p, 0, count * size);
    return p;
}

SHIM_API void *realloc(void *p, size_t size)
{
    if (!p)
        return malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    if (boot_owns(p)) {
        void *q = malloc(size);
        if (q)
            memcpy(q, p, boot_size(p) < size ? boot_size(p) : size);
        return q;
    }
    if (!shim_glue_owns(p)) {
        report_foreign("realloc", p);
        errno = ENOMEM;
        return NULL;
    }
    void *q = krealloc(p, size); /* NULL: no memory or a bad p (reported); p is untouched */
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    if ((uintptr_t)q % MALLOC_ALIGN == 0)
        return q;
    void *r = kmalloc_aligned(size, MALLOC_ALIGN);
    if (!r)
        return q; /* the heap is full: 8-byte aligned data beats lost data */
    memcpy(r, q, size);
    kfree(q);
    return r;
}

SHIM_API int posix_memalign(void **out, size_t align, size_t size)
{
    if (!power_of_two(align) || align % sizeof(void *))
        return EINVAL;
    int saved = errno; /* reports through the return value only */
    void *p = alloc(size, align);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

SHIM_API void *aligned_alloc(size_t align, size_t size)
{
    if (!power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return alloc(size, align);
}

SHIM_API void *memalign(size_t align, size_t size)
{
    /* glibc rounds an alignment that is not a power of two up to one */
    if (align > ((size_t)-1 >> 1) + 1) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = MALLOC_ALIGN;
    while (a < align)
        a <<= 1;
    return alloc(size, a);
}

SHIM_API void *valloc(size_t size)
{
    return alloc(size, (size_t)sysconf(_SC_PAGESIZE));
}

SHIM_API void *pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > (size_t)-1 - page) {
        errno = ENOMEM;
        return NULL;
    }
    size = (size + page - 1) & ~(page - 1);
    return alloc(size ? size : page, page);
}

SHIM_API size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (boot_owns(p))
        return boot_size(p);
    if (!shim_glue_owns(p)) {
        report_foreign("malloc_usable_size", p);
        return 0;
    }
    return kmalloc_usable_size(p);
}

/* --------------------------------------------------------------- exit ---- */

__attribute__((destructor)) static void shim_stats(void)
{
    /* read now, not at start-up: the first malloc may come before libc has set up environ */
    const char *want = getenv("MM_SHIM_STATS");
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE) || !want ||
        (strcmp(want, "1") && want[0] != '/'))
        return;
    memory_stats_t s;
    get_memory_stats(&s);
    int broken = heap_check();
    char line[512];
    size_t n = mm_snprintf(line, sizeof(line),
                           "kmalloc-shim: %s[%lu]: allocations %u frees %u peak_used_kb %u "
                           "heap_peak_kb %u heap_now_kb %u errors %u foreign %lu boot_bytes %lu "
                           "heap_check %d cpu_ids_peak %d map_calls %lu map_pages %lu "
                           "unmap_calls %lu unmap_pages %lu\n",
                           program_invocation_short_name, (unsigned long)getpid(),
                           s.allocation_count, s.free_count, s.peak_heap_used / 1024,
                           s.heap_virtual_peak / 1024, s.heap_virtual_size / 1024, s.error_count,
                           __atomic_load_n(&foreign_count, __ATOMIC_RELAXED),
                           (unsigned long)boot_used, broken, host_cpu_ids_peak(), shim_map_calls,
                           shim_map_pages, shim_unmap_calls, shim_unmap_pages);
    /* mm_lock's takes, and how many found it taken and then slept (host/glue_common.c) */
    n += mm_snprintf(line + n, sizeof(line) - n,
                     "kmalloc-shim-lock: %s[%lu]: taken %lu contended %lu slept %lu\n",
                     program_invocation_short_name, (unsigned long)getpid(), host_spin_locks,
                     __atomic_load_n(&host_spin_contended, __ATOMIC_RELAXED),
                     __atomic_load_n(&host_spin_slept, __ATOMIC_RELAXED));
    if (want[0] == '/') {
        int fd = open(want, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ssize_t written = write(fd, line, n); /* O_APPEND: one line, one write */
            (void)written;
            close(fd);
        }
    } else {
        shim_write_stderr(line, n);
    }
}

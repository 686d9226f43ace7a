/*
 * shim_glue.c - mm/glue.h for the LD_PRELOAD malloc (build/host/libkmalloc.so).
 *
 * The memory manager runs here exactly as in the kernel's Phase 2: the shim
 * calls memory_init, pmm_init(SHIM_RAM_SIZE), vmm_init and heap_init_virtual,
 * and kmalloc then serves from the virtual heap, which the heap grows page by
 * page (pmm_alloc_page + vmm_map) up to 256 MB and shrinks (vmm_unmap_page,
 * the page goes back to the PMM).  This file provides what that needs in a
 * process whose malloc we are: no stdio, no malloc, nothing that allocates.
 *
 * Host memory, two reservations made once (MAP_NORESERVE: untouched pages
 * cost nothing):
 *
 *   ram     SHIM_RAM_SIZE bytes: simulated physical memory.  Physical P is
 *           at ram + P.  The PMM's metadata and every page table live here,
 *           so the PMM and the VMM really allocate and fill them.
 *   window  256 MB: kernel virtual [HEAP_VIRTUAL_START, HEAP_VIRTUAL_END]
 *           (the heap), PROT_NONE until the VMM maps a page there.
 *
 * glue_mapping_changed() makes the VMM's decisions real in the window: a page
 * mapped by the VMM becomes readable and writable (mprotect), an unmapped one
 * is dropped and faults again (fresh PROT_NONE memory mapped over it); runs
 * of pages in one call each (below).  The
 * heap's bytes live in the window's own pages, not in the RAM page the VMM
 * chose for them: host/glue.c (the unit tests) aliases the two with a shared
 * memfd, and we deliberately do not:
 *
 *   - fork.  A MAP_SHARED memfd stays shared with the child, so parent and
 *     child would allocate from, and scribble on, one heap.  Private
 *     anonymous memory is copied on write by fork, like any process's heap.
 *   - mappings.  An alias is one mmap per page; contiguous memfd offsets at
 *     contiguous addresses merge into one VMA, but the PMM's page order
 *     decides that (measured: 139 VMAs for a 212 MB heap under churn; the
 *     limit, vm.max_map_count, is 65530 and each unmerged page costs one).
 *     Here the heap is always one mapped prefix of the window: 2 VMAs.
 *
 * The rest of kernel virtual memory needs no mirror: the identity map
 * (below KERNEL_VIRTUAL_BASE) and the direct map (KERNEL_VIRTUAL_BASE + P)
 * are fixed and reach physical P at ram + P; page tables are reached through
 * glue_page_table, also in ram.
 *
 * Locking: one recursive mutex (mm/ nests it: heap -> VMM -> PMM), the same
 * as the unit tests' (host/glue_common.c, with glue_phys_to_virt and the page
 * tables).  It also guards the shim's lazy initialisation.  Across fork() it
 * is held (pthread_atfork, registered by shim.c; host/glue_common.h says how).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "glue.h"
#include "glue_common.h"
#include "memory.h"
#include "shim.h"
#include "vmm.h"

#define WINDOW_SIZE ((uintptr_t)HEAP_VIRTUAL_END - HEAP_VIRTUAL_START + 1)
#define META_SIZE   ((uintptr_t)MM_META_END - MM_META_START + 1)

static char *ram;    /* simulated physical memory: physical P is at ram + P */
static char *window; /* kernel virtual HEAP_VIRTUAL_START is at window */
static char *meta;   /* ... and MM_META_START (slab descriptors) at meta */

/* ------------------------------------------------------------ console ---- */

void shim_write_stderr(const char *s, size_t len)
{
    int saved = errno;
    while (len) {
        ssize_t n = write(2, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* stderr closed: nowhere left to say it */
        s += n;
        len -= (size_t)n;
    }
    errno = saved;
}

void glue_console_write(const char *s, size_t len)
{
    shim_write_stderr(s, len);
}

void glue_panic(const char *msg)
{
    static const char prefix[] = "kmalloc shim: PANIC: ";
    shim_write_stderr(prefix, sizeof(prefix) - 1);
    shim_write_stderr(msg, strlen(msg));
    shim_write_stderr("\n", 1);
    abort();
}

/* ------------------------------------------------------- host memory ---- */

static void *reserve(size_t size, int prot)
{
    void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int shim_glue_init(void)
{
    ram = reserve(SHIM_RAM_SIZE, PROT_READ | PROT_WRITE);
    window = reserve(WINDOW_SIZE, PROT_NONE);
    meta = reserve(META_SIZE, PROT_NONE);
    if (!ram || !window || !meta) {
        static const char msg[] = "kmalloc shim: cannot reserve simulated memory\n";
        shim_write_stderr(msg, sizeof(msg) - 1);
        return -1;
    }
    return 0;
}

int shim_glue_owns(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    return window && a >= (uintptr_t)window && a - (uintptr_t)window < WINDOW_SIZE;
}

static int in_heap(uintptr_t virt)
{
    return virt >= HEAP_VIRTUAL_START && virt <= HEAP_VIRTUAL_END;
}

static int in_meta(uintptr_t virt)
{
    return virt >= MM_META_START && virt <= MM_META_END;
}

/* ------------------------------------------------------ glue.h memory ---- */

/* host/glue_common.c's glue_phys_to_virt and glue_page_table reach physical memory here. */
const size_t host_phys_size = SHIM_RAM_SIZE;

char *host_phys_base(void)
{
    return ram;
}

/*
 * Unmaps are coalesced: a run of adjacent pages unmapped one by one is dropped
 * with one call, at mm/'s TLB shootdown for the run (glue_tlb_shootdown calls
 * host_mapping_flush), or before the next map.  Between the two mm/ does not
 * touch the pages (they wait for the shootdown).  The call is an mmap of fresh
 * PROT_NONE memory over the run, made as reserve() made the window: it drops
 * the pages' contents (as MADV_DONTNEED) and protection (as mprotect) at once,
 * and the kernel merges it back into the PROT_NONE part of the window.
 *
 * So are maps, inside a run mm/ announces (glue_kmap_run_begin/_end, the heap
 * growing): adjacent pages mapped one by one become readable and writable with
 * one mprotect at the run's end, when mm/ may touch them; before it a page of
 * the run still faults, and one the run never mapped stays PROT_NONE.  Outside
 * a run, or before an unmap, a map is applied at once.  Both pending runs are
 * guarded by mm/'s lock, held from a run's begin to its end.
 */
static char *unmap_lo, *unmap_hi; /* the pending unmap run [lo, hi), host addresses */
static char *map_lo, *map_hi;     /* the pending map run */
static int in_run;                /* between glue_kmap_run_begin and _end */
unsigned long shim_map_calls, shim_map_pages, shim_unmap_calls, shim_unmap_pages;

void host_mapping_flush(void)
{
    if (unmap_hi == unmap_lo)
        return;
    shim_unmap_calls++;
    shim_unmap_pages += (size_t)(unmap_hi - unmap_lo) / PAGE_SIZE;
    if (mmap(unmap_lo, (size_t)(unmap_hi - unmap_lo), PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
        glue_panic("glue_mapping_changed: mmap over unmapped heap or metadata pages failed");
    unmap_lo = unmap_hi = NULL;
}

static void map_flush(void)
{
    if (map_hi == map_lo)
        return;
    shim_map_calls++;
    shim_map_pages += (size_t)(map_hi - map_lo) / PAGE_SIZE;
    if (mprotect(map_lo, (size_t)(map_hi - map_lo), PROT_READ | PROT_WRITE) < 0)
        glue_panic("glue_mapping_changed: mprotect of heap or metadata pages failed");
    map_lo = map_hi = NULL;
}

void glue_kmap_run_begin(void)
{
    in_run = 1;
}

void glue_kmap_run_end(void)
{
    map_flush();
    in_run = 0;
}

void glue_mapping_changed(uintptr_t virt, uintptr_t phys)
{
    if (!in_heap(virt) && !in_meta(virt))
        return; /* identity, direct map, table window: fixed, see glue_virt_to_ptr */
    char *page =
        in_heap(virt) ? window + (virt - HEAP_VIRTUAL_START) : meta + (virt - MM_META_START);
    if (!phys) {
        map_flush(); /* in the order mm/ made them */
        if (unmap_hi != page || unmap_hi == unmap_lo) {
            host_mapping_flush();
            unmap_lo = page;
        }
        unmap_hi = page + PAGE_SIZE;
        return;
    }
    host_mapping_flush();
    if (map_hi != page || map_hi == map_lo) {
        map_flush();
        map_lo = page;
    }
    map_hi = page + PAGE_SIZE;
    if (!in_run)
        map_flush();
}

void *glue_virt_to_ptr(uintptr_t virt)
{
    if (in_heap(virt))
        return window + (virt - HEAP_VIRTUAL_START);
    if (in_meta(virt))
        return meta + (virt - MM_META_START);
    if (virt >= KERNEL_VIRTUAL_BASE && virt - KERNEL_VIRTUAL_BASE < VMM_DIRECT_MAP_SIZE)
        return glue_phys_to_virt(virt - KERNEL_VIRTUAL_BASE); /* the direct map */
    if (virt < KERNEL_VIRTUAL_BASE)
        return glue_phys_to_virt(virt); /* identity-mapped low memory */
    glue_panic("glue_virt_to_ptr: no host mirror for this kernel address");
}

/* The shim's MMU keeps no Accessed/Dirty bits: nothing to read again at a shootdown. */
void host_tlb_sync(uintptr_t virt, size_t pages)
{
    (void)virt;
    (void)pages;
}

/*
 * glue.c - mm/glue.h for Linux: simulated physical memory and MMU, a mutex,
 * and a console captured for the tests.
 *
 * Physical memory is a memfd of HOST_PHYS_SIZE bytes, mapped once at
 * host_phys_base() (physical address P is at host_phys_base() + P).  Kernel
 * virtual addresses [HOST_WINDOW_BASE, +HOST_WINDOW_SIZE) (the direct map,
 * the heap and the vmalloc range) live in a reserved host range, the window:
 * when the VMM maps a page there, the same memfd page is mapped into the
 * window, so a write through the virtual address is seen at the physical
 * one, and a page the VMM has not mapped (a vmalloc guard page, say) really
 * faults.  Identity-mapped low memory is simply the
 * physical mapping.
 *
 * The lock, glue_phys_to_virt and the page tables are host/glue_common.c's
 * (shared with the malloc shim's glue).
 *
 * Accessed and Dirty bits (the simulated MMU's, for mm/zswap.c's CLOCK and
 * clean drops).  Only entries with VMM_PTE_ZSWAP (a compressible page) have
 * them kept; every other mapping is plain read-write, as before.  The page's
 * protection in the window follows its entry:
 *
 *   present, Accessed clear            PROT_NONE   (the next touch faults)
 *   present, Accessed set, Dirty clear PROT_READ   (the next write faults)
 *   present, Accessed and Dirty set    PROT_READ | PROT_WRITE
 *
 * It is set from the entry whenever mm/ maps the page (glue_mapping_changed)
 * and at every shootdown of its range (glue_tlb_shootdown -> host_tlb_sync:
 * mm/ cleared Accessed, then flushed, as on the real MMU).  The SIGSEGV
 * handler (host_fault_install) is the MMU's walk: a fault on such a page sets
 * Accessed (a page that was PROT_READ faulting again is being written: Dirty
 * too), with an atomic or as the MMU's locked update, and opens the page that
 * far; the instruction runs again.  A fault on a page whose entry is not
 * present goes to mm/'s fault entry, zswap_fault, as the kernel's #PF handler
 * does; what it refuses goes to host_fault_unhandled (tests), else the default
 * action (the process dies, as before).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "glue.h"
#include "glue_common.h"
#include "host.h"
#include "vmm.h"   /* the entry's bits, for the simulated MMU */
#include "zswap.h" /* zswap_fault */
/* weak: a test linked without mm/zswap.c (test_ownpaging: no mm/vmm.c) has no fault to hand on */
__attribute__((weak)) int zswap_fault(uint32_t addr, uint32_t err);
/* (mm_names.h renames these for mm/ in hosted builds: this file is the host's, libc's) */
#undef memcpy
#undef memset

_Static_assert(HOST_WINDOW_BASE + (uint64_t)HOST_WINDOW_SIZE == (uint64_t)MM_META_END + 1 &&
                   HOST_WINDOW_BASE <= HEAP_VIRTUAL_START,
               "the host's window is every range mm/ maps, up to the metadata window's end");

#define CONSOLE_MAX (256 * 1024)

static char console[CONSOLE_MAX + 1];
static size_t console_len;
static char *phys;
static int phys_fd = -1;
static char *window;

const size_t host_phys_size = HOST_PHYS_SIZE;

void glue_console_write(const char *s, size_t len)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("MM_VERBOSE") != NULL;
    if (verbose)
        fwrite(s, 1, len, stderr);
    /* Keep the newest output: tests look at what the last operations said. */
    if (len > CONSOLE_MAX)
        s += len - CONSOLE_MAX, len = CONSOLE_MAX;
    if (console_len + len > CONSOLE_MAX)
        console_len = 0;
    memcpy(console + console_len, s, len);
    console_len += len;
    console[console_len] = '\0';
}

const char *host_console_text(void)
{
    return console;
}

void host_console_clear(void)
{
    console_len = 0;
    console[0] = '\0';
}

int host_console_has(const char *needle)
{
    return strstr(console, needle) != NULL;
}

void glue_panic(const char *msg)
{
    fprintf(stderr, "PANIC: %s\n", msg);
    abort();
}

char *host_phys_base(void)
{
    if (!phys) {
        phys_fd = memfd_create("mm-physical-memory", 0);
        if (phys_fd < 0 || ftruncate(phys_fd, HOST_PHYS_SIZE) < 0) {
            perror("host: memfd for simulated physical memory");
            abort();
        }
        phys = mmap(NULL, HOST_PHYS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, phys_fd, 0);
        if (phys == MAP_FAILED) {
            perror("host: mmap of simulated physical memory");
            abort();
        }
    }
    return phys;
}

/* What each window page maps (tests: host_unmap_hook learns the frame an unmap let go). */
static uint32_t shadow[HOST_WINDOW_SIZE / 4096];
static unsigned char prot_of[HOST_WINDOW_SIZE / 4096]; /* the protection set: PROT_* */
void (*host_unmap_hook)(uintptr_t virt, uintptr_t old_phys);
unsigned long host_mirror_calls; /* mmap calls mirroring mappings */

/*
 * Unmaps are coalesced: adjacent pages unmapped one by one go with one mmap,
 * at the shootdown mm/ makes for them (glue_tlb_shootdown), or before a map.
 *
 * So are maps inside a run mm/ announces (glue_kmap_run_begin/_end: the heap
 * growing, a vmalloc area, a kernel stack): pages adjacent in the
 * window whose frames are adjacent too (the buddy PMM hands a fresh block out
 * in order) are mirrored with one mmap at the run's end, before which mm/
 * touches none of them; until then they fault, and a page the run did not map
 * stays PROT_NONE.  Outside a run, or before an unmap, a map is applied at once.
 */
static uintptr_t unmap_lo, unmap_hi;       /* the pending unmap run, window offsets */
static uintptr_t map_lo, map_hi, map_phys; /* the pending map run, and its first frame */
static int in_run;                         /* between glue_kmap_run_begin and _end */
unsigned long host_mirror_maps, host_mirror_map_pages; /* mmap calls of maps, pages they mapped */

void host_mmu_reset(void)
{
    host_phys_base();
    host_directory_phys = 0; /* until the next vmm_init's glue_paging_enable */
    memset(prot_of, 0, sizeof(prot_of));
    memset(shadow, 0, sizeof(shadow));
    unmap_lo = unmap_hi = 0;
    map_lo = map_hi = 0;
    in_run = 0;
    void *want = window ? window : NULL;
    int fixed = window ? MAP_FIXED : 0;
    window = mmap(want, HOST_WINDOW_SIZE, PROT_NONE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | fixed, -1, 0);
    if (window == MAP_FAILED) {
        perror("host: reserving the virtual window");
        abort();
    }
}

static int in_window(uintptr_t v)
{
    return v >= HOST_WINDOW_BASE && v - HOST_WINDOW_BASE < HOST_WINDOW_SIZE;
}

/*
 * ThreadSanitizer takes an mmap for a write of the whole range by the calling
 * thread, unless that thread ignores its accesses, when it forgets the range
 * instead.  The simulated MMU's mirroring is no write of the program's: a CPU
 * that reads or writes the page again does so after its own fault, or after
 * a mapping it saw through the page tables, orders TSan cannot see.
 * Counted as a write, it raced the test's next store to the page
 * (test_zswap_transit's writer against a reclaimer, now and then).
 */
#ifdef MM_TSAN
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#endif

static void *mirror_mmap(void *at, size_t len, int prot, int flags, int fd, off_t off)
{
#ifdef MM_TSAN
    __tsan_ignore_thread_begin();
#endif
    void *p = mmap(at, len, prot, flags, fd, off);
#ifdef MM_TSAN
    __tsan_ignore_thread_end();
#endif
    return p;
}

void host_mapping_flush(void)
{
    if (unmap_hi == unmap_lo)
        return;
    host_mirror_calls++;
    if (mirror_mmap(window + unmap_lo, unmap_hi - unmap_lo, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
        perror("host: mirroring an unmapping");
        abort();
    }
    unmap_lo = unmap_hi = 0;
}

static void map_flush(void)
{
    if (map_hi == map_lo)
        return;
    host_mirror_calls++;
    host_mirror_maps++;
    host_mirror_map_pages += (map_hi - map_lo) / 4096;
    /* populated: as on the MMU, a mapped page is there at once (no lazy fault later) */
    if (mirror_mmap(window + map_lo, map_hi - map_lo, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_FIXED | MAP_POPULATE, phys_fd,
                    (off_t)map_phys) == MAP_FAILED) {
        perror("host: mirroring a mapping");
        abort();
    }
    map_lo = map_hi = 0;
}

/* ---- Accessed/Dirty of compressible pages (see the top of the file) ---- */

static int track_lock; /* the handler and the syncs */
unsigned long host_ad_faults, host_zswap_faults;
void (*host_fault_unhandled)(uint32_t virt);

static void track_take(void)
{
    while (__atomic_exchange_n(&track_lock, 1, __ATOMIC_ACQUIRE))
        glue_cpu_relax();
}

static void track_give(void)
{
    __atomic_store_n(&track_lock, 0, __ATOMIC_RELEASE);
}

/* The entry of kernel virtual page virt in the simulated tables, or NULL (the MMU's walk). */
static uint32_t *pte_of(uint32_t virt)
{
    if (!host_directory_phys || host_directory_phys >= HOST_PHYS_SIZE)
        return NULL;
    uint32_t *pd = glue_phys_to_virt(host_directory_phys);
    /* a directory still (vmm_init rebuilding: the old one's frame may be anything now) */
    if (VMM_FRAME(pd[VMM_RECURSIVE_SLOT]) != host_directory_phys)
        return NULL;
    uint32_t pde = __atomic_load_n(&pd[VMM_PDX(virt)], __ATOMIC_ACQUIRE);
    if (!(pde & PAGE_PRESENT) || VMM_FRAME(pde) >= HOST_PHYS_SIZE)
        return NULL;
    return (uint32_t *)glue_phys_to_virt(VMM_FRAME(pde)) + VMM_PTX(virt);
}

static int prot_for(uint32_t e)
{
    return !(e & PAGE_ACCESSED) ? PROT_NONE
           : !(e & PAGE_DIRTY)  ? PROT_READ
                                : PROT_READ | PROT_WRITE;
}

static void set_prot(uintptr_t off, int prot)
{
    if (mprotect(window + off, 4096, prot) != 0) {
        perror("host: mprotect of a compressible page");
        abort();
    }
    prot_of[off / 4096] = (unsigned char)prot;
}

/* The window page of virt protected as its entry says, if it is a compressible page's. */
static void track_sync_locked(uintptr_t virt)
{
    uintptr_t off = virt - HOST_WINDOW_BASE;
    if (!shadow[off / 4096])
        return;
    uint32_t *e = pte_of((uint32_t)virt);
    uint32_t v = e ? __atomic_load_n(e, __ATOMIC_ACQUIRE) : 0;
    if ((v & PAGE_PRESENT) && (v & VMM_PTE_ZSWAP)) {
        map_flush();
        set_prot(off, prot_for(v));
    }
}

static void track_sync(uintptr_t virt)
{
    track_take();
    track_sync_locked(virt);
    track_give();
}

void host_tlb_sync(uintptr_t virt, size_t pages)
{
    for (size_t i = 0; i < pages; i++) {
        uintptr_t v = virt + i * 4096;
        if (in_window(v))
            track_sync(v);
    }
}

/* The simulated MMU's page fault (see the top of the file). */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr, w = (uintptr_t)window;
    uint32_t virt = 0;
    if (window && a >= w && a - w < HOST_WINDOW_SIZE) {
        virt = HOST_WINDOW_BASE + (uint32_t)(a - w);
        uintptr_t off = (a - w) & ~(uintptr_t)4095;
        uint32_t v;
        for (;;) {
            track_take();
            uint32_t *e = pte_of(virt & ~4095u);
            v = e ? __atomic_load_n(e, __ATOMIC_ACQUIRE) : 0;
            if (!(v & PAGE_PRESENT) || !(v & VMM_PTE_ZSWAP))
                break;
            if (!shadow[off / 4096]) { /* mapped, its mirror not made yet: try again */
                track_give();
                return;
            }
            uint32_t nv = v;
            if (!(v & PAGE_ACCESSED))
                nv = v | PAGE_ACCESSED;
            else if (!(v & PAGE_DIRTY) && prot_of[off / 4096] == PROT_READ)
                nv = v | PAGE_DIRTY; /* it was readable and faulted: a write */
            /* the MMU's locked update: only if the entry is still the one read */
            if (nv != v &&
                !__atomic_compare_exchange_n(e, &v, nv, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
                track_give();
                continue;
            }
            host_ad_faults++;
            set_prot(off, prot_for(nv));
            track_give();
            return;
        }
        track_give();
        if (!(v & PAGE_PRESENT)) {
            __atomic_fetch_add(&host_zswap_faults, 1, __ATOMIC_RELAXED);
            if (zswap_fault && zswap_fault(virt, 0))
                return;
        }
    }
    if (host_fault_unhandled)
        host_fault_unhandled(virt); /* a test's siglongjmp, or it returns */
    signal(sig, SIG_DFL);           /* the instruction runs again and dies of it */
}

void host_fault_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    /* on the faulting thread's own stack: zswap_fault needs room, and threads fault too */
    if (sigaction(SIGSEGV, &sa, NULL) != 0) {
        perror("host: sigaction SIGSEGV");
        abort();
    }
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

static void mapping_changed_locked(uintptr_t virt, uintptr_t p)
{
    uintptr_t off = virt - HOST_WINDOW_BASE;
    uint32_t old = shadow[off / 4096];
    shadow[off / 4096] = (uint32_t)p;
    if (!p && old && host_unmap_hook)
        host_unmap_hook(virt, old);
    if (!(p && p < HOST_PHYS_SIZE)) {
        prot_of[off / 4096] = PROT_NONE;
        map_flush(); /* in the order mm/ made them */
        if (unmap_hi != off || unmap_hi == unmap_lo) {
            host_mapping_flush();
            unmap_lo = off;
        }
        unmap_hi = off + 4096;
        return;
    }
    host_mapping_flush();
    if (map_hi != off || map_hi == map_lo || p != map_phys + (map_hi - map_lo)) {
        map_flush();
        map_lo = off;
        map_phys = p;
    }
    map_hi = off + 4096;
    if (!in_run)
        map_flush();
    track_sync_locked(virt);
}

/* Under track_lock: a fault on a compressible page never sees a half-made mirror. */
void glue_mapping_changed(uintptr_t virt, uintptr_t p)
{
    if (!in_window(virt))
        return; /* identity map and table window: nothing to mirror */
    if (!window)
        host_mmu_reset();
    track_take();
    mapping_changed_locked(virt, p);
    track_give();
}

void *glue_virt_to_ptr(uintptr_t virt)
{
    if (in_window(virt)) {
        if (!window)
            host_mmu_reset();
        return window + (virt - HOST_WINDOW_BASE);
    }
    return glue_phys_to_virt(virt); /* identity-mapped low memory */
}

void *host_virt_ptr(uint32_t virt)
{
    return glue_virt_to_ptr(virt);
}

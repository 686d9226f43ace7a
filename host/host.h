/*
 * host.h - the host (Linux) side of the glue, for tests, fuzzers, benchmarks.
 *
 * Physical memory is simulated: one mmap'd block of HOST_PHYS_SIZE bytes,
 * where physical address P lives at host_phys_base() + P.  The console is
 * captured in a buffer that tests can read (and echoed to stderr when
 * MM_VERBOSE=1 is set in the environment).
 */
#ifndef HOST_H
#define HOST_H

#include <stddef.h>
#include <stdint.h>

#define HOST_PHYS_SIZE (64u * 1024 * 1024)

/* Everything the memory manager printed since the last host_console_clear(). */
const char *host_console_text(void);
void host_console_clear(void);
/* Does the captured console contain `needle`? */
int host_console_has(const char *needle);

char *host_phys_base(void);

/*
 * The kernel's virtual [0xC0000000, 0xF1120000) (direct map, heap, vmalloc,
 * metadata window) is a reserved host range; mapped pages alias the simulated physical
 * memory, everything else (guard pages too) is PROT_NONE and really faults.
 */
#define HOST_WINDOW_BASE 0xC0000000u
#define HOST_WINDOW_SIZE 0x31120000u /* up to MM_META_END (host/glue.c checks it) */

/* Drop every mirrored mapping: the window is all PROT_NONE again. */
void host_mmu_reset(void);
/* Tests: told of each window page unmapped, with the frame it mapped (host/glue.c). */
extern void (*host_unmap_hook)(uintptr_t virt, uintptr_t old_phys);
/* mmap calls the window's mirror made (maps, and coalesced runs of unmaps). */
extern unsigned long host_mirror_calls;
/* Of those, the calls that mapped (one per run of adjacent pages and frames), and their pages. */
extern unsigned long host_mirror_maps, host_mirror_map_pages;

/*
 * The simulated MMU's page faults (host/glue.c's top comment): SIGSEGV in the
 * window sets Accessed/Dirty of compressible pages, and hands a not-present
 * page's fault to zswap_fault.  host_fault_unhandled, if set, is called for a
 * fault nobody handled (a test's siglongjmp out); else the process dies.
 */
void host_fault_install(void);
extern void (*host_fault_unhandled)(uint32_t virt);
/* Faults that set Accessed/Dirty, and faults handed to zswap_fault. */
extern unsigned long host_ad_faults, host_zswap_faults;

/* A pointer through which the host can touch kernel virtual address virt. */
void *host_virt_ptr(uint32_t virt);

#endif /* HOST_H */

/*
 * memmap.h - the memory map the kernel hands to the physical memory manager
 * (kernel/memmap.c): the loader's RAM ranges plus everything that must never
 * be handed out as a free page.
 */
#ifndef KERNEL_MEMMAP_H
#define KERNEL_MEMMAP_H

#include "multiboot.h"
#include "pmm.h"

/*
 * Enough for the loaders we know (QEMU: ~6 firmware ranges, GRUB on a PC:
 * ~10-20, plus our own reservations).  Real machines with a very fragmented
 * e820 map need more; memmap_build says so instead of dropping ranges.
 */
#define MEMMAP_MAX_RANGES 128

/*
 * Build the map for pmm_init_map() from the multiboot information:
 *   - every entry of the loader's memory map (types other than "available"
 *     become PMM_RANGE_RESERVED; zero-length entries are skipped; entries
 *     above 4 GB are passed through: the PMM ignores them and says so), or,
 *     when the loader gave no map, mem_lower and mem_upper;
 *   - then PMM_RANGE_RESERVED ranges for what the loader and the linker put
 *     in RAM: the kernel image [kernel_start, kernel_end), the multiboot
 *     information structure, the memory map buffer, the command line, the
 *     boot loader name, the ELF section headers, the module list and every
 *     module with its string.
 * Ranges are exact byte ranges; the PMM rounds them to pages.  Returns the
 * number of ranges written to `out`, or -1 (after saying so) when `max` is
 * too small.
 */
int memmap_build(pmm_range_t *out, int max);

/* The same from a given information structure (NULL: only the kernel image); for tests. */
int memmap_build_from(const struct multiboot_info *mbi, pmm_range_t *out, int max);

/*
 * Print the map the last memmap_build() made, one line per range: base,
 * end, size, type and where it came from.  Prints from a copy, so it is safe
 * after the loader's memory has been reused or unmapped.
 */
void memmap_print(void);

/*
 * Whether pmm_init_map() accepted the map: kernel_main sets it; the shell
 * and the in-kernel tests leave the PMM alone when it is 0 (boot option
 * phase1, or no usable RAM).
 */
void memmap_set_pmm_ready(int ready);
int memmap_pmm_ready(void);

#endif /* KERNEL_MEMMAP_H */

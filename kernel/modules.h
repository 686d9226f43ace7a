/*
 * modules.h - the loader's multiboot modules (kernel/modules.c): moved out of
 * the Phase 1 heap's way, and printed with a checksum of their bytes.
 */
#ifndef KERNEL_MODULES_H
#define KERNEL_MODULES_H

#include <stdint.h>

/*
 * Move every module that overlaps [HEAP_START, HEAP_START + INITIAL_HEAP_SIZE)
 * to the lowest free RAM above it (memmove; the loader's module list is
 * updated), one line each.  Returns 0, or -1 when a module had nowhere to go
 * (said so; it stays where it was, and memory_init_map will refuse the heap).
 * Before paging only.
 */
int modules_clear_heap(void);

/* One line per module: where it is, its size and the FNV-1a (32-bit) of its bytes. */
void modules_print(void);

/* FNV-1a, 32-bit: offset basis 0x811c9dc5, prime 0x01000193. */
uint32_t modules_fnv1a(const void *data, uint32_t size);

#endif /* KERNEL_MODULES_H */

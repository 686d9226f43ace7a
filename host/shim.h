/*
 * shim.h - between the malloc shim (host/shim.c) and its glue (host/shim_glue.c).
 *
 * build/host/libkmalloc.so is the real mm/ sources, host/shim_glue.c (mm/glue.h
 * for a process that has no other malloc: no stdio, no malloc of its own) and
 * host/shim.c (malloc, free, ... on top of kmalloc).  This header is the little
 * the two host files say to each other; mm/ sees only mm/glue.h.
 */
#ifndef SHIM_H
#define SHIM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Simulated RAM handed to pmm_init.  The virtual heap can reach 256 MB
 * (HEAP_VIRTUAL_START..HEAP_VIRTUAL_END) and needs a page table per 4 MB; the
 * PMM keeps the first MB, the early heap and its metadata (12 bytes a page);
 * 512 MB leaves room for all of that.
 */
#define SHIM_RAM_SIZE (512u * 1024 * 1024)

/*
 * Reserve the host memory behind simulated RAM and the heap window (nothing
 * is touched yet).  Called once, with the glue lock held.  0, or -1 after
 * printing why.
 */
int shim_glue_init(void);

/* Is p inside the heap window, i.e. could it be a kmalloc pointer at all? */
int shim_glue_owns(const void *p);
/* The window's system calls (under mm/'s lock): runs mapped and unmapped, and their pages. */
extern unsigned long shim_map_calls, shim_map_pages, shim_unmap_calls, shim_unmap_pages;

/* Write a whole message to stderr with write(2) (no stdio: it may call malloc). */
void shim_write_stderr(const char *s, size_t len);

#endif /* SHIM_H */

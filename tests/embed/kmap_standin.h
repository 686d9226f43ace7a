/*
 * kmap_standin.h - TEMPORARY: the four paging glue functions another branch
 * is adding to mm/glue.h (issue 11, "our paging optional above the PMM").
 * Until mm/glue.h declares them, this kernel declares them here and
 * kmap_standin.c plays mm/'s side.  tools/embed-check.sh stops using both
 * as soon as the copied mm/glue.h names glue_kmap.
 */
#ifndef EMBED_KMAP_STANDIN_H
#define EMBED_KMAP_STANDIN_H

#include <stdint.h>

/* Map one 4 KB kernel page present + writable: 0, or -1. */
int glue_kmap(uintptr_t virt, uintptr_t phys);
/* Unmap it, flush the TLB on every CPU; the physical address it mapped, or 0. */
uintptr_t glue_kunmap(uintptr_t virt);
/* The physical address behind virt, 0 if unmapped. */
uintptr_t glue_kmapped(uintptr_t virt);
/* 1 once the kernel can map (its paging is on). */
int glue_kmap_ready(void);

#endif /* EMBED_KMAP_STANDIN_H */

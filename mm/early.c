/*
 * early.c - memory_init_map: the spec's Phase 1 heap, but only where the
 * memory map says there is RAM that nothing else uses.
 *
 * The spec puts the 64 KB heap at a fixed physical address, HEAP_START
 * (5 MB).  memory_init() trusts that; on a machine with less RAM, or with a
 * loader's module lying there, it would build its free list in nothing (or
 * over the module), and the heap would then report its own broken headers as
 * a caller's corruption.  So a kernel with a memory map asks here first:
 *
 *   HEAP_START                         HEAP_START + INITIAL_HEAP_SIZE
 *   |<------------------ 64 KB ------------------>|
 *   must be covered by PMM_RANGE_AVAILABLE ranges (together: overlaps and any
 *   order are fine) and overlapped by no range of any other type.
 *
 * The map is the one pmm_init_map() takes: the firmware's ranges plus the
 * kernel's own reservations (image, loader data, modules).  It may lie:
 * zero-length ranges mean nothing; a length that runs past 2^64 is cut at
 * 2^64 (saturated, never wrapped to a small end); entries may overlap and
 * come in any order.  On refusal nothing is written anywhere but the
 * console: the memory at HEAP_START stays as it was.
 *
 * Owns nothing.  Calls heap_init.c (memory_init) and log.c: the top of mm/.
 */
#include "glue.h"
#include "log.h"
#include "memory.h"
#include "pmm.h"
#include "range.h"

#define EARLY_HEAP_END ((uint64_t)HEAP_START + INITIAL_HEAP_SIZE)

/* Say why [at, ...) is not RAM: a hole with RAM above it, or the end of RAM. */
static void report_not_ram(const pmm_range_t *map, int count, uint64_t at)
{
    uint64_t next = UINT64_MAX, ram_end = 0;
    char a[24], b[24];

    for (int i = 0; i < count; i++) {
        if (!range_is_ram(&map[i]))
            continue;
        if (map[i].base > at && map[i].base < next)
            next = map[i].base;
        if (range_end(&map[i]) > ram_end)
            ram_end = range_end(&map[i]);
    }
    if (next != UINT64_MAX)
        mm_report("memory_init: 0x%08x-0x%08x: not RAM: %s-%s is a hole in the memory map",
                  HEAP_START, (uint32_t)EARLY_HEAP_END, mm_hex64(a, sizeof(a), at),
                  mm_hex64(b, sizeof(b), next < EARLY_HEAP_END ? next : EARLY_HEAP_END));
    else if (ram_end == 0)
        mm_report("memory_init: 0x%08x-0x%08x: not RAM: the memory map has no RAM at all",
                  HEAP_START, (uint32_t)EARLY_HEAP_END);
    else /* every RAM range ends at or below `at` */
        mm_report("memory_init: 0x%08x-0x%08x: not RAM: the machine's RAM ends at 0x%08x "
                  "(the Phase 1 heap needs 5 MB + 64 KB)",
                  HEAP_START, (uint32_t)EARLY_HEAP_END, (uint32_t)(ram_end - 1));
}

int memory_init_map(const pmm_range_t *map, int count)
{
    char a[24], b[24];

    if (!map || count <= 0) {
        mm_report("memory_init: 0x%08x-0x%08x: no memory map (%d ranges): cannot tell whether "
                  "it is RAM",
                  HEAP_START, (uint32_t)EARLY_HEAP_END, map ? count : 0);
        return -1;
    }

    uint64_t at = range_first_not_ram(map, count, HEAP_START, EARLY_HEAP_END);
    if (at < EARLY_HEAP_END) {
        report_not_ram(map, count, at);
        return -1;
    }

    for (int i = 0; i < count; i++) {
        const pmm_range_t *r = &map[i];
        if (r->type == PMM_RANGE_AVAILABLE || r->length == 0)
            continue;
        if (r->base < EARLY_HEAP_END && range_end(r) > HEAP_START) {
            mm_report("memory_init: 0x%08x-0x%08x: reserved range %s-%s is in the way (firmware, "
                      "or something the kernel keeps there: a module?)",
                      HEAP_START, (uint32_t)EARLY_HEAP_END, mm_hex64(a, sizeof(a), r->base),
                      mm_hex64(b, sizeof(b), range_end(r)));
            return -1;
        }
    }

    memory_init();
    return 0;
}

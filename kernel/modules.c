/*
 * modules.c - multiboot modules out of the Phase 1 heap's way, and a
 * checksum of each so that a move (or anything else) can be seen to keep
 * their bytes.
 *
 * The loader puts modules wherever it likes: QEMU's -initrd puts them right
 * after the kernel, so a 6 MB file runs from 0x127000 to 0x727000, straight
 * across the spec's fixed heap at HEAP_START.  Before memory_init_map, each
 * module that overlaps the heap moves up:
 *
 *   before   | kernel | module 0 ..............|#### H ####|..........|
 *   after    | kernel |         (free)          #### H #### module 0 ..........|
 *                                                          ^ lowest address above the heap
 *
 * to the lowest page-aligned place above the heap that is RAM in the memory
 * map and overlaps nothing else the map reserves (the kernel image, the
 * multiboot information and its strings, the other modules, firmware
 * ranges).  It may overlap its own old place: the copy is a memmove.  The
 * module list in the loader's information is updated, so memmap_build and
 * with it the PMM see the new place.  Before paging every address is
 * physical and identity-mapped.
 */
#include "modules.h"

#include "memmap.h"
#include "memory.h"
#include "terminal.h"

#define PAGE_MASK_64    ((uint64_t)PAGE_SIZE - 1)
#define HEAP_LO         ((uint64_t)HEAP_START)
#define HEAP_HI         ((uint64_t)HEAP_START + INITIAL_HEAP_SIZE)
#define ADDRESSABLE_END 0x100000000ull /* mod_start/mod_end are 32-bit */
#define FNV1A_OFFSET    0x811c9dc5u
#define FNV1A_PRIME     0x01000193u

static pmm_range_t map[MEMMAP_MAX_RANGES];

static uint64_t page_up(uint64_t a) /* saturating */
{
    return a > UINT64_MAX - PAGE_MASK_64 ? UINT64_MAX : (a + PAGE_MASK_64) & ~PAGE_MASK_64;
}

static uint64_t range_end(const pmm_range_t *r)
{
    return r->length > UINT64_MAX - r->base ? UINT64_MAX : r->base + r->length;
}

/*
 * Where [at, end) first stops being RAM in the map (any order, overlaps
 * allowed), or end when it is RAM all the way.
 */
static uint64_t ram_reaches(const pmm_range_t *m, int n, uint64_t at, uint64_t end)
{
    while (at < end) {
        uint64_t reach = at;
        for (int i = 0; i < n; i++) {
            if (m[i].type == PMM_RANGE_AVAILABLE && m[i].length && m[i].base <= at &&
                range_end(&m[i]) > reach)
                reach = range_end(&m[i]);
        }
        if (reach == at)
            return at;
        at = reach;
    }
    return end;
}

/* The lowest RAM range start above `at`, or 0 when there is none. */
static uint64_t next_ram(const pmm_range_t *m, int n, uint64_t at)
{
    uint64_t next = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].type == PMM_RANGE_AVAILABLE && m[i].length && m[i].base > at &&
            (!next || m[i].base < next))
            next = m[i].base;
    }
    return next;
}

/*
 * The lowest page-aligned address >= floor where `size` bytes are RAM and
 * overlap no reserved range of the map but m[skip] (the module's own old
 * place).  0 when there is none below 4 GB.  Each failed try moves the
 * candidate strictly up, so this ends.
 */
static uint64_t find_place(const pmm_range_t *m, int n, int skip, uint64_t floor, uint64_t size)
{
    uint64_t at = page_up(floor);

    while (size <= ADDRESSABLE_END && at <= ADDRESSABLE_END - size) {
        uint64_t end = at + size;
        uint64_t stop = ram_reaches(m, n, at, end);
        if (stop < end) {
            uint64_t next = next_ram(m, n, stop);
            if (!next)
                return 0;
            at = page_up(next);
            continue;
        }
        int moved = 0;
        for (int i = 0; i < n; i++) {
            if (i == skip || m[i].type == PMM_RANGE_AVAILABLE || !m[i].length)
                continue;
            if (m[i].base < end && range_end(&m[i]) > at) {
                at = page_up(range_end(&m[i]));
                moved = 1;
                break;
            }
        }
        if (!moved)
            return at;
    }
    return 0;
}

/* The module's own entry in the map memmap built: reserved, same place. */
static int own_entry(const pmm_range_t *m, int n, const struct multiboot_module *mod)
{
    for (int i = 0; i < n; i++) {
        if (m[i].type == PMM_RANGE_RESERVED && m[i].base == mod->mod_start &&
            m[i].length == (uint64_t)mod->mod_end - mod->mod_start)
            return i;
    }
    return -1;
}

static int overlaps_heap(const struct multiboot_module *mod)
{
    return mod->mod_end > mod->mod_start && mod->mod_start < HEAP_HI && mod->mod_end > HEAP_LO;
}

int modules_clear_heap(void)
{
    const struct multiboot_info *mbi = multiboot_info();
    int status = 0;

    if (!mbi || !(mbi->flags & MULTIBOOT_INFO_MODS))
        return 0;
    /* The loader's list, in RAM the loader gave us: we update it in place. */
    struct multiboot_module *mods = (struct multiboot_module *)mbi->mods_addr;
    for (uint32_t i = 0; i < mbi->mods_count; i++) {
        struct multiboot_module *mod = &mods[i];
        if (!overlaps_heap(mod))
            continue;
        uint32_t size = mod->mod_end - mod->mod_start;
        int n = memmap_build_from(mbi, map, MEMMAP_MAX_RANGES);
        uint64_t to = n < 0 ? 0 : find_place(map, n, own_entry(map, n, mod), HEAP_HI, size);
        if (!to) {
            kprintf("[boot] module %u at 0x%08x-0x%08x (%u KB) is in the Phase 1 heap's way "
                    "(0x%08x-0x%08x) and no free RAM above the heap can take it: not moved\n",
                    i, mod->mod_start, mod->mod_end, size / 1024, HEAP_START, (uint32_t)HEAP_HI);
            status = -1;
            continue;
        }
        memmove((void *)(uintptr_t)to, (const void *)mod->mod_start, size);
        kprintf("[boot] module %u moved from 0x%08x-0x%08x to 0x%08x-0x%08x: it was in the "
                "Phase 1 heap's way (0x%08x-0x%08x)\n",
                i, mod->mod_start, mod->mod_end, (uint32_t)to, (uint32_t)to + size, HEAP_START,
                (uint32_t)HEAP_HI);
        mod->mod_start = (uint32_t)to;
        mod->mod_end = (uint32_t)to + size;
    }
    return status;
}

uint32_t modules_fnv1a(const void *data, uint32_t size)
{
    const uint8_t *p = data;
    uint32_t h = FNV1A_OFFSET;

    for (uint32_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= FNV1A_PRIME;
    }
    return h;
}

void modules_print(void)
{
    const struct multiboot_info *mbi = multiboot_info();

    if (!mbi || !(mbi->flags & MULTIBOOT_INFO_MODS))
        return;
    const struct multiboot_module *mods = (const struct multiboot_module *)mbi->mods_addr;
    for (uint32_t i = 0; i < mbi->mods_count; i++) {
        if (mods[i].mod_end < mods[i].mod_start)
            continue; /* memmap_build reports it */
        uint32_t size = mods[i].mod_end - mods[i].mod_start;
        kprintf("[boot] module %u at 0x%08x-0x%08x: %u bytes, FNV-1a 0x%08x\n", i,
                mods[i].mod_start, mods[i].mod_end, size,
                modules_fnv1a((const void *)mods[i].mod_start, size));
    }
}

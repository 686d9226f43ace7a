/*
 * test_memmap.c (kernel) - the memory map the PMM is built from
 * (kernel/memmap.c): synthetic multiboot information in, ranges out; then,
 * on the real boot map, the PMM's view of every range memmap reserved.
 *
 * The synthetic loader map used by most cases:
 *
 *   0         0x9fc00 0xa0000    0x100000          0x7fe0000        4 GB   4 GB + 1 GB
 *   | available |  res  |  (gap)  |  available  ... |ACPI|  ...    | available |
 *                          + a zero-length entry, + an NVS entry
 *
 * followed by what we reserve: the kernel image, the information structure,
 * the map buffer, the strings, the section headers, the modules.
 */
#include "ktest.h"
#include "memmap.h"
#include "pmm.h"

extern char kernel_start[], kernel_end[];

#define MAP_MAX 32

static struct multiboot_info mbi;
static struct multiboot_mmap_entry mmap[7];
static struct multiboot_module mods[2];
static char cmdline[] = "kernel.elf autopoweroff";
static char loader[] = "test loader";
static char mod0_name[] = "initrd";
static uint8_t shdrs[5 * 40];
static pmm_range_t map[MAP_MAX];

static void entry(int i, uint64_t base, uint64_t length, uint32_t type)
{
    mmap[i] = (struct multiboot_mmap_entry){.size = sizeof(mmap[i]) - sizeof(mmap[i].size),
                                            .base_addr = base,
                                            .length = length,
                                            .type = type};
}

/* A loader that gives everything: map, strings, section headers, two modules. */
static const struct multiboot_info *full_loader(void)
{
    entry(0, 0, 0x9fc00, MULTIBOOT_MEMORY_AVAILABLE);
    entry(1, 0x9fc00, 0x400, MULTIBOOT_MEMORY_RESERVED);
    entry(2, 0x100000, 0x7ee0000, MULTIBOOT_MEMORY_AVAILABLE);
    entry(3, 0x7fe0000, 0, MULTIBOOT_MEMORY_AVAILABLE); /* zero length: skipped */
    entry(4, 0x7fe0000, 0x10000, MULTIBOOT_MEMORY_ACPI_RECLAIMABLE);
    entry(5, 0x7ff0000, 0x10000, MULTIBOOT_MEMORY_NVS);
    entry(6, 0x100000000ull, 0x40000000, MULTIBOOT_MEMORY_AVAILABLE); /* above 4 GB */
    mods[0] = (struct multiboot_module){0x800000, 0x812345, (uint32_t)mod0_name, 0};
    mods[1] = (struct multiboot_module){0x813000, 0x814000, 0, 0}; /* no string */
    mbi = (struct multiboot_info){
        .flags = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_MMAP | MULTIBOOT_INFO_CMDLINE |
                 MULTIBOOT_INFO_LOADER | MULTIBOOT_INFO_MODS | MULTIBOOT_INFO_ELF_SHDR,
        .mem_lower = 639,
        .mem_upper = 130944,
        .cmdline = (uint32_t)cmdline,
        .mods_count = 2,
        .mods_addr = (uint32_t)mods,
        .syms = {5, 40, (uint32_t)shdrs, 4},
        .mmap_length = sizeof(mmap),
        .mmap_addr = (uint32_t)mmap,
        .boot_loader_name = (uint32_t)loader,
    };
    return &mbi;
}

static int is(const pmm_range_t *r, uint64_t base, uint64_t length, uint32_t type)
{
    return r->base == base && r->length == length && r->type == type;
}

#define AVL PMM_RANGE_AVAILABLE
#define RES PMM_RANGE_RESERVED

/* Expect the loader's entries in its order, types folded to two, the empty one gone. */
static void loader_map_passed_through(void)
{
    int n = memmap_build_from(full_loader(), map, MAP_MAX);

    KT_ASSERT(n >= 6);
    KT_ASSERT(is(&map[0], 0, 0x9fc00, AVL));
    KT_ASSERT(is(&map[1], 0x9fc00, 0x400, RES));
    KT_ASSERT(is(&map[2], 0x100000, 0x7ee0000, AVL));
    KT_ASSERT(is(&map[3], 0x7fe0000, 0x10000, RES)); /* ACPI reclaimable */
    KT_ASSERT(is(&map[4], 0x7ff0000, 0x10000, RES)); /* ACPI NVS */
    KT_ASSERT(is(&map[5], 0x100000000ull, 0x40000000, AVL));
}

/* Expect every byte the loader and the linker put in RAM to be reserved, in this order. */
static void loader_data_and_kernel_reserved(void)
{
    int n = memmap_build_from(full_loader(), map, MAP_MAX);
    const pmm_range_t *r = &map[6];

    KT_ASSERT(n == 6 + 10);
    KT_ASSERT(is(r++, (uint32_t)kernel_start, kernel_end - kernel_start, RES));
    KT_ASSERT(is(r++, (uint32_t)&mbi, sizeof(mbi), RES));
    KT_ASSERT(is(r++, (uint32_t)mmap, sizeof(mmap), RES));
    KT_ASSERT(is(r++, (uint32_t)cmdline, sizeof(cmdline), RES)); /* the NUL included */
    KT_ASSERT(is(r++, (uint32_t)loader, sizeof(loader), RES));
    KT_ASSERT(is(r++, (uint32_t)shdrs, sizeof(shdrs), RES));
    KT_ASSERT(is(r++, (uint32_t)mods, sizeof(mods), RES));
    KT_ASSERT(is(r++, 0x800000, 0x12345, RES));
    KT_ASSERT(is(r++, (uint32_t)mod0_name, sizeof(mod0_name), RES));
    KT_ASSERT(is(r++, 0x813000, 0x1000, RES));
}

/* Loaders may use entries bigger than the struct: `size` says where the next one starts. */
static void bigger_entries_stepped_over(void)
{
    static uint32_t raw[2 * 8]; /* two entries of 28 bytes after their size field */
    struct multiboot_info m = {
        .flags = MULTIBOOT_INFO_MMAP, .mmap_addr = (uint32_t)raw, .mmap_length = sizeof(raw)};

    for (int i = 0; i < 2; i++) {
        struct multiboot_mmap_entry *e = (struct multiboot_mmap_entry *)&raw[i * 8];
        e->size = 28;
        e->base_addr = 0x100000ull * (i + 1);
        e->length = 0x1000;
        e->type = MULTIBOOT_MEMORY_AVAILABLE;
    }
    int n = memmap_build_from(&m, map, MAP_MAX);
    KT_ASSERT(n == 2 + 3); /* + kernel image, info, map buffer */
    KT_ASSERT(is(&map[0], 0x100000, 0x1000, AVL));
    KT_ASSERT(is(&map[1], 0x200000, 0x1000, AVL));
}

/* Without a map (flags bit 6 clear): low memory and upper memory from mem_lower/mem_upper. */
static void mem_lower_upper_without_a_map(void)
{
    full_loader();
    mbi.flags &= ~(uint32_t)(MULTIBOOT_INFO_MMAP | MULTIBOOT_INFO_MODS | MULTIBOOT_INFO_ELF_SHDR |
                             MULTIBOOT_INFO_LOADER);
    int n = memmap_build_from(&mbi, map, MAP_MAX);

    KT_ASSERT(n == 2 + 3); /* + kernel image, info, command line */
    KT_ASSERT(is(&map[0], 0, 639 * 1024, AVL));
    KT_ASSERT(is(&map[1], 0x100000, 130944 * 1024ull, AVL));
    KT_ASSERT(is(&map[2], (uint32_t)kernel_start, kernel_end - kernel_start, RES));
    KT_ASSERT(is(&map[4], (uint32_t)cmdline, sizeof(cmdline), RES));
}

/* No multiboot information at all: nothing available, the kernel image still reserved. */
static void no_loader_information(void)
{
    int n = memmap_build_from(NULL, map, MAP_MAX);

    KT_ASSERT(n == 1);
    KT_ASSERT(is(&map[0], (uint32_t)kernel_start, kernel_end - kernel_start, RES));
}

/*
 * Malformed entries: a size that wraps (0xFFFFFFFC + 4 == 0 would loop for
 * ever), then a last entry cut off by the map's end.  Expect the walk to stop
 * at the bad entry with what came before, without hanging or overreading.
 */
static void malformed_entries_end_the_walk(void)
{
    full_loader();
    mmap[2].size = 0xFFFFFFFCu;
    int n = memmap_build_from(&mbi, map, MAP_MAX);
    KT_ASSERT(n >= 2);
    KT_ASSERT(is(&map[0], 0, 0x9fc00, AVL) && is(&map[1], 0x9fc00, 0x400, RES));
    KT_ASSERT(!is(&map[2], 0x100000, 0x7ee0000, AVL)); /* nothing from past the bad entry */

    full_loader();
    mbi.mmap_length = 2 * sizeof(mmap[0]) + 8; /* the third entry is cut short */
    n = memmap_build_from(&mbi, map, MAP_MAX);
    KT_ASSERT(n >= 2);
    KT_ASSERT(is(&map[1], 0x9fc00, 0x400, RES));
    KT_ASSERT(!is(&map[2], 0x100000, 0x7ee0000, AVL));
}

/* A map that does not fit is refused whole (-1), never silently cut. */
static void too_small_a_map_is_refused(void)
{
    KT_ASSERT(memmap_build_from(full_loader(), map, 15) == -1);
    KT_ASSERT(memmap_build_from(full_loader(), map, 16) == 16);
    KT_ASSERT(memmap_build_from(full_loader(), map, 0) == -1);
}

/*
 * The real boot map: every page a reserved range touches is one the PMM
 * will never hand out (pmm_page_state -1), and so are the early heap and the
 * PMM's metadata.  Skipped when booted with phase1 (no PMM).
 */
static int all_pages_withheld(uint64_t base, uint64_t length)
{
    for (uint64_t p = base & ~0xFFFull; p < base + length && p < 0x100000000ull; p += PAGE_SIZE) {
        if (pmm_page_state((paddr_t)p) != -1) {
            kprintf("    page 0x%08x of [0x%08x, +0x%x) is handed out or free\n", (uint32_t)p,
                    (uint32_t)base, (uint32_t)length);
            return 0;
        }
    }
    return 1;
}

static void pmm_never_hands_out_reserved_ranges(void)
{
    static pmm_range_t boot[MEMMAP_MAX_RANGES];
    pmm_stats_t s;

    if (!memmap_pmm_ready()) {
        kprintf("    (no PMM: booted with phase1)\n");
        return;
    }
    int n = memmap_build(boot, MEMMAP_MAX_RANGES);
    KT_ASSERT(n > 0);
    for (int i = 0; i < n; i++) {
        if (boot[i].type == PMM_RANGE_RESERVED)
            KT_ASSERT(all_pages_withheld(boot[i].base, boot[i].length));
    }
    KT_ASSERT(all_pages_withheld(HEAP_START, INITIAL_HEAP_SIZE));
    pmm_get_stats(&s);
    KT_ASSERT(all_pages_withheld(s.metadata_phys, s.metadata_bytes));
    KT_ASSERT(pmm_check() == 0);
}

/* The map this machine booted with has room for the heap: memory_init_map builds it. */
static void boot_map_accepts_the_heap(void)
{
    static pmm_range_t boot[MEMMAP_MAX_RANGES];
    int n = memmap_build(boot, MEMMAP_MAX_RANGES);

    KT_ASSERT(n > 0);
    KT_ASSERT(memory_init_map(boot, n) == 0);
    void *p = kmalloc(100);
    KT_ASSERT(p != NULL);
    kfree(p);
    KT_CHECK_HEAP();
}

/*
 * A module across HEAP_START (as the loader gave it, before the kernel moves
 * it): the map memmap builds reserves it, and memory_init_map refuses the
 * heap without touching the live one.
 */
static void module_across_the_heap_refused(void)
{
    full_loader();
    mods[0] = (struct multiboot_module){HEAP_START - 0x1000, HEAP_START + 0x1000, 0, 0};
    int n = memmap_build_from(&mbi, map, MAP_MAX);
    KT_ASSERT(n > 0);

    char *p = kmalloc(16);
    KT_ASSERT(p != NULL);
    p[0] = 'x';
    KT_ASSERT(memory_init_map(map, n) == -1);
    KT_REPORTED("memory_init", "reserved range 0x004ff000-0x00501000 is in the way");
    KT_ASSERT(p[0] == 'x');
    kfree(p);
    KT_CHECK_HEAP();
}

const struct ktest ktest_memmap[] = {
    {"memmap: the boot map accepts the heap", boot_map_accepts_the_heap},
    {"memmap: a module across the heap refused", module_across_the_heap_refused},
    {"memmap: loader map passed through", loader_map_passed_through},
    {"memmap: loader data and kernel image reserved", loader_data_and_kernel_reserved},
    {"memmap: bigger entries stepped over", bigger_entries_stepped_over},
    {"memmap: mem_lower/mem_upper without a map", mem_lower_upper_without_a_map},
    {"memmap: no loader information", no_loader_information},
    {"memmap: too small a map is refused", too_small_a_map_is_refused},
    {"memmap: malformed entries end the walk", malformed_entries_end_the_walk},
    {"memmap: PMM never hands out reserved ranges", pmm_never_hands_out_reserved_ranges},
    {NULL, NULL},
};

/*
 * memmap.c - the memory map the PMM is built from: what RAM exists, and what
 * in it is already taken.
 *
 * The loader tells us what RAM exists (the multiboot memory map, or just
 * mem_lower/mem_upper).  It does not tell us what it put into that RAM: our
 * kernel image, its own information structure with the strings and tables
 * it points to, the modules.  All of that sits in ranges the firmware calls
 * "available", so we append a RESERVED range for each; the PMM subtracts
 * them (overlaps allowed, any order), rounding outwards to whole pages.
 *
 *   out[0 .. n-1]   the loader's ranges, in the loader's order
 *   out[n ..]       our reservations: kernel image, multiboot info, memory
 *                   map buffer, command line, loader name, ELF section
 *                   headers, module list, each module and its string
 *
 * One walk (collect) produces the ranges; add() either stores them or, for
 * the record kept for memmap_print(), names them.  The record is a copy, so
 * printing later (from the shell, after paging) never reads loader memory.
 * Until paging, every address here is physical and identity-mapped.
 */
#include "memmap.h"

#include "terminal.h"

extern char kernel_start[], kernel_end[]; /* linker.ld: the image, .bss and boot stack included */

/* A loader string longer than this is not a string: we stop and reserve only this much. */
#define LOADER_STRING_MAX 4096

/* Where a range came from, for memmap_print(). */
struct origin {
    const char *what;   /* "loader map", "kernel image", "module", ... */
    const char *detail; /* the loader's type name for its own ranges, else NULL */
    int number;         /* module index, else -1 */
};

struct builder {
    pmm_range_t *out;
    int max, count; /* count goes past max when the map does not fit */
    int record;     /* keep a named copy for memmap_print() */
};

static struct {
    pmm_range_t range;
    struct origin origin;
} recorded[MEMMAP_MAX_RANGES];
static int recorded_count, recorded_total;
static int pmm_ready;

static void add(struct builder *b, uint64_t base, uint64_t length, uint32_t type,
                struct origin origin)
{
    if (length == 0) /* nothing to hand out or to keep back */
        return;
    pmm_range_t r = {.base = base, .length = length, .type = type};
    if (b->count < b->max)
        b->out[b->count] = r;
    if (b->record) {
        if (b->count < MEMMAP_MAX_RANGES) {
            recorded[b->count].range = r;
            recorded[b->count].origin = origin;
            recorded_count = b->count + 1;
        }
        recorded_total = b->count + 1;
    }
    b->count++;
}

static void reserve(struct builder *b, uint64_t base, uint64_t length, const char *what)
{
    add(b, base, length, PMM_RANGE_RESERVED, (struct origin){what, NULL, -1});
}

/* Bytes of the NUL-terminated string at phys, the NUL included; bounded. */
static uint32_t loader_string_size(uint32_t phys, const char *what)
{
    const char *s = (const char *)phys;
    uint32_t n = 0;

    while (n < LOADER_STRING_MAX && s[n])
        n++;
    if (n == LOADER_STRING_MAX) {
        kprintf("memmap_build: 0x%08x: %s has no NUL in %u bytes; reserving only those\n", phys,
                what, LOADER_STRING_MAX);
        return n;
    }
    return n + 1;
}

static void reserve_string(struct builder *b, uint32_t phys, const char *what)
{
    if (phys)
        reserve(b, phys, loader_string_size(phys, what), what);
}

/* The loader's memory map; stops at the first malformed entry (after saying so). */
static void collect_loader_map(struct builder *b, const struct multiboot_info *mbi)
{
    uint64_t cursor = 0;
    const struct multiboot_mmap_entry *e;

    while ((e = multiboot_mmap_next(mbi, &cursor)) != NULL) {
        uint32_t type =
            e->type == MULTIBOOT_MEMORY_AVAILABLE ? PMM_RANGE_AVAILABLE : PMM_RANGE_RESERVED;
        add(b, e->base_addr, e->length, type,
            (struct origin){"loader map", multiboot_memory_type_name(e->type), -1});
    }
}

static void collect_modules(struct builder *b, const struct multiboot_info *mbi)
{
    const struct multiboot_module *mods = (const struct multiboot_module *)mbi->mods_addr;

    reserve(b, mbi->mods_addr, (uint64_t)mbi->mods_count * sizeof(*mods), "module list");
    for (uint32_t i = 0; i < mbi->mods_count; i++) {
        if (mods[i].mod_end < mods[i].mod_start) {
            kprintf("memmap_build: 0x%08x: module %u ends at 0x%08x, before it starts; "
                    "not reserved\n",
                    mods[i].mod_start, i, mods[i].mod_end);
        } else {
            add(b, mods[i].mod_start, mods[i].mod_end - mods[i].mod_start, PMM_RANGE_RESERVED,
                (struct origin){"module", NULL, (int)i});
        }
        if (mods[i].string)
            add(b, mods[i].string, loader_string_size(mods[i].string, "module string"),
                PMM_RANGE_RESERVED, (struct origin){"module string", NULL, (int)i});
    }
}

static void collect(struct builder *b, const struct multiboot_info *mbi)
{
    if (mbi && (mbi->flags & MULTIBOOT_INFO_MMAP)) {
        collect_loader_map(b, mbi);
    } else if (mbi && (mbi->flags & MULTIBOOT_INFO_MEMORY)) {
        add(b, 0, (uint64_t)mbi->mem_lower * 1024, PMM_RANGE_AVAILABLE,
            (struct origin){"mem_lower", NULL, -1});
        add(b, 0x100000, (uint64_t)mbi->mem_upper * 1024, PMM_RANGE_AVAILABLE,
            (struct origin){"mem_upper", NULL, -1});
    }

    reserve(b, (uint32_t)kernel_start, (uint32_t)(kernel_end - kernel_start), "kernel image");
    if (!mbi)
        return;
    reserve(b, (uint32_t)mbi, sizeof(*mbi), "multiboot info");
    if (mbi->flags & MULTIBOOT_INFO_MMAP)
        reserve(b, mbi->mmap_addr, mbi->mmap_length, "memory map buffer");
    if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
        reserve_string(b, mbi->cmdline, "command line");
    if (mbi->flags & MULTIBOOT_INFO_LOADER)
        reserve_string(b, mbi->boot_loader_name, "boot loader name");
    if (mbi->flags & MULTIBOOT_INFO_ELF_SHDR) /* syms[] = num, size, addr, shndx */
        reserve(b, mbi->syms[2], (uint64_t)mbi->syms[0] * mbi->syms[1], "ELF section headers");
    if ((mbi->flags & MULTIBOOT_INFO_MODS) && mbi->mods_count)
        collect_modules(b, mbi);
}

static int build(const struct multiboot_info *mbi, pmm_range_t *out, int max, int record)
{
    struct builder b = {.out = out, .max = max < 0 ? 0 : max, .count = 0, .record = record};

    if (record)
        recorded_count = recorded_total = 0;
    collect(&b, mbi);
    if (b.count > b.max) {
        kprintf("memmap_build: %d ranges do not fit in a map of %d\n", b.count, max);
        return -1;
    }
    return b.count;
}

int memmap_build(pmm_range_t *out, int max)
{
    return build(multiboot_info(), out, max, 1);
}

int memmap_build_from(const struct multiboot_info *mbi, pmm_range_t *out, int max)
{
    return build(mbi, out, max, 0);
}

void memmap_set_pmm_ready(int ready)
{
    pmm_ready = ready;
}

int memmap_pmm_ready(void)
{
    return pmm_ready;
}

/* kprintf has no 64-bit conversions: two 32-bit halves. */
static void print_u64_hex(uint64_t v)
{
    kprintf("0x%08x%08x", (uint32_t)(v >> 32), (uint32_t)v);
}

static void print_size(uint64_t bytes)
{
    if (bytes < 1024)
        kprintf("%9u B ", (uint32_t)bytes);
    else /* >> 10 fits 32 bits below 4 TB */
        kprintf("%9u KB", (uint32_t)((bytes + 1023) >> 10));
}

void memmap_print(void)
{
    if (recorded_total == 0) {
        kprintf("  (no memory map built)\n");
        return;
    }
    for (int i = 0; i < recorded_count; i++) {
        const pmm_range_t *r = &recorded[i].range;
        const struct origin *o = &recorded[i].origin;

        kprintf("  ");
        print_u64_hex(r->base);
        kprintf("-");
        print_u64_hex(r->base + r->length);
        kprintf(" ");
        print_size(r->length);
        kprintf("  %-9s  %s", r->type == PMM_RANGE_AVAILABLE ? "available" : "reserved", o->what);
        if (o->detail)
            kprintf(" (%s)", o->detail);
        if (o->number >= 0)
            kprintf(" %d", o->number);
        kprintf("\n");
    }
    if (recorded_total > recorded_count)
        kprintf("  ... and %d more ranges not kept for printing\n",
                recorded_total - recorded_count);
}

/*
 * multiboot.c - what the Multiboot loader told us: the command line and the
 * memory map.
 *
 * The information structure lives in loader-chosen memory (QEMU puts it just
 * after the kernel image); we keep a pointer to it but copy the command line,
 * which is small and read long after boot.  Physical addresses are used
 * directly: paging is not on yet.
 */
#include "multiboot.h"

#include "terminal.h"

#define CMDLINE_MAX 256

static const struct multiboot_info *mbi;
static char cmdline[CMDLINE_MAX];

int multiboot_init(uint32_t magic, uint32_t mbi_phys)
{
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC || mbi_phys == 0) {
        kprintf("multiboot_init: magic 0x%08x (expected 0x%08x), info at 0x%08x: "
                "not loaded by a Multiboot loader; no memory map, no command line\n",
                magic, MULTIBOOT_BOOTLOADER_MAGIC, mbi_phys);
        return 0;
    }
    mbi = (const struct multiboot_info *)mbi_phys;

    if (mbi->flags & MULTIBOOT_INFO_CMDLINE) {
        const char *src = (const char *)mbi->cmdline;
        size_t i = 0;

        while (src[i] && i < CMDLINE_MAX - 1) {
            cmdline[i] = src[i];
            i++;
        }
        cmdline[i] = '\0';
        if (src[i])
            kprintf("multiboot_init: command line longer than %d bytes, truncated\n",
                    CMDLINE_MAX - 1);
    }
    return 1;
}

const struct multiboot_info *multiboot_info(void)
{
    return mbi;
}

const char *multiboot_cmdline(void)
{
    return cmdline;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int multiboot_has_option(const char *word)
{
    const char *p = cmdline;

    if (!word || !word[0])
        return 0;
    while (*p) {
        while (is_space(*p))
            p++;
        const char *start = p;
        while (*p && !is_space(*p))
            p++;

        size_t i = 0, len = (size_t)(p - start);
        while (i < len && word[i] == start[i])
            i++;
        if (i == len && word[i] == '\0' && len > 0)
            return 1;
    }
    return 0;
}

const char *multiboot_memory_type_name(uint32_t type)
{
    switch (type) {
    case MULTIBOOT_MEMORY_AVAILABLE:
        return "available";
    case MULTIBOOT_MEMORY_RESERVED:
        return "reserved";
    case MULTIBOOT_MEMORY_ACPI_RECLAIMABLE:
        return "ACPI reclaimable";
    case MULTIBOOT_MEMORY_NVS:
        return "ACPI NVS";
    case MULTIBOOT_MEMORY_BADRAM:
        return "bad RAM";
    default:
        return "unknown";
    }
}

/* 64-bit values as two 32-bit halves: kprintf has no 64-bit conversions. */
static void print_u64_hex(uint64_t v)
{
    kprintf("0x%08x%08x", (uint32_t)(v >> 32), (uint32_t)v);
}

/*
 * The next entry of the loader's memory map, or NULL at its end.  Entries are
 * read only when they lie wholly inside the map (computed in 64 bits, so a
 * map or a `size` field that wraps cannot send us outside it or around in
 * circles); a malformed entry ends the walk with a one-line report.
 */
const struct multiboot_mmap_entry *multiboot_mmap_next(const struct multiboot_info *mbi,
                                                       uint64_t *cursor)
{
    uint64_t start = mbi->mmap_addr, end = start + mbi->mmap_length;
    uint64_t addr = start + *cursor;
    if (addr + sizeof(uint32_t) > end)
        return NULL;
    const struct multiboot_mmap_entry *e = (const struct multiboot_mmap_entry *)(uintptr_t)addr;
    uint64_t step = (uint64_t)e->size + sizeof(e->size);
    if (addr + sizeof(*e) > end || e->size < sizeof(*e) - sizeof(e->size) || addr + step > end) {
        kprintf("multiboot: memory map entry at 0x%08x (size %u) does not fit the map: the rest "
                "is ignored\n",
                (uint32_t)addr, e->size);
        return NULL;
    }
    *cursor += step;
    return e;
}

void multiboot_print_memory_map(void)
{
    if (!mbi) {
        kprintf("  (no multiboot information)\n");
        return;
    }
    if (mbi->flags & MULTIBOOT_INFO_MEMORY)
        kprintf("  lower memory %u KB, upper memory %u KB\n", mbi->mem_lower, mbi->mem_upper);
    if (!(mbi->flags & MULTIBOOT_INFO_MMAP)) {
        kprintf("  (the loader gave no memory map)\n");
        return;
    }

    uint64_t cursor = 0;
    const struct multiboot_mmap_entry *e;
    while ((e = multiboot_mmap_next(mbi, &cursor)) != NULL) {
        kprintf("  base ");
        print_u64_hex(e->base_addr);
        kprintf("  length ");
        print_u64_hex(e->length);
        /* length >> 10 fits 32 bits for any region below 4 TB: a KB count. */
        kprintf("  (%u KB)  type %u %s\n", (uint32_t)(e->length >> 10), e->type,
                multiboot_memory_type_name(e->type));
    }
}

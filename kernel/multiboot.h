/*
 * multiboot.h - the Multiboot (version 1) boot protocol: the information
 * structure the loader (QEMU's -kernel, GRUB) hands us in EBX.  The header our
 * image carries is arch/x86/boot.S's.
 *
 * Layouts follow the Multiboot 0.6.96 specification, section 3.3;
 * every address in them is physical.
 */
#ifndef KERNEL_MULTIBOOT_H
#define KERNEL_MULTIBOOT_H

/* What the loader leaves in EAX. */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002

#include <stddef.h>
#include <stdint.h>

/* multiboot_info.flags: which of the fields below are valid. */
#define MULTIBOOT_INFO_MEMORY   0x001 /* mem_lower, mem_upper */
#define MULTIBOOT_INFO_CMDLINE  0x004 /* cmdline */
#define MULTIBOOT_INFO_MODS     0x008 /* mods_count, mods_addr */
#define MULTIBOOT_INFO_ELF_SHDR 0x020 /* syms[] = num, size, addr, shndx of ELF section headers */
#define MULTIBOOT_INFO_MMAP     0x040 /* mmap_length, mmap_addr */
#define MULTIBOOT_INFO_LOADER   0x200 /* boot_loader_name */

/* The information structure, up to the VBE fields (88 bytes). */
struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower; /* KB of RAM from 0 (at most 640) */
    uint32_t mem_upper; /* KB of RAM from 1 MB up to the first hole */
    uint32_t boot_device;
    uint32_t cmdline; /* physical address of a NUL-terminated string */
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];     /* a.out symbol table or ELF section headers */
    uint32_t mmap_length; /* bytes of memory map at mmap_addr */
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
    uint32_t vbe_control_info;
    uint32_t vbe_mode_info;
    uint16_t vbe_mode;
    uint16_t vbe_interface_seg;
    uint16_t vbe_interface_off;
    uint16_t vbe_interface_len;
};

/*
 * One memory map entry.  `size` counts the bytes *after* itself, so the next
 * entry starts at (char *)entry + entry->size + 4; loaders may make entries
 * bigger than this struct.  The 64-bit fields are only 4-byte aligned.
 */
struct multiboot_mmap_entry {
    uint32_t size;
    uint64_t base_addr;
    uint64_t length;
    uint32_t type;
} __attribute__((packed));

/* One loaded module (mods_addr points to mods_count of these). */
struct multiboot_module {
    uint32_t mod_start; /* first byte */
    uint32_t mod_end;   /* first byte after the module */
    uint32_t string;    /* NUL-terminated string the loader associates with it, or 0 */
    uint32_t reserved;
};

#define MULTIBOOT_MEMORY_AVAILABLE        1
#define MULTIBOOT_MEMORY_RESERVED         2
#define MULTIBOOT_MEMORY_ACPI_RECLAIMABLE 3
#define MULTIBOOT_MEMORY_NVS              4
#define MULTIBOOT_MEMORY_BADRAM           5

_Static_assert(offsetof(struct multiboot_info, cmdline) == 16, "multiboot cmdline offset");
_Static_assert(offsetof(struct multiboot_info, mmap_length) == 44, "multiboot mmap offset");
_Static_assert(offsetof(struct multiboot_info, boot_loader_name) == 64, "multiboot name offset");
_Static_assert(sizeof(struct multiboot_info) == 88, "multiboot info size");
_Static_assert(offsetof(struct multiboot_mmap_entry, base_addr) == 4, "mmap base offset");
_Static_assert(offsetof(struct multiboot_mmap_entry, type) == 20, "mmap type offset");
_Static_assert(sizeof(struct multiboot_mmap_entry) == 24, "mmap entry size");
_Static_assert(sizeof(struct multiboot_module) == 16, "module entry size");

/*
 * Check the loader's magic and remember the information structure.  Returns 0
 * when magic is wrong (then every query below answers "nothing").  The
 * command line is copied, so the loader's memory may be reused afterwards.
 */
int multiboot_init(uint32_t magic, uint32_t mbi_phys);

/* The validated information structure, or NULL. */
const struct multiboot_info *multiboot_info(void);

/* The kernel command line ("" if the loader gave none). */
const char *multiboot_cmdline(void);

/* Nonzero if `word` is one of the whitespace-separated words of the cmdline. */
int multiboot_has_option(const char *word);

/* "available", "ACPI NVS", ... for a memory map entry type. */
const char *multiboot_memory_type_name(uint32_t type);

/*
 * Walk the loader's memory map: start with *cursor = 0; returns each entry,
 * then NULL.  Malformed entries end the walk (reported), never overrun it.
 */
const struct multiboot_mmap_entry *multiboot_mmap_next(const struct multiboot_info *mbi,
                                                       uint64_t *cursor);

/* Print mem_lower/mem_upper and the memory map (base, length, type). */
void multiboot_print_memory_map(void);

#endif /* KERNEL_MULTIBOOT_H */

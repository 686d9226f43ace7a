/*
 * firmware.h - reading the tables the firmware leaves in physical memory
 * (ACPI: arch/x86/acpi.c; Intel MP: arch/x86/mptable.c), and what they say
 * about the processors, for arch/x86/cpus.c.
 *
 * The parsers never touch memory themselves: they ask a fw_reader_t for
 * `len` bytes at a physical address.  The kernel answers with whatever
 * access it has at that moment (arch/x86/cpus_boot.c: before paging,
 * everything below 4 GB is the pointer itself); the host tests answer from a
 * fake physical memory that holds tables they built, honest or lying
 * (tests/host/test_acpi.c).  The same source runs in both.
 *
 * Rules the parsers keep, because firmware tables can be wrong:
 *   - a pointer from read() is used only until the next read() (a reader
 *     may map one temporary window, or copy into one buffer);
 *   - every length is checked against what holds it before it is used, and
 *     every walk advances by at least one byte per step (no endless loop);
 *   - every table refused is one line: "<table> at 0x...: <reason>".
 */
#ifndef ARCH_X86_FIRMWARE_H
#define ARCH_X86_FIRMWARE_H

#include <stdint.h>

#include "cpus.h"

typedef struct {
    /* len (> 0) bytes at physical phys, or NULL if they cannot be read now. */
    const void *(*read)(void *ctx, uint32_t phys, uint32_t len);
    /* The running CPU's (the BSP's) id, read from its local APIC at
       lapic_phys; -1 if it cannot be read.  NULL: never readable. */
    int (*bsp_apic_id)(void *ctx, uint32_t lapic_phys);
    void *ctx;
} fw_reader_t;

/* read() with the range checked first: empty, or past 4 GB, is NULL without asking. */
const void *fw_read(const fw_reader_t *r, uint32_t phys, uint32_t len);

/* Little-endian fields at any alignment, and the byte sum every table carries. */
static inline uint16_t fw_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t fw_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fw_le64(const uint8_t *p)
{
    return (uint64_t)fw_le32(p) | (uint64_t)fw_le32(p + 4) << 32;
}
static inline uint8_t fw_sum(const uint8_t *p, uint32_t len)
{
    uint8_t s = 0;
    while (len--)
        s = (uint8_t)(s + *p++);
    return s;
}
static inline int fw_sig_is(const uint8_t *p, const char *sig, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        if (p[i] != (uint8_t)sig[i])
            return 0;
    }
    return 1;
}

/* The BIOS data area word that holds the EBDA's segment, and the areas searched. */
#define FW_BDA_EBDA_SEGMENT 0x40Eu
#define FW_BDA_BASE_KB      0x413u /* base memory size in KB */
#define FW_BIOS_ROM_START   0xE0000u
#define FW_BIOS_ROM_END     0x100000u

/*
 * Where the EBDA's first KB lies (the BIOS data area's word at 0x40E, times
 * 16), or 0 when that word is missing or points outside conventional memory.
 */
uint32_t fw_ebda(const fw_reader_t *r);

/* ---- what a table says about the processors ---- */

#define FW_APIC_BROADCAST 0xFF /* no CPU has this APIC id */

typedef struct {
    const char *table;   /* "ACPI MADT", "MP table": names the messages */
    uint32_t lapic_phys; /* the local APIC's base the table gives */
    int marks_bsp;       /* the table marks the BSP's entry (the MP table does, the MADT not) */
    unsigned count;      /* enabled CPUs with distinct ids, in the table's order */
    uint8_t apic_id[255];
    uint8_t marked_bsp[255]; /* the MP table's BP flag on that entry */
    unsigned duplicates;     /* entries skipped: their id was listed before */
    uint8_t first_duplicate;
    uint32_t listed[8];   /* bitmap: ids in apic_id[] */
    uint32_t disabled[8]; /* bitmap: ids of disabled entries */
} fw_cpus_t;

/* An enabled processor entry: kept unless its id was listed before (then counted). */
void fw_cpus_add(fw_cpus_t *f, uint8_t apic_id, int marked_bsp);
/* A disabled one: remembered, so that a BSP listed as disabled can be told apart. */
void fw_cpus_disabled(fw_cpus_t *f, uint8_t apic_id);
int fw_cpus_has(const uint32_t *bitmap, uint8_t apic_id);

/* ---- ACPI (arch/x86/acpi.c) ---- */

#define ACPI_HEADER_SIZE    36u            /* every system description table's header */
#define ACPI_TABLE_MAX_SIZE (1024u * 1024) /* no table is believed to be larger */

typedef struct {
    uint32_t phys;   /* where the table starts */
    uint32_t length; /* its header's length: >= ACPI_HEADER_SIZE, checksum verified */
} acpi_table_t;

/*
 * Find the table with this 4-character signature ("APIC", "SRAT", "SLIT"):
 * RSDP, then the XSDT (or the RSDT), then its entries.  0 and *out filled, or
 * -1 after saying why (no RSDP, a refused root table, no such table).
 */
int acpi_find_table(const fw_reader_t *r, const char *signature, acpi_table_t *out);

/*
 * The same, saying nothing when there is no ACPI, no usable root table or no
 * such table (the CPU discovery has said what is wrong with the root tables;
 * an optional table's absence is no news): 0 found, -1 none.  A table of this
 * signature that is refused is still said in one line, and then the result is
 * -2 (unless a later one is good): for the SRAT and the SLIT (arch/x86/numa.c).
 */
int acpi_find_table_quiet(const fw_reader_t *r, const char *signature, acpi_table_t *out);

/* The MADT's enabled processors into *out: 0, or -1 after one line saying why not. */
int acpi_madt_cpus(const fw_reader_t *r, fw_cpus_t *out);

/* ---- Intel MP specification 1.4 (arch/x86/mptable.c) ---- */

/* The MP configuration table's enabled processors into *out: 0, or -1 after saying why not. */
int mptable_cpus(const fw_reader_t *r, fw_cpus_t *out);

/* ---- the decision (arch/x86/cpus.c) ---- */

/* cpu_discover on any reader: the kernel's calls it with its own, the host tests with theirs. */
void cpus_discover_with(const fw_reader_t *r, cpus_source_t source, cpu_topology_t *out);

/* The kernel's reader (arch/x86/cpus_boot.c): before paging, the address is the pointer. */
const fw_reader_t *fw_boot_reader(void);

#endif /* ARCH_X86_FIRMWARE_H */

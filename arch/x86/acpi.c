/*
 * acpi.c - the ACPI tables: find the RSDP, walk the XSDT (or RSDT) to a
 * table of a given signature, and read the processors from the MADT.
 *
 * acpi_find_table is general: the MADT ("APIC") now, SRAT and SLIT for NUMA
 * later.  Everything is read through a fw_reader_t (arch/x86/firmware.h), so
 * this file runs unchanged in the kernel and over the host tests' fake
 * physical memory.  Layouts (ACPI 6.5, sections 5.2.5-5.2.12), byte offsets:
 *
 *   RSDP, on a 16-byte boundary in the EBDA's first KB or in 0xE0000-0xFFFFF:
 *     0 "RSD PTR "   8 checksum (bytes 0-19 sum to 0)   9 OEM id[6]
 *    15 revision (0: ACPI 1.0; 2: 2.0 and later)        16 RSDT address (32-bit)
 *     revision >= 2 only:
 *    20 length (36)  24 XSDT address (64-bit)  32 extended checksum (all `length` bytes)
 *
 *   every table's header (36 bytes; all `length` bytes sum to 0):
 *     0 signature[4]  4 length  8 revision  9 checksum  10 OEM id[6]  16 OEM table id[8]
 *    24 OEM revision  28 creator id  32 creator revision
 *   RSDT: the header, then 32-bit table addresses; XSDT: the same with 64-bit ones,
 *   preferred when the RSDP has one (ACPI 2.0+).
 *
 *   MADT, signature "APIC": the header, 36 local APIC address, 40 flags, then
 *   entries from 44, each "0 type, 1 length":
 *     type 0, processor local APIC, 8 bytes: 2 ACPI processor uid, 3 APIC id,
 *             4 flags: bit 0 enabled; bit 1 online capable (only when not
 *             enabled: may be hot-added later, which this kernel does not do)
 *     type 5, local APIC address override, 12 bytes: 4 address (64-bit)
 *     type 9, processor local x2APIC, 16 bytes: 32-bit ids; counted, not used
 *     others (I/O APICs, interrupt overrides, NMIs, ...): stepped over by length
 *
 * Every refusal is one line naming the table, where it is and why; then the
 * caller tries its next source.
 */
#include "firmware.h"

#include "console.h"

#define RSDP_V1_SIZE          20u
#define RSDP_V2_SIZE          36u
#define RSDP_MAX_SIZE         1024u /* the length field of a revision 2 RSDP: 36 in practice */
#define ACPI_UNREACHABLE_SAID 4u    /* root entries out of reach named one by one */
#define MADT_HEADER           44u   /* the table header, the local APIC address, the flags */
#define MADT_LAPIC            0
#define MADT_OVERRIDE         5
#define MADT_X2APIC           9
#define MADT_ENABLED          0x1u
#define MADT_ONLINE_OK        0x2u

typedef struct {
    uint32_t phys;
    unsigned revision;
    uint32_t rsdt;
    uint64_t xsdt; /* 0: none (revision < 2, or the firmware gave none) */
} rsdp_t;

/* ---- table headers ---- */

enum sdt_problem {
    SDT_OK,
    SDT_UNREADABLE, /* the header cannot be read */
    SDT_SIGNATURE,  /* not the signature expected */
    SDT_SHORT,      /* length below the header's own size */
    SDT_LONG,       /* length above ACPI_TABLE_MAX_SIZE */
    SDT_PAST,       /* the header can be read, not all `length` bytes */
    SDT_CHECKSUM,
    SDT_ENTRIES, /* a root table: not the header plus whole entries */
};

typedef struct {
    enum sdt_problem problem;
    uint32_t length;
    char signature[5]; /* what the header says, for the message */
} sdt_check_t;

/* The table at phys: signature, length (>= its header, <= the maximum, readable), checksum. */
static void sdt_check(const fw_reader_t *r, uint32_t phys, const char *signature, sdt_check_t *c)
{
    const uint8_t *h = fw_read(r, phys, ACPI_HEADER_SIZE);

    c->length = 0;
    c->signature[0] = '\0';
    if (!h) {
        c->problem = SDT_UNREADABLE;
        return;
    }
    for (int i = 0; i < 4; i++) /* printable, whatever the bytes are */
        c->signature[i] = h[i] >= 0x20 && h[i] < 0x7F ? (char)h[i] : '?';
    c->signature[4] = '\0';
    c->length = fw_le32(h + 4);
    if (!fw_sig_is(h, signature, 4))
        c->problem = SDT_SIGNATURE;
    else if (c->length < ACPI_HEADER_SIZE)
        c->problem = SDT_SHORT;
    else if (c->length > ACPI_TABLE_MAX_SIZE)
        c->problem = SDT_LONG;
    else if (!(h = fw_read(r, phys, c->length)))
        c->problem = SDT_PAST;
    else if (fw_sum(h, c->length))
        c->problem = SDT_CHECKSUM;
    else
        c->problem = SDT_OK;
}

/* Why a table was refused, to end a line that named it. */
static void sdt_say(const sdt_check_t *c)
{
    switch (c->problem) {
    case SDT_OK:
        break;
    case SDT_UNREADABLE:
        kprintf("cannot be read");
        break;
    case SDT_SIGNATURE:
        kprintf("signature '%s', not the one expected", c->signature);
        break;
    case SDT_SHORT:
        kprintf("length %u is shorter than its %u-byte header", c->length, ACPI_HEADER_SIZE);
        break;
    case SDT_LONG:
        kprintf("length %u is over the %u KB any table is believed to have", c->length,
                ACPI_TABLE_MAX_SIZE / 1024);
        break;
    case SDT_PAST:
        kprintf("length %u runs past readable memory", c->length);
        break;
    case SDT_CHECKSUM:
        kprintf("bad checksum");
        break;
    case SDT_ENTRIES:
        kprintf("length %u is not its header plus whole entries", c->length);
        break;
    }
}

/* ---- the RSDP ---- */

/* 1: a valid RSDP at phys; 0: none there; -1: one there, refused (said why). */
static int rsdp_at(const fw_reader_t *r, uint32_t phys, rsdp_t *out, int quiet)
{
    const uint8_t *p = fw_read(r, phys, RSDP_V1_SIZE);

    if (!p || !fw_sig_is(p, "RSD PTR ", 8))
        return 0;
    if (fw_sum(p, RSDP_V1_SIZE)) {
        if (!quiet)
            kprintf("acpi: RSDP at 0x%08x: bad checksum\n", phys);
        return -1;
    }
    out->phys = phys;
    out->revision = p[15];
    out->rsdt = fw_le32(p + 16);
    out->xsdt = 0;
    if (out->revision < 2)
        return 1;

    p = fw_read(r, phys, RSDP_V2_SIZE);
    uint32_t length = p ? fw_le32(p + 20) : 0;
    if (!p || length < RSDP_V2_SIZE || length > RSDP_MAX_SIZE) {
        if (!quiet)
            kprintf("acpi: RSDP at 0x%08x: revision %u, length %u: not %u to %u bytes\n", phys,
                    out->revision, length, RSDP_V2_SIZE, RSDP_MAX_SIZE);
        return -1;
    }
    uint64_t xsdt = fw_le64(p + 24);
    p = fw_read(r, phys, length);
    if (!p) {
        if (!quiet)
            kprintf("acpi: RSDP at 0x%08x: revision %u, length %u runs past readable memory\n",
                    phys, out->revision, length);
        return -1;
    }
    if (fw_sum(p, length)) {
        if (!quiet)
            kprintf("acpi: RSDP at 0x%08x: revision %u: bad extended checksum\n", phys,
                    out->revision);
        return -1;
    }
    out->xsdt = xsdt;
    return 1;
}

/* Search [start, end) on 16-byte boundaries; *refused counts candidates refused. */
static int rsdp_scan(const fw_reader_t *r, uint32_t start, uint32_t end, rsdp_t *out,
                     unsigned *refused, int quiet)
{
    for (uint32_t a = start; a + 16 <= end; a += 16) {
        int k = rsdp_at(r, a, out, quiet);
        if (k > 0)
            return 1;
        if (k < 0)
            (*refused)++;
    }
    return 0;
}

/* The RSDP: the EBDA's first KB, then the BIOS area 0xE0000-0xFFFFF (ACPI 6.5, 5.2.5.1). */
static int rsdp_find(const fw_reader_t *r, rsdp_t *out, int quiet)
{
    unsigned refused = 0;
    uint32_t ebda = fw_ebda(r);

    if (ebda && rsdp_scan(r, ebda, ebda + 1024, out, &refused, quiet))
        return 0;
    if (rsdp_scan(r, FW_BIOS_ROM_START, FW_BIOS_ROM_END, out, &refused, quiet))
        return 0;
    if (!refused && !quiet)
        kprintf("acpi: no RSDP in the EBDA or at 0x%05x-0x%05x\n", FW_BIOS_ROM_START,
                FW_BIOS_ROM_END - 1);
    return -1;
}

/* ---- the root table: XSDT, else RSDT ---- */

typedef struct {
    const char *name; /* "XSDT", "RSDT" */
    uint32_t phys, length;
    uint32_t entry_size; /* 8, 4 */
} root_t;

static int root_check(const fw_reader_t *r, uint32_t phys, root_t *root, sdt_check_t *c)
{
    sdt_check(r, phys, root->name, c);
    if (c->problem == SDT_OK && (c->length - ACPI_HEADER_SIZE) % root->entry_size)
        c->problem = SDT_ENTRIES;
    root->phys = phys;
    root->length = c->length;
    return c->problem == SDT_OK ? 0 : -1;
}

static int root_find(const fw_reader_t *r, root_t *root, int quiet)
{
    rsdp_t rsdp;
    sdt_check_t c;

    if (rsdp_find(r, &rsdp, quiet) < 0)
        return -1;
    if (rsdp.xsdt) {
        root->name = "XSDT";
        root->entry_size = 8;
        if (rsdp.xsdt >> 32) {
            if (!quiet)
                kprintf("acpi: XSDT at 0x%08x%08x: above 4 GB, out of reach",
                        (uint32_t)(rsdp.xsdt >> 32), (uint32_t)rsdp.xsdt);
        } else if (root_check(r, (uint32_t)rsdp.xsdt, root, &c) == 0) {
            return 0;
        } else if (!quiet) {
            kprintf("acpi: XSDT at 0x%08x: ", (uint32_t)rsdp.xsdt);
            sdt_say(&c);
        }
        if (!quiet)
            kprintf(rsdp.rsdt ? "; trying the RSDT\n" : "\n");
    }
    if (!rsdp.rsdt) {
        if (!quiet)
            kprintf("acpi: RSDP at 0x%08x: no %s\n", rsdp.phys,
                    rsdp.revision >= 2 ? "usable XSDT and no RSDT" : "RSDT");
        return -1;
    }
    root->name = "RSDT";
    root->entry_size = 4;
    if (root_check(r, rsdp.rsdt, root, &c) == 0)
        return 0;
    if (!quiet) {
        kprintf("acpi: RSDT at 0x%08x: ", rsdp.rsdt);
        sdt_say(&c);
        kprintf("\n");
    }
    return -1;
}

/* A lying root table may hold a million bad addresses: the first few are named, the rest counted.
 */
static void say_unreachable(const root_t *root, uint32_t unreachable, int quiet)
{
    if (unreachable > ACPI_UNREACHABLE_SAID && !quiet)
        kprintf("acpi: %s: %u more entries out of reach skipped\n", root->name,
                unreachable - ACPI_UNREACHABLE_SAID);
}

/* acpi_find_table; quiet: only a refused table of this signature is said (-2). */
static int find_table(const fw_reader_t *r, const char *signature, acpi_table_t *out, int quiet)
{
    root_t root;
    sdt_check_t c;
    char name[5];
    int refused = 0;

    if (!signature || !out)
        return -1;
    for (int i = 0; i < 4; i++)
        name[i] = signature[i];
    name[4] = '\0';
    if (root_find(r, &root, quiet) < 0)
        return -1;

    uint32_t entries = (root.length - ACPI_HEADER_SIZE) / root.entry_size, unreachable = 0;
    for (uint32_t i = 0; i < entries; i++) {
        const uint8_t *e =
            fw_read(r, root.phys + ACPI_HEADER_SIZE + i * root.entry_size, root.entry_size);
        if (!e) {
            if (!quiet)
                kprintf("acpi: %s at 0x%08x: entry %u cannot be read\n", root.name, root.phys, i);
            return -1;
        }
        uint64_t at = root.entry_size == 8 ? fw_le64(e) : fw_le32(e);
        if (at >> 32) {
            if (unreachable++ < ACPI_UNREACHABLE_SAID && !quiet)
                kprintf("acpi: %s entry %u -> 0x%08x%08x: above 4 GB, out of reach: skipped\n",
                        root.name, i, (uint32_t)(at >> 32), (uint32_t)at);
            continue;
        }
        const uint8_t *h = fw_read(r, (uint32_t)at, ACPI_HEADER_SIZE);
        if (!h) {
            if (unreachable++ < ACPI_UNREACHABLE_SAID && !quiet)
                kprintf("acpi: %s entry %u -> 0x%08x: cannot be read: skipped\n", root.name, i,
                        (uint32_t)at);
            continue;
        }
        if (!fw_sig_is(h, name, 4))
            continue;
        sdt_check(r, (uint32_t)at, name, &c);
        if (c.problem != SDT_OK) {
            kprintf("acpi: %s at 0x%08x (%s entry %u): ", name, (uint32_t)at, root.name, i);
            sdt_say(&c);
            kprintf(": skipped\n");
            refused = 1;
            continue;
        }
        say_unreachable(&root, unreachable, quiet);
        out->phys = (uint32_t)at;
        out->length = c.length;
        return 0;
    }
    say_unreachable(&root, unreachable, quiet);
    if (!quiet)
        kprintf("acpi: no %s table among the %s's %u entries\n", name, root.name, entries);
    return refused ? -2 : -1;
}

int acpi_find_table(const fw_reader_t *r, const char *signature, acpi_table_t *out)
{
    return find_table(r, signature, out, 0) < 0 ? -1 : 0;
}

int acpi_find_table_quiet(const fw_reader_t *r, const char *signature, acpi_table_t *out)
{
    return find_table(r, signature, out, 1);
}

/* ---- the MADT ---- */

/* The size an entry of this type must at least have, 2 for the types not read. */
static uint32_t madt_entry_min(uint8_t type)
{
    switch (type) {
    case MADT_LAPIC:
        return 8;
    case MADT_OVERRIDE:
        return 12;
    case MADT_X2APIC:
        return 16;
    default:
        return 2;
    }
}

int acpi_madt_cpus(const fw_reader_t *r, fw_cpus_t *out)
{
    acpi_table_t t;

    if (acpi_find_table(r, "APIC", &t) < 0)
        return -1;
    const uint8_t *m = t.length >= MADT_HEADER ? fw_read(r, t.phys, t.length) : 0;
    if (!m) {
        kprintf("cpus: ACPI MADT at 0x%08x: length %u %s\n", t.phys, t.length,
                t.length < MADT_HEADER ? "is shorter than its 44-byte header"
                                       : "runs past readable memory");
        return -1;
    }
    out->table = "ACPI MADT";
    out->lapic_phys = fw_le32(m + 36);

    unsigned disabled = 0, online_capable = 0, x2apic = 0, broadcast = 0, overrides = 0;
    uint64_t override = 0;
    uint32_t n = 0;
    for (uint32_t off = MADT_HEADER; off < t.length; off += m[off + 1], n++) {
        uint32_t left = t.length - off;
        if (left < 2) {
            kprintf("cpus: ACPI MADT at 0x%08x: entry %u at offset %u: %u byte left, short of an "
                    "entry header\n",
                    t.phys, n, off, left);
            return -1;
        }
        uint8_t type = m[off], len = m[off + 1];
        if (len < madt_entry_min(type) || len > left) {
            kprintf("cpus: ACPI MADT at 0x%08x: entry %u (type %u) at offset %u: length %u %s %u\n",
                    t.phys, n, type, off, len,
                    len > left ? "runs past the table's end at" : "is shorter than",
                    len > left ? t.length : madt_entry_min(type));
            return -1;
        }
        const uint8_t *e = m + off;
        if (type == MADT_LAPIC) {
            uint32_t flags = fw_le32(e + 4);
            if (e[3] == FW_APIC_BROADCAST)
                broadcast++;
            else if (flags & MADT_ENABLED)
                fw_cpus_add(out, e[3], 0);
            else if (flags & MADT_ONLINE_OK)
                online_capable++;
            else {
                disabled++;
                fw_cpus_disabled(out, e[3]);
            }
        } else if (type == MADT_OVERRIDE) {
            override = fw_le64(e + 4);
            overrides++;
        } else if (type == MADT_X2APIC) {
            x2apic++;
        }
    }

    if (overrides && override >> 32) {
        kprintf("cpus: ACPI MADT: local APIC address override 0x%08x%08x is above 4 GB: ignored\n",
                (uint32_t)(override >> 32), (uint32_t) override);
    } else if (overrides) {
        out->lapic_phys = (uint32_t) override;
    }
    if (!out->lapic_phys || out->lapic_phys % 4096) {
        kprintf("cpus: ACPI MADT: local APIC address 0x%08x is not a page: using 0x%08x\n",
                out->lapic_phys, CPUS_LAPIC_DEFAULT);
        out->lapic_phys = CPUS_LAPIC_DEFAULT;
    }
    if (disabled)
        kprintf("cpus: ACPI MADT: %u disabled processor%s skipped\n", disabled,
                disabled == 1 ? "" : "s");
    if (online_capable)
        kprintf("cpus: ACPI MADT: %u online-capable processor%s skipped: hot-plug is not "
                "supported\n",
                online_capable, online_capable == 1 ? "" : "s");
    if (x2apic)
        kprintf("cpus: ACPI MADT: %u x2APIC entr%s (type 9) skipped: x2APIC is not supported\n",
                x2apic, x2apic == 1 ? "y" : "ies");
    if (broadcast)
        kprintf("cpus: ACPI MADT: %u processor entr%s with APIC id 0xff (no CPU's) skipped\n",
                broadcast, broadcast == 1 ? "y" : "ies");
    if (!out->count) {
        kprintf("cpus: ACPI MADT at 0x%08x: no enabled processor among its %u entries\n", t.phys,
                n);
        return -1;
    }
    return 0;
}

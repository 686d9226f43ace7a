/*
 * mptable.c - the Intel MultiProcessor Specification 1.4 tables: the
 * floating pointer, then the configuration table's processor entries.  The
 * fallback when there is no (usable) ACPI MADT: older machines have only
 * this, and QEMU's BIOS builds both (with only the first CPU of each socket
 * in it).  Read through a fw_reader_t (arch/x86/firmware.h).  Byte offsets:
 *
 *   floating pointer, 16 bytes on a 16-byte boundary in the EBDA's first KB,
 *   the last KB of base memory (639 KB-640 KB with 640 KB) or 0xF0000-0xFFFFF:
 *     0 "_MP_"  4 configuration table address (0: none)  8 length in 16-byte
 *     units (1)  9 spec revision (1: 1.1, 4: 1.4)  10 checksum (16 bytes sum to 0)
 *    11 feature byte 1: 0, a configuration table; 1-7, one of the default
 *       configurations of chapter 5 (two processors, APIC ids 0 and 1, no table)
 *    12 feature byte 2 (bit 7: IMCR present)  13-15 reserved
 *
 *   configuration table header, 44 bytes (the base table's `length` bytes sum to 0):
 *     0 "PCMP"  4 base table length (16-bit)  6 spec revision  7 checksum
 *     8 OEM id[8]  16 product id[12]  28 OEM table address  32 OEM table size (16)
 *    34 entry count (16)  36 local APIC address  40 extended table length (16)
 *    42 extended table checksum  43 reserved
 *
 *   base table entries follow the header, sorted by type; each type has one size:
 *     type 0 processor, 20 bytes: 1 local APIC id  2 local APIC version
 *            3 flags: bit 0 EN (usable), bit 1 BP (the boot processor)
 *            4 CPU signature  8 feature flags  12 reserved[8]
 *     types 1 bus, 2 I/O APIC, 3 I/O interrupt, 4 local interrupt: 8 bytes
 *   A type the specification does not define has no known size: the walk ends
 *   there, keeping the processors before it (they come first, the entries being sorted).
 */
#include "firmware.h"

#include "console.h"

#define MP_FP_SIZE       16u
#define MP_HEADER        44u
#define MP_PROCESSOR     0
#define MP_PROCESSOR_LEN 20u
#define MP_OTHER_LEN     8u /* types 1-4 */
#define MP_LAST_TYPE     4
#define MP_CPU_EN        0x1u
#define MP_CPU_BP        0x2u
#define MP_DEFAULT_LAST  7 /* default configurations 1-7 */

typedef struct {
    uint32_t phys;
    uint32_t config; /* the configuration table's address */
    uint8_t feature1;
} mp_fp_t;

static int spec_revision_ok(uint8_t rev)
{
    return rev == 1 || rev == 4;
}

/* 1: a valid floating pointer at phys; 0: none there; -1: one there, refused (said why). */
static int fp_at(const fw_reader_t *r, uint32_t phys, mp_fp_t *out)
{
    const uint8_t *p = fw_read(r, phys, MP_FP_SIZE);

    if (!p || !fw_sig_is(p, "_MP_", 4))
        return 0;
    if (p[8] != 1) {
        kprintf("cpus: MP floating pointer at 0x%08x: length %u paragraphs, not 1\n", phys, p[8]);
        return -1;
    }
    if (fw_sum(p, MP_FP_SIZE)) {
        kprintf("cpus: MP floating pointer at 0x%08x: bad checksum\n", phys);
        return -1;
    }
    if (!spec_revision_ok(p[9])) {
        kprintf("cpus: MP floating pointer at 0x%08x: spec revision %u, not 1 (1.1) or 4 (1.4)\n",
                phys, p[9]);
        return -1;
    }
    out->phys = phys;
    out->config = fw_le32(p + 4);
    out->feature1 = p[11];
    return 1;
}

static int fp_scan(const fw_reader_t *r, uint32_t start, uint32_t end, mp_fp_t *out,
                   unsigned *refused)
{
    for (uint32_t a = start; a + MP_FP_SIZE <= end; a += 16) {
        int k = fp_at(r, a, out);
        if (k > 0)
            return 1;
        if (k < 0)
            (*refused)++;
    }
    return 0;
}

/* The three places of the specification (4.1), in its order. */
static int fp_find(const fw_reader_t *r, mp_fp_t *out)
{
    unsigned refused = 0;
    uint32_t ebda = fw_ebda(r);
    const uint8_t *kb = fw_read(r, FW_BDA_BASE_KB, 2);
    uint32_t base_kb = kb ? fw_le16(kb) : 0;

    if (base_kb < 512 || base_kb > 640) /* not a believable size: the common one */
        base_kb = 640;
    uint32_t last_kb = (base_kb - 1) * 1024;

    if (ebda && fp_scan(r, ebda, ebda + 1024, out, &refused))
        return 0;
    if (last_kb != ebda && fp_scan(r, last_kb, last_kb + 1024, out, &refused))
        return 0;
    if (fp_scan(r, 0xF0000, FW_BIOS_ROM_END, out, &refused))
        return 0;
    if (!refused)
        kprintf("cpus: MP table: no floating pointer in the EBDA, at 0x%05x-0x%05x or "
                "0xf0000-0xfffff\n",
                last_kb, last_kb + 1023);
    return -1;
}

int mptable_cpus(const fw_reader_t *r, fw_cpus_t *out)
{
    mp_fp_t fp;

    if (fp_find(r, &fp) < 0)
        return -1;
    out->table = "MP table";
    out->lapic_phys = CPUS_LAPIC_DEFAULT;
    if (fp.feature1) {
        if (fp.feature1 > MP_DEFAULT_LAST) {
            kprintf(
                "cpus: MP floating pointer at 0x%08x: default configuration %u: not one of 1-7\n",
                fp.phys, fp.feature1);
            return -1;
        }
        kprintf("cpus: MP floating pointer at 0x%08x: default configuration %u: two processors, "
                "APIC ids 0 and 1\n",
                fp.phys, fp.feature1);
        fw_cpus_add(out, 0, 0);
        fw_cpus_add(out, 1, 0);
        return 0;
    }
    if (!fp.config) {
        kprintf("cpus: MP floating pointer at 0x%08x: no configuration table and no default "
                "configuration\n",
                fp.phys);
        return -1;
    }

    uint32_t at = fp.config;
    const uint8_t *h = fw_read(r, at, MP_HEADER);
    if (!h || !fw_sig_is(h, "PCMP", 4)) {
        kprintf("cpus: MP table at 0x%08x: %s\n", at,
                h ? "signature is not PCMP" : "cannot be read");
        return -1;
    }
    uint32_t length = fw_le16(h + 4);
    const uint8_t *t = length >= MP_HEADER ? fw_read(r, at, length) : 0;
    if (!t) {
        kprintf("cpus: MP table at 0x%08x: length %u %s\n", at, length,
                length < MP_HEADER ? "is shorter than its 44-byte header"
                                   : "runs past readable memory");
        return -1;
    }
    if (fw_sum(t, length)) {
        kprintf("cpus: MP table at 0x%08x: bad checksum\n", at);
        return -1;
    }
    if (!spec_revision_ok(t[6])) {
        kprintf("cpus: MP table at 0x%08x: spec revision %u, not 1 (1.1) or 4 (1.4)\n", at, t[6]);
        return -1;
    }
    out->lapic_phys = fw_le32(t + 36);

    unsigned count = fw_le16(t + 34), disabled = 0, broadcast = 0;
    uint32_t off = MP_HEADER;
    for (unsigned i = 0; i < count; i++) {
        if (off >= length) {
            kprintf("cpus: MP table at 0x%08x: entry %u of %u starts at offset %u, past the "
                    "table's length %u\n",
                    at, i, count, off, length);
            return -1;
        }
        uint8_t type = t[off];
        if (type > MP_LAST_TYPE) {
            kprintf("cpus: MP table at 0x%08x: entry %u of %u has unknown type %u, so no known "
                    "size: the rest is not read\n",
                    at, i, count, type);
            break;
        }
        uint32_t size = type == MP_PROCESSOR ? MP_PROCESSOR_LEN : MP_OTHER_LEN;
        if (size > length - off) {
            kprintf("cpus: MP table at 0x%08x: entry %u of %u (type %u, %u bytes) at offset %u "
                    "runs past the table's length %u\n",
                    at, i, count, type, size, off, length);
            return -1;
        }
        const uint8_t *e = t + off;
        if (type == MP_PROCESSOR) {
            if (e[1] == FW_APIC_BROADCAST)
                broadcast++;
            else if (e[3] & MP_CPU_EN)
                fw_cpus_add(out, e[1], (e[3] & MP_CPU_BP) != 0);
            else {
                disabled++;
                fw_cpus_disabled(out, e[1]);
            }
        }
        off += size;
    }

    if (!out->lapic_phys || out->lapic_phys % 4096) {
        kprintf("cpus: MP table: local APIC address 0x%08x is not a page: using 0x%08x\n",
                out->lapic_phys, CPUS_LAPIC_DEFAULT);
        out->lapic_phys = CPUS_LAPIC_DEFAULT;
    }
    if (disabled)
        kprintf("cpus: MP table: %u disabled processor%s skipped\n", disabled,
                disabled == 1 ? "" : "s");
    if (broadcast)
        kprintf("cpus: MP table: %u processor entr%s with APIC id 0xff (no CPU's) skipped\n",
                broadcast, broadcast == 1 ? "y" : "ies");
    if (!out->count) {
        kprintf("cpus: MP table at 0x%08x: no enabled processor among its %u entries\n", at, count);
        return -1;
    }
    out->marks_bsp = 1;
    return 0;
}

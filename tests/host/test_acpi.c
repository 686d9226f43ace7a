/*
 * test_acpi.c - CPU discovery (arch/x86/acpi.c, mptable.c, cpus.c) over a
 * fake physical memory: the parsers' own source, built for the host (the
 * Makefile fragment mk/cpus.mk), reading tables this file builds, honest and
 * lying, exactly where firmware puts them:
 *
 *   0x0040e            the EBDA's segment (0x9fc0), 0x413 base memory (639 KB)
 *   0x9f800-0x9fbff    the last KB of base memory     }  MP floating pointer
 *   0x9fc00-0x9ffff    the EBDA's first KB            }  (and RSDP) searched here
 *   0xf5a10            the RSDP (in 0xe0000-0xfffff, like SeaBIOS)
 *   0xf6000            the MP floating pointer, its table at 0xf6010
 *   0x07fe0000-        the top of a 128 MB machine's RAM: RSDT 0x07fe1000,
 *   0x07ffffff         XSDT 0x07fe1100, FACP 0x07fe2000, MADT 0x07fe3000, a second 0x07fe4000
 *
 * Nothing else can be read: the reader (tests/host/fake_firmware.h) returns
 * NULL outside those two areas.  Each read is a fresh copy and the previous
 * one is freed, so a parser that kept a pointer across reads is caught (ASan
 * on x86_64).  The output (kprintf, tests/host/console_capture.h) is
 * captured: each test asserts the exact lines and the exact result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../rng.h"
#include "console_capture.h" /* kprintf into out[] */
#include "fake_firmware.h"
#include "cpus.h"
#include "firmware.h"

/* ---------------------------------------------------- fake physical memory ---- */

#define HIGH_BASE 0x07FE0000u
#define HIGH_SIZE 0x20000u

#define EBDA      0x9FC00u
#define RSDP_AT   0xF5A10u
#define MP_FP_AT  0xF6000u
#define MP_CFG_AT 0xF6010u
#define RSDT_AT   (HIGH_BASE + 0x1000)
#define XSDT_AT   (HIGH_BASE + 0x1100)
#define FACP_AT   (HIGH_BASE + 0x2000)
#define MADT_AT   (HIGH_BASE + 0x3000)
#define MADT2_AT  (HIGH_BASE + 0x4000)

static int bsp_id;         /* what the fake local APIC says; -1: cannot be read */
static uint32_t bsp_asked; /* the address bsp_apic_id was given */

static int fake_bsp_apic_id(void *ctx, uint32_t lapic_phys)
{
    (void)ctx;
    bsp_asked = lapic_phys;
    return bsp_id;
}

static const fw_reader_t reader = {fake_read, fake_bsp_apic_id, NULL};

/* Where fake physical address phys lives, to build tables there. */
static uint8_t *mem(uint32_t phys)
{
    uint8_t *p = fake_at(phys, 1);
    assert_non_null(p);
    return p;
}

static int setup(void **state)
{
    (void)state;
    fake_memory_new(HIGH_BASE, HIGH_SIZE);
    fake_low[0x40E] = (uint8_t)(EBDA >> 4); /* the EBDA's segment, 0x9fc0 */
    fake_low[0x40F] = (uint8_t)(EBDA >> 12);
    fake_low[0x413] = 639 & 0xFF; /* base memory, KB */
    fake_low[0x414] = 639 >> 8;
    console_clear();
    bsp_id = 0;
    bsp_asked = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_memory_free();
    return 0;
}

/* ------------------------------------------------------------ table builders ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* An RSDP: revision 0 (ACPI 1.0: the RSDT only) or 2 (the XSDT as well). */
static void make_rsdp(uint32_t at, unsigned revision, uint32_t rsdt, uint64_t xsdt)
{
    uint8_t *p = mem(at);
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, "TESTOE", 6);
    p[15] = (uint8_t)revision;
    put32(p + 16, rsdt);
    fake_fix_sum(p, 20, 8);
    if (revision >= 2) {
        put32(p + 20, 36);
        put64(p + 24, xsdt);
        fake_fix_sum(p, 36, 32);
    }
}

/* A table header with this signature and length; seal() sets its checksum. */
static void make_header(uint32_t at, const char *sig, uint32_t length)
{
    uint8_t *p = mem(at);
    memcpy(p, sig, 4);
    put32(p + 4, length);
    p[8] = 1;
    memcpy(p + 10, "TESTOE", 6);
    memcpy(p + 16, "TESTTABL", 8);
}

static void seal(uint32_t at)
{
    fake_fix_sum(mem(at), fw_le32(mem(at) + 4), 9);
}

static void make_rsdt(uint32_t at, const uint32_t *tables, unsigned n)
{
    make_header(at, "RSDT", 36 + 4 * n);
    for (unsigned i = 0; i < n; i++)
        put32(mem(at) + 36 + 4 * i, tables[i]);
    seal(at);
}

static void make_xsdt(uint32_t at, const uint64_t *tables, unsigned n)
{
    make_header(at, "XSDT", 36 + 8 * n);
    for (unsigned i = 0; i < n; i++)
        put64(mem(at) + 36 + 8 * i, tables[i]);
    seal(at);
}

/* A table the search must step over. */
static void make_facp(void)
{
    make_header(FACP_AT, "FACP", 116);
    seal(FACP_AT);
}

/* The MADT, built entry by entry: madt_begin, madt_lapic / madt_raw..., madt_end. */
static uint32_t madt_at, madt_off;

static void madt_begin(uint32_t at, uint32_t lapic)
{
    madt_at = at;
    madt_off = 44;
    make_header(at, "APIC", 44);
    put32(mem(at) + 36, lapic);
    put32(mem(at) + 40, 1); /* PCAT_COMPAT: 8259s too */
}

static void madt_raw(const uint8_t *bytes, unsigned len)
{
    memcpy(mem(madt_at) + madt_off, bytes, len);
    madt_off += len;
}

/* type 0: processor local APIC, 8 bytes; flags bit 0 enabled, bit 1 online capable */
static void madt_lapic(uint8_t apic_id, uint32_t flags)
{
    uint8_t e[8] = {0, 8, apic_id /* processor uid */, apic_id};
    put32(e + 4, flags);
    madt_raw(e, 8);
}

/* What QEMU's MADT has beside the CPUs: an I/O APIC (type 1) and an interrupt override (2). */
static void madt_ioapic_and_override(void)
{
    const uint8_t ioapic[12] = {1, 12, 0, 0, 0x00, 0x00, 0xC0, 0xFE, 0, 0, 0, 0};
    const uint8_t iso[10] = {2, 10, 0, 0, 2, 0, 0, 0, 0, 0};
    madt_raw(ioapic, sizeof(ioapic));
    madt_raw(iso, sizeof(iso));
}

static void madt_end(void)
{
    put32(mem(madt_at) + 4, madt_off);
    seal(madt_at);
}

/* A machine whose RSDP 1.0 -> RSDT lists the MADT alone: the MADT begun (madt_end closes it). */
static void madt_only_begin(void)
{
    const uint32_t tables[] = {MADT_AT};
    make_rsdp(RSDP_AT, 0, RSDT_AT, 0);
    make_rsdt(RSDT_AT, tables, 1);
    madt_begin(MADT_AT, 0xFEE00000u);
}

/* The usual machine: RSDP 1.0 -> RSDT [FACP, MADT]; MADT with CPUs 0..n-1, all enabled. */
static void make_acpi(unsigned n)
{
    const uint32_t tables[] = {FACP_AT, MADT_AT};
    make_rsdp(RSDP_AT, 0, RSDT_AT, 0);
    make_rsdt(RSDT_AT, tables, 2);
    make_facp();
    madt_begin(MADT_AT, 0xFEE00000u);
    for (unsigned i = 0; i < n; i++)
        madt_lapic((uint8_t)i, 1);
    madt_ioapic_and_override();
    madt_end();
}

/* The MP floating pointer at `at` for the configuration table at cfg. */
static void make_mp_fp(uint32_t at, uint32_t cfg, uint8_t feature1)
{
    uint8_t *p = mem(at);
    memcpy(p, "_MP_", 4);
    put32(p + 4, cfg);
    p[8] = 1;
    p[9] = 4;
    p[11] = feature1;
    fake_fix_sum(p, 16, 10);
}

/* The MP configuration table, entry by entry: mp_begin (its floating pointer at 0xf6000 too),
   mp_cpu / mp_raw..., mp_end. */
static uint32_t mp_off;
static unsigned mp_count;

static void mp_begin(void)
{
    make_mp_fp(MP_FP_AT, MP_CFG_AT, 0);
    uint8_t *h = mem(MP_CFG_AT);
    memcpy(h, "PCMP", 4);
    h[6] = 4;
    memcpy(h + 8, "TESTOEM ", 8);
    memcpy(h + 16, "TESTPRODUCT ", 12);
    put32(h + 36, 0xFEE00000u);
    mp_off = 44;
    mp_count = 0;
}

static void mp_raw(const uint8_t *bytes, unsigned len)
{
    memcpy(mem(MP_CFG_AT) + mp_off, bytes, len);
    mp_off += len;
    mp_count++;
}

/* type 0, processor, 20 bytes: flags bit 0 EN, bit 1 BP */
static void mp_cpu(uint8_t apic_id, uint8_t flags)
{
    uint8_t e[20] = {0, apic_id, 0x14, flags, 0x33, 0x06, 0, 0, 0x01, 0x02, 0, 0};
    mp_raw(e, sizeof(e));
}

static void mp_bus(void)
{
    const uint8_t e[8] = {1, 0, 'I', 'S', 'A', ' ', ' ', ' '};
    mp_raw(e, sizeof(e));
}

static void mp_end(void)
{
    uint8_t *h = mem(MP_CFG_AT);
    put16(h + 4, (uint16_t)mp_off);
    put16(h + 34, (uint16_t)mp_count);
    fake_fix_sum(h, mp_off, 7);
}

/* An MP table with CPUs 0..n-1, 0 marked BSP, and a bus entry, found at 0xf6000. */
static void make_mp(unsigned n)
{
    mp_begin();
    for (unsigned i = 0; i < n; i++)
        mp_cpu((uint8_t)i, i == 0 ? 3 : 1);
    mp_bus();
    mp_end();
}

/* -------------------------------------------------------------- assertions ---- */

static cpu_topology_t discover(cpus_source_t source)
{
    cpu_topology_t t;
    memset(&t, 0xA5, sizeof(t)); /* nothing left from before */
    cpus_discover_with(&reader, source, &t);
    return t;
}

/* The result: its source, local APIC, and APIC ids in order (cpu[0] the BSP, no other). */
static void assert_cpus(const cpu_topology_t *t, const char *source, uint32_t lapic, unsigned n,
                        const uint8_t *ids)
{
    assert_string_equal(t->source, source);
    assert_int_equal(t->lapic_phys, lapic);
    assert_int_equal(t->count, n);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(t->cpu[i].apic_id, ids[i]);
        assert_int_equal(t->cpu[i].bsp, i == 0);
    }
}

#define IDS(...) ((const uint8_t[]){__VA_ARGS__})

/* Lines many cases print: no MP table found; the last line of a one-CPU result; cpus=mp. */
#define NO_MP                                                                                      \
    "cpus: MP table: no floating pointer in the EBDA, at 0x9f800-0x9fbff or 0xf0000-0xfffff\n"
#define ONE_CPU "cpus: 1 from none (one CPU) (APIC id 0), local APIC at 0xfee00000\n"
#define MP_ONLY "cpus: boot option cpus=mp: ACPI is not consulted\n"

/* Discovery from source, the output cleared first: it prints exactly lines. */
static cpu_topology_t expect_lines(cpus_source_t source, const char *lines)
{
    console_clear();
    cpu_topology_t t = discover(source);
    assert_string_equal(out, lines);
    return t;
}

/* expect_lines: the lines before, then CPUs 0 and 1 from the MP table (make_mp(2)'s). */
static void expect_mp_cpus_0_1(cpus_source_t source, const char *before)
{
    char want[1024];
    snprintf(want, sizeof(want),
             "%scpus: 2 from MP table (APIC ids 0 1), local APIC at 0xfee00000\n", before);
    cpu_topology_t t = expect_lines(source, want);
    assert_cpus(&t, "MP table", 0xFEE00000u, 2, IDS(0, 1));
}

/* expect_lines: the lines before, then one CPU, APIC id 0, no table found. */
static void expect_one_cpu(cpus_source_t source, const char *before)
{
    char want[1024];
    snprintf(want, sizeof(want), "%s" ONE_CPU, before);
    cpu_topology_t t = expect_lines(source, want);
    assert_cpus(&t, "none (one CPU)", 0xFEE00000u, 1, IDS(0));
}

/* ------------------------------------------------------------------ honest ---- */

/* RSDP -> RSDT [FACP, MADT]: the four CPUs QEMU -smp 4 has, one line. */
static void test_good_madt_4_cpus(void **state)
{
    make_acpi(4);
    make_mp(1); /* as QEMU: the MP table lists fewer; the MADT wins */
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 4, IDS(0, 1, 2, 3));
    assert_int_equal(bsp_asked, 0xFEE00000u); /* the BSP's id read where the table says */
}

/* The BSP is whichever CPU runs this: its id comes first, the others in table order. */
static void test_bsp_first_whatever_its_place(void **state)
{
    make_acpi(4);
    bsp_id = 2;
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: 4 from ACPI MADT (APIC ids 2 0 1 3), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 4, IDS(2, 0, 1, 3));
}

/* The RSDP in the EBDA's first KB is found before the one in the BIOS area. */
static void test_rsdp_in_ebda_first(void **state)
{
    const uint32_t ebda_tables[] = {MADT2_AT};
    make_acpi(4);
    make_rsdp(EBDA + 0x30, 0, RSDT_AT + 0x80, 0);
    make_rsdt(RSDT_AT + 0x80, ebda_tables, 1);
    madt_begin(MADT2_AT, 0xFEE00000u);
    madt_lapic(0, 1);
    madt_lapic(1, 1);
    madt_end();
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: 2 from ACPI MADT (APIC ids 0 1), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 2, IDS(0, 1));
}

/* ACPI 2.0: the XSDT is preferred to the RSDT (each points at its own MADT here). */
static void test_xsdt_preferred_over_rsdt(void **state)
{
    const uint64_t xtables[] = {FACP_AT, MADT2_AT};
    make_acpi(2); /* the RSDT's MADT: 2 CPUs */
    make_rsdp(RSDP_AT, 2, RSDT_AT, XSDT_AT);
    make_xsdt(XSDT_AT, xtables, 2);
    madt_begin(MADT2_AT, 0xFEE00000u);
    for (uint8_t i = 0; i < 4; i++)
        madt_lapic(i, 1);
    madt_end();
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 4, IDS(0, 1, 2, 3));
}

/* An XSDT out of reach (above 4 GB) or refused: the RSDT, said. */
static void test_xsdt_above_4g_or_bad_uses_rsdt(void **state)
{
    make_acpi(2);
    make_rsdp(RSDP_AT, 2, RSDT_AT, 0x100000000ull + XSDT_AT);
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "acpi: XSDT at 0x0000000107fe1100: above 4 GB, out of reach; trying "
                       "the RSDT\n"
                       "cpus: 2 from ACPI MADT (APIC ids 0 1), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 2, IDS(0, 1));

    const uint64_t xtables[] = {MADT2_AT};
    make_rsdp(RSDP_AT, 2, RSDT_AT, XSDT_AT);
    make_xsdt(XSDT_AT, xtables, 1);
    mem(XSDT_AT)[40] ^= 0x10; /* a flipped bit in its entry: the checksum no longer holds */
    t = expect_lines(CPUS_FROM_ANY,
                     "acpi: XSDT at 0x07fe1100: bad checksum; trying the RSDT\n"
                     "cpus: 2 from ACPI MADT (APIC ids 0 1), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 2, IDS(0, 1));
}

/* The table search is general (the NUMA work will ask for SRAT and SLIT). */
static void test_find_table_by_signature(void **state)
{
    acpi_table_t tb;
    make_acpi(1);
    assert_int_equal(acpi_find_table(&reader, "FACP", &tb), 0);
    assert_int_equal(tb.phys, FACP_AT);
    assert_int_equal(tb.length, 116);
    assert_int_equal(acpi_find_table(&reader, "APIC", &tb), 0);
    assert_int_equal(tb.phys, MADT_AT);
    assert_string_equal(out, "");
    assert_int_equal(acpi_find_table(&reader, "SRAT", &tb), -1);
    assert_string_equal(out, "acpi: no SRAT table among the RSDT's 2 entries\n");
}

/* Type 5 moves the local APIC; x2APIC entries (type 9) are counted, not used. */
static void test_lapic_override_and_x2apic(void **state)
{
    const uint8_t override[12] = {5, 12, 0, 0, 0x00, 0x00, 0xD0, 0xFE, 0, 0, 0, 0};
    const uint8_t x2apic[16] = {9, 16, 0, 0, 0x00, 0x01, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0};
    madt_only_begin();
    madt_lapic(0, 1);
    madt_raw(override, sizeof(override));
    madt_lapic(1, 1);
    madt_raw(x2apic, sizeof(x2apic));
    madt_raw(x2apic, sizeof(x2apic));
    madt_end();
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: ACPI MADT: 2 x2APIC entries (type 9) skipped: x2APIC is not "
                       "supported\n"
                       "cpus: 2 from ACPI MADT (APIC ids 0 1), local APIC at 0xfed00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFED00000u, 2, IDS(0, 1));
    assert_int_equal(bsp_asked, 0xFED00000u);

    /* an override above 4 GB cannot be reached: ignored, said */
    uint8_t *e = mem(MADT_AT) + 44 + 8;
    put64(e + 4, 0x1FEE00000ull);
    seal(MADT_AT);
    t = expect_lines(CPUS_FROM_ANY,
                     "cpus: ACPI MADT: local APIC address override 0x00000001fee00000 is above "
                     "4 GB: ignored\n"
                     "cpus: ACPI MADT: 2 x2APIC entries (type 9) skipped: x2APIC is not "
                     "supported\n"
                     "cpus: 2 from ACPI MADT (APIC ids 0 1), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 2, IDS(0, 1));
}

/* ------------------------------------------------------- lying: the RSDP ---- */

/* A bad RSDP checksum: refused in one line, the MP table next. */
static void test_rsdp_bad_checksum(void **state)
{
    make_acpi(4);
    mem(RSDP_AT)[8] ^= 1;
    make_mp(2);
    expect_mp_cpus_0_1(CPUS_FROM_ANY, "acpi: RSDP at 0x000f5a10: bad checksum\n");
}

/* ACPI 2.0's extended checksum (all 36 bytes) wrong, the first 20 right: refused too. */
static void test_rsdp_v2_bad_extended_checksum(void **state)
{
    make_acpi(4);
    make_rsdp(RSDP_AT, 2, RSDT_AT, XSDT_AT);
    mem(RSDP_AT)[32] ^= 0x40;
    expect_one_cpu(CPUS_FROM_ANY,
                   "acpi: RSDP at 0x000f5a10: revision 2: bad extended checksum\n" NO_MP);

    /* a revision 2 RSDP whose length is below its own 36 bytes */
    make_rsdp(RSDP_AT, 2, RSDT_AT, XSDT_AT);
    put32(mem(RSDP_AT) + 20, 20);
    fake_fix_sum(mem(RSDP_AT), 36, 32);
    expect_one_cpu(CPUS_FROM_MADT,
                   "cpus: boot option cpus=madt: the MP table is not consulted\n"
                   "acpi: RSDP at 0x000f5a10: revision 2, length 20: not 36 to 1024 "
                   "bytes\n");
}

/* --------------------------------------------------- lying: RSDT and XSDT ---- */

/* An RSDT entry pointing where nothing can be read: skipped, said; the next one used. */
static void test_rsdt_entry_outside_memory(void **state)
{
    const uint32_t tables[] = {0x50000000u, 0xFFFFFFF0u, MADT_AT};
    make_acpi(4);
    make_rsdt(RSDT_AT, tables, 3);
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "acpi: RSDT entry 0 -> 0x50000000: cannot be read: skipped\n"
                       "acpi: RSDT entry 1 -> 0xfffffff0: cannot be read: skipped\n"
                       "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 4, IDS(0, 1, 2, 3));
}

/* A root table full of bad addresses: four named, the rest counted in one line. */
static void test_rsdt_many_unreachable_entries(void **state)
{
    uint32_t tables[1001];
    for (unsigned i = 0; i < 1000; i++)
        tables[i] = 0x40000000u + 4096 * i;
    tables[1000] = MADT_AT;
    make_acpi(2);
    put32(mem(RSDP_AT) + 16, HIGH_BASE + 0x10000); /* room for 4 KB of entries */
    fake_fix_sum(mem(RSDP_AT), 20, 8);
    make_rsdt(HIGH_BASE + 0x10000, tables, 1001);
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "acpi: RSDT entry 0 -> 0x40000000: cannot be read: skipped\n"
                       "acpi: RSDT entry 1 -> 0x40001000: cannot be read: skipped\n"
                       "acpi: RSDT entry 2 -> 0x40002000: cannot be read: skipped\n"
                       "acpi: RSDT entry 3 -> 0x40003000: cannot be read: skipped\n"
                       "acpi: RSDT: 996 more entries out of reach skipped\n"
                       "cpus: 2 from ACPI MADT (APIC ids 0 1), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 2, IDS(0, 1));

    /* and without the MADT among them: the count, then "no APIC table" */
    make_rsdt(HIGH_BASE + 0x10000, tables, 1000);
    out_len = 0;
    acpi_table_t tb;
    assert_int_equal(acpi_find_table(&reader, "APIC", &tb), -1);
    assert_true(strstr(out, "acpi: RSDT: 996 more entries out of reach skipped\n"
                            "acpi: no APIC table among the RSDT's 1000 entries\n") != NULL);
}

/* An XSDT entry above 4 GB is out of reach: skipped, said. */
static void test_xsdt_entry_above_4g(void **state)
{
    const uint64_t xtables[] = {0x200000000ull, MADT_AT};
    make_acpi(3);
    make_rsdp(RSDP_AT, 2, RSDT_AT, XSDT_AT);
    make_xsdt(XSDT_AT, xtables, 2);
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "acpi: XSDT entry 0 -> 0x0000000200000000: above 4 GB, out of reach: "
                       "skipped\n"
                       "cpus: 3 from ACPI MADT (APIC ids 0 1 2), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 3, IDS(0, 1, 2));
}

/* Root tables that lie about themselves: each refused in one line, then the MP table. */
static void test_rsdt_refused(void **state)
{
    static const struct {
        uint32_t length;
        int corrupt_signature;
        const char *line;
    } cases[] = {
        {36 + 8, 0, ""}, /* honest: control */
        {20, 0, "acpi: RSDT at 0x07fe1000: length 20 is shorter than its 36-byte header\n"},
        {0x200000, 0,
         "acpi: RSDT at 0x07fe1000: length 2097152 is over the 1024 KB any table is "
         "believed to have\n"},
        {0x1F001, 0, "acpi: RSDT at 0x07fe1000: length 126977 runs past readable memory\n"},
        {36 + 7, 0, "acpi: RSDT at 0x07fe1000: length 43 is not its header plus whole entries\n"},
        {36 + 8, 1, "acpi: RSDT at 0x07fe1000: signature 'XSDT', not the one expected\n"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup(state);
        make_acpi(4);
        make_mp(2);
        put32(mem(RSDT_AT) + 4, cases[i].length);
        if (cases[i].corrupt_signature)
            memcpy(mem(RSDT_AT), "XSDT", 4);
        if (cases[i].length <= 0x1F000)
            seal(RSDT_AT); /* the liar keeps its checksum right where it can */
        cpu_topology_t t = discover(CPUS_FROM_ANY);
        char want[512];
        if (i == 0) {
            snprintf(want, sizeof(want),
                     "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), local APIC at 0xfee00000\n");
        } else {
            snprintf(want, sizeof(want),
                     "%scpus: 2 from MP table (APIC ids 0 1), local APIC at 0xfee00000\n",
                     cases[i].line);
            assert_cpus(&t, "MP table", 0xFEE00000u, 2, IDS(0, 1));
        }
        assert_string_equal(out, want);
        teardown(state);
    }
    setup(state); /* for the group's teardown */
}

/* ---------------------------------------------------------- lying: the MADT ---- */

/* A MADT whose length leaves no room for its own fixed fields (44 bytes). */
static void test_madt_length_too_short(void **state)
{
    make_acpi(4);
    make_mp(2);
    put32(mem(MADT_AT) + 4, 40);
    seal(MADT_AT);
    expect_mp_cpus_0_1(CPUS_FROM_ANY,
                       "cpus: ACPI MADT at 0x07fe3000: length 40 is shorter than its 44-byte "
                       "header\n");

    /* shorter than any table's header: the search itself refuses it */
    put32(mem(MADT_AT) + 4, 20);
    seal(MADT_AT);
    expect_mp_cpus_0_1(CPUS_FROM_ANY,
                       "acpi: APIC at 0x07fe3000 (RSDT entry 1): length 20 is shorter than "
                       "its 36-byte header: skipped\n"
                       "acpi: no APIC table among the RSDT's 2 entries\n");
}

/* Too long: past readable memory; over any believable size; past its entries (zeros). */
static void test_madt_length_too_long(void **state)
{
    make_acpi(4);
    make_mp(2);
    put32(mem(MADT_AT) + 4, HIGH_SIZE); /* from 0x07fe3000: 12 KB past the end of RAM */
    expect_mp_cpus_0_1(CPUS_FROM_ANY,
                       "acpi: APIC at 0x07fe3000 (RSDT entry 1): length 131072 runs past "
                       "readable memory: skipped\n"
                       "acpi: no APIC table among the RSDT's 2 entries\n");

    put32(mem(MADT_AT) + 4, 0xFFFFFFFFu);
    expect_mp_cpus_0_1(CPUS_FROM_ANY,
                       "acpi: APIC at 0x07fe3000 (RSDT entry 1): length 4294967295 is over "
                       "the 1024 KB any table is believed to have: skipped\n"
                       "acpi: no APIC table among the RSDT's 2 entries\n");

    /* 100 bytes more than its entries, checksum made right: the zeros read as an entry of length 0
     */
    put32(mem(MADT_AT) + 4, madt_off + 100);
    seal(MADT_AT);
    expect_mp_cpus_0_1(CPUS_FROM_ANY,
                       "cpus: ACPI MADT at 0x07fe3000: entry 6 (type 0) at offset 98: length "
                       "0 is shorter than 8\n");

    /* the same, checksum left wrong */
    put32(mem(MADT_AT) + 4, madt_off + 99);
    expect_mp_cpus_0_1(CPUS_FROM_ANY,
                       "acpi: APIC at 0x07fe3000 (RSDT entry 1): bad checksum: skipped\n"
                       "acpi: no APIC table among the RSDT's 2 entries\n");
}

/* Entries of length 0 or 1 would loop for ever, or read a type with no length: refused. */
static void test_madt_entry_length_0(void **state)
{
    static const struct {
        uint8_t type, length;
        const char *line;
    } cases[] = {
        {0, 0, "entry 2 (type 0) at offset 60: length 0 is shorter than 8"},
        {1, 0, "entry 2 (type 1) at offset 60: length 0 is shorter than 2"},
        {4, 1, "entry 2 (type 4) at offset 60: length 1 is shorter than 2"},
        {5, 8, "entry 2 (type 5) at offset 60: length 8 is shorter than 12"},
        {9, 10, "entry 2 (type 9) at offset 60: length 10 is shorter than 16"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup(state);
        make_acpi(4);
        uint8_t *e = mem(MADT_AT) + 44 + 2 * 8; /* the third CPU's entry */
        e[0] = cases[i].type;
        e[1] = cases[i].length;
        seal(MADT_AT);
        cpu_topology_t t = discover(CPUS_FROM_ANY);
        char want[512];
        snprintf(want, sizeof(want), "cpus: ACPI MADT at 0x07fe3000: %s\n%s%s", cases[i].line,
                 NO_MP, ONE_CPU);
        assert_string_equal(out, want);
        assert_cpus(&t, "none (one CPU)", 0xFEE00000u, 1, IDS(0));
        teardown(state);
    }
    setup(state);
}

/* The last entry runs past the table's end; or one lone byte is left after the entries. */
static void test_madt_entry_past_end(void **state)
{
    make_acpi(2); /* 44 + 2 * 8 + 12 + 10 = 82 bytes */
    make_mp(3);
    mem(MADT_AT)[44 + 16 + 12 + 1] = 20; /* the interrupt override: 10 bytes claimed 20 */
    seal(MADT_AT);
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: ACPI MADT at 0x07fe3000: entry 3 (type 2) at offset 72: length "
                       "20 runs past the table's end at 82\n"
                       "cpus: 3 from MP table (APIC ids 0 1 2), local APIC at 0xfee00000\n");
    assert_cpus(&t, "MP table", 0xFEE00000u, 3, IDS(0, 1, 2));

    make_acpi(2);
    put32(mem(MADT_AT) + 4, 83); /* one byte after the last entry */
    seal(MADT_AT);
    expect_lines(CPUS_FROM_ANY,
                 "cpus: ACPI MADT at 0x07fe3000: entry 4 at offset 82: 1 byte left, "
                 "short of an entry header\n"
                 "cpus: 3 from MP table (APIC ids 0 1 2), local APIC at 0xfee00000\n");
}

/* 20 CPUs: the first 16 kept, said. */
static void test_madt_20_cpus_capped_at_16(void **state)
{
    make_acpi(20);
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: ACPI MADT: 20 CPUs, more than KERNEL_MAX_CPUS (16): keeping "
                       "the BSP and the first 15 others\n"
                       "cpus: 16 from ACPI MADT (APIC ids 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 "
                       "15), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 16,
                IDS(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));

    /* the BSP is kept even when it is listed after the sixteenth */
    bsp_id = 18;
    t = expect_lines(CPUS_FROM_ANY,
                     "cpus: ACPI MADT: 20 CPUs, more than KERNEL_MAX_CPUS (16): keeping "
                     "the BSP and the first 15 others\n"
                     "cpus: 16 from ACPI MADT (APIC ids 18 0 1 2 3 4 5 6 7 8 9 10 11 12 13 "
                     "14), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 16,
                IDS(18, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14));
}

/* An APIC id listed twice: kept once, said. */
static void test_madt_duplicate_apic_id(void **state)
{
    madt_only_begin();
    madt_lapic(0, 1);
    madt_lapic(1, 1);
    madt_lapic(1, 1);
    madt_lapic(2, 1);
    madt_lapic(0, 1);
    madt_end();
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: ACPI MADT: 2 entries with an APIC id listed before skipped "
                       "(the first: APIC id 1)\n"
                       "cpus: 3 from ACPI MADT (APIC ids 0 1 2), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 3, IDS(0, 1, 2));
}

/* Disabled CPUs and online-capable ones (hot-plug) are skipped, counted; id 0xff too. */
static void test_madt_disabled_cpu(void **state)
{
    madt_only_begin();
    madt_lapic(0, 1);
    madt_lapic(1, 0); /* disabled */
    madt_lapic(2, 1);
    madt_lapic(3, 2); /* not enabled, online capable: hot-plug later */
    madt_lapic(4, 2);
    madt_lapic(0xFF, 1);
    madt_lapic(5, 1);
    madt_end();
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: ACPI MADT: 1 disabled processor skipped\n"
                       "cpus: ACPI MADT: 2 online-capable processors skipped: hot-plug is not "
                       "supported\n"
                       "cpus: ACPI MADT: 1 processor entry with APIC id 0xff (no CPU's) skipped\n"
                       "cpus: 3 from ACPI MADT (APIC ids 0 2 5), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 3, IDS(0, 2, 5));
}

/* Only disabled CPUs: the MADT is refused, then the MP table. */
static void test_madt_no_enabled_cpu(void **state)
{
    make_acpi(0);
    madt_begin(MADT_AT, 0xFEE00000u);
    madt_lapic(0, 0);
    madt_lapic(1, 0);
    madt_end();
    make_mp(2);
    expect_mp_cpus_0_1(CPUS_FROM_ANY,
                       "cpus: ACPI MADT: 2 disabled processors skipped\n"
                       "cpus: ACPI MADT at 0x07fe3000: no enabled processor among its 2 "
                       "entries\n");
}

/* ------------------------------------------------------------ the BSP's id ---- */

/* The BSP's own id (its local APIC) missing from the list: added, said. */
static void test_bsp_not_listed_is_added(void **state)
{
    make_acpi(4);
    bsp_id = 7;
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: ACPI MADT: the BSP's APIC id 7 (its local APIC says) is not "
                       "listed: added\n"
                       "cpus: 5 from ACPI MADT (APIC ids 7 0 1 2 3), local APIC at "
                       "0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 5, IDS(7, 0, 1, 2, 3));

    /* listed, but as disabled: it runs this code, so it is enabled */
    mem(MADT_AT)[44 + 4] = 0;
    seal(MADT_AT);
    bsp_id = 0;
    t = expect_lines(CPUS_FROM_ANY,
                     "cpus: ACPI MADT: 1 disabled processor skipped\n"
                     "cpus: ACPI MADT: the BSP's APIC id 0 (its local APIC says) is listed "
                     "as disabled: added\n"
                     "cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 4, IDS(0, 1, 2, 3));
}

/* The local APIC cannot say: the MADT's first entry (ACPI: the BSP first), said. */
static void test_bsp_unreadable_takes_first(void **state)
{
    madt_only_begin();
    madt_lapic(3, 1);
    madt_lapic(1, 1);
    madt_end();
    bsp_id = -1;
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "cpus: ACPI MADT: the BSP's APIC id cannot be read: taking the first "
                       "entry's, 3\n"
                       "cpus: 2 from ACPI MADT (APIC ids 3 1), local APIC at 0xfee00000\n");
    assert_cpus(&t, "ACPI MADT", 0xFEE00000u, 2, IDS(3, 1));
}

/* ------------------------------------------------------------- no tables ---- */

static void test_no_tables_one_cpu(void **state)
{
    bsp_id = 5; /* what its local APIC says is believed */
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "acpi: no RSDP in the EBDA or at 0xe0000-0xfffff\n" NO_MP
                       "cpus: 1 from none (one CPU) (APIC id 5), local APIC at 0xfee00000\n");
    assert_cpus(&t, "none (one CPU)", 0xFEE00000u, 1, IDS(5));

    /* memory that cannot be read at all (no BIOS area either): the same, quietly safe */
    static const fw_reader_t blind = {NULL, NULL, NULL};
    out_len = 0;
    cpu_topology_t u;
    cpus_discover_with(&blind, CPUS_FROM_ANY, &u);
    assert_string_equal(out, "acpi: no RSDP in the EBDA or at 0xe0000-0xfffff\n"
                             "cpus: MP table: no floating pointer in the EBDA, at 0x9fc00-0x9ffff "
                             "or 0xf0000-0xfffff\n" /* base memory unknown: 640 KB assumed */
                        ONE_CPU);
    assert_cpus(&u, "none (one CPU)", 0xFEE00000u, 1, IDS(0));

    /* and a NULL result pointer is refused in one line */
    out_len = 0;
    cpus_discover_with(&reader, CPUS_FROM_ANY, NULL);
    assert_string_equal(out, "cpus: cpu_discover: NULL result pointer: nothing done\n");
}

/* ---------------------------------------------------------- the MP table ---- */

/* No ACPI at all (QEMU -no-acpi): the MP table, found in each of its three places. */
static void test_mp_table_only(void **state)
{
    make_mp(4);
    cpu_topology_t t = expect_lines(
        CPUS_FROM_ANY, "acpi: no RSDP in the EBDA or at 0xe0000-0xfffff\n"
                       "cpus: 4 from MP table (APIC ids 0 1 2 3), local APIC at 0xfee00000\n");
    assert_cpus(&t, "MP table", 0xFEE00000u, 4, IDS(0, 1, 2, 3));

    const uint32_t places[] = {EBDA + 0x100, 0x9F800 + 0x3F0};
    for (unsigned i = 0; i < 2; i++) {
        memset(mem(MP_FP_AT), 0, 16);
        memset(mem(EBDA + 0x100), 0, 16);
        make_mp_fp(places[i], MP_CFG_AT, 0);
        t = expect_lines(CPUS_FROM_MP,
                         MP_ONLY "cpus: 4 from MP table (APIC ids 0 1 2 3), local APIC at "
                                 "0xfee00000\n");
        assert_cpus(&t, "MP table", 0xFEE00000u, 4, IDS(0, 1, 2, 3));
    }
}

/* A bad checksum: the floating pointer's, or the configuration table's. */
static void test_mp_bad_checksum(void **state)
{
    make_mp(4);
    mem(MP_FP_AT)[10] ^= 1;
    expect_one_cpu(CPUS_FROM_ANY, "acpi: no RSDP in the EBDA or at 0xe0000-0xfffff\n"
                                  "cpus: MP floating pointer at 0x000f6000: bad checksum\n");

    make_mp(4);
    mem(MP_CFG_AT)[44 + 20 + 1] = 9; /* the second CPU's APIC id changed, checksum not */
    expect_one_cpu(CPUS_FROM_MP, MP_ONLY "cpus: MP table at 0x000f6010: bad checksum\n");
}

/* An entry type the specification does not define has no known size: the walk stops there. */
static void test_mp_unknown_entry_type(void **state)
{
    const uint8_t odd[8] = {0x87, 0, 0, 0, 0, 0, 0, 0};
    mp_begin();
    mp_cpu(0, 3);
    mp_cpu(1, 1);
    mp_raw(odd, sizeof(odd));
    mp_cpu(2, 1); /* not reachable: the unknown entry's size is unknown */
    mp_end();
    expect_mp_cpus_0_1(CPUS_FROM_MP, MP_ONLY
                       "cpus: MP table at 0x000f6010: entry 2 of 4 has unknown type 135, so "
                       "no known size: the rest is not read\n");

    /* an unknown type before any processor: nothing usable, refused */
    mp_begin();
    mp_raw(odd, sizeof(odd));
    mp_cpu(0, 3);
    mp_end();
    expect_one_cpu(CPUS_FROM_MP,
                   MP_ONLY "cpus: MP table at 0x000f6010: entry 0 of 2 has unknown type 135, so "
                           "no known size: the rest is not read\n"
                           "cpus: MP table at 0x000f6010: no enabled processor among its 2 "
                           "entries\n");
}

/* Counts and lengths that lie; headers that lie. */
static void test_mp_lying_lengths(void **state)
{
    make_mp(2); /* 44 + 2 * 20 + 8 = 92 bytes, 3 entries */
    put16(mem(MP_CFG_AT) + 34, 4);
    fake_fix_sum(mem(MP_CFG_AT), 92, 7);
    expect_one_cpu(CPUS_FROM_MP,
                   MP_ONLY "cpus: MP table at 0x000f6010: entry 3 of 4 starts at offset 92, past "
                           "the table's length 92\n");

    make_mp(2);
    put16(mem(MP_CFG_AT) + 4, 88); /* the bus entry cut in half */
    fake_fix_sum(mem(MP_CFG_AT), 88, 7);
    expect_one_cpu(CPUS_FROM_MP,
                   MP_ONLY "cpus: MP table at 0x000f6010: entry 2 of 3 (type 1, 8 bytes) at "
                           "offset 84 runs past the table's length 88\n");

    make_mp(2);
    put16(mem(MP_CFG_AT) + 4, 30);
    expect_one_cpu(CPUS_FROM_MP,
                   MP_ONLY "cpus: MP table at 0x000f6010: length 30 is shorter than its 44-byte "
                           "header\n");

    make_mp(2);
    memcpy(mem(MP_CFG_AT), "PCMQ", 4);
    expect_one_cpu(CPUS_FROM_MP, MP_ONLY "cpus: MP table at 0x000f6010: signature is not PCMP\n");

    make_mp_fp(MP_FP_AT, 0x60000000u, 0);
    expect_one_cpu(CPUS_FROM_MP, MP_ONLY "cpus: MP table at 0x60000000: cannot be read\n");

    make_mp_fp(MP_FP_AT, MP_CFG_AT, 0);
    mem(MP_FP_AT)[9] = 2; /* no such revision */
    fake_fix_sum(mem(MP_FP_AT), 16, 10);
    expect_one_cpu(CPUS_FROM_MP,
                   MP_ONLY "cpus: MP floating pointer at 0x000f6000: spec revision 2, not 1 "
                           "(1.1) or 4 (1.4)\n");
}

/* The BP flag and the local APIC disagree, or no entry has it; disabled entries. */
static void test_mp_bsp_flags(void **state)
{
    mp_begin();
    mp_cpu(0, 1);
    mp_cpu(1, 3); /* says it is the BSP; the local APIC says 0 */
    mp_cpu(2, 0); /* disabled */
    mp_end();
    cpu_topology_t t = expect_lines(
        CPUS_FROM_MP, MP_ONLY "cpus: MP table: 1 disabled processor skipped\n"
                              "cpus: MP table: 1 entry marked BSP, the first APIC id 1; its local "
                              "APIC says 0: taken\n"
                              "cpus: 2 from MP table (APIC ids 0 1), local APIC at 0xfee00000\n");
    assert_cpus(&t, "MP table", 0xFEE00000u, 2, IDS(0, 1));

    /* the local APIC cannot say: the entry marked BP is the BSP */
    bsp_id = -1;
    t = expect_lines(CPUS_FROM_MP,
                     MP_ONLY "cpus: MP table: 1 disabled processor skipped\n"
                             "cpus: 2 from MP table (APIC ids 1 0), local APIC at 0xfee00000\n");
    assert_cpus(&t, "MP table", 0xFEE00000u, 2, IDS(1, 0));

    /* no entry marked BSP */
    mp_begin();
    mp_cpu(4, 1);
    mp_cpu(6, 1);
    mp_end();
    expect_lines(CPUS_FROM_MP,
                 MP_ONLY "cpus: MP table: the BSP's APIC id cannot be read and no entry is "
                         "marked BSP: taking the first entry's, 4\n"
                         "cpus: 2 from MP table (APIC ids 4 6), local APIC at 0xfee00000\n");
    bsp_id = 6;
    t = expect_lines(CPUS_FROM_MP,
                     MP_ONLY "cpus: MP table: no entry is marked BSP; its local APIC says APIC id "
                             "6\n"
                             "cpus: 2 from MP table (APIC ids 6 4), local APIC at 0xfee00000\n");
    assert_cpus(&t, "MP table", 0xFEE00000u, 2, IDS(6, 4));
}

/* Feature byte 1 non-zero: a default configuration, two CPUs and no table (MP 1.4, chapter 5). */
static void test_mp_default_configuration(void **state)
{
    make_mp_fp(MP_FP_AT, 0, 6);
    expect_mp_cpus_0_1(CPUS_FROM_MP,
                       MP_ONLY "cpus: MP floating pointer at 0x000f6000: default configuration 6: "
                               "two processors, APIC ids 0 and 1\n");

    make_mp_fp(MP_FP_AT, 0, 0);
    expect_one_cpu(CPUS_FROM_MP,
                   MP_ONLY "cpus: MP floating pointer at 0x000f6000: no configuration table and "
                           "no default configuration\n");
}

/* ---------------------------------------------------- the boot option cpus= ---- */

static void test_forced_sources(void **state)
{
    make_acpi(4);
    make_mp(2);
    expect_mp_cpus_0_1(CPUS_FROM_MP, MP_ONLY);

    unsigned long before = fake_reads;
    expect_one_cpu(CPUS_FROM_NONE, "cpus: boot option cpus=one: no table is consulted\n");
    assert_int_equal(fake_reads, before); /* nothing read */

    /* cpus=madt with a broken MADT: one CPU, not the MP table */
    mem(MADT_AT)[9] ^= 1;
    expect_one_cpu(CPUS_FROM_MADT,
                   "cpus: boot option cpus=madt: the MP table is not consulted\n"
                   "acpi: APIC at 0x07fe3000 (RSDT entry 1): bad checksum: skipped\n"
                   "acpi: no APIC table among the RSDT's 2 entries\n");

    expect_lines((cpus_source_t)42,
                 "cpus: source 42 unknown: consulting every table\n"
                 "acpi: APIC at 0x07fe3000 (RSDT entry 1): bad checksum: skipped\n"
                 "acpi: no APIC table among the RSDT's 2 entries\n"
                 "cpus: 2 from MP table (APIC ids 0 1), local APIC at 0xfee00000\n");
}

/* The reader is never asked for an empty range, or one past 4 GB. */
static void test_reader_range_checked(void **state)
{
    assert_null(fw_read(&reader, 0xFFFFFFF0u, 0x20));
    assert_null(fw_read(&reader, 0x1000, 0));
    assert_null(fw_read(NULL, 0x1000, 4));
    assert_int_equal(fake_reads, 0);
    assert_non_null(fw_read(&reader, 0xFFFF0, 0x10));
    assert_int_equal(fake_reads, 1);
}

/* ------------------------------------------------------------------ random ---- */

/*
 * Random lies: a good ACPI machine and MP table, then random bytes of the
 * RSDP, RSDT, MADT, floating pointer and configuration table changed, the
 * checksums sometimes made right again (a liar that knows the rules).  Every
 * run must end with a sane result: 1..16 CPUs, cpu[0] the BSP, distinct ids,
 * none 0xff, the last line saying it; and never read outside memory (ASan).
 */
static void test_random_lies(void **state)
{
    uint32_t rng = 20261206;
    struct {
        uint32_t at, len, sum_at;
    } targets[] = {
        {RSDP_AT, 20, 8},   {RSDT_AT, 44, 9},    {MADT_AT, 82, 9},
        {MP_FP_AT, 16, 10}, {MP_CFG_AT, 112, 7},
    };
    unsigned by_source[3] = {0, 0, 0};
    for (unsigned run = 0; run < 3000; run++) {
        teardown(state);
        setup(state);
        make_acpi(2);
        make_mp(3);
        bsp_id = rng_below(&rng, 4) == 0 ? -1 : (int)rng_below(&rng, 4);
        unsigned changes = 1 + rng_below(&rng, 4);
        for (unsigned c = 0; c < changes; c++) {
            unsigned k = rng_below(&rng, 5);
            mem(targets[k].at)[rng_below(&rng, targets[k].len)] = (uint8_t)rng_next(&rng);
            if (rng_below(&rng, 2)) {
                uint32_t len = targets[k].len;
                if (k == 1 || k == 2) /* the length the table now claims, if it can be summed */
                    len = fw_le32(mem(targets[k].at) + 4);
                if (len <= 0x1000)
                    fake_fix_sum(mem(targets[k].at), len, targets[k].sum_at);
            }
        }
        cpu_topology_t t = discover(CPUS_FROM_ANY);
        assert_true(t.count >= 1 && t.count <= KERNEL_MAX_CPUS);
        assert_int_equal(t.cpu[0].bsp, 1);
        for (unsigned i = 0; i < t.count; i++) {
            assert_int_not_equal(t.cpu[i].apic_id, 0xFF);
            assert_int_equal(t.cpu[i].bsp, i == 0);
            for (unsigned j = 0; j < i; j++)
                assert_int_not_equal(t.cpu[i].apic_id, t.cpu[j].apic_id);
        }
        assert_int_equal(t.lapic_phys % 4096, 0);
        assert_true(out_len > 0 && out[out_len - 1] == '\n');
        const char *last = out + out_len - 1;
        while (last > out && last[-1] != '\n')
            last--;
        assert_true(strncmp(last, "cpus: ", 6) == 0 && strstr(last, t.source));
        by_source[t.source[0] == 'A' ? 0 : t.source[0] == 'M' ? 1 : 2]++;
    }
    /* the lies reached every outcome */
    print_message("random lies: %u ACPI MADT, %u MP table, %u one CPU\n", by_source[0],
                  by_source[1], by_source[2]);
    assert_true(by_source[0] > 0 && by_source[1] > 0 && by_source[2] > 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_good_madt_4_cpus),
        T(test_bsp_first_whatever_its_place),
        T(test_rsdp_in_ebda_first),
        T(test_xsdt_preferred_over_rsdt),
        T(test_xsdt_above_4g_or_bad_uses_rsdt),
        T(test_find_table_by_signature),
        T(test_lapic_override_and_x2apic),
        T(test_rsdp_bad_checksum),
        T(test_rsdp_v2_bad_extended_checksum),
        T(test_rsdt_entry_outside_memory),
        T(test_rsdt_many_unreachable_entries),
        T(test_xsdt_entry_above_4g),
        T(test_rsdt_refused),
        T(test_madt_length_too_short),
        T(test_madt_length_too_long),
        T(test_madt_entry_length_0),
        T(test_madt_entry_past_end),
        T(test_madt_20_cpus_capped_at_16),
        T(test_madt_duplicate_apic_id),
        T(test_madt_disabled_cpu),
        T(test_madt_no_enabled_cpu),
        T(test_bsp_not_listed_is_added),
        T(test_bsp_unreadable_takes_first),
        T(test_no_tables_one_cpu),
        T(test_mp_table_only),
        T(test_mp_bad_checksum),
        T(test_mp_unknown_entry_type),
        T(test_mp_lying_lengths),
        T(test_mp_bsp_flags),
        T(test_mp_default_configuration),
        T(test_forced_sources),
        T(test_reader_range_checked),
        T(test_random_lies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

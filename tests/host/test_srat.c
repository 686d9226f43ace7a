/*
 * test_srat.c - the NUMA topology from ACPI (arch/x86/numa.c, with acpi.c,
 * mptable.c and cpus.c under it) over a fake physical memory that holds an
 * RSDP, an RSDT, an SRAT and a SLIT this file builds, honest and lying, and
 * a memory map the test passes as the kernel passes the loader's:
 *
 *   0x000f5a10         the RSDP (revision 0: the RSDT only)
 *   0x07fe0000         the RSDT, listing the SRAT and the SLIT when present
 *   0x07fe1000         the SRAT, built entry by entry
 *   0x07fe8000         the SLIT
 *
 * The reader (tests/host/fake_firmware.h) hands out a fresh copy of what is
 * asked and frees the one before, so a parser that keeps a pointer across
 * reads is caught (ASan on x86_64); outside those areas it returns NULL.  kprintf
 * (console_capture.h) collects the lines: every test asserts the exact lines printed, and every
 * result goes through check_topology, which holds the invariants any result
 * must keep (a refused table included): ranges sorted, disjoint, inside the
 * map and below 4 GB; every CPU on an existing node; 10 on the diagonal.
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
#include "numa.h"

/* ---------------------------------------------------- fake physical memory ---- */

#define TABLES      0x07FE0000u
#define TABLES_SIZE 0x10000u
#define RSDP_AT     0xF5A10u
#define RSDT_AT     TABLES
#define SRAT_AT     (TABLES + 0x1000)
#define SLIT_AT     (TABLES + 0x8000)
#define MB          0x100000ull

static const fw_reader_t reader = {fake_read, NULL, NULL};

static int setup(void **state)
{
    (void)state;
    fake_memory_new(TABLES, TABLES_SIZE);
    console_clear();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_memory_free();
    return 0;
}

/* ------------------------------------------------------------ table builders ---- */

static void le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A 36-byte table header: signature, length, revision; sealed by fake_fix_sum(p, length, 9). */
static uint8_t *header(uint32_t at, const char *sig, uint32_t length, uint8_t revision)
{
    uint8_t *p = fake_at(at, 36);
    memcpy(p, sig, 4);
    le(p + 4, length, 4);
    p[8] = revision;
    memcpy(p + 10, "NUMAOE", 6);
    memcpy(p + 16, "NUMATEST", 8);
    return p;
}

static void seal(uint32_t at)
{
    uint8_t *p = fake_at(at, 36);
    fake_fix_sum(p, fw_le32(p + 4), 9);
}

/* RSDP revision 0 -> RSDT [SRAT if with_srat] [SLIT if with_slit]. */
static void make_root(int with_srat, int with_slit)
{
    uint8_t *p = fake_at(RSDP_AT, 20);
    memcpy(p, "RSD PTR ", 8);
    le(p + 16, RSDT_AT, 4);
    fake_fix_sum(p, 20, 8);
    unsigned n = 0;
    uint8_t *r = header(RSDT_AT, "RSDT", 36, 1);
    if (with_srat)
        le(r + 36 + 4 * n++, SRAT_AT, 4);
    if (with_slit)
        le(r + 36 + 4 * n++, SLIT_AT, 4);
    le(r + 4, 36 + 4 * n, 4);
    seal(RSDT_AT);
}

/* The SRAT, entry by entry: srat_begin, srat_cpu / srat_x2apic / srat_mem / srat_raw, srat_end. */
static uint32_t srat_len;

static void srat_begin(uint8_t revision)
{
    header(SRAT_AT, "SRAT", 48, revision);
    fake_at(SRAT_AT, 48)[36] = 1; /* reserved, "1" for compatibility */
    srat_len = 48;
}

static void srat_raw(const uint8_t *bytes, unsigned len)
{
    memcpy(fake_at(SRAT_AT + srat_len, len), bytes, len);
    srat_len += len;
}

/* type 0, 16 bytes: domain bits 7-0 at 2, APIC id at 3, flags at 4, domain bits 31-8 at 9. */
static void srat_cpu(uint32_t domain, uint8_t apic_id, uint32_t flags)
{
    uint8_t e[16] = {0, 16, (uint8_t)domain, apic_id};
    le(e + 4, flags, 4);
    le(e + 9, domain >> 8, 3);
    srat_raw(e, sizeof(e));
}

/* type 2, 24 bytes: domain at 4, x2APIC id at 8, flags at 12. */
static void srat_x2apic(uint32_t domain, uint32_t x2apic_id, uint32_t flags)
{
    uint8_t e[24] = {2, 24};
    le(e + 4, domain, 4);
    le(e + 8, x2apic_id, 4);
    le(e + 12, flags, 4);
    srat_raw(e, sizeof(e));
}

#define ENABLED   1u
#define HOTPLUG   2u
#define ON        ENABLED
#define ON_HOTPLG (ENABLED | HOTPLUG)

/* type 1, 40 bytes: domain at 2, base at 8, length at 16, flags at 28. */
static void srat_mem(uint32_t domain, uint64_t base, uint64_t length, uint32_t flags)
{
    uint8_t e[40] = {1, 40};
    le(e + 2, domain, 4);
    le(e + 8, base, 8);
    le(e + 16, length, 8);
    le(e + 28, flags, 4);
    srat_raw(e, sizeof(e));
}

static void srat_end(void)
{
    le(fake_at(SRAT_AT, 8) + 4, srat_len, 4);
    seal(SRAT_AT);
}

/* A SLIT of n localities, d[i * n + j] the distance from i to j. */
static void make_slit(unsigned n, const uint8_t *d)
{
    uint8_t *p = header(SLIT_AT, "SLIT", 44 + n * n, 1);
    le(p + 36, n, 8);
    memcpy(fake_at(SLIT_AT, 44 + n * n) + 44, d, n * n);
    seal(SLIT_AT);
}

/* ------------------------------------------------------------- the machine ---- */

/* The memory map as QEMU's BIOS gives it for `top` bytes of RAM (below 3 GB). */
static pmm_range_t map[8];
static int map_count;

static void qemu_map(uint64_t top)
{
    const pmm_range_t m[] = {
        {0, 0x9FC00, PMM_RANGE_AVAILABLE},
        {0x9FC00, 0x400, PMM_RANGE_RESERVED},
        {0xF0000, 0x10000, PMM_RANGE_RESERVED},
        {MB, top - MB - 0x20000, PMM_RANGE_AVAILABLE},
        {top - 0x20000, 0x20000, PMM_RANGE_RESERVED}, /* ACPI tables: reserved, in node RAM */
        {0xFFFC0000u, 0x40000, PMM_RANGE_RESERVED},
    };
    memcpy(map, m, sizeof(m));
    map_count = 6;
}

static cpu_topology_t cpus;

static void running(unsigned n)
{
    memset(&cpus, 0, sizeof(cpus));
    cpus.count = n;
    for (unsigned i = 0; i < n; i++)
        cpus.cpu[i].apic_id = (uint8_t)i;
    cpus.cpu[0].bsp = 1;
    cpus.lapic_phys = 0xFEE00000u;
    cpus.source = "ACPI MADT";
}

/* One node's RAM the way QEMU's SRAT gives it: the 640 KB hole cut out. */
static void srat_node_ram(uint32_t domain, uint64_t base, uint64_t end)
{
    if (base == 0) {
        srat_mem(domain, 0, 0xA0000, ON);
        base = MB;
    }
    srat_mem(domain, base, end - base, ON);
}

/*
 * What QEMU 7.2 builds for -m 64M -smp 4 and two 32 MB nodes, CPUs 0-1 and
 * 2-3: CPU entries first, the memory, then disabled empty entries as padding;
 * the SLIT with `remote` between the two.
 */
static void two_nodes(uint8_t remote)
{
    qemu_map(64 * MB);
    running(4);
    srat_begin(1);
    for (unsigned i = 0; i < 4; i++)
        srat_cpu(i / 2, (uint8_t)i, ON);
    srat_node_ram(0, 0, 32 * MB);
    srat_node_ram(1, 32 * MB, 64 * MB);
    srat_mem(0, 0, 0, 0);
    srat_mem(0, 0, 0, 0);
    srat_end();
    const uint8_t d[4] = {10, remote, remote, 10};
    make_slit(2, d);
    make_root(1, 1);
}

/* ----------------------------------------------------------- the invariants ---- */

/* 1 if [base, end) lies in the union of the map's entries (any type): our own walk. */
static int in_map(uint64_t base, uint64_t end)
{
    for (int moved = 1; base < end && moved;) {
        moved = 0;
        for (int i = 0; i < map_count; i++) {
            if (map[i].base <= base && base < map[i].base + map[i].length) {
                base = map[i].base + map[i].length;
                moved = 1;
            }
        }
    }
    return base >= end;
}

/* Every invariant of a result; returns 1 if it came from the SRAT, 0 if it is the one node. */
static int check_topology(const numa_topology_t *t)
{
    assert_true(t->nodes >= 1 && t->nodes <= NUMA_MAX_NODES);
    assert_true(t->ranges <= NUMA_MAX_RANGES);
    for (unsigned i = 0; i < t->ranges; i++) {
        const numa_range_t *r = &t->range[i];
        assert_true(r->base < r->end);
        assert_true(r->end <= NUMA_LIMIT);
        assert_true(r->node < t->nodes);
        if (i > 0)
            assert_true(r->base >= t->range[i - 1].end); /* sorted, disjoint */
        if (!r->hotplug)
            assert_int_equal(r->present, 1);
    }
    assert_int_equal(t->cpus, cpus.count);
    for (unsigned c = 0; c < t->cpus; c++)
        assert_true(t->cpu_node[c] < t->nodes);
    for (unsigned a = 0; a < t->nodes; a++) {
        for (unsigned b = 0; b < t->nodes; b++) {
            if (a == b)
                assert_int_equal(t->distance[a][b], 10);
            else
                assert_true(t->distance[a][b] >= 10);
        }
    }
    /* the output: lines of numa/acpi only, the summary last */
    assert_true(out_len > 0 && out[out_len - 1] == '\n');
    for (const char *l = out; *l; l = strchr(l, '\n') + 1)
        assert_true(strncmp(l, "numa: ", 6) == 0 || strncmp(l, "acpi: ", 6) == 0);
    const char *last = out + out_len - 1;
    while (last > out && last[-1] != '\n')
        last--;
    assert_true(strncmp(last, "numa: ", 6) == 0);

    if (strcmp(t->source, "ACPI SRAT") != 0) {
        assert_int_equal(t->nodes, 1);
        assert_int_equal(t->ranges, 1);
        assert_true(t->range[0].base == 0 && t->range[0].present);
        return 0;
    }
    for (unsigned i = 0; i < t->ranges; i++) {
        if (t->range[i].present)
            assert_true(in_map(t->range[i].base, t->range[i].end));
    }
    /* the map's RAM from 1 MB up lies in present ranges: every 64 KB of it */
    for (int i = 0; i < map_count; i++) {
        if (map[i].type != PMM_RANGE_AVAILABLE)
            continue;
        for (uint64_t a = map[i].base; a < map[i].base + map[i].length && a < NUMA_LIMIT;
             a += 0x10000) {
            if (a >= MB)
                assert_true(numa_node_of(t, a) >= 0);
        }
    }
    return 1;
}

static numa_topology_t discover(void)
{
    numa_topology_t t;
    memset(&t, 0xA5, sizeof(t)); /* nothing left from before */
    console_clear();
    numa_discover_with(&reader, &cpus, map, map_count, &t);
    check_topology(&t);
    return t;
}

static void lines_are(const char *expected)
{
    if (strcmp(out, expected) != 0)
        print_message("wanted:\n%sgot:\n%s", expected, out);
    assert_string_equal(out, expected);
}

/* The line printed when the SRAT is refused, on a 64 MB machine with 4 CPUs. */
#define ONE_NODE_64M "node 0 0x00000000-0x03fdffff cpus 0 1 2 3\n"
#define REFUSED_64M  "numa: 1 node (SRAT refused): " ONE_NODE_64M

static void assert_one_node(const numa_topology_t *t, const char *source)
{
    assert_string_equal(t->source, source);
    assert_int_equal(t->nodes, 1);
    assert_true(t->range[0].end == 64 * MB - 0x20000);
    for (unsigned c = 0; c < t->cpus; c++)
        assert_int_equal(t->cpu_node[c], 0);
}

/* ------------------------------------------------------------- valid shapes ---- */

static void test_no_srat_one_node(void **state)
{
    (void)state;
    qemu_map(64 * MB);
    running(4);
    make_root(0, 0);
    numa_topology_t t = discover();
    lines_are("numa: 1 node (no SRAT): " ONE_NODE_64M);
    assert_one_node(&t, "no SRAT");
    assert_int_equal(t.ranges, 1);
    assert_int_equal(numa_node_of(&t, 0x3000000), 0);
    assert_int_equal(numa_node_of(&t, 64 * MB), -1);

    /* no ACPI at all: the same, and still not a word but the summary */
    memset(fake_low, 0, FAKE_LOW_SIZE);
    t = discover();
    lines_are("numa: 1 node (no SRAT): " ONE_NODE_64M);
}

static void test_two_nodes_two_cpus_each(void **state)
{
    (void)state;
    two_nodes(21);
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x01ffffff "
              "cpus 0 1, node 1 0x02000000-0x03ffffff cpus 2 3; SLIT 10 21/21 10\n");
    assert_int_equal(t.nodes, 2);
    assert_int_equal(t.ranges, 3);
    assert_string_equal(t.distances, "ACPI SLIT");
    assert_int_equal(t.distance[0][1], 21);
    assert_int_equal(t.distance[1][0], 21);
    assert_int_equal(t.cpu_node[0], 0);
    assert_int_equal(t.cpu_node[1], 0);
    assert_int_equal(t.cpu_node[2], 1);
    assert_int_equal(t.cpu_node[3], 1);
    assert_int_equal(numa_node_of(&t, 0x9F000), 0);
    assert_int_equal(numa_node_of(&t, 0xB0000), -1); /* the 640 KB hole */
    assert_int_equal(numa_node_of(&t, 32 * MB - 1), 0);
    assert_int_equal(numa_node_of(&t, 32 * MB), 1);
    assert_int_equal(numa_node_of(&t, 64 * MB), -1);
}

static void test_four_nodes(void **state)
{
    (void)state;
    qemu_map(64 * MB);
    running(4);
    srat_begin(1);
    for (unsigned i = 0; i < 4; i++)
        srat_cpu(i, (uint8_t)i, ON);
    for (unsigned n = 0; n < 4; n++)
        srat_node_ram(n, n * 16 * MB, (n + 1) * 16 * MB);
    srat_end();
    const uint8_t d[16] = {10, 20, 30, 40, 20, 10, 20, 30, 30, 20, 10, 20, 40, 30, 20, 10};
    make_slit(4, d);
    make_root(1, 1);
    numa_topology_t t = discover();
    lines_are("numa: 4 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x00ffffff "
              "cpus 0, node 1 0x01000000-0x01ffffff cpus 1, node 2 0x02000000-0x02ffffff cpus 2, "
              "node 3 0x03000000-0x03ffffff cpus 3; SLIT 10 20 30 40/20 10 20 30/30 20 10 20/40 "
              "30 20 10\n");
    assert_int_equal(t.nodes, 4);
    for (unsigned n = 0; n < 4; n++) {
        assert_int_equal(t.cpu_node[n], n);
        assert_int_equal(numa_node_of(&t, n * 16 * MB + 8 * MB), n);
        assert_int_equal(t.distance[0][n], 10 * (n + 1));
    }
}

static void test_unequal_sizes_and_domain_order(void **state)
{
    (void)state;
    /* domains 7 and 3, first appearance 7: node 0 is domain 7; memory listed before CPUs */
    qemu_map(64 * MB);
    running(2);
    srat_begin(1);
    srat_node_ram(7, 0, 16 * MB);
    srat_node_ram(3, 16 * MB, 64 * MB);
    srat_cpu(3, 1, ON);
    srat_cpu(7, 0, ON);
    srat_end();
    make_root(1, 0);
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x00ffffff "
              "cpus 0, node 1 0x01000000-0x03ffffff cpus 1; no SLIT: 10 20/20 10\n");
    assert_int_equal(t.domain[0], 7);
    assert_int_equal(t.domain[1], 3);
    assert_string_equal(t.distances, "no SLIT");
    assert_int_equal(t.range[2].end - t.range[2].base, 48 * MB);
}

static void test_memoryless_node(void **state)
{
    (void)state;
    /* -numa node,nodeid=1,cpus=2-3 without memdev: node 1 has CPUs, no memory */
    qemu_map(64 * MB);
    running(4);
    srat_begin(1);
    for (unsigned i = 0; i < 4; i++)
        srat_cpu(i / 2, (uint8_t)i, ON);
    srat_node_ram(0, 0, 64 * MB);
    srat_mem(1, 0, 0, ON); /* an enabled empty range: the domain, no memory */
    srat_end();
    const uint8_t d[4] = {10, 21, 21, 10};
    make_slit(2, d);
    make_root(1, 1);
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x03ffffff "
              "cpus 0 1, node 1 no memory cpus 2 3; SLIT 10 21/21 10\n");
    assert_int_equal(t.nodes, 2);
    assert_int_equal(t.ranges, 2);
    assert_int_equal(t.cpu_node[3], 1);
}

static void test_cpuless_node(void **state)
{
    (void)state;
    qemu_map(64 * MB);
    running(4);
    srat_begin(1);
    for (unsigned i = 0; i < 4; i++)
        srat_cpu(0, (uint8_t)i, ON);
    srat_node_ram(0, 0, 32 * MB);
    srat_node_ram(1, 32 * MB, 64 * MB);
    srat_end();
    make_root(1, 0);
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x01ffffff "
              "cpus 0 1 2 3, node 1 0x02000000-0x03ffffff no cpus; no SLIT: 10 20/20 10\n");
    assert_int_equal(numa_node_of(&t, 40 * MB), 1);
}

static void test_x2apic_entries(void **state)
{
    (void)state;
    /* x2APIC entries for the CPUs (ids below 255 are our APIC ids), one for id 300: not ours */
    qemu_map(64 * MB);
    running(2);
    srat_begin(3);
    srat_x2apic(0, 0, ON);
    srat_x2apic(0x10000, 1, ON);
    srat_x2apic(0x10000, 300, ON);
    srat_mem(0, 0, 0xA0000, ON);
    srat_mem(0, MB, 31 * MB, ON);
    srat_mem(0x10000, 32 * MB, 32 * MB, ON);
    srat_end();
    make_root(1, 0);
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x01ffffff "
              "cpus 0, node 1 0x02000000-0x03ffffff cpus 1; no SLIT: 10 20/20 10; 1 SRAT CPU "
              "not running\n");
    assert_int_equal(t.domain[1], 0x10000);
    assert_int_equal(t.srat_cpus_not_running, 1);
}

static void test_domain_high_bits_by_revision(void **state)
{
    (void)state;
    /* type 0's domain bits 31-8 count from SRAT revision 2 on; revision 1: reserved */
    for (uint8_t rev = 1; rev <= 2; rev++) {
        qemu_map(64 * MB);
        running(1);
        srat_begin(rev);
        srat_cpu(0x105, 0, ON);           /* bits 7-0 (5) at byte 2, bits 31-8 (1) at byte 9 */
        srat_node_ram(0x105, 0, 64 * MB); /* the memory entry's domain: 32 bits always */
        srat_end();
        make_root(1, 0);
        numa_topology_t t = discover();
        if (rev == 1) { /* the CPU's domain is 5: a node of its own, before the memory's */
            assert_int_equal(t.nodes, 2);
            assert_int_equal(t.domain[0], 5);
            assert_int_equal(t.domain[1], 0x105);
            assert_int_equal(numa_node_of(&t, 8 * MB), 1);
        } else {
            assert_int_equal(t.nodes, 1);
            assert_int_equal(t.domain[0], 0x105);
        }
        assert_int_equal(t.cpu_node[0], 0);
    }
}

static void test_disabled_entries_ignored(void **state)
{
    (void)state;
    /* disabled CPU and memory entries, with domains of their own: no node for them */
    qemu_map(64 * MB);
    running(2);
    srat_begin(1);
    srat_cpu(5, 0, 0);
    srat_cpu(0, 0, ON);
    srat_cpu(0, 1, ON);
    srat_x2apic(6, 1, 0);
    srat_mem(4, 0, 4096ull << 20, 0); /* disabled: would overlap everything */
    srat_node_ram(0, 0, 64 * MB);
    srat_mem(0, 0, 0, 0);
    srat_end();
    make_root(1, 0);
    numa_topology_t t = discover();
    lines_are("numa: 1 node from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x03ffffff "
              "cpus 0 1\n");
    assert_int_equal(t.nodes, 1);
    assert_int_equal(t.domain[0], 0);
}

static void test_hotpluggable_ranges(void **state)
{
    (void)state;
    /* one hot-pluggable range beyond RAM (absent), one inside the map (present) */
    qemu_map(64 * MB);
    running(2);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_cpu(1, 1, ON);
    srat_node_ram(0, 0, 32 * MB);
    srat_mem(1, 32 * MB, 32 * MB, ON_HOTPLG);
    srat_mem(1, 0x40000000, 0x10000000, ON_HOTPLG);
    srat_end();
    make_root(1, 0);
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x01ffffff "
              "cpus 0, node 1 0x02000000-0x03ffffff (hot-pluggable) 0x40000000-0x4fffffff "
              "(hot-pluggable, absent) cpus 1; no SLIT: 10 20/20 10\n");
    assert_int_equal(t.ranges, 4);
    assert_true(t.range[2].hotplug && t.range[2].present);
    assert_true(t.range[3].hotplug && !t.range[3].present);
    assert_int_equal(numa_node_of(&t, 40 * MB), 1);
    assert_int_equal(numa_node_of(&t, 0x40000000), -1); /* not RAM */
}

static void test_ranges_above_4g(void **state)
{
    (void)state;
    /* -m 5G: RAM to 3 GB and 4-5 GB; node 1 from 2 GB to 3 GB and all of 4-5 GB */
    qemu_map(3 * 1024 * MB);
    map[map_count++] = (pmm_range_t){4096 * MB, 1024 * MB, PMM_RANGE_AVAILABLE};
    running(2);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_cpu(1, 1, ON);
    srat_node_ram(0, 0, 2048 * MB);
    srat_mem(1, 2048 * MB, 1024 * MB, ON);
    srat_mem(1, 4096 * MB, 1024 * MB, ON);
    srat_end();
    make_root(1, 0);
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x7fffffff "
              "cpus 0, node 1 0x80000000-0xbfffffff cpus 1; no SLIT: 10 20/20 10; 1 range above "
              "4 GB left out\n");
    assert_int_equal(t.ranges, 3);
    assert_int_equal(t.above_4g, 1);

    /* a range across 4 GB is cut at it (RAM in the map to 5 GB: all of it believed) */
    map[map_count - 1] = (pmm_range_t){3072 * MB, 2048 * MB, PMM_RANGE_AVAILABLE};
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_cpu(0, 1, ON);
    srat_node_ram(0, 0, 3072 * MB);
    srat_mem(1, 3072 * MB, 2048 * MB, ON);
    srat_end();
    t = discover();
    assert_int_equal(t.nodes, 2);
    assert_true(t.range[2].base == 3072 * MB && t.range[2].end == NUMA_LIMIT);
    assert_int_equal(numa_node_of(&t, 0xFFFFF000u), 1);
}

static void test_asymmetric_slit_accepted(void **state)
{
    (void)state;
    two_nodes(21);
    const uint8_t d[4] = {10, 15, 30, 10};
    make_slit(2, d);
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x01ffffff "
              "cpus 0 1, node 1 0x02000000-0x03ffffff cpus 2 3; SLIT 10 15/30 10\n");
    assert_int_equal(t.distance[0][1], 15);
    assert_int_equal(t.distance[1][0], 30);
}

static void test_sparse_domains_without_slit(void **state)
{
    (void)state;
    qemu_map(64 * MB);
    running(2);
    srat_begin(1);
    srat_cpu(2, 0, ON);
    srat_cpu(200, 1, ON);
    srat_node_ram(2, 0, 32 * MB);
    srat_node_ram(200, 32 * MB, 64 * MB);
    srat_end();
    make_root(1, 0);
    numa_topology_t t = discover();
    assert_int_equal(t.nodes, 2);
    assert_int_equal(t.domain[0], 2);
    assert_int_equal(t.domain[1], 200);
    assert_int_equal(t.distance[1][0], 20);

    /* with a SLIT (which counts localities from 0): refused */
    const uint8_t d[4] = {10, 20, 20, 10};
    make_slit(2, d);
    make_root(1, 1);
    t = discover();
    lines_are("numa: SLIT at 0x07fe8000: SRAT proximity domain 2 has no locality among its 2: one "
              "node\nnuma: 1 node (SRAT refused): node 0 0x00000000-0x03fdffff cpus 0 1\n");
}

/* ------------------------------------------------------------------ lies ---- */

/* A lie: exactly these lines (the summary of one node added), and one node. */
static void refused(const char *why)
{
    char want[1024];
    numa_topology_t t = discover();
    snprintf(want, sizeof(want), "%s%s", why, REFUSED_64M);
    lines_are(want);
    assert_one_node(&t, "SRAT refused");
}

static void test_running_cpu_not_in_srat(void **state)
{
    (void)state;
    /* CPUs 1 and 3 (APIC ids 1, 3) have no SRAT entry: CPUs of no known node, refused */
    two_nodes(21);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_cpu(1, 2, ON);
    srat_cpu(1, 9, ON);
    srat_node_ram(0, 0, 32 * MB);
    srat_node_ram(1, 32 * MB, 64 * MB);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: running CPUs of no proximity domain it lists: 1 (APIC id "
            "1) 3 (APIC id 3): one node\n");

    /* the same with CPU 3 listed as disabled: still no node for it */
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_cpu(0, 1, ON);
    srat_cpu(1, 2, ON);
    srat_cpu(1, 3, 0);
    srat_node_ram(0, 0, 32 * MB);
    srat_node_ram(1, 32 * MB, 64 * MB);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: running CPUs of no proximity domain it lists: 3 (APIC id "
            "3): one node\n");

    /* all four listed (and APIC id 9, not running): taken */
    srat_begin(1);
    for (uint8_t i = 0; i < 4; i++)
        srat_cpu(i / 2, i, ON);
    srat_cpu(1, 9, ON);
    srat_node_ram(0, 0, 32 * MB);
    srat_node_ram(1, 32 * MB, 64 * MB);
    srat_end();
    numa_topology_t t = discover();
    lines_are("numa: 2 nodes from ACPI SRAT: node 0 0x00000000-0x0009ffff 0x00100000-0x01ffffff "
              "cpus 0 1, node 1 0x02000000-0x03ffffff cpus 2 3; SLIT 10 21/21 10; 1 SRAT CPU not "
              "running\n");
    assert_int_equal(t.cpu_node[3], 1);
    assert_int_equal(t.srat_cpus_not_running, 1);
}

static void test_srat_bad_checksum(void **state)
{
    (void)state;
    two_nodes(21);
    fake_at(SRAT_AT, 64)[60] ^= 1;
    refused("acpi: SRAT at 0x07fe1000 (RSDT entry 0): bad checksum: skipped\n");
}

static void test_srat_shorter_than_header(void **state)
{
    (void)state;
    two_nodes(21);
    le(fake_at(SRAT_AT, 8) + 4, 30, 4); /* below the ACPI header: acpi.c refuses it */
    seal(SRAT_AT);
    refused("acpi: SRAT at 0x07fe1000 (RSDT entry 0): length 30 is shorter than its 36-byte "
            "header: skipped\n");

    le(fake_at(SRAT_AT, 8) + 4, 40, 4); /* a header, not the SRAT's 48 bytes */
    seal(SRAT_AT);
    refused("numa: SRAT at 0x07fe1000: length 40 is shorter than its 48-byte header: one node\n");
}

static void test_srat_entry_length_0(void **state)
{
    (void)state;
    two_nodes(21);
    fake_at(SRAT_AT + 48 + 16, 2)[1] = 0; /* the second entry */
    seal(SRAT_AT);
    refused("numa: SRAT at 0x07fe1000: entry 1 (type 0) at offset 64: length 0 is shorter than "
            "16: one node\n");
}

static void test_srat_entry_past_end(void **state)
{
    (void)state;
    qemu_map(64 * MB);
    running(4);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    const uint8_t partial[20] = {1, 40};
    srat_raw(partial, sizeof(partial)); /* claims 40 bytes, 20 left */
    srat_end();
    make_root(1, 0);
    refused("numa: SRAT at 0x07fe1000: entry 1 (type 1) at offset 64: length 40 runs past the "
            "table's end at 84: one node\n");

    srat_begin(1);
    srat_cpu(0, 0, ON);
    const uint8_t one = 1;
    srat_raw(&one, 1); /* a lone byte: not even an entry header */
    srat_end();
    refused("numa: SRAT at 0x07fe1000: entry 1 at offset 64: 1 byte left, short of an entry "
            "header: one node\n");

    srat_begin(1);
    const uint8_t unknown[6] = {9, 6, 1, 2, 3, 4}; /* a type not read: stepped over */
    srat_raw(unknown, sizeof(unknown));
    srat_cpu(0, 0, ON);
    const uint8_t short_mem[30] = {1, 30}; /* a memory entry shorter than its 40 bytes */
    srat_raw(short_mem, sizeof(short_mem));
    srat_end();
    refused("numa: SRAT at 0x07fe1000: entry 2 (type 1) at offset 70: length 30 is shorter than "
            "40: one node\n");
}

static void test_overlap_between_nodes(void **state)
{
    (void)state;
    two_nodes(21);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_cpu(1, 2, ON);
    srat_node_ram(0, 0, 33 * MB);
    srat_node_ram(1, 32 * MB, 64 * MB);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: memory ranges overlap: 0x00100000-0x020fffff (proximity "
            "domain 0) and 0x02000000-0x03ffffff (proximity domain 1): one node\n");
}

static void test_overlap_within_node(void **state)
{
    (void)state;
    two_nodes(21);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_node_ram(0, 0, 64 * MB);
    srat_mem(0, 8 * MB, 4096, ON); /* inside the range before */
    srat_end();
    const uint8_t d[1] = {10};
    make_slit(1, d);
    refused("numa: SRAT at 0x07fe1000: memory ranges overlap: 0x00100000-0x03ffffff (proximity "
            "domain 0) and 0x00800000-0x00800fff (proximity domain 0): one node\n");

    /* the same range twice */
    srat_begin(1);
    srat_node_ram(0, 0, 64 * MB);
    srat_mem(0, MB, 63 * MB, ON);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: memory ranges overlap: 0x00100000-0x03ffffff (proximity "
            "domain 0) and 0x00100000-0x03ffffff (proximity domain 0): one node\n");
}

static void test_range_outside_ram(void **state)
{
    (void)state;
    two_nodes(21);
    srat_begin(1);
    srat_node_ram(0, 0, 32 * MB);
    srat_node_ram(1, 32 * MB, 128 * MB); /* the machine has 64 MB */
    srat_end();
    refused("numa: SRAT at 0x07fe1000: memory range 0x02000000-0x07ffffff (proximity domain 1) is "
            "not in the memory map: one node\n");

    /* inside the map's extent but across its hole at 640 KB - 960 KB */
    srat_begin(1);
    srat_mem(0, 0, 64 * MB, ON);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: memory range 0x00000000-0x03ffffff (proximity domain 0) is "
            "not in the memory map: one node\n");

    /* above 4 GB, where the map has nothing */
    srat_begin(1);
    srat_node_ram(0, 0, 64 * MB);
    srat_mem(1, 8192 * MB, 64 * MB, ON);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: memory range 0x200000000-0x203ffffff (proximity domain 1) "
            "is not in the memory map: one node\n");
}

static void test_ram_in_no_range(void **state)
{
    (void)state;
    two_nodes(21);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_node_ram(0, 0, 32 * MB); /* nothing for 32-64 MB */
    srat_end();
    const uint8_t d[1] = {10};
    make_slit(1, d);
    refused("numa: SRAT at 0x07fe1000: RAM at 0x02000000 (memory map 0x00100000-0x03fdffff) is in "
            "no memory range: one node\n");

    /* a hot-pluggable range over RAM the map only partly has: absent, so the RAM is in none */
    srat_begin(1);
    srat_node_ram(0, 0, 32 * MB);
    srat_mem(0, 32 * MB, 64 * MB, ON_HOTPLG);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: RAM at 0x02000000 (memory map 0x00100000-0x03fdffff) is in "
            "no memory range: one node\n");
}

static void test_more_domains_than_nodes(void **state)
{
    (void)state;
    qemu_map(64 * MB);
    running(4);
    srat_begin(1);
    for (unsigned n = 0; n < NUMA_MAX_NODES + 1; n++)
        srat_mem(n, MB + n * MB, MB, ON);
    srat_end();
    make_root(1, 0);
    refused("numa: SRAT at 0x07fe1000: more than 8 proximity domains (NUMA_MAX_NODES; the next: "
            "8): one node\n");

    /* exactly NUMA_MAX_NODES: taken */
    srat_begin(1);
    for (uint8_t c = 0; c < 4; c++)
        srat_cpu(0, c, ON);
    srat_mem(0, 0, 0xA0000, ON);
    for (unsigned n = 0; n < NUMA_MAX_NODES; n++)
        srat_mem(n, MB + n * 8 * MB, n == NUMA_MAX_NODES - 1 ? 7 * MB : 8 * MB, ON);
    srat_end();
    numa_topology_t t = discover();
    assert_non_null(strstr(out, "numa: 8 nodes from ACPI SRAT: "));
    assert_int_equal(t.nodes, NUMA_MAX_NODES);
    assert_int_equal(numa_node_of(&t, 60 * MB), 7);
    for (unsigned c = 0; c < 4; c++)
        assert_int_equal(t.cpu_node[c], 0); /* all four listed on domain 0 */
}

static void test_more_ranges_than_held(void **state)
{
    (void)state;
    qemu_map(64 * MB);
    running(4);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    for (unsigned i = 0; i <= NUMA_MAX_RANGES; i++)
        srat_mem(0, MB + i * MB, MB, ON);
    srat_end();
    make_root(1, 0);
    refused("numa: SRAT at 0x07fe1000: more than 32 enabled memory ranges (NUMA_MAX_RANGES): one "
            "node\n");
}

static void test_range_wraps_2_64(void **state)
{
    (void)state;
    two_nodes(21);
    srat_begin(1);
    srat_mem(0, 0xFFFFFFFFFFFFF000ull, 0x2000, ON);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: memory range at 0xfffffffffffff000, length "
            "0x0000000000002000, runs past 2^64: one node\n");
}

static void test_apic_id_in_two_domains(void **state)
{
    (void)state;
    two_nodes(21);
    srat_begin(1);
    srat_cpu(0, 0, ON);
    srat_cpu(0, 1, ON);
    srat_x2apic(1, 1, ON);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: APIC id 1 is listed in proximity domains 0 and 1: one "
            "node\n");
}

static void test_no_enabled_entry(void **state)
{
    (void)state;
    two_nodes(21);
    srat_begin(1);
    srat_cpu(0, 0, 0);
    srat_end();
    refused("numa: SRAT at 0x07fe1000: no enabled entry: one node\n");
}

static void test_slit_locality_count(void **state)
{
    (void)state;
    two_nodes(21);
    const uint8_t d3[9] = {10, 20, 20, 20, 10, 20, 20, 20, 10};
    make_slit(3, d3);
    refused("numa: SLIT at 0x07fe8000: 3 localities, the SRAT 2 proximity domains: one node\n");

    const uint8_t d1[1] = {10};
    make_slit(1, d1);
    refused("numa: SLIT at 0x07fe8000: 1 locality, the SRAT 2 proximity domains: one node\n");

    /* a count beyond 2^32 */
    make_slit(2, (const uint8_t[4]){10, 21, 21, 10});
    fake_at(SLIT_AT, 44)[40] = 1;
    seal(SLIT_AT);
    refused("numa: SLIT at 0x07fe8000: 0x100000002 localities, the SRAT 2 proximity domains: "
            "one node\n");
}

static void test_slit_short(void **state)
{
    (void)state;
    two_nodes(21);
    uint8_t *p = fake_at(SLIT_AT, 48);
    le(p + 4, 46, 4); /* 2 localities, 2 of their 4 distances */
    seal(SLIT_AT);
    refused("numa: SLIT at 0x07fe8000: length 46 is short of its 2 x 2 distances: one node\n");

    le(p + 4, 40, 4); /* not even the count */
    seal(SLIT_AT);
    refused("numa: SLIT at 0x07fe8000: length 40 is shorter than its 44-byte header: one node\n");
}

static void test_slit_bad_distances(void **state)
{
    (void)state;
    two_nodes(21);
    make_slit(2, (const uint8_t[4]){10, 21, 21, 11});
    refused("numa: SLIT at 0x07fe8000: distance 11 from locality 1 to 1 (itself: not 10): one "
            "node\n");

    make_slit(2, (const uint8_t[4]){10, 9, 21, 10});
    refused("numa: SLIT at 0x07fe8000: distance 9 from locality 0 to 1 (another: below 10): one "
            "node\n");

    make_slit(2, (const uint8_t[4]){0, 21, 21, 10});
    refused("numa: SLIT at 0x07fe8000: distance 0 from locality 0 to 0 (itself: not 10): one "
            "node\n");

    /* 10 to another node ("as near as itself") and 255 (unreachable) are both allowed */
    make_slit(2, (const uint8_t[4]){10, 10, 255, 10});
    numa_topology_t t = discover();
    assert_int_equal(t.nodes, 2);
    assert_int_equal(t.distance[0][1], 10);
    assert_int_equal(t.distance[1][0], 255);
}

static void test_slit_bad_checksum(void **state)
{
    (void)state;
    two_nodes(21);
    fake_at(SLIT_AT, 48)[45] ^= 0x40;
    refused("acpi: SLIT at 0x07fe8000 (RSDT entry 1): bad checksum: skipped\n"
            "numa: the SLIT was refused (above): one node\n");
}

static void test_bad_arguments(void **state)
{
    (void)state;
    two_nodes(21);
    numa_discover_with(&reader, &cpus, map, map_count, NULL);
    lines_are("numa: numa_discover: NULL result pointer: nothing done\n");

    /* no reader: no tables; no map: the one node covers all 4 GB; no CPUs: none assigned */
    numa_topology_t t;
    out_len = 0;
    numa_discover_with(NULL, NULL, NULL, 5, &t);
    lines_are("numa: 1 node (no SRAT): node 0 0x00000000-0xffffffff no cpus\n");
    assert_int_equal(t.cpus, 0);
    assert_true(t.range[0].end == NUMA_LIMIT);

    /* an SRAT with no map to check it against: every range is outside it */
    out_len = 0;
    numa_discover_with(&reader, NULL, map, 0, &t);
    lines_are("numa: SRAT at 0x07fe1000: memory range 0x00000000-0x0009ffff (proximity domain 0) "
              "is not in the memory map: one node\n"
              "numa: 1 node (SRAT refused): node 0 0x00000000-0xffffffff no cpus\n");

    /* a CPU list longer than the kernel holds */
    cpus.count = KERNEL_MAX_CPUS + 1;
    out_len = 0;
    numa_discover_with(&reader, &cpus, map, map_count, &t);
    assert_non_null(strstr(out, "numa: 17 CPUs, more than KERNEL_MAX_CPUS: CPUs not assigned\n"));
    assert_int_equal(t.nodes, 2);
    assert_int_equal(t.cpus, 0);

    assert_int_equal(numa_node_of(NULL, 0), -1);
    out_len = 0;
    numa_print(NULL);
    lines_are("numa: no topology\n");
}

/* ------------------------------------------------------------ random lies ---- */

static void test_random_corruptions(void **state)
{
    uint32_t rng = 20261306;
    unsigned from_srat = 0, one_node = 0;
    for (unsigned run = 0; run < 4000; run++) {
        teardown(state);
        setup(state);
        if (run % 2)
            two_nodes((uint8_t)(11 + rng_below(&rng, 30)));
        else
            test_x2apic_entries(state); /* a revision 3 SRAT with x2APIC entries, no SLIT */
        uint32_t srat_length = fw_le32(fake_at(SRAT_AT, 8) + 4);
        unsigned changes = 1 + rng_below(&rng, 4);
        for (unsigned c = 0; c < changes; c++) {
            int slit = run % 2 && rng_below(&rng, 4) == 0;
            uint32_t at = slit ? SLIT_AT : SRAT_AT;
            uint32_t len = slit ? 48 : srat_length;
            fake_at(at, len)[rng_below(&rng, len)] = (uint8_t)rng_next(&rng);
            if (rng_below(&rng, 4)) { /* mostly a checksum that agrees: the parser must judge */
                uint32_t claimed = fw_le32(fake_at(at, 8) + 4);
                if (claimed >= 10 && claimed <= 0x1000)
                    fake_fix_sum(fake_at(at, claimed), claimed, 9);
            }
        }
        numa_topology_t t = discover(); /* every invariant, whatever the bytes */
        if (strcmp(t.source, "ACPI SRAT") == 0)
            from_srat++;
        else
            one_node++;
    }
    print_message("random corruptions: %u topologies from the SRAT, %u single nodes\n", from_srat,
                  one_node);
    assert_true(from_srat > 100 && one_node > 100);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_no_srat_one_node),
        T(test_two_nodes_two_cpus_each),
        T(test_four_nodes),
        T(test_unequal_sizes_and_domain_order),
        T(test_memoryless_node),
        T(test_cpuless_node),
        T(test_x2apic_entries),
        T(test_domain_high_bits_by_revision),
        T(test_disabled_entries_ignored),
        T(test_hotpluggable_ranges),
        T(test_ranges_above_4g),
        T(test_asymmetric_slit_accepted),
        T(test_running_cpu_not_in_srat),
        T(test_sparse_domains_without_slit),
        T(test_srat_bad_checksum),
        T(test_srat_shorter_than_header),
        T(test_srat_entry_length_0),
        T(test_srat_entry_past_end),
        T(test_overlap_between_nodes),
        T(test_overlap_within_node),
        T(test_range_outside_ram),
        T(test_ram_in_no_range),
        T(test_more_domains_than_nodes),
        T(test_more_ranges_than_held),
        T(test_range_wraps_2_64),
        T(test_apic_id_in_two_domains),
        T(test_no_enabled_entry),
        T(test_slit_locality_count),
        T(test_slit_short),
        T(test_slit_bad_distances),
        T(test_slit_bad_checksum),
        T(test_bad_arguments),
        T(test_random_corruptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

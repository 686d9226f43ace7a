/*
 * numa.c - the nodes from ACPI: SRAT (which memory and which CPUs belong to
 * which proximity domain) and SLIT (how far the domains are from each
 * other), checked against the running CPUs and the memory map.  What is
 * believed and what is refused: arch/x86/numa.h.
 *
 * Everything is read through a fw_reader_t (arch/x86/firmware.h): the same
 * source runs in the kernel (arch/x86/numa_boot.c) and over the host tests'
 * fake physical memory (tests/host/test_srat.c).  Both tables are found
 * first (acpi_find_table_quiet checks their signature, length and checksum),
 * then each is read whole once and parsed from that one pointer, every
 * entry's length checked against what is left of the table before a byte of
 * it is read.  Layouts (ACPI 6.5, sections 5.2.16 and 5.2.17), byte offsets:
 *
 *   SRAT: the 36-byte header, 36 reserved (1), 40 reserved[8]; entries from
 *   48, each "0 type, 1 length":
 *     type 0, processor local APIC affinity, 16 bytes: 2 proximity domain
 *             bits 7-0, 3 APIC id, 4 flags (bit 0 enabled), 8 SAPIC EID,
 *             9 proximity domain bits 31-8 (SRAT revision 2 and later)
 *     type 1, memory affinity, 40 bytes: 2 proximity domain (32-bit),
 *             8 base (64-bit), 16 length (64-bit), 28 flags: bit 0 enabled,
 *             bit 1 hot-pluggable, bit 2 non-volatile
 *     type 2, processor local x2APIC affinity, 24 bytes: 4 proximity
 *             domain, 8 x2APIC id, 12 flags (bit 0 enabled)
 *     others (GICC, ITS, generic initiators, ...): stepped over by length
 *   SLIT: the header, 36 number of localities N (64-bit), 44 N x N bytes:
 *     entry [i * N + j] the distance from locality i to locality j
 */
#include "numa.h"

#include "console.h"

#define SRAT_HEADER       48u
#define SRAT_CPU          0
#define SRAT_MEMORY       1
#define SRAT_X2APIC       2
#define SRAT_ENABLED      0x1u
#define SRAT_HOTPLUGGABLE 0x2u
#define SLIT_HEADER       44u
#define ONE_MB            0x100000ull
#define NO_NODE           0xFFu

/* What the SRAT says, before it is believed. */
typedef struct {
    uint32_t phys, length;
    unsigned domains;
    uint32_t domain[NUMA_MAX_NODES]; /* in order of first appearance */
    unsigned ranges;
    struct {
        uint64_t base, end;
        uint8_t node, hotplug, present;
        uint32_t domain;
    } range[NUMA_MAX_RANGES];
    uint8_t cpu_node[KERNEL_MAX_CPUS]; /* NO_NODE: not listed */
    unsigned not_running;
} srat_t;

/* kprintf has no 64-bit conversions: an address as 0x%08x, or in two halves above 4 GB. */
static void say_addr(uint64_t a)
{
    if (a >> 32)
        kprintf("0x%x%08x", (uint32_t)(a >> 32), (uint32_t)a);
    else
        kprintf("0x%08x", (uint32_t)a);
}

/* "[base, end - 1]", the way every range here is printed. */
static void say_range(uint64_t base, uint64_t end)
{
    say_addr(base);
    kprintf("-");
    say_addr(end - 1);
}

static void clear(void *p, unsigned size)
{
    uint8_t *b = p;
    while (size--)
        *b++ = 0;
}

/* ---- the memory map ---- */

/* 1 if every byte of [base, end) lies in one of the map's entries (of any type, or only RAM). */
static int map_covers(const pmm_range_t *map, int count, uint64_t base, uint64_t end, int ram_only)
{
    while (base < end) {
        uint64_t reach = base;
        for (int i = 0; i < count; i++) {
            uint64_t b = map[i].base, e = b + map[i].length;
            if (e < b)
                e = ~0ull; /* a length that wraps: up to the top */
            if ((!ram_only || map[i].type == PMM_RANGE_AVAILABLE) && b <= base && e > reach)
                reach = e;
        }
        if (reach == base)
            return 0;
        base = reach;
    }
    return 1;
}

/* The end of the highest available RAM below NUMA_LIMIT; NUMA_LIMIT without a map. */
static uint64_t ram_top(const pmm_range_t *map, int count)
{
    uint64_t top = 0;
    for (int i = 0; i < count; i++) {
        uint64_t b = map[i].base, e = b + map[i].length;
        if (e < b || e > NUMA_LIMIT)
            e = NUMA_LIMIT;
        if (map[i].type == PMM_RANGE_AVAILABLE && b < e && e > top)
            top = e;
    }
    return count > 0 && top ? top : NUMA_LIMIT;
}

/* ---- the SRAT ---- */

/* The size an entry of this type must at least have, 2 for the types not read. */
static uint32_t srat_entry_min(uint8_t type)
{
    switch (type) {
    case SRAT_CPU:
        return 16;
    case SRAT_MEMORY:
        return 40;
    case SRAT_X2APIC:
        return 24;
    default:
        return 2;
    }
}

/* The node of a proximity domain, a new one on its first appearance; -1 when there are too many. */
static int node_of_domain(srat_t *s, uint32_t domain)
{
    for (unsigned i = 0; i < s->domains; i++) {
        if (s->domain[i] == domain)
            return (int)i;
    }
    if (s->domains == NUMA_MAX_NODES) {
        kprintf("numa: SRAT at 0x%08x: more than %u proximity domains (NUMA_MAX_NODES; the "
                "next: %u)",
                s->phys, NUMA_MAX_NODES, domain);
        return -1;
    }
    s->domain[s->domains] = domain;
    return (int)s->domains++;
}

/* An enabled processor entry: its node, for the running CPU with this APIC id. */
static int srat_cpu(srat_t *s, const cpu_topology_t *cpus, uint32_t apic_id, uint32_t domain)
{
    int node = node_of_domain(s, domain);
    if (node < 0)
        return -1;
    for (unsigned i = 0; cpus && i < cpus->count; i++) {
        if (cpus->cpu[i].apic_id != apic_id)
            continue;
        if (s->cpu_node[i] != NO_NODE && s->cpu_node[i] != node) {
            kprintf("numa: SRAT at 0x%08x: APIC id %u is listed in proximity domains %u and %u",
                    s->phys, apic_id, s->domain[s->cpu_node[i]], domain);
            return -1;
        }
        s->cpu_node[i] = (uint8_t)node;
        return 0;
    }
    s->not_running++;
    return 0;
}

/* An enabled memory entry: kept (unless empty), in order of base. */
static int srat_memory(srat_t *s, const uint8_t *e)
{
    uint32_t domain = fw_le32(e + 2);
    uint64_t base = fw_le64(e + 8), length = fw_le64(e + 16);
    int node = node_of_domain(s, domain);

    if (node < 0)
        return -1;
    if (!length) /* a domain with no memory here: the domain stays */
        return 0;
    if (base + length < base) {
        kprintf("numa: SRAT at 0x%08x: memory range at ", s->phys);
        say_addr(base);
        kprintf(", length 0x%08x%08x, runs past 2^64", (uint32_t)(length >> 32), (uint32_t)length);
        return -1;
    }
    if (s->ranges == NUMA_MAX_RANGES) {
        kprintf("numa: SRAT at 0x%08x: more than %u enabled memory ranges (NUMA_MAX_RANGES)",
                s->phys, NUMA_MAX_RANGES);
        return -1;
    }
    unsigned i = s->ranges++;
    while (i > 0 && s->range[i - 1].base > base) { /* insertion: the list stays sorted */
        s->range[i] = s->range[i - 1];
        i--;
    }
    s->range[i].base = base;
    s->range[i].end = base + length;
    s->range[i].node = (uint8_t)node;
    s->range[i].domain = domain;
    s->range[i].hotplug = (fw_le32(e + 28) & SRAT_HOTPLUGGABLE) != 0;
    s->range[i].present = 0;
    return 0;
}

/* Walk the entries of the table at t (whole at m).  0, or -1 after a line started saying why. */
static int srat_walk(srat_t *s, const uint8_t *m, const cpu_topology_t *cpus)
{
    uint32_t n = 0;
    unsigned revision = m[8];

    for (uint32_t off = SRAT_HEADER; off < s->length; off += m[off + 1], n++) {
        uint32_t left = s->length - off;
        if (left < 2) {
            kprintf("numa: SRAT at 0x%08x: entry %u at offset %u: %u byte left, short of an "
                    "entry header",
                    s->phys, n, off, left);
            return -1;
        }
        uint8_t type = m[off], len = m[off + 1];
        if (len < srat_entry_min(type) || len > left) {
            kprintf("numa: SRAT at 0x%08x: entry %u (type %u) at offset %u: length %u %s %u",
                    s->phys, n, type, off, len,
                    len > left ? "runs past the table's end at" : "is shorter than",
                    len > left ? s->length : srat_entry_min(type));
            return -1;
        }
        const uint8_t *e = m + off;
        int bad = 0;
        if (type == SRAT_CPU && (fw_le32(e + 4) & SRAT_ENABLED)) {
            uint32_t domain = e[2];
            if (revision >= 2)
                domain |= (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24;
            bad = srat_cpu(s, cpus, e[3], domain);
        } else if (type == SRAT_X2APIC && (fw_le32(e + 12) & SRAT_ENABLED)) {
            bad = srat_cpu(s, cpus, fw_le32(e + 8), fw_le32(e + 4));
        } else if (type == SRAT_MEMORY && (fw_le32(e + 28) & SRAT_ENABLED)) {
            bad = srat_memory(s, e);
        }
        if (bad)
            return -1;
    }
    return 0;
}

/* The ranges against each other and the memory map.  0, or -1 after a line started. */
static int srat_check_ranges(srat_t *s, const pmm_range_t *map, int count)
{
    for (unsigned i = 0; i < s->ranges; i++) {
        if (i > 0 && s->range[i].base < s->range[i - 1].end) {
            kprintf("numa: SRAT at 0x%08x: memory ranges overlap: ", s->phys);
            say_range(s->range[i - 1].base, s->range[i - 1].end);
            kprintf(" (proximity domain %u) and ", s->range[i - 1].domain);
            say_range(s->range[i].base, s->range[i].end);
            kprintf(" (proximity domain %u)", s->range[i].domain);
            return -1;
        }
        int in_map = map_covers(map, count, s->range[i].base, s->range[i].end, 0);
        if (!in_map && !s->range[i].hotplug) {
            kprintf("numa: SRAT at 0x%08x: memory range ", s->phys);
            say_range(s->range[i].base, s->range[i].end);
            kprintf(" (proximity domain %u) is not in the memory map", s->range[i].domain);
            return -1;
        }
        s->range[i].present = (uint8_t)in_map;
    }

    /* the map's RAM from 1 MB to 4 GB, in present ranges */
    for (int i = 0; i < count; i++) {
        uint64_t b = map[i].base, e = b + map[i].length;
        if (e < b || e > NUMA_LIMIT)
            e = NUMA_LIMIT;
        if (b < ONE_MB)
            b = ONE_MB;
        if (map[i].type != PMM_RANGE_AVAILABLE || b >= e)
            continue;
        while (b < e) { /* the part from b that present ranges cover */
            uint64_t reach = b;
            for (unsigned j = 0; j < s->ranges; j++) {
                if (s->range[j].present && s->range[j].base <= b && s->range[j].end > reach)
                    reach = s->range[j].end;
            }
            if (reach == b) {
                kprintf("numa: SRAT at 0x%08x: RAM at ", s->phys);
                say_addr(b);
                kprintf(" (memory map ");
                say_range(map[i].base, map[i].base + map[i].length);
                kprintf(") is in no memory range");
                return -1;
            }
            b = reach;
        }
    }
    return 0;
}

/* ---- the SLIT ---- */

/* The distances into t.  0, or -1 after a line started saying why. */
static int slit_read(const fw_reader_t *r, const acpi_table_t *slit, const srat_t *s,
                     numa_topology_t *t)
{
    const uint8_t *m = slit->length >= SLIT_HEADER ? fw_read(r, slit->phys, slit->length) : 0;
    if (!m) {
        kprintf("numa: SLIT at 0x%08x: length %u %s", slit->phys, slit->length,
                slit->length < SLIT_HEADER ? "is shorter than its 44-byte header"
                                           : "runs past readable memory");
        return -1;
    }
    uint64_t n = fw_le64(m + 36);
    if (n != s->domains) {
        kprintf("numa: SLIT at 0x%08x: ", slit->phys);
        if (n >> 32)
            say_addr(n);
        else
            kprintf("%u", (uint32_t)n);
        kprintf(" localit%s, the SRAT %u proximity domain%s", n == 1 ? "y" : "ies", s->domains,
                s->domains == 1 ? "" : "s");
        return -1;
    }
    if (slit->length - SLIT_HEADER < n * n) {
        kprintf("numa: SLIT at 0x%08x: length %u is short of its %u x %u distances", slit->phys,
                slit->length, (uint32_t)n, (uint32_t)n);
        return -1;
    }
    for (unsigned a = 0; a < s->domains; a++) {
        if (s->domain[a] >= n) {
            kprintf("numa: SLIT at 0x%08x: SRAT proximity domain %u has no locality among its %u",
                    slit->phys, s->domain[a], (uint32_t)n);
            return -1;
        }
    }
    for (unsigned a = 0; a < s->domains; a++) {
        for (unsigned b = 0; b < s->domains; b++) {
            uint8_t d = m[SLIT_HEADER + s->domain[a] * (uint32_t)n + s->domain[b]];
            if (a == b ? d != NUMA_LOCAL_DISTANCE : d < NUMA_LOCAL_DISTANCE) {
                kprintf("numa: SLIT at 0x%08x: distance %u from locality %u to %u (%s)", slit->phys,
                        d, s->domain[a], s->domain[b],
                        a == b ? "itself: not 10" : "another: below 10");
                return -1;
            }
            t->distance[a][b] = d;
        }
    }
    t->distances = "ACPI SLIT";
    return 0;
}

/* ---- the decision ---- */

/* One node: all RAM, every CPU. */
static void one_node(numa_topology_t *t, const cpu_topology_t *cpus, const pmm_range_t *map,
                     int count, const char *source)
{
    clear(t, sizeof(*t));
    t->nodes = 1;
    t->ranges = 1;
    t->range[0].end = ram_top(map, count);
    t->range[0].present = 1;
    t->cpus = cpus && cpus->count <= KERNEL_MAX_CPUS ? cpus->count : 0;
    t->distance[0][0] = NUMA_LOCAL_DISTANCE;
    t->source = source;
    t->distances = "no SLIT";
}

/*
 * Every running CPU must be in one of the SRAT's proximity domains: a CPU of
 * no known node is a table that lies (or misses entries), refused like the
 * rest, naming every such CPU in the one line.
 */
static int srat_check_cpus(const srat_t *s, const cpu_topology_t *cpus)
{
    unsigned missing = 0;
    for (unsigned i = 0; cpus && i < cpus->count; i++) {
        if (s->cpu_node[i] != NO_NODE)
            continue;
        if (!missing++)
            kprintf("numa: SRAT at 0x%08x: running CPUs of no proximity domain it lists:", s->phys);
        kprintf(" %u (APIC id %u)", i, cpus->cpu[i].apic_id);
    }
    return missing ? -1 : 0;
}

/* The SRAT's word, believed (checked): ranges cut at 4 GB, each running CPU on its node. */
static void take_srat(numa_topology_t *t, srat_t *s, const cpu_topology_t *cpus)
{
    t->nodes = s->domains;
    for (unsigned n = 0; n < s->domains; n++)
        t->domain[n] = s->domain[n];
    for (unsigned i = 0; i < s->ranges; i++) {
        if (s->range[i].base >= NUMA_LIMIT) {
            t->above_4g++;
            continue;
        }
        numa_range_t *o = &t->range[t->ranges++];
        o->base = s->range[i].base;
        o->end = s->range[i].end < NUMA_LIMIT ? s->range[i].end : NUMA_LIMIT;
        o->node = s->range[i].node;
        o->hotplug = s->range[i].hotplug;
        o->present = s->range[i].present;
    }
    t->cpus = cpus && cpus->count <= KERNEL_MAX_CPUS ? cpus->count : 0;
    for (unsigned i = 0; i < t->cpus; i++)
        t->cpu_node[i] = s->cpu_node[i]; /* srat_check_cpus: each one listed */
    t->srat_cpus_not_running = s->not_running;
    t->source = "ACPI SRAT";
}

void numa_discover_with(const fw_reader_t *r, const cpu_topology_t *cpus, const pmm_range_t *map,
                        int count, numa_topology_t *out)
{
    static const fw_reader_t nothing = {0, 0, 0};
    acpi_table_t srat_at, slit_at;
    srat_t s;

    if (!out) {
        kprintf("numa: numa_discover: NULL result pointer: nothing done\n");
        return;
    }
    if (!r)
        r = &nothing;
    if (!map || count < 0)
        count = 0;
    if (cpus && cpus->count > KERNEL_MAX_CPUS) {
        kprintf("numa: %u CPUs, more than KERNEL_MAX_CPUS: CPUs not assigned\n", cpus->count);
        cpus = 0;
    }

    int found = acpi_find_table_quiet(r, "SRAT", &srat_at);
    if (found < 0) {
        one_node(out, cpus, map, count, found == -1 ? "no SRAT" : "SRAT refused");
        numa_print(out);
        return;
    }
    int slit = acpi_find_table_quiet(r, "SLIT", &slit_at);

    clear(&s, sizeof(s));
    s.phys = srat_at.phys;
    s.length = srat_at.length;
    for (unsigned i = 0; i < KERNEL_MAX_CPUS; i++)
        s.cpu_node[i] = NO_NODE;
    const uint8_t *m = s.length >= SRAT_HEADER ? fw_read(r, s.phys, s.length) : 0;
    int bad = 0;
    if (!m) {
        kprintf("numa: SRAT at 0x%08x: length %u %s", s.phys, s.length,
                s.length < SRAT_HEADER ? "is shorter than its 48-byte header"
                                       : "runs past readable memory");
        bad = 1;
    } else if (srat_walk(&s, m, cpus) < 0) {
        bad = 1;
    } else if (s.domains == 0) {
        kprintf("numa: SRAT at 0x%08x: no enabled entry", s.phys);
        bad = 1;
    } else if (srat_check_ranges(&s, map, count) < 0 || srat_check_cpus(&s, cpus) < 0) {
        bad = 1;
    }

    clear(out, sizeof(*out));
    if (!bad && slit == 0) {
        bad = slit_read(r, &slit_at, &s, out) < 0;
    } else if (!bad && slit == -2) {
        kprintf("numa: the SLIT was refused (above)");
        bad = 1;
    } else if (!bad) {
        for (unsigned a = 0; a < s.domains; a++) {
            for (unsigned b = 0; b < s.domains; b++)
                out->distance[a][b] = a == b ? NUMA_LOCAL_DISTANCE : NUMA_REMOTE_DISTANCE;
        }
        out->distances = "no SLIT";
    }
    if (bad) {
        kprintf(": one node\n");
        one_node(out, cpus, map, count, "SRAT refused");
    } else {
        take_srat(out, &s, cpus);
    }
    numa_print(out);
}

int numa_node_of(const numa_topology_t *t, uint64_t phys)
{
    for (unsigned i = 0; t && i < t->ranges && i < NUMA_MAX_RANGES; i++) {
        if (t->range[i].present && t->range[i].base <= phys && phys < t->range[i].end)
            return t->range[i].node;
    }
    return -1;
}

void numa_print(const numa_topology_t *t)
{
    if (!t || !t->nodes || t->nodes > NUMA_MAX_NODES) {
        kprintf("numa: no topology\n");
        return;
    }
    const char *source = t->source ? t->source : "?";
    if (source[0] == 'A') /* "ACPI SRAT" */
        kprintf("numa: %u node%s from %s: ", t->nodes, t->nodes == 1 ? "" : "s", source);
    else
        kprintf("numa: %u node%s (%s): ", t->nodes, t->nodes == 1 ? "" : "s", source);
    for (unsigned n = 0; n < t->nodes; n++) {
        unsigned shown = 0;
        kprintf("%snode %u", n ? ", " : "", n);
        for (unsigned i = 0; i < t->ranges && i < NUMA_MAX_RANGES; i++) {
            if (t->range[i].node != n)
                continue;
            kprintf(" ");
            say_range(t->range[i].base, t->range[i].end);
            if (t->range[i].hotplug)
                kprintf(t->range[i].present ? " (hot-pluggable)" : " (hot-pluggable, absent)");
            shown++;
        }
        if (!shown)
            kprintf(" no memory");
        shown = 0;
        for (unsigned c = 0; c < t->cpus && c < KERNEL_MAX_CPUS; c++) {
            if (t->cpu_node[c] == n)
                kprintf(shown++ ? " %u" : " cpus %u", c);
        }
        if (!shown)
            kprintf(" no cpus");
    }
    if (t->nodes > 1) {
        kprintf("; %s", t->distances && t->distances[0] == 'A' ? "SLIT" : "no SLIT:");
        for (unsigned a = 0; a < t->nodes; a++) {
            kprintf(a ? "/" : " ");
            for (unsigned b = 0; b < t->nodes; b++)
                kprintf(b ? " %u" : "%u", t->distance[a][b]);
        }
    }
    if (t->above_4g)
        kprintf("; %u range%s above 4 GB left out", t->above_4g, t->above_4g == 1 ? "" : "s");
    if (t->srat_cpus_not_running)
        kprintf("; %u SRAT CPU%s not running", t->srat_cpus_not_running,
                t->srat_cpus_not_running == 1 ? "" : "s");
    kprintf("\n");
}

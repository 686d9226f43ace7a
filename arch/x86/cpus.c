/*
 * cpus.c - which processors to run on, from what the firmware's tables say
 * (arch/x86/acpi.c, arch/x86/mptable.c): the decision behind cpu_discover.
 *
 * Order: the ACPI MADT, else the MP configuration table, else the BSP alone
 * (the boot option cpus=madt|mp|one narrows it).  A table is refused in one
 * line and the next source is tried; the one a table gives is then checked
 * against the machine and kernel:
 *
 *   the BSP     is the CPU running this code; its local APIC says its id.
 *               That id must be in the list: if the table lacks it (or marks
 *               it disabled) it is added, and said.  When the id cannot be
 *               read: the MP table's entry marked BP, else the first entry
 *               (ACPI asks firmware to list the BSP first).
 *   duplicates  an APIC id listed twice is kept once (fw_cpus_add), and said;
 *   disabled    entries are skipped (the parsers say how many);
 *   too many    more than KERNEL_MAX_CPUS: the BSP and the first 15 others, said.
 *
 * The result: cpu[0] is the BSP, the others in the table's order.  One last
 * line says what was found:
 *   cpus: 4 from ACPI MADT (APIC ids 0 1 2 3), local APIC at 0xfee00000
 * Nothing here touches memory but through the fw_reader_t: the host tests
 * run this file as the kernel does (tests/host/test_acpi.c).
 */
#include "firmware.h"

#include "console.h"

const void *fw_read(const fw_reader_t *r, uint32_t phys, uint32_t len)
{
    if (!r || !r->read || !len || (uint64_t)phys + len > 0x100000000ull)
        return 0;
    return r->read(r->ctx, phys, len);
}

uint32_t fw_ebda(const fw_reader_t *r)
{
    const uint8_t *p = fw_read(r, FW_BDA_EBDA_SEGMENT, 2);
    uint32_t ebda = p ? (uint32_t)fw_le16(p) << 4 : 0;

    /* above the BIOS data area, its first KB below the video memory at 640 KB */
    return ebda >= 0x500 && ebda + 1024 <= 0xA0000 ? ebda : 0;
}

int fw_cpus_has(const uint32_t *bitmap, uint8_t apic_id)
{
    return (bitmap[apic_id / 32] >> (apic_id % 32)) & 1;
}

void fw_cpus_add(fw_cpus_t *f, uint8_t apic_id, int marked_bsp)
{
    if (apic_id == FW_APIC_BROADCAST)
        return;
    if (fw_cpus_has(f->listed, apic_id)) {
        if (!f->duplicates++)
            f->first_duplicate = apic_id;
        return;
    }
    f->listed[apic_id / 32] |= 1u << (apic_id % 32);
    f->apic_id[f->count] = apic_id; /* at most 255 distinct ids: it fits */
    f->marked_bsp[f->count] = (uint8_t)(marked_bsp != 0);
    f->count++;
}

void fw_cpus_disabled(fw_cpus_t *f, uint8_t apic_id)
{
    f->disabled[apic_id / 32] |= 1u << (apic_id % 32);
}

/* The BSP's APIC id, and whatever the table says of it that does not fit. */
static uint8_t bsp_choose(const fw_reader_t *r, const fw_cpus_t *f)
{
    int id = r->bsp_apic_id ? r->bsp_apic_id(r->ctx, f->lapic_phys) : -1;
    unsigned marked = 0, first_marked = 0;

    for (unsigned i = 0; i < f->count; i++) {
        if (f->marked_bsp[i] && !marked++)
            first_marked = i;
    }
    if (id < 0 || id >= FW_APIC_BROADCAST) { /* its local APIC cannot tell */
        if (f->marks_bsp && marked) {
            if (marked > 1)
                kprintf("cpus: %s: %u entries marked BSP, the BSP's APIC id cannot be read: "
                        "taking the first, APIC id %u\n",
                        f->table, marked, f->apic_id[first_marked]);
            return f->apic_id[first_marked];
        }
        kprintf("cpus: %s: the BSP's APIC id cannot be read%s: taking the first entry's, %u\n",
                f->table, f->marks_bsp ? " and no entry is marked BSP" : "", f->apic_id[0]);
        return f->apic_id[0];
    }

    uint8_t bsp = (uint8_t)id;
    if (!fw_cpus_has(f->listed, bsp)) {
        kprintf("cpus: %s: the BSP's APIC id %u (its local APIC says) is %s: added\n", f->table,
                bsp, fw_cpus_has(f->disabled, bsp) ? "listed as disabled" : "not listed");
    } else if (f->marks_bsp) {
        unsigned i = 0;
        while (f->apic_id[i] != bsp)
            i++;
        if (!marked)
            kprintf("cpus: %s: no entry is marked BSP; its local APIC says APIC id %u\n", f->table,
                    bsp);
        else if (!f->marked_bsp[i] || marked > 1)
            kprintf("cpus: %s: %u entr%s marked BSP, the first APIC id %u; its local APIC says "
                    "%u: taken\n",
                    f->table, marked, marked == 1 ? "y" : "ies", f->apic_id[first_marked], bsp);
    }
    return bsp;
}

static void say_found(const cpu_topology_t *t)
{
    kprintf("cpus: %u from %s (APIC id%s", t->count, t->source, t->count == 1 ? "" : "s");
    for (unsigned i = 0; i < t->count; i++)
        kprintf(" %u", t->cpu[i].apic_id);
    kprintf("), local APIC at 0x%08x\n", t->lapic_phys);
}

/* A table's list, checked, as the result. */
static void take_table(const fw_reader_t *r, const fw_cpus_t *f, cpu_topology_t *out)
{
    if (f->duplicates)
        kprintf("cpus: %s: %u entr%s with an APIC id listed before skipped (the first: APIC id "
                "%u)\n",
                f->table, f->duplicates, f->duplicates == 1 ? "y" : "ies", f->first_duplicate);

    uint8_t bsp = bsp_choose(r, f);
    unsigned total = f->count + !fw_cpus_has(f->listed, bsp);

    out->count = 1;
    out->cpu[0].apic_id = bsp;
    out->cpu[0].bsp = 1;
    for (unsigned i = 0; i < f->count && out->count < KERNEL_MAX_CPUS; i++) {
        if (f->apic_id[i] == bsp)
            continue;
        out->cpu[out->count].apic_id = f->apic_id[i];
        out->cpu[out->count].bsp = 0;
        out->count++;
    }
    if (total > KERNEL_MAX_CPUS)
        kprintf("cpus: %s: %u CPUs, more than KERNEL_MAX_CPUS (%u): keeping the BSP and the first "
                "%u others\n",
                f->table, total, KERNEL_MAX_CPUS, KERNEL_MAX_CPUS - 1);
    out->lapic_phys = f->lapic_phys;
    out->source = f->table;
}

static void take_one(const fw_reader_t *r, cpu_topology_t *out)
{
    int id = r->bsp_apic_id ? r->bsp_apic_id(r->ctx, CPUS_LAPIC_DEFAULT) : -1;

    out->count = 1;
    out->cpu[0].apic_id = id >= 0 && id < FW_APIC_BROADCAST ? (uint8_t)id : 0;
    out->cpu[0].bsp = 1;
    out->lapic_phys = CPUS_LAPIC_DEFAULT;
    out->source = "none (one CPU)";
}

static void clear(fw_cpus_t *f)
{
    uint8_t *p = (uint8_t *)f;
    for (unsigned i = 0; i < sizeof(*f); i++)
        p[i] = 0;
}

void cpus_discover_with(const fw_reader_t *r, cpus_source_t source, cpu_topology_t *out)
{
    static const fw_reader_t nothing = {0, 0, 0};
    fw_cpus_t found;

    if (!out) {
        kprintf("cpus: cpu_discover: NULL result pointer: nothing done\n");
        return;
    }
    if (!r)
        r = &nothing;
    switch (source) {
    case CPUS_FROM_ANY:
        break;
    case CPUS_FROM_MADT:
        kprintf("cpus: boot option cpus=madt: the MP table is not consulted\n");
        break;
    case CPUS_FROM_MP:
        kprintf("cpus: boot option cpus=mp: ACPI is not consulted\n");
        break;
    case CPUS_FROM_NONE:
        kprintf("cpus: boot option cpus=one: no table is consulted\n");
        break;
    default:
        kprintf("cpus: source %d unknown: consulting every table\n", (int)source);
        source = CPUS_FROM_ANY;
    }

    int taken = 0;
    if (source == CPUS_FROM_ANY || source == CPUS_FROM_MADT) {
        clear(&found);
        taken = acpi_madt_cpus(r, &found) == 0;
    }
    if (!taken && (source == CPUS_FROM_ANY || source == CPUS_FROM_MP)) {
        clear(&found);
        taken = mptable_cpus(r, &found) == 0;
    }
    if (taken)
        take_table(r, &found, out);
    else
        take_one(r, out);
    say_found(out);
}

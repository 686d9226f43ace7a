/*
 * cpus_standin.c - STAND-IN for helper "acpi"'s CPU discovery (issue 12).
 * TEMPORARY: the lead deletes this file when arch/x86/cpus.c (cpu_discover
 * with the MADT, the MP table and their checks) is merged.  It only lets
 * arch/x86/smp.c be written and tested against cpus.h meanwhile.
 *
 * Minimal: with paging still off (kernel_main calls it before pmm_start),
 * find the ACPI RSDP ("RSD PTR ", checksummed) in the EBDA's first 1 KB or
 * in 0xE0000-0xFFFFF, follow the RSDT to the MADT ("APIC", checksummed) and
 * take each enabled processor-local-APIC entry (type 0, flags bit 0); the BSP
 * is the entry whose id the local APIC's ID register shows.  No MP table, no
 * XSDT.  Whatever is wrong gives one line and the BSP alone.
 */
#include "cpus.h"

#include "terminal.h"

#define LAPIC_DEFAULT 0xFEE00000u

static int sum_ok(const uint8_t *p, uint32_t len)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum += p[i];
    return sum == 0;
}

static int sig(const uint8_t *p, const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] != (uint8_t)s[i])
            return 0;
    return 1;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const uint8_t *find_rsdp(uint32_t from, uint32_t to)
{
    for (uint32_t a = from; a + 20 <= to; a += 16) {
        const uint8_t *p = (const uint8_t *)a;
        if (sig(p, "RSD PTR ", 8) && sum_ok(p, 20))
            return p;
    }
    return 0;
}

static void one_cpu(cpu_topology_t *out, const char *why)
{
    kprintf("[boot] cpus (stand-in): %s; one CPU\n", why);
    *out = (cpu_topology_t){
        .count = 1, .cpu = {{.apic_id = 0, .bsp = 1}}, .lapic_phys = 0, .source = "none (one CPU)"};
}

void cpu_discover(cpu_topology_t *out)
{
    uint32_t ebda = (uint32_t)(*(const volatile uint16_t *)0x40E) << 4;
    const uint8_t *rsdp = 0;

    if (ebda >= 0x80000 && ebda < 0xA0000)
        rsdp = find_rsdp(ebda, ebda + 1024);
    if (!rsdp)
        rsdp = find_rsdp(0xE0000, 0x100000);
    if (!rsdp)
        return one_cpu(out, "no ACPI RSDP");
    const uint8_t *rsdt = (const uint8_t *)rd32(rsdp + 16);
    if (!rsdt || !sig(rsdt, "RSDT", 4) || rd32(rsdt + 4) < 36 || rd32(rsdt + 4) > 4096 ||
        !sum_ok(rsdt, rd32(rsdt + 4)))
        return one_cpu(out, "ACPI RSDT missing or broken");
    const uint8_t *madt = 0;
    for (uint32_t off = 36; off + 4 <= rd32(rsdt + 4); off += 4) {
        const uint8_t *t = (const uint8_t *)rd32(rsdt + off);
        if (t && sig(t, "APIC", 4)) {
            madt = t;
            break;
        }
    }
    if (!madt)
        return one_cpu(out, "no MADT in the ACPI RSDT");
    uint32_t len = rd32(madt + 4);
    if (len < 44 || len > 65536 || !sum_ok(madt, len))
        return one_cpu(out, "MADT length or checksum wrong");

    *out = (cpu_topology_t){.lapic_phys = rd32(madt + 36), .source = "ACPI MADT"};
    if (out->lapic_phys == 0)
        out->lapic_phys = LAPIC_DEFAULT;
    uint32_t bsp_id = *(const volatile uint32_t *)(out->lapic_phys + 0x20) >> 24;
    for (uint32_t off = 44; off + 2 <= len;) {
        const uint8_t *e = madt + off;
        if (e[1] < 2 || off + e[1] > len)
            break;
        if (e[0] == 0 && e[1] >= 8 && (rd32(e + 4) & 1) && out->count < KERNEL_MAX_CPUS) {
            out->cpu[out->count].apic_id = e[3];
            out->cpu[out->count].bsp = e[3] == bsp_id;
            out->count++;
        }
        off += e[1];
    }
    if (out->count == 0)
        return one_cpu(out, "the MADT lists no enabled CPU");
    kprintf("[boot] cpus (stand-in): ACPI MADT: %u CPU%s, local APIC 0x%08x, BSP APIC id %u\n",
            out->count, out->count == 1 ? "" : "s", out->lapic_phys, bsp_id);
}

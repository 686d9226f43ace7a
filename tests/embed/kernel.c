/*
 * kernel.c - the embedding test kernel: a second, minimal kernel of our own
 * that uses mm/ exactly as an outside user would (issue 11).
 *
 * It owns its start-up, its paging, its memset & co. and its kfree(char *);
 * mm/ gets the rest of the machine's memory management through mm/glue.h
 * (glue.c), its names prefixed (mm_kmalloc, mm_kfree...).
 *
 * Start-up, in two stages like any kernel that maps little at boot:
 *   1. serial, IDT, paging on with the first 4 MB mapped; the PMM is told
 *      of RAM it may hand out now: below 4 MB only
 *   2. the rest of RAM identity-mapped by this kernel; its own page pool
 *      (1 MB at the top of RAM) set up; the PMM may use the rest
 *   3. mm/'s virtual heap (heap_init_virtual): from here kmalloc grows
 *      through glue_kmap, slabs and vmalloc work
 *   4. the second CPU started (INIT-SIPI-SIPI), the stress on both CPUs,
 *      every checker of mm/, one line each, then embed: PASS or FAIL and
 *      QEMU's isa-debug-exit
 *
 * The memory map the PMM gets: the loader's map plus this kernel's
 * reservations (its image, the AP trampoline page, its own pool).
 */
#include "memory.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"
#undef memset
#undef memcpy
#undef kfree
#include "embed.h"

#define MAP_MAX 40

extern char kernel_start[], kernel_end[];
static pmm_range_t map[MAP_MAX];
static int nmap;
static uint32_t ram_end;

static void add_range(uint64_t base, uint64_t len, uint32_t type)
{
    if (nmap == MAP_MAX) {
        kprintf("embed: FAIL memory map: more than %d ranges\n", MAP_MAX);
        embed_exit(1);
    }
    map[nmap].base = base;
    map[nmap].length = len;
    map[nmap].type = type;
    nmap++;
}

/* The loader's map, copied before anything can overwrite it. */
static void read_multiboot(uint32_t magic, uint32_t mbi)
{
    const uint32_t *info = (const uint32_t *)mbi;
    if (magic != 0x2BADB002 || !(info[0] & 0x40)) {
        kprintf("embed: FAIL not started by a Multiboot loader with a memory map\n");
        embed_exit(1);
    }
    uint32_t p = info[12], end = info[12] + info[11]; /* mmap_addr, mmap_length */
    while (p < end) {
        uint32_t size = *(const uint32_t *)p;
        uint64_t base, len;
        memcpy(&base, (const void *)(p + 4), 8);
        memcpy(&len, (const void *)(p + 12), 8);
        uint32_t type = *(const uint32_t *)(p + 20);
        type = type == 1 ? PMM_RANGE_AVAILABLE : PMM_RANGE_RESERVED;
        add_range(base, len, type);
        if (type == PMM_RANGE_AVAILABLE && base < EMBED_MAX_RAM && base + len > ram_end)
            ram_end = base + len > EMBED_MAX_RAM ? EMBED_MAX_RAM : (uint32_t)(base + len);
        p += size + 4;
    }
    ram_end &= ~(EMBED_PAGE - 1);
}

static void reserve_own(void)
{
    add_range((uintptr_t)kernel_start, (uintptr_t)(kernel_end - kernel_start), PMM_RANGE_RESERVED);
    add_range(EMBED_TRAMPOLINE, EMBED_PAGE, PMM_RANGE_RESERVED);
    add_range(ram_end - EMBED_POOL_BYTES, EMBED_POOL_BYTES, PMM_RANGE_RESERVED);
}

static void pmm_line(const char *when)
{
    pmm_stats_t s;
    mm_pmm_get_stats(&s);
    kprintf("embed: pmm %s: %u pages total, %u free, %u used, %u reserved\n", when, s.total_pages,
            s.free_pages, s.used_pages, s.reserved_pages);
}

static volatile int ap_done;
static volatile uintptr_t probe_addr; /* the BSP asks the AP: is this mapped for you? */
static volatile int probe_result = -1;

void ap_main(void)
{
    idt_load();
    lapic_init();
    ap_online = 1;
    __asm__ volatile("sti");
    stress_run(1);
    ap_done = 1;
    for (;;) { /* interrupts on: shootdowns answered */
        if (probe_addr && probe_result < 0)
            probe_result = probe_read(probe_addr);
        cpu_relax();
    }
}

static int ap_probe(uintptr_t virt)
{
    probe_result = -1;
    probe_addr = virt;
    while (probe_result < 0)
        cpu_relax();
    probe_addr = 0;
    return probe_result;
}

/*
 * The shootdown, seen from the other CPU: the AP reads a vmalloc page (its
 * TLB now holds the translation), the BSP vfrees it (glue_kunmap), the AP
 * reads again and must fault.  Without the IPI its stale TLB entry would let
 * the read through (QEMU's TLBs are per CPU, as real ones are).
 */
static int shootdown_check(void)
{
    uint8_t *p = vmalloc(EMBED_PAGE);
    if (!p)
        return 1;
    p[0] = 0xA5;
    int before = ap_probe((uintptr_t)p);
    mm_vfree(p);
    int after = ap_probe((uintptr_t)p);
    kprintf("embed: TLB shootdown: the other CPU reads a vmalloc page: %s; after vfree: %s\n",
            before ? "ok" : "FAULT", after ? "still reads it (stale TLB)" : "faults");
    return !before || after;
}

static int check(const char *name, int broken)
{
    kprintf("embed: %s = %d%s\n", name, broken, broken ? "  FAILED" : "");
    return broken != 0;
}

void kmain(uint32_t magic, uint32_t mbi);
void kmain(uint32_t magic, uint32_t mbi)
{
    serial_init();
    kprintf("embed: the embedding test kernel, mm/ built with MM_PREFIX\n");
    read_multiboot(magic, mbi);
    reserve_own();
    idt_init();
    idt_load();
    outb(0x21, 0xFF); /* both PICs masked: only APIC IPIs from here on */
    outb(0xA1, 0xFF);

    /* ---- stage one: 4 MB mapped, the PMM may hand out only that ---- */
    paging_boot();
    lapic_init();
    kprintf("embed: stage one: paging on, first 4 MB mapped; RAM ends at %u MB, APIC id %d\n",
            ram_end >> 20, lapic_id());
    pmm_layout_t layout = {
        .reachable = EMBED_BOOT_MAP,
        .ram_end = ram_end,
        .kernel_base = (uintptr_t)kernel_start,
        .kernel_length = (uintptr_t)(kernel_end - kernel_start),
    };
    if (mm_pmm_init_layout(map, nmap, &layout) < 0) {
        kprintf("embed: FAIL pmm_init_layout refused the map\n");
        embed_exit(1);
    }
    pmm_line("after stage one");

    /* ---- stage two: the rest of RAM ---- */
    paging_map_rest(ram_end);
    kpool_init(ram_end - EMBED_POOL_BYTES, ram_end);
    if (mm_pmm_set_reachable(ram_end) < 0) {
        kprintf("embed: FAIL pmm_set_reachable(%u MB) refused\n", ram_end >> 20);
        embed_exit(1);
    }
    kprintf("embed: stage two: RAM mapped to %u MB, handed to the PMM\n", ram_end >> 20);
    pmm_line("after stage two");
    kprintf("embed: own page pool: %d pages of kfree(char *)\n", kpool_free_pages());

    /* ---- mm/'s virtual heap, through glue_kmap ---- */
    mm_heap_init_virtual();
    memory_stats_t ms;
    mm_get_memory_stats(&ms);
    if (!ms.heap_virtual_size) {
        kprintf("embed: FAIL heap_init_virtual: no virtual heap\n");
        embed_exit(1);
    }
    kprintf("embed: virtual heap at 0x%x: %u KB mapped\n", HEAP_VIRTUAL_START,
            ms.heap_virtual_size / 1024);

    stress_setup();
    if (smp_start_ap() < 0) {
        kprintf("embed: FAIL the second CPU did not start (run QEMU with -smp 2,sockets=2)\n");
        embed_exit(1);
    }
    kprintf("embed: second CPU up (APIC id %d); stress on both\n", lapic_id() ^ 1);
    __asm__ volatile("sti");
    stress_run(0);
    while (!ap_done)
        cpu_relax(); /* interrupts on: the AP's shootdowns are answered */

    int failed = stress_finish();
    failed += check("shootdown_check", shootdown_check());
    failed += check("heap_check", mm_heap_check());
    failed += check("pmm_check", mm_pmm_check());
    failed += check("vmalloc_check", mm_vmalloc_check());
    failed += check("kmem_cache_check", mm_kmem_cache_check());
    pmm_line("at the end");
    if (failed)
        kprintf("embed: FAIL %d problems\n", failed);
    else
        kprintf("embed: PASS\n");
    embed_exit(failed != 0);
}

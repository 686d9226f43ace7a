/*
 * main.c - kernel_main: bring the machine up, start the memory manager, show
 * it working, then hand over to the tests, the shell or the power switch.
 *
 * Order matters: the console first (so every later step can report), then
 * the CPU check (a 386 is refused in one line: arch/x86/cpu.c), then
 * our own GDT and the IDT (so a fault from here on prints a diagnosis
 * instead of rebooting; the 8259 PICs masked, so no IRQ ever arrives), then
 * the multiboot information, then the CPUs the
 * firmware lists (cpu_discover: before paging, which lets it read the
 * tables wherever they are; its result stays in cpu_topology()), then the
 * NUMA nodes (numa_discover, the same way; numa_topology()), then the heap:
 * modules moved out of its way, then memory_init_map() on the memory map.
 * Each step prints before it starts and "ok" when done, so a hang shows
 * where it happened.
 *
 * Phase 2 starts after the heap demo: the memory map (kernel/memmap.c) goes
 * to the physical memory manager, then come paging and the virtual heap.
 * The boot option "phase1" stops before all of that: the spec's Phase 1
 * kernel, which must keep working on its own.
 *
 * With paging on, the kernel leaves the 16 KB boot stack (in .bss, nothing
 * below it but other data) for a kernel stack from kstack_alloc, with an
 * unmapped guard page below it: an overflow then faults at once, and the
 * double-fault task (arch/x86/idt.c) names the guard page instead of the
 * machine triple-faulting.  The tests and the shell run on that stack, with
 * interrupts on once the local APIC is up (the only interrupts are IPIs):
 * the BSP answers another CPU's TLB shootdown as it comes, not only when
 * it next spins for a lock.
 */
#include <stdint.h>

#include "cpu.h"
#include "cpus.h"
#include "gdt.h"
#include "idt.h"
#include "lapic.h"
#include "memmap.h"
#include "memory.h"
#include "mm_debug.h"
#include "modules.h"
#include "vmm.h"
#include "multiboot.h"
#include "numa.h"
#include "numa_pmm.h"
#include "pmm.h"
#include "power.h"
#include "segment.h"
#include "shell.h"
#include "smp.h"
#include "terminal.h"
#include "vmalloc.h"
#include "zswap.h"

#define KERNEL_STACK_SIZE (32 * 1024)

extern char kernel_start[], kernel_end[]; /* linker.ld */

#ifdef KERNEL_TEST
int kernel_tests_run(void); /* tests/kernel: returns the number of failures */
#endif

void kernel_main(uint32_t magic, uint32_t mbi_phys);

/* Fill, then read back: the memory really is ours and really holds data. */
static int fill_and_check(uint8_t *p, uint32_t size, uint8_t seed)
{
    for (uint32_t i = 0; i < size; i++)
        p[i] = (uint8_t)(seed + i);
    for (uint32_t i = 0; i < size; i++) {
        if (p[i] != (uint8_t)(seed + i))
            return 0;
    }
    return 1;
}

static void heap_demo(void)
{
    static const uint32_t sizes[] = {24, 100, 1000, 64};
    uint8_t *blocks[4];

    kprintf("\n== heap demo ==\n");
    for (int i = 0; i < 4; i++) {
        blocks[i] = kmalloc(sizes[i]);
        if (!blocks[i]) {
            kprintf("kmalloc(%u) = NULL: unexpected on a fresh heap\n", sizes[i]);
            continue;
        }
        kprintf("kmalloc(%4u) = %p, written and read back: %s\n", sizes[i], blocks[i],
                fill_and_check(blocks[i], sizes[i], (uint8_t)(i * 40)) ? "ok" : "MISMATCH");
    }

    kprintf("\nget_memory_stats:\n");
    meminfo_print();
    kprintf("\nheap_dump with four blocks allocated:\n");
    heap_dump();

    /* Blocks 1 and 2 are neighbours: freeing both must leave ONE free block. */
    kfree(blocks[1]);
    kfree(blocks[2]);
    kprintf("\nheap_dump after kfree of the 100- and 1000-byte blocks (neighbours, so\n"
            "they coalesce into a single free block):\n");
    heap_dump();

    kfree(blocks[0]);
    kfree(blocks[3]);
    int broken = heap_check();
    kprintf("\nall freed; heap_check: %d broken invariants (%s)\n", broken, broken ? "FAIL" : "ok");
}

extern char kernel_start[], kernel_end[]; /* linker.ld: the image, .bss and boot stack included */

/*
 * The boot option cpus=madt|mp|one: which firmware table cpu_discover may use
 * (tools/cpus-check.sh boots each).  Any other cpus=... is named and ignored.
 */
static void cpus_boot_option(void)
{
    static const struct {
        const char *word;
        cpus_source_t source;
    } options[] = {
        {"cpus=madt", CPUS_FROM_MADT},
        {"cpus=mp", CPUS_FROM_MP},
        {"cpus=one", CPUS_FROM_NONE},
    };

    for (unsigned i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        if (multiboot_has_option(options[i].word)) {
            cpu_discover_force(options[i].source);
            return;
        }
    }
    for (const char *c = multiboot_cmdline(); *c; c++) {
        if ((c == multiboot_cmdline() || c[-1] == ' ') && c[0] == 'c' && c[1] == 'p' &&
            c[2] == 'u' && c[3] == 's' && c[4] == '=') {
            kprintf("[boot] cpus: unknown boot option (not cpus=madt, cpus=mp or cpus=one): "
                    "ignored\n");
            return;
        }
    }
}

/* The map handed to the PMM; static, so the PMM may keep pointing at it. */
static pmm_range_t boot_map[MEMMAP_MAX_RANGES];

/* Build the memory map and start the PMM on it.  Returns 1 when it runs. */
static int pmm_start(void)
{
    pmm_stats_t s;

    kprintf("[boot] memory map for the PMM (the loader's ranges + what is already in use):\n");
    int count = memmap_build(boot_map, MEMMAP_MAX_RANGES);
    memmap_print();
    if (count < 0) {
        kprintf("[boot] pmm: memory map FAILED to build; staying in Phase 1\n");
        return 0;
    }
    /* On its own line: the PMM reports what it ignores (RAM above 4 GB, ...). */
    /* The image named: a map that forgot to reserve it is refused, not written over. */
    pmm_layout_t layout = {.kernel_base = (uint32_t)kernel_start,
                           .kernel_length = (uint32_t)(kernel_end - kernel_start)};
    numa_pmm_register(); /* the nodes first: the free lists are built per node */
    kprintf("[boot] pmm: pmm_init_layout with %d ranges, kernel image 0x%08x-0x%08x ...\n", count,
            (uint32_t)kernel_start, (uint32_t)kernel_end);
    if (pmm_init_layout(boot_map, count, &layout) != 0) {
        kprintf("[boot] pmm: pmm_init_layout FAILED (above); staying in Phase 1\n");
        return 0;
    }
    memmap_set_pmm_ready(1);

    pmm_get_stats(&s);
    kprintf("[boot] pmm: %u pages total, %u free, %u reserved (metadata %u KB at 0x%08x)\n",
            s.total_pages, s.free_pages, s.reserved_pages, (s.metadata_bytes + 1023) / 1024,
            s.metadata_phys);
    int broken = pmm_check();
    kprintf("[boot] pmm_check: %d broken invariants (%s)\n", broken, broken ? "FAILED" : "ok");
    return 1;
}

/*
 * Phase 2 proper: paging on, the page-fault handler told what addresses are,
 * kmalloc moved to the growing virtual heap, and a short demo of it growing
 * and giving pages back.
 */
static void paging_start(void)
{
    vmm_stats_t vs;
    memory_stats_t ms;

    kprintf("[boot] vmm: page directory, identity map, direct map, paging on ... ");
    vmm_init();
    vmm_get_stats(&vs);
    kprintf("ok\n[boot] vmm: directory 0x%08x, %u page tables; identity 0x1000-0x%08x, direct "
            "map at 0x%08x; page 0 unmapped\n",
            vs.page_directory, vs.page_tables, vmm_identity_end(), KERNEL_VIRTUAL_BASE);
    idt_set_address_describer(vmm_describe);
    idt_set_page_fault_handler(zswap_fault); /* compressible memory comes back on a fault */

    kprintf("[boot] heap: moving kmalloc to 0x%08x ... ", HEAP_VIRTUAL_START);
    heap_init_virtual();
    get_memory_stats(&ms);
    kprintf("%s, %u KB mapped\n", ms.heap_virtual_size ? "ok" : "FAILED",
            ms.heap_virtual_size / 1024);

    uint8_t *big = kmalloc(1024 * 1024);
    get_memory_stats(&ms);
    kprintf("[boot] heap: kmalloc(1 MB) = %p: heap grew to %u KB (%u pages from the PMM), "
            "written and read back: %s\n",
            big, ms.heap_virtual_size / 1024, ms.heap_virtual_size / PAGE_SIZE,
            big && fill_and_check(big, 1024 * 1024, 7) ? "ok" : "FAILED");
    kfree(big);
    get_memory_stats(&ms);
    kprintf("[boot] heap: kfree: shrank back to %u KB; %u physical pages free; heap_check %d, "
            "vmm_check %d, pmm_check %d\n",
            ms.heap_virtual_size / 1024, ms.phys_free_pages, heap_check(), vmm_check(),
            pmm_check());
}

/*
 * The spec's Phase 1 heap at HEAP_START, but only on RAM the memory map says
 * is free: modules in its way move up first; without the RAM (a machine
 * under 5 MB + 64 KB, a module with nowhere to go) memory_init_map says what
 * is wrong, and the kernel, which cannot run without a heap, powers off.
 */
static void heap_start(void)
{
    modules_clear_heap();
    modules_print();
    int count = memmap_build(boot_map, MEMMAP_MAX_RANGES);
    kprintf("[boot] heap: %u KB at physical 0x%08x ... ", INITIAL_HEAP_SIZE / 1024, HEAP_START);
    if (memory_init_map(boot_map, count) == 0) {
        kprintf("ok\n");
        return;
    }
    kprintf("[boot] heap: FAILED: no room for the Phase 1 heap (above); powering off\n");
    poweroff();
}

/* What the kernel is for, once it is up: the tests, or the shell.  Never returns. */
static void kernel_run(void *unused)
{
#ifdef KERNEL_TEST
    int failures = kernel_tests_run();
    qemu_exit(failures ? 1 : 0);
#else
    if (multiboot_has_option("autopoweroff")) {
        kprintf("\nautopoweroff: powering off\n");
        poweroff();
    }
    shell_run();
#endif
}

/*
 * What smp_start must know of the boot: where the loader's information lies
 * (the trampoline page must not hold it), and the test kernel's smpmute1
 * (APIC id 1 gets no SIPI, as a dead AP).
 */
static void smp_boot_of(const struct multiboot_info *mbi, smp_boot_t *b)
{
    *b = (smp_boot_t){.mute_apic_id = multiboot_has_option("smpmute1") ? 1 : -1};
    if (!mbi)
        return;
    b->taken[b->ntaken++] =
        (smp_range_t){(uint32_t)(uintptr_t)mbi, sizeof(*mbi), "the multiboot information is there"};
    if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
        b->taken[b->ntaken++] =
            (smp_range_t){mbi->cmdline, 256, "the multiboot command line is there"};
    if (mbi->flags & MULTIBOOT_INFO_MMAP)
        b->taken[b->ntaken++] =
            (smp_range_t){mbi->mmap_addr, mbi->mmap_length, "the multiboot memory map is there"};
    if (mbi->flags & MULTIBOOT_INFO_MODS)
        b->taken[b->ntaken++] = (smp_range_t){mbi->mods_addr, mbi->mods_count * 16u,
                                              "the multiboot module list is there"};
}

/* Leave the boot stack for a kernel stack with a guard page below it, and run there. */
static void kernel_run_on_kstack(void)
{
    smp_boot_t boot;
    smp_boot_of(multiboot_info(), &boot);
    smp_start(cpu_topology(), &boot); /* the APs (found at boot, before paging): each on a kstack */
    numa_pmm_cpus();                  /* their numbers, as they came up, to the PMM's nodes */
    numa_pmm_check();                 /* with nodes: each CPU's page from its own node */
    if (lapic_ready())
        sti(); /* IPIs only (the PICs are masked): a shootdown's is answered at once */

    vaddr_t top = kstack_alloc(KERNEL_STACK_SIZE);
    if (!top) {
        kprintf("[boot] kstack: FAILED; staying on the boot stack\n");
        kernel_run(NULL);
    }
    vaddr_t bottom = top - KERNEL_STACK_SIZE;
    kprintf("[boot] kstack: %u KB at 0x%08x-0x%08x, guard page 0x%08x below it; vmalloc_check "
            "%d; switching to it\n",
            KERNEL_STACK_SIZE / 1024, bottom, top - 1, bottom - PAGE_SIZE, vmalloc_check());
    idt_set_kernel_stack(bottom, top);
    cpu_call_on_stack(top, kernel_run, NULL);
}

void kernel_main(uint32_t magic, uint32_t mbi_phys)
{
    terminal_initialize();
    kprintf("\nmm kernel - memory manager for 32-bit x86\n");
    kprintf("[boot] serial + VGA console ... ok\n");

    /* Before anything else: on a CPU we cannot run on, say so while we still can. */
    struct cpu_info cpu;
    cpu_detect(&cpu);
    const char *refusal = cpu_refusal(&cpu);
    if (refusal) {
        kprintf("cpu: %s; powering off\n", refusal);
        poweroff();
    }
    kprintf("[boot] cpu: ");
    cpu_print(&cpu);
    kprintf(" ... ok\n");

    kprintf("[boot] GDT: flat, kernel code 0x%02x, data 0x%02x ... ", KERNEL_CS, KERNEL_DS);
    gdt_init();
    kprintf("ok\n");

    kprintf("[boot] IDT: %d exception handlers; 8259 PICs masked ... ", IDT_EXCEPTIONS);
    idt_init();
    pic_disable(); /* the BIOS's timer IRQ sits on vector 8: an sti would be a "#DF" */
    kprintf("ok\n");

    kprintf("[boot] kernel image 0x%08x-0x%08x (%u KB)\n", (uint32_t)kernel_start,
            (uint32_t)kernel_end, (uint32_t)(kernel_end - kernel_start) / 1024);

    kprintf("[boot] multiboot information ... ");
    if (multiboot_init(magic, mbi_phys)) {
        kprintf("ok, command line '%s'\n", multiboot_cmdline());
        kprintf("[boot] memory map:\n");
        multiboot_print_memory_map();
    }

    /* Before paging: physical addresses below 4 GB read as they are (arch/x86/cpus_boot.c). */
    static cpu_topology_t cpus;
    kprintf("[boot] processors, from the firmware's tables:\n");
    cpus_boot_option();
    cpu_discover(&cpus);

    /* Before paging too: the SRAT and SLIT wherever they are (arch/x86/numa_boot.c), checked
       against the CPUs and the loader's memory map (boot_map is built again for the PMM). */
    int map_count = memmap_build_from(multiboot_info(), boot_map, MEMMAP_MAX_RANGES);
    numa_discover(boot_map, map_count < 0 ? 0 : map_count);

#ifdef MM_DEBUG
    /* the debug build's checks: on for every heap from here, with the boot option mmdebug */
    mm_debug_set(multiboot_has_option("mmdebug"));
    kprintf("[boot] debug build: checks %s (boot option mmdebug)\n",
            multiboot_has_option("mmdebug") ? "on" : "off");
#endif
    heap_start();

    heap_demo();

    kprintf("\n");
    if (multiboot_has_option("phase1")) {
        kprintf("[boot] phase1: no PMM, no paging (boot option phase1)\n");
    } else if (pmm_start()) {
        paging_start();
        kernel_run_on_kstack();
    }
    kernel_run(NULL);
}

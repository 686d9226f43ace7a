/*
 * shell.c - a small command console on the serial line.
 *
 * Polls COM1 (no IRQs: only IPIs interrupt it), echoes what is typed, and runs one
 * command per line.  It is the interactive face of the memory manager:
 * every command is a thin wrapper over the public API in memory.h and
 * pmm.h, so what you see here is what an embedding kernel gets.  Misuse is
 * left for the memory manager to catch and report: the shell only checks
 * that the words are numbers.  Lines end with CR (a terminal) or LF (a
 * pipe); CR LF counts once.  Numbers are decimal or 0x hex (addresses: hex
 * with or without 0x); anything else, including a value past 32 bits, is
 * refused rather than guessed.
 */
#include "shell.h"

#include "cpus.h"
#include "memmap.h"
#include "memory.h"
#include "mm_debug.h"
#include "numa.h"
#include "pmm.h"
#include "slab.h"
#include "power.h"
#include "serial.h"
#include "smp.h"
#include "terminal.h"
#include "vmalloc.h"
#include "vmm.h"
#include "zstore.h"
#include "zswap.h"
#include "zswap_pages.h"

#define LINE_MAX            128
#define MAX_ARGS            4
#define PROMPT              "mm> "
#define DEFAULT_STRESS_SEED 2463534242u /* Marsaglia's xorshift32 example seed */

struct command {
    const char *name;
    const char *usage;
    const char *help;
    int min_args, max_args; /* not counting the command name */
    void (*run)(int argc, char **argv);
};

/* ------------------------------------------------------------ helpers ---- */

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Parse a whole word as an unsigned 32-bit number: "0x" prefix means hex,
 * otherwise decimal, or hex when `hex_default`.  Returns 0 on an empty word,
 * a stray character or overflow.
 */
static int parse_u32(const char *s, int hex_default, uint32_t *out)
{
    uint32_t base = hex_default ? 16 : 10, v = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return 0;
    for (; *s; s++) {
        int d = hex_digit(*s);
        if (d < 0 || (uint32_t)d >= base)
            return 0;
        if (v > (UINT32_MAX - (uint32_t)d) / base)
            return 0;
        v = v * base + (uint32_t)d;
    }
    *out = v;
    return 1;
}

/* Split line in place on spaces; returns the word count (at most max). */
static int split_words(char *line, char **argv, int max)
{
    int argc = 0;

    while (*line) {
        while (*line == ' ' || *line == '\t')
            *line++ = '\0';
        if (!*line)
            break;
        if (argc == max)
            return max + 1; /* too many: the caller reports it */
        argv[argc++] = line;
        while (*line && *line != ' ' && *line != '\t')
            line++;
    }
    return argc;
}

/* ----------------------------------------------------------- commands ---- */

void meminfo_print(void)
{
    memory_stats_t s;

    get_memory_stats(&s);
    kprintf("  heap_size           %8u bytes\n", s.heap_size);
    kprintf("  heap_used           %8u bytes (payload of live blocks)\n", s.heap_used);
    kprintf("  heap_free           %8u bytes (payload of free blocks)\n", s.heap_free);
    kprintf("  allocation_count    %8u\n", s.allocation_count);
    kprintf("  free_count          %8u\n", s.free_count);
    kprintf("  largest_free_block  %8u bytes\n", s.largest_free_block);
    kprintf("  peak_heap_used      %8u bytes\n", s.peak_heap_used);
    kprintf("  block_count         %8u (%u-byte header each)\n", s.block_count,
            (uint32_t)HEAP_HEADER_SIZE);
    kprintf("  free_block_count    %8u\n", s.free_block_count);
    kprintf("  error_count         %8u (caller bugs detected)\n", s.error_count);
    if (!memmap_pmm_ready())
        return;

    pmm_stats_t p;
    pmm_get_stats(&p);
    kprintf("  pmm total_pages     %8u (%u KB of RAM below 4 GB)\n", p.total_pages,
            p.total_pages * (PAGE_SIZE / 1024));
    kprintf("  pmm free_pages      %8u\n", p.free_pages);
    kprintf("  pmm used_pages      %8u (allocated, not yet freed)\n", p.used_pages);
    kprintf("  pmm reserved_pages  %8u (kernel, heap, loader data, metadata, < 1 MB)\n",
            p.reserved_pages);
    kprintf("  pmm highest_page    0x%08x\n", p.highest_page);
    kprintf("  pmm metadata        %8u bytes at 0x%08x\n", p.metadata_bytes, p.metadata_phys);
    kprintf("  paging_enabled      %8u\n", s.paging_enabled);
    kprintf("  page_tables         %8u\n", s.page_tables);
    kprintf("  heap_virtual_size   %8u bytes mapped at 0x%08x\n", s.heap_virtual_size,
            HEAP_VIRTUAL_START);
    kprintf("  heap_virtual_peak   %8u bytes\n", s.heap_virtual_peak);
    zstore_stats_t z;
    zswap_stats_t w;
    zstore_get_stats(&z);
    zswap_get_stats(&w);
    kprintf("  compressed_pages    %8u (%u KB of data in %u KB of the store)\n", z.pages_stored,
            z.orig_bytes / 1024, z.mem_used / 1024);
    kprintf("  compressible_pages  %8u (%u present, %u compressed, %u untouched)\n", w.area_pages,
            w.present, w.stored, w.zero);
}

static void cmd_help(int argc, char **argv);

static void cmd_meminfo(int argc, char **argv)
{
    meminfo_print();
}

static void cmd_heap(int argc, char **argv)
{
    heap_dump();
}

static void cmd_alloc(int argc, char **argv)
{
    uint32_t size;

    if (!parse_u32(argv[1], 0, &size)) {
        kprintf("alloc: '%s' is not a size (decimal or 0x hex, 32 bits)\n", argv[1]);
        return;
    }
    void *p = kmalloc(size);
    if (p)
        kprintf("kmalloc(%u) = %p\n", size, p);
    else
        kprintf("kmalloc(%u) failed: NULL\n", size);
}

static void cmd_free(int argc, char **argv)
{
    uint32_t addr;
    memory_stats_t before, after;

    if (!parse_u32(argv[1], 1, &addr)) {
        kprintf("free: '%s' is not an address (hex, 32 bits)\n", argv[1]);
        return;
    }
    /* kfree validates the pointer itself; we only say whether it objected. */
    get_memory_stats(&before);
    kfree((void *)(uintptr_t)addr);
    get_memory_stats(&after);
    if (after.error_count != before.error_count)
        kprintf("kfree(0x%08x) refused (see above)\n", addr);
    else
        kprintf("kfree(0x%08x) done\n", addr);
}

static void cmd_slabinfo(int argc, char **argv)
{
    kmem_cache_dump();
}

/* The debug build's reports: a normal kernel says how to get them. */
static int debug_running(const char *cmd)
{
#ifdef MM_DEBUG
    if (!mm_debug_enabled())
        kprintf("%s: the debug checks are off: boot with the option mmdebug\n", cmd);
    return mm_debug_enabled();
#else
    kprintf("%s: not in this kernel: build with DEBUG=1 (make DEBUG=1 run) and boot with "
            "mmdebug\n",
            cmd);
    return 0;
#endif
}

static void cmd_leaks(int argc, char **argv)
{
#ifdef MM_DEBUG
    if (debug_running(argv[0]))
        heap_leaks();
#else
    debug_running(argv[0]);
#endif
}

static void cmd_histogram(int argc, char **argv)
{
#ifdef MM_DEBUG
    if (debug_running(argv[0])) {
        heap_histogram();
        heap_profile();
    }
#else
    debug_running(argv[0]);
#endif
}

static void cmd_trace(int argc, char **argv)
{
#ifdef MM_DEBUG
    if (debug_running(argv[0]))
        heap_trace_dump();
#else
    debug_running(argv[0]);
#endif
}

static void cmd_check(int argc, char **argv)
{
    int broken = heap_check();

    kprintf("heap_check: %d broken invariant%s\n", broken, broken == 1 ? "" : "s");
    if (memmap_pmm_ready()) /* and the layers below it, which own its pages */
        kprintf("pmm_check: %d, vmm_check: %d broken invariants\n", pmm_check(), vmm_check());
}

static void cmd_stress(int argc, char **argv)
{
    uint32_t ops, seed = DEFAULT_STRESS_SEED, cpus = 1, handed = 0;
    struct stress_result r;

    if (!parse_u32(argv[1], 0, &ops) || ops == 0 || ops > STRESS_MAX_OPS) {
        kprintf("stress: '%s' is not an operation count (1..%u)\n", argv[1], STRESS_MAX_OPS);
        return;
    }
    if (argc > 2 && (!parse_u32(argv[2], 0, &seed) || seed == 0)) {
        kprintf("stress: '%s' is not a seed (nonzero, 32 bits)\n", argv[2]);
        return;
    }
    if (argc > 3 && (!parse_u32(argv[3], 0, &cpus) || cpus == 0 || cpus > smp_cpu_count())) {
        kprintf("stress: '%s' is not a CPU count (1..%u online)\n", argv[3], smp_cpu_count());
        return;
    }
    int pass;
    if (cpus == 1) {
        kprintf("stress: %u operations, seed %u\n", ops, seed);
        pass = heap_stress(ops, seed, &r);
    } else {
        kprintf("stress: %u operations on each of %u CPUs at once, seeds %u + CPU * 0x9e3779b9\n",
                ops, cpus, seed);
        pass = heap_stress_smp(cpus, ops, seed, &r, &handed);
    }
    kprintf("stress: %u ops (%u kmalloc, %u kcalloc, %u krealloc, %u kfree, "
            "%u out of memory)\n",
            r.ops, r.mallocs, r.callocs, r.reallocs, r.frees, r.out_of_memory);
    if (cpus > 1)
        kprintf("stress: %u blocks freed by another CPU than the one that filled them\n", handed);
    kprintf("stress: %u bytes verified, %u errors, %d heap_check failures: %s\n", r.bytes_verified,
            r.errors, r.check_failures, pass ? "PASS" : "FAIL");
}

static void cmd_cpus(int argc, char **argv)
{
    unsigned n = smp_cpu_count();

    kprintf("%u CPU%s online\n", n, n == 1 ? "" : "s");
    kprintf("  cpu  apic id  online  cached objects  shootdowns received  deferred (idle: CR3 "
            "reloaded on wake)  fences received\n");
    for (unsigned i = 0; i < n; i++)
        kprintf("  %3u  %7u  %6s  %14u  %19u  %33u  %15u\n", i, smp_cpus[i].apic_id,
                smp_cpus[i].online ? "yes" : "no", (unsigned)kmem_cache_cpu_objects((int)i),
                smp_cpus[i].shootdowns, smp_cpus[i].lazy_flushes, smp_cpus[i].fences);
}

/*
 * numa: what the firmware said (numa_topology(): nodes, ranges, distances)
 * and what the PMM does with it (pmm_get_node_stats: pages, CPUs, local and
 * remote allocations).
 */
static void cmd_numa(int argc, char **argv)
{
    const numa_topology_t *t = numa_topology();
    int nodes = pmm_node_count();

    (void)argc;
    if (!t) {
        kprintf("numa: no topology discovered yet\n");
        return;
    }
    kprintf("%u node%s (%s), distances: %s; the PMM uses %d\n", t->nodes, t->nodes == 1 ? "" : "s",
            t->source, t->distances, nodes);
    kprintf("  node  %-21s %8s %8s %8s %8s  %-8s %8s %8s %8s\n", "ranges", "total", "free", "used",
            "reserved", "cpus", "local", "fallback", "foreign");
    for (int n = 0; n < nodes; n++) {
        pmm_node_stats_t st;
        if (pmm_get_node_stats(n, &st) != 0)
            return;
        char cpus[KERNEL_MAX_CPUS * 3 + 1]; /* ",NN" for each CPU: room for all of them */
        unsigned len = 0;
        for (unsigned c = 0; c < smp_cpu_count() && len + 4 < sizeof(cpus); c++) {
            if (pmm_cpu_node((int)c) == n) {
                cpus[len] = len ? ',' : ' ';
                len++;
                if (c >= 10)
                    cpus[len++] = (char)('0' + c / 10);
                cpus[len++] = (char)('0' + c % 10);
            }
        }
        cpus[len] = '\0';
        const char *who = len ? cpus + 1 : "none";
        int first = 1;
        for (unsigned r = 0; r < t->ranges; r++) {
            if (t->range[r].node != (unsigned)n || !t->range[r].present)
                continue;
            uint32_t lo = (uint32_t)t->range[r].base, hi = (uint32_t)(t->range[r].end - 1);
            if (first)
                kprintf("  %4d  0x%08x-0x%08x %8u %8u %8u %8u  %-8s %8u %8u %8u\n", n, lo, hi,
                        (unsigned)st.total_pages, (unsigned)st.free_pages, (unsigned)st.used_pages,
                        (unsigned)st.reserved_pages, who, (unsigned)st.local_allocs,
                        (unsigned)st.fallback_allocs, (unsigned)st.foreign_allocs);
            else
                kprintf("        0x%08x-0x%08x\n", lo, hi);
            first = 0;
        }
        if (first)
            kprintf("  %4d  %-21s %8u %8u %8u %8u  %-8s %8u %8u %8u\n", n, "no memory",
                    (unsigned)st.total_pages, (unsigned)st.free_pages, (unsigned)st.used_pages,
                    (unsigned)st.reserved_pages, who, (unsigned)st.local_allocs,
                    (unsigned)st.fallback_allocs, (unsigned)st.foreign_allocs);
    }
    kprintf("  distances (from \\ to):");
    for (int n = 0; n < nodes; n++)
        kprintf(" %4d", n);
    kprintf("\n");
    for (int from = 0; from < nodes; from++) {
        pmm_node_stats_t st;
        if (pmm_get_node_stats(from, &st) != 0)
            return;
        kprintf("  %22d:", from);
        for (int to = 0; to < nodes; to++)
            kprintf(" %4u", (unsigned)st.distance[to]);
        kprintf("\n");
    }
    (void)argv;
}

/* The PMM commands need a PMM: not there when booted with phase1. */
static int pmm_running(const char *cmd)
{
    if (!memmap_pmm_ready())
        kprintf("%s: the physical memory manager is not running (boot option phase1?)\n", cmd);
    return memmap_pmm_ready();
}

static void cmd_pmm(int argc, char **argv)
{
    if (!pmm_running(argv[0]))
        return;
    pmm_dump();
    kprintf("memory map given to pmm_init_map:\n");
    memmap_print();
}

static void cmd_palloc(int argc, char **argv)
{
    uint32_t count, align = 0;

    if (!pmm_running(argv[0]))
        return;
    if (!parse_u32(argv[1], 0, &count)) {
        kprintf("palloc: '%s' is not a page count (decimal or 0x hex, 32 bits)\n", argv[1]);
        return;
    }
    if (argc > 2 && !parse_u32(argv[2], 0, &align)) {
        kprintf("palloc: '%s' is not an alignment in bytes (decimal or 0x hex)\n", argv[2]);
        return;
    }
    paddr_t base = pmm_alloc_pages(count, align);
    if (base)
        kprintf("pmm_alloc_pages(%u, 0x%x) = 0x%08x\n", count, align, base);
    else
        kprintf("pmm_alloc_pages(%u, 0x%x) failed: 0\n", count, align);
}

static void cmd_pfree(int argc, char **argv)
{
    uint32_t addr, count = 1;
    memory_stats_t before, after;

    if (!pmm_running(argv[0]))
        return;
    if (!parse_u32(argv[1], 1, &addr)) {
        kprintf("pfree: '%s' is not an address (hex, 32 bits)\n", argv[1]);
        return;
    }
    if (argc > 2 && !parse_u32(argv[2], 0, &count)) {
        kprintf("pfree: '%s' is not a page count (decimal or 0x hex)\n", argv[2]);
        return;
    }
    /* As for kfree: the PMM validates and reports; we only say whether it objected. */
    get_memory_stats(&before);
    pmm_free_pages(addr, count);
    get_memory_stats(&after);
    if (after.error_count != before.error_count)
        kprintf("pmm_free_pages(0x%08x, %u) refused (see above)\n", addr, count);
    else
        kprintf("pmm_free_pages(0x%08x, %u) done\n", addr, count);
}

static void cmd_poweroff(int argc, char **argv)
{
    kprintf("powering off\n");
    poweroff();
}

/* The VMM commands need paging on (not under the boot option phase1). */
static int paging_running(const char *cmd)
{
    vmm_stats_t vs;
    vmm_get_stats(&vs);
    if (!vs.paging_enabled)
        kprintf("%s: paging is off (booted with phase1?)\n", cmd);
    return vs.paging_enabled;
}

/* Run op, then say whether the memory manager objected (it prints why itself). */
static int reported_error(memory_stats_t *before)
{
    memory_stats_t after;
    get_memory_stats(&after);
    return after.error_count != before->error_count;
}

static void cmd_map(int argc, char **argv)
{
    uint32_t virt, phys = 0;
    memory_stats_t before;

    if (!paging_running(argv[0]))
        return;
    if (!parse_u32(argv[1], 1, &virt) || (argc > 2 && !parse_u32(argv[2], 1, &phys))) {
        kprintf("map: addresses are hex, 32 bits\n");
        return;
    }
    int own = argc < 3; /* no PADDR: a fresh page from the PMM */
    if (own && (phys = pmm_alloc_page()) == 0) {
        kprintf("map: no free physical page\n");
        return;
    }
    get_memory_stats(&before);
    if (vmm_map(virt, phys, PAGE_WRITABLE) == 0) {
        kprintf("mapped 0x%08x -> 0x%08x (rw)\n", virt, phys);
        return;
    }
    if (own)
        pmm_free_page(phys);
    kprintf("map: refused%s\n", reported_error(&before) ? " (see above)" : ": out of memory");
}

static void cmd_unmap(int argc, char **argv)
{
    uint32_t virt;
    memory_stats_t before;

    if (!paging_running(argv[0]))
        return;
    if (!parse_u32(argv[1], 1, &virt)) {
        kprintf("unmap: '%s' is not an address (hex, 32 bits)\n", argv[1]);
        return;
    }
    pmm_owner_t owner = pmm_page_owner(vmm_get_physical(virt));
    get_memory_stats(&before);
    vmm_unmap_page(virt);
    if (reported_error(&before))
        kprintf("unmap: refused (see above)\n");
    else if (owner != PMM_OWNER_CALLER && owner != PMM_OWNER_NONE)
        kprintf("unmapped 0x%08x (its page stays with its owner: %s)\n", virt,
                pmm_owner_name(owner));
    else
        kprintf("unmapped 0x%08x (its page went back to the PMM)\n", virt);
}

static void cmd_phys(int argc, char **argv)
{
    uint32_t virt;

    if (!paging_running(argv[0]))
        return;
    if (!parse_u32(argv[1], 1, &virt)) {
        kprintf("phys: '%s' is not an address (hex, 32 bits)\n", argv[1]);
        return;
    }
    uint32_t e = vmm_get_entry(virt & ~(PAGE_SIZE - 1));
    if (!(e & PAGE_PRESENT))
        kprintf("0x%08x: not mapped (%s)\n", virt, vmm_describe(virt));
    else
        kprintf("0x%08x -> 0x%08x  %s%s%s (%s)\n", virt, vmm_get_physical(virt),
                e & PAGE_WRITABLE ? "rw" : "ro", e & PAGE_USER ? " user" : "",
                e & PAGE_CACHE_DISABLE   ? " uncached"
                : e & PAGE_WRITE_THROUGH ? " write-through"
                                         : "",
                vmm_describe(virt));
}

static void cmd_vmm(int argc, char **argv)
{
    if (paging_running(argv[0]))
        vmm_dump();
}

/* vmalloc: the dump; vmalloc SIZE: allocate; vmalloc free ADDR: vfree (misuse reported). */
static void cmd_vmalloc(int argc, char **argv)
{
    uint32_t n;
    memory_stats_t before;

    if (!paging_running(argv[0]))
        return;
    if (argc == 1) {
        vmalloc_dump();
        kprintf("vmalloc_check: %d broken invariants\n", vmalloc_check());
    } else if (argc == 3 && str_eq(argv[1], "free") && parse_u32(argv[2], 1, &n)) {
        get_memory_stats(&before);
        vfree((void *)(uintptr_t)n);
        kprintf(reported_error(&before) ? "vfree(0x%08x) refused (see above)\n"
                                        : "vfree(0x%08x) done\n",
                n);
    } else if (argc == 2 && parse_u32(argv[1], 0, &n)) {
        char *p = vmalloc(n);
        if (!p) {
            kprintf("vmalloc(%u) failed: NULL\n", n);
            return;
        }
        uint32_t pages = (n + PAGE_SIZE - 1) / PAGE_SIZE;
        kprintf("vmalloc(%u) = %p: %u pages, guard pages 0x%08x and 0x%08x (unmapped)\n", n, p,
                pages, (uint32_t)p - PAGE_SIZE, (uint32_t)p + pages * PAGE_SIZE);
    } else {
        kprintf("usage: vmalloc [SIZE | free ADDR] (SIZE decimal or 0x hex, ADDR hex)\n");
    }
}

static void cmd_zram(int argc, char **argv)
{
    zswap_dump();
}

/* The checkers of every layer the demo uses: their broken invariants in one line (0: healthy). */
static int zswap_demo_checks(const char *when)
{
    int z = zswap_check(), s = zstore_check(), v = vmalloc_check(), p = pmm_check();
    kprintf("zswapdemo: checks %s: zswap %d, zstore %d, vmalloc %d, pmm %d\n", when, z, s, v, p);
    return z + s + v + p;
}

/* One CPU's share of the demo's read-back: every cpus-th page of the shuffled order. */
struct zswap_demo_reader {
    uint8_t *a;
    uint32_t pages, span, seed, cpu, cpus;
    int random;
    uint32_t done, bad;
    uint8_t want[ZPAGE_SIZE]; /* zpage_check's scratch */
};

static struct zswap_demo_reader zswap_readers[KERNEL_MAX_CPUS];

/* Every page once, in the order of a full-period LCG over span (a power of two >= pages). */
static void zswap_demo_read(void *arg)
{
    struct zswap_demo_reader *r = arg;
    uint32_t x = r->seed & 0xFFFF, n = 0;
    for (uint32_t k = 0; k < r->span; k++) {
        x = (x * 1103515245u + 12345u) & (r->span - 1);
        if (x >= r->pages || n++ % r->cpus != r->cpu)
            continue;
        int at = zpage_check(r->a + x * PAGE_SIZE, x, r->seed, r->random, r->want);
        if (at >= 0 && r->bad++ < 3)
            kprintf("zswapdemo: MISMATCH cpu %u page %u byte %d\n", r->cpu, x, at);
        r->done++;
    }
}

/*
 * zswapdemo [MB] [random]: a compressible area of MB megabytes (default: twice
 * the RAM) written page by page (realistic pages, or noise), then read back in
 * a shuffled order on every CPU at once and compared byte for byte, then
 * freed.  Noise larger than RAM cannot fit: its fault is refused with one line
 * and the fault diagnosis.  With "reclaim", every page is compressed after the
 * writes (zswap_reclaim), so every page is read back through a fault even when
 * the area fits in RAM: at -m 272M its frames above 256 MB are reached through
 * zswap's window both ways (zram's last line counts them).
 */
static void cmd_zswapdemo(int argc, char **argv)
{
    uint32_t mb = 0, seed = 0x2545F491u;
    int random = 0, reclaim = 0;
    if (!paging_running(argv[0]))
        return;
    for (int i = 1; i < argc; i++) {
        if (str_eq(argv[i], "random"))
            random = 1;
        else if (str_eq(argv[i], "reclaim"))
            reclaim = 1;
        else if (!parse_u32(argv[i], 0, &mb) || mb == 0 || mb > 200) {
            kprintf("usage: zswapdemo [MB (1-200)] [random] [reclaim]\n");
            return;
        }
    }
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    if (!mb)
        mb = (ps.total_pages * PAGE_SIZE / (1024 * 1024) + 1) * 2;
    uint32_t pages = mb * (1024 * 1024 / PAGE_SIZE), cpus = smp_cpu_count();
    if (cpus < 1 || cpus > KERNEL_MAX_CPUS)
        cpus = 1;
    kprintf("zswapdemo: %u MB compressible (%u pages) of %s data; RAM %u KB, %u KB free; "
            "%u CPUs\n",
            mb, pages, random ? "random (incompressible)" : "realistic (text, structures, zero)",
            ps.total_pages * 4, ps.free_pages * 4, cpus);
    zstore_set_limit(ps.total_pages * PAGE_SIZE / 4 * 3); /* the store may take 3/4 of RAM */
    uint8_t *a = vmalloc_compressible(pages * PAGE_SIZE);
    if (!a) {
        kprintf("zswapdemo: vmalloc_compressible(%u MB) failed\n", mb);
        return;
    }
    for (uint32_t i = 0; i < pages; i++) {
        zpage_fill(a + i * PAGE_SIZE, i, seed, random);
        if ((i + 1) % (pages / 4) == 0)
            kprintf("zswapdemo: written %u of %u pages\n", i + 1, pages);
    }
    if (reclaim) { /* every page compressed, even if the area fits in RAM (CLOCK: 2 rounds) */
        zswap_stats_t zs;
        uint32_t n = 0;
        for (int round = 0; round < 4; round++) {
            n += zswap_reclaim(pages);
            zswap_get_stats(&zs);
            if (!zs.present)
                break;
        }
        kprintf("zswapdemo: reclaim asked for: %u pages freed, %u still present\n", n, zs.present);
    }
    uint32_t span = 1, bad = 0, done = 0;
    while (span < pages)
        span <<= 1;
    for (uint32_t c = 0; c < cpus; c++) {
        struct zswap_demo_reader *r = &zswap_readers[c];
        r->a = a, r->pages = pages, r->span = span, r->seed = seed, r->cpu = c, r->cpus = cpus;
        r->random = random, r->done = 0, r->bad = 0;
    }
    for (uint32_t c = 1; c < cpus; c++)
        smp_run(c, zswap_demo_read, &zswap_readers[c]);
    zswap_demo_read(&zswap_readers[0]);
    for (uint32_t c = 1; c < cpus; c++)
        smp_wait(c);
    for (uint32_t c = 0; c < cpus; c++)
        done += zswap_readers[c].done, bad += zswap_readers[c].bad;
    kprintf("zswapdemo: read back %u pages in random order on %u CPUs: %u mismatched\n", done, cpus,
            bad);
    zswap_dump();
    int broken = zswap_demo_checks("after");
    vfree(a);
    broken += zswap_demo_checks("after vfree");
    zstore_set_limit(0);
    kprintf("zswapdemo: %s\n", !bad && !broken && done == pages ? "PASS" : "FAIL");
}

static const struct command commands[] = {
    {"help", "", "list the commands", 0, 0, cmd_help},
    {"meminfo", "", "every field of get_memory_stats() (and the PMM's totals)", 0, 0, cmd_meminfo},
    {"heap", "", "heap_dump(): every block of the heap", 0, 0, cmd_heap},
    {"alloc", "SIZE", "kmalloc(SIZE) and print the address", 1, 1, cmd_alloc},
    {"free", "ADDR", "kfree(ADDR), ADDR in hex; misuse is reported", 1, 1, cmd_free},
    {"check", "", "heap_check(), pmm_check(), vmm_check(): broken invariants", 0, 0, cmd_check},
    {"slabinfo", "", "kmem_cache_dump(): every object cache", 0, 0, cmd_slabinfo},
    {"leaks", "", "live allocations by call site (DEBUG=1, mmdebug)", 0, 0, cmd_leaks},
    {"histogram", "", "allocation sizes and profile (DEBUG=1, mmdebug)", 0, 0, cmd_histogram},
    {"trace", "", "the last allocations and frees (DEBUG=1, mmdebug)", 0, 0, cmd_trace},
    {"stress", "N [SEED] [CPUS]",
     "N random heap operations (on each of CPUS CPUs), every byte verified", 1, 3, cmd_stress},
    {"cpus", "", "every CPU: index, APIC id, online, TLB shootdowns received, deferred, fences", 0,
     0, cmd_cpus},
    {"numa", "", "nodes: ranges, pages, CPUs, local/remote allocations, distances", 0, 0, cmd_numa},
    {"pmm", "", "pmm_dump() and the memory map given to the PMM", 0, 0, cmd_pmm},
    {"palloc", "N [ALIGN]", "pmm_alloc_pages(N, ALIGN bytes): N contiguous pages", 1, 2,
     cmd_palloc},
    {"pfree", "ADDR [N]", "pmm_free_pages(ADDR, N): a caller's pages; misuse is reported", 1, 2,
     cmd_pfree},
    {"map", "VADDR [PADDR]", "vmm_map: VADDR -> PADDR (or a fresh page), hex", 1, 2, cmd_map},
    {"unmap", "VADDR", "vmm_unmap_page(VADDR): a caller's page goes back to the PMM", 1, 1,
     cmd_unmap},
    {"phys", "VADDR", "vmm_get_physical(VADDR), the flags, and what the address is", 1, 1,
     cmd_phys},
    {"vmm", "", "vmm_dump(): every mapped range", 0, 0, cmd_vmm},
    {"vmalloc", "[SIZE]", "vmalloc_dump(), or vmalloc(SIZE); 'vmalloc free ADDR' vfrees", 0, 2,
     cmd_vmalloc},
    {"zram", "", "compressed memory: the store (ratio, pool), reclaim and fault counts", 0, 0,
     cmd_zram},
    {"zswapdemo", "[MB] [random] [reclaim]",
     "MB (default 2x RAM) of compressible memory written, read back shuffled, verified", 0, 3,
     cmd_zswapdemo},
    {"poweroff", "", "switch the machine off", 0, 0, cmd_poweroff},
    {NULL, NULL, NULL, 0, 0, NULL},
};

static void cmd_help(int argc, char **argv)
{
    for (const struct command *c = commands; c->name; c++)
        kprintf("  %-8s %-9s %s\n", c->name, c->usage, c->help);
}

static void run_line(char *line)
{
    char *argv[MAX_ARGS];
    int argc = split_words(line, argv, MAX_ARGS);

    if (argc == 0)
        return;
    if (argc > MAX_ARGS) {
        kprintf("too many words (at most %d); try 'help'\n", MAX_ARGS);
        return;
    }
    for (const struct command *c = commands; c->name; c++) {
        if (!str_eq(c->name, argv[0]))
            continue;
        if (argc - 1 < c->min_args || argc - 1 > c->max_args)
            kprintf("usage: %s%s%s\n", c->name, c->usage[0] ? " " : "", c->usage);
        else
            c->run(argc, argv);
        return;
    }
    kprintf("%s: unknown command; try 'help'\n", argv[0]);
}

/* --------------------------------------------------------- line input ---- */

/*
 * Read one line with echo.  Backspace/DEL erase, Ctrl-C abandons the line,
 * ANSI escape sequences (arrow keys: ESC [ A) are swallowed, other control
 * characters ignored.  Returns with line NUL-terminated.
 */
static void read_line(char *line, size_t max)
{
    static int last_was_cr;
    size_t len = 0;
    enum { NORMAL, ESCAPE, CSI } state = NORMAL;

    for (;;) {
        char c = (char)serial_getc();

        if (state == ESCAPE) {
            state = c == '[' ? CSI : NORMAL;
            continue;
        }
        if (state == CSI) {
            if (c >= 0x40 && c <= 0x7E) /* final byte of the sequence */
                state = NORMAL;
            continue;
        }
        if (c == '\n' && last_was_cr) { /* the LF of a CR LF pair */
            last_was_cr = 0;
            continue;
        }
        last_was_cr = c == '\r';

        switch (c) {
        case '\r':
        case '\n':
            terminal_putchar('\n');
            line[len] = '\0';
            return;
        case '\b':
        case 0x7F:
            if (len > 0) {
                len--;
                terminal_write("\b \b", 3);
            }
            break;
        case 0x03: /* Ctrl-C */
            terminal_write("^C\n", 3);
            line[0] = '\0';
            return;
        case 0x1B:
            state = ESCAPE;
            break;
        default:
            if (c >= ' ' && c < 0x7F && len < max - 1) {
                line[len++] = c;
                terminal_putchar(c);
            }
            break;
        }
    }
}

void shell_run(void)
{
    static char line[LINE_MAX];

    kprintf("\nmm shell: type 'help' for the commands.\n");
    for (;;) {
        kprintf(PROMPT);
        read_line(line, sizeof(line));
        run_line(line);
    }
}

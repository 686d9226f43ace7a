/*
 * vmalloc.c - page-granular allocations between guard pages, and kernel
 * stacks on top of them.
 *
 * Theory of operation
 * -------------------
 * Each allocation takes a span of the vmalloc range (vmm.h draws the address
 * space) of its own: one guard page, its pages, one guard page.
 *
 *   span_lo   base                              base + pages*4K     span_hi
 *   | guard   | page | page | ...        | page | guard   |
 *     unmapped  mapped (PMM pages, rw)            unmapped
 *
 * Spans never share a guard page, so every guard page belongs to exactly one
 * allocation and a fault there names it.  The pages come from the PMM one at
 * a time, as vmalloc's (PMM_OWNER_VMALLOC, a kernel stack's PMM_OWNER_KSTACK:
 * nobody else may free them), and are mapped through kmap.c (kmap_alloc_run
 * -> glue_kmap: our VMM refuses the range to vmm_map); vfree unmaps them
 * (kmap_unmap_run: one TLB shootdown), which gives them back to the PMM.
 * Under memory pressure the PMM runs its reclaim hooks (the heap's empty
 * slabs and free tail) before it says no.
 *
 * The records live in a fixed, address-ordered table (live[]): vmalloc
 * never calls kmalloc, so it works whatever state the heap is in, and a
 * kernel stack survives memory_init().  Free space is found next-fit from a
 * cursor just past the last allocation, so a freed span is not handed out
 * again soon: a stale pointer or a second vfree finds a hole (and freed[], a
 * ring of the last frees, names what used to be there) rather than somebody
 * else's new allocation.
 *
 * A kernel stack is a vmalloc allocation marked as one: kstack_alloc returns
 * its top; an overflow runs into the guard page below it.
 *
 * Errors: caller bugs (bad vfree/kstack_free pointers, and an allocation
 * whose pages were unmapped or handed over behind vmalloc's back) are one
 * mm_report line each, in the name of the function called, and change
 * nothing.  Running out (range, table, physical pages) prints one line,
 * unwinds what was done and returns NULL.
 *
 * Owns live[], freed[] and the range's cursor.  Calls kmap.c (the pages),
 * describe.c (its describer registered), the PMM (pmm.c's owners, pmm_node.c,
 * pmm_stats.c's page states), lock.c, log.c, string.c.
 *
 * Locking: mm_lock (mm/lock.c) around each public call; kmap.c takes
 * vmm_lock inside it, the PMM pmm_lock.
 */
#include "kmap.h"
#include "vmalloc.h"

#include "glue.h"
#include "lock.h"
#include "log.h"
#include "memory.h"
#include "pmm.h"
#include "vmm.h"
#include "vmm_swap.h"

#define RANGE_LIMIT  (VMALLOC_END + 1u) /* first address past the range */
#define RANGE_BYTES  (RANGE_LIMIT - VMALLOC_START)
#define FREED_RING   16
#define STRING(x)    #x
#define STRINGIFY(x) STRING(x)

_Static_assert(VMALLOC_START % PAGE_SIZE == 0 && RANGE_LIMIT % PAGE_SIZE == 0,
               "vmalloc range is whole pages");

struct area {
    vaddr_t base;     /* first mapped page: what vmalloc returned */
    uint32_t pages;   /* mapped pages, guards not counted (0: unused slot) */
    uint32_t size;    /* bytes asked for */
    const char *file; /* the caller, with MM_DEBUG or vmalloc_at (else NULL) */
    int line;
    int stack;    /* a kernel stack (kstack_alloc) */
    int compress; /* a compressible area (vmalloc_compressible_area): its pages are zswap's;
                     2: mm/'s own (vmalloc_pin_area), never a caller's to vfree */
};

static struct {
    struct area live[VMALLOC_MAX_AREAS]; /* [0, count), ordered by base */
    uint32_t count;
    struct area freed[FREED_RING]; /* the last frees, for double-free reports */
    uint32_t freed_next;
    vaddr_t cursor; /* next fit starts here */
    uint32_t pages, bytes_asked, stacks;
    uint32_t allocs, frees, failures;
    int described;                      /* registration with vmm_describe tried */
    uint32_t compress_pages;            /* pages of compressible areas (not in pages) */
    void (*release)(vaddr_t, uint32_t); /* frees a compressible area's pages (zswap) */
} vm;

static vaddr_t area_end(const struct area *a)
{
    return a->base + a->pages * PAGE_SIZE;
}

static vaddr_t span_lo(const struct area *a)
{
    return a->base - PAGE_SIZE;
}

static vaddr_t span_hi(const struct area *a)
{
    return area_end(a) + PAGE_SIZE;
}

static const char *kind(const struct area *a)
{
    return a->stack ? "kernel stack" : a->compress ? "compressible area" : "vmalloc allocation";
}

/* The live allocation whose span (guard pages included) holds addr, or NULL. */
static struct area *span_of(vaddr_t addr)
{
    for (uint32_t i = 0; i < vm.count; i++) {
        if (addr >= span_lo(&vm.live[i]) && addr < span_hi(&vm.live[i]))
            return &vm.live[i];
    }
    return NULL;
}

/* The most recent free of an allocation whose pages held addr, or NULL. */
static const struct area *freed_at(vaddr_t addr)
{
    for (uint32_t k = 1; k <= FREED_RING; k++) {
        const struct area *a = &vm.freed[(vm.freed_next - k) % FREED_RING];
        if (a->pages && addr >= a->base && addr < area_end(a))
            return a;
    }
    return NULL;
}

/* "vmalloc allocation 0xe0001000 (8192 bytes, allocated at f.c:42)" */
static void name_of(const struct area *a, char *buf, size_t len)
{
    if (a->file)
        mm_snprintf(buf, len, "%s 0x%08lx (%u bytes, allocated at %s:%d)", kind(a),
                    (unsigned long)a->base, (unsigned)a->size, a->file, a->line);
    else
        mm_snprintf(buf, len, "%s 0x%08lx (%u bytes)", kind(a), (unsigned long)a->base,
                    (unsigned)a->size);
}

/*
 * The lowest address of a hole of `span` bytes at or after `from`, or 0.
 * Holes are the gaps between the spans of live[], which is in address order.
 */
static vaddr_t hole_from(vaddr_t from, uint32_t span)
{
    vaddr_t prev = VMALLOC_START;
    for (uint32_t i = 0; i <= vm.count; i++) {
        vaddr_t next = i < vm.count ? span_lo(&vm.live[i]) : RANGE_LIMIT;
        vaddr_t lo = prev > from ? prev : from;
        if (lo < next && next - lo >= span)
            return lo;
        if (i < vm.count)
            prev = span_hi(&vm.live[i]);
    }
    return 0;
}

/* Largest hole in bytes (a span: guards included). */
static uint32_t largest_hole(void)
{
    uint32_t best = 0;
    vaddr_t prev = VMALLOC_START;
    for (uint32_t i = 0; i <= vm.count; i++) {
        vaddr_t next = i < vm.count ? span_lo(&vm.live[i]) : RANGE_LIMIT;
        if (next - prev > best)
            best = next - prev;
        if (i < vm.count)
            prev = span_hi(&vm.live[i]);
    }
    return best;
}

/* Record a new allocation in address order; forget frees its span reuses. */
static void record(const struct area *a)
{
    uint32_t i = vm.count;
    while (i > 0 && vm.live[i - 1].base > a->base) {
        vm.live[i] = vm.live[i - 1];
        i--;
    }
    vm.live[i] = *a;
    vm.count++;
    for (uint32_t k = 0; k < FREED_RING; k++) {
        struct area *f = &vm.freed[k];
        if (f->pages && span_lo(f) < span_hi(a) && span_lo(a) < span_hi(f))
            f->pages = 0;
    }
    if (a->compress)
        vm.compress_pages += a->pages;
    else
        vm.pages += a->pages;
    vm.bytes_asked += a->size;
    vm.stacks += a->stack;
    vm.allocs++;
}

/* Unmap pages of base and give them back to the PMM as owner's (fn names the reports). */
static void unmap_pages(const char *fn, vaddr_t base, uint32_t pages, pmm_owner_t owner)
{
    kmap_unmap_run(fn, base, pages, owner); /* one TLB shootdown for the whole area */
}

/* A failed call; oom: for want of memory (room, table, pages), reported only if that is on. */
static vaddr_t fail(const char *fn, size_t size, const char *why, int oom)
{
    if (oom) {
        mm_oom_failed();
        mm_oom_printf("%s: %lu bytes: %s\n", fn, (unsigned long)size, why);
    } else {
        mm_printf("%s: %lu bytes: %s\n", fn, (unsigned long)size, why);
    }
    vm.failures++;
    return 0;
}

/* vmm_describe's question for the vmalloc range: a guard page first, it is what a fault there
 * means. */
static const char *describe_for_vmm(vaddr_t addr, char *buf, size_t len)
{
    size_t n = vmalloc_is_guard(addr) ? mm_snprintf(buf, len, "guard-page hit: ") : 0;
    return vmalloc_describe(addr, buf + n, len - n) ? buf : NULL;
}

/*
 * vmalloc's range is known to vmm_describe from the first allocation on.
 * Tried once: with every slot taken (reported then), not again on each call.
 */
static void register_describer(void)
{
    if (!vm.described) {
        vm.described = 1;
        vmm_register_describer(VMALLOC_START, VMALLOC_END, "vmalloc range", describe_for_vmm);
    }
}

/* Find a span, map fresh pages in it, record it; its base or 0.  The lock is held. */
static vaddr_t area_alloc(const char *fn, size_t size, const char *file, int line, int stack,
                          int node, int compress)
{
    if (!kmap_ready())
        return fail(fn, size, "paging is off (vmm_init, or glue_kmap_ready, first)", 0);
    if (size > RANGE_BYTES - 2 * PAGE_SIZE) /* also keeps pages * PAGE_SIZE in 32 bits */
        return fail(fn, size, "larger than the whole vmalloc range", 1);
    if (vm.count == VMALLOC_MAX_AREAS)
        return fail(fn, size, "table full (" STRINGIFY(VMALLOC_MAX_AREAS) " live allocations)", 1);
    uint32_t pages = (uint32_t)((size + PAGE_SIZE - 1) / PAGE_SIZE);
    uint32_t span = (pages + 2) * PAGE_SIZE;
    vaddr_t lo = hole_from(vm.cursor, span);
    if (!lo)
        lo = hole_from(VMALLOC_START, span); /* wrap around */
    if (!lo)
        return fail(fn, size, "out of virtual space in the vmalloc range", 1);

    register_describer();
    struct area a = {lo + PAGE_SIZE, pages, (uint32_t)size, file, line, stack, compress};
    pmm_owner_t owner = stack ? PMM_OWNER_KSTACK : PMM_OWNER_VMALLOC;
    /* one run: the glue may map it at once (a compressible area: zswap maps its pages) */
    uint32_t got = compress ? pages : kmap_alloc_run_node(a.base, pages, owner, node);
    if (got < pages) {
        unmap_pages(fn, a.base, got, owner);
        if (node != PMM_NODE_ANY && node != VMALLOC_INTERLEAVE && (node & PMM_NODE_STRICT))
            return fail(fn, size, "no free page left on the node (strict; nothing kept)", 0);
        return fail(fn, size, "out of physical memory (nothing kept)", 1);
    }
    record(&a);
    vm.cursor = span_hi(&a) < RANGE_LIMIT ? span_hi(&a) : VMALLOC_START;
    return a.base;
}

void *vmalloc_at(size_t size, const char *file, int line)
{
    if (size == 0)
        return NULL; /* as kmalloc(0) */
    glue_irqflags_t f = mm_lock();
    vaddr_t base = area_alloc("vmalloc", size, file, line, 0, PMM_NODE_ANY, 0);
    mm_unlock(f);
    pmm_reclaim_deferred(); /* owed under pressure (pmm.h) */
    return base ? glue_virt_to_ptr(base) : NULL;
}

void *vmalloc_node_at(size_t size, int node, const char *file, int line)
{
    int nodes = pmm_node_count();
    if (node != PMM_NODE_ANY && node != VMALLOC_INTERLEAVE &&
        (node < 0 || ((unsigned)node & ~(unsigned)PMM_NODE_STRICT) >= (unsigned)nodes)) {
        mm_report("vmalloc_node: %lu bytes on node %d: no such node (%d nodes)",
                  (unsigned long)size, node, nodes);
        return NULL;
    }
    if (size == 0)
        return NULL;
    glue_irqflags_t f = mm_lock();
    vaddr_t base = area_alloc("vmalloc_node", size, file, line, 0, node, 0);
    mm_unlock(f);
    pmm_reclaim_deferred(); /* owed under pressure (pmm.h) */
    return base ? glue_virt_to_ptr(base) : NULL;
}

vaddr_t vmalloc_compressible_area(size_t size, const char *file, int line,
                                  void (*release)(vaddr_t base, uint32_t pages))
{
    if (size == 0 || !release)
        return 0;
    glue_irqflags_t f = mm_lock();
    vm.release = release;
    vaddr_t base = area_alloc("vmalloc_compressible", size, file, line, 0, PMM_NODE_ANY, 1);
    mm_unlock(f);
    return base;
}

int vmalloc_pin_area(vaddr_t base)
{
    glue_irqflags_t f = mm_lock();
    struct area *a = span_of(base);
    int ok = a && a->base == base && a->compress;
    if (ok)
        a->compress = 2;
    mm_unlock(f);
    return ok ? 0 : -1;
}

void *(vmalloc_node)(size_t size, int node)
{
    return vmalloc_node_at(size, node, NULL, 0);
}

/* The plain function exists in MM_DEBUG builds too, for code built without it. */
void *(vmalloc)(size_t size)
{
    return vmalloc_at(size, NULL, 0);
}

/*
 * The allocation fn may free at addr, or NULL after reporting why not.
 * want_stack: kstack_free (addr is a top) rather than vfree (addr is a base).
 */
static struct area *checked(const char *fn, vaddr_t addr, int want_stack)
{
    unsigned long at = addr;
    char name[128];
    if (addr < VMALLOC_START || addr > VMALLOC_END) {
        mm_report("%s: 0x%08lx: not a vmalloc pointer (outside 0x%08lx-0x%08lx)", fn, at,
                  (unsigned long)VMALLOC_START, (unsigned long)VMALLOC_END);
        return NULL;
    }
    /* a stack top is one past its last page: look just below it */
    vaddr_t probe = want_stack ? addr - 1 : addr;
    struct area *a = span_of(probe);
    vaddr_t expect = a ? (want_stack ? area_end(a) : a->base) : 0;
    if (a && addr == expect && a->stack == want_stack && a->compress == 2) {
        mm_report("%s: 0x%08lx: mm/'s own span (zswap's window), not a caller's: not freed", fn,
                  at);
        return NULL;
    }
    if (a && addr == expect && a->stack == want_stack)
        return a;
    if (a) {
        name_of(a, name, sizeof(name));
        if (addr == expect)
            mm_report("%s: 0x%08lx: %s: free it with %s", fn, at, name,
                      a->stack ? "kstack_free" : "vfree");
        else if (want_stack)
            mm_report("%s: 0x%08lx: not the top of %s (its top is 0x%08lx)", fn, at, name,
                      (unsigned long)area_end(a));
        else if (addr < a->base || addr >= area_end(a))
            mm_report("%s: 0x%08lx: in the guard page %s %s", fn, at,
                      addr < a->base ? "below" : "above", name);
        else
            mm_report("%s: 0x%08lx: interior pointer, %lu bytes into %s", fn, at,
                      (unsigned long)(addr - a->base), name);
        return NULL;
    }
    const struct area *gone = freed_at(probe);
    if (addr % PAGE_SIZE) {
        mm_report("%s: 0x%08lx: not page-aligned (vmalloc hands out whole pages)", fn, at);
    } else if (gone && (want_stack ? area_end(gone) : gone->base) == addr) {
        name_of(gone, name, sizeof(name));
        mm_report("%s: 0x%08lx: double free of %s", fn, at, name);
    } else {
        mm_report("%s: 0x%08lx: not a live vmalloc allocation (never allocated, or freed long ago)",
                  fn, at);
    }
    return NULL;
}

/*
 * Are a's pages still what vmalloc mapped: each mapped, to a page the PMM
 * holds as a's owner's?  If one is not (unmapped or handed over behind
 * vmalloc's back), report it in fn's name and return 0: the caller frees
 * nothing (the unmaps would report it again, naming the VMM or the PMM).
 */
static int pages_intact(const char *fn, const struct area *a)
{
    if (a->compress)
        return 1; /* zswap's pages: zswap_check checks them */
    pmm_owner_t want = a->stack ? PMM_OWNER_KSTACK : PMM_OWNER_VMALLOC;
    for (uint32_t i = 0; i < a->pages; i++) {
        vaddr_t v = a->base + i * PAGE_SIZE;
        paddr_t e = kmap_phys(v);
        pmm_owner_t has = e ? pmm_page_owner(e) : PMM_OWNER_NONE;
        if (has == want)
            continue;
        char name[128];
        name_of(a, name, sizeof(name));
        if (!e)
            mm_report("%s: 0x%08lx: page %u of %s is not mapped: not freed", fn, (unsigned long)v,
                      (unsigned)i, name);
        else
            mm_report("%s: 0x%08lx: page %u of %s maps 0x%08lx, a page of owner %s in the PMM: "
                      "not freed",
                      fn, (unsigned long)v, (unsigned)i, name, (unsigned long)e,
                      pmm_owner_name(has));
        return 0;
    }
    return 1;
}

static void area_free(const char *fn, struct area *a)
{
    if (a->compress) {
        vm.release(a->base, a->pages); /* frames, stored copies, entries: zswap's */
        vm.compress_pages -= a->pages;
    } else {
        unmap_pages(fn, a->base, a->pages, a->stack ? PMM_OWNER_KSTACK : PMM_OWNER_VMALLOC);
        vm.pages -= a->pages;
    }
    vm.bytes_asked -= a->size;
    vm.stacks -= a->stack;
    vm.frees++;
    vm.freed[vm.freed_next++ % FREED_RING] = *a;
    uint32_t i = (uint32_t)(a - vm.live);
    for (; i + 1 < vm.count; i++)
        vm.live[i] = vm.live[i + 1];
    vm.count--;
}

/* Kernel virtual address of a pointer vmalloc returned (the host maps it elsewhere). */
static vaddr_t virt_of(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    uintptr_t base = (uintptr_t)glue_virt_to_ptr(VMALLOC_START);
    if (p >= base && p - base < RANGE_BYTES)
        return (vaddr_t)(VMALLOC_START + (p - base));
    return p > UINT32_MAX ? 0 : (vaddr_t)p;
}

void vfree(void *ptr)
{
    if (!ptr)
        return;
    glue_irqflags_t f = mm_lock();
    struct area *a = checked("vfree", virt_of(ptr), 0);
    if (a && pages_intact("vfree", a))
        area_free(__func__, a);
    mm_unlock(f);
}

vaddr_t kstack_alloc(size_t size)
{
    if (size == 0)
        return 0;
    glue_irqflags_t f = mm_lock();
    vaddr_t base = area_alloc("kstack_alloc", size, NULL, 0, 1, PMM_NODE_ANY, 0);
    vaddr_t top = base ? area_end(span_of(base)) : 0;
    mm_unlock(f);
    pmm_reclaim_deferred(); /* owed under pressure (pmm.h) */
    return top;
}

void kstack_free(vaddr_t top)
{
    glue_irqflags_t f = mm_lock();
    struct area *a = checked("kstack_free", top, 1);
    if (a && pages_intact("kstack_free", a))
        area_free(__func__, a);
    mm_unlock(f);
}

int vmalloc_is_guard(vaddr_t addr)
{
    glue_irqflags_t f = mm_lock();
    const struct area *a = span_of(addr);
    int guard = a && (addr < a->base || addr >= area_end(a));
    mm_unlock(f);
    return guard;
}

const char *vmalloc_describe(vaddr_t addr, char *buf, size_t len)
{
    if (addr < VMALLOC_START || addr > VMALLOC_END || !buf || !len)
        return NULL;
    glue_irqflags_t f = mm_lock();
    char name[128];
    const struct area *a = span_of(addr);
    const struct area *gone = a ? NULL : freed_at(addr);
    if (a || gone)
        name_of(a ? a : gone, name, sizeof(name));
    if (a && addr < a->base && a->stack)
        mm_snprintf(buf, len, "guard page below %s: a stack overflow", name);
    else if (a && addr < a->base)
        mm_snprintf(buf, len, "guard page below %s", name);
    else if (a && addr >= area_end(a))
        mm_snprintf(buf, len, "guard page above %s", name);
    else if (a && addr - a->base >= a->size)
        mm_snprintf(buf, len, "%lu bytes into %s, past the size asked for",
                    (unsigned long)(addr - a->base), name);
    else if (a)
        mm_snprintf(buf, len, "%lu bytes into %s", (unsigned long)(addr - a->base), name);
    else if (gone)
        mm_snprintf(buf, len, "freed %s (a use after free?)", name);
    else
        mm_snprintf(buf, len, "vmalloc range, no allocation here");
    mm_unlock(f);
    return buf;
}

void vmalloc_get_stats(vmalloc_stats_t *s)
{
    if (!s) {
        mm_report("vmalloc_get_stats: NULL stats pointer");
        return;
    }
    glue_irqflags_t f = mm_lock();
    uint32_t spans = 0;
    for (uint32_t i = 0; i < vm.count; i++)
        spans += span_hi(&vm.live[i]) - span_lo(&vm.live[i]);
    uint32_t hole = largest_hole();
    *s = (vmalloc_stats_t){
        .live = vm.count,
        .stacks = vm.stacks,
        .pages = vm.pages,
        .guard_pages = 2 * vm.count,
        .bytes_asked = vm.bytes_asked,
        .free_bytes = RANGE_BYTES - spans,
        .largest_hole = hole > 2 * PAGE_SIZE ? hole - 2 * PAGE_SIZE : 0,
        .allocs = vm.allocs,
        .frees = vm.frees,
        .failures = vm.failures,
    };
    mm_unlock(f);
}

#define check_failed(v, what) mm_check_failed_at("vmalloc_check", v, what)

int vmalloc_check(void)
{
    glue_irqflags_t f = mm_lock();
    int errors = 0;
    uint32_t pages = 0, bytes = 0, stacks = 0;
    vaddr_t prev = VMALLOC_START;
    if (vm.count > VMALLOC_MAX_AREAS) {
        mm_unlock(f);
        return check_failed(0, "record count beyond the table");
    }
    for (uint32_t i = 0; i < vm.count; i++) {
        const struct area *a = &vm.live[i];
        if (!a->pages || a->base % PAGE_SIZE || a->base < VMALLOC_START + PAGE_SIZE ||
            a->pages > RANGE_BYTES / PAGE_SIZE || span_hi(a) > RANGE_LIMIT ||
            span_hi(a) <= a->base) {
            errors += check_failed(a->base, "record outside the range, unaligned or empty");
            continue;
        }
        if (span_lo(a) < prev)
            errors += check_failed(a->base, "overlaps the allocation before it (or out of order)");
        prev = span_hi(a);
        if (a->size > a->pages * PAGE_SIZE || a->size <= (a->pages - 1) * PAGE_SIZE)
            errors += check_failed(a->base, "size asked for does not round up to its pages");
        for (uint32_t k = 0; !a->compress && k < a->pages; k++) {
            paddr_t e = kmap_phys(a->base + k * PAGE_SIZE);
            if (!e)
                errors += check_failed(a->base + k * PAGE_SIZE, "page not mapped");
            else if (pmm_page_state(e) != 1)
                errors += check_failed(a->base + k * PAGE_SIZE, "page not allocated in the PMM");
            else if (pmm_page_owner(e) != (a->stack ? PMM_OWNER_KSTACK : PMM_OWNER_VMALLOC))
                errors +=
                    check_failed(a->base + k * PAGE_SIZE, "page has another owner in the PMM");
        }
        if (kmap_phys(span_lo(a)))
            errors += check_failed(span_lo(a), "guard page below is mapped");
        if (kmap_phys(area_end(a)))
            errors += check_failed(area_end(a), "guard page above is mapped");
        pages += a->compress ? 0 : a->pages;
        bytes += a->size;
        stacks += a->stack != 0;
    }
    if (pages != vm.pages || bytes != vm.bytes_asked || stacks != vm.stacks)
        errors += check_failed(0, "page, byte or stack counters differ from the records");
    if (kmap_count(KMAP_VMALLOC) != vm.pages)
        errors += check_failed(VMALLOC_START, "VMM maps pages in the range that no record owns");
    mm_unlock(f);
    return errors;
}

void vmalloc_dump(void)
{
    vmalloc_stats_t s;
    vmalloc_get_stats(&s);
    glue_irqflags_t f = mm_lock();
    mm_printf("vmalloc: %u allocations (%u kernel stacks), %u pages mapped, %u guard pages; "
              "0x%08lx-0x%08lx: %u KB free, largest fit %u KB\n",
              (unsigned)s.live, (unsigned)s.stacks, (unsigned)s.pages, (unsigned)s.guard_pages,
              (unsigned long)VMALLOC_START, (unsigned long)VMALLOC_END,
              (unsigned)(s.free_bytes / 1024), (unsigned)(s.largest_hole / 1024));
    for (uint32_t i = 0; i < vm.count; i++) {
        const struct area *a = &vm.live[i];
        char name[128];
        name_of(a, name, sizeof(name));
        mm_printf("  0x%08lx-0x%08lx %5u pages, guard pages 0x%08lx 0x%08lx: %s\n",
                  (unsigned long)a->base, (unsigned long)area_end(a) - 1, (unsigned)a->pages,
                  (unsigned long)span_lo(a), (unsigned long)area_end(a), name);
    }
    mm_unlock(f);
}

void vmalloc_reset(void)
{
    glue_irqflags_t f = mm_lock();
    memset(&vm, 0, sizeof(vm));
    kmap_reset_range(KMAP_VMALLOC);
    mm_unlock(f);
}

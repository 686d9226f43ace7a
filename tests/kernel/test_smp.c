/*
 * test_smp.c (kernel) - every CPU QEMU gives us, running mm/ at once.
 *
 * Runs at any -smp (tools/run-smp-tests.sh boots -smp 1, 2, 4, 8, under
 * single- and multi-threaded TCG); with one CPU the tests that need two
 * check the one-CPU answers instead (no shootdown IPIs, 0 returned).
 *
 *   smp_every_cpu_online        as many CPUs online as the tables name,
 *                               dense indexes, distinct APIC ids
 *   smp_cpu_id_on_each_cpu      glue_cpu_id() on each CPU is its index, and
 *                               its APIC id is the one the boot log gave
 *   smp_shootdown_*             smp_tlb_shootdown interrupts every other
 *                               busy CPU once (page by page and the full
 *                               flush); an idle AP is not interrupted but
 *                               reloads CR3 before its next work; it also
 *                               completes while another CPU spins for mm/'s
 *                               lock with interrupts off
 *   smp_fence_*                 smp_fence_cpus (mm/'s glue_fence_cpus) asks
 *                               every other busy CPU once, counted as a
 *                               fence, not a shootdown; an idle AP is not
 *                               asked and owes no CR3 reload; a CPU
 *                               spinning for mm/'s lock with interrupts off
 *                               answers it; and the cache lock it serves
 *                               excludes: CPU 1 enters and leaves its own
 *                               cache (cpu_cache_enter, plain moves) while
 *                               the BSP takes it (cpu_cache_lock: xchg,
 *                               fence, wait) 200 000 times and finds CPU 1
 *                               inside never (under multi-threaded TCG a
 *                               fence that does nothing is caught: a
 *                               store passes a later load there)
 *   smp_fast_path_reentered_goes_shared  a CPU inside its fast path that
 *                               calls kmalloc and kfree again (as an NMI
 *                               handler might) takes the shared path: its
 *                               magazine is left alone
 *   smp_stress_all_cpus         every CPU at once: kmalloc/kcalloc/krealloc/
 *                               kfree, kmem_cache, pmm pages, vmalloc/vfree,
 *                               every byte verified; heap blocks handed to
 *                               another CPU to free; after each round
 *                               heap_check, pmm_check, vmm_check,
 *                               vmalloc_check and kmem_cache_check say 0
 *   smp_checkers_while_others_stress  the APs run that stress while the
 *                               BSP runs every checker and the statistics
 *                               over and over: each says 0 every time, and
 *                               the per-CPU caches were fenced (the fast
 *                               path takes its cache with plain moves)
 *   smp_heap_stress_handoff     kernel/stress.c's stress on every CPU
 *   smp_vfree_reader_faults     CPU 1 reads a vmalloc page in a loop while
 *                               the BSP vfrees it, takes the same frame back
 *                               from the PMM and writes it: the reader must
 *                               fault (the hook steps over the read), never
 *                               see the new owner's data through a stale TLB
 */
#include "cpu.h"
#include "glue.h"
#include "idt.h"
#include "ktest.h"
#include "lapic.h"
#include "lock.h"
#include "multiboot.h"
#include "log.h"
#include "pmm.h"
#include "shell.h"
#include "slab.h"
#include "slab_priv.h" /* the per-CPU cache lock, for the litmus test */
#include "smp.h"
#include "vmalloc.h"
#include "vmm.h"
#include "../rng.h" /* tests/rng.h */

/*
 * Operations per round, shared out between the CPUs (at least 300 each):
 * fixed, and small enough for TCG at -smp 8, where each vfree's shootdown
 * round waits for seven vCPUs that the host schedules on two cores.
 */
#define STRESS_TOTAL_OPS 4800
#define STRESS_MIN_OPS   300
#define STRESS_ROUND     2
#define HEAP_SLOTS       16
#define OBJ_SLOTS        16
#define PAGE_SLOTS       4
#define VM_SLOTS         3
#define OBJ_SIZE         96
#define QUEUE_SLOTS      32

/* Spin for `what` with a bound: a CPU that never answers fails the test, not the boot. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        uint32_t spins_ = 0;                                                                       \
        while (!(cond) && spins_++ < 50000000u)                                                    \
            smp_relax();                                                                           \
    } while (0)

static void smp_every_cpu_online(void)
{
    unsigned n = smp_cpu_count();
    KT_ASSERT(n >= 1 && n <= KERNEL_MAX_CPUS);
    KT_ASSERT(n == smp_cpus_listed() - smp_cpus_skipped());
    KT_ASSERT(smp_cpus_skipped() == (multiboot_has_option("smpmute1") ? 1u : 0u));
    for (unsigned i = 0; i < n; i++) {
        KT_ASSERT(smp_cpus[i].index == i);
        KT_ASSERT(smp_cpus[i].online == 1);
        for (unsigned j = 0; j < i; j++)
            KT_ASSERT(smp_cpus[i].apic_id != smp_cpus[j].apic_id);
    }
    KT_ASSERT(glue_cpu_id() == 0); /* the tests run on the BSP */
}

static volatile int seen_id[KERNEL_MAX_CPUS];
static volatile uint32_t seen_apic[KERNEL_MAX_CPUS];

static void record_id(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    uint32_t flags = read_eflags();
    cli(); /* as mm/ calls it */
    seen_id[i] = glue_cpu_id();
    if (flags & EFLAGS_IF)
        sti();
    seen_apic[i] = lapic_id();
}

static void smp_cpu_id_on_each_cpu(void)
{
    unsigned n = smp_cpu_count();
    for (unsigned i = 1; i < n; i++) {
        seen_id[i] = -1;
        KT_ASSERT(smp_run(i, record_id, (void *)(uintptr_t)i) == 0);
        smp_wait(i);
        KT_ASSERT(seen_id[i] == (int)i);
        KT_ASSERT(seen_apic[i] == smp_cpus[i].apic_id);
    }
    KT_ASSERT(glue_cpu_id() == 0);
    if (lapic_ready())
        KT_ASSERT(lapic_id() == smp_cpus[0].apic_id);
    /* CPU 0 is busy with this test: not an AP to run on */
    KT_ASSERT(smp_run(0, record_id, 0) == -1);
    KT_ASSERT(smp_run(n, record_id, 0) == -1);
}

static volatile uint32_t busy_running[KERNEL_MAX_CPUS], busy_release;

/* Keep an AP busy (not idle: a shootdown must interrupt it) until released. */
static void busy(void *arg)
{
    busy_running[(uintptr_t)arg] = 1;
    while (!busy_release)
        __asm__ volatile("rep; nop"); /* interrupts on: the IPI is taken here */
}

/* Every AP runs busy: back only when each has started. */
static void busy_aps_start(void)
{
    unsigned n = smp_cpu_count();
    busy_release = 0;
    for (unsigned i = 1; i < n; i++) {
        busy_running[i] = 0;
        KT_ASSERT(smp_run(i, busy, (void *)(uintptr_t)i) == 0);
        WAIT_FOR(busy_running[i]);
    }
}

static void busy_aps_release(void)
{
    unsigned n = smp_cpu_count();
    busy_release = 1;
    for (unsigned i = 1; i < n; i++)
        smp_wait(i);
}

static void shootdown_counts(uintptr_t virt, size_t pages)
{
    unsigned n = smp_cpu_count();
    uint32_t before[KERNEL_MAX_CPUS];
    for (unsigned i = 0; i < n; i++)
        before[i] = smp_cpus[i].shootdowns;
    KT_ASSERT(smp_tlb_shootdown(virt, pages) == n - 1);
    KT_ASSERT(smp_cpus[0].shootdowns == before[0]); /* not to itself */
    for (unsigned i = 1; i < n; i++)
        KT_ASSERT(smp_cpus[i].shootdowns == before[i] + 1);
}

/* Busy APs: each is interrupted once per shootdown (page by page, then the full flush). */
static void smp_shootdown_every_other_cpu(void)
{
    uint8_t *p = vmalloc(2 * PAGE_SIZE);
    KT_ASSERT(p != NULL);
    busy_aps_start();
    shootdown_counts((uintptr_t)p, 2);
    shootdown_counts((uintptr_t)p, SMP_SHOOTDOWN_FULL + 1); /* the CR3 reload path */
    KT_ASSERT(smp_tlb_shootdown((uintptr_t)p, 0) == 0);     /* nothing to do */
    busy_aps_release();
    p[0] = 1, p[PAGE_SIZE] = 2; /* still mapped and ours */
    KT_ASSERT(p[0] == 1 && p[PAGE_SIZE] == 2);
    vfree(p);
}

/* Idle APs are not interrupted: they reload CR3 before their next work (lazy TLB). */
static void smp_shootdown_idle_cpus_deferred(void)
{
    unsigned n = smp_cpu_count();
    uint32_t before[KERNEL_MAX_CPUS], lazy[KERNEL_MAX_CPUS];
    for (unsigned i = 1; i < n; i++) {
        smp_wait(i);
        KT_ASSERT(smp_cpus[i].idle == 1);
        before[i] = smp_cpus[i].shootdowns;
        lazy[i] = smp_cpus[i].lazy_flushes;
    }
    KT_ASSERT(smp_tlb_shootdown(VMALLOC_START, 1) == 0);
    for (unsigned i = 1; i < n; i++) {
        KT_ASSERT(smp_cpus[i].shootdowns == before[i]);
        KT_ASSERT(smp_cpus[i].flush_on_wake == 1);
        KT_ASSERT(smp_run(i, record_id, (void *)(uintptr_t)i) == 0);
        smp_wait(i);
        KT_ASSERT(smp_cpus[i].flush_on_wake == 0);
        KT_ASSERT(smp_cpus[i].lazy_flushes == lazy[i] + 1);
    }
}

/* The deadlock rule: a CPU spinning for mm/'s lock with interrupts off still answers. */
static volatile int spinner_state;
static void *volatile spinner_block;

static void lock_spinner(void *unused)
{
    spinner_state = 1;
    spinner_block = kmalloc(100); /* spins in glue_spin_lock: the BSP holds mm/'s lock */
    kfree(spinner_block);
    spinner_state = 2;
}

/*
 * CPU 1 spins for mm/'s lock (the BSP holds it) while the BSP sends `ask`:
 * CPU 1 answers it once, counted in `answered` (its own counter of that kind).
 */
static void answered_while_spinning(unsigned (*ask)(void), volatile uint32_t *answered)
{
    unsigned n = smp_cpu_count();
    if (n < 2) {
        KT_ASSERT(ask() == 0); /* one CPU: nobody to ask */
        return;
    }
    spinner_state = 0;
    spinner_block = NULL;
    uint32_t before = *answered;
    glue_irqflags_t f = mm_lock();
    KT_ASSERT(smp_run(1, lock_spinner, NULL) == 0);
    WAIT_FOR(spinner_state == 1);
    for (volatile int i = 0; i < 20000; i++) /* let it reach the spin loop */
        ;
    unsigned asked = ask();
    int still_waiting = spinner_state == 1;
    mm_unlock(f);
    smp_wait(1);
    KT_ASSERT(asked == 1); /* CPU 1; the others are idle (a shootdown: deferred) */
    KT_ASSERT(*answered == before + 1);
    KT_ASSERT(still_waiting); /* it really was waiting for the lock we held */
    KT_ASSERT(spinner_state == 2 && spinner_block != NULL);
}

static unsigned shootdown_one_page(void)
{
    return smp_tlb_shootdown(VMALLOC_START, 1);
}

static void smp_shootdown_while_cpu_spins_for_lock(void)
{
    answered_while_spinning(shootdown_one_page, &smp_cpus[1].shootdowns);
}

/* Busy APs: each answers a fence once; it counts as a fence, not as a shootdown. */
static void smp_fence_every_busy_cpu(void)
{
    unsigned n = smp_cpu_count();
    uint32_t fences[KERNEL_MAX_CPUS], shootdowns[KERNEL_MAX_CPUS], asked0 = smp_fences;
    busy_aps_start();
    for (unsigned i = 0; i < n; i++)
        fences[i] = smp_cpus[i].fences, shootdowns[i] = smp_cpus[i].shootdowns;
    KT_ASSERT(smp_fence_cpus() == n - 1);
    KT_ASSERT(smp_cpus[0].fences == fences[0]); /* not to itself */
    for (unsigned i = 1; i < n; i++) {
        KT_ASSERT(smp_cpus[i].fences == fences[i] + 1);
        KT_ASSERT(smp_cpus[i].shootdowns == shootdowns[i]);
    }
    KT_ASSERT(smp_fences == asked0 + (n > 1));
    busy_aps_release();
}

/* Idle APs are not asked, and (unlike a shootdown) owe no CR3 reload for it. */
static void smp_fence_idle_cpus_not_asked(void)
{
    unsigned n = smp_cpu_count();
    uint32_t fences[KERNEL_MAX_CPUS], owed[KERNEL_MAX_CPUS], asked0 = smp_fences;
    for (unsigned i = 1; i < n; i++) {
        smp_wait(i);
        KT_ASSERT(smp_cpus[i].idle == 1);
        fences[i] = smp_cpus[i].fences;
        owed[i] = smp_cpus[i].flush_on_wake; /* (a shootdown's reload may be owed: kept) */
    }
    KT_ASSERT(smp_fence_cpus() == 0);
    KT_ASSERT(smp_fences == asked0);
    for (unsigned i = 1; i < n; i++) {
        KT_ASSERT(smp_cpus[i].fences == fences[i]);
        KT_ASSERT(smp_cpus[i].flush_on_wake == owed[i]);
    }
}

/* The deadlock rule again: a CPU spinning for mm/'s lock, interrupts off, answers a fence. */
static void smp_fence_while_cpu_spins_for_lock(void)
{
    answered_while_spinning(smp_fence_cpus, &smp_cpus[1].fences);
}

/*
 * The fenced cache lock excludes.  CPU 1 (its owner) enters and leaves its
 * own cache as the fast path does, interrupts off, and says when it is
 * inside; the BSP takes that CPU's cache lock as a drain or a check does and
 * must never find it inside.  CPU 1 runs no mm/ call meanwhile: its cache is
 * this test's alone.
 */
#define LITMUS_TAKES 200000u
static volatile uint32_t lit_inside, lit_stop, lit_entries, lit_backoffs;

static void lit_owner(void *unused)
{
    (void)unused;
    slab_cpu_t *pc = &slab_all.cpu[1];
    while (!lit_stop) {
        uint32_t flags = read_eflags();
        cli();
        if (cpu_cache_enter(pc)) {
            lit_inside = 1;
            for (volatile int d = 0; d < 20; d++) /* a fast path's length */
                ;
            lit_inside = 0;
            lit_entries++;
            cpu_cache_exit(pc);
        } else {
            lit_backoffs++;
        }
        if (flags & EFLAGS_IF)
            sti();
    }
}

static void smp_fence_cache_lock_excludes(void)
{
    unsigned n = smp_cpu_count();
    if (n < 2 || MM_MAX_CPUS < 2) {
        KT_ASSERT(smp_fence_cpus() == 0);
        return;
    }
    slab_cpu_t *pc = &slab_all.cpu[1];
    lit_inside = lit_stop = lit_entries = lit_backoffs = 0;
    KT_ASSERT(smp_run(1, lit_owner, NULL) == 0);
    WAIT_FOR(lit_entries > 100);
    uint32_t seen_inside = 0, asked0 = smp_fences;
    for (uint32_t i = 0; i < LITMUS_TAKES; i++) {
        glue_irqflags_t f = glue_irq_save();
        cpu_cache_lock(pc); /* xchg, fence, wait for busy */
        for (int k = 0; k < 8; k++)
            seen_inside += lit_inside;
        cpu_cache_unlock(pc);
        glue_irq_restore(f);
    }
    uint32_t entries = lit_entries;
    lit_stop = 1;
    smp_wait(1);
    kprintf("    cache lock of CPU 1 taken %u times by the BSP: CPU 1 found inside %u times; "
            "CPU 1 entered %u times, backed off %u times\n",
            LITMUS_TAKES, seen_inside, entries, lit_backoffs);
    KT_ASSERT(seen_inside == 0);
    KT_ASSERT(entries > 100 && lit_backoffs > 0);       /* both sides really met */
    KT_ASSERT(smp_fences - asked0 >= LITMUS_TAKES / 2); /* CPU 1 was busy, so asked */
}

/*
 * A CPU that enters its fast path again from inside it (as an NMI or
 * exception handler that allocates would) takes the shared path: its
 * magazine is not touched under the outer call's feet.
 */
static void smp_fast_path_reentered_goes_shared(void)
{
    kmem_cache_t *c = &slab_all.caches[slab_all.class_of[64 / 8]];
    void *warm[4];
    for (int i = 0; i < 4; i++) /* this CPU's magazine of the class: not empty */
        warm[i] = kmalloc(64);
    for (int i = 0; i < 4; i++)
        kfree(warm[i]);
    glue_irqflags_t f = glue_irq_save();
    slab_cpu_t *pc = &slab_all.cpu[glue_cpu_id()];
    uint32_t n0 = pc->mag[c->slot].n, allocs0 = pc->mag[c->slot].allocs;
    int entered = cpu_cache_enter(pc); /* the outer call, on its fast path */
    void *p = kmalloc(64);             /* the inner one */
    uint32_t n1 = pc->mag[c->slot].n, allocs1 = pc->mag[c->slot].allocs;
    kfree(p);
    uint32_t n2 = pc->mag[c->slot].n;
    if (entered)
        cpu_cache_exit(pc);
    glue_irq_restore(f);
    KT_ASSERT(entered);
    KT_ASSERT(n0 > 0);
    KT_ASSERT(p != NULL);
    KT_ASSERT(n1 == n0 && allocs1 == allocs0); /* not from the magazine */
    KT_ASSERT(n2 == n0);                       /* nor into it */
    KT_ASSERT(heap_check() == 0 && kmem_cache_check() == 0);
}

/* ---- every CPU at once ---- */

struct handed {
    uint8_t *p;
    uint32_t size, tag;
    unsigned from;
};

static struct handed queue[QUEUE_SLOTS];
static unsigned queued;
static volatile uint32_t queue_lock;
static volatile uint32_t cross_frees;
static kmem_cache_t *test_cache;

struct worker {
    unsigned cpu;
    uint32_t rng, ops, errors, verified, oom;
    uint8_t *heap[HEAP_SLOTS];
    uint32_t heap_size[HEAP_SLOTS];
    uint8_t *obj[OBJ_SLOTS];
    paddr_t page[PAGE_SLOTS];
    uint32_t *vm[VM_SLOTS];
    uint32_t vm_words[VM_SLOTS];
};

static struct worker workers[KERNEL_MAX_CPUS];
static uint32_t ops_per_cpu;

static void queue_acquire(void)
{
    for (;;) {
        uint32_t t = 1;
        __asm__ volatile("xchgl %0, %1" : "+r"(t), "+m"(queue_lock) : : "memory");
        if (!t)
            return;
        while (queue_lock)
            smp_relax();
    }
}

static void queue_release(void)
{
    __asm__ volatile("" : : : "memory");
    queue_lock = 0;
}

static uint32_t rnd(struct worker *w)
{
    return rng_next(&w->rng); /* the same xorshift32 as before: the same runs */
}

static uint8_t byte_of(uint32_t tag, uint32_t off)
{
    return (uint8_t)(tag * 151u + off * 7u + (off >> 8));
}

static uint32_t word_of(uint32_t tag, uint32_t i)
{
    return tag * 0x9E3779B1u + i;
}

static uint32_t tag_of(struct worker *w, unsigned kind, unsigned slot)
{
    return w->cpu << 16 | kind << 8 | slot;
}

static void fill_bytes(uint8_t *p, uint32_t tag, uint32_t from, uint32_t to)
{
    for (uint32_t off = from; off < to; off++)
        p[off] = byte_of(tag, off);
}

static void check_bytes(struct worker *w, const uint8_t *p, uint32_t tag, uint32_t len)
{
    for (uint32_t off = 0; off < len; off++) {
        if (p[off] != byte_of(tag, off)) {
            if (w->errors++ < 4)
                kprintf("    CPU %u: block %p tag 0x%x: wrong byte at offset %u\n", w->cpu, p, tag,
                        off);
            break;
        }
    }
    w->verified += len;
}

static void fill_words(uint32_t *p, uint32_t tag, uint32_t words)
{
    for (uint32_t i = 0; i < words; i++)
        p[i] = word_of(tag, i);
}

static void check_words(struct worker *w, const uint32_t *p, uint32_t tag, uint32_t words)
{
    for (uint32_t i = 0; i < words; i++) {
        if (p[i] != word_of(tag, i)) {
            if (w->errors++ < 4)
                kprintf("    CPU %u: %p tag 0x%x: wrong word %u\n", w->cpu, p, tag, i);
            break;
        }
    }
    w->verified += words * 4;
}

static void heap_op(struct worker *w, unsigned s)
{
    uint32_t tag = tag_of(w, 1, s);
    if (!w->heap[s]) {
        uint32_t size = 1 + rnd(w) % (rnd(w) % 4 == 0 ? 2048 : 128), how = rnd(w) % 3;
        uint8_t *p;
        if (how == 0) {
            p = kcalloc(1, size);
            for (uint32_t i = 0; p && i < size; i++) {
                if (p[i] != 0) {
                    w->errors++;
                    kprintf("    CPU %u: kcalloc %p not zero at %u\n", w->cpu, p, i);
                    break;
                }
            }
        } else {
            p = how == 1 ? kmalloc(size) : krealloc(NULL, size);
        }
        if (!p) {
            w->oom++;
            return;
        }
        fill_bytes(p, tag, 0, size);
        w->heap[s] = p, w->heap_size[s] = size;
        return;
    }
    uint32_t how = rnd(w) % 3;
    if (how == 0) { /* resize */
        uint32_t size = 1 + rnd(w) % 1024, old = w->heap_size[s];
        uint8_t *p = krealloc(w->heap[s], size);
        if (!p) {
            w->oom++;
            check_bytes(w, w->heap[s], tag, old);
            return;
        }
        check_bytes(w, p, tag, size < old ? size : old);
        if (size > old)
            fill_bytes(p, tag, old, size);
        w->heap[s] = p, w->heap_size[s] = size;
        return;
    }
    check_bytes(w, w->heap[s], tag, w->heap_size[s]);
    if (how == 1) { /* to another CPU */
        queue_acquire();
        if (queued < QUEUE_SLOTS) {
            queue[queued++] = (struct handed){w->heap[s], w->heap_size[s], tag, w->cpu};
            w->heap[s] = NULL;
        }
        queue_release();
        if (!w->heap[s])
            return;
    }
    kfree(w->heap[s]);
    w->heap[s] = NULL;
}

static void take_handed(struct worker *w, int any)
{
    struct handed h = {0};
    queue_acquire();
    for (unsigned k = queued; k-- > 0;) {
        if (any || queue[k].from != w->cpu) {
            h = queue[k];
            queue[k] = queue[--queued];
            break;
        }
    }
    if (h.p && h.from != w->cpu)
        cross_frees++;
    queue_release();
    if (h.p) {
        check_bytes(w, h.p, h.tag, h.size);
        kfree(h.p);
    }
}

static void obj_op(struct worker *w, unsigned s)
{
    uint32_t tag = tag_of(w, 2, s);
    if (!w->obj[s]) {
        w->obj[s] = kmem_cache_alloc(test_cache);
        if (!w->obj[s]) {
            w->oom++;
            return;
        }
        fill_bytes(w->obj[s], tag, 0, OBJ_SIZE);
        return;
    }
    check_bytes(w, w->obj[s], tag, OBJ_SIZE);
    kmem_cache_free(test_cache, w->obj[s]);
    w->obj[s] = NULL;
}

static void page_op(struct worker *w, unsigned s)
{
    uint32_t tag = tag_of(w, 3, s);
    if (!w->page[s]) {
        paddr_t p = pmm_alloc_page();
        if (!p) {
            w->oom++;
            return;
        }
        uint32_t *v = vmm_phys_to_virt(p);
        if (v)
            fill_words(v, tag, PAGE_SIZE / 4);
        w->page[s] = p;
        return;
    }
    uint32_t *v = vmm_phys_to_virt(w->page[s]);
    if (v)
        check_words(w, v, tag, PAGE_SIZE / 4);
    pmm_free_page(w->page[s]);
    w->page[s] = 0;
}

static void vm_op(struct worker *w, unsigned s)
{
    uint32_t tag = tag_of(w, 4, s);
    if (!w->vm[s]) {
        uint32_t words = (1 + rnd(w) % (2 * PAGE_SIZE)) / 4 + 1;
        w->vm[s] = vmalloc(words * 4);
        if (!w->vm[s]) {
            w->oom++;
            return;
        }
        fill_words(w->vm[s], tag, words);
        w->vm_words[s] = words;
        return;
    }
    check_words(w, w->vm[s], tag, w->vm_words[s]);
    vfree(w->vm[s]);
    w->vm[s] = NULL;
}

static void drain(struct worker *w)
{
    for (unsigned s = 0; s < HEAP_SLOTS; s++) {
        if (w->heap[s]) {
            check_bytes(w, w->heap[s], tag_of(w, 1, s), w->heap_size[s]);
            kfree(w->heap[s]);
            w->heap[s] = NULL;
        }
    }
    for (unsigned s = 0; s < OBJ_SLOTS; s++)
        if (w->obj[s])
            obj_op(w, s);
    for (unsigned s = 0; s < PAGE_SLOTS; s++)
        if (w->page[s])
            page_op(w, s);
    for (unsigned s = 0; s < VM_SLOTS; s++)
        if (w->vm[s])
            vm_op(w, s);
}

static void work(void *arg)
{
    struct worker *w = arg;
    for (w->ops = 0; w->ops < ops_per_cpu; w->ops++) {
        uint32_t r = rnd(w) % 100;
        if (r < 40)
            heap_op(w, rnd(w) % HEAP_SLOTS);
        else if (r < 60)
            obj_op(w, rnd(w) % OBJ_SLOTS);
        else if (r < 72)
            page_op(w, rnd(w) % PAGE_SLOTS);
        else if (r < 76)
            vm_op(w, rnd(w) % VM_SLOTS);
        else
            take_handed(w, 0);
    }
    drain(w);
}

static void smp_stress_all_cpus(void)
{
    unsigned n = smp_cpu_count();
    test_cache = kmem_cache_create("smp-test", OBJ_SIZE, 8, NULL);
    KT_ASSERT(test_cache != NULL);
    pmm_stats_t ps0, ps1;
    kmem_cache_reap();
    pmm_get_stats(&ps0);
    uint32_t errors0 = mm_error_count();
    uint32_t ops = 0, verified = 0, errors = 0;
    cross_frees = 0;
    ops_per_cpu = STRESS_TOTAL_OPS / n < STRESS_MIN_OPS ? STRESS_MIN_OPS : STRESS_TOTAL_OPS / n;
    for (unsigned round = 0; round < STRESS_ROUND; round++) {
        queued = 0;
        for (unsigned c = 0; c < n; c++)
            workers[c] = (struct worker){.cpu = c, .rng = 0x1234567u + c * 7919u + round * 104729u};
        for (unsigned c = 1; c < n; c++)
            KT_ASSERT(smp_run(c, work, &workers[c]) == 0);
        work(&workers[0]);
        for (unsigned c = 1; c < n; c++)
            smp_wait(c);
        while (queued)
            take_handed(&workers[0], 1);
        for (unsigned c = 0; c < n; c++) {
            ops += workers[c].ops;
            verified += workers[c].verified;
            errors += workers[c].errors;
        }
        KT_ASSERT(errors == 0);
        KT_ASSERT(heap_check() == 0);
        KT_ASSERT(pmm_check() == 0);
        KT_ASSERT(vmm_check() == 0);
        KT_ASSERT(vmalloc_check() == 0);
        KT_ASSERT(kmem_cache_check() == 0);
    }
    KT_ASSERT(kmem_cache_destroy(test_cache) == 0);
    test_cache = NULL;
    kmem_cache_reap();
    pmm_get_stats(&ps1);
    kprintf("    %u CPUs: %u operations, %u bytes verified, %u blocks freed by another CPU; "
            "free pages %u before, %u after\n",
            n, ops, verified, cross_frees, ps0.free_pages, ps1.free_pages);
    KT_ASSERT(ops == n * ops_per_cpu * STRESS_ROUND);
    KT_ASSERT(mm_error_count() == errors0);
    KT_ASSERT(n == 1 || cross_frees > 0);
}

/* Set up one worker per CPU and the queue for a run of `work`. */
static void workers_ready(unsigned n, uint32_t seed)
{
    queued = 0;
    for (unsigned c = 0; c < n; c++)
        workers[c] = (struct worker){.cpu = c, .rng = seed + c * 7919u};
}

static volatile uint32_t started[KERNEL_MAX_CPUS];
static volatile uint32_t first_round_done;

/*
 * work(), saying first that it runs, and still busy (not idle: a fence asks
 * it) until the BSP's first round of checkers is over: a host that stalls
 * the BSP's thread (multi-threaded TCG on a loaded machine) could otherwise
 * let every AP finish before that round, which then asked nobody (seen:
 * -smp 2 and 8, "0 fences asked").
 */
static void work_started(void *arg)
{
    started[((struct worker *)arg)->cpu] = 1;
    work(arg);
    WAIT_FOR(first_round_done);
}

static void smp_checkers_while_others_stress(void)
{
    unsigned n = smp_cpu_count();
    test_cache = kmem_cache_create("smp-check", OBJ_SIZE, 8, NULL);
    KT_ASSERT(test_cache != NULL);
    uint32_t errors0 = mm_error_count(), asked0 = smp_fences;
    uint32_t rounds = 0, failed = 0, errors = 0, ops = 0;
    cross_frees = 0;
    ops_per_cpu = STRESS_TOTAL_OPS / n < STRESS_MIN_OPS ? STRESS_MIN_OPS : STRESS_TOTAL_OPS / n;
    workers_ready(n, 0x7654321u);
    first_round_done = 0;
    for (unsigned c = 1; c < n; c++) {
        started[c] = 0;
        KT_ASSERT(smp_run(c, work_started, &workers[c]) == 0);
    }
    for (unsigned c = 1; c < n; c++) /* (busy, not idle, at the first fence: asked) */
        WAIT_FOR(started[c]);
    for (int running = 1; running;) {
        memory_stats_t st;
        failed += heap_check() != 0;
        failed += kmem_cache_check() != 0;
        failed += pmm_check() != 0;
        failed += vmalloc_check() != 0;
        failed += vmm_check() != 0;
        get_memory_stats(&st);
        /* one snapshot, under every CPU's cache lock: its identity holds */
        failed += st.heap_size != st.heap_used + st.heap_free + st.block_count * HEAP_HEADER_SIZE;
        failed += st.heap_cpu_cached_bytes > st.heap_used;
        rounds++;
        first_round_done = 1;
        running = 0;
        for (unsigned c = 1; c < n; c++)
            running |= smp_cpus[c].work != 0;
    }
    for (unsigned c = 1; c < n; c++)
        smp_wait(c);
    while (queued)
        take_handed(&workers[0], 1);
    for (unsigned c = 1; c < n; c++) {
        ops += workers[c].ops;
        errors += workers[c].errors;
    }
    kprintf(
        "    %u CPUs: %u operations on the APs, %u rounds of every checker on the BSP meanwhile, "
        "%u fences asked\n",
        n, ops, rounds, smp_fences - asked0);
    KT_ASSERT(failed == 0);
    KT_ASSERT(errors == 0);
    KT_ASSERT(rounds > 0);
    KT_ASSERT(ops == (n - 1) * ops_per_cpu);
    KT_ASSERT(n == 1 || smp_fences > asked0);
    KT_ASSERT(heap_check() == 0 && kmem_cache_check() == 0);
    KT_ASSERT(mm_error_count() == errors0);
    KT_ASSERT(kmem_cache_destroy(test_cache) == 0);
    test_cache = NULL;
}

static void smp_heap_stress_handoff(void)
{
    struct stress_result r;
    uint32_t handed = 0;
    unsigned n = smp_cpu_count();
    KT_ASSERT(heap_stress_smp(n, 800, 12345, &r, &handed) == 1);
    KT_ASSERT(r.ops == n * 800 && r.errors == 0 && r.check_failures == 0);
    KT_ASSERT(n == 1 || handed > 0);
    KT_ASSERT(heap_stress_smp(n + 1, 10, 1, &r, NULL) == 0); /* more CPUs than online: refused */
}

/* ---- a read through a stale TLB entry after vfree ---- */

#define OLD_WORD 0x0DDC0FFEu
#define NEW_WORD 0x5A5A5A5Au

extern const char smp_probe_insn[];
static volatile uint32_t *volatile rd_ptr;
static volatile uint32_t rd_reads, rd_faulted, rd_stale, rd_odd, rd_written, rd_after;

/* Read *p; 0 in *ok if it page-faulted (the hook steps over the 2-byte mov). */
__attribute__((noinline)) static uint32_t probe(volatile uint32_t *p, uint32_t *ok)
{
    uint32_t v, good;
    __asm__ volatile("movl $1, %1\n\t"
                     ".globl smp_probe_insn\n"
                     "smp_probe_insn:\n\t"
                     "movl (%2), %0" /* 8b 01: two bytes */
                     : "=&a"(v), "=&d"(good)
                     : "c"(p)
                     : "memory");
    *ok = good;
    return v;
}

static int probe_fault(struct interrupt_frame *f)
{
    if (f->eip != (uint32_t)smp_probe_insn)
        return 0;
    f->edx = 0;
    f->eax = 0;
    f->eip += 2;
    return 1;
}

static void reader(void *unused)
{
    for (;;) {
        uint32_t ok, v = probe(rd_ptr, &ok);
        if (!ok) {
            rd_faulted = 1;
            return;
        }
        rd_reads++;
        if (v == NEW_WORD) { /* the frame's new owner's data: a stale TLB entry */
            rd_stale = 1;
            return;
        }
        if (v != OLD_WORD)
            rd_odd++;
        if (rd_written && ++rd_after > 2000000u)
            return; /* still mapped long after vfree: the test fails on rd_faulted */
    }
}

static void smp_vfree_reader_faults(void)
{
    unsigned n = smp_cpu_count();
    uint32_t *p = vmalloc(PAGE_SIZE);
    KT_ASSERT(p != NULL);
    for (uint32_t i = 0; i < PAGE_SIZE / 4; i++)
        p[i] = OLD_WORD;
    if (n < 2) { /* one CPU: the read after vfree faults here */
        vfree(p);
        KT_ASSERT(vmm_get_physical((uint32_t)p) == 0);
        return;
    }
    paddr_t frame = vmm_get_physical((uint32_t)p);
    KT_ASSERT(frame != 0);
    rd_ptr = p;
    rd_reads = rd_faulted = rd_stale = rd_odd = rd_written = rd_after = 0;
    idt_set_fault_hook(14, probe_fault);
    KT_ASSERT(smp_run(1, reader, NULL) == 0);
    WAIT_FOR(rd_reads > 1000 || rd_faulted);
    uint32_t reads_before = rd_reads;

    vfree(p);
    /* the frame back from the PMM (every page until it comes; chained through themselves) */
    paddr_t chain = 0, q;
    int found = 0;
    while ((q = pmm_alloc_page()) != 0) {
        uint32_t *v = vmm_phys_to_virt(q);
        if (!v) {
            pmm_free_page(q);
            break;
        }
        if (q == frame) {
            for (uint32_t i = 0; i < PAGE_SIZE / 4; i++)
                v[i] = NEW_WORD;
            found = 1;
            break;
        }
        v[0] = chain;
        chain = q;
    }
    rd_written = 1;
    smp_wait(1);
    idt_set_fault_hook(14, NULL);
    if (found)
        pmm_free_page(frame);
    while (chain) {
        paddr_t next = *(uint32_t *)vmm_phys_to_virt(chain);
        pmm_free_page(chain);
        chain = next;
    }
    kprintf("    reader on CPU 1: %u reads before vfree, %u in all; %s\n", reads_before, rd_reads,
            rd_faulted ? "faulted"
            : rd_stale ? "read the new owner's data"
                       : "never faulted");
    KT_ASSERT(reads_before > 1000);
    KT_ASSERT(found);
    KT_ASSERT(rd_stale == 0);
    KT_ASSERT(rd_odd == 0);
    KT_ASSERT(rd_faulted == 1);
}

const struct ktest ktest_smp[] = {
    {"smp_every_cpu_online", smp_every_cpu_online},
    {"smp_cpu_id_on_each_cpu", smp_cpu_id_on_each_cpu},
    {"smp_shootdown_every_other_cpu", smp_shootdown_every_other_cpu},
    {"smp_shootdown_idle_cpus_deferred", smp_shootdown_idle_cpus_deferred},
    {"smp_shootdown_while_cpu_spins_for_lock", smp_shootdown_while_cpu_spins_for_lock},
    {"smp_fence_every_busy_cpu", smp_fence_every_busy_cpu},
    {"smp_fence_idle_cpus_not_asked", smp_fence_idle_cpus_not_asked},
    {"smp_fence_while_cpu_spins_for_lock", smp_fence_while_cpu_spins_for_lock},
    {"smp_fence_cache_lock_excludes", smp_fence_cache_lock_excludes},
    {"smp_fast_path_reentered_goes_shared", smp_fast_path_reentered_goes_shared},
    {"smp_stress_all_cpus", smp_stress_all_cpus},
    {"smp_checkers_while_others_stress", smp_checkers_while_others_stress},
    {"smp_heap_stress_handoff", smp_heap_stress_handoff},
    {"smp_vfree_reader_faults", smp_vfree_reader_faults},
    {NULL, NULL},
};

/*
 * stress.c - a randomised workout of the heap, run from the shell.
 *
 * A table of STRESS_SLOTS slots, each empty or holding one live block.  Each
 * operation picks a slot at random: an empty slot gets kmalloc, kcalloc or
 * krealloc(NULL, n); a full one is freed, resized with krealloc, or just
 * re-verified.  Sizes are 1..4096 bytes, mostly small, as kernel objects are.
 *
 * Every block is filled with pattern(slot, offset), so any byte that changes
 * behind our back - an overlapping block, a header written into a payload, a
 * krealloc that lost the old contents - shows up as a wrong byte, naming the
 * slot and offset.  We check: every byte before kfree, the kept prefix after
 * krealloc, the whole old block when krealloc fails, zeroes from kcalloc,
 * 8-byte alignment, that a NULL only comes when largest_free_block says the
 * request cannot fit, heap_check() every CHECK_EVERY operations, and at the
 * end that freeing everything brings heap_used and error_count back to where
 * they were.
 *
 * heap_stress_smp runs the same on several CPUs at once (arch/x86/smp.h),
 * each with its own slots and seed (seed + cpu * 0x9E3779B9), and a handoff
 * queue between them: some blocks are not freed by the CPU that filled them
 * but queued, and another CPU takes them, verifies every byte and frees
 * them.  With other CPUs allocating at the same time, "NULL although
 * largest_free_block fits" is not checked (the largest block may have gone
 * in between), and the heap_used balance is checked once, after all CPUs.
 */
#include "memory.h"
#include "slab.h"
#include "shell.h"
#include "smp.h"
#include "terminal.h"

#define STRESS_SLOTS 64
#define CHECK_EVERY  256
#define MAX_REPORTS  8 /* wrong-byte reports printed per run; the rest are counted */

struct slot {
    uint8_t *p;
    uint32_t size;
};

struct stress {
    struct slot slots[STRESS_SLOTS];
    uint32_t rng;
    struct stress_result *r;
    int smp;      /* several CPUs at once: the handoff queue, no largest_free_block check */
    unsigned cpu; /* which one (for the reports) */
    uint32_t ops;
};

/* ---- the handoff queue (several CPUs): blocks filled on one CPU, freed on another ---- */
#define HANDOFF_SLOTS 64
struct handoff {
    uint8_t *p;
    uint32_t size, slot; /* the pattern is pattern(slot, offset) */
    unsigned from;       /* the CPU that filled it */
};
static struct handoff handoff[HANDOFF_SLOTS];
static unsigned handoff_count;
static volatile uint32_t handoff_lock;
static uint32_t handoffs_taken; /* blocks freed by another CPU than the one that filled them */

static void handoff_acquire(void)
{
    for (;;) {
        uint32_t taken = 1;
        __asm__ volatile("xchgl %0, %1" : "+r"(taken), "+m"(handoff_lock) : : "memory");
        if (!taken)
            return;
        while (handoff_lock)
            smp_relax();
    }
}

static void handoff_release(void)
{
    __asm__ volatile("" : : : "memory");
    handoff_lock = 0;
}

/* xorshift32 (Marsaglia 2003): period 2^32 - 1, state must not be 0. */
static uint32_t next_random(struct stress *st)
{
    uint32_t x = st->rng;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return st->rng = x;
}

/*
 * 1..4096: 50% up to 64 bytes, 30% up to 512, 20% up to 4096.  With ~45
 * live blocks that averages ~25 KB, so the 64 KB heap runs out now and then
 * and the out-of-memory paths get exercised too.
 */
static uint32_t random_size(struct stress *st)
{
    uint32_t kind = next_random(st) % 10;

    if (kind < 5)
        return 1 + next_random(st) % 64;
    if (kind < 8)
        return 65 + next_random(st) % 448;
    return 513 + next_random(st) % 3584;
}

static uint8_t pattern(uint32_t slot, uint32_t offset)
{
    return (uint8_t)((slot + 1) * 37u + offset * 13u + (offset >> 8));
}

static void fill(uint32_t slot, uint8_t *p, uint32_t from, uint32_t to)
{
    for (uint32_t off = from; off < to; off++)
        p[off] = pattern(slot, off);
}

static void error(struct stress *st, const char *what, uint32_t slot, const void *p,
                  uint32_t detail)
{
    if (st->r->errors++ >= MAX_REPORTS)
        return;
    if (st->smp)
        kprintf("stress: CPU %u, slot %u, block %p: %s (%u)\n", st->cpu, slot, p, what, detail);
    else
        kprintf("stress: slot %u, block %p: %s (%u)\n", slot, p, what, detail);
}

/* Compare len bytes of the slot's block with its pattern; one report per block. */
static void verify(struct stress *st, uint32_t slot, const uint8_t *p, uint32_t len)
{
    for (uint32_t off = 0; off < len; off++) {
        if (p[off] != pattern(slot, off)) {
            error(st, "wrong byte at offset", slot, p, off);
            break;
        }
    }
    st->r->bytes_verified += len;
}

/* A new block: aligned?  If NULL, was the heap really unable to serve it? */
static int accept(struct stress *st, uint32_t slot, const void *p, uint32_t size)
{
    if (p) {
        if ((uintptr_t)p & (HEAP_ALIGN - 1))
            error(st, "misaligned block, size", slot, p, size);
        return 1;
    }
    memory_stats_t s;
    get_memory_stats(&s);
    if (!st->smp && size <= s.largest_free_block)
        error(st, "NULL although largest_free_block fits, size", slot, p, size);
    st->r->out_of_memory++;
    return 0;
}

static void fill_empty_slot(struct stress *st, uint32_t i)
{
    struct slot *s = &st->slots[i];
    uint32_t size = random_size(st), how = next_random(st) % 10;
    uint8_t *p;

    if (how < 7) {
        st->r->mallocs++;
        p = kmalloc(size);
    } else if (how < 9) {
        /* count * each: a few elements of a size that multiplies back to ~size */
        uint32_t count = 1 + next_random(st) % 8, each = (size + count - 1) / count;
        size = count * each;
        st->r->callocs++;
        p = kcalloc(count, each);
        if (p) {
            for (uint32_t off = 0; off < size; off++) {
                if (p[off] != 0) {
                    error(st, "kcalloc memory not zero at offset", i, p, off);
                    break;
                }
            }
            st->r->bytes_verified += size;
        }
    } else {
        st->r->reallocs++;
        p = krealloc(NULL, size);
    }
    if (accept(st, i, p, size)) {
        fill(i, p, 0, size);
        s->p = p;
        s->size = size;
    }
}

static void resize_slot(struct stress *st, uint32_t i)
{
    struct slot *s = &st->slots[i];
    uint32_t size = random_size(st);
    uint8_t *p;

    st->r->reallocs++;
    p = krealloc(s->p, size);
    if (!accept(st, i, p, size)) {
        verify(st, i, s->p, s->size); /* a failed krealloc leaves the block alone */
        return;
    }
    verify(st, i, p, size < s->size ? size : s->size);
    if (size > s->size)
        fill(i, p, s->size, size);
    s->p = p;
    s->size = size;
}

static void empty_slot(struct stress *st, uint32_t i)
{
    struct slot *s = &st->slots[i];

    verify(st, i, s->p, s->size);
    if (st->smp && next_random(st) % 3 == 0) { /* to another CPU, if the queue has room */
        handoff_acquire();
        if (handoff_count < HANDOFF_SLOTS) {
            handoff[handoff_count++] =
                (struct handoff){.p = s->p, .size = s->size, .slot = i, .from = st->cpu};
            s->p = NULL;
        }
        handoff_release();
        if (!s->p) {
            s->size = 0;
            return;
        }
    }
    st->r->frees++;
    kfree(s->p);
    s->p = NULL;
    s->size = 0;
}

/* Take a block another CPU filled (mine are left for others), verify it, free it. */
static void take_handoff(struct stress *st, int any)
{
    struct handoff h = {0};

    handoff_acquire();
    for (unsigned k = handoff_count; k-- > 0;) {
        if (any || handoff[k].from != st->cpu) {
            h = handoff[k];
            handoff[k] = handoff[--handoff_count];
            break;
        }
    }
    if (h.p && h.from != st->cpu)
        handoffs_taken++;
    handoff_release();
    if (!h.p)
        return;
    for (uint32_t off = 0; off < h.size; off++) {
        if (h.p[off] != pattern(h.slot, off)) {
            error(st, "handed-off block: wrong byte at offset", h.slot, h.p, off);
            break;
        }
    }
    st->r->bytes_verified += h.size;
    st->r->frees++;
    kfree(h.p);
}

static void one_operation(struct stress *st)
{
    uint32_t i = next_random(st) % STRESS_SLOTS, how = next_random(st) % 100;

    if (st->smp && how >= 95)
        take_handoff(st, 0);
    else if (!st->slots[i].p)
        fill_empty_slot(st, i);
    else if (how < 45)
        empty_slot(st, i);
    else if (how < 90)
        resize_slot(st, i);
    else
        verify(st, i, st->slots[i].p, st->slots[i].size);
}

/* One CPU's share: ops operations, then every slot emptied. */
static void run(struct stress *st)
{
    struct stress_result *result = st->r;

    for (result->ops = 0; result->ops < st->ops; result->ops++) {
        one_operation(st);
        if ((result->ops + 1) % CHECK_EVERY == 0)
            result->check_failures += heap_check();
    }
    for (uint32_t i = 0; i < STRESS_SLOTS; i++) {
        if (st->slots[i].p)
            empty_slot(st, i);
    }
    result->check_failures += heap_check();
}

static void run_on_cpu(void *arg)
{
    run(arg);
}

/* One stress per CPU (static: 600 bytes each, off the stacks). */
static struct stress states[KERNEL_MAX_CPUS];
static struct stress_result results[KERNEL_MAX_CPUS];

static int stress_cpus(unsigned cpus, uint32_t ops, uint32_t seed, struct stress_result *result,
                       uint32_t *handed_over)
{
    memory_stats_t before, after;

    *result = (struct stress_result){0};
    if (ops > STRESS_MAX_OPS)
        ops = STRESS_MAX_OPS;
    handoff_count = 0;
    handoffs_taken = 0;
    kmem_cache_reap(); /* empty slabs kept from earlier work would make heap_used drift */
    get_memory_stats(&before);
    for (unsigned c = 0; c < cpus; c++) {
        results[c] = (struct stress_result){0};
        uint32_t s = seed + c * 0x9E3779B9u;
        states[c] = (struct stress){
            .rng = s ? s : 1, .r = &results[c], .smp = cpus > 1, .cpu = c, .ops = ops};
    }
    for (unsigned c = 1; c < cpus; c++)
        smp_run(c, run_on_cpu, &states[c]);
    run(&states[0]);
    for (unsigned c = 1; c < cpus; c++)
        smp_wait(c);
    while (handoff_count) /* what nobody took: the BSP verifies and frees it */
        take_handoff(&states[0], 1);
    if (handed_over)
        *handed_over = handoffs_taken;

    for (unsigned c = 0; c < cpus; c++) {
        struct stress_result *r = &results[c];
        result->ops += r->ops;
        result->mallocs += r->mallocs;
        result->callocs += r->callocs;
        result->reallocs += r->reallocs;
        result->frees += r->frees;
        result->out_of_memory += r->out_of_memory;
        result->bytes_verified += r->bytes_verified;
        result->errors += r->errors;
        result->check_failures += r->check_failures;
    }
    result->check_failures += heap_check();

    kmem_cache_reap(); /* the slabs our objects emptied go back: heap_used as it was */
    get_memory_stats(&after);
    states[0].r = result;
    if (after.heap_used != before.heap_used)
        error(&states[0], "heap_used after freeing everything differs, was", 0, NULL,
              before.heap_used);
    if (after.error_count != before.error_count)
        error(&states[0], "the heap reported caller bugs, count", 0, NULL,
              after.error_count - before.error_count);
    return result->errors == 0 && result->check_failures == 0;
}

int heap_stress(uint32_t ops, uint32_t seed, struct stress_result *result)
{
    return stress_cpus(1, ops, seed, result, NULL);
}

int heap_stress_smp(unsigned cpus, uint32_t ops, uint32_t seed, struct stress_result *result,
                    uint32_t *handed_over)
{
    if (cpus == 0 || cpus > smp_cpu_count()) {
        kprintf("stress: %u CPUs asked for, %u online\n", cpus, smp_cpu_count());
        *result = (struct stress_result){0};
        return 0;
    }
    return stress_cpus(cpus, ops, seed, result, handed_over);
}

/*
 * stress.c - the verifying stress both CPUs run: mm/'s whole API, this
 * kernel's own page pool beside it, objects handed across CPUs.
 *
 * Every object is filled with a pattern made from a seed and checked before
 * it is freed: memory handed out twice, or moved, or unmapped under its user,
 * shows as a wrong byte.  Each CPU keeps SLOTS live objects of five kinds
 * (kmalloc, a kmem_cache object, a PMM page, a vmalloc area, a page of the
 * kernel's own pool) and replaces them at random; a share of them goes
 * through a mailbox to the other CPU, which checks and frees it (kfree of
 * another CPU's allocation, a page freed on the other CPU...).  krealloc and
 * kstack_alloc/kstack_free are exercised on the way.
 */
#include "memory.h"
#include "pmm.h"
#include "slab.h"
#include "vmalloc.h"
#undef memset
#undef memcpy
#undef kfree
#include "embed.h"
#include "../rng.h" /* tests/rng.h: tools/embed-check.sh copies it beside kernel/ */

#ifndef EMBED_STRESS_OPS
#define EMBED_STRESS_OPS 4000 /* per CPU */
#endif
#define SLOTS    48
#define MAILBOX  32
#define OBJ_SIZE 200 /* the test cache's objects */

enum kind { NONE, KMALLOC, CACHE, PAGE, VMALLOC, OWNPAGE };
static const char *const kind_name[] = {"-",        "kmalloc", "kmem_cache",
                                        "pmm page", "vmalloc", "kfree(char *) page"};

struct obj {
    enum kind kind;
    uint8_t *p; /* where the bytes are (a PMM page: identity-mapped) */
    uint32_t size, seed;
};

static kmem_cache_t *cache;
static volatile int failures;
static spinlock_t mail_lock;
static struct obj mailbox[MAILBOX];
static int mail_count;
static struct {
    uint32_t ops[6], handed, taken, reallocs, stacks;
} count[2];

static void fail(void)
{
    __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
}

static uint8_t pat(uint32_t seed, uint32_t i)
{
    return (uint8_t)((seed >> ((i & 3) * 8)) ^ (i >> 2) ^ (i * 13));
}

static void fill(struct obj *o)
{
    for (uint32_t i = 0; i < o->size; i++)
        o->p[i] = pat(o->seed, i);
}

static int verify(int cpu, const struct obj *o, const char *when)
{
    for (uint32_t i = 0; i < o->size; i++) {
        if (o->p[i] != pat(o->seed, i)) {
            if (failures < 10)
                kprintf("embed: FAIL cpu %d: %s of %u bytes at %p %s: byte %u is 0x%x, "
                        "expected 0x%x\n",
                        cpu, kind_name[o->kind], o->size, (void *)o->p, when, i, o->p[i],
                        pat(o->seed, i));
            fail();
            return -1;
        }
    }
    return 0;
}

/* kmalloc's sizes: 70% up to 512 bytes, 25% up to a page, 5% up to 32 KB. */
static uint32_t kmalloc_size(uint32_t *s)
{
    static const struct rng_range mix[3] = {{70, 1, 512}, {25, 513, 3584}, {5, 4097, 28672}};
    return rng_size(s, mix);
}

static int make(int cpu, struct obj *o, uint32_t *s)
{
    o->seed = rng_next(s);
    switch (o->kind) {
    case KMALLOC:
        o->size = kmalloc_size(s);
        o->p = mm_kmalloc(o->size);
        break;
    case CACHE:
        o->size = OBJ_SIZE;
        o->p = mm_kmem_cache_alloc(cache);
        break;
    case PAGE: {
        uint32_t phys = mm_pmm_alloc_page();
        o->size = EMBED_PAGE;
        o->p = (uint8_t *)(uintptr_t)phys;
        break;
    }
    case VMALLOC:
        o->size = (1 + rng_next(s) % 4) * EMBED_PAGE - rng_next(s) % 100;
        o->p = vmalloc(o->size);
        break;
    case OWNPAGE:
        o->size = EMBED_PAGE;
        o->p = (uint8_t *)kalloc();
        break;
    default:
        return -1;
    }
    if (!o->p) {
        kprintf("embed: FAIL cpu %d: %s of %u bytes: out of memory\n", cpu, kind_name[o->kind],
                o->size);
        fail();
        o->kind = NONE;
        return -1;
    }
    fill(o);
    count[cpu].ops[o->kind]++;
    return 0;
}

static void destroy(int cpu, struct obj *o, const char *when)
{
    if (o->kind == NONE)
        return;
    verify(cpu, o, when);
    switch (o->kind) {
    case KMALLOC:
        mm_kfree(o->p);
        break;
    case CACHE:
        mm_kmem_cache_free(cache, o->p);
        break;
    case PAGE:
        mm_pmm_free_page((uint32_t)(uintptr_t)o->p);
        break;
    case VMALLOC:
        mm_vfree(o->p);
        break;
    case OWNPAGE:
        kfree((char *)o->p); /* the kernel's own kfree(char *) */
        break;
    default:
        break;
    }
    o->kind = NONE;
}

static int hand_over(struct obj *o)
{
    int ok = 0;
    spin_acquire(&mail_lock);
    if (mail_count < MAILBOX) {
        mailbox[mail_count++] = *o;
        ok = 1;
    }
    spin_release(&mail_lock);
    if (ok)
        o->kind = NONE;
    return ok;
}

static int take(struct obj *o)
{
    int ok = 0;
    spin_acquire(&mail_lock);
    if (mail_count) {
        *o = mailbox[--mail_count];
        ok = 1;
    }
    spin_release(&mail_lock);
    return ok;
}

/* A kmalloc object grows or shrinks: the kept prefix must survive. */
static void realloc_one(int cpu, struct obj *o, uint32_t *s)
{
    uint32_t n = kmalloc_size(s);
    uint8_t *q = mm_krealloc(o->p, n);
    if (!q) {
        kprintf("embed: FAIL cpu %d: krealloc(%p, %u): out of memory\n", cpu, (void *)o->p, n);
        fail();
        return;
    }
    o->p = q;
    o->size = n < o->size ? n : o->size;
    verify(cpu, o, "after krealloc");
    o->size = n;
    fill(o);
    count[cpu].reallocs++;
}

/* A kernel stack: written from the top down, checked, freed. */
static void stack_one(int cpu, uint32_t *s)
{
    uint32_t size = (2 + rng_next(s) % 3) * EMBED_PAGE;
    vaddr_t top = mm_kstack_alloc(size);
    if (!top) {
        kprintf("embed: FAIL cpu %d: kstack_alloc(%u): out of memory\n", cpu, size);
        fail();
        return;
    }
    struct obj o = {VMALLOC, (uint8_t *)(uintptr_t)(top - size), size, rng_next(s)};
    fill(&o);
    verify(cpu, &o, "as a kernel stack");
    mm_kstack_free(top);
    count[cpu].stacks++;
}

void stress_setup(void)
{
    cache = mm_kmem_cache_create("embed-obj", OBJ_SIZE, 0, NULL);
    if (!cache) {
        kprintf("embed: FAIL kmem_cache_create\n");
        embed_exit(1);
    }
}

void stress_run(int cpu)
{
    struct obj slot[SLOTS] = {{0}};
    uint32_t s = 0x9E3779B9u * (uint32_t)(cpu + 1);
    for (int op = 0; op < EMBED_STRESS_OPS; op++) {
        struct obj *o = &slot[rng_next(&s) % SLOTS];
        uint32_t r = rng_next(&s) % 100;
        if (r < 10) { /* to the other CPU */
            if (o->kind != NONE && hand_over(o))
                count[cpu].handed++;
            continue;
        }
        if (r < 20) { /* from the other CPU: check it, free it here */
            struct obj t;
            if (take(&t)) {
                destroy(cpu, &t, "freed on the other CPU");
                count[cpu].taken++;
            }
            continue;
        }
        if (r < 25 && o->kind == KMALLOC) {
            realloc_one(cpu, o, &s);
            continue;
        }
        if (r < 27) {
            stack_one(cpu, &s);
            continue;
        }
        destroy(cpu, o, "before its free");
        r = rng_next(&s) % 100;
        o->kind = r < 45 ? KMALLOC : r < 70 ? CACHE : r < 85 ? PAGE : r < 93 ? VMALLOC : OWNPAGE;
        make(cpu, o, &s);
    }
    for (int i = 0; i < SLOTS; i++)
        destroy(cpu, &slot[i], "at the end");
    kprintf("embed: cpu %d: %u kmalloc, %u kmem_cache, %u pmm pages, %u vmalloc, %u own pages, "
            "%u krealloc, %u kstacks; %u handed over, %u taken from the other CPU\n",
            cpu, count[cpu].ops[KMALLOC], count[cpu].ops[CACHE], count[cpu].ops[PAGE],
            count[cpu].ops[VMALLOC], count[cpu].ops[OWNPAGE], count[cpu].reallocs,
            count[cpu].stacks, count[cpu].handed, count[cpu].taken);
}

int stress_finish(void)
{
    struct obj t;
    while (take(&t))
        destroy(0, &t, "left in the mailbox");
    if (mm_kmem_cache_destroy(cache) != 0) {
        kprintf("embed: FAIL kmem_cache_destroy: objects still live\n");
        fail();
    }
    vmalloc_stats_t vs;
    mm_vmalloc_get_stats(&vs);
    if (vs.live) {
        kprintf("embed: FAIL vmalloc: %u allocations still live\n", vs.live);
        fail();
    }
    kprintf("embed: stress: %d failures\n", failures);
    return failures;
}

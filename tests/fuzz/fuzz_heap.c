/*
 * fuzz_heap.c - libFuzzer target: random operation sequences over every
 * allocation API, checked against a shadow model after every step.
 *
 * Input format
 * ------------
 *   byte 0          mode: bit 0 set = start on the virtual heap (Phase 2),
 *                   clear = the spec's 64 KB early heap (op "virtual" may
 *                   switch over later: early blocks must stay valid);
 *                   bit 1 set = two threads (below)
 *   then ops        one opcode byte (low 5 bits pick an entry of ops[]),
 *                   followed by that op's argument bytes
 *
 * A missing byte reads as 0 and the input ends at the first op that starts
 * past the end, so every input is a valid program.  Opcodes have fixed
 * numbers: a corpus keeps its meaning when ops are added.  Opcodes 16..23
 * are the object caches' (kmem_cache_*, compiled in when include/slab.h
 * exists: objects keep their constructed state, a cache in use refuses to
 * go); unused numbers alias kmalloc and kfree, the commonest operations.
 * tests/fuzz/make-seeds.py writes the seed corpus in this encoding.
 *
 * The shadow
 * ----------
 * SLOTS live allocations, each with its size, the size the heap says is
 * usable, and a tag: byte i of the block is pattern(tag, i).  After every
 * step: the blocks the step touched are verified whole, every live block's
 * first and last bytes are verified (where overflows and header damage
 * land), every FULL_EVERY steps and at the end of the input everything is;
 * heap_check() == 0; get_memory_stats() balances (size = used + free +
 * headers), heap_used is the sum of the usable sizes we hold (plus whole
 * slab pages, whose objects are counted in slab_objects), and error_count moved by exactly the
 * number of caller bugs the step made (0 for a legal call, 1 for a misuse, which must change
 * nothing else).  New blocks must be aligned, inside a heap region and clear of every live block;
 * requests that leave room must succeed, absurd ones must fail. Any difference prints the step and
 * aborts (libFuzzer saves the input).
 *
 * Two threads (mode bit 1): the ops run in chunks of CHUNK, taken in turn by
 * two threads (two CPUs to the glue): chunk 0 on one, chunk 1 on the other,
 * and so on, so a block one thread allocated is freed, resized or checked by
 * the other, and the shadow stays exact (one chunk at a time).  While a chunk
 * runs on the virtual heap, the other thread runs a side stream at the same
 * moment: SIDE_OPS kmalloc/kcalloc/krealloc/kfree of its own (seeded from the
 * chunk's bytes), every byte verified, all freed before the chunk ends.  Then
 * heap_used and slab_objects cannot be predicted step by step: they are
 * checked at the chunk's end, with everything else; the rest of each step's
 * checks stay (heap_check, the balance, error_count: the side makes no caller
 * bugs), and a misuse never uses a freed block's pointer (the side may own it
 * by then).
 *
 * After every input, every checker (heap_check, kmem_cache_check,
 * vmalloc_check; pmm_check and vmm_check when the heap moved pages) is 0.
 *
 * Between inputs the heap is reset with memory_init() (which gives the
 * virtual heap's pages back: the PMM must then be exactly as before, or
 * pages leaked); the PMM and paging are set up once.
 *
 * MM_FUZZ_TRACE=1 prints every operation (to replay a crash file);
 * built with -DFUZZ_SELFTEST a planted bug corrupts one neighbour byte on a
 * rare kfree, to show that the shadow catches it (make fuzz-selftest).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../rng.h"
#include "host.h"
#include "memory.h"
#include "pmm.h"
#include "vmalloc.h"
#include "vmm.h"

#if defined(__has_include)
#if __has_include("slab.h")
#include "blockcache.h" /* (the size classes kmalloc rounds to) */
#include "heap_internal.h"
#include "slab.h"
#define FUZZ_SLAB 1
#endif
#endif

#define SLOTS      64
#define DEAD       16 /* recently freed pointers, for double frees */
#define FULL_EVERY 16
#define EDGE       64 /* bytes verified at each end of every live block, every step */
#define RAM        (24u * 1024 * 1024)
#define KB         1024u
#define MB         (1024u * 1024)
/* Requests up to this with less than LIVE_ROOM live must succeed on the virtual heap. */
#define SURE_SIZE  (128 * KB)
#define LIVE_ROOM  (4 * MB)
/* Requests from this on must fail: more than the simulated RAM. */
#define NEVER_SIZE ((size_t)64 * MB)
#define CHUNK      32 /* two threads: ops per turn */
#define SIDE_SLOTS 8  /* the side stream's own blocks */
#define SIDE_OPS   32 /* its operations per chunk */

enum kind { K_HEAP = 1, K_SLAB };

struct slot {
    unsigned char *p; /* NULL: empty */
    size_t size;      /* bytes we own and check */
    size_t usable;    /* kmalloc_usable_size when it was allocated or resized */
    uint32_t tag;
    enum kind kind;
    int cache; /* K_SLAB: index into caches[] */
};

static struct {
    const uint8_t *in;
    size_t len, pos;
    int step, virt, trace;
    const char *op;
    uint32_t next_tag;
    struct slot live[SLOTS];
    unsigned char *dead[DEAD];
    unsigned ndead;
    int touched[4], ntouched;
    uint32_t errors_expected; /* error_count after this step, as the model says */
    uint32_t pmm_free_baseline;
    int caches_live; /* kmem caches now: their own structs are heap blocks we do not see */
    int side_active; /* another thread allocates meanwhile: heap_used checked at the chunk's end */
} fz;

/* ------------------------------------------------------------ failure ---- */

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nfuzz_heap: step %d (%s, %s heap): ", fz.step, fz.op ? fz.op : "reset",
            fz.virt ? "virtual" : "early");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    const char *con = host_console_text();
    size_t n = strlen(con);
    fprintf(stderr, "\nthe memory manager said (last lines):\n%s\n",
            n > 2000 ? con + n - 2000 : con);
    abort();
}

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

/* ------------------------------------------------------------- decoder ---- */

static int more(void)
{
    return fz.pos < fz.len;
}

static uint8_t u8(void)
{
    return fz.pos < fz.len ? fz.in[fz.pos++] : 0;
}

static uint16_t u16(void)
{
    uint16_t lo = u8();
    return (uint16_t)(lo | u8() << 8);
}

/* Mostly tiny and small, sometimes large, sometimes a boundary or an absurd size. */
static size_t decode_size(void)
{
    static const size_t special[] = {
        0,
        1,
        7,
        8,
        9,
        15,
        16,
        17,
        HEAP_HEADER_SIZE - 1,
        HEAP_HEADER_SIZE,
        HEAP_HEADER_SIZE + 1,
        2 * HEAP_HEADER_SIZE,
        4095,
        4096,
        4097,
        INITIAL_HEAP_SIZE - 2 * HEAP_HEADER_SIZE,
        INITIAL_HEAP_SIZE - HEAP_HEADER_SIZE,
        INITIAL_HEAP_SIZE,
        64 * KB + 1,
        SURE_SIZE,
        MB,
        MB + 8,
        NEVER_SIZE,
        (size_t)300 * MB,
        0x7FFFFFF0u,
        0x7FFFFFF1u,
        (size_t)1 << 31,
        SIZE_MAX / 2,
        SIZE_MAX - 7,
        SIZE_MAX,
    };
    uint8_t b = u8();
    switch (b >> 6) {
    case 0:
        return 1 + (b & 63u);
    case 1:
        return 1 + ((size_t)(b & 63u) << 8 | u8());
    case 2:
        return 1 + ((size_t)(b & 63u) << 12 | (u16() & 0xFFFu));
    default:
        return special[(b & 63u) % (sizeof(special) / sizeof(special[0]))];
    }
}

/* Powers of two from 1 to 64 KB, and now and then a bad or absurd one. */
static size_t decode_align(void)
{
    static const size_t odd[] = {0, 3, 6, 24, 100, 4097, 65535, MB, (size_t)1 << 40, SIZE_MAX};
    uint8_t b = u8();
    if (b < 0xF0)
        return (size_t)1 << (b % 17);
    return odd[(b - 0xF0) % (sizeof(odd) / sizeof(odd[0]))];
}

/* ------------------------------------------------------------- shadow ---- */

static unsigned char pattern(uint32_t tag, size_t i)
{
    return (unsigned char)(tag + i * 7 + (i >> 8) * 13);
}

/*
 * The byte loops are the harness's, not the code under test: no coverage
 * hooks on their compares (they would cost more than the heap itself).
 */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))

NO_COVERAGE static void fill(struct slot *s, size_t from)
{
    for (size_t i = from; i < s->size; i++)
        s->p[i] = pattern(s->tag, i);
}

NO_COVERAGE static void verify_range(int n, size_t from, size_t to)
{
    const struct slot *s = &fz.live[n];
    for (size_t i = from; s->p && i < to && i < s->size; i++) {
        if (s->p[i] != pattern(s->tag, i))
            fail("slot %d: block %p (%zu bytes) byte %zu is 0x%02x, not 0x%02x", n, (void *)s->p,
                 s->size, i, s->p[i], pattern(s->tag, i));
    }
}

static void verify(int n)
{
    verify_range(n, 0, fz.live[n].size);
}

static void touch(int n)
{
    if (fz.ntouched < 4)
        fz.touched[fz.ntouched++] = n;
}

static size_t live_bytes(enum kind k)
{
    size_t sum = 0;
    for (int i = 0; i < SLOTS; i++)
        sum += fz.live[i].p && fz.live[i].kind == k ? fz.live[i].usable : 0;
    return sum;
}

static int inside_virtual(const unsigned char *p)
{
    uintptr_t virt = (uintptr_t)host_virt_ptr(HEAP_VIRTUAL_START);
    return (uintptr_t)p >= virt &&
           (uintptr_t)p - virt <= (uintptr_t)HEAP_VIRTUAL_END - HEAP_VIRTUAL_START;
}

static int inside_heap(const unsigned char *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    uintptr_t early = (uintptr_t)host_phys_base() + HEAP_START;
    uintptr_t virt = (uintptr_t)host_virt_ptr(HEAP_VIRTUAL_START);
    uintptr_t vsize = (uintptr_t)HEAP_VIRTUAL_END - HEAP_VIRTUAL_START + 1;
    return (a >= early + HEAP_HEADER_SIZE && a + n <= early + INITIAL_HEAP_SIZE) ||
           (fz.virt && a >= virt + HEAP_HEADER_SIZE && a + n <= virt + vsize);
}

/*
 * A block from the heap: aligned, inside the heap, clear of every live block;
 * and after Phase 2, a new one (not one resized in place) from the virtual heap.
 */
static void check_new(int self, const unsigned char *p, size_t n, size_t align, int fresh)
{
    REQUIRE((uintptr_t)p % align == 0, "%p is not %zu-aligned", (void *)p, align);
    REQUIRE(inside_heap(p, n), "%p + %zu is not inside a heap region", (void *)p, n);
    REQUIRE(!fresh || !fz.virt || inside_virtual(p),
            "%p: a new block from the early heap after Phase 2", (void *)p);
    for (int i = 0; i < SLOTS; i++) {
        const struct slot *o = &fz.live[i];
        if (i == self || !o->p)
            continue;
        REQUIRE(p + n <= o->p || o->p + o->size <= p,
                "new block %p + %zu overlaps live slot %d (%p + %zu)", (void *)p, n, i,
                (void *)o->p, o->size);
    }
}

#ifdef FUZZ_SLAB
static int in_slab(const unsigned char *p);
#endif

/* What the heap says is usable: at least what was asked, and no more than a split would leave. */
static size_t check_usable(int n, size_t asked)
{
    size_t u = kmalloc_usable_size(fz.live[n].p);
    size_t min_payload = 2 * sizeof(void *);
    size_t need = ALIGN_8(asked) < min_payload ? min_payload : ALIGN_8(asked);
    REQUIRE(u >= asked, "slot %d: usable size %zu < %zu asked", n, u, asked);
#ifdef FUZZ_SLAB
    /* a size class's object: its class may be far above for an alignment (kmalloc-512 at most) */
    if (in_slab(fz.live[n].p)) {
        REQUIRE(u <= 512, "slot %d: usable size %zu of an object in a slab", n, u);
        return u;
    }
#endif
#ifdef FUZZ_SLAB
    /*
     * The virtual heap rounds 513 B-64 KB up to a size class of the CPUs' block
     * caches (mm/blockcache.h) when it hands out a new block, and a CPU serves
     * class c with any block it keeps there: one smaller than class c + 1 (a
     * block krealloc resized in place, or kmalloc_aligned's, is of any size).
     */
    if (fz.virt && asked >= BC_MIN && asked <= BC_MAX) {
        unsigned c = bc_class_of(asked);
        size_t top = c + 1 < BC_CLASSES ? bc_class_size(c + 1) : BC_BLOCK_MAX;
        if (top > need)
            need = top;
    }
#endif
    REQUIRE(u < need + HEAP_HEADER_SIZE + min_payload,
            "slot %d: usable size %zu: a tail that could stand alone was not split off (%zu asked)",
            n, u, asked);
    return u;
}

/* Freed kmalloc blocks, for double and stale frees (pool objects never: see bad_pointer). */
static void remember_dead(unsigned char *p)
{
    fz.dead[fz.ndead++ % DEAD] = p;
}

/* --------------------------------------------------------- operations ---- */

#ifdef FUZZ_SLAB
/*
 * Object caches.  A cache made with a constructor must get its objects back
 * in their constructed state (slab.h): release() rebuilds it before freeing,
 * and a fresh object must show it (nothing wrote into the free object).
 */
#define CACHES 4
static struct {
    kmem_cache_t *c; /* NULL: none */
    size_t size, align;
    int ctor;
} caches[CACHES];

static unsigned char constructed(int c, size_t i)
{
    return (unsigned char)(0xC5 + c * 16 + i * 3);
}

NO_COVERAGE static void construct(int c, unsigned char *obj)
{
    for (size_t i = 0; i < caches[c].size; i++)
        obj[i] = constructed(c, i);
}

NO_COVERAGE static size_t first_unconstructed(int c, const unsigned char *obj)
{
    size_t i = 0;
    while (i < caches[c].size && obj[i] == constructed(c, i))
        i++;
    return i;
}

#define CTOR(c)                                                                                    \
    static void ctor##c(void *obj)                                                                 \
    {                                                                                              \
        construct(c, obj);                                                                         \
    }
CTOR(0)
CTOR(1)
CTOR(2)
CTOR(3)
static void (*const ctors[CACHES])(void *) = {ctor0, ctor1, ctor2, ctor3};

/*
 * Which of the n blocks at ptr[] are objects of kmalloc's size-class caches?
 * The heap's own bit per page (heap_internal.h) says which pages are slabs:
 * since slab headers went out of band, object 0 may sit right after the
 * page's block header, where an ordinary page-aligned block's payload would.
 */
static void find_in_slabs(const unsigned char *const *ptr, int n, int *in)
{
    for (int i = 0; i < n; i++)
        in[i] = ptr[i] && heap_slab_page_of((uintptr_t)ptr[i]) != 0;
}

static int in_slab(const unsigned char *p)
{
    int in;
    find_in_slabs(&p, 1, &in);
    return in;
}
#endif

/* Give slot n back to the allocator it came from (its bytes verified first). */
static void release(int n)
{
    struct slot *s = &fz.live[n];
    if (!s->p)
        return;
    verify(n);
#ifdef FUZZ_SLAB
    if (s->kind == K_SLAB && caches[s->cache].ctor)
        construct(s->cache, s->p);
    if (s->kind == K_SLAB)
        kmem_cache_free(caches[s->cache].c, s->p);
    else
#endif
        kfree(s->p);
#ifdef FUZZ_SELFTEST
    /* The planted bug: a rare kfree scribbles on the block right after it. */
    if (s->size % 64 == 37 && s->size > 1000) {
        for (int i = 0; i < SLOTS; i++) {
            struct slot *o = &fz.live[i];
            if (o->p && o->p > s->p && o->p <= s->p + s->usable + 2 * HEAP_HEADER_SIZE)
                o->p[o->size / 2] ^= 0x40;
        }
    }
#endif
    if (s->kind == K_HEAP)
        remember_dead(s->p);
    s->p = NULL;
}

NO_COVERAGE static size_t first_nonzero(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] == 0)
        i++;
    return i;
}

/* kmalloc-family result into slot n: checked, filled, remembered. */
static void store(int n, unsigned char *p, size_t size, size_t align, int zeroed)
{
    struct slot *s = &fz.live[n];
    check_new(n, p, size, align, 1);
    size_t nonzero = zeroed ? first_nonzero(p, size) : size;
    REQUIRE(nonzero == size, "kcalloc: byte %zu of %zu is 0x%02x, not zero", nonzero, size,
            p[nonzero]);
    *s = (struct slot){.p = p, .size = size, .tag = fz.next_tag++, .kind = K_HEAP};
    s->usable = check_usable(n, size);
    fill(s, 0);
    touch(n);
}

/* Must a request of n bytes succeed now?  (-1: must fail, 0: may fail, 1: must succeed) */
static int expect_alloc(size_t n, size_t extra)
{
    if (n == 0 || n >= NEVER_SIZE || extra >= NEVER_SIZE)
        return -1;
    if (fz.virt)
        return n <= SURE_SIZE && extra <= 64 * KB && live_bytes(K_HEAP) < LIVE_ROOM;
    if (extra)
        return 0;
    /*
     * The early heap cannot grow.  Good fit (TLSF) looks at the head of the
     * request's own size class, then at any class above it: a request within
     * 1/16 of the largest free block may fail; one that leaves more room
     * must not.
     */
    memory_stats_t st;
    get_memory_stats(&st);
    size_t need = ALIGN_8(n);
    return need + need / 16 + 8 <= st.largest_free_block;
}

static void after_alloc(const char *fn, int n, unsigned char *p, size_t size, int want)
{
    REQUIRE(!(want < 0 && p), "%s(%zu) = %p: should have failed", fn, size, (void *)p);
    REQUIRE(!(want > 0 && !p), "%s(%zu) failed although there was room", fn, size);
    (void)n;
}

static void op_kmalloc(void)
{
    int n = u8() % SLOTS;
    size_t size = decode_size();
    release(n);
    int want = expect_alloc(size, 0);
    unsigned char *p = kmalloc(size);
    after_alloc("kmalloc", n, p, size, want);
    if (p)
        store(n, p, size, HEAP_ALIGN, 0);
}

static void op_kcalloc(void)
{
    int n = u8() % SLOTS;
    uint8_t c = u8();
    size_t size = decode_size();
    size_t count;
    if (c < 0xE0)
        count = c & 31;
    else if (c < 0xF0 && size)
        count = SIZE_MAX / size + 1 + (c & 3); /* count * size just overflows */
    else if (size)
        count = SIZE_MAX / size; /* just does not overflow: absurd, but no caller bug */
    else
        count = SIZE_MAX;
    release(n);
    int overflows = count && size > SIZE_MAX / count;
    int want = overflows ? -1 : expect_alloc(count * size, 0);
    unsigned char *p = kcalloc(count, size);
    fz.errors_expected += overflows;
    REQUIRE(!(want < 0 && p), "kcalloc(%zu, %zu) = %p: should have failed", count, size, (void *)p);
    REQUIRE(!(want > 0 && !p), "kcalloc(%zu, %zu) failed although there was room", count, size);
    if (p)
        store(n, p, count * size, HEAP_ALIGN, 1);
}

static void op_krealloc(void)
{
    int n = u8() % SLOTS;
    size_t size = decode_size();
    struct slot *s = &fz.live[n];
    if (s->p && s->kind != K_HEAP)
        return;
    if (!s->p) { /* krealloc(NULL, n) is kmalloc(n) */
        int want = expect_alloc(size, 0);
        unsigned char *p = krealloc(NULL, size);
        after_alloc("krealloc(NULL)", n, p, size, want);
        if (p)
            store(n, p, size, HEAP_ALIGN, 0);
        return;
    }
    verify(n);
    touch(n);
    if (size == 0) { /* frees, returns NULL */
        REQUIRE(krealloc(s->p, 0) == NULL, "krealloc(p, 0) did not return NULL");
        remember_dead(s->p);
        s->p = NULL;
        return;
    }
    int want = size <= s->usable ? 1 : expect_alloc(size, 0);
    unsigned char *q = krealloc(s->p, size);
    REQUIRE(!(want < 0 && q), "krealloc(%p, %zu) = %p: should have failed", (void *)s->p, size,
            (void *)q);
    REQUIRE(!(want > 0 && !q), "krealloc(%p, %zu) failed although there was room", (void *)s->p,
            size);
    if (!q) { /* a failed krealloc leaves the block alone */
        verify(n);
        return;
    }
    size_t keep = size < s->size ? size : s->size;
    struct slot old = *s;
    s->p = q;
    s->size = keep;
    verify(n); /* the old contents moved (or stayed) */
    if (q != old.p)
        remember_dead(old.p);
    check_new(n, q, size, HEAP_ALIGN, q != old.p);
    s->size = size;
    s->usable = check_usable(n, size);
    fill(s, keep);
}

static void op_kfree(void)
{
    int n = u8() % SLOTS;
    if (!fz.live[n].p) {
        kfree(NULL); /* does nothing */
        return;
    }
    touch(n);
    release(n);
}

static void op_kmalloc_aligned(void)
{
    int n = u8() % SLOTS;
    size_t align = decode_align();
    size_t size = decode_size();
    int bad = align == 0 || (align & (align - 1));
    release(n);
    int want = bad ? -1 : expect_alloc(size, align > HEAP_ALIGN ? align : 0);
    unsigned char *p = kmalloc_aligned(size, align);
    fz.errors_expected += bad;
    REQUIRE(!(want < 0 && p), "kmalloc_aligned(%zu, %zu) = %p: should have failed", size, align,
            (void *)p);
    REQUIRE(!(want > 0 && !p), "kmalloc_aligned(%zu, %zu) failed although there was room", size,
            align);
    if (p)
        store(n, p, size, align, 0);
}

/* The usable size is really usable: take it all and fill it. */
static void op_usable_size(void)
{
    int n = u8() % SLOTS;
    struct slot *s = &fz.live[n];
    if (!s->p) {
        REQUIRE(kmalloc_usable_size(NULL) == 0, "kmalloc_usable_size(NULL) != 0");
        return;
    }
    if (s->kind != K_HEAP)
        return;
    touch(n);
    size_t u = kmalloc_usable_size(s->p);
    REQUIRE(u == s->usable, "slot %d: usable size changed from %zu to %zu", n, s->usable, u);
    size_t old = s->size;
    s->size = u;
    fill(s, old);
}

/* A pointer that is no live block's start: stale, interior, misaligned or wild. */
static unsigned char *bad_pointer(void)
{
    static char outside;
    uint8_t how = u8();
    int n = u8() % SLOTS;
    struct slot *s = &fz.live[n];
    unsigned char *early = (unsigned char *)host_phys_base() + HEAP_START;
    switch (how % 6) {
    case 0: { /* a freed block's pointer, if no live block starts there now */
        /* (not while caches live: a cache's struct is a block we cannot see) */
        /* (nor while the side stream runs: it may have that block now) */
        unsigned char *p = fz.caches_live || fz.side_active ? NULL : fz.dead[how / 6 % DEAD];
        for (int i = 0; p && i < SLOTS; i++) {
            if (fz.live[i].p == p)
                p = NULL;
        }
        return p;
    }
    case 1: /* inside a live block */
        return s->p && s->size > 1 ? s->p + 1 + how % (s->size - 1) : NULL;
    case 2: /* 8-aligned inside a live block */
        return s->p && s->size > HEAP_ALIGN ? s->p + HEAP_ALIGN * (1 + how % (s->size / 8)) : NULL;
    case 3: /* just outside the early heap */
        return how & 1 ? early - HEAP_HEADER_SIZE : early + INITIAL_HEAP_SIZE + HEAP_HEADER_SIZE;
    case 4: /* the very start of the early heap (its first header) */
        return early + HEAP_ALIGN * (how % 4);
    default: /* not the heap at all */
        return how & 1 ? (unsigned char *)&outside : (unsigned char *)(uintptr_t)0x1234;
    }
}

/* Misuse: one report, and nothing else changes. */
static void misuse(int which)
{
    unsigned char *p = bad_pointer();
    size_t size = decode_size();
    if (!p)
        return;
    memory_stats_t before, after;
    get_memory_stats(&before);
    if (which == 0) {
        kfree(p);
    } else if (which == 1) {
        REQUIRE(krealloc(p, size) == NULL, "krealloc of bad pointer %p did not return NULL",
                (void *)p);
    } else {
        REQUIRE(kmalloc_usable_size(p) == 0, "kmalloc_usable_size of bad pointer %p != 0",
                (void *)p);
    }
    fz.errors_expected++;
    get_memory_stats(&after);
    REQUIRE(fz.side_active || after.heap_used == before.heap_used &&
                                  after.heap_free == before.heap_free &&
                                  after.block_count == before.block_count &&
                                  after.free_block_count == before.free_block_count,
            "a misuse with %p changed the heap (used %u -> %u, free %u -> %u, blocks %u -> %u)",
            (void *)p, before.heap_used, after.heap_used, before.heap_free, after.heap_free,
            before.block_count, after.block_count);
}

static void op_bad_kfree(void)
{
    misuse(0);
}

static void op_bad_krealloc(void)
{
    misuse(1);
}

static void op_bad_usable_size(void)
{
    misuse(2);
}

/* Phase 2 mid-run: the heap moves; early blocks stay valid and kfree-able. */
static void op_go_virtual(void)
{
    if (fz.virt)
        return;
    heap_init_virtual();
    fz.virt = 1;
}

/* Rewrite a block with a new tag: every byte of it is the caller's. */
static void op_rewrite(void)
{
    int n = u8() % SLOTS;
    struct slot *s = &fz.live[n];
    if (!s->p)
        return;
    verify(n);
    touch(n);
    s->tag = fz.next_tag++;
    fill(s, 0);
}

/* A run of small allocations, then every other one freed: fragmentation. */
static void op_comb(void)
{
    int first = u8() % SLOTS, count = 1 + u8() % 16;
    size_t size = 1 + u8() % 200;
    for (int i = 0; i < count; i++) {
        int n = (first + i) % SLOTS;
        release(n);
        unsigned char *p = kmalloc(size);
        if (p)
            store(n, p, size, HEAP_ALIGN, 0);
    }
    for (int i = 0; i < count; i += 2)
        release((first + i) % SLOTS);
    fz.ntouched = 0; /* every block of the run was verified on its way out or just filled */
}

#ifdef FUZZ_SLAB
static void cache_destroy(int c)
{
    for (int i = 0; i < SLOTS; i++) {
        if (fz.live[i].p && fz.live[i].kind == K_SLAB && fz.live[i].cache == c)
            release(i);
    }
    REQUIRE(kmem_cache_destroy(caches[c].c) == 0, "kmem_cache_destroy of an unused cache failed");
    caches[c].c = NULL;
    fz.caches_live--;
}

static void op_cache_create(void)
{
    int c = u8() % CACHES;
    size_t size = decode_size();
    size_t align = decode_align();
    int ctor = u8() & 1;
    if (caches[c].c)
        cache_destroy(c);
    int bad = size == 0 || size > KMEM_CACHE_MAX_OBJECT || (align & (align - 1)) ||
              align > KMEM_CACHE_MAX_OBJECT;
    caches[c].size = size; /* before the constructor can run */
    kmem_cache_t *k = kmem_cache_create("fuzz", size, align, ctor ? ctors[c] : NULL);
    if (bad) {
        REQUIRE(!k, "kmem_cache_create(%zu, align %zu) of a bad size or alignment succeeded", size,
                align);
        fz.errors_expected++;
        return;
    }
    REQUIRE(k || !fz.virt, "kmem_cache_create(%zu, align %zu) failed on the virtual heap", size,
            align);
    if (!k)
        return;
    caches[c].c = k;
    caches[c].align = align ? align : HEAP_ALIGN;
    caches[c].ctor = ctor;
    fz.caches_live++;
}

static void op_cache_alloc(void)
{
    int c = u8() % CACHES, n = u8() % SLOTS;
    if (!caches[c].c)
        return;
    release(n);
    unsigned char *p = kmem_cache_alloc(caches[c].c);
    REQUIRE(p || !fz.virt, "kmem_cache_alloc (%zu bytes) failed on the virtual heap",
            caches[c].size);
    if (!p)
        return;
    check_new(n, p, caches[c].size, caches[c].align, 0);
    size_t bad = caches[c].ctor ? first_unconstructed(c, p) : caches[c].size;
    REQUIRE(bad == caches[c].size, "cache object %p byte %zu is 0x%02x: not as constructed",
            (void *)p, bad, p[bad]);
    struct slot *s = &fz.live[n];
    *s = (struct slot){.p = p,
                       .size = caches[c].size,
                       .usable = caches[c].size,
                       .tag = fz.next_tag++,
                       .kind = K_SLAB,
                       .cache = c};
    fill(s, 0);
    touch(n);
}

/* slab.h: plain kfree frees any slab object. */
static void op_cache_kfree(void)
{
    int n = u8() % SLOTS;
    struct slot *s = &fz.live[n];
    if (!s->p)
        return;
    if (s->kind == K_SLAB) {
        verify(n);
        if (caches[s->cache].ctor)
            construct(s->cache, s->p);
        kfree(s->p);
        s->p = NULL;
        return;
    }
    touch(n);
    release(n);
}

static void op_cache_destroy(void)
{
    int c = u8() % CACHES;
    if (caches[c].c)
        cache_destroy(c);
}

/* Misuse: destroy a cache in use, or free an object into another cache. */
static void op_cache_misuse(void)
{
    int n = u8() % SLOTS, other = u8() % CACHES;
    struct slot *s = &fz.live[n];
    if (!s->p || s->kind != K_SLAB)
        return;
    touch(n);
    if (other == s->cache || !caches[other].c) {
        REQUIRE(kmem_cache_destroy(caches[s->cache].c) == -1,
                "kmem_cache_destroy of a cache with live objects did not refuse");
    } else {
        kmem_cache_free(caches[other].c, s->p); /* reported; the object stays allocated */
    }
    fz.errors_expected++;
}
#endif

struct op {
    const char *name;
    void (*run)(void);
};

/* Fixed numbers: a corpus keeps its meaning as ops are added (see the top). */
static const struct op ops[32] = {
    [0] = {"kmalloc", op_kmalloc},
    [1] = {"kcalloc", op_kcalloc},
    [2] = {"krealloc", op_krealloc},
    [3] = {"kfree", op_kfree},
    [4] = {"kmalloc_aligned", op_kmalloc_aligned},
    [5] = {"kmalloc_usable_size", op_usable_size},
    [6] = {"kfree(bad pointer)", op_bad_kfree},
    [7] = {"krealloc(bad pointer)", op_bad_krealloc},
    [8] = {"kmalloc_usable_size(bad pointer)", op_bad_usable_size},
    [9] = {"heap_init_virtual", op_go_virtual},
    [10] = {"rewrite", op_rewrite},
    [11] = {"comb", op_comb},
#ifdef FUZZ_SLAB
    [16] = {"kmem_cache_create", op_cache_create},
    [17] = {"kmem_cache_alloc", op_cache_alloc},
    [18] = {"kfree(cache object)", op_cache_kfree},
    [19] = {"kmem_cache_destroy", op_cache_destroy},
    [20] = {"kmem_cache misuse", op_cache_misuse},
#endif
};

static const struct op *decode_op(uint8_t b)
{
    const struct op *o = &ops[b & 31];
    if (o->run)
        return o;
    return &ops[b & 1 ? 3 : 0]; /* unused numbers: kfree or kmalloc */
}

/* ------------------------------------------------------------- checks ---- */

static void check_step(void)
{
    for (int i = 0; i < fz.ntouched; i++)
        verify(fz.touched[i]);
    fz.ntouched = 0;
    int full = fz.step % FULL_EVERY == 0;
    for (int i = 0; i < SLOTS; i++) {
        const struct slot *s = &fz.live[i];
        if (!s->p)
            continue;
        if (full || s->size <= 2 * EDGE) {
            verify(i);
        } else {
            verify_range(i, 0, EDGE);
            verify_range(i, s->size - EDGE, s->size);
        }
    }
    int broken = heap_check();
    REQUIRE(broken == 0, "heap_check() found %d broken invariants", broken);
    memory_stats_t st;
    get_memory_stats(&st);
    REQUIRE(st.heap_size == st.heap_used + st.heap_free + st.block_count * HEAP_HEADER_SIZE,
            "stats do not balance: size %u != used %u + free %u + %u headers", st.heap_size,
            st.heap_used, st.heap_free, st.block_count);
#ifdef FUZZ_SLAB
    /*
     * Small kmalloc blocks may be objects in slab pages, which count whole in
     * heap_used.  (Skipped while kmem caches live: their structs are blocks too.)
     */
    if (!fz.caches_live && !fz.side_active) {
        size_t blocks = 0;
        uint32_t objects = 0;
        const unsigned char *ptr[SLOTS];
        int in[SLOTS];
        for (int i = 0; i < SLOTS; i++)
            ptr[i] = fz.live[i].p;
        find_in_slabs(ptr, SLOTS, in);
        for (int i = 0; i < SLOTS; i++) {
            if (ptr[i] && in[i])
                objects++;
            else if (ptr[i])
                blocks += fz.live[i].usable;
        }
        /* (and the freed blocks the CPUs keep: allocated to the heap, counted apart) */
        size_t want = blocks + (size_t)st.slab_pages * (PAGE_SIZE - HEAP_HEADER_SIZE) +
                      st.heap_cpu_cached_bytes;
        REQUIRE(st.heap_used == want,
                "heap_used %u, but the live blocks hold %zu, %u slab pages %zu and the CPUs' "
                "cached blocks %u",
                st.heap_used, blocks, st.slab_pages,
                (size_t)st.slab_pages * (PAGE_SIZE - HEAP_HEADER_SIZE), st.heap_cpu_cached_bytes);
        REQUIRE(st.slab_objects == objects, "slab_objects %u, but %u live blocks are in slabs",
                st.slab_objects, objects);
    }
#else
    REQUIRE(fz.side_active || st.heap_used == live_bytes(K_HEAP) + st.heap_cpu_cached_bytes,
            "heap_used %u, but the live blocks hold %zu and the CPUs' cached blocks %u",
            st.heap_used, live_bytes(K_HEAP), st.heap_cpu_cached_bytes);
#endif
    REQUIRE(st.error_count == fz.errors_expected, "error_count %u, expected %u (last report: %s)",
            st.error_count, fz.errors_expected, mm_last_error());
}

/* ------------------------------------------------------------ the run ---- */

static void reset(int virt)
{
    memory_init(); /* gives the virtual heap's pages back */
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    REQUIRE(ps.free_pages == fz.pmm_free_baseline,
            "after memory_init the PMM has %u free pages, %u before: pages leaked", ps.free_pages,
            fz.pmm_free_baseline);
    host_console_clear();
    memset(fz.live, 0, sizeof(fz.live));
    fz.ndead = 0;
    memset(fz.dead, 0, sizeof(fz.dead));
    fz.ntouched = 0;
    fz.errors_expected = 0;
    fz.caches_live = 0;
#ifdef FUZZ_SLAB
    memset(caches, 0, sizeof(caches)); /* memory_init forgot them */
#endif
    fz.step = 0;
    fz.op = NULL;
    fz.virt = virt;
    if (virt)
        heap_init_virtual();
    check_step();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz.trace = getenv("MM_FUZZ_TRACE") != NULL;
    memory_init();
    pmm_init(RAM);
    vmm_reset();
    host_mmu_reset();
    vmm_init();
    memory_init();
    pmm_stats_t ps;
    pmm_get_stats(&ps);
    fz.pmm_free_baseline = ps.free_pages;
    return 0;
}

/* Up to max ops of the input (or to its end), each checked. */
static void run_ops(int max, int thread)
{
    for (int n = 0; n < max && more(); n++) {
        const struct op *o = decode_op(u8());
        fz.step++;
        fz.op = o->name;
        if (fz.trace)
            fprintf(stderr, "step %d: %s, argument bytes from offset %zu%s\n", fz.step, o->name,
                    fz.pos,
                    thread < 0 ? ""
                    : thread   ? " (thread 1)"
                               : " (thread 0)");
        o->run();
        check_step();
    }
}

/* ------------------------------------------------------- two threads ---- */

__attribute__((noreturn, format(printf, 1, 2))) static void side_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nfuzz_heap: side stream: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

static unsigned char side_byte(uint32_t seed, int k, size_t i)
{
    return (unsigned char)(seed + (uint32_t)k * 31 + i * 11 + (i >> 8));
}

NO_COVERAGE static void side_fill(unsigned char *p, size_t from, size_t n, uint32_t seed, int k)
{
    for (size_t i = from; i < n; i++)
        p[i] = side_byte(seed, k, i);
}

NO_COVERAGE static void side_verify(const unsigned char *p, size_t n, uint32_t seed, int k,
                                    const char *when)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != side_byte(seed, k, i))
            side_fail("%s: block %p (%zu bytes) byte %zu is 0x%02x, not 0x%02x", when,
                      (const void *)p, n, i, p[i], side_byte(seed, k, i));
    }
}

/* The other thread's own work while a chunk runs on the virtual heap: all freed at the end. */
static void side_stream(uint32_t seed)
{
    struct {
        unsigned char *p;
        size_t n;
        uint32_t tag;
    } b[SIDE_SLOTS] = {{0}};
    uint32_t rng = seed ? seed : 1;
    for (int i = 0; i < SIDE_OPS; i++) {
        int k = (int)(rng_next(&rng) % SIDE_SLOTS);
        uint32_t r = rng_next(&rng);
        size_t n = r % 8 ? 1 + r % 512 : 1 + r % (8 * KB); /* mostly the size classes */
        if (b[k].p && r % 3 == 0) {
            side_verify(b[k].p, b[k].n, b[k].tag, k, "before krealloc");
            unsigned char *q = krealloc(b[k].p, n);
            if (!q)
                side_fail("krealloc(%p, %zu) failed", (void *)b[k].p, n);
            size_t keep = n < b[k].n ? n : b[k].n;
            side_verify(q, keep, b[k].tag, k, "after krealloc");
            side_fill(q, keep, n, b[k].tag, k);
            b[k].p = q;
            b[k].n = n;
        } else if (b[k].p) {
            side_verify(b[k].p, b[k].n, b[k].tag, k, "before kfree");
            kfree(b[k].p);
            b[k].p = NULL;
        } else {
            b[k].p = r % 5 ? kmalloc(n) : kcalloc(1, n);
            if (!b[k].p)
                side_fail("kmalloc(%zu) failed", n);
            b[k].n = n;
            b[k].tag = rng_next(&rng);
            side_fill(b[k].p, 0, n, b[k].tag, k);
        }
    }
    for (int k = 0; k < SIDE_SLOTS; k++) {
        if (b[k].p) {
            side_verify(b[k].p, b[k].n, b[k].tag, k, "at the chunk's end");
            kfree(b[k].p);
        }
    }
}

enum { JOB_IDLE, JOB_STREAM, JOB_SIDE };
static struct {
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    unsigned gen, finished;
    int job[2];
    uint32_t side_seed;
    int started;
} tw = {.lock = PTHREAD_MUTEX_INITIALIZER,
        .go = PTHREAD_COND_INITIALIZER,
        .done = PTHREAD_COND_INITIALIZER};

static void *chunk_worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&tw.lock);
        while (tw.gen == seen)
            pthread_cond_wait(&tw.go, &tw.lock);
        seen = tw.gen;
        int job = tw.job[me];
        uint32_t seed = tw.side_seed;
        pthread_mutex_unlock(&tw.lock);
        if (job == JOB_STREAM)
            run_ops(CHUNK, me);
        else if (job == JOB_SIDE)
            side_stream(seed);
        pthread_mutex_lock(&tw.lock);
        tw.finished++;
        pthread_cond_signal(&tw.done);
        pthread_mutex_unlock(&tw.lock);
    }
    return NULL;
}

/* One chunk: the input's next CHUNK ops on thread `on`, the side stream (or nothing) on the other.
 */
static void run_chunk(int on, int side, uint32_t seed)
{
    pthread_mutex_lock(&tw.lock);
    if (!tw.started) {
        for (intptr_t i = 0; i < 2; i++) {
            pthread_t t;
            if (pthread_create(&t, NULL, chunk_worker, (void *)i) != 0)
                fail("pthread_create failed");
            pthread_detach(t);
        }
        tw.started = 1;
    }
    tw.job[on] = JOB_STREAM;
    tw.job[!on] = side ? JOB_SIDE : JOB_IDLE;
    tw.side_seed = seed;
    tw.finished = 0;
    tw.gen++;
    pthread_cond_broadcast(&tw.go);
    while (tw.finished < 2)
        pthread_cond_wait(&tw.done, &tw.lock);
    pthread_mutex_unlock(&tw.lock);
}

static void run_two_threads(void)
{
    for (int chunk = 0; more(); chunk++) {
        int side = fz.virt;          /* the early heap's must-succeed rules need it to ourselves */
        uint32_t seed = 2166136261u; /* FNV-1a of the chunk's first bytes: the side's seed */
        for (size_t i = fz.pos; i < fz.pos + 16 && i < fz.len; i++)
            seed = (seed ^ fz.in[i]) * 16777619u;
        fz.side_active = side;
        run_chunk(chunk & 1, side, seed ^ (uint32_t)chunk);
        fz.side_active = 0;
        if (side)
            check_step(); /* heap_used and slab_objects exact again */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    fz.in = data;
    fz.len = size;
    fz.pos = 1;
    reset(data[0] & 1);
    if (data[0] & 2)
        run_two_threads();
    else
        run_ops(INT32_MAX, -1);
    fz.op = "end of input";
    for (int i = 0; i < SLOTS; i++)
        release(i);
#ifdef FUZZ_SLAB
    for (int c = 0; c < CACHES; c++) {
        if (caches[c].c)
            cache_destroy(c);
    }
#endif
    check_step();
    /* The page-level checkers walk all RAM: only when the heap has mapped or unmapped pages. */
    memory_stats_t st;
    get_memory_stats(&st);
    if (st.heap_virtual_peak > 64 * KB) {
        int broken = pmm_check() + vmm_check();
        REQUIRE(broken == 0, "pmm_check + vmm_check found %d broken invariants", broken);
    }
    int broken = vmalloc_check();
#ifdef FUZZ_SLAB
    broken += kmem_cache_check();
#endif
    REQUIRE(broken == 0, "kmem_cache_check + vmalloc_check found %d broken invariants", broken);
    return 0;
}

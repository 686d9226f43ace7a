/*
 * test_hostile.c - the heap against a hostile tester (issue 9, bugs 1 to 3),
 * in Phase 1 (the early heap after memory_init) and Phase 2 (the virtual
 * heap: pmm + vmm + heap_init_virtual), on both ABIs.
 *
 *   1. forged links and sizes: every boundary value a stray word can hold
 *      (0, 1, -1, -HDR, -8, -24, the region's edges, sizes whose block end
 *      wraps, odd values...) in every link and size field of a live block,
 *      of a free block and of the region's free last block; then each heap
 *      call once.  Expect no crash (ASan/UBSan clean), a report, heap_check()
 *      back at 0 once the heap has repaired the damage or the test has put
 *      the word back (the heap left the block alone), every live block
 *      intact, and no later allocation overlapping a live one.
 *   2. the block the heap reaches through a stored pointer (the region's last
 *      block, grown and shrunk at the end of the virtual heap) smashed by an
 *      ordinary overflow, then a large kmalloc, heap_trim, heap_reserve.
 *   3. a free block that fits, behind a class head that does not: kmalloc
 *      must find it (no false out of memory in Phase 1, no growth in Phase 2).
 *
 * Every allocation made here is checked the same way (t_alloc): at least the
 * bytes asked for (kmalloc_usable_size), all of them writable, inside the
 * heap and clear of every block the test holds.
 *
 * A crash fails the one test and names the case: SIGSEGV, SIGBUS, SIGABRT
 * (glue_panic) and a watchdog alarm are caught here.
 */
#include "attack.h"

#define MB   (1024u * 1024u)
#define PTR  sizeof(void *)
#define BIG  1000u /* above SLAB_KMALLOC_MAX: a heap block in both phases */
#define FREE (BIG + 200u)
#define HUGE 200000u

enum { PHASE1, PHASE2 };

/* ------------------------------------------------------------ harness ---- */

static int phase;
static uintptr_t region_start, region_end; /* the region kmalloc allocates from */

static void region_now(void)
{
    if (phase == PHASE1) {
        region_start = HEAP_BASE;
        region_end = HEAP_END;
    } else {
        region_start = (uintptr_t)host_virt_ptr(HEAP_VIRTUAL_START);
        region_end = region_start + stats_now().heap_virtual_size;
    }
}

/* A fresh heap.  Phase 2: a fresh PMM and VMM once per test (`whole`), a fresh heap each case. */
static void start_(int ph, int whole)
{
    phase = ph;
    if (ph == PHASE1) {
        memory_init();
    } else {
        if (whole)
            fresh_paging_ram(8 * MB);
        memory_init(); /* gives the virtual heap's pages back */
        heap_init_virtual();
        /*
         * The heap's own blocks: the layouts here are of exact sizes whose
         * frees go straight to the free lists (the per-CPU block caches round
         * and keep them: their attacks are test_blockcache.c's).
         */
        mm_set_block_cache(0);
    }
    host_console_clear();
    region_now();
}

static void start(int ph)
{
    start_(ph, 1);
}

static int intact(const void *p, size_t n, unsigned tag)
{
    return first_change(p, n, tag) == n;
}

/* A block the test holds: its header and n bytes of data tagged `tag`. */
typedef struct {
    void *p;
    size_t n;
    unsigned tag;
} held_t;

#define MAX_HELD 64
static held_t held[MAX_HELD];
static int nheld;

static void hold(void *p, size_t n)
{
    assert_true(nheld < MAX_HELD);
    held[nheld] = (held_t){p, n, 100u + (unsigned)nheld};
    fill(p, n, held[nheld].tag);
    nheld++;
}

static void drop(void *p)
{
    for (int i = 0; i < nheld; i++) {
        if (held[i].p == p) {
            held[i] = held[--nheld];
            return;
        }
    }
    fail_msg("drop(%p): not held (case %s)", p, crash_case);
}

static void assert_all_intact(const char *when)
{
    for (int i = 0; i < nheld; i++) {
        if (!intact(held[i].p, held[i].n, held[i].tag))
            fail_msg("%s: live block %p (%zu bytes) changed; case %s", when, held[i].p, held[i].n,
                     crash_case);
    }
}

/*
 * A fresh allocation of n bytes at p: at least n usable bytes, inside the
 * heap's regions (a slab object of the virtual heap included), clear of every
 * block the test holds, header included.  Then all n bytes are written.
 */
static void assert_fresh(void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    size_t usable = kmalloc_usable_size(p);
    if (usable < n)
        fail_msg("kmalloc(%zu) = %p with only %zu usable bytes; case %s", n, p, usable, crash_case);
    uintptr_t vstart = (uintptr_t)host_virt_ptr(HEAP_VIRTUAL_START);
    int in_early = a >= HEAP_BASE && a <= HEAP_END - n;
    int in_virtual =
        phase == PHASE2 && a >= vstart && a <= vstart + stats_now().heap_virtual_size - n;
    if (!in_early && !in_virtual)
        fail_msg("kmalloc(%zu) = %p: not inside the heap; case %s", n, p, crash_case);
    for (int i = 0; i < nheld; i++) {
        uintptr_t lo = (uintptr_t)held[i].p - HDR, hi = (uintptr_t)held[i].p + held[i].n;
        if (a < hi && lo < a + n)
            fail_msg("kmalloc(%zu) = %p overlaps the live block %p (%zu bytes); case %s", n, p,
                     held[i].p, held[i].n, crash_case);
    }
}

/* kmalloc(n), checked; held from now on. */
static void *t_alloc(size_t n)
{
    void *p = kmalloc(n);
    if (p) {
        assert_fresh(p, n);
        hold(p, n);
    }
    return p;
}

static void t_free(void *p)
{
    drop(p);
    kfree(p);
}

static void assert_healthy(const char *when)
{
    int broken = heap_check();
    if (broken) {
        const char *t = host_console_text();
        size_t len = strlen(t);
        fail_msg("%s: heap_check() = %d; case %s; the console says:\n%s", when, broken, crash_case,
                 len > 2000 ? t + len - 2000 : t);
    }
}

/* Work with every kind of size after the damage: nothing overlaps, everything frees. */
static void assert_heap_usable(void)
{
    static const size_t sizes[] = {16, 100, BIG, FREE, 3000, 20000, 16, 600};
    void *got[3 * sizeof(sizes) / sizeof(sizes[0])];
    int n = 0;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            void *p = t_alloc(sizes[i]);
            if (p)
                got[n++] = p;
        }
    }
    if (phase == PHASE2 && n < 3 * (int)(sizeof(sizes) / sizeof(sizes[0])))
        fail_msg("the virtual heap failed %d allocations after the damage; case %s",
                 3 * (int)(sizeof(sizes) / sizeof(sizes[0])) - n, crash_case);
    assert_all_intact("after allocating");
    assert_healthy("after allocating");
    while (n)
        t_free(got[--n]);
    assert_all_intact("after freeing");
    assert_healthy("after freeing");
}

/* ---------------------------------------- 1. forged links and sizes ---- */

/*
 * The heap each case starts from (sizes above the slab sizes, so that the
 * virtual heap has the same picture):
 *
 *   | a | L live | c | F free | d | R free, the region's last block ... |
 *
 * The target (L, F or R) gets one forged word in one field; then one call.
 */
enum target { T_LIVE, T_FREE, T_LAST };
enum field { F_NEXT, F_PREV, F_SIZE, F_NEXT_FREE, F_PREV_FREE, F_COUNT };
static const char *const target_name[] = {"live L", "free F", "last free R"};
static const char *const field_name[] = {"next", "prev", "size", "next_free", "prev_free"};

enum op {
    OP_KFREE,           /* kfree(target) */
    OP_KFREE_BEFORE,    /* kfree(the block before the target) */
    OP_KFREE_AFTER,     /* kfree(the block after it) */
    OP_KREALLOC,        /* krealloc(target, 3 * BIG) */
    OP_KREALLOC_BEFORE, /* krealloc(the block before, grown) */
    OP_KMALLOC,         /* kmalloc(BIG) */
    OP_KMALLOC_FIT,     /* kmalloc(FREE): F's size */
    OP_KMALLOC_HUGE,    /* kmalloc(HUGE): grows the virtual heap */
    OP_USABLE,          /* kmalloc_usable_size(target) */
    OP_CHECK,
    OP_STATS,
    OP_DUMP,
    OP_TRIM, /* heap_trim(): shrinks the virtual heap at R */
    OP_COUNT
};
static const char *const op_name[] = {
    "kfree(target)",    "kfree(before)",    "kfree(after)",
    "krealloc(target)", "krealloc(before)", "kmalloc(BIG)",
    "kmalloc(FREE)",    "kmalloc(HUGE)",    "kmalloc_usable_size(target)",
    "heap_check",       "get_memory_stats", "heap_dump",
    "heap_trim"};

typedef struct {
    void *a, *L, *c, *F, *d, *R;
} layout_t;

static layout_t build(void)
{
    layout_t l;
    nheld = 0;
    l.a = t_alloc(BIG);
    l.L = t_alloc(BIG);
    l.c = t_alloc(BIG);
    l.F = t_alloc(FREE);
    l.d = t_alloc(BIG);
    void *r = t_alloc(16 + (phase == PHASE2) * 600); /* where R starts, then freed */
    assert_true(l.a && l.L && l.c && l.F && l.d && r);
    t_free(l.F);
    t_free(r);
    l.R = r;
    assert_ptr_equal((char *)hdr(l.d) + HDR + BLOCK_SIZE(BIG), hdr(r));
    assert_null(hdr(r)->next);
    assert_healthy("layout");
    return l;
}

/* The field's address in the target block (the links live in a free block's payload). */
static void *field_at(void *payload, int f)
{
    heap_block_t *h = hdr(payload);
    switch (f) {
    case F_NEXT:
        return &h->next;
    case F_PREV:
        return &h->prev;
    case F_SIZE:
        return &h->size;
    case F_NEXT_FREE:
        return payload;
    default:
        return (char *)payload + PTR;
    }
}

/* Boundary values for a word of block b, in the region [s, e). */
static int boundary_values(uintptr_t b, uintptr_t *v, const layout_t *l)
{
    uintptr_t s = region_start, e = region_end;
    uintptr_t after_hdr = b + HDR;
    int n = 0;
    v[n++] = 0;
    v[n++] = 1;
    v[n++] = (uintptr_t)-1;
    v[n++] = (uintptr_t)-HDR;
    v[n++] = (uintptr_t)-8;
    v[n++] = (uintptr_t)-24;
    v[n++] = (uintptr_t)-16;
    v[n++] = s - HDR;
    v[n++] = s;
    v[n++] = s + 8;
    v[n++] = e;
    v[n++] = e - HDR;
    v[n++] = e - HDR + 8;
    v[n++] = e - 8;
    v[n++] = b;                    /* itself */
    v[n++] = b + 8;                /* inside its own header */
    v[n++] = (uintptr_t)hdr(l->a); /* a real live block */
    v[n++] = 0x7FFFFFF8u;          /* huge sizes */
    v[n++] = 0x80000000u;
    v[n++] = (uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1);
    v[n++] = (uintptr_t)0 - after_hdr;         /* block end wraps to 0 */
    v[n++] = (uintptr_t)0 - after_hdr + 8;     /* ... to 8 */
    v[n++] = (uintptr_t)hdr(l->a) - after_hdr; /* ... onto a's header */
    v[n++] = s - after_hdr;                    /* ... onto the region start */
    v[n++] = e - after_hdr + HDR;              /* just past the end */
    v[n++] = 0x11;                             /* odd */
    v[n++] = b + 1;
    v[n++] = (uintptr_t)0x4141414141414141ull;
    return n;
}

static int forged_case(void *target_payload, int f, uintptr_t value, int op, const layout_t *l,
                       int target)
{
    uintptr_t *word = field_at(target_payload, f);
    uintptr_t orig = *word;
    if (value == orig)
        return 0;
    uint32_t magic = hdr(target_payload)->magic;
    void *before = target == T_LIVE ? l->a : target == T_FREE ? l->c : l->d;
    void *after = target == T_LIVE ? l->c : target == T_FREE ? l->d : NULL;
    int target_live = target == T_LIVE;
    if (op == OP_KFREE_AFTER && !after)
        return 0;
    host_console_clear();
    uint32_t errors = errors_now();
    uint32_t frees = stats_now().free_count;
    *word = value;

    switch (op) {
    case OP_KFREE:
        kfree(target_payload);
        if (target_live && stats_now().free_count != frees)
            drop(target_payload), target_live = 0;
        break;
    case OP_KFREE_BEFORE:
        drop(before);
        kfree(before);
        if (stats_now().free_count == frees)
            hold(before, BIG); /* refused: still live (its data written again) */
        break;
    case OP_KFREE_AFTER:
        drop(after);
        kfree(after);
        if (stats_now().free_count == frees)
            hold(after, BIG);
        break;
    case OP_KREALLOC: {
        void *p = krealloc(target_payload, 3 * BIG);
        if (p && target_live) {
            drop(target_payload), target_live = 0;
            assert_fresh(p, 3 * BIG);
            hold(p, 3 * BIG);
        } else if (p) {
            fail_msg("krealloc of a free block returned %p; case %s", p, crash_case);
        }
        break;
    }
    case OP_KREALLOC_BEFORE: {
        drop(before);
        void *p = krealloc(before, BIG + 300);
        if (p) {
            assert_fresh(p, BIG + 300);
            hold(p, BIG + 300);
        } else {
            hold(before, BIG);
        }
        break;
    }
    case OP_KMALLOC:
        t_alloc(BIG);
        break;
    case OP_KMALLOC_FIT:
        t_alloc(FREE);
        break;
    case OP_KMALLOC_HUGE:
        t_alloc(HUGE);
        break;
    case OP_USABLE:
        kmalloc_usable_size(target_payload);
        break;
    case OP_CHECK:
        heap_check();
        break;
    case OP_STATS:
        stats_now();
        break;
    case OP_DUMP:
        heap_dump();
        break;
    case OP_TRIM:
        heap_trim();
        break;
    }
    region_now();

    /* said something: a report of the call, or heap_check naming the damage */
    int broken = heap_check();
    if (errors_now() == errors && !broken)
        fail_msg("nothing reported, heap_check() = 0; case %s", crash_case);
    const char *t = host_console_text();
    int reports = 0;
    for (const char *q = t; (q = strstr(q, "ERROR: ")) != NULL; q++)
        reports++;
    if (op != OP_DUMP && reports > 6)
        fail_msg("%d reports for one forged word; case %s:\n%s", reports, crash_case, t);
    if (broken && *word == value && hdr(target_payload)->magic == magic)
        *word = orig; /* the heap left the block alone: the test repairs it */
    assert_healthy("after the call (and the word put back)");
    assert_all_intact("after the call");
    assert_heap_usable();
    if (target_live) {
        t_free(target_payload);
        assert_healthy("after freeing the target");
    }
    return 1;
}

static void forged_words(int ph, int target, int f)
{
    crash_watch(60);
    uintptr_t v[40];
    int cases = 0;
    start(ph);
    layout_t l = build();
    void *t = target == T_LIVE ? l.L : target == T_FREE ? l.F : l.R;
    int nv = boundary_values((uintptr_t)hdr(t), v, &l);
    for (int i = 0; i < nv; i++) {
        for (int op = 0; op < OP_COUNT; op++) {
            start_(ph, 0);
            l = build();
            snprintf(crash_case, sizeof(crash_case), "phase %d, %s's %s = %#lx (value %d), then %s",
                     ph + 1, target_name[target], field_name[f], (unsigned long)v[i], i,
                     op_name[op]);
            cases += forged_case(t, f, v[i], op, &l, target);
        }
    }
    assert_true(cases > 0);
}

#define FORGED(ph, tg, f)                                                                          \
    static void test_##ph##_##tg##_##f(void **state)                                               \
    {                                                                                              \
        (void)state;                                                                               \
        forged_words(ph, tg, f);                                                                   \
    }
#define FORGED_ALL(ph)                                                                             \
    FORGED(ph, T_LIVE, F_NEXT)                                                                     \
    FORGED(ph, T_LIVE, F_PREV)                                                                     \
    FORGED(ph, T_LIVE, F_SIZE)                                                                     \
    FORGED(ph, T_FREE, F_NEXT)                                                                     \
    FORGED(ph, T_FREE, F_PREV)                                                                     \
    FORGED(ph, T_FREE, F_SIZE)                                                                     \
    FORGED(ph, T_FREE, F_NEXT_FREE)                                                                \
    FORGED(ph, T_FREE, F_PREV_FREE)                                                                \
    FORGED(ph, T_LAST, F_NEXT)                                                                     \
    FORGED(ph, T_LAST, F_PREV)                                                                     \
    FORGED(ph, T_LAST, F_SIZE)                                                                     \
    FORGED(ph, T_LAST, F_NEXT_FREE)                                                                \
    FORGED(ph, T_LAST, F_PREV_FREE)
FORGED_ALL(PHASE1)
FORGED_ALL(PHASE2)

/*
 * The issue's own case, alone: one word of -24 in a live block's prev, then
 * kfree.  It used to pass block_addr_ok (0xffffffe8 + HDR wraps to 8, which is
 * <= end) and kfree read the header at 0xffffffe8.
 */
static void minus_24_in_prev(int ph)
{
    crash_watch(10);
    start(ph);
    nheld = 0;
    void *a = t_alloc(BIG), *b = t_alloc(BIG), *c = t_alloc(BIG);
    snprintf(crash_case, sizeof(crash_case), "phase %d: prev = -24, kfree", ph + 1);
    hdr(b)->prev = (heap_block_t *)(uintptr_t)-24;
    drop(b);
    kfree(b);
    assert_true(strstr(mm_last_error(), "kfree") != NULL);
    assert_healthy("after kfree");
    assert_all_intact("after kfree");
    t_free(a);
    t_free(c);
    assert_healthy("after freeing the rest");
}

IN_BOTH_PHASES(minus_24_in_prev, minus_24_in_prev, PHASE1, PHASE2)

/* ------------------------------ 2. the last block, through r->last ---- */

/*
 * An ordinary overflow out of p, the block just before the virtual heap's
 * free last block R, over the first `len` bytes of R's header; then one call
 * that reaches R through the region's last-block pointer.
 *
 *   | ... | p (BIG) |###R's header###| R free ...            | end of the mapped heap
 *                   ^ p overflows by len bytes of `byte`
 *
 * Expect no crash, every kmalloc result at least as big as asked and all of
 * it writable, the smashed header reported, and the heap healthy after.
 */
enum last_op { L_KMALLOC_HUGE, L_KMALLOC, L_TRIM, L_RESERVE, L_KFREE_P, L_KFREE_BIG, L_COUNT };
static const char *const last_op_name[] = {"kmalloc(HUGE)", "kmalloc(BIG)",
                                           "heap_trim",     "heap_reserve(1 MB)",
                                           "kfree(p)",      "kfree(a big block)"};

static void last_block_case(size_t len, int byte, int op, int size_only)
{
    start(PHASE2);
    nheld = 0;
    /* a big block that is freed back to R first, so that heap_trim has pages to give */
    void *big = op == L_KFREE_BIG || op == L_TRIM ? t_alloc(400000) : NULL;
    void *p = t_alloc(BIG);
    assert_non_null(p);
    heap_block_t *r = (heap_block_t *)((char *)p + BLOCK_SIZE(BIG));
    if (op == L_TRIM) {
        t_free(big);
        big = NULL;
    }
    assert_int_equal(r->magic, HEAP_MAGIC_FREE);
    assert_null(r->next);
    snprintf(crash_case, sizeof(crash_case), "phase 2: %s%zu bytes of 0x%02x over R, then %s",
             size_only ? "size field only, " : "", len, byte, last_op_name[op]);
    if (size_only) {
        memset(&r->size, byte, sizeof(r->size));
    } else {
        drop(p);
        memset((char *)p + BLOCK_SIZE(BIG), byte, len); /* p's data stays as it was */
        hold(p, BIG);
    }
    switch (op) {
    case L_KMALLOC_HUGE:
        t_alloc(HUGE);
        break;
    case L_KMALLOC:
        t_alloc(BIG);
        break;
    case L_TRIM:
        heap_trim();
        break;
    case L_RESERVE:
        heap_reserve(MB);
        break;
    case L_KFREE_P:
        t_free(p);
        break;
    case L_KFREE_BIG:
        t_free(big);
        break;
    }
    assert_all_intact("after the call");
    /* the damage has been seen by now (heap_check names it otherwise) */
    if (heap_check()) {
        assert_healthy("after the call"); /* fails, with the console */
    }
    assert_heap_usable();
    void *q = t_alloc(HUGE);
    assert_non_null(q);
    assert_all_intact("after a large kmalloc");
    assert_healthy("at the end");
}

static void test_last_block_overflow(void **state)
{
    (void)state;
    crash_watch(120);
    static const int bytes[] = {0x00, 0x41, 0xff};
    for (size_t len = 4; len <= HDR; len += 4) {
        for (size_t k = 0; k < sizeof(bytes) / sizeof(bytes[0]); k++) {
            for (int op = 0; op < L_COUNT; op++)
                last_block_case(len, bytes[k], op, 0);
        }
    }
}

static void test_last_block_size_only(void **state)
{
    (void)state;
    crash_watch(60);
    static const int bytes[] = {0x00, 0x01, 0x41, 0x7f, 0x80, 0xff};
    for (size_t k = 0; k < sizeof(bytes) / sizeof(bytes[0]); k++) {
        for (int op = 0; op < L_COUNT; op++)
            last_block_case(sizeof(size_t), bytes[k], op, 1);
    }
}

/* The issue's own case: 16 bytes (i386) / 24 (x86_64) of 'A', then kmalloc(200000). */
static void test_last_block_issue_case(void **state)
{
    (void)state;
    crash_watch(10);
    last_block_case(sizeof(void *) == 4 ? 16 : 24, 'A', L_KMALLOC_HUGE, 0);
}

/* ---------------------------------- 3. no false out of memory ---- */

/*
 * Two free blocks in one size class ([3584, 3712) on both ABIs), the one
 * that does not fit for 3650 bytes at the head of the class list (freed
 * last), the one that fits behind it; every other free byte taken, so no
 * class above holds anything:
 *
 *   | x | F1 free, 3696 | y | F2 free, 3600 | z | rest (taken) |
 *   class list: F2 (too small) -> F1 (fits)
 *
 * Expect kmalloc(3650) to return F1: in Phase 1 instead of NULL and "out of
 * memory", in Phase 2 instead of growing the heap.
 */
static void behind_the_head(int ph)
{
    crash_watch(10);
    start(ph);
    nheld = 0;
    snprintf(crash_case, sizeof(crash_case), "phase %d: kmalloc(3650), fit behind the head",
             ph + 1);
    void *x = t_alloc(BIG), *f1 = t_alloc(3696), *y = t_alloc(BIG), *f2 = t_alloc(3600);
    void *z = t_alloc(BIG);
    assert_true(x && f1 && y && f2 && z);
    size_t rest = stats_now().largest_free_block;
    assert_non_null(t_alloc(rest));
    t_free(f1);
    t_free(f2); /* the head of the class now */
    memory_stats_t s = stats_now();
    assert_int_equal(s.largest_free_block, BLOCK_SIZE(3696));
    uint32_t errors = errors_now();
    host_console_clear();
    void *p = t_alloc(3650);
    if (!p)
        fail_msg("kmalloc(3650) = NULL while a free block of %u bytes exists; the console:\n%s",
                 s.largest_free_block, host_console_text());
    assert_ptr_equal(p, f1);
    assert_int_equal(errors_now(), errors);
    assert_int_equal(stats_now().heap_virtual_size, s.heap_virtual_size); /* no growth */
    assert_healthy("after kmalloc(3650)");
    assert_all_intact("after kmalloc(3650)");
}

IN_BOTH_PHASES(fit_behind_class_head, behind_the_head, PHASE1, PHASE2)

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, crash_watch_off)
#define TP(ph)                                                                                     \
    T(test_##ph##_T_LIVE_F_NEXT), T(test_##ph##_T_LIVE_F_PREV), T(test_##ph##_T_LIVE_F_SIZE),      \
        T(test_##ph##_T_FREE_F_NEXT), T(test_##ph##_T_FREE_F_PREV), T(test_##ph##_T_FREE_F_SIZE),  \
        T(test_##ph##_T_FREE_F_NEXT_FREE), T(test_##ph##_T_FREE_F_PREV_FREE),                      \
        T(test_##ph##_T_LAST_F_NEXT), T(test_##ph##_T_LAST_F_PREV), T(test_##ph##_T_LAST_F_SIZE),  \
        T(test_##ph##_T_LAST_F_NEXT_FREE), T(test_##ph##_T_LAST_F_PREV_FREE)
    const struct CMUnitTest tests[] = {
        T(test_minus_24_in_prev_phase1),
        T(test_minus_24_in_prev_phase2),
        T(test_last_block_issue_case),
        T(test_last_block_size_only),
        T(test_last_block_overflow),
        T(test_fit_behind_class_head_phase1),
        T(test_fit_behind_class_head_phase2),
        TP(PHASE1),
        TP(PHASE2),
    };
    return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}

/*
 * test_misuse.c - the heap after caller bugs that scribble on it: overflows
 * into the next header or into a free block's header and free-list links,
 * writes after free, stale headers, free-list links that loop or leave the
 * heap, huge sizes; then a seeded misuse fuzzer.
 *
 * The contract: every caller bug is reported in one line naming the
 * function, an address and the reason, and survived: no crash, no hang, no
 * two live blocks overlapping, no live block lost.  Once the damage has been
 * reported, the heap is whole again: every block the test still holds frees
 * without a report, heap_check() is 0, and after freeing everything the heap
 * is one free block of INITIAL_HEAP_SIZE - HDR.  Where that cannot be (several
 * consecutive headers wiped) the minimum is: no crash, no hang, every kmalloc
 * result inside the heap and clear of every block the test holds, and errors
 * reported.
 *
 * A crash or a hang fails the one test instead of the run: a segfault is
 * cmocka's, SIGABRT (glue_panic) and SIGBUS are caught here, and a watchdog
 * (alarm) ends a test that runs too long.  Only UBSan's own reports (say, a
 * misaligned pointer followed by the heap) still end the whole run; the
 * deterministic tests therefore overflow with JUNK, whose pointers are
 * 8-aligned and point nowhere, so a heap that follows one faults instead.
 */
#include <sys/mman.h>

#include "attack.h"

#define PTR       sizeof(void *)
#define LINKS     (2 * sizeof(void *)) /* a free block's next_free and prev_free */
#define MINP      ALIGN_8(LINKS)       /* the smallest payload */
#define JUNK      0x48                 /* overflow byte: 0x4848... is aligned and unmapped */
#define JUNK_WORD ((uintptr_t)0x4848484848484848ull)

#define WATCHDOG_TEST 10 /* seconds */
#define WATCHDOG_FUZZ 60

/* ------------------------------------------------------------- helpers ---- */

/* The free-list links a free block keeps in its first payload bytes. */
static void set_link(void *payload, int which, uintptr_t value)
{
    memcpy((char *)payload + which * PTR, &value, PTR);
}
enum { NEXT_FREE, PREV_FREE };

/* The end of the console: what the heap said last. */
static const char *console_tail(void)
{
    const char *t = host_console_text();
    size_t len = strlen(t);
    return len > 1500 ? t + len - 1500 : t;
}

#define assert_intact(p, n, tag) assert_intact_(#p, p, n, tag)
static void assert_intact_(const char *name, const void *p, size_t n, unsigned tag)
{
    size_t k = first_change(p, n, tag);
    if (k != n)
        fail_msg("live block %s (%p, %zu bytes) changed at byte %zu", name, p, n, k);
}

static void assert_healthy(const char *when)
{
    int broken = heap_check();
    if (broken)
        fail_msg("%s: heap_check() = %d; the console says:\n%s", when, broken, console_tail());
}

/*
 * Reports are checked last: a test first shows whether the heap survived and
 * recovered, then whether it said so properly.  expect_report() notes a
 * missing report; check_reports() at the end of the test fails on it.
 */
static char missing_report[2048];

static int list_has(const char *alternatives, const char *s, size_t len)
{
    for (const char *r = alternatives; *r;) {
        const char *bar = strchr(r, '|');
        size_t rl = bar ? (size_t)(bar - r) : strlen(r);
        for (size_t i = 0; i + rl <= len; i++) {
            if (strncmp(s + i, r, rl) == 0)
                return 1;
        }
        r += rl + (bar != NULL);
    }
    return 0;
}

/* Does `line` start "ERROR: <fn>: 0x<addr>: " with fn one of fns ("a|b")? */
static int report_names(const char *line, size_t len, const char *fns, const void *addr)
{
    for (const char *f = fns; *f;) {
        const char *bar = strchr(f, '|');
        int fl = bar ? (int)(bar - f) : (int)strlen(f);
        char head[96];
        int hl = snprintf(head, sizeof(head), "ERROR: %.*s: 0x%0*lx: ", fl, f, (int)(2 * PTR),
                          (unsigned long)(uintptr_t)addr);
        if (len >= (size_t)hl && strncmp(line, head, (size_t)hl) == 0)
            return hl;
        f += fl + (bar != NULL);
    }
    return 0;
}

/*
 * Some line on the console since the test began (or since the last
 * host_console_clear) is a report "ERROR: <one of fns>: <one of addrs>: ..."
 * containing one of `reasons`.
 */
#define ADDRS(...) ((const void *const[]){__VA_ARGS__, NULL})
static void expect_report(const char *fns, const char *reasons, const void *const *addrs)
{
    const char *text = host_console_text();
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        for (const void *const *a = addrs; *a; a++) {
            int hl = report_names(line, len, fns, *a);
            if (hl && list_has(reasons, line + hl, len - (size_t)hl))
                return;
        }
        line += len + (eol != NULL);
    }
    if (missing_report[0])
        return; /* the first one missing is the one to show */
    char want[256];
    size_t w = 0;
    for (const void *const *a = addrs; *a && w < sizeof(want) - 24; a++)
        w += (size_t)snprintf(want + w, sizeof(want) - w, " %p", *a);
    snprintf(missing_report, sizeof(missing_report),
             "expected a report \"ERROR: <%s>: <one of%s>: ...<%s>...\"; the console said:\n%s",
             fns, want, reasons, console_tail());
}

static void check_reports(void)
{
    if (missing_report[0])
        fail_msg("the heap survived, but: %s", missing_report);
}

/* A block the test holds: [p - HDR, p + n) is its header and payload. */
typedef struct {
    const void *p;
    size_t n;
} held_t;
#define HELD(...) ((const held_t[]){__VA_ARGS__, {NULL, 0}})

static int extents_overlap(const void *p, size_t n, const void *q, size_t m)
{
    uintptr_t a = (uintptr_t)p - HDR, b = (uintptr_t)p + n;
    uintptr_t c = (uintptr_t)q - HDR, d = (uintptr_t)q + m;
    return a < d && c < b;
}

/*
 * p, a kmalloc result of n bytes: inside the heap with its header, 8-aligned,
 * and clear of every block the test holds (their headers included).
 */
static void assert_fresh(const void *p, size_t n, const held_t *held)
{
    uintptr_t a = (uintptr_t)p;
    if (a % HEAP_ALIGN || a - HDR < HEAP_BASE || a + n > HEAP_END || a < HDR)
        fail_msg("kmalloc result %p (%zu bytes) is not an aligned block of the heap [%p, %p)", p, n,
                 (void *)HEAP_BASE, (void *)HEAP_END);
    for (; held->p; held++) {
        if (extents_overlap(p, n, held->p, held->n))
            fail_msg("kmalloc result %p (%zu bytes) overlaps the live block %p (%zu bytes)", p, n,
                     held->p, held->n);
    }
}

/* The heap is one free block of INITIAL_HEAP_SIZE - HDR, and all of it can be had. */
static void assert_whole(void)
{
    assert_healthy("whole heap");
    memory_stats_t s = stats_now();
    if (s.block_count != 1 || s.free_block_count != 1 || s.heap_used != 0 ||
        s.heap_free != INITIAL_HEAP_SIZE - HDR || s.largest_free_block != INITIAL_HEAP_SIZE - HDR)
        fail_msg("after freeing everything: %u blocks (%u free), %u used, %u free, largest %u; "
                 "expected one free block of %u",
                 s.block_count, s.free_block_count, s.heap_used, s.heap_free, s.largest_free_block,
                 (unsigned)(INITIAL_HEAP_SIZE - HDR));
    void *all = kmalloc(INITIAL_HEAP_SIZE - HDR);
    assert_ptr_equal(all, (char *)HEAP_BASE + HDR);
    kfree(all);
    assert_healthy("whole heap, after taking all of it");
}

/* Each block (a NULL-terminated list) frees without a report; the heap stays healthy. */
#define PTRS(...) ((void *const[]){__VA_ARGS__, NULL})
static void free_live(void *const *live)
{
    for (; *live; live++) {
        uint32_t before = errors_now();
        host_console_clear();
        kfree(*live);
        if (errors_now() != before)
            fail_msg("kfree(%p) of a live block reported: %s", *live, mm_last_error());
        char when[64];
        snprintf(when, sizeof(when), "after kfree(%p)", *live);
        assert_healthy(when);
    }
}

/*
 * Full recovery: each block the test still holds frees without a report (the
 * heap stays healthy after each), then the heap is whole.  Last, the reports
 * the test expected (expect_report) must have been there.
 */
static void assert_full_recovery(void *const *live)
{
    free_live(live);
    assert_whole();
    check_reports();
}

/*
 * Allocate the rest of the heap (its largest free block) and fill it: from
 * then on the test's own free blocks are the only ones, so the next kmalloc
 * has to meet them whatever the placement policy (one list, size classes).
 */
static held_t take_rest(void)
{
    size_t n = stats_now().largest_free_block;
    void *p = t_kmalloc(n);
    assert_non_null(p);
    fill(p, n, 9);
    return (held_t){p, n};
}

/*
 * kmalloc(n) until NULL (at most max - 1 times): every block inside the heap
 * and clear of `held` and of each other.  v gets the blocks, NULL-terminated;
 * returns how many.
 */
static int allocate_all(size_t n, void **v, int max, const held_t *held)
{
    int k = 0;
    while (k < max - 1 && (v[k] = kmalloc(n)) != NULL) {
        assert_fresh(v[k], n, held);
        for (int i = 0; i < k; i++) {
            if (extents_overlap(v[k], n, v[i], n))
                fail_msg("kmalloc gave %p twice over (%p)", v[k], v[i]);
        }
        fill(v[k], n, 50 + (unsigned)k);
        k++;
    }
    v[k] = NULL;
    for (int i = 0; i < k; i++)
        assert_intact(v[i], n, 50 + (unsigned)i);
    return k;
}

/* The page right after the heap: PROT_NONE, so a read past the end faults. */
static void guard_heap_end(int on)
{
    assert_int_equal(mprotect((void *)HEAP_END, PAGE_SIZE, on ? PROT_NONE : PROT_READ | PROT_WRITE),
                     0);
}

/* ------------------------------------------------- crashes and hangs ---- */

static volatile sig_atomic_t watchdog_seconds;

static void on_signal(int sig)
{
    if (sig == SIGALRM)
        fail_msg("watchdog: the test still runs after %d s: a hang?", (int)watchdog_seconds);
    fail_msg("crashed: signal %d (%s)%s", sig, strsignal(sig),
             sig == SIGABRT ? ": glue_panic or abort()" : "");
}

static void arm(unsigned seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_NODEFER; /* we leave the handler by longjmp */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGSEGV);
    sigaddset(&unblock, SIGABRT);
    sigaddset(&unblock, SIGBUS);
    sigaddset(&unblock, SIGALRM);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    watchdog_seconds = (sig_atomic_t)seconds;
    alarm(seconds);
}

static int setup(void **state)
{
    missing_report[0] = '\0';
    arm(WATCHDOG_TEST);
    return fresh_heap(state);
}

static int setup_fuzz(void **state)
{
    missing_report[0] = '\0';
    arm(WATCHDOG_FUZZ);
    return fresh_heap(state);
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    mprotect((void *)HEAP_END, PAGE_SIZE, PROT_READ | PROT_WRITE);
    return 0;
}

/* ------------------------------------------- overflows into free blocks ---- */

/*
 * Reviewer min1 and s5: an overflow through a FREE neighbour's header into its
 * free-list links, then kfree of the overflowing block.
 *
 *   | a 64 |#hdr b####|##links##  b free ...| c 64 | rest free |
 *          ^ a overflows by HDR + LINKS bytes
 *
 * Expect kfree(a) to report the smashed header, not to follow b's links, to
 * free a (merged with b), and the heap to be healthy and whole afterwards.
 */
static void test_overflow_into_free_neighbour_links_then_kfree(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    fill(c, 64, 3);
    t_kfree(b);
    memset(a, JUNK, 64 + HDR + LINKS);
    kfree(a);
    expect_report("kfree", "smashed|corrupt", ADDRS(a, b, hdr(b)));
    assert_healthy("after kfree(a)");
    assert_int_equal(stats_now().heap_used, 64);
    void *x = kmalloc(200); /* s5 */
    assert_non_null(x);
    assert_fresh(x, 200, HELD({c, 64}));
    assert_intact(c, 64, 3);
    assert_full_recovery(PTRS(c, x));
}

/*
 * | a (live, 64) | b (free, 64, damaged) | c (live, 64) | rest (live) |
 * kmalloc(16) past the damage: reported by kmalloc for one of `reasons`, at b
 * or its header; a fresh block clear of a, c and the rest; the heap healthy.
 */
static char *kmalloc_past_free_b(char *a, char *b, char *c, held_t rest, const char *reasons)
{
    char *p = kmalloc(16);
    expect_report("kmalloc", reasons, ADDRS(b, hdr(b)));
    assert_non_null(p);
    assert_fresh(p, 16, HELD({a, 64}, {c, 64}, rest));
    assert_healthy("after kmalloc");
    return p;
}

/*
 * Reviewer min2 (#2): one word of overflow smashes a FREE block's magic, then
 * kmalloc meets it (the rest of the heap is taken: b is the only free block).
 *
 *   | a 64 |#magic#| b free 64 | c 64 | rest (taken) |   kmalloc(16)
 *
 * Expect a report naming b, the block rebuilt as FREE (not as allocated, which
 * would leak it forever): kmalloc hands b out, and after freeing what the test
 * holds the heap is whole.
 */
static void test_smashed_free_header_then_kmalloc_stays_free(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    held_t rest = take_rest();
    fill(c, 64, 3);
    t_kfree(b);
    memset(a, JUNK, 64 + 4);
    char *p = kmalloc_past_free_b(a, b, c, rest, "smashed|corrupt");
    assert_intact(c, 64, 3);
    assert_intact(rest.p, rest.n, 9);
    assert_full_recovery(PTRS(a, c, p, (void *)rest.p));
}

/*
 * Reviewer s15 (#10): the same smashed free block, found when its right
 * neighbour is freed and would coalesce with it.
 *
 *   | a 64 |#magic#| b free 64 | c 64 | d 64 | rest free |   kfree(c)
 *
 * Expect the smashed b to be reported (not skipped silently), rebuilt as free
 * and merged with c: no two free neighbours are left.
 */
static void test_smashed_free_predecessor_reported_on_kfree(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64), *d = t_kmalloc(64);
    fill(d, 64, 4);
    t_kfree(b);
    memset(a, JUNK, 64 + 4);
    kfree(c);
    expect_report("kfree", "smashed|corrupt", ADDRS(c, b, hdr(b)));
    assert_healthy("after kfree(c)");
    assert_int_equal(stats_now().heap_used, 128);
    char *x = kmalloc(100);
    assert_non_null(x);
    assert_fresh(x, 100, HELD({a, 64}, {d, 64}));
    assert_intact(d, 64, 4);
    assert_full_recovery(PTRS(a, d, x));
}

/* ------------------------------------------------------ stale headers ---- */

/*
 * Reviewer min3 and s4 (#3): a header left behind by coalescing fools the
 * rebuild of a smashed one.  (b absorbs n by growing in place, the documented
 * krealloc behaviour; the reviewer freed both and allocated them again.)
 *
 *   kfree(n):                | a | b | n free | c | rest |
 *   krealloc(b, whole):      | a | b (64 bytes written) [stale n hdr] | c | rest |
 *   a overflows by HDR:      | a |#b hdr#| ...                         | c | rest |
 *
 * Expect kfree(b) to report the smashed header and rebuild it up to c (whose
 * prev link really points back at b), not up to the stale header: b freed
 * whole, c still a live block that frees without a report.
 */
static void test_stale_merged_header_does_not_fool_rebuild(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *n = t_kmalloc(64), *c = t_kmalloc(64);
    fill(c, 64, 3);
    t_kfree(n);
    assert_ptr_equal(t_krealloc(b, 64 + HDR + 64), b); /* n's old header survives inside b */
    memset(a, JUNK, 64 + HDR);
    kfree(b);
    expect_report("kfree", "smashed", ADDRS(b));
    assert_healthy("after kfree(b)");
    assert_int_equal(stats_now().heap_used, 128);
    assert_intact(c, 64, 3);
    assert_full_recovery(PTRS(c, a));
}

/*
 * Reviewer s19: after the same stale-header rebuild, exhaust the heap with
 * small blocks.
 *
 *   | a | b smashed (stale n hdr inside), freed | c | d | rest |   kmalloc(8) until NULL
 *
 * Expect every block inside the heap, clear of a, c, d, an "out of memory"
 * line at the end, and the heap whole after freeing everything.
 */
static void test_stale_merged_header_then_exhaustion(void **state)
{
    enum { MAX = INITIAL_HEAP_SIZE / (16 + 16) + 1 };
    static char *v[MAX];
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *n = t_kmalloc(64), *c = t_kmalloc(64);
    char *d = t_kmalloc(64);
    fill(c, 64, 3);
    fill(d, 64, 4);
    t_kfree(n);
    assert_ptr_equal(t_krealloc(b, 64 + HDR + 64), b);
    memset(a, JUNK, 64 + HDR);
    kfree(b);
    expect_report("kfree", "smashed", ADDRS(b));
    int k = 0;
    while (k < MAX && (v[k] = kmalloc(8)) != NULL) {
        assert_fresh(v[k], 8, HELD({a, 64}, {c, 64}, {d, 64}));
        fill(v[k], 8, 100);
        k++;
    }
    assert_in_range(k, 1, MAX - 1);
    assert_true(host_console_has("out of memory"));
    assert_healthy("after exhaustion");
    for (int i = 0; i < k; i++) {
        assert_intact(v[i], 8, 100);
        t_kfree(v[i]);
    }
    assert_intact(c, 64, 3);
    assert_intact(d, 64, 4);
    assert_full_recovery(PTRS(a, c, d));
}

/*
 * Reviewer s13: kfree of the address of a stale header that now lies inside a
 * live block.
 *
 *   kfree(b):             | a | b free | c | rest |
 *   krealloc(a, whole):   | a (16 bytes written) [stale b hdr] | c | rest |
 *
 * Expect kfree(b) to be refused with a report (it is not a live block) and a
 * to stay allocated and intact.
 */
static void test_kfree_of_stale_header_inside_live_block(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    t_kfree(b);
    assert_ptr_equal(t_krealloc(a, 64 + HDR + 64), a);
    fill(a, 16, 1);
    memory_stats_t before = stats_now();
    t_kfree(b);
    expect_report("kfree", "double free|interior|not a", ADDRS(b));
    assert_int_equal(stats_now().heap_used, before.heap_used);
    assert_int_equal(stats_now().free_count, before.free_count);
    assert_intact(a, 16, 1);
    assert_full_recovery(PTRS(a, c));
}

/* ------------------------------------------- the free list scribbled on ---- */

/*
 * Reviewer s3 (#4): a free-list link that loops back to its own block, then
 * get_memory_stats and kfree of the looped block's neighbour.
 *
 *   | a free | b | c free, next_free -> c | d | rest free |
 *
 * Expect get_memory_stats to return (no endless walk) with sane figures, and
 * kfree(b) to free b (merged with a and c) after reporting the broken list
 * if it has not been reported yet; then the heap is healthy and whole.
 */
static void test_freelist_self_loop_then_stats_and_kfree(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64), *d = t_kmalloc(64);
    t_kfree(a);
    t_kfree(c);
    set_link(c, NEXT_FREE, (uintptr_t)hdr(c));
    memory_stats_t s = stats_now();
    assert_int_equal(s.heap_size, INITIAL_HEAP_SIZE);
    assert_int_equal(s.heap_used, 128);
    assert_true(s.largest_free_block <= s.heap_free);
    kfree(b);
    expect_report("get_memory_stats|kfree", "corrupt|smashed|after free|loop|cycle",
                  ADDRS(c, hdr(c), b));
    assert_int_equal(stats_now().heap_used, 64);
    assert_healthy("after kfree(b)");
    assert_full_recovery(PTRS(d));
}

/*
 * Reviewer s16 (#4): the same self-loop, met by kmalloc (the rest of the heap
 * is taken: a and c are the only free blocks).
 *
 *   | a free | b | c free, next_free -> c | d | rest (taken) |   kmalloc(16) until NULL
 *
 * Expect no endless walk, a report, a's and c's memory handed out (nothing
 * lost), every block clear of b, d and rest, and the heap healthy and whole
 * afterwards.
 */
static void test_freelist_self_loop_then_kmalloc(void **state)
{
    void *v[16];
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64), *d = t_kmalloc(64);
    held_t rest = take_rest();
    t_kfree(a);
    t_kfree(c);
    set_link(c, NEXT_FREE, (uintptr_t)hdr(c));
    int k = allocate_all(16, v, 16, HELD({b, 64}, {d, 64}, rest));
    expect_report("kmalloc", "corrupt|smashed|after free|loop|cycle", ADDRS(c, hdr(c)));
    assert_true(k >= 2);
    assert_healthy("after kmalloc");
    free_live(v);
    assert_full_recovery(PTRS(b, d, (void *)rest.p));
}

/*
 * Reviewer s3b (#4): a free-list link pointing outside the heap, at a page
 * that faults if read; then get_memory_stats and kmalloc (the rest of the
 * heap is taken: a is the only free block).
 *
 *   | a free, next_free -> (page after the heap) | b | rest (taken) |##guard##
 *
 * Expect neither to follow the link (no fault), a report, a handed out, and
 * the heap healthy and whole afterwards.
 */
static void test_freelist_link_outside_heap(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64);
    held_t rest = take_rest();
    t_kfree(a);
    set_link(a, NEXT_FREE, (uintptr_t)HEAP_END + 64);
    guard_heap_end(1);
    memory_stats_t s = stats_now();
    assert_int_equal(s.heap_size, INITIAL_HEAP_SIZE);
    assert_true(s.largest_free_block <= 64);
    char *p = kmalloc(16);
    expect_report("get_memory_stats|kmalloc", "corrupt|smashed|after free|outside",
                  ADDRS(a, hdr(a), (void *)(HEAP_END + 64)));
    assert_non_null(p);
    assert_fresh(p, 16, HELD({b, 64}, rest));
    assert_healthy("after kmalloc");
    assert_full_recovery(PTRS(b, p, (void *)rest.p));
}

/*
 * A free-list link to a convincing fake free block outside the heap (a write
 * after free that stores a pointer to some other structure); the rest of the
 * heap is taken, a is the only free block.
 *
 *   | a free, next_free -> fake (FREE magic, 1 MB, outside the heap) | b | rest (taken) |
 *
 * Expect the fake never to count or be handed out: largest_free_block within
 * the heap, kmalloc of more than the heap NULL, kmalloc until NULL gives only
 * heap memory, the fake is untouched, the link reported; then the heap is
 * healthy and whole.
 */
static void test_freelist_link_to_fake_block_outside_heap(void **state)
{
    static union {
        heap_block_t h;
        unsigned char bytes[256];
        uint64_t align;
    } fake, copy;
    void *v[16];
    memset(&fake, 0, sizeof(fake));
    fake.h.magic = HEAP_MAGIC_FREE;
    fake.h.is_free = 1;
    fake.h.size = 1 << 20;
    char *a = t_kmalloc(64), *b = t_kmalloc(64);
    held_t rest = take_rest();
    t_kfree(a);
    set_link(fake.bytes + HDR, PREV_FREE, (uintptr_t)hdr(a));
    set_link(a, NEXT_FREE, (uintptr_t)&fake.h);
    copy = fake;
    memory_stats_t s = stats_now();
    assert_true(s.largest_free_block <= 64);
    assert_null(kmalloc(2 * INITIAL_HEAP_SIZE));
    int k = allocate_all(16, v, 16, HELD({b, 64}, rest));
    assert_true(k >= 1);
    expect_report("get_memory_stats|kmalloc", "corrupt|smashed|after free|outside",
                  ADDRS(a, hdr(a), &fake.h, fake.bytes + HDR));
    assert_memory_equal(&fake, &copy, sizeof(fake));
    assert_healthy("after kmalloc");
    free_live(v);
    assert_full_recovery(PTRS(b, (void *)rest.p));
}

/*
 * Reviewer s1 (#1): a write after free into the first word of a free block
 * (its next_free), then kfree of its neighbour, which coalesces with it.
 *
 *   | a | b free, next_free = junk | c | rest free |   kfree(a)
 *
 * Expect a report, a freed (merged with b) without following the junk, and the
 * heap healthy and whole afterwards.
 */
static void test_write_after_free_first_word_then_kfree_neighbour(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    fill(c, 64, 3);
    t_kfree(b);
    set_link(b, NEXT_FREE, JUNK_WORD);
    kfree(a);
    expect_report("kfree", "corrupt|smashed|after free", ADDRS(a, b, hdr(b)));
    assert_int_equal(stats_now().heap_used, 64);
    assert_healthy("after kfree(a)");
    assert_intact(c, 64, 3);
    assert_full_recovery(PTRS(c));
}

/*
 * Reviewer s2: a write after free into a free block's prev_free, then kmalloc
 * takes exactly that block (the rest of the heap is taken: b is the only free
 * block).
 *
 *   | a | b free, prev_free = junk | c | rest (taken) |   kmalloc(16)
 *
 * Expect a report, b handed out without writing through the junk, a and c
 * intact, and the heap healthy and whole afterwards.
 */
static void test_write_after_free_prev_link_then_kmalloc(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    held_t rest = take_rest();
    fill(a, 64, 1);
    fill(c, 64, 3);
    t_kfree(b);
    set_link(b, PREV_FREE, JUNK_WORD);
    char *p = kmalloc_past_free_b(a, b, c, rest, "corrupt|smashed|after free");
    assert_intact(a, 64, 1);
    assert_intact(c, 64, 3);
    assert_full_recovery(PTRS(a, c, p, (void *)rest.p));
}

/* ------------------------------------- a free block's header rewritten ---- */

/*
 * Reviewer s7 (#5): a free block's size overwritten, its magic intact (the
 * rest of the heap is taken: b is the only free block).
 *
 *   | a | b free, size = 4096 (really 64) | c live | d | rest (taken) |
 *
 * Expect kmalloc not to trust the size: kmalloc(1000) is NULL (no 1000 bytes
 * are free), kmalloc(16) until NULL gives only b's memory, c and the rest
 * keep their data, the bad header is reported, and the heap is healthy and
 * whole afterwards.
 */
static void test_free_block_size_overwritten_no_overlap(void **state)
{
    void *v[16];
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64), *d = t_kmalloc(64);
    held_t rest = take_rest();
    fill(c, 64, 3);
    t_kfree(b);
    hdr(b)->size = 4096;
    char *big = kmalloc(1000);
    if (big)
        assert_fresh(big, 1000, HELD({a, 64}, {c, 64}, {d, 64}, rest));
    assert_null(big);
    int k = allocate_all(16, v, 16, HELD({a, 64}, {c, 64}, {d, 64}, rest));
    assert_true(k >= 1);
    assert_intact(c, 64, 3);
    assert_intact(rest.p, rest.n, 9);
    expect_report("kmalloc", "corrupt|smashed|size", ADDRS(b, hdr(b)));
    assert_healthy("after kmalloc");
    free_live(v);
    assert_full_recovery(PTRS(a, c, d, (void *)rest.p));
}

/*
 * Reviewer s8 (#5): a free block's next field overwritten, its magic intact,
 * with a plausible pointer: into the live block after it (the rest of the
 * heap is taken: b is the only free block).
 *
 *   | a | b free 200, next -> c + 8 | c live | rest (taken) |   kmalloc(16) until NULL
 *
 * Expect kmalloc (which splits b) not to write through the bad link: c keeps
 * its data; the bad header is reported; the heap is healthy and whole after.
 */
static void test_free_block_next_overwritten(void **state)
{
    void *v[16];
    char *a = t_kmalloc(64), *b = t_kmalloc(200), *c = t_kmalloc(64);
    held_t rest = take_rest();
    fill(c, 64, 3);
    t_kfree(b);
    hdr(b)->next = (heap_block_t *)(c + 8);
    int k = allocate_all(16, v, 16, HELD({a, 64}, {c, 64}, rest));
    assert_true(k >= 1);
    assert_intact(c, 64, 3);
    expect_report("kmalloc", "corrupt|smashed|next", ADDRS(b, hdr(b)));
    assert_healthy("after kmalloc");
    free_live(v);
    assert_full_recovery(PTRS(a, c, (void *)rest.p));
}

/*
 * Found by the fuzzer: one stray byte changes the prev field of a live block's
 * header, its magic intact, so that prev points into the live block before.
 *
 *   | a | b live (data) | c | d, prev -> b + 8 | e | rest free |   kfree(d)
 *
 * Expect kfree(d) not to trust the link (nor to "rebuild" a header inside b):
 * b keeps its data, the bad header is reported, d is freed (c->next and e->prev
 * both say where d is), and the heap is healthy and whole afterwards.
 */
static void test_live_block_prev_overwritten_then_kfree(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64), *d = t_kmalloc(64);
    char *e = t_kmalloc(64);
    fill(b, 64, 2);
    hdr(d)->prev = (heap_block_t *)(b + 8);
    kfree(d);
    assert_intact(b, 64, 2);
    expect_report("kfree", "corrupt|smashed|prev", ADDRS(d));
    assert_int_equal(stats_now().heap_used, 4 * 64);
    assert_healthy("after kfree(d)");
    assert_full_recovery(PTRS(a, b, c, e));
}

/*
 * Found by the fuzzer: two caller bugs together.  An overflow wipes a live
 * block's header, and a write after free leaves a free-list link pointing at
 * that header (as a stray copy of a list link would).  The rest of the heap
 * is taken: c is the only free block.
 *
 *   | a |#b hdr#| b live (data) | x | c free, next_free -> b's header | d | rest (taken) |
 *
 * Expect the link not to make b free: kmalloc never hands out b, b keeps its
 * data, the damage is reported, and b is rebuilt as allocated, so that it
 * frees without a report and the heap ends whole.
 */
static void test_smashed_live_header_with_free_list_link_to_it(void **state)
{
    void *v[16];
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *x = t_kmalloc(64), *c = t_kmalloc(64);
    char *d = t_kmalloc(64);
    held_t rest = take_rest();
    fill(b, 64, 2);
    t_kfree(c);
    memset(a, JUNK, 64 + HDR);
    set_link(c, NEXT_FREE, (uintptr_t)hdr(b));
    int k = allocate_all(16, v, 16, HELD({a, 64}, {b, 64}, {x, 64}, {d, 64}, rest));
    assert_true(k >= 1);
    assert_intact(b, 64, 2);
    expect_report("kmalloc", "corrupt|smashed|after free", ADDRS(b, hdr(b), c, hdr(c)));
    assert_healthy("after kmalloc");
    free_live(v);
    assert_full_recovery(PTRS(a, b, x, d, (void *)rest.p));
}

/* ------------------------------------------------- the end of the heap ---- */

/*
 * Reviewer min4 (#6): rebuilding a smashed header must not read past the end
 * of the heap, whatever the block's payload holds.
 *
 *   | a |#magic#| b live, word 1 = HEAP_END - HDR | c | rest |##guard page##
 *
 * Expect kfree(b) to report the smashed header, rebuild it as ALLOCATED (it
 * is live) and free it, without touching the page after the heap.
 */
static void test_rebuild_does_not_read_past_heap_end(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    set_link(b, PREV_FREE, (uintptr_t)HEAP_END - HDR); /* ordinary data of b */
    memset(a, JUNK, 64 + 4);
    guard_heap_end(1);
    kfree(b);
    expect_report("kfree", "smashed", ADDRS(b));
    assert_int_equal(stats_now().heap_used, 128);
    assert_int_equal(stats_now().free_count, 1);
    assert_healthy("after kfree(b)");
    assert_full_recovery(PTRS(a, c));
}

/*
 * Reviewer s14 (#6): the smallest possible free block at the very end of the
 * heap, with a guard page after it; then its magic smashed.
 *
 *   | p (all but the last HDR + MINP) | last free, MINP |##guard page##
 *
 * Expect stats, dump, check, kmalloc and kfree never to read the guard page;
 * the smashed last block reported and rebuilt as free.
 */
static void test_smallest_block_at_heap_end(void **state)
{
    size_t n = INITIAL_HEAP_SIZE - HDR - HDR - MINP;
    char *p = t_kmalloc(n);
    assert_non_null(p);
    assert_int_equal(stats_now().block_count, 2);
    guard_heap_end(1);
    memory_stats_t s = stats_now();
    assert_int_equal(s.largest_free_block, MINP);
    heap_dump();
    assert_healthy("with the guard page");
    char *q = t_kmalloc(1);
    assert_ptr_equal(q, p + n + HDR);
    t_kfree(q);
    memset(p, JUNK, n + 4); /* the last block's magic */
    char *r = kmalloc(1);
    expect_report("kmalloc", "smashed|corrupt", ADDRS(q, hdr(q)));
    assert_ptr_equal(r, q);
    assert_healthy("after kmalloc");
    assert_full_recovery(PTRS(r, p));
}

/* --------------------------------------------- several headers wiped ---- */

/*
 * Reviewer s18 (#7): an overflow wipes two consecutive headers (b's cannot be
 * rebuilt: the header that would say where b ends is c's, gone too), and a
 * write after free scribbles on x's links; then kmalloc, kfree of e (whose
 * left neighbour d is free), kmalloc.
 *
 *   | a |#b hdr#|# b #|#c hdr#| c | x free | y | d free | e | z | rest free |
 *
 * Full recovery may be impossible.  Expect the minimum: no crash, no hang,
 * errors reported, every kmalloc result inside the heap and clear of every
 * block the test holds (y and z keep their data), and frees of the held
 * blocks survived.
 */
static void test_two_headers_wiped_minimum(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64), *x = t_kmalloc(64);
    char *y = t_kmalloc(64), *d = t_kmalloc(64), *e = t_kmalloc(64), *z = t_kmalloc(64);
    fill(y, 64, 5);
    fill(z, 64, 6);
    t_kfree(x);
    t_kfree(d);
    memset(a, JUNK, 64 + HDR + 64 + HDR);
    set_link(x, NEXT_FREE, JUNK_WORD);
    char *p = kmalloc(16);
    if (p)
        assert_fresh(p, 16, HELD({a, 64}, {b, 64}, {c, 64}, {y, 64}, {e, 64}, {z, 64}));
    kfree(e);
    char *q = kmalloc(16);
    if (q)
        assert_fresh(q, 16, HELD({a, 64}, {b, 64}, {c, 64}, {y, 64}, {z, 64}, {p, p ? 16 : 0}));
    assert_true(errors_now() >= 1);
    assert_intact(y, 64, 5);
    assert_intact(z, 64, 6);
    kfree(b);
    kfree(c);
    kfree(a);
    kfree(p);
    kfree(q);
    assert_intact(y, 64, 5);
    assert_intact(z, 64, 6);
    heap_check();
    get_memory_stats(&(memory_stats_t){0});
    heap_dump();
}

/*
 * Three consecutive headers wiped, one of them a free block's (links too).
 *
 *   | a |#b hdr#| b |#c hdr#| c free |#d hdr#| d | e | rest free |
 *
 * Expect the minimum: kmalloc until NULL gives blocks inside the heap, clear
 * of a, b, d, e and of each other; e keeps its data; frees survive.
 */
static void test_three_headers_wiped_minimum(void **state)
{
    enum { MAX = INITIAL_HEAP_SIZE / (24 + 16) + 1 };
    static char *v[MAX];
    static held_t held[MAX + 5];
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64), *d = t_kmalloc(64);
    char *e = t_kmalloc(64);
    fill(e, 64, 5);
    t_kfree(c);
    memset(a, JUNK, 64 + 3 * (HDR + 64) - 64);
    int h = 0;
    held[h++] = (held_t){a, 64};
    held[h++] = (held_t){b, 64};
    held[h++] = (held_t){d, 64};
    held[h++] = (held_t){e, 64};
    int k = 0;
    while (k < MAX && (v[k] = kmalloc(24)) != NULL) {
        held[h] = (held_t){NULL, 0};
        assert_fresh(v[k], 24, held);
        held[h++] = (held_t){v[k], 24};
        k++;
    }
    assert_true(k < MAX);
    assert_true(errors_now() >= 1);
    assert_intact(e, 64, 5);
    for (int i = 0; i < k; i++)
        kfree(v[i]);
    kfree(b);
    kfree(d);
    kfree(e);
    kfree(a);
    heap_check();
    heap_dump();
    char *p = kmalloc(100);
    if (p)
        assert_fresh(p, 100, HELD({NULL, 0}));
}

/* ------------------------------------------- smashed block, krealloc ---- */

/*
 * Reviewer s17: krealloc of a block whose header an overflow wiped.
 *
 *   | a |#b hdr#| b 64 (data) | c | rest free |   krealloc(b, 300)
 *
 * Expect a report naming krealloc and b, the header rebuilt and the data moved
 * (b cannot grow in place: c follows), the heap healthy and whole afterwards.
 */
static void test_krealloc_of_smashed_block(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    fill(b, 64, 2);
    memset(a, JUNK, 64 + HDR);
    char *q = krealloc(b, 300);
    expect_report("krealloc", "smashed", ADDRS(b));
    assert_non_null(q);
    assert_intact(q, 64, 2);
    assert_fresh(q, 300, HELD({a, 64}, {c, 64}));
    assert_healthy("after krealloc");
    assert_full_recovery(PTRS(a, c, q));
}

/*
 * Reviewer s12: a report whose line is long (x86_64 addresses) still ends with
 * a newline, and every report starts a line.
 *
 *   | a |#magic#| b | c | rest |   krealloc(a, 4000)
 */
static void test_report_lines_end_with_newline(void **state)
{
    char *a = t_kmalloc(64), *b = t_kmalloc(64), *c = t_kmalloc(64);
    memset(a, JUNK, 64 + 4);
    host_console_clear();
    char *q = krealloc(a, 4000);
    const char *t = host_console_text();
    assert_true(strlen(t) > 0);
    assert_int_equal(t[strlen(t) - 1], '\n');
    for (const char *e = strstr(t, "ERROR: "); e; e = strstr(e + 1, "ERROR: "))
        assert_true(e == t || e[-1] == '\n');
    assert_non_null(q);
    assert_healthy("after krealloc");
    assert_full_recovery(PTRS(b, c, q));
}

/* ------------------------------------------- counters, dump, reports ---- */

/*
 * Reviewer s6 (#8): krealloc growing in place into the free rest of the heap
 * raises peak_heap_used to the new size, not to the size of the merged block.
 *
 *   | p 104 | rest free |   krealloc(p, 200)  ->  | p 200 | rest free |
 */
static void test_peak_after_krealloc_grow_in_place(void **state)
{
    char *p = t_kmalloc(100);
    assert_int_equal(stats_now().peak_heap_used, BLOCK_SIZE(100));
    assert_ptr_equal(t_krealloc(p, 200), p);
    memory_stats_t s = stats_now();
    assert_int_equal(s.heap_used, BLOCK_SIZE(200));
    assert_int_equal(s.peak_heap_used, BLOCK_SIZE(200));
    assert_full_recovery(PTRS(p));
}

/*
 * Reviewer s9 (#9): heap_dump with a block whose `file` field was overwritten
 * by a pointer to a page that faults.
 *
 *   | a (file -> guard page) | rest free |##guard page##|   heap_dump()
 *
 * Expect heap_dump not to dereference it: it returns, still lists a, and a
 * can be freed afterwards (the heap whole again).
 */
static void test_heap_dump_survives_smashed_file_field(void **state)
{
    char *a = t_kmalloc(64);
    hdr(a)->file = (const char *)HEAP_END + 64;
    hdr(a)->line = 1234;
    guard_heap_end(1);
    host_console_clear();
    heap_dump();
    char line[64];
    snprintf(line, sizeof(line), "0x%0*lx  %8u  ALLOC", (int)(2 * PTR), (unsigned long)(uintptr_t)a,
             64u);
    if (!host_console_has(line))
        fail_msg("heap_dump does not list \"%s\":\n%s", line, console_tail());
    kfree(a);
    assert_int_equal(stats_now().heap_used, 0);
    assert_whole();
}

/*
 * Reviewer s10 (#11): an absurd kmalloc(SIZE_MAX) must not use up the one
 * "out of memory" line of the next genuine exhaustion.
 */
static void test_oom_reported_after_kmalloc_size_max(void **state)
{
    enum { MAX = INITIAL_HEAP_SIZE / (1000 + 16) + 1 };
    void *v[MAX];
    assert_null(kmalloc(SIZE_MAX));
    host_console_clear();
    int k = 0;
    while (k < MAX && (v[k] = t_kmalloc(1000)) != NULL)
        k++;
    assert_true(k < MAX);
    if (!host_console_has("out of memory"))
        fail_msg("no \"out of memory\" line after exhausting the heap; the console says:\n%s",
                 console_tail());
    for (int i = 0; i < k; i++)
        t_kfree(v[i]);
    assert_whole();
}

/*
 * Reviewer s11 (#12): krealloc(bad, 0) is a krealloc misuse, reported as
 * krealloc (not as kfree), and changes nothing.
 */
static void test_krealloc_bad_pointer_size_zero(void **state)
{
    int local;
    char *p = t_kmalloc(64), *q = t_kmalloc(64);
    t_kfree(p);
    memory_stats_t before = stats_now();
    assert_null(t_krealloc(&local, 0));
    assert_reported("krealloc", &local, "outside the heap");
    assert_null(t_krealloc(p, 0));
    assert_reported("krealloc", p, "double free");
    assert_null(t_krealloc(q + 8, 0));
    assert_reported("krealloc", q + 8, "interior");
    memory_stats_t after = stats_now();
    assert_int_equal(after.error_count, before.error_count + 3);
    assert_int_equal(after.free_count, before.free_count);
    assert_int_equal(after.heap_used, 64);
    assert_full_recovery(PTRS(q));
}

/* ----------------------------------------------------- misuse fuzzer ---- */

/*
 * Random legal kmalloc/kcalloc/krealloc/kfree on a table of live blocks (each
 * filled with its own pattern) mixed with misuse.  A "clean" run only frees
 * or resizes bad pointers (double, interior, wild) and asks for absurd sizes:
 * each misuse is exactly one report and changes nothing, every legal call
 * reports nothing, heap_check() stays 0, and each round ends with the heap
 * whole.  A "scribbling" run also overflows live blocks by 1..HDR + LINKS
 * bytes (or writes one stray byte that far past the end) and writes into
 * freed blocks' first LINKS bytes; such damage can hit blocks the fuzzer
 * cannot see, so it asks only: no crash, no hang, every result inside the
 * heap, 8-aligned and clear of every live block whose payload no write of
 * ours touched, and those blocks keep their data.  A block whose payload a
 * write touched is not checked, and is forgotten once a new block overlaps
 * it.  A failure names the seed and the operation; MISUSE_VERIFY=1 checks
 * every block after every operation, to find the one that changed it.
 */
#define FZ_SLOTS  192
#define FZ_DEAD   64
#define FZ_ROUND  2000 /* operations between two memory_init() */
#define FZ_OPS    20000
#define FZ_LOST   512
#define FZ_GRAINS (INITIAL_HEAP_SIZE / HEAP_ALIGN)

typedef struct {
    unsigned char *p; /* NULL: empty slot */
    size_t n;
    unsigned tag;
    int hit; /* a write of ours touched the payload: contents unknown */
} fz_slot_t;

static struct {
    uint32_t seed, rng;
    int op, scribble;
    unsigned tag;
    fz_slot_t live[FZ_SLOTS];
    unsigned char *dead[FZ_DEAD];
    unsigned ndead;
    struct {
        uintptr_t lo, hi;
    } lost[FZ_LOST];
    int nlost;
    unsigned char grains[FZ_GRAINS / 8];
    int verify_every_op; /* MISUSE_VERIFY=1: find the operation that changed a block */
} fz;

static uint32_t fz_rand(void)
{
    return rng_next(&fz.rng);
}

__attribute__((format(printf, 1, 2))) static void fz_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fail_msg("fuzz seed %u (%s), operation %d: %s\nthe console says:\n%s", fz.seed,
             fz.scribble ? "scribbling" : "clean", fz.op, msg, console_tail());
}

static size_t fz_size(void)
{
    static const struct rng_range mix[3] = {{70, 1, 128}, {25, 129, 896}, {5, 1025, 3072}};
    return rng_size(&fz.rng, mix);
}

static int fz_is_live_start(const void *p)
{
    for (int i = 0; i < FZ_SLOTS; i++) {
        if (fz.live[i].p == p)
            return 1;
    }
    return 0;
}

static int fz_in_lost(uintptr_t a)
{
    for (int i = 0; i < fz.nlost; i++) {
        if (a >= fz.lost[i].lo && a < fz.lost[i].hi)
            return 1;
    }
    return 0;
}

static void fz_verify(int i)
{
    fz_slot_t *s = &fz.live[i];
    if (!s->p || s->hit)
        return;
    size_t k = first_change(s->p, s->n, s->tag);
    if (k != s->n)
        fz_fail("live block %p (%zu bytes) changed at byte %zu", (void *)s->p, s->n, k);
}

/* A block the heap just handed out (to slot `self`, or -1). */
static void fz_check_new(const unsigned char *p, size_t n, int self, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    if (a % HEAP_ALIGN || a < HDR || a - HDR < HEAP_BASE || a + n > HEAP_END)
        fz_fail("%s gave %p (%zu bytes): not an aligned block of the heap [%p, %p)", fn, (void *)p,
                n, (void *)HEAP_BASE, (void *)HEAP_END);
    for (int j = 0; j < FZ_SLOTS; j++) {
        fz_slot_t *s = &fz.live[j];
        if (j == self || !s->p || !extents_overlap(p, n, s->p, s->n))
            continue;
        if (!s->hit)
            fz_fail("%s gave %p (%zu bytes), overlapping the live block %p (%zu bytes)", fn,
                    (void *)p, n, (void *)s->p, s->n);
        /* the heap reused a scribbled-on block: forget it (never free it) */
        if (fz.nlost < FZ_LOST) {
            fz.lost[fz.nlost].lo = (uintptr_t)s->p - HDR;
            fz.lost[fz.nlost].hi = (uintptr_t)s->p + s->n;
            fz.nlost++;
        }
        s->p = NULL;
    }
}

/* A write of ours to [lo, hi): the live payloads it touches are no longer checked. */
static void fz_mark_write(uintptr_t lo, uintptr_t hi)
{
    for (int j = 0; j < FZ_SLOTS; j++) {
        fz_slot_t *s = &fz.live[j];
        if (s->p && lo < (uintptr_t)s->p + s->n && (uintptr_t)s->p < hi)
            s->hit = 1;
    }
}

static void fz_bury(unsigned char *p)
{
    fz.dead[fz.ndead++ % FZ_DEAD] = p;
}

static void fz_store(int i, unsigned char *p, size_t n)
{
    fz.live[i] = (fz_slot_t){p, n, ++fz.tag, 0};
    fill(p, n, fz.tag);
}

/* A pointer that must not be freed: dead, interior or wild (NULL: none found). */
static unsigned char *fz_bad_pointer(void)
{
    static int on_global;
    int on_stack;
    int i = (int)(fz_rand() % FZ_SLOTS);
    unsigned char *p = NULL;
    switch (fz_rand() % 3) {
    case 0: /* double free */
        p = fz.dead[fz_rand() % FZ_DEAD];
        break;
    case 1: /* interior, or into the header */
        if (fz.live[i].p && fz.live[i].n > 1) {
            long off = (long)(fz_rand() % (fz.live[i].n + HDR)) - (long)HDR;
            p = fz.live[i].p + (off ? off : 1);
        }
        break;
    default: { /* wild: outside the heap, or anywhere in it */
        uintptr_t outside[] = {
            (uintptr_t)&on_stack,
            (uintptr_t)&on_global,
            0x1234,
            HEAP_BASE - 8,
            HEAP_BASE - PAGE_SIZE + 16,
            HEAP_END,
            HEAP_END + PAGE_SIZE,
            JUNK_WORD,
        };
        uint32_t r = fz_rand() % 16;
        if (r < sizeof(outside) / sizeof(outside[0]))
            return (unsigned char *)outside[r];
        uintptr_t a = HEAP_BASE + fz_rand() % INITIAL_HEAP_SIZE;
        p = (unsigned char *)(r & 1 ? a : a & ~(uintptr_t)7);
    }
    }
    if (!p || fz_is_live_start(p) || fz_in_lost((uintptr_t)p))
        return NULL;
    return p;
}

/*
 * Overflow a live block by 1..HDR + LINKS bytes into whatever follows: random
 * bytes, one repeated byte or zeros; or a single stray byte somewhere in that
 * range (arr[n + k] = x), which can change a size or a link and leave the
 * magic number intact.
 */
static void fz_overflow(int i)
{
    fz_slot_t *s = &fz.live[i];
    if (!s->p)
        return;
    uintptr_t lo = (uintptr_t)s->p + s->n;
    uintptr_t hi = lo + 1 + fz_rand() % (HDR + LINKS);
    uint32_t kind = fz_rand() % 4;
    if (kind == 3)
        lo = hi - 1;
    if (hi > HEAP_END)
        return;
    unsigned char byte = (unsigned char)fz_rand();
    for (uintptr_t a = lo; a < hi; a++)
        *(unsigned char *)a = kind == 0 || kind == 3 ? (unsigned char)fz_rand()
                              : kind == 1            ? byte
                                                     : 0;
    fz_mark_write(lo, hi);
}

/* A write after free into the first LINKS bytes of a freed block. */
static void fz_write_after_free(void)
{
    unsigned char *d = fz.dead[fz_rand() % FZ_DEAD];
    if (!d || (uintptr_t)d + LINKS > HEAP_END)
        return;
    unsigned char *other = fz.dead[fz_rand() % FZ_DEAD];
    uintptr_t v;
    switch (fz_rand() % 6) {
    case 0:
        v = (uintptr_t)d - HDR; /* loops back to its own block */
        break;
    case 1:
        v = other ? (uintptr_t)other - HDR : 0; /* another (stale) header */
        break;
    case 2:
        v = (HEAP_BASE + fz_rand() % INITIAL_HEAP_SIZE) & ~(uintptr_t)7;
        break;
    case 3:
        v = 0;
        break;
    case 4:
        v = JUNK_WORD;
        break;
    default:
        v = (uintptr_t)fz_rand() * 0x10001u;
    }
    size_t at = fz_rand() % 2 * PTR, len = (fz_rand() % 2 + 1) * PTR;
    if (at + len > LINKS)
        len = LINKS - at;
    for (size_t k = 0; k < len; k += PTR)
        memcpy(d + at + k, &v, PTR);
    fz_mark_write((uintptr_t)d + at, (uintptr_t)d + at + len);
}

/* Clean runs: a legal call reports nothing and leaves the heap healthy. */
static void fz_expect_clean(uint32_t errors_before, const char *what)
{
    if (fz.scribble)
        return;
    if (errors_now() != errors_before)
        fz_fail("%s reported an error: %s", what, mm_last_error());
    int broken = heap_check();
    if (broken)
        fz_fail("after %s: heap_check() = %d", what, broken);
}

/* Slot i is empty: kmalloc, kcalloc or krealloc(NULL, n) into it. */
static void fz_allocate(int i, const memory_stats_t *before)
{
    uint32_t r = fz_rand() % 10;
    size_t n, c = 1 + fz_rand() % 8, sz = 1 + fz_rand() % 64;
    unsigned char *p;
    if (r < 2) {
        n = c * sz;
        p = kcalloc(c, sz);
        for (size_t b = 0; p && b < n; b++) {
            if (p[b])
                fz_fail("kcalloc(%zu, %zu) = %p: byte %zu is not zero", c, sz, (void *)p, b);
        }
    } else {
        n = fz_size();
        p = r < 9 ? kmalloc(n) : krealloc(NULL, n);
    }
    if (p) {
        fz_check_new(p, n, -1, r < 2 ? "kcalloc" : "kmalloc");
        fz_store(i, p, n);
    } else if (!fz.scribble && stats_now().largest_free_block >= 2 * ALIGN_8(n) + HDR) {
        /* (twice the size: a size-class allocator may round a request up) */
        fz_fail("kmalloc(%zu) = NULL with a free block of %u", n, stats_now().largest_free_block);
    }
    fz_expect_clean(before->error_count, "kmalloc");
}

/* Slot i is live: kfree, krealloc(p, 0) or krealloc to a new size. */
static void fz_release_or_resize(int i, const memory_stats_t *before)
{
    fz_slot_t *s = &fz.live[i];
    uint32_t r = fz_rand() % 20;
    fz_verify(i);
    if (r < 12) {
        if (r < 11)
            kfree(s->p);
        else if (krealloc(s->p, 0) != NULL)
            fz_fail("krealloc(%p, 0) did not return NULL", (void *)s->p);
        fz_bury(s->p);
        s->p = NULL;
        fz_expect_clean(before->error_count, "kfree");
        return;
    }
    size_t m = fz_size();
    unsigned char *q = krealloc(s->p, m);
    if (q) {
        fz_check_new(q, m, i, "krealloc");
        size_t keep = m < s->n ? m : s->n;
        if (!s->hit && first_change(q, keep, s->tag) != keep)
            fz_fail("krealloc(%p, %zu) = %p lost the data", (void *)s->p, m, (void *)q);
        if (q != s->p)
            fz_bury(s->p);
        fz_store(i, q, m);
    } else {
        fz_verify(i);
    }
    fz_expect_clean(before->error_count, "krealloc");
}

/* kfree or krealloc of a pointer that is not a live block. */
static void fz_misuse_pointer(const memory_stats_t *before)
{
    unsigned char *bad = fz_bad_pointer();
    if (!bad)
        return;
    uint32_t how = fz_rand() % 4;
    const char *fn = how < 2 ? "kfree" : "krealloc";
    size_t m = how == 2 ? 0 : fz_size();
    unsigned char *q = NULL;
    if (how < 2)
        kfree(bad);
    else
        q = krealloc(bad, m);
    if (q && !fz.scribble)
        fz_fail("krealloc(%p, %zu) of a bad pointer did not return NULL", (void *)bad, m);
    if (q) {
        /* a scribbled-on block taken for a live one: survivable, if the result is sane */
        fz_check_new(q, m, -1, "krealloc (bad pointer)");
        kfree(q);
    }
    if (fz.scribble)
        return;
    memory_stats_t after = stats_now();
    if (after.error_count != before->error_count + 1)
        fz_fail("%s(%p) of a bad pointer: %u reports, expected one", fn, (void *)bad,
                after.error_count - before->error_count);
    if (after.heap_used != before->heap_used || after.free_count != before->free_count)
        fz_fail("%s(%p) of a bad pointer changed the heap", fn, (void *)bad);
    if (heap_check())
        fz_fail("%s(%p) of a bad pointer broke the heap", fn, (void *)bad);
}

/* Absurd sizes: refused, nothing changes. */
static void fz_absurd(int i, const memory_stats_t *before)
{
    size_t huge = SIZE_MAX - fz_rand() % 64;
    if (kmalloc(huge) || kcalloc(huge / 2 + 1, 2 + fz_rand() % 4))
        fz_fail("an absurd request succeeded");
    if (fz.live[i].p && krealloc(fz.live[i].p, huge))
        fz_fail("krealloc(%p, %zu) succeeded", (void *)fz.live[i].p, huge);
    fz_verify(i);
    if (!fz.scribble && (stats_now().heap_used != before->heap_used || heap_check()))
        fz_fail("an absurd request changed the heap");
}

static void fz_step(void)
{
    uint32_t k = fz_rand() % 1000;
    int i = (int)(fz_rand() % FZ_SLOTS);
    memory_stats_t before;
    get_memory_stats(&before);
    host_console_clear();
    if (k < 50)
        fz_misuse_pointer(&before);
    else if (k < 60)
        fz_absurd(i, &before);
    else if (fz.scribble && k < 75)
        fz_overflow(i);
    else if (fz.scribble && k < 90)
        fz_write_after_free();
    else if (fz.live[i].p)
        fz_release_or_resize(i, &before);
    else
        fz_allocate(i, &before);
}

static void fz_round_end(void)
{
    for (int i = 0; i < FZ_SLOTS; i++) {
        fz_verify(i);
        if (fz.live[i].p) {
            uint32_t before = errors_now();
            kfree(fz.live[i].p);
            fz.live[i].p = NULL;
            if (!fz.scribble && errors_now() != before)
                fz_fail("kfree of a live block at the end reported: %s", mm_last_error());
        }
    }
    if (!fz.scribble) {
        assert_whole();
        return;
    }
    /* after the damage: whatever kmalloc still gives is inside and disjoint */
    memset(fz.grains, 0, sizeof(fz.grains));
    static unsigned char *got[4096];
    int n = 0;
    while (n < 4096) {
        size_t sz = 1 + fz_rand() % 256;
        unsigned char *p = kmalloc(sz);
        if (!p)
            break;
        fz_check_new(p, sz, -1, "kmalloc (exhaustion)");
        for (uintptr_t a = (uintptr_t)p - HDR; a < (uintptr_t)p + sz; a += HEAP_ALIGN) {
            size_t g = (a - HEAP_BASE) / HEAP_ALIGN;
            if (fz.grains[g / 8] & (1u << (g % 8)))
                fz_fail("kmalloc (exhaustion) gave %p (%zu bytes), overlapping an earlier block",
                        (void *)p, sz);
            fz.grains[g / 8] |= (unsigned char)(1u << (g % 8));
        }
        got[n++] = p;
    }
    for (int i = 0; i < n; i++)
        kfree(got[i]);
    heap_check();
    heap_dump();
}

static void fz_run(uint32_t seed, int scribble)
{
    memset(&fz, 0, sizeof(fz));
    fz.seed = seed;
    fz.rng = seed * 2654435761u | 1;
    fz.scribble = scribble;
    fz.verify_every_op = getenv("MISUSE_VERIFY") != NULL;
    for (fz.op = 0; fz.op < FZ_OPS; fz.op++) {
        if (fz.op % FZ_ROUND == 0) {
            memory_init();
            memset(fz.live, 0, sizeof(fz.live));
            memset(fz.dead, 0, sizeof(fz.dead));
            fz.nlost = 0;
        }
        fz_step();
        if (scribble && fz.op % 4 == 0)
            heap_check();
        if (fz.op % 256 == 255 || fz.verify_every_op) {
            for (int i = 0; i < FZ_SLOTS; i++)
                fz_verify(i);
        }
        if (fz.op % 512 == 511)
            heap_dump();
        if (fz.op % FZ_ROUND == FZ_ROUND - 1)
            fz_round_end();
    }
    memory_init();
}

static void test_fuzz_bad_pointers(void **state)
{
    for (uint32_t seed = 1; seed <= 6; seed++)
        fz_run(seed, 0);
}

static void test_fuzz_scribbles(void **state)
{
    for (uint32_t seed = 1; seed <= 12; seed++)
        fz_run(seed, 1);
}

int main(void)
{
#define T(f)  cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TF(f) cmocka_unit_test_setup_teardown(f, setup_fuzz, teardown)
    const struct CMUnitTest tests[] = {
        T(test_overflow_into_free_neighbour_links_then_kfree),
        T(test_smashed_free_header_then_kmalloc_stays_free),
        T(test_smashed_free_predecessor_reported_on_kfree),
        T(test_stale_merged_header_does_not_fool_rebuild),
        T(test_stale_merged_header_then_exhaustion),
        T(test_kfree_of_stale_header_inside_live_block),
        T(test_freelist_self_loop_then_stats_and_kfree),
        T(test_freelist_self_loop_then_kmalloc),
        T(test_freelist_link_outside_heap),
        T(test_freelist_link_to_fake_block_outside_heap),
        T(test_write_after_free_first_word_then_kfree_neighbour),
        T(test_write_after_free_prev_link_then_kmalloc),
        T(test_free_block_size_overwritten_no_overlap),
        T(test_free_block_next_overwritten),
        T(test_live_block_prev_overwritten_then_kfree),
        T(test_smashed_live_header_with_free_list_link_to_it),
        T(test_rebuild_does_not_read_past_heap_end),
        T(test_smallest_block_at_heap_end),
        T(test_two_headers_wiped_minimum),
        T(test_three_headers_wiped_minimum),
        T(test_krealloc_of_smashed_block),
        T(test_report_lines_end_with_newline),
        T(test_peak_after_krealloc_grow_in_place),
        T(test_heap_dump_survives_smashed_file_field),
        T(test_oom_reported_after_kmalloc_size_max),
        T(test_krealloc_bad_pointer_size_zero),
        TF(test_fuzz_bad_pointers),
        TF(test_fuzz_scribbles),
    };
    return cmocka_run_group_tests_name("misuse", tests, NULL, NULL);
}

/*
 * test_debug.c - the debug build (MM_DEBUG, include/mm_debug.h), checks on:
 * red zones, fill and poison bytes, the quarantine, the leak report, the
 * histogram, the profile and the trace.  Built only in the debug
 * configuration (build/host/<arch>-debug/, or make DEBUG=1).
 *
 *   heap block:   | hdr ... rz | object | red zone >= 8 | rec |
 *   slab object:  | object | red zone (to the stride's end) |
 *
 * Every detection is one report naming the function, the object and its
 * call site; the heap is whole again right after it (heap_check() == 0).
 */
#include "harness.h"
#include "mm_debug.h"
#include "pmm.h"
#include "slab.h"
#include "vmm.h"

#ifndef MM_DEBUG
#error "test_debug.c is built only with MM_DEBUG"
#endif

#define MB        (1024u * 1024u)
#define RAM       (48 * MB)
#define FILE_NAME "tests/host/test_debug.c"

static int debug_heap(void **state)
{
    (void)state;
    mm_debug_set(1);
    memory_init();
    host_console_clear();
    return 0;
}

/* The virtual heap, where kmalloc's small sizes are slab objects. */
static int debug_virtual(void **state)
{
    (void)state;
    mm_debug_set(1);
    fresh_paging_ram(RAM);
    heap_init_virtual();
    return 0;
}

static int checks_off(void **state)
{
    (void)state;
    mm_debug_flush();
    mm_debug_set(0);
    return 0;
}

/* "<what> ... allocated at tests/host/test_debug.c:<line>" */
static void assert_site(const char *what, int line)
{
    char site[128];
    snprintf(site, sizeof(site), "%s " FILE_NAME ":%d", what, line);
    if (!strstr(mm_last_error(), site))
        fail_msg("expected \"%s\" in \"%s\"", site, mm_last_error());
}

static int all_bytes(const void *p, size_t n, unsigned char b)
{
    for (size_t i = 0; i < n; i++) {
        if (((const unsigned char *)p)[i] != b)
            return 0;
    }
    return 1;
}

/* After the quarantine is flushed the Phase 1 heap is one free block again. */
static void assert_heap_empty(void)
{
    mm_debug_flush();
    CHECK_HEAP();
    memory_stats_t s = stats_now();
    assert_int_equal(s.block_count, 1);
    assert_int_equal(s.heap_free, INITIAL_HEAP_SIZE - HDR);
}

/* ------------------------------------------------------- the switch ---- */

static void test_checks_follow_the_switch(void **state)
{
    assert_int_equal(mm_debug_enabled(), 1);
    mm_debug_set(0);
    assert_int_equal(mm_debug_enabled(), 1); /* only the next memory_init changes it */
    memory_init();
    assert_int_equal(mm_debug_enabled(), 0);
    char *p = t_kmalloc(24);
    assert_int_equal(kmalloc_usable_size(p), BLOCK_SIZE(24)); /* no red zone: the normal layout */
    t_kfree(p);
    assert_int_equal(stats_now().block_count, 1); /* no quarantine */
    mm_debug_set(1);
    memory_init();
    assert_int_equal(mm_debug_enabled(), 1);
}

/* ----------------------------------------------------------- red zones ---- */

/*  | a (1000) | rz | rec | b |   a[1000] = 'x': reported by kfree(a), with a's call site. */
static void test_block_overflow_by_one_byte(void **state)
{
    int line = __LINE__ + 1;
    char *a = kmalloc(1000);
    char *b = t_kmalloc(100);
    assert_non_null(a);
    a[1000] = 'x';
    kfree(a);
    assert_reported("kfree", a, "red zone overwritten 1 byte past the end of a 1000-byte block");
    assert_site("allocated at", line);
    CHECK_HEAP();
    t_kfree(b);
    assert_heap_empty();
}

/* The same overflow seen first by heap_check, once; the block then frees quietly. */
static void test_block_overflow_found_by_heap_check(void **state)
{
    char *a = t_kmalloc(20);
    memset(a + 20, 0, 3);
    assert_int_equal(heap_check(), 1);
    assert_reported("heap_check", a,
                    "red zone overwritten 3 bytes past the end of a 20-byte block");
    CHECK_HEAP();
    uint32_t errors = stats_now().error_count;
    t_kfree(a);
    assert_int_equal(stats_now().error_count, errors);
    assert_heap_empty();
}

/*
 *  | a (40) | rz | rec | hdr b | b |   a overflows by a header's worth: its red
 *  zone, its record and half of b's header.  Both are reported; b's header is
 *  rebuilt; everything frees.
 */
static void test_block_overflow_by_a_header(void **state)
{
    char *a = t_kmalloc(40);
    char *b = t_kmalloc(40);
    memset(a + 40, 'x', HDR);
    kfree(a);
    assert_reported("kfree", a, "red zone");
    kfree(b);
    assert_reported("kfree", b, "rebuilt");
    assert_heap_empty();
}

/* a[-1]: the header's last bytes are a red zone too. */
static void test_block_underflow(void **state)
{
    int line = __LINE__ + 1;
    char *a = kmalloc(64);
    a[-1] = 0;
    kfree(a);
    assert_reported("kfree", a, "red zone overwritten 1 byte before the start of a 64-byte block");
    assert_site("allocated at", line);
    assert_heap_empty();
}

/* A kmalloc-24 object: its stride ends in a red zone. */
static void test_slab_overflow_by_one_byte(void **state)
{
    int line = __LINE__ + 1;
    char *p = kmalloc(24);
    assert_non_null(p);
    assert_int_equal(stats_now().slab_objects, 1);
    p[24] = 1;
    kfree(p);
    assert_reported("kfree", p, "red zone overwritten 1 byte past the end of a 24-byte object");
    assert_site("allocated at", line);
    CHECK_HEAP();
}

/* A request smaller than its class: the red zone starts where the request ends. */
static void test_slab_overflow_of_a_short_request(void **state)
{
    char *p = t_kmalloc(17);
    p[17] = 1;
    assert_int_equal(heap_check(), 1);
    assert_reported("heap_check", p, "1 byte past the end of a 17-byte object");
    CHECK_HEAP();
    t_kfree(p);
}

/* A cache's object overflowing by a header's worth into the next object's slot. */
static void test_slab_overflow_by_a_header(void **state)
{
    kmem_cache_t *c = kmem_cache_create("thing", 40, 0, NULL);
    int line = __LINE__ + 1;
    char *a = kmem_cache_alloc(c);
    char *b = kmem_cache_alloc(c);
    CHECK_HEAP();
    char *first = a < b ? a : b;
    memset(first + 40, 'x', HDR);
    kmem_cache_free(c, first);
    assert_reported("kmem_cache_free", first, "red zone overwritten");
    assert_site("allocated at", line);
    kmem_cache_free(c, first == a ? b : a);
    CHECK_HEAP();
    assert_int_equal(kmem_cache_destroy(c), 0); /* the quarantine gives its objects back first */
    CHECK_HEAP();
}

/* ------------------------------------------------ fill and quarantine ---- */

static void test_new_memory_is_filled_freed_memory_poisoned(void **state)
{
    unsigned char *p = t_kmalloc(300);
    assert_true(all_bytes(p, 300, MM_FILL_BYTE)); /* an uninitialised read sees 0x5a */
    assert_int_equal(kmalloc_usable_size(p), 300);
    t_kfree(p);
    assert_true(all_bytes(p, 300, MM_POISON_BYTE)); /* and a read after free 0x6b */
    unsigned char *z = t_kcalloc(10, 30);
    assert_true(all_bytes(z, 300, 0));
    t_kfree(z);
}

static void test_slab_objects_filled_and_poisoned(void **state)
{
    unsigned char *p = t_kmalloc(40);
    assert_int_equal(stats_now().slab_objects, 1);
    assert_true(all_bytes(p, 40, MM_FILL_BYTE));
    t_kfree(p);
    assert_true(all_bytes(p, 40, MM_POISON_BYTE));
    unsigned char *q = t_kmalloc(40);
    assert_ptr_not_equal(p, q); /* p is in quarantine: not handed out again */
    t_kfree(q);
}

/* A write after free, found when the block leaves the quarantine (64 frees later). */
static void test_write_after_free_found_on_quarantine_exit(void **state)
{
    int aline = __LINE__ + 1;
    char *p = kmalloc(100);
    int fline = __LINE__ + 1;
    kfree(p);
    p[8] = 1;
    for (int i = 0; i < MM_QUARANTINE_ENTRIES; i++)
        kfree(kmalloc(16));
    assert_non_null(strstr(mm_last_error(), "write after free (offset 8)"));
    assert_site("freed at", fline);
    assert_site("allocated at", aline);
    assert_heap_empty();
}

/*
 * What leaves the quarantine is checked, and the report names the public
 * call that emptied it: kmem_cache_destroy (its cache's objects in
 * quarantine must go back first), kfree pushing the oldest out, and
 * mm_debug_flush.
 */
static void test_write_after_free_names_who_emptied_quarantine(void **state)
{
    (void)state;
    char *p = kmalloc(100);
    kfree(p);
    p[8] = 1;
    kmem_cache_t *cache = kmem_cache_create("drain", 40, 0, NULL);
    assert_non_null(cache);
    assert_int_equal(kmem_cache_destroy(cache), 0);
    assert_reported("kmem_cache_destroy", p, "write after free (offset 8)");
    p = kmalloc(100);
    kfree(p);
    p[9] = 1;
    for (int i = 0; i < MM_QUARANTINE_ENTRIES; i++)
        kfree(kmalloc(16));
    assert_reported("kfree", p, "write after free (offset 9)");
    p = kmalloc(100);
    kfree(p);
    p[10] = 1;
    assert_true(mm_debug_flush() >= 1);
    assert_reported("mm_debug_flush", p, "write after free (offset 10)");
    assert_heap_empty();
}

static void test_write_after_free_found_by_heap_check(void **state)
{
    char *keep = t_kmalloc(50);
    char *p = t_kmalloc(200);
    int fline = __LINE__ + 1;
    kfree(p);
    memset(p + 16, 0, 4);
    assert_int_equal(heap_check(), 1);
    assert_reported("heap_check", p, "write after free (offset 16)");
    assert_site("freed at", fline);
    CHECK_HEAP(); /* reported once: the poison is back */
    t_kfree(keep);
    assert_heap_empty();
}

static void test_double_free_in_quarantine(void **state)
{
    char *p = t_kmalloc(64);
    int fline = __LINE__ + 1;
    kfree(p);
    kfree(p);
    assert_reported("kfree", p, "double free (in quarantine");
    assert_site("freed at", fline);
    assert_int_equal(kmalloc_usable_size(p), 0);
    assert_reported("kmalloc_usable_size", p, "use after free");
    assert_null(krealloc(p, 10));
    assert_reported("krealloc", p, "use after free");
    assert_heap_empty();
}

/* krealloc always moves: the old place is poisoned, a stale pointer is caught. */
static void test_krealloc_moves(void **state)
{
    char *p = t_kmalloc(100);
    memset(p, 7, 100);
    char *q = t_krealloc(p, 100);
    assert_ptr_not_equal(p, q);
    assert_true(all_bytes(q, 100, 7));
    assert_true(all_bytes(p, 100, MM_POISON_BYTE));
    kfree(p);
    assert_reported("kfree", p, "double free");
    char *r = t_krealloc(q, 30);
    assert_true(all_bytes(r, 30, 7));
    assert_int_equal(kmalloc_usable_size(r), 30);
    assert_null(t_krealloc(r, 0));
    assert_heap_empty();
}

/* A constructed object stays constructed: no fill, no poison, no quarantine. */
static int ctor_runs;
static void ctor(void *obj)
{
    memset(obj, 0x11, 24);
    ctor_runs++;
}

static void test_cache_with_ctor(void **state)
{
    kmem_cache_t *c = kmem_cache_create("ctor", 24, 0, ctor);
    unsigned char *a = kmem_cache_alloc(c);
    CHECK_HEAP();
    assert_true(all_bytes(a, 24, 0x11));
    kmem_cache_free(c, a);
    CHECK_HEAP();
    unsigned char *b = kmem_cache_alloc(c);
    assert_true(all_bytes(b, 24, 0x11));
    b[24] = 0;
    kmem_cache_free(c, b);
    assert_reported("kmem_cache_free", b, "1 byte past the end of a 24-byte object");
    assert_int_equal(kmem_cache_destroy(c), 0);
    CHECK_HEAP();
}

/* --------------------------------------------------- profile and leaks ---- */

static void test_leak_report_groups_by_call_site(void **state)
{
    void *p[5];
    int la = __LINE__ + 2;
    for (int i = 0; i < 3; i++)
        p[i] = kmalloc(10);
    int lb = __LINE__ + 1;
    p[3] = kmalloc(1000), p[4] = kmalloc(1000);
    void *gone = t_kmalloc(77);
    t_kfree(gone);
    host_console_clear();
    assert_int_equal(heap_leaks(), 5);
    char line[160];
    snprintf(line, sizeof(line), "leak: 3 allocations, 30 bytes at " FILE_NAME ":%d\n", la);
    assert_non_null(strstr(host_console_text(), line));
    snprintf(line, sizeof(line), "leak: 2 allocations, 2000 bytes at " FILE_NAME ":%d\n", lb);
    assert_non_null(strstr(host_console_text(), line));
    assert_non_null(strstr(host_console_text(), "leaks: 5 allocations, 2030 bytes live\n"));
    assert_null(strstr(host_console_text(), "77 bytes"));
    for (int i = 0; i < 5; i++)
        t_kfree(p[i]);
    host_console_clear();
    assert_int_equal(heap_leaks(), 0);
    assert_heap_empty();
}

static void test_histogram_and_profile(void **state)
{
    void *a = t_kmalloc(10), *b = t_kmalloc(100), *d = t_kmalloc(12);
    void *c = kmalloc(1000); /* its own call site (t_kmalloc's is harness.h) */
    mm_debug_stats_t st;
    assert_int_equal(mm_debug_get_stats(&st), 0);
    assert_int_equal(st.histogram[3], 2); /* 8..15 */
    assert_int_equal(st.histogram[6], 1); /* 64..127 */
    assert_int_equal(st.histogram[9], 1); /* 512..1023 */
    assert_int_equal(st.live_allocations, 4);
    assert_int_equal(st.live_bytes, 1122);
    t_kfree(c);
    assert_int_equal(mm_debug_get_stats(&st), 0);
    assert_int_equal(st.peak_bytes, 1122);
    assert_int_equal(st.live_bytes, 122);
    assert_int_equal(st.quarantined, 1);
    assert_true(st.fragmentation <= 100);
    host_console_clear();
    heap_histogram();
    assert_non_null(strstr(host_console_text(), "histogram: 8-15 2\n"));
    assert_non_null(strstr(host_console_text(), "histogram: 512-1023 1\n"));
    heap_profile();
    assert_non_null(strstr(host_console_text(), "profile: peak 1122 bytes live"));
    assert_non_null(strstr(host_console_text(), "1000 bytes, 0 bytes live"));
    t_kfree(a);
    t_kfree(b);
    t_kfree(d);
    assert_heap_empty();
}

/* Fragmentation: many small free holes between live blocks, no big one. */
static void test_fragmentation_index(void **state)
{
    void *p[40];
    for (int i = 0; i < 40; i++)
        p[i] = t_kmalloc(200);
    mm_debug_flush();
    mm_debug_stats_t st;
    mm_debug_get_stats(&st);
    uint32_t before = st.fragmentation;
    for (int i = 0; i < 40; i += 2)
        t_kfree(p[i]);
    mm_debug_flush();
    mm_debug_get_stats(&st);
    assert_true(st.fragmentation > before);
    for (int i = 1; i < 40; i += 2)
        t_kfree(p[i]);
    assert_heap_empty();
}

/* The trace ring: "trace: <seq> alloc|free <addr> <size> <file>:<line>", the last 256 events. */
static void test_trace_ring(void **state)
{
    int line = __LINE__ + 1;
    char *p = kmalloc(42);
    kfree(p);
    host_console_clear();
    heap_trace_dump();
    char want[160];
    snprintf(want, sizeof(want), "trace: 0 alloc 0x%0*lx 42 " FILE_NAME ":%d\n",
             (int)(2 * sizeof(void *)), (unsigned long)(uintptr_t)p, line);
    assert_non_null(strstr(host_console_text(), want));
    snprintf(want, sizeof(want), "trace: 1 free 0x%0*lx 42 " FILE_NAME ":%d\n",
             (int)(2 * sizeof(void *)), (unsigned long)(uintptr_t)p, line + 1);
    assert_non_null(strstr(host_console_text(), want));
    for (int i = 0; i < 150; i++)
        kfree(kmalloc(8));
    mm_debug_stats_t st;
    mm_debug_get_stats(&st);
    assert_int_equal(st.trace_events, 302);
    host_console_clear();
    heap_trace_dump();
    const char *t = host_console_text();
    assert_true(strncmp(t, "trace: 46 alloc ", 16) == 0); /* the oldest kept: 302 - 256 */
    assert_non_null(strstr(t, "trace: 301 free "));
    assert_null(strstr(t, "trace: 45 "));
    assert_heap_empty();
}

/* heap_dump's state words: ALLOC (with its site), redzone, quarantine. */
static void test_heap_dump_marks_debug_states(void **state)
{
    char *a = kmalloc(24), *b = kmalloc(24), *c = kmalloc(24);
    kfree(b); /* (t_kfree's call site would be harness.h) */
    CHECK_HEAP();
    c[24] = 0;
    host_console_clear();
    heap_dump();
    const char *t = host_console_text();
    char line[64];
    snprintf(line, sizeof(line), "0x%0*lx", (int)(2 * sizeof(void *)), (unsigned long)(uintptr_t)a);
    const char *at = strstr(t, line);
    assert_non_null(at);
    assert_non_null(strstr(at, "ALLOC 24 bytes at " FILE_NAME));
    assert_non_null(strstr(t, "quarantine freed at " FILE_NAME));
    assert_non_null(strstr(t, "redzone 24 bytes at " FILE_NAME));
    assert_int_equal(heap_check(), 1);
    t_kfree(a);
    t_kfree(c);
    assert_heap_empty();
}

/* A random workload with every check on: contents kept, heap healthy, nothing reported. */
static void test_random_workload(void **state)
{
    enum { SLOTS = 64 };
    unsigned char *p[SLOTS] = {0};
    size_t n[SLOTS] = {0};
    uint32_t x = 2463534242u;
    for (int op = 0; op < 4000; op++) {
        rng_next(&x);
        int i = (int)(x % SLOTS);
        size_t size = 1 + (x >> 8) % (x & 0x100 ? 2000 : 300);
        if (p[i]) {
            for (size_t k = 0; k < n[i]; k++)
                assert_int_equal(p[i][k], (unsigned char)(i + k));
        }
        if (p[i] && (x & 0x200)) {
            t_kfree(p[i]);
            p[i] = NULL;
            continue;
        }
        unsigned char *q = p[i]          ? t_krealloc(p[i], size)
                           : (x & 0x400) ? t_kcalloc(1, size)
                                         : t_kmalloc(size);
        if (!q)
            continue;
        for (size_t k = 0; p[i] && k < n[i] && k < size; k++) /* krealloc kept them */
            assert_int_equal(q[k], (unsigned char)(i + k));
        for (size_t k = 0; k < size; k++)
            q[k] = (unsigned char)(i + k);
        p[i] = q;
        n[i] = size;
    }
    assert_int_equal(stats_now().error_count, 0);
    for (int i = 0; i < SLOTS; i++)
        t_kfree(p[i]);
    mm_debug_flush();
    CHECK_HEAP();
    assert_int_equal(stats_now().error_count, 0);
}

#define T(f)  cmocka_unit_test_setup_teardown(f, debug_heap, checks_off)
#define TV(f) cmocka_unit_test_setup_teardown(f, debug_virtual, checks_off)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_checks_follow_the_switch),
        T(test_block_overflow_by_one_byte),
        T(test_block_overflow_found_by_heap_check),
        T(test_block_overflow_by_a_header),
        T(test_block_underflow),
        TV(test_slab_overflow_by_one_byte),
        TV(test_slab_overflow_of_a_short_request),
        TV(test_slab_overflow_by_a_header),
        T(test_new_memory_is_filled_freed_memory_poisoned),
        TV(test_slab_objects_filled_and_poisoned),
        T(test_write_after_free_found_on_quarantine_exit),
        T(test_write_after_free_names_who_emptied_quarantine),
        T(test_write_after_free_found_by_heap_check),
        T(test_double_free_in_quarantine),
        T(test_krealloc_moves),
        TV(test_cache_with_ctor),
        T(test_leak_report_groups_by_call_site),
        T(test_histogram_and_profile),
        T(test_fragmentation_index),
        T(test_trace_ring),
        T(test_heap_dump_marks_debug_states),
        T(test_random_workload),
        TV(test_random_workload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_oom.c - out-of-memory reports switched off at run time (issue 11).
 *
 * A kernel that expects a quiet NULL calls mm_set_oom_reports(0): then no
 * layer prints an "out of memory" line, and every failed allocation call is
 * counted in memory_stats_t.oom_failures instead (it is counted with the
 * reports on too).  Expect, each layer exhausted: NULL (0) returned, the
 * counter up by exactly the number of failed calls, the console silent; and
 * with the reports on again, the line printed as before.
 */
#include "harness.h"

#define MB (1024u * 1024u)

static uint32_t oom_now(void)
{
    return stats_now().oom_failures;
}

/* No out-of-memory line of any layer on the console. */
static void assert_quiet(void)
{
    if (host_console_has("out of memory") || host_console_has("no memory") ||
        host_console_has("table full") || host_console_has("larger than"))
        fail_msg("reports are off, yet the console says:\n%s", host_console_text());
}

static int reports_back_on(void **state)
{
    (void)state;
    mm_set_oom_reports(1);
    return 0;
}

/* The default: reports on; the call returns the setting it replaces. */
static void test_default_is_on(void **state)
{
    (void)state;
    assert_int_equal(mm_set_oom_reports(0), 1);
    assert_int_equal(mm_set_oom_reports(0), 0);
    assert_int_equal(mm_set_oom_reports(1), 0);
    assert_int_equal(mm_set_oom_reports(1), 1);
}

/*
 *   | 1 KB | 1 KB | ... | 1 KB | rest < 1 KB |    the Phase 1 heap, full
 * Expect: each further kmalloc, kcalloc, krealloc, kmalloc_aligned NULL and
 * counted once, nothing printed; reports on: "kmalloc: out of memory".
 */
static void test_heap_quiet_then_loud(void **state)
{
    (void)state;
    static void *p[INITIAL_HEAP_SIZE / 1024];
    assert_int_equal(mm_set_oom_reports(0), 1);
    uint32_t before = oom_now();
    int n = 0;
    while ((p[n] = t_kmalloc(1024)) != NULL)
        n++;
    assert_true(n > 0);
    assert_null(t_kmalloc(1024));
    assert_null(t_kcalloc(64, 16));
    assert_null(t_krealloc(p[0], 4096));
    assert_null(kmalloc_aligned(1024, 64));
    assert_null(t_kmalloc((size_t)-1 / 2)); /* larger than the heap can ever be */
    CHECK_HEAP();
    assert_int_equal(oom_now() - before, 6); /* the loop's last call and five more */
    assert_quiet();
    assert_int_equal(errors_now(), 0); /* not caller bugs */

    mm_set_oom_reports(1);
    assert_null(t_kmalloc(1024));
    assert_true(host_console_has("kmalloc: out of memory: 1024 bytes requested"));
    assert_int_equal(oom_now() - before, 7);
    for (int i = 0; i < n; i++)
        t_kfree(p[i]);
    assert_stats_balance();
}

/* memory_init starts the count again, like error_count. */
static void test_count_restarts(void **state)
{
    (void)state;
    mm_set_oom_reports(0);
    assert_null(kmalloc(2 * INITIAL_HEAP_SIZE));
    assert_int_equal(oom_now(), 1);
    memory_init();
    assert_int_equal(oom_now(), 0);
}

/*
 * Every page handed out to the caller, then three more pmm_alloc_page calls.
 * Expect: 0 each time, counted, silent; reports on: "pmm: out of memory".
 */
static void test_pmm_quiet_then_loud(void **state)
{
    (void)state;
    memory_init();
    pmm_init(8 * MB);
    host_console_clear();
    mm_set_oom_reports(0);
    uint32_t before = oom_now();
    static uint32_t got[8 * MB / PAGE_SIZE];
    uint32_t n = 0, p;
    while ((p = pmm_alloc_page()) != 0)
        got[n++] = p;
    assert_true(n > 0);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_int_equal(pmm_alloc_pages(4, 0), 0);
    assert_int_equal(oom_now() - before, 3);
    assert_quiet();

    mm_set_oom_reports(1);
    assert_int_equal(pmm_alloc_page(), 0);
    assert_true(host_console_has("pmm: out of memory: 1 pages wanted, 0 free"));
    assert_int_equal(oom_now() - before, 4);
    for (uint32_t i = 0; i < n; i++)
        pmm_free_page(got[i]);
    assert_int_equal(pmm_check(), 0);
}

/*
 * Every layer up over 8 MB of RAM; objects of one cache until no page is
 * left.  The PMM, the VMM and the heap fail inside; only the caller's calls
 * count.  Expect: NULL, one count per failed kmem_cache_alloc, silence, every
 * layer healthy; reports on: "kmem_cache_alloc: cache 'oom': out of memory".
 */
static void test_cache_quiet_then_loud(void **state)
{
    (void)state;
    fresh_every_layer(8 * MB);
    kmem_cache_t *c = kmem_cache_create("oom", 512, 0, NULL);
    assert_non_null(c);
    mm_set_oom_reports(0);
    uint32_t before = oom_now();
    static void *obj[8 * MB / 512];
    int n = 0;
    while ((obj[n] = kmem_cache_alloc(c)) != NULL)
        n++;
    assert_true(n > 0);
    assert_null(kmem_cache_alloc(c));
    assert_int_equal(oom_now() - before, 2);
    assert_quiet();
    check_every_layer();

    mm_set_oom_reports(1);
    assert_null(kmem_cache_alloc(c));
    assert_true(host_console_has("kmem_cache_alloc: cache 'oom': out of memory"));
    assert_int_equal(oom_now() - before, 3);
    for (int i = 0; i < n; i++)
        kmem_cache_free(c, obj[i]);
    assert_int_equal(kmem_cache_destroy(c), 0);
    check_every_layer();
}

/*
 * vmalloc: bigger than its range, then out of physical pages.  Expect: NULL,
 * counted, silent.  "paging is off" is not out of memory: printed regardless.
 */
static void test_vmalloc_quiet_then_loud(void **state)
{
    (void)state;
    fresh_every_layer(8 * MB);
    mm_set_oom_reports(0);
    uint32_t before = oom_now();
    assert_null(vmalloc((size_t)-1 / 2));
    assert_null(vmalloc(16 * MB));
    assert_int_equal(kstack_alloc(16 * MB), 0);
    assert_int_equal(oom_now() - before, 3);
    assert_quiet();
    check_every_layer();

    mm_set_oom_reports(1);
    assert_null(vmalloc(16 * MB));
    assert_true(host_console_has("vmalloc: 16777216 bytes: out of physical memory"));
    assert_int_equal(oom_now() - before, 4);
    check_every_layer();

    mm_set_oom_reports(0);
    fresh_paging_ram(8 * MB);
    vmalloc_reset();
    vmm_reset();
    host_mmu_reset();
    memory_init();
    host_console_clear();
    assert_null(vmalloc(4096));
    assert_true(host_console_has("paging is off"));
    assert_int_equal(oom_now(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_default_is_on, reports_back_on),
        cmocka_unit_test_setup_teardown(test_heap_quiet_then_loud, fresh_heap, reports_back_on),
        cmocka_unit_test_setup_teardown(test_count_restarts, fresh_heap, reports_back_on),
        cmocka_unit_test_teardown(test_pmm_quiet_then_loud, reports_back_on),
        cmocka_unit_test_teardown(test_cache_quiet_then_loud, reports_back_on),
        cmocka_unit_test_teardown(test_vmalloc_quiet_then_loud, reports_back_on),
    };
    return cmocka_run_group_tests_name("oom", tests, NULL, NULL);
}

/*
 * test_log.c - mm_snprintf / mm_printf: the printf subset every report goes through.
 */
#include "harness.h"
#include "log.h"

static void expect(const char *got, const char *want)
{
    if (strcmp(got, want))
        fail_msg("expected \"%s\", got \"%s\"", want, got);
}

static void test_conversions(void **state)
{
    char buf[128];
    mm_snprintf(buf, sizeof(buf), "%s|%c|%d|%u|%x|%%", "str", 'c', -42, 42u, 0xbeefu);
    expect(buf, "str|c|-42|42|beef|%");
    mm_snprintf(buf, sizeof(buf), "%lu %zu %ld", 123456789ul, (size_t)7, -5l);
    expect(buf, "123456789 7 -5");
    mm_snprintf(buf, sizeof(buf), "%p", (void *)0x1234);
    assert_int_equal(strlen(buf), 2 + 2 * sizeof(void *));
    assert_non_null(strstr(buf, "1234"));
    mm_snprintf(buf, sizeof(buf), "%s", (const char *)NULL);
    expect(buf, "(null)");
}

static void test_widths_and_justification(void **state)
{
    char buf[128];
    mm_snprintf(buf, sizeof(buf), "[%5u][%05u][%-5u][%3d][%-4d]", 42u, 42u, 42u, -7, -7);
    expect(buf, "[   42][00042][42   ][ -7][-7  ]");
    mm_snprintf(buf, sizeof(buf), "[%05d][%d]", -7, 0);
    expect(buf, "[-0007][0]");
    mm_snprintf(buf, sizeof(buf), "[%6s][%-6s][%2s][%-2s][%s%s]", "ab", "ab", "long", "long", "x",
                "");
    expect(buf, "[    ab][ab    ][long][long][x]");
    mm_snprintf(buf, sizeof(buf), "[%-8x]", 0xabu);
    expect(buf, "[ab      ]");
}

static void test_truncation(void **state)
{
    char buf[8];
    size_t n = mm_snprintf(buf, sizeof(buf), "%s", "0123456789");
    assert_int_equal(n, 7);
    expect(buf, "0123456");
    char wide[32];
    mm_snprintf(wide, sizeof(wide), "%-1000s|", "x"); /* padding stops at the line's end */
    assert_int_equal(strlen(wide), sizeof(wide) - 1);
}

/* The checkers' one reporter: the lines heap_check, its slabs, pmm/vmm/vmalloc_check print. */
static void test_check_failed(void **state)
{
    char want[128];
    void *p = (void *)0x1234;
    host_console_clear();
    assert_int_equal(mm_check_failed("heap_check", p, "free list has a cycle", NULL), 1);
    mm_snprintf(want, sizeof(want), "heap_check: %p: free list has a cycle\n", p);
    expect(host_console_text(), want);
    host_console_clear();
    assert_int_equal(mm_check_failed("heap_check", p, "slab list back link is wrong", "kmalloc-32"),
                     1);
    mm_snprintf(want, sizeof(want),
                "heap_check: %p: slab list back link is wrong (cache 'kmalloc-32')\n", p);
    expect(host_console_text(), want);
    host_console_clear();
    assert_int_equal(mm_check_failed_at("pmm_check", 0x500000u, "bad state byte"), 1);
    expect(host_console_text(), "pmm_check: 0x00500000: bad state byte\n");
    host_console_clear();
    assert_int_equal(mm_check_failed_at("vmm_check", 0xFFC00000u, "x"), 1);
    expect(host_console_text(), "vmm_check: 0xffc00000: x\n");
    host_console_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_widths_and_justification),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_check_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

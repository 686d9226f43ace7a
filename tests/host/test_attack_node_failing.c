/*
 * test_attack_node_failing.c - FAILING ON main: the finding of the hostile
 * review of the node-aware PMM (mm/pmm_node.c, the node parts of mm/pmm.c).
 * It fails until its mend; do not merge before the fix.  (The attacks that
 * found nothing: test_attack_node.c.)
 *
 *  1. An allocation of PMM_NODE_ANY (pmm_alloc_page, pmm_alloc_pages,
 *     pmm_alloc_pages_node(PMM_NODE_ANY, ...)) finds the PMM dry, drops the
 *     lock for the reclaim hooks, and a hook (or another CPU) registers a
 *     smaller topology meanwhile: alloc_now keeps `want`, the calling CPU's
 *     node computed before the hooks, sees it >= the node count and fails
 *     with "pmm: node 3: no such node any more" - although the caller named
 *     no node, and the hook freed memory.  For PMM_NODE_ANY the CPU's node
 *     must be computed again after the hooks (mm/pmm.c, alloc_now: `want` is
 *     set once, before the reclaim window).
 */
#include <stdint.h>

#include "glue_common.h"
#include "harness.h"
#include "pmm.h"

#define MB (1024u * 1024u)

static int setup(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    fresh_pmm_alone();
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    const pmm_range_t map[] = {{0, 32 * MB, PMM_RANGE_AVAILABLE}};
    assert_int_equal(pmm_init_map(map, 1), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    pmm_set_nodes(1, NULL, 0, NULL, 0, NULL);
    return 0;
}

static const pmm_node_range_t four[] = {
    {0, 8 * MB, 0}, {8 * MB, 16 * MB, 1}, {16 * MB, 24 * MB, 2}, {24 * MB, 32 * MB, 3}};
static const pmm_node_range_t two[] = {{0, 16 * MB, 0}, {16 * MB, 32 * MB, 1}};
static const uint8_t cpus4[] = {0, 1, 2, 3};

/* the hook: give one page back and shrink the topology to two nodes */
static paddr_t spare;
static int hook_runs;
static size_t free_and_shrink(void)
{
    hook_runs++;
    if (spare) {
        pmm_free_page(spare);
        spare = 0;
    }
    pmm_set_nodes(2, two, 2, NULL, 0, NULL);
    return 1;
}

static void finding_any_node_after_shrink(void **state)
{
    (void)state;
    assert_int_equal(pmm_set_nodes(4, four, 4, cpus4, 4, NULL), 0);
    host_forced_cpu_id = 3; /* a CPU of node 3 */
    mm_set_oom_reports(0);
    /* the PMM dry: every free page taken, from every node in turn */
    enum { MAX = 32 * MB / 4096 };
    static paddr_t taken[MAX];
    uint32_t n = 0;
    for (paddr_t p; n < MAX && (p = pmm_alloc_page_node(n % 4)) != 0;)
        taken[n++] = p;
    pmm_stats_t s;
    pmm_get_stats(&s);
    assert_int_equal(s.free_pages, 0);
    spare = taken[--n];
    hook_runs = 0;
    assert_int_equal(pmm_register_reclaim(free_and_shrink), 0);
    host_console_clear();
    paddr_t got = pmm_alloc_page(); /* PMM_NODE_ANY: CPU 3's node, then the nearest */
    pmm_unregister_reclaim(free_and_shrink);
    mm_set_oom_reports(1);
    int said_gone = host_console_has("no such node any more");
    if (got)
        pmm_free_page(got);
    for (uint32_t i = 0; i < n; i++)
        pmm_free_page(taken[i]);
    assert_int_equal(hook_runs, 1);
    assert_int_equal(pmm_check(), 0);
    if (!got)
        fail_msg("pmm_alloc_page (PMM_NODE_ANY) on CPU 3 after a reclaim hook freed a page and "
                 "left 2 nodes: nothing allocated%s",
                 said_gone ? " (\"no such node any more\": the CPU's node was not recomputed)"
                           : "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(finding_any_node_after_shrink, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

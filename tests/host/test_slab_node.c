/*
 * test_slab_node.c - the slabs on NUMA nodes (issue 13, item 3): kmalloc_node,
 * kmem_cache_alloc_node, the per-CPU caches of a CPU on a node, frees across
 * nodes, page tables from the node of what they map, on 2- and 4-node layouts
 * the tests register with pmm_set_nodes over the simulated RAM, every
 * checker after every step; and one node, where the node calls are the plain ones.
 *
 * Where an object is: the node of the frame behind its page, by the PMM
 * (pmm_page_node of vmm_get_physical), never by the slab's own word.
 */
#include "harness.h"
#include "pmm.h"
#include "slab_priv.h" /* slab_desc_of: the forged-node check */
#include "../rng.h"

#define MB  (1024u * 1024u)
#define RAM (16 * MB)

/*
 * The simulated RAM in `nodes` pieces, CPU c on node c % nodes (c < 8).  Node
 * 0 holds the PMM's metadata and the early heap low down: it gets 4 MB more.
 *
 *   2 nodes:  | 0: 0 - 10 MB        | 1: 10 - 16 MB |
 *   4 nodes:  | 0: 0 - 7 MB | 1: 7 - 10 | 2: 10 - 13 | 3: 13 - 16 |
 */
static void nodes_of(unsigned nodes, const uint8_t *dist)
{
    pmm_node_range_t r[PMM_MAX_NODES];
    uint8_t cpus[8];
    uint64_t extra = 4 * MB, each = (RAM - extra) / nodes;
    for (unsigned n = 0; n < nodes; n++) {
        r[n].base = n ? extra + each * n : 0;
        r[n].end = extra + each * (n + 1);
        r[n].node = n;
    }
    for (unsigned c = 0; c < 8; c++)
        cpus[c] = (uint8_t)(c % nodes);
    assert_int_equal(pmm_set_nodes(nodes, r, nodes, cpus, 8, dist), 0);
}

static int two_nodes(void **state)
{
    (void)state;
    host_forced_cpu_id = 0;
    fresh_every_layer(RAM);
    nodes_of(2, NULL);
    check_every_layer();
    return 0;
}

static int four_nodes(void **state)
{
    /* a ring: 0-1-2-3-0 at 20, across at 30 */
    static const uint8_t d[16] = {10, 20, 30, 20, 20, 10, 20, 30, 30, 20, 10, 20, 20, 30, 20, 10};
    (void)state;
    host_forced_cpu_id = 0;
    fresh_every_layer(RAM);
    nodes_of(4, d);
    check_every_layer();
    return 0;
}

static int one_node_again(void **state)
{
    (void)state;
    host_forced_cpu_id = HOST_CPU_ID_NATURAL;
    return pmm_set_nodes(1, NULL, 0, NULL, 0, NULL);
}

static vaddr_t heap_virt(const void *p)
{
    return HEAP_VIRTUAL_START +
           (vaddr_t)((const char *)p - (const char *)host_virt_ptr(HEAP_VIRTUAL_START));
}

/* The node of the frame behind byte p. */
static int node_at(const void *p)
{
    uint32_t phys = vmm_get_physical(heap_virt(p));
    assert_true(phys != 0);
    return pmm_page_node(phys);
}

/* Every page of [p, p + size) on node n. */
#define assert_on(p, size, n) assert_on_at((p), (size), (n), __LINE__)
static void assert_on_at(const void *p, size_t size, int n, int line)
{
    if (!p)
        fail_msg("line %d: NULL, wanted %zu bytes on node %d", line, size, n);
    for (size_t off = 0; off <= size; off += PAGE_SIZE) {
        size_t at = off < size ? off : size - 1;
        int got = node_at((const char *)p + at);
        if (got != n)
            fail_msg("line %d: %p + %zu (of %zu bytes) on node %d, wanted %d", line, p, at, size,
                     got, n);
    }
}

static uint32_t node_free(int node)
{
    pmm_node_stats_t s;
    assert_int_equal(pmm_get_node_stats(node, &s), 0);
    return s.free_pages;
}

/* Node n's objects and slabs of c. */
static void node_counts(kmem_cache_t *c, int n, uint32_t *objects, uint32_t *slabs)
{
    assert_int_equal(kmem_cache_node_stats(c, n, slabs, objects), 0);
}

/* ---- kmalloc_node and kmem_cache_alloc_node place objects on the node asked ---- */

static void test_node_objects_on_their_node(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("node-obj", 100, 0, NULL);
    assert_non_null(c);
    void *obj[2][20], *big[2], *small[2];
    for (int n = 0; n < 2; n++) {
        for (int i = 0; i < 20; i++) {
            obj[n][i] = kmem_cache_alloc_node(c, n);
            assert_on(obj[n][i], 100, n);
            check_every_layer();
        }
        small[n] = kmalloc_node(24, n | PMM_NODE_STRICT);
        assert_on(small[n], 24, n);
        big[n] = kmalloc_node(3 * PAGE_SIZE + 100, n);
        assert_on(big[n], 3 * PAGE_SIZE + 100, n);
        memset(big[n], 0xA5, 3 * PAGE_SIZE + 100);
        check_every_layer();
    }
    uint32_t objects, slabs;
    for (int n = 0; n < 2; n++) {
        node_counts(c, n, &objects, &slabs);
        assert_int_equal(objects, 20);
        assert_true(slabs >= 1);
    }
    /* PMM_NODE_ANY is the CPU's node: CPU 1 is on node 1 */
    host_forced_cpu_id = 1;
    void *any = kmem_cache_alloc_node(c, PMM_NODE_ANY), *kany = kmalloc_node(40, PMM_NODE_ANY);
    assert_on(any, 100, 1);
    assert_on(kany, 40, 1);
    host_forced_cpu_id = 0;
    /* slabinfo: each node's objects and slabs */
    host_console_clear();
    kmem_cache_dump();
    assert_true(host_console_has("node:objects/slabs"));
    const char *line = strstr(host_console_text(), "\nnode-obj ");
    assert_non_null(line);
    for (int n = 0; n < 2; n++) {
        char want[32];
        node_counts(c, n, &objects, &slabs);
        /* node 1: 20 named, and CPU 1's fill for `any` (16: one its caller's, 15 kept) */
        assert_int_equal(objects, n == 0 ? 20 : 20 + 16);
        snprintf(want, sizeof(want), " %d:%u/%u", n, objects, slabs);
        assert_non_null(strstr(line, want));
    }
    /* plain kfree and kmem_cache_free take them back */
    for (int n = 0; n < 2; n++) {
        for (int i = 0; i < 20; i++) {
            host_forced_cpu_id = i % 2; /* half freed on the other node's CPU */
            kmem_cache_free(c, obj[n][i]);
            check_every_layer();
        }
        host_forced_cpu_id = 0;
        kfree(small[n]);
        kfree(big[n]);
        check_every_layer();
    }
    kmem_cache_free(c, any);
    kfree(kany);
    kmem_cache_shrink(c);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_int_equal(errors_now(), 0);
}

/* ---- strict fails cleanly on a full node; without strict the nearest node serves ---- */

static void test_strict_fails_fallback_serves(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("node-full", 200, 0, NULL);
    assert_non_null(c);
    /* node 1 emptied by strict page allocations */
    static paddr_t held[RAM / PAGE_SIZE];
    uint32_t n = 0;
    paddr_t p;
    while ((p = pmm_alloc_page_node(1 | PMM_NODE_STRICT)) != 0)
        held[n++] = p;
    assert_int_equal(node_free(1), 0);
    uint32_t free0 = node_free(0);
    host_console_clear();
    assert_null(kmem_cache_alloc_node(c, 1 | PMM_NODE_STRICT));
    assert_true(
        host_console_has("kmem_cache_alloc_node: cache 'node-full': node 1 (strict): out of "
                         "memory\n"));
    assert_null(kmalloc_node(64, 1 | PMM_NODE_STRICT));
    assert_null(kmalloc_node(2 * PAGE_SIZE, 1 | PMM_NODE_STRICT));
    assert_true(host_console_has("kmalloc_node: 8192 bytes on node 1 (strict): out of memory\n"));
    check_every_layer();
    /* nothing kept: node 0 lost no page to the refused calls (the heap's reserve aside) */
    assert_true(node_free(0) + 4 >= free0);
    /* not strict: node 0, the nearest with memory */
    void *a = kmem_cache_alloc_node(c, 1), *b = kmalloc_node(64, 1),
         *big = kmalloc_node(2 * PAGE_SIZE, 1);
    assert_on(a, 200, 0);
    assert_on(b, 64, 0);
    assert_on(big, 2 * PAGE_SIZE, 0);
    check_every_layer();
    /* node 1 has memory again: strict serves */
    for (uint32_t i = 0; i < n; i++)
        pmm_free_page(held[i]);
    void *s = kmem_cache_alloc_node(c, 1 | PMM_NODE_STRICT);
    assert_on(s, 200, 1);
    check_every_layer();
    kmem_cache_free(c, a);
    kmem_cache_free(c, s);
    kfree(b);
    kfree(big);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(c), 0);
}

/* ---- bad nodes: one line, NULL ---- */

static void test_bad_nodes_refused(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("node-bad", 32, 0, NULL);
    static const int bad[] = {2, 7 | PMM_NODE_STRICT, -2, 100, 0x200};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        host_console_clear();
        assert_null(kmalloc_node(16, bad[i]));
        assert_true(host_console_has("kmalloc_node: node "));
        assert_true(host_console_has(": no such node (2 nodes;"));
        host_console_clear();
        assert_null(kmem_cache_alloc_node(c, bad[i]));
        assert_true(host_console_has("kmem_cache_alloc_node: node "));
    }
    assert_null(kmem_cache_alloc_node((kmem_cache_t *)&bad, 0));
    assert_true(host_console_has("not a cache"));
    uint32_t o, s;
    assert_int_equal(kmem_cache_node_stats(c, 2, &s, &o), -1);
    assert_int_equal(kmem_cache_node_stats(c, 0, NULL, &o), -1);
    assert_null(kmalloc_node(0, 0)); /* nothing asked, nothing given, as kmalloc(0) */
    check_every_layer();
    kmem_cache_destroy(c);
}

/* ---- the per-CPU caches: a CPU's objects from its own node; frees across nodes ---- */

static void test_cpu_caches_hand_out_their_node(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("node-cpu", 64, 0, NULL);
    void *o[2][40], *k[2][40];
    for (int cpu = 0; cpu < 2; cpu++) {
        host_forced_cpu_id = cpu;
        for (int i = 0; i < 40; i++) {
            o[cpu][i] = kmem_cache_alloc(c);
            assert_on(o[cpu][i], 64, cpu);
            k[cpu][i] = kmalloc(48);
            assert_on(k[cpu][i], 48, cpu);
        }
        check_every_layer();
    }
    /* CPU 0 frees node 1's objects: back to their slabs, not into its cache */
    host_forced_cpu_id = 0;
    uint32_t kept0 = kmem_cache_cpu_objects(0), objs1, slabs1;
    node_counts(c, 1, &objs1, &slabs1);
    for (int i = 0; i < 40; i++) {
        kmem_cache_free(c, o[1][i]);
        kfree(k[1][i]);
    }
    assert_int_equal(kmem_cache_cpu_objects(0), kept0);
    uint32_t objs1b, slabs1b;
    node_counts(c, 1, &objs1b, &slabs1b);
    assert_int_equal(objs1b, objs1 - 40);
    check_every_layer();
    /* ... and its own node's into its cache */
    for (int i = 0; i < 10; i++)
        kmem_cache_free(c, o[0][i]);
    assert_int_equal(kmem_cache_cpu_objects(0), kept0 + 10);
    /* which CPU 0 hands out again, node 0's */
    for (int i = 0; i < 10; i++) {
        o[0][i] = kmem_cache_alloc(c);
        assert_on(o[0][i], 64, 0);
    }
    /* CPU 1 gets node 1's still (its cache refilled from node 1's slabs) */
    host_forced_cpu_id = 1;
    for (int i = 0; i < 40; i++) {
        o[1][i] = kmem_cache_alloc(c);
        assert_on(o[1][i], 64, 1);
    }
    check_every_layer();
    for (int cpu = 0; cpu < 2; cpu++) {
        host_forced_cpu_id = 1 - cpu;
        for (int i = 0; i < 40; i++) {
            kmem_cache_free(c, o[cpu][i]);
            if (cpu == 0)
                kfree(k[0][i]);
        }
    }
    host_forced_cpu_id = 0;
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_int_equal(errors_now(), 0);
}

/* ---- four nodes: each node's objects, each CPU's, the page tables ---- */

static void test_four_nodes(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("node-four", 300, 0, NULL);
    void *a[4], *b[4], *d[4], *e[8];
    for (int n = 0; n < 4; n++) {
        a[n] = kmalloc_node(200, n);
        b[n] = kmem_cache_alloc_node(c, n | PMM_NODE_STRICT);
        d[n] = kmalloc_node(5 * PAGE_SIZE, n);
        assert_on(a[n], 200, n);
        assert_on(b[n], 300, n);
        assert_on(d[n], 5 * PAGE_SIZE, n);
        check_every_layer();
    }
    for (int cpu = 0; cpu < 8; cpu++) {
        host_forced_cpu_id = cpu;
        e[cpu] = kmem_cache_alloc(c);
        assert_on(e[cpu], 300, cpu % 4);
    }
    host_forced_cpu_id = 0;
    check_every_layer();
    uint32_t objects, slabs;
    for (int n = 0; n < 4; n++) {
        node_counts(c, n, &objects, &slabs);
        assert_true(objects >= 3); /* 1 named, 2 CPUs' (and what their fills keep) */
        assert_true(slabs >= 1);
    }
    for (int n = 0; n < 4; n++) {
        kfree(a[n]);
        kmem_cache_free(c, b[n]);
        kfree(d[n]);
    }
    for (int cpu = 0; cpu < 8; cpu++)
        kmem_cache_free(c, e[cpu]);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_int_equal(errors_now(), 0);
}

/* A page table for a mapping comes from the node of the frame it maps. */
static void test_page_tables_from_the_mapped_node(void **state)
{
    (void)state;
    for (int n = 0; n < 4; n++) {
        paddr_t frame = pmm_alloc_page_node(n | PMM_NODE_STRICT);
        assert_true(frame != 0);
        /* a slot of its own: nothing mapped in this 4 MB yet */
        vaddr_t v = 0x40000000u + (vaddr_t)n * 0x400000u;
        assert_int_equal(vmm_get_entry(v), 0);
        assert_int_equal(vmm_map(v, frame, PAGE_PRESENT | PAGE_WRITABLE), 0);
        uint32_t pde = vmm_get_entry(VMM_PT_WINDOW + VMM_PDX(v) * PAGE_SIZE);
        assert_true(pde & PAGE_PRESENT);
        assert_int_equal(pmm_page_node(VMM_FRAME(pde)), n);
        check_every_layer();
        vmm_unmap_page(v);
        pmm_free_page(frame);
    }
    check_every_layer();
}

/* ---- the topology changes under live slabs: the checkers stay exact ---- */

static void test_topology_change_keeps_checkers_exact(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("node-move", 64, 0, NULL);
    void *x[2][30];
    for (int n = 0; n < 2; n++) {
        for (int i = 0; i < 30; i++)
            x[n][i] = kmem_cache_alloc_node(c, n);
    }
    check_every_layer();
    nodes_of(4, NULL); /* node 1's frames now on nodes 2 and 3 */
    check_every_layer();
    uint32_t total = 0, objects, slabs;
    for (int n = 0; n < 4; n++) {
        node_counts(c, n, &objects, &slabs);
        total += objects;
    }
    assert_true(total >= 60);
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    check_every_layer();
    node_counts(c, 0, &objects, &slabs);
    assert_int_equal(objects, total);
    nodes_of(2, NULL);
    for (int n = 0; n < 2; n++) {
        for (int i = 0; i < 30; i++) {
            host_forced_cpu_id = (i + n) % 2;
            kmem_cache_free(c, x[n][i]);
            check_every_layer();
        }
    }
    host_forced_cpu_id = 0;
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_int_equal(errors_now(), 0);
}

/* A slab whose node byte lies is found by the checker. */
static void test_check_finds_a_forged_slab_node(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("node-forge", 64, 0, NULL);
    void *o = kmem_cache_alloc_node(c, 1);
    assert_on(o, 64, 1);
    slab_t *s = slab_desc_of((uintptr_t)o & ~(uintptr_t)(PAGE_SIZE - 1));
    assert_non_null(s);
    assert_int_equal(s->node, 1);
    s->node = 0;
    host_console_clear();
    assert_true(kmem_cache_check() > 0);
    assert_true(host_console_has("slab's node is not the node of its frame"));
    s->node = 1;
    host_console_clear();
    assert_int_equal(kmem_cache_check(), 0);
    kmem_cache_free(c, o);
    assert_int_equal(kmem_cache_destroy(c), 0);
}

/* ---- one node (nothing registered): the node calls are the plain ones ---- */

static int one_node(void **state)
{
    (void)state;
    host_forced_cpu_id = 0;
    fresh_every_layer(RAM);
    assert_int_equal(pmm_set_nodes(1, NULL, 0, NULL, 0, NULL), 0);
    return 0;
}

static void test_one_node(void **state)
{
    (void)state;
    kmem_cache_t *c = kmem_cache_create("node-one", 50, 0, NULL);
    void *a = kmalloc_node(100, 0), *b = kmalloc_node(5000, PMM_NODE_ANY),
         *d = kmalloc_node(5000, 0 | PMM_NODE_STRICT), *e = kmem_cache_alloc_node(c, 0),
         *f = kmem_cache_alloc_node(c, PMM_NODE_ANY);
    assert_on(a, 100, 0);
    assert_on(b, 5000, 0);
    assert_on(d, 5000, 0);
    assert_on(e, 50, 0);
    assert_on(f, 50, 0);
    check_every_layer();
    host_console_clear();
    assert_null(kmalloc_node(100, 1));
    assert_true(host_console_has("kmalloc_node: node 1: no such node (1 node;"));
    kmem_cache_dump(); /* one node: no node column */
    assert_false(host_console_has("node:objects/slabs"));
    uint32_t objects, slabs;
    node_counts(c, 0, &objects, &slabs);
    assert_true(objects >= 2);
    kfree(a);
    kfree(b);
    kfree(d);
    kmem_cache_free(c, e);
    kmem_cache_free(c, f);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_int_equal(errors_now(), 1); /* the bad node's line */
}

/* ---- random runs: node-local, strict, fallback, CPUs, cross-node frees ---- */

typedef struct {
    void *p;
    size_t size;
    int cache; /* 1: of the cache */
} live_t;

static uint32_t rng = 12345;
static uint32_t rnd(uint32_t n)
{
    return rng_below(&rng, n);
}

static void random_run(unsigned nodes, unsigned steps, uint32_t seed)
{
    enum { LIVE = 300 };
    static live_t live[LIVE];
    static paddr_t held[RAM / PAGE_SIZE]; /* a node's pages, squeezed out of it */
    unsigned nlive = 0, placed = 0, fallback = 0, nheld = 0;
    kmem_cache_t *c = kmem_cache_create("node-rand", 72, 0, NULL);
    assert_non_null(c);
    rng = seed;
    for (unsigned step = 0; step < steps; step++) {
        host_forced_cpu_id = (int)rnd(8);
        unsigned op = rnd(10);
        if ((op < 6 && nlive < LIVE) || nlive == 0) {
            int node = (int)rnd(nodes + 1) - 1; /* PMM_NODE_ANY sometimes */
            int strict = node >= 0 && rnd(4) == 0;
            int want = node < 0 ? (int)((unsigned)host_forced_cpu_id % nodes) : node;
            int had = node_free(want) > 64; /* room for the heap's own pages too */
            size_t size = rnd(3) == 0 ? 513 + rnd(3 * PAGE_SIZE) : 1 + rnd(512);
            int cache = rnd(3) == 0;
            void *p = cache ? kmem_cache_alloc_node(c, node | (strict ? PMM_NODE_STRICT : 0))
                            : kmalloc_node(size, node | (strict ? PMM_NODE_STRICT : 0));
            if (cache)
                size = 72;
            if (had) {
                assert_on(p, size, want);
                placed++;
            } else if (p) {
                fallback++;
            } else {
                assert_true(strict); /* only a strict call may fail: the others fall back */
            }
            if (p) {
                memset(p, (int)step, size);
                live[nlive].p = p;
                live[nlive].size = size;
                live[nlive].cache = cache;
                nlive++;
            }
        } else if (op < 9) {
            unsigned i = rnd(nlive);
            if (live[i].cache)
                kmem_cache_free(c, live[i].p);
            else
                kfree(live[i].p);
            live[i] = live[--nlive];
        } else {
            /* a node squeezed, or given back: strict allocations then fail, others fall back */
            if (nheld) {
                while (nheld)
                    pmm_free_page(held[--nheld]);
            } else {
                int n = (int)rnd(nodes);
                paddr_t p;
                while ((p = pmm_alloc_page_node(n | PMM_NODE_STRICT)) != 0)
                    held[nheld++] = p;
            }
        }
        check_every_layer();
    }
    while (nlive) {
        nlive--;
        if (live[nlive].cache)
            kmem_cache_free(c, live[nlive].p);
        else
            kfree(live[nlive].p);
    }
    while (nheld)
        pmm_free_page(held[--nheld]);
    host_forced_cpu_id = 0;
    kmem_cache_shrink(c);
    check_every_layer();
    assert_int_equal(kmem_cache_destroy(c), 0);
    assert_true(placed > steps / 4);
    print_message("random run on %u nodes: %u steps, %u objects on the node asked, %u fell back\n",
                  nodes, steps, placed, fallback);
    assert_int_equal(errors_now(), 0);
}

static void test_random_two_nodes(void **state)
{
    (void)state;
    random_run(2, 1500, 7);
}

static void test_random_four_nodes(void **state)
{
    (void)state;
    random_run(4, 1500, 99);
}

#define T2(f) cmocka_unit_test_setup_teardown(f, two_nodes, one_node_again)
#define T4(f) cmocka_unit_test_setup_teardown(f, four_nodes, one_node_again)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_node, one_node, one_node_again),
        T2(test_node_objects_on_their_node),
        T2(test_strict_fails_fallback_serves),
        T2(test_bad_nodes_refused),
        T2(test_cpu_caches_hand_out_their_node),
        T4(test_four_nodes),
        T4(test_page_tables_from_the_mapped_node),
        T2(test_topology_change_keeps_checkers_exact),
        T2(test_check_finds_a_forged_slab_node),
        T2(test_random_two_nodes),
        T4(test_random_four_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

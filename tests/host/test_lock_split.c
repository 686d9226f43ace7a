/*
 * test_lock_split.c - mm_lock split: the VMM has a lock of its own
 * (vmm_lock, mm/lock.c), below the heap's (mm_lock) and above the PMM's.
 *
 * Threads stand in for CPUs.  Shown here:
 *   - the VMM serves one CPU (map, unmap with its shootdown, translate,
 *     vmm_check, pmm_check) while another CPU holds mm_lock;
 *   - the heap serves one CPU (heap blocks, a kmem_cache) while another
 *     holds vmm_lock (heap_check waits: it translates the heap's pages);
 *   - a CPU mapping and unmapping pages and one using kmalloc, kmem_cache
 *     and vmalloc at once, with a third running every checker all the time:
 *     every checker says 0 throughout and after every round, every byte
 *     verified;
 *   - the order: vmm_lock inside pmm_lock and mm_lock inside vmm_lock panic
 *     at the first run with one line naming both locks; mm_lock_may_take
 *     says which is allowed; the reclaim hooks (mm_lock) are skipped on a
 *     CPU inside vmm_lock, and run again outside it; a describer (mm_lock)
 *     is not asked inside vmm_lock, and vmm_describe still answers.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "glue_common.h"
#include "harness.h"
#include "lock.h"
#include "lock_holder.h"

#define MB         (1024u * 1024u)
#define CALLER_WIN (KERNEL_VIRTUAL_BASE + 128 * MB) /* past the direct map, below the heap */

/* ---- one CPU holds a lock and waits; another works beside it ---- */

/*
 * With one lock for the heap and the VMM, the main thread's vmm_map would
 * wait for the holder of mm_lock, which waits 10 s for it: still_held false.
 */
static void test_vmm_runs_while_another_cpu_holds_mm_lock(void **state)
{
    (void)state;
    fresh_every_layer(32u * MB);
    paddr_t ph[8];
    for (int i = 0; i < 8; i++)
        assert_int_not_equal(ph[i] = pmm_alloc_page(), 0);
    pthread_t t = start_holder(mm_lock, mm_unlock);
    for (int i = 0; i < 8; i++) {
        vaddr_t v = CALLER_WIN + (vaddr_t)i * PAGE_SIZE;
        assert_int_equal(vmm_map(v, ph[i], PAGE_WRITABLE), 0);
        assert_int_equal(vmm_get_physical(v + 12), ph[i] + 12);
        memset(host_virt_ptr(v), 0x40 + i, PAGE_SIZE);
    }
    for (int i = 0; i < 8; i++) {
        vaddr_t v = CALLER_WIN + (vaddr_t)i * PAGE_SIZE;
        const unsigned char *b = host_virt_ptr(v);
        assert_int_equal(b[0], 0x40 + i);
        assert_int_equal(b[PAGE_SIZE - 1], 0x40 + i);
    }
    assert_int_equal(vmm_check(), 0);
    assert_int_equal(pmm_check(), 0); /* vmm_lock first, then the PMM's: no mm_lock */
    for (int i = 0; i < 8; i++)
        vmm_unmap_page(CALLER_WIN + (vaddr_t)i * PAGE_SIZE); /* frees the caller's page */
    assert_int_equal(vmm_get_physical(CALLER_WIN), 0);
    assert_int_equal(vmm_check(), 0);
    assert_true(stop_holder(t)); /* the holder never let go meanwhile */
    check_every_layer();
}

/* The other way round: the heap's blocks and slabs while another CPU holds the VMM's lock. */
static void test_heap_runs_while_another_cpu_holds_vmm_lock(void **state)
{
    (void)state;
    fresh_every_layer(32u * MB);
    void *warm = kmalloc(256 * 1024); /* the heap grows now, not under the holder */
    assert_non_null(warm);
    kfree(warm);
    kmem_cache_t *c = kmem_cache_create("split", 48, 0, NULL);
    assert_non_null(c);
    void *keep = kmem_cache_alloc(c); /* its first slab, also before */
    assert_non_null(keep);
    pthread_t t = start_holder(vmm_lock, vmm_unlock);
    void *blk[16], *obj[16];
    for (int i = 0; i < 16; i++) {
        assert_non_null(blk[i] = kmalloc(2000 + (size_t)i * 8));
        memset(blk[i], i, 2000);
        assert_non_null(obj[i] = kmem_cache_alloc(c));
        memset(obj[i], 0x80 + i, 48);
    }
    /* (heap_check translates the heap's pages: it takes vmm_lock, in order, and waits) */
    for (int i = 0; i < 16; i++) {
        assert_int_equal(((unsigned char *)blk[i])[1999], i);
        assert_int_equal(((unsigned char *)obj[i])[47], 0x80 + i);
        kfree(blk[i]);
        kmem_cache_free(c, obj[i]);
    }
    assert_true(stop_holder(t));
    kmem_cache_free(c, keep);
    kmem_cache_destroy(c);
    check_every_layer();
}

/* ---- two CPUs in different layers at once, a third checking all the time ---- */

#define ROUNDS   4
#define OPS      1500
#define VM_PAGES 16

static int stop_checking; /* __atomic */
static unsigned long bad_bytes[2], check_errors, checks_run;

static void *vmm_worker(void *arg)
{
    (void)arg;
    uint32_t rng = 0x1234567u;
    paddr_t ph[VM_PAGES] = {0};
    for (int op = 0; op < OPS; op++) {
        unsigned i = rng_next(&rng) % VM_PAGES;
        vaddr_t v = CALLER_WIN + 4 * MB + (vaddr_t)i * PAGE_SIZE;
        if (ph[i]) {
            const unsigned char *b = host_virt_ptr(v);
            for (unsigned k = 0; k < PAGE_SIZE; k += 512)
                bad_bytes[0] += b[k] != (unsigned char)(i + 1);
            if (vmm_get_physical(v) != ph[i])
                bad_bytes[0]++;
            vmm_unmap_page(v); /* the caller's page goes back after its shootdown */
            ph[i] = 0;
        } else if ((ph[i] = pmm_alloc_page()) != 0) {
            if (vmm_map(v, ph[i], PAGE_WRITABLE) < 0) {
                bad_bytes[0]++;
                pmm_free_page(ph[i]);
                ph[i] = 0;
                continue;
            }
            memset(host_virt_ptr(v), (int)(i + 1), PAGE_SIZE);
        }
    }
    for (unsigned i = 0; i < VM_PAGES; i++) {
        if (ph[i])
            vmm_unmap_page(CALLER_WIN + 4 * MB + (vaddr_t)i * PAGE_SIZE);
    }
    return NULL;
}

static kmem_cache_t *heap_cache;
static void *heap_worker(void *arg)
{
    (void)arg;
    uint32_t rng = 0x89abcdefu;
    void *p[32] = {0};
    size_t n[32] = {0};
    void *vm = NULL;
    size_t vm_len = 0;
    for (int op = 0; op < OPS; op++) {
        unsigned i = rng_next(&rng) % 32;
        if (p[i]) {
            const unsigned char *b = p[i];
            for (size_t k = 0; k < n[i]; k++)
                bad_bytes[1] += b[k] != (unsigned char)(i ^ n[i]);
            if (i % 4 == 3)
                kmem_cache_free(heap_cache, p[i]);
            else
                kfree(p[i]);
            p[i] = NULL;
        } else {
            n[i] = i % 4 == 3 ? 40 : 1 + rng_next(&rng) % (i % 2 ? 3000 : 300);
            p[i] = i % 4 == 3 ? kmem_cache_alloc(heap_cache) : kmalloc(n[i]);
            if (p[i])
                memset(p[i], (int)(i ^ n[i]), n[i]);
        }
        if (op % 64 == 0) { /* vmalloc too: its pages through kmap, under vmm_lock */
            if (vm) {
                const unsigned char *b = vm;
                for (size_t k = 0; k < vm_len; k += 256)
                    bad_bytes[1] += b[k] != (unsigned char)(vm_len / PAGE_SIZE);
                vfree(vm);
                vm = NULL;
            } else {
                vm_len = (1 + rng_next(&rng) % 8) * PAGE_SIZE;
                if ((vm = vmalloc(vm_len)) != NULL)
                    memset(vm, (int)(vm_len / PAGE_SIZE), vm_len);
            }
        }
    }
    for (unsigned i = 0; i < 32; i++) {
        if (p[i] && i % 4 == 3)
            kmem_cache_free(heap_cache, p[i]);
        else if (p[i])
            kfree(p[i]);
    }
    if (vm)
        vfree(vm);
    return NULL;
}

static void *checker(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_checking, __ATOMIC_ACQUIRE)) {
        check_errors += (unsigned long)(pmm_check() + vmm_check() + vmalloc_check() + heap_check() +
                                        kmem_cache_check());
        checks_run++;
    }
    return NULL;
}

static void test_vmm_and_heap_at_once_checkers_exact(void **state)
{
    (void)state;
    fresh_every_layer(32u * MB);
    heap_cache = kmem_cache_create("split-obj", 40, 0, NULL);
    assert_non_null(heap_cache);
    memset(bad_bytes, 0, sizeof(bad_bytes));
    check_errors = checks_run = 0;
    for (int round = 0; round < ROUNDS; round++) {
        __atomic_store_n(&stop_checking, 0, __ATOMIC_RELEASE);
        pthread_t a, b, c;
        assert_int_equal(pthread_create(&c, NULL, checker, NULL), 0);
        assert_int_equal(pthread_create(&a, NULL, vmm_worker, NULL), 0);
        assert_int_equal(pthread_create(&b, NULL, heap_worker, NULL), 0);
        assert_int_equal(pthread_join(a, NULL), 0);
        assert_int_equal(pthread_join(b, NULL), 0);
        __atomic_store_n(&stop_checking, 1, __ATOMIC_RELEASE);
        assert_int_equal(pthread_join(c, NULL), 0);
        assert_int_equal(bad_bytes[0], 0);
        assert_int_equal(bad_bytes[1], 0);
        assert_int_equal(check_errors, 0);
        check_every_layer(); /* after every round */
    }
    assert_true(checks_run >= ROUNDS); /* the checker ran while the others worked */
    assert_int_equal(stats_now().error_count, 0);
    kmem_cache_destroy(heap_cache);
    check_every_layer();
}

/* ---- the order ---- */

static void vmm_lock_inside_pmm_lock(void)
{
    (void)pmm_lock();
    (void)vmm_lock();
}

static void mm_lock_inside_vmm_lock(void)
{
    (void)vmm_lock();
    (void)mm_lock();
}

static void vmm_unlock_not_held(void)
{
    vmm_unlock(0);
}

static void test_order_violations_panic_naming_both(void **state)
{
    (void)state;
    assert_child_panics(vmm_lock_inside_pmm_lock,
                        "vmm_lock: asked for inside the PMM's lock (pmm_lock): the lock order is "
                        "mm_lock, vmm_lock, pmm_lock");
    assert_child_panics(mm_lock_inside_vmm_lock,
                        "mm_lock: asked for inside the VMM's lock (vmm_lock): the lock order is "
                        "mm_lock, vmm_lock, pmm_lock");
    assert_child_panics(vmm_unlock_not_held, "vmm_unlock: the VMM's lock is not held by this CPU");
}

/* The allowed order, nested; mm_lock_may_take says what mm_lock would say. */
static void test_allowed_order_and_may_take(void **state)
{
    (void)state;
    assert_true(mm_lock_may_take());
    glue_irqflags_t a = mm_lock();
    glue_irqflags_t b = vmm_lock();
    assert_true(mm_lock_may_take()); /* held: nested */
    glue_irqflags_t c = mm_lock();
    glue_irqflags_t d = pmm_lock();
    glue_irqflags_t e = vmm_lock(); /* held: nested, even inside pmm_lock */
    assert_true(mm_lock_held() && vmm_lock_held() && pmm_lock_held());
    vmm_unlock(e);
    pmm_unlock(d);
    mm_unlock(c);
    vmm_unlock(b);
    mm_unlock(a);
    assert_false(mm_lock_held() || vmm_lock_held() || pmm_lock_held());
    glue_irqflags_t f = vmm_lock();
    assert_false(mm_lock_may_take());
    vmm_unlock(f);
    f = pmm_lock();
    assert_false(mm_lock_may_take());
    pmm_unlock(f);
    assert_true(mm_lock_may_take());
}

/* A reclaim hook takes mm_lock: never run on a CPU inside vmm_lock alone, run outside it. */
static int hook_calls;
static size_t counting_hook(void)
{
    hook_calls++;
    assert_true(mm_lock_held());
    return 0;
}

static void test_reclaim_skipped_inside_vmm_lock(void **state)
{
    (void)state;
    fresh_every_layer(16u * MB);
    assert_int_equal(pmm_register_reclaim(counting_hook), 0);
    static uint32_t pages[4096];
    hook_calls = 0;
    uint32_t taken = 0;
    glue_irqflags_t f = vmm_lock();
    while (taken < 4096 && (pages[taken] = pmm_alloc_page()) != 0)
        taken++;
    vmm_unlock(f);
    assert_true(taken > 1000 && taken < 4096); /* ran dry inside the lock */
    assert_int_equal(hook_calls, 0);           /* and no hook ran there (nor a panic) */
    assert_int_equal(pmm_alloc_page(), 0);     /* outside: still dry, but the hook ran */
    assert_true(hook_calls > 0);
    pmm_unregister_reclaim(counting_hook);
    for (uint32_t i = 0; i < taken; i++)
        pmm_free_page(pages[i]);
    host_console_clear();
    check_every_layer();
}

static const char *named(vaddr_t a, char *buf, size_t len)
{
    snprintf(buf, len, "split layer at 0x%08x", (unsigned)a);
    return buf;
}

static void test_describer_not_asked_inside_vmm_lock(void **state)
{
    (void)state;
    fresh_every_layer(16u * MB);
    assert_int_equal(vmm_register_describer(0x70000000u, 0x70000fffu, "split", named), 0);
    assert_string_equal(vmm_describe(0x70000010u), "split layer at 0x70000010");
    glue_irqflags_t f = vmm_lock();
    const char *said = vmm_describe(0x70000010u); /* a fault inside the VMM: no panic */
    vmm_unlock(f);
    assert_non_null(said);
    assert_null(strstr(said, "split layer"));
    vmm_unregister_describer(named);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmm_runs_while_another_cpu_holds_mm_lock),
        cmocka_unit_test(test_heap_runs_while_another_cpu_holds_vmm_lock),
        cmocka_unit_test(test_vmm_and_heap_at_once_checkers_exact),
        cmocka_unit_test(test_order_violations_panic_naming_both),
        cmocka_unit_test(test_allowed_order_and_may_take),
        cmocka_unit_test(test_reclaim_skipped_inside_vmm_lock),
        cmocka_unit_test(test_describer_not_asked_inside_vmm_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

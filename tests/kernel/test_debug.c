/*
 * test_debug.c (kernel) - the debug build's checks (MM_DEBUG) on the real
 * heap: red zones, fill and poison bytes, the quarantine, the leak count.
 * The host suite (tests/host/test_debug.c) covers the same ground in more
 * depth.  Each test turns the checks on for its own heap; in a kernel booted
 * with "mmdebug" they are on everywhere, which the first test checks.
 * Without MM_DEBUG the suite is empty.
 */
#include "ktest.h"

#ifdef MM_DEBUG
#include "mm_debug.h"
#include "multiboot.h"
#include "slab.h"

static int all_bytes(const void *p, size_t n, unsigned char b)
{
    for (size_t i = 0; i < n; i++) {
        if (((const unsigned char *)p)[i] != b)
            return 0;
    }
    return 1;
}

/* A fresh heap with the checks on (and, with `virtual`, the virtual heap with its slabs). */
static void checks_on(int virtual)
{
    mm_debug_set(1);
    memory_init();
    if (virtual)
        heap_init_virtual();
}

/* Back to what the boot option says, the quarantine given back. */
static void checks_restored(void)
{
    mm_debug_flush();
    mm_debug_set(multiboot_has_option("mmdebug"));
}

static void boot_option_mmdebug(void)
{
    KT_ASSERT(mm_debug_enabled() == multiboot_has_option("mmdebug"));
}

static void block_red_zones(void)
{
    checks_on(0);
    char *a = kmalloc(100), *b = kmalloc(64);
    a[100] = 'x';
    kfree(a);
    KT_REPORTED("kfree", "red zone overwritten 1 byte past the end of a 100-byte block");
    KT_REPORTED("kfree", "tests/kernel/test_debug.c:");
    b[-2] = 0;
    KT_ASSERT(heap_check() == 1);
    KT_REPORTED("heap_check", "2 bytes before the start of a 64-byte block");
    KT_CHECK_HEAP();
    kfree(b);
    KT_CHECK_HEAP();
    checks_restored();
}

static void slab_red_zone(void)
{
    checks_on(1);
    char *p = kmalloc(24);
    KT_ASSERT(p && all_bytes(p, 24, MM_FILL_BYTE));
    p[24] = 0;
    kfree(p);
    KT_REPORTED("kfree", "red zone overwritten 1 byte past the end of a 24-byte object");
    KT_ASSERT(all_bytes(p, 24, MM_POISON_BYTE));
    KT_CHECK_HEAP();
    checks_restored();
}

static void quarantine_catches_use_after_free(void)
{
    checks_on(0);
    char *p = kmalloc(200);
    kfree(p);
    KT_ASSERT(all_bytes(p, 200, MM_POISON_BYTE));
    p[8] = 1;
    KT_ASSERT(heap_check() == 1);
    KT_REPORTED("heap_check", "write after free (offset 8)");
    KT_CHECK_HEAP();
    kfree(p);
    KT_REPORTED("kfree", "double free (in quarantine");
    p[0] = 2;
    for (int i = 0; i < MM_QUARANTINE_ENTRIES; i++)
        kfree(kmalloc(16));
    KT_REPORTED("kfree", "write after free (offset 0)");
    KT_CHECK_HEAP();
    checks_restored();
}

static void leak_count(void)
{
    checks_on(1);
    void *a = kmalloc(10), *b = kmalloc(1000);
    kmem_cache_t *c = kmem_cache_create("kt", 40, 0, NULL);
    void *o = kmem_cache_alloc(c);
    KT_ASSERT(heap_leaks() == 3); /* a, b and o (the cache is out of the heap) */
    kfree(a);
    kfree(b);
    kmem_cache_free(c, o);
    KT_ASSERT(kmem_cache_destroy(c) == 0);
    KT_ASSERT(heap_leaks() == 0);
    KT_CHECK_HEAP();
    checks_restored();
}

const struct ktest ktest_debug[] = {
    {"debug: the boot option mmdebug switches the checks", boot_option_mmdebug},
    {"debug: heap block red zones (overflow, underflow)", block_red_zones},
    {"debug: slab object red zone, fill and poison", slab_red_zone},
    {"debug: quarantine catches writes after free", quarantine_catches_use_after_free},
    {"debug: leak count", leak_count},
    {NULL, NULL},
};
#else
const struct ktest ktest_debug[] = {{NULL, NULL}};
#endif

/*
 * test_names.c - a report names the function the caller called (issue 10,
 * item 3), also when it comes from deep inside the heap: the free of a block
 * says which operation freed it, and a public call that reaches the heap
 * through slab.c names itself, not whatever public call ran before it.
 *
 * Each case damages the heap as a caller's stray write would (a neighbour's
 * header, a free block's links), then makes one public call.  Expect: the
 * one-line report names that call, and heap_check() is back at 0.
 */
#include "harness.h"
#include "slab.h"
#include "slab_priv.h"

#define MB (1024u * 1024u)

static heap_block_t *hdr(void *payload)
{
    return (heap_block_t *)((char *)payload - HDR);
}

static void phase2(void)
{
    fresh_paging_ram(8 * MB);
    heap_init_virtual();
    host_console_clear();
}

/* The last report holds `text` and begins "ERROR: fn: ". */
static void assert_named(const char *fn, const char *text)
{
    char head[64];
    snprintf(head, sizeof(head), "ERROR: %s: ", fn);
    const char *last = mm_last_error();
    if (strncmp(last, head, strlen(head)) != 0 || !strstr(last, text))
        fail_msg("expected a report \"%s... %s\", got \"%s\"", head, text, last);
}

/*
 * The free list was forged: kmem_cache_alloc's new slab page finds it and
 * names kmem_cache_alloc; then the object and its cache go back.
 */
static void cache_alloc_names_itself(kmem_cache_t *cache)
{
    void *obj = kmem_cache_alloc(cache);
    assert_non_null(obj);
    assert_named("kmem_cache_alloc", "free list corrupted here");
    CHECK_HEAP();
    kmem_cache_free(cache, obj);
    assert_int_equal(kmem_cache_destroy(cache), 0);
}

/*
 *   | a | b (header smashed) | c |     krealloc(a, 0) frees a, whose merge
 *                                     looks at b first.
 * Expect: "krealloc: a: header of the next block ... smashed", not "kfree".
 */
static void test_krealloc_free_names_krealloc(void **state)
{
    (void)state;
    char *a = t_kmalloc(200), *b = t_kmalloc(200), *c = t_kmalloc(200);
    hdr(b)->magic = 0x41414141; /* an overflow of a */
    assert_null(krealloc(a, 0));
    assert_reported("krealloc", a, "header of the next block");
    assert_named("krealloc", "smashed");
    CHECK_HEAP();
    t_kfree(b);
    t_kfree(c);
}

/*
 *   | a (header smashed) | b | c |     krealloc(b, 4000) moves b (c is in the
 *                                     way) and frees it into a's place.
 * Expect: "krealloc: b: header of the previous block ... smashed".
 */
static void test_krealloc_move_names_krealloc(void **state)
{
    (void)state;
    char *a = t_kmalloc(200), *b = t_kmalloc(200), *c = t_kmalloc(200);
    memset(b, 0x5a, 200);
    hdr(a)->magic = 0x41414141; /* an overflow of the block before a, or a stray write */
    char *moved = krealloc(b, 4000);
    assert_non_null(moved);
    assert_ptr_not_equal(moved, b);
    for (int i = 0; i < 200; i++)
        assert_int_equal((unsigned char)moved[i], 0x5a);
    assert_reported("krealloc", b, "header of the previous block");
    CHECK_HEAP();
    t_kfree(moved);
    t_kfree(c);
}

/*
 * A cache's slab page, its objects freed: kmem_cache_shrink gives the page
 * back to the heap.  The block after the page was smashed meanwhile.
 * Expect: "kmem_cache_shrink: page: header of the next block ... smashed".
 */
static void test_cache_shrink_names_shrink(void **state)
{
    (void)state;
    phase2();
    kmem_cache_t *cache = kmem_cache_create("names", 48, 0, NULL);
    assert_non_null(cache);
    void *obj = kmem_cache_alloc(cache);
    assert_non_null(obj);
    kmem_cache_free(cache, obj);
    CHECK_HEAP();
    uintptr_t page = (uintptr_t)obj & ~(uintptr_t)(PAGE_SIZE - 1);
    heap_block_t *slab_block = (heap_block_t *)page;
    assert_int_equal(slab_block->size, PAGE_SIZE - HDR);
    heap_block_t *next = slab_block->next;
    assert_non_null(next);
    next->magic = 0x41414141; /* an overflow off the end of the page */
    assert_int_equal(kmem_cache_shrink(cache), 1);
    assert_reported("kmem_cache_shrink", (char *)page + HDR, "header of the next block");
    CHECK_HEAP();
    assert_int_equal(kmem_cache_destroy(cache), 0);
    CHECK_HEAP();
}

/*
 * kmalloc_usable_size of a block whose header was smashed names itself; the
 * next call, kmem_cache_alloc, needs a slab page from a free block whose
 * links were forged: the lists are rebuilt, and the report names
 * kmem_cache_alloc (it used to name the kmalloc_usable_size before it).
 */
static void test_usable_size_then_cache_alloc(void **state)
{
    (void)state;
    phase2();
    int was = mm_set_block_cache(0); /* (p's neighbour the heap's free rest, not a CPU's fill) */
    kmem_cache_t *cache = kmem_cache_create("names", 48, 0, NULL);
    assert_non_null(cache);
    char *p = t_kmalloc(1000); /* a block: above the size classes */
    size_t usable = kmalloc_usable_size(p);
    memset(hdr(p), 0x41, HDR); /* the block before p overflowed into its header */
    assert_int_equal(kmalloc_usable_size(p), usable);
    assert_reported("kmalloc_usable_size", p, "block header smashed");
    CHECK_HEAP();

    heap_block_t *tail = hdr(p)->next; /* the free rest of the virtual heap */
    assert_non_null(tail);
    assert_int_equal(tail->is_free, 1);
    heap_block_t **links = (heap_block_t **)((char *)tail + HDR);
    links[0] = links[1] = (heap_block_t *)(uintptr_t)0x1234; /* a write after free */
    host_console_clear();
    cache_alloc_names_itself(cache);
    t_kfree(p);
    mm_set_block_cache(was);
}

/*
 * Right after memory_init no public call has run: the first one that reaches
 * the heap through slab.c names itself (it used to print "(null)").
 *
 *   | the early heap: one free block, its links forged |
 */
static void test_first_call_after_memory_init(void **state)
{
    (void)state;
    kmem_cache_t *cache = kmem_cache_create("names", 48, 0, NULL);
    assert_non_null(cache);
    heap_block_t **links = (heap_block_t **)(HEAP_BASE + HDR);
    links[0] = links[1] = (heap_block_t *)(uintptr_t)0x1234; /* a stray write */
    cache_alloc_names_itself(cache);
    CHECK_HEAP();
}

/*
 * krealloc(NULL, n) is kmalloc(n), and names krealloc in its reports.
 *
 *   | the early heap: one free block, its links forged |
 */
static void test_krealloc_null_names_krealloc(void **state)
{
    (void)state;
    heap_block_t **links = (heap_block_t **)(HEAP_BASE + HDR);
    links[0] = links[1] = (heap_block_t *)(uintptr_t)0x1234; /* a stray write */
    void *p = krealloc(NULL, 300);
    assert_non_null(p);
    assert_named("krealloc", "free list corrupted here");
    CHECK_HEAP();
    t_kfree(p);
}

/*
 * kmem_cache_check's check lines name it, heap_check's name heap_check
 * (checkers print "<check>: <where>: <what>", not an ERROR report), when a
 * slab descriptor disagrees with its map (out-of-band metadata: only a bug
 * of the memory manager itself can do this; the test plays that bug).
 */
static void test_cache_check_names_itself(void **state)
{
    (void)state;
    kmem_cache_t *cache = kmem_cache_create("names-check", 64, 0, NULL);
    assert_non_null(cache);
    void *obj = kmem_cache_alloc(cache);
    assert_non_null(obj);
    slab_t *s = slab_desc_of(heap_slab_page_of((uintptr_t)obj));
    assert_non_null(s);
    s->inuse++;
    host_console_clear();
    assert_true(kmem_cache_check() >= 1);
    assert_true(host_console_has("kmem_cache_check: "));
    assert_true(host_console_has("slab map disagrees with its in-use count (cache 'names-check')"));
    assert_false(host_console_has("heap_check: "));
    host_console_clear();
    assert_true(heap_check() >= 1);
    assert_true(host_console_has("heap_check: "));
    assert_false(host_console_has("kmem_cache_check: "));
    s->inuse--;
    CHECK_HEAP();
    kmem_cache_free(cache, obj);
    assert_int_equal(kmem_cache_destroy(cache), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_krealloc_free_names_krealloc, fresh_heap),
        cmocka_unit_test_setup(test_krealloc_move_names_krealloc, fresh_heap),
        cmocka_unit_test(test_cache_shrink_names_shrink),
        cmocka_unit_test(test_usable_size_then_cache_alloc),
        cmocka_unit_test_setup(test_first_call_after_memory_init, fresh_heap),
        cmocka_unit_test_setup(test_krealloc_null_names_krealloc, fresh_heap),
        cmocka_unit_test_setup(test_cache_check_names_itself, fresh_heap),
    };
    return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}

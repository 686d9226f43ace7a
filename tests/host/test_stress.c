/*
 * test_stress.c - a randomized kmalloc/kcalloc/krealloc/kfree workload
 * checked against a shadow model.
 *
 * The shadow keeps, for every live block, its pointer, requested size and a
 * seed; the block's bytes are a function of (seed, offset).  Every byte is
 * verified before each free and after each realloc (the old prefix must
 * survive), kcalloc memory must be zero, live blocks must never overlap, the
 * counters must balance, and heap_check() runs after every operation.
 * MM_SEED=n repeats one run; by default several seeds run.
 */
#include "harness.h"

#define SLOTS 192
#define OPS   60000

struct slot {
    unsigned char *p;
    size_t size;
    uint32_t seed;
};

static struct slot live[SLOTS];
static uint32_t rng;

static uint32_t next_rand(void)
{
    return rng_next(&rng);
}

/* Mostly small, sometimes medium, rarely large: the kernel's usual mix. */
static size_t random_size(void)
{
    static const struct rng_range mix[3] = {{70, 1, 128}, {27, 1, 2048}, {3, 1, 16384}};
    return rng_size(&rng, mix);
}

static unsigned char pattern(uint32_t seed, size_t i)
{
    return (unsigned char)((seed * 2654435761u) >> 24 ^ (i * 31) ^ (i >> 8));
}

static void fill(struct slot *s, size_t from)
{
    for (size_t i = from; i < s->size; i++)
        s->p[i] = pattern(s->seed, i);
}

static void verify(const struct slot *s, size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        if (s->p[i] != pattern(s->seed, i))
            fail_msg("block %p byte %zu of %zu changed", (void *)s->p, i, s->size);
    }
}

static void assert_no_overlap(const struct slot *s)
{
    uintptr_t a = (uintptr_t)s->p;
    assert_true(a >= HEAP_BASE + HDR && a + s->size <= HEAP_END);
    assert_int_equal(a % HEAP_ALIGN, 0);
    for (int i = 0; i < SLOTS; i++) {
        const struct slot *o = &live[i];
        if (o == s || !o->p)
            continue;
        uintptr_t b = (uintptr_t)o->p;
        if (a < b + o->size && b < a + s->size)
            fail_msg("blocks %p+%zu and %p+%zu overlap", (void *)a, s->size, (void *)b, o->size);
    }
}

static void assert_counters(void)
{
    size_t sum = 0;
    int count = 0;
    for (int i = 0; i < SLOTS; i++) {
        if (live[i].p) {
            sum += ALIGN_8(live[i].size);
            count++;
        }
    }
    memory_stats_t st = stats_now();
    assert_true(st.heap_used >= sum);
    assert_true(st.heap_used <= sum + (size_t)count * (HDR + 16)); /* unsplit tails only */
    assert_int_equal(st.heap_size, st.heap_used + st.heap_free + st.block_count * HDR);
    assert_int_equal(st.allocation_count - st.free_count, (uint32_t)count);
}

static void run(uint32_t seed)
{
    memory_init();
    memset(live, 0, sizeof(live));
    rng = seed;
    unsigned long ok = 0, failed = 0, verified = 0;
    for (int op = 0; op < OPS; op++) {
        struct slot *s = &live[next_rand() % SLOTS];
        uint32_t kind = next_rand() % 10;
        if (!s->p) {
            s->size = random_size();
            s->seed = next_rand();
            if (kind < 3) {
                size_t count = 1 + next_rand() % 8;
                size_t each = 1 + s->size / count;
                s->size = count * each;
                s->p = t_kcalloc(count, each);
                for (size_t i = 0; s->p && i < s->size; i++)
                    assert_int_equal(s->p[i], 0);
            } else {
                s->p = t_kmalloc(s->size);
            }
            if (!s->p) {
                failed++;
                continue;
            }
            assert_no_overlap(s);
            fill(s, 0);
            ok++;
        } else if (kind < 4) {
            size_t n = random_size();
            unsigned char *q = t_krealloc(s->p, n);
            if (!q) {
                verify(s, s->size); /* failed krealloc: untouched */
                failed++;
                continue;
            }
            s->p = q;
            verify(s, n < s->size ? n : s->size);
            verified += n < s->size ? n : s->size;
            size_t old = s->size;
            s->size = n;
            assert_no_overlap(s);
            fill(s, n < old ? n : old);
        } else {
            verify(s, s->size);
            verified += s->size;
            t_kfree(s->p);
            s->p = NULL;
        }
        if (op % 64 == 0)
            assert_counters();
    }
    for (int i = 0; i < SLOTS; i++) {
        if (live[i].p) {
            verify(&live[i], live[i].size);
            t_kfree(live[i].p);
            live[i].p = NULL;
        }
    }
    memory_stats_t st = stats_now();
    assert_int_equal(st.block_count, 1);
    assert_int_equal(st.heap_free, INITIAL_HEAP_SIZE - HDR);
    assert_int_equal(st.error_count, 0);
    print_message("seed %u: %d ops, %lu allocations, %lu refused (heap full), %lu bytes verified\n",
                  seed, OPS, ok, failed, verified);
}

static void test_random_workload_against_shadow(void **state)
{
    const char *env = getenv("MM_SEED");
    if (env) {
        run((uint32_t)strtoul(env, NULL, 0));
        return;
    }
    for (uint32_t seed = 1; seed <= 4; seed++)
        run(seed * 0x9E3779B9u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_workload_against_shadow),
    };
    return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}

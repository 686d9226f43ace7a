/*
 * test_string.c - memset / memcpy / memmove / memcmp, every size 0..300 at
 * every alignment, against byte-at-a-time reference loops, with guard bytes
 * around the destination to catch writes outside [dest, dest+size).
 */
#include "harness.h"

#define BUF   400
#define GUARD 0x5A

static unsigned char buf[BUF], ref[BUF], src[BUF];

static void fill_src(void)
{
    for (int i = 0; i < BUF; i++)
        src[i] = (unsigned char)(i * 7 + 3);
}

static void guard_both(void)
{
    for (int i = 0; i < BUF; i++)
        buf[i] = ref[i] = GUARD;
}

static void assert_same_as_ref(size_t off, size_t n)
{
    for (int i = 0; i < BUF; i++) {
        if (buf[i] != ref[i])
            fail_msg("byte %d differs (offset %zu, size %zu): %#x != %#x", i, off, n, buf[i],
                     ref[i]);
    }
}

/* memset: every byte of [p, p+n) gets (unsigned char)value, nothing else changes. */
static void test_memset_all_sizes_and_alignments(void **state)
{
    const int values[] = {0, 0xA5, -1, 0x1FF /* only the low byte counts */};
    for (size_t v = 0; v < 4; v++) {
        for (size_t off = 0; off < 16; off++) {
            for (size_t n = 0; n <= 300; n++) {
                guard_both();
                for (size_t i = 0; i < n; i++)
                    ref[off + i] = (unsigned char)values[v];
                assert_ptr_equal(memset(buf + off, values[v], n), buf + off);
                assert_same_as_ref(off, n);
            }
        }
    }
}

/* memcpy: every source/destination misalignment pair. */
static void test_memcpy_all_sizes_and_alignments(void **state)
{
    fill_src();
    for (size_t doff = 0; doff < 16; doff++) {
        for (size_t soff = 0; soff < 16; soff++) {
            for (size_t n = 0; n <= 300; n += (n < 40 ? 1 : 13)) {
                guard_both();
                for (size_t i = 0; i < n; i++)
                    ref[doff + i] = src[soff + i];
                assert_ptr_equal(memcpy(buf + doff, src + soff, n), buf + doff);
                assert_same_as_ref(doff, n);
            }
        }
    }
}

/* memmove: overlapping copies in both directions give what a copy via a temporary gives. */
static void test_memmove_overlap_both_directions(void **state)
{
    unsigned char tmp[BUF];
    for (size_t d = 0; d < 40; d++) {
        for (size_t s = 0; s < 40; s++) {
            for (size_t n = 0; n <= 300; n += (n < 40 ? 1 : 17)) {
                for (int i = 0; i < BUF; i++)
                    buf[i] = ref[i] = (unsigned char)(i * 13 + 1);
                for (size_t i = 0; i < n; i++)
                    tmp[i] = ref[s + i];
                for (size_t i = 0; i < n; i++)
                    ref[d + i] = tmp[i];
                assert_ptr_equal(memmove(buf + d, buf + s, n), buf + d);
                assert_same_as_ref(d, n);
            }
        }
    }
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

/* memcmp: 0 when equal, sign of the first differing byte as unsigned char. */
static void test_memcmp_sign_and_position(void **state)
{
    unsigned char a[80], b[80];
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n <= 64; n++) {
            for (size_t i = 0; i < 80; i++)
                a[i] = b[i] = (unsigned char)(i + 1);
            assert_int_equal(memcmp(a + off, b + off, n), 0);
            for (size_t pos = 0; pos < n; pos++) {
                b[off + pos] = 0x80; /* bigger than any a[] byte as unsigned char */
                assert_int_equal(sign(memcmp(a + off, b + off, n)), -1);
                assert_int_equal(sign(memcmp(b + off, a + off, n)), 1);
                b[off + pos] = a[off + pos];
            }
        }
    }
    assert_true(memcmp("\x80", "\x01", 1) > 0); /* unsigned, not signed char */
    assert_int_equal(memcmp(a, b + 1, 0), 0);
    assert_true(memcmp("abcd", "abce", 4) < 0);
}

/* Misaligned source and destination relative to each other still compare right. */
static void test_memcmp_mixed_alignment(void **state)
{
    unsigned char a[100], b[100];
    for (int i = 0; i < 100; i++)
        a[i] = b[i] = (unsigned char)i;
    for (size_t s = 0; s < 8; s++) {
        memmove(b + s, a, 64);
        assert_int_equal(memcmp(a, b + s, 64), 0);
        b[s + 63] ^= 1;
        assert_int_not_equal(memcmp(a, b + s, 64), 0);
        memmove(b, a, 100);
    }
}

/* Big sizes take the x86 fast-string path (from 512 bytes): same results, same guards. */
static void test_big_sizes_across_the_fast_path(void **state)
{
    enum { BIG = 9000 };
    static unsigned char dst[BIG + 64], src2[BIG + 64], expect[BIG + 64];
    static const size_t sizes[] = {504, 511, 512, 513, 519, 520, 1000, 4096, 4099, 8192};
    for (size_t i = 0; i < BIG + 64; i++)
        src2[i] = (unsigned char)(i * 13 + 7);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        for (size_t doff = 0; doff < 16; doff++) {
            size_t n = sizes[k];
            for (size_t soff = 0; soff < 16; soff += 5) {
                for (size_t i = 0; i < BIG + 64; i++)
                    dst[i] = expect[i] = GUARD;
                for (size_t i = 0; i < n; i++)
                    expect[doff + i] = src2[soff + i];
                assert_ptr_equal(memcpy(dst + doff, src2 + soff, n), dst + doff);
                assert_memory_equal(dst, expect, BIG + 64);
            }
            for (size_t i = 0; i < BIG + 64; i++)
                dst[i] = expect[i] = GUARD;
            for (size_t i = 0; i < n; i++)
                expect[doff + i] = 0xC3;
            assert_ptr_equal(memset(dst + doff, 0x1C3, n), dst + doff);
            assert_memory_equal(dst, expect, BIG + 64);
            /* memmove forward through memcpy's path, backward through its own */
            for (size_t i = 0; i < BIG + 64; i++)
                dst[i] = expect[i] = (unsigned char)i;
            for (size_t i = 0; i < n; i++)
                expect[doff + i] = (unsigned char)(doff + 40 + i);
            memmove(dst + doff, dst + doff + 40, n);
            assert_memory_equal(dst, expect, BIG + 64);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memset_all_sizes_and_alignments),
        cmocka_unit_test(test_memcpy_all_sizes_and_alignments),
        cmocka_unit_test(test_memmove_overlap_both_directions),
        cmocka_unit_test(test_memcmp_sign_and_position),
        cmocka_unit_test(test_memcmp_mixed_alignment),
        cmocka_unit_test(test_big_sizes_across_the_fast_path),
    };
    return cmocka_run_group_tests_name("string", tests, NULL, NULL);
}

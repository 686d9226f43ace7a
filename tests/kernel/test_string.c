/*
 * test_string.c (kernel) - memset/memcpy/memmove/memcmp as the kernel links
 * them (these are also what the compiler's own struct copies call).
 */
#include "ktest.h"

static unsigned char buf[300], ref[300];

static void memset_every_alignment(void)
{
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n < 100; n++) {
            for (int i = 0; i < 300; i++)
                buf[i] = ref[i] = 0x5A;
            for (size_t i = 0; i < n; i++)
                ref[off + i] = 0xC3;
            KT_ASSERT(memset(buf + off, 0x1C3, n) == buf + off);
            for (int i = 0; i < 300; i++)
                KT_ASSERT(buf[i] == ref[i]);
        }
    }
}

static void memcpy_every_alignment(void)
{
    static unsigned char src[300];
    for (int i = 0; i < 300; i++)
        src[i] = (unsigned char)(i * 7);
    for (size_t d = 0; d < 8; d++) {
        for (size_t s = 0; s < 8; s++) {
            for (size_t n = 0; n < 100; n += 3) {
                for (int i = 0; i < 300; i++)
                    buf[i] = 0x5A;
                KT_ASSERT(memcpy(buf + d, src + s, n) == buf + d);
                for (size_t i = 0; i < n; i++)
                    KT_ASSERT(buf[d + i] == src[s + i]);
                KT_ASSERT(buf[d + n] == 0x5A && (d == 0 || buf[d - 1] == 0x5A));
            }
        }
    }
}

static void memmove_overlap(void)
{
    for (size_t d = 0; d < 20; d++) {
        for (size_t s = 0; s < 20; s++) {
            for (int i = 0; i < 300; i++)
                buf[i] = ref[i] = (unsigned char)i;
            memmove(buf + d, buf + s, 200);
            for (size_t i = 0; i < 200; i++)
                KT_ASSERT(buf[d + i] == ref[s + i]);
        }
    }
}

static void memcmp_unsigned(void)
{
    KT_ASSERT(memcmp("\x80", "\x01", 1) > 0);
    KT_ASSERT(memcmp("abcdefgh1", "abcdefgh2", 9) < 0);
    KT_ASSERT(memcmp("abcdefgh", "abcdefgh", 8) == 0);
    KT_ASSERT(memcmp("x", "y", 0) == 0);
}

const struct ktest ktest_string[] = {
    {"string: memset every alignment", memset_every_alignment},
    {"string: memcpy every alignment", memcpy_every_alignment},
    {"string: memmove overlap both ways", memmove_overlap},
    {"string: memcmp is unsigned", memcmp_unsigned},
    {NULL, NULL},
};

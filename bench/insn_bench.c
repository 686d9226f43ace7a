/*
 * insn_bench.c - one thread's small-object traffic, for counting instructions
 * per malloc and per free under callgrind (tools/insn-bench.sh), against
 * whichever malloc the process has (glibc as is; mimalloc or ours,
 * build/host/libkmalloc.so, through LD_PRELOAD).  No mm/ code is linked in.
 *
 * Every measured call goes through bench_malloc or bench_free: small
 * functions of this program, never inlined and ending in a real call (the
 * program is built -fno-optimize-sibling-calls), so callgrind's
 * --toggle-collect=bench_malloc --toggle-collect=bench_free counts exactly
 * the instructions from their entry to their return: the allocator's, plus
 * each wrapper's own few, which tools/insn-bench.sh subtracts (their self
 * cost).  The allocator's start-up and the first fill of the live set go
 * through warm_malloc/warm_free instead, which are not counted.
 *
 *   insn_bench small   a live set of 1024 objects, random sizes 8-512 B;
 *                      200 000 frees each followed by a malloc
 *   insn_bench cfrac   a continued-fraction factoriser (SQUFOF, Shanks'
 *                      square forms, on numbers of heap-allocated limbs: every
 *                      arithmetic result is a new malloc, every dead value
 *                      a free), factoring fixed semiprimes
 *
 * The last line says how many measured calls there were:
 *   calls MALLOCS FREES
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/rng.h"

static long mallocs, frees;

__attribute__((noinline)) void *bench_malloc(size_t n)
{
    mallocs++;
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "insn_bench: malloc(%zu) failed\n", n);
        exit(1);
    }
    return p;
}

__attribute__((noinline)) void bench_free(void *p)
{
    frees++;
    free(p);
}

__attribute__((noinline)) void *warm_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        exit(1);
    return p;
}

__attribute__((noinline)) void warm_free(void *p)
{
    free(p);
}

/* --------------------------------------------------------- small objects ---- */

#define SLOTS 1024
static void *slot[SLOTS];

static void small(void)
{
    uint32_t rng = 12345;
    for (int i = 0; i < SLOTS; i++) { /* start-up and the live set: not counted */
        slot[i] = warm_malloc(8 + rng_below(&rng, 505));
        ((volatile char *)slot[i])[0] = 1;
    }
    for (int i = 0; i < 200000; i++) {
        int k = rng_below(&rng, SLOTS);
        bench_free(slot[k]);
        slot[k] = bench_malloc(8 + rng_below(&rng, 505));
        ((volatile char *)slot[k])[0] = 1;
    }
    for (int i = 0; i < SLOTS; i++)
        warm_free(slot[i]);
}

/* --------------------------------------------------- the factoriser ---- */

/*
 * Natural numbers as immutable heap values: n limbs of 32 bits, least
 * significant first, no leading zero limbs (zero has n = 0).  Each operation
 * returns a new value; callers free what they no longer need.
 */
typedef struct {
    int n;
    uint32_t d[];
} num;

static num *num_new(int n)
{
    num *r = bench_malloc(sizeof(num) + (size_t)(n ? n : 1) * sizeof(uint32_t));
    r->n = n;
    return r;
}

static num *trim(num *r)
{
    while (r->n && !r->d[r->n - 1])
        r->n--;
    return r;
}

static num *num_u64(uint64_t v)
{
    num *r = num_new(2);
    r->d[0] = (uint32_t)v;
    r->d[1] = (uint32_t)(v >> 32);
    return trim(r);
}

static num *num_copy(const num *a)
{
    num *r = num_new(a->n);
    memcpy(r->d, a->d, (size_t)a->n * sizeof(uint32_t));
    return r;
}

static int num_cmp(const num *a, const num *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

static num *num_add(const num *a, const num *b)
{
    if (a->n < b->n) {
        const num *t = a;
        a = b;
        b = t;
    }
    num *r = num_new(a->n + 1);
    uint64_t c = 0;
    for (int i = 0; i < a->n; i++) {
        c += (uint64_t)a->d[i] + (i < b->n ? b->d[i] : 0);
        r->d[i] = (uint32_t)c;
        c >>= 32;
    }
    r->d[a->n] = (uint32_t)c;
    return trim(r);
}

/* a - b, a >= b */
static num *num_sub(const num *a, const num *b)
{
    num *r = num_new(a->n);
    int64_t c = 0;
    for (int i = 0; i < a->n; i++) {
        c += (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0);
        r->d[i] = (uint32_t)c;
        c = c < 0 ? -1 : 0;
    }
    return trim(r);
}

static num *num_mul(const num *a, const num *b)
{
    num *r = num_new(a->n + b->n);
    memset(r->d, 0, (size_t)r->n * sizeof(uint32_t));
    for (int i = 0; i < a->n; i++) {
        uint64_t c = 0;
        for (int j = 0; j < b->n; j++) {
            c += (uint64_t)a->d[i] * b->d[j] + r->d[i + j];
            r->d[i + j] = (uint32_t)c;
            c >>= 32;
        }
        r->d[i + b->n] = (uint32_t)c;
    }
    return trim(r);
}

static int num_bits(const num *a)
{
    return a->n ? 32 * (a->n - 1) + 32 - __builtin_clz(a->d[a->n - 1]) : 0;
}

static num *num_shl(const num *a, int s)
{
    int w = s / 32, b = s % 32;
    num *r = num_new(a->n + w + 1);
    memset(r->d, 0, (size_t)r->n * sizeof(uint32_t));
    for (int i = 0; i < a->n; i++) {
        uint64_t v = (uint64_t)a->d[i] << b;
        r->d[i + w] |= (uint32_t)v;
        r->d[i + w + 1] |= (uint32_t)(v >> 32);
    }
    return trim(r);
}

/* q = a / b, *rem = a % b (b > 0): binary long division, a new value per step */
static num *num_divmod(const num *a, const num *b, num **rem)
{
    num *q = num_u64(0), *r = num_copy(a);
    for (int s = num_bits(a) - num_bits(b); s >= 0; s--) {
        num *bs = num_shl(b, s);
        if (num_cmp(r, bs) >= 0) {
            num *r2 = num_sub(r, bs);
            bench_free(r);
            r = r2;
            num *one = num_u64(1), *bit = num_shl(one, s), *q2 = num_add(q, bit);
            bench_free(one);
            bench_free(bit);
            bench_free(q);
            q = q2;
        }
        bench_free(bs);
    }
    if (rem)
        *rem = r;
    else
        bench_free(r);
    return q;
}

/* floor(sqrt(a)), Newton's iteration from above */
static num *num_isqrt(const num *a)
{
    if (!a->n)
        return num_u64(0);
    num *one = num_u64(1);
    num *x = num_shl(one, (num_bits(a) + 1) / 2 + 1);
    bench_free(one);
    for (;;) {
        num *q = num_divmod(a, x, NULL), *s = num_add(x, q), *two = num_u64(2);
        num *y = num_divmod(s, two, NULL);
        bench_free(q);
        bench_free(s);
        bench_free(two);
        if (num_cmp(y, x) >= 0) {
            bench_free(y);
            return x;
        }
        bench_free(x);
        x = y;
    }
}

static num *num_gcd(const num *a, const num *b)
{
    num *x = num_copy(a), *y = num_copy(b);
    while (y->n) {
        num *r;
        bench_free(num_divmod(x, y, &r));
        bench_free(x);
        x = y;
        y = r;
    }
    bench_free(y);
    return x;
}

static uint64_t num_to_u64(const num *a)
{
    return (a->n > 0 ? a->d[0] : 0) | (a->n > 1 ? (uint64_t)a->d[1] << 32 : 0);
}

static int is_square(const num *a, num **root)
{
    num *r = num_isqrt(a), *sq = num_mul(r, r);
    int yes = num_cmp(sq, a) == 0;
    bench_free(sq);
    if (yes)
        *root = r;
    else
        bench_free(r);
    return yes;
}

/*
 * SQUFOF (Shanks; as in Gower & Wagstaff, "Square form factorization", 2008):
 * expand the continued fraction of sqrt(kN) until a Q at an even step is a
 * square, then run the reverse cycle from its root to a P that repeats; gcd(N, P) is a
 * factor.  Returns a nontrivial factor, or 0 when the multiplier gives none.
 */
static uint64_t squfof(uint64_t n_value, uint64_t k, long max_steps)
{
    num *N = num_u64(n_value), *K = num_u64(k), *kN = num_mul(N, K);
    num *P0 = num_isqrt(kN), *P = num_copy(P0), *Qprev = num_u64(1);
    num *sq = num_mul(P0, P0), *Q = num_sub(kN, sq);
    bench_free(sq);
    uint64_t factor = 0;
    num *root = NULL;
    for (long i = 1; i < max_steps && Q->n; i++) {
        /* b = (P0 + P) / Q; P' = b Q - P; Q' = Qprev + b (P - P') */
        num *s = num_add(P0, P), *b = num_divmod(s, Q, NULL), *bQ = num_mul(b, Q);
        num *Pn = num_sub(bQ, P);
        num *Qn;
        if (num_cmp(P, Pn) >= 0) {
            num *d = num_sub(P, Pn), *bd = num_mul(b, d);
            Qn = num_add(Qprev, bd);
            bench_free(d);
            bench_free(bd);
        } else {
            num *d = num_sub(Pn, P), *bd = num_mul(b, d);
            Qn = num_sub(Qprev, bd);
            bench_free(d);
            bench_free(bd);
        }
        bench_free(s);
        bench_free(b);
        bench_free(bQ);
        bench_free(P);
        bench_free(Qprev);
        P = Pn;
        Qprev = Q;
        Q = Qn;
        if (i % 2 == 1 && is_square(Q, &root)) /* Q of an even index (1-based: after an odd step) */
            break;
    }
    if (root) { /* reverse cycle */
        num *s = num_sub(P0, P), *b = num_divmod(s, root, NULL), *bR = num_mul(b, root);
        num *Pr = num_add(bR, P);
        num *t = num_mul(Pr, Pr), *u = num_sub(kN, t);
        num *Qr = num_divmod(u, root, NULL);
        bench_free(s);
        bench_free(b);
        bench_free(bR);
        bench_free(t);
        bench_free(u);
        num *Qrprev = num_copy(root);
        for (long i = 0; i < max_steps; i++) {
            num *a = num_add(P0, Pr), *bb = num_divmod(a, Qr, NULL), *bq = num_mul(bb, Qr);
            num *Pn = num_sub(bq, Pr);
            bench_free(a);
            bench_free(bq);
            int same = num_cmp(Pn, Pr) == 0;
            num *Qn;
            if (num_cmp(Pr, Pn) >= 0) {
                num *d = num_sub(Pr, Pn), *bd = num_mul(bb, d);
                Qn = num_add(Qrprev, bd);
                bench_free(d);
                bench_free(bd);
            } else {
                num *d = num_sub(Pn, Pr), *bd = num_mul(bb, d);
                Qn = num_sub(Qrprev, bd);
                bench_free(d);
                bench_free(bd);
            }
            bench_free(bb);
            bench_free(Pr);
            bench_free(Qrprev);
            Pr = Pn;
            Qrprev = Qr;
            Qr = Qn;
            if (same)
                break;
        }
        num *g = num_gcd(N, Pr);
        uint64_t f = num_to_u64(g);
        if (f != 1 && f != n_value)
            factor = f;
        bench_free(g);
        bench_free(Pr);
        bench_free(Qr);
        bench_free(Qrprev);
        bench_free(root);
    }
    bench_free(N);
    bench_free(K);
    bench_free(kN);
    bench_free(P0);
    bench_free(P);
    bench_free(Qprev);
    bench_free(Q);
    return factor;
}

static int cfrac(void)
{
    /* semiprimes of two primes near 2^20, 2^24 and 2^28 */
    static const uint64_t p[][2] = {
        {1048573, 1048583}, {16777213, 16777259}, {268435399, 268435459}, {999983, 16777213}};
    static const uint64_t mult[] = {1, 3, 5, 7, 11, 15, 21, 33, 35, 55, 77, 105, 165, 231, 385};
    int bad = 0;
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        uint64_t n = p[i][0] * p[i][1], f = 0;
        for (size_t m = 0; m < sizeof(mult) / sizeof(mult[0]) && !f; m++)
            f = squfof(n, mult[m], 200000);
        printf("cfrac: %llu = %llu * %llu\n", (unsigned long long)n, (unsigned long long)f,
               (unsigned long long)(f ? n / f : 0));
        if (!f || n % f)
            bad = 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "small";
    warm_free(warm_malloc(1)); /* the allocator's start-up: not counted */
    int bad = 0;
    if (!strcmp(what, "small"))
        small();
    else if (!strcmp(what, "cfrac"))
        bad = cfrac();
    else {
        fprintf(stderr, "usage: insn_bench small|cfrac\n");
        return 2;
    }
    printf("calls %ld %ld\n", mallocs, frees);
    return bad;
}

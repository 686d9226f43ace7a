/*
 * scribble.c - the scribble fuzzer (issue 9): random operations on a fresh
 * memory manager, with 1-64 bytes written at random places of the heap
 * between them, as a caller's overflow, underflow or write after free would.
 *
 * The promise it checks is the memory manager's: a caller's scribble may be
 * reported (mm_report lines on the console are expected here, not failures),
 * but never
 *
 *   crash    a signal, a sanitizer report, a glue_panic (abort);
 *   hang     the seed still runs when its watchdog (alarm) fires;
 *   overlap  an allocation returns memory overlapping an object we hold;
 *   damaged  a byte of an object we hold changed, and no scribble of ours
 *            covered it (each object holds a pattern of its id; the bytes
 *            each scribble covered are excluded, object by object);
 *   bad      any other wrong result: outside the heap, misaligned, kcalloc
 *            not zeroed, krealloc losing data; in mode 0 any report at all,
 *            heap_check() != 0 or a false out of memory.
 *
 * Modes: where the scribbles land.
 *
 *   0  nowhere: the control run (the checker must not cry wolf)
 *   1  near block headers: [p - HDR, p + 64) of a block we hold or freed
 *      lately, or the header after its end (where a free neighbour starts)
 *   2  anywhere in the heap's mapped bytes, except slab pages (cache
 *      descriptors are out of the heap: a cache made inside it is a failure)
 *   3  anywhere in the heap's mapped bytes
 *
 * Modes 1 and 2 know slab pages from public facts only: a page holding an
 * object of a kmem_cache or a kmalloc object of <= 512 bytes (Phase 2: the
 * size classes) is a slab page, until a block (> 512 bytes) of ours covers
 * part of it.
 *
 * Phase 2 (-P 2, the default): the harness's fresh memory manager with
 * paging, then heap_init_virtual(); the heap is HEAP_VIRTUAL_START and
 * get_memory_stats().heap_virtual_size bytes.  Phase 1 (-P 1): memory_init()
 * only, the spec's 64 KB at HEAP_START (smaller requests, fewer objects).
 *
 * Each seed runs in a forked child, so a crash or a hang is counted and the
 * run goes on; seeds run in parallel (-j).  The parent never touches the
 * memory manager: simulated physical memory is a shared memfd, made by each
 * child for itself.  Every failure prints one line with its seed, mode,
 * phase and ABI, and the command that repeats it (-v traces every step).
 *
 * Built with -DSCRIBBLE_SELFTEST, -X KIND plants a bug in the fuzzer's view
 * of the heap (overlap, damage, crash, hang; or scribbles whose hits go
 * unrecorded) that the checks must find:
 * tools/scribble-check.sh shows that the checker cannot pass vacuously.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "slab.h"

#define ABI (sizeof(void *) == 4 ? "i386" : "x86_64")

#define RAM        (16u * 1024 * 1024) /* small: each page of the direct map costs an mmap */
#define MAX_OBJ    512 /* slots [0, KM_SLOTS): kmalloc & co.; the rest: cache objects */
#define KM_SLOTS   384
#define MAX_CACHES 4
#define MAX_HITS   4  /* scribbled ranges remembered per object (more: not verified) */
#define DEAD_RING  64 /* recently freed blocks, for mode 1 */
#define SLAB_MAX   512
#define MAX_PAGES  (((uint32_t)HEAP_VIRTUAL_END - HEAP_VIRTUAL_START + 1) / PAGE_SIZE)
#define VERIFY_ALL 256 /* every object verified every so many steps */

/* Exit statuses of a seed's child (anything else is a crash: sanitizers exit 1). */
enum { EXIT_OVERLAP = 10, EXIT_DAMAGED = 11, EXIT_BAD = 12 };
enum { R_PASS, R_CRASH, R_HANG, R_OVERLAP, R_DAMAGED, R_BAD, R_KINDS };
static const char *const result_name[R_KINDS] = {"pass",    "crash",   "hang",
                                                 "overlap", "damaged", "bad result"};

/* ---------------------------------------------------------- options ---- */

static struct {
    int phase, mode, jobs, verbose, all, watchdog, rate;
    uint32_t first, seeds, ops;
    const char *argv0;
    const char *planted; /* SCRIBBLE_SELFTEST: the bug to plant */
} opt = {2, 2, 1, 0, 0, 0, 25, 1, 1, 20000, NULL, NULL};

/* ------------------------------------------- what a child tells its parent ---- */

/* One per job slot, in memory shared with the parent: the last words of a dying child. */
typedef struct {
    uint32_t seed;         /* the seed running */
    uint32_t passed;       /* seeds this child passed */
    uint32_t op;           /* the step running */
    char what[96];         /* the operation running (or last run) */
    uint32_t scribble_op;  /* the last scribble: step, kernel address, length (0: none) */
    uint32_t scribble_at;  /* kernel address */
    uint32_t scribble_len; /* bytes */
    uint32_t scribbles;    /* so far */
    char msg[400];         /* why a check failed */
    uintptr_t fault;       /* the address of a SIGSEGV/SIGBUS (optimised build) */
    int fault_sig;
} last_words_t;

static last_words_t *words;
static uint32_t *next_seed; /* shared: the next seed to run is first + (*next_seed)++ */

/* ------------------------------------------------------------ the run ---- */

typedef struct {
    unsigned char *p; /* NULL: slot empty */
    size_t n;         /* bytes asked for */
    uint32_t id;      /* byte k holds pattern(id, k) */
    int cache;        /* -1: kmalloc & co.; else index into st.caches */
    int nhits;        /* scribbled ranges [hit_lo, hit_hi) (offsets); MAX_HITS + 1: too many */
    uint32_t hit_lo[MAX_HITS], hit_hi[MAX_HITS];
} obj_t;

typedef struct {
    kmem_cache_t *c; /* NULL: slot empty */
    size_t size, align;
    int live;
    unsigned char *desc; /* the descriptor's bytes, as kmalloc_usable_size says */
    size_t desc_len;
    char name[16];
} cache_t;

static struct {
    uint64_t rng;
    uint32_t seed, op, next_id;
    unsigned char *base; /* the heap region's first byte (host address) */
    uint32_t kbase;      /* ... and its kernel address */
    size_t limit;        /* the most it can span */
    obj_t obj[MAX_OBJ];
    cache_t caches[MAX_CACHES];
    struct {
        unsigned char *p;
        size_t n;
    } dead[DEAD_RING];
    unsigned ndead;
    uint8_t slab_page[MAX_PAGES / 8]; /* pages we know to be slabs (modes 1, 2 avoid them) */
    uint32_t errors_before;
    uint32_t expected_reports; /* misuse of ours (mode 0): a busy cache's destroy */
    uint32_t scribbles, hits, allocs, verified;
} st;

static uint32_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (st.rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static uint32_t below(uint32_t n)
{
    return n ? rnd() % n : 0;
}

static unsigned char pattern(uint32_t id, size_t k)
{
    uint32_t x = (id * 0x9E3779B1u) ^ ((uint32_t)k * 0x85EBCA77u);
    return (unsigned char)(x >> 24 ^ x >> 13 ^ 0x5c);
}

/* A heap address as the kernel sees it (the host address when outside the region). */
static unsigned long kaddr(const void *p)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)st.base;
    if (a >= b && a - b < st.limit)
        return st.kbase + (unsigned long)(a - b);
    return (unsigned long)a;
}

static void say_what(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_what(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(words->what, sizeof(words->what), fmt, ap);
    va_end(ap);
    if (opt.verbose)
        fprintf(stderr, "op %u: %s\n", st.op, words->what);
}

/* -v: what an allocation returned. */
static void say_result(const void *p)
{
    if (opt.verbose)
        fprintf(stderr, "        = 0x%08lx\n", p ? kaddr(p) : 0ul);
}

static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(words->msg, sizeof(words->msg), fmt, ap);
    va_end(ap);
    if (opt.verbose)
        fprintf(stderr, "FAILED: %s\nthe console's end:\n%s\n", words->msg,
                host_console_text() +
                    (strlen(host_console_text()) > 2000 ? strlen(host_console_text()) - 2000 : 0));
    _exit(status);
}

static int mode0(void)
{
    return opt.mode == 0;
}

/* ----------------------------------------------------- slab pages ---- */

static uint32_t page_index(uintptr_t a)
{
    return (uint32_t)((a - (uintptr_t)st.base) / PAGE_SIZE);
}

static int in_region(uintptr_t a)
{
    return a >= (uintptr_t)st.base && a - (uintptr_t)st.base < st.limit;
}

static void mark_pages(const void *p, size_t n, int slab)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + (n ? n : 1);
    if (!in_region(lo) || !in_region(hi - 1))
        return;
    for (uint32_t i = page_index(lo); i <= page_index(hi - 1); i++) {
        if (slab)
            st.slab_page[i / 8] |= (uint8_t)(1u << (i % 8));
        else
            st.slab_page[i / 8] &= (uint8_t) ~(1u << (i % 8));
    }
}

static int is_slab_page(uintptr_t a)
{
    uint32_t i = page_index(a);
    return in_region(a) && (st.slab_page[i / 8] >> (i % 8) & 1);
}

/* Does [lo, hi) touch a slab page we know of or a live cache descriptor? */
static int excluded(uintptr_t lo, uintptr_t hi)
{
    for (uintptr_t a = lo & ~(uintptr_t)(PAGE_SIZE - 1); a < hi; a += PAGE_SIZE) {
        if (is_slab_page(a))
            return 1;
    }
    for (int i = 0; i < MAX_CACHES; i++) {
        cache_t *c = &st.caches[i];
        uintptr_t d = (uintptr_t)c->desc;
        if (c->c && lo < d + c->desc_len && d < hi)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------- the shadow ---- */

static void fill(obj_t *o)
{
    for (size_t k = 0; k < o->n; k++)
        o->p[k] = pattern(o->id, k);
}

static int was_hit(const obj_t *o, size_t k)
{
    if (o->nhits > MAX_HITS)
        return 1;
    for (int h = 0; h < o->nhits; h++) {
        if (k >= o->hit_lo[h] && k < o->hit_hi[h])
            return 1;
    }
    return 0;
}

/* The first of the first `len` bytes that changed though no scribble covered it, or len. */
static size_t first_damage(const obj_t *o, const unsigned char *at, size_t len)
{
    if (o->nhits > MAX_HITS)
        return len;
    for (size_t k = 0; k < len; k++) {
        if (at[k] != pattern(o->id, k) && !was_hit(o, k))
            return k;
    }
    return len;
}

static void verify(int i, const char *when)
{
    obj_t *o = &st.obj[i];
    if (!o->p)
        return;
    st.verified++;
    size_t k = first_damage(o, o->p, o->n);
    if (k != o->n)
        die(EXIT_DAMAGED,
            "%s: object #%u at 0x%08lx (%zu bytes%s) changed at byte %zu: 0x%02x, not 0x%02x "
            "(%d scribbled ranges in it)",
            when, o->id, kaddr(o->p), o->n, o->cache >= 0 ? ", cache object" : "", k, o->p[k],
            pattern(o->id, k), o->nhits);
}

static void verify_all(const char *when)
{
    for (int i = 0; i < MAX_OBJ; i++)
        verify(i, when);
}

/* Memory just handed out: inside the heap, aligned, and clear of every object we hold. */
static void check_new(const unsigned char *p, size_t n, size_t align, int self, const char *fn)
{
    uintptr_t a = (uintptr_t)p;
    if (!in_region(a) || !in_region(a + n - 1))
        die(EXIT_BAD, "%s gave %p (%zu bytes): not inside the heap [0x%08lx, +%zu)", fn, (void *)p,
            n, (unsigned long)st.kbase, st.limit);
    if (opt.phase == 2 &&
        (!vmm_get_physical((vaddr_t)kaddr(p)) || !vmm_get_physical((vaddr_t)kaddr(p + n - 1))))
        die(EXIT_BAD, "%s gave 0x%08lx (%zu bytes): not all of it is mapped", fn, kaddr(p), n);
    if (a % align)
        die(EXIT_BAD, "%s gave 0x%08lx: not aligned to %zu", fn, kaddr(p), align);
    for (int j = 0; j < MAX_OBJ; j++) {
        obj_t *o = &st.obj[j];
        if (j == self || !o->p || !(a < (uintptr_t)o->p + o->n && (uintptr_t)o->p < a + n))
            continue;
        die(EXIT_OVERLAP,
            "%s gave 0x%08lx (%zu bytes), overlapping the live object #%u at 0x%08lx (%zu "
            "bytes%s%s)",
            fn, kaddr(p), n, o->id, kaddr(o->p), o->n, o->cache >= 0 ? ", cache object" : "",
            o->nhits ? ", scribbled on" : "");
    }
}

static void store(int i, unsigned char *p, size_t n, int cache)
{
    obj_t *o = &st.obj[i];
    *o = (obj_t){.p = p, .n = n, .id = ++st.next_id, .cache = cache};
    fill(o);
    st.allocs++;
}

static void bury(unsigned char *p, size_t n)
{
    st.dead[st.ndead++ % DEAD_RING].p = p;
    st.dead[(st.ndead - 1) % DEAD_RING].n = n;
}

/* A kmalloc & co. result: slab pages noted (Phase 2: <= 512 bytes are size-class objects). */
static void note_kmalloc(unsigned char *p, size_t n)
{
    if (opt.phase == 2 && n <= SLAB_MAX)
        mark_pages(p, n, 1);
    else if (n > SLAB_MAX)
        mark_pages(p - HDR, n + HDR, 0); /* a block: no slab there any more */
}

/* Clean runs (mode 0): a legal call reports nothing. */
static void expect_clean(const char *what)
{
    if (!mode0())
        return;
    memory_stats_t s;
    get_memory_stats(&s);
    if (s.error_count != st.errors_before)
        die(EXIT_BAD, "mode 0: %s reported: %s", what, mm_last_error());
}

/* ------------------------------------------------ planted bugs (selftest) ---- */

#ifdef SCRIBBLE_SELFTEST
static int planted(const char *kind)
{
    return opt.planted && strcmp(opt.planted, kind) == 0;
}

/* overlap: a heap that sometimes hands out a live object. */
static void *planted_kmalloc(size_t n)
{
    if (planted("overlap") && st.op > 2000 && below(50) == 0) {
        for (int i = 0; i < KM_SLOTS; i++) {
            if (st.obj[i].p && st.obj[i].n >= n)
                return st.obj[i].p;
        }
    }
    return kmalloc(n);
}
#undef kmalloc
#define kmalloc(n) planted_kmalloc(n)

/* damage, crash, hang: a heap that writes into a live object, dies, or loops. */
static void planted_step(void)
{
    if (planted("crash") && st.op == 3000)
        *(volatile int *)(uintptr_t)16 = 1;
    if (planted("hang") && st.op == 3000)
        for (volatile int spin = 1; spin;)
            ;
    if (planted("damage") && st.op > 2000 && below(300) == 0) {
        int i = (int)below(MAX_OBJ);
        if (st.obj[i].p && st.obj[i].n && !st.obj[i].nhits)
            st.obj[i].p[below((uint32_t)st.obj[i].n)] ^= 0x10;
    }
}
#else
static void planted_step(void) {}
#endif

/* --------------------------------------------------------- scribbles ---- */

/* The heap's mapped bytes now: [base, base + size). */
static size_t heap_mapped(void)
{
    if (opt.phase == 1)
        return INITIAL_HEAP_SIZE;
    say_what("get_memory_stats() (a scribble's bounds)");
    memory_stats_t s;
    get_memory_stats(&s);
    return s.heap_virtual_size;
}

/* A value a forged header field or link might hold. */
static uintptr_t forged_word(size_t size)
{
    switch (below(8)) {
    case 0:
        return (uintptr_t)(intptr_t)((int)below(129) - 64) * 8; /* small, negative too */
    case 1:
        return (uintptr_t)(intptr_t) - (intptr_t)below(4 * HDR);
    case 2: {
        obj_t *o = &st.obj[below(MAX_OBJ)];
        return o->p ? (uintptr_t)o->p - HDR * below(2) : 0; /* a live object or its header */
    }
    case 3: {
        unsigned char *d = st.dead[below(DEAD_RING)].p;
        return d ? (uintptr_t)d - HDR : 0; /* a stale header */
    }
    case 4:
        return (uintptr_t)st.base + below((uint32_t)size);
    case 5:
        return (uintptr_t)st.base + size + below(2 * PAGE_SIZE); /* just past the end */
    case 6:
        return HEAP_MAGIC_FREE ^ (below(2) ? 0 : HEAP_MAGIC_ALLOC ^ HEAP_MAGIC_FREE);
    default:
        return ((uintptr_t)rnd() << 16) ^ rnd();
    }
}

static void write_bytes(unsigned char *at, size_t len, size_t size)
{
    switch (below(6)) {
    case 0: /* one byte, repeated */
    case 1: {
        unsigned char b = below(3) == 0 ? 0 : below(2) ? 0xff : (unsigned char)rnd();
        for (size_t k = 0; k < len; k++)
            at[k] = b;
        break;
    }
    case 2: /* words: values a header or link might hold */
    case 3:
        for (size_t k = 0; k < len; k += sizeof(uintptr_t)) {
            uintptr_t w = forged_word(size);
            memcpy(at + k, &w, len - k < sizeof(w) ? len - k : sizeof(w));
        }
        break;
    default:
        for (size_t k = 0; k < len; k++)
            at[k] = (unsigned char)rnd();
    }
}

/* Where mode 1 writes: around a block's header, ours or a freed one's, or the next one. */
static int near_header(uintptr_t *lo, size_t *len)
{
    unsigned char *p;
    size_t n;
    uint32_t r = below(MAX_OBJ + DEAD_RING);
    if (r < KM_SLOTS) {
        p = st.obj[r].p, n = st.obj[r].n;
    } else if (r >= MAX_OBJ) {
        p = st.dead[r - MAX_OBJ].p, n = st.dead[r - MAX_OBJ].n;
    } else {
        return 0; /* cache objects have no header */
    }
    if (!p || is_slab_page((uintptr_t)p))
        return 0;
    uintptr_t at = below(3) ? (uintptr_t)p - HDR : (uintptr_t)p + BLOCK_SIZE(n);
    *lo = at + below(HDR + 64);
    if (below(4) == 0)
        *lo &= ~(uintptr_t)(sizeof(void *) - 1); /* a whole field */
    *len = 1 + below(64);
    return 1;
}

static void scribble(void)
{
    size_t size = heap_mapped();
    uintptr_t base = (uintptr_t)st.base, lo = 0;
    size_t len = 0;
    int found = 0;
    for (int tries = 0; tries < 64 && !found; tries++) {
        if (opt.mode == 1) {
            if (!near_header(&lo, &len))
                continue;
        } else {
            lo = base + below((uint32_t)size);
            len = 1 + below(64);
            if (below(4) == 0)
                lo &= ~(uintptr_t)(sizeof(void *) - 1);
        }
        if (lo < base || lo >= base + size)
            continue;
        if (len > base + size - lo)
            len = base + size - lo;
        found = opt.mode == 3 || !excluded(lo, lo + len);
    }
    if (!found)
        return;
    say_what("scribble %zu bytes at 0x%08lx", len, kaddr((void *)lo));
    write_bytes((unsigned char *)lo, len, size);
    st.scribbles++;
    words->scribble_op = st.op;
    words->scribble_at = (uint32_t)kaddr((void *)lo);
    words->scribble_len = (uint32_t)len;
    words->scribbles = st.scribbles;
#ifdef SCRIBBLE_SELFTEST
    if (planted("unrecorded"))
        return; /* a checker that forgets what it scribbled on must see damage */
#endif
    /* the objects it covered: those bytes are no longer ours to check */
    for (int i = 0; i < MAX_OBJ; i++) {
        obj_t *o = &st.obj[i];
        uintptr_t p = (uintptr_t)o->p;
        if (!o->p || lo >= p + o->n || p >= lo + len)
            continue;
        st.hits++;
        if (o->nhits < MAX_HITS) {
            o->hit_lo[o->nhits] = (uint32_t)(lo > p ? lo - p : 0);
            o->hit_hi[o->nhits] = (uint32_t)(lo + len - p < o->n ? lo + len - p : o->n);
        }
        if (o->nhits <= MAX_HITS)
            o->nhits++;
    }
}

/* ------------------------------------------------------- operations ---- */

/* A request size: 1 byte to tens of KB (Phase 1: the 64 KB heap's share). */
static size_t request(void)
{
    uint32_t r = below(100);
    if (opt.phase == 1)
        return r < 60 ? 1 + below(256) : r < 95 ? 257 + below(1800) : 2049 + below(6000);
    if (r < 45)
        return 1 + below(SLAB_MAX);
    if (r < 75)
        return SLAB_MAX + 1 + below(4096 - SLAB_MAX);
    if (r < 95)
        return 4097 + below(12288);
    return 16385 + below(49152);
}

static void allocated_null(size_t n, const char *fn)
{
    if (!mode0() || opt.phase != 1 || strcmp(fn, "kmalloc_aligned") == 0)
        return;
    memory_stats_t s;
    get_memory_stats(&s);
    if (s.largest_free_block >= BLOCK_SIZE(n))
        die(EXIT_BAD, "mode 0: %s(%zu) = NULL though largest_free_block is %u", fn, n,
            s.largest_free_block);
}

/* Slot i is empty: kmalloc, kcalloc, kmalloc_aligned or krealloc(NULL, n) into it. */
static void op_allocate(int i)
{
    uint32_t r = below(20);
    size_t n = request(), align = HEAP_BLOCK_ALIGN;
    unsigned char *p;
    const char *fn;
    if (r < 3) {
        size_t c = 1 + below(16), sz = (n + c - 1) / c;
        n = c * sz;
        fn = "kcalloc";
        say_what("kcalloc(%zu, %zu)", c, sz);
        p = kcalloc(c, sz);
        for (size_t k = 0; p && k < n; k++) {
            if (p[k])
                die(EXIT_BAD, "kcalloc(%zu, %zu) = 0x%08lx: byte %zu is 0x%02x", c, sz, kaddr(p), k,
                    p[k]);
        }
    } else if (r < 6) {
        align = (size_t)1 << (3 + below(opt.phase == 1 ? 8 : 10));
        fn = "kmalloc_aligned";
        say_what("kmalloc_aligned(%zu, %zu)", n, align);
        p = kmalloc_aligned(n, align);
    } else if (r < 8) {
        fn = "krealloc";
        say_what("krealloc(NULL, %zu)", n);
        p = krealloc(NULL, n);
    } else {
        fn = "kmalloc";
        say_what("kmalloc(%zu)", n);
        p = kmalloc(n);
    }
    say_result(p);
    if (!p) {
        allocated_null(n, fn);
        expect_clean(fn);
        return;
    }
    check_new(p, n, align, -1, fn);
    note_kmalloc(p, n);
    store(i, p, n, -1);
    expect_clean(fn);
}

/* Slot i holds a block: kfree, krealloc (0 too) or kmalloc_usable_size. */
static void op_release_or_resize(int i)
{
    obj_t *o = &st.obj[i];
    uint32_t r = below(20);
    verify(i, "before kfree/krealloc");
    if (r < 9 || r == 19) {
        say_what("%s(0x%08lx) (object #%u, %zu bytes)", r < 9 ? "kfree" : "krealloc 0", kaddr(o->p),
                 o->id, o->n);
        if (r < 9)
            kfree(o->p);
        else if (krealloc(o->p, 0) && mode0())
            die(EXIT_BAD, "krealloc(0x%08lx, 0) did not return NULL", kaddr(o->p));
        bury(o->p, o->n);
        o->p = NULL;
        expect_clean("kfree");
    } else if (r < 16) {
        size_t m = below(3) ? request() : 1 + below((uint32_t)o->n * 2);
        say_what("krealloc(0x%08lx, %zu) (object #%u, %zu bytes)", kaddr(o->p), m, o->id, o->n);
        unsigned char *q = krealloc(o->p, m);
        say_result(q);
        if (!q) {
            allocated_null(m, "krealloc");
            verify(i, "after a failed krealloc");
            expect_clean("krealloc");
            return;
        }
        check_new(q, m, HEAP_BLOCK_ALIGN, i, "krealloc");
        size_t keep = m < o->n ? m : o->n;
        size_t k = first_damage(o, q, keep);
        if (k != keep)
            die(EXIT_DAMAGED,
                "krealloc(0x%08lx, %zu) = 0x%08lx: object #%u lost byte %zu of %zu kept: 0x%02x, "
                "not 0x%02x",
                kaddr(o->p), m, kaddr(q), o->id, k, keep, q[k], pattern(o->id, k));
        if (q != o->p)
            bury(o->p, o->n);
        note_kmalloc(q, m);
        store(i, q, m, -1);
        expect_clean("krealloc");
    } else {
        say_what("kmalloc_usable_size(0x%08lx) (object #%u, %zu bytes)", kaddr(o->p), o->id, o->n);
        size_t u = kmalloc_usable_size(o->p);
        if (mode0() && u < o->n)
            die(EXIT_BAD, "kmalloc_usable_size(0x%08lx) = %zu, less than the %zu asked",
                kaddr(o->p), u, o->n);
        expect_clean("kmalloc_usable_size");
    }
}

static void ctor(void *obj)
{
    memset(obj, 0xc7, 8); /* objects are at least 8 bytes apart: stride >= 8 */
}

static void cache_create(cache_t *c, int index)
{
    size_t size = below(4) ? 1 + below(256) : 1 + below(KMEM_CACHE_MAX_OBJECT);
    size_t align = below(3) ? 0 : (size_t)1 << (3 + below(6));
    int with_ctor = below(2);
    snprintf(c->name, sizeof(c->name), "scribble-%d", index);
    say_what("kmem_cache_create('%s', %zu, %zu, %s)", c->name, size, align,
             with_ctor ? "ctor" : "NULL");
    kmem_cache_t *k = kmem_cache_create(c->name, size, align, with_ctor ? ctor : NULL);
    expect_clean("kmem_cache_create");
    if (!k)
        return;
    /*
     * A cache descriptor lives out of band (mm/slab.c), where no scribble of
     * any mode can reach: one inside the heap is a bad result.
     */
    if (in_region((uintptr_t)k))
        die(EXIT_BAD, "kmem_cache_create gave %p: a cache descriptor inside the heap", (void *)k);
    c->c = k;
    c->size = size;
    c->align = align ? align : HEAP_BLOCK_ALIGN;
    c->live = 0;
    c->desc = (unsigned char *)k;
    c->desc_len = 0;
}

static void cache_free(int i)
{
    obj_t *o = &st.obj[i];
    cache_t *c = &st.caches[o->cache];
    verify(i, "before kmem_cache_free");
    say_what("kmem_cache_free('%s', 0x%08lx) (object #%u)", c->name, kaddr(o->p), o->id);
    kmem_cache_free(c->c, o->p);
    o->p = NULL;
    c->live--;
    expect_clean("kmem_cache_free");
}

static void cache_destroy(int ci)
{
    cache_t *c = &st.caches[ci];
    if (c->live && below(4) == 0) {
        say_what("kmem_cache_destroy('%s') with %d live objects", c->name, c->live);
        int rc = kmem_cache_destroy(c->c);
        if (mode0() && rc != -1)
            die(EXIT_BAD, "kmem_cache_destroy of a cache in use returned %d", rc);
        if (rc == 0) /* destroyed (a scribble made it look empty?): its objects are gone */
            die(EXIT_BAD, "kmem_cache_destroy('%s') with %d live objects returned 0", c->name,
                c->live);
        st.errors_before++; /* the one report that refusal makes */
        st.expected_reports++;
        expect_clean("kmem_cache_destroy (in use)");
        return;
    }
    for (int i = KM_SLOTS; i < MAX_OBJ; i++) {
        if (st.obj[i].p && st.obj[i].cache == ci)
            cache_free(i);
    }
    say_what("kmem_cache_destroy('%s')", c->name);
    int rc = kmem_cache_destroy(c->c);
    if (mode0() && rc != 0)
        die(EXIT_BAD, "kmem_cache_destroy of an empty cache returned %d", rc);
    c->c = NULL;
    expect_clean("kmem_cache_destroy");
}

/* A cache operation on cache-object slot i. */
static void op_cache(int i)
{
    obj_t *o = &st.obj[i];
    if (o->p) {
        cache_free(i);
        return;
    }
    int ci = (int)below(MAX_CACHES);
    cache_t *c = &st.caches[ci];
    if (!c->c) {
        cache_create(c, ci);
        return;
    }
    if (below(100) < 2) {
        cache_destroy(ci);
        return;
    }
    say_what("kmem_cache_alloc('%s') (%zu bytes)", c->name, c->size);
    unsigned char *p = kmem_cache_alloc(c->c);
    say_result(p);
    if (p) {
        check_new(p, c->size, c->align, -1, "kmem_cache_alloc");
        mark_pages(p, c->size, 1);
        store(i, p, c->size, ci);
        c->live++;
    }
    expect_clean("kmem_cache_alloc");
}

static void op_other(uint32_t k)
{
    if (k < 40) {
        say_what("heap_check()");
        int broken = heap_check();
        if (mode0() && broken)
            die(EXIT_BAD, "mode 0: heap_check() = %d", broken);
    } else if (k < 80) {
        say_what("get_memory_stats()");
        memory_stats_t s;
        get_memory_stats(&s);
    } else if (k < 90) {
        say_what("kmem_cache_reap()");
        kmem_cache_reap();
    } else if (k < 97) {
        say_what("heap_trim()");
        heap_trim();
    } else {
        say_what("heap_dump()");
        heap_dump();
        host_console_clear();
    }
    expect_clean(words->what);
}

static void step(void)
{
    memory_stats_t s;
    if (mode0()) {
        get_memory_stats(&s);
        st.errors_before = s.error_count;
    }
    uint32_t k = below(1000);
    if (!mode0() && k < (uint32_t)opt.rate) {
        scribble();
        return;
    }
    k = below(1000);
    if (k < 600) {
        int i = (int)below(KM_SLOTS);
        if (st.obj[i].p)
            op_release_or_resize(i);
        else
            op_allocate(i);
    } else if (k < 850) {
        op_cache(KM_SLOTS + (int)below(MAX_OBJ - KM_SLOTS));
    } else {
        op_other(below(100));
    }
}

/* The end: everything verified and given back. */
static void wind_down(void)
{
    verify_all("at the end");
    say_what("the end: freeing everything");
    for (int i = 0; i < KM_SLOTS; i++) {
        if (st.obj[i].p) {
            kfree(st.obj[i].p);
            st.obj[i].p = NULL;
        }
    }
    for (int ci = 0; ci < MAX_CACHES; ci++) {
        if (st.caches[ci].c) {
            st.caches[ci].live = 0; /* so cache_destroy frees them all first */
            cache_destroy(ci);
        }
    }
    say_what("the end: heap_check()");
    int broken = heap_check();
    if (mode0()) {
        if (broken)
            die(EXIT_BAD, "mode 0: heap_check() = %d after freeing everything", broken);
        memory_stats_t s;
        get_memory_stats(&s);
        if (s.error_count != st.expected_reports)
            die(EXIT_BAD, "mode 0: %u reports in the run, %u expected; the last: %s", s.error_count,
                st.expected_reports, mm_last_error());
    }
}

static void run_seed(uint32_t seed)
{
    static int used;
    /* simulated RAM back to zeros, as in a fresh process: the seed alone repeats it */
    if (used++ && madvise(host_phys_base(), HOST_PHYS_SIZE, MADV_REMOVE) != 0) {
        perror("scribble: madvise(MADV_REMOVE) of simulated RAM");
        _exit(2);
    }
    memset(&st, 0, sizeof(st));
    st.seed = seed;
    st.rng = (uint64_t)seed << 8 ^ (uint64_t)opt.mode << 4 ^ (uint64_t)opt.phase;
    if (opt.phase == 2) {
        fresh_paging_ram(RAM);
        heap_init_virtual();
        st.base = host_virt_ptr(HEAP_VIRTUAL_START);
        st.kbase = HEAP_VIRTUAL_START;
        st.limit = (size_t)MAX_PAGES * PAGE_SIZE;
    } else {
        memory_init();
        st.base = (unsigned char *)host_phys_base() + HEAP_START;
        st.kbase = HEAP_START;
        st.limit = INITIAL_HEAP_SIZE;
    }
    host_console_clear();
    for (st.op = 0; st.op < opt.ops; st.op++) {
        words->op = st.op;
        planted_step();
        step();
        if (st.op % VERIFY_ALL == VERIFY_ALL - 1)
            verify_all("periodic check");
        if (st.op % 1024 == 1023 && !mode0())
            host_console_clear(); /* the reports are expected: keep the buffer small */
    }
    words->op = opt.ops;
    wind_down();
    say_what("the end: memory_init()"); /* the next seed of this child starts clean */
    memory_init();
    if (opt.verbose) {
        memory_stats_t s;
        get_memory_stats(&s);
        fprintf(stderr,
                "seed %u: %u ops, %u allocations, %u objects verified, %u scribbles, %u hits on "
                "objects, %u reports, heap %u KB at its peak\n",
                seed, opt.ops, st.allocs, st.verified, st.scribbles, st.hits, s.error_count,
                s.heap_virtual_peak / 1024);
    }
}

/* ------------------------------------------------------------ the parent ---- */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCRIBBLE_ASAN 1 /* ASan's own SIGSEGV handler reports a fault */
#endif
#endif

#ifndef SCRIBBLE_ASAN
/* Without ASan: note where a fault was, then die of it as before. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    words->fault = (uintptr_t)si->si_addr;
    words->fault_sig = sig;
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

/*
 * A child runs seeds until none is left (exit 0) or one fails (it exits with the
 * failure: the parent counts it and starts another child for the rest).  Seeds in
 * one process save its setup; each starts from zeroed RAM and a fresh manager.
 */
static void child(int log_fd)
{
    if (log_fd >= 0) {
        dup2(log_fd, 2);
        close(log_fd);
    }
#ifndef SCRIBBLE_ASAN
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
#endif
    signal(SIGALRM, SIG_DFL);
    for (;;) {
        uint32_t i = __atomic_fetch_add(next_seed, 1, __ATOMIC_SEQ_CST);
        if (i >= opt.seeds)
            _exit(0);
        uint32_t passed = words->passed;
        memset(words, 0, sizeof(*words));
        words->seed = opt.first + i;
        words->passed = passed;
        alarm((unsigned)opt.watchdog);
        run_seed(words->seed);
        alarm(0);
        words->passed++;
        if (opt.all) {
            printf("ok scribble: mode %d, %s, phase %d, seed %u\n", opt.mode, ABI, opt.phase,
                   words->seed);
            fflush(stdout);
        }
    }
}

typedef struct {
    pid_t pid;
    char log[64];
} job_t;

/* The first line of a child's stderr that says why it died (sanitizer, panic). */
static void why_died(const char *log, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, "SUMMARY:") || strstr(line, "runtime error") || strstr(line, "PANIC:") ||
            (strstr(line, "ERROR: AddressSanitizer") && !out[0])) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, len, "%s", line);
            if (!strstr(line, "ERROR: AddressSanitizer"))
                break;
        }
    }
    fclose(f);
}

static int classify(int status, const last_words_t *w, const char *log, char *why, size_t len)
{
    char died[400];
    if (WIFEXITED(status)) {
        switch (WEXITSTATUS(status)) {
        case 0:
            return R_PASS;
        case EXIT_OVERLAP:
            snprintf(why, len, "%s", w->msg);
            return R_OVERLAP;
        case EXIT_DAMAGED:
            snprintf(why, len, "%s", w->msg);
            return R_DAMAGED;
        case EXIT_BAD:
            snprintf(why, len, "%s", w->msg);
            return R_BAD;
        }
        why_died(log, died, sizeof(died));
        snprintf(why, len, "exit status %d in %s%s%s", WEXITSTATUS(status), w->what,
                 died[0] ? ": " : "", died);
        return R_CRASH;
    }
    int sig = WTERMSIG(status);
    if (sig == SIGALRM) {
        snprintf(why, len, "still running after %d s, in %s", opt.watchdog, w->what);
        return R_HANG;
    }
    why_died(log, died, sizeof(died));
    if (w->fault_sig)
        snprintf(why, len, "signal %d (%s) at address %p in %s", sig, strsignal(sig),
                 (void *)w->fault, w->what);
    else
        snprintf(why, len, "signal %d (%s) in %s%s%s", sig, strsignal(sig), w->what,
                 died[0] ? ": " : "", died);
    return R_CRASH;
}

static void report(int result, const last_words_t *w, const char *why)
{
    printf("FAIL scribble: mode %d, %s, phase %d, seed %u: %s at op %u: %s\n", opt.mode, ABI,
           opt.phase, w->seed, result_name[result], w->op, why);
    if (w->scribble_len)
        printf("  the last scribble: op %u, %u bytes at 0x%08x (%u scribbles in all)\n",
               w->scribble_op, w->scribble_len, w->scribble_at, w->scribbles);
    printf("  repeat: %s -P %d -m %d -s %u -o %u -v\n", opt.argv0, opt.phase, opt.mode, w->seed,
           opt.ops);
    fflush(stdout);
}

static int run_all(void)
{
    int jobs = opt.jobs < 1 ? 1 : opt.jobs > 64 ? 64 : opt.jobs;
    size_t bytes = sizeof(last_words_t) * (size_t)(jobs + 1);
    void *shared = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("scribble: mmap");
        return 2;
    }
    last_words_t *all_words = (last_words_t *)shared + 1;
    next_seed = shared;
    job_t job[64];
    memset(job, 0, sizeof(job));
    uint32_t count[R_KINDS] = {0};
    int running = 0;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    time_t start = time(NULL);
    for (;;) {
        while (running < jobs && __atomic_load_n(next_seed, __ATOMIC_SEQ_CST) < opt.seeds) {
            int s = 0;
            while (job[s].pid)
                s++;
            memset(&all_words[s], 0, sizeof(all_words[s]));
            int log_fd = -1;
            job[s].log[0] = '\0';
            if (!opt.verbose) {
                snprintf(job[s].log, sizeof(job[s].log), "%s/scribble-%d-%d.log", tmp,
                         (int)getpid(), s);
                log_fd = open(job[s].log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            }
            fflush(stdout);
            pid_t pid = fork();
            if (pid < 0) {
                perror("scribble: fork");
                return 2;
            }
            if (pid == 0) {
                words = &all_words[s];
                child(log_fd);
            }
            if (log_fd >= 0)
                close(log_fd);
            job[s].pid = pid;
            running++;
        }
        if (!running)
            break;
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            perror("scribble: wait");
            return 2;
        }
        int s = 0;
        while (s < jobs && job[s].pid != pid)
            s++;
        if (s == jobs)
            continue;
        char why[1024];
        last_words_t *w = &all_words[s];
        count[R_PASS] += w->passed;
        int result = classify(status, w, job[s].log, why, sizeof(why));
        if (result != R_PASS) {
            count[result]++;
            report(result, w, why);
        }
        if (job[s].log[0])
            unlink(job[s].log);
        job[s].pid = 0;
        running--;
    }
    printf("scribble: mode %d, %s (phase %d): %u seeds x %u ops: %u crashes, %u hangs, %u "
           "overlaps, %u damaged, %u bad results (%lds)\n",
           opt.mode, ABI, opt.phase, opt.seeds, opt.ops, count[R_CRASH], count[R_HANG],
           count[R_OVERLAP], count[R_DAMAGED], count[R_BAD], (long)(time(NULL) - start));
    return count[R_PASS] == opt.seeds ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [-P PHASE] [-m MODE] [-s SEED] [-n SEEDS] [-o OPS] [-j JOBS] [-w SECONDS]\n"
            "          [-r RATE] [-a] [-v]%s\n"
            "  -P 1|2     Phase 1 (the 64 KB early heap) or 2 (the virtual heap; default)\n"
            "  -m 0..3    scribbles: 0 none, 1 near block headers, 2 anywhere but slab pages\n"
            "             and cache descriptors (default), 3 anywhere in the heap\n"
            "  -s, -n     seeds SEED .. SEED + SEEDS - 1 (default 1, 1), in forked children\n"
            "  -o OPS     operations per seed (default 20000)\n"
            "  -j JOBS    children at a time (default 1)\n"
            "  -w SECONDS watchdog per seed (default: 30 + OPS / 100)\n"
            "  -r RATE    scribbles per 1000 steps (default 25)\n"
            "  -a         a line for every seed, passed or not\n"
            "  -v         trace every step and the failure on stderr (one seed at a time)\n"
#ifdef SCRIBBLE_SELFTEST
            "  -X KIND    plant a bug: overlap, damage, crash, hang, unrecorded (scribbles)\n"
#endif
            ,
            opt.argv0,
#ifdef SCRIBBLE_SELFTEST
            " [-X KIND]"
#else
            ""
#endif
    );
    exit(2);
}

int main(int argc, char **argv)
{
    opt.argv0 = argv[0];
    int c;
    while ((c = getopt(argc, argv, "P:m:s:n:o:j:w:r:avX:")) != -1) {
        switch (c) {
        case 'P':
            opt.phase = atoi(optarg);
            break;
        case 'm':
            opt.mode = atoi(optarg);
            break;
        case 's':
            opt.first = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'n':
            opt.seeds = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'o':
            opt.ops = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'j':
            opt.jobs = atoi(optarg);
            break;
        case 'w':
            opt.watchdog = atoi(optarg);
            break;
        case 'r':
            opt.rate = atoi(optarg);
            break;
        case 'a':
            opt.all = 1;
            break;
        case 'v':
            opt.verbose = 1;
            break;
#ifdef SCRIBBLE_SELFTEST
        case 'X':
            opt.planted = optarg;
            break;
#endif
        default:
            usage();
        }
    }
    if (optind != argc || opt.phase < 1 || opt.phase > 2 || opt.mode < 0 || opt.mode > 3 ||
        opt.rate < 0 || opt.rate > 1000)
        usage();
    if (!opt.watchdog)
        opt.watchdog = 30 + (int)(opt.ops / 100);
    if (opt.verbose)
        opt.jobs = 1;
    return run_all();
}

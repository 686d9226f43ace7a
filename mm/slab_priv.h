/*
 * slab_priv.h - what slab_core.c (the slabs: descriptors, lists, objects),
 * slab.c (new slabs, nodes, the size classes) and kmem_cache.c (the public kmem_cache_* functions,
 * the slab check) share, and magazine.h for its inline fast path (so kmalloc.c, magazine.c and
 * heap_stats.c see it through magazine.h); no other mm/ file includes it (two host tests do).
 * Theory of operation: slab.c.
 *
 * Every function here expects mm_lock held.
 */
#ifndef MM_SLAB_PRIV_H
#define MM_SLAB_PRIV_H

#include "names_priv.h" /* -DMM_PREFIX: mm/'s shared names too */

#include "glue.h"
#include "heap_internal.h"
#include "lock.h"
#include "memory.h"
#include "pmm.h"
#include "slab.h"
#include "vmm.h"

#define HDR HEAP_HEADER_SIZE

#define CACHE_MAGIC     0xCAC4E0DDu /* xor the cache's address */
#define SLAB_MAP_WORDS  8           /* at most 256 objects a slab */
#define SLAB_MAX_OBJS   (SLAB_MAP_WORDS * 32)
#define SLAB_KEEP_EMPTY 1
/* malloc's alignment: 8 on i386 (HEAP_ALIGN), 16 on x86_64 */
#define SLAB_MIN_ALIGN  (sizeof(void *) == 8 ? 16u : (unsigned)HEAP_ALIGN)

#define EARLY_PAGES   (INITIAL_HEAP_SIZE / PAGE_SIZE)
#define VIRTUAL_BYTES ((uint32_t)HEAP_VIRTUAL_END - HEAP_VIRTUAL_START + 1)

typedef struct slab {
    struct kmem_cache *cache;      /* NULL: no slab here (never made, released) */
    struct slab *next, *prev;      /* on the cache's list for the slab's state */
    uintptr_t page;                /* the page it describes */
    uint16_t inuse, total;         /* objects allocated / objects in the slab */
    uint16_t hint;                 /* a map word that may have a clear bit */
    uint8_t building;              /* its ctor is running: on no list, in no count yet */
    uint8_t node;                  /* the NUMA node of its page's frame (heap_page_node) */
    uint8_t filler;                /* 1 + the CPU that last filled from it (slab.c), 0: none */
    uint32_t map[SLAB_MAP_WORDS];  /* set: out of the slab (a caller's, or in a CPU's cache) */
    uint32_t cmap[SLAB_MAP_WORDS]; /* set: in a CPU's cache (a subset of map); lock bts/btr */
} slab_t;

typedef union {
    slab_t s;
    char slot[SLAB_DESC_SIZE];
} slab_desc_t;

_Static_assert(sizeof(slab_t) <= SLAB_DESC_SIZE, "a slab descriptor fits its slot");
_Static_assert(MM_MAX_CPUS < 255, "a slab's filler is 1 + a CPU's number, in a byte");
_Static_assert(PAGE_SIZE % SLAB_DESC_SIZE == 0, "no descriptor straddles two metadata pages");
_Static_assert((uint64_t)MM_META_BLOCK_STARTS - MM_META_SLABS >=
                   (uint64_t)VIRTUAL_BYTES / PAGE_SIZE * SLAB_DESC_SIZE,
               "the metadata window holds a descriptor for every page of the virtual heap");
_Static_assert(PAGE_SIZE - HDR >= KMEM_CACHE_MAX_OBJECT,
               "a slab must hold at least one of the largest objects");

enum { SLAB_PARTIAL, SLAB_EMPTY, SLAB_FULL }; /* the first two have lists */

struct kmem_cache {
    uint32_t magic; /* CACHE_MAGIC ^ its address; 0: a free slot */
    char name[KMEM_CACHE_NAME_MAX];
    uint32_t size, stride, align, per_slab, first;
    uint64_t recip; /* ceil(2^32 / stride): offset / stride without a divide */
    void (*ctor)(void *obj);
    /*
     * By NUMA node (the node of each slab's frame), then by state: partial,
     * empty.  One node: lists[0] alone is used.
     */
    slab_t *lists[PMM_MAX_NODES][2];
    uint32_t node_slabs[PMM_MAX_NODES], node_live[PMM_MAX_NODES];           /* slabs, objects out */
    uint32_t seen_node_slabs[PMM_MAX_NODES], seen_node_live[PMM_MAX_NODES]; /* the check's */
    /*
     * The slab each CPU fills its magazine from first (NULL: none yet): a
     * CPU's objects then share slabs, descriptors and cache lines with no
     * other CPU's while the slabs last.  Cleared when the slab is released.
     * A slab a CPU moved on from stays its own (slab_t.filler) while objects
     * of it are out: another CPU takes it only when no memory is left.
     */
    slab_t *cpu_slab[MM_MAX_CPUS];
    uint32_t slabs, empty_slabs, live, peak_live, allocs, frees;
    uint32_t seen_slabs, seen_live, seen_partial, seen_empty,
        seen_cached;  /* slab_check_locked's tally */
    int builtin;      /* a kmalloc size class: never destroyed */
    uint32_t slot;    /* its index in slab_all.caches: its magazine on each CPU */
    int constructing; /* its ctor is running on a new slab (which is on no list yet) */
};

#define NCLASSES 24 /* kmalloc's size classes, 8 to 512 bytes (slab.c) */
#define NCACHES  (NCLASSES + KMEM_CACHE_MAX)

/*
 * Per-CPU caches (magazine.c's fast path, slab.c's fill, flush and drain).
 * CPU n < MM_MAX_CPUS keeps, for every cache, up to MAG_ROUNDS objects that
 * are out of their slabs (map bit set) and marked cached (cmap bit set).
 * They move between the slabs and a magazine MAG_BATCH at a time.
 */
#define MAG_ROUNDS 32
#define MAG_BATCH  16

typedef struct {
    uint32_t n;             /* objects in obj[0..n), the newest last */
    uint32_t allocs, frees; /* callers' calls served here (the cache's own count the rest) */
    void *obj[MAG_ROUNDS];
} mag_t;

/*
 * Per-CPU caches of heap blocks (blockcache.c): kmalloc's sizes above
 * SLAB_KMALLOC_MAX up to BC_MAX bytes, in BC_CLASSES classes, four to each
 * doubling (640, 768, 896, 1024, 1280, ... 65536: a block is at most a
 * quarter bigger than asked).  A class keeps up to BC_ROUNDS blocks; a miss
 * takes up to BC_FILL from the heap's free lists at once.  A CPU keeps at most
 * an eighth of the growing region's bytes (BC_SHARE), at least BC_CPU_FLOOR
 * and at most BC_CPU_BYTES (an embedder may set it: -DMM_BLOCK_CACHE_BYTES=0
 * turns the block caches off): blockcache.h, bc_budget.
 */
#define BC_MIN     (SLAB_KMALLOC_MAX + 1)
#define BC_MAX     65536u
#define BC_CLASSES 28
#define BC_ROUNDS  16
#define BC_FILL    4
#ifndef MM_BLOCK_CACHE_BYTES
#define MM_BLOCK_CACHE_BYTES (4096u * 1024u)
#endif
#define BC_CPU_BYTES ((uint32_t)MM_BLOCK_CACHE_BYTES)
#define BC_CPU_FLOOR (256u * 1024u)
#define BC_SHARE     8

typedef struct {
    uint32_t n;           /* blocks in blk[0..n), the newest last */
    void *blk[BC_ROUNDS]; /* their payloads */
} bc_mag_t;

typedef struct {
    uint32_t lock; /* 0 free, 1 taken: xchg (cpu_cache_lock; its owner's too, without a fence) */
    uint32_t busy; /* its owner is on its fast path (cpu_cache_enter; with a fence only) */
    /*
     * The NUMA node whose objects its magazines hold (slab_home_node: the
     * CPU's node, or the nearest with memory if that has none).  A free of
     * an object of another node goes the shared way, back to its own slab.
     */
    uint8_t node;       /* (a byte, as slab_t's: the fast free compares them in one instruction) */
    uint8_t filler_key; /* 1 + its number: slab_t.filler of the slabs it fills from */
    uint32_t busy_slot; /* the slot its owner fills or flushes now (mm/ re-entered: a
                           ctor, a reclaim hook), NCACHES: none; its cache lock held */
    mag_t mag[NCACHES]; /* by cache slot */
    /*
     * Objects of another CPU's slabs (slab_t.filler) freed on this one, by cache slot: kept
     * out of mag[], never handed out here, back to their slabs MAG_ROUNDS at a time.  Reused
     * here, they put this CPU's objects on the lines and descriptor words of the other's
     * (thread_bench after a producer/consumer run: two threads' 64 B churn 1.39x one
     * thread's, 1.8x without); freed one at a time the shared way, a remote free cost 3.6x
     * a local one.  Their allocs count stays 0; a free counts in mag[]'s `frees`.
     */
    mag_t rmag[NCACHES];
    /* heap blocks freed here, by class (blockcache.c), and their bytes (by class size) */
    bc_mag_t blk[BC_CLASSES];
    uint32_t blk_bytes;
    uint32_t blk_allocs, blk_frees; /* callers' calls served by them */
    /*
     * Lines of its own (aligned, and so its size a multiple of a line): its
     * owner writes `busy`, the first words, and the counters, the last, on
     * every call, and without the alignment a CPU's last line was the next
     * CPU's first, and slab_all's line that every fast path reads
     * (virtual_base, meta_descs) the first CPU's.  thread_bench, random
     * 8 B-64 KB on two threads, the builds alternating: 28.3-28.7 Mops/s
     * before, 37.1-37.9 after (2-second runs, 2026-12-07 21:30); 11.0-11.5
     * before, 14.8-15.0 after (1-second runs, 21:57).
     */
} __attribute__((aligned(64))) slab_cpu_t;

/*
 * Set bit `bit` of *w atomically; was it set before?  One "lock bts" (the
 * 386 has it): the builtins would make a lock cmpxchg loop of a variable
 * bit, which no 486-era rule allows and costs more.  ThreadSanitizer cannot
 * see inside an asm statement, so its build takes the builtin.
 */
static inline int slab_test_and_set(uint32_t *w, unsigned bit)
{
#if (defined(__i386__) || defined(__x86_64__)) && !defined(MM_TSAN) &&                             \
    defined(__GCC_ASM_FLAG_OUTPUTS__) /* the carry as the result: a jc after it, no setc */
    int was;
    __asm__ volatile("lock btsl %2, %0" : "+m"(*w), "=@ccc"(was) : "Ir"(bit) : "memory");
    return was;
#elif (defined(__i386__) || defined(__x86_64__)) && !defined(MM_TSAN)
    unsigned char was;
    __asm__ volatile("lock btsl %2, %0\n\tsetc %1"
                     : "+m"(*w), "=q"(was)
                     : "Ir"(bit)
                     : "memory", "cc");
    return was;
#else
    return (int)((__atomic_fetch_or(w, 1u << bit, __ATOMIC_ACQ_REL) >> bit) & 1u);
#endif
}

/*
 * A CPU's cache lock.  Its owner takes it on every fast-path call
 * (cpu_cache_enter, cpu_cache_exit), a drain, a check or the statistics
 * from any CPU (cpu_cache_lock, cpu_cache_trylock, cpu_cache_try_all,
 * cpu_cache_unlock).  Two forms:
 *
 *   - a glue with glue_fence_cpus (the kernel's: an acknowledged request to
 *     every other busy CPU, arch/x86/smp.c; the host's: membarrier; see
 *     mm/glue.h, "Inline forms"):
 *     the owner takes no locked instruction.  It writes `busy` and reads
 *     `lock` with plain moves; another CPU sets `lock` (xchg), fences every
 *     CPU (glue_fence_cpus) and waits for `busy` to clear.  Each side writes
 *     one word and reads the other's; the fence gives the order x86 itself
 *     does not (a store and a later load of another word may pass each
 *     other): after it, either the owner's `busy` is seen, or the owner sees
 *     `lock` and backs off to the shared path.  The fast path's two xchg a
 *     malloc/free pair were 40% of a single thread's time (2026-12-07,
 *     thread_bench small: 65 against 106 Mops/s without them); the fence is
 *     paid by the rare side (a system call on the host: membarrier);
 *   - otherwise (a glue without it, as tests/embed's; ThreadSanitizer,
 *     which does not see a fence by another CPU) `lock` alone, an xchg
 *     spinlock for all of them.
 */
#if defined(GLUE_FENCE_CPUS) && !defined(MM_TSAN)
#define CPU_CACHE_FENCED 1
#endif

/* The owner, on its fast path: 1 if it has its cache (else someone else has it: take the
 * shared path). */
static inline __attribute__((always_inline)) int cpu_cache_enter(slab_cpu_t *pc)
{
#ifdef CPU_CACHE_FENCED
#ifndef GLUE_FAST_NO_REENTRY
    /*
     * Already busy: this CPU entered its fast path again from inside it (an
     * exception or an NMI handler that allocates): the shared path, as the
     * xchg form's failed trylock would (not reachable in this kernel, where
     * the fast path runs with interrupts off and faults in it halt; a glue
     * that cannot re-enter skips the load: mm/glue.h, "Inline forms").
     */
    if (__builtin_expect(__atomic_load_n(&pc->busy, __ATOMIC_RELAXED), 0))
        return 0;
#endif
    __atomic_store_n(&pc->busy, 1u, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* (the hardware's order: glue_fence_cpus) */
    if (__builtin_expect(!__atomic_load_n(&pc->lock, __ATOMIC_ACQUIRE), 1))
        return 1;
    __atomic_store_n(&pc->busy, 0u, __ATOMIC_RELEASE);
    return 0;
#else
    return mm_spin_trylock(&pc->lock);
#endif
}

static inline __attribute__((always_inline)) void cpu_cache_exit(slab_cpu_t *pc)
{
#ifdef CPU_CACHE_FENCED
    __atomic_store_n(&pc->busy, 0u, __ATOMIC_RELEASE);
#else
    mm_spin_unlock(&pc->lock);
#endif
}

static inline void cpu_cache_unlock(slab_cpu_t *pc)
{
    mm_spin_unlock(&pc->lock);
}

/* Try the cache lock of every CPU not in `held` (bit n: CPU n): the CPUs whose locks it took. */
static inline uint32_t cpu_cache_try_all(uint32_t held);
/* Unlock the cache locks of the CPUs in `got`. */
static inline void cpu_cache_unlock_set(uint32_t got);

typedef struct {
    /* every cache: kmalloc's classes in [0, nclasses), callers' in [NCLASSES, NCACHES) */
    kmem_cache_t caches[NCACHES];
    unsigned nclasses;  /* only those with stride % SLAB_MIN_ALIGN == 0 */
    unsigned next_slot; /* where kmem_cache_create looks first: a freed slot is reused last */
    uint8_t class_of[SLAB_KMALLOC_MAX / 8 + 1]; /* (size + 7) / 8 -> first class that fits */
    int enabled;                                /* kmalloc uses the classes (virtual heap up) */
    /* size -> 1 + its class for the fast path (magazine.h), set by slab_enable; 0: not there */
    uint8_t mag_class[SLAB_KMALLOC_MAX + 1];
    /* where the regions and the descriptor window are (glue_*_to_*, asked once) */
    uintptr_t early_base, virtual_base; /* virtual_base 0: no virtual heap yet */
    slab_desc_t *meta_descs;
    slab_cpu_t cpu[MM_MAX_CPUS]; /* per-CPU caches, by glue_cpu_id */
    int bc_off; /* mm_set_block_cache(0): no block cached, none rounded (blockcache.c) */
    /* the PMM's topology the slabs' nodes are for (pmm_nodes_generation), and its node count */
    uint32_t node_gen;
    unsigned nodes;
} slab_all_t;

/* The caches and where the descriptors are (slab.c). */
extern MM_INTERNAL slab_all_t slab_all;

#ifdef CPU_CACHE_FENCED
/* The owners of the CPUs in `got`, whose `lock` words are set: fenced, then each waited for
 * (wait) or, busy, let go (the CPUs left in the result). */
static inline uint32_t cpu_cache_settle(uint32_t got, int wait)
{
    if (!got)
        return 0;
    glue_fence_cpus();
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        slab_cpu_t *pc = &slab_all.cpu[cpu];
        if (!((got >> cpu) & 1))
            continue;
        while (__atomic_load_n(&pc->busy, __ATOMIC_ACQUIRE)) {
            if (!wait) {
                mm_spin_unlock(&pc->lock);
                got &= ~(1u << cpu);
                break;
            }
            glue_cpu_relax();
        }
    }
    return got;
}
#endif

/* Another CPU's (or this one's, off its fast path) cache: wait for it. */
static inline void cpu_cache_lock(slab_cpu_t *pc)
{
    mm_spin_lock(&pc->lock);
#ifdef CPU_CACHE_FENCED
    (void)cpu_cache_settle(1u << (unsigned)(pc - slab_all.cpu), 1);
#endif
}

static inline int cpu_cache_trylock(slab_cpu_t *pc)
{
    if (!mm_spin_trylock(&pc->lock))
        return 0;
#ifdef CPU_CACHE_FENCED
    return cpu_cache_settle(1u << (unsigned)(pc - slab_all.cpu), 0) != 0;
#else
    return 1;
#endif
}

static inline uint32_t cpu_cache_try_all(uint32_t held)
{
    uint32_t got = 0;
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        if (!((held >> cpu) & 1) && mm_spin_trylock(&slab_all.cpu[cpu].lock))
            got |= 1u << cpu;
    }
#ifdef CPU_CACHE_FENCED
    got = cpu_cache_settle(got, 0); /* (one fence for them all) */
#endif
    return got;
}

static inline void cpu_cache_unlock_set(uint32_t got)
{
    for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
        if ((got >> cpu) & 1)
            cpu_cache_unlock(&slab_all.cpu[cpu]);
    }
}

/* Every live cache, in table order. */
#define for_each_cache(c)                                                                          \
    for (kmem_cache_t *c = slab_all.caches; c < slab_all.caches + NCACHES; c++)                    \
        if (c->magic)

/* Object i's record: the table at the start of the page (debug build, checks on). */
static inline dbg_rec_t *slab_rec(const slab_t *s, unsigned i)
{
    return (dbg_rec_t *)(s->page + HDR) + i;
}

/* Bytes a slab needs per object besides its stride. */
#define REC_SIZE (dbg_on() ? sizeof(dbg_rec_t) : 0)

static inline unsigned map_words(unsigned total)
{
    return (total + 31) / 32;
}

/*
 * The index on c's grid of the byte at offset `off` in a slab page (off >=
 * c->first): (off - first) / stride by one multiply.  Exact for every
 * object's start; an interior offset gives the object it is in, so a caller
 * checks `off - first == index * stride` before it believes a pointer.
 */
static inline unsigned slab_index(const kmem_cache_t *c, uintptr_t off)
{
    return (unsigned)(((uint64_t)(off - c->first) * c->recip) >> 32);
}

/*
 * slab_index and the interior test by the same multiply: is `off` (c->first
 * <= off < PAGE_SIZE) an object's start?  With r = recip = ceil(2^32 /
 * stride), x = off - first: the low 32 bits of x * r are below r exactly when
 * stride divides x (true for every x < 2^12 and stride <= 2^12: 32 bits of
 * fraction cover 12 of numerator and 12 of divisor; Lemire, Kaser and Kurz,
 * "Faster remainder by direct computation", 2019), and the high bits are
 * x / stride.  One mul gives both; no second multiply by the stride.
 */
static inline int slab_on_grid(const kmem_cache_t *c, uintptr_t off, unsigned *index)
{
    uint64_t x = (uint64_t)(off - c->first) * c->recip;
    *index = (unsigned)(x >> 32);
    return (uint32_t)x < c->recip;
}
_Static_assert(PAGE_SIZE <= 4096, "slab_on_grid: offsets and strides of at most 12 bits");

static inline void *slab_object(const slab_t *s, unsigned i)
{
    return (char *)s->page + s->cache->first + (size_t)i * s->cache->stride;
}

static inline int slab_state(const slab_t *s)
{
    return s->inuse == 0 ? SLAB_EMPTY : s->inuse == s->total ? SLAB_FULL : SLAB_PARTIAL;
}

/* ---- slab_core.c and slab.c, for kmem_cache.c ---- */

/* Is c a live cache (a slot of the table whose magic is keyed by its address)? */
int slab_cache_ok(const kmem_cache_t *c);
/* The descriptor of slab page `page`, or NULL if the page is in no heap region we know. */
slab_t *slab_desc_of(uintptr_t page);
/* Why the slab at page cannot be used, or NULL. */
const char *slab_problem(uintptr_t page);
/* A fresh cache in slot c. */
void slab_cache_init(kmem_cache_t *c, const char *name, uint32_t size, uint32_t align,
                     void (*ctor)(void *));
/* An object of c (a new slab if none has room), or NULL: no memory. */
void *slab_cache_alloc(const char *fn, kmem_cache_t *c);
/*
 * An object of c on NUMA node `node` (a node, node | PMM_NODE_STRICT, or
 * PMM_NODE_ANY: the CPU's), or NULL: no memory, or strict and the node has
 * none (quiet: the caller reports).  Not strict: that node's slabs, a new
 * slab on it (or on the nearest node with a free page), else any node's.
 */
void *slab_cache_alloc_node(const char *fn, kmem_cache_t *c, int node);
/*
 * Is `node` (maybe | PMM_NODE_STRICT, or PMM_NODE_ANY) a node the PMM has?
 * Else reported as fn's; 0.
 */
int slab_node_ok(const char *fn, int node);
/*
 * The slabs' nodes brought up to the PMM's topology, if it changed since they
 * were last (pmm_nodes_generation): every CPU's home node, every slab's node
 * from its frame, the lists by node rebuilt.  Mm lock held.
 */
void slab_nodes_sync(void);
/* The slab and index of ptr, an allocated object of `want` (NULL: any), or NULL after a report. */
slab_t *slab_object_of(const char *fn, kmem_cache_t *want, uintptr_t page, void *ptr,
                       unsigned *index);
/*
 * Object i of s is free again (its slab goes back if it was one empty slab too many): 1, or
 * 0 after reporting a double free (a CPU's fast free of it won the race: it is in that cache).
 */
int slab_object_free(const char *fn, kmem_cache_t *c, slab_t *s, unsigned i);
/* Every empty slab of c back to the heap: how many. */
size_t slab_cache_shrink(kmem_cache_t *c);

/* ---- slab.c and slab_core.c: the per-CPU caches' side of the slabs (mm lock held) ---- */

/*
 * Up to n objects of c out of its slabs, marked cached, into the empty
 * magazine m of CPU `cpu`, m->n counting them as they come (a ctor or a
 * reclaim hook that runs meanwhile and asks for statistics sees them kept,
 * not live).  They come from the CPU's own slab (c->cpu_slab) while it has
 * room, then from a slab no other CPU fills from, if one of the first few
 * has room.
 */
void slab_mag_fill(const char *fn, kmem_cache_t *c, unsigned cpu, mag_t *m, unsigned n);
/* n cached objects of c back into their slabs. */
void slab_mag_flush(kmem_cache_t *c, void *const *objs, unsigned n);
/*
 * Every object the CPUs keep for c (NULL: for every cache) back into the
 * slabs.  The CPUs in `held` (bit n: CPU n) have their cache locks held by
 * the caller; the others are tried, and a busy one is left alone.  Returns
 * the objects moved; *busy (if not NULL) the CPUs left alone.
 */
size_t slab_cpu_drain(kmem_cache_t *c, uint32_t held, uint32_t *busy);
/* Debug build, checks on: a caller's new object gets its red zone and record. */
void slab_arm_object(kmem_cache_t *c, void *obj, uint32_t size);
/* Debug build, checks on: a caller frees object i of s into quarantine (1), or 0: free it now. */
int slab_quarantine_object(const char *fn, kmem_cache_t *c, slab_t *s, unsigned i);

/* ---- slab_core.c, for slab.c above it (mm lock held) ---- */

/* desc_of for a new slab: the metadata page under it mapped first.  NULL: no memory. */
slab_t *slab_desc_get(uintptr_t page);
/* List s by its state (a full slab goes on no list). */
void slab_list_push(kmem_cache_t *c, slab_t *s);
/* An object from s (which has room), counted live. */
void *slab_take_live(kmem_cache_t *c, slab_t *s);
/* The slab and index of obj, an object of c that the per-CPU caches keep (trusted: ours). */
slab_t *slab_cached_object(const kmem_cache_t *c, const void *obj, unsigned *index);

#endif /* MM_SLAB_PRIV_H */

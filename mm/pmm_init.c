/*
 * pmm_init.c - the PMM's memory: the map checked (pmm_init_map,
 * pmm_init_layout), the metadata placed, and the stages after init
 * (pmm_add_range, pmm_set_reachable).
 *
 * Stages
 * ------
 * A kernel that maps only a few MB at boot cannot use a page above them:
 * handing one out is a fault nobody can report.  So the PMM knows two
 * limits, both fixed by the first stage's layout:
 *
 *   0      1 MB        reach                      npages (ram_end)
 *   | low   | RAM ...   | PG_UNREACHABLE RAM, holes | no descriptors
 *           ^ metadata: below `reach`, as the PMM writes it
 *
 * `reach` rises with pmm_set_reachable (unreachable pages become free);
 * `npages` never moves, since the descriptors are one array indexed by pfn:
 * RAM added later (pmm_add_range) must lie below ram_end, which the kernel
 * says at init (the array costs 12 bytes per page described, holes too).
 * Carving descriptors for each new range out of the range itself would
 * spare that, at the price of a lookup on every pfn and buddies that stop at
 * every range's edge; a 32-bit kernel knows its ceiling, so we keep one array.
 *
 * Inconsistent maps
 * -----------------
 * The PMM cannot know where the kernel is.  The layout may name the kernel
 * image; every byte of it that the map calls RAM must then be reserved by
 * the map, or the map is refused before anything is written: a map that
 * forgets the kernel otherwise lets the metadata land on its code.  The
 * layout may also name the metadata's place, which is checked against every
 * reserved range, the RAM, the first 1 MB, the early heap and the limit.
 * Every refusal is one line (mm_report) naming the public function, and
 * leaves an empty PMM: it hands out nothing and writes nowhere.
 *
 * Calls pmm.c (pmm_run_release), pmm_node.c (the nodes applied to a new
 * array), pmm_pcp.c (the CPUs' lists reset), lock.c, log.c and string.c.
 * Each public function takes pmm_lock (mm/lock.c) once; an init takes every
 * CPU's list lock before it.
 */
#include "lock.h"
#include "log.h"
#include "pmm_priv.h"
#include "range.h"

static int overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end)
{
    return a < b_end && b < a_end;
}

static void mark(uint64_t base, uint64_t end, int from, int to)
{
    /* available ranges shrink to whole pages; reserved ones grow to them */
    uint64_t first = to == PG_FREE ? (base + PAGE_SIZE - 1) / PAGE_SIZE : base / PAGE_SIZE;
    uint64_t last = to == PG_FREE || end > UINT64_MAX - PAGE_SIZE
                        ? end / PAGE_SIZE
                        : (end + PAGE_SIZE - 1) / PAGE_SIZE;
    if (last > pmm_data.npages)
        last = pmm_data.npages;
    for (uint64_t p = first; p < last; p++) {
        if (pmm_data.pages[p].state == from)
            pmm_data.pages[p].state = (uint8_t)to;
    }
}

/* Does [a, a_end) collide with a reserved range, the early heap or low memory? */
static uint64_t first_conflict_end(const pmm_range_t *map, int count, uint64_t a, uint64_t a_end)
{
    if (a < LOW_MEMORY)
        return LOW_MEMORY;
    if (overlaps(a, a_end, HEAP_START, HEAP_START + INITIAL_HEAP_SIZE))
        return HEAP_START + INITIAL_HEAP_SIZE;
    for (int i = 0; i < count; i++) {
        if (map[i].type != PMM_RANGE_AVAILABLE &&
            overlaps(a, a_end, map[i].base, range_end(&map[i])))
            return range_end(&map[i]);
    }
    return 0;
}

/*
 * The lowest page-aligned place for `bytes` of metadata inside one available
 * range below `reach`, clear of every reservation.  Low, so that it stays
 * reachable through the kernel's direct map after paging is on.
 */
static uint64_t metadata_place(const pmm_range_t *map, int count, uint64_t bytes, uint64_t reach)
{
    uint64_t best = 0;
    for (int i = 0; i < count; i++) {
        /* RAM at or above 4 GB is ignored (init_locked): no metadata there either, and
         * rounding its base up or adding bytes to it could wrap past 2^64 to low memory */
        if (map[i].type != PMM_RANGE_AVAILABLE || map[i].base >= FOUR_GB)
            continue;
        uint64_t end = range_end(&map[i]);
        end = (end > reach ? reach : end) & ~(uint64_t)(PAGE_SIZE - 1);
        uint64_t a = (map[i].base + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
        while (a + bytes <= end) {
            uint64_t skip = first_conflict_end(map, count, a, a + bytes);
            if (!skip) {
                if (!best || a < best)
                    best = a;
                break;
            }
            if (skip >= end) /* a reservation to the end (one that wraps: to 2^64): no room */
                break;
            a = (skip + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
        }
    }
    return best;
}

/*
 * The first byte of [a, a_end) that a RAM range holds and no reserved range
 * covers, or a_end.  Each step jumps past a reservation or to the next range.
 */
static uint64_t first_unreserved_ram(const pmm_range_t *map, int count, uint64_t a, uint64_t a_end)
{
    while (a < a_end) {
        uint64_t past = a, next = a_end;
        int ram = 0;
        for (int i = 0; i < count; i++) {
            uint64_t end = range_end(&map[i]);
            if (map[i].length == 0)
                continue;
            if (map[i].base > a) {
                next = map[i].base < next ? map[i].base : next;
            } else if (end > a) {
                ram |= map[i].type == PMM_RANGE_AVAILABLE;
                if (map[i].type != PMM_RANGE_AVAILABLE && end > past)
                    past = end;
            }
        }
        if (past > a)
            a = past;
        else if (ram)
            return a;
        else
            a = next;
    }
    return a_end;
}

/*
 * Why the kernel image of the layout is not safe from the PMM, or NULL.
 * The first 1 MB is never handed out nor used: a kernel there needs no
 * reservation.
 */
static const char *kernel_problem(const pmm_range_t *map, int count, const pmm_layout_t *l,
                                  char *why, size_t size)
{
    char a[20];
    if (l->kernel_length > UINT64_MAX - l->kernel_base)
        return "wraps past 2^64";
    uint64_t end = l->kernel_base + l->kernel_length;
    uint64_t from = l->kernel_base < LOW_MEMORY ? LOW_MEMORY : l->kernel_base;
    uint64_t bad = first_unreserved_ram(map, count, from, end);
    if (bad >= end)
        return NULL;
    mm_snprintf(why, size, "%s is available RAM the map does not reserve",
                mm_hex64(a, sizeof(a), bad));
    return why;
}

/* Why [base, base + bytes) cannot hold the metadata (the layout named it), or NULL. */
static const char *meta_problem(const pmm_range_t *map, int count, const pmm_layout_t *l,
                                uint64_t bytes, uint64_t reach, char *why, size_t size)
{
    char a[20], b[20];
    uint64_t base = l->meta_base, end = base + bytes;
    if (base % PAGE_SIZE)
        return "not page-aligned";
    if (l->meta_length > UINT64_MAX - base || bytes > UINT64_MAX - base)
        return "wraps past 2^64";
    if (l->meta_length < bytes) {
        mm_snprintf(why, size, "too small: %lu bytes needed", (unsigned long)bytes);
        return why;
    }
    if (base < LOW_MEMORY)
        return "overlaps the first 1 MB (BIOS, never used)";
    if (overlaps(base, end, HEAP_START, HEAP_START + INITIAL_HEAP_SIZE))
        return "overlaps the Phase 1 heap";
    for (int i = 0; i < count; i++) {
        if (map[i].type != PMM_RANGE_AVAILABLE && map[i].length &&
            overlaps(base, end, map[i].base, range_end(&map[i]))) {
            mm_snprintf(why, size, "overlaps a reserved range %s-%s",
                        mm_hex64(a, sizeof(a), map[i].base),
                        mm_hex64(b, sizeof(b), range_end(&map[i])));
            return why;
        }
    }
    uint64_t hole = range_first_not_ram(map, count, base, end);
    if (hole < end) {
        mm_snprintf(why, size, "%s is not RAM", mm_hex64(a, sizeof(a), hole));
        return why;
    }
    if (end > reach) {
        mm_snprintf(why, size, "not below the reachable limit %s", mm_hex64(a, sizeof(a), reach));
        return why;
    }
    return NULL;
}

/* Where the metadata goes (0: nowhere, reported).  npages and meta_bytes are set. */
static uint64_t metadata_chosen(const pmm_range_t *map, int count, const pmm_layout_t *l,
                                uint64_t bytes, uint64_t reach)
{
    char why[128], a[20], b[20];
    if (l && l->meta_length) {
        const char *bad = meta_problem(map, count, l, bytes, reach, why, sizeof(why));
        if (!bad)
            return l->meta_base;
        mm_report("pmm_init_layout: metadata %s-%s: %s: refused, no page handed out",
                  mm_hex64(a, sizeof(a), l->meta_base),
                  mm_hex64(b, sizeof(b), l->meta_base + l->meta_length), bad);
        return 0;
    }
    uint64_t meta = metadata_place(map, count, bytes, reach);
    if (meta)
        return meta;
    if (reach < FOUR_GB)
        mm_report("pmm_init_layout: no room below the reachable limit %s for %u pages of "
                  "metadata: refused, no page handed out",
                  mm_hex64(a, sizeof(a), reach), (unsigned)(bytes / PAGE_SIZE));
    else
        mm_printf("pmm: no usable RAM above 1 MB for %u pages of metadata\n",
                  (unsigned)(bytes / PAGE_SIZE));
    return 0;
}

/* Bytes the descriptors of [0, top) fill, page-rounded. */
static uint64_t meta_size(uint64_t top)
{
    uint64_t bytes = ALIGN_8((top / PAGE_SIZE) * sizeof(pmm_page_t));
    return (bytes + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
}

uint32_t pmm_layout_bytes(uint64_t ram_end)
{
    if (ram_end > FOUR_GB)
        ram_end = FOUR_GB;
    return (uint32_t)meta_size((ram_end + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1));
}

/* Release every PG_FREE run of [pfn, end) onto the free lists; returns the pages released. */
static uint32_t release_free_runs(uint32_t pfn, uint32_t end)
{
    uint32_t released = 0;
    while (pfn < end) {
        if (pmm_data.pages[pfn].state != PG_FREE) {
            pfn++;
            continue;
        }
        uint32_t run = pfn;
        while (run < end && pmm_data.pages[run].state == PG_FREE)
            run++;
        pmm_run_release(pfn, run - pfn);
        released += run - pfn;
        pfn = run;
    }
    return released;
}

static int init_locked(const pmm_range_t *map, int count, const pmm_layout_t *l)
{
    char why[128], a[20], b[20];
    uint64_t top = 0;
    memset(&pmm_data, 0, sizeof(pmm_data));
    for (unsigned n = 0; n < PMM_MAX_NODES; n++)
        for (unsigned k = 0; k <= PMM_MAX_ORDER; k++)
            pmm_data.list[n][k] = PFN_NONE; /* empty lists, also if the map is refused below */
    for (int i = 0; i < count; i++) {
        uint64_t end = range_end(&map[i]);
        if (!range_is_ram(&map[i]))
            continue;
        if (map[i].base >= FOUR_GB) {
            mm_printf("pmm: ignoring RAM at 0x%lx%08lx (+0x%lx%08lx): above 4 GB\n",
                      (unsigned long)(map[i].base >> 32), (unsigned long)map[i].base,
                      (unsigned long)(map[i].length >> 32), (unsigned long)map[i].length);
            continue;
        }
        if (end > FOUR_GB)
            end = FOUR_GB;
        if (end > top)
            top = end;
    }
    uint64_t reach = FOUR_GB;
    if (l && l->ram_end > top) /* room for pmm_add_range up to ram_end */
        top = l->ram_end >= FOUR_GB ? FOUR_GB : (l->ram_end + PAGE_SIZE - 1) & ~0xFFFull;
    if (l && l->reachable && l->reachable < FOUR_GB)
        reach = l->reachable & ~(uint64_t)(PAGE_SIZE - 1);
    if (l && l->kernel_length) {
        const char *bad = kernel_problem(map, count, l, why, sizeof(why));
        if (bad) {
            mm_report("pmm_init_layout: kernel image %s-%s: %s: refused, no page handed out",
                      mm_hex64(a, sizeof(a), l->kernel_base),
                      mm_hex64(b, sizeof(b), l->kernel_base + l->kernel_length), bad);
            return -1;
        }
    }

    uint64_t bytes = meta_size(top);
    uint64_t meta = top ? metadata_chosen(map, count, l, bytes, reach) : 0;
    if (!meta) {
        if (!top)
            mm_printf("pmm: no usable RAM above 1 MB for the metadata\n");
        return -1;
    }
    pmm_data.npages = (uint32_t)(top / PAGE_SIZE);
    pmm_data.meta_bytes = ALIGN_8(pmm_data.npages * (uint32_t)sizeof(pmm_page_t));
    pmm_data.reach = (uint32_t)(reach / PAGE_SIZE);
    pmm_data.meta_phys = (paddr_t)meta;
    pmm_data.pages = glue_phys_to_virt(pmm_data.meta_phys);
    memset(pmm_data.pages, 0, pmm_data.npages * sizeof(pmm_page_t)); /* all PG_HOLE */

    for (int i = 0; i < count; i++) {
        if (map[i].type == PMM_RANGE_AVAILABLE && map[i].base < FOUR_GB)
            mark(map[i].base, range_end(&map[i]), PG_HOLE, PG_FREE);
    }
    for (int i = 0; i < count; i++) {
        if (map[i].type != PMM_RANGE_AVAILABLE && map[i].base < FOUR_GB && map[i].length) {
            mark(map[i].base, range_end(&map[i]), PG_FREE, PG_RESERVED);
            mark(map[i].base, range_end(&map[i]), PG_HOLE, PG_MAP_RESERVED);
        }
    }
    if (l && l->kernel_length) /* a kernel in a hole: never added as RAM later */
        mark(l->kernel_base, l->kernel_base + l->kernel_length, PG_HOLE, PG_MAP_RESERVED);
    mark(0, LOW_MEMORY, PG_FREE, PG_RESERVED);
    mark(HEAP_START, HEAP_START + INITIAL_HEAP_SIZE, PG_FREE, PG_RESERVED);
    mark(meta, meta + bytes, PG_FREE, PG_RESERVED);

    for (uint32_t pfn = 0; pfn < pmm_data.npages; pfn++) {
        pmm_page_t *p = &pmm_data.pages[pfn];
        if (p->state == PG_FREE && pfn >= pmm_data.reach)
            p->state = PG_UNREACHABLE;
        pmm_data.total += p->state != PG_HOLE && p->state != PG_MAP_RESERVED;
        pmm_data.reserved += p->state == PG_RESERVED;
        pmm_data.unreachable += p->state == PG_UNREACHABLE;
    }
    pmm_nodes_apply(); /* before the release: blocks stop at a node's edge */
    pmm_data.free = release_free_runs(0, pmm_data.npages);
    return pmm_data.free ? 0 : -1;
}

static int init(const char *fn, const pmm_range_t *map, int count, const pmm_layout_t *layout)
{
    if (!map || count <= 0) {
        mm_report("%s: empty memory map", fn);
        return -1;
    }
    glue_irqflags_t outer = glue_irq_save();
    uint32_t held = pmm_pcp_lock_all(); /* every CPU's list: its pages are of the old array */
    glue_irqflags_t f = pmm_lock();
    int r = init_locked(map, count, layout);
    pmm_pcp_reset_locked();
    pmm_unlock(f);
    pmm_pcp_unlock_all(held);
    glue_irq_restore(outer);
    return r;
}

int pmm_init_layout(const pmm_range_t *map, int count, const pmm_layout_t *layout)
{
    return init("pmm_init_layout", map, count, layout);
}

int pmm_init_map(const pmm_range_t *map, int count)
{
    return init("pmm_init_map", map, count, NULL);
}

void pmm_init(uint32_t mem_size)
{
    /* without a map we only know where the kernel may be: 1 MB up to the early heap */
    pmm_range_t map[] = {{0, mem_size, PMM_RANGE_AVAILABLE},
                         {LOW_MEMORY, HEAP_START - LOW_MEMORY, PMM_RANGE_RESERVED}};
    pmm_init_map(map, 2);
}

/* ---------------------------------------------------------------- stages ---- */

/* Why [base, base + length) cannot be added, or NULL.  The lock is held. */
static const char *add_problem(uint64_t base, uint64_t length, char *why, size_t size)
{
    char a[20];
    if (!pmm_data.npages)
        return "the PMM has no pages (not started, or its map was refused)";
    if (length == 0)
        return "zero length";
    if (length > UINT64_MAX - base)
        return "wraps past 2^64";
    if (base + length > FOUR_GB)
        return "above 4 GB (the PMM manages 32-bit physical addresses)";
    uint64_t first = (base + PAGE_SIZE - 1) / PAGE_SIZE, last = (base + length) / PAGE_SIZE;
    if (first >= last)
        return "no whole page";
    if (first < LOW_MEMORY / PAGE_SIZE)
        return "overlaps the first 1 MB (never handed out)";
    if (last > pmm_data.npages) {
        mm_snprintf(why, size,
                    "beyond the pages the PMM describes (up to %s: pmm_init_layout's ram_end)",
                    mm_hex64(a, sizeof(a), (uint64_t)pmm_data.npages * PAGE_SIZE));
        return why;
    }
    if (overlaps(first * PAGE_SIZE, last * PAGE_SIZE, HEAP_START, HEAP_START + INITIAL_HEAP_SIZE))
        return "overlaps the Phase 1 heap";
    for (uint64_t p = first; p < last; p++) {
        uint8_t s = pmm_data.pages[p].state;
        if (s == PG_HOLE)
            continue;
        mm_snprintf(why, size, "%s is %s", mm_hex64(a, sizeof(a), p * PAGE_SIZE),
                    s == PG_MAP_RESERVED ? "reserved by the memory map or the kernel image"
                                         : "RAM the PMM already manages");
        return why;
    }
    if (pmm_data.nadded >= PMM_ADDED_RANGES) {
        mm_snprintf(why, size, "the PMM describes at most %u added ranges",
                    (unsigned)PMM_ADDED_RANGES);
        return why;
    }
    return NULL;
}

int pmm_add_range(uint64_t base, uint64_t length)
{
    char why[128], a[20], b[20];
    glue_irqflags_t f = pmm_lock();
    const char *bad = add_problem(base, length, why, sizeof(why));
    if (bad) {
        pmm_unlock(f);
        mm_report("pmm_add_range: %s-%s: %s: nothing added", mm_hex64(a, sizeof(a), base),
                  mm_hex64(b, sizeof(b), length > UINT64_MAX - base ? UINT64_MAX : base + length),
                  bad);
        return -1;
    }
    uint32_t first = (uint32_t)((base + PAGE_SIZE - 1) / PAGE_SIZE);
    uint32_t last = (uint32_t)((base + length) / PAGE_SIZE);
    for (uint32_t p = first; p < last; p++) {
        pmm_data.pages[p].state = p < pmm_data.reach ? PG_FREE : PG_UNREACHABLE;
        pmm_data.node[pmm_data.pages[p].node].total++;
        pmm_data.node[pmm_data.pages[p].node].unreachable += p >= pmm_data.reach;
    }
    uint32_t released = release_free_runs(first, last);
    pmm_data.total += last - first;
    pmm_data.free += released;
    pmm_data.unreachable += last - first - released;
    pmm_data.added[pmm_data.nadded].first = first;
    pmm_data.added[pmm_data.nadded].last = last;
    pmm_data.nadded++;
    pmm_data.oom_reported = 0;
    pmm_unlock(f);
    return 0;
}

int pmm_set_reachable(uint64_t limit)
{
    char a[20], b[20];
    uint32_t to = limit >= FOUR_GB ? PFN_4GB : (uint32_t)(limit / PAGE_SIZE);
    glue_irqflags_t f = pmm_lock();
    uint32_t from = pmm_data.reach;
    if (!pmm_data.npages || to < from) {
        pmm_unlock(f);
        if (!pmm_data.npages)
            mm_report("pmm_set_reachable: %s: the PMM has no pages (not started, or its map was "
                      "refused)",
                      mm_hex64(a, sizeof(a), limit));
        else
            mm_report("pmm_set_reachable: %s: below the limit already set (%s): the limit only "
                      "rises",
                      mm_hex64(a, sizeof(a), limit),
                      mm_hex64(b, sizeof(b), (uint64_t)from * PAGE_SIZE));
        return -1;
    }
    uint32_t end = to < pmm_data.npages ? to : pmm_data.npages;
    for (uint32_t p = from; p < end; p++) {
        if (pmm_data.pages[p].state == PG_UNREACHABLE) {
            pmm_data.pages[p].state = PG_FREE;
            pmm_data.node[pmm_data.pages[p].node].unreachable--;
        }
    }
    pmm_data.reach = to;
    uint32_t released = from < end ? release_free_runs(from, end) : 0;
    pmm_data.free += released;
    pmm_data.unreachable -= released;
    if (released)
        pmm_data.oom_reported = 0;
    pmm_unlock(f);
    return 0;
}

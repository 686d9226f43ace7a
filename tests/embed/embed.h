/*
 * embed.h - the embedding test kernel's own interfaces (not mm/'s).
 *
 * This kernel owns the names a real kernel already has: memset, memcpy,
 * memmove, memcmp, and kfree(char *) for its own page pool (xv6's kalloc /
 * kfree).  mm/ is compiled with its names prefixed (mm_kfree, mm_memset...),
 * so both sets live in one image.  A file that includes mm/'s headers and
 * this one includes mm/'s first, then #undefs the few names both use, and
 * calls mm/ as mm_<name>.
 *
 * The machine, as this kernel sees it:
 *
 *   0x00000000  page 0: unmapped (NULL faults)
 *   0x00008000  the AP's real-mode trampoline page (kept from the PMM)
 *   0x00100000  this kernel's image (linker.ld), identity-mapped
 *   0x00400000  end of the boot mapping (stage one); the rest of RAM is
 *               identity-mapped once paging_map_rest has built its tables
 *   RAM end - EMBED_POOL_BYTES .. RAM end: this kernel's own page pool (kfree)
 *   0xD0000000..0xF111FFFF  mm/'s heap, vmalloc and metadata: mapped only
 *               through glue_kmap (glue.c), never by this kernel
 *   0xFEE00000  the local APIC (uncached)
 */
#ifndef EMBED_H
#define EMBED_H

#include <stddef.h>
#include <stdint.h>

#define EMBED_PAGE       4096u
#define EMBED_BOOT_MAP   0x400000u   /* mapped at boot: the first 4 MB */
#define EMBED_TRAMPOLINE 0x8000u     /* the SIPI page (vector 0x08) */
#define EMBED_POOL_BYTES 0x100000u   /* the kernel's own page pool: 1 MB at the top of RAM */
#define EMBED_MAX_RAM    0x10000000u /* RAM this kernel maps: 256 MB at most */
#define EMBED_LAPIC      0xFEE00000u
#define EMBED_VEC_SHOOT  0xF0 /* TLB shootdown IPI */
#define EMBED_VEC_SPUR   0xFF

/* ---- paging: the linear address, as the MMU splits it ----
 *   31         22 21         12 11          0
 *   | dir index  | table index | offset      |
 */
#define PDX(va)   (((uint32_t)(va) >> 22) & 0x3FF)
#define PTX(va)   (((uint32_t)(va) >> 12) & 0x3FF)
#define PTE_P     0x001u
#define PTE_W     0x002u
#define PTE_PWT   0x008u
#define PTE_PCD   0x010u
#define PTE_FRAME 0xFFFFF000u

extern uint32_t kernel_pd[1024];        /* the one page directory (paging.c) */
void paging_boot(void);                 /* stage one: first 4 MB + APIC, paging on */
void paging_map_rest(uint32_t ram_end); /* stage two: identity up to ram_end */
extern uint32_t paging_mapped_end;      /* RAM identity-mapped so far */
/* flush the run of pages [va, +pages): invlpg each, or the whole TLB for a long run */
static inline void invlpg_run(uintptr_t va, size_t pages)
{
    if (pages > 32) {
        uint32_t cr3;
        __asm__ volatile("movl %%cr3, %0; movl %0, %%cr3" : "=r"(cr3) : : "memory");
        return;
    }
    for (size_t i = 0; i < pages; i++)
        __asm__ volatile("invlpg (%0)" : : "r"(va + i * 4096) : "memory");
}
static inline void invlpg(uintptr_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* ---- the kernel's own C library ---- */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void kpool_init(uintptr_t base, uintptr_t end);
char *kalloc(void);  /* one 4 KB page of the kernel's own pool, or NULL */
void kfree(char *v); /* xv6's signature: not mm/'s kfree(void *) */
int kpool_free_pages(void);

/* ---- console and exit ---- */
void serial_init(void);
void serial_write(const char *s, size_t n);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void embed_exit(int failed);

/* ---- CPUs ---- */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t read_eflags(void)
{
    uint32_t f;
    __asm__ volatile("pushfl; popl %0" : "=r"(f));
    return f;
}
static inline void cpu_relax(void)
{
    __asm__ volatile("rep; nop" ::: "memory");
}
#define EFLAGS_IF 0x200u

/* A non-nesting test-and-set spinlock; its wait answers TLB shootdowns (smp.c). */
typedef struct {
    volatile uint32_t taken;
} spinlock_t;
void spin_acquire(spinlock_t *l);
void spin_release(spinlock_t *l);

int lapic_id(void);
void lapic_init(void);
void idt_init(void);    /* builds the IDT once (BSP) */
void idt_load(void);    /* every CPU */
int smp_start_ap(void); /* 0 once the AP runs ap_main, -1 if it never came up */
/* flush [virt, +pages) on every other online CPU (this one flushed it): CPUs interrupted */
unsigned smp_shootdown(uintptr_t virt, size_t pages);
void smp_poll(void); /* answer a pending shootdown (called while spinning) */
extern volatile int ap_online;
int probe_read(uintptr_t virt); /* 1: a read of virt works here; 0: it faults */
void ap_main(void);

/* ---- the stress (stress.c) ---- */
void stress_setup(void);
void stress_run(int cpu);
int stress_finish(void); /* failures found */

#endif /* EMBED_H */

/*
 * cpu.h - the processor's own state: control registers, EFLAGS, halting,
 * and the two paging primitives the spec defines in assembly.
 *
 * The bit encodings of CR0, EFLAGS and the page-fault error code are written
 * down here and nowhere else; other files use the names.
 */
#ifndef ARCH_X86_CPU_H
#define ARCH_X86_CPU_H

#include <stdint.h>

/* CR0 bits we care about. */
#define CR0_PE 0x00000001u /* protected mode (the multiboot loader set it) */
#define CR0_WP 0x00010000u /* supervisor writes honour read-only pages */
#define CR0_PG 0x80000000u /* paging */

/* EFLAGS bits. */
#define EFLAGS_IF 0x00000200u /* maskable interrupts enabled */
#define EFLAGS_AC 0x00040000u /* alignment check: a 386 cannot set it */
#define EFLAGS_ID 0x00200000u /* a CPU that can set it has CPUID */

/*
 * Page-fault (#PF, vector 14) error code, pushed by the CPU; the faulting
 * linear address is in CR2.
 *
 *   31            5    4    3    2    1    0
 *  +-------------+----+----+----+----+----+
 *  |  reserved   | ID |RSVD| US | WR | P  |
 *  +-------------+----+----+----+----+----+
 *   P    0 = page not present,     1 = protection violation
 *   WR   0 = read,                 1 = write
 *   US   0 = supervisor (CPL 0-2), 1 = user (CPL 3)
 *   RSVD 1 = a reserved bit was set in a paging structure
 *   ID   1 = instruction fetch (with NX/SMEP)
 */
#define PF_PRESENT  0x01u
#define PF_WRITE    0x02u
#define PF_USER     0x04u
#define PF_RESERVED 0x08u
#define PF_IFETCH   0x10u

static inline uint32_t read_cr0(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static inline uint32_t read_cr2(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}

static inline uint32_t read_cr3(void)
{
    uint32_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

/* Loading CR3 also flushes every non-global TLB entry. */
static inline void write_cr3(uint32_t page_directory_phys)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"(page_directory_phys) : "memory");
}

static inline uint32_t read_eflags(void)
{
    uint32_t flags;
    __asm__ volatile("pushfl; popl %0" : "=r"(flags));
    return flags;
}

static inline void cli(void)
{
    __asm__ volatile("cli" : : : "memory");
}

static inline void sti(void)
{
    __asm__ volatile("sti" : : : "memory");
}

static inline void hlt(void)
{
    __asm__ volatile("hlt" : : : "memory");
}

/*
 * Stop this CPU for good.  With IF clear only an NMI or SMI can wake hlt, so
 * loop rather than trust a single hlt.
 */
__attribute__((noreturn)) static inline void cpu_halt_forever(void)
{
    for (;;) {
        cli();
        hlt();
    }
}

/*
 * What the processor is (arch/x86/cpu.c).  family: 3 for a 386, 4 for a 486
 * without CPUID, else CPUID's (extended) family.
 */
struct cpu_info {
    int has_ac;        /* EFLAGS.AC toggles: a 486 or later */
    int has_cpuid;     /* EFLAGS.ID toggles: the CPUID instruction exists */
    uint32_t max_leaf; /* CPUID leaf 0: EAX */
    char vendor[13];   /* "GenuineIntel", ...; "" without CPUID */
    uint32_t family, model;
    uint32_t features; /* CPUID leaf 1: EDX */
};

/* Find out (386-safe: only pushf/popf, then cpuid if EFLAGS.ID toggled); also kept for below. */
void cpu_detect(struct cpu_info *out);
/* Why the kernel cannot run on this CPU, or NULL when it can. */
const char *cpu_refusal(const struct cpu_info *c);
/* "486 without CPUID ...", "GenuineIntel family 6 model 6 (CPUID)": no newline. */
void cpu_print(const struct cpu_info *c);
/* Whether CR4 exists (Pentium, or a 486 with VME/DE/PSE); cpu_read_cr4 returns 0 without it. */
int cpu_has_cr4(void);
/* Whether CPUID (from cpu_detect) says the CPU has a local APIC: never on a 486. */
int cpu_has_apic(void);
int cpu_read_cr4(uint32_t *value);

/*
 * The spec's assembly interface (arch/x86/paging.S), cdecl, exactly as the
 * spec writes it: enable_paging loads CR3 and sets CR0.PG; flush_tlb_single
 * invalidates the TLB entry of one virtual address.
 */
void enable_paging(uint32_t page_directory);
void flush_tlb_single(uint32_t virtual_address);

/*
 * Call fn(arg) with ESP = top (a kernel stack from kstack_alloc), and return
 * to the caller's stack when fn returns (arch/x86/stack.S).
 */
void cpu_call_on_stack(uint32_t top, void (*fn)(void *), void *arg);

#endif /* ARCH_X86_CPU_H */

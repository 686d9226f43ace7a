/*
 * cpu.c - which processor is this, and can the kernel run on it?
 *
 * The kernel is built for a 486 (-march=i486 in the Makefile): the memory
 * manager needs invlpg (flush_tlb_single) and CR0.WP (supervisor writes
 * honour read-only pages), and a 386 has neither.  A 386 would not even
 * fault on them cleanly: CR0.WP is a reserved bit there, silently ignored.
 * So kernel_main asks right after the serial port is up, before the GDT and
 * the IDT, and refuses a 386 with one line instead of dying later.
 *
 * The classic test, with no instruction a 386 lacks:
 *
 *   EFLAGS bit 18 (AC, alignment check)  writable on a 486 and later, stuck at 0 on a 386
 *   EFLAGS bit 21 (ID)                    writable when the CPU has CPUID (late 486s,
 *                                         every Pentium and later)
 *
 * cpuid runs only in cpu_detect, and only after ID toggled; CR4 (Pentium,
 * and some late 486s) is read only through cpu_read_cr4.  make test-boot
 * checks both from the disassembly, together with "no instruction a 486
 * lacks" (tools/boot-check.sh).
 */
#include "cpu.h"

#include "console.h"

/* CPUID leaf 1, EDX: the features that imply CR4 on a pre-Pentium part. */
#define CPUID_VME  0x00000002u
#define CPUID_DE   0x00000004u
#define CPUID_PSE  0x00000008u
#define CPUID_APIC 0x00000200u /* an on-chip local APIC */

static struct cpu_info detected;

/* Flip one EFLAGS bit, read it back, put EFLAGS back: did the flip stick? */
static int eflags_bit_toggles(uint32_t bit)
{
    uint32_t before, after;

    __asm__ volatile("pushfl\n\t"
                     "popl %0\n\t"
                     "movl %0, %1\n\t"
                     "xorl %2, %1\n\t"
                     "pushl %1\n\t"
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %1\n\t"
                     "pushl %0\n\t"
                     "popfl"
                     : "=&r"(before), "=&r"(after)
                     : "ri"(bit)
                     : "cc");
    return ((before ^ after) & bit) != 0;
}

static void store_word(char *dst, uint32_t w)
{
    for (int i = 0; i < 4; i++)
        dst[i] = (char)(w >> (8 * i));
}

void cpu_detect(struct cpu_info *out)
{
    struct cpu_info c = {0};

    c.has_ac = eflags_bit_toggles(EFLAGS_AC);
    c.has_cpuid = c.has_ac && eflags_bit_toggles(EFLAGS_ID);
    if (c.has_cpuid) {
        uint32_t a, b, cx, d;

        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(cx), "=d"(d) : "a"(0), "c"(0));
        c.max_leaf = a;
        store_word(c.vendor, b); /* "GenuineIntel": EBX, EDX, ECX */
        store_word(c.vendor + 4, d);
        store_word(c.vendor + 8, cx);
        if (c.max_leaf >= 1) {
            __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(cx), "=d"(d) : "a"(1), "c"(0));
            c.family = (a >> 8) & 0xf;
            c.model = (a >> 4) & 0xf;
            if (c.family == 0xf)
                c.family += (a >> 20) & 0xff;
            if (c.family == 0x6 || c.family >= 0xf)
                c.model |= ((a >> 16) & 0xf) << 4;
            c.features = d;
        }
    }
    if (!c.family) /* no CPUID (or no leaf 1): what the EFLAGS test told us */
        c.family = c.has_ac ? 4 : 3;
    detected = c;
    if (out)
        *out = c;
}

const char *cpu_refusal(const struct cpu_info *c)
{
    if (!c->has_ac)
        return "this kernel needs a 486 or later (invlpg, CR0.WP): this is a 386";
    return NULL;
}

void cpu_print(const struct cpu_info *c)
{
    if (!c->has_ac)
        kprintf("386 (EFLAGS.AC stuck at 0)");
    else if (!c->has_cpuid)
        kprintf("486 without CPUID (EFLAGS.AC toggles, EFLAGS.ID does not)");
    else
        kprintf("%s family %u model %u (CPUID)", c->vendor, c->family, c->model);
}

int cpu_has_cr4(void)
{
    return detected.has_cpuid &&
           (detected.family >= 5 || (detected.features & (CPUID_VME | CPUID_DE | CPUID_PSE)));
}

int cpu_has_apic(void)
{
    return detected.has_cpuid && (detected.features & CPUID_APIC);
}

/* Not inline: make test-boot allows CR4 in this function only. */
__attribute__((noinline)) int cpu_read_cr4(uint32_t *value)
{
    if (!cpu_has_cr4())
        return 0;
    __asm__ volatile("mov %%cr4, %0" : "=r"(*value));
    return 1;
}

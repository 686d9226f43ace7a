/*
 * paging.c - the embedding test kernel's own page tables.
 *
 * One page directory for both CPUs.  Everything this kernel owns is
 * identity-mapped (virtual == physical), in two stages, as a kernel that
 * cannot reach all of RAM before its page tables exist must do:
 *
 *   paging_boot       the first 4 MB (page 0 left out, so NULL faults) and
 *                     the local APIC page, from tables in .bss; paging on
 *   paging_map_rest   4 MB .. RAM end, from a static array of tables; after
 *                     this the rest of RAM may be handed to mm/'s PMM
 *
 * mm/'s ranges (heap, vmalloc, metadata: 0xD0000000..0xF111FFFF) are never
 * touched here: glue.c maps them for mm/ through glue_kmap, with tables that
 * mm/'s own PMM provides.
 */
#include "vmm.h" /* MM_META_END: mm/'s last range (mm/'s headers first: embed.h) */

#include "embed.h"

#define TABLES_REST (EMBED_MAX_RAM / EMBED_BOOT_MAP - 1)

uint32_t kernel_pd[1024] __attribute__((aligned(4096)));
static uint32_t boot_table[1024] __attribute__((aligned(4096)));
static uint32_t apic_table[1024] __attribute__((aligned(4096)));
static uint32_t rest_tables[TABLES_REST][1024] __attribute__((aligned(4096)));
uint32_t paging_mapped_end;

_Static_assert(PDX(EMBED_LAPIC) > PDX(MM_META_END),
               "the APIC's page table must not be one of mm/'s ranges' slots");

void paging_boot(void)
{
    for (uint32_t p = EMBED_PAGE; p < EMBED_BOOT_MAP; p += EMBED_PAGE)
        boot_table[PTX(p)] = p | PTE_P | PTE_W;
    kernel_pd[0] = (uint32_t)boot_table | PTE_P | PTE_W;
    apic_table[PTX(EMBED_LAPIC)] = EMBED_LAPIC | PTE_P | PTE_W | PTE_PCD | PTE_PWT;
    kernel_pd[PDX(EMBED_LAPIC)] = (uint32_t)apic_table | PTE_P | PTE_W;
    __asm__ volatile("mov %0, %%cr3" : : "r"(kernel_pd) : "memory");
    uint32_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 |= 0x80010000u; /* PG | WP */
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
    paging_mapped_end = EMBED_BOOT_MAP;
}

void paging_map_rest(uint32_t ram_end)
{
    if (ram_end > EMBED_MAX_RAM)
        ram_end = EMBED_MAX_RAM;
    for (uint32_t p = EMBED_BOOT_MAP; p < ram_end; p += EMBED_PAGE) {
        uint32_t *t = rest_tables[PDX(p) - 1];
        t[PTX(p)] = p | PTE_P | PTE_W;
        kernel_pd[PDX(p)] = (uint32_t)t | PTE_P | PTE_W;
    }
    /* new entries only: nothing was cached for them, no flush needed */
    paging_mapped_end = ram_end;
}

/*
 * fake_firmware.h - the fake physical memory the firmware-table tests read
 * (test_acpi.c, test_srat.c: arch/x86 parsers built for the host).  Two
 * areas: the first MB (BIOS data area, EBDA, the BIOS area where the RSDP and
 * the MP floating pointer are searched) and one area high in RAM where the
 * tables are built.  Nothing else can be read: fake_read returns NULL there.
 * Each read is a fresh copy and the previous one is freed, so a parser that
 * kept a pointer across reads is caught (ASan on x86_64).
 *
 *   fake_memory_new(base, size)   both areas zeroed (the high one at base),
 *                                 fake_reads 0; fake_memory_free: all freed
 *   fake_at(phys, len)            where the len bytes at phys live, or NULL
 *   fake_fix_sum(p, len, at)      p[at] set so that the len bytes at p sum to 0
 */
#ifndef TESTS_HOST_FAKE_FIRMWARE_H
#define TESTS_HOST_FAKE_FIRMWARE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware.h"

#define FAKE_LOW_SIZE 0x100000u /* the first MB */

static uint8_t *fake_low, *fake_high;
static uint32_t fake_high_base, fake_high_size;
static void *fake_copy;          /* the last read's copy */
static unsigned long fake_reads; /* reads that found memory */

static uint8_t *fake_at(uint32_t phys, uint32_t len)
{
    if ((uint64_t)phys + len <= FAKE_LOW_SIZE)
        return fake_low + phys;
    if (phys >= fake_high_base && (uint64_t)phys + len <= (uint64_t)fake_high_base + fake_high_size)
        return fake_high + (phys - fake_high_base);
    return NULL;
}

/* A fw_reader_t's read. */
static const void *fake_read(void *ctx, uint32_t phys, uint32_t len)
{
    (void)ctx;
    free(fake_copy);
    fake_copy = NULL;
    const uint8_t *src = fake_at(phys, len);
    if (!src)
        return NULL;
    fake_reads++;
    fake_copy = malloc(len);
    assert_non_null(fake_copy);
    memcpy(fake_copy, src, len);
    return fake_copy;
}

static void fake_memory_free(void)
{
    free(fake_low);
    free(fake_high);
    free(fake_copy);
    fake_low = fake_high = NULL;
    fake_copy = NULL;
}

static void fake_memory_new(uint32_t high_base, uint32_t high_size)
{
    fake_memory_free(); /* what a failed test left */
    fake_low = calloc(1, FAKE_LOW_SIZE);
    fake_high = calloc(1, high_size);
    assert_true(fake_low && fake_high);
    fake_high_base = high_base;
    fake_high_size = high_size;
    fake_reads = 0;
}

static void fake_fix_sum(uint8_t *p, uint32_t len, uint32_t at)
{
    p[at] = 0;
    p[at] = (uint8_t)(0x100 - fw_sum(p, len));
}

#endif /* TESTS_HOST_FAKE_FIRMWARE_H */

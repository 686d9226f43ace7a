/*
 * io.h - x86 port I/O (in/out instructions).
 *
 * The legacy devices the kernel drives (COM1, the VGA cursor, QEMU's
 * isa-debug-exit and ACPI PM ports) live in the 64 KB I/O port space, which
 * C cannot reach; these wrappers are the only place that names the
 * instructions.  "memory" clobbers keep the compiler from moving ordinary
 * loads and stores across a device access.
 */
#ifndef ARCH_X86_IO_H
#define ARCH_X86_IO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

static inline void outw(uint16_t port, uint16_t value)
{
    __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t value;
    __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

static inline void outl(uint16_t port, uint32_t value)
{
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

/*
 * A short delay for old devices that need time between accesses: port 0x80
 * is the POST diagnostic port, unused after boot, so writing it is harmless
 * and takes about a microsecond on real hardware.
 */
static inline void io_wait(void)
{
    outb(0x80, 0);
}

#endif /* ARCH_X86_IO_H */

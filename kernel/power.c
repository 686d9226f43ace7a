/*
 * power.c - power off, or leave QEMU with a status.
 *
 * ACPI soft-off is a write of SLP_TYP=S5 | SLP_EN (bit 13) to the PM1a
 * control register.  A real kernel reads the register's port from the FADT
 * and SLP_TYP from the \_S5 object in the DSDT; we know the machines we run
 * on and try their fixed ports in turn, with the value each one expects:
 *
 *   port    value   machine
 *   0x604   0x2000  QEMU PIIX4 / ICH9 PM, base 0x600 as SeaBIOS programs it
 *   0xB004  0x2000  Bochs and older QEMU (PM base 0xB000)
 *   0x4004  0x3400  VirtualBox
 *
 * A write to an unclaimed port is ignored, so trying them in order is safe.
 * The machine may take a moment to act on the request (QEMU handles it in
 * its main loop, not in the port write), so each try waits before the next.
 */
#include "power.h"

#include <stdint.h>

#include "cpu.h"
#include "io.h"
#include "terminal.h"

#define QEMU_DEBUG_EXIT_PORT     0xF4
#define POWEROFF_SETTLE_IO_WAITS 200000 /* ~0.2 s on hardware, enough for QEMU */

static const struct {
    uint16_t port;
    uint16_t value;
} acpi_poweroff_ports[] = {
    {0x604, 0x2000},
    {0xB004, 0x2000},
    {0x4004, 0x3400},
};

void qemu_exit(int code)
{
    outl(QEMU_DEBUG_EXIT_PORT, (uint32_t)code);
    kprintf("qemu_exit(%d): no isa-debug-exit device at port 0x%x; halted\n", code,
            QEMU_DEBUG_EXIT_PORT);
    cpu_halt_forever();
}

void poweroff(void)
{
    cli();
    for (size_t i = 0; i < sizeof(acpi_poweroff_ports) / sizeof(acpi_poweroff_ports[0]); i++) {
        outw(acpi_poweroff_ports[i].port, acpi_poweroff_ports[i].value);
        for (int n = 0; n < POWEROFF_SETTLE_IO_WAITS; n++)
            io_wait();
    }
    kprintf("poweroff failed: no ACPI PM1a control port answered; halted\n");
    cpu_halt_forever();
}

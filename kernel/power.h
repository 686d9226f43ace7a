/*
 * power.h - leaving the machine (kernel/power.c).
 */
#ifndef KERNEL_POWER_H
#define KERNEL_POWER_H

/*
 * Exit QEMU through its isa-debug-exit device (-device
 * isa-debug-exit,iobase=0xf4,iosize=0x04).  QEMU's own exit status becomes
 * (code << 1) | 1, so a test run can report pass/fail to the shell but can
 * never make QEMU exit with 0.  Halts if the device is absent.
 */
__attribute__((noreturn)) void qemu_exit(int code);

/*
 * Switch the machine off through ACPI (QEMU then exits with status 0).
 * Prints "poweroff failed" and halts when no known method works.
 */
__attribute__((noreturn)) void poweroff(void);

#endif /* KERNEL_POWER_H */

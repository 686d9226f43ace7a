/*
 * serial.h - the COM1 serial port (arch/x86/serial.c), polled, 115200 8N1.
 * Under QEMU it is the console on the host's terminal (-serial stdio).
 */
#ifndef ARCH_X86_SERIAL_H
#define ARCH_X86_SERIAL_H

#include <stddef.h>

/* Program the UART.  Returns 0 if no working UART answered (output is dropped). */
int serial_init(void);

void serial_putc(char c);

/* Write len bytes, turning "\n" into "\r\n" for the terminal on the other end. */
void serial_write(const char *s, size_t len);

/* The next received byte, or -1 if none is waiting. */
int serial_getc_nonblock(void);

/* Wait (polling) for the next received byte. */
int serial_getc(void);

#endif /* ARCH_X86_SERIAL_H */

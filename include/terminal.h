/*
 * terminal.h - the kernel console: every byte goes to both COM1 and the VGA
 * screen (kernel/terminal.c, kernel/kprintf.c).
 *
 * terminal_initialize, terminal_writestring and terminal_write_dec are the
 * names the spec's examples call; the rest are ours.
 */
#ifndef TERMINAL_H
#define TERMINAL_H

#include <stddef.h>
#include <stdint.h>

void terminal_initialize(void);
void terminal_putchar(char c);
void terminal_write(const char *s, size_t len);
/* The console's lock between CPUs (kprintf holds it for a whole call); nests on one CPU:
   pass terminal_lock's result to terminal_unlock. */
int terminal_lock(void);
void terminal_unlock(int taken);
void terminal_writestring(const char *s);
void terminal_write_dec(uint32_t n); /* 1234 */
void terminal_write_hex(uint32_t n); /* 0x000004D2 */

/*
 * A small printf: %s %c %d %i %u %x %X %p %%, with an optional '-' (left
 * align), '0' (zero pad) and field width, e.g. %08x, %-12s, %5u.  The 'l'
 * and 'z' length modifiers are accepted (long and size_t are 32 bits here).
 */
__attribute__((format(printf, 1, 2))) void kprintf(const char *fmt, ...);

#endif /* TERMINAL_H */

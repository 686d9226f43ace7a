/*
 * terminal.c - the kernel console: COM1 and the VGA text screen together.
 *
 * The serial line is what a developer (and every automated test) reads from
 * QEMU's stdio; the screen is what someone watching the QEMU window sees.
 * Writing each byte to both keeps them identical.  Formatted output is in
 * kprintf.c; nothing here allocates, so the memory manager may print.
 */
#include "terminal.h"

#include "console.h" /* the hook arch/x86 prints through */

#include "serial.h"
#include "vga.h"

void terminal_initialize(void)
{
    serial_init();
    vga_init();
}

void terminal_write(const char *s, size_t len)
{
    serial_write(s, len);
    vga_write(s, len);
}

void terminal_putchar(char c)
{
    terminal_write(&c, 1);
}

void terminal_writestring(const char *s)
{
    size_t len = 0;

    while (s[len])
        len++;
    terminal_write(s, len);
}

void terminal_write_dec(uint32_t n)
{
    char buf[10]; /* 4294967295 */
    size_t i = sizeof(buf);

    do {
        buf[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    terminal_write(buf + i, sizeof(buf) - i);
}

void terminal_write_hex(uint32_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    char buf[10] = {'0', 'x'};

    for (int i = 0; i < 8; i++)
        buf[2 + i] = digits[(n >> (28 - 4 * i)) & 0xF];
    terminal_write(buf, sizeof(buf));
}

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

#include "panic.h"
#include "serial.h"
#include "smp.h"
#include "vga.h"

/*
 * Several CPUs print: one at a time, so the screen's cursor and the UART are
 * never driven by two at once.  The holder may print again inside (a fault
 * while printing): it does not wait for itself.  A holder that never lets go
 * (a CPU halted while printing) is waited for a bounded time only: then we
 * print anyway, a panic's message matters more than tidy lines; the CPU that
 * panics, having stopped all the others, does not wait at all.
 */
#define CONSOLE_SPIN_LIMIT 20000000u

static volatile uint32_t console_lock;
static volatile int console_holder = -1;

int terminal_lock(void)
{
    int me = glue_percpu_ready ? (int)smp_cpu_index() : 0;
    if (console_holder == me)
        return 0;
    uint32_t flags = 0;
    __asm__ volatile("pushfl; popl %0; cli" : "=r"(flags) : : "memory");
    for (uint32_t spins = 0;; spins++) {
        uint32_t taken = 1;
        __asm__ volatile("xchgl %0, %1" : "+r"(taken), "+m"(console_lock) : : "memory");
        if (!taken || spins > CONSOLE_SPIN_LIMIT || panic_this_cpu())
            break; /* a panicking CPU does not wait: the holder is stopped (arch/x86/panic.c) */
        smp_relax();
    }
    console_holder = me;
    if (flags & 0x200)
        __asm__ volatile("sti" : : : "memory");
    return 1;
}

void terminal_unlock(int taken)
{
    if (!taken)
        return;
    console_holder = -1;
    __asm__ volatile("" : : : "memory");
    console_lock = 0;
}

void terminal_initialize(void)
{
    serial_init();
    vga_init();
}

void terminal_write(const char *s, size_t len)
{
    int taken = terminal_lock();
    serial_write(s, len);
    vga_write(s, len);
    terminal_unlock(taken);
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

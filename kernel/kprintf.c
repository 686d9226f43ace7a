/*
 * kprintf.c - formatted console output for the kernel.
 *
 * Deliberately small: the conversions the kernel's messages use and no
 * more (see terminal.h).  Every number is at most 32 bits, so only 32-bit
 * division appears: the kernel links no libgcc to provide __udivdi3.
 * Each conversion is formatted into a small buffer, then padded and written;
 * nothing is allocated, so the heap's own diagnostics can use kprintf.
 */
#include <stdarg.h>

#include "terminal.h"

#include "console.h" /* the hook arch/x86 prints through */

struct spec {
    int left; /* '-' */
    int zero; /* '0' */
    int width;
};

/* Digits of v in base 10 or 16, written backwards from the end of buf. */
static char *format_unsigned(char *end, uint32_t v, unsigned base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;

    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return p;
}

/* Padding, written in chunks: every console write costs device accesses. */
static void write_repeated(char c, int n)
{
    char chunk[16];

    for (int i = 0; i < (int)sizeof(chunk); i++)
        chunk[i] = c;
    for (; n > 0; n -= (int)sizeof(chunk))
        terminal_write(chunk, n < (int)sizeof(chunk) ? (size_t)n : sizeof(chunk));
}

/*
 * Write sign + digits padded to the field width.  Zero padding goes between
 * the sign and the digits ("-0042"), space padding before the sign.
 */
static void emit(const struct spec *sp, const char *sign, const char *s, int len)
{
    int sign_len = sign[0] ? 1 : 0;
    int pad = sp->width - len - sign_len;

    if (!sp->left && !sp->zero)
        write_repeated(' ', pad);
    terminal_write(sign, (size_t)sign_len);
    if (!sp->left && sp->zero)
        write_repeated('0', pad);
    terminal_write(s, (size_t)len);
    if (sp->left)
        write_repeated(' ', pad);
}

static int string_length(const char *s)
{
    int n = 0;

    while (s[n])
        n++;
    return n;
}

static void vkprintf(const char *fmt, va_list ap)
{
    char buf[12];
    char *end = buf + sizeof(buf);

    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            const char *run = p;
            while (p[1] && p[1] != '%')
                p++;
            terminal_write(run, (size_t)(p - run + 1));
            continue;
        }

        struct spec sp = {0, 0, 0};
        for (p++; *p == '-' || *p == '0'; p++) {
            if (*p == '-')
                sp.left = 1;
            else
                sp.zero = 1;
        }
        while (*p >= '0' && *p <= '9' && sp.width < 1000)
            sp.width = sp.width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z')
            p++;

        const char *s;
        switch (*p) {
        case 'd':
        case 'i': {
            int32_t v = va_arg(ap, int32_t);
            /* Negate in unsigned arithmetic: -INT32_MIN overflows int32_t. */
            uint32_t mag = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
            s = format_unsigned(end, mag, 10, 0);
            emit(&sp, v < 0 ? "-" : "", s, (int)(end - s));
            break;
        }
        case 'u':
            s = format_unsigned(end, va_arg(ap, uint32_t), 10, 0);
            emit(&sp, "", s, (int)(end - s));
            break;
        case 'x':
        case 'X':
            s = format_unsigned(end, va_arg(ap, uint32_t), 16, *p == 'X');
            emit(&sp, "", s, (int)(end - s));
            break;
        case 'p':
            sp.zero = 1;
            sp.width = 8;
            s = format_unsigned(end, (uint32_t)(uintptr_t)va_arg(ap, void *), 16, 0);
            terminal_write("0x", 2);
            emit(&sp, "", s, (int)(end - s));
            break;
        case 'c':
            buf[0] = (char)va_arg(ap, int);
            sp.zero = 0;
            emit(&sp, "", buf, 1);
            break;
        case 's':
            s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            sp.zero = 0;
            emit(&sp, "", s, string_length(s));
            break;
        case '%':
            terminal_putchar('%');
            break;
        case '\0': /* a lone '%' at the end */
            p--;
            break;
        default: /* unknown conversion: show it rather than guess */
            terminal_putchar('%');
            terminal_putchar(*p);
            break;
        }
    }
}

void kprintf(const char *fmt, ...)
{
    va_list ap;

    int taken = terminal_lock(); /* one CPU's line at a time */
    va_start(ap, fmt);
    vkprintf(fmt, ap);
    va_end(ap);
    terminal_unlock(taken);
}

/*
 * console_capture.h - arch/x86/console.h for host tests of arch/x86 code that
 * link no mm/ and no host glue (test_acpi.c, test_srat.c): kprintf appends to
 * `out` (out_len bytes, always NUL-terminated, cut at its size), so a test can
 * assert the exact lines the code printed; terminal_write prints nothing.
 * Include it once, in the test file (it defines the two functions).
 */
#ifndef TESTS_HOST_CONSOLE_CAPTURE_H
#define TESTS_HOST_CONSOLE_CAPTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "console.h"

static char out[16384];
static size_t out_len;

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + out_len, sizeof(out) - out_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        out_len = out_len + (size_t)n < sizeof(out) ? out_len + (size_t)n : sizeof(out) - 1;
}

void terminal_write(const char *s, size_t len)
{
    (void)s;
    (void)len;
}

/* Forget what was printed. */
static inline void console_clear(void)
{
    out[0] = '\0';
    out_len = 0;
}

#endif /* TESTS_HOST_CONSOLE_CAPTURE_H */

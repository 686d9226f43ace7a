/*
 * log.c - a tiny printf for mm/, over glue_console_write().
 *
 * Freestanding: no libc, no 64-bit division on i386 (unsigned long is the
 * machine word on both targets), output assembled in a bounded line buffer so
 * a report reaches the console as one write.
 *
 * Owns the last report and the error count (mm_last_error, mm_error_count).
 * Calls string.c and the glue's console: the bottom of mm/ but for string.c.
 *
 * Locking: reports come from CPUs holding mm_lock and from CPUs holding only
 * the PMM's lock, so the line's way out (glue_console_write, the last report,
 * the counts) has a lock of its own: an xchg spinlock, the innermost of mm/'s
 * (nothing is called with it held but the glue's console).
 */
#include <stdarg.h>

#include "glue.h"
#include "lock.h"
#include "log.h"
#include "memory.h"

#define LINE_MAX 256

struct line {
    char buf[LINE_MAX];
    size_t len;
};

static char last_error[LINE_MAX];
static uint32_t error_count;
static int oom_quiet;         /* mm_set_oom_reports(0): a setting, kept by mm_log_reset */
static uint32_t oom_failures; /* failed allocation calls, reported or not */
static uint32_t out_lock;     /* 0 free, 1 taken: xchg */

static glue_irqflags_t out_take(void)
{
    glue_irqflags_t flags = glue_irq_save();
    mm_spin_lock(&out_lock);
    return flags;
}

static void out_give(glue_irqflags_t flags)
{
    mm_spin_unlock(&out_lock);
    glue_irq_restore(flags);
}

/* One line to the console, whole (under the output lock). */
static void out_write(const char *buf, size_t len)
{
    glue_irqflags_t f = out_take();
    glue_console_write(buf, len);
    out_give(f);
}

/* Two bytes stay free: mm_report's newline and last_error's terminator. */
static void put(struct line *l, char c)
{
    if (l->len < LINE_MAX - 2)
        l->buf[l->len++] = c;
}

static void put_str(struct line *l, const char *s)
{
    if (!s)
        s = "(null)";
    while (*s)
        put(l, *s++);
}

static void put_num(struct line *l, unsigned long v, unsigned base, int width, char pad)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (width-- > n)
        put(l, pad);
    while (n)
        put(l, digits[--n]);
}

static void format(struct line *l, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(l, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, left = 0;
        if (*fmt == '-') { /* left-justify (strings and numbers) */
            left = 1;
            fmt++;
        }
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        int is_long = 0;
        while (*fmt == 'l' || *fmt == 'z') {
            is_long = 1;
            fmt++;
        }
        size_t start = l->len;
        if (left)
            width = -width; /* padded after the conversion, below */
        switch (*fmt) {
        case 's': {
            const char *str = va_arg(ap, const char *);
            int n = 0;
            while (str && str[n])
                n++;
            for (; width > (str ? n : 6); width--) /* leaves width >= 0: no pad after */
                put(l, ' ');
            put_str(l, str);
            break;
        }
        case 'c':
            put(l, (char)va_arg(ap, int));
            break;
        case 'd': {
            long v = is_long ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) {
                unsigned long mag = 0UL - (unsigned long)v;
                int digits = 1;
                for (unsigned long t = mag; t >= 10; t /= 10)
                    digits++;
                for (int k = digits + 1; pad == ' ' && k < width; k++)
                    put(l, ' '); /* "  -7": spaces go before the sign, zeros after it */
                put(l, '-');
                put_num(l, mag, 10, pad == '0' && width ? width - 1 : 0, pad);
            } else {
                put_num(l, (unsigned long)v, 10, width, pad);
            }
            break;
        }
        case 'u':
            put_num(l, is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, width, pad);
            break;
        case 'x':
            put_num(l, is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, width, pad);
            break;
        case 'p':
            put_str(l, "0x");
            put_num(l, (unsigned long)(uintptr_t)va_arg(ap, void *), 16, 2 * sizeof(void *), '0');
            break;
        case '%':
            put(l, '%');
            break;
        default: /* unknown conversion: show it rather than guess */
            put(l, '%');
            if (*fmt)
                put(l, *fmt);
            else
                fmt--;
        }
        for (int n = (int)(l->len - start); n < -width; n++)
            put(l, ' ');
    }
}

/* A fresh line: prefix, then fmt formatted. */
static void line_start(struct line *l, const char *prefix, const char *fmt, va_list ap)
{
    l->len = 0;
    put_str(l, prefix);
    format(l, fmt, ap);
}

size_t mm_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    struct line l;
    va_list ap;
    va_start(ap, fmt);
    line_start(&l, "", fmt, ap);
    va_end(ap);
    if (size == 0)
        return 0;
    size_t n = l.len < size - 1 ? l.len : size - 1;
    memcpy(buf, l.buf, n);
    buf[n] = '\0';
    return n;
}

static void vprint(const char *fmt, va_list ap)
{
    struct line l;
    line_start(&l, "", fmt, ap);
    out_write(l.buf, l.len);
}

void mm_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

void mm_oom_printf(const char *fmt, ...)
{
    if (oom_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

void mm_oom_failed(void)
{
    glue_irqflags_t f = out_take();
    __atomic_store_n(&oom_failures, oom_failures + 1, __ATOMIC_RELAXED); /* read unlocked */
    out_give(f);
}

uint32_t mm_oom_count(void)
{
    return __atomic_load_n(&oom_failures, __ATOMIC_RELAXED);
}

int mm_oom_reports_on(void)
{
    return !oom_quiet;
}

int mm_set_oom_reports(int on)
{
    int was = !oom_quiet;
    oom_quiet = !on;
    return was;
}

void mm_report(const char *fmt, ...)
{
    struct line l;
    va_list ap;
    va_start(ap, fmt);
    line_start(&l, "ERROR: ", fmt, ap);
    va_end(ap);
    l.buf[l.len] = '\n';
    glue_irqflags_t f = out_take();
    memcpy(last_error, l.buf, l.len);
    last_error[l.len] = '\0';
    __atomic_store_n(&error_count, error_count + 1, __ATOMIC_RELAXED); /* read unlocked */
    glue_console_write(l.buf, l.len + 1);
    out_give(f);
}

/* The rest of a checker's line after "<check>: <where>: ", then the line goes out. */
static int check_line(struct line *l, const char *what, const char *cache)
{
    put_str(l, what);
    if (cache) {
        put_str(l, " (cache '");
        put_str(l, cache);
        put_str(l, "')");
    }
    put(l, '\n');
    out_write(l->buf, l->len);
    return 1;
}

__attribute__((format(printf, 2, 3))) static void check_start(struct line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_start(l, "", fmt, ap);
    va_end(ap);
}

int mm_check_failed(const char *check, const void *where, const char *what, const char *cache)
{
    struct line l;
    check_start(&l, "%s: %p: ", check, where);
    return check_line(&l, what, cache);
}

int mm_check_failed_at(const char *check, uint32_t addr, const char *what)
{
    struct line l;
    check_start(&l, "%s: 0x%08lx: ", check, (unsigned long)addr);
    return check_line(&l, what, NULL);
}

const char *mm_last_error(void)
{
    return last_error;
}

const char *mm_hex64(char *buf, size_t size, uint64_t v)
{
    if (v >> 32)
        mm_snprintf(buf, size, "0x%x%08x", (uint32_t)(v >> 32), (uint32_t)v);
    else
        mm_snprintf(buf, size, "0x%08x", (uint32_t)v);
    return buf;
}

uint32_t mm_error_count(void)
{
    return __atomic_load_n(&error_count, __ATOMIC_RELAXED);
}

void mm_log_reset(void)
{
    glue_irqflags_t f = out_take();
    last_error[0] = '\0';
    __atomic_store_n(&error_count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&oom_failures, 0, __ATOMIC_RELAXED);
    out_give(f);
}

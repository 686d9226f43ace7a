/*
 * lib.c - the embedding test kernel's own C library: the names a real kernel
 * already owns, which mm/ must not take from it.
 *
 *   memset memcpy memmove memcmp   this kernel's: string.c beside this file
 *   kalloc / kfree(char *)         a page pool of its own, xv6-style: a
 *                                  free list threaded through the pages,
 *                                  freed pages filled with junk (1s)
 *   serial, kprintf, embed_exit    COM1 and QEMU's isa-debug-exit (0xf4)
 *
 * No mm/ header is included here: these are the kernel's names, compiled
 * without the prefix switch.
 */
#include <stdarg.h>

#include "embed.h"

/* ---- the kernel's own page pool ---- */
struct run {
    struct run *next;
};
static struct {
    spinlock_t lock;
    struct run *free;
    uintptr_t base, end;
    int nfree;
} pool;

void kpool_init(uintptr_t base, uintptr_t end)
{
    pool.base = base;
    pool.end = end;
    for (uintptr_t p = base; p + EMBED_PAGE <= end; p += EMBED_PAGE)
        kfree((char *)p);
}

void kfree(char *v)
{
    uintptr_t p = (uintptr_t)v;
    if (p % EMBED_PAGE || p < pool.base || p >= pool.end) {
        kprintf("embed: FAIL kfree(char *): %p is not a page of the kernel's pool\n", (void *)v);
        embed_exit(1);
    }
    memset(v, 1, EMBED_PAGE); /* junk, as xv6 does */
    struct run *r = (struct run *)v;
    spin_acquire(&pool.lock);
    r->next = pool.free;
    pool.free = r;
    pool.nfree++;
    spin_release(&pool.lock);
}

char *kalloc(void)
{
    spin_acquire(&pool.lock);
    struct run *r = pool.free;
    if (r) {
        pool.free = r->next;
        pool.nfree--;
    }
    spin_release(&pool.lock);
    if (r)
        memset(r, 5, EMBED_PAGE);
    return (char *)r;
}

int kpool_free_pages(void)
{
    return pool.nfree;
}

/* ---- COM1 ---- */
#define COM1 0x3F8

void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xC7); /* FIFO */
}

static spinlock_t console_lock;

static void serial_raw(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(inb(COM1 + 5) & 0x20))
            ;
        outb(COM1, (uint8_t)s[i]);
    }
}

void serial_write(const char *s, size_t n)
{
    uint32_t f = read_eflags();
    __asm__ volatile("cli");
    spin_acquire(&console_lock);
    serial_raw(s, n);
    spin_release(&console_lock);
    if (f & EFLAGS_IF)
        __asm__ volatile("sti");
}

/* ---- kprintf: %s %c %d %u %x %p, '0' and a width; one line per call ---- */
static void put(char *buf, size_t *len, char c)
{
    if (*len < 255)
        buf[(*len)++] = c;
}

static void put_num(char *buf, size_t *len, uint32_t v, unsigned base, int neg, int width, char pad)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    while (width-- > n)
        put(buf, len, pad);
    while (n)
        put(buf, len, tmp[--n]);
}

void kprintf(const char *fmt, ...)
{
    char buf[256];
    size_t len = 0;
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(buf, &len, *fmt);
            continue;
        }
        char pad = ' ';
        int width = 0;
        if (*++fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (s && *s)
                put(buf, &len, *s++);
            break;
        }
        case 'c':
            put(buf, &len, (char)va_arg(ap, int));
            break;
        case 'd': {
            int v = va_arg(ap, int);
            put_num(buf, &len, v < 0 ? 0u - (uint32_t)v : (uint32_t)v, 10, v < 0, width, pad);
            break;
        }
        case 'u':
            put_num(buf, &len, va_arg(ap, unsigned), 10, 0, width, pad);
            break;
        case 'x':
            put_num(buf, &len, va_arg(ap, unsigned), 16, 0, width, pad);
            break;
        case 'p':
            put(buf, &len, '0');
            put(buf, &len, 'x');
            put_num(buf, &len, (uint32_t)(uintptr_t)va_arg(ap, void *), 16, 0, 8, '0');
            break;
        default:
            put(buf, &len, *fmt);
            break;
        }
    }
    va_end(ap);
    serial_write(buf, len);
}

/* QEMU's isa-debug-exit: QEMU exits with (value << 1) | 1, so 1 is a pass, 3 a failure. */
void embed_exit(int failed)
{
    outb(0xf4, failed ? 1 : 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}

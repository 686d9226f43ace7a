/*
 * trace_sample.c - a real allocation trace for tests/tools/test_tracestat.py:
 * the debug build with its checks on, a known pattern of allocations from
 * three call sites, then heap_trace_dump() on stdout.
 *
 *   site A: 10 x kmalloc(100), 4 of them freed
 *   site B: 5 x kmalloc(2000), all freed
 *   site C: 3 x kmalloc(24), none freed
 */
#include <stdio.h>

#include "host.h"
#include "memory.h"
#include "mm_debug.h"

int main(void)
{
    mm_debug_set(1);
    memory_init();
    void *a[10], *b[5], *c[3];
    for (int i = 0; i < 10; i++)
        a[i] = kmalloc(100); /* site A */
    for (int i = 0; i < 5; i++)
        b[i] = kmalloc(2000); /* site B */
    for (int i = 0; i < 3; i++)
        c[i] = kmalloc(24); /* site C */
    for (int i = 0; i < 4; i++)
        kfree(a[i]);
    for (int i = 0; i < 5; i++)
        kfree(b[i]);
    (void)c;
    host_console_clear();
    heap_trace_dump();
    fputs(host_console_text(), stdout);
    return heap_check() != 0;
}

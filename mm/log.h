/*
 * log.h - console output and caller-bug reports for the mm/ layers.
 *
 * Every caller bug (double free, wild pointer, ...) is reported through
 * mm_report(): one line "ERROR: <function>: <address>: <reason>", printed on
 * the glue console, kept as mm_last_error() and counted.  The caller's bug is
 * survived; the count shows up in memory_stats_t.error_count.
 */
#ifndef MM_LOG_H
#define MM_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "names_priv.h" /* -DMM_PREFIX: mm/'s shared names too */

/* printf subset: %s %c %d %u %x %p %%, flags '0', width, and l/z modifiers. */
__attribute__((format(printf, 1, 2))) void mm_printf(const char *fmt, ...);

/*
 * The same formatting into buf (at most size - 1 characters and a NUL, and
 * never more than one console line); returns the length written.  For code
 * that may not use stdio or malloc, such as the malloc shim.
 */
__attribute__((format(printf, 3, 4))) size_t mm_snprintf(char *buf, size_t size, const char *fmt,
                                                         ...);

/* Report a caller bug: prints "ERROR: " + message + "\n", records and counts it. */
__attribute__((format(printf, 1, 2))) void mm_report(const char *fmt, ...);

/*
 * A checker's report of one broken invariant (heap_check, pmm_check, ...): one
 * line "<check>: <where>: <what>", and " (cache '<cache>')" after it when cache
 * is not NULL.  Returns 1, so a checker counts with errors += mm_check_failed(...).
 * where is memory the heap hands out, printed as %p; mm_check_failed_at takes a
 * page or page-table address instead, printed as 0x%08lx on both hosts.
 */
int mm_check_failed(const char *check, const void *where, const char *what, const char *cache);
int mm_check_failed_at(const char *check, uint32_t addr, const char *what);

/*
 * v in hex for a message: 0x00500000, or 0x100000000 and up with all its
 * digits (no 64-bit conversion in mm_printf).  Returns buf; 20 bytes suffice.
 */
const char *mm_hex64(char *buf, size_t size, uint64_t v);

uint32_t mm_error_count(void);
void mm_log_reset(void);

/*
 * Out of memory (mm_set_oom_reports, memory.h): mm_oom_printf prints like
 * mm_printf unless the reports are off; mm_oom_failed counts one failed call
 * (call it once per public call that fails, reported or not).
 */
__attribute__((format(printf, 1, 2))) void mm_oom_printf(const char *fmt, ...);
void mm_oom_failed(void);
uint32_t mm_oom_count(void);
/* Are the reports on?  (A layer that prints once per episode starts none while they are off.) */
int mm_oom_reports_on(void);

#endif /* MM_LOG_H */

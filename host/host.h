/*
 * host.h - the host (Linux) side of the glue, for tests, fuzzers, benchmarks.
 *
 * Physical memory is simulated: one mmap'd block of HOST_PHYS_SIZE bytes,
 * where physical address P lives at host_phys_base() + P.  The console is
 * captured in a buffer that tests can read (and echoed to stderr when
 * MM_VERBOSE=1 is set in the environment).
 */
#ifndef HOST_H
#define HOST_H

#include <stddef.h>

#define HOST_PHYS_SIZE (64u * 1024 * 1024)

/* Everything the memory manager printed since the last host_console_clear(). */
const char *host_console_text(void);
void host_console_clear(void);
/* Does the captured console contain `needle`? */
int host_console_has(const char *needle);

char *host_phys_base(void);

#endif /* HOST_H */

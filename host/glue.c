/*
 * glue.c - mm/glue.h for Linux: simulated physical memory, a mutex, and a
 * console captured for the tests.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "glue.h"
#include "host.h"

#define CONSOLE_MAX (256 * 1024)

static char console[CONSOLE_MAX + 1];
static size_t console_len;
static pthread_mutex_t mm_mutex = PTHREAD_MUTEX_INITIALIZER;
static char *phys;

void glue_console_write(const char *s, size_t len)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("MM_VERBOSE") != NULL;
    if (verbose)
        fwrite(s, 1, len, stderr);
    /* Keep the newest output: tests look at what the last operations said. */
    if (len > CONSOLE_MAX)
        s += len - CONSOLE_MAX, len = CONSOLE_MAX;
    if (console_len + len > CONSOLE_MAX)
        console_len = 0;
    memcpy(console + console_len, s, len);
    console_len += len;
    console[console_len] = '\0';
}

const char *host_console_text(void)
{
    return console;
}

void host_console_clear(void)
{
    console_len = 0;
    console[0] = '\0';
}

int host_console_has(const char *needle)
{
    return strstr(console, needle) != NULL;
}

void glue_panic(const char *msg)
{
    fprintf(stderr, "PANIC: %s\n", msg);
    abort();
}

glue_irqflags_t glue_lock(void)
{
    pthread_mutex_lock(&mm_mutex);
    return 0;
}

void glue_unlock(glue_irqflags_t flags)
{
    (void)flags;
    pthread_mutex_unlock(&mm_mutex);
}

char *host_phys_base(void)
{
    if (!phys) {
        phys = mmap(NULL, HOST_PHYS_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (phys == MAP_FAILED) {
            perror("host: mmap of simulated physical memory");
            abort();
        }
    }
    return phys;
}

void *glue_phys_to_virt(uintptr_t p)
{
    if (p >= HOST_PHYS_SIZE)
        glue_panic("glue_phys_to_virt: address beyond simulated physical memory");
    return host_phys_base() + p;
}

/*
 * attack.h - what the tests that damage the heap on purpose share
 * (test_hostile, test_review, test_misuse): the header behind a payload, the
 * tests' own data pattern, and a crash watch that fails the one test instead
 * of ending the run.
 */
#ifndef ATTACK_H
#define ATTACK_H

#include <signal.h>
#include <unistd.h>

#include "harness.h"

/* The in-band header in front of a payload. */
static inline heap_block_t *hdr(void *payload)
{
    return (heap_block_t *)((char *)payload - HDR);
}

/* The test's own data: byte k of a block tagged tag. */
static inline unsigned char pattern(unsigned tag, size_t k)
{
    return (unsigned char)(tag * 53 + k * 31 + 1);
}

static inline void fill(void *p, size_t n, unsigned tag)
{
    for (size_t k = 0; k < n; k++)
        ((unsigned char *)p)[k] = pattern(tag, k);
}

/* The first byte that no longer holds the pattern, or n. */
static inline size_t first_change(const void *p, size_t n, unsigned tag)
{
    for (size_t k = 0; k < n; k++) {
        if (((const unsigned char *)p)[k] != pattern(tag, k))
            return k;
    }
    return n;
}

/*
 * One case, two tests: test_<name>_phase1 runs fn(phase1, ...) on the early
 * heap, test_<name>_phase2 runs fn(phase2, ...) on the virtual heap (each
 * file numbers its phases its own way).
 */
#define IN_BOTH_PHASES(name, fn, phase1, phase2, ...)                                              \
    static void test_##name##_phase1(void **state)                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        fn(phase1, ##__VA_ARGS__);                                                                 \
    }                                                                                              \
    static void test_##name##_phase2(void **state)                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        fn(phase2, ##__VA_ARGS__);                                                                 \
    }

/* ------------------------------------------------------- crash watch ---- */

/* The case running, named in a crash report (left empty, the report names the signal alone). */
static char crash_case[256];

static inline void crash_on_signal(int sig)
{
    fail_msg("crashed: signal %d (%s)%s%s", sig, strsignal(sig), crash_case[0] ? " in case: " : "",
             crash_case);
}

/*
 * SIGSEGV, SIGBUS, SIGABRT (glue_panic) and a watchdog alarm after `seconds`
 * fail the running test.  Installed in the test body: cmocka installs its own
 * handlers before each test.
 */
static inline void crash_watch(unsigned seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = crash_on_signal;
    sa.sa_flags = SA_NODEFER; /* left by longjmp */
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGALRM};
    sigset_t unblock;
    sigemptyset(&unblock);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&unblock, sigs[i]);
    }
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    alarm(seconds);
}

/* A cmocka teardown: the watchdog off. */
static inline int crash_watch_off(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

#endif /* ATTACK_H */

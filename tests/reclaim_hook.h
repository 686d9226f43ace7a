/*
 * reclaim_hook.h - the reclaim hook of the page-owner tests, host
 * (tests/host/test_owners.c) and kernel (tests/kernel/test_owners.c) alike.
 *
 * It counts its calls and how deep they nest, allocates a page inside (the
 * PMM is dry when it runs: that allocation must not run the hooks again), and
 * gives back the one spare page the test hands it in hook_spare.  Returns the
 * pages it gave back.
 */
#ifndef TESTS_RECLAIM_HOOK_H
#define TESTS_RECLAIM_HOOK_H

#include <stddef.h>

#include "pmm.h"

static int hook_calls, hook_depth, hook_max_depth;
static paddr_t hook_spare;

static size_t reclaim_hook(void)
{
    hook_calls++;
    if (++hook_depth > hook_max_depth)
        hook_max_depth = hook_depth;
    paddr_t p = pmm_alloc_page(); /* the PMM is dry: this must not run the hooks again */
    if (p)
        pmm_free_page(p);
    size_t n = hook_spare != 0;
    if (hook_spare)
        pmm_free_page(hook_spare);
    hook_spare = 0;
    hook_depth--;
    return n;
}

#endif /* TESTS_RECLAIM_HOOK_H */

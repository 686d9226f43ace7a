/*
 * lock_holder.h - one CPU (a thread) takes one of mm/'s locks and waits while
 * the test's thread works beside it (test_lock.c, test_lock_split.c).
 *
 *   pthread_t t = start_holder(mm_lock, mm_unlock);  returns once the lock is held
 *   ... work that must not need that lock ...
 *   assert_true(stop_holder(t));  1: the holder still held it when the work was done
 *
 * The holder lets go when told, or after 10 s: work that waits for the lock
 * still finishes, and stop_holder then says 0.
 */
#ifndef LOCK_HOLDER_H
#define LOCK_HOLDER_H

#include <pthread.h>
#include <unistd.h>

#include "harness.h"
#include "lock.h"

struct lock_holder {
    glue_irqflags_t (*lock)(void);
    void (*unlock)(glue_irqflags_t);
};

static struct lock_holder holder_lock;
static int holding, work_done; /* __atomic */

static void *lock_holder_thread(void *arg)
{
    (void)arg;
    glue_irqflags_t f = holder_lock.lock();
    __atomic_store_n(&holding, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 10000 && !__atomic_load_n(&work_done, __ATOMIC_ACQUIRE); i++)
        usleep(1000);
    __atomic_store_n(&holding, 0, __ATOMIC_RELEASE);
    holder_lock.unlock(f);
    return NULL;
}

static inline pthread_t start_holder(glue_irqflags_t (*lock)(void), void (*unlock)(glue_irqflags_t))
{
    holder_lock = (struct lock_holder){lock, unlock};
    __atomic_store_n(&holding, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&work_done, 0, __ATOMIC_RELEASE);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, lock_holder_thread, NULL), 0);
    while (!__atomic_load_n(&holding, __ATOMIC_ACQUIRE))
        usleep(1000);
    return t;
}

/* 1 if the holder still held its lock when the work was done. */
static inline int stop_holder(pthread_t t)
{
    int still = __atomic_load_n(&holding, __ATOMIC_ACQUIRE);
    __atomic_store_n(&work_done, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(t, NULL), 0);
    return still;
}

#endif /* LOCK_HOLDER_H */

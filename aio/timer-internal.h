/*
 * aio/timer-internal.h - the per-AioContext timer lists, as seen by the loop.
 *
 * Each AioContext owns one AioTimerLists (created with the context), holding
 * one deadline-sorted list per QEMUClockType.  timer_mod()/timer_del() may be
 * called from any thread: a mutex guards the lists, and arming a timer that
 * becomes its clock's earliest calls aio_notify() so that a blocked
 * aio_poll() recomputes its timeout.  That wakeup is reliable because the
 * loop re-reads 'notified' after announcing its sleep (notify_me), whether
 * it read aio_timer_lists_deadline_ns() before or after: see timer_notify()
 * in timer.c and docs/aio.md.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AIO_TIMER_INTERNAL_H
#define AIO_TIMER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "qcontext/aio/aio.h"

typedef struct AioTimerLists AioTimerLists;

struct AioTimerLists {
    AioContext *ctx;
    pthread_mutex_t lock;
    QEMUTimer *active[QEMU_CLOCK_MAX]; /* armed timers, earliest first */
    unsigned armed; /* atomic, written under the lock: timers in active[] */
};

/*
 * aio_timer_lists_idle: no timer armed (the loop's fast path: no lock and
 * no clock read; inlined, it is on every iteration's path).  A timer armed
 * meanwhile by another thread is seen on the next iteration: timer_mod()
 * notifies after the insertion, and the poller's acquire of 'notified'
 * (aio_notify_accept) orders it before the next load here.
 */
static inline bool aio_timer_lists_idle(AioTimerLists *tl)
{
    return __atomic_load_n(&tl->armed, __ATOMIC_RELAXED) == 0;
}

/** aio_timer_lists_new: empty timer lists for @ctx (called by aio_context_new). */
AioTimerLists *aio_timer_lists_new(AioContext *ctx);

/**
 * aio_timer_lists_free: free @tl.  Timers still armed are disarmed; every
 * timer must be freed by its owner before its context goes away.
 */
void aio_timer_lists_free(AioTimerLists *tl);

/**
 * aio_timer_lists_deadline_ns: nanoseconds until the earliest armed timer of
 * any clock expires; 0 if one has expired already, -1 if none is armed.
 * Any thread.
 */
int64_t aio_timer_lists_deadline_ns(AioTimerLists *tl);

/**
 * aio_timer_lists_run_expired: run the callbacks of all expired timers, on
 * the home thread.  Callbacks may re-arm, delete or free their own or any
 * other timer, and may call aio_poll() recursively.  Returns true if at
 * least one callback ran.
 */
bool aio_timer_lists_run_expired(AioTimerLists *tl);

#endif /* AIO_TIMER_INTERNAL_H */

/*
 * aio/timer-internal.h - the per-AioContext timer lists, as seen by the loop.
 *
 * Each AioContext owns one AioTimerLists (created with the context), holding
 * one deadline-sorted list per QEMUClockType.  timer_mod()/timer_del() may be
 * called from any thread: a mutex guards the lists, and arming a timer that
 * becomes its clock's earliest calls aio_notify() so that a blocked
 * aio_poll() recomputes its timeout.  For that wakeup to be reliable, the
 * loop must announce that it is about to block (notify_me) BEFORE it reads
 * aio_timer_lists_deadline_ns().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AIO_TIMER_INTERNAL_H
#define AIO_TIMER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "aio/aio.h"

typedef struct AioTimerLists AioTimerLists;

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

/*
 * Provided by the loop (aio/async.c): the timer lists of @ctx.  Also
 * declared in aio/aio-internal.h; repeated here so that timer.c depends on
 * nothing else of the loop's internals.
 */
AioTimerLists *aio_context_get_timer_lists(AioContext *ctx);

#endif /* AIO_TIMER_INTERNAL_H */

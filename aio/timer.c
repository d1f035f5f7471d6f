/*
 * aio/timer.c - clocks and the per-AioContext timer lists.
 *
 * Every timer is kept in nanoseconds end to end: expire times are stored in
 * ns, the deadline given to the loop is in ns, and the loop waits with a
 * nanosecond timeout (epoll_pwait2, ppoll, io_uring timeouts).
 *
 * Each AioContext has one AioTimerLists: a mutex and, per clock, a singly
 * linked list of armed timers sorted by expire time (earliest first).  Lists
 * are short in practice (a few timers per device), so insertion is a walk.
 *
 * Running expired timers pops one expired timer at a time under the lock,
 * marks it disarmed, drops the lock and calls its callback without touching
 * the timer afterwards.  So a callback may re-arm, delete or free its own or
 * any other timer, or run a nested aio_poll(), and nothing dangles.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <time.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "aio-internal.h"
#include "timer-internal.h"

/* ------------------------------------------------------------------------ */
/* Clocks                                                                     */
/* ------------------------------------------------------------------------ */

static inline int64_t clock_read_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t qemu_clock_get_ns(QEMUClockType type)
{
    return clock_read_ns(type == QEMU_CLOCK_HOST ? CLOCK_REALTIME : CLOCK_MONOTONIC);
}

int64_t aio_now_ns(void)
{
    return clock_read_ns(CLOCK_MONOTONIC);
}

int64_t qemu_clock_get_us(QEMUClockType type)
{
    return qemu_clock_get_ns(type) / SCALE_US;
}

int64_t qemu_clock_get_ms(QEMUClockType type)
{
    return qemu_clock_get_ns(type) / SCALE_MS;
}

/* ------------------------------------------------------------------------ */
/* The lists                                                                  */
/* ------------------------------------------------------------------------ */

AioTimerLists *aio_timer_lists_new(AioContext *ctx)
{
    AioTimerLists *tl = g_new0(AioTimerLists, 1);

    tl->ctx = ctx;
    pthread_mutex_init(&tl->lock, NULL);
    return tl;
}

void aio_timer_lists_free(AioTimerLists *tl)
{
    if (!tl) {
        return;
    }
    for (int type = 0; type < QEMU_CLOCK_MAX; type++) {
        QEMUTimer *ts = tl->active[type];
        while (ts) {
            QEMUTimer *next = ts->next;
            ts->expire_time = -1;
            ts->next = NULL;
            ts = next;
        }
    }
    pthread_mutex_destroy(&tl->lock);
    g_free(tl);
}

/* Unlink @ts from its clock's list if armed.  Called with the lock held. */
static void timer_del_locked(AioTimerLists *tl, QEMUTimer *ts)
{
    QEMUTimer **pt = &tl->active[ts->type];

    if (ts->expire_time < 0) {
        return;
    }
    while (*pt) {
        if (*pt == ts) {
            *pt = ts->next;
            __atomic_store_n(&tl->armed, tl->armed - 1, __ATOMIC_RELAXED);
            break;
        }
        pt = &(*pt)->next;
    }
    ts->next = NULL;
    ts->expire_time = -1;
}

/*
 * Insert @ts (not armed) at @expire_ns, after timers with the same expire
 * time.  Returns true if it became the earliest of its clock.  Lock held.
 */
static bool timer_insert_locked(AioTimerLists *tl, QEMUTimer *ts, int64_t expire_ns)
{
    QEMUTimer **pt = &tl->active[ts->type];

    while (*pt && (*pt)->expire_time <= expire_ns) {
        pt = &(*pt)->next;
    }
    ts->expire_time = expire_ns;
    ts->next = *pt;
    *pt = ts;
    __atomic_store_n(&tl->armed, tl->armed + 1, __ATOMIC_RELAXED);
    return pt == &tl->active[ts->type];
}

int64_t aio_timer_lists_deadline_ns(AioTimerLists *tl)
{
    int64_t deadline = -1;

    if (aio_timer_lists_idle(tl)) {
        return -1;
    }
    pthread_mutex_lock(&tl->lock);
    for (int type = 0; type < QEMU_CLOCK_MAX && deadline != 0; type++) {
        QEMUTimer *head = tl->active[type];
        int64_t delta;

        if (!head) {
            continue;
        }
        delta = head->expire_time - qemu_clock_get_ns(type);
        if (delta < 0) {
            delta = 0;
        }
        if (deadline < 0 || delta < deadline) {
            deadline = delta;
        }
    }
    pthread_mutex_unlock(&tl->lock);
    return deadline;
}

/*
 * Pop the earliest timer of clock @type if it expired at or before *@now,
 * disarmed, and copy its callback: once the lock is dropped another thread
 * may free the timer.  *@now is read once, when first needed (-1: not yet),
 * so that a clock with no armed timer costs no clock read.
 */
static bool timer_pop_expired(AioTimerLists *tl, int type, int64_t *now,
                              QEMUTimerCB **cb, void **opaque)
{
    QEMUTimer *ts;
    bool popped = false;

    pthread_mutex_lock(&tl->lock);
    ts = tl->active[type];
    if (ts && *now < 0) {
        *now = qemu_clock_get_ns(type);
    }
    if (ts && ts->expire_time <= *now) {
        tl->active[type] = ts->next;
        __atomic_store_n(&tl->armed, tl->armed - 1, __ATOMIC_RELAXED);
        /* Wakeup latency of a timer: its deadline -> start of dispatch. */
        lat_hist_record(&tl->ctx->stats.wakeup, (uint64_t)(*now - ts->expire_time));
        ts->next = NULL;
        ts->expire_time = -1;
        *cb = ts->cb;
        *opaque = ts->opaque;
        popped = true;
    }
    pthread_mutex_unlock(&tl->lock);
    return popped;
}

bool aio_timer_lists_run_expired(AioTimerLists *tl)
{
    bool progress = false;

    if (aio_timer_lists_idle(tl)) {
        return false;
    }
    for (int type = 0; type < QEMU_CLOCK_MAX; type++) {
        /*
         * Read the clock once per list: a callback that re-arms its timer
         * into the past runs again, one that re-arms it later than @now
         * waits for the next iteration.
         */
        int64_t now = -1;
        QEMUTimerCB *cb;
        void *opaque;

        /* The timer may be freed by its callback or another thread. */
        while (timer_pop_expired(tl, type, &now, &cb, &opaque)) {
            cb(opaque);
            progress = true;
        }
    }
    return progress;
}

/* ------------------------------------------------------------------------ */
/* Public timer API                                                           */
/* ------------------------------------------------------------------------ */

void aio_timer_init(AioContext *ctx, QEMUTimer *ts, QEMUClockType type, int scale,
                    QEMUTimerCB *cb, void *opaque)
{
    g_return_if_fail(ctx != NULL && ts != NULL);
    g_return_if_fail(type >= 0 && type < QEMU_CLOCK_MAX);
    g_return_if_fail(scale > 0);
    g_return_if_fail(cb != NULL);

    *ts = (QEMUTimer){
        .tl = ctx->timer_lists,
        .type = type,
        .scale = scale,
        .cb = cb,
        .opaque = opaque,
        .expire_time = -1,
    };
}

QEMUTimer *aio_timer_new(AioContext *ctx, QEMUClockType type, int scale,
                         QEMUTimerCB *cb, void *opaque)
{
    QEMUTimer *ts;

    g_return_val_if_fail(ctx != NULL, NULL);
    g_return_val_if_fail(type >= 0 && type < QEMU_CLOCK_MAX, NULL);
    g_return_val_if_fail(scale > 0, NULL);
    g_return_val_if_fail(cb != NULL, NULL);

    ts = g_new(QEMUTimer, 1);
    aio_timer_init(ctx, ts, type, scale, cb, opaque);
    return ts;
}

void timer_deinit(QEMUTimer *ts)
{
    g_return_if_fail(ts != NULL);
    timer_del(ts);
    ts->tl = NULL;
}

/*
 * The earliest deadline of @tl moved earlier: wake the loop so that it
 * recomputes its timeout.  The home thread cannot be blocked in the loop
 * while it runs this, and it reads the deadline afresh before it blocks
 * again, so it needs no wakeup.  Any other thread notifies; aio_notify() is
 * cheap when the loop is not sleeping.  The loop computes its timeout
 * before it announces the sleep (notify_me += 2); what makes a concurrent
 * timer_mod() safe is that aio_notify() publishes 'notified' after the list
 * update (A), and the loop re-reads 'notified' (seq_cst) after announcing
 * the sleep: if it sees it, it does not block; if not, aio_notify() sees
 * notify_me and writes the eventfd (B).  See docs/aio.md.
 */
static void timer_notify(AioTimerLists *tl)
{
    if (!aio_in_home_thread(tl->ctx)) {
        aio_notify(tl->ctx);
    }
}

void timer_mod_ns(QEMUTimer *ts, int64_t expire_time)
{
    AioTimerLists *tl;
    int64_t old_head;
    bool earliest;

    g_return_if_fail(ts != NULL && ts->tl != NULL);
    tl = ts->tl;
    if (expire_time < 0) {
        expire_time = 0;
    }
    pthread_mutex_lock(&tl->lock);
    old_head = tl->active[ts->type] ? tl->active[ts->type]->expire_time : -1;
    timer_del_locked(tl, ts);
    earliest = timer_insert_locked(tl, ts, expire_time);
    pthread_mutex_unlock(&tl->lock);

    /* Only @tl is used after the unlock; it lives as long as the context. */
    if (earliest && (old_head < 0 || expire_time < old_head)) {
        timer_notify(tl);
    }
}

/* @expire_time in @ts's scale, converted to ns and saturated on overflow. */
static int64_t timer_scale_to_ns(QEMUTimer *ts, int64_t expire_time)
{
    int64_t ns;

    if (__builtin_mul_overflow(expire_time, (int64_t)ts->scale, &ns)) {
        ns = expire_time < 0 ? 0 : INT64_MAX;
    }
    return ns;
}

void timer_mod(QEMUTimer *ts, int64_t expire_time)
{
    g_return_if_fail(ts != NULL && ts->tl != NULL);
    timer_mod_ns(ts, timer_scale_to_ns(ts, expire_time));
}

void timer_mod_anticipate(QEMUTimer *ts, int64_t expire_time)
{
    AioTimerLists *tl;
    int64_t expire_ns;
    bool earliest = false;

    g_return_if_fail(ts != NULL && ts->tl != NULL);
    tl = ts->tl;
    expire_ns = timer_scale_to_ns(ts, expire_time);
    if (expire_ns < 0) {
        expire_ns = 0;
    }
    pthread_mutex_lock(&tl->lock);
    if (ts->expire_time < 0 || ts->expire_time > expire_ns) {
        timer_del_locked(tl, ts);
        earliest = timer_insert_locked(tl, ts, expire_ns);
    }
    pthread_mutex_unlock(&tl->lock);
    if (earliest) {
        timer_notify(tl);
    }
}

void timer_del(QEMUTimer *ts)
{
    AioTimerLists *tl;

    g_return_if_fail(ts != NULL);
    tl = ts->tl;
    if (!tl) {
        return; /* deinit: never armed since */
    }
    pthread_mutex_lock(&tl->lock);
    timer_del_locked(tl, ts);
    pthread_mutex_unlock(&tl->lock);
}

int64_t timer_expire_time_ns(QEMUTimer *ts)
{
    int64_t expire;

    g_return_val_if_fail(ts != NULL, -1);
    if (!ts->tl) {
        return -1;
    }
    pthread_mutex_lock(&ts->tl->lock);
    expire = ts->expire_time;
    pthread_mutex_unlock(&ts->tl->lock);
    return expire;
}

bool timer_pending(QEMUTimer *ts)
{
    return timer_expire_time_ns(ts) >= 0;
}

void timer_free(QEMUTimer *ts)
{
    if (!ts) {
        return;
    }
    timer_del(ts);
    g_free(ts);
}

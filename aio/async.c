/*
 * aio/async.c - AioContext lifetime, home thread, aio_notify(), timeouts,
 * poll parameters and statistics (bottom halves: aio/bh.c).
 *
 * The notify_me protocol and the BH state machine are described with
 * diagrams in docs/aio.md; the comments here name the barrier each barrier
 * pairs with.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "aio-internal.h"
#include "qcontext/aio/thread-pool.h"
#include "timer-internal.h"

GQuark aio_error_quark(void)
{
    return g_quark_from_static_string("aio-error-quark");
}

/* The context whose home thread is the calling thread. */
static __thread AioContext *current_aio_context;

/* ------------------------------------------------------------------------ */
/* Home thread                                                               */
/* ------------------------------------------------------------------------ */

/*
 * Record @thread (0: none) with its kernel id as @ctx's home.  The tid is
 * only reported (aio_context_get_home_tid()), never compared: thread
 * checks compare pthread_self(), which costs no system call.
 */
static void aio_context_store_home(AioContext *ctx, unsigned long thread, int tid)
{
    __atomic_store_n(&ctx->home_tid, tid, __ATOMIC_RELAXED);
    /* Release: pairs with the acquire in aio_in_home_thread(). */
    __atomic_store_n(&ctx->home_thread, thread, __ATOMIC_RELEASE);
}

void aio_context_set_home_thread(AioContext *ctx)
{
    g_return_if_fail(ctx != NULL);
    aio_rcu_register_thread();
    aio_context_store_home(ctx, (unsigned long)pthread_self(), (int)gettid());
    current_aio_context = ctx;
}

void aio_context_clear_home_thread(AioContext *ctx)
{
    g_return_if_fail(ctx != NULL);
    aio_context_store_home(ctx, 0, 0);
    if (current_aio_context == ctx) {
        current_aio_context = NULL;
    }
}

bool in_aio_context_home_thread(AioContext *ctx)
{
    return aio_in_home_thread(ctx);
}

int aio_context_get_home_tid(AioContext *ctx)
{
    g_return_val_if_fail(ctx != NULL, 0);
    return __atomic_load_n(&ctx->home_tid, __ATOMIC_RELAXED);
}

AioContext *qemu_get_current_aio_context(void)
{
    return current_aio_context;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Free what aio_context_new() sets up before the handlers (the timer lists
 * if made, the notifier, the lock) and @ctx itself: the end of both a failed
 * aio_context_new() and aio_context_free().
 */
static void aio_context_free_base(AioContext *ctx)
{
    if (ctx->timer_lists) {
        aio_timer_lists_free(ctx->timer_lists);
    }
    event_notifier_cleanup(&ctx->notifier);
    g_clear_pointer(&ctx->handler_by_fd, g_hash_table_destroy);
    pthread_mutex_destroy(&ctx->list_lock);
    if (current_aio_context == ctx) {
        current_aio_context = NULL;
    }
    free(ctx); /* posix_memalign() */
}

/* Zeroed, aligned to a cache line (the struct's field groups are). */
static AioContext *aio_context_alloc(void)
{
    void *mem = NULL;

    if (posix_memalign(&mem, AIO_CACHELINE, sizeof(AioContext)) != 0) {
        g_error("aio: out of memory");
    }
    return memset(mem, 0, sizeof(AioContext));
}

AioContext *aio_context_new(GError **errp)
{
    AioContext *ctx = aio_context_alloc();
    int ret;

    ctx->refcnt = 1;
    ctx->notifier.rfd = ctx->notifier.wfd = -1;
    pthread_mutex_init(&ctx->list_lock, NULL);
    CDS_INIT_LIST_HEAD(&ctx->handlers);
    ctx->handler_by_fd = g_hash_table_new(NULL, NULL);
    /* At home here; the thread's current context stays what it was. */
    aio_rcu_register_thread();
    aio_context_store_home(ctx, (unsigned long)pthread_self(), (int)gettid());

    ret = event_notifier_init(&ctx->notifier, 0);
    if (ret < 0) {
        g_set_error(errp, AIO_ERROR, 0, "Could not create the event loop's eventfd: %s",
                    g_strerror(-ret));
        goto fail;
    }
    ctx->timer_lists = aio_timer_lists_new(ctx);
    if (!aio_handlers_init(ctx, errp)) {
        goto fail;
    }
    return ctx;

fail:
    aio_context_free_base(ctx);
    return NULL;
}

void aio_context_ref(AioContext *ctx)
{
    g_return_if_fail(ctx != NULL);
    __atomic_fetch_add(&ctx->refcnt, 1, __ATOMIC_RELAXED);
}

static void aio_context_free(AioContext *ctx)
{
    /*
     * No one else holds a reference, so no one else polls @ctx: the freeing
     * thread adopts it (without making it its current context), so that
     * draining the pool may block in aio_poll() even when the home thread
     * is gone.
     */
    aio_rcu_register_thread();
    aio_context_store_home(ctx, (unsigned long)pthread_self(), (int)gettid());
    /* Layers above first: they may still poll and use the pool. */
    aio_context_slots_destroy(ctx);
    /* The pool's completion BH and workers go before the BHs are freed. */
    aio_thread_pool_cleanup(ctx);
    aio_handlers_cleanup(ctx);
    aio_bh_free_all(ctx);
    aio_context_free_base(ctx);
}

void aio_context_unref(AioContext *ctx)
{
    if (!ctx) {
        return;
    }
    /*
     * Acq_rel, pairing with the same decrement of every other unref: each
     * releases its owner's accesses; the last one acquires them all (the
     * decrements form one release sequence).
     */
    if (__atomic_sub_fetch(&ctx->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
        aio_context_free(ctx);
    }
}

/* ------------------------------------------------------------------------ */
/* aio_notify (see docs/aio.md, "The notify_me protocol")                    */
/* ------------------------------------------------------------------------ */

/*
 * Remember when the wakeup of a sleeping loop was requested, for the
 * wakeup-latency histogram.  Only then: its clock read and CAS ride on the
 * eventfd write that follows, and a loop that is busy or polling (where the
 * notify costs two atomics) pays nothing for statistics.
 */
static void aio_notify_stamp(AioContext *ctx)
{
    int64_t expected = 0;

    /* Cheap pre-check so that the clock is read only when we will win. */
    if (__atomic_load_n(&ctx->notify_ts, __ATOMIC_RELAXED) != 0) {
        return;
    }
    __atomic_compare_exchange_n(&ctx->notify_ts, &expected, aio_now_ns(), false,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

void aio_notify(AioContext *ctx)
{
    /*
     * (A) Publish notified after the work (BH list, timers, handlers): the
     * seq_cst store is a release, acquired by the exchange in
     * aio_notify_accept() and by the seq_cst loads of notified.
     * (B) Then read notify_me.  Both seq_cst: they pair with the seq_cst
     * store of notify_me and load of notified in aio_poll() and in the
     * GSource's prepare (store buffering: at least one side sees the other's
     * store, so either we write the eventfd or the poller does not block).
     */
    __atomic_store_n(&ctx->notified, true, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&ctx->notify_me, __ATOMIC_SEQ_CST)) {
        aio_notify_stamp(ctx);
        event_notifier_set(&ctx->notifier);
    }
}

void aio_notify_accept(AioContext *ctx)
{
    /*
     * (C) Clear notified with an exchange: a read-modify-write reads the
     * latest value, so either it consumes an aio_notify()'s store and, being
     * an acquire, synchronizes with its release (A) (the reads of the work
     * that follow see it), or that store comes later and stays set for the
     * next iteration.  Nothing to do (and no atomic RMW) if it is clear.
     */
    if (__atomic_load_n(&ctx->notified, __ATOMIC_RELAXED)) {
        (void)__atomic_exchange_n(&ctx->notified, false, __ATOMIC_SEQ_CST);
    }
}

/* The context's own eventfd: readable handler, io_poll and io_poll_ready. */
static void aio_context_notifier_read(void *opaque)
{
    AioContext *ctx = opaque;

    event_notifier_test_and_clear(&ctx->notifier);
}

static bool aio_context_notifier_poll(void *opaque)
{
    AioContext *ctx = opaque;

    return __atomic_load_n(&ctx->notified, __ATOMIC_RELAXED);
}

static void aio_context_notifier_poll_ready(void *opaque)
{
    /* Nothing to do: aio_poll() calls aio_notify_accept() anyway. */
    (void)opaque;
}

void aio_context_add_notifier(AioContext *ctx)
{
    aio_set_fd_handler_full(ctx, event_notifier_get_fd(&ctx->notifier),
                            aio_context_notifier_read, NULL, aio_context_notifier_poll,
                            aio_context_notifier_poll_ready, ctx, true);
}

/* ------------------------------------------------------------------------ */
/* Timeout, poll parameters, statistics                                      */
/* ------------------------------------------------------------------------ */

int64_t aio_compute_timeout_ns(AioContext *ctx)
{
    int64_t timeout = aio_bh_timeout_ns(ctx);

    if (timeout == 0) {
        return 0;
    }
    return aio_timeout_min(timeout, aio_timer_lists_deadline_ns(ctx->timer_lists));
}

bool aio_context_set_poll_params(AioContext *ctx, int64_t max_ns, int64_t grow,
                                 int64_t shrink, GError **errp)
{
    g_return_val_if_fail(ctx != NULL, false);
    if (max_ns < 0 || grow < 0 || shrink < 0) {
        g_set_error(errp, AIO_ERROR, 0,
                    "poll-max-ns, poll-grow and poll-shrink must not be negative "
                    "(got %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                    ")",
                    max_ns, grow, shrink);
        return false;
    }
    __atomic_store_n(&ctx->poll_max_ns, max_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&ctx->poll_grow, grow, __ATOMIC_RELAXED);
    __atomic_store_n(&ctx->poll_shrink, shrink, __ATOMIC_RELAXED);
    /* Release: pairs with the acquire load of poll_gen in poll_params_refresh(). */
    __atomic_fetch_add(&ctx->poll_gen, 1, __ATOMIC_RELEASE);
    aio_notify(ctx);
    return true;
}

void aio_context_get_poll_params(AioContext *ctx, int64_t *max_ns, int64_t *grow,
                                 int64_t *shrink)
{
    g_return_if_fail(ctx != NULL);
    if (max_ns) {
        *max_ns = __atomic_load_n(&ctx->poll_max_ns, __ATOMIC_RELAXED);
    }
    if (grow) {
        *grow = __atomic_load_n(&ctx->poll_grow, __ATOMIC_RELAXED);
    }
    if (shrink) {
        *shrink = __atomic_load_n(&ctx->poll_shrink, __ATOMIC_RELAXED);
    }
}

void aio_context_get_stats(AioContext *ctx, AioContextStats *stats)
{
    const AioContextStats *s = &ctx->stats;

    g_return_if_fail(ctx != NULL && stats != NULL);
    stats->iterations = __atomic_load_n(&s->iterations, __ATOMIC_RELAXED);
    stats->dispatches = __atomic_load_n(&s->dispatches, __ATOMIC_RELAXED);
    stats->wakeups = __atomic_load_n(&s->wakeups, __ATOMIC_RELAXED);
    stats->busy_ns = __atomic_load_n(&s->busy_ns, __ATOMIC_RELAXED);
    stats->wait_ns = __atomic_load_n(&s->wait_ns, __ATOMIC_RELAXED);
    stats->poll_ns = __atomic_load_n(&s->poll_ns, __ATOMIC_RELAXED);
    stats->poll_hits = __atomic_load_n(&s->poll_hits, __ATOMIC_RELAXED);
    stats->poll_misses = __atomic_load_n(&s->poll_misses, __ATOMIC_RELAXED);
    stats->poll_window_ns = __atomic_load_n(&ctx->poll_ns, __ATOMIC_RELAXED);
    lat_hist_copy(&stats->wakeup, &s->wakeup);
}

void aio_stats_record_wakeup(AioContext *ctx, int64_t now)
{
    int64_t ts;

    if (__atomic_load_n(&ctx->notify_ts, __ATOMIC_RELAXED) == 0 ||
        !aio_in_home_thread(ctx)) {
        return;
    }
    ts = __atomic_exchange_n(&ctx->notify_ts, 0, __ATOMIC_RELAXED);
    if (ts) {
        /* No clock read yet, or a notify stamped after it: read it now. */
        if (now < ts) {
            now = aio_now_ns();
        }
        lat_hist_record(&ctx->stats.wakeup, now > ts ? (uint64_t)(now - ts) : 0);
    }
}

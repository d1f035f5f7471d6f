/*
 * aio/aio-gsource.c - an AioContext as a GSource.
 *
 * prepare: announce the sleep (notify_me |= 1) and compute the timeout from
 *          BHs and timers, like aio_poll() does before blocking;
 * (GLib polls: the fd monitor's own fd, e.g. the epoll fd, or else every
 *          handler's fd)
 * check:   clear the announcement, accept the notification, report whether
 *          anything is ready;
 * dispatch: one non-blocking aio_poll(): BHs, timers, ready handlers.
 *
 * Timeouts keep nanosecond precision: GLib's poll timeout is in
 * milliseconds, so a finite timeout is given to GLib as "block" and armed
 * instead on a timerfd (CLOCK_MONOTONIC, absolute) that GLib polls with the
 * other fds.  The timerfd is re-armed only when the deadline changes.
 *
 * The thread iterating the GMainContext must be the context's home thread.
 * No busy-polling happens in this mode.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "aio-internal.h"

typedef struct AioSource {
    GSource source;
    AioContext *ctx; /* strong reference */
    /*
     * The monitor's fd, if it has one: a GPollFD of our own (not a unix fd
     * tag, which GLib dispatches whenever it polls readable), so that check
     * decides (the monitor may find only completions that report nothing).
     */
    GPollFD mon_pfd;
    bool mon_polled;
    GPtrArray *fd_tags; /* else one tag per handler fd */
    unsigned fdmon_gen_seen;
    unsigned handlers_gen_seen;
    bool synced;
    bool blocking; /* prepare asked GLib to block */
    int64_t prepare_ns;
    int timerfd; /* ns-precise timeouts; -1 if unavailable */
    gpointer timer_tag;
    int64_t timer_armed_ns; /* absolute CLOCK_MONOTONIC deadline, 0: none */
} AioSource;

static void aio_source_drop_fd_tags(AioSource *as)
{
    for (guint i = 0; i < as->fd_tags->len; i++) {
        g_source_remove_unix_fd(&as->source, g_ptr_array_index(as->fd_tags, i));
    }
    g_ptr_array_set_size(as->fd_tags, 0);
}

/* Poll every handler's fd (monitors without a single fd, e.g. ppoll). */
static void aio_source_add_handler_fds(AioSource *as)
{
    AioContext *ctx = as->ctx;
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(int) * 2);
    AioHandler *node;

    /* Collect under the lock, add to GLib (which takes its own lock) after. */
    pthread_mutex_lock(&ctx->list_lock);
    cds_list_for_each_entry(node, &ctx->handlers, node)
    {
        int pair[2] = {node->fd, node->events};

        if (node->events) {
            g_array_append_val(fds, pair);
        }
    }
    pthread_mutex_unlock(&ctx->list_lock);

    for (guint i = 0; i < fds->len; i++) {
        int *pair = &g_array_index(fds, int, 2 * i);

        g_ptr_array_add(as->fd_tags,
                        g_source_add_unix_fd(&as->source, pair[0], pair[1]));
    }
    g_array_free(fds, TRUE);
}

/* Make GLib poll what the fd monitor watches; redone when that changes. */
static void aio_source_sync_fds(AioSource *as)
{
    AioContext *ctx = as->ctx;
    unsigned fdmon_gen = __atomic_load_n(&ctx->fdmon_gen, __ATOMIC_RELAXED);
    unsigned handlers_gen = __atomic_load_n(&ctx->handlers_gen, __ATOMIC_RELAXED);
    int fd = ctx->fdmon_ops->gsource_fd ? ctx->fdmon_ops->gsource_fd(ctx) : -1;

    if (as->synced && fdmon_gen == as->fdmon_gen_seen &&
        (fd >= 0 || handlers_gen == as->handlers_gen_seen)) {
        return;
    }
    as->synced = true;
    as->fdmon_gen_seen = fdmon_gen;
    as->handlers_gen_seen = handlers_gen;
    if (as->mon_polled) {
        g_source_remove_poll(&as->source, &as->mon_pfd);
        as->mon_polled = false;
    }
    aio_source_drop_fd_tags(as);
    if (fd >= 0) {
        as->mon_pfd = (GPollFD){.fd = fd, .events = G_IO_IN};
        g_source_add_poll(&as->source, &as->mon_pfd);
        as->mon_polled = true;
    } else {
        aio_source_add_handler_fds(as);
    }
}

#define AIO_SOURCE_REARM_SLACK_NS (10 * SCALE_US)

/* Arm the timerfd at @deadline (CLOCK_MONOTONIC ns).  False if we cannot. */
static bool aio_source_arm_timer(AioSource *as, int64_t deadline)
{
    struct itimerspec its = {.it_value = aio_ns_to_timespec(deadline)};

    if (as->timerfd < 0) {
        return false;
    }
    /*
     * @deadline is recomputed from a relative timeout at every prepare, so
     * for the same timer it differs by the few ns between two clock reads.
     * Keep the armed deadline if it is not later than @deadline and at
     * most AIO_SOURCE_REARM_SLACK_NS earlier (at worst one early wakeup,
     * after which the next prepare re-arms it): no timerfd_settime()
     * syscall per iteration while a timer is pending.
     */
    if (as->timer_armed_ns != 0 && as->timer_armed_ns <= deadline &&
        deadline - as->timer_armed_ns <= AIO_SOURCE_REARM_SLACK_NS) {
        return true;
    }
    if (timerfd_settime(as->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        return false;
    }
    as->timer_armed_ns = deadline;
    return true;
}

/* Consume an expiry of the timerfd if it fired. */
static void aio_source_ack_timer(AioSource *as)
{
    uint64_t expirations;

    if (as->timer_tag && g_source_query_unix_fd(&as->source, as->timer_tag)) {
        if (read(as->timerfd, &expirations, sizeof(expirations)) ==
            sizeof(expirations)) {
            as->timer_armed_ns = 0;
        }
    }
}

static gboolean aio_source_prepare(GSource *source, gint *timeout_ms)
{
    AioSource *as = (AioSource *)source;
    AioContext *ctx = as->ctx;
    int64_t timeout;

    aio_source_sync_fds(as);

    /*
     * Announce the sleep, then look at notified: seq_cst store and load,
     * pairing with the seq_cst store of notified and load of notify_me in
     * aio_notify() (B).  Only the home thread writes notify_me (aio_poll +2,
     * GSource |1).
     */
    __atomic_store_n(&ctx->notify_me, ctx->notify_me | 1, __ATOMIC_SEQ_CST);

    timeout = aio_compute_timeout_ns(ctx);
    if (timeout != 0 && __atomic_load_n(&ctx->bh_list, __ATOMIC_RELAXED)) {
        /* Only deleted, cancelled or idle BHs: free the deleted ones now. */
        aio_bh_reap_deleted(ctx);
        timeout = aio_compute_timeout_ns(ctx);
    }
    /*
     * The monitor's queued changes (io_uring: re-arms and new POLL_ADDs)
     * are submitted here, not by a round of their own.
     */
    if (aio_fdmon_need_wait(ctx) &&
        !(ctx->fdmon_ops->gsource_submit && ctx->fdmon_ops->gsource_submit(ctx))) {
        timeout = 0; /* the monitor must submit in wait() */
    }
    /*
     * Seq_cst, after the seq_cst store of notify_me above: pairs with the
     * seq_cst store of notified and load of notify_me in aio_notify() (B).
     */
    if (__atomic_load_n(&ctx->notified, __ATOMIC_SEQ_CST)) {
        timeout = 0;
    }
    /* One clock read: the start of the wait and the base of the deadline. */
    as->blocking = timeout != 0;
    as->prepare_ns = as->blocking ? aio_now_ns() : 0;
    if (timeout > 0 && aio_source_arm_timer(as, as->prepare_ns + timeout)) {
        *timeout_ms = -1; /* the timerfd wakes GLib at the precise deadline */
    } else {
        *timeout_ms = aio_ns_to_ms_ceil(timeout);
    }
    return timeout == 0;
}

/* Clear the prepare announcement.  Release: the GLib poll is finished. */
static void aio_source_unannounce(AioContext *ctx)
{
    /*
     * Release, as in aio_poll_wait(): pairs with the seq_cst load of
     * notify_me in aio_notify() (B); a notifier that reads the cleared bit
     * skips the eventfd write, and its 'notified' is accepted next.
     */
    if (ctx->notify_me & 1) {
        __atomic_store_n(&ctx->notify_me, ctx->notify_me & ~1u, __ATOMIC_RELEASE);
    }
}

static gboolean aio_source_check(GSource *source)
{
    AioSource *as = (AioSource *)source;
    AioContext *ctx = as->ctx;

    /*
     * Finish the poll before clearing the flag (release): an aio_notify()
     * that reads the cleared notify_me needs no eventfd write.
     */
    aio_source_unannounce(ctx);
    aio_notify_accept(ctx);
    if (as->blocking) {
        aio_stat_add(&ctx->stats.wakeups, 1);
        aio_stat_add(&ctx->stats.wait_ns, aio_now_ns() - as->prepare_ns);
        as->blocking = false;
    }
    aio_source_ack_timer(as);

    if (as->mon_polled && as->mon_pfd.revents &&
        (!ctx->fdmon_ops->gsource_check || ctx->fdmon_ops->gsource_check(ctx))) {
        return TRUE;
    }
    for (guint i = 0; i < as->fd_tags->len; i++) {
        if (g_source_query_unix_fd(source, g_ptr_array_index(as->fd_tags, i))) {
            return TRUE;
        }
    }
    return aio_compute_timeout_ns(ctx) == 0; /* a BH scheduled, a timer expired */
}

static gboolean aio_source_dispatch(GSource *source, GSourceFunc callback,
                                    gpointer user_data)
{
    AioSource *as = (AioSource *)source;

    /* check() is skipped when prepare() said ready: clear the flag here too. */
    aio_source_unannounce(as->ctx);
    aio_dispatch(as->ctx);
    return G_SOURCE_CONTINUE;
}

static void aio_source_finalize(GSource *source)
{
    AioSource *as = (AioSource *)source;
    AioContext *ctx = as->ctx;

    pthread_mutex_lock(&ctx->list_lock);
    if (ctx->source == source) {
        ctx->source = NULL;
    }
    pthread_mutex_unlock(&ctx->list_lock);
    aio_source_unannounce(ctx);
    g_ptr_array_free(as->fd_tags, TRUE);
    if (as->timerfd >= 0) {
        close(as->timerfd);
    }
    aio_context_unref(ctx);
}

static GSourceFuncs aio_source_funcs = {
    .prepare = aio_source_prepare,
    .check = aio_source_check,
    .dispatch = aio_source_dispatch,
    .finalize = aio_source_finalize,
};

GSource *aio_get_g_source(AioContext *ctx)
{
    GSource *source;

    g_return_val_if_fail(ctx != NULL, NULL);
    pthread_mutex_lock(&ctx->list_lock);
    source = ctx->source;
    if (source) {
        g_source_ref(source);
    } else {
        AioSource *as;

        source = g_source_new(&aio_source_funcs, sizeof(AioSource));
        g_source_set_name(source, "AioContext");
        /*
         * aio_poll() guards its own re-entrancy (a handler being dispatched
         * is never re-entered).  Without this, GLib removes and re-adds the
         * source's poll fds around every dispatch, and each change writes
         * the GMainContext's wakeup eventfd: a spurious wakeup per round.
         */
        g_source_set_can_recurse(source, TRUE);
        as = (AioSource *)source;
        as->ctx = ctx;
        as->fd_tags = g_ptr_array_new();
        as->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (as->timerfd >= 0) {
            as->timer_tag = g_source_add_unix_fd(source, as->timerfd, G_IO_IN);
        } else {
            g_warning("aio: no timerfd (%s): GSource timeouts round up to ms",
                      g_strerror(errno));
        }
        aio_context_ref(ctx);
        ctx->source = source;
    }
    pthread_mutex_unlock(&ctx->list_lock);
    return source;
}

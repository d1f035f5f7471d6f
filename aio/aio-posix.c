/*
 * aio/aio-posix.c - fd handlers, fd monitor selection and aio_poll().
 *
 * Handler list: ctx->handlers is an RCU list.  Writers (any thread) take
 * ctx->list_lock; the loop walks it inside rcu_read_lock() without the lock.
 * A node is never edited after publication: changes replace it.  A removed
 * node is freed only when no aio_poll() may hold a pointer to it, i.e. when
 * ctx->walkers is 0 (each aio_poll() and GSource dispatch is a walker from
 * before its fd monitor wait until after its dispatch) and no fd monitor holds
 * it (fdmon_busy).  See docs/aio.md, "Handler lists and RCU".
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <urcu/urcu-memb.h>

#include "qcontext/aio/aio.h"
#include "aio-internal.h"
#include "timer-internal.h"

/* ------------------------------------------------------------------------ */
/* The RCU list of handlers                                                  */
/* ------------------------------------------------------------------------ */

/*
 * The algorithms of cds_list_add_tail_rcu(), cds_list_replace_rcu() and
 * cds_list_del_rcu(), written with __atomic so that ThreadSanitizer sees the
 * publication (urcu 0.13's rcu_assign_pointer/rcu_dereference are volatile
 * accesses, which TSan reports as races).  Readers only follow ->next.
 * Writers hold ctx->list_lock.
 */
static void handler_list_add_tail(struct cds_list_head *newp,
                                  struct cds_list_head *head)
{
    newp->next = head;
    newp->prev = head->prev;
    /* Release: publish newp's fields.  Pairs with aio_handler_next(). */
    __atomic_store_n(&head->prev->next, newp, __ATOMIC_RELEASE);
    head->prev = newp;
}

static void handler_list_replace(struct cds_list_head *old, struct cds_list_head *newp)
{
    newp->next = old->next;
    newp->prev = old->prev;
    /* Release: publish newp's fields.  Pairs with aio_handler_next(). */
    __atomic_store_n(&newp->prev->next, newp, __ATOMIC_RELEASE);
    newp->next->prev = newp;
    /* old->next still leads readers that stand on @old back into the list. */
}

static void handler_list_del(struct cds_list_head *node)
{
    /* Release, as the others (readers past @node see a published node). */
    __atomic_store_n(&node->prev->next, node->next, __ATOMIC_RELEASE);
    node->next->prev = node->prev;
}

/* ------------------------------------------------------------------------ */
/* Node lifetime                                                             */
/* ------------------------------------------------------------------------ */

void aio_walkers_inc(AioContext *ctx)
{
    /*
     * Raise walkers before walking the list or waiting in the fd monitor.
     * A seq_cst read-modify-write; pairs with the one in
     * handler_retire_locked(): RMWs of walkers are totally ordered, so
     * either the remover reads our increment and defers the free, or our
     * increment reads its value and synchronizes with it, and then we see
     * the unlink (and the fd monitor no longer reports the fd).
     */
    __atomic_fetch_add(&ctx->walkers, 1, __ATOMIC_SEQ_CST);
}

/* Free removed nodes that no fd monitor holds.  walkers must be 0. */
static void aio_free_deleted_handlers(AioContext *ctx)
{
    AioHandler *to_free = NULL;
    AioHandler **pn;

    pthread_mutex_lock(&ctx->list_lock);
    /* An RMW, as in handler_retire_locked() (pairs with aio_walkers_inc()). */
    if (__atomic_fetch_add(&ctx->walkers, 0, __ATOMIC_SEQ_CST) != 0) {
        pthread_mutex_unlock(&ctx->list_lock);
        return; /* the outermost walker frees them */
    }
    pn = &ctx->deleted_handlers;
    while (*pn) {
        AioHandler *node = *pn;

        /* Acquire: pairs with the fd monitor's release store of false. */
        if (__atomic_load_n(&node->fdmon_busy, __ATOMIC_ACQUIRE)) {
            pn = &node->deleted_next;
            continue;
        }
        __atomic_store_n(pn, node->deleted_next, __ATOMIC_RELAXED);
        node->deleted_next = to_free;
        to_free = node;
    }
    pthread_mutex_unlock(&ctx->list_lock);

    while (to_free) {
        AioHandler *next = to_free->deleted_next;

        g_free(to_free);
        to_free = next;
    }
}

void aio_walkers_dec(AioContext *ctx)
{
    /*
     * Release, pairing with the seq_cst RMW of walkers in
     * handler_retire_locked() and aio_free_deleted_handlers(): our reads of
     * removed nodes happen before a remover that sees walkers == 0 frees them.
     */
    if (__atomic_sub_fetch(&ctx->walkers, 1, __ATOMIC_RELEASE) == 0 &&
        __atomic_load_n(&ctx->deleted_handlers, __ATOMIC_RELAXED)) {
        aio_free_deleted_handlers(ctx);
    }
}

/*
 * @node was unlinked and given to the monitor's update().  Returns true if
 * the caller may free it now (after dropping the lock); otherwise it waits on
 * ctx->deleted_handlers for the outermost walker.  list_lock held.
 */
static bool handler_retire_locked(AioContext *ctx, AioHandler *node)
{
    __atomic_store_n(&node->deleted, true, __ATOMIC_RELAXED);
    /*
     * Read walkers with a seq_cst read-modify-write, after the unlink and
     * the monitor update: pairs with the increment in aio_walkers_inc() (see
     * there) and, reading 0, with the release decrement in aio_walkers_dec()
     * (the last walker's accesses happen before our free).
     */
    /* fdmon_busy: acquire, pairs with the fd monitor's release store of false. */
    if (__atomic_fetch_add(&ctx->walkers, 0, __ATOMIC_SEQ_CST) == 0 &&
        !__atomic_load_n(&node->fdmon_busy, __ATOMIC_ACQUIRE)) {
        return true;
    }
    node->deleted_next = ctx->deleted_handlers;
    __atomic_store_n(&ctx->deleted_handlers, node, __ATOMIC_RELAXED);
    return false;
}

/* ------------------------------------------------------------------------ */
/* Setting handlers                                                          */
/* ------------------------------------------------------------------------ */

/* A new, unpublished node (zeroed fields for the fd monitor and the loop). */
static AioHandler *handler_new(int fd, IOHandler *io_read, IOHandler *io_write,
                               AioPollFn *io_poll, IOHandler *io_poll_ready,
                               void *opaque, bool is_ctx_notifier)
{
    AioHandler *node = g_new0(AioHandler, 1);

    node->fd = fd;
    node->events = (io_read ? G_IO_IN : 0) | (io_write ? G_IO_OUT : 0);
    node->io_read = io_read;
    node->io_write = io_write;
    node->io_poll = io_poll;
    node->io_poll_ready = io_poll_ready;
    node->opaque = opaque;
    node->is_ctx_notifier = is_ctx_notifier;
    CDS_INIT_LIST_HEAD(&node->ready_link);
    return node;
}

/*
 * The live node of @fd, or NULL.  list_lock held.  A table by fd, not a walk
 * of the list: a device with thousands of sockets (vsock connections)
 * changes one fd's interest at a time, and each change must not cost O(n).
 */
static AioHandler *find_handler_locked(AioContext *ctx, int fd)
{
    return g_hash_table_lookup(ctx->handler_by_fd, GINT_TO_POINTER(fd));
}

/*
 * Install @new_node (NULL: remove) in place of @old (NULL: add).  Returns
 * true if the caller must free @old after dropping the lock.  list_lock held.
 */
static bool handler_install_locked(AioContext *ctx, AioHandler *old,
                                   AioHandler *new_node)
{
    ctx->fdmon_ops->update(ctx, old, new_node);
    if (old && new_node) {
        handler_list_replace(&old->node, &new_node->node);
    } else if (new_node) {
        handler_list_add_tail(&new_node->node, &ctx->handlers);
    } else {
        handler_list_del(&old->node);
    }
    if (new_node) {
        g_hash_table_insert(ctx->handler_by_fd, GINT_TO_POINTER(new_node->fd),
                            new_node);
    } else {
        g_hash_table_remove(ctx->handler_by_fd, GINT_TO_POINTER(old->fd));
    }
    __atomic_fetch_add(&ctx->handlers_gen, 1, __ATOMIC_RELAXED);
    return old ? handler_retire_locked(ctx, old) : false;
}

/* After a change: free @old if allowed and wake a loop sleeping elsewhere. */
static void handler_change_done(AioContext *ctx, AioHandler *old, bool free_old)
{
    if (free_old) {
        g_free(old);
    }
    /* The change takes effect at the next iteration; wake a sleeping loop. */
    if (!aio_in_home_thread(ctx)) {
        aio_notify(ctx);
    }
}

void aio_set_fd_handler_full(AioContext *ctx, int fd, IOHandler *io_read,
                             IOHandler *io_write, AioPollFn *io_poll,
                             IOHandler *io_poll_ready, void *opaque,
                             bool is_ctx_notifier)
{
    AioHandler *new_node = NULL;
    AioHandler *old;
    bool free_old;

    if (io_read || io_write || io_poll) {
        new_node = handler_new(fd, io_read, io_write, io_poll, io_poll_ready, opaque,
                               is_ctx_notifier);
    }

    pthread_mutex_lock(&ctx->list_lock);
    old = find_handler_locked(ctx, fd);
    if (!old && !new_node) {
        pthread_mutex_unlock(&ctx->list_lock);
        return; /* removing a handler that does not exist */
    }
    if (old && new_node && old->opaque == opaque) {
        /* Poll begin/end are set separately: keep them across a change. */
        new_node->io_poll_begin = old->io_poll_begin;
        new_node->io_poll_end = old->io_poll_end;
    }
    free_old = handler_install_locked(ctx, old, new_node);
    pthread_mutex_unlock(&ctx->list_lock);
    handler_change_done(ctx, old, free_old);
}

void aio_set_fd_handler(AioContext *ctx, int fd, IOHandler *io_read,
                        IOHandler *io_write, AioPollFn *io_poll,
                        IOHandler *io_poll_ready, void *opaque)
{
    g_return_if_fail(ctx != NULL);
    g_return_if_fail(fd >= 0);
    aio_set_fd_handler_full(ctx, fd, io_read, io_write, io_poll, io_poll_ready, opaque,
                            false);
}

void aio_set_event_notifier(AioContext *ctx, EventNotifier *notifier,
                            EventNotifierHandler *io_read, AioPollFn *io_poll,
                            EventNotifierHandler *io_poll_ready)
{
    g_return_if_fail(ctx != NULL && notifier != NULL);
    g_return_if_fail(event_notifier_get_fd(notifier) >= 0);
    /* EventNotifierHandler takes the notifier, passed as the opaque. */
    aio_set_fd_handler_full(ctx, event_notifier_get_fd(notifier), (IOHandler *)io_read,
                            NULL, io_poll, (IOHandler *)io_poll_ready, notifier, false);
}

void aio_set_event_notifier_poll(AioContext *ctx, EventNotifier *notifier,
                                 EventNotifierHandler *io_poll_begin,
                                 EventNotifierHandler *io_poll_end)
{
    AioHandler *old;
    AioHandler *new_node;
    bool free_old;

    g_return_if_fail(ctx != NULL && notifier != NULL);
    pthread_mutex_lock(&ctx->list_lock);
    old = find_handler_locked(ctx, event_notifier_get_fd(notifier));
    if (!old) {
        pthread_mutex_unlock(&ctx->list_lock);
        g_warning("aio_set_event_notifier_poll: notifier fd %d has no handler",
                  event_notifier_get_fd(notifier));
        return;
    }
    /* Nodes are immutable once published: replace with an edited copy. */
    new_node = handler_new(old->fd, old->io_read, old->io_write, old->io_poll,
                           old->io_poll_ready, old->opaque, old->is_ctx_notifier);
    new_node->io_poll_begin = (IOHandler *)io_poll_begin;
    new_node->io_poll_end = (IOHandler *)io_poll_end;
    free_old = handler_install_locked(ctx, old, new_node);
    pthread_mutex_unlock(&ctx->list_lock);
    handler_change_done(ctx, old, free_old);
}

/* ------------------------------------------------------------------------ */
/* fd monitors                                                               */
/* ------------------------------------------------------------------------ */

static const FDMonOps *fdmon_ops_of(AioFdMonKind kind)
{
    switch (kind) {
    case AIO_FDMON_EPOLL:
        return &fdmon_epoll_ops;
    case AIO_FDMON_IO_URING:
        return &fdmon_io_uring_ops;
    case AIO_FDMON_POLL:
        return &fdmon_poll_ops;
    }
    return NULL;
}

const char *aio_fdmon_kind_name(AioFdMonKind kind)
{
    const FDMonOps *ops = fdmon_ops_of(kind);

    return ops ? ops->name : "unknown";
}

/* Give every live handler to the (new) monitor.  list_lock held. */
static void fdmon_add_all_locked(AioContext *ctx)
{
    AioHandler *node;

    cds_list_for_each_entry(node, &ctx->handlers, node)
    {
        node->fdmon_flags = 0;
        node->fdmon_index = 0;
        node->fdmon_next = NULL;
        ctx->fdmon_ops->update(ctx, NULL, node);
    }
}

bool aio_context_set_fdmon(AioContext *ctx, AioFdMonKind kind, GError **errp)
{
    const FDMonOps *ops = fdmon_ops_of(kind);
    void *state = NULL;

    g_return_val_if_fail(ctx != NULL, false);
    if (!ops) {
        g_set_error(errp, AIO_ERROR, 0, "Unknown fd monitor kind %d", (int)kind);
        return false;
    }
    if (!aio_in_home_thread(ctx) ||
        __atomic_load_n(&ctx->walkers, __ATOMIC_RELAXED) != 0) {
        g_set_error(
            errp, AIO_ERROR, 0,
            "The fd monitor can only be changed by the event loop's own thread, "
            "outside aio_poll()");
        return false;
    }
    if (ops == ctx->fdmon_ops) {
        return true;
    }
    if (!ops->init(ctx, &state, errp)) {
        return false; /* keep the current monitor */
    }
    pthread_mutex_lock(&ctx->list_lock);
    ctx->fdmon_ops->destroy(ctx);
    ctx->fdmon_ops = ops;
    ctx->fdmon_state = state;
    fdmon_add_all_locked(ctx);
    __atomic_fetch_add(&ctx->handlers_gen, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&ctx->fdmon_gen, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&ctx->list_lock);
    /* The old monitor released every node it held. */
    aio_free_deleted_handlers(ctx);
    return true;
}

AioFdMonKind aio_context_get_fdmon(AioContext *ctx)
{
    g_return_val_if_fail(ctx != NULL, AIO_FDMON_EPOLL);
    return ctx->fdmon_ops->kind;
}

bool aio_handlers_init(AioContext *ctx, GError **errp)
{
    void *state = NULL;

    if (!fdmon_epoll_ops.init(ctx, &state, errp)) {
        return false;
    }
    ctx->fdmon_ops = &fdmon_epoll_ops;
    ctx->fdmon_state = state;
    aio_context_add_notifier(ctx);
    return true;
}

void aio_handlers_cleanup(AioContext *ctx)
{
    AioHandler *node, *next;
    unsigned leaked = 0;

    pthread_mutex_lock(&ctx->list_lock);
    cds_list_for_each_entry_safe(node, next, &ctx->handlers, node)
    {
        leaked += !node->is_ctx_notifier;
        if (handler_install_locked(ctx, node, NULL)) {
            g_free(node);
        }
    }
    ctx->fdmon_ops->destroy(ctx);
    ctx->fdmon_state = NULL;
    pthread_mutex_unlock(&ctx->list_lock);
    aio_free_deleted_handlers(ctx);
    if (leaked) {
        g_warning("AioContext %p freed with %u fd handler(s) still set", (void *)ctx,
                  leaked);
    }
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                  */
/* ------------------------------------------------------------------------ */

/* Run @node's callbacks for what is ready.  Returns true if that is progress. */
static bool aio_dispatch_handler(AioContext *ctx, AioHandler *node)
{
    int revents = node->revents;
    bool poll_ready = node->poll_ready;
    bool progress = false;
    int prev_revents;

    node->revents = 0;
    node->poll_ready = false;
    if (node->dispatching) {
        return false; /* an outer aio_poll() is running this handler */
    }
    node->dispatching++;
    prev_revents = ctx->dispatch_revents; /* a nested aio_poll() may be running */
    ctx->dispatch_revents = revents;
    /* A callback may remove its own or another handler: recheck "deleted". */
    if (poll_ready && revents == 0 && node->io_poll_ready &&
        !aio_handler_is_deleted(node)) {
        node->io_poll_ready(node->opaque);
        progress = !node->is_ctx_notifier;
    }
    if ((revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && node->io_read &&
        !aio_handler_is_deleted(node)) {
        node->io_read(node->opaque);
        progress |= !node->is_ctx_notifier;
    }
    if ((revents & (G_IO_OUT | G_IO_ERR)) && node->io_write &&
        !aio_handler_is_deleted(node)) {
        node->io_write(node->opaque);
        progress = true;
    }
    ctx->dispatch_revents = prev_revents;
    node->dispatching--;
    return progress;
}

int aio_fd_handler_revents(AioContext *ctx)
{
    g_return_val_if_fail(ctx != NULL, 0);
    return ctx->dispatch_revents;
}

bool aio_dispatch_ready(AioContext *ctx, AioHandlerList *ready)
{
    uint64_t ran = 0;

    /* A nested aio_poll() may take nodes off @ready meanwhile: pop one by one. */
    while (!cds_list_empty(&ready->head)) {
        AioHandler *node = cds_list_first_entry(&ready->head, AioHandler, ready_link);

        cds_list_del_init(&node->ready_link);
        node->in_ready = false;
        ran += aio_dispatch_handler(ctx, node);
    }
    if (ran) {
        aio_stat_add(&ctx->stats.dispatches, ran);
    }
    return ran != 0;
}

/* ------------------------------------------------------------------------ */
/* aio_poll                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * While io_poll handlers keep finding work, or a BH keeps the loop busy in
 * poll mode, an iteration skips the fd wait: that is what polling saves
 * (the io_poll handlers watch their own fds).  But fd handlers without
 * io_poll (a device's host sockets, its control socket) would then wait
 * until every polled queue ran dry: under a steady guest stream, forever.
 * So the fd monitor is still asked (without blocking) when it was last
 * asked this long ago: at most one extra wait of timeout 0 per interval,
 * whatever the load.
 */
#define AIO_FD_CHECK_INTERVAL_NS (100 * 1000)

/* A busy iteration (@timeout 0) in poll mode: may the fd wait be skipped? */
static bool aio_fd_check_can_skip(AioContext *ctx, bool blocking, int64_t timeout,
                                  int64_t now)
{
    return blocking && timeout == 0 && ctx->poll_started &&
           now - ctx->fd_check_ns < AIO_FD_CHECK_INTERVAL_NS &&
           !aio_fdmon_need_wait(ctx);
}

/*
 * The blocking part: compute the timeout, busy-poll, announce the sleep
 * (notify_me) and wait.  Returns the ns spent blocked in the fd monitor.
 * *@now is the latest clock read: aio_poll()'s start on entry, updated by
 * polling and after a wait (the clock is read only where a figure needs it:
 * the poll window, the wait's end).
 */
static int64_t aio_poll_wait(AioContext *ctx, AioHandlerList *ready, bool blocking,
                             bool home, int64_t *now)
{
    int64_t timeout = 0;
    int64_t waited = 0;
    bool use_notify_me = false;
    int ret;

    if (home) {
        aio_poll_params_refresh(ctx);
    }
    if (blocking) {
        timeout = aio_compute_timeout_ns(ctx);
        aio_poll_try(ctx, ready, &timeout, now); /* work found: timeout 0 */
        /* About to sleep: leave poll mode (notifications back on) and poll
         * once more for what raced with that. */
        if (timeout != 0 && aio_poll_set_started(ctx, ready, false)) {
            timeout = 0;
        }
        use_notify_me = timeout != 0;
    }
    if (use_notify_me) {
        /*
         * Announce the sleep, then look at notified: seq_cst store and load,
         * pairing with the seq_cst store of notified and load of notify_me
         * in aio_notify() (B).  Only this thread writes notify_me (aio_poll
         * +2, GSource |1).
         */
        __atomic_store_n(&ctx->notify_me, ctx->notify_me + 2, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&ctx->notified, __ATOMIC_SEQ_CST)) {
            timeout = 0;
        }
    }
    if (!aio_fd_check_can_skip(ctx, blocking, timeout, *now)) {
        int64_t t0 = *now;

        if (home) {
            ctx->fd_check_ns = t0;
        }
        ret = ctx->fdmon_ops->wait(ctx, ready, timeout);
        if (ret < 0) {
            g_warning("aio_poll: %s wait failed: %s", ctx->fdmon_ops->name,
                      g_strerror(-ret));
        }
        if (timeout) {
            *now = aio_now_ns();
            waited = *now - t0;
            aio_stat_add(&ctx->stats.wakeups, 1);
            aio_stat_add(&ctx->stats.wait_ns, waited);
        }
    }
    if (use_notify_me) {
        /*
         * Finish the wait before clearing notify_me (release).  Pairs with
         * the seq_cst load of notify_me in aio_notify() (B): a notifier
         * that reads the cleared value skips the eventfd write, and the
         * poller still sees its 'notified' (A) in aio_notify_accept().
         */
        __atomic_store_n(&ctx->notify_me, ctx->notify_me - 2, __ATOMIC_RELEASE);
    }
    aio_notify_accept(ctx);
    return waited;
}

bool aio_poll(AioContext *ctx, bool blocking)
{
    AioHandlerList ready;
    int64_t start, waited, now;
    bool progress, home;

    g_return_val_if_fail(ctx != NULL, false);
    home = aio_in_home_thread(ctx);
    /* Only the home thread may block. */
    if (G_UNLIKELY(blocking && !home)) {
        g_error("aio_poll: blocking outside the context's home thread "
                "(in_aio_context_home_thread() is false)");
    }
    aio_rcu_register_thread();
    aio_handler_list_init(&ready);
    aio_walkers_inc(ctx);
    start = now = aio_now_ns();

    waited = aio_poll_wait(ctx, &ready, blocking, home, &now);
    if (blocking) {
        /* Ready at once (neither polled nor waited): block_ns 0, no change. */
        aio_poll_windows_adjust(ctx, &ready, now - start);
    }
    /*
     * Wakeup latency is notify -> dispatch: record it now, before the
     * callbacks run (their duration is not wakeup latency), and consume
     * only stamps of notifies made before this wakeup.  The clock read
     * after the wait serves.
     */
    aio_stats_record_wakeup(ctx, now);

    /* Order: bottom halves, timers, ready handlers. */
    progress = aio_bh_poll(ctx);
    if (!aio_timer_lists_idle(ctx->timer_lists) &&
        aio_timer_lists_run_expired(ctx->timer_lists)) {
        aio_stat_add(&ctx->stats.dispatches, 1);
        progress = true;
    }
    progress |= aio_dispatch_ready(ctx, &ready);

    aio_walkers_dec(ctx);
    now = aio_now_ns();
    aio_stat_add(&ctx->stats.iterations, 1);
    aio_stat_add(&ctx->stats.busy_ns, now - start - waited);
    return progress;
}

bool aio_dispatch(AioContext *ctx)
{
    return aio_poll(ctx, false);
}

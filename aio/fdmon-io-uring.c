/*
 * aio/fdmon-io-uring.c - the io_uring fd monitor (liburing).
 *
 * Each registered fd has one one-shot IORING_OP_POLL_ADD in flight whose
 * user_data is its AioHandler.  When it completes, the node is reported
 * ready and queued to be re-armed, so a handler that leaves its fd readable
 * runs again on the next iteration (level-triggered, like epoll).  Multishot
 * poll is not used: it only reports new wakeups, which would make handlers
 * edge-triggered.
 *
 * Threads: update() may run on any thread (ctx->list_lock held), but only
 * the home thread touches the ring, because io_uring ties requests to the
 * task that submitted them.  update() therefore only queues nodes on a
 * pending list (node->fdmon_next); wait() turns the list into POLL_ADD /
 * POLL_REMOVE SQEs under list_lock, then submits and waits in one
 * io_uring_enter() without the lock, then reaps completions under the lock.
 * The loop calls aio_notify() after a change from another thread, which
 * wakes wait() through the context notifier's own POLL_ADD.
 *
 * Lifetime: while a node is on the pending list or its POLL_ADD is in flight,
 * node->fdmon_busy is set so that the loop does not free it once removed.
 * A removed in-flight node gets a POLL_REMOVE; its POLL_ADD then completes
 * (-ECANCELED, or a mask if it raced) and only then is fdmon_busy cleared.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>

#include <liburing.h>

#include "aio-internal.h"

#define FDMON_URING_ENTRIES 256

/* node->fdmon_flags */
enum {
    URING_PENDING = 1 << 0,     /* on the pending list */
    URING_INFLIGHT = 1 << 1,    /* a POLL_ADD is in the kernel */
    URING_REMOVED = 1 << 2,     /* update() removed the node */
    URING_CANCEL_SENT = 1 << 3, /* POLL_REMOVE submitted */
};

/* user_data of POLL_REMOVE requests, whose completions are ignored */
#define URING_CANCEL_TAG 0

typedef struct {
    struct io_uring ring; /* home thread only */
    AioHandler *pending;  /* list_lock: nodes to (re)arm or cancel */
    unsigned npending;    /* atomic (written under list_lock) */
    GHashTable *held;     /* list_lock: nodes with fdmon_busy set */
} FdmonUring;

static bool fdmon_uring_init(AioContext *ctx, void **state, GError **errp)
{
    FdmonUring *s = g_new0(FdmonUring, 1);
    int ret = io_uring_queue_init(FDMON_URING_ENTRIES, &s->ring, 0);

    if (ret < 0) {
        g_set_error(errp, AIO_ERROR, 0,
                    "cannot monitor fds with io_uring: the kernel refused to set up "
                    "a ring (%s)",
                    g_strerror(-ret));
        g_free(s);
        return false;
    }
    s->held = g_hash_table_new(NULL, NULL);
    *state = s;
    return true;
}

/* @node no longer needs to stay alive for us.  list_lock held. */
static void uring_release(FdmonUring *s, AioHandler *node)
{
    g_hash_table_remove(s->held, node);
    /*
     * Pairs with the load-acquire of fdmon_busy in aio-posix.c
     * (aio_free_deleted_handlers() and handler_retire_locked()).
     */
    __atomic_store_n(&node->fdmon_busy, false, __ATOMIC_RELEASE);
}

static void fdmon_uring_destroy(AioContext *ctx)
{
    FdmonUring *s = ctx->fdmon_state;
    GHashTableIter iter;
    gpointer key;

    if (!s) {
        return;
    }
    /* Without the ring no completion can name a node any more. */
    io_uring_queue_exit(&s->ring);
    g_hash_table_iter_init(&iter, s->held);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        AioHandler *node = key;
        node->fdmon_next = NULL;
        /* As in uring_release(): pairs with the acquire loads of fdmon_busy
         * in aio_free_deleted_handlers() and handler_retire_locked(). */
        __atomic_store_n(&node->fdmon_busy, false, __ATOMIC_RELEASE);
    }
    g_hash_table_destroy(s->held);
    g_free(s);
    ctx->fdmon_state = NULL;
}

/* Put @node on the pending list (once).  list_lock held. */
static void uring_enqueue(FdmonUring *s, AioHandler *node)
{
    if (node->fdmon_flags & URING_PENDING) {
        return;
    }
    node->fdmon_flags |= URING_PENDING;
    node->fdmon_next = s->pending;
    s->pending = node;
    __atomic_store_n(&s->npending, __atomic_load_n(&s->npending, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
    if (g_hash_table_add(s->held, node)) {
        __atomic_store_n(&node->fdmon_busy, true, __ATOMIC_RELAXED);
    }
}

static void fdmon_uring_remove(FdmonUring *s, AioHandler *node)
{
    node->fdmon_flags |= URING_REMOVED;
    if ((node->fdmon_flags & URING_INFLIGHT) &&
        !(node->fdmon_flags & URING_CANCEL_SENT)) {
        uring_enqueue(s, node); /* to send a POLL_REMOVE */
    }
    /* Neither pending nor in flight: we never held it. */
}

static void fdmon_uring_update(AioContext *ctx, AioHandler *old_node,
                               AioHandler *new_node)
{
    FdmonUring *s = ctx->fdmon_state;

    if (old_node) {
        fdmon_uring_remove(s, old_node);
    }
    if (new_node && new_node->events) {
        uring_enqueue(s, new_node);
    }
}

/* A free SQE, submitting what is queued if the ring is full.  Home thread. */
static struct io_uring_sqe *uring_get_sqe(FdmonUring *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

    while (!sqe) {
        int ret = io_uring_submit(&s->ring);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            g_error("io_uring fd monitor: cannot submit: %s", g_strerror(-ret));
        }
        sqe = io_uring_get_sqe(&s->ring);
    }
    return sqe;
}

/* Turn one pending node into its SQE.  list_lock held, home thread. */
static void uring_flush_node(FdmonUring *s, AioHandler *node)
{
    struct io_uring_sqe *sqe;

    if (node->fdmon_flags & URING_REMOVED) {
        if ((node->fdmon_flags & URING_INFLIGHT) &&
            !(node->fdmon_flags & URING_CANCEL_SENT)) {
            sqe = uring_get_sqe(s);
            io_uring_prep_poll_remove(sqe, (uintptr_t)node);
            io_uring_sqe_set_data64(sqe, URING_CANCEL_TAG);
            node->fdmon_flags |= URING_CANCEL_SENT;
        }
        if (!(node->fdmon_flags & URING_INFLIGHT)) {
            uring_release(s, node);
        }
        return;
    }
    if (!(node->fdmon_flags & URING_INFLIGHT)) {
        unsigned mask = 0;

        mask |= (node->events & G_IO_IN) ? POLLIN : 0;
        mask |= (node->events & G_IO_OUT) ? POLLOUT : 0;
        sqe = uring_get_sqe(s);
        io_uring_prep_poll_add(sqe, node->fd, mask);
        io_uring_sqe_set_data(sqe, node);
        node->fdmon_flags |= URING_INFLIGHT;
    }
}

/* Prepare SQEs for every pending node.  list_lock held, home thread. */
static void uring_flush_pending(FdmonUring *s)
{
    AioHandler *node;

    while ((node = s->pending) != NULL) {
        s->pending = node->fdmon_next;
        node->fdmon_next = NULL;
        node->fdmon_flags &= ~URING_PENDING;
        uring_flush_node(s, node);
    }
    __atomic_store_n(&s->npending, 0, __ATOMIC_RELAXED);
}

/* Handle the completion of @node's POLL_ADD; true if it is ready. */
static bool uring_complete(FdmonUring *s, AioHandler *node, int res, int *revents)
{
    node->fdmon_flags &= ~URING_INFLIGHT;
    if (node->fdmon_flags & URING_REMOVED) {
        if (!(node->fdmon_flags & URING_PENDING)) {
            uring_release(s, node);
        }
        return false;
    }
    if (res == -ECANCELED) {
        /* Cancelled by the kernel (e.g. the submitting thread exited). */
        uring_enqueue(s, node);
        return false;
    }
    if (res < 0 || (res & POLLNVAL)) {
        /*
         * A bad or closed fd: forget it until the handler changes, as epoll.
         * Nothing of ours refers to the node any more: release it, or a
         * later removal would leave it busy (never freed).
         */
        uring_release(s, node);
        return false;
    }
    *revents = res & (POLLIN | POLLOUT | POLLERR | POLLHUP);
    uring_enqueue(s, node); /* re-arm: level-triggered */
    return *revents != 0;
}

/* Reap all completions.  list_lock held, home thread. */
static int uring_reap(FdmonUring *s, AioHandlerList *ready)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    int added = 0;

    io_uring_for_each_cqe(&s->ring, head, cqe)
    {
        uint64_t data = io_uring_cqe_get_data64(cqe);
        int revents = 0;

        seen++;
        if (data == URING_CANCEL_TAG || data == LIBURING_UDATA_TIMEOUT) {
            continue;
        }
        if (uring_complete(s, (AioHandler *)(uintptr_t)data, cqe->res, &revents)) {
            aio_add_ready_handler(ready, (AioHandler *)(uintptr_t)data, revents);
            added++;
        }
    }
    io_uring_cq_advance(&s->ring, seen);
    return added;
}

static int fdmon_uring_wait(AioContext *ctx, AioHandlerList *ready, int64_t timeout_ns)
{
    FdmonUring *s = ctx->fdmon_state;
    struct io_uring_cqe *cqe;
    int ret, added;

    pthread_mutex_lock(&ctx->list_lock);
    uring_flush_pending(s);
    pthread_mutex_unlock(&ctx->list_lock);

    /* Submit and wait in one io_uring_enter(); the ring is ours alone. */
    if (timeout_ns == 0) {
        ret = io_uring_submit(&s->ring);
    } else if (timeout_ns < 0) {
        ret = io_uring_submit_and_wait(&s->ring, 1);
    } else {
        struct __kernel_timespec ts = {
            .tv_sec = timeout_ns / 1000000000,
            .tv_nsec = timeout_ns % 1000000000,
        };
        ret = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
    }
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
        return ret;
    }

    pthread_mutex_lock(&ctx->list_lock);
    added = uring_reap(s, ready);
    pthread_mutex_unlock(&ctx->list_lock);
    return added;
}

static bool fdmon_uring_gsource_submit(AioContext *ctx)
{
    FdmonUring *s = ctx->fdmon_state;
    int ret;

    pthread_mutex_lock(&ctx->list_lock);
    uring_flush_pending(s);
    pthread_mutex_unlock(&ctx->list_lock);
    ret = io_uring_submit(&s->ring);
    return ret >= 0 || ret == -EINTR;
}

/* Would uring_complete() report this completion (else it only tidies up)? */
static bool uring_cqe_reports(struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    AioHandler *node = (AioHandler *)(uintptr_t)data;

    if (data == URING_CANCEL_TAG || data == LIBURING_UDATA_TIMEOUT ||
        (node->fdmon_flags & URING_REMOVED) || cqe->res < 0 || (cqe->res & POLLNVAL)) {
        return false;
    }
    return (cqe->res & (POLLIN | POLLOUT | POLLERR | POLLHUP)) != 0;
}

/*
 * Consume, in order, the completions that report nothing (cancellations and
 * the POLL_ADDs they cancelled, bad fds): each costs the GSource an
 * iteration with no progress otherwise.  Stops at the first one wait() will
 * report.
 */
static bool fdmon_uring_gsource_check(AioContext *ctx)
{
    FdmonUring *s = ctx->fdmon_state;
    struct io_uring_cqe *cqe;
    bool reports = false;

    pthread_mutex_lock(&ctx->list_lock);
    while (!reports && io_uring_peek_cqe(&s->ring, &cqe) == 0) {
        uint64_t data = io_uring_cqe_get_data64(cqe);
        int revents = 0;

        reports = uring_cqe_reports(cqe);
        if (reports) {
            break;
        }
        if (data != URING_CANCEL_TAG && data != LIBURING_UDATA_TIMEOUT) {
            uring_complete(s, (AioHandler *)(uintptr_t)data, cqe->res, &revents);
        }
        io_uring_cqe_seen(&s->ring, cqe);
    }
    pthread_mutex_unlock(&ctx->list_lock);
    return reports;
}

static bool fdmon_uring_need_wait(AioContext *ctx)
{
    FdmonUring *s = ctx->fdmon_state;

    return __atomic_load_n(&s->npending, __ATOMIC_RELAXED) > 0;
}

static int fdmon_uring_gsource_fd(AioContext *ctx)
{
    FdmonUring *s = ctx->fdmon_state;

    return s->ring.ring_fd; /* readable when completions are waiting */
}

const FDMonOps fdmon_io_uring_ops = {
    .name = "io_uring",
    .kind = AIO_FDMON_IO_URING,
    .init = fdmon_uring_init,
    .destroy = fdmon_uring_destroy,
    .update = fdmon_uring_update,
    .wait = fdmon_uring_wait,
    .need_wait = fdmon_uring_need_wait,
    .gsource_fd = fdmon_uring_gsource_fd,
    .gsource_submit = fdmon_uring_gsource_submit,
    .gsource_check = fdmon_uring_gsource_check,
};

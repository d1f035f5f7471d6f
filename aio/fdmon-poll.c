/*
 * aio/fdmon-poll.c - the ppoll(2) fd monitor, for small sets of fds.
 *
 * update() (any thread, ctx->list_lock held) keeps an array of the
 * registered nodes (node->fdmon_index is a node's slot) and marks the
 * pollfd array stale.  wait() (home thread) rebuilds the pollfd array under
 * list_lock when it is stale, then calls ppoll() with a nanosecond timeout
 * without the lock.  The nodes it reports were registered when the array
 * was built; the loop keeps removed nodes alive while an aio_poll() runs,
 * and a node is never dereferenced after a rebuild dropped it.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "aio-internal.h"

typedef struct {
    GPtrArray *nodes; /* registered AioHandlers (list_lock) */
    bool stale; /* atomic, written under list_lock: nodes changed since the last rebuild
                 */

    /* home thread: the snapshot ppoll() uses */
    GArray *pfds;         /* struct pollfd */
    GPtrArray *pfd_nodes; /* the node of each pollfd */
} FdmonPoll;

static bool fdmon_poll_init(AioContext *ctx, void **state, GError **errp)
{
    FdmonPoll *s = g_new0(FdmonPoll, 1);

    s->nodes = g_ptr_array_new();
    s->pfds = g_array_new(FALSE, FALSE, sizeof(struct pollfd));
    s->pfd_nodes = g_ptr_array_new();
    __atomic_store_n(&s->stale, true, __ATOMIC_RELAXED);
    *state = s;
    return true;
}

static void fdmon_poll_destroy(AioContext *ctx)
{
    FdmonPoll *s = ctx->fdmon_state;

    if (!s) {
        return;
    }
    g_ptr_array_free(s->nodes, TRUE);
    g_array_free(s->pfds, TRUE);
    g_ptr_array_free(s->pfd_nodes, TRUE);
    g_free(s);
    ctx->fdmon_state = NULL;
}

/* Remove @node from s->nodes: move the last node into its slot. */
static void fdmon_poll_remove_node(FdmonPoll *s, AioHandler *node)
{
    guint index = (guint)node->fdmon_index;
    AioHandler *last;

    g_assert(index < s->nodes->len && g_ptr_array_index(s->nodes, index) == node);
    last = g_ptr_array_index(s->nodes, s->nodes->len - 1);
    g_ptr_array_index(s->nodes, index) = last;
    last->fdmon_index = (int)index;
    g_ptr_array_set_size(s->nodes, s->nodes->len - 1);
}

static void fdmon_poll_update(AioContext *ctx, AioHandler *old_node,
                              AioHandler *new_node)
{
    FdmonPoll *s = ctx->fdmon_state;

    if (old_node && new_node) {
        /* Same fd: the new node takes the old one's slot. */
        new_node->fdmon_index = old_node->fdmon_index;
        g_ptr_array_index(s->nodes, old_node->fdmon_index) = new_node;
    } else if (old_node) {
        fdmon_poll_remove_node(s, old_node);
    } else if (new_node) {
        new_node->fdmon_index = (int)s->nodes->len;
        g_ptr_array_add(s->nodes, new_node);
    }
    __atomic_store_n(&s->stale, true, __ATOMIC_RELAXED);
}

/* Rebuild the pollfd snapshot from the registered nodes.  list_lock held. */
static void fdmon_poll_rebuild(FdmonPoll *s)
{
    g_array_set_size(s->pfds, 0);
    g_ptr_array_set_size(s->pfd_nodes, 0);
    for (guint i = 0; i < s->nodes->len; i++) {
        AioHandler *node = g_ptr_array_index(s->nodes, i);
        struct pollfd pfd = {.fd = node->fd, .events = 0};

        if (node->events & G_IO_IN) {
            pfd.events |= POLLIN;
        }
        if (node->events & G_IO_OUT) {
            pfd.events |= POLLOUT;
        }
        if (!pfd.events) {
            continue; /* io_poll only: nothing to wait for */
        }
        g_array_append_val(s->pfds, pfd);
        g_ptr_array_add(s->pfd_nodes, node);
    }
    __atomic_store_n(&s->stale, false, __ATOMIC_RELAXED);
}

static int fdmon_poll_wait(AioContext *ctx, AioHandlerList *ready, int64_t timeout_ns)
{
    FdmonPoll *s = ctx->fdmon_state;
    struct timespec ts = aio_ns_to_timespec(timeout_ns);
    struct pollfd *pfds;
    int ret, added = 0;

    /*
     * No lock while the snapshot is current (most iterations): it was built
     * by this thread under the lock, which ordered the nodes' setup before
     * it.  A change from another thread sets stale before its aio_notify(),
     * whose 'notified' we acquire before this load, or whose eventfd write
     * wakes the ppoll() below (the notifier's fd is in every snapshot).
     */
    if (__atomic_load_n(&s->stale, __ATOMIC_RELAXED)) {
        pthread_mutex_lock(&ctx->list_lock);
        if (s->stale) {
            fdmon_poll_rebuild(s);
        }
        pthread_mutex_unlock(&ctx->list_lock);
    }

    pfds = (struct pollfd *)s->pfds->data;
    ret = ppoll(pfds, s->pfds->len, timeout_ns < 0 ? NULL : &ts, NULL);
    if (ret < 0) {
        return errno == EINTR ? 0 : -errno;
    }
    for (guint i = 0; i < s->pfds->len && ret > 0; i++) {
        short revents = pfds[i].revents;

        if (!revents) {
            continue;
        }
        ret--;
        if (revents & POLLNVAL) {
            /*
             * Closed without being removed: ignore it until the handlers
             * change, as epoll forgets a closed fd, instead of spinning.
             */
            pfds[i].fd = -1;
            continue;
        }
        aio_add_ready_handler(ready, g_ptr_array_index(s->pfd_nodes, i),
                              revents & (POLLIN | POLLOUT | POLLERR | POLLHUP));
        added++;
    }
    return added;
}

static int fdmon_poll_gsource_fd(AioContext *ctx)
{
    return -1; /* no single fd: the GSource polls each handler's fd */
}

const FDMonOps fdmon_poll_ops = {
    .name = "poll",
    .kind = AIO_FDMON_POLL,
    .init = fdmon_poll_init,
    .destroy = fdmon_poll_destroy,
    .update = fdmon_poll_update,
    .wait = fdmon_poll_wait,
    .need_wait = NULL,
    .gsource_fd = fdmon_poll_gsource_fd,
};

/*
 * aio/fdmon-epoll.c - the epoll fd monitor (the default).
 *
 * One epoll instance per AioContext; each AioHandler is registered with its
 * node pointer as the event data, level-triggered.  update() may run on any
 * thread (epoll_ctl is thread-safe); wait() runs on the home thread and waits
 * with epoll_pwait2() for nanosecond timeouts, falling back to epoll_wait()
 * with the timeout rounded UP to milliseconds on kernels without it.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "aio-internal.h"

#define FDMON_EPOLL_MAX_EVENTS 128

typedef struct FDMonEpoll {
    int epfd;
} FDMonEpoll;

/* 1 until epoll_pwait2 fails with ENOSYS (atomic: contexts share it). */
static int epoll_pwait2_works = 1;

static bool fdmon_epoll_init(AioContext *ctx, void **state, GError **errp)
{
    FDMonEpoll *ep;
    int fd = epoll_create1(EPOLL_CLOEXEC);

    if (fd < 0) {
        g_set_error(errp, AIO_ERROR, 0, "Could not create an epoll instance: %s",
                    g_strerror(errno));
        return false;
    }
    ep = g_new0(FDMonEpoll, 1);
    ep->epfd = fd;
    *state = ep;
    return true;
}

static void fdmon_epoll_destroy(AioContext *ctx)
{
    FDMonEpoll *ep = ctx->fdmon_state;

    if (ep) {
        close(ep->epfd);
        g_free(ep);
    }
}

/*
 * A node without events (io_poll only) is not given to epoll: epoll reports
 * HUP and ERR whatever the mask, nothing would consume them, and a blocking
 * aio_poll() on a hung-up fd would return at once forever (io_uring and
 * ppoll do not watch such nodes either).
 */
static void fdmon_epoll_update(AioContext *ctx, AioHandler *old_node,
                               AioHandler *new_node)
{
    FDMonEpoll *ep = ctx->fdmon_state;
    bool was_watched = old_node && old_node->events;
    bool watched = new_node && new_node->events;
    struct epoll_event event = {0};
    int fd = new_node ? new_node->fd : old_node->fd;
    int op, r;

    if (!was_watched && !watched) {
        return;
    }
    if (watched) {
        /* G_IO_IN/G_IO_OUT equal EPOLLIN/EPOLLOUT on Linux. */
        event.events = (uint32_t)new_node->events;
        event.data.ptr = new_node;
        op = was_watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    } else {
        op = EPOLL_CTL_DEL;
    }
    r = epoll_ctl(ep->epfd, op, fd, &event);
    /* MOD of a file epoll dropped (closed, number reused): add it. */
    if (r < 0 && errno == ENOENT && op == EPOLL_CTL_MOD) {
        r = epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &event);
    }
    if (r < 0 && errno == EEXIST && op == EPOLL_CTL_ADD) {
        r = epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &event);
    }
    if (r < 0 && !(op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF))) {
        g_warning("aio: cannot %s fd %d in epoll: %s",
                  op == EPOLL_CTL_DEL ? "remove" : "watch", fd, g_strerror(errno));
    }
}

/* Wait with a ns timeout; epoll_wait with ms rounded up if no epoll_pwait2. */
static int fdmon_epoll_do_wait(int epfd, struct epoll_event *events, int64_t timeout_ns)
{
    if (__atomic_load_n(&epoll_pwait2_works, __ATOMIC_RELAXED)) {
        struct timespec ts = aio_ns_to_timespec(timeout_ns);
        int n = epoll_pwait2(epfd, events, FDMON_EPOLL_MAX_EVENTS,
                             timeout_ns < 0 ? NULL : &ts, NULL);

        if (n >= 0 || errno != ENOSYS) {
            return n;
        }
        __atomic_store_n(&epoll_pwait2_works, 0, __ATOMIC_RELAXED);
    }
    return epoll_wait(epfd, events, FDMON_EPOLL_MAX_EVENTS,
                      aio_ns_to_ms_ceil(timeout_ns));
}

static int fdmon_epoll_wait(AioContext *ctx, AioHandlerList *ready, int64_t timeout_ns)
{
    FDMonEpoll *ep = ctx->fdmon_state;
    struct epoll_event events[FDMON_EPOLL_MAX_EVENTS];
    int n = fdmon_epoll_do_wait(ep->epfd, events, timeout_ns);

    if (n < 0) {
        return errno == EINTR ? 0 : -errno;
    }
#ifdef AIO_TSAN
    if (n > 0) {
        /*
         * A node reported by the kernel was registered by epoll_ctl() inside
         * a list_lock critical section that began before, and the kernel
         * orders that for us; ThreadSanitizer cannot see through epoll, so
         * under it we take the lock once to show it the edge.
         */
        pthread_mutex_lock(&ctx->list_lock);
        pthread_mutex_unlock(&ctx->list_lock);
    }
#endif
    for (int i = 0; i < n; i++) {
        /* EPOLLIN/OUT/ERR/HUP equal G_IO_IN/OUT/ERR/HUP on Linux. */
        aio_add_ready_handler(
            ready, events[i].data.ptr,
            (int)(events[i].events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP)));
    }
    return n;
}

static int fdmon_epoll_gsource_fd(AioContext *ctx)
{
    FDMonEpoll *ep = ctx->fdmon_state;

    return ep->epfd;
}

const FDMonOps fdmon_epoll_ops = {
    .name = "epoll",
    .kind = AIO_FDMON_EPOLL,
    .init = fdmon_epoll_init,
    .destroy = fdmon_epoll_destroy,
    .update = fdmon_epoll_update,
    .wait = fdmon_epoll_wait,
    .need_wait = NULL,
    .gsource_fd = fdmon_epoll_gsource_fd,
};

G_STATIC_ASSERT((int)EPOLLIN == (int)G_IO_IN && (int)EPOLLOUT == (int)G_IO_OUT &&
                (int)EPOLLERR == (int)G_IO_ERR && (int)EPOLLHUP == (int)G_IO_HUP);

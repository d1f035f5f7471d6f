/*
 * frontend/fe-conn.c - the front-end's vhost-user socket: connecting,
 * framing, SCM_RIGHTS, raw access, every wait bounded.  Requests and
 * replies: fe-conn-req.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qcontext/aio/atomic.h"
#include "frontend/fe-conn-internal.h"

/* ------------------------------------------------------------------------ */
/* The connection                                                            */
/* ------------------------------------------------------------------------ */

FeConn *fe_conn_new_fd(int fd, int timeout_ms)
{
    FeConn *c = g_new0(FeConn, 1);
    int flags = fcntl(fd, F_GETFL);

    /* every wait is a bounded poll(): the socket itself never blocks */
    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    c->fd = fd;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : FE_CONN_DEFAULT_TIMEOUT_MS;
    c->ack = TRUE;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static int try_connect(const char *path, int *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0) {
        *err = errno;
        return -1;
    }
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        return fd;
    }
    *err = errno;
    close(fd);
    return -1;
}

FeConn *fe_conn_connect(const char *path, int timeout_ms, GError **errp)
{
    gint64 deadline;
    int fd, err = 0;

    if (timeout_ms <= 0) {
        timeout_ms = FE_CONN_DEFAULT_TIMEOUT_MS;
    }
    if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "Socket path is too long for a unix socket: %s", path);
        return NULL;
    }
    deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    /* A back-end that is still starting has no socket yet, or no listener. */
    while ((fd = try_connect(path, &err)) < 0 &&
           (err == ENOENT || err == ECONNREFUSED || err == EAGAIN) &&
           g_get_monotonic_time() < deadline) {
        g_usleep(10000);
    }
    if (fd < 0) {
        g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                    "Cannot connect to vhost-user socket %s: %s", path,
                    g_strerror(err));
        return NULL;
    }
    return fe_conn_new_fd(fd, timeout_ms);
}

void fe_conn_free(FeConn *c)
{
    if (!c) {
        return;
    }
    close(c->fd);
    pthread_mutex_destroy(&c->lock);
    g_free(c);
}

int fe_conn_fd(const FeConn *c)
{
    return c->fd;
}

void fe_conn_set_timeout(FeConn *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : FE_CONN_DEFAULT_TIMEOUT_MS;
}

int fe_conn_timeout(const FeConn *c)
{
    return c->timeout_ms;
}

gboolean fe_conn_is_dead(const FeConn *c)
{
    return qatomic_read(&c->dead) != 0;
}

void fe_conn_mark_dead(FeConn *c)
{
    qatomic_set(&c->dead, 1);
}

gboolean fe_conn_check_alive(FeConn *c)
{
    struct pollfd pfd = {.fd = c->fd, .events = 0};

    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))) {
        fe_conn_mark_dead(c);
    }
    return !fe_conn_is_dead(c);
}

void fe_conn_set_reply_ack(FeConn *c, gboolean on)
{
    c->ack = on;
}

uint64_t fe_conn_protocol_features(const FeConn *c)
{
    return c->protocol_features;
}

gboolean fe_conn_dead_error(FeConn *c, GError **errp)
{
    if (fe_conn_is_dead(c)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                    "The vhost-user back-end is disconnected");
        return TRUE;
    }
    return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Bounded I/O                                                               */
/* ------------------------------------------------------------------------ */

/* Wait for @events until @deadline (monotonic us); FALSE with @errp set. */
static gboolean wait_io(FeConn *c, short events, gint64 deadline, GError **errp)
{
    for (;;) {
        struct pollfd pfd = {.fd = c->fd, .events = events};
        gint64 left = deadline - g_get_monotonic_time();
        int ret;

        if (left <= 0) {
            g_set_error(errp, FE_ERROR, FE_ERROR_TIMEOUT,
                        "The vhost-user back-end did not answer within %d ms",
                        c->timeout_ms);
            return FALSE;
        }
        ret = poll(&pfd, 1, (int)MIN((left + 999) / 1000, G_MAXINT));
        if (ret < 0 && errno == EINTR) {
            continue;
        }
        if (ret < 0) {
            int err = errno;

            g_set_error(errp, FE_ERROR, FE_ERROR_FAILED, "poll: %s", g_strerror(err));
            return FALSE;
        }
        if (ret > 0) {
            return TRUE; /* the I/O call reports POLLHUP/POLLERR itself */
        }
    }
}

static gboolean io_error(int err, const char *what, GError **errp)
{
    if (err == EPIPE || err == ECONNRESET) {
        g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                    "The vhost-user back-end closed the connection");
    } else {
        g_set_error(errp, FE_ERROR, FE_ERROR_FAILED, "%s on the vhost-user socket: %s",
                    what, g_strerror(err));
    }
    return FALSE;
}

/* Send @iov fully; the fds go with the first byte. */
static gboolean send_iov(FeConn *c, struct iovec *iov, int iovcnt, const int *fds,
                         unsigned nfds, GError **errp)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = iovcnt};
    gint64 deadline = g_get_monotonic_time() + (gint64)c->timeout_ms * 1000;

    if (nfds) {
        struct cmsghdr *cm;

        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    while (mh.msg_iovlen > 0) {
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            if (!wait_io(c, POLLOUT, deadline, errp)) {
                return FALSE;
            }
            continue;
        }
        if (n < 0) {
            return io_error(errno, "Send", errp);
        }
        mh.msg_control = NULL; /* the fds went with the first bytes */
        mh.msg_controllen = 0;
        while (mh.msg_iovlen > 0 && (size_t)n >= mh.msg_iov->iov_len) {
            n -= (ssize_t)mh.msg_iov->iov_len;
            mh.msg_iov++;
            mh.msg_iovlen--;
        }
        if (mh.msg_iovlen > 0) {
            mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
            mh.msg_iov->iov_len -= (size_t)n;
        }
    }
    return TRUE;
}

void fe_conn_close_fds(int *fds, unsigned *nfds)
{
    for (unsigned i = 0; i < *nfds; i++) {
        close(fds[i]);
    }
    *nfds = 0;
}

/* Keep the fds of every SCM_RIGHTS in @mh; FALSE if they did not fit. */
static gboolean take_fds(struct msghdr *mh, int *fds, unsigned *nfds)
{
    gboolean ok = !(mh->msg_flags & MSG_CTRUNC);

    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        size_t n;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (*nfds < VHOST_USER_MAX_FDS) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
                ok = FALSE;
            }
        }
    }
    return ok;
}

/* Receive exactly @len bytes (and any fds) before @deadline. */
static gboolean recv_exact(FeConn *c, void *buf, size_t len, FeMsg *out,
                           gint64 deadline, GError **errp)
{
    size_t got = 0;

    while (got < len) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = (char *)buf + got, .iov_len = len - got};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.buf,
                            .msg_controllen = sizeof(ctl.buf)};
        ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            if (!wait_io(c, POLLIN, deadline, errp)) {
                return FALSE;
            }
            continue;
        }
        if (n < 0) {
            return io_error(errno, "Receive", errp);
        }
        if (!take_fds(&mh, out->fds, &out->nfds)) {
            g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                        "The vhost-user back-end sent more than %d fds",
                        VHOST_USER_MAX_FDS);
            return FALSE;
        }
        if (n == 0) {
            g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                        "The vhost-user back-end closed the connection");
            return FALSE;
        }
        got += (size_t)n;
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Raw access                                                                */
/* ------------------------------------------------------------------------ */

gboolean fe_conn_check_nfds(unsigned nfds, GError **errp)
{
    if (nfds > VHOST_USER_MAX_FDS) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "At most %d fds go in one vhost-user message", VHOST_USER_MAX_FDS);
        return FALSE;
    }
    return TRUE;
}

gboolean fe_conn_send_raw(FeConn *c, const void *buf, size_t len, const int *fds,
                          unsigned nfds, GError **errp)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    gboolean ok;

    if (!fe_conn_check_nfds(nfds, errp) || fe_conn_dead_error(c, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&c->lock);
    ok = send_iov(c, &iov, 1, fds, nfds, errp);
    if (!ok) {
        fe_conn_mark_dead(c);
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

gboolean fe_conn_send_locked(FeConn *c, uint32_t request, uint32_t flags,
                             const void *payload, uint32_t size, const int *fds,
                             unsigned nfds, GError **errp)
{
    VhostUserHeader hdr = {.request = request, .flags = flags, .size = size};
    struct iovec iov[2] = {{.iov_base = &hdr, .iov_len = sizeof(hdr)},
                           {.iov_base = (void *)payload, .iov_len = size}};

    if (!send_iov(c, iov, size ? 2 : 1, fds, nfds, errp)) {
        fe_conn_mark_dead(c);
        return FALSE;
    }
    return TRUE;
}

gboolean fe_conn_send(FeConn *c, uint32_t request, uint32_t flags, const void *payload,
                      uint32_t size, const int *fds, unsigned nfds, GError **errp)
{
    gboolean ok;

    if (!fe_conn_check_nfds(nfds, errp) || fe_conn_dead_error(c, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&c->lock);
    ok = fe_conn_send_locked(c, request, flags, payload, size, fds, nfds, errp);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

gboolean fe_conn_recv_locked(FeConn *c, FeMsg *out, GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)c->timeout_ms * 1000;

    memset(&out->msg.hdr, 0, sizeof(out->msg.hdr));
    out->nfds = 0;
    if (!recv_exact(c, &out->msg.hdr, sizeof(out->msg.hdr), out, deadline, errp)) {
        goto fail;
    }
    if (out->msg.hdr.size > sizeof(out->msg.payload)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "The vhost-user back-end sent a %u-byte payload (at most %zu)",
                    out->msg.hdr.size, sizeof(out->msg.payload));
        goto fail;
    }
    if (!recv_exact(c, &out->msg.payload, out->msg.hdr.size, out, deadline, errp)) {
        goto fail;
    }
    return TRUE;

fail:
    fe_conn_close_fds(out->fds, &out->nfds);
    fe_conn_mark_dead(c);
    return FALSE;
}

gboolean fe_conn_recv(FeConn *c, FeMsg *out, GError **errp)
{
    gboolean ok;

    out->nfds = 0;
    if (fe_conn_dead_error(c, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&c->lock);
    ok = fe_conn_recv_locked(c, out, errp);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

gboolean fe_conn_wait_closed(FeConn *c, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    gboolean closed = FALSE;

    pthread_mutex_lock(&c->lock);
    while (!closed && g_get_monotonic_time() < deadline) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        gint64 left = deadline - g_get_monotonic_time();
        char buf[4096];
        FeMsg junk = {.nfds = 0};

        if (poll(&pfd, 1, (int)MAX((left + 999) / 1000, 1)) <= 0) {
            continue;
        }
        /* discard what arrives; EOF or an error means the peer is gone */
        if (!recv_exact(c, buf, 1, &junk, deadline, NULL)) {
            closed = TRUE;
        }
        fe_conn_close_fds(junk.fds, &junk.nfds);
        while (!closed && recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
        }
    }
    if (closed) {
        fe_conn_mark_dead(c);
    }
    pthread_mutex_unlock(&c->lock);
    return closed;
}

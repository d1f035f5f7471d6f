/*
 * frontend/fe-conn.c - vhost-user messages from the front-end's side:
 * framing, SCM_RIGHTS, replies and REPLY_ACK, every wait bounded.
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
#include "frontend/fe-conn.h"

struct FeConn {
    int fd;
    int timeout_ms;
    int dead;             /* qatomic: set once, read by any thread */
    pthread_mutex_t lock; /* one exchange at a time (pthread: TSan sees it) */
    uint64_t protocol_features;
    gboolean ack; /* the caller wants REPLY_ACK when negotiated */
};

static const char *const request_names[VHOST_USER_MAX] = {
    [VHOST_USER_GET_FEATURES] = "GET_FEATURES",
    [VHOST_USER_SET_FEATURES] = "SET_FEATURES",
    [VHOST_USER_SET_OWNER] = "SET_OWNER",
    [VHOST_USER_RESET_OWNER] = "RESET_OWNER",
    [VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
    [VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
    [VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
    [VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
    [VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
    [VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
    [VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
    [VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
    [VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VHOST_USER_SEND_RARP] = "SEND_RARP",
    [VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
    [VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
    [VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
    [VHOST_USER_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
    [VHOST_USER_GET_CONFIG] = "GET_CONFIG",
    [VHOST_USER_SET_CONFIG] = "SET_CONFIG",
    [VHOST_USER_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
    [VHOST_USER_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
    [VHOST_USER_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
    [VHOST_USER_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
    [VHOST_USER_POSTCOPY_END] = "POSTCOPY_END",
    [VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
    [VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
    [VHOST_USER_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
    [VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
    [VHOST_USER_VRING_KICK] = "VRING_KICK",
    [VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    [VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
    [VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
    [VHOST_USER_SET_STATUS] = "SET_STATUS",
    [VHOST_USER_GET_STATUS] = "GET_STATUS",
};

const char *fe_request_name(uint32_t request)
{
    if (request < VHOST_USER_MAX && request_names[request]) {
        return request_names[request];
    }
    return "UNKNOWN";
}

gboolean fe_request_has_reply(uint32_t request)
{
    switch (request) {
    case VHOST_USER_GET_FEATURES:
    case VHOST_USER_GET_PROTOCOL_FEATURES:
    case VHOST_USER_GET_VRING_BASE:
    case VHOST_USER_GET_QUEUE_NUM:
    case VHOST_USER_GET_CONFIG:
    case VHOST_USER_GET_INFLIGHT_FD:
    case VHOST_USER_GET_MAX_MEM_SLOTS:
    case VHOST_USER_GET_STATUS:
        return TRUE;
    default:
        return FALSE;
    }
}

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

static void mark_dead(FeConn *c)
{
    qatomic_set(&c->dead, 1);
}

gboolean fe_conn_check_alive(FeConn *c)
{
    struct pollfd pfd = {.fd = c->fd, .events = 0};

    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))) {
        mark_dead(c);
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

static gboolean dead_error(FeConn *c, GError **errp)
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

static void close_fds(int *fds, unsigned *nfds)
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

static gboolean check_nfds(unsigned nfds, GError **errp)
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

    if (!check_nfds(nfds, errp) || dead_error(c, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&c->lock);
    ok = send_iov(c, &iov, 1, fds, nfds, errp);
    if (!ok) {
        mark_dead(c);
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static gboolean send_locked(FeConn *c, uint32_t request, uint32_t flags,
                            const void *payload, uint32_t size, const int *fds,
                            unsigned nfds, GError **errp)
{
    VhostUserHeader hdr = {.request = request, .flags = flags, .size = size};
    struct iovec iov[2] = {{.iov_base = &hdr, .iov_len = sizeof(hdr)},
                           {.iov_base = (void *)payload, .iov_len = size}};

    if (!send_iov(c, iov, size ? 2 : 1, fds, nfds, errp)) {
        mark_dead(c);
        return FALSE;
    }
    return TRUE;
}

gboolean fe_conn_send(FeConn *c, uint32_t request, uint32_t flags, const void *payload,
                      uint32_t size, const int *fds, unsigned nfds, GError **errp)
{
    gboolean ok;

    if (!check_nfds(nfds, errp) || dead_error(c, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&c->lock);
    ok = send_locked(c, request, flags, payload, size, fds, nfds, errp);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static gboolean recv_locked(FeConn *c, FeMsg *out, GError **errp)
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
    close_fds(out->fds, &out->nfds);
    mark_dead(c);
    return FALSE;
}

gboolean fe_conn_recv(FeConn *c, FeMsg *out, GError **errp)
{
    gboolean ok;

    out->nfds = 0;
    if (dead_error(c, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&c->lock);
    ok = recv_locked(c, out, errp);
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
        close_fds(junk.fds, &junk.nfds);
        while (!closed && recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
        }
    }
    if (closed) {
        mark_dead(c);
    }
    pthread_mutex_unlock(&c->lock);
    return closed;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */
/* ------------------------------------------------------------------------ */

static gboolean check_reply(uint32_t request, const FeMsg *r, GError **errp)
{
    if (r->msg.hdr.request != request ||
        (r->msg.hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
        !(r->msg.hdr.flags & VHOST_USER_REPLY_MASK)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "The vhost-user back-end answered %s with request %u, flags 0x%x",
                    fe_request_name(request), r->msg.hdr.request, r->msg.hdr.flags);
        return FALSE;
    }
    return TRUE;
}

static gboolean wants_ack(const FeConn *c, uint32_t request)
{
    return c->ack && !fe_request_has_reply(request) &&
           (c->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
}

/* the u64 of a REPLY_ACK: 0 is success */
static gboolean check_ack(uint32_t request, FeMsg *r, GError **errp)
{
    if (r->msg.hdr.size != sizeof(uint64_t)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "The vhost-user back-end acknowledged %s with a %u-byte payload",
                    fe_request_name(request), r->msg.hdr.size);
        return FALSE;
    }
    if (r->msg.payload.u64 != 0) {
        g_set_error(errp, FE_ERROR, FE_ERROR_REFUSED,
                    "The vhost-user back-end refused %s (status %" G_GUINT64_FORMAT ")",
                    fe_request_name(request), (guint64)r->msg.payload.u64);
        return FALSE;
    }
    return TRUE;
}

gboolean fe_conn_request(FeConn *c, uint32_t request, const void *payload,
                         uint32_t size, const int *fds, unsigned nfds, FeMsg *reply,
                         GError **errp)
{
    gboolean has_reply = fe_request_has_reply(request);
    gboolean ack = wants_ack(c, request);
    uint32_t flags = VHOST_USER_VERSION | (ack ? VHOST_USER_NEED_REPLY_MASK : 0);
    g_autoptr(GError) err = NULL;
    FeMsg local;
    FeMsg *r = reply ? reply : &local;
    gboolean ok;

    g_return_val_if_fail(!has_reply || reply, FALSE);
    r->nfds = 0;
    if (!check_nfds(nfds, errp) || dead_error(c, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&c->lock);
    ok = send_locked(c, request, flags, payload, size, fds, nfds, &err);
    if (ok && (has_reply || ack)) {
        ok = recv_locked(c, r, &err) && check_reply(request, r, &err) &&
             (has_reply || check_ack(request, r, &err));
        if (!ok) {
            close_fds(r->fds, &r->nfds);
        }
    }
    if (!ok && !g_error_matches(err, FE_ERROR, FE_ERROR_REFUSED)) {
        mark_dead(c); /* out of step with the back-end: no way back */
    }
    pthread_mutex_unlock(&c->lock);
    if (ok && r == &local) {
        close_fds(local.fds, &local.nfds);
    }
    if (!ok) {
        g_propagate_prefixed_error(errp, g_steal_pointer(&err),
                                   "%s: ", fe_request_name(request));
    }
    return ok;
}

gboolean fe_conn_get_u64(FeConn *c, uint32_t request, uint64_t *out, GError **errp)
{
    FeMsg r;

    if (!fe_conn_request(c, request, NULL, 0, NULL, 0, &r, errp)) {
        return FALSE;
    }
    close_fds(r.fds, &r.nfds);
    if (r.msg.hdr.size != sizeof(uint64_t)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "%s: the vhost-user back-end replied with %u bytes, not 8",
                    fe_request_name(request), r.msg.hdr.size);
        mark_dead(c);
        return FALSE;
    }
    *out = r.msg.payload.u64;
    return TRUE;
}

gboolean fe_conn_set_u64(FeConn *c, uint32_t request, uint64_t value, GError **errp)
{
    return fe_conn_request(c, request, &value, sizeof(value), NULL, 0, NULL, errp);
}

gboolean fe_conn_get_features(FeConn *c, uint64_t *features, GError **errp)
{
    return fe_conn_get_u64(c, VHOST_USER_GET_FEATURES, features, errp);
}

gboolean fe_conn_set_features(FeConn *c, uint64_t features, GError **errp)
{
    return fe_conn_set_u64(c, VHOST_USER_SET_FEATURES, features, errp);
}

gboolean fe_conn_get_protocol_features(FeConn *c, uint64_t *features, GError **errp)
{
    return fe_conn_get_u64(c, VHOST_USER_GET_PROTOCOL_FEATURES, features, errp);
}

gboolean fe_conn_set_protocol_features(FeConn *c, uint64_t features, GError **errp)
{
    /* this request itself is never acked: acks start with the next one */
    if (!fe_conn_set_u64(c, VHOST_USER_SET_PROTOCOL_FEATURES, features, errp)) {
        return FALSE;
    }
    c->protocol_features = features;
    return TRUE;
}

gboolean fe_conn_set_owner(FeConn *c, GError **errp)
{
    return fe_conn_request(c, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL, errp);
}

static void region_payload(const FeMemRegion *r, VhostUserMemoryRegion *out)
{
    out->guest_phys_addr = r->gpa;
    out->memory_size = r->size;
    out->userspace_addr = (uint64_t)(uintptr_t)r->hva;
    out->mmap_offset = r->mmap_offset;
}

gboolean fe_conn_set_mem_table(FeConn *c, const FeMem *mem, GError **errp)
{
    VhostUserMemory m = {.nregions = fe_mem_n_regions(mem)};
    int fds[VHOST_MEMORY_BASELINE_NREGIONS];

    if (m.nregions > VHOST_MEMORY_BASELINE_NREGIONS) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "SET_MEM_TABLE carries at most %d regions, not %u",
                    VHOST_MEMORY_BASELINE_NREGIONS, m.nregions);
        return FALSE;
    }
    for (unsigned i = 0; i < m.nregions; i++) {
        region_payload(fe_mem_region(mem, i), &m.regions[i]);
        fds[i] = fe_mem_region(mem, i)->fd;
    }
    return fe_conn_request(c, VHOST_USER_SET_MEM_TABLE, &m,
                           (uint32_t)(8 + m.nregions * sizeof(VhostUserMemoryRegion)),
                           fds, m.nregions, NULL, errp);
}

gboolean fe_conn_add_mem_reg(FeConn *c, const FeMemRegion *r, GError **errp)
{
    VhostUserMemRegMsg m = {.padding = 0};

    region_payload(r, &m.region);
    return fe_conn_request(c, VHOST_USER_ADD_MEM_REG, &m, sizeof(m), &r->fd, 1, NULL,
                           errp);
}

gboolean fe_conn_rem_mem_reg(FeConn *c, const FeMemRegion *r, GError **errp)
{
    VhostUserMemRegMsg m = {.padding = 0};

    region_payload(r, &m.region);
    return fe_conn_request(c, VHOST_USER_REM_MEM_REG, &m, sizeof(m), NULL, 0, NULL,
                           errp);
}

gboolean fe_conn_set_vring_state(FeConn *c, uint32_t request, uint32_t index,
                                 uint32_t num, GError **errp)
{
    VhostUserVringState s = {.index = index, .num = num};

    return fe_conn_request(c, request, &s, sizeof(s), NULL, 0, NULL, errp);
}

gboolean fe_conn_get_vring_base(FeConn *c, uint32_t index, uint32_t *base,
                                GError **errp)
{
    VhostUserVringState s = {.index = index, .num = 0};
    FeMsg r;

    if (!fe_conn_request(c, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), NULL, 0, &r,
                         errp)) {
        return FALSE;
    }
    close_fds(r.fds, &r.nfds);
    if (r.msg.hdr.size != sizeof(s) || r.msg.payload.state.index != index) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "GET_VRING_BASE: malformed reply (%u bytes, ring %u)",
                    r.msg.hdr.size, r.msg.payload.state.index);
        mark_dead(c);
        return FALSE;
    }
    *base = r.msg.payload.state.num;
    return TRUE;
}

gboolean fe_conn_set_vring_addr(FeConn *c, const VhostUserVringAddr *addr,
                                GError **errp)
{
    return fe_conn_request(c, VHOST_USER_SET_VRING_ADDR, addr, sizeof(*addr), NULL, 0,
                           NULL, errp);
}

gboolean fe_conn_set_vring_fd(FeConn *c, uint32_t request, uint32_t index, int fd,
                              GError **errp)
{
    uint64_t u =
        (index & VHOST_USER_VRING_IDX_MASK) | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

    return fe_conn_request(c, request, &u, sizeof(u), fd < 0 ? NULL : &fd,
                           fd < 0 ? 0 : 1, NULL, errp);
}

gboolean fe_conn_get_config(FeConn *c, uint32_t offset, uint32_t size, void *buf,
                            GError **errp)
{
    VhostUserConfig cfg = {.offset = offset, .size = size, .flags = 0};
    FeMsg r;

    if (size > VHOST_USER_MAX_CONFIG_SIZE) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "GET_CONFIG reads at most %d bytes", VHOST_USER_MAX_CONFIG_SIZE);
        return FALSE;
    }
    if (!fe_conn_request(c, VHOST_USER_GET_CONFIG, &cfg,
                         VHOST_USER_CONFIG_HDR_SIZE + size, NULL, 0, &r, errp)) {
        return FALSE;
    }
    close_fds(r.fds, &r.nfds);
    if (r.msg.hdr.size != VHOST_USER_CONFIG_HDR_SIZE + size ||
        r.msg.payload.config.size != size) {
        g_set_error(errp, FE_ERROR, FE_ERROR_REFUSED,
                    "GET_CONFIG: the vhost-user back-end refused to read %u bytes at "
                    "offset %u",
                    size, offset);
        return FALSE;
    }
    memcpy(buf, r.msg.payload.config.region, size);
    return TRUE;
}

gboolean fe_conn_set_config(FeConn *c, uint32_t offset, uint32_t size, const void *buf,
                            uint32_t flags, GError **errp)
{
    VhostUserConfig cfg = {.offset = offset, .size = size, .flags = flags};

    if (size > VHOST_USER_MAX_CONFIG_SIZE) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "SET_CONFIG writes at most %d bytes", VHOST_USER_MAX_CONFIG_SIZE);
        return FALSE;
    }
    memcpy(cfg.region, buf, size);
    return fe_conn_request(c, VHOST_USER_SET_CONFIG, &cfg,
                           VHOST_USER_CONFIG_HDR_SIZE + size, NULL, 0, NULL, errp);
}

gboolean fe_conn_get_inflight_fd(FeConn *c, uint16_t num_queues, uint16_t queue_size,
                                 int *fd, VhostUserInflight *info, GError **errp)
{
    VhostUserInflight in = {.num_queues = num_queues, .queue_size = queue_size};
    FeMsg r;

    if (!fe_conn_request(c, VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), NULL, 0, &r,
                         errp)) {
        return FALSE;
    }
    if (r.msg.hdr.size != sizeof(in) || r.nfds != 1 ||
        r.msg.payload.inflight.mmap_size == 0) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "GET_INFLIGHT_FD: malformed reply (%u bytes, %u fds, size "
                    "%" G_GUINT64_FORMAT ")",
                    r.msg.hdr.size, r.nfds, (guint64)r.msg.payload.inflight.mmap_size);
        close_fds(r.fds, &r.nfds);
        mark_dead(c);
        return FALSE;
    }
    *fd = r.fds[0];
    *info = r.msg.payload.inflight;
    return TRUE;
}

gboolean fe_conn_set_inflight_fd(FeConn *c, int fd, const VhostUserInflight *info,
                                 GError **errp)
{
    return fe_conn_request(c, VHOST_USER_SET_INFLIGHT_FD, info, sizeof(*info), &fd, 1,
                           NULL, errp);
}

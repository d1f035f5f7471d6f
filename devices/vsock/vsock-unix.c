/*
 * devices/vsock/vsock-unix.c - the unix-socket endpoint of a connection
 * (hybrid vsock): the host peer is a connected AF_UNIX socket, an fd handler
 * on the muxer's AioContext.
 *
 * Host -> guest bytes are read straight from the socket into the guest's rx
 * buffer when the transport asks for a packet: nothing is buffered on that
 * side (a seqpacket message is held whole, at most 64 KiB, to be split into
 * packets).  Guest -> host bytes are written straight to the socket; what
 * the socket does not take waits in a ring of buf_alloc bytes (allocated
 * only while non-empty), which the guest's credit keeps from overflowing.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-vsock"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsock-internal.h"

/* iovecs per socket call (a longer guest chain is sent in several calls). */
#define VSOCK_UNIX_IOV 64

typedef struct VsockUnixEp {
    VsockConn *conn;
    int fd;
    bool seqpacket;
    bool reading; /* read handler installed */
    bool writing; /* write handler installed */
    bool shut_wr_pending;
    bool shut_wr;  /* we shut our sending side (the guest's SHUTDOWN SEND) */
    VsockRing out; /* guest bytes the socket has not taken yet */
    /* Seqpacket, guest -> host: lengths of the complete messages in @out. */
    uint32_t *msgs;
    uint32_t msg_head, msg_count, partial;
    /* Seqpacket, host -> guest: the message being split into packets. */
    uint8_t *msg;
    uint32_t msg_len, msg_off;
    bool msg_eor;
    /* Bytes that came with the CONNECT line, delivered first. */
    uint8_t prefix[VSOCK_CONNECT_LINE_MAX];
    uint32_t prefix_len, prefix_off;
} VsockUnixEp;

static void unix_on_read(void *opaque);
static void unix_on_write(void *opaque);

static VsockUnixEp *unix_ep(VsockConn *c)
{
    return c->ep;
}

static void unix_set_handlers(VsockUnixEp *ep, bool reading, bool writing)
{
    if (ep->fd < 0 || (reading == ep->reading && writing == ep->writing)) {
        return;
    }
    ep->reading = reading;
    ep->writing = writing;
    aio_set_fd_handler(ep->conn->mux->ctx, ep->fd, reading ? unix_on_read : NULL,
                       writing ? unix_on_write : NULL, NULL, NULL, ep);
}

/* The peer closed both ways (not just its sending side). */
static bool unix_peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/*
 * At the host's end of data: SHUTDOWN RCV too if it closed its socket
 * (POLLHUP), unless we shut our own sending side already: then POLLHUP only
 * says the host shut its sending side too, a half-close each way, which the
 * guest learns as SHUTDOWN SEND alone (as a Linux peer would send it; a
 * guest sent RCV|SEND while it still reads may see ENOTCONN).
 */
static uint32_t unix_eof_shut(VsockUnixEp *ep)
{
    return !ep->shut_wr && unix_peer_gone(ep->fd) ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0;
}

static void unix_buffered(VsockUnixEp *ep, int64_t delta)
{
    vsock_mux_buffered(ep->conn->mux, delta);
}

/* ------------------------------------------------------------------------ */
/* Host -> guest                                                             */
/* ------------------------------------------------------------------------ */

static ssize_t unix_read_stream(VsockUnixEp *ep, const struct iovec *iov,
                                unsigned iovcnt, size_t max, uint32_t *shut)
{
    struct iovec part[VSOCK_UNIX_IOV];
    size_t got;
    unsigned n = vsock_iov_slice(iov, iovcnt, 0, max, part, VSOCK_UNIX_IOV, &got);
    ssize_t r = readv(ep->fd, part, n);

    if (r > 0) {
        return r;
    }
    if (r == 0) {
        *shut = unix_eof_shut(ep);
        return VSOCK_EP_EOF;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        unix_set_handlers(ep, true, ep->writing);
        return VSOCK_EP_AGAIN;
    }
    return VSOCK_EP_ERROR;
}

/* Take the socket's next message whole; VSOCK_EP_AGAIN if none yet. */
static ssize_t unix_recv_message(VsockUnixEp *ep, size_t limit, uint32_t *shut)
{
    struct iovec iov;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t len = recv(ep->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);

    if (len < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            unix_set_handlers(ep, true, ep->writing);
            return VSOCK_EP_AGAIN;
        }
        return VSOCK_EP_ERROR;
    }
    if (len == 0 && unix_peer_gone(ep->fd)) {
        *shut = unix_eof_shut(ep);
        return VSOCK_EP_EOF;
    }
    if ((size_t)len > limit) {
        g_debug("vsock: %u:%u host message of %zd bytes exceeds the guest's %zu",
                ep->conn->local_port, ep->conn->peer_port, len, limit);
        return VSOCK_EP_ERROR;
    }
    ep->msg = g_malloc(MAX(len, 1));
    iov = (struct iovec){ep->msg, len};
    if (recvmsg(ep->fd, &m, MSG_DONTWAIT) != len) {
        g_clear_pointer(&ep->msg, g_free);
        return VSOCK_EP_ERROR;
    }
    ep->msg_len = len;
    ep->msg_off = 0;
    ep->msg_eor = m.msg_flags & MSG_EOR;
    unix_buffered(ep, len);
    return 1;
}

static ssize_t unix_read_seqpacket(VsockUnixEp *ep, const struct iovec *iov,
                                   unsigned iovcnt, size_t max, uint32_t *flags,
                                   uint32_t *shut)
{
    size_t n;

    if (!ep->msg) {
        uint32_t limit = MIN(ep->conn->peer_buf_alloc, VSOCK_SEQ_BUF_ALLOC);
        ssize_t r = unix_recv_message(ep, limit, shut);

        if (r <= 0) {
            return r;
        }
    }
    n = vsock_iov_from_buf(iov, iovcnt, 0, ep->msg + ep->msg_off,
                           MIN(max, ep->msg_len - ep->msg_off));
    ep->msg_off += n;
    if (ep->msg_off == ep->msg_len) {
        *flags = VIRTIO_VSOCK_SEQ_EOM | (ep->msg_eor ? VIRTIO_VSOCK_SEQ_EOR : 0);
        unix_buffered(ep, -(int64_t)ep->msg_len);
        g_clear_pointer(&ep->msg, g_free);
    }
    return n;
}

static ssize_t unix_read(VsockConn *c, const struct iovec *iov, unsigned iovcnt,
                         size_t max, uint32_t *flags, uint32_t *shut)
{
    VsockUnixEp *ep = unix_ep(c);

    if (ep->fd < 0) {
        return VSOCK_EP_ERROR;
    }
    if (ep->prefix_off < ep->prefix_len) {
        size_t n = vsock_iov_from_buf(iov, iovcnt, 0, ep->prefix + ep->prefix_off,
                                      MIN(max, ep->prefix_len - ep->prefix_off));

        ep->prefix_off += n;
        return n;
    }
    if (ep->seqpacket) {
        return unix_read_seqpacket(ep, iov, iovcnt, max, flags, shut);
    }
    return unix_read_stream(ep, iov, iovcnt, max, shut);
}

static void unix_on_read(void *opaque)
{
    VsockUnixEp *ep = opaque;

    /* Level-triggered: stop watching until a read finds the socket empty. */
    unix_set_handlers(ep, false, ep->writing);
    vsock_conn_rx_ready(ep->conn);
}

/* ------------------------------------------------------------------------ */
/* Guest -> host                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Send @len bytes of @iov from @offset (a seqpacket message whole): the bytes
 * sent, -EAGAIN if the socket is full, or another -errno.
 */
static ssize_t unix_send(VsockUnixEp *ep, const struct iovec *iov, unsigned iovcnt,
                         size_t offset, size_t len)
{
    struct iovec part[VSOCK_UNIX_IOV];
    size_t got;
    struct msghdr m = {.msg_iov = part};
    ssize_t r;

    m.msg_iovlen =
        vsock_iov_slice(iov, iovcnt, offset, len, part, VSOCK_UNIX_IOV, &got);
    if (ep->seqpacket && got < len) {
        return -EMSGSIZE; /* too scattered to go whole: the caller queues it */
    }
    r = sendmsg(ep->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) {
        return r;
    }
    return errno == EINTR ? -EAGAIN : -errno;
}

/* True while guest bytes that can be sent wait in the ring. */
static bool unix_sendable(VsockUnixEp *ep)
{
    /* A seqpacket message the guest has not ended cannot be sent yet. */
    return ep->seqpacket ? ep->msg_count > 0 : ep->out.len > 0;
}

/* The ring drained: finish a pending half-close and tell the connection. */
static void unix_drained(VsockUnixEp *ep)
{
    unix_set_handlers(ep, ep->reading, false);
    if (ep->shut_wr_pending) {
        ep->shut_wr_pending = false;
        ep->shut_wr = true;
        shutdown(ep->fd, SHUT_WR);
    }
    vsock_conn_flushed(ep->conn);
}

/* The host takes no more: drop what waits, as if passed on. */
static void unix_discard(VsockUnixEp *ep)
{
    uint32_t len = ep->out.len;

    unix_buffered(ep, -(int64_t)len);
    vsock_ring_free(&ep->out);
    g_clear_pointer(&ep->msgs, g_free);
    ep->msg_count = ep->partial = 0;
    unix_set_handlers(ep, ep->reading, false);
    vsock_conn_forwarded(ep->conn, len);
}

/* A send failed with @err (not -EAGAIN): the host receives no more, or reset. */
static void unix_send_failed(VsockUnixEp *ep, ssize_t err)
{
    if (err == -EPIPE && !unix_peer_gone(ep->fd)) {
        unix_discard(ep);
        vsock_conn_host_no_recv(ep->conn);
    } else {
        g_debug("vsock: %u:%u host write failed: %s", ep->conn->local_port,
                ep->conn->peer_port, g_strerror(-err));
        vsock_conn_abort(ep->conn);
    }
}

/* Send the next run (stream) or message (seqpacket) from the ring. */
static ssize_t unix_flush_one(VsockUnixEp *ep)
{
    uint32_t len = ep->seqpacket ? ep->msgs[ep->msg_head] : ep->out.len;
    struct iovec seg[2];
    unsigned n = vsock_ring_peek(&ep->out, len, seg);
    ssize_t r = unix_send(ep, seg, n, 0, len);

    if (r < 0) {
        return r;
    }
    if (ep->seqpacket) {
        r = len;
        ep->msg_head = (ep->msg_head + 1) % VSOCK_SEQ_MAX_QUEUED;
        ep->msg_count--;
    }
    vsock_ring_consume(&ep->out, r);
    unix_buffered(ep, -r);
    vsock_conn_forwarded(ep->conn, r);
    return r;
}

static void unix_on_write(void *opaque)
{
    VsockUnixEp *ep = opaque;

    while (unix_sendable(ep)) {
        ssize_t r = unix_flush_one(ep);

        if (r == -EAGAIN) {
            return;
        }
        if (r < 0) {
            unix_send_failed(ep, r); /* may close @ep: touch nothing after */
            return;
        }
    }
    unix_drained(ep);
}

static int unix_write_stream(VsockUnixEp *ep, const struct iovec *iov, unsigned iovcnt,
                             size_t offset, size_t len)
{
    ssize_t r = 0;

    if (ep->out.len == 0) {
        r = unix_send(ep, iov, iovcnt, offset, len);
        if (r == -EAGAIN) {
            r = 0;
        } else if (r < 0) {
            return r;
        }
        vsock_conn_forwarded(ep->conn, r);
    }
    if ((size_t)r < len) {
        vsock_ring_push_iov(&ep->out, iov, iovcnt, offset + r, len - r);
        unix_buffered(ep, len - r);
        unix_set_handlers(ep, ep->reading, true);
    }
    return 0;
}

static int unix_write_seqpacket(VsockUnixEp *ep, const struct iovec *iov,
                                unsigned iovcnt, size_t offset, size_t len,
                                uint32_t flags)
{
    bool eom = flags & VIRTIO_VSOCK_SEQ_EOM;

    if (eom && ep->out.len == 0) {
        /* A whole message with nothing queued before it: send it now. */
        ssize_t r = unix_send(ep, iov, iovcnt, offset, len);

        if (r >= 0) {
            vsock_conn_forwarded(ep->conn, len);
            return 0;
        }
        if (r != -EAGAIN && r != -EMSGSIZE) {
            return r;
        }
    }
    if (eom && ep->msg_count == VSOCK_SEQ_MAX_QUEUED) {
        return -ENOBUFS;
    }
    vsock_ring_push_iov(&ep->out, iov, iovcnt, offset, len);
    unix_buffered(ep, len);
    ep->partial += len;
    if (eom) {
        if (!ep->msgs) {
            ep->msgs = g_new(uint32_t, VSOCK_SEQ_MAX_QUEUED);
        }
        ep->msgs[(ep->msg_head + ep->msg_count++) % VSOCK_SEQ_MAX_QUEUED] = ep->partial;
        ep->partial = 0;
        unix_set_handlers(ep, ep->reading, true);
    }
    return 0;
}

static int unix_write(VsockConn *c, const struct iovec *iov, unsigned iovcnt,
                      size_t offset, size_t len, uint32_t flags)
{
    VsockUnixEp *ep = unix_ep(c);
    int r;

    if (ep->fd < 0) {
        return -EBADF;
    }
    r = ep->seqpacket ? unix_write_seqpacket(ep, iov, iovcnt, offset, len, flags)
                      : unix_write_stream(ep, iov, iovcnt, offset, len);
    /* EPIPE from a peer that is gone altogether: it died, reset. */
    return r == -EPIPE && unix_peer_gone(ep->fd) ? -ECONNRESET : r;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */
/* ------------------------------------------------------------------------ */

static bool unix_tx_pending(VsockConn *c)
{
    return unix_sendable(unix_ep(c));
}

static void unix_shutdown(VsockConn *c, uint32_t how)
{
    VsockUnixEp *ep = unix_ep(c);

    if (ep->fd < 0) {
        return;
    }
    if (how & VIRTIO_VSOCK_SHUTDOWN_RCV) {
        shutdown(ep->fd, SHUT_RD);
        unix_set_handlers(ep, false, ep->writing);
    }
    if (how & VIRTIO_VSOCK_SHUTDOWN_SEND) {
        if (unix_tx_pending(c)) {
            ep->shut_wr_pending = true;
        } else {
            ep->shut_wr = true;
            shutdown(ep->fd, SHUT_WR);
        }
    }
}

static void unix_established(VsockConn *c)
{
    VsockUnixEp *ep = unix_ep(c);
    char ok[32];
    int len = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

    /* A fresh socket takes a dozen bytes, or something is badly wrong. */
    if (send(ep->fd, ok, len, MSG_DONTWAIT | MSG_NOSIGNAL) != len) {
        g_debug("vsock: cannot acknowledge host connection %u", c->local_port);
        vsock_conn_abort(c);
        return;
    }
    if (ep->prefix_len > 0) {
        vsock_conn_rx_ready(c);
    }
    unix_set_handlers(ep, true, ep->writing);
}

static void unix_credit(VsockConn *c, uint32_t peer_free)
{
}

static void unix_close(VsockConn *c, bool reset)
{
    VsockUnixEp *ep = unix_ep(c);

    if (ep->fd < 0) {
        return;
    }
    unix_set_handlers(ep, false, false);
    close(ep->fd);
    ep->fd = -1;
    unix_buffered(ep, -(int64_t)ep->out.len - (ep->msg ? ep->msg_len : 0));
    vsock_ring_free(&ep->out);
    g_clear_pointer(&ep->msgs, g_free);
    g_clear_pointer(&ep->msg, g_free);
}

static void unix_free(VsockConn *c)
{
    g_free(c->ep);
    c->ep = NULL;
}

static const VsockEndpointOps unix_ops = {
    .read = unix_read,
    .write = unix_write,
    .shutdown = unix_shutdown,
    .established = unix_established,
    .tx_pending = unix_tx_pending,
    .credit = unix_credit,
    .close = unix_close,
    .free = unix_free,
};

void vsock_unix_attach(VsockConn *c, int fd, bool seqpacket, const void *prefix,
                       size_t prefix_len)
{
    VsockUnixEp *ep = g_new0(VsockUnixEp, 1);

    g_assert(prefix_len <= sizeof(ep->prefix));
    ep->conn = c;
    ep->fd = fd;
    ep->seqpacket = seqpacket;
    vsock_ring_init(&ep->out, c->buf_alloc);
    if (prefix_len > 0) {
        memcpy(ep->prefix, prefix, prefix_len);
    }
    ep->prefix_len = prefix_len;
    c->ep_ops = &unix_ops;
    c->ep = ep;
    if (c->state == VSOCK_CONN_ESTABLISHED) {
        unix_set_handlers(ep, true, false);
    }
}

int vsock_unix_connect(VsockMux *mux, uint32_t port, bool seqpacket)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int len = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", mux->uds_path, port);
    int fd;

    if (len < 0 || (size_t)len >= sizeof(sa.sun_path)) {
        return -ENAMETOOLONG;
    }
    fd = socket(
        AF_UNIX,
        (seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    /* A unix connect never waits: it succeeds or fails (EAGAIN: backlog full). */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;

        close(fd);
        return -err;
    }
    return fd;
}

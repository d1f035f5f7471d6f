/*
 * devices/vsock/vsock-local.c - the in-process endpoint of a connection: a
 * service inside the daemon (the pipe device) on an AioContext of its own,
 * possibly another thread than the muxer's.
 *
 * Two bounded rings carry the bytes: "in" (guest -> service; its size is the
 * connection's buf_alloc, which the guest's credit respects) and "out"
 * (service -> guest; vsock_local_send() takes no more than the guest's free
 * credit minus what is queued, at most VSOCK_LOCAL_OUT_CAP).  The guest gets
 * credit back only for bytes the service consumed.  One mutex guards the
 * rings' indices and the flags; each side wakes the other with a BH on the
 * other's context.  The muxer side (M) runs on the muxer's thread, the
 * service side (S) on the service's.  The object is freed when both sides
 * let go.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-vsock"

#include <errno.h>
#include <pthread.h>

#include "vsock-internal.h"

/* Most service bytes queued for the guest per connection. */
#define VSOCK_LOCAL_OUT_CAP (64 * 1024)

struct VsockLocal {
    gint refs;
    pthread_mutex_t lock; /* pthread, not GMutex: ThreadSanitizer sees it */
    uint32_t guest_port;

    /* M side only. */
    VsockConn *conn; /* NULL once the connection is gone */
    AioContext *m_ctx;
    QEMUBH *m_bh;
    int64_t accounted; /* bytes of the rings counted in the muxer's stats */

    /* S side (set at attach, then read-only). */
    AioContext *s_ctx;
    QEMUBH *s_bh;
    const VsockLocalOps *ops;
    void *opaque;

    /* Under @lock. */
    VsockRing in;
    VsockRing out;
    uint32_t consumed;  /* by S, not yet credited to the guest by M */
    uint32_t peer_free; /* the guest's free credit, as M last saw it */
    bool in_eof;        /* the guest sends no more */
    bool out_discard;   /* the guest reads no more */
    bool s_shut_send;
    bool s_close;
    bool s_reset;
    bool s_wants_write;
    bool s_released;
    bool m_gone;
    bool tell_readable, tell_writable, tell_closed;
};

static void local_free(VsockLocal *l)
{
    vsock_ring_free(&l->in);
    vsock_ring_free(&l->out);
    pthread_mutex_destroy(&l->lock);
    g_free(l);
}

static void local_unref(VsockLocal *l)
{
    /* Acq_rel: the last owner sees every write the other side made. */
    if (__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        local_free(l);
    }
}

/* Wake S with @what (lock held); nothing once S let go. */
static void local_tell_s(VsockLocal *l, bool *what)
{
    *what = true;
    if (!l->s_released && l->s_bh) {
        qemu_bh_schedule(l->s_bh);
    }
}

/* Wake M (lock held); nothing once the connection is gone. */
static void local_wake_m(VsockLocal *l)
{
    if (!l->m_gone) {
        qemu_bh_schedule(l->m_bh);
    }
}

/* Credit S can still use for new bytes (lock held). */
static uint32_t local_out_room(VsockLocal *l)
{
    uint32_t limit = MIN(l->peer_free, VSOCK_LOCAL_OUT_CAP);

    return limit > l->out.len ? limit - l->out.len : 0;
}

/* S waits for room and there is some: tell it (lock held). */
static void local_maybe_writable(VsockLocal *l)
{
    if (l->s_wants_write && local_out_room(l) > 0) {
        l->s_wants_write = false;
        local_tell_s(l, &l->tell_writable);
    }
}

/* Bring the muxer's byte count up to date (M, lock held). */
static void local_account(VsockLocal *l)
{
    int64_t now = l->m_gone ? 0 : (int64_t)l->in.len + l->out.len;

    if (l->conn) {
        vsock_mux_buffered(l->conn->mux, now - l->accounted);
    }
    l->accounted = now;
}

/* ------------------------------------------------------------------------ */
/* M side: the endpoint ops                                                  */
/* ------------------------------------------------------------------------ */

static VsockLocal *local_of(VsockConn *c)
{
    return c->ep;
}

static ssize_t local_read(VsockConn *c, const struct iovec *iov, unsigned iovcnt,
                          size_t max, uint32_t *flags, uint32_t *shut)
{
    VsockLocal *l = local_of(c);
    struct iovec seg[2];
    unsigned n;
    size_t done = 0;
    ssize_t r;

    pthread_mutex_lock(&l->lock);
    n = vsock_ring_peek(&l->out, max, seg);
    for (unsigned i = 0; i < n; i++) {
        done += vsock_iov_from_buf(iov, iovcnt, done, seg[i].iov_base, seg[i].iov_len);
    }
    vsock_ring_consume(&l->out, done);
    l->peer_free -= MIN(l->peer_free, done);
    local_maybe_writable(l); /* the queue's cap may have been what held S */
    if (done > 0) {
        r = done;
    } else if (l->s_close && l->s_reset) {
        r = VSOCK_EP_ERROR; /* the RST comes after the last byte */
    } else if (l->s_close || l->s_shut_send) {
        *shut = l->s_close ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0;
        r = VSOCK_EP_EOF;
    } else {
        r = VSOCK_EP_AGAIN; /* S wakes us when it sends */
    }
    local_account(l);
    pthread_mutex_unlock(&l->lock);
    return r;
}

static int local_write(VsockConn *c, const struct iovec *iov, unsigned iovcnt,
                       size_t offset, size_t len, uint32_t flags)
{
    VsockLocal *l = local_of(c);

    pthread_mutex_lock(&l->lock);
    vsock_ring_push_iov(&l->in, iov, iovcnt, offset, len);
    local_tell_s(l, &l->tell_readable);
    local_account(l);
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static void local_shutdown(VsockConn *c, uint32_t how)
{
    VsockLocal *l = local_of(c);

    pthread_mutex_lock(&l->lock);
    if (how & VIRTIO_VSOCK_SHUTDOWN_SEND) {
        l->in_eof = true;
        local_tell_s(l, &l->tell_readable);
    }
    if (how & VIRTIO_VSOCK_SHUTDOWN_RCV) {
        /* Like a socket whose peer reads no more: sends go nowhere. */
        l->out_discard = true;
        vsock_ring_free(&l->out);
        local_account(l);
    }
    pthread_mutex_unlock(&l->lock);
}

static void local_established(VsockConn *c)
{
}

static bool local_tx_pending(VsockConn *c)
{
    VsockLocal *l = local_of(c);
    bool pending;

    pthread_mutex_lock(&l->lock);
    pending = l->in.len > 0;
    pthread_mutex_unlock(&l->lock);
    return pending;
}

static void local_credit(VsockConn *c, uint32_t peer_free)
{
    VsockLocal *l = local_of(c);

    pthread_mutex_lock(&l->lock);
    l->peer_free = peer_free;
    local_maybe_writable(l);
    pthread_mutex_unlock(&l->lock);
}

static void local_close(VsockConn *c, bool reset)
{
    VsockLocal *l = local_of(c);

    pthread_mutex_lock(&l->lock);
    if (!l->m_gone) {
        l->m_gone = true;
        local_account(l);
        local_tell_s(l, &l->tell_closed);
    }
    pthread_mutex_unlock(&l->lock);
}

static void local_free_ep(VsockConn *c)
{
    VsockLocal *l = local_of(c);

    qemu_bh_delete(l->m_bh);
    l->conn = NULL;
    c->ep = NULL;
    local_unref(l);
}

static const VsockEndpointOps local_ops = {
    .read = local_read,
    .write = local_write,
    .shutdown = local_shutdown,
    .established = local_established,
    .tx_pending = local_tx_pending,
    .credit = local_credit,
    .close = local_close,
    .free = local_free_ep,
};

/* M: what S did since the last time. */
static void local_m_bh(void *opaque)
{
    VsockLocal *l = opaque;
    VsockConn *c = l->conn;
    uint32_t consumed;
    bool in_empty, has_out, closing, reset, shut;

    pthread_mutex_lock(&l->lock);
    consumed = l->consumed;
    l->consumed = 0;
    in_empty = l->in.len == 0;
    has_out = l->out.len > 0;
    closing = l->s_close;
    reset = l->s_reset;
    shut = l->s_shut_send;
    local_account(l);
    pthread_mutex_unlock(&l->lock);

    if (!c || c->state == VSOCK_CONN_DEAD) {
        return;
    }
    if (consumed) {
        vsock_conn_forwarded(c, consumed);
    }
    if (has_out || closing || shut) {
        vsock_conn_rx_ready(c);
    }
    if (closing) {
        if (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) {
            vsock_conn_local_close(c, reset); /* nothing more is read: now */
            return;
        }
        vsock_mux_kill_later(c->mux, c); /* a guest that never reads is reset */
    }
    if (in_empty && consumed) {
        vsock_conn_flushed(c);
    }
}

VsockLocal *vsock_local_new(VsockConn *c)
{
    VsockLocal *l = g_new0(VsockLocal, 1);

    l->refs = 1;
    pthread_mutex_init(&l->lock, NULL);
    l->conn = c;
    l->guest_port = c->peer_port;
    l->m_ctx = c->mux->ctx;
    l->m_bh = aio_bh_new(l->m_ctx, local_m_bh, l);
    vsock_ring_init(&l->in, c->buf_alloc);
    vsock_ring_init(&l->out, VSOCK_LOCAL_OUT_CAP);
    l->peer_free = vsock_conn_peer_free(c);
    c->ep_ops = &local_ops;
    c->ep = l;
    return l;
}

/* ------------------------------------------------------------------------ */
/* S side                                                                    */
/* ------------------------------------------------------------------------ */

/* S: run the callbacks M asked for; stops once the service let go. */
static void local_s_bh(void *opaque)
{
    VsockLocal *l = opaque;
    bool readable, writable, closed;

    pthread_mutex_lock(&l->lock);
    readable = l->tell_readable;
    writable = l->tell_writable;
    closed = l->tell_closed;
    l->tell_readable = l->tell_writable = l->tell_closed = false;
    pthread_mutex_unlock(&l->lock);

    __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED); /* a callback may release */
    if (readable && !l->s_released && l->ops->readable) {
        l->ops->readable(l, l->opaque);
    }
    if (writable && !l->s_released && l->ops->writable) {
        l->ops->writable(l, l->opaque);
    }
    if (closed && !l->s_released && l->ops->closed) {
        l->ops->closed(l, l->opaque);
    }
    local_unref(l);
}

void vsock_local_attach(VsockLocal *l, AioContext *ctx, const VsockLocalOps *ops,
                        void *opaque)
{
    g_assert(!l->s_bh);
    l->s_ctx = ctx;
    l->ops = ops;
    l->opaque = opaque;
    l->s_bh = aio_bh_new(ctx, local_s_bh, l);
    __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED); /* the service's */
}

uint32_t vsock_local_guest_port(VsockLocal *l)
{
    return l->guest_port;
}

size_t vsock_local_peek(VsockLocal *l, const uint8_t **data)
{
    struct iovec seg[2];
    size_t len = 0;

    pthread_mutex_lock(&l->lock);
    /* M only appends to the free part: the run stays valid until consumed. */
    if (vsock_ring_peek(&l->in, l->in.len, seg) > 0) {
        *data = seg[0].iov_base;
        len = seg[0].iov_len;
    }
    pthread_mutex_unlock(&l->lock);
    return len;
}

void vsock_local_consume(VsockLocal *l, size_t len)
{
    if (len == 0) {
        return;
    }
    pthread_mutex_lock(&l->lock);
    vsock_ring_consume(&l->in, len);
    l->consumed += len;
    local_wake_m(l);
    pthread_mutex_unlock(&l->lock);
}

bool vsock_local_eof(VsockLocal *l)
{
    bool eof;

    pthread_mutex_lock(&l->lock);
    eof = (l->in_eof || l->m_gone) && l->in.len == 0;
    pthread_mutex_unlock(&l->lock);
    return eof;
}

size_t vsock_local_send(VsockLocal *l, const void *data, size_t len)
{
    size_t n;

    pthread_mutex_lock(&l->lock);
    if (l->m_gone || l->s_close || l->s_shut_send) {
        n = 0;
    } else if (l->out_discard) {
        n = len; /* the guest reads no more: taken and dropped */
    } else {
        n = MIN(len, local_out_room(l));
        vsock_ring_push(&l->out, data, n);
        if (n < len) {
            l->s_wants_write = true;
        }
        if (n > 0) {
            local_wake_m(l);
        }
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

void vsock_local_shutdown_send(VsockLocal *l)
{
    pthread_mutex_lock(&l->lock);
    l->s_shut_send = true;
    local_wake_m(l);
    pthread_mutex_unlock(&l->lock);
}

void vsock_local_close(VsockLocal *l, bool reset)
{
    pthread_mutex_lock(&l->lock);
    if (!l->s_close) {
        l->s_close = true;
        l->s_reset = reset;
        local_wake_m(l);
    }
    pthread_mutex_unlock(&l->lock);
}

void vsock_local_release(VsockLocal *l)
{
    pthread_mutex_lock(&l->lock);
    if (!l->s_close) {
        /* Let go without a close: the connection cannot go on. */
        l->s_close = true;
        l->s_reset = true;
        local_wake_m(l);
    }
    l->s_released = true;
    pthread_mutex_unlock(&l->lock);
    qemu_bh_delete(l->s_bh);
    local_unref(l);
}

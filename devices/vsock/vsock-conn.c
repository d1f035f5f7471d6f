/*
 * devices/vsock/vsock-conn.c - one vsock connection: the stream/seqpacket
 * protocol state machine of the virtio socket device and its credit.
 *
 * Credit, as the spec writes it: each side tells the other its receive
 * buffer (buf_alloc) and how many bytes it has passed on (fwd_cnt); a sender
 * may have at most peer_free = peer_buf_alloc - (tx_cnt - peer_fwd_cnt) bytes
 * in flight.  Our buf_alloc bounds what we hold for a host peer that does not
 * read; the guest's bounds what we send.  A guest that exceeds our credit is
 * reset.  We send an unsolicited CREDIT_UPDATE when the guest's view of our
 * free space falls below half of buf_alloc and we have forwarded more.
 *
 * Shutdown maps to half-closes of the host side: guest SEND -> the host
 * reads EOF (after the bytes before it); guest RCV -> the host's writes fail;
 * host EOF -> SHUTDOWN SEND to the guest after the last byte; a host that
 * receives no more -> SHUTDOWN RCV.  Both ways shut: the side that saw the
 * other's last SHUTDOWN answers RST (the spec's clean disconnect); we wait
 * for the guest's RST for at most the muxer's timeout.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-vsock"

#include <endian.h>
#include <errno.h>

#include "vsock-internal.h"

VsockConn *vsock_conn_new(VsockMux *mux, uint32_t local_port, uint32_t peer_port,
                          uint16_t type)
{
    VsockConn *c = g_new0(VsockConn, 1);

    c->mux = mux;
    c->local_port = local_port;
    c->peer_port = peer_port;
    c->key = (uint64_t)local_port << 32 | peer_port;
    c->type = type;
    c->state = VSOCK_CONN_ESTABLISHED;
    c->buf_alloc = type == VIRTIO_VSOCK_TYPE_SEQPACKET
                       ? MIN(mux->buf_alloc, VSOCK_SEQ_BUF_ALLOC)
                       : mux->buf_alloc;
    c->rx_link.data = c;
    c->kill_link.data = c;
    return c;
}

uint32_t vsock_conn_peer_free(const VsockConn *c)
{
    uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

    /* A guest that claims to have forwarded more than we sent gets nothing. */
    return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

void vsock_conn_set_pending(VsockConn *c, uint32_t pend)
{
    c->pending |= pend;
    vsock_mux_schedule(c->mux, c);
}

void vsock_conn_abort(VsockConn *c)
{
    if (c->state == VSOCK_CONN_DEAD) {
        return;
    }
    c->state = VSOCK_CONN_DEAD;
    c->ep_ops->close(c, true);
    /* Nothing but the RST goes out any more. */
    c->pending = 0;
    vsock_conn_set_pending(c, VSOCK_PEND_RST);
}

void vsock_conn_expire(VsockConn *c)
{
    g_debug("vsock: connection %u:%u timed out, reset", c->local_port, c->peer_port);
    vsock_conn_abort(c);
}

/* The guest may be told about more free space: queue a CREDIT_UPDATE. */
static void conn_maybe_credit_update(VsockConn *c)
{
    uint32_t guest_view_free = c->buf_alloc - (c->rx_cnt - c->last_fwd_cnt);

    if (c->fwd_cnt != c->last_fwd_cnt && guest_view_free < c->buf_alloc / 2) {
        vsock_conn_set_pending(c, VSOCK_PEND_CREDIT_UPDATE);
    }
}

/* Both directions are shut: close once the host has everything. */
static void conn_both_shut(VsockConn *c)
{
    if (c->state != VSOCK_CONN_ESTABLISHED) {
        return;
    }
    if (c->ep_ops->tx_pending(c)) {
        vsock_mux_kill_later(c->mux, c); /* RST when flushed or at the deadline */
        return;
    }
    vsock_conn_abort(c);
}

void vsock_conn_forwarded(VsockConn *c, uint32_t len)
{
    c->fwd_cnt += len;
    if (c->state == VSOCK_CONN_ESTABLISHED) {
        conn_maybe_credit_update(c);
    }
}

void vsock_conn_flushed(VsockConn *c)
{
    if (c->guest_shut == VSOCK_SHUT_BOTH) {
        conn_both_shut(c);
    }
}

void vsock_conn_rx_ready(VsockConn *c)
{
    if (c->state == VSOCK_CONN_ESTABLISHED && !c->host_eof &&
        !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)) {
        vsock_conn_set_pending(c, VSOCK_PEND_RW);
    }
}

/* The host shut down @how (bits as seen from the host: SEND = sends no more). */
static void conn_host_shut(VsockConn *c, uint32_t how)
{
    uint32_t new_bits = how & ~c->host_shut;

    if (!new_bits || c->state != VSOCK_CONN_ESTABLISHED) {
        return;
    }
    c->host_shut |= new_bits;
    vsock_conn_set_pending(c, VSOCK_PEND_SHUTDOWN);
    if (c->host_shut == VSOCK_SHUT_BOTH) {
        /* Our last SHUTDOWN: the guest owes us an RST. */
        vsock_mux_kill_later(c->mux, c);
    }
}

void vsock_conn_host_no_recv(VsockConn *c)
{
    conn_host_shut(c, VIRTIO_VSOCK_SHUTDOWN_RCV);
}

void vsock_conn_local_close(VsockConn *c, bool reset)
{
    if (reset) {
        vsock_conn_abort(c);
    } else {
        conn_host_shut(c, VSOCK_SHUT_BOTH);
    }
}

/* ------------------------------------------------------------------------ */
/* Guest -> host                                                             */
/* ------------------------------------------------------------------------ */

static void conn_update_peer_credit(VsockConn *c, const struct virtio_vsock_hdr *hdr)
{
    uint32_t before = vsock_conn_peer_free(c);
    uint32_t after;

    c->peer_buf_alloc = le32toh(hdr->buf_alloc);
    c->peer_fwd_cnt = le32toh(hdr->fwd_cnt);
    after = vsock_conn_peer_free(c);
    if (after == before) {
        return;
    }
    c->ep_ops->credit(c, after);
    if (c->credit_stalled && after > 0) {
        c->credit_stalled = false;
        vsock_conn_rx_ready(c);
    }
}

static void conn_rx_rw(VsockConn *c, const struct virtio_vsock_hdr *hdr,
                       const struct iovec *iov, unsigned iovcnt)
{
    uint32_t len = le32toh(hdr->len);
    uint32_t flags = le32toh(hdr->flags);
    int r;

    if (c->state != VSOCK_CONN_ESTABLISHED) {
        return; /* dead: the RST is on its way */
    }
    if (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) {
        g_debug("vsock: %u:%u data after SHUTDOWN SEND, reset", c->local_port,
                c->peer_port);
        vsock_conn_abort(c);
        return;
    }
    if ((uint64_t)(c->rx_cnt - c->fwd_cnt) + len > c->buf_alloc) {
        g_debug("vsock: %u:%u guest exceeded its credit, reset", c->local_port,
                c->peer_port);
        vsock_conn_abort(c);
        return;
    }
    if (c->type != VIRTIO_VSOCK_TYPE_SEQPACKET) {
        flags = 0;
        if (len == 0) {
            return;
        }
    }
    c->rx_cnt += len;
    if (c->host_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) {
        vsock_conn_forwarded(c, len); /* the host takes no more: discard */
        return;
    }
    r = c->ep_ops->write(c, iov, iovcnt, VSOCK_HDR_LEN, len, flags);
    if (r == -EPIPE) {
        vsock_conn_host_no_recv(c); /* the host shut down its reading side */
    } else if (r < 0) {
        g_debug("vsock: %u:%u host write failed: %s", c->local_port, c->peer_port,
                g_strerror(-r));
        vsock_conn_abort(c);
    } else {
        /* Its view shrank: it may wait for space we freed earlier. */
        conn_maybe_credit_update(c);
    }
}

static void conn_rx_shutdown(VsockConn *c, uint32_t flags)
{
    uint32_t new_bits = flags & VSOCK_SHUT_BOTH & ~c->guest_shut;

    if (c->state != VSOCK_CONN_ESTABLISHED || !new_bits) {
        return;
    }
    c->guest_shut |= new_bits;
    if (new_bits & VIRTIO_VSOCK_SHUTDOWN_RCV) {
        c->pending &= ~VSOCK_PEND_RW; /* the guest reads no more */
    }
    c->ep_ops->shutdown(c, new_bits);
    if (c->guest_shut == VSOCK_SHUT_BOTH) {
        conn_both_shut(c);
    }
}

void vsock_conn_tx(VsockConn *c, const struct virtio_vsock_hdr *hdr,
                   const struct iovec *iov, unsigned iovcnt)
{
    uint16_t op = le16toh(hdr->op);

    if (c->state == VSOCK_CONN_CONNECTING) {
        /* Only the guest's answer to our REQUEST is expected. */
        if (op == VIRTIO_VSOCK_OP_RESPONSE) {
            conn_update_peer_credit(c, hdr);
            c->state = VSOCK_CONN_ESTABLISHED;
            vsock_mux_kill_cancel(c->mux, c);
            c->ep_ops->established(c);
        } else {
            c->mux->stats.dropped++;
        }
        return;
    }
    conn_update_peer_credit(c, hdr);
    switch (op) {
    case VIRTIO_VSOCK_OP_RW:
        conn_rx_rw(c, hdr, iov, iovcnt);
        break;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        conn_rx_shutdown(c, le32toh(hdr->flags));
        break;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        if (c->state == VSOCK_CONN_ESTABLISHED) {
            vsock_conn_set_pending(c, VSOCK_PEND_CREDIT_UPDATE);
        }
        break;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
        break; /* the credit was taken above */
    default:
        /* REQUEST/RESPONSE on an open connection, INVALID, unknown ops. */
        c->mux->stats.dropped++;
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Host -> guest                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Data for the guest: read from the endpoint into the buffer.  Returns the
 * payload length (0 for an empty seqpacket message), -1 if there is no
 * data now (then RW is cleared; a SHUTDOWN or RST may be owed instead), or
 * -2 if this buffer has no room for data.
 */
static ssize_t conn_fill_rw(VsockConn *c, struct virtio_vsock_hdr *hdr,
                            const struct iovec *iov, unsigned iovcnt, size_t room)
{
    uint32_t credit = vsock_conn_peer_free(c);
    uint32_t flags = 0, shut = 0;
    ssize_t n;

    if (room == 0) {
        return -2; /* a buffer with no room past the header: keep the data */
    }
    if (credit == 0) {
        /* Ask once; the guest's next credit information restarts us. */
        c->pending &= ~VSOCK_PEND_RW;
        if (!c->credit_stalled) {
            c->credit_stalled = true;
            c->pending |= VSOCK_PEND_CREDIT_REQUEST;
        }
        return -1;
    }
    n = c->ep_ops->read(c, iov, iovcnt, MIN(MIN(room, credit), VSOCK_MAX_PKT_PAYLOAD),
                        &flags, &shut);
    if (n > 0 || (n == 0 && (flags & VIRTIO_VSOCK_SEQ_EOM))) {
        hdr->op = htole16(VIRTIO_VSOCK_OP_RW);
        hdr->len = htole32((uint32_t)n);
        hdr->flags = htole32(flags);
        c->tx_cnt += (uint32_t)n;
        return n;
    }
    c->pending &= ~VSOCK_PEND_RW;
    if (n == VSOCK_EP_EOF) {
        c->host_eof = true;
        conn_host_shut(c, VIRTIO_VSOCK_SHUTDOWN_SEND | shut);
    } else if (n == VSOCK_EP_ERROR) {
        vsock_conn_abort(c);
    }
    return -1;
}

static void conn_fill_header(VsockConn *c, struct virtio_vsock_hdr *hdr)
{
    *hdr = (struct virtio_vsock_hdr){
        .src_cid = htole64(VSOCK_HOST_CID),
        .dst_cid = htole64(c->mux->guest_cid),
        .src_port = htole32(c->local_port),
        .dst_port = htole32(c->peer_port),
        .type = htole16(c->type),
        .buf_alloc = htole32(c->buf_alloc),
        .fwd_cnt = htole32(c->fwd_cnt),
    };
}

/* The next packet owed without payload, by priority; false if none. */
static bool conn_take_control(VsockConn *c, struct virtio_vsock_hdr *hdr)
{
    static const struct {
        uint32_t pend;
        uint16_t op;
    } order[] = {
        {VSOCK_PEND_RST, VIRTIO_VSOCK_OP_RST},
        {VSOCK_PEND_REQUEST, VIRTIO_VSOCK_OP_REQUEST},
        {VSOCK_PEND_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE},
        {VSOCK_PEND_RW, 0}, /* data comes before the SHUTDOWN that ends it */
        {VSOCK_PEND_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN},
        {VSOCK_PEND_CREDIT_REQUEST, VIRTIO_VSOCK_OP_CREDIT_REQUEST},
        {VSOCK_PEND_CREDIT_UPDATE, VIRTIO_VSOCK_OP_CREDIT_UPDATE},
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(order); i++) {
        if (!(c->pending & order[i].pend)) {
            continue;
        }
        if (order[i].pend == VSOCK_PEND_RW) {
            return false;
        }
        c->pending &= ~order[i].pend;
        hdr->op = htole16(order[i].op);
        if (order[i].op == VIRTIO_VSOCK_OP_SHUTDOWN) {
            hdr->flags = htole32(c->host_shut);
        }
        return true;
    }
    return false;
}

ssize_t vsock_conn_fill(VsockConn *c, struct virtio_vsock_hdr *hdr,
                        const struct iovec *iov, unsigned iovcnt, size_t room)
{
    ssize_t n = 0;

    conn_fill_header(c, hdr);
    /* A failed read clears RW (or sets RST): at most two rounds. */
    while (!conn_take_control(c, hdr)) {
        if (!(c->pending & VSOCK_PEND_RW)) {
            return -1;
        }
        n = conn_fill_rw(c, hdr, iov, iovcnt, room);
        if (n >= 0) {
            break;
        }
        if (n == -2) {
            return -1;
        }
        n = 0;
    }
    /* Every packet carries our credit: no separate update is owed now. */
    c->pending &= ~VSOCK_PEND_CREDIT_UPDATE;
    c->last_fwd_cnt = c->fwd_cnt;
    return n;
}

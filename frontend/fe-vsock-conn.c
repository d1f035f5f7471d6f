/*
 * frontend/fe-vsock-conn.c - vsock stream/seqpacket connections on the
 * driver side: the state machine a guest kernel runs, with the spec's
 * credit accounting (virtio 1.x 5.10.6.3).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "frontend/fe-vsock-internal.h"

uint64_t fe_vsock_conn_key(uint32_t local_port, uint32_t peer_port)
{
    return ((uint64_t)local_port << 32) | peer_port;
}

static FeVsockConn *conn_new(FeVsock *v, uint32_t local, uint32_t peer, uint16_t type)
{
    FeVsockConn *c = g_new0(FeVsockConn, 1);
    uint64_t *key = g_new(uint64_t, 1);

    c->v = v;
    c->local_port = local;
    c->peer_port = peer;
    c->peer_cid = FE_VSOCK_HOST_CID;
    c->type = type;
    c->rxdata = g_byte_array_new();
    g_queue_init(&c->msg_lens);
    c->buf_alloc = v->opt.buf_alloc;
    c->auto_credit = TRUE;
    *key = fe_vsock_conn_key(local, peer);
    g_hash_table_insert(v->conns, key, c);
    return c;
}

static FeVsockConn *conn_find(FeVsock *v, uint32_t local, uint32_t peer)
{
    uint64_t key = fe_vsock_conn_key(local, peer);

    return g_hash_table_lookup(v->conns, &key);
}

void fe_vsock_conn_free(FeVsockConn *c)
{
    uint64_t key;
    GQueue *q;

    if (!c) {
        return;
    }
    key = fe_vsock_conn_key(c->local_port, c->peer_port);
    g_hash_table_remove(c->v->conns, &key);
    if (c->accepted &&
        (q = g_hash_table_lookup(c->v->listeners, GUINT_TO_POINTER(c->local_port)))) {
        g_queue_remove(q, c);
    }
    g_byte_array_unref(c->rxdata);
    g_queue_clear(&c->msg_lens);
    g_free(c);
}

void fe_vsock_conns_free(FeVsock *v)
{
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init(&it, v->conns);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        FeVsockConn *c = value;

        g_hash_table_iter_steal(&it);
        g_free(key);
        g_byte_array_unref(c->rxdata);
        g_queue_clear(&c->msg_lens);
        g_free(c);
    }
}

/* ------------------------------------------------------------------------ */
/* Sending on a connection                                                   */
/* ------------------------------------------------------------------------ */

static gboolean conn_send(FeVsockConn *c, uint16_t op, uint32_t flags, const void *data,
                          uint32_t len, GError **errp)
{
    struct virtio_vsock_hdr h;

    fe_vsock_hdr_init(c->v, &h, op, c->local_port, c->peer_port, len);
    h.dst_cid = c->peer_cid;
    h.type = c->type;
    h.flags = flags;
    h.buf_alloc = c->buf_alloc;
    /* every header tells the peer what we consumed, unless we withhold it */
    h.fwd_cnt = c->auto_credit || op == VIRTIO_VSOCK_OP_CREDIT_UPDATE ? c->fwd_cnt
                                                                      : c->adv_fwd_cnt;
    if (!fe_vsock_send_pkt(c->v, &h, data, len, errp)) {
        return FALSE;
    }
    c->adv_fwd_cnt = h.fwd_cnt;
    return TRUE;
}

/* Replies sent from inside dispatch: a failure shows up on the next call. */
static void conn_reply(FeVsockConn *c, uint16_t op)
{
    g_autoptr(GError) err = NULL;

    if (!conn_send(c, op, 0, NULL, 0, &err)) {
        g_debug("vsock front-end: cannot send %s: %s", fe_vsock_op_name(op),
                err->message);
    }
}

static void reply_rst(FeVsock *v, const struct virtio_vsock_hdr *in)
{
    struct virtio_vsock_hdr h;

    fe_vsock_hdr_init(v, &h, VIRTIO_VSOCK_OP_RST, in->dst_port, in->src_port, 0);
    h.dst_cid = in->src_cid;
    h.type = in->type;
    (void)fe_vsock_send_pkt(v, &h, NULL, 0, NULL);
}

gboolean fe_vsock_credit_update(FeVsockConn *c, GError **errp)
{
    if (!conn_send(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, errp)) {
        return FALSE;
    }
    c->v->stats.credit_updates_sent++;
    return TRUE;
}

gboolean fe_vsock_credit_request(FeVsockConn *c, GError **errp)
{
    return conn_send(c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0, errp);
}

/* After the application consumed data: tell the peer when a quarter freed. */
static void maybe_credit_update(FeVsockConn *c)
{
    if (c->auto_credit && c->state == FE_VSOCK_ESTABLISHED &&
        c->fwd_cnt - c->adv_fwd_cnt >= MAX(c->buf_alloc / 4, 1)) {
        g_autoptr(GError) err = NULL;

        if (!fe_vsock_credit_update(c, &err)) {
            g_debug("vsock front-end: credit update: %s", err->message);
        }
    }
}

/* The peer shut down both ways and we read everything: reset, as Linux does. */
static void maybe_close(FeVsockConn *c)
{
    if (c->state == FE_VSOCK_ESTABLISHED &&
        (c->peer_shutdown & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)) ==
            (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND) &&
        c->rxdata->len == 0) {
        conn_reply(c, VIRTIO_VSOCK_OP_RST);
        c->state = FE_VSOCK_CLOSED;
    }
}

/* ------------------------------------------------------------------------ */
/* Receiving (called from fe_vsock_poll())                                   */
/* ------------------------------------------------------------------------ */

static void conn_rx_data(FeVsockConn *c, const struct virtio_vsock_hdr *h,
                         const uint8_t *data, uint32_t len)
{
    FeVsock *v = c->v;

    if (c->state != FE_VSOCK_ESTABLISHED ||
        (c->our_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV)) {
        v->stats.bad_packets++;
        return;
    }
    /* the peer may send at most buf_alloc bytes beyond what we told it we
     * consumed */
    if ((uint64_t)(c->rx_cnt - c->adv_fwd_cnt) + len > c->buf_alloc) {
        v->stats.credit_overruns++;
    }
    g_byte_array_append(c->rxdata, data, len);
    c->rx_cnt += len;
    if (c->type == VIRTIO_VSOCK_TYPE_SEQPACKET) {
        c->partial_msg += len;
        if (h->flags & VIRTIO_VSOCK_SEQ_EOM) {
            g_queue_push_tail(&c->msg_lens, GUINT_TO_POINTER(c->partial_msg));
            c->partial_msg = 0;
        }
    }
}

static void conn_rx(FeVsockConn *c, const struct virtio_vsock_hdr *h,
                    const uint8_t *data, uint32_t len)
{
    FeVsock *v = c->v;

    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    switch (h->op) {
    case VIRTIO_VSOCK_OP_RESPONSE:
        if (c->state == FE_VSOCK_CONNECTING) {
            c->state = FE_VSOCK_ESTABLISHED;
        } else {
            v->stats.bad_packets++;
        }
        break;
    case VIRTIO_VSOCK_OP_RST:
        c->state = FE_VSOCK_CLOSED; /* never answered */
        break;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        c->peer_shutdown |=
            h->flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
        maybe_close(c);
        break;
    case VIRTIO_VSOCK_OP_RW:
        conn_rx_data(c, h, data, len);
        break;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
        break; /* the credit fields above were the point */
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        if (c->state == FE_VSOCK_ESTABLISHED) {
            conn_reply(c, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
            v->stats.credit_requests_answered++;
        }
        break;
    case VIRTIO_VSOCK_OP_REQUEST:
        v->stats.bad_packets++; /* a request for a connection that exists */
        break;
    default:
        v->stats.unknown_ops++;
        break;
    }
}

/* A REQUEST from the host to a port we listen on: accept it. */
static void accept_request(FeVsock *v, GQueue *q, const struct virtio_vsock_hdr *h)
{
    FeVsockConn *c = conn_new(v, h->dst_port, h->src_port, h->type);

    c->peer_cid = h->src_cid;
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    c->state = FE_VSOCK_ESTABLISHED;
    c->accepted = TRUE;
    conn_reply(c, VIRTIO_VSOCK_OP_RESPONSE);
    g_queue_push_tail(q, c);
}

void fe_vsock_dispatch(FeVsock *v, const struct virtio_vsock_hdr *h,
                       const uint8_t *data, uint32_t len)
{
    FeVsockConn *c = conn_find(v, h->dst_port, h->src_port);
    GQueue *q = g_hash_table_lookup(v->listeners, GUINT_TO_POINTER(h->dst_port));
    FeVsockPkt *p;

    if (h->dst_cid != v->cid) {
        v->stats.bad_packets++;
    }
    if (c) {
        conn_rx(c, h, data, len);
        return;
    }
    if (q && h->op == VIRTIO_VSOCK_OP_REQUEST) {
        accept_request(v, q, h);
        return;
    }
    if (v->opt.reject_unknown) {
        if (h->op != VIRTIO_VSOCK_OP_RST) {
            reply_rst(v, h);
        }
        return;
    }
    p = g_new0(FeVsockPkt, 1);
    p->hdr = *h;
    p->len = len;
    p->data = len ? g_memdup2(data, len) : NULL;
    g_queue_push_tail(&v->unclaimed, p);
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                   */
/* ------------------------------------------------------------------------ */

static uint32_t free_port(FeVsock *v, uint32_t peer)
{
    while (conn_find(v, v->next_port, peer) ||
           g_hash_table_contains(v->listeners, GUINT_TO_POINTER(v->next_port))) {
        v->next_port = v->next_port == G_MAXUINT32 ? 49152 : v->next_port + 1;
    }
    return v->next_port++;
}

FeVsockConn *fe_vsock_connect_start(FeVsock *v, uint32_t port, uint16_t type,
                                    GError **errp)
{
    FeVsockConn *c = conn_new(v, free_port(v, port), port, type);

    c->state = FE_VSOCK_CONNECTING;
    if (!conn_send(c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0, errp)) {
        fe_vsock_conn_free(c);
        return NULL;
    }
    return c;
}

FeVsockConn *fe_vsock_connect(FeVsock *v, uint32_t port, uint16_t type, GError **errp)
{
    FeVsockConn *c = fe_vsock_connect_start(v, port, type, errp);
    gint64 deadline = fe_vsock_deadline(fe_conn_timeout(fe_device_conn(v->dev)));

    while (c && c->state == FE_VSOCK_CONNECTING) {
        if (g_get_monotonic_time() >= deadline) {
            g_set_error(errp, FE_ERROR, FE_ERROR_TIMEOUT,
                        "vsock: no answer to the connection request to port %u", port);
        } else if (fe_vsock_wait_until(v, deadline, errp)) {
            continue;
        }
        fe_vsock_conn_free(c);
        return NULL;
    }
    if (c && c->state == FE_VSOCK_CLOSED) {
        g_set_error(errp, FE_ERROR, FE_ERROR_REFUSED,
                    "vsock: the host refused the connection to port %u (RST)", port);
        fe_vsock_conn_free(c);
        return NULL;
    }
    return c;
}

void fe_vsock_listen(FeVsock *v, uint32_t port)
{
    if (!g_hash_table_contains(v->listeners, GUINT_TO_POINTER(port))) {
        g_hash_table_insert(v->listeners, GUINT_TO_POINTER(port), g_queue_new());
    }
}

FeVsockConn *fe_vsock_accept(FeVsock *v, uint32_t port, int timeout_ms, GError **errp)
{
    GQueue *q = g_hash_table_lookup(v->listeners, GUINT_TO_POINTER(port));
    gint64 deadline = fe_vsock_deadline(timeout_ms);
    FeVsockConn *c;

    if (!q) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID, "vsock: not listening on port %u",
                    port);
        return NULL;
    }
    while (!(c = g_queue_pop_head(q))) {
        if (deadline >= 0 && g_get_monotonic_time() >= deadline) {
            g_set_error(errp, FE_ERROR, FE_ERROR_TIMEOUT,
                        "vsock: no connection to port %u within %d ms", port,
                        timeout_ms);
            return NULL;
        }
        if (!fe_vsock_wait_until(v, deadline < 0 ? -1 : MAX(deadline, 1), errp)) {
            return NULL;
        }
    }
    c->accepted = FALSE;
    return c;
}

/* ------------------------------------------------------------------------ */
/* Data                                                                      */
/* ------------------------------------------------------------------------ */

uint32_t fe_vsock_conn_peer_free(const FeVsockConn *c)
{
    uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

    return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static gboolean not_open(FeVsockConn *c, GError **errp)
{
    if (c->state != FE_VSOCK_ESTABLISHED) {
        g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                    "vsock: the connection to port %u is %s", c->peer_port,
                    c->state == FE_VSOCK_CLOSED ? "reset" : "not established");
        return TRUE;
    }
    return FALSE;
}

gssize fe_vsock_send(FeVsockConn *c, const void *buf, size_t len, int timeout_ms,
                     GError **errp)
{
    FeVsock *v = c->v;
    gint64 deadline = fe_vsock_deadline(timeout_ms);
    size_t sent = 0;

    while (sent < len) {
        uint32_t room, chunk;
        gboolean last;

        if (not_open(c, errp) || (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV)) {
            if (errp && !*errp) {
                g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                            "vsock: the peer shut down receiving");
            }
            return sent ? (gssize)sent : -1;
        }
        room = MIN(fe_vsock_conn_peer_free(c), v->opt.tx_max_payload);
        if (room == 0) {
            if (deadline >= 0 && g_get_monotonic_time() >= deadline) {
                g_set_error(errp, FE_ERROR, FE_ERROR_TIMEOUT,
                            "vsock: no credit from the peer within %d ms", timeout_ms);
                return sent ? (gssize)sent : -1;
            }
            if (!fe_vsock_wait_until(v, deadline < 0 ? -1 : MAX(deadline, 1), errp)) {
                return sent ? (gssize)sent : -1;
            }
            continue;
        }
        chunk = (uint32_t)MIN((size_t)room, len - sent);
        last = sent + chunk == len;
        if (!conn_send(c, VIRTIO_VSOCK_OP_RW,
                       c->type == VIRTIO_VSOCK_TYPE_SEQPACKET && last
                           ? VIRTIO_VSOCK_SEQ_EOM
                           : 0,
                       (const uint8_t *)buf + sent, chunk, errp)) {
            return sent ? (gssize)sent : -1;
        }
        c->tx_cnt += chunk;
        sent += chunk;
    }
    return (gssize)sent;
}

/* Bytes the next read may return (a SEQPACKET read stops at a message). */
static size_t readable_now(const FeVsockConn *c)
{
    if (c->type == VIRTIO_VSOCK_TYPE_SEQPACKET) {
        return GPOINTER_TO_UINT(g_queue_peek_head((GQueue *)&c->msg_lens));
    }
    return c->rxdata->len;
}

static gboolean at_eof(const FeVsockConn *c)
{
    return c->state == FE_VSOCK_CLOSED ||
           (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND);
}

static size_t consume(FeVsockConn *c, void *buf, size_t len)
{
    size_t take = MIN(len, (size_t)c->rxdata->len), drop = take;

    if (c->type == VIRTIO_VSOCK_TYPE_SEQPACKET) {
        drop = GPOINTER_TO_UINT(g_queue_pop_head(&c->msg_lens));
        take = MIN(len, drop); /* the rest of a long message is discarded */
    }
    memcpy(buf, c->rxdata->data, take);
    g_byte_array_remove_range(c->rxdata, 0, (guint)drop);
    c->fwd_cnt += (uint32_t)drop;
    maybe_credit_update(c);
    maybe_close(c);
    return take;
}

gssize fe_vsock_recv(FeVsockConn *c, void *buf, size_t len, int timeout_ms,
                     GError **errp)
{
    gint64 deadline = fe_vsock_deadline(timeout_ms);

    for (;;) {
        if (readable_now(c)) {
            return (gssize)consume(c, buf, len);
        }
        if (at_eof(c)) {
            return 0;
        }
        if (deadline >= 0 && g_get_monotonic_time() >= deadline) {
            g_set_error(errp, FE_ERROR, FE_ERROR_TIMEOUT,
                        "vsock: nothing received from port %u within %d ms",
                        c->peer_port, timeout_ms);
            return -1;
        }
        if (!fe_vsock_wait_until(c->v, deadline < 0 ? -1 : MAX(deadline, 1), errp)) {
            return -1;
        }
    }
}

gboolean fe_vsock_recv_all(FeVsockConn *c, void *buf, size_t len, int timeout_ms,
                           GError **errp)
{
    gint64 deadline = fe_vsock_deadline(timeout_ms);
    size_t got = 0;

    while (got < len) {
        int left =
            deadline < 0 ? -1 : (int)MAX((deadline - g_get_monotonic_time()) / 1000, 0);
        gssize n = fe_vsock_recv(c, (uint8_t *)buf + got, len - got, left, errp);

        if (n < 0) {
            return FALSE;
        }
        if (n == 0) {
            g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                        "vsock: end of stream after %zu of %zu bytes", got, len);
            return FALSE;
        }
        got += (size_t)n;
    }
    return TRUE;
}

gboolean fe_vsock_shutdown(FeVsockConn *c, uint32_t flags, GError **errp)
{
    if (not_open(c, errp)) {
        return FALSE;
    }
    c->our_shutdown |= flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
    return conn_send(c, VIRTIO_VSOCK_OP_SHUTDOWN, flags, NULL, 0, errp);
}

gboolean fe_vsock_rst(FeVsockConn *c, GError **errp)
{
    c->state = FE_VSOCK_CLOSED;
    return conn_send(c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0, errp);
}

gboolean fe_vsock_wait_closed(FeVsockConn *c, int timeout_ms, GError **errp)
{
    gint64 deadline = fe_vsock_deadline(timeout_ms);

    while (c->state != FE_VSOCK_CLOSED) {
        if (deadline >= 0 && g_get_monotonic_time() >= deadline) {
            return FALSE;
        }
        if (!fe_vsock_wait_until(c->v, deadline < 0 ? -1 : MAX(deadline, 1), errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */
/* ------------------------------------------------------------------------ */

FeVsockState fe_vsock_conn_state(const FeVsockConn *c)
{
    return c->state;
}

uint32_t fe_vsock_conn_local_port(const FeVsockConn *c)
{
    return c->local_port;
}

uint32_t fe_vsock_conn_peer_port(const FeVsockConn *c)
{
    return c->peer_port;
}

uint32_t fe_vsock_conn_peer_shutdown(const FeVsockConn *c)
{
    return c->peer_shutdown;
}

size_t fe_vsock_conn_readable(const FeVsockConn *c)
{
    return c->rxdata->len;
}

void fe_vsock_conn_credit(const FeVsockConn *c, FeVsockCredit *out)
{
    out->buf_alloc = c->buf_alloc;
    out->fwd_cnt = c->fwd_cnt;
    out->peer_buf_alloc = c->peer_buf_alloc;
    out->peer_fwd_cnt = c->peer_fwd_cnt;
    out->tx_cnt = c->tx_cnt;
    out->rx_cnt = c->rx_cnt;
}

void fe_vsock_conn_set_auto_credit(FeVsockConn *c, gboolean on)
{
    c->auto_credit = on;
}

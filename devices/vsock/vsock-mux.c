/*
 * devices/vsock/vsock-mux.c - the muxer: checks every guest packet, routes
 * it to its connection (or answers it), and hands the transport the next
 * packet for the guest, round robin over the connections that owe one.
 *
 * Packets that belong to no connection are answered with an RST from a
 * bounded ring (never an RST to an RST); each connection owes at most one
 * packet of each kind (a bit set), so replies that wait for rx buffers take
 * bounded memory and tx is drained even while rx is full.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-vsock"

#include <endian.h>
#include <errno.h>

#include "vsock-internal.h"

/* Payload iovecs on the stack for an rx buffer; more are allocated. */
#define VSOCK_RX_IOV_STACK 64

static void mux_rx_bh(void *opaque);
static void mux_kill_timer(void *opaque);
static void mux_unbind_bh(void *opaque);

GQuark vsock_error_quark(void)
{
    return g_quark_from_static_string("vsock-error-quark");
}

static bool mux_check_config(const VsockMuxConfig *cfg, GError **errp)
{
    /* 0, 1, 2 and 0xffffffff are reserved; the upper 32 bits are zero. */
    if (cfg->guest_cid < 3 || cfg->guest_cid >= 0xffffffffull) {
        g_set_error(errp, VSOCK_ERROR, 0,
                    "guest-cid %" G_GUINT64_FORMAT
                    " is reserved or too large (use 3 to 4294967294)",
                    cfg->guest_cid);
        return false;
    }
    if (cfg->buf_alloc && cfg->buf_alloc < 4096) {
        g_set_error(errp, VSOCK_ERROR, 0, "buf-alloc %u is below 4096 bytes",
                    cfg->buf_alloc);
        return false;
    }
    if (cfg->max_conns > (1u << 24)) {
        g_set_error(errp, VSOCK_ERROR, 0, "max-connections %u is above 16777216",
                    cfg->max_conns);
        return false;
    }
    return true;
}

VsockMux *vsock_mux_new(AioContext *ctx, const VsockMuxConfig *cfg, GError **errp)
{
    VsockMux *mux;

    if (!mux_check_config(cfg, errp)) {
        return NULL;
    }
    mux = g_new0(VsockMux, 1);
    mux->ctx = ctx;
    aio_context_ref(ctx);
    mux->guest_cid = cfg->guest_cid;
    mux->max_conns = cfg->max_conns ? cfg->max_conns : VSOCK_DEFAULT_MAX_CONNS;
    mux->buf_alloc = cfg->buf_alloc ? cfg->buf_alloc : VSOCK_DEFAULT_BUF_ALLOC;
    mux->timeout_ns =
        (int64_t)(cfg->timeout_ms ? cfg->timeout_ms : VSOCK_DEFAULT_TIMEOUT_MS) *
        SCALE_MS;
    mux->conns = g_hash_table_new(g_int64_hash, g_int64_equal);
    mux->local_ports = g_hash_table_new(NULL, NULL);
    mux->local_port_last = VSOCK_LOCAL_PORT_BASE - 1;
    pthread_mutex_init(&mux->bind_lock, NULL);
    mux->bindings = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    mux->unbound = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    mux->unbind_bh = aio_bh_new(ctx, mux_unbind_bh, mux);
    mux->rx_notify = cfg->rx_notify;
    mux->rx_opaque = cfg->rx_opaque;
    g_queue_init(&mux->rxq);
    g_queue_init(&mux->killq);
    mux->rst_cap = MAX(mux->max_conns, 256);
    mux->rsts = g_new(VsockRst, mux->rst_cap);
    mux->rx_bh = aio_bh_new(ctx, mux_rx_bh, mux);
    mux->kill_timer =
        aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_NS, mux_kill_timer, mux);
    if (cfg->uds_path) {
        mux->uds_path = g_strdup(cfg->uds_path);
        mux->listener = vsock_listener_new(mux, cfg->uds_path, errp);
        if (!mux->listener) {
            vsock_mux_free(mux);
            return NULL;
        }
    }
    return mux;
}

static void mux_destroy_conn(VsockMux *mux, VsockConn *c)
{
    g_hash_table_remove(mux->conns, &c->key);
    if (c->host_initiated) {
        g_hash_table_remove(mux->local_ports, GUINT_TO_POINTER(c->local_port));
    }
    if (c->in_rxq) {
        g_queue_unlink(&mux->rxq, &c->rx_link);
    }
    vsock_mux_kill_cancel(mux, c);
    c->ep_ops->close(c, true);
    c->ep_ops->free(c);
    g_free(c);
}

/* Every connection, in no particular order (they are destroyed meanwhile). */
static GList *mux_conn_list(VsockMux *mux)
{
    return g_hash_table_get_values(mux->conns);
}

void vsock_mux_free(VsockMux *mux)
{
    GList *all;

    if (!mux) {
        return;
    }
    if (mux->listener) {
        vsock_listener_free(mux->listener);
    }
    all = mux_conn_list(mux);
    for (GList *l = all; l; l = l->next) {
        mux_destroy_conn(mux, l->data);
    }
    g_list_free(all);
    qemu_bh_delete(mux->rx_bh);
    qemu_bh_delete(mux->unbind_bh);
    timer_free(mux->kill_timer);
    g_hash_table_destroy(mux->conns);
    g_hash_table_destroy(mux->local_ports);
    g_hash_table_destroy(mux->bindings);
    g_array_unref(mux->unbound);
    pthread_mutex_destroy(&mux->bind_lock);
    g_free(mux->rsts);
    g_free(mux->uds_path);
    aio_context_unref(mux->ctx);
    g_free(mux);
}

void vsock_mux_set_rx_notify(VsockMux *mux, VsockRxNotify *cb, void *opaque)
{
    mux->rx_notify = cb;
    mux->rx_opaque = opaque;
}

void vsock_mux_set_features(VsockMux *mux, uint64_t features)
{
    mux->seqpacket = features & (1ull << VIRTIO_VSOCK_F_SEQPACKET);
}

uint64_t vsock_mux_get_guest_cid(VsockMux *mux)
{
    return mux->guest_cid;
}

void vsock_mux_get_stats(VsockMux *mux, VsockMuxStats *stats)
{
    *stats = mux->stats;
    stats->conns = g_hash_table_size(mux->conns) + mux->pending_host;
}

void vsock_mux_buffered(VsockMux *mux, int64_t delta)
{
    mux->stats.buffered += delta;
}

/* ------------------------------------------------------------------------ */
/* Bookkeeping                                                               */
/* ------------------------------------------------------------------------ */

bool vsock_mux_has_room(VsockMux *mux)
{
    return g_hash_table_size(mux->conns) + mux->pending_host < mux->max_conns;
}

uint32_t vsock_mux_alloc_local_port(VsockMux *mux)
{
    /* Terminates: fewer than 2^24 connections hold ports out of 2^30. */
    do {
        mux->local_port_last =
            ((mux->local_port_last + 1) & ~(1u << 31)) | VSOCK_LOCAL_PORT_BASE;
    } while (g_hash_table_contains(mux->local_ports,
                                   GUINT_TO_POINTER(mux->local_port_last)));
    g_hash_table_add(mux->local_ports, GUINT_TO_POINTER(mux->local_port_last));
    return mux->local_port_last;
}

void vsock_mux_add_conn(VsockMux *mux, VsockConn *c)
{
    g_hash_table_insert(mux->conns, &c->key, c);
    mux->stats.conns_total++;
}

bool vsock_mux_rx_pending(VsockMux *mux)
{
    return mux->rst_len > 0 || !g_queue_is_empty(&mux->rxq);
}

static void mux_rx_work_appears(VsockMux *mux)
{
    if (!vsock_mux_rx_pending(mux)) {
        qemu_bh_schedule(mux->rx_bh);
    }
}

static void mux_rx_bh(void *opaque)
{
    VsockMux *mux = opaque;

    if (mux->rx_notify && vsock_mux_rx_pending(mux)) {
        mux->rx_notify(mux->rx_opaque);
    }
}

void vsock_mux_schedule(VsockMux *mux, VsockConn *c)
{
    if (c->pending && !c->in_rxq) {
        mux_rx_work_appears(mux);
        g_queue_push_tail_link(&mux->rxq, &c->rx_link);
        c->in_rxq = true;
    }
}

void vsock_mux_push_rst(VsockMux *mux, uint32_t local_port, uint32_t peer_port,
                        uint16_t type)
{
    if (mux->rst_len == mux->rst_cap) {
        mux->stats.rst_lost++;
        return;
    }
    mux_rx_work_appears(mux);
    mux->rsts[(mux->rst_head + mux->rst_len++) % mux->rst_cap] =
        (VsockRst){local_port, peer_port, type};
}

void vsock_mux_kill_later(VsockMux *mux, VsockConn *c)
{
    if (c->in_killq) {
        return;
    }
    /* One timeout for all: the queue stays in expiry order. */
    c->expiry_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + mux->timeout_ns;
    g_queue_push_tail_link(&mux->killq, &c->kill_link);
    c->in_killq = true;
    if (mux->killq.head == &c->kill_link) {
        timer_mod_ns(mux->kill_timer, c->expiry_ns);
    }
}

void vsock_mux_kill_cancel(VsockMux *mux, VsockConn *c)
{
    if (c->in_killq) {
        g_queue_unlink(&mux->killq, &c->kill_link);
        c->in_killq = false;
    }
}

static void mux_kill_timer(void *opaque)
{
    VsockMux *mux = opaque;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    GList *head;

    while ((head = mux->killq.head) && ((VsockConn *)head->data)->expiry_ns <= now) {
        VsockConn *c = head->data;

        vsock_mux_kill_cancel(mux, c);
        vsock_conn_expire(c);
    }
    if (head) {
        timer_mod_ns(mux->kill_timer, ((VsockConn *)head->data)->expiry_ns);
    }
}

/* ------------------------------------------------------------------------ */
/* Guest -> host                                                             */
/* ------------------------------------------------------------------------ */

static void mux_reply_rst(VsockMux *mux, const struct virtio_vsock_hdr *hdr)
{
    if (le16toh(hdr->op) != VIRTIO_VSOCK_OP_RST) {
        vsock_mux_push_rst(mux, le32toh(hdr->dst_port), le32toh(hdr->src_port),
                           le16toh(hdr->type));
    }
}

/* A connection for the guest's REQUEST @hdr, with the guest's credit. */
static VsockConn *mux_guest_conn(VsockMux *mux, const struct virtio_vsock_hdr *hdr)
{
    VsockConn *c = vsock_conn_new(mux, le32toh(hdr->dst_port), le32toh(hdr->src_port),
                                  le16toh(hdr->type));

    c->peer_buf_alloc = le32toh(hdr->buf_alloc);
    c->peer_fwd_cnt = le32toh(hdr->fwd_cnt);
    return c;
}

/* The host side of a new guest connection, or NULL (then the guest gets RST). */
static VsockConn *mux_open(VsockMux *mux, const struct virtio_vsock_hdr *hdr)
{
    uint32_t port = le32toh(hdr->dst_port);
    bool seqpacket = le16toh(hdr->type) == VIRTIO_VSOCK_TYPE_SEQPACKET;
    VsockBinding b = {0};
    VsockConn *c;

    pthread_mutex_lock(&mux->bind_lock);
    if (g_hash_table_contains(mux->bindings, GUINT_TO_POINTER(port))) {
        b = *(VsockBinding *)g_hash_table_lookup(mux->bindings, GUINT_TO_POINTER(port));
    }
    pthread_mutex_unlock(&mux->bind_lock);
    if (b.accept) {
        c = mux_guest_conn(mux, hdr);
        c->binding = b.id;
        if (!b.accept(vsock_local_new(c), b.opaque)) {
            c->ep_ops->close(c, true);
            c->ep_ops->free(c);
            g_free(c);
            return NULL;
        }
        return c;
    }
    if (mux->uds_path) {
        int fd = vsock_unix_connect(mux, port, seqpacket);

        if (fd < 0) {
            g_debug("vsock: guest connection to port %u refused: %s", port,
                    g_strerror(-fd));
            return NULL;
        }
        c = mux_guest_conn(mux, hdr);
        vsock_unix_attach(c, fd, seqpacket, NULL, 0);
        return c;
    }
    return NULL;
}

static void mux_request(VsockMux *mux, const struct virtio_vsock_hdr *hdr)
{
    VsockConn *c = NULL;

    if (vsock_mux_has_room(mux)) {
        c = mux_open(mux, hdr);
    } else {
        g_debug("vsock: connection limit (%u) reached, guest request refused",
                mux->max_conns);
    }
    if (!c) {
        mux_reply_rst(mux, hdr);
        return;
    }
    vsock_mux_add_conn(mux, c);
    vsock_conn_set_pending(c, VSOCK_PEND_RESPONSE);
}

/* Header checks before routing; false: dropped (counted). */
static bool mux_check_packet(VsockMux *mux, const struct virtio_vsock_hdr *hdr,
                             size_t size)
{
    uint32_t len = le32toh(hdr->len);

    if (le64toh(hdr->src_cid) != mux->guest_cid ||
        le64toh(hdr->dst_cid) != VSOCK_HOST_CID) {
        return false; /* not ours to answer (as Linux's vhost-vsock) */
    }
    if (len > VSOCK_MAX_PKT_PAYLOAD || len > size - VSOCK_HDR_LEN) {
        /* Data the guest did not give: its connection cannot go on. */
        uint64_t key = (uint64_t)le32toh(hdr->dst_port) << 32 | le32toh(hdr->src_port);
        VsockConn *c = g_hash_table_lookup(mux->conns, &key);

        if (c && le16toh(hdr->op) == VIRTIO_VSOCK_OP_RW) {
            vsock_conn_abort(c);
        }
        return false;
    }
    return true;
}

static bool mux_type_ok(VsockMux *mux, uint16_t type)
{
    return type == VIRTIO_VSOCK_TYPE_STREAM ||
           (type == VIRTIO_VSOCK_TYPE_SEQPACKET && mux->seqpacket);
}

void vsock_mux_tx(VsockMux *mux, const struct iovec *iov, unsigned iovcnt)
{
    struct virtio_vsock_hdr hdr;
    size_t size = vsock_iov_size(iov, iovcnt);
    VsockConn *c;
    uint64_t key;

    mux->stats.tx_packets++;
    /* One copy of the header: the guest may change its memory meanwhile. */
    if (size < VSOCK_HDR_LEN ||
        vsock_iov_to_buf(iov, iovcnt, 0, &hdr, VSOCK_HDR_LEN) != VSOCK_HDR_LEN ||
        !mux_check_packet(mux, &hdr, size)) {
        mux->stats.dropped++;
        return;
    }
    if (!mux_type_ok(mux, le16toh(hdr.type))) {
        mux_reply_rst(mux, &hdr); /* the spec: RST for an unknown type */
        return;
    }
    key = (uint64_t)le32toh(hdr.dst_port) << 32 | le32toh(hdr.src_port);
    c = g_hash_table_lookup(mux->conns, &key);
    if (!c) {
        if (le16toh(hdr.op) == VIRTIO_VSOCK_OP_REQUEST) {
            mux_request(mux, &hdr);
        } else {
            mux_reply_rst(mux, &hdr);
        }
        return;
    }
    if (c->type != le16toh(hdr.type)) {
        mux_reply_rst(mux, &hdr); /* as Linux: not this connection's packet */
        return;
    }
    if (le16toh(hdr.op) == VIRTIO_VSOCK_OP_RST) {
        mux_destroy_conn(mux, c);
        return;
    }
    if (le16toh(hdr.op) == VIRTIO_VSOCK_OP_RW) {
        mux->stats.tx_bytes += le32toh(hdr.len);
    }
    vsock_conn_tx(c, &hdr, iov, iovcnt);
}

/* ------------------------------------------------------------------------ */
/* Host -> guest                                                             */
/* ------------------------------------------------------------------------ */

static ssize_t mux_put_header(VsockMux *mux, const struct iovec *iov, unsigned iovcnt,
                              const struct virtio_vsock_hdr *hdr, size_t payload)
{
    vsock_iov_from_buf(iov, iovcnt, 0, hdr, VSOCK_HDR_LEN);
    mux->stats.rx_packets++;
    mux->stats.rx_bytes += payload;
    if (le16toh(hdr->op) == VIRTIO_VSOCK_OP_RST) {
        mux->stats.rst_sent++;
    }
    return VSOCK_HDR_LEN + payload;
}

static ssize_t mux_rx_rst(VsockMux *mux, const struct iovec *iov, unsigned iovcnt)
{
    VsockRst r = mux->rsts[mux->rst_head];
    struct virtio_vsock_hdr hdr = {
        .src_cid = htole64(VSOCK_HOST_CID),
        .dst_cid = htole64(mux->guest_cid),
        .src_port = htole32(r.local_port),
        .dst_port = htole32(r.peer_port),
        .type = htole16(r.type),
        .op = htole16(VIRTIO_VSOCK_OP_RST),
    };

    mux->rst_head = (mux->rst_head + 1) % mux->rst_cap;
    mux->rst_len--;
    return mux_put_header(mux, iov, iovcnt, &hdr, 0);
}

/* The next connection's packet, round robin; 0 if none has one after all. */
static ssize_t mux_rx_conn(VsockMux *mux, const struct iovec *iov, unsigned iovcnt,
                           const struct iovec *piov, unsigned piovcnt, size_t room)
{
    /* Each connection once: one that cannot use this buffer stays queued. */
    for (guint left = g_queue_get_length(&mux->rxq); left > 0; left--) {
        GList *link = g_queue_pop_head_link(&mux->rxq);
        VsockConn *c = link->data;
        struct virtio_vsock_hdr hdr;
        ssize_t n;

        c->in_rxq = false;
        n = vsock_conn_fill(c, &hdr, piov, piovcnt, room);
        vsock_mux_schedule(mux, c);
        if (n < 0) {
            continue;
        }
        n = mux_put_header(mux, iov, iovcnt, &hdr, n);
        if (le16toh(hdr.op) == VIRTIO_VSOCK_OP_RST) {
            mux_destroy_conn(mux, c);
        }
        return n;
    }
    return 0;
}

ssize_t vsock_mux_rx(VsockMux *mux, const struct iovec *iov, unsigned iovcnt)
{
    struct iovec stack[VSOCK_RX_IOV_STACK];
    struct iovec *piov = stack;
    size_t size = vsock_iov_size(iov, iovcnt);
    size_t room;
    unsigned piovcnt;
    ssize_t n;

    if (size < VSOCK_HDR_LEN) {
        return -EMSGSIZE;
    }
    if (mux->rst_len > 0) {
        return mux_rx_rst(mux, iov, iovcnt);
    }
    if (g_queue_is_empty(&mux->rxq)) {
        return 0;
    }
    if (iovcnt > VSOCK_RX_IOV_STACK) {
        piov = g_new(struct iovec, iovcnt);
    }
    piovcnt = vsock_iov_slice(iov, iovcnt, VSOCK_HDR_LEN, size - VSOCK_HDR_LEN, piov,
                              iovcnt, &room);
    n = mux_rx_conn(mux, iov, iovcnt, piov, piovcnt, room);
    if (piov != stack) {
        g_free(piov);
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Ports, reset                                                              */
/* ------------------------------------------------------------------------ */

bool vsock_mux_bind_port(VsockMux *mux, uint32_t port, VsockAcceptFn *accept,
                         void *opaque, GError **errp)
{
    VsockBinding *b;
    bool ok;

    pthread_mutex_lock(&mux->bind_lock);
    ok = !g_hash_table_contains(mux->bindings, GUINT_TO_POINTER(port));
    if (ok) {
        b = g_new(VsockBinding, 1);
        *b = (VsockBinding){accept, opaque, ++mux->next_binding};
        g_hash_table_insert(mux->bindings, GUINT_TO_POINTER(port), b);
    }
    pthread_mutex_unlock(&mux->bind_lock);
    if (!ok) {
        g_set_error(errp, VSOCK_ERROR, 0, "vsock port %u is already served", port);
    }
    return ok;
}

/* Muxer thread: reset the connections of the bindings removed meanwhile. */
static void mux_unbind_bh(void *opaque)
{
    VsockMux *mux = opaque;
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    GList *all;

    pthread_mutex_lock(&mux->bind_lock);
    g_array_append_vals(ids, mux->unbound->data, mux->unbound->len);
    g_array_set_size(mux->unbound, 0);
    pthread_mutex_unlock(&mux->bind_lock);
    all = mux_conn_list(mux);
    for (GList *l = all; l; l = l->next) {
        VsockConn *c = l->data;

        for (guint i = 0; c->binding && i < ids->len; i++) {
            if (c->binding == g_array_index(ids, uint64_t, i)) {
                vsock_conn_abort(c);
                break;
            }
        }
    }
    g_list_free(all);
}

void vsock_mux_unbind_port(VsockMux *mux, uint32_t port)
{
    VsockBinding *b;

    pthread_mutex_lock(&mux->bind_lock);
    b = g_hash_table_lookup(mux->bindings, GUINT_TO_POINTER(port));
    if (b) {
        g_array_append_val(mux->unbound, b->id);
        g_hash_table_remove(mux->bindings, GUINT_TO_POINTER(port));
    }
    pthread_mutex_unlock(&mux->bind_lock);
    if (!b) {
        return;
    }
    if (in_aio_context_home_thread(mux->ctx)) {
        mux_unbind_bh(mux);
    } else {
        qemu_bh_schedule(mux->unbind_bh);
    }
}

void vsock_mux_reset(VsockMux *mux)
{
    GList *all = mux_conn_list(mux);

    for (GList *l = all; l; l = l->next) {
        VsockConn *c = l->data;

        vsock_mux_push_rst(mux, c->local_port, c->peer_port, c->type);
        mux_destroy_conn(mux, c);
    }
    g_list_free(all);
    if (mux->listener) {
        vsock_listener_drop_pending(mux->listener);
    }
}

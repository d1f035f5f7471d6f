/*
 * frontend/fe-vsock.c - virtio-vsock driver: device setup, rx buffers,
 * tx slots, raw packets and the poll loop.  Connections: fe-vsock-conn.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "frontend/fe-vsock-internal.h"

#define FE_VSOCK_DEFAULT_QUEUE_SIZE 128
#define FE_VSOCK_DEFAULT_RX_BUF 4096
#define FE_VSOCK_DEFAULT_TX_SLOTS 32
#define FE_VSOCK_DEFAULT_TX_PAYLOAD (64 * 1024)
#define FE_VSOCK_DEFAULT_BUF_ALLOC (256 * 1024)
#define FE_VSOCK_MAX_SEGS 8

static const char *const op_names[] = {
    [VIRTIO_VSOCK_OP_REQUEST] = "REQUEST",
    [VIRTIO_VSOCK_OP_RESPONSE] = "RESPONSE",
    [VIRTIO_VSOCK_OP_RST] = "RST",
    [VIRTIO_VSOCK_OP_SHUTDOWN] = "SHUTDOWN",
    [VIRTIO_VSOCK_OP_RW] = "RW",
    [VIRTIO_VSOCK_OP_CREDIT_UPDATE] = "CREDIT_UPDATE",
    [VIRTIO_VSOCK_OP_CREDIT_REQUEST] = "CREDIT_REQUEST",
};

const char *fe_vsock_op_name(uint16_t op)
{
    return op < G_N_ELEMENTS(op_names) && op_names[op] ? op_names[op] : "INVALID";
}

gint64 fe_vsock_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : g_get_monotonic_time() + (gint64)timeout_ms * 1000;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

static void post_rx(FeVsock *v, FeVsockRxBuf *b)
{
    uint32_t total = FE_VSOCK_HDR_SIZE + v->opt.rx_buf_size;
    FeVqBuf bufs[2] = {{.gpa = b->gpa, .len = total, .write = TRUE}};

    if (v->opt.rx_split) {
        bufs[0].len = FE_VSOCK_HDR_SIZE;
        bufs[1] = (FeVqBuf){.gpa = b->gpa + FE_VSOCK_HDR_SIZE,
                            .len = v->opt.rx_buf_size,
                            .write = TRUE};
    }
    /* fails only on a broken ring, which fe_vsock_poll() reports */
    (void)fe_vq_add(v->rx, bufs, v->opt.rx_split ? 2 : 1, b);
}

static gboolean alloc_buffers(FeVsock *v, GError **errp)
{
    FeMem *mem = fe_device_mem(v->dev);
    uint32_t rx_total = FE_VSOCK_HDR_SIZE + v->opt.rx_buf_size;
    uint32_t tx_total = FE_VSOCK_HDR_SIZE + v->opt.tx_max_payload;

    v->rxb = g_new0(FeVsockRxBuf, v->opt.rx_buffers);
    v->txs = g_new0(FeVsockTxSlot, v->opt.tx_slots);
    v->tx_free = g_new(unsigned, v->opt.tx_slots);
    for (unsigned i = 0; i < v->opt.rx_buffers; i++) {
        v->rxb[i].buf = fe_mem_alloc(mem, rx_total, 64, &v->rxb[i].gpa);
        if (!v->rxb[i].buf) {
            goto nospace;
        }
    }
    for (unsigned i = 0; i < v->opt.tx_slots; i++) {
        v->txs[i].buf = fe_mem_alloc(mem, tx_total, 64, &v->txs[i].gpa);
        v->txs[i].index = i;
        if (!v->txs[i].buf) {
            goto nospace;
        }
        v->tx_free[v->n_tx_free++] = i;
    }
    return TRUE;

nospace:
    g_set_error(errp, FE_ERROR, FE_ERROR_NOSPACE,
                "vsock: guest memory too small for the rx and tx buffers");
    return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Open and close                                                            */
/* ------------------------------------------------------------------------ */

static gboolean check_options(FeVsockOptions *o, GError **errp)
{
    o->queue_size = o->queue_size ? o->queue_size : FE_VSOCK_DEFAULT_QUEUE_SIZE;
    o->rx_buffers = o->rx_buffers ? o->rx_buffers : o->queue_size;
    o->rx_buf_size = o->rx_buf_size ? o->rx_buf_size : FE_VSOCK_DEFAULT_RX_BUF;
    o->tx_slots = o->tx_slots ? o->tx_slots : FE_VSOCK_DEFAULT_TX_SLOTS;
    o->tx_max_payload =
        o->tx_max_payload ? o->tx_max_payload : FE_VSOCK_DEFAULT_TX_PAYLOAD;
    o->buf_alloc = o->buf_alloc ? o->buf_alloc : FE_VSOCK_DEFAULT_BUF_ALLOC;
    if (o->rx_buffers > o->queue_size || o->tx_slots > o->queue_size ||
        o->rx_buf_size > (1u << 24) || o->tx_max_payload > (1u << 24)) {
        g_set_error(
            errp, FE_ERROR, FE_ERROR_INVALID,
            "vsock: rx_buffers and tx_slots must fit the queue, buffers <= 16 MiB");
        return FALSE;
    }
    return TRUE;
}

static FeDevice *open_device(FeVsock *v, GError **errp)
{
    const FeVsockOptions *o = &v->opt;
    FeDeviceOptions d = {
        .socket_path = o->socket_path,
        .timeout_ms = o->timeout_ms,
        .num_queues = 2,
        .queue_size = o->queue_size,
        .max_indirect = FE_VSOCK_MAX_SEGS,
        .features = FE_DEVICE_RING_FEATURES | (1ull << FE_VSOCK_F_STREAM) |
                    (o->seqpacket ? 1ull << VIRTIO_VSOCK_F_SEQPACKET : 0),
        .config_size = sizeof(struct virtio_vsock_config),
        .no_event_idx = o->no_event_idx,
        .no_mem_slots = o->no_mem_slots,
        .no_inflight = TRUE, /* vsock state cannot survive a back-end restart */
    };
    uint64_t per_rx = FE_VSOCK_HDR_SIZE + o->rx_buf_size + 64;
    uint64_t per_tx = FE_VSOCK_HDR_SIZE + o->tx_max_payload + 64;

    if (o->no_indirect) {
        d.features &= ~(1ull << VIRTIO_RING_F_INDIRECT_DESC);
    }
    d.mem_size = per_rx * o->rx_buffers + per_tx * o->tx_slots +
                 2 * (uint64_t)o->queue_size * (16 * (FE_VSOCK_MAX_SEGS + 1) + 32) +
                 (2u << 20);
    return fe_device_new(&d, errp);
}

static gboolean read_cid(FeVsock *v, GError **errp)
{
    const struct virtio_vsock_config *cfg = fe_device_config(v->dev);

    v->cid = v->opt.guest_cid;
    if (!v->cid && cfg) {
        v->cid = cfg->guest_cid;
    }
    if (v->cid < 3 || v->cid > G_MAXUINT32) {
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "vsock: the back-end gives no usable guest CID (%" G_GUINT64_FORMAT
                    "; it needs VHOST_USER_PROTOCOL_F_CONFIG)",
                    (guint64)v->cid);
        return FALSE;
    }
    return TRUE;
}

FeVsock *fe_vsock_open(const FeVsockOptions *opt, GError **errp)
{
    FeVsock *v = g_new0(FeVsock, 1);

    v->opt = *opt;
    g_queue_init(&v->unclaimed);
    v->conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    v->listeners = g_hash_table_new(g_direct_hash, g_direct_equal);
    v->next_port = 49152;
    if (!check_options(&v->opt, errp) || !(v->dev = open_device(v, errp)) ||
        !read_cid(v, errp)) {
        fe_vsock_close(v);
        return NULL;
    }
    v->rx = fe_device_vq(v->dev, FE_VSOCK_RX_QUEUE);
    v->tx = fe_device_vq(v->dev, FE_VSOCK_TX_QUEUE);
    fe_vq_set_indirect(v->rx, FALSE); /* rx buffers stay plain, as Linux posts them */
    if (!alloc_buffers(v, errp) || !fe_device_start(v->dev, errp)) {
        fe_vsock_close(v);
        return NULL;
    }
    for (unsigned i = 0; i < v->opt.rx_buffers; i++) {
        post_rx(v, &v->rxb[i]);
    }
    fe_vq_kick(v->rx);
    return v;
}

static void free_listener(gpointer key, gpointer value, gpointer unused)
{
    g_queue_free(value);
}

void fe_vsock_close(FeVsock *v)
{
    FeVsockPkt *p;

    if (!v) {
        return;
    }
    fe_vsock_conns_free(v);
    g_hash_table_foreach(v->listeners, free_listener, NULL);
    g_hash_table_destroy(v->listeners);
    g_hash_table_destroy(v->conns);
    while ((p = g_queue_pop_head(&v->unclaimed))) {
        fe_vsock_pkt_clear(p);
        g_free(p);
    }
    fe_device_free(v->dev); /* the buffers go with its guest memory */
    g_free(v->rxb);
    g_free(v->txs);
    g_free(v->tx_free);
    g_free(v);
}

FeDevice *fe_vsock_device(FeVsock *v)
{
    return v->dev;
}

uint64_t fe_vsock_guest_cid(const FeVsock *v)
{
    return v->cid;
}

const FeVsockStats *fe_vsock_stats(const FeVsock *v)
{
    return &v->stats;
}

/* ------------------------------------------------------------------------ */
/* The poll loop                                                             */
/* ------------------------------------------------------------------------ */

static void take_rx(FeVsock *v, FeVsockRxBuf *b, uint32_t used)
{
    struct virtio_vsock_hdr hdr;
    uint32_t len;

    if (used < FE_VSOCK_HDR_SIZE || used > FE_VSOCK_HDR_SIZE + v->opt.rx_buf_size) {
        v->stats.bad_packets++;
        return;
    }
    memcpy(&hdr, b->buf, sizeof(hdr));
    len = used - FE_VSOCK_HDR_SIZE;
    if (hdr.len != len) {
        /* the header must describe exactly the bytes written after it */
        v->stats.bad_packets++;
        len = MIN(len, hdr.len);
    }
    v->stats.rx_packets++;
    v->stats.rx_bytes += len;
    fe_vsock_dispatch(v, &hdr, b->buf + FE_VSOCK_HDR_SIZE, len);
}

/* Harvest both rings once; TRUE if anything was there. */
static gboolean harvest(FeVsock *v)
{
    gboolean any = FALSE;
    FeVsockRxBuf *b;
    FeVsockTxSlot *s;
    uint32_t used;

    while ((s = fe_vq_get_used(v->tx, NULL))) {
        v->tx_free[v->n_tx_free++] = s->index;
        any = TRUE;
    }
    while ((b = fe_vq_get_used(v->rx, &used))) {
        take_rx(v, b, used);
        post_rx(v, b);
        any = TRUE;
    }
    if (any) {
        fe_vq_kick(v->rx);
    }
    return any;
}

static gboolean check_broken(FeVsock *v, GError **errp)
{
    const char *e = fe_vq_error(v->rx) ? fe_vq_error(v->rx) : fe_vq_error(v->tx);

    if (e) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL, "vsock: %s", e);
        return FALSE;
    }
    return TRUE;
}

/* Sleep on both call eventfds and the socket until @deadline. */
static gboolean sleep_until(FeVsock *v, gint64 deadline, GError **errp)
{
    struct pollfd pfd[3] = {{.fd = fe_vq_call_fd(v->rx), .events = POLLIN},
                            {.fd = fe_vq_call_fd(v->tx), .events = POLLIN},
                            {.fd = fe_conn_fd(fe_device_conn(v->dev)), .events = 0}};
    gint64 left = deadline < 0 ? -1 : (deadline - g_get_monotonic_time() + 999) / 1000;
    uint64_t junk;
    int ret;

    do {
        ret = poll(pfd, 3, deadline < 0 ? -1 : (int)CLAMP(left, 0, G_MAXINT));
    } while (ret < 0 && errno == EINTR);
    if (ret > 0 && (pfd[2].revents & (POLLHUP | POLLERR | POLLNVAL))) {
        g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                    "vsock: the vhost-user back-end disconnected");
        return FALSE;
    }
    for (int i = 0; i < 2; i++) {
        if (pfd[i].revents & POLLIN) {
            while (read(pfd[i].fd, &junk, sizeof(junk)) < 0 && errno == EINTR) {
            }
        }
    }
    return TRUE;
}

gboolean fe_vsock_poll(FeVsock *v, int timeout_ms, GError **errp)
{
    return fe_vsock_wait_until(v, timeout_ms == 0 ? 0 : fe_vsock_deadline(timeout_ms),
                               errp);
}

/*
 * Harvest; if nothing was there, sleep until a notification or @deadline
 * (0: do not sleep) and harvest again.
 */
gboolean fe_vsock_wait_until(FeVsock *v, gint64 deadline, GError **errp)
{
    if (harvest(v)) {
        return check_broken(v, errp);
    }
    if (!check_broken(v, errp)) {
        return FALSE;
    }
    if (deadline == 0 || (deadline > 0 && g_get_monotonic_time() >= deadline)) {
        return TRUE;
    }
    /* both enable_cb calls, so that either ring can wake us */
    if (fe_vq_enable_cb(v->rx) & fe_vq_enable_cb(v->tx)) {
        if (!sleep_until(v, deadline, errp)) {
            return FALSE;
        }
    }
    harvest(v);
    return check_broken(v, errp);
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                   */
/* ------------------------------------------------------------------------ */

/* A free tx slot, waiting (bounded) for the device to return one. */
static FeVsockTxSlot *get_tx_slot(FeVsock *v, GError **errp)
{
    gint64 deadline = fe_vsock_deadline(fe_conn_timeout(fe_device_conn(v->dev)));

    while (!v->n_tx_free) {
        if (g_get_monotonic_time() >= deadline) {
            g_set_error(errp, FE_ERROR, FE_ERROR_TIMEOUT,
                        "vsock: the back-end consumed no tx packet for %d ms",
                        fe_conn_timeout(fe_device_conn(v->dev)));
            return NULL;
        }
        if (!fe_vsock_wait_until(v, deadline, errp)) {
            return NULL;
        }
    }
    return &v->txs[v->tx_free[--v->n_tx_free]];
}

/* Put @len bytes already in @s on the tx ring as @nsegs descriptors. */
static gboolean push_tx(FeVsock *v, FeVsockTxSlot *s, size_t len, unsigned nsegs,
                        GError **errp)
{
    FeVqBuf bufs[FE_VSOCK_MAX_SEGS];
    size_t off = 0;
    unsigned n = 0;

    for (unsigned k = 0; k < nsegs && (off < len || n == 0); k++) {
        size_t piece =
            k + 1 == nsegs ? len - off : MIN(len - off, (len + nsegs - 1) / nsegs);

        bufs[n++] =
            (FeVqBuf){.gpa = s->gpa + off, .len = (uint32_t)piece, .write = FALSE};
        off += piece;
    }
    if (fe_vq_add(v->tx, bufs, n, s) < 0) {
        v->tx_free[v->n_tx_free++] = s->index;
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL, "vsock: tx ring: %s",
                    fe_vq_error(v->tx) ? fe_vq_error(v->tx) : "full");
        return FALSE;
    }
    fe_vq_kick(v->tx);
    v->stats.tx_packets++;
    return TRUE;
}

gboolean fe_vsock_send_bytes(FeVsock *v, const void *bytes, size_t len, unsigned nsegs,
                             GError **errp)
{
    FeVsockTxSlot *s;

    if (len > FE_VSOCK_HDR_SIZE + v->opt.tx_max_payload || nsegs < 1 ||
        nsegs > FE_VSOCK_MAX_SEGS) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "vsock: at most %u bytes in 1..%d descriptors",
                    FE_VSOCK_HDR_SIZE + v->opt.tx_max_payload, FE_VSOCK_MAX_SEGS);
        return FALSE;
    }
    if (!(s = get_tx_slot(v, errp))) {
        return FALSE;
    }
    memcpy(s->buf, bytes, len);
    return push_tx(v, s, len, nsegs, errp);
}

gboolean fe_vsock_send_pkt(FeVsock *v, const struct virtio_vsock_hdr *hdr,
                           const void *payload, uint32_t len, GError **errp)
{
    FeVsockTxSlot *s;

    if (len > v->opt.tx_max_payload) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "vsock: a packet carries at most %u bytes", v->opt.tx_max_payload);
        return FALSE;
    }
    if (!(s = get_tx_slot(v, errp))) {
        return FALSE;
    }
    memcpy(s->buf, hdr, FE_VSOCK_HDR_SIZE);
    if (len) {
        memcpy(s->buf + FE_VSOCK_HDR_SIZE, payload, len);
    }
    if (!v->opt.tx_split || len == 0) {
        if (!push_tx(v, s, FE_VSOCK_HDR_SIZE + len, 1, errp)) {
            return FALSE;
        }
    } else {
        FeVqBuf bufs[2] = {{.gpa = s->gpa, .len = FE_VSOCK_HDR_SIZE},
                           {.gpa = s->gpa + FE_VSOCK_HDR_SIZE, .len = len}};

        if (fe_vq_add(v->tx, bufs, 2, s) < 0) {
            v->tx_free[v->n_tx_free++] = s->index;
            g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL, "vsock: tx ring broken");
            return FALSE;
        }
        fe_vq_kick(v->tx);
        v->stats.tx_packets++;
    }
    v->stats.tx_bytes += len;
    return TRUE;
}

void fe_vsock_hdr_init(const FeVsock *v, struct virtio_vsock_hdr *hdr, uint16_t op,
                       uint32_t src_port, uint32_t dst_port, uint32_t len)
{
    memset(hdr, 0, sizeof(*hdr));
    hdr->src_cid = v->cid;
    hdr->dst_cid = FE_VSOCK_HOST_CID;
    hdr->src_port = src_port;
    hdr->dst_port = dst_port;
    hdr->len = len;
    hdr->type = VIRTIO_VSOCK_TYPE_STREAM;
    hdr->op = op;
}

/* ------------------------------------------------------------------------ */
/* Unclaimed packets                                                         */
/* ------------------------------------------------------------------------ */

gboolean fe_vsock_recv_pkt(FeVsock *v, FeVsockPkt *out, int timeout_ms, GError **errp)
{
    gint64 deadline = fe_vsock_deadline(timeout_ms);
    FeVsockPkt *p;

    memset(out, 0, sizeof(*out));
    while (!(p = g_queue_pop_head(&v->unclaimed))) {
        if (deadline >= 0 && g_get_monotonic_time() >= deadline) {
            g_set_error(errp, FE_ERROR, FE_ERROR_TIMEOUT,
                        "vsock: no packet within %d ms", timeout_ms);
            return FALSE;
        }
        if (!fe_vsock_wait_until(v, deadline < 0 ? -1 : MAX(deadline, 1), errp)) {
            return FALSE;
        }
    }
    *out = *p;
    g_free(p);
    return TRUE;
}

void fe_vsock_pkt_clear(FeVsockPkt *pkt)
{
    g_clear_pointer(&pkt->data, g_free);
    pkt->len = 0;
}

unsigned fe_vsock_pending_pkts(const FeVsock *v)
{
    return g_queue_get_length((GQueue *)&v->unclaimed);
}

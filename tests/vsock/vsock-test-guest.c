/*
 * tests/vsock/vsock-test-guest.c - the fake guest driver (see the header).
 *
 * SPDX-License-Identifier: MIT
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsock-test-guest.h"

static uint64_t tg_key(uint32_t port, uint32_t host_port)
{
    return (uint64_t)port << 32 | host_port;
}

static void tg_conn_free(gpointer p)
{
    TgConn *c = p;

    g_byte_array_unref(c->rx);
    g_array_unref(c->msg_ends);
    g_free(c);
}

static void tg_on_notify(void *opaque)
{
    ((TestGuest *)opaque)->notifies++;
}

TestGuest *tg_new(AioContext *ctx, VsockMux *mux)
{
    TestGuest *g = g_new0(TestGuest, 1);

    g->ctx = ctx;
    g->mux = mux;
    g->conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g->all = g_ptr_array_new_with_free_func(tg_conn_free);
    g->listening = g_hash_table_new(NULL, NULL);
    g->next_port = 50000;
    g->rx_room = 4096;
    g->rx_budget = -1;
    g->buf_alloc = 256 * 1024;
    g->auto_consume = true;
    g->keep_rx = true;
    g->log = g_array_new(FALSE, FALSE, sizeof(struct virtio_vsock_hdr));
    vsock_mux_set_rx_notify(mux, tg_on_notify, g);
    return g;
}

void tg_free(TestGuest *g)
{
    vsock_mux_set_rx_notify(g->mux, NULL, NULL);
    g_hash_table_destroy(g->conns);
    g_ptr_array_unref(g->all);
    g_hash_table_destroy(g->listening);
    g_array_unref(g->log);
    g_free(g);
}

static TgConn *tg_conn_add(TestGuest *g, uint32_t port, uint32_t host_port,
                           uint16_t type)
{
    TgConn *c = g_new0(TgConn, 1);
    uint64_t *key = g_new(uint64_t, 1);

    c->port = port;
    c->host_port = host_port;
    c->type = type;
    c->buf_alloc = g->buf_alloc;
    c->rx = g_byte_array_new();
    c->msg_ends = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    c->auto_consume = g->auto_consume;
    c->rst_on_shut = true;
    *key = tg_key(port, host_port);
    g_hash_table_insert(g->conns, key, c);
    g_ptr_array_add(g->all, c);
    return c;
}

static void tg_conn_forget(TestGuest *g, TgConn *c, TgState state)
{
    uint64_t key = tg_key(c->port, c->host_port);

    c->state = state;
    g_hash_table_remove(g->conns, &key);
}

void tg_send_raw(TestGuest *g, uint16_t op, uint16_t type, uint32_t src_port,
                 uint32_t dst_port, uint32_t flags, uint32_t buf_alloc,
                 uint32_t fwd_cnt, const void *payload, uint32_t len)
{
    struct virtio_vsock_hdr hdr = {
        .src_cid = htole64(TG_CID),
        .dst_cid = htole64(VSOCK_HOST_CID),
        .src_port = htole32(src_port),
        .dst_port = htole32(dst_port),
        .len = htole32(len),
        .type = htole16(type),
        .op = htole16(op),
        .flags = htole32(flags),
        .buf_alloc = htole32(buf_alloc),
        .fwd_cnt = htole32(fwd_cnt),
    };
    /* Header and payload in separate buffers, as Linux queues them. */
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)payload, len}};

    vsock_mux_tx(g->mux, iov, len ? 2 : 1);
}

void tg_send_op(TestGuest *g, TgConn *c, uint16_t op, uint32_t flags,
                const void *payload, uint32_t len)
{
    tg_send_raw(g, op, c->type, c->port, c->host_port, flags, c->buf_alloc, c->fwd_cnt,
                payload, len);
    c->last_fwd_sent = c->fwd_cnt;
    if (op == VIRTIO_VSOCK_OP_RW) {
        c->tx_cnt += len;
    }
}

TgConn *tg_connect(TestGuest *g, uint32_t host_port, uint16_t type)
{
    TgConn *c = tg_conn_add(g, g->next_port++, host_port, type);

    tg_send_op(g, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
    return c;
}

void tg_listen(TestGuest *g, uint32_t port)
{
    g_hash_table_add(g->listening, GUINT_TO_POINTER(port));
}

static uint32_t tg_peer_free(TgConn *c)
{
    return c->peer_buf_alloc - (c->tx_cnt - c->peer_fwd_cnt);
}

size_t tg_send(TestGuest *g, TgConn *c, const void *data, size_t len)
{
    size_t done = 0;

    while (done < len && c->state == TG_OPEN) {
        uint32_t n = MIN(MIN(len - done, tg_peer_free(c)), VSOCK_MAX_PKT_PAYLOAD);

        if (n == 0) {
            break;
        }
        tg_send_op(g, c, VIRTIO_VSOCK_OP_RW, 0, (const uint8_t *)data + done, n);
        done += n;
    }
    return done;
}

bool tg_send_msg(TestGuest *g, TgConn *c, const void *data, size_t len, bool eor,
                 size_t *done)
{
    do {
        uint32_t n = MIN(MIN(len - *done, 4096), tg_peer_free(c));
        bool last = *done + n == len;
        uint32_t flags =
            last ? VIRTIO_VSOCK_SEQ_EOM | (eor ? VIRTIO_VSOCK_SEQ_EOR : 0) : 0;

        if (n == 0 && !last) {
            return false; /* wait for credit */
        }
        tg_send_op(g, c, VIRTIO_VSOCK_OP_RW, flags, (const uint8_t *)data + *done, n);
        *done += n;
    } while (*done < len);
    return true;
}

void tg_shutdown(TestGuest *g, TgConn *c, uint32_t flags)
{
    tg_send_op(g, c, VIRTIO_VSOCK_OP_SHUTDOWN, flags, NULL, 0);
}

void tg_rst(TestGuest *g, TgConn *c)
{
    tg_send_op(g, c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
    tg_conn_forget(g, c, TG_CLOSED);
}

void tg_consume(TestGuest *g, TgConn *c, size_t n)
{
    g_assert_cmpuint(n, <=, c->unconsumed);
    c->unconsumed -= n;
    c->fwd_cnt += n;
    /* As Linux: tell the host once its view of our space falls below 64 KiB. */
    if (c->state == TG_OPEN && c->fwd_cnt != c->last_fwd_sent &&
        c->buf_alloc - (c->rx_cnt - c->last_fwd_sent) < MIN(c->buf_alloc, 64 * 1024)) {
        tg_send_op(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* Receiving                                                                 */
/* ------------------------------------------------------------------------ */

static void tg_on_request(TestGuest *g, const struct virtio_vsock_hdr *h)
{
    uint32_t port = le32toh(h->dst_port);
    uint32_t host_port = le32toh(h->src_port);
    TgConn *c;

    if (g->ignore_requests) {
        return;
    }
    if (!g_hash_table_contains(g->listening, GUINT_TO_POINTER(port))) {
        tg_send_raw(g, VIRTIO_VSOCK_OP_RST, le16toh(h->type), port, host_port, 0, 0, 0,
                    NULL, 0);
        return;
    }
    c = tg_conn_add(g, port, host_port, le16toh(h->type));
    c->state = TG_OPEN;
    c->peer_buf_alloc = le32toh(h->buf_alloc);
    c->peer_fwd_cnt = le32toh(h->fwd_cnt);
    g->accepted = c;
    tg_send_op(g, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
}

static void tg_on_rw(TestGuest *g, TgConn *c, const struct virtio_vsock_hdr *h,
                     const uint8_t *payload)
{
    uint32_t len = le32toh(h->len);
    uint32_t flags = le32toh(h->flags);

    if (g->keep_rx) {
        g_byte_array_append(c->rx, payload, len);
    }
    if (g->on_data) {
        g->on_data(c, payload, len, g->on_data_opaque);
    }
    c->rx_cnt += len;
    c->unconsumed += len;
    /* The muxer must never send more than our credit (as it last saw it). */
    g_assert_cmpuint(c->rx_cnt - c->last_fwd_sent, <=, c->buf_alloc);
    if (flags & VIRTIO_VSOCK_SEQ_EOM) {
        g_array_append_val(c->msg_ends, c->rx_cnt);
    }
    if (flags & VIRTIO_VSOCK_SEQ_EOR) {
        c->eor_count++;
    }
    if (c->auto_consume) {
        tg_consume(g, c, c->unconsumed);
    }
}

static void tg_on_packet(TestGuest *g, const struct virtio_vsock_hdr *h,
                         const uint8_t *payload)
{
    uint64_t key = tg_key(le32toh(h->dst_port), le32toh(h->src_port));
    TgConn *c = g_hash_table_lookup(g->conns, &key);
    uint16_t op = le16toh(h->op);

    g_assert_cmpuint(le64toh(h->src_cid), ==, VSOCK_HOST_CID);
    g_assert_cmpuint(le64toh(h->dst_cid), ==, TG_CID);
    g_array_append_vals(g->log, h, 1);
    if (!c) {
        if (op == VIRTIO_VSOCK_OP_REQUEST) {
            tg_on_request(g, h);
        } else {
            g->orphans++;
        }
        return;
    }
    c->peer_buf_alloc = le32toh(h->buf_alloc);
    c->peer_fwd_cnt = le32toh(h->fwd_cnt);
    switch (op) {
    case VIRTIO_VSOCK_OP_RESPONSE:
        g_assert_cmpint(c->state, ==, TG_CONNECTING);
        c->state = TG_OPEN;
        break;
    case VIRTIO_VSOCK_OP_RST:
        tg_conn_forget(g, c, TG_RESET);
        break;
    case VIRTIO_VSOCK_OP_RW:
        tg_on_rw(g, c, h, payload);
        break;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        c->peer_shut |= le32toh(h->flags);
        if (c->peer_shut == 3 && c->rst_on_shut) {
            tg_rst(g, c);
        }
        break;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        c->credit_requests++;
        tg_send_op(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
        break;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
        c->credit_updates++;
        break;
    default:
        g_assert_not_reached();
    }
}

static bool tg_take_one(TestGuest *g)
{
    uint8_t buf[VSOCK_HDR_LEN + 65536];
    struct virtio_vsock_hdr h;
    struct iovec iov[2];
    unsigned n = 1;
    ssize_t r;

    if (g->rx_budget == 0) {
        return false;
    }
    memset(buf, 0xa5, sizeof(buf));
    if (g->rx_split) {
        iov[0] = (struct iovec){buf, VSOCK_HDR_LEN};
        iov[1] = (struct iovec){buf + VSOCK_HDR_LEN, g->rx_room};
        n = 2;
    } else {
        iov[0] = (struct iovec){buf, VSOCK_HDR_LEN + g->rx_room};
    }
    r = vsock_mux_rx(g->mux, iov, n);
    if (r <= 0) {
        g_assert_cmpint(r, ==, 0);
        return false;
    }
    if (g->rx_budget > 0) {
        g->rx_budget--;
    }
    memcpy(&h, buf, sizeof(h));
    g_assert_cmpint(r, ==, VSOCK_HDR_LEN + le32toh(h.len));
    g_assert_cmpuint(le32toh(h.len), <=, g->rx_room);
    tg_on_packet(g, &h, buf + VSOCK_HDR_LEN);
    return true;
}

unsigned tg_pump(TestGuest *g)
{
    unsigned n = 0;

    while (vsock_mux_rx_pending(g->mux) && tg_take_one(g)) {
        n++;
    }
    return n;
}

bool tg_poll(TestGuest *g)
{
    bool progress = aio_poll(g->ctx, false);

    return tg_pump(g) > 0 || progress;
}

bool tg_wait(TestGuest *g, TgCond *cond, void *data, int timeout_ms)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;

    while (!cond(g, data)) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        if (!tg_poll(g)) {
            g_usleep(100);
        }
    }
    return true;
}

void tg_idle(TestGuest *g, int ms)
{
    int64_t end = g_get_monotonic_time() + (int64_t)ms * 1000;

    while (g_get_monotonic_time() < end) {
        if (!tg_poll(g)) {
            g_usleep(200);
        }
    }
}

unsigned tg_count(TestGuest *g, uint16_t op)
{
    unsigned n = 0;

    for (guint i = 0; i < g->log->len; i++) {
        n += le16toh(g_array_index(g->log, struct virtio_vsock_hdr, i).op) == op;
    }
    return n;
}

const struct virtio_vsock_hdr *tg_last(TestGuest *g)
{
    g_assert_cmpuint(g->log->len, >, 0);
    return &g_array_index(g->log, struct virtio_vsock_hdr, g->log->len - 1);
}

/* ------------------------------------------------------------------------ */
/* Host side                                                                 */
/* ------------------------------------------------------------------------ */

int th_listen(const char *path, int type)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 4096), ==, 0);
    return fd;
}

int th_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

int th_accept(int lfd, int timeout_ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int fd;

    if (poll(&p, 1, timeout_ms) != 1) {
        return -1;
    }
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    return fd;
}

bool th_drain(int fd, GByteArray *into)
{
    uint8_t buf[65536];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0) {
            if (into) {
                g_byte_array_append(into, buf, n);
            }
            continue;
        }
        return n == 0 || (errno != EAGAIN && errno != EINTR);
    }
}

ssize_t th_write(int fd, const void *data, size_t len)
{
    ssize_t n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (n < 0) {
        return errno == EAGAIN ? 0 : -1;
    }
    return n;
}

void tg_fill_pattern(uint8_t *buf, size_t len, uint64_t seed, uint64_t offset)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t x = (offset + i) * 0x9e3779b97f4a7c15ull ^ seed;

        x ^= x >> 29;
        buf[i] = (uint8_t)(x * 0xbf58476d1ce4e5b9ull >> 56);
    }
}

rlim_t tg_raise_nofile(void)
{
    struct rlimit rl;

    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

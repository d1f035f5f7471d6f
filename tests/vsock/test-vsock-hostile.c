/*
 * tests/vsock/test-vsock-hostile.c - a hostile guest: short packets, wrong
 * CIDs, lengths beyond the buffer, unknown types and ops, floods, garbage;
 * the muxer answers per the spec (RST for unknown types and strays, never an
 * RST to an RST), keeps its memory bounded, and serves the next connection.
 *
 * SPDX-License-Identifier: MIT
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "vsock-test-fix.h"

#define WAIT_MS 5000

static bool cond_open(TestGuest *g, void *c)
{
    return ((TgConn *)c)->state != TG_CONNECTING;
}

/* A working connection through @port; the host side is closed at once. */
static void check_still_serves(Fix *f, uint32_t port)
{
    g_autofree char *path = fix_port_path(f, port);
    int lfd = th_listen(path, SOCK_STREAM);
    TgConn *c = tg_connect(f->g, port, VIRTIO_VSOCK_TYPE_STREAM);
    int hfd;
    GByteArray *in = g_byte_array_new();

    g_assert_true(tg_wait(f->g, cond_open, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_OPEN);
    hfd = th_accept(lfd, WAIT_MS);
    g_assert_cmpuint(tg_send(f->g, c, "alive", 5), ==, 5);
    for (int i = 0; i < 1000 && in->len < 5; i++) {
        tg_poll(f->g);
        th_drain(hfd, in);
    }
    g_assert_cmpmem(in->data, in->len, "alive", 5);
    tg_rst(f->g, c);
    close(hfd);
    close(lfd);
    unlink(path);
    g_byte_array_unref(in);
}

static void send_iov(Fix *f, const void *buf, size_t len)
{
    struct iovec iov = {(void *)buf, len};

    vsock_mux_tx(f->mux, &iov, 1);
}

static struct virtio_vsock_hdr make_hdr(uint16_t op, uint16_t type, uint32_t len)
{
    return (struct virtio_vsock_hdr){
        .src_cid = htole64(TG_CID),
        .dst_cid = htole64(VSOCK_HOST_CID),
        .src_port = htole32(40000),
        .dst_port = htole32(4000),
        .len = htole32(len),
        .type = htole16(type),
        .op = htole16(op),
        .buf_alloc = htole32(65536),
    };
}

static void test_short_packets(void)
{
    Fix f;
    struct virtio_vsock_hdr h = make_hdr(VIRTIO_VSOCK_OP_REQUEST, 1, 0);

    fix_init(&f);
    for (size_t len = 0; len < VSOCK_HDR_LEN; len++) {
        send_iov(&f, &h, len);
    }
    vsock_mux_tx(f.mux, NULL, 0);
    g_assert_cmpuint(tg_pump(f.g), ==, 0);
    g_assert_cmpuint(fix_stats(&f).dropped, ==, VSOCK_HDR_LEN + 1);
    check_still_serves(&f, 4000);
    fix_cleanup(&f);
}

static void test_wrong_cids(void)
{
    static const uint64_t cids[][2] = {
        {TG_CID + 1, VSOCK_HOST_CID},
        {TG_CID, 1},
        {TG_CID, 3},
        {TG_CID | 1ull << 32, VSOCK_HOST_CID},
        {TG_CID, VSOCK_HOST_CID | 1ull << 40},
        {0, 0},
    };
    Fix f;
    g_autofree char *path = NULL;
    int lfd;

    fix_init(&f);
    path = fix_port_path(&f, 4000);
    lfd = th_listen(path, SOCK_STREAM);
    for (unsigned i = 0; i < G_N_ELEMENTS(cids); i++) {
        struct virtio_vsock_hdr h = make_hdr(VIRTIO_VSOCK_OP_REQUEST, 1, 0);

        h.src_cid = htole64(cids[i][0]);
        h.dst_cid = htole64(cids[i][1]);
        send_iov(&f, &h, sizeof(h));
    }
    /* Dropped silently, as Linux's vhost-vsock: no reply, no connection. */
    g_assert_cmpuint(tg_pump(f.g), ==, 0);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    g_assert_cmpint(th_accept(lfd, 0), <, 0);
    close(lfd);
    unlink(path);
    check_still_serves(&f, 4000);
    fix_cleanup(&f);
}

static void test_len_beyond_buffer(void)
{
    Fix f;
    uint8_t pkt[VSOCK_HDR_LEN + 16] = {0};
    struct virtio_vsock_hdr h = make_hdr(VIRTIO_VSOCK_OP_REQUEST, 1, 17);
    g_autofree char *path = NULL;
    int lfd, hfd;
    TgConn *c;
    uint8_t big[VSOCK_HDR_LEN + 65537];

    fix_init(&f);
    memcpy(pkt, &h, sizeof(h));
    send_iov(&f, pkt, sizeof(pkt)); /* claims 17 bytes, has 16 */
    g_assert_cmpuint(tg_pump(f.g), ==, 0);
    g_assert_cmpuint(fix_stats(&f).dropped, ==, 1);

    /* On an open connection: the data it claims is not there, so reset. */
    path = fix_port_path(&f, 4001);
    lfd = th_listen(path, SOCK_STREAM);
    c = tg_connect(f.g, 4001, 1);
    g_assert_true(tg_wait(f.g, cond_open, c, WAIT_MS));
    hfd = th_accept(lfd, WAIT_MS);
    h = make_hdr(VIRTIO_VSOCK_OP_RW, 1, 1000);
    h.src_port = htole32(c->port);
    h.dst_port = htole32(4001);
    memcpy(pkt, &h, sizeof(h));
    send_iov(&f, pkt, sizeof(pkt));
    tg_pump(f.g);
    g_assert_cmpint(c->state, ==, TG_RESET);
    g_assert_true(th_drain(hfd, NULL)); /* the host side is closed */
    close(hfd);

    /* More than 64 KiB, all present: still refused. */
    h = make_hdr(VIRTIO_VSOCK_OP_REQUEST, 1, 65537);
    memset(big, 0, sizeof(big));
    memcpy(big, &h, sizeof(h));
    send_iov(&f, big, sizeof(big));
    g_assert_cmpuint(tg_pump(f.g), ==, 0);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    close(lfd);
    unlink(path);
    check_still_serves(&f, 4001);
    fix_cleanup(&f);
}

static void test_unknown_type(void)
{
    static const uint16_t types[] = {0, 3, 0xffff, VIRTIO_VSOCK_TYPE_SEQPACKET};
    Fix f;

    fix_init(&f);
    for (unsigned i = 0; i < G_N_ELEMENTS(types); i++) {
        struct virtio_vsock_hdr h = make_hdr(VIRTIO_VSOCK_OP_REQUEST, types[i], 0);
        const struct virtio_vsock_hdr *r;

        send_iov(&f, &h, sizeof(h));
        g_assert_cmpuint(tg_pump(f.g), ==, 1);
        r = tg_last(f.g);
        g_assert_cmpuint(le16toh(r->op), ==, VIRTIO_VSOCK_OP_RST);
        g_assert_cmpuint(le16toh(r->type), ==, types[i]);
        g_assert_cmpuint(le32toh(r->src_port), ==, 4000);
        g_assert_cmpuint(le32toh(r->dst_port), ==, 40000);
        /* ...but never for an RST. */
        h.op = htole16(VIRTIO_VSOCK_OP_RST);
        send_iov(&f, &h, sizeof(h));
        g_assert_cmpuint(tg_pump(f.g), ==, 0);
    }
    check_still_serves(&f, 4000);
    fix_cleanup(&f);
}

static void test_bad_ops(void)
{
    static const uint16_t ops[] = {VIRTIO_VSOCK_OP_INVALID, 8, 0x7fff, 0xffff};
    Fix f;
    g_autofree char *path = NULL;
    int lfd, hfd;
    TgConn *c;
    GByteArray *in = g_byte_array_new();

    fix_init(&f);
    /* For no connection: RST. */
    for (unsigned i = 0; i < G_N_ELEMENTS(ops); i++) {
        struct virtio_vsock_hdr h = make_hdr(ops[i], 1, 0);

        send_iov(&f, &h, sizeof(h));
        g_assert_cmpuint(tg_pump(f.g), ==, 1);
        g_assert_cmpuint(le16toh(tg_last(f.g)->op), ==, VIRTIO_VSOCK_OP_RST);
    }
    /* On an open connection: ignored, and the connection goes on. */
    path = fix_port_path(&f, 4002);
    lfd = th_listen(path, SOCK_STREAM);
    c = tg_connect(f.g, 4002, 1);
    g_assert_true(tg_wait(f.g, cond_open, c, WAIT_MS));
    hfd = th_accept(lfd, WAIT_MS);
    for (unsigned i = 0; i < G_N_ELEMENTS(ops); i++) {
        tg_send_op(f.g, c, ops[i], 0xffffffff, NULL, 0);
    }
    tg_send_op(f.g, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);  /* again */
    tg_send_op(f.g, c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0); /* unasked */
    g_assert_cmpuint(tg_pump(f.g), ==, 0);
    g_assert_cmpint(c->state, ==, TG_OPEN);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 1);
    tg_send(f.g, c, "ok", 2);
    for (int i = 0; i < 1000 && in->len < 2; i++) {
        tg_poll(f.g);
        th_drain(hfd, in);
    }
    g_assert_cmpmem(in->data, in->len, "ok", 2);
    /* A SHUTDOWN with unknown bits counts only the known ones. */
    tg_send_op(f.g, c, VIRTIO_VSOCK_OP_SHUTDOWN, 0xfffffffc, NULL, 0);
    g_assert_cmpuint(tg_pump(f.g), ==, 0);
    g_assert_cmpint(c->state, ==, TG_OPEN);
    /* A RESPONSE for no connection: RST. */
    tg_send_raw(f.g, VIRTIO_VSOCK_OP_RESPONSE, 1, 1, 2, 0, 0, 0, NULL, 0);
    g_assert_cmpuint(tg_pump(f.g), ==, 1);
    g_assert_cmpuint(le16toh(tg_last(f.g)->op), ==, VIRTIO_VSOCK_OP_RST);
    close(hfd);
    close(lfd);
    g_byte_array_unref(in);
    fix_cleanup(&f);
}

/* RST packets for strays are bounded: a flood loses some, never grows. */
static void test_flood_rst(void)
{
    VsockMuxConfig cfg = {.max_conns = 64};
    Fix f;
    unsigned got;

    fix_init_cfg(&f, &cfg);
    f.g->rx_budget = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        tg_send_raw(f.g, VIRTIO_VSOCK_OP_REQUEST, 1, i, 9, 0, 4096, 0, NULL, 0);
    }
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    g_assert_cmpuint(fix_stats(&f).rst_lost, ==, 100000 - 256);
    f.g->rx_budget = -1;
    got = tg_pump(f.g);
    g_assert_cmpuint(got, ==, 256);
    g_assert_cmpuint(tg_count(f.g, VIRTIO_VSOCK_OP_RST), ==, 256);
    check_still_serves(&f, 4000);
    fix_cleanup(&f);
}

/* A REQUEST flood to a live port stops at the cap. */
static void test_flood_requests(void)
{
    VsockMuxConfig cfg = {.max_conns = 100};
    Fix f;
    g_autofree char *path = NULL;
    int lfd;

    g_assert_cmpuint(tg_raise_nofile(), >=, 1000);
    fix_init_cfg(&f, &cfg);
    path = fix_port_path(&f, 4003);
    lfd = th_listen(path, SOCK_STREAM);
    f.g->rx_budget = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        tg_send_raw(f.g, VIRTIO_VSOCK_OP_REQUEST, 1, i, 4003, 0, 4096, 0, NULL, 0);
    }
    g_assert_cmpuint(fix_stats(&f).conns, ==, 100);
    f.g->rx_budget = -1;
    tg_pump(f.g);
    g_assert_cmpuint(tg_count(f.g, VIRTIO_VSOCK_OP_RESPONSE), ==, 100);
    g_assert_cmpuint(tg_count(f.g, VIRTIO_VSOCK_OP_RST), ==, 256);
    close(lfd);
    fix_cleanup(&f);
}

/* Replies for open connections are one bit each: floods add nothing. */
static void test_flood_credit_requests(void)
{
    Fix f;
    g_autofree char *path = NULL;
    int lfd, hfd;
    TgConn *c;

    fix_init(&f);
    path = fix_port_path(&f, 4004);
    lfd = th_listen(path, SOCK_STREAM);
    c = tg_connect(f.g, 4004, 1);
    g_assert_true(tg_wait(f.g, cond_open, c, WAIT_MS));
    hfd = th_accept(lfd, WAIT_MS);
    f.g->rx_budget = 0;
    for (int i = 0; i < 100000; i++) {
        tg_send_op(f.g, c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
    }
    f.g->rx_budget = -1;
    g_assert_cmpuint(tg_pump(f.g), ==, 1);
    g_assert_cmpuint(c->credit_updates, ==, 1);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* rx buffers too small for a header are refused; the packet waits. */
static void test_small_rx_buffers(void)
{
    Fix f;
    uint8_t buf[VSOCK_HDR_LEN];
    struct iovec iov = {buf, VSOCK_HDR_LEN - 1};
    g_autofree char *path = NULL;
    int lfd, hfd;
    TgConn *c;

    fix_init(&f);
    tg_connect(f.g, 4005, 1); /* nobody there: an RST is owed */
    g_assert_cmpint(vsock_mux_rx(f.mux, &iov, 1), ==, -EMSGSIZE);
    g_assert_cmpint(vsock_mux_rx(f.mux, NULL, 0), ==, -EMSGSIZE);
    g_assert_true(vsock_mux_rx_pending(f.mux));
    g_assert_cmpuint(tg_pump(f.g), ==, 1);

    /* A buffer with room for a header only: control packets yes, data waits. */
    path = fix_port_path(&f, 4005);
    lfd = th_listen(path, SOCK_STREAM);
    c = tg_connect(f.g, 4005, 1);
    g_assert_true(tg_wait(f.g, cond_open, c, WAIT_MS));
    hfd = th_accept(lfd, WAIT_MS);
    th_write(hfd, "data", 4);
    f.g->rx_room = 0;
    tg_idle(f.g, 10);
    g_assert_cmpuint(c->rx->len, ==, 0);
    f.g->rx_room = 4096;
    tg_idle(f.g, 10);
    g_assert_cmpmem(c->rx->data, c->rx->len, "data", 4);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* Host-initiated connection: nothing but RESPONSE/RST counts before it. */
static void test_early_packets(void)
{
    Fix f;
    int fd;
    const struct virtio_vsock_hdr *req;
    uint32_t src, dst;

    fix_init(&f);
    f.g->ignore_requests = true;
    fd = th_connect(f.uds);
    th_write(fd, "CONNECT 77\n", 11);
    tg_idle(f.g, 10);
    req = tg_last(f.g);
    g_assert_cmpuint(le16toh(req->op), ==, VIRTIO_VSOCK_OP_REQUEST);
    src = le32toh(req->src_port);
    dst = le32toh(req->dst_port);
    tg_send_raw(f.g, VIRTIO_VSOCK_OP_RW, 1, dst, src, 0, 4096, 0, "early", 5);
    tg_send_raw(f.g, VIRTIO_VSOCK_OP_SHUTDOWN, 1, dst, src, 3, 4096, 0, NULL, 0);
    tg_send_raw(f.g, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1, dst, src, 0, 4096, 0, NULL, 0);
    g_assert_cmpuint(tg_pump(f.g), ==, 0);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 1);
    /* The real answer still works. */
    tg_send_raw(f.g, VIRTIO_VSOCK_OP_RESPONSE, 1, dst, src, 0, 4096, 0, NULL, 0);
    tg_idle(f.g, 10);
    {
        GByteArray *in = g_byte_array_new();

        th_drain(fd, in);
        g_assert_true(g_str_has_prefix((char *)in->data, "OK "));
        g_byte_array_unref(in);
    }
    close(fd);
    fix_cleanup(&f);
}

/* Deterministic garbage: random headers, payloads and splits. */
static void test_garbage(void)
{
    Fix f;
    GRand *r = g_rand_new_with_seed(42);
    g_autofree char *path = NULL;
    int lfd;

    fix_init(&f);
    path = fix_port_path(&f, 4006);
    lfd = th_listen(path, SOCK_STREAM);
    vsock_mux_set_features(f.mux, 1ull << VIRTIO_VSOCK_F_SEQPACKET);
    for (int i = 0; i < 50000; i++) {
        uint8_t pkt[VSOCK_HDR_LEN + 256];
        struct virtio_vsock_hdr h;
        size_t len = g_rand_int_range(r, 0, sizeof(pkt) + 1);
        struct iovec iov[3];
        size_t cut1 = g_rand_int_range(r, 0, len + 1);
        size_t cut2 = g_rand_int_range(r, cut1, len + 1);

        for (size_t j = 0; j < sizeof(pkt); j++) {
            pkt[j] = g_rand_int(r);
        }
        /* Mostly plausible headers, so deeper paths run too. */
        memcpy(&h, pkt, sizeof(h));
        if (g_rand_boolean(r)) {
            h.src_cid = htole64(TG_CID);
            h.dst_cid = htole64(VSOCK_HOST_CID);
            h.src_port = htole32(g_rand_int_range(r, 0, 8));
            h.dst_port = htole32(g_rand_boolean(r) ? 4006 : g_rand_int_range(r, 0, 8));
            h.type = htole16(g_rand_int_range(r, 0, 4));
            h.op = htole16(g_rand_int_range(r, 0, 9));
            h.len = htole32(g_rand_int_range(r, 0, 300));
            h.flags = htole32(g_rand_int_range(r, 0, 4));
        }
        memcpy(pkt, &h, sizeof(h));
        iov[0] = (struct iovec){pkt, cut1};
        iov[1] = (struct iovec){pkt + cut1, cut2 - cut1};
        iov[2] = (struct iovec){pkt + cut2, len - cut2};
        vsock_mux_tx(f.mux, iov, 3);
        if (i % 16 == 0) {
            int fd;

            tg_poll(f.g);
            while ((fd = th_accept(lfd, 0)) >= 0) {
                close(fd); /* the host accepts and closes at once */
            }
        }
        g_assert_cmpuint(fix_stats(&f).buffered, <=,
                         8 * (uint64_t)VSOCK_DEFAULT_BUF_ALLOC);
    }
    g_rand_free(r);
    vsock_mux_reset(f.mux);
    tg_pump(f.g);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    g_assert_cmpuint(fix_stats(&f).buffered, ==, 0);
    close(lfd);
    unlink(path);
    check_still_serves(&f, 4006);
    fix_cleanup(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vsock/hostile/short-packets", test_short_packets);
    g_test_add_func("/vsock/hostile/wrong-cids", test_wrong_cids);
    g_test_add_func("/vsock/hostile/len-beyond-buffer", test_len_beyond_buffer);
    g_test_add_func("/vsock/hostile/unknown-type", test_unknown_type);
    g_test_add_func("/vsock/hostile/bad-ops", test_bad_ops);
    g_test_add_func("/vsock/hostile/flood-rst", test_flood_rst);
    g_test_add_func("/vsock/hostile/flood-requests", test_flood_requests);
    g_test_add_func("/vsock/hostile/flood-credit-requests", test_flood_credit_requests);
    g_test_add_func("/vsock/hostile/small-rx-buffers", test_small_rx_buffers);
    g_test_add_func("/vsock/hostile/early-packets", test_early_packets);
    g_test_add_func("/vsock/hostile/garbage", test_garbage);
    return g_test_run();
}

/*
 * tests/vsock/test-vhost-user-vsock-hostile.c - a hostile guest through the
 * real transport: bad ops, a len larger than the packet, wrong source or
 * destination CIDs, unknown socket types, short and oddly split headers,
 * data beyond the device's credit, floods of packets while the guest takes
 * no rx buffer, a guest that never returns credit, rx buffers too small for
 * a header.  Every time: the answers are well-formed (RST, never to an
 * RST), the device's memory stays bounded, and it serves a normal
 * connection afterwards.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vvs-test.h"

#define PORT 3000

/* The device still serves: connect, echo a few bytes through a host peer. */
static void assert_serves(VvsFixture *fx)
{
    int lfd = vvs_host_listen(fx, PORT + 1), h;
    g_autofree char *path = g_strdup_printf("%s_%u", fx->uds, PORT + 1);
    FeVsockConn *c = vvs_connect(fx, PORT + 1);
    char buf[5];

    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    g_assert_cmpint(h, >=, 0);
    vvs_send_all(c, "alive", 5);
    vvs_host_read_all(h, buf, 5);
    vvs_host_write_all(h, buf, 5);
    vvs_recv_all(c, buf, 5);
    g_assert_cmpmem(buf, 5, "alive", 5);
    fe_vsock_rst(c, NULL);
    fe_vsock_conn_free(c);
    g_assert_true(vvs_host_wait_closed(h, VVS_TIMEOUT)); /* the device let go */
    close(h);
    close(lfd);
    unlink(path);
}

/* The next unclaimed packet is an RST for @port (from the host's port). */
static void expect_rst(VvsFixture *fx, uint32_t our_port)
{
    FeVsockPkt pkt;
    g_autoptr(GError) err = NULL;

    g_assert_true(fe_vsock_recv_pkt(fx->v, &pkt, VVS_TIMEOUT, &err));
    g_assert_cmpuint(pkt.hdr.op, ==, VIRTIO_VSOCK_OP_RST);
    g_assert_cmpuint(pkt.hdr.dst_port, ==, our_port);
    g_assert_cmpuint(pkt.hdr.dst_cid, ==, VVS_CID);
    g_assert_cmpuint(pkt.hdr.src_cid, ==, FE_VSOCK_HOST_CID);
    fe_vsock_pkt_clear(&pkt);
}

static void expect_nothing(VvsFixture *fx)
{
    FeVsockPkt pkt;

    g_assert_false(fe_vsock_recv_pkt(fx->v, &pkt, 200, NULL));
}

static void send_hdr(VvsFixture *fx, struct virtio_vsock_hdr *hdr, const void *payload,
                     uint32_t len)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(fe_vsock_send_pkt(fx->v, hdr, payload, len, &err));
}

static void test_bad_headers(void)
{
    VvsFixture fx;
    struct virtio_vsock_hdr hdr;
    uint8_t junk[64] = {0};

    vvs_setup(&fx, NULL, NULL);

    /* An op the spec does not define, on no connection: RST. */
    fe_vsock_hdr_init(fx.v, &hdr, 99, 100, PORT, 0);
    send_hdr(&fx, &hdr, NULL, 0);
    expect_rst(&fx, 100);

    /* Never an RST to an RST. */
    fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_RST, 101, PORT, 0);
    send_hdr(&fx, &hdr, NULL, 0);
    expect_nothing(&fx);

    /* len says 1000, 10 bytes follow: dropped or reset, never read past. */
    fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_RW, 102, PORT, 1000);
    send_hdr(&fx, &hdr, junk, 10);

    /* A len beyond the largest packet. */
    fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_RW, 103, PORT, 0xffffffff);
    send_hdr(&fx, &hdr, junk, sizeof(junk));

    /* Wrong source CID (not the guest's), wrong destination (not the host). */
    fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_REQUEST, 104, PORT, 0);
    hdr.src_cid = VVS_CID + 1;
    send_hdr(&fx, &hdr, NULL, 0);
    fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_REQUEST, 105, PORT, 0);
    hdr.dst_cid = 77;
    send_hdr(&fx, &hdr, NULL, 0);

    /* An unknown socket type: RST (as unknown), a dgram type too. */
    fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_REQUEST, 106, PORT, 0);
    hdr.type = 7;
    send_hdr(&fx, &hdr, NULL, 0);
    expect_rst(&fx, 106);

    /* Short packets and headers split anywhere. */
    g_assert_true(fe_vsock_send_bytes(fx.v, junk, 20, 1, NULL));
    g_assert_true(fe_vsock_send_bytes(fx.v, junk, 0, 1, NULL));
    fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_REQUEST, 107, PORT, 0);
    g_assert_true(fe_vsock_send_bytes(fx.v, &hdr, sizeof(hdr), 8, NULL));
    expect_rst(&fx, 107); /* a well-formed REQUEST, in 8 pieces: nobody listens */

    /* Nothing else came back; nothing is held; it serves. */
    expect_nothing(&fx);
    assert_serves(&fx);
    {
        VsockMuxStats st;

        vvs_stats(&fx, &st);
        g_assert_cmpuint(st.conns, ==, 0);
        g_assert_cmpuint(st.buffered, ==, 0);
    }
    vvs_teardown(&fx);
}

/* RW beyond the credit the device gave: never buffered past buf-alloc. */
static void test_credit_overrun(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;
    struct virtio_vsock_hdr hdr;
    g_autofree uint8_t *junk = g_malloc0(32 * 1024);
    VsockMuxStats st;

    vvs_setup(&fx, ",buf-alloc=64K", NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT); /* never reads */
    for (int i = 0; i < 64; i++) {         /* 2 MiB: 32 times the credit */
        fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_RW, fe_vsock_conn_local_port(c),
                          PORT, 32 * 1024);
        send_hdr(&fx, &hdr, junk, 32 * 1024);
    }
    g_assert_true(fe_vsock_poll(fx.v, 200, NULL));
    vvs_stats(&fx, &st);
    g_assert_cmpuint(st.buffered, <=, 64 * 1024);
    g_assert_cmpuint(st.conns, <=, 1);
    fe_vsock_conn_free(c);
    close(h);
    close(lfd);
    assert_serves(&fx);
    vvs_teardown(&fx);
}

/* A flood of REQUESTs to nowhere while the guest posts no rx buffer: the
 * tx queue still drains, the owed RSTs are bounded. */
static void test_flood(void)
{
    VvsFixture fx;
    FeVsockPkt pkt;
    VsockMuxStats st;
    unsigned rsts = 0;

    vvs_setup(&fx, ",max-connections=64",
              &(FeVsockOptions){.rx_buffers = 1, .queue_size = 256});
    for (uint32_t i = 0; i < 20000; i++) {
        struct virtio_vsock_hdr hdr;

        fe_vsock_hdr_init(fx.v, &hdr, VIRTIO_VSOCK_OP_REQUEST, 10000 + i, PORT, 0);
        send_hdr(&fx, &hdr, NULL, 0);
    }
    for (int tries = 0;; tries++) { /* the last ones may still be in the ring */
        vvs_stats(&fx, &st);
        if (st.tx_packets >= 20000) {
            break;
        }
        g_assert_cmpint(tries, <, 1000);
        g_usleep(1000);
    }
    g_assert_cmpuint(st.rst_sent + st.rst_lost, >=, 19000); /* one owed each */
    while (fe_vsock_recv_pkt(fx.v, &pkt, 300, NULL)) {
        g_assert_cmpuint(pkt.hdr.op, ==, VIRTIO_VSOCK_OP_RST);
        fe_vsock_pkt_clear(&pkt);
        rsts++;
    }
    g_assert_cmpuint(rsts, >, 0);
    g_assert_cmpuint(rsts, <=, 20000);
    assert_serves(&fx);
    vvs_teardown(&fx);
}

/* A guest that never returns credit: the host writes on and on; the device
 * holds nothing beyond what the host socket keeps, and sends nothing past
 * the credit (the front-end counts overruns). */
static void test_withheld_credit(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;
    g_autofree uint8_t *junk = g_malloc0(1 << 20);
    VsockMuxStats st;
    size_t written = 0;

    vvs_setup(&fx, NULL, &(FeVsockOptions){.buf_alloc = 32 * 1024});
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    fe_vsock_conn_set_auto_credit(c, FALSE);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    for (int i = 0; i < 100; i++) {
        gssize n = send(h, junk, 1 << 20, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            written += (size_t)n;
        }
        g_assert_true(fe_vsock_poll(fx.v, 5, NULL));
    }
    g_assert_cmpuint(fe_vsock_conn_readable(c), ==, 32 * 1024);
    g_assert_cmpuint(written, <, 4u << 20); /* the host socket filled up */
    vvs_stats(&fx, &st);
    g_assert_cmpuint(st.buffered, <=, 64 * 1024);
    fe_vsock_conn_free(c);
    close(h);
    close(lfd);
    vvs_teardown(&fx); /* no credit overrun (checked there) */
}

/* An rx buffer smaller than a packet header breaks the rx ring, with one
 * log line; the device survives and serves the next front-end. */
static void test_tiny_rx_buffer(void)
{
    VvsFixture fx;
    FeDevice *d;
    FeVq *rx;
    FeVqBuf buf;
    uint64_t gpa;
    int h;
    g_autoptr(GError) err = NULL;

    vvs_setup_device(&fx, NULL);
    d = fe_device_new(&(FeDeviceOptions){.socket_path = fx.sock,
                                         .num_queues = 2,
                                         .queue_size = 16,
                                         .config_size = 8,
                                         .features = 1ull << FE_VSOCK_F_STREAM},
                      &err);
    g_assert_no_error(err);
    g_assert_true(fe_device_start(d, &err));
    rx = fe_device_vq(d, FE_VSOCK_RX_QUEUE);
    fe_mem_alloc(fe_device_mem(d), 16, 8, &gpa);
    buf = (FeVqBuf){.gpa = gpa, .len = 16, .write = TRUE};
    g_assert_cmpint(fe_vq_add(rx, &buf, 1, GINT_TO_POINTER(1)), >=, 0);
    fe_vq_notify(rx);
    vvs_expect_warning("*queue 0: rx buffer smaller than a vsock packet header*");
    h = vvs_host_connect(&fx, 9, NULL); /* a REQUEST for the guest */
    /* The device logs the broken ring once; the buffer is never used. */
    g_assert_cmpuint(vvs_expected_warnings(1, VVS_TIMEOUT), ==, 1);
    g_assert_false(fe_vq_wait(rx, 200, NULL));
    g_assert_null(fe_vq_get_used(rx, NULL));
    fe_device_free(d);
    close(h);
    vvs_open(&fx, NULL);
    assert_serves(&fx);
    vvs_teardown(&fx);
}

int main(int argc, char **argv)
{
    vvs_init(&argc, &argv);
    g_test_add_func("/vhost-user-vsock/hostile/bad-headers", test_bad_headers);
    g_test_add_func("/vhost-user-vsock/hostile/credit-overrun", test_credit_overrun);
    g_test_add_func("/vhost-user-vsock/hostile/flood", test_flood);
    g_test_add_func("/vhost-user-vsock/hostile/withheld-credit", test_withheld_credit);
    g_test_add_func("/vhost-user-vsock/hostile/tiny-rx-buffer", test_tiny_rx_buffer);
    return g_test_run();
}

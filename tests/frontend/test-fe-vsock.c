/*
 * tests/frontend/test-fe-vsock.c - the vsock driver of the front-end
 * against a small vhost-user-vsock back-end in a thread (fake-vsock.c):
 * connect both ways, echo, half-close, reset, credit exhaustion and
 * recovery, credit withheld, raw and malformed packets, many connections,
 * SEQPACKET boundaries, split buffers, and a back-end that goes away.
 * Each case checks that neither side saw the other break the spec.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "frontend/fe-vsock.h"
#include "fake-vsock.h"

#define TIMEOUT 5000

typedef struct {
    FakeVsock *fake;
    FeVsock *v;
} Fixture;

static void open_with(Fixture *fx, const FeVsockOptions *extra)
{
    FeVsockOptions o = extra ? *extra : (FeVsockOptions){0};
    g_autoptr(GError) err = NULL;

    fx->fake = fake_vsock_new();
    o.socket_path = fake_vsock_path(fx->fake);
    fx->v = fe_vsock_open(&o, &err);
    g_assert_no_error(err);
    g_assert_nonnull(fx->v);
}

/* Neither side saw the other break the spec; then tear down. */
static void close_clean(Fixture *fx)
{
    const FeVsockStats *s = fe_vsock_stats(fx->v);
    FakeVsockCounters c;

    fake_vsock_counters(fx->fake, &c);
    g_assert_cmpuint(s->bad_packets, ==, 0);
    g_assert_cmpuint(s->credit_overruns, ==, 0);
    g_assert_cmpuint(s->unknown_ops, ==, 0);
    g_assert_cmpuint(c.bad_packets, ==, 0);
    g_assert_cmpuint(c.credit_overruns, ==, 0);
    fe_vsock_close(fx->v);
    fake_vsock_free(fx->fake);
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 11));
    }
}

static FeVsockConn *connect_ok(Fixture *fx, uint32_t port, uint16_t type)
{
    g_autoptr(GError) err = NULL;
    FeVsockConn *c = fe_vsock_connect(fx->v, port, type, &err);

    g_assert_no_error(err);
    g_assert_nonnull(c);
    g_assert_cmpint(fe_vsock_conn_state(c), ==, FE_VSOCK_ESTABLISHED);
    return c;
}

/*
 * Push @len bytes through an echo connection and read them back, never
 * blocking on credit: send what the peer's credit allows, read what came.
 */
static void echo_through(Fixture *fx, FeVsockConn *c, size_t len, uint32_t seed)
{
    g_autofree uint8_t *out = g_malloc(len), *in = g_malloc(len);
    size_t sent = 0, got = 0;
    g_autoptr(GError) err = NULL;
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    fill(out, len, seed);
    while (got < len) {
        size_t room = fe_vsock_conn_peer_free(c);

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (sent < len && room) {
            size_t n = MIN(room, MIN(len - sent, (size_t)65536));

            g_assert_cmpint(fe_vsock_send(c, out + sent, n, TIMEOUT, &err), ==,
                            (gssize)n);
            sent += n;
        }
        if (fe_vsock_conn_readable(c)) {
            gssize n = fe_vsock_recv(c, in + got, len - got, TIMEOUT, &err);

            g_assert_no_error(err);
            g_assert_cmpint(n, >, 0);
            got += (size_t)n;
        } else {
            g_assert_true(fe_vsock_poll(fx->v, 100, &err));
            g_assert_no_error(err);
        }
    }
    g_assert_cmpmem(in, len, out, len);
}

/* ------------------------------------------------------------------------ */

static void test_open(void)
{
    Fixture fx;

    open_with(&fx, NULL);
    g_assert_cmpuint(fe_vsock_guest_cid(fx.v), ==, FAKE_VSOCK_CID);
    g_assert_true(fe_device_has_feature(fe_vsock_device(fx.v), FE_VSOCK_F_STREAM));
    /* SEQPACKET only when asked for */
    g_assert_false(
        fe_device_has_feature(fe_vsock_device(fx.v), VIRTIO_VSOCK_F_SEQPACKET));
    g_assert_cmpuint(fe_device_num_queues(fe_vsock_device(fx.v)), ==, 2);
    close_clean(&fx);
}

static void test_echo(void)
{
    Fixture fx;
    FeVsockConn *c;
    char buf[64];
    g_autoptr(GError) err = NULL;
    FeVsockCredit cr;

    open_with(&fx, NULL);
    c = connect_ok(&fx, FAKE_VSOCK_ECHO_PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_cmpint(fe_vsock_send(c, "hello", 5, TIMEOUT, &err), ==, 5);
    g_assert_true(fe_vsock_recv_all(c, buf, 5, TIMEOUT, &err));
    g_assert_cmpmem(buf, 5, "hello", 5);
    fe_vsock_conn_credit(c, &cr);
    g_assert_cmpuint(cr.tx_cnt, ==, 5);
    g_assert_cmpuint(cr.rx_cnt, ==, 5);
    g_assert_cmpuint(cr.fwd_cnt, ==, 5);
    g_assert_cmpuint(cr.peer_buf_alloc, ==, FAKE_VSOCK_HOST_BUF);
    echo_through(&fx, c, 4 << 20, 1); /* 4 MiB: many credit round trips */
    g_assert_cmpuint(fe_vsock_stats(fx.v)->credit_updates_sent, >, 0);
    g_assert_true(fe_vsock_rst(c, &err));
    fe_vsock_conn_free(c);
    close_clean(&fx);
}

static void test_refused(void)
{
    Fixture fx;
    g_autoptr(GError) err = NULL;

    open_with(&fx, NULL);
    g_assert_null(fe_vsock_connect(fx.v, 4242, VIRTIO_VSOCK_TYPE_STREAM, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_REFUSED);
    close_clean(&fx);
}

static void test_host_connects(void)
{
    Fixture fx;
    FeVsockConn *c;
    char buf[8];
    g_autoptr(GError) err = NULL;
    FakeVsockCounters fc;

    open_with(&fx, &(FeVsockOptions){.reject_unknown = TRUE});
    fe_vsock_listen(fx.v, 7000);
    fake_vsock_connect_guest(fx.fake, 7000);
    c = fe_vsock_accept(fx.v, 7000, TIMEOUT, &err);
    g_assert_no_error(err);
    g_assert_cmpint(fe_vsock_conn_state(c), ==, FE_VSOCK_ESTABLISHED);
    g_assert_cmpuint(fe_vsock_conn_local_port(c), ==, 7000);
    g_assert_cmpint(fe_vsock_send(c, "ping", 4, TIMEOUT, &err), ==, 4);
    g_assert_true(fe_vsock_recv_all(c, buf, 4, TIMEOUT, &err));
    g_assert_cmpmem(buf, 4, "ping", 4);
    /* nobody listens on 7001: the driver resets it, as a guest kernel does */
    fake_vsock_connect_guest(fx.fake, 7001);
    for (int i = 0; i < 100; i++) {
        fake_vsock_counters(fx.fake, &fc);
        if (fc.rsts_received) {
            break;
        }
        g_assert_true(fe_vsock_poll(fx.v, 50, &err));
    }
    g_assert_cmpuint(fc.rsts_received, ==, 1);
    fe_vsock_conn_free(c);
    close_clean(&fx);
}

static void test_half_close(void)
{
    Fixture fx;
    FeVsockConn *c;
    char buf[16];
    g_autoptr(GError) err = NULL;

    open_with(&fx, NULL);
    c = connect_ok(&fx, FAKE_VSOCK_ECHO_PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_cmpint(fe_vsock_send(c, "last words", 10, TIMEOUT, &err), ==, 10);
    g_assert_true(fe_vsock_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_SEND, &err));
    /* the data, then end of stream (the echo shuts its side down too) */
    g_assert_true(fe_vsock_recv_all(c, buf, 10, TIMEOUT, &err));
    g_assert_cmpmem(buf, 10, "last words", 10);
    g_assert_cmpint(fe_vsock_recv(c, buf, sizeof(buf), TIMEOUT, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmphex(fe_vsock_conn_peer_shutdown(c), ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
    g_assert_cmpint(fe_vsock_conn_state(c), ==, FE_VSOCK_ESTABLISHED);
    /* both ways: the host resets */
    g_assert_true(fe_vsock_shutdown(
        c, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, &err));
    g_assert_true(fe_vsock_wait_closed(c, TIMEOUT, &err));
    g_assert_cmpint(fe_vsock_send(c, "x", 1, TIMEOUT, &err), ==, -1);
    g_assert_error(err, FE_ERROR, FE_ERROR_DISCONNECTED);
    fe_vsock_conn_free(c);
    close_clean(&fx);
}

/* The sink reads nothing: our sends stop at its credit, resume when it drains. */
static void test_credit_exhaustion(void)
{
    Fixture fx;
    FeVsockConn *c;
    g_autofree uint8_t *buf = g_malloc0(3 * FAKE_VSOCK_SINK_BUF);
    g_autoptr(GError) err = NULL;

    open_with(&fx, NULL);
    c = connect_ok(&fx, FAKE_VSOCK_SINK_PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_cmpint(fe_vsock_send(c, buf, FAKE_VSOCK_SINK_BUF, TIMEOUT, &err), ==,
                    FAKE_VSOCK_SINK_BUF);
    g_assert_cmpuint(fe_vsock_conn_peer_free(c), ==, 0);
    g_assert_cmpint(fe_vsock_send(c, buf, 100, 200, &err), ==, -1);
    g_assert_error(err, FE_ERROR, FE_ERROR_TIMEOUT);
    g_clear_error(&err);
    fake_vsock_drain_sink(fx.fake);
    g_assert_cmpint(fe_vsock_send(c, buf, 2 * FAKE_VSOCK_SINK_BUF, 200, &err), ==,
                    FAKE_VSOCK_SINK_BUF); /* one more window, then none */
    g_clear_error(&err);
    fake_vsock_drain_sink(fx.fake);
    g_assert_cmpint(fe_vsock_send(c, buf, FAKE_VSOCK_SINK_BUF, TIMEOUT, &err), ==,
                    FAKE_VSOCK_SINK_BUF);
    g_assert_no_error(err);
    fe_vsock_conn_free(c);
    close_clean(&fx); /* the fake counted no data beyond its credit */
}

/* A guest that never returns credit: the host stops at our buf_alloc. */
static void test_credit_withheld(void)
{
    Fixture fx;
    FeVsockConn *c;
    const size_t ba = 32 * 1024;
    g_autofree uint8_t *out = g_malloc(2 * ba), *in = g_malloc(2 * ba);
    g_autoptr(GError) err = NULL;
    FeVsockCredit cr;

    open_with(&fx, &(FeVsockOptions){.buf_alloc = ba});
    c = connect_ok(&fx, FAKE_VSOCK_ECHO_PORT, VIRTIO_VSOCK_TYPE_STREAM);
    fe_vsock_conn_set_auto_credit(c, FALSE);
    fill(out, 2 * ba, 9);
    g_assert_cmpint(fe_vsock_send(c, out, ba, TIMEOUT, &err), ==, (gssize)ba);
    g_assert_true(fe_vsock_recv_all(c, in, ba, TIMEOUT, &err));
    /* we read it all but told nobody: the host's view of our space is 0 */
    g_assert_cmpint(fe_vsock_send(c, out + ba, ba, TIMEOUT, &err), ==, (gssize)ba);
    for (int i = 0; i < 10; i++) {
        g_assert_true(fe_vsock_poll(fx.v, 20, &err));
    }
    g_assert_cmpuint(fe_vsock_conn_readable(c), ==, 0);
    g_assert_cmpuint(fe_vsock_stats(fx.v)->credit_updates_sent, ==, 0);
    /* one update and the rest flows */
    g_assert_true(fe_vsock_credit_update(c, &err));
    g_assert_true(fe_vsock_recv_all(c, in + ba, ba, TIMEOUT, &err));
    g_assert_cmpmem(in, 2 * ba, out, 2 * ba);
    fe_vsock_conn_credit(c, &cr);
    g_assert_cmpuint(cr.fwd_cnt, ==, 2 * ba);
    /* CREDIT_REQUEST is answered with the host's counters */
    g_assert_true(fe_vsock_credit_request(c, &err));
    g_assert_true(fe_vsock_poll(fx.v, 200, &err));
    fe_vsock_conn_credit(c, &cr);
    g_assert_cmpuint(cr.peer_fwd_cnt, ==, 2 * ba);
    fe_vsock_conn_free(c);
    close_clean(&fx);
}

static void test_raw_packets(void)
{
    Fixture fx;
    struct virtio_vsock_hdr h;
    FeVsockPkt p;
    g_autoptr(GError) err = NULL;
    FakeVsockCounters fc;
    FeVsockConn *c;
    char buf[4];

    open_with(&fx, NULL);
    fe_vsock_hdr_init(fx.v, &h, VIRTIO_VSOCK_OP_REQUEST, 3333, 4444, 0);
    g_assert_true(fe_vsock_send_pkt(fx.v, &h, NULL, 0, &err));
    g_assert_true(fe_vsock_recv_pkt(fx.v, &p, TIMEOUT, &err));
    g_assert_cmpuint(p.hdr.op, ==, VIRTIO_VSOCK_OP_RST);
    g_assert_cmpuint(p.hdr.src_port, ==, 4444);
    g_assert_cmpuint(p.hdr.dst_port, ==, 3333);
    g_assert_cmpstr(fe_vsock_op_name(p.hdr.op), ==, "RST");
    fe_vsock_pkt_clear(&p);
    g_assert_false(fe_vsock_recv_pkt(fx.v, &p, 50, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_TIMEOUT);
    g_clear_error(&err);

    /* a header cut short, then one split over three descriptors */
    g_assert_true(fe_vsock_send_bytes(fx.v, &h, 20, 1, &err));
    fe_vsock_hdr_init(fx.v, &h, VIRTIO_VSOCK_OP_REQUEST, 3334, FAKE_VSOCK_ECHO_PORT, 0);
    g_assert_true(fe_vsock_send_bytes(fx.v, &h, sizeof(h), 3, &err));
    g_assert_true(fe_vsock_recv_pkt(fx.v, &p, TIMEOUT, &err));
    g_assert_cmpuint(p.hdr.op, ==, VIRTIO_VSOCK_OP_RESPONSE);
    fe_vsock_pkt_clear(&p);
    fake_vsock_counters(fx.fake, &fc);
    g_assert_cmpuint(fc.bad_packets, ==, 1);
    /* the back-end still serves connections */
    c = connect_ok(&fx, FAKE_VSOCK_ECHO_PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_cmpint(fe_vsock_send(c, "ok", 2, TIMEOUT, &err), ==, 2);
    g_assert_true(fe_vsock_recv_all(c, buf, 2, TIMEOUT, &err));
    fe_vsock_conn_free(c);
    fe_vsock_close(fx.v);
    fake_vsock_free(fx.fake);
}

static void test_many_connections(void)
{
    enum { N = 1024 };
    Fixture fx;
    FeVsockConn **c = g_new0(FeVsockConn *, N);
    g_autoptr(GError) err = NULL;
    unsigned established = 0;
    FakeVsockCounters fc;

    open_with(&fx, &(FeVsockOptions){.buf_alloc = 4096});
    for (unsigned i = 0; i < N; i++) {
        c[i] = fe_vsock_connect_start(fx.v, FAKE_VSOCK_ECHO_PORT,
                                      VIRTIO_VSOCK_TYPE_STREAM, &err);
        g_assert_no_error(err);
    }
    while (established < N) {
        established = 0;
        for (unsigned i = 0; i < N; i++) {
            established += fe_vsock_conn_state(c[i]) == FE_VSOCK_ESTABLISHED;
        }
        g_assert_true(fe_vsock_poll(fx.v, 100, &err));
    }
    fake_vsock_counters(fx.fake, &fc);
    g_assert_cmpuint(fc.connections, ==, N);
    for (unsigned i = 0; i < N; i++) {
        char msg[16];

        g_snprintf(msg, sizeof(msg), "conn %u", i);
        g_assert_cmpint(fe_vsock_send(c[i], msg, strlen(msg), TIMEOUT, &err), >, 0);
    }
    for (unsigned i = 0; i < N; i++) {
        char msg[16], want[16];

        g_snprintf(want, sizeof(want), "conn %u", i);
        g_assert_true(fe_vsock_recv_all(c[i], msg, strlen(want), TIMEOUT, &err));
        g_assert_cmpmem(msg, strlen(want), want, strlen(want));
        g_assert_true(fe_vsock_rst(c[i], &err));
        fe_vsock_conn_free(c[i]);
    }
    g_free(c);
    close_clean(&fx);
}

static void test_seqpacket(void)
{
    Fixture fx;
    FeVsockConn *c;
    g_autofree uint8_t *big = g_malloc(10000), *in = g_malloc(10000);
    char small[8];
    g_autoptr(GError) err = NULL;

    open_with(&fx, &(FeVsockOptions){.seqpacket = TRUE, .rx_buf_size = 1024});
    g_assert_true(
        fe_device_has_feature(fe_vsock_device(fx.v), VIRTIO_VSOCK_F_SEQPACKET));
    c = connect_ok(&fx, FAKE_VSOCK_ECHO_PORT, VIRTIO_VSOCK_TYPE_SEQPACKET);
    fill(big, 10000, 3);
    /* three messages; the big one crosses many 1 KiB rx buffers */
    g_assert_cmpint(fe_vsock_send(c, "one", 3, TIMEOUT, &err), ==, 3);
    g_assert_cmpint(fe_vsock_send(c, big, 10000, TIMEOUT, &err), ==, 10000);
    g_assert_cmpint(fe_vsock_send(c, "three", 5, TIMEOUT, &err), ==, 5);
    g_assert_cmpint(fe_vsock_recv(c, small, sizeof(small), TIMEOUT, &err), ==, 3);
    g_assert_cmpmem(small, 3, "one", 3);
    g_assert_cmpint(fe_vsock_recv(c, in, 10000, TIMEOUT, &err), ==, 10000);
    g_assert_cmpmem(in, 10000, big, 10000);
    /* a short read truncates the message, the next read starts the next one */
    g_assert_cmpint(fe_vsock_recv(c, small, 2, TIMEOUT, &err), ==, 2);
    g_assert_cmpmem(small, 2, "th", 2);
    g_assert_cmpuint(fe_vsock_conn_readable(c), ==, 0);
    fe_vsock_conn_free(c);
    close_clean(&fx);
}

static void test_split_buffers(void)
{
    Fixture fx;
    FeVsockConn *c;

    /* header and payload in separate descriptors, no EVENT_IDX, no indirect */
    open_with(&fx, &(FeVsockOptions){.rx_split = TRUE,
                                     .tx_split = TRUE,
                                     .no_event_idx = TRUE,
                                     .no_indirect = TRUE,
                                     .rx_buf_size = 512});
    c = connect_ok(&fx, FAKE_VSOCK_ECHO_PORT, VIRTIO_VSOCK_TYPE_STREAM);
    echo_through(&fx, c, 1 << 20, 4);
    fe_vsock_conn_free(c);
    close_clean(&fx);
}

static void test_backend_gone(void)
{
    Fixture fx;
    FeVsockConn *c;
    char buf[4];
    g_autoptr(GError) err = NULL;

    open_with(&fx, NULL);
    c = connect_ok(&fx, FAKE_VSOCK_ECHO_PORT, VIRTIO_VSOCK_TYPE_STREAM);
    fake_vsock_drop_client(fx.fake);
    g_assert_cmpint(fe_vsock_recv(c, buf, sizeof(buf), 30000, &err), ==, -1);
    g_assert_error(err, FE_ERROR, FE_ERROR_DISCONNECTED);
    fe_vsock_conn_free(c);
    fe_vsock_close(fx.v);
    fake_vsock_free(fx.fake);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/frontend/vsock/open", test_open);
    g_test_add_func("/frontend/vsock/echo", test_echo);
    g_test_add_func("/frontend/vsock/refused", test_refused);
    g_test_add_func("/frontend/vsock/host-connects", test_host_connects);
    g_test_add_func("/frontend/vsock/half-close", test_half_close);
    g_test_add_func("/frontend/vsock/credit-exhaustion", test_credit_exhaustion);
    g_test_add_func("/frontend/vsock/credit-withheld", test_credit_withheld);
    g_test_add_func("/frontend/vsock/raw-packets", test_raw_packets);
    g_test_add_func("/frontend/vsock/many-connections", test_many_connections);
    g_test_add_func("/frontend/vsock/seqpacket", test_seqpacket);
    g_test_add_func("/frontend/vsock/split-buffers", test_split_buffers);
    g_test_add_func("/frontend/vsock/backend-gone", test_backend_gone);
    return g_test_run();
}

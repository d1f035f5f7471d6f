/*
 * tests/vsock/test-vhost-user-vsock.c - the vhost-user-vsock device through
 * a real vhost-user socket, driven by the front-end's vsock driver as the
 * guest: the config space, connections both ways, data, half-close each
 * way, RST for a dead host peer and for a port nobody listens on, credit
 * exhaustion and recovery both ways, a front-end disconnect that closes
 * everything, deletion with live connections, and the device's options.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vvs-test.h"

#define PORT 1234

static void test_config(void)
{
    VvsFixture fx;
    FeDevice *d;

    vvs_setup(&fx, NULL, &(FeVsockOptions){.seqpacket = TRUE});
    d = fe_vsock_device(fx.v);
    g_assert_cmpuint(fe_vsock_guest_cid(fx.v), ==, VVS_CID);
    g_assert_true(fe_device_has_feature(d, FE_VSOCK_F_STREAM));
    g_assert_true(fe_device_has_feature(d, VIRTIO_VSOCK_F_SEQPACKET));
    g_assert_cmpuint(fe_device_num_queues(d), ==, 2);
    g_assert_cmpuint(vhost_user_vsock_get_guest_cid(fx.vs), ==, VVS_CID);
    vvs_teardown(&fx);
}

/* Guest -> host: "<uds>_<port>", data both ways, the guest closes. */
static void test_guest_connect(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;
    uint8_t out[3000], in[3000];

    vvs_setup(&fx, NULL, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    g_assert_cmpint(h, >=, 0);

    vvs_fill(out, sizeof(out), 1);
    vvs_send_all(c, out, sizeof(out));
    vvs_host_read_all(h, in, sizeof(in));
    g_assert_cmpmem(in, sizeof(in), out, sizeof(out));

    vvs_fill(out, sizeof(out), 2);
    vvs_host_write_all(h, out, sizeof(out));
    vvs_recv_all(c, in, sizeof(in));
    g_assert_cmpmem(in, sizeof(in), out, sizeof(out));

    /* The guest resets: the host socket is closed. */
    g_assert_true(fe_vsock_rst(c, NULL));
    g_assert_true(vvs_host_wait_closed(h, VVS_TIMEOUT));
    fe_vsock_conn_free(c);
    close(h);
    close(lfd);
    vvs_teardown(&fx);
}

/* Host -> guest: CONNECT <port>, bytes after the line are payload, OK <port>. */
static void test_host_connect(void)
{
    VvsFixture fx;
    FeVsockConn *c;
    g_autofree char *ok = NULL;
    char buf[64];
    int h;

    vvs_setup(&fx, NULL, NULL);
    fe_vsock_listen(fx.v, 5000);
    h = vvs_host_connect(&fx, 5000, "early bytes");
    c = vvs_accept(&fx, 5000);
    ok = vvs_host_read_line(h, VVS_TIMEOUT);
    g_assert_nonnull(ok);
    g_assert_true(g_str_has_prefix(ok, "OK "));
    g_assert_cmpuint(g_ascii_strtoull(ok + 3, NULL, 10), ==,
                     fe_vsock_conn_peer_port(c));

    vvs_recv_all(c, buf, 11);
    g_assert_cmpmem(buf, 11, "early bytes", 11);
    vvs_send_all(c, "pong", 4);
    vvs_host_read_all(h, buf, 4);
    g_assert_cmpmem(buf, 4, "pong", 4);

    fe_vsock_conn_free(c);
    close(h);
    vvs_teardown(&fx);
}

/* "connect" in any case; a host that leaves before the guest answers. */
static void test_host_connect_case(void)
{
    VvsFixture fx;
    FeVsockConn *c;
    g_autofree char *ok = NULL;
    int h = -1;

    vvs_setup(&fx, NULL, NULL);
    fe_vsock_listen(fx.v, 77);
    h = vvs_host_connect(&fx, 77, NULL); /* closed before the guest accepts */
    close(h);
    c = fe_vsock_accept(fx.v, 77, VVS_TIMEOUT, NULL);
    if (c) { /* the REQUEST went out first: the connection is reset */
        g_assert_true(fe_vsock_wait_closed(c, VVS_TIMEOUT, NULL));
        fe_vsock_conn_free(c);
    }
    h = vvs_host_connect_raw(&fx, "cOnNeCt 77\n");
    c = vvs_accept(&fx, 77);
    ok = vvs_host_read_line(h, VVS_TIMEOUT);
    g_assert_nonnull(ok);
    g_assert_true(g_str_has_prefix(ok, "OK "));
    fe_vsock_conn_free(c);
    close(h);
    vvs_teardown(&fx);
}

/* Nobody listens on "<uds>_<port>": the guest gets an RST at once. */
static void test_no_listener(void)
{
    VvsFixture fx;
    g_autoptr(GError) err = NULL;
    gint64 t0;

    vvs_setup(&fx, NULL, NULL);
    t0 = g_get_monotonic_time();
    g_assert_null(fe_vsock_connect(fx.v, 4242, VIRTIO_VSOCK_TYPE_STREAM, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_REFUSED);
    /* "At once": well under the front-end's timeout (generous bound). */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 4 * G_USEC_PER_SEC);
    vvs_teardown(&fx);
}

/* SHUTDOWN(SEND) from the guest is the host's EOF, and the reverse. */
static void test_half_close(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;
    char buf[16];
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, NULL, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);

    /* guest -> host half closed; host -> guest still flows. */
    vvs_send_all(c, "last", 4);
    g_assert_true(fe_vsock_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_SEND, &err));
    vvs_host_read_all(h, buf, 4);
    g_assert_cmpint(vvs_host_read(h, buf, sizeof(buf), VVS_TIMEOUT), ==, 0); /* EOF */
    vvs_host_write_all(h, "still", 5);
    vvs_recv_all(c, buf, 5);
    g_assert_cmpmem(buf, 5, "still", 5);

    /* host -> guest closed too: the guest reads EOF.  Both halves are shut,
     * both ends still open (a half-close each way, as between two Linux
     * sockets); the guest's close (SHUTDOWN RCV too) ends it with an RST. */
    g_assert_cmpint(shutdown(h, SHUT_WR), ==, 0);
    g_assert_cmpint(fe_vsock_recv(c, buf, sizeof(buf), VVS_TIMEOUT, &err), ==, 0);
    g_assert_cmpuint(fe_vsock_conn_peer_shutdown(c), ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
    g_assert_true(fe_vsock_poll(fx.v, 200, &err));
    g_assert_cmpint(fe_vsock_conn_state(c), ==, FE_VSOCK_ESTABLISHED);
    g_assert_true(fe_vsock_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_RCV, &err));
    g_assert_true(fe_vsock_wait_closed(c, VVS_TIMEOUT, &err));
    g_assert_true(vvs_host_wait_closed(h, VVS_TIMEOUT));
    fe_vsock_conn_free(c);
    close(h);

    /* The other way round: the host stops sending first. */
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    vvs_host_write_all(h, "bye", 3);
    g_assert_cmpint(shutdown(h, SHUT_WR), ==, 0);
    vvs_recv_all(c, buf, 3);
    g_assert_cmpint(fe_vsock_recv(c, buf, sizeof(buf), VVS_TIMEOUT, &err), ==, 0);
    vvs_send_all(c, "reply", 5); /* the guest may still send */
    vvs_host_read_all(h, buf, 5);
    g_assert_cmpmem(buf, 5, "reply", 5);
    g_assert_true(fe_vsock_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_SEND, &err));
    g_assert_cmpint(vvs_host_read(h, buf, sizeof(buf), VVS_TIMEOUT), ==, 0);
    close(h); /* both shut: the host's close looks like its half-close */
    g_assert_true(fe_vsock_poll(fx.v, 200, &err));
    g_assert_cmpuint(fe_vsock_conn_peer_shutdown(c), ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
    g_assert_true(fe_vsock_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_RCV, &err)); /* close */
    g_assert_true(fe_vsock_wait_closed(c, VVS_TIMEOUT, &err));
    fe_vsock_conn_free(c);
    close(lfd);
    vvs_teardown(&fx);
}

/* A host peer that dies: RST to the guest. */
static void test_dead_peer(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, NULL, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    close(h); /* no shutdown, just gone */
    g_assert_true(fe_vsock_wait_closed(c, VVS_TIMEOUT, &err));
    g_assert_no_error(err);
    fe_vsock_conn_free(c);
    close(lfd);
    vvs_teardown(&fx);
}

/*
 * Host -> guest with a guest that returns no credit: the device sends up
 * to buf_alloc and stops (no overrun); credit back, the rest arrives.
 */
static void test_credit_to_guest(void)
{
    VvsFixture fx;
    /* total - buf_alloc fits the host socket's buffer (~200 KiB). */
    const size_t buf_alloc = 64 * 1024, total = 3 * 64 * 1024;
    g_autofree uint8_t *out = g_malloc(total), *in = g_malloc(total);
    int lfd, h;
    FeVsockConn *c;
    FeVsockCredit cr;
    size_t got = 0;
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, NULL, &(FeVsockOptions){.buf_alloc = buf_alloc});
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    fe_vsock_conn_set_auto_credit(c, FALSE);
    vvs_fill(out, total, 9);
    vvs_host_write_all(h, out, total); /* the host socket buffers hold it */

    /* Exactly the credit arrives, then nothing. */
    while (fe_vsock_conn_readable(c) < buf_alloc) {
        g_assert_true(fe_vsock_poll(fx.v, VVS_TIMEOUT, &err));
    }
    g_assert_true(fe_vsock_poll(fx.v, 300, &err));
    g_assert_cmpuint(fe_vsock_conn_readable(c), ==, buf_alloc);
    fe_vsock_conn_credit(c, &cr);
    g_assert_cmpuint(cr.rx_cnt, ==, buf_alloc);

    /* Read it all, returning credit only on request: the rest follows. */
    while (got < total) {
        gssize n = fe_vsock_recv(c, in + got, total - got, VVS_TIMEOUT, &err);

        g_assert_no_error(err);
        g_assert_cmpint(n, >, 0);
        got += (size_t)n;
        if (!fe_vsock_conn_readable(c)) {
            g_assert_true(fe_vsock_credit_update(c, &err));
        }
    }
    g_assert_cmpmem(in, total, out, total);
    fe_vsock_conn_free(c);
    close(h);
    close(lfd);
    vvs_teardown(&fx);
}

/*
 * Guest -> host with a host that does not read: the guest runs out of the
 * device's credit (buf-alloc), the device keeps draining tx; once the host
 * reads, credit comes back and everything arrives intact.
 */
static void test_credit_to_host(void)
{
    VvsFixture fx;
    const size_t total = 8 * 1024 * 1024;
    g_autofree uint8_t *out = g_malloc(total), *in = g_malloc(total);
    int lfd, h;
    FeVsockConn *c;
    size_t sent = 0, got = 0;
    VsockMuxStats st;
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, ",buf-alloc=64K", NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    vvs_fill(out, total, 5);

    /* Fill the host socket and the device's buffer: credit runs out. */
    for (;;) {
        uint32_t room = fe_vsock_conn_peer_free(c);

        if (room == 0) {
            g_assert_true(fe_vsock_poll(fx.v, 300, &err));
            if (fe_vsock_conn_peer_free(c) == 0) {
                break;
            }
            continue;
        }
        g_assert_cmpint(
            fe_vsock_send(c, out + sent, MIN(room, total - sent), VVS_TIMEOUT, &err),
            ==, (gssize)MIN(room, total - sent));
        sent += MIN(room, total - sent);
        g_assert_cmpuint(sent, <, total);
    }
    vvs_stats(&fx, &st);
    g_assert_cmpuint(st.buffered, <=, 64 * 1024); /* bounded by buf-alloc */

    /* The host reads: credit comes back, the rest flows. */
    while (got < total) {
        uint32_t room = fe_vsock_conn_peer_free(c);
        gssize n;

        if (sent < total && room) {
            size_t k = MIN(room, total - sent);

            g_assert_cmpint(fe_vsock_send(c, out + sent, k, VVS_TIMEOUT, &err), ==,
                            (gssize)k);
            sent += k;
        }
        n = vvs_host_read(h, in + got, total - got, 10);
        if (n > 0) {
            got += (size_t)n;
        } else {
            g_assert_cmpint(n, ==, -1);
            g_assert_true(fe_vsock_poll(fx.v, 10, &err));
        }
    }
    g_assert_cmpmem(in, total, out, total);
    fe_vsock_conn_free(c);
    close(h);
    close(lfd);
    vvs_teardown(&fx);
}

/* SEQPACKET: message boundaries kept both ways through a SOCK_SEQPACKET peer. */
static void test_seqpacket(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;
    char buf[64];
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, NULL, &(FeVsockOptions){.seqpacket = TRUE});
    lfd = vvs_host_listen_seqpacket(&fx, PORT);
    c = fe_vsock_connect(fx.v, PORT, VIRTIO_VSOCK_TYPE_SEQPACKET, &err);
    g_assert_no_error(err);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    g_assert_cmpint(h, >=, 0);
    g_assert_cmpint(fe_vsock_send(c, "one", 3, VVS_TIMEOUT, &err), ==, 3);
    g_assert_cmpint(fe_vsock_send(c, "second", 6, VVS_TIMEOUT, &err), ==, 6);
    g_assert_cmpint(vvs_host_read(h, buf, sizeof(buf), VVS_TIMEOUT), ==, 3);
    g_assert_cmpmem(buf, 3, "one", 3);
    g_assert_cmpint(vvs_host_read(h, buf, sizeof(buf), VVS_TIMEOUT), ==, 6);
    g_assert_cmpmem(buf, 6, "second", 6);
    g_assert_cmpint(send(h, "abc", 3, 0), ==, 3);
    g_assert_cmpint(send(h, "defgh", 5, 0), ==, 5);
    g_assert_cmpint(fe_vsock_recv(c, buf, sizeof(buf), VVS_TIMEOUT, &err), ==, 3);
    g_assert_cmpmem(buf, 3, "abc", 3);
    g_assert_cmpint(fe_vsock_recv(c, buf, sizeof(buf), VVS_TIMEOUT, &err), ==, 5);
    g_assert_cmpmem(buf, 5, "defgh", 5);
    fe_vsock_conn_free(c);
    close(h);
    close(lfd);
    vvs_teardown(&fx);
}

/* A front-end that goes away: every host socket is closed at once; the next
 * front-end gets an RST for every old connection, none resumes. */
static void test_frontend_disconnect(void)
{
    VvsFixture fx;
    int lfd, h1, h2;
    FeVsockConn *c1, *c2;
    g_autoptr(GError) err = NULL;
    FeVsockPkt pkt;
    guint32 ports[2];
    int rsts = 0;

    vvs_setup(&fx, NULL, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c1 = vvs_connect(&fx, PORT);
    h1 = vvs_host_accept(lfd, VVS_TIMEOUT);
    fe_vsock_listen(fx.v, 6000);
    h2 = vvs_host_connect(&fx, 6000, NULL);
    c2 = vvs_accept(&fx, 6000);
    g_free(vvs_host_read_line(h2, VVS_TIMEOUT));
    ports[0] = fe_vsock_conn_local_port(c1);
    ports[1] = fe_vsock_conn_local_port(c2);
    fe_vsock_conn_free(c1);
    fe_vsock_conn_free(c2);

    fe_vsock_close(fx.v); /* the VMM is gone */
    fx.v = NULL;
    g_assert_true(vvs_host_wait_closed(h1, VVS_TIMEOUT));
    g_assert_true(vvs_host_wait_closed(h2, VVS_TIMEOUT));

    /* A new front-end: an RST for each old connection, nothing else. */
    vvs_open(&fx, NULL);
    while (rsts < 2) {
        g_assert_true(fe_vsock_recv_pkt(fx.v, &pkt, VVS_TIMEOUT, &err));
        g_assert_cmpuint(pkt.hdr.op, ==, VIRTIO_VSOCK_OP_RST);
        g_assert_true(pkt.hdr.dst_port == ports[0] || pkt.hdr.dst_port == ports[1]);
        fe_vsock_pkt_clear(&pkt);
        rsts++;
    }
    g_assert_false(fe_vsock_recv_pkt(fx.v, &pkt, 300, NULL));
    /* And it serves new connections. */
    c1 = vvs_connect(&fx, PORT);
    close(h1);
    h1 = vvs_host_accept(lfd, VVS_TIMEOUT);
    g_assert_cmpint(h1, >=, 0);
    fe_vsock_conn_free(c1);
    close(h1);
    close(h2);
    close(lfd);
    vvs_teardown(&fx);
}

/* device_del with live connections: host sockets closed, the front-end
 * dropped, both socket files removed (vvs_delete_device checks). */
static void test_delete_live(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;

    vvs_setup(&fx, NULL, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    vvs_delete_device(&fx);
    g_assert_true(vvs_host_wait_closed(h, VVS_TIMEOUT));
    g_assert_false(fe_vsock_poll(fx.v, VVS_TIMEOUT, NULL)); /* back-end lost */
    fe_vsock_conn_free(c);
    fe_vsock_close(fx.v);
    fx.v = NULL;
    close(h);
    close(lfd);
    vvs_teardown(&fx);
}

static void vvs_op(gboolean (*op)(Device *, DeviceDoneFunc, gpointer, GError **),
                   Device *dev);

/*
 * An operator's device_resume before the front-end starts its rings: the
 * planes run already when the rings start, and the kick handlers must
 * still be registered (device_queue_start alone leaves a running plane be).
 */
static void test_resume_before_start(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;
    char buf[4];

    vvs_setup_device(&fx, NULL);
    vvs_op(device_quiesce, fx.dev);
    vvs_op(device_resume, fx.dev);
    vvs_open(&fx, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    vvs_send_all(c, "ping", 4);
    vvs_host_read_all(h, buf, 4);
    g_assert_cmpmem(buf, 4, "ping", 4);
    fe_vsock_conn_free(c);
    close(h);
    close(lfd);
    vvs_teardown(&fx);
}

/* device_reset drops the front-end; the next one is served from scratch. */
static void test_reset(void)
{
    VvsFixture fx;
    int lfd, h;
    FeVsockConn *c;
    FeVsockPkt pkt;
    uint32_t port;

    vvs_setup(&fx, NULL, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    h = vvs_host_accept(lfd, VVS_TIMEOUT);
    port = fe_vsock_conn_local_port(c);
    vvs_op(device_reset, fx.dev);
    g_assert_true(vvs_host_wait_closed(h, VVS_TIMEOUT)); /* nothing survives */
    g_assert_false(fe_vsock_poll(fx.v, VVS_TIMEOUT, NULL));
    fe_vsock_conn_free(c);
    fe_vsock_close(fx.v);
    close(h);
    vvs_open(&fx, NULL);
    /* The old connection's RST comes first (the new driver reuses its port). */
    g_assert_true(fe_vsock_recv_pkt(fx.v, &pkt, VVS_TIMEOUT, NULL));
    g_assert_cmpuint(pkt.hdr.op, ==, VIRTIO_VSOCK_OP_RST);
    g_assert_cmpuint(pkt.hdr.dst_port, ==, port);
    fe_vsock_pkt_clear(&pkt);
    fe_vsock_conn_free(vvs_connect(&fx, PORT));
    close(vvs_host_accept(lfd, VVS_TIMEOUT));
    close(lfd);
    vvs_teardown(&fx);
}

/* Bad options are clear errors; moves are refused; add/del/add again. */
static void test_options(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vvs-opt-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "s", NULL);
    g_autofree char *spec = NULL;
    Device *dev;
    QomObject *io2;

    io2 = qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE,
                                     "aio-qcontext,id=vvs-io2,threaded=yes", &err);
    g_assert_no_error(err);

    spec = g_strdup_printf("vhost-user-vsock,id=o1,socket=%s,context=vvs-io", sock);
    g_assert_null(vvs_try_device(spec, &err));
    g_assert_cmpstr(err->message, ==,
                    "device 'o1': guest-cid is required (3 to 4294967294)");
    g_clear_error(&err);
    g_free(spec);

    spec = g_strdup_printf("vhost-user-vsock,id=o1,guest-cid=3,context=vvs-io");
    g_assert_null(vvs_try_device(spec, &err));
    g_assert_cmpstr(err->message, ==,
                    "device 'o1': give exactly one of socket=PATH and fd=N");
    g_clear_error(&err);
    g_free(spec);

    spec = g_strdup_printf("vhost-user-vsock,id=o1,guest-cid=2,socket=%s", sock);
    g_assert_null(vvs_try_device(spec, &err));
    g_assert_nonnull(strstr(err->message, "guest-cid 2 is reserved"));
    g_clear_error(&err);
    g_free(spec);

    spec = g_strdup_printf("vhost-user-vsock,id=o1,guest-cid=3,socket=%s,"
                           "context=vvs-io,queue-contexts=vvs-io:vvs-io2",
                           sock);
    g_assert_null(vvs_try_device(spec, &err));
    g_assert_nonnull(strstr(err->message, "queue-contexts puts queue 1 on 'vvs-io2'"));
    g_clear_error(&err);
    g_free(spec);

    spec = g_strdup_printf("vhost-user-vsock,id=o1,guest-cid=3,socket=%s,"
                           "context=vvs-io,num-queues=3",
                           sock);
    g_assert_null(vvs_try_device(spec, &err));
    g_clear_error(&err);
    g_free(spec);
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));

    /* queue-contexts naming the device's own context is fine. */
    spec = g_strdup_printf("vhost-user-vsock,id=o1,guest-cid=3,socket=%s,"
                           "context=vvs-io,queue-contexts=vvs-io",
                           sock);
    dev = vvs_try_device(spec, &err);
    g_assert_no_error(err);
    g_assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));

    /* No move: not the device, not a queue. */
    g_assert_false(device_set_context(dev, QCONTEXT_CONTEXT(io2), NULL, NULL, &err));
    g_assert_cmpstr(err->message, ==,
                    "device 'o1': vhost-user-vsock does not move: its queues, its "
                    "connection muxer and its sockets stay on context 'vvs-io'");
    g_clear_error(&err);
    g_assert_false(
        device_queue_set_context(dev, 1, QCONTEXT_CONTEXT(io2), NULL, NULL, &err));
    g_clear_error(&err);

    /* The same socket path while it lives: refused. */
    {
        g_autofree char *spec2 =
            g_strdup_printf("vhost-user-vsock,id=o2,guest-cid=4,socket=%s", sock);

        g_assert_null(vvs_try_device(spec2, &err));
        g_assert_nonnull(err);
        g_clear_error(&err);
    }

    /* Deleted, then added again on the same path. */
    {
        VvsFixture fx = {.dev = dev, .sock = sock, .uds = "/nonexistent/x"};

        vvs_delete_device(&fx);
    }
    dev = vvs_try_device(spec, &err);
    g_assert_no_error(err);
    {
        VvsFixture fx = {.dev = dev, .sock = sock, .uds = "/nonexistent/x"};

        vvs_delete_device(&fx);
    }
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "vvs-io2", &err));
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void vvs_op_done(Device *dev, const GError *err, gpointer opaque)
{
    g_assert_no_error(err);
    g_atomic_int_set((gint *)opaque, 1);
}

static void vvs_op(gboolean (*op)(Device *, DeviceDoneFunc, gpointer, GError **),
                   Device *dev)
{
    gint done = 0;

    g_assert_true(op(dev, vvs_op_done, &done, NULL));
    while (!g_atomic_int_get(&done)) {
        qcontext_iterate(qcontext_get_main(), FALSE);
        g_usleep(200);
    }
}

int main(int argc, char **argv)
{
    vvs_init(&argc, &argv);
    g_test_add_func("/vhost-user-vsock/config", test_config);
    g_test_add_func("/vhost-user-vsock/guest-connect", test_guest_connect);
    g_test_add_func("/vhost-user-vsock/host-connect", test_host_connect);
    g_test_add_func("/vhost-user-vsock/host-connect-case", test_host_connect_case);
    g_test_add_func("/vhost-user-vsock/no-listener", test_no_listener);
    g_test_add_func("/vhost-user-vsock/half-close", test_half_close);
    g_test_add_func("/vhost-user-vsock/dead-peer", test_dead_peer);
    g_test_add_func("/vhost-user-vsock/credit-to-guest", test_credit_to_guest);
    g_test_add_func("/vhost-user-vsock/credit-to-host", test_credit_to_host);
    g_test_add_func("/vhost-user-vsock/seqpacket", test_seqpacket);
    g_test_add_func("/vhost-user-vsock/frontend-disconnect", test_frontend_disconnect);
    g_test_add_func("/vhost-user-vsock/delete-live", test_delete_live);
    g_test_add_func("/vhost-user-vsock/options", test_options);
    g_test_add_func("/vhost-user-vsock/resume-before-start", test_resume_before_start);
    g_test_add_func("/vhost-user-vsock/reset", test_reset);
    return g_test_run();
}

/*
 * tests/pipe/test-pipe-device.c - the pipe device (`-device pipe`) on a
 * vhost-user-vsock device, through a real vhost-user socket with the
 * front-end's vsock driver as the guest: echo through the port, 64
 * channels at once to four services (one registered by this test), an
 * unknown service, an unlisted unix: name, open-reply=off, deletion with
 * open channels (either device first) and the options.  The pipe device
 * runs on a context of its own, another thread than the vsock device's.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <unistd.h>

#include "qcontext/devices/pipe/pipe.h"
#include "../vsock/vvs-test.h"

#define PORT 5555

static int pipe_seq;

/* A pipe device on @fx's vsock device; @extra: ",open-reply=off"... */
static Device *pipe_add(VvsFixture *fx, uint32_t port, const char *extra, GError **errp)
{
    g_autofree char *spec =
        g_strdup_printf("pipe,id=pipe%d,vsock=%s,port=%u,context=pipe-io%s", ++pipe_seq,
                        fx->id, port, extra ? extra : "");

    return vvs_try_device(spec, errp);
}

static void pipe_del(Device *dev)
{
    VvsFixture fx = {.dev = dev, .sock = "/nonexistent/s", .uds = "/nonexistent/u"};

    vvs_delete_device(&fx);
}

/* Open "pipe:NAME\0" on @port; with @status >= 0 read and check it. */
static FeVsockConn *pipe_open(VvsFixture *fx, uint32_t port, const char *name,
                              int status)
{
    g_autofree char *hello = g_strdup_printf("pipe:%s", name);
    FeVsockConn *c = vvs_connect(fx, port);
    uint8_t byte;

    vvs_send_all(c, hello, strlen(hello) + 1); /* with its NUL */
    if (status >= 0) {
        vvs_recv_all(c, &byte, 1);
        g_assert_cmpint(byte, ==, status);
    }
    return c;
}

/* After a failed open: nothing more arrives, the connection is reset. */
static void assert_reset(FeVsockConn *c)
{
    uint8_t buf[8];
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(fe_vsock_recv(c, buf, sizeof(buf), VVS_TIMEOUT, &err), ==, 0);
    g_assert_true(fe_vsock_wait_closed(c, VVS_TIMEOUT, &err));
    fe_vsock_conn_free(c);
}

/* ---- a service registered by the test: "rev" answers each chunk reversed --- */

static gint rev_live, rev_closes;

static PipeOpenStatus rev_open(PipeChannel *ch, const char *args, void *opaque,
                               void **chan_opaque)
{
    g_assert_true(in_aio_context_home_thread(pipe_channel_aio_context(ch)));
    g_atomic_int_inc(&rev_live);
    return PIPE_OPEN_OK;
}

static size_t rev_recv(PipeChannel *ch, const uint8_t *data, size_t len, void *opq)
{
    g_autofree uint8_t *out = g_malloc(len);

    for (size_t i = 0; i < len; i++) {
        out[i] = data[len - 1 - i];
    }
    /* Small messages: the guest's credit always has room for them. */
    g_assert_cmpuint(pipe_channel_send(ch, out, len), ==, len);
    return len;
}

static void rev_close(PipeChannel *ch, void *opq)
{
    g_atomic_int_dec_and_test(&rev_live);
    g_atomic_int_inc(&rev_closes);
}

static const PipeServiceOps rev_ops = {
    .open = rev_open, .recv = rev_recv, .close = rev_close};

/* ---- tests ----------------------------------------------------------------- */

static void test_echo(void)
{
    VvsFixture fx;
    Device *pd;
    FeVsockConn *c;
    const size_t len = 512 * 1024; /* more than either side's credit */
    g_autofree uint8_t *out = g_malloc(len), *in = g_malloc(len);
    size_t sent = 0, got = 0;
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, NULL, NULL);
    pd = pipe_add(&fx, PORT, NULL, &err);
    g_assert_no_error(err);
    c = pipe_open(&fx, PORT, "echo", PIPE_OPEN_OK);
    vvs_fill(out, len, 3);
    while (got < len) {
        uint32_t room = fe_vsock_conn_peer_free(c);

        if (sent < len && room) {
            size_t k = MIN(MIN(room, len - sent), 32768);

            vvs_send_all(c, out + sent, k);
            sent += k;
        }
        if (fe_vsock_conn_readable(c)) {
            gssize n = fe_vsock_recv(c, in + got, len - got, VVS_TIMEOUT, &err);

            g_assert_cmpint(n, >, 0);
            got += (size_t)n;
        } else {
            g_assert_true(fe_vsock_poll(fx.v, 100, &err));
        }
    }
    g_assert_cmpmem(in, len, out, len);
    /* The guest stops sending; the echo follows (EOF); the guest closes. */
    g_assert_true(fe_vsock_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_SEND, &err));
    g_assert_cmpint(fe_vsock_recv(c, in, 1, VVS_TIMEOUT, &err), ==, 0);
    g_assert_cmpuint(fe_vsock_conn_peer_shutdown(c), ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
    g_assert_true(fe_vsock_shutdown(c, VIRTIO_VSOCK_SHUTDOWN_RCV, &err));
    g_assert_true(fe_vsock_wait_closed(c, VVS_TIMEOUT, &err));
    fe_vsock_conn_free(c);
    pipe_del(pd);
    vvs_teardown(&fx);
}

#define NCH 64

/* 64 channels at once to echo, qemud:echo, unix:db and the test's "rev". */
static void test_64_channels(void)
{
    static const char *svcs[] = {"echo", "qemud:echo", "unix:db", "rev"};
    VvsFixture fx;
    Device *pd;
    FeVsockConn *c[NCH];
    char msg[NCH][48], want[NCH][64];
    size_t want_len[NCH];
    int lfd, hfd[NCH / 4];
    g_autofree char *path = NULL, *extra = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_true(pipe_service_register("rev", &rev_ops, NULL, &err));
    rev_closes = 0;
    vvs_setup(&fx, NULL, NULL);
    path = g_build_filename(fx.dir, "db.sock", NULL);
    extra = g_strdup_printf(",unix.db=%s", path);
    lfd = vvs_unix_listen_path(path);
    pd = pipe_add(&fx, PORT, extra, &err);
    g_assert_no_error(err);

    for (int i = 0; i < NCH; i++) {
        int n = g_snprintf(msg[i], sizeof(msg[i]), "channel %d to %s", i, svcs[i % 4]);

        c[i] = pipe_open(&fx, PORT, svcs[i % 4], PIPE_OPEN_OK);
        switch (i % 4) {
        case 1: /* qemud framing: the same frame comes back */
            want_len[i] =
                (size_t)g_snprintf(want[i], sizeof(want[i]), "%04x%s", n, msg[i]);
            memcpy(msg[i], want[i], want_len[i] + 1);
            break;
        case 3:
            for (int k = 0; k < n; k++) {
                want[i][k] = msg[i][n - 1 - k];
            }
            want_len[i] = (size_t)n;
            break;
        default:
            memcpy(want[i], msg[i], (size_t)n);
            want_len[i] = (size_t)n;
        }
        if (i % 4 == 2) {
            hfd[i / 4] = vvs_host_accept(lfd, VVS_TIMEOUT);
            g_assert_cmpint(hfd[i / 4], >=, 0);
        }
    }
    g_assert_cmpint(g_atomic_int_get(&rev_live), ==, NCH / 4);
    /* Each channel its own data, all in flight at once. */
    for (int i = 0; i < NCH; i++) {
        vvs_send_all(c[i], msg[i], strlen(msg[i]));
    }
    for (int u = 0; u < NCH / 4; u++) { /* the unix peers echo */
        char buf[64];
        size_t n = want_len[u * 4 + 2];

        vvs_host_read_all(hfd[u], buf, n);
        g_assert_cmpmem(buf, n, want[u * 4 + 2], n);
        vvs_host_write_all(hfd[u], buf, n);
    }
    for (int i = 0; i < NCH; i++) {
        char buf[64];

        vvs_recv_all(c[i], buf, want_len[i]);
        g_assert_cmpmem(buf, want_len[i], want[i], want_len[i]);
    }
    /* Each open is its own channel: closing them closes each service's. */
    for (int i = 0; i < NCH; i++) {
        g_assert_true(fe_vsock_rst(c[i], &err));
        fe_vsock_conn_free(c[i]);
    }
    for (int u = 0; u < NCH / 4; u++) {
        g_assert_true(vvs_host_wait_closed(hfd[u], VVS_TIMEOUT));
        close(hfd[u]);
    }
    while (g_atomic_int_get(&rev_closes) < NCH / 4) {
        g_usleep(1000);
    }
    g_assert_cmpint(g_atomic_int_get(&rev_live), ==, 0);
    pipe_del(pd);
    pipe_service_unregister("rev");
    close(lfd);
    vvs_teardown(&fx);
}

/* Unknown service: status 1, RST; an unlisted unix: name: status 2, RST. */
static void test_refused(void)
{
    VvsFixture fx;
    Device *pd;
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, NULL, NULL);
    pd = pipe_add(&fx, PORT, ",unix.db=/nonexistent/db.sock", &err);
    g_assert_no_error(err);
    assert_reset(pipe_open(&fx, PORT, "nosuch", PIPE_OPEN_UNKNOWN));
    assert_reset(pipe_open(&fx, PORT, "unix:other", PIPE_OPEN_REFUSED));
    /* Listed, but nobody listens there. */
    assert_reset(pipe_open(&fx, PORT, "unix:db", PIPE_OPEN_REFUSED));
    {
        /* Not "pipe:" at all. */
        FeVsockConn *c = vvs_connect(&fx, PORT);
        uint8_t byte;

        vvs_send_all(c, "hello", 6);
        vvs_recv_all(c, &byte, 1);
        g_assert_cmpint(byte, ==, PIPE_OPEN_UNKNOWN);
        assert_reset(c);
    }
    /* The device still serves. */
    fe_vsock_conn_free(pipe_open(&fx, PORT, "echo", PIPE_OPEN_OK));
    pipe_del(pd);
    vvs_teardown(&fx);
}

/* open-reply=off: no status byte; a failed open is only an RST. */
static void test_open_reply_off(void)
{
    VvsFixture fx;
    Device *pd;
    FeVsockConn *c;
    char buf[8];
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, NULL, NULL);
    pd = pipe_add(&fx, PORT, ",open-reply=off", &err);
    g_assert_no_error(err);
    c = pipe_open(&fx, PORT, "echo", -1);
    vvs_send_all(c, "abc", 3);
    vvs_recv_all(c, buf, 3); /* the echo, no status byte before it */
    g_assert_cmpmem(buf, 3, "abc", 3);
    fe_vsock_rst(c, &err);
    fe_vsock_conn_free(c);
    assert_reset(pipe_open(&fx, PORT, "nosuch", -1)); /* nothing but the RST */
    pipe_del(pd);
    vvs_teardown(&fx);
}

/* Deleting the pipe device resets its channels and frees the port. */
static void test_delete(void)
{
    VvsFixture fx;
    Device *pd;
    FeVsockConn *c[4];
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, NULL, NULL);
    pd = pipe_add(&fx, PORT, NULL, &err);
    g_assert_no_error(err);
    for (int i = 0; i < 4; i++) {
        c[i] = pipe_open(&fx, PORT, "echo", PIPE_OPEN_OK);
    }
    pipe_del(pd);
    for (int i = 0; i < 4; i++) {
        g_assert_true(fe_vsock_wait_closed(c[i], VVS_TIMEOUT, &err));
        fe_vsock_conn_free(c[i]);
    }
    /* An ordinary port again: nobody listens on <uds>_5555. */
    g_assert_null(fe_vsock_connect(fx.v, PORT, VIRTIO_VSOCK_TYPE_STREAM, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_REFUSED);
    g_clear_error(&err);
    /* And it can be served again. */
    pd = pipe_add(&fx, PORT, NULL, &err);
    g_assert_no_error(err);
    fe_vsock_conn_free(pipe_open(&fx, PORT, "echo", PIPE_OPEN_OK));

    /* The vsock device goes first: the channels go with it. */
    c[0] = pipe_open(&fx, PORT, "echo", PIPE_OPEN_OK);
    vvs_delete_device(&fx);
    fe_vsock_conn_free(c[0]);
    fe_vsock_close(fx.v);
    fx.v = NULL;
    pipe_del(pd);
    vvs_teardown(&fx);
}

static void test_options(void)
{
    VvsFixture fx;
    Device *pd;
    g_autoptr(GError) err = NULL;

    vvs_setup_device(&fx, NULL);
    g_assert_null(vvs_try_device("pipe,id=p1,port=1", &err));
    g_assert_nonnull(strstr(err->message, "vsock= is required"));
    g_clear_error(&err);
    g_assert_null(pipe_add(&fx, 0, NULL, &err));
    g_assert_nonnull(strstr(err->message, "port= is required"));
    g_clear_error(&err);
    g_assert_null(vvs_try_device("pipe,id=p1,vsock=nosuch,port=1", &err));
    g_clear_error(&err);
    g_assert_null(pipe_add(&fx, PORT, ",unix.=/x", &err));
    g_clear_error(&err);
    pd = pipe_add(&fx, PORT, NULL, &err);
    g_assert_no_error(err);
    g_assert_null(pipe_add(&fx, PORT, NULL, &err)); /* the port is taken */
    g_assert_nonnull(strstr(err->message, "vsock port 5555 is already served"));
    g_clear_error(&err);
    /* No move. */
    g_assert_false(device_set_context(pd, vvs_context(), NULL, NULL, &err));
    g_assert_nonnull(strstr(err->message, "does not move"));
    g_clear_error(&err);
    pipe_del(pd);
    vvs_teardown(&fx);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;

    vvs_init(&argc, &argv);
    qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE,
                               "aio-qcontext,id=pipe-io,threaded=yes", &err);
    g_assert_no_error(err);
    g_test_add_func("/pipe-device/echo", test_echo);
    g_test_add_func("/pipe-device/64-channels", test_64_channels);
    g_test_add_func("/pipe-device/refused", test_refused);
    g_test_add_func("/pipe-device/open-reply-off", test_open_reply_off);
    g_test_add_func("/pipe-device/delete", test_delete);
    g_test_add_func("/pipe-device/options", test_options);
    return g_test_run();
}

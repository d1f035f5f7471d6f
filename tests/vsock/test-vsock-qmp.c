/*
 * tests/vsock/test-vsock-qmp.c - qcontextd's -device vhost-user-vsock and
 * -device pipe over QMP, a real daemon, the front-end's vsock driver as the
 * guest: device_add of both (the pipe's unix.NAME map key through QMP), a
 * pipe:unix:NAME channel to a host socket, device_del of each with the
 * front-end connected (DEVICE_DELETED, sockets removed, channels reset),
 * add again on the same paths, the moves refused, bad options.
 *
 * SPDX-License-Identifier: MIT
 */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "frontend/fe-vsock.h"
#include "../main-loop/test-monitor-util.h"

static char *dir;

static char *path_in(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static void assert_ok(JsonObject *reply)
{
    tq_return(reply);
    json_object_unref(reply);
}

static void wait_deleted(TestQmp *q, const char *id)
{
    for (;;) {
        JsonObject *ev = tq_wait_event(q, "DEVICE_DELETED");
        gboolean match =
            !g_strcmp0(json_object_get_string_member(
                           json_object_get_object_member(ev, "data"), "device"),
                       id);

        json_object_unref(ev);
        if (match) {
            return;
        }
    }
}

static void vsock_add(TestQmp *q)
{
    assert_ok(
        tq_cmd(q,
               "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
               "\"vhost-user-vsock\", \"id\": \"vs0\", \"socket\": \"%s/vs.sock\", "
               "\"guest-cid\": 7, \"uds-path\": \"%s/vm.vsock\", \"context\": "
               "\"io1\"}}",
               dir, dir));
}

static void pipe_add(TestQmp *q)
{
    assert_ok(tq_cmd(q,
                     "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
                     "\"pipe\", \"id\": \"p0\", \"vsock\": \"vs0\", \"port\": 5555, "
                     "\"context\": \"io2\", \"unix.db\": \"%s/db.sock\"}}",
                     dir));
}

static void device_del(TestQmp *q, const char *id)
{
    assert_ok(tq_cmd(
        q, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"%s\"}}", id));
    wait_deleted(q, id);
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 8), ==, 0);
    return fd;
}

static int accept_within(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};

    g_assert_cmpint(poll(&p, 1, TD_TIMEOUT_MS), ==, 1);
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static FeVsock *open_guest(void)
{
    g_autofree char *sock = path_in("vs.sock");
    g_autoptr(GError) err = NULL;
    FeVsock *v = fe_vsock_open(
        &(FeVsockOptions){.socket_path = sock, .timeout_ms = TD_TIMEOUT_MS}, &err);

    g_assert_no_error(err);
    g_assert_cmpuint(fe_vsock_guest_cid(v), ==, 7);
    return v;
}

/* pipe:unix:db through both devices, to the host's socket and back. */
static FeVsockConn *open_db(FeVsock *v, int lfd, int *h)
{
    g_autoptr(GError) err = NULL;
    FeVsockConn *c = fe_vsock_connect(v, 5555, VIRTIO_VSOCK_TYPE_STREAM, &err);
    char buf[8];
    uint8_t status;

    g_assert_no_error(err);
    g_assert_cmpint(fe_vsock_send(c, "pipe:unix:db", 13, TD_TIMEOUT_MS, &err), ==, 13);
    g_assert_true(fe_vsock_recv_all(c, &status, 1, TD_TIMEOUT_MS, &err));
    g_assert_cmpuint(status, ==, 0);
    *h = accept_within(lfd);
    g_assert_cmpint(*h, >=, 0);
    g_assert_cmpint(fe_vsock_send(c, "query", 5, TD_TIMEOUT_MS, &err), ==, 5);
    g_assert_cmpint(read(*h, buf, 5), ==, 5);
    g_assert_cmpmem(buf, 5, "query", 5);
    g_assert_cmpint(write(*h, "rows", 4), ==, 4);
    g_assert_true(fe_vsock_recv_all(c, buf, 4, TD_TIMEOUT_MS, &err));
    g_assert_cmpmem(buf, 4, "rows", 4);
    return c;
}

static void test_add_del(void)
{
    g_autofree char *db = path_in("db.sock"), *vs = path_in("vs.sock");
    g_autofree char *uds = path_in("vm.vsock");
    TestDaemon *d = td_start("-object", "aio-qcontext,id=io1,threaded=yes", "-object",
                             "aio-qcontext,id=io2,threaded=yes", NULL);
    TestQmp *q = tq_connect(d->sock);
    int lfd = listen_unix(db);

    for (int round = 0; round < 2; round++) {
        FeVsock *v;
        FeVsockConn *c;
        int h;
        char byte;

        vsock_add(q);
        pipe_add(q);
        v = open_guest();
        c = open_db(v, lfd, &h);
        /* The pipe goes: its channel is reset (the host socket closes). */
        device_del(q, "p0");
        g_assert_true(fe_vsock_wait_closed(c, TD_TIMEOUT_MS, NULL));
        g_assert_cmpint(read(h, &byte, 1), <=, 0);
        close(h);
        fe_vsock_conn_free(c);
        /* The vsock device goes with its front-end connected. */
        device_del(q, "vs0");
        g_assert_false(fe_vsock_poll(v, TD_TIMEOUT_MS, NULL));
        fe_vsock_close(v);
        g_assert_false(g_file_test(vs, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(uds, G_FILE_TEST_EXISTS));
    }
    close(lfd);
    unlink(db);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void add_fails(TestQmp *q, const char *driver, const char *props,
                      const char *needle)
{
    tq_assert_error(tq_cmd(q,
                           "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
                           "\"%s\", \"id\": \"bad\", %s}}",
                           driver, props),
                    "GenericError", needle);
}

static void test_errors(void)
{
    TestDaemon *d = td_start("-object", "aio-qcontext,id=io1,threaded=yes", "-object",
                             "aio-qcontext,id=io2,threaded=yes", NULL);
    TestQmp *q = tq_connect(d->sock);
    g_autofree char *s = g_strdup_printf("\"socket\": \"%s/bad.sock\"", dir);
    g_autofree char *split =
        g_strdup_printf("%s, \"guest-cid\": 3, \"context\": \"io1\", "
                        "\"queue-contexts\": \"io1:io2\"",
                        s);

    add_fails(q, "vhost-user-vsock", s, "guest-cid is required");
    add_fails(q, "vhost-user-vsock", split, "queue-contexts puts queue 1 on 'io2'");
    add_fails(q, "pipe", "\"port\": 1", "vsock= is required");
    add_fails(q, "pipe", "\"vsock\": \"nosuch\", \"port\": 1", "nosuch");
    vsock_add(q);
    pipe_add(q);
    add_fails(q, "pipe", "\"vsock\": \"vs0\", \"port\": 5555",
              "vsock port 5555 is already served");
    add_fails(q, "pipe", "\"vsock\": \"vs0\", \"port\": 6000, \"unix.\": \"/x\"",
              "is not unix.NAME=VALUE");
    /* Neither moves, with a clear reason. */
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device-set-context\", \"arguments\": "
                              "{\"id\": \"vs0\", \"context\": \"io2\"}}"),
                    "GenericError", "vhost-user-vsock does not move");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device-set-context\", \"arguments\": "
                              "{\"id\": \"vs0\", \"context\": \"io2\", \"queue\": 1}}"),
                    "GenericError", "vhost-user-vsock does not move");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device-set-context\", \"arguments\": "
                              "{\"id\": \"p0\", \"context\": \"io1\"}}"),
                    "GenericError", "a pipe device does not move");
    /* The vsock device first: the pipe device still deletes cleanly. */
    device_del(q, "vs0");
    device_del(q, "p0");
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

int main(int argc, char **argv)
{
    int r;

    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("vsock-qmp-XXXXXX", NULL);
    g_test_add_func("/vsock/qmp/add-del", test_add_del);
    g_test_add_func("/vsock/qmp/errors", test_errors);
    r = g_test_run();
    g_rmdir(dir);
    g_free(dir);
    return r;
}

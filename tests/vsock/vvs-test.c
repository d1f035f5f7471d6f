/*
 * tests/vsock/vvs-test.c - helpers of the vhost-user-vsock device tests
 * (see vvs-test.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qcontext/aio/atomic.h"
#include "vvs-test.h"

static QContext *vvs_io;
static int vvs_seq;

/* ---- expected warnings ------------------------------------------------------ */

static char *vvs_expect_pat; /* under vvs_log_lock */
static unsigned vvs_expect_seen;
static pthread_mutex_t vvs_log_lock = PTHREAD_MUTEX_INITIALIZER; /* TSan sees it */

static GLogWriterOutput vvs_log_writer(GLogLevelFlags level, const GLogField *fields,
                                       gsize n, gpointer user_data)
{
    const char *message = NULL;
    gboolean mine = FALSE;

    for (gsize i = 0; i < n; i++) {
        if (!strcmp(fields[i].key, "MESSAGE")) {
            message = fields[i].value;
        }
    }
    pthread_mutex_lock(&vvs_log_lock);
    if ((level & G_LOG_LEVEL_WARNING) && vvs_expect_pat && message &&
        g_pattern_match_simple(vvs_expect_pat, message)) {
        vvs_expect_seen++;
        mine = TRUE;
    }
    pthread_mutex_unlock(&vvs_log_lock);
    if (mine) {
        g_test_message("expected warning: %s", message);
        return G_LOG_WRITER_HANDLED;
    }
    return g_log_writer_default(level, fields, n, user_data);
}

void vvs_expect_warning(const char *pattern)
{
    pthread_mutex_lock(&vvs_log_lock);
    g_free(vvs_expect_pat);
    vvs_expect_pat = g_strdup(pattern);
    vvs_expect_seen = 0;
    pthread_mutex_unlock(&vvs_log_lock);
}

unsigned vvs_expected_warnings(unsigned want, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    unsigned n;

    for (;;) {
        pthread_mutex_lock(&vvs_log_lock);
        n = vvs_expect_seen;
        pthread_mutex_unlock(&vvs_log_lock);
        if (n >= want || g_get_monotonic_time() > deadline) {
            break;
        }
        g_usleep(1000);
    }
    pthread_mutex_lock(&vvs_log_lock);
    n = vvs_expect_seen;
    g_free(vvs_expect_pat);
    vvs_expect_pat = NULL;
    pthread_mutex_unlock(&vvs_log_lock);
    return n;
}

void vvs_init(int *argc, char ***argv)
{
    g_autoptr(GError) err = NULL;
    QomObject *obj;

    g_test_init(argc, argv, NULL);
    g_log_set_writer_func(vvs_log_writer, NULL, NULL);
    g_assert_true(qcontext_init_main(&err));
    devices_register_types();
    obj = qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE,
                                     "aio-qcontext,id=vvs-io,threaded=yes", &err);
    g_assert_no_error(err);
    vvs_io = QCONTEXT_CONTEXT(obj);
}

QContext *vvs_context(void)
{
    return vvs_io;
}

/* ---- main-loop waits ------------------------------------------------------- */

typedef struct {
    int done;
    GError *err;
} VvsWait;

static void vvs_done(Device *dev, const GError *err, gpointer opaque)
{
    VvsWait *w = opaque;

    w->err = err ? g_error_copy(err) : NULL;
    qatomic_store_release(&w->done, 1); /* pairs with the load in vvs_wait() */
}

static void vvs_wait(VvsWait *w)
{
    /* Pairs with the store-release in vvs_done() / vvs_run_bh(). */
    while (!qatomic_load_acquire(&w->done)) {
        qcontext_iterate(qcontext_get_main(), FALSE);
        g_usleep(200);
    }
}

Device *vvs_try_device(const char *spec, GError **errp)
{
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE, spec, errp);
    VvsWait w = {0};

    if (!obj) {
        return NULL;
    }
    g_assert_true(device_sync(DEVICE(obj), vvs_done, &w, NULL));
    vvs_wait(&w);
    g_assert_no_error(w.err);
    return DEVICE(obj);
}

typedef struct {
    void (*fn)(void *opaque);
    void *opaque;
    VvsWait w;
} VvsRun;

static void vvs_run_bh(void *opaque)
{
    VvsRun *r = opaque;

    r->fn(r->opaque);
    qatomic_store_release(&r->w.done, 1);
}

void vvs_run_on_device(void (*fn)(void *opaque), void *opaque)
{
    VvsRun r = {.fn = fn, .opaque = opaque};

    aio_bh_schedule_oneshot(qcontext_get_aio_context(vvs_io), vvs_run_bh, &r);
    vvs_wait(&r.w);
}

typedef struct {
    VhostUserVsock *vs;
    VsockMuxStats *stats;
} VvsStatsReq;

static void vvs_stats_fn(void *opaque)
{
    VvsStatsReq *r = opaque;

    vhost_user_vsock_get_stats(r->vs, r->stats);
}

void vvs_stats(VvsFixture *fx, VsockMuxStats *stats)
{
    VvsStatsReq r = {fx->vs, stats};

    vvs_run_on_device(vvs_stats_fn, &r);
}

/* ---- fixture --------------------------------------------------------------- */

void vvs_setup_device(VvsFixture *fx, const char *extra)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = NULL;

    memset(fx, 0, sizeof(*fx));
    fx->dir = g_dir_make_tmp("vvs-XXXXXX", &err);
    g_assert_no_error(err);
    fx->sock = g_build_filename(fx->dir, "vu.sock", NULL);
    fx->uds = g_build_filename(fx->dir, "vm.vsock", NULL);
    fx->id = g_strdup_printf("vsock%d", ++vvs_seq);
    spec = g_strdup_printf("vhost-user-vsock,id=%s,socket=%s,guest-cid=%d,uds-path=%s,"
                           "context=vvs-io%s",
                           fx->id, fx->sock, VVS_CID, fx->uds, extra ? extra : "");
    fx->dev = vvs_try_device(spec, &err);
    g_assert_no_error(err);
    fx->vs = VHOST_USER_VSOCK(fx->dev);
}

void vvs_open(VvsFixture *fx, const FeVsockOptions *opt)
{
    FeVsockOptions o = opt ? *opt : (FeVsockOptions){0};
    g_autoptr(GError) err = NULL;

    o.socket_path = fx->sock;
    if (!o.timeout_ms) {
        o.timeout_ms = VVS_TIMEOUT;
    }
    fx->v = fe_vsock_open(&o, &err);
    g_assert_no_error(err);
    g_assert_nonnull(fx->v);
}

void vvs_setup(VvsFixture *fx, const char *extra, const FeVsockOptions *opt)
{
    vvs_setup_device(fx, extra);
    vvs_open(fx, opt);
}

void vvs_delete_device(VvsFixture *fx)
{
    VvsWait w = {0};

    if (!fx->dev) {
        return;
    }
    g_object_ref(fx->dev);
    g_assert_true(device_del(fx->dev, 5000, vvs_done, &w, NULL));
    vvs_wait(&w);
    g_assert_no_error(w.err);
    g_assert_false(device_is_realized(fx->dev));
    g_object_unref(fx->dev);
    fx->dev = NULL;
    fx->vs = NULL;
    /* Every socket the device made is gone with it. */
    g_assert_false(g_file_test(fx->sock, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(fx->uds, G_FILE_TEST_EXISTS));
}

void vvs_teardown(VvsFixture *fx)
{
    if (fx->v) {
        const FeVsockStats *s = fe_vsock_stats(fx->v);

        g_assert_cmpuint(s->bad_packets, ==, 0);
        g_assert_cmpuint(s->credit_overruns, ==, 0);
        g_assert_cmpuint(s->unknown_ops, ==, 0);
        fe_vsock_close(fx->v);
        fx->v = NULL;
    }
    vvs_delete_device(fx);
    g_assert_cmpint(g_rmdir(fx->dir) == 0 || errno == ENOTEMPTY, ==, TRUE);
    if (g_file_test(fx->dir, G_FILE_TEST_IS_DIR)) {
        g_autoptr(GDir) d = g_dir_open(fx->dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(fx->dir, name, NULL);
            g_unlink(p);
        }
        g_rmdir(fx->dir);
    }
    g_free(fx->dir);
    g_free(fx->sock);
    g_free(fx->uds);
    g_free(fx->id);
}

/* ---- the host side --------------------------------------------------------- */

static int vvs_unix_socket_type(const char *path, bool listen_it, int type)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    if (listen_it) {
        g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
        g_assert_cmpint(listen(fd, 4096), ==, 0);
    } else {
        g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    }
    return fd;
}

static int vvs_unix_socket(const char *path, bool listen_it)
{
    return vvs_unix_socket_type(path, listen_it, SOCK_STREAM);
}

int vvs_host_listen_seqpacket(VvsFixture *fx, uint32_t port)
{
    g_autofree char *path = g_strdup_printf("%s_%u", fx->uds, port);

    return vvs_unix_socket_type(path, true, SOCK_SEQPACKET);
}

int vvs_unix_listen_path(const char *path)
{
    return vvs_unix_socket(path, true);
}

int vvs_host_listen(VvsFixture *fx, uint32_t port)
{
    g_autofree char *path = g_strdup_printf("%s_%u", fx->uds, port);

    return vvs_unix_socket(path, true);
}

static gboolean vvs_poll(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;

    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r > 0;
}

int vvs_host_accept(int lfd, int timeout_ms)
{
    if (!vvs_poll(lfd, POLLIN, timeout_ms)) {
        return -1;
    }
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

int vvs_host_connect_raw(VvsFixture *fx, const char *bytes)
{
    int fd = vvs_unix_socket(fx->uds, false);

    vvs_host_write_all(fd, bytes, strlen(bytes));
    return fd;
}

int vvs_host_connect(VvsFixture *fx, uint32_t port, const char *extra)
{
    g_autofree char *line = g_strdup_printf("CONNECT %u\n%s", port, extra ? extra : "");

    return vvs_host_connect_raw(fx, line);
}

char *vvs_host_read_line(int fd, int timeout_ms)
{
    GString *s = g_string_new(NULL);
    char ch;

    for (;;) {
        gssize n = vvs_host_read(fd, &ch, 1, timeout_ms);

        if (n <= 0) {
            g_string_free(s, TRUE);
            return NULL;
        }
        g_string_append_c(s, ch);
        if (ch == '\n') {
            return g_string_free(s, FALSE);
        }
    }
}

gssize vvs_host_read(int fd, void *buf, size_t len, int timeout_ms)
{
    gssize n;

    if (!vvs_poll(fd, POLLIN, timeout_ms)) {
        return -1;
    }
    n = recv(fd, buf, len, MSG_DONTWAIT);
    if (n < 0) {
        return errno == EAGAIN ? -1 : -errno;
    }
    return n;
}

void vvs_host_read_all(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        gssize n = vvs_host_read(fd, (uint8_t *)buf + got, len - got, VVS_TIMEOUT);

        g_assert_cmpint(n, >, 0);
        got += (size_t)n;
    }
}

void vvs_host_write_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        gssize n;

        g_assert_true(vvs_poll(fd, POLLOUT, VVS_TIMEOUT));
        n = send(fd, (const uint8_t *)buf + done, len - done,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            continue;
        }
        g_assert_cmpint(n, >, 0);
        done += (size_t)n;
    }
}

gboolean vvs_host_wait_closed(int fd, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    char buf[4096];

    for (;;) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        gssize n;

        if (left <= 0) {
            return FALSE;
        }
        n = vvs_host_read(fd, buf, sizeof(buf), (int)left);
        if (n == 0 || n < -1) {
            return TRUE; /* EOF or reset */
        }
    }
}

/* ---- the guest side -------------------------------------------------------- */

FeVsockConn *vvs_connect(VvsFixture *fx, uint32_t port)
{
    g_autoptr(GError) err = NULL;
    FeVsockConn *c = fe_vsock_connect(fx->v, port, VIRTIO_VSOCK_TYPE_STREAM, &err);

    g_assert_no_error(err);
    g_assert_nonnull(c);
    g_assert_cmpint(fe_vsock_conn_state(c), ==, FE_VSOCK_ESTABLISHED);
    return c;
}

FeVsockConn *vvs_accept(VvsFixture *fx, uint32_t port)
{
    g_autoptr(GError) err = NULL;
    FeVsockConn *c = fe_vsock_accept(fx->v, port, VVS_TIMEOUT, &err);

    g_assert_no_error(err);
    g_assert_nonnull(c);
    return c;
}

void vvs_recv_all(FeVsockConn *c, void *buf, size_t len)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(fe_vsock_recv_all(c, buf, len, VVS_TIMEOUT, &err));
    g_assert_no_error(err);
}

void vvs_send_all(FeVsockConn *c, const void *buf, size_t len)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(fe_vsock_send(c, buf, len, VVS_TIMEOUT, &err), ==, (gssize)len);
    g_assert_no_error(err);
}

void vvs_fill(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 11));
    }
}

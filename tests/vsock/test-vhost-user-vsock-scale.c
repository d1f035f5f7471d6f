/*
 * tests/vsock/test-vhost-user-vsock-scale.c - the vhost-user-vsock device
 * under load, through a real vhost-user socket: 1024 connections at once
 * (each with its own data both ways), the connection cap, and a bulk
 * transfer each way whose every byte is checked (1 GiB guest -> host; the
 * size can be lowered with VVS_BULK_MIB for slow builds).  The host side of
 * the bulk transfers runs in a thread of its own.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "vvs-test.h"

#define PORT 2000
#define NCONN 1024

/* A position-dependent pattern: any lost, doubled or moved byte shows. */
static void pattern(uint8_t *buf, size_t len, uint64_t off)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = (off + i) * 0x9E3779B97F4A7C15ull;
        size_t n = MIN(8, len - i);

        x ^= x >> 29;
        memcpy(buf + i, &x, n);
    }
}

/* A checksum of the stream, 8 bytes at a time (chunks are multiples of 8). */
static uint64_t checksum(uint64_t h, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (size_t i = len & ~(size_t)7; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

/* ---- 1024 connections ------------------------------------------------------ */

static void test_many(void)
{
    VvsFixture fx;
    FeVsockConn **c = g_new0(FeVsockConn *, NCONN);
    int *h = g_new(int, NCONN);
    int lfd, accepted = 0, established = 0;
    VsockMuxStats st;
    g_autoptr(GError) err = NULL;
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    vvs_setup(&fx, NULL, &(FeVsockOptions){.buf_alloc = 16 * 1024});
    lfd = vvs_host_listen(&fx, PORT);
    for (int i = 0; i < NCONN; i++) {
        c[i] = fe_vsock_connect_start(fx.v, PORT, VIRTIO_VSOCK_TYPE_STREAM, &err);
        g_assert_no_error(err);
    }
    /* The device connects each to the host listener; accept as they come. */
    while (established < NCONN || accepted < NCONN) {
        int fd;

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_assert_true(fe_vsock_poll(fx.v, 1, &err));
        while (accepted < NCONN && (fd = vvs_host_accept(lfd, 0)) >= 0) {
            h[accepted++] = fd;
        }
        established = 0;
        for (int i = 0; i < NCONN; i++) {
            FeVsockState s = fe_vsock_conn_state(c[i]);

            g_assert_cmpint(s, !=, FE_VSOCK_CLOSED);
            established += s == FE_VSOCK_ESTABLISHED;
        }
    }
    vvs_stats(&fx, &st);
    g_assert_cmpuint(st.conns, ==, NCONN);

    /* Each guest connection sends its own index; host sockets are in accept
     * order, so each reads whose it is and answers with that index + 1M. */
    for (int i = 0; i < NCONN; i++) {
        uint32_t v = (uint32_t)i;

        vvs_send_all(c[i], &v, sizeof(v));
    }
    for (int k = 0; k < NCONN; k++) {
        uint32_t v, r;

        vvs_host_read_all(h[k], &v, sizeof(v));
        g_assert_cmpuint(v, <, NCONN);
        r = v + 1000000;
        vvs_host_write_all(h[k], &r, sizeof(r));
    }
    for (int i = 0; i < NCONN; i++) {
        uint32_t r;

        vvs_recv_all(c[i], &r, sizeof(r));
        g_assert_cmpuint(r, ==, (uint32_t)i + 1000000);
    }

    /* All closed by the guest: every host socket sees it, nothing is left. */
    for (int i = 0; i < NCONN; i++) {
        g_assert_true(fe_vsock_rst(c[i], &err));
        fe_vsock_conn_free(c[i]);
    }
    for (int k = 0; k < NCONN; k++) {
        g_assert_true(vvs_host_wait_closed(h[k], VVS_TIMEOUT));
        close(h[k]);
    }
    vvs_stats(&fx, &st);
    g_assert_cmpuint(st.conns, ==, 0);
    g_assert_cmpuint(st.buffered, ==, 0);
    close(lfd);
    g_free(c);
    g_free(h);
    vvs_teardown(&fx);
}

/* max-connections: one more is refused (guest RST, host socket closed). */
static void test_cap(void)
{
    VvsFixture fx;
    FeVsockConn *c[8];
    int lfd, h[8], extra;
    g_autoptr(GError) err = NULL;

    vvs_setup(&fx, ",max-connections=8", NULL);
    lfd = vvs_host_listen(&fx, PORT);
    for (int i = 0; i < 8; i++) {
        c[i] = vvs_connect(&fx, PORT);
        h[i] = vvs_host_accept(lfd, VVS_TIMEOUT);
    }
    g_assert_null(fe_vsock_connect(fx.v, PORT, VIRTIO_VSOCK_TYPE_STREAM, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_REFUSED);
    g_clear_error(&err);
    /* Host-initiated: closed at once (maybe before it could send its line). */
    extra = vvs_host_connect_raw(&fx, "");
    (void)!send(extra, "CONNECT 9000\n", 13, MSG_NOSIGNAL);
    g_assert_true(vvs_host_wait_closed(extra, VVS_TIMEOUT));
    close(extra);
    /* One goes, one more fits. */
    g_assert_true(fe_vsock_rst(c[0], &err));
    fe_vsock_conn_free(c[0]);
    g_assert_true(vvs_host_wait_closed(h[0], VVS_TIMEOUT));
    close(h[0]);
    c[0] = vvs_connect(&fx, PORT);
    h[0] = vvs_host_accept(lfd, VVS_TIMEOUT);
    g_assert_cmpint(h[0], >=, 0);
    for (int i = 0; i < 8; i++) {
        fe_vsock_conn_free(c[i]);
        close(h[i]);
    }
    close(lfd);
    vvs_teardown(&fx);
}

/* ---- bulk ------------------------------------------------------------------ */

typedef struct {
    int fd;
    uint64_t total;
    uint64_t done;
    uint64_t sum;
    gboolean ok;
} Bulk;

/* Host thread: read @total bytes, check every one against the pattern. */
static void *bulk_reader(void *opaque)
{
    Bulk *b = opaque;
    uint8_t *buf = g_malloc(1 << 20), *want = g_malloc(1 << 20);

    b->ok = TRUE;
    b->sum = 0xcbf29ce484222325ull;
    while (b->done < b->total) {
        gssize n = vvs_host_read(b->fd, buf, MIN(1 << 20, b->total - b->done), 30000);

        if (n <= 0) {
            b->ok = FALSE;
            break;
        }
        pattern(want, (size_t)n, b->done);
        if (memcmp(buf, want, (size_t)n) != 0) {
            b->ok = FALSE;
            break;
        }
        b->sum = checksum(b->sum, buf, (size_t)n);
        b->done += (uint64_t)n;
    }
    g_free(buf);
    g_free(want);
    return NULL;
}

/* Host thread: write @total bytes of the pattern. */
static void *bulk_writer(void *opaque)
{
    Bulk *b = opaque;
    uint8_t *buf = g_malloc(1 << 20);

    while (b->done < b->total) {
        size_t n = MIN(1 << 20, b->total - b->done);

        pattern(buf, n, b->done);
        vvs_host_write_all(b->fd, buf, n);
        b->done += n;
    }
    g_free(buf);
    return NULL;
}

static uint64_t bulk_bytes(uint64_t def_mib)
{
    const char *env = g_getenv("VVS_BULK_MIB");

    return (env ? g_ascii_strtoull(env, NULL, 10) : def_mib) << 20;
}

static void test_bulk_to_host(void)
{
    VvsFixture fx;
    Bulk b = {0};
    pthread_t th;
    FeVsockConn *c;
    uint8_t *buf = g_malloc(64 * 1024);
    uint64_t sent = 0, sum = 0xcbf29ce484222325ull;
    int lfd;

    vvs_setup(&fx, NULL, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    b.fd = vvs_host_accept(lfd, VVS_TIMEOUT);
    b.total = bulk_bytes(1024);
    g_assert_cmpint(pthread_create(&th, NULL, bulk_reader, &b), ==, 0);
    while (sent < b.total) {
        size_t n = (size_t)MIN(64 * 1024, b.total - sent);
        g_autoptr(GError) err = NULL;

        pattern(buf, n, sent);
        sum = checksum(sum, buf, n);
        if (fe_vsock_send(c, buf, n, 30000, &err) != (gssize)n) {
            break; /* the reader's verdict says why */
        }
        sent += n;
    }
    pthread_join(th, NULL);
    g_assert_true(b.ok);
    g_assert_cmpuint(b.done, ==, b.total);
    g_assert_cmpuint(b.sum, ==, sum);
    g_test_message("%" G_GUINT64_FORMAT
                   " MiB guest -> host, checksum %016" G_GINT64_MODIFIER "x",
                   b.total >> 20, sum);
    fe_vsock_conn_free(c);
    close(b.fd);
    close(lfd);
    g_free(buf);
    vvs_teardown(&fx);
}

static void test_bulk_to_guest(void)
{
    VvsFixture fx;
    Bulk b = {0};
    pthread_t th;
    FeVsockConn *c;
    uint8_t *buf = g_malloc(1 << 20), *want = g_malloc(1 << 20);
    uint64_t got = 0;
    int lfd;

    vvs_setup(&fx, NULL, NULL);
    lfd = vvs_host_listen(&fx, PORT);
    c = vvs_connect(&fx, PORT);
    b.fd = vvs_host_accept(lfd, VVS_TIMEOUT);
    b.total = bulk_bytes(1024) / 4;
    g_assert_cmpint(pthread_create(&th, NULL, bulk_writer, &b), ==, 0);
    while (got < b.total) {
        g_autoptr(GError) err = NULL;
        gssize n = fe_vsock_recv(c, buf, MIN(1 << 20, b.total - got), 30000, &err);

        g_assert_no_error(err);
        g_assert_cmpint(n, >, 0);
        pattern(want, (size_t)n, got);
        g_assert_true(memcmp(buf, want, (size_t)n) == 0);
        got += (uint64_t)n;
    }
    pthread_join(th, NULL);
    fe_vsock_conn_free(c);
    close(b.fd);
    close(lfd);
    g_free(buf);
    g_free(want);
    vvs_teardown(&fx);
}

int main(int argc, char **argv)
{
    vvs_init(&argc, &argv);
    g_test_add_func("/vhost-user-vsock/1024-connections", test_many);
    g_test_add_func("/vhost-user-vsock/max-connections", test_cap);
    g_test_add_func("/vhost-user-vsock/bulk-to-host", test_bulk_to_host);
    g_test_add_func("/vhost-user-vsock/bulk-to-guest", test_bulk_to_guest);
    return g_test_run();
}

/*
 * tests/vsock/test-vsock-seqpacket.c - SOCK_SEQPACKET connections
 * (VIRTIO_VSOCK_F_SEQPACKET) to SOCK_SEQPACKET unix sockets: message
 * boundaries kept both ways (EOM), EOR passed on, messages queued while the
 * host does not read, limits.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <sys/socket.h>

#include "vsock-test-fix.h"

#define WAIT_MS 5000

static bool cond_open(TestGuest *g, void *c)
{
    return ((TgConn *)c)->state != TG_CONNECTING;
}

static int connect_seq(Fix *f, uint32_t port, int *lfd, TgConn **c)
{
    g_autofree char *path = fix_port_path(f, port);
    int hfd;

    vsock_mux_set_features(f->mux, 1ull << VIRTIO_VSOCK_F_SEQPACKET);
    *lfd = th_listen(path, SOCK_SEQPACKET);
    *c = tg_connect(f->g, port, VIRTIO_VSOCK_TYPE_SEQPACKET);
    g_assert_true(tg_wait(f->g, cond_open, *c, WAIT_MS));
    g_assert_cmpint((*c)->state, ==, TG_OPEN);
    hfd = th_accept(*lfd, WAIT_MS);
    g_assert_cmpint(hfd, >=, 0);
    return hfd;
}

typedef struct HostMsgs {
    int fd;
    GPtrArray *msgs; /* GBytes */
    guint want;
} HostMsgs;

static bool cond_host_msgs(TestGuest *g, void *data)
{
    HostMsgs *h = data;
    static uint8_t buf[128 * 1024];

    while (h->msgs->len < h->want) {
        ssize_t n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n < 0) {
            break;
        }
        g_ptr_array_add(h->msgs, g_bytes_new(buf, n));
    }
    return h->msgs->len >= h->want;
}

static const size_t sizes[] = {1, 100, 4096, 5000, 0, 60000, 7};

static void test_guest_to_host(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc(65536);
    HostMsgs h;

    fix_init(&f);
    hfd = connect_seq(&f, 5000, &lfd, &c);
    g_assert_cmpuint(c->peer_buf_alloc, <=, 64 * 1024);
    h = (HostMsgs){hfd, g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
                   G_N_ELEMENTS(sizes)};
    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        size_t done = 0;

        tg_fill_pattern(data, sizes[i], i, 0);
        /* Out of credit mid-message: the muxer's CREDIT_UPDATE must come. */
        while (!tg_send_msg(f.g, c, data, sizes[i], i % 2, &done)) {
            tg_poll(f.g);
            cond_host_msgs(f.g, &h);
        }
    }
    g_assert_true(tg_wait(f.g, cond_host_msgs, &h, WAIT_MS));
    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        gsize len;
        const uint8_t *m = g_bytes_get_data(h.msgs->pdata[i], &len);

        tg_fill_pattern(data, sizes[i], i, 0);
        g_assert_cmpmem(m, len, data, sizes[i]);
    }
    g_ptr_array_unref(h.msgs);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

typedef struct GuestMsgs {
    TgConn *c;
    guint want;
} GuestMsgs;

static bool cond_guest_msgs(TestGuest *g, void *data)
{
    GuestMsgs *m = data;

    return m->c->msg_ends->len >= m->want || m->c->state != TG_OPEN;
}

static void test_host_to_guest(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc(65536);
    GuestMsgs gm;
    uint32_t off = 0;

    fix_init(&f);
    hfd = connect_seq(&f, 5001, &lfd, &c);
    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        tg_fill_pattern(data, sizes[i], 100 + i, 0);
        g_assert_cmpint(send(hfd, data, sizes[i], MSG_EOR), ==, sizes[i]);
    }
    gm = (GuestMsgs){c, G_N_ELEMENTS(sizes)};
    g_assert_true(tg_wait(f.g, cond_guest_msgs, &gm, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_OPEN);
    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        uint32_t end = g_array_index(c->msg_ends, uint32_t, i);

        g_assert_cmpuint(end - off, ==, sizes[i]);
        tg_fill_pattern(data, sizes[i], 100 + i, 0);
        g_assert_cmpmem(c->rx->data + off, end - off, data, sizes[i]);
        off = end;
    }
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* Messages queue while the host does not read, and arrive whole, in order. */
static void test_queued_messages(void)
{
    enum { N = 400, LEN = 1000 };
    Fix f;
    int lfd, hfd;
    TgConn *c;
    uint8_t data[LEN];
    HostMsgs h;
    bool stalled = false;

    fix_init(&f);
    hfd = connect_seq(&f, 5002, &lfd, &c);
    h = (HostMsgs){hfd, g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
                   N};
    for (unsigned i = 0; i < N; i++) {
        size_t done = 0;

        tg_fill_pattern(data, LEN, 200 + i, 0);
        if (!tg_send_msg(f.g, c, data, LEN, false, &done)) {
            /* Out of credit: now the host must read. */
            stalled = true;
            g_assert_cmpuint(fix_stats(&f).buffered, >, 0);
            g_assert_cmpuint(fix_stats(&f).buffered, <=, 64 * 1024);
            while (!tg_send_msg(f.g, c, data, LEN, false, &done)) {
                tg_poll(f.g);
                cond_host_msgs(f.g, &h);
            }
        }
    }
    g_assert_true(stalled);
    g_assert_true(tg_wait(f.g, cond_host_msgs, &h, WAIT_MS));
    for (unsigned i = 0; i < N; i++) {
        gsize len;
        const uint8_t *m = g_bytes_get_data(h.msgs->pdata[i], &len);

        tg_fill_pattern(data, LEN, 200 + i, 0);
        g_assert_cmpmem(m, len, data, LEN);
    }
    g_ptr_array_unref(h.msgs);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* A host message larger than the guest can take resets the connection. */
static void test_message_too_big(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc0(70000);

    fix_init(&f);
    hfd = connect_seq(&f, 5003, &lfd, &c);
    g_assert_cmpint(send(hfd, data, 70000, 0), ==, 70000);
    g_assert_true(tg_wait(f.g, cond_guest_msgs, &(GuestMsgs){c, 1}, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    g_assert_cmpuint(c->rx->len, ==, 0);
    g_assert_cmpuint(fix_stats(&f).buffered, ==, 0);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* A seqpacket connection to a stream socket (and the reverse) is refused. */
static void test_type_mismatch(void)
{
    Fix f;
    g_autofree char *path = NULL;
    int lfd;
    TgConn *c;

    fix_init(&f);
    vsock_mux_set_features(f.mux, 1ull << VIRTIO_VSOCK_F_SEQPACKET);
    path = fix_port_path(&f, 5004);
    lfd = th_listen(path, SOCK_STREAM);
    c = tg_connect(f.g, 5004, VIRTIO_VSOCK_TYPE_SEQPACKET);
    g_assert_true(tg_wait(f.g, cond_open, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    close(lfd);
    unlink(path);
    lfd = th_listen(path, SOCK_SEQPACKET);
    c = tg_connect(f.g, 5004, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(f.g, cond_open, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    close(lfd);
    fix_cleanup(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vsock/seqpacket/guest-to-host", test_guest_to_host);
    g_test_add_func("/vsock/seqpacket/host-to-guest", test_host_to_guest);
    g_test_add_func("/vsock/seqpacket/queued", test_queued_messages);
    g_test_add_func("/vsock/seqpacket/too-big", test_message_too_big);
    g_test_add_func("/vsock/seqpacket/type-mismatch", test_type_mismatch);
    return g_test_run();
}

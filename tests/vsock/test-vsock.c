/*
 * tests/vsock/test-vsock.c - the vsock muxer's stream protocol, fed packet by
 * packet by a fake guest: connections both ways (Firecracker's CONNECT
 * protocol), data, half-closes each way, clean close, dead host peers, and
 * a front-end reset.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "vsock-test-fix.h"

#define WAIT_MS 5000

typedef struct HostRead {
    int fd;
    GByteArray *buf;
    size_t want;
    bool eof;
} HostRead;

static bool cond_host_read(TestGuest *g, void *data)
{
    HostRead *h = data;

    h->eof |= th_drain(h->fd, h->buf);
    return h->buf->len >= h->want || h->eof;
}

/* Poll until the host side has @want bytes (or EOF); returns them. */
static GByteArray *host_read(TestGuest *g, int fd, size_t want, bool *eof)
{
    HostRead h = {fd, g_byte_array_new(), want, false};

    g_assert_true(tg_wait(g, cond_host_read, &h, WAIT_MS));
    if (eof) {
        *eof = h.eof;
    }
    return h.buf;
}

static bool cond_host_eof(TestGuest *g, void *data)
{
    return th_drain(*(int *)data, NULL);
}

typedef struct GuestRead {
    TgConn *c;
    size_t want;
} GuestRead;

static bool cond_guest_read(TestGuest *g, void *data)
{
    GuestRead *r = data;

    return r->c->rx->len >= r->want || r->c->state != TG_OPEN;
}

static bool cond_closed(TestGuest *g, void *c)
{
    TgState s = ((TgConn *)c)->state;

    return s == TG_RESET || s == TG_CLOSED;
}

static bool cond_peer_shut(TestGuest *g, void *c)
{
    return ((TgConn *)c)->peer_shut != 0 || ((TgConn *)c)->state != TG_OPEN;
}

static bool cond_no_conns(TestGuest *g, void *data)
{
    VsockMuxStats s;

    vsock_mux_get_stats(g->mux, &s);
    return s.conns == 0;
}

/* A guest connection to a host listener: returns the accepted host fd. */
static int connect_guest(Fix *f, uint32_t port, int *lfd, TgConn **c)
{
    g_autofree char *path = fix_port_path(f, port);
    int hfd;

    *lfd = th_listen(path, SOCK_STREAM);
    *c = tg_connect(f->g, port, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(f->g, cond_state, *c, WAIT_MS));
    g_assert_cmpint((*c)->state, ==, TG_OPEN);
    hfd = th_accept(*lfd, WAIT_MS);
    g_assert_cmpint(hfd, >=, 0);
    return hfd;
}

static void test_guest_connect(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autoptr(GByteArray) got = NULL;
    GuestRead gr;

    fix_init(&f);
    hfd = connect_guest(&f, 1234, &lfd, &c);
    g_assert_cmpuint(c->host_port, ==, 1234);
    g_assert_cmpuint(tg_send(f.g, c, "hello", 5), ==, 5);
    got = host_read(f.g, hfd, 5, NULL);
    g_assert_cmpmem(got->data, got->len, "hello", 5);

    g_assert_cmpint(th_write(hfd, "world!", 6), ==, 6);
    gr = (GuestRead){c, 6};
    g_assert_true(tg_wait(f.g, cond_guest_read, &gr, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "world!", 6);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 1);

    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

static void test_guest_connect_refused(void)
{
    Fix f;
    TgConn *c;
    const struct virtio_vsock_hdr *h;

    fix_init(&f);
    c = tg_connect(f.g, 4321, VIRTIO_VSOCK_TYPE_STREAM);
    /* Answered at once: the first pump has the RST. */
    g_assert_cmpuint(tg_pump(f.g), ==, 1);
    g_assert_cmpint(c->state, ==, TG_RESET);
    h = tg_last(f.g);
    g_assert_cmpuint(le16toh(h->op), ==, VIRTIO_VSOCK_OP_RST);
    g_assert_cmpuint(le32toh(h->src_port), ==, 4321);
    g_assert_cmpuint(le32toh(h->dst_port), ==, c->port);
    g_assert_cmpuint(le16toh(h->type), ==, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    fix_cleanup(&f);
}

typedef struct HostConnect {
    int fd;
    GByteArray *buf;
} HostConnect;

static bool cond_ok_line(TestGuest *g, void *data)
{
    HostConnect *h = data;

    th_drain(h->fd, h->buf);
    return h->buf->len > 0 && memchr(h->buf->data, '\n', h->buf->len) != NULL;
}

/* A host connection with @line; returns the guest's side once accepted. */
static TgConn *connect_host(Fix *f, const char *line, int *hfd, uint32_t *host_port)
{
    HostConnect h = {th_connect(f->uds), g_byte_array_new()};
    g_auto(GStrv) words = NULL;
    TgConn *c;

    g_assert_cmpint(th_write(h.fd, line, strlen(line)), ==, strlen(line));
    g_assert_true(tg_wait(f->g, cond_ok_line, &h, WAIT_MS));
    g_byte_array_append(h.buf, (const uint8_t *)"", 1);
    words = g_strsplit((const char *)h.buf->data, " ", 2);
    g_assert_cmpstr(words[0], ==, "OK");
    *host_port = (uint32_t)g_ascii_strtoull(words[1], NULL, 10);
    g_assert_cmpuint(*host_port, >=, 1u << 30);
    g_assert_cmpuint(*host_port, <, 1u << 31);
    g_assert_cmpstr(strchr(words[1], '\n'), ==, "\n");
    g_byte_array_unref(h.buf);
    c = f->g->accepted;
    g_assert_nonnull(c);
    g_assert_cmpuint(c->host_port, ==, *host_port);
    *hfd = h.fd;
    return c;
}

static void test_host_connect(void)
{
    Fix f;
    int hfd;
    uint32_t hport;
    TgConn *c;
    GuestRead gr;
    g_autoptr(GByteArray) got = NULL;

    fix_init(&f);
    tg_listen(f.g, 5000);
    /* The payload after the newline is not lost. */
    c = connect_host(&f, "CONNECT 5000\nfirst bytes", &hfd, &hport);
    g_assert_cmpuint(c->port, ==, 5000);
    gr = (GuestRead){c, 11};
    g_assert_true(tg_wait(f.g, cond_guest_read, &gr, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "first bytes", 11);

    g_assert_cmpint(th_write(hfd, " and more", 9), ==, 9);
    gr.want = 20;
    g_assert_true(tg_wait(f.g, cond_guest_read, &gr, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "first bytes and more", 20);

    g_assert_cmpuint(tg_send(f.g, c, "reply", 5), ==, 5);
    got = host_read(f.g, hfd, 5, NULL);
    g_assert_cmpmem(got->data, got->len, "reply", 5);
    close(hfd);
    fix_cleanup(&f);
}

static void test_host_connect_forms(void)
{
    static const char *good[] = {"connect 7\n", "CoNnEcT   7 \r\n", "\tCONNECT 7\t\n"};
    static const char *bad[] = {
        "CONNECT\n",    "CONNECT abc\n",
        "BIND 7\n",     "CONNECT 7 8\n",
        "CONNECT -1\n", "CONNECT 4294967296\n",
        "connect7\n",   "CONNECT 7 with a line that is too long for it\n",
    };
    Fix f;

    fix_init(&f);
    tg_listen(f.g, 7);
    for (unsigned i = 0; i < G_N_ELEMENTS(good); i++) {
        int hfd;
        uint32_t hport;
        TgConn *c = connect_host(&f, good[i], &hfd, &hport);

        g_assert_cmpuint(c->port, ==, 7);
        close(hfd);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        int fd = th_connect(f.uds);
        g_autoptr(GByteArray) got = NULL;
        bool eof;

        g_assert_cmpint(th_write(fd, bad[i], strlen(bad[i])), ==, strlen(bad[i]));
        got = host_read(f.g, fd, 1, &eof);
        g_assert_true(eof);
        g_assert_cmpuint(got->len, ==, 0); /* closed without "OK" */
        close(fd);
    }
    g_assert_true(tg_wait(f.g, cond_no_conns, NULL, WAIT_MS) ||
                  fix_stats(&f).conns == G_N_ELEMENTS(good));
    fix_cleanup(&f);
}

static void test_host_connect_refused(void)
{
    Fix f;
    int fd;
    bool eof;
    g_autoptr(GByteArray) got = NULL;

    fix_init(&f);
    /* The guest listens on nothing: it answers our REQUEST with RST. */
    fd = th_connect(f.uds);
    g_assert_cmpint(th_write(fd, "CONNECT 99\n", 11), ==, 11);
    got = host_read(f.g, fd, 1, &eof);
    g_assert_true(eof);
    g_assert_cmpuint(got->len, ==, 0);
    g_assert_cmpuint(tg_count(f.g, VIRTIO_VSOCK_OP_REQUEST), ==, 1);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    close(fd);
    fix_cleanup(&f);
}

static void test_host_connect_timeout(void)
{
    Fix f;
    int fd;
    bool eof;
    g_autoptr(GByteArray) got = NULL;

    fix_init(&f);
    f.g->ignore_requests = true; /* the guest takes the REQUEST, never answers */
    fd = th_connect(f.uds);
    g_assert_cmpint(th_write(fd, "CONNECT 99\n", 11), ==, 11);
    got = host_read(f.g, fd, 1, &eof); /* after the 300 ms timeout */
    g_assert_true(eof);
    g_assert_cmpuint(got->len, ==, 0);
    tg_pump(f.g);
    g_assert_cmpuint(tg_count(f.g, VIRTIO_VSOCK_OP_REQUEST), ==, 1);
    g_assert_cmpuint(tg_count(f.g, VIRTIO_VSOCK_OP_RST), ==, 1);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    close(fd);
    fix_cleanup(&f);
}

/* Guest SHUTDOWN SEND: the host reads EOF after the data, and can still send. */
static void test_half_close_guest(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    bool eof;
    GuestRead gr;
    g_autoptr(GByteArray) got = NULL;
    char buf[8];

    fix_init(&f);
    hfd = connect_guest(&f, 1000, &lfd, &c);
    tg_send(f.g, c, "last", 4);
    tg_shutdown(f.g, c, VIRTIO_VSOCK_SHUTDOWN_SEND);
    got = host_read(f.g, hfd, 100, &eof);
    g_assert_true(eof);
    g_assert_cmpmem(got->data, got->len, "last", 4);

    g_assert_cmpint(th_write(hfd, "still", 5), ==, 5);
    gr = (GuestRead){c, 5};
    g_assert_true(tg_wait(f.g, cond_guest_read, &gr, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "still", 5);

    /* Then RCV: the host's writes fail, and the connection is still there. */
    tg_shutdown(f.g, c, VIRTIO_VSOCK_SHUTDOWN_RCV);
    tg_idle(f.g, 20);
    g_assert_cmpint(c->state, ==, TG_RESET); /* both shut: the host side answers RST */
    g_assert_cmpuint(tg_count(f.g, VIRTIO_VSOCK_OP_RST), ==, 1);
    g_assert_cmpint(send(hfd, buf, 1, MSG_NOSIGNAL | MSG_DONTWAIT), ==, -1);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* Guest SHUTDOWN RCV alone: the host cannot write, the guest still sends. */
static void test_half_close_guest_rcv(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autoptr(GByteArray) got = NULL;

    fix_init(&f);
    hfd = connect_guest(&f, 1001, &lfd, &c);
    tg_shutdown(f.g, c, VIRTIO_VSOCK_SHUTDOWN_RCV);
    tg_idle(f.g, 10);
    g_assert_cmpint(send(hfd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT), ==, -1);
    g_assert_cmpint(errno, ==, EPIPE);
    tg_send(f.g, c, "going on", 8);
    got = host_read(f.g, hfd, 8, NULL);
    g_assert_cmpmem(got->data, got->len, "going on", 8);
    g_assert_cmpint(c->state, ==, TG_OPEN);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* Host SHUT_WR: SHUTDOWN SEND after the data; the guest can still send. */
static void test_half_close_host(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    GuestRead gr;
    g_autoptr(GByteArray) got = NULL;
    const struct virtio_vsock_hdr *h;

    fix_init(&f);
    hfd = connect_guest(&f, 1002, &lfd, &c);
    th_write(hfd, "bye", 3);
    shutdown(hfd, SHUT_WR);
    g_assert_true(tg_wait(f.g, cond_peer_shut, c, WAIT_MS));
    g_assert_cmpuint(c->peer_shut, ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
    gr = (GuestRead){c, 3};
    g_assert_true(cond_guest_read(f.g, &gr)); /* the data came first */
    g_assert_cmpmem(c->rx->data, c->rx->len, "bye", 3);
    h = tg_last(f.g);
    g_assert_cmpuint(le16toh(h->op), ==, VIRTIO_VSOCK_OP_SHUTDOWN);

    tg_send(f.g, c, "answer", 6);
    got = host_read(f.g, hfd, 6, NULL);
    g_assert_cmpmem(got->data, got->len, "answer", 6);

    /* Now the host closes: the guest learns it receives no more. */
    close(hfd);
    tg_send(f.g, c, "lost", 4);
    g_assert_true(tg_wait(f.g, cond_closed, c, WAIT_MS));
    g_assert_true(tg_wait(f.g, cond_no_conns, NULL, WAIT_MS));
    close(lfd);
    fix_cleanup(&f);
}

/* Guest SHUTDOWN both with data the host has not read: flush, then RST. */
static void test_close_clean(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autoptr(GByteArray) got = NULL;
    bool eof;

    fix_init(&f);
    hfd = connect_guest(&f, 1003, &lfd, &c);
    tg_send(f.g, c, "tail", 4);
    tg_shutdown(f.g, c, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
    got = host_read(f.g, hfd, 100, &eof);
    g_assert_true(eof);
    g_assert_cmpmem(got->data, got->len, "tail", 4);
    g_assert_true(tg_wait(f.g, cond_closed, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* The host closes: SHUTDOWN both after the data, the guest answers RST. */
static void test_close_by_host(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;

    fix_init(&f);
    hfd = connect_guest(&f, 1004, &lfd, &c);
    th_write(hfd, "end", 3);
    close(hfd);
    g_assert_true(tg_wait(f.g, cond_closed, c, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "end", 3);
    g_assert_cmpuint(c->peer_shut, ==, 3);
    g_assert_cmpint(c->state, ==, TG_CLOSED); /* we (the guest) sent the RST */
    g_assert_true(tg_wait(f.g, cond_no_conns, NULL, WAIT_MS));
    close(lfd);
    fix_cleanup(&f);
}

/* A guest that never answers our SHUTDOWN gets an RST at the timeout. */
static void test_close_timeout(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;

    fix_init(&f);
    hfd = connect_guest(&f, 1005, &lfd, &c);
    c->rst_on_shut = false;
    close(hfd);
    g_assert_true(tg_wait(f.g, cond_closed, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    close(lfd);
    fix_cleanup(&f);
}

/* A host peer that dies with guest data unread: RST to the guest. */
static void test_dead_peer(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;

    fix_init(&f);
    hfd = connect_guest(&f, 1006, &lfd, &c);
    tg_send(f.g, c, "unread", 6);
    tg_idle(f.g, 10);
    close(hfd); /* the kernel resets the peer: data was unread */
    g_assert_true(tg_wait(f.g, cond_closed, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    g_assert_cmpuint(c->peer_shut, ==, 0);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    close(lfd);
    fix_cleanup(&f);
}

/* A guest writing to a host peer that is gone: RST. */
static void test_dead_peer_write(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;

    fix_init(&f);
    hfd = connect_guest(&f, 1007, &lfd, &c);
    c->rst_on_shut = false; /* keep sending though the host said goodbye */
    close(hfd);
    tg_idle(f.g, 10);
    tg_send(f.g, c, "anyone?", 7);
    g_assert_true(tg_wait(f.g, cond_closed, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    close(lfd);
    fix_cleanup(&f);
}

/* The guest's RST closes the host side; no RST comes back. */
static void test_guest_rst(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    bool eof;
    g_autoptr(GByteArray) got = NULL;
    unsigned before;

    fix_init(&f);
    hfd = connect_guest(&f, 1008, &lfd, &c);
    before = f.g->log->len;
    tg_rst(f.g, c);
    got = host_read(f.g, hfd, 1, &eof);
    g_assert_true(eof);
    tg_idle(f.g, 10);
    g_assert_cmpuint(f.g->log->len, ==, before); /* never RST for an RST */
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* Front-end disconnect: every connection closes on both sides. */
static void test_reset(void)
{
    Fix f;
    int lfd, hfd[3], pending;
    TgConn *c[3];
    uint32_t hport;

    fix_init(&f);
    tg_listen(f.g, 6000);
    hfd[0] = connect_guest(&f, 1009, &lfd, &c[0]);
    hfd[1] = th_accept(lfd, 0);
    g_assert_cmpint(hfd[1], <, 0);
    c[1] = tg_connect(f.g, 1009, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(f.g, cond_state, c[1], WAIT_MS));
    hfd[1] = th_accept(lfd, WAIT_MS);
    c[2] = connect_host(&f, "CONNECT 6000\n", &hfd[2], &hport);
    pending = th_connect(f.uds); /* has not sent its CONNECT line */
    tg_idle(f.g, 10);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 4);

    f.g->rx_budget = 0; /* the front-end is gone: no rx buffers */
    vsock_mux_reset(f.mux);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    for (int i = 0; i < 3; i++) {
        g_assert_true(tg_wait(f.g, cond_host_eof, &hfd[i], WAIT_MS));
        g_assert_cmpint(c[i]->state, ==, TG_OPEN);
    }
    g_assert_true(tg_wait(f.g, cond_host_eof, &pending, WAIT_MS));

    /* The next front-end: the guest learns that every connection is gone. */
    f.g->rx_budget = -1;
    tg_pump(f.g);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(c[i]->state, ==, TG_RESET);
        close(hfd[i]);
    }
    close(pending);
    /* ...and new connections work. */
    c[0] = tg_connect(f.g, 1009, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(f.g, cond_state, c[0], WAIT_MS));
    g_assert_cmpint(c[0]->state, ==, TG_OPEN);
    close(lfd);
    fix_cleanup(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vsock/guest-connect", test_guest_connect);
    g_test_add_func("/vsock/guest-connect-refused", test_guest_connect_refused);
    g_test_add_func("/vsock/host-connect", test_host_connect);
    g_test_add_func("/vsock/host-connect-forms", test_host_connect_forms);
    g_test_add_func("/vsock/host-connect-refused", test_host_connect_refused);
    g_test_add_func("/vsock/host-connect-timeout", test_host_connect_timeout);
    g_test_add_func("/vsock/half-close-guest", test_half_close_guest);
    g_test_add_func("/vsock/half-close-guest-rcv", test_half_close_guest_rcv);
    g_test_add_func("/vsock/half-close-host", test_half_close_host);
    g_test_add_func("/vsock/close-clean", test_close_clean);
    g_test_add_func("/vsock/close-by-host", test_close_by_host);
    g_test_add_func("/vsock/close-timeout", test_close_timeout);
    g_test_add_func("/vsock/dead-peer", test_dead_peer);
    g_test_add_func("/vsock/dead-peer-write", test_dead_peer_write);
    g_test_add_func("/vsock/guest-rst", test_guest_rst);
    g_test_add_func("/vsock/reset", test_reset);
    return g_test_run();
}

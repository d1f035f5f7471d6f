/*
 * tests/vsock/test-vsock-credit.c - credit both ways: exhaustion and
 * recovery, unsolicited CREDIT_UPDATE, a guest that exceeds our credit, a
 * guest that never returns credit, and tx drained while rx is full.
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

static int connect_guest(Fix *f, uint32_t port, int *lfd, TgConn **c)
{
    g_autofree char *path = fix_port_path(f, port);
    int hfd;

    *lfd = th_listen(path, SOCK_STREAM);
    *c = tg_connect(f->g, port, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(f->g, cond_open, *c, WAIT_MS));
    g_assert_cmpint((*c)->state, ==, TG_OPEN);
    hfd = th_accept(*lfd, WAIT_MS);
    g_assert_cmpint(hfd, >=, 0);
    return hfd;
}

typedef struct Want {
    TgConn *c;
    size_t len;
} Want;

static bool cond_rx(TestGuest *g, void *data)
{
    Want *w = data;

    return w->c->rx->len >= w->len || w->c->state != TG_OPEN;
}

/* Host -> guest: the guest's credit stops the data; consuming restarts it. */
static void test_guest_credit(void)
{
    enum { TOTAL = 100 * 1024, GUEST_BUF = 8192 };
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc(TOTAL);
    size_t written = 0;
    Want w;

    fix_init(&f);
    f.g->buf_alloc = GUEST_BUF;
    f.g->auto_consume = false;
    hfd = connect_guest(&f, 2000, &lfd, &c);
    tg_fill_pattern(data, TOTAL, 1, 0);
    written = th_write(hfd, data, TOTAL);
    g_assert_cmpuint(written, ==, TOTAL); /* the socket buffer takes it */

    tg_idle(f.g, 30);
    g_assert_cmpuint(c->rx->len, ==, GUEST_BUF);     /* exactly our credit */
    g_assert_cmpuint(c->credit_requests, ==, 1);     /* asked once, not more */
    g_assert_cmpuint(fix_stats(&f).buffered, ==, 0); /* the host side waits */

    /* Consume bit by bit: every CREDIT_UPDATE lets more through. */
    c->auto_consume = true;
    tg_consume(f.g, c, c->unconsumed);
    w = (Want){c, TOTAL};
    g_assert_true(tg_wait(f.g, cond_rx, &w, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, data, TOTAL);
    g_assert_cmpint(c->state, ==, TG_OPEN);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

typedef struct HostSink {
    int fd;
    GByteArray *buf;
    size_t want;
} HostSink;

static bool cond_host(TestGuest *g, void *data)
{
    HostSink *h = data;

    th_drain(h->fd, h->buf);
    return h->buf->len >= h->want;
}

/*
 * Guest -> host with a host that does not read: the muxer holds at most
 * buf_alloc bytes, the guest runs out of credit, and once the host reads, an
 * unsolicited CREDIT_UPDATE lets the guest go on.
 */
static void test_host_credit(void)
{
    enum { BUF = 16384, CHUNK = 4096 };
    VsockMuxConfig cfg = {.buf_alloc = BUF};
    Fix f;
    int lfd, hfd;
    TgConn *c;
    uint8_t chunk[CHUNK];
    uint64_t sent = 0;
    unsigned updates;
    HostSink h;

    fix_init_cfg(&f, &cfg);
    hfd = connect_guest(&f, 2001, &lfd, &c);
    g_assert_cmpuint(c->peer_buf_alloc, ==, BUF);
    /* Fill the kernel's socket buffer and then ours. */
    for (;;) {
        size_t n;

        tg_fill_pattern(chunk, CHUNK, 2, sent);
        n = tg_send(f.g, c, chunk, CHUNK);
        sent += n;
        tg_poll(f.g);
        if (n < CHUNK) {
            tg_idle(f.g, 5);
            tg_fill_pattern(chunk, CHUNK, 2, sent);
            n = tg_send(f.g, c, chunk, CHUNK);
            sent += n;
            if (n == 0) {
                break;
            }
        }
        g_assert_cmpuint(sent, <, 64 * 1024 * 1024);
    }
    g_assert_cmpuint(fix_stats(&f).buffered, >, 0);
    g_assert_cmpuint(fix_stats(&f).buffered, <=, BUF);
    /* Stuck: no update while nothing moves on. */
    updates = c->credit_updates;
    tg_idle(f.g, 20);
    g_assert_cmpuint(c->credit_updates, ==, updates);
    g_assert_cmpuint(tg_send(f.g, c, chunk, CHUNK), ==, 0);

    /* The host reads everything: credit comes back without being asked. */
    h = (HostSink){hfd, g_byte_array_new(), sent};
    g_assert_true(tg_wait(f.g, cond_host, &h, WAIT_MS));
    tg_idle(f.g, 10);
    g_assert_cmpuint(c->credit_updates, >, updates);
    g_assert_cmpuint(fix_stats(&f).buffered, ==, 0);
    g_assert_cmpuint(c->peer_buf_alloc - (c->tx_cnt - c->peer_fwd_cnt), >=, BUF / 2);
    for (size_t off = 0; off < sent; off += CHUNK) {
        tg_fill_pattern(chunk, CHUNK, 2, off);
        g_assert_cmpmem(h.buf->data + off, MIN(CHUNK, sent - off), chunk,
                        MIN(CHUNK, sent - off));
    }
    /* And more data goes through. */
    g_assert_cmpuint(tg_send(f.g, c, "more", 4), ==, 4);
    h.want += 4;
    g_assert_true(tg_wait(f.g, cond_host, &h, WAIT_MS));
    g_assert_cmpmem(h.buf->data + sent, 4, "more", 4);
    g_byte_array_unref(h.buf);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* The guest's view of our free space runs low: an unsolicited update. */
static void test_unsolicited_update(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc0(200 * 1024);
    HostSink h;

    fix_init(&f);
    hfd = connect_guest(&f, 2002, &lfd, &c);
    g_assert_cmpuint(tg_send(f.g, c, data, 100 * 1024), ==, 100 * 1024);
    h = (HostSink){hfd, g_byte_array_new(), 100 * 1024};
    g_assert_true(tg_wait(f.g, cond_host, &h, WAIT_MS));
    tg_idle(f.g, 5);
    g_assert_cmpuint(c->credit_updates, ==, 0); /* 156 KiB free in its view */
    g_assert_cmpuint(tg_send(f.g, c, data, 100 * 1024), ==, 100 * 1024);
    h.want += 100 * 1024;
    g_assert_true(tg_wait(f.g, cond_host, &h, WAIT_MS));
    tg_idle(f.g, 5);
    g_assert_cmpuint(c->credit_updates, ==, 1); /* 56 KiB in its view: updated */
    g_assert_cmpuint(c->peer_fwd_cnt, ==, 200 * 1024);
    g_byte_array_unref(h.buf);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* A guest that sends beyond our credit is reset. */
static void test_credit_violation(void)
{
    VsockMuxConfig cfg = {.buf_alloc = 8192};
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc0(65536);

    fix_init_cfg(&f, &cfg);
    hfd = connect_guest(&f, 2003, &lfd, &c);
    /* Stop the host from taking data: shrink nothing, just never read and
     * fill its socket; then ignore our credit. */
    for (int i = 0; i < 1000 && c->state == TG_OPEN; i++) {
        tg_send_op(f.g, c, VIRTIO_VSOCK_OP_RW, 0, data, 65536);
        tg_poll(f.g);
    }
    g_assert_cmpint(c->state, ==, TG_RESET);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 0);
    g_assert_cmpuint(fix_stats(&f).buffered, ==, 0);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/*
 * A guest that never returns credit and a host that writes on: the muxer
 * stops reading at the guest's buf_alloc and holds nothing itself.
 */
static void test_never_returns_credit(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc0(65536);
    uint64_t written = 0;

    fix_init(&f);
    f.g->buf_alloc = 4096;
    f.g->auto_consume = false;
    hfd = connect_guest(&f, 2004, &lfd, &c);
    for (int i = 0; i < 200; i++) {
        ssize_t n = th_write(hfd, data, 65536);

        g_assert_cmpint(n, >=, 0);
        written += n;
        tg_poll(f.g);
    }
    tg_idle(f.g, 20);
    g_assert_cmpuint(c->rx->len, ==, 4096);
    g_assert_cmpuint(written, <, 200 * 65536); /* the host was stopped */
    g_assert_cmpuint(fix_stats(&f).buffered, ==, 0);
    g_assert_cmpuint(c->credit_requests, ==, 1);
    g_assert_cmpint(c->state, ==, TG_OPEN);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

/* With no rx buffers at all, tx is still drained: data reaches the host. */
static void test_tx_while_rx_full(void)
{
    Fix f;
    int lfd, hfd;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc(256 * 1024);
    HostSink h;
    size_t sent = 0;
    guint before;

    fix_init(&f);
    hfd = connect_guest(&f, 2005, &lfd, &c);
    f.g->rx_budget = 0;
    tg_fill_pattern(data, 256 * 1024, 3, 0);
    for (int i = 0; i < 100; i++) {
        tg_send_op(f.g, c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
    }
    sent = tg_send(f.g, c, data, 256 * 1024);
    g_assert_cmpuint(sent, ==, 256 * 1024);
    h = (HostSink){hfd, g_byte_array_new(), sent};
    g_assert_true(tg_wait(f.g, cond_host, &h, WAIT_MS));
    g_assert_cmpmem(h.buf->data, h.buf->len, data, sent);
    /* The host writes too: it waits in its socket, not in the muxer. */
    th_write(hfd, data, 64 * 1024);
    tg_idle(f.g, 10);
    g_assert_cmpuint(fix_stats(&f).buffered, ==, 0);
    /* Buffers come back: the 100 requests got one answer at most (any packet
     * carries the credit), then the data. */
    before = f.g->log->len;
    f.g->rx_budget = -1;
    tg_idle(f.g, 10);
    g_assert_cmpuint(c->credit_updates, <=, 1);
    g_assert_cmpuint(f.g->log->len - before, <=, 64 * 1024 / 4096 + 1);
    g_assert_cmpuint(c->rx->len, ==, 64 * 1024);
    g_assert_cmpmem(c->rx->data, c->rx->len, data, 64 * 1024);
    g_byte_array_unref(h.buf);
    close(hfd);
    close(lfd);
    fix_cleanup(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vsock/credit/guest", test_guest_credit);
    g_test_add_func("/vsock/credit/host", test_host_credit);
    g_test_add_func("/vsock/credit/unsolicited-update", test_unsolicited_update);
    g_test_add_func("/vsock/credit/violation", test_credit_violation);
    g_test_add_func("/vsock/credit/never-returned", test_never_returns_credit);
    g_test_add_func("/vsock/credit/tx-while-rx-full", test_tx_while_rx_full);
    return g_test_run();
}

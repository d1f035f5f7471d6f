/*
 * tests/vsock/test-vsock-scale.c - many connections at once (1024 each way,
 * each with its own data), the connection cap, and a 1 GiB transfer each way
 * with every byte checked.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <sys/socket.h>

#include "vsock-test-fix.h"

#define WAIT_MS 20000
#define NCONN 1024
#define MSG 700

typedef struct Side {
    int fd;
    GByteArray *in;
    bool eof;
} Side;

/* The message of connection @i in direction @dir: its index, then data. */
static void make_msg(uint8_t *buf, uint32_t i, uint32_t dir)
{
    memcpy(buf, &i, 4);
    tg_fill_pattern(buf + 4, MSG - 4, (uint64_t)dir << 32 | i, 0);
}

static void check_msg(const uint8_t *buf, size_t len, uint32_t *index, uint32_t dir)
{
    uint8_t want[MSG];

    g_assert_cmpuint(len, ==, MSG);
    memcpy(index, buf, 4);
    g_assert_cmpuint(*index, <, NCONN);
    make_msg(want, *index, dir);
    g_assert_cmpmem(buf, len, want, MSG);
}

typedef struct Many {
    Side host[NCONN];
    TgConn *guest[NCONN];
    unsigned host_done;
} Many;

static bool cond_hosts_read(TestGuest *g, void *data)
{
    Many *m = data;

    for (unsigned i = 0; i < NCONN; i++) {
        Side *s = &m->host[i];

        if (s->in->len < MSG) {
            th_drain(s->fd, s->in);
            m->host_done += s->in->len == MSG;
        }
    }
    return m->host_done == NCONN;
}

static bool cond_guests_read(TestGuest *g, void *data)
{
    Many *m = data;

    for (unsigned i = 0; i < NCONN; i++) {
        if (m->guest[i]->rx->len < MSG) {
            return false;
        }
    }
    return true;
}

static bool cond_all_open(TestGuest *g, void *data)
{
    Many *m = data;

    for (unsigned i = 0; i < NCONN; i++) {
        if (!m->guest[i] || m->guest[i]->state == TG_CONNECTING) {
            return false;
        }
    }
    return true;
}

static bool cond_no_conns(TestGuest *g, void *data)
{
    VsockMuxStats s;

    vsock_mux_get_stats(g->mux, &s);
    return s.conns == 0;
}

/* Every connection: host and guest each send their message and check the other's. */
static void exchange(Fix *f, Many *m)
{
    uint8_t buf[MSG];

    for (unsigned i = 0; i < NCONN; i++) {
        g_assert_cmpint(m->guest[i]->state, ==, TG_OPEN);
        make_msg(buf, i, 0);
        g_assert_cmpuint(tg_send(f->g, m->guest[i], buf, MSG), ==, MSG);
    }
    g_assert_true(tg_wait(f->g, cond_hosts_read, m, WAIT_MS));
    /* Host side: learn which guest connection each socket is, and answer. */
    for (unsigned i = 0; i < NCONN; i++) {
        uint32_t idx;

        check_msg(m->host[i].in->data, m->host[i].in->len, &idx, 0);
        make_msg(buf, idx, 1);
        g_assert_cmpint(th_write(m->host[i].fd, buf, MSG), ==, MSG);
    }
    g_assert_true(tg_wait(f->g, cond_guests_read, m, WAIT_MS));
    for (unsigned i = 0; i < NCONN; i++) {
        uint32_t idx;

        check_msg(m->guest[i]->rx->data, m->guest[i]->rx->len, &idx, 1);
        g_assert_cmpuint(idx, ==, i);
    }
    g_assert_cmpuint(f->g->log->len, <, 20 * NCONN); /* no packet storm */
}

static void close_all(Fix *f, Many *m)
{
    for (unsigned i = 0; i < NCONN; i++) {
        tg_shutdown(f->g, m->guest[i], 3);
        close(m->host[i].fd);
        g_byte_array_unref(m->host[i].in);
    }
    g_assert_true(tg_wait(f->g, cond_no_conns, NULL, WAIT_MS));
}

static void test_many_guest(void)
{
    Fix f;
    g_autofree Many *m = g_new0(Many, 1);
    g_autofree char *path = NULL;
    int lfd;

    g_assert_cmpuint(tg_raise_nofile(), >=, 3 * NCONN);
    fix_init(&f);
    path = fix_port_path(&f, 3000);
    lfd = th_listen(path, SOCK_STREAM);
    for (unsigned i = 0; i < NCONN; i++) {
        m->guest[i] = tg_connect(f.g, 3000, VIRTIO_VSOCK_TYPE_STREAM);
    }
    g_assert_true(tg_wait(f.g, cond_all_open, m, WAIT_MS));
    for (unsigned i = 0; i < NCONN; i++) {
        m->host[i] = (Side){th_accept(lfd, WAIT_MS), g_byte_array_new()};
        g_assert_cmpint(m->host[i].fd, >=, 0);
    }
    g_assert_cmpuint(fix_stats(&f).conns, ==, NCONN);
    exchange(&f, m);
    close_all(&f, m);
    close(lfd);
    fix_cleanup(&f);
}

static bool cond_ok_lines(TestGuest *g, void *data)
{
    Many *m = data;
    unsigned ok = 0;

    for (unsigned i = 0; i < NCONN; i++) {
        Side *s = &m->host[i];

        th_drain(s->fd, s->in);
        ok += s->in->len > 0 && memchr(s->in->data, '\n', s->in->len) != NULL;
    }
    return ok == NCONN;
}

static void test_many_host(void)
{
    Fix f;
    g_autofree Many *m = g_new0(Many, 1);
    GHashTable *ports = g_hash_table_new(NULL, NULL);

    g_assert_cmpuint(tg_raise_nofile(), >=, 3 * NCONN);
    fix_init(&f);
    tg_listen(f.g, 7000);
    for (unsigned i = 0; i < NCONN; i++) {
        m->host[i] = (Side){th_connect(f.uds), g_byte_array_new()};
        g_assert_cmpint(th_write(m->host[i].fd, "CONNECT 7000\n", 13), ==, 13);
        if (i % 64 == 63) {
            tg_idle(f.g, 1); /* let the listener keep up with its backlog */
        }
    }
    g_assert_true(tg_wait(f.g, cond_ok_lines, m, WAIT_MS));
    g_assert_cmpuint(fix_stats(&f).conns, ==, NCONN);
    /* Each host socket got its own port; map the guest's side to it. */
    for (unsigned i = 0; i < NCONN; i++) {
        Side *s = &m->host[i];
        uint32_t port = (uint32_t)g_ascii_strtoull((char *)s->in->data + 3, NULL, 10);

        g_assert_true(g_str_has_prefix((char *)s->in->data, "OK "));
        g_assert_false(g_hash_table_contains(ports, GUINT_TO_POINTER(port)));
        g_hash_table_add(ports, GUINT_TO_POINTER(port));
        g_byte_array_set_size(s->in, 0);
    }
    for (unsigned i = 0; i < f.g->all->len; i++) {
        TgConn *c = f.g->all->pdata[i];

        g_assert_true(g_hash_table_contains(ports, GUINT_TO_POINTER(c->host_port)));
        m->guest[i] = c;
    }
    g_assert_cmpuint(f.g->all->len, ==, NCONN);
    /* The guest's connection i sends index i; the host checks the pairing. */
    exchange(&f, m);
    close_all(&f, m);
    g_hash_table_destroy(ports);
    fix_cleanup(&f);
}

/* The cap: one more guest REQUEST is refused, one more host socket closed. */
static void test_cap(void)
{
    VsockMuxConfig cfg = {.max_conns = 8};
    Fix f;
    g_autofree char *path = NULL;
    TgConn *c[9];
    int lfd, extra;
    GByteArray *in = g_byte_array_new();

    fix_init_cfg(&f, &cfg);
    path = fix_port_path(&f, 3001);
    lfd = th_listen(path, SOCK_STREAM);
    for (int i = 0; i < 9; i++) {
        c[i] = tg_connect(f.g, 3001, VIRTIO_VSOCK_TYPE_STREAM);
    }
    tg_idle(f.g, 10);
    for (int i = 0; i < 8; i++) {
        g_assert_cmpint(c[i]->state, ==, TG_OPEN);
    }
    g_assert_cmpint(c[8]->state, ==, TG_RESET);
    extra = th_connect(f.uds);
    tg_idle(f.g, 10);
    g_assert_true(th_drain(extra, in)); /* closed at once */
    g_assert_cmpuint(in->len, ==, 0);
    g_assert_cmpuint(fix_stats(&f).conns, ==, 8);
    /* Room again after a close. */
    tg_rst(f.g, c[0]);
    c[8] = tg_connect(f.g, 3001, VIRTIO_VSOCK_TYPE_STREAM);
    tg_idle(f.g, 10);
    g_assert_cmpint(c[8]->state, ==, TG_OPEN);
    close(extra);
    close(lfd);
    g_byte_array_unref(in);
    fix_cleanup(&f);
}

/* ------------------------------------------------------------------------ */
/* 1 GiB each way                                                            */
/* ------------------------------------------------------------------------ */

#define PAGE 4096

/* Stream contents: a random page, each page stamped with its offset. */
typedef struct Stream {
    uint8_t page[PAGE];
    uint64_t total;
    uint64_t done;
} Stream;

static void stream_get(Stream *s, uint64_t off, uint8_t *buf, size_t len)
{
    while (len > 0) {
        uint64_t page_off = off % PAGE;
        size_t n = MIN(len, PAGE - page_off);
        uint64_t stamp = off - page_off;

        memcpy(buf, s->page + page_off, n);
        if (page_off < 8) {
            memcpy(buf, (uint8_t *)&stamp + page_off, MIN(n, 8 - page_off));
        }
        buf += n;
        off += n;
        len -= n;
    }
}

static void stream_check(Stream *s, const uint8_t *data, size_t len)
{
    uint8_t want[65536];

    while (len > 0) {
        size_t n = MIN(len, sizeof(want));

        stream_get(s, s->done, want, n);
        if (memcmp(data, want, n) != 0) {
            g_error("stream corrupted near offset %" G_GUINT64_FORMAT, s->done);
        }
        s->done += n;
        data += n;
        len -= n;
    }
}

typedef struct Bulk {
    Fix *f;
    TgConn *c;
    int hfd;
    Stream g2h_send, g2h_recv, h2g_send, h2g_recv;
    uint8_t buf[65536];
} Bulk;

static void bulk_on_data(TgConn *c, const uint8_t *data, size_t len, void *opaque)
{
    stream_check(&((Bulk *)opaque)->h2g_recv, data, len);
}

static bool bulk_step(TestGuest *g, void *data)
{
    Bulk *b = data;

    /* Guest -> host: as much as its credit allows. */
    while (b->g2h_send.done < b->g2h_send.total) {
        size_t n = MIN(sizeof(b->buf), b->g2h_send.total - b->g2h_send.done);

        stream_get(&b->g2h_send, b->g2h_send.done, b->buf, n);
        n = tg_send(g, b->c, b->buf, n);
        if (n == 0) {
            break;
        }
        b->g2h_send.done += n;
    }
    /* Host: read and check, then write what the socket takes. */
    for (;;) {
        ssize_t n = recv(b->hfd, b->buf, sizeof(b->buf), MSG_DONTWAIT);

        if (n <= 0) {
            break;
        }
        stream_check(&b->g2h_recv, b->buf, n);
    }
    while (b->h2g_send.done < b->h2g_send.total) {
        size_t n = MIN(sizeof(b->buf), b->h2g_send.total - b->h2g_send.done);
        ssize_t w;

        stream_get(&b->h2g_send, b->h2g_send.done, b->buf, n);
        w = th_write(b->hfd, b->buf, n);
        g_assert_cmpint(w, >=, 0);
        if (w == 0) {
            break;
        }
        b->h2g_send.done += w;
    }
    return b->g2h_recv.done == b->g2h_recv.total &&
           b->h2g_recv.done == b->h2g_recv.total;
}

static void test_bulk(void)
{
    /* 1 GiB each way (VSOCK_BULK_MIB=N for another size). */
    uint64_t total = g_getenv("VSOCK_BULK_MIB")
                         ? g_ascii_strtoull(g_getenv("VSOCK_BULK_MIB"), NULL, 10) << 20
                         : 1ull << 30;
    g_autofree Bulk *b = g_new0(Bulk, 1);
    g_autofree char *path = NULL;
    Fix f;
    int lfd;

    fix_init(&f);
    f.g->keep_rx = false;
    f.g->rx_room = 65536;
    f.g->on_data = bulk_on_data;
    f.g->on_data_opaque = b;
    path = fix_port_path(&f, 3002);
    lfd = th_listen(path, SOCK_STREAM);
    b->f = &f;
    b->c = tg_connect(f.g, 3002, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(f.g, cond_state, b->c, WAIT_MS));
    b->hfd = th_accept(lfd, WAIT_MS);
    tg_fill_pattern(b->g2h_send.page, PAGE, 11, 0);
    b->h2g_send = b->g2h_recv = b->g2h_send;
    tg_fill_pattern(b->h2g_send.page, PAGE, 12, 0);
    b->h2g_recv = b->h2g_send;
    b->g2h_send.total = b->g2h_recv.total = b->h2g_send.total = b->h2g_recv.total =
        total;
    g_assert_true(tg_wait(f.g, bulk_step, b, 300 * 1000));
    g_assert_cmpuint(b->g2h_recv.done, ==, total);
    g_assert_cmpuint(b->h2g_recv.done, ==, total);
    g_assert_cmpint(b->c->state, ==, TG_OPEN);
    g_assert_cmpuint(fix_stats(&f).buffered, <=, VSOCK_DEFAULT_BUF_ALLOC);
    close(b->hfd);
    close(lfd);
    fix_cleanup(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vsock/scale/1024-guest-initiated", test_many_guest);
    g_test_add_func("/vsock/scale/1024-host-initiated", test_many_host);
    g_test_add_func("/vsock/scale/cap", test_cap);
    g_test_add_func("/vsock/scale/1GiB", test_bulk);
    return g_test_run();
}

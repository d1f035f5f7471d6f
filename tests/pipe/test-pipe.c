/*
 * tests/pipe/test-pipe.c - the pipe logic over the vsock muxer, driven by
 * the fake guest: the "pipe:NAME\0" handshake with open-reply on and off,
 * the built-in services (echo, unix:NAME, qemud:echo), a service a test
 * registers, 64 channels at once, closes from either side, device removal.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <sys/socket.h>

#include "qcontext/devices/pipe/pipe.h"
#include "../vsock/vsock-test-fix.h"

#define WAIT_MS 5000
#define PORT 5555

typedef struct PFix {
    Fix f;
    PipeHost *ph;
} PFix;

static void pfix_init(PFix *p, bool open_reply, GHashTable *options)
{
    PipeHostConfig cfg = {.port = PORT, .open_reply = open_reply, .options = options};
    g_autoptr(GError) err = NULL;

    fix_init(&p->f);
    p->ph = pipe_host_new(p->f.mux, p->f.ctx, &cfg, &err);
    g_assert_no_error(err);
}

static bool cond_no_channels(TestGuest *g, void *ph)
{
    return pipe_host_channels(ph) == 0;
}

/* Remove the device, then the muxer (which closes whatever is left). */
static void pfix_cleanup(PFix *p)
{
    pipe_host_free(p->ph);
    tg_idle(p->f.g, 5);
    fix_cleanup(&p->f);
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

static bool cond_gone(TestGuest *g, void *c)
{
    return ((TgConn *)c)->state == TG_RESET || ((TgConn *)c)->state == TG_CLOSED;
}

static bool cond_open(TestGuest *g, void *c)
{
    return ((TgConn *)c)->state != TG_CONNECTING;
}

/* Connect to the pipe port and send "pipe:NAME\0" (+ @extra). */
static TgConn *pipe_open(PFix *p, const char *name, const char *extra)
{
    TgConn *c = tg_connect(p->f.g, PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_autofree char *hello = g_strdup_printf("pipe:%s", name);

    g_assert_true(tg_wait(p->f.g, cond_open, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_OPEN);
    tg_send(p->f.g, c, hello, strlen(hello) + 1);
    if (extra) {
        tg_send(p->f.g, c, extra, strlen(extra));
    }
    return c;
}

/* Open and expect @status (open-reply=on). */
static TgConn *pipe_open_status(PFix *p, const char *name, uint8_t status)
{
    TgConn *c = pipe_open(p, name, NULL);

    g_assert_true(tg_wait(p->f.g, cond_rx, &(Want){c, 1}, WAIT_MS));
    g_assert_cmpuint(c->rx->len, >=, 1);
    g_assert_cmpuint(c->rx->data[0], ==, status);
    if (status != PIPE_OPEN_OK) {
        g_assert_true(tg_wait(p->f.g, cond_gone, c, WAIT_MS));
        g_assert_cmpint(c->state, ==, TG_RESET); /* the RST follows the byte */
        g_assert_cmpuint(c->rx->len, ==, 1);
    }
    return c;
}

static void test_echo(void)
{
    PFix p;
    TgConn *c;
    g_autofree uint8_t *big = g_malloc(1 << 20);
    size_t sent = 0;

    pfix_init(&p, true, NULL);
    c = pipe_open_status(&p, "echo", PIPE_OPEN_OK);
    g_assert_cmpuint(pipe_host_channels(p.ph), ==, 1);
    tg_send(p.f.g, c, "ping", 4);
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 5}, WAIT_MS));
    g_assert_cmpmem(c->rx->data + 1, c->rx->len - 1, "ping", 4);

    /* 1 MiB: more than either side's credit, so it must flow as it frees. */
    tg_fill_pattern(big, 1 << 20, 7, 0);
    while (sent < (1 << 20)) {
        sent += tg_send(p.f.g, c, big + sent, (1 << 20) - sent);
        tg_poll(p.f.g);
    }
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 5 + (1 << 20)}, WAIT_MS));
    g_assert_cmpmem(c->rx->data + 5, c->rx->len - 5, big, 1 << 20);

    /* The guest is done sending: echo finishes, then shuts down its side. */
    tg_send(p.f.g, c, "end", 3);
    tg_shutdown(p.f.g, c, VIRTIO_VSOCK_SHUTDOWN_SEND);
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 8 + (1 << 20)}, WAIT_MS));
    tg_idle(p.f.g, 10);
    g_assert_cmpuint(c->peer_shut, ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
    g_assert_cmpmem(c->rx->data + c->rx->len - 3, 3, "end", 3);
    tg_shutdown(p.f.g, c, VIRTIO_VSOCK_SHUTDOWN_RCV);
    g_assert_true(tg_wait(p.f.g, cond_no_channels, p.ph, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    pfix_cleanup(&p);
}

/* The name and the first data in one packet. */
static void test_name_with_data(void)
{
    PFix p;
    TgConn *c;

    pfix_init(&p, true, NULL);
    c = pipe_open(&p, "echo", "hello");
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 6}, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "\0hello", 6);
    pfix_cleanup(&p);
}

static void test_unknown(void)
{
    static const char *names[] = {"nosuch", "qemud:nosuch", "",
                                  "echo:x:y:z" /* "echo" */};
    PFix p;

    pfix_init(&p, true, NULL);
    for (unsigned i = 0; i < 3; i++) {
        pipe_open_status(&p, names[i], PIPE_OPEN_UNKNOWN);
    }
    /* "echo:ARGS" is the echo service with an argument. */
    pipe_open_status(&p, names[3], PIPE_OPEN_OK);
    pfix_cleanup(&p);
}

static void test_bad_handshake(void)
{
    PFix p;
    TgConn *c;
    char name[400];

    pfix_init(&p, true, NULL);
    /* Not "pipe:". */
    c = tg_connect(p.f.g, PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(p.f.g, cond_open, c, WAIT_MS));
    tg_send(p.f.g, c, "tube:echo", 10);
    g_assert_true(tg_wait(p.f.g, cond_gone, c, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "\1", 1);
    /* A name that never ends. */
    memset(name, 'a', sizeof(name));
    memcpy(name, "pipe:", 5);
    c = tg_connect(p.f.g, PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(p.f.g, cond_open, c, WAIT_MS));
    tg_send(p.f.g, c, name, sizeof(name));
    g_assert_true(tg_wait(p.f.g, cond_gone, c, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "\1", 1);
    /* The longest name is fine (it is unknown, but read whole). */
    memset(name, 'b', sizeof(name));
    name[PIPE_NAME_MAX] = '\0';
    pipe_open_status(&p, name, PIPE_OPEN_UNKNOWN);
    /* A guest that goes away halfway through its name. */
    c = tg_connect(p.f.g, PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(p.f.g, cond_open, c, WAIT_MS));
    tg_send(p.f.g, c, "pipe:ec", 7);
    tg_idle(p.f.g, 5);
    tg_rst(p.f.g, c);
    g_assert_true(tg_wait(p.f.g, cond_no_channels, p.ph, WAIT_MS));
    pfix_cleanup(&p);
}

static void test_open_reply_off(void)
{
    PFix p;
    TgConn *c;

    pfix_init(&p, false, NULL);
    c = pipe_open(&p, "echo", "quiet");
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 5}, WAIT_MS));
    g_assert_cmpmem(c->rx->data, c->rx->len, "quiet", 5); /* no status byte */
    c = pipe_open(&p, "nosuch", NULL);
    g_assert_true(tg_wait(p.f.g, cond_gone, c, WAIT_MS));
    g_assert_cmpint(c->state, ==, TG_RESET);
    g_assert_cmpuint(c->rx->len, ==, 0); /* just the RST */
    c = pipe_open(&p, "unix:none", NULL);
    g_assert_true(tg_wait(p.f.g, cond_gone, c, WAIT_MS));
    g_assert_cmpuint(c->rx->len, ==, 0);
    pfix_cleanup(&p);
}

/* ------------------------------------------------------------------------ */
/* unix:NAME                                                                 */
/* ------------------------------------------------------------------------ */

static bool cond_host_bytes(TestGuest *g, void *data)
{
    struct {
        int fd;
        GByteArray *in;
        size_t want;
    } *h = data;

    th_drain(h->fd, h->in);
    return h->in->len >= h->want;
}

static void test_unix(void)
{
    PFix p;
    GHashTable *opts = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *path = NULL;
    int lfd, hfd;
    TgConn *c;
    struct {
        int fd;
        GByteArray *in;
        size_t want;
    } h;

    fix_init(&p.f); /* for the directory; the pipe host comes next */
    path = g_build_filename(p.f.dir, "db.sock", NULL);
    g_hash_table_insert(opts, "unix.db", path);
    g_hash_table_insert(opts, "unix.gone", "/nonexistent/qcontext-test.sock");
    {
        PipeHostConfig cfg = {.port = PORT, .open_reply = true, .options = opts};

        p.ph = pipe_host_new(p.f.mux, p.f.ctx, &cfg, NULL);
        g_assert_nonnull(p.ph);
    }
    g_hash_table_unref(opts); /* the host copied it */
    lfd = th_listen(path, SOCK_STREAM);

    /* Not listed, listed but unreachable: refused. */
    pipe_open_status(&p, "unix:other", PIPE_OPEN_REFUSED);
    pipe_open_status(&p, "unix:gone", PIPE_OPEN_REFUSED);
    pipe_open_status(&p, "unix:", PIPE_OPEN_REFUSED);

    c = pipe_open_status(&p, "unix:db", PIPE_OPEN_OK);
    hfd = th_accept(lfd, WAIT_MS);
    g_assert_cmpint(hfd, >=, 0);
    tg_send(p.f.g, c, "query", 5);
    h.fd = hfd;
    h.in = g_byte_array_new();
    h.want = 5;
    g_assert_true(tg_wait(p.f.g, cond_host_bytes, &h, WAIT_MS));
    g_assert_cmpmem(h.in->data, h.in->len, "query", 5);
    th_write(hfd, "answer", 6);
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 7}, WAIT_MS));
    g_assert_cmpmem(c->rx->data + 1, 6, "answer", 6);

    /* Half-closes both ways. */
    tg_shutdown(p.f.g, c, VIRTIO_VSOCK_SHUTDOWN_SEND);
    h.want = 6;
    tg_idle(p.f.g, 10);
    g_assert_true(th_drain(hfd, h.in)); /* the host reads EOF */
    th_write(hfd, "bye", 3);
    shutdown(hfd, SHUT_WR);
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 10}, WAIT_MS));
    tg_idle(p.f.g, 10);
    g_assert_cmpmem(c->rx->data + 7, 3, "bye", 3);
    g_assert_cmpuint(c->peer_shut, ==, VIRTIO_VSOCK_SHUTDOWN_SEND);
    tg_rst(p.f.g, c);
    g_assert_true(tg_wait(p.f.g, cond_no_channels, p.ph, WAIT_MS));
    g_byte_array_unref(h.in);
    close(hfd);
    close(lfd);
    pfix_cleanup(&p);
}

/* ------------------------------------------------------------------------ */
/* qemud                                                                     */
/* ------------------------------------------------------------------------ */

static void test_qemud_echo(void)
{
    PFix p;
    TgConn *c;
    g_autofree uint8_t *big = g_malloc(0xffff + 4);

    pfix_init(&p, true, NULL);
    c = pipe_open_status(&p, "qemud:echo", PIPE_OPEN_OK);
    /* Two messages, split in odd places. */
    tg_send(p.f.g, c, "00", 2);
    tg_send(p.f.g, c, "05hel", 5);
    tg_send(p.f.g, c, "lo000", 5);
    tg_send(p.f.g, c, "3ABC0000", 8); /* and an empty one */
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 1 + 9 + 7 + 4}, WAIT_MS));
    g_assert_cmpmem(c->rx->data + 1, c->rx->len - 1, "0005hello0003ABC0000", 20);
    /* The largest message. */
    memcpy(big, "ffff", 4);
    tg_fill_pattern(big + 4, 0xffff, 9, 0);
    for (size_t sent = 0; sent < 0xffff + 4;) {
        sent += tg_send(p.f.g, c, big + sent, 0xffff + 4 - sent);
        tg_poll(p.f.g);
    }
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 21 + 0xffff + 4}, WAIT_MS));
    g_assert_cmpmem(c->rx->data + 21, 0xffff + 4, big, 0xffff + 4);
    /* A header that is not hex closes the channel. */
    tg_send(p.f.g, c, "00zz", 4);
    g_assert_true(tg_wait(p.f.g, cond_gone, c, WAIT_MS));
    g_assert_true(tg_wait(p.f.g, cond_no_channels, p.ph, WAIT_MS));
    pfix_cleanup(&p);
}

/* ------------------------------------------------------------------------ */
/* A service registered by the test                                          */
/* ------------------------------------------------------------------------ */

typedef struct Upper {
    unsigned opens, closes, live;
    char last_args[64];
} Upper;

static Upper upper;

static PipeOpenStatus upper_open(PipeChannel *ch, const char *args, void *opaque,
                                 void **chan_opaque)
{
    g_assert_true(opaque == &upper);
    if (g_str_equal(args, "no")) {
        return PIPE_OPEN_REFUSED;
    }
    g_strlcpy(upper.last_args, args, sizeof(upper.last_args));
    upper.opens++;
    upper.live++;
    *chan_opaque = g_strdup(args); /* freed at close: nothing survives */
    return PIPE_OPEN_OK;
}

static size_t upper_recv(PipeChannel *ch, const uint8_t *data, size_t len,
                         void *chan_opaque)
{
    char out[256];
    size_t n = MIN(len, sizeof(out));

    for (size_t i = 0; i < n; i++) {
        out[i] = g_ascii_toupper(data[i]);
    }
    if (n && data[n - 1] == '!') {
        n = pipe_channel_send(ch, out, n);
        pipe_channel_close(ch); /* the service ends the conversation */
        return n;
    }
    return pipe_channel_send(ch, out, n);
}

static void upper_close(PipeChannel *ch, void *chan_opaque)
{
    g_free(chan_opaque);
    upper.closes++;
    upper.live--;
}

static const PipeServiceOps upper_ops = {
    .open = upper_open,
    .recv = upper_recv,
    .close = upper_close,
};

static void test_custom_service(void)
{
    PFix p;
    TgConn *c;
    g_autoptr(GError) err = NULL;

    memset(&upper, 0, sizeof(upper));
    pfix_init(&p, true, NULL);
    pipe_open_status(&p, "upper", PIPE_OPEN_UNKNOWN);
    g_assert_true(pipe_service_register("upper", &upper_ops, &upper, &err));
    g_assert_false(pipe_service_register("upper", &upper_ops, &upper, &err));
    g_assert_error(err, PIPE_ERROR, 0);
    pipe_open_status(&p, "upper:no", PIPE_OPEN_REFUSED);
    g_assert_cmpuint(upper.closes, ==, 0); /* never opened: no close */

    c = pipe_open_status(&p, "upper:hi", PIPE_OPEN_OK);
    g_assert_cmpstr(upper.last_args, ==, "hi");
    tg_send(p.f.g, c, "shout", 5);
    g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c, 6}, WAIT_MS));
    g_assert_cmpmem(c->rx->data + 1, 5, "SHOUT", 5);
    /* The service closes: data, then the guest sees both directions end. */
    tg_send(p.f.g, c, "bye!", 4);
    g_assert_true(tg_wait(p.f.g, cond_gone, c, WAIT_MS));
    g_assert_cmpmem(c->rx->data + 6, 4, "BYE!", 4);
    g_assert_cmpuint(c->peer_shut, ==, 3);
    g_assert_true(tg_wait(p.f.g, cond_no_channels, p.ph, WAIT_MS));
    g_assert_cmpuint(upper.closes, ==, 1);

    /* The guest closes: the service hears it once. */
    c = pipe_open_status(&p, "upper", PIPE_OPEN_OK);
    tg_rst(p.f.g, c);
    g_assert_true(tg_wait(p.f.g, cond_no_channels, p.ph, WAIT_MS));
    g_assert_cmpuint(upper.closes, ==, 2);
    g_assert_cmpuint(upper.live, ==, 0);

    pipe_service_unregister("upper");
    pipe_open_status(&p, "upper", PIPE_OPEN_UNKNOWN);
    pfix_cleanup(&p);
}

/* Removing the device closes every channel; each service hears it. */
static void test_host_free(void)
{
    PFix p;
    TgConn *c[4];

    memset(&upper, 0, sizeof(upper));
    g_assert_true(pipe_service_register("upper", &upper_ops, &upper, NULL));
    pfix_init(&p, true, NULL);
    for (int i = 0; i < 4; i++) {
        c[i] = pipe_open_status(&p, "upper", PIPE_OPEN_OK);
    }
    g_assert_cmpuint(upper.live, ==, 4);
    pipe_host_free(p.ph);
    tg_idle(p.f.g, 10);
    for (int i = 0; i < 4; i++) {
        g_assert_cmpint(c[i]->state, ==, TG_RESET);
    }
    g_assert_cmpuint(upper.live, ==, 0);
    g_assert_cmpuint(upper.closes, ==, 4);
    /* The port is an ordinary one again: nobody listens on <uds>_5555. */
    c[0] = tg_connect(p.f.g, PORT, VIRTIO_VSOCK_TYPE_STREAM);
    g_assert_true(tg_wait(p.f.g, cond_open, c[0], WAIT_MS));
    g_assert_cmpint(c[0]->state, ==, TG_RESET);
    pipe_service_unregister("upper");
    fix_cleanup(&p.f);
}

/* ------------------------------------------------------------------------ */
/* 64 channels at once                                                       */
/* ------------------------------------------------------------------------ */

#define NCH 64

static void test_64_channels(void)
{
    static const char *svcs[] = {"echo", "qemud:echo", "unix:db", "upper"};
    PFix p;
    GHashTable *opts = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *path = NULL;
    TgConn *c[NCH];
    int lfd, hfd[NCH];
    GByteArray *hin[NCH];
    char msg[NCH][64];
    unsigned nunix = 0;

    memset(&upper, 0, sizeof(upper));
    g_assert_true(pipe_service_register("upper", &upper_ops, &upper, NULL));
    fix_init(&p.f);
    path = g_build_filename(p.f.dir, "db.sock", NULL);
    g_hash_table_insert(opts, "unix.db", path);
    {
        PipeHostConfig cfg = {.port = PORT, .open_reply = true, .options = opts};

        p.ph = pipe_host_new(p.f.mux, p.f.ctx, &cfg, NULL);
    }
    g_hash_table_unref(opts);
    lfd = th_listen(path, SOCK_STREAM);
    for (int i = 0; i < NCH; i++) {
        c[i] = pipe_open(&p, svcs[i % 4], NULL);
    }
    for (int i = 0; i < NCH; i++) {
        g_assert_true(tg_wait(p.f.g, cond_rx, &(Want){c[i], 1}, WAIT_MS));
        g_assert_cmpuint(c[i]->rx->data[0], ==, PIPE_OPEN_OK);
    }
    g_assert_cmpuint(pipe_host_channels(p.ph), ==, NCH);
    /* Each its own data. */
    for (int i = 0; i < NCH; i++) {
        int n = g_snprintf(msg[i], sizeof(msg[i]), "channel %d says %08x", i,
                           g_str_hash(svcs[i % 4]) ^ i);

        if (i % 4 == 1) { /* qemud framing */
            char framed[80];

            g_snprintf(framed, sizeof(framed), "%04x%s", n, msg[i]);
            tg_send(p.f.g, c[i], framed, n + 4);
        } else {
            tg_send(p.f.g, c[i], msg[i], n);
        }
        if (i % 4 == 2) {
            hfd[nunix] = th_accept(lfd, WAIT_MS);
            g_assert_cmpint(hfd[nunix], >=, 0);
            hin[nunix++] = g_byte_array_new();
        }
    }
    /* The unix peers echo what they get (in their own order). */
    for (int done = 0; done < 2000; done++) {
        tg_poll(p.f.g);
        for (unsigned u = 0; u < nunix; u++) {
            size_t before = hin[u]->len;

            th_drain(hfd[u], hin[u]);
            if (hin[u]->len > before) {
                th_write(hfd[u], hin[u]->data + before, hin[u]->len - before);
            }
        }
    }
    for (int i = 0; i < NCH; i++) {
        size_t n = strlen(msg[i]);
        char want[80];

        switch (i % 4) {
        case 1:
            g_snprintf(want, sizeof(want), "%04zx%s", n, msg[i]);
            n += 4;
            break;
        case 3:
            for (size_t k = 0; k <= n; k++) {
                want[k] = g_ascii_toupper(msg[i][k]);
            }
            break;
        default:
            memcpy(want, msg[i], n);
        }
        g_assert_cmpmem(c[i]->rx->data + 1, c[i]->rx->len - 1, want, n);
    }
    for (int i = 0; i < NCH; i++) {
        tg_rst(p.f.g, c[i]);
    }
    g_assert_true(tg_wait(p.f.g, cond_no_channels, p.ph, WAIT_MS));
    g_assert_cmpuint(upper.live, ==, 0);
    for (unsigned u = 0; u < nunix; u++) {
        g_assert_true(th_drain(hfd[u], NULL)); /* its channel closed */
        close(hfd[u]);
        g_byte_array_unref(hin[u]);
    }
    close(lfd);
    pipe_service_unregister("upper");
    pfix_cleanup(&p);
}

/* A guest that never reads: echo takes only what it can send; bounded. */
static void test_echo_guest_never_reads(void)
{
    PFix p;
    TgConn *c;
    g_autofree uint8_t *data = g_malloc0(65536);
    size_t sent = 0;

    pfix_init(&p, true, NULL);
    p.f.g->buf_alloc = 4096;
    p.f.g->auto_consume = false;
    c = pipe_open_status(&p, "echo", PIPE_OPEN_OK);
    for (int i = 0; i < 200; i++) {
        sent += tg_send(p.f.g, c, data, 65536);
        tg_poll(p.f.g);
    }
    tg_idle(p.f.g, 10);
    /* The guest got its 4 KiB; the muxer holds at most one buf_alloc of its
     * data plus what the service queued within the guest's credit. */
    g_assert_cmpuint(c->rx->len, ==, 4096);
    g_assert_cmpuint(sent, <=, VSOCK_DEFAULT_BUF_ALLOC + 4096);
    g_assert_cmpuint(fix_stats(&p.f).buffered, <=, VSOCK_DEFAULT_BUF_ALLOC + 4096);
    pfix_cleanup(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pipe/echo", test_echo);
    g_test_add_func("/pipe/name-with-data", test_name_with_data);
    g_test_add_func("/pipe/unknown", test_unknown);
    g_test_add_func("/pipe/bad-handshake", test_bad_handshake);
    g_test_add_func("/pipe/open-reply-off", test_open_reply_off);
    g_test_add_func("/pipe/unix", test_unix);
    g_test_add_func("/pipe/qemud-echo", test_qemud_echo);
    g_test_add_func("/pipe/custom-service", test_custom_service);
    g_test_add_func("/pipe/host-free", test_host_free);
    g_test_add_func("/pipe/64-channels", test_64_channels);
    g_test_add_func("/pipe/echo-guest-never-reads", test_echo_guest_never_reads);
    return g_test_run();
}

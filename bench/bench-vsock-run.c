/*
 * bench/bench-vsock-run.c - the measurements of `qcontext-bench vsock`.
 *
 * The guest side is the calling thread (it drives the FeVsock; pinned by
 * the caller); the host side is a Peer thread pinned to --cpus' second CPU
 * with a plain blocking unix socket: accepted on "<uds-path>_<port>" for
 * vsock, one end of a socketpair for the floor.  Throughput: the sender
 * starts the clock, the receiver stops it at its last byte.  Round trips:
 * the guest side times send + receive of each message, the peer echoes.
 * The wakeup row is an eventfd ping-pong between the same two threads
 * (one wakeup = half of it).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "bench-vsock.h"

#define VB_WARM 200 /* round trips not recorded */
#define VB_TIMEOUT_MS 30000

typedef enum { PEER_SINK, PEER_SOURCE, PEER_ECHO, PEER_EVENTFD } PeerMode;

typedef struct Peer {
    pthread_t th;
    PeerMode mode;
    int cpu;
    int lfd;             /* accept the connection here first (vsock), or -1 */
    int fd;              /* the connection (socketpair end, or the accepted one) */
    int start_fd;        /* PEER_SOURCE: an eventfd that says "go" */
    int efd_in, efd_out; /* PEER_EVENTFD */
    uint64_t bytes;
    unsigned msg;
    uint64_t t_end; /* PEER_SINK: when the last byte arrived */
    int err;        /* errno of what failed, 0 if nothing */
} Peer;

static gboolean vb_fail(GError **errp, const char *what, int err)
{
    g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", what,
                g_strerror(err));
    return FALSE;
}

static int write_all(int fd, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EPIPE;
        }
        done += (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = read(fd, (uint8_t *)buf + done, len - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EPIPE;
        }
        done += (size_t)n;
    }
    return 0;
}

static int peer_accept(Peer *p)
{
    struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};

    if (poll(&pfd, 1, VB_TIMEOUT_MS) != 1) {
        return -ETIMEDOUT;
    }
    p->fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
    return p->fd < 0 ? -errno : 0;
}

static int peer_sink(Peer *p)
{
    uint8_t *buf = g_malloc(p->msg);
    uint64_t got = 0;
    int r = 0;

    while (got < p->bytes) {
        ssize_t n = read(p->fd, buf, MIN(p->msg, p->bytes - got));

        if (n <= 0) {
            r = n < 0 ? -errno : -EPIPE;
            break;
        }
        got += (uint64_t)n;
    }
    p->t_end = bench_now_ns();
    g_free(buf);
    return r;
}

static int peer_source(Peer *p)
{
    uint8_t *buf = g_malloc0(p->msg);
    uint64_t go;
    int r = read(p->start_fd, &go, sizeof(go)) == sizeof(go) ? 0 : -EIO;

    for (uint64_t sent = 0; r == 0 && sent < p->bytes; sent += p->msg) {
        r = write_all(p->fd, buf, MIN(p->msg, p->bytes - sent));
    }
    g_free(buf);
    return r;
}

static int peer_echo(Peer *p)
{
    uint8_t *buf = g_malloc(p->msg);
    int r;

    while ((r = read_all(p->fd, buf, p->msg)) == 0 &&
           (r = write_all(p->fd, buf, p->msg)) == 0) {
    }
    g_free(buf);
    return r == -EPIPE || r == -ECONNRESET ? 0 : r; /* the end of the run */
}

static int peer_eventfd(Peer *p)
{
    uint64_t v;

    while (read(p->efd_in, &v, sizeof(v)) == sizeof(v) && v == 1) {
        if (write(p->efd_out, &v, sizeof(v)) != sizeof(v)) {
            return -errno;
        }
    }
    return 0;
}

static void *peer_main(void *opaque)
{
    Peer *p = opaque;
    int r = 0;

    bench_pin_tid(0, p->cpu, NULL);
    if (p->lfd >= 0) {
        r = peer_accept(p);
    }
    if (r == 0) {
        switch (p->mode) {
        case PEER_SINK:
            r = peer_sink(p);
            break;
        case PEER_SOURCE:
            r = peer_source(p);
            break;
        case PEER_ECHO:
            r = peer_echo(p);
            break;
        case PEER_EVENTFD:
            r = peer_eventfd(p);
            break;
        }
    }
    p->err = -r;
    return NULL;
}

static gboolean peer_start(Peer *p, GError **errp)
{
    int r = pthread_create(&p->th, NULL, peer_main, p);

    return r == 0 || vb_fail(errp, "cannot start the host thread", r);
}

static gboolean peer_join(Peer *p, const char *what, GError **errp)
{
    pthread_join(p->th, NULL);
    return p->err == 0 || vb_fail(errp, what, p->err);
}

/* ---- vsock ----------------------------------------------------------------- */

/* Listen on "<uds>_<port>" for the guest's next connection. */
static int vb_listen(Vb *b, uint32_t port, GError **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_autofree char *path = g_strdup_printf("%s_%u", b->uds, port);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    unlink(path);
    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG, "%s: too long", path);
        close(fd);
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 4) < 0) {
        vb_fail(errp, path, errno);
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

static void vb_unlisten(Vb *b, uint32_t port, int lfd)
{
    g_autofree char *path = g_strdup_printf("%s_%u", b->uds, port);

    close(lfd);
    unlink(path);
}

/* A guest connection whose host end the peer accepts on @lfd. */
static FeVsockConn *vb_connect(Vb *b, uint32_t port, GError **errp)
{
    return fe_vsock_connect(b->v, port, VIRTIO_VSOCK_TYPE_STREAM, errp);
}

static void vb_close(FeVsockConn *c)
{
    fe_vsock_rst(c, NULL);
    fe_vsock_conn_free(c);
}

gboolean vb_tput_vsock(Vb *b, gboolean to_host, double *mb_s, GError **errp)
{
    uint32_t port = b->next_port++;
    Peer p = {.mode = to_host ? PEER_SINK : PEER_SOURCE,
              .cpu = b->opt.cpu_host,
              .fd = -1,
              .bytes = b->opt.bytes,
              .msg = b->opt.msg_size};
    uint8_t *buf = g_malloc0(b->opt.msg_size);
    FeVsockConn *c = NULL;
    uint64_t t0, t1, one = 1;
    gboolean ok = FALSE;

    p.lfd = vb_listen(b, port, errp);
    p.start_fd = eventfd(0, EFD_CLOEXEC);
    if (p.lfd < 0 || !peer_start(&p, errp)) {
        goto out;
    }
    c = vb_connect(b, port, errp);
    t0 = bench_now_ns();
    if (c && to_host) {
        for (uint64_t sent = 0; sent < b->opt.bytes;) {
            gssize n = fe_vsock_send(c, buf, MIN(b->opt.msg_size, b->opt.bytes - sent),
                                     VB_TIMEOUT_MS, errp);
            if (n <= 0) {
                break;
            }
            sent += (uint64_t)n;
        }
    } else if (c) {
        (void)!write(p.start_fd, &one, sizeof(one));
        t0 = bench_now_ns();
        for (uint64_t got = 0; got < b->opt.bytes;) {
            gssize n = fe_vsock_recv(c, buf, b->opt.msg_size, VB_TIMEOUT_MS, errp);

            if (n <= 0) {
                break;
            }
            got += (uint64_t)n;
        }
    }
    t1 = bench_now_ns();
    if (!c || (errp && *errp)) {
        /* Failed: make the peer give up (its accept, read or write). */
        (void)!write(p.start_fd, &one, sizeof(one));
        shutdown(p.lfd, SHUT_RDWR);
        if (c) {
            vb_close(c);
            c = NULL;
        }
    }
    /* The sink must have everything before the connection goes. */
    ok = peer_join(&p, "host socket", errp && *errp ? NULL : errp) && !(errp && *errp);
    if (c) {
        vb_close(c);
    }
    if (ok) {
        *mb_s = (double)b->opt.bytes * 1e3 / (double)((to_host ? p.t_end : t1) - t0);
    }
out:
    if (p.fd >= 0) {
        close(p.fd);
    }
    if (p.lfd >= 0) {
        vb_unlisten(b, port, p.lfd);
    }
    close(p.start_fd);
    g_free(buf);
    return ok;
}

gboolean vb_rtt_vsock(Vb *b, GArray *samples, GError **errp)
{
    uint32_t port = b->next_port++;
    Peer p = {
        .mode = PEER_ECHO, .cpu = b->opt.cpu_host, .fd = -1, .msg = b->opt.rtt_size};
    uint8_t *buf = g_malloc0(b->opt.rtt_size);
    FeVsockConn *c;
    gboolean ok = FALSE;

    p.lfd = vb_listen(b, port, errp);
    if (p.lfd < 0 || !peer_start(&p, errp)) {
        goto out;
    }
    c = vb_connect(b, port, errp);
    for (unsigned i = 0; c && i < VB_WARM + b->opt.rtt_count; i++) {
        uint64_t t0 = bench_now_ns(), dt;

        if (fe_vsock_send(c, buf, b->opt.rtt_size, VB_TIMEOUT_MS, errp) !=
                (gssize)b->opt.rtt_size ||
            !fe_vsock_recv_all(c, buf, b->opt.rtt_size, VB_TIMEOUT_MS, errp)) {
            break;
        }
        dt = bench_now_ns() - t0;
        if (i >= VB_WARM) {
            g_array_append_val(samples, dt);
        }
    }
    if (c) {
        vb_close(c);
    } else {
        shutdown(p.lfd, SHUT_RDWR);
    }
    ok = peer_join(&p, "host socket", errp && *errp ? NULL : errp) && c &&
         !(errp && *errp);
out:
    if (p.fd >= 0) {
        close(p.fd);
    }
    if (p.lfd >= 0) {
        vb_unlisten(b, port, p.lfd);
    }
    g_free(buf);
    return ok;
}

/* ---- the floor: a unix socket pair between the same two threads ------------ */

gboolean vb_tput_floor(Vb *b, double *mb_s, GError **errp)
{
    int sv[2];
    Peer p = {.mode = PEER_SINK,
              .cpu = b->opt.cpu_host,
              .lfd = -1,
              .bytes = b->opt.bytes,
              .msg = b->opt.msg_size};
    uint8_t *buf = g_malloc0(b->opt.msg_size);
    uint64_t t0;
    int r = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_free(buf);
        return vb_fail(errp, "socketpair", errno);
    }
    p.fd = sv[1];
    if (!peer_start(&p, errp)) {
        goto out;
    }
    t0 = bench_now_ns();
    for (uint64_t sent = 0; r == 0 && sent < b->opt.bytes; sent += b->opt.msg_size) {
        r = write_all(sv[0], buf, MIN(b->opt.msg_size, b->opt.bytes - sent));
    }
    shutdown(sv[0], SHUT_WR);
    if (peer_join(&p, "floor socket", errp) && r == 0) {
        *mb_s = (double)b->opt.bytes * 1e3 / (double)(p.t_end - t0);
    } else if (r) {
        vb_fail(errp, "floor socket", -r);
    }
out:
    close(sv[0]);
    close(sv[1]);
    g_free(buf);
    return r == 0 && !(errp && *errp);
}

gboolean vb_rtt_floor(Vb *b, GArray *samples, GError **errp)
{
    int sv[2];
    Peer p = {
        .mode = PEER_ECHO, .cpu = b->opt.cpu_host, .lfd = -1, .msg = b->opt.rtt_size};
    uint8_t *buf = g_malloc0(b->opt.rtt_size);
    int r = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_free(buf);
        return vb_fail(errp, "socketpair", errno);
    }
    p.fd = sv[1];
    if (!peer_start(&p, errp)) {
        goto out;
    }
    for (unsigned i = 0; r == 0 && i < VB_WARM + b->opt.rtt_count; i++) {
        uint64_t t0 = bench_now_ns(), dt;

        r = write_all(sv[0], buf, b->opt.rtt_size);
        r = r ? r : read_all(sv[0], buf, b->opt.rtt_size);
        dt = bench_now_ns() - t0;
        if (r == 0 && i >= VB_WARM) {
            g_array_append_val(samples, dt);
        }
    }
    shutdown(sv[0], SHUT_RDWR);
    if (peer_join(&p, "floor socket", errp) && r) {
        vb_fail(errp, "floor socket", -r);
    }
out:
    close(sv[0]);
    close(sv[1]);
    g_free(buf);
    return r == 0 && !(errp && *errp);
}

gboolean vb_rtt_wakeup(Vb *b, GArray *samples, GError **errp)
{
    Peer p = {.mode = PEER_EVENTFD, .cpu = b->opt.cpu_host, .lfd = -1, .fd = -1};
    uint64_t v = 1, stop = 2;
    gboolean ok = TRUE;

    p.efd_in = eventfd(0, EFD_CLOEXEC);
    p.efd_out = eventfd(0, EFD_CLOEXEC);
    if (p.efd_in < 0 || p.efd_out < 0 || !peer_start(&p, errp)) {
        ok = FALSE;
        goto out;
    }
    for (unsigned i = 0; ok && i < VB_WARM + b->opt.rtt_count; i++) {
        uint64_t t0 = bench_now_ns(), dt;

        ok = write(p.efd_in, &v, sizeof(v)) == sizeof(v) &&
             read(p.efd_out, &v, sizeof(v)) == sizeof(v);
        dt = bench_now_ns() - t0;
        if (ok && i >= VB_WARM) {
            g_array_append_val(samples, dt);
        }
    }
    (void)!write(p.efd_in, &stop, sizeof(stop));
    ok = peer_join(&p, "eventfd", errp) && ok;
out:
    if (p.efd_in >= 0) {
        close(p.efd_in);
    }
    if (p.efd_out >= 0) {
        close(p.efd_out);
    }
    return ok;
}

/*
 * devices/vsock/vsock-listen.c - host-initiated connections (hybrid vsock,
 * as Firecracker): a host process connects to uds-path, writes
 * "CONNECT <port>\n" ("connect" in any case, blanks around the words
 * allowed), and the muxer sends the guest a REQUEST to that port.  Bytes
 * after the newline are the first payload.  A line that is malformed or
 * longer than 32 bytes closes the socket.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-vsock"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vsock-internal.h"

/* Longest "_<port>" suffix of a guest connection's socket path. */
#define VSOCK_PORT_SUFFIX_MAX 11
/* Connections accepted per wakeup of the listening socket. */
#define VSOCK_ACCEPT_BATCH 64

/* A host socket that has not finished its CONNECT line yet. */
typedef struct VsockPendingHost {
    VsockListener *l;
    int fd;
    uint8_t buf[VSOCK_CONNECT_LINE_MAX];
    uint32_t len;
    GList link;
} VsockPendingHost;

struct VsockListener {
    VsockMux *mux;
    int fd;
    char *path;
    GQueue pending;
};

static void pending_drop(VsockPendingHost *p)
{
    VsockListener *l = p->l;

    aio_set_fd_handler(l->mux->ctx, p->fd, NULL, NULL, NULL, NULL, NULL);
    close(p->fd);
    g_queue_unlink(&l->pending, &p->link);
    l->mux->pending_host--;
    g_free(p);
}

/* Parse "connect <port>" (the line without its newline). */
static bool parse_connect(const uint8_t *line, size_t len, uint32_t *port)
{
    char buf[VSOCK_CONNECT_LINE_MAX + 1];
    char *words[3];
    char *save = NULL;
    unsigned n = 0;
    guint64 v;

    if (memchr(line, '\0', len)) {
        return false;
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    for (char *w = strtok_r(buf, " \t\r", &save); w && n < G_N_ELEMENTS(words);
         w = strtok_r(NULL, " \t\r", &save)) {
        words[n++] = w;
    }
    if (n != 2 || g_ascii_strcasecmp(words[0], "connect") != 0 ||
        !g_ascii_string_to_unsigned(words[1], 10, 0, G_MAXUINT32, &v, NULL)) {
        return false;
    }
    *port = (uint32_t)v;
    return true;
}

/* The line is complete: ask the guest, hand the socket to a connection. */
static void pending_connect(VsockPendingHost *p, uint32_t port, size_t line_len)
{
    VsockMux *mux = p->l->mux;
    int fd = p->fd;
    uint8_t rest[VSOCK_CONNECT_LINE_MAX];
    size_t rest_len = p->len - line_len - 1;
    VsockConn *c;

    memcpy(rest, p->buf + line_len + 1, rest_len);
    aio_set_fd_handler(mux->ctx, fd, NULL, NULL, NULL, NULL, NULL);
    g_queue_unlink(&p->l->pending, &p->link);
    mux->pending_host--;
    g_free(p);

    c = vsock_conn_new(mux, vsock_mux_alloc_local_port(mux), port,
                       VIRTIO_VSOCK_TYPE_STREAM);
    c->host_initiated = true;
    c->state = VSOCK_CONN_CONNECTING;
    vsock_unix_attach(c, fd, false, rest, rest_len);
    vsock_mux_add_conn(mux, c);
    vsock_conn_set_pending(c, VSOCK_PEND_REQUEST);
    vsock_mux_kill_later(mux, c); /* the guest must answer in time */
}

static void pending_on_read(void *opaque)
{
    VsockPendingHost *p = opaque;
    ssize_t n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);
    uint8_t *nl;
    uint32_t port;

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        pending_drop(p); /* gone before its CONNECT line */
        return;
    }
    p->len += n;
    nl = memchr(p->buf, '\n', p->len);
    if (!nl) {
        if (p->len == sizeof(p->buf)) {
            g_debug("vsock: host CONNECT line longer than %d bytes, closed",
                    VSOCK_CONNECT_LINE_MAX);
            pending_drop(p);
        }
        return;
    }
    if (!parse_connect(p->buf, nl - p->buf, &port)) {
        g_debug("vsock: malformed host CONNECT line, closed");
        pending_drop(p);
        return;
    }
    pending_connect(p, port, nl - p->buf);
}

static void listener_on_accept(void *opaque)
{
    VsockListener *l = opaque;

    for (int i = 0; i < VSOCK_ACCEPT_BATCH; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        VsockPendingHost *p;

        if (fd < 0) {
            return; /* EAGAIN, or an error of that one connection */
        }
        if (!vsock_mux_has_room(l->mux)) {
            g_debug("vsock: connection limit (%u) reached, host connection closed",
                    l->mux->max_conns);
            close(fd);
            continue;
        }
        p = g_new0(VsockPendingHost, 1);
        p->l = l;
        p->fd = fd;
        p->link.data = p;
        g_queue_push_tail_link(&l->pending, &p->link);
        l->mux->pending_host++;
        aio_set_fd_handler(l->mux->ctx, fd, pending_on_read, NULL, NULL, NULL, p);
    }
}

/* Free @path of a stale socket nobody listens on; false if it is in use. */
static bool listener_take_path(const char *path, GError **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;
    bool live;

    if (lstat(path, &st) < 0) {
        return true;
    }
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(errp, VSOCK_ERROR, 0, "uds-path %s exists and is not a socket",
                    path);
        return false;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    if (live) {
        g_set_error(errp, VSOCK_ERROR, 0, "uds-path %s is in use by another process",
                    path);
        return false;
    }
    unlink(path);
    return true;
}

static int listener_bind(const char *path, GError **errp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
        g_set_error(errp, VSOCK_ERROR, 0, "cannot listen on uds-path %s: %s", path,
                    g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

VsockListener *vsock_listener_new(VsockMux *mux, const char *path, GError **errp)
{
    struct sockaddr_un sa;
    VsockListener *l;
    int fd;

    if (!*path || strlen(path) + VSOCK_PORT_SUFFIX_MAX >= sizeof(sa.sun_path)) {
        g_set_error(errp, VSOCK_ERROR, 0,
                    "uds-path must be 1 to %zu bytes long (the _PORT suffix must fit)",
                    sizeof(sa.sun_path) - VSOCK_PORT_SUFFIX_MAX - 1);
        return NULL;
    }
    if (!listener_take_path(path, errp)) {
        return NULL;
    }
    fd = listener_bind(path, errp);
    if (fd < 0) {
        return NULL;
    }
    l = g_new0(VsockListener, 1);
    l->mux = mux;
    l->fd = fd;
    l->path = g_strdup(path);
    g_queue_init(&l->pending);
    aio_set_fd_handler(mux->ctx, fd, listener_on_accept, NULL, NULL, NULL, l);
    return l;
}

void vsock_listener_drop_pending(VsockListener *l)
{
    while (l->pending.head) {
        pending_drop(l->pending.head->data);
    }
}

void vsock_listener_free(VsockListener *l)
{
    vsock_listener_drop_pending(l);
    aio_set_fd_handler(l->mux->ctx, l->fd, NULL, NULL, NULL, NULL, NULL);
    close(l->fd);
    unlink(l->path);
    g_free(l->path);
    g_free(l);
}

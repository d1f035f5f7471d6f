/*
 * devices/pipe/pipe-unix.c - the "unix:NAME" pipe service: the channel is
 * forwarded to the host unix socket that the pipe device's option
 * `unix.NAME=PATH` names.  Only those: a NAME without an option is refused
 * (status 2), so a guest cannot reach an arbitrary host path.
 *
 * Host -> guest bytes are read only as far as pipe_channel_send() takes
 * them (at most one 64 KiB read waits); guest -> host bytes the socket does
 * not take stay in the channel until it is writable.  Half-closes pass both
 * ways; a host socket that closes or fails closes the channel.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-pipe"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qcontext/devices/pipe/pipe.h"

#define UNIX_CHUNK (64 * 1024)

typedef struct UnixFwd {
    PipeChannel *ch;
    AioContext *ctx;
    int fd;
    bool reading, writing;
    bool host_eof;
    uint8_t *buf; /* host bytes read, not yet taken by the channel */
    size_t len, off;
} UnixFwd;

static void fwd_on_read(void *opaque);
static void fwd_on_write(void *opaque);

static void fwd_set_handlers(UnixFwd *f, bool reading, bool writing)
{
    if (f->fd < 0 || (reading == f->reading && writing == f->writing)) {
        return;
    }
    f->reading = reading;
    f->writing = writing;
    aio_set_fd_handler(f->ctx, f->fd, reading ? fwd_on_read : NULL,
                       writing ? fwd_on_write : NULL, NULL, NULL, f);
}

static int fwd_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >=
        (int)sizeof(sa.sun_path)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static PipeOpenStatus fwd_open(PipeChannel *ch, const char *args, void *opaque,
                               void **chan_opaque)
{
    g_autofree char *key = g_strdup_printf("unix.%s", args);
    const char *path = *args ? pipe_channel_option(ch, key) : NULL;
    UnixFwd *f;
    int fd;

    if (!path) {
        return PIPE_OPEN_REFUSED; /* not a socket the device was given */
    }
    fd = fwd_connect(path);
    if (fd < 0) {
        g_debug("pipe: unix:%s: cannot connect to %s: %s", args, path,
                g_strerror(errno));
        return PIPE_OPEN_REFUSED;
    }
    f = g_new0(UnixFwd, 1);
    f->ch = ch;
    f->ctx = pipe_channel_aio_context(ch);
    f->fd = fd;
    fwd_set_handlers(f, true, false);
    *chan_opaque = f;
    return PIPE_OPEN_OK;
}

/* Give the channel what was read; true if all of it went. */
static bool fwd_push(UnixFwd *f)
{
    f->off += pipe_channel_send(f->ch, f->buf + f->off, f->len - f->off);
    if (f->off < f->len) {
        return false;
    }
    g_clear_pointer(&f->buf, g_free);
    f->len = f->off = 0;
    return true;
}

static void fwd_on_read(void *opaque)
{
    UnixFwd *f = opaque;
    ssize_t n;

    f->buf = g_malloc(UNIX_CHUNK);
    n = recv(f->fd, f->buf, UNIX_CHUNK, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        g_clear_pointer(&f->buf, g_free);
        return;
    }
    if (n <= 0) {
        g_clear_pointer(&f->buf, g_free);
        fwd_set_handlers(f, false, f->writing);
        f->host_eof = true;
        if (n == 0) {
            pipe_channel_shutdown_send(f->ch);
        } else {
            pipe_channel_close(f->ch);
        }
        return;
    }
    f->len = n;
    if (!fwd_push(f)) {
        fwd_set_handlers(f, false, f->writing); /* until the guest takes it */
    }
}

static void fwd_writable(PipeChannel *ch, void *chan_opaque)
{
    UnixFwd *f = chan_opaque;

    if (f->buf && fwd_push(f) && !f->host_eof) {
        fwd_set_handlers(f, true, f->writing);
    }
}

static size_t fwd_recv(PipeChannel *ch, const uint8_t *data, size_t len,
                       void *chan_opaque)
{
    UnixFwd *f = chan_opaque;
    ssize_t n = send(f->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            pipe_channel_close(ch); /* the host side is gone */
            return len;
        }
        n = 0;
    }
    if ((size_t)n < len) {
        fwd_set_handlers(f, f->reading, true);
    }
    return n;
}

static void fwd_on_write(void *opaque)
{
    UnixFwd *f = opaque;

    fwd_set_handlers(f, f->reading, false);
    pipe_channel_resume_recv(f->ch);
}

static void fwd_eof(PipeChannel *ch, void *chan_opaque)
{
    UnixFwd *f = chan_opaque;

    shutdown(f->fd, SHUT_WR);
}

static void fwd_close(PipeChannel *ch, void *chan_opaque)
{
    UnixFwd *f = chan_opaque;

    fwd_set_handlers(f, false, false);
    close(f->fd);
    g_free(f->buf);
    g_free(f);
}

static const PipeServiceOps fwd_ops = {
    .open = fwd_open,
    .recv = fwd_recv,
    .writable = fwd_writable,
    .eof = fwd_eof,
    .close = fwd_close,
};

PIPE_SERVICE_REGISTER(unix, "unix", &fwd_ops, NULL)

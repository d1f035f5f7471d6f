/*
 * devices/vhost-user/vu-io.c - the sockets of a vhost-user back-end: the
 * listening socket (created 0600 under its final name by a rename, so it is
 * never reachable with looser permissions), reading one message at a time
 * with its SCM_RIGHTS fds from a non-blocking socket (a stalled front-end
 * never blocks the loop), and sending replies.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "vhost-user"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vu-internal.h"

#define VU_LISTEN_BACKLOG 16

/* ------------------------------------------------------------------------ */
/* Listening                                                                 */
/* ------------------------------------------------------------------------ */

static bool sun_fill(struct sockaddr_un *sa, const char *path, GError **errp)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        g_set_error(errp, VU_ERROR, 0,
                    "socket path '%s' is too long (at most %zu bytes)", path,
                    sizeof(sa->sun_path) - 1);
        return false;
    }
    strcpy(sa->sun_path, path);
    return true;
}

/* An existing @path may be replaced only if it is a socket nobody serves. */
static bool path_replaceable(const char *path, GError **errp)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) < 0) {
        return true; /* nothing there */
    }
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(errp, VU_ERROR, 0, "'%s' exists and is not a socket", path);
        return false;
    }
    if (!sun_fill(&sa, path, errp)) {
        return false;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(errp, VU_ERROR, 0, "socket: %s", g_strerror(errno));
        return false;
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        g_set_error(errp, VU_ERROR, 0, "socket '%s' is in use by another server", path);
        return false;
    }
    return true;
}

/* Bind and listen at @where; chmod 0600 before anyone can reach the name
 * it will finally have. */
static int bind_listen(const char *where, GError **errp)
{
    struct sockaddr_un sa;
    int fd;

    if (!sun_fill(&sa, where, errp)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        g_set_error(errp, VU_ERROR, 0, "socket: %s", g_strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(where, 0600) < 0 ||
        listen(fd, VU_LISTEN_BACKLOG) < 0) {
        g_set_error(errp, VU_ERROR, 0, "cannot listen on '%s': %s", where,
                    g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

bool vu_io_listen_path(VuDev *dev, const char *path, GError **errp)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *tmpdir = g_build_filename(dir, ".vhost-user-XXXXXX", NULL);
    g_autofree char *tmp = NULL;
    struct stat st;
    int fd;

    if (!path_replaceable(path, errp) ||
        !sun_fill(&(struct sockaddr_un){0}, path, errp)) {
        return false;
    }
    if (!g_mkdtemp_full(tmpdir, 0700)) {
        g_set_error(errp, VU_ERROR, 0, "cannot create the socket in '%s': %s", dir,
                    g_strerror(errno));
        return false;
    }
    tmp = g_build_filename(tmpdir, "s", NULL);
    fd = bind_listen(tmp, NULL);
    if (fd >= 0 && rename(tmp, path) < 0) {
        g_set_error(errp, VU_ERROR, 0, "cannot create socket '%s': %s", path,
                    g_strerror(errno));
        close(fd);
        unlink(tmp);
        rmdir(tmpdir);
        return false;
    }
    rmdir(tmpdir);
    if (fd < 0) {
        /* The temporary name was too long: bind in place (mode set at once). */
        unlink(path);
        fd = bind_listen(path, errp);
        if (fd < 0) {
            return false;
        }
    }
    if (stat(path, &st) == 0) {
        dev->path_dev = st.st_dev;
        dev->path_ino = st.st_ino;
    }
    dev->listen_fd = fd;
    dev->path = g_strdup(path);
    return true;
}

bool vu_io_listen_fd(VuDev *dev, int fd, GError **errp)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    int listening = 0;
    socklen_t optlen = sizeof(listening);

    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX) {
        g_set_error(errp, VU_ERROR, 0, "fd %d is not a unix socket", fd);
        return false;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) < 0) {
        g_set_error(errp, VU_ERROR, 0, "fd %d: %s", fd, g_strerror(errno));
        return false;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        g_set_error(errp, VU_ERROR, 0, "fd %d: %s", fd, g_strerror(errno));
        return false;
    }
    if (listening) {
        dev->listen_fd = fd;
    } else {
        dev->conn_fd = fd;
        dev->served_once = true;
    }
    return true;
}

void vu_io_close_listener(VuDev *dev)
{
    struct stat st;

    if (dev->listen_fd >= 0) {
        vu_listen_watch(dev, false);
        close(dev->listen_fd);
        dev->listen_fd = -1;
    }
    if (dev->path) {
        /* Unlink only our own socket, not one that replaced it. */
        if (stat(dev->path, &st) == 0 && st.st_dev == dev->path_dev &&
            st.st_ino == dev->path_ino) {
            unlink(dev->path);
        }
        g_clear_pointer(&dev->path, g_free);
    }
}

int vu_io_accept(VuDev *dev)
{
    return accept4(dev->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

int vu_msg_take_fd(VuMsg *msg, unsigned i)
{
    int fd;

    if (i >= msg->nfds) {
        return -1;
    }
    fd = msg->fds[i];
    msg->fds[i] = -1;
    return fd;
}

void vu_msg_close_fds(VuMsg *msg)
{
    for (unsigned i = 0; i < msg->nfds; i++) {
        if (msg->fds[i] >= 0) {
            close(msg->fds[i]);
        }
    }
    msg->nfds = 0;
}

void vu_io_reader_reset(VuReader *rd)
{
    vu_msg_close_fds(&rd->msg);
    memset(rd, 0, sizeof(*rd));
}

/* Keep the fds of a control message (close what does not fit). */
static void collect_fds(VuReader *rd, struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        size_t n;
        int *fds;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        fds = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, &fds[i], sizeof(fd));
            if (rd->msg.nfds < VHOST_USER_MAX_FDS) {
                rd->msg.fds[rd->msg.nfds++] = fd;
            } else {
                close(fd);
                rd->fds_overrun = true;
            }
        }
    }
}

/* Read up to @len bytes into @buf with any fds; like recvmsg(). */
static ssize_t recv_part(VuDev *dev, void *buf, size_t len)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    ssize_t n;

    do {
        n = recvmsg(dev->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -1;
    }
    collect_fds(&dev->rd, &mh);
    if (mh.msg_flags & MSG_CTRUNC) {
        dev->rd.fds_overrun = true;
    }
    return n;
}

/*
 * Read the rest of the current message.  1: complete (in dev->rd.msg);
 * 0: more bytes needed (EAGAIN); -1: end of the connection (*errp NULL for
 * a plain EOF or reset, set for a malformed message).
 */
int vu_io_read_msg(VuDev *dev, GError **errp)
{
    VuReader *rd = &dev->rd;
    const size_t hsz = sizeof(VhostUserHeader);

    for (;;) {
        size_t want = rd->got < hsz ? hsz : hsz + rd->msg.hdr.size;
        uint8_t *dst = rd->got < hsz ? (uint8_t *)&rd->msg.hdr + rd->got
                                     : (uint8_t *)&rd->msg.payload + (rd->got - hsz);
        ssize_t n;

        if (rd->got == want) {
            break;
        }
        n = recv_part(dev, dst, want - rd->got);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0;
            }
            if (errno != ECONNRESET && errno != EPIPE) {
                g_set_error(errp, VU_ERROR, 0, "read: %s", g_strerror(errno));
            }
            return -1;
        }
        if (rd->fds_overrun) {
            g_set_error(errp, VU_ERROR, 0, "a message carries more than %d fds",
                        VHOST_USER_MAX_FDS);
            return -1;
        }
        if (n == 0) {
            if (rd->got > 0) {
                g_set_error(errp, VU_ERROR, 0, "truncated message (%zu of %zu bytes)",
                            rd->got, want);
            }
            return -1;
        }
        rd->got += (size_t)n;
        if (rd->got == hsz && rd->msg.hdr.size > sizeof(VhostUserPayload)) {
            g_set_error(errp, VU_ERROR, 0, "%s with a %u-byte payload (at most %zu)",
                        vu_request_name(rd->msg.hdr.request), rd->msg.hdr.size,
                        sizeof(VhostUserPayload));
            return -1;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                   */
/* ------------------------------------------------------------------------ */

void vu_io_send(VuDev *dev, const VhostUserHeader *req, const void *payload,
                uint32_t size, int fd)
{
    VhostUserHeader h = {
        .request = req->request,
        .flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
        .size = size,
    };

    if (dev->conn_fd < 0) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    g_byte_array_append(dev->out, (const guint8 *)&h, sizeof(h));
    if (size) {
        g_byte_array_append(dev->out, payload, size);
    }
    g_assert(dev->out_fd < 0);
    dev->out_fd = fd;
}

/* Send what is queued.  True when everything went; false if the socket is
 * full (the caller waits for POLLOUT) or broken (dev->conn_fd is then
 * still open, and errno says why: EPIPE, ECONNRESET...). */
bool vu_io_flush(VuDev *dev)
{
    while (dev->out->len > 0) {
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = dev->out->data, .iov_len = dev->out->len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n;

        if (dev->out_fd >= 0) {
            struct cmsghdr *c;

            memset(&control, 0, sizeof(control));
            mh.msg_control = control.buf;
            mh.msg_controllen = sizeof(control.buf);
            c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &dev->out_fd, sizeof(int));
        }
        do {
            n = sendmsg(dev->conn_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            return false;
        }
        if (dev->out_fd >= 0) {
            close(dev->out_fd); /* sent with the first byte */
            dev->out_fd = -1;
        }
        g_byte_array_remove_range(dev->out, 0, (guint)n);
    }
    errno = 0;
    return true;
}

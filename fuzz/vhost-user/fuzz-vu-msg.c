/*
 * fuzz/vhost-user/fuzz-vu-msg.c - libFuzzer target: the vhost-user message
 * handler, fed a stream of messages through a real socket.
 *
 * Input: a sequence of records.  Each record is one byte of fd spec (low 4
 * bits: how many fds, 0..9; bits 4-5: their kind: eventfd, a 64 KiB memfd,
 * a pipe, /dev/null), then a 12-byte header and as many payload bytes as it
 * announces (fewer at the end of the input: a truncated message).  Bytes
 * are sent as they are: wrong sizes, fd counts, indexes, regions...
 *
 * The device behind it processes its rings (popping every chain of
 * whatever the guest memory holds) on the control context.
 *
 * Invariants checked for every input: no crash or sanitizer report, and no
 * fd left open by the back-end once the connection is gone.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qcontext/devices/vhost-user/vhost-user.h"

#define MEMFD_SIZE (64 * 1024)

static AioContext *ctx;
static bool closed;
static bool verbose; /* FUZZ_VERBOSE=1: show the back-end's log lines */

static unsigned count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    while (d && readdir(d)) {
        n++;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static uint64_t f_features(VuDev *dev)
{
    return 1ULL << 9; /* any device bit */
}

static bool f_get_config(VuDev *dev, uint8_t *buf, uint32_t off, uint32_t len)
{
    for (uint32_t i = 0; i < len && off + i < 60; i++) {
        buf[i] = (uint8_t)(off + i);
    }
    return off < 200;
}

static bool f_set_config(VuDev *dev, const uint8_t *buf, uint32_t off, uint32_t len,
                         uint32_t flags)
{
    return off == 0;
}

/* Pop whatever the guest memory says, complete it at once. */
static void f_process(VuDev *dev, VuQueue *q)
{
    struct iovec iov[64];
    VirtQueueElement e = {.iov = iov, .iov_cap = 64};
    int n = 0;

    while (n++ < 64 && vu_queue_pop(q, &e)) {
        vu_queue_push(q, &e, 0);
    }
    vu_queue_flush(q);
}

static const VuDevOps ops = {
    .get_features = f_features,
    .get_config = f_get_config,
    .set_config = f_set_config,
    .process = f_process,
    .queue_start = vu_aio_queue_start,
    .queue_stop = vu_aio_queue_stop,
};

/* Expected warnings (bad messages) are dropped; criticals abort. */
static GLogWriterOutput quiet_writer(GLogLevelFlags level, const GLogField *fields,
                                     gsize n, gpointer user_data)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
        g_log_writer_default(level, fields, n, user_data);
        abort();
    }
    if (verbose) {
        return g_log_writer_default(level, fields, n, user_data);
    }
    return G_LOG_WRITER_HANDLED;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    verbose = g_getenv("FUZZ_VERBOSE") != NULL;
    g_log_set_writer_func(quiet_writer, NULL, NULL);
    ctx = aio_context_new(NULL);
    aio_context_set_home_thread(ctx);
    return 0;
}

static void pump(void)
{
    for (int i = 0; i < 1000 && aio_poll(ctx, false); i++) {
    }
}

static int make_fd(unsigned kind)
{
    int p[2], fd;

    switch (kind) {
    case 0:
        return eventfd(0, EFD_CLOEXEC);
    case 1:
        fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd >= 0 && ftruncate(fd, MEMFD_SIZE) < 0) {
            close(fd);
            return -1;
        }
        return fd;
    case 2:
        if (pipe2(p, O_CLOEXEC) < 0) {
            return -1;
        }
        close(p[1]);
        return p[0];
    default:
        return open("/dev/null", O_RDWR | O_CLOEXEC);
    }
}

static void send_record(int sock, const uint8_t *rec, size_t len, uint8_t spec)
{
    unsigned nfds = MIN(spec & 0xf, 9u), kind = (spec >> 4) & 3;
    char control[CMSG_SPACE(sizeof(int) * 9)];
    int fds[9];
    struct iovec iov = {.iov_base = (void *)rec, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    unsigned made = 0;

    for (unsigned i = 0; i < nfds; i++) {
        int fd = make_fd(kind);

        if (fd >= 0) {
            fds[made++] = fd;
        }
    }
    if (made) {
        struct cmsghdr *c;

        memset(control, 0, sizeof(control));
        mh.msg_control = control;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * made);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * made);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * made);
    }
    if (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* The back-end closed (or its buffer is full): stop there. */
    }
    for (unsigned i = 0; i < made; i++) {
        close(fds[i]);
    }
}

/* Read and drop the replies (closing any fd they carry). */
static void drain(int sock)
{
    uint8_t buf[4096];
    char control[CMSG_SPACE(sizeof(int) * 8)];

    for (;;) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control,
                            .msg_controllen = sizeof(control)};

        if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0) {
            return;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_type == SCM_RIGHTS) {
                int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

                for (int i = 0; i < n; i++) {
                    int fd;

                    memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                    close(fd);
                }
            }
        }
    }
}

static void on_closed(void *opaque)
{
    closed = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned fds_before = count_fds();
    VuDev *dev = vu_dev_new("fuzz", 2, &ops, NULL, ctx);
    int sv[2];
    size_t pos = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        abort();
    }
    if (!vu_dev_listen_fd(dev, sv[0], NULL)) {
        abort();
    }
    while (pos < size) {
        uint8_t spec = data[pos++];
        VhostUserHeader h = {0};
        size_t len;

        memcpy(&h, data + pos, MIN(sizeof(h), size - pos));
        len = MIN(sizeof(h) + MIN(h.size, 512u), size - pos);
        send_record(sv[1], data + pos, len, spec);
        pos += len;
        pump();
        drain(sv[1]);
    }
    close(sv[1]);
    pump();
    closed = false;
    vu_dev_close(dev, on_closed, NULL);
    while (!closed) {
        aio_poll(ctx, true);
    }
    vu_dev_free(dev);
    pump();
    if (count_fds() != fds_before) {
        abort(); /* a received fd was not closed */
    }
    return 0;
}

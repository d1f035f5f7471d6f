/*
 * tests/vhost-user/vu-blk-server.c - a test-only vhost-user-blk back-end
 * process: the vhost-user library and the virtio-blk logic on plain
 * AioContexts (the control context on the main thread, one thread per
 * queue), without the device layer (qcontextd's -device virtio-blk is the
 * product), over a raw file: one BlockBackend (block/block.h) for every
 * queue, each submitting from its own context.
 *
 *   vu-blk-server --socket PATH --file DISK [--queues N]
 *                 [--aio threads|native|io_uring] [--direct] [--readonly]
 *                 [--serial S] [--latency-ms N]
 *
 * --latency-ms delays every request by N ms before it reaches the file, so
 * that a test can kill the process with requests in flight.  SIGTERM or
 * SIGINT: close the front-end connection cleanly and exit 0.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcontext/block/block.h"
#include "qcontext/devices/blk/virtio-blk.h"
#include "qcontext/devices/virtio/iov.h"
#include "vu-test-loop.h"

#define MAX_QUEUES 16

typedef struct Server {
    AioContext *ctrl;
    TestLoop loops[MAX_QUEUES];
    unsigned nq;
    BlockBackend *blk;
    VirtioBlk *vb;
    VuDev *dev;
    guint latency_ms;
    bool quit, closed;
    EventNotifier sig;
} Server;

static Server srv;
static int sig_fd = -1;

/* ------------------------------------------------------------------------ */
/* The file backend (block/block.h, submitted from each queue's context)     */
/* ------------------------------------------------------------------------ */

typedef struct Delayed {
    QEMUTimer *timer;
    bool write;
    int64_t off;
    struct iovec *iov;
    int cnt;
    BlockCompletionFunc *cb;
    void *opaque;
} Delayed;

static void delayed_fire(void *opaque)
{
    Delayed *d = opaque;

    if (d->write) {
        blk_aio_pwritev(srv.blk, NULL, d->off, d->iov, d->cnt, d->cb, d->opaque);
    } else {
        blk_aio_preadv(srv.blk, NULL, d->off, d->iov, d->cnt, d->cb, d->opaque);
    }
    timer_free(d->timer);
    g_free(d->iov);
    g_free(d);
}

static void rw(bool write, int64_t off, const struct iovec *iov, int cnt,
               BlockCompletionFunc *cb, void *opaque)
{
    Delayed *d;

    if (!srv.latency_ms) {
        if (write) {
            blk_aio_pwritev(srv.blk, NULL, off, iov, cnt, cb, opaque);
        } else {
            blk_aio_preadv(srv.blk, NULL, off, iov, cnt, cb, opaque);
        }
        return;
    }
    d = g_new0(Delayed, 1);
    *d = (Delayed){.write = write, .off = off, .cnt = cnt, .cb = cb, .opaque = opaque};
    d->iov = g_memdup2(iov, sizeof(*iov) * (size_t)cnt);
    d->timer = aio_timer_new(qemu_get_current_aio_context(), QEMU_CLOCK_REALTIME,
                             SCALE_MS, delayed_fire, d);
    timer_mod(d->timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + srv.latency_ms);
}

static void file_readv(void *be, AioContext *ctx, int64_t off, const struct iovec *iov,
                       int cnt, BlockCompletionFunc *cb, void *opaque)
{
    rw(false, off, iov, cnt, cb, opaque);
}

static void file_writev(void *be, AioContext *ctx, int64_t off, const struct iovec *iov,
                        int cnt, BlockCompletionFunc *cb, void *opaque)
{
    rw(true, off, iov, cnt, cb, opaque);
}

static void file_flush(void *be, AioContext *ctx, BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_flush(srv.blk, ctx, cb, opaque);
}

static void file_discard(void *be, AioContext *ctx, int64_t off, int64_t len,
                         BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_pdiscard(srv.blk, ctx, off, len, cb, opaque);
}

static void file_write_zeroes(void *be, AioContext *ctx, int64_t off, int64_t len,
                              bool may_unmap, BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_pwrite_zeroes(srv.blk, ctx, off, len, may_unmap ? BLK_ZERO_MAY_UNMAP : 0,
                          cb, opaque);
}

static void file_plug(void *be, AioContext *ctx)
{
    blk_io_plug(srv.blk, ctx);
}

static void file_unplug(void *be, AioContext *ctx)
{
    blk_io_unplug(srv.blk, ctx);
}

static const VblkBackendOps file_ops = {file_readv,   file_writev,       file_flush,
                                        file_discard, file_write_zeroes, file_plug,
                                        file_unplug};

/* ------------------------------------------------------------------------ */
/* The vhost-user device                                                     */
/* ------------------------------------------------------------------------ */

static uint64_t s_get_features(VuDev *dev)
{
    return vblk_features(srv.vb);
}

static void s_set_features(VuDev *dev, uint64_t f)
{
    vblk_set_acked_features(srv.vb, f);
}

static bool s_get_config(VuDev *dev, uint8_t *buf, uint32_t off, uint32_t len)
{
    return vblk_read_config(srv.vb, buf, off, len);
}

static void s_process(VuDev *dev, VuQueue *q)
{
    vblk_process(srv.vb, q, NULL);
}

static const VuDevOps vu_ops = {
    .get_features = s_get_features,
    .set_features = s_set_features,
    .get_config = s_get_config,
    .process = s_process,
    .queue_start = vu_aio_queue_start,
    .queue_stop = vu_aio_queue_stop,
};

static void on_signal(int sig)
{
    uint64_t one = 1;

    if (write(sig_fd, &one, sizeof(one)) < 0) {
        _exit(1);
    }
}

static void sig_read(EventNotifier *e)
{
    event_notifier_test_and_clear(e);
    srv.quit = true;
}

static void closed(void *opaque)
{
    srv.closed = true;
}

typedef struct Args {
    char *socket, *file, *aio, *serial;
    int queues, latency_ms, lbs;
    gboolean direct, readonly;
} Args;

static void open_disk(Args *a, VblkBackendInfo *info)
{
    BlockAioMode mode = BLOCK_AIO_THREADS;
    int flags = (a->direct ? BLK_F_DIRECT : 0) | (a->readonly ? BLK_F_RDONLY : 0) |
                BLK_F_DISCARD_UNMAP;
    GError *err = NULL;
    BlockInfo bi;

    if (a->aio && !block_aio_mode_parse(a->aio, &mode, &err)) {
        g_printerr("vu-blk-server: %s\n", err->message);
        exit(1);
    }
    srv.blk = blk_open(a->file, mode, flags, &err);
    if (!srv.blk) {
        g_printerr("vu-blk-server: %s\n", err->message);
        exit(1);
    }
    blk_get_info(srv.blk, &bi);
    *info = (VblkBackendInfo){.size = bi.size,
                              .read_only = bi.read_only,
                              .logical_block_size = bi.logical_block_size,
                              .physical_block_size = bi.physical_block_size,
                              .max_iov = bi.max_iov,
                              .discard = true,
                              .write_zeroes = true,
                              .write_zeroes_may_unmap = bi.write_zeroes_may_unmap};
    for (unsigned i = 0; i < srv.nq; i++) {
        test_loop_start(&srv.loops[i], "vu-blk-queue");
    }
}

int main(int argc, char **argv)
{
    Args a = {.queues = 1};
    GOptionEntry entries[] = {
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &a.socket, "listening socket", "PATH"},
        {"file", 0, 0, G_OPTION_ARG_FILENAME, &a.file, "disk image (raw)", "PATH"},
        {"queues", 0, 0, G_OPTION_ARG_INT, &a.queues, "queues (1..16)", "N"},
        {"aio", 0, 0, G_OPTION_ARG_STRING, &a.aio, "threads|native|io_uring", "MODE"},
        {"direct", 0, 0, G_OPTION_ARG_NONE, &a.direct, "O_DIRECT", NULL},
        {"readonly", 0, 0, G_OPTION_ARG_NONE, &a.readonly, "read-only disk", NULL},
        {"serial", 0, 0, G_OPTION_ARG_STRING, &a.serial, "GET_ID string", "S"},
        {"latency-ms", 0, 0, G_OPTION_ARG_INT, &a.latency_ms, "delay each request",
         "N"},
        {"logical-block-size", 0, 0, G_OPTION_ARG_INT, &a.lbs, "512 or 4096", "N"},
        {NULL}};
    g_autoptr(GOptionContext) oc =
        g_option_context_new("- test vhost-user-blk back-end");
    VblkBackendInfo info = {0};
    VblkConf conf;
    GError *err = NULL;

    g_option_context_add_main_entries(oc, entries, NULL);
    if (!g_option_context_parse(oc, &argc, &argv, &err) || !a.socket || !a.file ||
        a.queues < 1 || a.queues > MAX_QUEUES) {
        g_printerr("vu-blk-server: %s\n",
                   err ? err->message : "need --socket and --file");
        return 1;
    }
    srv.nq = (unsigned)a.queues;
    srv.latency_ms = (guint)MAX(a.latency_ms, 0);
    srv.ctrl = aio_context_new(&err);
    g_assert_no_error(err);
    aio_context_set_home_thread(srv.ctrl);
    open_disk(&a, &info);
    conf = (VblkConf){.num_queues = (uint16_t)srv.nq,
                      .logical_block_size = (uint32_t)a.lbs,
                      .serial = a.serial};
    srv.vb = vblk_new(&conf, &info, &file_ops, NULL, &err);
    if (!srv.vb) {
        g_printerr("vu-blk-server: %s\n", err->message);
        return 1;
    }
    srv.dev = vu_dev_new("vu-blk-server", (uint16_t)srv.nq, &vu_ops, NULL, srv.ctrl);
    for (unsigned i = 0; i < srv.nq; i++) {
        vu_queue_set_aio_context(vu_dev_get_queue(srv.dev, i), srv.loops[i].ctx);
    }
    g_assert_cmpint(event_notifier_init(&srv.sig, 0), ==, 0);
    sig_fd = event_notifier_get_fd(&srv.sig);
    aio_set_event_notifier(srv.ctrl, &srv.sig, sig_read, NULL, NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (!vu_dev_listen_path(srv.dev, a.socket, &err)) {
        g_printerr("vu-blk-server: %s\n", err->message);
        return 1;
    }
    printf("vu-blk-server: serving %s on %s (%u queue%s)\n", a.file, a.socket, srv.nq,
           srv.nq > 1 ? "s" : "");
    fflush(stdout);
    while (!srv.quit) {
        aio_poll(srv.ctrl, true);
    }
    vu_dev_close(srv.dev, closed, NULL);
    while (!srv.closed) {
        aio_poll(srv.ctrl, true);
    }
    vu_dev_free(srv.dev);
    vblk_free(srv.vb);
    blk_close(srv.blk); /* each queue is released on its loop, still running */
    for (unsigned i = 0; i < srv.nq; i++) {
        test_loop_stop(&srv.loops[i]);
    }
    aio_set_event_notifier(srv.ctrl, &srv.sig, NULL, NULL, NULL);
    event_notifier_cleanup(&srv.sig);
    aio_context_unref(srv.ctrl);
    g_free(a.socket);
    g_free(a.file);
    g_free(a.aio);
    g_free(a.serial);
    return 0;
}

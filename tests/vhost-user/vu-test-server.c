/*
 * tests/vhost-user/vu-test-server.c - an in-process virtio-blk back-end on
 * test threads (see vu-test-server.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/virtio/iov.h"
#include "vu-test-server.h"

#define MAX_LOOPS 4

/* ------------------------------------------------------------------------ */
/* The server                                                                */
/* ------------------------------------------------------------------------ */

struct TestServer {
    TestServerOpts opts;
    char *dir, *path;
    TestLoop ctrl;
    TestLoop loops[MAX_LOOPS];
    unsigned nloops;
    VuDevOps ops;
    VuDev *dev;
    VirtioBlk *vb;
    VblkBackendOps disk_ops;
    uint8_t *disk;
    TestDiskStats stats;
    pthread_mutex_t lock; /* held completions, closed */
    pthread_cond_t cond;
    bool hold;
    GPtrArray *held;
    bool closed;
    unsigned disconnects;
    GThread *queue_thread[MAX_LOOPS];
};

typedef struct DiskReq {
    BlockCompletionFunc *cb;
    void *opaque;
    int ret;
    AioContext *ctx;
} DiskReq;

static void disk_done_bh(void *opaque)
{
    DiskReq *r = opaque;

    r->cb(r->opaque, r->ret);
    g_free(r);
}

static void disk_complete(TestServer *s, BlockCompletionFunc *cb, void *opaque, int ret)
{
    DiskReq *r = g_new(DiskReq, 1);

    *r = (DiskReq){cb, opaque, ret, qemu_get_current_aio_context()};
    g_assert_nonnull(r->ctx);
    pthread_mutex_lock(&s->lock);
    if (s->hold) {
        g_ptr_array_add(s->held, r);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    pthread_mutex_unlock(&s->lock);
    aio_bh_schedule_oneshot(r->ctx, disk_done_bh, r);
}

static void disk_note_thread(TestServer *s)
{
    for (unsigned i = 0; i < s->nloops; i++) {
        if (s->loops[i].thread == g_thread_self()) {
            qatomic_set(&s->queue_thread[i], g_thread_self());
        }
    }
}

static void disk_readv(void *be, AioContext *ctx, int64_t off, const struct iovec *iov,
                       int cnt, BlockCompletionFunc *cb, void *opaque)
{
    TestServer *s = be;
    size_t len = iov_size(iov, (unsigned)cnt);

    g_assert_null(ctx);
    g_assert_cmpuint((uint64_t)off + len, <=, s->opts.size);
    pthread_mutex_lock(&s->lock);
    iov_from_buf(iov, (unsigned)cnt, 0, s->disk + off, len);
    pthread_mutex_unlock(&s->lock);
    qatomic_inc(&s->stats.reads);
    disk_note_thread(s);
    disk_complete(s, cb, opaque, 0);
}

static void disk_writev(void *be, AioContext *ctx, int64_t off, const struct iovec *iov,
                        int cnt, BlockCompletionFunc *cb, void *opaque)
{
    TestServer *s = be;
    size_t len = iov_size(iov, (unsigned)cnt);

    g_assert_false(s->opts.read_only);
    g_assert_cmpuint((uint64_t)off + len, <=, s->opts.size);
    pthread_mutex_lock(&s->lock);
    iov_to_buf(iov, (unsigned)cnt, 0, s->disk + off, len);
    pthread_mutex_unlock(&s->lock);
    qatomic_inc(&s->stats.writes);
    disk_note_thread(s);
    disk_complete(s, cb, opaque, 0);
}

static void disk_flush(void *be, AioContext *ctx, BlockCompletionFunc *cb, void *opaque)
{
    TestServer *s = be;

    qatomic_inc(&s->stats.flushes);
    disk_complete(s, cb, opaque, 0);
}

static void disk_discard(void *be, AioContext *ctx, int64_t off, int64_t bytes,
                         BlockCompletionFunc *cb, void *opaque)
{
    TestServer *s = be;

    g_assert_cmpuint((uint64_t)(off + bytes), <=, s->opts.size);
    test_server_disk_fill(s, (uint64_t)off, 0, (size_t)bytes); /* deallocated: zeroes */
    qatomic_inc(&s->stats.discards);
    disk_complete(s, cb, opaque, 0);
}

static void disk_write_zeroes(void *be, AioContext *ctx, int64_t off, int64_t bytes,
                              bool may_unmap, BlockCompletionFunc *cb, void *opaque)
{
    TestServer *s = be;

    g_assert_cmpuint((uint64_t)(off + bytes), <=, s->opts.size);
    test_server_disk_fill(s, (uint64_t)off, 0, (size_t)bytes);
    qatomic_inc(&s->stats.write_zeroes);
    disk_complete(s, cb, opaque, 0);
}

static void disk_plug(void *be, AioContext *ctx)
{
    qatomic_inc(&((TestServer *)be)->stats.plugs);
}

static void disk_unplug(void *be, AioContext *ctx)
{
    qatomic_inc(&((TestServer *)be)->stats.unplugs);
}

/* VuDevOps glue (the VuDev's opaque is the TestServer). */
static uint64_t srv_get_features(VuDev *dev)
{
    return vblk_features(((TestServer *)vu_dev_get_opaque(dev))->vb);
}

static void srv_set_features(VuDev *dev, uint64_t f)
{
    vblk_set_acked_features(((TestServer *)vu_dev_get_opaque(dev))->vb, f);
}

static bool srv_get_config(VuDev *dev, uint8_t *buf, uint32_t off, uint32_t len)
{
    return vblk_read_config(((TestServer *)vu_dev_get_opaque(dev))->vb, buf, off, len);
}

static void srv_process(VuDev *dev, VuQueue *q)
{
    vblk_process(((TestServer *)vu_dev_get_opaque(dev))->vb, q, NULL);
}

static void srv_disconnected(VuDev *dev)
{
    TestServer *s = vu_dev_get_opaque(dev);

    pthread_mutex_lock(&s->lock);
    s->disconnects++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void server_create(void *opaque)
{
    TestServer *s = opaque;
    VblkConf conf = {.num_queues = (uint16_t)s->opts.num_queues,
                     .serial = s->opts.serial};
    VblkBackendInfo info = {.size = s->opts.size,
                            .read_only = s->opts.read_only,
                            .logical_block_size = 512,
                            .physical_block_size = 4096,
                            .max_iov = 1024,
                            .discard = true,
                            .write_zeroes = true,
                            .write_zeroes_may_unmap = true};
    GError *err = NULL;

    s->vb = vblk_new(&conf, &info, &s->disk_ops, s, &err);
    g_assert_no_error(err);
    s->dev =
        vu_dev_new("vblk-test", (uint16_t)s->opts.num_queues, &s->ops, s, s->ctrl.ctx);
    for (unsigned q = 0; q < s->opts.num_queues; q++) {
        if (!s->opts.queues_on_ctrl) {
            vu_queue_set_aio_context(vu_dev_get_queue(s->dev, q),
                                     s->loops[q % s->nloops].ctx);
        }
    }
    g_assert_true(vu_dev_listen_path(s->dev, s->path, &err));
    g_assert_no_error(err);
}

TestServer *test_server_new(const TestServerOpts *opts)
{
    TestServer *s = g_new0(TestServer, 1);

    s->opts = opts ? *opts : (TestServerOpts){0};
    s->opts.num_queues = s->opts.num_queues ? s->opts.num_queues : 1;
    s->opts.size = s->opts.size ? s->opts.size : (16u << 20);
    s->dir = g_dir_make_tmp("vu-test-XXXXXX", NULL);
    s->path = g_build_filename(s->dir, "vblk.sock", NULL);
    s->disk = g_malloc0(s->opts.size);
    s->held = g_ptr_array_new();
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->disk_ops =
        (VblkBackendOps){disk_readv,        disk_writev, disk_flush, disk_discard,
                         disk_write_zeroes, disk_plug,   disk_unplug};
    s->ops = (VuDevOps){.get_features = srv_get_features,
                        .set_features = srv_set_features,
                        .get_config = srv_get_config,
                        .process = srv_process,
                        .queue_start = vu_aio_queue_start,
                        .queue_stop = vu_aio_queue_stop,
                        .disconnected = srv_disconnected};
    test_loop_start(&s->ctrl, "vu-ctrl");
    s->nloops = MIN(s->opts.num_queues, MAX_LOOPS);
    for (unsigned i = 0; i < s->nloops; i++) {
        test_loop_start(&s->loops[i], "vu-queue");
    }
    test_loop_run(&s->ctrl, server_create, s);
    return s;
}

static void server_closed(void *opaque)
{
    TestServer *s = opaque;

    pthread_mutex_lock(&s->lock);
    s->closed = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void server_close(void *opaque)
{
    TestServer *s = opaque;

    vu_dev_close(s->dev, server_closed, s);
}

static void server_destroy(void *opaque)
{
    TestServer *s = opaque;

    vu_dev_free(s->dev);
    vblk_free(s->vb);
}

void test_server_free(TestServer *s)
{
    test_server_hold(s, false);
    test_loop_run(&s->ctrl, server_close, s);
    pthread_mutex_lock(&s->lock);
    while (!s->closed) {
        pthread_cond_wait(&s->cond, &s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    test_loop_run(&s->ctrl, server_destroy, s);
    for (unsigned i = 0; i < s->nloops; i++) {
        test_loop_stop(&s->loops[i]);
    }
    test_loop_stop(&s->ctrl);
    g_assert_false(g_file_test(s->path, G_FILE_TEST_EXISTS)); /* unlinked */
    g_rmdir(s->dir);
    g_ptr_array_unref(s->held);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    g_free(s->disk);
    g_free(s->path);
    g_free(s->dir);
    g_free(s);
}

const char *test_server_path(TestServer *s)
{
    return s->path;
}

void test_server_disk_read(TestServer *s, uint64_t off, void *buf, size_t len)
{
    g_assert_cmpuint(off + len, <=, s->opts.size);
    pthread_mutex_lock(&s->lock);
    memcpy(buf, s->disk + off, len);
    pthread_mutex_unlock(&s->lock);
}

void test_server_disk_fill(TestServer *s, uint64_t off, int byte, size_t len)
{
    g_assert_cmpuint(off + len, <=, s->opts.size);
    pthread_mutex_lock(&s->lock);
    memset(s->disk + off, byte, len);
    pthread_mutex_unlock(&s->lock);
}

void test_server_disk_stats(TestServer *s, TestDiskStats *st)
{
    st->reads = qatomic_read(&s->stats.reads);
    st->writes = qatomic_read(&s->stats.writes);
    st->flushes = qatomic_read(&s->stats.flushes);
    st->discards = qatomic_read(&s->stats.discards);
    st->write_zeroes = qatomic_read(&s->stats.write_zeroes);
    st->plugs = qatomic_read(&s->stats.plugs);
    st->unplugs = qatomic_read(&s->stats.unplugs);
}

void test_server_hold(TestServer *s, bool hold)
{
    pthread_mutex_lock(&s->lock);
    s->hold = hold;
    if (!hold) {
        for (unsigned i = 0; i < s->held->len; i++) {
            DiskReq *r = s->held->pdata[i];

            aio_bh_schedule_oneshot(r->ctx, disk_done_bh, r);
        }
        g_ptr_array_set_size(s->held, 0);
    }
    pthread_mutex_unlock(&s->lock);
}

unsigned test_server_held(TestServer *s)
{
    unsigned n;

    pthread_mutex_lock(&s->lock);
    n = s->held->len;
    pthread_mutex_unlock(&s->lock);
    return n;
}

unsigned test_server_disconnects(TestServer *s)
{
    unsigned n;

    pthread_mutex_lock(&s->lock);
    n = s->disconnects;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void test_server_wait_disconnects(TestServer *s, unsigned n)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&s->lock);
    while (s->disconnects < n) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) != 0) {
            g_error("the server saw %u disconnections, not %u", s->disconnects, n);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

GThread *test_server_queue_thread(TestServer *s, unsigned q)
{
    return qatomic_read(&s->queue_thread[q % s->nloops]);
}

GThread *test_server_loop_thread(TestServer *s, unsigned q)
{
    return s->loops[q % s->nloops].thread;
}

typedef struct StatsCall {
    TestServer *s;
    VuDevStats *st;
} StatsCall;

static void server_stats(void *opaque)
{
    StatsCall *c = opaque;

    vu_dev_get_stats(c->s->dev, c->st);
}

void test_server_stats(TestServer *s, VuDevStats *st)
{
    StatsCall c = {s, st};

    test_loop_run(&s->ctrl, server_stats, &c);
}

/* ------------------------------------------------------------------------ */
/* Log capture                                                               */
/* ------------------------------------------------------------------------ */

static unsigned log_warnings;

static GLogWriterOutput test_log_writer(GLogLevelFlags level, const GLogField *fields,
                                        gsize n, gpointer user_data)
{
    const char *domain = NULL, *message = NULL;

    for (gsize i = 0; i < n; i++) {
        if (!strcmp(fields[i].key, "GLIB_DOMAIN")) {
            domain = fields[i].value;
        } else if (!strcmp(fields[i].key, "MESSAGE")) {
            message = fields[i].value;
        }
    }
    if (domain && (!strcmp(domain, "vhost-user") || !strcmp(domain, "virtio-blk"))) {
        if (level & G_LOG_LEVEL_WARNING) {
            fprintf(stderr, "# logged: %s\n", message ? message : "");
            qatomic_inc(&log_warnings);
        }
        return G_LOG_WRITER_HANDLED;
    }
    return g_log_writer_default(level, fields, n, user_data);
}

void test_log_init(void)
{
    g_log_set_writer_func(test_log_writer, NULL, NULL);
}

unsigned test_log_warnings(void)
{
    return qatomic_read(&log_warnings);
}

void test_log_wait(unsigned n)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;

    while (test_log_warnings() < n) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
}

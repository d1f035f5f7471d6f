/*
 * tests/block/test-block.c - the block backends (threads, native, io_uring)
 * on one context, with and without O_DIRECT on a file on disk: multi-iovec
 * writes, flush, read back, a file that shrank underneath, bounds,
 * misaligned requests and buffers (bounced), plug/unplug batching and
 * aio-max-batch, two contexts on one thread.  Every case runs with both
 * loop drivers (aio_poll() and the context's GSource, see
 * test-aio-loop.h), and checks O_DIRECT on the backend's fd.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "qcontext/block/block.h"
#include "block-test-util.h"
#include "test-aio-loop.h"

#define FILE_SIZE (2 * 1024 * 1024)
#define WAIT_LIMIT_US (10 * G_USEC_PER_SEC)

typedef struct {
    TestLoop *loop; /* the context and the driver that runs it */
    AioContext *ctx;
    BlockBackend *blk;
    char *path;
} Fixture;

typedef struct {
    BlockAioMode mode;
    int flags;
    bool poll; /* adaptive polling on: completions seen through io_poll */
    TestDriver driver;
} Params;

/* The open file status flags of @fd, from the "flags:" line of its fdinfo. */
static unsigned long fdinfo_flags(int fd)
{
    char *info_path = g_strdup_printf("/proc/self/fdinfo/%d", fd);
    char *contents = NULL, *line;
    unsigned long flags;

    g_assert_true(g_file_get_contents(info_path, &contents, NULL, NULL));
    line = strstr(contents, "flags:");
    g_assert_nonnull(line);
    flags = strtoul(line + strlen("flags:"), NULL, 8);
    g_free(contents);
    g_free(info_path);
    return flags;
}

/* The backend holds one fd on @path, opened with O_DIRECT iff cache=none. */
static void assert_backend_fd(const char *path, int blk_flags)
{
    int fd = -1;
    unsigned long flags;

    g_assert_cmpint(count_fds_of(path, &fd), ==, 1);
    flags = fdinfo_flags(fd);
    if (blk_flags & BLK_F_DIRECT) {
        g_assert_cmphex(flags & O_DIRECT, ==, O_DIRECT);
    } else {
        g_assert_cmphex(flags & O_DIRECT, ==, 0);
    }
    g_assert_cmphex(flags & O_ACCMODE, ==,
                    (blk_flags & BLK_F_RDONLY) ? O_RDONLY : O_RDWR);
}

static void fixture_close(Fixture *f);

static bool fixture_open(Fixture *f, const Params *p)
{
    GError *err = NULL;

    if (!test_dir) {
        g_test_skip("no disk-backed temporary directory (only tmpfs)");
        return false;
    }
    f->loop = test_loop_new(p->driver);
    f->ctx = f->loop->ctx;
    if (p->poll) {
        /*
         * A window that a loaded machine cannot outgrow: with 2 ms, one
         * iteration preempted for longer shrank polling to nothing and the
         * poll-hit check below failed now and then.  No block here takes 1 s.
         */
        g_assert_true(
            aio_context_set_poll_params(f->ctx, 1000 * 1000 * 1000, 0, 0, &err));
    }
    f->path = make_file(block_aio_mode_to_string(p->mode), FILE_SIZE);
    f->blk = blk_open(f->path, p->mode, p->flags, &err);
    if (!f->blk) {
        /* The kernel may refuse io_uring or Linux AIO: skip, don't fail. */
        g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_UNAVAILABLE);
        g_test_skip(err->message);
        g_error_free(err);
        fixture_close(f);
        return false;
    }
    assert_backend_fd(f->path, p->flags);
    return true;
}

static void fixture_close(Fixture *f)
{
    int fd;

    if (f->blk) {
        g_assert_cmpint(blk_in_flight(f->blk), ==, 0);
        /* Nothing in flight on this thread's context: released at once. */
        blk_close(f->blk);
        f->blk = NULL;
    }
    if (f->loop) {
        aio_thread_pool_cleanup(f->ctx);
        test_loop_free(f->loop);
        f->loop = NULL;
        f->ctx = NULL;
    }
    if (f->path) {
        /* blk_close() closed the backend's descriptor. */
        g_assert_cmpint(count_fds_of(f->path, &fd), ==, 0);
        unlink(f->path);
        g_free(f->path);
    }
}

/* Completion bookkeeping: each request gets a slot. */
typedef struct {
    int calls;
    int ret;
} Done;

static void done_cb(void *opaque, int ret)
{
    Done *d = opaque;

    d->calls++;
    d->ret = ret;
}

/* Run @loop with its driver (blocking) until the @n requests of @d completed. */
static void wait_all(TestLoop *loop, Done *d, int n)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

    for (int i = 0; i < n; i++) {
        while (d[i].calls == 0) {
            test_loop_iterate(loop, true);
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        }
        g_assert_cmpint(d[i].calls, ==, 1);
    }
}

static BlockInfo blk_info(BlockBackend *blk)
{
    BlockInfo info;

    blk_get_info(blk, &info);
    return info;
}

static void fill_pattern(uint8_t *buf, size_t len, int64_t offset, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)((offset + i) * 7 + seed + ((offset + i) >> 12));
    }
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                      */
/* ------------------------------------------------------------------------ */

#define RW_REQS 8
#define RW_CHUNK (16 * 1024) /* per request: 4 KiB + 8 KiB + 4 KiB */

static void test_rw(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done wd[RW_REQS] = {{0}}, fd = {0}, rd[2] = {{0}};
    size_t total = RW_REQS * RW_CHUNK;
    uint8_t *wbuf, *rbuf, *expect;
    int64_t base = 64 * 1024;

    if (!fixture_open(&f, p)) {
        return;
    }
    expect = g_malloc(total);
    g_assert_cmpint(blk_getlength(f.blk), ==, FILE_SIZE);
    g_assert_cmpuint(RW_CHUNK % blk_info(f.blk).request_alignment, ==, 0);
    wbuf = blk_blockalign(f.blk, total);
    rbuf = blk_blockalign(f.blk, total);
    fill_pattern(expect, total, base, 3);
    memcpy(wbuf, expect, total);

    for (int i = 0; i < RW_REQS; i++) {
        uint8_t *b = wbuf + i * RW_CHUNK;
        struct iovec iov[3] = {
            {b, 4096},
            {b + 4096, 8192},
            {b + 12288, 4096},
        };
        blk_aio_pwritev(f.blk, f.ctx, base + i * RW_CHUNK, iov, 3, done_cb, &wd[i]);
    }
    /* Completions never run inside the submitting call. */
    for (int i = 0; i < RW_REQS; i++) {
        g_assert_cmpint(wd[i].calls, ==, 0);
    }
    g_assert_cmpint(blk_in_flight(f.blk), ==, RW_REQS);
    wait_all(f.loop, wd, RW_REQS);
    for (int i = 0; i < RW_REQS; i++) {
        g_assert_cmpint(wd[i].ret, ==, 0);
    }
    blk_aio_flush(f.blk, f.ctx, done_cb, &fd);
    wait_all(f.loop, &fd, 1);
    g_assert_cmpint(fd.ret, ==, 0);

    /* Read back with a different split: two requests of two iovecs. */
    memset(rbuf, 0xaa, total);
    for (int i = 0; i < 2; i++) {
        size_t half = total / 2;
        uint8_t *b = rbuf + i * half;
        struct iovec iov[2] = {{b, 4096}, {b + 4096, half - 4096}};
        blk_aio_preadv(f.blk, f.ctx, base + i * half, iov, 2, done_cb, &rd[i]);
    }
    wait_all(f.loop, rd, 2);
    g_assert_cmpint(rd[0].ret, ==, 0);
    g_assert_cmpint(rd[1].ret, ==, 0);
    g_assert_cmpmem(rbuf, total, expect, total);
    g_assert_cmpint(blk_in_flight(f.blk), ==, 0);

    /* One request of 32 iovecs: more than a pooled request holds. */
    memset(rbuf, 0x55, total);
    {
        struct iovec many[RW_REQS * RW_CHUNK / 4096];
        Done md = {0};

        for (unsigned i = 0; i < G_N_ELEMENTS(many); i++) {
            many[i] = (struct iovec){rbuf + i * 4096, 4096};
        }
        blk_aio_preadv(f.blk, f.ctx, base, many, G_N_ELEMENTS(many), done_cb, &md);
        wait_all(f.loop, &md, 1);
        g_assert_cmpint(md.ret, ==, 0);
        g_assert_cmpmem(rbuf, total, expect, total);
    }

    /* The data is in the file (read through an ordinary descriptor). */
    {
        int fd2 = open(f.path, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(pread(fd2, rbuf, total, base), ==, (ssize_t)total);
        g_assert_cmpmem(rbuf, total, expect, total);
        close(fd2);
    }
    free(wbuf);
    free(rbuf);
    g_free(expect);
    fixture_close(&f);
}

/* The file shrank underneath: a read past its new end is zero-filled. */
static void test_shrunk(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done w = {0}, r[2] = {{0}};
    size_t len = 16 * 1024;
    uint8_t *buf, *expect;
    int64_t new_size = FILE_SIZE / 2;

    if (!fixture_open(&f, p)) {
        return;
    }
    expect = g_malloc(4096);
    buf = blk_blockalign(f.blk, len);
    fill_pattern(expect, 4096, new_size - 4096, 9);
    memcpy(buf, expect, 4096);
    blk_aio_pwritev(f.blk, f.ctx, new_size - 4096, &(struct iovec){buf, 4096}, 1,
                    done_cb, &w);
    wait_all(f.loop, &w, 1);
    g_assert_cmpint(w.ret, ==, 0);
    g_assert_cmpint(truncate(f.path, new_size), ==, 0);

    /* Straddling the new end: the data, then zeros. */
    memset(buf, 0xaa, len);
    blk_aio_preadv(f.blk, f.ctx, new_size - 4096, &(struct iovec){buf, len}, 1, done_cb,
                   &r[0]);
    wait_all(f.loop, &r[0], 1);
    g_assert_cmpint(r[0].ret, ==, 0);
    g_assert_cmpmem(buf, 4096, expect, 4096);
    for (size_t i = 4096; i < len; i++) {
        g_assert_cmpuint(buf[i], ==, 0);
    }

    /* Entirely past the new end but inside the drive: all zeros. */
    memset(buf, 0xaa, len);
    blk_aio_preadv(f.blk, f.ctx, new_size + 8192, &(struct iovec){buf, len}, 1, done_cb,
                   &r[1]);
    wait_all(f.loop, &r[1], 1);
    g_assert_cmpint(r[1].ret, ==, 0);
    for (size_t i = 0; i < len; i++) {
        g_assert_cmpuint(buf[i], ==, 0);
    }
    /* The drive keeps the size it was opened with. */
    g_assert_cmpint(blk_getlength(f.blk), ==, FILE_SIZE);
    free(buf);
    g_free(expect);
    fixture_close(&f);
}

/* Offsets and lengths: checked; buffers the kernel would refuse: bounced. */
static void test_misaligned(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done d[6] = {{0}};
    uint8_t *buf, *expect, *back;
    bool direct = p->flags & BLK_F_DIRECT;
    BlockStats st;
    BlockInfo info;

    if (!fixture_open(&f, p)) {
        return;
    }
    info = blk_info(f.blk);
    g_assert_cmpuint(info.request_alignment, ==, direct ? info.request_alignment : 1);
    g_assert_cmpuint(info.request_alignment, >=, direct ? 512 : 1);
    g_assert_cmpuint(info.logical_block_size, >=, info.request_alignment);
    buf = blk_blockalign(f.blk, 3 * 8192);
    back = blk_blockalign(f.blk, 8192);
    expect = g_malloc(8192);
    fill_pattern(expect, 8192, 0, 77);

    /* Misaligned offset and length fail; past the end is out of range. */
    memset(back, 0, 8192);
    blk_aio_preadv(f.blk, f.ctx, 1, &(struct iovec){back, 4096}, 1, done_cb, &d[0]);
    blk_aio_pwritev(f.blk, f.ctx, 0, &(struct iovec){back + 4096, 100}, 1, done_cb,
                    &d[1]);
    blk_aio_pwritev(f.blk, f.ctx, FILE_SIZE - 4096, &(struct iovec){back, 8192}, 1,
                    done_cb, &d[2]);
    /* A buffer at an odd address, and one split at an odd length: bounced. */
    memcpy(buf + 1, expect, 8192);
    blk_aio_pwritev(f.blk, f.ctx, 8192, &(struct iovec){buf + 1, 8192}, 1, done_cb,
                    &d[3]);
    wait_all(f.loop, d, 4);
    /* Without O_DIRECT any byte offset and length will do. */
    g_assert_cmpint(d[0].ret, ==, direct ? -EINVAL : 0);
    g_assert_cmpint(d[1].ret, ==, direct ? -EINVAL : 0);
    g_assert_cmpint(d[2].ret, ==, -ERANGE);
    g_assert_cmpint(d[3].ret, ==, 0);

    memset(buf, 0xaa, 3 * 8192);
    {
        struct iovec iov[3] = {
            {buf + 3, 100}, {buf + 8192, 4000}, {buf + 16384 + 5, 4092}};
        blk_aio_preadv(f.blk, f.ctx, 8192, iov, 3, done_cb, &d[4]);
        wait_all(f.loop, &d[4], 1);
        g_assert_cmpint(d[4].ret, ==, 0);
        g_assert_cmpmem(buf + 3, 100, expect, 100);
        g_assert_cmpmem(buf + 8192, 4000, expect + 100, 4000);
        g_assert_cmpmem(buf + 16384 + 5, 4092, expect + 4100, 4092);
    }
    /* The bounced write is in the file. */
    blk_aio_preadv(f.blk, f.ctx, 8192, &(struct iovec){back, 8192}, 1, done_cb, &d[5]);
    wait_all(f.loop, &d[5], 1);
    g_assert_cmpint(d[5].ret, ==, 0);
    g_assert_cmpmem(back, 8192, expect, 8192);

    blk_get_stats(f.blk, &st);
    g_assert_cmpuint(st.errors, ==, direct ? 3 : 1);
    g_assert_cmpuint(st.requests, ==, 6);
    /* Only what the kernel would refuse was bounced: not the aligned read. */
    g_assert_cmpuint(st.bounced, ==, direct ? 2 : 0);
    g_assert_cmpint(blk_getlength(f.blk), ==, FILE_SIZE);
    free(buf);
    free(back);
    g_free(expect);
    fixture_close(&f);
}

#define PLUG_REQS 64

/* One plugged batch of @n writes; returns the kernel submissions it took. */
static uint64_t plugged_writes(Fixture *f, uint8_t *wbuf, int n, bool check_during)
{
    Done *wd = g_new0(Done, n);
    BlockStats before, during, after;

    blk_get_stats(f->blk, &before);
    blk_io_plug(f->blk, f->ctx);
    blk_io_plug(f->blk, f->ctx); /* nests */
    for (int i = 0; i < n; i++) {
        struct iovec iov = {wbuf + i * 4096, 4096};
        blk_aio_pwritev(f->blk, f->ctx, i * 4096, &iov, 1, done_cb, &wd[i]);
    }
    blk_io_unplug(f->blk, f->ctx);
    blk_get_stats(f->blk, &during);
    g_assert_cmpint(blk_in_flight(f->blk), ==, n);
    if (check_during) {
        /* Nothing reached the kernel while plugged ... */
        g_assert_cmpuint(during.kernel_submits, ==, before.kernel_submits);
    }
    blk_io_unplug(f->blk, f->ctx);
    blk_get_stats(f->blk, &after);
    wait_all(f->loop, wd, n);
    for (int i = 0; i < n; i++) {
        g_assert_cmpint(wd[i].ret, ==, 0);
    }
    g_free(wd);
    return after.kernel_submits - before.kernel_submits;
}

static void test_plug(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done rd = {0};
    size_t total = PLUG_REQS * 4096;
    uint8_t *wbuf, *rbuf;
    bool kernel = p->mode != BLOCK_AIO_THREADS;

    if (!fixture_open(&f, p)) {
        return;
    }
    wbuf = blk_blockalign(f.blk, total);
    rbuf = blk_blockalign(f.blk, total);
    fill_pattern(wbuf, total, 0, 5);

    /* ... and the outermost unplug submitted all 64 at once. */
    g_assert_cmpuint(plugged_writes(&f, wbuf, PLUG_REQS, kernel), ==, kernel ? 1 : 0);
    /* aio-max-batch bounds a batch: 64 in batches of 16. */
    g_assert_true(aio_context_set_aio_params(f.ctx, 16, NULL));
    g_assert_cmpuint(plugged_writes(&f, wbuf, PLUG_REQS, false), ==, kernel ? 4 : 0);
    g_assert_true(aio_context_set_aio_params(f.ctx, 0, NULL));
    g_assert_cmpuint(plugged_writes(&f, wbuf, PLUG_REQS, kernel), ==, kernel ? 1 : 0);

    blk_aio_preadv(f.blk, f.ctx, 0, &(struct iovec){rbuf, total}, 1, done_cb, &rd);
    wait_all(f.loop, &rd, 1);
    g_assert_cmpint(rd.ret, ==, 0);
    g_assert_cmpmem(rbuf, total, wbuf, total);
    free(wbuf);
    free(rbuf);
    fixture_close(&f);
}

/* More requests than a ring holds (128): the rest wait and follow. */
#define DEEP_REQS 300

static void test_deep(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done *wd = g_new0(Done, DEEP_REQS), *rd = g_new0(Done, DEEP_REQS);
    size_t total = DEEP_REQS * 4096;
    uint8_t *wbuf, *rbuf;

    if (!fixture_open(&f, p)) {
        g_free(wd);
        g_free(rd);
        return;
    }
    wbuf = blk_blockalign(f.blk, total);
    rbuf = blk_blockalign(f.blk, total);
    fill_pattern(wbuf, total, 0, 11);
    memset(rbuf, 0, total);

    /* Writes in one plugged batch, reads one by one. */
    blk_io_plug(f.blk, f.ctx);
    for (int i = 0; i < DEEP_REQS; i++) {
        struct iovec iov = {wbuf + i * 4096, 4096};
        blk_aio_pwritev(f.blk, f.ctx, i * 4096, &iov, 1, done_cb, &wd[i]);
    }
    blk_io_unplug(f.blk, f.ctx);
    wait_all(f.loop, wd, DEEP_REQS);
    for (int i = 0; i < DEEP_REQS; i++) {
        struct iovec iov = {rbuf + i * 4096, 4096};
        g_assert_cmpint(wd[i].ret, ==, 0);
        blk_aio_preadv(f.blk, f.ctx, i * 4096, &iov, 1, done_cb, &rd[i]);
    }
    g_assert_cmpint(blk_in_flight(f.blk), ==, DEEP_REQS);
    wait_all(f.loop, rd, DEEP_REQS);
    for (int i = 0; i < DEEP_REQS; i++) {
        g_assert_cmpint(rd[i].ret, ==, 0);
    }
    g_assert_cmpmem(rbuf, total, wbuf, total);
    if (p->poll) {
        AioContextStats st;

        aio_context_get_stats(f.ctx, &st);
        if (p->driver == DRIVER_AIO_POLL) {
            /* Busy-polling found completions: the backend's io_poll works. */
            g_assert_cmpuint(st.poll_hits, >, 0);
        } else {
            /* The GSource never busy-polls: completions came via the eventfd. */
            g_assert_cmpuint(st.poll_hits, ==, 0);
        }
    }
    free(wbuf);
    free(rbuf);
    g_free(wd);
    g_free(rd);
    fixture_close(&f);
}

/* Two contexts on one thread: each gets its own queue; completions follow. */
static void test_two_contexts(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done w = {0}, r = {0};
    TestLoop *loop2;
    uint8_t *buf;

    if (!fixture_open(&f, p)) {
        return;
    }
    loop2 = test_loop_new(p->driver);
    buf = blk_blockalign(f.blk, 4096);
    memset(buf, 0x5a, 4096);
    g_assert_cmpint(blk_get_queue_count(f.blk), ==, 0);

    blk_aio_pwritev(f.blk, f.ctx, 0, &(struct iovec){buf, 4096}, 1, done_cb, &w);
    g_assert_cmpint(blk_get_queue_count(f.blk), ==, 1);
    wait_all(f.loop, &w, 1);
    g_assert_cmpint(w.ret, ==, 0);

    memset(buf, 0, 4096);
    blk_aio_preadv(f.blk, loop2->ctx, 0, &(struct iovec){buf, 4096}, 1, done_cb, &r);
    g_assert_cmpint(blk_get_queue_count(f.blk), ==, 2);
    /* The first context has nothing to do with it. */
    while (test_loop_iterate(f.loop, false)) {
    }
    g_assert_cmpint(r.calls, ==, 0);
    wait_all(loop2, &r, 1);
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_cmpuint(buf[0], ==, 0x5a);
    g_assert_cmpuint(buf[4095], ==, 0x5a);

    /* Detaching releases that context's queue, the other one stays. */
    blk_detach_aio_context(f.blk, loop2->ctx);
    g_assert_cmpint(blk_get_queue_count(f.blk), ==, 1);
    aio_thread_pool_cleanup(loop2->ctx);
    test_loop_free(loop2);
    free(buf);
    fixture_close(&f);
}

/* ------------------------------------------------------------------------ */
/* Errors that do not depend on the backend                                   */
/* ------------------------------------------------------------------------ */

static void test_open_errors(void)
{
    GError *err = NULL;
    BlockAioMode mode;
    BlockBackend *blk;
    char *dir_path;

    g_assert_true(block_aio_mode_parse("io_uring", &mode, NULL));
    g_assert_cmpint(mode, ==, BLOCK_AIO_IO_URING);
    g_assert_true(block_aio_mode_parse("native", &mode, NULL));
    g_assert_cmpint(mode, ==, BLOCK_AIO_NATIVE);
    g_assert_true(block_aio_mode_parse("threads", &mode, NULL));
    g_assert_cmpint(mode, ==, BLOCK_AIO_THREADS);
    g_assert_false(block_aio_mode_parse("iouring", &mode, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "'iouring'"));
    g_clear_error(&err);

    blk = blk_open("/nonexistent/qcontext-disk.img", BLOCK_AIO_THREADS, 0, &err);
    g_assert_null(blk);
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_OPEN);
    g_assert_nonnull(strstr(err->message, "/nonexistent/qcontext-disk.img"));
    g_clear_error(&err);

    dir_path = g_dir_make_tmp("qcontext-blkdir-XXXXXX", NULL);
    g_assert_nonnull(dir_path);
    blk = blk_open(dir_path, BLOCK_AIO_THREADS, BLK_F_RDONLY, &err);
    g_assert_null(blk);
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID);
    g_clear_error(&err);
    rmdir(dir_path);
    g_free(dir_path);

    g_assert_null(blk_new_null(0, 0, 0, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_null(blk_new_null(4096, -1, 0, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID);
    g_clear_error(&err);
}

/* Read-only: writes, discards and write-zeroes fail with -EROFS; reads work. */
static void test_readonly(const void *data)
{
    Params p = {BLOCK_AIO_THREADS, BLK_F_RDONLY | BLK_F_DISCARD_UNMAP, false,
                GPOINTER_TO_INT(data)};
    Fixture f = {0};
    Done d[6] = {{0}};
    uint8_t buf[512] = {0};

    if (!fixture_open(&f, &p)) {
        return;
    }
    g_assert_true(blk_is_read_only(f.blk));
    blk_aio_pwritev(f.blk, f.ctx, 0, &(struct iovec){buf, sizeof(buf)}, 1, done_cb,
                    &d[0]);
    blk_aio_preadv(f.blk, f.ctx, -512, &(struct iovec){buf, sizeof(buf)}, 1, done_cb,
                   &d[1]);
    blk_aio_pdiscard(f.blk, f.ctx, 0, 4096, done_cb, &d[2]);
    blk_aio_pwrite_zeroes(f.blk, f.ctx, 0, 4096, BLK_ZERO_MAY_UNMAP, done_cb, &d[3]);
    blk_aio_preadv(f.blk, f.ctx, 0, &(struct iovec){buf, sizeof(buf)}, 1, done_cb,
                   &d[4]);
    blk_aio_flush(f.blk, f.ctx, done_cb, &d[5]);
    g_assert_cmpint(d[0].calls, ==, 0);
    wait_all(f.loop, d, 6);
    g_assert_cmpint(d[0].ret, ==, -EROFS);
    g_assert_cmpint(d[1].ret, ==, -EINVAL);
    g_assert_cmpint(d[2].ret, ==, -EROFS);
    g_assert_cmpint(d[3].ret, ==, -EROFS);
    g_assert_cmpint(d[4].ret, ==, 0);
    g_assert_cmpint(d[5].ret, ==, 0);
    fixture_close(&f);
}

/* A file that is not writable opens only with BLK_F_RDONLY. */
static void test_not_writable(void)
{
    g_autofree char *path = NULL;
    GError *err = NULL;
    BlockBackend *blk;

    if (!test_dir) {
        g_test_skip("no disk-backed temporary directory (only tmpfs)");
        return;
    }
    path = make_file("not-writable", 4096);
    if (!make_not_writable(path)) {
        g_test_skip("cannot make a file read-only for this user");
        unlink(path);
        return;
    }
    blk = blk_open(path, BLOCK_AIO_THREADS, 0, &err);
    g_assert_null(blk);
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY);
    g_assert_nonnull(strstr(err->message, "readonly=on"));
    g_clear_error(&err);
    blk = blk_open(path, BLOCK_AIO_THREADS, BLK_F_RDONLY, &err);
    g_assert_no_error(err);
    blk_close(blk);
    make_writable(path);
    unlink(path);
}

static void remove_test_dir(void)
{
    if (test_dir) {
        g_assert_cmpint(rmdir(test_dir), ==, 0);
        g_free(test_dir);
    }
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(const void *);
        bool direct_only;
    } tests[] = {
        {"rw", test_rw, false},
        {"shrunk", test_shrunk, false},
        {"misaligned", test_misaligned, false},
        {"plug", test_plug, true},
        {"deep", test_deep, true},
        {"two-contexts", test_two_contexts, true},
    };
    static const Params modes[] = {
        {BLOCK_AIO_THREADS, BLK_F_DIRECT},
        {BLOCK_AIO_NATIVE, BLK_F_DIRECT},
        {BLOCK_AIO_IO_URING, BLK_F_DIRECT},
        {BLOCK_AIO_THREADS, 0},
        {BLOCK_AIO_NATIVE, 0},
        {BLOCK_AIO_IO_URING, 0},
        {BLOCK_AIO_NATIVE, BLK_F_DIRECT, true},
        {BLOCK_AIO_IO_URING, BLK_F_DIRECT, true},
    };
    /* Every mode with every driver: /block/<mode>/<driver>/<case>. */
    static Params params[G_N_ELEMENTS(modes) * DRIVER_COUNT];
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_dir = make_test_dir();
    for (size_t i = 0; i < G_N_ELEMENTS(params); i++) {
        const Params *p = &params[i];
        bool direct;

        params[i] = modes[i / DRIVER_COUNT];
        params[i].driver = i % DRIVER_COUNT;
        direct = p->flags & BLK_F_DIRECT;
        for (size_t t = 0; t < G_N_ELEMENTS(tests); t++) {
            char *path;

            if (tests[t].direct_only && !direct) {
                continue;
            }
            if (p->poll && tests[t].fn != test_rw && tests[t].fn != test_deep) {
                continue;
            }
            path = g_strdup_printf("/block/%s%s%s/%s/%s",
                                   block_aio_mode_to_string(p->mode),
                                   direct ? "" : "-buffered", p->poll ? "-poll" : "",
                                   test_driver_names[p->driver], tests[t].name);
            g_test_add_data_func(path, p, tests[t].fn);
            g_free(path);
        }
    }
    g_test_add_func("/block/open-errors", test_open_errors);
    g_test_add_func("/block/not-writable", test_not_writable);
    for (int d = 0; d < DRIVER_COUNT; d++) {
        char *path = g_strdup_printf("/block/readonly/%s", test_driver_names[d]);

        g_test_add_data_func(path, GINT_TO_POINTER(d), test_readonly);
        g_free(path);
    }
    ret = g_test_run();
    remove_test_dir();
    return ret;
}

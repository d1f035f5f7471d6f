/*
 * tests/block/test-block.c - the block backends (threads, native, io_uring)
 * with O_DIRECT on a file on disk: multi-iovec writes, flush, read back,
 * reads past EOF, misaligned requests, plug/unplug batching, context moves.
 * Every case runs with both loop drivers (aio_poll() and the context's
 * GSource, see test-aio-loop.h), and checks O_DIRECT on the backend's fd.
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
#include "test-aio-loop.h"

#define FILE_SIZE (1024 * 1024)
#define WAIT_LIMIT_US (10 * G_USEC_PER_SEC)

static char *test_dir;

/* A directory on a real disk (O_DIRECT must mean something), or NULL. */
static char *make_test_dir(void)
{
    const char *candidates[] = {g_get_tmp_dir(), "/var/tmp"};

    for (size_t i = 0; i < G_N_ELEMENTS(candidates); i++) {
        struct statfs sfs;
        char *tmpl;

        if (statfs(candidates[i], &sfs) < 0 || sfs.f_type == TMPFS_MAGIC) {
            continue;
        }
        tmpl = g_build_filename(candidates[i], "qcontext-block-XXXXXX", NULL);
        if (g_mkdtemp(tmpl)) {
            return tmpl;
        }
        g_free(tmpl);
    }
    return NULL;
}

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

static char *make_file(const char *name, off_t size)
{
    char *path = g_build_filename(test_dir, name, NULL);
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

/*
 * The descriptors of this process that refer to @path: how many, and the
 * last one found in *@fd_out.
 */
static int count_fds_of(const char *path, int *fd_out)
{
    char *real = realpath(path, NULL);
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    g_assert_nonnull(real);
    g_assert_nonnull(dir);
    while ((de = readdir(dir))) {
        char target[PATH_MAX];
        ssize_t len;

        if (de->d_name[0] == '.') {
            continue;
        }
        len = readlinkat(dirfd(dir), de->d_name, target, sizeof(target) - 1);
        if (len < 0) {
            continue;
        }
        target[len] = '\0';
        if (strcmp(target, real) == 0) {
            n++;
            *fd_out = atoi(de->d_name);
        }
    }
    closedir(dir);
    free(real);
    return n;
}

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
        g_assert_true(aio_context_set_poll_params(f->ctx, 2 * 1000 * 1000, 0, 0, &err));
    }
    f->path = make_file(block_aio_mode_to_string(p->mode), FILE_SIZE);
    f->blk = blk_open(f->ctx, f->path, p->mode, p->flags, &err);
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
    g_assert_cmpuint(RW_CHUNK % blk_get_alignment(f.blk), ==, 0);
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
        blk_aio_pwritev(f.blk, base + i * RW_CHUNK, iov, 3, done_cb, &wd[i]);
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
    blk_aio_flush(f.blk, done_cb, &fd);
    wait_all(f.loop, &fd, 1);
    g_assert_cmpint(fd.ret, ==, 0);

    /* Read back with a different split: two requests of two iovecs. */
    memset(rbuf, 0xaa, total);
    for (int i = 0; i < 2; i++) {
        size_t half = total / 2;
        uint8_t *b = rbuf + i * half;
        struct iovec iov[2] = {{b, 4096}, {b + 4096, half - 4096}};
        blk_aio_preadv(f.blk, base + i * half, iov, 2, done_cb, &rd[i]);
    }
    wait_all(f.loop, rd, 2);
    g_assert_cmpint(rd[0].ret, ==, 0);
    g_assert_cmpint(rd[1].ret, ==, 0);
    g_assert_cmpmem(rbuf, total, expect, total);
    g_assert_cmpint(blk_in_flight(f.blk), ==, 0);

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

static void test_eof(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done w = {0}, r[2] = {{0}};
    size_t len = 16 * 1024;
    uint8_t *buf, *expect;

    if (!fixture_open(&f, p)) {
        return;
    }
    expect = g_malloc(4096);
    buf = blk_blockalign(f.blk, len);
    fill_pattern(expect, 4096, FILE_SIZE - 4096, 9);
    memcpy(buf, expect, 4096);
    blk_aio_pwritev(f.blk, FILE_SIZE - 4096, &(struct iovec){buf, 4096}, 1, done_cb,
                    &w);
    wait_all(f.loop, &w, 1);
    g_assert_cmpint(w.ret, ==, 0);

    /* Straddling EOF: the data, then zeros. */
    memset(buf, 0xaa, len);
    blk_aio_preadv(f.blk, FILE_SIZE - 4096, &(struct iovec){buf, len}, 1, done_cb,
                   &r[0]);
    wait_all(f.loop, &r[0], 1);
    g_assert_cmpint(r[0].ret, ==, 0);
    g_assert_cmpmem(buf, 4096, expect, 4096);
    for (size_t i = 4096; i < len; i++) {
        g_assert_cmpuint(buf[i], ==, 0);
    }

    /* Entirely past EOF: all zeros. */
    memset(buf, 0xaa, len);
    blk_aio_preadv(f.blk, FILE_SIZE + 8192, &(struct iovec){buf, len}, 1, done_cb,
                   &r[1]);
    wait_all(f.loop, &r[1], 1);
    g_assert_cmpint(r[1].ret, ==, 0);
    for (size_t i = 0; i < len; i++) {
        g_assert_cmpuint(buf[i], ==, 0);
    }
    /* Reads do not extend the file. */
    g_assert_cmpint(blk_getlength(f.blk), ==, FILE_SIZE);
    free(buf);
    g_free(expect);
    fixture_close(&f);
}

static void test_misaligned(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done d[4] = {{0}};
    uint8_t *buf;
    BlockStats st;

    if (!fixture_open(&f, p)) {
        return;
    }
    g_assert_cmpuint(blk_get_alignment(f.blk), >=, 512);
    buf = blk_blockalign(f.blk, 8192);
    memset(buf, 1, 8192);
    /* Misaligned offset, misaligned length, then a good request. */
    blk_aio_preadv(f.blk, 1, &(struct iovec){buf, 4096}, 1, done_cb, &d[0]);
    blk_aio_pwritev(f.blk, 0, &(struct iovec){buf, 100}, 1, done_cb, &d[1]);
    blk_aio_pwritev(f.blk, 4096, &(struct iovec){buf, 4096}, 1, done_cb, &d[2]);
    /* An error only the kernel sees: beyond ext4's maximum file size. */
    blk_aio_pwritev(f.blk, INT64_C(1) << 50, &(struct iovec){buf, 4096}, 1, done_cb,
                    &d[3]);
    wait_all(f.loop, d, 4);
    g_assert_cmpint(d[0].ret, ==, -EINVAL);
    g_assert_cmpint(d[1].ret, ==, -EINVAL);
    g_assert_cmpint(d[2].ret, ==, 0);
    g_assert_cmpint(d[3].ret, <, 0);
    blk_get_stats(f.blk, &st);
    g_assert_cmpuint(st.errors, ==, 3);
    g_assert_cmpuint(st.requests, ==, 4);
    g_assert_cmpint(blk_getlength(f.blk), ==, FILE_SIZE);
    free(buf);
    fixture_close(&f);
}

#define PLUG_REQS 64

static void test_plug(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done wd[PLUG_REQS] = {{0}}, rd = {0};
    size_t total = PLUG_REQS * 4096;
    uint8_t *wbuf, *rbuf;
    BlockStats before, during, after;

    if (!fixture_open(&f, p)) {
        return;
    }
    wbuf = blk_blockalign(f.blk, total);
    rbuf = blk_blockalign(f.blk, total);
    fill_pattern(wbuf, total, 0, 5);

    blk_get_stats(f.blk, &before);
    blk_io_plug(f.blk);
    blk_io_plug(f.blk); /* nests */
    for (int i = 0; i < PLUG_REQS; i++) {
        struct iovec iov = {wbuf + i * 4096, 4096};
        blk_aio_pwritev(f.blk, i * 4096, &iov, 1, done_cb, &wd[i]);
    }
    blk_io_unplug(f.blk);
    blk_get_stats(f.blk, &during);
    g_assert_cmpint(blk_in_flight(f.blk), ==, PLUG_REQS);
    if (p->mode != BLOCK_AIO_THREADS) {
        /* Nothing reached the kernel while plugged ... */
        g_assert_cmpuint(during.kernel_submits, ==, before.kernel_submits);
    }
    blk_io_unplug(f.blk);
    blk_get_stats(f.blk, &after);
    if (p->mode != BLOCK_AIO_THREADS) {
        /* ... and the outermost unplug submitted all 64 at once. */
        g_assert_cmpuint(after.kernel_submits, ==, before.kernel_submits + 1);
    }
    wait_all(f.loop, wd, PLUG_REQS);
    for (int i = 0; i < PLUG_REQS; i++) {
        g_assert_cmpint(wd[i].ret, ==, 0);
    }
    blk_aio_preadv(f.blk, 0, &(struct iovec){rbuf, total}, 1, done_cb, &rd);
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
    blk_io_plug(f.blk);
    for (int i = 0; i < DEEP_REQS; i++) {
        struct iovec iov = {wbuf + i * 4096, 4096};
        blk_aio_pwritev(f.blk, i * 4096, &iov, 1, done_cb, &wd[i]);
    }
    blk_io_unplug(f.blk);
    wait_all(f.loop, wd, DEEP_REQS);
    for (int i = 0; i < DEEP_REQS; i++) {
        struct iovec iov = {rbuf + i * 4096, 4096};
        g_assert_cmpint(wd[i].ret, ==, 0);
        blk_aio_preadv(f.blk, i * 4096, &iov, 1, done_cb, &rd[i]);
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

/* Move a backend to another context: completions follow it. */
static void test_move(const void *data)
{
    const Params *p = data;
    Fixture f = {0};
    Done w = {0}, r = {0};
    GError *err = NULL;
    TestLoop *loop2;
    AioContext *ctx2;
    uint8_t *buf;

    if (!fixture_open(&f, p)) {
        return;
    }
    /* The second context is run by the same kind of driver. */
    loop2 = test_loop_new(p->driver);
    ctx2 = loop2->ctx;
    buf = blk_blockalign(f.blk, 4096);
    memset(buf, 0x5a, 4096);

    blk_aio_pwritev(f.blk, 0, &(struct iovec){buf, 4096}, 1, done_cb, &w);
    /* Busy while a request is in flight. */
    g_assert_false(blk_set_aio_context(f.blk, ctx2, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_BUSY);
    g_clear_error(&err);
    wait_all(f.loop, &w, 1);
    g_assert_cmpint(w.ret, ==, 0);

    g_assert_true(blk_set_aio_context(f.blk, ctx2, &err));
    g_assert_no_error(err);
    g_assert_true(blk_get_aio_context(f.blk) == ctx2);
    memset(buf, 0, 4096);
    blk_aio_preadv(f.blk, 0, &(struct iovec){buf, 4096}, 1, done_cb, &r);
    wait_all(loop2, &r, 1);
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_cmpuint(buf[0], ==, 0x5a);
    g_assert_cmpuint(buf[4095], ==, 0x5a);

    g_assert_true(blk_set_aio_context(f.blk, f.ctx, &err));
    blk_close(f.blk);
    f.blk = NULL;
    aio_thread_pool_cleanup(ctx2);
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
    AioContext *ctx = aio_context_new(&err);
    BlockAioMode mode;
    BlockBackend *blk;
    char *dir_path;

    g_assert_no_error(err);
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

    blk = blk_open(ctx, "/nonexistent/qcontext-disk.img", BLOCK_AIO_THREADS, 0, &err);
    g_assert_null(blk);
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_OPEN);
    g_assert_nonnull(strstr(err->message, "/nonexistent/qcontext-disk.img"));
    g_clear_error(&err);

    dir_path = g_dir_make_tmp("qcontext-blkdir-XXXXXX", NULL);
    g_assert_nonnull(dir_path);
    blk = blk_open(ctx, dir_path, BLOCK_AIO_THREADS, BLK_F_RDONLY, &err);
    g_assert_null(blk);
    g_assert_nonnull(err);
    g_clear_error(&err);
    rmdir(dir_path);
    g_free(dir_path);
    aio_context_unref(ctx);
}

static void test_readonly(const void *data)
{
    Params p = {BLOCK_AIO_THREADS, BLK_F_RDONLY, false, GPOINTER_TO_INT(data)};
    Fixture f = {0};
    Done d[2] = {{0}};
    uint8_t buf[512] = {0};

    if (!fixture_open(&f, &p)) {
        return;
    }
    blk_aio_pwritev(f.blk, 0, &(struct iovec){buf, sizeof(buf)}, 1, done_cb, &d[0]);
    blk_aio_preadv(f.blk, -512, &(struct iovec){buf, sizeof(buf)}, 1, done_cb, &d[1]);
    g_assert_cmpint(d[0].calls, ==, 0);
    wait_all(f.loop, d, 2);
    g_assert_cmpint(d[0].ret, ==, -EBADF);
    g_assert_cmpint(d[1].ret, ==, -EINVAL);
    fixture_close(&f);
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
        {"eof", test_eof, false},
        {"misaligned", test_misaligned, true},
        {"plug", test_plug, true},
        {"deep", test_deep, true},
        {"move", test_move, true},
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
    for (int d = 0; d < DRIVER_COUNT; d++) {
        char *path = g_strdup_printf("/block/readonly/%s", test_driver_names[d]);

        g_test_add_data_func(path, GINT_TO_POINTER(d), test_readonly);
        g_free(path);
    }
    ret = g_test_run();
    remove_test_dir();
    return ret;
}

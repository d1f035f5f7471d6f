/*
 * tests/block/test-block-mq.c - one drive used from several contexts at
 * once, through each backend (threads, native, io_uring, null): two
 * threads with an AioContext each write, flush and read back their halves
 * of one drive concurrently; every completion runs on its submitter's
 * thread; each context gets a kernel queue of its own (io_uring rings and
 * Linux AIO contexts counted in /proc) on first use, released with its
 * context.  Also: flush cleans the page cache (kpageflags), discard and
 * write-zeroes zero their range (and unmap only when allowed), and the
 * life of the queues (detach, detach with a request in flight, close from
 * another thread, context freed with requests in flight).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#include "qcontext/block/block.h"
#include "block-test-util.h"

#define FILE_SIZE (4 * 1024 * 1024)
#define HALF (FILE_SIZE / 2)
#define CHUNK (16 * 1024)
#define N_CHUNKS (HALF / CHUNK) /* per thread */
#define WAIT_LIMIT_US (20 * G_USEC_PER_SEC)

typedef struct {
    const char *name;
    bool null;
    BlockAioMode mode;
    int flags;
} Mode;

static const Mode modes[] = {
    {"threads", false, BLOCK_AIO_THREADS, BLK_F_DIRECT},
    {"native", false, BLOCK_AIO_NATIVE, BLK_F_DIRECT},
    {"io_uring", false, BLOCK_AIO_IO_URING, BLK_F_DIRECT},
    {"null", true, BLOCK_AIO_THREADS, 0},
    {"threads-buffered", false, BLOCK_AIO_THREADS, 0},
    {"native-buffered", false, BLOCK_AIO_NATIVE, 0},
    {"io_uring-buffered", false, BLOCK_AIO_IO_URING, 0},
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

/* Open @m on a new file (in *@path), or skip (NULL) if the kernel refuses it. */
static BlockBackend *open_mode(const Mode *m, int extra_flags, char **path)
{
    GError *err = NULL;
    BlockBackend *blk;

    *path = NULL;
    if (m->null) {
        blk = blk_new_null(FILE_SIZE, 0, m->flags | extra_flags, &err);
        g_assert_no_error(err);
        return blk;
    }
    if (!test_dir) {
        g_test_skip("no disk-backed temporary directory (only tmpfs)");
        return NULL;
    }
    *path = make_file(m->name, FILE_SIZE);
    blk = blk_open(*path, m->mode, m->flags | extra_flags, &err);
    if (!blk) {
        g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_UNAVAILABLE);
        g_test_skip(err->message);
        g_error_free(err);
        unlink(*path);
        g_clear_pointer(path, g_free);
    }
    return blk;
}

static void remove_file(char *path)
{
    int fd;

    if (path) {
        /* The backend's descriptor is gone with its last queue. */
        g_assert_cmpint(count_fds_of(path, &fd), ==, 0);
        unlink(path);
        g_free(path);
    }
}

/* Kernel queues of this process: io_uring instances, Linux AIO contexts. */
static int count_uring_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    while ((de = readdir(dir))) {
        char target[256];
        ssize_t len = readlinkat(dirfd(dir), de->d_name, target, sizeof(target) - 1);

        if (len > 0) {
            target[len] = '\0';
            n += strcmp(target, "anon_inode:[io_uring]") == 0;
        }
    }
    closedir(dir);
    return n;
}

static int count_aio_contexts(void)
{
    g_autofree char *maps = NULL;
    int n = 0;

    g_assert_true(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
    for (char *p = maps; (p = strstr(p, "/[aio]")); p++) {
        n++;
    }
    return n;
}

static int count_kernel_queues(const Mode *m)
{
    if (m->null || m->mode == BLOCK_AIO_THREADS) {
        return 0;
    }
    return m->mode == BLOCK_AIO_NATIVE ? count_aio_contexts() : count_uring_fds();
}

static void fill_pattern(uint8_t *buf, size_t len, int64_t offset, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)((offset + i) * 13 + seed + ((offset + i) >> 12));
    }
}

/* A request's outcome, checked to complete once on the expected thread. */
typedef struct {
    GThread *thread;
    int calls;
    int ret;
} Done;

static void done_cb(void *opaque, int ret)
{
    Done *d = opaque;

    g_assert_true(d->thread == NULL || d->thread == g_thread_self());
    d->calls++;
    d->ret = ret;
}

static void wait_done(AioContext *ctx, Done *d, int n)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

    for (int i = 0; i < n; i++) {
        while (d[i].calls == 0) {
            aio_poll(ctx, true);
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        }
        g_assert_cmpint(d[i].calls, ==, 1);
    }
}

/* Poll @ctx until @blk has @queues queues (a BH of the context brings it). */
static void poll_until(AioContext *ctx, BlockBackend *blk, int queues)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

    while (blk_get_queue_count(blk) != queues) {
        aio_poll(ctx, true);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
}

/*
 * A rendezvous of @parties threads (the workers and the test's thread).
 * pthread primitives, which TSan understands (GLib's futex-based ones it
 * does not).
 */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int arrived;
    int round;
} Barrier;

#define BARRIER_INIT                                                                   \
    {                                                                                  \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0                      \
    }

static void barrier_wait(Barrier *b, int parties)
{
    int round;

    pthread_mutex_lock(&b->lock);
    round = b->round;
    if (++b->arrived == parties) {
        b->arrived = 0;
        b->round++;
        pthread_cond_broadcast(&b->cond);
    } else {
        while (b->round == round) {
            pthread_cond_wait(&b->cond, &b->lock);
        }
    }
    pthread_mutex_unlock(&b->lock);
}

/* ------------------------------------------------------------------------ */
/* Two contexts at once                                                       */
/* ------------------------------------------------------------------------ */

typedef struct {
    const Mode *mode;
    BlockBackend *blk;
    Barrier *barrier;
    int64_t base; /* this worker's half */
    uint8_t seed;
} Worker;

/* Write the half in plugged batches of 8 chunks, flush, read it back so. */
static void worker_io(Worker *w, AioContext *ctx, uint8_t *wbuf, uint8_t *rbuf)
{
    Done *d = g_new0(Done, N_CHUNKS);
    Done fl = {.thread = g_thread_self()};

    for (int i = 0; i < N_CHUNKS; i++) {
        d[i].thread = g_thread_self();
    }
    for (int i = 0; i < N_CHUNKS; i += 8) {
        blk_io_plug(w->blk, ctx);
        for (int j = i; j < i + 8; j++) {
            /* Two iovecs per request, straight from the caller's buffer. */
            uint8_t *b = wbuf + j * CHUNK;
            struct iovec iov[2] = {{b, 4096}, {b + 4096, CHUNK - 4096}};
            blk_aio_pwritev(w->blk, ctx, w->base + j * CHUNK, iov, 2, done_cb, &d[j]);
        }
        blk_io_unplug(w->blk, ctx);
    }
    wait_done(ctx, d, N_CHUNKS);
    for (int i = 0; i < N_CHUNKS; i++) {
        g_assert_cmpint(d[i].ret, ==, 0);
        d[i].calls = 0;
    }
    blk_aio_flush(w->blk, ctx, done_cb, &fl);
    wait_done(ctx, &fl, 1);
    g_assert_cmpint(fl.ret, ==, 0);
    for (int i = 0; i < N_CHUNKS; i += 8) {
        blk_io_plug(w->blk, ctx);
        for (int j = i; j < i + 8; j++) {
            struct iovec iov = {rbuf + j * CHUNK, CHUNK};
            blk_aio_preadv(w->blk, ctx, w->base + j * CHUNK, &iov, 1, done_cb, &d[j]);
        }
        blk_io_unplug(w->blk, ctx);
    }
    wait_done(ctx, d, N_CHUNKS);
    for (int i = 0; i < N_CHUNKS; i++) {
        g_assert_cmpint(d[i].ret, ==, 0);
    }
    g_free(d);
}

static gpointer worker_thread(gpointer opaque)
{
    Worker *w = opaque;
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    uint8_t *wbuf = blk_blockalign(w->blk, HALF), *rbuf = blk_blockalign(w->blk, HALF);
    Done first = {.thread = g_thread_self()};

    g_assert_no_error(err);
    fill_pattern(wbuf, HALF, w->base, w->seed);
    memset(rbuf, 0xaa, HALF);

    /* The first request creates this context's queue. */
    blk_aio_preadv(w->blk, ctx, w->base, &(struct iovec){rbuf, 4096}, 1, done_cb,
                   &first);
    barrier_wait(w->barrier, 3); /* the test counts the queues */
    barrier_wait(w->barrier, 3);
    wait_done(ctx, &first, 1);
    g_assert_cmpint(first.ret, ==, 0);

    worker_io(w, ctx, wbuf, rbuf);
    if (w->mode->null) {
        for (size_t i = 0; i < HALF; i++) {
            g_assert_cmpuint(rbuf[i], ==, 0); /* reads return zeroes */
        }
    } else {
        g_assert_cmpmem(rbuf, HALF, wbuf, HALF);
    }
    barrier_wait(w->barrier, 3); /* both done: the test counts again */
    barrier_wait(w->barrier, 3);
    /* Freeing the context releases its queue. */
    aio_context_unref(ctx);
    free(wbuf);
    free(rbuf);
    return NULL;
}

/* The file holds both halves (read through a descriptor of our own). */
static void check_file(const char *path, Worker *w)
{
    uint8_t *buf = g_malloc(HALF), *expect = g_malloc(HALF);
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    for (int i = 0; i < 2; i++) {
        fill_pattern(expect, HALF, w[i].base, w[i].seed);
        g_assert_cmpint(pread(fd, buf, HALF, w[i].base), ==, HALF);
        g_assert_cmpmem(buf, HALF, expect, HALF);
    }
    close(fd);
    g_free(buf);
    g_free(expect);
}

static void test_two_threads(const void *data)
{
    const Mode *m = data;
    Barrier barrier = BARRIER_INIT;
    Worker w[2];
    GThread *threads[2];
    BlockStats st;
    char *path;
    BlockBackend *blk = open_mode(m, 0, &path);
    int kq_before = count_kernel_queues(m);

    if (!blk) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        w[i] = (Worker){m, blk, &barrier, i * HALF, (uint8_t)(17 + i * 40)};
        threads[i] = g_thread_new("worker", worker_thread, &w[i]);
    }
    barrier_wait(&barrier, 3);
    /* One queue per context that submitted, each with a kernel queue. */
    g_assert_cmpint(blk_get_queue_count(blk), ==, 2);
    if (m->mode != BLOCK_AIO_THREADS && !m->null) {
        g_assert_cmpint(count_kernel_queues(m), ==, kq_before + 2);
    }
    barrier_wait(&barrier, 3);
    barrier_wait(&barrier, 3);
    g_assert_cmpint(blk_get_queue_count(blk), ==, 2);
    g_assert_cmpint(blk_in_flight(blk), ==, 0);
    barrier_wait(&barrier, 3);
    for (int i = 0; i < 2; i++) {
        g_thread_join(threads[i]);
    }
    /* Released with their contexts, kernel queues included. */
    g_assert_cmpint(blk_get_queue_count(blk), ==, 0);
    g_assert_cmpint(count_kernel_queues(m), ==, kq_before);
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.queues_created, ==, 2);
    g_assert_cmpuint(st.queues_released, ==, 2);
    g_assert_cmpuint(st.requests, ==, 2 * (1 + 2 * N_CHUNKS + 1));
    g_assert_cmpuint(st.errors, ==, 0);
    g_assert_cmpuint(st.bounced, ==, 0); /* zero copy: aligned buffers */
    if (m->mode != BLOCK_AIO_THREADS && !m->null) {
        /* Plugged batches of 8: one system call each (+ first read, flush). */
        g_assert_cmpuint(st.kernel_submits, <=, 2 * (2 * N_CHUNKS / 8 + 2));
    }
    if (path) {
        check_file(path, w);
    }
    blk_close(blk);
    remove_file(path);
}

/* ------------------------------------------------------------------------ */
/* Flush: the page cache is clean afterwards                                  */
/* ------------------------------------------------------------------------ */

/*
 * Dirty page-cache pages of the first @len bytes of @path (PG_dirty in
 * /proc/kpageflags for the pages an mmap of the file maps), or -1 if this
 * process may not read page frame numbers.
 */
static int count_dirty_pages(const char *path, size_t len)
{
    long psz = sysconf(_SC_PAGESIZE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    int kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    volatile uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    int dirty = 0;

    g_assert_true(map != MAP_FAILED);
    for (size_t off = 0; off < len && dirty >= 0; off += psz) {
        uint64_t entry = 0, flags = 0, pfn;

        (void)map[off]; /* map the page-cache page */
        if (pm < 0 || kf < 0 ||
            pread(pm, &entry, 8, ((uintptr_t)map + off) / psz * 8) != 8) {
            dirty = -1;
            break;
        }
        pfn = entry & ((UINT64_C(1) << 55) - 1);
        if (!(entry >> 63) || pfn == 0 || pread(kf, &flags, 8, pfn * 8) != 8) {
            dirty = -1; /* no PFNs without CAP_SYS_ADMIN */
            break;
        }
        dirty += (flags >> 4) & 1; /* KPF_DIRTY */
    }
    munmap((void *)map, len);
    close(fd);
    if (pm >= 0) {
        close(pm);
    }
    if (kf >= 0) {
        close(kf);
    }
    return dirty;
}

static void test_flush(const void *data)
{
    const Mode *m = data;
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    Done w = {0}, fl = {0};
    char *path;
    BlockBackend *blk = open_mode(m, 0, &path);
    size_t len = 256 * 1024;
    uint8_t *buf;
    int dirty;

    if (!blk) {
        aio_context_unref(ctx);
        return;
    }
    buf = blk_blockalign(blk, len);
    fill_pattern(buf, len, 0, 3);
    blk_aio_pwritev(blk, ctx, 0, &(struct iovec){buf, len}, 1, done_cb, &w);
    wait_done(ctx, &w, 1);
    g_assert_cmpint(w.ret, ==, 0);
    dirty = count_dirty_pages(path, len);
    if (dirty < 0) {
        g_test_skip("page flags unreadable (needs CAP_SYS_ADMIN)");
    } else {
        /* The writes sit in the page cache until the flush. */
        g_assert_cmpint(dirty, >, 0);
        blk_aio_flush(blk, ctx, done_cb, &fl);
        wait_done(ctx, &fl, 1);
        g_assert_cmpint(fl.ret, ==, 0);
        g_assert_cmpint(count_dirty_pages(path, len), ==, 0);
    }
    free(buf);
    blk_close(blk);
    aio_context_unref(ctx);
    remove_file(path);
}

/* ------------------------------------------------------------------------ */
/* Discard and write-zeroes                                                   */
/* ------------------------------------------------------------------------ */

#define ZR (64 * 1024) /* one range */

static int64_t file_blocks(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_blocks;
}

/* Write the pattern over 4 ranges, then one discard and two write-zeroes. */
static void discard_and_zero(BlockBackend *blk, AioContext *ctx, const char *path,
                             bool unmap, bool null)
{
    uint8_t *buf = blk_blockalign(blk, 4 * ZR), *expect = g_malloc(4 * ZR);
    Done d[4] = {{0}};
    int64_t blocks[4];

    fill_pattern(expect, 4 * ZR, 0, 9);
    memcpy(buf, expect, 4 * ZR);
    blk_aio_pwritev(blk, ctx, 0, &(struct iovec){buf, 4 * ZR}, 1, done_cb, &d[0]);
    blk_aio_flush(blk, ctx, done_cb, &d[1]);
    wait_done(ctx, d, 2);
    blocks[0] = path ? file_blocks(path) : 0;

    memset(d, 0, sizeof(d));
    blk_aio_pdiscard(blk, ctx, ZR, ZR, done_cb, &d[0]);
    wait_done(ctx, d, 1);
    blocks[1] = path ? file_blocks(path) : 0;
    blk_aio_pwrite_zeroes(blk, ctx, 2 * ZR, ZR, 0, done_cb, &d[1]);
    wait_done(ctx, &d[1], 1);
    blocks[2] = path ? file_blocks(path) : 0;
    blk_aio_pwrite_zeroes(blk, ctx, 3 * ZR, ZR, BLK_ZERO_MAY_UNMAP, done_cb, &d[2]);
    wait_done(ctx, &d[2], 1);
    blocks[3] = path ? file_blocks(path) : 0;
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(d[i].ret, ==, 0);
    }

    memset(buf, 0xaa, 4 * ZR);
    blk_aio_preadv(blk, ctx, 0, &(struct iovec){buf, 4 * ZR}, 1, done_cb, &d[3]);
    wait_done(ctx, &d[3], 1);
    g_assert_cmpint(d[3].ret, ==, 0);
    if (null) {
        memset(expect, 0, 4 * ZR);
    } else {
        if (unmap) {
            memset(expect + ZR, 0, ZR); /* discard=ignore keeps the data */
        }
        memset(expect + 2 * ZR, 0, 2 * ZR);
    }
    g_assert_cmpmem(buf, 4 * ZR, expect, 4 * ZR);
    if (path) {
        int64_t unit = ZR / 512;
        /* A punched range gives its blocks back; ZERO_RANGE keeps them. */
        g_assert_cmpint(blocks[1], ==, unmap ? blocks[0] - unit : blocks[0]);
        g_assert_cmpint(blocks[2], ==, blocks[1]);
        g_assert_cmpint(blocks[3], ==, unmap ? blocks[2] - unit : blocks[2]);
    }
    free(buf);
    g_free(expect);
}

static void test_discard(const void *data)
{
    const Mode *m = data;
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);

    for (int unmap = 0; unmap < 2; unmap++) {
        char *path;
        BlockBackend *blk = open_mode(m, unmap ? BLK_F_DISCARD_UNMAP : 0, &path);
        Done d[4] = {{0}};
        BlockInfo info;

        if (!blk) {
            break;
        }
        blk_get_info(blk, &info);
        g_assert_cmpint(info.discard_unmap, ==, unmap);
        g_assert_cmpint(info.write_zeroes_may_unmap, ==, unmap);
        discard_and_zero(blk, ctx, path, unmap, m->null);
        /* Out of range, too long, unknown flags. */
        blk_aio_pdiscard(blk, ctx, FILE_SIZE - ZR, 2 * ZR, done_cb, &d[0]);
        blk_aio_pwrite_zeroes(blk, ctx, 0, info.max_write_zeroes_bytes + 4096, 0,
                              done_cb, &d[1]);
        blk_aio_pwrite_zeroes(blk, ctx, 0, ZR, 0x100, done_cb, &d[2]);
        blk_aio_pdiscard(blk, ctx, -4096, 4096, done_cb, &d[3]);
        wait_done(ctx, d, 4);
        g_assert_cmpint(d[0].ret, ==, -ERANGE);
        g_assert_cmpint(d[1].ret, ==, -EINVAL);
        g_assert_cmpint(d[2].ret, ==, -EINVAL);
        g_assert_cmpint(d[3].ret, ==, -EINVAL);
        blk_close(blk);
        remove_file(path);
    }
    aio_context_unref(ctx);
}

/* ------------------------------------------------------------------------ */
/* The life of the queues                                                     */
/* ------------------------------------------------------------------------ */

static void submit_read(BlockBackend *blk, AioContext *ctx, void *buf, Done *d)
{
    blk_aio_preadv(blk, ctx, 0, &(struct iovec){buf, 4096}, 1, done_cb, d);
}

/*
 * A queue lives until its context detaches (its kernel queue goes with it);
 * the next request makes a new one.
 */
static void test_detach_release(const void *data)
{
    const Mode *m = data;
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    char *path;
    BlockBackend *blk = open_mode(m, 0, &path);
    int kq_before = count_kernel_queues(m);
    Done d[2] = {{0}};
    BlockStats st;
    void *buf;

    if (!blk) {
        aio_context_unref(ctx);
        return;
    }
    buf = blk_blockalign(blk, 4096);
    g_assert_cmpint(blk_get_queue_count(blk), ==, 0);
    submit_read(blk, ctx, buf, &d[0]);
    g_assert_cmpint(blk_get_queue_count(blk), ==, 1);
    if (m->mode != BLOCK_AIO_THREADS && !m->null) {
        g_assert_cmpint(count_kernel_queues(m), ==, kq_before + 1);
    }
    wait_done(ctx, d, 1);
    /* Idle: detaching releases it at once. */
    blk_detach_aio_context(blk, ctx);
    g_assert_cmpint(blk_get_queue_count(blk), ==, 0);
    g_assert_cmpint(count_kernel_queues(m), ==, kq_before);
    submit_read(blk, ctx, buf, &d[1]);
    g_assert_cmpint(blk_get_queue_count(blk), ==, 1);
    wait_done(ctx, &d[1], 1);
    g_assert_cmpint(d[1].ret, ==, 0);
    blk_get_stats(blk, &st);
    g_assert_cmpuint(st.queues_created, ==, 2);
    g_assert_cmpuint(st.queues_released, ==, 1);
    /* Closing from the queue's own thread releases it at once too. */
    blk_close(blk);
    g_assert_cmpint(count_kernel_queues(m), ==, kq_before);
    free(buf);
    aio_context_unref(ctx);
    remove_file(path);
}

/* Detach with a request in flight: released once it completed. */
static void test_detach_in_flight(const void *data)
{
    const Mode *m = data;
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    char *path;
    BlockBackend *blk = open_mode(m, 0, &path);
    Done d = {0};
    void *buf;

    if (!blk) {
        aio_context_unref(ctx);
        return;
    }
    buf = blk_blockalign(blk, 4096);
    submit_read(blk, ctx, buf, &d);
    blk_detach_aio_context(blk, ctx);
    g_assert_cmpint(blk_get_queue_count(blk), ==, 1);
    wait_done(ctx, &d, 1);
    g_assert_cmpint(d.ret, ==, 0);
    poll_until(ctx, blk, 0);
    blk_close(blk);
    free(buf);
    aio_context_unref(ctx);
    remove_file(path);
}

/*
 * A context freed with requests in flight (one submitted, one collected by
 * a batch left open) submits and waits for them, then releases its queue.
 */
static void test_context_freed(const void *data)
{
    const Mode *m = data;
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    char *path;
    BlockBackend *blk = open_mode(m, 0, &path);
    Done d[2] = {{0}};
    uint8_t *buf;

    if (!blk) {
        aio_context_unref(ctx);
        return;
    }
    buf = blk_blockalign(blk, 8192);
    submit_read(blk, ctx, buf, &d[0]);
    blk_io_plug(blk, ctx);
    submit_read(blk, ctx, buf + 4096, &d[1]);
    aio_context_unref(ctx);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(d[i].calls, ==, 1);
        g_assert_cmpint(d[i].ret, ==, 0);
    }
    g_assert_cmpint(blk_get_queue_count(blk), ==, 0);
    blk_close(blk);
    free(buf);
    remove_file(path);
}

/* blk_close() from another thread: the queue goes on its own thread. */
typedef struct {
    BlockBackend *blk;
    Barrier *barrier;
    AioContext *ctx;
    bool stop; /* set by a BH on ctx */
} Holder;

static void stop_bh(void *opaque)
{
    ((Holder *)opaque)->stop = true;
}

static gpointer holder_thread(gpointer opaque)
{
    Holder *h = opaque;
    GError *err = NULL;
    void *buf = blk_blockalign(h->blk, 4096);
    Done d = {.thread = g_thread_self()};

    h->ctx = aio_context_new(&err);
    submit_read(h->blk, h->ctx, buf, &d);
    wait_done(h->ctx, &d, 1);
    g_assert_cmpint(d.ret, ==, 0);
    aio_context_ref(h->ctx);     /* the test's, to schedule stop_bh safely */
    barrier_wait(h->barrier, 2); /* the test may close now */
    while (!h->stop) {
        aio_poll(h->ctx, true);
    }
    aio_context_unref(h->ctx);
    free(buf);
    return NULL;
}

static void test_close_elsewhere(const void *data)
{
    const Mode *m = data;
    Barrier barrier = BARRIER_INIT;
    char *path;
    Holder h = {.barrier = &barrier};
    GThread *thread;
    int fd;
    gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

    h.blk = open_mode(m, 0, &path);
    if (!h.blk) {
        return;
    }
    thread = g_thread_new("holder", holder_thread, &h);
    barrier_wait(&barrier, 2);
    g_assert_cmpint(blk_get_queue_count(h.blk), ==, 1);
    /* Never blocks: the holder's context releases its queue itself. */
    blk_close(h.blk);
    if (path) {
        /* The file is closed with that queue, while the holder still runs. */
        while (count_fds_of(path, &fd) > 0) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_usleep(1000);
        }
    }
    aio_bh_schedule_oneshot(h.ctx, stop_bh, &h);
    g_thread_join(thread);
    aio_context_unref(h.ctx);
    remove_file(path);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(const void *);
        bool all_modes; /* else the direct (and null) modes only */
    } tests[] = {
        {"two-threads", test_two_threads, true},
        {"flush", test_flush, true},
        {"discard", test_discard, true},
        {"detach-release", test_detach_release, false},
        {"detach-in-flight", test_detach_in_flight, false},
        {"context-freed", test_context_freed, false},
        {"close-elsewhere", test_close_elsewhere, false},
    };
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_dir = make_test_dir();
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        bool buffered = !modes[i].null && !(modes[i].flags & BLK_F_DIRECT);

        for (size_t t = 0; t < G_N_ELEMENTS(tests); t++) {
            g_autofree char *path = NULL;

            if (buffered && !tests[t].all_modes) {
                continue;
            }
            /* Flush leaves dirty pages only without O_DIRECT. */
            if (tests[t].fn == test_flush && !buffered) {
                continue;
            }
            path = g_strdup_printf("/block-mq/%s/%s", modes[i].name, tests[t].name);
            g_test_add_data_func(path, &modes[i], tests[t].fn);
        }
    }
    ret = g_test_run();
    if (test_dir) {
        g_assert_cmpint(rmdir(test_dir), ==, 0);
        g_free(test_dir);
    }
    return ret;
}

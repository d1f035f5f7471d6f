/*
 * block/block-threads.c - the "threads" backend: preadv/pwritev/fdatasync,
 * discard and write-zeroes on the thread pool of the queue's AioContext
 * (sized by aio-qcontext's thread-pool-min/max).  No state of its own; the
 * native and io_uring backends also send it what the kernel queue cannot
 * do (discard, write-zeroes, a refused fdsync).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "block-internal.h"

#define ZERO_BUF_SIZE (1024 * 1024)

/* 1 MiB of zeroes, aligned for O_DIRECT; allocated once. */
static const void *zero_buffer(void)
{
    static void *buf;
    static gsize once;

    if (g_once_init_enter(&once)) {
        if (posix_memalign(&buf, 4096, ZERO_BUF_SIZE) != 0) {
            g_error("block: out of memory for the zero buffer");
        }
        memset(buf, 0, ZERO_BUF_SIZE);
        g_once_init_leave(&once, 1);
    }
    return buf;
}

static bool is_block_device(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISBLK(st.st_mode);
}

/* The file system cannot do this fallocate mode: try something else. */
static bool unsupported(int err)
{
    return err == EOPNOTSUPP || err == ENOTSUP || err == EINVAL || err == ENOTTY ||
           err == ENODEV;
}

static int do_fallocate(int fd, int mode, int64_t offset, int64_t len)
{
    int ret;

    do {
        ret = fallocate(fd, mode, offset, len);
    } while (ret < 0 && errno == EINTR);
    return ret < 0 ? -errno : 0;
}

/* Deallocate: punch a hole (files) or BLKDISCARD (block devices). */
static int do_discard(int fd, int64_t offset, int64_t len)
{
    uint64_t range[2] = {offset, len};
    int ret;

    if (is_block_device(fd)) {
        ret = ioctl(fd, BLKDISCARD, range) < 0 ? -errno : 0;
    } else {
        ret = do_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
    }
    /* Discard is a hint: a file system that cannot is not an error. */
    return (ret < 0 && unsupported(-ret)) ? 0 : ret;
}

static int write_zeroes_by_writing(int fd, int64_t offset, int64_t len)
{
    const void *zeroes = zero_buffer();

    while (len > 0) {
        ssize_t n = pwrite(fd, zeroes, MIN(len, ZERO_BUF_SIZE), offset);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        offset += n;
        len -= n;
    }
    return 0;
}

static int do_write_zeroes(BlockRequest *req, int fd)
{
    int64_t offset = req->offset, len = req->bytes;
    int ret;

    if ((req->zero_flags & BLK_ZERO_MAY_UNMAP) &&
        (req->q->blk->flags & BLK_F_DISCARD_UNMAP)) {
        /* A punched range reads as zeroes (block devices: zeroout, no fallback). */
        ret = do_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
        if (ret == 0 || !unsupported(-ret)) {
            return ret;
        }
    }
    ret = do_fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, len);
    if (ret == 0 || !unsupported(-ret)) {
        return ret;
    }
    return write_zeroes_by_writing(fd, offset, len);
}

/* Runs on a worker thread; the result reaches the home thread via the pool. */
static int threads_worker(void *opaque)
{
    BlockRequest *req = opaque;
    int fd = req->q->blk->fd;
    ssize_t ret;

    switch (req->type) {
    case BLOCK_REQ_DISCARD:
        req->u.result = do_discard(fd, req->offset, req->bytes);
        return 0;
    case BLOCK_REQ_WRITE_ZEROES:
        req->u.result = do_write_zeroes(req, fd);
        return 0;
    default:
        break;
    }
    do {
        switch (req->type) {
        case BLOCK_REQ_READ:
            ret = preadv(fd, req->iov, req->iovcnt, req->offset);
            break;
        case BLOCK_REQ_WRITE:
            ret = pwritev(fd, req->iov, req->iovcnt, req->offset);
            break;
        default:
            ret = fdatasync(fd);
            break;
        }
    } while (ret < 0 && errno == EINTR);
    req->u.result = ret < 0 ? -errno : ret;
    return 0;
}

static void threads_complete(void *opaque, int ret)
{
    BlockRequest *req = opaque;

    /* ret < 0: the pool could not run the worker at all. */
    blk_request_done(req, ret < 0 ? ret : req->u.result);
}

void blk_threads_submit(BlockQueue *q, BlockRequest *req)
{
    thread_pool_submit_aio(q->ctx, threads_worker, req, threads_complete, req);
}

static void threads_cleanup(BlockQueue *q)
{
}

const BlockDriverOps blk_threads_ops = {
    .name = "threads",
    .queue_size = sizeof(BlockQueue),
    .cleanup = threads_cleanup,
    .submit = blk_threads_submit,
};

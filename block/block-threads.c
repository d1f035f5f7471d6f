/*
 * block/block-threads.c - the "threads" backend: preadv/pwritev/fdatasync on
 * the thread pool of the backend's AioContext.  No state of its own; the
 * native backend also uses it for flushes the kernel refuses.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <unistd.h>

#include "block-internal.h"

/* Runs on a worker thread; the result reaches the home thread via the pool. */
static int threads_worker(void *opaque)
{
    BlockRequest *req = opaque;
    int fd = req->blk->fd;
    ssize_t ret;

    do {
        switch (req->type) {
        case BLOCK_REQ_READ:
            ret = preadv(fd, req->iov, req->iovcnt, req->offset);
            break;
        case BLOCK_REQ_WRITE:
            ret = pwritev(fd, req->iov, req->iovcnt, req->offset);
            break;
        case BLOCK_REQ_FLUSH:
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

static bool threads_open(BlockBackend *blk, GError **errp)
{
    return true;
}

static void threads_close(BlockBackend *blk)
{
}

static void threads_submit(BlockBackend *blk, BlockRequest *req)
{
    thread_pool_submit_aio(blk->ctx, threads_worker, req, threads_complete, req);
}

const BlockDriverOps blk_threads_ops = {
    .name = "threads",
    .open = threads_open,
    .close = threads_close,
    .submit = threads_submit,
};

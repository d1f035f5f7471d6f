/*
 * block/block-request.c - requests: validate against the drive (range,
 * alignment, read-only), bounce misaligned buffers under O_DIRECT, hand to
 * the queue's backend, and finish (short transfers, zero fill at EOF,
 * callbacks) on the queue's home thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "block-internal.h"

/* ------------------------------------------------------------------------ */
/* Finishing                                                                  */
/* ------------------------------------------------------------------------ */

/* A bounced read: give the data to the caller's buffers. */
static void bounce_copy_out(BlockRequest *req)
{
    const char *src = req->bounce;

    for (int i = 0; i < req->orig_iovcnt; i++) {
        memcpy(req->iov_copy[i].iov_base, src, req->iov_copy[i].iov_len);
        src += req->iov_copy[i].iov_len;
    }
}

/* Back to its queue's pool (home thread), or freed. */
static void request_free(BlockRequest *req)
{
    BlockQueue *q = req->q;

    if (req->pooled && q->pool_len < BLOCK_POOL_MAX) {
        req->opaque = q->pool;
        q->pool = req;
        q->pool_len++;
    } else {
        g_free(req);
    }
}

void blk_queue_pool_free(BlockQueue *q)
{
    while (q->pool) {
        BlockRequest *req = q->pool;

        q->pool = req->opaque;
        g_free(req);
    }
    q->pool_len = 0;
}

static void request_finish(BlockRequest *req, int ret)
{
    BlockQueue *q = req->q;

    if (ret < 0) {
        blk_stat_add(&q->stats.errors, 1);
    }
    if (req->bounce) {
        if (ret == 0 && req->type == BLOCK_REQ_READ) {
            bounce_copy_out(req);
        }
        free(req->bounce);
    }
    if (req->cb) {
        req->cb(req->opaque, ret);
    }
    request_free(req);
    /*
     * Counted down after the callback: a callback that closes or detaches
     * still sees its own request in flight, so the queue is never released
     * under the backend that is completing it.
     */
    __atomic_store_n(&q->in_flight, q->in_flight - 1, __ATOMIC_RELAXED);
    if (q->in_flight == 0 && q->release_pending) {
        qemu_bh_schedule(q->release_bh);
    }
}

/* Drop @n transferred bytes from the front of req's iovec. */
static void request_advance(BlockRequest *req, size_t n)
{
    req->offset += n;
    req->bytes -= n;
    while (n > 0 && req->iovcnt > 0) {
        size_t step = MIN(n, req->iov->iov_len);

        req->iov->iov_base = (char *)req->iov->iov_base + step;
        req->iov->iov_len -= step;
        n -= step;
        if (req->iov->iov_len == 0) {
            req->iov++;
            req->iovcnt--;
        }
    }
    while (req->iovcnt > 0 && req->iov->iov_len == 0) {
        req->iov++;
        req->iovcnt--;
    }
}

static void request_zero_rest(BlockRequest *req)
{
    for (int i = 0; i < req->iovcnt; i++) {
        memset(req->iov[i].iov_base, 0, req->iov[i].iov_len);
    }
}

/*
 * A short transfer of @n bytes: resubmit the rest (true), or decide the
 * final result in *@ret (false).  A read that stops at end of file (no
 * progress, or under O_DIRECT an unaligned stop) zero-fills the rest.
 */
static bool request_short(BlockRequest *req, size_t n, int *ret)
{
    BlockQueue *q = req->q;

    request_advance(req, n);
    if (req->type == BLOCK_REQ_READ) {
        if (n == 0 || (req->offset % q->blk->info.request_alignment) != 0) {
            request_zero_rest(req);
            *ret = 0;
            return false;
        }
    } else if (n == 0) {
        *ret = -EIO;
        return false;
    }
    blk_stat_add(&q->stats.resubmits, 1);
    q->ops->submit(q, req);
    return true;
}

void blk_request_done(BlockRequest *req, ssize_t ret)
{
    int final = ret < 0 ? (int)ret : 0;
    bool data = req->type == BLOCK_REQ_READ || req->type == BLOCK_REQ_WRITE;

    if (ret >= 0 && data && (size_t)ret < req->bytes) {
        if (request_short(req, ret, &final)) {
            return;
        }
    }
    request_finish(req, final);
}

static void fail_bh(void *opaque)
{
    BlockRequest *req = opaque;

    request_finish(req, (int)req->u.result);
}

void blk_request_fail_bh(BlockRequest *req, int ret)
{
    req->u.result = ret;
    aio_bh_schedule_oneshot(req->q->ctx, fail_bh, req);
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                     */
/* ------------------------------------------------------------------------ */

/* [@offset, @offset + @bytes) is aligned and inside the drive. */
static int check_range(BlockBackend *blk, int64_t offset, uint64_t bytes)
{
    uint64_t align = blk->info.request_alignment;

    if (offset < 0) {
        return -EINVAL;
    }
    if ((uint64_t)offset % align != 0 || bytes % align != 0) {
        return -EINVAL;
    }
    if (bytes > blk->info.size || (uint64_t)offset > blk->info.size - bytes) {
        return -ERANGE;
    }
    return 0;
}

static int check_rw(BlockBackend *blk, BlockReqType type, int64_t offset,
                    const struct iovec *iov, int iovcnt, size_t *bytes)
{
    size_t total = 0;

    if (type == BLOCK_REQ_WRITE && blk->info.read_only) {
        return -EROFS;
    }
    if (iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov)) {
        return -EINVAL;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SSIZE_MAX - total) {
            return -EINVAL;
        }
        total += iov[i].iov_len;
    }
    *bytes = total;
    return check_range(blk, offset, total);
}

/* Under O_DIRECT: would the kernel refuse these buffers? */
static bool needs_bounce(BlockBackend *blk, const struct iovec *iov, int iovcnt)
{
    size_t mem = blk->info.mem_alignment, len = blk->info.request_alignment;

    if (!(blk->flags & BLK_F_DIRECT)) {
        return false;
    }
    for (int i = 0; i < iovcnt; i++) {
        if ((uintptr_t)iov[i].iov_base % mem != 0 || iov[i].iov_len % len != 0) {
            return true;
        }
    }
    return false;
}

/* Replace the caller's buffers by one aligned buffer (copied in for writes). */
static int request_bounce(BlockRequest *req)
{
    BlockInfo *info = &req->q->blk->info;
    size_t align = MAX(MAX(info->mem_alignment, info->request_alignment), 4096);
    char *dst;

    if (posix_memalign(&req->bounce, align, req->bytes) != 0) {
        req->bounce = NULL;
        return -ENOMEM;
    }
    if (req->type == BLOCK_REQ_WRITE) {
        dst = req->bounce;
        for (int i = 0; i < req->orig_iovcnt; i++) {
            memcpy(dst, req->iov_copy[i].iov_base, req->iov_copy[i].iov_len);
            dst += req->iov_copy[i].iov_len;
        }
    }
    req->bounce_iov = (struct iovec){req->bounce, req->bytes};
    req->iov = &req->bounce_iov;
    req->iovcnt = 1;
    blk_stat_add(&req->q->stats.bounced, 1);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Submission                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    BlockCompletionFunc *cb;
    void *opaque;
} NoQueueCompletion;

static void no_queue_bh(void *opaque)
{
    NoQueueCompletion *c = opaque;

    if (c->cb) {
        c->cb(c->opaque, -ENODEV);
    }
    g_free(c);
}

/* The queue of @blk on @ctx (NULL: the caller's context), or NULL. */
static BlockQueue *queue_for(BlockBackend *blk, AioContext *ctx,
                             BlockCompletionFunc *cb, void *opaque)
{
    BlockQueue *q;

    if (!ctx) {
        ctx = qemu_get_current_aio_context();
    }
    g_return_val_if_fail(blk && ctx && in_aio_context_home_thread(ctx), NULL);
    q = blk_queue_get(blk, ctx);
    if (G_UNLIKELY(!q)) {
        /* Submitted after blk_close(): fail, from a BH as always. */
        NoQueueCompletion *c = g_new(NoQueueCompletion, 1);

        c->cb = cb;
        c->opaque = opaque;
        aio_bh_schedule_oneshot(ctx, no_queue_bh, c);
    }
    return q;
}

/* A request with room for @iovcnt iovecs: from @q's pool if it fits. */
static BlockRequest *request_alloc(BlockQueue *q, int iovcnt)
{
    BlockRequest *req;

    if (iovcnt > BLOCK_POOL_IOV) {
        req = g_malloc(sizeof(*req) + iovcnt * sizeof(struct iovec));
        memset(req, 0, sizeof(*req));
        return req;
    }
    req = q->pool;
    if (req) {
        q->pool = req->opaque;
        q->pool_len--;
    } else {
        req = g_malloc(sizeof(*req) + BLOCK_POOL_IOV * sizeof(struct iovec));
    }
    memset(req, 0, sizeof(*req));
    req->pooled = true;
    return req;
}

static BlockRequest *request_new(BlockQueue *q, BlockReqType type, int64_t offset,
                                 size_t bytes, const struct iovec *iov, int iovcnt,
                                 BlockCompletionFunc *cb, void *opaque)
{
    BlockRequest *req = request_alloc(q, iovcnt);

    req->q = q;
    req->type = type;
    req->offset = offset;
    req->bytes = bytes;
    req->cb = cb;
    req->opaque = opaque;
    req->link.data = req;
    if (iovcnt > 0) {
        memcpy(req->iov_copy, iov, iovcnt * sizeof(struct iovec));
    }
    req->iov = req->iov_copy;
    req->iovcnt = req->orig_iovcnt = iovcnt;
    return req;
}

/* Count @req in flight, then submit it, or fail it with @ret (< 0). */
static void request_start(BlockQueue *q, BlockRequest *req, int ret)
{
    __atomic_store_n(&q->in_flight, q->in_flight + 1, __ATOMIC_RELAXED);
    blk_stat_add(&q->stats.requests, 1);
    if (ret < 0) {
        blk_request_fail_bh(req, ret);
    } else if (req->type != BLOCK_REQ_FLUSH && req->bytes == 0) {
        blk_request_fail_bh(req, 0); /* nothing to do */
    } else {
        q->ops->submit(q, req);
    }
}

static void submit_rw(BlockBackend *blk, AioContext *ctx, BlockReqType type,
                      int64_t offset, const struct iovec *iov, int iovcnt,
                      BlockCompletionFunc *cb, void *opaque)
{
    BlockQueue *q = queue_for(blk, ctx, cb, opaque);
    BlockRequest *req;
    size_t bytes = 0;
    int ret;

    if (!q) {
        return;
    }
    ret = check_rw(blk, type, offset, iov, iovcnt, &bytes);
    req = request_new(q, type, offset, bytes, iov, ret == 0 ? iovcnt : 0, cb, opaque);
    if (ret == 0 && bytes > 0 && needs_bounce(blk, iov, iovcnt)) {
        ret = request_bounce(req);
    }
    request_start(q, req, ret);
}

void blk_aio_preadv(BlockBackend *blk, AioContext *ctx, int64_t offset,
                    const struct iovec *iov, int iovcnt, BlockCompletionFunc *cb,
                    void *opaque)
{
    submit_rw(blk, ctx, BLOCK_REQ_READ, offset, iov, iovcnt, cb, opaque);
}

void blk_aio_pwritev(BlockBackend *blk, AioContext *ctx, int64_t offset,
                     const struct iovec *iov, int iovcnt, BlockCompletionFunc *cb,
                     void *opaque)
{
    submit_rw(blk, ctx, BLOCK_REQ_WRITE, offset, iov, iovcnt, cb, opaque);
}

void blk_aio_flush(BlockBackend *blk, AioContext *ctx, BlockCompletionFunc *cb,
                   void *opaque)
{
    BlockQueue *q = queue_for(blk, ctx, cb, opaque);

    if (q) {
        request_start(q, request_new(q, BLOCK_REQ_FLUSH, 0, 0, NULL, 0, cb, opaque), 0);
    }
}

/* Discard and write-zeroes: a range, no buffers. */
static void submit_range(BlockBackend *blk, AioContext *ctx, BlockReqType type,
                         int64_t offset, int64_t bytes, int flags,
                         BlockCompletionFunc *cb, void *opaque)
{
    BlockQueue *q = queue_for(blk, ctx, cb, opaque);
    uint64_t max = type == BLOCK_REQ_DISCARD ? blk->info.max_discard_bytes
                                             : blk->info.max_write_zeroes_bytes;
    BlockRequest *req;
    int ret;

    if (!q) {
        return;
    }
    if (blk->info.read_only) {
        ret = -EROFS;
    } else if (bytes < 0 || (uint64_t)bytes > max || (flags & ~BLK_ZERO_MAY_UNMAP)) {
        ret = -EINVAL;
    } else {
        ret = check_range(blk, offset, bytes);
    }
    req = request_new(q, type, offset, ret == 0 ? bytes : 0, NULL, 0, cb, opaque);
    req->zero_flags = flags;
    if (ret == 0 && type == BLOCK_REQ_DISCARD && !blk->info.discard_unmap) {
        req->bytes = 0; /* discard=ignore: a valid request that does nothing */
    }
    request_start(q, req, ret);
}

void blk_aio_pdiscard(BlockBackend *blk, AioContext *ctx, int64_t offset, int64_t bytes,
                      BlockCompletionFunc *cb, void *opaque)
{
    submit_range(blk, ctx, BLOCK_REQ_DISCARD, offset, bytes, 0, cb, opaque);
}

void blk_aio_pwrite_zeroes(BlockBackend *blk, AioContext *ctx, int64_t offset,
                           int64_t bytes, int flags, BlockCompletionFunc *cb,
                           void *opaque)
{
    submit_range(blk, ctx, BLOCK_REQ_WRITE_ZEROES, offset, bytes, flags, cb, opaque);
}

/*
 * block/block-kq.c - what the kernel-queue backends (native, io_uring)
 * share: the completion eventfd of a queue, registered with the queue's
 * AioContext, and the batching rule.
 *
 * SPDX-License-Identifier: MIT
 */
#include "block-internal.h"

bool blk_kq_init(BlockKernelQueue *kq, GError **errp)
{
    int ret = event_notifier_init(&kq->e, false);

    g_queue_init(&kq->pending);
    if (ret < 0) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_FAILED,
                    "cannot create the completion eventfd: %s", g_strerror(-ret));
        return false;
    }
    return true;
}

void blk_kq_attach(BlockKernelQueue *kq, const BlockKqHandlers *handlers)
{
    aio_set_event_notifier(kq->q.ctx, &kq->e, handlers->io_read, handlers->io_poll,
                           handlers->io_poll_ready);
}

void blk_kq_cleanup(BlockKernelQueue *kq)
{
    g_assert(g_queue_is_empty(&kq->pending));
    aio_set_event_notifier(kq->q.ctx, &kq->e, NULL, NULL, NULL);
    event_notifier_cleanup(&kq->e);
}

bool blk_kq_should_submit(BlockKernelQueue *kq, unsigned waiting)
{
    return kq->q.plug_depth == 0 || waiting >= (unsigned)blk_queue_max_batch(&kq->q);
}

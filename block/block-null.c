/*
 * block/block-null.c - format=null: no file.  Reads return zeroes (the
 * buffers are cleared when the request completes), everything else
 * succeeds and is dropped, like QEMU's null-co with read-zeroes=on.
 *
 * Each queue completes its requests in submission order: from a BH at the
 * context's next iteration, or with latency-ns from a timer that fires
 * when the oldest request is due (every request waits the same time, so
 * the queue is sorted by deadline).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "block-internal.h"

typedef struct NullState {
    BlockQueue q;
    GQueue waiting;   /* BlockRequest, oldest first */
    QEMUBH *bh;       /* no latency: completes what waits */
    QEMUTimer *timer; /* latency: armed for the oldest request */
} NullState;
G_STATIC_ASSERT(offsetof(NullState, q) == 0);

static void null_complete(BlockRequest *req)
{
    if (req->type == BLOCK_REQ_READ) {
        for (int i = 0; i < req->iovcnt; i++) {
            memset(req->iov[i].iov_base, 0, req->iov[i].iov_len);
        }
    }
    blk_request_done(req, req->type == BLOCK_REQ_READ || req->type == BLOCK_REQ_WRITE
                              ? (ssize_t)req->bytes
                              : 0);
}

static void null_bh(void *opaque)
{
    NullState *s = opaque;
    /* Only what waits now: callbacks that submit go to the next round. */
    guint n = g_queue_get_length(&s->waiting);

    defer_call_begin(); /* one batch: see block-native.c */
    while (n-- > 0) {
        null_complete(g_queue_pop_head_link(&s->waiting)->data);
    }
    defer_call_end();
}

static void null_timer(void *opaque)
{
    NullState *s = opaque;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    guint n = g_queue_get_length(&s->waiting);
    BlockRequest *req;

    defer_call_begin();
    while (n-- > 0 && (req = g_queue_peek_head(&s->waiting)) &&
           req->u.deadline <= now) {
        g_queue_pop_head_link(&s->waiting);
        null_complete(req);
    }
    defer_call_end();
    req = g_queue_peek_head(&s->waiting);
    if (req && !timer_pending(s->timer)) {
        timer_mod_ns(s->timer, req->u.deadline);
    }
}

static void null_submit(BlockQueue *q, BlockRequest *req)
{
    NullState *s = (NullState *)q;
    int64_t latency = q->blk->null_latency_ns;

    g_queue_push_tail_link(&s->waiting, &req->link);
    if (latency == 0) {
        qemu_bh_schedule(s->bh);
        return;
    }
    req->u.deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + latency;
    if (!timer_pending(s->timer)) {
        timer_mod_ns(s->timer,
                     ((BlockRequest *)g_queue_peek_head(&s->waiting))->u.deadline);
    }
}

static bool null_init(BlockQueue *q, GError **errp)
{
    NullState *s = (NullState *)q;

    g_queue_init(&s->waiting);
    s->bh = aio_bh_new(q->ctx, null_bh, s);
    s->timer = aio_timer_new(q->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, null_timer, s);
    return true;
}

static void null_cleanup(BlockQueue *q)
{
    NullState *s = (NullState *)q;

    g_assert(g_queue_is_empty(&s->waiting));
    qemu_bh_delete(s->bh);
    timer_free(s->timer);
}

const BlockDriverOps blk_null_ops = {
    .name = "null",
    .queue_size = sizeof(NullState),
    .init = null_init,
    .cleanup = null_cleanup,
    .submit = null_submit,
};

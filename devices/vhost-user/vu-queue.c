/*
 * devices/vhost-user/vu-queue.c - what a device calls on a queue's thread
 * (pop, push, flush and notify, failing a chain), the kick handlers it
 * registers there, and the completion of queue start and stop, which hops
 * back to the control thread with a BH.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "vhost-user"

#include "vu-internal.h"

unsigned vu_queue_index(VuQueue *q)
{
    return q->index;
}

VuDev *vu_queue_get_dev(VuQueue *q)
{
    return q->dev;
}

void vu_queue_set_opaque(VuQueue *q, void *opaque)
{
    q->opaque = opaque;
}

void *vu_queue_get_opaque(VuQueue *q)
{
    return q->opaque;
}

void vu_queue_set_aio_context(VuQueue *q, AioContext *ctx)
{
    q->aio_ctx = ctx;
}

/* ------------------------------------------------------------------------ */
/* Start / stop completion                                                   */
/* ------------------------------------------------------------------------ */

static void vu_queue_op_done_bh(void *opaque)
{
    vu_ring_op_done(opaque);
}

/* Report a finished start or stop to the control thread. */
static void vu_queue_report(VuQueue *q)
{
    aio_bh_schedule_oneshot(q->dev->ctx, vu_queue_op_done_bh, q);
}

/* The same from vu_queue_started()/vu_queue_stopped(): at once when the
 * caller is the control thread (a device layer's done callback; the
 * operation is pending and the engine guards against reentry). */
static void vu_queue_report_now(VuQueue *q)
{
    if (q->dev->ctx && qemu_get_current_aio_context() == q->dev->ctx) {
        vu_ring_op_done(q);
    } else {
        vu_queue_report(q);
    }
}

void vu_queue_started(VuQueue *q)
{
    vu_queue_report_now(q);
}

/* A stop completes once nothing popped is left unpushed and unpublished;
 * from a flush, through a BH (the device may still be on the stack). */
static void vu_queue_check_stopped(VuQueue *q)
{
    if (q->stop_requested && virtq_in_use(&q->vq) == 0) {
        q->stop_requested = false;
        vu_queue_report(q);
    }
}

void vu_queue_stopped(VuQueue *q)
{
    virtq_drop_resubmits(&q->vq); /* still inflight: recovered at the next start */
    vu_queue_flush(q);
    if (virtq_in_use(&q->vq) == 0) {
        vu_queue_report_now(q);
    } else {
        q->stop_requested = true;
    }
}

/* ------------------------------------------------------------------------ */
/* Popping and pushing                                                       */
/* ------------------------------------------------------------------------ */

/* The ring broke: one log line per start, and the err fd. */
static void vu_queue_broken(VuQueue *q)
{
    if (!q->broken_logged) {
        q->broken_logged = true;
        g_warning("vhost-user device '%s': queue %u: %s; the queue stops until the "
                  "front-end restarts it",
                  q->dev->id, q->index, virtq_error(&q->vq));
        vu_ring_signal(q, true);
    }
}

bool vu_queue_pop(VuQueue *q, VirtQueueElement *elem)
{
    int r;

    if (!qatomic_read(&q->enabled)) {
        return false;
    }
    r = virtq_pop(&q->vq, elem);
    if (r < 0) {
        vu_queue_broken(q);
    }
    return r > 0;
}

void vu_queue_unpop(VuQueue *q, VirtQueueElement *elem)
{
    virtq_unpop(&q->vq, elem);
}

void vu_queue_push(VuQueue *q, const VirtQueueElement *elem, uint32_t len)
{
    virtq_push(&q->vq, elem, len);
}

void vu_queue_publish(VuQueue *q)
{
    if (virtq_flush(&q->vq) && virtq_should_notify(&q->vq)) {
        vu_ring_signal(q, false);
    }
}

void vu_queue_flush(VuQueue *q)
{
    vu_queue_publish(q);
    vu_queue_check_stopped(q);
}

void vu_queue_fail(VuQueue *q, const VirtQueueElement *elem, const char *why)
{
    virtq_set_broken(&q->vq, why);
    virtq_push(&q->vq, elem, 0); /* accounting only: the ring is broken */
    vu_queue_broken(q);
    vu_queue_check_stopped(q);
}

void vu_queue_set_notification(VuQueue *q, bool enable)
{
    virtq_set_notification(&q->vq, enable);
}

bool vu_queue_get_notification(VuQueue *q)
{
    return virtq_get_notification(&q->vq);
}

bool vu_queue_has_work(VuQueue *q)
{
    return qatomic_read(&q->enabled) && virtq_has_work(&q->vq);
}

unsigned vu_queue_in_use(VuQueue *q)
{
    return virtq_in_use(&q->vq);
}

/* ------------------------------------------------------------------------ */
/* Kick handlers                                                             */
/* ------------------------------------------------------------------------ */

EventNotifier *vu_queue_get_kick_notifier(VuQueue *q)
{
    return &q->kick;
}

static VuQueue *kick_queue(EventNotifier *e)
{
    return container_of(e, VuQueue, kick);
}

static void vu_queue_process(VuQueue *q)
{
    if (qatomic_read(&q->enabled) && !virtq_is_broken(&q->vq)) {
        q->dev->ops->process(q->dev, q);
    }
}

void vu_queue_kick_read(EventNotifier *e)
{
    event_notifier_test_and_clear(e);
    vu_queue_process(kick_queue(e));
}

bool vu_queue_kick_poll(void *opaque)
{
    return vu_queue_has_work(kick_queue(opaque));
}

void vu_queue_kick_poll_ready(EventNotifier *e)
{
    vu_queue_process(kick_queue(e));
}

void vu_queue_kick_poll_begin(EventNotifier *e)
{
    virtq_set_notification(&kick_queue(e)->vq, false);
}

void vu_queue_kick_poll_end(EventNotifier *e)
{
    /* aio_poll() polls once more after this, catching what raced with it. */
    virtq_set_notification(&kick_queue(e)->vq, true);
}

void vu_queue_attach_aio(VuQueue *q, AioContext *ctx)
{
    q->attached_ctx = ctx;
    aio_set_event_notifier(ctx, &q->kick, vu_queue_kick_read, vu_queue_kick_poll,
                           vu_queue_kick_poll_ready);
    aio_set_event_notifier_poll(ctx, &q->kick, vu_queue_kick_poll_begin,
                                vu_queue_kick_poll_end);
    /* Kicks on: a handler removed while its context polled kept them off. */
    virtq_set_notification(&q->vq, true);
}

void vu_queue_detach_aio(VuQueue *q)
{
    if (q->attached_ctx) {
        aio_set_event_notifier(q->attached_ctx, &q->kick, NULL, NULL, NULL);
        q->attached_ctx = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* Queues on plain AioContexts                                               */
/* ------------------------------------------------------------------------ */

static AioContext *vu_aio_queue_ctx(VuQueue *q)
{
    return q->aio_ctx ? q->aio_ctx : q->dev->ctx;
}

static void vu_aio_start_bh(void *opaque)
{
    VuQueue *q = opaque;

    vu_queue_attach_aio(q, vu_aio_queue_ctx(q));
    vu_queue_started(q);
}

static void vu_aio_stop_bh(void *opaque)
{
    VuQueue *q = opaque;

    vu_queue_detach_aio(q);
    vu_queue_stopped(q);
}

void vu_aio_queue_start(VuDev *dev, VuQueue *q)
{
    aio_bh_schedule_oneshot(vu_aio_queue_ctx(q), vu_aio_start_bh, q);
}

void vu_aio_queue_stop(VuDev *dev, VuQueue *q)
{
    aio_bh_schedule_oneshot(vu_aio_queue_ctx(q), vu_aio_stop_bh, q);
}

/*
 * devices/ticker.c - "ticker", a load-generating device for tests and demos.
 *
 * Purpose: exercise the device model end to end (queues on several
 * contexts, stops, drains, moves, deletion under load) without guest memory
 * or storage.  On each queue, every interval-us microseconds a generator
 * timer accepts a new request; each request waits latency-us microseconds
 * on its own timer, then completes from the queue's BH.  So a running
 * ticker always has timers and BHs in flight on each queue's context, and a
 * stop has real requests to drain.  Every callback checks that it runs on
 * its queue's thread.  Its counters are the Device's request statistics.
 *
 *   -device ticker,id=tick0,context=ctx0,interval-us=500,latency-us=2000
 *   -device ticker,id=tick1,num-queues=4,queue-contexts=io0:io1:io2
 *
 * All its timers and BHs are the base class's tracked sources: the ticker
 * has no attach or detach code.
 *
 * SPDX-License-Identifier: MIT
 */
#include "qcontext/devices/device.h"

#define TICKER_TYPE (ticker_get_type())
G_DECLARE_FINAL_TYPE(Ticker, ticker, TICKER, DEVICE, Device)

typedef struct TickerQueue TickerQueue;

typedef struct {
    TickerQueue *tq;
    DeviceTimer *timer; /* the request's latency */
    GList link;         /* in tq->reqs (in flight) or tq->done (completing) */
} TickerReq;

struct TickerQueue {
    Ticker *t;
    DeviceQueue *q;
    DeviceTimer *gen;  /* the generator */
    DeviceBH *done_bh; /* completes what is in done */
    GQueue reqs;       /* TickerReq * waiting for their timer */
    GQueue done;       /* TickerReq * waiting for done_bh */
    gboolean running;
};

struct _Ticker {
    Device parent;
    guint interval_us;
    guint latency_us;
    TickerQueue *queues; /* [num-queues] */
    guint nq;
};

enum { PROP_0, PROP_INTERVAL_US, PROP_LATENCY_US, N_PROPS };

static GParamSpec *ticker_props[N_PROPS];

G_DEFINE_FINAL_TYPE(Ticker, ticker, DEVICE_TYPE)
DEVICE_REGISTER_TYPE("ticker", ticker_get_type)

static void ticker_check_thread(TickerQueue *tq)
{
    if (!device_queue_in_thread(tq->q)) {
        g_error("ticker '%s': queue %d callback off its context's thread",
                device_get_id(DEVICE(tq->t)), device_queue_get_index(tq->q));
    }
}

static TickerQueue *ticker_queue(Device *dev, DeviceQueue *q)
{
    int i = device_queue_get_index(q);

    return i >= 0 ? &TICKER_DEVICE(dev)->queues[i] : NULL;
}

static void ticker_done_bh(void *opaque)
{
    TickerQueue *tq = opaque;
    TickerReq *req;

    ticker_check_thread(tq);
    while ((req = g_queue_peek_head(&tq->done))) {
        g_queue_unlink(&tq->done, &req->link);
        device_timer_free(req->timer);
        g_free(req);
        device_queue_request_end(tq->q, TRUE);
    }
}

static void ticker_req_timer_cb(void *opaque)
{
    TickerReq *req = opaque;
    TickerQueue *tq = req->tq;

    ticker_check_thread(tq);
    g_queue_unlink(&tq->reqs, &req->link);
    g_queue_push_tail_link(&tq->done, &req->link);
    device_bh_schedule(tq->done_bh);
}

static void ticker_arm_generator(TickerQueue *tq)
{
    device_timer_mod(tq->gen,
                     qemu_clock_get_us(QEMU_CLOCK_REALTIME) + tq->t->interval_us);
}

static void ticker_generate(void *opaque)
{
    TickerQueue *tq = opaque;
    TickerReq *req;

    ticker_check_thread(tq);
    if (!tq->running) {
        return;
    }
    req = g_new0(TickerReq, 1);
    req->tq = tq;
    req->link.data = req;
    req->timer = device_queue_timer_new(tq->q, QEMU_CLOCK_REALTIME, SCALE_US,
                                        ticker_req_timer_cb, req);
    g_queue_push_tail_link(&tq->reqs, &req->link);
    device_queue_request_begin(tq->q);
    device_timer_mod(req->timer,
                     qemu_clock_get_us(QEMU_CLOCK_REALTIME) + tq->t->latency_us);
    ticker_arm_generator(tq);
}

static void ticker_queue_quiesce(Device *dev, DeviceQueue *q)
{
    TickerQueue *tq = ticker_queue(dev, q);

    if (tq) {
        ticker_check_thread(tq);
        tq->running = FALSE;
        device_timer_del(tq->gen);
    }
}

static void ticker_queue_resume(Device *dev, DeviceQueue *q)
{
    TickerQueue *tq = ticker_queue(dev, q);

    if (tq) {
        ticker_check_thread(tq);
        tq->running = TRUE;
        ticker_arm_generator(tq);
    }
}

static gboolean ticker_realize(Device *dev, GError **errp)
{
    Ticker *t = TICKER_DEVICE(dev);

    t->nq = device_get_num_queues(dev);
    t->queues = g_new0(TickerQueue, t->nq);
    for (guint i = 0; i < t->nq; i++) {
        TickerQueue *tq = &t->queues[i];
        tq->t = t;
        tq->q = device_get_queue(dev, (int)i);
        tq->gen = device_queue_timer_new(tq->q, QEMU_CLOCK_REALTIME, SCALE_US,
                                         ticker_generate, tq);
        tq->done_bh = device_queue_bh_new(tq->q, ticker_done_bh, tq);
        g_queue_init(&tq->reqs);
        g_queue_init(&tq->done);
    }
    return TRUE;
}

/* Fail and free every request of @list (the drain was cut short). */
static void ticker_fail_all(TickerQueue *tq, GQueue *list)
{
    TickerReq *req;

    while ((req = g_queue_peek_head(list))) {
        g_queue_unlink(list, &req->link);
        device_timer_free(req->timer);
        g_free(req);
        device_queue_request_end(tq->q, FALSE);
    }
}

static void ticker_unrealize(Device *dev)
{
    Ticker *t = TICKER_DEVICE(dev);

    for (guint i = 0; i < t->nq; i++) {
        TickerQueue *tq = &t->queues[i];
        ticker_fail_all(tq, &tq->reqs);
        ticker_fail_all(tq, &tq->done);
        device_timer_free(tq->gen);
        device_bh_delete(tq->done_bh);
    }
    g_clear_pointer(&t->queues, g_free);
    t->nq = 0;
}

static void ticker_set_property(GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
    Ticker *t = TICKER_DEVICE(object);

    switch (prop_id) {
    case PROP_INTERVAL_US:
        t->interval_us = g_value_get_uint(value);
        break;
    case PROP_LATENCY_US:
        t->latency_us = g_value_get_uint(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ticker_get_property(GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
    Ticker *t = TICKER_DEVICE(object);

    switch (prop_id) {
    case PROP_INTERVAL_US:
        g_value_set_uint(value, t->interval_us);
        break;
    case PROP_LATENCY_US:
        g_value_set_uint(value, t->latency_us);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void ticker_class_init(TickerClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    DeviceClass *dev_class = QDEV_DEVICE_CLASS(klass);

    object_class->set_property = ticker_set_property;
    object_class->get_property = ticker_get_property;
    dev_class->realize = ticker_realize;
    dev_class->unrealize = ticker_unrealize;
    dev_class->queue_quiesce = ticker_queue_quiesce;
    dev_class->queue_resume = ticker_queue_resume;

    ticker_props[PROP_INTERVAL_US] = g_param_spec_uint(
        "interval-us", "Interval", "Microseconds between two new requests on a queue",
        1, G_MAXUINT32, 1000,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    ticker_props[PROP_LATENCY_US] = g_param_spec_uint(
        "latency-us", "Latency", "Microseconds a request takes to complete", 0,
        G_MAXUINT32, 200,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, ticker_props);
}

static void ticker_init(Ticker *t)
{
    t->interval_us = 1000;
    t->latency_us = 200;
}

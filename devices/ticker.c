/*
 * devices/ticker.c - "ticker", a load-generating device for tests and demos.
 *
 * Purpose: exercise the device model end to end (quiesce, drain, moves,
 * shutdown under load) without guest memory or storage.  Every
 * interval-us microseconds a generator timer accepts a new request; each
 * request waits latency-us microseconds on its own timer, then completes
 * from a BH.  So a running ticker always has timers and BHs in flight on its
 * context, and a quiesce has real requests to drain.  Its counters
 * (started/completed/failed) are the Device's request statistics.
 *
 *   -device ticker,id=tick0,context=ctx0,interval-us=500,latency-us=2000
 *
 * SPDX-License-Identifier: MIT
 */
#include "device-internal.h"

#define TICKER_TYPE (ticker_get_type())
G_DECLARE_FINAL_TYPE(Ticker, ticker, TICKER, DEVICE, Device)

typedef struct TickerReq {
    Ticker *ticker;
    QEMUTimer *timer; /* the request's latency */
    QEMUBH *bh;       /* its completion */
} TickerReq;

struct _Ticker {
    Device parent;
    guint interval_us;
    guint latency_us;
    QEMUTimer *gen;   /* the generator; NULL while detached */
    gboolean running; /* taking requests (context thread) */
    GPtrArray *reqs;  /* TickerReq * in flight */
    AioContext *aio;  /* attached context */
};

enum { PROP_0, PROP_INTERVAL_US, PROP_LATENCY_US, N_PROPS };

static GParamSpec *ticker_props[N_PROPS];

G_DEFINE_FINAL_TYPE(Ticker, ticker, DEVICE_TYPE)

/* Drop the request's timer and BH (they belong to the attached context). */
static void ticker_req_drop_sources(TickerReq *req)
{
    g_clear_pointer(&req->timer, timer_free);
    g_clear_pointer(&req->bh, qemu_bh_delete);
}

static void ticker_req_free(TickerReq *req)
{
    ticker_req_drop_sources(req);
    g_free(req);
}

static void ticker_req_complete_bh(void *opaque)
{
    TickerReq *req = opaque;
    Ticker *t = req->ticker;

    g_ptr_array_remove_fast(t->reqs, req);
    ticker_req_free(req);
    device_request_end(DEVICE(t), TRUE);
}

static void ticker_req_timer_cb(void *opaque)
{
    TickerReq *req = opaque;

    qemu_bh_schedule(req->bh);
}

static void ticker_arm_generator(Ticker *t)
{
    timer_mod(t->gen, qemu_clock_get_us(QEMU_CLOCK_REALTIME) + t->interval_us);
}

static void ticker_generate(void *opaque)
{
    Ticker *t = opaque;
    TickerReq *req;

    if (!t->running) {
        return;
    }
    req = g_new0(TickerReq, 1);
    req->ticker = t;
    req->timer =
        aio_timer_new(t->aio, QEMU_CLOCK_REALTIME, SCALE_US, ticker_req_timer_cb, req);
    req->bh = aio_bh_new(t->aio, ticker_req_complete_bh, req);
    g_ptr_array_add(t->reqs, req);
    device_request_begin(DEVICE(t));
    timer_mod(req->timer, qemu_clock_get_us(QEMU_CLOCK_REALTIME) + t->latency_us);
    ticker_arm_generator(t);
}

static void ticker_attach_aio_context(Device *dev, AioContext *aio)
{
    Ticker *t = TICKER_DEVICE(dev);

    t->aio = aio;
    t->gen = aio_timer_new(aio, QEMU_CLOCK_REALTIME, SCALE_US, ticker_generate, t);
}

/* Quiesced: nothing in flight.  At unrealize: drop the in-flight sources. */
static void ticker_detach_aio_context(Device *dev)
{
    Ticker *t = TICKER_DEVICE(dev);

    for (guint i = 0; i < t->reqs->len; i++) {
        ticker_req_drop_sources(g_ptr_array_index(t->reqs, i));
    }
    g_clear_pointer(&t->gen, timer_free);
    t->aio = NULL;
}

static void ticker_quiesce(Device *dev)
{
    Ticker *t = TICKER_DEVICE(dev);

    t->running = FALSE;
    timer_del(t->gen);
}

static void ticker_resume(Device *dev)
{
    Ticker *t = TICKER_DEVICE(dev);

    t->running = TRUE;
    ticker_arm_generator(t);
}

static gboolean ticker_realize(Device *dev, GError **errp)
{
    Ticker *t = TICKER_DEVICE(dev);

    t->reqs = g_ptr_array_new();
    return TRUE;
}

/* Requests still in flight (the shutdown timed out) fail. */
static void ticker_unrealize(Device *dev)
{
    Ticker *t = TICKER_DEVICE(dev);

    while (t->reqs->len) {
        TickerReq *req = g_ptr_array_steal_index_fast(t->reqs, t->reqs->len - 1);
        ticker_req_free(req);
        device_request_end(dev, FALSE);
    }
    g_clear_pointer(&t->reqs, g_ptr_array_unref);
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
    dev_class->attach_aio_context = ticker_attach_aio_context;
    dev_class->detach_aio_context = ticker_detach_aio_context;
    dev_class->quiesce = ticker_quiesce;
    dev_class->resume = ticker_resume;

    ticker_props[PROP_INTERVAL_US] = g_param_spec_uint(
        "interval-us", "Interval", "Microseconds between two new requests", 1,
        G_MAXUINT32, 1000,
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

/*
 * devices/device.c - Device: realize/unrealize, request accounting and the
 * asynchronous control operations (quiesce, resume, move, flush).
 *
 * Control operations are queued per device on the main thread and run one
 * at a time.  Each is a chain of steps; a step that must run on a context's
 * thread is a one-shot BH there, and every chain ends with a BH on the main
 * AioContext that updates the main-thread state and calls the DeviceDoneFunc.
 * The BH queues order the steps, so each step sees what the previous one
 * wrote (happens-before through the BH queue).
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>

#include "device-internal.h"

typedef enum { OP_QUIESCE, OP_RESUME, OP_MOVE, OP_FLUSH } DeviceOpKind;

typedef struct DeviceOp {
    DeviceOpKind kind;
    QContext *target; /* OP_RESUME / OP_MOVE: where to run (a reference) */
    gboolean resume;  /* OP_MOVE: resume after the move (it was running) */
    DeviceDoneFunc done;
    gpointer opaque;
} DeviceOp;

typedef struct {
    QContext *ctx;       /* main thread; a reference */
    AioContext *aio;     /* the attached AioContext; its thread */
    DeviceState state;   /* main thread */
    GQueue ops;          /* main thread: DeviceOp *, head = running one */
    gboolean op_running; /* main thread */
    int draining;        /* atomic: waiting for in_flight to reach 0 */
    gint64 in_flight;    /* atomic */
    guint64 started;     /* atomic */
    guint64 completed;   /* atomic */
    guint64 failed;      /* atomic */
    guint64 moves;       /* atomic */
} DevicePrivate;

enum { PROP_0, PROP_CONTEXT, N_PROPS };

static GParamSpec *device_props[N_PROPS];
static DeviceEventHook event_hook;
static gpointer event_hook_opaque;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(Device, device, QOM_TYPE_OBJECT)

static DevicePrivate *priv_of(Device *dev)
{
    return device_get_instance_private(dev);
}

AioContext *device_main_aio(void)
{
    return qcontext_get_aio_context(qcontext_get_main());
}

const char *device_state_str(DeviceState state)
{
    static const char *const names[] = {
        [DEVICE_STATE_UNREALIZED] = "unrealized", [DEVICE_STATE_RUNNING] = "running",
        [DEVICE_STATE_QUIESCING] = "quiescing",   [DEVICE_STATE_QUIESCED] = "quiesced",
        [DEVICE_STATE_MOVING] = "moving",
    };
    return (unsigned)state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Queries and request accounting                                            */
/* ------------------------------------------------------------------------ */

const char *device_get_id(Device *dev)
{
    return qom_object_get_id(QOM_OBJECT(dev));
}

QContext *device_get_context(Device *dev)
{
    g_return_val_if_fail(IS_DEVICE(dev), NULL);
    return priv_of(dev)->ctx;
}

DeviceState device_get_state(Device *dev)
{
    g_return_val_if_fail(IS_DEVICE(dev), DEVICE_STATE_UNREALIZED);
    return priv_of(dev)->state;
}

gboolean device_is_realized(Device *dev)
{
    return device_get_state(dev) != DEVICE_STATE_UNREALIZED;
}

gboolean device_is_busy(Device *dev)
{
    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    return !g_queue_is_empty(&priv_of(dev)->ops);
}

gboolean device_can_delete(Device *dev)
{
    DevicePrivate *priv = priv_of(dev);

    /* Idle, or only draining (the drain is given up at deletion). */
    return g_queue_is_empty(&priv->ops) || (g_queue_get_length(&priv->ops) == 1 &&
                                            priv->state == DEVICE_STATE_QUIESCING);
}

void device_get_stats(Device *dev, DeviceStats *stats)
{
    DevicePrivate *priv = priv_of(dev);

    stats->started = __atomic_load_n(&priv->started, __ATOMIC_RELAXED);
    stats->completed = __atomic_load_n(&priv->completed, __ATOMIC_RELAXED);
    stats->failed = __atomic_load_n(&priv->failed, __ATOMIC_RELAXED);
    stats->in_flight =
        (guint64)MAX(0, __atomic_load_n(&priv->in_flight, __ATOMIC_RELAXED));
    stats->moves = __atomic_load_n(&priv->moves, __ATOMIC_RELAXED);
}

guint64 device_get_in_flight(Device *dev)
{
    return (guint64)MAX(0, __atomic_load_n(&priv_of(dev)->in_flight, __ATOMIC_SEQ_CST));
}

AioContext *device_get_aio_context(Device *dev)
{
    return priv_of(dev)->aio;
}

void device_request_begin(Device *dev)
{
    DevicePrivate *priv = priv_of(dev);

    __atomic_fetch_add(&priv->started, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&priv->in_flight, 1, __ATOMIC_SEQ_CST);
}

static void device_drain_check(Device *dev);

void device_request_end(Device *dev, gboolean success)
{
    DevicePrivate *priv = priv_of(dev);

    __atomic_fetch_add(success ? &priv->completed : &priv->failed, 1, __ATOMIC_RELAXED);
    /*
     * Store-load pattern with device_quiesce_bh(): it sets draining then
     * reads in_flight; we decrement in_flight then read draining.  All
     * SEQ_CST, so at least one side sees the other and the drain is noticed.
     */
    if (__atomic_sub_fetch(&priv->in_flight, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&priv->draining, __ATOMIC_SEQ_CST)) {
        device_drain_check(dev);
    }
}

gboolean device_uses_object(Device *dev, QomObject *obj)
{
    DevicePrivate *priv = priv_of(dev);
    GParamSpec **pspecs;
    guint n;
    gboolean used = (QomObject *)priv->ctx == obj;

    for (GList *l = priv->ops.head; l && !used; l = l->next) {
        used = (QomObject *)((DeviceOp *)l->data)->target == obj;
    }
    pspecs = g_object_class_list_properties(G_OBJECT_GET_CLASS(dev), &n);
    for (guint i = 0; i < n && !used; i++) {
        GValue v = G_VALUE_INIT;
        if (!G_TYPE_IS_OBJECT(pspecs[i]->value_type) ||
            !(pspecs[i]->flags & G_PARAM_READABLE)) {
            continue;
        }
        g_value_init(&v, pspecs[i]->value_type);
        g_object_get_property(G_OBJECT(dev), pspecs[i]->name, &v);
        used = g_value_get_object(&v) == (gpointer)obj;
        g_value_unset(&v);
    }
    g_free(pspecs);
    return used;
}

/* ------------------------------------------------------------------------ */
/* The operation queue (main thread)                                         */
/* ------------------------------------------------------------------------ */

static void device_op_start(Device *dev);

static void device_op_free(DeviceOp *op)
{
    g_clear_object(&op->target);
    g_free(op);
}

/* Finish the running operation: report, then start the next one. */
static void device_op_finish(Device *dev, GError *err)
{
    DevicePrivate *priv = priv_of(dev);
    DeviceOp *op = g_queue_pop_head(&priv->ops);

    priv->op_running = FALSE;
    if (op->done) {
        op->done(dev, err, op->opaque);
    }
    g_clear_error(&err);
    device_op_free(op);
    if (!g_queue_is_empty(&priv->ops)) {
        device_op_start(dev);
    }
    g_object_unref(dev); /* taken in device_op_push() */
}

static void device_op_push(Device *dev, DeviceOpKind kind, QContext *target,
                           DeviceDoneFunc done, gpointer opaque)
{
    DevicePrivate *priv = priv_of(dev);
    DeviceOp *op = g_new0(DeviceOp, 1);

    /* Make sure "main" exists, created here on the main thread: context
     * threads only look it up when they report back. */
    device_main_aio();
    op->kind = kind;
    op->target = target ? g_object_ref(target) : NULL;
    op->done = done;
    op->opaque = opaque;
    g_object_ref(dev);
    g_queue_push_tail(&priv->ops, op);
    if (!priv->op_running) {
        device_op_start(dev);
    }
}

/* ------------------------------------------------------------------------ */
/* Steps.  Each hops threads with one-shot BHs and holds a device reference. */
/* A context-thread step hands its reference on to the next step; only the  */
/* main thread drops one, so a device is never disposed of on a context     */
/* thread.                                                                    */
/* ------------------------------------------------------------------------ */

/* Schedule @fn(dev) in @aio with a new reference. */
static void device_bh(AioContext *aio, QEMUBHFunc *fn, Device *dev)
{
    g_object_ref(dev);
    aio_bh_schedule_oneshot(aio, fn, dev);
}

/* Schedule @fn(dev) in @aio, handing over the caller's reference. */
static void device_bh_pass(AioContext *aio, QEMUBHFunc *fn, Device *dev)
{
    aio_bh_schedule_oneshot(aio, fn, dev);
}

static void device_unref_bh(void *opaque)
{
    g_object_unref(opaque);
}

static DeviceOp *current_op(Device *dev)
{
    return g_queue_peek_head(&priv_of(dev)->ops);
}

static void device_op_step_done_bh(void *opaque);
static void device_detach_bh(void *opaque);
static void device_attach_bh(void *opaque);

/* Quiesced (main thread): continue the running op. */
static void device_quiesced_bh(void *opaque)
{
    Device *dev = opaque;
    DeviceOp *op = current_op(dev);

    priv_of(dev)->state = DEVICE_STATE_QUIESCED;
    if (op->kind == OP_MOVE) {
        priv_of(dev)->state = DEVICE_STATE_MOVING;
        device_bh(qcontext_get_aio_context(priv_of(dev)->ctx), device_detach_bh, dev);
    } else {
        device_op_finish(dev, NULL);
    }
    g_object_unref(dev);
}

/* Any thread: TRUE (once) if the drain is complete. */
static gboolean device_drain_done(Device *dev)
{
    DevicePrivate *priv = priv_of(dev);

    return __atomic_load_n(&priv->in_flight, __ATOMIC_SEQ_CST) == 0 &&
           __atomic_exchange_n(&priv->draining, 0, __ATOMIC_SEQ_CST);
}

/* Any thread (a request ended): if the drain is complete, report it. */
static void device_drain_check(Device *dev)
{
    if (device_drain_done(dev)) {
        device_bh(device_main_aio(), device_quiesced_bh, dev);
    }
}

/* Context thread: stop taking requests, then wait for in-flight ones. */
static void device_quiesce_bh(void *opaque)
{
    Device *dev = opaque;
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);

    if (klass->quiesce) {
        klass->quiesce(dev);
    }
    /* Pairs with the SEQ_CST decrement and load in device_request_end(). */
    __atomic_store_n(&priv_of(dev)->draining, 1, __ATOMIC_SEQ_CST);
    device_bh_pass(device_main_aio(),
                   device_drain_done(dev) ? device_quiesced_bh : device_unref_bh, dev);
}

void device_attach(Device *dev, AioContext *aio, gboolean resume)
{
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);

    priv_of(dev)->aio = aio;
    if (klass->attach_aio_context) {
        klass->attach_aio_context(dev, aio);
    }
    if (resume && klass->resume) {
        klass->resume(dev);
    }
}

void device_detach(Device *dev)
{
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);

    if (klass->detach_aio_context) {
        klass->detach_aio_context(dev);
    }
    priv_of(dev)->aio = NULL;
}

/* Old context's thread: remove the device's sources, then attach anew. */
static void device_detach_bh(void *opaque)
{
    Device *dev = opaque;
    DeviceOp *op;

    device_detach(dev);
    /* The op queue is only modified on the main thread, and not while an op
     * runs: reading the head here is safe (ordered by the BH queue). */
    op = current_op(dev);
    device_bh_pass(qcontext_get_aio_context(op->target), device_attach_bh, dev);
}

/* New context's thread: register the sources there, resume if asked. */
static void device_attach_bh(void *opaque)
{
    Device *dev = opaque;
    DeviceOp *op = current_op(dev);

    device_attach(dev, qcontext_get_aio_context(op->target), op->resume);
    device_bh_pass(device_main_aio(), device_op_step_done_bh, dev);
}

/* Context thread: resume in place. */
static void device_resume_bh(void *opaque)
{
    Device *dev = opaque;
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);

    if (klass->resume) {
        klass->resume(dev);
    }
    device_bh_pass(device_main_aio(), device_op_step_done_bh, dev);
}

typedef struct {
    Device *dev;
    GError *err;
} FlushData;

static void device_flush_main_bh(void *opaque)
{
    FlushData *fd = opaque;
    Device *dev = fd->dev;

    device_op_finish(dev, fd->err);
    g_free(fd);
    g_object_unref(dev);
}

static void device_flush_done(Device *dev, const GError *err, gpointer opaque)
{
    FlushData *fd = g_new0(FlushData, 1);

    fd->dev = dev; /* the reference taken by device_bh() for the flush */
    fd->err = err ? g_error_copy(err) : NULL;
    aio_bh_schedule_oneshot(device_main_aio(), device_flush_main_bh, fd);
}

/* Context thread: run the class's flush. */
static void device_flush_bh(void *opaque)
{
    Device *dev = opaque;
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);

    if (klass->flush) {
        klass->flush(dev, device_flush_done, NULL);
    } else {
        device_flush_done(dev, NULL, NULL);
    }
}

/* Main thread: a move or resume finished its context-thread steps. */
static void device_op_step_done_bh(void *opaque)
{
    Device *dev = opaque;
    DevicePrivate *priv = priv_of(dev);
    DeviceOp *op = current_op(dev);
    QContext *from = priv->ctx;

    if (op->target && op->target != priv->ctx) {
        priv->ctx = g_object_ref(op->target);
        __atomic_fetch_add(&priv->moves, 1, __ATOMIC_RELAXED);
    } else {
        from = NULL;
    }
    priv->state = (op->kind == OP_MOVE && !op->resume) ? DEVICE_STATE_QUIESCED
                                                       : DEVICE_STATE_RUNNING;
    if (from) {
        device_emit_event(dev, DEVICE_EVENT_MOVED, from, priv->ctx);
        g_object_unref(from);
    }
    device_op_finish(dev, NULL);
    g_object_unref(dev);
}

/* Main thread: start the operation at the head of the queue. */
static void device_op_start(Device *dev)
{
    DevicePrivate *priv = priv_of(dev);
    DeviceOp *op = current_op(dev);
    AioContext *cur = qcontext_get_aio_context(priv->ctx);

    priv->op_running = TRUE;
    if (priv->state == DEVICE_STATE_UNREALIZED) {
        device_op_finish(dev, g_error_new(QOM_ERROR, QOM_ERROR_FAILED,
                                          "device '%s' is not realized",
                                          device_get_id(dev)));
        return;
    }
    switch (op->kind) {
    case OP_QUIESCE:
        if (priv->state == DEVICE_STATE_QUIESCED) {
            device_op_finish(dev, NULL);
            return;
        }
        priv->state = DEVICE_STATE_QUIESCING;
        device_bh(cur, device_quiesce_bh, dev);
        return;
    case OP_RESUME:
        if (priv->state != DEVICE_STATE_QUIESCED) {
            device_op_finish(dev, g_error_new(QOM_ERROR, QOM_ERROR_FAILED,
                                              "device '%s' is not quiesced (it is %s)",
                                              device_get_id(dev),
                                              device_state_str(priv->state)));
            return;
        }
        priv->state = DEVICE_STATE_MOVING;
        if (op->target && op->target != priv->ctx) {
            op->resume = TRUE;
            device_bh(cur, device_detach_bh, dev);
        } else {
            device_bh(cur, device_resume_bh, dev);
        }
        return;
    case OP_MOVE:
        if (op->target == priv->ctx) {
            device_op_finish(dev, NULL);
            return;
        }
        op->resume = priv->state == DEVICE_STATE_RUNNING;
        if (op->resume) {
            priv->state = DEVICE_STATE_QUIESCING;
            device_bh(cur, device_quiesce_bh, dev);
        } else {
            priv->state = DEVICE_STATE_MOVING;
            device_bh(cur, device_detach_bh, dev);
        }
        return;
    case OP_FLUSH:
        device_bh(cur, device_flush_bh, dev);
        return;
    }
}

/* ------------------------------------------------------------------------ */
/* Public control operations                                                 */
/* ------------------------------------------------------------------------ */

void device_quiesce(Device *dev, DeviceDoneFunc done, gpointer opaque)
{
    g_return_if_fail(IS_DEVICE(dev));
    device_op_push(dev, OP_QUIESCE, NULL, done, opaque);
}

void device_resume(Device *dev, QContext *ctx, DeviceDoneFunc done, gpointer opaque)
{
    g_return_if_fail(IS_DEVICE(dev));
    device_op_push(dev, OP_RESUME, ctx, done, opaque);
}

void device_flush(Device *dev, DeviceDoneFunc done, gpointer opaque)
{
    g_return_if_fail(IS_DEVICE(dev));
    device_op_push(dev, OP_FLUSH, NULL, done, opaque);
}

gboolean device_set_context(Device *dev, QContext *ctx, DeviceDoneFunc done,
                            gpointer opaque, GError **errp)
{
    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    if (!device_is_realized(dev)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "device '%s' is not realized",
                    device_get_id(dev));
        return FALSE;
    }
    if (!ctx || !qom_object_is_completed(QOM_OBJECT(ctx))) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "device '%s': no such context to move to", device_get_id(dev));
        return FALSE;
    }
    if (!device_context_usable(ctx, device_get_id(dev), errp)) {
        return FALSE;
    }
    device_op_push(dev, OP_MOVE, ctx, done, opaque);
    return TRUE;
}

void device_set_event_hook(DeviceEventHook hook, gpointer opaque)
{
    event_hook = hook;
    event_hook_opaque = opaque;
}

void device_emit_event(Device *dev, DeviceEvent event, QContext *from, QContext *to)
{
    if (event_hook) {
        event_hook(dev, event, from, to, event_hook_opaque);
    }
}

/* ------------------------------------------------------------------------ */
/* GObject plumbing; realize/unrealize are in device-realize.c               */
/* ------------------------------------------------------------------------ */

QContext *device_priv_ctx(Device *dev)
{
    return priv_of(dev)->ctx;
}

void device_priv_set_ctx(Device *dev, QContext *ctx)
{
    DevicePrivate *priv = priv_of(dev);

    if (ctx != priv->ctx) {
        g_clear_object(&priv->ctx);
        priv->ctx = ctx ? g_object_ref(ctx) : NULL;
    }
}

void device_priv_set_state(Device *dev, DeviceState state)
{
    priv_of(dev)->state = state;
}

/* Fail every queued operation that has not started. */
static void device_ops_fail_queued(Device *dev)
{
    DevicePrivate *priv = priv_of(dev);

    while (g_queue_get_length(&priv->ops) > (priv->op_running ? 1u : 0u)) {
        DeviceOp *op = g_queue_pop_tail(&priv->ops);
        GError *err = g_error_new(QOM_ERROR, QOM_ERROR_NOT_FOUND,
                                  "device '%s' was deleted", device_get_id(dev));
        if (op->done) {
            op->done(dev, err, op->opaque);
        }
        g_error_free(err);
        device_op_free(op);
        g_object_unref(dev); /* taken in device_op_push() */
    }
}

/* TRUE if no thread will ever run the pending op's next step. */
static gboolean device_ops_stuck(Device *dev)
{
    DevicePrivate *priv = priv_of(dev);
    DeviceOp *op = current_op(dev);

    return (priv->ctx != qcontext_get_main() && !qcontext_is_running(priv->ctx)) ||
           (op && op->target && op->target != qcontext_get_main() &&
            !qcontext_is_running(op->target));
}

void device_priv_wait_idle(Device *dev)
{
    DevicePrivate *priv = priv_of(dev);

    g_object_ref(dev);
    device_ops_fail_queued(dev);
    while (priv->op_running) {
        /*
         * A drain that still waits for requests is given up: whoever clears
         * draining first owns the end of the quiesce (pairs with the
         * exchange in device_drain_check()).
         */
        if (priv->state == DEVICE_STATE_QUIESCING &&
            __atomic_exchange_n(&priv->draining, 0, __ATOMIC_SEQ_CST)) {
            priv->state = DEVICE_STATE_QUIESCED;
            device_op_finish(dev, g_error_new(QOM_ERROR, QOM_ERROR_FAILED,
                                              "device '%s' was deleted while draining",
                                              device_get_id(dev)));
            device_ops_fail_queued(dev);
            continue;
        }
        if (!g_main_context_iteration(NULL, FALSE)) {
            if (device_ops_stuck(dev)) {
                g_warning("device '%s': its context '%s' stopped with an operation "
                          "pending; giving up on it",
                          device_get_id(dev), qcontext_get_name(priv->ctx));
                priv->op_running = FALSE;
                device_op_free(g_queue_pop_head(&priv->ops)); /* BHs keep the device */
                break;
            }
            g_usleep(1000);
        }
        device_ops_fail_queued(dev);
    }
    g_object_unref(dev);
}

static void device_set_property(GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
    switch (prop_id) {
    case PROP_CONTEXT:
        device_priv_set_ctx(DEVICE(object), g_value_get_object(value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void device_get_property(GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
    switch (prop_id) {
    case PROP_CONTEXT:
        g_value_set_object(value, priv_of(DEVICE(object))->ctx);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void device_dispose(GObject *object)
{
    device_unrealize_sync(DEVICE(object));
    G_OBJECT_CLASS(device_parent_class)->dispose(object);
}

static void device_finalize(GObject *object)
{
    DevicePrivate *priv = priv_of(DEVICE(object));

    g_assert(g_queue_is_empty(&priv->ops));
    g_clear_object(&priv->ctx);
    G_OBJECT_CLASS(device_parent_class)->finalize(object);
}

static void device_class_init(DeviceClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    QomObjectClass *qom_class = QOM_OBJECT_CLASS(klass);

    object_class->set_property = device_set_property;
    object_class->get_property = device_get_property;
    object_class->dispose = device_dispose;
    object_class->finalize = device_finalize;
    qom_class->complete = device_complete;
    qom_class->unparent = device_unparent;

    device_props[PROP_CONTEXT] = g_param_spec_object(
        "context", "Context",
        "The context the device runs in (default: main); change it with a move",
        QCONTEXT_TYPE,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, device_props);
}

static void device_init(Device *dev)
{
    DevicePrivate *priv = priv_of(dev);

    g_queue_init(&priv->ops);
    priv->state = DEVICE_STATE_UNREALIZED;
}

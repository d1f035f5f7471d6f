/*
 * devices/device-ops.c - the operations: their steps, their lists (which
 * step runs where, in which order) and the public functions that queue
 * them.  How an operation advances is device-engine.c's business; the
 * tables below are the whole definition of each operation (see
 * docs/devices.md for each one's thread hops).
 *
 * SPDX-License-Identifier: MIT
 */
#include "device-engine.h"

/* ------------------------------------------------------------------------ */
/* Per-plane steps                                                          */
/* ------------------------------------------------------------------------ */

static void plane_resume(DeviceQueue *q)
{
    DeviceClass *klass = device_class_of(q->dev);

    device_queue_set_state(q, DEVICE_QUEUE_RUNNING);
    if (!q->running) {
        q->running = TRUE;
        if (klass->queue_resume) {
            klass->queue_resume(q->dev, q);
        }
    }
}

/* Plane's (old) thread: remove its sources. */
static StepResult step_detach(DeviceOp *op, DeviceQueue *q)
{
    DeviceClass *klass = device_class_of(q->dev);

    if (klass->queue_detach) {
        klass->queue_detach(q->dev, q);
    }
    device_queue_detach_sources(q);
    device_queue_set_state(q, op->target ? DEVICE_QUEUE_MOVING : DEVICE_QUEUE_DETACHED);
    return STEP_NEXT;
}

/* Plane's (new) thread: register its sources there. */
static StepResult step_attach(DeviceOp *op, DeviceQueue *q)
{
    DeviceClass *klass = device_class_of(q->dev);
    QContext *old = NULL;
    AioContext *aio;

    device_lock(q->dev);
    if (op->target && q->ctx != op->target) {
        old = q->ctx;
        q->ctx = g_object_ref(op->target);
    }
    q->state = DEVICE_QUEUE_STOPPED;
    aio = qcontext_get_aio_context(q->ctx);
    device_unlock(q->dev);
    if (old) {
        device_unref_on_main(old);
        qatomic_add_relaxed(&q->moves, 1);
        qatomic_set(&op->moved, 1);
    }
    device_queue_attach_sources(q, aio);
    if (klass->queue_attach) {
        klass->queue_attach(q->dev, q, aio);
    }
    return STEP_NEXT;
}

/* Start taking requests (device_resume, device_queue_start). */
static StepResult step_start(DeviceOp *op, DeviceQueue *q)
{
    plane_resume(q);
    return STEP_NEXT;
}

/* Start unless the class starts its queues itself (realize, reset). */
static StepResult step_autostart(DeviceOp *op, DeviceQueue *q)
{
    if (q->index < 0 || !device_class_of(q->dev)->manual_start) {
        plane_resume(q);
    }
    return STEP_NEXT;
}

/* Start again if it was running before the stop step. */
static StepResult step_restore(DeviceOp *op, DeviceQueue *q)
{
    if (q->was_running) {
        plane_resume(q);
    }
    return STEP_NEXT;
}

/* ------------------------------------------------------------------------ */
/* Device-wide steps                                                        */
/* ------------------------------------------------------------------------ */

static StepResult step_run_fn(DeviceOp *op, DeviceQueue *unused)
{
    if (!op->err) {
        op->fn(op->dev, op->fn_opaque);
    }
    return STEP_NEXT;
}

static StepResult step_reset(DeviceOp *op, DeviceQueue *unused)
{
    if (!op->err && device_class_of(op->dev)->reset) {
        device_class_of(op->dev)->reset(op->dev);
    }
    return STEP_NEXT;
}

static void flush_done(Device *dev, const GError *err, gpointer opaque)
{
    DeviceOp *op = opaque;

    if (err) {
        engine_op_fail(op, g_error_copy(err));
    }
    engine_op_continue(op);
}

static StepResult step_flush(DeviceOp *op, DeviceQueue *unused)
{
    if (!device_class_of(op->dev)->flush) {
        return STEP_NEXT;
    }
    device_class_of(op->dev)->flush(op->dev, flush_done, op);
    return STEP_WAIT;
}

/* Main: unrealize, leave the container; finish (done, then "deleted"). */
static StepResult step_finish_delete(DeviceOp *op, DeviceQueue *unused)
{
    Device *dev = op->dev;
    DevicePrivate *priv = device_priv(dev);
    DeviceClass *klass = device_class_of(dev);
    guint64 left = __atomic_load_n(&op->undrained, __ATOMIC_RELAXED);
    gboolean realized;

    device_lock(dev);
    realized = priv->realized;
    device_unlock(dev);
    if (!realized) {
        return engine_step_finish(op, NULL); /* deleted by an earlier device_del */
    }
    if (klass->unrealize) {
        klass->unrealize(dev);
    }
    if (device_get_in_flight(dev)) {
        g_warning("device '%s': %" G_GUINT64_FORMAT " requests never ended",
                  device_get_id(dev), device_get_in_flight(dev));
    }
    g_clear_pointer(&priv->deadline, timer_free);
    device_lock(dev);
    priv->realized = FALSE;
    device_unlock(dev);
    device_registry_remove(dev);
    device_leave_container(dev);
    if (left && !op->err) {
        op->err = g_error_new(QOM_ERROR, QOM_ERROR_FAILED,
                              "device '%s': %" G_GUINT64_FORMAT
                              " requests still in flight when deleted; failed them",
                              device_get_id(dev), left);
    }
    op->deleted = TRUE;
    return engine_step_finish(op, NULL);
}

static void after_delete(DeviceOp *op)
{
    if (op->deleted) {
        device_emit_deleted(op->dev);
    }
}

static void after_move(DeviceOp *op)
{
    if (!op->err && qatomic_read(&op->moved)) {
        qatomic_add_relaxed(&device_priv(op->dev)->moves, 1);
        device_emit_moved(op->dev, op->queue, op->from, op->target);
    }
}

/* ------------------------------------------------------------------------ */
/* Operation types                                                          */
/* ------------------------------------------------------------------------ */

/* clang-format off */
#define STEPS_END {0, NULL}
static const DeviceStep realize_steps[] = {
    {AT_PLANE, step_attach}, {AT_PLANE, step_autostart},
    {AT_MAIN, engine_step_finish}, STEPS_END};
static const DeviceStep stop_steps[] = {
    {AT_PLANE, engine_step_stop}, {AT_PLANE, engine_step_drained},
    {AT_HOME, engine_step_finish}, STEPS_END};
static const DeviceStep start_steps[] = {
    {AT_PLANE, step_start},
    {AT_HOME, engine_step_finish}, STEPS_END};
static const DeviceStep move_steps[] = {
    {AT_PLANE, engine_step_stop}, {AT_PLANE, engine_step_drained},
    {AT_PLANE, step_detach},
    {AT_TARGET, step_attach}, {AT_TARGET, step_restore},
    {AT_MAIN, engine_step_finish}, STEPS_END};
static const DeviceStep run_quiesced_steps[] = {
    {AT_PLANE, engine_step_stop}, {AT_PLANE, engine_step_drained},
    {AT_CONTROL, step_run_fn},
    {AT_PLANE, step_restore},
    {AT_HOME, engine_step_finish}, STEPS_END};
static const DeviceStep reset_steps[] = {
    {AT_PLANE, engine_step_stop}, {AT_PLANE, engine_step_drained},
    {AT_CONTROL, step_reset},
    {AT_PLANE, step_autostart},
    {AT_HOME, engine_step_finish}, STEPS_END};
static const DeviceStep flush_steps[] = {
    {AT_CONTROL, step_flush},
    {AT_HOME, engine_step_finish}, STEPS_END};
static const DeviceStep sync_steps[] = {
    {AT_HOME, engine_step_finish}, STEPS_END};
static const DeviceStep delete_steps[] = {
    {AT_PLANE, engine_step_stop}, {AT_PLANE, engine_step_drained},
    {AT_PLANE, step_detach},
    {AT_MAIN, step_finish_delete}, STEPS_END};
/* clang-format on */

static const DeviceOpType op_realize = {
    .sel = SEL_PLANES, .display = DEVICE_STATE_REALIZING, .steps = realize_steps};
static const DeviceOpType op_quiesce = {
    .sel = SEL_PLANES, .display = DEVICE_STATE_QUIESCING, .steps = stop_steps};
static const DeviceOpType op_resume = {
    .sel = SEL_PLANES, .display = -1, .steps = start_steps};
static const DeviceOpType op_queue_stop = {
    .sel = SEL_QUEUES, .display = DEVICE_STATE_QUIESCING, .steps = stop_steps};
static const DeviceOpType op_queue_start = {
    .sel = SEL_QUEUES, .display = -1, .steps = start_steps};
static const DeviceOpType op_move = {.sel = SEL_MOVE,
                                     .display = DEVICE_STATE_MOVING,
                                     .after_done = after_move,
                                     .steps = move_steps};
static const DeviceOpType op_run_quiesced = {
    .sel = SEL_QUEUES, .display = DEVICE_STATE_QUIESCING, .steps = run_quiesced_steps};
static const DeviceOpType op_reset = {
    .sel = SEL_QUEUES, .display = DEVICE_STATE_QUIESCING, .steps = reset_steps};
static const DeviceOpType op_flush = {
    .sel = SEL_NONE, .display = -1, .steps = flush_steps};
static const DeviceOpType op_sync = {
    .sel = SEL_NONE, .display = -1, .steps = sync_steps};
static const DeviceOpType op_delete = {.sel = SEL_PLANES,
                                       .display = DEVICE_STATE_DELETING,
                                       .deleting = TRUE,
                                       .after_done = after_delete,
                                       .steps = delete_steps};

/* ------------------------------------------------------------------------ */
/* Public operations                                                        */
/* ------------------------------------------------------------------------ */

void device_engine_realize(Device *dev)
{
    engine_submit(engine_op_new(dev, &op_realize, NULL, NULL), FALSE, NULL);
}

static gboolean check_main_thread(Device *dev, const char *what, GError **errp)
{
    if (qcontext_in_thread(qcontext_get_main())) {
        return TRUE;
    }
    g_critical("device '%s': %s must be called on the main thread", device_get_id(dev),
               what);
    g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "%s: not on the main thread", what);
    return FALSE;
}

static gboolean check_queue(Device *dev, int queue, gboolean all_ok, GError **errp)
{
    guint n = device_get_num_queues(dev);

    if ((queue == DEVICE_QUEUE_ALL && all_ok) || (queue >= 0 && (guint)queue < n)) {
        return TRUE;
    }
    g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                "device '%s' has %u queue%s; there is no queue %d", device_get_id(dev),
                n, n == 1 ? "" : "s", queue);
    return FALSE;
}

static gboolean check_target(Device *dev, QContext *ctx, GError **errp)
{
    if (!ctx || !qom_object_is_completed(QOM_OBJECT(ctx))) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "device '%s': no such context to move to", device_get_id(dev));
        return FALSE;
    }
    return device_context_usable(ctx, device_get_id(dev), errp);
}

static gboolean submit_simple(Device *dev, const DeviceOpType *type, int queue,
                              DeviceDoneFunc done, gpointer opaque, GError **errp)
{
    DeviceOp *op;

    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    op = engine_op_new(dev, type, done, opaque);
    op->queue = queue;
    return engine_submit(op, FALSE, errp);
}

gboolean device_sync(Device *dev, DeviceDoneFunc done, gpointer opaque, GError **errp)
{
    return submit_simple(dev, &op_sync, DEVICE_QUEUE_ALL, done, opaque, errp);
}

gboolean device_quiesce(Device *dev, DeviceDoneFunc done, gpointer opaque,
                        GError **errp)
{
    return submit_simple(dev, &op_quiesce, DEVICE_QUEUE_ALL, done, opaque, errp);
}

gboolean device_resume(Device *dev, DeviceDoneFunc done, gpointer opaque, GError **errp)
{
    return submit_simple(dev, &op_resume, DEVICE_QUEUE_ALL, done, opaque, errp);
}

gboolean device_flush(Device *dev, DeviceDoneFunc done, gpointer opaque, GError **errp)
{
    return submit_simple(dev, &op_flush, DEVICE_QUEUE_ALL, done, opaque, errp);
}

gboolean device_reset(Device *dev, DeviceDoneFunc done, gpointer opaque, GError **errp)
{
    return submit_simple(dev, &op_reset, DEVICE_QUEUE_ALL, done, opaque, errp);
}

gboolean device_queue_stop(Device *dev, int queue, DeviceDoneFunc done, gpointer opaque,
                           GError **errp)
{
    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    return check_queue(dev, queue, TRUE, errp) &&
           submit_simple(dev, &op_queue_stop, queue, done, opaque, errp);
}

gboolean device_queue_start(Device *dev, int queue, DeviceDoneFunc done,
                            gpointer opaque, GError **errp)
{
    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    return check_queue(dev, queue, TRUE, errp) &&
           submit_simple(dev, &op_queue_start, queue, done, opaque, errp);
}

gboolean device_run_quiesced(Device *dev, DeviceQuiescedFunc fn, gpointer fn_opaque,
                             DeviceDoneFunc done, gpointer opaque, GError **errp)
{
    DeviceOp *op;

    g_return_val_if_fail(IS_DEVICE(dev) && fn, FALSE);
    op = engine_op_new(dev, &op_run_quiesced, done, opaque);
    op->fn = fn;
    op->fn_opaque = fn_opaque;
    return engine_submit(op, FALSE, errp);
}

static gboolean submit_move(Device *dev, int queue, QContext *ctx, DeviceDoneFunc done,
                            gpointer opaque, GError **errp)
{
    DeviceClass *klass;
    DeviceOp *op;

    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    klass = QDEV_DEVICE_GET_CLASS(dev);
    if (!check_main_thread(dev, "a move", errp) || !check_target(dev, ctx, errp) ||
        (klass->check_move && !klass->check_move(dev, queue, ctx, errp))) {
        return FALSE;
    }
    op = engine_op_new(dev, &op_move, done, opaque);
    op->home_control = FALSE;
    op->queue = queue;
    op->target = g_object_ref(ctx);
    return engine_submit(op, FALSE, errp);
}

gboolean device_set_context(Device *dev, QContext *ctx, DeviceDoneFunc done,
                            gpointer opaque, GError **errp)
{
    return submit_move(dev, DEVICE_QUEUE_ALL, ctx, done, opaque, errp);
}

gboolean device_queue_set_context(Device *dev, int queue, QContext *ctx,
                                  DeviceDoneFunc done, gpointer opaque, GError **errp)
{
    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    return check_queue(dev, queue, FALSE, errp) &&
           submit_move(dev, queue, ctx, done, opaque, errp);
}

gboolean device_del(Device *dev, gint64 timeout_ms, DeviceDoneFunc done,
                    gpointer opaque, GError **errp)
{
    DevicePrivate *priv;
    DeviceOp *op;

    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    if (!check_main_thread(dev, "device_del", errp)) {
        return FALSE;
    }
    priv = device_priv(dev);
    op = engine_op_new(dev, &op_delete, done, opaque);
    op->home_control = FALSE;
    device_lock(dev);
    priv->deleting = priv->deleting || priv->realized;
    device_unlock(dev);
    if (!engine_submit(op, TRUE, errp)) {
        return FALSE;
    }
    engine_set_deadline(dev, timeout_ms);
    return TRUE;
}

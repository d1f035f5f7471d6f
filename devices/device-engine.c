/*
 * devices/device-engine.c - the operation engine: how an operation advances
 * from step to step and thread to thread, the per-device FIFO, and drains
 * (with the deadline a deletion puts on them).  The steps and the
 * operations themselves are in device-ops.c.
 *
 * Every operation on a device is a DeviceOp in the device's FIFO; one runs at
 * a time.  An operation is a list of steps, each naming where it runs
 * (device-engine.h).  A run of consecutive per-plane steps is a section:
 * the engine fans out to every chosen plane, each plane walks the section on
 * its own (hopping from its old context to the target in a move), and the
 * last plane to finish carries the operation on to the next device-wide
 * step (a join).  Two functions advance an operation, engine_run() and
 * engine_run_plane(): they run steps while they are on the calling thread
 * and hop with a one-shot BH when the next one is elsewhere.  A step may
 * wait (a drain, a flush); whoever ends the wait continues from the next
 * step.  The operation holds the device, its target and its source
 * contexts; it is freed after its done callback, and references are
 * dropped on main.
 *
 * SPDX-License-Identifier: MIT
 */
#include "device-engine.h"

static void engine_run(DeviceOp *op, gboolean here);
static void engine_run_plane(DeviceOp *op, DeviceQueue *q, gboolean here);

/* ------------------------------------------------------------------------ */
/* Advancing                                                                */
/* ------------------------------------------------------------------------ */

static gboolean step_is_per_plane(const DeviceStep *s)
{
    return s->fn && (s->where == AT_PLANE || s->where == AT_TARGET);
}

/* Record @err (taken) as the operation's error unless it has one. */
void engine_op_fail(DeviceOp *op, GError *err)
{
    device_lock(op->dev);
    if (!op->err) {
        op->err = err;
        err = NULL;
    }
    device_unlock(op->dev);
    g_clear_error(&err);
}

/* The context a step runs on.  Borrowed: the plane or the op holds it. */
static QContext *op_where(DeviceOp *op, DeviceQueue *q, StepWhere where)
{
    DevicePrivate *priv = device_priv(op->dev);
    QContext *ctx;

    switch (where) {
    case AT_TARGET:
        return op->target;
    case AT_MAIN:
        return qcontext_get_main();
    case AT_HOME:
        if (!op->home_control) {
            return qcontext_get_main();
        }
        q = priv->control;
        break;
    case AT_CONTROL:
        q = priv->control;
        break;
    case AT_PLANE:
        break;
    }
    device_lock(op->dev);
    ctx = q->ctx;
    device_unlock(op->dev);
    return ctx;
}

/* Run @fn(@arg) on @ctx's thread, soon. */
static void engine_hop(DeviceOp *op, QContext *ctx, QEMUBHFunc *fn, void *arg)
{
    if (!qcontext_in_thread(ctx)) {
        qatomic_add_relaxed(&device_priv(op->dev)->hops, 1);
    }
    aio_bh_schedule_oneshot(qcontext_get_aio_context(ctx), fn, arg);
}

static void engine_op_bh(void *opaque)
{
    engine_run(opaque, TRUE);
}

static void engine_plane_bh(void *opaque)
{
    DeviceQueue *q = opaque;

    engine_run_plane(q->op, q, TRUE);
}

/*
 * Start the section at op->step on every chosen plane.  Once the last plane
 * is on its way the operation may finish (and be freed) on another thread:
 * nothing here touches @op after that.
 */
static void engine_fan_out(DeviceOp *op)
{
    DeviceQueue *planes[DEVICE_MAX_QUEUES + 1];
    guint n = op->planes->len;

    g_assert(n <= G_N_ELEMENTS(planes));
    memcpy(planes, op->planes->pdata, n * sizeof(*planes));

    /* Set before any plane runs (the BH queue orders it for them). */
    qatomic_set(&op->pending, (int)n);
    for (guint i = 0; i < n; i++) {
        planes[i]->op = op;
        planes[i]->step = op->step;
        planes[i]->skip = FALSE;
    }
    for (guint i = 0; i < n; i++) {
        engine_run_plane(op, planes[i], FALSE);
    }
}

/*
 * Device-wide part: run the steps from op->step while they belong to this
 * thread (and @here allows running anything on the calling thread at all).
 */
static void engine_run(DeviceOp *op, gboolean here)
{
    const DeviceStep *steps = op->type->steps;

    for (;;) {
        const DeviceStep *s = &steps[op->step];
        QContext *ctx;

        if (step_is_per_plane(s)) {
            if (op->planes->len) {
                engine_fan_out(op);
                return;
            }
            while (step_is_per_plane(&steps[op->step])) {
                op->step++;
            }
            continue;
        }
        g_assert(s->fn); /* every list ends with a finish step */
        ctx = op_where(op, NULL, s->where);
        if (!here || !qcontext_in_thread(ctx)) {
            engine_hop(op, ctx, engine_op_bh, op);
            return;
        }
        switch (s->fn(op, NULL)) {
        case STEP_WAIT:
        case STEP_END:
            return;
        default:
            op->step++;
        }
    }
}

/* Per-plane part: @q walks its section; the last plane joins. */
static void engine_run_plane(DeviceOp *op, DeviceQueue *q, gboolean here)
{
    const DeviceStep *steps = op->type->steps;

    for (;;) {
        const DeviceStep *s = &steps[q->step];
        QContext *ctx;

        if (!step_is_per_plane(s)) {
            /*
             * Release what this plane wrote; the last plane acquires what
             * all of them wrote (pairs with this same RMW in each plane).
             */
            if (__atomic_sub_fetch(&op->pending, 1, __ATOMIC_ACQ_REL) == 0) {
                op->step = q->step;
                engine_run(op, here);
            }
            return;
        }
        if (q->skip) {
            q->step++;
            continue;
        }
        ctx = op_where(op, q, s->where);
        if (!here || !qcontext_in_thread(ctx)) {
            engine_hop(op, ctx, engine_plane_bh, q);
            return;
        }
        switch (s->fn(op, q)) {
        case STEP_WAIT:
            return;
        case STEP_SKIP:
            q->skip = TRUE;
            break;
        default:
            break;
        }
        q->step++;
    }
}

/* A waiting per-plane step is over (any thread): go on after it. */
static void engine_plane_continue(DeviceQueue *q)
{
    q->step++;
    engine_run_plane(q->op, q, FALSE);
}

/* A waiting device-wide step is over (any thread): go on after it. */
void engine_op_continue(DeviceOp *op)
{
    op->step++;
    engine_run(op, FALSE);
}

/* ------------------------------------------------------------------------ */
/* The queue of operations                                                  */
/* ------------------------------------------------------------------------ */

DeviceOp *engine_op_new(Device *dev, const DeviceOpType *type, DeviceDoneFunc done,
                        gpointer opaque)
{
    DeviceOp *op = g_new0(DeviceOp, 1);
    DevicePrivate *priv = device_priv(dev);

    op->type = type;
    op->dev = g_object_ref(dev);
    op->done = done;
    op->opaque = opaque;
    op->queue = DEVICE_QUEUE_ALL;
    op->planes = g_ptr_array_new();
    if (priv->control) {
        device_lock(dev);
        op->home_control = qcontext_in_thread(priv->control->ctx);
        device_unlock(dev);
    }
    return op;
}

static void op_free(DeviceOp *op)
{
    g_ptr_array_unref(op->planes);
    g_clear_error(&op->err);
    if (op->target) {
        device_unref_on_main(op->target);
    }
    if (op->from) {
        device_unref_on_main(op->from);
    }
    device_unref_on_main(op->dev);
    g_free(op);
}

static void plane_add_if(DeviceOp *op, DeviceQueue *q)
{
    if (op->type->sel != SEL_MOVE || q->ctx != op->target) {
        g_ptr_array_add(op->planes, q);
    }
}

/* Choose the planes (lock held). */
static void op_select(DeviceOp *op)
{
    DevicePrivate *priv = device_priv(op->dev);
    gboolean all = op->queue == DEVICE_QUEUE_ALL;

    if (!priv->realized) {
        return; /* a second delete: nothing left to stop */
    }
    switch (op->type->sel) {
    case SEL_NONE:
        return;
    case SEL_PLANES:
        plane_add_if(op, priv->control);
        break;
    case SEL_MOVE:
        if (all) {
            op->from = g_object_ref(priv->control->ctx);
            plane_add_if(op, priv->control);
        } else {
            op->from = g_object_ref(priv->queues[op->queue]->ctx);
        }
        break;
    case SEL_QUEUES:
        break;
    }
    for (guint i = 0; i < priv->num_queues; i++) {
        if (all || (int)i == op->queue || op->type->sel == SEL_PLANES) {
            plane_add_if(op, priv->queues[i]);
        }
    }
}

/* Start @op, the head of the queue (never runs a step on this thread). */
static void engine_start(DeviceOp *op)
{
    device_lock(op->dev);
    op_select(op);
    device_unlock(op->dev);
    engine_run(op, FALSE);
}

/* Queue @op; FALSE (and @op freed, @done never called) if refused. */
gboolean engine_submit(DeviceOp *op, gboolean while_deleting, GError **errp)
{
    DevicePrivate *priv = device_priv(op->dev);
    const char *id = device_get_id(op->dev);
    gboolean start = FALSE;
    GError *err = NULL;

    device_lock(op->dev);
    if (!priv->realized) {
        err =
            g_error_new(QOM_ERROR, QOM_ERROR_FAILED, "device '%s' is not realized", id);
    } else if (priv->deleting && !while_deleting) {
        err = g_error_new(QOM_ERROR, QOM_ERROR_IN_USE, "device '%s' is being deleted",
                          id);
    } else {
        g_queue_push_tail(&priv->ops, op);
        start = !priv->op_running;
        priv->op_running = TRUE;
    }
    device_unlock(op->dev);
    if (err) {
        g_propagate_error(errp, err);
        op->done = NULL;
        op_free(op);
        return FALSE;
    }
    if (start) {
        engine_start(op);
    }
    return TRUE;
}

/* The last step: report, start the next operation, free this one. */
StepResult engine_step_finish(DeviceOp *op, DeviceQueue *unused)
{
    DevicePrivate *priv = device_priv(op->dev);
    DeviceOp *next;

    device_lock(op->dev);
    g_assert(g_queue_peek_head(&priv->ops) == op);
    g_queue_pop_head(&priv->ops);
    next = g_queue_peek_head(&priv->ops);
    priv->op_running = next != NULL;
    device_unlock(op->dev);
    if (op->done) {
        op->done(op->dev, op->err, op->opaque);
    }
    if (op->type->after_done) {
        op->type->after_done(op);
    }
    if (next) {
        engine_start(next);
    }
    op_free(op);
    return STEP_END;
}

int device_engine_op_state(Device *dev)
{
    DevicePrivate *priv = device_priv(dev);
    DeviceOp *op = priv->op_running ? g_queue_peek_head(&priv->ops) : NULL;

    return op ? op->type->display : -1;
}

gboolean device_engine_targets(Device *dev, QContext *ctx)
{
    for (GList *l = device_priv(dev)->ops.head; l; l = l->next) {
        if (((DeviceOp *)l->data)->target == ctx) {
            return TRUE;
        }
    }
    return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Drains and the deletion deadline                                         */
/* ------------------------------------------------------------------------ */

/*
 * Plane's thread: stop taking requests and wait until none is in flight.
 * Whoever ends the wait (the last request, the deletion deadline) continues
 * with engine_step_drained, which runs on this same thread, so this step has
 * returned before the operation can go on: nothing here can outlive it.
 */
StepResult engine_step_stop(DeviceOp *op, DeviceQueue *q)
{
    DeviceClass *klass = device_class_of(q->dev);

    q->was_running = q->running;
    if (q->running) {
        q->running = FALSE;
        if (klass->queue_quiesce) {
            klass->queue_quiesce(q->dev, q);
        }
    }
    device_queue_set_state(q, DEVICE_QUEUE_STOPPING);
    /*
     * Set draining, then read in_flight and abandon: pairs with the SEQ_CST
     * decrement-then-load in device_queue_request_end() and with the
     * store-then-exchange in engine_abandon().  Whoever clears draining
     * continues the operation.
     */
    __atomic_store_n(&q->draining, 1, __ATOMIC_SEQ_CST);
    if ((__atomic_load_n(&q->in_flight, __ATOMIC_SEQ_CST) == 0 ||
         __atomic_load_n(&device_priv(q->dev)->abandon, __ATOMIC_SEQ_CST)) &&
        qatomic_xchg(&q->draining, 0)) {
        return STEP_NEXT;
    }
    return STEP_WAIT;
}

void device_engine_drained(DeviceQueue *q)
{
    /* Exchange: only one of the ending request, the stop step and the
     * deadline continues (pairs with the store in engine_step_stop()). */
    if (qatomic_xchg(&q->draining, 0)) {
        engine_plane_continue(q);
    }
}

/* Plane's thread: drained, or the drain was cut short by a deletion. */
StepResult engine_step_drained(DeviceOp *op, DeviceQueue *q)
{
    /* Ordered after the last decrement by the draining exchange that let
     * the operation continue (see engine_step_stop()). */
    gint64 left = __atomic_load_n(&q->in_flight, __ATOMIC_SEQ_CST);

    device_queue_set_state(q, DEVICE_QUEUE_STOPPED);
    if (left <= 0) {
        return STEP_NEXT;
    }
    __atomic_fetch_add(&op->undrained, (guint64)left, __ATOMIC_RELAXED);
    if (op->type->deleting) {
        return STEP_NEXT;
    }
    engine_op_fail(op,
                   g_error_new(QOM_ERROR, QOM_ERROR_IN_USE,
                               "device '%s' is being deleted", device_get_id(op->dev)));
    return STEP_SKIP; /* a move leaves this plane where it is */
}

/* Main: drains stop waiting, now and from now on. */
static void engine_abandon(Device *dev)
{
    DevicePrivate *priv = device_priv(dev);

    /* Pairs with the load of abandon after the store of draining in
     * engine_step_stop(): one of the two sees the other. */
    __atomic_store_n(&priv->abandon, 1, __ATOMIC_SEQ_CST);
    for (int i = -1; i < (int)priv->num_queues; i++) {
        DeviceQueue *q = i < 0 ? priv->control : priv->queues[i];
        if (__atomic_load_n(&q->draining, __ATOMIC_SEQ_CST)) {
            device_engine_drained(q);
        }
    }
}

static void engine_deadline_cb(void *opaque)
{
    engine_abandon(opaque);
}

/* Main: drains give up at @timeout_ms from now, or earlier if asked before. */
void engine_set_deadline(Device *dev, gint64 timeout_ms)
{
    DevicePrivate *priv = device_priv(dev);
    gint64 deadline;

    if (timeout_ms < 0) {
        return;
    }
    deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + timeout_ms;
    if (priv->deadline_ms >= 0 && priv->deadline_ms <= deadline) {
        return;
    }
    priv->deadline_ms = deadline;
    if (timeout_ms == 0) {
        engine_abandon(dev);
        return;
    }
    if (!priv->deadline) {
        priv->deadline = aio_timer_new(device_main_aio(), QEMU_CLOCK_REALTIME, SCALE_MS,
                                       engine_deadline_cb, dev);
    }
    timer_mod(priv->deadline, deadline);
}

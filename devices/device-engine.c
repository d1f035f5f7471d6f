/*
 * devices/device-engine.c - the operation engine.
 *
 * Every operation on a device (realize, quiesce, resume, stop/start of
 * queues, move, flush, reset, run-quiesced, delete, sync) is a DeviceOp in
 * the device's FIFO.  One runs at a time.  An operation is a list of steps,
 * each naming where it runs:
 *
 *   AT_PLANE    on the context the plane is on        } per-plane steps: each
 *   AT_TARGET   on the context a move goes to         } chosen plane runs them
 *   AT_CONTROL  on the control plane's context          in order, in parallel
 *   AT_MAIN     on main                                 with the other planes
 *   AT_HOME     where the submitter wants its done (the control context if it
 *               submitted from there, else main)
 *
 * A run of consecutive per-plane steps is a section: the engine fans out to
 * every chosen plane, each plane walks the section on its own (hopping from
 * its old context to the target in a move), and the last plane to finish
 * carries the operation on to the next device-wide step (a join).  One
 * function per part, engine_run() and engine_run_plane(), advances the
 * operation: it runs steps while they are on the calling thread and hops
 * with a one-shot BH when the next one is elsewhere.  A step may wait (a
 * drain, a flush); whoever ends the wait continues from the next step.
 * The operation holds the device, its target and its source contexts; it
 * is freed after its done callback, and references are dropped on main.
 *
 * SPDX-License-Identifier: MIT
 */
#include "device-internal.h"

typedef enum { AT_PLANE, AT_TARGET, AT_CONTROL, AT_MAIN, AT_HOME } StepWhere;

typedef enum {
    STEP_NEXT, /* go on with the next step */
    STEP_WAIT, /* someone continues the operation later */
    STEP_SKIP, /* this plane skips the rest of its section */
    STEP_END,  /* the operation is over (and freed) */
} StepResult;

typedef StepResult (*StepFn)(DeviceOp *op, DeviceQueue *q);

typedef struct {
    StepWhere where;
    StepFn fn; /* NULL ends the list */
} DeviceStep;

/* Which planes an operation works on, chosen when it starts. */
typedef enum {
    SEL_NONE,   /* none (device-wide steps only) */
    SEL_PLANES, /* the control plane and every queue */
    SEL_QUEUES, /* op->queue, or every queue */
    SEL_MOVE,   /* op->queue (or everything) not yet on op->target */
} Selection;

typedef struct {
    const char *name;
    Selection sel;
    int display;       /* DeviceState while it runs, or -1 (from the planes) */
    gboolean deleting; /* a cut-short drain is expected, not an error */
    void (*after_done)(DeviceOp *op);
    const DeviceStep *steps;
} DeviceOpType;

struct DeviceOp {
    const DeviceOpType *type;
    Device *dev;           /* a reference */
    gboolean home_control; /* done on the control context (else main) */
    int queue;             /* SEL_QUEUES / SEL_MOVE: index or DEVICE_QUEUE_ALL */
    QContext *target;      /* SEL_MOVE: a reference */
    QContext *from;        /* SEL_MOVE: where the moving part was (a reference) */
    DeviceQuiescedFunc fn;
    gpointer fn_opaque;
    DeviceDoneFunc done;
    gpointer opaque;
    GPtrArray *planes; /* DeviceQueue *, chosen at the start */
    guint step;        /* the device-wide cursor */
    int pending;       /* atomic: planes still in the current section */
    int moved;         /* atomic: a plane changed context */
    guint64 undrained; /* atomic: requests left in flight by cut-short drains */
    gboolean deleted;  /* delete: this operation unrealized the device */
    GError *err;       /* the first error; device lock */
};

static void engine_run(DeviceOp *op, gboolean here);
static void engine_run_plane(DeviceOp *op, DeviceQueue *q, gboolean here);

static DeviceClass *klass_of(Device *dev)
{
    return QDEV_DEVICE_GET_CLASS(dev);
}

static gboolean step_is_per_plane(const DeviceStep *s)
{
    return s->fn && (s->where == AT_PLANE || s->where == AT_TARGET);
}

/* Record @err (taken) as the operation's error unless it has one. */
static void op_fail(DeviceOp *op, GError *err)
{
    device_lock(op->dev);
    if (!op->err) {
        op->err = err;
        err = NULL;
    }
    device_unlock(op->dev);
    g_clear_error(&err);
}

/* ------------------------------------------------------------------------ */
/* Advancing                                                                 */
/* ------------------------------------------------------------------------ */

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
static void engine_op_continue(DeviceOp *op)
{
    op->step++;
    engine_run(op, FALSE);
}

/* ------------------------------------------------------------------------ */
/* The queue of operations                                                   */
/* ------------------------------------------------------------------------ */

static DeviceOp *op_new(Device *dev, const DeviceOpType *type, DeviceDoneFunc done,
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
static gboolean engine_submit(DeviceOp *op, gboolean while_deleting, GError **errp)
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
static StepResult step_finish(DeviceOp *op, DeviceQueue *unused)
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
/* Per-plane steps                                                           */
/* ------------------------------------------------------------------------ */

static void plane_resume(DeviceQueue *q)
{
    DeviceClass *klass = klass_of(q->dev);

    device_queue_set_state(q, DEVICE_QUEUE_RUNNING);
    if (!q->running) {
        q->running = TRUE;
        if (klass->queue_resume) {
            klass->queue_resume(q->dev, q);
        }
    }
}

/*
 * Plane's thread: stop taking requests and wait until none is in flight.
 * Whoever ends the wait (the last request, the deletion deadline) continues
 * with step_drained, which runs on this same thread, so this step has
 * returned before the operation can go on: nothing here can outlive it.
 */
static StepResult step_stop(DeviceOp *op, DeviceQueue *q)
{
    DeviceClass *klass = klass_of(q->dev);

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
     * deadline continues (pairs with the store in step_stop()). */
    if (qatomic_xchg(&q->draining, 0)) {
        engine_plane_continue(q);
    }
}

/* Plane's thread: drained, or the drain was cut short by a deletion. */
static StepResult step_drained(DeviceOp *op, DeviceQueue *q)
{
    /* Ordered after the last decrement by the draining exchange that let
     * the operation continue (see step_stop()). */
    gint64 left = __atomic_load_n(&q->in_flight, __ATOMIC_SEQ_CST);

    device_queue_set_state(q, DEVICE_QUEUE_STOPPED);
    if (left <= 0) {
        return STEP_NEXT;
    }
    __atomic_fetch_add(&op->undrained, (guint64)left, __ATOMIC_RELAXED);
    if (op->type->deleting) {
        return STEP_NEXT;
    }
    op_fail(op, g_error_new(QOM_ERROR, QOM_ERROR_IN_USE, "device '%s' is being deleted",
                            device_get_id(op->dev)));
    return STEP_SKIP; /* a move leaves this plane where it is */
}

/* Plane's (old) thread: remove its sources. */
static StepResult step_detach(DeviceOp *op, DeviceQueue *q)
{
    DeviceClass *klass = klass_of(q->dev);

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
    DeviceClass *klass = klass_of(q->dev);
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
    if (q->index < 0 || !klass_of(q->dev)->manual_start) {
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
/* Device-wide steps                                                         */
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
    if (!op->err && klass_of(op->dev)->reset) {
        klass_of(op->dev)->reset(op->dev);
    }
    return STEP_NEXT;
}

static void flush_done(Device *dev, const GError *err, gpointer opaque)
{
    DeviceOp *op = opaque;

    if (err) {
        op_fail(op, g_error_copy(err));
    }
    engine_op_continue(op);
}

static StepResult step_flush(DeviceOp *op, DeviceQueue *unused)
{
    if (!klass_of(op->dev)->flush) {
        return STEP_NEXT;
    }
    klass_of(op->dev)->flush(op->dev, flush_done, op);
    return STEP_WAIT;
}

/* Main: unrealize, leave the container; finish (done, then "deleted"). */
static StepResult step_finish_delete(DeviceOp *op, DeviceQueue *unused)
{
    Device *dev = op->dev;
    DevicePrivate *priv = device_priv(dev);
    DeviceClass *klass = klass_of(dev);
    guint64 left = __atomic_load_n(&op->undrained, __ATOMIC_RELAXED);
    gboolean realized;

    device_lock(dev);
    realized = priv->realized;
    device_unlock(dev);
    if (!realized) {
        return step_finish(op, NULL); /* deleted by an earlier device_del */
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
    return step_finish(op, NULL);
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
/* Operation types                                                           */
/* ------------------------------------------------------------------------ */

#define FINISH_AT(w)                                                                   \
    {w, step_finish},                                                                  \
    {                                                                                  \
        0, NULL                                                                        \
    }

static const DeviceStep realize_steps[] = {
    {AT_PLANE, step_attach}, {AT_PLANE, step_autostart}, FINISH_AT(AT_MAIN)};
static const DeviceStep stop_steps[] = {
    {AT_PLANE, step_stop}, {AT_PLANE, step_drained}, FINISH_AT(AT_HOME)};
static const DeviceStep start_steps[] = {{AT_PLANE, step_start}, FINISH_AT(AT_HOME)};
static const DeviceStep move_steps[] = {
    {AT_PLANE, step_stop},    {AT_PLANE, step_drained},  {AT_PLANE, step_detach},
    {AT_TARGET, step_attach}, {AT_TARGET, step_restore}, FINISH_AT(AT_MAIN)};
static const DeviceStep run_quiesced_steps[] = {{AT_PLANE, step_stop},
                                                {AT_PLANE, step_drained},
                                                {AT_CONTROL, step_run_fn},
                                                {AT_PLANE, step_restore},
                                                FINISH_AT(AT_HOME)};
static const DeviceStep reset_steps[] = {{AT_PLANE, step_stop},
                                         {AT_PLANE, step_drained},
                                         {AT_CONTROL, step_reset},
                                         {AT_PLANE, step_autostart},
                                         FINISH_AT(AT_HOME)};
static const DeviceStep flush_steps[] = {{AT_CONTROL, step_flush}, FINISH_AT(AT_HOME)};
static const DeviceStep sync_steps[] = {FINISH_AT(AT_HOME)};
static const DeviceStep delete_steps[] = {{AT_PLANE, step_stop},
                                          {AT_PLANE, step_drained},
                                          {AT_PLANE, step_detach},
                                          {AT_MAIN, step_finish_delete},
                                          {0, NULL}};

static const DeviceOpType op_realize = {"realize", SEL_PLANES, DEVICE_STATE_REALIZING,
                                        FALSE,     NULL,       realize_steps};
static const DeviceOpType op_quiesce = {"quiesce", SEL_PLANES, DEVICE_STATE_QUIESCING,
                                        FALSE,     NULL,       stop_steps};
static const DeviceOpType op_resume = {"resume", SEL_PLANES, -1,
                                       FALSE,    NULL,       start_steps};
static const DeviceOpType op_queue_stop = {
    "queue-stop", SEL_QUEUES, DEVICE_STATE_QUIESCING, FALSE, NULL, stop_steps};
static const DeviceOpType op_queue_start = {"queue-start", SEL_QUEUES, -1,
                                            FALSE,         NULL,       start_steps};
static const DeviceOpType op_move = {"move", SEL_MOVE,   DEVICE_STATE_MOVING,
                                     FALSE,  after_move, move_steps};
static const DeviceOpType op_run_quiesced = {
    "run-quiesced", SEL_QUEUES, DEVICE_STATE_QUIESCING,
    FALSE,          NULL,       run_quiesced_steps};
static const DeviceOpType op_reset = {"reset", SEL_QUEUES, DEVICE_STATE_QUIESCING,
                                      FALSE,   NULL,       reset_steps};
static const DeviceOpType op_flush = {"flush", SEL_NONE, -1, FALSE, NULL, flush_steps};
static const DeviceOpType op_sync = {"sync", SEL_NONE, -1, FALSE, NULL, sync_steps};
static const DeviceOpType op_delete = {"delete", SEL_PLANES,   DEVICE_STATE_DELETING,
                                       TRUE,     after_delete, delete_steps};

/* ------------------------------------------------------------------------ */
/* Deletion deadline                                                         */
/* ------------------------------------------------------------------------ */

/* Main: drains stop waiting, now and from now on. */
static void engine_abandon(Device *dev)
{
    DevicePrivate *priv = device_priv(dev);

    /* Pairs with the load of abandon after the store of draining in
     * step_stop(): one of the two sees the other. */
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
static void engine_set_deadline(Device *dev, gint64 timeout_ms)
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

/* ------------------------------------------------------------------------ */
/* Public operations                                                         */
/* ------------------------------------------------------------------------ */

void device_engine_realize(Device *dev)
{
    engine_submit(op_new(dev, &op_realize, NULL, NULL), FALSE, NULL);
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
    op = op_new(dev, type, done, opaque);
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
    op = op_new(dev, &op_run_quiesced, done, opaque);
    op->fn = fn;
    op->fn_opaque = fn_opaque;
    return engine_submit(op, FALSE, errp);
}

static gboolean submit_move(Device *dev, int queue, QContext *ctx, DeviceDoneFunc done,
                            gpointer opaque, GError **errp)
{
    DeviceOp *op;

    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    if (!check_main_thread(dev, "a move", errp) || !check_target(dev, ctx, errp)) {
        return FALSE;
    }
    op = op_new(dev, &op_move, done, opaque);
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
    op = op_new(dev, &op_delete, done, opaque);
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

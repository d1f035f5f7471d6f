/*
 * devices/device-engine.h - between the engine (device-engine.c: advancing,
 * the FIFO, drains) and the operations (device-ops.c: the steps, the
 * operation types, the public functions).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_DEVICE_ENGINE_H
#define DEVICES_DEVICE_ENGINE_H

#include "device-internal.h"

/* Where a step runs. */
typedef enum {
    AT_PLANE,   /* on the context the plane is on (per plane) */
    AT_TARGET,  /* on the context a move goes to (per plane) */
    AT_CONTROL, /* on the control plane's context */
    AT_MAIN,    /* on main */
    AT_HOME,    /* where done goes: the control context if the operation was
                   submitted from it, else main */
} StepWhere;

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

/* An operation: which planes, its steps, what it shows and does after done. */
typedef struct {
    Selection sel;
    int display;       /* DeviceState while it runs, or -1 (from the planes) */
    gboolean deleting; /* a cut-short drain is expected, not an error */
    void (*after_done)(DeviceOp *op); /* on main, after done: signals */
    const DeviceStep *steps;          /* ends with {0, NULL} */
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

static inline DeviceClass *device_class_of(Device *dev)
{
    return QDEV_DEVICE_GET_CLASS(dev);
}

/* A new operation of @type on @dev (not queued yet). */
DeviceOp *engine_op_new(Device *dev, const DeviceOpType *type, DeviceDoneFunc done,
                        gpointer opaque);

/* Queue @op; FALSE (and @op freed, done never called) if refused. */
gboolean engine_submit(DeviceOp *op, gboolean while_deleting, GError **errp);

/* Record @err (taken) as @op's error unless it has one. */
void engine_op_fail(DeviceOp *op, GError *err);

/* A waiting device-wide step is over (any thread): go on after it. */
void engine_op_continue(DeviceOp *op);

/* Main: drains of @dev give up @timeout_ms from now (< 0: never). */
void engine_set_deadline(Device *dev, gint64 timeout_ms);

/* Steps every operation shares: finish (done, after_done, next operation),
 * stop (quiesce, then wait for the plane's requests), drained. */
StepResult engine_step_finish(DeviceOp *op, DeviceQueue *unused);
StepResult engine_step_stop(DeviceOp *op, DeviceQueue *q);
StepResult engine_step_drained(DeviceOp *op, DeviceQueue *q);

#endif /* DEVICES_DEVICE_ENGINE_H */

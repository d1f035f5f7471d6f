/*
 * devices/device-internal.h - what device.c (the object), device-queue.c
 * (planes: accounting and tracked sources) and device-engine.c (the
 * operation engine) share.
 *
 * Locking: each device has one mutex (DevicePrivate.lock) for what any
 * thread may look at: the operation queue, each plane's context and state,
 * the realized/deleting flags.  Everything else a plane owns (its
 * AioContext, its tracked sources, the engine's cursor) belongs to the
 * thread the plane is on; the engine hands it from thread to thread with
 * one-shot BHs, whose queue orders what one step wrote before the next
 * step reads it.  No hook ever runs with the lock held.  (pthread mutexes, not GMutex:
 * ThreadSanitizer sees those.)
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_DEVICE_INTERNAL_H
#define DEVICES_DEVICE_INTERNAL_H

#include <pthread.h>

#include "qcontext/devices/device.h"
#include "qcontext/aio/atomic.h"

typedef struct DeviceOp DeviceOp;

/* A source a plane registers on its AioContext (see device-queue.c). */
typedef enum {
    DEVICE_SRC_FD,
    DEVICE_SRC_NOTIFIER,
    DEVICE_SRC_BH,
    DEVICE_SRC_TIMER,
} DeviceSourceKind;

typedef struct DeviceSource {
    DeviceSourceKind kind;
    DeviceQueue *q;
    GList link; /* in q->sources */
} DeviceSource;

struct DeviceQueue {
    Device *dev; /* the device owns the plane: no reference */
    int index;   /* -1: the control plane */

    /* Under the device lock. */
    QContext *ctx; /* a reference: where the plane is (or is leaving) */
    DeviceQueueState state;

    /* The plane's thread. */
    AioContext *aio;         /* attached AioContext (atomic for other readers) */
    gboolean running;        /* taking requests (queue_resume ran, not quiesce) */
    GQueue sources;          /* DeviceSource *, via their link */
    pthread_mutex_t bh_lock; /* DeviceBH qbh/aio against cross-thread schedules */

    /* The engine's cursor in the running operation (handed over by BHs). */
    DeviceOp *op;
    guint step;
    gboolean was_running; /* at the stop step: restore it after */
    gboolean skip;        /* skip the rest of this plane's steps */

    /* Accounting (atomics). */
    gint64 in_flight;
    int draining; /* 1 while a stop waits for in_flight to reach 0 */
    guint64 started;
    guint64 completed;
    guint64 failed;
    guint64 moves;
};

typedef struct {
    pthread_mutex_t lock;
    gboolean realized; /* lock */
    gboolean deleting; /* lock */
    GQueue ops;        /* lock: DeviceOp *, head = the running one */
    gboolean op_running;

    DeviceQueue *control;
    DeviceQueue **queues; /* [num_queues] */
    guint num_queues;

    /* Construction properties. */
    QContext *prop_ctx;
    guint prop_num_queues;
    char *prop_queue_contexts;

    /* Deletion (main thread, except the atomic). */
    int abandon; /* atomic: drains stop waiting (deletion deadline) */
    QEMUTimer *deadline;
    gint64 deadline_ms; /* monotonic ms, or -1 */

    guint64 moves; /* atomic: move operations that moved something */
    guint64 hops;  /* atomic: engine thread hops */
} DevicePrivate;

/* device.c */
DevicePrivate *device_priv(Device *dev);
void device_lock(Device *dev);
void device_unlock(Device *dev);
AioContext *device_main_aio(void);
void device_registry_remove(Device *dev);
void device_emit_moved(Device *dev, int queue, QContext *from, QContext *to);
void device_emit_deleted(Device *dev);
/* Main: leave the "devices" container if still in it. */
void device_leave_container(Device *dev);
/* Drop a reference to @obj on the main thread (now, if this is main). */
void device_unref_on_main(gpointer obj);
/* FALSE with @errp set if devices cannot run in @ctx (no thread runs it). */
gboolean device_context_usable(QContext *ctx, const char *dev_id, GError **errp);

/* device-queue.c */
DeviceQueue *device_queue_new(Device *dev, int index, QContext *ctx);
void device_queue_free(DeviceQueue *q);
void device_queue_set_state(DeviceQueue *q, DeviceQueueState state);
/* Plane's thread: register / remove every tracked source. */
void device_queue_attach_sources(DeviceQueue *q, AioContext *aio);
void device_queue_detach_sources(DeviceQueue *q);
/* Detached: free whatever sources the device left registered. */
void device_queue_free_sources(DeviceQueue *q);

/* device-engine.c */
/* Queue the realize operation (attach and start every plane).  Main thread. */
void device_engine_realize(Device *dev);
/* Called when a request of @q ends while it drains. */
void device_engine_drained(DeviceQueue *q);
/* The display state of the running operation, or -1. */
int device_engine_op_state(Device *dev);
/* TRUE if a queued or running operation targets @ctx.  Lock held. */
gboolean device_engine_targets(Device *dev, QContext *ctx);

#endif /* DEVICES_DEVICE_INTERNAL_H */

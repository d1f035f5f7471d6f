/*
 * devices/device.h - the device model: Device, an abstract QomObject that
 * runs in one QContext and can be quiesced, resumed and moved.
 *
 * A device is created with `-device TYPE,id=ID,context=CTX,...` (container
 * "devices").  Its "context" property names the QContext it runs in
 * ("main" when unset).  Creation = realize: the QomObject completion step
 * resolves the context, calls the class's @realize on the creating thread,
 * then @attach_aio_context and @resume on the context's thread.
 *
 * Devices are created and deleted on the main thread (the thread that
 * iterates the "main" context).  Everything a device does on its hot path (fd handlers,
 * timers, BHs, request completions) runs on its context's thread.  The control
 * operations below (quiesce, resume, set_context, flush) are called from the
 * main thread; they never block a loop: each hops to the device's context
 * thread with aio_bh_schedule_oneshot() and reports back to the main thread
 * through a DeviceDoneFunc.  Operations on one device are queued and run one
 * after another in the order they were requested.
 *
 * Request accounting: a device calls device_request_begin() when it accepts
 * a request and device_request_end() when that request completes (or
 * fails).  Quiescing waits until no request is in flight.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_DEVICE_H
#define DEVICES_DEVICE_H

#include "qcontext/qom/object.h"
#include "qcontext/qcontext.h"
#include "qcontext/aio/aio.h"

G_BEGIN_DECLS

#define DEVICE_TYPE (device_get_type())
G_DECLARE_DERIVABLE_TYPE(Device, device, QDEV, DEVICE, QomObject)

/** DEVICE: cast to Device (checked). */
#define DEVICE(obj) QDEV_DEVICE(obj)
/** IS_DEVICE: TRUE if @obj is a Device. */
#define IS_DEVICE(obj) QDEV_IS_DEVICE(obj)

/**
 * DeviceDoneFunc: completion of an asynchronous device operation, called on
 * the main thread (from the "main" context's AioContext).  @err is NULL on
 * success; it is owned by the caller of the callback (copy it to keep it).
 */
typedef void (*DeviceDoneFunc)(Device *dev, const GError *err, gpointer opaque);

/**
 * DeviceClass: hooks of a device type.  Threads: @realize and @unrealize
 * run on the main thread; @attach_aio_context, @detach_aio_context,
 * @quiesce, @resume and @flush run on the thread of the context the device
 * is (being) attached to.
 *
 * @realize: set the device up (allocate state, check properties).  Do not
 *   register anything on a loop yet.  Return FALSE with @errp set on
 *   failure; then nothing must be left behind.  May be NULL.
 * @unrealize: free what @realize set up.  Runs after @detach_aio_context.
 *   Requests still in flight at this point (shutdown timed out) must be
 *   ended as failed with device_request_end(dev, FALSE).  May be NULL.
 * @attach_aio_context: register the device's fd handlers, timers and BHs
 *   on @ctx.  Runs on @ctx's home thread.  May be NULL.
 * @detach_aio_context: remove everything registered on the current
 *   AioContext.  Runs on that context's thread, only while quiesced (no
 *   request in flight) or at unrealize.  May be NULL.
 * @quiesce: stop taking new requests (e.g. remove the "kick" handler);
 *   requests already in flight continue and complete.  Requests that arrive
 *   meanwhile must stay queued, not be lost.  May be NULL.
 * @resume: start taking requests again (pick up what was queued).  Called
 *   after @attach_aio_context when the device starts or moved, or after
 *   @quiesce when resumed in place.  May be NULL.
 * @flush: make written data stable (drives); call @done(dev, err, opaque)
 *   when finished, on any thread.  Runs while quiesced.  NULL = nothing to
 *   flush.
 */
struct _DeviceClass {
    QomObjectClass parent_class;

    gboolean (*realize)(Device *dev, GError **errp);
    void (*unrealize)(Device *dev);
    void (*attach_aio_context)(Device *dev, AioContext *ctx);
    void (*detach_aio_context)(Device *dev);
    void (*quiesce)(Device *dev);
    void (*resume)(Device *dev);
    void (*flush)(Device *dev, DeviceDoneFunc done, gpointer opaque);

    gpointer padding[8];
};

/** Run state of a device, as shown by device_state_str(). */
typedef enum {
    DEVICE_STATE_UNREALIZED, /**< not (or no longer) realized */
    DEVICE_STATE_RUNNING,    /**< taking requests */
    DEVICE_STATE_QUIESCING,  /**< stopped taking requests, draining */
    DEVICE_STATE_QUIESCED,   /**< no request in flight, none taken */
    DEVICE_STATE_MOVING,     /**< being detached / attached / resumed */
} DeviceState;

/** device_state_str: "unrealized", "running", "quiescing", ... */
const char *device_state_str(DeviceState state);

/**
 * devices_register_types: register the device types built into the library
 * ("ticker") with the object layer, and install the deletion veto that
 * refuses to delete an object (a context) still used by a device, the
 * "main" context, or a device being moved or with operations queued (a
 * device that only drains can be deleted: its requests in flight fail).
 * Idempotent.  Call after
 * qcontext_register_types().
 */
void devices_register_types(void);

/* ------------------------------------------------------------------------ */
/* Queries (main thread)                                                     */
/* ------------------------------------------------------------------------ */

/** device_get_id: the device's id. */
const char *device_get_id(Device *dev);

/**
 * device_get_context: the context the device runs in (the one it is being
 * moved away from while a move is in progress).  Borrowed.  Main thread.
 */
QContext *device_get_context(Device *dev);

/** device_get_state: the run state.  Main thread. */
DeviceState device_get_state(Device *dev);

/** device_is_realized: TRUE once realized, until unrealized. */
gboolean device_is_realized(Device *dev);

/** Request counters of a device (since creation). */
typedef struct DeviceStats {
    guint64 started;   /**< device_request_begin() calls */
    guint64 completed; /**< device_request_end(dev, TRUE) calls */
    guint64 failed;    /**< device_request_end(dev, FALSE) calls */
    guint64 in_flight; /**< started - completed - failed */
    guint64 moves;     /**< completed context moves */
} DeviceStats;

/** device_get_stats: a snapshot of the counters.  Any thread. */
void device_get_stats(Device *dev, DeviceStats *stats);

/** device_uses_object: TRUE if a link property of @dev (or its context,
 * or a move target) points to @obj. */
gboolean device_uses_object(Device *dev, QomObject *obj);

/* ------------------------------------------------------------------------ */
/* Request accounting (device implementations, context thread)              */
/* ------------------------------------------------------------------------ */

/** device_request_begin: a request was accepted.  Any thread. */
void device_request_begin(Device *dev);

/**
 * device_request_end: a request accepted with device_request_begin()
 * completed (@success) or failed.  Any thread.  The last one while
 * quiescing completes the quiesce.
 */
void device_request_end(Device *dev, gboolean success);

/** device_get_in_flight: requests begun and not yet ended.  Any thread. */
guint64 device_get_in_flight(Device *dev);

/**
 * device_get_aio_context: the AioContext the device is attached to; only
 * meaningful on that context's thread, between attach and detach.
 */
AioContext *device_get_aio_context(Device *dev);

/* ------------------------------------------------------------------------ */
/* Control operations (main thread; asynchronous, queued per device)         */
/* ------------------------------------------------------------------------ */

/**
 * device_quiesce: stop taking new requests (class @quiesce on the device's
 * context thread) and wait, without blocking any loop, until no request is
 * in flight; then call @done (main thread).  Quiescing a quiesced device
 * succeeds at once.  @done may be NULL.
 */
void device_quiesce(Device *dev, DeviceDoneFunc done, gpointer opaque);

/**
 * device_resume: restart a quiesced device on @ctx (NULL = where it is).
 * If @ctx differs from the current context, the device's sources move:
 * @detach_aio_context runs on the old context's thread, then
 * @attach_aio_context and @resume on the new one's.  Resuming a running
 * device is an error reported through @done.  @done may be NULL.
 */
void device_resume(Device *dev, QContext *ctx, DeviceDoneFunc done, gpointer opaque);

/**
 * device_set_context: move @dev to @ctx while it runs: quiesce on the old
 * context, move its sources, resume on @ctx.  No request is lost,
 * duplicated or completed twice; after the move every callback of the
 * device runs on @ctx's thread.  On success the device event hook gets
 * DEVICE_EVENT_MOVED, then @done is called with a NULL error.  Returns FALSE
 * with @errp set (and never calls @done) if the move cannot start: the
 * device is not realized, or @ctx is not a completed context.  Moving to
 * the current context succeeds without a move.  @done may be NULL.
 */
gboolean device_set_context(Device *dev, QContext *ctx, DeviceDoneFunc done,
                            gpointer opaque, GError **errp);

/**
 * device_flush: run the class's @flush on the device's context thread,
 * then @done on the main thread.  Used at shutdown after quiescing.
 */
void device_flush(Device *dev, DeviceDoneFunc done, gpointer opaque);

/**
 * device_is_busy: TRUE while a control operation runs or is queued.
 */
gboolean device_is_busy(Device *dev);

/* ------------------------------------------------------------------------ */
/* Events (for the monitor)                                                  */
/* ------------------------------------------------------------------------ */

/** Events reported through the device event hook. */
typedef enum {
    DEVICE_EVENT_MOVED,   /**< a move finished: @from -> @to */
    DEVICE_EVENT_DELETED, /**< the device was unrealized and removed */
} DeviceEvent;

/**
 * DeviceEventHook: called on the main thread.  For DEVICE_EVENT_MOVED,
 * @from and @to are the old and new contexts; for DEVICE_EVENT_DELETED both
 * are the last context.  Borrowed pointers.
 */
typedef void (*DeviceEventHook)(Device *dev, DeviceEvent event, QContext *from,
                                QContext *to, gpointer opaque);

/**
 * device_set_event_hook: install the event hook (one, global; the monitor
 * installs it to emit DEVICE_MOVED / DEVICE_DELETED).  NULL removes it.
 */
void device_set_event_hook(DeviceEventHook hook, gpointer opaque);

G_END_DECLS

#endif /* DEVICES_DEVICE_H */

/*
 * devices/device.h - the device model: Device, an abstract QomObject whose
 * control plane and queues run on contexts of their own, and the operation
 * engine that starts, stops, moves and deletes them without blocking a loop.
 *
 *   -device TYPE,id=ID[,context=CTX][,num-queues=N][,queue-contexts=A:B:...]
 *
 * Planes.  A device has a control plane (its sockets, its configuration:
 * `context`, "main" when unset) and N request queues (`num-queues`, default
 * from the class).  Queue i runs on the i-th context of `queue-contexts`,
 * taken round-robin (io0:io1 gives io0, io1, io0, ...), or on `context`
 * when that is absent.  Both kinds are a DeviceQueue ("plane"); the control
 * plane is device_get_control(), queue i is device_get_queue(dev, i).  Every
 * context must be "main" or a threaded context.
 *
 * Sources.  A device registers its fd handlers, event notifiers, BHs and
 * timers per plane with the device_queue_* helpers below.  The base class
 * tracks them: it registers them on the plane's AioContext when the plane
 * is attached, removes them when it is detached, and carries them (armed
 * timers, scheduled BHs included) to the new context when the plane moves.
 * A device never writes attach/detach code for these.
 *
 * Threads.  Everything a plane does (its handlers, timers, BHs, the class
 * hooks that name it) runs on the thread of the context it is on, so a plane
 * needs no lock on its hot path.  Other threads talk to a plane with a
 * DeviceBH (device_bh_schedule() is safe from any thread, also while the
 * plane moves) or through an operation.
 *
 * Requests.  A device counts each request on the plane that took it:
 * device_queue_request_begin() when it accepts one, device_queue_request_end()
 * when it completes or fails.  Stopping a plane waits (without blocking any
 * loop) until its count is zero; each plane drains alone.
 *
 * Operations.  realize, quiesce, resume, stop/start of queues, move, flush,
 * reset, "run quiesced" and deletion are operations in one queue per
 * device; they run one at a time, in the order they were submitted.  Each is
 * a short list of steps, each step naming the thread it runs on (a plane's
 * context, the move's target, the control context, main), advanced by one
 * function that holds the references: it hops threads with one-shot BHs and
 * never blocks or iterates a loop.  A move of one queue takes three hops:
 * main -> old context (quiesce; detach once drained) -> new context (attach,
 * resume) -> main (done, then the "moved" signal).  See docs/devices.md.
 *
 * Completion.  Every operation submitted with a DeviceDoneFunc calls it
 * exactly once, never from inside the submitting call: on the device's
 * control context when the operation was submitted from the control
 * context's thread (the vhost-user transport), otherwise on main.  A submit
 * function that returns FALSE (with @errp set) queued nothing and never
 * calls @done.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_DEVICE_H
#define DEVICES_DEVICE_H

#include "qcontext/qom/object.h"
#include "qcontext/qcontext.h"
#include "qcontext/aio/aio.h"

G_BEGIN_DECLS

/**
 * DEVICE_TYPE:
 *
 * The GType of Device.
 */
#define DEVICE_TYPE (device_get_type())
/**
 * Device:
 *
 * The abstract device: a control plane and request queues, each on a
 * context, started, stopped, moved and deleted by operations (see the top
 * of this header).
 */
G_DECLARE_DERIVABLE_TYPE(Device, device, QDEV, DEVICE, QomObject)

/**
 * DEVICE:
 * @obj: an object
 *
 * Cast to Device (checked).
 */
#define DEVICE(obj) QDEV_DEVICE(obj)
/**
 * IS_DEVICE:
 * @obj: an object
 *
 * TRUE if @obj is a Device.
 */
#define IS_DEVICE(obj) QDEV_IS_DEVICE(obj)

/**
 * DEVICE_MAX_QUEUES:
 *
 * The most queues a device can have (`num-queues`).
 */
#define DEVICE_MAX_QUEUES 256

/**
 * DEVICE_QUEUE_ALL:
 *
 * For the queue operations: every queue (never the control plane).
 */
#define DEVICE_QUEUE_ALL (-1)

/**
 * DeviceQueue:
 *
 * One plane of a device, the control plane or a request queue.  Owned by the
 * device (valid while the device lives); opaque.
 */
typedef struct DeviceQueue DeviceQueue;

/**
 * DeviceDoneFunc:
 * @dev: the device
 * @err: (nullable): the error, or %NULL on success
 * @opaque: (closure): the data given with the operation
 *
 * Completion of a device operation (see "Completion" above).  @err is NULL on
 * success; it belongs to the caller of the callback (copy it to keep it).
 */
typedef void (*DeviceDoneFunc)(Device *dev, const GError *err, gpointer opaque);

/**
 * DeviceQuiescedFunc:
 * @dev: the device
 * @opaque: (closure): the data given to device_run_quiesced()
 *
 * The work of device_run_quiesced(), run on the control context while every
 * queue is stopped and drained.
 */
typedef void (*DeviceQuiescedFunc)(Device *dev, gpointer opaque);

/**
 * DeviceClass:
 * @parent_class: the parent class
 * @realize: check properties and set the device up; register its sources
 *   (device_queue_set_fd_handler(), device_queue_bh_new(), ...), which are
 *   attached to the planes' contexts right after.  Return FALSE with @errp
 *   set on failure; then nothing must be left behind.
 * @unrealize: free what @realize set up.  Runs after every plane was
 *   stopped and detached.  Requests still in flight (the drain was cut
 *   short by a deletion deadline) must be ended as failed with
 *   device_queue_request_end(q, FALSE).
 * @queue_attach: @q was attached to @aio: its tracked sources are already
 *   registered there.  For per-context state a device keeps itself (e.g. a
 *   drive's per-context queue).
 * @queue_detach: @q is about to be detached (its tracked sources are
 *   removed right after).  The plane is stopped; normally nothing is in
 *   flight, but after a cut-short drain the hook must make sure no callback
 *   of a request in flight runs after it returns.
 * @queue_quiesce: stop taking new requests on @q (e.g. remove the kick
 *   handler); requests in flight continue and complete.  Work that arrives
 *   meanwhile must stay queued, not be lost.
 * @queue_resume: start taking requests on @q again and pick up what was
 *   queued (e.g. register the kick handler, then scan the ring: a guest that
 *   kicked before will not kick again).
 * @flush: make written data stable; call @done(dev, err, opaque) when
 *   finished, on any thread.
 * @reset: return the device to its initial state (virtio reset, vhost-user
 *   ring stop); every queue is stopped and drained meanwhile.
 * @manual_start: FALSE (default): queues start taking requests when the
 *   device is realized and after a reset.  TRUE: they stay stopped until
 *   device_queue_start() (vhost-user: when the front-end starts the ring).
 *   The control plane always starts at realize.
 * @default_queues: `num-queues` when not given (0 means 1).
 * @max_queues: the most `num-queues` accepts (0 means DEVICE_MAX_QUEUES).
 * @check_move: main thread, before a move is queued: may queue @queue
 *   (DEVICE_QUEUE_ALL: the whole device, control plane included) move to
 *   @ctx?  Return FALSE with @errp set to refuse (e.g. a plane with sources
 *   the base class does not track).  NULL: every move is allowed.
 *
 * Hooks of a device type.  Threads: @realize and @unrealize on main; the queue
 * hooks on the thread of the context the plane @q is on (or is being attached
 * to); @flush and @reset on the control context.  Any hook may be NULL.
 */
struct _DeviceClass {
    QomObjectClass parent_class;

    gboolean (*realize)(Device *dev, GError **errp);
    void (*unrealize)(Device *dev);
    void (*queue_attach)(Device *dev, DeviceQueue *q, AioContext *aio);
    void (*queue_detach)(Device *dev, DeviceQueue *q);
    void (*queue_quiesce)(Device *dev, DeviceQueue *q);
    void (*queue_resume)(Device *dev, DeviceQueue *q);
    void (*flush)(Device *dev, DeviceDoneFunc done, gpointer opaque);
    void (*reset)(Device *dev);
    gboolean manual_start;
    guint default_queues;
    guint max_queues;
    gboolean (*check_move)(Device *dev, int queue, QContext *ctx, GError **errp);

    /*< private >*/
    gpointer padding[7];
};

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

/**
 * DeviceTypeEntry:
 * @name: the -device name, e.g. "virtio-blk"
 * @get_type: the type's get_type function
 * @next: the registry's list (set by device_type_add())
 *
 * One device type to register (filled in by DEVICE_REGISTER_TYPE).
 */
typedef struct DeviceTypeEntry {
    const char *name;
    GType (*get_type)(void);
    struct DeviceTypeEntry *next;
} DeviceTypeEntry;

/**
 * device_type_add: (skip)
 *
 * Make @entry known to devices_register_types() (or register it at once if that
 * already ran).  Called by the constructor that DEVICE_REGISTER_TYPE() emits;
 * @entry must stay valid for the process.
 */
void device_type_add(DeviceTypeEntry *entry);

/**
 * DEVICE_REGISTER_TYPE:
 * @NAME: the -device name
 * @GET_TYPE: the type's get_type function
 *
 * In a device's own .c file, make its type creatable as `-device NAME`; no
 * central list to edit.  A load-time constructor adds it to a list that
 * devices_register_types() registers.  Every object of the library is linked
 * (the static library with link_whole, the shared one always), so the
 * constructor always runs.
 *
 *   DEVICE_REGISTER_TYPE("ticker", ticker_get_type)
 */
#define DEVICE_REGISTER_TYPE(NAME, GET_TYPE)                                           \
    static DeviceTypeEntry device_type_entry_##GET_TYPE = {NAME, GET_TYPE, NULL};      \
    __attribute__((constructor)) static void device_type_ctor_##GET_TYPE(void)         \
    {                                                                                  \
        device_type_add(&device_type_entry_##GET_TYPE);                                \
    }

/**
 * devices_register_types:
 *
 * Register "device" and every type added with DEVICE_REGISTER_TYPE() with the
 * object layer, and install the deletion veto (a context used by a device,
 * including one being deleted or the target of a pending move, cannot be
 * deleted; nor can "main").  Idempotent.  Call after qcontext_init_main()
 * (which registers the context types).
 */
void devices_register_types(void);

/**
 * device_new:
 * @type_name: the device type, as in `-device TYPE` (e.g. "ticker")
 * @id: the device's id
 * @context: (nullable): the context its control plane and queues run on
 *   (%NULL: "main")
 * @error: return location for a #GError, or %NULL
 *
 * Creates a device as `-device TYPE,id=ID,context=CTX` does: added to the
 * devices container and realized; realizing completes asynchronously on
 * main (device_sync() calls back once it runs).  Other properties keep
 * their defaults; create a device with more properties with
 * qom_object_new_from_string() ("ticker,id=t0,interval-us=500").  Fails
 * with a one-line message for an unknown type, an invalid or duplicate id,
 * or a context devices cannot use.  Registers the device types if needed.
 * Main thread.
 *
 * Returns: (transfer full): the new device (a reference for the caller; the
 *   container keeps its own), or %NULL with @error set
 */
Device *device_new(const char *type_name, const char *id, QContext *context,
                   GError **error);

/* ------------------------------------------------------------------------ */
/* State and queries                                                         */
/* ------------------------------------------------------------------------ */

/**
 * DeviceState:
 * @DEVICE_STATE_UNREALIZED: not (or no longer) realized
 * @DEVICE_STATE_RUNNING: some plane takes requests
 * @DEVICE_STATE_QUIESCING: a stop/quiesce operation runs
 * @DEVICE_STATE_QUIESCED: no plane takes requests
 * @DEVICE_STATE_MOVING: a move runs
 * @DEVICE_STATE_REALIZING: the realize operation runs
 * @DEVICE_STATE_DELETING: deletion requested, not yet gone
 *
 * Run state of a device, as shown by device_state_str().
 */
typedef enum {
    DEVICE_STATE_UNREALIZED,
    DEVICE_STATE_RUNNING,
    DEVICE_STATE_QUIESCING,
    DEVICE_STATE_QUIESCED,
    DEVICE_STATE_MOVING,
    DEVICE_STATE_REALIZING,
    DEVICE_STATE_DELETING,
} DeviceState;

/**
 * device_state_str:
 *
 * "unrealized", "running", "quiescing", ...
 */
const char *device_state_str(DeviceState state);

/**
 * DeviceQueueState:
 * @DEVICE_QUEUE_DETACHED: on no AioContext (before realize, after delete)
 * @DEVICE_QUEUE_STOPPED: attached, takes no request
 * @DEVICE_QUEUE_RUNNING: attached, takes requests
 * @DEVICE_QUEUE_STOPPING: stopped taking requests, draining
 * @DEVICE_QUEUE_MOVING: between two contexts
 *
 * Run state of one plane, as shown by device_queue_state_str().
 */
typedef enum {
    DEVICE_QUEUE_DETACHED,
    DEVICE_QUEUE_STOPPED,
    DEVICE_QUEUE_RUNNING,
    DEVICE_QUEUE_STOPPING,
    DEVICE_QUEUE_MOVING,
} DeviceQueueState;

/**
 * device_queue_state_str:
 *
 * "detached", "stopped", "running", ...
 */
const char *device_queue_state_str(DeviceQueueState state);

/**
 * device_get_id:
 *
 * The device's id.
 */
const char *device_get_id(Device *dev);

/**
 * device_get_context:
 * @dev: the device
 *
 * The control plane's context (the `context` property).  Borrowed; valid until
 * the next move.  Main thread.
 *
 * Returns: (transfer none): the context
 */
QContext *device_get_context(Device *dev);

/**
 * device_get_state:
 *
 * The run state.  Any thread.
 */
DeviceState device_get_state(Device *dev);

/**
 * device_is_realized:
 *
 * TRUE from creation until the device is unrealized.
 */
gboolean device_is_realized(Device *dev);

/**
 * device_is_busy:
 *
 * TRUE while an operation runs or is queued.  Any thread.
 */
gboolean device_is_busy(Device *dev);

/**
 * device_is_deleting:
 *
 * TRUE once deletion was requested.  Any thread.
 */
gboolean device_is_deleting(Device *dev);

/**
 * device_get_num_queues:
 *
 * The number of request queues (>= 1).
 */
guint device_get_num_queues(Device *dev);

/**
 * device_get_queue:
 * @dev: the device
 * @index: the queue
 *
 * Request queue @index (0 <= @index < num-queues), or NULL.  Valid while the
 * device lives.
 *
 * Returns: (transfer none) (nullable): the queue
 */
DeviceQueue *device_get_queue(Device *dev, int index);

/**
 * device_get_control:
 * @dev: the device
 *
 * The control plane.
 *
 * Returns: (transfer none): the control plane
 */
DeviceQueue *device_get_control(Device *dev);

/**
 * DeviceStats:
 * @started: device_queue_request_begin() calls
 * @completed: device_queue_request_end(q, TRUE) calls
 * @failed: device_queue_request_end(q, FALSE) calls
 * @in_flight: started - completed - failed
 * @moves: moves that changed a context (device: operations)
 * @hops: device only: thread hops the engine has taken
 *
 * Request counters (since creation) of a plane or a whole device.
 */
typedef struct DeviceStats {
    guint64 started;
    guint64 completed;
    guint64 failed;
    guint64 in_flight;
    guint64 moves;
    guint64 hops;
} DeviceStats;

/**
 * device_get_stats:
 * @dev: the device
 * @stats: (out caller-allocates): the counters
 *
 * The device's counters (sums over its planes).  Any thread.
 */
void device_get_stats(Device *dev, DeviceStats *stats);

/**
 * device_get_in_flight:
 *
 * Requests begun and not ended, all planes.  Any thread.
 */
guint64 device_get_in_flight(Device *dev);

/**
 * device_get_aio_context: (skip)
 *
 * The control plane's AioContext; only meaningful on its thread while attached
 * (device_queue_get_aio_context() of the control plane).
 */
AioContext *device_get_aio_context(Device *dev);

/**
 * device_uses_object:
 *
 * TRUE if @dev uses @obj: the context of one of its planes, the target of a
 * queued or running move, or a link property (e.g. its drive).  Main thread.
 */
gboolean device_uses_object(Device *dev, QomObject *obj);

/**
 * devices_get_live:
 *
 * Every device that is realized or not yet gone (including devices being
 * deleted and no longer in the "devices" container), each with a new reference.
 * Free with g_list_free_full(list, g_object_unref).  Main thread.
 *
 * Returns: (transfer full) (element-type Device): the devices
 */
GList *devices_get_live(void);

/* ------------------------------------------------------------------------ */
/* Planes                                                                    */
/* ------------------------------------------------------------------------ */

/**
 * device_queue_get_device:
 * @q: a plane
 *
 * The device @q belongs to.
 *
 * Returns: (transfer none): the device
 */
Device *device_queue_get_device(DeviceQueue *q);

/**
 * device_queue_get_index:
 *
 * 0..num-queues-1, or -1 for the control plane.
 */
int device_queue_get_index(DeviceQueue *q);

/**
 * device_queue_get_context:
 * @q: a plane
 *
 * The context @q is on (the one it is leaving while it moves), with a new
 * reference.  Any thread.
 *
 * Returns: (transfer full): the context
 */
QContext *device_queue_get_context(DeviceQueue *q);

/**
 * device_queue_get_state:
 *
 * @q's run state.  Any thread.
 */
DeviceQueueState device_queue_get_state(DeviceQueue *q);

/**
 * device_queue_get_aio_context: (skip)
 *
 * The AioContext @q is attached to: for registering what the base class does
 * not track (e.g. submitting to a drive).  Only on @q's thread, between attach
 * and detach; NULL otherwise.
 */
AioContext *device_queue_get_aio_context(DeviceQueue *q);

/**
 * device_queue_in_thread:
 *
 * TRUE if the caller runs on the thread of the context @q is attached to (for
 * assertions).
 */
gboolean device_queue_in_thread(DeviceQueue *q);

/**
 * device_queue_get_stats:
 * @q: a plane
 * @stats: (out caller-allocates): the counters
 *
 * @q's counters (moves: moves of this plane).
 */
void device_queue_get_stats(DeviceQueue *q, DeviceStats *stats);

/* Request accounting (the device, usually on @q's thread). */

/**
 * device_queue_request_begin:
 *
 * @q accepted a request.  Any thread.
 */
void device_queue_request_begin(DeviceQueue *q);

/**
 * device_queue_request_end:
 *
 * A request begun on @q completed (@success) or failed.  Any thread.  The last
 * one while @q drains lets the operation
 * go on.  Never hold a request open while waiting for a device operation:
 * operations run one at a time, so a drain would wait for an operation queued
 * behind it.
 */
void device_queue_request_end(DeviceQueue *q, gboolean success);

/* ------------------------------------------------------------------------ */
/* Tracked sources.  Call these on @q's thread while it is attached, or     */
/* while it is detached from @realize/@unrealize.  Each mirrors the aio_    */
/* function of the same shape; the base class re-registers it on every     */
/* context the plane moves to and removes it when the plane is detached.   */
/* ------------------------------------------------------------------------ */

/**
 * device_queue_set_fd_handler: (skip)
 *
 * aio_set_fd_handler() on @q's context, tracked.  All of @io_read, @io_write
 * and @io_poll NULL removes @fd's handler.  The callbacks are called directly
 * (no wrapper).
 */
void device_queue_set_fd_handler(DeviceQueue *q, int fd, IOHandler *io_read,
                                 IOHandler *io_write, AioPollFn *io_poll,
                                 IOHandler *io_poll_ready, void *opaque);

/**
 * device_queue_set_event_notifier: (skip)
 *
 * aio_set_event_notifier() on @q's context, tracked.  @io_read and @io_poll
 * NULL removes it.
 */
void device_queue_set_event_notifier(DeviceQueue *q, EventNotifier *e,
                                     EventNotifierHandler *io_read, AioPollFn *io_poll,
                                     EventNotifierHandler *io_poll_ready);

/**
 * device_queue_set_event_notifier_poll: (skip)
 *
 * aio_set_event_notifier_poll() for a notifier registered on @q with
 * device_queue_set_event_notifier().
 */
void device_queue_set_event_notifier_poll(DeviceQueue *q, EventNotifier *e,
                                          EventNotifierHandler *io_poll_begin,
                                          EventNotifierHandler *io_poll_end);

/**
 * DeviceBH:
 *
 * A BH of a plane that moves with it.
 */
typedef struct DeviceBH DeviceBH;

/**
 * device_queue_bh_new: (skip)
 *
 * A BH that runs @cb(@opaque) on @q's thread.
 */
DeviceBH *device_queue_bh_new(DeviceQueue *q, QEMUBHFunc *cb, void *opaque);

/**
 * device_bh_schedule: (skip)
 *
 * Run @bh's callback soon on its plane's thread.  Any thread.  A BH scheduled
 * twice before it runs runs once.  Scheduled while the plane moves (or is
 * stopped and detached), it runs once the plane is attached again, on the new
 * context.
 */
void device_bh_schedule(DeviceBH *bh);

/**
 * device_bh_cancel: (skip)
 *
 * Unschedule @bh.  @bh's plane's thread.
 */
void device_bh_cancel(DeviceBH *bh);

/**
 * device_bh_delete: (skip)
 *
 * Cancel and free @bh.  @bh's plane's thread (or detached).
 */
void device_bh_delete(DeviceBH *bh);

/**
 * DeviceTimer:
 *
 * A timer of a plane that moves with it (armed, it stays armed).
 */
typedef struct DeviceTimer DeviceTimer;

/**
 * device_queue_timer_new: (skip)
 *
 * A timer on @q's context, clock @type, expire times in units of @scale ns,
 * calling @cb(@opaque) on @q's thread.
 */
DeviceTimer *device_queue_timer_new(DeviceQueue *q, QEMUClockType type, int scale,
                                    QEMUTimerCB *cb, void *opaque);

/**
 * device_timer_mod: (skip)
 *
 * timer_mod().  @t's plane's thread.
 */
void device_timer_mod(DeviceTimer *t, int64_t expire_time);

/**
 * device_timer_del: (skip)
 *
 * timer_del().  @t's plane's thread.
 */
void device_timer_del(DeviceTimer *t);

/**
 * device_timer_pending: (skip)
 *
 * timer_pending().
 */
gboolean device_timer_pending(DeviceTimer *t);

/**
 * device_timer_free: (skip)
 *
 * Disarm and free @t.  @t's plane's thread (or detached).
 */
void device_timer_free(DeviceTimer *t);

/* ------------------------------------------------------------------------ */
/* Operations (asynchronous, queued per device; see "Completion")            */
/* ------------------------------------------------------------------------ */

/**
 * device_sync:
 * @dev: the device
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Done once every operation submitted before has finished (e.g. the realize
 * operation: device_add replies from here).  Any thread.
 *
 * Returns: FALSE (with @errp set) if nothing was queued
 */
gboolean device_sync(Device *dev, DeviceDoneFunc done, gpointer opaque, GError **errp);

/**
 * device_quiesce:
 * @dev: the device
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Stop every plane (control plane included) and drain it.  Quiescing a quiesced
 * device succeeds at once.  Any thread.
 *
 * Returns: FALSE (with @errp set) if nothing was queued
 */
gboolean device_quiesce(Device *dev, DeviceDoneFunc done, gpointer opaque,
                        GError **errp);

/**
 * device_resume:
 * @dev: the device
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Start every stopped plane again.  Any thread.
 *
 * Returns: FALSE (with @errp set) if nothing was queued
 */
gboolean device_resume(Device *dev, DeviceDoneFunc done, gpointer opaque,
                       GError **errp);

/**
 * device_queue_stop:
 * @dev: the device
 * @queue: the queue, or %DEVICE_QUEUE_ALL
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Stop queue @queue (or DEVICE_QUEUE_ALL) and wait until its requests in flight
 * completed; then @done.  vhost-user: GET_VRING_BASE replies from @done; a
 * front-end disconnect unmaps guest memory from the @done of DEVICE_QUEUE_ALL.
 * A stopped queue stays stopped.  Any thread.
 *
 * Returns: FALSE (with @errp set) if nothing was queued
 */
gboolean device_queue_stop(Device *dev, int queue, DeviceDoneFunc done, gpointer opaque,
                           GError **errp);

/**
 * device_queue_start:
 * @dev: the device
 * @queue: the queue, or %DEVICE_QUEUE_ALL
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Start queue @queue (or DEVICE_QUEUE_ALL): the class's @queue_resume runs on
 * its context.  A running queue is left alone.  Any thread.
 *
 * Returns: FALSE (with @errp set) if nothing was queued
 */
gboolean device_queue_start(Device *dev, int queue, DeviceDoneFunc done,
                            gpointer opaque, GError **errp);

/**
 * device_run_quiesced:
 * @dev: the device
 * @fn: (scope async) (closure fn_opaque): the work
 * @fn_opaque: (closure): data for @fn
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Stop and drain every queue, run @fn(@dev, @fn_opaque) on the control context,
 * start again the queues that were running, then @done (vhost-user: a
 * memory-table change while queues run).  Any thread.
 *
 * Returns: FALSE (with @errp set) if nothing was queued
 */
gboolean device_run_quiesced(Device *dev, DeviceQuiescedFunc fn, gpointer fn_opaque,
                             DeviceDoneFunc done, gpointer opaque, GError **errp);

/**
 * device_reset:
 * @dev: the device
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Stop and drain every queue, run the class's @reset on the control context,
 * then start the queues unless the class starts them manually.  Any thread.
 *
 * Returns: FALSE (with @errp set) if nothing was queued
 */
gboolean device_reset(Device *dev, DeviceDoneFunc done, gpointer opaque, GError **errp);

/**
 * device_flush:
 * @dev: the device
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Run the class's @flush on the control context (nothing if it has none).  Any
 * thread.
 *
 * Returns: FALSE (with @errp set) if nothing was queued
 */
gboolean device_flush(Device *dev, DeviceDoneFunc done, gpointer opaque, GError **errp);

/**
 * device_set_context:
 * @dev: the device
 * @ctx: the context to move to
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Move the whole device (control plane and every queue) to @ctx while it runs.
 * Each plane not already there is stopped on its context, detached there once
 * drained, attached on @ctx and started again if it was running; planes move in
 * parallel.  No request is lost, doubled or completed twice.  Then @done, then
 * the "moved" signal (queue -1, from the old control context) if anything
 * moved.  Fails at once if @ctx is not a completed context usable by devices,
 * the class's @check_move refuses, or the device is being deleted.  Main
 * thread.
 *
 * Returns: FALSE (with @errp set) if the move cannot start
 */
gboolean device_set_context(Device *dev, QContext *ctx, DeviceDoneFunc done,
                            gpointer opaque, GError **errp);

/**
 * device_queue_set_context:
 * @dev: the device
 * @queue: the queue
 * @ctx: the context to move it to
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Move queue @queue (0 <= @queue < num-queues) to @ctx, as device_set_context()
 * does for one plane; a stopped queue stays stopped.  The "moved" signal names
 * the queue.  Main thread.
 *
 * Returns: FALSE (with @errp set) if the move cannot start
 */
gboolean device_queue_set_context(Device *dev, int queue, QContext *ctx,
                                  DeviceDoneFunc done, gpointer opaque, GError **errp);

/**
 * device_del:
 * @dev: the device
 * @timeout_ms: how long the planes may drain (< 0: no bound; 0: do not wait)
 * @done: (scope async) (closure opaque) (nullable): called when it is done
 * @opaque: (closure): data for @done
 * @errp: return location for a #GError
 *
 * Delete the device: operations queued before still run (their drains bounded
 * by the same deadline); new ones are refused.  Every plane is stopped and
 * drained for at most @timeout_ms (< 0: no bound; 0: do not wait: what is in
 * flight fails), detached, and the class's @unrealize runs on main.  Then the
 * device leaves the "devices" container, @done is called (with an error naming
 * the requests that did not drain in time, if any; the device is gone all the
 * same) and the "deleted" signal is emitted.  Calling it again while deleting
 * succeeds and calls its @done too; the earlier deadline wins.
 * qom_container_del() of a device does device_del(dev, 0, NULL, NULL, NULL).
 * Main thread.
 *
 * Returns: FALSE (with @errp set) if the deletion cannot start
 */
gboolean device_del(Device *dev, gint64 timeout_ms, DeviceDoneFunc done,
                    gpointer opaque, GError **errp);

/* ------------------------------------------------------------------------ */
/* Signals (emitted on main)                                                 */
/* ------------------------------------------------------------------------ */

/**
 * Device::moved:
 * @dev: the device
 * @queue: the queue that moved, or -1 for the whole device
 * @from: the context it left (for the whole device: the old control context)
 * @to: the context it runs on now
 *
 * A move finished (device_set_context(), device_queue_set_context(), the
 * monitor's device-set-context).  Emitted on main, after the move's
 * DeviceDoneFunc returned.  To hear every device, use
 * g_signal_add_emission_hook() with g_signal_lookup("moved", DEVICE_TYPE).
 */

/**
 * Device::deleted:
 * @dev: the device
 *
 * The device is unrealized and out of the "devices" container.  Emitted on
 * main, after device_del()'s DeviceDoneFunc.
 */

G_END_DECLS

#endif /* DEVICES_DEVICE_H */

/*
 * devices/vhost-user/vu-device.h - VhostUserDevice: the binding of a
 * vhost-user back-end (VuDev) to the device model (Device), the base of
 * every `-device` served over vhost-user.
 *
 *   -device TYPE,id=ID,socket=PATH|fd=N[,context=CTX][,queue-contexts=...]
 *
 * It is the one place where the transport meets the device model
 * (virtio-blk and vhost-user-vsock derive from it).  The
 * VuDev's socket handlers are tracked fd handlers of the control plane, so
 * the device moves like any other; virtqueue i is the device's queue i.
 * The front-end's ring events become operations of the device, so they go
 * through the same FIFO as the operator's:
 *
 * | front-end                           | operation                         |
 * |-------------------------------------|-----------------------------------|
 * | ring started (kick, addresses, mem) | device_queue_stop + _start(i)     |
 * | GET_VRING_BASE, memory-table change | device_queue_stop(i)              |
 * | disconnect                          | device_queue_stop(i), every ring  |
 *
 * Each queue's kick notifier is a tracked source of its plane (registered
 * by the base's queue_resume, removed by its queue_quiesce), so a queue
 * that moves (`device-set-context queue=N`) takes its kick handler along.
 * device_reset() drops the front-end (it starts over).  Deletion: every
 * plane stops and detaches, then unrealize destroys the VuDev at once.
 *
 * A subclass: in its realize, sets up its device logic, calls
 * vhost_user_device_set_backend() with its VuDevOps (get_features,
 * get_config, process...; queue_start, queue_stop and set_fd_handler are
 * the base's) and the opaque vu_dev_get_opaque() returns, then chains up to
 * the parent's realize (which creates the VuDev and listens).  Its
 * unrealize chains up first, then frees its logic.  Queue hooks it
 * overrides chain up too.  The base owns every VuQueue's opaque
 * (vu_queue_set_opaque()).
 *
 * Requests: a ring stop reports to the library once the plane drained, so
 * a popped element that outlives the @process callback (a drive request)
 * is a request of its queue's plane: device_queue_request_begin() when
 * popped, device_queue_request_end() once pushed and flushed.  Work a
 * subclass does outside @process (its own BHs) checks
 * vhost_user_device_ring_running() first.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_VHOST_USER_VU_DEVICE_H
#define QCONTEXT_DEVICES_VHOST_USER_VU_DEVICE_H

#include "qcontext/devices/device.h"
#include "qcontext/devices/vhost-user/vhost-user.h"

G_BEGIN_DECLS

/**
 * VHOST_USER_DEVICE_TYPE:
 *
 * The GType of VhostUserDevice.
 */
#define VHOST_USER_DEVICE_TYPE (vhost_user_device_get_type())
/**
 * VhostUserDevice:
 *
 * The abstract vhost-user device: a Device served to a front-end over a
 * vhost-user socket (`socket=` or `fd=`), whose rings start and stop as
 * device queue operations.
 */
G_DECLARE_DERIVABLE_TYPE(VhostUserDevice, vhost_user_device, QDEV, VHOST_USER_DEVICE,
                         Device)

/** VHOST_USER_DEVICE: cast to VhostUserDevice (checked). */
#define VHOST_USER_DEVICE(obj) QDEV_VHOST_USER_DEVICE(obj)

/**
 * VhostUserDeviceClass:
 * @parent_class: the parent class
 *
 * A vhost-user device type: DeviceClass, whose realize/unrealize/queue hooks
 * a subclass overrides and chains up to.
 */
struct _VhostUserDeviceClass {
    DeviceClass parent_class;

    /*< private >*/
    gpointer padding[4];
};

/**
 * vhost_user_device_set_backend: in the subclass's realize (main), before
 * chaining up: the VuDevOps of the device logic (copied; its queue_start,
 * queue_stop and set_fd_handler are ignored) and the opaque its callbacks
 * get from vu_dev_get_opaque().
 */
void vhost_user_device_set_backend(VhostUserDevice *d, const VuDevOps *ops,
                                   void *opaque);

/**
 * vhost_user_device_set_kick_only: in the subclass's realize, before
 * chaining up: queue @queue (< 64) runs on kicks only, without adaptive
 * polling of its avail ring.  For queues whose available buffers are not
 * work but room (a receive queue: virtio-vsock rx, virtio-net rx), which a
 * poll would find "ready" forever.
 */
void vhost_user_device_set_kick_only(VhostUserDevice *d, unsigned queue);

/**
 * vhost_user_device_get_vu: the VuDev (NULL before realize and after
 * unrealize).  Its calls are made on the control thread (vu_dev_*) or on a
 * queue's thread (vu_queue_*), as vhost-user.h says.
 */
VuDev *vhost_user_device_get_vu(VhostUserDevice *d);

/**
 * vhost_user_device_queue: the device plane of virtqueue @q (for request
 * accounting in @process).
 */
DeviceQueue *vhost_user_device_queue(VuQueue *q);

/**
 * vhost_user_device_ring_running: queue thread.  TRUE while @q's ring is
 * started by the front-end and its plane takes requests: the device may pop
 * and push (e.g. from its own BH, not only from @process).  FALSE from the
 * plane's quiesce on, so work after it cannot outlive a stop's drain.
 */
gboolean vhost_user_device_ring_running(VuQueue *q);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_VHOST_USER_VU_DEVICE_H */

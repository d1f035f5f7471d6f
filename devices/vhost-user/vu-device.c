/*
 * devices/vhost-user/vu-device.c - VhostUserDevice: a VuDev bound to the
 * device model (see vu-device.h for the mapping): the base class of
 * virtio-blk and vhost-user-vsock.
 *
 * The control plane.  The VuDev has no AioContext of its own: its socket
 * handlers are tracked fd handlers of the control plane
 * (VuDevOps.set_fd_handler), and the plane's queue_attach tells it the
 * AioContext it is on now (vu_dev_set_aio_context()), so the whole device
 * moves like any other.
 *
 * Ring start and stop.  The library asks for them on the control thread:
 * - start: want_run is set, then device_queue_stop + device_queue_start.
 *   The stop matters when the plane runs already (an operator's
 *   device_resume came first): device_queue_start leaves a running plane
 *   alone, so without it queue_resume would never register the kick
 *   notifier.  queue_resume registers it (a tracked source: it moves with
 *   the queue) and kicks once; the start's done reports vu_queue_started().
 * - stop: want_run is cleared, then device_queue_stop; its done (the plane
 *   drained: every popped element was pushed) reports vu_queue_stopped().
 * - while the device is being deleted the engine refuses new operations:
 *   nothing is reported; the deletion stops and detaches every plane and
 *   unrealize destroys the VuDev (vu_dev_destroy(): no callback runs).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "vhost-user"

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/vhost-user/vu-device.h"

/* One virtqueue's binding. */
typedef struct VudQueue {
    VhostUserDevice *d;
    VuQueue *vq;
    DeviceQueue *dq;
    int want_run;       /* atomic: the front-end started the ring (control thread) */
    bool plane_running; /* queue thread: between queue_resume and queue_quiesce */
    bool kick_on;       /* queue thread: the kick notifier is registered */
    bool no_poll;       /* kicks only: available buffers are room, not work */
} VudQueue;

typedef struct {
    char *socket_path;
    int fd;
    VuDevOps ops; /* the subclass's, with our queue_start/stop, set_fd_handler */
    void *opaque;
    bool backend_set;
    guint64 kick_only; /* vhost_user_device_set_kick_only() */
    VuDev *vu;
    VudQueue *queues;
    guint nq;
} VhostUserDevicePrivate;

enum { PROP_0, PROP_SOCKET, PROP_FD, N_PROPS };
static GParamSpec *vud_props[N_PROPS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(VhostUserDevice, vhost_user_device, DEVICE_TYPE)

static VhostUserDevicePrivate *vud_priv(VhostUserDevice *d)
{
    return vhost_user_device_get_instance_private(d);
}

static VudQueue *vud_queue(Device *dev, DeviceQueue *q)
{
    VhostUserDevicePrivate *p = vud_priv(VHOST_USER_DEVICE(dev));
    int i = device_queue_get_index(q);

    return i >= 0 && (guint)i < p->nq ? &p->queues[i] : NULL;
}

static const char *vud_id(VhostUserDevice *d)
{
    return device_get_id(DEVICE(d));
}

/* ------------------------------------------------------------------------ */
/* Public helpers                                                            */
/* ------------------------------------------------------------------------ */

void vhost_user_device_set_backend(VhostUserDevice *d, const VuDevOps *ops,
                                   void *opaque)
{
    VhostUserDevicePrivate *p = vud_priv(d);
    VuDevOps mine = *ops;

    mine.queue_start = p->ops.queue_start;
    mine.queue_stop = p->ops.queue_stop;
    mine.set_fd_handler = p->ops.set_fd_handler;
    p->ops = mine;
    p->opaque = opaque;
    p->backend_set = true;
}

void vhost_user_device_set_kick_only(VhostUserDevice *d, unsigned queue)
{
    g_return_if_fail(queue < 64);
    vud_priv(d)->kick_only |= 1ULL << queue;
}

VuDev *vhost_user_device_get_vu(VhostUserDevice *d)
{
    return vud_priv(d)->vu;
}

DeviceQueue *vhost_user_device_queue(VuQueue *q)
{
    VudQueue *qs = vu_queue_get_opaque(q);

    return qs ? qs->dq : NULL;
}

gboolean vhost_user_device_ring_running(VuQueue *q)
{
    VudQueue *qs = vu_queue_get_opaque(q);

    return qs && qs->plane_running && qatomic_read(&qs->want_run);
}

/* ------------------------------------------------------------------------ */
/* The control plane's sockets, and the kick handlers (queue thread)         */
/* ------------------------------------------------------------------------ */

static void vud_set_fd_handler(VuDev *vu, int fd, IOHandler *io_read,
                               IOHandler *io_write, void *opaque)
{
    VudQueue *qs = vu_queue_get_opaque(vu_dev_get_queue(vu, 0));

    device_queue_set_fd_handler(device_get_control(DEVICE(qs->d)), fd, io_read,
                                io_write, NULL, NULL, opaque);
}

static void vud_kick_on(VudQueue *qs)
{
    EventNotifier *e = vu_queue_get_kick_notifier(qs->vq);

    if (qs->no_poll) {
        device_queue_set_event_notifier(qs->dq, e, vu_queue_kick_read, NULL, NULL);
    } else {
        device_queue_set_event_notifier(qs->dq, e, vu_queue_kick_read,
                                        vu_queue_kick_poll, vu_queue_kick_poll_ready);
        device_queue_set_event_notifier_poll(qs->dq, e, vu_queue_kick_poll_begin,
                                             vu_queue_kick_poll_end);
    }
    qs->kick_on = true;
    /* Kicks on: a handler removed while its context polled kept them off
     * (virtq_set_notification), and nothing else would turn them on. */
    vu_queue_set_notification(qs->vq, true);
    event_notifier_set(e); /* scan what the guest made available meanwhile */
}

static void vud_kick_off(VudQueue *qs)
{
    if (qs->kick_on) {
        device_queue_set_event_notifier(qs->dq, vu_queue_get_kick_notifier(qs->vq),
                                        NULL, NULL, NULL);
        qs->kick_on = false;
    }
}

static void vud_queue_resume(Device *dev, DeviceQueue *q)
{
    VudQueue *qs = vud_queue(dev, q);

    if (!qs) {
        return;
    }
    qs->plane_running = true;
    /* Pairs with the qatomic_store_release() in vud_vu_queue_start(). */
    if (qatomic_load_acquire(&qs->want_run)) {
        vud_kick_on(qs);
    }
}

static void vud_queue_quiesce(Device *dev, DeviceQueue *q)
{
    VudQueue *qs = vud_queue(dev, q);

    if (qs) {
        qs->plane_running = false;
        vud_kick_off(qs);
    }
}

static void vud_queue_attach(Device *dev, DeviceQueue *q, AioContext *aio)
{
    if (device_queue_get_index(q) < 0) {
        vu_dev_set_aio_context(vud_priv(VHOST_USER_DEVICE(dev))->vu, aio);
    }
}

/* ------------------------------------------------------------------------ */
/* Ring start / stop (control thread)                                        */
/* ------------------------------------------------------------------------ */

static void vud_started(Device *dev, const GError *err, gpointer opaque)
{
    VudQueue *qs = opaque;

    if (err) {
        g_warning("vhost-user device '%s': queue %u: %s", device_get_id(dev),
                  vu_queue_index(qs->vq), err->message);
        return;
    }
    vu_queue_started(qs->vq);
}

static void vud_vu_queue_start(VuDev *vu, VuQueue *vq)
{
    VudQueue *qs = vu_queue_get_opaque(vq);
    Device *dev = DEVICE(qs->d);
    int i = (int)vu_queue_index(vq);
    g_autoptr(GError) err = NULL;

    /* Pairs with the qatomic_load_acquire() in vud_queue_resume(). */
    qatomic_store_release(&qs->want_run, 1);
    if (!device_queue_stop(dev, i, NULL, NULL, &err) ||
        !device_queue_start(dev, i, vud_started, qs, &err)) {
        g_debug("vhost-user device '%s': %s", device_get_id(dev), err->message);
    }
}

static void vud_stopped(Device *dev, const GError *err, gpointer opaque)
{
    VudQueue *qs = opaque;

    if (err) {
        g_warning("vhost-user device '%s': queue %u: %s", device_get_id(dev),
                  vu_queue_index(qs->vq), err->message);
        return;
    }
    vu_queue_stopped(qs->vq); /* drained: no element in use, no handler */
}

static void vud_vu_queue_stop(VuDev *vu, VuQueue *vq)
{
    VudQueue *qs = vu_queue_get_opaque(vq);
    Device *dev = DEVICE(qs->d);
    g_autoptr(GError) err = NULL;

    qatomic_set(&qs->want_run, 0);
    if (!device_queue_stop(dev, (int)vu_queue_index(vq), vud_stopped, qs, &err)) {
        g_debug("vhost-user device '%s': %s", device_get_id(dev), err->message);
    }
}

/* A reset of a vhost-user device: the front-end starts it all over again. */
static void vud_reset(Device *dev)
{
    vu_dev_disconnect(vud_priv(VHOST_USER_DEVICE(dev))->vu);
}

/* ------------------------------------------------------------------------ */
/* Realize / unrealize                                                       */
/* ------------------------------------------------------------------------ */

static gboolean vud_check_props(VhostUserDevice *d, GError **errp)
{
    VhostUserDevicePrivate *p = vud_priv(d);

    if (!p->socket_path == (p->fd < 0)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': give exactly one of socket=PATH and fd=N", vud_id(d));
        return FALSE;
    }
    if (p->socket_path && !*p->socket_path) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': socket= is empty", vud_id(d));
        return FALSE;
    }
    if (!p->backend_set) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "device '%s': no vhost-user back-end was set", vud_id(d));
        return FALSE;
    }
    return TRUE;
}

static gboolean vud_realize(Device *dev, GError **errp)
{
    VhostUserDevice *d = VHOST_USER_DEVICE(dev);
    VhostUserDevicePrivate *p = vud_priv(d);
    g_autoptr(GError) err = NULL;
    bool ok;

    if (!vud_check_props(d, errp)) {
        return FALSE;
    }
    p->nq = device_get_num_queues(dev);
    p->queues = g_new0(VudQueue, p->nq);
    /* No AioContext yet: the control plane's attach gives it. */
    p->vu = vu_dev_new(vud_id(d), (uint16_t)p->nq, &p->ops, p->opaque, NULL);
    for (guint i = 0; i < p->nq; i++) {
        VudQueue *qs = &p->queues[i];

        qs->d = d;
        qs->vq = vu_dev_get_queue(p->vu, i);
        qs->dq = device_get_queue(dev, (int)i);
        qs->no_poll = i < 64 && (p->kick_only & (1ULL << i));
        vu_queue_set_opaque(qs->vq, qs);
    }
    /* The control plane is detached: its tracked handlers wait for attach. */
    ok = p->socket_path ? vu_dev_listen_path(p->vu, p->socket_path, &err)
                        : vu_dev_listen_fd(p->vu, p->fd, &err);
    p->fd = -1; /* taken over (closed) by the VuDev either way */
    if (!ok) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "device '%s': %s", vud_id(d),
                    err->message);
        g_clear_pointer(&p->vu, vu_dev_free);
        g_clear_pointer(&p->queues, g_free);
        p->nq = 0;
        return FALSE;
    }
    return TRUE;
}

static void vud_unrealize(Device *dev)
{
    VhostUserDevicePrivate *p = vud_priv(VHOST_USER_DEVICE(dev));

    /* Every plane is stopped and detached: no handler of the VuDev runs. */
    g_clear_pointer(&p->vu, vu_dev_destroy);
    g_clear_pointer(&p->queues, g_free);
    p->nq = 0;
}

/* ------------------------------------------------------------------------ */
/* GObject plumbing                                                          */
/* ------------------------------------------------------------------------ */

static void vud_set_property(GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
    VhostUserDevicePrivate *p = vud_priv(VHOST_USER_DEVICE(object));

    switch (prop_id) {
    case PROP_SOCKET:
        g_free(p->socket_path);
        p->socket_path = g_value_dup_string(value);
        break;
    case PROP_FD:
        p->fd = g_value_get_int(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void vud_get_property(GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
    VhostUserDevicePrivate *p = vud_priv(VHOST_USER_DEVICE(object));

    switch (prop_id) {
    case PROP_SOCKET:
        g_value_set_string(value, p->socket_path);
        break;
    case PROP_FD:
        g_value_set_int(value, p->fd);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void vud_finalize(GObject *object)
{
    VhostUserDevicePrivate *p = vud_priv(VHOST_USER_DEVICE(object));

    g_assert(!p->vu);
    g_free(p->queues);
    g_free(p->socket_path);
    G_OBJECT_CLASS(vhost_user_device_parent_class)->finalize(object);
}

static void vhost_user_device_class_init(VhostUserDeviceClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    DeviceClass *dc = QDEV_DEVICE_CLASS(klass);
    GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

    object_class->set_property = vud_set_property;
    object_class->get_property = vud_get_property;
    object_class->finalize = vud_finalize;
    dc->realize = vud_realize;
    dc->unrealize = vud_unrealize;
    dc->queue_attach = vud_queue_attach;
    dc->queue_quiesce = vud_queue_quiesce;
    dc->queue_resume = vud_queue_resume;
    dc->reset = vud_reset;
    dc->manual_start = TRUE; /* a queue runs when the front-end starts its ring */

    vud_props[PROP_SOCKET] = g_param_spec_string(
        "socket", "Socket",
        "Path of the vhost-user socket to create and listen on (mode 0600)", NULL,
        flags);
    vud_props[PROP_FD] = g_param_spec_int(
        "fd", "File descriptor",
        "An inherited listening (or connected) unix socket to serve instead of "
        "socket=",
        -1, G_MAXINT, -1, flags);
    g_object_class_install_properties(object_class, N_PROPS, vud_props);
}

static void vhost_user_device_init(VhostUserDevice *d)
{
    VhostUserDevicePrivate *p = vud_priv(d);

    p->fd = -1;
    p->ops.queue_start = vud_vu_queue_start;
    p->ops.queue_stop = vud_vu_queue_stop;
    p->ops.set_fd_handler = vud_set_fd_handler;
}

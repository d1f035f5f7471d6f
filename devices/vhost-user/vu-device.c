/*
 * devices/vhost-user/vu-device.c - VhostUserDevice: a VuDev bound to the
 * device model (see vu-device.h for the mapping).
 *
 * Ring start and stop.  The library asks for them on the control thread
 * (VuDevOps.queue_start/queue_stop); each becomes device operations on the
 * queue's plane, and their completion is reported back:
 *
 * - start: ring_started is set, then device_queue_stop + device_queue_start
 *   (the stop makes a plane that runs already, e.g. after an operator's
 *   device_resume, go through queue_resume too).  queue_resume registers
 *   the kick notifier as a tracked source and kicks once; the start's done
 *   reports vu_queue_started().
 * - stop: ring_started is cleared, then device_queue_stop; its done asks
 *   the queue's thread (a DeviceBH) to call vu_queue_stopped(), which
 *   completes once every element popped from the ring was pushed.
 * - while the device is being deleted the engine refuses new operations;
 *   the deletion stops and detaches every plane anyway, so a stop is then
 *   reported from the plane's queue_detach hook (or at once if the plane is
 *   detached already), and a start is reported at once (nothing will run).
 *
 * Teardown.  The control plane's quiesce during a deletion closes the VuDev
 * and holds a control-plane request until it is closed, so the deletion's
 * drain waits for the front-end to be dropped and the rings to stop; the
 * rest (vu_dev_free, ending the request, the reference the close held) is
 * done on main.  If the control plane was quiesced before the deletion
 * (device_quiesce), its queue_detach starts the close instead.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "vhost-user"

#include <pthread.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/vhost-user/vu-device.h"

/* One virtqueue's binding. */
typedef struct VudQueue {
    VhostUserDevice *d;
    VuQueue *vq;
    DeviceQueue *dq;
    DeviceBH *stop_bh;  /* vu_queue_stopped() on the queue's thread */
    bool ring_started;  /* atomic: the library started the ring (control thread) */
    bool plane_running; /* queue thread: between queue_resume and queue_quiesce */
    bool kick_on;       /* queue thread: the kick notifier is registered */
    bool no_poll;       /* kicks only: available buffers are room, not work */

    /* Under the device's lock: control thread <-> queue thread. */
    bool detached;    /* the plane is detached (deletion) */
    bool stop_wanted; /* report vu_queue_stopped() on the queue's thread */
} VudQueue;

typedef struct {
    char *socket_path;
    int fd;
    VuDevOps ops; /* the subclass's, with our queue_start/queue_stop */
    void *opaque;
    bool backend_set;
    guint64 kick_only; /* vhost_user_device_set_kick_only() */
    VuDev *vu;
    AioContext *ctl; /* the control plane's (it does not move) */
    VudQueue *queues;
    guint nq;
    pthread_mutex_t lock; /* pthread, not GMutex: ThreadSanitizer sees it */
    bool close_started;   /* control thread */
    bool close_request;   /* atomic: a control-plane request holds the drain */
    bool close_done;      /* main: vu_dev_close() finished */
    bool unrealized;      /* main */
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
    p->ops = mine;
    p->opaque = opaque;
    p->backend_set = true;
}

void vhost_user_device_set_kick_only(VhostUserDevice *d, unsigned queue)
{
    VhostUserDevicePrivate *p = vud_priv(d);

    g_return_if_fail(queue < 64);
    p->kick_only |= 1ULL << queue;
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

    return qs && qs->plane_running && qatomic_read(&qs->ring_started);
}

/* ------------------------------------------------------------------------ */
/* Kick handler (queue thread)                                               */
/* ------------------------------------------------------------------------ */

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
    if (qatomic_load_acquire(&qs->ring_started)) {
        vud_kick_on(qs);
    }
}

static void vud_start_close(VhostUserDevice *d, bool hold_drain);

static void vud_queue_quiesce(Device *dev, DeviceQueue *q)
{
    VudQueue *qs = vud_queue(dev, q);

    if (qs) {
        qs->plane_running = false;
        vud_kick_off(qs);
    } else if (device_queue_get_index(q) < 0 && device_is_deleting(dev)) {
        vud_start_close(VHOST_USER_DEVICE(dev), true);
    }
}

static void vud_queue_attach(Device *dev, DeviceQueue *q, AioContext *aio)
{
    VhostUserDevicePrivate *p = vud_priv(VHOST_USER_DEVICE(dev));
    VudQueue *qs = vud_queue(dev, q);

    if (qs) {
        pthread_mutex_lock(&p->lock);
        qs->detached = false;
        pthread_mutex_unlock(&p->lock);
    }
}

/* Report a stop the library asked for, if one is wanted (queue thread). */
static void vud_report_stop(VudQueue *qs, bool detaching)
{
    VhostUserDevicePrivate *p = vud_priv(qs->d);
    bool want;

    pthread_mutex_lock(&p->lock);
    want = qs->stop_wanted;
    qs->stop_wanted = false;
    qs->detached = qs->detached || detaching;
    pthread_mutex_unlock(&p->lock);
    g_debug("vhost-user device '%s': queue %u: report stop %d", vud_id(qs->d),
            vu_queue_index(qs->vq), want);
    if (want) {
        vu_queue_stopped(qs->vq);
    }
}

static void vud_queue_detach(Device *dev, DeviceQueue *q)
{
    VudQueue *qs = vud_queue(dev, q);

    if (qs) {
        vud_kick_off(qs);
        device_bh_cancel(qs->stop_bh);
        vud_report_stop(qs, true);
    } else if (device_queue_get_index(q) < 0 && device_is_deleting(dev)) {
        vud_start_close(VHOST_USER_DEVICE(dev), false); /* if not started yet */
    }
}

static void vud_stop_bh(void *opaque)
{
    vud_report_stop(opaque, false);
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
    }
    g_debug("vhost-user device '%s': queue %u: started", device_get_id(dev),
            vu_queue_index(qs->vq));
    vu_queue_started(qs->vq);
}

static void vud_vu_queue_start(VuDev *vu, VuQueue *vq)
{
    VudQueue *qs = vu_queue_get_opaque(vq);
    Device *dev = DEVICE(qs->d);
    int i = (int)vu_queue_index(vq);
    g_autoptr(GError) err = NULL;

    g_debug("vhost-user device '%s': queue %d: start", device_get_id(dev), i);
    /* Pairs with the qatomic_load_acquire() in vud_queue_resume(). */
    qatomic_store_release(&qs->ring_started, true);
    if (!device_queue_stop(dev, i, NULL, NULL, &err) ||
        !device_queue_start(dev, i, vud_started, qs, &err)) {
        /* Being deleted: the ring will never run; let the library go on. */
        g_debug("vhost-user device '%s': queue %d not started: %s", device_get_id(dev),
                i, err->message);
        vu_queue_started(vq);
    }
}

static void vud_stopped(Device *dev, const GError *err, gpointer opaque)
{
    VudQueue *qs = opaque;
    VhostUserDevicePrivate *p = vud_priv(qs->d);

    pthread_mutex_lock(&p->lock);
    qs->stop_wanted = true;
    pthread_mutex_unlock(&p->lock);
    device_bh_schedule(qs->stop_bh); /* or the detach hook reports it */
}

static void vud_vu_queue_stop(VuDev *vu, VuQueue *vq)
{
    VudQueue *qs = vu_queue_get_opaque(vq);
    VhostUserDevicePrivate *p = vud_priv(qs->d);
    Device *dev = DEVICE(qs->d);
    g_autoptr(GError) err = NULL;
    bool now;

    g_debug("vhost-user device '%s': queue %u: stop", device_get_id(dev),
            vu_queue_index(vq));
    qatomic_set(&qs->ring_started, false);
    if (device_queue_stop(dev, (int)vu_queue_index(vq), vud_stopped, qs, &err)) {
        return;
    }
    /* Being deleted: the deletion stops and detaches the plane. */
    pthread_mutex_lock(&p->lock);
    now = qs->detached;
    qs->stop_wanted = !now;
    pthread_mutex_unlock(&p->lock);
    if (now) {
        vu_queue_stopped(vq); /* detached: drained, no handler can run */
    }
}

/* ------------------------------------------------------------------------ */
/* Teardown                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Main: the VuDev is closed.  Let the deletion go on; free the VuDev if the
 * device is unrealized already (a drain cut short), else unrealize does,
 * once every queue plane is detached (their hooks still use the VuQueues).
 */
static void vud_closed_main(void *opaque)
{
    VhostUserDevice *d = opaque;
    VhostUserDevicePrivate *p = vud_priv(d);

    p->close_done = true;
    if (qatomic_xchg(&p->close_request, false)) {
        device_queue_request_end(device_get_control(DEVICE(d)), TRUE);
    }
    if (p->unrealized) {
        g_clear_pointer(&p->vu, vu_dev_free);
    }
    g_object_unref(d);
}

/* Control thread, after vu_dev_close() returned. */
static void vud_closed_bh(void *opaque)
{
    VhostUserDevice *d = opaque;
    VhostUserDeviceClass *klass = QDEV_VHOST_USER_DEVICE_GET_CLASS(d);

    if (klass->closed) {
        klass->closed(d);
    }
    aio_bh_schedule_oneshot(qcontext_get_aio_context(qcontext_get_main()),
                            vud_closed_main, d);
}

/* Control thread, inside the library: vu_dev_close() finished. */
static void vud_closed(void *opaque)
{
    VhostUserDevice *d = opaque;

    aio_bh_schedule_oneshot(vud_priv(d)->ctl, vud_closed_bh, d);
}

/*
 * Control thread: close the VuDev once.  With @hold_drain, a request of the
 * control plane keeps the deletion's drain waiting until it is closed.
 */
static void vud_start_close(VhostUserDevice *d, bool hold_drain)
{
    VhostUserDevicePrivate *p = vud_priv(d);

    if (p->close_started || !p->vu) {
        return;
    }
    p->close_started = true;
    if (hold_drain) {
        /* Ended on main (vud_closed_main) or failed by unrealize. */
        device_queue_request_begin(device_get_control(DEVICE(d)));
        qatomic_set(&p->close_request, true);
    }
    g_object_ref(d); /* dropped on main, so the device is disposed of there */
    vu_dev_close(p->vu, vud_closed, d);
}

/* ------------------------------------------------------------------------ */
/* Realize / unrealize / moves                                               */
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
    AioContext *ctl = qcontext_get_aio_context(device_get_context(dev));
    g_autoptr(GError) err = NULL;

    if (!vud_check_props(d, errp)) {
        return FALSE;
    }
    p->nq = device_get_num_queues(dev);
    p->queues = g_new0(VudQueue, p->nq);
    p->ctl = ctl;
    p->vu = vu_dev_new(vud_id(d), (uint16_t)p->nq, &p->ops, p->opaque, ctl);
    for (guint i = 0; i < p->nq; i++) {
        VudQueue *qs = &p->queues[i];

        qs->d = d;
        qs->vq = vu_dev_get_queue(p->vu, i);
        qs->dq = device_get_queue(dev, (int)i);
        qs->stop_bh = device_queue_bh_new(qs->dq, vud_stop_bh, qs);
        qs->detached = true;
        qs->no_poll = i < 64 && (p->kick_only & (1ULL << i));
        vu_queue_set_opaque(qs->vq, qs);
    }
    /* Front-ends are served from here on (on the control thread). */
    if (p->socket_path ? !vu_dev_listen_path(p->vu, p->socket_path, &err)
                       : !vu_dev_listen_fd(p->vu, p->fd, &err)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "device '%s': %s", vud_id(d),
                    err->message);
        p->fd = -1; /* taken over (and closed) by the VuDev */
        g_clear_pointer(&p->vu, vu_dev_free);
        for (guint i = 0; i < p->nq; i++) {
            device_bh_delete(p->queues[i].stop_bh);
        }
        g_clear_pointer(&p->queues, g_free);
        p->nq = 0;
        return FALSE;
    }
    p->fd = -1;
    return TRUE;
}

static void vud_unrealize(Device *dev)
{
    VhostUserDevicePrivate *p = vud_priv(VHOST_USER_DEVICE(dev));

    if (qatomic_xchg(&p->close_request, false)) {
        /* The drain was cut short: the close finishes on its own. */
        device_queue_request_end(device_get_control(dev), FALSE);
    }
    p->unrealized = true;
    if (p->close_done) {
        g_clear_pointer(&p->vu, vu_dev_free); /* closed: nothing of it runs */
    }
    for (guint i = 0; i < p->nq; i++) {
        device_bh_delete(p->queues[i].stop_bh);
        p->queues[i].stop_bh = NULL;
    }
    /* The queues array stays until finalize: a late close still reads it. */
}

static gboolean vud_check_move(Device *dev, int queue, QContext *ctx, GError **errp)
{
    if (queue == DEVICE_QUEUE_ALL && ctx != device_get_context(dev)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': the vhost-user socket stays on context '%s'; "
                    "move the queues one by one (queue=N)",
                    device_get_id(dev), qcontext_get_name(device_get_context(dev)));
        return FALSE;
    }
    return TRUE;
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
    pthread_mutex_destroy(&p->lock);
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
    dc->queue_detach = vud_queue_detach;
    dc->queue_quiesce = vud_queue_quiesce;
    dc->queue_resume = vud_queue_resume;
    dc->check_move = vud_check_move;
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
    pthread_mutex_init(&p->lock, NULL);
}

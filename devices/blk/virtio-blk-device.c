/*
 * devices/blk/virtio-blk-device.c - "virtio-blk": a disk served to a VM over
 * vhost-user, its queues on the contexts the user picks.
 *
 *   -device virtio-blk,id=ID,drive=DRIVE,socket=PATH|fd=N[,context=CTX]
 *           [,num-queues=N][,queue-contexts=A:B][,queue-size=256][,serial=STR]
 *           [,logical-block-size=512|4096]
 *
 * The binding between three pieces, each independent of the others:
 * - the vhost-user back-end (VuDev): its socket and messages are the
 *   device's control plane (`context`), registered through the device
 *   layer's tracked fd handlers so that they move with it;
 * - the device layer's queues: virtqueue i is queue i; the front-end
 *   starting or stopping a ring is device_queue_start() (after a
 *   device_queue_stop(): a running plane is left alone by a start) or
 *   device_queue_stop(),
 *   whose queue_resume/queue_quiesce hooks register or remove the ring's
 *   kick handler on the queue's context, and whose drain counts the
 *   requests (device_queue_request_begin/end); operations are queued with
 *   the operator's moves, so a front-end stopping a queue while
 *   device-set-context moves it is two operations in a row;
 * - the virtio-blk request logic (VirtioBlk), submitting to the drive's
 *   BlockBackend from each queue's own AioContext (one kernel queue per
 *   context, released when a queue moves away).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "virtio-blk"

#include <string.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/block/drive.h"
#include "qcontext/devices/blk/virtio-blk.h"
#include "qcontext/devices/device.h"

#define VBLK_DEVICE_TYPE (vblk_device_get_type())
G_DECLARE_FINAL_TYPE(VblkDevice, vblk_device, VBLK, DEVICE, Device)

typedef struct VblkDevQueue {
    VblkDevice *vd;
    DeviceQueue *dq;
    VuQueue *vq;
    AioContext *aio; /* the queue's context (its thread, attach to detach) */
    int want_run;    /* atomic: the front-end started the ring */
    bool kick_on;    /* the queue's thread: the kick handler is registered */
} VblkDevQueue;

struct _VblkDevice {
    Device parent;
    Drive *drive;
    char *socket;
    int fd;
    guint queue_size;
    char *serial;
    guint logical_block_size;

    BlockBackend *blk;
    VirtioBlk *vb;
    VuDev *vu;
    VuDevOps vu_ops;
    VblkDevQueue *queues;
    guint nq;
};

enum {
    PROP_0,
    PROP_DRIVE,
    PROP_SOCKET,
    PROP_FD,
    PROP_QUEUE_SIZE,
    PROP_SERIAL,
    PROP_LOGICAL_BLOCK_SIZE,
    N_PROPS
};

static GParamSpec *vblk_props[N_PROPS];

G_DEFINE_FINAL_TYPE(VblkDevice, vblk_device, DEVICE_TYPE)
DEVICE_REGISTER_TYPE("virtio-blk", vblk_device_get_type)

static VblkDevQueue *vblk_dev_queue(VblkDevice *vd, DeviceQueue *q)
{
    int i = device_queue_get_index(q);

    return i >= 0 ? &vd->queues[i] : NULL;
}

/* ------------------------------------------------------------------------ */
/* The drive, from each queue's context                                      */
/* ------------------------------------------------------------------------ */

static void be_readv(void *be, AioContext *ctx, int64_t off, const struct iovec *iov,
                     int cnt, BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_preadv(((VblkDevice *)be)->blk, ctx, off, iov, cnt, cb, opaque);
}

static void be_writev(void *be, AioContext *ctx, int64_t off, const struct iovec *iov,
                      int cnt, BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_pwritev(((VblkDevice *)be)->blk, ctx, off, iov, cnt, cb, opaque);
}

static void be_flush(void *be, AioContext *ctx, BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_flush(((VblkDevice *)be)->blk, ctx, cb, opaque);
}

static void be_discard(void *be, AioContext *ctx, int64_t off, int64_t len,
                       BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_pdiscard(((VblkDevice *)be)->blk, ctx, off, len, cb, opaque);
}

static void be_write_zeroes(void *be, AioContext *ctx, int64_t off, int64_t len,
                            bool may_unmap, BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_pwrite_zeroes(((VblkDevice *)be)->blk, ctx, off, len,
                          may_unmap ? BLK_ZERO_MAY_UNMAP : 0, cb, opaque);
}

static void be_plug(void *be, AioContext *ctx)
{
    blk_io_plug(((VblkDevice *)be)->blk, ctx);
}

static void be_unplug(void *be, AioContext *ctx)
{
    blk_io_unplug(((VblkDevice *)be)->blk, ctx);
}

static const VblkBackendOps vblk_dev_backend = {
    be_readv, be_writev, be_flush, be_discard, be_write_zeroes, be_plug, be_unplug};

static void vblk_dev_request_begin(void *opaque, unsigned qidx)
{
    device_queue_request_begin(((VblkDevice *)opaque)->queues[qidx].dq);
}

static void vblk_dev_request_end(void *opaque, unsigned qidx, bool ok)
{
    device_queue_request_end(((VblkDevice *)opaque)->queues[qidx].dq, ok);
}

/* ------------------------------------------------------------------------ */
/* The vhost-user back-end's callbacks (control thread but @process)         */
/* ------------------------------------------------------------------------ */

static VblkDevice *vu_vd(VuDev *vu)
{
    return vu_dev_get_opaque(vu);
}

static uint64_t vblk_dev_get_features(VuDev *vu)
{
    return vblk_features(vu_vd(vu)->vb);
}

static void vblk_dev_set_features(VuDev *vu, uint64_t features)
{
    vblk_set_acked_features(vu_vd(vu)->vb, features);
}

static bool vblk_dev_get_config(VuDev *vu, uint8_t *buf, uint32_t offset, uint32_t len)
{
    return vblk_read_config(vu_vd(vu)->vb, buf, offset, len);
}

static void vblk_dev_process(VuDev *vu, VuQueue *q)
{
    VblkDevice *vd = vu_vd(vu);

    vblk_process(vd->vb, q, vd->queues[vu_queue_index(q)].aio);
}

static void vblk_dev_set_fd_handler(VuDev *vu, int fd, IOHandler *io_read,
                                    IOHandler *io_write, void *opaque)
{
    device_queue_set_fd_handler(device_get_control(DEVICE(vu_vd(vu))), fd, io_read,
                                io_write, NULL, NULL, opaque);
}

static void vblk_dev_queue_started(Device *dev, const GError *err, gpointer opaque)
{
    VblkDevQueue *q = opaque;

    if (err) {
        g_warning("virtio-blk '%s': queue %u: %s", device_get_id(dev),
                  vu_queue_index(q->vq), err->message);
        return;
    }
    vu_queue_started(q->vq);
}

static void vblk_dev_queue_stopped(Device *dev, const GError *err, gpointer opaque)
{
    VblkDevQueue *q = opaque;

    if (err) {
        g_warning("virtio-blk '%s': queue %u: %s", device_get_id(dev),
                  vu_queue_index(q->vq), err->message);
        return;
    }
    vu_queue_stopped(q->vq); /* drained: its requests completed */
}

/*
 * A ring starts or stops: an operation of the device.  Refused only while
 * the device is deleted: then the deletion stops every queue itself and the
 * back-end is destroyed with the device; the front-end's pending reply is
 * never sent (its connection is closed).
 */
static void vblk_dev_queue_start(VuDev *vu, VuQueue *vq)
{
    VblkDevice *vd = vu_vd(vu);
    VblkDevQueue *q = &vd->queues[vu_queue_index(vq)];
    g_autoptr(GError) err = NULL;

    /* Pairs with the qatomic_load_acquire() in vblk_dev_queue_resume(). */
    qatomic_store_release(&q->want_run, 1);
    /* Stop first: a plane that runs already (an operator's device_resume
     * came before the ring start) is left alone by a start, and would never
     * get its kick handler. */
    if (!device_queue_stop(DEVICE(vd), (int)vu_queue_index(vq), NULL, NULL, &err) ||
        !device_queue_start(DEVICE(vd), (int)vu_queue_index(vq), vblk_dev_queue_started,
                            q, &err)) {
        g_debug("virtio-blk '%s': %s", device_get_id(DEVICE(vd)), err->message);
    }
}

static void vblk_dev_queue_stop(VuDev *vu, VuQueue *vq)
{
    VblkDevice *vd = vu_vd(vu);
    VblkDevQueue *q = &vd->queues[vu_queue_index(vq)];
    g_autoptr(GError) err = NULL;

    qatomic_set(&q->want_run, 0);
    if (!device_queue_stop(DEVICE(vd), (int)vu_queue_index(vq), vblk_dev_queue_stopped,
                           q, &err)) {
        g_debug("virtio-blk '%s': %s", device_get_id(DEVICE(vd)), err->message);
    }
}

/* ------------------------------------------------------------------------ */
/* Device hooks                                                              */
/* ------------------------------------------------------------------------ */

static void vblk_dev_queue_attach(Device *dev, DeviceQueue *dq, AioContext *aio)
{
    VblkDevice *vd = VBLK_DEVICE(dev);
    VblkDevQueue *q = vblk_dev_queue(vd, dq);

    if (q) {
        q->aio = aio;
    } else {
        vu_dev_set_aio_context(vd->vu, aio); /* the control plane */
    }
}

static void vblk_dev_queue_detach(Device *dev, DeviceQueue *dq)
{
    VblkDevice *vd = VBLK_DEVICE(dev);
    VblkDevQueue *q = vblk_dev_queue(vd, dq);
    unsigned idx;

    if (!q || !q->aio) {
        return;
    }
    idx = vu_queue_index(q->vq);
    if (vblk_in_flight(vd->vb, idx)) {
        /* A drain cut short by a deletion deadline: the drive's requests
         * cannot be cancelled, their callbacks must run before we go. */
        blk_drain(vd->blk, q->aio);
    }
    blk_detach_aio_context(vd->blk, q->aio);
    q->aio = NULL;
}

static void vblk_dev_queue_quiesce(Device *dev, DeviceQueue *dq)
{
    VblkDevQueue *q = vblk_dev_queue(VBLK_DEVICE(dev), dq);

    if (q && q->kick_on) {
        device_queue_set_event_notifier(dq, vu_queue_get_kick_notifier(q->vq), NULL,
                                        NULL, NULL);
        q->kick_on = false;
    }
}

static void vblk_dev_queue_resume(Device *dev, DeviceQueue *dq)
{
    VblkDevQueue *q = vblk_dev_queue(VBLK_DEVICE(dev), dq);
    EventNotifier *kick;

    if (!q || q->kick_on || !qatomic_load_acquire(&q->want_run)) {
        return; /* the control plane, or a ring the front-end has not started */
    }
    kick = vu_queue_get_kick_notifier(q->vq);
    device_queue_set_event_notifier(dq, kick, vu_queue_kick_read, vu_queue_kick_poll,
                                    vu_queue_kick_poll_ready);
    device_queue_set_event_notifier_poll(dq, kick, vu_queue_kick_poll_begin,
                                         vu_queue_kick_poll_end);
    q->kick_on = true;
    /* Kicks on: a handler removed while its context polled kept them off. */
    vu_queue_set_notification(q->vq, true);
    event_notifier_set(kick); /* scan the ring: buffers may have come meanwhile */
}

typedef struct FlushCall {
    Device *dev;
    DeviceDoneFunc done;
    gpointer opaque;
} FlushCall;

static void vblk_dev_flush_done(void *opaque, int ret)
{
    FlushCall *fc = opaque;
    g_autoptr(GError) err = NULL;

    if (ret < 0) {
        err = g_error_new(QOM_ERROR, QOM_ERROR_FAILED, "virtio-blk '%s': flush: %s",
                          device_get_id(fc->dev), g_strerror(-ret));
    }
    fc->done(fc->dev, err, fc->opaque);
    g_free(fc);
}

static void vblk_dev_flush(Device *dev, DeviceDoneFunc done, gpointer opaque)
{
    FlushCall *fc = g_new(FlushCall, 1);

    *fc = (FlushCall){dev, done, opaque};
    blk_aio_flush(VBLK_DEVICE(dev)->blk, device_get_aio_context(dev),
                  vblk_dev_flush_done, fc);
}

/* A reset of a vhost-user device: the front-end starts it all over again. */
static void vblk_dev_reset(Device *dev)
{
    vu_dev_disconnect(VBLK_DEVICE(dev)->vu);
}

/* ------------------------------------------------------------------------ */
/* Realize / unrealize (main)                                                */
/* ------------------------------------------------------------------------ */

static bool vblk_dev_check(VblkDevice *vd, GError **errp)
{
    const char *id = device_get_id(DEVICE(vd));

    if (!vd->drive) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_MISSING,
                    "virtio-blk '%s': drive is required", id);
        return false;
    }
    if (!vd->socket == (vd->fd < 0)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "virtio-blk '%s': give exactly one of socket=PATH and fd=N", id);
        return false;
    }
    if (vd->queue_size < 4 || (vd->queue_size & (vd->queue_size - 1))) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "virtio-blk '%s': queue-size %u is not a power of 2 from 4 to %d",
                    id, vd->queue_size, VIRTQ_MAX_SIZE);
        return false;
    }
    if (vd->serial && strlen(vd->serial) > 20) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "virtio-blk '%s': serial is longer than 20 bytes", id);
        return false;
    }
    return true;
}

static VirtioBlk *vblk_dev_new_logic(VblkDevice *vd, GError **errp)
{
    VblkConf conf = {.num_queues = (uint16_t)vd->nq,
                     .logical_block_size = vd->logical_block_size,
                     .queue_size = (uint16_t)vd->queue_size,
                     .serial = vd->serial,
                     .request_begin = vblk_dev_request_begin,
                     .request_end = vblk_dev_request_end,
                     .hook_opaque = vd};
    VblkBackendInfo info;
    BlockInfo bi;
    GError *err = NULL;
    VirtioBlk *vb;

    blk_get_info(vd->blk, &bi);
    info = (VblkBackendInfo){.size = bi.size,
                             .read_only = bi.read_only,
                             .logical_block_size = bi.logical_block_size,
                             .physical_block_size = bi.physical_block_size,
                             .max_iov = bi.max_iov,
                             .discard = true,
                             .write_zeroes = true,
                             .write_zeroes_may_unmap = bi.write_zeroes_may_unmap};
    vb = vblk_new(&conf, &info, &vblk_dev_backend, vd, &err);
    if (!vb) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE, "virtio-blk '%s': %s",
                    device_get_id(DEVICE(vd)), err->message);
        g_error_free(err);
    }
    return vb;
}

static gboolean vblk_dev_realize(Device *dev, GError **errp)
{
    VblkDevice *vd = VBLK_DEVICE(dev);
    GError *err = NULL;
    bool ok;

    if (!vblk_dev_check(vd, errp)) {
        return FALSE;
    }
    vd->nq = device_get_num_queues(dev);
    vd->blk = drive_get_blk(vd->drive);
    vd->vb = vblk_dev_new_logic(vd, errp);
    if (!vd->vb) {
        return FALSE;
    }
    vd->vu = vu_dev_new(device_get_id(dev), (uint16_t)vd->nq, &vd->vu_ops, vd, NULL);
    vu_dev_set_max_queue_size(vd->vu, (uint16_t)MIN(vd->queue_size, VIRTQ_MAX_SIZE));
    vd->queues = g_new0(VblkDevQueue, vd->nq);
    for (guint i = 0; i < vd->nq; i++) {
        vd->queues[i].vd = vd;
        vd->queues[i].dq = device_get_queue(dev, (int)i);
        vd->queues[i].vq = vu_dev_get_queue(vd->vu, i);
    }
    ok = vd->socket ? vu_dev_listen_path(vd->vu, vd->socket, &err)
                    : vu_dev_listen_fd(vd->vu, vd->fd, &err);
    if (!ok) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "virtio-blk '%s': %s",
                    device_get_id(dev), err->message);
        g_error_free(err);
        g_clear_pointer(&vd->vu, vu_dev_free);
        g_clear_pointer(&vd->vb, vblk_free);
        g_clear_pointer(&vd->queues, g_free);
        return FALSE;
    }
    return TRUE;
}

static void vblk_dev_unrealize(Device *dev)
{
    VblkDevice *vd = VBLK_DEVICE(dev);

    /* Every queue was stopped and drained (or its drive requests waited
     * for in queue_detach): the back-end goes at once. */
    g_clear_pointer(&vd->vu, vu_dev_destroy);
    g_clear_pointer(&vd->vb, vblk_free);
    g_clear_pointer(&vd->queues, g_free);
    vd->nq = 0;
}

/* ------------------------------------------------------------------------ */
/* Properties and type                                                       */
/* ------------------------------------------------------------------------ */

static void vblk_dev_set_property(GObject *obj, guint id, const GValue *v,
                                  GParamSpec *ps)
{
    VblkDevice *vd = VBLK_DEVICE(obj);

    switch (id) {
    case PROP_DRIVE:
        g_clear_object(&vd->drive);
        vd->drive = g_value_dup_object(v);
        break;
    case PROP_SOCKET:
        g_free(vd->socket);
        vd->socket = g_value_dup_string(v);
        break;
    case PROP_FD:
        vd->fd = g_value_get_int(v);
        break;
    case PROP_QUEUE_SIZE:
        vd->queue_size = g_value_get_uint(v);
        break;
    case PROP_SERIAL:
        g_free(vd->serial);
        vd->serial = g_value_dup_string(v);
        break;
    case PROP_LOGICAL_BLOCK_SIZE:
        vd->logical_block_size = g_value_get_uint(v);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
    }
}

static void vblk_dev_get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps)
{
    VblkDevice *vd = VBLK_DEVICE(obj);

    switch (id) {
    case PROP_DRIVE:
        g_value_set_object(v, vd->drive);
        break;
    case PROP_SOCKET:
        g_value_set_string(v, vd->socket);
        break;
    case PROP_FD:
        g_value_set_int(v, vd->fd);
        break;
    case PROP_QUEUE_SIZE:
        g_value_set_uint(v, vd->queue_size);
        break;
    case PROP_SERIAL:
        g_value_set_string(v, vd->serial);
        break;
    case PROP_LOGICAL_BLOCK_SIZE:
        g_value_set_uint(v, vd->logical_block_size);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
    }
}

static void vblk_dev_dispose(GObject *obj)
{
    g_clear_object(&VBLK_DEVICE(obj)->drive);
    G_OBJECT_CLASS(vblk_device_parent_class)->dispose(obj);
}

static void vblk_dev_finalize(GObject *obj)
{
    VblkDevice *vd = VBLK_DEVICE(obj);

    g_free(vd->socket);
    g_free(vd->serial);
    G_OBJECT_CLASS(vblk_device_parent_class)->finalize(obj);
}

#define PROP_FLAGS (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS)

static void vblk_device_class_init(VblkDeviceClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    DeviceClass *dc = QDEV_DEVICE_CLASS(klass);

    oc->set_property = vblk_dev_set_property;
    oc->get_property = vblk_dev_get_property;
    oc->dispose = vblk_dev_dispose;
    oc->finalize = vblk_dev_finalize;
    dc->realize = vblk_dev_realize;
    dc->unrealize = vblk_dev_unrealize;
    dc->queue_attach = vblk_dev_queue_attach;
    dc->queue_detach = vblk_dev_queue_detach;
    dc->queue_quiesce = vblk_dev_queue_quiesce;
    dc->queue_resume = vblk_dev_queue_resume;
    dc->flush = vblk_dev_flush;
    dc->reset = vblk_dev_reset;
    dc->manual_start = TRUE; /* a queue runs once the front-end starts its ring */
    dc->default_queues = 1;
    dc->max_queues = VU_MAX_QUEUES;

    vblk_props[PROP_DRIVE] = g_param_spec_object(
        "drive", "drive", "The drive (-drive id=...) the disk reads and writes",
        DRIVE_TYPE, PROP_FLAGS);
    vblk_props[PROP_SOCKET] = g_param_spec_string(
        "socket", "socket", "The vhost-user socket to create (mode 0600)", NULL,
        PROP_FLAGS);
    vblk_props[PROP_FD] = g_param_spec_int(
        "fd", "fd", "An inherited vhost-user socket (listening or connected)", -1,
        G_MAXINT, -1, PROP_FLAGS);
    vblk_props[PROP_QUEUE_SIZE] =
        g_param_spec_uint("queue-size", "queue-size",
                          "The largest virtqueue the front-end may set (a power of 2)",
                          4, VIRTQ_MAX_SIZE, 256, PROP_FLAGS);
    vblk_props[PROP_SERIAL] = g_param_spec_string(
        "serial", "serial", "The disk's serial number (GET_ID, 20 bytes at most)", NULL,
        PROP_FLAGS);
    vblk_props[PROP_LOGICAL_BLOCK_SIZE] = g_param_spec_uint(
        "logical-block-size", "logical-block-size",
        "512 or 4096 (0: the drive's, at least 512)", 0, 4096, 0, PROP_FLAGS);
    g_object_class_install_properties(oc, N_PROPS, vblk_props);
}

static void vblk_device_init(VblkDevice *vd)
{
    vd->fd = -1;
    vd->queue_size = 256;
    vd->vu_ops = (VuDevOps){.get_features = vblk_dev_get_features,
                            .set_features = vblk_dev_set_features,
                            .get_config = vblk_dev_get_config,
                            .process = vblk_dev_process,
                            .queue_start = vblk_dev_queue_start,
                            .queue_stop = vblk_dev_queue_stop,
                            .set_fd_handler = vblk_dev_set_fd_handler};
}

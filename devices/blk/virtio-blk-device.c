/*
 * devices/blk/virtio-blk-device.c - "virtio-blk": a disk served to a VM over
 * vhost-user, its queues on the contexts the user picks.
 *
 *   -device virtio-blk,id=ID,drive=DRIVE,socket=PATH|fd=N[,context=CTX]
 *           [,num-queues=N][,queue-contexts=A:B][,queue-size=256][,serial=STR]
 *           [,logical-block-size=512|4096]
 *
 * A VhostUserDevice (devices/vhost-user/vu-device.c: the socket, the
 * front-end's ring starts and stops as operations of the device, each
 * queue's kick handler a tracked source of its plane) whose logic is
 * VirtioBlk (virtio-blk.c, virtio-blk-req.c): the requests of each queue
 * go to the drive's BlockBackend from the queue's own AioContext (one
 * kernel queue per context, released when a queue moves away), and are
 * counted as requests of the queue's plane, so a ring stop or a move
 * drains them.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "virtio-blk"

#include <string.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/block/drive.h"
#include "qcontext/devices/blk/virtio-blk.h"
#include "qcontext/devices/device.h"
#include "qcontext/devices/vhost-user/vu-device.h"

#define VBLK_DEVICE_TYPE (vblk_device_get_type())
G_DECLARE_FINAL_TYPE(VblkDevice, vblk_device, VBLK, DEVICE, VhostUserDevice)

struct _VblkDevice {
    VhostUserDevice parent;
    Drive *drive;
    guint queue_size;
    char *serial;
    guint logical_block_size;

    BlockBackend *blk;
    VirtioBlk *vb;
    AioContext **queue_aio; /* per queue: its context (its thread), attach to detach */
};

enum {
    PROP_0,
    PROP_DRIVE,
    PROP_QUEUE_SIZE,
    PROP_SERIAL,
    PROP_LOGICAL_BLOCK_SIZE,
    N_PROPS
};

static GParamSpec *vblk_props[N_PROPS];

G_DEFINE_FINAL_TYPE(VblkDevice, vblk_device, VHOST_USER_DEVICE_TYPE)
DEVICE_REGISTER_TYPE("virtio-blk", vblk_device_get_type)

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
    device_queue_request_begin(device_get_queue(DEVICE(opaque), (int)qidx));
}

static void vblk_dev_request_end(void *opaque, unsigned qidx, bool ok)
{
    device_queue_request_end(device_get_queue(DEVICE(opaque), (int)qidx), ok);
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

    vblk_process(vd->vb, q, vd->queue_aio[vu_queue_index(q)]);
}

/* ------------------------------------------------------------------------ */
/* Device hooks                                                              */
/* ------------------------------------------------------------------------ */

static void vblk_dev_queue_attach(Device *dev, DeviceQueue *dq, AioContext *aio)
{
    VblkDevice *vd = VBLK_DEVICE(dev);
    int i = device_queue_get_index(dq);

    if (i >= 0) {
        vd->queue_aio[i] = aio;
    }
    QDEV_DEVICE_CLASS(vblk_device_parent_class)->queue_attach(dev, dq, aio);
}

static void vblk_dev_queue_detach(Device *dev, DeviceQueue *dq)
{
    VblkDevice *vd = VBLK_DEVICE(dev);
    int i = device_queue_get_index(dq);

    if (i < 0 || !vd->queue_aio[i]) {
        return;
    }
    if (vblk_in_flight(vd->vb, (unsigned)i)) {
        /* A drain cut short by a deletion deadline: the drive's requests
         * cannot be cancelled, their callbacks must run before we go. */
        blk_drain(vd->blk, vd->queue_aio[i]);
    }
    blk_detach_aio_context(vd->blk, vd->queue_aio[i]);
    vd->queue_aio[i] = NULL;
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
    VblkConf conf = {.num_queues = (uint16_t)device_get_num_queues(DEVICE(vd)),
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

static const VuDevOps vblk_dev_vu_ops = {.get_features = vblk_dev_get_features,
                                         .set_features = vblk_dev_set_features,
                                         .get_config = vblk_dev_get_config,
                                         .process = vblk_dev_process};

static gboolean vblk_dev_realize(Device *dev, GError **errp)
{
    VblkDevice *vd = VBLK_DEVICE(dev);

    if (!vblk_dev_check(vd, errp)) {
        return FALSE;
    }
    vd->blk = drive_get_blk(vd->drive);
    vd->vb = vblk_dev_new_logic(vd, errp);
    if (!vd->vb) {
        return FALSE;
    }
    vd->queue_aio = g_new0(AioContext *, device_get_num_queues(dev));
    vhost_user_device_set_backend(VHOST_USER_DEVICE(vd), &vblk_dev_vu_ops, vd);
    if (!QDEV_DEVICE_CLASS(vblk_device_parent_class)->realize(dev, errp)) {
        g_clear_pointer(&vd->vb, vblk_free);
        g_clear_pointer(&vd->queue_aio, g_free);
        return FALSE;
    }
    vu_dev_set_max_queue_size(vhost_user_device_get_vu(VHOST_USER_DEVICE(vd)),
                              (uint16_t)MIN(vd->queue_size, VIRTQ_MAX_SIZE));
    return TRUE;
}

static void vblk_dev_unrealize(Device *dev)
{
    VblkDevice *vd = VBLK_DEVICE(dev);

    /* Every queue was stopped and drained (or its drive requests waited
     * for in queue_detach): the back-end goes first, then the logic. */
    QDEV_DEVICE_CLASS(vblk_device_parent_class)->unrealize(dev);
    g_clear_pointer(&vd->vb, vblk_free);
    g_clear_pointer(&vd->queue_aio, g_free);
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
    dc->flush = vblk_dev_flush;
    dc->default_queues = 1;
    dc->max_queues = VU_MAX_QUEUES;

    vblk_props[PROP_DRIVE] = g_param_spec_object(
        "drive", "drive", "The drive (-drive id=...) the disk reads and writes",
        DRIVE_TYPE, PROP_FLAGS);
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
    vd->queue_size = 256;
}

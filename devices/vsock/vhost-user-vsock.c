/*
 * devices/vsock/vhost-user-vsock.c - the vhost-user-vsock device: the
 * vsock muxer (vsock-mux.c) behind a VhostUserDevice.
 *
 * tx (queue 1): every chain is one guest packet, handed to the muxer and
 * pushed back at once (used length 0), so tx always drains.  rx (queue 0):
 * while the muxer has packets and the guest has buffers, each buffer gets
 * one packet; a buffer the muxer ends up not needing is un-popped.  Both
 * loops take at most VVS_BUDGET chains per call and continue from a BH, so
 * one busy queue cannot starve the host sockets on the same thread.
 *
 * Everything (the VuDev's control thread, both queues, the muxer and its
 * host sockets) runs on the device's one context, so nothing here takes a
 * lock except the binding of in-process ports, which other devices (pipe)
 * call from their own threads.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-vsock"

#include <endian.h>
#include <pthread.h>
#include <string.h>
#include <linux/virtio_vsock.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/vsock/vhost-user-vsock.h"

#ifndef VIRTIO_VSOCK_F_SEQPACKET
#define VIRTIO_VSOCK_F_SEQPACKET 1
#endif

#define VVS_RX_QUEUE 0
#define VVS_TX_QUEUE 1
/* Descriptors one chain may map to (Linux sends 1 or 2, plus page splits). */
#define VVS_IOV_MAX 1024
/* Chains one call takes from a queue before yielding to the loop. */
#define VVS_BUDGET 256

struct _VhostUserVsock {
    VhostUserDevice parent;

    /* Properties. */
    guint64 guest_cid;
    char *uds_path;
    guint max_conns;
    guint64 buf_alloc;

    /* The device's thread. */
    VsockMux *mux; /* written under @lock (bind_port reads it elsewhere) */
    VuDev *vu;     /* atomic: set by realize on main, read by the muxer's BH */
    DeviceBH *rx_bh, *tx_bh; /* continue after the budget */
    VirtQueueElement rx_elem, tx_elem;
    struct iovec rx_iov[VVS_IOV_MAX], tx_iov[VVS_IOV_MAX];

    pthread_mutex_t lock; /* @mux for vhost_user_vsock_bind_port() */
};

G_DEFINE_FINAL_TYPE(VhostUserVsock, vhost_user_vsock, VHOST_USER_DEVICE_TYPE)
DEVICE_REGISTER_TYPE("vhost-user-vsock", vhost_user_vsock_get_type)

enum { PROP_0, PROP_GUEST_CID, PROP_UDS_PATH, PROP_MAX_CONNS, PROP_BUF_ALLOC, N_PROPS };
static GParamSpec *vvs_props[N_PROPS];

static const char *vvs_id(VhostUserVsock *vs)
{
    return device_get_id(DEVICE(vs));
}

/* ------------------------------------------------------------------------ */
/* The queues (the device's thread)                                          */
/* ------------------------------------------------------------------------ */

/* Give the guest what the muxer has, one packet per rx buffer. */
static void vvs_rx(VhostUserVsock *vs, VuDev *vu)
{
    VuQueue *q = vu_dev_get_queue(vu, VVS_RX_QUEUE);
    VirtQueueElement *e = &vs->rx_elem;
    unsigned pushed = 0;

    if (!vhost_user_device_ring_running(q)) {
        return; /* the ring's start scans again */
    }
    while (vsock_mux_rx_pending(vs->mux)) {
        ssize_t n;

        if (pushed == VVS_BUDGET) {
            device_bh_schedule(vs->rx_bh);
            break;
        }
        if (!vu_queue_pop(q, e)) {
            /* No buffer: ask for a kick, then look once more (it may race). */
            vu_queue_set_notification(q, true);
            if (!vu_queue_has_work(q)) {
                break;
            }
            continue;
        }
        n = vsock_mux_rx(vs->mux, virtq_elem_in_iov(e), e->in_num);
        if (n == 0) {
            vu_queue_unpop(q, e); /* nothing after all: the buffer stays the guest's */
            break;
        }
        if (n < 0) {
            vu_queue_fail(q, e, "rx buffer smaller than a vsock packet header");
            break;
        }
        vu_queue_push(q, e, (uint32_t)n);
        pushed++;
    }
    if (pushed) {
        vu_queue_flush(q);
    }
}

/* Hand every guest packet to the muxer. */
static void vvs_tx(VhostUserVsock *vs, VuDev *vu)
{
    VuQueue *q = vu_dev_get_queue(vu, VVS_TX_QUEUE);
    VirtQueueElement *e = &vs->tx_elem;
    unsigned popped = 0;

    if (!vhost_user_device_ring_running(q)) {
        return;
    }
    do {
        vu_queue_set_notification(q, false);
        while (popped < VVS_BUDGET && vu_queue_pop(q, e)) {
            vsock_mux_tx(vs->mux, e->iov, e->out_num);
            vu_queue_push(q, e, 0);
            popped++;
        }
        vu_queue_set_notification(q, true);
    } while (popped < VVS_BUDGET && vu_queue_has_work(q));
    if (popped == VVS_BUDGET) {
        device_bh_schedule(vs->tx_bh);
    }
    if (popped) {
        vu_queue_flush(q);
    }
    vvs_rx(vs, vu); /* answers (RESPONSE, credit, RST) go out without a BH hop */
}

/* The VuDev once realize published it (the device's thread). */
static VuDev *vvs_vu(VhostUserVsock *vs)
{
    /* Pairs with the qatomic_store_release() in vvs_realize(). */
    return qatomic_load_acquire(&vs->vu);
}

static void vvs_rx_bh(void *opaque)
{
    VuDev *vu = vvs_vu(opaque);

    if (vu) { /* NULL: closed, during deletion */
        vvs_rx(opaque, vu);
    }
}

static void vvs_tx_bh(void *opaque)
{
    VuDev *vu = vvs_vu(opaque);

    if (vu) {
        vvs_tx(opaque, vu);
    }
}

/* The muxer has rx work (its BH, the device's thread). */
static void vvs_rx_notify(void *opaque)
{
    VuDev *vu = vvs_vu(opaque);

    if (vu) {
        vvs_rx(opaque, vu);
    }
}

/* ------------------------------------------------------------------------ */
/* VuDevOps (the device's thread)                                            */
/* ------------------------------------------------------------------------ */

static uint64_t vvs_get_features(VuDev *vu)
{
    return (1ULL << VIRTIO_VSOCK_F_STREAM) | (1ULL << VIRTIO_VSOCK_F_SEQPACKET);
}

static void vvs_set_features(VuDev *vu, uint64_t features)
{
    VhostUserVsock *vs = vu_dev_get_opaque(vu);

    vsock_mux_set_features(vs->mux, features);
}

static bool vvs_get_config(VuDev *vu, uint8_t *buf, uint32_t offset, uint32_t len)
{
    VhostUserVsock *vs = vu_dev_get_opaque(vu);
    uint64_t cid = htole64(vs->guest_cid); /* struct virtio_vsock_config */

    if (offset < sizeof(cid)) {
        memcpy(buf, (uint8_t *)&cid + offset, MIN(len, sizeof(cid) - offset));
    }
    return true;
}

static void vvs_process(VuDev *vu, VuQueue *q)
{
    VhostUserVsock *vs = vu_dev_get_opaque(vu);

    if (!vs->mux) {
        return; /* freed during deletion; the rings go with the VuDev */
    }
    if (vu_queue_index(q) == VVS_TX_QUEUE) {
        vvs_tx(vs, vu);
    } else {
        vvs_rx(vs, vu);
    }
}

/* Every ring stopped, memory unmapped: nothing resumes silently. */
static void vvs_disconnected(VuDev *vu)
{
    VhostUserVsock *vs = vu_dev_get_opaque(vu);

    g_info("vhost-user-vsock '%s': front-end gone; every connection reset", vvs_id(vs));
    vsock_mux_reset(vs->mux);
}

static const VuDevOps vvs_vu_ops = {
    .get_features = vvs_get_features,
    .set_features = vvs_set_features,
    .get_config = vvs_get_config,
    .process = vvs_process,
    .disconnected = vvs_disconnected,
};

/* ------------------------------------------------------------------------ */
/* In-process ports (any thread)                                             */
/* ------------------------------------------------------------------------ */

gboolean vhost_user_vsock_bind_port(VhostUserVsock *vs, uint32_t port,
                                    VsockAcceptFn *accept, void *opaque, GError **errp)
{
    gboolean ok = FALSE;

    pthread_mutex_lock(&vs->lock);
    if (!vs->mux || device_is_deleting(DEVICE(vs))) {
        g_set_error(errp, VSOCK_ERROR, 0, "vsock device '%s' is %s", vvs_id(vs),
                    vs->mux ? "being deleted" : "gone");
    } else if (vsock_mux_bind_port(vs->mux, port, accept, opaque, errp)) {
        ok = TRUE;
    } else {
        g_prefix_error(errp, "vsock device '%s': ", vvs_id(vs));
    }
    pthread_mutex_unlock(&vs->lock);
    return ok;
}

void vhost_user_vsock_unbind_port(VhostUserVsock *vs, uint32_t port)
{
    pthread_mutex_lock(&vs->lock);
    if (vs->mux) {
        vsock_mux_unbind_port(vs->mux, port);
    }
    pthread_mutex_unlock(&vs->lock);
}

gboolean vhost_user_vsock_get_stats(VhostUserVsock *vs, VsockMuxStats *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (!vs->mux) {
        return FALSE;
    }
    vsock_mux_get_stats(vs->mux, stats);
    return TRUE;
}

uint64_t vhost_user_vsock_get_guest_cid(VhostUserVsock *vs)
{
    return vs->guest_cid;
}

/* ------------------------------------------------------------------------ */
/* Realize, deletion, moves                                                  */
/* ------------------------------------------------------------------------ */

/* Both queues on the device's context: the muxer is single-threaded. */
static gboolean vvs_check_contexts(VhostUserVsock *vs, GError **errp)
{
    Device *dev = DEVICE(vs);
    QContext *ctx = device_get_context(dev);

    if (device_get_num_queues(dev) != 2) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': vhost-user-vsock has 2 queues (rx and tx), not %u",
                    vvs_id(vs), device_get_num_queues(dev));
        return FALSE;
    }
    for (int i = 0; i < 2; i++) {
        g_autoptr(QContext) qctx = device_queue_get_context(device_get_queue(dev, i));

        if (qctx != ctx) {
            g_set_error(
                errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                "device '%s': vhost-user-vsock runs its rx and tx queues on its "
                "context '%s' with its connection muxer; queue-contexts puts "
                "queue %d on '%s' (set context=%s instead)",
                vvs_id(vs), qcontext_get_name(ctx), i, qcontext_get_name(qctx),
                qcontext_get_name(qctx));
            return FALSE;
        }
    }
    return TRUE;
}

static void vvs_mux_free_bh(void *opaque)
{
    vsock_mux_free(opaque);
}

static gboolean vvs_realize(Device *dev, GError **errp)
{
    VhostUserVsock *vs = VHOST_USER_VSOCK(dev);
    AioContext *aio = qcontext_get_aio_context(device_get_context(dev));
    VsockMuxConfig cfg = {
        .guest_cid = vs->guest_cid,
        .uds_path = vs->uds_path && *vs->uds_path ? vs->uds_path : NULL,
        .max_conns = vs->max_conns,
        .buf_alloc = (uint32_t)vs->buf_alloc,
        .rx_notify = vvs_rx_notify,
        .rx_opaque = vs,
    };
    g_autoptr(GError) err = NULL;
    VsockMux *mux;

    if (!vvs_check_contexts(vs, errp)) {
        return FALSE;
    }
    if (vs->guest_cid == 0) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': guest-cid is required (3 to 4294967294)", vvs_id(vs));
        return FALSE;
    }
    if (vs->buf_alloc > G_MAXUINT32) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': buf-alloc is above 4 GiB", vvs_id(vs));
        return FALSE;
    }
    mux = vsock_mux_new(aio, &cfg, &err);
    if (!mux) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE, "device '%s': %s",
                    vvs_id(vs), err->message);
        return FALSE;
    }
    vs->rx_bh = device_queue_bh_new(device_get_queue(dev, VVS_RX_QUEUE), vvs_rx_bh, vs);
    vs->tx_bh = device_queue_bh_new(device_get_queue(dev, VVS_TX_QUEUE), vvs_tx_bh, vs);
    pthread_mutex_lock(&vs->lock);
    vs->mux = mux;
    pthread_mutex_unlock(&vs->lock);
    vhost_user_device_set_backend(VHOST_USER_DEVICE(vs), &vvs_vu_ops, vs);
    /* rx buffers are room, not work: polling them would spin. */
    vhost_user_device_set_kick_only(VHOST_USER_DEVICE(vs), VVS_RX_QUEUE);
    if (!QDEV_DEVICE_CLASS(vhost_user_vsock_parent_class)->realize(dev, errp)) {
        /* Its uds-path listener may already run on the device's thread. */
        pthread_mutex_lock(&vs->lock);
        vs->mux = NULL;
        pthread_mutex_unlock(&vs->lock);
        aio_bh_schedule_oneshot(aio, vvs_mux_free_bh, mux);
        g_clear_pointer(&vs->rx_bh, device_bh_delete);
        g_clear_pointer(&vs->tx_bh, device_bh_delete);
        return FALSE;
    }
    /* Pairs with the qatomic_load_acquire() in vvs_vu(). */
    qatomic_store_release(&vs->vu, vhost_user_device_get_vu(VHOST_USER_DEVICE(vs)));
    return TRUE;
}

/*
 * The device's thread, during deletion: the control plane is detached (no
 * vhost-user message any more); free the muxer here, on its thread (its
 * host sockets are handlers of this context, not tracked sources).  Queue
 * work that still runs on this thread finds vs->mux NULL.
 */
static void vvs_queue_detach(Device *dev, DeviceQueue *q)
{
    VhostUserVsock *vs = VHOST_USER_VSOCK(dev);
    VsockMux *mux;

    if (device_queue_get_index(q) < 0 && device_is_deleting(dev)) {
        pthread_mutex_lock(&vs->lock);
        mux = vs->mux;
        vs->mux = NULL;
        pthread_mutex_unlock(&vs->lock);
        qatomic_set(&vs->vu, NULL);
        vsock_mux_free(mux); /* host sockets closed, in-process ports reset */
    }
    if (QDEV_DEVICE_CLASS(vhost_user_vsock_parent_class)->queue_detach) {
        QDEV_DEVICE_CLASS(vhost_user_vsock_parent_class)->queue_detach(dev, q);
    }
}

static void vvs_unrealize(Device *dev)
{
    VhostUserVsock *vs = VHOST_USER_VSOCK(dev);

    QDEV_DEVICE_CLASS(vhost_user_vsock_parent_class)->unrealize(dev);
    g_clear_pointer(&vs->rx_bh, device_bh_delete);
    g_clear_pointer(&vs->tx_bh, device_bh_delete);
}

static gboolean vvs_check_move(Device *dev, int queue, QContext *ctx, GError **errp)
{
    if (ctx == device_get_context(dev)) {
        return TRUE; /* nothing moves */
    }
    g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                "device '%s': vhost-user-vsock does not move: its queues, its "
                "connection muxer and its sockets stay on context '%s'",
                device_get_id(dev), qcontext_get_name(device_get_context(dev)));
    return FALSE;
}

/* ------------------------------------------------------------------------ */
/* GObject plumbing                                                          */
/* ------------------------------------------------------------------------ */

static void vvs_set_property(GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
    VhostUserVsock *vs = VHOST_USER_VSOCK(object);

    switch (prop_id) {
    case PROP_GUEST_CID:
        vs->guest_cid = g_value_get_uint64(value);
        break;
    case PROP_UDS_PATH:
        g_free(vs->uds_path);
        vs->uds_path = g_value_dup_string(value);
        break;
    case PROP_MAX_CONNS:
        vs->max_conns = g_value_get_uint(value);
        break;
    case PROP_BUF_ALLOC:
        vs->buf_alloc = g_value_get_uint64(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void vvs_get_property(GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
    VhostUserVsock *vs = VHOST_USER_VSOCK(object);

    switch (prop_id) {
    case PROP_GUEST_CID:
        g_value_set_uint64(value, vs->guest_cid);
        break;
    case PROP_UDS_PATH:
        g_value_set_string(value, vs->uds_path);
        break;
    case PROP_MAX_CONNS:
        g_value_set_uint(value, vs->max_conns);
        break;
    case PROP_BUF_ALLOC:
        g_value_set_uint64(value, vs->buf_alloc);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void vvs_finalize(GObject *object)
{
    VhostUserVsock *vs = VHOST_USER_VSOCK(object);

    g_free(vs->uds_path);
    pthread_mutex_destroy(&vs->lock);
    G_OBJECT_CLASS(vhost_user_vsock_parent_class)->finalize(object);
}

static void vhost_user_vsock_class_init(VhostUserVsockClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    DeviceClass *dc = QDEV_DEVICE_CLASS(klass);
    GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

    object_class->set_property = vvs_set_property;
    object_class->get_property = vvs_get_property;
    object_class->finalize = vvs_finalize;
    dc->realize = vvs_realize;
    dc->unrealize = vvs_unrealize;
    dc->queue_detach = vvs_queue_detach;
    dc->check_move = vvs_check_move;
    dc->default_queues = 2;
    dc->max_queues = 2;

    vvs_props[PROP_GUEST_CID] = g_param_spec_uint64(
        "guest-cid", "Guest CID", "The guest's context id (3 to 4294967294; required)",
        0, G_MAXUINT64, 0, flags);
    vvs_props[PROP_UDS_PATH] = g_param_spec_string(
        "uds-path", "Unix socket path",
        "Hybrid vsock: host processes connect here (CONNECT <port>); guest "
        "connections to port P go to <uds-path>_P",
        NULL, flags);
    vvs_props[PROP_MAX_CONNS] =
        g_param_spec_uint("max-connections", "Connections",
                          "Most connections at once (0: 4096)", 0, 1u << 24, 0, flags);
    vvs_props[PROP_BUF_ALLOC] = g_param_spec_uint64(
        "buf-alloc", "Receive buffer",
        "Receive buffer per connection advertised to the guest (0: 256K)", 0,
        G_MAXUINT32, 0, flags);
    g_object_class_install_properties(object_class, N_PROPS, vvs_props);
    qom_param_spec_mark_size(vvs_props[PROP_BUF_ALLOC]);
}

static void vhost_user_vsock_init(VhostUserVsock *vs)
{
    pthread_mutex_init(&vs->lock, NULL);
    vs->rx_elem.iov = vs->rx_iov;
    vs->rx_elem.iov_cap = VVS_IOV_MAX;
    vs->tx_elem.iov = vs->tx_iov;
    vs->tx_elem.iov_cap = VVS_IOV_MAX;
}

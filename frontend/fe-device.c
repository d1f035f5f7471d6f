/*
 * frontend/fe-device.c - one vhost-user session: negotiation, memory,
 * ring start/stop, inflight buffer, reconnect.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frontend/fe-device.h"

#define FE_DEFAULT_QUEUE_SIZE 256
#define FE_DEFAULT_MEM_SIZE (64ull << 20)

struct FeDevice {
    FeDeviceOptions opt;
    char *path;
    FeConn *conn;
    FeMem *mem;
    FeVq **vqs;
    uint64_t offered, features;
    uint64_t offered_proto, proto;
    uint64_t max_queues, max_mem_slots;
    uint8_t config[VHOST_USER_MAX_CONFIG_SIZE];
    gboolean have_config;
    gboolean started;
    uint32_t *bases;     /* ring bases from the last clean stop */
    gboolean have_bases; /* @bases are valid (a clean stop happened) */
    int inflight_fd;
    void *inflight;
    VhostUserInflight inflight_info;
};

/* ------------------------------------------------------------------------ */
/* Negotiation                                                                */
/* ------------------------------------------------------------------------ */

static gboolean has_proto(const FeDevice *dev, unsigned bit)
{
    return !!(dev->proto & (1ull << bit));
}

static gboolean negotiate_protocol(FeDevice *dev, GError **errp)
{
    FeConn *c = dev->conn;
    uint64_t want = dev->opt.protocol_features ? dev->opt.protocol_features
                                               : FE_DEVICE_PROTOCOL_FEATURES;

    /* what the caller turned off is not negotiated at all */
    if (dev->opt.no_inflight) {
        want &= ~(1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);
    }
    if (dev->opt.no_mem_slots) {
        want &= ~(1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
    }
    if (dev->opt.no_reply_ack) {
        want &= ~(1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
    }
    dev->offered_proto = dev->proto = 0;
    if (!(dev->offered & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
        return TRUE;
    }
    if (!fe_conn_get_protocol_features(c, &dev->offered_proto, errp) ||
        !fe_conn_set_protocol_features(c, dev->offered_proto & want, errp)) {
        return FALSE;
    }
    dev->proto = dev->offered_proto & want;
    return TRUE;
}

static gboolean check_queue_count(FeDevice *dev, GError **errp)
{
    dev->max_queues = 0;
    if (!has_proto(dev, VHOST_USER_PROTOCOL_F_MQ)) {
        return TRUE;
    }
    if (!fe_conn_get_u64(dev->conn, VHOST_USER_GET_QUEUE_NUM, &dev->max_queues, errp)) {
        return FALSE;
    }
    if (dev->opt.num_queues > dev->max_queues) {
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "The vhost-user back-end supports %" G_GUINT64_FORMAT
                    " queues, not %u",
                    (guint64)dev->max_queues, dev->opt.num_queues);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_mem_slots(FeDevice *dev, GError **errp)
{
    dev->max_mem_slots = 0;
    if (!has_proto(dev, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
        return TRUE;
    }
    return fe_conn_get_u64(dev->conn, VHOST_USER_GET_MAX_MEM_SLOTS, &dev->max_mem_slots,
                           errp);
}

static gboolean read_config(FeDevice *dev, GError **errp)
{
    dev->have_config = FALSE;
    if (!dev->opt.config_size || !has_proto(dev, VHOST_USER_PROTOCOL_F_CONFIG)) {
        return TRUE;
    }
    if (!fe_conn_get_config(dev->conn, 0, dev->opt.config_size, dev->config, errp)) {
        return FALSE;
    }
    dev->have_config = TRUE;
    return TRUE;
}

static gboolean set_features(FeDevice *dev, GError **errp)
{
    uint64_t want = dev->opt.features ? dev->opt.features : FE_DEVICE_RING_FEATURES;

    if (dev->opt.no_event_idx) {
        want &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
    }
    if (!(dev->offered & (1ull << VIRTIO_F_VERSION_1))) {
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "The vhost-user back-end does not offer VIRTIO_F_VERSION_1 "
                    "(legacy devices are not supported)");
        return FALSE;
    }
    /* PROTOCOL_FEATURES is acked back as QEMU does: without it, rings
     * would start enabled and SET_VRING_ENABLE would be illegal */
    dev->features = dev->offered & (want | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
                                    (1ull << VIRTIO_F_VERSION_1));
    return fe_conn_set_features(dev->conn, dev->features, errp);
}

/* Everything of fe_device_new() that talks to the back-end. */
static gboolean negotiate(FeDevice *dev, GError **errp)
{
    return fe_conn_get_features(dev->conn, &dev->offered, errp) &&
           negotiate_protocol(dev, errp) && check_queue_count(dev, errp) &&
           check_mem_slots(dev, errp) && fe_conn_set_owner(dev->conn, errp) &&
           read_config(dev, errp) && set_features(dev, errp);
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                   */
/* ------------------------------------------------------------------------ */

static gboolean check_options(FeDeviceOptions *o, GError **errp)
{
    o->num_queues = o->num_queues ? o->num_queues : 1;
    o->queue_size = o->queue_size ? o->queue_size : FE_DEFAULT_QUEUE_SIZE;
    o->mem_size = o->mem_size ? o->mem_size : FE_DEFAULT_MEM_SIZE;
    o->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : FE_CONN_DEFAULT_TIMEOUT_MS;
    if (!o->socket_path) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID, "No vhost-user socket path");
        return FALSE;
    }
    if (o->num_queues > 256 || o->config_size > VHOST_USER_MAX_CONFIG_SIZE) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "At most 256 queues and %d bytes of config space",
                    VHOST_USER_MAX_CONFIG_SIZE);
        return FALSE;
    }
    return TRUE;
}

static gboolean make_queues(FeDevice *dev, GError **errp)
{
    dev->vqs = g_new0(FeVq *, dev->opt.num_queues);
    dev->bases = g_new0(uint32_t, dev->opt.num_queues);
    for (unsigned i = 0; i < dev->opt.num_queues; i++) {
        dev->vqs[i] = fe_vq_new(dev->mem, i, dev->opt.queue_size, dev->features,
                                dev->opt.max_indirect, errp);
        if (!dev->vqs[i]) {
            return FALSE;
        }
        fe_vq_set_watch_fd(dev->vqs[i], fe_conn_fd(dev->conn));
    }
    return TRUE;
}

FeDevice *fe_device_new(const FeDeviceOptions *opt, GError **errp)
{
    FeDevice *dev = g_new0(FeDevice, 1);

    dev->opt = *opt;
    dev->inflight_fd = -1;
    if (!check_options(&dev->opt, errp)) {
        g_free(dev);
        return NULL;
    }
    dev->path = g_strdup(opt->socket_path);
    dev->opt.socket_path = dev->path;
    dev->conn = fe_conn_connect(dev->path, dev->opt.timeout_ms, errp);
    if (!dev->conn || !negotiate(dev, errp) ||
        !(dev->mem = fe_mem_new(dev->opt.mem_size, errp)) || !make_queues(dev, errp)) {
        fe_device_free(dev);
        return NULL;
    }
    return dev;
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                             */
/* ------------------------------------------------------------------------ */

static gboolean map_inflight(FeDevice *dev, GError **errp)
{
    const VhostUserInflight *in = &dev->inflight_info;
    void *p = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                   dev->inflight_fd, (off_t)in->mmap_offset);

    if (p == MAP_FAILED) {
        int err = errno;

        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "GET_INFLIGHT_FD: cannot map the back-end's buffer: %s",
                    g_strerror(err));
        return FALSE;
    }
    dev->inflight = p;
    return TRUE;
}

static gboolean setup_inflight(FeDevice *dev, GError **errp)
{
    if (dev->opt.no_inflight || !has_proto(dev, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) {
        return TRUE;
    }
    if (dev->inflight_fd < 0) {
        if (!fe_conn_get_inflight_fd(dev->conn, (uint16_t)dev->opt.num_queues,
                                     (uint16_t)dev->opt.queue_size, &dev->inflight_fd,
                                     &dev->inflight_info, errp)) {
            return FALSE;
        }
        if (!map_inflight(dev, errp)) {
            return FALSE;
        }
    }
    return fe_conn_set_inflight_fd(dev->conn, dev->inflight_fd, &dev->inflight_info,
                                   errp);
}

static gboolean share_memory(FeDevice *dev, GError **errp)
{
    unsigned n = fe_mem_n_regions(dev->mem);

    if (dev->opt.no_mem_slots ||
        !has_proto(dev, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
        return fe_conn_set_mem_table(dev->conn, dev->mem, errp);
    }
    if (n > dev->max_mem_slots) {
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "The vhost-user back-end takes %" G_GUINT64_FORMAT
                    " memory regions, not %u",
                    (guint64)dev->max_mem_slots, n);
        return FALSE;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!fe_conn_add_mem_reg(dev->conn, fe_mem_region(dev->mem, i), errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean start_ring(FeDevice *dev, FeVq *vq, uint32_t base, GError **errp)
{
    FeConn *c = dev->conn;
    unsigned i = fe_vq_index(vq);
    VhostUserVringAddr addr;

    fe_vq_addr(vq, &addr);
    return fe_conn_set_vring_state(c, VHOST_USER_SET_VRING_NUM, i, fe_vq_size(vq),
                                   errp) &&
           fe_conn_set_vring_state(c, VHOST_USER_SET_VRING_BASE, i, base, errp) &&
           fe_conn_set_vring_addr(c, &addr, errp) &&
           fe_conn_set_vring_fd(c, VHOST_USER_SET_VRING_KICK, i, fe_vq_kick_fd(vq),
                                errp) &&
           fe_conn_set_vring_fd(c, VHOST_USER_SET_VRING_CALL, i, fe_vq_call_fd(vq),
                                errp);
}

static gboolean enable_rings(FeDevice *dev, uint32_t on, GError **errp)
{
    if (!(dev->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))) {
        return TRUE; /* rings are enabled from the start then */
    }
    for (unsigned i = 0; i < dev->opt.num_queues; i++) {
        if (!fe_conn_set_vring_state(dev->conn, VHOST_USER_SET_VRING_ENABLE, i, on,
                                     errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* The base of ring @i for the next start. */
static uint32_t ring_base(FeDevice *dev, unsigned i)
{
    if (dev->have_bases) {
        return dev->bases[i];
    }
    /* With an inflight buffer, the back-end resubmits what it holds and
     * takes the rest from the avail ring (vhost-user.rst, "Inflight I/O
     * tracking"): start from used->idx, as QEMU does.  Otherwise the ring
     * is fresh (or was reset by reconnect): 0. */
    return dev->inflight ? fe_vq_used_idx(dev->vqs[i]) : 0;
}

gboolean fe_device_start(FeDevice *dev, GError **errp)
{
    if (dev->started) {
        return TRUE;
    }
    if (!setup_inflight(dev, errp) || !share_memory(dev, errp)) {
        return FALSE;
    }
    for (unsigned i = 0; i < dev->opt.num_queues; i++) {
        if (!start_ring(dev, dev->vqs[i], ring_base(dev, i), errp)) {
            return FALSE;
        }
    }
    if (!enable_rings(dev, 1, errp)) {
        return FALSE;
    }
    dev->have_bases = FALSE;
    dev->started = TRUE;
    /* a ring restarted with requests outstanding: tell the back-end */
    for (unsigned i = 0; i < dev->opt.num_queues; i++) {
        if (fe_vq_outstanding(dev->vqs[i])) {
            fe_vq_notify(dev->vqs[i]);
        }
    }
    return TRUE;
}

gboolean fe_device_stop(FeDevice *dev, GError **errp)
{
    if (!dev->started) {
        return TRUE;
    }
    dev->started = FALSE;
    if (!enable_rings(dev, 0, errp)) {
        return FALSE;
    }
    for (unsigned i = 0; i < dev->opt.num_queues; i++) {
        if (!fe_conn_get_vring_base(dev->conn, i, &dev->bases[i], errp)) {
            return FALSE;
        }
    }
    dev->have_bases = TRUE;
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Reconnect and teardown                                                     */
/* ------------------------------------------------------------------------ */

void fe_device_disconnect(FeDevice *dev)
{
    g_clear_pointer(&dev->conn, fe_conn_free);
    for (unsigned i = 0; i < dev->opt.num_queues && dev->vqs; i++) {
        if (dev->vqs[i]) {
            fe_vq_set_watch_fd(dev->vqs[i], -1);
        }
    }
    dev->started = FALSE;
}

typedef struct {
    FeDevice *dev;
    FeVq *vq;
} AbortCtx;

static void abort_one(void *token, void *opaque)
{
    AbortCtx *a = opaque;

    if (a->dev->opt.abort_fn) {
        a->dev->opt.abort_fn(a->vq, token, a->dev->opt.abort_opaque);
    }
}

/* Rings the new back-end cannot continue: reset them. */
static void reset_lost_rings(FeDevice *dev)
{
    if (dev->have_bases || dev->inflight) {
        return;
    }
    for (unsigned i = 0; i < dev->opt.num_queues; i++) {
        AbortCtx a = {.dev = dev, .vq = dev->vqs[i]};

        fe_vq_reset(dev->vqs[i], abort_one, &a);
    }
}

gboolean fe_device_reconnect(FeDevice *dev, GError **errp)
{
    uint64_t old_features = dev->features;

    fe_device_disconnect(dev);
    reset_lost_rings(dev);
    dev->conn = fe_conn_connect(dev->path, dev->opt.timeout_ms, errp);
    if (!dev->conn) {
        return FALSE;
    }
    for (unsigned i = 0; i < dev->opt.num_queues; i++) {
        fe_vq_set_watch_fd(dev->vqs[i], fe_conn_fd(dev->conn));
    }
    if (!negotiate(dev, errp)) {
        return FALSE;
    }
    if (dev->features != old_features) {
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "The vhost-user back-end negotiated features 0x%" G_GINT64_MODIFIER
                    "x after reconnecting, not 0x%" G_GINT64_MODIFIER "x as before",
                    dev->features, old_features);
        return FALSE;
    }
    return fe_device_start(dev, errp);
}

void fe_device_free(FeDevice *dev)
{
    if (!dev) {
        return;
    }
    if (dev->conn && dev->started && !fe_conn_is_dead(dev->conn)) {
        g_autoptr(GError) err = NULL;

        if (!fe_device_stop(dev, &err)) {
            g_debug("fe_device_free: %s", err->message);
        }
    }
    fe_conn_free(dev->conn);
    for (unsigned i = 0; dev->vqs && i < dev->opt.num_queues; i++) {
        fe_vq_free(dev->vqs[i]);
    }
    g_free(dev->vqs);
    g_free(dev->bases);
    fe_mem_free(dev->mem);
    if (dev->inflight) {
        munmap(dev->inflight, dev->inflight_info.mmap_size);
    }
    if (dev->inflight_fd >= 0) {
        close(dev->inflight_fd);
    }
    g_free(dev->path);
    g_free(dev);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                  */
/* ------------------------------------------------------------------------ */

FeConn *fe_device_conn(FeDevice *dev)
{
    return dev->conn;
}

FeMem *fe_device_mem(FeDevice *dev)
{
    return dev->mem;
}

FeVq *fe_device_vq(FeDevice *dev, unsigned i)
{
    g_return_val_if_fail(i < dev->opt.num_queues, NULL);
    return dev->vqs[i];
}

unsigned fe_device_num_queues(const FeDevice *dev)
{
    return dev->opt.num_queues;
}

uint64_t fe_device_offered_features(const FeDevice *dev)
{
    return dev->offered;
}

uint64_t fe_device_features(const FeDevice *dev)
{
    return dev->features;
}

gboolean fe_device_has_feature(const FeDevice *dev, unsigned bit)
{
    return bit < 64 && (dev->features & (1ull << bit));
}

uint64_t fe_device_offered_protocol_features(const FeDevice *dev)
{
    return dev->offered_proto;
}

uint64_t fe_device_protocol_features(const FeDevice *dev)
{
    return dev->proto;
}

uint64_t fe_device_max_queues(const FeDevice *dev)
{
    return dev->max_queues;
}

const void *fe_device_config(const FeDevice *dev)
{
    return dev->have_config ? dev->config : NULL;
}

void *fe_device_inflight(const FeDevice *dev, uint64_t *size)
{
    if (size) {
        *size = dev->inflight ? dev->inflight_info.mmap_size : 0;
    }
    return dev->inflight;
}

gboolean fe_device_is_started(const FeDevice *dev)
{
    return dev->started;
}

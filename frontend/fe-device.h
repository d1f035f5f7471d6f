/*
 * frontend/fe-device.h - a virtio device driven over vhost-user: the
 * front-end's whole session with one back-end, as QEMU runs it.
 *
 *   fe_device_new():  connect; GET_FEATURES; GET/SET_PROTOCOL_FEATURES;
 *                     GET_QUEUE_NUM (MQ); GET_MAX_MEM_SLOTS
 *                     (CONFIGURE_MEM_SLOTS); SET_OWNER; GET_CONFIG (CONFIG);
 *                     SET_FEATURES.
 *   fe_device_start(): GET_INFLIGHT_FD + SET_INFLIGHT_FD (INFLIGHT_SHMFD);
 *                     SET_MEM_TABLE, or one ADD_MEM_REG per region
 *                     (CONFIGURE_MEM_SLOTS); per ring SET_VRING_NUM, _BASE,
 *                     _ADDR, _KICK, _CALL; then SET_VRING_ENABLE 1 per ring
 *                     (when VHOST_USER_F_PROTOCOL_FEATURES was negotiated).
 *   fe_device_stop():  SET_VRING_ENABLE 0, then GET_VRING_BASE per ring.
 *   fe_device_reconnect(): a new connection to the same socket, the same
 *                     guest memory and rings (see there).
 *
 * Thread safety: control calls from one thread; each queue's FeVq is then
 * driven by one thread of the caller's choice.  Quiesce the queue threads
 * around fe_device_stop()/fe_device_reconnect()/fe_device_free().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_DEVICE_H
#define FRONTEND_FE_DEVICE_H

#include <stdint.h>

#include <glib.h>

#include <linux/virtio_config.h>

#include "frontend/fe-conn.h"
#include "frontend/fe-mem.h"
#include "frontend/fe-vq.h"

G_BEGIN_DECLS

/** Protocol features the front-end uses when the back-end offers them. */
#define FE_DEVICE_PROTOCOL_FEATURES                                                    \
    ((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |  \
     (1ull << VHOST_USER_PROTOCOL_F_CONFIG) |                                          \
     (1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |                                  \
     (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))

/** Virtio transport features the front-end drives (when offered). */
#define FE_DEVICE_RING_FEATURES                                                        \
    ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |            \
     (1ull << VIRTIO_RING_F_EVENT_IDX))

/** How to set up a device.  Zero is the default of every field. */
typedef struct FeDeviceOptions {
    const char *socket_path; /**< the back-end's unix socket */
    int timeout_ms;          /**< bound of every exchange and of connecting (5000) */
    unsigned num_queues;     /**< rings 0..num_queues-1 (1) */
    unsigned queue_size;     /**< entries per ring, power of two (256) */
    unsigned max_indirect;   /**< descriptors per indirect table; 0: no indirect */
    uint64_t mem_size;       /**< bytes of guest memory (64 MiB) */
    /**
     * Virtio features the driver accepts; the result is this & the
     * back-end's offer (VIRTIO_F_VERSION_1 is required).  0: only
     * FE_DEVICE_RING_FEATURES.
     */
    uint64_t features;
    /** Protocol features accepted (0: FE_DEVICE_PROTOCOL_FEATURES). */
    uint64_t protocol_features;
    unsigned config_size;  /**< bytes of config space to GET_CONFIG (0: none) */
    gboolean no_inflight;  /**< do not use INFLIGHT_SHMFD even if offered */
    gboolean no_mem_slots; /**< SET_MEM_TABLE even if CONFIGURE_MEM_SLOTS is offered */
    gboolean no_reply_ack; /**< do not ask for REPLY_ACKs */
    gboolean no_event_idx; /**< do not negotiate VIRTIO_RING_F_EVENT_IDX */
    /**
     * Called by fe_device_reconnect() for every request a back-end lost
     * (no INFLIGHT_SHMFD): the driver fails it.
     */
    void (*abort_fn)(FeVq *vq, void *token, void *opaque);
    void *abort_opaque;
} FeDeviceOptions;

typedef struct FeDevice FeDevice;

/**
 * fe_device_new: connect to @opt->socket_path and negotiate (see the top
 * of this file); allocate guest memory and the rings.  Rings are not
 * started: fe_device_start() does that.
 */
FeDevice *fe_device_new(const FeDeviceOptions *opt, GError **errp);

/** fe_device_start: share memory and start every ring (see above). */
gboolean fe_device_start(FeDevice *dev, GError **errp);

/**
 * fe_device_stop: disable and stop every ring (GET_VRING_BASE), keeping
 * each ring's base for a later fe_device_start().
 */
gboolean fe_device_stop(FeDevice *dev, GError **errp);

/**
 * fe_device_reconnect: drop the connection, connect to the same socket
 * again (waiting up to the timeout for a restarted back-end), negotiate
 * and start with the same memory and rings.  Ring bases: after a clean
 * fe_device_stop(), the bases it got; else, with INFLIGHT_SHMFD, the
 * same inflight buffer and used->idx (the back-end resubmits what it had
 * in flight); else every ring is reset and its outstanding requests go
 * to the abort_fn.  Quiesce the queue threads first.
 */
gboolean fe_device_reconnect(FeDevice *dev, GError **errp);

/**
 * fe_device_disconnect: close the connection without stopping the rings
 * (a crashing VMM); fe_device_reconnect() may follow.
 */
void fe_device_disconnect(FeDevice *dev);

/** fe_device_free: stop if started and connected, close, free.  NULL allowed. */
void fe_device_free(FeDevice *dev);

/** fe_device_conn: the connection (raw messages for tests). */
FeConn *fe_device_conn(FeDevice *dev);

/** fe_device_mem: the guest memory. */
FeMem *fe_device_mem(FeDevice *dev);

/** fe_device_vq: ring @i (< num_queues). */
FeVq *fe_device_vq(FeDevice *dev, unsigned i);

/** fe_device_num_queues: the number of rings. */
unsigned fe_device_num_queues(const FeDevice *dev);

/** fe_device_offered_features: the back-end's GET_FEATURES. */
uint64_t fe_device_offered_features(const FeDevice *dev);

/** fe_device_features: the negotiated features (SET_FEATURES). */
uint64_t fe_device_features(const FeDevice *dev);

/** fe_device_has_feature: negotiated feature @bit. */
gboolean fe_device_has_feature(const FeDevice *dev, unsigned bit);

/** fe_device_offered_protocol_features: GET_PROTOCOL_FEATURES (0 if none). */
uint64_t fe_device_offered_protocol_features(const FeDevice *dev);

/** fe_device_protocol_features: the negotiated protocol features. */
uint64_t fe_device_protocol_features(const FeDevice *dev);

/** fe_device_max_queues: GET_QUEUE_NUM (0 without MQ). */
uint64_t fe_device_max_queues(const FeDevice *dev);

/**
 * fe_device_config: the config space read at connect (opt->config_size
 * bytes; NULL if none was read or the back-end lacks CONFIG).
 */
const void *fe_device_config(const FeDevice *dev);

/**
 * fe_device_inflight: the mapped INFLIGHT_SHMFD buffer and its size, or
 * NULL when not in use.
 */
void *fe_device_inflight(const FeDevice *dev, uint64_t *size);

/** fe_device_is_started: the rings are started. */
gboolean fe_device_is_started(const FeDevice *dev);

G_END_DECLS

#endif /* FRONTEND_FE_DEVICE_H */

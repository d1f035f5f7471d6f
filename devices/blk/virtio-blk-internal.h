/*
 * devices/blk/virtio-blk-internal.h - state shared by virtio-blk.c (device,
 * config, queues) and virtio-blk-req.c (one request).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_BLK_VIRTIO_BLK_INTERNAL_H
#define DEVICES_BLK_VIRTIO_BLK_INTERNAL_H

#include <linux/virtio_blk.h>

#include "qcontext/devices/blk/virtio-blk.h"

/* iovecs beyond seg_max + header + status: buffers split across regions. */
#define VBLK_IOV_SLACK 16

typedef struct VblkQueue VblkQueue;

typedef struct VblkReq {
    VblkQueue *bq;
    VuQueue *q;
    AioContext *ctx; /* submits to the backend */
    struct VblkReq *next_free;
    uint8_t *status;   /* the status byte in guest memory */
    uint32_t used_len; /* bytes written to the guest, status included */
    VirtQueueElement elem;
    struct iovec iov[]; /* elem.iov */
} VblkReq;

struct VblkQueue {
    VirtioBlk *vb;
    unsigned index;
    VblkReq *free; /* request pool (queue thread) */
    unsigned allocated;
    unsigned in_flight;
    /* Pushed, not yet published (queue thread): see vblk_complete(). */
    VuQueue *vq;
    unsigned ended_ok, ended_failed;
    bool batch_open; /* published the batch's first, the rest deferred */
};

struct VirtioBlk {
    const VblkBackendOps *ops;
    void *be;
    VblkBackendInfo info;
    uint16_t num_queues;
    uint32_t lbs;      /* logical block size */
    uint64_t capacity; /* 512-byte sectors */
    uint32_t seg_max;
    unsigned iov_cap;  /* per request */
    uint64_t features; /* offered */
    uint64_t acked;    /* acknowledged by the driver */
    char serial[VIRTIO_BLK_ID_BYTES];
    struct virtio_blk_config config;
    VblkQueue *queues;
    void (*request_begin)(void *opaque, unsigned qidx);
    void (*request_end)(void *opaque, unsigned qidx, bool ok);
    void *hook_opaque;
};

/* virtio-blk-req.c: handle one popped request (completes it, now or later). */
void vblk_req_handle(VblkReq *req);
/* virtio-blk.c: give a completed request back to its queue's pool. */
void vblk_req_put(VblkReq *req);
/* virtio-blk.c: a request of @bq completed (the accounting hook). */
void vblk_req_ended(VblkQueue *bq, bool ok);

#endif /* DEVICES_BLK_VIRTIO_BLK_INTERNAL_H */

/*
 * frontend/fe-blk.h - a virtio-blk driver (virtio 1.x, 5.2) on the
 * vhost-user front-end: what a guest's virtio_blk does, for qcontext-bench
 * and the tests.
 *
 * Each queue has a fixed set of request slots in guest memory (header,
 * data buffer of max_io bytes aligned to 4 KiB, status byte), so the hot
 * path allocates nothing.  Two levels:
 *
 *  - asynchronous, per queue (the bench): fe_blk_req_get() a slot, fill
 *    type/sector/len and the data, fe_blk_submit(), fe_blk_kick(), then
 *    fe_blk_complete() / fe_blk_wait();
 *  - blocking helpers with a timeout (the tests): fe_blk_write(),
 *    fe_blk_read(), fe_blk_flush(), fe_blk_get_id(), fe_blk_discard(),
 *    fe_blk_write_zeroes(), fe_blk_exec().
 *
 * By default the driver obeys the spec (no request past capacity, no write
 * to a read-only device, no request type whose feature was not
 * negotiated); with FeBlkOptions.unchecked it sends them anyway so that
 * tests can watch the back-end refuse them.
 *
 * Thread safety: one thread per queue (FeBlkQueue).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_BLK_H
#define FRONTEND_FE_BLK_H

#include <stdint.h>

#include <glib.h>
#include <linux/virtio_blk.h>

#include "frontend/fe-device.h"

G_BEGIN_DECLS

/** Bytes of config space read: struct virtio_blk_config up to unused1[]. */
#define FE_BLK_CONFIG_SIZE 60

/** A request's status when its back-end was lost (reconnect without inflight). */
#define FE_BLK_S_ABORTED 0xff

/** Options of fe_blk_open().  Zero is the default of every field. */
typedef struct FeBlkOptions {
    const char *socket_path; /**< the back-end's socket */
    int timeout_ms;          /**< bound of every exchange and blocking helper (5000) */
    unsigned num_queues;     /**< queues (1); more needs VIRTIO_BLK_F_MQ */
    unsigned queue_size;     /**< ring entries (256) */
    unsigned iodepth;        /**< request slots per queue (min(queue_size, 256)) */
    unsigned max_io;         /**< data bytes per request slot (128 KiB) */
    unsigned data_segs;      /**< descriptors the data buffer is split into (1) */
    uint64_t extra_mem;      /**< guest memory beyond the slots, for tests (4 MiB) */
    gboolean no_indirect;    /**< plain chains even if INDIRECT_DESC is offered */
    gboolean no_event_idx;   /**< do not negotiate EVENT_IDX */
    gboolean no_inflight;    /**< do not use INFLIGHT_SHMFD */
    gboolean no_mem_slots;   /**< SET_MEM_TABLE even with CONFIGURE_MEM_SLOTS */
    gboolean unchecked;      /**< send what the spec forbids (see above) */
} FeBlkOptions;

typedef struct FeBlk FeBlk;
typedef struct FeBlkQueue FeBlkQueue;

/** One request slot. */
typedef struct FeBlkReq {
    /* set by the caller before fe_blk_submit() */
    uint32_t type;     /**< VIRTIO_BLK_T_* */
    uint64_t sector;   /**< 512-byte sector (IN/OUT; 0 for the others) */
    uint32_t len;      /**< data bytes (<= max_io); for DISCARD/WRITE_ZEROES the
                            data holds struct virtio_blk_discard_write_zeroes */
    void *opaque;      /**< the caller's */
    uint64_t t_submit; /**< the caller's (the bench stores a timestamp) */
    /* the slot's data buffer (guest memory, 4 KiB aligned, max_io bytes) */
    uint8_t *data;
    /* results, valid when fe_blk_complete() returns the request */
    uint8_t status;    /**< VIRTIO_BLK_S_*, or FE_BLK_S_ABORTED */
    uint32_t used_len; /**< bytes the device reports written */
    /* private */
    unsigned slot;
    gboolean submitted;
    uint64_t chunk_off;
    struct virtio_blk_outhdr *hdr;
    uint8_t *status_byte;
    uint64_t hdr_gpa, data_gpa, status_gpa;
} FeBlkReq;

/**
 * fe_blk_open: connect to a vhost-user-blk back-end, negotiate, read the
 * config space, start the queues.
 */
FeBlk *fe_blk_open(const FeBlkOptions *opt, GError **errp);

/** fe_blk_close: stop the queues and disconnect.  NULL is allowed. */
void fe_blk_close(FeBlk *blk);

/** fe_blk_device: the underlying device (raw access for tests). */
FeDevice *fe_blk_device(FeBlk *blk);

/** fe_blk_config: the config space (zeroes if the back-end lacks CONFIG). */
const struct virtio_blk_config *fe_blk_config(const FeBlk *blk);

/** fe_blk_capacity: the disk size in bytes. */
uint64_t fe_blk_capacity(const FeBlk *blk);

/** fe_blk_has_feature: VIRTIO_BLK_F_@bit (or any virtio bit) was negotiated. */
gboolean fe_blk_has_feature(const FeBlk *blk, unsigned bit);

/** fe_blk_num_queues: the queues. */
unsigned fe_blk_num_queues(const FeBlk *blk);

/** fe_blk_max_io: data bytes per request. */
unsigned fe_blk_max_io(const FeBlk *blk);

/**
 * fe_blk_reconnect: fe_device_reconnect() (see there); requests the
 * back-end lost complete with FE_BLK_S_ABORTED.
 */
gboolean fe_blk_reconnect(FeBlk *blk, GError **errp);

/* ------------------------------------------------------------------------ */
/* Asynchronous requests, one thread per queue                                */
/* ------------------------------------------------------------------------ */

/** fe_blk_queue: queue @i. */
FeBlkQueue *fe_blk_queue(FeBlk *blk, unsigned i);

/** fe_blk_queue_vq: its virtqueue (raw access). */
FeVq *fe_blk_queue_vq(FeBlkQueue *q);

/** fe_blk_req_get: a free request slot, or NULL when all are in use. */
FeBlkReq *fe_blk_req_get(FeBlkQueue *q);

/** fe_blk_req_put: give back a slot (completed or never submitted). */
void fe_blk_req_put(FeBlkQueue *q, FeBlkReq *req);

/**
 * fe_blk_submit: expose @req on the ring (no kick).  Fails with
 * FE_ERROR_INVALID for a request the spec forbids (unless unchecked), or
 * FE_ERROR_NOSPACE if the ring is full.
 */
gboolean fe_blk_submit(FeBlkQueue *q, FeBlkReq *req, GError **errp);

/** fe_blk_kick: notify the back-end of what was submitted (if it wants it). */
void fe_blk_kick(FeBlkQueue *q);

/** fe_blk_complete: the next completed request, or NULL. */
FeBlkReq *fe_blk_complete(FeBlkQueue *q);

/**
 * fe_blk_wait: if nothing is completed yet, sleep on the call eventfd up
 * to @timeout_ms (< 0: forever).  Fails on timeout, back-end hang-up, or
 * a broken ring (FE_ERROR_PROTOCOL).
 */
gboolean fe_blk_wait(FeBlkQueue *q, int timeout_ms, GError **errp);

/** fe_blk_inflight: submitted requests not yet completed. */
unsigned fe_blk_inflight(const FeBlkQueue *q);

/* ------------------------------------------------------------------------ */
/* Blocking helpers (tests): on queue @q, bounded by the timeout             */
/* ------------------------------------------------------------------------ */

/**
 * fe_blk_exec: run one request: @type at @sector with @len bytes of data
 * (copied from @in for device-readable types, to @out for IN and GET_ID;
 * either may be NULL).  Returns the device's status in *@status (may be
 * NULL); FALSE only if the request could not complete (timeout,
 * disconnect, invalid).
 */
gboolean fe_blk_exec(FeBlk *blk, unsigned q, uint32_t type, uint64_t sector,
                     const void *in, void *out, uint32_t len, uint8_t *status,
                     GError **errp);

/**
 * fe_blk_write: write @len bytes of @buf at byte @offset (both multiples of
 * 512), split into requests of max_io; FE_ERROR_IO if the device fails it.
 */
gboolean fe_blk_write(FeBlk *blk, unsigned q, uint64_t offset, const void *buf,
                      size_t len, GError **errp);

/** fe_blk_read: read @len bytes at @offset into @buf (see fe_blk_write()). */
gboolean fe_blk_read(FeBlk *blk, unsigned q, uint64_t offset, void *buf, size_t len,
                     GError **errp);

/** fe_blk_flush: VIRTIO_BLK_T_FLUSH. */
gboolean fe_blk_flush(FeBlk *blk, unsigned q, GError **errp);

/** fe_blk_get_id: VIRTIO_BLK_T_GET_ID into @id (NUL-terminated). */
gboolean fe_blk_get_id(FeBlk *blk, unsigned q, char id[VIRTIO_BLK_ID_BYTES + 1],
                       GError **errp);

/** fe_blk_discard: VIRTIO_BLK_T_DISCARD of [@offset, @offset + @len). */
gboolean fe_blk_discard(FeBlk *blk, unsigned q, uint64_t offset, uint64_t len,
                        GError **errp);

/** fe_blk_write_zeroes: VIRTIO_BLK_T_WRITE_ZEROES, with the UNMAP flag if @unmap. */
gboolean fe_blk_write_zeroes(FeBlk *blk, unsigned q, uint64_t offset, uint64_t len,
                             gboolean unmap, GError **errp);

G_END_DECLS

#endif /* FRONTEND_FE_BLK_H */

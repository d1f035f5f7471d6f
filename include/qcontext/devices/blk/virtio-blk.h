/*
 * devices/blk/virtio-blk.h - virtio-blk request logic (virtio 1.x, "Block
 * Device") over a small backend interface, served through the vhost-user
 * queue API.
 *
 * Requests: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES; anything else
 * completes with VIRTIO_BLK_S_UNSUPP.  A request past the capacity, of a
 * length that is not a multiple of the block size, or misaligned, fails
 * with VIRTIO_BLK_S_IOERR before the backend is called; so does a write on
 * a read-only device (VIRTIO_BLK_F_RO).  Data moves zero-copy: the guest's
 * buffers go to the backend as iovecs; the requests popped in one kick are
 * submitted between one plug and one unplug (one kernel submission).
 *
 * The backend interface mirrors block/drive.h's (wp2): each call names the
 * AioContext that submits (NULL: the calling thread's), completions run on
 * that context's thread.
 *
 * Threading: vblk_new()/vblk_free()/vblk_features()/vblk_read_config() on
 * the control thread; vblk_process() on a queue's thread, each queue on one
 * thread at a time; a queue's requests complete on the thread that
 * submitted them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_BLK_VIRTIO_BLK_H
#define QCONTEXT_DEVICES_BLK_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "qcontext/aio/aio.h"
#include "qcontext/aio/thread-pool.h"
#include "qcontext/devices/vhost-user/vhost-user.h"

G_BEGIN_DECLS

/** The virtio-blk request logic of one device (opaque). */
typedef struct VirtioBlk VirtioBlk;

/** What virtio-blk needs to know about its backend (constant). */
typedef struct VblkBackendInfo {
    uint64_t size;                /**< bytes */
    bool read_only;               /**< writes fail: VIRTIO_BLK_F_RO */
    uint32_t logical_block_size;  /**< >= 512, a power of 2 */
    uint32_t physical_block_size; /**< >= logical_block_size, a power of 2 */
    uint32_t max_iov;             /**< most iovecs per request (e.g. IOV_MAX) */
    bool discard;                 /**< VIRTIO_BLK_F_DISCARD is offered */
    bool write_zeroes;            /**< VIRTIO_BLK_F_WRITE_ZEROES is offered */
    bool write_zeroes_may_unmap;  /**< a write-zeroes may deallocate */
} VblkBackendInfo;

/**
 * VblkBackendOps: the drive.  Offsets and lengths are in bytes, checked
 * against the size and block size before the call.  @cb(@opaque, ret) runs
 * later (never inside the call) on @ctx's thread with 0 or -errno.  @ctx
 * NULL: the calling thread's AioContext.
 */
typedef struct VblkBackendOps {
    /** read into @iov from @offset */
    void (*readv)(void *be, AioContext *ctx, int64_t offset, const struct iovec *iov,
                  int iovcnt, BlockCompletionFunc *cb, void *opaque);
    /** write @iov at @offset */
    void (*writev)(void *be, AioContext *ctx, int64_t offset, const struct iovec *iov,
                   int iovcnt, BlockCompletionFunc *cb, void *opaque);
    /** make the writes completed so far stable */
    void (*flush)(void *be, AioContext *ctx, BlockCompletionFunc *cb, void *opaque);
    /** discard @bytes at @offset (a hint) */
    void (*discard)(void *be, AioContext *ctx, int64_t offset, int64_t bytes,
                    BlockCompletionFunc *cb, void *opaque);
    /** zero @bytes at @offset; @may_unmap: they may be deallocated */
    void (*write_zeroes)(void *be, AioContext *ctx, int64_t offset, int64_t bytes,
                         bool may_unmap, BlockCompletionFunc *cb, void *opaque);
    void (*plug)(void *be, AioContext *ctx);   /**< may be NULL */
    void (*unplug)(void *be, AioContext *ctx); /**< may be NULL */
} VblkBackendOps;

/** Configuration of one virtio-blk device. */
typedef struct VblkConf {
    uint16_t num_queues;         /**< >= 1 */
    uint32_t logical_block_size; /**< 512 or 4096; 0: the backend's */
    uint16_t queue_size;         /**< the largest ring (seg_max follows); 0: 256 */
    const char *serial;          /**< GET_ID string (first 20 bytes); may be NULL */
    /**
     * Request accounting, optional, on the queue's thread: queue @qidx took
     * a request / completed it (after its completion was published).
     */
    void (*request_begin)(void *opaque, unsigned qidx);
    void (*request_end)(void *opaque, unsigned qidx, bool ok); /**< see request_begin */
    void *hook_opaque; /**< the @opaque of both hooks */
} VblkConf;

/** Largest seg_max advertised (data segments per request). */
#define VBLK_SEG_MAX 254
/** Most sectors in one discard or write-zeroes segment. */
#define VBLK_MAX_DWZ_SECTORS (1u << 22)

/**
 * vblk_new: a virtio-blk device over backend @be (@ops, @info kept by
 * value / pointer: @ops must outlive it).  Fails with a one-line error on
 * a bad configuration (logical block size not 512 or 4096, smaller than
 * the backend's, a size not a multiple of it, zero queues).
 */
VirtioBlk *vblk_new(const VblkConf *conf, const VblkBackendInfo *info,
                    const VblkBackendOps *ops, void *be, GError **errp);

/** vblk_free: free @vb (no request in flight: every queue stopped). */
void vblk_free(VirtioBlk *vb);

/** vblk_features: the VIRTIO_BLK_F_* bits the device offers. */
uint64_t vblk_features(VirtioBlk *vb);

/** vblk_set_acked_features: the features the driver acknowledged. */
void vblk_set_acked_features(VirtioBlk *vb, uint64_t features);

/**
 * vblk_read_config: bytes [@offset, @offset + @len) of the config space
 * (struct virtio_blk_config, little-endian) into @buf; bytes past its end
 * are left as they are (the caller zeroed them).  Always true.
 */
bool vblk_read_config(VirtioBlk *vb, uint8_t *buf, uint32_t offset, uint32_t len);

/**
 * vblk_process: queue thread.  Pop every available request of @q and
 * submit them to the backend from @ctx (the queue's AioContext; NULL: the
 * calling thread's) in one batch; completions push and notify.
 */
void vblk_process(VirtioBlk *vb, VuQueue *q, AioContext *ctx);

/**
 * vblk_in_flight: queue thread.  Requests of queue @qidx submitted to the
 * backend and not completed.
 */
unsigned vblk_in_flight(VirtioBlk *vb, unsigned qidx);

/**
 * vblk_fill_vu_ops: fill the device part of @ops for a VuDev whose opaque
 * is the VirtioBlk: get_features, set_features, get_config, process (from
 * the calling thread's AioContext).  The embedder sets queue_start and
 * queue_stop (and connected/disconnected).
 */
void vblk_fill_vu_ops(VuDevOps *ops);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_BLK_VIRTIO_BLK_H */

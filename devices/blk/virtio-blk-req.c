/*
 * devices/blk/virtio-blk-req.c - one virtio-blk request: parse the header
 * and status byte out of the guest's iovecs, check it against the device
 * (capacity, block size, read-only, negotiated features), hand the data
 * iovecs to the backend as they are, and complete with a status.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "virtio-blk"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/aio/defer-call.h"
#include "qcontext/devices/virtio/iov.h"
#include "virtio-blk-internal.h"

/*
 * Publish what @opaque's queue pushed (used->idx, the call eventfd if the
 * driver wants it), then count the requests ended.  Deferred: once per
 * batch of completions (a block backend's completion loop is a section),
 * or at once outside one.
 */
static void vblk_publish(void *opaque)
{
    VblkQueue *bq = opaque;
    VuQueue *q = bq->vq;
    void (*ended)(void *, unsigned, bool) = bq->vb->request_end;
    void *hook_opaque = bq->vb->hook_opaque;
    unsigned qidx = bq->index, ok = bq->ended_ok, failed = bq->ended_failed;

    bq->ended_ok = bq->ended_failed = 0;
    /* The flush may complete a queue stop, after which the device may be
     * freed: nothing of it is touched after the flush but the accounting
     * hook, read before (a device layer's drain waits for that hook). */
    vu_queue_flush(q);
    if (ended) {
        while (ok-- > 0) {
            ended(hook_opaque, qidx, true);
        }
        while (failed-- > 0) {
            ended(hook_opaque, qidx, false);
        }
    }
}

/* The end of a batch of completions: publish what came after its first,
 * complete a stop, count the batch's requests ended.  The last touch of
 * the queue's state in the batch. */
static void vblk_batch_end(void *opaque)
{
    VblkQueue *bq = opaque;

    bq->batch_open = false;
    vblk_publish(bq);
}

/*
 * The first completion of a batch is published (and signalled) at once: a
 * driver asleep on its interrupt starts waking while the rest of the batch
 * completes (with EVENT_IDX that is the one signal it asked for).  The
 * others are published once, at the end of the batch: one used->idx store,
 * one barrier, at most one more signal.  Outside a batch (a completion from
 * a BH of its own) the deferred end runs at once.  A stop of the queue can
 * only complete at the batch's end, so @bq stays valid until then; nothing
 * of it is touched after defer_call().
 */
static void vblk_complete(VblkReq *req, uint8_t status)
{
    VblkQueue *bq = req->bq;

    *req->status = status;
    vu_queue_push(req->q, &req->elem, status == VIRTIO_BLK_S_OK ? req->used_len : 1);
    bq->vq = req->q;
    if (status != VIRTIO_BLK_S_IOERR) {
        bq->ended_ok++;
    } else {
        bq->ended_failed++;
    }
    vblk_req_put(req);
    if (bq->batch_open) {
        return; /* published at the end of the batch */
    }
    bq->batch_open = true;
    vu_queue_publish(bq->vq);
    defer_call(vblk_batch_end, bq); /* outside a batch: runs now */
}

static void vblk_backend_done(void *opaque, int ret)
{
    vblk_complete(opaque, ret == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

/* A discard the backend cannot do is a no-op the driver may not rely on. */
static void vblk_discard_done(void *opaque, int ret)
{
    vblk_complete(opaque,
                  ret == 0 || ret == -ENOTSUP ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

/* [sector, sector + bytes) is inside the disk and block aligned. */
static bool vblk_range_ok(const VirtioBlk *vb, uint64_t sector, uint64_t bytes)
{
    uint64_t lbs_sectors = vb->lbs / 512;

    return bytes % vb->lbs == 0 && sector % lbs_sectors == 0 &&
           sector <= vb->capacity && bytes / 512 <= vb->capacity - sector;
}

static void vblk_rw(VblkReq *req, bool write, struct iovec *iov, unsigned cnt,
                    uint64_t sector)
{
    VirtioBlk *vb = req->bq->vb;
    uint64_t bytes = iov_size(iov, cnt);

    if ((write && vb->info.read_only) || !vblk_range_ok(vb, sector, bytes)) {
        vblk_complete(req, VIRTIO_BLK_S_IOERR); /* never reaches the backend */
        return;
    }
    req->used_len = (write ? 0 : (uint32_t)bytes) + 1;
    if (bytes == 0) {
        vblk_complete(req, VIRTIO_BLK_S_OK);
        return;
    }
    if (write) {
        vb->ops->writev(vb->be, req->ctx, (int64_t)(sector * 512), iov, (int)cnt,
                        vblk_backend_done, req);
    } else {
        vb->ops->readv(vb->be, req->ctx, (int64_t)(sector * 512), iov, (int)cnt,
                       vblk_backend_done, req);
    }
}

static void vblk_get_id(VblkReq *req, struct iovec *in, unsigned in_num)
{
    VirtioBlk *vb = req->bq->vb;
    size_t n = iov_from_buf(in, in_num, 0, vb->serial, sizeof(vb->serial));

    req->used_len = (uint32_t)n + 1;
    vblk_complete(req, VIRTIO_BLK_S_OK);
}

/* DISCARD and WRITE_ZEROES: one segment (max_*_seg is 1). */
static void vblk_dwz(VblkReq *req, uint32_t type, struct iovec *out, unsigned out_num)
{
    VirtioBlk *vb = req->bq->vb;
    bool discard = type == VIRTIO_BLK_T_DISCARD;
    uint64_t feature = discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
    struct virtio_blk_discard_write_zeroes seg;
    uint64_t sector;
    uint32_t num, flags;

    if (!(qatomic_read(&vb->acked) & (1ULL << feature))) {
        vblk_complete(req, VIRTIO_BLK_S_UNSUPP);
        return;
    }
    if (iov_size(out, out_num) != sizeof(seg)) {
        vblk_complete(req, VIRTIO_BLK_S_IOERR); /* none, partial, or >1 segment */
        return;
    }
    iov_to_buf(out, out_num, 0, &seg, sizeof(seg));
    sector = le64toh(seg.sector);
    num = le32toh(seg.num_sectors);
    flags = le32toh(seg.flags);
    if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
        (discard && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))) {
        vblk_complete(req, VIRTIO_BLK_S_UNSUPP); /* as the spec requires */
        return;
    }
    if (num > VBLK_MAX_DWZ_SECTORS || !vblk_range_ok(vb, sector, (uint64_t)num * 512)) {
        vblk_complete(req, VIRTIO_BLK_S_IOERR);
        return;
    }
    req->used_len = 1;
    if (num == 0) {
        vblk_complete(req, VIRTIO_BLK_S_OK);
    } else if (discard) {
        vb->ops->discard(vb->be, req->ctx, (int64_t)(sector * 512), (int64_t)num * 512,
                         vblk_discard_done, req);
    } else {
        vb->ops->write_zeroes(vb->be, req->ctx, (int64_t)(sector * 512),
                              (int64_t)num * 512,
                              (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) &&
                                  vb->info.write_zeroes_may_unmap,
                              vblk_backend_done, req);
    }
}

/* The status byte: the last byte of the device-writable buffers. */
static uint8_t *vblk_status_byte(struct iovec *in, unsigned in_num)
{
    for (unsigned i = in_num; i-- > 0;) {
        if (in[i].iov_len > 0) {
            return (uint8_t *)in[i].iov_base + in[i].iov_len - 1;
        }
    }
    return NULL;
}

void vblk_req_handle(VblkReq *req)
{
    VirtQueueElement *e = &req->elem;
    VirtioBlk *vb = req->bq->vb;
    struct iovec *out = e->iov, *in = virtq_elem_in_iov(e);
    unsigned out_num = e->out_num, in_num = e->in_num;
    struct virtio_blk_outhdr hdr;
    uint32_t type;

    if (iov_to_buf(out, out_num, 0, &hdr, sizeof(hdr)) != sizeof(hdr) ||
        !(req->status = vblk_status_byte(in, in_num))) {
        VblkQueue *bq = req->bq;

        vu_queue_fail(req->q, e, "virtio-blk request without header or status byte");
        vblk_req_put(req);
        vblk_req_ended(bq, false);
        return;
    }
    iov_discard_front(&out, &out_num, sizeof(hdr));
    iov_discard_back(in, &in_num, 1);
    req->used_len = 1;
    type = le32toh(hdr.type);
    switch (type) {
    case VIRTIO_BLK_T_IN:
        vblk_rw(req, false, in, in_num, le64toh(hdr.sector));
        break;
    case VIRTIO_BLK_T_OUT:
        vblk_rw(req, true, out, out_num, le64toh(hdr.sector));
        break;
    case VIRTIO_BLK_T_FLUSH:
        vb->ops->flush(vb->be, req->ctx, vblk_backend_done, req);
        break;
    case VIRTIO_BLK_T_GET_ID:
        vblk_get_id(req, in, in_num);
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        vblk_dwz(req, type, out, out_num);
        break;
    default:
        vblk_complete(req, VIRTIO_BLK_S_UNSUPP);
        break;
    }
}

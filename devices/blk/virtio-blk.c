/*
 * devices/blk/virtio-blk.c - a virtio-blk device: features, config space,
 * per-queue request pools and the batch loop that pops a kick's requests.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "virtio-blk"

#include <string.h>
#include <linux/virtio_config.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/aio/defer-call.h"

#include "virtio-blk-internal.h"

static bool vblk_check_conf(const VblkConf *conf, const VblkBackendInfo *info,
                            uint32_t lbs, GError **errp)
{
    if (conf->num_queues == 0 || conf->num_queues > VU_MAX_QUEUES) {
        g_set_error(errp, VU_ERROR, 0, "num-queues must be 1..%d", VU_MAX_QUEUES);
        return false;
    }
    if (lbs != 512 && lbs != 4096) {
        g_set_error(errp, VU_ERROR, 0, "logical-block-size must be 512 or 4096, not %u",
                    lbs);
        return false;
    }
    if (lbs < info->logical_block_size) {
        g_set_error(errp, VU_ERROR, 0,
                    "logical-block-size %u is smaller than the drive's block size %u",
                    lbs, info->logical_block_size);
        return false;
    }
    if (info->size % lbs) {
        g_set_error(errp, VU_ERROR, 0,
                    "the drive's size %" G_GUINT64_FORMAT
                    " is not a multiple of the block size %u",
                    info->size, lbs);
        return false;
    }
    return true;
}

static uint64_t vblk_make_features(const VirtioBlk *vb)
{
    uint64_t f = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
                 (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_TOPOLOGY) |
                 (1ULL << VIRTIO_BLK_F_MQ);

    if (vb->info.read_only) {
        f |= 1ULL << VIRTIO_BLK_F_RO;
    } else {
        if (vb->info.discard) {
            f |= 1ULL << VIRTIO_BLK_F_DISCARD;
        }
        if (vb->info.write_zeroes) {
            f |= 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
        }
    }
    return f;
}

static void vblk_make_config(VirtioBlk *vb)
{
    struct virtio_blk_config *c = &vb->config;
    uint32_t pbs = MAX(vb->info.physical_block_size, vb->lbs);

    memset(c, 0, sizeof(*c));
    c->capacity = vb->capacity;
    c->seg_max = vb->seg_max;
    c->blk_size = vb->lbs;
    c->physical_block_exp = (uint8_t)(g_bit_nth_msf(pbs / vb->lbs, -1));
    c->num_queues = vb->num_queues;
    c->max_discard_sectors = VBLK_MAX_DWZ_SECTORS;
    c->max_discard_seg = 1;
    c->discard_sector_alignment = vb->lbs / 512;
    c->max_write_zeroes_sectors = VBLK_MAX_DWZ_SECTORS;
    c->max_write_zeroes_seg = 1;
    c->write_zeroes_may_unmap = vb->info.write_zeroes_may_unmap;
}

VirtioBlk *vblk_new(const VblkConf *conf, const VblkBackendInfo *info,
                    const VblkBackendOps *ops, void *be, GError **errp)
{
    uint32_t lbs = conf->logical_block_size ? conf->logical_block_size
                                            : MAX(info->logical_block_size, 512u);
    VirtioBlk *vb;

    if (!vblk_check_conf(conf, info, lbs, errp)) {
        return NULL;
    }
    vb = g_new0(VirtioBlk, 1);
    vb->ops = ops;
    vb->be = be;
    vb->info = *info;
    vb->num_queues = conf->num_queues;
    vb->lbs = lbs;
    vb->capacity = info->size / 512;
    vb->seg_max = MIN(VBLK_SEG_MAX, MAX(info->max_iov, 3u) - 2);
    vb->seg_max = MIN(vb->seg_max, (conf->queue_size ? conf->queue_size : 256u) - 2);
    vb->seg_max = MAX(vb->seg_max, 1u);
    vb->request_begin = conf->request_begin;
    vb->request_end = conf->request_end;
    vb->hook_opaque = conf->hook_opaque;
    vb->iov_cap = vb->seg_max + 2 + VBLK_IOV_SLACK;
    if (conf->serial) {
        /* NUL-padded, no terminator at 20 bytes (the GET_ID format). */
        memcpy(vb->serial, conf->serial, MIN(strlen(conf->serial), sizeof(vb->serial)));
    }
    vb->features = vblk_make_features(vb);
    vblk_make_config(vb);
    vb->queues = g_new0(VblkQueue, vb->num_queues);
    for (unsigned i = 0; i < vb->num_queues; i++) {
        vb->queues[i].vb = vb;
        vb->queues[i].index = i;
    }
    return vb;
}

void vblk_free(VirtioBlk *vb)
{
    if (!vb) {
        return;
    }
    for (unsigned i = 0; i < vb->num_queues; i++) {
        VblkQueue *bq = &vb->queues[i];

        g_warn_if_fail(bq->in_flight == 0);
        while (bq->free) {
            VblkReq *r = bq->free;

            bq->free = r->next_free;
            g_free(r);
        }
    }
    g_free(vb->queues);
    g_free(vb);
}

uint64_t vblk_features(VirtioBlk *vb)
{
    return vb->features;
}

void vblk_set_acked_features(VirtioBlk *vb, uint64_t features)
{
    qatomic_set(&vb->acked, features); /* read by queue threads (vblk_dwz) */
}

bool vblk_read_config(VirtioBlk *vb, uint8_t *buf, uint32_t offset, uint32_t len)
{
    if (offset < sizeof(vb->config)) {
        memcpy(buf, (uint8_t *)&vb->config + offset,
               MIN(len, sizeof(vb->config) - offset));
    }
    return true;
}

unsigned vblk_in_flight(VirtioBlk *vb, unsigned qidx)
{
    g_return_val_if_fail(qidx < vb->num_queues, 0);
    return vb->queues[qidx].in_flight;
}

/* ------------------------------------------------------------------------ */
/* Requests and the batch loop                                               */
/* ------------------------------------------------------------------------ */

static VblkReq *vblk_req_get(VblkQueue *bq, VuQueue *q, AioContext *ctx)
{
    VblkReq *req = bq->free;

    if (req) {
        bq->free = req->next_free;
    } else {
        req = g_malloc(sizeof(*req) + bq->vb->iov_cap * sizeof(struct iovec));
        bq->allocated++;
    }
    memset(req, 0, sizeof(*req));
    req->bq = bq;
    req->q = q;
    req->ctx = ctx;
    req->elem.iov = req->iov;
    req->elem.iov_cap = bq->vb->iov_cap;
    bq->in_flight++;
    return req;
}

void vblk_req_ended(VblkQueue *bq, bool ok)
{
    VirtioBlk *vb = bq->vb;

    if (vb->request_end) {
        vb->request_end(vb->hook_opaque, bq->index, ok);
    }
}

void vblk_req_put(VblkReq *req)
{
    VblkQueue *bq = req->bq;

    bq->in_flight--;
    req->next_free = bq->free;
    bq->free = req;
}

void vblk_process(VirtioBlk *vb, VuQueue *q, AioContext *ctx)
{
    VblkQueue *bq = &vb->queues[vu_queue_index(q)];
    /* In poll mode kicks are off already and stay off: the poll loop turns
     * them on before it sleeps (vu_queue_kick_poll_end). */
    bool toggle = vu_queue_get_notification(q);

    if (vb->ops->plug) {
        vb->ops->plug(vb->be, ctx);
    }
    defer_call_begin(); /* requests completed at once: published once */
    do {
        if (toggle) {
            vu_queue_set_notification(q, false);
        }
        for (;;) {
            VblkReq *req = vblk_req_get(bq, q, ctx);

            if (!vu_queue_pop(q, &req->elem)) {
                vblk_req_put(req);
                break;
            }
            if (vb->request_begin) {
                vb->request_begin(vb->hook_opaque, bq->index);
            }
            vblk_req_handle(req);
        }
        if (toggle) {
            vu_queue_set_notification(q, true);
        }
    } while (toggle && vu_queue_has_work(q));
    defer_call_end();
    if (vb->ops->unplug) {
        vb->ops->unplug(vb->be, ctx); /* one submission for the whole batch */
    }
}

/* ------------------------------------------------------------------------ */
/* VuDevOps glue                                                             */
/* ------------------------------------------------------------------------ */

static uint64_t vblk_vu_get_features(VuDev *dev)
{
    return vblk_features(vu_dev_get_opaque(dev));
}

static void vblk_vu_set_features(VuDev *dev, uint64_t features)
{
    vblk_set_acked_features(vu_dev_get_opaque(dev), features);
}

static bool vblk_vu_get_config(VuDev *dev, uint8_t *buf, uint32_t offset, uint32_t len)
{
    return vblk_read_config(vu_dev_get_opaque(dev), buf, offset, len);
}

static void vblk_vu_process(VuDev *dev, VuQueue *q)
{
    vblk_process(vu_dev_get_opaque(dev), q, NULL);
}

void vblk_fill_vu_ops(VuDevOps *ops)
{
    ops->get_features = vblk_vu_get_features;
    ops->set_features = vblk_vu_set_features;
    ops->get_config = vblk_vu_get_config;
    ops->set_config = NULL; /* no writable field: CONFIG_WCE is not offered */
    ops->process = vblk_vu_process;
}

/*
 * frontend/fe-blk-sync.c - blocking virtio-blk helpers for the tests:
 * each submits on one queue and waits, bounded by the timeout, for its own
 * requests.  Requests abandoned on a timeout become orphans: their slots
 * return to the queue when the back-end completes them at last.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "frontend/fe-blk-internal.h"

/* One blocking call's requests. */
typedef struct {
    FeBlkQueue *q;
    gboolean write; /* copy in (device-readable data) rather than out */
    const uint8_t *in;
    uint8_t *out;
    unsigned pending;
    uint8_t status;   /* the first non-OK status, else OK */
    uint64_t bad_off; /* where it happened */
} Batch;

static gboolean status_error(uint8_t status, uint64_t offset, GError **errp)
{
    switch (status) {
    case VIRTIO_BLK_S_OK:
        return TRUE;
    case VIRTIO_BLK_S_IOERR:
        g_set_error(errp, FE_ERROR, FE_ERROR_IO,
                    "virtio-blk: I/O error at offset %" G_GUINT64_FORMAT, offset);
        break;
    case VIRTIO_BLK_S_UNSUPP:
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "virtio-blk: the device does not support the request");
        break;
    case FE_BLK_S_ABORTED:
        g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                    "virtio-blk: the back-end was lost with the request in flight");
        break;
    default:
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "virtio-blk: the device returned unknown status %u", status);
        break;
    }
    return FALSE;
}

/* A completion: ours (copy out, count) or another's (keep for later). */
static void finish(Batch *b, FeBlkReq *r)
{
    if (r->opaque != b) {
        if (r->opaque == &fe_blk_orphan) {
            fe_blk_req_put(b->q, r);
        } else {
            g_queue_push_tail(&b->q->ready, r);
        }
        return;
    }
    if (r->status != VIRTIO_BLK_S_OK && b->status == VIRTIO_BLK_S_OK) {
        b->status = r->status;
        b->bad_off = r->chunk_off;
    }
    if (b->out && r->status == VIRTIO_BLK_S_OK) {
        memcpy(b->out + r->chunk_off, r->data, r->len);
    }
    b->pending--;
    fe_blk_req_put(b->q, r);
}

/* Wait for every pending request of @b; on failure, orphan them. */
static gboolean drain(Batch *b, GError **errp)
{
    FeBlkQueue *q = b->q;
    int timeout = fe_conn_timeout(fe_device_conn(q->blk->dev));
    GQueue others = G_QUEUE_INIT;
    FeBlkReq *r;

    while (b->pending) {
        while (b->pending && (r = fe_blk_next_done(q))) {
            if (r->opaque != b && r->opaque != &fe_blk_orphan) {
                g_queue_push_tail(&others, r);
            } else {
                finish(b, r);
            }
        }
        if (b->pending && !fe_blk_wait(q, timeout, errp)) {
            for (unsigned k = 0; k < q->n; k++) {
                if (q->slots[k].submitted && q->slots[k].opaque == b) {
                    q->slots[k].opaque = &fe_blk_orphan;
                }
            }
            while ((r = g_queue_pop_head(&others))) {
                g_queue_push_tail(&q->ready, r);
            }
            return FALSE;
        }
    }
    while ((r = g_queue_pop_head(&others))) {
        g_queue_push_tail(&q->ready, r);
    }
    return TRUE;
}

static gboolean submit_one(Batch *b, uint32_t type, uint64_t sector, uint64_t off,
                           uint32_t len, GError **errp)
{
    FeBlkQueue *q = b->q;
    FeBlkReq *r = fe_blk_req_get(q);

    if (!r) {
        g_set_error(errp, FE_ERROR, FE_ERROR_NOSPACE,
                    "virtio-blk: every request slot of the queue is in use");
        return FALSE;
    }
    r->type = type;
    r->sector = sector;
    r->len = len;
    r->opaque = b;
    r->chunk_off = off;
    if (b->in && len) {
        memcpy(r->data, b->in + off, len);
    }
    if (!fe_blk_submit(q, r, errp)) {
        r->opaque = NULL;
        fe_blk_req_put(q, r);
        return FALSE;
    }
    b->pending++;
    return TRUE;
}

static FeBlkQueue *queue_of(FeBlk *blk, unsigned q, GError **errp)
{
    if (q >= blk->opt.num_queues) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID, "virtio-blk: no queue %u", q);
        return NULL;
    }
    return &blk->queues[q];
}

gboolean fe_blk_exec(FeBlk *blk, unsigned q, uint32_t type, uint64_t sector,
                     const void *in, void *out, uint32_t len, uint8_t *status,
                     GError **errp)
{
    Batch b = {.q = queue_of(blk, q, errp), .in = in, .out = out};

    if (!b.q) {
        return FALSE;
    }
    if (!submit_one(&b, type, sector, 0, len, errp)) {
        return FALSE;
    }
    fe_blk_kick(b.q);
    if (!drain(&b, errp)) {
        return FALSE;
    }
    if (status) {
        *status = b.status;
    }
    return TRUE;
}

/* Reads and writes of any size: chunks of max_io, as many in flight as fit. */
static gboolean rw(FeBlk *blk, unsigned qi, uint32_t type, uint64_t offset,
                   const void *in, void *out, size_t len, GError **errp)
{
    Batch b = {.q = queue_of(blk, qi, errp), .in = in, .out = out};
    size_t sent = 0;

    if (!b.q) {
        return FALSE;
    }
    if (!blk->opt.unchecked && (offset % 512 || len % 512)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "virtio-blk: offset and length must be multiples of 512");
        return FALSE;
    }
    while (sent < len || b.pending) {
        while (sent < len && b.q->nfree) {
            uint32_t chunk = (uint32_t)MIN(len - sent, (size_t)blk->opt.max_io);

            if (!submit_one(&b, type, (offset + sent) / 512, sent, chunk, errp)) {
                fe_blk_kick(b.q);
                drain(&b, NULL);
                return FALSE;
            }
            sent += chunk;
        }
        fe_blk_kick(b.q);
        if (!drain(&b, errp)) {
            return FALSE;
        }
    }
    return status_error(b.status, offset + b.bad_off, errp);
}

gboolean fe_blk_write(FeBlk *blk, unsigned q, uint64_t offset, const void *buf,
                      size_t len, GError **errp)
{
    return rw(blk, q, VIRTIO_BLK_T_OUT, offset, buf, NULL, len, errp);
}

gboolean fe_blk_read(FeBlk *blk, unsigned q, uint64_t offset, void *buf, size_t len,
                     GError **errp)
{
    return rw(blk, q, VIRTIO_BLK_T_IN, offset, NULL, buf, len, errp);
}

gboolean fe_blk_flush(FeBlk *blk, unsigned q, GError **errp)
{
    uint8_t status;

    return fe_blk_exec(blk, q, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0, &status, errp) &&
           status_error(status, 0, errp);
}

gboolean fe_blk_get_id(FeBlk *blk, unsigned q, char id[VIRTIO_BLK_ID_BYTES + 1],
                       GError **errp)
{
    uint8_t status;

    memset(id, 0, VIRTIO_BLK_ID_BYTES + 1);
    return fe_blk_exec(blk, q, VIRTIO_BLK_T_GET_ID, 0, NULL, id, VIRTIO_BLK_ID_BYTES,
                       &status, errp) &&
           status_error(status, 0, errp);
}

/* One segment per request, each at most the device's limit of sectors. */
static gboolean ranges(FeBlk *blk, unsigned q, uint32_t type, uint64_t offset,
                       uint64_t len, uint32_t flags, GError **errp)
{
    const struct virtio_blk_config *c = &blk->cfg;
    uint32_t limit = type == VIRTIO_BLK_T_DISCARD ? c->max_discard_sectors
                                                  : c->max_write_zeroes_sectors;

    if (!blk->opt.unchecked &&
        (offset % 512 || len % 512 || len == 0 || offset + len > fe_blk_capacity(blk) ||
         offset + len < offset)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "virtio-blk: range must be 512-byte aligned and inside the disk");
        return FALSE;
    }
    limit = limit ? limit : G_MAXUINT32;
    for (uint64_t done = 0; done < len;) {
        uint64_t n = MIN((len - done) / 512, (uint64_t)limit);
        struct virtio_blk_discard_write_zeroes seg = {.sector = (offset + done) / 512,
                                                      .num_sectors =
                                                          (uint32_t)MAX(n, 1),
                                                      .flags = flags};
        uint8_t status;

        if (!fe_blk_exec(blk, q, type, 0, &seg, NULL, sizeof(seg), &status, errp) ||
            !status_error(status, offset + done, errp)) {
            return FALSE;
        }
        done += MAX(n, 1) * 512;
    }
    return TRUE;
}

gboolean fe_blk_discard(FeBlk *blk, unsigned q, uint64_t offset, uint64_t len,
                        GError **errp)
{
    return ranges(blk, q, VIRTIO_BLK_T_DISCARD, offset, len, 0, errp);
}

gboolean fe_blk_write_zeroes(FeBlk *blk, unsigned q, uint64_t offset, uint64_t len,
                             gboolean unmap, GError **errp)
{
    return ranges(blk, q, VIRTIO_BLK_T_WRITE_ZEROES, offset, len,
                  unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0, errp);
}

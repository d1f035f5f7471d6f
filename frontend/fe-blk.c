/*
 * frontend/fe-blk.c - virtio-blk driver: open, slots, asynchronous
 * requests.  The blocking helpers are in fe-blk-sync.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "frontend/fe-blk-internal.h"

#define FE_BLK_DEFAULT_MAX_IO (128u * 1024)
#define FE_BLK_DEFAULT_EXTRA_MEM (4ull << 20)
#define FE_BLK_DATA_ALIGN 4096u

/* The opaque of requests whose blocking caller gave up (timeout). */
char fe_blk_orphan;

/* ------------------------------------------------------------------------ */
/* Open and close                                                             */
/* ------------------------------------------------------------------------ */

static uint64_t blk_features(const FeBlkOptions *o)
{
    uint64_t f = FE_DEVICE_RING_FEATURES;

    f |= (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
         (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
         (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_TOPOLOGY) |
         (1ull << VIRTIO_BLK_F_MQ) | (1ull << VIRTIO_BLK_F_DISCARD) |
         (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
    if (o->no_indirect) {
        f &= ~(1ull << VIRTIO_RING_F_INDIRECT_DESC);
    }
    return f;
}

static unsigned round_up(unsigned v, unsigned a)
{
    return (v + a - 1) / a * a;
}

static gboolean check_options(FeBlkOptions *o, GError **errp)
{
    o->num_queues = o->num_queues ? o->num_queues : 1;
    o->queue_size = o->queue_size ? o->queue_size : 256;
    o->iodepth = o->iodepth ? o->iodepth : MIN(o->queue_size, 256u);
    o->max_io = o->max_io ? round_up(o->max_io, 512) : FE_BLK_DEFAULT_MAX_IO;
    o->data_segs = o->data_segs ? o->data_segs : 1;
    o->extra_mem = o->extra_mem ? o->extra_mem : FE_BLK_DEFAULT_EXTRA_MEM;
    if (o->iodepth > o->queue_size || o->max_io > (64u << 20) || o->data_segs > 64 ||
        o->data_segs * 512 > o->max_io) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "virtio-blk: iodepth must be <= queue size, max_io <= 64 MiB, "
                    "data_segs in 1..64 and at most max_io/512");
        return FALSE;
    }
    return TRUE;
}

static uint64_t mem_needed(const FeBlkOptions *o)
{
    uint64_t per_queue =
        (uint64_t)o->iodepth * (round_up(o->max_io, FE_BLK_DATA_ALIGN) + 64) +
        (uint64_t)o->queue_size * (16 * (o->data_segs + 2) + 32) + 3 * 4096;

    return per_queue * o->num_queues + o->extra_mem + (1u << 20);
}

static gboolean check_config(FeBlk *blk, GError **errp)
{
    const FeBlkOptions *o = &blk->opt;
    const struct virtio_blk_config *c = &blk->cfg;

    if (o->unchecked) {
        return TRUE;
    }
    if (!fe_device_config(blk->dev)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "virtio-blk: the back-end does not offer its config space "
                    "(VHOST_USER_PROTOCOL_F_CONFIG): the disk size is unknown");
        return FALSE;
    }
    if (o->num_queues > 1 &&
        (!fe_blk_has_feature(blk, VIRTIO_BLK_F_MQ) || c->num_queues < o->num_queues)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "virtio-blk: the back-end has %u queues, not %u",
                    fe_blk_has_feature(blk, VIRTIO_BLK_F_MQ) ? c->num_queues : 1,
                    o->num_queues);
        return FALSE;
    }
    if (fe_blk_has_feature(blk, VIRTIO_BLK_F_SEG_MAX) && c->seg_max &&
        o->data_segs > c->seg_max) {
        g_set_error(errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
                    "virtio-blk: the back-end takes %u segments per request, not %u",
                    c->seg_max, o->data_segs);
        return FALSE;
    }
    if (fe_blk_has_feature(blk, VIRTIO_BLK_F_SIZE_MAX) && c->size_max &&
        o->max_io / o->data_segs > c->size_max) {
        g_set_error(
            errp, FE_ERROR, FE_ERROR_UNSUPPORTED,
            "virtio-blk: segments of %u bytes exceed the back-end's size_max %u",
            o->max_io / o->data_segs, c->size_max);
        return FALSE;
    }
    return TRUE;
}

static gboolean init_queue(FeBlk *blk, FeBlkQueue *q, unsigned i, GError **errp)
{
    FeMem *mem = fe_device_mem(blk->dev);
    unsigned stride = round_up(blk->opt.max_io, FE_BLK_DATA_ALIGN);
    uint64_t data_gpa, meta_gpa;

    q->blk = blk;
    q->vq = fe_device_vq(blk->dev, i);
    q->n = blk->opt.iodepth;
    q->slots = g_new0(FeBlkReq, q->n);
    q->free_stack = g_new(unsigned, q->n);
    g_queue_init(&q->ready);
    q->data = fe_mem_alloc(mem, (size_t)stride * q->n, FE_BLK_DATA_ALIGN, &data_gpa);
    q->meta = fe_mem_alloc(mem, (size_t)64 * q->n, 64, &meta_gpa);
    if (!q->data || !q->meta) {
        g_set_error(errp, FE_ERROR, FE_ERROR_NOSPACE,
                    "virtio-blk: guest memory too small for the request slots");
        return FALSE;
    }
    for (unsigned k = 0; k < q->n; k++) {
        FeBlkReq *r = &q->slots[k];

        r->slot = k;
        r->data = q->data + (size_t)stride * k;
        r->data_gpa = data_gpa + (uint64_t)stride * k;
        r->hdr = (struct virtio_blk_outhdr *)(q->meta + 64 * k);
        r->hdr_gpa = meta_gpa + 64 * k;
        r->status_byte = q->meta + 64 * k + 32;
        r->status_gpa = r->hdr_gpa + 32;
        q->free_stack[q->nfree++] = q->n - 1 - k;
    }
    return TRUE;
}

static void abort_request(FeVq *vq, void *token, void *opaque)
{
    FeBlk *blk = opaque;
    FeBlkReq *req = token;

    for (unsigned i = 0; i < blk->opt.num_queues; i++) {
        FeBlkQueue *q = &blk->queues[i];

        if (q->vq == vq) {
            req->status = FE_BLK_S_ABORTED;
            req->used_len = 0;
            req->submitted = FALSE;
            q->inflight--;
            g_queue_push_tail(&q->ready, req);
        }
    }
}

FeBlk *fe_blk_open(const FeBlkOptions *opt, GError **errp)
{
    FeBlk *blk = g_new0(FeBlk, 1);
    FeDeviceOptions dopt = {0};

    blk->opt = *opt;
    if (!check_options(&blk->opt, errp)) {
        g_free(blk);
        return NULL;
    }
    dopt.socket_path = opt->socket_path;
    dopt.timeout_ms = opt->timeout_ms;
    dopt.num_queues = blk->opt.num_queues;
    dopt.queue_size = blk->opt.queue_size;
    dopt.max_indirect = blk->opt.data_segs + 2;
    dopt.mem_size = mem_needed(&blk->opt);
    dopt.features = blk_features(&blk->opt);
    dopt.config_size = FE_BLK_CONFIG_SIZE;
    dopt.no_inflight = opt->no_inflight;
    dopt.no_mem_slots = opt->no_mem_slots;
    dopt.no_event_idx = opt->no_event_idx;
    dopt.abort_fn = abort_request;
    dopt.abort_opaque = blk;
    blk->dev = fe_device_new(&dopt, errp);
    if (!blk->dev) {
        g_free(blk);
        return NULL;
    }
    if (fe_device_config(blk->dev)) {
        memcpy(&blk->cfg, fe_device_config(blk->dev), FE_BLK_CONFIG_SIZE);
    }
    blk->queues = g_new0(FeBlkQueue, blk->opt.num_queues);
    if (!check_config(blk, errp)) {
        fe_blk_close(blk);
        return NULL;
    }
    for (unsigned i = 0; i < blk->opt.num_queues; i++) {
        if (!init_queue(blk, &blk->queues[i], i, errp)) {
            fe_blk_close(blk);
            return NULL;
        }
    }
    if (!fe_device_start(blk->dev, errp)) {
        fe_blk_close(blk);
        return NULL;
    }
    return blk;
}

void fe_blk_close(FeBlk *blk)
{
    if (!blk) {
        return;
    }
    for (unsigned i = 0; blk->queues && i < blk->opt.num_queues; i++) {
        FeBlkQueue *q = &blk->queues[i];

        g_queue_clear(&q->ready);
        g_free(q->slots);
        g_free(q->free_stack);
    }
    /* the slots' memory goes with the device's guest memory */
    fe_device_free(blk->dev);
    g_free(blk->queues);
    g_free(blk);
}

FeDevice *fe_blk_device(FeBlk *blk)
{
    return blk->dev;
}

const struct virtio_blk_config *fe_blk_config(const FeBlk *blk)
{
    return &blk->cfg;
}

uint64_t fe_blk_capacity(const FeBlk *blk)
{
    return blk->cfg.capacity * 512;
}

gboolean fe_blk_has_feature(const FeBlk *blk, unsigned bit)
{
    return fe_device_has_feature(blk->dev, bit);
}

unsigned fe_blk_num_queues(const FeBlk *blk)
{
    return blk->opt.num_queues;
}

unsigned fe_blk_max_io(const FeBlk *blk)
{
    return blk->opt.max_io;
}

gboolean fe_blk_reconnect(FeBlk *blk, GError **errp)
{
    return fe_device_reconnect(blk->dev, errp);
}

/* ------------------------------------------------------------------------ */
/* Asynchronous requests                                                      */
/* ------------------------------------------------------------------------ */

FeBlkQueue *fe_blk_queue(FeBlk *blk, unsigned i)
{
    g_return_val_if_fail(i < blk->opt.num_queues, NULL);
    return &blk->queues[i];
}

FeVq *fe_blk_queue_vq(FeBlkQueue *q)
{
    return q->vq;
}

FeBlkReq *fe_blk_req_get(FeBlkQueue *q)
{
    FeBlkReq *r;

    if (!q->nfree) {
        return NULL;
    }
    r = &q->slots[q->free_stack[--q->nfree]];
    r->type = VIRTIO_BLK_T_IN;
    r->sector = 0;
    r->len = 0;
    r->opaque = NULL;
    r->status = 0;
    r->used_len = 0;
    return r;
}

void fe_blk_req_put(FeBlkQueue *q, FeBlkReq *req)
{
    g_return_if_fail(!req->submitted && q->nfree < q->n);
    q->free_stack[q->nfree++] = req->slot;
}

static gboolean is_write_type(uint32_t type)
{
    return type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD ||
           type == VIRTIO_BLK_T_WRITE_ZEROES;
}

static gboolean invalid(GError **errp, const char *what)
{
    g_set_error(errp, FE_ERROR, FE_ERROR_INVALID, "virtio-blk: %s", what);
    return FALSE;
}

/* The spec's rules for the driver (virtio 1.x 5.2.6.1). */
static gboolean check_request(FeBlk *blk, const FeBlkReq *r, GError **errp)
{
    uint64_t cap = fe_blk_capacity(blk);

    switch (r->type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        if (r->len == 0 || r->len % 512) {
            return invalid(errp,
                           "read/write length must be a non-zero multiple of 512");
        }
        if (r->sector > cap / 512 || r->len > cap - r->sector * 512) {
            return invalid(errp, "request past the end of the disk");
        }
        break;
    case VIRTIO_BLK_T_FLUSH:
        if (!fe_blk_has_feature(blk, VIRTIO_BLK_F_FLUSH)) {
            return invalid(errp, "the device does not offer FLUSH");
        }
        break;
    case VIRTIO_BLK_T_GET_ID:
        if (r->len < VIRTIO_BLK_ID_BYTES) {
            return invalid(errp, "GET_ID needs a 20-byte buffer");
        }
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        if (!fe_blk_has_feature(blk, r->type == VIRTIO_BLK_T_DISCARD
                                         ? VIRTIO_BLK_F_DISCARD
                                         : VIRTIO_BLK_F_WRITE_ZEROES)) {
            return invalid(errp, "the device does not offer DISCARD/WRITE_ZEROES");
        }
        if (r->len == 0 || r->len % sizeof(struct virtio_blk_discard_write_zeroes)) {
            return invalid(errp, "DISCARD/WRITE_ZEROES data is an array of segments");
        }
        break;
    default:
        return invalid(errp, "unknown request type");
    }
    if (is_write_type(r->type) && fe_blk_has_feature(blk, VIRTIO_BLK_F_RO)) {
        return invalid(errp, "the device is read-only");
    }
    return TRUE;
}

/* Split the data buffer into @segs descriptors of 512-byte multiples. */
static unsigned data_bufs(const FeBlkReq *r, unsigned segs, gboolean write,
                          FeVqBuf *out)
{
    uint32_t left = r->len, off = 0;
    unsigned n = 0;

    for (unsigned k = 0; k < segs && left; k++) {
        uint32_t piece =
            k + 1 == segs ? left : MAX(round_up(left / (segs - k), 512), 512);

        piece = MIN(piece, left);
        out[n++] = (FeVqBuf){.gpa = r->data_gpa + off, .len = piece, .write = write};
        off += piece;
        left -= piece;
    }
    return n;
}

gboolean fe_blk_submit(FeBlkQueue *q, FeBlkReq *req, GError **errp)
{
    FeBlk *blk = q->blk;
    gboolean dev_writes =
        req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_GET_ID;
    FeVqBuf bufs[64 + 2];
    unsigned n = 0;

    g_return_val_if_fail(!req->submitted, FALSE);
    if (req->len > blk->opt.max_io) {
        return invalid(errp, "request larger than the slot's buffer (max_io)");
    }
    if (!blk->opt.unchecked && !check_request(blk, req, errp)) {
        return FALSE;
    }
    req->hdr->type = req->type;
    req->hdr->ioprio = 0;
    req->hdr->sector = (req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT ||
                        blk->opt.unchecked)
                           ? req->sector
                           : 0;
    *req->status_byte = 0xee; /* the device overwrites it */
    bufs[n++] =
        (FeVqBuf){.gpa = req->hdr_gpa, .len = sizeof(*req->hdr), .write = FALSE};
    n += data_bufs(req, blk->opt.data_segs, dev_writes, &bufs[n]);
    bufs[n++] = (FeVqBuf){.gpa = req->status_gpa, .len = 1, .write = TRUE};
    if (fe_vq_add(q->vq, bufs, n, req) < 0) {
        g_set_error(errp, FE_ERROR,
                    fe_vq_error(q->vq) ? FE_ERROR_PROTOCOL : FE_ERROR_NOSPACE,
                    "virtio-blk: %s",
                    fe_vq_error(q->vq) ? fe_vq_error(q->vq) : "the ring is full");
        return FALSE;
    }
    req->submitted = TRUE;
    q->inflight++;
    return TRUE;
}

void fe_blk_kick(FeBlkQueue *q)
{
    fe_vq_kick(q->vq);
}

/* The next completion, orphans of a timed-out blocking call included. */
FeBlkReq *fe_blk_next_done(FeBlkQueue *q)
{
    FeBlkReq *r = g_queue_pop_head(&q->ready);
    uint32_t len = 0;

    if (r) {
        return r;
    }
    r = fe_vq_get_used(q->vq, &len);
    if (!r) {
        return NULL;
    }
    r->submitted = FALSE;
    q->inflight--;
    r->used_len = len;
    /* the status byte was written before the used element was published;
     * fe_vq_get_used()'s acquire load orders this read after it */
    r->status = *r->status_byte;
    return r;
}

FeBlkReq *fe_blk_complete(FeBlkQueue *q)
{
    FeBlkReq *r;

    while ((r = fe_blk_next_done(q)) && r->opaque == &fe_blk_orphan) {
        fe_blk_req_put(q, r);
    }
    return r;
}

gboolean fe_blk_wait(FeBlkQueue *q, int timeout_ms, GError **errp)
{
    if (!g_queue_is_empty(&q->ready)) {
        return TRUE;
    }
    if (fe_vq_error(q->vq)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL, "virtio-blk: %s",
                    fe_vq_error(q->vq));
        return FALSE;
    }
    if (!fe_vq_enable_cb(q->vq)) {
        return TRUE; /* completions are already there */
    }
    return fe_vq_wait(q->vq, timeout_ms, errp);
}

unsigned fe_blk_inflight(const FeBlkQueue *q)
{
    return q->inflight;
}

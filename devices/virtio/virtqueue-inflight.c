/*
 * devices/virtio/virtqueue-inflight.c - inflight tracking of a split
 * virtqueue in the region shared by vhost-user's INFLIGHT_SHMFD, exactly as
 * docs/interop/vhost-user.rst ("Inflight I/O tracking") lays it out, so that
 * a back-end that died can be restarted and complete what was in flight.
 *
 * The region outlives this process: every write below is ordered for a
 * reader that is the next back-end process, after this one died at any
 * instruction.  Each smp_wmb() here pairs with the reads of
 * virtq_inflight_recover() in that next process (program order on the
 * dying CPU is what the kernel's page cache keeps).
 *
 * The region is also writable by the front-end: nothing read from it is
 * trusted (indices are bounded by the queue size, never by its desc_num).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "qcontext/aio/atomic.h"
#include "virtqueue-internal.h"

#define INFLIGHT_VERSION 1
#define INFLIGHT_ALIGN 64

size_t virtq_inflight_region_size(uint16_t queue_size)
{
    size_t sz = sizeof(VhostUserInflightQueueSplit) +
                (size_t)queue_size * sizeof(VhostUserInflightDescSplit);

    return (sz + INFLIGHT_ALIGN - 1) & ~(size_t)(INFLIGHT_ALIGN - 1);
}

void virtq_inflight_get(VirtQueue *vq, uint16_t head)
{
    VhostUserInflightDescSplit *d;

    if (!vq->inflight) {
        return;
    }
    d = &vq->inflight->desc[head];
    qatomic_set(&d->counter, vq->counter++);
    smp_wmb(); /* the counter is valid once inflight is seen set */
    qatomic_set(&d->inflight, 1);
}

void virtq_inflight_unget(VirtQueue *vq, uint16_t head)
{
    if (!vq->inflight) {
        return;
    }
    qatomic_set(&vq->inflight->desc[head].inflight, 0);
    vq->counter--;
}

void virtq_inflight_put(VirtQueue *vq, uint16_t head)
{
    VhostUserInflightQueueSplit *r = vq->inflight;

    if (!r) {
        return;
    }
    /* Prepend @head to the list of the batch being pushed. */
    qatomic_set(&r->desc[head].next, qatomic_read(&r->last_batch_head));
    smp_wmb(); /* the link is in place before the list head moves */
    qatomic_set(&r->last_batch_head, head);
    vq->batch[vq->batch_num++] = head;
}

void virtq_inflight_flushed(VirtQueue *vq)
{
    VhostUserInflightQueueSplit *r = vq->inflight;

    if (!r) {
        return;
    }
    /* used->idx was published (release store in virtq_flush()) before this:
     * a death here leaves used_idx behind used->idx, and the recovery clears
     * the batch from last_batch_head. */
    for (unsigned i = 0; i < vq->batch_num; i++) {
        qatomic_set(&r->desc[vq->batch[i]].inflight, 0);
    }
    vq->batch_num = 0;
    smp_wmb(); /* the batch is clear before used_idx says so */
    qatomic_set(&r->used_idx, vq->published_idx);
}

/* A fresh region (version 0): initialize it for this queue. */
static void inflight_init(VirtQueue *vq, VhostUserInflightQueueSplit *r)
{
    memset(r->desc, 0, (size_t)vq->num * sizeof(r->desc[0]));
    qatomic_set(&r->features, 0);
    qatomic_set(&r->desc_num, vq->num);
    qatomic_set(&r->last_batch_head, 0);
    qatomic_set(&r->used_idx, vq->used_idx);
    smp_wmb(); /* the region is consistent before it claims a version */
    qatomic_set(&r->version, INFLIGHT_VERSION);
    vq->counter = 0;
}

/* The last batch was published to used->idx but not cleared: clear it. */
static void inflight_reconcile(VirtQueue *vq, VhostUserInflightQueueSplit *r)
{
    uint16_t batch = (uint16_t)(vq->used_idx - qatomic_read(&r->used_idx));
    uint16_t i = qatomic_read(&r->last_batch_head);

    for (unsigned k = 0; k < batch && k < vq->num && i < vq->num; k++) {
        qatomic_set(&r->desc[i].inflight, 0);
        i = qatomic_read(&r->desc[i].next);
    }
    smp_wmb(); /* pairs with the reads of the next recovery, as above */
    qatomic_set(&r->used_idx, vq->used_idx);
}

typedef struct InflightHead {
    uint64_t counter;
    uint16_t head;
} InflightHead;

static int inflight_head_cmp(const void *a, const void *b)
{
    const InflightHead *x = a, *y = b;

    return x->counter < y->counter ? -1 : x->counter > y->counter;
}

unsigned virtq_inflight_recover(VirtQueue *vq, VhostUserInflightQueueSplit *r)
{
    InflightHead *heads;
    unsigned n = 0;

    g_clear_pointer(&vq->batch, g_free);
    g_clear_pointer(&vq->resubmit, g_free);
    vq->resubmit_num = vq->resubmit_pos = vq->batch_num = 0;
    vq->inflight = r;
    if (!r) {
        return 0;
    }
    vq->batch = g_new(uint16_t, vq->num);
    if (qatomic_read(&r->version) == 0) {
        inflight_init(vq, r);
        return 0;
    }
    if (qatomic_read(&r->used_idx) != vq->used_idx) {
        inflight_reconcile(vq, r);
    }
    heads = g_new(InflightHead, vq->num);
    for (uint16_t i = 0; i < vq->num; i++) {
        if (qatomic_read(&r->desc[i].inflight) == 1) {
            heads[n].head = i;
            heads[n].counter = qatomic_read(&r->desc[i].counter);
            n++;
        }
    }
    qsort(heads, n, sizeof(heads[0]), inflight_head_cmp);
    vq->resubmit = g_new(uint16_t, MAX(n, 1));
    for (unsigned k = 0; k < n; k++) {
        vq->resubmit[k] = heads[k].head;
    }
    vq->resubmit_num = n;
    vq->counter = n ? heads[n - 1].counter + 1 : 0;
    g_free(heads);
    /* Every popped head is either used (counted in used->idx) or inflight. */
    vq->in_use = n;
    vq->last_avail_idx = vq->shadow_avail_idx = (uint16_t)(vq->used_idx + n);
    return n;
}

void virtq_drop_resubmits(VirtQueue *vq)
{
    unsigned left = vq->resubmit_num - vq->resubmit_pos;

    vq->in_use -= MIN(left, vq->in_use);
    vq->resubmit_num = vq->resubmit_pos = 0;
    vq->last_resubmit = false;
}

/*
 * devices/virtio/virtqueue.c - split virtqueue, device side: popping
 * descriptor chains (direct and indirect) into iovecs, pushing used
 * entries, notification suppression (EVENT_IDX, NO_INTERRUPT/NO_NOTIFY).
 *
 * The driver side of every barrier named below is the Linux driver
 * (drivers/virtio/virtio_ring.c); any conforming driver has the same
 * barriers, as the virtio spec's "Driver Requirements" require.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/virtio/virtqueue.h"
#include "virtqueue-internal.h"

void virtq_init(VirtQueue *vq, const VirtioMemTable *mem, uint16_t num,
                struct vring_desc *desc, struct vring_avail *avail,
                struct vring_used *used, uint64_t features, uint16_t last_avail_idx)
{
    g_free(vq->resubmit);
    g_free(vq->batch);
    memset(vq, 0, sizeof(*vq));
    vq->mem = mem;
    vq->num = num;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    vq->event_idx = !!(features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
    vq->indirect = !!(features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
    vq->last_avail_idx = last_avail_idx;
    vq->shadow_avail_idx = last_avail_idx;
    /* The used index lives in guest memory: after a restart it is where the
     * previous back-end (or session) left it, not 0. */
    vq->used_idx = qatomic_read(&used->idx);
    vq->published_idx = vq->used_idx;
}

void virtq_cleanup(VirtQueue *vq)
{
    g_free(vq->resubmit);
    g_free(vq->batch);
    memset(vq, 0, sizeof(*vq));
}

void virtq_set_broken(VirtQueue *vq, const char *why)
{
    if (!vq->broken) {
        vq->broken = true;
        vq->error = why;
    }
}

static int walk_fail(VirtQueue *vq, const char *why)
{
    virtq_set_broken(vq, why);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Descriptor chains                                                         */
/* ------------------------------------------------------------------------ */

typedef struct DescWalk {
    VirtQueue *vq;
    VirtQueueElement *elem;
    uint64_t total; /* bytes of the chain so far */
} DescWalk;

/* Snapshot a descriptor: the driver may change it under us, so every field
 * is read exactly once and only the copy is checked and used. */
static void desc_load(const struct vring_desc *src, struct vring_desc *d)
{
    d->addr = qatomic_read(&src->addr);
    d->len = qatomic_read(&src->len);
    d->flags = qatomic_read(&src->flags);
    d->next = qatomic_read(&src->next);
}

/* Map one buffer descriptor into the element's iovecs. */
static int walk_map(DescWalk *w, const struct vring_desc *d)
{
    VirtQueueElement *elem = w->elem;
    unsigned used = elem->out_num + elem->in_num;
    bool write = d->flags & VRING_DESC_F_WRITE;
    int n;

    if (d->len == 0) {
        return 0; /* a zero-length buffer: nothing to map, nothing to touch */
    }
    if (!write && elem->in_num) {
        return walk_fail(w->vq,
                         "device-readable descriptor after a device-writable one");
    }
    w->total += d->len;
    if (w->total > UINT32_MAX) {
        return walk_fail(w->vq, "descriptor chain longer than 4 GiB");
    }
    n = virtio_mem_gpa_to_iov(w->vq->mem, d->addr, d->len, elem->iov + used,
                              elem->iov_cap - used);
    if (n == -EFAULT) {
        return walk_fail(w->vq, "descriptor buffer outside guest memory");
    }
    if (n < 0) {
        return walk_fail(w->vq, "descriptor chain has too many segments");
    }
    if (write) {
        elem->in_num += n;
    } else {
        elem->out_num += n;
    }
    return 0;
}

/* Entry @i of an indirect table: from @table if it is mapped contiguously
 * and aligned, else copied from guest memory piece by piece. */
static bool indirect_load(DescWalk *w, const struct vring_desc *table, uint64_t gpa,
                          unsigned i, struct vring_desc *d)
{
    if (table) {
        desc_load(&table[i], d);
        return true;
    }
    return virtio_mem_read(w->vq->mem, gpa + (uint64_t)i * sizeof(*d), d, sizeof(*d));
}

/* Walk the indirect table that @ind refers to (it ends the chain). */
static int walk_indirect(DescWalk *w, const struct vring_desc *ind)
{
    VirtQueue *vq = w->vq;
    const struct vring_desc *table;
    unsigned n, i = 0, count = 0;
    struct vring_desc d;

    if (!vq->indirect) {
        return walk_fail(vq,
                         "indirect descriptor but INDIRECT_DESC was not negotiated");
    }
    if (ind->flags & VRING_DESC_F_NEXT) {
        return walk_fail(vq, "indirect descriptor with the NEXT flag");
    }
    if (ind->len == 0 || ind->len % sizeof(d) != 0) {
        return walk_fail(vq, "indirect table size is not a multiple of 16");
    }
    n = ind->len / sizeof(d);
    if (n > VIRTQ_MAX_INDIRECT) {
        return walk_fail(vq, "indirect table larger than 32768 descriptors");
    }
    table = virtio_mem_gpa_to_host(vq->mem, ind->addr, ind->len);
    if (!table) {
        /* Not in one region: every byte must still be guest memory. */
        struct iovec pieces[VIRTIO_MEM_MAX_REGIONS];

        if (virtio_mem_gpa_to_iov(vq->mem, ind->addr, ind->len, pieces,
                                  G_N_ELEMENTS(pieces)) < 0) {
            return walk_fail(vq, "indirect table outside guest memory");
        }
    } else if (((uintptr_t)table & (__alignof__(d) - 1)) != 0) {
        table = NULL; /* misaligned: copy each entry out instead */
    }
    for (;;) {
        if (++count > n) {
            return walk_fail(vq, "indirect descriptor chain loops");
        }
        if (!indirect_load(w, table, ind->addr, i, &d)) {
            return walk_fail(vq, "indirect table outside guest memory");
        }
        if (d.flags & VRING_DESC_F_INDIRECT) {
            return walk_fail(vq, "indirect descriptor inside an indirect table");
        }
        if (walk_map(w, &d) < 0) {
            return -1;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return 0;
        }
        i = d.next;
        if (i >= n) {
            return walk_fail(vq, "indirect descriptor next index out of range");
        }
    }
}

/* Walk the chain starting at @head: zero or more direct descriptors,
 * possibly ended by one indirect descriptor. */
static int walk_chain(VirtQueue *vq, VirtQueueElement *elem, uint16_t head)
{
    DescWalk w = {.vq = vq, .elem = elem};
    unsigned i = head, count = 0;
    struct vring_desc d;

    elem->out_num = elem->in_num = 0;
    for (;;) {
        if (++count > vq->num) {
            return walk_fail(vq, "descriptor chain longer than the queue (a loop?)");
        }
        desc_load(&vq->desc[i], &d);
        if (d.flags & VRING_DESC_F_INDIRECT) {
            return walk_indirect(&w, &d);
        }
        if (walk_map(&w, &d) < 0) {
            return -1;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return 0;
        }
        i = d.next;
        if (i >= vq->num) {
            return walk_fail(vq, "descriptor next index out of range");
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Available ring                                                            */
/* ------------------------------------------------------------------------ */

static uint16_t *used_event_ptr(VirtQueue *vq)
{
    return &vq->avail->ring[vq->num];
}

static uint16_t *avail_event_ptr(VirtQueue *vq)
{
    return (uint16_t *)&vq->used->ring[vq->num];
}

/* Re-read avail->idx; false (and broken) if it moved impossibly far. */
static bool avail_refresh(VirtQueue *vq)
{
    /* Pairs with the driver's virtio_wmb() between writing the ring entry
     * and publishing avail->idx (virtqueue_add_split): entries up to idx
     * are read after this load. */
    uint16_t idx = qatomic_load_acquire(&vq->avail->idx);

    if ((uint16_t)(idx - vq->last_avail_idx) > vq->num) {
        virtq_set_broken(vq, "available index moved by more than the queue size");
        return false;
    }
    vq->shadow_avail_idx = idx;
    return true;
}

bool virtq_has_work(VirtQueue *vq)
{
    if (vq->broken) {
        return false;
    }
    if (vq->resubmit_pos < vq->resubmit_num) {
        return true;
    }
    if (vq->shadow_avail_idx != vq->last_avail_idx) {
        return true;
    }
    return avail_refresh(vq) && vq->shadow_avail_idx != vq->last_avail_idx;
}

static int pop_resubmit(VirtQueue *vq, VirtQueueElement *elem)
{
    uint16_t head = vq->resubmit[vq->resubmit_pos];

    if (walk_chain(vq, elem, head) < 0) {
        return -1;
    }
    vq->resubmit_pos++;
    vq->last_resubmit = true;
    elem->index = head;
    return 1;
}

int virtq_pop(VirtQueue *vq, VirtQueueElement *elem)
{
    uint16_t head;

    if (vq->broken) {
        return 0;
    }
    if (vq->resubmit_pos < vq->resubmit_num) {
        return pop_resubmit(vq, elem);
    }
    if (vq->shadow_avail_idx == vq->last_avail_idx) {
        if (!avail_refresh(vq)) {
            return -1;
        }
        if (vq->shadow_avail_idx == vq->last_avail_idx) {
            return 0;
        }
    }
    /* Ordered after the acquire load of avail->idx in avail_refresh(). */
    head = qatomic_read(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
    if (head >= vq->num) {
        return walk_fail(vq, "available ring entry out of range");
    }
    if (walk_chain(vq, elem, head) < 0) {
        return -1;
    }
    vq->last_avail_idx++;
    vq->in_use++;
    if (vq->event_idx && !vq->notify_off) {
        /* "Kick me for the entry after the ones I took" (QEMU does the same
         * on every pop); not while kicks are suppressed (polling). */
        qatomic_set(avail_event_ptr(vq), vq->last_avail_idx);
    }
    virtq_inflight_get(vq, head);
    vq->last_resubmit = false;
    elem->index = head;
    return 1;
}

void virtq_unpop(VirtQueue *vq, const VirtQueueElement *elem)
{
    if (vq->last_resubmit) {
        g_return_if_fail(vq->resubmit_pos > 0);
        vq->resubmit_pos--;
        vq->last_resubmit = false;
        return;
    }
    g_return_if_fail(vq->in_use > 0);
    vq->last_avail_idx--;
    vq->in_use--;
    virtq_inflight_unget(vq, elem->index);
}

void virtq_set_notification(VirtQueue *vq, bool enable)
{
    if (vq->broken || !vq->avail) {
        return; /* broken, or not set up (a binding enabling kicks early) */
    }
    vq->notify_off = !enable;
    if (vq->event_idx) {
        if (!enable) {
            /* An index the driver has passed already: it kicks again only
             * after 2^16 more entries (vring_need_event()), unless we
             * enable notifications first. */
            qatomic_set(avail_event_ptr(vq), (uint16_t)(vq->last_avail_idx - 1));
        } else if (avail_refresh(vq)) {
            qatomic_set(avail_event_ptr(vq), vq->shadow_avail_idx);
        }
    } else {
        uint16_t flags = qatomic_read(&vq->used->flags);

        flags =
            enable ? flags & ~VRING_USED_F_NO_NOTIFY : flags | VRING_USED_F_NO_NOTIFY;
        qatomic_set(&vq->used->flags, flags);
    }
    if (enable) {
        /* Expose avail_event / used->flags before the caller re-reads
         * avail->idx.  Pairs with the driver's virtio_mb() between publishing
         * avail->idx and reading avail_event or used->flags
         * (virtqueue_kick_prepare_split). */
        smp_mb();
    }
}

/* ------------------------------------------------------------------------ */
/* Used ring                                                                 */
/* ------------------------------------------------------------------------ */

void virtq_push(VirtQueue *vq, const VirtQueueElement *elem, uint32_t len)
{
    struct vring_used_elem *e;

    g_return_if_fail(vq->in_use > 0);
    vq->in_use--;
    if (vq->broken) {
        return;
    }
    e = &vq->used->ring[vq->used_idx & (vq->num - 1)];
    qatomic_set(&e->id, elem->index);
    qatomic_set(&e->len, len);
    vq->used_idx++;
    virtq_inflight_put(vq, elem->index);
}

bool virtq_flush(VirtQueue *vq)
{
    uint16_t old = vq->published_idx;
    uint16_t new = vq->used_idx;

    if (old == new) {
        return false;
    }
    /* Pairs with the driver's virtio_rmb() after it reads used->idx and
     * before it reads the entries (virtqueue_get_buf_ctx_split). */
    qatomic_store_release(&vq->used->idx, new);
    vq->published_idx = new;
    if ((int16_t)(new - vq->signalled_used) < (uint16_t)(new - old)) {
        vq->signalled_used_valid = false;
    }
    virtq_inflight_flushed(vq);
    return true;
}

bool virtq_should_notify(VirtQueue *vq)
{
    uint16_t old, new;
    bool valid;

    if (vq->broken) {
        return false;
    }
    /* used->idx is published before the driver's suppression fields are
     * read.  Pairs with the driver's virtio_mb() between writing used_event
     * (or clearing NO_INTERRUPT) and re-reading used->idx
     * (virtqueue_enable_cb_prepare / virtqueue_poll). */
    smp_mb();
    if (!vq->event_idx) {
        return !(qatomic_read(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
    }
    valid = vq->signalled_used_valid;
    old = vq->signalled_used;
    new = vq->signalled_used = vq->published_idx;
    vq->signalled_used_valid = true;
    return !valid || vring_need_event(qatomic_read(used_event_ptr(vq)), new, old);
}

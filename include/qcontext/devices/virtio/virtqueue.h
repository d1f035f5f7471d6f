/*
 * devices/virtio/virtqueue.h - the device side of a split virtqueue (virtio
 * 1.x, "Split Virtqueues"), in guest memory shared with the driver.
 *
 * The device pops descriptor chains from the available ring into iovecs
 * over guest memory (zero copy), and pushes their heads to the used ring
 * when done.  Everything the driver wrote is hostile: every address goes
 * through the memory table (bounds and overflow checked), a chain is
 * bounded by the queue size (an indirect table by its own size), which
 * also catches loops, an indirect descriptor inside an indirect table is
 * refused, readable descriptors after writable ones are refused.  A bad
 * chain marks the queue broken: it pops nothing more until it is set up
 * again, and memory outside the table is never touched.
 *
 * Supported: VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX, and the
 * vhost-user split-ring inflight region (INFLIGHT_SHMFD) that lets a
 * restarted device resubmit what was in flight.
 *
 * Threading: a VirtQueue belongs to one thread at a time (its queue's
 * context thread while the ring runs, the control thread while it is
 * stopped); hand-over happens through a BH.  Accesses to the rings pair
 * with the driver's barriers as the comments in virtqueue.c say.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_VIRTIO_VIRTQUEUE_H
#define QCONTEXT_DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include "qcontext/devices/virtio/virtio-mem.h"
#include "qcontext/devices/vhost-user/vhost-user-proto.h"

G_BEGIN_DECLS

/** Largest queue size of a split virtqueue. */
#define VIRTQ_MAX_SIZE 32768
/** Most descriptors an indirect table may hold. */
#define VIRTQ_MAX_INDIRECT 32768

/**
 * A popped descriptor chain.  The owner sets @iov and @iov_cap (its
 * capacity); virtq_pop() fills @index, the device-readable iovecs
 * @iov[0 .. @out_num) and after them the device-writable ones
 * @iov[@out_num .. @out_num + @in_num).
 */
typedef struct VirtQueueElement {
    uint16_t index;    /**< head descriptor: what virtq_push() returns */
    unsigned out_num;  /**< device-readable iovecs (first) */
    unsigned in_num;   /**< device-writable iovecs (after them) */
    unsigned iov_cap;  /**< capacity of @iov, set by the owner */
    struct iovec *iov; /**< set by the owner */
} VirtQueueElement;

/** The device-writable iovecs of @elem. */
static inline struct iovec *virtq_elem_in_iov(VirtQueueElement *elem)
{
    return elem->iov + elem->out_num;
}

/** A split virtqueue, device side.  Fields are private to virtqueue.c. */
typedef struct VirtQueue {
    /*< private >*/
    const VirtioMemTable *mem;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint16_t num;
    bool event_idx;
    bool indirect;
    bool broken;
    bool notify_off;   /* kicks suppressed (virtq_set_notification) */
    const char *error; /* why it broke (static string) */

    uint16_t last_avail_idx;   /* next avail entry to pop */
    uint16_t shadow_avail_idx; /* avail->idx as last read */
    uint16_t used_idx;         /* next used entry to fill */
    uint16_t published_idx;    /* used->idx as last written */
    uint16_t signalled_used;
    bool signalled_used_valid;
    unsigned in_use; /* popped (or to resubmit), not pushed */

    /* Inflight tracking (NULL region: none). */
    VhostUserInflightQueueSplit *inflight;
    uint64_t counter;   /* pop order of the next head */
    uint16_t *resubmit; /* heads to resubmit, in counter order */
    unsigned resubmit_num, resubmit_pos;
    bool last_resubmit; /* the last pop was a resubmission */
    uint16_t *batch;    /* heads pushed since the last flush */
    unsigned batch_num;
} VirtQueue;

/**
 * virtq_init: set @vq up over rings at host addresses @desc, @avail and
 * @used (the caller translated and bounds-checked them: 16 * @num, 6 + 2 *
 * @num and 6 + 8 * @num bytes, aligned 16, 2 and 4), with @num a power of 2
 * up to VIRTQ_MAX_SIZE.  The next entry popped is @last_avail_idx; the used
 * index is read from the used ring.  @features: the negotiated virtio
 * features (INDIRECT_DESC, EVENT_IDX).  Discards any earlier state except
 * the attached inflight region (see virtq_inflight_attach()).
 */
void virtq_init(VirtQueue *vq, const VirtioMemTable *mem, uint16_t num,
                struct vring_desc *desc, struct vring_avail *avail,
                struct vring_used *used, uint64_t features, uint16_t last_avail_idx);

/** virtq_cleanup: free what @vq allocated; it is zeroed afterwards. */
void virtq_cleanup(VirtQueue *vq);

/**
 * virtq_pop: pop the next chain (first those left to resubmit after an
 * inflight recovery) into @elem.  Returns 1 with @elem filled, 0 if the
 * ring is empty (or broken), -1 if the chain is invalid: the queue is then
 * broken (virtq_error() says why) and @elem is not in use.
 */
int virtq_pop(VirtQueue *vq, VirtQueueElement *elem);

/**
 * virtq_unpop: give back @elem, the chain most recently popped and not
 * pushed: the next virtq_pop() returns it again (QEMU's virtqueue_unpop).
 */
void virtq_unpop(VirtQueue *vq, const VirtQueueElement *elem);

/**
 * virtq_push: mark the chain @elem done with @len bytes written to its
 * device-writable buffers.  Visible to the driver after virtq_flush().  On
 * a broken queue only the accounting is done.
 */
void virtq_push(VirtQueue *vq, const VirtQueueElement *elem, uint32_t len);

/**
 * virtq_flush: publish every pushed entry (used->idx) to the driver.
 * Returns false if nothing was pushed since the last flush (then nothing
 * is written and no notification is due).
 */
bool virtq_flush(VirtQueue *vq);

/**
 * virtq_should_notify: true if the driver wants a used-buffer
 * notification for what was flushed (EVENT_IDX's used_event, or
 * NO_INTERRUPT without it).  Call after virtq_flush(), once per batch.
 */
bool virtq_should_notify(VirtQueue *vq);

/**
 * virtq_set_notification: ask the driver for (@enable) or spare us
 * available-buffer notifications (kicks).  After enabling, re-check
 * virtq_has_work(): the driver may have added buffers meanwhile.  While
 * disabled, pops do not move EVENT_IDX's avail_event, so a driver that
 * honours it does not kick at all (a polling device needs no kicks).
 */
void virtq_set_notification(VirtQueue *vq, bool enable);

/** virtq_get_notification: true unless kicks are suppressed (the default). */
static inline bool virtq_get_notification(const VirtQueue *vq)
{
    return !vq->notify_off;
}

/**
 * virtq_has_work: true if a chain is waiting (a moved avail index, or
 * heads to resubmit).  Reads the avail index: this is the io_poll check.
 */
bool virtq_has_work(VirtQueue *vq);

/** virtq_in_use: chains popped (or pending resubmission) and not pushed. */
static inline unsigned virtq_in_use(const VirtQueue *vq)
{
    return vq->in_use;
}

/** virtq_is_broken: true once a bad chain or ring index was seen. */
static inline bool virtq_is_broken(const VirtQueue *vq)
{
    return vq->broken;
}

/** virtq_error: why the queue broke, or NULL. */
static inline const char *virtq_error(const VirtQueue *vq)
{
    return vq->error;
}

/** virtq_last_avail_idx: the next available entry to pop (GET_VRING_BASE). */
static inline uint16_t virtq_last_avail_idx(const VirtQueue *vq)
{
    return vq->last_avail_idx;
}

/**
 * virtq_set_broken: mark @vq broken for @why (a static string), as a
 * device does on a request it cannot parse.  Idempotent (first reason kept).
 */
void virtq_set_broken(VirtQueue *vq, const char *why);

/* ------------------------------------------------------------------------ */
/* Inflight tracking (vhost-user INFLIGHT_SHMFD, split layout)               */
/* ------------------------------------------------------------------------ */

/**
 * virtq_inflight_region_size: bytes of one queue's region for queue size
 * @queue_size (a 16-byte header, 16 bytes per descriptor, 64-byte aligned).
 */
size_t virtq_inflight_region_size(uint16_t queue_size);

/**
 * virtq_inflight_recover: attach the inflight region @region (of a queue of
 * @vq's size; NULL detaches) after virtq_init(), and recover as the
 * vhost-user spec says: version 0 = a fresh region (initialized now);
 * otherwise reconcile the last used batch with used->idx, then queue every
 * head still marked inflight for resubmission in the order it was first
 * popped, and set the avail index past them.  Returns the number of heads
 * to resubmit.
 */
unsigned virtq_inflight_recover(VirtQueue *vq, VhostUserInflightQueueSplit *region);

/**
 * virtq_drop_resubmits: forget heads not yet resubmitted (the ring stops;
 * they stay marked in the region and are recovered at the next start).
 */
void virtq_drop_resubmits(VirtQueue *vq);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_VIRTIO_VIRTQUEUE_H */

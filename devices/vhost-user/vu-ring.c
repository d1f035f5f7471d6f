/*
 * devices/vhost-user/vu-ring.c - ring start and stop (control thread), and
 * the ring fds received from the front-end: kick, call, err.
 *
 * A ring starts once it has a kick fd, a size, addresses that map into
 * guest memory; it is then handed to the device (VuDevOps.queue_start) and
 * kicked once, so buffers made available before are seen at once.  Call
 * and err fds may be replaced while the ring runs (QEMU does so when the
 * guest masks a vector): the new eventfd is dup3()'d onto the same fd
 * number, so a queue thread writing to it never sees a closed number.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "vhost-user"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vu-internal.h"

void vu_ring_reset(VuQueue *q)
{
    g_assert(q->state == VU_RING_STOPPED);
    event_notifier_cleanup(&q->kick);
    q->kick.rfd = q->kick.wfd = -1;
    if (q->call_fd >= 0) {
        close(q->call_fd);
    }
    if (q->err_fd >= 0) {
        close(q->err_fd);
    }
    q->call_fd = q->err_fd = -1;
    q->call_active = q->err_active = false;
    q->enabled = false;
    q->num = 0;
    q->addr_set = false;
    memset(&q->addr, 0, sizeof(q->addr));
    q->base = 0;
    q->signal_once = q->map_warned = false;
    q->stop_requested = q->broken_logged = false;
    virtq_cleanup(&q->vq);
}

bool vu_ring_check_eventfd(VuDev *dev, int fd, const char *what, GError **errp)
{
    char link[64], target[64];
    ssize_t n;
    int fl;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, target, sizeof(target) - 1);
    if (n >= 0) {
        target[n] = '\0';
        if (strcmp(target, "anon_inode:[eventfd]") != 0) {
            g_set_error(errp, VU_ERROR, 0, "%s with an fd that is not an eventfd (%s)",
                        what, target);
            return false;
        }
    } /* without /proc, trust it: it is made non-blocking below anyway */
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        g_set_error(errp, VU_ERROR, 0, "%s: %s", what, g_strerror(errno));
        return false;
    }
    return true;
}

void vu_ring_set_kick(VuQueue *q, int fd)
{
    g_assert(q->state == VU_RING_STOPPED);
    event_notifier_cleanup(&q->kick);
    q->kick.rfd = q->kick.wfd = fd;
    q->kick.initialized = fd >= 0;
}

void vu_ring_set_call(VuQueue *q, int fd, bool err)
{
    int *slot = err ? &q->err_fd : &q->call_fd;
    bool *active = err ? &q->err_active : &q->call_active;

    if (fd < 0) {
        qatomic_set(active, false);
        return;
    }
    if (*slot < 0) {
        /* Pairs with the qatomic_load_acquire() in vu_ring_signal(). */
        qatomic_store_release(slot, fd);
    } else if (dup3(fd, *slot, O_CLOEXEC) < 0) {
        g_warning("vhost-user device '%s': queue %u: cannot install the new %s fd: %s",
                  q->dev->id, q->index, err ? "err" : "call", g_strerror(errno));
        close(fd);
        return;
    } else {
        close(fd);
    }
    qatomic_set(active, true);
}

void vu_ring_signal(VuQueue *q, bool err)
{
    /* Pairs with the qatomic_store_release() in vu_ring_set_call(). */
    int fd = qatomic_load_acquire(err ? &q->err_fd : &q->call_fd);
    uint64_t one = 1;

    if (fd >= 0 && qatomic_read(err ? &q->err_active : &q->call_active)) {
        /* EAGAIN: the counter is saturated, the front-end is signalled. */
        if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
            g_debug("vhost-user device '%s': queue %u: %s: %s", q->dev->id, q->index,
                    err ? "err" : "call", g_strerror(errno));
        }
    }
}

void vu_ring_enable(VuQueue *q, bool enable)
{
    qatomic_set(&q->enabled, enable);
    if (enable && q->state == VU_RING_STARTED) {
        event_notifier_set(&q->kick); /* scan what the guest queued meanwhile */
    }
}

/* The inflight region of @q, if the front-end set one that fits it. */
static VhostUserInflightQueueSplit *vu_ring_inflight(VuQueue *q)
{
    VuDev *dev = q->dev;

    if (!dev->inflight_base || q->index >= dev->inflight_nq) {
        return NULL;
    }
    if (dev->inflight_qsize != q->num) {
        g_warning("vhost-user device '%s': queue %u: size %u but the inflight region "
                  "is for size %u; not tracking inflight requests",
                  dev->id, q->index, q->num, dev->inflight_qsize);
        return NULL;
    }
    return (VhostUserInflightQueueSplit *)(dev->inflight_base +
                                           q->index *
                                               virtq_inflight_region_size(q->num));
}

/* Translate the ring addresses and set the VirtQueue up. */
static bool vu_ring_map(VuQueue *q)
{
    VuDev *dev = q->dev;
    uint64_t n = q->num;
    void *desc = virtio_mem_uva_to_host(&dev->mem, q->addr.desc_user_addr, 16 * n);
    void *avail = virtio_mem_uva_to_host(&dev->mem, q->addr.avail_user_addr, 6 + 2 * n);
    void *used = virtio_mem_uva_to_host(&dev->mem, q->addr.used_user_addr, 6 + 8 * n);
    VhostUserInflightQueueSplit *region;
    unsigned resubmit;
    bool fresh;

    if (!desc || !avail || !used || ((uintptr_t)desc & 15) || ((uintptr_t)avail & 1) ||
        ((uintptr_t)used & 3)) {
        return false;
    }
    virtq_init(&q->vq, &dev->mem, q->num, desc, avail, used, dev->features, q->base);
    region = vu_ring_inflight(q);
    fresh = region && qatomic_read(&region->version) == 0;
    resubmit = virtq_inflight_recover(&q->vq, region);
    if (resubmit) {
        g_message(
            "vhost-user device '%s': queue %u: resubmitting %u in-flight request%s",
            dev->id, q->index, resubmit, resubmit > 1 ? "s" : "");
    }
    q->signal_once = region && !fresh;
    return true;
}

void vu_ring_sync(VuQueue *q)
{
    VuDev *dev = q->dev;

    if (q->state != VU_RING_STOPPED || !q->kick.initialized || !q->num ||
        !q->addr_set) {
        return;
    }
    if (!vu_ring_map(q)) {
        if (dev->mem.nregions > 0 && !q->map_warned) {
            g_warning(
                "vhost-user device '%s': queue %u: ring addresses are outside guest "
                "memory or misaligned; the queue waits for valid ones",
                dev->id, q->index);
            q->map_warned = true;
        }
        return;
    }
    if (!(dev->features & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES))) {
        qatomic_set(&q->enabled, true); /* no SET_VRING_ENABLE will come */
    }
    q->broken_logged = false;
    q->stop_requested = false;
    q->state = VU_RING_STARTING;
    vu_op_begin(dev);
    dev->ops->queue_start(dev, q);
}

void vu_ring_stop(VuQueue *q)
{
    if (q->state != VU_RING_STARTED) {
        return;
    }
    q->state = VU_RING_STOPPING;
    vu_op_begin(q->dev);
    q->dev->ops->queue_stop(q->dev, q);
}

void vu_rings_stop_all(VuDev *dev)
{
    for (unsigned i = 0; i < dev->num_queues; i++) {
        vu_ring_stop(&dev->queues[i]);
    }
}

void vu_rings_sync_all(VuDev *dev)
{
    for (unsigned i = 0; i < dev->num_queues; i++) {
        vu_ring_sync(&dev->queues[i]);
    }
}

void vu_ring_op_done(VuQueue *q)
{
    VuDev *dev = q->dev;

    if (q->state == VU_RING_STARTING) {
        q->state = VU_RING_STARTED;
        event_notifier_set(&q->kick); /* a guest that kicked before will not again */
        if (q->signal_once) {
            q->signal_once = false;
            vu_ring_signal(q, false); /* used entries may have gone unsignalled */
        }
    } else if (q->state == VU_RING_STOPPING) {
        q->state = VU_RING_STOPPED;
        q->base = virtq_last_avail_idx(&q->vq);
    }
    g_assert(dev->pending > 0);
    dev->pending--;
    vu_advance(dev);
}

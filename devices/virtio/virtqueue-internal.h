/*
 * devices/virtio/virtqueue-internal.h - hooks between the split virtqueue
 * (virtqueue.c) and its inflight tracking (virtqueue-inflight.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_VIRTIO_VIRTQUEUE_INTERNAL_H
#define DEVICES_VIRTIO_VIRTQUEUE_INTERNAL_H

#include "qcontext/devices/virtio/virtqueue.h"

/* @head was popped from the available ring: mark it inflight. */
void virtq_inflight_get(VirtQueue *vq, uint16_t head);
/* @head was given back (virtq_unpop): unmark it. */
void virtq_inflight_unget(VirtQueue *vq, uint16_t head);
/* @head was written to the used ring (not yet published). */
void virtq_inflight_put(VirtQueue *vq, uint16_t head);
/* used->idx was published: the heads put since the last flush are done. */
void virtq_inflight_flushed(VirtQueue *vq);

#endif /* DEVICES_VIRTIO_VIRTQUEUE_INTERNAL_H */

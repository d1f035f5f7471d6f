/*
 * frontend/fe-vq.h - the driver side of a split virtqueue (virtio 1.x,
 * 2.7): descriptor allocation, INDIRECT_DESC, EVENT_IDX, the avail ring,
 * harvesting the used ring, and the kick/call eventfds of vhost-user.
 *
 * The rings live in FeMem guest memory; the back-end reads descriptors and
 * the avail ring and writes the used ring.  The driver keeps its own copy
 * of every chain's links (it never follows `next` fields that the back-end
 * could have scribbled on) and checks every used element (id in range, a
 * head that is outstanding): a back-end that returns garbage marks the
 * queue broken with an error instead of corrupting the driver.
 *
 * Thread safety: one thread drives a queue at a time (the job thread of
 * the bench, the test's thread).
 *
 * Memory ordering (include/qcontext/aio/atomic.h): each fence in fe-vq.c
 * names the back-end barrier it pairs with, as virtio 2.7.13 describes.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_VQ_H
#define FRONTEND_FE_VQ_H

#include <stdint.h>

#include <glib.h>
#include <linux/virtio_ring.h>

#include "qcontext/devices/vhost-user/vhost-user-proto.h"
#include "frontend/fe-mem.h"

G_BEGIN_DECLS

/** The largest split queue size (virtio 2.7). */
#define FE_VQ_MAX_SIZE 32768

typedef struct FeVq FeVq;

/** One buffer of a request: guest address, length, device-writable. */
typedef struct FeVqBuf {
    uint64_t gpa;
    uint32_t len;
    gboolean write; /**< device-writable (VRING_DESC_F_WRITE) */
} FeVqBuf;

/**
 * fe_vq_new: queue @index of @size entries (a power of two, <= 32768) in
 * @mem, driving with the ring @features (VIRTIO_RING_F_INDIRECT_DESC,
 * VIRTIO_RING_F_EVENT_IDX bits, as negotiated).  With INDIRECT_DESC and
 * @max_indirect > 0, each head gets a table of @max_indirect descriptors
 * for chains of several buffers.  Creates the kick and call eventfds.
 */
FeVq *fe_vq_new(FeMem *mem, unsigned index, unsigned size, uint64_t features,
                unsigned max_indirect, GError **errp);

/** fe_vq_free: close the eventfds and release the rings.  NULL is allowed. */
void fe_vq_free(FeVq *vq);

/** fe_vq_index: the queue's index (the vhost-user ring number). */
unsigned fe_vq_index(const FeVq *vq);

/** fe_vq_size: the number of entries. */
unsigned fe_vq_size(const FeVq *vq);

/** fe_vq_kick_fd: the eventfd the back-end reads (SET_VRING_KICK). */
int fe_vq_kick_fd(const FeVq *vq);

/** fe_vq_call_fd: the eventfd the back-end writes (SET_VRING_CALL). */
int fe_vq_call_fd(const FeVq *vq);

/**
 * fe_vq_addr: the SET_VRING_ADDR payload (user addresses of the rings).
 */
void fe_vq_addr(const FeVq *vq, VhostUserVringAddr *out);

/** fe_vq_set_indirect: use indirect tables for multi-buffer chains (default on). */
void fe_vq_set_indirect(FeVq *vq, gboolean on);

/** fe_vq_set_watch_fd: a socket whose hang-up makes fe_vq_wait() fail (-1: none). */
void fe_vq_set_watch_fd(FeVq *vq, int fd);

/* ------------------------------------------------------------------------ */
/* Driving                                                                    */
/* ------------------------------------------------------------------------ */

/**
 * fe_vq_add: expose the chain @bufs[0..@n) (device-readable buffers before
 * device-writable ones) with @token (non-NULL, returned by
 * fe_vq_get_used()) on the avail ring.  Returns the head index, or -1 when
 * there are not enough free descriptors (or the queue is broken).
 */
int fe_vq_add(FeVq *vq, const FeVqBuf *bufs, unsigned n, void *token);

/**
 * fe_vq_kick: notify the back-end through the kick eventfd if it asked for
 * it (EVENT_IDX avail_event, or no VRING_USED_F_NO_NOTIFY) since the last
 * kick.  Returns TRUE if it notified.
 */
gboolean fe_vq_kick(FeVq *vq);

/** fe_vq_notify: write the kick eventfd unconditionally. */
void fe_vq_notify(FeVq *vq);

/** fe_vq_kicks: how many times the kick eventfd was written (fe_vq_notify). */
uint64_t fe_vq_kicks(const FeVq *vq);

/**
 * fe_vq_get_used: the token of the next used element, with the bytes the
 * device wrote in *@len (may be NULL); NULL when the used ring has nothing
 * new or the queue is broken.  Frees the chain's descriptors.
 */
void *fe_vq_get_used(FeVq *vq, uint32_t *len);

/**
 * fe_vq_enable_cb: ask for a used-buffer notification (call eventfd) on the
 * next used element.  Returns FALSE if used elements are already pending
 * (harvest them instead of waiting).
 */
gboolean fe_vq_enable_cb(FeVq *vq);

/** fe_vq_disable_cb: stop asking for notifications (polling). */
void fe_vq_disable_cb(FeVq *vq);

/**
 * fe_vq_wait: wait up to @timeout_ms (< 0: forever) for the call eventfd,
 * and clear it.  Fails with FE_ERROR_DISCONNECTED if the watched socket
 * hangs up, FE_ERROR_TIMEOUT on timeout.  Call fe_vq_enable_cb() first.
 */
gboolean fe_vq_wait(FeVq *vq, int timeout_ms, GError **errp);

/** fe_vq_outstanding: chains exposed and not yet used. */
unsigned fe_vq_outstanding(const FeVq *vq);

/** fe_vq_num_free: free descriptors in the main table. */
unsigned fe_vq_num_free(const FeVq *vq);

/** fe_vq_avail_idx: the driver's avail index (what it has exposed). */
uint16_t fe_vq_avail_idx(const FeVq *vq);

/** fe_vq_last_used_idx: the used index the driver has harvested up to. */
uint16_t fe_vq_last_used_idx(const FeVq *vq);

/** fe_vq_used_idx: used->idx as the back-end last published it. */
uint16_t fe_vq_used_idx(const FeVq *vq);

/**
 * fe_vq_error: why the queue is broken (the back-end returned a bad used
 * element), or NULL if it is not.
 */
const char *fe_vq_error(const FeVq *vq);

/**
 * fe_vq_reset: forget every outstanding chain (calling @abort_fn with each
 * token, in head order), zero the rings and restart at index 0: the state
 * of a fresh queue, for a back-end that lost the old one.
 */
void fe_vq_reset(FeVq *vq, void (*abort_fn)(void *token, void *opaque), void *opaque);

/* ------------------------------------------------------------------------ */
/* Raw access (hostile tests)                                                */
/* ------------------------------------------------------------------------ */

/** fe_vq_desc_table: the descriptor table (fe_vq_size() entries). */
struct vring_desc *fe_vq_desc_table(FeVq *vq);

/** fe_vq_avail: the avail ring (used_event after its ring[]). */
struct vring_avail *fe_vq_avail(FeVq *vq);

/** fe_vq_used: the used ring (avail_event after its ring[]). */
struct vring_used *fe_vq_used(FeVq *vq);

/**
 * fe_vq_reserve: take @n free descriptors out of the free list without
 * writing them; their indexes go to @ids.  The caller writes any chain it
 * likes into the table (loops, bad addresses...) and publishes ids[0] with
 * fe_vq_push_raw().  FALSE if fewer than @n are free.
 */
gboolean fe_vq_reserve(FeVq *vq, unsigned n, uint16_t *ids);

/**
 * fe_vq_push_raw: publish head @ids[0] of a reservation of @n (from
 * fe_vq_reserve()) with @token; when the back-end returns it, the
 * reserved descriptors go back to the free list.
 */
void fe_vq_push_raw(FeVq *vq, const uint16_t *ids, unsigned n, void *token);

/**
 * fe_vq_push_head: put @head (any value, even out of range) on the avail
 * ring and publish it, with no bookkeeping.  For hostile tests only.
 */
void fe_vq_push_head(FeVq *vq, uint16_t head);

/** fe_vq_set_avail_idx: publish @idx as avail->idx as-is (hostile tests). */
void fe_vq_set_avail_idx(FeVq *vq, uint16_t idx);

G_END_DECLS

#endif /* FRONTEND_FE_VQ_H */

/*
 * devices/vhost-user/vhost-user.h - a vhost-user back-end: the protocol
 * engine and its unix-socket server, independent of any device model.
 *
 * A device embeds one VuDev.  The VuDev owns the listening socket (socket=
 * PATH, created 0600, one stable listening socket for the VuDev's life; or
 * fd=N), serves one front-end at a time, speaks the protocol of QEMU's
 * docs/interop/vhost-user.rst (features, memory table, rings, config,
 * inflight tracking, REPLY_ACK), and maps guest memory.  The device supplies
 * a small table of callbacks (VuDevOps): its feature bits and config space,
 * the work to do when a ring has buffers, and two asynchronous operations,
 * start and stop a queue, through which the device decides where (on which
 * context, through which registration helpers) each queue's kick handler
 * lives.  The library never creates threads and never blocks.
 *
 * Threads:
 * - the control thread: the home thread of the AioContext given to
 *   vu_dev_new().  The socket is served there, every VuDevOps callback
 *   except @process runs there, and so does every vu_dev_* call.
 * - a queue's thread: the thread that runs the kick handler the device
 *   registered for it (see vu_queue_attach_aio()).  @process and the
 *   vu_queue_* calls marked "queue thread" run there.
 *
 * Ring states are kept apart, as the spec says: a ring is *started* (the
 * device runs its kick handler) once it has a kick fd, addresses and
 * memory; *enabled* by SET_VRING_ENABLE (or at once without
 * F_PROTOCOL_FEATURES); *stopped* by GET_VRING_BASE, which replies with the
 * index once the ring stopped and every request popped from it completed.
 * Replies that must wait for queue threads (GET_VRING_BASE, a memory-table
 * change while rings run, a disconnect) are deferred: the engine stops
 * reading the socket until the pending reply is sent, so replies go out
 * strictly in request order.
 *
 * Front-end input is hostile: a malformed message (unknown or unsupported
 * request, wrong size, wrong fd count, queue index out of range, too many
 * regions, a region larger than its file...) closes the connection with one
 * log line (domain "vhost-user"); every fd received is closed on every
 * path; the next front-end is served.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_VHOST_USER_H
#define QCONTEXT_DEVICES_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "qcontext/aio/aio.h"
#include "qcontext/devices/virtio/virtqueue.h"

G_BEGIN_DECLS

/** A vhost-user back-end device: its socket, memory and queues (opaque). */
typedef struct VuDev VuDev;
/** One virtqueue of a VuDev (opaque). */
typedef struct VuQueue VuQueue;

/** Error domain of devices/vhost-user/ (one-line messages). */
#define VU_ERROR (vu_error_quark())
/** vu_error_quark: the GQuark behind the error domain macro above. */
GQuark vu_error_quark(void);

/** Most queues a VuDev may have (queue indexes are 8 bits on the wire). */
#define VU_MAX_QUEUES 256

/**
 * VuDevOps: what the embedding device supplies.  All but @process run on
 * the control thread.
 *
 * @get_features: the device's virtio feature bits (device-specific ones
 *   such as VIRTIO_BLK_F_*).  The library adds VIRTIO_F_VERSION_1,
 *   VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX and
 *   VHOST_USER_F_PROTOCOL_FEATURES.
 * @set_features: the features the front-end acknowledged (SET_FEATURES).
 *   May be NULL.
 * @get_config: copy bytes [@offset, @offset + @len) of the device's config
 *   space into @buf (already zeroed: bytes past the end of the config space
 *   stay 0).  Return false to refuse.  NULL: the CONFIG protocol feature is
 *   not offered.
 * @set_config: the front-end writes the config window; return false to
 *   refuse (read-only fields).  May be NULL (every write refused).
 * @process: queue thread.  Queue @q has (or may have) available buffers:
 *   pop them with vu_queue_pop(), push each completion with
 *   vu_queue_push() and vu_queue_flush().
 * @queue_start: arrange for @q's kick handler to run on the queue's thread
 *   (vu_queue_attach_aio() there, or the device layer's equivalent), then
 *   call vu_queue_started(@q) from any thread.  The ring is set up and its
 *   memory mapped before this is called; the library kicks the queue once
 *   started, so buffers made available before are processed at once.
 * @queue_stop: remove @q's kick handler (vu_queue_detach_aio() on the
 *   queue's thread), then call vu_queue_stopped(@q) on the queue's thread.
 *   The stop completes when every request popped from @q was pushed.
 * @connected: a front-end connected.  May be NULL.
 * @disconnected: the front-end disconnected; every ring is stopped, memory
 *   unmapped.  May be NULL.
 * @set_fd_handler: register (@io_read/@io_write, with @opaque) or remove
 *   (both NULL) the handlers of a socket fd of the control plane, on the
 *   control thread: for a device layer that tracks and moves what a plane
 *   registers.  NULL: aio_set_fd_handler() on the VuDev's AioContext.
 */
typedef struct VuDevOps {
    uint64_t (*get_features)(VuDev *dev);
    void (*set_features)(VuDev *dev, uint64_t features);
    bool (*get_config)(VuDev *dev, uint8_t *buf, uint32_t offset, uint32_t len);
    bool (*set_config)(VuDev *dev, const uint8_t *buf, uint32_t offset, uint32_t len,
                       uint32_t flags);
    void (*process)(VuDev *dev, VuQueue *q);
    void (*queue_start)(VuDev *dev, VuQueue *q);
    void (*queue_stop)(VuDev *dev, VuQueue *q);
    void (*connected)(VuDev *dev);
    void (*disconnected)(VuDev *dev);
    void (*set_fd_handler)(VuDev *dev, int fd, IOHandler *io_read, IOHandler *io_write,
                           void *opaque);
} VuDevOps;

/* ------------------------------------------------------------------------ */
/* Device lifetime and the socket (control thread)                           */
/* ------------------------------------------------------------------------ */

/**
 * vu_dev_new: a back-end for a device named @id (used in log lines) with
 * @num_queues queues (1..VU_MAX_QUEUES), served on @ctx (the control
 * context; its home thread is the control thread; NULL if it is set later
 * with vu_dev_set_aio_context(), which then requires @ops->set_fd_handler).
 * @ops and @opaque are kept.  Nothing listens until vu_dev_listen_path() or
 * vu_dev_listen_fd().
 */
VuDev *vu_dev_new(const char *id, uint16_t num_queues, const VuDevOps *ops,
                  void *opaque, AioContext *ctx);

/**
 * vu_dev_listen_path: create the listening socket @path with mode 0600 (an
 * existing socket nobody listens on is replaced; a live one or any other
 * file is an error) and start accepting front-ends, one at a time.
 */
bool vu_dev_listen_path(VuDev *dev, const char *path, GError **errp);

/**
 * vu_dev_listen_fd: serve @fd (taken over, closed by the VuDev): a
 * listening unix socket (front-ends are accepted from it, one at a time)
 * or an already connected one (served once).
 */
bool vu_dev_listen_fd(VuDev *dev, int fd, GError **errp);

/**
 * vu_dev_close: disconnect the front-end (rings stop, memory is unmapped,
 * every fd closed), close and unlink the listening socket, then call
 * @done(@opaque) on the control thread.  Asynchronous: queue threads must
 * keep running until @done.  The VuDev stays valid until vu_dev_free().
 */
void vu_dev_close(VuDev *dev, void (*done)(void *opaque), void *opaque);

/** vu_dev_free: free @dev, closed (vu_dev_close() done) or never listening. */
void vu_dev_free(VuDev *dev);

/**
 * vu_dev_destroy: close and free @dev at once, whatever its state: for an
 * embedder (a device layer) that has itself stopped and drained every queue
 * and removed every handler of the control plane (a device being deleted).
 * Closes the connection and every fd, unmaps memory, unlinks the socket.
 * No VuDevOps callback runs.  Any thread that owns @dev.
 */
void vu_dev_destroy(VuDev *dev);

/**
 * vu_dev_set_aio_context: the control context is now @ctx (the device's
 * control plane moved to, or was first attached to, @ctx).  On @ctx's
 * thread, while no socket handler of @dev can run.
 */
void vu_dev_set_aio_context(VuDev *dev, AioContext *ctx);

/**
 * vu_dev_set_max_queue_size: refuse rings larger than @max (a SET_VRING_NUM
 * beyond closes the connection, saying so).  0: the split ring's limit.
 */
void vu_dev_set_max_queue_size(VuDev *dev, uint16_t max);

/**
 * vu_dev_disconnect: close the connection with the current front-end (as
 * if it went away: rings stop, memory is unmapped), then accept the next
 * one.  Control thread.
 */
void vu_dev_disconnect(VuDev *dev);

/** vu_dev_get_opaque: the @opaque given to vu_dev_new(). */
void *vu_dev_get_opaque(VuDev *dev);

/** vu_dev_get_queue: queue @idx of @dev (valid for the VuDev's life). */
VuQueue *vu_dev_get_queue(VuDev *dev, unsigned idx);

/** vu_dev_num_queues: the number of queues given to vu_dev_new(). */
unsigned vu_dev_num_queues(VuDev *dev);

/** vu_dev_connected: true while a front-end is connected (control thread). */
bool vu_dev_connected(VuDev *dev);

/**
 * vu_dev_features: the virtio features the front-end acknowledged
 * (SET_FEATURES; 0 before).  Control thread, or a queue thread while its
 * ring runs (features are set before rings start).
 */
uint64_t vu_dev_features(VuDev *dev);

/** Counters of a VuDev, for tests and query commands (control thread). */
typedef struct VuDevStats {
    uint64_t connections;     /**< front-ends accepted */
    uint64_t protocol_errors; /**< connections closed for a bad message */
    uint64_t messages;        /**< messages handled */
} VuDevStats;

/** vu_dev_get_stats: copy the counters. */
void vu_dev_get_stats(VuDev *dev, VuDevStats *stats);

/* ------------------------------------------------------------------------ */
/* Queues                                                                    */
/* ------------------------------------------------------------------------ */

/** vu_queue_index: the queue's index in its device. */
unsigned vu_queue_index(VuQueue *q);

/** vu_queue_get_dev: the device the queue belongs to. */
VuDev *vu_queue_get_dev(VuQueue *q);

/** vu_queue_set_opaque / vu_queue_get_opaque: the device's per-queue data. */
void vu_queue_set_opaque(VuQueue *q, void *opaque);
/** vu_queue_get_opaque: see vu_queue_set_opaque(). */
void *vu_queue_get_opaque(VuQueue *q);

/**
 * vu_queue_started: @q's kick handler is in place (the end of
 * VuDevOps.queue_start).  Any thread.
 */
void vu_queue_started(VuQueue *q);

/**
 * vu_queue_stopped: @q's kick handler is removed (the end of
 * VuDevOps.queue_stop).  On the queue's thread: the stop completes once
 * every element popped from @q has been pushed and flushed.  A binding
 * that drained the queue itself (no element in use, no handler able to
 * run) may call it from any thread.
 */
void vu_queue_stopped(VuQueue *q);

/**
 * vu_queue_pop: queue thread.  Pop the next available chain into @elem
 * (whose @iov and @iov_cap the caller set).  True if one was popped; false
 * if none is available, the ring is disabled, or the chain was invalid: the
 * ring is then broken (one log line, the err fd is signalled) until the
 * front-end restarts it.
 */
bool vu_queue_pop(VuQueue *q, VirtQueueElement *elem);

/** vu_queue_unpop: queue thread.  Give back the last popped element. */
void vu_queue_unpop(VuQueue *q, VirtQueueElement *elem);

/**
 * vu_queue_push: queue thread.  @elem is done, @len bytes written to its
 * device-writable buffers.  Published by the next vu_queue_flush().
 */
void vu_queue_push(VuQueue *q, const VirtQueueElement *elem, uint32_t len);

/**
 * vu_queue_flush: queue thread.  Publish the pushed elements and signal the
 * call fd if the driver wants a notification.  It may complete a stop of
 * @q (the last element in use was pushed): the device must not touch its
 * per-queue state after it in that case (do it before).
 */
void vu_queue_flush(VuQueue *q);

/**
 * vu_queue_publish: queue thread.  vu_queue_flush() without completing a
 * stop: for a device that publishes early (the first completion of a
 * batch) and calls vu_queue_flush() later on the same thread, so that its
 * per-queue state stays valid in between.
 */
void vu_queue_publish(VuQueue *q);

/**
 * vu_queue_fail: queue thread.  The device cannot parse @elem: the ring is
 * broken for @why (a static string; one log line, err fd signalled) and
 * @elem is dropped.
 */
void vu_queue_fail(VuQueue *q, const VirtQueueElement *elem, const char *why);

/**
 * vu_queue_set_notification: queue thread.  Enable or suppress kicks
 * (re-check vu_queue_has_work() after enabling).
 */
void vu_queue_set_notification(VuQueue *q, bool enable);

/**
 * vu_queue_get_notification: queue thread.  False while kicks are
 * suppressed, e.g. by the kick handler's poll mode: a device that pops
 * then leaves them suppressed (the poll loop re-enables them before it
 * sleeps).
 */
bool vu_queue_get_notification(VuQueue *q);

/** vu_queue_has_work: queue thread.  True if buffers wait and the ring is enabled. */
bool vu_queue_has_work(VuQueue *q);

/** vu_queue_in_use: queue thread.  Elements popped and not pushed. */
unsigned vu_queue_in_use(VuQueue *q);

/* ------------------------------------------------------------------------ */
/* Kick handlers on an AioContext                                            */
/* ------------------------------------------------------------------------ */

/**
 * vu_queue_attach_aio: register @q's kick fd on @ctx: a read handler, an
 * io_poll that watches the avail ring (adaptive polling skips the
 * eventfd), and poll begin/end that suppress kicks while @ctx polls; each
 * calls VuDevOps.process when there is work.  @ctx's home thread, during
 * VuDevOps.queue_start.
 */
void vu_queue_attach_aio(VuQueue *q, AioContext *ctx);

/** vu_queue_detach_aio: remove what vu_queue_attach_aio() registered (same thread). */
void vu_queue_detach_aio(VuQueue *q);

/**
 * vu_queue_get_kick_notifier: @q's kick eventfd, for a binding that
 * registers the handlers below itself (e.g. through a device layer that
 * tracks and moves them) instead of vu_queue_attach_aio().  Valid from
 * VuDevOps.queue_start until the stop completes.
 */
EventNotifier *vu_queue_get_kick_notifier(VuQueue *q);

/**
 * vu_queue_kick_read: the kick notifier's read handler, as
 * vu_queue_attach_aio() registers it (queue thread).
 */
void vu_queue_kick_read(EventNotifier *e);
/** vu_queue_kick_poll: its io_poll (@opaque is the notifier): the avail ring moved. */
bool vu_queue_kick_poll(void *opaque);
/** vu_queue_kick_poll_ready: its io_poll_ready. */
void vu_queue_kick_poll_ready(EventNotifier *e);
/** vu_queue_kick_poll_begin: polling starts: kicks are suppressed. */
void vu_queue_kick_poll_begin(EventNotifier *e);
/** vu_queue_kick_poll_end: polling ends: kicks are wanted again. */
void vu_queue_kick_poll_end(EventNotifier *e);

/**
 * vu_queue_set_aio_context: the AioContext vu_aio_queue_start() runs @q
 * on.  Control thread, while the ring is stopped.
 */
void vu_queue_set_aio_context(VuQueue *q, AioContext *ctx);

/**
 * vu_aio_queue_start, vu_aio_queue_stop: ready-made VuDevOps.queue_start
 * and queue_stop for devices whose queues run on plain AioContexts (set
 * with vu_queue_set_aio_context(); the control context if unset): a BH on
 * the queue's context attaches (detaches) the kick handler and reports.
 */
void vu_aio_queue_start(VuDev *dev, VuQueue *q);
/** vu_aio_queue_stop: see vu_aio_queue_start(). */
void vu_aio_queue_stop(VuDev *dev, VuQueue *q);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_VHOST_USER_H */

/*
 * devices/vhost-user/vu-dev.c - a vhost-user back-end's life: accepting one
 * front-end at a time, reading its messages, the engine that defers a reply
 * until queue threads have done their part, and the teardown of a
 * connection (rings stopped first, then memory unmapped and every fd
 * closed, then the next front-end accepted).
 *
 * The engine: a handler that needs queue threads (a ring stop or start)
 * issues the operations (vu_op_begin() each, completed through
 * vu_ring_op_done()) and names the step that continues once all of them
 * completed (vu_then()).  Until the last step calls vu_msg_finish(), the
 * socket is not read, so the next request waits and replies go out in
 * request order.  Everything here runs on the control thread.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "vhost-user"

#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "vu-internal.h"

G_DEFINE_QUARK(vhost - user - error - quark, vu_error)

/* Messages handled per readable callback before yielding to the loop. */
#define VU_MSGS_PER_WAKEUP 64

static void vu_conn_readable(void *opaque);
static void vu_conn_writable(void *opaque);
static void vu_teardown(VuDev *dev);

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

VuDev *vu_dev_new(const char *id, uint16_t num_queues, const VuDevOps *ops,
                  void *opaque, AioContext *ctx)
{
    VuDev *dev = g_new0(VuDev, 1);

    g_return_val_if_fail(num_queues >= 1 && num_queues <= VU_MAX_QUEUES, NULL);
    dev->id = g_strdup(id);
    dev->num_queues = num_queues;
    dev->ops = ops;
    dev->opaque = opaque;
    dev->ctx = ctx;
    if (ctx) {
        aio_context_ref(ctx);
    }
    dev->listen_fd = dev->conn_fd = dev->out_fd = -1;
    dev->out = g_byte_array_new();
    dev->queues = g_new0(VuQueue, num_queues);
    for (unsigned i = 0; i < num_queues; i++) {
        VuQueue *q = &dev->queues[i];

        q->dev = dev;
        q->index = (uint16_t)i;
        q->call_fd = q->err_fd = -1;
        q->kick.rfd = q->kick.wfd = -1;
    }
    return dev;
}

void vu_dev_free(VuDev *dev)
{
    if (!dev) {
        return;
    }
    g_return_if_fail(dev->conn_fd < 0 && !dev->busy && dev->pending == 0);
    vu_io_close_listener(dev);
    for (unsigned i = 0; i < dev->num_queues; i++) {
        vu_ring_reset(&dev->queues[i]);
    }
    virtio_mem_table_clear(&dev->mem);
    vu_inflight_unmap(dev);
    g_byte_array_unref(dev->out);
    g_clear_error(&dev->error);
    if (dev->ctx) {
        aio_context_unref(dev->ctx);
    }
    g_free(dev->queues);
    g_free(dev->id);
    g_free(dev);
}

void vu_dev_destroy(VuDev *dev)
{
    if (!dev) {
        return;
    }
    /* The embedder stopped and drained every queue: nothing is pending. */
    if (dev->watch_read || dev->watch_write) {
        vu_set_fd_handler(dev, dev->conn_fd, NULL, NULL);
        dev->watch_read = dev->watch_write = false;
    }
    if (dev->conn_fd >= 0) {
        close(dev->conn_fd);
        dev->conn_fd = -1;
    }
    vu_io_reader_reset(&dev->rd);
    vu_msg_close_fds(&dev->cur);
    g_byte_array_set_size(dev->out, 0);
    if (dev->out_fd >= 0) {
        close(dev->out_fd);
        dev->out_fd = -1;
    }
    for (unsigned i = 0; i < dev->num_queues; i++) {
        dev->queues[i].state = VU_RING_STOPPED;
    }
    vu_staged_clear(dev);
    dev->busy = dev->closing = false;
    dev->cont = NULL;
    dev->pending = 0;
    vu_dev_free(dev);
}

void *vu_dev_get_opaque(VuDev *dev)
{
    return dev->opaque;
}

VuQueue *vu_dev_get_queue(VuDev *dev, unsigned idx)
{
    g_return_val_if_fail(idx < dev->num_queues, NULL);
    return &dev->queues[idx];
}

unsigned vu_dev_num_queues(VuDev *dev)
{
    return dev->num_queues;
}

bool vu_dev_connected(VuDev *dev)
{
    return dev->conn_fd >= 0;
}

uint64_t vu_dev_features(VuDev *dev)
{
    return dev->features;
}

void vu_dev_get_stats(VuDev *dev, VuDevStats *stats)
{
    *stats = dev->stats;
}

/* Watch @fd on the control context, through the device if it asks to. */
void vu_set_fd_handler(VuDev *dev, int fd, IOHandler *io_read, IOHandler *io_write)
{
    if (dev->ops->set_fd_handler) {
        dev->ops->set_fd_handler(dev, fd, io_read, io_write, dev);
    } else {
        aio_set_fd_handler(dev->ctx, fd, io_read, io_write, NULL, NULL, dev);
    }
}

void vu_dev_set_aio_context(VuDev *dev, AioContext *ctx)
{
    if (ctx) {
        aio_context_ref(ctx);
    }
    if (dev->ctx) {
        aio_context_unref(dev->ctx);
    }
    dev->ctx = ctx;
}

void vu_dev_set_max_queue_size(VuDev *dev, uint16_t max)
{
    dev->max_queue_size = max;
}

void vu_dev_disconnect(VuDev *dev)
{
    vu_conn_drop(dev, NULL);
}

/* ------------------------------------------------------------------------ */
/* Accepting                                                                 */
/* ------------------------------------------------------------------------ */

static void vu_accept(void *opaque)
{
    VuDev *dev = opaque;
    int fd = vu_io_accept(dev);

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
            g_warning("vhost-user device '%s': accept: %s", dev->id, g_strerror(errno));
        }
        return;
    }
    vu_listen_watch(dev, false); /* one front-end at a time */
    dev->conn_fd = fd;
    dev->stats.connections++;
    vu_conn_watch(dev);
    if (dev->ops->connected) {
        dev->ops->connected(dev);
    }
}

void vu_listen_watch(VuDev *dev, bool on)
{
    if (dev->listen_fd < 0 || dev->accepting == on) {
        return;
    }
    dev->accepting = on;
    vu_set_fd_handler(dev, dev->listen_fd, on ? vu_accept : NULL, NULL);
}

static void vu_serve(VuDev *dev)
{
    if (dev->conn_fd >= 0) {
        dev->stats.connections++;
        vu_conn_watch(dev);
        if (dev->ops->connected) {
            dev->ops->connected(dev);
        }
    } else {
        vu_listen_watch(dev, true);
    }
}

bool vu_dev_listen_path(VuDev *dev, const char *path, GError **errp)
{
    g_return_val_if_fail(dev->listen_fd < 0 && dev->conn_fd < 0, false);
    if (!vu_io_listen_path(dev, path, errp)) {
        return false;
    }
    vu_serve(dev);
    return true;
}

bool vu_dev_listen_fd(VuDev *dev, int fd, GError **errp)
{
    g_return_val_if_fail(dev->listen_fd < 0 && dev->conn_fd < 0, false);
    if (!vu_io_listen_fd(dev, fd, errp)) {
        return false;
    }
    vu_serve(dev);
    return true;
}

static void vu_close_done_bh(void *opaque)
{
    VuDev *dev = opaque;

    dev->close_done(dev->close_opaque);
}

void vu_dev_close(VuDev *dev, void (*done)(void *opaque), void *opaque)
{
    dev->shutting_down = true;
    dev->close_done = done;
    dev->close_opaque = opaque;
    vu_io_close_listener(dev);
    if (dev->conn_fd >= 0 && !dev->closing) {
        vu_conn_drop(dev, NULL);
    } else if (!dev->closing && done) {
        aio_bh_schedule_oneshot(dev->ctx, vu_close_done_bh, dev);
    }
}

/* ------------------------------------------------------------------------ */
/* The connection                                                            */
/* ------------------------------------------------------------------------ */

void vu_conn_watch(VuDev *dev)
{
    /* A deferred message's reply goes out when the message finishes. */
    bool want_write = dev->out->len > 0 && !dev->busy;
    bool want_read = !dev->busy && !want_write;

    if (dev->conn_fd < 0 ||
        (want_read == dev->watch_read && want_write == dev->watch_write)) {
        return;
    }
    dev->watch_read = want_read;
    dev->watch_write = want_write;
    vu_set_fd_handler(dev, dev->conn_fd, want_read ? vu_conn_readable : NULL,
                      want_write ? vu_conn_writable : NULL);
}

static void vu_conn_readable(void *opaque)
{
    VuDev *dev = opaque;

    for (int i = 0; i < VU_MSGS_PER_WAKEUP && dev->conn_fd >= 0 && !dev->busy; i++) {
        g_autoptr(GError) err = NULL;
        int r = vu_io_read_msg(dev, &err);

        if (r == 0) {
            return;
        }
        if (r < 0) {
            if (err) {
                dev->stats.protocol_errors++;
            }
            vu_conn_drop(dev, err ? err->message : NULL);
            return;
        }
        dev->cur = dev->rd.msg;
        dev->rd.msg.nfds = 0; /* the fds moved to dev->cur */
        vu_io_reader_reset(&dev->rd);
        dev->busy = true;
        dev->stats.messages++;
        vu_dispatch(dev);
    }
}

static void vu_conn_writable(void *opaque)
{
    VuDev *dev = opaque;

    if (!vu_io_flush(dev)) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            vu_conn_drop(dev, NULL);
        }
        return;
    }
    vu_conn_watch(dev); /* back to reading */
}

VuStatus vu_fail(VuDev *dev, const char *fmt, ...)
{
    va_list ap;

    g_clear_error(&dev->error);
    va_start(ap, fmt);
    dev->error = g_error_new_valist(VU_ERROR, 0, fmt, ap);
    va_end(ap);
    return VU_CLOSE;
}

/* Log why the connection closes (one line) and start the teardown. */
void vu_conn_drop(VuDev *dev, const char *reason)
{
    if (dev->conn_fd < 0) {
        return;
    }
    if (reason) {
        g_warning("vhost-user device '%s': %s; closing the connection", dev->id,
                  reason);
    } else {
        g_info("vhost-user device '%s': front-end disconnected", dev->id);
    }
    if (dev->watch_read || dev->watch_write) {
        vu_set_fd_handler(dev, dev->conn_fd, NULL, NULL);
        dev->watch_read = dev->watch_write = false;
    }
    close(dev->conn_fd);
    dev->conn_fd = -1;
    vu_io_reader_reset(&dev->rd);
    g_byte_array_set_size(dev->out, 0);
    if (dev->out_fd >= 0) {
        close(dev->out_fd);
        dev->out_fd = -1;
    }
    dev->closing = true;
    if (!dev->busy) {
        vu_teardown(dev);
    } /* else the message being handled finishes first (vu_msg_finish) */
}

/* ------------------------------------------------------------------------ */
/* The deferred-reply engine                                                 */
/* ------------------------------------------------------------------------ */

void vu_then(VuDev *dev, VuStep *step)
{
    g_assert(!dev->cont);
    dev->cont = step;
}

void vu_op_begin(VuDev *dev)
{
    dev->pending++;
}

void vu_advance(VuDev *dev)
{
    if (dev->advancing) {
        return;
    }
    dev->advancing = true;
    while (dev->pending == 0 && dev->cont) {
        VuStep *step = dev->cont;

        dev->cont = NULL;
        step(dev);
    }
    dev->advancing = false;
}

static void vu_send_ack(VuDev *dev, uint64_t value)
{
    vu_io_send(dev, &dev->cur.hdr, &value, sizeof(value), -1);
}

/* The message in dev->cur is done: ack it if asked, close its fds, read on. */
void vu_msg_finish(VuDev *dev, VuStatus status)
{
    bool ack = (dev->cur.hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
               (dev->protocol_features & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK));

    vu_msg_close_fds(&dev->cur);
    dev->busy = false;
    if (dev->closing) {
        g_clear_error(&dev->error);
        vu_teardown(dev); /* the connection went while this message ran */
        return;
    }
    if (status == VU_CLOSE) {
        dev->stats.protocol_errors++;
        vu_conn_drop(dev, dev->error ? dev->error->message : "malformed message");
        g_clear_error(&dev->error);
        return;
    }
    if (status == VU_REFUSED && !ack) {
        g_warning("vhost-user device '%s': %s refused", dev->id,
                  vu_request_name(dev->cur.hdr.request));
    }
    if (ack && status != VU_REPLIED) {
        vu_send_ack(dev, status == VU_OK ? 0 : 1);
    }
    if (!vu_io_flush(dev) && errno != EAGAIN && errno != EWOULDBLOCK) {
        vu_conn_drop(dev, NULL);
        return;
    }
    vu_conn_watch(dev);
}

/* Steps of vu_reconfigure(): stop, change, restart, finish. */
static void vu_reconfigure_done(VuDev *dev)
{
    vu_msg_finish(dev, dev->status);
}

static void vu_reconfigure_apply(VuDev *dev)
{
    dev->status = dev->apply(dev);
    dev->apply = NULL;
    if (dev->status == VU_CLOSE) {
        vu_msg_finish(dev, VU_CLOSE);
        return;
    }
    vu_rings_sync_all(dev);
    vu_then(dev, vu_reconfigure_done);
}

/*
 * Apply a change that running rings must not see: stop @q (or every ring
 * if NULL), run @apply, start again whatever can run, then finish the
 * message with @apply's status.
 */
VuStatus vu_reconfigure(VuDev *dev, VuQueue *q, int (*apply)(VuDev *dev))
{
    dev->apply = apply;
    if (q) {
        vu_ring_stop(q);
    } else {
        vu_rings_stop_all(dev);
    }
    vu_then(dev, vu_reconfigure_apply);
    return VU_DEFERRED;
}

/* ------------------------------------------------------------------------ */
/* Teardown                                                                  */
/* ------------------------------------------------------------------------ */

static void vu_teardown_finish(VuDev *dev)
{
    dev->busy = false;
    for (unsigned i = 0; i < dev->num_queues; i++) {
        vu_ring_reset(&dev->queues[i]);
    }
    virtio_mem_table_clear(&dev->mem);
    vu_inflight_unmap(dev);
    vu_staged_clear(dev);
    dev->features = 0;
    dev->protocol_features = 0;
    dev->closing = false;
    if (dev->ops->disconnected) {
        dev->ops->disconnected(dev);
    }
    if (dev->shutting_down) {
        if (dev->close_done) {
            dev->close_done(dev->close_opaque);
        }
        return;
    }
    vu_listen_watch(dev, true); /* serve the next front-end */
}

/* Stop every ring, then release everything the front-end gave us. */
static void vu_teardown(VuDev *dev)
{
    dev->busy = true; /* no message is read meanwhile (there is no socket) */
    vu_rings_stop_all(dev);
    vu_then(dev, vu_teardown_finish);
    vu_advance(dev);
}

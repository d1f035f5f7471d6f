/*
 * block/block-native.c - the "native" backend: Linux AIO through libaio,
 * one kernel AIO context (io_setup) per queue, i.e. per AioContext.
 *
 * Requests are prepared as iocbs (each carrying the completion eventfd) and
 * queued on s->kq.pending; they go to the kernel with one io_submit() for
 * the whole queue, at once, at the outermost unplug, or when aio-max-batch
 * of them wait.  Discard and write-zeroes go to the thread pool.  The eventfd is
 * registered with the AioContext as an event notifier whose io_poll
 * function looks at the completion ring in user memory, so adaptive polling
 * sees completions without a system call, and they are reaped from that
 * ring without one too (io_getevents() with a zero timeout if the ring is
 * not the layout we know).
 *
 * If io_submit() says -EAGAIN the requests stay queued until a completion
 * frees room (or, with nothing in the kernel, go to the thread pool); if the
 * kernel refuses IOCB_CMD_FDSYNC, flushes go to the thread pool.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <time.h>

#include "qcontext/aio/atomic.h"
#include "block-internal.h"

#define NATIVE_MAX_EVENTS BLOCK_QUEUE_DEPTH

/* The completion ring the kernel maps for an io_context_t (fs/aio.c). */
struct native_aio_ring {
    unsigned id;
    unsigned nr;
    unsigned head;
    unsigned tail;
    unsigned magic;
    unsigned compat_features;
    unsigned incompat_features;
    unsigned header_length;
};
#define NATIVE_AIO_RING_MAGIC 0xa10a10a1

typedef struct NativeState {
    BlockKernelQueue kq; /* kq.pending: prepared, not submitted */
    io_context_t io_ctx;
    int in_kernel; /* submitted, not reaped */
    bool no_fdsync;
} NativeState;
G_STATIC_ASSERT(offsetof(NativeState, kq.q) == 0);

static void native_flush_pending(NativeState *s);

/* ------------------------------------------------------------------------ */
/* Completion                                                                 */
/* ------------------------------------------------------------------------ */

/* The kernel's ring of @s if we may reap it ourselves (fs/aio.c layout). */
static struct native_aio_ring *native_ring(NativeState *s)
{
    struct native_aio_ring *ring = (struct native_aio_ring *)s->io_ctx;

    return ring->magic == NATIVE_AIO_RING_MAGIC && ring->incompat_features == 0 ? ring
                                                                                : NULL;
}

/*
 * Take up to @max completions into @events without a system call: read
 * the events between head and tail, then move head past them (what
 * io_getevents() does in the kernel).  -1: no ring to reap, use the call.
 */
static int native_reap(NativeState *s, struct io_event *events, int max)
{
    struct native_aio_ring *ring = native_ring(s);
    struct io_event *ring_events;
    unsigned head, tail, n = 0;

    if (!ring) {
        return -1;
    }
    ring_events = (struct io_event *)((char *)ring + sizeof(*ring));
    head = ring->head;
    /* Acquire: pairs with the kernel's smp_wmb() between writing an event
     * and advancing tail (aio_complete()); the events are read after. */
    tail = qatomic_load_acquire(&ring->tail);
    if (head >= ring->nr || tail >= ring->nr) {
        return -1; /* not the layout we know: let the kernel do it */
    }
    while (head != tail && (int)n < max) {
        events[n++] = ring_events[head];
        head = head + 1 == ring->nr ? 0 : head + 1;
    }
    /* Release: the events are copied before the kernel may reuse their
     * slots; pairs with its read of head when it counts free slots. */
    qatomic_store_release(&ring->head, head);
    return (int)n;
}

static void native_process_completions(NativeState *s)
{
    struct io_event events[NATIVE_MAX_EVENTS];
    struct timespec zero = {0, 0};
    int n;

    /* One section for the batch: what the callbacks defer (a device's
     * used-ring publication) runs once at its end. */
    defer_call_begin();
    do {
        /* Taken off the ring before any callback runs: a callback that
         * polls the context (a drain) reenters here safely. */
        n = native_reap(s, events, NATIVE_MAX_EVENTS);
        if (n < 0) {
            n = io_getevents(s->io_ctx, 0, NATIVE_MAX_EVENTS, events, &zero);
        }
        if (n <= 0) {
            break;
        }
        s->in_kernel -= n;
        for (int i = 0; i < n; i++) {
            /* res holds the byte count or -errno (res2 is unused here). */
            blk_request_done(events[i].data, (ssize_t)(long)events[i].res);
        }
    } while (n == NATIVE_MAX_EVENTS);
    defer_call_end();
    if (s->kq.q.plug_depth == 0) {
        native_flush_pending(s);
    }
}

static void native_completion_cb(EventNotifier *e)
{
    NativeState *s = blk_container_of(e, NativeState, kq.e);

    if (event_notifier_test_and_clear(e)) {
        native_process_completions(s);
    }
}

/* io_poll: completions are waiting in the ring (no system call). */
static bool native_poll(void *opaque)
{
    NativeState *s = blk_container_of(opaque, NativeState, kq.e);
    struct native_aio_ring *ring = native_ring(s);

    if (s->in_kernel == 0 || !ring) {
        return false;
    }
    /* Acquire: the kernel writes the event before it moves the tail. */
    return __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) != ring->head;
}

static void native_poll_ready(EventNotifier *e)
{
    native_process_completions(blk_container_of(e, NativeState, kq.e));
}

/* ------------------------------------------------------------------------ */
/* Submission                                                                 */
/* ------------------------------------------------------------------------ */

/* Hand the queued requests to the thread pool (the kernel refused them). */
static void native_to_threads(NativeState *s, bool first_only)
{
    GList *l;

    while ((l = g_queue_pop_head_link(&s->kq.pending))) {
        blk_threads_submit(&s->kq.q, l->data);
        if (first_only) {
            break;
        }
    }
}

/* io_submit() failed with @ret for the first queued request. */
static void native_submit_error(NativeState *s, int ret)
{
    BlockRequest *req = g_queue_peek_head(&s->kq.pending);

    if (ret == -EAGAIN) {
        if (s->in_kernel == 0) {
            /* No completion will come to retry: don't wait for one. */
            native_to_threads(s, false);
        }
        return;
    }
    if (ret == -EINVAL && req->type == BLOCK_REQ_FLUSH) {
        s->no_fdsync = true;
        native_to_threads(s, true);
        return;
    }
    g_queue_pop_head_link(&s->kq.pending);
    blk_request_fail_bh(req, ret);
}

static void native_flush_pending(NativeState *s)
{
    struct iocb *iocbs[NATIVE_MAX_EVENTS];

    while (!g_queue_is_empty(&s->kq.pending) && s->in_kernel < NATIVE_MAX_EVENTS) {
        int n = 0, ret;

        for (GList *l = s->kq.pending.head; l && n < NATIVE_MAX_EVENTS - s->in_kernel;
             l = l->next) {
            iocbs[n++] = &((BlockRequest *)l->data)->u.iocb;
        }
        do {
            ret = io_submit(s->io_ctx, n, iocbs);
        } while (ret == -EINTR);
        blk_stat_add(&s->kq.q.stats.kernel_submits, 1);
        if (ret <= 0) {
            native_submit_error(s, ret == 0 ? -EAGAIN : ret);
            if (ret == 0 || ret == -EAGAIN) {
                return;
            }
            continue;
        }
        s->in_kernel += ret;
        for (int i = 0; i < ret; i++) {
            g_queue_pop_head_link(&s->kq.pending);
        }
    }
}

static void native_submit(BlockQueue *q, BlockRequest *req)
{
    NativeState *s = (NativeState *)q;
    struct iocb *iocb = &req->u.iocb;
    int fd = q->blk->fd;

    switch (req->type) {
    case BLOCK_REQ_READ:
        io_prep_preadv(iocb, fd, req->iov, req->iovcnt, req->offset);
        break;
    case BLOCK_REQ_WRITE:
        io_prep_pwritev(iocb, fd, req->iov, req->iovcnt, req->offset);
        break;
    case BLOCK_REQ_FLUSH:
        if (s->no_fdsync) {
            blk_threads_submit(q, req);
            return;
        }
        io_prep_fdsync(iocb, fd);
        break;
    default: /* discard, write-zeroes: no AIO command for them */
        blk_threads_submit(q, req);
        return;
    }
    io_set_eventfd(iocb, event_notifier_get_fd(&s->kq.e));
    iocb->data = req;
    g_queue_push_tail_link(&s->kq.pending, &req->link);
    if (blk_kq_should_submit(&s->kq, s->kq.pending.length)) {
        native_flush_pending(s);
    }
}

static void native_unplug(BlockQueue *q)
{
    native_flush_pending((NativeState *)q);
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                   */
/* ------------------------------------------------------------------------ */

static const BlockKqHandlers native_handlers = {
    .io_read = native_completion_cb,
    .io_poll = native_poll,
    .io_poll_ready = native_poll_ready,
};

static bool native_setup(io_context_t *io_ctx, int events, GError **errp)
{
    int ret = io_setup(events, io_ctx);

    if (ret < 0) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_UNAVAILABLE,
                    "Linux AIO is not available (io_setup: %s)%s", g_strerror(-ret),
                    ret == -EAGAIN ? "; raise fs.aio-max-nr" : "");
        return false;
    }
    return true;
}

static bool native_probe(BlockBackend *blk, GError **errp)
{
    io_context_t io_ctx = 0;

    if (!native_setup(&io_ctx, 1, errp)) {
        return false;
    }
    io_destroy(io_ctx);
    return true;
}

static bool native_init(BlockQueue *q, GError **errp)
{
    NativeState *s = (NativeState *)q;

    if (!blk_kq_init(&s->kq, errp)) {
        return false;
    }
    if (!native_setup(&s->io_ctx, NATIVE_MAX_EVENTS, errp)) {
        event_notifier_cleanup(&s->kq.e);
        return false;
    }
    blk_kq_attach(&s->kq, &native_handlers);
    return true;
}

static void native_cleanup(BlockQueue *q)
{
    NativeState *s = (NativeState *)q;

    g_assert(s->in_kernel == 0);
    blk_kq_cleanup(&s->kq);
    io_destroy(s->io_ctx);
}

const BlockDriverOps blk_native_ops = {
    .name = "native",
    .queue_size = sizeof(NativeState),
    .probe = native_probe,
    .init = native_init,
    .cleanup = native_cleanup,
    .submit = native_submit,
    .unplug = native_unplug,
};

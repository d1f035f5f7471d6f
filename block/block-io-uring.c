/*
 * block/block-io-uring.c - the "io_uring" backend: a liburing ring per
 * queue, i.e. per AioContext that submits.
 *
 * Requests wait on s->kq.pending until there is room in the ring (at most
 * URING_ENTRIES in the kernel), are prepared as readv/writev/fsync SQEs, and
 * are submitted with one io_uring_enter() at once, at the outermost unplug,
 * or when aio-max-batch SQEs wait.  Discard and write-zeroes go to the
 * thread pool.  The ring signals an eventfd (io_uring_register_eventfd) that is
 * registered with the AioContext as an event notifier; its io_poll function
 * peeks at the completion queue, so adaptive polling needs no system call.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <liburing.h>

#include "block-internal.h"

#define URING_ENTRIES BLOCK_QUEUE_DEPTH

typedef struct UringState {
    BlockKernelQueue kq; /* kq.pending: waiting for room in the ring */
    struct io_uring ring;
    unsigned in_ring; /* SQEs prepared or submitted, CQE not yet seen */
} UringState;
G_STATIC_ASSERT(offsetof(UringState, kq.q) == 0);

static void uring_fill_and_submit(UringState *s, bool unplugged);

/* ------------------------------------------------------------------------ */
/* Completion                                                                 */
/* ------------------------------------------------------------------------ */

static void uring_process_completions(UringState *s)
{
    struct io_uring_cqe *cqe;

    /* One CQE at a time: a callback may submit (and re-enter the ring).
     * One section for the batch: what the callbacks defer (a device's
     * used-ring publication) runs once at its end. */
    defer_call_begin();
    while (io_uring_peek_cqe(&s->ring, &cqe) == 0 && cqe) {
        BlockRequest *req = io_uring_cqe_get_data(cqe);
        int res = cqe->res;

        io_uring_cqe_seen(&s->ring, cqe);
        s->in_ring--;
        blk_request_done(req, res);
    }
    defer_call_end();
    uring_fill_and_submit(s, s->kq.q.plug_depth == 0);
}

static void uring_completion_cb(EventNotifier *e)
{
    UringState *s = blk_container_of(e, UringState, kq.e);

    event_notifier_test_and_clear(e);
    uring_process_completions(s);
}

/* io_poll: CQEs are waiting (liburing reads the tail with acquire). */
static bool uring_poll(void *opaque)
{
    UringState *s = blk_container_of(opaque, UringState, kq.e);

    return io_uring_cq_ready(&s->ring) > 0;
}

static void uring_poll_ready(EventNotifier *e)
{
    uring_process_completions(blk_container_of(e, UringState, kq.e));
}

/* ------------------------------------------------------------------------ */
/* Submission                                                                 */
/* ------------------------------------------------------------------------ */

static void uring_prep(UringState *s, struct io_uring_sqe *sqe, BlockRequest *req)
{
    int fd = s->kq.q.blk->fd;

    switch (req->type) {
    case BLOCK_REQ_READ:
        io_uring_prep_readv(sqe, fd, req->iov, req->iovcnt, req->offset);
        break;
    case BLOCK_REQ_WRITE:
        io_uring_prep_writev(sqe, fd, req->iov, req->iovcnt, req->offset);
        break;
    case BLOCK_REQ_FLUSH:
    default:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    }
    io_uring_sqe_set_data(sqe, req);
}

static void uring_submit(UringState *s)
{
    int ret;

    if (io_uring_sq_ready(&s->ring) == 0) {
        return;
    }
    do {
        ret = io_uring_submit(&s->ring);
    } while (ret == -EINTR);
    blk_stat_add(&s->kq.q.stats.kernel_submits, 1);
    /*
     * -EAGAIN/-EBUSY: the SQEs stay in the ring and go with the next
     * submission, after completions have been reaped.
     */
    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY) {
        g_warning("'%s': io_uring_submit failed: %s", s->kq.q.blk->filename,
                  g_strerror(-ret));
    }
}

/*
 * Move pending requests into free SQEs; submit them if @unplugged or once
 * aio-max-batch of them wait.
 */
static void uring_fill_and_submit(UringState *s, bool unplugged)
{
    while (!g_queue_is_empty(&s->kq.pending) && s->in_ring < URING_ENTRIES) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

        if (!sqe) {
            uring_submit(s); /* the SQ is full: make room */
            sqe = io_uring_get_sqe(&s->ring);
            if (!sqe) {
                break;
            }
        }
        uring_prep(s, sqe, g_queue_pop_head_link(&s->kq.pending)->data);
        s->in_ring++;
        if (!unplugged && blk_kq_should_submit(&s->kq, io_uring_sq_ready(&s->ring))) {
            uring_submit(s);
        }
    }
    if (unplugged) {
        uring_submit(s);
    }
}

static void uring_submit_req(BlockQueue *q, BlockRequest *req)
{
    UringState *s = (UringState *)q;

    if (req->type == BLOCK_REQ_DISCARD || req->type == BLOCK_REQ_WRITE_ZEROES) {
        blk_threads_submit(q, req);
        return;
    }
    g_queue_push_tail_link(&s->kq.pending, &req->link);
    uring_fill_and_submit(s, q->plug_depth == 0);
}

static void uring_unplug(BlockQueue *q)
{
    uring_fill_and_submit((UringState *)q, true);
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                   */
/* ------------------------------------------------------------------------ */

static const BlockKqHandlers uring_handlers = {
    .io_read = uring_completion_cb,
    .io_poll = uring_poll,
    .io_poll_ready = uring_poll_ready,
};

static bool uring_setup(struct io_uring *ring, unsigned entries, GError **errp)
{
    int ret = io_uring_queue_init(entries, ring, 0);

    if (ret < 0) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_UNAVAILABLE,
                    "io_uring is not available (io_uring_setup: %s)", g_strerror(-ret));
        return false;
    }
    return true;
}

static bool uring_probe(BlockBackend *blk, GError **errp)
{
    struct io_uring ring;

    if (!uring_setup(&ring, 1, errp)) {
        return false;
    }
    io_uring_queue_exit(&ring);
    return true;
}

static bool uring_init(BlockQueue *q, GError **errp)
{
    UringState *s = (UringState *)q;
    int ret;

    if (!blk_kq_init(&s->kq, errp)) {
        return false;
    }
    if (!uring_setup(&s->ring, URING_ENTRIES, errp)) {
        event_notifier_cleanup(&s->kq.e);
        return false;
    }
    ret = io_uring_register_eventfd(&s->ring, event_notifier_get_fd(&s->kq.e));
    if (ret < 0) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_UNAVAILABLE,
                    "io_uring cannot signal an eventfd: %s", g_strerror(-ret));
        io_uring_queue_exit(&s->ring);
        event_notifier_cleanup(&s->kq.e);
        return false;
    }
    blk_kq_attach(&s->kq, &uring_handlers);
    return true;
}

static void uring_cleanup(BlockQueue *q)
{
    UringState *s = (UringState *)q;

    g_assert(s->in_ring == 0);
    blk_kq_cleanup(&s->kq);
    io_uring_queue_exit(&s->ring);
}

const BlockDriverOps blk_io_uring_ops = {
    .name = "io_uring",
    .queue_size = sizeof(UringState),
    .probe = uring_probe,
    .init = uring_init,
    .cleanup = uring_cleanup,
    .submit = uring_submit_req,
    .unplug = uring_unplug,
};

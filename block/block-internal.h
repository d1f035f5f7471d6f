/*
 * block/block-internal.h - the BlockBackend and the interface of its backends.
 *
 * block.c owns the BlockBackend, validates requests and finishes them
 * (short transfers, zero fill past EOF, callbacks).  A backend (one file
 * each: block-threads.c, block-native.c, block-io-uring.c) only moves
 * requests to the kernel and back: it gets them through ops->submit and
 * hands each result (bytes transferred or -errno) to blk_request_done() on
 * the context's home thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BLOCK_BLOCK_INTERNAL_H
#define BLOCK_BLOCK_INTERNAL_H

#include <libaio.h>
#include <sys/types.h>

#include "qcontext/block/block.h"

#define blk_container_of(ptr, type, member)                                            \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

typedef enum {
    BLOCK_REQ_READ,
    BLOCK_REQ_WRITE,
    BLOCK_REQ_FLUSH,
} BlockReqType;

typedef struct BlockRequest BlockRequest;
typedef struct BlockDriverOps BlockDriverOps;

struct BlockRequest {
    BlockBackend *blk;
    BlockReqType type;
    int64_t offset;    /* start of the part not transferred yet */
    size_t bytes;      /* bytes not transferred yet */
    struct iovec *iov; /* the part not transferred yet (inside iov_copy) */
    int iovcnt;
    BlockCompletionFunc *cb;
    void *opaque;
    GList link; /* for a backend's queues; data = the request */
    union {
        struct iocb iocb; /* native */
        ssize_t result;   /* threads: written by the worker; blk_request_fail_bh() */
    } u;
    struct iovec iov_copy[];
};

struct BlockDriverOps {
    const char *name;
    /* Set up blk->opaque for blk->fd and attach to blk->ctx. */
    bool (*open)(BlockBackend *blk, GError **errp);
    /* Detach and free blk->opaque; nothing is in flight. */
    void (*close)(BlockBackend *blk);
    /* Start @req, or queue it (plugged, ring full); never completes it inline. */
    void (*submit)(BlockBackend *blk, BlockRequest *req);
    /* The outermost blk_io_unplug(): submit what was collected (may be NULL). */
    void (*unplug)(BlockBackend *blk);
    /* Unregister from blk->ctx / register with blk->ctx (NULL: nothing to do). */
    void (*detach_aio_context)(BlockBackend *blk);
    void (*attach_aio_context)(BlockBackend *blk);
};

struct BlockBackend {
    AioContext *ctx;
    char *filename;
    int fd;
    int flags;
    BlockAioMode mode;
    const BlockDriverOps *ops;
    void *opaque; /* the backend's state */
    size_t alignment;
    size_t mem_alignment;
    int in_flight;    /* home thread */
    int plug_depth;   /* home thread */
    BlockStats stats; /* home thread */
};

/*
 * BlockKernelQueue: the state the kernel-queue backends (native, io_uring)
 * share: a completion eventfd registered with blk->ctx and the requests not
 * handed to the kernel yet.  It is the first member of the backend's state,
 * which blk->opaque points to.
 */
typedef struct BlockKernelQueue BlockKernelQueue;

/* The handlers of the completion eventfd (as in aio_set_event_notifier()). */
typedef struct BlockKqHandlers {
    EventNotifierHandler *io_read;
    AioPollFn *io_poll;
    EventNotifierHandler *io_poll_ready;
} BlockKqHandlers;

struct BlockKernelQueue {
    BlockBackend *blk;
    EventNotifier e;
    GQueue pending;
    const BlockKqHandlers *handlers;
};

/*
 * blk_kq_new: allocate @size zeroed bytes (a state that starts with a
 * BlockKernelQueue) for @blk and create its completion eventfd with
 * @handlers.  Returns NULL with @errp set if the eventfd cannot be created.
 */
void *blk_kq_new(BlockBackend *blk, size_t size, const BlockKqHandlers *handlers,
                 GError **errp);

/* blk_kq_free: close the eventfd of @q and free the state @q starts. */
void blk_kq_free(BlockKernelQueue *q);

/* blk_kq_start: make @q blk->opaque and attach it to blk->ctx. */
void blk_kq_start(BlockBackend *blk, BlockKernelQueue *q);

/* blk_kq_attach/detach: register/unregister blk->opaque's eventfd. */
void blk_kq_attach(BlockBackend *blk);
void blk_kq_detach(BlockBackend *blk);

extern const BlockDriverOps blk_threads_ops;
extern const BlockDriverOps blk_native_ops;
extern const BlockDriverOps blk_io_uring_ops;

/*
 * blk_request_done: a backend's result for @req: bytes transferred (>= 0)
 * or -errno.  Short transfers are resubmitted through blk->ops->submit;
 * otherwise the request's callback runs and @req is freed.  Home thread.
 */
void blk_request_done(BlockRequest *req, ssize_t ret);

/* blk_request_fail_bh: complete @req with @ret from a BH (not inline). */
void blk_request_fail_bh(BlockRequest *req, int ret);

#endif /* BLOCK_BLOCK_INTERNAL_H */

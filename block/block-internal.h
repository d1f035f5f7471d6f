/*
 * block/block-internal.h - the BlockBackend, its per-context queues and the
 * interface of the I/O backends.
 *
 * block.c owns the BlockBackend (open, close, info, statistics).
 * block-queue.c owns the queues: each AioContext that submits to a backend
 * gets a BlockQueue, found through the context's block slot (a BlockCtx,
 * touched only by the context's home thread: no lock).  block-request.c
 * validates requests, bounces misaligned buffers and finishes requests
 * (short transfers, zero fill past EOF, callbacks).  A backend (one file
 * each: block-threads.c, block-native.c, block-io-uring.c, block-null.c)
 * only moves requests to the kernel and back: it gets them through
 * ops->submit and hands each result (bytes transferred or -errno) to
 * blk_request_done() on the queue's home thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BLOCK_BLOCK_INTERNAL_H
#define BLOCK_BLOCK_INTERNAL_H

#include <libaio.h>
#include <pthread.h>
#include <sys/types.h>

#include "qcontext/aio/defer-call.h"
#include "qcontext/block/block.h"

#define blk_container_of(ptr, type, member)                                            \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Requests a queue keeps in the kernel at most (ring / io_setup size). */
#define BLOCK_QUEUE_DEPTH 128
/* Requests with at most this many iovecs come from the queue's pool. */
#define BLOCK_POOL_IOV 16
/* Free requests a queue keeps for reuse at most. */
#define BLOCK_POOL_MAX 256
/* The longest discard / write-zeroes request. */
#define BLOCK_MAX_DISCARD_BYTES (UINT64_C(1) << 30)
#define BLOCK_MAX_WRITE_ZEROES_BYTES (UINT64_C(1) << 30)

typedef enum {
    BLOCK_REQ_READ,
    BLOCK_REQ_WRITE,
    BLOCK_REQ_FLUSH,
    BLOCK_REQ_DISCARD,
    BLOCK_REQ_WRITE_ZEROES,
} BlockReqType;

typedef struct BlockRequest BlockRequest;
typedef struct BlockQueue BlockQueue;
typedef struct BlockCtx BlockCtx;
typedef struct BlockDriverOps BlockDriverOps;

struct BlockRequest {
    BlockQueue *q;
    BlockReqType type;
    int zero_flags;    /* BLK_ZERO_* (write-zeroes) */
    int64_t offset;    /* start of the part not transferred yet */
    size_t bytes;      /* bytes not transferred yet (the range for discard/wz) */
    struct iovec *iov; /* the part not transferred yet */
    int iovcnt;
    BlockCompletionFunc *cb;
    void *opaque;
    GList link;              /* for a backend's queues; data = the request */
    void *bounce;            /* aligned copy of the data, or NULL */
    struct iovec bounce_iov; /* req->iov while bounced */
    int orig_iovcnt;         /* entries of iov_copy (the caller's) */
    bool pooled;             /* room for BLOCK_POOL_IOV: back to q's pool */
    union {
        struct iocb iocb; /* native */
        ssize_t result;   /* threads: written by the worker; fail BH */
        int64_t deadline; /* null: when it completes */
    } u;
    struct iovec iov_copy[];
};

struct BlockDriverOps {
    const char *name;
    /* Bytes to allocate per queue: a state that starts with a BlockQueue. */
    size_t queue_size;
    /* Check at open time that the kernel offers the backend (may be NULL). */
    bool (*probe)(BlockBackend *blk, GError **errp);
    /* Set up a new queue on q->ctx's home thread; false: use threads. */
    bool (*init)(BlockQueue *q, GError **errp);
    /* Unregister from q->ctx and free the backend's state; nothing in flight. */
    void (*cleanup)(BlockQueue *q);
    /* Start @req, or queue it (plugged, ring full); never complete it inline. */
    void (*submit)(BlockQueue *q, BlockRequest *req);
    /* The outermost blk_io_unplug(): submit what was collected (may be NULL). */
    void (*unplug)(BlockQueue *q);
};

struct BlockBackend {
    int refcnt; /* atomic: the opener's + one per queue */
    char *filename;
    int fd; /* -1 for null */
    int flags;
    BlockAioMode mode;
    const BlockDriverOps *ops;
    BlockInfo info;
    int64_t null_latency_ns;

    pthread_mutex_t lock; /* protects the fields below */
    bool closing;
    GPtrArray *queues;  /* BlockQueue *; each one's lifetime is its home thread's */
    BlockStats retired; /* counters of released queues, queues_created/released */
};

/*
 * One backend's queue on one AioContext.  Everything is owned by that
 * context's home thread; the counters are written with relaxed atomic
 * stores there so that blk_get_stats() may read them from any thread
 * (under blk->lock, which keeps the queue alive).
 */
struct BlockQueue {
    BlockBackend *blk;
    AioContext *ctx;
    BlockCtx *bctx;
    const BlockDriverOps *ops; /* blk->ops, or threads if that failed here */
    int in_flight;             /* atomic stores (home thread) */
    int plug_depth;
    bool release_pending; /* release once nothing is in flight */
    QEMUBH *release_bh;   /* scheduled by blk_close() from any thread */
    BlockRequest *pool;   /* free requests (linked by ->opaque), home thread */
    unsigned pool_len;
    BlockStats stats; /* atomic stores (home thread) */
};

/* The block layer's state in one AioContext (its slot); home thread only. */
struct BlockCtx {
    AioContext *ctx;
    GPtrArray *queues;      /* BlockQueue * */
    BlockBackend *last_blk; /* one-entry cache of the lookup */
    BlockQueue *last_q;
};

/* Relaxed increments of counters that only the home thread writes. */
static inline void blk_stat_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n,
                     __ATOMIC_RELAXED);
}

static inline uint64_t blk_stat_read(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* block.c */
void blk_ref(BlockBackend *blk);
void blk_unref(BlockBackend *blk);
/* Add @from's counters to @to (relaxed reads of a live queue's counters). */
void blk_stats_add(BlockStats *to, const BlockStats *from);

/* block-queue.c */
/* Reserve the block layer's AioContext slot (before the first backend exists). */
void blk_queue_slot_init(void);
/* The queue of @blk on @ctx (home thread), created on first use; NULL if closing. */
BlockQueue *blk_queue_get(BlockBackend *blk, AioContext *ctx);
/* The queue of @blk on @ctx if there is one (home thread). */
BlockQueue *blk_queue_find(BlockBackend *blk, AioContext *ctx);
/*
 * Release @q now if its release is pending and nothing is in flight.  Not
 * from inside a backend's completion processing (request_finish() schedules
 * q->release_bh instead).
 */
void blk_queue_idle(BlockQueue *q);
/* Free @q's pool of requests (its release). */
void blk_queue_pool_free(BlockQueue *q);
/* The batch bound of @q's context (aio-max-batch, 0 = BLOCK_QUEUE_DEPTH). */
int blk_queue_max_batch(BlockQueue *q);
/* blk_close(): release the queues (from any thread). */
void blk_queues_close(BlockBackend *blk);

/* block-request.c */
/*
 * blk_request_done: a backend's result for @req: bytes transferred (>= 0;
 * 0 for flush/discard/write-zeroes) or -errno.  Short transfers are
 * resubmitted through q->ops->submit; otherwise the request finishes.
 */
void blk_request_done(BlockRequest *req, ssize_t ret);
/* blk_request_fail_bh: complete @req with @ret from a BH (not inline). */
void blk_request_fail_bh(BlockRequest *req, int ret);

/*
 * BlockKernelQueue: the state the kernel-queue backends (native, io_uring)
 * share: a completion eventfd registered with q->ctx and the requests not
 * handed to the kernel yet.  It starts the backend's queue state.
 */
typedef struct BlockKernelQueue BlockKernelQueue;

/* The handlers of the completion eventfd (as in aio_set_event_notifier()). */
typedef struct BlockKqHandlers {
    EventNotifierHandler *io_read;
    AioPollFn *io_poll;
    EventNotifierHandler *io_poll_ready;
} BlockKqHandlers;

struct BlockKernelQueue {
    BlockQueue q;
    EventNotifier e;
    GQueue pending;
};

/* block-kq.c */
/* Create @kq's completion eventfd; false with @errp set on failure. */
bool blk_kq_init(BlockKernelQueue *kq, GError **errp);
/* Register @kq's eventfd with its context. */
void blk_kq_attach(BlockKernelQueue *kq, const BlockKqHandlers *handlers);
/* Unregister and close the eventfd. */
void blk_kq_cleanup(BlockKernelQueue *kq);
/* TRUE if requests of @kq should be handed to the kernel now. */
bool blk_kq_should_submit(BlockKernelQueue *kq, unsigned waiting);

extern const BlockDriverOps blk_threads_ops;
extern const BlockDriverOps blk_native_ops;
extern const BlockDriverOps blk_io_uring_ops;
extern const BlockDriverOps blk_null_ops;

/* block-threads.c: run @req on the thread pool of q->ctx (any type). */
void blk_threads_submit(BlockQueue *q, BlockRequest *req);

#endif /* BLOCK_BLOCK_INTERNAL_H */

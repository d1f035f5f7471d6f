/*
 * aio/thread-pool.h - a pool of worker threads per AioContext.
 *
 * Work submitted to an AioContext's pool runs on a worker thread; its
 * completion callback runs on the context's home thread, from a bottom half
 * of that context.  This is how blocking system calls (preadv, fdatasync,
 * open...) are kept off an event loop.  Names and semantics follow QEMU's
 * include/block/thread-pool.h and include/block/aio.h (BlockAIOCB).
 *
 * Threading: thread_pool_submit_aio(), bdrv_aio_cancel(),
 * bdrv_aio_cancel_async(), qemu_aio_ref() and qemu_aio_unref() are called on
 * the context's home thread.  thread_pool_submit() (no completion) and
 * thread_pool_set_minmax_threads() may be called from any thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AIO_THREAD_POOL_H
#define AIO_THREAD_POOL_H

#include <stddef.h>
#include "qcontext/aio/aio.h"

G_BEGIN_DECLS

/** A context's pool of worker threads (opaque). */
typedef struct ThreadPool ThreadPool;
/** An asynchronous request in flight (see struct BlockAIOCB). */
typedef struct BlockAIOCB BlockAIOCB;
/** What a request type tells the pool (see struct AIOCBInfo). */
typedef struct AIOCBInfo AIOCBInfo;

/** Work run on a worker thread; its return value is passed to the callback. */
typedef int ThreadPoolFunc(void *opaque);

/** A completion callback: @ret is 0 (or a positive count) on success, -errno. */
typedef void BlockCompletionFunc(void *opaque, int ret);

/** What an asynchronous request type knows how to do. */
struct AIOCBInfo {
    /**
     * cancel_async: ask the request to finish early (it still completes,
     * with -ECANCELED or normally).  Must not call the callback itself.
     */
    void (*cancel_async)(BlockAIOCB *acb);
    /** get_aio_context: the context whose home thread runs the callback. */
    AioContext *(*get_aio_context)(BlockAIOCB *acb);
    /** aiocb_size: the size of the structure embedding BlockAIOCB first. */
    size_t aiocb_size;
};

/**
 * An asynchronous request in flight.  Request types embed it as their first
 * member.  It stays valid while its reference count is positive; the request
 * itself holds one reference until its callback has returned.
 */
struct BlockAIOCB {
    const AIOCBInfo *aiocb_info; /**< the request type (cancel hook, size) */
    BlockCompletionFunc *cb;     /**< the completion callback */
    void *opaque;                /**< its data */
    int refcnt;                  /**< references; home thread only */
};

/**
 * qemu_aio_get: allocate a zeroed request of @aiocb_info->aiocb_size bytes
 * with one reference, completion @cb(@opaque).  Free it with qemu_aio_unref().
 */
void *qemu_aio_get(const AIOCBInfo *aiocb_info, BlockCompletionFunc *cb, void *opaque);

/** qemu_aio_ref: take a reference on the request @p (a BlockAIOCB). */
void qemu_aio_ref(void *p);

/** qemu_aio_unref: drop a reference on @p; the last one frees it. */
void qemu_aio_unref(void *p);

/**
 * bdrv_aio_cancel: cancel @acb synchronously.  When it returns, the
 * request's callback has run: with -ECANCELED if the request had not started,
 * with its real result if it was already running (the call polls the
 * request's context with aio_poll(ctx, true) until then, so the caller must
 * be that context's home thread).  A no-op if the callback already ran but
 * the caller still holds a reference.
 */
void bdrv_aio_cancel(BlockAIOCB *acb);

/**
 * bdrv_aio_cancel_async: ask @acb to finish early and return at once.  A
 * request that had not started gets its callback with -ECANCELED at the
 * context's next completion round; a running one completes normally.
 */
void bdrv_aio_cancel_async(BlockAIOCB *acb);

/**
 * thread_pool_new: create the thread pool of @ctx and make it the one
 * aio_get_thread_pool(@ctx) returns.  Workers are started on demand.  If
 * @ctx already has a pool, that pool is returned.  Any thread.
 */
ThreadPool *thread_pool_new(AioContext *ctx);

/**
 * thread_pool_free: stop and free @pool (NULL is a no-op) and unregister it
 * from its context.  Requests still in flight are first waited for by
 * polling the context (so call it from the home thread; their callbacks
 * run).  Must be called before the context's last aio_context_unref(), as
 * the pool owns a BH of the context.
 */
void thread_pool_free(ThreadPool *pool);

/**
 * aio_get_thread_pool: the thread pool of @ctx, created on first use.  Any
 * thread.
 */
ThreadPool *aio_get_thread_pool(AioContext *ctx);

/**
 * aio_thread_pool_cleanup: free @ctx's thread pool if it has one (the same
 * as thread_pool_free() on it).  Meant for the context's teardown.
 */
void aio_thread_pool_cleanup(AioContext *ctx);

/**
 * thread_pool_submit_aio: run @func(@arg) on a worker thread of @ctx's pool,
 * then @cb(@opaque, ret) on @ctx's home thread with @func's return value
 * (@cb may be NULL).  Returns the request, valid until @cb returns (take a
 * reference with qemu_aio_ref() to keep it longer), for cancellation.  Call
 * from @ctx's home thread.
 */
BlockAIOCB *thread_pool_submit_aio(AioContext *ctx, ThreadPoolFunc *func, void *arg,
                                   BlockCompletionFunc *cb, void *opaque);

/**
 * thread_pool_submit: run @func(@arg) on a worker thread of @ctx's pool,
 * without completion callback.  Any thread.
 */
void thread_pool_submit(AioContext *ctx, ThreadPoolFunc *func, void *arg);

/**
 * thread_pool_set_minmax_threads: keep at least @min workers of @ctx's pool
 * alive (started at once) and never run more than @max; workers are started
 * on demand up to @max and idle ones above @min exit after 10 s.  Out of
 * range values are clamped (@min >= 0, @max >= 1, @min <= @max).  The
 * default is 0..64.  Any thread.
 */
void thread_pool_set_minmax_threads(AioContext *ctx, int min, int max);

/**
 * thread_pool_get_thread_count: the number of worker threads of @pool alive
 * right now (for tests and statistics).  Any thread.
 */
int thread_pool_get_thread_count(ThreadPool *pool);

G_END_DECLS

#endif /* AIO_THREAD_POOL_H */

/*
 * aio/thread-pool.c - worker threads per AioContext, QEMU's thread pool API.
 *
 * A request is queued (THREAD_QUEUED) on the pool, taken by an idle worker
 * (THREAD_ACTIVE), run, and put on the pool's done list (THREAD_DONE); the
 * pool's completion BH then runs its callback on the context's home thread.
 * All request state changes and the lists are protected by pool->lock
 * (a pthread mutex, so that TSan sees every hand-over between threads).
 *
 * Workers are started on demand, up to max_threads; an idle worker above
 * min_threads exits after THREAD_POOL_IDLE_NS.  Pools are found through a
 * field of the AioContext, created on first use and freed with the context.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "qcontext/aio/thread-pool.h"
#include "aio-internal.h"
#include "qcontext/aio/atomic.h"

#define THREAD_POOL_DEFAULT_MAX 64
#define THREAD_POOL_IDLE_SEC 10

typedef enum {
    THREAD_QUEUED,
    THREAD_ACTIVE,
    THREAD_DONE,
} ThreadPoolState;

typedef struct ThreadPoolElement {
    BlockAIOCB common;
    ThreadPool *pool;
    ThreadPoolFunc *func;
    void *arg;
    /* Protected by pool->lock. */
    ThreadPoolState state;
    int ret;
    GList link; /* in pool->queued or pool->done; data = the element */
} ThreadPoolElement;

struct ThreadPool {
    AioContext *ctx;
    QEMUBH *completion_bh;

    pthread_mutex_t lock;
    pthread_cond_t request_cond;   /* work queued, or the pool is stopping */
    pthread_cond_t worker_stopped; /* a worker exited */
    /* Protected by lock. */
    GQueue queued;   /* THREAD_QUEUED elements, oldest first */
    GQueue done;     /* THREAD_DONE elements whose callback has not run */
    int n_requests;  /* submitted, callback not yet returned */
    int cur_threads; /* workers alive (or being started) */
    int idle_threads;
    int min_threads;
    int max_threads;
    bool stopping;
};

/* ------------------------------------------------------------------------ */
/* BlockAIOCB                                                                 */
/* ------------------------------------------------------------------------ */

void *qemu_aio_get(const AIOCBInfo *aiocb_info, BlockCompletionFunc *cb, void *opaque)
{
    BlockAIOCB *acb;

    g_assert(aiocb_info->aiocb_size >= sizeof(BlockAIOCB));
    acb = g_malloc0(aiocb_info->aiocb_size);
    acb->aiocb_info = aiocb_info;
    acb->cb = cb;
    acb->opaque = opaque;
    acb->refcnt = 1;
    return acb;
}

void qemu_aio_ref(void *p)
{
    BlockAIOCB *acb = p;

    g_assert(acb->refcnt > 0);
    acb->refcnt++;
}

void qemu_aio_unref(void *p)
{
    BlockAIOCB *acb = p;

    g_assert(acb->refcnt > 0);
    if (--acb->refcnt == 0) {
        g_free(acb);
    }
}

void bdrv_aio_cancel_async(BlockAIOCB *acb)
{
    if (acb->aiocb_info->cancel_async) {
        acb->aiocb_info->cancel_async(acb);
    }
}

void bdrv_aio_cancel(BlockAIOCB *acb)
{
    AioContext *ctx = acb->aiocb_info->get_aio_context(acb);

    qemu_aio_ref(acb);
    bdrv_aio_cancel_async(acb);
    /* The request's own reference goes away once its callback returned. */
    while (acb->refcnt > 1) {
        aio_poll(ctx, true);
    }
    qemu_aio_unref(acb);
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                    */
/* ------------------------------------------------------------------------ */

static void deadline_after(struct timespec *ts, int sec)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += sec;
}

/* Wait for work; returns false if this idle worker should exit.  Locked. */
static bool worker_wait(ThreadPool *pool)
{
    struct timespec deadline;
    int rc;

    deadline_after(&deadline, THREAD_POOL_IDLE_SEC);
    pool->idle_threads++;
    rc = pthread_cond_timedwait(&pool->request_cond, &pool->lock, &deadline);
    pool->idle_threads--;
    return !(rc == ETIMEDOUT && g_queue_is_empty(&pool->queued) &&
             pool->cur_threads > pool->min_threads);
}

static void *worker_thread(void *opaque)
{
    ThreadPool *pool = opaque;

    pthread_setname_np(pthread_self(), "aio-pool");
    pthread_mutex_lock(&pool->lock);
    while (!pool->stopping && pool->cur_threads <= pool->max_threads) {
        ThreadPoolElement *req;
        GList *l = g_queue_pop_head_link(&pool->queued);
        int ret;

        if (!l) {
            if (!worker_wait(pool)) {
                break;
            }
            continue;
        }
        req = l->data;
        req->state = THREAD_ACTIVE;
        pthread_mutex_unlock(&pool->lock);

        ret = req->func(req->arg);

        pthread_mutex_lock(&pool->lock);
        req->ret = ret;
        req->state = THREAD_DONE;
        g_queue_push_tail_link(&pool->done, &req->link);
        pthread_mutex_unlock(&pool->lock);
        /*
         * The pool cannot go away here: thread_pool_free() waits for
         * cur_threads, which still counts us, before deleting the BH.
         */
        qemu_bh_schedule(pool->completion_bh);
        pthread_mutex_lock(&pool->lock);
    }
    pool->cur_threads--;
    pthread_cond_broadcast(&pool->worker_stopped);
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Start one worker, with all signals blocked.  Locked. */
static bool spawn_worker(ThreadPool *pool)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, worker_thread, pool);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        g_warning("thread pool: cannot start a worker thread: %s", g_strerror(rc));
        return false;
    }
    pool->cur_threads++;
    return true;
}

/* Make sure some worker will take the request just queued.  Locked. */
static void kick_workers(ThreadPool *pool)
{
    if ((int)g_queue_get_length(&pool->queued) > pool->idle_threads &&
        pool->cur_threads < pool->max_threads) {
        spawn_worker(pool);
    }
    pthread_cond_signal(&pool->request_cond);
}

/* ------------------------------------------------------------------------ */
/* Completion and cancellation                                                */
/* ------------------------------------------------------------------------ */

static void thread_pool_completion_bh(void *opaque)
{
    ThreadPool *pool = opaque;

    for (;;) {
        ThreadPoolElement *elem;
        GList *l;
        bool more;

        pthread_mutex_lock(&pool->lock);
        l = g_queue_pop_head_link(&pool->done);
        more = !g_queue_is_empty(&pool->done);
        pthread_mutex_unlock(&pool->lock);
        if (!l) {
            return;
        }
        elem = l->data;
        if (more) {
            /* A callback may poll (bdrv_aio_cancel): let it see the rest. */
            qemu_bh_schedule(pool->completion_bh);
        }
        if (elem->common.cb) {
            elem->common.cb(elem->common.opaque, elem->ret);
        }
        pthread_mutex_lock(&pool->lock);
        pool->n_requests--;
        pthread_mutex_unlock(&pool->lock);
        qemu_aio_unref(elem);
    }
}

/* Complete the queued @elem with @ret without running it.  Locked. */
static void elem_complete_queued(ThreadPool *pool, ThreadPoolElement *elem, int ret)
{
    g_queue_unlink(&pool->queued, &elem->link);
    elem->ret = ret;
    elem->state = THREAD_DONE;
    g_queue_push_tail_link(&pool->done, &elem->link);
}

static void thread_pool_cancel(BlockAIOCB *acb)
{
    ThreadPoolElement *elem = (ThreadPoolElement *)acb;
    ThreadPool *pool = elem->pool;
    bool cancelled = false;

    pthread_mutex_lock(&pool->lock);
    if (elem->state == THREAD_QUEUED) {
        elem_complete_queued(pool, elem, -ECANCELED);
        cancelled = true;
    }
    pthread_mutex_unlock(&pool->lock);
    if (cancelled) {
        qemu_bh_schedule(pool->completion_bh);
    }
}

static AioContext *thread_pool_get_aio_context(BlockAIOCB *acb)
{
    ThreadPoolElement *elem = (ThreadPoolElement *)acb;

    return elem->pool->ctx;
}

static const AIOCBInfo thread_pool_aiocb_info = {
    .cancel_async = thread_pool_cancel,
    .get_aio_context = thread_pool_get_aio_context,
    .aiocb_size = sizeof(ThreadPoolElement),
};

/* ------------------------------------------------------------------------ */
/* The pool of an AioContext (AioContext.thread_pool)                         */
/* ------------------------------------------------------------------------ */

static ThreadPool *pool_create(AioContext *ctx)
{
    ThreadPool *pool = g_new0(ThreadPool, 1);
    pthread_condattr_t attr;

    pool->ctx = ctx;
    pool->completion_bh = aio_bh_new(ctx, thread_pool_completion_bh, pool);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->request_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&pool->worker_stopped, NULL);
    g_queue_init(&pool->queued);
    g_queue_init(&pool->done);
    pool->min_threads = 0;
    pool->max_threads = THREAD_POOL_DEFAULT_MAX;
    return pool;
}

ThreadPool *thread_pool_new(AioContext *ctx)
{
    ThreadPool *pool;

    pthread_mutex_lock(&ctx->list_lock);
    pool = ctx->thread_pool;
    if (!pool) {
        pool = pool_create(ctx);
        /* Release: pairs with the acquire load in pool_of(). */
        __atomic_store_n(&ctx->thread_pool, pool, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&ctx->list_lock);
    return pool;
}

static ThreadPool *pool_of(AioContext *ctx)
{
    /* Acquire: pairs with the release store in thread_pool_new(). */
    return __atomic_load_n(&ctx->thread_pool, __ATOMIC_ACQUIRE);
}

ThreadPool *aio_get_thread_pool(AioContext *ctx)
{
    ThreadPool *pool = pool_of(ctx);

    return pool ? pool : thread_pool_new(ctx);
}

static void pool_detach(ThreadPool *pool)
{
    AioContext *ctx = pool->ctx;

    pthread_mutex_lock(&ctx->list_lock);
    if (ctx->thread_pool == pool) {
        /*
         * Relaxed: NULL publishes nothing for pool_of()'s acquire load to
         * pair with; a reader that sees it creates a pool under list_lock
         * (thread_pool_new()), which orders it after this unlock.
         */
        qatomic_set(&ctx->thread_pool, NULL);
    }
    pthread_mutex_unlock(&ctx->list_lock);
}

static int pool_requests(ThreadPool *pool)
{
    int n;

    pthread_mutex_lock(&pool->lock);
    n = pool->n_requests;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void thread_pool_free(ThreadPool *pool)
{
    if (!pool) {
        return;
    }
    while (pool_requests(pool) > 0) {
        aio_poll(pool->ctx, true);
    }
    pool_detach(pool);

    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->request_cond);
    while (pool->cur_threads > 0) {
        pthread_cond_wait(&pool->worker_stopped, &pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);

    qemu_bh_delete(pool->completion_bh);
    pthread_cond_destroy(&pool->request_cond);
    pthread_cond_destroy(&pool->worker_stopped);
    pthread_mutex_destroy(&pool->lock);
    g_free(pool);
}

void aio_thread_pool_cleanup(AioContext *ctx)
{
    thread_pool_free(pool_of(ctx));
}

/* ------------------------------------------------------------------------ */
/* Submission and tuning                                                      */
/* ------------------------------------------------------------------------ */

BlockAIOCB *thread_pool_submit_aio(AioContext *ctx, ThreadPoolFunc *func, void *arg,
                                   BlockCompletionFunc *cb, void *opaque)
{
    ThreadPool *pool;
    ThreadPoolElement *req;

    if (!ctx) {
        ctx = qemu_get_current_aio_context();
    }
    g_assert(ctx);
    pool = aio_get_thread_pool(ctx);
    req = qemu_aio_get(&thread_pool_aiocb_info, cb, opaque);
    req->pool = pool;
    req->func = func;
    req->arg = arg;
    req->state = THREAD_QUEUED;
    req->link.data = req;

    pthread_mutex_lock(&pool->lock);
    pool->n_requests++;
    g_queue_push_tail_link(&pool->queued, &req->link);
    kick_workers(pool);
    if (pool->cur_threads == 0) {
        /* No worker and none could be started: fail instead of hanging. */
        elem_complete_queued(pool, req, -EAGAIN);
        qemu_bh_schedule(pool->completion_bh);
    }
    pthread_mutex_unlock(&pool->lock);
    return &req->common;
}

void thread_pool_submit(AioContext *ctx, ThreadPoolFunc *func, void *arg)
{
    thread_pool_submit_aio(ctx, func, arg, NULL, NULL);
}

void thread_pool_set_minmax_threads(AioContext *ctx, int min, int max)
{
    ThreadPool *pool = aio_get_thread_pool(ctx);

    max = MAX(max, 1);
    min = CLAMP(min, 0, max);
    pthread_mutex_lock(&pool->lock);
    pool->min_threads = min;
    pool->max_threads = max;
    while (pool->cur_threads < pool->min_threads && spawn_worker(pool)) {
    }
    /* Idle workers above the new maximum see it and exit. */
    pthread_cond_broadcast(&pool->request_cond);
    pthread_mutex_unlock(&pool->lock);
}

int thread_pool_get_thread_count(ThreadPool *pool)
{
    int n;

    pthread_mutex_lock(&pool->lock);
    n = pool->cur_threads;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

/*
 * block/block-queue.c - a backend's queue on each AioContext that submits.
 *
 * Lookup.  The block layer keeps one BlockCtx per AioContext, in the
 * context's block slot (aio_context_get_slot()).  Requests are submitted on
 * the context's home thread, and only that thread ever touches its
 * BlockCtx and the queues in it, so finding the queue of (backend, context)
 * is a plain load of the slot, a compare with the one-entry cache, and on
 * a miss a scan of the context's few queues: no lock, no atomic
 * read-modify-write, no cache line shared with another context.  (An RCU
 * table per backend would put every context's lookups on the backend's
 * lines and need a grace period to free a queue; a slot per context needs
 * neither.)
 *
 * Life.  A queue is created by the first request from its context (under
 * blk->lock, once per queue, to join the backend's list that statistics
 * and blk_close() walk).  It is released on its home thread, once nothing
 * is in flight: by blk_detach_aio_context() (the device's queue left the
 * context), by blk_close() (through the queue's release BH, which any
 * thread may schedule while the queue is on the backend's list), or when
 * the AioContext is freed (the slot's destructor).  There is no idle
 * timer: an armed timer would cost every aio_poll() of the context a pass
 * over its timer lists, for a ring that costs little to keep.  Each queue
 * holds a reference on the backend, so the file is closed with the last
 * queue.
 *
 * SPDX-License-Identifier: MIT
 */
#include "block-internal.h"

static int block_slot = -1; /* atomic: the AioContext slot of BlockCtx */

static void queue_release(BlockQueue *q);
static void bctx_destroy(AioContext *ctx, void *value);

/* The slot, reserved by the first backend created (blk_queue_slot_init()). */
static int slot_get(void)
{
    static gsize once;

    if (g_once_init_enter(&once)) {
        __atomic_store_n(&block_slot, aio_context_slot_new(bctx_destroy),
                         __ATOMIC_RELAXED);
        g_once_init_leave(&once, 1);
    }
    return __atomic_load_n(&block_slot, __ATOMIC_RELAXED);
}

void blk_queue_slot_init(void)
{
    slot_get();
}

/* ------------------------------------------------------------------------ */
/* The per-context state                                                      */
/* ------------------------------------------------------------------------ */

static BlockCtx *bctx_get(AioContext *ctx)
{
    int slot = slot_get();
    BlockCtx *bc = aio_context_get_slot(ctx, slot);

    if (!bc) {
        bc = g_new0(BlockCtx, 1);
        bc->ctx = ctx;
        bc->queues = g_ptr_array_new();
        aio_context_set_slot(ctx, slot, bc);
    }
    return bc;
}

/*
 * The context is being freed (its final unref; this thread is now its home
 * thread): let what is in flight complete, then release every queue.
 */
static void bctx_destroy(AioContext *ctx, void *value)
{
    BlockCtx *bc = value;

    while (bc->queues->len > 0) {
        BlockQueue *q = g_ptr_array_index(bc->queues, bc->queues->len - 1);

        if (q->plug_depth > 0) {
            /* A batch left open: what it collected must reach the kernel. */
            q->plug_depth = 0;
            if (q->ops->unplug) {
                q->ops->unplug(q);
            }
        }
        if (q->in_flight > 0) {
            aio_poll(ctx, true); /* may release q itself (a pending release) */
            continue;
        }
        queue_release(q);
    }
    g_ptr_array_unref(bc->queues);
    g_free(bc);
}

/* ------------------------------------------------------------------------ */
/* Creation and lookup                                                        */
/* ------------------------------------------------------------------------ */

/*
 * Scheduled by blk_close() (any thread) or by the last completion of a
 * queue whose release is pending: release now if nothing is in flight.
 */
static void release_bh(void *opaque)
{
    BlockQueue *q = opaque;

    /* Acquire: pairs with the release store in blk_queues_close(). */
    if (__atomic_load_n(&q->blk->closing, __ATOMIC_ACQUIRE)) {
        q->release_pending = true;
    }
    blk_queue_idle(q);
}

/* A queue of @ops, set up by the backend; NULL if it refused. */
static BlockQueue *queue_new(BlockBackend *blk, AioContext *ctx, BlockCtx *bc,
                             const BlockDriverOps *ops, GError **errp)
{
    BlockQueue *q = g_malloc0(ops->queue_size);

    q->blk = blk;
    q->ctx = ctx;
    q->bctx = bc;
    q->ops = ops;
    if (ops->init && !ops->init(q, errp)) {
        g_free(q);
        return NULL;
    }
    q->release_bh = aio_bh_new(ctx, release_bh, q);
    return q;
}

/* Join the backend's list (unless it is closing) and the context's. */
static bool queue_publish(BlockQueue *q)
{
    BlockBackend *blk = q->blk;
    BlockCtx *bc = q->bctx;
    bool ok;

    pthread_mutex_lock(&blk->lock);
    ok = !__atomic_load_n(&blk->closing, __ATOMIC_RELAXED);
    if (ok) {
        g_ptr_array_add(blk->queues, q);
        blk->retired.queues_created++;
        blk_ref(blk);
    }
    pthread_mutex_unlock(&blk->lock);
    if (!ok) {
        return false;
    }
    g_ptr_array_add(bc->queues, q);
    return true;
}

static BlockQueue *queue_create(BlockBackend *blk, AioContext *ctx, BlockCtx *bc)
{
    g_autoptr(GError) err = NULL;
    BlockQueue *q = queue_new(blk, ctx, bc, blk->ops, &err);

    if (!q) {
        /* The kernel refused a ring here (limits): the thread pool serves. */
        g_warning("'%s' (aio=%s): %s; using the thread pool on this context",
                  blk->filename ? blk->filename : "null", blk->ops->name, err->message);
        q = queue_new(blk, ctx, bc, &blk_threads_ops, NULL);
    }
    if (!queue_publish(q)) {
        q->ops->cleanup(q);
        qemu_bh_delete(q->release_bh);
        g_free(q);
        return NULL;
    }
    return q;
}

static BlockQueue *bctx_find(BlockCtx *bc, BlockBackend *blk)
{
    for (guint i = 0; i < bc->queues->len; i++) {
        BlockQueue *q = g_ptr_array_index(bc->queues, i);

        if (q->blk == blk) {
            bc->last_blk = blk;
            bc->last_q = q;
            return q;
        }
    }
    return NULL;
}

BlockQueue *blk_queue_find(BlockBackend *blk, AioContext *ctx)
{
    BlockCtx *bc = aio_context_get_slot(ctx, slot_get());

    if (!bc) {
        return NULL;
    }
    if (bc->last_blk == blk) {
        return bc->last_q;
    }
    return bctx_find(bc, blk);
}

BlockQueue *blk_queue_get(BlockBackend *blk, AioContext *ctx)
{
    /* Valid: reserved before the first backend existed. */
    BlockCtx *bc =
        aio_context_get_slot(ctx, __atomic_load_n(&block_slot, __ATOMIC_RELAXED));
    BlockQueue *q;

    /* The hot path: the context's last backend is this one. */
    if (G_LIKELY(bc && bc->last_blk == blk)) {
        q = bc->last_q;
    } else {
        bc = bctx_get(ctx);
        q = bctx_find(bc, blk);
        if (!q) {
            q = queue_create(blk, ctx, bc);
            if (!q) {
                return NULL;
            }
            bc->last_blk = blk;
            bc->last_q = q;
        }
    }
    if (G_UNLIKELY(q->release_pending)) {
        /* Detached, but used again: keep it, unless closing. */
        /* Acquire: pairs with the release store in blk_queues_close(). */
        q->release_pending = __atomic_load_n(&blk->closing, __ATOMIC_ACQUIRE);
    }
    return q;
}

/* ------------------------------------------------------------------------ */
/* Release                                                                    */
/* ------------------------------------------------------------------------ */

static void queue_release(BlockQueue *q)
{
    BlockBackend *blk = q->blk;
    BlockCtx *bc = q->bctx;

    g_assert(q->in_flight == 0);
    q->ops->cleanup(q);
    pthread_mutex_lock(&blk->lock);
    g_ptr_array_remove(blk->queues, q);
    blk_stats_add(&blk->retired, &q->stats);
    blk->retired.queues_released++;
    pthread_mutex_unlock(&blk->lock);

    g_ptr_array_remove(bc->queues, q);
    if (bc->last_q == q) {
        bc->last_blk = NULL;
        bc->last_q = NULL;
    }
    qemu_bh_delete(q->release_bh);
    blk_queue_pool_free(q);
    g_free(q);
    blk_unref(blk);
}

void blk_queue_idle(BlockQueue *q)
{
    if (q->release_pending && q->in_flight == 0 && q->plug_depth == 0) {
        queue_release(q);
    }
}

void blk_queues_close(BlockBackend *blk)
{
    GPtrArray *local = g_ptr_array_new();

    pthread_mutex_lock(&blk->lock);
    /* Release: pairs with the acquire in release_bh(). */
    __atomic_store_n(&blk->closing, true, __ATOMIC_RELEASE);
    for (guint i = 0; i < blk->queues->len; i++) {
        BlockQueue *q = g_ptr_array_index(blk->queues, i);

        /* q is alive while listed: only its home thread unlists it. */
        if (in_aio_context_home_thread(q->ctx)) {
            g_ptr_array_add(local, q);
        } else {
            qemu_bh_schedule(q->release_bh);
        }
    }
    pthread_mutex_unlock(&blk->lock);
    for (guint i = 0; i < local->len; i++) {
        BlockQueue *q = g_ptr_array_index(local, i);

        q->release_pending = true;
        blk_queue_idle(q);
    }
    g_ptr_array_unref(local);
}

/* ------------------------------------------------------------------------ */
/* Batching, draining, detaching (home thread)                                */
/* ------------------------------------------------------------------------ */

int blk_queue_max_batch(BlockQueue *q)
{
    int64_t max = aio_context_get_aio_max_batch(q->ctx);

    return max > 0 && max < BLOCK_QUEUE_DEPTH ? (int)max : BLOCK_QUEUE_DEPTH;
}

static AioContext *current_ctx(AioContext *ctx)
{
    return ctx ? ctx : qemu_get_current_aio_context();
}

void blk_io_plug(BlockBackend *blk, AioContext *ctx)
{
    BlockQueue *q;

    ctx = current_ctx(ctx);
    g_return_if_fail(ctx && in_aio_context_home_thread(ctx));
    q = blk_queue_get(blk, ctx);
    if (q) {
        q->plug_depth++;
    }
}

void blk_io_unplug(BlockBackend *blk, AioContext *ctx)
{
    BlockQueue *q;

    ctx = current_ctx(ctx);
    g_return_if_fail(ctx && in_aio_context_home_thread(ctx));
    q = blk_queue_find(blk, ctx);
    g_return_if_fail(q && q->plug_depth > 0);
    if (--q->plug_depth == 0) {
        if (q->ops->unplug) {
            q->ops->unplug(q);
        }
        blk_queue_idle(q);
    }
}

void blk_drain(BlockBackend *blk, AioContext *ctx)
{
    BlockQueue *q;

    ctx = current_ctx(ctx);
    g_return_if_fail(ctx && in_aio_context_home_thread(ctx));
    q = blk_queue_find(blk, ctx);
    g_return_if_fail(!q || q->plug_depth == 0);
    /* Looked up again each round: a pending release may free it. */
    while ((q = blk_queue_find(blk, ctx)) && q->in_flight > 0) {
        aio_poll(ctx, true);
    }
}

void blk_detach_aio_context(BlockBackend *blk, AioContext *ctx)
{
    BlockQueue *q;

    ctx = current_ctx(ctx);
    g_return_if_fail(ctx && in_aio_context_home_thread(ctx));
    q = blk_queue_find(blk, ctx);
    if (q) {
        q->release_pending = true;
        blk_queue_idle(q);
    }
}

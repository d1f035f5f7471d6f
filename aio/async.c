/*
 * aio/async.c - AioContext lifetime, aio_notify() and bottom halves.
 *
 * The notify_me protocol and the BH state machine are described with
 * diagrams in docs/aio.md; the comments here name the barrier each barrier
 * pairs with.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "aio-internal.h"
#include "qcontext/aio/thread-pool.h"
#include "timer-internal.h"

GQuark aio_error_quark(void)
{
    return g_quark_from_static_string("aio-error-quark");
}

/* The context whose home thread is the calling thread. */
static __thread AioContext *current_aio_context;

/* ------------------------------------------------------------------------ */
/* Home thread                                                               */
/* ------------------------------------------------------------------------ */

/*
 * Record @thread (0: none) with its kernel id as @ctx's home.  The tid is
 * only reported (aio_context_get_home_tid()), never compared: thread
 * checks compare pthread_self(), which costs no system call.
 */
static void aio_context_store_home(AioContext *ctx, unsigned long thread, int tid)
{
    __atomic_store_n(&ctx->home_tid, tid, __ATOMIC_RELAXED);
    /* Release: pairs with the acquire in in_aio_context_home_thread(). */
    __atomic_store_n(&ctx->home_thread, thread, __ATOMIC_RELEASE);
}

void aio_context_set_home_thread(AioContext *ctx)
{
    g_return_if_fail(ctx != NULL);
    aio_rcu_register_thread();
    aio_context_store_home(ctx, (unsigned long)pthread_self(), (int)gettid());
    current_aio_context = ctx;
}

void aio_context_clear_home_thread(AioContext *ctx)
{
    g_return_if_fail(ctx != NULL);
    aio_context_store_home(ctx, 0, 0);
    if (current_aio_context == ctx) {
        current_aio_context = NULL;
    }
}

bool in_aio_context_home_thread(AioContext *ctx)
{
    /* Acquire: pairs with the release in aio_context_store_home(). */
    unsigned long home = __atomic_load_n(&ctx->home_thread, __ATOMIC_ACQUIRE);

    return home != 0 && pthread_equal((pthread_t)home, pthread_self());
}

int aio_context_get_home_tid(AioContext *ctx)
{
    g_return_val_if_fail(ctx != NULL, 0);
    return __atomic_load_n(&ctx->home_tid, __ATOMIC_RELAXED);
}

AioContext *qemu_get_current_aio_context(void)
{
    return current_aio_context;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Free what aio_context_new() sets up before the handlers (the timer lists
 * if made, the notifier, the lock) and @ctx itself: the end of both a failed
 * aio_context_new() and aio_context_free().
 */
static void aio_context_free_base(AioContext *ctx)
{
    if (ctx->timer_lists) {
        aio_timer_lists_free(ctx->timer_lists);
    }
    event_notifier_cleanup(&ctx->notifier);
    pthread_mutex_destroy(&ctx->list_lock);
    if (current_aio_context == ctx) {
        current_aio_context = NULL;
    }
    g_free(ctx);
}

AioContext *aio_context_new(GError **errp)
{
    AioContext *ctx = g_new0(AioContext, 1);
    int ret;

    ctx->refcnt = 1;
    ctx->notifier.rfd = ctx->notifier.wfd = -1;
    pthread_mutex_init(&ctx->list_lock, NULL);
    CDS_INIT_LIST_HEAD(&ctx->handlers);
    /* At home here; the thread's current context stays what it was. */
    aio_rcu_register_thread();
    aio_context_store_home(ctx, (unsigned long)pthread_self(), (int)gettid());

    ret = event_notifier_init(&ctx->notifier, 0);
    if (ret < 0) {
        g_set_error(errp, AIO_ERROR, 0, "Could not create the event loop's eventfd: %s",
                    g_strerror(-ret));
        goto fail;
    }
    ctx->timer_lists = aio_timer_lists_new(ctx);
    if (!aio_handlers_init(ctx, errp)) {
        goto fail;
    }
    return ctx;

fail:
    aio_context_free_base(ctx);
    return NULL;
}

void aio_context_ref(AioContext *ctx)
{
    g_return_if_fail(ctx != NULL);
    __atomic_fetch_add(&ctx->refcnt, 1, __ATOMIC_RELAXED);
}

static void aio_context_free(AioContext *ctx)
{
    /*
     * No one else holds a reference, so no one else polls @ctx: the freeing
     * thread adopts it (without making it its current context), so that
     * draining the pool may block in aio_poll() even when the home thread
     * is gone.
     */
    aio_rcu_register_thread();
    aio_context_store_home(ctx, (unsigned long)pthread_self(), (int)gettid());
    /* The pool's completion BH and workers go before the BHs are freed. */
    aio_thread_pool_cleanup(ctx);
    aio_handlers_cleanup(ctx);
    aio_bh_free_all(ctx);
    aio_context_free_base(ctx);
}

void aio_context_unref(AioContext *ctx)
{
    if (!ctx) {
        return;
    }
    /*
     * Acq_rel, pairing with the same decrement of every other unref: each
     * releases its owner's accesses; the last one acquires them all (the
     * decrements form one release sequence).
     */
    if (__atomic_sub_fetch(&ctx->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
        aio_context_free(ctx);
    }
}

/* ------------------------------------------------------------------------ */
/* aio_notify (see docs/aio.md, "The notify_me protocol")                    */
/* ------------------------------------------------------------------------ */

/* Remember when a wakeup was requested, for the wakeup-latency histogram. */
static void aio_notify_stamp(AioContext *ctx)
{
    int64_t expected = 0;

    /* Cheap pre-check so that the clock is read only when we will win. */
    if (__atomic_load_n(&ctx->notify_ts, __ATOMIC_RELAXED) != 0) {
        return;
    }
    __atomic_compare_exchange_n(&ctx->notify_ts, &expected, aio_now_ns(), false,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

void aio_notify(AioContext *ctx)
{
    if (!in_aio_context_home_thread(ctx)) {
        aio_notify_stamp(ctx);
    }

    /*
     * (A) Publish notified after the work (BH list, timers, handlers): the
     * seq_cst store is a release, acquired by the exchange in
     * aio_notify_accept() and by the seq_cst loads of notified.
     * (B) Then read notify_me.  Both seq_cst: they pair with the seq_cst
     * store of notify_me and load of notified in aio_poll() and in the
     * GSource's prepare (store buffering: at least one side sees the other's
     * store, so either we write the eventfd or the poller does not block).
     */
    __atomic_store_n(&ctx->notified, true, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&ctx->notify_me, __ATOMIC_SEQ_CST)) {
        event_notifier_set(&ctx->notifier);
    }
}

void aio_notify_accept(AioContext *ctx)
{
    /*
     * (C) Clear notified with an exchange: a read-modify-write reads the
     * latest value, so either it consumes an aio_notify()'s store and, being
     * an acquire, synchronizes with its release (A) (the reads of the work
     * that follow see it), or that store comes later and stays set for the
     * next iteration.  Nothing to do (and no atomic RMW) if it is clear.
     */
    if (__atomic_load_n(&ctx->notified, __ATOMIC_RELAXED)) {
        (void)__atomic_exchange_n(&ctx->notified, false, __ATOMIC_SEQ_CST);
    }
}

/* The context's own eventfd: readable handler, io_poll and io_poll_ready. */
static void aio_context_notifier_read(void *opaque)
{
    AioContext *ctx = opaque;

    event_notifier_test_and_clear(&ctx->notifier);
}

static bool aio_context_notifier_poll(void *opaque)
{
    AioContext *ctx = opaque;

    return __atomic_load_n(&ctx->notified, __ATOMIC_RELAXED);
}

static void aio_context_notifier_poll_ready(void *opaque)
{
    /* Nothing to do: aio_poll() calls aio_notify_accept() anyway. */
    (void)opaque;
}

void aio_context_add_notifier(AioContext *ctx)
{
    aio_set_fd_handler_full(ctx, event_notifier_get_fd(&ctx->notifier),
                            aio_context_notifier_read, NULL, aio_context_notifier_poll,
                            aio_context_notifier_poll_ready, ctx, true);
}

/* ------------------------------------------------------------------------ */
/* Bottom halves (see docs/aio.md, "Bottom halves")                          */
/* ------------------------------------------------------------------------ */

enum {
    BH_PENDING = 1,   /* in ctx->bh_list or in a slice being run */
    BH_SCHEDULED = 2, /* run the callback when dequeued */
    BH_DELETED = 4,   /* free when dequeued */
    BH_ONESHOT = 8,   /* free after running */
    BH_IDLE = 16,     /* scheduled without notify; not progress */
};

struct QEMUBH {
    AioContext *ctx;
    QEMUBHFunc *cb;
    void *opaque;
    QEMUBH *next;   /* ctx->bh_list or a slice */
    unsigned flags; /* atomic */
};

/* A round of BHs taken from ctx->bh_list, in scheduling order. */
struct AioBHSlice {
    QEMUBH *head;
    AioBHSlice *next; /* newer slice (nested aio_poll) */
};

static QEMUBH *aio_bh_alloc(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    QEMUBH *bh = g_new0(QEMUBH, 1);

    bh->ctx = ctx;
    bh->cb = cb;
    bh->opaque = opaque;
    __atomic_fetch_add(&ctx->bh_count, 1, __ATOMIC_RELAXED);
    return bh;
}

static void aio_bh_free(QEMUBH *bh)
{
    __atomic_fetch_sub(&bh->ctx->bh_count, 1, __ATOMIC_RELAXED);
    g_free(bh);
}

/*
 * Set @new_flags and BH_PENDING; the thread that sets BH_PENDING pushes the
 * BH on ctx->bh_list.  Lock-free, any thread.
 */
static void aio_bh_enqueue(QEMUBH *bh, unsigned new_flags, bool notify)
{
    AioContext *ctx = bh->ctx;
    unsigned old_flags;

    /*
     * Pairs with the fetch_and in aio_bh_dequeue(): the push below starts
     * only after the dequeuer has finished with bh->next.
     */
    old_flags = __atomic_fetch_or(&bh->flags, BH_PENDING | new_flags, __ATOMIC_SEQ_CST);
    if (!(old_flags & BH_PENDING)) {
        QEMUBH *head = __atomic_load_n(&ctx->bh_list, __ATOMIC_RELAXED);

        /*
         * Release: bh->next and everything the callback will read are
         * visible to the home thread's acquire exchange in aio_bh_poll()
         * and acquire load in aio_bh_timeout_ns().
         */
        do {
            bh->next = head;
        } while (!__atomic_compare_exchange_n(&ctx->bh_list, &head, bh, true,
                                              __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    }
    if (notify) {
        aio_notify(ctx);
    }
}

/* Pop the first BH of @slice; *flags gets its flags before they were reset. */
static QEMUBH *aio_bh_dequeue(AioBHSlice *slice, unsigned *flags)
{
    QEMUBH *bh = slice->head;

    if (!bh) {
        return NULL;
    }
    slice->head = bh->next;
    /*
     * Pairs with the fetch_or in aio_bh_enqueue(): bh->next was read above,
     * before BH_PENDING is cleared and another thread may push @bh again.
     */
    *flags = __atomic_fetch_and(&bh->flags, ~(BH_PENDING | BH_SCHEDULED | BH_IDLE),
                                __ATOMIC_SEQ_CST);
    return bh;
}

QEMUBH *aio_bh_new(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    g_return_val_if_fail(ctx != NULL && cb != NULL, NULL);
    return aio_bh_alloc(ctx, cb, opaque);
}

void aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    g_return_if_fail(ctx != NULL && cb != NULL);
    aio_bh_enqueue(aio_bh_alloc(ctx, cb, opaque), BH_SCHEDULED | BH_ONESHOT, true);
}

void qemu_bh_schedule(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);
    aio_bh_enqueue(bh, BH_SCHEDULED, true);
}

void qemu_bh_schedule_idle(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);
    /*
     * The home thread computes its next timeout after this and sees the
     * idle BH (10 ms cap).  Another thread cannot change the timeout of a
     * poller that is already asleep, so it notifies (cheap unless the
     * poller sleeps) to keep the 10 ms promise.
     */
    aio_bh_enqueue(bh, BH_SCHEDULED | BH_IDLE, !in_aio_context_home_thread(bh->ctx));
}

void qemu_bh_cancel(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);
    /* The BH stays queued if pending; the dequeuer skips it. */
    __atomic_fetch_and(&bh->flags, ~BH_SCHEDULED, __ATOMIC_RELAXED);
}

void qemu_bh_delete(QEMUBH *bh)
{
    if (!bh) {
        return;
    }
    /* Freed by the home thread when dequeued: never while being walked. */
    __atomic_fetch_and(&bh->flags, ~BH_SCHEDULED, __ATOMIC_RELAXED);
    aio_bh_enqueue(bh, BH_DELETED, !in_aio_context_home_thread(bh->ctx));
}

/* Take ctx->bh_list as a new slice in scheduling (FIFO) order. */
static QEMUBH *aio_bh_take_list(AioContext *ctx)
{
    QEMUBH *lifo, *fifo = NULL;

    /*
     * No atomic exchange while the list is empty (most iterations): a BH
     * pushed right after this load is as one pushed right after the
     * exchange, its aio_notify() brings the loop round again.
     */
    if (!__atomic_load_n(&ctx->bh_list, __ATOMIC_RELAXED)) {
        return NULL;
    }
    /* Acquire: pairs with the release CAS in aio_bh_enqueue(). */
    lifo = __atomic_exchange_n(&ctx->bh_list, NULL, __ATOMIC_ACQUIRE);

    while (lifo) {
        QEMUBH *next = lifo->next;

        lifo->next = fifo;
        fifo = lifo;
        lifo = next;
    }
    return fifo;
}

bool aio_bh_poll(AioContext *ctx)
{
    AioBHSlice slice = {.head = aio_bh_take_list(ctx)};
    AioBHSlice *s;
    bool progress = false;
    uint64_t ran = 0;

    if (!slice.head && !ctx->bh_slice_head) {
        return false;
    }
    if (ctx->bh_slice_tail) {
        ctx->bh_slice_tail->next = &slice;
    } else {
        ctx->bh_slice_head = &slice;
    }
    ctx->bh_slice_tail = &slice;

    /*
     * Run the oldest slices first: a nested aio_poll() from a BH finishes
     * the rounds of the outer calls, which then find nothing left.
     */
    while ((s = ctx->bh_slice_head) != NULL) {
        unsigned flags;
        QEMUBH *bh = aio_bh_dequeue(s, &flags);

        if (!bh) {
            ctx->bh_slice_head = s->next;
            if (!ctx->bh_slice_head) {
                ctx->bh_slice_tail = NULL;
            }
            continue;
        }
        if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED) {
            if (!(flags & BH_IDLE)) {
                progress = true;
            }
            ran++;
            bh->cb(bh->opaque);
        }
        if (flags & (BH_DELETED | BH_ONESHOT)) {
            aio_bh_free(bh);
        }
    }
    if (ran) {
        aio_stat_add(&ctx->stats.dispatches, ran);
    }
    return progress;
}

/*
 * The timeout a list of BHs asks for: 0, 10 ms for idle ones, or -1.  A
 * deleted BH is not work: it is freed by the next round that runs anyway
 * (as in QEMU), instead of costing a round of its own with no progress.
 */
static int64_t aio_bh_list_timeout(QEMUBH *bh, int64_t timeout)
{
    for (; bh; bh = bh->next) {
        unsigned flags = __atomic_load_n(&bh->flags, __ATOMIC_RELAXED);

        if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED) {
            if (!(flags & BH_IDLE)) {
                return 0;
            }
            timeout = 10 * SCALE_MS;
        }
    }
    return timeout;
}

/* 0 if a BH is scheduled, 10 ms if only idle ones, else -1.  Home thread. */
static int64_t aio_bh_timeout_ns(AioContext *ctx)
{
    /*
     * Only the home thread unlinks BHs, and pushers only change the head, so the chain
     * below the head is stable.  Acquire: pairs with the release CAS in
     * aio_bh_enqueue().
     */
    int64_t timeout =
        aio_bh_list_timeout(__atomic_load_n(&ctx->bh_list, __ATOMIC_ACQUIRE), -1);

    for (AioBHSlice *s = ctx->bh_slice_head; s && timeout != 0; s = s->next) {
        timeout = aio_bh_list_timeout(s->head, timeout);
    }
    return timeout;
}

void aio_bh_free_all(AioContext *ctx)
{
    QEMUBH *bh = aio_bh_take_list(ctx);
    unsigned leaked;

    while (bh) {
        QEMUBH *next = bh->next;
        unsigned flags = __atomic_load_n(&bh->flags, __ATOMIC_RELAXED);

        /* Deleted BHs and unrun oneshots belong to us; others to their owner. */
        if (flags & (BH_DELETED | BH_ONESHOT)) {
            aio_bh_free(bh);
        } else {
            __atomic_fetch_and(&bh->flags, ~(BH_PENDING | BH_SCHEDULED),
                               __ATOMIC_RELAXED);
        }
        bh = next;
    }
    leaked = __atomic_load_n(&ctx->bh_count, __ATOMIC_RELAXED);
    if (leaked) {
        g_warning("AioContext %p freed with %u bottom half(s) not deleted", (void *)ctx,
                  leaked);
    }
}

/*
 * Free the deleted BHs of ctx->bh_list without running any callback: what
 * the next aio_bh_poll() would do with them.  For the GSource, whose
 * prepare does not count deleted BHs as work (no round of their own), so
 * that they do not pile up while the AioContext dispatches nothing.  Home
 * thread, outside aio_bh_poll() (no slice being run).  BHs that are still
 * scheduled (pushed meanwhile, or idle ones) are put back in order.
 */
void aio_bh_reap_deleted(AioContext *ctx)
{
    /* Acquire: pairs with the release CAS in aio_bh_enqueue(). */
    QEMUBH *head = __atomic_load_n(&ctx->bh_list, __ATOMIC_ACQUIRE);
    AioBHSlice taken = {0};
    QEMUBH *bh;
    unsigned flags;
    bool any = false;

    if (!head || ctx->bh_slice_head) {
        return;
    }
    /* The chain below the head is stable (see aio_bh_timeout_ns()). */
    for (bh = head; bh && !any; bh = bh->next) {
        any = !(__atomic_load_n(&bh->flags, __ATOMIC_RELAXED) & BH_SCHEDULED);
    }
    if (!any) {
        return;
    }
    taken.head = aio_bh_take_list(ctx);
    while ((bh = aio_bh_dequeue(&taken, &flags)) != NULL) {
        if (flags & BH_DELETED) {
            aio_bh_free(bh);
        } else if (flags & BH_SCHEDULED) {
            aio_bh_enqueue(bh, flags & (BH_SCHEDULED | BH_IDLE), false);
        }
        /* else cancelled: off the list, as aio_bh_poll() leaves it */
    }
}

/* ------------------------------------------------------------------------ */
/* Timeout, poll parameters, statistics                                      */
/* ------------------------------------------------------------------------ */

int64_t aio_compute_timeout_ns(AioContext *ctx)
{
    int64_t timeout = aio_bh_timeout_ns(ctx);

    if (timeout == 0) {
        return 0;
    }
    return aio_timeout_min(timeout, aio_timer_lists_deadline_ns(ctx->timer_lists));
}

bool aio_context_set_poll_params(AioContext *ctx, int64_t max_ns, int64_t grow,
                                 int64_t shrink, GError **errp)
{
    g_return_val_if_fail(ctx != NULL, false);
    if (max_ns < 0 || grow < 0 || shrink < 0) {
        g_set_error(errp, AIO_ERROR, 0,
                    "poll-max-ns, poll-grow and poll-shrink must not be negative "
                    "(got %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                    ")",
                    max_ns, grow, shrink);
        return false;
    }
    __atomic_store_n(&ctx->poll_max_ns, max_ns, __ATOMIC_RELAXED);
    __atomic_store_n(&ctx->poll_grow, grow, __ATOMIC_RELAXED);
    __atomic_store_n(&ctx->poll_shrink, shrink, __ATOMIC_RELAXED);
    /* Release: pairs with the acquire load of poll_gen in poll_params_refresh(). */
    __atomic_fetch_add(&ctx->poll_gen, 1, __ATOMIC_RELEASE);
    aio_notify(ctx);
    return true;
}

void aio_context_get_poll_params(AioContext *ctx, int64_t *max_ns, int64_t *grow,
                                 int64_t *shrink)
{
    g_return_if_fail(ctx != NULL);
    if (max_ns) {
        *max_ns = __atomic_load_n(&ctx->poll_max_ns, __ATOMIC_RELAXED);
    }
    if (grow) {
        *grow = __atomic_load_n(&ctx->poll_grow, __ATOMIC_RELAXED);
    }
    if (shrink) {
        *shrink = __atomic_load_n(&ctx->poll_shrink, __ATOMIC_RELAXED);
    }
}

void aio_context_get_stats(AioContext *ctx, AioContextStats *stats)
{
    const AioContextStats *s = &ctx->stats;

    g_return_if_fail(ctx != NULL && stats != NULL);
    stats->iterations = __atomic_load_n(&s->iterations, __ATOMIC_RELAXED);
    stats->dispatches = __atomic_load_n(&s->dispatches, __ATOMIC_RELAXED);
    stats->wakeups = __atomic_load_n(&s->wakeups, __ATOMIC_RELAXED);
    stats->busy_ns = __atomic_load_n(&s->busy_ns, __ATOMIC_RELAXED);
    stats->wait_ns = __atomic_load_n(&s->wait_ns, __ATOMIC_RELAXED);
    stats->poll_ns = __atomic_load_n(&s->poll_ns, __ATOMIC_RELAXED);
    stats->poll_hits = __atomic_load_n(&s->poll_hits, __ATOMIC_RELAXED);
    stats->poll_misses = __atomic_load_n(&s->poll_misses, __ATOMIC_RELAXED);
    stats->poll_window_ns = __atomic_load_n(&ctx->poll_ns, __ATOMIC_RELAXED);
    lat_hist_copy(&stats->wakeup, &s->wakeup);
}

void aio_stats_record_wakeup(AioContext *ctx, int64_t now)
{
    int64_t ts;

    if (__atomic_load_n(&ctx->notify_ts, __ATOMIC_RELAXED) == 0 ||
        !in_aio_context_home_thread(ctx)) {
        return;
    }
    ts = __atomic_exchange_n(&ctx->notify_ts, 0, __ATOMIC_RELAXED);
    if (ts) {
        /* No clock read yet, or a notify stamped after it: read it now. */
        if (now < ts) {
            now = aio_now_ns();
        }
        lat_hist_record(&ctx->stats.wakeup, now > ts ? (uint64_t)(now - ts) : 0);
    }
}

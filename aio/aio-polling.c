/*
 * aio/aio-polling.c - adaptive polling: busy-polling the io_poll handlers
 * before a sleep, entering and leaving poll mode (io_poll_begin/_end), and
 * each handler's poll window (see docs/aio.md, "Adaptive polling").
 * Home thread only; the handler list is walked inside rcu_read_lock().
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib.h>
#include <urcu/urcu-memb.h>

#include "qcontext/aio/aio.h"
#include "aio-internal.h"

static void aio_add_poll_ready(AioHandlerList *ready, AioHandler *node)
{
    aio_add_ready_handler(ready, node, 0);
    node->poll_ready = true;
}

/* Call every io_poll once.  Returns true if one other than ours found work. */
static bool run_poll_handlers_once(AioContext *ctx, AioHandlerList *ready,
                                   int64_t *timeout)
{
    AioHandler *node;
    bool progress = false;

    urcu_memb_read_lock();
    for (node = aio_handler_next(ctx, NULL); node; node = aio_handler_next(ctx, node)) {
        if (!node->io_poll || node->dispatching || aio_handler_is_deleted(node)) {
            continue;
        }
        if (node->io_poll(node->opaque)) {
            aio_add_poll_ready(ready, node);
            *timeout = 0; /* stop polling, do not block */
            progress |= !node->is_ctx_notifier;
        }
    }
    urcu_memb_read_unlock();
    return progress;
}

/*
 * Busy-poll for up to @max_ns; *timeout shrinks by the time spent.  *@now
 * is the clock when polling starts and, on return, when it ended (one read
 * per round of io_poll calls, none more).
 */
static bool run_poll_handlers(AioContext *ctx, AioHandlerList *ready, int64_t max_ns,
                              int64_t *timeout, int64_t *now)
{
    int64_t start = *now;
    int64_t elapsed;
    bool progress;

    do {
        progress = run_poll_handlers_once(ctx, ready, timeout);
        *now = aio_now_ns();
        elapsed = *now - start;
        max_ns = aio_timeout_min(*timeout, max_ns);
    } while (elapsed < max_ns && !aio_fdmon_need_wait(ctx));

    aio_stat_add(&ctx->stats.poll_ns, elapsed);
    aio_stat_add(*timeout == 0 ? &ctx->stats.poll_hits : &ctx->stats.poll_misses, 1);
    if (*timeout > 0) {
        *timeout -= MIN(*timeout, elapsed);
    }
    return progress;
}

/*
 * Enter or leave polling mode: io_poll_begin/io_poll_end callbacks.  When
 * leaving, poll once more since notifications were off until now.  Returns
 * true if that found work.
 */
bool aio_poll_set_started(AioContext *ctx, AioHandlerList *ready, bool started)
{
    AioHandler *node;
    bool progress = false;

    if (started == ctx->poll_started) {
        return false;
    }
    ctx->poll_started = started;
    urcu_memb_read_lock();
    for (node = aio_handler_next(ctx, NULL); node; node = aio_handler_next(ctx, node)) {
        IOHandler *fn = started ? node->io_poll_begin : node->io_poll_end;

        if (aio_handler_is_deleted(node)) {
            continue;
        }
        if (fn) {
            fn(node->opaque);
        }
        if (!started && node->io_poll && !node->dispatching &&
            node->io_poll(node->opaque)) {
            aio_add_poll_ready(ready, node);
            progress = true;
        }
    }
    urcu_memb_read_unlock();
    return progress;
}

/*
 * Busy-poll before blocking if the window allows.  True if work was found.
 * Poll mode is entered here and left only before a sleep (aio_poll_wait()):
 * an iteration that does not sleep (a BH pending, work found) keeps the
 * handlers' notifications off, so a device polling its ring is not kicked
 * for every request.
 */
bool aio_poll_try(AioContext *ctx, AioHandlerList *ready, int64_t *timeout,
                  int64_t *now)
{
    int64_t max_ns = aio_timeout_min(*timeout, ctx->poll_ns);

    if (max_ns && !aio_fdmon_need_wait(ctx)) {
        aio_poll_set_started(ctx, ready, true);
        return run_poll_handlers(ctx, ready, max_ns, timeout, now);
    }
    return false;
}

/*
 * Grow or shrink @node's window: it became ready @block_ns after its
 * blocking iteration started.  Returns true if the window changed.
 */
static bool adjust_polling_time(AioContext *ctx, AioHandler *node, int64_t block_ns)
{
    int64_t max_ns = __atomic_load_n(&ctx->poll_max_ns, __ATOMIC_RELAXED);
    int64_t ns = node->poll_ns;

    if (block_ns <= ns) {
        return false; /* the sweet spot: polling caught it */
    }
    if (block_ns > max_ns) {
        /* Polling that long would not pay: poll less. */
        int64_t shrink = __atomic_load_n(&ctx->poll_shrink, __ATOMIC_RELAXED);

        ns = shrink ? ns / shrink : 0;
    } else if (ns < max_ns) {
        /* The event came within max_ns: poll longer next time. */
        int64_t grow = __atomic_load_n(&ctx->poll_grow, __ATOMIC_RELAXED);

        ns = ns ? ns * (grow ? grow : 2) : 4000;
        ns = MIN(ns, max_ns);
    }
    if (ns == node->poll_ns) {
        return false;
    }
    node->poll_ns = ns;
    return true;
}

/*
 * The context polls as long as its most patient handler: the largest
 * window of a live handler with io_poll (@reset: set them all to 0 first).
 * A virtqueue whose requests come 10 us apart keeps its window while the
 * disk behind it takes 200 us (its completion handler's window shrinks).
 */
static void poll_window_refresh(AioContext *ctx, bool reset)
{
    AioHandler *node;
    int64_t max = 0;
    unsigned poll_only = 0;

    ctx->poll_ns_gen = __atomic_load_n(&ctx->handlers_gen, __ATOMIC_RELAXED);
    urcu_memb_read_lock();
    for (node = aio_handler_next(ctx, NULL); node; node = aio_handler_next(ctx, node)) {
        if (reset) {
            node->poll_ns = 0;
        }
        if (node->io_poll && !aio_handler_is_deleted(node)) {
            max = MAX(max, node->poll_ns);
            poll_only += node->events == 0;
        }
    }
    urcu_memb_read_unlock();
    ctx->poll_only_handlers = poll_only;
    __atomic_store_n(&ctx->poll_ns, max, __ATOMIC_RELAXED);
}

/*
 * After a blocking iteration: adapt the windows of the handlers now ready,
 * and of those without an fd to watch (io_poll only: only polling can find
 * their work, so the iteration's wakeup is the best guess of when it came).
 */
void aio_poll_windows_adjust(AioContext *ctx, AioHandlerList *ready, int64_t block_ns)
{
    AioHandler *node;
    bool changed = false;

    if (__atomic_load_n(&ctx->poll_max_ns, __ATOMIC_RELAXED) == 0) {
        return; /* no polling: every window stays 0 */
    }
    cds_list_for_each_entry(node, &ready->head, ready_link)
    {
        if (node->io_poll && node->events != 0) {
            changed |= adjust_polling_time(ctx, node, block_ns);
        }
    }
    if (ctx->poll_only_handlers > 0) {
        urcu_memb_read_lock();
        for (node = aio_handler_next(ctx, NULL); node;
             node = aio_handler_next(ctx, node)) {
            if (node->io_poll && node->events == 0 && !aio_handler_is_deleted(node)) {
                changed |= adjust_polling_time(ctx, node, block_ns);
            }
        }
        urcu_memb_read_unlock();
    }
    if (changed) {
        poll_window_refresh(ctx, false);
    }
}

/* New poll parameters restart the windows from 0; handlers came or went. */
void aio_poll_params_refresh(AioContext *ctx)
{
    /* Acquire: pairs with the release increment in aio_context_set_poll_params(). */
    unsigned gen = __atomic_load_n(&ctx->poll_gen, __ATOMIC_ACQUIRE);

    if (gen != ctx->poll_gen_seen) {
        ctx->poll_gen_seen = gen;
        poll_window_refresh(ctx, true);
    } else if (__atomic_load_n(&ctx->handlers_gen, __ATOMIC_RELAXED) !=
               ctx->poll_ns_gen) {
        poll_window_refresh(ctx, false);
    }
}

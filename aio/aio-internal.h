/*
 * aio/aio-internal.h - the AioContext internals shared by the loop (async.c,
 * aio-posix.c, aio-gsource.c) and the pluggable pieces: fd monitors
 * (fdmon-*.c), timers (timer.c) and statistics.
 *
 * Not a public header: only files under aio/ (and white-box tests) include it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AIO_AIO_INTERNAL_H
#define AIO_AIO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <glib.h>
#include <urcu/list.h>

#include "qcontext/aio/aio.h"

/* Built with ThreadSanitizer (gcc defines the first, clang has the feature). */
#if defined(__SANITIZE_THREAD__)
#define AIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AIO_TSAN 1
#endif
#endif

/* Built with AddressSanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define AIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AIO_ASAN 1
#endif
#endif

typedef struct AioHandler AioHandler;
typedef struct AioHandlerList AioHandlerList;
typedef struct FDMonOps FDMonOps;

/* ------------------------------------------------------------------------ */
/* fd handlers as seen by an fd monitor                                      */
/* ------------------------------------------------------------------------ */

/*
 * Event bits of AioHandler.events/revents: GLib's GIOCondition values, which
 * on Linux equal poll(2)'s POLLIN/POLLOUT/POLLERR/POLLHUP.  An fd monitor
 * reports G_IO_IN/G_IO_OUT/G_IO_ERR/G_IO_HUP (for epoll: EPOLLIN == POLLIN...).
 */

/*
 * One registered fd.  Nodes are immutable once published, except for the
 * fields marked otherwise: aio_set_fd_handler() never edits a node, it
 * replaces it with a new one, and frees the old one only once no aio_poll()
 * walks the lists (ctx->walkers == 0) and no fd monitor holds it
 * (fdmon_busy).  So a node an fd monitor reports from wait() is always
 * alive, even if another thread removed it meanwhile.
 */
struct AioHandler {
    /* --- readable by fd monitors (read-only for them) --- */
    int fd;
    int events; /* G_IO_IN if io_read, G_IO_OUT if io_write; may be 0 (io_poll only) */

    /* --- written by fd monitors in wait(), via aio_add_ready_handler() --- */
    int revents;

    /*
     * --- free for the fd monitor's own use (zeroed before the node is
     * first given to a monitor, also when monitors are switched) ---
     */
    unsigned fdmon_flags;   /* e.g. io_uring: POLL_ADD in flight / to submit */
    int fdmon_index;        /* e.g. ppoll: index in the pollfd array */
    AioHandler *fdmon_next; /* e.g. io_uring: link in a submit list */
    /*
     * Set (atomic store) by a monitor that must keep an old node alive after
     * update() removed it, e.g. while the kernel still holds a pointer to it
     * (io_uring POLL_ADD not yet cancelled).  Cleared (atomic store-release)
     * once the monitor no longer references it.  The loop frees a removed
     * node only when fdmon_busy is false; the monitor's destroy() must clear
     * it on every node it holds.
     */
    bool fdmon_busy;

    /* --- the loop's own fields (monitors must not touch) --- */
    IOHandler *io_read;
    IOHandler *io_write;
    AioPollFn *io_poll;
    IOHandler *io_poll_ready;
    IOHandler *io_poll_begin;
    IOHandler *io_poll_end;
    void *opaque;
    bool is_ctx_notifier; /* the context's own notifier (not progress) */

    struct cds_list_head node; /* ctx->handlers (RCU) */
    AioHandler *deleted_next;  /* ctx->deleted_handlers (list_lock) */
    bool deleted;              /* atomic: removed from ctx->handlers */

    struct cds_list_head ready_link; /* an AioHandlerList (home thread) */
    bool in_ready;                   /* linked in some AioHandlerList */
    bool poll_ready;                 /* io_poll returned true */
    unsigned dispatching;            /* home thread: callbacks running */
    int64_t poll_ns;                 /* home thread: this handler's poll window */
};

/*
 * A list of ready handlers, filled by an fd monitor's wait() and by
 * busy-polling, drained by the dispatcher.  Home thread only.  A node is in
 * at most one list; adding it again moves it (a nested aio_poll may take
 * over a node that an outer aio_poll has not dispatched yet).
 */
struct AioHandlerList {
    struct cds_list_head head;
};

/** aio_handler_list_init: an empty ready list. */
static inline void aio_handler_list_init(AioHandlerList *list)
{
    CDS_INIT_LIST_HEAD(&list->head);
}

/**
 * aio_add_ready_handler: called by an fd monitor's wait() for each ready
 * node, with the G_IO_* bits that are ready.  Adding a node twice merges.
 */
static inline void aio_add_ready_handler(AioHandlerList *ready, AioHandler *node,
                                         int revents)
{
    if (node->in_ready) {
        cds_list_del(&node->ready_link);
    } else {
        node->revents = 0;
        node->poll_ready = false;
    }
    node->revents |= revents;
    node->in_ready = true;
    cds_list_add_tail(&node->ready_link, &ready->head);
}

/* ------------------------------------------------------------------------ */
/* fd monitors (one backend per file: fdmon-epoll.c, fdmon-io-uring.c...)    */
/* ------------------------------------------------------------------------ */

/*
 * Timeouts are in nanoseconds: -1 blocks until an fd is ready, 0 does not
 * block, otherwise the wait ends after at most that many ns (monitors use
 * epoll_pwait2/ppoll/io_uring timeouts with ns resolution, never rounding a
 * positive timeout down to 0).
 *
 * Concurrency: update() is called from any thread with ctx->list_lock held;
 * every other op from the home thread (init/destroy outside aio_poll).
 */
struct FDMonOps {
    const char *name; /* "epoll", "io_uring", "poll" */
    AioFdMonKind kind;

    /*
     * init: set up the monitor for @ctx and store its private state in
     * *@state (the loop then sets ctx->fdmon_state = *@state).  On failure
     * set @errp with a user-readable message and return false; the context
     * keeps its current monitor.  Called with ctx->list_lock NOT held; the
     * loop then feeds every existing handler through update(NULL, node).
     */
    bool (*init)(AioContext *ctx, void **state, GError **errp);

    /*
     * destroy: release ctx->fdmon_state.  Called with ctx->list_lock held
     * when switching monitors (the handlers stay registered and are given to
     * the next monitor) and at context free.  Must clear fdmon_busy on every
     * node it still holds.
     */
    void (*destroy)(AioContext *ctx);

    /*
     * update: @old_node is replaced by @new_node (same fd), or added
     * (@old_node NULL), or removed (@new_node NULL).  Any thread, with
     * ctx->list_lock held.  When the ctx's list changes from another thread
     * the loop calls aio_notify() after update(), so a monitor that defers
     * the change to wait() (io_uring) sees it soon.
     */
    void (*update)(AioContext *ctx, AioHandler *old_node, AioHandler *new_node);

    /*
     * wait: wait up to @timeout_ns for registered fds to become ready and
     * add each ready node with aio_add_ready_handler().  Returns the number
     * of nodes added, 0 on timeout or EINTR, or -errno.  Home thread.
     * Nodes it reports are alive: the loop does not free removed nodes while
     * an aio_poll runs.
     */
    int (*wait)(AioContext *ctx, AioHandlerList *ready, int64_t timeout_ns);

    /*
     * need_wait: true if wait() must be called even when busy-polling found
     * work (e.g. io_uring has queued submissions), which also stops polling.
     * May be NULL (never).
     */
    bool (*need_wait)(AioContext *ctx);

    /*
     * gsource_fd: a single fd that is readable when wait(ctx, ready, 0)
     * would report something (epoll fd, io_uring ring fd), for the GSource
     * view; -1 or NULL if there is none, in which case the GSource polls
     * every handler's fd itself.  Home thread.
     */
    int (*gsource_fd)(AioContext *ctx);

    /*
     * gsource_submit: for the GSource's prepare, which does not call
     * wait(): make the queued changes (need_wait()) effective in the kernel
     * without waiting or reaping.  Returns false if that failed (the
     * GSource then asks for an iteration that calls wait()).  Home thread.
     * NULL if need_wait is NULL.
     */
    bool (*gsource_submit)(AioContext *ctx);

    /*
     * gsource_check: for the GSource's check, when gsource_fd is readable:
     * consume what wait() would consume without reporting any node (e.g.
     * completions of cancelled requests) and return true if something is
     * left that wait() will report.  Home thread.  NULL: readable means
     * ready.
     */
    bool (*gsource_check)(AioContext *ctx);
};

extern const FDMonOps fdmon_epoll_ops;    /* fdmon-epoll.c */
extern const FDMonOps fdmon_io_uring_ops; /* fdmon-io-uring.c */
extern const FDMonOps fdmon_poll_ops;     /* fdmon-poll.c */

/* ------------------------------------------------------------------------ */
/* The context                                                               */
/* ------------------------------------------------------------------------ */

typedef struct AioTimerLists AioTimerLists; /* aio/timer-internal.h */
typedef struct AioBHSlice AioBHSlice;

/*
 * The fields are grouped by who writes them, on cache lines of their own
 * where it matters for a cross-thread wakeup: another thread that
 * schedules a BH writes bh_list and notified and reads notify_me, all on
 * one line (the mailbox), which the home thread then reads; the home
 * thread's per-iteration writes (walkers, statistics) are on other lines,
 * so that they do not bounce the mailbox between the two CPUs.
 */
#define AIO_CACHELINE 64

struct AioContext {
    /* --- read-mostly: identity, handlers, fd monitor --- */
    int refcnt;                /* atomic */
    unsigned long home_thread; /* atomic: pthread_self() of the home thread, 0: none */
    int home_tid;              /* atomic: its gettid(), 0: none */
    pthread_mutex_t list_lock; /* writers of handlers, deleted_handlers */
    struct cds_list_head handlers; /* AioHandler.node, RCU-read by the loop */
    GHashTable *handler_by_fd;     /* fd -> live AioHandler (list_lock) */
    AioHandler *deleted_handlers;  /* removed, to free (list_lock) */
    unsigned handlers_gen;         /* atomic: bumped on every handler change */
    const FDMonOps *fdmon_ops;     /* changed by the home thread only */
    void *fdmon_state;             /* the monitor's private state */
    unsigned fdmon_gen;            /* atomic: bumped when the monitor changes */
    EventNotifier notifier;
    AioTimerLists *timer_lists;
    struct ThreadPool *thread_pool; /* atomic; set under list_lock */
    GSource *source;                /* weak; NULL until aio_get_g_source() */
    unsigned bh_count; /* atomic: live BHs but oneshots, for the leak check */

    /* --- the mailbox (see docs/aio.md, "The notify_me protocol") --- */
    _Alignas(AIO_CACHELINE) QEMUBH *bh_list; /* atomic LIFO of BHs with BH_PENDING */
    unsigned notify_me; /* atomic; +2 by aio_poll, |1 by GSource prepare */
    bool notified;      /* atomic */
    int64_t notify_ts;  /* atomic: time of a sleeping loop's wakeup request, or 0 */

    /* --- the home thread's own, written every iteration --- */
    /* walkers: atomic, aio_poll/dispatch in progress */
    _Alignas(AIO_CACHELINE) unsigned walkers;
    int dispatch_revents;      /* home thread: revents of the handler running */
    AioBHSlice *bh_slice_head; /* home thread: rounds being run, oldest first */
    AioBHSlice *bh_slice_tail;
    unsigned poll_gen_seen; /* home thread */
    int64_t poll_ns;        /* home thread writes, atomic: the largest handler window */
    unsigned poll_ns_gen;   /* home thread: handlers_gen when poll_ns was computed */
    unsigned poll_only_handlers; /* home thread: live io_poll handlers without events */
    bool poll_started;           /* home thread */
    int64_t fd_check_ns;         /* home thread: last time the fd monitor was asked */

    /* --- adaptive polling parameters (any thread writes, rarely) --- */
    _Alignas(AIO_CACHELINE) int64_t poll_max_ns; /* atomic */
    int64_t poll_grow;                           /* atomic */
    int64_t poll_shrink;                         /* atomic */
    unsigned poll_gen;                           /* atomic: bumped by set_poll_params */

    /* --- batching and per-context slots (aio/context-slots.c) --- */
    int64_t aio_max_batch;              /* atomic */
    void *slots[AIO_CONTEXT_MAX_SLOTS]; /* home thread */

    /* --- statistics (home thread writes with relaxed atomics) --- */
    _Alignas(AIO_CACHELINE) AioContextStats stats;
};

/* ------------------------------------------------------------------------ */
/* Shared between the loop's files                                           */
/* ------------------------------------------------------------------------ */

/* Set once the calling thread is registered with urcu-memb (rcu-thread.c). */
extern __thread bool aio_rcu_thread_registered;
/* aio_rcu_register_thread_slow: the registration itself (rcu-thread.c). */
void aio_rcu_register_thread_slow(void);

/**
 * aio_rcu_register_thread: register the calling thread with urcu-memb once;
 * it is unregistered automatically when the thread exits (rcu-thread.c).
 * Inlined: after the first call it is one thread-local load.
 */
static inline void aio_rcu_register_thread(void)
{
    if (G_UNLIKELY(!aio_rcu_thread_registered)) {
        aio_rcu_register_thread_slow();
    }
}

/* context-slots.c: destroy every slot value of @ctx (its final unref) */
void aio_context_slots_destroy(AioContext *ctx);

/* async.c: bottom halves, the notify protocol, timeouts, statistics */
bool aio_bh_poll(AioContext *ctx);
void aio_bh_free_all(AioContext *ctx);
void aio_notify_accept(AioContext *ctx);
void aio_context_add_notifier(AioContext *ctx);
/*
 * aio_compute_timeout_ns: the blocking timeout from BHs and timers (-1 =
 * none).  Deleted BHs are not work (they are freed by the next round).
 */
int64_t aio_compute_timeout_ns(AioContext *ctx);
/* aio_bh_reap_deleted: free deleted BHs now, running no callback (home thread). */
void aio_bh_reap_deleted(AioContext *ctx);
/* aio_bh_timeout_ns: 0 if a BH is scheduled, 10 ms if only idle ones, else -1. */
int64_t aio_bh_timeout_ns(AioContext *ctx);
/*
 * aio_stats_record_wakeup: home thread, after the wait, before dispatch:
 * notify -> @now (the latest clock read; read again if the stamp is newer).
 */
void aio_stats_record_wakeup(AioContext *ctx, int64_t now);

/**
 * aio_in_home_thread: in_aio_context_home_thread() for the loop's own use,
 * inlined (it is on the path of every iteration and notify).
 */
static inline bool aio_in_home_thread(AioContext *ctx)
{
    /* Acquire: pairs with the release store in aio_context_store_home(). */
    unsigned long home = __atomic_load_n(&ctx->home_thread, __ATOMIC_ACQUIRE);

    return home != 0 && pthread_equal((pthread_t)home, pthread_self());
}

/** aio_timeout_min: the sooner of two timeouts where -1 is infinite. */
static inline int64_t aio_timeout_min(int64_t a, int64_t b)
{
    /* -1 means infinite: compare as unsigned */
    return (uint64_t)a < (uint64_t)b ? a : b;
}

/** aio_fdmon_need_wait: the monitor's need_wait(), false if it has none. */
static inline bool aio_fdmon_need_wait(AioContext *ctx)
{
    return ctx->fdmon_ops->need_wait && ctx->fdmon_ops->need_wait(ctx);
}

/** aio_ns_to_timespec: a timeout or time in ns (>= 0) as a timespec. */
static inline struct timespec aio_ns_to_timespec(int64_t ns)
{
    return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
}

/**
 * aio_ns_to_ms_ceil: a ns timeout as a poll(2)-style ms timeout: -1 stays
 * -1 (block), others round UP (never wake early), capped at G_MAXINT.
 */
static inline int aio_ns_to_ms_ceil(int64_t ns)
{
    int64_t ms;

    if (ns < 0) {
        return -1;
    }
    ms = (ns + 999999) / 1000000;
    return ms > G_MAXINT ? G_MAXINT : (int)ms;
}

/* aio-posix.c: handlers, fd monitors, the loop */
bool aio_handlers_init(AioContext *ctx, GError **errp);
void aio_handlers_cleanup(AioContext *ctx);
void aio_set_fd_handler_full(AioContext *ctx, int fd, IOHandler *io_read,
                             IOHandler *io_write, AioPollFn *io_poll,
                             IOHandler *io_poll_ready, void *opaque,
                             bool is_ctx_notifier);
/* walkers: an aio_poll or GSource dispatch that may hold handler pointers */
void aio_walkers_inc(AioContext *ctx);
void aio_walkers_dec(AioContext *ctx);
bool aio_dispatch_ready(AioContext *ctx, AioHandlerList *ready);
/* aio_dispatch: one non-blocking iteration (used by the GSource). */
bool aio_dispatch(AioContext *ctx);

/* Next handler after @node (NULL: the first), or NULL.  Inside rcu_read_lock. */
static inline AioHandler *aio_handler_next(AioContext *ctx, AioHandler *node)
{
    struct cds_list_head *pos = node ? &node->node : &ctx->handlers;
    /* Acquire: pairs with the release stores of the list writers
     * (handler_list_add_tail/replace/del in aio-posix.c). */
    struct cds_list_head *next = __atomic_load_n(&pos->next, __ATOMIC_ACQUIRE);

    return next == &ctx->handlers ? NULL : caa_container_of(next, AioHandler, node);
}

static inline bool aio_handler_is_deleted(AioHandler *node)
{
    return __atomic_load_n(&node->deleted, __ATOMIC_RELAXED);
}

/* aio-polling.c: adaptive polling (docs/aio.md, "Adaptive polling"), home thread */
/* Busy-poll for up to the window (if any); true (and *@timeout 0) if work was found. */
bool aio_poll_try(AioContext *ctx, AioHandlerList *ready, int64_t *timeout,
                  int64_t *now);
/* Enter or leave poll mode (io_poll_begin/_end); leaving polls once more: true if that
 * found work. */
bool aio_poll_set_started(AioContext *ctx, AioHandlerList *ready, bool started);
/* After a blocking iteration that woke @block_ns after it started: adapt the windows.
 */
void aio_poll_windows_adjust(AioContext *ctx, AioHandlerList *ready, int64_t block_ns);
/* New poll parameters, or handlers came or went: refresh the windows. */
void aio_poll_params_refresh(AioContext *ctx);

/* statistics helpers (home thread, relaxed atomics) */
static inline void aio_stat_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n,
                     __ATOMIC_RELAXED);
}

/** aio_now_ns: CLOCK_MONOTONIC in ns (QEMU_CLOCK_REALTIME; timer.c). */
int64_t aio_now_ns(void);

#endif /* AIO_AIO_INTERNAL_H */

/*
 * aio/aio.h - AioContext: the fast event loop device dataplanes run on.
 *
 * Public names and semantics follow QEMU's include/block/aio.h so that device
 * code written against QEMU's AioContext ports with a thin header:
 * fd handlers, event notifiers, bottom halves, timers, adaptive polling,
 * aio_poll()/aio_notify(), and a GSource view for GLib main loops.
 *
 * Threading: every AioContext has a home thread: the thread that created it,
 * until another one calls aio_context_set_home_thread(), or none after
 * aio_context_clear_home_thread().  The home thread is the one place that
 * says which thread runs a context (QContext's thread identity is read from
 * it).  Only the home thread may call aio_poll() with blocking=true.  Any
 * thread may schedule BHs, call aio_notify(), and add or remove fd handlers.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AIO_AIO_H
#define AIO_AIO_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "qcontext/aio/event-notifier.h"
#include "qcontext/aio/stats.h"

G_BEGIN_DECLS

/** An event loop: fd handlers, bottom halves, timers, polling (opaque). */
typedef struct AioContext AioContext;
/** A bottom half: a callback scheduled on a context (opaque). */
typedef struct QEMUBH QEMUBH;
/** A timer of a context (see struct QEMUTimer). */
typedef struct QEMUTimer QEMUTimer;

/** Error domain of aio/ (context creation, fdmon, poll parameters...). */
#define AIO_ERROR (aio_error_quark())
/** aio_error_quark: the GQuark behind the error domain macro above. */
GQuark aio_error_quark(void);

/** A bottom half's callback, on the context's home thread. */
typedef void QEMUBHFunc(void *opaque);
/** An fd handler's callback (readable, writable, poll ready). */
typedef void IOHandler(void *opaque);
/** An io_poll function: return true if the handler has work (polling). */
typedef bool AioPollFn(void *opaque);
/** An event notifier's callback. */
typedef void EventNotifierHandler(EventNotifier *e);
/** A timer's callback, on the context's home thread. */
typedef void QEMUTimerCB(void *opaque);

/* ------------------------------------------------------------------------ */
/* Context lifetime                                                          */
/* ------------------------------------------------------------------------ */

/** The fd monitoring backends (one file each under aio/). */
typedef enum {
    AIO_FDMON_EPOLL,    /**< epoll, the default */
    AIO_FDMON_IO_URING, /**< io_uring poll_add (liburing) */
    AIO_FDMON_POLL,     /**< ppoll, for small sets */
} AioFdMonKind;

/**
 * aio_context_new: create an AioContext at home on the calling thread, with
 * the epoll fd monitor.  The calling thread is registered with urcu.  It
 * does not become the thread's current context (see
 * aio_context_set_home_thread()).
 */
AioContext *aio_context_new(GError **errp);

/** aio_context_ref: take a reference.  Any thread. */
void aio_context_ref(AioContext *ctx);

/**
 * aio_context_unref: drop a reference; the last one frees the context
 * (all BHs must be deleted and all handlers removed by then).
 */
void aio_context_unref(AioContext *ctx);

/**
 * aio_context_set_fdmon: switch fd monitoring to @kind.  Home thread only,
 * never from inside aio_poll().  For AIO_FDMON_IO_URING, fails cleanly (and
 * keeps the current monitor) if the kernel refuses io_uring.
 */
bool aio_context_set_fdmon(AioContext *ctx, AioFdMonKind kind, GError **errp);

/** aio_context_get_fdmon: the fd monitor in use. */
AioFdMonKind aio_context_get_fdmon(AioContext *ctx);

/**
 * aio_fdmon_kind_name: the name of fd monitor @kind ("epoll", "io_uring",
 * "poll", as aio-qcontext's fdmon property spells them), or "unknown".
 */
const char *aio_fdmon_kind_name(AioFdMonKind kind);

/**
 * aio_context_set_home_thread: make the calling thread @ctx's home thread and
 * @ctx the thread's current context (qemu_get_current_aio_context()); the
 * thread's kernel id is recorded (aio_context_get_home_tid()).  Called by a
 * thread that runs @ctx's loop from now on (context threads at start, the
 * main thread for "main").  The caller must make sure no other thread is
 * inside aio_poll(ctx) at the time.
 */
void aio_context_set_home_thread(AioContext *ctx);

/**
 * aio_context_clear_home_thread: @ctx has no home thread any more (its
 * thread is about to exit, or it was created for a thread yet to start);
 * if @ctx is the calling thread's current context, the thread has none
 * afterwards.  Until the next aio_context_set_home_thread() no thread may
 * block in aio_poll(ctx).  Any thread.
 */
void aio_context_clear_home_thread(AioContext *ctx);

/** in_aio_context_home_thread: true if the caller is @ctx's home thread. */
bool in_aio_context_home_thread(AioContext *ctx);

/**
 * aio_context_get_home_tid: the kernel thread id (gettid()) of @ctx's home
 * thread, or 0 if it has none.  Any thread.
 */
int aio_context_get_home_tid(AioContext *ctx);

/**
 * qemu_get_current_aio_context: the AioContext the calling thread runs: the
 * last one it made its home with aio_context_set_home_thread() (not merely
 * created), or NULL.
 */
AioContext *qemu_get_current_aio_context(void);

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * aio_poll: run one iteration: expired timers, scheduled BHs and ready fd
 * handlers.  With @blocking (home thread only; asserted) wait until there is
 * something to do; adaptive polling may busy-poll the handlers' io_poll
 * functions first.  Returns true if progress was made (a handler, BH or
 * timer ran); a bare aio_notify() is not progress.  Handlers already being
 * dispatched by an outer aio_poll() are not re-entered.
 */
bool aio_poll(AioContext *ctx, bool blocking);

/**
 * aio_notify: make a blocking aio_poll() of @ctx return soon.  Any thread.
 * Cheap when the home thread is not sleeping: the eventfd is only written
 * when the poller announced it is about to block (notify_me protocol).
 */
void aio_notify(AioContext *ctx);

/* ------------------------------------------------------------------------ */
/* fd handlers and event notifiers                                            */
/* ------------------------------------------------------------------------ */

/**
 * aio_set_fd_handler: set the handlers of @fd (level-triggered).  @io_read/
 * @io_write run when @fd is readable/writable; @io_poll is called while
 * busy-polling and returns true if there is work, in which case
 * @io_poll_ready runs.  All of @io_read, @io_write and @io_poll NULL removes
 * the handler.  Replacing or removing a handler while it is being dispatched
 * is safe (the old one is freed after the dispatch, through RCU).  Any
 * thread; the change is seen by the next aio_poll iteration.
 */
void aio_set_fd_handler(AioContext *ctx, int fd, IOHandler *io_read,
                        IOHandler *io_write, AioPollFn *io_poll,
                        IOHandler *io_poll_ready, void *opaque);

/**
 * aio_fd_handler_revents: inside an @io_read or @io_write callback run by
 * aio_poll() (home thread): what the fd monitor reported for its fd, as
 * G_IO_IN, G_IO_OUT, G_IO_ERR and G_IO_HUP bits (@io_read runs for IN, HUP
 * or ERR; @io_write for OUT or ERR).  0 outside such a callback.
 */
int aio_fd_handler_revents(AioContext *ctx);

/**
 * aio_set_event_notifier: set the read handler of @notifier's fd (NULL
 * removes it); @io_poll/@io_poll_ready as in aio_set_fd_handler(), with the
 * notifier as opaque.
 */
void aio_set_event_notifier(AioContext *ctx, EventNotifier *notifier,
                            EventNotifierHandler *io_read, AioPollFn *io_poll,
                            EventNotifierHandler *io_poll_ready);

/**
 * aio_set_event_notifier_poll: callbacks run when busy-polling of @ctx
 * begins and ends (e.g. to disable and re-enable guest notifications).
 */
void aio_set_event_notifier_poll(AioContext *ctx, EventNotifier *notifier,
                                 EventNotifierHandler *io_poll_begin,
                                 EventNotifierHandler *io_poll_end);

/* ------------------------------------------------------------------------ */
/* Bottom halves                                                              */
/* ------------------------------------------------------------------------ */

/** aio_bh_new: a BH that runs @cb(@opaque) in @ctx once scheduled. */
QEMUBH *aio_bh_new(AioContext *ctx, QEMUBHFunc *cb, void *opaque);

/**
 * aio_bh_schedule_oneshot: run @cb(@opaque) once in @ctx, soon.  Any thread,
 * lock-free.
 */
void aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque);

/**
 * qemu_bh_schedule: schedule @bh (any thread, lock-free) and notify its
 * context.  A BH scheduled twice before it runs runs once.  A BH scheduled
 * while BHs are being run runs in the next round.
 */
void qemu_bh_schedule(QEMUBH *bh);

/**
 * qemu_bh_schedule_idle: like qemu_bh_schedule() but without a notify: the
 * BH runs at the latest within 10 ms, or with the next iteration.
 */
void qemu_bh_schedule_idle(QEMUBH *bh);

/** qemu_bh_cancel: unschedule @bh; it does not run until scheduled again. */
void qemu_bh_cancel(QEMUBH *bh);

/**
 * qemu_bh_delete: cancel and free @bh (deferred until it is safe: the memory
 * stays valid until the BH list is no longer walked).  Safe from inside the
 * BH's own callback.
 */
void qemu_bh_delete(QEMUBH *bh);

/* ------------------------------------------------------------------------ */
/* Timers                                                                     */
/* ------------------------------------------------------------------------ */

/** The clocks of timers (QEMU's names). */
typedef enum {
    QEMU_CLOCK_REALTIME = 0, /**< CLOCK_MONOTONIC */
    QEMU_CLOCK_VIRTUAL = 1,  /**< alias of REALTIME here (no guest clock) */
    QEMU_CLOCK_HOST = 2,     /**< CLOCK_REALTIME (wall clock, may jump) */
    QEMU_CLOCK_MAX           /**< the number of clocks */
} QEMUClockType;

/** Timer scale: expire times in milliseconds. */
#define SCALE_MS 1000000
/** Timer scale: expire times in microseconds. */
#define SCALE_US 1000
/** Timer scale: expire times in nanoseconds. */
#define SCALE_NS 1

/** qemu_clock_get_ns: the current time of @type in nanoseconds. */
int64_t qemu_clock_get_ns(QEMUClockType type);
/** qemu_clock_get_us: the current time of @type in microseconds. */
int64_t qemu_clock_get_us(QEMUClockType type);
/** qemu_clock_get_ms: the current time of @type in milliseconds. */
int64_t qemu_clock_get_ms(QEMUClockType type);

/**
 * QEMUTimer: a timer of an AioContext, either allocated by aio_timer_new()
 * (freed with timer_free()) or embedded in the caller's own structure and
 * set up with aio_timer_init() (QEMU's two forms).  The fields are private
 * to aio/; the struct is public only so that it can be embedded.
 */
struct QEMUTimer {
    /*< private >*/
    struct AioTimerLists *tl; /* the context's timer lists; NULL once deinit */
    QEMUClockType type;
    int scale;
    QEMUTimerCB *cb;
    void *opaque;
    int64_t expire_time; /* ns on the timer's clock; -1 when not armed */
    QEMUTimer *next;     /* next armed timer of the same clock */
};

/**
 * aio_timer_init: set up @ts, embedded in the caller's structure, as a
 * timer of @ctx on clock @type whose expire times are in units of @scale
 * nanoseconds; @cb(@opaque) runs on @ctx's home thread.  Not armed.  Undo
 * with timer_del() and timer_deinit() before the memory goes (never
 * timer_free()).
 */
void aio_timer_init(AioContext *ctx, QEMUTimer *ts, QEMUClockType type, int scale,
                    QEMUTimerCB *cb, void *opaque);

/**
 * aio_timer_new: like aio_timer_init() on a new allocation, freed with
 * timer_free().
 */
QEMUTimer *aio_timer_new(AioContext *ctx, QEMUClockType type, int scale,
                         QEMUTimerCB *cb, void *opaque);

/**
 * timer_deinit: detach @ts (disarmed with timer_del() first) from its
 * context: later calls on it are refused instead of touching a context that
 * may be gone.  For timers set up with aio_timer_init().
 */
void timer_deinit(QEMUTimer *ts);

/**
 * timer_mod: arm @ts to expire at @expire_time (in the timer's scale, on its
 * clock), replacing any earlier arming.  Any thread.
 */
void timer_mod(QEMUTimer *ts, int64_t expire_time);

/** timer_mod_ns: like timer_mod() with @expire_time in nanoseconds. */
void timer_mod_ns(QEMUTimer *ts, int64_t expire_time);

/**
 * timer_mod_anticipate: arm @ts at @expire_time unless it is already armed
 * to expire earlier.
 */
void timer_mod_anticipate(QEMUTimer *ts, int64_t expire_time);

/**
 * timer_del: disarm @ts (no-op if not armed).  Any thread.  From the home
 * thread the callback never runs after this returns; from another thread a
 * callback the home thread has already taken off the list may still run
 * once (as in QEMU): synchronize with a BH if that matters.
 */
void timer_del(QEMUTimer *ts);

/** timer_pending: true if @ts is armed. */
bool timer_pending(QEMUTimer *ts);

/** timer_expire_time_ns: when @ts expires in ns, or -1 if not armed. */
int64_t timer_expire_time_ns(QEMUTimer *ts);

/** timer_free: disarm and free @ts. */
void timer_free(QEMUTimer *ts);

/* ------------------------------------------------------------------------ */
/* Polling, GLib integration, statistics                                      */
/* ------------------------------------------------------------------------ */

/**
 * aio_context_set_poll_params: adaptive polling: busy-poll at most @max_ns
 * (0 disables); after a poll that found work late or none, grow the window
 * by @grow (0 = default 2) or shrink it by @shrink (0 = reset to 0), as QEMU
 * does.  Any thread, also while the context runs.  Negative values fail.
 */
bool aio_context_set_poll_params(AioContext *ctx, int64_t max_ns, int64_t grow,
                                 int64_t shrink, GError **errp);

/** aio_context_get_poll_params: read back the poll parameters (any NULL skips). */
void aio_context_get_poll_params(AioContext *ctx, int64_t *max_ns, int64_t *grow,
                                 int64_t *shrink);

/**
 * aio_get_g_source: @ctx as a GSource (a new reference) that any
 * GMainContext can drive: attach it and g_main_context_iteration() runs
 * @ctx's timers, BHs and handlers.  The home thread must be the thread that
 * iterates that GMainContext.  One GSource per AioContext.
 */
GSource *aio_get_g_source(AioContext *ctx);

/**
 * aio_context_get_stats: a snapshot of @ctx's counters (iterations,
 * dispatches, wakeups, busy/wait/poll time, wakeup-latency histogram).
 * Any thread; values are read without locks and may be slightly torn
 * between fields, never within one.
 */
void aio_context_get_stats(AioContext *ctx, AioContextStats *stats);

/* ------------------------------------------------------------------------ */
/* Batching, per-context slots                                                */
/* ------------------------------------------------------------------------ */

/**
 * aio_context_set_aio_params: QEMU's aio-max-batch: how many requests a
 * queue of @ctx (e.g. a block backend's io_uring ring) collects in one
 * batch before it must submit them; 0 lets each queue use its own default.
 * Any thread, also while the context runs; queues see it at their next
 * request.  Negative values fail.
 */
bool aio_context_set_aio_params(AioContext *ctx, int64_t max_batch, GError **errp);

/** aio_context_get_aio_max_batch: the value set above (0 by default).  Any thread. */
int64_t aio_context_get_aio_max_batch(AioContext *ctx);

/** How many slots aio_context_slot_new() hands out in a process. */
#define AIO_CONTEXT_MAX_SLOTS 8

/**
 * AioContextSlotDestroy: frees a slot's non-NULL @value when @ctx is freed.
 * Runs in the context's final unref (on the thread that drops it, which
 * then counts as the home thread), before the thread pool, the handlers and
 * the BHs are torn down: it may poll @ctx and must remove every handler,
 * BH and timer it registered there.
 */
typedef void AioContextSlotDestroy(AioContext *ctx, void *value);

/**
 * aio_context_slot_new: reserve a slot that every AioContext has, for state
 * a layer above keeps per context (block/ keeps its per-context queues
 * there).  Returns the slot number; aborts if all AIO_CONTEXT_MAX_SLOTS are
 * taken (a layer takes one, once).  Any thread.
 */
int aio_context_slot_new(AioContextSlotDestroy *destroy);

/**
 * aio_context_get_slot: the value of @slot in @ctx (NULL until set).  Home
 * thread only: a plain load, no lock.
 */
void *aio_context_get_slot(AioContext *ctx, int slot);

/** aio_context_set_slot: set the value of @slot in @ctx.  Home thread only. */
void aio_context_set_slot(AioContext *ctx, int slot, void *value);

G_END_DECLS

#endif /* AIO_AIO_H */

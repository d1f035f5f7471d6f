/*
 * qcontext/aio-qcontext.h - "aio-qcontext", a QContext driven by aio_poll().
 *
 * The fast path for device dataplanes: the context's AioContext
 * (qcontext_get_aio_context()) runs directly in aio_poll(), with adaptive
 * polling and a choice of fd monitor.  Generic QSources attach too: their
 * poll fds become fd handlers of the AioContext.
 *
 *   -object aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768,poll-grow=0,
 *           poll-shrink=0,fdmon=epoll,cpu-affinity=1-3,aio-max-batch=0,
 *           thread-pool-min=0,thread-pool-max=64
 *
 * Properties:
 *  - poll-max-ns, poll-grow, poll-shrink (int64, 0..2^63-1): adaptive
 *    polling (see aio_context_set_poll_params()); may be changed while the
 *    context runs (qom-set), and read back.
 *  - fdmon (enum: epoll, io_uring, poll; construct-only): the fd monitor.
 *    When the kernel refuses io_uring, the context warns and uses epoll;
 *    reading the property back gives the monitor in use.
 *  - aio-max-batch (int64, 0..2^63-1, default 0): how many requests a
 *    block queue of this context collects in a plugged batch before it
 *    must submit them (aio_context_set_aio_params(); 0: the queue's depth).
 *  - thread-pool-min, thread-pool-max (int, 0..4096 and 1..4096, default
 *    0 and 64): the context's thread pool (aio=threads drives, discards):
 *    workers kept alive, most workers (thread_pool_set_minmax_threads()).
 *    min <= max, checked at creation and by qom-set.
 *  All three may be changed while the context runs (qom-set).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_AIO_QCONTEXT_H
#define QCONTEXT_AIO_QCONTEXT_H

#include "qcontext/aio/aio.h"
#include "qcontext/qcontext.h"

G_BEGIN_DECLS

/**
 * AIO_QCONTEXT_TYPE:
 *
 * The GType of "aio-qcontext".
 */
#define AIO_QCONTEXT_TYPE (aio_qcontext_get_type())
/**
 * AioQContext:
 *
 * "aio-qcontext": a QContext whose loop is an AioContext run by aio_poll(),
 * the fast path for device dataplanes (see the top of this header).
 */
G_DECLARE_FINAL_TYPE(AioQContext, aio_qcontext, AIO, QCONTEXT, QContext)

/**
 * AIO_QCONTEXT_TYPE_FDMON:
 *
 * The GEnum of the "fdmon" property (values of AioFdMonKind).
 */
#define AIO_QCONTEXT_TYPE_FDMON (aio_qcontext_fdmon_get_type())
/**
 * aio_qcontext_fdmon_get_type:
 *
 * The GEnum of the "fdmon" property (nicks epoll, io_uring, poll).
 */
GType aio_qcontext_fdmon_get_type(void);

/**
 * AIO_QCONTEXT_DEFAULT_POLL_MAX_NS:
 *
 * Default of "poll-max-ns" (QEMU's IOThread default).
 */
#define AIO_QCONTEXT_DEFAULT_POLL_MAX_NS 32768

/**
 * AIO_QCONTEXT_DEFAULT_THREAD_POOL_MAX:
 *
 * Default of "thread-pool-max" (QEMU's, and the pool's own).
 */
#define AIO_QCONTEXT_DEFAULT_THREAD_POOL_MAX 64

/**
 * AIO_QCONTEXT_THREAD_POOL_LIMIT:
 *
 * Upper bound of "thread-pool-min" and "thread-pool-max".
 */
#define AIO_QCONTEXT_THREAD_POOL_LIMIT 4096

/**
 * aio_qcontext_get_stats: (skip)
 *
 * Fill @stats with the counters of @ctx's AioContext (aio_context_get_stats()).
 * Works for any completed QContext (a glib-qcontext's AioContext counts only
 * the work done through it).  Any thread.  Returns FALSE (and zeroes @stats) if
 * @ctx has no AioContext.
 */
gboolean aio_qcontext_get_stats(QContext *ctx, AioContextStats *stats);

/**
 * aio_qcontext_new:
 * @id: the context's id, as in `-object aio-qcontext,id=ID`
 * @threaded: run the context on a thread of its own, named qctx/ID
 * @error: return location for a #GError, or %NULL
 *
 * Creates an aio-qcontext as `-object aio-qcontext,id=ID,threaded=on|off` does:
 * the object is completed (with @threaded, its thread runs when this returns)
 * and added to the objects container, where qcontext_find_by_name() finds it
 * and qom_container_del() deletes it (stopping its thread).  Other properties
 * (poll-max-ns...) keep their defaults and can be changed afterwards with
 * g_object_set().  Fails with a one-line message for an invalid or duplicate
 * id.  Registers the context types if needed.  Any thread (a context that is
 * not threaded is at home on the calling thread).
 *
 * Returns: (transfer full): the new context (a reference for the caller;
 *   the container keeps its own), or %NULL with @error set
 */
QContext *aio_qcontext_new(const char *id, gboolean threaded, GError **error);

G_END_DECLS

#endif /* QCONTEXT_AIO_QCONTEXT_H */

/*
 * qcontext/qcontext-internal.h - what context subclasses (glib-qcontext,
 * aio-qcontext) and the main loop share with the QContext/QSource core.
 *
 * Binding protocol between a QSource and the context it is attached to:
 *
 *  - attach: the context calls qsource_bind(), which atomically (against
 *    qsource_add_poll/remove_poll from other threads) checks that the source
 *    is free, records the context with its QSourceHooks and hook data,
 *    replays the existing poll fds through hooks->add_poll and takes the
 *    context's reference.  It returns the binding's generation (> 0).
 *  - while attached, qsource_add_poll()/qsource_remove_poll() call the
 *    hooks (under the source's poll lock, so hooks must not call back into
 *    the source's poll-fd functions).
 *  - callbacks: the context thread calls the source's prepare/check/
 *    dispatch only through qsource_run_prepare/check/dispatch(), passing the
 *    generation it got from qsource_bind().  They refuse to run once the
 *    binding is gone (detached, or replaced by a newer attach).
 *  - detach: the context calls qsource_unbind(): it marks the binding
 *    detached, waits until no other thread is inside one of the source's
 *    callbacks (the detaching thread itself may be inside: detach from its
 *    own dispatch), removes the poll fds through hooks->remove_poll and
 *    forgets the context.  The context then frees its per-source data and
 *    drops its reference with qsource_unref().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_QCONTEXT_INTERNAL_H
#define QCONTEXT_QCONTEXT_INTERNAL_H

#include <pthread.h>

#include "qcontext/aio/aio.h"
#include "qcontext/qcontext.h"

G_BEGIN_DECLS

/** Log domain of qcontext/. */
#define QCONTEXT_LOG_DOMAIN "qcontext"

/* ------------------------------------------------------------------------ */
/* QSource <-> context binding                                               */
/* ------------------------------------------------------------------------ */

/**
 * QSourceHooks: how a context follows the poll fds of an attached source.
 * Both run under the source's poll lock, on any thread.  May be NULL (the
 * context then reads the fds itself with qsource_foreach_poll()).
 */
typedef struct QSourceHooks {
    void (*add_poll)(QSource *src, GPollFD *pfd, gpointer data);
    void (*remove_poll)(QSource *src, GPollFD *pfd, gpointer data);
} QSourceHooks;

/**
 * qsource_bind: attach @src to @ctx (see the protocol above).  Takes a
 * reference on @src that the context drops after qsource_unbind().
 * Returns the generation of the binding, or 0 with @errp set if @src is
 * attached already.
 */
guint qsource_bind(QSource *src, QContext *ctx, const QSourceHooks *hooks,
                   gpointer data, GError **errp);

/**
 * qsource_unbind: detach @src from @ctx (see the protocol above).  With
 * @gen non-zero, only that binding is detached (used when a dispatch asks
 * for removal: a concurrent detach + re-attach must not be undone).
 * Returns FALSE with @errp set (if non-NULL) when @src is not attached to
 * @ctx (or is being detached by another thread).  On success *@data (if
 * non-NULL) receives the hook data given to qsource_bind().
 */
gboolean qsource_unbind(QSource *src, QContext *ctx, guint gen, gpointer *data,
                        GError **errp);

/** qsource_get_generation: the current binding's generation (0 if none). */
guint qsource_get_generation(QSource *src);

/**
 * qsource_run_prepare: call @src's prepare under the callback guard.
 * FALSE (and *@timeout untouched) when binding @gen is gone or prepare is
 * NULL.
 */
gboolean qsource_run_prepare(QSource *src, guint gen, int *timeout);

/** qsource_run_check: call @src's check under the callback guard. */
gboolean qsource_run_check(QSource *src, guint gen);

/**
 * qsource_run_dispatch: call @src's dispatch (or, if NULL, its callback)
 * under the callback guard.  Returns G_SOURCE_REMOVE if the source asked to
 * be detached; the caller then calls its own detach with @gen.  Returns
 * G_SOURCE_CONTINUE when the binding is gone.
 */
gboolean qsource_run_dispatch(QSource *src, guint gen);

/**
 * qsource_foreach_poll: call @fn on each poll fd of @src, under its poll
 * lock (so @fn may write revents but must not add or remove fds).
 */
void qsource_foreach_poll(QSource *src, void (*fn)(GPollFD *pfd, gpointer opaque),
                          gpointer opaque);

/* ------------------------------------------------------------------------ */
/* QContext internals                                                        */
/* ------------------------------------------------------------------------ */

/**
 * QContextPhase: where a subclass's iteration is between the RFC's steps
 * (prepare, poll, check, dispatch); dispatch returns it to IDLE.
 */
typedef enum {
    QCONTEXT_PHASE_IDLE,
    QCONTEXT_PHASE_PREPARED,
    QCONTEXT_PHASE_POLLED,
    QCONTEXT_PHASE_CHECKED,
} QContextPhase;

/**
 * qcontext_complete_start: the last step of a subclass's completion, once
 * its loop is ready: start the thread when threaded=yes.  Subclasses call
 * it at the end of their complete().
 */
gboolean qcontext_complete_start(QContext *ctx, GError **errp);

/**
 * qcontext_new_aio_context: aio_context_new() for a completing subclass
 * @ctx; errors are prefixed with "context '<id>': ".
 */
AioContext *qcontext_new_aio_context(QContext *ctx, GError **errp);

/**
 * qcontext_find_source_in: the first source named @name in *@sources,
 * which is read under @lock (a subclass's list of attached sources).
 * @item_source maps an element to its QSource (NULL: the elements are
 * QSources).  Returns NULL if there is none.
 */
QSource *qcontext_find_source_in(pthread_mutex_t *lock, GPtrArray *const *sources,
                                 QSource *(*item_source)(gpointer item),
                                 const char *name);

/**
 * qcontext_steal_sources: under @lock, take *@sources and leave a new empty
 * array in its place (for dispose).  The caller owns the returned array.
 */
GPtrArray *qcontext_steal_sources(pthread_mutex_t *lock, GPtrArray **sources);

/**
 * qcontext_dispose_stop: the first step of a subclass's dispose: stop the
 * thread (qcontext_stop()), with a critical if the last reference is being
 * dropped inside the context's own loop (which would free it under the
 * running iteration).
 */
void qcontext_dispose_stop(QContext *ctx);

/**
 * qcontext_is_main: TRUE for the context created by qcontext_init_main()
 * (the only one that may have the id "main"; a glib-qcontext on
 * g_main_context_default()).
 */
gboolean qcontext_is_main(QContext *ctx);

/**
 * qcontext_parse_cpulist: parse a CPU list like "0,2-3" into a sorted,
 * duplicate-free array of CPU numbers (guint).  Errors read
 * "cpu-affinity: ...".  Exposed for tests.
 */
GArray *qcontext_parse_cpulist(const char *str, GError **errp);

/**
 * qcontext_online_cpus: the CPUs of this machine (from
 * /sys/devices/system/cpu/online, else 0..n-1), as a sorted array of guint.
 */
GArray *qcontext_online_cpus(void);

/** qcontext_format_cpulist: @cpus (sorted guint) as "0-1,4". g_free() it. */
char *qcontext_format_cpulist(GArray *cpus);

G_END_DECLS

#endif /* QCONTEXT_QCONTEXT_INTERNAL_H */

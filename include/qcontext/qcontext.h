/*
 * qcontext/qcontext.h - QContext, an abstract event-loop context.
 *
 * The API of the 2013 QContext RFC on GObject: a context is a named,
 * user-creatable object (QomObject) found with qcontext_find_by_name(); the
 * main loop's context is named "main".  Concrete types: "glib-qcontext"
 * (a GMainContext) and "aio-qcontext" (an AioContext driven by aio_poll).
 * With threaded=yes the context runs `while (running) qcontext_iterate(ctx,
 * TRUE)` on its own thread, named "qctx/<id>".
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_QCONTEXT_H
#define QCONTEXT_QCONTEXT_H

#include "qcontext/qom/object.h"
#include "qcontext/qsource.h"

G_BEGIN_DECLS

/**
 * AioContext:
 *
 * The loop devices run on (qcontext/aio/aio.h); opaque here.
 */
typedef struct AioContext AioContext;

/**
 * QCONTEXT_TYPE:
 *
 * The GType of QContext.
 */
#define QCONTEXT_TYPE (qcontext_get_type())
/**
 * QContext:
 *
 * An event-loop context: a named, user-creatable object that runs a loop,
 * on the thread that iterates it or, with threaded=yes, on a thread of its
 * own ("qctx/ID").  Abstract: "glib-qcontext" and "aio-qcontext" are
 * the concrete types.
 */
G_DECLARE_DERIVABLE_TYPE(QContext, qcontext, QCONTEXT, CONTEXT, QomObject)

/**
 * QContextClass:
 * @parent_class: the parent class
 * @prepare: prepare every source; return TRUE if one is ready without
 *   polling; *@timeout (ms, -1 = infinite) bounds the following poll.
 * @poll: wait up to @timeout ms for the sources' fds; TRUE if any is ready.
 * @check: TRUE if any source is ready after the poll.
 * @dispatch: dispatch the ready sources.
 * @notify: wake the context up if it is blocked in @poll (any thread).
 * @attach: attach @src (any thread); fails if it is attached elsewhere.
 * @detach: detach @src (any thread); on return its callbacks never run again.
 * @find_source_by_name: an attached source with that name, or NULL.
 * @iterate: one loop iteration; the default implementation is the RFC's
 *   prepare -> dispatch if ready, otherwise poll -> check -> dispatch.
 * @get_aio_context: the AioContext devices use on this context.
 * @thread_enter: runs on the context thread before its loop (e.g. to acquire
 *   a GMainContext), while that thread is the AioContext's home thread.  May
 *   be NULL.
 * @thread_leave: runs on the context thread after its loop, likewise.  May be
 *   NULL.
 *
 * The RFC's virtual methods.  All but @notify, @attach and @detach run on the
 * thread that iterates the context.
 */
struct _QContextClass {
    QomObjectClass parent_class;

    gboolean (*prepare)(QContext *ctx, int *timeout);
    gboolean (*poll)(QContext *ctx, int timeout);
    gboolean (*check)(QContext *ctx);
    void (*dispatch)(QContext *ctx);
    void (*notify)(QContext *ctx);
    gboolean (*attach)(QContext *ctx, QSource *src, GError **errp);
    gboolean (*detach)(QContext *ctx, QSource *src, GError **errp);
    QSource *(*find_source_by_name)(QContext *ctx, const char *name);
    gboolean (*iterate)(QContext *ctx, gboolean blocking);
    AioContext *(*get_aio_context)(QContext *ctx);
    void (*thread_enter)(QContext *ctx);
    void (*thread_leave)(QContext *ctx);

    /*< private >*/
    gpointer padding[8];
};

/**
 * QCONTEXT_MAIN_NAME:
 *
 * The name of the main loop's context.
 */
#define QCONTEXT_MAIN_NAME "main"

/**
 * qcontext_prepare:
 * @ctx: the context
 * @timeout: (inout): the poll timeout so far (ms, -1 = infinite), lowered by
 *   the sources
 *
 * The class's prepare (see QContextClass).
 *
 * Returns: TRUE if a source is ready without polling
 */
gboolean qcontext_prepare(QContext *ctx, int *timeout);
/**
 * qcontext_poll:
 *
 * The class's poll (see QContextClass).
 */
gboolean qcontext_poll(QContext *ctx, int timeout);
/**
 * qcontext_check:
 *
 * The class's check (see QContextClass).
 */
gboolean qcontext_check(QContext *ctx);
/**
 * qcontext_dispatch:
 *
 * The class's dispatch (see QContextClass).
 */
void qcontext_dispatch(QContext *ctx);
/**
 * qcontext_notify:
 *
 * Wake @ctx up if it sleeps.  Any thread.
 */
void qcontext_notify(QContext *ctx);

/**
 * qcontext_attach: (skip)
 *
 * Attach @src to @ctx, taking a reference.  Any thread.  Fails if @src is
 * already attached to a context.
 */
gboolean qcontext_attach(QContext *ctx, QSource *src, GError **errp);

/**
 * qcontext_detach: (skip)
 *
 * Detach @src from @ctx and drop the context's reference.  Any thread, also
 * from inside @src's own dispatch.  Once it returns no callback of @src runs
 * again (if another thread is dispatching @src right now, this waits for that
 * dispatch to end).
 */
gboolean qcontext_detach(QContext *ctx, QSource *src, GError **errp);

/**
 * qcontext_find_source_by_name: (skip)
 *
 * An attached source named @name, or NULL.  Borrowed pointer.
 */
QSource *qcontext_find_source_by_name(QContext *ctx, const char *name);

/**
 * qcontext_iterate:
 *
 * Run one iteration of @ctx on the calling thread.  With @blocking, wait until
 * a source is ready (or a notify).  Returns TRUE if something was dispatched.
 * Only @ctx's thread may iterate it (qcontext_in_thread()); from any other
 * thread this is a critical and returns FALSE.
 */
gboolean qcontext_iterate(QContext *ctx, gboolean blocking);

/**
 * qcontext_get_aio_context: (skip)
 *
 * The AioContext a device registers its fds, BHs and timers on when it runs
 * in @ctx: the aio-qcontext's own, or for a glib-qcontext one whose GSource is
 * attached to its GMainContext.  Never NULL for a completed context.  Borrowed.
 */
AioContext *qcontext_get_aio_context(QContext *ctx);

/**
 * qcontext_find_by_name:
 * @name: the id
 *
 * The context with id @name ("main" for the main loop's, once
 * qcontext_init_main() ran), or NULL.  Borrowed: valid until the context is
 * deleted.
 *
 * Returns: (transfer none) (nullable): the context
 */
QContext *qcontext_find_by_name(const char *name);

/**
 * qcontext_init_main:
 *
 * Create the "main" context, once, at start-up, on the main thread: a
 * non-threaded glib-qcontext on g_main_context_default(), registered in the
 * objects container under the reserved id "main".  The calling thread becomes
 * its thread (qcontext_in_thread(), its AioContext's home thread,
 * qcontext_current()).  qcontextd calls it through qemu_init_main_loop();
 * library users and tests call it first thing in main().  Registers the context
 * types too.  A second call from the same thread does nothing; from another
 * thread it fails.
 */
gboolean qcontext_init_main(GError **errp);

/**
 * qcontext_get_main:
 *
 * The "main" context, or NULL before qcontext_init_main().  Any thread.
 * Borrowed (it lives as long as the process).
 *
 * Returns: (transfer none) (nullable): "main"
 */
QContext *qcontext_get_main(void);

/**
 * qcontext_register_types:
 *
 * Register "glib-qcontext" and "aio-qcontext" with the object layer.
 * Idempotent, thread-safe.
 */
void qcontext_register_types(void);

/**
 * qcontext_get_name:
 *
 * The context's id.
 */
const char *qcontext_get_name(QContext *ctx);

/**
 * qcontext_start:
 *
 * Start @ctx's thread (threaded contexts).  Idempotent; safe from any thread
 * but the context's own.  Done automatically at completion when threaded=yes.
 */
gboolean qcontext_start(QContext *ctx, GError **errp);

/**
 * qcontext_stop:
 *
 * Stop @ctx's thread: clear the running flag, notify, join.  Idempotent; safe
 * from any thread but the context's own.
 */
void qcontext_stop(QContext *ctx);

/**
 * qcontext_is_threaded:
 *
 * The "threaded" property.
 */
gboolean qcontext_is_threaded(QContext *ctx);

/**
 * qcontext_is_running:
 *
 * TRUE while the context's thread runs its loop.
 */
gboolean qcontext_is_running(QContext *ctx);

/**
 * qcontext_get_thread_id:
 *
 * The kernel thread id (gettid) of the context's thread: its own thread while
 * it runs (0 when a threaded context is stopped), the thread that created it
 * when not threaded, the main thread for "main".  It is the tid of the
 * AioContext's home thread.
 */
int qcontext_get_thread_id(QContext *ctx);

/**
 * qcontext_in_thread:
 *
 * TRUE if the calling thread is @ctx's thread, the only one that iterates it:
 * its own thread while it runs when threaded, the creating thread when not, the
 * main thread for "main".  That is its AioContext's home thread
 * (in_aio_context_home_thread()).  Cheap: no lock, no system call.
 */
gboolean qcontext_in_thread(QContext *ctx);

/**
 * qcontext_current:
 *
 * The context whose thread is calling: on a context thread its context, on the
 * main thread "main" (after qcontext_init_main()), elsewhere NULL.  Looks the
 * context up by its AioContext (qemu_get_current_aio_context()), walking the
 * registry: for diagnostics; use qcontext_in_thread() on hot paths.
 *
 * Returns: (transfer none) (nullable): the calling thread's context
 */
QContext *qcontext_current(void);

/**
 * QContextInvokeFunc:
 * @user_data: the data given to qcontext_invoke()
 *
 * A function that qcontext_invoke() runs once on a context's thread.
 */
typedef void (*QContextInvokeFunc)(gpointer user_data);

/**
 * qcontext_invoke:
 * @ctx: the context whose thread runs @func
 * @func: (scope notified) (closure user_data) (destroy notify): the function
 * @user_data: data passed to @func
 * @notify: (nullable): called with @user_data when @func will not be
 *   called again: after it ran, or when @ctx was deleted before it could
 *
 * Runs @func(@user_data) once on @ctx's thread, at its next iteration:
 * never inside this call, even when called from that thread.  A threaded
 * context runs it on its own thread (qctx/ID); "main" and other contexts that
 * are not threaded run it when their thread iterates them (for "main", when the
 * main loop runs).  This is how language bindings call into a context:
 * `ctx.invoke(func)` from Python.  Any thread.
 */
void qcontext_invoke(QContext *ctx, QContextInvokeFunc func, gpointer user_data,
                     GDestroyNotify notify);

G_END_DECLS

#endif /* QCONTEXT_QCONTEXT_H */

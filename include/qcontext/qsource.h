/*
 * qcontext/qsource.h - QSource, an event source that attaches to any QContext.
 *
 * The API of the 2013 QContext RFC: a QSource has prepare/check/dispatch/
 * finalize functions, a callback with opaque user data, a name and a set of
 * poll fds.  It is refcounted.  Poll fds may be added and removed at any
 * time, also while the source is attached.  Attach and detach are safe from
 * any thread; callbacks only ever run on the attached context's thread, and
 * once qcontext_detach() returns none of them runs again.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_QSOURCE_H
#define QCONTEXT_QSOURCE_H

#include <glib.h>

G_BEGIN_DECLS

/**
 * QSource:
 *
 * An event source that attaches to any QContext (opaque, refcounted).
 */
typedef struct QSource QSource;
/**
 * QContext:
 *
 * See qcontext/qcontext.h.
 */
typedef struct _QContext QContext;

/**
 * QSourceFuncs:
 * @prepare: called before polling.  Return TRUE if the source is ready to
 *   dispatch without polling; may lower *@timeout (milliseconds, -1 =
 *   infinite) to bound the poll.  NULL means "not ready, no timeout".
 * @check: called after polling (revents of the poll fds are filled in).
 *   Return TRUE if the source should dispatch.  NULL means "not ready".
 * @dispatch: run the work; usually calls qsource_get_callback(src) with
 *   qsource_get_opaque(src).  Return G_SOURCE_CONTINUE to stay attached or
 *   G_SOURCE_REMOVE to be detached.
 * @finalize: called when the last reference goes (free what the source
 *   owns, not the QSource itself).  May be NULL.
 *
 * What a QSource does at each step of its context's iteration (the RFC's
 * GSourceFuncs).  Static storage, shared by every source of a kind.
 */
typedef struct QSourceFuncs {
    gboolean (*prepare)(QSource *src, int *timeout);
    gboolean (*check)(QSource *src);
    gboolean (*dispatch)(QSource *src);
    void (*finalize)(QSource *src);
} QSourceFuncs;

/**
 * qsource_new: create a source with one reference.  @funcs must outlive the
 * source.  @name may be NULL (find_source_by_name will then not find it).
 * @callback and @opaque are stored for @funcs->dispatch to use.
 */
QSource *qsource_new(const QSourceFuncs *funcs, GSourceFunc callback, const char *name,
                     gpointer opaque);

/** qsource_ref: take a reference; returns @src. Thread-safe. */
QSource *qsource_ref(QSource *src);

/** qsource_unref: drop a reference; the last one finalizes. Thread-safe. */
void qsource_unref(QSource *src);

/**
 * qsource_add_poll: watch @pfd (fd and events G_IO_IN/G_IO_OUT/...).  The
 * GPollFD is owned by the caller and must stay valid until removed; its
 * revents are filled in on the context's thread before @check runs.
 * Allowed at any time, from any thread, also while attached.
 */
void qsource_add_poll(QSource *src, GPollFD *pfd);

/** qsource_remove_poll: stop watching @pfd.  Any time, any thread. */
void qsource_remove_poll(QSource *src, GPollFD *pfd);

/** qsource_get_name: the name given at creation (may be NULL). */
const char *qsource_get_name(QSource *src);

/** qsource_get_callback: the callback given at creation. */
GSourceFunc qsource_get_callback(QSource *src);

/** qsource_get_opaque: the user data given at creation. */
gpointer qsource_get_opaque(QSource *src);

/**
 * qsource_get_context: the context @src is attached to, or NULL.  Borrowed.
 */
QContext *qsource_get_context(QSource *src);

G_END_DECLS

#endif /* QCONTEXT_QSOURCE_H */

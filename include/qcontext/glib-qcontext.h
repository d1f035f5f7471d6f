/*
 * qcontext/glib-qcontext.h - "glib-qcontext", a QContext on a GMainContext.
 *
 * The context with id "main" wraps g_main_context_default(); any other
 * glib-qcontext owns a new GMainContext.  QSources attach as GSources; plain
 * GSources can be attached to glib_qcontext_get_main_context().  The
 * context's AioContext (qcontext_get_aio_context()) runs inside the
 * GMainContext through its GSource.
 *
 *   -object glib-qcontext,id=ui0,threaded=yes,cpu-affinity=0
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_GLIB_QCONTEXT_H
#define QCONTEXT_GLIB_QCONTEXT_H

#include "qcontext/qcontext.h"

G_BEGIN_DECLS

/**
 * GLIB_QCONTEXT_TYPE:
 *
 * The GType of "glib-qcontext".
 */
#define GLIB_QCONTEXT_TYPE (glib_qcontext_get_type())
/**
 * GlibQContext:
 *
 * "glib-qcontext": a QContext whose loop is a GMainContext (see the top of
 * this header).
 */
G_DECLARE_FINAL_TYPE(GlibQContext, glib_qcontext, GLIB, QCONTEXT, QContext)

/**
 * glib_qcontext_get_main_context:
 * @ctx: a glib-qcontext
 *
 * The GMainContext that @ctx iterates (borrowed), or NULL if @ctx is not a
 * completed glib-qcontext.  GSources attached to it run on @ctx's thread.
 *
 * Returns: (transfer none) (nullable): its GMainContext
 */
GMainContext *glib_qcontext_get_main_context(QContext *ctx);

/**
 * glib_qcontext_new:
 * @id: the context's id, as in `-object glib-qcontext,id=ID`
 * @threaded: run the context on a thread of its own, named qctx/ID
 * @error: return location for a #GError, or %NULL
 *
 * Creates a glib-qcontext (with a new GMainContext) as `-object
 * glib-qcontext,id=ID,threaded=on|off` does, completed and added to the objects
 * container; see aio_qcontext_new().
 *
 * Returns: (transfer full): the new context, or %NULL with @error set
 */
QContext *glib_qcontext_new(const char *id, gboolean threaded, GError **error);

G_END_DECLS

#endif /* QCONTEXT_GLIB_QCONTEXT_H */

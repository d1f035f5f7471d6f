/*
 * qcontext/embed.c - the embedder's shortcuts: typed constructors for the
 * two context types, and qcontext_invoke() (run a function on a context's
 * thread, the way language bindings call into a context).
 *
 * SPDX-License-Identifier: MIT
 */
#include "qcontext/aio-qcontext.h"
#include "qcontext/glib-qcontext.h"
#include "qcontext/qcontext.h"

/* -object TYPE,id=ID,threaded=on|off, with a reference for the caller */
static QContext *context_new(const char *type, const char *id, gboolean threaded,
                             GError **errp)
{
    GArray *opts = g_array_new(FALSE, FALSE, sizeof(QomOpt));
    QomOpt opt[2] = {{(char *)"id", (char *)id},
                     {(char *)"threaded", threaded ? (char *)"on" : (char *)"off"}};
    QomObject *obj;

    g_return_val_if_fail(id != NULL, NULL);
    qcontext_register_types();
    /* borrowed strings: the array has no clear function */
    g_array_append_vals(opts, opt, G_N_ELEMENTS(opt));
    obj = qom_object_new_from_opts(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE, type, opts,
                                   errp);
    g_array_unref(opts);
    return obj ? g_object_ref(QCONTEXT_CONTEXT(obj)) : NULL;
}

QContext *aio_qcontext_new(const char *id, gboolean threaded, GError **errp)
{
    return context_new("aio-qcontext", id, threaded, errp);
}

QContext *glib_qcontext_new(const char *id, gboolean threaded, GError **errp)
{
    return context_new("glib-qcontext", id, threaded, errp);
}

/* ------------------------------------------------------------------------ */
/* qcontext_invoke: a one-shot QSource, ready at once                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    QContextInvokeFunc func;
    gpointer user_data;
    GDestroyNotify notify;
} Invocation;

static gboolean invoke_prepare(QSource *src, int *timeout)
{
    *timeout = 0;
    return TRUE;
}

static gboolean invoke_check(QSource *src)
{
    return TRUE;
}

static gboolean invoke_dispatch(QSource *src)
{
    Invocation *inv = qsource_get_opaque(src);

    inv->func(inv->user_data);
    return G_SOURCE_REMOVE;
}

/* the last reference: after the dispatch, or when the context went first */
static void invoke_finalize(QSource *src)
{
    Invocation *inv = qsource_get_opaque(src);

    if (inv->notify) {
        inv->notify(inv->user_data);
    }
    g_free(inv);
}

static const QSourceFuncs invoke_funcs = {
    .prepare = invoke_prepare,
    .check = invoke_check,
    .dispatch = invoke_dispatch,
    .finalize = invoke_finalize,
};

void qcontext_invoke(QContext *ctx, QContextInvokeFunc func, gpointer user_data,
                     GDestroyNotify notify)
{
    Invocation *inv = g_new0(Invocation, 1);
    QSource *src;
    GError *err = NULL;

    g_return_if_fail(QCONTEXT_IS_CONTEXT(ctx) && func);
    *inv = (Invocation){func, user_data, notify};
    src = qsource_new(&invoke_funcs, NULL, "qcontext-invoke", inv);
    if (!qcontext_attach(ctx, src, &err)) {
        /* a fresh source always attaches; keep the promise about @notify */
        g_critical("qcontext_invoke: %s", err->message);
        g_error_free(err);
    }
    qsource_unref(src); /* the context holds it until it has run */
}

/*
 * qcontext/qsource.c - QSource: refcounted event sources with poll fds that
 * attach to any QContext, and the callback guard that makes detach final.
 *
 * Two locks per source:
 *  - poll_lock protects the poll fd list and the binding (context, hooks,
 *    unbinding).  Hooks run under it.
 *  - guard_lock (+ guard_cond) protects the callback guard: the live
 *    binding's generation, and which thread is inside a callback.  It is
 *    the innermost lock: nothing else is taken while it is held, and no
 *    callback runs under it.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext"

#include <pthread.h>

#include "qcontext-internal.h"

struct QSource {
    int refcnt; /* atomic */
    const QSourceFuncs *funcs;
    GSourceFunc callback;
    gpointer opaque;
    char *name;

    pthread_mutex_t poll_lock;
    GPtrArray *pfds;           /* GPollFD *, owned by the caller */
    QContext *ctx;             /* atomic: written under poll_lock */
    const QSourceHooks *hooks; /* under poll_lock */
    gpointer hook_data;        /* under poll_lock */
    gboolean unbinding;        /* under poll_lock: a detach is in progress */

    pthread_mutex_t guard_lock;
    pthread_cond_t guard_cond;
    guint gen;      /* live binding's generation, 0 = none */
    guint last_gen; /* last generation handed out */
    guint cb_depth; /* nesting depth of callbacks in cb_thread */
    pthread_t cb_thread;
};

QSource *qsource_new(const QSourceFuncs *funcs, GSourceFunc callback, const char *name,
                     gpointer opaque)
{
    QSource *src = g_new0(QSource, 1);

    g_return_val_if_fail(funcs != NULL, NULL);
    src->refcnt = 1;
    src->funcs = funcs;
    src->callback = callback;
    src->opaque = opaque;
    src->name = g_strdup(name);
    src->pfds = g_ptr_array_new();
    pthread_mutex_init(&src->poll_lock, NULL);
    pthread_mutex_init(&src->guard_lock, NULL);
    pthread_cond_init(&src->guard_cond, NULL);
    return src;
}

QSource *qsource_ref(QSource *src)
{
    g_return_val_if_fail(src != NULL, NULL);
    __atomic_fetch_add(&src->refcnt, 1, __ATOMIC_RELAXED);
    return src;
}

void qsource_unref(QSource *src)
{
    if (!src) {
        return;
    }
    /* Acq_rel: the release half pairs with the acquire half of the last
     * unref, so every use of @src by a thread that dropped a reference
     * happens before the finalization (TSan does not model fences). */
    if (__atomic_fetch_sub(&src->refcnt, 1, __ATOMIC_ACQ_REL) != 1) {
        return;
    }
    g_warn_if_fail(src->ctx == NULL);
    if (src->funcs->finalize) {
        src->funcs->finalize(src);
    }
    g_ptr_array_unref(src->pfds);
    pthread_cond_destroy(&src->guard_cond);
    pthread_mutex_destroy(&src->guard_lock);
    pthread_mutex_destroy(&src->poll_lock);
    g_free(src->name);
    g_free(src);
}

void qsource_add_poll(QSource *src, GPollFD *pfd)
{
    g_return_if_fail(src != NULL && pfd != NULL);
    pthread_mutex_lock(&src->poll_lock);
    g_ptr_array_add(src->pfds, pfd);
    if (src->ctx && src->hooks && src->hooks->add_poll) {
        src->hooks->add_poll(src, pfd, src->hook_data);
    }
    pthread_mutex_unlock(&src->poll_lock);
}

void qsource_remove_poll(QSource *src, GPollFD *pfd)
{
    g_return_if_fail(src != NULL && pfd != NULL);
    pthread_mutex_lock(&src->poll_lock);
    if (g_ptr_array_remove(src->pfds, pfd) && src->ctx && src->hooks &&
        src->hooks->remove_poll) {
        src->hooks->remove_poll(src, pfd, src->hook_data);
    }
    pthread_mutex_unlock(&src->poll_lock);
}

void qsource_foreach_poll(QSource *src, void (*fn)(GPollFD *pfd, gpointer opaque),
                          gpointer opaque)
{
    pthread_mutex_lock(&src->poll_lock);
    for (guint i = 0; i < src->pfds->len; i++) {
        fn(g_ptr_array_index(src->pfds, i), opaque);
    }
    pthread_mutex_unlock(&src->poll_lock);
}

const char *qsource_get_name(QSource *src)
{
    return src->name;
}

GSourceFunc qsource_get_callback(QSource *src)
{
    return src->callback;
}

gpointer qsource_get_opaque(QSource *src)
{
    return src->opaque;
}

QContext *qsource_get_context(QSource *src)
{
    /* Pairs with the release stores in qsource_bind()/qsource_unbind(). */
    return __atomic_load_n(&src->ctx, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------------ */
/* Binding                                                                   */
/* ------------------------------------------------------------------------ */

static const char *source_label(QSource *src)
{
    return src->name ? src->name : "(unnamed)";
}

guint qsource_bind(QSource *src, QContext *ctx, const QSourceHooks *hooks,
                   gpointer data, GError **errp)
{
    guint gen;

    pthread_mutex_lock(&src->poll_lock);
    if (src->ctx) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                    "source '%s' is already attached to context '%s'",
                    source_label(src), qcontext_get_name(src->ctx));
        pthread_mutex_unlock(&src->poll_lock);
        return 0;
    }
    qsource_ref(src);
    src->hooks = hooks;
    src->hook_data = data;
    src->unbinding = FALSE;
    /* Pairs with the acquire load in qsource_get_context(). */
    __atomic_store_n(&src->ctx, ctx, __ATOMIC_RELEASE);
    for (guint i = 0; hooks && hooks->add_poll && i < src->pfds->len; i++) {
        hooks->add_poll(src, g_ptr_array_index(src->pfds, i), data);
    }

    pthread_mutex_lock(&src->guard_lock);
    gen = ++src->last_gen;
    if (gen == 0) {
        gen = ++src->last_gen; /* wrapped around: 0 means "none" */
    }
    src->gen = gen;
    pthread_mutex_unlock(&src->guard_lock);

    pthread_mutex_unlock(&src->poll_lock);
    return gen;
}

/* Mark the binding dead and wait for other threads' callbacks to end. */
static void guard_close(QSource *src)
{
    pthread_t self = pthread_self();

    pthread_mutex_lock(&src->guard_lock);
    src->gen = 0;
    while (src->cb_depth > 0 && !pthread_equal(src->cb_thread, self)) {
        pthread_cond_wait(&src->guard_cond, &src->guard_lock);
    }
    pthread_mutex_unlock(&src->guard_lock);
}

gboolean qsource_unbind(QSource *src, QContext *ctx, guint gen, gpointer *data,
                        GError **errp)
{
    const QSourceHooks *hooks;

    pthread_mutex_lock(&src->poll_lock);
    if (src->ctx != ctx || src->unbinding ||
        (gen && qsource_get_generation(src) != gen)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "source '%s' is not attached to context '%s'", source_label(src),
                    qcontext_get_name(ctx));
        pthread_mutex_unlock(&src->poll_lock);
        return FALSE;
    }
    src->unbinding = TRUE;
    pthread_mutex_unlock(&src->poll_lock);

    /* poll_lock is not held here: a callback in progress may add or remove
     * poll fds (unbinding keeps other detaches out meanwhile). */
    guard_close(src);

    pthread_mutex_lock(&src->poll_lock);
    hooks = src->hooks;
    for (guint i = 0; hooks && hooks->remove_poll && i < src->pfds->len; i++) {
        hooks->remove_poll(src, g_ptr_array_index(src->pfds, i), src->hook_data);
    }
    if (data) {
        *data = src->hook_data;
    }
    src->hooks = NULL;
    src->hook_data = NULL;
    src->unbinding = FALSE;
    /* Pairs with the acquire load in qsource_get_context(). */
    __atomic_store_n(&src->ctx, NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&src->poll_lock);
    return TRUE;
}

guint qsource_get_generation(QSource *src)
{
    guint gen;

    pthread_mutex_lock(&src->guard_lock);
    gen = src->gen;
    pthread_mutex_unlock(&src->guard_lock);
    return gen;
}

/* ------------------------------------------------------------------------ */
/* The callback guard                                                        */
/* ------------------------------------------------------------------------ */

static gboolean guard_enter(QSource *src, guint gen)
{
    pthread_t self = pthread_self();
    gboolean ok;

    pthread_mutex_lock(&src->guard_lock);
    /* Callbacks of one source only ever run on its context's thread; a
     * second thread only shows up around a thread restart.  Wait for it. */
    while (src->cb_depth > 0 && !pthread_equal(src->cb_thread, self)) {
        pthread_cond_wait(&src->guard_cond, &src->guard_lock);
    }
    ok = gen != 0 && src->gen == gen;
    if (ok) {
        src->cb_thread = self;
        src->cb_depth++;
    }
    pthread_mutex_unlock(&src->guard_lock);
    return ok;
}

static void guard_leave(QSource *src)
{
    pthread_mutex_lock(&src->guard_lock);
    if (--src->cb_depth == 0) {
        pthread_cond_broadcast(&src->guard_cond);
    }
    pthread_mutex_unlock(&src->guard_lock);
}

gboolean qsource_run_prepare(QSource *src, guint gen, int *timeout)
{
    gboolean ready;

    if (!src->funcs->prepare || !guard_enter(src, gen)) {
        return FALSE;
    }
    ready = src->funcs->prepare(src, timeout);
    guard_leave(src);
    return ready;
}

gboolean qsource_run_check(QSource *src, guint gen)
{
    gboolean ready;

    if (!src->funcs->check || !guard_enter(src, gen)) {
        return FALSE;
    }
    ready = src->funcs->check(src);
    guard_leave(src);
    return ready;
}

gboolean qsource_run_dispatch(QSource *src, guint gen)
{
    gboolean again;

    if (!guard_enter(src, gen)) {
        return G_SOURCE_CONTINUE;
    }
    if (src->funcs->dispatch) {
        again = src->funcs->dispatch(src);
    } else if (src->callback) {
        again = src->callback(src->opaque);
    } else {
        again = G_SOURCE_CONTINUE;
    }
    guard_leave(src);
    return again;
}

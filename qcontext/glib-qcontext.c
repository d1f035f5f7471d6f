/*
 * qcontext/glib-qcontext.c - "glib-qcontext": a QContext on a GMainContext.
 *
 * The RFC's steps map onto GLib's: prepare = g_main_context_prepare +
 * query, poll = the context's poll function on the queried fds, check =
 * g_main_context_check, dispatch = g_main_context_dispatch.  Each QSource
 * becomes a QGSource, a GSource whose callbacks call the QSource's through
 * the callback guard and whose poll fds are the QSource's (GLib makes
 * g_source_add_poll/remove_poll thread-safe).  An AioContext created at
 * completion runs inside the GMainContext through its GSource.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext"

#include <pthread.h>
#include <string.h>

#include "qcontext/aio/aio.h"
#include "qcontext/glib-qcontext.h"
#include "qcontext-internal.h"

struct _GlibQContext {
    QContext parent;

    GMainContext *gctx;
    AioContext *aio;
    GSource *aio_source;

    pthread_mutex_t lock; /* protects @sources and QGSource.dead */
    GPtrArray *sources;   /* QGSource *, one GSource reference each */

    /* Iteration state: only the thread that owns @gctx touches it. */
    GPollFD *fds;
    gint fds_alloc;
    gint nfds;
    gint max_priority;
    QContextPhase phase;
};

G_DEFINE_FINAL_TYPE(GlibQContext, glib_qcontext, QCONTEXT_TYPE)

/* The class's methods only see its own instances: an unchecked cast. */
#define GQ(ctx) ((GlibQContext *)(ctx))

/* A QSource seen by GLib. */
typedef struct {
    GSource base;
    QSource *src;        /* a reference of its own */
    guint gen;           /* atomic: the binding's generation, 0 until bound */
    GlibQContext *owner; /* borrowed: sources go before their context */
    gboolean dead;       /* under owner->lock: detached during attach */
    int sync;            /* atomic: see qg_release() */
} QGSource;

static gboolean glib_detach_gen(GlibQContext *self, QSource *src, guint gen,
                                GError **errp);

/* ------------------------------------------------------------------------ */
/* QGSource                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * GLib hands a GSource between threads (attach, dispatch, the free on the
 * thread that drops the last reference) under its own mutexes, which
 * ThreadSanitizer cannot see.  So the fields we keep in a QGSource are
 * published with a release on @sync by every thread that wrote or read
 * them (qg_release), and acquired from it by every callback and by
 * qg_finalize (qg_acquire).
 */
static void qg_release(QGSource *qg)
{
    /* Release pairs with the acquire load in qg_acquire(). */
    __atomic_fetch_add(&qg->sync, 1, __ATOMIC_RELEASE);
}

static void qg_acquire(QGSource *qg)
{
    /* Acquire pairs with the release in qg_release(). */
    (void)__atomic_load_n(&qg->sync, __ATOMIC_ACQUIRE);
}

static guint qg_gen(QGSource *qg)
{
    /* Acquire pairs with the release store in glib_attach(). */
    return __atomic_load_n(&qg->gen, __ATOMIC_ACQUIRE);
}

static gboolean qg_prepare(GSource *gs, gint *timeout)
{
    QGSource *qg = (QGSource *)gs;
    int t = -1;
    gboolean ready;

    qg_acquire(qg);
    ready = qsource_run_prepare(qg->src, qg_gen(qg), &t);
    *timeout = t;
    qg_release(qg);
    return ready;
}

static gboolean qg_check(GSource *gs)
{
    QGSource *qg = (QGSource *)gs;
    gboolean ready;

    qg_acquire(qg);
    ready = qsource_run_check(qg->src, qg_gen(qg));
    qg_release(qg);
    return ready;
}

static gboolean qg_dispatch(GSource *gs, GSourceFunc cb, gpointer data)
{
    QGSource *qg = (QGSource *)gs;
    guint gen;

    qg_acquire(qg);
    gen = qg_gen(qg);
    if (qsource_run_dispatch(qg->src, gen) == G_SOURCE_REMOVE) {
        glib_detach_gen(qg->owner, qg->src, gen, NULL);
    }
    qg_release(qg);
    /* Removal, if any, was done above: GLib must not destroy it again. */
    return G_SOURCE_CONTINUE;
}

static void qg_finalize(GSource *gs)
{
    QGSource *qg = (QGSource *)gs;

    qg_acquire(qg);
    qsource_unref(qg->src);
}

static GSourceFuncs qg_funcs = {
    .prepare = qg_prepare,
    .check = qg_check,
    .dispatch = qg_dispatch,
    .finalize = qg_finalize,
};

static void qg_add_poll(QSource *src, GPollFD *pfd, gpointer data)
{
    g_source_add_poll(data, pfd);
}

static void qg_remove_poll(QSource *src, GPollFD *pfd, gpointer data)
{
    g_source_remove_poll(data, pfd);
}

static const QSourceHooks qg_hooks = {
    .add_poll = qg_add_poll,
    .remove_poll = qg_remove_poll,
};

static void qg_free(QGSource *qg)
{
    qg_release(qg);
    g_source_destroy(&qg->base);
    g_source_unref(&qg->base);
}

/* ------------------------------------------------------------------------ */
/* attach / detach                                                           */
/* ------------------------------------------------------------------------ */

static gboolean glib_attach(QContext *ctx, QSource *src, GError **errp)
{
    GlibQContext *self = GLIB_QCONTEXT(ctx);
    QGSource *qg = (QGSource *)g_source_new(&qg_funcs, sizeof(QGSource));
    gboolean dead;
    guint gen;

    qg->src = qsource_ref(src);
    qg->owner = self;
    if (qsource_get_name(src)) {
        g_source_set_name(&qg->base, qsource_get_name(src));
    }
    /* Attached before it is bound: with generation 0 its callbacks refuse
     * to run until the binding (and its poll fds) is complete. */
    qg_release(qg);
    g_source_attach(&qg->base, self->gctx);
    gen = qsource_bind(src, ctx, &qg_hooks, qg, errp);
    if (!gen) {
        qg_free(qg);
        return FALSE;
    }
    /* Release pairs with the acquire load in qg_gen(). */
    __atomic_store_n(&qg->gen, gen, __ATOMIC_RELEASE);
    /*
     * GLib woke the context inside g_source_attach(), while the source
     * still refused to run: a prepare of that round saw generation 0 and
     * the context may have gone back to sleep with no timeout.  Wake it
     * again now that the binding is live (as aio-qcontext does after its
     * bind).
     */
    g_main_context_wakeup(self->gctx);

    pthread_mutex_lock(&self->lock);
    dead = qg->dead;
    if (!dead) {
        g_ptr_array_add(self->sources, qg);
    }
    pthread_mutex_unlock(&self->lock);
    if (dead) {
        qg_free(qg); /* a concurrent detach already unbound it */
    }
    return TRUE;
}

static gboolean glib_detach_gen(GlibQContext *self, QSource *src, guint gen,
                                GError **errp)
{
    gpointer data;
    QGSource *qg;
    gboolean owned;

    if (!qsource_unbind(src, QCONTEXT_CONTEXT(self), gen, &data, errp)) {
        return FALSE;
    }
    qsource_unref(src); /* the binding's reference */
    qg = data;

    pthread_mutex_lock(&self->lock);
    owned = g_ptr_array_remove_fast(self->sources, qg);
    if (!owned) {
        qg->dead = TRUE; /* still in glib_attach(): it frees qg */
    }
    pthread_mutex_unlock(&self->lock);
    if (owned) {
        qg_free(qg);
    }
    return TRUE;
}

static gboolean glib_detach(QContext *ctx, QSource *src, GError **errp)
{
    return glib_detach_gen(GLIB_QCONTEXT(ctx), src, 0, errp);
}

static QSource *qg_item_source(gpointer item)
{
    return ((QGSource *)item)->src;
}

static QSource *glib_find_source_by_name(QContext *ctx, const char *name)
{
    GlibQContext *self = GLIB_QCONTEXT(ctx);

    return qcontext_find_source_in(&self->lock, &self->sources, qg_item_source, name);
}

/* ------------------------------------------------------------------------ */
/* The RFC's steps on GLib                                                   */
/* ------------------------------------------------------------------------ */

/* The iterating thread must own the GMainContext; the context thread holds
 * it for its whole life, others take it for the duration of one step. */
static gboolean glib_acquire(GlibQContext *self)
{
    if (g_main_context_acquire(self->gctx)) {
        return TRUE;
    }
    g_critical("context '%s' is being iterated by another thread",
               qcontext_get_name(QCONTEXT_CONTEXT(self)));
    return FALSE;
}

static gboolean glib_prepare(QContext *ctx, int *timeout)
{
    GlibQContext *self = GQ(ctx);
    gboolean ready;
    gint n, t = -1;

    if (!glib_acquire(self)) {
        *timeout = 0;
        return FALSE;
    }
    ready = g_main_context_prepare(self->gctx, &self->max_priority);
    while ((n = g_main_context_query(self->gctx, self->max_priority, &t, self->fds,
                                     self->fds_alloc)) > self->fds_alloc) {
        self->fds_alloc = n;
        self->fds = g_renew(GPollFD, self->fds, n);
    }
    self->nfds = n;
    for (gint i = 0; i < n; i++) {
        self->fds[i].revents = 0;
    }
    self->phase = QCONTEXT_PHASE_PREPARED;
    *timeout = ready ? 0 : t;
    g_main_context_release(self->gctx);
    return ready;
}

static gboolean glib_poll(QContext *ctx, int timeout)
{
    GlibQContext *self = GQ(ctx);
    GPollFunc poll_func = g_main_context_get_poll_func(self->gctx);
    gint n = poll_func(self->fds, self->nfds, timeout);

    if (self->phase == QCONTEXT_PHASE_PREPARED) {
        self->phase = QCONTEXT_PHASE_POLLED;
    }
    return n > 0;
}

static gboolean glib_check_locked(GlibQContext *self)
{
    gboolean ready = FALSE;

    if (self->phase == QCONTEXT_PHASE_PREPARED ||
        self->phase == QCONTEXT_PHASE_POLLED) {
        ready =
            g_main_context_check(self->gctx, self->max_priority, self->fds, self->nfds);
        self->phase = QCONTEXT_PHASE_CHECKED;
    }
    return ready;
}

static gboolean glib_check(QContext *ctx)
{
    GlibQContext *self = GQ(ctx);
    gboolean ready;

    if (!glib_acquire(self)) {
        return FALSE;
    }
    ready = glib_check_locked(self);
    g_main_context_release(self->gctx);
    return ready;
}

static void glib_dispatch(QContext *ctx)
{
    GlibQContext *self = GQ(ctx);

    if (!glib_acquire(self)) {
        return;
    }
    /* Straight from a ready prepare: GLib collects what to dispatch in its
     * check step, which then sees no poll results. */
    glib_check_locked(self);
    self->phase = QCONTEXT_PHASE_IDLE;
    g_main_context_dispatch(self->gctx);
    g_main_context_release(self->gctx);
}

static void glib_notify(QContext *ctx)
{
    g_main_context_wakeup(GQ(ctx)->gctx);
}

static AioContext *glib_get_aio_context(QContext *ctx)
{
    return GQ(ctx)->aio;
}

static void glib_thread_enter(QContext *ctx)
{
    GlibQContext *self = GLIB_QCONTEXT(ctx);

    glib_acquire(self);
    g_main_context_push_thread_default(self->gctx);
}

static void glib_thread_leave(QContext *ctx)
{
    GlibQContext *self = GLIB_QCONTEXT(ctx);

    g_main_context_pop_thread_default(self->gctx);
    g_main_context_release(self->gctx);
}

GMainContext *glib_qcontext_get_main_context(QContext *ctx)
{
    if (!GLIB_IS_QCONTEXT(ctx)) {
        return NULL;
    }
    return GLIB_QCONTEXT(ctx)->gctx;
}

/* ------------------------------------------------------------------------ */
/* Object                                                                    */
/* ------------------------------------------------------------------------ */

static gboolean glib_qcontext_complete(QomObject *obj, GError **errp)
{
    GlibQContext *self = GLIB_QCONTEXT(obj);
    QomObjectClass *parent = QOM_OBJECT_CLASS(glib_qcontext_parent_class);

    if (!parent->complete(obj, errp)) {
        return FALSE;
    }
    if (qcontext_is_main(QCONTEXT_CONTEXT(obj))) {
        self->gctx = g_main_context_ref(g_main_context_default());
    } else {
        self->gctx = g_main_context_new();
    }
    self->aio = qcontext_new_aio_context(QCONTEXT_CONTEXT(obj), errp);
    if (!self->aio) {
        return FALSE;
    }
    self->aio_source = aio_get_g_source(self->aio);
    g_source_attach(self->aio_source, self->gctx);
    return qcontext_complete_start(QCONTEXT_CONTEXT(obj), errp);
}

static void glib_qcontext_detach_all(GlibQContext *self)
{
    GPtrArray *sources = qcontext_steal_sources(&self->lock, &self->sources);

    for (guint i = 0; i < sources->len; i++) {
        QGSource *qg = g_ptr_array_index(sources, i);
        if (qsource_unbind(qg->src, QCONTEXT_CONTEXT(self), 0, NULL, NULL)) {
            qsource_unref(qg->src);
        }
        qg_free(qg);
    }
    g_ptr_array_unref(sources);
}

static void glib_qcontext_dispose(GObject *obj)
{
    GlibQContext *self = GLIB_QCONTEXT(obj);

    qcontext_dispose_stop(QCONTEXT_CONTEXT(obj));
    glib_qcontext_detach_all(self);
    if (self->aio_source) {
        g_source_destroy(self->aio_source);
        g_clear_pointer(&self->aio_source, g_source_unref);
    }
    g_clear_pointer(&self->aio, aio_context_unref);
    g_clear_pointer(&self->gctx, g_main_context_unref);
    G_OBJECT_CLASS(glib_qcontext_parent_class)->dispose(obj);
}

static void glib_qcontext_finalize(GObject *obj)
{
    GlibQContext *self = GLIB_QCONTEXT(obj);

    g_ptr_array_unref(self->sources);
    g_free(self->fds);
    pthread_mutex_destroy(&self->lock);
    G_OBJECT_CLASS(glib_qcontext_parent_class)->finalize(obj);
}

static void glib_qcontext_init(GlibQContext *self)
{
    pthread_mutex_init(&self->lock, NULL);
    self->sources = g_ptr_array_new();
}

static void glib_qcontext_class_init(GlibQContextClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QomObjectClass *qc = QOM_OBJECT_CLASS(klass);
    QContextClass *cc = QCONTEXT_CONTEXT_CLASS(klass);

    oc->dispose = glib_qcontext_dispose;
    oc->finalize = glib_qcontext_finalize;
    qc->complete = glib_qcontext_complete;
    cc->prepare = glib_prepare;
    cc->poll = glib_poll;
    cc->check = glib_check;
    cc->dispatch = glib_dispatch;
    cc->notify = glib_notify;
    cc->attach = glib_attach;
    cc->detach = glib_detach;
    cc->find_source_by_name = glib_find_source_by_name;
    cc->get_aio_context = glib_get_aio_context;
    cc->thread_enter = glib_thread_enter;
    cc->thread_leave = glib_thread_leave;
}

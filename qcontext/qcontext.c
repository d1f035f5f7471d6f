/*
 * qcontext/qcontext.c - QContext, the abstract event-loop context: the RFC's
 * virtual methods and their wrappers, the context thread (threaded=yes,
 * cpu-affinity), and the registry ("main", find by name, current).
 *
 * Whose thread is this: a context's thread is its AioContext's home thread
 * (aio_context_set_home_thread()), and nothing else records it.  The
 * context thread makes itself home when it starts and clears that when it
 * ends; a non-threaded context is at home on the thread that created it;
 * "main" on the thread that called qcontext_init_main().
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "qcontext/aio/aio.h"
#include "qcontext/glib-qcontext.h"
#include "qcontext-internal.h"

typedef enum {
    STARTUP_PENDING,
    STARTUP_DONE,
    STARTUP_FAILED,
} StartupState;

typedef struct {
    gboolean threaded;  /* construct-only */
    char *cpu_affinity; /* construct-only, as given */
    GArray *cpus;       /* parsed at completion, NULL = no binding */

    /* Thread state.  state_lock serializes start/stop; the thread itself
     * never takes it. */
    pthread_mutex_t state_lock;
    gboolean has_thread; /* under state_lock: @thread must be joined */
    pthread_t thread;    /* under state_lock */
    int running;         /* atomic: the loop keeps going while set */

    gboolean is_main;   /* set once, before completion, by qcontext_init_main() */
    AioContext *aio;    /* the subclass's, from its completion until dispose */
    unsigned iterating; /* home thread only: depth of qcontext_iterate() */

    /* Startup handshake between qcontext_start() and the new thread. */
    pthread_mutex_t startup_lock;
    pthread_cond_t startup_cond;
    StartupState startup; /* under startup_lock */
    int startup_errno;    /* under startup_lock */
} QContextPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(QContext, qcontext, QOM_TYPE_OBJECT)

enum { PROP_0, PROP_THREADED, PROP_CPU_AFFINITY, PROP_THREAD_ID, N_PROPS };

static GParamSpec *props[N_PROPS];

/* ------------------------------------------------------------------------ */
/* The RFC's methods                                                         */
/* ------------------------------------------------------------------------ */

#define QCONTEXT_CHECK(ctx, val) g_return_val_if_fail(QCONTEXT_IS_CONTEXT(ctx), val)

gboolean qcontext_prepare(QContext *ctx, int *timeout)
{
    int dummy = -1;

    QCONTEXT_CHECK(ctx, FALSE);
    return QCONTEXT_CONTEXT_GET_CLASS(ctx)->prepare(ctx, timeout ? timeout : &dummy);
}

gboolean qcontext_poll(QContext *ctx, int timeout)
{
    QCONTEXT_CHECK(ctx, FALSE);
    return QCONTEXT_CONTEXT_GET_CLASS(ctx)->poll(ctx, timeout);
}

gboolean qcontext_check(QContext *ctx)
{
    QCONTEXT_CHECK(ctx, FALSE);
    return QCONTEXT_CONTEXT_GET_CLASS(ctx)->check(ctx);
}

void qcontext_dispatch(QContext *ctx)
{
    g_return_if_fail(QCONTEXT_IS_CONTEXT(ctx));
    QCONTEXT_CONTEXT_GET_CLASS(ctx)->dispatch(ctx);
}

void qcontext_notify(QContext *ctx)
{
    g_return_if_fail(QCONTEXT_IS_CONTEXT(ctx));
    QCONTEXT_CONTEXT_GET_CLASS(ctx)->notify(ctx);
}

static gboolean check_completed(QContext *ctx, GError **errp)
{
    if (!qom_object_is_completed(QOM_OBJECT(ctx))) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "context '%s' is not completed",
                    qcontext_get_name(ctx) ? qcontext_get_name(ctx) : "(no id)");
        return FALSE;
    }
    return TRUE;
}

gboolean qcontext_attach(QContext *ctx, QSource *src, GError **errp)
{
    QCONTEXT_CHECK(ctx, FALSE);
    g_return_val_if_fail(src != NULL, FALSE);
    if (!check_completed(ctx, errp)) {
        return FALSE;
    }
    return QCONTEXT_CONTEXT_GET_CLASS(ctx)->attach(ctx, src, errp);
}

gboolean qcontext_detach(QContext *ctx, QSource *src, GError **errp)
{
    QCONTEXT_CHECK(ctx, FALSE);
    g_return_val_if_fail(src != NULL, FALSE);
    return QCONTEXT_CONTEXT_GET_CLASS(ctx)->detach(ctx, src, errp);
}

QSource *qcontext_find_source_by_name(QContext *ctx, const char *name)
{
    QCONTEXT_CHECK(ctx, NULL);
    if (!name) {
        return NULL;
    }
    return QCONTEXT_CONTEXT_GET_CLASS(ctx)->find_source_by_name(ctx, name);
}

gboolean qcontext_iterate(QContext *ctx, gboolean blocking)
{
    QContextPrivate *priv;
    gboolean progress;

    QCONTEXT_CHECK(ctx, FALSE);
    priv = qcontext_get_instance_private(ctx);
    if (!qcontext_in_thread(ctx)) {
        g_critical("qcontext_iterate: context '%s' belongs to another thread",
                   qcontext_get_name(ctx));
        return FALSE;
    }
    priv->iterating++;
    progress = QCONTEXT_CONTEXT_GET_CLASS(ctx)->iterate(ctx, blocking);
    priv->iterating--;
    return progress;
}

/* The RFC's loop iteration: prepare -> dispatch if a source is ready,
 * otherwise poll -> check -> dispatch. */
static gboolean qcontext_real_iterate(QContext *ctx, gboolean blocking)
{
    int timeout = -1;

    if (qcontext_prepare(ctx, &timeout)) {
        qcontext_dispatch(ctx);
        return TRUE;
    }
    qcontext_poll(ctx, blocking ? timeout : 0);
    if (qcontext_check(ctx)) {
        qcontext_dispatch(ctx);
        return TRUE;
    }
    return FALSE;
}

AioContext *qcontext_get_aio_context(QContext *ctx)
{
    QCONTEXT_CHECK(ctx, NULL);
    return QCONTEXT_CONTEXT_GET_CLASS(ctx)->get_aio_context(ctx);
}

const char *qcontext_get_name(QContext *ctx)
{
    QCONTEXT_CHECK(ctx, NULL);
    return qom_object_get_id(QOM_OBJECT(ctx));
}

/* ------------------------------------------------------------------------ */
/* The context thread                                                        */
/* ------------------------------------------------------------------------ */

static void thread_set_name_and_slack(QContext *ctx)
{
    /* The kernel keeps 15 characters. */
    g_autofree char *name = g_strdup_printf("qctx/%s", qcontext_get_name(ctx));

    name[MIN(strlen(name), 15)] = '\0';
    prctl(PR_SET_NAME, name, 0, 0, 0);
    /*
     * Timed wakeups (aio timers, poll timeouts) are nanosecond-exact in the
     * loop; the default 50 us timer slack would add that much to every one.
     */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
}

/* Bind the calling thread to priv->cpus; 0 or an errno value. */
static int thread_set_affinity(QContextPrivate *priv)
{
    guint max = g_array_index(priv->cpus, guint, priv->cpus->len - 1);
    size_t size = CPU_ALLOC_SIZE(max + 1);
    cpu_set_t *set = CPU_ALLOC(max + 1);
    int err;

    CPU_ZERO_S(size, set);
    for (guint i = 0; i < priv->cpus->len; i++) {
        CPU_SET_S(g_array_index(priv->cpus, guint, i), size, set);
    }
    err = pthread_setaffinity_np(pthread_self(), size, set);
    CPU_FREE(set);
    return err;
}

static void startup_report(QContextPrivate *priv, StartupState state, int err)
{
    pthread_mutex_lock(&priv->startup_lock);
    priv->startup = state;
    priv->startup_errno = err;
    pthread_cond_signal(&priv->startup_cond);
    pthread_mutex_unlock(&priv->startup_lock);
}

static void *context_thread(void *opaque)
{
    QContext *ctx = opaque;
    QContextPrivate *priv = qcontext_get_instance_private(ctx);
    QContextClass *klass = QCONTEXT_CONTEXT_GET_CLASS(ctx);
    int err = 0;

    thread_set_name_and_slack(ctx);
    if (priv->cpus) {
        err = thread_set_affinity(priv);
    }
    if (err) {
        startup_report(priv, STARTUP_FAILED, err);
        return NULL;
    }
    aio_context_set_home_thread(qcontext_get_aio_context(ctx));
    if (klass->thread_enter) {
        klass->thread_enter(ctx);
    }
    startup_report(priv, STARTUP_DONE, 0);

    /*
     * The class's iterate directly: on our own thread, with the type known,
     * qcontext_iterate()'s checks are all true.  Acquire pairs with the
     * release store in qcontext_stop().
     */
    while (__atomic_load_n(&priv->running, __ATOMIC_ACQUIRE)) {
        klass->iterate(ctx, TRUE);
    }

    if (klass->thread_leave) {
        klass->thread_leave(ctx);
    }
    aio_context_clear_home_thread(qcontext_get_aio_context(ctx));
    return NULL;
}

/* Create the thread with every signal blocked: signals go to the main loop. */
static int thread_create(QContext *ctx, pthread_t *thread)
{
    sigset_t all, old;
    int err;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(thread, NULL, context_thread, ctx);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

static gboolean start_locked(QContext *ctx, QContextPrivate *priv, GError **errp)
{
    g_autofree char *cpus = NULL;
    int err;

    __atomic_store_n(&priv->running, 1, __ATOMIC_RELAXED);
    priv->startup = STARTUP_PENDING;
    err = thread_create(ctx, &priv->thread);
    if (err) {
        __atomic_store_n(&priv->running, 0, __ATOMIC_RELAXED);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "context '%s': cannot create its thread: %s",
                    qcontext_get_name(ctx), g_strerror(err));
        return FALSE;
    }

    pthread_mutex_lock(&priv->startup_lock);
    while (priv->startup == STARTUP_PENDING) {
        pthread_cond_wait(&priv->startup_cond, &priv->startup_lock);
    }
    err = priv->startup == STARTUP_FAILED ? priv->startup_errno : 0;
    pthread_mutex_unlock(&priv->startup_lock);

    if (err) {
        pthread_join(priv->thread, NULL);
        __atomic_store_n(&priv->running, 0, __ATOMIC_RELAXED);
        cpus = qcontext_format_cpulist(priv->cpus);
        g_set_error(
            errp, QOM_ERROR, QOM_ERROR_FAILED,
            "cpu-affinity: cannot bind the thread of context '%s' to CPUs %s: %s",
            qcontext_get_name(ctx), cpus, g_strerror(err));
        return FALSE;
    }
    priv->has_thread = TRUE;
    return TRUE;
}

gboolean qcontext_start(QContext *ctx, GError **errp)
{
    QContextPrivate *priv;
    gboolean ok = TRUE;

    QCONTEXT_CHECK(ctx, FALSE);
    priv = qcontext_get_instance_private(ctx);
    if (!priv->threaded) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "context '%s' is not threaded (threaded=no)",
                    qcontext_get_name(ctx));
        return FALSE;
    }
    if (!check_completed(ctx, errp)) {
        return FALSE;
    }

    /*
     * Our own thread must not take state_lock: another thread may hold it
     * while it joins us in qcontext_stop().
     */
    if (qcontext_in_thread(ctx)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "context '%s' cannot be restarted from its own thread",
                    qcontext_get_name(ctx));
        return FALSE;
    }
    pthread_mutex_lock(&priv->state_lock);
    if (priv->has_thread && __atomic_load_n(&priv->running, __ATOMIC_RELAXED)) {
        /* already running */
    } else {
        if (priv->has_thread) {
            /* stopped from its own thread: reap it first */
            pthread_join(priv->thread, NULL);
            priv->has_thread = FALSE;
        }
        ok = start_locked(ctx, priv, errp);
    }
    pthread_mutex_unlock(&priv->state_lock);
    return ok;
}

void qcontext_stop(QContext *ctx)
{
    QContextPrivate *priv;

    g_return_if_fail(QCONTEXT_IS_CONTEXT(ctx));
    priv = qcontext_get_instance_private(ctx);

    if (priv->threaded && qcontext_in_thread(ctx)) {
        /*
         * From the loop itself: it ends after this iteration and is joined
         * by the next start or stop from another thread.  Without taking
         * state_lock: a concurrent qcontext_stop() holds it while joining
         * us.  Release pairs with the acquire load in context_thread().
         */
        __atomic_store_n(&priv->running, 0, __ATOMIC_RELEASE);
        return;
    }
    pthread_mutex_lock(&priv->state_lock);
    if (priv->has_thread) {
        /* Release pairs with the acquire load in context_thread()'s loop. */
        __atomic_store_n(&priv->running, 0, __ATOMIC_RELEASE);
        qcontext_notify(ctx);
        pthread_join(priv->thread, NULL);
        priv->has_thread = FALSE;
    }
    pthread_mutex_unlock(&priv->state_lock);
}

gboolean qcontext_is_threaded(QContext *ctx)
{
    QContextPrivate *priv;

    QCONTEXT_CHECK(ctx, FALSE);
    priv = qcontext_get_instance_private(ctx);
    return priv->threaded;
}

/* The AioContext of a completed context (else NULL). */
static AioContext *qcontext_aio_or_null(QContext *ctx)
{
    QContextPrivate *priv = qcontext_get_instance_private(ctx);

    return priv->aio;
}

gboolean qcontext_is_running(QContext *ctx)
{
    QContextPrivate *priv;
    AioContext *aio;

    QCONTEXT_CHECK(ctx, FALSE);
    priv = qcontext_get_instance_private(ctx);
    aio = qcontext_aio_or_null(ctx);
    /* A threaded context has a home thread only while its thread runs. */
    return __atomic_load_n(&priv->running, __ATOMIC_RELAXED) && aio &&
           aio_context_get_home_tid(aio) != 0;
}

int qcontext_get_thread_id(QContext *ctx)
{
    AioContext *aio;

    QCONTEXT_CHECK(ctx, 0);
    aio = qcontext_aio_or_null(ctx);
    return aio ? aio_context_get_home_tid(aio) : 0;
}

gboolean qcontext_in_thread(QContext *ctx)
{
    AioContext *aio;

    QCONTEXT_CHECK(ctx, FALSE);
    aio = qcontext_aio_or_null(ctx);
    return aio && in_aio_context_home_thread(aio);
}

QContext *qcontext_current(void)
{
    AioContext *aio = qemu_get_current_aio_context();
    QContext *main_ctx = qcontext_get_main();
    QContext *found = NULL;
    GList *objs;

    if (!aio) {
        return NULL;
    }
    if (main_ctx && qcontext_aio_or_null(main_ctx) == aio) {
        return main_ctx;
    }
    objs = qom_container_list(QOM_CONTAINER_OBJECTS);
    for (GList *l = objs; l && !found; l = l->next) {
        if (QCONTEXT_IS_CONTEXT(l->data) &&
            qcontext_aio_or_null(QCONTEXT_CONTEXT(l->data)) == aio) {
            found = QCONTEXT_CONTEXT(l->data); /* the container keeps it */
        }
    }
    g_list_free_full(objs, g_object_unref);
    return found;
}

gboolean qcontext_complete_start(QContext *ctx, GError **errp)
{
    QContextPrivate *priv = qcontext_get_instance_private(ctx);

    priv->aio = QCONTEXT_CONTEXT_GET_CLASS(ctx)->get_aio_context(ctx);
    if (!priv->threaded) {
        return TRUE;
    }
    /* Created here for the thread about to start: at home nowhere until then. */
    aio_context_clear_home_thread(qcontext_get_aio_context(ctx));
    /* qcontext_start() requires a completed object; start directly. */
    pthread_mutex_lock(&priv->state_lock);
    gboolean ok = priv->has_thread || start_locked(ctx, priv, errp);
    pthread_mutex_unlock(&priv->state_lock);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Helpers for subclasses                                                    */
/* ------------------------------------------------------------------------ */

AioContext *qcontext_new_aio_context(QContext *ctx, GError **errp)
{
    AioContext *aio = aio_context_new(errp);

    if (!aio) {
        g_prefix_error(errp, "context '%s': ", qom_object_get_id(QOM_OBJECT(ctx)));
    }
    return aio;
}

QSource *qcontext_find_source_in(pthread_mutex_t *lock, GPtrArray *const *sources,
                                 QSource *(*item_source)(gpointer item),
                                 const char *name)
{
    QSource *found = NULL;

    pthread_mutex_lock(lock);
    for (guint i = 0; i < (*sources)->len && !found; i++) {
        gpointer item = g_ptr_array_index(*sources, i);
        QSource *src = item_source ? item_source(item) : item;
        if (g_strcmp0(qsource_get_name(src), name) == 0) {
            found = src;
        }
    }
    pthread_mutex_unlock(lock);
    return found;
}

GPtrArray *qcontext_steal_sources(pthread_mutex_t *lock, GPtrArray **sources)
{
    GPtrArray *stolen;

    pthread_mutex_lock(lock);
    stolen = *sources;
    *sources = g_ptr_array_new();
    pthread_mutex_unlock(lock);
    return stolen;
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                  */
/* ------------------------------------------------------------------------ */

QContext *qcontext_find_by_name(const char *name)
{
    QomObject *obj;
    QContext *ctx;

    if (!name) {
        return NULL;
    }
    if (strcmp(name, QCONTEXT_MAIN_NAME) == 0) {
        return qcontext_get_main(); /* also once deleted at shutdown */
    }
    obj = qom_container_find(QOM_CONTAINER_OBJECTS, name);
    if (!obj) {
        return NULL;
    }
    ctx = QCONTEXT_IS_CONTEXT(obj) ? QCONTEXT_CONTEXT(obj) : NULL;
    g_object_unref(obj); /* the container keeps it */
    return ctx;
}

static pthread_mutex_t main_lock = PTHREAD_MUTEX_INITIALIZER;
static QContext *main_ctx; /* atomic; a strong reference, kept for the process */

/* Create, complete and register "main", at home on the calling thread. */
static QContext *main_new(GError **errp)
{
    QContext *ctx = g_object_new(GLIB_QCONTEXT_TYPE, "id", QCONTEXT_MAIN_NAME, NULL);
    QContextPrivate *priv = qcontext_get_instance_private(ctx);

    priv->is_main = TRUE; /* the reserved id is accepted for this object only */
    if (!g_initable_init(G_INITABLE(ctx), NULL, errp) ||
        !qom_container_add(QOM_CONTAINER_OBJECTS, QOM_OBJECT(ctx), errp)) {
        g_prefix_error(errp, "cannot create the main context: ");
        g_object_unref(ctx);
        return NULL;
    }
    /* Created here, so at home here; also the thread's current context. */
    aio_context_set_home_thread(qcontext_get_aio_context(ctx));
    return ctx;
}

gboolean qcontext_init_main(GError **errp)
{
    gboolean ok = TRUE;
    QContext *ctx;

    qcontext_register_types();
    pthread_mutex_lock(&main_lock);
    ctx = main_ctx;
    if (!ctx) {
        ctx = main_new(errp);
        ok = ctx != NULL;
        /* Release pairs with the acquire load in qcontext_get_main(). */
        __atomic_store_n(&main_ctx, ctx, __ATOMIC_RELEASE);
    } else if (!qcontext_in_thread(ctx)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "the main context belongs to another thread (thread id %d)",
                    qcontext_get_thread_id(ctx));
        ok = FALSE;
    }
    pthread_mutex_unlock(&main_lock);
    return ok;
}

QContext *qcontext_get_main(void)
{
    /* Acquire pairs with the release store in qcontext_init_main(). */
    return __atomic_load_n(&main_ctx, __ATOMIC_ACQUIRE);
}

gboolean qcontext_is_main(QContext *ctx)
{
    QContextPrivate *priv;

    QCONTEXT_CHECK(ctx, FALSE);
    priv = qcontext_get_instance_private(ctx);
    return priv->is_main;
}

/* ------------------------------------------------------------------------ */
/* GObject / QomObject                                                       */
/* ------------------------------------------------------------------------ */

static gboolean validate_affinity(QContext *ctx, QContextPrivate *priv, GError **errp)
{
    g_autoptr(GArray) online = NULL;
    g_autofree char *have = NULL;
    GArray *cpus;

    if (!priv->cpu_affinity || !priv->cpu_affinity[0]) {
        return TRUE;
    }
    if (!priv->threaded) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "cpu-affinity: needs threaded=yes (only a context's own thread "
                    "can be bound to CPUs)");
        return FALSE;
    }
    cpus = qcontext_parse_cpulist(priv->cpu_affinity, errp);
    if (!cpus) {
        return FALSE;
    }
    online = qcontext_online_cpus();
    for (guint i = 0, j = 0; i < cpus->len; i++) {
        guint c = g_array_index(cpus, guint, i);
        while (j < online->len && g_array_index(online, guint, j) < c) {
            j++;
        }
        if (j == online->len || g_array_index(online, guint, j) != c) {
            have = qcontext_format_cpulist(online);
            g_set_error(
                errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                "cpu-affinity: CPU %u does not exist (this machine has CPUs %s)", c,
                have);
            g_array_unref(cpus);
            return FALSE;
        }
    }
    priv->cpus = cpus;
    return TRUE;
}

static gboolean qcontext_complete(QomObject *obj, GError **errp)
{
    QContext *ctx = QCONTEXT_CONTEXT(obj);
    QomObjectClass *parent = QOM_OBJECT_CLASS(qcontext_parent_class);

    if (parent->complete && !parent->complete(obj, errp)) {
        return FALSE;
    }
    if (!qcontext_is_main(ctx) &&
        g_strcmp0(qom_object_get_id(obj), QCONTEXT_MAIN_NAME) == 0) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_ID,
                    "id '%s' is reserved for the main loop's context",
                    QCONTEXT_MAIN_NAME);
        return FALSE;
    }
    return validate_affinity(ctx, qcontext_get_instance_private(ctx), errp);
}

/*
 * Deleting a context from inside its own loop would free it under the
 * iteration that runs the deleting code: refused.  That is any code on a
 * threaded context's thread, and a dispatch of a non-threaded one.  "main"
 * lives as long as the process.
 */
static gboolean qcontext_can_be_deleted(QomObject *obj, GError **errp)
{
    QContext *ctx = QCONTEXT_CONTEXT(obj);
    QContextPrivate *priv = qcontext_get_instance_private(ctx);

    if (priv->is_main) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                    "context '%s' is the main loop's and cannot be deleted",
                    qcontext_get_name(ctx));
        return FALSE;
    }
    /* iterating is only written by the home thread, which is the caller. */
    if (qcontext_in_thread(ctx) && (priv->threaded || priv->iterating)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                    "context '%s' cannot be deleted from its own thread",
                    qcontext_get_name(ctx));
        return FALSE;
    }
    return TRUE;
}

static void qcontext_unparent(QomObject *obj)
{
    QomObjectClass *parent = QOM_OBJECT_CLASS(qcontext_parent_class);

    qcontext_stop(QCONTEXT_CONTEXT(obj));
    if (parent->unparent) {
        parent->unparent(obj);
    }
}

void qcontext_dispose_stop(QContext *ctx)
{
    QContextPrivate *priv = qcontext_get_instance_private(ctx);

    if (qcontext_in_thread(ctx) && (priv->threaded || priv->iterating)) {
        g_critical("context '%s': last reference dropped inside its own loop",
                   qcontext_get_name(ctx));
    }
    qcontext_stop(ctx);
    priv->aio = NULL; /* the subclass frees it next */
}

static void qcontext_finalize(GObject *obj)
{
    QContextPrivate *priv = qcontext_get_instance_private(QCONTEXT_CONTEXT(obj));

    g_free(priv->cpu_affinity);
    if (priv->cpus) {
        g_array_unref(priv->cpus);
    }
    pthread_cond_destroy(&priv->startup_cond);
    pthread_mutex_destroy(&priv->startup_lock);
    pthread_mutex_destroy(&priv->state_lock);
    G_OBJECT_CLASS(qcontext_parent_class)->finalize(obj);
}

static void qcontext_set_property(GObject *obj, guint id, const GValue *value,
                                  GParamSpec *pspec)
{
    QContextPrivate *priv = qcontext_get_instance_private(QCONTEXT_CONTEXT(obj));

    switch (id) {
    case PROP_THREADED:
        priv->threaded = g_value_get_boolean(value);
        break;
    case PROP_CPU_AFFINITY:
        g_free(priv->cpu_affinity);
        priv->cpu_affinity = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void qcontext_get_property(GObject *obj, guint id, GValue *value,
                                  GParamSpec *pspec)
{
    QContext *ctx = QCONTEXT_CONTEXT(obj);
    QContextPrivate *priv = qcontext_get_instance_private(ctx);

    switch (id) {
    case PROP_THREADED:
        g_value_set_boolean(value, priv->threaded);
        break;
    case PROP_CPU_AFFINITY:
        g_value_set_string(value, priv->cpu_affinity);
        break;
    case PROP_THREAD_ID:
        g_value_set_int(value, qcontext_get_thread_id(ctx));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void qcontext_init(QContext *ctx)
{
    QContextPrivate *priv = qcontext_get_instance_private(ctx);

    pthread_mutex_init(&priv->state_lock, NULL);
    pthread_mutex_init(&priv->startup_lock, NULL);
    pthread_cond_init(&priv->startup_cond, NULL);
}

static void qcontext_class_init(QContextClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QomObjectClass *qc = QOM_OBJECT_CLASS(klass);

    oc->set_property = qcontext_set_property;
    oc->get_property = qcontext_get_property;
    oc->finalize = qcontext_finalize;
    qc->complete = qcontext_complete;
    qc->unparent = qcontext_unparent;
    qc->can_be_deleted = qcontext_can_be_deleted;
    klass->iterate = qcontext_real_iterate;

    props[PROP_THREADED] = g_param_spec_boolean(
        "threaded", "Threaded", "Run the context on its own thread, named qctx/<id>",
        FALSE, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_CPU_AFFINITY] = g_param_spec_string(
        "cpu-affinity", "CPU affinity",
        "CPUs the context thread may run on, e.g. 0,2-3 (threaded=yes only)", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_THREAD_ID] = g_param_spec_int(
        "thread-id", "Thread id", "Kernel thread id of the context thread (0 if none)",
        0, G_MAXINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

/*
 * qcontext/aio-qcontext.c - "aio-qcontext": a QContext driven by aio_poll().
 *
 * One iteration: prepare the attached QSources (their timeouts bound the
 * wait with an internal aio timer), aio_poll() (which runs the AioContext's
 * BHs, timers and fd handlers, and records the revents of the QSources'
 * poll fds through fd handlers of ours), then check and dispatch the
 * QSources.  When a source is ready at prepare, aio_poll() does not block.
 *
 * Threads: attach/detach and poll-fd changes (any thread) only update the
 * source list and mark the fd set dirty; the thread that iterates brings
 * the AioContext's fd handlers in line with the sources' poll fds at the
 * next prepare, outside aio_poll(), so our handler data is only ever freed
 * on that thread while no handler can be running.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext"

#include <pthread.h>
#include <string.h>

#include "qcontext/aio-qcontext.h"
#include "qcontext/aio/thread-pool.h"
#include "aio-qcontext-internal.h"

G_DEFINE_FINAL_TYPE(AioQContext, aio_qcontext, QCONTEXT_TYPE)

/*
 * The class's methods are only ever called on its own instances: an
 * unchecked cast (the checked one costs a GType lookup per call, on the
 * path of every iteration).
 */
#define AQ(ctx) ((AioQContext *)(ctx))

enum {
    PROP_0,
    PROP_POLL_MAX_NS,
    PROP_POLL_GROW,
    PROP_POLL_SHRINK,
    PROP_FDMON,
    PROP_AIO_MAX_BATCH,
    PROP_THREAD_POOL_MIN,
    PROP_THREAD_POOL_MAX,
    N_PROPS
};

static GParamSpec *props[N_PROPS];

GType aio_qcontext_fdmon_get_type(void)
{
    static gsize type;

    if (g_once_init_enter(&type)) {
        static const GEnumValue values[] = {
            {AIO_FDMON_EPOLL, "AIO_FDMON_EPOLL", "epoll"},
            {AIO_FDMON_IO_URING, "AIO_FDMON_IO_URING", "io_uring"},
            {AIO_FDMON_POLL, "AIO_FDMON_POLL", "poll"},
            {0, NULL, NULL},
        };
        g_once_init_leave(&type, g_enum_register_static("AioQContextFdmon", values));
    }
    return type;
}

/* ------------------------------------------------------------------------ */
/* The iteration                                                             */
/* ------------------------------------------------------------------------ */

static void entries_clear(AioQContext *self)
{
    for (guint i = 0; i < self->entries->len; i++) {
        qsource_unref(g_array_index(self->entries, AqEntry, i).src);
    }
    g_array_set_size(self->entries, 0);
}

/* Take the attached sources (with their live generation) for this round. */
static void entries_snapshot(AioQContext *self)
{
    entries_clear(self);
    pthread_mutex_lock(&self->lock);
    for (guint i = 0; i < self->sources->len; i++) {
        QSource *src = g_ptr_array_index(self->sources, i);
        AqEntry e = {.src = src, .gen = qsource_get_generation(src)};
        if (e.gen) {
            qsource_ref(src);
            g_array_append_val(self->entries, e);
        }
    }
    pthread_mutex_unlock(&self->lock);
}

/* Take this round's sources and bring the fd handlers in line with them. */
static void round_begin(AioQContext *self)
{
    /* Acq_rel pairs with the release store in mark_dirty(). */
    gboolean dirty = __atomic_exchange_n(&self->fds_dirty, 0, __ATOMIC_ACQ_REL);
    GHashTableIter iter;
    AqFd *f;

    entries_snapshot(self);
    if (dirty) {
        aq_sync_fds(self);
    }
    if (g_hash_table_size(self->fds) == 0) {
        return;
    }
    g_hash_table_iter_init(&iter, self->fds);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&f)) {
        f->revents = 0;
    }
}

static gboolean aq_prepare(QContext *ctx, int *timeout)
{
    AioQContext *self = AQ(ctx);
    gboolean any_ready = FALSE;
    int min = -1;

    round_begin(self);
    for (guint i = 0; i < self->entries->len; i++) {
        AqEntry *e = &g_array_index(self->entries, AqEntry, i);
        int t = -1;
        e->ready = qsource_run_prepare(e->src, e->gen, &t);
        any_ready |= e->ready;
        if (t >= 0 && (min < 0 || t < min)) {
            min = t;
        }
    }
    self->phase = QCONTEXT_PHASE_PREPARED;
    *timeout = any_ready ? 0 : min;
    return any_ready;
}

static void deadline_cb(void *opaque)
{
    AioQContext *self = opaque;

    self->deadline_fired = TRUE;
}

/*
 * aio_poll, blocking for at most @timeout ms (-1: until something happens).
 * TRUE if a source's fd became ready or the AioContext did work of its own
 * (then self->aio_progress is set).
 */
static gboolean aq_run_aio(AioQContext *self, int timeout)
{
    gboolean progress;

    self->deadline_fired = FALSE;
    self->fd_ready = FALSE;
    if (timeout > 0) {
        timer_mod_ns(self->deadline, qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                                         (int64_t)timeout * SCALE_MS);
    }
    progress = aio_poll(self->aio, timeout != 0);
    if (timeout > 0) {
        timer_del(self->deadline);
    }
    /* Only approximately: a BH that ran in the same round as our own fd
     * handler or the deadline is not told apart. */
    self->aio_progress = progress && !self->deadline_fired && !self->fd_ready;
    return self->aio_progress || self->fd_ready;
}

static gboolean aq_poll(QContext *ctx, int timeout)
{
    AioQContext *self = AQ(ctx);
    gboolean progress = aq_run_aio(self, timeout);

    if (self->phase == QCONTEXT_PHASE_PREPARED) {
        self->phase = QCONTEXT_PHASE_POLLED;
    }
    return progress;
}

static gboolean check_entries(AioQContext *self)
{
    gboolean any_ready = FALSE;

    for (guint i = 0; i < self->entries->len; i++) {
        AqEntry *e = &g_array_index(self->entries, AqEntry, i);
        aq_copy_revents(self, e);
        if (!e->ready) {
            e->ready = qsource_run_check(e->src, e->gen);
        }
        any_ready |= e->ready;
    }
    self->phase = QCONTEXT_PHASE_CHECKED;
    return any_ready;
}

static gboolean aq_check(QContext *ctx)
{
    AioQContext *self = AQ(ctx);

    if (self->phase != QCONTEXT_PHASE_PREPARED &&
        self->phase != QCONTEXT_PHASE_POLLED) {
        return FALSE;
    }
    return check_entries(self);
}

static gboolean aq_detach_gen(AioQContext *self, QSource *src, guint gen,
                              GError **errp);

static void aq_dispatch(QContext *ctx)
{
    AioQContext *self = AQ(ctx);

    if (self->phase == QCONTEXT_PHASE_PREPARED) {
        /* Ready at prepare: run what the AioContext has without waiting. */
        aq_run_aio(self, 0);
    }
    if (self->phase == QCONTEXT_PHASE_PREPARED ||
        self->phase == QCONTEXT_PHASE_POLLED) {
        check_entries(self);
    }
    if (self->phase != QCONTEXT_PHASE_CHECKED) {
        return;
    }
    self->phase = QCONTEXT_PHASE_IDLE;
    for (guint i = 0; i < self->entries->len; i++) {
        AqEntry *e = &g_array_index(self->entries, AqEntry, i);
        if (e->ready && qsource_run_dispatch(e->src, e->gen) == G_SOURCE_REMOVE) {
            aq_detach_gen(self, e->src, e->gen, NULL);
        }
    }
    entries_clear(self);
}

/* Like the RFC's iteration, but aio_poll's own work (BHs, timers, device
 * handlers) also counts as progress. */
static gboolean aq_iterate(QContext *ctx, gboolean blocking)
{
    AioQContext *self = AQ(ctx);
    gboolean progress;
    int timeout = -1;

    /*
     * No source attached and no fd handler of ours to take down: the
     * iteration is aio_poll() alone (a device dataplane's context), with no
     * lock taken.  A source attached meanwhile marks the fds dirty, then
     * notifies (mark_dirty()), which ends this aio_poll(); the acquire of
     * that notification orders the dirty flag before the next iteration's
     * look at it.
     */
    if (__atomic_load_n(&self->nsources, __ATOMIC_RELAXED) == 0 &&
        !__atomic_load_n(&self->fds_dirty, __ATOMIC_RELAXED) &&
        g_hash_table_size(self->fds) == 0) {
        self->aio_progress = aio_poll(self->aio, blocking);
        return self->aio_progress;
    }
    if (aq_prepare(ctx, &timeout)) {
        aq_dispatch(ctx);
        return TRUE;
    }
    aq_poll(ctx, blocking ? timeout : 0);
    progress = aq_check(ctx) || self->aio_progress;
    aq_dispatch(ctx);
    return progress;
}

static void aq_notify(QContext *ctx)
{
    aio_notify(AQ(ctx)->aio);
}

/* ------------------------------------------------------------------------ */
/* attach / detach                                                           */
/* ------------------------------------------------------------------------ */

static gboolean aq_attach(QContext *ctx, QSource *src, GError **errp)
{
    AioQContext *self = AIO_QCONTEXT(ctx);
    guint gen;

    /* Holding the lock across bind + add: a concurrent detach (which
     * unbinds first) finds the source in the list when it takes the lock. */
    pthread_mutex_lock(&self->lock);
    gen = qsource_bind(src, ctx, &aq_hooks, self, errp);
    if (gen) {
        g_ptr_array_add(self->sources, src);
        __atomic_store_n(&self->nsources, (int)self->sources->len, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&self->lock);
    if (gen) {
        aq_mark_dirty(self);
    }
    return gen != 0;
}

static gboolean aq_detach_gen(AioQContext *self, QSource *src, guint gen, GError **errp)
{
    gboolean found;

    if (!qsource_unbind(src, QCONTEXT_CONTEXT(self), gen, NULL, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&self->lock);
    found = g_ptr_array_remove_fast(self->sources, src);
    __atomic_store_n(&self->nsources, (int)self->sources->len, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&self->lock);
    g_warn_if_fail(found);
    aq_mark_dirty(self);
    qsource_unref(src); /* the binding's reference */
    return TRUE;
}

static gboolean aq_detach(QContext *ctx, QSource *src, GError **errp)
{
    return aq_detach_gen(AIO_QCONTEXT(ctx), src, 0, errp);
}

static QSource *aq_find_source_by_name(QContext *ctx, const char *name)
{
    AioQContext *self = AIO_QCONTEXT(ctx);

    return qcontext_find_source_in(&self->lock, &self->sources, NULL, name);
}

static AioContext *aq_get_aio_context(QContext *ctx)
{
    return AQ(ctx)->aio;
}

gboolean aio_qcontext_get_stats(QContext *ctx, AioContextStats *stats)
{
    AioContext *aio;

    g_return_val_if_fail(stats != NULL, FALSE);
    aio = QCONTEXT_IS_CONTEXT(ctx) && qom_object_is_completed(QOM_OBJECT(ctx))
              ? qcontext_get_aio_context(ctx)
              : NULL;
    if (!aio) {
        memset(stats, 0, sizeof(*stats));
        return FALSE;
    }
    aio_context_get_stats(aio, stats);
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Object                                                                    */
/* ------------------------------------------------------------------------ */

static gboolean apply_fdmon(AioQContext *self, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (self->fdmon == AIO_FDMON_EPOLL ||
        aio_context_set_fdmon(self->aio, self->fdmon, &err)) {
        return TRUE;
    }
    if (self->fdmon == AIO_FDMON_IO_URING) {
        g_warning("context '%s': io_uring fd monitoring unavailable, using epoll: %s",
                  qcontext_get_name(QCONTEXT_CONTEXT(self)), err->message);
        return TRUE;
    }
    g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "fdmon: %s", err->message);
    return FALSE;
}

/* thread-pool-min <= thread-pool-max, or an error naming both. */
static gboolean check_pool_limits(int min, int max, GError **errp)
{
    if (min > max) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "thread-pool-min (%d) must not be above thread-pool-max (%d)", min,
                    max);
        return FALSE;
    }
    return TRUE;
}

/* aio-max-batch and the pool limits, at completion. */
static gboolean apply_tunables(AioQContext *self, GError **errp)
{
    gboolean ok;

    pthread_mutex_lock(&self->params_lock);
    ok = check_pool_limits(self->thread_pool_min, self->thread_pool_max, errp) &&
         aio_context_set_aio_params(self->aio, self->aio_max_batch, errp);
    /* The defaults are the pool's own: no pool until someone needs one. */
    if (ok && (self->thread_pool_min != 0 ||
               self->thread_pool_max != AIO_QCONTEXT_DEFAULT_THREAD_POOL_MAX)) {
        thread_pool_set_minmax_threads(self->aio, self->thread_pool_min,
                                       self->thread_pool_max);
    }
    pthread_mutex_unlock(&self->params_lock);
    return ok;
}

static gboolean aio_qcontext_complete(QomObject *obj, GError **errp)
{
    AioQContext *self = AIO_QCONTEXT(obj);
    QomObjectClass *parent = QOM_OBJECT_CLASS(aio_qcontext_parent_class);
    gboolean ok;

    if (!parent->complete(obj, errp)) {
        return FALSE;
    }
    self->aio = qcontext_new_aio_context(QCONTEXT_CONTEXT(obj), errp);
    if (!self->aio) {
        return FALSE;
    }
    pthread_mutex_lock(&self->params_lock);
    ok = aio_context_set_poll_params(self->aio, self->poll_max_ns, self->poll_grow,
                                     self->poll_shrink, errp);
    pthread_mutex_unlock(&self->params_lock);
    if (!ok || !apply_fdmon(self, errp) || !apply_tunables(self, errp)) {
        return FALSE;
    }
    self->deadline =
        aio_timer_new(self->aio, QEMU_CLOCK_REALTIME, SCALE_NS, deadline_cb, self);
    return qcontext_complete_start(QCONTEXT_CONTEXT(obj), errp);
}

/* Set one poll parameter; applied at once when the context exists. */
static void set_poll_param(AioQContext *self, int64_t *field, int64_t value)
{
    pthread_mutex_lock(&self->params_lock);
    *field = value;
    if (self->aio) {
        g_autoptr(GError) err = NULL;
        if (!aio_context_set_poll_params(self->aio, self->poll_max_ns, self->poll_grow,
                                         self->poll_shrink, &err)) {
            g_warning("context '%s': %s", qcontext_get_name(QCONTEXT_CONTEXT(self)),
                      err->message);
        }
    }
    pthread_mutex_unlock(&self->params_lock);
}

/* Set aio-max-batch; applied at once when the context exists. */
static void set_max_batch(AioQContext *self, int64_t value)
{
    pthread_mutex_lock(&self->params_lock);
    self->aio_max_batch = value;
    if (self->aio) {
        aio_context_set_aio_params(self->aio, value, NULL); /* >= 0: cannot fail */
    }
    pthread_mutex_unlock(&self->params_lock);
}

/* Set a pool limit; applied at once (starting or stopping workers). */
static void set_pool_limit(AioQContext *self, int *field, int value)
{
    pthread_mutex_lock(&self->params_lock);
    *field = value;
    if (self->aio) {
        thread_pool_set_minmax_threads(self->aio, self->thread_pool_min,
                                       self->thread_pool_max);
    }
    pthread_mutex_unlock(&self->params_lock);
}

/* qom-set: a new pool limit must fit the other one. */
static gboolean aio_qcontext_check_set(QomObject *obj, GParamSpec *pspec,
                                       const GValue *value, GError **errp)
{
    AioQContext *self = AIO_QCONTEXT(obj);
    gboolean is_min = pspec == props[PROP_THREAD_POOL_MIN];
    gboolean ok;

    if (!is_min && pspec != props[PROP_THREAD_POOL_MAX]) {
        return TRUE;
    }
    pthread_mutex_lock(&self->params_lock);
    ok = check_pool_limits(is_min ? g_value_get_int(value) : self->thread_pool_min,
                           is_min ? self->thread_pool_max : g_value_get_int(value),
                           errp);
    pthread_mutex_unlock(&self->params_lock);
    return ok;
}

static void aio_qcontext_set_property(GObject *obj, guint id, const GValue *value,
                                      GParamSpec *pspec)
{
    AioQContext *self = AIO_QCONTEXT(obj);

    switch (id) {
    case PROP_POLL_MAX_NS:
        set_poll_param(self, &self->poll_max_ns, g_value_get_int64(value));
        break;
    case PROP_POLL_GROW:
        set_poll_param(self, &self->poll_grow, g_value_get_int64(value));
        break;
    case PROP_POLL_SHRINK:
        set_poll_param(self, &self->poll_shrink, g_value_get_int64(value));
        break;
    case PROP_FDMON:
        self->fdmon = g_value_get_enum(value);
        break;
    case PROP_AIO_MAX_BATCH:
        set_max_batch(self, g_value_get_int64(value));
        break;
    case PROP_THREAD_POOL_MIN:
        set_pool_limit(self, &self->thread_pool_min, g_value_get_int(value));
        break;
    case PROP_THREAD_POOL_MAX:
        set_pool_limit(self, &self->thread_pool_max, g_value_get_int(value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void aio_qcontext_get_property(GObject *obj, guint id, GValue *value,
                                      GParamSpec *pspec)
{
    AioQContext *self = AIO_QCONTEXT(obj);
    int64_t params[3], max_batch;
    int pool[2];
    AioFdMonKind fdmon;

    pthread_mutex_lock(&self->params_lock);
    max_batch = self->aio_max_batch;
    pool[0] = self->thread_pool_min;
    pool[1] = self->thread_pool_max;
    params[0] = self->poll_max_ns;
    params[1] = self->poll_grow;
    params[2] = self->poll_shrink;
    fdmon = self->fdmon;
    if (self->aio) {
        /* what the AioContext really uses */
        aio_context_get_poll_params(self->aio, &params[0], &params[1], &params[2]);
        fdmon = aio_context_get_fdmon(self->aio);
    }
    pthread_mutex_unlock(&self->params_lock);

    switch (id) {
    case PROP_POLL_MAX_NS:
    case PROP_POLL_GROW:
    case PROP_POLL_SHRINK:
        g_value_set_int64(value, params[id - PROP_POLL_MAX_NS]);
        break;
    case PROP_FDMON:
        g_value_set_enum(value, fdmon);
        break;
    case PROP_AIO_MAX_BATCH:
        g_value_set_int64(value, max_batch);
        break;
    case PROP_THREAD_POOL_MIN:
    case PROP_THREAD_POOL_MAX:
        g_value_set_int(value, pool[id - PROP_THREAD_POOL_MIN]);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void aio_qcontext_dispose(GObject *obj)
{
    AioQContext *self = AIO_QCONTEXT(obj);
    GHashTableIter iter;
    GPtrArray *sources;
    AqFd *f;

    qcontext_dispose_stop(QCONTEXT_CONTEXT(obj));
    entries_clear(self);

    sources = qcontext_steal_sources(&self->lock, &self->sources);
    __atomic_store_n(&self->nsources, 0, __ATOMIC_RELAXED);
    for (guint i = 0; i < sources->len; i++) {
        QSource *src = g_ptr_array_index(sources, i);
        if (qsource_unbind(src, QCONTEXT_CONTEXT(self), 0, NULL, NULL)) {
            qsource_unref(src);
        }
    }
    g_ptr_array_unref(sources);

    if (self->aio) {
        g_hash_table_iter_init(&iter, self->fds);
        while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&f)) {
            aio_set_fd_handler(self->aio, f->fd, NULL, NULL, NULL, NULL, NULL);
        }
    }
    g_hash_table_remove_all(self->fds);
    g_clear_pointer(&self->deadline, timer_free);
    pthread_mutex_lock(&self->params_lock);
    g_clear_pointer(&self->aio, aio_context_unref);
    pthread_mutex_unlock(&self->params_lock);
    G_OBJECT_CLASS(aio_qcontext_parent_class)->dispose(obj);
}

static void aio_qcontext_finalize(GObject *obj)
{
    AioQContext *self = AIO_QCONTEXT(obj);

    g_ptr_array_unref(self->sources);
    g_array_unref(self->entries);
    g_hash_table_unref(self->fds);
    g_array_unref(self->removed);
    pthread_mutex_destroy(&self->removed_lock);
    pthread_mutex_destroy(&self->lock);
    pthread_mutex_destroy(&self->params_lock);
    G_OBJECT_CLASS(aio_qcontext_parent_class)->finalize(obj);
}

static void aio_qcontext_init(AioQContext *self)
{
    pthread_mutex_init(&self->lock, NULL);
    pthread_mutex_init(&self->params_lock, NULL);
    pthread_mutex_init(&self->removed_lock, NULL);
    self->removed = g_array_new(FALSE, FALSE, sizeof(int));
    self->sources = g_ptr_array_new();
    self->entries = g_array_new(FALSE, FALSE, sizeof(AqEntry));
    self->fds = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    self->poll_max_ns = AIO_QCONTEXT_DEFAULT_POLL_MAX_NS;
    self->thread_pool_max = AIO_QCONTEXT_DEFAULT_THREAD_POOL_MAX;
    self->fdmon = AIO_FDMON_EPOLL;
}

static GParamSpec *poll_param_spec(const char *name, const char *blurb, gint64 def)
{
    return g_param_spec_int64(name, name, blurb, 0, G_MAXINT64, def,
                              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
}

static void aio_qcontext_class_init(AioQContextClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QomObjectClass *qc = QOM_OBJECT_CLASS(klass);
    QContextClass *cc = QCONTEXT_CONTEXT_CLASS(klass);

    oc->set_property = aio_qcontext_set_property;
    oc->get_property = aio_qcontext_get_property;
    oc->dispose = aio_qcontext_dispose;
    oc->finalize = aio_qcontext_finalize;
    qc->complete = aio_qcontext_complete;
    qc->check_set = aio_qcontext_check_set;
    cc->prepare = aq_prepare;
    cc->poll = aq_poll;
    cc->check = aq_check;
    cc->dispatch = aq_dispatch;
    cc->notify = aq_notify;
    cc->attach = aq_attach;
    cc->detach = aq_detach;
    cc->find_source_by_name = aq_find_source_by_name;
    cc->iterate = aq_iterate;
    cc->get_aio_context = aq_get_aio_context;

    props[PROP_POLL_MAX_NS] =
        poll_param_spec("poll-max-ns", "Longest busy-poll in ns (0 disables polling)",
                        AIO_QCONTEXT_DEFAULT_POLL_MAX_NS);
    props[PROP_POLL_GROW] =
        poll_param_spec("poll-grow", "Factor to grow the polling window by (0: 2)", 0);
    props[PROP_POLL_SHRINK] = poll_param_spec(
        "poll-shrink", "Divisor to shrink the polling window by (0: reset)", 0);
    props[PROP_FDMON] = g_param_spec_enum(
        "fdmon", "fd monitor", "How fds are monitored: epoll, io_uring or poll",
        AIO_QCONTEXT_TYPE_FDMON, AIO_FDMON_EPOLL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[PROP_AIO_MAX_BATCH] = g_param_spec_int64(
        "aio-max-batch", "aio-max-batch",
        "Requests a block queue collects before it must submit (0: its depth)", 0,
        G_MAXINT64, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_THREAD_POOL_MIN] = g_param_spec_int(
        "thread-pool-min", "thread-pool-min",
        "Worker threads of the context's pool kept alive (aio=threads)", 0,
        AIO_QCONTEXT_THREAD_POOL_LIMIT, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    props[PROP_THREAD_POOL_MAX] = g_param_spec_int(
        "thread-pool-max", "thread-pool-max",
        "Most worker threads of the context's pool (aio=threads)", 1,
        AIO_QCONTEXT_THREAD_POOL_LIMIT, AIO_QCONTEXT_DEFAULT_THREAD_POOL_MAX,
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

/*
 * devices/device.c - Device, the object: properties, realize (the
 * QomObject completion step), deletion through the container, queries, the
 * "moved" and "deleted" signals, the registry of live devices and the
 * registration of device types.  The operations are in device-engine.c,
 * the planes in device-queue.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "device-internal.h"

enum { PROP_0, PROP_CONTEXT, PROP_NUM_QUEUES, PROP_QUEUE_CONTEXTS, N_PROPS };
enum { SIGNAL_MOVED, SIGNAL_DELETED, N_SIGNALS };

static GParamSpec *device_props[N_PROPS];
static guint device_signals[N_SIGNALS];

/* Live devices: realized, or with their deletion under way. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static GList *registry; /* Device *, no reference (the device removes itself) */

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(Device, device, QOM_TYPE_OBJECT)

DevicePrivate *device_priv(Device *dev)
{
    return device_get_instance_private(dev);
}

void device_lock(Device *dev)
{
    pthread_mutex_lock(&device_priv(dev)->lock);
}

void device_unlock(Device *dev)
{
    pthread_mutex_unlock(&device_priv(dev)->lock);
}

AioContext *device_main_aio(void)
{
    return qcontext_get_aio_context(qcontext_get_main());
}

static void unref_bh(void *opaque)
{
    g_object_unref(opaque);
}

void device_unref_on_main(gpointer obj)
{
    if (qcontext_in_thread(qcontext_get_main())) {
        g_object_unref(obj);
    } else {
        aio_bh_schedule_oneshot(device_main_aio(), unref_bh, obj);
    }
}

const char *device_state_str(DeviceState state)
{
    static const char *const names[] = {
        [DEVICE_STATE_UNREALIZED] = "unrealized",
        [DEVICE_STATE_RUNNING] = "running",
        [DEVICE_STATE_QUIESCING] = "quiescing",
        [DEVICE_STATE_QUIESCED] = "quiesced",
        [DEVICE_STATE_MOVING] = "moving",
        [DEVICE_STATE_REALIZING] = "realizing",
        [DEVICE_STATE_DELETING] = "deleting",
    };
    return (unsigned)state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */
/* ------------------------------------------------------------------------ */

const char *device_get_id(Device *dev)
{
    return qom_object_get_id(QOM_OBJECT(dev));
}

QContext *device_get_context(Device *dev)
{
    DevicePrivate *priv;
    QContext *ctx;

    g_return_val_if_fail(IS_DEVICE(dev), NULL);
    priv = device_priv(dev);
    device_lock(dev);
    ctx = priv->control ? priv->control->ctx : priv->prop_ctx;
    device_unlock(dev);
    return ctx;
}

DeviceState device_get_state(Device *dev)
{
    DevicePrivate *priv;
    DeviceState state = DEVICE_STATE_QUIESCED;
    int op_state;

    g_return_val_if_fail(IS_DEVICE(dev), DEVICE_STATE_UNREALIZED);
    priv = device_priv(dev);
    device_lock(dev);
    op_state = device_engine_op_state(dev);
    if (!priv->realized) {
        state = DEVICE_STATE_UNREALIZED;
    } else if (priv->deleting) {
        state = DEVICE_STATE_DELETING;
    } else if (op_state >= 0) {
        state = (DeviceState)op_state;
    } else {
        for (int i = -1; i < (int)priv->num_queues; i++) {
            DeviceQueue *q = i < 0 ? priv->control : priv->queues[i];
            if (q->state == DEVICE_QUEUE_RUNNING) {
                state = DEVICE_STATE_RUNNING;
            }
        }
    }
    device_unlock(dev);
    return state;
}

gboolean device_is_realized(Device *dev)
{
    gboolean realized;

    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    device_lock(dev);
    realized = device_priv(dev)->realized;
    device_unlock(dev);
    return realized;
}

gboolean device_is_busy(Device *dev)
{
    gboolean busy;

    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    device_lock(dev);
    busy = !g_queue_is_empty(&device_priv(dev)->ops);
    device_unlock(dev);
    return busy;
}

gboolean device_is_deleting(Device *dev)
{
    gboolean deleting;

    g_return_val_if_fail(IS_DEVICE(dev), FALSE);
    device_lock(dev);
    deleting = device_priv(dev)->deleting;
    device_unlock(dev);
    return deleting;
}

guint device_get_num_queues(Device *dev)
{
    return device_priv(dev)->num_queues;
}

DeviceQueue *device_get_queue(Device *dev, int index)
{
    DevicePrivate *priv = device_priv(dev);

    return index >= 0 && (guint)index < priv->num_queues ? priv->queues[index] : NULL;
}

DeviceQueue *device_get_control(Device *dev)
{
    return device_priv(dev)->control;
}

void device_get_stats(Device *dev, DeviceStats *stats)
{
    DevicePrivate *priv = device_priv(dev);

    memset(stats, 0, sizeof(*stats));
    for (int i = -1; priv->control && i < (int)priv->num_queues; i++) {
        DeviceStats qs;
        device_queue_get_stats(i < 0 ? priv->control : priv->queues[i], &qs);
        stats->started += qs.started;
        stats->completed += qs.completed;
        stats->failed += qs.failed;
        stats->in_flight += qs.in_flight;
    }
    stats->moves = qatomic_read(&priv->moves);
    stats->hops = qatomic_read(&priv->hops);
}

guint64 device_get_in_flight(Device *dev)
{
    DeviceStats st;

    device_get_stats(dev, &st);
    return st.in_flight;
}

AioContext *device_get_aio_context(Device *dev)
{
    DeviceQueue *control = device_priv(dev)->control;

    return control ? device_queue_get_aio_context(control) : NULL;
}

/* TRUE if a readable object property of @dev points to @obj (its drive...). */
static gboolean device_links_to(Device *dev, QomObject *obj)
{
    GParamSpec **pspecs;
    guint n;
    gboolean used = FALSE;

    pspecs = g_object_class_list_properties(G_OBJECT_GET_CLASS(dev), &n);
    for (guint i = 0; i < n && !used; i++) {
        GValue v = G_VALUE_INIT;
        if (!G_TYPE_IS_OBJECT(pspecs[i]->value_type) ||
            !(pspecs[i]->flags & G_PARAM_READABLE) ||
            pspecs[i] == device_props[PROP_CONTEXT]) {
            continue;
        }
        g_value_init(&v, pspecs[i]->value_type);
        g_object_get_property(G_OBJECT(dev), pspecs[i]->name, &v);
        used = g_value_get_object(&v) == (gpointer)obj;
        g_value_unset(&v);
    }
    g_free(pspecs);
    return used;
}

gboolean device_uses_object(Device *dev, QomObject *obj)
{
    DevicePrivate *priv = device_priv(dev);
    gboolean used = FALSE;

    device_lock(dev);
    used = (!priv->control && (QomObject *)priv->prop_ctx == obj) ||
           device_engine_targets(dev, (QContext *)obj);
    for (int i = -1; priv->control && i < (int)priv->num_queues && !used; i++) {
        DeviceQueue *q = i < 0 ? priv->control : priv->queues[i];
        used = (QomObject *)q->ctx == obj;
    }
    device_unlock(dev);
    return used || device_links_to(dev, obj);
}

/* ------------------------------------------------------------------------ */
/* Registry and signals                                                      */
/* ------------------------------------------------------------------------ */

static void device_registry_add(Device *dev)
{
    pthread_mutex_lock(&registry_lock);
    registry = g_list_prepend(registry, dev);
    pthread_mutex_unlock(&registry_lock);
}

void device_registry_remove(Device *dev)
{
    pthread_mutex_lock(&registry_lock);
    registry = g_list_remove(registry, dev);
    pthread_mutex_unlock(&registry_lock);
}

GList *devices_get_live(void)
{
    GList *list = NULL;

    pthread_mutex_lock(&registry_lock);
    for (GList *l = registry; l; l = l->next) {
        list = g_list_prepend(list, g_object_ref(l->data));
    }
    pthread_mutex_unlock(&registry_lock);
    return list;
}

void device_emit_moved(Device *dev, int queue, QContext *from, QContext *to)
{
    g_signal_emit(dev, device_signals[SIGNAL_MOVED], 0, queue, from, to);
}

void device_leave_container(Device *dev)
{
    QomObject *in = qom_container_find(QOM_CONTAINER_DEVICES, device_get_id(dev));

    /* Only if device_del() kept it there (and no other device took the id). */
    if (in == QOM_OBJECT(dev)) {
        qom_container_del(QOM_CONTAINER_DEVICES, device_get_id(dev), NULL);
    }
    g_clear_object(&in);
}

void device_emit_deleted(Device *dev)
{
    g_signal_emit(dev, device_signals[SIGNAL_DELETED], 0);
}

/* ------------------------------------------------------------------------ */
/* Realize                                                                   */
/* ------------------------------------------------------------------------ */

gboolean device_context_usable(QContext *ctx, const char *dev_id, GError **errp)
{
    if (ctx != qcontext_get_main() && !qcontext_is_threaded(ctx)) {
        g_set_error(
            errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
            "device '%s': context '%s' has no thread (threaded=no); devices run "
            "in 'main' or in a threaded context",
            dev_id, qcontext_get_name(ctx));
        return FALSE;
    }
    return TRUE;
}

static gboolean context_ready(Device *dev, QContext *ctx, GError **errp)
{
    if (!qom_object_is_completed(QOM_OBJECT(ctx))) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "device '%s': context '%s' is not ready", device_get_id(dev),
                    qcontext_get_name(ctx));
        return FALSE;
    }
    return device_context_usable(ctx, device_get_id(dev), errp);
}

/* The context named @name for queue-contexts (borrowed), or NULL. */
static QContext *queue_context(Device *dev, const char *name, GError **errp)
{
    QContext *ctx = *name ? qcontext_find_by_name(name) : NULL;

    if (!*name) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': queue-contexts has an empty context name",
                    device_get_id(dev));
    } else if (!ctx) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "device '%s': queue-contexts: no context '%s'", device_get_id(dev),
                    name);
    }
    return ctx && context_ready(dev, ctx, errp) ? ctx : NULL;
}

/* The contexts named by queue-contexts (borrowed), or NULL with @errp set. */
static GPtrArray *parse_queue_contexts(Device *dev, const char *spec, GError **errp)
{
    g_auto(GStrv) names = g_strsplit(spec, ":", -1);
    GPtrArray *ctxs = g_ptr_array_new();

    for (char **n = names; *n; n++) {
        QContext *ctx = queue_context(dev, *n, errp);
        if (!ctx) {
            g_ptr_array_unref(ctxs);
            return NULL;
        }
        g_ptr_array_add(ctxs, ctx);
    }
    if (!ctxs->len) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': queue-contexts is empty", device_get_id(dev));
        g_ptr_array_unref(ctxs);
        return NULL;
    }
    return ctxs;
}

/* Number of queues from the property and the class. */
static gboolean device_count_queues(Device *dev, guint *n, GError **errp)
{
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);
    guint max = klass->max_queues ? klass->max_queues : DEVICE_MAX_QUEUES;
    guint want = device_priv(dev)->prop_num_queues;

    *n = want ? want : MAX(klass->default_queues, 1);
    if (*n > max) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': num-queues is %u; this device has at most %u",
                    device_get_id(dev), *n, max);
        return FALSE;
    }
    return TRUE;
}

/* Create the planes on their contexts (round-robin over queue-contexts). */
static gboolean device_make_planes(Device *dev, GError **errp)
{
    DevicePrivate *priv = device_priv(dev);
    g_autoptr(GPtrArray) ctxs = NULL;
    guint n;

    if (!device_count_queues(dev, &n, errp)) {
        return FALSE;
    }
    if (priv->prop_queue_contexts &&
        !(ctxs = parse_queue_contexts(dev, priv->prop_queue_contexts, errp))) {
        return FALSE;
    }
    priv->control = device_queue_new(dev, -1, priv->prop_ctx);
    priv->queues = g_new0(DeviceQueue *, n);
    for (guint i = 0; i < n; i++) {
        QContext *ctx = ctxs ? g_ptr_array_index(ctxs, i % ctxs->len) : priv->prop_ctx;
        priv->queues[i] = device_queue_new(dev, (int)i, ctx);
    }
    priv->num_queues = n;
    return TRUE;
}

static void device_free_planes(Device *dev)
{
    DevicePrivate *priv = device_priv(dev);

    for (guint i = 0; i < priv->num_queues; i++) {
        device_queue_free(priv->queues[i]);
    }
    g_clear_pointer(&priv->queues, g_free);
    priv->num_queues = 0;
    g_clear_pointer(&priv->control, device_queue_free);
}

static gboolean device_complete(QomObject *obj, GError **errp)
{
    Device *dev = DEVICE(obj);
    DevicePrivate *priv = device_priv(dev);
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);

    if (!QOM_OBJECT_CLASS(device_parent_class)->complete(obj, errp)) {
        return FALSE;
    }
    if (!priv->prop_ctx) {
        priv->prop_ctx = g_object_ref(qcontext_get_main());
    }
    if (!context_ready(dev, priv->prop_ctx, errp) || !device_make_planes(dev, errp)) {
        device_free_planes(dev);
        return FALSE;
    }
    if (klass->realize && !klass->realize(dev, errp)) {
        device_free_planes(dev);
        return FALSE;
    }
    device_lock(dev);
    priv->realized = TRUE;
    device_unlock(dev);
    device_registry_add(dev);
    device_engine_realize(dev);
    return TRUE;
}

/* Removed from "devices" (not by device_del): delete now, nothing waits. */
static void device_unparent(QomObject *obj)
{
    Device *dev = DEVICE(obj);

    if (device_is_realized(dev) && !device_is_deleting(dev)) {
        device_del(dev, 0, NULL, NULL, NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* Deletion veto and types                                                   */
/* ------------------------------------------------------------------------ */

static gboolean device_del_check(QomObject *obj, GError **errp)
{
    GList *devs;
    gboolean ok = TRUE;

    if (IS_DEVICE(obj)) {
        return TRUE; /* deletion is an operation: always possible */
    }
    if ((QContext *)obj == qcontext_get_main()) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                    "context '%s' is the main loop's and cannot be deleted",
                    qom_object_get_id(obj));
        return FALSE;
    }
    devs = devices_get_live();
    for (GList *l = devs; l && ok; l = l->next) {
        Device *dev = l->data;
        if (!device_uses_object(dev, obj)) {
            continue;
        }
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                    "%s '%s' is in use by device '%s'%s",
                    QCONTEXT_IS_CONTEXT(obj) ? "context" : "object",
                    qom_object_get_id(obj), device_get_id(dev),
                    device_is_deleting(dev) ? " (being deleted; try again)" : "");
        ok = FALSE;
    }
    g_list_free_full(devs, g_object_unref);
    return ok;
}

static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static DeviceTypeEntry *pending_types;
static gboolean types_registered;

void device_type_add(DeviceTypeEntry *entry)
{
    gboolean now;

    pthread_mutex_lock(&types_lock);
    now = types_registered;
    if (!now) {
        entry->next = pending_types;
        pending_types = entry;
    }
    pthread_mutex_unlock(&types_lock);
    if (now) {
        qom_type_register(entry->name, entry->get_type());
    }
}

void devices_register_types(void)
{
    DeviceTypeEntry *list;

    pthread_mutex_lock(&types_lock);
    if (types_registered) {
        pthread_mutex_unlock(&types_lock);
        return;
    }
    types_registered = TRUE;
    list = pending_types;
    pending_types = NULL;
    pthread_mutex_unlock(&types_lock);

    qom_type_register("device", DEVICE_TYPE);
    for (DeviceTypeEntry *e = list; e; e = e->next) {
        qom_type_register(e->name, e->get_type());
    }
    qom_container_set_del_check(device_del_check);
}

/* ------------------------------------------------------------------------ */
/* GObject plumbing                                                          */
/* ------------------------------------------------------------------------ */

/* "a:b:c": the contexts of the queues now (or as given, before realize). */
static char *device_queue_contexts_str(Device *dev)
{
    DevicePrivate *priv = device_priv(dev);
    GString *s;

    if (!priv->num_queues) {
        return g_strdup(priv->prop_queue_contexts);
    }
    s = g_string_new(NULL);
    device_lock(dev);
    for (guint i = 0; i < priv->num_queues; i++) {
        g_string_append_printf(s, "%s%s", i ? ":" : "",
                               qcontext_get_name(priv->queues[i]->ctx));
    }
    device_unlock(dev);
    return g_string_free(s, FALSE);
}

static void device_set_property(GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
    DevicePrivate *priv = device_priv(DEVICE(object));

    switch (prop_id) {
    case PROP_CONTEXT:
        g_clear_object(&priv->prop_ctx);
        priv->prop_ctx = g_value_dup_object(value);
        break;
    case PROP_NUM_QUEUES:
        priv->prop_num_queues = g_value_get_uint(value);
        break;
    case PROP_QUEUE_CONTEXTS:
        g_free(priv->prop_queue_contexts);
        priv->prop_queue_contexts = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void device_get_property(GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
    Device *dev = DEVICE(object);
    DevicePrivate *priv = device_priv(dev);

    switch (prop_id) {
    case PROP_CONTEXT:
        g_value_set_object(value, device_get_context(dev));
        break;
    case PROP_NUM_QUEUES:
        g_value_set_uint(value,
                         priv->num_queues ? priv->num_queues : priv->prop_num_queues);
        break;
    case PROP_QUEUE_CONTEXTS:
        g_value_take_string(value, device_queue_contexts_str(dev));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void device_dispose(GObject *object)
{
    Device *dev = DEVICE(object);

    /* Operations and the container hold references until the device is
     * deleted; a realized device cannot get here. */
    if (device_is_realized(dev)) {
        g_critical("device '%s' disposed of while realized", device_get_id(dev));
    }
    G_OBJECT_CLASS(device_parent_class)->dispose(object);
}

static void device_finalize(GObject *object)
{
    Device *dev = DEVICE(object);
    DevicePrivate *priv = device_priv(dev);

    g_assert(g_queue_is_empty(&priv->ops));
    device_free_planes(dev);
    g_clear_object(&priv->prop_ctx);
    g_free(priv->prop_queue_contexts);
    pthread_mutex_destroy(&priv->lock);
    G_OBJECT_CLASS(device_parent_class)->finalize(object);
}

static void device_class_init(DeviceClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    QomObjectClass *qom_class = QOM_OBJECT_CLASS(klass);
    GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

    object_class->set_property = device_set_property;
    object_class->get_property = device_get_property;
    object_class->dispose = device_dispose;
    object_class->finalize = device_finalize;
    qom_class->complete = device_complete;
    qom_class->unparent = device_unparent;

    device_props[PROP_CONTEXT] = g_param_spec_object(
        "context", "Context",
        "The context of the control plane (default: main); change it with a move",
        QCONTEXT_TYPE, flags);
    device_props[PROP_NUM_QUEUES] = g_param_spec_uint(
        "num-queues", "Queues", "Number of request queues (0: the device's default)", 0,
        DEVICE_MAX_QUEUES, 0, flags);
    device_props[PROP_QUEUE_CONTEXTS] = g_param_spec_string(
        "queue-contexts", "Queue contexts",
        "Contexts of the queues, CTX[:CTX...], taken round-robin (default: context)",
        NULL, flags);
    g_object_class_install_properties(object_class, N_PROPS, device_props);

    device_signals[SIGNAL_MOVED] = g_signal_new(
        "moved", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
        G_TYPE_NONE, 3, G_TYPE_INT, QCONTEXT_TYPE, QCONTEXT_TYPE);
    device_signals[SIGNAL_DELETED] =
        g_signal_new("deleted", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 0);
}

static void device_init(Device *dev)
{
    DevicePrivate *priv = device_priv(dev);

    pthread_mutex_init(&priv->lock, NULL);
    g_queue_init(&priv->ops);
    priv->deadline_ms = -1;
}

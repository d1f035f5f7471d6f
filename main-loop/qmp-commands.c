/*
 * main-loop/qmp-commands.c - the monitor's command table, the query
 * commands, device moves and quit.  The object tree commands are in
 * qmp-qom.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <unistd.h>

#include "monitor-internal.h"
#include "qcontext/aio/aio.h"
#include "qcontext/devices/device.h"
#include "qcontext/main-loop/main-loop.h"
#include "qcontext/qcontext.h"

/* ------------------------------------------------------------------------ */
/* query-qcontexts                                                           */
/* ------------------------------------------------------------------------ */

static void set_prop_if_any(JsonObject *o, QomObject *obj, const char *name)
{
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(obj), name)) {
        JsonNode *v = qmp_property_to_json(obj, name, NULL);
        if (v) {
            json_object_set_member(o, name, v);
        }
    }
}

/* The non-empty buckets as [low-ns, high-ns, count] (for per-interval views). */
static JsonArray *histogram_buckets(const LatencyHistogram *h)
{
    JsonArray *arr = json_array_new();

    for (unsigned b = 0; b < LAT_HIST_BUCKETS; b++) {
        JsonArray *e;
        uint64_t high;

        if (!h->buckets[b]) {
            continue;
        }
        high = b + 1 < LAT_HIST_BUCKETS ? lat_hist_bucket_low(b + 1) - 1 : G_MAXINT64;
        e = json_array_new();
        json_array_add_int_element(e, (gint64)MIN(lat_hist_bucket_low(b), G_MAXINT64));
        json_array_add_int_element(e, (gint64)MIN(high, G_MAXINT64));
        json_array_add_int_element(e, (gint64)h->buckets[b]);
        json_array_add_array_element(arr, e);
    }
    return arr;
}

/*
 * A percentile of @h: the midpoint of its bucket, but never above the exact
 * maximum (a bucket's midpoint may exceed the largest value recorded in it).
 */
static gint64 wakeup_percentile(const LatencyHistogram *h, double p)
{
    uint64_t v = lat_hist_percentile(h, p);

    return (gint64)(h->max_ns && v > h->max_ns ? h->max_ns : v);
}

static JsonObject *context_stats(AioContext *aio, gboolean histogram)
{
    g_autofree AioContextStats *st = g_new0(AioContextStats, 1);
    JsonObject *o = json_object_new();
    JsonObject *lat = json_object_new();

    aio_context_get_stats(aio, st);
    json_object_set_int_member(o, "iterations", st->iterations);
    json_object_set_int_member(o, "dispatches", st->dispatches);
    json_object_set_int_member(o, "wakeups", st->wakeups);
    json_object_set_int_member(o, "busy-ns", st->busy_ns);
    json_object_set_int_member(o, "wait-ns", st->wait_ns);
    json_object_set_int_member(o, "poll-ns", st->poll_ns);
    json_object_set_int_member(o, "poll-hits", st->poll_hits);
    json_object_set_int_member(o, "poll-misses", st->poll_misses);
    json_object_set_int_member(o, "poll-window-ns", st->poll_window_ns);
    json_object_set_int_member(lat, "count", st->wakeup.count);
    json_object_set_int_member(lat, "p50", wakeup_percentile(&st->wakeup, 50.0));
    json_object_set_int_member(lat, "p99", wakeup_percentile(&st->wakeup, 99.0));
    json_object_set_int_member(lat, "p99.9", wakeup_percentile(&st->wakeup, 99.9));
    json_object_set_int_member(lat, "max", st->wakeup.max_ns);
    if (histogram) {
        json_object_set_array_member(lat, "buckets", histogram_buckets(&st->wakeup));
    }
    json_object_set_object_member(o, "wakeup-latency", lat);
    return o;
}

static JsonObject *context_info(QContext *ctx, gboolean histogram)
{
    QomObject *obj = QOM_OBJECT(ctx);
    AioContext *aio = qcontext_get_aio_context(ctx);
    JsonObject *o = json_object_new();
    int tid = qcontext_get_thread_id(ctx);

    if (tid == 0 && !qcontext_is_threaded(ctx) &&
        !strcmp(qcontext_get_name(ctx), "main")) {
        tid = getpid(); /* "main" runs on the daemon's main thread */
    }
    json_object_set_string_member(o, "id", qcontext_get_name(ctx));
    json_object_set_string_member(o, "type", qom_object_get_type_name(obj));
    json_object_set_boolean_member(o, "threaded", qcontext_is_threaded(ctx));
    json_object_set_boolean_member(o, "running", qcontext_is_running(ctx));
    json_object_set_int_member(o, "thread-id", tid);
    set_prop_if_any(o, obj, "cpu-affinity");
    if (!json_object_has_member(o, "cpu-affinity")) {
        json_object_set_null_member(o, "cpu-affinity");
    }
    set_prop_if_any(o, obj, "poll-max-ns");
    set_prop_if_any(o, obj, "poll-grow");
    set_prop_if_any(o, obj, "poll-shrink");
    set_prop_if_any(o, obj, "fdmon");
    if (aio && !json_object_has_member(o, "fdmon")) {
        json_object_set_string_member(o, "fdmon",
                                      aio_fdmon_kind_name(aio_context_get_fdmon(aio)));
    }
    if (aio) {
        json_object_set_object_member(o, "stats", context_stats(aio, histogram));
    }
    return o;
}

static JsonNode *qmp_query_qcontexts(JsonObject *args, GError **errp)
{
    JsonArray *arr = json_array_new();
    GList *objs = qom_container_list(QOM_CONTAINER_OBJECTS);
    QContext *main_ctx = qcontext_get_main();
    gboolean hist = json_object_has_member(args, "histogram") &&
                    json_object_get_boolean_member(args, "histogram");

    if (!g_list_find(objs, main_ctx)) {
        json_array_add_object_element(arr, context_info(main_ctx, hist));
    }
    for (GList *l = objs; l; l = l->next) {
        if (QCONTEXT_IS_CONTEXT(l->data) && qom_object_is_completed(l->data)) {
            json_array_add_object_element(
                arr, context_info(QCONTEXT_CONTEXT(l->data), hist));
        }
    }
    g_list_free_full(objs, g_object_unref);
    return qmp_node_from_array(arr);
}

/* ------------------------------------------------------------------------ */
/* query-devices                                                             */
/* ------------------------------------------------------------------------ */

static JsonObject *device_info(Device *dev)
{
    JsonObject *o = json_object_new();
    JsonObject *req = json_object_new();
    QContext *ctx = device_get_context(dev);
    DeviceStats st;

    device_get_stats(dev, &st);
    json_object_set_string_member(o, "id", device_get_id(dev));
    json_object_set_string_member(o, "type", qom_object_get_type_name(QOM_OBJECT(dev)));
    qmp_obj_set_str(o, "context", ctx ? qcontext_get_name(ctx) : NULL);
    json_object_set_string_member(o, "state", device_state_str(device_get_state(dev)));
    json_object_set_int_member(req, "started", st.started);
    json_object_set_int_member(req, "completed", st.completed);
    json_object_set_int_member(req, "failed", st.failed);
    json_object_set_int_member(req, "in-flight", st.in_flight);
    json_object_set_object_member(o, "requests", req);
    json_object_set_int_member(o, "moves", st.moves);
    return o;
}

static JsonNode *qmp_query_devices(JsonObject *args, GError **errp)
{
    JsonArray *arr = json_array_new();
    GList *objs = qom_container_list(QOM_CONTAINER_DEVICES);

    for (GList *l = objs; l; l = l->next) {
        if (IS_DEVICE(l->data)) {
            json_array_add_object_element(arr, device_info(DEVICE(l->data)));
        }
    }
    g_list_free_full(objs, g_object_unref);
    return qmp_node_from_array(arr);
}

/* ------------------------------------------------------------------------ */
/* device-set-context and device events                                      */
/* ------------------------------------------------------------------------ */

/*
 * The device layer calls a move's done callback (the reply) before it emits
 * the "moved" signal (DEVICE_MOVED), so a client sees the reply first.
 */
typedef struct {
    MonitorRequest *req;
    Device *dev;
} MoveOp;

/* The data of a device event: {"device": ID, "path": "/devices/ID"}. */
static JsonObject *device_event_data(Device *dev)
{
    JsonObject *data = json_object_new();
    g_autofree char *path = g_strdup_printf("/devices/%s", device_get_id(dev));

    json_object_set_string_member(data, "device", device_get_id(dev));
    json_object_set_string_member(data, "path", path);
    return data;
}

static gboolean on_device_moved(GSignalInvocationHint *hint, guint n,
                                const GValue *values, gpointer opaque)
{
    Device *dev = g_value_get_object(&values[0]);
    int queue = g_value_get_int(&values[1]);
    QContext *from = g_value_get_object(&values[2]);
    QContext *to = g_value_get_object(&values[3]);
    JsonObject *data = device_event_data(dev);

    if (queue >= 0) {
        json_object_set_int_member(data, "queue", queue);
    }
    qmp_obj_set_str(data, "old-context", from ? qcontext_get_name(from) : NULL);
    qmp_obj_set_str(data, "context", to ? qcontext_get_name(to) : NULL);
    monitor_emit_event("DEVICE_MOVED", data);
    return TRUE;
}

static gboolean on_device_deleted(GSignalInvocationHint *hint, guint n,
                                  const GValue *values, gpointer opaque)
{
    monitor_emit_event("DEVICE_DELETED", device_event_data(g_value_get_object(&values[0])));
    return TRUE;
}

static void move_done(Device *dev, const GError *err, gpointer opaque)
{
    MoveOp *op = opaque;

    if (err) {
        monitor_request_error(op->req, QMP_ERROR_GENERIC, g_error_copy(err));
    } else {
        monitor_request_return(op->req, NULL);
    }
    g_object_unref(op->dev);
    g_free(op);
}

static Device *device_lookup(const char *id, GError **errp)
{
    QomObject *obj = qom_container_find(QOM_CONTAINER_DEVICES, id);

    if (!obj || !IS_DEVICE(obj)) {
        g_set_error(errp, MONITOR_ERROR, 0, "Device '%s' not found", id);
        if (obj) {
            g_object_unref(obj);
        }
        return NULL;
    }
    return DEVICE(obj);
}

static void qmp_device_set_context(JsonObject *args, MonitorRequest *req)
{
    const char *id = json_object_get_string_member(args, "id");
    const char *name = json_object_get_string_member(args, "context");
    GError *err = NULL;
    QContext *ctx;
    MoveOp *op;
    gint64 queue = json_object_has_member(args, "queue")
                       ? json_object_get_int_member(args, "queue")
                       : DEVICE_QUEUE_ALL;
    Device *dev = device_lookup(id, &err);

    if (!dev) {
        monitor_request_error(req, QMP_ERROR_GENERIC, err);
        return;
    }
    ctx = qcontext_find_by_name(name);
    if (!ctx) {
        g_object_unref(dev);
        err = g_error_new(MONITOR_ERROR, 0, "Context '%s' not found", name);
        monitor_request_error(req, QMP_ERROR_GENERIC, err);
        return;
    }
    if (queue != DEVICE_QUEUE_ALL && (queue < 0 || queue > G_MAXINT)) {
        g_object_unref(dev);
        err = g_error_new(MONITOR_ERROR, 0, "Parameter 'queue' must be a queue index");
        monitor_request_error(req, QMP_ERROR_GENERIC, err);
        return;
    }
    op = g_new0(MoveOp, 1);
    op->req = req;
    op->dev = dev;
    if (!(queue == DEVICE_QUEUE_ALL
              ? device_set_context(dev, ctx, move_done, op, &err)
              : device_queue_set_context(dev, (int)queue, ctx, move_done, op, &err))) {
        monitor_request_error(req, QMP_ERROR_GENERIC, err);
        g_object_unref(dev);
        g_free(op);
    }
}

/* ------------------------------------------------------------------------ */
/* Small commands                                                            */
/* ------------------------------------------------------------------------ */

static JsonNode *qmp_query_name(JsonObject *args, GError **errp)
{
    JsonObject *o = json_object_new();
    const char *name = main_loop_get_name();

    if (name) {
        json_object_set_string_member(o, "name", name);
    }
    return qmp_node_from_object(o);
}

static JsonNode *qmp_query_version(JsonObject *args, GError **errp)
{
    JsonObject *greeting = monitor_greeting_new();
    JsonObject *qmp = json_object_get_object_member(greeting, "QMP");
    JsonNode *ret = json_node_copy(json_object_get_member(qmp, "version"));

    json_object_unref(greeting);
    return ret;
}

static JsonNode *qmp_query_commands(JsonObject *args, GError **errp)
{
    JsonArray *arr = json_array_new();
    guint n;
    const QmpCommand *cmds = qmp_command_table(&n);
    JsonObject *caps = json_object_new();

    json_object_set_string_member(caps, "name", "qmp_capabilities");
    json_array_add_object_element(arr, caps);
    for (guint i = 0; i < n; i++) {
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "name", cmds[i].name);
        json_array_add_object_element(arr, o);
    }
    return qmp_node_from_array(arr);
}

/* Reply first, then SHUTDOWN, then ask the main loop to stop. */
static void qmp_quit(JsonObject *args, MonitorRequest *req)
{
    monitor_request_return(req, NULL);
    monitor_emit_shutdown(shutdown_cause_str(SHUTDOWN_CAUSE_HOST_QMP_QUIT));
    main_loop_request_shutdown(SHUTDOWN_CAUSE_HOST_QMP_QUIT);
}

static void shutdown_notified(ShutdownCause cause, gpointer opaque)
{
    monitor_emit_shutdown(shutdown_cause_str(cause));
}

void qmp_commands_init(void)
{
    static gboolean done;

    if (done) {
        return;
    }
    done = TRUE;
    g_type_class_ref(DEVICE_TYPE); /* the signals exist once the class does */
    g_signal_add_emission_hook(g_signal_lookup("moved", DEVICE_TYPE), 0,
                               on_device_moved, NULL, NULL);
    g_signal_add_emission_hook(g_signal_lookup("deleted", DEVICE_TYPE), 0,
                               on_device_deleted, NULL, NULL);
    main_loop_add_shutdown_notifier(shutdown_notified, NULL);
}

/* ------------------------------------------------------------------------ */
/* The table                                                                 */
/* ------------------------------------------------------------------------ */

static const QmpArg qcontexts_args[] = {{"histogram", QMP_ARG_BOOL, TRUE}, {NULL}};
static const QmpArg path_arg[] = {{"path", QMP_ARG_STRING}, {NULL}};
static const QmpArg qom_get_args[] = {
    {"path", QMP_ARG_STRING}, {"property", QMP_ARG_STRING}, {NULL}};
static const QmpArg qom_set_args[] = {{"path", QMP_ARG_STRING},
                                      {"property", QMP_ARG_STRING},
                                      {"value", QMP_ARG_SCALAR},
                                      {NULL}};
static const QmpArg object_add_args[] = {{"qom-type", QMP_ARG_STRING},
                                         {"id", QMP_ARG_STRING},
                                         {"props", QMP_ARG_OBJECT, TRUE},
                                         {NULL}};
static const QmpArg id_arg[] = {{"id", QMP_ARG_STRING}, {NULL}};
static const QmpArg move_args[] = {{"id", QMP_ARG_STRING},
                                   {"context", QMP_ARG_STRING},
                                   {"queue", QMP_ARG_INT, TRUE},
                                   {NULL}};

static const QmpCommand commands[] = {
    {.name = "query-qcontexts", .args = qcontexts_args, .run = qmp_query_qcontexts},
    {.name = "query-devices", .run = qmp_query_devices},
    {.name = "qom-list", .args = path_arg, .run = qmp_qom_list},
    {.name = "qom-get", .args = qom_get_args, .run = qmp_qom_get},
    {.name = "qom-set", .args = qom_set_args, .run = qmp_qom_set},
    {.name = "object-add",
     .args = object_add_args,
     .extra_scalars = TRUE,
     .run = qmp_object_add},
    {.name = "object-del", .args = id_arg, .run = qmp_object_del},
    {.name = "device-set-context",
     .args = move_args,
     .run_async = qmp_device_set_context},
    {.name = "query-name", .run = qmp_query_name},
    {.name = "query-version", .run = qmp_query_version},
    {.name = "query-commands", .run = qmp_query_commands},
    {.name = "quit", .run_async = qmp_quit},
};

const QmpCommand *qmp_command_table(guint *n)
{
    *n = G_N_ELEMENTS(commands);
    return commands;
}

const QmpCommand *qmp_command_find(const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (!strcmp(commands[i].name, name)) {
            return &commands[i];
        }
    }
    return NULL;
}

/*
 * main-loop/monitor/qmp-device.c - device commands and events:
 * query-devices, device_add, device_del, device-set-context, DEVICE_MOVED
 * and DEVICE_DELETED.
 *
 * The events come from the devices' "moved" and "deleted" signals (one
 * emission hook each, for every device).  The device layer calls an
 * operation's done callback before it emits the signal, so a client that
 * asked for a move gets its reply before the DEVICE_MOVED event.
 *
 * SPDX-License-Identifier: MIT
 */
#include "families.h"
#include "monitor-core.h"
#include "qcontext/devices/device.h"
#include "qcontext/main-loop/main-loop.h"
#include "qcontext/qcontext.h"

/* ------------------------------------------------------------------------ */
/* query-devices                                                             */
/* ------------------------------------------------------------------------ */

static JsonObject *requests_info(const DeviceStats *st)
{
    JsonObject *req = json_object_new();

    json_object_set_int_member(req, "started", st->started);
    json_object_set_int_member(req, "completed", st->completed);
    json_object_set_int_member(req, "failed", st->failed);
    json_object_set_int_member(req, "in-flight", st->in_flight);
    return req;
}

static JsonObject *queue_info(DeviceQueue *q)
{
    JsonObject *o = json_object_new();
    QContext *ctx = device_queue_get_context(q);
    DeviceStats st;

    device_queue_get_stats(q, &st);
    json_object_set_int_member(o, "index", device_queue_get_index(q));
    json_object_set_string_member(o, "context", qcontext_get_name(ctx));
    json_object_set_string_member(o, "state",
                                  device_queue_state_str(device_queue_get_state(q)));
    json_object_set_object_member(o, "requests", requests_info(&st));
    json_object_set_int_member(o, "moves", st.moves);
    g_object_unref(ctx);
    return o;
}

static JsonObject *device_info(Device *dev)
{
    JsonObject *o = json_object_new();
    JsonArray *queues = json_array_new();
    QContext *ctx = device_get_context(dev);
    DeviceStats st;

    device_get_stats(dev, &st);
    json_object_set_string_member(o, "id", device_get_id(dev));
    json_object_set_string_member(o, "type", qom_object_get_type_name(QOM_OBJECT(dev)));
    qmp_obj_set_str(o, "context", ctx ? qcontext_get_name(ctx) : NULL);
    json_object_set_string_member(o, "state", device_state_str(device_get_state(dev)));
    json_object_set_object_member(o, "requests", requests_info(&st));
    json_object_set_int_member(o, "moves", st.moves);
    for (guint i = 0; i < device_get_num_queues(dev); i++) {
        json_array_add_object_element(queues,
                                      queue_info(device_get_queue(dev, (int)i)));
    }
    json_object_set_array_member(o, "queues", queues);
    return o;
}

static JsonNode *qmp_query_devices(JsonObject *args, GError **errp)
{
    JsonArray *arr = json_array_new();
    GList *objs = qom_container_list(QOM_CONTAINER_DEVICES);

    for (GList *l = objs; l; l = l->next) {
        if (IS_DEVICE(l->data) && device_get_num_queues(l->data)) {
            json_array_add_object_element(arr, device_info(DEVICE(l->data)));
        }
    }
    g_list_free_full(objs, g_object_unref);
    return qmp_node_from_array(arr);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

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
    JsonObject *data = device_event_data(g_value_get_object(&values[0]));
    int queue = g_value_get_int(&values[1]);
    QContext *from = g_value_get_object(&values[2]);
    QContext *to = g_value_get_object(&values[3]);

    if (queue >= 0) {
        json_object_set_int_member(data, "queue", queue);
    }
    qmp_obj_set_str(data, "old-context", from ? qcontext_get_name(from) : NULL);
    qmp_obj_set_str(data, "context", to ? qcontext_get_name(to) : NULL);
    monitor_emit_event("DEVICE_MOVED", data);
    return TRUE; /* stay installed */
}

static gboolean on_device_deleted(GSignalInvocationHint *hint, guint n,
                                  const GValue *values, gpointer opaque)
{
    monitor_emit_event("DEVICE_DELETED",
                       device_event_data(g_value_get_object(&values[0])));
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */
/* ------------------------------------------------------------------------ */

/* A request waiting for a device operation. */
typedef struct {
    MonitorRequest *req;
    Device *dev;
} DeviceRequest;

static DeviceRequest *device_request_new(MonitorRequest *req, Device *dev)
{
    DeviceRequest *dr = g_new0(DeviceRequest, 1);

    dr->req = req;
    dr->dev = g_object_ref(dev);
    return dr;
}

static void device_request_done(Device *dev, const GError *err, gpointer opaque)
{
    DeviceRequest *dr = opaque;

    if (err) {
        monitor_request_error(dr->req, g_error_copy(err));
    } else {
        monitor_request_return(dr->req, NULL);
    }
    g_object_unref(dr->dev);
    g_free(dr);
}

/* The device named by a bare id or "/devices/ID" (a new reference). */
static Device *device_lookup(const char *id, GError **errp)
{
    const char *bare =
        g_str_has_prefix(id, "/devices/") ? id + strlen("/devices/") : id;
    QomObject *obj = qom_container_find(QOM_CONTAINER_DEVICES, bare);

    if (!obj || !IS_DEVICE(obj)) {
        g_set_error(errp, MONITOR_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id);
        g_clear_object(&obj);
        return NULL;
    }
    return DEVICE(obj);
}

static void qmp_device_set_context(JsonObject *args, MonitorRequest *req)
{
    const char *name = json_object_get_string_member(args, "context");
    gboolean one = json_object_has_member(args, "queue");
    gint64 queue = one ? json_object_get_int_member(args, "queue") : 0;
    GError *err = NULL;
    g_autoptr(Device) dev =
        device_lookup(json_object_get_string_member(args, "id"), &err);
    QContext *ctx = qcontext_find_by_name(name);
    DeviceRequest *dr;
    gboolean ok;

    if (!dev) {
        monitor_request_error(req, err);
        return;
    }
    if (!ctx) {
        monitor_request_error(
            req, g_error_new(MONITOR_ERROR, 0, "Context '%s' not found", name));
        return;
    }
    if (one && (queue < 0 || queue > G_MAXINT)) {
        monitor_request_error(
            req,
            g_error_new(MONITOR_ERROR, 0, "Parameter 'queue' expects a queue index"));
        return;
    }
    dr = device_request_new(req, dev);
    ok = !one ? device_set_context(dev, ctx, device_request_done, dr, &err)
              : device_queue_set_context(dev, (int)queue, ctx, device_request_done, dr,
                                         &err);
    if (!ok) {
        g_object_unref(dr->dev);
        g_free(dr);
        monitor_request_error(req, err);
    }
}

static void opt_clear(gpointer data)
{
    QomOpt *opt = data;

    g_free(opt->key);
    g_free(opt->value);
}

/*
 * device_add's properties (everything but driver) as object-layer options,
 * each checked strictly against its property's type.
 */
static GArray *device_add_opts(GType type, JsonObject *args, GError **errp)
{
    static const char *const skip[] = {"driver", NULL};
    GArray *opts = g_array_new(FALSE, FALSE, sizeof(QomOpt));

    g_array_set_clear_func(opts, opt_clear);
    if (!qmp_props_to_opts(type, args, skip, opts, errp)) {
        g_array_unref(opts);
        return NULL;
    }
    return opts;
}

/* Create, then answer once the realize operation attached every queue. */
static void qmp_device_add(JsonObject *args, MonitorRequest *req)
{
    const char *driver = json_object_get_string_member(args, "driver");
    GType type = qom_type_lookup(driver);
    GError *err = NULL;
    GArray *opts;
    QomObject *obj = NULL;
    DeviceRequest *dr;

    if (type == G_TYPE_INVALID || !g_type_is_a(type, DEVICE_TYPE) ||
        G_TYPE_IS_ABSTRACT(type)) {
        monitor_request_error(req, g_error_new(MONITOR_ERROR, 0,
                                               "'%s' is not a valid device model name",
                                               driver));
        return;
    }
    opts = device_add_opts(type, args, &err);
    if (opts) {
        obj = qom_object_new_from_opts(QOM_CONTAINER_DEVICES, DEVICE_TYPE, driver, opts,
                                       &err);
        g_array_unref(opts);
    }
    if (!obj) {
        monitor_request_error(req, err);
        return;
    }
    dr = device_request_new(req, DEVICE(obj));
    if (!device_sync(DEVICE(obj), device_request_done, dr, &err)) {
        device_request_done(DEVICE(obj), err, dr);
        g_error_free(err);
    }
}

/* Start the deletion and answer at once; DEVICE_DELETED follows. */
static JsonNode *qmp_device_del(JsonObject *args, GError **errp)
{
    const char *id = json_object_get_string_member(args, "id");
    g_autoptr(Device) dev = device_lookup(id, errp);

    if (!dev) {
        return NULL;
    }
    if (device_is_deleting(dev)) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "Device %s is already in the process of unplug", id);
        return NULL;
    }
    if (!device_del(dev, main_loop_get_shutdown_timeout(), NULL, NULL, errp)) {
        return NULL;
    }
    return qmp_node_from_object(json_object_new());
}

/* ------------------------------------------------------------------------ */
/* The family                                                                */
/* ------------------------------------------------------------------------ */

static const QmpArg move_args[] = {
    {"id", QMP_ARG_STRING, FALSE, "the device's id"},
    {"context", QMP_ARG_STRING, FALSE, "the id of the context to move it to"},
    {"queue", QMP_ARG_INT, TRUE, "move only this queue (default: the whole device)"},
    {NULL},
};

static const QmpArg device_add_args[] = {
    {"driver", QMP_ARG_STRING, FALSE, "the device type (-device help lists them)"},
    {"id", QMP_ARG_STRING, FALSE, "the new device's id"},
    {NULL},
};

static const QmpArg device_del_args[] = {
    {"id", QMP_ARG_STRING, FALSE, "the device's id or path (/devices/ID)"},
    {NULL},
};

static const QmpCommand device_commands[] = {
    {.name = "query-devices",
     .help = "every device: type, contexts, state, queues and request counts",
     .run = qmp_query_devices},
    {.name = "device_add",
     .help = "create and plug a device; its properties as further arguments "
             "(replies once it runs)",
     .args = device_add_args,
     .props_tag = "driver",
     .props_base = device_get_type,
     .run_async = qmp_device_add},
    {.name = "device_del",
     .help = "unplug a device: it drains (at most -shutdown-timeout) and goes; "
             "replies at once, DEVICE_DELETED once it is gone",
     .args = device_del_args,
     .run = qmp_device_del},
    {.name = "device-set-context",
     .help = "move a device, or one of its queues, to another context "
             "(replies when the move is done)",
     .args = move_args,
     .run_async = qmp_device_set_context},
};

static const QmpArg moved_data[] = {
    {"device", QMP_ARG_STRING, FALSE, "the device's id"},
    {"path", QMP_ARG_STRING, FALSE, "its QOM path, /devices/ID"},
    {"queue", QMP_ARG_INT, TRUE, "the queue that moved (absent: the whole device)"},
    {"old-context", QMP_ARG_STRING, FALSE, "the context it left"},
    {"context", QMP_ARG_STRING, FALSE, "the context it runs on now"},
    {NULL},
};

static const QmpArg deleted_data[] = {
    {"device", QMP_ARG_STRING, FALSE, "the device's id"},
    {"path", QMP_ARG_STRING, FALSE, "its QOM path, /devices/ID"},
    {NULL},
};

static const QmpEvent device_events[] = {
    {"DEVICE_MOVED", "a device or one of its queues finished moving to another context",
     moved_data},
    {"DEVICE_DELETED", "a device is gone", deleted_data},
};

void qmp_device_register(void)
{
    g_type_class_ref(DEVICE_TYPE); /* its signals exist once the class does */
    g_signal_add_emission_hook(g_signal_lookup("moved", DEVICE_TYPE), 0,
                               on_device_moved, NULL, NULL);
    g_signal_add_emission_hook(g_signal_lookup("deleted", DEVICE_TYPE), 0,
                               on_device_deleted, NULL, NULL);
    monitor_register_commands(device_commands, G_N_ELEMENTS(device_commands));
    monitor_register_events(device_events, G_N_ELEMENTS(device_events));
}

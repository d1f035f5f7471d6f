/*
 * main-loop/monitor/qmp-device.c - device commands and events:
 * query-devices, device-set-context, DEVICE_MOVED and DEVICE_DELETED.
 *
 * SPDX-License-Identifier: MIT
 */
#include "families.h"
#include "monitor-core.h"
#include "qcontext/devices/device.h"
#include "qcontext/qcontext.h"

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
 * The device layer reports a finished move to the event hook just before
 * it calls the operation's done callback.  For moves the monitor started,
 * the event is held back until the reply is sent, so that the client sees
 * the reply first and then DEVICE_MOVED.  Moves of one device complete in
 * request order, so the hook belongs to the oldest pending move.
 */
typedef struct {
    MonitorRequest *req;
    Device *dev;
    JsonObject *event; /* held-back DEVICE_MOVED data, or NULL */
} MoveOp;

static GHashTable *pending_moves; /* Device* -> GQueue of MoveOp* */

/* The data of a device event: {"device": ID, "path": "/devices/ID"}. */
static JsonObject *device_event_data(Device *dev)
{
    JsonObject *data = json_object_new();
    g_autofree char *path = g_strdup_printf("/devices/%s", device_get_id(dev));

    json_object_set_string_member(data, "device", device_get_id(dev));
    json_object_set_string_member(data, "path", path);
    return data;
}

static void device_event(Device *dev, DeviceEvent event, QContext *from, QContext *to,
                         gpointer opaque)
{
    GQueue *q = pending_moves ? g_hash_table_lookup(pending_moves, dev) : NULL;
    MoveOp *op = q ? g_queue_peek_head(q) : NULL;
    JsonObject *data = device_event_data(dev);

    if (event == DEVICE_EVENT_DELETED) {
        monitor_emit_event("DEVICE_DELETED", data);
        return;
    }
    qmp_obj_set_str(data, "old-context", from ? qcontext_get_name(from) : NULL);
    qmp_obj_set_str(data, "context", to ? qcontext_get_name(to) : NULL);
    if (op && !op->event) {
        op->event = data;
    } else {
        monitor_emit_event("DEVICE_MOVED", data);
    }
}

/* Take @op off its device's queue of pending moves. */
static void move_op_dequeue(MoveOp *op)
{
    GQueue *q = g_hash_table_lookup(pending_moves, op->dev);

    g_queue_remove(q, op);
    if (g_queue_is_empty(q)) {
        g_hash_table_remove(pending_moves, op->dev);
    }
}

static void move_done(Device *dev, const GError *err, gpointer opaque)
{
    MoveOp *op = opaque;

    move_op_dequeue(op);
    if (err) {
        monitor_request_error(op->req, g_error_copy(err));
    } else {
        monitor_request_return(op->req, NULL);
    }
    if (op->event) {
        monitor_emit_event("DEVICE_MOVED", op->event); /* after the reply */
    }
    g_object_unref(op->dev);
    g_free(op);
}

static Device *device_lookup(const char *id, GError **errp)
{
    QomObject *obj = qom_container_find(QOM_CONTAINER_DEVICES, id);

    if (!obj || !IS_DEVICE(obj)) {
        g_set_error(errp, MONITOR_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id);
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
    GQueue *q;
    Device *dev = device_lookup(id, &err);

    if (!dev) {
        monitor_request_error(req, err);
        return;
    }
    ctx = qcontext_find_by_name(name);
    if (!ctx) {
        g_object_unref(dev);
        err = g_error_new(MONITOR_ERROR, 0, "Context '%s' not found", name);
        monitor_request_error(req, err);
        return;
    }
    op = g_new0(MoveOp, 1);
    op->req = req;
    op->dev = dev;
    q = g_hash_table_lookup(pending_moves, dev);
    if (!q) {
        q = g_queue_new();
        g_hash_table_insert(pending_moves, dev, q);
    }
    g_queue_push_tail(q, op);
    if (!device_set_context(dev, ctx, move_done, op, &err)) {
        move_op_dequeue(op);
        monitor_request_error(req, err);
        g_object_unref(dev);
        g_free(op);
    }
}

static const QmpArg move_args[] = {
    {"id", QMP_ARG_STRING, FALSE, "the device's id"},
    {"context", QMP_ARG_STRING, FALSE, "the id of the context to move it to"},
    {NULL},
};

static const QmpCommand device_commands[] = {
    {.name = "query-devices",
     .help = "every device: type, context, state and request counts",
     .run = qmp_query_devices},
    {.name = "device-set-context",
     .help = "move a device to another context (replies when the move is done)",
     .args = move_args,
     .run_async = qmp_device_set_context},
};

static const QmpArg moved_data[] = {
    {"device", QMP_ARG_STRING, FALSE, "the device's id"},
    {"path", QMP_ARG_STRING, FALSE, "its QOM path, /devices/ID"},
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
    {"DEVICE_MOVED", "a device finished moving to another context", moved_data},
    {"DEVICE_DELETED", "a device is gone", deleted_data},
};

void qmp_device_register(void)
{
    pending_moves =
        g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_queue_free);
    device_set_event_hook(device_event, NULL);
    monitor_register_commands(device_commands, G_N_ELEMENTS(device_commands));
    monitor_register_events(device_events, G_N_ELEMENTS(device_events));
}

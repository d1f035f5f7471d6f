/*
 * main-loop/monitor/dispatch.c - parse, check and run one QMP message.
 *
 * The error texts follow QEMU's QMP so that existing clients and habits
 * carry over ("Expecting capabilities negotiation with 'qmp_capabilities'",
 * "The command foo has not been found", "Parameter 'x' is missing", ...).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "monitor-priv.h"
#include "qcontext-config.h"

struct MonitorRequest {
    MonitorClient *client;
    JsonNode *id; /* or NULL */
};

const char *qmp_error_class_name(QmpErrorClass cls)
{
    switch (cls) {
    case QMP_ERROR_COMMAND_NOT_FOUND:
        return "CommandNotFound";
    case QMP_ERROR_DEVICE_NOT_FOUND:
        return "DeviceNotFound";
    default:
        return "GenericError";
    }
}

static JsonObject *version_triple(void)
{
    JsonObject *triple = json_object_new();
    unsigned major = 0, minor = 0, micro = 0;

    sscanf(QCONTEXT_VERSION, "%u.%u.%u", &major, &minor, &micro);
    json_object_set_int_member(triple, "major", major);
    json_object_set_int_member(triple, "minor", minor);
    json_object_set_int_member(triple, "micro", micro);
    return triple;
}

/*
 * QEMU's VersionInfo has "qemu" (the server's version) and "package"; its
 * tools read "qemu" (qmp-shell's banner), so it is there, with our own
 * version, beside our "qcontext" member.
 */
JsonObject *monitor_version_new(void)
{
    JsonObject *version = json_object_new();

    json_object_set_object_member(version, "qemu", version_triple());
    json_object_set_object_member(version, "qcontext", version_triple());
    json_object_set_string_member(version, "package", "");
    return version;
}

JsonObject *monitor_greeting_new(void)
{
    JsonObject *greeting = json_object_new();
    JsonObject *qmp = json_object_new();

    json_object_set_object_member(qmp, "version", monitor_version_new());
    json_object_set_array_member(qmp, "capabilities", json_array_new());
    json_object_set_object_member(greeting, "QMP", qmp);
    return greeting;
}

static void reply_send(MonitorClient *c, JsonNode *id, const char *key, JsonNode *val)
{
    JsonObject *reply = json_object_new();

    json_object_set_member(reply, key, val);
    if (id) {
        json_object_set_member(reply, "id", json_node_copy(id));
    }
    monitor_client_send(c, reply);
    json_object_unref(reply);
}

static void reply_return(MonitorClient *c, JsonNode *id, JsonNode *ret)
{
    if (!ret) {
        ret = qmp_node_from_object(json_object_new());
    }
    reply_send(c, id, "return", ret);
}

static void reply_error(MonitorClient *c, JsonNode *id, QmpErrorClass cls,
                        const char *desc)
{
    JsonObject *err = json_object_new();

    json_object_set_string_member(err, "class", qmp_error_class_name(cls));
    json_object_set_string_member(err, "desc", desc);
    reply_send(c, id, "error", qmp_node_from_object(err));
}

/* @req was answered: let its client go on, and free @req. */
static void request_finish(MonitorRequest *req)
{
    monitor_client_set_busy(req->client, FALSE);
    monitor_client_unref(req->client);
    if (req->id) {
        json_node_unref(req->id);
    }
    g_free(req);
}

QmpErrorClass qmp_error_class_of(const GError *err)
{
    if (err->domain == MONITOR_ERROR && err->code == QMP_ERROR_DEVICE_NOT_FOUND) {
        return QMP_ERROR_DEVICE_NOT_FOUND;
    }
    return QMP_ERROR_GENERIC;
}

void monitor_request_return(MonitorRequest *req, JsonNode *ret)
{
    reply_return(req->client, req->id, ret);
    request_finish(req);
}

void monitor_request_error(MonitorRequest *req, GError *err)
{
    reply_error(req->client, req->id, qmp_error_class_of(err), err->message);
    g_error_free(err);
    request_finish(req);
}

/* ------------------------------------------------------------------------ */
/* Argument checking                                                         */
/* ------------------------------------------------------------------------ */

static const char *arg_type_name(QmpArgType type)
{
    static const char *const names[] = {
        [QMP_ARG_STRING] = "string", [QMP_ARG_INT] = "integer",
        [QMP_ARG_BOOL] = "boolean",  [QMP_ARG_NUMBER] = "number",
        [QMP_ARG_SCALAR] = "scalar", [QMP_ARG_STR_LIST] = "array of strings",
        [QMP_ARG_ARRAY] = "array",   [QMP_ARG_OBJECT] = "object",
    };
    return names[type];
}

static gboolean arg_type_ok(JsonNode *node, QmpArgType type)
{
    GType vt =
        JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_NONE;

    switch (type) {
    case QMP_ARG_STRING:
        return vt == G_TYPE_STRING;
    case QMP_ARG_INT:
        return vt == G_TYPE_INT64;
    case QMP_ARG_BOOL:
        return vt == G_TYPE_BOOLEAN;
    case QMP_ARG_NUMBER:
        return vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE;
    case QMP_ARG_SCALAR:
        return vt == G_TYPE_STRING || vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE ||
               vt == G_TYPE_BOOLEAN;
    case QMP_ARG_STR_LIST:
        if (!JSON_NODE_HOLDS_ARRAY(node)) {
            return FALSE;
        }
        for (guint i = 0; i < json_array_get_length(json_node_get_array(node)); i++) {
            if (!arg_type_ok(json_array_get_element(json_node_get_array(node), i),
                             QMP_ARG_STRING)) {
                return FALSE;
            }
        }
        return TRUE;
    case QMP_ARG_ARRAY:
        return JSON_NODE_HOLDS_ARRAY(node);
    case QMP_ARG_OBJECT:
        return JSON_NODE_HOLDS_OBJECT(node);
    }
    return FALSE;
}

static const QmpArg *arg_find(const QmpCommand *cmd, const char *name)
{
    for (const QmpArg *a = cmd->args; a && a->name; a++) {
        if (!strcmp(a->name, name)) {
            return a;
        }
    }
    return NULL;
}

static gboolean args_check(const QmpCommand *cmd, JsonObject *args, GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(args);

    for (GList *l = members; l; l = l->next) {
        const char *name = l->data;
        const QmpArg *a = arg_find(cmd, name);
        JsonNode *node = json_object_get_member(args, name);
        QmpArgType type = a ? a->type : QMP_ARG_SCALAR;

        if (!a && !cmd->props_tag) {
            g_set_error(errp, MONITOR_ERROR, 0, "Parameter '%s' is unexpected", name);
            return FALSE;
        }
        if (!arg_type_ok(node, type)) {
            g_set_error(errp, MONITOR_ERROR, 0,
                        "Invalid parameter type for '%s', expected: %s", name,
                        arg_type_name(type));
            return FALSE;
        }
    }
    for (const QmpArg *a = cmd->args; a && a->name; a++) {
        if (!a->optional && !json_object_has_member(args, a->name)) {
            g_set_error(errp, MONITOR_ERROR, 0, "Parameter '%s' is missing", a->name);
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The envelope: {"execute": ..., "arguments": ..., "id": ...}               */
/* ------------------------------------------------------------------------ */

static gboolean envelope_check(JsonObject *msg, const char **name, JsonObject **args,
                               GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(msg);
    JsonNode *exec = json_object_get_member(msg, "execute");
    JsonNode *a = json_object_get_member(msg, "arguments");

    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
            g_set_error(errp, MONITOR_ERROR, 0, "QMP input member '%s' is unexpected",
                        key);
            return FALSE;
        }
    }
    if (!exec) {
        g_set_error(errp, MONITOR_ERROR, 0, "QMP input lacks member 'execute'");
        return FALSE;
    }
    if (!arg_type_ok(exec, QMP_ARG_STRING)) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "QMP input member 'execute' must be a string");
        return FALSE;
    }
    if (a && !JSON_NODE_HOLDS_OBJECT(a)) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "QMP input member 'arguments' must be an object");
        return FALSE;
    }
    *name = json_node_get_string(exec);
    *args = a ? json_node_get_object(a) : NULL;
    return TRUE;
}

static const QmpArg caps_args[] = {
    {"enable", QMP_ARG_STR_LIST, TRUE, "capabilities to enable (none is supported)"},
    {NULL},
};

static void negotiate(MonitorClient *c, JsonNode *id, JsonObject *args)
{
    const QmpCommand caps = {.name = "qmp_capabilities", .args = caps_args};
    JsonArray *enable;
    GError *err = NULL;

    if (!args_check(&caps, args, &err)) {
        reply_error(c, id, QMP_ERROR_GENERIC, err->message);
        g_error_free(err);
        return;
    }
    enable = json_object_has_member(args, "enable")
                 ? json_object_get_array_member(args, "enable")
                 : NULL;
    if (enable && json_array_get_length(enable) > 0) {
        JsonNode *first = json_array_get_element(enable, 0);
        g_autofree char *what = json_to_string(first, FALSE);
        g_autofree char *desc =
            g_strdup_printf("Capability %s is not supported by this server", what);
        reply_error(c, id, QMP_ERROR_GENERIC, desc);
        return;
    }
    monitor_client_set_negotiated(c);
    reply_return(c, id, NULL);
}

static void run_command(MonitorClient *c, JsonNode *id, const char *name,
                        JsonObject *args)
{
    const QmpCommand *cmd = qmp_command_find(name);
    GError *err = NULL;
    JsonNode *ret;

    if (!cmd) {
        g_autofree char *desc =
            g_strdup_printf("The command %s has not been found", name);
        reply_error(c, id, QMP_ERROR_COMMAND_NOT_FOUND, desc);
        return;
    }
    if (!args_check(cmd, args, &err)) {
        reply_error(c, id, QMP_ERROR_GENERIC, err->message);
        g_error_free(err);
        return;
    }
    if (cmd->run_async) {
        MonitorRequest *req = g_new0(MonitorRequest, 1);
        req->client = monitor_client_ref(c);
        req->id = id ? json_node_copy(id) : NULL;
        monitor_client_set_busy(c, TRUE);
        cmd->run_async(args, req);
        return;
    }
    ret = cmd->run(args, &err);
    if (err) {
        reply_error(c, id, qmp_error_class_of(err), err->message);
        g_error_free(err);
        if (ret) {
            json_node_unref(ret);
        }
        return;
    }
    reply_return(c, id, ret);
}

static void dispatch_object(MonitorClient *c, JsonObject *msg)
{
    JsonNode *id = json_object_get_member(msg, "id");
    g_autoptr(JsonObject) no_args = json_object_new();
    const char *name;
    JsonObject *args;
    GError *err = NULL;

    if (!envelope_check(msg, &name, &args, &err)) {
        reply_error(c, id, QMP_ERROR_GENERIC, err->message);
        g_error_free(err);
        return;
    }
    if (!args) {
        args = no_args;
    }
    if (!monitor_client_is_negotiated(c)) {
        if (strcmp(name, "qmp_capabilities")) {
            reply_error(c, id, QMP_ERROR_COMMAND_NOT_FOUND,
                        "Expecting capabilities negotiation with 'qmp_capabilities'");
            return;
        }
        negotiate(c, id, args);
        return;
    }
    if (!strcmp(name, "qmp_capabilities")) {
        reply_error(c, id, QMP_ERROR_COMMAND_NOT_FOUND,
                    "Capabilities negotiation is already complete, command ignored");
        return;
    }
    run_command(c, id, name, args);
}

void monitor_dispatch(MonitorClient *c, const char *msg, gsize len, const char *error)
{
    g_autoptr(JsonNode) root = NULL;
    GError *err = NULL;

    if (error) {
        reply_error(c, NULL, QMP_ERROR_GENERIC, error);
        return;
    }
    root = monitor_json_read(msg, len, &err);
    if (!root) {
        reply_error(c, NULL, QMP_ERROR_GENERIC, err->message);
        g_error_free(err);
        return;
    }
    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        reply_error(c, NULL, QMP_ERROR_GENERIC, "QMP input must be a JSON object");
        return;
    }
    dispatch_object(c, json_node_get_object(root));
}

/*
 * main-loop/monitor-internal.h - between the monitor core and its commands.
 *
 * monitor.c owns clients, framing and dispatch; the command files
 * (qmp-commands.c, qmp-qom.c) describe each command with a QmpCommand:
 * its arguments (checked by the core before the handler runs) and a
 * synchronous or asynchronous handler.  All of it runs on the main thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_MONITOR_INTERNAL_H
#define MAIN_LOOP_MONITOR_INTERNAL_H

#include "qcontext/main-loop/monitor.h"
#include "qcontext/qom/object.h"

/** QMP error classes the monitor replies with. */
typedef enum {
    QMP_ERROR_GENERIC,           /**< "GenericError" */
    QMP_ERROR_COMMAND_NOT_FOUND, /**< "CommandNotFound" */
} QmpErrorClass;

/** The JSON type an argument must have. */
typedef enum {
    QMP_ARG_STRING,
    QMP_ARG_INT,
    QMP_ARG_BOOL,
    QMP_ARG_NUMBER, /* int or double */
    QMP_ARG_SCALAR, /* string, int, double or bool */
    QMP_ARG_ARRAY,
    QMP_ARG_OBJECT,
} QmpArgType;

/** One argument of a command. */
typedef struct {
    const char *name;
    QmpArgType type;
    gboolean optional;
} QmpArg;

/** A request in flight, answered later by an asynchronous command. */
typedef struct MonitorRequest MonitorRequest;

/** A command of the monitor. */
typedef struct {
    const char *name;
    const QmpArg *args;     /* terminated by an entry with name NULL; may be NULL */
    gboolean extra_scalars; /* accept unknown arguments if they are scalars */
    /* Exactly one of: */
    JsonNode *(*run)(JsonObject *args, GError **errp); /* reply (transfer full) */
    void (*run_async)(JsonObject *args, MonitorRequest *req);
} QmpCommand;

/** qmp_command_find: the command named @name, or NULL. */
const QmpCommand *qmp_command_find(const char *name);

/** qmp_command_table: all commands; *@n receives their number. */
const QmpCommand *qmp_command_table(guint *n);

/** qmp_error_class_name: "GenericError", "CommandNotFound". */
const char *qmp_error_class_name(QmpErrorClass cls);

/**
 * monitor_request_return: answer @req with @ret (transfer full; NULL means
 * {}), and free @req.  Main thread only.  If the client has gone, the reply
 * is dropped.
 */
void monitor_request_return(MonitorRequest *req, JsonNode *ret);

/**
 * monitor_request_error: answer @req with @err's message (@err is freed)
 * in class @cls, and free @req.  Main thread only.
 */
void monitor_request_error(MonitorRequest *req, QmpErrorClass cls, GError *err);

/** monitor_timestamp_new: the current wall-clock time as a QMP timestamp. */
JsonObject *monitor_timestamp_new(void);

/* ------------------------------------------------------------------------ */
/* Clients (monitor.c) and message dispatch (monitor-dispatch.c)            */
/* ------------------------------------------------------------------------ */

/** One connection: a socket client or stdin/stdout. */
typedef struct MonitorClient MonitorClient;

/** monitor_client_ref / monitor_client_unref: keep @c alive. */
MonitorClient *monitor_client_ref(MonitorClient *c);
void monitor_client_unref(MonitorClient *c);

/** monitor_client_send: queue @msg (borrowed) as one line to @c. */
void monitor_client_send(MonitorClient *c, JsonObject *msg);

/** monitor_client_is_negotiated: TRUE after qmp_capabilities. */
gboolean monitor_client_is_negotiated(MonitorClient *c);

/** monitor_client_set_negotiated: @c completed capabilities negotiation. */
void monitor_client_set_negotiated(MonitorClient *c);

/**
 * monitor_client_set_busy: while busy (an asynchronous command runs) @c
 * handles no further message; clearing it resumes them from an idle
 * callback.
 */
void monitor_client_set_busy(MonitorClient *c, gboolean busy);

/**
 * monitor_dispatch: handle one framed message @msg of @c, or the framing
 * error @error (then @msg is NULL): parse, check, run, reply.
 */
void monitor_dispatch(MonitorClient *c, const char *msg, gsize len, const char *error);

/** monitor_greeting_new: the greeting object sent to each new client. */
JsonObject *monitor_greeting_new(void);

/* Helpers for building replies (qmp-util in monitor.c). */

/** qmp_obj_set_str: set @key of @obj to string @val (NULL -> JSON null). */
void qmp_obj_set_str(JsonObject *obj, const char *key, const char *val);

/** qmp_node_from_object: wrap @obj (transfer full) in a JsonNode. */
JsonNode *qmp_node_from_object(JsonObject *obj);

/** qmp_node_from_array: wrap @arr (transfer full) in a JsonNode. */
JsonNode *qmp_node_from_array(JsonArray *arr);

/**
 * qmp_scalar_to_string: the string form of a scalar JSON value for the
 * object layer's parsers (strings as is, ints in decimal, booleans as
 * "on"/"off", doubles in C locale).  NULL with @errp set for null, objects
 * and arrays; @what names the value in the message.
 */
char *qmp_scalar_to_string(JsonNode *node, const char *what, GError **errp);

/**
 * qmp_property_to_json: the value of property @name of @obj as JSON
 * (numbers, booleans, strings; links and enums in their string form; the
 * pseudo-property "type" is the type name).  NULL with @errp set if @obj
 * has no such readable property.  In qmp-qom.c.
 */
JsonNode *qmp_property_to_json(QomObject *obj, const char *name, GError **errp);

/**
 * qmp_commands_init: install the device event hook (DEVICE_MOVED,
 * DEVICE_DELETED) and the main loop's shutdown notifier (SHUTDOWN).
 * Idempotent; called by monitor_add().
 */
void qmp_commands_init(void);

/* Commands that live in qmp-qom.c (the object tree). */
JsonNode *qmp_qom_list(JsonObject *args, GError **errp);
JsonNode *qmp_qom_get(JsonObject *args, GError **errp);
JsonNode *qmp_qom_set(JsonObject *args, GError **errp);
JsonNode *qmp_object_add(JsonObject *args, GError **errp);
JsonNode *qmp_object_del(JsonObject *args, GError **errp);

#endif /* MAIN_LOOP_MONITOR_INTERNAL_H */

/*
 * main-loop/monitor/monitor-core.h - what a family of commands sees of the
 * monitor core.
 *
 * The core (monitor.c, client.c, dispatch.c, events.c, registry.c,
 * json.c, stream.c) owns endpoints, clients, framing, dispatch and events.
 * Each family of commands is one file (qmp-*.c) with a table of QmpCommand
 * that it hands to monitor_register_commands() from its register function
 * (declared in families.h, called once by monitor.c).  The core never
 * includes a family: dispatch finds commands in the registry.  The core
 * checks a command's arguments against its QmpArg list before the handler
 * runs.  All of it runs on the main thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_MONITOR_CORE_H
#define MAIN_LOOP_MONITOR_CORE_H

#include "qcontext/main-loop/monitor.h"
#include "qcontext/qom/object.h"

/** QMP error classes the monitor replies with (QEMU's names). */
typedef enum {
    QMP_ERROR_GENERIC,           /**< "GenericError" */
    QMP_ERROR_COMMAND_NOT_FOUND, /**< "CommandNotFound" */
    QMP_ERROR_DEVICE_NOT_FOUND,  /**< "DeviceNotFound": no object/device at a
                                      path or id, as QEMU's qom-get, device_del */
} QmpErrorClass;

/**
 * The JSON type an argument must have; the core refuses any other before
 * the handler runs.  In query-qmp-schema each appears as the QEMU type in
 * quotes.
 */
typedef enum {
    QMP_ARG_STRING,   /* "str" */
    QMP_ARG_INT,      /* "int": a JSON integer */
    QMP_ARG_BOOL,     /* "bool": true or false (never "yes", "on"...) */
    QMP_ARG_NUMBER,   /* "number": an integer or a double */
    QMP_ARG_SCALAR,   /* "any": a string, number or boolean; the handler
                         checks it against what it sets (qom-set's value) */
    QMP_ARG_STR_LIST, /* "[str]": an array of strings */
    QMP_ARG_ARRAY,    /* "[any]": any array */
    QMP_ARG_OBJECT,   /* "any": any object */
} QmpArgType;

/** One argument of a command, or one member of an event's data. */
typedef struct {
    const char *name;
    QmpArgType type;
    gboolean optional;
    const char *help; /* one line, for `qcontext-ctl help CMD` and the schema */
} QmpArg;

/** A request in flight, answered later by an asynchronous command. */
typedef struct MonitorRequest MonitorRequest;

/**
 * A command of the monitor.  Tables use designated initializers, so fields
 * added later default to zero.
 */
typedef struct {
    const char *name;
    const char *help;       /* one line: what the command does */
    const QmpArg *args;     /* terminated by an entry with name NULL; may be NULL */
    gboolean extra_scalars; /* also take other arguments if they are scalars (the
                               properties of object-add, device_add...) */
    /* Exactly one of: */
    JsonNode *(*run)(JsonObject *args, GError **errp); /* reply (transfer full) */
    void (*run_async)(JsonObject *args, MonitorRequest *req);
} QmpCommand;

/** An event a family emits (for the schema and `qcontext-ctl help`). */
typedef struct {
    const char *name;
    const char *help;   /* one line: when it is sent */
    const QmpArg *data; /* members of "data", NULL-name terminated; may be NULL */
} QmpEvent;

/* ------------------------------------------------------------------------ */
/* The registry (registry.c)                                                 */
/* ------------------------------------------------------------------------ */

/**
 * monitor_register_commands: add the @n commands of @cmds (static storage,
 * borrowed for the life of the process) to the monitor.  A name registered
 * twice is a programming error (aborts).  Main thread, before the first
 * client connects (families register from monitor_init()).
 */
void monitor_register_commands(const QmpCommand *cmds, guint n);

/**
 * monitor_register_events: describe the @n events of @events (static
 * storage) for introspection.  Sending them is monitor_emit_event()'s job.
 */
void monitor_register_events(const QmpEvent *events, guint n);

/** qmp_event_list: every registered event (const QmpEvent *; borrowed). */
GPtrArray *qmp_event_list(void);

/** qmp_command_find: the registered command named @name, or NULL. */
const QmpCommand *qmp_command_find(const char *name);

/**
 * qmp_command_list: every registered command (const QmpCommand *, in
 * registration order; borrowed, owned by the registry).
 */
GPtrArray *qmp_command_list(void);

/* ------------------------------------------------------------------------ */
/* Answering (dispatch.c)                                                    */
/* ------------------------------------------------------------------------ */

/** qmp_error_class_name: "GenericError", "CommandNotFound", "DeviceNotFound". */
const char *qmp_error_class_name(QmpErrorClass cls);

/**
 * qmp_error_class_of: the class a handler's error is answered with:
 * DeviceNotFound for MONITOR_ERROR / QMP_ERROR_DEVICE_NOT_FOUND (set it
 * with g_set_error(errp, MONITOR_ERROR, QMP_ERROR_DEVICE_NOT_FOUND, ...)),
 * GenericError for everything else.
 */
QmpErrorClass qmp_error_class_of(const GError *err);

/**
 * monitor_request_return: answer @req with @ret (transfer full; NULL means
 * {}), and free @req.  Main thread only.  If the client has gone, the reply
 * is dropped.
 */
void monitor_request_return(MonitorRequest *req, JsonNode *ret);

/**
 * monitor_request_error: answer @req with @err's message (@err is freed)
 * in the class qmp_error_class_of(@err), and free @req.  Main thread only.
 */
void monitor_request_error(MonitorRequest *req, GError *err);

/**
 * monitor_version_new: the version object of the greeting and of
 * query-version: {"qcontext": {"major", "minor", "micro"}, "package": ""}.
 */
JsonObject *monitor_version_new(void);

/* ------------------------------------------------------------------------ */
/* Events (events.c)                                                         */
/* ------------------------------------------------------------------------ */

/** monitor_timestamp_new: the current wall-clock time as a QMP timestamp. */
JsonObject *monitor_timestamp_new(void);

/* ------------------------------------------------------------------------ */
/* Building replies (json.c)                                                 */
/* ------------------------------------------------------------------------ */

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
 * has no such readable property.
 */
JsonNode *qmp_property_to_json(QomObject *obj, const char *name, GError **errp);

#endif /* MAIN_LOOP_MONITOR_CORE_H */

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
    const char *help;   /* one line: what the command does */
    const QmpArg *args; /* terminated by an entry with name NULL; may be NULL */
    /*
     * Commands that create an object of a type named by an argument
     * (object-add's "qom-type", device_add's "driver") also take that type's
     * properties as further arguments: @props_tag names the argument and
     * @props_base the type every such type derives from.  The core lets
     * scalar extra arguments through; the handler checks them strictly with
     * qmp_props_to_opts().  The schema lists each type's properties.
     */
    const char *props_tag;
    GType (*props_base)(void);
    /* Exactly one of: */
    JsonNode *(*run)(JsonObject *args, GError **errp); /* reply (transfer full) */
    void (*run_async)(JsonObject *args, MonitorRequest *req);
} QmpCommand;

/** An event a family emits (for the schema and `qcontext-ctl help`). */
typedef struct {
    const char *name;
    const char *help;   /* one line: when it is sent */
    const QmpArg *data; /* members of "data", NULL-name terminated; may be NULL */
    /*
     * Events that outside input can raise at a high rate (a front-end that
     * reconnects in a loop...) are throttled as QEMU throttles its own: at
     * most one per @throttle_ms, the latest of a period sent at its end.
     * With @throttle_key (a string member of "data", e.g. "device"), each
     * value has its own period.  0: every event is sent.
     */
    guint throttle_ms;
    const char *throttle_key;
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

/** qmp_event_find: the registered event named @name, or NULL.  Main thread. */
const QmpEvent *qmp_event_find(const char *name);

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
 * query-version, QEMU's VersionInfo with our version in "qemu" and again in
 * "qcontext": {"qemu": {"major", "minor", "micro"}, "qcontext": {...},
 * "package": ""}.
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

/* ------------------------------------------------------------------------ */
/* The object tree (qom-json.c)                                              */
/* ------------------------------------------------------------------------ */

/**
 * qmp_path_container: for "/" the empty string, for "/objects" or
 * "/devices" (with or without a trailing '/') the container's name; NULL
 * for any other path.
 */
const char *qmp_path_container(const char *path);

/**
 * qmp_path_resolve: the object at "/objects/ID" or "/devices/ID", or named
 * by a bare "ID" (objects first); a new reference.  NULL with @errp set
 * (class DeviceNotFound) if there is none.
 */
QomObject *qmp_path_resolve(const char *path, GError **errp);

/** qmp_object_path: "/objects/ID" or "/devices/ID" for @obj (transfer full). */
char *qmp_object_path(QomObject *obj);

/** qmp_type_name: the name QMP shows for @type ("object" for the root). */
const char *qmp_type_name(GType type);

/**
 * qmp_property_type_name: @pspec's type as QEMU names it: "bool",
 * "int32".."uint64", "number", "string", the enum's own type name,
 * "link<TYPE>" (transfer full).
 */
char *qmp_property_type_name(GParamSpec *pspec);

/**
 * qmp_value_to_json: the value @v of property @pspec as QEMU's qom-get
 * shows it: numbers, booleans, strings ("" when unset), enums by nick,
 * links as QOM paths ("" when unset); non-finite doubles as null.
 */
JsonNode *qmp_value_to_json(GParamSpec *pspec, const GValue *v);

/**
 * qmp_property_to_json: the value of property @name of @obj (as
 * qmp_value_to_json(); the pseudo-property "type" is the type name).  NULL
 * with @errp set if @obj has no such readable property.
 */
JsonNode *qmp_property_to_json(QomObject *obj, const char *name, GError **errp);

/**
 * qmp_property_info: QEMU's ObjectPropertyInfo for @pspec: name, type,
 * description and default-value when it has one.
 */
JsonObject *qmp_property_info(GParamSpec *pspec);

/**
 * qmp_property_from_json: check @node against @pspec's type as QEMU's QMP
 * does (booleans take true/false, integers a JSON integer, numbers an
 * integer or a double, strings/enums/links a string; a link may be given as
 * a QOM path) and return the text the object layer's parser takes, which
 * then checks ranges and enum values.  NULL with @errp set ("Invalid
 * parameter type for 'threaded', expected: boolean").
 */
char *qmp_property_from_json(GParamSpec *pspec, JsonNode *node, GError **errp);

/**
 * qmp_props_to_opts: append to @opts (a GArray of QomOpt, with a clear
 * function that frees them) one option per member of @args not named in
 * @skip (NULL-terminated; may be NULL), each a writable property of @type
 * checked with qmp_property_from_json().  FALSE with @errp set on an
 * unknown property ("Parameter 'x' is unexpected") or a wrong type.
 */
gboolean qmp_props_to_opts(GType type, JsonObject *args, const char *const *skip,
                           GArray *opts, GError **errp);

#endif /* MAIN_LOOP_MONITOR_CORE_H */

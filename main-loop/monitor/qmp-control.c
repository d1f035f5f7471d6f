/*
 * main-loop/monitor/qmp-control.c - commands about the daemon and the
 * monitor itself: query-name, query-version, query-commands, quit.
 *
 * SPDX-License-Identifier: MIT
 */
#include "families.h"
#include "monitor-core.h"
#include "qcontext/main-loop/main-loop.h"

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
    return qmp_node_from_object(monitor_version_new());
}

static JsonNode *qmp_query_commands(JsonObject *args, GError **errp)
{
    JsonArray *arr = json_array_new();
    GPtrArray *cmds = qmp_command_list();
    JsonObject *caps = json_object_new();

    json_object_set_string_member(caps, "name", "qmp_capabilities");
    json_array_add_object_element(arr, caps);
    for (guint i = 0; i < cmds->len; i++) {
        const QmpCommand *cmd = cmds->pdata[i];
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "name", cmd->name);
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

static const QmpCommand control_commands[] = {
    {.name = "query-name",
     .help = "the daemon's name (-name), if it has one",
     .run = qmp_query_name},
    {.name = "query-version", .help = "the daemon's version", .run = qmp_query_version},
    {.name = "query-commands",
     .help = "the names of every command",
     .run = qmp_query_commands},
    {.name = "quit",
     .help = "stop the daemon (reply, then SHUTDOWN, then an orderly exit)",
     .run_async = qmp_quit},
};

static const QmpArg shutdown_data[] = {
    {"guest", QMP_ARG_BOOL, FALSE, "always false"},
    {"reason", QMP_ARG_STRING, FALSE, "host-qmp-quit, host-signal or host-error"},
    {NULL},
};

static const QmpEvent control_events[] = {
    {"SHUTDOWN", "the daemon is stopping (sent once)", shutdown_data},
};

void qmp_control_register(void)
{
    monitor_register_commands(control_commands, G_N_ELEMENTS(control_commands));
    monitor_register_events(control_events, G_N_ELEMENTS(control_events));
}

/*
 * main-loop/monitor/registry.c - the commands and events the families
 * registered.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "monitor-core.h"

static GPtrArray *command_list;   /* const QmpCommand *, registration order */
static GHashTable *command_index; /* name -> const QmpCommand * */
static GPtrArray *event_list;     /* const QmpEvent * */

static void registry_init(void)
{
    if (!command_list) {
        command_list = g_ptr_array_new();
        command_index = g_hash_table_new(g_str_hash, g_str_equal);
        event_list = g_ptr_array_new();
    }
}

void monitor_register_commands(const QmpCommand *cmds, guint n)
{
    registry_init();
    for (guint i = 0; i < n; i++) {
        if (g_hash_table_contains(command_index, cmds[i].name)) {
            g_error("monitor: command '%s' registered twice", cmds[i].name);
        }
        g_assert(!cmds[i].run != !cmds[i].run_async);
        g_ptr_array_add(command_list, (gpointer)&cmds[i]);
        g_hash_table_insert(command_index, (gpointer)cmds[i].name, (gpointer)&cmds[i]);
    }
}

const QmpCommand *qmp_command_find(const char *name)
{
    return command_index ? g_hash_table_lookup(command_index, name) : NULL;
}

GPtrArray *qmp_command_list(void)
{
    registry_init();
    return command_list;
}

void monitor_register_events(const QmpEvent *events, guint n)
{
    registry_init();
    for (guint i = 0; i < n; i++) {
        g_ptr_array_add(event_list, (gpointer)&events[i]);
    }
}

GPtrArray *qmp_event_list(void)
{
    registry_init();
    return event_list;
}

const QmpEvent *qmp_event_find(const char *name)
{
    for (guint i = 0; event_list && i < event_list->len; i++) {
        const QmpEvent *e = event_list->pdata[i];
        if (!strcmp(e->name, name)) {
            return e;
        }
    }
    return NULL;
}

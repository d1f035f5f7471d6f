/*
 * main-loop/programs/ctl-help.c - qcontext-ctl SOCKET help [COMMAND]: what
 * the daemon offers, from its own query-qmp-schema, so that the help is
 * always the running daemon's: the commands and events with one line each,
 * or one command's (or event's) arguments with their types, whether they
 * are required, and what they are for.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

typedef struct {
    JsonArray *entries;
    GHashTable *by_name; /* name -> JsonObject (borrowed from entries) */
} Schema;

static gboolean schema_load(Ctl *q, Schema *s, GError **errp)
{
    g_autoptr(JsonObject) reply = ctl_execute(q, "query-qmp-schema", NULL, errp);
    JsonNode *ret = reply ? ctl_reply_value(reply, errp) : NULL;

    if (!ret) {
        return FALSE;
    }
    if (!JSON_NODE_HOLDS_ARRAY(ret)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "query-qmp-schema did not return a list");
        return FALSE;
    }
    s->entries = json_array_ref(json_node_get_array(ret));
    s->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < json_array_get_length(s->entries); i++) {
        JsonObject *e = json_array_get_object_element(s->entries, i);
        const char *name =
            e ? json_object_get_string_member_with_default(e, "name", NULL) : NULL;
        if (name) {
            g_hash_table_insert(s->by_name, (char *)name, e);
        }
    }
    return TRUE;
}

static void schema_free(Schema *s)
{
    g_clear_pointer(&s->entries, json_array_unref);
    g_clear_pointer(&s->by_name, g_hash_table_unref);
}

static const char *str_of(JsonObject *o, const char *key)
{
    return o ? json_object_get_string_member_with_default(o, key, "") : "";
}

/* A type as a reader wants it: builtins by name, enums as their values. */
static char *type_text(Schema *s, const char *type)
{
    JsonObject *e = g_hash_table_lookup(s->by_name, type);
    GString *out;
    JsonArray *vals;

    if (!e || strcmp(str_of(e, "meta-type"), "enum")) {
        return g_strdup(type);
    }
    vals = json_object_get_array_member(e, "values");
    out = g_string_new(NULL);
    for (guint i = 0; vals && i < json_array_get_length(vals); i++) {
        g_string_append_printf(out, "%s%s", i ? "|" : "",
                               json_array_get_string_element(vals, i));
    }
    return g_string_free(out, FALSE);
}

static void print_members(Schema *s, JsonArray *members, const char *indent)
{
    guint n = members ? json_array_get_length(members) : 0;
    g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func(g_free);
    int name_w = 4, type_w = 4;

    for (guint i = 0; i < n; i++) {
        JsonObject *m = json_array_get_object_element(members, i);
        char *type = type_text(s, str_of(m, "type"));

        g_ptr_array_add(types, type);
        name_w = MAX(name_w, (int)strlen(str_of(m, "name")));
        type_w = MAX(type_w, (int)strlen(type));
    }
    for (guint i = 0; i < n; i++) {
        JsonObject *m = json_array_get_object_element(members, i);

        printf("%s%-*s  %-*s  %-8s  %s\n", indent, name_w, str_of(m, "name"), type_w,
               (char *)types->pdata[i],
               json_object_has_member(m, "default") ? "optional" : "required",
               str_of(m, "doc"));
    }
}

static void print_list(Schema *s, const char *meta)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();

    for (guint i = 0; i < json_array_get_length(s->entries); i++) {
        JsonObject *e = json_array_get_object_element(s->entries, i);
        if (!strcmp(str_of(e, "meta-type"), meta)) {
            g_ptr_array_add(names, e);
        }
    }
    for (guint i = 0; i < names->len; i++) {
        JsonObject *e = names->pdata[i];
        printf("  %-24s %s\n", str_of(e, "name"), str_of(e, "doc"));
    }
}

/* The variants of a union argument type: each type's own properties. */
static void print_variants(Schema *s, JsonObject *args)
{
    JsonArray *variants = json_object_get_array_member(args, "variants");

    printf("Properties, by %s (give them as further KEY=VALUE arguments):\n",
           str_of(args, "tag"));
    for (guint i = 0; i < json_array_get_length(variants); i++) {
        JsonObject *v = json_array_get_object_element(variants, i);
        JsonObject *t = g_hash_table_lookup(s->by_name, str_of(v, "type"));

        printf("  %s:\n", str_of(v, "case"));
        if (t && json_object_has_member(t, "members")) {
            print_members(s, json_object_get_array_member(t, "members"), "    ");
        }
    }
}

static int print_one(Schema *s, JsonObject *e)
{
    gboolean is_event = !strcmp(str_of(e, "meta-type"), "event");
    JsonObject *args = g_hash_table_lookup(s->by_name, str_of(e, "arg-type"));
    JsonArray *members = args && json_object_has_member(args, "members")
                             ? json_object_get_array_member(args, "members")
                             : NULL;
    guint n = members ? json_array_get_length(members) : 0;

    printf("%s%s: %s\n", str_of(e, "name"), is_event ? " (event)" : "",
           str_of(e, "doc"));
    if (!is_event) {
        printf("Usage: %s SOCKET %s", CTL_PRG, str_of(e, "name"));
        for (guint i = 0; i < n; i++) {
            JsonObject *m = json_array_get_object_element(members, i);
            gboolean opt = json_object_has_member(m, "default");
            printf(" %s%s=VALUE%s", opt ? "[" : "", str_of(m, "name"), opt ? "]" : "");
        }
        printf("%s\n", args && json_object_has_member(args, "variants")
                           ? " [KEY=VALUE...]"
                           : "");
    }
    if (n) {
        printf("%s:\n", is_event ? "Data" : "Arguments");
        print_members(s, members, "  ");
    } else {
        printf("%s\n", is_event ? "No data." : "No arguments.");
    }
    if (args && json_object_has_member(args, "variants")) {
        print_variants(s, args);
    }
    return 0;
}

int ctl_help(Ctl *q, const char *what)
{
    Schema s = {0};
    GError *err = NULL;
    JsonObject *e;
    int rc = 0;

    if (!schema_load(q, &s, &err)) {
        fprintf(stderr, "%s: %s\n", CTL_PRG, err->message);
        g_error_free(err);
        return 1;
    }
    e = what ? g_hash_table_lookup(s.by_name, what) : NULL;
    if (!what) {
        printf("Commands (help COMMAND shows its arguments):\n");
        print_list(&s, "command");
        printf("Events (the events mode prints them as they come):\n");
        print_list(&s, "event");
    } else if (e && (!strcmp(str_of(e, "meta-type"), "command") ||
                     !strcmp(str_of(e, "meta-type"), "event"))) {
        rc = print_one(&s, e);
    } else {
        fprintf(stderr,
                "%s: the daemon has no command or event '%s' (help lists them)\n",
                CTL_PRG, what);
        rc = 1;
    }
    fflush(stdout);
    schema_free(&s);
    return rc;
}

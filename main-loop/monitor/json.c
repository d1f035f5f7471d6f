/*
 * main-loop/monitor/json.c - building JSON replies: wrappers, scalar
 * conversion for the object layer's parsers, property values as JSON.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "monitor-core.h"

/* ------------------------------------------------------------------------ */
/* Wrappers and scalars                                                      */
/* ------------------------------------------------------------------------ */

void qmp_obj_set_str(JsonObject *obj, const char *key, const char *val)
{
    if (val) {
        json_object_set_string_member(obj, key, val);
    } else {
        json_object_set_null_member(obj, key);
    }
}

JsonNode *qmp_node_from_object(JsonObject *obj)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);

    json_object_unref(obj);
    return node;
}

JsonNode *qmp_node_from_array(JsonArray *arr)
{
    JsonNode *node = json_node_init_array(json_node_alloc(), arr);

    json_array_unref(arr);
    return node;
}

char *qmp_scalar_to_string(JsonNode *node, const char *what, GError **errp)
{
    GType vt =
        JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_NONE;
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (vt == G_TYPE_STRING) {
        return g_strdup(json_node_get_string(node));
    }
    if (vt == G_TYPE_INT64) {
        return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
    }
    if (vt == G_TYPE_BOOLEAN) {
        return g_strdup(json_node_get_boolean(node) ? "on" : "off");
    }
    if (vt == G_TYPE_DOUBLE) {
        return g_strdup(g_ascii_dtostr(buf, sizeof(buf), json_node_get_double(node)));
    }
    g_set_error(
        errp, MONITOR_ERROR, 0,
        "Invalid parameter type for '%s', expected: a string, number or boolean", what);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

static JsonNode *gvalue_to_json(QomObject *obj, GParamSpec *pspec, const GValue *v)
{
    GType t = G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(v));
    JsonNode *node = json_node_alloc();
    double d;

    switch (t) {
    case G_TYPE_BOOLEAN:
        return json_node_init_boolean(node, g_value_get_boolean(v));
    case G_TYPE_INT:
        return json_node_init_int(node, g_value_get_int(v));
    case G_TYPE_UINT:
        return json_node_init_int(node, g_value_get_uint(v));
    case G_TYPE_LONG:
        return json_node_init_int(node, g_value_get_long(v));
    case G_TYPE_ULONG:
        return json_node_init_int(node, (gint64)MIN(g_value_get_ulong(v), G_MAXINT64));
    case G_TYPE_INT64:
        return json_node_init_int(node, g_value_get_int64(v));
    case G_TYPE_UINT64:
        return json_node_init_int(node, (gint64)MIN(g_value_get_uint64(v), G_MAXINT64));
    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE:
        d = t == G_TYPE_FLOAT ? g_value_get_float(v) : g_value_get_double(v);
        /* JSON has no infinity or NaN: such a value reads as null. */
        return isfinite(d) ? json_node_init_double(node, d) : json_node_init_null(node);
    case G_TYPE_STRING:
        if (!g_value_get_string(v)) {
            return json_node_init_null(node);
        }
        return json_node_init_string(node, g_value_get_string(v));
    case G_TYPE_OBJECT:
        if (!g_value_get_object(v)) {
            return json_node_init_null(node);
        }
        break;
    default:
        break;
    }
    /* Enums, links and the rest: the object layer's string form. */
    g_autofree char *s = qom_property_to_string(obj, pspec->name, NULL);
    return s ? json_node_init_string(node, s) : json_node_init_null(node);
}

JsonNode *qmp_property_to_json(QomObject *obj, const char *name, GError **errp)
{
    GParamSpec *pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(obj), name);
    GValue v = G_VALUE_INIT;
    JsonNode *node;

    if (!strcmp(name, "type") && !pspec) {
        return json_node_init_string(json_node_alloc(), qom_object_get_type_name(obj));
    }
    if (!pspec || !(pspec->flags & G_PARAM_READABLE)) {
        g_set_error(errp, MONITOR_ERROR, 0, "Property '%s.%s' not found",
                    qom_object_get_type_name(obj), name);
        return NULL;
    }
    g_value_init(&v, pspec->value_type);
    g_object_get_property(G_OBJECT(obj), name, &v);
    node = gvalue_to_json(obj, pspec, &v);
    g_value_unset(&v);
    return node;
}

/*
 * main-loop/monitor/qom-json.c - the object tree as QEMU's QMP shows it:
 * paths, property types, values as JSON both ways.
 *
 * Paths: "/" holds the containers "objects" and "devices"; "/objects/ID"
 * and "/devices/ID" are objects; a bare "ID" (QEMU's partial path) finds
 * an object, then a device.  Links read as QOM paths ("/objects/io0"),
 * unset strings as "" and types with QEMU's names ("string", "bool",
 * "int64", an enum's own name, "link<TYPE>", "child<TYPE>"), so that QEMU's
 * own tools (qom list/get/set/tree) understand them.
 *
 * Values written over QMP are checked against the property's type as QEMU
 * does: a bool takes true/false (not "yes"), an integer a JSON integer (not
 * "65536"), a string or enum a JSON string; then the object layer's own
 * parser checks the range or the enum value.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#include "monitor-core.h"

static const char *const containers[] = {QOM_CONTAINER_OBJECTS, QOM_CONTAINER_DEVICES};

/* ------------------------------------------------------------------------ */
/* Paths                                                                     */
/* ------------------------------------------------------------------------ */

const char *qmp_path_container(const char *path)
{
    if (!strcmp(path, "/")) {
        return "";
    }
    for (guint i = 0; i < G_N_ELEMENTS(containers); i++) {
        gsize n = strlen(containers[i]);
        if (path[0] == '/' && !strncmp(path + 1, containers[i], n) &&
            (!path[n + 1] || (path[n + 1] == '/' && !path[n + 2]))) {
            return containers[i];
        }
    }
    return NULL;
}

QomObject *qmp_path_resolve(const char *path, GError **errp)
{
    for (guint i = 0; i < G_N_ELEMENTS(containers); i++) {
        g_autofree char *prefix = g_strdup_printf("/%s/", containers[i]);
        if (g_str_has_prefix(path, prefix)) {
            QomObject *obj = qom_container_find(containers[i], path + strlen(prefix));
            if (!obj) {
                g_set_error(errp, MONITOR_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                            "Device or object '%s' not found", path);
            }
            return obj;
        }
    }
    if (path[0] != '/') {
        QomObject *obj = qom_find_by_id(path);

        if (obj) {
            return obj;
        }
    }
    g_set_error(errp, MONITOR_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                "Path '%s' not found (expected /objects/ID or /devices/ID)", path);
    return NULL;
}

char *qmp_object_path(QomObject *obj)
{
    const char *id = qom_object_get_id(obj);
    QomObject *found = qom_container_find(QOM_CONTAINER_OBJECTS, id);
    const char *container =
        found == obj ? QOM_CONTAINER_OBJECTS : QOM_CONTAINER_DEVICES;

    if (found) {
        g_object_unref(found);
    }
    return g_strdup_printf("/%s/%s", container, id);
}

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

const char *qmp_type_name(GType type)
{
    if (type == QOM_TYPE_OBJECT) {
        return "object";
    }
    return qom_type_name(type) ? qom_type_name(type) : g_type_name(type);
}

static const char *int_type_name(GType fundamental)
{
    switch (fundamental) {
    case G_TYPE_CHAR:
        return "int8";
    case G_TYPE_UCHAR:
        return "uint8";
    case G_TYPE_INT:
        return "int32";
    case G_TYPE_UINT:
        return "uint32";
    case G_TYPE_LONG:
    case G_TYPE_INT64:
        return "int64";
    case G_TYPE_ULONG:
    case G_TYPE_UINT64:
        return "uint64";
    default:
        return NULL;
    }
}

char *qmp_property_type_name(GParamSpec *pspec)
{
    GType t = pspec->value_type;
    const char *name = int_type_name(G_TYPE_FUNDAMENTAL(t));

    if (name) {
        return g_strdup(name);
    }
    switch (G_TYPE_FUNDAMENTAL(t)) {
    case G_TYPE_BOOLEAN:
        return g_strdup("bool");
    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE:
        return g_strdup("number");
    case G_TYPE_STRING:
        return g_strdup("string");
    case G_TYPE_OBJECT:
        return g_strdup_printf("link<%s>", qmp_type_name(t));
    default:
        return g_strdup(g_type_name(t)); /* enums: their own name */
    }
}

/* ------------------------------------------------------------------------ */
/* Values out                                                                */
/* ------------------------------------------------------------------------ */

static JsonNode *int_value_to_json(const GValue *v)
{
    JsonNode *node = json_node_alloc();

    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(v))) {
    case G_TYPE_CHAR:
        return json_node_init_int(node, g_value_get_schar(v));
    case G_TYPE_UCHAR:
        return json_node_init_int(node, g_value_get_uchar(v));
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
    default:
        json_node_free(node);
        return NULL;
    }
}

JsonNode *qmp_value_to_json(GParamSpec *pspec, const GValue *v)
{
    JsonNode *node = int_value_to_json(v);
    GEnumValue *ev;
    GObject *target;
    double d;

    if (node) {
        return node;
    }
    node = json_node_alloc();
    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(v))) {
    case G_TYPE_BOOLEAN:
        return json_node_init_boolean(node, g_value_get_boolean(v));
    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE:
        d = G_VALUE_HOLDS_FLOAT(v) ? g_value_get_float(v) : g_value_get_double(v);
        /* JSON has no infinity or NaN: such a value reads as null. */
        return isfinite(d) ? json_node_init_double(node, d) : json_node_init_null(node);
    case G_TYPE_STRING: /* unset reads as "", as QEMU's string properties */
        return json_node_init_string(node, g_value_get_string(v) ? g_value_get_string(v)
                                                                 : "");
    case G_TYPE_ENUM:
        ev =
            g_enum_get_value(G_PARAM_SPEC_ENUM(pspec)->enum_class, g_value_get_enum(v));
        return ev ? json_node_init_string(node, ev->value_nick)
                  : json_node_init_int(node, g_value_get_enum(v));
    case G_TYPE_OBJECT: /* a link: the target's path, "" when unset (as QEMU) */
        target = g_value_get_object(v);
        if (QOM_IS_OBJECT(target)) {
            g_autofree char *path = qmp_object_path(QOM_OBJECT(target));
            return json_node_init_string(node, path);
        }
        return json_node_init_string(node, "");
    default: {
        g_autofree char *s = g_strdup_value_contents(v);
        return json_node_init_string(node, s);
    }
    }
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
    node = qmp_value_to_json(pspec, &v);
    g_value_unset(&v);
    return node;
}

JsonObject *qmp_property_info(GParamSpec *pspec)
{
    JsonObject *o = json_object_new();
    g_autofree char *type = qmp_property_type_name(pspec);
    const char *blurb = g_param_spec_get_blurb(pspec);
    const GValue *def = g_param_spec_get_default_value(pspec);

    json_object_set_string_member(o, "name", pspec->name);
    json_object_set_string_member(o, "type", type);
    if (blurb && *blurb) {
        json_object_set_string_member(o, "description", blurb);
    }
    /* Only defaults that mean something: not unset strings or links. */
    if (!G_VALUE_HOLDS_OBJECT(def) &&
        !(G_VALUE_HOLDS_STRING(def) && !g_value_get_string(def))) {
        json_object_set_member(o, "default-value", qmp_value_to_json(pspec, def));
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* Values in                                                                 */
/* ------------------------------------------------------------------------ */

static GType json_value_type(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_NONE;
}

/* The JSON type @pspec takes, for checks and messages. */
static const char *expected_json(GParamSpec *pspec, GType *want)
{
    GType f = G_TYPE_FUNDAMENTAL(pspec->value_type);

    if (int_type_name(f)) {
        *want = G_TYPE_INT64;
        return "integer";
    }
    switch (f) {
    case G_TYPE_BOOLEAN:
        *want = G_TYPE_BOOLEAN;
        return "boolean";
    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE:
        *want = G_TYPE_DOUBLE; /* or an integer */
        return "number";
    default: /* strings, enums, links */
        *want = G_TYPE_STRING;
        return "string";
    }
}

char *qmp_property_from_json(GParamSpec *pspec, JsonNode *node, GError **errp)
{
    GType want, have = json_value_type(node);
    const char *expected = expected_json(pspec, &want);
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (have == G_TYPE_INT64 && want == G_TYPE_DOUBLE) {
        have = G_TYPE_DOUBLE;
    }
    if (have != want) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "Invalid parameter type for '%s', expected: %s", pspec->name,
                    expected);
        return NULL;
    }
    switch (want) {
    case G_TYPE_BOOLEAN:
        return g_strdup(json_node_get_boolean(node) ? "on" : "off");
    case G_TYPE_INT64:
        return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
    case G_TYPE_DOUBLE:
        return g_strdup(g_ascii_dtostr(buf, sizeof(buf), json_node_get_double(node)));
    default:
        break;
    }
    if (G_TYPE_FUNDAMENTAL(pspec->value_type) == G_TYPE_OBJECT) {
        /* A link: a QOM path or a bare id; the object layer takes the id. */
        const char *s = json_node_get_string(node);
        const char *slash = s[0] == '/' ? strrchr(s, '/') : NULL;
        QomObject *target = slash ? qmp_path_resolve(s, NULL) : NULL;

        if (target) {
            g_object_unref(target);
            return g_strdup(slash + 1);
        }
    }
    return g_strdup(json_node_get_string(node));
}

gboolean qmp_props_to_opts(GType type, JsonObject *args, const char *const *skip,
                           GArray *opts, GError **errp)
{
    g_autoptr(GTypeClass) klass = g_type_class_ref(type);
    g_autoptr(GList) members = json_object_get_members(args);

    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        GParamSpec *pspec;
        QomOpt opt;

        if (skip && g_strv_contains(skip, key)) {
            continue;
        }
        pspec = g_object_class_find_property(G_OBJECT_CLASS(klass), key);
        if (!pspec) { /* "unix.db": an entry of map property "unix" */
            const char *subkey;

            pspec = qom_map_property_find(G_OBJECT_CLASS(klass), key, &subkey);
        }
        if (!pspec || !(pspec->flags & G_PARAM_WRITABLE)) {
            g_set_error(errp, MONITOR_ERROR, 0, "Parameter '%s' is unexpected", key);
            return FALSE;
        }
        opt.value =
            qmp_property_from_json(pspec, json_object_get_member(args, key), errp);
        if (!opt.value) {
            return FALSE;
        }
        opt.key = g_strdup(key);
        g_array_append_val(opts, opt);
    }
    return TRUE;
}

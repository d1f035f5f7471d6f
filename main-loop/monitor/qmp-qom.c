/*
 * main-loop/monitor/qmp-qom.c - monitor commands on the object tree.
 *
 * The tree is two levels deep: "/" holds the containers "objects" and
 * "devices"; "/objects/ID" and "/devices/ID" are objects whose GObject
 * properties are listed, read and written with qom-list, qom-get and
 * qom-set.  object-add and object-del create and delete `-object`s.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "families.h"
#include "monitor-core.h"
#include "qcontext/devices/device.h"
#include "qcontext/qom/object.h"

static const char *const containers[] = {QOM_CONTAINER_OBJECTS, QOM_CONTAINER_DEVICES};

/* ------------------------------------------------------------------------ */
/* Paths                                                                     */
/* ------------------------------------------------------------------------ */

/* "/objects/ID", "/devices/ID", or a bare "ID" (objects first). */
static QomObject *path_resolve(const char *path, GError **errp)
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

/** Which container a path names ("/objects"), or NULL. */
static const char *path_container(const char *path)
{
    for (guint i = 0; i < G_N_ELEMENTS(containers); i++) {
        g_autofree char *p = g_strdup_printf("/%s", containers[i]);
        g_autofree char *ps = g_strdup_printf("/%s/", containers[i]);
        if (!strcmp(path, p) || !strcmp(path, ps)) {
            return containers[i];
        }
    }
    return NULL;
}

static char *pspec_type_name(GParamSpec *pspec)
{
    GType t = pspec->value_type;

    switch (G_TYPE_FUNDAMENTAL(t)) {
    case G_TYPE_BOOLEAN:
        return g_strdup("bool");
    case G_TYPE_INT:
        return g_strdup("int32");
    case G_TYPE_UINT:
        return g_strdup("uint32");
    case G_TYPE_LONG:
    case G_TYPE_INT64:
        return g_strdup("int64");
    case G_TYPE_ULONG:
    case G_TYPE_UINT64:
        return g_strdup("uint64");
    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE:
        return g_strdup("number");
    case G_TYPE_STRING:
        return g_strdup("str");
    case G_TYPE_ENUM:
        return g_strdup_printf("enum<%s>", g_type_name(t));
    case G_TYPE_OBJECT:
        return g_strdup_printf("link<%s>",
                               qom_type_name(t) ? qom_type_name(t) : g_type_name(t));
    default:
        return g_strdup(g_type_name(t));
    }
}

/* ------------------------------------------------------------------------ */
/* qom-list, qom-get, qom-set                                                */
/* ------------------------------------------------------------------------ */

static JsonObject *prop_info(const char *name, const char *type, const char *desc)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "name", name);
    json_object_set_string_member(o, "type", type);
    if (desc && *desc) {
        json_object_set_string_member(o, "description", desc);
    }
    return o;
}

static JsonNode *list_children(const char *container)
{
    JsonArray *arr = json_array_new();
    GList *objs = qom_container_list(container);

    for (GList *l = objs; l; l = l->next) {
        QomObject *obj = l->data;
        g_autofree char *t =
            g_strdup_printf("child<%s>", qom_object_get_type_name(obj));
        json_array_add_object_element(arr, prop_info(qom_object_get_id(obj), t, NULL));
    }
    g_list_free_full(objs, g_object_unref);
    return qmp_node_from_array(arr);
}

static JsonNode *list_properties(QomObject *obj)
{
    JsonArray *arr = json_array_new();
    guint n;
    GParamSpec **pspecs = g_object_class_list_properties(G_OBJECT_GET_CLASS(obj), &n);
    JsonObject *type = prop_info("type", "str", "the object's type");

    json_object_set_boolean_member(type, "writable", FALSE);
    json_array_add_object_element(arr, type);
    for (guint i = 0; i < n; i++) {
        g_autofree char *t = pspec_type_name(pspecs[i]);
        JsonObject *o =
            prop_info(pspecs[i]->name, t, g_param_spec_get_blurb(pspecs[i]));
        gboolean writable = (pspecs[i]->flags & G_PARAM_WRITABLE) &&
                            !(pspecs[i]->flags & G_PARAM_CONSTRUCT_ONLY);
        json_object_set_boolean_member(o, "writable", writable);
        json_array_add_object_element(arr, o);
    }
    g_free(pspecs);
    return qmp_node_from_array(arr);
}

static JsonNode *qmp_qom_list(JsonObject *args, GError **errp)
{
    const char *path = json_object_get_string_member(args, "path");
    const char *container = path_container(path);
    QomObject *obj;
    JsonNode *ret;

    if (!strcmp(path, "/")) {
        JsonArray *arr = json_array_new();
        for (guint i = 0; i < G_N_ELEMENTS(containers); i++) {
            json_array_add_object_element(
                arr, prop_info(containers[i], "child<container>", NULL));
        }
        return qmp_node_from_array(arr);
    }
    if (container) {
        return list_children(container);
    }
    obj = path_resolve(path, errp);
    if (!obj) {
        return NULL;
    }
    ret = list_properties(obj);
    g_object_unref(obj);
    return ret;
}

static JsonNode *qmp_qom_get(JsonObject *args, GError **errp)
{
    const char *path = json_object_get_string_member(args, "path");
    const char *prop = json_object_get_string_member(args, "property");
    QomObject *obj = path_resolve(path, errp);
    JsonNode *ret;

    if (!obj) {
        return NULL;
    }
    ret = qmp_property_to_json(obj, prop, errp);
    g_object_unref(obj);
    return ret;
}

static JsonNode *qmp_qom_set(JsonObject *args, GError **errp)
{
    const char *path = json_object_get_string_member(args, "path");
    const char *prop = json_object_get_string_member(args, "property");
    g_autofree char *value = NULL;
    QomObject *obj;
    gboolean ok;

    value = qmp_scalar_to_string(json_object_get_member(args, "value"), "value", errp);
    if (!value) {
        return NULL;
    }
    obj = path_resolve(path, errp);
    if (!obj) {
        return NULL;
    }
    ok = qom_object_set_property_str(obj, prop, value, errp);
    g_object_unref(obj);
    return ok ? qmp_node_from_object(json_object_new()) : NULL;
}

/* ------------------------------------------------------------------------ */
/* object-add, object-del                                                    */
/* ------------------------------------------------------------------------ */

static void opt_clear(gpointer data)
{
    QomOpt *opt = data;

    g_free(opt->key);
    g_free(opt->value);
}

static void opts_add(GArray *opts, const char *key, char *value)
{
    QomOpt opt = {.key = g_strdup(key), .value = value};

    g_array_append_val(opts, opt);
}

/* Add every scalar member of @props except @skip to @opts. */
static gboolean opts_add_members(GArray *opts, JsonObject *props, gboolean skip_fixed,
                                 GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(props);

    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        char *value;

        if (skip_fixed &&
            (!strcmp(key, "qom-type") || !strcmp(key, "id") || !strcmp(key, "props"))) {
            continue;
        }
        value = qmp_scalar_to_string(json_object_get_member(props, key), key, errp);
        if (!value) {
            return FALSE;
        }
        opts_add(opts, key, value);
    }
    return TRUE;
}

static JsonNode *qmp_object_add(JsonObject *args, GError **errp)
{
    const char *type_name = json_object_get_string_member(args, "qom-type");
    const char *id = json_object_get_string_member(args, "id");
    GType type = qom_type_lookup(type_name);
    g_autoptr(GArray) opts = g_array_new(FALSE, FALSE, sizeof(QomOpt));

    if (type != G_TYPE_INVALID && g_type_is_a(type, DEVICE_TYPE)) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "'%s' is a device type; devices are created with -device",
                    type_name);
        return NULL;
    }
    g_array_set_clear_func(opts, opt_clear);
    opts_add(opts, "id", g_strdup(id));
    if (!opts_add_members(opts, args, TRUE, errp)) {
        return NULL;
    }
    if (json_object_has_member(args, "props") &&
        !opts_add_members(opts, json_object_get_object_member(args, "props"), FALSE,
                          errp)) {
        return NULL;
    }
    if (!qom_object_new_from_opts(QOM_CONTAINER_OBJECTS, QOM_TYPE_OBJECT, type_name,
                                  opts, errp)) {
        return NULL;
    }
    return qmp_node_from_object(json_object_new());
}

static JsonNode *qmp_object_del(JsonObject *args, GError **errp)
{
    const char *id = json_object_get_string_member(args, "id");

    if (!strcmp(id, "main")) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "Object 'main' is the main loop's context and cannot be deleted");
        return NULL;
    }
    if (!qom_container_del(QOM_CONTAINER_OBJECTS, id, errp)) {
        return NULL;
    }
    return qmp_node_from_object(json_object_new());
}

/* ------------------------------------------------------------------------ */
/* The family                                                                */
/* ------------------------------------------------------------------------ */

static const QmpArg path_arg[] = {
    {"path", QMP_ARG_STRING, FALSE,
     "/, /objects, /devices, /objects/ID or /devices/ID"},
    {NULL},
};
static const QmpArg qom_get_args[] = {
    {"path", QMP_ARG_STRING, FALSE, "the object's path (/objects/ID, /devices/ID)"},
    {"property", QMP_ARG_STRING, FALSE, "the property's name"},
    {NULL},
};
static const QmpArg qom_set_args[] = {
    {"path", QMP_ARG_STRING, FALSE, "the object's path (/objects/ID, /devices/ID)"},
    {"property", QMP_ARG_STRING, FALSE, "the property's name"},
    {"value", QMP_ARG_SCALAR, FALSE, "the new value, of the property's type"},
    {NULL},
};
static const QmpArg object_add_args[] = {
    {"qom-type", QMP_ARG_STRING, FALSE, "the type to create (qom-list-types)"},
    {"id", QMP_ARG_STRING, FALSE, "the new object's id"},
    {"props", QMP_ARG_OBJECT, TRUE, "properties (or give them as arguments)"},
    {NULL},
};
static const QmpArg id_arg[] = {
    {"id", QMP_ARG_STRING, FALSE, "the object's id"},
    {NULL},
};

static const QmpCommand qom_commands[] = {
    {.name = "qom-list",
     .help = "the properties (or children) at a path",
     .args = path_arg,
     .run = qmp_qom_list},
    {.name = "qom-get",
     .help = "the value of a property",
     .args = qom_get_args,
     .run = qmp_qom_get},
    {.name = "qom-set",
     .help = "set a property of a live object",
     .args = qom_set_args,
     .run = qmp_qom_set},
    {.name = "object-add",
     .help = "create an object (a context), its properties as further arguments",
     .args = object_add_args,
     .extra_scalars = TRUE,
     .run = qmp_object_add},
    {.name = "object-del",
     .help = "delete an object",
     .args = id_arg,
     .run = qmp_object_del},
};

void qmp_qom_register(void)
{
    monitor_register_commands(qom_commands, G_N_ELEMENTS(qom_commands));
}

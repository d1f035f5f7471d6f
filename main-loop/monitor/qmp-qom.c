/*
 * main-loop/monitor/qmp-qom.c - monitor commands on the object tree:
 * qom-list, qom-get, qom-set, qom-list-get, object-add, object-del.
 *
 * The tree (see qom-json.c): "/" holds the containers "objects" and
 * "devices"; "/objects/ID" and "/devices/ID" are objects whose GObject
 * properties are listed, read and written.  Containers have one property,
 * "type" ("container"), as in QEMU.  The replies have QEMU's shape, so
 * that QEMU's qom tools work unchanged.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "families.h"
#include "monitor-core.h"

static const char *const containers[] = {QOM_CONTAINER_OBJECTS, QOM_CONTAINER_DEVICES};

/* ------------------------------------------------------------------------ */
/* Listing                                                                   */
/* ------------------------------------------------------------------------ */

/* {"name": NAME, "type": TYPE} (+ "value": @value, transfer full, if set). */
static JsonObject *entry_new(const char *name, const char *type, JsonNode *value)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "name", name);
    json_object_set_string_member(o, "type", type);
    if (value) {
        json_object_set_member(o, "value", value);
    }
    return o;
}

static JsonNode *string_node(const char *s)
{
    return json_node_init_string(json_node_alloc(), s);
}

/* The entries of a container: "type", then one child per member. */
static JsonArray *list_container(const char *container, gboolean values)
{
    JsonArray *arr = json_array_new();
    GList *objs;

    json_array_add_object_element(
        arr, entry_new("type", "string", values ? string_node("container") : NULL));
    if (!*container) { /* "/" */
        for (guint i = 0; i < G_N_ELEMENTS(containers); i++) {
            g_autofree char *path = g_strdup_printf("/%s", containers[i]);
            json_array_add_object_element(arr,
                                          entry_new(containers[i], "child<container>",
                                                    values ? string_node(path) : NULL));
        }
        return arr;
    }
    objs = qom_container_list(container);
    for (GList *l = objs; l; l = l->next) {
        QomObject *obj = l->data;
        g_autofree char *t =
            g_strdup_printf("child<%s>", qom_object_get_type_name(obj));
        g_autofree char *path = qmp_object_path(obj);
        json_array_add_object_element(
            arr,
            entry_new(qom_object_get_id(obj), t, values ? string_node(path) : NULL));
    }
    g_list_free_full(objs, g_object_unref);
    return arr;
}

/* The entries of an object: "type", then its readable properties. */
static JsonArray *list_object(QomObject *obj, gboolean values)
{
    JsonArray *arr = json_array_new();
    guint n;
    g_autofree GParamSpec **pspecs =
        g_object_class_list_properties(G_OBJECT_GET_CLASS(obj), &n);

    json_array_add_object_element(
        arr, entry_new("type", "string",
                       values ? string_node(qom_object_get_type_name(obj)) : NULL));
    for (guint i = 0; i < n; i++) {
        JsonObject *o;

        if (!(pspecs[i]->flags & G_PARAM_READABLE)) {
            continue;
        }
        if (values) {
            g_autofree char *t = qmp_property_type_name(pspecs[i]);
            o = entry_new(pspecs[i]->name, t,
                          qmp_property_to_json(obj, pspecs[i]->name, NULL));
        } else {
            o = qmp_property_info(pspecs[i]);
        }
        json_array_add_object_element(arr, o);
    }
    return arr;
}

/* The entries at @path, or NULL with @errp set. */
static JsonArray *list_path(const char *path, gboolean values, GError **errp)
{
    const char *container = qmp_path_container(path);
    QomObject *obj;
    JsonArray *arr;

    if (container) {
        return list_container(container, values);
    }
    obj = qmp_path_resolve(path, errp);
    if (!obj) {
        return NULL;
    }
    arr = list_object(obj, values);
    g_object_unref(obj);
    return arr;
}

static JsonNode *qmp_qom_list(JsonObject *args, GError **errp)
{
    JsonArray *arr =
        list_path(json_object_get_string_member(args, "path"), FALSE, errp);

    return arr ? qmp_node_from_array(arr) : NULL;
}

/* QEMU's qom-list-get: for each path, {"properties": [{name, type, value}]}. */
static JsonNode *qmp_qom_list_get(JsonObject *args, GError **errp)
{
    JsonArray *paths = json_object_get_array_member(args, "paths");
    JsonArray *out = json_array_new();

    for (guint i = 0; i < json_array_get_length(paths); i++) {
        JsonArray *props =
            list_path(json_array_get_string_element(paths, i), TRUE, errp);
        JsonObject *o;

        if (!props) {
            json_array_unref(out);
            return NULL;
        }
        o = json_object_new();
        json_object_set_array_member(o, "properties", props);
        json_array_add_object_element(out, o);
    }
    return qmp_node_from_array(out);
}

/* ------------------------------------------------------------------------ */
/* qom-get, qom-set                                                          */
/* ------------------------------------------------------------------------ */

static JsonNode *qmp_qom_get(JsonObject *args, GError **errp)
{
    const char *path = json_object_get_string_member(args, "path");
    const char *prop = json_object_get_string_member(args, "property");
    QomObject *obj;
    JsonNode *ret;

    if (qmp_path_container(path)) {
        if (strcmp(prop, "type")) {
            g_set_error(errp, MONITOR_ERROR, 0, "Property 'container.%s' not found",
                        prop);
            return NULL;
        }
        return string_node("container");
    }
    obj = qmp_path_resolve(path, errp);
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
    GParamSpec *pspec;
    QomObject *obj;
    gboolean ok;

    if (qmp_path_container(path)) {
        g_set_error(errp, MONITOR_ERROR, 0, "Property 'container.%s' not found", prop);
        return NULL;
    }
    obj = qmp_path_resolve(path, errp);
    if (!obj) {
        return NULL;
    }
    pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(obj), prop);
    ok = !pspec || (value = qmp_property_from_json(
                        pspec, json_object_get_member(args, "value"), errp)) != NULL;
    /* An unknown property: the object layer words that error. */
    ok = ok && qom_object_set_property_str(obj, prop, value ? value : "", errp);
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

/* The creatable non-device type named @name, or G_TYPE_INVALID with @errp. */
static GType object_type(const char *name, GError **errp)
{
    GType type = qom_type_lookup(name);
    GType device = qom_type_lookup("device");

    if (!type || G_TYPE_IS_ABSTRACT(type)) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "Invalid parameter 'qom-type': '%s' is not a type that can be "
                    "created (qom-list-types lists them)",
                    name);
        return G_TYPE_INVALID;
    }
    if (device && g_type_is_a(type, device)) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "'%s' is a device type; devices are created with -device", name);
        return G_TYPE_INVALID;
    }
    return type;
}

static JsonNode *qmp_object_add(JsonObject *args, GError **errp)
{
    static const char *const fixed[] = {"qom-type", "id", "props", NULL};
    const char *type_name = json_object_get_string_member(args, "qom-type");
    GType type = object_type(type_name, errp);
    g_autoptr(GArray) opts = g_array_new(FALSE, FALSE, sizeof(QomOpt));
    QomOpt id = {g_strdup("id"), g_strdup(json_object_get_string_member(args, "id"))};

    g_array_set_clear_func(opts, opt_clear);
    g_array_append_val(opts, id);
    if (!type || !qmp_props_to_opts(type, args, fixed, opts, errp)) {
        return NULL;
    }
    if (json_object_has_member(args, "props") &&
        !qmp_props_to_opts(type, json_object_get_object_member(args, "props"), fixed,
                           opts, errp)) {
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
static const QmpArg paths_arg[] = {
    {"paths", QMP_ARG_STR_LIST, FALSE, "the paths to list, as for qom-list"},
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
    {"value", QMP_ARG_SCALAR, FALSE, "the new value, of the property's JSON type"},
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
    {.name = "qom-list-get",
     .help = "the properties at each path, with their values",
     .args = paths_arg,
     .run = qmp_qom_list_get},
    {.name = "qom-get",
     .help = "the value of a property",
     .args = qom_get_args,
     .run = qmp_qom_get},
    {.name = "qom-set",
     .help = "set a property of a live object",
     .args = qom_set_args,
     .run = qmp_qom_set},
    {.name = "object-add",
     .help = "create an object (a context); its properties as further arguments",
     .args = object_add_args,
     .props_tag = "qom-type",
     .props_base = qom_object_get_type,
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

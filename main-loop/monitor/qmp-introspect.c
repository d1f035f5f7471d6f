/*
 * main-loop/monitor/qmp-introspect.c - what the daemon offers, without the
 * docs: qom-list-types, qom-list-properties, device-list-properties and
 * query-qmp-schema, with QEMU's names and reply shapes.
 *
 * query-qmp-schema follows QEMU's SchemaInfo format (docs/devel/qapi-code-gen
 * "Client JSON Protocol introspection"): "builtin", "enum", "array",
 * "object", "command" and "event" entries, type names given in clear
 * (QEMU masks its internal ones).  Every command's arguments are an object
 * type; object-add's is a union on "qom-type" whose variants list each
 * type's properties.  As an extension QEMU clients ignore, commands,
 * events and members carry a one-line "doc".
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "families.h"
#include "monitor-core.h"

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

/* Every non-abstract registered type deriving from @base; devices only if
 * @with_devices or @base is a device type.  Sorted by name. */
static GPtrArray *creatable_types(GType base, gboolean with_devices)
{
    g_auto(GStrv) names = qom_type_list(base);
    GType device = qom_type_lookup("device");
    GPtrArray *out = g_ptr_array_new();

    for (char **n = names; *n; n++) {
        GType t = qom_type_lookup(*n);
        if (device && g_type_is_a(t, device) && !g_type_is_a(base, device) &&
            !with_devices) {
            continue;
        }
        g_ptr_array_add(out, GSIZE_TO_POINTER(t));
    }
    return out;
}

/* @type and its ancestors up to the root object, into @seen (no repeats). */
static void add_with_ancestors(GPtrArray *seen, GType type)
{
    for (GType t = type; t && g_type_is_a(t, QOM_TYPE_OBJECT); t = g_type_parent(t)) {
        if (!g_ptr_array_find(seen, GSIZE_TO_POINTER(t), NULL)) {
            g_ptr_array_add(seen, GSIZE_TO_POINTER(t));
        }
    }
}

static JsonNode *qmp_qom_list_types(JsonObject *args, GError **errp)
{
    const char *impl =
        json_object_get_string_member_with_default(args, "implements", NULL);
    gboolean abstract =
        json_object_get_boolean_member_with_default(args, "abstract", FALSE);
    GType base = impl ? qom_type_lookup(impl) : QOM_TYPE_OBJECT;
    g_autoptr(GPtrArray) all = creatable_types(QOM_TYPE_OBJECT, TRUE);
    g_autoptr(GPtrArray) seen = g_ptr_array_new();
    JsonArray *arr = json_array_new();

    if (impl && !strcmp(impl, "object")) {
        base = QOM_TYPE_OBJECT;
    }
    for (guint i = 0; i < all->len; i++) {
        add_with_ancestors(seen, (GType)GPOINTER_TO_SIZE(all->pdata[i]));
    }
    add_with_ancestors(seen, qom_type_lookup("device"));
    for (guint i = 0; base && i < seen->len; i++) {
        GType t = (GType)GPOINTER_TO_SIZE(seen->pdata[i]);
        JsonObject *o;

        if (!g_type_is_a(t, base) || (G_TYPE_IS_ABSTRACT(t) && !abstract)) {
            continue;
        }
        o = json_object_new();
        json_object_set_string_member(o, "name", qmp_type_name(t));
        if (G_TYPE_IS_ABSTRACT(t)) {
            json_object_set_boolean_member(o, "abstract", TRUE);
        }
        if (t != QOM_TYPE_OBJECT) {
            json_object_set_string_member(o, "parent", qmp_type_name(g_type_parent(t)));
        }
        json_array_add_object_element(arr, o);
    }
    return qmp_node_from_array(arr);
}

/* ObjectPropertyInfo of every property of @type; "type" first. */
static JsonArray *type_properties(GType type, gboolean with_type)
{
    g_autoptr(GTypeClass) klass = g_type_class_ref(type);
    guint n;
    g_autofree GParamSpec **pspecs =
        g_object_class_list_properties(G_OBJECT_CLASS(klass), &n);
    JsonArray *arr = json_array_new();

    if (with_type) {
        JsonObject *t = json_object_new();
        json_object_set_string_member(t, "name", "type");
        json_object_set_string_member(t, "type", "string");
        json_array_add_object_element(arr, t);
    }
    for (guint i = 0; i < n; i++) {
        json_array_add_object_element(arr, qmp_property_info(pspecs[i]));
    }
    return arr;
}

static GType type_by_name(const char *name)
{
    return !strcmp(name, "object") ? QOM_TYPE_OBJECT : qom_type_lookup(name);
}

static JsonNode *qmp_qom_list_properties(JsonObject *args, GError **errp)
{
    const char *name = json_object_get_string_member(args, "typename");
    GType type = type_by_name(name);

    if (!type) {
        g_set_error(errp, MONITOR_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                    "Class '%s' not found", name);
        return NULL;
    }
    return qmp_node_from_array(type_properties(type, TRUE));
}

static JsonNode *qmp_device_list_properties(JsonObject *args, GError **errp)
{
    const char *name = json_object_get_string_member(args, "typename");
    GType type = qom_type_lookup(name);
    GType device = qom_type_lookup("device");

    if (!type) {
        g_set_error(errp, MONITOR_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", name);
        return NULL;
    }
    if (!device || !g_type_is_a(type, device)) {
        g_set_error(errp, MONITOR_ERROR, 0, "Parameter 'typename' expects device");
        return NULL;
    }
    if (G_TYPE_IS_ABSTRACT(type)) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "Parameter 'typename' expects non-abstract device type");
        return NULL;
    }
    return qmp_node_from_array(type_properties(type, FALSE));
}

/* ------------------------------------------------------------------------ */
/* query-qmp-schema                                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    JsonArray *out;
    GHashTable *done; /* names of the entries emitted */
} Schema;

static gboolean schema_once(Schema *s, const char *name)
{
    if (g_hash_table_contains(s->done, name)) {
        return FALSE;
    }
    g_hash_table_add(s->done, g_strdup(name));
    return TRUE;
}

static JsonObject *schema_entry(Schema *s, const char *name, const char *meta)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "name", name);
    json_object_set_string_member(o, "meta-type", meta);
    json_array_add_object_element(s->out, o);
    return o;
}

/* A builtin type @name (str, int, ...): its entry, once; returns @name. */
static const char *schema_builtin(Schema *s, const char *name)
{
    static const char *const json_types[][2] = {
        {"str", "string"},   {"int", "int"},    {"int8", "int"},  {"int16", "int"},
        {"int32", "int"},    {"int64", "int"},  {"uint8", "int"}, {"uint16", "int"},
        {"uint32", "int"},   {"uint64", "int"}, {"size", "int"},  {"number", "number"},
        {"bool", "boolean"}, {"any", "value"},  {"null", "null"},
    };

    if (schema_once(s, name)) {
        for (guint i = 0; i < G_N_ELEMENTS(json_types); i++) {
            if (!strcmp(json_types[i][0], name)) {
                JsonObject *o = schema_entry(s, name, "builtin");
                json_object_set_string_member(o, "json-type", json_types[i][1]);
            }
        }
    }
    return name;
}

static const char *schema_array(Schema *s, const char *name, const char *element)
{
    if (schema_once(s, name)) {
        JsonObject *o = schema_entry(s, name, "array");
        json_object_set_string_member(o, "element-type", schema_builtin(s, element));
    }
    return name;
}

static const char *arg_schema_type(Schema *s, QmpArgType type)
{
    switch (type) {
    case QMP_ARG_STRING:
        return schema_builtin(s, "str");
    case QMP_ARG_INT:
        return schema_builtin(s, "int");
    case QMP_ARG_BOOL:
        return schema_builtin(s, "bool");
    case QMP_ARG_NUMBER:
        return schema_builtin(s, "number");
    case QMP_ARG_STR_LIST:
        return schema_array(s, "[str]", "str");
    case QMP_ARG_ARRAY:
        return schema_array(s, "[any]", "any");
    default:
        return schema_builtin(s, "any");
    }
}

/* One member {"name", "type"[, "default": null][, "doc"]}. */
static void add_member(JsonArray *members, const char *name, const char *type,
                       gboolean optional, const char *doc)
{
    JsonObject *m = json_object_new();

    json_object_set_string_member(m, "name", name);
    json_object_set_string_member(m, "type", type);
    if (optional) {
        json_object_set_null_member(m, "default");
    }
    if (doc && *doc) {
        json_object_set_string_member(m, "doc", doc);
    }
    json_array_add_object_element(members, m);
}

static const char *schema_enum(Schema *s, const char *name, const char *const *values)
{
    if (schema_once(s, name)) {
        JsonObject *o = schema_entry(s, name, "enum");
        JsonArray *vals = json_array_new(), *members = json_array_new();
        for (guint i = 0; values[i]; i++) {
            JsonObject *m = json_object_new();
            json_array_add_string_element(vals, values[i]);
            json_object_set_string_member(m, "name", values[i]);
            json_array_add_object_element(members, m);
        }
        json_object_set_array_member(o, "values", vals);
        json_object_set_array_member(o, "members", members);
    }
    return name;
}

/* The schema type of property @pspec (links are ids or paths: "str"). */
static const char *pspec_schema_type(Schema *s, GParamSpec *pspec)
{
    GType f = G_TYPE_FUNDAMENTAL(pspec->value_type);

    if (f == G_TYPE_ENUM) {
        GEnumClass *ec = G_PARAM_SPEC_ENUM(pspec)->enum_class;
        g_autoptr(GPtrArray) nicks = g_ptr_array_new();
        for (guint i = 0; i < ec->n_values; i++) {
            g_ptr_array_add(nicks, (gpointer)ec->values[i].value_nick);
        }
        g_ptr_array_add(nicks, NULL);
        return schema_enum(s, g_type_name(pspec->value_type),
                           (const char *const *)nicks->pdata);
    }
    if (f == G_TYPE_STRING || f == G_TYPE_OBJECT) {
        return schema_builtin(s, "str");
    }
    g_autofree char *t = qmp_property_type_name(pspec);
    /* intern: the returned name must outlive @t */
    return schema_builtin(s, g_intern_string(t));
}

/* "q_obj_TYPE-props": the writable properties of @type, all optional. */
static char *schema_props(Schema *s, GType type)
{
    char *name = g_strdup_printf("q_obj_%s-props", qmp_type_name(type));
    g_autoptr(GTypeClass) klass = NULL;
    g_autofree GParamSpec **pspecs = NULL;
    JsonArray *members;
    guint n;

    if (!schema_once(s, name)) {
        return name;
    }
    klass = g_type_class_ref(type);
    pspecs = g_object_class_list_properties(G_OBJECT_CLASS(klass), &n);
    members = json_array_new();
    for (guint i = 0; i < n; i++) {
        if (pspecs[i]->flags & G_PARAM_WRITABLE) {
            add_member(members, pspecs[i]->name, pspec_schema_type(s, pspecs[i]), TRUE,
                       g_param_spec_get_blurb(pspecs[i]));
        }
    }
    json_object_set_array_member(schema_entry(s, name, "object"), "members", members);
    return name;
}

/* Make @obj (an object type entry) a union on @tag over @base's types. */
static void schema_variants(Schema *s, JsonObject *obj, const char *owner,
                            const QmpCommand *cmd, JsonArray *members)
{
    g_autoptr(GPtrArray) types = creatable_types(cmd->props_base(), FALSE);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autofree char *enum_name = g_strdup_printf("q_enum_%s-%s", owner, cmd->props_tag);
    JsonArray *variants = json_array_new();

    for (guint i = 0; i < types->len; i++) {
        GType t = (GType)GPOINTER_TO_SIZE(types->pdata[i]);
        g_autofree char *props = schema_props(s, t);
        JsonObject *v = json_object_new();

        g_ptr_array_add(names, (gpointer)qmp_type_name(t));
        json_object_set_string_member(v, "case", qmp_type_name(t));
        json_object_set_string_member(v, "type", props);
        json_array_add_object_element(variants, v);
    }
    g_ptr_array_add(names, NULL);
    schema_enum(s, enum_name, (const char *const *)names->pdata);
    /* The tag member takes the enum of type names. */
    for (guint i = 0; i < json_array_get_length(members); i++) {
        JsonObject *m = json_array_get_object_element(members, i);
        if (!strcmp(json_object_get_string_member(m, "name"), cmd->props_tag)) {
            json_object_set_string_member(m, "type", enum_name);
        }
    }
    json_object_set_string_member(obj, "tag", cmd->props_tag);
    json_object_set_array_member(obj, "variants", variants);
}

/* The object type "q_obj_OWNER-arg" with members @args; returns its name. */
static char *schema_args(Schema *s, const char *owner, const QmpArg *args,
                         const QmpCommand *cmd)
{
    char *name = g_strdup_printf("q_obj_%s-arg", owner);
    JsonArray *members = json_array_new();
    JsonObject *obj;

    for (const QmpArg *a = args; a && a->name; a++) {
        add_member(members, a->name, arg_schema_type(s, a->type), a->optional, a->help);
    }
    schema_once(s, name);
    obj = schema_entry(s, name, "object");
    if (cmd && cmd->props_tag) {
        schema_variants(s, obj, owner, cmd, members);
    }
    json_object_set_array_member(obj, "members", members);
    return name;
}

static void schema_command(Schema *s, const char *name, const char *doc,
                           const QmpArg *args, const QmpCommand *cmd)
{
    g_autofree char *arg_type = schema_args(s, name, args, cmd);
    JsonObject *o = schema_entry(s, name, "command");

    json_object_set_string_member(o, "arg-type", arg_type);
    json_object_set_string_member(o, "ret-type", schema_builtin(s, "any"));
    if (doc && *doc) {
        json_object_set_string_member(o, "doc", doc);
    }
}

static const QmpArg caps_args[] = {
    {"enable", QMP_ARG_STR_LIST, TRUE, "capabilities to enable (none is supported)"},
    {NULL},
};

static JsonNode *qmp_query_qmp_schema(JsonObject *args, GError **errp)
{
    Schema s = {json_array_new(),
                g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
    GPtrArray *cmds = qmp_command_list(), *events = qmp_event_list();

    schema_command(&s, "qmp_capabilities", "negotiate capabilities (first command)",
                   caps_args, NULL);
    for (guint i = 0; i < cmds->len; i++) {
        const QmpCommand *c = cmds->pdata[i];
        schema_command(&s, c->name, c->help, c->args, c);
    }
    for (guint i = 0; i < events->len; i++) {
        const QmpEvent *e = events->pdata[i];
        g_autofree char *arg_type = schema_args(&s, e->name, e->data, NULL);
        JsonObject *o = schema_entry(&s, e->name, "event");

        json_object_set_string_member(o, "arg-type", arg_type);
        if (e->help && *e->help) {
            json_object_set_string_member(o, "doc", e->help);
        }
    }
    g_hash_table_unref(s.done);
    return qmp_node_from_array(s.out);
}

/* ------------------------------------------------------------------------ */
/* The family                                                                */
/* ------------------------------------------------------------------------ */

static const QmpArg list_types_args[] = {
    {"implements", QMP_ARG_STRING, TRUE, "only types deriving from this one"},
    {"abstract", QMP_ARG_BOOL, TRUE, "include abstract types (default false)"},
    {NULL},
};
static const QmpArg typename_arg[] = {
    {"typename", QMP_ARG_STRING, FALSE, "the type's name (qom-list-types)"},
    {NULL},
};

static const QmpCommand introspect_commands[] = {
    {.name = "qom-list-types",
     .help = "the object and device types, with their parents",
     .args = list_types_args,
     .run = qmp_qom_list_types},
    {.name = "qom-list-properties",
     .help = "the properties of a type",
     .args = typename_arg,
     .run = qmp_qom_list_properties},
    {.name = "device-list-properties",
     .help = "the properties of a device type",
     .args = typename_arg,
     .run = qmp_device_list_properties},
    {.name = "query-qmp-schema",
     .help = "every command, its arguments and every event, as QEMU's SchemaInfo",
     .run = qmp_query_qmp_schema},
};

void qmp_introspect_register(void)
{
    monitor_register_commands(introspect_commands, G_N_ELEMENTS(introspect_commands));
}

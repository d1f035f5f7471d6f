/*
 * qom/create.c - creating user-creatable objects from options.
 *
 * Everything that can be checked is checked before the object exists: the
 * type, the id (reserved in the container so that no concurrent creation
 * can take it), every key and every value.  Then the object is constructed
 * with all its properties at once, completed, and put in its container.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "qom-internal.h"

/* The creatable type @type_name deriving from @base, or G_TYPE_INVALID. */
static GType check_type(GType base, const char *type_name, GError **errp)
{
    GType type;

    if (!type_name || !*type_name) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_MISSING, "parameter 'type' is missing");
        return G_TYPE_INVALID;
    }
    type = qom_type_lookup(type_name);
    if (!type) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE, "unknown object type '%s'",
                    type_name);
        return G_TYPE_INVALID;
    }
    if (!g_type_is_a(type, base)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE,
                    "object type '%s' is not a %s", type_name,
                    qom_type_display_name(base));
        return G_TYPE_INVALID;
    }
    if (G_TYPE_IS_ABSTRACT(type)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_ABSTRACT_TYPE,
                    "object type '%s' is abstract", type_name);
        return G_TYPE_INVALID;
    }
    return type;
}

/* The id must be given; qom_container_reserve() checks its syntax. */
static gboolean check_id(const char *type_name, const char *id, GError **errp)
{
    if (!id) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_MISSING, "%s: parameter 'id' is missing",
                    type_name);
        return FALSE;
    }
    return TRUE;
}

/* The properties to construct with: names[] and values[] in step. */
typedef struct {
    GPtrArray *names;
    GArray *values;
} PropList;

static void prop_list_init(PropList *pl)
{
    pl->names = g_ptr_array_new();
    pl->values = g_array_new(FALSE, TRUE, sizeof(GValue));
    g_array_set_clear_func(pl->values, (GDestroyNotify)g_value_unset);
}

static void prop_list_clear(PropList *pl)
{
    g_ptr_array_unref(pl->names);
    g_array_unref(pl->values);
}

/* "P.KEY=VALUE" for map property @pspec: append "KEY=VALUE" to P's value. */
static gboolean add_map_entry(PropList *pl, GParamSpec *pspec, const char *type_name,
                              const char *subkey, const char *value, GError **errp)
{
    g_autofree char *line = NULL;
    GValue v = G_VALUE_INIT;

    if (!*subkey || strpbrk(subkey, "=.") || strchr(value, '\n')) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "%s: '%s.%s' is not %s.NAME=VALUE", type_name, pspec->name, subkey,
                    pspec->name);
        return FALSE;
    }
    line = g_strdup_printf("%s=%s", subkey, value);
    for (guint i = 0; i < pl->names->len; i++) {
        GValue *old = &g_array_index(pl->values, GValue, i);
        g_autofree char *joined = NULL;

        if (g_ptr_array_index(pl->names, i) != (gpointer)pspec->name) {
            continue;
        }
        joined = g_strdup_printf("%s\n%s", g_value_get_string(old), line);
        g_value_set_string(old, joined);
        return TRUE;
    }
    g_value_init(&v, G_TYPE_STRING);
    g_value_set_string(&v, line);
    g_ptr_array_add(pl->names, (gpointer)pspec->name);
    g_array_append_val(pl->values, v);
    return TRUE;
}

static gboolean add_prop(PropList *pl, GObjectClass *klass, const char *type_name,
                         const QomOpt *opt, GError **errp)
{
    GParamSpec *pspec = g_object_class_find_property(klass, opt->key);
    GValue value = G_VALUE_INIT;
    const char *subkey;

    if (!pspec && (pspec = qom_map_property_find(klass, opt->key, &subkey))) {
        return add_map_entry(pl, pspec, type_name, subkey, opt->value, errp);
    }
    if (!pspec) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_PROPERTY,
                    "unknown property '%s' for type '%s'", opt->key, type_name);
        return FALSE;
    }
    if (!(pspec->flags & G_PARAM_WRITABLE)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "%s: property '%s' is read-only", type_name, opt->key);
        return FALSE;
    }
    if (!qom_property_parse(type_name, pspec, opt->value, &value, errp)) {
        return FALSE;
    }
    g_ptr_array_add(pl->names, (gpointer)pspec->name);
    g_array_append_val(pl->values, value);
    return TRUE;
}

static gboolean collect_props(PropList *pl, GType type, const char *type_name,
                              GArray *opts, GError **errp)
{
    GObjectClass *klass = g_type_class_ref(type);
    gboolean ok = TRUE;

    for (guint i = 0; ok && i < opts->len; i++) {
        const QomOpt *opt = &g_array_index(opts, QomOpt, i);
        if (strcmp(opt->key, "type") == 0) {
            continue;
        }
        ok = add_prop(pl, klass, type_name, opt, errp);
    }
    g_type_class_unref(klass);
    return ok;
}

/* Construct and complete; returns the only reference, or NULL. */
static QomObject *construct(GType type, PropList *pl, GError **errp)
{
    GObject *obj = g_object_new_with_properties(type, pl->names->len,
                                                (const char **)pl->names->pdata,
                                                (const GValue *)pl->values->data);

    if (!g_initable_init(G_INITABLE(obj), NULL, errp)) {
        g_object_unref(obj);
        return NULL;
    }
    return QOM_OBJECT(obj);
}

static QomObject *new_from_opts(const char *container, GType base,
                                const char *type_name, GArray *opts, GError **errp)
{
    const char *id = qom_opts_get(opts, "id");
    QomObject *obj = NULL;
    PropList pl;
    GType type;

    g_return_val_if_fail(container != NULL, NULL);
    g_return_val_if_fail(opts != NULL, NULL);
    type = check_type(base, type_name, errp);
    if (!type || !check_id(type_name, id, errp) ||
        !qom_container_reserve(container, id, errp)) {
        return NULL;
    }
    prop_list_init(&pl);
    if (collect_props(&pl, type, type_name, opts, errp)) {
        obj = construct(type, &pl, errp);
    }
    prop_list_clear(&pl);
    if (!obj) {
        qom_container_cancel(container, id);
        return NULL;
    }
    qom_container_commit(container, obj);
    g_object_unref(obj);
    return obj;
}

QomObject *qom_object_new_from_opts(const char *container, GType base,
                                    const char *type_name, GArray *opts, GError **errp)
{
    QomObject *obj = new_from_opts(container, base, type_name, opts, errp);

    if (!obj) {
        qom_error_make_printable(errp);
    }
    return obj;
}

QomObject *qom_object_new_from_string(const char *container, GType base,
                                      const char *optarg, GError **errp)
{
    GArray *opts = qom_opts_parse(optarg, "type", errp);
    QomObject *obj;

    if (!opts) {
        return NULL;
    }
    obj = qom_object_new_from_opts(container, base, qom_opts_get(opts, "type"), opts,
                                   errp);
    qom_opts_free(opts);
    return obj;
}

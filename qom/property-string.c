/*
 * qom/property-string.c - property values as text: formatting, type names
 * for help, and qom-set style assignment on live objects.
 *
 * SPDX-License-Identifier: MIT
 */
#include "qom-internal.h"

static char *int_to_string(const GValue *value)
{
    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(value))) {
    case G_TYPE_CHAR:
        return g_strdup_printf("%d", g_value_get_schar(value));
    case G_TYPE_UCHAR:
        return g_strdup_printf("%u", g_value_get_uchar(value));
    case G_TYPE_INT:
        return g_strdup_printf("%d", g_value_get_int(value));
    case G_TYPE_UINT:
        return g_strdup_printf("%u", g_value_get_uint(value));
    case G_TYPE_LONG:
        return g_strdup_printf("%ld", g_value_get_long(value));
    case G_TYPE_ULONG:
        return g_strdup_printf("%lu", g_value_get_ulong(value));
    case G_TYPE_INT64:
        return g_strdup_printf("%" G_GINT64_FORMAT, g_value_get_int64(value));
    case G_TYPE_UINT64:
        return g_strdup_printf("%" G_GUINT64_FORMAT, g_value_get_uint64(value));
    default:
        return NULL;
    }
}

static char *double_to_string(double d)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    return g_strdup(g_ascii_dtostr(buf, sizeof(buf), d));
}

char *qom_value_to_string(GParamSpec *pspec, const GValue *value)
{
    char *str = int_to_string(value);

    if (str) {
        return str;
    }
    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(value))) {
    case G_TYPE_BOOLEAN:
        return g_strdup(g_value_get_boolean(value) ? "on" : "off");
    case G_TYPE_DOUBLE:
        return double_to_string(g_value_get_double(value));
    case G_TYPE_FLOAT:
        return double_to_string(g_value_get_float(value));
    case G_TYPE_STRING:
        return g_value_dup_string(value);
    case G_TYPE_ENUM: {
        GEnumValue *ev = g_enum_get_value(G_PARAM_SPEC_ENUM(pspec)->enum_class,
                                          g_value_get_enum(value));
        return ev ? g_strdup(ev->value_nick)
                  : g_strdup_printf("%d", g_value_get_enum(value));
    }
    case G_TYPE_OBJECT: {
        GObject *target = g_value_get_object(value);
        return QOM_IS_OBJECT(target) ? g_strdup(qom_object_get_id(QOM_OBJECT(target)))
                                     : NULL;
    }
    default:
        return g_strdup_value_contents(value);
    }
}

static const char *int_type_string(GType fundamental)
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
        return sizeof(long) == 8 ? "int64" : "int32";
    case G_TYPE_ULONG:
        return sizeof(long) == 8 ? "uint64" : "uint32";
    case G_TYPE_INT64:
        return "int64";
    case G_TYPE_UINT64:
        return "uint64";
    default:
        return NULL;
    }
}

char *qom_param_spec_type_string(GParamSpec *pspec)
{
    GType fundamental = G_TYPE_FUNDAMENTAL(pspec->value_type);
    const char *int_name = int_type_string(fundamental);

    if (int_name) {
        return g_strdup(qom_param_spec_is_size(pspec) ? "size" : int_name);
    }
    switch (fundamental) {
    case G_TYPE_BOOLEAN:
        return g_strdup("bool");
    case G_TYPE_DOUBLE:
    case G_TYPE_FLOAT:
        return g_strdup("number");
    case G_TYPE_STRING:
        return g_strdup("string");
    case G_TYPE_ENUM: {
        g_autofree char *nicks =
            qom_enum_nicks(G_PARAM_SPEC_ENUM(pspec)->enum_class, "|");
        return g_strdup_printf("enum: %s", nicks);
    }
    case G_TYPE_OBJECT:
        return g_strdup_printf("link to %s", qom_type_display_name(pspec->value_type));
    default:
        return g_strdup(g_type_name(pspec->value_type));
    }
}

static GParamSpec *find_property(QomObject *obj, const char *name, GError **errp)
{
    GParamSpec *pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(obj), name);

    if (!pspec) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_PROPERTY,
                    "unknown property '%s' for type '%s'", name,
                    qom_object_get_type_name(obj));
    }
    return pspec;
}

char *qom_property_to_string(QomObject *obj, const char *name, GError **errp)
{
    g_auto(GValue) value = G_VALUE_INIT;
    GParamSpec *pspec;
    char *str;

    g_return_val_if_fail(QOM_IS_OBJECT(obj), NULL);
    g_return_val_if_fail(name != NULL, NULL);
    pspec = find_property(obj, name, errp);
    if (!pspec) {
        return NULL;
    }
    if (!(pspec->flags & G_PARAM_READABLE)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "property '%s' of '%s' cannot be read", name,
                    qom_object_get_id(obj));
        return NULL;
    }
    g_value_init(&value, pspec->value_type);
    g_object_get_property(G_OBJECT(obj), name, &value);
    str = qom_value_to_string(pspec, &value);
    return str ? str : g_strdup("");
}

gboolean qom_object_set_property_str(QomObject *obj, const char *name, const char *str,
                                     GError **errp)
{
    g_auto(GValue) value = G_VALUE_INIT;
    gboolean (*check)(QomObject *, GParamSpec *, const GValue *, GError **);
    GParamSpec *pspec;

    g_return_val_if_fail(QOM_IS_OBJECT(obj), FALSE);
    g_return_val_if_fail(name != NULL && str != NULL, FALSE);
    pspec = find_property(obj, name, errp);
    if (!pspec) {
        return FALSE;
    }
    if (pspec->flags & (G_PARAM_CONSTRUCT_ONLY)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "property '%s' of '%s' cannot be changed after creation", name,
                    qom_object_get_id(obj));
        return FALSE;
    }
    if (!(pspec->flags & G_PARAM_WRITABLE)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "property '%s' of '%s' is read-only", name, qom_object_get_id(obj));
        return FALSE;
    }
    if (!qom_property_parse(qom_object_get_type_name(obj), pspec, str, &value, errp)) {
        return FALSE;
    }
    check = QOM_OBJECT_GET_CLASS(obj)->check_set;
    if (check && !check(obj, pspec, &value, errp)) {
        qom_error_make_printable(errp);
        return FALSE;
    }
    g_object_set_property(G_OBJECT(obj), name, &value);
    return TRUE;
}

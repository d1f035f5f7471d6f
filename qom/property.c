/*
 * qom/property.c - property values from and to strings, driven by GParamSpec.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "qom-internal.h"

static GQuark size_quark(void)
{
    return g_quark_from_static_string("qom-param-spec-size");
}

void qom_param_spec_mark_size(GParamSpec *pspec)
{
    g_return_if_fail(G_IS_PARAM_SPEC(pspec));
    g_param_spec_set_qdata(pspec, size_quark(), GINT_TO_POINTER(1));
}

gboolean qom_param_spec_is_size(GParamSpec *pspec)
{
    return g_param_spec_get_qdata(pspec, size_quark()) != NULL;
}

/* ---- maps ---------------------------------------------------------------- */

static GQuark map_quark(void)
{
    return g_quark_from_static_string("qom-param-spec-map");
}

void qom_param_spec_mark_map(GParamSpec *pspec)
{
    g_return_if_fail(G_IS_PARAM_SPEC_STRING(pspec));
    g_param_spec_set_qdata(pspec, map_quark(), GINT_TO_POINTER(1));
}

gboolean qom_param_spec_is_map(GParamSpec *pspec)
{
    return g_param_spec_get_qdata(pspec, map_quark()) != NULL;
}

GParamSpec *qom_map_property_find(GObjectClass *klass, const char *key,
                                  const char **subkey)
{
    const char *dot = strchr(key, '.');
    g_autofree char *prefix = NULL;
    GParamSpec *pspec;

    if (!dot || dot == key) {
        return NULL;
    }
    prefix = g_strndup(key, dot - key);
    pspec = g_object_class_find_property(klass, prefix);
    if (!pspec || !qom_param_spec_is_map(pspec)) {
        return NULL;
    }
    *subkey = dot + 1;
    return pspec;
}

GHashTable *qom_map_parse(const char *value, GError **errp)
{
    g_autoptr(GHashTable) map =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = g_strsplit(value ? value : "", "\n", -1);

    for (char **l = lines; *l; l++) {
        const char *eq = strchr(*l, '=');
        char *key;

        if (!**l && !l[1]) {
            break; /* "" or a trailing newline */
        }
        if (!eq || eq == *l || memchr(*l, '.', eq - *l)) {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                        "'%s' is not NAME=VALUE", *l);
            return NULL;
        }
        key = g_strndup(*l, eq - *l);
        if (g_hash_table_contains(map, key)) {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE, "'%s' is given twice",
                        key);
            g_free(key);
            return NULL;
        }
        g_hash_table_insert(map, key, g_strdup(eq + 1));
    }
    return g_steal_pointer(&map);
}

/* ---- error messages ------------------------------------------------------ */

/* "TYPE: property 'NAME' expects WHAT, got 'STR'"; always returns FALSE. */
G_GNUC_PRINTF(5, 6)
static gboolean expect_error(GError **errp, const char *type_name, GParamSpec *pspec,
                             const char *str, const char *what_fmt, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, what_fmt);
    what = g_strdup_vprintf(what_fmt, ap);
    va_end(ap);
    g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                "%s: property '%s' expects %s, got '%s'", type_name, pspec->name, what,
                str);
    return FALSE;
}

/* Bounds print as 2^N-1 / -2^N when they are such (N >= 15), else decimal. */
static char *format_ubound(guint64 v)
{
    if (v == G_MAXUINT64) {
        return g_strdup("2^64-1");
    }
    if (v >= 32767 && ((v + 1) & v) == 0) {
        return g_strdup_printf("2^%d-1", g_bit_storage(v));
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, v);
}

static char *format_sbound(gint64 v)
{
    if (v >= 0) {
        return format_ubound((guint64)v);
    }
    guint64 mag = (guint64)0 - (guint64)v;
    if (mag >= 32768 && (mag & (mag - 1)) == 0) {
        return g_strdup_printf("-2^%d", g_bit_storage(mag) - 1);
    }
    return g_strdup_printf("%" G_GINT64_FORMAT, v);
}

/* ---- integers ------------------------------------------------------------ */

typedef struct {
    gboolean is_signed;
    gint64 smin, smax;
    guint64 umin, umax;
} IntRange;

static gboolean int_range(GParamSpec *pspec, IntRange *r)
{
    memset(r, 0, sizeof(*r));
    r->is_signed = TRUE;
#define SIGNED(T, cast)                                                                \
    if (G_IS_PARAM_SPEC_##T(pspec)) {                                                  \
        r->smin = cast(pspec)->minimum;                                                \
        r->smax = cast(pspec)->maximum;                                                \
        return TRUE;                                                                   \
    }
#define UNSIGNED(T, cast)                                                              \
    if (G_IS_PARAM_SPEC_##T(pspec)) {                                                  \
        r->is_signed = FALSE;                                                          \
        r->umin = cast(pspec)->minimum;                                                \
        r->umax = cast(pspec)->maximum;                                                \
        return TRUE;                                                                   \
    }
    SIGNED(CHAR, G_PARAM_SPEC_CHAR)
    SIGNED(INT, G_PARAM_SPEC_INT)
    SIGNED(LONG, G_PARAM_SPEC_LONG)
    SIGNED(INT64, G_PARAM_SPEC_INT64)
    UNSIGNED(UCHAR, G_PARAM_SPEC_UCHAR)
    UNSIGNED(UINT, G_PARAM_SPEC_UINT)
    UNSIGNED(ULONG, G_PARAM_SPEC_ULONG)
    UNSIGNED(UINT64, G_PARAM_SPEC_UINT64)
#undef SIGNED
#undef UNSIGNED
    return FALSE;
}

/*
 * Parse an optional '-', then a decimal or 0x-hex magnitude, then (for
 * sizes) an optional k/K/M/G/T suffix.  Returns FALSE on syntax errors;
 * *@overflow is set when the magnitude does not fit 64 bits.
 */
static gboolean parse_magnitude(const char *str, gboolean size, gboolean *neg,
                                guint64 *mag, gboolean *overflow)
{
    const char *p = str;
    char *end;
    int base = 10;

    *overflow = FALSE;
    *neg = *p == '-';
    if (*neg) {
        p++;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
            return FALSE; /* strtoull would skip a second prefix */
        }
    }
    if (!g_ascii_isxdigit(*p) || (base == 10 && !g_ascii_isdigit(*p))) {
        return FALSE;
    }
    errno = 0;
    *mag = g_ascii_strtoull(p, &end, base);
    if (errno == ERANGE) {
        *overflow = TRUE;
    }
    if (size && *end) {
        const char *suffixes = "kmgt";
        const char *s = strchr(suffixes, g_ascii_tolower(*end));
        if (!s || end[1] != '\0') {
            return FALSE;
        }
        int shift = 10 * (int)(s - suffixes + 1);
        if (*mag > (G_MAXUINT64 >> shift)) {
            *overflow = TRUE;
        }
        *mag <<= shift;
        end++;
    }
    return *end == '\0';
}

static void set_int_value(GValue *value, GParamSpec *pspec, gint64 s, guint64 u)
{
    switch (G_TYPE_FUNDAMENTAL(pspec->value_type)) {
    case G_TYPE_CHAR:
        g_value_set_schar(value, (gint8)s);
        break;
    case G_TYPE_INT:
        g_value_set_int(value, (gint)s);
        break;
    case G_TYPE_LONG:
        g_value_set_long(value, (glong)s);
        break;
    case G_TYPE_INT64:
        g_value_set_int64(value, s);
        break;
    case G_TYPE_UCHAR:
        g_value_set_uchar(value, (guchar)u);
        break;
    case G_TYPE_UINT:
        g_value_set_uint(value, (guint)u);
        break;
    case G_TYPE_ULONG:
        g_value_set_ulong(value, (gulong)u);
        break;
    default:
        g_value_set_uint64(value, u);
        break;
    }
}

/* "... expects KIND in [LO, HI], got 'STR'"; always returns FALSE. */
static gboolean range_error(GError **errp, const char *type_name, GParamSpec *pspec,
                            const char *str, const IntRange *r, const char *kind)
{
    g_autofree char *lo =
        r->is_signed ? format_sbound(r->smin) : format_ubound(r->umin);
    g_autofree char *hi =
        r->is_signed ? format_sbound(r->smax) : format_ubound(r->umax);

    return expect_error(errp, type_name, pspec, str, "%s in [%s, %s]", kind, lo, hi);
}

static gboolean parse_int(const char *type_name, GParamSpec *pspec, const char *str,
                          const IntRange *r, GValue *value, GError **errp)
{
    gboolean size = qom_param_spec_is_size(pspec);
    const char *kind = size ? "a size" : "an integer";
    gboolean neg, overflow, in_range;
    guint64 mag;
    gint64 s = 0;

    if (!parse_magnitude(str, size, &neg, &mag, &overflow)) {
        if (size) {
            return expect_error(errp, type_name, pspec, str,
                                "a size (e.g. 4096, 64k, 1M)");
        }
        return range_error(errp, type_name, pspec, str, r, kind);
    }
    if (r->is_signed) {
        in_range = !overflow &&
                   (neg ? mag <= (guint64)G_MAXINT64 + 1 : mag <= (guint64)G_MAXINT64);
        if (in_range) {
            s = neg ? (gint64)((guint64)0 - mag) : (gint64)mag;
            in_range = s >= r->smin && s <= r->smax;
        }
    } else {
        in_range = !overflow && (!neg || mag == 0) && mag >= r->umin && mag <= r->umax;
    }
    if (!in_range) {
        return range_error(errp, type_name, pspec, str, r, kind);
    }
    set_int_value(value, pspec, s, mag);
    return TRUE;
}

/* ---- other types --------------------------------------------------------- */

static gboolean parse_bool(const char *type_name, GParamSpec *pspec, const char *str,
                           GValue *value, GError **errp)
{
    static const char *const yes[] = {"on", "yes", "true"};
    static const char *const no[] = {"off", "no", "false"};

    for (guint i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (strcmp(str, yes[i]) == 0 || strcmp(str, no[i]) == 0) {
            g_value_set_boolean(value, strcmp(str, yes[i]) == 0);
            return TRUE;
        }
    }
    return expect_error(errp, type_name, pspec, str,
                        "a boolean (on/off, yes/no, true/false)");
}

static gboolean parse_double(const char *type_name, GParamSpec *pspec, const char *str,
                             GValue *value, GError **errp)
{
    gboolean is_float = G_IS_PARAM_SPEC_FLOAT(pspec);
    double min = is_float ? G_PARAM_SPEC_FLOAT(pspec)->minimum
                          : G_PARAM_SPEC_DOUBLE(pspec)->minimum;
    double max = is_float ? G_PARAM_SPEC_FLOAT(pspec)->maximum
                          : G_PARAM_SPEC_DOUBLE(pspec)->maximum;
    gboolean bounded = is_float ? (min > -G_MAXFLOAT || max < G_MAXFLOAT)
                                : (min > -G_MAXDOUBLE || max < G_MAXDOUBLE);
    char *end;
    double d;

    errno = 0;
    d = g_ascii_strtod(str, &end);
    if (*str && !*end && errno == 0 && d >= min && d <= max) {
        if (is_float) {
            g_value_set_float(value, (float)d);
        } else {
            g_value_set_double(value, d);
        }
        return TRUE;
    }
    if (bounded) {
        return expect_error(errp, type_name, pspec, str, "a number in [%g, %g]", min,
                            max);
    }
    return expect_error(errp, type_name, pspec, str, "a number");
}

char *qom_enum_nicks(GEnumClass *enum_class, const char *sep)
{
    g_autoptr(GPtrArray) nicks = g_ptr_array_new();

    for (guint i = 0; i < enum_class->n_values; i++) {
        g_ptr_array_add(nicks, (gpointer)enum_class->values[i].value_nick);
    }
    g_ptr_array_sort(nicks, qom_compare_strings);
    g_ptr_array_add(nicks, NULL);
    return g_strjoinv(sep, (char **)nicks->pdata);
}

static gboolean parse_enum(const char *type_name, GParamSpec *pspec, const char *str,
                           GValue *value, GError **errp)
{
    GEnumClass *enum_class = G_PARAM_SPEC_ENUM(pspec)->enum_class;
    GEnumValue *ev = g_enum_get_value_by_nick(enum_class, str);
    g_autofree char *nicks = NULL;

    if (ev) {
        g_value_set_enum(value, ev->value);
        return TRUE;
    }
    nicks = qom_enum_nicks(enum_class, ", ");
    return expect_error(errp, type_name, pspec, str, "one of %s", nicks);
}

static gboolean parse_link(GParamSpec *pspec, const char *str, GValue *value,
                           GError **errp)
{
    QomObject *target;

    if (*str == '\0') {
        g_value_set_object(value, NULL); /* "" clears a link */
        return TRUE;
    }
    target = qom_find_by_id(str);
    if (!target) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "'%s' refers to '%s', which does not exist", pspec->name, str);
        return FALSE;
    }
    if (!g_type_is_a(G_OBJECT_TYPE(target), pspec->value_type)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "'%s' refers to '%s', which is not a %s", pspec->name, str,
                    qom_type_display_name(pspec->value_type));
        g_object_unref(target);
        return FALSE;
    }
    g_value_take_object(value, target);
    return TRUE;
}

static gboolean parse_any(const char *type_name, GParamSpec *pspec, const char *str,
                          GValue *value, GError **errp)
{
    IntRange range;

    if (G_IS_PARAM_SPEC_BOOLEAN(pspec)) {
        return parse_bool(type_name, pspec, str, value, errp);
    }
    if (int_range(pspec, &range)) {
        return parse_int(type_name, pspec, str, &range, value, errp);
    }
    if (G_IS_PARAM_SPEC_DOUBLE(pspec) || G_IS_PARAM_SPEC_FLOAT(pspec)) {
        return parse_double(type_name, pspec, str, value, errp);
    }
    if (G_IS_PARAM_SPEC_ENUM(pspec)) {
        return parse_enum(type_name, pspec, str, value, errp);
    }
    if (G_IS_PARAM_SPEC_STRING(pspec)) {
        g_value_set_string(value, str);
        return TRUE;
    }
    if (G_IS_PARAM_SPEC_OBJECT(pspec) &&
        g_type_is_a(pspec->value_type, QOM_TYPE_OBJECT)) {
        return parse_link(pspec, str, value, errp);
    }
    g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                "%s: property '%s' cannot be set from a string", type_name,
                pspec->name);
    return FALSE;
}

gboolean qom_property_parse(const char *type_name, GParamSpec *pspec, const char *str,
                            GValue *value, GError **errp)
{
    g_return_val_if_fail(G_IS_PARAM_SPEC(pspec), FALSE);
    g_return_val_if_fail(str != NULL, FALSE);
    g_return_val_if_fail(value != NULL && !G_IS_VALUE(value), FALSE);

    if (!type_name) {
        type_name = qom_type_display_name(pspec->owner_type);
    }
    g_value_init(value, pspec->value_type);
    if (!parse_any(type_name, pspec, str, value, errp)) {
        qom_error_make_printable(errp);
        g_value_unset(value);
        return FALSE;
    }
    return TRUE;
}

/*
 * qom/help.c - "-object help" and "-object TYPE,help".
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "qom-internal.h"

static gboolean is_help_word(const char *s)
{
    return strcmp(s, "help") == 0 || strcmp(s, "?") == 0;
}

static char *list_types(GType base, const char *what)
{
    g_auto(GStrv) names = qom_type_list(base);
    GString *out = g_string_new(NULL);

    g_string_append_printf(out, "Available %s types:\n", what);
    for (char **n = names; *n; n++) {
        g_string_append_printf(out, "  %s\n", *n);
    }
    return g_string_free(out, FALSE);
}

static gint compare_pspecs(gconstpointer a, gconstpointer b)
{
    return strcmp((*(GParamSpec *const *)a)->name, (*(GParamSpec *const *)b)->name);
}

/* "  name=<type>  - description (default: x)\n" */
static void describe_property(GString *out, GParamSpec *pspec)
{
    g_autofree char *type = qom_param_spec_type_string(pspec);
    const char *blurb = g_param_spec_get_blurb(pspec);
    const GValue *def = g_param_spec_get_default_value(pspec);
    g_autofree char *def_str = qom_value_to_string(pspec, def);
    gboolean has_blurb = blurb && *blurb;

    g_string_append_printf(out, "  %s%s=<%s>", pspec->name,
                           qom_param_spec_is_map(pspec) ? ".NAME" : "", type);
    if (has_blurb || def_str) {
        g_string_append(out, "  -");
    }
    if (has_blurb) {
        g_string_append_printf(out, " %s", blurb);
    }
    if (def_str) {
        g_string_append_printf(out, " (default: %s)", def_str);
    }
    g_string_append_c(out, '\n');
}

static char *describe_type(GType type, const char *type_name)
{
    GObjectClass *klass = g_type_class_ref(type);
    guint n_pspecs;
    GParamSpec **pspecs = g_object_class_list_properties(klass, &n_pspecs);
    GString *out = g_string_new(NULL);
    guint shown = 0;

    qsort(pspecs, n_pspecs, sizeof(*pspecs),
          (int (*)(const void *, const void *))compare_pspecs);
    g_string_append_printf(out, "%s options:\n", type_name);
    for (guint i = 0; i < n_pspecs; i++) {
        GParamSpec *pspec = pspecs[i];
        if (!(pspec->flags & G_PARAM_WRITABLE) || strcmp(pspec->name, "id") == 0) {
            continue;
        }
        describe_property(out, pspec);
        shown++;
    }
    if (!shown) {
        g_string_append(out, "  (none besides id)\n");
    }
    g_free(pspecs);
    g_type_class_unref(klass);
    return g_string_free(out, FALSE);
}

char *qom_help_string(GType base, const char *what, const char *optarg,
                      gboolean *is_help, GError **errp)
{
    g_autoptr(GArray) opts = NULL;
    const char *type_name;
    GType type;

    g_return_val_if_fail(is_help != NULL, NULL);
    *is_help = FALSE;
    if (!optarg) {
        return NULL;
    }
    what = what ? what : "object";
    if (is_help_word(optarg)) {
        *is_help = TRUE;
        return list_types(base, what);
    }
    opts = qom_opts_parse(optarg, "type", NULL);
    if (!opts || (!qom_opts_get(opts, "help") && !qom_opts_get(opts, "?"))) {
        return NULL; /* not a help request: creation reports any syntax error */
    }
    *is_help = TRUE;
    type_name = qom_opts_get(opts, "type");
    type = type_name ? qom_type_lookup(type_name) : G_TYPE_INVALID;
    if (!type || !g_type_is_a(type, base)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE, "unknown %s type '%s'",
                    what, type_name ? type_name : "");
        return NULL;
    }
    return describe_type(type, type_name);
}

/*
 * qom/opts.c - QEMU option syntax: "TYPE,id=ID,key=value,...".
 *
 * Elements are separated by ','; ",," stands for a literal comma.  An
 * element "key=value" sets key; a bare "key" means key=on, except that the
 * first element may be the value of an implied key (e.g. the type).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "qom-internal.h"

static void opt_clear(gpointer data)
{
    QomOpt *opt = data;

    g_free(opt->key);
    g_free(opt->value);
}

void qom_opts_free(GArray *opts)
{
    if (opts) {
        g_array_unref(opts);
    }
}

const char *qom_opts_get(GArray *opts, const char *key)
{
    g_return_val_if_fail(key != NULL, NULL);
    if (!opts) {
        return NULL;
    }
    for (guint i = 0; i < opts->len; i++) {
        QomOpt *opt = &g_array_index(opts, QomOpt, i);
        if (strcmp(opt->key, key) == 0) {
            return opt->value;
        }
    }
    return NULL;
}

/*
 * Copy one element starting at *@p into @buf, turning ",," into ',', and
 * leave *@p after the separating comma.  Returns FALSE at the end of input.
 * *@eq is the offset of the first '=' in @buf, or -1.
 */
static gboolean next_element(const char **p, GString *buf, gssize *eq)
{
    const char *s = *p;

    if (!s) {
        return FALSE;
    }
    g_string_truncate(buf, 0);
    *eq = -1;
    for (;; s++) {
        if (*s == ',' && s[1] == ',') {
            g_string_append_c(buf, ',');
            s++;
        } else if (*s == ',' || *s == '\0') {
            break;
        } else {
            if (*s == '=' && *eq < 0) {
                *eq = buf->len;
            }
            g_string_append_c(buf, *s);
        }
    }
    *p = *s == ',' ? s + 1 : NULL;
    return TRUE;
}

static gboolean needs_escape(const char *p, gunichar *c)
{
    *c = g_utf8_get_char_validated(p, -1);
    return *c == (gunichar)-1 || *c == (gunichar)-2 || *c < 0x20 || *c == 0x7f;
}

void qom_error_make_printable(GError **errp)
{
    GString *s;
    gunichar c;
    const char *p;

    if (!errp || !*errp || !(*errp)->message) {
        return;
    }
    for (p = (*errp)->message; *p && !needs_escape(p, &c); p = g_utf8_next_char(p)) {
    }
    if (!*p) {
        return; /* the common case: nothing to do */
    }
    s = g_string_new_len((*errp)->message, p - (*errp)->message);
    while (*p) {
        if (needs_escape(p, &c)) {
            g_string_append_printf(s, "\\x%02x", (guchar)*p);
            p++;
        } else {
            const char *next = g_utf8_next_char(p);
            g_string_append_len(s, p, next - p);
            p = next;
        }
    }
    g_free((*errp)->message);
    (*errp)->message = g_string_free(s, FALSE);
}

static gboolean add_opt(GArray *opts, char *key, char *value, const char *optarg,
                        GError **errp)
{
    QomOpt opt = {key, value};

    if (*key == '\0') {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "empty parameter name in '%s'", optarg);
        g_free(key);
        g_free(value);
        return FALSE;
    }
    if (qom_opts_get(opts, key)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "parameter '%s' is given more than once", key);
        g_free(key);
        g_free(value);
        return FALSE;
    }
    g_array_append_val(opts, opt);
    return TRUE;
}

GArray *qom_opts_parse(const char *optarg, const char *implied_key, GError **errp)
{
    GArray *opts = g_array_new(FALSE, FALSE, sizeof(QomOpt));
    g_autoptr(GString) buf = g_string_new(NULL);
    const char *p = optarg;
    gboolean first = TRUE;
    gssize eq;

    g_return_val_if_fail(optarg != NULL, NULL);
    g_array_set_clear_func(opts, opt_clear);
    if (*optarg == '\0') {
        return opts;
    }
    while (next_element(&p, buf, &eq)) {
        char *key, *value;

        if (eq >= 0) {
            key = g_strndup(buf->str, eq);
            value = g_strdup(buf->str + eq + 1);
        } else if (first && implied_key) {
            key = g_strdup(implied_key);
            value = g_strdup(buf->str);
        } else {
            key = g_strdup(buf->str);
            value = g_strdup("on");
        }
        first = FALSE;
        if (!add_opt(opts, key, value, optarg, errp)) {
            qom_error_make_printable(errp);
            qom_opts_free(opts);
            return NULL;
        }
    }
    return opts;
}

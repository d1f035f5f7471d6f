/*
 * qcontext/cpulist.c - CPU lists ("0,2-3") for the cpu-affinity property.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "qcontext-internal.h"

/* The largest CPU number we accept (the kernel's NR_CPUS is at most 8192). */
#define CPULIST_MAX_CPU 8191

static gint cmp_uint(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a, y = *(const guint *)b;

    return x < y ? -1 : x > y;
}

/* Sort and drop duplicates. */
static void cpus_normalize(GArray *cpus)
{
    guint out = 0;

    g_array_sort(cpus, cmp_uint);
    for (guint i = 0; i < cpus->len; i++) {
        guint c = g_array_index(cpus, guint, i);
        if (out == 0 || g_array_index(cpus, guint, out - 1) != c) {
            g_array_index(cpus, guint, out++) = c;
        }
    }
    g_array_set_size(cpus, out);
}

static gboolean parse_cpu(const char **p, guint *cpu)
{
    char *end;
    unsigned long v;

    if (!g_ascii_isdigit(**p)) {
        return FALSE;
    }
    errno = 0;
    v = strtoul(*p, &end, 10);
    if (errno || v > CPULIST_MAX_CPU) {
        return FALSE;
    }
    *p = end;
    *cpu = v;
    return TRUE;
}

/* One element: "N" or "N-M" with N <= M. */
static gboolean parse_range(const char **p, GArray *cpus)
{
    guint lo, hi;

    if (!parse_cpu(p, &lo)) {
        return FALSE;
    }
    hi = lo;
    if (**p == '-') {
        (*p)++;
        if (!parse_cpu(p, &hi) || hi < lo) {
            return FALSE;
        }
    }
    for (guint c = lo; c <= hi; c++) {
        g_array_append_val(cpus, c);
    }
    return TRUE;
}

GArray *qcontext_parse_cpulist(const char *str, GError **errp)
{
    GArray *cpus = g_array_new(FALSE, FALSE, sizeof(guint));
    const char *p = str ? str : "";

    for (;;) {
        if (!parse_range(&p, cpus) || (*p != ',' && *p != '\0')) {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                        "cpu-affinity: invalid CPU list '%s' (expected CPU numbers "
                        "and ranges like '0,2-3', each at most %d)",
                        str ? str : "", CPULIST_MAX_CPU);
            g_array_unref(cpus);
            return NULL;
        }
        if (*p == '\0') {
            break;
        }
        p++;
    }
    cpus_normalize(cpus);
    return cpus;
}

GArray *qcontext_online_cpus(void)
{
    g_autofree char *text = NULL;
    GArray *cpus = NULL;

    if (g_file_get_contents("/sys/devices/system/cpu/online", &text, NULL, NULL)) {
        g_strstrip(text);
        cpus = qcontext_parse_cpulist(text, NULL);
    }
    if (!cpus) {
        long n = sysconf(_SC_NPROCESSORS_CONF);
        cpus = g_array_new(FALSE, FALSE, sizeof(guint));
        for (guint c = 0; c < (guint)MAX(n, 1); c++) {
            g_array_append_val(cpus, c);
        }
    }
    return cpus;
}

char *qcontext_format_cpulist(GArray *cpus)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < cpus->len;) {
        guint lo = g_array_index(cpus, guint, i), hi = lo;
        while (++i < cpus->len && g_array_index(cpus, guint, i) == hi + 1) {
            hi++;
        }
        g_string_append_printf(s, "%s%u", s->len ? "," : "", lo);
        if (hi != lo) {
            g_string_append_printf(s, "-%u", hi);
        }
    }
    return g_string_free(s, FALSE);
}

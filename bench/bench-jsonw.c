/*
 * bench/bench-jsonw.c - a minimal pretty-printing JSON writer shared by the
 * benchmarks' --json output (bench-json.c, bench-blk-report.c).
 *
 * Written by hand so that numbers keep a readable precision (json-glib 1.6
 * prints every double with 17 digits); bench_json_print() parses the text
 * back with json-glib before printing it, so malformed output is caught.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include <json-glib/json-glib.h>

#include "bench.h"

static void jo_newline(JsonOut *o)
{
    g_string_append_c(o->s, '\n');
    for (int i = 0; i < o->depth; i++) {
        g_string_append(o->s, "  ");
    }
}

static void jo_quote(JsonOut *o, const char *text)
{
    g_string_append_c(o->s, '"');
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            g_string_append_c(o->s, '\\');
            g_string_append_c(o->s, (char)*p);
        } else if (*p < 0x20) {
            g_string_append_printf(o->s, "\\u%04x", *p);
        } else {
            g_string_append_c(o->s, (char)*p);
        }
    }
    g_string_append_c(o->s, '"');
}

/* the separator and, inside an object, the key of the next value */
static void jo_key(JsonOut *o, const char *key)
{
    if (o->depth > 0) {
        if (!o->first[o->depth]) {
            g_string_append_c(o->s, ',');
        }
        o->first[o->depth] = FALSE;
        jo_newline(o);
    }
    if (key) {
        jo_quote(o, key);
        g_string_append(o->s, ": ");
    }
}

void jo_open(JsonOut *o, const char *key, char bracket)
{
    jo_key(o, key);
    g_string_append_c(o->s, bracket);
    g_assert(o->depth + 1 < JSON_MAX_DEPTH);
    o->first[++o->depth] = TRUE;
}

void jo_close(JsonOut *o, char bracket)
{
    gboolean empty = o->first[o->depth];

    o->depth--;
    if (!empty) {
        jo_newline(o);
    }
    g_string_append_c(o->s, bracket);
}

void jo_str(JsonOut *o, const char *key, const char *v)
{
    jo_key(o, key);
    jo_quote(o, v ? v : "");
}

void jo_bool(JsonOut *o, const char *key, gboolean v)
{
    jo_key(o, key);
    g_string_append(o->s, v ? "true" : "false");
}

void jo_int(JsonOut *o, const char *key, gint64 v)
{
    jo_key(o, key);
    g_string_append_printf(o->s, "%" G_GINT64_FORMAT, v);
}

/* 4 significant digits after the point is plenty for these measurements */
void jo_num(JsonOut *o, const char *key, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    jo_key(o, key);
    if (!isfinite(v)) {
        g_string_append(o->s, "null");
        return;
    }
    g_string_append(o->s, g_ascii_formatd(buf, sizeof(buf), "%.4f", v));
}

gboolean bench_json_print(JsonOut *o)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    gboolean ok =
        json_parser_load_from_data(parser, o->s->str, (gssize)o->s->len, &err);

    g_print("%s\n", o->s->str);
    if (!ok) {
        g_printerr(
            "qcontext-bench: internal error: the JSON output does not parse: %s\n",
            err->message);
    }
    g_string_free(o->s, TRUE);
    o->s = NULL;
    return ok;
}

/*
 * main-loop/programs/readconfig.c - qcontextd's -readconfig files: our
 * one-option-per-line form and QEMU's [section] / key = "value" form (see
 * readconfig.h).  Line-oriented: each line is a comment, a blank, an
 * option, a section header or a key of the open section.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readconfig.h"

/* A QEMU section being read. */
typedef struct {
    char *group;     /* "object", "device"...; NULL when none is open */
    char *id;        /* from [group "id"], or NULL */
    char *where;     /* "FILE:LINE: " of its header */
    GPtrArray *keys; /* char *key, char *value, alternately */
} Section;

typedef struct {
    ReadconfigFunc fn;
    void *opaque;
    GPtrArray *stack; /* canonical paths of the files being read, outermost first */
} Reader;

/* The sections qcontextd understands: group, option, key naming the type. */
static const struct {
    const char *group, *option, *type_key;
} groups[] = {
    {"object", "-object", "qom-type"},
    {"device", "-device", "driver"},
    {"drive", "-drive", NULL},
    {"name", "-name", NULL},
};

static gboolean read_file(Reader *r, const char *path, gboolean *located,
                          GError **errp);

static void section_clear(Section *s)
{
    g_clear_pointer(&s->group, g_free);
    g_clear_pointer(&s->id, g_free);
    g_clear_pointer(&s->where, g_free);
    g_ptr_array_set_size(s->keys, 0);
}

/* ------------------------------------------------------------------------ */
/* Reading a file                                                            */
/* ------------------------------------------------------------------------ */

/* The whole file, NUL-terminated; "-readconfig PATH: why" on failure. */
static char *slurp(const char *path, GError **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    GString *text;
    struct stat st;
    char buf[65536];
    gssize n;

    if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        int err = fd < 0 || !S_ISDIR(st.st_mode) ? errno : EISDIR;
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "-readconfig %s: %s",
                    path, g_strerror(err));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    text = g_string_new(NULL);
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 || text->len + n > READCONFIG_MAX_SIZE) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "-readconfig %s: %s", path,
                        n < 0 ? g_strerror(errno) : "larger than 1 MiB");
            close(fd);
            g_string_free(text, TRUE);
            return NULL;
        }
        g_string_append_len(text, buf, n);
    }
    close(fd);
    if (memchr(text->str, '\0', text->len)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "-readconfig %s: not a text file (it has NUL bytes)", path);
        g_string_free(text, TRUE);
        return NULL;
    }
    return g_string_free(text, FALSE);
}

/* "a.cfg -> b.cfg -> a.cfg": the include chain from @from back to @path. */
static char *include_chain(Reader *r, guint from, const char *path)
{
    GString *s = g_string_new(NULL);

    for (guint i = from; i < r->stack->len; i++) {
        g_string_append_printf(s, "%s -> ", (char *)r->stack->pdata[i]);
    }
    g_string_append(s, path);
    return g_string_free(s, FALSE);
}

/* "-readconfig FILE" met in a file: refuse loops, then read it in place. */
static gboolean read_include(Reader *r, const char *path, gboolean *located,
                             GError **errp)
{
    g_autofree char *canon = realpath(path, NULL);

    for (guint i = 0; canon && i < r->stack->len; i++) {
        if (!strcmp(r->stack->pdata[i], canon)) {
            g_autofree char *chain = include_chain(r, i, canon);
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        i + 1 == r->stack->len
                            ? "-readconfig %s: the file includes itself"
                            : "-readconfig %s: the files include each other (%s)",
                        path, chain);
            return FALSE;
        }
    }
    if (r->stack->len >= READCONFIG_MAX_DEPTH) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "-readconfig %s: includes nested more than %d deep", path,
                    READCONFIG_MAX_DEPTH);
        return FALSE;
    }
    return read_file(r, path, located, errp);
}

/* ------------------------------------------------------------------------ */
/* QEMU's sections                                                           */
/* ------------------------------------------------------------------------ */

/* Append ",KEY=VALUE" with commas in VALUE doubled (QEMU's escape). */
static void append_opt(GString *s, const char *key, const char *value)
{
    if (s->len) {
        g_string_append_c(s, ',');
    }
    if (key) {
        g_string_append_printf(s, "%s=", key);
    }
    for (const char *p = value; *p; p++) {
        g_string_append_c(s, *p);
        if (*p == ',') {
            g_string_append_c(s, ',');
        }
    }
}

/* Hand the open section (if any) to the callback as its option. */
static gboolean section_flush(Reader *r, Section *s, GError **errp)
{
    g_autoptr(GString) arg = g_string_new(NULL);
    const char *type = NULL, *type_key = NULL, *option = NULL;
    gboolean ok;

    if (!s->group) {
        return TRUE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(groups); i++) {
        if (!strcmp(groups[i].group, s->group)) {
            option = groups[i].option;
            type_key = groups[i].type_key;
        }
    }
    for (guint i = 0; type_key && i < s->keys->len; i += 2) {
        if (!strcmp(s->keys->pdata[i], type_key)) {
            type = s->keys->pdata[i + 1];
        }
    }
    if (type_key && !type) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s[%s] needs %s = \"TYPE\"", s->where, s->group, type_key);
        return FALSE;
    }
    if (type) {
        append_opt(arg, NULL, type);
    }
    if (s->id) {
        append_opt(arg, !strcmp(s->group, "name") ? "guest" : "id", s->id);
    }
    for (guint i = 0; i < s->keys->len; i += 2) {
        if (!type_key || strcmp(s->keys->pdata[i], type_key)) {
            append_opt(arg, s->keys->pdata[i], s->keys->pdata[i + 1]);
        }
    }
    ok = r->fn(option, arg->str, s->where, r->opaque, errp);
    if (!ok) {
        g_prefix_error(errp, "%s", s->where);
    }
    section_clear(s);
    return ok;
}

/* "[group]" or "[group "id"]". */
static gboolean section_open(Section *s, const char *line, const char *where,
                             GError **errp)
{
    const char *end = strchr(line, ']');
    g_autofree char *inner =
        end && !end[1] ? g_strndup(line + 1, end - line - 1) : NULL;
    char *quote = inner ? strchr(inner, '"') : NULL;
    gboolean known = FALSE;

    if (inner && quote) {
        gsize n = strlen(quote);
        if (n < 2 || quote[n - 1] != '"' || memchr(quote + 1, '"', n - 2)) {
            inner[0] = '\0'; /* malformed */
        } else {
            s->id = g_strndup(quote + 1, n - 2);
            *quote = '\0';
        }
    }
    if (!inner || !*g_strstrip(inner) || strpbrk(inner, " \t\"")) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "%sexpected a section header [GROUP] or [GROUP \"ID\"]", where);
        return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(groups); i++) {
        known |= !strcmp(groups[i].group, inner);
    }
    if (!known) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "%sthere is no option group '%s' (qcontextd reads [object], "
                    "[device], [drive] and [name])",
                    where, inner);
        return FALSE;
    }
    s->group = g_strdup(inner);
    s->where = g_strdup(where);
    return TRUE;
}

/* KEY = "VALUE" inside a section (QEMU's syntax: the quotes are required). */
static gboolean section_key(Section *s, char *line, const char *where, GError **errp)
{
    char *eq = strchr(line, '=');
    char *value = eq ? g_strstrip(eq + 1) : NULL;
    gsize n = value ? strlen(value) : 0;

    if (eq) {
        *eq = '\0';
        g_strstrip(line);
    }
    if (!eq || !*line || strpbrk(line, " \t\"") || n < 2 || value[0] != '"' ||
        value[n - 1] != '"' || memchr(value + 1, '"', n - 2)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "%sexpected KEY = \"VALUE\" (QEMU's -readconfig format), "
                    "[SECTION] or -OPTION [ARGUMENT]",
                    where);
        return FALSE;
    }
    if (!s->group) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "%s'%s = ...' comes before any [section]", where, line);
        return FALSE;
    }
    if (!strcmp(line, "id") && s->id) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "%sthe id is given twice (in the [%s \"%s\"] header too)", where,
                    s->group, s->id);
        return FALSE;
    }
    g_ptr_array_add(s->keys, g_strdup(line));
    g_ptr_array_add(s->keys, g_strndup(value + 1, n - 2));
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                     */
/* ------------------------------------------------------------------------ */

/* "-option [argument]": an include, or the callback's. */
static gboolean option_line(Reader *r, char *line, const char *where, GError **errp)
{
    char *arg = line + strcspn(line, " \t");
    const char *name = line + (line[1] == '-' ? 2 : 1);
    gboolean located = FALSE;

    if (*arg) {
        *arg++ = '\0';
        arg = g_strstrip(arg);
    }
    if (!strcmp(name, "readconfig") && *arg) {
        if (read_include(r, arg, &located, errp)) {
            return TRUE;
        }
        if (!located) {
            g_prefix_error(errp, "%s", where);
        }
        return FALSE;
    }
    if (!r->fn(line, *arg ? arg : NULL, where, r->opaque, errp)) {
        g_prefix_error(errp, "%s", where);
        return FALSE;
    }
    return TRUE;
}

static gboolean read_lines(Reader *r, const char *path, char **lines, GError **errp)
{
    Section s = {.keys = g_ptr_array_new_with_free_func(g_free)};
    gboolean ok = TRUE;

    for (guint n = 0; ok && lines[n]; n++) {
        char *line = g_strstrip(lines[n]);
        g_autofree char *where = g_strdup_printf("%s:%u: ", path, n + 1);

        if (!*line || *line == '#') {
            continue;
        }
        if (*line == '[') {
            ok = section_flush(r, &s, errp) && section_open(&s, line, where, errp);
        } else if (*line == '-') {
            ok = section_flush(r, &s, errp) && option_line(r, line, where, errp);
        } else {
            ok = section_key(&s, line, where, errp);
        }
    }
    ok = ok && section_flush(r, &s, errp);
    section_clear(&s);
    g_ptr_array_unref(s.keys);
    return ok;
}

/* Read @path; *@located is TRUE when the error names a FILE:LINE. */
static gboolean read_file(Reader *r, const char *path, gboolean *located, GError **errp)
{
    g_autofree char *text = slurp(path, errp);
    g_auto(GStrv) lines = NULL;
    char *canon;
    gboolean ok;

    *located = FALSE;
    if (!text) {
        return FALSE;
    }
    lines = g_strsplit(text, "\n", -1);
    canon = realpath(path, NULL);
    g_ptr_array_add(r->stack, canon ? canon : strdup(path));
    ok = read_lines(r, path, lines, errp);
    g_ptr_array_remove_index(r->stack, r->stack->len - 1);
    *located = !ok;
    return ok;
}

gboolean readconfig_file(const char *path, ReadconfigFunc fn, void *opaque,
                         GError **errp)
{
    Reader r = {fn, opaque, g_ptr_array_new_with_free_func(free)};
    gboolean located, ok = read_file(&r, path, &located, errp);

    g_ptr_array_unref(r.stack);
    return ok;
}

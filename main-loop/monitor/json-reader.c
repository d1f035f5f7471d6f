/*
 * main-loop/monitor/json-reader.c - a strict JSON reader (RFC 8259) for
 * client messages.
 *
 * json-glib's parser is lenient where the monitor must not be: it reads
 * 1e99999 as an infinity (written back as "inf.0", which is not JSON),
 * wraps integers beyond 64 bits (2^64 + 1 becomes -1), keeps the last of
 * duplicate keys (so {"execute":"query-name","execute":"quit"} quits), and
 * takes single quotes, comments and leading zeros.  This reader refuses all
 * of these with a one-line reason and builds json-glib nodes, so replies
 * echo exactly what was read.  Also refused, as QEMU does: "\u0000" and
 * unpaired surrogates; and bytes that are not UTF-8.
 *
 * Recursive descent over a complete message (the framer has already cut
 * it), nested at most JSON_READER_MAX_DEPTH deep.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "monitor-priv.h"

#define JSON_READER_MAX_DEPTH 1024
#define JSON_READER_QUOTE_MAX 40 /* longest literal quoted in a message */

typedef struct {
    const char *p, *end;
    guint depth;
    GError **errp;
} Reader;

static JsonNode *read_value(Reader *r);

static gboolean fail(Reader *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean fail(Reader *r, const char *fmt, ...)
{
    g_autofree char *why = NULL;
    va_list ap;

    va_start(ap, fmt);
    why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(r->errp, MONITOR_ERROR, 0, "JSON parse error: %s", why);
    return FALSE;
}

/* A printable rendering of the next character, for messages. */
static char *here(Reader *r)
{
    if (r->p >= r->end) {
        return g_strdup("end of input");
    }
    if ((unsigned char)*r->p >= 0x20 && (unsigned char)*r->p < 0x7f) {
        return g_strdup_printf("'%c'", *r->p);
    }
    return g_strdup_printf("byte 0x%02x", (unsigned char)*r->p);
}

static gboolean unexpected(Reader *r, const char *wanted)
{
    g_autofree char *what = here(r);

    return fail(r, "unexpected %s, expected %s", what, wanted);
}

static void skip_space(Reader *r)
{
    while (r->p < r->end &&
           (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
        r->p++;
    }
}

/* ------------------------------------------------------------------------ */
/* Literals and numbers                                                      */
/* ------------------------------------------------------------------------ */

static JsonNode *read_literal(Reader *r)
{
    static const char *const words[] = {"true", "false", "null"};

    for (guint i = 0; i < G_N_ELEMENTS(words); i++) {
        gsize n = strlen(words[i]);
        if ((gsize)(r->end - r->p) >= n && !memcmp(r->p, words[i], n)) {
            r->p += n;
            if (i == 2) {
                return json_node_init_null(json_node_alloc());
            }
            return json_node_init_boolean(json_node_alloc(), i == 0);
        }
    }
    unexpected(r, "a value");
    return NULL;
}

static gboolean is_digit(Reader *r)
{
    return r->p < r->end && *r->p >= '0' && *r->p <= '9';
}

/* Skip one or more digits; FALSE (with the error set) if there is none. */
static gboolean skip_digits(Reader *r)
{
    if (!is_digit(r)) {
        return unexpected(r, "a digit");
    }
    while (is_digit(r)) {
        r->p++;
    }
    return TRUE;
}

static gboolean out_of_range(Reader *r, const char *text, gsize len, gboolean integer)
{
    return fail(r, "%s %.*s%s is out of range (%s)", integer ? "integer" : "number",
                (int)MIN(len, JSON_READER_QUOTE_MAX), text,
                len > JSON_READER_QUOTE_MAX ? "..." : "",
                integer ? "integers are 64-bit signed"
                        : "numbers are IEEE doubles, infinities are not JSON");
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static JsonNode *read_number(Reader *r)
{
    const char *start = r->p;
    gboolean integer = TRUE;
    g_autofree char *text = NULL;
    char *endp;

    if (*r->p == '-') {
        r->p++;
    }
    if (r->p < r->end && *r->p == '0') {
        r->p++;
        if (is_digit(r)) {
            fail(r, "a number must not start with 0");
            return NULL;
        }
    } else if (!skip_digits(r)) {
        return NULL;
    }
    if (r->p < r->end && *r->p == '.') {
        integer = FALSE;
        r->p++;
        if (!skip_digits(r)) {
            return NULL;
        }
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        integer = FALSE;
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-')) {
            r->p++;
        }
        if (!skip_digits(r)) {
            return NULL;
        }
    }
    text = g_strndup(start, r->p - start);
    errno = 0;
    if (integer) {
        gint64 v = g_ascii_strtoll(text, &endp, 10);
        if (errno == ERANGE) {
            out_of_range(r, start, r->p - start, TRUE);
            return NULL;
        }
        return json_node_init_int(json_node_alloc(), v);
    }
    double d = g_ascii_strtod(text, &endp);
    if (!isfinite(d)) {
        out_of_range(r, start, r->p - start, FALSE);
        return NULL;
    }
    return json_node_init_double(json_node_alloc(), d); /* underflow: 0 */
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */
/* ------------------------------------------------------------------------ */

static gboolean read_hex4(Reader *r, gunichar *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int v = r->p < r->end ? g_ascii_xdigit_value(*r->p) : -1;
        if (v < 0) {
            return fail(r, "\\u must be followed by four hex digits");
        }
        *out = *out * 16 + v;
        r->p++;
    }
    return TRUE;
}

/* After "\u": one code point, a surrogate pair making one. */
static gboolean read_unicode_escape(Reader *r, GString *s)
{
    gunichar c, lo;

    if (!read_hex4(r, &c)) {
        return FALSE;
    }
    if (c == 0) {
        return fail(r, "\\u0000 is not supported");
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
        return fail(r, "unpaired low surrogate \\u%04x", c);
    }
    if (c >= 0xd800 && c <= 0xdbff) {
        if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u') {
            return fail(r, "unpaired high surrogate \\u%04x", c);
        }
        r->p += 2;
        if (!read_hex4(r, &lo)) {
            return FALSE;
        }
        if (lo < 0xdc00 || lo > 0xdfff) {
            return fail(r, "unpaired high surrogate \\u%04x", c);
        }
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
    }
    g_string_append_unichar(s, c);
    return TRUE;
}

static gboolean read_escape(Reader *r, GString *s)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;

    if (r->p >= r->end) {
        return unexpected(r, "an escape");
    }
    if (*r->p == 'u') {
        r->p++;
        return read_unicode_escape(r, s);
    }
    hit = *r->p ? strchr(from, *r->p) : NULL;
    if (!hit) {
        g_autofree char *what = here(r);
        return fail(r, "invalid escape \\ followed by %s", what);
    }
    g_string_append_c(s, to[hit - from]);
    r->p++;
    return TRUE;
}

/* A string; the opening quote is at r->p.  Returns its UTF-8 text. */
static char *read_string(Reader *r)
{
    g_autoptr(GString) s = g_string_new(NULL);
    const char *run;

    r->p++;
    for (;;) {
        run = r->p;
        while (r->p < r->end && *r->p != '"' && *r->p != '\\' &&
               (unsigned char)*r->p >= 0x20) {
            r->p++;
        }
        if (!g_utf8_validate(run, r->p - run, NULL)) {
            fail(r, "a string is not valid UTF-8");
            return NULL;
        }
        g_string_append_len(s, run, r->p - run);
        if (r->p >= r->end) {
            fail(r, "unterminated string");
            return NULL;
        }
        if (*r->p == '"') {
            r->p++;
            return g_string_free(g_steal_pointer(&s), FALSE);
        }
        if (*r->p != '\\') {
            fail(r, "control character 0x%02x in a string", (unsigned char)*r->p);
            return NULL;
        }
        r->p++;
        if (!read_escape(r, s)) {
            return NULL;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Objects and arrays                                                        */
/* ------------------------------------------------------------------------ */

/* After '[' or '{': the next token is @close (empty) or a member follows. */
static gboolean at_close(Reader *r, char close)
{
    skip_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return TRUE;
    }
    return FALSE;
}

/* After a member: ',' (more follow, TRUE) or @close (done, *done set). */
static gboolean after_member(Reader *r, char close, gboolean *done)
{
    skip_space(r);
    if (r->p < r->end && (*r->p == ',' || *r->p == close)) {
        *done = *r->p++ == close;
        return TRUE;
    }
    return unexpected(r, close == '}' ? "',' or '}'" : "',' or ']'");
}

static gboolean read_member(Reader *r, JsonObject *obj)
{
    g_autofree char *key = NULL;
    JsonNode *val;

    skip_space(r);
    if (r->p >= r->end || *r->p != '"') {
        return unexpected(r, "a string key");
    }
    key = read_string(r);
    if (!key) {
        return FALSE;
    }
    skip_space(r);
    if (r->p >= r->end || *r->p != ':') {
        return unexpected(r, "':'");
    }
    r->p++;
    if (json_object_has_member(obj, key)) {
        return fail(r, "duplicate key '%.*s'", JSON_READER_QUOTE_MAX, key);
    }
    val = read_value(r);
    if (!val) {
        return FALSE;
    }
    json_object_set_member(obj, key, val);
    return TRUE;
}

static JsonNode *read_object(Reader *r)
{
    g_autoptr(JsonObject) obj = json_object_new();
    gboolean done = FALSE;

    r->p++;
    if (!at_close(r, '}')) {
        while (!done) {
            if (!read_member(r, obj) || !after_member(r, '}', &done)) {
                return NULL;
            }
        }
    }
    return json_node_init_object(json_node_alloc(), obj);
}

static JsonNode *read_array(Reader *r)
{
    g_autoptr(JsonArray) arr = json_array_new();
    gboolean done = FALSE;

    r->p++;
    if (!at_close(r, ']')) {
        while (!done) {
            JsonNode *v = read_value(r);
            if (!v) {
                return NULL;
            }
            json_array_add_element(arr, v);
            if (!after_member(r, ']', &done)) {
                return NULL;
            }
        }
    }
    return json_node_init_array(json_node_alloc(), arr);
}

static JsonNode *read_value(Reader *r)
{
    JsonNode *node;
    char c;

    skip_space(r);
    if (r->p >= r->end) {
        unexpected(r, "a value");
        return NULL;
    }
    c = *r->p;
    if (c == '{' || c == '[') {
        if (++r->depth > JSON_READER_MAX_DEPTH) {
            fail(r, "nested deeper than %d", JSON_READER_MAX_DEPTH);
            return NULL;
        }
        node = c == '{' ? read_object(r) : read_array(r);
        r->depth--;
        return node;
    }
    if (c == '"') {
        char *s = read_string(r);
        if (!s) {
            return NULL;
        }
        node = json_node_init_string(json_node_alloc(), s);
        g_free(s);
        return node;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        return read_number(r);
    }
    return read_literal(r);
}

JsonNode *monitor_json_read(const char *text, gsize len, GError **errp)
{
    Reader r = {.p = text, .end = text + len, .errp = errp};
    JsonNode *node = read_value(&r);

    if (!node) {
        return NULL;
    }
    skip_space(&r);
    if (r.p < r.end) {
        unexpected(&r, "the end of the message");
        json_node_unref(node);
        return NULL;
    }
    return node;
}

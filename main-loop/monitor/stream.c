/*
 * main-loop/monitor/stream.c - split a byte stream into JSON messages.
 *
 * The framer is a small state machine over bytes.  Between messages it
 * skips whitespace; '{' or '[' start a structured message that ends when
 * its brackets balance (brackets inside strings do not count); '"' starts a
 * top-level string (a raw control character such as a newline inside any
 * string ends the message as an error); anything else starts a top-level scalar that
 * ends at the next whitespace or structural character.  A stray '}' or ']' is an error
 * of its own.
 *
 * SPDX-License-Identifier: MIT
 */
#include "monitor-stream.h"

typedef enum {
    STREAM_IDLE,   /* between messages */
    STREAM_STRUCT, /* inside an object or array */
    STREAM_STRING, /* a top-level string */
    STREAM_SCALAR, /* a top-level number/literal/garbage token */
} StreamMode;

struct MonitorStream {
    MonitorStreamFunc fn;
    void *opaque;
    gsize max_len;
    guint max_depth;

    GString *buf;
    StreamMode mode;
    guint depth;
    gboolean in_string;
    gboolean escape;
    gboolean discarding; /* the current message was reported as an error */
};

MonitorStream *monitor_stream_new(gsize max_len, guint max_depth, MonitorStreamFunc fn,
                                  void *opaque)
{
    MonitorStream *s = g_new0(MonitorStream, 1);

    s->fn = fn;
    s->opaque = opaque;
    s->max_len = max_len;
    s->max_depth = max_depth;
    s->buf = g_string_new(NULL);
    return s;
}

void monitor_stream_free(MonitorStream *s)
{
    if (!s) {
        return;
    }
    g_string_free(s->buf, TRUE);
    g_free(s);
}

static void stream_reset(MonitorStream *s)
{
    g_string_truncate(s->buf, 0);
    s->mode = STREAM_IDLE;
    s->depth = 0;
    s->in_string = FALSE;
    s->escape = FALSE;
    s->discarding = FALSE;
}

/* Report the current message as dropped; keep tracking until it ends. */
static void stream_fail(MonitorStream *s, const char *why)
{
    if (s->discarding) {
        return;
    }
    s->discarding = TRUE;
    g_string_truncate(s->buf, 0);
    s->fn(s->opaque, NULL, 0, why);
}

static void stream_complete(MonitorStream *s)
{
    if (!s->discarding) {
        s->fn(s->opaque, s->buf->str, s->buf->len, NULL);
    }
    stream_reset(s);
}

static void stream_append(MonitorStream *s, char c)
{
    if (s->discarding) {
        return;
    }
    if (s->buf->len >= s->max_len) {
        char *why =
            g_strdup_printf("JSON message exceeds the size limit of %" G_GSIZE_FORMAT
                            " bytes; discarded",
                            s->max_len);
        stream_fail(s, why);
        g_free(why);
        return;
    }
    g_string_append_c(s->buf, c);
}

static gboolean is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static gboolean is_delimiter(char c)
{
    return is_space(c) || c == '{' || c == '}' || c == '[' || c == ']' || c == '"' ||
           c == ',' || c == ':';
}

/*
 * A raw control character (a newline...) inside a string is invalid JSON
 * and almost always means a missing closing quote: report the message and
 * start afresh after it, so that the next line is a new message instead of
 * more of an endless string.
 */
static gboolean stream_string_broken(MonitorStream *s, char c)
{
    if ((unsigned char)c >= 0x20) {
        return FALSE;
    }
    stream_fail(s, "JSON parse error: control character in a string (a missing '\"'?)");
    stream_reset(s);
    return TRUE;
}

/* Inside a string: returns TRUE when @c closes it. */
static gboolean stream_string_char(MonitorStream *s, char c)
{
    if (s->escape) {
        s->escape = FALSE;
    } else if (c == '\\') {
        s->escape = TRUE;
    } else if (c == '"') {
        s->in_string = FALSE;
        return TRUE;
    }
    return FALSE;
}

static void stream_idle_char(MonitorStream *s, char c)
{
    if (is_space(c)) {
        return;
    }
    if (c == '}' || c == ']') {
        char why[64];
        g_snprintf(why, sizeof(why), "JSON parse error: unexpected '%c'", c);
        s->fn(s->opaque, NULL, 0, why);
        return;
    }
    if (c == '{' || c == '[') {
        s->mode = STREAM_STRUCT;
        s->depth = 1;
    } else if (c == '"') {
        s->mode = STREAM_STRING;
        s->in_string = TRUE;
    } else {
        s->mode = STREAM_SCALAR;
    }
    stream_append(s, c);
}

static void stream_struct_char(MonitorStream *s, char c)
{
    if (s->in_string && stream_string_broken(s, c)) {
        return;
    }
    stream_append(s, c);
    if (s->in_string) {
        stream_string_char(s, c);
        return;
    }
    switch (c) {
    case '"':
        s->in_string = TRUE;
        break;
    case '{':
    case '[':
        s->depth++;
        if (s->depth > s->max_depth) {
            stream_fail(s, "JSON nesting depth limit exceeded; message discarded");
        }
        break;
    case '}':
    case ']':
        if (--s->depth == 0) {
            stream_complete(s);
        }
        break;
    default:
        break;
    }
}

void monitor_stream_feed(MonitorStream *s, const char *buf, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        char c = buf[i];

        switch (s->mode) {
        case STREAM_IDLE:
            stream_idle_char(s, c);
            break;
        case STREAM_STRUCT:
            stream_struct_char(s, c);
            break;
        case STREAM_STRING:
            if (stream_string_broken(s, c)) {
                break;
            }
            stream_append(s, c);
            if (stream_string_char(s, c)) {
                stream_complete(s);
            }
            break;
        case STREAM_SCALAR:
            if (is_delimiter(c)) {
                stream_complete(s);
                stream_idle_char(s, c); /* the delimiter may start a message */
            } else {
                stream_append(s, c);
            }
            break;
        }
    }
}

void monitor_stream_finish(MonitorStream *s)
{
    if (s->mode == STREAM_SCALAR) {
        stream_complete(s);
    }
    stream_reset(s);
}

/*
 * main-loop/programs/ctl.h - qcontext-ctl's parts: the client side of QMP
 * (ctl-client.c), help from the daemon's schema (ctl-help.c), top
 * (ctl-top.c), the events mode and the interactive shell (ctl-shell.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_CTL_H
#define QCONTEXT_CTL_H

#include <glib.h>
#include <json-glib/json-glib.h>

#define CTL_PRG "qcontext-ctl"

/** How long to wait for a reply before giving up (ms). */
#define CTL_TIMEOUT_MS 60000

typedef struct Ctl Ctl;

/** Called for each event received while waiting for a reply (borrowed). */
typedef void (*CtlEventFunc)(JsonObject *event, void *opaque);

/** A connection to qcontextd's monitor. */
struct Ctl {
    int fd;
    GString *in;
    gint64 next_id;
    JsonObject *greeting;
    char *shutdown_reason; /* set once a SHUTDOWN event arrived */
    CtlEventFunc on_event; /* may be NULL: events are dropped */
    void *opaque;
};

/**
 * ctl_open: connect to @path, read the greeting and negotiate capabilities.
 * FALSE with @errp set (and @q closed) on failure.
 */
gboolean ctl_open(Ctl *q, const char *path, GError **errp);

/** ctl_close: close the connection (idempotent). */
void ctl_close(Ctl *q);

/**
 * ctl_read: the next message (an event or a reply), waiting at most
 * @timeout_ms (-1: forever).  NULL with @errp set on timeout
 * (G_IO_ERROR_TIMED_OUT), end of stream (G_IO_ERROR_CONNECTION_CLOSED) or
 * bad data.  A SHUTDOWN event also sets q->shutdown_reason.
 */
JsonObject *ctl_read(Ctl *q, int timeout_ms, GError **errp);

/**
 * ctl_execute: run @cmd with @args (borrowed; NULL or empty for none) and
 * return its reply ({"return": ...} or {"error": ...}); events that come
 * first go to q->on_event.
 */
JsonObject *ctl_execute(Ctl *q, const char *cmd, JsonObject *args, GError **errp);

/**
 * ctl_execute_raw: send @text (one JSON message, as typed) and return the
 * reply: the message with the same "id" if @text has one, else the next
 * message that is not an event.
 */
JsonObject *ctl_execute_raw(Ctl *q, const char *text, GError **errp);

/**
 * ctl_reply_value: the "return" member of @reply (borrowed), or NULL with
 * @errp set to "CLASS: desc" for an error reply.
 */
JsonNode *ctl_reply_value(JsonObject *reply, GError **errp);

/** ctl_print_json: @node on stdout, pretty (2-space indent) or compact. */
void ctl_print_json(JsonNode *node, gboolean pretty);

/** ctl_print_object: as ctl_print_json() for an object. */
void ctl_print_object(JsonObject *obj, gboolean pretty);

/**
 * ctl_args_add: "key=value" into @args: the value as JSON if it parses as a
 * number, boolean, string in quotes, object or array, else as a string.
 */
gboolean ctl_args_add(JsonObject *args, const char *kv, GError **errp);

/** ctl_closed_by_shutdown: TRUE if @err is the end of stream after SHUTDOWN. */
gboolean ctl_closed_by_shutdown(Ctl *q, const GError *err);

/* ------------------------------------------------------------------------ */

/**
 * ctl_help: print the commands (@what NULL) or the arguments of command or
 * event @what, from the daemon's query-qmp-schema.  Returns the exit status.
 */
int ctl_help(Ctl *q, const char *what);

/** ctl_top: the top view (see qcontext-ctl --help).  Returns the exit status. */
int ctl_top(Ctl *q, double interval, gint64 count);

/**
 * ctl_events: print each event as one line of JSON as it comes, until
 * @count events (0: no limit), SHUTDOWN (exit 0) or the end of the stream.
 */
int ctl_events(Ctl *q, gint64 count);

/**
 * ctl_shell: the interactive mode: line editing and history (libedit) on a
 * terminal, plain lines otherwise.  Returns the exit status.
 */
int ctl_shell(Ctl *q);

#endif /* QCONTEXT_CTL_H */

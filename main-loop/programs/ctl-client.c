/*
 * main-loop/programs/ctl-client.c - the client side of QMP for
 * qcontext-ctl: connect and negotiate, read messages (one per line),
 * execute commands while routing events, print JSON.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <gio/gio.h>

#include "ctl.h"

static gboolean ctl_connect(Ctl *q, const char *path, GError **errp)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "socket path '%s' is too long", path);
        return FALSE;
    }
    strcpy(addr.sun_path, path);
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot connect to '%s': %s", path, g_strerror(errno));
        return FALSE;
    }
    q->in = g_string_new(NULL);
    q->next_id = 1;
    return TRUE;
}

void ctl_close(Ctl *q)
{
    if (q->fd >= 0) {
        close(q->fd);
        q->fd = -1;
    }
    if (q->in) {
        g_string_free(q->in, TRUE);
        q->in = NULL;
    }
    g_clear_pointer(&q->greeting, json_object_unref);
    g_clear_pointer(&q->shutdown_reason, g_free);
}

/* The next line the server sent (without its line end). */
static char *read_line(Ctl *q, int timeout_ms, GError **errp)
{
    gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time() + timeout_ms * 1000;

    for (;;) {
        char *nl = memchr(q->in->str, '\n', q->in->len);
        struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
        gint64 left = deadline < 0 ? -1 : (deadline - g_get_monotonic_time()) / 1000;
        char buf[16384];
        gssize n;
        int rc;

        if (nl) {
            char *line = g_strndup(q->in->str, nl - q->in->str);
            g_string_erase(q->in, 0, nl - q->in->str + 1);
            return g_strchomp(line);
        }
        rc = poll(&pfd, 1, deadline < 0 ? -1 : (int)MAX(left, 0));
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc == 0) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "no answer from the daemon within %d s", timeout_ms / 1000);
            return NULL;
        }
        n = read(q->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                        "the daemon closed the connection");
            return NULL;
        }
        g_string_append_len(q->in, buf, n);
    }
}

JsonObject *ctl_read(Ctl *q, int timeout_ms, GError **errp)
{
    g_autofree char *line = read_line(q, timeout_ms, errp);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *msg;
    JsonNode *root;

    if (!line) {
        return NULL;
    }
    if (!json_parser_load_from_data(parser, line, -1, NULL) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "the daemon sent something that is not a JSON object");
        return NULL;
    }
    msg = json_object_ref(json_node_get_object(root));
    if (!g_strcmp0(json_object_get_string_member_with_default(msg, "event", ""),
                   "SHUTDOWN") &&
        !q->shutdown_reason) {
        JsonObject *data = json_object_get_object_member(msg, "data");
        q->shutdown_reason = g_strdup(
            data ? json_object_get_string_member_with_default(data, "reason", "?")
                 : "?");
    }
    return msg;
}

gboolean ctl_closed_by_shutdown(Ctl *q, const GError *err)
{
    return q->shutdown_reason && err &&
           (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
            g_error_matches(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
            g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED));
}

/* After a failed send: read what the daemon said before it went (SHUTDOWN?). */
static void drain(Ctl *q)
{
    JsonObject *msg;

    while ((msg = ctl_read(q, 1000, NULL))) {
        if (json_object_has_member(msg, "event") && q->on_event) {
            q->on_event(msg, q->opaque);
        }
        json_object_unref(msg);
    }
}

static gboolean send_text(Ctl *q, const char *text, GError **errp)
{
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    gsize off = 0, len = strlen(line);

    while (off < len) {
        gssize n = send(q->fd, line + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno),
                        "cannot send to the daemon: %s", g_strerror(errno));
            drain(q);
            return FALSE;
        }
        off += n;
    }
    return TRUE;
}

/* Read until the reply for which @is_reply says yes; events go to on_event. */
static JsonObject *await_reply(Ctl *q, gboolean (*is_reply)(JsonObject *, JsonNode *),
                               JsonNode *id, GError **errp)
{
    for (;;) {
        JsonObject *msg = ctl_read(q, CTL_TIMEOUT_MS, errp);

        if (!msg) {
            return NULL;
        }
        if (json_object_has_member(msg, "event")) {
            if (q->on_event) {
                q->on_event(msg, q->opaque);
            }
        } else if (is_reply(msg, id)) {
            return msg;
        }
        json_object_unref(msg);
    }
}

static gboolean same_id(JsonObject *msg, JsonNode *id)
{
    JsonNode *rid = json_object_get_member(msg, "id");

    return id ? rid && json_node_equal(rid, id) : TRUE;
}

JsonObject *ctl_execute(Ctl *q, const char *cmd, JsonObject *args, GError **errp)
{
    g_autoptr(JsonObject) msg = json_object_new();
    g_autoptr(JsonNode) id = json_node_init_int(json_node_alloc(), q->next_id++);
    g_autoptr(JsonNode) node = NULL;
    g_autofree char *text = NULL;

    json_object_set_string_member(msg, "execute", cmd);
    if (args && json_object_get_size(args)) {
        json_object_set_object_member(msg, "arguments", json_object_ref(args));
    }
    json_object_set_member(msg, "id", json_node_copy(id));
    node = json_node_init_object(json_node_alloc(), msg);
    text = json_to_string(node, FALSE);
    if (!send_text(q, text, errp)) {
        return NULL;
    }
    return await_reply(q, same_id, id, errp);
}

JsonObject *ctl_execute_raw(Ctl *q, const char *text, GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root = NULL, *id = NULL;

    /* Only to find the id to wait for: the daemon judges the text itself. */
    if (json_parser_load_from_data(parser, text, -1, NULL)) {
        root = json_parser_get_root(parser);
        if (root && JSON_NODE_HOLDS_OBJECT(root)) {
            id = json_object_get_member(json_node_get_object(root), "id");
        }
    }
    if (!send_text(q, text, errp)) {
        return NULL;
    }
    return await_reply(q, same_id, id, errp);
}

JsonNode *ctl_reply_value(JsonObject *reply, GError **errp)
{
    if (json_object_has_member(reply, "error")) {
        JsonObject *err = json_object_get_object_member(reply, "error");
        const char *cls =
            err ? json_object_get_string_member_with_default(err, "class", "Error")
                : "Error";
        const char *desc = err ? json_object_get_string_member_with_default(
                                     err, "desc", "unknown error")
                               : "unknown error";
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", cls, desc);
        return NULL;
    }
    if (!json_object_has_member(reply, "return")) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "the daemon's reply has neither 'return' nor 'error'");
        return NULL;
    }
    return json_object_get_member(reply, "return");
}

gboolean ctl_open(Ctl *q, const char *path, GError **errp)
{
    g_autoptr(JsonObject) reply = NULL;

    q->fd = -1;
    if (!ctl_connect(q, path, errp) ||
        !(q->greeting = ctl_read(q, CTL_TIMEOUT_MS, errp))) {
        ctl_close(q);
        return FALSE;
    }
    if (!json_object_has_member(q->greeting, "QMP")) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "'%s' does not speak QMP (no greeting)", path);
        ctl_close(q);
        return FALSE;
    }
    reply = ctl_execute(q, "qmp_capabilities", NULL, errp);
    if (!reply || !ctl_reply_value(reply, errp)) {
        ctl_close(q);
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Arguments and output                                                      */
/* ------------------------------------------------------------------------ */

gboolean ctl_args_add(JsonObject *args, const char *kv, GError **errp)
{
    const char *eq = strchr(kv, '=');
    g_autofree char *key = NULL;
    const char *val;
    g_autoptr(JsonParser) parser = json_parser_new();

    if (!eq || eq == kv) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "argument '%s' is not of the form key=value", kv);
        return FALSE;
    }
    key = g_strndup(kv, eq - kv);
    val = eq + 1;
    if (*val && strchr("-0123456789tf{[\"", *val) &&
        json_parser_load_from_data(parser, val, -1, NULL) &&
        json_parser_get_root(parser) &&
        !JSON_NODE_HOLDS_NULL(json_parser_get_root(parser))) {
        json_object_set_member(args, key, json_node_copy(json_parser_get_root(parser)));
    } else {
        json_object_set_string_member(args, key, val);
    }
    return TRUE;
}

void ctl_print_json(JsonNode *node, gboolean pretty)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_pretty(gen, pretty);
    json_generator_set_indent(gen, 2);
    json_generator_set_root(gen, node);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
    fflush(stdout);
}

void ctl_print_object(JsonObject *obj, gboolean pretty)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

    ctl_print_json(node, pretty);
}

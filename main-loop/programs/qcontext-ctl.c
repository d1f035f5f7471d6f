/*
 * qcontext-ctl - talk to qcontextd's monitor socket.
 *
 *   qcontext-ctl SOCKET COMMAND [key=value...] [--json '{...}']
 *   qcontext-ctl SOCKET top [--interval S] [--count N]
 *
 * The first form connects, negotiates capabilities, runs COMMAND and
 * pretty-prints its return value (exit 0) or its error (exit 1).  The
 * second shows, per context, busy time, wakeups and dispatches per second
 * and the wakeup latency percentiles of each interval, computed from the
 * differences between successive query-qcontexts.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#define CTL_TIMEOUT_MS 60000

typedef struct {
    int fd;
    GString *in;
    gint64 next_id;
} Qmp;

/* ------------------------------------------------------------------------ */
/* The client side of QMP                                                    */
/* ------------------------------------------------------------------------ */

static gboolean qmp_connect(Qmp *q, const char *path, GError **errp)
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

static void qmp_close(Qmp *q)
{
    if (q->fd >= 0) {
        close(q->fd);
    }
    if (q->in) {
        g_string_free(q->in, TRUE);
    }
}

/* The next line the server sent (without its line end). */
static char *qmp_read_line(Qmp *q, GError **errp)
{
    for (;;) {
        char *nl = memchr(q->in->str, '\n', q->in->len);
        struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
        char buf[16384];
        gssize n;

        if (nl) {
            gsize len = nl - q->in->str;
            char *line = g_strndup(q->in->str, len);
            g_string_erase(q->in, 0, len + 1);
            g_strchomp(line);
            return line;
        }
        if (poll(&pfd, 1, CTL_TIMEOUT_MS) == 0) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "no answer from the daemon within %d s", CTL_TIMEOUT_MS / 1000);
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

static JsonObject *qmp_read_object(Qmp *q, GError **errp)
{
    g_autofree char *line = qmp_read_line(q, errp);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root;

    if (!line) {
        return NULL;
    }
    if (!json_parser_load_from_data(parser, line, -1, errp)) {
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "the daemon sent something that is not a JSON object");
        return NULL;
    }
    return json_object_ref(json_node_get_object(root));
}

static gboolean qmp_send(Qmp *q, JsonObject *msg, GError **errp)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), msg);
    g_autofree char *text = json_to_string(node, FALSE);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    gsize off = 0, len = strlen(line);

    json_node_unref(node);
    while (off < len) {
        gssize n = send(q->fd, line + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno), "send: %s",
                        g_strerror(errno));
            return FALSE;
        }
        off += n;
    }
    return TRUE;
}

/*
 * Run @cmd with @args (borrowed, may be NULL) and return the reply object
 * ({"return": ...} or {"error": ...}); events in between are skipped.
 */
static JsonObject *qmp_execute(Qmp *q, const char *cmd, JsonObject *args, GError **errp)
{
    g_autoptr(JsonObject) msg = json_object_new();
    gint64 id = q->next_id++;

    json_object_set_string_member(msg, "execute", cmd);
    if (args) {
        json_object_set_object_member(msg, "arguments", json_object_ref(args));
    }
    json_object_set_int_member(msg, "id", id);
    if (!qmp_send(q, msg, errp)) {
        return NULL;
    }
    for (;;) {
        JsonObject *reply = qmp_read_object(q, errp);
        JsonNode *rid;

        if (!reply) {
            return NULL;
        }
        rid = json_object_get_member(reply, "id");
        if (rid && JSON_NODE_HOLDS_VALUE(rid) &&
            json_node_get_value_type(rid) == G_TYPE_INT64 &&
            json_node_get_int(rid) == id) {
            return reply;
        }
        json_object_unref(reply); /* an event, or an unrelated reply */
    }
}

/* Return the "return" member of a reply, or NULL with @errp set to its error. */
static JsonNode *reply_value(JsonObject *reply, GError **errp)
{
    if (json_object_has_member(reply, "error")) {
        JsonObject *err = json_object_get_object_member(reply, "error");
        const char *desc = err ? json_object_get_string_member_with_default(
                                     err, "desc", "unknown error")
                               : "unknown error";
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_FAILED, desc);
        return NULL;
    }
    return json_object_get_member(reply, "return");
}

static gboolean qmp_handshake(Qmp *q, const char *path, GError **errp)
{
    g_autoptr(JsonObject) greeting = NULL;
    g_autoptr(JsonObject) reply = NULL;

    if (!qmp_connect(q, path, errp)) {
        return FALSE;
    }
    greeting = qmp_read_object(q, errp);
    if (!greeting) {
        return FALSE;
    }
    if (!json_object_has_member(greeting, "QMP")) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "'%s' does not speak QMP (no greeting)", path);
        return FALSE;
    }
    reply = qmp_execute(q, "qmp_capabilities", NULL, errp);
    return reply && reply_value(reply, errp);
}

/* ------------------------------------------------------------------------ */
/* One command                                                               */
/* ------------------------------------------------------------------------ */

/* "key=value": value as JSON if it parses as a number, boolean, object or
 * array; otherwise as a string. */
static gboolean add_key_value(JsonObject *args, const char *kv, GError **errp)
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

static gboolean merge_json_args(JsonObject *args, const char *text, GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root;
    g_autoptr(GList) members = NULL;

    if (!json_parser_load_from_data(parser, text, -1, errp)) {
        g_prefix_error(errp, "--json: ");
        return FALSE;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "--json expects a JSON object");
        return FALSE;
    }
    members = json_object_get_members(json_node_get_object(root));
    for (GList *l = members; l; l = l->next) {
        JsonNode *v = json_object_get_member(json_node_get_object(root), l->data);
        json_object_set_member(args, l->data, json_node_copy(v));
    }
    return TRUE;
}

static int run_command(const char *path, const char *cmd, JsonObject *args)
{
    Qmp q = {.fd = -1};
    GError *err = NULL;
    g_autoptr(JsonObject) reply = NULL;
    JsonNode *ret = NULL;

    if (qmp_handshake(&q, path, &err) &&
        (reply =
             qmp_execute(&q, cmd, json_object_get_size(args) ? args : NULL, &err))) {
        ret = reply_value(reply, &err);
    }
    qmp_close(&q);
    if (!ret) {
        fprintf(stderr, "qcontext-ctl: %s\n", err ? err->message : "no return value");
        g_clear_error(&err);
        return 1;
    }
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    json_generator_set_root(gen, ret);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* top                                                                       */
/* ------------------------------------------------------------------------ */

static gint64 stat_int(JsonObject *ctx, const char *name)
{
    JsonObject *st = json_object_get_object_member(ctx, "stats");

    return st ? json_object_get_int_member_with_default(st, name, 0) : 0;
}

static JsonArray *stat_buckets(JsonObject *ctx)
{
    JsonObject *st = json_object_get_object_member(ctx, "stats");
    JsonObject *lat = st ? json_object_get_object_member(st, "wakeup-latency") : NULL;

    return lat && json_object_has_member(lat, "buckets")
               ? json_object_get_array_member(lat, "buckets")
               : NULL;
}

static JsonObject *find_context(JsonArray *arr, const char *id)
{
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);
        if (!g_strcmp0(json_object_get_string_member_with_default(o, "id", ""), id)) {
            return o;
        }
    }
    return NULL;
}

/* Count of bucket [low, high] in @arr, or 0. */
static gint64 bucket_count(JsonArray *arr, gint64 low)
{
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonArray *e = json_array_get_array_element(arr, i);
        if (json_array_get_int_element(e, 0) == low) {
            return json_array_get_int_element(e, 2);
        }
    }
    return 0;
}

/*
 * Percentiles @ps of the values recorded between two histogram snapshots,
 * each the midpoint of its bucket; -1 when nothing was recorded.
 */
static void interval_percentiles(JsonArray *now, JsonArray *before, const double *ps,
                                 gint64 *out, int n)
{
    guint len = now ? json_array_get_length(now) : 0;
    g_autofree gint64 *delta = g_new0(gint64, len + 1);
    gint64 total = 0;

    for (guint i = 0; i < len; i++) {
        JsonArray *e = json_array_get_array_element(now, i);
        delta[i] = json_array_get_int_element(e, 2) -
                   bucket_count(before, json_array_get_int_element(e, 0));
        total += MAX(delta[i], 0);
    }
    for (int k = 0; k < n; k++) {
        gint64 want = (gint64)((ps[k] / 100.0) * total + 0.999999), cum = 0;
        out[k] = -1;
        for (guint i = 0; total > 0 && i < len; i++) {
            JsonArray *e = json_array_get_array_element(now, i);
            cum += MAX(delta[i], 0);
            if (cum >= MAX(want, 1)) {
                gint64 lo = json_array_get_int_element(e, 0);
                gint64 hi = json_array_get_int_element(e, 1);
                out[k] = lo + (hi - lo) / 2;
                break;
            }
        }
    }
}

static char *fmt_ns(gint64 ns)
{
    if (ns < 0) {
        return g_strdup("-");
    }
    if (ns < 10000) {
        return g_strdup_printf("%" G_GINT64_FORMAT "ns", ns);
    }
    if (ns < 10000000) {
        return g_strdup_printf("%.1fus", ns / 1e3);
    }
    return g_strdup_printf("%.1fms", ns / 1e6);
}

static void top_print_row(JsonObject *cur, JsonObject *prev, double secs)
{
    static const double ps[] = {50.0, 99.0, 99.9};
    gint64 lat[3];
    double dt_ns = secs * 1e9;
    const char *id = json_object_get_string_member_with_default(cur, "id", "?");
    const char *type = json_object_get_string_member_with_default(cur, "type", "?");
    gint64 tid = json_object_get_int_member_with_default(cur, "thread-id", 0);

    printf("%-16s %-14s %7" G_GINT64_FORMAT, id, type, tid);
    if (!prev) {
        printf("  %6s %6s %10s %11s %9s %9s %9s\n", "-", "-", "-", "-", "-", "-", "-");
        return;
    }
    interval_percentiles(stat_buckets(cur), stat_buckets(prev), ps, lat, 3);
    g_autofree char *p50 = fmt_ns(lat[0]);
    g_autofree char *p99 = fmt_ns(lat[1]);
    g_autofree char *p999 = fmt_ns(lat[2]);
    printf("  %6.1f %6.1f %10.0f %11.0f %9s %9s %9s\n",
           100.0 * (stat_int(cur, "busy-ns") - stat_int(prev, "busy-ns")) / dt_ns,
           100.0 * (stat_int(cur, "poll-ns") - stat_int(prev, "poll-ns")) / dt_ns,
           (stat_int(cur, "wakeups") - stat_int(prev, "wakeups")) / secs,
           (stat_int(cur, "dispatches") - stat_int(prev, "dispatches")) / secs, p50,
           p99, p999);
}

static void top_print(JsonArray *cur, JsonArray *prev, double secs, gboolean tty)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%H:%M:%S");

    if (tty) {
        printf("\033[H\033[2J");
    }
    printf("qcontext-ctl top - %s - %u contexts - interval %.2f s\n", stamp,
           json_array_get_length(cur), secs);
    printf("%-16s %-14s %7s  %6s %6s %10s %11s %9s %9s %9s\n", "CONTEXT", "TYPE", "TID",
           "BUSY%", "POLL%", "WAKEUPS/s", "DISPATCH/s", "LAT-P50", "LAT-P99",
           "LAT-P99.9");
    for (guint i = 0; i < json_array_get_length(cur); i++) {
        JsonObject *c = json_array_get_object_element(cur, i);
        top_print_row(c, find_context(prev, json_object_get_string_member(c, "id")),
                      secs);
    }
    if (!tty) {
        printf("\n");
    }
    fflush(stdout);
}

static JsonArray *top_sample(Qmp *q, GError **errp)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    JsonNode *ret;

    json_object_set_boolean_member(args, "histogram", TRUE);
    reply = qmp_execute(q, "query-qcontexts", args, errp);
    ret = reply ? reply_value(reply, errp) : NULL;
    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        if (ret) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                        "query-qcontexts did not return a list");
        }
        return NULL;
    }
    return json_array_ref(json_node_get_array(ret));
}

static int run_top(const char *path, double interval, gint64 count)
{
    Qmp q = {.fd = -1};
    GError *err = NULL;
    JsonArray *prev = NULL;
    gint64 t_prev = 0;
    gboolean tty = isatty(STDOUT_FILENO);
    int rc = 0;

    if (qmp_handshake(&q, path, &err) && (prev = top_sample(&q, &err))) {
        t_prev = g_get_monotonic_time();
    }
    for (gint64 i = 0; prev && (count <= 0 || i < count); i++) {
        JsonArray *cur;
        gint64 t;

        g_usleep((gulong)(interval * G_USEC_PER_SEC));
        cur = top_sample(&q, &err);
        if (!cur) {
            break;
        }
        t = g_get_monotonic_time();
        top_print(cur, prev, (t - t_prev) / 1e6, tty);
        json_array_unref(prev);
        prev = cur;
        t_prev = t;
    }
    if (err) {
        fprintf(stderr, "qcontext-ctl: %s\n", err->message);
        g_error_free(err);
        rc = 1;
    }
    if (prev) {
        json_array_unref(prev);
    }
    qmp_close(&q);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */
/* ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: qcontext-ctl SOCKET COMMAND [key=value...] [--json '{...}']\n"
            "       qcontext-ctl SOCKET top [--interval SECONDS] [--count N]\n"
            "\n"
            "Runs COMMAND on qcontextd's monitor socket and prints its return value\n"
            "as JSON (exit 0), or its error (exit 1).  Values that parse as JSON\n"
            "numbers, booleans, objects or arrays are sent as such, others as\n"
            "strings.  'top' shows per-context load, refreshed every interval\n"
            "(default 1 s) until interrupted or N refreshes were printed.\n"
            "Try: qcontext-ctl SOCKET query-commands\n");
}

static gboolean parse_number(const char *opt, const char *s, double *out)
{
    char *end = NULL;

    *out = s ? g_ascii_strtod(s, &end) : 0;
    if (!s || !*s || *end || *out < 0) {
        fprintf(stderr, "qcontext-ctl: %s expects a non-negative number\n", opt);
        return FALSE;
    }
    return TRUE;
}

int main(int argc, char **argv)
{
    g_autoptr(JsonObject) args = json_object_new();
    const char *pos[2] = {NULL, NULL};
    double interval = 1.0, count = 0;
    int npos = 0;
    g_autoptr(GError) err = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            if (i + 1 >= argc || !merge_json_args(args, argv[++i], &err)) {
                fprintf(stderr, "qcontext-ctl: %s\n",
                        err ? err->message : "--json needs an argument");
                return 2;
            }
        } else if (!strcmp(a, "--interval") || !strcmp(a, "--count")) {
            double *dst = !strcmp(a, "--count") ? &count : &interval;
            if (!parse_number(a, i + 1 < argc ? argv[++i] : NULL, dst)) {
                return 2;
            }
        } else if (npos < 2) {
            pos[npos++] = a;
        } else if (!add_key_value(args, a, &err)) {
            fprintf(stderr, "qcontext-ctl: %s\n", err->message);
            return 2;
        }
    }
    if (npos < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(pos[1], "top")) {
        return run_top(pos[0], interval, (gint64)count);
    }
    return run_command(pos[0], pos[1], args);
}

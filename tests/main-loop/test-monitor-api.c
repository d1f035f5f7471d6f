/*
 * test-monitor-api: the monitor's C API in-process: endpoint specs, the
 * socket file (mode, stale and live sockets), negotiation, end of input,
 * and events emitted from other threads.
 *
 * The client side runs on the main thread with a non-blocking socket,
 * iterating the default GMainContext (which serves the monitor) while it
 * waits for data.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qcontext/main-loop/monitor.h"

#define DEADLINE_US (10 * G_USEC_PER_SEC)

typedef struct {
    int fd;
    GString *in;
} Cli;

static char *tmpdir;

static char *sock_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static Cli *cli_connect(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    Cli *c = g_new0(Cli, 1);

    g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(c->fd, >=, 0);
    g_assert_cmpint(connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_true(g_unix_set_fd_nonblocking(c->fd, TRUE, NULL));
    c->in = g_string_new(NULL);
    return c;
}

static void cli_free(Cli *c)
{
    close(c->fd);
    g_string_free(c->in, TRUE);
    g_free(c);
}

static void cli_send(Cli *c, const char *text)
{
    gsize off = 0, len = strlen(text);
    gint64 deadline = g_get_monotonic_time() + DEADLINE_US;

    while (off < len) {
        gssize n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += n;
            continue;
        }
        g_assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
    }
}

/* Read into c->in; returns FALSE on EOF. */
static gboolean cli_pump(Cli *c)
{
    char buf[4096];
    gssize n = recv(c->fd, buf, sizeof(buf), 0);

    if (n > 0) {
        g_string_append_len(c->in, buf, n);
    } else if (n == 0) {
        return FALSE;
    } else {
        g_assert_true(errno == EAGAIN || errno == EINTR);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(200);
    }
    return TRUE;
}

/* The next message, or NULL at end of stream. */
static JsonObject *cli_recv(Cli *c)
{
    gint64 deadline = g_get_monotonic_time() + DEADLINE_US;

    for (;;) {
        char *nl = memchr(c->in->str, '\n', c->in->len);
        if (nl) {
            g_autofree char *line = g_strndup(c->in->str, nl - c->in->str);
            g_autoptr(JsonParser) p = json_parser_new();
            g_autoptr(GError) err = NULL;

            g_string_erase(c->in, 0, nl - c->in->str + 1);
            g_assert_true(g_str_has_suffix(line, "\r"));
            g_assert_true(json_parser_load_from_data(p, line, -1, &err));
            g_assert_no_error(err);
            g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)));
            return json_object_ref(json_node_get_object(json_parser_get_root(p)));
        }
        if (!cli_pump(c)) {
            g_assert_cmpuint(c->in->len, ==, 0);
            return NULL;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
}

static JsonObject *cli_cmd(Cli *c, const char *text)
{
    cli_send(c, text);
    return cli_recv(c);
}

static void assert_error(JsonObject *reply, const char *cls, const char *desc)
{
    JsonObject *err;

    g_assert_true(json_object_has_member(reply, "error"));
    err = json_object_get_object_member(reply, "error");
    g_assert_cmpstr(json_object_get_string_member(err, "class"), ==, cls);
    if (desc) {
        g_assert_cmpstr(json_object_get_string_member(err, "desc"), ==, desc);
    }
    json_object_unref(reply);
}

static void assert_return_empty(JsonObject *reply)
{
    g_assert_true(json_object_has_member(reply, "return"));
    g_assert_cmpuint(
        json_object_get_size(json_object_get_object_member(reply, "return")), ==, 0);
    json_object_unref(reply);
}

static Cli *cli_negotiated(const char *path)
{
    Cli *c = cli_connect(path);
    JsonObject *greeting = cli_recv(c);

    g_assert_true(json_object_has_member(greeting, "QMP"));
    json_object_unref(greeting);
    assert_return_empty(cli_cmd(c, "{\"execute\": \"qmp_capabilities\"}"));
    return c;
}

/* ------------------------------------------------------------------------ */

static void test_spec_errors(void)
{
    const char *bad[] = {"tcp:localhost:4444", "unix:", "unix:/tmp/x,bogus=1", "",
                         NULL};
    g_autofree char *file = sock_path("regular-file");
    g_autofree char *spec = g_strdup_printf("unix:%s", file);
    g_autofree char *longp = g_strdup_printf("unix:/tmp/%0200d", 0);
    GError *err = NULL;

    for (int i = 0; bad[i]; i++) {
        g_assert_false(monitor_add(bad[i], &err));
        g_assert_error(err, MONITOR_ERROR, 0);
        g_clear_error(&err);
    }
    g_assert_false(monitor_add(longp, &err));
    g_assert_nonnull(strstr(err->message, "longer than"));
    g_clear_error(&err);

    g_assert_true(g_file_set_contents(file, "data", -1, NULL));
    g_assert_false(monitor_add(spec, &err));
    g_assert_nonnull(strstr(err->message, "not a socket"));
    g_clear_error(&err);
    g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR)); /* left alone */
    g_unlink(file);
    monitor_cleanup_all();
}

static void test_socket_file(void)
{
    g_autofree char *path = sock_path("mon.sock");
    g_autofree char *spec = g_strdup_printf("unix:%s,server=on,wait=off", path);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    GError *err = NULL;
    struct stat st;
    int fd;

    /* A stale socket (bound, then its process went away) is replaced. */
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    close(fd);
    g_assert_true(monitor_add(spec, &err));
    g_assert_no_error(err);

    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);

    /* Our own socket again: said so, not blamed on another process. */
    g_assert_false(monitor_add(spec, &err));
    g_assert_nonnull(strstr(err->message, "is given twice"));
    g_clear_error(&err);

    /* A live listener of someone else is not stolen. */
    {
        g_autofree char *other = sock_path("other.sock");
        g_autofree char *other_spec = g_strdup_printf("unix:%s", other);
        struct sockaddr_un oaddr = {.sun_family = AF_UNIX};
        int lfd = socket(AF_UNIX, SOCK_STREAM, 0);

        strcpy(oaddr.sun_path, other);
        g_assert_cmpint(bind(lfd, (struct sockaddr *)&oaddr, sizeof(oaddr)), ==, 0);
        g_assert_cmpint(listen(lfd, 1), ==, 0);
        g_assert_false(monitor_add(other_spec, &err));
        g_assert_nonnull(strstr(err->message, "another process is already listening"));
        g_clear_error(&err);
        close(lfd);
        g_unlink(other);
    }

    Cli *c = cli_negotiated(path);
    g_assert_cmpuint(monitor_client_count(), ==, 1);
    cli_free(c);
    monitor_cleanup_all();
    g_assert_cmpint(stat(path, &st), <, 0);
    g_assert_cmpuint(monitor_client_count(), ==, 0);
}

static void test_negotiation(void)
{
    g_autofree char *path = sock_path("neg.sock");
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    JsonObject *greeting, *qmp, *version, *reply;
    Cli *c;

    g_assert_true(monitor_add(spec, NULL));
    c = cli_connect(path);
    greeting = cli_recv(c);
    qmp = json_object_get_object_member(greeting, "QMP");
    g_assert_nonnull(qmp);
    version = json_object_get_object_member(qmp, "version");
    g_assert_true(json_object_has_member(
        json_object_get_object_member(version, "qcontext"), "major"));
    g_assert_cmpstr(json_object_get_string_member(version, "package"), ==, "");
    g_assert_cmpuint(
        json_array_get_length(json_object_get_array_member(qmp, "capabilities")), ==,
        0);
    json_object_unref(greeting);

    assert_error(cli_cmd(c, "{\"execute\": \"query-version\"}"), "CommandNotFound",
                 "Expecting capabilities negotiation with 'qmp_capabilities'");
    assert_error(cli_cmd(c, "{\"execute\": \"qmp_capabilities\", \"arguments\": "
                            "{\"enable\": [\"oob\"]}}"),
                 "GenericError", NULL);
    reply = cli_cmd(c, "{\"execute\": \"qmp_capabilities\", \"id\": [\"x\", 1]}");
    g_assert_true(json_object_has_member(reply, "return"));
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(reply, "id")),
                     ==, 2);
    json_object_unref(reply);
    assert_error(cli_cmd(c, "{\"execute\": \"qmp_capabilities\"}"), "CommandNotFound",
                 "Capabilities negotiation is already complete, command ignored");

    reply = cli_cmd(c, "{\"execute\": \"query-version\", \"id\": \"v\"}");
    g_assert_cmpstr(json_object_get_string_member(reply, "id"), ==, "v");
    g_assert_true(json_object_has_member(json_object_get_object_member(reply, "return"),
                                         "qcontext"));
    json_object_unref(reply);
    cli_free(c);
    monitor_cleanup_all();
}

/* Commands sent before a half-close are all answered, then the server closes. */
static void test_eof_answers_all(void)
{
    g_autofree char *path = sock_path("eof.sock");
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    JsonObject *msg;
    Cli *c;

    g_assert_true(monitor_add(spec, NULL));
    c = cli_connect(path);
    json_object_unref(cli_recv(c));
    cli_send(
        c, "{\"execute\":\"qmp_capabilities\",\"id\":1}{\"execute\":\"query-version\","
           "\"id\":2} {\"execute\":\"query-name\",\"id\":3}");
    shutdown(c->fd, SHUT_WR);
    for (int i = 1; i <= 3; i++) {
        msg = cli_recv(c);
        g_assert_nonnull(msg);
        g_assert_cmpint(json_object_get_int_member(msg, "id"), ==, i);
        g_assert_true(json_object_has_member(msg, "return"));
        json_object_unref(msg);
    }
    g_assert_null(cli_recv(c));
    g_assert_cmpuint(monitor_client_count(), ==, 0);
    cli_free(c);
    monitor_cleanup_all();
}

#define N_EVENTS 200

static gpointer emitter_thread(gpointer unused)
{
    for (int i = 0; i < N_EVENTS; i++) {
        JsonObject *data = json_object_new();
        json_object_set_int_member(data, "n", i);
        monitor_emit_event("TEST_EVENT", data);
    }
    return NULL;
}

static void test_events_from_thread(void)
{
    g_autofree char *path = sock_path("ev.sock");
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    Cli *a, *b, *raw;
    GThread *t;

    g_assert_true(monitor_add(spec, NULL));
    a = cli_negotiated(path);
    b = cli_negotiated(path);
    raw = cli_connect(path); /* never negotiates: gets no events */
    json_object_unref(cli_recv(raw));

    t = g_thread_new("emitter", emitter_thread, NULL);
    for (int i = 0; i < N_EVENTS; i++) {
        Cli *clients[] = {a, b};
        for (int k = 0; k < 2; k++) {
            JsonObject *ev = cli_recv(clients[k]);
            JsonObject *ts = json_object_get_object_member(ev, "timestamp");
            g_assert_cmpstr(json_object_get_string_member(ev, "event"), ==,
                            "TEST_EVENT");
            g_assert_cmpint(json_object_get_int_member(
                                json_object_get_object_member(ev, "data"), "n"),
                            ==, i);
            g_assert_cmpint(json_object_get_int_member(ts, "seconds"), >, 1600000000);
            g_assert_cmpint(json_object_get_int_member(ts, "microseconds"), <, 1000000);
            json_object_unref(ev);
        }
    }
    g_thread_join(t);

    /* The un-negotiated client's next message is its negotiation reply. */
    assert_return_empty(cli_cmd(raw, "{\"execute\": \"qmp_capabilities\"}"));

    /* From the main thread, with no data: an empty object. */
    monitor_emit_event("MAIN_EVENT", NULL);
    for (int k = 0; k < 3; k++) {
        Cli *c = k == 0 ? a : k == 1 ? b : raw;
        JsonObject *ev = cli_recv(c);
        g_assert_cmpstr(json_object_get_string_member(ev, "event"), ==, "MAIN_EVENT");
        g_assert_cmpuint(
            json_object_get_size(json_object_get_object_member(ev, "data")), ==, 0);
        json_object_unref(ev);
    }
    cli_free(a);
    cli_free(b);
    cli_free(raw);
    monitor_cleanup_all();
}

static void test_shutdown_once(void)
{
    g_autofree char *path = sock_path("sd.sock");
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    JsonObject *ev, *reply;
    Cli *c;

    g_assert_true(monitor_add(spec, NULL));
    c = cli_negotiated(path);
    monitor_emit_shutdown("host-signal");
    monitor_emit_shutdown("host-qmp-quit");
    ev = cli_recv(c);
    g_assert_cmpstr(json_object_get_string_member(ev, "event"), ==, "SHUTDOWN");
    g_assert_cmpstr(json_object_get_string_member(
                        json_object_get_object_member(ev, "data"), "reason"),
                    ==, "host-signal");
    json_object_unref(ev);
    /* No second SHUTDOWN: the next message is this reply. */
    reply = cli_cmd(c, "{\"execute\": \"query-name\", \"id\": 9}");
    g_assert_cmpint(json_object_get_int_member(reply, "id"), ==, 9);
    json_object_unref(reply);
    cli_free(c);
    monitor_cleanup_all();
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("qctx-monapi-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    g_test_add_func("/monitor-api/spec-errors", test_spec_errors);
    g_test_add_func("/monitor-api/socket-file", test_socket_file);
    g_test_add_func("/monitor-api/negotiation", test_negotiation);
    g_test_add_func("/monitor-api/eof-answers-all", test_eof_answers_all);
    g_test_add_func("/monitor-api/events-from-thread", test_events_from_thread);
    g_test_add_func("/monitor-api/shutdown-once", test_shutdown_once);
    rc = g_test_run();
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return rc;
}

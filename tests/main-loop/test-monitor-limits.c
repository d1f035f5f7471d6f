/*
 * test-monitor-limits: the monitor's bounds, in-process: a burst of
 * clients connecting at once is queued, not refused (listen backlog);
 * clients that read nothing are held to a total of unread output by
 * dropping the slowest first; throttled events send the first and the
 * latest of each period, per key; a per-client bound still applies.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "monitor-priv.h"
#include "qcontext/qcontext.h"

#define DEADLINE_US (20 * G_USEC_PER_SEC)

static char *tmpdir;
static GPtrArray *warnings; /* the monitor's g_warning()s, expected here */

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields,
                                   gsize n, gpointer unused)
{
    for (gsize i = 0; i < n && (level & G_LOG_LEVEL_WARNING); i++) {
        if (!strcmp(fields[i].key, "MESSAGE") &&
            g_str_has_prefix(fields[i].value, "monitor: ")) {
            g_ptr_array_add(warnings, g_strdup(fields[i].value));
            return G_LOG_WRITER_HANDLED;
        }
    }
    return g_log_writer_default(level, fields, n, unused);
}

static int cli_open(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

static void pump(void)
{
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

/* Send all of @text, serving the monitor meanwhile. */
static void cli_send(int fd, const char *text)
{
    gsize off = 0, len = strlen(text);
    gint64 deadline = g_get_monotonic_time() + DEADLINE_US;

    while (off < len) {
        gssize n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += n;
            continue;
        }
        g_assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
    }
}

/*
 * Read what is there into @in (serving the monitor meanwhile) until
 * @lines complete lines arrived; returns FALSE at end of stream first.
 */
static gboolean cli_read_lines(int fd, GString *in, guint lines)
{
    gint64 deadline = g_get_monotonic_time() + DEADLINE_US;
    guint have = 0;

    for (;;) {
        char buf[65536];
        gssize n;

        have = 0;
        for (const char *p = in->str; (p = memchr(p, '\n', in->str + in->len - p));
             p++) {
            have++;
        }
        if (have >= lines) {
            return TRUE;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            g_string_append_len(in, buf, n);
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            return FALSE;
        }
        g_assert_true(errno == EAGAIN || errno == EINTR);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(100);
        }
    }
}

static int cli_negotiated(const char *path)
{
    int fd = cli_open(path);
    g_autoptr(GString) in = g_string_new(NULL);

    g_assert_cmpint(fd, >=, 0);
    cli_send(fd, "{\"execute\": \"qmp_capabilities\"}\n");
    g_assert_true(cli_read_lines(fd, in, 2)); /* greeting, reply */
    g_assert_nonnull(strstr(in->str, "\"return\""));
    return fd;
}

/* ------------------------------------------------------------------------ */

/* 50 clients connect before the daemon accepts any: none is refused. */
static void test_backlog(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "burst.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    int fds[50];

    g_assert_true(monitor_add(spec, NULL));
    for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = cli_open(path); /* no main-loop iteration: nothing accepts */
        if (fds[i] < 0) {
            g_error("connection %u of the burst refused: %s", i, g_strerror(errno));
        }
    }
    for (gint64 deadline = g_get_monotonic_time() + DEADLINE_US;
         monitor_client_count() < G_N_ELEMENTS(fds);) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
    }
    for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
        close(fds[i]);
    }
    monitor_cleanup_all();
}

/*
 * Two clients that read nothing and one that reads: when the unread output
 * of all exceeds the total, the one with the most unread (A) goes, not the
 * one whose reply crossed the line (B), nor the reader (C).
 */
static void test_output_total(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "total.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    g_autoptr(GString) in = g_string_new(NULL);
    g_autoptr(GString) burst = g_string_new(NULL);
    const char *cmd = "{\"execute\": \"query-qmp-schema\"}\n";
    gsize reply_len;
    guint n_a, n_b;
    int a, b, c;

    g_assert_true(monitor_add(spec, NULL));
    monitor_set_output_limits(16u << 20, 6u << 20);
    a = cli_negotiated(path);
    b = cli_negotiated(path);
    c = cli_negotiated(path);
    cli_send(c, cmd);
    g_assert_true(cli_read_lines(c, in, 1));
    reply_len = in->len;
    g_string_truncate(in, 0);
    g_assert_cmpuint(reply_len, >, 4096);

    /* A: about 5 MiB of replies it does not read; then B: about 2 MiB. */
    n_a = (5u << 20) / reply_len;
    n_b = (2u << 20) / reply_len;
    for (guint i = 0; i < n_a; i++) {
        cli_send(a, cmd);
        pump();
    }
    g_assert_cmpuint(warnings->len, ==, 0);
    g_assert_cmpuint(monitor_client_count(), ==, 3);
    for (guint i = 0; i < n_b; i++) {
        cli_send(b, cmd);
        pump();
    }
    g_assert_cmpuint(monitor_client_count(), ==, 2);
    g_assert_cmpuint(warnings->len, ==, 1);
    g_assert_nonnull(strstr(warnings->pdata[0], "disconnecting the slowest"));

    /* A gets what the kernel held, then the end; B and C get everything. */
    g_assert_false(cli_read_lines(a, in, n_a + 2));
    g_string_truncate(in, 0);
    g_assert_true(cli_read_lines(b, in, n_b));
    g_string_truncate(in, 0);
    cli_send(c, "{\"execute\": \"query-name\"}\n");
    g_assert_true(cli_read_lines(c, in, 1));
    g_assert_nonnull(strstr(in->str, "\"return\""));

    /* Alone, one client is held to its own bound. */
    monitor_set_output_limits(1u << 20, 0);
    g_string_truncate(in, 0);
    for (guint i = 0; i < (3u << 20) / reply_len && monitor_client_count() == 2; i++) {
        cli_send(b, cmd);
        pump();
    }
    g_assert_cmpuint(monitor_client_count(), ==, 1);
    g_assert_cmpuint(warnings->len, ==, 2);
    g_assert_nonnull(strstr(warnings->pdata[1], "does not read its replies"));
    close(a);
    close(b);
    close(c);
    monitor_set_output_limits(0, 0);
    g_ptr_array_set_size(warnings, 0);
    monitor_cleanup_all();
}

#define THROTTLE_MS 300
#define N_BURST 200

static const QmpEvent throttled_events[] = {
    {"TEST_THROTTLED", "a throttled test event", NULL, THROTTLE_MS, "id"},
};

static gpointer burst_thread(gpointer unused)
{
    for (int i = 0; i < N_BURST; i++) {
        for (int k = 0; k < 2; k++) {
            JsonObject *data = json_object_new();
            json_object_set_string_member(data, "id", k ? "b" : "a");
            json_object_set_int_member(data, "n", i);
            monitor_emit_event("TEST_THROTTLED", data);
        }
        JsonObject *plain = json_object_new();
        json_object_set_int_member(plain, "n", i);
        monitor_emit_event("TEST_PLAIN", plain); /* not throttled */
    }
    return NULL;
}

static void test_throttle(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "throttle.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    g_autoptr(GString) in = g_string_new(NULL);
    g_auto(GStrv) lines = NULL;
    int seen[2] = {0, 0}, last[2] = {-1, -1}, plain = 0;
    gint64 until;
    int fd;

    g_assert_true(monitor_add(spec, NULL));
    monitor_register_events(throttled_events, G_N_ELEMENTS(throttled_events));
    fd = cli_negotiated(path);
    g_thread_join(g_thread_new("burst", burst_thread, NULL));
    /* Serve for three periods: the held-back latest arrive at their ends. */
    until = g_get_monotonic_time() + 3 * THROTTLE_MS * 1000;
    while (g_get_monotonic_time() < until) {
        char buf[65536];
        gssize n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            g_string_append_len(in, buf, n);
        } else if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(1000);
        }
    }
    lines = g_strsplit(in->str, "\n", -1);
    for (char **l = lines; *l && **l; l++) {
        g_autoptr(JsonParser) p = json_parser_new();
        JsonObject *ev, *data;
        const char *name;

        g_assert_true(json_parser_load_from_data(p, *l, -1, NULL));
        ev = json_node_get_object(json_parser_get_root(p));
        name = json_object_get_string_member(ev, "event");
        data = json_object_get_object_member(ev, "data");
        if (!strcmp(name, "TEST_PLAIN")) {
            g_assert_cmpint(json_object_get_int_member(data, "n"), ==, plain++);
            continue;
        }
        g_assert_cmpstr(name, ==, "TEST_THROTTLED");
        int k = !strcmp(json_object_get_string_member(data, "id"), "b");
        int n = json_object_get_int_member(data, "n");
        g_assert_cmpint(n, >, last[k]); /* in order, the latest kept */
        last[k] = n;
        seen[k]++;
    }
    g_assert_cmpint(plain, ==, N_BURST); /* unthrottled: every one */
    for (int k = 0; k < 2; k++) {
        /* The first at once, the latest at the end of its period; a slow
         * machine may split the burst over one more period. */
        g_assert_cmpint(seen[k], >=, 2);
        g_assert_cmpint(seen[k], <=, 3);
        g_assert_cmpint(last[k], ==, N_BURST - 1);
    }
    close(fd);
    monitor_cleanup_all();
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    warnings = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(log_writer, NULL, NULL);
    g_assert_true(qcontext_init_main(NULL));
    tmpdir = g_dir_make_tmp("qctx-monlim-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    g_test_add_func("/monitor-limits/backlog", test_backlog);
    g_test_add_func("/monitor-limits/output-total", test_output_total);
    g_test_add_func("/monitor-limits/throttle", test_throttle);
    rc = g_test_run();
    g_rmdir(tmpdir);
    g_free(tmpdir);
    g_ptr_array_unref(warnings);
    return rc;
}

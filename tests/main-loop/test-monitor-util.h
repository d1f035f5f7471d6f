/*
 * test-monitor-util.h - helpers for the monitor tests that run the real
 * qcontextd (path in $QCONTEXTD): start/stop a daemon with a monitor
 * socket, and a small blocking QMP client with timeouts.
 *
 * Static functions, included by one test program each.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TEST_MONITOR_UTIL_H
#define TEST_MONITOR_UTIL_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#define TD_TIMEOUT_MS 10000

typedef struct {
    GPid pid;
    char *dir;
    char *sock;
    int status; /* exit status once reaped, else -1 */
} TestDaemon;

typedef struct {
    int fd;
    GString *in;
    GQueue events; /* JsonObject*, received while waiting for replies */
} TestQmp;

/* ------------------------------------------------------------------------ */
/* The daemon                                                                */
/* ------------------------------------------------------------------------ */

static G_GNUC_UNUSED const char *td_binary(void)
{
    return g_getenv("QCONTEXTD");
}

static G_GNUC_UNUSED gboolean td_try_connect(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gboolean ok;

    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    close(fd);
    return ok;
}

/* Reap the daemon if it exited; returns TRUE if it is gone. */
static G_GNUC_UNUSED gboolean td_reap(TestDaemon *d, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000;

    while (d->status < 0) {
        int st;
        pid_t r = waitpid(d->pid, &st, WNOHANG);
        if (r == d->pid) {
            d->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (g_get_monotonic_time() >= deadline) {
            return FALSE;
        }
        g_usleep(2000);
    }
    return TRUE;
}

/* In the daemon before exec: die with the test, even if the test aborts. */
static G_GNUC_UNUSED void td_child_setup(gpointer unused)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/*
 * Start qcontextd with a monitor on DIR/qmp.sock and the NULL-terminated
 * extra arguments; wait until the socket accepts connections.
 */
static G_GNUC_UNUSED TestDaemon *td_start_argv(const char *const *extra)
{
    TestDaemon *d = g_new0(TestDaemon, 1);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *mon = NULL;
    GError *err = NULL;
    gint64 deadline = g_get_monotonic_time() + TD_TIMEOUT_MS * 1000;

    d->status = -1;
    d->dir = g_dir_make_tmp("qctx-mon-XXXXXX", &err);
    g_assert_no_error(err);
    d->sock = g_build_filename(d->dir, "qmp.sock", NULL);
    mon = g_strdup_printf("unix:%s,server=on,wait=off", d->sock);
    g_ptr_array_add(argv, (char *)td_binary());
    for (int i = 0; extra && extra[i]; i++) {
        g_ptr_array_add(argv, (char *)extra[i]);
    }
    g_ptr_array_add(argv, "-monitor");
    g_ptr_array_add(argv, mon);
    g_ptr_array_add(argv, NULL);
    /* The daemon's stdout would disturb TAP: send it to /dev/null. */
    g_spawn_async(NULL, (char **)argv->pdata, NULL,
                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                  td_child_setup, NULL, &d->pid, &err);
    g_assert_no_error(err);
    while (!td_try_connect(d->sock)) {
        g_assert_false(td_reap(d, 0)); /* exited during startup */
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(5000);
    }
    return d;
}

static G_GNUC_UNUSED TestDaemon *td_start(const char *first, ...)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    va_list ap;

    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        g_ptr_array_add(args, (char *)a);
    }
    va_end(ap);
    g_ptr_array_add(args, NULL);
    return td_start_argv((const char *const *)args->pdata);
}

/* Stop (SIGTERM unless already gone), reap and clean up; returns the status. */
static G_GNUC_UNUSED int td_stop(TestDaemon *d)
{
    int status;

    if (d->status < 0) {
        kill(d->pid, SIGTERM);
        if (!td_reap(d, TD_TIMEOUT_MS)) {
            kill(d->pid, SIGKILL);
            td_reap(d, TD_TIMEOUT_MS);
            g_assert_not_reached();
        }
    }
    g_spawn_close_pid(d->pid);
    status = d->status;
    g_unlink(d->sock);
    g_rmdir(d->dir);
    g_free(d->sock);
    g_free(d->dir);
    g_free(d);
    return status;
}

/* The comm names of @pid's threads, joined by '\n'. */
static G_GNUC_UNUSED char *td_thread_names(GPid pid)
{
    g_autofree char *task = g_strdup_printf("/proc/%d/task", (int)pid);
    GDir *dir = g_dir_open(task, 0, NULL);
    GString *names = g_string_new(NULL);
    const char *tid;

    g_assert_nonnull(dir);
    while ((tid = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(task, tid, "comm", NULL);
        g_autofree char *comm = NULL;
        if (g_file_get_contents(path, &comm, NULL, NULL)) {
            g_string_append(names, comm); /* ends with '\n' */
        }
    }
    g_dir_close(dir);
    return g_string_free(names, FALSE);
}

/* ------------------------------------------------------------------------ */
/* The client                                                                */
/* ------------------------------------------------------------------------ */

static G_GNUC_UNUSED TestQmp *tq_connect_raw(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    TestQmp *q = g_new0(TestQmp, 1);

    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(connect(q->fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    q->in = g_string_new(NULL);
    g_queue_init(&q->events);
    return q;
}

static G_GNUC_UNUSED void tq_free(TestQmp *q)
{
    close(q->fd);
    g_string_free(q->in, TRUE);
    g_queue_clear_full(&q->events, (GDestroyNotify)json_object_unref);
    g_free(q);
}

static G_GNUC_UNUSED void tq_send_raw(TestQmp *q, const char *data, gsize len)
{
    gsize off = 0;

    while (off < len) {
        gssize n = send(q->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        g_assert_cmpint(n, >, 0);
        off += n;
    }
}

/* The next message (reply or event), or NULL if the server closed. */
static G_GNUC_UNUSED JsonObject *tq_recv_any(TestQmp *q)
{
    for (;;) {
        char *nl = memchr(q->in->str, '\n', q->in->len);
        struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
        char buf[16384];
        gssize n;

        if (nl) {
            g_autofree char *line = g_strndup(q->in->str, nl - q->in->str);
            g_autoptr(JsonParser) p = json_parser_new();
            g_autoptr(GError) err = NULL;
            g_string_erase(q->in, 0, nl - q->in->str + 1);
            g_assert_true(json_parser_load_from_data(p, line, -1, &err));
            g_assert_no_error(err);
            g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)));
            return json_object_ref(json_node_get_object(json_parser_get_root(p)));
        }
        g_assert_cmpint(poll(&pfd, 1, TD_TIMEOUT_MS), ==, 1);
        n = read(q->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return NULL;
        }
        g_string_append_len(q->in, buf, n);
    }
}

/* The next reply; events met on the way are kept in q->events. */
static G_GNUC_UNUSED JsonObject *tq_recv_reply(TestQmp *q)
{
    for (;;) {
        JsonObject *m = tq_recv_any(q);
        g_assert_nonnull(m);
        if (!json_object_has_member(m, "event")) {
            return m;
        }
        g_queue_push_tail(&q->events, m);
    }
}

static G_GNUC_UNUSED JsonObject *tq_cmd(TestQmp *q, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
static G_GNUC_UNUSED JsonObject *tq_cmd(TestQmp *q, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *text = NULL;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    tq_send_raw(q, text, strlen(text));
    tq_send_raw(q, "\n", 1);
    return tq_recv_reply(q);
}

/* Connect, check the greeting, negotiate. */
static G_GNUC_UNUSED TestQmp *tq_connect(const char *path)
{
    TestQmp *q = tq_connect_raw(path);
    JsonObject *greeting = tq_recv_any(q);
    JsonObject *r;

    g_assert_nonnull(greeting);
    g_assert_true(json_object_has_member(greeting, "QMP"));
    json_object_unref(greeting);
    r = tq_cmd(q, "{\"execute\": \"qmp_capabilities\"}");
    g_assert_true(json_object_has_member(r, "return"));
    json_object_unref(r);
    return q;
}

/* The event @name, waiting for it if it has not come yet. */
static G_GNUC_UNUSED JsonObject *tq_wait_event(TestQmp *q, const char *name)
{
    for (;;) {
        for (GList *l = q->events.head; l; l = l->next) {
            JsonObject *ev = l->data;
            if (!g_strcmp0(json_object_get_string_member(ev, "event"), name)) {
                g_queue_delete_link(&q->events, l);
                return ev;
            }
        }
        JsonObject *m = tq_recv_any(q);
        g_assert_nonnull(m);
        g_assert_true(json_object_has_member(m, "event"));
        g_queue_push_tail(&q->events, m);
    }
}

/* The "return" member of @reply (borrowed); fails the test on an error. */
static G_GNUC_UNUSED JsonNode *tq_return(JsonObject *reply)
{
    if (json_object_has_member(reply, "error")) {
        JsonObject *e = json_object_get_object_member(reply, "error");
        g_error("unexpected error reply: %s: %s",
                json_object_get_string_member(e, "class"),
                json_object_get_string_member(e, "desc"));
    }
    g_assert_true(json_object_has_member(reply, "return"));
    return json_object_get_member(reply, "return");
}

/* Assert @reply is an error of @cls whose desc contains @needle; unref it. */
static G_GNUC_UNUSED void tq_assert_error(JsonObject *reply, const char *cls,
                                          const char *needle)
{
    JsonObject *e;
    const char *desc;

    if (!json_object_has_member(reply, "error")) {
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), reply);
        g_autofree char *s = json_to_string(n, FALSE);
        g_error("expected an error containing '%s', got %s", needle, s);
    }
    e = json_object_get_object_member(reply, "error");
    desc = json_object_get_string_member(e, "desc");
    g_assert_cmpstr(json_object_get_string_member(e, "class"), ==, cls);
    if (!strstr(desc, needle)) {
        g_error("error '%s' does not contain '%s'", desc, needle);
    }
    json_object_unref(reply);
}

/* @node as compact JSON text. */
static G_GNUC_UNUSED char *tq_node_to_string(JsonNode *node)
{
    return json_to_string(node, FALSE);
}

/* The object with "id" == @id in array @arr, or NULL. */
static G_GNUC_UNUSED JsonObject *tq_find_id(JsonArray *arr, const char *id)
{
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);
        if (!g_strcmp0(json_object_get_string_member(o, "id"), id)) {
            return o;
        }
    }
    return NULL;
}

#endif /* TEST_MONITOR_UTIL_H */

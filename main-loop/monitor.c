/*
 * main-loop/monitor.c - monitor endpoints, clients and events.
 *
 * Listening UNIX sockets and stdio are plain non-blocking fds watched by
 * GSources on the default GMainContext (the "main" context).  Each client
 * has a framer (monitor-stream.c) that cuts its input into messages, a
 * queue of framed messages handled one at a time (an asynchronous command
 * holds the queue until it answers, so replies keep their order) and an
 * output buffer flushed when the fd is writable.  Everything here runs on
 * the main thread; events from other threads are handed over through a
 * mutex-protected queue and an idle callback.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>

#include "monitor-internal.h"
#include "monitor-stream.h"

G_DEFINE_QUARK(monitor - error - quark, monitor_error)

#define MONITOR_READ_CHUNK 16384
#define MONITOR_QUEUE_HIGH 64       /* stop reading above this many queued */
#define MONITOR_OUT_MAX (16u << 20) /* drop a client that reads nothing */
#define MONITOR_MAX_CLIENTS 64

typedef struct {
    char *msg;   /* a framed message, or NULL */
    char *error; /* a framing error, or NULL */
    gsize len;
} QueuedMsg;

struct MonitorClient {
    int ref;
    int in_fd, out_fd;
    gboolean is_socket;
    GSource *in_src, *out_src;
    guint resume_idle;
    MonitorStream *stream;
    GQueue queue;
    GString *out;
    gboolean negotiated, busy, eof, closed;
};

typedef struct {
    char *path;
    int fd;
    GSource *src;
} MonitorListener;

static GPtrArray *listeners; /* MonitorListener* */
static GList *clients;       /* MonitorClient*, one reference each */
static gboolean stdio_used;
static int stdin_flags = -1;

/* The main thread, set by monitor_add() (read under event_lock). */
static pthread_t main_thread;

/* Events handed over from other threads. */
static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static GQueue event_queue = G_QUEUE_INIT; /* char* lines, under event_lock */
static gboolean event_idle_pending;       /* under event_lock */
static gboolean events_active;            /* under event_lock: monitor_add() ran */
static int shutdown_emitted;              /* atomic */

static void client_close(MonitorClient *c);
static void client_process(MonitorClient *c);

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

/* Destroy and release *@src if set. */
static void source_clear(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_clear_pointer(src, g_source_unref);
    }
}

static gssize client_write(MonitorClient *c, const char *buf, gsize len)
{
    if (c->is_socket) {
        return send(c->out_fd, buf, len, MSG_NOSIGNAL);
    }
    return write(c->out_fd, buf, len);
}

/* Write what we can; returns FALSE if the client failed and was closed. */
static gboolean client_flush(MonitorClient *c)
{
    while (c->out->len > 0) {
        gssize n = client_write(c, c->out->str, c->out->len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return TRUE;
        }
        if (n <= 0) {
            g_debug("monitor: client write failed: %s",
                    n < 0 ? g_strerror(errno) : "EOF");
            client_close(c);
            return FALSE;
        }
        g_string_erase(c->out, 0, n);
    }
    return TRUE;
}

static gboolean client_writable(int fd, GIOCondition cond, gpointer opaque)
{
    MonitorClient *c = opaque;

    monitor_client_ref(c);
    if (client_flush(c) && c->out->len == 0) {
        source_clear(&c->out_src);
        if (c->eof) {
            client_process(c); /* may finish the client */
        }
    }
    monitor_client_unref(c);
    return G_SOURCE_CONTINUE;
}

static void client_send_line(MonitorClient *c, const char *line)
{
    if (c->closed) {
        return;
    }
    g_string_append(c->out, line);
    g_string_append(c->out, "\r\n");
    if (c->out->len > MONITOR_OUT_MAX) {
        g_warning("monitor: client does not read its replies; disconnecting it");
        client_close(c);
        return;
    }
    if (c->out_src || !client_flush(c) || c->out->len == 0) {
        return;
    }
    c->out_src = g_unix_fd_source_new(c->out_fd, G_IO_OUT);
    g_source_set_callback(c->out_src, G_SOURCE_FUNC(client_writable), c, NULL);
    g_source_attach(c->out_src, NULL);
}

static char *json_object_to_line(JsonObject *msg)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), msg);
    char *line = json_to_string(node, FALSE);

    json_node_unref(node);
    return line;
}

void monitor_client_send(MonitorClient *c, JsonObject *msg)
{
    char *line = json_object_to_line(msg);

    client_send_line(c, line);
    g_free(line);
}

/* ------------------------------------------------------------------------ */
/* Input                                                                     */
/* ------------------------------------------------------------------------ */

static void queued_msg_free(gpointer p)
{
    QueuedMsg *m = p;

    g_free(m->msg);
    g_free(m->error);
    g_free(m);
}

static void client_framed(void *opaque, const char *msg, gsize len, const char *error)
{
    MonitorClient *c = opaque;
    QueuedMsg *m = g_new0(QueuedMsg, 1);

    m->msg = msg ? g_strndup(msg, len) : NULL;
    m->len = len;
    m->error = g_strdup(error);
    g_queue_push_tail(&c->queue, m);
}

static gboolean client_readable(int fd, GIOCondition cond, gpointer opaque);

static void client_watch_input(MonitorClient *c, gboolean on)
{
    if (on && !c->in_src && !c->eof && !c->closed) {
        c->in_src = g_unix_fd_source_new(c->in_fd, G_IO_IN);
        g_source_set_callback(c->in_src, G_SOURCE_FUNC(client_readable), c, NULL);
        g_source_attach(c->in_src, NULL);
    } else if (!on) {
        source_clear(&c->in_src);
    }
}

/* Handle queued messages until the queue is empty or a command is busy. */
static void client_process(MonitorClient *c)
{
    while (!c->closed && !c->busy && !g_queue_is_empty(&c->queue)) {
        QueuedMsg *m = g_queue_pop_head(&c->queue);
        monitor_dispatch(c, m->msg, m->len, m->error);
        queued_msg_free(m);
    }
    if (c->closed) {
        return;
    }
    if (g_queue_get_length(&c->queue) < MONITOR_QUEUE_HIGH / 2) {
        client_watch_input(c, TRUE);
    }
    /* After end of input, leave once everything is answered and written. */
    if (c->eof && !c->busy && g_queue_is_empty(&c->queue) && c->out->len == 0) {
        client_close(c);
    }
}

static gboolean client_readable(int fd, GIOCondition cond, gpointer opaque)
{
    MonitorClient *c = opaque;
    char buf[MONITOR_READ_CHUNK];
    gssize n = read(c->in_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
        return G_SOURCE_CONTINUE;
    }
    monitor_client_ref(c);
    if (n > 0) {
        monitor_stream_feed(c->stream, buf, n);
        if (g_queue_get_length(&c->queue) >= MONITOR_QUEUE_HIGH) {
            client_watch_input(c, FALSE); /* resumed by client_process() */
        }
    } else {
        monitor_stream_finish(c->stream);
        c->eof = TRUE;
        client_watch_input(c, FALSE);
        if (n < 0) {
            g_debug("monitor: read error: %s", g_strerror(errno));
        }
    }
    client_process(c);
    monitor_client_unref(c);
    return G_SOURCE_CONTINUE;
}

static gboolean client_resume_cb(gpointer opaque)
{
    MonitorClient *c = opaque;

    c->resume_idle = 0;
    client_process(c);
    return G_SOURCE_REMOVE;
}

void monitor_client_set_busy(MonitorClient *c, gboolean busy)
{
    c->busy = busy;
    if (!busy && !c->closed && !c->resume_idle) {
        c->resume_idle =
            g_idle_add_full(G_PRIORITY_DEFAULT, client_resume_cb, monitor_client_ref(c),
                            (GDestroyNotify)monitor_client_unref);
    }
}

gboolean monitor_client_is_negotiated(MonitorClient *c)
{
    return c->negotiated;
}

void monitor_client_set_negotiated(MonitorClient *c)
{
    c->negotiated = TRUE;
}

/* ------------------------------------------------------------------------ */
/* Client lifetime                                                           */
/* ------------------------------------------------------------------------ */

MonitorClient *monitor_client_ref(MonitorClient *c)
{
    c->ref++;
    return c;
}

void monitor_client_unref(MonitorClient *c)
{
    if (--c->ref > 0) {
        return;
    }
    g_assert(c->closed);
    g_queue_clear_full(&c->queue, queued_msg_free);
    monitor_stream_free(c->stream);
    g_string_free(c->out, TRUE);
    g_free(c);
}

static void client_close(MonitorClient *c)
{
    GList *link;

    if (c->closed) {
        return;
    }
    c->closed = TRUE;
    client_watch_input(c, FALSE);
    source_clear(&c->out_src);
    if (c->resume_idle) {
        g_source_remove(c->resume_idle); /* drops the idle's reference */
        c->resume_idle = 0;
    }
    if (c->is_socket) {
        close(c->in_fd);
    } else {
        close(c->out_fd); /* our copy of stdout; stdin stays open */
    }
    link = g_list_find(clients, c);
    if (link) {
        clients = g_list_delete_link(clients, link);
        monitor_client_unref(c);
    }
}

static void client_new(int in_fd, int out_fd, gboolean is_socket)
{
    MonitorClient *c = g_new0(MonitorClient, 1);
    JsonObject *greeting;

    c->ref = 1; /* the list's */
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->is_socket = is_socket;
    c->stream = monitor_stream_new(MONITOR_MAX_MESSAGE, MONITOR_STREAM_MAX_DEPTH,
                                   client_framed, c);
    c->out = g_string_new(NULL);
    g_queue_init(&c->queue);
    clients = g_list_append(clients, c);

    greeting = monitor_greeting_new();
    monitor_client_ref(c);
    monitor_client_send(c, greeting); /* may fail and close the client */
    json_object_unref(greeting);
    client_watch_input(c, TRUE);
    monitor_client_unref(c);
}

guint monitor_client_count(void)
{
    return g_list_length(clients);
}

/* ------------------------------------------------------------------------ */
/* Endpoints                                                                 */
/* ------------------------------------------------------------------------ */

static gboolean listener_accept(int fd, GIOCondition cond, gpointer opaque)
{
    MonitorListener *l = opaque;

    for (;;) {
        int cfd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                g_warning("monitor: accept on %s failed: %s", l->path,
                          g_strerror(errno));
            }
            break;
        }
        if (monitor_client_count() >= MONITOR_MAX_CLIENTS) {
            g_warning("monitor: too many clients on %s, refusing one", l->path);
            close(cfd);
            continue;
        }
        client_new(cfd, cfd, TRUE);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean unix_addr(const char *path, struct sockaddr_un *addr, GError **errp)
{
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (!*path || strlen(path) >= sizeof(addr->sun_path)) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "monitor socket path '%s' is empty or longer than %zu bytes", path,
                    sizeof(addr->sun_path) - 1);
        return FALSE;
    }
    strcpy(addr->sun_path, path);
    return TRUE;
}

/* Remove a stale socket at @path; fail if it is live or not a socket. */
static gboolean unix_clear_stale(const char *path, const struct sockaddr_un *addr,
                                 GError **errp)
{
    struct stat st;
    int fd, rc, err;

    if (lstat(path, &st) < 0) {
        return TRUE;
    }
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(errp, MONITOR_ERROR, 0, "'%s' exists and is not a socket", path);
        return FALSE;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(errp, MONITOR_ERROR, 0, "socket: %s", g_strerror(errno));
        return FALSE;
    }
    rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    err = errno;
    close(fd);
    if (rc == 0) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "another process is already listening on '%s'", path);
        return FALSE;
    }
    if (err != ECONNREFUSED) {
        g_set_error(errp, MONITOR_ERROR, 0, "cannot check socket '%s': %s", path,
                    g_strerror(err));
        return FALSE;
    }
    unlink(path);
    return TRUE;
}

static gboolean monitor_listen_unix(const char *path, GError **errp)
{
    struct sockaddr_un addr;
    MonitorListener *l;
    int fd;

    if (!unix_addr(path, &addr, errp) || !unix_clear_stale(path, &addr, errp)) {
        return FALSE;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        g_set_error(errp, MONITOR_ERROR, 0, "socket: %s", g_strerror(errno));
        return FALSE;
    }
    /* Nobody can connect before listen(), so chmod in between is race-free. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
        listen(fd, 16) < 0) {
        g_set_error(errp, MONITOR_ERROR, 0, "cannot listen on '%s': %s", path,
                    g_strerror(errno));
        close(fd);
        return FALSE;
    }
    l = g_new0(MonitorListener, 1);
    l->path = g_canonicalize_filename(path, NULL); /* unlinked after chdir("/") */
    l->fd = fd;
    l->src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(l->src, G_SOURCE_FUNC(listener_accept), l, NULL);
    g_source_attach(l->src, NULL);
    g_ptr_array_add(listeners, l);
    return TRUE;
}

static gboolean monitor_connect_unix(const char *path, GError **errp)
{
    struct sockaddr_un addr;
    int fd;

    if (!unix_addr(path, &addr, errp)) {
        return FALSE;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        g_set_error(errp, MONITOR_ERROR, 0, "cannot connect to '%s': %s", path,
                    g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return FALSE;
    }
    g_unix_set_fd_nonblocking(fd, TRUE, NULL);
    client_new(fd, fd, TRUE);
    return TRUE;
}

static gboolean monitor_open_stdio(GError **errp)
{
    int out_fd;

    if (stdio_used) {
        g_set_error(errp, MONITOR_ERROR, 0, "'-monitor stdio' may be given only once");
        return FALSE;
    }
    /*
     * stdout now belongs to the monitor: replies go to a private copy of
     * it, and whatever else the process prints to stdout goes to stderr
     * so that it cannot corrupt the JSON stream.
     */
    fflush(stdout);
    out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (out_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        g_set_error(errp, MONITOR_ERROR, 0, "-monitor stdio: %s", g_strerror(errno));
        if (out_fd >= 0) {
            close(out_fd);
        }
        return FALSE;
    }
    stdio_used = TRUE;
    stdin_flags = fcntl(STDIN_FILENO, F_GETFL);
    /* Writing replies to a closed stdout must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);
    g_unix_set_fd_nonblocking(STDIN_FILENO, TRUE, NULL);
    g_unix_set_fd_nonblocking(out_fd, TRUE, NULL);
    client_new(STDIN_FILENO, out_fd, FALSE);
    return TRUE;
}

/* Split "unix:PATH,key=val,..." (",," escapes a comma) into PATH and options. */
static gboolean monitor_parse_unix(const char *spec, char **path, gboolean *server,
                                   GError **errp)
{
    g_autoptr(GString) cur = g_string_new(NULL);
    g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);

    for (const char *p = spec;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',' || *p == '\0') {
            g_ptr_array_add(parts, g_strdup(cur->str));
            g_string_truncate(cur, 0);
            if (!*p) {
                break;
            }
        } else {
            g_string_append_c(cur, *p);
        }
    }
    *server = TRUE;
    for (guint i = 1; i < parts->len; i++) {
        const char *opt = parts->pdata[i];
        if (!strcmp(opt, "server") || !strcmp(opt, "server=on")) {
            *server = TRUE;
        } else if (!strcmp(opt, "server=off")) {
            *server = FALSE;
        } else if (!strcmp(opt, "wait=off") || !strcmp(opt, "nowait")) {
            continue; /* we never wait for a client */
        } else {
            g_set_error(
                errp, MONITOR_ERROR, 0,
                "-monitor: unknown option '%s' (expected server=on|off, wait=off)",
                opt);
            return FALSE;
        }
    }
    *path = g_strdup(parts->pdata[0]);
    return TRUE;
}

gboolean monitor_add(const char *spec, GError **errp)
{
    g_autofree char *path = NULL;
    gboolean server;

    if (!listeners) {
        listeners = g_ptr_array_new();
    }
    qmp_commands_init();
    pthread_mutex_lock(&event_lock);
    main_thread = pthread_self();
    events_active = TRUE;
    pthread_mutex_unlock(&event_lock);
    if (!g_strcmp0(spec, "stdio")) {
        return monitor_open_stdio(errp);
    }
    if (!spec || !g_str_has_prefix(spec, "unix:")) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "-monitor '%s': expected 'unix:PATH[,server=on]' or 'stdio'",
                    spec ? spec : "");
        return FALSE;
    }
    if (!monitor_parse_unix(spec + 5, &path, &server, errp)) {
        return FALSE;
    }
    return server ? monitor_listen_unix(path, errp) : monitor_connect_unix(path, errp);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

JsonObject *monitor_timestamp_new(void)
{
    gint64 now = g_get_real_time();
    JsonObject *ts = json_object_new();

    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    return ts;
}

static gpointer client_ref_copy(gconstpointer c, gpointer unused)
{
    return monitor_client_ref((MonitorClient *)c);
}

static void broadcast_line(const char *line)
{
    GList *copy = g_list_copy_deep(clients, client_ref_copy, NULL);

    for (GList *l = copy; l; l = l->next) {
        MonitorClient *c = l->data;
        if (c->negotiated) {
            client_send_line(c, line);
        }
    }
    g_list_free_full(copy, (GDestroyNotify)monitor_client_unref);
}

static gboolean event_idle_cb(gpointer unused)
{
    for (;;) {
        char *line;

        pthread_mutex_lock(&event_lock);
        line = g_queue_pop_head(&event_queue);
        if (!line) {
            event_idle_pending = FALSE;
        }
        pthread_mutex_unlock(&event_lock);
        if (!line) {
            return G_SOURCE_REMOVE;
        }
        broadcast_line(line);
        g_free(line);
    }
}

void monitor_emit_event(const char *name, JsonObject *data)
{
    JsonObject *ev = json_object_new();
    char *line;

    json_object_set_string_member(ev, "event", name);
    json_object_set_object_member(ev, "data", data ? data : json_object_new());
    json_object_set_object_member(ev, "timestamp", monitor_timestamp_new());
    line = json_object_to_line(ev);
    json_object_unref(ev);

    pthread_mutex_lock(&event_lock);
    if (!events_active) {
        pthread_mutex_unlock(&event_lock);
        g_free(line); /* no monitor (yet, or any more) */
        return;
    }
    if (pthread_equal(pthread_self(), main_thread) && g_queue_is_empty(&event_queue)) {
        pthread_mutex_unlock(&event_lock);
        broadcast_line(line);
        g_free(line);
        return;
    }
    g_queue_push_tail(&event_queue, line);
    if (!event_idle_pending) {
        event_idle_pending = TRUE;
        g_idle_add(event_idle_cb, NULL);
    }
    pthread_mutex_unlock(&event_lock);
}

void monitor_emit_shutdown(const char *reason)
{
    JsonObject *data;

    if (__atomic_exchange_n(&shutdown_emitted, 1, __ATOMIC_RELAXED)) {
        return;
    }
    data = json_object_new();
    json_object_set_boolean_member(data, "guest", FALSE);
    json_object_set_string_member(data, "reason", reason ? reason : "host-qmp-quit");
    monitor_emit_event("SHUTDOWN", data);
}

/* ------------------------------------------------------------------------ */
/* Shutdown                                                                  */
/* ------------------------------------------------------------------------ */

void monitor_flush_all(void)
{
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;

    event_idle_cb(NULL); /* events queued by other threads go first */
    for (GList *l = clients; l;) {
        MonitorClient *c = l->data;
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        struct pollfd pfd = {.fd = c->out_fd, .events = POLLOUT};

        l = l->next; /* client_flush() may close and unlink c */
        while (!c->closed && c->out->len > 0 && left > 0 && poll(&pfd, 1, left) > 0) {
            client_flush(c);
            left = (deadline - g_get_monotonic_time()) / 1000;
        }
    }
}

void monitor_cleanup_all(void)
{
    monitor_flush_all();
    while (clients) {
        client_close(clients->data);
    }
    pthread_mutex_lock(&event_lock);
    events_active = FALSE;
    g_queue_clear_full(&event_queue, g_free);
    pthread_mutex_unlock(&event_lock);
    for (guint i = 0; listeners && i < listeners->len; i++) {
        MonitorListener *l = listeners->pdata[i];
        source_clear(&l->src);
        close(l->fd);
        unlink(l->path);
        g_free(l->path);
        g_free(l);
    }
    g_clear_pointer(&listeners, g_ptr_array_unref);
    if (stdio_used) {
        fcntl(STDIN_FILENO, F_SETFL, stdin_flags);
        stdio_used = FALSE;
    }
}

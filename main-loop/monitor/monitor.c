/*
 * main-loop/monitor/monitor.c - monitor endpoints and setup.
 *
 * `-monitor` specs become listening UNIX sockets (any number of clients),
 * a connection to a UNIX socket, or stdin/stdout; each accepted connection
 * becomes a client (client.c).  monitor_init() registers the families of
 * commands (families.h) once.  Main thread only.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib-unix.h>

#include "families.h"
#include "monitor-priv.h"

G_DEFINE_QUARK(monitor - error - quark, monitor_error)

#define MONITOR_MAX_CLIENTS 64

typedef struct {
    char *path;
    int fd;
    GSource *src;
} MonitorListener;

static GPtrArray *listeners; /* MonitorListener* */
static gboolean stdio_used;
static int stdin_flags = -1;

void monitor_init(void)
{
    static gboolean registered;

    if (!registered) {
        registered = TRUE;
        qmp_control_register();
        qmp_qcontext_register();
        qmp_device_register();
        qmp_qom_register();
        qmp_introspect_register();
    }
    monitor_events_start();
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
        monitor_client_new(cfd, cfd, TRUE);
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

/*
 * The longest queue of connections not yet accepted the system allows
 * (net.core.somaxconn; the kernel caps listen()'s backlog at it): a burst
 * of clients connecting at once must not see EAGAIN.
 */
static int listen_backlog(void)
{
    g_autofree char *text = NULL;
    gint64 v = 0;

    if (g_file_get_contents("/proc/sys/net/core/somaxconn", &text, NULL, NULL)) {
        v = g_ascii_strtoll(text, NULL, 10);
    }
    return v > 0 && v <= G_MAXINT ? (int)v : SOMAXCONN;
}

/* Refuse a second monitor on a socket this daemon already listens on. */
static gboolean listener_is_new(const char *path, GError **errp)
{
    g_autofree char *canon = g_canonicalize_filename(path, NULL);

    for (guint i = 0; i < listeners->len; i++) {
        MonitorListener *l = listeners->pdata[i];
        if (!strcmp(l->path, canon)) {
            g_set_error(errp, MONITOR_ERROR, 0,
                        "'%s' is given twice: this daemon already listens on it", path);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean monitor_listen_unix(const char *path, GError **errp)
{
    struct sockaddr_un addr;
    MonitorListener *l;
    int fd;

    if (!unix_addr(path, &addr, errp) || !listener_is_new(path, errp) ||
        !unix_clear_stale(path, &addr, errp)) {
        return FALSE;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        g_set_error(errp, MONITOR_ERROR, 0, "socket: %s", g_strerror(errno));
        return FALSE;
    }
    /* Nobody can connect before listen(), so chmod in between is race-free. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
        listen(fd, listen_backlog()) < 0) {
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
    monitor_client_new(fd, fd, TRUE);
    return TRUE;
}

static gboolean monitor_open_stdio(GError **errp)
{
    int out_fd;

    if (stdio_used) {
        g_set_error(errp, MONITOR_ERROR, 0, "stdio may be given only once");
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
        g_set_error(errp, MONITOR_ERROR, 0, "stdio: %s", g_strerror(errno));
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
    monitor_client_new(STDIN_FILENO, out_fd, FALSE);
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
        const char *eq = strchr(opt, '=');
        g_autofree char *key = eq ? g_strndup(opt, eq - opt) : g_strdup(opt);
        const char *val = eq ? eq + 1 : "on";

        if (!strcmp(opt, "nowait")) {
            continue; /* QEMU's old spelling of wait=off */
        }
        if (strcmp(key, "server") && strcmp(key, "wait")) {
            g_set_error(errp, MONITOR_ERROR, 0,
                        "unknown option '%s' (it takes server=on|off and wait=off)",
                        key);
            return FALSE;
        }
        if (!strcmp(key, "wait") && strcmp(val, "off")) {
            g_set_error(errp, MONITOR_ERROR, 0,
                        "wait=%s is not supported: the daemon never waits for a "
                        "client (use wait=off)",
                        val);
            return FALSE;
        }
        if (!strcmp(key, "server") && strcmp(val, "on") && strcmp(val, "off")) {
            g_set_error(errp, MONITOR_ERROR, 0,
                        "bad value '%s' for 'server' (expected on or off)", val);
            return FALSE;
        }
        if (!strcmp(key, "server")) {
            *server = !strcmp(val, "on");
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
    monitor_init();
    if (!g_strcmp0(spec, "stdio")) {
        return monitor_open_stdio(errp);
    }
    if (!spec || !g_str_has_prefix(spec, "unix:")) {
        g_set_error(errp, MONITOR_ERROR, 0,
                    "expected 'unix:PATH[,server=on|off][,wait=off]' or 'stdio'");
        return FALSE;
    }
    if (!monitor_parse_unix(spec + 5, &path, &server, errp)) {
        return FALSE;
    }
    return server ? monitor_listen_unix(path, errp) : monitor_connect_unix(path, errp);
}

/* ------------------------------------------------------------------------ */
/* Shutdown                                                                  */
/* ------------------------------------------------------------------------ */

void monitor_cleanup_all(void)
{
    monitor_flush_all();
    monitor_clients_close_all();
    monitor_events_stop();
    for (guint i = 0; listeners && i < listeners->len; i++) {
        MonitorListener *l = listeners->pdata[i];
        g_source_destroy(l->src);
        g_source_unref(l->src);
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

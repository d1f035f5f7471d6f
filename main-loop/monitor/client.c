/*
 * main-loop/monitor/client.c - monitor clients: input, output, lifetime.
 *
 * A client is a socket connection or stdin/stdout: plain non-blocking fds
 * watched by GSources on the default GMainContext (the "main" context).
 * Each client has a framer (stream.c) that cuts its input into messages, a
 * queue of framed messages handled one at a time (an asynchronous command
 * holds the queue until it answers, so replies keep their order) and an
 * output buffer flushed when the fd is writable.  Main thread only.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

#include "monitor-priv.h"
#include "monitor-stream.h"

#define MONITOR_READ_CHUNK 16384
#define MONITOR_QUEUE_HIGH 64 /* stop reading above this many queued */

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

static GList *clients; /* MonitorClient*, one reference each */

/*
 * Output not yet written: a client that reads nothing is dropped at
 * out_limit_client; all clients together are held to out_limit_total by
 * dropping the one with the most unread output (the slowest) first.
 */
static gsize out_limit_client = MONITOR_OUT_MAX;
static gsize out_limit_total = MONITOR_OUT_TOTAL_MAX;
static gsize out_total; /* sum of c->out->len over the clients */

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
        out_total -= n;
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

static MonitorClient *slowest_client(void)
{
    MonitorClient *slow = NULL;

    for (GList *l = clients; l; l = l->next) {
        MonitorClient *c = l->data;
        if (!slow || c->out->len > slow->out->len) {
            slow = c;
        }
    }
    return slow;
}

/* Hold the output to its bounds; FALSE if that closed @c. */
static gboolean output_bound(MonitorClient *c)
{
    if (c->out->len > out_limit_client) {
        g_warning("monitor: a client does not read its replies (%zu KiB unread); "
                  "disconnecting it",
                  c->out->len >> 10);
        client_close(c);
        return FALSE;
    }
    while (out_total > out_limit_total) {
        MonitorClient *slow = slowest_client();

        g_warning("monitor: clients hold %zu KiB of unread output; disconnecting the "
                  "slowest (%zu KiB unread)",
                  out_total >> 10, slow->out->len >> 10);
        client_close(slow);
        if (slow == c) {
            return FALSE;
        }
    }
    return TRUE;
}

static void client_send_line(MonitorClient *c, const char *line)
{
    if (c->closed) {
        return;
    }
    g_string_append(c->out, line);
    g_string_append(c->out, "\r\n");
    out_total += strlen(line) + 2;
    if ((!c->out_src && !client_flush(c)) || !output_bound(c)) {
        return;
    }
    if (c->out_src || c->out->len == 0) {
        return;
    }
    c->out_src = g_unix_fd_source_new(c->out_fd, G_IO_OUT);
    g_source_set_callback(c->out_src, G_SOURCE_FUNC(client_writable), c, NULL);
    g_source_attach(c->out_src, NULL);
}

void monitor_set_output_limits(gsize per_client, gsize total)
{
    out_limit_client = per_client ? per_client : MONITOR_OUT_MAX;
    out_limit_total = total ? total : MONITOR_OUT_TOTAL_MAX;
}

char *monitor_json_object_to_line(JsonObject *msg)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), msg);
    char *line = json_to_string(node, FALSE);

    json_node_unref(node);
    return line;
}

void monitor_client_send(MonitorClient *c, JsonObject *msg)
{
    char *line = monitor_json_object_to_line(msg);

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
    out_total -= c->out->len; /* unsent output is dropped */
    g_string_truncate(c->out, 0);
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

void monitor_client_new(int in_fd, int out_fd, gboolean is_socket)
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
/* All clients                                                               */
/* ------------------------------------------------------------------------ */

static gpointer client_ref_copy(gconstpointer c, gpointer unused)
{
    return monitor_client_ref((MonitorClient *)c);
}

void monitor_clients_broadcast(const char *line)
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

void monitor_flush_all(void)
{
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;

    monitor_events_drain(); /* events queued by other threads go first */
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

void monitor_clients_close_all(void)
{
    while (clients) {
        client_close(clients->data);
    }
}

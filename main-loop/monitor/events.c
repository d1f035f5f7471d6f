/*
 * main-loop/monitor/events.c - events to every negotiated client.
 *
 * Events raised on the main thread go out at once; events from other
 * threads are handed over through a mutex-protected queue and an idle
 * callback on the main thread, in call order.  SHUTDOWN is sent once per
 * process, whatever stopped the daemon.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>

#include "monitor-priv.h"
#include "qcontext/main-loop/main-loop.h"

/* The main thread, set by monitor_events_start() (read under event_lock). */
static pthread_t main_thread;

static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static GQueue event_queue = G_QUEUE_INIT; /* char* lines, under event_lock */
static gboolean event_idle_pending;       /* under event_lock */
static gboolean events_active;            /* under event_lock: monitor_add() ran */
static int shutdown_emitted;              /* atomic */

JsonObject *monitor_timestamp_new(void)
{
    gint64 now = g_get_real_time();
    JsonObject *ts = json_object_new();

    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    return ts;
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
        monitor_clients_broadcast(line);
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
    line = monitor_json_object_to_line(ev);
    json_object_unref(ev);

    pthread_mutex_lock(&event_lock);
    if (!events_active) {
        pthread_mutex_unlock(&event_lock);
        g_free(line); /* no monitor (yet, or any more) */
        return;
    }
    if (pthread_equal(pthread_self(), main_thread) && g_queue_is_empty(&event_queue)) {
        pthread_mutex_unlock(&event_lock);
        monitor_clients_broadcast(line);
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

void monitor_events_drain(void)
{
    event_idle_cb(NULL);
}

static void shutdown_notified(ShutdownCause cause, gpointer opaque)
{
    monitor_emit_shutdown(shutdown_cause_str(cause));
}

void monitor_events_start(void)
{
    static gboolean notifier_added;

    if (!notifier_added) {
        notifier_added = TRUE;
        main_loop_add_shutdown_notifier(shutdown_notified, NULL);
    }
    pthread_mutex_lock(&event_lock);
    main_thread = pthread_self();
    events_active = TRUE;
    pthread_mutex_unlock(&event_lock);
}

void monitor_events_stop(void)
{
    pthread_mutex_lock(&event_lock);
    events_active = FALSE;
    g_queue_clear_full(&event_queue, g_free);
    pthread_mutex_unlock(&event_lock);
}

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

/* An event on its way to the clients. */
typedef struct {
    char *name;
    JsonObject *data; /* read on the main thread for the throttle key */
    char *line;       /* the whole message */
} QueuedEvent;

/*
 * A throttled event kind (QEMU's monitor_qapi_event_emit): the first is
 * sent at once and opens a period of the event's throttle_ms; events in
 * the period replace each other, and the latest is sent when it ends
 * (which opens the next period).  A period with nothing to send ends the
 * state.  Main thread only.
 */
typedef struct {
    char *key;    /* "NAME" or "NAME/KEY-VALUE" */
    char *latest; /* line held back during the period, or NULL */
    guint timer;
} Throttle;

/* The main thread, set by monitor_events_start() (read under event_lock). */
static pthread_t main_thread;

static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static GQueue event_queue = G_QUEUE_INIT; /* QueuedEvent*, under event_lock */
static gboolean event_idle_pending;       /* under event_lock */
static gboolean events_active;            /* under event_lock: monitor_add() ran */
static guint64 events_dropped;            /* under event_lock */
static int shutdown_emitted;              /* atomic */
static GHashTable *throttles;             /* key -> Throttle*, main thread */

JsonObject *monitor_timestamp_new(void)
{
    gint64 now = g_get_real_time();
    JsonObject *ts = json_object_new();

    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    return ts;
}

static void queued_event_free(gpointer p)
{
    QueuedEvent *e = p;

    g_free(e->name);
    json_object_unref(e->data);
    g_free(e->line);
    g_free(e);
}

/* ------------------------------------------------------------------------ */
/* Throttling (main thread)                                                  */
/* ------------------------------------------------------------------------ */

static void throttle_free(gpointer p)
{
    Throttle *t = p;

    if (t->timer) {
        g_source_remove(t->timer);
    }
    g_free(t->latest);
    g_free(t->key);
    g_free(t);
}

static gboolean throttle_period_end(gpointer opaque)
{
    Throttle *t = opaque;

    if (!t->latest) {
        t->timer = 0;
        g_hash_table_remove(throttles, t->key); /* frees t */
        return G_SOURCE_REMOVE;
    }
    monitor_clients_broadcast(t->latest);
    g_clear_pointer(&t->latest, g_free);
    return G_SOURCE_CONTINUE; /* the next period */
}

/* The throttle key of @e, or NULL if its kind is not throttled. */
static char *throttle_key(const QmpEvent *info, QueuedEvent *e)
{
    JsonNode *v;

    if (!info || !info->throttle_ms) {
        return NULL;
    }
    v = info->throttle_key ? json_object_get_member(e->data, info->throttle_key) : NULL;
    if (v && JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING) {
        return g_strdup_printf("%s/%s", e->name, json_node_get_string(v));
    }
    return g_strdup(e->name);
}

/* Send @e now, or hold it back if its kind is throttled and in a period. */
static void event_deliver(QueuedEvent *e)
{
    const QmpEvent *info = qmp_event_find(e->name);
    g_autofree char *key = throttle_key(info, e);
    Throttle *t;

    if (!key) {
        monitor_clients_broadcast(e->line);
        return;
    }
    if (!throttles) {
        throttles = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, throttle_free);
    }
    t = g_hash_table_lookup(throttles, key);
    if (t) {
        g_free(t->latest);
        t->latest = g_steal_pointer(&e->line);
        return;
    }
    monitor_clients_broadcast(e->line);
    t = g_new0(Throttle, 1);
    t->key = g_steal_pointer(&key);
    t->timer = g_timeout_add(info->throttle_ms, throttle_period_end, t);
    g_hash_table_insert(throttles, t->key, t);
}

/* Send what throttling holds back (before exit) and forget the periods. */
static void throttles_flush(void)
{
    GHashTableIter it;
    gpointer value;

    if (!throttles) {
        return;
    }
    g_hash_table_iter_init(&it, throttles);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Throttle *t = value;
        if (t->latest) {
            monitor_clients_broadcast(t->latest);
        }
    }
    g_clear_pointer(&throttles, g_hash_table_unref);
}

/* ------------------------------------------------------------------------ */
/* Emitting                                                                  */
/* ------------------------------------------------------------------------ */

static gboolean event_idle_cb(gpointer unused)
{
    for (;;) {
        QueuedEvent *e;

        pthread_mutex_lock(&event_lock);
        e = g_queue_pop_head(&event_queue);
        if (!e) {
            event_idle_pending = FALSE;
        }
        pthread_mutex_unlock(&event_lock);
        if (!e) {
            return G_SOURCE_REMOVE;
        }
        event_deliver(e);
        queued_event_free(e);
    }
}

void monitor_emit_event(const char *name, JsonObject *data)
{
    JsonObject *ev = json_object_new();
    QueuedEvent *e = g_new0(QueuedEvent, 1);

    e->name = g_strdup(name);
    e->data = data ? data : json_object_new();
    json_object_set_string_member(ev, "event", name);
    json_object_set_object_member(ev, "data", json_object_ref(e->data));
    json_object_set_object_member(ev, "timestamp", monitor_timestamp_new());
    e->line = monitor_json_object_to_line(ev);
    json_object_unref(ev);

    pthread_mutex_lock(&event_lock);
    if (!events_active) {
        pthread_mutex_unlock(&event_lock);
        queued_event_free(e); /* no monitor (yet, or any more) */
        return;
    }
    if (pthread_equal(pthread_self(), main_thread) && g_queue_is_empty(&event_queue)) {
        pthread_mutex_unlock(&event_lock);
        event_deliver(e);
        queued_event_free(e);
        return;
    }
    if (g_queue_get_length(&event_queue) >= MONITOR_EVENT_QUEUE_MAX) {
        if (!events_dropped++) {
            g_warning("monitor: more than %d events wait for the main thread; "
                      "dropping the newest",
                      MONITOR_EVENT_QUEUE_MAX);
        }
        pthread_mutex_unlock(&event_lock);
        queued_event_free(e);
        return;
    }
    g_queue_push_tail(&event_queue, e);
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
    throttles_flush();
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
    g_queue_clear_full(&event_queue, queued_event_free);
    pthread_mutex_unlock(&event_lock);
    g_clear_pointer(&throttles, g_hash_table_unref);
}

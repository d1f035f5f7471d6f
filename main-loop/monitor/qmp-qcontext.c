/*
 * main-loop/monitor/qmp-qcontext.c - query-qcontexts: every context with
 * its settings and its AioContext's statistics.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <unistd.h>

#include "families.h"
#include "monitor-core.h"
#include "qcontext/aio/aio.h"
#include "qcontext/main-loop/main-loop.h"
#include "qcontext/qcontext.h"

/* ------------------------------------------------------------------------ */
/* query-qcontexts                                                           */
/* ------------------------------------------------------------------------ */

static void set_prop_if_any(JsonObject *o, QomObject *obj, const char *name)
{
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(obj), name)) {
        JsonNode *v = qmp_property_to_json(obj, name, NULL);
        if (v) {
            json_object_set_member(o, name, v);
        }
    }
}

/* The non-empty buckets as [low-ns, high-ns, count] (for per-interval views). */
static JsonArray *histogram_buckets(const LatencyHistogram *h)
{
    JsonArray *arr = json_array_new();

    for (unsigned b = 0; b < LAT_HIST_BUCKETS; b++) {
        JsonArray *e;
        uint64_t high;

        if (!h->buckets[b]) {
            continue;
        }
        high = b + 1 < LAT_HIST_BUCKETS ? lat_hist_bucket_low(b + 1) - 1 : G_MAXINT64;
        e = json_array_new();
        json_array_add_int_element(e, (gint64)MIN(lat_hist_bucket_low(b), G_MAXINT64));
        json_array_add_int_element(e, (gint64)MIN(high, G_MAXINT64));
        json_array_add_int_element(e, (gint64)h->buckets[b]);
        json_array_add_array_element(arr, e);
    }
    return arr;
}

/*
 * A percentile of @h: the midpoint of its bucket, but never above the exact
 * maximum (a bucket's midpoint may exceed the largest value recorded in it).
 */
static gint64 wakeup_percentile(const LatencyHistogram *h, double p)
{
    uint64_t v = lat_hist_percentile(h, p);

    return (gint64)(h->max_ns && v > h->max_ns ? h->max_ns : v);
}

static JsonObject *context_stats(AioContext *aio, gboolean histogram)
{
    g_autofree AioContextStats *st = g_new0(AioContextStats, 1);
    JsonObject *o = json_object_new();
    JsonObject *lat = json_object_new();

    aio_context_get_stats(aio, st);
    json_object_set_int_member(o, "iterations", st->iterations);
    json_object_set_int_member(o, "dispatches", st->dispatches);
    json_object_set_int_member(o, "wakeups", st->wakeups);
    json_object_set_int_member(o, "busy-ns", st->busy_ns);
    json_object_set_int_member(o, "wait-ns", st->wait_ns);
    json_object_set_int_member(o, "poll-ns", st->poll_ns);
    json_object_set_int_member(o, "poll-hits", st->poll_hits);
    json_object_set_int_member(o, "poll-misses", st->poll_misses);
    json_object_set_int_member(o, "poll-window-ns", st->poll_window_ns);
    json_object_set_int_member(lat, "count", st->wakeup.count);
    json_object_set_int_member(lat, "p50", wakeup_percentile(&st->wakeup, 50.0));
    json_object_set_int_member(lat, "p99", wakeup_percentile(&st->wakeup, 99.0));
    json_object_set_int_member(lat, "p99.9", wakeup_percentile(&st->wakeup, 99.9));
    json_object_set_int_member(lat, "max", st->wakeup.max_ns);
    if (histogram) {
        json_object_set_array_member(lat, "buckets", histogram_buckets(&st->wakeup));
    }
    json_object_set_object_member(o, "wakeup-latency", lat);
    return o;
}

static JsonObject *context_info(QContext *ctx, gboolean histogram)
{
    QomObject *obj = QOM_OBJECT(ctx);
    AioContext *aio = qcontext_get_aio_context(ctx);
    JsonObject *o = json_object_new();
    int tid = qcontext_get_thread_id(ctx);
    gboolean is_main = ctx == qcontext_get_main();

    json_object_set_string_member(o, "id", qcontext_get_name(ctx));
    json_object_set_string_member(o, "type", qom_object_get_type_name(obj));
    json_object_set_boolean_member(o, "threaded", qcontext_is_threaded(ctx));
    /* "main" runs while the daemon's main loop iterates it (it has no thread
     * of its own that the context would know of). */
    json_object_set_boolean_member(
        o, "running", qcontext_is_running(ctx) || (is_main && main_loop_is_running()));
    json_object_set_int_member(o, "thread-id", tid);
    set_prop_if_any(o, obj, "cpu-affinity");
    if (!g_strcmp0(json_object_get_string_member_with_default(o, "cpu-affinity", ""),
                   "")) {
        json_object_set_null_member(o, "cpu-affinity"); /* unset or no such */
    }
    set_prop_if_any(o, obj, "poll-max-ns");
    set_prop_if_any(o, obj, "poll-grow");
    set_prop_if_any(o, obj, "poll-shrink");
    set_prop_if_any(o, obj, "fdmon");
    if (aio && !json_object_has_member(o, "fdmon")) {
        json_object_set_string_member(o, "fdmon",
                                      aio_fdmon_kind_name(aio_context_get_fdmon(aio)));
    }
    if (aio) {
        JsonObject *st = context_stats(aio, histogram);
        if (is_main && main_loop_get_iterations() > 0) {
            /* The main loop's iterations: most serve GLib sources (the
             * monitor, signals), which main's AioContext does not see. */
            json_object_set_int_member(
                st, "iterations", (gint64)MIN(main_loop_get_iterations(), G_MAXINT64));
        }
        json_object_set_object_member(o, "stats", st);
    }
    return o;
}

static JsonNode *qmp_query_qcontexts(JsonObject *args, GError **errp)
{
    JsonArray *arr = json_array_new();
    GList *objs = qom_container_list(QOM_CONTAINER_OBJECTS);
    QContext *main_ctx = qcontext_get_main();
    gboolean hist = json_object_has_member(args, "histogram") &&
                    json_object_get_boolean_member(args, "histogram");

    if (!g_list_find(objs, main_ctx)) {
        json_array_add_object_element(arr, context_info(main_ctx, hist));
    }
    for (GList *l = objs; l; l = l->next) {
        if (QCONTEXT_IS_CONTEXT(l->data) && qom_object_is_completed(l->data)) {
            json_array_add_object_element(
                arr, context_info(QCONTEXT_CONTEXT(l->data), hist));
        }
    }
    g_list_free_full(objs, g_object_unref);
    return qmp_node_from_array(arr);
}

static const QmpArg qcontexts_args[] = {
    {"histogram", QMP_ARG_BOOL, TRUE,
     "also return the wakeup-latency buckets (default false)"},
    {NULL},
};

static const QmpCommand qcontext_commands[] = {
    {.name = "query-qcontexts",
     .help = "every context: type, thread, settings and loop statistics",
     .args = qcontexts_args,
     .run = qmp_query_qcontexts},
};

void qmp_qcontext_register(void)
{
    monitor_register_commands(qcontext_commands, G_N_ELEMENTS(qcontext_commands));
}

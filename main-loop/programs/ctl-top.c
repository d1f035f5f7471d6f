/*
 * main-loop/programs/ctl-top.c - qcontext-ctl top: per context, busy time,
 * wakeups and dispatches per second and the wakeup latency percentiles of
 * each interval, from the differences between successive query-qcontexts
 * (with the histogram).  Between samples it listens: when the daemon shuts
 * down (SHUTDOWN) top says so and exits 0.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <unistd.h>
#include <gio/gio.h>

#include "ctl.h"

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

static JsonArray *top_sample(Ctl *q, GError **errp)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    JsonNode *ret;

    json_object_set_boolean_member(args, "histogram", TRUE);
    reply = ctl_execute(q, "query-qcontexts", args, errp);
    ret = reply ? ctl_reply_value(reply, errp) : NULL;
    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        if (ret) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                        "query-qcontexts did not return a list");
        }
        return NULL;
    }
    return json_array_ref(json_node_get_array(ret));
}

/* Wait until @until (monotonic us), reading events; FALSE once the daemon
 * shut down or the connection failed (@errp set for a failure). */
static gboolean top_wait(Ctl *q, gint64 until, GError **errp)
{
    for (;;) {
        gint64 left = (until - g_get_monotonic_time()) / 1000;
        JsonObject *msg;

        if (q->shutdown_reason) {
            return FALSE;
        }
        if (left <= 0) {
            return TRUE;
        }
        msg = ctl_read(q, (int)left, errp);
        if (!msg) {
            if (g_error_matches(*errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
                g_clear_error(errp);
                return TRUE;
            }
            return FALSE;
        }
        json_object_unref(msg); /* an event; SHUTDOWN is noted by ctl_read */
    }
}

int ctl_top(Ctl *q, double interval, gint64 count)
{
    GError *err = NULL;
    JsonArray *prev = top_sample(q, &err);
    gint64 t_prev = g_get_monotonic_time();
    gboolean tty = isatty(STDOUT_FILENO);
    int rc = 0;

    for (gint64 i = 0; prev && (count <= 0 || i < count); i++) {
        JsonArray *cur;
        gint64 t;

        if (!top_wait(q, t_prev + (gint64)(interval * G_USEC_PER_SEC), &err) ||
            !(cur = top_sample(q, &err))) {
            break;
        }
        t = g_get_monotonic_time();
        top_print(cur, prev, (t - t_prev) / 1e6, tty);
        json_array_unref(prev);
        prev = cur;
        t_prev = t;
    }
    if (q->shutdown_reason && (!err || ctl_closed_by_shutdown(q, err))) {
        fprintf(stderr, "%s: the daemon shut down (%s)\n", CTL_PRG, q->shutdown_reason);
        g_clear_error(&err);
    }
    if (err) {
        fprintf(stderr, "%s: %s\n", CTL_PRG, err->message);
        g_error_free(err);
        rc = 1;
    }
    if (prev) {
        json_array_unref(prev);
    }
    return rc;
}

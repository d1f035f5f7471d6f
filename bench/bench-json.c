/*
 * bench/bench-json.c - the run as one JSON object (--json).
 *
 * Written by hand so that numbers keep a readable precision (json-glib 1.6
 * prints every double with 17 digits); the text is parsed back with
 * json-glib before it is printed, so malformed output is caught.
 *
 * SPDX-License-Identifier: MIT
 */
#include <json-glib/json-glib.h>

#include "bench.h"

/* ------------------------------------------------------------------------ */

static void json_mech(JsonOut *o, const BenchRun *run, const BenchMechResult *r)
{
    const BenchMechResult *f = bench_floor_of(run, r->ops);
    gboolean floor_ok = r->ops->is_floor && bench_usable(r);

    jo_open(o, NULL, '{');
    jo_str(o, "name", r->ops->name);
    jo_str(o, "what", r->ops->what);
    jo_str(o, "floor", f ? f->ops->name : "");
    jo_bool(o, "is_floor", r->ops->is_floor);
    jo_bool(o, "ok", bench_usable(r));
    if (r->error) {
        jo_str(o, "error", r->error);
    }
    jo_int(o, "n", (gint64)r->sum.n);
    jo_num(o, "p50_us", r->sum.p50 / 1000.0);
    jo_num(o, "p99_us", r->sum.p99 / 1000.0);
    jo_num(o, "p99_9_us", r->sum.p999 / 1000.0);
    jo_num(o, "mean_us", r->sum.mean / 1000.0);
    jo_num(o, "min_us", r->sum.min / 1000.0);
    jo_num(o, "max_us", r->sum.max / 1000.0);
    jo_num(o, "p50_ratio", floor_ok ? 1.0 : bench_mech_ratio(run, r, FALSE));
    jo_num(o, "p99_ratio", floor_ok ? 1.0 : bench_mech_ratio(run, r, TRUE));
    jo_num(o, "round_p50_min_us", r->round_p50_min / 1000.0);
    jo_num(o, "round_p50_max_us", r->round_p50_max / 1000.0);
    for (guint k = 0; r->keys && k < r->keys->len; k++) {
        jo_num(o, r->keys->pdata[k], g_array_index(r->values, double, k));
    }
    jo_close(o, '}');
}

static void json_idle(JsonOut *o, const BenchIdleResult *r)
{
    jo_open(o, NULL, '{');
    jo_int(o, "fds", r->fds);
    jo_bool(o, "ok", r->ok);
    if (r->error) {
        jo_str(o, "error", r->error);
    }
    jo_num(o, "aio_poll_ns", r->aio_ns);
    jo_str(o, "aio_fdmon", r->fdmon);
    jo_num(o, "glib_iteration_ns", r->glib_ns);
    jo_num(o, "glib_iteration_one_source_ns", r->glib_one_ns);
    jo_num(o, "ratio_aio_glib", r->ok && r->glib_ns > 0 ? r->aio_ns / r->glib_ns : 0);
    jo_num(o, "ratio_aio_glib_one_source",
           r->ok && r->glib_one_ns > 0 ? r->aio_ns / r->glib_one_ns : 0);
    jo_num(o, "epoll_wait_ns", r->epoll_ns);
    jo_num(o, "ppoll_ns", r->ppoll_ns);
    jo_close(o, '}');
}

static void json_timer(JsonOut *o, const BenchTimerResult *r)
{
    jo_open(o, NULL, '{');
    jo_str(o, "driver", r->driver);
    jo_bool(o, "ok", r->ok);
    if (r->error) {
        jo_str(o, "error", r->error);
    }
    jo_int(o, "n", (gint64)r->sum.n);
    jo_num(o, "p50_us", r->sum.p50 / 1000.0);
    jo_num(o, "p99_us", r->sum.p99 / 1000.0);
    jo_num(o, "p99_9_us", r->sum.p999 / 1000.0);
    jo_num(o, "max_us", r->sum.max / 1000.0);
    jo_close(o, '}');
}

static void json_config(JsonOut *o, const BenchRun *run)
{
    const BenchOptions *opt = &run->opt;
    g_autofree char *cpus = bench_cpus_text(opt);

    jo_open(o, "config", '{');
    jo_bool(o, "quick", opt->quick);
    jo_int(o, "iterations", opt->iterations);
    jo_int(o, "rounds", opt->rounds);
    jo_int(o, "poll_rounds", opt->poll_rounds);
    jo_int(o, "gap_us", opt->gap_us);
    jo_int(o, "poll_gap_ns", opt->poll_gap_ns);
    jo_str(o, "cpus", cpus);
    jo_str(o, "reply_path", bench_reply_path);
    jo_num(o, "seconds", run->seconds);
    jo_close(o, '}');
}

static void json_targets(JsonOut *o, const BenchRun *run)
{
    BenchTarget t[BENCH_N_TARGETS];

    bench_compute_targets(run, t);
    jo_open(o, "targets", '[');
    for (int i = 0; i < BENCH_N_TARGETS; i++) {
        jo_open(o, NULL, '{');
        jo_str(o, "name", t[i].name);
        jo_str(o, "status", bench_target_status_names[t[i].status]);
        jo_str(o, "unit", t[i].unit);
        jo_num(o, "value", t[i].value);
        jo_num(o, "limit", t[i].limit);
        jo_close(o, '}');
    }
    jo_close(o, ']');
}

/* "warnings": the run was too noisy to compare (bench_noise_warnings) */
static void json_warnings(JsonOut *o, const BenchRun *run)
{
    g_auto(GStrv) warnings = bench_noise_warnings(run);

    jo_open(o, "warnings", '[');
    for (char **w = warnings; *w; w++) {
        jo_str(o, NULL, *w);
    }
    jo_close(o, ']');
}

gboolean bench_report_json(const BenchRun *run)
{
    JsonOut o = {.s = g_string_new(NULL)};
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    gboolean ok;

    jo_open(&o, NULL, '{');
    jo_str(&o, "benchmark", "wakeup");
    json_config(&o, run);
    jo_open(&o, "wakeup", '[');
    for (guint i = 0; run->mechs && i < run->mechs->len; i++) {
        json_mech(&o, run, &g_array_index(run->mechs, BenchMechResult, i));
    }
    jo_close(&o, ']');
    jo_open(&o, "idle_poll", '[');
    for (guint i = 0; run->idle && i < run->idle->len; i++) {
        json_idle(&o, &g_array_index(run->idle, BenchIdleResult, i));
    }
    jo_close(&o, ']');
    jo_open(&o, "timer_lateness", '[');
    for (guint i = 0; run->timers && i < run->timers->len; i++) {
        json_timer(&o, &g_array_index(run->timers, BenchTimerResult, i));
    }
    jo_close(&o, ']');
    json_targets(&o, run);
    json_warnings(&o, run);
    jo_close(&o, '}');

    ok = json_parser_load_from_data(parser, o.s->str, (gssize)o.s->len, &err);
    g_print("%s\n", o.s->str);
    if (!ok) {
        g_printerr(
            "qcontext-bench: internal error: the JSON output does not parse: %s\n",
            err->message);
    }
    g_string_free(o.s, TRUE);
    return ok;
}

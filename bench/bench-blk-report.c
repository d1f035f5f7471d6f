/*
 * bench/bench-blk-report.c - what `qcontext-bench blk` prints.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "bench.h"
#include "bench-blk.h"

/* Totals over the jobs; IOPS sums each job's rate over its own window. */
typedef struct {
    uint64_t ios, reads, writes, bytes, io_errors, checked, verify_errors;
    double iops, mb_s, seconds;
    unsigned failed_jobs;
} BlkTotals;

static void totals(const BlkRun *run, BlkTotals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < run->opt.numjobs; i++) {
        const BlkJobResult *r = &run->jobs[i];
        double s = (double)r->elapsed_ns / 1e9;

        t->ios += r->ios;
        t->reads += r->reads;
        t->writes += r->writes;
        t->bytes += r->bytes;
        t->io_errors += r->io_errors;
        t->checked += r->verify_checked;
        t->verify_errors += r->verify_errors;
        t->failed_jobs += r->error != NULL;
        if (s > 0) {
            t->iops += (double)r->ios / s;
            t->mb_s += (double)r->bytes / s / 1e6;
        }
        t->seconds = MAX(t->seconds, s);
    }
}

static double pct_us(const LatencyHistogram *h, double p)
{
    return (double)lat_hist_percentile(h, p) / 1000.0;
}

static double mean_us(const LatencyHistogram *h)
{
    return h->count ? (double)h->sum_ns / (double)h->count / 1000.0 : 0;
}

static void print_config(const BlkRun *run)
{
    const BlkOptions *o = &run->opt;
    FeDevice *dev = fe_blk_device(run->blk);

    g_print("qcontext-bench blk: %s bs=%u iodepth=%u numjobs=%u runtime=%.1fs%s%s\n",
            o->rw_name, o->bs, o->iodepth, o->numjobs, o->runtime_s,
            o->verify ? " verify" : "", o->poll ? " poll" : "");
    g_print("  back-end %s: capacity %" G_GUINT64_FORMAT
            " MiB, features 0x%" G_GINT64_MODIFIER
            "x, protocol features 0x%" G_GINT64_MODIFIER "x\n",
            o->socket, fe_blk_capacity(run->blk) >> 20, fe_device_features(dev),
            fe_device_protocol_features(dev));
    g_print("  working set %" G_GUINT64_FORMAT " MiB per job, completions %s%s\n",
            run->region >> 20,
            o->poll ? "busy-polled" : "by call eventfd (the guest's interrupt)",
            !o->poll && o->spin_us ? ", after a busy-poll of the used ring" : "");
    if (run->ring_limited) {
        g_print("  note: no indirect descriptors and a %u-entry ring: fewer than "
                "%u requests fit in flight\n",
                o->queue_size ? o->queue_size : MAX(256u, o->iodepth), o->iodepth);
    }
}

void bench_blk_report_text(const BlkRun *run)
{
    const LatencyHistogram *h = &run->total;
    BlkTotals t;

    totals(run, &t);
    print_config(run);
    g_print("\n  %12s %10s %10s %10s %10s %10s %10s\n", "IOPS", "MB/s", "p50 us",
            "p99 us", "p99.9 us", "mean us", "max us");
    g_print("  %12.0f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", t.iops, t.mb_s,
            pct_us(h, 50), pct_us(h, 99), pct_us(h, 99.9), mean_us(h),
            (double)h->max_ns / 1000.0);
    g_print("  %" G_GUINT64_FORMAT " requests (%" G_GUINT64_FORMAT
            " reads, %" G_GUINT64_FORMAT " writes), %" G_GUINT64_FORMAT " failed\n",
            t.ios, t.reads, t.writes, t.io_errors);
    for (unsigned i = 0; run->opt.numjobs > 1 && i < run->opt.numjobs; i++) {
        const BlkJobResult *r = &run->jobs[i];
        double s = (double)r->elapsed_ns / 1e9;

        g_print("  job %u (cpu %d): %.0f IOPS, p50 %.1f us, p99 %.1f us\n", i, r->cpu,
                s > 0 ? (double)r->ios / s : 0, pct_us(r->hist, 50),
                pct_us(r->hist, 99));
    }
    if (run->opt.verify) {
        g_print("  verify: %" G_GUINT64_FORMAT " blocks checked, %" G_GUINT64_FORMAT
                " wrong\n",
                t.checked, t.verify_errors);
        for (unsigned i = 0; i < run->opt.numjobs; i++) {
            if (run->jobs[i].verify_errors) {
                g_print(
                    "  verify: job %u: first wrong block at offset %" G_GUINT64_FORMAT
                    "\n",
                    i, run->jobs[i].first_bad_offset);
            }
        }
    }
    for (unsigned i = 0; i < run->opt.numjobs; i++) {
        if (run->jobs[i].error) {
            g_print("  job %u stopped: %s\n", i, run->jobs[i].error);
        }
    }
}

static void json_lat(JsonOut *o, const char *key, const LatencyHistogram *h)
{
    jo_open(o, key, '{');
    jo_num(o, "p50", pct_us(h, 50));
    jo_num(o, "p99", pct_us(h, 99));
    jo_num(o, "p99_9", pct_us(h, 99.9));
    jo_num(o, "mean", mean_us(h));
    jo_num(o, "max", (double)h->max_ns / 1000.0);
    jo_close(o, '}');
}

static void json_config(JsonOut *o, const BlkRun *run)
{
    const BlkOptions *opt = &run->opt;
    FeDevice *dev = fe_blk_device(run->blk);

    jo_open(o, "config", '{');
    jo_str(o, "socket", opt->socket);
    jo_str(o, "rw", opt->rw_name);
    jo_int(o, "bs", opt->bs);
    jo_int(o, "iodepth", opt->iodepth);
    jo_int(o, "numjobs", opt->numjobs);
    jo_num(o, "runtime_s", opt->runtime_s);
    jo_num(o, "ramp_s", opt->ramp_s);
    jo_int(o, "number", (gint64)opt->number);
    jo_int(o, "region_bytes", (gint64)run->region);
    jo_bool(o, "verify", opt->verify);
    jo_bool(o, "poll", opt->poll);
    jo_int(o, "spin_us", opt->spin_us);
    jo_int(o, "capacity", (gint64)fe_blk_capacity(run->blk));
    jo_int(o, "features", (gint64)fe_device_features(dev));
    jo_int(o, "protocol_features", (gint64)fe_device_protocol_features(dev));
    jo_bool(o, "ring_limited", run->ring_limited);
    jo_close(o, '}');
}

/* The client's own work per request: is it the bottleneck? */
static void json_client(JsonOut *o, const BlkRun *run)
{
    uint64_t done = 0, loops = 0, waits = 0, kicks = 0;

    for (unsigned i = 0; i < run->opt.numjobs; i++) {
        done += run->jobs[i].main_done;
        loops += run->jobs[i].loops;
        waits += run->jobs[i].waits;
        kicks += run->jobs[i].kicks;
    }
    jo_open(o, "client", '{');
    jo_num(o, "loops_per_io", done ? (double)loops / (double)done : 0);
    jo_num(o, "waits_per_io", done ? (double)waits / (double)done : 0);
    jo_num(o, "kicks_per_io", done ? (double)kicks / (double)done : 0);
    jo_close(o, '}');
}

gboolean bench_blk_report_json(const BlkRun *run)
{
    JsonOut o = {.s = g_string_new(NULL)};
    BlkTotals t;

    totals(run, &t);
    jo_open(&o, NULL, '{');
    jo_str(&o, "benchmark", "blk");
    json_config(&o, run);
    jo_open(&o, "result", '{');
    jo_num(&o, "iops", t.iops);
    jo_num(&o, "mb_s", t.mb_s);
    jo_num(&o, "seconds", t.seconds);
    jo_int(&o, "ios", (gint64)t.ios);
    jo_int(&o, "reads", (gint64)t.reads);
    jo_int(&o, "writes", (gint64)t.writes);
    jo_int(&o, "io_errors", (gint64)t.io_errors);
    jo_int(&o, "verify_checked", (gint64)t.checked);
    jo_int(&o, "verify_errors", (gint64)t.verify_errors);
    jo_int(&o, "failed_jobs", t.failed_jobs);
    json_lat(&o, "lat_us", &run->total);
    json_client(&o, run);
    jo_close(&o, '}');
    jo_open(&o, "jobs", '[');
    for (unsigned i = 0; i < run->opt.numjobs; i++) {
        const BlkJobResult *r = &run->jobs[i];
        double s = (double)r->elapsed_ns / 1e9;

        jo_open(&o, NULL, '{');
        jo_int(&o, "job", i);
        jo_int(&o, "cpu", r->cpu);
        jo_num(&o, "iops", s > 0 ? (double)r->ios / s : 0);
        jo_int(&o, "ios", (gint64)r->ios);
        jo_int(&o, "io_errors", (gint64)r->io_errors);
        jo_int(&o, "verify_errors", (gint64)r->verify_errors);
        if (r->error) {
            jo_str(&o, "error", r->error);
        }
        json_lat(&o, "lat_us", r->hist);
        jo_close(&o, '}');
    }
    jo_close(&o, ']');
    jo_close(&o, '}');
    return bench_json_print(&o);
}

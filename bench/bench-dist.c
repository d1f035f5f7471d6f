/*
 * bench/bench-dist.c - what the samples of each row say beyond p50/p99:
 * their percentiles as CSV (--csv), their distributions as a plot (--plot,
 * bench-plot.c) and whether the run was too noisy to compare (a floor
 * whose round medians moved more than BENCH_NOISE_SPREAD times).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "bench.h"

size_t bench_series_count(const BenchSeries *s)
{
    return s->hist ? (size_t)s->hist->count : s->n;
}

double bench_series_percentile(const BenchSeries *s, double p)
{
    if (s->hist) {
        return s->hist->count ? (double)lat_hist_percentile(s->hist, p) : 0;
    }
    return bench_percentile(s->samples, s->n, p);
}

/* The smallest and largest sample of @s (ns). */
static void series_min_max(const BenchSeries *s, double *min, double *max)
{
    if (s->hist) {
        unsigned b = 0;

        while (b < LAT_HIST_BUCKETS && !s->hist->buckets[b]) {
            b++;
        }
        *min = b < LAT_HIST_BUCKETS ? (double)lat_hist_bucket_low(b) : 0;
        *max = (double)s->hist->max_ns;
        return;
    }
    *min = (double)s->samples[0];
    *max = (double)s->samples[s->n - 1];
}

static const double csv_percentiles[] = {1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99};

gboolean bench_csv_write(const char *path, const BenchSeries *s, size_t n,
                         GError **errp)
{
    GString *out = g_string_new("row,samples,min_us");
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    gboolean ok;

    for (size_t k = 0; k < G_N_ELEMENTS(csv_percentiles); k++) {
        g_string_append_printf(
            out, ",p%s_us",
            g_ascii_formatd(buf, sizeof(buf), "%g", csv_percentiles[k]));
    }
    g_string_append(out, ",max_us\n");
    for (size_t i = 0; i < n; i++) {
        double min, max;

        if (!bench_series_count(&s[i])) {
            continue;
        }
        series_min_max(&s[i], &min, &max);
        g_string_append_printf(out, "%s,%zu,%s", s[i].name, bench_series_count(&s[i]),
                               g_ascii_formatd(buf, sizeof(buf), "%.3f", min / 1000.0));
        for (size_t k = 0; k < G_N_ELEMENTS(csv_percentiles); k++) {
            double v = bench_series_percentile(&s[i], csv_percentiles[k]);
            g_string_append_printf(
                out, ",%s", g_ascii_formatd(buf, sizeof(buf), "%.3f", v / 1000.0));
        }
        g_string_append_printf(out, ",%s\n",
                               g_ascii_formatd(buf, sizeof(buf), "%.3f", max / 1000.0));
    }
    ok = g_file_set_contents(path, out->str, (gssize)out->len, errp);
    if (!ok) {
        g_prefix_error(errp, "--csv: ");
    }
    g_string_free(out, TRUE);
    return ok;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

void bench_round_note(BenchMechResult *res, const uint64_t *batch, size_t n)
{
    uint64_t *copy;
    double med;

    if (n == 0) {
        return;
    }
    copy = g_memdup2(batch, n * sizeof(*batch));
    qsort(copy, n, sizeof(*copy), cmp_u64);
    med = bench_percentile(copy, n, 50);
    g_free(copy);
    if (res->round_p50_min == 0 || med < res->round_p50_min) {
        res->round_p50_min = med;
    }
    res->round_p50_max = MAX(res->round_p50_max, med);
}

char **bench_noise_warnings(const BenchRun *run)
{
    GPtrArray *out = g_ptr_array_new();

    for (guint i = 0; run->mechs && i < run->mechs->len; i++) {
        const BenchMechResult *r = &g_array_index(run->mechs, BenchMechResult, i);

        if (r->ops->is_floor && bench_usable(r) && r->round_p50_min > 0 &&
            r->round_p50_max > BENCH_NOISE_SPREAD * r->round_p50_min) {
            g_ptr_array_add(
                out, g_strdup_printf(
                         "too noisy to compare: the %s floor's median moved from %.2f "
                         "to %.2f us between rounds (more than %gx); run again on a "
                         "quiet machine, or pin with --cpus",
                         r->ops->name, r->round_p50_min / 1000.0,
                         r->round_p50_max / 1000.0, BENCH_NOISE_SPREAD));
        }
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

static BenchSeries *wakeup_series(const BenchRun *run, size_t *n)
{
    BenchSeries *s = g_new0(BenchSeries, run->mechs ? run->mechs->len : 0);

    *n = 0;
    for (guint i = 0; run->mechs && i < run->mechs->len; i++) {
        const BenchMechResult *r = &g_array_index(run->mechs, BenchMechResult, i);

        if (bench_usable(r) && r->samples) {
            s[(*n)++] = (BenchSeries){r->ops->name, r->samples, r->sum.n};
        }
    }
    return s;
}

gboolean bench_write_outputs(const BenchRun *run)
{
    const BenchOptions *opt = &run->opt;
    g_auto(GStrv) warnings = bench_noise_warnings(run);
    g_autofree BenchSeries *s = NULL;
    g_autofree char *cpus = bench_cpus_text(opt);
    g_autofree char *title = NULL;
    GError *err = NULL;
    gboolean ok = TRUE;
    size_t n;

    for (char **w = warnings; *w; w++) {
        g_printerr("qcontext-bench: warning: %s\n", *w);
    }
    if (!opt->plot_path && !opt->csv_path) {
        return TRUE;
    }
    s = wakeup_series(run, &n);
    title =
        g_strdup_printf("qcontext-bench wakeup: round-trip latency, %d per row, %s%s",
                        opt->iterations, cpus, warnings[0] ? " (NOISY RUN)" : "");
    if (opt->plot_path && !bench_plot_png(opt->plot_path, title, s, n, &err)) {
        g_printerr("qcontext-bench: %s\n", err->message);
        g_clear_error(&err);
        ok = FALSE;
    }
    if (opt->csv_path && !bench_csv_write(opt->csv_path, s, n, &err)) {
        g_printerr("qcontext-bench: %s\n", err->message);
        g_clear_error(&err);
        ok = FALSE;
    }
    return ok;
}

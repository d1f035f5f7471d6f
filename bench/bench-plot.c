/*
 * bench/bench-plot.c - the latency distribution of each row as a PNG
 * (--plot): one cumulative distribution per row, latency on a log scale,
 * drawn with cairo.
 *
 * Any benchmark can use it: hand bench_plot_png() a BenchSeries per row
 * (sorted samples in nanoseconds).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include <gio/gio.h>

#include "bench.h"

#ifdef BENCH_HAVE_CAIRO
#include <cairo.h>

#define PLOT_W 1100
#define PLOT_H 680
#define MARGIN_L 70
#define MARGIN_R 250 /* the legend */
#define MARGIN_T 72
#define MARGIN_B 60

/* Distinct colours (Okabe-Ito, then darker variants), RGB 0..1. */
static const double palette[][3] = {
    {0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}, {0.000, 0.620, 0.451},
    {0.800, 0.475, 0.655}, {0.550, 0.450, 0.000}, {0.337, 0.706, 0.914},
    {0.902, 0.624, 0.000}, {0.000, 0.000, 0.000}, {0.500, 0.000, 0.000},
    {0.000, 0.300, 0.300}, {0.400, 0.200, 0.600}, {0.500, 0.500, 0.000},
};

typedef struct {
    cairo_t *cr;
    double lo, hi; /* log10 of the x range, in microseconds */
} Plot;

static double plot_x(const Plot *p, double us)
{
    double l = log10(MAX(us, 1e-3));

    return MARGIN_L + (l - p->lo) / (p->hi - p->lo) * (PLOT_W - MARGIN_L - MARGIN_R);
}

static double plot_y(double frac)
{
    return PLOT_H - MARGIN_B - frac * (PLOT_H - MARGIN_T - MARGIN_B);
}

static void text_at(cairo_t *cr, double x, double y, const char *text, double align)
{
    cairo_text_extents_t ext;

    cairo_text_extents(cr, text, &ext);
    cairo_move_to(cr, x - ext.width * align, y);
    cairo_show_text(cr, text);
}

/* Decades from the smallest to the largest sample, in microseconds. */
static void plot_range(Plot *p, const BenchSeries *s, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;

    for (size_t i = 0; i < n; i++) {
        if (bench_series_count(&s[i])) {
            double max = s[i].hist ? (double)s[i].hist->max_ns
                                   : (double)s[i].samples[s[i].n - 1];

            lo = MIN(lo, bench_series_percentile(&s[i], 1e-9) / 1000.0);
            hi = MAX(hi, max / 1000.0);
        }
    }
    p->lo = floor(log10(MAX(lo, 1e-3)));
    p->hi = ceil(log10(MAX(hi, 1e-3)));
    if (p->hi <= p->lo) {
        p->hi = p->lo + 1;
    }
}

static void plot_axes(const Plot *p, const char *title)
{
    cairo_t *cr = p->cr;
    char label[32];

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_line_width(cr, 1);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    /* vertical grid: decades (labelled) and 2x, 5x */
    for (double d = p->lo; d <= p->hi; d++) {
        for (int m = 1; m <= 5; m += m == 1 ? 1 : 3) {
            double us = pow(10, d) * m, x = plot_x(p, us);

            if (log10(us) > p->hi + 1e-9) {
                break;
            }
            cairo_set_source_rgb(cr, m == 1 ? 0.75 : 0.9, m == 1 ? 0.75 : 0.9,
                                 m == 1 ? 0.75 : 0.9);
            cairo_move_to(cr, x, plot_y(0));
            cairo_line_to(cr, x, plot_y(1));
            cairo_stroke(cr);
            if (m == 1) {
                g_snprintf(label, sizeof(label), us >= 1 ? "%.0f" : "%g", us);
                cairo_set_source_rgb(cr, 0, 0, 0);
                text_at(cr, x, plot_y(0) + 18, label, 0.5);
            }
        }
    }
    /* horizontal grid: every 10 % */
    for (int i = 0; i <= 10; i++) {
        double y = plot_y(i / 10.0);

        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, plot_x(p, pow(10, p->lo)), y);
        cairo_line_to(cr, plot_x(p, pow(10, p->hi)), y);
        cairo_stroke(cr);
        g_snprintf(label, sizeof(label), "%d%%", i * 10);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, MARGIN_L - 8, y + 4, label, 1.0);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, MARGIN_L, MARGIN_T, PLOT_W - MARGIN_L - MARGIN_R,
                    PLOT_H - MARGIN_T - MARGIN_B);
    cairo_stroke(cr);
    text_at(cr, (MARGIN_L + PLOT_W - MARGIN_R) / 2.0, PLOT_H - 18,
            "latency (us, log scale)", 0.5);
    text_at(cr, MARGIN_L, MARGIN_T - 10, "share of samples at or below", 0.0);
    cairo_set_font_size(cr, 15);
    text_at(cr, PLOT_W / 2.0, 24, title, 0.5);
}

/* A histogram's CDF: a point at the top of each non-empty bucket. */
static void plot_hist(const Plot *p, const LatencyHistogram *h)
{
    uint64_t cum = 0;
    unsigned b = 0;

    while (b < LAT_HIST_BUCKETS && !h->buckets[b]) {
        b++;
    }
    cairo_move_to(p->cr, plot_x(p, (double)lat_hist_bucket_low(b) / 1000.0), plot_y(0));
    for (; b < LAT_HIST_BUCKETS && cum < h->count; b++) {
        double top = b + 1 < LAT_HIST_BUCKETS ? (double)lat_hist_bucket_low(b + 1)
                                              : (double)h->max_ns;

        if (!h->buckets[b]) {
            continue;
        }
        cum += h->buckets[b];
        cairo_line_to(p->cr, plot_x(p, MIN(top, (double)h->max_ns) / 1000.0),
                      plot_y((double)cum / (double)h->count));
    }
    cairo_stroke(p->cr);
}

/* One row's CDF: a point wherever it moves by at least half a pixel. */
static void plot_series(const Plot *p, const BenchSeries *s, const double rgb[3])
{
    cairo_t *cr = p->cr;
    double last_x = -1, last_y = -1;

    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_set_line_width(cr, 2);
    if (s->hist) {
        plot_hist(p, s->hist);
        return;
    }
    cairo_move_to(cr, plot_x(p, (double)s->samples[0] / 1000.0), plot_y(0));
    for (size_t i = 0; i < s->n; i++) {
        double x = plot_x(p, (double)s->samples[i] / 1000.0);
        double y = plot_y((double)(i + 1) / (double)s->n);

        if (i + 1 == s->n || fabs(x - last_x) >= 0.5 || fabs(y - last_y) >= 0.5) {
            cairo_line_to(cr, x, y);
            last_x = x;
            last_y = y;
        }
    }
    cairo_stroke(cr);
}

static void plot_legend(const Plot *p, const BenchSeries *s, size_t n)
{
    cairo_t *cr = p->cr;
    double x = PLOT_W - MARGIN_R + 20, y = MARGIN_T + 10;
    char label[128];

    cairo_set_font_size(cr, 12);
    for (size_t i = 0, k = 0; i < n; i++) {
        const double *rgb = palette[i % G_N_ELEMENTS(palette)];

        if (!bench_series_count(&s[i])) {
            continue;
        }
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 3);
        cairo_move_to(cr, x, y + k * 36 - 4);
        cairo_line_to(cr, x + 24, y + k * 36 - 4);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, x + 32, y + k * 36, s[i].name, 0.0);
        g_snprintf(label, sizeof(label), "p50 %.2f  p99 %.2f us",
                   bench_series_percentile(&s[i], 50) / 1000.0,
                   bench_series_percentile(&s[i], 99) / 1000.0);
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
        text_at(cr, x + 32, y + k * 36 + 15, label, 0.0);
        k++;
    }
}

gboolean bench_plot_png(const char *path, const char *title, const BenchSeries *s,
                        size_t n, GError **errp)
{
    cairo_surface_t *surface =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, PLOT_W, PLOT_H);
    Plot p = {.cr = cairo_create(surface)};
    cairo_status_t st;

    plot_range(&p, s, n);
    plot_axes(&p, title);
    for (size_t i = 0; i < n; i++) {
        if (bench_series_count(&s[i])) {
            plot_series(&p, &s[i], palette[i % G_N_ELEMENTS(palette)]);
        }
    }
    plot_legend(&p, s, n);
    cairo_destroy(p.cr);
    st = cairo_surface_write_to_png(surface, path);
    cairo_surface_destroy(surface);
    cairo_debug_reset_static_data(); /* cairo's font caches (leak checkers) */
    if (st != CAIRO_STATUS_SUCCESS) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "--plot: cannot write '%s': %s", path, cairo_status_to_string(st));
        return FALSE;
    }
    return TRUE;
}

#else

gboolean bench_plot_png(const char *path, const char *title, const BenchSeries *s,
                        size_t n, GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "--plot: qcontext-bench was built without cairo (install libcairo2-dev "
                "and reconfigure)");
    return FALSE;
}

#endif

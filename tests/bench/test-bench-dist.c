/*
 * tests/bench/test-bench-dist.c - the shared distribution code of
 * qcontext-bench: round medians and the "too noisy to compare" warning,
 * the CSV of percentiles.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include <glib/gstdio.h>

#include "bench.h"

static const BenchMechOps floor_a = {.name = "floor-a", .is_floor = true};
static const BenchMechOps floor_b = {.name = "floor-b", .is_floor = true};
static const BenchMechOps row_c = {.name = "row-c"};

/* A batch of @n samples around @median_ns. */
static void note_round(BenchMechResult *r, uint64_t median_ns)
{
    uint64_t batch[5] = {median_ns * 3, median_ns / 2, median_ns, median_ns + 1,
                         median_ns - 1};

    bench_round_note(r, batch, G_N_ELEMENTS(batch));
}

static void test_noise(void)
{
    BenchRun run = {0};
    BenchMechResult res[3] = {{.ops = &floor_a, .ok = TRUE, .sum.n = 15},
                              {.ops = &floor_b, .ok = TRUE, .sum.n = 15},
                              {.ops = &row_c, .ok = TRUE, .sum.n = 15}};
    g_auto(GStrv) warnings = NULL;

    /* floor-a: 10 us, then 25 us (2.5x); floor-b: 10, 19 us (1.9x); row-c moves
     * 10x but is not a floor */
    note_round(&res[0], 10000);
    note_round(&res[0], 25000);
    note_round(&res[0], 12000);
    note_round(&res[1], 10000);
    note_round(&res[1], 19000);
    note_round(&res[2], 1000);
    note_round(&res[2], 10000);
    g_assert_cmpfloat(res[0].round_p50_min, ==, 10000);
    g_assert_cmpfloat(res[0].round_p50_max, ==, 25000);
    run.mechs = g_array_new(FALSE, FALSE, sizeof(BenchMechResult));
    g_array_append_vals(run.mechs, res, G_N_ELEMENTS(res));
    warnings = bench_noise_warnings(&run);
    g_assert_cmpuint(g_strv_length(warnings), ==, 1);
    g_assert_nonnull(strstr(warnings[0], "floor-a floor's median moved from 10.00 to "
                                         "25.00 us between rounds (more than 2x)"));
    g_array_unref(run.mechs);
}

static void test_csv(void)
{
    uint64_t a[100], b[1] = {5000};
    BenchSeries s[3] = {{"a", a, 100}, {"empty", NULL, 0}, {"b", b, 1}};
    g_autofree char *dir = g_dir_make_tmp("bench-dist-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "x.csv", NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GError *err = NULL;

    for (int i = 0; i < 100; i++) {
        a[i] = (uint64_t)(i + 1) * 1000; /* 1 .. 100 us */
    }
    g_assert_true(bench_csv_write(path, s, G_N_ELEMENTS(s), &err));
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    g_assert_cmpstr(lines[0], ==,
                    "row,samples,min_us,p1_us,p5_us,p10_us,p25_us,p50_us,p75_us,p90_us,"
                    "p95_us,p99_us,p99.9_us,p99.99_us,max_us");
    g_assert_cmpstr(lines[1], ==,
                    "a,100,1.000,1.000,5.000,10.000,25.000,50.000,75.000,90.000,95.000,"
                    "99.000,100.000,100.000,100.000");
    g_assert_cmpstr(lines[2], ==,
                    "b,1,5.000,5.000,5.000,5.000,5.000,5.000,5.000,5.000,5.000,5.000,"
                    "5.000,5.000,5.000");
    g_assert_cmpstr(lines[3], ==, "");
    g_assert_null(lines[4]);
    g_unlink(path);
    g_rmdir(dir);

    g_assert_false(bench_csv_write("/nonexistent-dir/x.csv", s, 1, &err));
    g_assert_nonnull(strstr(err->message, "--csv: "));
    g_clear_error(&err);
}

/* A histogram row (qcontext-bench blk): its percentiles within a bucket. */
static void test_hist(void)
{
    LatencyHistogram h;
    BenchSeries s = {.name = "job 0", .hist = &h};
    g_autofree char *dir = g_dir_make_tmp("bench-dist-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "x.csv", NULL);
    g_autofree char *png = g_build_filename(dir, "x.png", NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL, cols = NULL;
    GError *err = NULL;

    lat_hist_reset(&h);
    for (int i = 1; i <= 1000; i++) {
        lat_hist_record(&h, (uint64_t)i * 1000); /* 1 .. 1000 us */
    }
    g_assert_cmpuint(bench_series_count(&s), ==, 1000);
    g_assert_cmpfloat(fabs(bench_series_percentile(&s, 50) - 500000), <, 500000 * 0.04);
    g_assert_cmpfloat(fabs(bench_series_percentile(&s, 99) - 990000), <, 990000 * 0.04);
    g_assert_true(bench_csv_write(path, &s, 1, &err));
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    cols = g_strsplit(lines[1], ",", -1);
    g_assert_cmpstr(cols[0], ==, "job 0");
    g_assert_cmpstr(cols[1], ==, "1000");
    g_assert_cmpfloat(fabs(g_ascii_strtod(cols[7], NULL) - 500), <,
                      500 * 0.04);             /* p50 */
    g_assert_cmpstr(cols[14], ==, "1000.000"); /* max */
#ifdef BENCH_HAVE_CAIRO
    g_assert_true(bench_plot_png(png, "histogram", &s, 1, &err));
    g_assert_true(g_file_test(png, G_FILE_TEST_IS_REGULAR));
    g_unlink(png);
#endif
    g_unlink(path);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/bench-dist/noise", test_noise);
    g_test_add_func("/bench-dist/csv", test_csv);
    g_test_add_func("/bench-dist/histogram", test_hist);
    return g_test_run();
}

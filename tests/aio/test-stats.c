/*
 * tests/aio/test-stats.c - the log-linear latency histogram.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include <glib.h>

#include "qcontext/aio/stats.h"

static void test_bucket_boundaries(void)
{
    /* Below 2^SUB_BITS every value has its own bucket. */
    for (uint64_t v = 0; v < 2 * LAT_HIST_SUB; v++) {
        g_assert_cmpuint(lat_hist_bucket_of(v), ==, v);
        g_assert_cmpuint(lat_hist_bucket_low(v), ==, v);
    }
    /* Every bucket starts where the previous ends, 1/32 wide at most. */
    for (unsigned b = 1; b < LAT_HIST_BUCKETS; b++) {
        uint64_t low = lat_hist_bucket_low(b);
        uint64_t prev = lat_hist_bucket_low(b - 1);

        g_assert_cmpuint(low, >, prev);
        g_assert_cmpuint(lat_hist_bucket_of(low), ==, b);
        g_assert_cmpuint(lat_hist_bucket_of(low - 1), ==, b - 1);
        if (b > LAT_HIST_SUB) {
            g_assert_cmpuint((low - prev) * LAT_HIST_SUB, <=, prev);
        }
    }
    g_assert_cmpuint(lat_hist_bucket_of(UINT64_MAX), ==, LAT_HIST_BUCKETS - 1);
    g_assert_cmpuint(lat_hist_bucket_of(1ull << 63), ==,
                     LAT_HIST_BUCKETS - LAT_HIST_SUB);
    /* A few hand-computed values: 1000 = 0b1111101000, high bit 9. */
    g_assert_cmpuint(lat_hist_bucket_of(1000), ==, 5 * 32 + 30);
    g_assert_cmpuint(lat_hist_bucket_low(5 * 32 + 30), ==, 62 * 16);
    g_assert_cmpuint(lat_hist_bucket_of(1024), ==, 6 * 32);
}

static void test_empty_and_totals(void)
{
    LatencyHistogram *h = g_new0(LatencyHistogram, 1);

    g_assert_cmpuint(lat_hist_percentile(h, 50), ==, 0);
    g_assert_cmpuint(lat_hist_percentile(h, 100), ==, 0);

    lat_hist_record(h, 5);
    lat_hist_record(h, 7);
    lat_hist_record(h, 40);
    g_assert_cmpuint(h->count, ==, 3);
    g_assert_cmpuint(h->sum_ns, ==, 52);
    g_assert_cmpuint(h->max_ns, ==, 40);
    g_assert_cmpuint(lat_hist_percentile(h, 0), ==, 5);
    g_assert_cmpuint(lat_hist_percentile(h, 33), ==, 5);
    g_assert_cmpuint(lat_hist_percentile(h, 50), ==, 7);
    g_assert_cmpuint(lat_hist_percentile(h, 100), ==, 40);

    lat_hist_reset(h);
    g_assert_cmpuint(h->count, ==, 0);
    g_assert_cmpuint(h->max_ns, ==, 0);
    g_assert_cmpuint(lat_hist_percentile(h, 99), ==, 0);
    g_free(h);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_percentile_accuracy(void)
{
    enum { N = 100000 };
    static const double ps[] = {0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    LatencyHistogram *h = g_new0(LatencyHistogram, 1);
    uint64_t *vals = g_new(uint64_t, N);
    GRand *rand = g_rand_new_with_seed(20240501);

    /* Log-uniform between 1 ns and ~4 s, so every range is exercised. */
    for (int i = 0; i < N; i++) {
        vals[i] = (uint64_t)exp2(g_rand_double_range(rand, 0, 32));
        lat_hist_record(h, vals[i]);
    }
    qsort(vals, N, sizeof(vals[0]), cmp_u64);
    g_assert_cmpuint(h->max_ns, ==, vals[N - 1]);

    for (size_t i = 0; i < G_N_ELEMENTS(ps); i++) {
        size_t rank = (size_t)ceil(ps[i] / 100 * N);
        uint64_t exact = vals[MAX(rank, 1) - 1];
        uint64_t got = lat_hist_percentile(h, ps[i]);
        uint64_t err = got > exact ? got - exact : exact - got;

        g_test_message("p%g exact %" G_GUINT64_FORMAT " got %" G_GUINT64_FORMAT, ps[i],
                       exact, got);
        g_assert_cmpuint(err * 32, <=, exact);
    }
    g_rand_free(rand);
    g_free(vals);
    g_free(h);
}

/* A writer records a known sequence while the reader takes copies. */
typedef struct {
    LatencyHistogram *h;
    uint64_t n;
    int done;
} WriterArgs;

static uint64_t writer_value(uint64_t i)
{
    return 100 + (i % 4) * 1000; /* 100, 1100, 2100, 3100 */
}

static void *writer_thread(void *opaque)
{
    WriterArgs *args = opaque;

    for (uint64_t i = 0; i < args->n; i++) {
        lat_hist_record(args->h, writer_value(i));
    }
    __atomic_store_n(&args->done, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void check_copy(const LatencyHistogram *copy, const LatencyHistogram *prev)
{
    uint64_t total = 0;

    for (unsigned b = 0; b < LAT_HIST_BUCKETS; b++) {
        total += copy->buckets[b];
        g_assert_cmpuint(copy->buckets[b], >=, prev->buckets[b]);
        if (copy->buckets[b]) {
            uint64_t low = lat_hist_bucket_low(b);
            g_assert_true(
                b == lat_hist_bucket_of(100) || b == lat_hist_bucket_of(1100) ||
                b == lat_hist_bucket_of(2100) || b == lat_hist_bucket_of(3100));
            g_assert_cmpuint(low, <=, 3100);
        }
    }
    g_assert_cmpuint(copy->count, ==, total);
    g_assert_cmpuint(copy->count, >=, prev->count);
    g_assert_cmpuint(copy->max_ns, <=, 3100);
    if (copy->count) {
        uint64_t p50 = lat_hist_percentile(copy, 50);
        g_assert_cmpuint(p50, >=, 100);
        g_assert_cmpuint(p50, <=, 3200);
    }
}

static void test_copy_concurrent(void)
{
    LatencyHistogram *h = g_new0(LatencyHistogram, 1);
    LatencyHistogram *copy = g_new0(LatencyHistogram, 1);
    LatencyHistogram *prev = g_new0(LatencyHistogram, 1);
    WriterArgs args = {.h = h, .n = 200000};
    pthread_t thread;
    int copies = 0;

    g_assert_cmpint(pthread_create(&thread, NULL, writer_thread, &args), ==, 0);
    while (!__atomic_load_n(&args.done, __ATOMIC_RELAXED) || copies < 3) {
        lat_hist_copy(copy, h);
        check_copy(copy, prev);
        *prev = *copy;
        copies++;
    }
    pthread_join(thread, NULL);

    lat_hist_copy(copy, h);
    check_copy(copy, prev);
    g_assert_cmpuint(copy->count, ==, args.n);
    g_assert_cmpuint(copy->max_ns, ==, 3100);
    g_assert_cmpuint(copy->sum_ns, ==, args.n / 4 * (100 + 1100 + 2100 + 3100));
    g_assert_cmpuint(copy->buckets[lat_hist_bucket_of(1100)], ==, args.n / 4);
    g_free(prev);
    g_free(copy);
    g_free(h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/stats/bucket-boundaries", test_bucket_boundaries);
    g_test_add_func("/stats/empty-and-totals", test_empty_and_totals);
    g_test_add_func("/stats/percentile-accuracy", test_percentile_accuracy);
    g_test_add_func("/stats/copy-concurrent", test_copy_concurrent);
    return g_test_run();
}

/*
 * aio/stats.h - per-context statistics and a log-linear latency histogram.
 *
 * The histogram is written by one thread (the context's) with relaxed atomic
 * increments and read from any other thread.  Buckets are log-linear:
 * values below 2^LAT_HIST_SUB_BITS ns get one bucket each; above, each
 * power of two is split into 2^LAT_HIST_SUB_BITS linear sub-buckets, so a
 * reported percentile is within 1/2^LAT_HIST_SUB_BITS (3%) of the truth.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AIO_STATS_H
#define AIO_STATS_H

#include <stdint.h>

/** Each power of two is split in 2^LAT_HIST_SUB_BITS buckets (~3% each). */
#define LAT_HIST_SUB_BITS 5
/** Buckets per power of two. */
#define LAT_HIST_SUB (1u << LAT_HIST_SUB_BITS)
/* 64-bit values: (64 - SUB_BITS + 1) groups of SUB buckets */
/** Buckets of a LatencyHistogram (64-bit values). */
#define LAT_HIST_BUCKETS ((64 - LAT_HIST_SUB_BITS + 1) * LAT_HIST_SUB)

/** A log-linear histogram of nanosecond values. */
typedef struct LatencyHistogram {
    uint64_t count;                     /**< values recorded */
    uint64_t sum_ns;                    /**< their sum */
    uint64_t max_ns;                    /**< the largest */
    uint64_t buckets[LAT_HIST_BUCKETS]; /**< values per bucket (lat_hist_bucket_*()) */
} LatencyHistogram;

/** lat_hist_reset: zero @h (not concurrently with writers). */
void lat_hist_reset(LatencyHistogram *h);

/** lat_hist_record: add one value (single writer; relaxed atomics). */
void lat_hist_record(LatencyHistogram *h, uint64_t ns);

/** lat_hist_copy: snapshot @src into @dst; safe against a concurrent writer. */
void lat_hist_copy(LatencyHistogram *dst, const LatencyHistogram *src);

/**
 * lat_hist_percentile: the value at percentile @p (0..100) of @h, as the
 * midpoint of its bucket; 0 when empty.
 */
uint64_t lat_hist_percentile(const LatencyHistogram *h, double p);

/** lat_hist_bucket_of: the bucket index of @ns (exposed for tests). */
unsigned lat_hist_bucket_of(uint64_t ns);

/** lat_hist_bucket_low: the smallest value of bucket @b (exposed for tests). */
uint64_t lat_hist_bucket_low(unsigned b);

/** Per-AioContext counters, see aio_context_get_stats(). */
typedef struct AioContextStats {
    uint64_t iterations;     /**< aio_poll() calls that ran an iteration */
    uint64_t dispatches;     /**< handlers, BHs and timers run */
    uint64_t wakeups;        /**< times the home thread woke from a block */
    uint64_t busy_ns;        /**< time spent outside the blocking wait */
    uint64_t wait_ns;        /**< time spent blocked in the fd monitor */
    uint64_t poll_ns;        /**< time spent busy-polling */
    uint64_t poll_hits;      /**< busy-polls that found work */
    uint64_t poll_misses;    /**< busy-polls that ran out of time */
    int64_t poll_window_ns;  /**< current adaptive polling window */
    LatencyHistogram wakeup; /**< notify of a sleeping loop -> dispatch, timer
                                  deadline -> dispatch */
} AioContextStats;

#endif /* AIO_STATS_H */

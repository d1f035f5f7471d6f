/*
 * aio/stats.c - the log-linear latency histogram of aio/stats.h.
 *
 * Bucket layout: values below LAT_HIST_SUB get one bucket each (group 0).
 * A value whose highest set bit is h >= LAT_HIST_SUB_BITS falls in group
 * h - LAT_HIST_SUB_BITS + 1, split into LAT_HIST_SUB linear sub-buckets of
 * width 2^(h - LAT_HIST_SUB_BITS).  The sub-bucket is given by the
 * LAT_HIST_SUB_BITS bits below the highest one.
 *
 * One thread writes with relaxed atomic loads and stores; readers use
 * relaxed atomic loads.  No ordering between fields is promised, so no
 * barrier is needed: each field is read whole (never torn).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "qcontext/aio/stats.h"

unsigned lat_hist_bucket_of(uint64_t ns)
{
    unsigned high, shift, sub;

    if (ns < LAT_HIST_SUB) {
        return (unsigned)ns;
    }
    high = 63 - (unsigned)__builtin_clzll(ns);
    shift = high - LAT_HIST_SUB_BITS;
    sub = (unsigned)(ns >> shift) & (LAT_HIST_SUB - 1);
    return (shift + 1) * LAT_HIST_SUB + sub;
}

uint64_t lat_hist_bucket_low(unsigned b)
{
    unsigned group, sub;

    if (b >= LAT_HIST_BUCKETS) {
        b = LAT_HIST_BUCKETS - 1;
    }
    if (b < LAT_HIST_SUB) {
        return b;
    }
    group = b / LAT_HIST_SUB;
    sub = b % LAT_HIST_SUB;
    return (uint64_t)(LAT_HIST_SUB + sub) << (group - 1);
}

/* The width of bucket @b (1 for the exact buckets of group 0). */
static uint64_t lat_hist_bucket_width(unsigned b)
{
    if (b < 2 * LAT_HIST_SUB) {
        return 1;
    }
    return (uint64_t)1 << (b / LAT_HIST_SUB - 1);
}

void lat_hist_reset(LatencyHistogram *h)
{
    memset(h, 0, sizeof(*h));
}

/* Single writer: a relaxed load and store, no read-modify-write needed. */
static inline void hist_add(uint64_t *field, uint64_t n)
{
    __atomic_store_n(field, __atomic_load_n(field, __ATOMIC_RELAXED) + n,
                     __ATOMIC_RELAXED);
}

void lat_hist_record(LatencyHistogram *h, uint64_t ns)
{
    unsigned b = lat_hist_bucket_of(ns);

    hist_add(&h->buckets[b], 1);
    hist_add(&h->count, 1);
    hist_add(&h->sum_ns, ns);
    /* Single writer: nobody else stores max_ns between the load and store. */
    if (ns > __atomic_load_n(&h->max_ns, __ATOMIC_RELAXED)) {
        __atomic_store_n(&h->max_ns, ns, __ATOMIC_RELAXED);
    }
}

void lat_hist_copy(LatencyHistogram *dst, const LatencyHistogram *src)
{
    uint64_t total = 0;

    for (unsigned b = 0; b < LAT_HIST_BUCKETS; b++) {
        dst->buckets[b] = __atomic_load_n(&src->buckets[b], __ATOMIC_RELAXED);
        total += dst->buckets[b];
    }
    /*
     * The writer may have recorded more values while we copied: make count
     * agree with the copied buckets so percentiles of the copy add up.
     */
    dst->count = total;
    dst->sum_ns = __atomic_load_n(&src->sum_ns, __ATOMIC_RELAXED);
    dst->max_ns = __atomic_load_n(&src->max_ns, __ATOMIC_RELAXED);
}

uint64_t lat_hist_percentile(const LatencyHistogram *h, double p)
{
    uint64_t total = 0, rank, seen = 0;
    unsigned last = 0;
    bool any = false;

    for (unsigned b = 0; b < LAT_HIST_BUCKETS; b++) {
        total += __atomic_load_n(&h->buckets[b], __ATOMIC_RELAXED);
    }
    if (total == 0) {
        return 0;
    }
    if (!(p > 0)) {
        p = 0;
    } else if (p > 100) {
        p = 100;
    }
    /* The rank of the value at percentile p, 1-based (nearest rank). */
    rank = (uint64_t)ceil(p / 100.0 * (double)total);
    if (rank < 1) {
        rank = 1;
    } else if (rank > total) {
        rank = total;
    }
    for (unsigned b = 0; b < LAT_HIST_BUCKETS; b++) {
        uint64_t n = __atomic_load_n(&h->buckets[b], __ATOMIC_RELAXED);
        if (n == 0) {
            continue;
        }
        last = b;
        any = true;
        seen += n;
        if (seen >= rank) {
            break;
        }
    }
    /* A concurrent reset may have emptied the buckets behind our back. */
    if (!any) {
        return 0;
    }
    return lat_hist_bucket_low(last) + lat_hist_bucket_width(last) / 2;
}

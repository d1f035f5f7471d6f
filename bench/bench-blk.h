/*
 * bench/bench-blk.h - `qcontext-bench blk`: a vhost-user-blk load
 * generator acting as the VMM (frontend/fe-blk.h), fio-like.
 *
 * One job = one thread = one virtqueue, optionally pinned.  Each job keeps
 * --iodepth requests in flight on its own region of the disk and records
 * every completion's latency (submission -> completion seen) in a
 * LatencyHistogram (aio/stats.h).  --verify first writes the region with
 * patterns, checks every read against the last completed write of its
 * block, and reads everything back at the end.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BENCH_BENCH_BLK_H
#define BENCH_BENCH_BLK_H

#include <stdint.h>

#include <glib.h>

#include "qcontext/aio/stats.h"
#include "frontend/fe-blk.h"

G_BEGIN_DECLS

/** The access pattern. */
typedef enum {
    BLK_RW_RANDREAD,
    BLK_RW_RANDWRITE,
    BLK_RW_READ,
    BLK_RW_WRITE,
    BLK_RW_MIXED, /**< random, --rwmixread percent reads */
} BlkRw;

/** Options of `qcontext-bench blk`. */
typedef struct BlkOptions {
    char *socket;
    BlkRw rw;
    const char *rw_name;
    unsigned bs;
    unsigned iodepth;
    unsigned numjobs;
    double runtime_s;
    double ramp_s;
    uint64_t number;    /**< --number: requests per job, then stop (0: --runtime) */
    uint64_t size;      /**< working set in bytes (0: capacity, 64 MiB with --verify) */
    unsigned rwmixread; /**< percent of reads with --rw mixed */
    unsigned queue_size;
    int timeout_ms;
    int *cpus; /**< --cpus: job i runs on cpus[i % ncpus] */
    unsigned ncpus;
    gboolean verify;
    gboolean json;
    gboolean poll; /**< busy-poll completions instead of sleeping on the call eventfd */
    unsigned
        spin_us; /**< busy-poll this long before sleeping (hybrid); 0: sleep at once */
    gboolean no_indirect;
    gboolean no_event_idx;
    char *plot_path; /**< --plot: latency distributions (each job, all jobs) as a PNG */
    char *csv_path;  /**< --csv: their percentiles as CSV */
} BlkOptions;

/** What one job measured. */
typedef struct BlkJobResult {
    uint64_t ios, reads, writes, bytes;
    uint64_t io_errors;      /**< requests completed with a non-OK status */
    uint64_t verify_checked; /**< blocks whose data was checked */
    uint64_t verify_errors;  /**< blocks whose data was wrong */
    uint64_t first_bad_offset;
    /* How the client itself spent the main phase (all of it, ramp included):
     * requests completed, passes of its loop, sleeps on the call eventfd,
     * kick eventfd writes.  A client that sleeps once per --iodepth
     * requests and still finds them all done is the bottleneck, not the
     * back-end (--spin-us). */
    uint64_t main_done, loops, waits, kicks;
    uint64_t elapsed_ns;    /**< the measured window */
    LatencyHistogram *hist; /**< latencies in the measured window */
    char *error;            /**< the job stopped early: why */
    int cpu;                /**< where it ran (-1: not pinned) */
} BlkJobResult;

/** The whole run. */
typedef struct BlkRun {
    BlkOptions opt;
    FeBlk *blk;
    uint64_t region; /**< bytes per job */
    BlkJobResult *jobs;
    LatencyHistogram total;
    gboolean ring_limited; /**< the ring holds fewer chains than --iodepth */
} BlkRun;

/** bench_blk_main: `qcontext-bench blk ...`; argv[0] is "blk". */
int bench_blk_main(int argc, char **argv);

/**
 * bench_blk_run_jobs: prefill (--verify), run the jobs, final check; fills
 * run->jobs and run->total.  FALSE if a job could not even start.
 */
gboolean bench_blk_run_jobs(BlkRun *run, GError **errp);

/** bench_blk_report_text: the human-readable result. */
void bench_blk_report_text(const BlkRun *run);

/** bench_blk_report_json: the result as one JSON object; FALSE on a bug. */
gboolean bench_blk_report_json(const BlkRun *run);

/**
 * bench_blk_pattern: fill @buf (@len bytes, a multiple of 512) with the
 * pattern of generation @gen at disk offset @offset.  Every 512-byte
 * sector names its own offset and generation, so a misplaced or stale
 * sector is caught.
 */
void bench_blk_pattern(uint8_t *buf, size_t len, uint64_t offset, uint32_t gen);

/**
 * bench_blk_pattern_check: @buf holds the pattern of @gen at @offset.
 */
gboolean bench_blk_pattern_check(const uint8_t *buf, size_t len, uint64_t offset,
                                 uint32_t gen);

G_END_DECLS

#endif /* BENCH_BENCH_BLK_H */

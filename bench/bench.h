/*
 * bench/bench.h - internal interface of qcontext-bench.
 *
 * The wakeup benchmark measures cross-thread round trips: thread A (the main
 * thread) stores a sequence number, signals thread B through the mechanism
 * under test, and spins until B's callback copies the sequence number back
 * into an atomic (BenchPing).  The reply path is the same for every
 * mechanism, so all rows measure "signal -> callback on B" plus the same
 * constant (one cache-line transfer back to A).
 *
 * Each mechanism is a BenchMechOps table (one file per family); the driver
 * (bench-wakeup.c) sets all of them up, runs them in interleaved rounds so
 * that machine noise hits all rows alike, and hands the samples to the
 * report (bench-report.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <glib.h>

#include "qcontext/aio/stats.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/* Utilities (bench-util.c)                                                  */
/* ------------------------------------------------------------------------ */

/** bench_now_ns: CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/** bench_cpu_relax: a pause hint for spin loops. */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/** bench_gettid: the kernel id of the calling thread. */
int bench_gettid(void);

/**
 * bench_pin_tid: pin thread @tid (0 = the caller) to @cpu; no-op when @cpu
 * is negative.  Returns FALSE with @errp set on failure.
 */
gboolean bench_pin_tid(int tid, int cpu, GError **errp);

/**
 * bench_bad: set @errp to a G_OPTION_ERROR_BAD_VALUE with the message
 * @fmt; returns FALSE (for `return bench_bad(errp, ...)`).
 */
gboolean bench_bad(GError **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/**
 * bench_parse_size: "512", "4k", "1M", "64MiB", "1G" (binary units) into
 * *@out bytes.  FALSE if @text is not such a size or overflows 64 bits.
 */
gboolean bench_parse_size(const char *text, uint64_t *out);

/** Summary of one set of latency samples, in nanoseconds. */
typedef struct BenchSummary {
    size_t n;
    double p50, p99, p999, mean, min, max;
} BenchSummary;

/**
 * bench_summarize: sort @samples in place and fill @out (nearest-rank
 * percentiles).  @n may be 0 (all zero then).
 */
void bench_summarize(uint64_t *samples, size_t n, BenchSummary *out);

/** bench_median: the median of @n doubles (sorts @v in place). */
double bench_median(double *v, size_t n);

/**
 * bench_percentile: the nearest-rank @p-th percentile (0 < @p <= 100) of
 * the @n sorted samples @v; 0 if @n is 0.
 */
double bench_percentile(const uint64_t *v, size_t n, double p);

/* ------------------------------------------------------------------------ */
/* Wakeup mechanisms                                                          */
/* ------------------------------------------------------------------------ */

/**
 * BenchPing: the shared reply path.  A writes @req (release) before it
 * signals; B's callback calls bench_pong(), which copies @req into @reply
 * (release); A spins on @reply (acquire).  The two fields live on separate
 * cache lines so that A's spinning does not disturb B's reads of @req.
 */
typedef struct BenchPing {
    _Alignas(64) _Atomic uint64_t req;
    _Alignas(64) _Atomic uint64_t reply;
} BenchPing;

/** bench_pong: the reply, called by B's callback.  Any thread. */
static inline void bench_pong(BenchPing *p)
{
    /* acquire pairs with A's release store of req in bench-wakeup.c */
    uint64_t seq = atomic_load_explicit(&p->req, memory_order_acquire);
    /* release pairs with A's acquire load of reply in bench-wakeup.c */
    atomic_store_explicit(&p->reply, seq, memory_order_release);
}

typedef struct BenchMechResult BenchMechResult;

/** Which floor a mechanism is compared with. */
typedef enum {
    BENCH_FLOOR_BLOCKING, /**< eventfd + epoll_wait */
    BENCH_FLOOR_POLLING,  /**< busy-poll on an atomic (a round trip of two spinners) */
    BENCH_FLOOR_PINGPONG, /**< eventfd + epoll_wait on both sides of the round trip */
} BenchFloorKind;

/**
 * BenchMechOps: one mechanism under test.
 * @name: short row name (also the JSON key and the --only name).
 * @what: one line saying what B does and how A signals it.
 * @floor: the floor its ratios are computed against.
 * @is_floor: TRUE for the two floors themselves.
 * @polling: a polling row: after each reply A waits only --poll-gap-ns,
 *   so that the next signal arrives while B is busy-polling (inside the
 *   poll window, not while B finishes its previous iteration).  Blocking
 *   rows wait --gap-us so that B is asleep again when the next signal
 *   comes.
 * @setup: start B (a thread blocked in its loop, callback = bench_pong on
 *   @ping); return an opaque state or NULL with @errp set.
 * @begin/@end: optional, around each measured batch on A.
 * @signal: wake B (called on A for every round trip).
 * @batch: for rows whose two threads X and Y time round trips themselves
 *   (ping-pong rows, bench-wakeup-pingpong.c): run @warm unrecorded then
 *   @count recorded round trips, pausing @gap_ns after each, and store the
 *   durations in @samples.  FALSE with @errp set if it failed.  @signal,
 *   @begin and @end are not used then.
 * @a_tid: the kernel tid of the thread pinned like A (X of a ping-pong), or
 *   NULL (A is the main thread).
 * @b_tid: the kernel tid of B (for --cpus), 0 if unknown.
 * @extra: optional; add mechanism-specific counters gathered since setup
 *   (e.g. poll hits) to @res with bench_result_add().  May be NULL.
 * @teardown: stop B and free the state.
 */
typedef struct BenchMechOps {
    const char *name;
    const char *what;
    BenchFloorKind floor;
    bool is_floor;
    bool polling;
    void *(*setup)(BenchPing *ping, GError **errp);
    void (*begin)(void *state);
    void (*signal)(void *state);
    void (*end)(void *state);
    gboolean (*batch)(void *state, size_t warm, size_t count, uint64_t gap_ns,
                      uint64_t *samples, GError **errp);
    int (*a_tid)(void *state);
    int (*b_tid)(void *state);
    void (*extra)(void *state, BenchMechResult *res);
    void (*teardown)(void *state);
} BenchMechOps;

extern const BenchMechOps bench_mech_eventfd;   /* bench-floor.c */
extern const BenchMechOps bench_mech_busypoll;  /* bench-floor.c */
extern const BenchMechOps bench_mech_glib;      /* bench-glib.c */
extern const BenchMechOps bench_mech_libuv;     /* bench-peers.c */
extern const BenchMechOps bench_mech_libevent;  /* bench-peers.c */
extern const BenchMechOps bench_mech_aio_block; /* bench-qcontext.c */
extern const BenchMechOps bench_mech_aio_poll;  /* bench-qcontext.c */
extern const BenchMechOps bench_mech_glib_qctx; /* bench-qcontext.c */
/* bench-wakeup-pingpong.c */
extern const BenchMechOps bench_mech_eventfd_pingpong;
extern const BenchMechOps bench_mech_aio_pingpong_block;
extern const BenchMechOps bench_mech_aio_pingpong_poll;

/**
 * bench_thread_start: start a joinable pthread running @fn(@arg) named
 * @name; wait until it has stored its tid in *@tid_out (so that pinning
 * and measurement start with B alive).  Returns FALSE with @errp set.
 */
gboolean bench_thread_start(pthread_t *thread, const char *name, void *(*fn)(void *),
                            void *arg, _Atomic int *tid_out, GError **errp);

/* ------------------------------------------------------------------------ */
/* The run (bench-wakeup.c, bench-idle.c, bench-report.c)                    */
/* ------------------------------------------------------------------------ */

/** Options of `qcontext-bench wakeup`. */
typedef struct BenchOptions {
    gboolean quick;
    gboolean json;
    int iterations;  /**< measured round trips per mechanism */
    int rounds;      /**< interleaved rounds of the blocking rows */
    int poll_rounds; /**< interleaved rounds of the polling rows */
    int gap_us;      /**< pause after each blocking round trip */
    int poll_gap_ns; /**< pause after each polling round trip */
    int cpu_a;       /**< -1: not pinned */
    int cpu_b;
    char **only; /**< mechanism names to run (NULL = all) */
    gboolean no_idle;
    gboolean no_wakeup;
    gboolean no_timer;
    char *plot_path; /**< --plot: the rows' latency distributions as a PNG */
    char *csv_path;  /**< --csv: the rows' percentiles as CSV */
} BenchOptions;

/** The result of one mechanism. */
struct BenchMechResult {
    const BenchMechOps *ops;
    BenchSummary sum;
    uint64_t *samples;    /**< every recorded round trip (ns), sorted once run */
    double round_p50_min; /**< lowest median of one round's batch (ns) */
    double round_p50_max; /**< highest median of one round's batch (ns) */
    gboolean ok;
    char *error;        /**< set when !ok */
    gboolean not_built; /**< !ok because the mechanism is not compiled in */
    GPtrArray *keys;    /**< extra counters: names (owned) */
    GArray *values;     /**< extra counters: values (double) */
};

/** bench_result_add: add the extra counter @key = @value to @res. */
void bench_result_add(BenchMechResult *res, const char *key, double value);

/** A call to time in bench_time_calls(). */
typedef void (*BenchCallFn)(void *arg);

/** One function timed by bench_time_calls(). */
typedef struct BenchTimedCall {
    BenchCallFn fn;
    void *arg;
    double ns; /**< out: median ns per call, 0 if @fn is NULL */
} BenchTimedCall;

/**
 * bench_time_calls: time @n functions (entries with a NULL @fn are
 * skipped): calibrate, for each, a batch size that lasts about @batch_us,
 * then run @batches rounds of one batch of each function in turn and set
 * each ->ns to the median over its batches of ns per call.  Interleaving
 * the batches exposes all functions to the same machine noise.
 */
void bench_time_calls(BenchTimedCall *calls, int n, int batches, int batch_us);

/**
 * bench_idle_aio_new: a new AioContext (home: the calling thread) with
 * @fds registered by aio_set_fd_handler() (read handler only), ready for
 * bench_idle_aio_poll().  bench-qcontext.c.
 */
void *bench_idle_aio_new(const int *fds, int n, GError **errp);

/** bench_idle_aio_poll: one non-blocking aio_poll() of @opaque's context. */
void bench_idle_aio_poll(void *opaque);

/** bench_idle_aio_fdmon: the fd monitor's name ("epoll", ...). */
const char *bench_idle_aio_fdmon(void *opaque);

/** bench_idle_aio_free: unregister the fds and free the context. */
void bench_idle_aio_free(void *opaque);

/** The result of the idle-fd non-blocking poll benchmark at one fd count. */
typedef struct BenchIdleResult {
    int fds;
    double aio_ns;      /**< aio_poll(ctx, false) */
    double glib_ns;     /**< g_main_context_iteration(FALSE), 1 GSource per fd */
    double glib_one_ns; /**< same, one GSource holding all fds */
    double epoll_ns;    /**< epoll_wait(.., 0) on the same fds: syscall floor */
    double ppoll_ns;    /**< ppoll(.., 0) on the same fds */
    char *fdmon;        /**< the AioContext's fd monitor ("epoll"...) */
    gboolean ok;
    char *error;
} BenchIdleResult;

/** How late a 1 ms periodic timer fired, through one driver. */
typedef struct BenchTimerResult {
    const char *driver; /**< "aio_poll" or "gsource" */
    BenchSummary sum;   /**< lateness (now - deadline) in ns */
    gboolean ok;
    char *error;
} BenchTimerResult;

/** Everything a run produced. */
typedef struct BenchRun {
    BenchOptions opt;
    GArray *mechs;  /**< BenchMechResult */
    GArray *idle;   /**< BenchIdleResult */
    GArray *timers; /**< BenchTimerResult */
    double seconds; /**< wall time of the whole run */
} BenchRun;

/** bench_mech_known: @name is a row name (or "floors"). */
gboolean bench_mech_known(const char *name);

/** bench_wakeup_run: set up, measure and tear down every mechanism. */
void bench_wakeup_run(BenchRun *run);

/** bench_idle_run: the non-blocking poll benchmark at 1, 16, 64, 256 fds. */
void bench_idle_run(BenchRun *run);

/**
 * bench_timer_run: the lateness of a 1 ms periodic timer through aio_poll()
 * and through the GSource (bench-wakeup-timer.c).
 */
void bench_timer_run(BenchRun *run);

/** bench_report_text: print the tables and targets to stdout. */
void bench_report_text(const BenchRun *run);

/**
 * bench_report_json: print everything as one JSON object to stdout
 * (bench-json.c).  Returns FALSE if the text failed to parse back (a bug).
 */
gboolean bench_report_json(const BenchRun *run);

/** The reply path, as printed in the report. */
extern const char bench_reply_path[];

/** Status of a target of the issue. */
typedef enum {
    BENCH_TARGET_PASS,
    BENCH_TARGET_MISS,
    BENCH_TARGET_NA
} BenchTargetStatus;

/** "PASS", "MISS", "N/A". */
extern const char *const bench_target_status_names[];

/** A target: @value compared with @limit (in @unit: "x floor" or "ns"). */
typedef struct BenchTarget {
    const char *name;
    const char *unit;
    double value;
    double limit;
    BenchTargetStatus status;
} BenchTarget;

#define BENCH_N_TARGETS 8

/** bench_compute_targets: evaluate the targets on @run. */
void bench_compute_targets(const BenchRun *run, BenchTarget t[BENCH_N_TARGETS]);

/** bench_floor_of: the result of @ops's floor in @run, or NULL. */
const BenchMechResult *bench_floor_of(const BenchRun *run, const BenchMechOps *ops);

/** bench_usable: @r ran and has samples. */
gboolean bench_usable(const BenchMechResult *r);

/** bench_mech_ratio: @r's p50 (or p99) over its floor's, 0 if unknown. */
double bench_mech_ratio(const BenchRun *run, const BenchMechResult *r, gboolean p99);

/** bench_cpus_text: "not pinned" or "A on CPU x, B on CPU y" (free it). */
char *bench_cpus_text(const BenchOptions *opt);

/* ------------------------------------------------------------------------ */
/* Distributions and noise (bench-report.c, bench-plot.c), for any benchmark  */
/* ------------------------------------------------------------------------ */

/**
 * One row's latencies for bench_plot_png() and bench_csv_write(): every
 * sample, or a histogram (the runtime's log-linear LatencyHistogram, within
 * about 3 %, for runs too long to keep every sample).
 */
typedef struct BenchSeries {
    const char *name;
    const uint64_t *samples;      /**< nanoseconds, sorted ascending */
    size_t n;                     /**< 0: the row is left out */
    const LatencyHistogram *hist; /**< instead of @samples (then @n is ignored) */
} BenchSeries;

/** bench_series_count: the samples of @s (its histogram's count, if any). */
size_t bench_series_count(const BenchSeries *s);

/** bench_series_percentile: the @p-th percentile of @s in ns (0 if empty). */
double bench_series_percentile(const BenchSeries *s, double p);

/**
 * bench_plot_png: draw each series' cumulative distribution (latency on a
 * log scale, share of samples on the other axis) with a legend of p50 and
 * p99, titled @title, into the PNG @path (cairo).  FALSE with @errp set if
 * it cannot be written, or if the bench was built without cairo.
 */
gboolean bench_plot_png(const char *path, const char *title, const BenchSeries *s,
                        size_t n, GError **errp);

/**
 * bench_csv_write: one line per series: name, samples, then min, p1, p5,
 * p10, p25, p50, p75, p90, p95, p99, p99.9, p99.99 and max in microseconds,
 * after a header line.  FALSE with @errp set if @path cannot be written.
 */
gboolean bench_csv_write(const char *path, const BenchSeries *s, size_t n,
                         GError **errp);

/**
 * bench_round_note: record the median of one round's batch of @n samples
 * (@batch, unsorted, not modified) in @res's round_p50_min/max.
 */
void bench_round_note(BenchMechResult *res, const uint64_t *batch, size_t n);

/** A floor whose round medians spread more than this is "too noisy". */
#define BENCH_NOISE_SPREAD 2.0

/**
 * bench_noise_warnings: one line per floor of @run whose median moved by
 * more than BENCH_NOISE_SPREAD times between rounds (the machine changed
 * under the run: its ratios are not to be compared).  NULL-terminated;
 * g_strfreev() it.
 */
char **bench_noise_warnings(const BenchRun *run);

/**
 * bench_write_outputs: --plot and --csv of the wakeup rows, and the noise
 * warnings on stderr.  FALSE (after a message) if a file could not be
 * written.
 */
gboolean bench_write_outputs(const BenchRun *run);

/** bench_run_clear: free what bench_*_run allocated. */
void bench_run_clear(BenchRun *run);

/* ------------------------------------------------------------------------ */
/* JSON writer (bench-jsonw.c), shared by every benchmark's --json          */
/* ------------------------------------------------------------------------ */

#define JSON_MAX_DEPTH 8

/** A minimal pretty-printing JSON writer: start with {.s = g_string_new(NULL)}. */
typedef struct {
    GString *s;
    int depth;
    gboolean first[JSON_MAX_DEPTH];
} JsonOut;

/** jo_open: open an object ('{') or array ('[') as @key (NULL in arrays). */
void jo_open(JsonOut *o, const char *key, char bracket);

/** jo_close: close the innermost object ('}') or array (']'). */
void jo_close(JsonOut *o, char bracket);

/** jo_str: a string member (NULL prints ""). */
void jo_str(JsonOut *o, const char *key, const char *v);

/** jo_bool: a boolean member. */
void jo_bool(JsonOut *o, const char *key, gboolean v);

/** jo_int: an integer member. */
void jo_int(JsonOut *o, const char *key, gint64 v);

/** jo_num: a number member with 4 decimals (null if not finite). */
void jo_num(JsonOut *o, const char *key, double v);

/**
 * bench_json_print: print the text of @o to stdout, check that it parses
 * back, free it.  Returns FALSE if it did not parse (a bug).
 */
gboolean bench_json_print(JsonOut *o);

G_END_DECLS

#endif /* BENCH_BENCH_H */

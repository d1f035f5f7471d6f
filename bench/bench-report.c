/*
 * bench/bench-report.c - the text tables and the targets.
 *
 * Ratios: each row's p50 and p99 divided by the p50 and p99 of its floor
 * (eventfd-epoll for blocking rows, busy-poll for polling rows), all
 * measured in the same run.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench.h"

const char bench_reply_path[] =
    "B's callback stores the request's sequence number into an atomic that A "
    "spins on (same for every row: each row is signal -> callback on B plus "
    "one cache-line transfer back)";

const char *const bench_target_status_names[] = {"PASS", "MISS", "N/A"};

static const BenchMechResult *find_mech(const BenchRun *run, const BenchMechOps *ops)
{
    for (guint i = 0; run->mechs && i < run->mechs->len; i++) {
        const BenchMechResult *r = &g_array_index(run->mechs, BenchMechResult, i);

        if (r->ops == ops) {
            return r;
        }
    }
    return NULL;
}

const BenchMechResult *bench_floor_of(const BenchRun *run, const BenchMechOps *ops)
{
    switch (ops->floor) {
    case BENCH_FLOOR_BLOCKING:
        return find_mech(run, &bench_mech_eventfd);
    case BENCH_FLOOR_POLLING:
        return find_mech(run, &bench_mech_busypoll);
    case BENCH_FLOOR_PINGPONG:
        return find_mech(run, &bench_mech_eventfd_pingpong);
    }
    return NULL;
}

gboolean bench_usable(const BenchMechResult *r)
{
    return r && r->ok && r->sum.n > 0;
}

/* @p99: ratio of p99s, else of p50s; 0 if not computable */
double bench_mech_ratio(const BenchRun *run, const BenchMechResult *r, gboolean p99)
{
    const BenchMechResult *f = bench_floor_of(run, r->ops);

    if (!bench_usable(r) || !bench_usable(f)) {
        return 0;
    }
    return p99 ? r->sum.p99 / f->sum.p99 : r->sum.p50 / f->sum.p50;
}

static const BenchIdleResult *find_idle(const BenchRun *run, int fds)
{
    for (guint i = 0; run->idle && i < run->idle->len; i++) {
        const BenchIdleResult *r = &g_array_index(run->idle, BenchIdleResult, i);

        if (r->fds == fds) {
            return r;
        }
    }
    return NULL;
}

static void target_set(BenchTarget *t, gboolean known, double value)
{
    t->value = value;
    t->status = !known              ? BENCH_TARGET_NA
                : value <= t->limit ? BENCH_TARGET_PASS
                                    : BENCH_TARGET_MISS;
}

void bench_compute_targets(const BenchRun *run, BenchTarget t[BENCH_N_TARGETS])
{
    const BenchMechResult *blk = find_mech(run, &bench_mech_aio_block);
    const BenchMechResult *pol = find_mech(run, &bench_mech_aio_poll);
    const BenchIdleResult *i1 = find_idle(run, 1), *i256 = find_idle(run, 256);
    const BenchMechResult *ppb = find_mech(run, &bench_mech_aio_pingpong_block);
    const BenchMechResult *ppp = find_mech(run, &bench_mech_aio_pingpong_poll);
    double rb = blk ? bench_mech_ratio(run, blk, FALSE) : 0;
    double rp = pol ? bench_mech_ratio(run, pol, FALSE) : 0;
    double rppb = ppb ? bench_mech_ratio(run, ppb, FALSE) : 0;
    double rppp = ppp ? bench_mech_ratio(run, ppp, FALSE) : 0;

    t[0] = (BenchTarget){"blocking aio-qcontext p50 <= 1.10x eventfd-epoll floor",
                         "x floor", 0, 1.10, BENCH_TARGET_NA};
    t[1] = (BenchTarget){"polling aio-qcontext p50 <= 3x busy-poll floor", "x floor", 0,
                         3.0, BENCH_TARGET_NA};
    t[2] = (BenchTarget){"non-blocking aio_poll, 1 idle fd <= 400 ns", "ns", 0, 400,
                         BENCH_TARGET_NA};
    t[3] = (BenchTarget){"non-blocking aio_poll, 256 idle fds <= 1000 ns", "ns", 0,
                         1000, BENCH_TARGET_NA};
    t[4] = (BenchTarget){"blocking BH ping-pong p50 <= 1.10x eventfd-pingpong floor",
                         "x floor", 0, 1.10, BENCH_TARGET_NA};
    t[5] = (BenchTarget){"polling BH ping-pong p50 <= 3x busy-poll round trip",
                         "x floor", 0, 3.0, BENCH_TARGET_NA};
    t[6] = (BenchTarget){"1 ms timer through aio_poll, p99 lateness <= 200 us", "ns", 0,
                         200000, BENCH_TARGET_NA};
    t[7] = (BenchTarget){"1 ms timer through the GSource, p99 lateness <= 200 us", "ns",
                         0, 200000, BENCH_TARGET_NA};
    for (guint i = 0; run->timers && i < run->timers->len && i < 2; i++) {
        const BenchTimerResult *r = &g_array_index(run->timers, BenchTimerResult, i);

        target_set(&t[6 + i], r->ok, r->sum.p99);
    }
    target_set(&t[0], rb > 0, rb);
    target_set(&t[4], rppb > 0, rppb);
    target_set(&t[5], rppp > 0, rppp);
    target_set(&t[1], rp > 0, rp);
    target_set(&t[2], i1 && i1->ok, i1 ? i1->aio_ns : 0);
    target_set(&t[3], i256 && i256->ok, i256 ? i256->aio_ns : 0);
}

char *bench_cpus_text(const BenchOptions *opt)
{
    if (opt->cpu_a < 0) {
        return g_strdup("not pinned");
    }
    return g_strdup_printf("A on CPU %d, B on CPU %d", opt->cpu_a, opt->cpu_b);
}

/* ------------------------------------------------------------------------ */
/* Text                                                                       */
/* ------------------------------------------------------------------------ */

static void text_mech_row(const BenchRun *run, const BenchMechResult *r)
{
    const double us = 1000.0;

    if (!bench_usable(r)) {
        g_print("%-24s %s\n", r->ops->name, r->error ? r->error : "no samples");
        return;
    }
    g_print("%-24s %8.2f %8.2f %9.2f", r->ops->name, r->sum.p50 / us, r->sum.p99 / us,
            r->sum.p999 / us);
    if (r->ops->is_floor) {
        g_print("  %9s %9s  %s\n", "1.00", "1.00", "(floor)");
    } else {
        g_print("  %9.2f %9.2f  %s\n", bench_mech_ratio(run, r, FALSE),
                bench_mech_ratio(run, r, TRUE), bench_floor_of(run, r->ops)->ops->name);
    }
}

static void text_wakeup(const BenchRun *run)
{
    const BenchOptions *opt = &run->opt;
    g_autofree char *cpus = bench_cpus_text(opt);

    g_print("qcontext-bench wakeup: cross-thread wakeup round trips (A = main thread "
            "signals, B = loop thread under test)\n");
    g_print("  reply path: %s\n", bench_reply_path);
    g_print(
        "  %d round trips per row in %d interleaved rounds (polling rows: %d); A "
        "waits %d us after each "
        "reply on blocking rows (B asleep again), %d ns on polling rows (B polling); "
        "CPUs: %s\n\n",
        opt->iterations, opt->rounds, opt->poll_rounds, opt->gap_us, opt->poll_gap_ns,
        cpus);
    g_print("%-24s %8s %8s %9s  %9s %9s  %s\n", "mechanism", "p50 us", "p99 us",
            "p99.9 us", "p50/floor", "p99/floor", "floor");
    for (guint i = 0; i < run->mechs->len; i++) {
        text_mech_row(run, &g_array_index(run->mechs, BenchMechResult, i));
    }
    g_print("\n");
    for (guint i = 0; i < run->mechs->len; i++) {
        const BenchMechResult *r = &g_array_index(run->mechs, BenchMechResult, i);

        g_print("  %-22s %s", r->ops->name, r->ops->what);
        for (guint k = 0; r->keys && k < r->keys->len; k++) {
            g_print("%s %s=%.6g", k ? "," : ";", (char *)r->keys->pdata[k],
                    g_array_index(r->values, double, k));
        }
        g_print("\n");
    }
}

static void text_idle(const BenchRun *run)
{
    g_print("\nnon-blocking poll with idle fds (ns per call, median of batches)\n");
    g_print("%5s %9s %13s %11s %9s %11s %9s %9s  %s\n", "fds", "aio_poll",
            "glib 1src/fd", "glib 1 src", "aio/glib", "aio/glib1", "epoll(0)",
            "ppoll(0)", "aio fdmon");
    for (guint i = 0; i < run->idle->len; i++) {
        const BenchIdleResult *r = &g_array_index(run->idle, BenchIdleResult, i);

        if (!r->ok && r->glib_ns == 0) {
            g_print("%5d %s\n", r->fds, r->error ? r->error : "failed");
            continue;
        }
        if (r->ok) {
            g_print("%5d %9.0f %13.0f %11.0f %9.2f %11.2f %9.0f %9.0f  %s\n", r->fds,
                    r->aio_ns, r->glib_ns, r->glib_one_ns, r->aio_ns / r->glib_ns,
                    r->aio_ns / r->glib_one_ns, r->epoll_ns, r->ppoll_ns,
                    r->fdmon ? r->fdmon : "?");
        } else {
            g_print("%5d %9s %13.0f %11.0f %9s %11s %9.0f %9.0f\n", r->fds, "n/a",
                    r->glib_ns, r->glib_one_ns, "n/a", "n/a", r->epoll_ns, r->ppoll_ns);
        }
    }
    for (guint i = 0; i < run->idle->len; i++) {
        const BenchIdleResult *r = &g_array_index(run->idle, BenchIdleResult, i);

        if (r->error) {
            g_print("  aio_poll at %d fds: %s\n", r->fds, r->error);
            break;
        }
    }
}

static void text_timers(const BenchRun *run)
{
    g_print("\ntimer lateness: a 1 ms periodic timer on A's thread (us after the "
            "deadline)\n");
    g_print("%-10s %8s %8s %9s %8s\n", "driver", "p50", "p99", "p99.9", "max");
    for (guint i = 0; i < run->timers->len; i++) {
        const BenchTimerResult *r = &g_array_index(run->timers, BenchTimerResult, i);

        if (!r->ok) {
            g_print("%-10s %s\n", r->driver, r->error ? r->error : "failed");
            continue;
        }
        g_print("%-10s %8.1f %8.1f %9.1f %8.1f\n", r->driver, r->sum.p50 / 1000.0,
                r->sum.p99 / 1000.0, r->sum.p999 / 1000.0, r->sum.max / 1000.0);
    }
}

static void bench_text_warnings(const BenchRun *run)
{
    g_auto(GStrv) warnings = bench_noise_warnings(run);

    if (warnings[0]) {
        g_print("\nwarnings\n");
    }
    for (char **w = warnings; *w; w++) {
        g_print("  %s\n", *w);
    }
}

void bench_report_text(const BenchRun *run)
{
    BenchTarget t[BENCH_N_TARGETS];

    if (run->mechs) {
        text_wakeup(run);
    }
    if (run->idle) {
        text_idle(run);
    }
    if (run->timers) {
        text_timers(run);
    }
    bench_compute_targets(run, t);
    g_print("\ntargets\n");
    for (int i = 0; i < BENCH_N_TARGETS; i++) {
        if (t[i].status == BENCH_TARGET_NA) {
            g_print("  %-4s  %s: not measured\n", "N/A", t[i].name);
        } else {
            g_print("  %-4s  %s: %.*f %s\n", bench_target_status_names[t[i].status],
                    t[i].name, g_str_equal(t[i].unit, "ns") ? 0 : 2, t[i].value,
                    t[i].unit);
        }
    }
    bench_text_warnings(run);
    g_print("(whole run: %.1f s)\n", run->seconds);
}

/*
 * bench/qcontext-bench.c - command line of qcontext-bench.
 *
 *   qcontext-bench wakeup [--quick] [--json] [--iterations N] [--rounds N]
 *                         [--gap-us N] [--poll-gap-ns N] [--cpus A,B] [--only NAME,...]
 *                         [--no-idle] [--no-wakeup] [--no-timer] [--plot FILE.png]
 *                         [--csv FILE.csv]
 *   qcontext-bench blk --socket PATH ...   (bench-blk.c; see --help there)
 *   qcontext-bench vsock [--qcontextd PATH] ...   (bench-vsock.c; see --help there)
 *
 * Exit status: 0 when every selected row ran (targets may still MISS: they
 * are reported, not enforced), 1 when a row that is built in failed, 2 on
 * bad usage.  With --json, 1 also if the JSON text does not parse back;
 * with --plot or --csv, 1 also if the file could not be written.  A run too
 * noisy to compare is a warning on stderr (and in the report), not a failure.
 *
 * SPDX-License-Identifier: MIT
 */
#include <sched.h>
#include <stdlib.h>

#include "bench.h"
#include "bench-blk.h"
#include "bench-vsock.h"

#define BENCH_DEFAULT_ITERATIONS 50000
#define BENCH_QUICK_ITERATIONS 2000

static gboolean parse_cpus(const char *text, BenchOptions *opt, GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    gint64 a, b;
    cpu_set_t allowed;

    if (g_strv_length(parts) != 2 ||
        !g_ascii_string_to_signed(parts[0], 10, 0, CPU_SETSIZE - 1, &a, NULL) ||
        !g_ascii_string_to_signed(parts[1], 10, 0, CPU_SETSIZE - 1, &b, NULL)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--cpus wants two CPU numbers, A,B (e.g. --cpus 0,1), not \"%s\"",
                    text);
        return FALSE;
    }
    if (a == b) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--cpus: A and B must be different CPUs (A spins while B works)");
        return FALSE;
    }
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 &&
        (!CPU_ISSET((int)a, &allowed) || !CPU_ISSET((int)b, &allowed))) {
        g_set_error(
            errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
            "--cpus: CPU %d is not available to this process (see nproc/taskset)",
            !CPU_ISSET((int)a, &allowed) ? (int)a : (int)b);
        return FALSE;
    }
    opt->cpu_a = (int)a;
    opt->cpu_b = (int)b;
    return TRUE;
}

static gboolean check_options(BenchOptions *opt, int iterations, int rounds, int gap_us,
                              int poll_gap_ns, GError **errp)
{
    if (iterations < 0 || rounds < 0 || gap_us > 1000000 || poll_gap_ns > 1000000000) {
        g_set_error(
            errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
            "--iterations and --rounds must be positive, --gap-us at most 1000000, "
            "--poll-gap-ns at most 1000000000");
        return FALSE;
    }
    opt->iterations = iterations > 0 ? iterations
                      : opt->quick   ? BENCH_QUICK_ITERATIONS
                                     : BENCH_DEFAULT_ITERATIONS;
    opt->rounds = rounds > 0 ? rounds : opt->quick ? 20 : 300;
    opt->rounds = MIN(opt->rounds, opt->iterations);
    opt->poll_rounds = MIN(opt->quick ? 2 : 10, opt->iterations);
    opt->gap_us = gap_us >= 0 ? gap_us : 20;
    opt->poll_gap_ns = poll_gap_ns >= 0 ? poll_gap_ns : 2000;
    for (char **p = opt->only; p && *p; p++) {
        if (!bench_mech_known(*p)) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--only: unknown row \"%s\" (see --help for the row names)",
                        *p);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean parse_options(int argc, char **argv, BenchOptions *opt, GError **errp)
{
    g_autofree char *cpus = NULL, *only = NULL;
    int iterations = 0, rounds = 0, gap_us = -1, poll_gap_ns = -1;
    GOptionEntry entries[] = {
        {"quick", 0, 0, G_OPTION_ARG_NONE, &opt->quick,
         "Short run (a few seconds): fewer round trips and batches", NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &opt->json, "Print one JSON object", NULL},
        {"iterations", 'n', 0, G_OPTION_ARG_INT, &iterations,
         "Measured round trips per row (default 50000, 2000 with --quick)", "N"},
        {"rounds", 0, 0, G_OPTION_ARG_INT, &rounds,
         "Interleaved rounds the blocking rows' round trips are split into "
         "(default 300, 20 with --quick)",
         "N"},
        {"gap-us", 0, 0, G_OPTION_ARG_INT, &gap_us,
         "Pause after each blocking round trip so B sleeps again (default 20)", "US"},
        {"poll-gap-ns", 0, 0, G_OPTION_ARG_INT, &poll_gap_ns,
         "Pause after each polling round trip, inside the poll window (default 2000)",
         "NS"},
        {"cpus", 0, 0, G_OPTION_ARG_STRING, &cpus, "Pin thread A and thread B", "A,B"},
        {"only", 0, 0, G_OPTION_ARG_STRING, &only,
         "Run only these rows (the floors always run)", "NAME,..."},
        {"no-idle", 0, 0, G_OPTION_ARG_NONE, &opt->no_idle,
         "Skip the idle-fd non-blocking poll benchmark", NULL},
        {"no-wakeup", 0, 0, G_OPTION_ARG_NONE, &opt->no_wakeup,
         "Skip the wakeup round trips", NULL},
        {"no-timer", 0, 0, G_OPTION_ARG_NONE, &opt->no_timer,
         "Skip the timer lateness benchmark", NULL},
        {"plot", 0, 0, G_OPTION_ARG_FILENAME, &opt->plot_path,
         "Draw each row's latency distribution (CDF, log scale) into this PNG",
         "FILE.png"},
        {"csv", 0, 0, G_OPTION_ARG_FILENAME, &opt->csv_path,
         "Write each row's latency percentiles (min, p1 ... p99.99, max) as CSV",
         "FILE.csv"},
        {NULL},
    };
    g_autoptr(GOptionContext) oc =
        g_option_context_new("wakeup - event loop wakeup latency");

    g_option_context_add_main_entries(oc, entries, NULL);
    g_option_context_set_description(
        oc, "Rows: eventfd-epoll, busy-poll, eventfd-pingpong (the floors),\n"
            "aio-qcontext-blocking, aio-qcontext-polling, aio-pingpong-blocking,\n"
            "aio-pingpong-polling, glib-qcontext, glib-invoke, libuv-async, "
            "libevent-active.\n"
            "See docs/benchmarks.md for what each row measures.\n");
    if (!g_option_context_parse(oc, &argc, &argv, errp)) {
        return FALSE;
    }
    if (argc != 2 || !g_str_equal(argv[1], "wakeup")) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "expected the benchmark name \"wakeup\", \"blk\" or \"vsock\" (see "
                    "--help)");
        return FALSE;
    }
    opt->cpu_a = opt->cpu_b = -1;
    if (cpus && !parse_cpus(cpus, opt, errp)) {
        return FALSE;
    }
    opt->only = only ? g_strsplit(only, ",", -1) : NULL;
    return check_options(opt, iterations, rounds, gap_us, poll_gap_ns, errp);
}

static int exit_status(const BenchRun *run)
{
    for (guint i = 0; run->mechs && i < run->mechs->len; i++) {
        const BenchMechResult *r = &g_array_index(run->mechs, BenchMechResult, i);

        if (!r->ok && !r->not_built) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    BenchRun run = {0};
    GError *err = NULL;
    uint64_t t0;
    int status;

    if (argc >= 2 && g_str_equal(argv[1], "blk")) {
        return bench_blk_main(argc - 1, argv + 1);
    }
    if (argc >= 2 && g_str_equal(argv[1], "vsock")) {
        return bench_vsock_main(argc - 1, argv + 1);
    }
    if (!parse_options(argc, argv, &run.opt, &err)) {
        g_printerr("qcontext-bench: %s\n", err->message);
        g_error_free(err);
        return 2;
    }
    t0 = bench_now_ns();
    if (!run.opt.no_wakeup) {
        bench_wakeup_run(&run);
    }
    if (!run.opt.no_idle) {
        bench_idle_run(&run);
    }
    if (!run.opt.no_timer) {
        bench_timer_run(&run);
    }
    run.seconds = (double)(bench_now_ns() - t0) / 1e9;
    status = exit_status(&run);
    if (run.opt.json) {
        if (!bench_report_json(&run)) {
            status = 1;
        }
    } else {
        bench_report_text(&run);
    }
    if (!bench_write_outputs(&run)) {
        status = 1;
    }
    bench_run_clear(&run);
    return status;
}

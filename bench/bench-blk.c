/*
 * bench/bench-blk.c - command line of `qcontext-bench blk`:
 *
 *   qcontext-bench blk --socket PATH [--rw randread|randwrite|read|write|mixed]
 *       [--bs 4k] [--iodepth 1..256] [--numjobs N] [--runtime 10] [--ramp 0]
 *       [--size BYTES] [--rwmixread 70] [--cpus 0,1,...] [--poll] [--verify]
 *       [--json] [--queue-size N] [--timeout-ms N] [--no-indirect]
 *       [--no-event-idx] [--number N] [--spin-us US]
 *
 * Exit status: 0 when every request succeeded (and, with --verify, every
 * block checked out), 1 on I/O errors, verify errors or a lost back-end,
 * 2 on bad usage or when the back-end cannot be set up.
 *
 * SPDX-License-Identifier: MIT
 */
#include <sched.h>
#include <stdlib.h>

#include "bench.h"
#include "bench-blk.h"

static const char *const rw_names[] = {
    [BLK_RW_RANDREAD] = "randread", [BLK_RW_RANDWRITE] = "randwrite",
    [BLK_RW_READ] = "read",         [BLK_RW_WRITE] = "write",
    [BLK_RW_MIXED] = "mixed",
};

static gboolean parse_rw(BlkOptions *o, const char *text, GError **errp)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(rw_names); i++) {
        if (g_str_equal(text, rw_names[i])) {
            o->rw = (BlkRw)i;
            o->rw_name = rw_names[i];
            return TRUE;
        }
    }
    return bench_bad(
        errp, "--rw: expected randread, randwrite, read, write or mixed, not \"%s\"",
        text);
}

static gboolean parse_cpus(BlkOptions *o, const char *text, GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    cpu_set_t allowed;
    gboolean have_mask = sched_getaffinity(0, sizeof(allowed), &allowed) == 0;

    o->ncpus = g_strv_length(parts);
    o->cpus = g_new(int, MAX(o->ncpus, 1));
    for (unsigned i = 0; i < o->ncpus; i++) {
        gint64 c;

        if (!g_ascii_string_to_signed(parts[i], 10, 0, CPU_SETSIZE - 1, &c, NULL)) {
            return bench_bad(
                errp, "--cpus wants CPU numbers separated by commas, not \"%s\"", text);
        }
        if (have_mask && !CPU_ISSET((int)c, &allowed)) {
            return bench_bad(errp, "--cpus: CPU %d is not available to this process",
                             (int)c);
        }
        o->cpus[i] = (int)c;
    }
    return o->ncpus > 0 || bench_bad(errp, "--cpus: no CPU given");
}

static gboolean check_options(BlkOptions *o, const char *bs, const char *size,
                              GError **errp)
{
    uint64_t v = 0;

    if (!o->socket) {
        return bench_bad(
            errp, "--socket PATH is required (the back-end's vhost-user socket)");
    }
    if (!bench_parse_size(bs, &v) || v < 512 || v % 512 || v > 16 * 1024 * 1024) {
        return bench_bad(errp,
                         "--bs: a multiple of 512 up to 16M (e.g. 4k), not \"%s\"", bs);
    }
    o->bs = (unsigned)v;
    if (size && (!bench_parse_size(size, &o->size) || o->size == 0)) {
        return bench_bad(errp, "--size: a size in bytes (e.g. 256M), not \"%s\"", size);
    }
    if (o->iodepth < 1 || o->iodepth > 256) {
        return bench_bad(errp, "--iodepth must be in 1..256");
    }
    if (o->numjobs < 1 || o->numjobs > 64) {
        return bench_bad(errp, "--numjobs must be in 1..64");
    }
    if (!(o->runtime_s > 0 && o->runtime_s <= 86400) ||
        !(o->ramp_s >= 0 && o->ramp_s < 3600)) {
        return bench_bad(
            errp, "--runtime must be in (0, 86400] and --ramp in [0, 3600) seconds");
    }
    if (o->rwmixread > 100) {
        return bench_bad(errp, "--rwmixread is a percentage (0..100)");
    }
    if (o->queue_size &&
        (o->queue_size > 32768 || (o->queue_size & (o->queue_size - 1)))) {
        return bench_bad(errp, "--queue-size must be a power of two up to 32768");
    }
    return TRUE;
}

static gboolean parse_options(int argc, char **argv, BlkOptions *o, GError **errp)
{
    g_autofree char *rw = NULL, *bs = NULL, *size = NULL, *cpus = NULL;
    gint64 number = 0;
    int spin_us = 0;
    int iodepth = 1, numjobs = 1, rwmix = 70, qsize = 0, timeout = 5000;
    GOptionEntry entries[] = {
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &o->socket,
         "The back-end's vhost-user socket (qcontextd, qemu-storage-daemon...)",
         "PATH"},
        {"rw", 0, 0, G_OPTION_ARG_STRING, &rw,
         "randread (default), randwrite, read, write or mixed", "PATTERN"},
        {"bs", 0, 0, G_OPTION_ARG_STRING, &bs, "Request size (default 4k)", "SIZE"},
        {"iodepth", 0, 0, G_OPTION_ARG_INT, &iodepth, "Requests in flight per job (1)",
         "N"},
        {"numjobs", 0, 0, G_OPTION_ARG_INT, &numjobs,
         "Jobs: one thread and one virtqueue each (1)", "N"},
        {"runtime", 0, 0, G_OPTION_ARG_DOUBLE, &o->runtime_s,
         "Measured seconds (default 10)", "S"},
        {"ramp", 0, 0, G_OPTION_ARG_DOUBLE, &o->ramp_s,
         "Warm-up seconds before measuring (default 0)", "S"},
        {"size", 0, 0, G_OPTION_ARG_STRING, &size,
         "Working set (default: the disk; 64M with --verify)", "SIZE"},
        {"rwmixread", 0, 0, G_OPTION_ARG_INT, &rwmix,
         "Percent reads with --rw mixed (70)", "PCT"},
        {"cpus", 0, 0, G_OPTION_ARG_STRING, &cpus, "Pin job i to CPU list[i % n]",
         "A,B,..."},
        {"poll", 0, 0, G_OPTION_ARG_NONE, &o->poll,
         "Busy-poll the used ring instead of sleeping on the call eventfd", NULL},
        {"verify", 0, 0, G_OPTION_ARG_NONE, &o->verify,
         "Write patterns first, check every read, read all back at the end", NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &o->json, "Print one JSON object", NULL},
        {"queue-size", 0, 0, G_OPTION_ARG_INT, &qsize, "Ring entries (default 256)",
         "N"},
        {"timeout-ms", 0, 0, G_OPTION_ARG_INT, &timeout,
         "Give up on a back-end silent for this long (5000)", "MS"},
        {"no-indirect", 0, 0, G_OPTION_ARG_NONE, &o->no_indirect,
         "Do not negotiate indirect descriptors", NULL},
        {"no-event-idx", 0, 0, G_OPTION_ARG_NONE, &o->no_event_idx,
         "Do not negotiate EVENT_IDX", NULL},
        {"spin-us", 0, 0, G_OPTION_ARG_INT, &spin_us,
         "Busy-poll the used ring this long before sleeping on the call eventfd (0)",
         "US"},
        {"number", 0, 0, G_OPTION_ARG_INT64, &number,
         "Requests per job, then stop (instead of --runtime; all measured)", "N"},
        {"plot", 0, 0, G_OPTION_ARG_FILENAME, &o->plot_path,
         "Draw the latency distribution (CDF, log scale) of each job into this PNG",
         "FILE.png"},
        {"csv", 0, 0, G_OPTION_ARG_FILENAME, &o->csv_path,
         "Write each job's latency percentiles as CSV", "FILE.csv"},
        {NULL},
    };
    g_autoptr(GOptionContext) oc =
        g_option_context_new("- vhost-user-blk load generator (the VMM side)");

    o->runtime_s = 10;
    g_set_prgname("qcontext-bench blk");
    g_option_context_add_main_entries(oc, entries, NULL);
    g_option_context_set_description(
        oc, "Connects to any vhost-user-blk back-end as a VMM would (memfd guest\n"
            "memory, split rings, eventfds) and prints IOPS, MB/s and latency\n"
            "p50/p99/p99.9.  See docs/benchmarks.md.\n");
    if (!g_option_context_parse(oc, &argc, &argv, errp)) {
        return FALSE;
    }
    if (argc != 1) {
        return bench_bad(errp, "unexpected argument \"%s\" (see --help)", argv[1]);
    }
    o->iodepth = (unsigned)MAX(iodepth, 0);
    o->numjobs = (unsigned)MAX(numjobs, 0);
    o->rwmixread = (unsigned)MAX(rwmix, 0);
    o->queue_size = (unsigned)MAX(qsize, 0);
    o->timeout_ms = MAX(timeout, 1);
    if (number < 0) {
        return bench_bad(errp, "--number must be >= 0");
    }
    if (spin_us < 0 || spin_us > 1000000) {
        return bench_bad(errp, "--spin-us must be in 0..1000000");
    }
    o->spin_us = (unsigned)spin_us;
    o->number = (uint64_t)number;
    o->rw_name = rw_names[BLK_RW_RANDREAD];
    if (rw && !parse_rw(o, rw, errp)) {
        return FALSE;
    }
    if (cpus && !parse_cpus(o, cpus, errp)) {
        return FALSE;
    }
    return check_options(o, bs ? bs : "4k", size, errp);
}

/* Open the device and size the working set. */
static gboolean open_device(BlkRun *run, GError **errp)
{
    BlkOptions *o = &run->opt;
    FeBlkOptions fo = {
        .socket_path = o->socket,
        .timeout_ms = o->timeout_ms,
        .num_queues = o->numjobs,
        .queue_size = o->queue_size ? o->queue_size : MAX(256u, o->iodepth),
        .iodepth = o->iodepth,
        .max_io = o->bs,
        .no_indirect = o->no_indirect,
        .no_event_idx = o->no_event_idx,
    };
    uint64_t cap, ws;

    run->blk = fe_blk_open(&fo, errp);
    if (!run->blk) {
        return FALSE;
    }
    cap = fe_blk_capacity(run->blk);
    ws = o->size ? o->size : o->verify ? MIN(cap, 64ull << 20) : cap;
    if (ws > cap) {
        return bench_bad(errp,
                         "--size %" G_GUINT64_FORMAT
                         " is larger than the disk (%" G_GUINT64_FORMAT ")",
                         ws, cap);
    }
    run->region = ws / o->numjobs / o->bs * o->bs;
    if (run->region == 0) {
        return bench_bad(errp,
                         "the working set holds less than one --bs block per job");
    }
    /* without indirect descriptors, a request takes 3 ring entries */
    run->ring_limited = !fe_blk_has_feature(run->blk, VIRTIO_RING_F_INDIRECT_DESC) &&
                        3 * o->iodepth > fo.queue_size;
    return TRUE;
}

static int exit_status(const BlkRun *run)
{
    for (unsigned j = 0; j < run->opt.numjobs; j++) {
        const BlkJobResult *r = &run->jobs[j];

        if (r->error || r->io_errors || r->verify_errors) {
            return 1;
        }
    }
    return 0;
}

static void run_clear(BlkRun *run)
{
    for (unsigned j = 0; run->jobs && j < run->opt.numjobs; j++) {
        g_free(run->jobs[j].hist);
        g_free(run->jobs[j].error);
    }
    g_free(run->jobs);
    fe_blk_close(run->blk);
    g_free(run->opt.socket);
    g_free(run->opt.cpus);
    g_free(run->opt.plot_path);
    g_free(run->opt.csv_path);
}

/* --plot / --csv: one row per job, and all jobs together (shared code in
 * bench-plot.c and bench-dist.c). */
static gboolean write_outputs(const BlkRun *run)
{
    unsigned n = run->opt.numjobs;
    g_autofree BenchSeries *s = g_new0(BenchSeries, n + 1);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *title = NULL;
    GError *err = NULL;
    gboolean ok = TRUE;

    if (!run->opt.plot_path && !run->opt.csv_path) {
        return TRUE;
    }
    for (unsigned j = 0; j < n; j++) {
        char *name = g_strdup_printf("job %u", j);

        g_ptr_array_add(names, name);
        s[j] = (BenchSeries){.name = name, .hist = run->jobs[j].hist};
    }
    if (n > 1) {
        s[n] = (BenchSeries){.name = "all jobs", .hist = &run->total};
    }
    title = g_strdup_printf("qcontext-bench blk: %s bs=%u iodepth=%u numjobs=%u",
                            run->opt.rw_name, run->opt.bs, run->opt.iodepth, n);
    if (run->opt.plot_path &&
        !bench_plot_png(run->opt.plot_path, title, s, n > 1 ? n + 1 : n, &err)) {
        g_printerr("qcontext-bench blk: %s\n", err->message);
        g_clear_error(&err);
        ok = FALSE;
    }
    if (run->opt.csv_path &&
        !bench_csv_write(run->opt.csv_path, s, n > 1 ? n + 1 : n, &err)) {
        g_printerr("qcontext-bench blk: %s\n", err->message);
        g_clear_error(&err);
        ok = FALSE;
    }
    return ok;
}

int bench_blk_main(int argc, char **argv)
{
    BlkRun run = {0};
    g_autoptr(GError) err = NULL;
    int status;

    if (!parse_options(argc, argv, &run.opt, &err)) {
        g_printerr("qcontext-bench blk: %s\n", err->message);
        run_clear(&run);
        return 2;
    }
    if (!open_device(&run, &err) || !bench_blk_run_jobs(&run, &err)) {
        g_printerr("qcontext-bench blk: %s\n", err->message);
        run_clear(&run);
        return 2;
    }
    status = exit_status(&run);
    if (run.opt.json) {
        if (!bench_blk_report_json(&run)) {
            status = 1;
        }
    } else {
        bench_blk_report_text(&run);
    }
    if (!write_outputs(&run)) {
        status = 1;
    }
    run_clear(&run);
    return status;
}

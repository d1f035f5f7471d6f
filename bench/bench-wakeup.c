/*
 * bench/bench-wakeup.c - the driver of the cross-thread wakeup benchmark.
 *
 * All selected mechanisms are set up first (each B thread then sleeps in its
 * loop), then measured in interleaved rounds: round r runs every mechanism
 * for iterations/rounds round trips, so slow drifts of a shared, noisy
 * machine affect all rows and their floors alike.  Blocking rows are
 * measured first (--rounds, many short batches), then polling rows
 * (poll_rounds, few long batches, each with unrecorded warm-up round trips
 * that open the adaptive poll window).
 *
 * One round trip, on A (the main thread):
 *     t0 = now; req = seq (release); ops->signal(); spin until reply == seq;
 *     t1 = now; record t1 - t0
 * then, for blocking rows, spin --gap-us more so that B is asleep again
 * before the next signal; polling rows wait only --poll-gap-ns, so that
 * the next signal arrives while B busy-polls (with no gap at all it would
 * mostly arrive while B is still finishing its previous iteration, and B
 * would find the BH without polling).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "bench.h"

/* no reply within this time = the mechanism is broken */
#define BENCH_REPLY_TIMEOUT_NS (2ull * 1000 * 1000 * 1000)

static const BenchMechOps *const bench_all_mechs[] = {
    &bench_mech_eventfd,
    &bench_mech_busypoll,
    &bench_mech_eventfd_pingpong,
    &bench_mech_aio_block,
    &bench_mech_aio_poll,
    &bench_mech_aio_pingpong_block,
    &bench_mech_aio_pingpong_poll,
    &bench_mech_glib_qctx,
    &bench_mech_glib,
    &bench_mech_libuv,
    &bench_mech_libevent,
};

gboolean bench_mech_known(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bench_all_mechs); i++) {
        if (g_str_equal(bench_all_mechs[i]->name, name)) {
            return TRUE;
        }
    }
    return g_str_equal(name, "floors");
}

typedef struct {
    const BenchMechOps *ops;
    void *state;
    BenchPing *ping;
    uint64_t seq;
    uint64_t *samples;
    size_t n;
    BenchMechResult *res;
} MechRun;

static gboolean bench_selected(const BenchOptions *opt, const BenchMechOps *ops)
{
    if (!opt->only) {
        return TRUE;
    }
    for (char **p = opt->only; *p; p++) {
        if (g_str_equal(*p, ops->name) ||
            (ops->is_floor && g_str_equal(*p, "floors"))) {
            return TRUE;
        }
    }
    /* the floors are always needed for the ratios */
    return ops->is_floor;
}

/* one round trip; returns its duration, or 0 on timeout */
static uint64_t round_trip(MechRun *m)
{
    uint64_t seq = ++m->seq;
    uint64_t t0 = bench_now_ns(), t1;
    unsigned spins = 0;

    /* release pairs with the acquire load in bench_pong() */
    atomic_store_explicit(&m->ping->req, seq, memory_order_release);
    m->ops->signal(m->state);
    /* acquire pairs with the release store in bench_pong() */
    while (atomic_load_explicit(&m->ping->reply, memory_order_acquire) != seq) {
        bench_cpu_relax();
        if ((++spins & 0xfff) == 0 && bench_now_ns() - t0 > BENCH_REPLY_TIMEOUT_NS) {
            return 0;
        }
    }
    t1 = bench_now_ns();
    return t1 > t0 ? t1 - t0 : 1;
}

static void spin_until(uint64_t deadline)
{
    while (bench_now_ns() < deadline) {
        bench_cpu_relax();
    }
}

/* A row that times its own round trips (ping-pong). */
static gboolean measure_own_batch(MechRun *m, size_t warm, size_t count,
                                  uint64_t gap_ns)
{
    GError *err = NULL;

    if (!m->ops->batch(m->state, warm, count, gap_ns, m->samples + m->n, &err)) {
        m->res->error = g_strdup(err->message);
        m->res->ok = FALSE;
        g_error_free(err);
        return FALSE;
    }
    m->n += count;
    return TRUE;
}

/* @warm unrecorded then @count recorded round trips */
static gboolean measure_batch(MechRun *m, size_t warm, size_t count, uint64_t gap_ns)
{
    if (m->ops->batch) {
        return measure_own_batch(m, warm, count, gap_ns);
    }
    if (m->ops->begin) {
        m->ops->begin(m->state);
    }
    for (size_t i = 0; i < warm + count; i++) {
        uint64_t dt = round_trip(m);

        if (dt == 0) {
            m->res->error = g_strdup_printf(
                "no reply within %llu s (round trip %" G_GUINT64_FORMAT ")",
                BENCH_REPLY_TIMEOUT_NS / 1000000000ull, m->seq);
            m->res->ok = FALSE;
            break;
        }
        if (i >= warm) {
            m->samples[m->n++] = dt;
        }
        if (gap_ns) {
            spin_until(bench_now_ns() + gap_ns);
        }
    }
    if (m->ops->end) {
        m->ops->end(m->state);
    }
    return m->res->ok;
}

static void mech_setup(BenchRun *run, MechRun *m)
{
    GError *err = NULL;
    void *ping = NULL;

    if (posix_memalign(&ping, 64, sizeof(BenchPing))) {
        g_error("out of memory");
    }
    memset(ping, 0, sizeof(BenchPing));
    m->ping = ping;
    m->samples = g_new(uint64_t, run->opt.iterations);
    m->state = m->ops->setup(m->ping, &err);
    if (!m->state) {
        m->res->ok = FALSE;
        m->res->error = g_strdup(err->message);
        m->res->not_built = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
        g_clear_error(&err);
        return;
    }
    m->res->ok = TRUE;
    if (run->opt.cpu_a >= 0 && m->ops->a_tid) {
        if (!bench_pin_tid(m->ops->a_tid(m->state), run->opt.cpu_a, &err)) {
            g_printerr("qcontext-bench: %s: %s\n", m->ops->name, err->message);
            g_clear_error(&err);
        }
    }
    if (run->opt.cpu_b >= 0 && m->ops->b_tid) {
        if (!bench_pin_tid(m->ops->b_tid(m->state), run->opt.cpu_b, &err)) {
            g_printerr("qcontext-bench: %s: %s\n", m->ops->name, err->message);
            g_clear_error(&err);
        }
    }
}

static void mech_finish(MechRun *m)
{
    if (m->state) {
        if (m->res->ok && m->ops->extra) {
            m->ops->extra(m->state, m->res);
        }
        m->ops->teardown(m->state);
    }
    bench_summarize(m->samples, m->n, &m->res->sum);
    m->res->samples = m->samples; /* sorted now; for --plot and --csv */
    free(m->ping);
}

/*
 * Measure the rows of one kind (@polling or not) in interleaved rounds.
 * Blocking rows need no warm-up (B sleeps between round trips anyway) and
 * are interleaved finely, so that the slow switches of a virtual CPU
 * between shallow and deep idle hit every row alike; polling rows need a
 * warm-up that opens the adaptive poll window, so they use fewer, longer
 * batches.
 */
static void measure_phase(const BenchOptions *opt, MechRun *runs, size_t nrun,
                          bool polling)
{
    int rounds = polling ? opt->poll_rounds : opt->rounds;
    size_t per_round = (size_t)opt->iterations / (size_t)rounds;
    size_t warm = polling ? (opt->quick ? 50 : 200) : 2;
    uint64_t gap = polling ? (uint64_t)opt->poll_gap_ns : (uint64_t)opt->gap_us * 1000u;

    for (int r = 0; r < rounds; r++) {
        size_t count = r == rounds - 1 ? (size_t)opt->iterations - per_round * (size_t)r
                                       : per_round;

        for (size_t i = 0; i < nrun; i++) {
            if (runs[i].ops->polling == polling && runs[i].res->ok) {
                size_t before = runs[i].n;

                if (measure_batch(&runs[i], warm, count, gap)) {
                    bench_round_note(runs[i].res, runs[i].samples + before,
                                     runs[i].n - before);
                }
            }
        }
    }
}

void bench_wakeup_run(BenchRun *run)
{
    const BenchOptions *opt = &run->opt;
    size_t nmech = G_N_ELEMENTS(bench_all_mechs), nrun = 0;
    MechRun *runs = g_new0(MechRun, nmech);
    GError *err = NULL;

    if (!bench_pin_tid(0, opt->cpu_a, &err)) {
        g_printerr("qcontext-bench: A: %s\n", err->message);
        g_clear_error(&err);
    }
    run->mechs = g_array_sized_new(FALSE, TRUE, sizeof(BenchMechResult), nmech);
    g_array_set_size(run->mechs, nmech);
    for (size_t i = 0; i < nmech; i++) {
        if (!bench_selected(opt, bench_all_mechs[i])) {
            continue;
        }
        runs[nrun].ops = bench_all_mechs[i];
        runs[nrun].res = &g_array_index(run->mechs, BenchMechResult, nrun);
        runs[nrun].res->ops = bench_all_mechs[i];
        mech_setup(run, &runs[nrun]);
        nrun++;
    }
    g_array_set_size(run->mechs, nrun);

    measure_phase(opt, runs, nrun, false);
    measure_phase(opt, runs, nrun, true);
    for (size_t i = 0; i < nrun; i++) {
        mech_finish(&runs[i]);
    }
    g_free(runs);
}

void bench_run_clear(BenchRun *run)
{
    for (guint i = 0; run->mechs && i < run->mechs->len; i++) {
        BenchMechResult *res = &g_array_index(run->mechs, BenchMechResult, i);

        g_free(res->error);
        g_free(res->samples);
        if (res->keys) {
            g_ptr_array_unref(res->keys);
            g_array_unref(res->values);
        }
    }
    for (guint i = 0; run->idle && i < run->idle->len; i++) {
        g_free(g_array_index(run->idle, BenchIdleResult, i).error);
        g_free(g_array_index(run->idle, BenchIdleResult, i).fdmon);
    }
    for (guint i = 0; run->timers && i < run->timers->len; i++) {
        g_free(g_array_index(run->timers, BenchTimerResult, i).error);
    }
    g_clear_pointer(&run->timers, g_array_unref);
    g_clear_pointer(&run->mechs, g_array_unref);
    g_clear_pointer(&run->idle, g_array_unref);
    g_strfreev(run->opt.only);
    run->opt.only = NULL;
    g_clear_pointer(&run->opt.plot_path, g_free);
    g_clear_pointer(&run->opt.csv_path, g_free);
}

/*
 * bench/bench-wakeup-timer.c - how late a timer fires: a 1 ms periodic
 * timer on an AioContext run by the calling thread (A, pinned with --cpus),
 * through aio_poll() and through the context's GSource in a GMainContext.
 * Each callback records now - deadline and re-arms one period after the
 * deadline.  Nanosecond deadlines end to end (epoll_pwait2, a timerfd for
 * the GSource): a timeout rounded to milliseconds anywhere would show as a
 * typical lateness of ~500 us.  The thread's timer slack is set to 1 ns,
 * as context threads do.  (tests/aio/test-timer-accuracy only checks that
 * no timer is early and none is lost.)
 *
 * SPDX-License-Identifier: MIT
 */
#include <sys/prctl.h>

#include "qcontext/aio/aio.h"

#include "bench.h"

#define TIMER_PERIOD_NS ((int64_t)SCALE_MS)

typedef struct {
    QEMUTimer *timer;
    int64_t deadline;
    uint64_t *samples;
    size_t n, want;
} TimerRun;

static void timer_run_cb(void *opaque)
{
    TimerRun *t = opaque;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    t->samples[t->n++] = now > t->deadline ? (uint64_t)(now - t->deadline) : 0;
    if (t->n < t->want) {
        t->deadline += TIMER_PERIOD_NS;
        timer_mod_ns(t->timer, t->deadline);
    }
}

/* @use_gsource: drive the context through its GSource. */
static void timer_measure(BenchTimerResult *res, gboolean use_gsource, size_t periods)
{
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    GMainContext *gctx = NULL;
    GSource *src = NULL;
    TimerRun t = {.want = periods};

    res->driver = use_gsource ? "gsource" : "aio_poll";
    if (!ctx) {
        res->error = g_strdup(err->message);
        g_error_free(err);
        return;
    }
    if (use_gsource) {
        gctx = g_main_context_new();
        src = aio_get_g_source(ctx);
        g_source_attach(src, gctx);
    }
    t.samples = g_new(uint64_t, periods);
    t.timer = aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_run_cb, &t);
    t.deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + TIMER_PERIOD_NS;
    timer_mod_ns(t.timer, t.deadline);
    while (t.n < t.want) {
        if (gctx) {
            g_main_context_iteration(gctx, TRUE);
        } else {
            aio_poll(ctx, true);
        }
    }
    bench_summarize(t.samples, t.n, &res->sum);
    res->ok = TRUE;
    timer_free(t.timer);
    g_free(t.samples);
    if (src) {
        g_source_destroy(src);
        g_source_unref(src);
        g_main_context_unref(gctx);
    }
    aio_context_unref(ctx);
}

void bench_timer_run(BenchRun *run)
{
    size_t periods = run->opt.quick ? 200 : 2000;
    GError *err = NULL;

    if (!bench_pin_tid(0, run->opt.cpu_a, &err)) {
        g_printerr("qcontext-bench: A: %s\n", err->message);
        g_clear_error(&err);
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    run->timers = g_array_sized_new(FALSE, TRUE, sizeof(BenchTimerResult), 2);
    g_array_set_size(run->timers, 2);
    for (guint i = 0; i < 2; i++) {
        timer_measure(&g_array_index(run->timers, BenchTimerResult, i), i == 1,
                      periods);
    }
    prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0); /* back to the default */
}

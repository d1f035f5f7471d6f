/*
 * tests/aio/test-timer-accuracy.c - a 1 ms periodic timer is late by less
 * than 200 us at the 99th percentile, through aio_poll() and through the
 * context's GSource.
 *
 * This checks behaviour (nanosecond deadlines end to end: a millisecond
 * rounding anywhere makes the typical lateness ~500 us), not speed.  What is
 * measured is our path from deadline to callback, so the test removes the
 * noise that is not ours where the system lets it: the thread's timer slack
 * (50 us by default) is set to 1 ns, and the thread asks for SCHED_FIFO so
 * that other processes on a busy machine do not delay its wakeups (without
 * the privilege it runs as it is).  A run disturbed anyway is retried; the
 * test fails only if no run meets the bound.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#include <glib.h>

#include "qcontext/aio/aio.h"

#define PERIOD_NS ((int64_t)SCALE_MS)
#define PERIODS 1000
#define BOUND_P99_NS (200 * SCALE_US)
#define ATTEMPTS 5

typedef struct {
    QEMUTimer *timer;
    int64_t deadline;
    int fired;
    LatencyHistogram hist;
} Periodic;

static void periodic_cb(void *opaque)
{
    Periodic *p = opaque;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    g_assert_cmpint(now, >=, p->deadline);
    lat_hist_record(&p->hist, (uint64_t)(now - p->deadline));
    if (++p->fired < PERIODS) {
        p->deadline += PERIOD_NS;
        timer_mod_ns(p->timer, p->deadline);
    }
}

/* One run of PERIODS periods; returns the p99 lateness in ns. */
static uint64_t run_periods(AioContext *ctx, GMainContext *gctx)
{
    Periodic *p = g_new0(Periodic, 1);
    uint64_t p99;

    p->timer = aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_NS, periodic_cb, p);
    p->deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + PERIOD_NS;
    timer_mod_ns(p->timer, p->deadline);
    while (p->fired < PERIODS) {
        if (gctx) {
            g_main_context_iteration(gctx, TRUE);
        } else {
            aio_poll(ctx, true);
        }
    }
    g_assert_cmpuint(p->hist.count, ==, PERIODS);
    p99 = lat_hist_percentile(&p->hist, 99);
    g_test_message("lateness: p50 %" G_GUINT64_FORMAT " ns, p99 %" G_GUINT64_FORMAT
                   " ns, max %" G_GUINT64_FORMAT " ns",
                   lat_hist_percentile(&p->hist, 50), p99, p->hist.max_ns);
    timer_free(p->timer);
    g_free(p);
    return p99;
}

/* Less scheduling noise for the calling thread (see above). */
static void quiet_thread_enter(int *old_policy, struct sched_param *old_param)
{
    struct sched_param fifo = {.sched_priority = 1};
    int ret;

    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    pthread_getschedparam(pthread_self(), old_policy, old_param);
    ret = pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo);
    if (ret) {
        g_test_message("SCHED_FIFO refused (%s): measuring under normal scheduling",
                       g_strerror(ret));
    }
}

static void quiet_thread_leave(int old_policy, const struct sched_param *old_param)
{
    pthread_setschedparam(pthread_self(), old_policy, old_param);
    prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0); /* back to the default */
}

static void test_accuracy(gconstpointer data)
{
    struct sched_param old_param;
    int old_policy;
    bool use_gsource = GPOINTER_TO_INT(data);
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    GMainContext *gctx = NULL;
    GSource *src = NULL;
    uint64_t best = UINT64_MAX;

    g_assert_no_error(err);
    if (use_gsource) {
        gctx = g_main_context_new();
        src = aio_get_g_source(ctx);
        g_source_attach(src, gctx);
    }
    quiet_thread_enter(&old_policy, &old_param);
    for (int i = 0; i < ATTEMPTS && best >= BOUND_P99_NS; i++) {
        uint64_t p99 = run_periods(ctx, gctx);
        best = MIN(best, p99);
    }
    quiet_thread_leave(old_policy, &old_param);
    g_assert_cmpuint(best, <, BOUND_P99_NS);
    if (src) {
        g_source_destroy(src);
        g_source_unref(src);
        g_main_context_unref(gctx);
    }
    aio_context_unref(ctx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/timer/aio-poll/accuracy-1ms", GINT_TO_POINTER(false),
                         test_accuracy);
    g_test_add_data_func("/timer/gsource/accuracy-1ms", GINT_TO_POINTER(true),
                         test_accuracy);
    return g_test_run();
}

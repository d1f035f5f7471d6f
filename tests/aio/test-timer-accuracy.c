/*
 * tests/aio/test-timer-accuracy.c - periodic timers through aio_poll() and
 * through the context's GSource are never early and always fire.
 *
 * A correctness bound, not a speed claim: every callback runs at or after
 * its deadline (deadlines fall between milliseconds, so a timeout rounded
 * down to a millisecond anywhere on the path shows up as an early callback)
 * and within a generous bound (a lost or stuck timer shows up; a loaded
 * machine does not).  How late timers are typically is measured by the
 * benchmark, not here.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib.h>

#include "qcontext/aio/aio.h"

/* 1.3 ms: deadlines are not whole milliseconds apart */
#define PERIOD_NS ((int64_t)1300 * SCALE_US)
#define PERIODS 200
/* far beyond any scheduling delay; only a lost wakeup gets there */
#define LATE_BOUND_NS ((int64_t)5 * 1000 * SCALE_MS)

typedef struct {
    QEMUTimer *timer;
    int64_t deadline;
    int fired;
    int early; /* callbacks before their deadline */
    int64_t max_late;
} Periodic;

static void periodic_cb(void *opaque)
{
    Periodic *p = opaque;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    p->early += now < p->deadline;
    p->max_late = MAX(p->max_late, now - p->deadline);
    if (++p->fired < PERIODS) {
        p->deadline += PERIOD_NS;
        timer_mod_ns(p->timer, p->deadline);
    }
}

static void test_periodic(gconstpointer data)
{
    bool use_gsource = GPOINTER_TO_INT(data);
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    GMainContext *gctx = NULL;
    GSource *src = NULL;
    Periodic p = {0};

    g_assert_no_error(err);
    if (use_gsource) {
        gctx = g_main_context_new();
        src = aio_get_g_source(ctx);
        g_source_attach(src, gctx);
    }
    p.timer = aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_NS, periodic_cb, &p);
    p.deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + PERIOD_NS;
    timer_mod_ns(p.timer, p.deadline);
    while (p.fired < PERIODS) {
        if (gctx) {
            g_main_context_iteration(gctx, TRUE);
        } else {
            aio_poll(ctx, true);
        }
    }
    g_test_message("latest callback: %" G_GINT64_FORMAT " ns after its deadline",
                   p.max_late);
    g_assert_cmpint(p.early, ==, 0);
    g_assert_cmpint(p.max_late, <, LATE_BOUND_NS);

    timer_free(p.timer);
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
    g_test_add_data_func("/timer/aio-poll/periodic-never-early", GINT_TO_POINTER(false),
                         test_periodic);
    g_test_add_data_func("/timer/gsource/periodic-never-early", GINT_TO_POINTER(true),
                         test_periodic);
    return g_test_run();
}

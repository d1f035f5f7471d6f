/*
 * tests/qcontext/test-aio-qcontext.c - what is particular to aio-qcontext:
 * poll parameters changed while running, fd monitors, statistics, and the
 * AioContext's own work (BHs, timers, fd handlers) next to QSources.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "qctx-test.h"
#include "qcontext/aio-qcontext.h"

static char *prop(QContext *ctx, const char *name)
{
    g_autoptr(GError) err = NULL;
    char *s = qom_property_to_string(QOM_OBJECT(ctx), name, &err);

    g_assert_no_error(err);
    return s;
}

static void set_prop(QContext *ctx, const char *name, const char *value)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(qom_object_set_property_str(QOM_OBJECT(ctx), name, value, &err));
    g_assert_no_error(err);
}

/* Poll parameters: given at creation, changed while running, read back. */
static void test_poll_params(void)
{
    g_autoptr(GError) err = NULL;
    QContext *ctx =
        qctx_new("aio-qcontext", "io0",
                 "threaded=yes,poll-max-ns=32768,poll-grow=0,poll-shrink=0");
    AioContext *aio = qcontext_get_aio_context(ctx);
    int64_t max_ns, grow, shrink;
    char *s;

    aio_context_get_poll_params(aio, &max_ns, &grow, &shrink);
    g_assert_cmpint(max_ns, ==, 32768);
    g_assert_cmpint(grow, ==, 0);
    g_assert_cmpint(shrink, ==, 0);

    set_prop(ctx, "poll-max-ns", "1000");
    set_prop(ctx, "poll-grow", "4");
    set_prop(ctx, "poll-shrink", "2");
    aio_context_get_poll_params(aio, &max_ns, &grow, &shrink);
    g_assert_cmpint(max_ns, ==, 1000);
    g_assert_cmpint(grow, ==, 4);
    g_assert_cmpint(shrink, ==, 2);
    s = prop(ctx, "poll-max-ns");
    g_assert_cmpstr(s, ==, "1000");
    g_free(s);
    s = prop(ctx, "poll-grow");
    g_assert_cmpstr(s, ==, "4");
    g_free(s);
    set_prop(ctx, "poll-max-ns", "9223372036854775807");
    s = prop(ctx, "poll-max-ns");
    g_assert_cmpstr(s, ==, "9223372036854775807");
    g_free(s);

    /* bad values are refused and change nothing */
    g_assert_false(
        qom_object_set_property_str(QOM_OBJECT(ctx), "poll-max-ns", "-1", &err));
    g_assert_nonnull(strstr(err->message, "poll-max-ns"));
    g_clear_error(&err);
    g_assert_false(
        qom_object_set_property_str(QOM_OBJECT(ctx), "poll-shrink", "fast", &err));
    g_assert_nonnull(strstr(err->message, "poll-shrink"));
    g_clear_error(&err);
    g_assert_false(qom_object_set_property_str(QOM_OBJECT(ctx), "fdmon", "poll", &err));
    g_clear_error(&err);
    aio_context_get_poll_params(aio, NULL, NULL, &shrink);
    g_assert_cmpint(shrink, ==, 2);
    qctx_del("io0");

    s = qctx_new_error("aio-qcontext,id=io1,poll-max-ns=-5");
    g_assert_nonnull(s);
    g_assert_nonnull(strstr(s, "poll-max-ns"));
    g_free(s);
    g_assert_null(qcontext_find_by_name("io1"));
}

/* A source dispatches on each fd monitor. */
static void test_fdmon(void)
{
    static const char *const kinds[] = {"epoll", "poll", "io_uring"};
    GLogLevelFlags fatal;

    /* io_uring may be refused by the kernel: the context warns, uses epoll */
    fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
        g_autofree char *opt = g_strdup_printf("fdmon=%s", kinds[i]);
        g_autofree char *back = NULL;
        TestSource *ts = ts_new("fdmon");
        QContext *ctx = qctx_new("aio-qcontext", "mon0", opt);

        back = prop(ctx, "fdmon");
        if (i == 2) {
            g_assert_true(g_str_equal(back, "io_uring") || g_str_equal(back, "epoll"));
        } else {
            g_assert_cmpstr(back, ==, kinds[i]);
        }
        g_assert_true(qcontext_attach(ctx, ts->src, NULL));
        event_notifier_set(&ts->en);
        g_assert_true(qcontext_iterate(ctx, TRUE));
        g_assert_cmpint(ts->dispatch_count, ==, 1);
        qctx_flush(ctx);
        g_assert_cmpint(ts->dispatch_count, ==, 1);
        qctx_del("mon0");
        ts_free(ts);
    }
    g_log_set_always_fatal(fatal);

    g_autofree char *msg = qctx_new_error("aio-qcontext,id=mon1,fdmon=kqueue");
    g_assert_nonnull(msg);
    g_assert_nonnull(strstr(msg, "fdmon"));
}

static void count_bh(void *opaque)
{
    __atomic_fetch_add((int *)opaque, 1, __ATOMIC_SEQ_CST);
}

/* The AioContext's own work counts as progress and shows in the stats. */
static void test_aio_work(void)
{
    QContext *ctx = qctx_new("aio-qcontext", "work0", NULL);
    AioContext *aio = qcontext_get_aio_context(ctx);
    AioContextStats before, after;
    QEMUTimer *timer;
    int ran = 0;

    g_assert_true(aio_qcontext_get_stats(ctx, &before));
    qctx_flush(ctx);
    g_assert_false(qcontext_iterate(ctx, FALSE));

    aio_bh_schedule_oneshot(aio, count_bh, &ran);
    g_assert_true(qcontext_iterate(ctx, FALSE));
    g_assert_cmpint(ran, ==, 1);

    /* a timer ends a blocking iteration and runs in it */
    timer = aio_timer_new(aio, QEMU_CLOCK_REALTIME, SCALE_MS, count_bh, &ran);
    timer_mod(timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 5);
    while (ran < 2) {
        qcontext_iterate(ctx, TRUE);
    }
    timer_free(timer);

    g_assert_true(aio_qcontext_get_stats(ctx, &after));
    g_assert_cmpuint(after.iterations, >, before.iterations);
    g_assert_cmpuint(after.dispatches, >=, before.dispatches + 2);
    qctx_del("work0");

    /* any context with an AioContext has stats; no context, none */
    QContext *glib = qctx_new("glib-qcontext", "work1", NULL);
    g_assert_true(aio_qcontext_get_stats(glib, &after));
    qctx_del("work1");
    g_assert_false(aio_qcontext_get_stats(qcontext_find_by_name("work1"), &after));
    g_assert_cmpuint(after.iterations, ==, 0);
}

typedef struct {
    EventNotifier en;
    AioContext *aio;
    int tid;
    int runs;
    int not_home; /* ran where in_aio_context_home_thread() was false */
} FdProbe;

static void fd_probe_read(void *opaque)
{
    FdProbe *p = opaque;

    event_notifier_test_and_clear(&p->en);
    if (!in_aio_context_home_thread(p->aio) ||
        qemu_get_current_aio_context() != p->aio) {
        __atomic_fetch_add(&p->not_home, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&p->tid, gettid(), __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&p->runs, 1, __ATOMIC_SEQ_CST);
}

/* A device-style fd handler and a QSource share the threaded loop. */
static void test_threaded_mix(void)
{
    QContext *ctx = qctx_new("aio-qcontext", "mix0", "threaded=yes");
    AioContext *aio = qcontext_get_aio_context(ctx);
    TestSource *ts = ts_new("mix");
    FdProbe p = {.aio = aio};
    int tid = qcontext_get_thread_id(ctx);

    /* A threaded context's AioContext is at home on the context's thread. */
    g_assert_false(in_aio_context_home_thread(aio));

    g_assert_cmpint(event_notifier_init(&p.en, 0), ==, 0);
    aio_set_fd_handler(aio, event_notifier_get_fd(&p.en), fd_probe_read, NULL, NULL,
                       NULL, &p);
    ts_set(&ts->expect_tid, tid);
    g_assert_true(qcontext_attach(ctx, ts->src, NULL));
    for (int i = 1; i <= 50; i++) {
        event_notifier_set(&p.en);
        event_notifier_set(&ts->en);
        g_assert_true(ts_wait_ge(&p.runs, i));
        g_assert_true(ts_wait_ge(&ts->dispatch_count, i));
    }
    g_assert_cmpint(__atomic_load_n(&p.tid, __ATOMIC_SEQ_CST), ==, tid);
    g_assert_cmpint(__atomic_load_n(&p.not_home, __ATOMIC_SEQ_CST), ==, 0);
    g_assert_cmpint(ts_get(&ts->wrong_thread), ==, 0);

    /* the source's prepare timeout wakes the loop up by itself */
    int prepares = ts_get(&ts->prepare_count);
    ts_set(&ts->prepare_timeout, 1);
    qcontext_notify(ctx);
    g_assert_true(ts_wait_ge(&ts->prepare_count, prepares + 20));

    g_assert_true(qcontext_detach(ctx, ts->src, NULL));
    aio_set_fd_handler(aio, event_notifier_get_fd(&p.en), NULL, NULL, NULL, NULL, NULL);
    qctx_del("mix0");
    event_notifier_cleanup(&p.en);
    ts_free(ts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qcontext_register_types();

    g_test_add_func("/aio-qcontext/poll-params", test_poll_params);
    g_test_add_func("/aio-qcontext/fdmon", test_fdmon);
    g_test_add_func("/aio-qcontext/aio-work", test_aio_work);
    g_test_add_func("/aio-qcontext/threaded-mix", test_threaded_mix);
    return g_test_run();
}

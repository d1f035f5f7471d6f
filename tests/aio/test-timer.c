/*
 * tests/aio/test-timer.c - timer semantics, driven by aio_poll() directly and
 * through the context's GSource in a GMainContext.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "test-aio-loop.h"

#define MS_NS ((int64_t)SCALE_MS)

static int64_t now_ns(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
}

/* State shared with the timer callbacks. */
typedef struct {
    QEMUTimer *timer;
    int64_t deadline; /* expected expiry, ns */
    int64_t fired_at;
    int count;
    int64_t rearm_ns;    /* re-arm this long after the deadline, once */
    bool free_self;      /* timer_free() from the callback */
    QEMUTimer *victim;   /* timer to delete from the callback */
    QEMUClockType clock; /* of deadline and fired_at */
} TimerState;

static void timer_cb(void *opaque)
{
    TimerState *s = opaque;

    s->fired_at = qemu_clock_get_ns(s->clock);
    /* Never early. */
    g_assert_cmpint(s->fired_at, >=, s->deadline);
    s->count++;
    if (s->victim) {
        timer_del(s->victim);
    }
    if (s->free_self) {
        timer_free(s->timer);
        s->timer = NULL;
        return;
    }
    g_assert_false(timer_pending(s->timer));
    if (s->rearm_ns) {
        s->deadline += s->rearm_ns;
        s->rearm_ns = 0;
        timer_mod_ns(s->timer, s->deadline);
    }
}

static void test_not_early(gconstpointer data)
{
    TestLoop *l = test_loop_new((TestDriver)GPOINTER_TO_INT(data));
    TimerState s = {0};
    int64_t start = now_ns();

    s.timer = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_MS, timer_cb, &s);
    s.deadline = start + 750 * MS_NS;
    timer_mod_ns(s.timer, s.deadline);
    g_assert_true(timer_pending(s.timer));
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==, s.deadline);

    /* Non-blocking iterations up to 740 ms: the timer must not fire. */
    while (now_ns() < start + 740 * MS_NS) {
        test_loop_iterate(l, false);
        g_assert_cmpint(s.count, ==, 0);
        g_usleep(5000);
    }
    g_assert_true(timer_pending(s.timer));

    /* Blocking iterations: it fires at 750 ms, well before 1 s. */
    while (s.count == 0 && now_ns() < start + 5000 * MS_NS) {
        test_loop_iterate(l, true);
    }
    g_assert_cmpint(s.count, ==, 1);
    g_assert_cmpint(s.fired_at - start, >=, 750 * MS_NS);
    g_assert_cmpint(s.fired_at - start, <, 1000 * MS_NS);
    g_assert_false(timer_pending(s.timer));
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==, -1);

    timer_free(s.timer);
    test_loop_free(l);
}

static void test_rearm_from_callback(gconstpointer data)
{
    TestLoop *l = test_loop_new((TestDriver)GPOINTER_TO_INT(data));
    TimerState s = {0};
    int iterations = 0;

    s.timer = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb, &s);
    s.deadline = now_ns() + 20 * MS_NS;
    s.rearm_ns = 60 * MS_NS;
    timer_mod(s.timer, s.deadline);

    while (s.count == 0) {
        test_loop_iterate(l, true);
    }
    g_assert_true(timer_pending(s.timer));
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==, s.deadline);

    /* The blocking wait honours the new deadline instead of spinning. */
    while (s.count == 1) {
        test_loop_iterate(l, true);
        iterations++;
    }
    g_assert_cmpint(s.count, ==, 2);
    g_assert_cmpint(s.fired_at, >=, s.deadline);
    g_assert_cmpint(iterations, <=, 5);
    g_assert_false(timer_pending(s.timer));

    timer_free(s.timer);
    test_loop_free(l);
}

static void test_mod_del_pending(void)
{
    TestLoop *l = test_loop_new(DRIVER_AIO_POLL);
    TimerState s = {0};
    int64_t now = now_ns();

    s.timer = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_US, timer_cb, &s);
    g_assert_false(timer_pending(s.timer));
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==, -1);
    timer_del(s.timer); /* not armed: no-op */

    /* Scales convert to ns. */
    timer_mod(s.timer, now / SCALE_US + 1000000);
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==,
                    (now / SCALE_US + 1000000) * SCALE_US);
    timer_mod_ns(s.timer, now + 2000 * MS_NS);
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==, now + 2000 * MS_NS);

    /* Anticipate only moves earlier, or arms a disarmed timer. */
    timer_mod_anticipate(s.timer, (now + 3000 * MS_NS) / SCALE_US);
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==, now + 2000 * MS_NS);
    timer_mod_anticipate(s.timer, (now + 1000 * MS_NS) / SCALE_US);
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==,
                    (now + 1000 * MS_NS) / SCALE_US * SCALE_US);

    timer_del(s.timer);
    g_assert_false(timer_pending(s.timer));
    g_assert_false(aio_poll(l->ctx, false));
    timer_mod_anticipate(s.timer, (now + 3000 * MS_NS) / SCALE_US);
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==,
                    (now + 3000 * MS_NS) / SCALE_US * SCALE_US);

    /* A deleted timer does not fire; an expired one fires once. */
    timer_del(s.timer);
    g_assert_false(aio_poll(l->ctx, false));
    g_assert_cmpint(s.count, ==, 0);
    s.deadline = 0;
    timer_mod_ns(s.timer, now - 10 * MS_NS);
    g_assert_true(aio_poll(l->ctx, false));
    g_assert_cmpint(s.count, ==, 1);
    g_assert_false(aio_poll(l->ctx, false));
    g_assert_cmpint(s.count, ==, 1);

    /* Overflowing expire times saturate instead of wrapping. */
    timer_mod(s.timer, INT64_MAX / 2);
    g_assert_cmpint(timer_expire_time_ns(s.timer), ==, INT64_MAX);
    g_assert_false(aio_poll(l->ctx, false));

    timer_free(s.timer);
    test_loop_free(l);
}

/* Two timers due together: the first deletes the second, which never runs. */
static void test_callback_deletes_other(gconstpointer data)
{
    TestLoop *l = test_loop_new((TestDriver)GPOINTER_TO_INT(data));
    TimerState a = {0}, b = {0};
    int64_t due = now_ns() + 5 * MS_NS;

    a.timer = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb, &a);
    b.timer = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb, &b);
    a.deadline = due;
    b.deadline = due + 1;
    a.victim = b.timer;
    timer_mod_ns(b.timer, due + 1);
    timer_mod_ns(a.timer, due);
    while (a.count == 0) {
        test_loop_iterate(l, true);
    }
    g_usleep(2000);
    for (int i = 0; i < 5; i++) {
        test_loop_iterate(l, false);
    }
    g_assert_cmpint(a.count, ==, 1);
    g_assert_cmpint(b.count, ==, 0);
    g_assert_false(timer_pending(b.timer));
    timer_free(a.timer);
    timer_free(b.timer);
    test_loop_free(l);
}

static void test_free_self(gconstpointer data)
{
    TestLoop *l = test_loop_new((TestDriver)GPOINTER_TO_INT(data));
    TimerState s = {0}, other = {0};
    int64_t now = now_ns();

    s.timer = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb, &s);
    other.timer =
        aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb, &other);
    s.free_self = true;
    s.deadline = now + 2 * MS_NS;
    other.deadline = now + 3 * MS_NS;
    timer_mod_ns(s.timer, s.deadline);
    timer_mod_ns(other.timer, other.deadline);
    while (other.count == 0) {
        test_loop_iterate(l, true);
    }
    g_assert_cmpint(s.count, ==, 1);
    g_assert_null(s.timer);
    timer_free(other.timer);
    test_loop_free(l);
}

/* Timers on every clock share the lists and the loop's deadline. */
/* QEMU's form: a timer embedded in the device's own state. */
typedef struct {
    int pad;
    QEMUTimer timer;
    int64_t deadline;
    int count;
} EmbeddedState;

static void embedded_cb(void *opaque)
{
    EmbeddedState *e = opaque;

    g_assert_cmpint(now_ns(), >=, e->deadline);
    if (++e->count < 3) {
        e->deadline = now_ns() + MS_NS;
        timer_mod_ns(&e->timer, e->deadline);
    }
}

static void test_embedded(gconstpointer data)
{
    TestLoop *l = test_loop_new((TestDriver)GPOINTER_TO_INT(data));
    EmbeddedState *e = g_new0(EmbeddedState, 1);

    aio_timer_init(l->ctx, &e->timer, QEMU_CLOCK_REALTIME, SCALE_MS, embedded_cb, e);
    g_assert_false(timer_pending(&e->timer));
    e->deadline = now_ns() + 2 * MS_NS;
    timer_mod(&e->timer, e->deadline / SCALE_MS + 1); /* in ms: rounds up */
    e->deadline = (e->deadline / SCALE_MS + 1) * SCALE_MS;
    g_assert_true(timer_pending(&e->timer));
    g_assert_cmpint(timer_expire_time_ns(&e->timer), ==, e->deadline);
    while (e->count < 3) {
        test_loop_iterate(l, true);
    }
    g_assert_false(timer_pending(&e->timer));

    /* armed, then deleted and deinit: never runs, and refuses to be armed */
    timer_mod_ns(&e->timer, now_ns());
    timer_del(&e->timer);
    timer_deinit(&e->timer);
    g_assert_false(timer_pending(&e->timer));
    timer_del(&e->timer); /* harmless */
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(e->count, ==, 3);
    g_free(e); /* the embedding memory goes; the context does not care */
    test_loop_free(l);
}

static void test_clocks(void)
{
    TestLoop *l = test_loop_new(DRIVER_AIO_POLL);
    TimerState s[QEMU_CLOCK_MAX] = {0};
    int64_t r = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    int64_t h = qemu_clock_get_ns(QEMU_CLOCK_HOST);

    g_assert_cmpint(qemu_clock_get_ms(QEMU_CLOCK_HOST) / 1000, >=, h / 1000000000);
    g_assert_cmpint(qemu_clock_get_us(QEMU_CLOCK_VIRTUAL), >=, r / 1000);
    /* HOST is the wall clock: after 2020-01-01. */
    g_assert_cmpint(h, >, 1577836800LL * 1000000000);

    for (int type = 0; type < QEMU_CLOCK_MAX; type++) {
        s[type].clock = type;
        s[type].timer = aio_timer_new(l->ctx, type, SCALE_NS, timer_cb, &s[type]);
        s[type].deadline = qemu_clock_get_ns(type) + (type + 1) * MS_NS;
        timer_mod_ns(s[type].timer, s[type].deadline);
    }
    while (s[QEMU_CLOCK_MAX - 1].count == 0) {
        aio_poll(l->ctx, true);
    }
    for (int type = 0; type < QEMU_CLOCK_MAX; type++) {
        g_assert_cmpint(s[type].count, ==, 1);
        timer_free(s[type].timer);
    }
    test_loop_free(l);
}

/* Another thread arms a timer while the home thread is blocked. */
typedef struct {
    TimerState *s;
} ArmArgs;

static void *arm_thread(void *opaque)
{
    ArmArgs *args = opaque;

    g_usleep(50000);
    timer_mod_ns(args->s->timer, args->s->deadline);
    return NULL;
}

static void test_mod_from_thread(gconstpointer data)
{
    TestLoop *l = test_loop_new((TestDriver)GPOINTER_TO_INT(data));
    TimerState s = {0};
    ArmArgs args = {.s = &s};
    pthread_t thread;
    int64_t start = now_ns();

    s.timer = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb, &s);
    /* Due 10 ms after the thread arms it; nothing else could wake us. */
    s.deadline = start + 60 * MS_NS;
    g_assert_cmpint(pthread_create(&thread, NULL, arm_thread, &args), ==, 0);
    while (s.count == 0) {
        test_loop_iterate(l, true);
    }
    pthread_join(thread, NULL);
    g_assert_cmpint(s.fired_at - start, >=, 60 * MS_NS);
    g_assert_cmpint(s.fired_at - start, <, 5000 * MS_NS);
    timer_free(s.timer);
    test_loop_free(l);
}

/*
 * A timer's wakeup latency (deadline -> dispatch) lands in the context's
 * wakeup histogram: one entry per expiry, no larger than the observed
 * lateness of the callback.
 */
static void test_lateness_in_stats(gconstpointer data)
{
    TestLoop *l = test_loop_new((TestDriver)GPOINTER_TO_INT(data));
    TimerState s = {0};
    AioContextStats st;

    s.timer = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb, &s);
    for (int i = 1; i <= 3; i++) {
        s.deadline = now_ns() + 2 * MS_NS;
        timer_mod_ns(s.timer, s.deadline);
        while (s.count < i) {
            test_loop_iterate(l, true);
        }
        aio_context_get_stats(l->ctx, &st);
        g_assert_cmpuint(st.wakeup.count, ==, (guint64)i);
        if (i == 1) {
            /* Recorded when the timer is popped, before its callback runs. */
            g_assert_cmpuint(st.wakeup.max_ns, <=, (guint64)(s.fired_at - s.deadline));
        }
    }
    /* Nothing armed: no more entries, however often the loop runs. */
    test_loop_iterate(l, false);
    aio_context_get_stats(l->ctx, &st);
    g_assert_cmpuint(st.wakeup.count, ==, 3);
    timer_free(s.timer);
    test_loop_free(l);
}

static void add_both(const char *name, GTestDataFunc fn)
{
    g_autofree char *poll = g_strdup_printf("/timer/aio-poll/%s", name);
    g_autofree char *gsrc = g_strdup_printf("/timer/gsource/%s", name);

    g_test_add_data_func(poll, GINT_TO_POINTER(DRIVER_AIO_POLL), fn);
    g_test_add_data_func(gsrc, GINT_TO_POINTER(DRIVER_GSOURCE), fn);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/timer/mod-del-pending", test_mod_del_pending);
    g_test_add_func("/timer/clocks", test_clocks);
    add_both("not-early", test_not_early);
    add_both("rearm-from-callback", test_rearm_from_callback);
    add_both("callback-deletes-other", test_callback_deletes_other);
    add_both("free-self", test_free_self);
    add_both("mod-from-thread", test_mod_from_thread);
    add_both("lateness-in-stats", test_lateness_in_stats);
    add_both("embedded", test_embedded);
    return g_test_run();
}

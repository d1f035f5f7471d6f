/*
 * tests/aio/test-aio-bh.c - bottom halves, with aio_poll() and with the
 * GSource driver.
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib.h>

#include "qcontext/aio/aio.h"
#include "../../aio/aio-internal.h"
#include "test-aio-loop.h"

typedef struct {
    TestLoop *loop;
    QEMUBH *bh;
    int count;
    int max;          /* reschedule until count == max */
    bool delete_last; /* qemu_bh_delete() from the last run */
} BHState;

static unsigned live_bhs(AioContext *ctx)
{
    return __atomic_load_n(&ctx->bh_count, __ATOMIC_RELAXED);
}

static void count_cb(void *opaque)
{
    BHState *s = opaque;

    s->count++;
}

static void reschedule_cb(void *opaque)
{
    BHState *s = opaque;

    s->count++;
    if (s->count < s->max) {
        qemu_bh_schedule(s->bh);
    } else if (s->delete_last) {
        qemu_bh_delete(s->bh);
        s->bh = NULL;
    }
}

static void test_bh_runs_once(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    BHState s = {0};

    s.bh = aio_bh_new(l->ctx, count_cb, &s);
    g_assert_false(test_loop_iterate(l, false));

    qemu_bh_schedule(s.bh);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.count, ==, 1);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 1);

    /* Scheduled twice before it runs: runs once. */
    qemu_bh_schedule(s.bh);
    qemu_bh_schedule(s.bh);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 2);

    qemu_bh_delete(s.bh);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpuint(live_bhs(l->ctx), ==, 0);
    test_loop_free(l);
}

static void test_bh_reschedule_10(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    BHState s = {.max = 10};

    s.bh = aio_bh_new(l->ctx, reschedule_cb, &s);
    qemu_bh_schedule(s.bh);
    /* A BH scheduled while BHs run waits for the next round: once per poll. */
    for (int i = 1; i <= 10; i++) {
        g_assert_true(test_loop_iterate(l, i == 1));
        g_assert_cmpint(s.count, ==, i);
    }
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 10);
    qemu_bh_delete(s.bh);
    g_assert_false(test_loop_iterate(l, false));
    test_loop_free(l);
}

static void test_bh_cancel(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    BHState s = {0};

    s.bh = aio_bh_new(l->ctx, count_cb, &s);
    qemu_bh_schedule(s.bh);
    qemu_bh_cancel(s.bh);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 0);

    /* Can be scheduled again after a cancel. */
    qemu_bh_schedule(s.bh);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.count, ==, 1);
    qemu_bh_delete(s.bh);
    g_assert_false(test_loop_iterate(l, false));
    test_loop_free(l);
}

static void test_bh_delete(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    BHState s = {0};

    s.bh = aio_bh_new(l->ctx, count_cb, &s);
    qemu_bh_schedule(s.bh);
    qemu_bh_delete(s.bh);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 0);
    g_assert_cmpuint(live_bhs(l->ctx), ==, 0);
    test_loop_free(l);
}

static void delete_self_cb(void *opaque)
{
    BHState *s = opaque;

    s->count++;
    qemu_bh_delete(s->bh);
    /* The memory stays valid until the BH list is no longer walked. */
    qemu_bh_cancel(s->bh);
    s->bh = NULL;
}

static void test_bh_delete_self(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    BHState s = {0};

    s.bh = aio_bh_new(l->ctx, delete_self_cb, &s);
    qemu_bh_schedule(s.bh);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.count, ==, 1);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 1);
    g_assert_cmpuint(live_bhs(l->ctx), ==, 0);
    test_loop_free(l);
}

static void set_flag_cb(void *opaque)
{
    *(int *)opaque = 1;
}

/*
 * A deleted BH that is not freed yet is no work (as in QEMU): through the
 * GSource, an iteration with nothing else to do dispatches nothing (and the
 * BH is freed anyway); a blocking aio_poll() sleeps until real work (a
 * timer) instead of returning at once with no progress.
 */
static void test_bh_deleted_not_work(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    BHState s = {0}, self = {0};
    QEMUTimer *t;
    int fired = 0;

    /* (not scheduled first: qemu_bh_schedule() notifies, which is a wakeup) */
    s.bh = aio_bh_new(l->ctx, count_cb, &s);
    qemu_bh_delete(s.bh);
    t = aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_MS, set_flag_cb, &fired);
    if (l->driver == DRIVER_GSOURCE) {
        g_assert_false(g_main_context_iteration(l->gctx, FALSE));
        g_assert_cmpuint(live_bhs(l->ctx), ==, 0); /* freed without a round */

        /* deleted from its own callback: no round of its own afterwards */
        self.bh = aio_bh_new(l->ctx, delete_self_cb, &self);
        qemu_bh_schedule(self.bh);
        g_assert_true(g_main_context_iteration(l->gctx, FALSE));
        g_assert_cmpint(self.count, ==, 1);
        g_assert_false(g_main_context_iteration(l->gctx, FALSE));
        g_assert_cmpuint(live_bhs(l->ctx), ==, 0);
    } else {
        timer_mod(t, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 10);
        g_assert_true(aio_poll(l->ctx, true)); /* woken by the timer */
        g_assert_cmpint(fired, ==, 1);
        g_assert_cmpuint(live_bhs(l->ctx), ==, 0);
    }
    g_assert_cmpint(s.count, ==, 0);
    timer_free(t);
    test_loop_free(l);
}

static void test_bh_four(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    static const int runs[4] = {1, 3, 2, 4};
    BHState s[4];
    int polls = 1;

    for (int i = 0; i < 4; i++) {
        s[i] = (BHState){.max = runs[i], .delete_last = true};
        s[i].bh = aio_bh_new(l->ctx, reschedule_cb, &s[i]);
        qemu_bh_schedule(s[i].bh);
    }
    g_assert_true(test_loop_iterate(l, true));
    for (int i = 0; i < 4; i++) {
        g_assert_cmpint(s[i].count, ==, 1); /* all ran in the first poll */
    }
    while (test_loop_iterate(l, false)) {
        polls++;
    }
    g_assert_cmpint(polls, ==, 4); /* the longest one needs 4 rounds */
    for (int i = 0; i < 4; i++) {
        g_assert_cmpint(s[i].count, ==, runs[i]);
        g_assert_null(s[i].bh); /* deleted itself after its last run */
    }
    g_assert_cmpuint(live_bhs(l->ctx), ==, 0);
    test_loop_free(l);
}

static void test_bh_oneshot(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    BHState s = {0};

    aio_bh_schedule_oneshot(l->ctx, count_cb, &s);
    aio_bh_schedule_oneshot(l->ctx, count_cb, &s);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.count, ==, 2);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 2);
    g_assert_cmpuint(live_bhs(l->ctx), ==, 0);
    test_loop_free(l);
}

/* Without notify: a blocking poll must still run it (10 ms cap), not hang. */
static void test_bh_idle(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    BHState s = {0};

    s.bh = aio_bh_new(l->ctx, count_cb, &s);
    qemu_bh_schedule_idle(s.bh);
    while (s.count == 0) {
        test_loop_iterate(l, true);
    }
    g_assert_cmpint(s.count, ==, 1);
    qemu_bh_delete(s.bh);
    g_assert_false(test_loop_iterate(l, false));
    test_loop_free(l);
}

/* A BH that runs a nested aio_poll() which finishes the outer round. */
typedef struct {
    AioContext *ctx;
    int order[3];
    int n;
} NestState;

static void nest_b_cb(void *opaque)
{
    NestState *s = opaque;

    s->order[s->n++] = 2;
}

static void nest_a_cb(void *opaque)
{
    NestState *s = opaque;

    s->order[s->n++] = 1;
    /* B was scheduled in the same round as A: the nested poll runs it. */
    g_assert_true(aio_poll(s->ctx, false));
    g_assert_cmpint(s->n, ==, 2);
}

static void test_bh_nested_poll(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    NestState s = {.ctx = l->ctx};

    aio_bh_schedule_oneshot(l->ctx, nest_a_cb, &s);
    aio_bh_schedule_oneshot(l->ctx, nest_b_cb, &s);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.n, ==, 2);
    g_assert_cmpint(s.order[0], ==, 1);
    g_assert_cmpint(s.order[1], ==, 2);
    g_assert_false(test_loop_iterate(l, false));
    test_loop_free(l);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_for_each_driver("bh/runs-once", test_bh_runs_once);
    test_add_for_each_driver("bh/reschedule-10", test_bh_reschedule_10);
    test_add_for_each_driver("bh/cancel", test_bh_cancel);
    test_add_for_each_driver("bh/delete", test_bh_delete);
    test_add_for_each_driver("bh/delete-self", test_bh_delete_self);
    test_add_for_each_driver("bh/deleted-not-work", test_bh_deleted_not_work);
    test_add_for_each_driver("bh/four-reschedulers", test_bh_four);
    test_add_for_each_driver("bh/oneshot", test_bh_oneshot);
    test_add_for_each_driver("bh/idle", test_bh_idle);
    test_add_for_each_driver("bh/nested-poll", test_bh_nested_poll);
    return g_test_run();
}

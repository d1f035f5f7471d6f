/*
 * tests/aio/test-aio-handlers.c - event notifiers and fd handlers, aio_notify,
 * nested aio_poll, changing handlers from their own callbacks, timers in the
 * loop, fd monitor switching and what a handler is told (revents); with
 * aio_poll() and with the GSource.
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "test-aio-loop.h"

typedef struct {
    TestLoop *loop;
    EventNotifier e;
    int count;
    int max;   /* re-arm until count == max */
    int depth; /* nesting of the handler */
    int max_depth;
    bool nested_progress;
} NotifierState;

static void notifier_state_init(NotifierState *s, TestLoop *l)
{
    *s = (NotifierState){.loop = l};
    g_assert_cmpint(event_notifier_init(&s->e, 0), ==, 0);
}

static void clear_cb(EventNotifier *e)
{
    NotifierState *s = container_of(e, NotifierState, e);

    s->count++;
    g_assert_true(event_notifier_test_and_clear(e));
}

static void test_notifier_add_remove(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    NotifierState s;

    notifier_state_init(&s, l);
    aio_set_event_notifier(l->ctx, &s.e, clear_cb, NULL, NULL);
    g_assert_false(test_loop_iterate(l, false));
    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    g_assert_false(test_loop_iterate(l, false));
    /* Set after removal: nobody runs. */
    event_notifier_set(&s.e);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 0);
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

static void test_notifier_runs_once(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    NotifierState s;

    notifier_state_init(&s, l);
    aio_set_event_notifier(l->ctx, &s.e, clear_cb, NULL, NULL);
    event_notifier_set(&s.e);
    g_assert_true(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 1);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.count, ==, 1);
    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

static void test_notifier_blocking(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    NotifierState s;

    notifier_state_init(&s, l);
    aio_set_event_notifier(l->ctx, &s.e, clear_cb, NULL, NULL);
    for (int i = 1; i <= 3; i++) {
        event_notifier_set(&s.e);
        g_assert_true(test_loop_iterate(l, true)); /* hangs if it misses the fd */
        g_assert_cmpint(s.count, ==, i);
    }
    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

static void rearm_cb(EventNotifier *e)
{
    NotifierState *s = container_of(e, NotifierState, e);

    g_assert_true(event_notifier_test_and_clear(e));
    if (++s->count < s->max) {
        event_notifier_set(e);
    }
}

static void test_notifier_rearm(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    NotifierState s;
    int polls = 0;

    notifier_state_init(&s, l);
    s.max = 10;
    aio_set_event_notifier(l->ctx, &s.e, rearm_cb, NULL, NULL);
    event_notifier_set(&s.e);
    while (test_loop_iterate(l, polls == 0)) {
        polls++;
    }
    g_assert_cmpint(polls, ==, 10);
    g_assert_cmpint(s.count, ==, 10);
    g_assert_false(test_loop_iterate(l, false));
    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

static void test_notify(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    AioContextStats before, after;

    g_assert_false(test_loop_iterate(l, false));
    aio_context_get_stats(l->ctx, &before);
    aio_notify(l->ctx);
    /* Returns (does not hang) without progress: a notify is not progress. */
    g_assert_false(test_loop_iterate(l, true));
    aio_context_get_stats(l->ctx, &after);
    g_assert_cmpuint(after.iterations, >, before.iterations);
    /* Consumed: nothing more. */
    g_assert_false(test_loop_iterate(l, false));
    if (l->driver == DRIVER_GSOURCE) {
        g_assert_false(g_main_context_iteration(l->gctx, FALSE));
    }
    test_loop_free(l);
}

/* The handler runs a nested aio_poll() with its own fd still readable. */
static void nested_cb(EventNotifier *e)
{
    NotifierState *s = container_of(e, NotifierState, e);

    s->depth++;
    s->max_depth = MAX(s->max_depth, s->depth);
    s->count++;
    s->nested_progress = aio_poll(s->loop->ctx, false);
    g_assert_true(event_notifier_test_and_clear(e));
    s->depth--;
}

static void test_nested_no_reentry(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    NotifierState s, other;

    notifier_state_init(&s, l);
    notifier_state_init(&other, l);
    aio_set_event_notifier(l->ctx, &s.e, nested_cb, NULL, NULL);
    aio_set_event_notifier(l->ctx, &other.e, clear_cb, NULL, NULL);

    event_notifier_set(&s.e);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.count, ==, 1);
    g_assert_cmpint(s.max_depth, ==, 1);
    g_assert_false(s.nested_progress);

    /* The nested poll still runs the other handlers. */
    event_notifier_set(&s.e);
    event_notifier_set(&other.e);
    while (s.count < 2 || other.count < 1) {
        test_loop_iterate(l, true);
    }
    g_assert_cmpint(s.count, ==, 2);
    g_assert_cmpint(other.count, ==, 1);
    g_assert_cmpint(s.max_depth, ==, 1);

    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    aio_set_event_notifier(l->ctx, &other.e, NULL, NULL, NULL);
    event_notifier_cleanup(&s.e);
    event_notifier_cleanup(&other.e);
    test_loop_free(l);
}

/* Callbacks that replace or remove their own handler. */
typedef struct {
    TestLoop *loop;
    EventNotifier e;
    int a_runs, b_runs, write_runs;
} ReplaceState;

static void replace_b_cb(EventNotifier *e)
{
    ReplaceState *s = container_of(e, ReplaceState, e);

    s->b_runs++;
    g_assert_true(event_notifier_test_and_clear(e));
    aio_set_event_notifier(s->loop->ctx, e, NULL, NULL, NULL); /* remove self */
    g_assert_true(event_notifier_get_fd(e) >= 0);
}

static void replace_a_cb(EventNotifier *e)
{
    ReplaceState *s = container_of(e, ReplaceState, e);

    s->a_runs++;
    /* Replace self, leaving the fd readable: B runs next time. */
    aio_set_event_notifier(s->loop->ctx, e, replace_b_cb, NULL, NULL);
}

static void remove_on_read_cb(void *opaque)
{
    ReplaceState *s = opaque;

    s->a_runs++;
    aio_set_fd_handler(s->loop->ctx, event_notifier_get_fd(&s->e), NULL, NULL, NULL,
                       NULL, NULL);
}

static void count_write_cb(void *opaque)
{
    ReplaceState *s = opaque;

    s->write_runs++;
}

static void test_replace_in_callback(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    ReplaceState s = {.loop = l};

    g_assert_cmpint(event_notifier_init(&s.e, 1), ==, 0);
    aio_set_event_notifier(l->ctx, &s.e, replace_a_cb, NULL, NULL);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.a_runs, ==, 1);
    g_assert_cmpint(s.b_runs, ==, 0);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.a_runs, ==, 1);
    g_assert_cmpint(s.b_runs, ==, 1);
    /* Removed: setting it again runs nothing. */
    event_notifier_set(&s.e);
    g_assert_false(test_loop_iterate(l, false));
    g_assert_cmpint(s.b_runs, ==, 1);

    /* Readable and writable; the read callback removes the handler, so the
     * write callback of the removed node must not run. */
    s.a_runs = 0;
    aio_set_fd_handler(l->ctx, event_notifier_get_fd(&s.e), remove_on_read_cb,
                       count_write_cb, NULL, NULL, &s);
    g_assert_true(test_loop_iterate(l, true));
    g_assert_cmpint(s.a_runs, ==, 1);
    g_assert_cmpint(s.write_runs, ==, 0);
    g_assert_false(test_loop_iterate(l, false));
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

/* aio_poll blocks until the deadline of a timer, then runs it. */
static void timer_cb(void *opaque)
{
    int64_t *fired_at = opaque;

    *fired_at = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
}

static void test_timer_deadline(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    int64_t fired_at = 0;
    QEMUTimer *t =
        aio_timer_new(l->ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb, &fired_at);
    int64_t deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + 20 * SCALE_MS;

    timer_mod_ns(t, deadline);
    g_assert_false(test_loop_iterate(l, false));
    while (!fired_at) {
        test_loop_iterate(l, true);
    }
    g_assert_cmpint(fired_at, >=, deadline);
    g_assert_false(timer_pending(t));
    g_assert_false(test_loop_iterate(l, false));
    timer_free(t);
    test_loop_free(l);
}

static void test_fdmon_switch(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    static const AioFdMonKind kinds[] = {AIO_FDMON_POLL, AIO_FDMON_IO_URING,
                                         AIO_FDMON_EPOLL};
    NotifierState s;

    notifier_state_init(&s, l);
    aio_set_event_notifier(l->ctx, &s.e, clear_cb, NULL, NULL);
    g_assert_cmpint(aio_context_get_fdmon(l->ctx), ==, AIO_FDMON_EPOLL);
    for (unsigned i = 0; i < G_N_ELEMENTS(kinds); i++) {
        AioFdMonKind before = aio_context_get_fdmon(l->ctx);
        GError *err = NULL;
        int count = s.count;

        if (aio_context_set_fdmon(l->ctx, kinds[i], &err)) {
            g_assert_no_error(err);
            g_assert_cmpint(aio_context_get_fdmon(l->ctx), ==, kinds[i]);
        } else {
            /* io_uring may be refused: the current monitor is kept. */
            g_assert_nonnull(err);
            g_test_message("fdmon %d refused: %s", kinds[i], err->message);
            g_assert_cmpint(aio_context_get_fdmon(l->ctx), ==, before);
            g_clear_error(&err);
        }
        /* Handlers (ours and the context's notifier) still work. */
        event_notifier_set(&s.e);
        while (s.count == count) {
            test_loop_iterate(l, true);
        }
        aio_notify(l->ctx);
        g_assert_false(test_loop_iterate(l, true));
    }
    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

/* What a read handler is told about its fd: IN, then HUP once the writer is gone. */
typedef struct {
    int fd;
    int revents; /* aio_fd_handler_revents() in the last call */
    int calls;
} RevProbe;

static void rev_probe_read(void *opaque)
{
    RevProbe *p = opaque;
    char buf[16];

    p->revents = aio_fd_handler_revents(qemu_get_current_aio_context());
    p->calls++;
    while (read(p->fd, buf, sizeof(buf)) > 0) {
    }
}

static void test_handler_revents(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    RevProbe p = {0};
    int fds[2];

    g_assert_cmpint(pipe2(fds, O_CLOEXEC | O_NONBLOCK), ==, 0);
    p.fd = fds[0];
    aio_context_set_home_thread(l->ctx); /* its current context, for the probe */
    aio_set_fd_handler(l->ctx, fds[0], rev_probe_read, NULL, NULL, NULL, &p);
    g_assert_cmpint(aio_fd_handler_revents(l->ctx), ==, 0);
    g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
    while (p.calls == 0) {
        test_loop_iterate(l, true);
    }
    g_assert_cmpint(p.revents & (G_IO_IN | G_IO_HUP), ==, G_IO_IN);
    close(fds[1]);
    while (p.calls == 1) {
        test_loop_iterate(l, true);
    }
    g_assert_cmpint(p.revents & G_IO_HUP, ==, G_IO_HUP);
    g_assert_cmpint(aio_fd_handler_revents(l->ctx), ==, 0); /* outside: none */
    aio_set_fd_handler(l->ctx, fds[0], NULL, NULL, NULL, NULL, NULL);
    test_loop_iterate(l, false);
    close(fds[0]);
    aio_context_clear_home_thread(l->ctx);
    test_loop_free(l);
}

/*
 * event_notifier_test_and_clear() reads once: that clears an eventfd's
 * whole counter; a semaphore-mode eventfd (a front-end may pass one as a
 * kick fd) gives up one unit per call, so its writer cannot keep the
 * reader in a loop.
 */
static void test_notifier_clear_once(void)
{
    EventNotifier e;
    uint64_t v = 3;
    int fd;

    g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
    g_assert_cmpint(write(e.wfd, &v, sizeof(v)), ==, sizeof(v));
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_false(event_notifier_test_and_clear(&e)); /* the counter was 3 */
    event_notifier_cleanup(&e);

    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | EFD_SEMAPHORE);
    g_assert_cmpint(fd, >=, 0);
    e = (EventNotifier){.rfd = fd, .wfd = fd, .initialized = true};
    v = 1000000;
    g_assert_cmpint(write(fd, &v, sizeof(v)), ==, sizeof(v));
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_cmpint(read(fd, &v, sizeof(v)), ==, sizeof(v)); /* more left */
    event_notifier_cleanup(&e);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_for_each_driver("notifier/add-remove", test_notifier_add_remove);
    test_add_for_each_driver("notifier/runs-once", test_notifier_runs_once);
    test_add_for_each_driver("notifier/blocking", test_notifier_blocking);
    test_add_for_each_driver("notifier/rearm-10", test_notifier_rearm);
    test_add_for_each_driver("notify", test_notify);
    test_add_for_each_driver("nested/no-reentry", test_nested_no_reentry);
    test_add_for_each_driver("handler/replace-in-callback", test_replace_in_callback);
    test_add_for_each_driver("timer/deadline", test_timer_deadline);
    test_add_for_each_driver("fdmon/switch", test_fdmon_switch);
    test_add_for_each_driver("handler/revents", test_handler_revents);
    g_test_add_func("/aio/notifier/clear-once", test_notifier_clear_once);
    return g_test_run();
}

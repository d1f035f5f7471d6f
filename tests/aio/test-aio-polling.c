/*
 * tests/aio/test-aio-polling.c - adaptive polling (aio_poll driver) and the
 * context statistics (both drivers).
 *
 * The polling window changes after each blocking aio_poll() depending on how
 * long it blocked: an event ~1 ms later with poll-max-ns at 50 ms grows the
 * window, one 100 ms later always shrinks it.  A loaded machine can blur the
 * first kind (see grow_to()), never the second; no assertion depends on the
 * machine's speed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <unistd.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "test-aio-loop.h"
#include "../../aio/aio-internal.h" /* white box: notify_me */

#define POLL_MAX_NS (50 * SCALE_MS)

typedef struct {
    AioContext *ctx;
    EventNotifier e;
    int work; /* atomic: io_poll reports it */
    int reads, poll_readies, begins, ends;
} PollState;

static void poll_read_cb(EventNotifier *e)
{
    PollState *s = container_of(e, PollState, e);

    event_notifier_test_and_clear(e);
    s->reads++;
}

static bool poll_cb(void *opaque)
{
    EventNotifier *e = opaque;
    PollState *s = container_of(e, PollState, e);

    return __atomic_load_n(&s->work, __ATOMIC_ACQUIRE) != 0;
}

static void poll_ready_cb(EventNotifier *e)
{
    PollState *s = container_of(e, PollState, e);

    __atomic_store_n(&s->work, 0, __ATOMIC_RELAXED);
    s->poll_readies++;
}

static void poll_begin_cb(EventNotifier *e)
{
    PollState *s = container_of(e, PollState, e);

    s->begins++;
    g_assert_cmpint(s->begins - s->ends, ==, 1);
}

static void poll_end_cb(EventNotifier *e)
{
    PollState *s = container_of(e, PollState, e);

    s->ends++;
    g_assert_cmpint(s->begins, ==, s->ends);
}

typedef struct {
    EventNotifier *e;
    unsigned delay_us;
} DelayedSet;

static void *delayed_set_thread(void *opaque)
{
    DelayedSet *d = opaque;

    g_usleep(d->delay_us);
    event_notifier_set(d->e);
    return NULL;
}

static int64_t window_ns(AioContext *ctx)
{
    AioContextStats st;

    aio_context_get_stats(ctx, &st);
    return st.poll_window_ns;
}

/* Block until the notifier, set by another thread @delay_us from now, runs. */
static void block_for_event(PollState *s, unsigned delay_us)
{
    DelayedSet d = {.e = &s->e, .delay_us = delay_us};
    int reads = s->reads;
    pthread_t th;

    g_assert_cmpint(pthread_create(&th, NULL, delayed_set_thread, &d), ==, 0);
    while (s->reads == reads) {
        aio_poll(s->ctx, true);
    }
    pthread_join(th, NULL);
}

static void set_params(AioContext *ctx, int64_t max, int64_t grow, int64_t shrink)
{
    GError *err = NULL;

    g_assert_true(aio_context_set_poll_params(ctx, max, grow, shrink, &err));
    g_assert_no_error(err);
    /* Consume the notify of set_poll_params without a blocking poll. */
    while (aio_poll(ctx, false)) {
    }
}

/*
 * Events ~1 ms apart until the window is @want.  Each should grow the window
 * (it blocked less than poll-max-ns), but on a loaded machine one may come
 * early (set before the loop blocked: found by polling, window unchanged) or
 * late (the thread preempted past poll-max-ns: the window shrinks by
 * @shrink), so each step must leave one of those three windows, and @want
 * must be reached within 20 events (3 are enough on a quiet machine).
 */
static void grow_to(PollState *s, int64_t want, int64_t grow, int64_t shrink)
{
    for (int i = 0; window_ns(s->ctx) != want; i++) {
        int64_t w = window_ns(s->ctx), grown, shrunk, now;

        g_assert_cmpint(i, <, 20);
        grown = MIN(w ? w * (grow ? grow : 2) : 4000, POLL_MAX_NS);
        shrunk = shrink ? w / shrink : 0;
        block_for_event(s, 1000);
        now = window_ns(s->ctx);
        if (now != grown && now != w) {
            g_assert_cmpint(now, ==, shrunk);
        }
        g_assert_cmpint(now, <=, want);
    }
}

static void test_poll_window(void)
{
    TestLoop *l = test_loop_new(DRIVER_AIO_POLL);
    PollState s = {.ctx = l->ctx};
    AioContextStats before, after;
    GError *err = NULL;
    int64_t max, grow, shrink;
    int reads;

    g_assert_cmpint(event_notifier_init(&s.e, 0), ==, 0);
    aio_set_event_notifier(l->ctx, &s.e, poll_read_cb, poll_cb, poll_ready_cb);
    aio_set_event_notifier_poll(l->ctx, &s.e, poll_begin_cb, poll_end_cb);

    g_assert_false(aio_context_set_poll_params(l->ctx, -1, 0, 0, &err));
    g_assert_error(err, AIO_ERROR, 0);
    g_clear_error(&err);

    set_params(l->ctx, POLL_MAX_NS, 0, 2);
    aio_context_get_poll_params(l->ctx, &max, &grow, &shrink);
    g_assert_cmpint(max, ==, POLL_MAX_NS);
    g_assert_cmpint(grow, ==, 0);
    g_assert_cmpint(shrink, ==, 2);
    g_assert_cmpint(window_ns(l->ctx), ==, 0);

    /* Events within poll-max-ns: 0 -> 4 us, then doubling (default grow). */
    grow_to(&s, 16000, 0, 2);
    g_assert_cmpint(s.begins, >=, 1);

    /* Work visible to io_poll: dispatched via io_poll_ready, no fd wait. */
    aio_context_get_stats(l->ctx, &before);
    reads = s.reads;
    __atomic_store_n(&s.work, 1, __ATOMIC_RELEASE);
    g_assert_true(aio_poll(l->ctx, true));
    aio_context_get_stats(l->ctx, &after);
    g_assert_cmpint(s.poll_readies, ==, 1);
    g_assert_cmpint(s.reads, ==, reads);
    g_assert_cmpuint(after.wakeups, ==, before.wakeups);
    g_assert_cmpuint(after.poll_hits, ==, before.poll_hits + 1);
    /*
     * The sweet spot: work found while polling leaves the window as it was
     * -- unless the thread was preempted inside the poll phase for longer
     * than the window (a loaded machine), then the iteration counts as a
     * late event and the window grows once.  Both are the algorithm.
     */
    if (after.poll_window_ns != 16000) {
        g_assert_cmpint(after.poll_window_ns, ==, 32000);
    }

    /* An event later than poll-max-ns: shrink by 2. */
    block_for_event(&s, 100 * 1000);
    g_assert_cmpint(window_ns(l->ctx), ==, after.poll_window_ns / 2);
    aio_context_get_stats(l->ctx, &after);
    g_assert_cmpuint(after.poll_misses, >, before.poll_misses);
    g_assert_cmpuint(after.poll_ns, >, before.poll_ns);

    /* New parameters restart the window; grow 3, shrink 0 (reset). */
    set_params(l->ctx, POLL_MAX_NS, 3, 0);
    g_assert_cmpint(window_ns(l->ctx), ==, 0);
    grow_to(&s, 4000, 3, 0);
    grow_to(&s, 12000, 3, 0);
    block_for_event(&s, 100 * 1000);
    g_assert_cmpint(window_ns(l->ctx), ==, 0);

    /* Window 0: polling ends, io_poll_end ran (checked in the callbacks). */
    block_for_event(&s, 1000);
    g_assert_cmpint(s.begins, ==, s.ends);
    g_assert_cmpint(s.begins, >=, 1);

    /* Polling disabled: the window stays 0. */
    set_params(l->ctx, 0, 0, 0);
    block_for_event(&s, 1000);
    g_assert_cmpint(window_ns(l->ctx), ==, 0);

    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

/* A BH scheduled during the poll window ends polling without an fd wait. */
typedef struct {
    AioContext *ctx;
    int ran;
    unsigned delay_us;
} CrossBH;

static void cross_bh_cb(void *opaque)
{
    CrossBH *c = opaque;

    __atomic_fetch_add(&c->ran, 1, __ATOMIC_RELAXED);
}

static void *cross_schedule_thread(void *opaque)
{
    CrossBH *c = opaque;

    for (int i = 0; i < 20; i++) {
        g_usleep(c->delay_us);
        aio_bh_schedule_oneshot(c->ctx, cross_bh_cb, c);
    }
    return NULL;
}

static void test_stats(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    CrossBH c = {.ctx = l->ctx, .delay_us = 500};
    AioContextStats s0, s1, s2;
    pthread_t th;

    aio_context_get_stats(l->ctx, &s0);
    for (int i = 0; i < 3; i++) {
        aio_bh_schedule_oneshot(l->ctx, cross_bh_cb, &c);
    }
    g_assert_true(test_loop_iterate(l, true));
    aio_context_get_stats(l->ctx, &s1);
    g_assert_cmpuint(s1.dispatches, ==, s0.dispatches + 3);
    g_assert_cmpuint(s1.iterations, >, s0.iterations);
    g_assert_cmpuint(s1.wakeup.count, ==, 0); /* same-thread schedules: no stamp */

    /* Cross-thread notifies while the loop sleeps. */
    c.ran = 0;
    g_assert_cmpint(pthread_create(&th, NULL, cross_schedule_thread, &c), ==, 0);
    while (__atomic_load_n(&c.ran, __ATOMIC_RELAXED) < 20) {
        test_loop_iterate(l, true);
    }
    pthread_join(th, NULL);
    aio_context_get_stats(l->ctx, &s2);
    g_assert_cmpuint(s2.dispatches, ==, s1.dispatches + 20);
    g_assert_cmpuint(s2.wakeups, >, s1.wakeups);
    g_assert_cmpuint(s2.wait_ns, >, s1.wait_ns);
    g_assert_cmpuint(s2.busy_ns, >, 0);
    g_assert_cmpuint(s2.wakeup.count, >, 0);
    g_assert_cmpuint(s2.wakeup.count, <=, 20);
    g_assert_cmpuint(s2.wakeup.max_ns, >, 0);
    test_loop_free(l);
}

/*
 * The wakeup latency is notify -> dispatch, for notifies that wake a
 * sleeping loop: it is recorded when the loop wakes up, before the
 * callbacks run, so a slow callback does not count as wakeup latency (the
 * BH sees its own wakeup recorded already).
 */
typedef struct {
    AioContext *ctx;
    int ran;              /* atomic */
    uint64_t count_in_cb; /* wakeup.count when the BH ran */
} LatencyProbe;

static void latency_probe_cb(void *opaque)
{
    LatencyProbe *p = opaque;
    AioContextStats st;

    aio_context_get_stats(p->ctx, &st);
    p->count_in_cb = st.wakeup.count;
    __atomic_store_n(&p->ran, 1, __ATOMIC_RELAXED);
}

static void *latency_probe_thread(void *opaque)
{
    LatencyProbe *p = opaque;

    /*
     * Only the wakeup of a sleeping loop is stamped: wait until the loop
     * announced its sleep (white box: notify_me, see docs/aio.md).
     */
    while (!__atomic_load_n(&p->ctx->notify_me, __ATOMIC_SEQ_CST)) {
        g_usleep(100);
    }
    aio_bh_schedule_oneshot(p->ctx, latency_probe_cb, p);
    return NULL;
}

static void test_stats_wakeup_before_dispatch(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data));
    LatencyProbe p = {.ctx = l->ctx};
    AioContextStats st;
    pthread_t th;

    g_assert_cmpint(pthread_create(&th, NULL, latency_probe_thread, &p), ==, 0);
    while (!__atomic_load_n(&p.ran, __ATOMIC_RELAXED)) {
        test_loop_iterate(l, true);
    }
    pthread_join(th, NULL);
    g_assert_cmpuint(p.count_in_cb, ==, 1);
    aio_context_get_stats(l->ctx, &st);
    g_assert_cmpuint(st.wakeup.count, ==, 1);
    test_loop_free(l);
}

/*
 * Poll mode lasts while the loop is busy: iterations that do not sleep (a
 * BH chain here) neither end poll mode (io_poll_end turns a device's
 * notifications back on: a polled virtqueue would be kicked for every
 * request) nor make the fd monitor's system call.
 */
typedef struct {
    AioContext *ctx;
    int left; /* BHs still to schedule */
    int ran;
} BHChain;

static void chain_bh_cb(void *opaque)
{
    BHChain *c = opaque;

    c->ran++;
    if (--c->left > 0) {
        aio_bh_schedule_oneshot(c->ctx, chain_bh_cb, c);
    }
}

static BHChain chain;

static void chain_poll_ready_cb(EventNotifier *e)
{
    poll_ready_cb(e);
    chain.left = 50;
    aio_bh_schedule_oneshot(chain.ctx, chain_bh_cb, &chain);
}

static void test_poll_mode_kept_while_busy(void)
{
    TestLoop *l = test_loop_new(DRIVER_AIO_POLL);
    PollState s = {.ctx = l->ctx};
    AioContextStats before, after;

    chain = (BHChain){.ctx = l->ctx};
    g_assert_cmpint(event_notifier_init(&s.e, 0), ==, 0);
    aio_set_event_notifier(l->ctx, &s.e, poll_read_cb, poll_cb, chain_poll_ready_cb);
    aio_set_event_notifier_poll(l->ctx, &s.e, poll_begin_cb, poll_end_cb);
    set_params(l->ctx, POLL_MAX_NS, 0, 0);
    block_for_event(&s, 1000); /* the window grows from 0 */
    g_assert_cmpint(window_ns(l->ctx), >, 0);
    g_assert_cmpint(s.begins, ==, s.ends);

    /* Work found by polling, then 50 iterations with a BH pending. */
    __atomic_store_n(&s.work, 1, __ATOMIC_RELEASE);
    g_assert_true(aio_poll(l->ctx, true));
    g_assert_cmpint(s.poll_readies, ==, 1);
    g_assert_cmpint(s.begins, ==, s.ends + 1);
    aio_context_get_stats(l->ctx, &before);
    while (chain.ran < 50) {
        g_assert_true(aio_poll(l->ctx, true));
        g_assert_cmpint(s.begins, ==, s.ends + 1); /* still in poll mode */
    }
    aio_context_get_stats(l->ctx, &after);
    g_assert_cmpuint(after.wakeups, ==, before.wakeups); /* never slept */

    /* Going to sleep ends poll mode first. */
    block_for_event(&s, 1000);
    g_assert_cmpint(s.begins, ==, s.ends);

    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

/*
 * An fd handler without io_poll (a socket) still runs while a polled
 * handler finds work at every iteration: busy iterations skip the fd
 * monitor, but not for long.
 */
static void count_poll_ready_cb(EventNotifier *e)
{
    PollState *s = container_of(e, PollState, e);

    s->poll_readies++;
}

static int fd_runs;

static void counting_read_cb(EventNotifier *e)
{
    event_notifier_test_and_clear(e);
    fd_runs++;
}

static void test_fd_handler_not_starved(void)
{
    TestLoop *l = test_loop_new(DRIVER_AIO_POLL);
    PollState s = {.ctx = l->ctx};
    EventNotifier fdonly;
    int64_t deadline;

    g_assert_cmpint(event_notifier_init(&s.e, 0), ==, 0);
    g_assert_cmpint(event_notifier_init(&fdonly, 0), ==, 0);
    aio_set_event_notifier(l->ctx, &s.e, poll_read_cb, poll_cb, count_poll_ready_cb);
    set_params(l->ctx, POLL_MAX_NS, 0, 0);
    block_for_event(&s, 1000); /* the window grows from 0 */
    g_assert_cmpint(window_ns(l->ctx), >, 0);
    /* From now on io_poll finds work at every call. */
    __atomic_store_n(&s.work, 1, __ATOMIC_RELEASE);
    aio_set_event_notifier(l->ctx, &fdonly, counting_read_cb, NULL, NULL);

    fd_runs = 0;
    event_notifier_set(&fdonly);
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (fd_runs == 0 && g_get_monotonic_time() < deadline) {
        aio_poll(l->ctx, true);
    }
    g_assert_cmpint(fd_runs, ==, 1);
    g_assert_cmpint(s.poll_readies, >, 0); /* polling found work meanwhile */

    aio_set_event_notifier(l->ctx, &fdonly, NULL, NULL, NULL);
    aio_set_event_notifier(l->ctx, &s.e, NULL, NULL, NULL);
    event_notifier_cleanup(&fdonly);
    event_notifier_cleanup(&s.e);
    test_loop_free(l);
}

/*
 * Each handler has its own window: a virtqueue whose requests come soon
 * keeps the context polling although the disk behind it answers later
 * than poll-max-ns (that handler's window alone shrinks).
 */
static void test_poll_window_per_handler(void)
{
    TestLoop *l = test_loop_new(DRIVER_AIO_POLL);
    PollState soon = {.ctx = l->ctx}, late = {.ctx = l->ctx};
    int64_t w;

    g_assert_cmpint(event_notifier_init(&soon.e, 0), ==, 0);
    g_assert_cmpint(event_notifier_init(&late.e, 0), ==, 0);
    aio_set_event_notifier(l->ctx, &soon.e, poll_read_cb, poll_cb, poll_ready_cb);
    aio_set_event_notifier(l->ctx, &late.e, poll_read_cb, poll_cb, poll_ready_cb);
    set_params(l->ctx, POLL_MAX_NS, 0, 0); /* shrink 0: a late event resets */
    block_for_event(&soon, 1000);
    block_for_event(&soon, 1000);
    w = window_ns(l->ctx);
    g_assert_cmpint(w, ==, 8000);
    for (int i = 0; i < 2; i++) {
        block_for_event(&late, 100 * 1000); /* later than poll-max-ns */
        g_assert_cmpint(window_ns(l->ctx), ==, w);
        block_for_event(&soon, 1000);
        w = MIN(w * 2, POLL_MAX_NS);
        g_assert_cmpint(window_ns(l->ctx), ==, w);
    }
    /* Without the patient handler, the context's window is the other's: 0. */
    aio_set_event_notifier(l->ctx, &soon.e, NULL, NULL, NULL);
    block_for_event(&late, 1000);
    g_assert_cmpint(window_ns(l->ctx), ==, 4000);

    aio_set_event_notifier(l->ctx, &late.e, NULL, NULL, NULL);
    event_notifier_cleanup(&soon.e);
    event_notifier_cleanup(&late.e);
    test_loop_free(l);
}

/* A polled queue that always has work, as a ring a guest keeps full. */
static bool always_work_poll(void *opaque)
{
    return true;
}

static void always_work_ready(void *opaque)
{
    (*(unsigned *)opaque)++;
}

static void count_read(void *opaque)
{
    int *fds = opaque;
    char c;

    g_assert_cmpint(read(fds[0], &c, 1), ==, 1);
    fds[2]++;
}

/*
 * While an io_poll handler finds work at every iteration, a plain fd
 * handler (a host socket) still runs: polling skips the fd wait only for a
 * bounded time.  Before, the fd was never looked at while the queue stayed
 * busy.  Bounded by iterations, not time: at most 100 us pass between two
 * fd checks, and each iteration here takes well under that, so the bound
 * only matters if the fd is starved.
 */
static void test_poll_fd_fairness(void)
{
    TestLoop *l = test_loop_new(DRIVER_AIO_POLL);
    int fds[3] = {-1, -1, 0}; /* pipe, then the reads counted */
    int pfd[2];
    unsigned polled = 0;

    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_cmpint(pipe(pfd), ==, 0);
    set_params(l->ctx, POLL_MAX_NS, 0, 0);
    aio_set_fd_handler(l->ctx, pfd[0], NULL, NULL, always_work_poll, always_work_ready,
                       &polled);
    aio_set_fd_handler(l->ctx, fds[0], count_read, NULL, NULL, NULL, fds);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
        for (guint64 n = 0; fds[2] == i; n++) {
            g_assert_cmpuint(n, <, 50 * 1000 * 1000); /* starved */
            aio_poll(l->ctx, true);
        }
    }
    g_assert_cmpuint(polled, >, 0);
    aio_set_fd_handler(l->ctx, pfd[0], NULL, NULL, NULL, NULL, NULL);
    aio_set_fd_handler(l->ctx, fds[0], NULL, NULL, NULL, NULL, NULL);
    for (int i = 0; i < 2; i++) {
        close(fds[i]);
        close(pfd[i]);
    }
    test_loop_free(l);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/aio/aio-poll/polling/window", test_poll_window);
    g_test_add_func("/aio/aio-poll/polling/window-per-handler",
                    test_poll_window_per_handler);
    g_test_add_func("/aio/aio-poll/polling/kept-while-busy",
                    test_poll_mode_kept_while_busy);
    g_test_add_func("/aio/aio-poll/polling/fd-not-starved",
                    test_fd_handler_not_starved);
    g_test_add_func("/aio/aio-poll/polling/fd-fairness", test_poll_fd_fairness);
    test_add_for_each_driver("stats", test_stats);
    test_add_for_each_driver("stats-wakeup-before-dispatch",
                             test_stats_wakeup_before_dispatch);
    return g_test_run();
}

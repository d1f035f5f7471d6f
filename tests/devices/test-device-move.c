/*
 * tests/devices/test-device-move.c - moves of whole devices and of single
 * queues while requests run: nothing lost, doubled or completed twice,
 * every callback on its queue's thread, the fewest thread hops, tracked
 * timers and BHs carried along, the "moved" signal after done.
 *
 * ctx0 is a glib-qcontext, ctx1 and ctx2 aio-qcontexts (when available),
 * each on its own thread; the test's thread runs "main".
 *
 * SPDX-License-Identifier: MIT
 */
#include "device-test-util.h"

#define N_MOVES 1000
#define N_QUEUES 4

static QContext *ctx0, *ctx1, *ctx2;

/* Every "moved" signal, checked against what was asked. */
typedef struct {
    guint count;
    int queue;
    QContext *from, *to;
    gboolean done_first; /* the move's done ran before the signal */
    OpResult *pending;   /* the move being waited for */
} MovedLog;

static void on_moved(Device *dev, int queue, QContext *from, QContext *to,
                     gpointer opaque)
{
    MovedLog *log = opaque;

    g_assert_cmpint(dt_gettid(), ==, getpid());
    log->count++;
    log->queue = queue;
    log->from = from;
    log->to = to;
    log->done_first = log->pending && log->pending->done;
}

static QContext *queue_ctx(Device *dev, int queue)
{
    DeviceQueue *q = queue < 0 ? device_get_control(dev) : device_get_queue(dev, queue);
    QContext *ctx = device_queue_get_context(q);

    g_object_unref(ctx); /* the device keeps it */
    return ctx;
}

/* Wait until every plane of @m made progress after its latest attach. */
static void wait_all_settled(TestMover *m)
{
    for (int q = -1; q < (int)device_get_num_queues(DEVICE(m)); q++) {
        dt_wait_settled(m, q, test_mover_attach_count(m, q));
    }
}

static void expect_plane(TestMover *m, int queue, QContext *target)
{
    test_mover_set_expect_tid(m, queue, dt_context_tid(target));
}

/*
 * 4 queues over 3 contexts (and the control plane), 1000 moves: a quarter
 * of the whole device, the rest of single queues, to random contexts
 * including main, while requests flow on every queue and BHs are poked.
 */
static void test_move_stress(void)
{
    QContext *all[] = {qcontext_get_main(), ctx0, ctx1, ctx2};
    Device *dev = dt_new_device("test-mover,id=mq,context=ctx0,num-queues=4,"
                                "queue-contexts=ctx0:ctx1:ctx2");
    TestMover *m = TEST_MOVER(dev);
    MovedLog log = {0};
    guint expected_moves = 0, expected_attach[N_QUEUES + 1];
    GRand *rand = g_rand_new_with_seed(g_test_rand_int());
    DeviceStats st;
    guint n;

    g_signal_connect(dev, "moved", G_CALLBACK(on_moved), &log);
    g_assert_true(queue_ctx(dev, 3) == ctx0);
    for (int q = -1; q < N_QUEUES; q++) {
        expected_attach[q + 1] = 1;
    }
    wait_all_settled(m);
    for (int i = 0; i < N_MOVES; i++) {
        QContext *target = all[g_rand_int_range(rand, 0, 4)];
        int queue = g_rand_int_range(rand, 0, N_QUEUES);
        gboolean whole = i % 4 == 0;
        gboolean any = FALSE;
        OpResult r = {0};
        g_autoptr(GError) err = NULL;

        for (int q = whole ? -1 : queue; q < (whole ? N_QUEUES : queue + 1); q++) {
            if (queue_ctx(dev, q) != target) {
                any = TRUE;
                expected_attach[q + 1]++;
                expect_plane(m, q, target);
            }
        }
        for (int q = 0; q < N_QUEUES; q++) {
            test_mover_submit(m, q, 1);
            test_mover_poke(m, q);
        }
        log.pending = &r;
        g_assert_true(
            whole ? device_set_context(dev, target, dt_op_done, &r, &err)
                  : device_queue_set_context(dev, queue, target, dt_op_done, &r, &err));
        dt_wait_ok(&r);
        expected_moves += any;
        g_assert_cmpuint(log.count, ==, expected_moves);
        if (any) {
            g_assert_true(log.done_first);
            g_assert_cmpint(log.queue, ==, whole ? -1 : queue);
            g_assert_true(log.to == target);
        }
        for (int q = whole ? -1 : queue; q < (whole ? N_QUEUES : queue + 1); q++) {
            g_assert_true(queue_ctx(dev, q) == target);
        }
        g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_RUNNING);
        /* Every plane goes on, on its (new) thread (checked by the device). */
        wait_all_settled(m);
    }
    for (int q = 0; q < N_QUEUES; q++) {
        while (test_mover_taken(m, q) < test_mover_submitted(m, q) ||
               test_mover_poked(m, q) < N_MOVES) {
            dt_poll_main();
        }
    }
    dt_sync_op(device_quiesce, dev);
    n = test_mover_check_all_done(m);
    device_get_stats(dev, &st);
    g_test_message("%u requests over %d moves (%u moved something), %" G_GUINT64_FORMAT
                   " hops",
                   n, N_MOVES, expected_moves, st.hops);
    g_assert_cmpuint(n, >=, 2u * N_MOVES);
    g_assert_cmpuint(st.started, ==, n);
    g_assert_cmpuint(st.completed, ==, n);
    g_assert_cmpuint(st.failed, ==, 0);
    g_assert_cmpuint(st.moves, ==, expected_moves);
    for (int q = -1; q < N_QUEUES; q++) {
        g_assert_cmpuint(test_mover_attach_count(m, q), ==, expected_attach[q + 1]);
    }
    g_rand_free(rand);
    dt_del_device(dev, -1);
}

/* A queue move: main -> old (quiesce, detach) -> new (attach, resume) -> main. */
static void test_move_hops(void)
{
    Device *dev = dt_new_device("test-mover,id=hops,context=ctx0,num-queues=2");
    TestMover *m = TEST_MOVER(dev);
    MovedLog log = {0};
    DeviceStats before, after;
    TestMoverHookTids t;
    OpResult r = {0};
    g_autoptr(GError) err = NULL;

    g_signal_connect(dev, "moved", G_CALLBACK(on_moved), &log);
    wait_all_settled(m);
    device_get_stats(dev, &before);
    expect_plane(m, 1, ctx1);
    log.pending = &r;
    g_assert_true(device_queue_set_context(dev, 1, ctx1, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    device_get_stats(dev, &after);
    g_assert_cmpuint(after.hops - before.hops, ==, 3);
    t = test_mover_hook_tids(m, 1);
    g_assert_cmpint(t.quiesce, ==, dt_context_tid(ctx0));
    g_assert_cmpint(t.detach, ==, dt_context_tid(ctx0));
    g_assert_cmpint(t.attach, ==, dt_context_tid(ctx1));
    g_assert_cmpint(t.resume, ==, dt_context_tid(ctx1));
    g_assert_cmpuint(log.count, ==, 1);
    g_assert_true(log.done_first);
    g_assert_cmpint(log.queue, ==, 1);
    g_assert_true(log.from == ctx0 && log.to == ctx1);
    g_assert_true(queue_ctx(dev, 0) == ctx0);
    g_assert_true(device_get_context(dev) == ctx0);

    /* From main: main -> main is no hop; main -> new -> main. */
    memset(&r, 0, sizeof(r));
    expect_plane(m, 1, qcontext_get_main());
    g_assert_true(
        device_queue_set_context(dev, 1, qcontext_get_main(), dt_op_done, &r, &err));
    dt_wait_ok(&r);
    device_get_stats(dev, &before);
    memset(&r, 0, sizeof(r));
    expect_plane(m, 1, ctx2);
    g_assert_true(device_queue_set_context(dev, 1, ctx2, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    device_get_stats(dev, &after);
    g_assert_cmpuint(after.hops - before.hops, ==, 2);

    /* The whole device (3 planes, 2 on ctx0, 1 on ctx2) to ctx1: each plane
     * hops old -> new in parallel; one join back to main. */
    wait_all_settled(m);
    device_get_stats(dev, &before);
    memset(&r, 0, sizeof(r));
    for (int q = -1; q < 2; q++) {
        expect_plane(m, q, ctx1);
    }
    g_assert_true(device_set_context(dev, ctx1, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    device_get_stats(dev, &after);
    g_assert_cmpuint(after.hops - before.hops, ==, 3 + 3 + 1);
    g_assert_true(device_get_context(dev) == ctx1);
    g_assert_cmpint(log.queue, ==, -1);
    g_assert_true(log.from == ctx0 && log.to == ctx1);

    /* Moving to where it is: done at once, no signal, no hop but home. */
    memset(&r, 0, sizeof(r));
    log.count = 0;
    g_assert_true(device_set_context(dev, ctx1, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    g_assert_cmpuint(log.count, ==, 0);
    dt_del_device(dev, -1);
}

/* Armed timers and scheduled BHs move with their plane. */
static void test_move_carries_sources(void)
{
    Device *dev = dt_new_device("test-mover,id=carry,context=ctx1,queue-contexts=ctx1");
    TestMover *m = TEST_MOVER(dev);
    OpResult r = {0};
    g_autoptr(GError) err = NULL;
    guint poke;

    /* A BH scheduled while the device moves runs on whichever context its
     * queue is on by then (the device checks the thread), never lost. */
    g_assert_true(device_queue_stop(dev, 0, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    for (int i = 0; i < 20; i++) {
        QContext *target = i % 2 ? ctx1 : ctx2;
        memset(&r, 0, sizeof(r));
        expect_plane(m, 0, target);
        expect_plane(m, -1, target);
        g_assert_true(device_set_context(dev, target, dt_op_done, &r, &err));
        poke = test_mover_poke(m, 0); /* while it moves, from main */
        dt_wait_ok(&r);
        while (test_mover_poked(m, 0) < poke) {
            dt_poll_main();
        }
        /* The heartbeat of the control plane stayed armed: it beats on. */
        dt_wait_settled(m, -1, test_mover_attach_count(m, -1));
        g_assert_cmpint(device_queue_get_state(device_get_queue(dev, 0)), ==,
                        DEVICE_QUEUE_STOPPED);
    }
    dt_del_device(dev, -1);
}

/* Poke BHs from another thread while queues move all the time. */
typedef struct {
    TestMover *m;
    int stop; /* atomic */
    guint last[N_QUEUES];
} Poker;

static void *poker_thread(void *opaque)
{
    Poker *pk = opaque;

    while (!__atomic_load_n(&pk->stop, __ATOMIC_SEQ_CST)) {
        for (int q = 0; q < N_QUEUES; q++) {
            pk->last[q] = test_mover_poke(pk->m, q);
            test_mover_submit(pk->m, q, 1);
        }
        g_usleep(50);
    }
    return NULL;
}

static void test_move_cross_thread_bh(void)
{
    Device *dev = dt_new_device("test-mover,id=poked,num-queues=4,"
                                "queue-contexts=ctx0:ctx1:ctx2:main");
    TestMover *m = TEST_MOVER(dev);
    QContext *all[] = {ctx0, ctx1, ctx2, qcontext_get_main()};
    Poker pk = {.m = m};
    pthread_t thread;

    pthread_create(&thread, NULL, poker_thread, &pk);
    for (int i = 0; i < 100; i++) {
        OpResult r = {0};
        g_autoptr(GError) err = NULL;
        g_assert_true(device_queue_set_context(dev, i % N_QUEUES, all[(i / 4 + i) % 4],
                                               dt_op_done, &r, &err));
        dt_wait_ok(&r);
    }
    __atomic_store_n(&pk.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(thread, NULL);
    for (int q = 0; q < N_QUEUES; q++) {
        while (test_mover_poked(m, q) < pk.last[q] ||
               test_mover_taken(m, q) < test_mover_submitted(m, q)) {
            dt_poll_main();
        }
    }
    dt_sync_op(device_quiesce, dev);
    test_mover_check_all_done(m);
    dt_del_device(dev, -1);
}

/* The ticker with 4 queues over 3 contexts: moves under load, counts add up. */
static void test_ticker_multiqueue(void)
{
    Device *dev =
        dt_new_device("ticker,id=tk,num-queues=4,queue-contexts=ctx0:ctx1:ctx2,"
                      "interval-us=100,latency-us=300");
    QContext *all[] = {qcontext_get_main(), ctx0, ctx1, ctx2};
    g_autofree char *placement = NULL;
    DeviceStats st;

    g_object_get(dev, "queue-contexts", &placement, NULL);
    g_assert_cmpstr(placement, ==, "ctx0:ctx1:ctx2:ctx0");
    for (int i = 0; i < 200; i++) {
        OpResult r = {0};
        g_autoptr(GError) err = NULL;
        QContext *target = all[i % 4];
        g_assert_true(i % 5 == 0
                          ? device_set_context(dev, target, dt_op_done, &r, &err)
                          : device_queue_set_context(dev, i % 4, all[(i / 4) % 4],
                                                     dt_op_done, &r, &err));
        dt_wait_ok(&r);
    }
    dt_sync_op(device_quiesce, dev);
    device_get_stats(dev, &st);
    g_assert_cmpuint(st.started, >, 0);
    g_assert_cmpuint(st.completed, ==, st.started);
    g_assert_cmpuint(st.in_flight, ==, 0);
    g_assert_cmpuint(st.failed, ==, 0);
    dt_del_device(dev, -1);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(NULL)); /* this thread is main's */
    devices_register_types();
    ctx0 = dt_new_context("glib-qcontext", "ctx0");
    ctx1 = dt_new_aio_context("ctx1");
    ctx2 = dt_new_aio_context("ctx2");

    g_test_add_func("/devices/move/stress", test_move_stress);
    g_test_add_func("/devices/move/hops", test_move_hops);
    g_test_add_func("/devices/move/carries-sources", test_move_carries_sources);
    g_test_add_func("/devices/move/cross-thread-bh", test_move_cross_thread_bh);
    g_test_add_func("/devices/move/ticker-multiqueue", test_ticker_multiqueue);
    ret = g_test_run();

    dt_wait_no_devices();
    qom_container_del_all(QOM_CONTAINER_OBJECTS);
    return ret;
}

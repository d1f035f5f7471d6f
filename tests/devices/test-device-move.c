/*
 * tests/devices/test-device-move.c - the device model: realize, quiesce,
 * resume, moves between contexts under load, the deletion veto.
 *
 * The test's main thread runs the "main" context; ctx0 (glib-qcontext) and
 * ctx1 (aio-qcontext when available) have threads of their own.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-mover.h"

#define N_MOVES 1000

static QContext *ctx0, *ctx1;
static guint moved_events;

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static QContext *new_context(const char *type, const char *id)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = g_strdup_printf("%s,id=%s,threaded=yes", type, id);
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE, spec, &err);

    g_assert_no_error(err);
    return QCONTEXT_CONTEXT(obj);
}

static int context_tid(QContext *ctx)
{
    return ctx == qcontext_get_main() ? getpid() : qcontext_get_thread_id(ctx);
}

static Device *new_device(const char *spec)
{
    g_autoptr(GError) err = NULL;
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE, spec, &err);

    g_assert_no_error(err);
    return DEVICE(obj);
}

static void del_device(const char *id)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(qom_container_del(QOM_CONTAINER_DEVICES, id, &err));
    g_assert_no_error(err);
}

static void iterate_main(void)
{
    qcontext_iterate(qcontext_get_main(), TRUE);
}

/* For conditions that change on other threads without waking main. */
static void poll_main(void)
{
    qcontext_iterate(qcontext_get_main(), FALSE);
    g_usleep(500);
}

/* The outcome of one asynchronous operation. */
typedef struct {
    gboolean done;
    GError *err;
    int seq; /* order of completion among several */
} OpResult;

static int op_seq;

static void op_done(Device *dev, const GError *err, gpointer opaque)
{
    OpResult *r = opaque;

    g_assert_true(qcontext_in_thread(qcontext_get_main()));
    g_assert_false(r->done);
    r->done = TRUE;
    r->err = err ? g_error_copy(err) : NULL;
    r->seq = ++op_seq;
}

static void wait_op(OpResult *r)
{
    while (!r->done) {
        iterate_main();
    }
}

static void wait_settled(TestMover *m, guint gen)
{
    while (test_mover_settled_gen(m) < gen) {
        iterate_main();
    }
}

static void quiesce_sync(Device *dev)
{
    OpResult r = {0};

    device_quiesce(dev, op_done, &r);
    wait_op(&r);
    g_assert_no_error(r.err);
}

static void on_device_event(Device *dev, DeviceEvent event, QContext *from,
                            QContext *to, gpointer opaque)
{
    if (event == DEVICE_EVENT_MOVED) {
        g_assert_true(from != to);
        g_assert_true(device_get_context(dev) == to);
        moved_events++;
    }
}

static gboolean task_exists(int tid)
{
    g_autofree char *path = g_strdup_printf("/proc/self/task/%d", tid);
    struct stat st;

    return stat(path, &st) == 0;
}

/*
 * A joined thread leaves /proc a moment after pthread_join() returns (the
 * kernel releases the task after clearing its tid): wait for it, up to 2 s.
 */
static gboolean task_gone(int tid)
{
    for (int i = 0; i < 400 && task_exists(tid); i++) {
        g_usleep(5000);
    }
    return !task_exists(tid);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * 1000 moves while requests flow, back and forth over every pair:
 * ctx0 -> ctx1 -> main -> ctx1 -> ctx0 -> main -> ctx0 ... (all six
 * directed moves between ctx0, ctx1 and main, in each cycle).
 */
static void test_move_stress(void)
{
    QContext *main_ctx = qcontext_get_main();
    QContext *order[] = {ctx1, main_ctx, ctx1, ctx0, main_ctx, ctx0};
    Device *dev = new_device("test-mover,id=mv0,context=ctx0");
    TestMover *m = TEST_MOVER(dev);
    DeviceStats st;
    guint n;

    moved_events = 0;
    wait_settled(m, 1);
    for (int i = 0; i < N_MOVES; i++) {
        QContext *target = order[i % G_N_ELEMENTS(order)];
        OpResult r = {0};
        g_autoptr(GError) err = NULL;

        test_mover_set_expect_tid(m, context_tid(target));
        test_mover_submit(m, 2);
        g_assert_true(device_set_context(dev, target, op_done, &r, &err));
        wait_op(&r);
        g_assert_no_error(r.err);
        g_assert_true(device_get_context(dev) == target);
        g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_RUNNING);
        /* Callbacks now run on the new thread (checked by the device). */
        wait_settled(m, (guint)i + 2);
    }
    while (test_mover_taken(m) < test_mover_submitted(m)) {
        poll_main();
    }
    quiesce_sync(dev);
    n = test_mover_check_all_done(m);
    device_get_stats(dev, &st);
    g_test_message("%u requests over %d moves", n, N_MOVES);
    g_assert_cmpuint(n, >=, 2u * N_MOVES);
    g_assert_cmpuint(st.started, ==, n);
    g_assert_cmpuint(st.completed, ==, n);
    g_assert_cmpuint(st.failed, ==, 0);
    g_assert_cmpuint(st.moves, ==, N_MOVES);
    g_assert_cmpuint(moved_events, ==, N_MOVES);
    g_assert_cmpuint(test_mover_attach_count(m), ==, N_MOVES + 1);
    del_device("mv0");
}

/* Quiesce stops intake (queued requests wait), resume picks them up. */
static void test_quiesce_resume(void)
{
    Device *dev = new_device("test-mover,id=mv1,context=ctx0");
    TestMover *m = TEST_MOVER(dev);
    OpResult r = {0}, again = {0};
    guint taken;

    wait_settled(m, 1);
    quiesce_sync(dev);
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_QUIESCED);
    test_mover_check_all_done(m);
    taken = test_mover_taken(m);
    test_mover_submit(m, 5);

    /* Quiescing again succeeds at once; resuming a quiesced device works,
     * resuming a running one fails. */
    quiesce_sync(dev);
    g_assert_cmpuint(test_mover_taken(m), ==, taken);
    test_mover_set_expect_tid(m, context_tid(ctx1));
    device_resume(dev, ctx1, op_done, &r);
    device_resume(dev, NULL, op_done, &again);
    wait_op(&again);
    g_assert_no_error(r.err);
    g_assert_true(device_get_context(dev) == ctx1);
    g_assert_error(again.err, QOM_ERROR, QOM_ERROR_FAILED);
    g_assert_nonnull(strstr(again.err->message, "is not quiesced"));
    g_assert_cmpint(r.seq, <, again.seq);
    g_clear_error(&again.err);
    while (test_mover_taken(m) < taken + 5) {
        poll_main();
    }
    wait_settled(m, 2);
    quiesce_sync(dev);
    test_mover_check_all_done(m);
    del_device("mv1");
}

/* Operations queue up and complete in order; a busy device is not deleted. */
static void test_queued_ops(void)
{
    Device *dev = new_device("test-mover,id=mv2,context=ctx1");
    TestMover *m = TEST_MOVER(dev);
    OpResult a = {0}, b = {0}, c = {0};
    g_autoptr(GError) err = NULL;

    test_mover_set_expect_tid(m, 0);
    g_assert_true(device_set_context(dev, ctx0, op_done, &a, &err));
    g_assert_true(device_set_context(dev, qcontext_get_main(), op_done, &b, &err));
    device_quiesce(dev, op_done, &c);
    g_assert_true(device_is_busy(dev));
    g_assert_false(qom_container_del(QOM_CONTAINER_DEVICES, "mv2", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_clear_error(&err);
    wait_op(&c);
    g_assert_true(a.seq < b.seq && b.seq < c.seq);
    g_assert_no_error(a.err);
    g_assert_no_error(b.err);
    g_assert_true(device_get_context(dev) == qcontext_get_main());
    g_assert_false(device_is_busy(dev));
    test_mover_check_all_done(m);

    /* A move of a quiesced device leaves it quiesced. */
    memset(&a, 0, sizeof(a));
    g_assert_true(device_set_context(dev, ctx0, op_done, &a, &err));
    wait_op(&a);
    g_assert_no_error(a.err);
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_QUIESCED);
    g_assert_true(device_get_context(dev) == ctx0);

    /* Moving to where it is: done at once, no event. */
    memset(&a, 0, sizeof(a));
    moved_events = 0;
    g_assert_true(device_set_context(dev, ctx0, op_done, &a, &err));
    wait_op(&a);
    g_assert_cmpuint(moved_events, ==, 0);

    g_assert_false(device_set_context(dev, NULL, op_done, &a, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_NOT_FOUND);
    del_device("mv2");
}

/* object-del of a context in use is refused; of an unused one, it works. */
static void test_del_veto(void)
{
    QContext *ctx2 = new_context("glib-qcontext", "ctx2");
    int tid = qcontext_get_thread_id(ctx2);
    Device *dev;
    OpResult r = {0};
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(tid, >, 0);
    g_assert_true(task_exists(tid));
    dev = new_device("test-mover,id=dev2,context=ctx2");
    g_assert_false(qom_container_del(QOM_CONTAINER_OBJECTS, "ctx2", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_assert_cmpstr(err->message, ==, "context 'ctx2' is in use by device 'dev2'");
    g_clear_error(&err);
    g_assert_true(qcontext_is_running(ctx2));

    g_assert_false(qom_container_del(QOM_CONTAINER_OBJECTS, "main", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_clear_error(&err);

    /* While the device moves to ctx2 the target counts as used too. */
    g_assert_true(device_set_context(dev, ctx0, op_done, &r, &err));
    wait_op(&r);
    g_assert_no_error(r.err);
    memset(&r, 0, sizeof(r));
    g_assert_true(device_set_context(dev, ctx2, op_done, &r, &err));
    g_assert_false(qom_container_del(QOM_CONTAINER_OBJECTS, "ctx2", &err));
    g_clear_error(&err);
    wait_op(&r);
    memset(&r, 0, sizeof(r));
    g_assert_true(device_set_context(dev, ctx0, op_done, &r, &err));
    wait_op(&r);

    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "ctx2", &err));
    g_assert_no_error(err);
    g_assert_true(task_gone(tid));
    g_assert_null(qcontext_find_by_name("ctx2"));
    del_device("dev2");
}

/* Realize failures leave nothing behind. */
static void test_realize_errors(void)
{
    g_autoptr(GError) err = NULL;
    QomObject *obj;

    obj = qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE,
                                     "test-mover,id=bad,fail-realize=on", &err);
    g_assert_null(obj);
    g_assert_error(err, QOM_ERROR, QOM_ERROR_FAILED);
    g_assert_cmpstr(err->message, ==, "test-mover: realize failed as asked");
    g_assert_null(qom_container_find(QOM_CONTAINER_DEVICES, "bad"));
    g_clear_error(&err);

    obj = qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE,
                                     "test-mover,id=bad,context=nosuch", &err);
    g_assert_null(obj);
    g_assert_nonnull(err);
    g_test_message("unknown context: %s", err->message);
    g_clear_error(&err);

    obj = qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE,
                                     "glib-qcontext,id=bad", &err);
    g_assert_null(obj);
    g_assert_error(err, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE);
    g_clear_error(&err);

    /* The default context is main. */
    obj = QOM_OBJECT(new_device("test-mover,id=dflt"));
    g_assert_true(device_get_context(DEVICE(obj)) == qcontext_get_main());
    wait_settled(TEST_MOVER(obj), 1);
    del_device("dflt");
}

/* Deleting a running device fails its in-flight requests, never loses them. */
static void test_delete_running(void)
{
    Device *dev = new_device("test-mover,id=mv3,context=ctx1,latency-us=1000000");
    TestMover *m = TEST_MOVER(dev);
    DeviceStats st;

    g_object_ref(dev);
    test_mover_submit(m, 4);
    while (test_mover_taken(m) < 4) {
        poll_main();
    }
    del_device("mv3");
    device_get_stats(dev, &st);
    g_assert_false(device_is_realized(dev));
    g_assert_cmpuint(st.in_flight, ==, 0);
    g_assert_cmpuint(st.started, ==, st.completed + st.failed);
    g_assert_cmpuint(st.failed, >=, 1); /* the even ones wait a second */
    g_object_unref(dev);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(NULL)); /* this thread is main's */
    devices_register_types();
    test_mover_register();
    device_set_event_hook(on_device_event, NULL);
    ctx0 = new_context("glib-qcontext", "ctx0");
    ctx1 = new_context(
        qom_type_lookup("aio-qcontext") ? "aio-qcontext" : "glib-qcontext", "ctx1");

    g_test_add_func("/devices/move/stress", test_move_stress);
    g_test_add_func("/devices/move/quiesce-resume", test_quiesce_resume);
    g_test_add_func("/devices/move/queued-ops", test_queued_ops);
    g_test_add_func("/devices/del-veto", test_del_veto);
    g_test_add_func("/devices/realize-errors", test_realize_errors);
    g_test_add_func("/devices/delete-running", test_delete_running);
    int ret = g_test_run();

    qom_container_del_all(QOM_CONTAINER_DEVICES);
    qom_container_del_all(QOM_CONTAINER_OBJECTS);
    return ret;
}

/*
 * tests/devices/test-device-ops.c - the operations other than bulk moves:
 * stop/start of queues, completion on the control context, composition
 * with moves through the one queue, run-quiesced, reset, manual start,
 * quiesce/resume, ordering, deletion (under load, in the middle of a move,
 * through the container), the deletion veto, realize errors and type
 * registration.
 *
 * SPDX-License-Identifier: MIT
 */
#include "device-test-util.h"

static QContext *ctx0, *ctx1, *ctx2;

static DeviceQueueState qstate(Device *dev, int queue)
{
    return device_queue_get_state(device_get_queue(dev, queue));
}

static QContext *queue_ctx(Device *dev, int queue)
{
    QContext *ctx = device_queue_get_context(device_get_queue(dev, queue));

    g_object_unref(ctx);
    return ctx;
}

static guint64 queue_started(Device *dev, int queue)
{
    DeviceStats st;

    device_queue_get_stats(device_get_queue(dev, queue), &st);
    return st.started;
}

/* ------------------------------------------------------------------------ */
/* Stop and start                                                            */
/* ------------------------------------------------------------------------ */

static void test_queue_stop_start(void)
{
    Device *dev = dt_new_device("test-mover,id=ss,context=ctx0,num-queues=3,"
                                "queue-contexts=ctx0:ctx1:ctx2");
    TestMover *m = TEST_MOVER(dev);
    OpResult r = {0};
    g_autoptr(GError) err = NULL;
    guint64 q0;
    DeviceStats st;

    g_assert_true(device_queue_stop(dev, 1, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    g_assert_cmpint(qstate(dev, 1), ==, DEVICE_QUEUE_STOPPED);
    g_assert_cmpint(qstate(dev, 0), ==, DEVICE_QUEUE_RUNNING);
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_RUNNING);
    device_queue_get_stats(device_get_queue(dev, 1), &st);
    g_assert_cmpuint(st.in_flight, ==, 0);
    g_assert_cmpuint(st.completed, ==, st.started);

    /* A stopped queue takes nothing; the others go on. */
    test_mover_submit(m, 1, 5);
    q0 = queue_started(dev, 0);
    while (queue_started(dev, 0) < q0 + 20) {
        dt_poll_main();
    }
    g_assert_cmpuint(test_mover_taken(m, 1), ==, 0);
    g_assert_cmpuint(queue_started(dev, 1), ==, st.started);

    memset(&r, 0, sizeof(r));
    g_assert_true(device_queue_start(dev, 1, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    while (test_mover_taken(m, 1) < 5) {
        dt_poll_main();
    }

    /* All queues: the control plane keeps running. */
    memset(&r, 0, sizeof(r));
    g_assert_true(device_queue_stop(dev, DEVICE_QUEUE_ALL, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    for (int q = 0; q < 3; q++) {
        g_assert_cmpint(qstate(dev, q), ==, DEVICE_QUEUE_STOPPED);
    }
    g_assert_cmpint(device_queue_get_state(device_get_control(dev)), ==,
                    DEVICE_QUEUE_RUNNING);
    test_mover_check_all_done(m);
    dt_sync_op(device_quiesce, dev);
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_QUIESCED);
    dt_sync_op(device_quiesce, dev); /* quiescing again: at once */
    dt_sync_op(device_resume, dev);
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_RUNNING);
    for (int q = 0; q < 3; q++) {
        g_assert_cmpint(qstate(dev, q), ==, DEVICE_QUEUE_RUNNING);
    }
    dt_sync_op(device_resume, dev); /* resuming a running device: nothing */

    g_assert_false(device_queue_stop(dev, 3, dt_op_done, &r, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE);
    g_assert_cmpstr(err->message, ==, "device 'ss' has 3 queues; there is no queue 3");
    g_clear_error(&err);
    g_assert_false(
        device_queue_set_context(dev, DEVICE_QUEUE_ALL, ctx1, dt_op_done, &r, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE);
    dt_del_device(dev, -1);
}

/* ------------------------------------------------------------------------ */
/* Submitted from the control context: done there, composed with moves       */
/* ------------------------------------------------------------------------ */

typedef struct {
    Device *dev;
    int queue;
    gboolean stop;
    OpResult *r;
} CtlSubmit;

static void ctl_submit(void *opaque)
{
    CtlSubmit *cs = opaque;
    g_autoptr(GError) err = NULL;

    g_assert_true(
        cs->stop ? device_queue_stop(cs->dev, cs->queue, dt_op_done, cs->r, &err)
                 : device_queue_start(cs->dev, cs->queue, dt_op_done, cs->r, &err));
    g_assert_no_error(err);
}

/* Submit a stop/start from the control plane's thread, as a transport would. */
static void submit_from_control(CtlSubmit *cs)
{
    test_mover_on_control(TEST_MOVER(cs->dev), ctl_submit, cs);
}

static void test_control_home(void)
{
    Device *dev = dt_new_device("test-mover,id=ctl,context=ctx0,num-queues=2,"
                                "queue-contexts=ctx1");
    TestMover *m = TEST_MOVER(dev);
    OpResult mv = {0}, st = {0};
    CtlSubmit cs = {.dev = dev, .queue = 1, .stop = TRUE, .r = &st};
    g_autoptr(GError) err = NULL;

    /* A move from main, then a stop of the same queue from the control
     * context: the stop waits for the move, stops the queue on its new
     * context, and completes on the control context. */
    test_mover_set_expect_tid(m, 1, dt_context_tid(ctx2));
    g_assert_true(device_queue_set_context(dev, 1, ctx2, dt_op_done, &mv, &err));
    submit_from_control(&cs);
    dt_wait_ok(&mv);
    dt_wait_op(&st);
    g_assert_no_error(st.err);
    g_assert_cmpint(mv.seq, <, st.seq);
    g_assert_cmpint(st.tid, ==, dt_context_tid(ctx0));
    g_assert_true(queue_ctx(dev, 1) == ctx2);
    g_assert_cmpint(qstate(dev, 1), ==, DEVICE_QUEUE_STOPPED);
    g_assert_cmpint(test_mover_hook_tids(m, 1).quiesce, ==, dt_context_tid(ctx2));

    /* Stopped first, then moved: it stays stopped; started from the control
     * context, it runs on its new context. */
    memset(&mv, 0, sizeof(mv));
    memset(&st, 0, sizeof(st));
    test_mover_set_expect_tid(m, 1, dt_context_tid(ctx1));
    g_assert_true(device_queue_set_context(dev, 1, ctx1, dt_op_done, &mv, &err));
    dt_wait_ok(&mv);
    g_assert_cmpint(qstate(dev, 1), ==, DEVICE_QUEUE_STOPPED);
    cs.stop = FALSE;
    submit_from_control(&cs);
    dt_wait_op(&st);
    g_assert_cmpint(st.tid, ==, dt_context_tid(ctx0));
    g_assert_cmpint(qstate(dev, 1), ==, DEVICE_QUEUE_RUNNING);
    g_assert_cmpint(test_mover_hook_tids(m, 1).resume, ==, dt_context_tid(ctx1));

    /* The control context moves while a control-submitted operation waits:
     * its done runs on the control context as it is then. */
    memset(&mv, 0, sizeof(mv));
    memset(&st, 0, sizeof(st));
    cs.stop = TRUE;
    cs.queue = 0;
    for (int q = -1; q < 2; q++) {
        test_mover_set_expect_tid(m, q, dt_context_tid(ctx2));
    }
    g_assert_true(device_set_context(dev, ctx2, dt_op_done, &mv, &err));
    submit_from_control(&cs);
    dt_wait_ok(&mv);
    dt_wait_op(&st);
    g_assert_no_error(st.err);
    g_assert_cmpint(st.tid, ==, dt_context_tid(ctx2));
    g_assert_true(device_get_context(dev) == ctx2);
    dt_del_device(dev, -1);
}

/* ------------------------------------------------------------------------ */
/* Run quiesced, reset, manual start                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    int tid;
    guint queues_stopped;
    guint64 in_flight;
} QuiescedSeen;

static void quiesced_fn(Device *dev, gpointer opaque)
{
    QuiescedSeen *seen = opaque;

    seen->tid = dt_gettid();
    seen->in_flight = device_get_in_flight(dev);
    for (guint q = 0; q < device_get_num_queues(dev); q++) {
        seen->queues_stopped += qstate(dev, (int)q) == DEVICE_QUEUE_STOPPED;
    }
}

static void test_run_quiesced(void)
{
    Device *dev = dt_new_device("test-mover,id=rq,context=ctx1,num-queues=3,"
                                "queue-contexts=ctx0:ctx2,latency-us=2000");
    QuiescedSeen seen = {0};
    OpResult r = {0};
    g_autoptr(GError) err = NULL;

    g_assert_true(device_queue_stop(dev, 2, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    memset(&r, 0, sizeof(r));
    g_assert_true(device_run_quiesced(dev, quiesced_fn, &seen, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    g_assert_cmpint(seen.tid, ==, dt_context_tid(ctx1));
    g_assert_cmpuint(seen.queues_stopped, ==, 3);
    g_assert_cmpuint(seen.in_flight, ==, 0);
    g_assert_cmpint(qstate(dev, 0), ==, DEVICE_QUEUE_RUNNING);
    g_assert_cmpint(qstate(dev, 1), ==, DEVICE_QUEUE_RUNNING);
    g_assert_cmpint(qstate(dev, 2), ==, DEVICE_QUEUE_STOPPED);
    dt_del_device(dev, -1);
}

static void test_reset_and_manual_start(void)
{
    Device *dev = dt_new_device("test-mover,id=rs,context=ctx0,num-queues=2,"
                                "queue-contexts=ctx1");
    Device *man = dt_new_device("test-mover-manual,id=man,context=ctx0,"
                                "queue-contexts=ctx1:ctx2");
    TestMover *mm = TEST_MOVER(man);
    OpResult r = {0};
    g_autoptr(GError) err = NULL;

    dt_sync_op(device_reset, dev);
    g_assert_cmpuint(test_mover_resets(TEST_MOVER(dev)), ==, 1);
    g_assert_cmpint(qstate(dev, 0), ==, DEVICE_QUEUE_RUNNING);
    g_assert_cmpint(qstate(dev, 1), ==, DEVICE_QUEUE_RUNNING);

    /* Manual start: after realize the queues wait for device_queue_start(). */
    g_assert_cmpuint(device_get_num_queues(man), ==, 2);
    g_assert_cmpint(qstate(man, 0), ==, DEVICE_QUEUE_STOPPED);
    g_assert_cmpint(qstate(man, 1), ==, DEVICE_QUEUE_STOPPED);
    g_assert_cmpint(device_queue_get_state(device_get_control(man)), ==,
                    DEVICE_QUEUE_RUNNING);
    g_assert_cmpuint(queue_started(man, 0) + queue_started(man, 1), ==, 0);
    g_assert_true(device_queue_start(man, DEVICE_QUEUE_ALL, dt_op_done, &r, &err));
    dt_wait_ok(&r);
    g_assert_cmpint(qstate(man, 1), ==, DEVICE_QUEUE_RUNNING);
    while (queue_started(man, 1) < 5) {
        dt_poll_main();
    }
    dt_sync_op(device_reset, man);
    g_assert_cmpuint(test_mover_resets(mm), ==, 1);
    g_assert_cmpint(qstate(man, 0), ==, DEVICE_QUEUE_STOPPED);
    g_assert_cmpint(qstate(man, 1), ==, DEVICE_QUEUE_STOPPED);
    test_mover_check_all_done(mm);
    dt_del_device(dev, -1);
    dt_del_device(man, -1);
}

/* ------------------------------------------------------------------------ */
/* Ordering and deletion                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    guint moved, deleted;
    OpResult *del; /* device_del's result: done before "deleted" */
    gboolean del_done_first;
} Signals;

static void on_moved(Device *dev, int queue, QContext *from, QContext *to,
                     gpointer opaque)
{
    ((Signals *)opaque)->moved++;
}

static void on_deleted(Device *dev, gpointer opaque)
{
    Signals *s = opaque;

    s->deleted++;
    s->del_done_first = s->del && s->del->done;
    g_assert_false(device_is_realized(dev));
    g_assert_null(qom_container_find(QOM_CONTAINER_DEVICES, device_get_id(dev)));
}

/* Operations run in order; deletion waits behind them; later ones are refused. */
static void test_queued_ops_and_delete(void)
{
    Device *dev = dt_new_device("test-mover,id=qo,context=ctx1,num-queues=2");
    OpResult a = {0}, b = {0}, c = {0}, d = {0}, d2 = {0}, late = {0};
    Signals sig = {.del = &d};
    g_autoptr(GError) err = NULL;
    QomObject *found;

    g_object_ref(dev);
    g_signal_connect(dev, "moved", G_CALLBACK(on_moved), &sig);
    g_signal_connect(dev, "deleted", G_CALLBACK(on_deleted), &sig);
    g_assert_true(device_set_context(dev, ctx0, dt_op_done, &a, &err));
    g_assert_true(device_queue_set_context(dev, 1, ctx2, dt_op_done, &b, &err));
    g_assert_true(device_quiesce(dev, dt_op_done, &c, &err));
    g_assert_true(device_is_busy(dev));
    g_assert_true(device_del(dev, -1, dt_op_done, &d, &err));
    g_assert_true(device_is_deleting(dev));
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_DELETING);
    g_assert_true(device_del(dev, 10000, dt_op_done, &d2, &err));
    g_assert_false(device_resume(dev, dt_op_done, &late, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_assert_cmpstr(err->message, ==, "device 'qo' is being deleted");
    g_clear_error(&err);
    /* Still in the container until gone: its id stays taken. */
    found = qom_container_find(QOM_CONTAINER_DEVICES, "qo");
    g_assert_true(found == QOM_OBJECT(dev));
    g_object_unref(found);
    g_assert_null(qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE,
                                             "test-mover,id=qo", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_DUPLICATE_ID);
    g_clear_error(&err);

    dt_wait_op(&d2);
    g_assert_true(a.seq < b.seq && b.seq < c.seq && c.seq < d.seq && d.seq < d2.seq);
    g_assert_no_error(a.err);
    g_assert_no_error(b.err);
    g_assert_no_error(c.err);
    g_assert_no_error(d.err);
    g_assert_no_error(d2.err);
    g_assert_false(late.done);
    g_assert_cmpuint(sig.moved, ==, 2);
    g_assert_cmpuint(sig.deleted, ==, 1);
    g_assert_true(sig.del_done_first);
    g_assert_false(device_is_realized(dev));
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_UNREALIZED);
    g_assert_false(device_del(dev, 0, NULL, NULL, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_FAILED);
    g_clear_error(&err);
    g_object_unref(dev);
}

/* device_del in the middle of a move whose drain waits: bounded, nothing lost. */
static void test_delete_during_move(void)
{
    Device *dev = dt_new_device("test-mover,id=dm,context=ctx0,num-queues=2,"
                                "latency-us=5000000,period-us=1000");
    TestMover *m = TEST_MOVER(dev);
    OpResult mv = {0}, del = {0};
    Signals sig = {.del = &del};
    g_autoptr(GError) err = NULL;
    DeviceStats st;

    g_object_ref(dev);
    g_signal_connect(dev, "moved", G_CALLBACK(on_moved), &sig);
    g_signal_connect(dev, "deleted", G_CALLBACK(on_deleted), &sig);
    test_mover_submit(m, 0, 6); /* even ids wait 5 s on their timer */
    while (test_mover_taken(m, 0) < 6) {
        dt_poll_main();
    }
    g_assert_true(device_queue_set_context(dev, 0, ctx1, dt_op_done, &mv, &err));
    while (device_queue_get_state(device_get_queue(dev, 0)) != DEVICE_QUEUE_STOPPING) {
        dt_poll_main();
    }
    g_assert_true(device_del(dev, 50, dt_op_done, &del, &err));
    dt_wait_op(&del);
    g_assert_true(mv.done);
    g_assert_error(mv.err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_assert_cmpstr(mv.err->message, ==, "device 'dm' is being deleted");
    g_assert_nonnull(del.err); /* names the requests that were failed */
    g_test_message("%s", del.err->message);
    g_assert_nonnull(strstr(del.err->message, "requests still in flight"));
    g_assert_cmpuint(sig.moved, ==, 0);
    g_assert_cmpuint(sig.deleted, ==, 1);
    device_get_stats(dev, &st);
    g_assert_cmpuint(st.in_flight, ==, 0);
    g_assert_cmpuint(st.started, ==, st.completed + st.failed);
    g_assert_cmpuint(st.failed, >=, 3);
    g_clear_error(&mv.err);
    g_clear_error(&del.err);
    g_object_unref(dev);
}

/* Deleting through the container: asynchronous, in-flight requests fail. */
static void test_delete_running(void)
{
    Device *dev = dt_new_device("test-mover,id=dr,context=ctx1,latency-us=1000000");
    TestMover *m = TEST_MOVER(dev);
    Signals sig = {0};
    g_autoptr(GError) err = NULL;
    DeviceStats st;

    g_object_ref(dev);
    g_signal_connect(dev, "deleted", G_CALLBACK(on_deleted), &sig);
    test_mover_submit(m, 0, 4);
    while (test_mover_taken(m, 0) < 4) {
        dt_poll_main();
    }
    g_assert_true(qom_container_del(QOM_CONTAINER_DEVICES, "dr", &err));
    g_assert_no_error(err);
    g_assert_null(qom_container_find(QOM_CONTAINER_DEVICES, "dr"));
    while (!sig.deleted) {
        dt_poll_main();
    }
    device_get_stats(dev, &st);
    g_assert_false(device_is_realized(dev));
    g_assert_cmpuint(st.in_flight, ==, 0);
    g_assert_cmpuint(st.started, ==, st.completed + st.failed);
    g_assert_cmpuint(st.failed, >=, 1); /* the even ones wait a second */
    g_object_unref(dev);
}

/* ------------------------------------------------------------------------ */
/* The deletion veto                                                         */
/* ------------------------------------------------------------------------ */

static void assert_del_refused(const char *id, const char *msg)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(qom_container_del(QOM_CONTAINER_OBJECTS, id, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    if (msg) {
        g_assert_cmpstr(err->message, ==, msg);
    }
}

static void test_del_veto(void)
{
    QContext *c3 = dt_new_context("glib-qcontext", "ctx3");
    QContext *c4 = dt_new_aio_context("ctx4");
    QContext *c5 = dt_new_aio_context("ctx5");

    g_assert_true(qcontext_is_threaded(c5));
    int tid = qcontext_get_thread_id(c3);
    Device *dev = dt_new_device(
        "test-mover,id=dev3,context=ctx5,num-queues=2,queue-contexts=ctx1:ctx3");
    OpResult r = {0}, r2 = {0}, r3 = {0}, r4 = {0}, r5 = {0};
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(tid, >, 0);
    /* Used by a queue only, or by the control plane. */
    assert_del_refused("ctx3", "context 'ctx3' is in use by device 'dev3'");
    assert_del_refused("ctx5", "context 'ctx5' is in use by device 'dev3'");
    assert_del_refused("main",
                       "context 'main' is the main loop's and cannot be deleted");
    g_assert_true(qcontext_is_running(c3));

    /* The target of a queued move counts as used. */
    g_assert_true(device_queue_stop(dev, DEVICE_QUEUE_ALL, dt_op_done, &r, &err));
    g_assert_true(device_queue_set_context(dev, 1, c4, dt_op_done, &r2, &err));
    assert_del_refused("ctx4", "context 'ctx4' is in use by device 'dev3'");
    dt_wait_ok(&r2);
    g_assert_true(queue_ctx(dev, 1) == c4);
    /* A context the device left is free again, the control plane's too. */
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "ctx3", &err));
    g_assert_no_error(err);
    g_assert_null(qcontext_find_by_name("ctx3"));
    g_assert_true(device_set_context(dev, ctx2, dt_op_done, &r3, &err));
    dt_wait_ok(&r3);
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "ctx5", &err));
    g_assert_no_error(err);
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "ctx4", &err));
    g_assert_no_error(err);

    /* Being deleted, it still uses its contexts until it is gone. */
    c4 = dt_new_aio_context("ctx4");
    g_assert_true(device_queue_set_context(dev, 0, c4, dt_op_done, &r5, &err));
    dt_wait_ok(&r5);
    g_assert_true(device_del(dev, -1, dt_op_done, &r4, &err));
    assert_del_refused("ctx4", "context 'ctx4' is in use by device 'dev3' "
                               "(being deleted; try again)");
    dt_wait_ok(&r4);
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "ctx4", &err));
    g_assert_no_error(err);
}

/* ------------------------------------------------------------------------ */
/* Realize errors and types                                                  */
/* ------------------------------------------------------------------------ */

static void assert_create_fails(const char *spec, int code, const char *msg)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *id = NULL;
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE, spec, &err);

    g_assert_null(obj);
    g_assert_nonnull(err);
    g_test_message("%s -> %s", spec, err->message);
    g_assert_true(err->domain == QOM_ERROR);
    if (code >= 0) {
        g_assert_cmpint(err->code, ==, code);
    }
    if (msg) {
        g_assert_cmpstr(err->message, ==, msg);
    }
    g_assert_null(strchr(err->message, '\n'));
    g_assert_null(qom_container_find(QOM_CONTAINER_DEVICES, "bad"));
    g_assert_null(devices_get_live());
}

static void test_realize_errors(void)
{
    g_autoptr(GError) err = NULL;
    QomObject *obj;
    Device *dev;

    obj = qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE,
                                     "glib-qcontext,id=idle", &err);
    g_assert_no_error(err);
    g_assert_nonnull(obj);

    assert_create_fails("test-mover,id=bad,fail-realize=on", QOM_ERROR_FAILED,
                        "test-mover: realize failed as asked");
    assert_create_fails("test-mover,id=bad,context=nosuch", -1, NULL);
    assert_create_fails("test-mover,id=bad,context=idle", QOM_ERROR_INVALID_VALUE,
                        "device 'bad': context 'idle' has no thread (threaded=no); "
                        "devices run in 'main' or in a threaded context");
    assert_create_fails("test-mover,id=bad,queue-contexts=ctx0:nosuch",
                        QOM_ERROR_NOT_FOUND,
                        "device 'bad': queue-contexts: no context 'nosuch'");
    assert_create_fails("test-mover,id=bad,queue-contexts=ctx0::ctx1",
                        QOM_ERROR_INVALID_VALUE,
                        "device 'bad': queue-contexts has an empty context name");
    assert_create_fails("test-mover,id=bad,queue-contexts=", QOM_ERROR_INVALID_VALUE,
                        NULL);
    assert_create_fails("test-mover,id=bad,queue-contexts=ctx1:idle",
                        QOM_ERROR_INVALID_VALUE, NULL);
    assert_create_fails("test-mover,id=bad,num-queues=9", QOM_ERROR_INVALID_VALUE,
                        "device 'bad': num-queues is 9; this device has at most 8");
    assert_create_fails("test-mover,id=bad,num-queues=257", QOM_ERROR_INVALID_VALUE,
                        NULL);
    assert_create_fails("glib-qcontext,id=bad", QOM_ERROR_UNKNOWN_TYPE, NULL);

    /* Defaults: main, one queue (the class's default), on the context. */
    dev = dt_new_device("test-mover,id=dflt");
    g_assert_true(device_get_context(dev) == qcontext_get_main());
    g_assert_cmpuint(device_get_num_queues(dev), ==, 1);
    g_assert_true(queue_ctx(dev, 0) == qcontext_get_main());
    g_assert_null(device_get_queue(dev, 1));
    g_assert_null(device_get_queue(dev, -1));
    g_assert_cmpint(device_queue_get_index(device_get_control(dev)), ==, -1);
    dt_del_device(dev, -1);
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "idle", &err));
}

/* A type added after devices_register_types() is registered at once. */
typedef Device LateDevice;
typedef DeviceClass LateDeviceClass;
static GType late_device_get_type(void);
G_DEFINE_TYPE(LateDevice, late_device, DEVICE_TYPE)

static void late_device_class_init(LateDeviceClass *klass)
{
}

static void late_device_init(LateDevice *dev)
{
}

static void test_type_registration(void)
{
    static DeviceTypeEntry late = {"test-late", late_device_get_type, NULL};
    g_auto(GStrv) names = qom_type_list(DEVICE_TYPE);
    Device *dev;

    /* The static library's own ticker and this file's types. */
    g_assert_true(g_strv_contains((const char *const *)names, "ticker"));
    g_assert_true(g_strv_contains((const char *const *)names, "test-mover"));
    g_assert_true(g_strv_contains((const char *const *)names, "test-mover-manual"));
    g_assert_cmpint(qom_type_lookup("test-late"), ==, G_TYPE_INVALID);
    device_type_add(&late);
    g_assert_true(qom_type_lookup("test-late") == late_device_get_type());
    dev = dt_new_device("test-late,id=late0");
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_RUNNING);
    dt_del_device(dev, 0);
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

    g_test_add_func("/devices/ops/queue-stop-start", test_queue_stop_start);
    g_test_add_func("/devices/ops/control-home", test_control_home);
    g_test_add_func("/devices/ops/run-quiesced", test_run_quiesced);
    g_test_add_func("/devices/ops/reset-manual-start", test_reset_and_manual_start);
    g_test_add_func("/devices/ops/queued-and-delete", test_queued_ops_and_delete);
    g_test_add_func("/devices/ops/delete-during-move", test_delete_during_move);
    g_test_add_func("/devices/ops/delete-running", test_delete_running);
    g_test_add_func("/devices/ops/del-veto", test_del_veto);
    g_test_add_func("/devices/ops/realize-errors", test_realize_errors);
    g_test_add_func("/devices/types", test_type_registration);
    ret = g_test_run();

    dt_wait_no_devices();
    qom_container_del_all(QOM_CONTAINER_OBJECTS);
    return ret;
}

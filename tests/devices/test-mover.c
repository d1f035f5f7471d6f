/*
 * tests/devices/test-mover.c - "test-mover", see test-mover.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "test-mover.h"

typedef struct MoverReq {
    TestMover *m;
    guint id;
    QEMUTimer *timer; /* even ids complete on their timer, odd ones from the BH */
} MoverReq;

struct TestMover {
    Device parent;
    gboolean fail_realize;
    guint period_us;
    guint latency_us;

    /* Context-thread state (handed over between threads by the move's BHs). */
    AioContext *aio;
    pthread_t thread;
    QEMUTimer *gen;
    QEMUBH *complete_bh;
    GQueue bh_pending; /* MoverReq * waiting for complete_bh */
    GPtrArray *timed;  /* MoverReq * waiting for their timer */
    gboolean running;
    guint next_id;
    guint8 *started; /* per-request bitmaps (one byte per id) */
    guint8 *completed;
    guint since_attach;
    guint attaches;

    /* Cross-thread state. */
    int expect_tid; /* atomic */
    EventNotifier ext;
    pthread_mutex_t ext_lock;
    guint ext_queued;    /* guarded by ext_lock */
    guint ext_submitted; /* atomic */
    guint ext_taken;     /* atomic */
    guint settled_gen;   /* main thread */
};

typedef struct {
    DeviceClass parent_class;
} TestMoverClass;

enum { PROP_0, PROP_FAIL_REALIZE, PROP_PERIOD_US, PROP_LATENCY_US, N_PROPS };

static GType test_mover_get_type(void);
G_DEFINE_TYPE(TestMover, test_mover, DEVICE_TYPE)

static int gettid_now(void)
{
    return (int)syscall(SYS_gettid);
}

static void check_thread(TestMover *m)
{
    g_assert_nonnull(m->aio);
    g_assert_true(pthread_equal(pthread_self(), m->thread));
    g_assert_true(in_aio_context_home_thread(m->aio));
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    TestMover *m;
    guint gen;
} SettledMsg;

static void settled_bh(void *opaque)
{
    SettledMsg *s = opaque;

    s->m->settled_gen = MAX(s->m->settled_gen, s->gen);
    g_object_unref(s->m);
    g_free(s);
}

static void mover_complete(TestMover *m, MoverReq *req)
{
    g_assert_cmpuint(m->started[req->id], ==, 1);
    g_assert_cmpuint(m->completed[req->id], ==, 0);
    m->completed[req->id] = 1;
    if (++m->since_attach == 2) {
        SettledMsg *s = g_new0(SettledMsg, 1);
        s->m = g_object_ref(m);
        s->gen = m->attaches;
        aio_bh_schedule_oneshot(qcontext_get_aio_context(qcontext_get_main()),
                                settled_bh, s);
    }
    g_clear_pointer(&req->timer, timer_free);
    g_free(req);
    device_request_end(DEVICE(m), TRUE);
}

static void mover_req_timer_cb(void *opaque)
{
    MoverReq *req = opaque;
    TestMover *m = req->m;

    check_thread(m);
    g_assert_true(g_ptr_array_remove_fast(m->timed, req));
    mover_complete(m, req);
}

static void mover_complete_bh(void *opaque)
{
    TestMover *m = opaque;
    MoverReq *req;

    check_thread(m);
    while ((req = g_queue_pop_head(&m->bh_pending))) {
        mover_complete(m, req);
    }
}

static void mover_start(TestMover *m)
{
    MoverReq *req = g_new0(MoverReq, 1);

    g_assert_cmpuint(m->next_id, <, TEST_MOVER_MAX_REQS);
    req->m = m;
    req->id = m->next_id++;
    g_assert_cmpuint(m->started[req->id], ==, 0);
    m->started[req->id] = 1;
    device_request_begin(DEVICE(m));
    if (req->id % 2 == 0) {
        req->timer = aio_timer_new(m->aio, QEMU_CLOCK_REALTIME, SCALE_US,
                                   mover_req_timer_cb, req);
        g_ptr_array_add(m->timed, req);
        timer_mod(req->timer, qemu_clock_get_us(QEMU_CLOCK_REALTIME) + m->latency_us);
    } else {
        g_queue_push_tail(&m->bh_pending, req);
        qemu_bh_schedule(m->complete_bh);
    }
}

static void mover_gen_cb(void *opaque)
{
    TestMover *m = opaque;

    check_thread(m);
    if (!m->running) {
        return;
    }
    mover_start(m);
    timer_mod(m->gen, qemu_clock_get_us(QEMU_CLOCK_REALTIME) + m->period_us);
}

static void mover_ext_read(EventNotifier *e)
{
    TestMover *m = (TestMover *)((char *)e - G_STRUCT_OFFSET(TestMover, ext));
    guint n;

    check_thread(m);
    if (!m->running) {
        return; /* removed by quiesce within this iteration: keep it queued */
    }
    event_notifier_test_and_clear(e);
    pthread_mutex_lock(&m->ext_lock);
    n = m->ext_queued;
    m->ext_queued = 0;
    pthread_mutex_unlock(&m->ext_lock);
    __atomic_fetch_add(&m->ext_taken, n, __ATOMIC_SEQ_CST);
    while (n--) {
        mover_start(m);
    }
}

/* ------------------------------------------------------------------------ */
/* Device hooks                                                              */
/* ------------------------------------------------------------------------ */

static void mover_attach(Device *dev, AioContext *aio)
{
    TestMover *m = TEST_MOVER(dev);
    int expect = __atomic_load_n(&m->expect_tid, __ATOMIC_SEQ_CST);

    if (expect) {
        g_assert_cmpint(gettid_now(), ==, expect);
    }
    g_assert_true(in_aio_context_home_thread(aio));
    g_assert_null(m->aio);
    m->aio = aio;
    m->thread = pthread_self();
    m->gen = aio_timer_new(aio, QEMU_CLOCK_REALTIME, SCALE_US, mover_gen_cb, m);
    m->complete_bh = aio_bh_new(aio, mover_complete_bh, m);
    m->since_attach = 0;
    m->attaches++;
}

static void mover_detach(Device *dev)
{
    TestMover *m = TEST_MOVER(dev);

    check_thread(m);
    g_assert_false(m->running);
    /* In flight only when deleted without a drain: unrealize fails them. */
    for (guint i = 0; i < m->timed->len; i++) {
        MoverReq *req = g_ptr_array_index(m->timed, i);
        g_clear_pointer(&req->timer, timer_free);
    }
    g_clear_pointer(&m->gen, timer_free);
    g_clear_pointer(&m->complete_bh, qemu_bh_delete);
    m->aio = NULL;
}

static void mover_quiesce(Device *dev)
{
    TestMover *m = TEST_MOVER(dev);

    check_thread(m);
    m->running = FALSE;
    timer_del(m->gen);
    aio_set_event_notifier(m->aio, &m->ext, NULL, NULL, NULL);
}

static void mover_resume(Device *dev)
{
    TestMover *m = TEST_MOVER(dev);

    check_thread(m);
    m->running = TRUE;
    timer_mod(m->gen, qemu_clock_get_us(QEMU_CLOCK_REALTIME) + m->period_us);
    aio_set_event_notifier(m->aio, &m->ext, mover_ext_read, NULL, NULL);
}

static gboolean mover_realize(Device *dev, GError **errp)
{
    TestMover *m = TEST_MOVER(dev);

    if (m->fail_realize) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "test-mover: realize failed as asked");
        return FALSE;
    }
    g_assert_cmpint(event_notifier_init(&m->ext, 0), ==, 0);
    m->started = g_malloc0(TEST_MOVER_MAX_REQS);
    m->completed = g_malloc0(TEST_MOVER_MAX_REQS);
    m->timed = g_ptr_array_new();
    g_queue_init(&m->bh_pending);
    return TRUE;
}

static void mover_unrealize(Device *dev)
{
    TestMover *m = TEST_MOVER(dev);
    MoverReq *req;

    while (m->timed->len) {
        req = g_ptr_array_steal_index_fast(m->timed, 0);
        g_free(req);
        device_request_end(dev, FALSE);
    }
    while ((req = g_queue_pop_head(&m->bh_pending))) {
        g_free(req);
        device_request_end(dev, FALSE);
    }
    g_ptr_array_unref(m->timed);
    g_free(m->started);
    g_free(m->completed);
    event_notifier_cleanup(&m->ext);
}

/* ------------------------------------------------------------------------ */
/* Test API                                                                  */
/* ------------------------------------------------------------------------ */

void test_mover_set_expect_tid(TestMover *m, int tid)
{
    __atomic_store_n(&m->expect_tid, tid, __ATOMIC_SEQ_CST);
}

void test_mover_submit(TestMover *m, guint n)
{
    pthread_mutex_lock(&m->ext_lock);
    m->ext_queued += n;
    pthread_mutex_unlock(&m->ext_lock);
    __atomic_fetch_add(&m->ext_submitted, n, __ATOMIC_SEQ_CST);
    event_notifier_set(&m->ext);
}

guint test_mover_settled_gen(TestMover *m)
{
    return m->settled_gen;
}

guint test_mover_submitted(TestMover *m)
{
    return __atomic_load_n(&m->ext_submitted, __ATOMIC_SEQ_CST);
}

guint test_mover_taken(TestMover *m)
{
    return __atomic_load_n(&m->ext_taken, __ATOMIC_SEQ_CST);
}

guint test_mover_attach_count(TestMover *m)
{
    return m->attaches;
}

guint test_mover_check_all_done(TestMover *m)
{
    g_assert_cmpint(device_get_state(DEVICE(m)), ==, DEVICE_STATE_QUIESCED);
    g_assert_cmpuint(device_get_in_flight(DEVICE(m)), ==, 0);
    for (guint id = 0; id < m->next_id; id++) {
        if (m->started[id] != 1 || m->completed[id] != 1) {
            g_error("request %u: started %u, completed %u", id, m->started[id],
                    m->completed[id]);
        }
    }
    g_assert_cmpuint(m->started[m->next_id], ==, 0);
    return m->next_id;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                   */
/* ------------------------------------------------------------------------ */

static void mover_set_property(GObject *obj, guint id, const GValue *v,
                               GParamSpec *pspec)
{
    TestMover *m = TEST_MOVER(obj);

    switch (id) {
    case PROP_FAIL_REALIZE:
        m->fail_realize = g_value_get_boolean(v);
        break;
    case PROP_PERIOD_US:
        m->period_us = g_value_get_uint(v);
        break;
    case PROP_LATENCY_US:
        m->latency_us = g_value_get_uint(v);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void mover_get_property(GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
    TestMover *m = TEST_MOVER(obj);

    switch (id) {
    case PROP_FAIL_REALIZE:
        g_value_set_boolean(v, m->fail_realize);
        break;
    case PROP_PERIOD_US:
        g_value_set_uint(v, m->period_us);
        break;
    case PROP_LATENCY_US:
        g_value_set_uint(v, m->latency_us);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void test_mover_finalize(GObject *obj)
{
    TestMover *m = TEST_MOVER(obj);

    pthread_mutex_destroy(&m->ext_lock);
    G_OBJECT_CLASS(test_mover_parent_class)->finalize(obj);
}

static void test_mover_class_init(TestMoverClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    DeviceClass *dc = QDEV_DEVICE_CLASS(klass);
    const GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

    oc->set_property = mover_set_property;
    oc->get_property = mover_get_property;
    oc->finalize = test_mover_finalize;
    dc->realize = mover_realize;
    dc->unrealize = mover_unrealize;
    dc->attach_aio_context = mover_attach;
    dc->detach_aio_context = mover_detach;
    dc->quiesce = mover_quiesce;
    dc->resume = mover_resume;
    g_object_class_install_property(
        oc, PROP_FAIL_REALIZE,
        g_param_spec_boolean("fail-realize", NULL, "Fail realize", FALSE, flags));
    g_object_class_install_property(oc, PROP_PERIOD_US,
                                    g_param_spec_uint("period-us", NULL,
                                                      "Generator period", 1, 1000000,
                                                      20, flags));
    g_object_class_install_property(
        oc, PROP_LATENCY_US,
        g_param_spec_uint("latency-us", NULL, "Timer latency", 0, 1000000, 50, flags));
}

static void test_mover_init(TestMover *m)
{
    m->period_us = 20;
    m->latency_us = 50;
    pthread_mutex_init(&m->ext_lock, NULL);
}

void test_mover_register(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        qom_type_register("test-mover", test_mover_get_type());
        g_once_init_leave(&done, 1);
    }
}

/*
 * tests/devices/test-mover.c - "test-mover" and "test-mover-manual"; see
 * test-mover.h.  Both register themselves with DEVICE_REGISTER_TYPE from
 * this file, as any device does.
 *
 * SPDX-License-Identifier: MIT
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "test-mover.h"

typedef struct MoverPlane MoverPlane;

typedef struct {
    MoverPlane *p;
    guint id;
    DeviceTimer *timer; /* even ids complete on their timer, odd ones from the BH */
} MoverReq;

struct MoverPlane {
    TestMover *m;
    DeviceQueue *q;
    int index;

    /* The plane's thread (handed over by the engine). */
    pthread_t thread;
    DeviceTimer *gen; /* queues: the generator; control plane: the heartbeat */
    DeviceBH *complete_bh;
    GQueue bh_pending; /* MoverReq * waiting for complete_bh */
    GPtrArray *timed;  /* MoverReq * waiting for their timer */
    gboolean running;
    guint since_attach;
    guint attaches;

    /* Any thread. */
    DeviceBH *poke_bh;
    guint poke_req;  /* atomic */
    guint poke_seen; /* atomic */
    int expect_tid;  /* atomic */
    int tids[4];     /* atomic: quiesce, detach, attach, resume */
    EventNotifier ext;
    pthread_mutex_t ext_lock;
    guint ext_queued;    /* ext_lock */
    guint ext_submitted; /* atomic */
    guint ext_taken;     /* atomic */

    guint settled_gen; /* main thread */
};

struct TestMover {
    Device parent;
    gboolean fail_realize;
    guint period_us;
    guint latency_us;

    MoverPlane *planes; /* [0] control plane, [1 + i] queue i */
    guint nplanes;
    guint next_id;   /* atomic */
    guint8 *started; /* per-request bitmaps (one byte per id) */
    guint8 *completed;
    guint resets; /* atomic */
    DeviceBH *ctl_bh;
    void (*ctl_fn)(void *); /* ctl_lock */
    void *ctl_opaque;
    pthread_mutex_t ctl_lock;
};

typedef struct {
    DeviceClass parent_class;
} TestMoverClass;

enum { PROP_0, PROP_FAIL_REALIZE, PROP_PERIOD_US, PROP_LATENCY_US, N_PROPS };
enum { HOOK_QUIESCE, HOOK_DETACH, HOOK_ATTACH, HOOK_RESUME };

static GType test_mover_get_type(void);
G_DEFINE_TYPE(TestMover, test_mover, DEVICE_TYPE)
DEVICE_REGISTER_TYPE("test-mover", test_mover_get_type)

/* The same device whose queues start only when asked (like vhost-user). */
typedef TestMover TestMoverManual;
typedef TestMoverClass TestMoverManualClass;
static GType test_mover_manual_get_type(void);
G_DEFINE_TYPE(TestMoverManual, test_mover_manual, test_mover_get_type())
DEVICE_REGISTER_TYPE("test-mover-manual", test_mover_manual_get_type)

static int gettid_now(void)
{
    return (int)syscall(SYS_gettid);
}

static MoverPlane *plane_of(TestMover *m, int queue)
{
    g_assert_cmpint(queue, >=, -1);
    g_assert_cmpint(queue + 1, <, (int)m->nplanes);
    return &m->planes[queue + 1];
}

static MoverPlane *plane_of_q(Device *dev, DeviceQueue *q)
{
    return plane_of(TEST_MOVER(dev), device_queue_get_index(q));
}

static void check_thread(MoverPlane *p)
{
    if (!device_queue_in_thread(p->q) || !pthread_equal(pthread_self(), p->thread)) {
        g_error("test-mover: plane %d: callback on the wrong thread (tid %d)", p->index,
                gettid_now());
    }
}

static void record_hook(MoverPlane *p, int hook)
{
    __atomic_store_n(&p->tids[hook], gettid_now(), __ATOMIC_SEQ_CST);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    TestMover *m;
    int plane;
    guint gen;
} SettledMsg;

static void settled_bh(void *opaque)
{
    SettledMsg *s = opaque;

    /* The device may have been deleted since (main thread, like this BH). */
    if (s->m->planes) {
        MoverPlane *p = &s->m->planes[s->plane];
        p->settled_gen = MAX(p->settled_gen, s->gen);
    }
    g_object_unref(s->m);
    g_free(s);
}

/* Two completions (or heartbeats) since the last attach: tell main. */
static void mover_progress(MoverPlane *p)
{
    if (++p->since_attach == 2) {
        SettledMsg *s = g_new0(SettledMsg, 1);
        s->m = g_object_ref(p->m);
        s->plane = p->index + 1;
        s->gen = p->attaches;
        aio_bh_schedule_oneshot(qcontext_get_aio_context(qcontext_get_main()),
                                settled_bh, s);
    }
}

static void mover_complete(MoverPlane *p, MoverReq *req)
{
    TestMover *m = p->m;

    g_assert_cmpuint(m->started[req->id], ==, 1);
    g_assert_cmpuint(m->completed[req->id], ==, 0);
    m->completed[req->id] = 1;
    mover_progress(p);
    device_timer_free(req->timer);
    g_free(req);
    device_queue_request_end(p->q, TRUE);
}

static void mover_req_timer_cb(void *opaque)
{
    MoverReq *req = opaque;
    MoverPlane *p = req->p;

    check_thread(p);
    g_assert_true(g_ptr_array_remove_fast(p->timed, req));
    mover_complete(p, req);
}

static void mover_complete_bh(void *opaque)
{
    MoverPlane *p = opaque;
    MoverReq *req;

    check_thread(p);
    while ((req = g_queue_pop_head(&p->bh_pending))) {
        mover_complete(p, req);
    }
}

static void mover_start(MoverPlane *p)
{
    TestMover *m = p->m;
    MoverReq *req = g_new0(MoverReq, 1);

    req->p = p;
    req->id = __atomic_fetch_add(&m->next_id, 1, __ATOMIC_RELAXED);
    g_assert_cmpuint(req->id, <, TEST_MOVER_MAX_REQS);
    g_assert_cmpuint(m->started[req->id], ==, 0);
    m->started[req->id] = 1;
    device_queue_request_begin(p->q);
    if (req->id % 2 == 0) {
        req->timer = device_queue_timer_new(p->q, QEMU_CLOCK_REALTIME, SCALE_US,
                                            mover_req_timer_cb, req);
        g_ptr_array_add(p->timed, req);
        device_timer_mod(req->timer,
                         qemu_clock_get_us(QEMU_CLOCK_REALTIME) + m->latency_us);
    } else {
        g_queue_push_tail(&p->bh_pending, req);
        device_bh_schedule(p->complete_bh);
    }
}

static void mover_arm(MoverPlane *p)
{
    guint period = p->index < 0 ? 200 : p->m->period_us;

    device_timer_mod(p->gen, qemu_clock_get_us(QEMU_CLOCK_REALTIME) + period);
}

static void mover_gen_cb(void *opaque)
{
    MoverPlane *p = opaque;

    check_thread(p);
    if (p->index < 0) {
        mover_progress(p); /* the heartbeat: always armed, moves armed */
        mover_arm(p);
        return;
    }
    if (p->running) {
        mover_start(p);
        mover_arm(p);
    }
}

static void mover_ext_read(EventNotifier *e)
{
    MoverPlane *p = (MoverPlane *)((char *)e - G_STRUCT_OFFSET(MoverPlane, ext));
    guint n;

    check_thread(p);
    if (!p->running) {
        return; /* removed by quiesce within this iteration: keep it queued */
    }
    event_notifier_test_and_clear(e);
    pthread_mutex_lock(&p->ext_lock);
    n = p->ext_queued;
    p->ext_queued = 0;
    pthread_mutex_unlock(&p->ext_lock);
    __atomic_fetch_add(&p->ext_taken, n, __ATOMIC_SEQ_CST);
    while (n--) {
        mover_start(p);
    }
}

static void mover_poke_bh(void *opaque)
{
    MoverPlane *p = opaque;

    check_thread(p);
    __atomic_store_n(&p->poke_seen, __atomic_load_n(&p->poke_req, __ATOMIC_SEQ_CST),
                     __ATOMIC_SEQ_CST);
}

static void mover_ctl_bh(void *opaque)
{
    TestMover *m = opaque;
    void (*fn)(void *);
    void *fn_opaque;

    check_thread(&m->planes[0]);
    pthread_mutex_lock(&m->ctl_lock);
    fn = m->ctl_fn;
    fn_opaque = m->ctl_opaque;
    m->ctl_fn = NULL;
    pthread_mutex_unlock(&m->ctl_lock);
    if (fn) {
        fn(fn_opaque);
    }
}

/* ------------------------------------------------------------------------ */
/* Device hooks                                                              */
/* ------------------------------------------------------------------------ */

static void mover_queue_attach(Device *dev, DeviceQueue *q, AioContext *aio)
{
    MoverPlane *p = plane_of_q(dev, q);
    int expect = __atomic_load_n(&p->expect_tid, __ATOMIC_SEQ_CST);

    if (expect) {
        g_assert_cmpint(gettid_now(), ==, expect);
    }
    g_assert_true(in_aio_context_home_thread(aio));
    g_assert_true(device_queue_get_aio_context(q) == aio);
    p->thread = pthread_self();
    p->since_attach = 0;
    p->attaches++;
    record_hook(p, HOOK_ATTACH);
}

static void mover_queue_detach(Device *dev, DeviceQueue *q)
{
    MoverPlane *p = plane_of_q(dev, q);

    check_thread(p);
    g_assert_false(p->running);
    record_hook(p, HOOK_DETACH);
}

static void mover_queue_quiesce(Device *dev, DeviceQueue *q)
{
    MoverPlane *p = plane_of_q(dev, q);

    check_thread(p);
    record_hook(p, HOOK_QUIESCE);
    p->running = FALSE;
    if (p->index >= 0) {
        device_timer_del(p->gen);
        device_queue_set_event_notifier(q, &p->ext, NULL, NULL, NULL);
    }
}

static void mover_queue_resume(Device *dev, DeviceQueue *q)
{
    MoverPlane *p = plane_of_q(dev, q);

    check_thread(p);
    record_hook(p, HOOK_RESUME);
    p->running = TRUE;
    if (p->index >= 0) {
        mover_arm(p);
        device_queue_set_event_notifier(q, &p->ext, mover_ext_read, NULL, NULL);
    }
}

/* Control plane, every queue stopped and drained. */
static void mover_reset(Device *dev)
{
    TestMover *m = TEST_MOVER(dev);

    check_thread(&m->planes[0]);
    for (guint i = 1; i < m->nplanes; i++) {
        DeviceStats st;
        device_queue_get_stats(m->planes[i].q, &st);
        g_assert_cmpuint(st.in_flight, ==, 0);
        g_assert_cmpint(device_queue_get_state(m->planes[i].q), ==,
                        DEVICE_QUEUE_STOPPED);
    }
    __atomic_fetch_add(&m->resets, 1, __ATOMIC_SEQ_CST);
}

static void plane_init(TestMover *m, MoverPlane *p, int index)
{
    p->m = m;
    p->index = index;
    p->q =
        index < 0 ? device_get_control(DEVICE(m)) : device_get_queue(DEVICE(m), index);
    p->timed = g_ptr_array_new();
    g_queue_init(&p->bh_pending);
    pthread_mutex_init(&p->ext_lock, NULL);
    g_assert_cmpint(event_notifier_init(&p->ext, 0), ==, 0);
    p->gen =
        device_queue_timer_new(p->q, QEMU_CLOCK_REALTIME, SCALE_US, mover_gen_cb, p);
    p->complete_bh = device_queue_bh_new(p->q, mover_complete_bh, p);
    p->poke_bh = device_queue_bh_new(p->q, mover_poke_bh, p);
    if (index < 0) {
        mover_arm(p); /* armed while detached: it fires once attached */
    }
}

static gboolean mover_realize(Device *dev, GError **errp)
{
    TestMover *m = TEST_MOVER(dev);

    if (m->fail_realize) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                    "test-mover: realize failed as asked");
        return FALSE;
    }
    m->started = g_malloc0(TEST_MOVER_MAX_REQS);
    m->completed = g_malloc0(TEST_MOVER_MAX_REQS);
    m->nplanes = device_get_num_queues(dev) + 1;
    m->planes = g_new0(MoverPlane, m->nplanes);
    for (guint i = 0; i < m->nplanes; i++) {
        plane_init(m, &m->planes[i], (int)i - 1);
    }
    m->ctl_bh = device_queue_bh_new(device_get_control(dev), mover_ctl_bh, m);
    return TRUE;
}

static void plane_fail_all(MoverPlane *p)
{
    MoverReq *req;

    while (p->timed->len) {
        req = g_ptr_array_steal_index_fast(p->timed, 0);
        device_timer_free(req->timer);
        g_free(req);
        device_queue_request_end(p->q, FALSE);
    }
    while ((req = g_queue_pop_head(&p->bh_pending))) {
        g_free(req);
        device_queue_request_end(p->q, FALSE);
    }
}

static void mover_unrealize(Device *dev)
{
    TestMover *m = TEST_MOVER(dev);

    for (guint i = 0; i < m->nplanes; i++) {
        MoverPlane *p = &m->planes[i];
        g_assert_null(device_queue_get_aio_context(p->q));
        plane_fail_all(p);
        g_ptr_array_unref(p->timed);
        device_timer_free(p->gen);
        device_bh_delete(p->complete_bh);
        device_bh_delete(p->poke_bh);
        device_queue_set_event_notifier(p->q, &p->ext, NULL, NULL, NULL);
        event_notifier_cleanup(&p->ext);
        pthread_mutex_destroy(&p->ext_lock);
    }
    g_clear_pointer(&m->ctl_bh, device_bh_delete);
    g_clear_pointer(&m->planes, g_free);
    g_clear_pointer(&m->started, g_free);
    g_clear_pointer(&m->completed, g_free);
}

/* ------------------------------------------------------------------------ */
/* Test API                                                                  */
/* ------------------------------------------------------------------------ */

void test_mover_set_expect_tid(TestMover *m, int queue, int tid)
{
    __atomic_store_n(&plane_of(m, queue)->expect_tid, tid, __ATOMIC_SEQ_CST);
}

void test_mover_submit(TestMover *m, int queue, guint n)
{
    MoverPlane *p = plane_of(m, queue);

    pthread_mutex_lock(&p->ext_lock);
    p->ext_queued += n;
    pthread_mutex_unlock(&p->ext_lock);
    __atomic_fetch_add(&p->ext_submitted, n, __ATOMIC_SEQ_CST);
    event_notifier_set(&p->ext);
}

guint test_mover_submitted(TestMover *m, int queue)
{
    return __atomic_load_n(&plane_of(m, queue)->ext_submitted, __ATOMIC_SEQ_CST);
}

guint test_mover_taken(TestMover *m, int queue)
{
    return __atomic_load_n(&plane_of(m, queue)->ext_taken, __ATOMIC_SEQ_CST);
}

guint test_mover_settled_gen(TestMover *m, int queue)
{
    return plane_of(m, queue)->settled_gen;
}

guint test_mover_attach_count(TestMover *m, int queue)
{
    return plane_of(m, queue)->attaches;
}

guint test_mover_poke(TestMover *m, int queue)
{
    MoverPlane *p = plane_of(m, queue);
    guint n = __atomic_add_fetch(&p->poke_req, 1, __ATOMIC_SEQ_CST);

    device_bh_schedule(p->poke_bh);
    return n;
}

guint test_mover_poked(TestMover *m, int queue)
{
    return __atomic_load_n(&plane_of(m, queue)->poke_seen, __ATOMIC_SEQ_CST);
}

TestMoverHookTids test_mover_hook_tids(TestMover *m, int queue)
{
    MoverPlane *p = plane_of(m, queue);

    return (TestMoverHookTids){
        .quiesce = __atomic_load_n(&p->tids[HOOK_QUIESCE], __ATOMIC_SEQ_CST),
        .detach = __atomic_load_n(&p->tids[HOOK_DETACH], __ATOMIC_SEQ_CST),
        .attach = __atomic_load_n(&p->tids[HOOK_ATTACH], __ATOMIC_SEQ_CST),
        .resume = __atomic_load_n(&p->tids[HOOK_RESUME], __ATOMIC_SEQ_CST),
    };
}

void test_mover_on_control(TestMover *m, void (*fn)(void *), void *opaque)
{
    pthread_mutex_lock(&m->ctl_lock);
    g_assert_null(m->ctl_fn);
    m->ctl_fn = fn;
    m->ctl_opaque = opaque;
    pthread_mutex_unlock(&m->ctl_lock);
    device_bh_schedule(m->ctl_bh);
}

guint test_mover_resets(TestMover *m)
{
    return __atomic_load_n(&m->resets, __ATOMIC_SEQ_CST);
}

guint test_mover_check_all_done(TestMover *m)
{
    guint n = __atomic_load_n(&m->next_id, __ATOMIC_SEQ_CST);

    for (guint i = 1; i < m->nplanes; i++) {
        g_assert_cmpint(device_queue_get_state(m->planes[i].q), ==,
                        DEVICE_QUEUE_STOPPED);
    }
    g_assert_cmpuint(device_get_in_flight(DEVICE(m)), ==, 0);
    for (guint id = 0; id < n; id++) {
        if (m->started[id] != 1 || m->completed[id] != 1) {
            g_error("request %u: started %u, completed %u", id, m->started[id],
                    m->completed[id]);
        }
    }
    g_assert_cmpuint(m->started[n], ==, 0);
    return n;
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
    pthread_mutex_destroy(&TEST_MOVER(obj)->ctl_lock);
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
    dc->queue_attach = mover_queue_attach;
    dc->queue_detach = mover_queue_detach;
    dc->queue_quiesce = mover_queue_quiesce;
    dc->queue_resume = mover_queue_resume;
    dc->reset = mover_reset;
    dc->max_queues = 8;
    g_object_class_install_property(
        oc, PROP_FAIL_REALIZE,
        g_param_spec_boolean("fail-realize", NULL, "Fail realize", FALSE, flags));
    g_object_class_install_property(oc, PROP_PERIOD_US,
                                    g_param_spec_uint("period-us", NULL,
                                                      "Generator period", 1, 1000000,
                                                      100, flags));
    g_object_class_install_property(
        oc, PROP_LATENCY_US,
        g_param_spec_uint("latency-us", NULL, "Timer latency", 0, 10000000, 50, flags));
}

static void test_mover_init(TestMover *m)
{
    pthread_mutex_init(&m->ctl_lock, NULL);
    m->period_us = 100;
    m->latency_us = 50;
}

static void test_mover_manual_class_init(TestMoverManualClass *klass)
{
    QDEV_DEVICE_CLASS(klass)->manual_start = TRUE;
    QDEV_DEVICE_CLASS(klass)->default_queues = 2;
}

static void test_mover_manual_init(TestMoverManual *m)
{
}

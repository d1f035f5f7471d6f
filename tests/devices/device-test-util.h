/*
 * tests/devices/device-test-util.h - helpers shared by the device tests:
 * contexts and devices from option strings, waiting for operations on the
 * main context, thread ids.
 *
 * The test's main thread runs the "main" context.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_DEVICE_TEST_UTIL_H
#define TESTS_DEVICE_TEST_UTIL_H

#include <sys/syscall.h>
#include <unistd.h>

#include "test-mover.h"

static inline QContext *dt_new_context(const char *type, const char *id)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = g_strdup_printf("%s,id=%s,threaded=yes", type, id);
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE, spec, &err);

    g_assert_no_error(err);
    return QCONTEXT_CONTEXT(obj);
}

/* An aio-qcontext if available, else a glib-qcontext. */
static inline QContext *dt_new_aio_context(const char *id)
{
    return dt_new_context(
        qom_type_lookup("aio-qcontext") ? "aio-qcontext" : "glib-qcontext", id);
}

static inline int dt_context_tid(QContext *ctx)
{
    return qcontext_get_thread_id(ctx);
}

static inline int dt_gettid(void)
{
    return (int)syscall(SYS_gettid);
}

static inline void dt_iterate_main(void)
{
    qcontext_iterate(qcontext_get_main(), TRUE);
}

/* For conditions that change on other threads without waking main. */
static inline void dt_poll_main(void)
{
    qcontext_iterate(qcontext_get_main(), FALSE);
    g_usleep(200);
}

/* The outcome of one asynchronous operation. */
typedef struct {
    gboolean done;
    GError *err;
    int seq; /* order of completion among several */
    int tid; /* the thread done ran on */
} OpResult;

static int dt_op_seq;

static inline void dt_op_done(Device *dev, const GError *err, gpointer opaque)
{
    OpResult *r = opaque;

    g_assert_false(r->done);
    r->err = err ? g_error_copy(err) : NULL;
    r->seq = __atomic_add_fetch(&dt_op_seq, 1, __ATOMIC_SEQ_CST);
    r->tid = dt_gettid();
    __atomic_store_n(&r->done, TRUE, __ATOMIC_SEQ_CST);
}

static inline void dt_wait_op(OpResult *r)
{
    while (!__atomic_load_n(&r->done, __ATOMIC_SEQ_CST)) {
        dt_poll_main();
    }
}

/* Wait for @r, assert it succeeded on the main thread. */
static inline void dt_wait_ok(OpResult *r)
{
    dt_wait_op(r);
    g_assert_no_error(r->err);
    g_assert_cmpint(r->tid, ==, getpid());
}

static inline Device *dt_new_device(const char *spec)
{
    g_autoptr(GError) err = NULL;
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE, spec, &err);
    OpResult r = {0};

    g_assert_no_error(err);
    g_assert_true(device_sync(DEVICE(obj), dt_op_done, &r, &err));
    dt_wait_ok(&r);
    return DEVICE(obj);
}

static inline void
dt_sync_op(gboolean (*op)(Device *, DeviceDoneFunc, gpointer, GError **), Device *dev)
{
    OpResult r = {0};
    g_autoptr(GError) err = NULL;

    g_assert_true(op(dev, dt_op_done, &r, &err));
    dt_wait_ok(&r);
}

/* Delete @dev (timeout @timeout_ms) and wait until it is gone. */
static inline void dt_del_device(Device *dev, gint64 timeout_ms)
{
    OpResult r = {0};
    g_autoptr(GError) err = NULL;

    g_object_ref(dev);
    g_assert_true(device_del(dev, timeout_ms, dt_op_done, &r, &err));
    dt_wait_op(&r);
    g_clear_error(&r.err);
    g_assert_false(device_is_realized(dev));
    g_object_unref(dev);
}

/* Run main until no device is alive (engine references dropped). */
static inline void dt_wait_no_devices(void)
{
    GList *live;

    while ((live = devices_get_live())) {
        g_list_free_full(live, g_object_unref);
        dt_poll_main();
    }
    for (int i = 0; i < 20; i++) {
        qcontext_iterate(qcontext_get_main(), FALSE);
    }
}

static inline void dt_wait_settled(TestMover *m, int queue, guint gen)
{
    while (test_mover_settled_gen(m, queue) < gen) {
        dt_poll_main();
    }
}

#endif /* TESTS_DEVICE_TEST_UTIL_H */

/*
 * tests/devices/test-device-qmp.c - devices over QMP on a real qcontextd:
 * device_add / device_del under load, device_del in the middle of a move,
 * device-set-context of one queue and DEVICE_MOVED after the reply, the
 * errors (QEMU's classes and messages), deleting a context in use.
 *
 * SPDX-License-Identifier: MIT
 */
#include "../main-loop/test-monitor-util.h"

static JsonObject *find_device(TestQmp *q, const char *id)
{
    JsonObject *r = tq_cmd(q, "{\"execute\": \"query-devices\"}");
    JsonObject *dev = tq_find_id(json_node_get_array(tq_return(r)), id);
    JsonObject *copy = dev ? json_object_ref(dev) : NULL;

    json_object_unref(r);
    return copy;
}

static const char *queue_field(JsonObject *dev, guint queue, const char *field)
{
    JsonArray *queues = json_object_get_array_member(dev, "queues");

    return json_object_get_string_member(json_array_get_object_element(queues, queue),
                                         field);
}

/* TRUE if an event @name is already queued on @q (received before now). */
static gboolean has_event(TestQmp *q, const char *name)
{
    for (GList *l = q->events.head; l; l = l->next) {
        if (!g_strcmp0(json_object_get_string_member(l->data, "event"), name)) {
            return TRUE;
        }
    }
    return FALSE;
}

static void assert_ok(JsonObject *reply)
{
    tq_return(reply);
    json_object_unref(reply);
}

static void wait_deleted(TestQmp *q, const char *id)
{
    for (;;) {
        JsonObject *ev = tq_wait_event(q, "DEVICE_DELETED");
        JsonObject *data = json_object_get_object_member(ev, "data");
        gboolean match = !g_strcmp0(json_object_get_string_member(data, "device"), id);
        if (match) {
            g_autofree char *path = g_strdup_printf("/devices/%s", id);
            g_assert_cmpstr(json_object_get_string_member(data, "path"), ==, path);
        }
        json_object_unref(ev);
        if (match) {
            return;
        }
    }
}

/* Plug and unplug devices over QMP while a 4-queue ticker runs. */
static void test_add_del_under_load(void)
{
    TestDaemon *d = td_start(
        "-object", "aio-qcontext,id=io0,threaded=yes", "-object",
        "aio-qcontext,id=io1,threaded=yes", "-object",
        "glib-qcontext,id=g0,threaded=yes", "-device",
        "ticker,id=load,num-queues=4,queue-contexts=io0:io1:g0,interval-us=100,"
        "latency-us=1000",
        NULL);
    TestQmp *q = tq_connect(d->sock);
    JsonObject *dev, *ev, *data;
    gint64 started;

    /* One plugged, moved by queue, unplugged: replies and events in order. */
    assert_ok(tq_cmd(q, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
                        "\"ticker\", \"id\": \"tA\", \"num-queues\": 2, "
                        "\"queue-contexts\": \"io0:io1\", \"interval-us\": 200, "
                        "\"latency-us\": 2000}}"));
    dev = find_device(q, "tA");
    g_assert_nonnull(dev);
    g_assert_cmpstr(json_object_get_string_member(dev, "state"), ==, "running");
    g_assert_cmpstr(json_object_get_string_member(dev, "context"), ==, "main");
    g_assert_cmpstr(queue_field(dev, 0, "context"), ==, "io0");
    g_assert_cmpstr(queue_field(dev, 1, "context"), ==, "io1");
    g_assert_cmpstr(queue_field(dev, 1, "state"), ==, "running");
    json_object_unref(dev);

    assert_ok(tq_cmd(q, "{\"execute\": \"device-set-context\", \"arguments\": "
                        "{\"id\": \"tA\", \"context\": \"g0\", \"queue\": 1}}"));
    g_assert_false(has_event(q, "DEVICE_MOVED")); /* the reply came first */
    ev = tq_wait_event(q, "DEVICE_MOVED");
    data = json_object_get_object_member(ev, "data");
    g_assert_cmpstr(json_object_get_string_member(data, "device"), ==, "tA");
    g_assert_cmpint(json_object_get_int_member(data, "queue"), ==, 1);
    g_assert_cmpstr(json_object_get_string_member(data, "old-context"), ==, "io1");
    g_assert_cmpstr(json_object_get_string_member(data, "context"), ==, "g0");
    json_object_unref(ev);
    assert_ok(tq_cmd(q, "{\"execute\": \"device-set-context\", \"arguments\": "
                        "{\"id\": \"tA\", \"context\": \"io1\"}}"));
    ev = tq_wait_event(q, "DEVICE_MOVED");
    data = json_object_get_object_member(ev, "data");
    g_assert_false(json_object_has_member(data, "queue")); /* the whole device */
    g_assert_cmpstr(json_object_get_string_member(data, "old-context"), ==, "main");
    g_assert_cmpstr(json_object_get_string_member(data, "context"), ==, "io1");
    json_object_unref(ev);

    /* A context in use (by a queue) cannot be deleted. */
    tq_assert_error(tq_cmd(q, "{\"execute\": \"object-del\", \"arguments\": "
                              "{\"id\": \"g0\"}}"),
                    "GenericError", "'g0' is in use by device 'load'");

    assert_ok(
        tq_cmd(q, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"tA\"}}"));
    wait_deleted(q, "tA");
    dev = find_device(q, "tA");
    g_assert_null(dev);

    /* Plug and unplug again and again under load; the id comes back free. */
    for (int i = 0; i < 30; i++) {
        const char *ctxs[] = {"io0", "io1", "g0", "main"};
        assert_ok(tq_cmd(q,
                         "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
                         "\"ticker\", \"id\": \"tB\", \"num-queues\": %d, "
                         "\"queue-contexts\": \"%s:%s\", \"context\": \"%s\", "
                         "\"interval-us\": 100, \"latency-us\": %d}}",
                         1 + i % 4, ctxs[i % 4], ctxs[(i + 1) % 4], ctxs[(i + 2) % 4],
                         100 * (i % 7)));
        if (i % 3 == 0) {
            assert_ok(tq_cmd(q,
                             "{\"execute\": \"device-set-context\", \"arguments\": "
                             "{\"id\": \"load\", \"context\": \"%s\", \"queue\": %d}}",
                             ctxs[i % 3], i % 4));
        }
        assert_ok(tq_cmd(q, "{\"execute\": \"device_del\", \"arguments\": "
                            "{\"id\": \"/devices/tB\"}}"));
        wait_deleted(q, "tB");
    }
    dev = find_device(q, "load");
    started = json_object_get_int_member(json_object_get_object_member(dev, "requests"),
                                         "started");
    g_assert_cmpint(started, >, 0);
    g_assert_cmpint(json_object_get_int_member(
                        json_object_get_object_member(dev, "requests"), "failed"),
                    ==, 0);
    json_object_unref(dev);

    /* Errors: QEMU's classes and messages. */
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device_del\", \"arguments\": "
                              "{\"id\": \"nosuch\"}}"),
                    "DeviceNotFound", "Device 'nosuch' not found");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device_add\", \"arguments\": "
                              "{\"driver\": \"nosuch\", \"id\": \"x\"}}"),
                    "GenericError", "'nosuch' is not a valid device model name");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device_add\", \"arguments\": "
                              "{\"driver\": \"aio-qcontext\", \"id\": \"x\"}}"),
                    "GenericError", "'aio-qcontext' is not a valid device model name");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device_add\", \"arguments\": "
                              "{\"driver\": \"ticker\", \"id\": \"load\"}}"),
                    "GenericError", "duplicate id 'load'");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device_add\", \"arguments\": "
                              "{\"driver\": \"ticker\", \"id\": \"x\", "
                              "\"queue-contexts\": \"io0:nosuch\"}}"),
                    "GenericError", "queue-contexts: no context 'nosuch'");
    /* Property values are typed strictly, as QEMU's device_add does. */
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device_add\", \"arguments\": "
                              "{\"driver\": \"ticker\", \"id\": \"x\", "
                              "\"interval-us\": \"500\"}}"),
                    "GenericError", "interval-us");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"device_add\", \"arguments\": "
                              "{\"driver\": \"ticker\", \"id\": \"x\", "
                              "\"nosuch-prop\": 1}}"),
                    "GenericError", "nosuch-prop");
    tq_assert_error(tq_cmd(q,
                           "{\"execute\": \"device-set-context\", \"arguments\": "
                           "{\"id\": \"load\", \"context\": \"io0\", \"queue\": 4}}"),
                    "GenericError", "device 'load' has 4 queues; there is no queue 4");
    tq_assert_error(tq_cmd(q,
                           "{\"execute\": \"device-set-context\", \"arguments\": "
                           "{\"id\": \"load\", \"context\": \"io0\", \"queue\": -1}}"),
                    "GenericError", "'queue'");
    g_assert_null(find_device(q, "x"));
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/*
 * device_del while a move waits for long requests to drain: the move fails,
 * the deletion is bounded by -shutdown-timeout, DEVICE_DELETED arrives.
 */
static void test_del_during_move(void)
{
    TestDaemon *d = td_start("-object", "aio-qcontext,id=io0,threaded=yes", "-object",
                             "aio-qcontext,id=io1,threaded=yes", "-shutdown-timeout",
                             "0.3", "-device",
                             "ticker,id=slow,num-queues=2,queue-contexts=io0,"
                             "interval-us=1000,latency-us=30000000",
                             NULL);
    TestQmp *a = tq_connect(d->sock);
    TestQmp *b = tq_connect(d->sock);
    const char *move = "{\"execute\": \"device-set-context\", \"id\": 7, "
                       "\"arguments\": {\"id\": \"slow\", \"context\": \"io1\"}}\n";
    JsonObject *reply, *dev;
    gint64 t0;

    g_usleep(50 * 1000); /* requests pile up: each takes 30 s */
    tq_send_raw(a, move, strlen(move));
    /* The move is draining (it waits 30 s): the device says so. */
    do {
        dev = find_device(b, "slow");
        g_assert_nonnull(dev);
        t0 = g_str_equal(json_object_get_string_member(dev, "state"), "moving");
        json_object_unref(dev);
    } while (!t0);
    t0 = g_get_monotonic_time();
    assert_ok(
        tq_cmd(b, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"slow\"}}"));
    tq_assert_error(tq_cmd(b, "{\"execute\": \"device_del\", \"arguments\": "
                              "{\"id\": \"slow\"}}"),
                    "GenericError", "Device slow is already in the process of unplug");
    reply = tq_recv_reply(a);
    g_assert_cmpint(json_object_get_int_member(reply, "id"), ==, 7);
    tq_assert_error(reply, "GenericError", "device 'slow' is being deleted");
    wait_deleted(b, "slow");
    /* Bounded by -shutdown-timeout (0.3 s), not by the 30 s requests. */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * G_USEC_PER_SEC);
    g_assert_false(has_event(a, "DEVICE_MOVED"));
    wait_deleted(a, "slow");
    g_assert_null(find_device(b, "slow"));
    /* Its contexts are free again. */
    assert_ok(
        tq_cmd(b, "{\"execute\": \"object-del\", \"arguments\": {\"id\": \"io1\"}}"));
    tq_free(a);
    tq_free(b);
    g_assert_cmpint(td_stop(d), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_nonnull(td_binary());
    g_test_add_func("/devices/qmp/add-del-under-load", test_add_del_under_load);
    g_test_add_func("/devices/qmp/del-during-move", test_del_during_move);
    return g_test_run();
}

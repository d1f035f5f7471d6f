/*
 * test-monitor: the monitor end to end against the real qcontextd.
 *
 * Each test starts a daemon ($QCONTEXTD) with two contexts (aio-qcontext
 * io0, glib-qcontext g0, both threaded) and a ticker device on io0, and
 * talks QMP to it over its socket.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test-monitor-util.h"

static TestDaemon *start_std(void)
{
    return td_start("-name", "testd", "-object", "aio-qcontext,id=io0,threaded=on",
                    "-object", "glib-qcontext,id=g0,threaded=on", "-device",
                    "ticker,id=tick0,context=io0,interval-us=2000", NULL);
}

static void assert_alive(TestQmp *q)
{
    JsonObject *r = tq_cmd(q, "{\"execute\": \"query-version\", \"id\": \"alive\"}");

    tq_return(r);
    g_assert_cmpstr(json_object_get_string_member(r, "id"), ==, "alive");
    json_object_unref(r);
}

/* ------------------------------------------------------------------------ */
/* Framing and negotiation                                                    */
/* ------------------------------------------------------------------------ */

static void test_greeting(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect_raw(d->sock);
    JsonObject *g = tq_recv_any(q), *qmp, *ver, *triple, *r;

    qmp = json_object_get_object_member(g, "QMP");
    ver = json_object_get_object_member(qmp, "version");
    /* QEMU's tools read "qemu" (qmp-shell's banner); ours stays beside it. */
    for (const char *const *m = (const char *const[]){"qemu", "qcontext", NULL}; *m;
         m++) {
        triple = json_object_get_object_member(ver, *m);
        g_assert_nonnull(triple);
        g_assert_true(json_object_has_member(triple, "major"));
        g_assert_true(json_object_has_member(triple, "minor"));
        g_assert_true(json_object_has_member(triple, "micro"));
    }
    g_assert_cmpstr(json_object_get_string_member(ver, "package"), ==, "");
    g_assert_cmpuint(
        json_array_get_length(json_object_get_array_member(qmp, "capabilities")), ==,
        0);
    json_object_unref(g);

    /* Nothing but qmp_capabilities before negotiation, not even unknown ones. */
    r = tq_cmd(q, "{\"execute\": \"query-qcontexts\", \"id\": 7}");
    g_assert_cmpint(json_object_get_int_member(r, "id"), ==, 7);
    tq_assert_error(r, "CommandNotFound",
                    "Expecting capabilities negotiation with 'qmp_capabilities'");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"no-such-command\"}"), "CommandNotFound",
                    "Expecting capabilities negotiation");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"quit\"}"), "CommandNotFound",
                    "Expecting capabilities negotiation");

    r = tq_cmd(q, "{\"execute\": \"qmp_capabilities\", \"id\": {\"a\": [1]}}");
    tq_return(r);
    g_assert_true(json_object_has_member(json_object_get_object_member(r, "id"), "a"));
    json_object_unref(r);
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qmp_capabilities\"}"), "CommandNotFound",
                    "Capabilities negotiation is already complete");
    assert_alive(q);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_bad_input(void)
{
    static const struct {
        const char *input, *cls, *desc;
    } cases[] = {
        {"{\"execute\": }", "GenericError", "JSON parse error"},
        {"{\"execute\" \"x\"}", "GenericError", "JSON parse error"},
        {"42", "GenericError", "QMP input must be a JSON object"},
        {"\"hello\"", "GenericError", "QMP input must be a JSON object"},
        {"[1, 2, {}]", "GenericError", "QMP input must be a JSON object"},
        {"}", "GenericError", "JSON parse error"},
        /* A missing closing quote: the newline ends the broken message. */
        {"{\"execute\": \"query-version}", "GenericError", "control character"},
        {"{}", "GenericError", "QMP input lacks member 'execute'"},
        {"{\"execute\": 1}", "GenericError", "member 'execute' must be a string"},
        {"{\"execute\": \"query-version\", \"arguments\": []}", "GenericError",
         "member 'arguments' must be an object"},
        {"{\"execute\": \"query-version\", \"foo\": 1}", "GenericError",
         "QMP input member 'foo' is unexpected"},
        {"{\"execute\": \"no-such\"}", "CommandNotFound",
         "The command no-such has not been found"},
        {"{\"execute\": \"query-version\", \"arguments\": {\"x\": 1}}", "GenericError",
         "Parameter 'x' is unexpected"},
        {"{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/io0\"}}",
         "GenericError", "Parameter 'property' is missing"},
        {"{\"execute\": \"qom-get\", \"arguments\": {\"path\": 1, \"property\": "
         "\"x\"}}",
         "GenericError", "Invalid parameter type for 'path', expected: string"},
        {"{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/objects/io0\", "
         "\"property\": \"poll-max-ns\", \"value\": [1]}}",
         "GenericError", "Invalid parameter type for 'value'"},
        {"{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
         "\"aio-qcontext\", "
         "\"id\": \"x1\", \"threaded\": {}}}",
         "GenericError", "Invalid parameter type for 'threaded'"},
        {"{\"execute\": \"query-qcontexts\", \"arguments\": {\"histogram\": \"yes\"}}",
         "GenericError", "expected: boolean"},
    };
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("input: %s", cases[i].input);
        tq_send_raw(q, cases[i].input, strlen(cases[i].input));
        tq_send_raw(q, "\n", 1);
        tq_assert_error(tq_recv_reply(q), cases[i].cls, cases[i].desc);
        assert_alive(q);
    }
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_oversized(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    GString *big =
        g_string_new("{\"execute\": \"query-version\", \"arguments\": {\"x\": \"");

    /* Brackets and a quit inside the string must not end the message. */
    while (big->len < 100 * 1024) {
        g_string_append(big, "}{\\\"execute\\\": \\\"quit\\\"}] ");
    }
    g_string_append(big, "\"}}\n");
    tq_send_raw(q, big->str, big->len);
    tq_assert_error(tq_recv_reply(q), "GenericError", "exceeds the size limit");
    assert_alive(q);

    /* Deep nesting within the size limit is refused too. */
    g_string_truncate(big, 0);
    for (int i = 0; i < 5000; i++) {
        g_string_append_c(big, '[');
    }
    for (int i = 0; i < 5000; i++) {
        g_string_append_c(big, ']');
    }
    tq_send_raw(q, big->str, big->len);
    tq_assert_error(tq_recv_reply(q), "GenericError", "nesting depth");
    assert_alive(q);
    g_string_free(big, TRUE);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_chunking(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    const char *cmd = "{\"execute\": \"query-name\", \"id\": \"a{\\\"}\"}"
                      "{\"execute\":\"query-version\",\"id\":2}";
    JsonObject *r;

    for (const char *p = cmd; *p; p++) {
        tq_send_raw(q, p, 1);
        g_usleep(200);
    }
    r = tq_recv_reply(q);
    g_assert_cmpstr(json_object_get_string_member(r, "id"), ==, "a{\"}");
    g_assert_cmpstr(
        json_object_get_string_member(json_node_get_object(tq_return(r)), "name"), ==,
        "testd");
    json_object_unref(r);
    r = tq_recv_reply(q);
    g_assert_cmpint(json_object_get_int_member(r, "id"), ==, 2);
    json_object_unref(r);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                    */
/* ------------------------------------------------------------------------ */

static void test_queries(void)
{
    static const char *const names[] = {
        "qmp_capabilities",
        "query-qcontexts",
        "query-devices",
        "qom-list",
        "qom-get",
        "qom-set",
        "object-add",
        "object-del",
        "device-set-context",
        "query-name",
        "query-version",
        "query-commands",
        "quit",
    };
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    JsonObject *r = tq_cmd(q, "{\"execute\": \"query-commands\"}");
    JsonArray *arr = json_node_get_array(tq_return(r));
    JsonObject *io0, *g0, *st, *lat, *tick;

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        gboolean found = FALSE;
        for (guint k = 0; k < json_array_get_length(arr); k++) {
            JsonObject *o = json_array_get_object_element(arr, k);
            found |= !g_strcmp0(json_object_get_string_member(o, "name"), names[i]);
        }
        g_assert_true(found);
    }
    json_object_unref(r);

    r = tq_cmd(q, "{\"execute\": \"query-version\"}");
    g_assert_true(
        json_object_has_member(json_node_get_object(tq_return(r)), "qcontext"));
    g_assert_true(json_object_has_member(json_node_get_object(tq_return(r)), "qemu"));
    json_object_unref(r);

    r = tq_cmd(q, "{\"execute\": \"query-qcontexts\"}");
    arr = json_node_get_array(tq_return(r));
    g_assert_nonnull(tq_find_id(arr, "main"));
    io0 = tq_find_id(arr, "io0");
    g0 = tq_find_id(arr, "g0");
    g_assert_nonnull(io0);
    g_assert_nonnull(g0);
    g_assert_cmpstr(json_object_get_string_member(io0, "type"), ==, "aio-qcontext");
    g_assert_cmpstr(json_object_get_string_member(g0, "type"), ==, "glib-qcontext");
    g_assert_true(json_object_get_boolean_member(io0, "threaded"));
    g_assert_cmpint(json_object_get_int_member(io0, "thread-id"), >, 0);
    g_assert_cmpint(json_object_get_int_member(io0, "thread-id"), !=,
                    json_object_get_int_member(g0, "thread-id"));
    g_assert_true(json_object_has_member(io0, "cpu-affinity"));
    g_assert_true(json_object_has_member(io0, "poll-max-ns"));
    g_assert_true(json_object_has_member(io0, "poll-grow"));
    g_assert_true(json_object_has_member(io0, "poll-shrink"));
    g_assert_true(json_object_has_member(io0, "fdmon"));
    st = json_object_get_object_member(io0, "stats");
    for (const char *const *k =
             (const char *const[]){"iterations", "dispatches", "wakeups", "busy-ns",
                                   "wait-ns", "poll-ns", NULL};
         *k; k++) {
        g_assert_true(json_object_has_member(st, *k));
    }
    g_assert_cmpint(json_object_get_int_member(st, "iterations"), >, 0);
    lat = json_object_get_object_member(st, "wakeup-latency");
    g_assert_true(json_object_has_member(lat, "p50"));
    g_assert_true(json_object_has_member(lat, "p99"));
    g_assert_true(json_object_has_member(lat, "p99.9"));
    g_assert_true(json_object_has_member(lat, "count"));
    g_assert_cmpint(json_object_get_int_member(lat, "p50"), <=,
                    json_object_get_int_member(lat, "p99.9"));
    /* Percentiles never exceed the exact maximum. */
    g_assert_cmpint(json_object_get_int_member(lat, "p99.9"), <=,
                    json_object_get_int_member(lat, "max"));
    g_assert_false(json_object_has_member(lat, "buckets"));
    json_object_unref(r);

    r = tq_cmd(q, "{\"execute\": \"query-devices\"}");
    tick = tq_find_id(json_node_get_array(tq_return(r)), "tick0");
    g_assert_nonnull(tick);
    g_assert_cmpstr(json_object_get_string_member(tick, "type"), ==, "ticker");
    g_assert_cmpstr(json_object_get_string_member(tick, "context"), ==, "io0");
    g_assert_cmpstr(json_object_get_string_member(tick, "state"), ==, "running");
    json_object_unref(r);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* The object tree                                                            */
/* ------------------------------------------------------------------------ */

static gboolean list_has(JsonObject *reply, const char *name, const char *type)
{
    JsonArray *arr = json_node_get_array(tq_return(reply));

    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);
        if (!g_strcmp0(json_object_get_string_member(o, "name"), name)) {
            return !type || !g_strcmp0(json_object_get_string_member(o, "type"), type);
        }
    }
    return FALSE;
}

static gint64 poll_max_ns(TestQmp *q, const char *id)
{
    JsonObject *r = tq_cmd(q, "{\"execute\": \"query-qcontexts\"}");
    JsonObject *ctx = tq_find_id(json_node_get_array(tq_return(r)), id);
    gint64 v;

    g_assert_nonnull(ctx);
    v = json_object_get_int_member(ctx, "poll-max-ns");
    json_object_unref(r);
    return v;
}

static void test_qom(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    JsonObject *r;

    r = tq_cmd(q, "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/\"}}");
    g_assert_true(list_has(r, "objects", NULL) && list_has(r, "devices", NULL));
    json_object_unref(r);
    r = tq_cmd(q,
               "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/objects\"}}");
    g_assert_true(list_has(r, "io0", "child<aio-qcontext>"));
    g_assert_true(list_has(r, "g0", "child<glib-qcontext>"));
    json_object_unref(r);
    r = tq_cmd(q,
               "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/devices\"}}");
    g_assert_true(list_has(r, "tick0", "child<ticker>"));
    json_object_unref(r);
    r = tq_cmd(
        q, "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/objects/io0\"}}");
    g_assert_true(list_has(r, "poll-max-ns", NULL));
    g_assert_true(list_has(r, "threaded", "bool"));
    g_assert_true(list_has(r, "type", "string"));
    json_object_unref(r);
    tq_assert_error(
        tq_cmd(q,
               "{\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/nowhere\"}}"),
        "DeviceNotFound", "not found");

    r = tq_cmd(q,
               "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/io0\", "
               "\"property\": \"threaded\"}}");
    g_assert_true(json_node_get_boolean(tq_return(r)));
    json_object_unref(r);
    r = tq_cmd(
        q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/devices/tick0\", "
           "\"property\": \"context\"}}");
    g_assert_cmpstr(json_node_get_string(tq_return(r)), ==,
                    "/objects/io0"); /* a link reads as a QOM path */
    json_object_unref(r);
    r = tq_cmd(q,
               "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/g0\", "
               "\"property\": \"type\"}}");
    g_assert_cmpstr(json_node_get_string(tq_return(r)), ==, "glib-qcontext");
    json_object_unref(r);
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
                              "\"/objects/io0\", \"property\": \"no-such\"}}"),
                    "GenericError", "no-such");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
                              "\"/objects/nope\", \"property\": \"threaded\"}}"),
                    "DeviceNotFound", "not found");

    /* qom-set on a running context shows in query-qcontexts. */
    tq_return(r = tq_cmd(q, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
                            "\"/objects/io0\", \"property\": \"poll-max-ns\", "
                            "\"value\": 12345}}"));
    json_object_unref(r);
    g_assert_cmpint(poll_max_ns(q, "io0"), ==, 12345);
    r = tq_cmd(q,
               "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/io0\", "
               "\"property\": \"poll-max-ns\"}}");
    g_assert_cmpint(json_node_get_int(tq_return(r)), ==, 12345);
    json_object_unref(r);
    tq_return(r = tq_cmd(q, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
                            "\"io0\", \"property\": \"poll-max-ns\", "
                            "\"value\": 2000}}"));
    json_object_unref(r);
    g_assert_cmpint(poll_max_ns(q, "io0"), ==, 2000);
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
                              "\"/objects/io0\", \"property\": \"poll-max-ns\", "
                              "\"value\": -5}}"),
                    "GenericError", "-5");
    g_assert_cmpint(poll_max_ns(q, "io0"), ==, 2000);
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
                              "\"/objects/io0\", \"property\": \"threaded\", "
                              "\"value\": false}}"),
                    "GenericError", "threaded");
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static gboolean has_thread(GPid pid, const char *comm)
{
    g_autofree char *names = td_thread_names(pid);
    g_autofree char *line = g_strdup_printf("%s\n", comm);

    return g_str_has_prefix(names, line) || strstr(names, line) != NULL;
}

/*
 * A joined thread leaves /proc a moment after pthread_join() returns (the
 * kernel releases the task after clearing its tid): wait for it, up to 2 s.
 */
static gboolean thread_gone(GPid pid, const char *comm)
{
    for (int i = 0; i < 400 && has_thread(pid, comm); i++) {
        g_usleep(5000);
    }
    return !has_thread(pid, comm);
}

static void test_object_add_del(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    JsonObject *r;

    g_assert_false(has_thread(d->pid, "qctx/io1"));
    tq_return(r = tq_cmd(q,
                         "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                         "\"aio-qcontext\", \"id\": \"io1\", \"threaded\": true, "
                         "\"poll-max-ns\": 777}}"));
    json_object_unref(r);
    g_assert_true(has_thread(d->pid, "qctx/io1"));
    g_assert_cmpint(poll_max_ns(q, "io1"), ==, 777);

    tq_assert_error(
        tq_cmd(q, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                  "\"aio-qcontext\", \"id\": \"io1\"}}"),
        "GenericError", "io1");
    tq_assert_error(
        tq_cmd(q, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                  "\"no-such-type\", \"id\": \"x\"}}"),
        "GenericError", "no-such-type");
    tq_assert_error(
        tq_cmd(q, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                  "\"aio-qcontext\", \"id\": \"x\", \"bogus-prop\": 1}}"),
        "GenericError", "bogus-prop");
    tq_assert_error(
        tq_cmd(q, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                  "\"aio-qcontext\", \"id\": \"x\", \"fdmon\": \"fast\"}}"),
        "GenericError", "fast");
    tq_assert_error(
        tq_cmd(q, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                  "\"ticker\", \"id\": \"t9\"}}"),
        "GenericError", "device");
    g_assert_false(has_thread(d->pid, "qctx/x"));

    /* io0 runs tick0: the veto refuses, and its thread keeps running. */
    tq_assert_error(tq_cmd(q, "{\"execute\": \"object-del\", \"arguments\": {\"id\": "
                              "\"io0\"}}"),
                    "GenericError", "tick0");
    g_assert_true(has_thread(d->pid, "qctx/io0"));
    tq_assert_error(tq_cmd(q, "{\"execute\": \"object-del\", \"arguments\": {\"id\": "
                              "\"main\"}}"),
                    "GenericError", "main");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"object-del\", \"arguments\": {\"id\": "
                              "\"nope\"}}"),
                    "GenericError", "nope");

    tq_return(r = tq_cmd(q, "{\"execute\": \"object-del\", \"arguments\": {\"id\": "
                            "\"io1\"}}"));
    json_object_unref(r);
    g_assert_true(thread_gone(d->pid, "qctx/io1"));
    r = tq_cmd(q, "{\"execute\": \"query-qcontexts\"}");
    g_assert_null(tq_find_id(json_node_get_array(tq_return(r)), "io1"));
    json_object_unref(r);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Device moves, events, several clients, quit                                */
/* ------------------------------------------------------------------------ */

/* An event's timestamp: wall-clock seconds (within a minute of now) and
 * microseconds. */
static void assert_timestamp(JsonObject *ev)
{
    JsonObject *ts = json_object_get_object_member(ev, "timestamp");
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;

    g_assert_nonnull(ts);
    g_assert_cmpint(json_object_get_int_member(ts, "seconds"), >, now - 60);
    g_assert_cmpint(json_object_get_int_member(ts, "seconds"), <=, now + 1);
    g_assert_cmpint(json_object_get_int_member(ts, "microseconds"), >=, 0);
    g_assert_cmpint(json_object_get_int_member(ts, "microseconds"), <, G_USEC_PER_SEC);
}

static void assert_moved(JsonObject *ev, const char *from, const char *to)
{
    JsonObject *data = json_object_get_object_member(ev, "data");

    g_assert_cmpstr(json_object_get_string_member(ev, "event"), ==, "DEVICE_MOVED");
    g_assert_cmpstr(json_object_get_string_member(data, "device"), ==, "tick0");
    g_assert_cmpstr(json_object_get_string_member(data, "old-context"), ==, from);
    g_assert_cmpstr(json_object_get_string_member(data, "context"), ==, to);
    assert_timestamp(ev);
    json_object_unref(ev);
}

static void test_device_move(void)
{
    TestDaemon *d = start_std();
    TestQmp *a = tq_connect(d->sock);
    TestQmp *b = tq_connect(d->sock);
    TestQmp *raw = tq_connect_raw(d->sock); /* not negotiated: no events */
    JsonObject *m, *r, *tick;

    json_object_unref(tq_recv_any(raw));
    tq_send_raw(
        a,
        "{\"execute\": \"device-set-context\", \"id\": 5, \"arguments\": "
        "{\"id\": \"tick0\", \"context\": \"g0\"}}\n",
        strlen("{\"execute\": \"device-set-context\", \"id\": 5, \"arguments\": "
               "{\"id\": \"tick0\", \"context\": \"g0\"}}\n"));
    /* The reply comes first, then the event, on the requesting client. */
    m = tq_recv_any(a);
    g_assert_cmpint(json_object_get_int_member(m, "id"), ==, 5);
    tq_return(m);
    json_object_unref(m);
    assert_moved(tq_recv_any(a), "io0", "g0");
    assert_moved(tq_wait_event(b, "DEVICE_MOVED"), "io0", "g0");

    r = tq_cmd(a, "{\"execute\": \"query-devices\"}");
    tick = tq_find_id(json_node_get_array(tq_return(r)), "tick0");
    g_assert_cmpstr(json_object_get_string_member(tick, "context"), ==, "g0");
    g_assert_cmpstr(json_object_get_string_member(tick, "state"), ==, "running");
    g_assert_cmpint(json_object_get_int_member(tick, "moves"), ==, 1);
    json_object_unref(r);

    /* From the other client, back to io0. */
    tq_return(r = tq_cmd(b, "{\"execute\": \"device-set-context\", \"arguments\": "
                            "{\"id\": \"tick0\", \"context\": \"io0\"}}"));
    json_object_unref(r);
    assert_moved(tq_wait_event(b, "DEVICE_MOVED"), "g0", "io0");
    assert_moved(tq_wait_event(a, "DEVICE_MOVED"), "g0", "io0");

    tq_assert_error(tq_cmd(a, "{\"execute\": \"device-set-context\", \"arguments\": "
                              "{\"id\": \"nope\", \"context\": \"g0\"}}"),
                    "DeviceNotFound", "Device 'nope' not found");
    tq_assert_error(tq_cmd(a, "{\"execute\": \"device-set-context\", \"arguments\": "
                              "{\"id\": \"tick0\", \"context\": \"nope\"}}"),
                    "GenericError", "nope");

    /* The un-negotiated client saw no event: its next message is this reply. */
    tq_return(r = tq_cmd(raw, "{\"execute\": \"qmp_capabilities\"}"));
    json_object_unref(r);
    g_assert_true(g_queue_is_empty(&raw->events));
    tq_free(raw);
    tq_free(a);
    tq_free(b);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static gint64 main_iterations(TestQmp *q, JsonObject **main_out)
{
    JsonObject *r = tq_cmd(q, "{\"execute\": \"query-qcontexts\"}");
    JsonObject *m = tq_find_id(json_node_get_array(tq_return(r)), "main");
    gint64 n;

    g_assert_nonnull(m);
    n = json_object_get_int_member(json_object_get_object_member(m, "stats"),
                                   "iterations");
    if (main_out) {
        *main_out = json_object_ref(m);
    }
    json_object_unref(r);
    return n;
}

/*
 * "main" serves the monitor: it runs, on the daemon's main thread (whose
 * tid is the pid), and its iterations count the main loop's (each request
 * takes at least one), even with no device on it.
 */
static void test_main_context(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    JsonObject *m = NULL;
    gint64 before = main_iterations(q, &m), after;

    g_assert_true(json_object_get_boolean_member(m, "running"));
    g_assert_false(json_object_get_boolean_member(m, "threaded"));
    g_assert_cmpint(json_object_get_int_member(m, "thread-id"), ==, d->pid);
    json_object_unref(m);
    for (int i = 0; i < 10; i++) {
        assert_alive(q);
    }
    after = main_iterations(q, NULL);
    g_assert_cmpint(after - before, >=, 10);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_quit(void)
{
    TestDaemon *d = start_std();
    TestQmp *a = tq_connect(d->sock);
    TestQmp *b = tq_connect(d->sock);
    JsonObject *m;
    g_autofree char *sock = g_strdup(d->sock);

    tq_send_raw(a, "{\"execute\": \"quit\", \"id\": \"bye\"}\n",
                strlen("{\"execute\": \"quit\", \"id\": \"bye\"}\n"));
    m = tq_recv_any(a);
    g_assert_cmpstr(json_object_get_string_member(m, "id"), ==, "bye");
    tq_return(m);
    json_object_unref(m);
    for (int i = 0; i < 2; i++) {
        TestQmp *q = i ? b : a;
        JsonObject *ev = tq_wait_event(q, "SHUTDOWN");
        JsonObject *data = json_object_get_object_member(ev, "data");
        g_assert_cmpstr(json_object_get_string_member(data, "reason"), ==,
                        "host-qmp-quit");
        json_object_unref(ev);
        /* Exactly one SHUTDOWN, then the daemon closes the connection. */
        while ((m = tq_recv_any(q))) {
            g_assert_cmpstr(json_object_get_string_member(m, "event"), !=, "SHUTDOWN");
            json_object_unref(m);
        }
    }
    g_assert_true(td_reap(d, TD_TIMEOUT_MS));
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    tq_free(a);
    tq_free(b);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* SIGTERM: every negotiated client gets one SHUTDOWN (host-signal), the
 * daemon exits 0 and removes its socket. */
static void test_sigterm_shutdown(void)
{
    TestDaemon *d = start_std();
    TestQmp *a = tq_connect(d->sock);
    TestQmp *b = tq_connect(d->sock);
    g_autofree char *sock = g_strdup(d->sock);
    JsonObject *m;

    g_assert_cmpint(kill(d->pid, SIGTERM), ==, 0);
    for (int i = 0; i < 2; i++) {
        TestQmp *q = i ? b : a;
        JsonObject *ev = tq_wait_event(q, "SHUTDOWN");
        JsonObject *data = json_object_get_object_member(ev, "data");

        g_assert_cmpstr(json_object_get_string_member(data, "reason"), ==,
                        "host-signal");
        g_assert_false(json_object_get_boolean_member(data, "guest"));
        assert_timestamp(ev);
        json_object_unref(ev);
        while ((m = tq_recv_any(q))) {
            g_assert_cmpstr(json_object_get_string_member(m, "event"), !=, "SHUTDOWN");
            json_object_unref(m);
        }
    }
    g_assert_true(td_reap(d, TD_TIMEOUT_MS));
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    tq_free(a);
    tq_free(b);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_socket_in_use(void)
{
    TestDaemon *d = start_std();
    g_autofree char *mon = g_strdup_printf("unix:%s,server=on", d->sock);
    const char *argv[] = {td_binary(), "-monitor", mon, NULL};
    g_autofree char *out = NULL, *err_text = NULL;
    GError *err = NULL;
    int status;
    TestQmp *q;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err_text, &status, &err));
    g_assert_no_error(err);
    g_assert_false(g_spawn_check_wait_status(status, NULL));
    g_assert_nonnull(strstr(err_text, "already listening"));
    /* The first daemon still serves. */
    q = tq_connect(d->sock);
    assert_alive(q);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* -monitor stdio                                                            */
/* ------------------------------------------------------------------------ */

/*
 * With -monitor stdio, stdout carries only QMP, from its first byte (the
 * greeting) to the last: the progress lines ("created ...", "ready",
 * "shutting down", device totals) go to stderr, even those printed before
 * the monitor starts.
 */
static void test_stdio(void)
{
    const char *argv[] = {td_binary(),
                          "-object",
                          "aio-qcontext,id=io0,threaded=on",
                          "-device",
                          "ticker,id=tick0,context=io0",
                          "-monitor",
                          "stdio",
                          NULL};
    GPid pid;
    int in_fd, out_fd, err_fd, st;
    GError *err = NULL;
    TestQmp *q = g_new0(TestQmp, 1);
    JsonObject *m;
    g_autoptr(GIOChannel) ch = NULL;
    g_autofree char *errtext = NULL;

    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, td_child_setup,
                                           NULL, &pid, &in_fd, &out_fd, &err_fd, &err));
    g_assert_no_error(err);
    q->fd = out_fd;
    q->in = g_string_new(NULL);
    g_queue_init(&q->events);
    m = tq_recv_any(q);
    g_assert_true(json_object_has_member(m, "QMP"));
    json_object_unref(m);
    g_assert_cmpint(write(in_fd,
                          "{\"execute\":\"qmp_capabilities\"}\n"
                          "{\"execute\":\"query-name\",\"id\":1}\n"
                          "{\"execute\":\"quit\",\"id\":2}\n",
                          strlen("{\"execute\":\"qmp_capabilities\"}\n"
                                 "{\"execute\":\"query-name\",\"id\":1}\n"
                                 "{\"execute\":\"quit\",\"id\":2}\n")),
                    >, 0);
    for (int id = 0; id <= 2; id++) {
        m = tq_recv_reply(q);
        tq_return(m);
        if (id) {
            g_assert_cmpint(json_object_get_int_member(m, "id"), ==, id);
        }
        json_object_unref(m);
    }
    json_object_unref(tq_wait_event(q, "SHUTDOWN"));
    /* Nothing but JSON objects up to the end (tq_recv_any asserts each). */
    while ((m = tq_recv_any(q))) {
        json_object_unref(m);
    }
    g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
    g_assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ch = g_io_channel_unix_new(err_fd);
    g_io_channel_set_close_on_unref(ch, TRUE);
    g_assert_cmpint(g_io_channel_read_to_end(ch, &errtext, NULL, NULL), ==,
                    G_IO_STATUS_NORMAL);
    g_assert_nonnull(strstr(errtext, "created aio-qcontext 'io0'"));
    g_assert_nonnull(strstr(errtext, "ready"));
    g_assert_nonnull(strstr(errtext, "device 'tick0'"));
    g_spawn_close_pid(pid);
    close(in_fd);
    tq_free(q); /* closes out_fd */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!td_binary() || !g_file_test(td_binary(), G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("QCONTEXTD is not set to the qcontextd binary");
        return g_test_run();
    }
    signal(SIGPIPE, SIG_IGN);
    g_test_add_func("/monitor/greeting", test_greeting);
    g_test_add_func("/monitor/bad-input", test_bad_input);
    g_test_add_func("/monitor/oversized", test_oversized);
    g_test_add_func("/monitor/chunking", test_chunking);
    g_test_add_func("/monitor/queries", test_queries);
    g_test_add_func("/monitor/qom", test_qom);
    g_test_add_func("/monitor/object-add-del", test_object_add_del);
    g_test_add_func("/monitor/device-move", test_device_move);
    g_test_add_func("/monitor/main-context", test_main_context);
    g_test_add_func("/monitor/quit", test_quit);
    g_test_add_func("/monitor/sigterm-shutdown", test_sigterm_shutdown);
    g_test_add_func("/monitor/socket-in-use", test_socket_in_use);
    g_test_add_func("/monitor/stdio", test_stdio);
    return g_test_run();
}

/*
 * test-monitor-json: the monitor reads strict JSON and writes only JSON,
 * against the real qcontextd ($QCONTEXTD).
 *
 * SPDX-License-Identifier: MIT
 */
#include "test-monitor-util.h"

static TestDaemon *start_std(void)
{
    return td_start("-name", "testd", "-object", "aio-qcontext,id=io0,threaded=on",
                    NULL);
}

static void assert_alive(TestQmp *q)
{
    JsonObject *r = tq_cmd(q, "{\"execute\": \"query-version\", \"id\": \"alive\"}");

    tq_return(r);
    g_assert_cmpstr(json_object_get_string_member(r, "id"), ==, "alive");
    json_object_unref(r);
}

/*
 * The reader is strict JSON (RFC 8259) and every reply is JSON: numbers
 * that do not fit are errors (not inf.0, not a wrapped integer), duplicate
 * keys are refused (not "last one wins"), and json-glib's extensions
 * (single quotes, comments, leading zeros) are errors too.
 */
static void test_json_strict(void)
{
    static const struct {
        const char *input, *desc;
    } bad[] = {
        {"{\"execute\": \"query-name\", \"execute\": \"quit\"}",
         "duplicate key 'execute'"},
        {"{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/io0\", "
         "\"path\": \"/objects/g0\", \"property\": \"type\"}}",
         "duplicate key 'path'"},
        {"{\"execute\": \"query-version\", \"id\": 1e99999}", "out of range"},
        {"{\"execute\": \"query-version\", \"id\": -1e99999}", "out of range"},
        {"{\"execute\": \"query-version\", \"id\": 18446744073709551617}",
         "out of range"},
        {"{\"execute\": \"query-version\", \"id\": 9223372036854775808}",
         "out of range"},
        {"{\"execute\": \"query-version\", \"id\": -9223372036854775809}",
         "out of range"},
        {"{'execute': 'query-version'}", "JSON parse error"},
        {"{\"execute\": \"query-version\" /* c */}", "JSON parse error"},
        {"{\"execute\": \"query-version\", \"id\": 01}", "JSON parse error"},
        {"{\"execute\": \"query-version\", \"id\": .5}", "JSON parse error"},
        {"{\"execute\": \"query-version\", \"id\": 1.}", "JSON parse error"},
        {"{\"execute\": \"query-version\", \"id\": +1}", "JSON parse error"},
        {"{\"execute\": \"query-version\", \"id\": [1,]}", "JSON parse error"},
        {"{\"execute\": \"query-version\", \"id\": \"a\\u0000b\"}", "\\u0000"},
        {"{\"execute\": \"query-version\", \"id\": \"\\ud800\"}", "surrogate"},
        {"{\"execute\": \"query-version\", \"id\": \"\\udc00x\"}", "surrogate"},
        {"{\"execute\": \"query-version\", \"id\": \"\\x41\"}", "JSON parse error"},
        {"{\"execute\": \"query-version\", \"id\": \"\xff\xfe\"}", "UTF-8"},
        {"{\"execute\": \"query-version\", \"id\": \"\xc0\xaf\"}", "UTF-8"},
        {"{\"execute\": \"query-version\", \"id\": tru}", "JSON parse error"},
    };
    static const struct {
        const char *id_json, *id_back; /* the id sent, and as it must come back */
    } good[] = {
        {"-9223372036854775808", "-9223372036854775808"},
        {"9223372036854775807", "9223372036854775807"},
        {"-0", "0"},
        {"\"\\ud83d\\ude00 \\u00e9\\/\\t\"", "\"\xf0\x9f\x98\x80 \xc3\xa9/\\t\""},
        {"1e-400", "0.0"},
    };
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *shown = g_strescape(bad[i].input, NULL);
        JsonObject *r;

        g_test_message("input: %s", shown);
        tq_send_raw(q, bad[i].input, strlen(bad[i].input));
        tq_send_raw(q, "\n", 1);
        r = tq_recv_reply(q);
        g_assert_false(json_object_has_member(r, "id"));
        tq_assert_error(r, "GenericError", bad[i].desc);
        assert_alive(q); /* and the duplicate "quit" did not run */
    }
    for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *line = NULL;
        JsonObject *r;

        g_test_message("id: %s", good[i].id_json);
        r = tq_cmd(q, "{\"execute\": \"query-name\", \"id\": %s}", good[i].id_json);
        tq_return(r);
        line = tq_node_to_string(json_object_get_member(r, "id"));
        g_assert_cmpstr(line, ==, good[i].id_back);
        json_object_unref(r);
    }
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!td_binary() || !g_file_test(td_binary(), G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("QCONTEXTD is not set to the qcontextd binary");
        return g_test_run();
    }
    signal(SIGPIPE, SIG_IGN);
    g_test_add_func("/monitor-json/strict", test_json_strict);
    return g_test_run();
}

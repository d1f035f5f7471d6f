/*
 * test-monitor-qom: the object tree and introspection as QEMU's QMP shows
 * them, against the real qcontextd ($QCONTEXTD): qom-list entries with
 * QEMU's keys only, containers with a type, links as paths, unset strings
 * as "", qom-list-get; strict value types in qom-set and object-add;
 * qom-list-types, qom-list-properties, device-list-properties and a
 * query-qmp-schema whose every type reference resolves.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test-monitor-util.h"

static TestDaemon *start_std(void)
{
    return td_start("-object", "aio-qcontext,id=io0,threaded=on", "-object",
                    "glib-qcontext,id=g0,threaded=on", "-device",
                    "ticker,id=tick0,context=io0,interval-us=2000", NULL);
}

/* Run @fmt, which must succeed; its "return" as a new reference. */
static JsonNode *ok(TestQmp *q, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static JsonNode *ok(TestQmp *q, const char *fmt, ...)
{
    g_autofree char *text = NULL;
    JsonObject *r;
    JsonNode *ret;
    va_list ap;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    r = tq_cmd(q, "%s", text);
    ret = json_node_copy(tq_return(r));
    json_object_unref(r);
    return ret;
}

/* The element of array @arr whose "name" is @name, or NULL. */
static JsonObject *by_name(JsonArray *arr, const char *name)
{
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);
        if (!g_strcmp0(json_object_get_string_member(o, "name"), name)) {
            return o;
        }
    }
    return NULL;
}

static const char *type_of(JsonArray *arr, const char *name)
{
    JsonObject *o = by_name(arr, name);

    g_assert_nonnull(o);
    return json_object_get_string_member(o, "type");
}

/* QEMU's qom tools assert name, type <= keys <= name, type, description,
 * default-value. */
static void assert_qemu_keys(JsonArray *arr)
{
    static const char *const allowed[] = {"name", "type", "description",
                                          "default-value", NULL};

    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);
        g_autoptr(GList) keys = json_object_get_members(o);

        g_assert_true(json_object_has_member(o, "name"));
        g_assert_true(json_object_has_member(o, "type"));
        for (GList *l = keys; l; l = l->next) {
            if (!g_strv_contains(allowed, l->data)) {
                g_error("qom-list entry has key '%s'", (char *)l->data);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */

static void test_tree(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    g_autoptr(JsonNode) root = ok(q, "{\"execute\": \"qom-list\", \"arguments\": "
                                     "{\"path\": \"/\"}}");
    g_autoptr(JsonNode) objs = ok(q, "{\"execute\": \"qom-list\", \"arguments\": "
                                     "{\"path\": \"/objects\"}}");
    g_autoptr(JsonNode) io0 = ok(q, "{\"execute\": \"qom-list\", \"arguments\": "
                                    "{\"path\": \"/objects/io0\"}}");
    g_autoptr(JsonNode) tick = ok(q, "{\"execute\": \"qom-list\", \"arguments\": "
                                     "{\"path\": \"/devices/tick0\"}}");
    g_autoptr(JsonNode) v = NULL;
    JsonObject *e;

    for (JsonNode *const *n = (JsonNode *const[]){root, objs, io0, tick, NULL}; *n;
         n++) {
        assert_qemu_keys(json_node_get_array(*n));
    }
    g_assert_cmpstr(type_of(json_node_get_array(root), "type"), ==, "string");
    g_assert_cmpstr(type_of(json_node_get_array(root), "objects"), ==,
                    "child<container>");
    g_assert_cmpstr(type_of(json_node_get_array(objs), "type"), ==, "string");
    g_assert_cmpstr(type_of(json_node_get_array(objs), "io0"), ==,
                    "child<aio-qcontext>");
    g_assert_cmpstr(type_of(json_node_get_array(io0), "threaded"), ==, "bool");
    g_assert_cmpstr(type_of(json_node_get_array(io0), "poll-max-ns"), ==, "int64");
    g_assert_cmpstr(type_of(json_node_get_array(io0), "cpu-affinity"), ==, "string");
    g_assert_cmpstr(type_of(json_node_get_array(io0), "fdmon"), ==, "AioQContextFdmon");
    g_assert_true(
        g_str_has_prefix(type_of(json_node_get_array(tick), "context"), "link<"));
    e = by_name(json_node_get_array(io0), "poll-max-ns");
    g_assert_cmpint(json_object_get_int_member(e, "default-value"), ==, 32768);
    g_assert_true(json_object_has_member(e, "description"));

    /* Containers answer qom-get "type"; links read as paths; unset strings "". */
    v = ok(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/\", "
              "\"property\": \"type\"}}");
    g_assert_cmpstr(json_node_get_string(v), ==, "container");
    g_clear_pointer(&v, json_node_unref);
    v = ok(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/devices\", "
              "\"property\": \"type\"}}");
    g_assert_cmpstr(json_node_get_string(v), ==, "container");
    g_clear_pointer(&v, json_node_unref);
    v = ok(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"tick0\", "
              "\"property\": \"context\"}}");
    g_assert_cmpstr(json_node_get_string(v), ==, "/objects/io0");
    g_clear_pointer(&v, json_node_unref);
    v = ok(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/io0\", "
              "\"property\": \"cpu-affinity\"}}");
    g_assert_cmpstr(json_node_get_string(v), ==, "");
    g_clear_pointer(&v, json_node_unref);
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
                              "\"/objects\", \"property\": \"nope\"}}"),
                    "GenericError", "nope");
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_list_get(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    g_autoptr(JsonNode) v = ok(q, "{\"execute\": \"qom-list-get\", \"arguments\": "
                                  "{\"paths\": [\"/objects/io0\", \"/\", \"tick0\"]}}");
    JsonArray *arr = json_node_get_array(v), *props;
    JsonObject *e;

    g_assert_cmpuint(json_array_get_length(arr), ==, 3);
    props = json_object_get_array_member(json_array_get_object_element(arr, 0),
                                         "properties");
    e = by_name(props, "threaded");
    g_assert_cmpstr(json_object_get_string_member(e, "type"), ==, "bool");
    g_assert_true(json_object_get_boolean_member(e, "value"));
    e = by_name(props, "type");
    g_assert_cmpstr(json_object_get_string_member(e, "value"), ==, "aio-qcontext");
    props = json_object_get_array_member(json_array_get_object_element(arr, 1),
                                         "properties");
    e = by_name(props, "objects");
    g_assert_cmpstr(json_object_get_string_member(e, "type"), ==, "child<container>");
    g_assert_cmpstr(json_object_get_string_member(e, "value"), ==, "/objects");
    props = json_object_get_array_member(json_array_get_object_element(arr, 2),
                                         "properties");
    e = by_name(props, "context");
    g_assert_cmpstr(json_object_get_string_member(e, "value"), ==, "/objects/io0");

    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-list-get\", \"arguments\": "
                              "{\"paths\": [\"/objects/io0\", \"/objects/nope\"]}}"),
                    "DeviceNotFound", "/objects/nope");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-list-get\", \"arguments\": "
                              "{\"paths\": [\"/objects/io0\", 7]}}"),
                    "GenericError", "expected: array of strings");
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* Values must have the property's JSON type, as QEMU's QMP requires. */
static void test_strict_types(void)
{
    static const struct {
        const char *cmd, *desc;
    } bad[] = {
        {"{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/objects/io0\", "
         "\"property\": \"poll-max-ns\", \"value\": \"65536\"}}",
         "Invalid parameter type for 'poll-max-ns', expected: integer"},
        {"{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/objects/io0\", "
         "\"property\": \"poll-max-ns\", \"value\": 1.5}}",
         "expected: integer"},
        {"{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/objects/io0\", "
         "\"property\": \"poll-grow\", \"value\": true}}",
         "expected: integer"},
        {"{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/devices/tick0\", "
         "\"property\": \"interval-us\", \"value\": \"5000\"}}",
         "expected: integer"},
        {"{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
         "\"aio-qcontext\", "
         "\"id\": \"x1\", \"threaded\": \"yes\"}}",
         "Invalid parameter type for 'threaded', expected: boolean"},
        {"{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
         "\"aio-qcontext\", "
         "\"id\": \"x1\", \"poll-max-ns\": \"65536\"}}",
         "Invalid parameter type for 'poll-max-ns', expected: integer"},
        {"{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
         "\"aio-qcontext\", "
         "\"id\": \"x1\", \"fdmon\": 1}}",
         "Invalid parameter type for 'fdmon', expected: string"},
        {"{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
         "\"aio-qcontext\", "
         "\"id\": \"x1\", \"props\": {\"threaded\": 1}}}",
         "Invalid parameter type for 'threaded', expected: boolean"},
        {"{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
         "\"aio-qcontext\", "
         "\"id\": \"x1\", \"bogus\": 1}}",
         "Parameter 'bogus' is unexpected"},
    };
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    g_autoptr(JsonNode) v = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_test_message("%s", bad[i].cmd);
        tq_assert_error(tq_cmd(q, "%s", bad[i].cmd), "GenericError", bad[i].desc);
    }
    /* Nothing was created or changed by the refused commands. */
    v = ok(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/io0\", "
              "\"property\": \"poll-max-ns\"}}");
    g_assert_cmpint(json_node_get_int(v), ==, 32768);
    g_clear_pointer(&v, json_node_unref);
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
                              "\"/objects/x1\", \"property\": \"type\"}}"),
                    "DeviceNotFound", "x1");

    /* The right types work; a double property would take an integer too. */
    json_node_unref(ok(q, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                          "\"aio-qcontext\", \"id\": \"x1\", \"threaded\": false, "
                          "\"fdmon\": \"poll\", \"props\": {\"poll-max-ns\": 0}}}"));
    json_node_unref(ok(q, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
                          "\"/objects/x1\", \"property\": \"poll-max-ns\", "
                          "\"value\": 65536}}"));
    v = ok(q, "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/x1\", "
              "\"property\": \"poll-max-ns\"}}");
    g_assert_cmpint(json_node_get_int(v), ==, 65536);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Introspection                                                             */
/* ------------------------------------------------------------------------ */

static void test_list_types(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    g_autoptr(JsonNode) all = ok(q, "{\"execute\": \"qom-list-types\"}");
    g_autoptr(JsonNode) abs = ok(q, "{\"execute\": \"qom-list-types\", \"arguments\": "
                                    "{\"abstract\": true}}");
    g_autoptr(JsonNode) dev = ok(q, "{\"execute\": \"qom-list-types\", \"arguments\": "
                                    "{\"implements\": \"device\"}}");
    g_autoptr(JsonNode) props = NULL;
    JsonObject *e;

    e = by_name(json_node_get_array(all), "aio-qcontext");
    g_assert_nonnull(e);
    g_assert_true(json_object_has_member(e, "parent"));
    g_assert_false(json_object_has_member(e, "abstract"));
    g_assert_nonnull(by_name(json_node_get_array(all), "ticker"));
    g_assert_null(by_name(json_node_get_array(all), "device")); /* abstract */
    e = by_name(json_node_get_array(abs), "device");
    g_assert_nonnull(e);
    g_assert_true(json_object_get_boolean_member(e, "abstract"));
    g_assert_nonnull(by_name(json_node_get_array(abs), "object"));
    g_assert_nonnull(by_name(json_node_get_array(dev), "ticker"));
    g_assert_null(by_name(json_node_get_array(dev), "aio-qcontext"));

    props = ok(q, "{\"execute\": \"qom-list-properties\", \"arguments\": "
                  "{\"typename\": \"aio-qcontext\"}}");
    assert_qemu_keys(json_node_get_array(props));
    e = by_name(json_node_get_array(props), "poll-max-ns");
    g_assert_cmpint(json_object_get_int_member(e, "default-value"), ==, 32768);
    g_assert_cmpstr(type_of(json_node_get_array(props), "type"), ==, "string");
    g_clear_pointer(&props, json_node_unref);
    props = ok(q, "{\"execute\": \"device-list-properties\", \"arguments\": "
                  "{\"typename\": \"ticker\"}}");
    assert_qemu_keys(json_node_get_array(props));
    g_assert_cmpstr(type_of(json_node_get_array(props), "interval-us"), ==, "uint32");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-list-properties\", \"arguments\": "
                              "{\"typename\": \"nope\"}}"),
                    "DeviceNotFound", "nope");
    tq_assert_error(tq_cmd(q,
                           "{\"execute\": \"device-list-properties\", \"arguments\": "
                           "{\"typename\": \"nope\"}}"),
                    "DeviceNotFound", "Device 'nope' not found");
    tq_assert_error(tq_cmd(q,
                           "{\"execute\": \"device-list-properties\", \"arguments\": "
                           "{\"typename\": \"aio-qcontext\"}}"),
                    "GenericError", "expects device");
    tq_assert_error(tq_cmd(q,
                           "{\"execute\": \"device-list-properties\", \"arguments\": "
                           "{\"typename\": \"device\"}}"),
                    "GenericError", "non-abstract");
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* Every type a schema entry names is itself an entry. */
static void assert_schema_closed(JsonArray *schema, GHashTable *names)
{
    static const char *const refs[] = {"arg-type", "ret-type", "element-type", NULL};

    for (guint i = 0; i < json_array_get_length(schema); i++) {
        JsonObject *e = json_array_get_object_element(schema, i);
        JsonArray *members =
            json_object_has_member(e, "members") &&
                    strcmp(json_object_get_string_member(e, "meta-type"), "enum")
                ? json_object_get_array_member(e, "members")
                : NULL;

        for (const char *const *r = refs; *r; r++) {
            if (json_object_has_member(e, *r)) {
                g_assert_true(
                    g_hash_table_contains(names, json_object_get_string_member(e, *r)));
            }
        }
        for (guint k = 0; members && k < json_array_get_length(members); k++) {
            JsonObject *m = json_array_get_object_element(members, k);
            g_assert_true(
                g_hash_table_contains(names, json_object_get_string_member(m, "type")));
        }
    }
}

static void test_schema(void)
{
    TestDaemon *d = start_std();
    TestQmp *q = tq_connect(d->sock);
    g_autoptr(JsonNode) v = ok(q, "{\"execute\": \"query-qmp-schema\"}");
    g_autoptr(JsonNode) cmds = ok(q, "{\"execute\": \"query-commands\"}");
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    JsonArray *schema = json_node_get_array(v), *members, *variants;
    JsonObject *e, *args, *m;

    for (guint i = 0; i < json_array_get_length(schema); i++) {
        e = json_array_get_object_element(schema, i);
        g_assert_true(
            g_hash_table_add(names, (char *)json_object_get_string_member(e, "name")));
        g_assert_true(json_object_has_member(e, "meta-type"));
    }
    assert_schema_closed(schema, names);
    /* Every command of query-commands is described. */
    for (guint i = 0; i < json_array_get_length(json_node_get_array(cmds)); i++) {
        JsonObject *c = json_array_get_object_element(json_node_get_array(cmds), i);
        e = by_name(schema, json_object_get_string_member(c, "name"));
        g_assert_nonnull(e);
        g_assert_cmpstr(json_object_get_string_member(e, "meta-type"), ==, "command");
    }
    /* qom-set: path, property (str, required), value (any). */
    e = by_name(schema, "qom-set");
    args = by_name(schema, json_object_get_string_member(e, "arg-type"));
    members = json_object_get_array_member(args, "members");
    g_assert_cmpstr(type_of(members, "path"), ==, "str");
    g_assert_false(json_object_has_member(by_name(members, "path"), "default"));
    g_assert_cmpstr(type_of(members, "value"), ==, "any");
    /* query-qcontexts: an optional bool. */
    e = by_name(schema, "query-qcontexts");
    args = by_name(schema, json_object_get_string_member(e, "arg-type"));
    m = by_name(json_object_get_array_member(args, "members"), "histogram");
    g_assert_cmpstr(json_object_get_string_member(m, "type"), ==, "bool");
    g_assert_true(json_object_has_member(m, "default"));
    /* object-add: a union on qom-type; aio-qcontext's variant has its props. */
    e = by_name(schema, "object-add");
    args = by_name(schema, json_object_get_string_member(e, "arg-type"));
    g_assert_cmpstr(json_object_get_string_member(args, "tag"), ==, "qom-type");
    variants = json_object_get_array_member(args, "variants");
    e = NULL;
    for (guint i = 0; i < json_array_get_length(variants); i++) {
        JsonObject *var = json_array_get_object_element(variants, i);
        g_assert_cmpstr(json_object_get_string_member(var, "case"), !=, "ticker");
        if (!g_strcmp0(json_object_get_string_member(var, "case"), "aio-qcontext")) {
            e = by_name(schema, json_object_get_string_member(var, "type"));
        }
    }
    g_assert_nonnull(e);
    members = json_object_get_array_member(e, "members");
    g_assert_cmpstr(type_of(members, "poll-max-ns"), ==, "int64");
    g_assert_cmpstr(type_of(members, "threaded"), ==, "bool");
    e = by_name(schema, type_of(members, "fdmon"));
    g_assert_cmpstr(json_object_get_string_member(e, "meta-type"), ==, "enum");
    /* Events and builtins. */
    e = by_name(schema, "SHUTDOWN");
    g_assert_cmpstr(json_object_get_string_member(e, "meta-type"), ==, "event");
    e = by_name(schema, "DEVICE_MOVED");
    g_assert_cmpstr(json_object_get_string_member(e, "meta-type"), ==, "event");
    e = by_name(schema, "str");
    g_assert_cmpstr(json_object_get_string_member(e, "json-type"), ==, "string");
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
    g_test_add_func("/monitor-qom/tree", test_tree);
    g_test_add_func("/monitor-qom/list-get", test_list_get);
    g_test_add_func("/monitor-qom/strict-types", test_strict_types);
    g_test_add_func("/monitor-qom/list-types", test_list_types);
    g_test_add_func("/monitor-qom/schema", test_schema);
    return g_test_run();
}

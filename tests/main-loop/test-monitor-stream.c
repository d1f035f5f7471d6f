/*
 * test-monitor-stream: the monitor's JSON framer over arbitrary chunking.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <glib.h>

#include "monitor-stream.h"

typedef struct {
    GPtrArray *items; /* "M:<msg>" or "E:<error>" */
} Collect;

static void collect_cb(void *opaque, const char *msg, gsize len, const char *error)
{
    Collect *c = opaque;

    g_assert_true((msg == NULL) != (error == NULL));
    if (msg) {
        g_assert_cmpuint(strlen(msg), ==, len);
        g_ptr_array_add(c->items, g_strdup_printf("M:%s", msg));
    } else {
        g_ptr_array_add(c->items, g_strdup_printf("E:%s", error));
    }
}

/* Feed @input in chunks of @chunk bytes (0 = all at once). */
static GPtrArray *frame(const char *input, gsize chunk, gsize max_len, guint max_depth)
{
    Collect c = {g_ptr_array_new_with_free_func(g_free)};
    MonitorStream *s = monitor_stream_new(max_len, max_depth, collect_cb, &c);
    gsize len = strlen(input);

    if (!chunk) {
        chunk = len ? len : 1;
    }
    for (gsize off = 0; off < len; off += chunk) {
        monitor_stream_feed(s, input + off, MIN(chunk, len - off));
    }
    monitor_stream_finish(s);
    monitor_stream_free(s);
    return c.items;
}

static void assert_items(GPtrArray *items, const char *const *want)
{
    guint n = g_strv_length((char **)want);

    for (guint i = 0; i < MIN(n, items->len); i++) {
        g_assert_cmpstr(items->pdata[i], ==, want[i]);
    }
    g_assert_cmpuint(items->len, ==, n);
}

/* Every chunk size from 1 byte up gives the same messages. */
static void check_all_chunkings(const char *input, const char *const *want)
{
    gsize len = strlen(input);

    for (gsize chunk = 0; chunk <= len; chunk++) {
        GPtrArray *items = frame(input, chunk, 1024, 64);
        assert_items(items, want);
        g_ptr_array_unref(items);
    }
}

static void test_objects(void)
{
    const char *want[] = {
        "M:{\"execute\":\"a\"}",
        "M:{\"a\":{\"b\":[1,2,{\"c\":3}]}}",
        "M:[1,2]",
        NULL,
    };
    check_all_chunkings(
        "{\"execute\":\"a\"}\n  {\"a\":{\"b\":[1,2,{\"c\":3}]}}\r\n[1,2]", want);
}

static void test_strings_with_brackets(void)
{
    const char *want[] = {
        "M:{\"s\":\"}{][\"}",
        "M:{\"s\":\"a\\\"}b\"}",
        "M:{\"s\":\"back\\\\\"}",
        "M:{\"s\":\"\\\\\\\"}\"}",
        NULL,
    };
    /* {"s":"}{]["}  {"s":"a\"}b"}  {"s":"back\\"}  {"s":"\\\"}"} */
    check_all_chunkings("{\"s\":\"}{][\"}{\"s\":\"a\\\"}b\"}{\"s\":\"back\\\\\"}"
                        "{\"s\":\"\\\\\\\"}\"}",
                        want);
}

static void test_top_level_scalars(void)
{
    const char *want[] = {
        "M:42", "M:\"str}\"", "M:true", "M:{}", "M:nul", "M:{\"x\":1}", NULL,
    };
    check_all_chunkings("42 \"str}\" true{} nul\n{\"x\":1}", want);
}

static void test_trailing_scalar(void)
{
    const char *want[] = {"M:{}", "M:17", NULL};
    GPtrArray *items = frame("{} 17", 0, 1024, 64);

    assert_items(items, want);
    g_ptr_array_unref(items);
}

static void test_stray_closer(void)
{
    const char *want[] = {"E:JSON parse error: unexpected '}'", "M:{}", NULL};

    check_all_chunkings("}{}", want);
}

static void test_oversized(void)
{
    GString *in = g_string_new("{\"big\":\"");
    GPtrArray *items;

    for (int i = 0; i < 5000; i++) {
        g_string_append(in, "x{}\\\"");
    }
    g_string_append(in, "\"}{\"after\":1}");
    for (gsize chunk = 1; chunk < 20000; chunk = chunk * 3 + 1) {
        items = frame(in->str, chunk, 1024, 64);
        g_assert_cmpuint(items->len, ==, 2);
        g_assert_true(g_str_has_prefix(items->pdata[0], "E:JSON message exceeds"));
        g_assert_cmpstr(items->pdata[1], ==, "M:{\"after\":1}");
        g_ptr_array_unref(items);
    }
    g_string_free(in, TRUE);
}

static void test_exact_limit(void)
{
    /* A message of exactly max_len bytes passes; one more byte fails. */
    char *ok = g_strdup_printf("{\"a\":\"%s\"}", "0123456789");
    char *bad = g_strdup_printf("{\"a\":\"%s\"}", "01234567890");
    GPtrArray *items = frame(ok, 3, strlen(ok), 64);

    g_assert_cmpuint(items->len, ==, 1);
    g_assert_true(g_str_has_prefix(items->pdata[0], "M:"));
    g_ptr_array_unref(items);
    items = frame(bad, 3, strlen(ok), 64);
    g_assert_cmpuint(items->len, ==, 1);
    g_assert_true(g_str_has_prefix(items->pdata[0], "E:"));
    g_ptr_array_unref(items);
    g_free(ok);
    g_free(bad);
}

static void test_depth(void)
{
    GString *in = g_string_new(NULL);
    GPtrArray *items;

    for (int i = 0; i < 100; i++) {
        g_string_append_c(in, '[');
    }
    for (int i = 0; i < 100; i++) {
        g_string_append_c(in, ']');
    }
    g_string_append(in, "{\"ok\":[[1]]}");
    items = frame(in->str, 7, 1 << 20, 10);
    g_assert_cmpuint(items->len, ==, 2);
    g_assert_cmpstr(items->pdata[0], ==,
                    "E:JSON nesting depth limit exceeded; message discarded");
    g_assert_cmpstr(items->pdata[1], ==, "M:{\"ok\":[[1]]}");
    g_ptr_array_unref(items);
    g_string_free(in, TRUE);
}

/* A missing closing quote costs one message: the next line is read afresh. */
static void test_unterminated_string(void)
{
    const char *err =
        "E:JSON parse error: control character in a string (a missing '\"'?)";
    const char *want[] = {
        err,  "M:{\"execute\":\"b\"}", err, "M:{\"execute\":\"c\"}", "M:\"tab\\tok\"",
        NULL,
    };

    check_all_chunkings("{\"execute\": \"a}\n{\"execute\":\"b\"}\n"
                        "\"x\t\n{\"execute\":\"c\"} \"tab\\tok\"",
                        want);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/monitor-stream/objects", test_objects);
    g_test_add_func("/monitor-stream/strings-with-brackets",
                    test_strings_with_brackets);
    g_test_add_func("/monitor-stream/top-level-scalars", test_top_level_scalars);
    g_test_add_func("/monitor-stream/trailing-scalar", test_trailing_scalar);
    g_test_add_func("/monitor-stream/stray-closer", test_stray_closer);
    g_test_add_func("/monitor-stream/oversized", test_oversized);
    g_test_add_func("/monitor-stream/exact-limit", test_exact_limit);
    g_test_add_func("/monitor-stream/depth", test_depth);
    g_test_add_func("/monitor-stream/unterminated-string", test_unterminated_string);
    return g_test_run();
}

/*
 * test-ctl: qcontext-ctl against the real qcontextd: commands with
 * key=value and --json arguments, errors and exit codes, and `top`.
 *
 * qcontext-ctl is found next to $QCONTEXTD (or in $QCONTEXT_CTL).
 *
 * SPDX-License-Identifier: MIT
 */
#include "test-monitor-util.h"

static char *ctl_path;
static TestDaemon *daemon_;

typedef struct {
    int status;
    char *out, *err;
} CtlRun;

static CtlRun *ctl_run(const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    CtlRun *r = g_new0(CtlRun, 1);
    GError *err = NULL;
    int wait_status;
    va_list ap;

    g_ptr_array_add(argv, ctl_path);
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        g_ptr_array_add(argv, (char *)a);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                               NULL, &r->out, &r->err, &wait_status, &err));
    g_assert_no_error(err);
    if (!WIFEXITED(wait_status)) {
        g_test_message("qcontext-ctl %s died; stderr:\n%s", first ? first : "", r->err);
    }
    g_assert_true(WIFEXITED(wait_status));
    r->status = WEXITSTATUS(wait_status);
    return r;
}

static void ctl_free(CtlRun *r)
{
    g_free(r->out);
    g_free(r->err);
    g_free(r);
}

static JsonNode *parse_out(CtlRun *r)
{
    g_autoptr(JsonParser) p = json_parser_new();
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(r->status, ==, 0);
    g_assert_true(json_parser_load_from_data(p, r->out, -1, &err));
    g_assert_no_error(err);
    return json_node_copy(json_parser_get_root(p));
}

static void test_command(void)
{
    CtlRun *r = ctl_run(daemon_->sock, "query-name", NULL);
    JsonNode *n = parse_out(r);

    g_assert_cmpstr(json_object_get_string_member(json_node_get_object(n), "name"), ==,
                    "ctltest");
    /* Pretty-printed: several lines. */
    g_assert_nonnull(strchr(g_strstrip(r->out), '\n'));
    json_node_unref(n);
    ctl_free(r);

    r = ctl_run(daemon_->sock, "query-qcontexts", NULL);
    n = parse_out(r);
    g_assert_nonnull(tq_find_id(json_node_get_array(n), "io0"));
    json_node_unref(n);
    ctl_free(r);
}

static void test_key_value(void)
{
    CtlRun *r = ctl_run(daemon_->sock, "qom-set", "path=/objects/io0",
                        "property=poll-max-ns", "value=4321", NULL);
    JsonNode *n;

    g_assert_cmpint(r->status, ==, 0);
    ctl_free(r);
    r = ctl_run(daemon_->sock, "qom-get", "path=/objects/io0", "property=poll-max-ns",
                NULL);
    n = parse_out(r);
    g_assert_cmpint(json_node_get_int(n), ==, 4321);
    json_node_unref(n);
    ctl_free(r);

    /* --json, mixed with key=value */
    r = ctl_run(daemon_->sock, "qom-get", "--json", "{\"path\": \"/objects/io0\"}",
                "property=threaded", NULL);
    n = parse_out(r);
    g_assert_true(json_node_get_boolean(n));
    json_node_unref(n);
    ctl_free(r);
}

static void test_errors(void)
{
    CtlRun *r = ctl_run(daemon_->sock, "no-such-command", NULL);

    g_assert_cmpint(r->status, ==, 1);
    g_assert_nonnull(strstr(r->err, "The command no-such-command has not been found"));
    g_assert_cmpstr(r->out, ==, "");
    ctl_free(r);

    r = ctl_run(daemon_->sock, "qom-get", "path=/objects/io0", "property=nope", NULL);
    g_assert_cmpint(r->status, ==, 1);
    g_assert_nonnull(strstr(r->err, "nope"));
    ctl_free(r);

    r = ctl_run("/nonexistent/qmp.sock", "query-name", NULL);
    g_assert_cmpint(r->status, ==, 1);
    g_assert_nonnull(strstr(r->err, "/nonexistent/qmp.sock"));
    ctl_free(r);

    r = ctl_run(daemon_->sock, "qom-get", "novalue", NULL);
    g_assert_cmpint(r->status, ==, 2);
    g_assert_nonnull(strstr(r->err, "key=value"));
    ctl_free(r);

    r = ctl_run(NULL);
    g_assert_cmpint(r->status, ==, 2);
    g_assert_nonnull(strstr(r->err, "Usage"));
    ctl_free(r);
}

static void test_top(void)
{
    CtlRun *r =
        ctl_run(daemon_->sock, "top", "--interval", "0.3", "--count", "2", NULL);
    g_auto(GStrv) lines = NULL;
    int headers = 0, io0_rows = 0;

    g_assert_cmpint(r->status, ==, 0);
    g_assert_null(strstr(r->out, "\033[")); /* not a terminal: plain text */
    lines = g_strsplit(r->out, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        g_auto(GStrv) f = NULL;

        if (g_str_has_prefix(lines[i], "qcontext-ctl top")) {
            headers++;
            g_assert_true(g_str_has_prefix(lines[i + 1], "CONTEXT"));
            g_assert_nonnull(strstr(lines[i + 1], "LAT-P99.9"));
            continue;
        }
        f = g_strsplit_set(lines[i], " ", -1);
        if (g_strcmp0(f[0], "io0") != 0) {
            continue;
        }
        /* io0 TYPE TID BUSY% POLL% WAKEUPS/s DISPATCH/s P50 P99 P99.9 */
        g_autoptr(GPtrArray) col = g_ptr_array_new();
        for (int k = 0; f[k]; k++) {
            if (*f[k]) {
                g_ptr_array_add(col, f[k]);
            }
        }
        g_assert_cmpuint(col->len, ==, 10);
        g_assert_cmpstr(col->pdata[1], ==, "aio-qcontext");
        g_assert_cmpfloat(g_ascii_strtod(col->pdata[3], NULL), >=, 0.0);
        g_assert_cmpfloat(g_ascii_strtod(col->pdata[3], NULL), <=, 100.5);
        /* The ticker keeps io0 busy: it dispatches every interval. */
        g_assert_cmpfloat(g_ascii_strtod(col->pdata[6], NULL), >, 0.0);
        io0_rows++;
    }
    g_assert_cmpint(headers, ==, 2);
    g_assert_cmpint(io0_rows, ==, 2);
    ctl_free(r);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    if (!td_binary() || !g_file_test(td_binary(), G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("QCONTEXTD is not set to the qcontextd binary");
        return g_test_run();
    }
    if (g_getenv("QCONTEXT_CTL")) {
        ctl_path = g_strdup(g_getenv("QCONTEXT_CTL"));
    } else {
        g_autofree char *dir = g_path_get_dirname(td_binary());
        ctl_path = g_build_filename(dir, "qcontext-ctl", NULL);
    }
    g_assert_true(g_file_test(ctl_path, G_FILE_TEST_IS_EXECUTABLE));
    daemon_ = td_start("-name", "ctltest", "-object", "aio-qcontext,id=io0,threaded=on",
                       "-device", "ticker,id=tick0,context=io0,interval-us=2000", NULL);
    g_test_add_func("/ctl/command", test_command);
    g_test_add_func("/ctl/key-value", test_key_value);
    g_test_add_func("/ctl/errors", test_errors);
    g_test_add_func("/ctl/top", test_top);
    rc = g_test_run();
    g_assert_cmpint(td_stop(daemon_), ==, 0);
    g_free(ctl_path);
    return rc;
}

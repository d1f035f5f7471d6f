/*
 * tests/block/test-drive-cli.c - drives through qcontextd (path in
 * $QCONTEXTD): every bad -drive gives one line on stderr and exit status 1;
 * -drive help and -object drive,help; -drive, -object drive and QMP
 * object-add/object-del on a running daemon; aio-qcontext's aio-max-batch
 * and thread pool limits through qom-set.
 *
 * SPDX-License-Identifier: MIT
 */
#include "../main-loop/test-monitor-util.h"
#include "block-test-util.h"

/* Run qcontextd with @args to its end; its exit status, stdout and stderr. */
static int run_daemon(const char *const *args, char **out, char **err_text)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    int status = -1;

    g_ptr_array_add(argv, (char *)td_binary());
    for (const char *const *a = args; *a; a++) {
        g_ptr_array_add(argv, (char *)*a);
    }
    g_ptr_array_add(argv, NULL);
    g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, td_child_setup,
                 NULL, out, err_text, &status, &err);
    g_assert_no_error(err);
    g_assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* qcontextd @drive_arg exits 1 with one stderr line that contains @needle. */
static void expect_bad(const char *opt, const char *arg, const char *needle)
{
    const char *args[] = {opt, arg, NULL};
    g_autofree char *out = NULL, *err = NULL;
    g_autofree char *prefix = g_strdup_printf("qcontextd: %s %s: ", opt, arg);
    int status = run_daemon(args, &out, &err);

    if (status != 1 || !g_str_has_prefix(err, prefix) || !strstr(err, needle) ||
        strchr(err, '\n') != err + strlen(err) - 1) {
        g_error("%s %s: status %d, stderr '%s' (expected one line with '%s')", opt, arg,
                status, err, needle);
    }
    g_assert_cmpstr(out, ==, ""); /* nothing was created */
}

static void test_bad_input(void)
{
    g_autofree char *file = NULL, *nowrite = NULL, *arg = NULL;

    if (!test_dir) {
        g_test_skip("no disk-backed temporary directory (only tmpfs)");
        return;
    }
    file = make_file("disk.raw", 1024 * 1024);
#define BAD(fmt, needle)                                                               \
    do {                                                                               \
        g_free(arg);                                                                   \
        arg = g_strdup_printf(fmt, file);                                              \
        expect_bad("-drive", arg, needle);                                             \
    } while (0)
    BAD("file=%s,id=d0,format=qcow2", "property 'format' expects one of null, raw");
    BAD("file=%s,id=d0,aio=posix",
        "property 'aio' expects one of io_uring, native, threads");
    BAD("file=%s.missing,id=d0", "Could not open");
    BAD("file=%s,id=d0,size=1M", "'size' is only valid with format=null");
    BAD("file=%s,id=d0,latency-ns=100", "'latency-ns' is only valid with format=null");
    BAD("file=%s,id=d0,cache=unsafe",
        "property 'cache' expects one of none, writeback");
    BAD("file=%s,id=d0,discard=trim",
        "property 'discard' expects one of ignore, unmap");
    BAD("file=%s,id=d0,readonly=maybe", "property 'readonly' expects");
    BAD("file=%s,id=d0,bogus=1", "unknown property 'bogus' for type 'drive'");
    BAD("file=%s", "parameter 'id' is missing");
    BAD("file=%s,id=0bad", "invalid id '0bad'");
    BAD("file=%s,id=d0,format=null,size=1M", "format=null takes no 'file'");
    g_free(arg);
    arg = NULL;
    expect_bad("-drive", "id=d0", "parameter 'file' is missing");
    expect_bad("-drive", "id=d0,format=null", "parameter 'size' is missing");
    expect_bad("-drive", "id=d0,format=null,size=10Q", "property 'size' expects");
    expect_bad("-drive", "id=d0,format=null,size=0", "size of a null drive");
    expect_bad("-object", "drive,id=d0,format=null", "parameter 'size' is missing");
    arg = g_strdup_printf("file=%s,id=d0", test_dir);
    expect_bad("-drive", arg, "Is a directory");
    g_free(arg);
    arg = g_strdup_printf("file=%s,id=d0,readonly=on", test_dir);
    expect_bad("-drive", arg, "neither a regular file nor a block device");

    /* Write access to a file this user cannot write, without readonly=on. */
    nowrite = make_file("nowrite.raw", 4096);
    if (make_not_writable(nowrite)) {
        g_autofree char *ro = g_strdup_printf("file=%s,id=d0,readonly=on", nowrite);
        TestDaemon *d;

        g_free(arg);
        arg = g_strdup_printf("file=%s,id=d0", nowrite);
        expect_bad("-drive", arg, "for writing");
        expect_bad("-drive", arg, "(use readonly=on)");
        /* With readonly=on the daemon starts and serves. */
        d = td_start("-drive", ro, NULL);
        g_assert_cmpint(td_stop(d), ==, 0);
        make_writable(nowrite);
    } else {
        g_test_message("cannot make a file unwritable here: case skipped");
    }
    unlink(nowrite);
    unlink(file);
}

static void test_missing_argument(void)
{
    const char *args[] = {"-drive", NULL};
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint(run_daemon(args, &out, &err), ==, 1);
    g_assert_nonnull(strstr(err, "option '-drive' needs an argument"));
}

static void test_help(void)
{
    static const char *const forms[][3] = {
        {"-drive", "help", NULL},
        {"-drive", "format=null,help", NULL},
        {"-object", "drive,help", NULL},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(forms); i++) {
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint(run_daemon(forms[i], &out, &err), ==, 0);
        g_assert_true(g_str_has_prefix(out, "drive options:\n"));
        g_assert_nonnull(strstr(out, "aio=<enum: io_uring|native|threads>"));
        g_assert_nonnull(strstr(out, "cache=<enum: none|writeback>"));
        g_assert_nonnull(strstr(out, "size=<size>"));
        g_assert_cmpstr(err, ==, "");
    }
    {
        const char *args[] = {"-object", "help", NULL};
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint(run_daemon(args, &out, &err), ==, 0);
        g_assert_nonnull(strstr(out, "\n  drive\n"));
    }
}

/* ------------------------------------------------------------------------ */
/* A running daemon                                                           */
/* ------------------------------------------------------------------------ */

static JsonObject *qom_get(TestQmp *q, const char *path, const char *prop)
{
    return tq_cmd(q,
                  "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"%s\", "
                  "\"property\": \"%s\"}}",
                  path, prop);
}

static gint64 qom_get_int(TestQmp *q, const char *path, const char *prop)
{
    JsonObject *r = qom_get(q, path, prop);
    gint64 v = json_node_get_int(tq_return(r));

    json_object_unref(r);
    return v;
}

static void qom_set_ok(TestQmp *q, const char *path, const char *prop, const char *json)
{
    JsonObject *r =
        tq_cmd(q,
               "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"%s\", "
               "\"property\": \"%s\", \"value\": %s}}",
               path, prop, json);

    tq_return(r);
    json_object_unref(r);
}

static void test_running(void)
{
    g_autofree char *file = NULL, *file2 = NULL, *d0 = NULL;
    TestDaemon *d;
    TestQmp *q;
    JsonObject *r;
    int fd;

    if (!test_dir) {
        g_test_skip("no disk-backed temporary directory (only tmpfs)");
        return;
    }
    file = make_file("run.raw", 2 * 1024 * 1024);
    file2 = make_file("run2.raw", 1024 * 1024);
    d0 = g_strdup_printf("file=%s,id=d0,aio=native,cache=none,discard=unmap", file);
    d = td_start("-object", "aio-qcontext,id=io0,threaded=yes,aio-max-batch=4",
                 "-drive", d0, "-object",
                 "drive,id=n0,format=null,size=1G,latency-ns=5000", NULL);
    q = tq_connect(d->sock);

    g_assert_cmpint(qom_get_int(q, "/objects/d0", "size"), ==, 2 * 1024 * 1024);
    g_assert_cmpint(qom_get_int(q, "/objects/n0", "size"), ==,
                    G_GINT64_CONSTANT(1) << 30);
    r = qom_get(q, "/objects/d0", "aio");
    g_assert_cmpstr(json_node_get_string(tq_return(r)), ==, "native");
    json_object_unref(r);
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
                              "\"/objects/d0\", \"property\": \"readonly\", "
                              "\"value\": true}}"),
                    "GenericError", "cannot be changed after creation");

    /* object-add and object-del of a drive; a bad one is refused. */
    r = tq_cmd(q,
               "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"drive\", "
               "\"id\": \"d1\", \"file\": \"%s\", \"aio\": \"io_uring\", "
               "\"readonly\": true}}",
               file2);
    tq_return(r);
    json_object_unref(r);
    g_assert_cmpint(count_fds_of(file2, &fd), ==, 0); /* not ours: the daemon's */
    r = qom_get(q, "/objects/d1", "readonly");
    g_assert_true(json_node_get_boolean(tq_return(r)));
    json_object_unref(r);
    tq_assert_error(
        tq_cmd(q, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
                  "\"drive\", \"id\": \"d2\", \"file\": \"/nonexistent/disk\"}}"),
        "GenericError", "Could not open '/nonexistent/disk'");
    r = tq_cmd(q, "{\"execute\": \"object-del\", \"arguments\": {\"id\": \"d1\"}}");
    tq_return(r);
    json_object_unref(r);
    tq_assert_error(qom_get(q, "/objects/d1", "readonly"), "DeviceNotFound",
                    "not found");

    /* The context's tunables, live. */
    g_assert_cmpint(qom_get_int(q, "/objects/io0", "aio-max-batch"), ==, 4);
    qom_set_ok(q, "/objects/io0", "aio-max-batch", "32");
    g_assert_cmpint(qom_get_int(q, "/objects/io0", "aio-max-batch"), ==, 32);
    qom_set_ok(q, "/objects/io0", "thread-pool-min", "2");
    tq_assert_error(tq_cmd(q, "{\"execute\": \"qom-set\", \"arguments\": {\"path\": "
                              "\"/objects/io0\", \"property\": \"thread-pool-max\", "
                              "\"value\": 1}}"),
                    "GenericError", "thread-pool-min (2) must not be above");
    g_assert_cmpint(qom_get_int(q, "/objects/io0", "thread-pool-max"), ==, 64);
    /* Two idle workers now run in the daemon (they name themselves aio-pool). */
    {
        gint64 deadline = g_get_monotonic_time() + TD_TIMEOUT_MS * 1000;
        int pool = 0;

        while (pool < 2) {
            g_autofree char *names = td_thread_names(d->pid);
            pool = 0;
            for (char *p = names; (p = strstr(p, "aio-pool")); p++) {
                pool++;
            }
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_usleep(pool < 2 ? 2000 : 0);
        }
    }

    r = tq_cmd(q, "{\"execute\": \"object-del\", \"arguments\": {\"id\": \"d0\"}}");
    tq_return(r);
    json_object_unref(r);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
    unlink(file);
    unlink(file2);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    g_assert_nonnull(td_binary());
    test_dir = make_test_dir();
    g_test_add_func("/drive-cli/bad-input", test_bad_input);
    g_test_add_func("/drive-cli/missing-argument", test_missing_argument);
    g_test_add_func("/drive-cli/help", test_help);
    g_test_add_func("/drive-cli/running", test_running);
    ret = g_test_run();
    if (test_dir) {
        g_assert_cmpint(rmdir(test_dir), ==, 0);
        g_free(test_dir);
    }
    return ret;
}

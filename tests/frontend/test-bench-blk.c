/*
 * tests/frontend/test-bench-blk.c - `qcontext-bench blk` ($QCONTEXT_BENCH)
 * against qemu-storage-daemon: it runs, its JSON holds what it measured,
 * --verify passes on a real file (multiqueue, polling) and catches a disk
 * that returns wrong data, a back-end that dies ends the run with an
 * error instead of a hang, and bad usage is refused.  Behaviour only: no
 * figure is asserted.
 *
 * SPDX-License-Identifier: MIT
 */
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <sys/wait.h>

#include "qsd.h"

static const char *bench_path(void)
{
    const char *p = g_getenv("QCONTEXT_BENCH");

    g_assert_nonnull(p);
    return p;
}

typedef struct {
    int status; /* exit status */
    char *out, *err;
    JsonObject *json; /* parsed stdout with --json */
    JsonParser *parser;
} BenchRun;

static void bench_run(BenchRun *r, const char *sock, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    int wstatus = 0;

    memset(r, 0, sizeof(*r));
    g_ptr_array_add(argv, (gpointer)bench_path());
    g_ptr_array_add(argv, "blk");
    g_ptr_array_add(argv, "--socket");
    g_ptr_array_add(argv, (gpointer)sock);
    for (const char *const *a = args; *a; a++) {
        g_ptr_array_add(argv, (gpointer)*a);
    }
    g_ptr_array_add(argv, NULL);
    g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r->out,
                 &r->err, &wstatus, &err);
    g_assert_no_error(err);
    g_assert_true(WIFEXITED(wstatus));
    r->status = WEXITSTATUS(wstatus);
    if (r->out[0] == '{') {
        r->parser = json_parser_new();
        json_parser_load_from_data(r->parser, r->out, -1, &err);
        g_assert_no_error(err);
        r->json = json_node_get_object(json_parser_get_root(r->parser));
    }
}

static void bench_clear(BenchRun *r)
{
    g_free(r->out);
    g_free(r->err);
    g_clear_object(&r->parser);
}

static JsonObject *result(BenchRun *r)
{
    g_assert_nonnull(r->json);
    return json_object_get_object_member(r->json, "result");
}

static gint64 result_int(BenchRun *r, const char *key)
{
    return json_object_get_int_member(result(r), key);
}

static void test_null_qd1(void)
{
    Qsd *q = qsd_new(&(QsdOptions){.size = 64 << 20});
    BenchRun r;
    JsonObject *lat;

    bench_run(&r, q->sock, (const char *[]){"--runtime", "0.3", "--json", NULL});
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpint(result_int(&r, "ios"), >, 0);
    g_assert_cmpint(result_int(&r, "ios"), ==, result_int(&r, "reads"));
    g_assert_cmpint(result_int(&r, "io_errors"), ==, 0);
    g_assert_cmpfloat(json_object_get_double_member(result(&r), "iops"), >, 0);
    lat = json_object_get_object_member(result(&r), "lat_us");
    g_assert_cmpfloat(json_object_get_double_member(lat, "p50"), >, 0);
    g_assert_cmpfloat(json_object_get_double_member(lat, "p99"), >=,
                      json_object_get_double_member(lat, "p50"));
    g_assert_cmpstr(json_object_get_string_member(
                        json_object_get_object_member(r.json, "config"), "rw"),
                    ==, "randread");
    bench_clear(&r);
    /* the text form names what it measured */
    bench_run(&r, q->sock,
              (const char *[]){"--runtime", "0.2", "--iodepth", "32", NULL});
    g_assert_cmpint(r.status, ==, 0);
    g_assert_nonnull(strstr(r.out, "IOPS"));
    g_assert_nonnull(strstr(r.out, "p99.9 us"));
    bench_clear(&r);
    /* --number: exactly that many requests per job, whatever the depth */
    bench_run(&r, q->sock,
              (const char *[]){"--number", "1001", "--iodepth", "32", "--numjobs", "1",
                               "--json", NULL});
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpint(result_int(&r, "ios"), ==, 1001);
    g_assert_cmpint(result_int(&r, "reads"), ==, 1001);
    bench_clear(&r);
    bench_run(&r, q->sock, (const char *[]){"--number", "-1", NULL});
    g_assert_cmpint(r.status, ==, 2);
    g_assert_nonnull(strstr(r.err, "--number"));
    bench_clear(&r);
    /* --spin-us: busy-polls before sleeping; the client's own figures */
    bench_run(&r, q->sock,
              (const char *[]){"--number", "300", "--spin-us", "200", "--json", NULL});
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpint(result_int(&r, "ios"), ==, 300);
    g_assert_cmpint(json_object_get_int_member(
                        json_object_get_object_member(r.json, "config"), "spin_us"),
                    ==, 200);
    {
        JsonObject *cl = json_object_get_object_member(result(&r), "client");
        double waits = json_object_get_double_member(cl, "waits_per_io");

        g_assert_cmpfloat(waits, >=, 0);
        g_assert_cmpfloat(waits, <=, 1);
        g_assert_cmpfloat(json_object_get_double_member(cl, "loops_per_io"), >=, 1);
    }
    bench_clear(&r);
    bench_run(&r, q->sock, (const char *[]){"--spin-us", "-1", NULL});
    g_assert_cmpint(r.status, ==, 2);
    g_assert_nonnull(strstr(r.err, "--spin-us"));
    bench_clear(&r);
    qsd_free(q);
}

static void test_file_verify(void)
{
    Qsd *q = qsd_new(&(QsdOptions){.size = 32 << 20, .file = TRUE, .num_queues = 2});
    BenchRun r;

    bench_run(&r, q->sock,
              (const char *[]){"--rw", "mixed", "--numjobs", "2", "--iodepth", "8",
                               "--verify", "--size", "8M", "--runtime", "0.5", "--json",
                               NULL});
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpint(result_int(&r, "writes"), >, 0);
    g_assert_cmpint(result_int(&r, "reads"), >, 0);
    /* every block is checked at least by the final read-back */
    g_assert_cmpint(result_int(&r, "verify_checked"), >=, (8 << 20) / 4096);
    g_assert_cmpint(result_int(&r, "verify_errors"), ==, 0);
    g_assert_cmpint(json_array_get_length(json_object_get_array_member(r.json, "jobs")),
                    ==, 2);
    bench_clear(&r);

    /* polling completions, larger blocks, plain chains */
    bench_run(&r, q->sock,
              (const char *[]){"--rw", "randwrite", "--bs", "16k", "--iodepth", "16",
                               "--verify", "--size", "4M", "--runtime", "0.3", "--poll",
                               "--no-indirect", "--json", NULL});
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpint(result_int(&r, "verify_errors"), ==, 0);
    g_assert_cmpint(result_int(&r, "verify_checked"), >=, (4 << 20) / 16384);
    bench_clear(&r);
    qsd_free(q);
}

/* A disk that returns zeroes whatever was written: --verify must say so. */
static void test_verify_detects(void)
{
    Qsd *q = qsd_new(&(QsdOptions){.size = 8 << 20});
    BenchRun r;

    bench_run(&r, q->sock,
              (const char *[]){"--verify", "--size", "1M", "--runtime", "0.2", "--json",
                               NULL});
    g_assert_cmpint(r.status, ==, 1);
    g_assert_cmpint(result_int(&r, "verify_errors"), >, 0);
    bench_clear(&r);
    qsd_free(q);
}

static gpointer kill_later(gpointer opaque)
{
    g_usleep(500 * 1000);
    qsd_kill(opaque);
    return NULL;
}

/* The back-end dies mid-run: the bench ends with an error, no hang. */
static void check_dies(const char *mode)
{
    Qsd *q = qsd_new(&(QsdOptions){.size = 8 << 20});
    GThread *killer = g_thread_new("killer", kill_later, q);
    BenchRun r;
    gint64 t0 = g_get_monotonic_time();

    bench_run(&r, q->sock,
              (const char *[]){"--runtime", "60", "--timeout-ms", "60000", "--iodepth",
                               "4", mode, "--json", NULL});
    g_thread_join(killer);
    g_assert_cmpint(r.status, ==, 1);
    g_assert_cmpint(result_int(&r, "failed_jobs"), ==, 1);
    /* far below the 60 s run and timeout: it noticed the hang-up */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 30 * G_USEC_PER_SEC);
    bench_clear(&r);
    qsd_free(q);
}

static void test_backend_dies(void)
{
    check_dies("--iodepth=1"); /* sleeping on the call eventfd */
    check_dies("--poll");
}

static void test_bad_usage(void)
{
    g_autofree char *dir = g_dir_make_tmp("bench-blk-XXXXXX", NULL);
    g_autofree char *none = g_build_filename(dir, "none.sock", NULL);
    BenchRun r;

    bench_run(&r, none, (const char *[]){"--iodepth", "0", NULL});
    g_assert_cmpint(r.status, ==, 2);
    g_assert_nonnull(strstr(r.err, "--iodepth"));
    bench_clear(&r);
    bench_run(&r, none, (const char *[]){"--rw", "sideways", NULL});
    g_assert_cmpint(r.status, ==, 2);
    g_assert_nonnull(strstr(r.err, "--rw"));
    bench_clear(&r);
    bench_run(&r, none, (const char *[]){"--bs", "1000", NULL});
    g_assert_cmpint(r.status, ==, 2);
    bench_clear(&r);
    bench_run(&r, none, (const char *[]){"--timeout-ms", "100", NULL});
    g_assert_cmpint(r.status, ==, 2);
    g_assert_nonnull(strstr(r.err, "Cannot connect"));
    bench_clear(&r);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!qsd_binary()) {
        g_test_skip("qemu-storage-daemon is not installed (scripts/install-deps.sh)");
        return g_test_run();
    }
    g_test_add_func("/bench-blk/null-qd1", test_null_qd1);
    g_test_add_func("/bench-blk/file-verify", test_file_verify);
    g_test_add_func("/bench-blk/verify-detects", test_verify_detects);
    g_test_add_func("/bench-blk/backend-dies", test_backend_dies);
    g_test_add_func("/bench-blk/bad-usage", test_bad_usage);
    return g_test_run();
}

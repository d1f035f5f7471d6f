/*
 * tests/main-loop/test-qcontextd.c - qcontextd end to end, as a subprocess
 * (path in $QCONTEXTD): options, help, errors, context threads, signals,
 * shutdown under load, -daemonize/-pidfile, -readconfig.
 *
 * SPDX-License-Identifier: MIT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EXIT_BOUND_MS 5000 /* sanitizers make exit (leak checks...) slower */
#else
#define EXIT_BOUND_MS 1000
#endif

/*
 * A qcontextd subprocess.  Spawned with g_spawn and reaped with waitpid():
 * no GLib worker thread (GSubprocess's child watch) in this test.
 */
typedef struct {
    GPid pid;
    int status;       /* waitpid status; -1 while running */
    FILE *out;        /* its stdout */
    int err_fd;       /* its stderr */
    GPtrArray *lines; /* stdout lines read so far */
} Daemon;

/* Absolute: a test may change directory. */
static const char *qcontextd_path(void)
{
    static char *path;

    if (!path) {
        g_assert_nonnull(g_getenv("QCONTEXTD"));
        path = g_canonicalize_filename(g_getenv("QCONTEXTD"), NULL);
    }
    return path;
}

/* Start qcontextd with the NULL-terminated @args. */
static Daemon *daemon_spawn_argv(const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    Daemon *d = g_new0(Daemon, 1);
    int out_fd;

    g_ptr_array_add(argv, (gpointer)qcontextd_path());
    for (const char *const *a = args; *a; a++) {
        g_ptr_array_add(argv, (gpointer)*a);
    }
    g_ptr_array_add(argv, NULL);
    g_spawn_async_with_pipes(NULL, (char **)argv->pdata, NULL,
                             G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &d->pid, NULL,
                             &out_fd, &d->err_fd, &err);
    g_assert_no_error(err);
    d->status = -1;
    d->out = fdopen(out_fd, "r");
    g_assert_nonnull(d->out);
    d->lines = g_ptr_array_new_with_free_func(g_free);
    return d;
}

#define daemon_spawn(...) daemon_spawn_argv((const char *const[]){__VA_ARGS__, NULL})

/* Read stdout lines until one starts with @prefix; FALSE at EOF. */
static gboolean daemon_wait_line(Daemon *d, const char *prefix)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    while ((len = getline(&line, &cap, d->out)) >= 0) {
        gboolean match;
        if (len > 0 && line[len - 1] == '\n') {
            line[len - 1] = '\0';
        }
        match = g_str_has_prefix(line, prefix);
        g_ptr_array_add(d->lines, g_strdup(line));
        if (match) {
            free(line);
            return TRUE;
        }
    }
    free(line);
    return FALSE;
}

static void daemon_wait_ready(Daemon *d)
{
    g_assert_true(daemon_wait_line(d, "qcontextd: ready"));
}

/* Wait up to @ms for the exit; TRUE if it exited (status in d->status). */
static gboolean daemon_wait_exit(Daemon *d, guint ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;

    while (d->status < 0) {
        int st;
        pid_t r = waitpid(d->pid, &st, WNOHANG);
        if (r == d->pid) {
            d->status = st;
            break;
        }
        g_assert_cmpint(r, ==, 0);
        if (g_get_monotonic_time() >= deadline) {
            return FALSE;
        }
        g_usleep(2000);
    }
    return TRUE;
}

/* Read the rest of stdout (kept in d->lines) and all of stderr. */
static char *daemon_finish_output(Daemon *d)
{
    GString *text = g_string_new(NULL);
    char chunk[4096];
    ssize_t n;

    while (daemon_wait_line(d, "\x01")) {
    }
    while ((n = read(d->err_fd, chunk, sizeof(chunk))) > 0) {
        g_string_append_len(text, chunk, n);
    }
    return g_string_free(text, FALSE);
}

/* Wait for the exit (bounded), check the status, return stderr. */
static char *daemon_expect_exit(Daemon *d, int status)
{
    char *err_text = daemon_finish_output(d);

    g_assert_true(daemon_wait_exit(d, 20000));
    if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != status) {
        g_printerr("wait status 0x%x; stderr: %s\n", d->status, err_text);
    }
    g_assert_true(WIFEXITED(d->status));
    g_assert_cmpint(WEXITSTATUS(d->status), ==, status);
    return err_text;
}

static gboolean daemon_has_line(Daemon *d, const char *line)
{
    for (guint i = 0; i < d->lines->len; i++) {
        if (strcmp(g_ptr_array_index(d->lines, i), line) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

static void daemon_free(Daemon *d)
{
    if (d->status < 0) { /* still running: a failed test */
        kill(d->pid, SIGKILL);
        waitpid(d->pid, &d->status, 0);
    }
    fclose(d->out);
    close(d->err_fd);
    g_ptr_array_unref(d->lines);
    g_free(d);
}

static void daemon_signal(Daemon *d, int sig)
{
    g_assert_cmpint(kill(d->pid, sig), ==, 0);
}

static pid_t daemon_pid(Daemon *d)
{
    return d->pid;
}

/* The comm names of every thread of @pid. */
static GPtrArray *thread_names(pid_t pid)
{
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/task", (int)pid);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GDir *dir = g_dir_open(dir_path, 0, NULL);
    const char *tid;

    g_assert_nonnull(dir);
    while ((tid = g_dir_read_name(dir))) {
        g_autofree char *path = g_strdup_printf("%s/%s/comm", dir_path, tid);
        char *comm = NULL;
        if (g_file_get_contents(path, &comm, NULL, NULL)) {
            g_ptr_array_add(names, g_strdup(g_strstrip(comm)));
            g_free(comm);
        }
    }
    g_dir_close(dir);
    return names;
}

static gboolean names_contain(GPtrArray *names, const char *name)
{
    for (guint i = 0; i < names->len; i++) {
        if (strcmp(g_ptr_array_index(names, i), name) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Run to completion; return stdout; check status and stderr (if given). */
static char *run_expect(const char *const *args, int status, const char *stderr_is)
{
    Daemon *d = daemon_spawn_argv(args);
    g_autofree char *err_text = daemon_expect_exit(d, status);
    g_autofree char *joined = NULL;

    if (stderr_is) {
        g_assert_cmpstr(err_text, ==, stderr_is);
    }
    g_ptr_array_add(d->lines, NULL);
    joined = g_strjoinv("\n", (char **)d->lines->pdata);
    g_ptr_array_remove_index(d->lines, d->lines->len - 1);
    daemon_free(d);
    return g_steal_pointer(&joined);
}

#define RUN(status, stderr_is, ...)                                                    \
    run_expect((const char *const[]){__VA_ARGS__, NULL}, status, stderr_is)

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void test_version_help(void)
{
    g_autofree char *v = RUN(0, "", "--version");
    g_autofree char *v1 = RUN(0, "", "-version");
    g_autofree char *h = RUN(0, "", "--help");
    g_autofree char *h1 = RUN(0, "", "-h");

    g_assert_true(g_str_has_prefix(v, "qcontextd "));
    g_assert_cmpstr(v, ==, v1);
    g_assert_nonnull(strstr(h, "-object TYPE,id=ID"));
    g_assert_nonnull(strstr(h, "-shutdown-timeout"));
    g_assert_nonnull(strstr(h, "SIGHUP is ignored"));
    g_assert_cmpstr(h, ==, h1);
}

static void test_object_help(void)
{
    g_autofree char *types = RUN(0, "", "-object", "help");
    g_autofree char *props = RUN(0, "", "--object", "glib-qcontext,help");
    g_autofree char *aprops = RUN(0, "", "-object", "aio-qcontext,help");
    g_autofree char *dtypes = RUN(0, "", "-device", "help");
    g_autofree char *dprops = RUN(0, "", "-device", "ticker,help");
    g_autofree char *bad =
        RUN(1, "qcontextd: unknown object type 'nosuch'\n", "-object", "nosuch,help");
    g_autofree char *notobj =
        RUN(1, "qcontextd: unknown object type 'ticker'\n", "-object", "ticker,help");

    g_assert_true(g_str_has_prefix(types, "Available object types:"));
    g_assert_nonnull(strstr(types, "  glib-qcontext"));
    g_assert_null(strstr(types, "ticker"));
    /* every property with its type, description and default */
    g_assert_nonnull(strstr(props, "glib-qcontext options:\n"));
    /* sorted: threaded is the last line (RUN drops the final newline) */
    g_assert_true(g_str_has_suffix(props,
                                   "\n  threaded=<bool>  - Run the context on its "
                                   "own thread, named qctx/<id> (default: off)"));
    g_assert_nonnull(strstr(aprops,
                            "\n  poll-max-ns=<int64>  - Longest busy-poll in ns "
                            "(0 disables polling) (default: 32768)\n"));
    g_assert_nonnull(strstr(aprops, "\n  fdmon=<enum: epoll|io_uring|poll>  - "));
    g_assert_nonnull(strstr(types, "  aio-qcontext\n"));
    g_assert_nonnull(strstr(dtypes, "  ticker"));
    g_assert_null(strstr(dtypes, "glib-qcontext"));
    g_assert_nonnull(strstr(dprops, "latency-us=<uint32>"));
    g_assert_nonnull(strstr(dprops, "context=<link to QContext>"));
}

static void test_bad_options(void)
{
    g_autofree char *a =
        RUN(1, "qcontextd: unknown option '-bogus' (try --help)\n", "-bogus");
    g_autofree char *b = RUN(1,
                             "qcontextd: option '-object' needs an argument "
                             "(TYPE,id=ID[,PROP=VALUE...])\n",
                             "-object");
    g_autofree char *c =
        RUN(1,
            "qcontextd: -object glib-qcontext,id=ctx0,bogus=1: unknown "
            "property 'bogus' for type 'glib-qcontext'\n",
            "-object", "glib-qcontext,id=ctx0,bogus=1");
    g_autofree char *d = RUN(1,
                             "qcontextd: unexpected argument 'stray' (options start "
                             "with -)\n",
                             "stray");
    g_autofree char *e =
        RUN(1, "qcontextd: -shutdown-timeout expects seconds in [0, 3600], got 'x'\n",
            "-shutdown-timeout", "x");
    g_autofree char *f = RUN(1,
                             "qcontextd: -object ticker,id=t0: 'ticker' is a device "
                             "type: use -device\n",
                             "-object", "ticker,id=t0");
    /* A failure after a thread started: the daemon still exits 1, cleanly. */
    g_autofree char *g = RUN(1,
                             "qcontextd: -object glib-qcontext,id=ctx0: duplicate id "
                             "'ctx0'\n",
                             "-object", "glib-qcontext,id=ctx0,threaded=yes", "-object",
                             "glib-qcontext,id=ctx0");
    g_autofree char *h = RUN(1,
                             "qcontextd: -device ticker,id=t0,context=ctx9: 'context' "
                             "refers to 'ctx9', which does not exist\n",
                             "-device", "ticker,id=t0,context=ctx9");
    g_autofree char *i =
        RUN(1,
            "qcontextd: -device ticker,id=t0,context=c: device 't0': "
            "context 'c' has no thread (threaded=no); devices run in "
            "'main' or in a threaded context\n",
            "-object", "glib-qcontext,id=c", "-device", "ticker,id=t0,context=c");

    /* the examples, end to end */
    g_autofree char *j =
        RUN(1, "qcontextd: unknown option '--bogus' (try --help)\n", "--bogus");
    g_autofree char *k =
        RUN(1,
            "qcontextd: -object aio-qcontext,id=io0,poll-max-ns=fast: aio-qcontext: "
            "property 'poll-max-ns' expects an integer in [0, 2^63-1], got 'fast'\n",
            "-object", "aio-qcontext,id=io0,poll-max-ns=fast");
    g_autofree char *l = RUN(1,
                             "qcontextd: -object glib-qcontext,id=ctx0,thraded=yes: "
                             "unknown property 'thraded' for type 'glib-qcontext'\n",
                             "-object", "glib-qcontext,id=ctx0,thraded=yes");
    g_autofree char *m =
        RUN(1, "qcontextd: -object foo,id=x: unknown object type 'foo'\n", "-object",
            "foo,id=x");
    g_autofree char *n =
        RUN(1,
            "qcontextd: -device ticker,id=t1,context=t0: 'context' "
            "refers to 't0', which is not a QContext\n",
            "-device", "ticker,id=t0", "-device", "ticker,id=t1,context=t0");
    g_autofree char *o = RUN(1,
                             "qcontextd: -object glib-qcontext,id=main: duplicate id "
                             "'main'\n",
                             "-object", "glib-qcontext,id=main");
    /* -monitor: a bad value is a bad value; the same socket twice is ours. */
    g_autofree char *p = RUN(1,
                             "qcontextd: -monitor unix:/tmp/x.sock,server=maybe: bad "
                             "value 'maybe' for 'server' (expected on or off)\n",
                             "-monitor", "unix:/tmp/x.sock,server=maybe");
    g_autofree char *q_ = RUN(1,
                              "qcontextd: -monitor unix:/tmp/x.sock,bogus=1: unknown "
                              "option 'bogus' (it takes server=on|off and wait=off)\n",
                              "-monitor", "unix:/tmp/x.sock,bogus=1");
    g_autofree char *sockdir = g_dir_make_tmp("qcontextd-XXXXXX", NULL);
    g_autofree char *mon = g_strdup_printf("unix:%s/m.sock", sockdir);
    g_autofree char *twice = g_strdup_printf(
        "qcontextd: -monitor %s: '%s/m.sock' is given twice: this daemon already "
        "listens on it\n",
        mon, sockdir);
    g_autofree char *r = RUN(1, twice, "-monitor", mon, "-monitor", mon);

    g_assert_nonnull(strstr(g, "created glib-qcontext 'ctx0' (thread qctx/ctx0)"));
    g_assert_null(strstr(k, "ready"));
    g_assert_null(strstr(n, "ready"));
    g_assert_null(strstr(g, "ready"));
    g_assert_null(strstr(h, "ready"));
    g_assert_null(strstr(r, "ready"));
    g_rmdir(sockdir); /* the daemon removed its socket on the way out */
}

/* Two threaded contexts get their named threads; SIGTERM exits 0 fast. */
static void test_threads_sigterm(void)
{
    Daemon *d = daemon_spawn("-object", "glib-qcontext,id=ctx0,threaded=yes",
                             "--object", "glib-qcontext,id=ctx1,threaded=yes");
    g_autoptr(GPtrArray) names = NULL;
    g_autofree char *err_text = NULL;

    daemon_wait_ready(d);
    g_assert_true(daemon_has_line(d, "qcontextd: created glib-qcontext 'ctx0' "
                                     "(thread qctx/ctx0)"));
    names = thread_names(daemon_pid(d));
    g_assert_true(names_contain(names, "qctx/ctx0"));
    g_assert_true(names_contain(names, "qctx/ctx1"));

    daemon_signal(d, SIGTERM);
    g_assert_true(daemon_wait_exit(d, EXIT_BOUND_MS));
    err_text = daemon_expect_exit(d, 0);
    g_assert_true(daemon_has_line(d, "qcontextd: shutting down (host-signal)"));
    daemon_free(d);
}

/* SIGHUP is ignored. */
static void test_sighup(void)
{
    Daemon *d = daemon_spawn("-name", "hupper");
    g_autoptr(GPtrArray) names = NULL;
    g_autofree char *err_text = NULL;

    daemon_wait_ready(d);
    names = thread_names(daemon_pid(d));
    g_assert_true(names_contain(names, "hupper"));
    daemon_signal(d, SIGHUP);
    daemon_signal(d, SIGINT);
    err_text = daemon_expect_exit(d, 0);
    g_assert_cmpstr(err_text, ==, "");
    daemon_free(d);
}

/* The "device 'ID': N requests, C completed, F failed" line. */
static void device_totals(Daemon *d, const char *id, guint64 *n, guint64 *c, guint64 *f)
{
    g_autofree char *prefix = g_strdup_printf("qcontextd: device '%s': ", id);

    for (guint i = 0; i < d->lines->len; i++) {
        const char *line = g_ptr_array_index(d->lines, i);
        if (g_str_has_prefix(line, prefix)) {
            int got = sscanf(line + strlen(prefix),
                             "%" G_GUINT64_FORMAT " requests, %" G_GUINT64_FORMAT
                             " completed, %" G_GUINT64_FORMAT " failed",
                             n, c, f);
            g_assert_cmpint(got, ==, 3);
            return;
        }
    }
    g_error("no totals for device '%s'", id);
}

/* SIGTERM with requests in flight: they drain, exit 0. */
static void test_shutdown_under_load(void)
{
    Daemon *d =
        daemon_spawn("-object", "glib-qcontext,id=ctx0,threaded=yes", "-device",
                     "ticker,id=t0,context=ctx0,interval-us=500,latency-us=50000",
                     "-device", "ticker,id=t1,interval-us=700,latency-us=20000");
    g_autofree char *err_text = NULL;
    guint64 n, c, f;

    daemon_wait_ready(d);
    g_usleep(150 * 1000); /* let requests pile up: ~100 in flight per device */
    daemon_signal(d, SIGTERM);
    err_text = daemon_expect_exit(d, 0);
    g_assert_cmpstr(err_text, ==, "");
    device_totals(d, "t0", &n, &c, &f);
    g_assert_cmpuint(n, >, 0);
    g_assert_cmpuint(c, ==, n);
    g_assert_cmpuint(f, ==, 0);
    device_totals(d, "t1", &n, &c, &f);
    g_assert_cmpuint(n, >, 0);
    g_assert_cmpuint(c, ==, n);
    daemon_free(d);
}

/* The drain is bounded: what does not finish in time is failed, exit 0. */
static void test_shutdown_timeout(void)
{
    Daemon *d = daemon_spawn("-object", "glib-qcontext,id=ctx0,threaded=yes", "-device",
                             "ticker,id=t0,context=ctx0,interval-us=1000,latency-us="
                             "30000000",
                             "-shutdown-timeout", "0.2");
    g_autofree char *err_text = NULL;
    guint64 n, c, f;

    daemon_wait_ready(d);
    g_usleep(50 * 1000);
    daemon_signal(d, SIGTERM);
    err_text = daemon_expect_exit(d, 0);
    g_assert_nonnull(strstr(err_text, "qcontextd: device 't0': "));
    g_assert_nonnull(strstr(err_text, "still in flight after 0.2 s; failing them"));
    device_totals(d, "t0", &n, &c, &f);
    g_assert_cmpuint(n, >, 0);
    g_assert_cmpuint(c, ==, 0);
    g_assert_cmpuint(f, ==, n);
    daemon_free(d);
}

/* A SIGINT during the shutdown exits at once with status 1. */
static void test_second_sigint(void)
{
    Daemon *d = daemon_spawn("-object", "glib-qcontext,id=ctx0,threaded=yes", "-device",
                             "ticker,id=t0,context=ctx0,latency-us=30000000");
    g_autofree char *err_text = NULL;

    daemon_wait_ready(d);
    g_usleep(20 * 1000);
    daemon_signal(d, SIGINT);
    g_assert_true(daemon_wait_line(d, "qcontextd: shutting down (host-signal)"));
    daemon_signal(d, SIGINT);
    err_text = daemon_expect_exit(d, 1);
    g_assert_nonnull(strstr(err_text, "second SIGINT"));
    daemon_free(d);
}

static char *read_pidfile(const char *path)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

/* -daemonize: the parent exits once ready; the pidfile holds the daemon. */
static void test_daemonize_pidfile(void)
{
    g_autofree char *dir = g_dir_make_tmp("qcontextd-XXXXXX", NULL);
    g_autofree char *pidfile = g_build_filename(dir, "qcontextd.pid", NULL);
    g_autofree char *text = NULL;
    g_autofree char *busy = NULL;
    g_autofree char *expect = NULL;
    g_autofree char *out = NULL;
    g_autoptr(GPtrArray) names = NULL;
    int status;
    pid_t pid;

    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *sock = g_build_filename(dir, "mon.sock", NULL);
    g_autofree char *cwd_link = NULL;
    g_autofree char *daemon_cwd = NULL;

    /* Orphans of ours (the daemon) are reparented to us: we can reap it.
     * Relative paths, from @dir: the daemon resolves them before it leaves
     * its working directory for "/". */
    g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
    g_assert_cmpint(g_chdir(dir), ==, 0);
    out = RUN(0, "", "-daemonize", "-pidfile", "qcontextd.pid", "-object",
              "glib-qcontext,id=ctx0,threaded=yes", "-monitor",
              "unix:mon.sock,server=on");
    g_assert_cmpint(g_chdir(cwd), ==, 0);
    g_assert_nonnull(strstr(out, "qcontextd: ready"));
    /* Ready means serving: the monitor socket exists once the parent exits. */
    g_assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));
    text = read_pidfile(pidfile);
    pid = (pid_t)g_ascii_strtoll(text, NULL, 10);
    g_assert_cmpint(pid, >, 0);
    g_assert_cmpint(kill(pid, 0), ==, 0);
    names = thread_names(pid);
    g_assert_true(names_contain(names, "qctx/ctx0"));
    cwd_link = g_strdup_printf("/proc/%d/cwd", (int)pid);
    daemon_cwd = g_file_read_link(cwd_link, NULL);
    g_assert_cmpstr(daemon_cwd, ==, "/");

    expect = g_strdup_printf("qcontextd: pidfile '%s' is in use by a running process "
                             "(pid %d)\n",
                             pidfile, (int)pid);
    busy = RUN(1, expect, "-pidfile", pidfile);

    g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_false(g_file_test(pidfile, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* -daemonize: an init error is the parent's: printed, exit 1. */
static void test_daemonize_error(void)
{
    g_autofree char *out = RUN(1,
                               "qcontextd: -object glib-qcontext,id=x,bogus=1: unknown "
                               "property 'bogus' for type 'glib-qcontext'\n",
                               "-daemonize", "-object", "glib-qcontext,id=x,bogus=1");

    g_assert_null(strstr(out, "ready"));
}

/* The "created" lines of a run, up to ready, and the daemon's name. */
static char *created_lines(const char *const *args)
{
    Daemon *d = daemon_spawn_argv(args);
    GString *s = g_string_new(NULL);
    g_autofree char *err_text = NULL;

    g_autofree char *comm_path = NULL;
    g_autofree char *comm = NULL;

    daemon_wait_ready(d);
    for (guint i = 0; i < d->lines->len; i++) {
        const char *line = g_ptr_array_index(d->lines, i);
        if (strstr(line, ": created ")) {
            g_string_append_printf(s, "%s\n", line);
        }
    }
    /* -name: the main thread's name. */
    comm_path = g_strdup_printf("/proc/%d/comm", (int)daemon_pid(d));
    g_assert_true(g_file_get_contents(comm_path, &comm, NULL, NULL));
    g_string_append_printf(s, "name %s\n", g_strstrip(comm));
    daemon_signal(d, SIGTERM);
    err_text = daemon_expect_exit(d, 0);
    daemon_free(d);
    return g_string_free(s, FALSE);
}

static void test_readconfig(void)
{
    g_autofree char *dir = g_dir_make_tmp("qcontextd-XXXXXX", NULL);
    g_autofree char *cfg = g_build_filename(dir, "daemon.cfg", NULL);
    g_autofree char *bad = g_build_filename(dir, "bad.cfg", NULL);
    g_autofree char *from_file = NULL;
    g_autofree char *from_argv = NULL;
    g_autofree char *expect = NULL;
    g_autofree char *out = NULL;

    g_assert_true(g_file_set_contents(cfg,
                                      "# two contexts and a device\n"
                                      "\n"
                                      "-device ticker,id=t0,context=ctx0\n"
                                      "  -object glib-qcontext,id=ctx0,threaded=yes\n"
                                      "--object=glib-qcontext,id=ctx1\n"
                                      "-name cfg\n"
                                      "-shutdown-timeout 2\n",
                                      -1, NULL));
    from_file = created_lines((const char *const[]){"-readconfig", cfg, NULL});
    from_argv = created_lines((const char *const[]){
        "-device", "ticker,id=t0,context=ctx0", "-object",
        "glib-qcontext,id=ctx0,threaded=yes", "--object=glib-qcontext,id=ctx1", "-name",
        "cfg", "-shutdown-timeout", "2", NULL});
    g_assert_cmpstr(from_file, ==, from_argv);
    g_assert_cmpstr(from_file, ==,
                    "qcontextd: created glib-qcontext 'ctx0' (thread qctx/ctx0)\n"
                    "qcontextd: created glib-qcontext 'ctx1' (not threaded)\n"
                    "qcontextd: created ticker 't0' (device on context 'ctx0')\n"
                    "name cfg\n");

    g_assert_true(
        g_file_set_contents(bad, "-object glib-qcontext,id=a\n\n-bogus 1\n", -1, NULL));
    expect =
        g_strdup_printf("qcontextd: %s:3: unknown option '-bogus' (try --help)\n", bad);
    out = RUN(1, expect, "-readconfig", bad);

    /* QEMU's format, mixed with ours, gives the same daemon. */
    g_assert_true(g_file_set_contents(cfg,
                                      "# QEMU's -readconfig format\n"
                                      "[device \"t0\"]\n"
                                      "  driver = \"ticker\"\n"
                                      "  context = \"ctx0\"\n"
                                      "[object]\n"
                                      "  qom-type = \"glib-qcontext\"\n"
                                      "  id = \"ctx0\"\n"
                                      "  threaded = \"yes\"\n"
                                      "\n"
                                      "[object \"ctx1\"]\n"
                                      "  qom-type = \"glib-qcontext\"\n"
                                      "[name]\n"
                                      "  guest = \"cfg\"\n"
                                      "-shutdown-timeout 2\n",
                                      -1, NULL));
    g_free(from_file);
    from_file = created_lines((const char *const[]){"-readconfig", cfg, NULL});
    g_assert_cmpstr(from_file, ==, from_argv);

    /* [drive "ID"] is -drive. */
    g_assert_true(g_file_set_contents(cfg,
                                      "[drive \"d0\"]\n"
                                      "  format = \"null\"\n"
                                      "  size = \"1M\"\n",
                                      -1, NULL));
    g_free(from_file);
    g_free(from_argv);
    from_file = created_lines((const char *const[]){"-readconfig", cfg, NULL});
    from_argv = created_lines(
        (const char *const[]){"-drive", "id=d0,format=null,size=1M", NULL});
    g_assert_cmpstr(from_file, ==, from_argv);
    g_assert_nonnull(strstr(from_file, "created drive 'd0'"));
    g_remove(cfg);
    g_remove(bad);
    g_rmdir(dir);
}

/* Write @text to DIR/@name; returns the path. */
static char *cfg_file(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/*
 * Every bad -readconfig file gives one line that says where (once), and
 * what, in our words: no GLib curly quotes, a loop named as such.
 */
static void test_readconfig_errors(void)
{
    static const struct {
        const char *text;
        int line;
        const char *what;
    } cases[] = {
        {"[chardev \"c\"]\n", 1,
         "there is no option group 'chardev' (qcontextd reads [object], [device], "
         "[drive] and [name])"},
        {"# x\nid = \"x\"\n", 2, "'id = ...' comes before any [section]"},
        {"[object]\n  id = x\n", 2,
         "expected KEY = \"VALUE\" (QEMU's -readconfig format), [SECTION] or "
         "-OPTION [ARGUMENT]"},
        {"[object\n", 1, "expected a section header [GROUP] or [GROUP \"ID\"]"},
        {"[object]\n  id = \"x\"\n", 1, "[object] needs qom-type = \"TYPE\""},
        {"[object \"a\"]\n qom-type = \"glib-qcontext\"\n id = \"b\"\n", 3,
         "the id is given twice (in the [object \"a\"] header too)"},
        {"\n[object]\n qom-type = \"glib-qcontext\"\n id = \"x\"\n bogus = \"1\"\n", 2,
         "-object glib-qcontext,id=x,bogus=1: unknown property 'bogus' for type "
         "'glib-qcontext'"},
    };
    g_autofree char *dir = g_dir_make_tmp("qcontextd-XXXXXX", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.cfg", NULL);
    g_autofree char *self = g_build_filename(dir, "self.cfg", NULL);
    g_autofree char *a = g_build_filename(dir, "a.cfg", NULL);
    g_autofree char *b = g_build_filename(dir, "b.cfg", NULL);
    g_autofree char *self_text = g_strdup_printf("-readconfig %s\n", self);
    g_autofree char *a_text = g_strdup_printf("-readconfig %s\n", b);
    g_autofree char *b_text = g_strdup_printf("# b\n-readconfig %s\n", a);
    char *expect, *out;

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = cfg_file(dir, "bad.cfg", cases[i].text);
        expect = g_strdup_printf("qcontextd: %s:%d: %s\n", path, cases[i].line,
                                 cases[i].what);
        g_free(RUN(1, expect, "-readconfig", path));
        g_free(expect);
        g_remove(path);
    }
    expect = g_strdup_printf("qcontextd: -readconfig %s: No such file or directory\n",
                             missing);
    g_free(RUN(1, expect, "-readconfig", missing));
    g_free(expect);
    expect = g_strdup_printf("qcontextd: -readconfig %s: Is a directory\n", dir);
    g_free(RUN(1, expect, "-readconfig", dir));
    g_free(expect);

    g_free(cfg_file(dir, "self.cfg", self_text));
    expect = g_strdup_printf(
        "qcontextd: %s:1: -readconfig %s: the file includes itself\n", self, self);
    g_free(RUN(1, expect, "-readconfig", self));
    g_free(expect);
    g_free(cfg_file(dir, "a.cfg", a_text));
    g_free(cfg_file(dir, "b.cfg", b_text));
    {
        char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
        expect = g_strdup_printf("qcontextd: %s:2: -readconfig %s: the files include "
                                 "each other (%s -> %s -> %s)\n",
                                 b, a, ra, rb, ra);
        free(ra);
        free(rb);
    }
    out = RUN(1, expect, "-readconfig", a);
    g_free(expect);
    g_free(out);
    g_remove(self);
    g_remove(a);
    g_remove(b);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    g_test_add_func("/qcontextd/version-help", test_version_help);
    g_test_add_func("/qcontextd/object-help", test_object_help);
    g_test_add_func("/qcontextd/bad-options", test_bad_options);
    g_test_add_func("/qcontextd/threads-sigterm", test_threads_sigterm);
    g_test_add_func("/qcontextd/sighup", test_sighup);
    g_test_add_func("/qcontextd/shutdown/under-load", test_shutdown_under_load);
    g_test_add_func("/qcontextd/shutdown/timeout", test_shutdown_timeout);
    g_test_add_func("/qcontextd/shutdown/second-sigint", test_second_sigint);
    g_test_add_func("/qcontextd/daemonize/pidfile", test_daemonize_pidfile);
    g_test_add_func("/qcontextd/daemonize/error", test_daemonize_error);
    g_test_add_func("/qcontextd/readconfig", test_readconfig);
    g_test_add_func("/qcontextd/readconfig-errors", test_readconfig_errors);
    return g_test_run();
}

/*
 * test-ctl-modes: qcontext-ctl's other modes against the real qcontextd:
 * help [COMMAND] from the daemon's schema, raw JSON, events, top and the
 * shell noticing SHUTDOWN (exit 0, no "Broken pipe"), the interactive shell
 * on a pipe and on a terminal (a pty: line editing, history recall, tab
 * completion, the history file).
 *
 * qcontext-ctl is found next to $QCONTEXTD (or in $QCONTEXT_CTL).
 *
 * SPDX-License-Identifier: MIT
 */
#include <pty.h>
#include <gio/gio.h>

#include "test-monitor-util.h"

static char *ctl_path;

typedef struct {
    int status;
    char *out, *err;
} CtlRun;

static void ctl_free(CtlRun *r)
{
    g_free(r->out);
    g_free(r->err);
    g_free(r);
}

static GSubprocess *ctl_spawn(const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    GError *err = NULL;
    GSubprocess *p;

    g_ptr_array_add(argv, ctl_path);
    for (int i = 0; args[i]; i++) {
        g_ptr_array_add(argv, (char *)args[i]);
    }
    g_ptr_array_add(argv, NULL);
    p = g_subprocess_newv((const char *const *)argv->pdata,
                          G_SUBPROCESS_FLAGS_STDIN_PIPE |
                              G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE,
                          &err);
    g_assert_no_error(err);
    return p;
}

/* Run qcontext-ctl with @input on its stdin (NULL: none) to its end. */
static CtlRun *ctl_finish(GSubprocess *p, const char *input)
{
    CtlRun *r = g_new0(CtlRun, 1);
    GError *err = NULL;

    g_assert_true(
        g_subprocess_communicate_utf8(p, input, NULL, &r->out, &r->err, &err));
    g_assert_no_error(err);
    g_assert_true(g_subprocess_get_if_exited(p));
    r->status = g_subprocess_get_exit_status(p);
    g_object_unref(p);
    return r;
}

#define CTL(input, ...)                                                                \
    ctl_finish(ctl_spawn((const char *const[]){__VA_ARGS__, NULL}), input)

static TestDaemon *start_std(void)
{
    return td_start("-name", "ctltest", "-object", "aio-qcontext,id=io0,threaded=on",
                    "-device", "ticker,id=tick0,context=io0,interval-us=2000", NULL);
}

static guint count_of(const char *hay, const char *needle)
{
    guint n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------ */

static void test_help(void)
{
    TestDaemon *d = start_std();
    CtlRun *r = CTL(NULL, d->sock, "help");

    g_assert_cmpint(r->status, ==, 0);
    g_assert_true(g_regex_match_simple("\n  qom-set +set a property of a live object\n",
                                       r->out, 0, 0));
    g_assert_nonnull(strstr(r->out, "Events"));
    g_assert_true(
        g_regex_match_simple("\n  SHUTDOWN +the daemon is stopping", r->out, 0, 0));
    ctl_free(r);

    r = CTL(NULL, d->sock, "help", "qom-set");
    g_assert_cmpint(r->status, ==, 0);
    g_assert_nonnull(strstr(
        r->out,
        "Usage: qcontext-ctl SOCKET qom-set path=VALUE property=VALUE value=VALUE"));
    g_assert_true(g_regex_match_simple("\n  path +str +required +the object's path",
                                       r->out, 0, 0));
    ctl_free(r);

    r = CTL(NULL, d->sock, "help", "query-qcontexts");
    g_assert_true(g_regex_match_simple("\n  histogram +bool +optional ", r->out, 0, 0));
    ctl_free(r);

    /* object-add: each type's properties, enums by their values. */
    r = CTL(NULL, d->sock, "help", "object-add");
    g_assert_cmpint(r->status, ==, 0);
    g_assert_nonnull(strstr(r->out, "  aio-qcontext:\n"));
    g_assert_true(g_regex_match_simple("\n    poll-max-ns +int64 +optional +Longest",
                                       r->out, 0, 0));
    g_assert_true(
        g_regex_match_simple("\n    fdmon +epoll\\|io_uring\\|poll ", r->out, 0, 0));
    ctl_free(r);

    r = CTL(NULL, d->sock, "help", "DEVICE_MOVED");
    g_assert_nonnull(strstr(r->out, "DEVICE_MOVED (event)"));
    g_assert_true(g_regex_match_simple("\n  old-context +str ", r->out, 0, 0));
    ctl_free(r);

    r = CTL(NULL, d->sock, "help", "nope");
    g_assert_cmpint(r->status, ==, 1);
    g_assert_nonnull(strstr(r->err, "no command or event 'nope'"));
    ctl_free(r);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_raw_json(void)
{
    TestDaemon *d = start_std();
    CtlRun *r = CTL(NULL, d->sock, "{\"execute\": \"query-name\", \"id\": \"r1\"}");

    g_assert_cmpint(r->status, ==, 0);
    g_assert_cmpstr(r->out, ==, "{\"return\":{\"name\":\"ctltest\"},\"id\":\"r1\"}\n");
    ctl_free(r);
    /* Sent as typed: the daemon's strict reader judges it. */
    r = CTL(NULL, d->sock, "{\"execute\": \"query-name\", \"execute\": \"quit\"}");
    g_assert_cmpint(r->status, ==, 1);
    g_assert_nonnull(strstr(r->out, "duplicate key 'execute'"));
    ctl_free(r);
    r = CTL(NULL, d->sock,
            "{\"execute\": \"qom-get\", \"arguments\": {\"path\": "
            "\"/objects/nope\", \"property\": \"type\"}}");
    g_assert_cmpint(r->status, ==, 1);
    g_assert_nonnull(strstr(r->out, "\"class\":\"DeviceNotFound\""));
    ctl_free(r);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* Read @p's stdout up to @lines lines (blocking, with the test's timeout). */
static char *read_lines(GSubprocess *p, guint lines)
{
    GInputStream *out = g_subprocess_get_stdout_pipe(p);
    GString *s = g_string_new(NULL);

    while (count_of(s->str, "\n") < lines) {
        char buf[4096];
        GError *err = NULL;
        gssize n = g_input_stream_read(out, buf, sizeof(buf), NULL, &err);
        g_assert_no_error(err);
        if (n <= 0) {
            break;
        }
        g_string_append_len(s, buf, n);
    }
    return g_string_free(s, FALSE);
}

static void test_events(void)
{
    TestDaemon *d = start_std();
    GSubprocess *ev = ctl_spawn((const char *const[]){d->sock, "events", NULL});
    g_autofree char *first = NULL;
    CtlRun *r;

    /* Once it listens (its own qmp_capabilities done), move tick0 twice. */
    for (int i = 0; i < 2; i++) {
        g_usleep(i ? 0 : 200000);
        r = CTL(NULL, d->sock, "device-set-context", "id=tick0",
                i ? "context=io0" : "context=main");
        g_assert_cmpint(r->status, ==, 0);
        ctl_free(r);
    }
    first = read_lines(ev, 2);
    g_assert_cmpuint(count_of(first, "{\"event\":\"DEVICE_MOVED\""), ==, 2);
    g_assert_nonnull(strstr(first, "\"context\":\"main\""));
    /* quit: events prints SHUTDOWN and exits 0. */
    r = CTL(NULL, d->sock, "quit");
    g_assert_cmpint(r->status, ==, 0);
    ctl_free(r);
    r = ctl_finish(ev, NULL);
    g_assert_cmpint(r->status, ==, 0);
    g_assert_nonnull(strstr(r->out, "{\"event\":\"SHUTDOWN\""));
    g_assert_cmpstr(r->err, ==, "");
    ctl_free(r);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* top and the shell notice the daemon shutting down and exit 0. */
static void test_shutdown_seen(void)
{
    TestDaemon *d = start_std();
    GSubprocess *top =
        ctl_spawn((const char *const[]){d->sock, "top", "--interval", "0.2", NULL});
    GSubprocess *sh = ctl_spawn((const char *const[]){d->sock, NULL});
    g_autofree char *screen = read_lines(top, 4); /* top has sampled */
    CtlRun *r;

    g_assert_nonnull(strstr(screen, "CONTEXT"));
    r = CTL(NULL, d->sock, "quit");
    g_assert_cmpint(r->status, ==, 0);
    ctl_free(r);
    r = ctl_finish(top, NULL);
    g_assert_cmpint(r->status, ==, 0);
    g_assert_cmpstr(r->err, ==, "qcontext-ctl: the daemon shut down (host-qmp-quit)\n");
    ctl_free(r);
    /* The shell waits for input; the daemon went: it says so and ends. */
    g_usleep(100000);
    r = ctl_finish(sh, "");
    g_assert_cmpint(r->status, ==, 0);
    ctl_free(r);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_shell_pipe(void)
{
    TestDaemon *d = start_std();
    CtlRun *r = CTL("query-name\n"
                    "# a comment\n"
                    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"io0\", "
                    "\"property\": \"fdmon\"}, \"id\": 7}\n"
                    "device-set-context id=tick0 context=main\n"
                    "qom-get path=tick0 property=context\n"
                    "help qom-get\n"
                    "bogus-command\n"
                    "qom-get path=io0\n"
                    "qom-get path=\"io0\n"
                    "exit\n"
                    "query-name\n",
                    d->sock);

    g_assert_cmpint(r->status, ==, 0);
    g_assert_nonnull(strstr(r->out, "\"name\" : \"ctltest\""));
    g_assert_nonnull(strstr(r->out, "{\"return\":\"epoll\",\"id\":7}\n"));
    g_assert_nonnull(strstr(r->out, "event: {\"event\":\"DEVICE_MOVED\""));
    g_assert_nonnull(strstr(r->out, "\"/objects/main\"\n"));
    g_assert_nonnull(strstr(r->out, "Usage: qcontext-ctl SOCKET qom-get"));
    g_assert_nonnull(
        strstr(r->out,
               "error: CommandNotFound: The command bogus-command has not been found"));
    g_assert_nonnull(
        strstr(r->out, "error: GenericError: Parameter 'property' is missing"));
    g_assert_cmpuint(count_of(r->out, "ctltest"), ==, 1); /* nothing after exit */
    g_assert_cmpstr(r->err, ==,
                    "cannot split the line into words (a quote not closed?)\n");
    ctl_free(r);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* The shell on a terminal                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    int master;
    pid_t pid;
    GString *screen;
} Pty;

/* Read from the terminal until @needle has appeared @times times. */
static void pty_expect(Pty *t, const char *needle, guint times)
{
    gint64 deadline = g_get_monotonic_time() + TD_TIMEOUT_MS * 1000;

    while (count_of(t->screen->str, needle) < times) {
        struct pollfd pfd = {.fd = t->master, .events = POLLIN};
        char buf[4096];
        gssize n;

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        n = read(t->master, buf, sizeof(buf));
        if (n <= 0) {
            g_test_message("terminal so far:\n%s", t->screen->str);
            g_error("the terminal closed before '%s' appeared %u times", needle, times);
        }
        g_string_append_len(t->screen, buf, n);
    }
}

static void pty_type(Pty *t, const char *keys)
{
    g_assert_cmpint(write(t->master, keys, strlen(keys)), ==, (gssize)strlen(keys));
}

static void test_shell_tty(void)
{
    TestDaemon *d = start_std();
    g_autofree char *dir = g_dir_make_tmp("qctx-ctl-XXXXXX", NULL);
    g_autofree char *hist = g_build_filename(dir, "history", NULL);
    g_autofree char *saved = NULL;
    struct winsize ws = {.ws_row = 40, .ws_col = 200};
    Pty t = {.screen = g_string_new(NULL)};
    int status;

    t.pid = forkpty(&t.master, NULL, NULL, &ws);
    g_assert_cmpint(t.pid, >=, 0);
    if (t.pid == 0) {
        setenv("TERM", "xterm", 1);
        setenv("QCONTEXT_CTL_HISTORY", hist, 1);
        unsetenv("EDITRC");
        setenv("HOME", dir, 1); /* no ~/.editrc of the user's */
        execl(ctl_path, ctl_path, d->sock, (char *)NULL);
        _exit(127);
    }
    pty_expect(&t, "qcontext> ", 1);
    pty_type(&t, "query-name\r");
    pty_expect(&t, "\"ctltest\"", 1);
    /* Up arrow recalls the last line from the history; Enter runs it. */
    pty_expect(&t, "qcontext> ", 2);
    pty_type(&t, "\033[A\r");
    pty_expect(&t, "\"ctltest\"", 2);
    /* Line editing: a typo fixed with backspace and cursor moves. */
    pty_expect(&t, "qcontext> ", 3);
    pty_type(&t, "qom-gett\177 path=io0 property=fdmn\033[Do\r");
    pty_expect(&t, "\"epoll\"", 1);
    /* Tab completes a command name. */
    pty_expect(&t, "qcontext> ", 4);
    pty_type(&t, "query-na\t\r");
    pty_expect(&t, "\"ctltest\"", 3);
    /* An event while the prompt waits is shown, and the prompt comes back. */
    pty_expect(&t, "qcontext> ", 5);
    {
        CtlRun *r =
            CTL(NULL, d->sock, "device-set-context", "id=tick0", "context=main");
        g_assert_cmpint(r->status, ==, 0);
        ctl_free(r);
    }
    pty_expect(&t, "event: {\"event\":\"DEVICE_MOVED\"", 1);
    pty_expect(&t, "qcontext> ", 6);
    pty_type(&t, "exit\r");
    g_assert_cmpint(waitpid(t.pid, &status, 0), ==, t.pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(t.master);

    /* The history was saved, and a new shell starts with it. */
    g_assert_true(g_file_get_contents(hist, &saved, NULL, NULL));
    /* libedit's history file escapes blanks as \040. */
    g_assert_nonnull(strstr(saved, "qom-get\\040path=io0\\040property=fdmon"));
    g_assert_nonnull(strstr(saved, "query-name"));

    /* A new shell starts with it: Up brings back the last line, "exit". */
    g_string_truncate(t.screen, 0);
    t.pid = forkpty(&t.master, NULL, NULL, &ws);
    g_assert_cmpint(t.pid, >=, 0);
    if (t.pid == 0) {
        setenv("TERM", "xterm", 1);
        setenv("QCONTEXT_CTL_HISTORY", hist, 1);
        setenv("HOME", dir, 1);
        execl(ctl_path, ctl_path, d->sock, (char *)NULL);
        _exit(127);
    }
    pty_expect(&t, "qcontext> ", 1);
    pty_type(&t, "\033[A");
    pty_expect(&t, "exit", 1);
    pty_type(&t, "\r");
    g_assert_cmpint(waitpid(t.pid, &status, 0), ==, t.pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(t.master);
    g_string_free(t.screen, TRUE);
    g_unlink(hist);
    g_rmdir(dir);
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
    if (g_getenv("QCONTEXT_CTL")) {
        ctl_path = g_strdup(g_getenv("QCONTEXT_CTL"));
    } else {
        g_autofree char *dir = g_path_get_dirname(td_binary());
        ctl_path = g_build_filename(dir, "qcontext-ctl", NULL);
    }
    g_assert_true(g_file_test(ctl_path, G_FILE_TEST_IS_EXECUTABLE));
    g_test_add_func("/ctl-modes/help", test_help);
    g_test_add_func("/ctl-modes/raw-json", test_raw_json);
    g_test_add_func("/ctl-modes/events", test_events);
    g_test_add_func("/ctl-modes/shutdown-seen", test_shutdown_seen);
    g_test_add_func("/ctl-modes/shell-pipe", test_shell_pipe);
    g_test_add_func("/ctl-modes/shell-tty", test_shell_tty);
    return g_test_run();
}

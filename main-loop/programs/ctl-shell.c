/*
 * main-loop/programs/ctl-shell.c - qcontext-ctl's events mode and its
 * interactive mode.
 *
 * The interactive mode reads lines: "COMMAND [key=value...]", a raw JSON
 * message ("{...}", sent as typed; the whole reply is printed), "help
 * [COMMAND]" or "exit".  Events are printed as they come, also while a line
 * is being typed.  On a terminal, libedit gives line editing, tab completion
 * of command names and a history kept in $QCONTEXT_CTL_HISTORY (default
 * ${XDG_STATE_HOME:-~/.local/state}/qcontext/ctl_history); otherwise lines
 * are read plainly (scripts, pipes).  It ends at end of input, "exit", or
 * when the daemon shuts down (exit status 0) or goes away (1).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <histedit.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "ctl.h"

#define CTL_PROMPT "qcontext> "
#define CTL_HISTORY_MAX 1000

typedef struct {
    Ctl *q;
    gboolean tty;
    gboolean editing; /* libedit shows a prompt and a line being typed */
    gboolean done;
    int rc;
    EditLine *el;
    History *hist;
    char *history;         /* history file, or NULL */
    GString *pending;      /* stdin bytes not yet a line (no terminal) */
    GPtrArray *completion; /* command names, for tab completion */
} Shell;

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

static char *compact(JsonObject *obj)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

    return json_to_string(node, FALSE);
}

/* Print @text on its own line, above the line being typed if any. */
static void print_above(Shell *sh, const char *text)
{
    if (!sh->editing) {
        printf("%s\n", text);
        fflush(stdout);
        return;
    }
    printf("\r\033[K%s\n", text); /* over the prompt line, then redraw it */
    fflush(stdout);
    el_set(sh->el, EL_REFRESH);
}

static void shell_event(JsonObject *event, void *opaque)
{
    g_autofree char *text = compact(event);
    g_autofree char *line = g_strdup_printf("event: %s", text);

    print_above(opaque, line);
}

int ctl_events(Ctl *q, gint64 count)
{
    GError *err = NULL;

    for (gint64 n = 0; count <= 0 || n < count;) {
        JsonObject *msg = ctl_read(q, -1, &err);

        if (!msg) {
            break;
        }
        if (json_object_has_member(msg, "event")) {
            g_autofree char *text = compact(msg);
            printf("%s\n", text);
            fflush(stdout);
            n++;
        }
        json_object_unref(msg);
        if (q->shutdown_reason) {
            return 0;
        }
    }
    if (err) {
        fprintf(stderr, "%s: %s\n", CTL_PRG, err->message);
        g_error_free(err);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One line                                                                  */
/* ------------------------------------------------------------------------ */

/* The daemon went away: say so; 0 if it shut down, 1 otherwise. */
static void shell_lost(Shell *sh, GError *err)
{
    if (sh->q->shutdown_reason && (!err || ctl_closed_by_shutdown(sh->q, err))) {
        fprintf(stderr, "%s: the daemon shut down (%s)\n", CTL_PRG,
                sh->q->shutdown_reason);
    } else {
        fprintf(stderr, "%s: %s\n", CTL_PRG, err ? err->message : "connection lost");
        sh->rc = 1;
    }
    sh->done = TRUE;
}

static void shell_command(Shell *sh, char **argv)
{
    g_autoptr(JsonObject) args = json_object_new();
    g_autoptr(JsonObject) reply = NULL;
    GError *err = NULL;
    JsonNode *ret;

    for (int i = 1; argv[i]; i++) {
        if (!ctl_args_add(args, argv[i], &err)) {
            fprintf(stderr, "%s\n", err->message);
            g_error_free(err);
            return;
        }
    }
    reply = ctl_execute(sh->q, argv[0], args, &err);
    if (!reply) {
        shell_lost(sh, err);
        g_clear_error(&err);
        return;
    }
    ret = ctl_reply_value(reply, &err);
    if (ret) {
        ctl_print_json(ret, TRUE);
    } else {
        printf("error: %s\n", err->message);
        g_error_free(err);
    }
}

static void shell_line(Shell *sh, const char *text)
{
    g_autofree char *line = g_strstrip(g_strdup(text));
    g_auto(GStrv) argv = NULL;
    GError *err = NULL;

    if (!*line || *line == '#') {
        return;
    }
    if (*line == '{') { /* raw JSON: as typed; the whole reply back */
        g_autoptr(JsonObject) reply = ctl_execute_raw(sh->q, line, &err);
        if (!reply) {
            shell_lost(sh, err);
            g_clear_error(&err);
            return;
        }
        g_autofree char *out = compact(reply);
        printf("%s\n", out);
    } else if (!g_shell_parse_argv(line, NULL, &argv, &err)) {
        /* GLib's own wording quotes the line in curly quotes: say it plainly. */
        fprintf(stderr, "cannot split the line into words (a quote not closed?)\n");
        g_error_free(err);
    } else if (!strcmp(argv[0], "exit")) {
        sh->done = TRUE;
    } else if (!strcmp(argv[0], "help")) {
        ctl_help(sh->q, argv[1]);
    } else {
        shell_command(sh, argv);
    }
    fflush(stdout);
    if (sh->q->shutdown_reason && !sh->done) {
        shell_lost(sh, NULL);
    }
}

/* ------------------------------------------------------------------------ */
/* Input: libedit on a terminal, plain lines otherwise                       */
/* ------------------------------------------------------------------------ */

static void socket_input(Shell *sh);

static char *prompt(EditLine *el)
{
    return CTL_PROMPT;
}

/*
 * libedit asks for the next character: wait for stdin, and meanwhile show
 * the events the daemon sends.  0 (end of input) once the shell is done.
 */
static int read_char(EditLine *el, wchar_t *wc)
{
    Shell *sh;
    char buf[8];
    gsize len = 0;

    el_get(el, EL_CLIENTDATA, &sh);
    while (!sh->done) {
        struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = sh->q->fd, .events = POLLIN}};
        gunichar c;
        gssize n;

        if (memchr(sh->q->in->str, '\n', sh->q->in->len)) {
            socket_input(sh); /* read along with a reply */
            continue;
        }
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (pfd[1].revents) {
            socket_input(sh);
            continue;
        }
        n = read(STDIN_FILENO, buf + len, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -1 : 0;
        }
        len += n;
        c = g_utf8_get_char_validated(buf, len);
        if (c == (gunichar)-2 && len < 6) {
            continue; /* an incomplete UTF-8 sequence: read on */
        }
        *wc = c < 0x110000 ? (wchar_t)c : (wchar_t)(unsigned char)buf[0];
        return 1;
    }
    return 0;
}

/* Tab: complete the command name at the start of the line. */
static unsigned char complete(EditLine *el, int ch)
{
    const LineInfo *li = el_line(el);
    g_autofree char *word = g_strndup(li->buffer, li->cursor - li->buffer);
    g_autoptr(GPtrArray) hits = g_ptr_array_new();
    g_autofree char *common = NULL;
    Shell *sh;

    el_get(el, EL_CLIENTDATA, &sh);
    if (strpbrk(word, " \t")) {
        return CC_ERROR; /* arguments: nothing to complete */
    }
    for (guint i = 0; i < sh->completion->len; i++) {
        if (g_str_has_prefix(sh->completion->pdata[i], word)) {
            g_ptr_array_add(hits, sh->completion->pdata[i]);
        }
    }
    if (!hits->len) {
        return CC_ERROR;
    }
    common = g_strdup(hits->pdata[0]);
    for (guint i = 1; i < hits->len; i++) {
        const char *h = hits->pdata[i];
        gsize k = 0;
        while (common[k] && common[k] == h[k]) {
            k++;
        }
        common[k] = '\0';
    }
    if (strlen(common) > strlen(word)) {
        el_insertstr(el, common + strlen(word));
        if (hits->len == 1) {
            el_insertstr(el, " ");
        }
        return CC_REFRESH;
    }
    printf("\n");
    for (guint i = 0; i < hits->len; i++) {
        printf("%s%s", i ? "  " : "", (char *)hits->pdata[i]);
    }
    printf("\n");
    return CC_REDISPLAY;
}

static void completion_load(Shell *sh)
{
    g_autoptr(JsonObject) reply = ctl_execute(sh->q, "query-commands", NULL, NULL);
    JsonNode *ret = reply ? ctl_reply_value(reply, NULL) : NULL;
    JsonArray *arr =
        ret && JSON_NODE_HOLDS_ARRAY(ret) ? json_node_get_array(ret) : NULL;

    sh->completion = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(sh->completion, g_strdup("help"));
    g_ptr_array_add(sh->completion, g_strdup("exit"));
    for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
        JsonObject *c = json_array_get_object_element(arr, i);
        g_ptr_array_add(
            sh->completion,
            g_strdup(json_object_get_string_member_with_default(c, "name", "")));
    }
}

static char *history_path(void)
{
    const char *env = g_getenv("QCONTEXT_CTL_HISTORY");
    const char *state = g_getenv("XDG_STATE_HOME");
    g_autofree char *dir = NULL;

    if (env) {
        return *env ? g_strdup(env) : NULL; /* empty: no history file */
    }
    dir = state && g_path_is_absolute(state)
              ? g_build_filename(state, "qcontext", NULL)
              : g_build_filename(g_get_home_dir(), ".local", "state", "qcontext", NULL);
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        return NULL;
    }
    return g_build_filename(dir, "ctl_history", NULL);
}

static void editing_start(Shell *sh)
{
    HistEvent ev;

    completion_load(sh);
    sh->hist = history_init();
    history(sh->hist, &ev, H_SETSIZE, CTL_HISTORY_MAX);
    history(sh->hist, &ev, H_SETUNIQUE, 1);
    sh->history = history_path();
    if (sh->history) {
        history(sh->hist, &ev, H_LOAD, sh->history);
    }
    sh->el = el_init(CTL_PRG, stdin, stdout, stderr);
    el_set(sh->el, EL_CLIENTDATA, sh);
    el_set(sh->el, EL_EDITOR, "emacs");
    el_set(sh->el, EL_SIGNAL, 1);
    el_set(sh->el, EL_PROMPT, prompt);
    el_set(sh->el, EL_HIST, history, sh->hist);
    el_set(sh->el, EL_GETCFN, read_char);
    /* The wide form: libedit's narrow el_set(EL_ADDFN) leaks its copies. */
    el_wset(sh->el, EL_ADDFN, L"qctl-complete", L"complete a command name", complete);
    el_set(sh->el, EL_BIND, "^I", "qctl-complete", NULL);
    el_source(sh->el, NULL); /* the user's ~/.editrc */
    sh->editing = TRUE;
}

static void editing_stop(Shell *sh)
{
    HistEvent ev;

    sh->editing = FALSE;
    el_end(sh->el);
    if (sh->history) {
        history(sh->hist, &ev, H_SAVE, sh->history);
    }
    history_end(sh->hist);
    g_clear_pointer(&sh->history, g_free);
    g_clear_pointer(&sh->completion, g_ptr_array_unref);
}

/* One edited line; FALSE at end of input. */
static gboolean edited_line(Shell *sh)
{
    int count = 0;
    const char *line = el_gets(sh->el, &count);
    g_autofree char *text = NULL;
    HistEvent ev;

    if (!line || count <= 0) {
        if (!sh->done) {
            printf("\n"); /* Ctrl-D */
        }
        return FALSE;
    }
    text = g_strstrip(g_strndup(line, count));
    if (*text) {
        history(sh->hist, &ev, H_ENTER, text);
    }
    sh->editing = FALSE;
    shell_line(sh, text);
    sh->editing = TRUE;
    return TRUE;
}

/* stdin is not a terminal: complete lines as they come. */
static void plain_input(Shell *sh)
{
    char buf[4096];
    gssize n = read(STDIN_FILENO, buf, sizeof(buf));
    char *nl;

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    if (n > 0) {
        g_string_append_len(sh->pending, buf, n);
    }
    while (!sh->done && (nl = memchr(sh->pending->str, '\n', sh->pending->len))) {
        g_autofree char *line = g_strndup(sh->pending->str, nl - sh->pending->str);
        g_string_erase(sh->pending, 0, nl - sh->pending->str + 1);
        shell_line(sh, line);
    }
    if (n <= 0 && !sh->done) { /* end of input: a last unterminated line */
        if (sh->pending->len) {
            shell_line(sh, sh->pending->str);
        }
        sh->done = TRUE;
    }
}

/* Events the daemon sent while we waited for input. */
static void socket_input(Shell *sh)
{
    GError *err = NULL;

    do {
        JsonObject *msg = ctl_read(sh->q, 0, &err);
        if (!msg) {
            if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
                shell_lost(sh, err);
            }
            g_clear_error(&err);
            return;
        }
        if (json_object_has_member(msg, "event")) {
            shell_event(msg, sh);
        }
        json_object_unref(msg);
    } while (!sh->done && memchr(sh->q->in->str, '\n', sh->q->in->len));
    if (sh->q->shutdown_reason && !sh->done) {
        shell_lost(sh, NULL);
    }
}

int ctl_shell(Ctl *q)
{
    Shell sh = {.q = q, .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)};

    q->on_event = shell_event;
    q->opaque = &sh;
    sh.pending = g_string_new(NULL);
    if (sh.tty) {
        editing_start(&sh);
        while (!sh.done && edited_line(&sh)) {
        }
        editing_stop(&sh);
    }
    while (!sh.done) {
        struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = q->fd, .events = POLLIN}};

        if (memchr(q->in->str, '\n', q->in->len)) {
            socket_input(&sh); /* already read along with a reply */
            continue;
        }
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pfd[1].revents) {
            socket_input(&sh);
        }
        if (!sh.done && pfd[0].revents) {
            plain_input(&sh);
        }
    }
    g_string_free(sh.pending, TRUE);
    q->on_event = NULL;
    return sh.rc;
}

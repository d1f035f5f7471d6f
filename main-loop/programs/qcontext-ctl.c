/*
 * qcontext-ctl - talk to qcontextd's monitor socket.
 *
 *   qcontext-ctl SOCKET COMMAND [key=value...] [--json '{...}']
 *   qcontext-ctl SOCKET '{"execute": ..., ...}'
 *   qcontext-ctl SOCKET help [COMMAND]
 *   qcontext-ctl SOCKET events [--count N]
 *   qcontext-ctl SOCKET top [--interval S] [--count N]
 *   qcontext-ctl SOCKET [shell]
 *
 * The first form connects, negotiates capabilities, runs COMMAND and
 * pretty-prints its return value (exit 0) or its error (exit 1).  A raw
 * JSON message is sent as typed and the whole reply printed.  help asks
 * the daemon's schema; events prints events as they come; top shows the
 * contexts' load; without a command, an interactive shell (ctl-shell.c).
 *
 * SPDX-License-Identifier: MIT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "Usage: %1$s SOCKET COMMAND [key=value...] [--json '{...}']\n"
        "       %1$s SOCKET '{\"execute\": \"COMMAND\", ...}'\n"
        "       %1$s SOCKET help [COMMAND]\n"
        "       %1$s SOCKET events [--count N]\n"
        "       %1$s SOCKET top [--interval SECONDS] [--count N]\n"
        "       %1$s SOCKET [shell]\n"
        "\n"
        "Talks to qcontextd's monitor on SOCKET.\n"
        "  COMMAND    run it; print its return value as JSON (exit 0) or its\n"
        "             error (exit 1).  Values that parse as JSON numbers,\n"
        "             booleans, quoted strings, objects or arrays are sent as\n"
        "             such, others as strings; --json adds arguments as an object.\n"
        "  '{...}'    send this JSON message as typed, print the whole reply.\n"
        "  help       the daemon's commands and events; help COMMAND: its\n"
        "             arguments, their types and what they are for.\n"
        "  events     print each event as one line of JSON as it comes, until\n"
        "             the daemon shuts down or N events were printed.\n"
        "  top        per-context load, refreshed every interval (default 1 s)\n"
        "             until interrupted, N refreshes, or the daemon shuts down.\n"
        "  shell      (or no command) an interactive shell: COMMAND key=value\n"
        "             lines, raw JSON, help, exit; events are shown as they come;\n"
        "             on a terminal with line editing, completion and history\n"
        "             ($QCONTEXT_CTL_HISTORY, default\n"
        "             ~/.local/state/qcontext/ctl_history).\n",
        CTL_PRG);
}

static gboolean parse_number(const char *opt, const char *s, double *out)
{
    char *end = NULL;

    *out = s ? g_ascii_strtod(s, &end) : 0;
    if (!s || !*s || *end || *out < 0) {
        fprintf(stderr, "%s: %s expects a non-negative number\n", CTL_PRG, opt);
        return FALSE;
    }
    return TRUE;
}

static gboolean merge_json_args(JsonObject *args, const char *text, GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GList) members = NULL;
    JsonNode *root;

    if (!json_parser_load_from_data(parser, text, -1, NULL) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "--json expects a JSON object, got '%s'", text);
        return FALSE;
    }
    members = json_object_get_members(json_node_get_object(root));
    for (GList *l = members; l; l = l->next) {
        JsonNode *v = json_object_get_member(json_node_get_object(root), l->data);
        json_object_set_member(args, l->data, json_node_copy(v));
    }
    return TRUE;
}

/* Run one command; 0 on a return value, 1 on an error or failure. */
static int run_command(Ctl *q, const char *cmd, JsonObject *args)
{
    GError *err = NULL;
    g_autoptr(JsonObject) reply = NULL;
    JsonNode *ret = NULL;
    gboolean raw = cmd[0] == '{';

    reply = raw ? ctl_execute_raw(q, cmd, &err) : ctl_execute(q, cmd, args, &err);
    if (reply && raw) {
        ctl_print_object(reply, FALSE);
        return json_object_has_member(reply, "return") ? 0 : 1;
    }
    if (reply) {
        ret = ctl_reply_value(reply, &err);
    }
    if (!ret) {
        fprintf(stderr, "%s: %s\n", CTL_PRG, err->message);
        g_error_free(err);
        return 1;
    }
    ctl_print_json(ret, TRUE);
    return 0;
}

typedef struct {
    const char *pos[3]; /* SOCKET, COMMAND, one more (help's COMMAND) */
    int npos;
    double interval, count;
    JsonObject *args;
} CtlArgs;

/* FALSE (after a message) on a bad command line. */
static gboolean parse_args(int argc, char **argv, CtlArgs *a, int *exit_now)
{
    GError *err = NULL;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            *exit_now = 0;
            return FALSE;
        } else if (!strcmp(arg, "--json")) {
            if (i + 1 >= argc || !merge_json_args(a->args, argv[++i], &err)) {
                fprintf(stderr, "%s: %s\n", CTL_PRG,
                        err ? err->message : "--json needs an argument");
                g_clear_error(&err);
                return FALSE;
            }
        } else if (!strcmp(arg, "--interval") || !strcmp(arg, "--count")) {
            double *dst = !strcmp(arg, "--count") ? &a->count : &a->interval;
            if (!parse_number(arg, i + 1 < argc ? argv[++i] : NULL, dst)) {
                return FALSE;
            }
        } else if (a->npos < 2 ||
                   (a->npos == 2 && !strcmp(a->pos[1], "help") && !strchr(arg, '='))) {
            a->pos[a->npos++] = arg;
        } else if (!ctl_args_add(a->args, arg, &err)) {
            fprintf(stderr, "%s: %s\n", CTL_PRG, err->message);
            g_error_free(err);
            return FALSE;
        }
    }
    if (a->npos < 1) {
        usage(stderr);
        return FALSE;
    }
    return TRUE;
}

int main(int argc, char **argv)
{
    CtlArgs a = {.interval = 1.0, .args = json_object_new()};
    Ctl q = {.fd = -1};
    const char *cmd;
    GError *err = NULL;
    int rc = 2;

    signal(SIGPIPE, SIG_IGN);
    if (!parse_args(argc, argv, &a, &rc)) {
        json_object_unref(a.args);
        return rc;
    }
    cmd = a.npos > 1 ? a.pos[1] : "shell";
    if (!ctl_open(&q, a.pos[0], &err)) {
        fprintf(stderr, "%s: %s\n", CTL_PRG, err->message);
        g_error_free(err);
        json_object_unref(a.args);
        return 1;
    }
    if (!strcmp(cmd, "top")) {
        rc = ctl_top(&q, a.interval, (gint64)a.count);
    } else if (!strcmp(cmd, "events")) {
        rc = ctl_events(&q, (gint64)a.count);
    } else if (!strcmp(cmd, "help")) {
        rc = ctl_help(&q, a.npos > 2 ? a.pos[2] : NULL);
    } else if (!strcmp(cmd, "shell")) {
        rc = ctl_shell(&q);
    } else {
        rc = run_command(&q, cmd, a.args);
    }
    ctl_close(&q);
    json_object_unref(a.args);
    return rc;
}

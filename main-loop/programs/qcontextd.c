/*
 * qcontextd - the qcontext daemon.
 *
 *   qcontextd -object glib-qcontext,id=ctx0,threaded=yes \
 *             -device ticker,id=tick0,context=ctx0 -monitor unix:/tmp/q.sock
 *
 * Options are read in order (-readconfig files expand in place); then the
 * daemon forks if asked (-daemonize), creates every -object in order, then
 * every -device, then the monitors, writes the pidfile, reports ready and
 * runs the main loop until SIGINT/SIGTERM or the monitor's quit.  See
 * docs/operator-guide.md.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qcontext-config.h"
#include "qcontext/qom/object.h"
#include "qcontext/qcontext.h"
#include "qcontext/block/drive.h"
#include "qcontext/devices/device.h"
#include "qcontext/main-loop/main-loop.h"
#include "qcontext/main-loop/monitor.h"
#include "readconfig.h"

#define PRG "qcontextd"

typedef enum {
    OPT_OBJECT,
    OPT_DRIVE,
    OPT_DEVICE,
    OPT_MONITOR,
    OPT_PIDFILE,
    OPT_DAEMONIZE,
    OPT_READCONFIG,
    OPT_NAME,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_VERSION,
    OPT_HELP,
} OptKind;

typedef struct {
    const char *name;
    OptKind kind;
    const char *arg; /* NULL: takes no argument */
    const char *help;
} OptDef;

static const OptDef opt_defs[] = {
    {"object", OPT_OBJECT, "TYPE,id=ID[,PROP=VALUE...]",
     "create an object (a context); 'help' lists the types, 'TYPE,help' the "
     "properties"},
    {"drive", OPT_DRIVE, "file=PATH,id=ID[,aio=...][,cache=...][,readonly=on]...",
     "create a drive, same as -object drive,...; 'help' lists its options"},
    {"device", OPT_DEVICE, "TYPE,id=ID[,context=CTX][,PROP=VALUE...]",
     "create a device running in context CTX (default: main); 'help' as for -object"},
    {"monitor", OPT_MONITOR, "unix:PATH[,server=on]|stdio",
     "serve the QMP-style monitor"},
    {"qmp", OPT_MONITOR, "unix:PATH[,server=on]|stdio", "same as -monitor"},
    {"pidfile", OPT_PIDFILE, "PATH",
     "write the daemon's pid to PATH (locked, removed at exit)"},
    {"daemonize", OPT_DAEMONIZE, NULL, "run in the background once initialized"},
    {"readconfig", OPT_READCONFIG, "FILE",
     "read options from FILE: one per line, or QEMU's [object]/[device] sections"},
    {"name", OPT_NAME, "NAME", "name the daemon (query-name, main thread name)"},
    {"shutdown-timeout", OPT_SHUTDOWN_TIMEOUT, "SECS",
     "how long devices may drain at shutdown (default 10)"},
    {"version", OPT_VERSION, NULL, "print the version and exit"},
    {"help", OPT_HELP, NULL, "print this help and exit"},
    {"h", OPT_HELP, NULL, NULL},
};

/* One -object / -device / -monitor to act on, with where it came from. */
typedef struct {
    OptKind kind;
    char *arg;
    char *origin; /* "-object ARG" or "FILE:LINE: -object ARG" */
} Action;

typedef struct {
    GPtrArray *actions; /* Action * in order */
    char *pidfile;
    char *name;
    gboolean daemonize;
    gint64 shutdown_timeout_ms;
} Config;

static void action_free(gpointer p)
{
    Action *a = p;

    g_free(a->arg);
    g_free(a->origin);
    g_free(a);
}

static void G_GNUC_NORETURN print_help(void)
{
    printf("Usage: %s [OPTION...]\n\n"
           "Runs event-loop contexts and devices until SIGINT or SIGTERM.\n"
           "Options start with - or --.\n\n",
           PRG);
    for (size_t i = 0; i < G_N_ELEMENTS(opt_defs); i++) {
        const OptDef *d = &opt_defs[i];
        g_autofree char *lhs = NULL;
        if (!d->help) {
            continue;
        }
        lhs = g_strdup_printf("-%s%s%s", d->name, d->arg ? " " : "",
                              d->arg ? d->arg : "");
        printf("  %s\n      %s\n", lhs, d->help);
    }
    printf("  -h\n      same as -help\n\n"
           "Signals: SIGINT/SIGTERM shut down in order (a second SIGINT exits at once\n"
           "with status 1); SIGHUP is ignored.  See docs/operator-guide.md.\n");
    exit(0);
}

/* ------------------------------------------------------------------------ */
/* Help for -object / -device                                                */
/* ------------------------------------------------------------------------ */

/* "-object help": the creatable non-device types. */
static char *object_type_list(void)
{
    g_auto(GStrv) names = qom_type_list(QOM_TYPE_OBJECT);
    GString *out = g_string_new("Available object types:\n");

    for (char **n = names; *n; n++) {
        if (!g_type_is_a(qom_type_lookup(*n), DEVICE_TYPE)) {
            g_string_append_printf(out, "  %s\n", *n);
        }
    }
    return g_string_free(out, FALSE);
}

/* The type named by @arg (the first element before ','), or invalid. */
static GType spec_type(const char *arg)
{
    g_autofree char *type = g_strndup(arg, strcspn(arg, ","));

    return qom_type_lookup(type);
}

/* Print help and exit 0 if @arg asks for it; FALSE with @errp on error. */
static gboolean handle_help(OptKind kind, const char *arg, GError **errp)
{
    gboolean is_object = kind == OPT_OBJECT;
    GType base = is_object ? QOM_TYPE_OBJECT : DEVICE_TYPE;
    GType type = spec_type(arg);
    g_autofree char *text = NULL;
    gboolean is_help = FALSE;

    if (is_object && type && g_type_is_a(type, DEVICE_TYPE)) {
        base = QCONTEXT_TYPE; /* a device is not an -object: no help for it */
    }
    text = qom_help_string(base, is_object ? "object" : "device", arg, &is_help, errp);
    if (!is_help) {
        return TRUE;
    }
    if (!text) {
        return FALSE;
    }
    if (is_object && (strcmp(arg, "help") == 0 || strcmp(arg, "?") == 0)) {
        g_free(text);
        text = object_type_list();
    }
    fputs(text, stdout);
    exit(0);
}

/*
 * -drive ARGS is -object drive,ARGS: print help and exit 0 if asked, else
 * queue the object (created in command-line order with the -objects).
 */
static gboolean add_drive(Config *cfg, const char *arg, const char *where)
{
    GArray *opts = qom_opts_parse(arg, NULL, NULL);
    gboolean help = strcmp(arg, "help") == 0 || strcmp(arg, "?") == 0 ||
                    (opts && qom_opts_get(opts, "help"));
    Action *a;

    qom_opts_free(opts);
    if (help) {
        char *text = drive_help();
        fputs(text, stdout);
        g_free(text); /* before exit: the leak checker runs at exit */
        exit(0);
    }
    a = g_new0(Action, 1);
    a->kind = OPT_OBJECT;
    a->arg = g_strconcat("drive,", arg, NULL);
    a->origin = g_strdup_printf("%s-drive %s", where, arg);
    g_ptr_array_add(cfg->actions, a);
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */

static gboolean readconfig_option(const char *option, const char *arg,
                                  const char *where, void *opaque, GError **errp);

static const OptDef *find_opt(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(opt_defs); i++) {
        if (strcmp(opt_defs[i].name, name) == 0) {
            return &opt_defs[i];
        }
    }
    return NULL;
}

static gboolean parse_timeout(const char *arg, gint64 *ms, GError **errp)
{
    char *end = NULL;
    double secs;

    errno = 0;
    secs = g_ascii_strtod(arg, &end);
    if (errno || end == arg || *end || !(secs >= 0 && secs <= 3600)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "-shutdown-timeout expects seconds in [0, 3600], got '%s'", arg);
        return FALSE;
    }
    *ms = (gint64)(secs * 1000 + 0.5);
    return TRUE;
}

/* -name NAME or -name guest=NAME (QEMU's spelling). */
static gboolean parse_name(Config *cfg, const char *arg, GError **errp)
{
    g_autoptr(GArray) opts = qom_opts_parse(arg, "guest", errp);
    const char *name;

    if (!opts) {
        return FALSE;
    }
    for (guint i = 0; i < opts->len; i++) {
        const char *key = g_array_index(opts, QomOpt, i).key;
        if (strcmp(key, "guest") != 0) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "-name: unknown parameter '%s'", key);
            return FALSE;
        }
    }
    name = qom_opts_get(opts, "guest");
    if (!name || !*name) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "-name: empty name");
        return FALSE;
    }
    g_free(cfg->name);
    cfg->name = g_strdup(name);
    return TRUE;
}

/* Apply one option; @where prefixes error messages ("" or "FILE:LINE: "). */
static gboolean apply_opt(Config *cfg, const OptDef *d, const char *arg,
                          const char *where, GError **errp)
{
    Action *a;

    switch (d->kind) {
    case OPT_HELP:
        print_help();
    case OPT_VERSION:
        printf("%s %s\n", PRG, QCONTEXT_VERSION);
        exit(0);
    case OPT_DAEMONIZE:
        cfg->daemonize = TRUE;
        return TRUE;
    case OPT_PIDFILE:
        g_free(cfg->pidfile);
        cfg->pidfile = g_strdup(arg);
        return TRUE;
    case OPT_NAME:
        return parse_name(cfg, arg, errp);
    case OPT_SHUTDOWN_TIMEOUT:
        return parse_timeout(arg, &cfg->shutdown_timeout_ms, errp);
    case OPT_READCONFIG:
        return readconfig_file(arg, readconfig_option, cfg, errp);
    case OPT_DRIVE:
        return add_drive(cfg, arg, where);
    case OPT_OBJECT:
    case OPT_DEVICE:
        if (!handle_help(d->kind, arg, errp)) {
            return FALSE;
        }
        /* fall through */
    case OPT_MONITOR:
        a = g_new0(Action, 1);
        a->kind = d->kind;
        a->arg = g_strdup(arg);
        a->origin = g_strdup_printf("%s-%s %s", where, d->name, arg);
        g_ptr_array_add(cfg->actions, a);
        return TRUE;
    }
    return TRUE;
}

/*
 * Look up option @tok ("-x", "--x" or "--x=value").  Sets *@inline_arg to
 * the "=value" part if any.
 */
static const OptDef *lookup_opt(const char *tok, char **inline_arg, GError **errp)
{
    g_autofree char *name = NULL;
    const char *given = tok; /* as typed, for messages */
    const char *eq;
    const OptDef *d;

    *inline_arg = NULL;
    if (tok[0] != '-' || tok[1] == '\0') {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "unexpected argument '%s' (options start with -)", tok);
        return NULL;
    }
    tok += tok[1] == '-' ? 2 : 1;
    eq = strchr(tok, '=');
    name = eq ? g_strndup(tok, eq - tok) : g_strdup(tok);
    d = find_opt(name);
    if (!d) {
        /* "--bogus=1" is reported as '--bogus', the option the user typed */
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                    "unknown option '%.*s' (try --help)",
                    (int)(tok - given + strlen(name)), given);
        return NULL;
    }
    if (eq) {
        if (!d->arg) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "option '-%s' takes no argument", name);
            return NULL;
        }
        *inline_arg = g_strdup(eq + 1);
    }
    return d;
}

static gboolean parse_args(Config *cfg, int argc, char **argv, GError **errp)
{
    for (int i = 1; i < argc; i++) {
        g_autofree char *inline_arg = NULL;
        const OptDef *d = lookup_opt(argv[i], &inline_arg, errp);
        const char *arg = inline_arg;

        if (!d) {
            return FALSE;
        }
        if (d->arg && !arg) {
            if (i + 1 >= argc) {
                g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "option '-%s' needs an argument (%s)", d->name, d->arg);
                return FALSE;
            }
            arg = argv[++i];
        }
        if (!apply_opt(cfg, d, arg, "", errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

/*
 * One option of a -readconfig file (see readconfig.h): "-option",
 * "--option=arg" or "-option" with @arg; @where ("FILE:LINE: ") prefixes
 * the messages of later steps.  readconfig prefixes our errors itself.
 */
static gboolean readconfig_option(const char *option, const char *arg,
                                  const char *where, void *opaque, GError **errp)
{
    Config *cfg = opaque;
    g_autofree char *inline_arg = NULL;
    const OptDef *d = lookup_opt(option, &inline_arg, errp);

    if (!d) {
        return FALSE;
    }
    if (inline_arg) {
        if (arg) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "option '-%s' has two arguments", d->name);
            return FALSE;
        }
        arg = inline_arg;
    }
    if (d->arg && !arg) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "option '-%s' needs an argument (%s)", d->name, d->arg);
        return FALSE;
    }
    if (!d->arg && arg) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "option '-%s' takes no argument", d->name);
        return FALSE;
    }
    return apply_opt(cfg, d, arg, where, errp);
}

/* ------------------------------------------------------------------------ */
/* Running                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Where progress lines go: stdout, or stderr when a monitor speaks on stdio
 * (its stdout carries only QMP, from the greeting on, so the lines printed
 * before the monitor starts must not go there either).
 */
static FILE *progress_out;

static void progress(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void progress(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(progress_out ? progress_out : stdout, "%s: ", PRG);
    vfprintf(progress_out ? progress_out : stdout, fmt, ap);
    va_end(ap);
}

static void progress_choose_stream(Config *cfg)
{
    progress_out = stdout;
    for (guint i = 0; i < cfg->actions->len; i++) {
        Action *a = g_ptr_array_index(cfg->actions, i);
        if (a->kind == OPT_MONITOR && !strcmp(a->arg, "stdio")) {
            progress_out = stderr;
        }
    }
}

static void report_created(QomObject *obj, gboolean is_device)
{
    const char *type = qom_object_get_type_name(obj);
    const char *id = qom_object_get_id(obj);

    if (is_device) {
        progress("created %s '%s' (device on context '%s')\n", type, id,
                 qcontext_get_name(device_get_context(DEVICE(obj))));
    } else if (QCONTEXT_IS_CONTEXT(obj) &&
               qcontext_is_threaded(QCONTEXT_CONTEXT(obj))) {
        progress("created %s '%s' (thread qctx/%s)\n", type, id, id);
    } else if (QCONTEXT_IS_CONTEXT(obj)) {
        progress("created %s '%s' (not threaded)\n", type, id);
    } else {
        progress("created %s '%s'\n", type, id);
    }
}

static gboolean run_action(Action *a, GError **errp)
{
    QomObject *obj;
    GType type;

    switch (a->kind) {
    case OPT_OBJECT:
        type = spec_type(a->arg);
        if (type && g_type_is_a(type, DEVICE_TYPE)) {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE,
                        "'%s' is a device type: use -device", qom_type_name(type));
            return FALSE;
        }
        obj = qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QOM_TYPE_OBJECT, a->arg,
                                         errp);
        if (obj) {
            report_created(obj, FALSE);
        }
        return obj != NULL;
    case OPT_DEVICE:
        obj = qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE, a->arg,
                                         errp);
        if (obj) {
            report_created(obj, TRUE);
        }
        return obj != NULL;
    case OPT_MONITOR:
        return monitor_add(a->arg, errp);
    default:
        return TRUE;
    }
}

/* Objects first, then devices, then monitors, each in command-line order. */
static gboolean run_actions(Config *cfg, GError **errp)
{
    static const OptKind order[] = {OPT_OBJECT, OPT_DEVICE, OPT_MONITOR};

    for (size_t k = 0; k < G_N_ELEMENTS(order); k++) {
        for (guint i = 0; i < cfg->actions->len; i++) {
            Action *a = g_ptr_array_index(cfg->actions, i);
            if (a->kind == order[k] && !run_action(a, errp)) {
                g_prefix_error(errp, "%s: ", a->origin);
                return FALSE;
            }
        }
    }
    return TRUE;
}

static void on_shutdown(ShutdownCause cause, gpointer opaque)
{
    progress("shutting down (%s)\n", shutdown_cause_str(cause));
    monitor_emit_shutdown(shutdown_cause_str(cause));
    monitor_flush_all();
}

static gboolean daemon_init(Config *cfg, GError **errp)
{
    if (!qemu_init_main_loop(errp)) {
        return FALSE;
    }
    main_loop_init_signals();
    main_loop_add_shutdown_notifier(on_shutdown, NULL);
    main_loop_set_shutdown_timeout(cfg->shutdown_timeout_ms);
    if (cfg->name) {
        main_loop_set_name(cfg->name);
    }
    if (!run_actions(cfg, errp)) {
        return FALSE;
    }
    return !cfg->pidfile || os_pidfile_create(cfg->pidfile, errp);
}

/* Per-device request totals, taken after the devices are gone. */
static void report_devices(GList *devs)
{
    for (GList *l = devs; l; l = l->next) {
        DeviceStats st;
        device_get_stats(l->data, &st);
        progress("device '%s': %" G_GUINT64_FORMAT " requests, %" G_GUINT64_FORMAT
                 " completed, %" G_GUINT64_FORMAT " failed\n",
                 device_get_id(l->data), st.started, st.completed, st.failed);
    }
}

static void daemon_cleanup(void)
{
    GList *devs = qom_container_list(QOM_CONTAINER_DEVICES);

    monitor_cleanup_all();
    main_loop_cleanup();
    report_devices(devs);
    g_list_free_full(devs, g_object_unref);
}

static void config_clear(Config *cfg)
{
    g_clear_pointer(&cfg->actions, g_ptr_array_unref);
    g_clear_pointer(&cfg->pidfile, g_free);
    g_clear_pointer(&cfg->name, g_free);
}

/* Create everything; on failure report it, tear down, return FALSE. */
static gboolean daemon_start(Config *cfg)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *msg = NULL;

    if (daemon_init(cfg, &err)) {
        return TRUE;
    }
    msg = g_strdup_printf("%s: %s", PRG, err->message);
    if (os_is_daemonized()) {
        os_daemonize_fail(msg); /* the waiting parent prints it */
    } else {
        fprintf(stderr, "%s\n", msg);
    }
    daemon_cleanup();
    return FALSE;
}

int main(int argc, char **argv)
{
    Config cfg = {.actions = g_ptr_array_new_with_free_func(action_free),
                  .shutdown_timeout_ms = 10000};
    g_autoptr(GError) err = NULL;
    int ret = 1;

    g_set_prgname(PRG);
    setvbuf(stdout, NULL, _IOLBF, 0);
    qcontext_register_types();
    block_register_types();
    devices_register_types();

    if (parse_args(&cfg, argc, argv, &err)) {
        progress_choose_stream(&cfg);
    }
    if (err || (cfg.daemonize && !os_daemonize_start(&err))) {
        fprintf(stderr, "%s: %s\n", PRG, err->message);
    } else if (daemon_start(&cfg)) {
        progress("ready (pid %ld)\n", (long)getpid());
        os_daemonize_ready();
        ret = qemu_main_loop();
        daemon_cleanup();
    }
    config_clear(&cfg);
    return ret;
}

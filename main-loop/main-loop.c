/*
 * main-loop/main-loop.c - the daemon's main loop: the "main" context, the
 * main AioContext, shutdown requests and signals.
 *
 * Signals are caught with sigaction() by a handler that only does
 * async-signal-safe things: it counts, and writes to an eventfd that the
 * main loop watches through an iohandler; the shutdown itself runs in the
 * main loop.  A SIGINT that arrives once a shutdown is under way exits at
 * once (status 1) from the handler, so it works even if the main loop is
 * stuck.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/main-loop/main-loop.h"
#include "main-loop-internal.h"
#include "qcontext/qom/object.h"

static AioContext *main_aio;  /* atomic: set once by qemu_init_main_loop() */
static int shutdown_cause;    /* atomic ShutdownCause */
static int main_loop_running; /* atomic: inside qemu_main_loop() */
static guint64 main_loop_iteration_count; /* atomic: main_loop_wait() calls */
static gint64 shutdown_timeout_ms = 10000;
static char *daemon_name; /* main thread */

typedef struct {
    ShutdownNotifier fn;
    gpointer opaque;
} NotifierEntry;

static GArray *shutdown_notifiers; /* NotifierEntry, main thread */

const char *shutdown_cause_str(ShutdownCause cause)
{
    switch (cause) {
    case SHUTDOWN_CAUSE_NONE:
        return "none";
    case SHUTDOWN_CAUSE_HOST_ERROR:
        return "host-error";
    case SHUTDOWN_CAUSE_HOST_QMP_QUIT:
        return "host-qmp-quit";
    case SHUTDOWN_CAUSE_HOST_SIGNAL:
        return "host-signal";
    }
    return "unknown";
}

void main_loop_report(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_printerr("%s: %s\n", g_get_prgname() ? g_get_prgname() : "qcontext", msg);
}

/* ------------------------------------------------------------------------ */
/* Setup and the loop                                                        */
/* ------------------------------------------------------------------------ */

gboolean qemu_init_main_loop(GError **errp)
{
    if (!qcontext_init_main(errp) || !iohandler_init(errp)) {
        return FALSE;
    }
    /* Release pairs with the acquire load in qemu_get_aio_context(). */
    __atomic_store_n(&main_aio, qcontext_get_aio_context(qcontext_get_main()),
                     __ATOMIC_RELEASE);
    return TRUE;
}

AioContext *qemu_get_aio_context(void)
{
    /* Acquire pairs with the release store in qemu_init_main_loop(). */
    AioContext *aio = __atomic_load_n(&main_aio, __ATOMIC_ACQUIRE);

    if (!aio) {
        g_critical("qemu_get_aio_context: called before qemu_init_main_loop()");
    }
    return aio;
}

void main_loop_wait(bool nonblocking)
{
    /* Relaxed: a statistic, read by main_loop_get_iterations() on any thread. */
    __atomic_fetch_add(&main_loop_iteration_count, 1, __ATOMIC_RELAXED);
    qcontext_iterate(qcontext_get_main(), !nonblocking);
}

gboolean main_loop_is_running(void)
{
    /* Relaxed: a status report, nothing is published with it. */
    return __atomic_load_n(&main_loop_running, __ATOMIC_RELAXED);
}

guint64 main_loop_get_iterations(void)
{
    return __atomic_load_n(&main_loop_iteration_count, __ATOMIC_RELAXED);
}

void main_loop_request_shutdown(ShutdownCause cause)
{
    int expected = SHUTDOWN_CAUSE_NONE;

    g_return_if_fail(cause != SHUTDOWN_CAUSE_NONE);
    /* The first request wins.  Pairs with the load in
     * main_loop_shutdown_requested(); the wakeup makes the main loop look. */
    if (__atomic_compare_exchange_n(&shutdown_cause, &expected, (int)cause, FALSE,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        g_main_context_wakeup(NULL);
    }
}

ShutdownCause main_loop_shutdown_requested(void)
{
    /* Seq_cst: pairs with the CAS in main_loop_request_shutdown(). */
    return (ShutdownCause)__atomic_load_n(&shutdown_cause, __ATOMIC_SEQ_CST);
}

void main_loop_set_shutdown_timeout(gint64 ms)
{
    shutdown_timeout_ms = MAX(ms, 0);
}

gint64 main_loop_get_shutdown_timeout(void)
{
    return shutdown_timeout_ms;
}

void main_loop_add_shutdown_notifier(ShutdownNotifier fn, gpointer opaque)
{
    NotifierEntry e = {fn, opaque};

    if (!shutdown_notifiers) {
        shutdown_notifiers = g_array_new(FALSE, FALSE, sizeof(NotifierEntry));
    }
    g_array_append_val(shutdown_notifiers, e);
}

int qemu_main_loop(void)
{
    ShutdownCause cause;
    int ret;

    __atomic_store_n(&main_loop_running, 1, __ATOMIC_RELAXED);
    while (!main_loop_shutdown_requested()) {
        main_loop_wait(false);
    }
    cause = main_loop_shutdown_requested();
    for (guint i = 0; shutdown_notifiers && i < shutdown_notifiers->len; i++) {
        NotifierEntry *e = &g_array_index(shutdown_notifiers, NotifierEntry, i);
        e->fn(cause, e->opaque);
    }
    main_loop_shutdown_devices(shutdown_timeout_ms);
    ret = cause == SHUTDOWN_CAUSE_HOST_ERROR ? 1 : 0;
    __atomic_store_n(&main_loop_running, 0, __ATOMIC_RELAXED);
    return ret;
}

void main_loop_cleanup(void)
{
    main_loop_delete_devices(5000);
    qom_container_del_all(QOM_CONTAINER_DEVICES);
    qom_container_del_all(QOM_CONTAINER_OBJECTS);
    os_pidfile_remove();
}

/* ------------------------------------------------------------------------ */
/* Name                                                                      */
/* ------------------------------------------------------------------------ */

void main_loop_set_name(const char *name)
{
    char comm[16];

    g_free(daemon_name);
    daemon_name = g_strdup(name);
    if (name && *name) {
        g_strlcpy(comm, name, sizeof(comm));
        pthread_setname_np(pthread_self(), comm);
    }
}

const char *main_loop_get_name(void)
{
    return daemon_name;
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */
/* ------------------------------------------------------------------------ */

static EventNotifier signal_notifier;
static int signals_seen;     /* atomic: SIGINT/SIGTERM received */
static int signal_requested; /* atomic: the signal that asked to stop */
static char forced_msg[128]; /* written before the handler is installed */
static size_t forced_msg_len;

/* Async-signal-safe: atomics, write(), unlink(), _exit() only. */
static void shutdown_signal_handler(int sig)
{
    int saved_errno = errno;
    uint64_t one = 1;
    /* A count that only this handler reads: atomic, ordering nothing. */
    int seen = __atomic_fetch_add(&signals_seen, 1, __ATOMIC_RELAXED);

    /* Seq_cst: pairs with the CAS in main_loop_request_shutdown(). */
    if (sig == SIGINT &&
        (seen > 0 || __atomic_load_n(&shutdown_cause, __ATOMIC_SEQ_CST))) {
        if (write(STDERR_FILENO, forced_msg, forced_msg_len) < 0) {
            /* nothing to do about it */
        }
        os_pidfile_remove();
        _exit(1);
    }
    /*
     * Release: pairs with the acquire load in signal_notifier_read(), which
     * runs once the write below woke the main loop.
     */
    qatomic_store_release(&signal_requested, sig);
    if (write(signal_notifier.wfd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is saturated, the loop wakes up anyway */
    }
    errno = saved_errno;
}

static void signal_notifier_read(EventNotifier *e)
{
    event_notifier_test_and_clear(e);
    /* Acquire: pairs with the release store in shutdown_signal_handler(). */
    if (qatomic_load_acquire(&signal_requested)) {
        main_loop_request_shutdown(SHUTDOWN_CAUSE_HOST_SIGNAL);
    }
}

void main_loop_init_signals(void)
{
    struct sigaction act;
    int ret;

    if (signal_notifier.initialized) {
        return;
    }
    ret = event_notifier_init(&signal_notifier, 0);
    if (ret < 0) {
        g_error("cannot create the signal notifier: %s", g_strerror(-ret));
    }
    event_notifier_set_handler(&signal_notifier, signal_notifier_read);
    forced_msg_len = (size_t)g_snprintf(forced_msg, sizeof(forced_msg),
                                        "%s: second SIGINT: exiting now\n",
                                        g_get_prgname() ? g_get_prgname() : "qcontext");
    forced_msg_len = MIN(forced_msg_len, sizeof(forced_msg) - 1);

    memset(&act, 0, sizeof(act));
    act.sa_handler = shutdown_signal_handler;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESTART;
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    act.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &act, NULL);
    sigaction(SIGPIPE, &act, NULL);
}

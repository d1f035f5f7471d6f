/*
 * main-loop/main-loop.h - the daemon's main loop.
 *
 * The "main" QContext (qcontext_get_main(), a glib-qcontext on the default
 * GMainContext, created by qemu_init_main_loop() through
 * qcontext_init_main()) drives the daemon from the main thread.  Attached
 * to it:
 *  - the main AioContext (qemu_get_aio_context()), for main-thread work of
 *    devices and BHs scheduled from other threads;
 *  - the iohandler AioContext (see main-loop/iohandler.h) for the daemon's
 *    own fds, never run by a nested aio_poll() of the main AioContext.
 *
 * A run: qemu_init_main_loop(), main_loop_init_signals(), create objects
 * and devices, qemu_main_loop() (runs until main_loop_request_shutdown(),
 * then shuts the devices down in order), main_loop_cleanup().
 *
 * Orderly shutdown (qemu_main_loop() after a shutdown request): every
 * device is quiesced (takes no new request) and drains its in-flight
 * requests, bounded by the shutdown timeout (default 10 s); then every
 * device is flushed; then qemu_main_loop() returns.  main_loop_cleanup()
 * then unrealizes the devices (requests still in flight are failed) and
 * deletes the objects, which stops every context thread.
 *
 * Signals (main_loop_init_signals()): SIGINT and SIGTERM request an orderly
 * shutdown (cause "host-signal"); a second SIGINT during shutdown exits at
 * once with status 1 (removing the pidfile); a second SIGTERM is ignored.
 * SIGHUP and SIGPIPE are ignored.
 *
 * All functions are for the main thread unless stated otherwise.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_MAIN_LOOP_H
#define MAIN_LOOP_MAIN_LOOP_H

#include <stdbool.h>
#include <glib.h>

#include "qcontext/aio/aio.h"
#include "qcontext/qcontext.h"
#include "qcontext/main-loop/iohandler.h"

G_BEGIN_DECLS

/** Why the daemon shuts down (QEMU's ShutdownCause names). */
typedef enum {
    SHUTDOWN_CAUSE_NONE = 0,      /**< no shutdown requested */
    SHUTDOWN_CAUSE_HOST_ERROR,    /**< "host-error": a fatal error */
    SHUTDOWN_CAUSE_HOST_QMP_QUIT, /**< "host-qmp-quit": the monitor's quit */
    SHUTDOWN_CAUSE_HOST_SIGNAL,   /**< "host-signal": SIGINT or SIGTERM */
} ShutdownCause;

/** shutdown_cause_str: "none", "host-error", "host-qmp-quit", "host-signal". */
const char *shutdown_cause_str(ShutdownCause cause);

/* ------------------------------------------------------------------------ */
/* Setup and the loop                                                        */
/* ------------------------------------------------------------------------ */

/**
 * qemu_init_main_loop: make the calling thread the main thread: create the
 * "main" context (qcontext_init_main()) and the iohandler context.  Call it
 * first, before anything uses "main" or the functions below.  Idempotent on
 * the main thread; fails from another thread.
 */
gboolean qemu_init_main_loop(GError **errp);

/**
 * qemu_get_aio_context: the main AioContext (the "main" context's, attached
 * to the default GMainContext); a critical and NULL before
 * qemu_init_main_loop().  Borrowed.  Any thread.
 */
AioContext *qemu_get_aio_context(void);

/**
 * main_loop_init_signals: install the signal handling described at the top
 * of this file.  Idempotent.
 */
void main_loop_init_signals(void);

/**
 * main_loop_wait: run one iteration of the main context: timers, BHs and
 * fd handlers of the main and iohandler AioContexts and every GSource of
 * the default GMainContext.  With @nonblocking, do not wait.
 */
void main_loop_wait(bool nonblocking);

/**
 * main_loop_request_shutdown: ask the main loop to shut down for @cause.
 * The first request wins; later ones are ignored.  Any thread.
 */
void main_loop_request_shutdown(ShutdownCause cause);

/** main_loop_shutdown_requested: the cause of the pending request, or NONE. */
ShutdownCause main_loop_shutdown_requested(void);

/**
 * main_loop_set_shutdown_timeout: bound the wait for devices to drain at
 * shutdown to @ms milliseconds (default 10000; 0 = do not wait).
 */
void main_loop_set_shutdown_timeout(gint64 ms);

/**
 * main_loop_get_shutdown_timeout: the bound set by
 * main_loop_set_shutdown_timeout() (10 s by default), in ms; device_del
 * over QMP drains for at most as long.
 */
gint64 main_loop_get_shutdown_timeout(void);

/**
 * qemu_main_loop: run the main context until a shutdown is requested, then
 * shut the devices down in order (quiesce, drain with the timeout, flush).
 * Devices that did not drain in time are reported on stderr.  Returns the
 * exit status: 0 (1 if the cause was SHUTDOWN_CAUSE_HOST_ERROR).
 */
int qemu_main_loop(void);

/**
 * main_loop_is_running: TRUE while qemu_main_loop() runs (on the main
 * thread, iterating "main").  Any thread.
 */
gboolean main_loop_is_running(void);

/**
 * main_loop_get_iterations: how many iterations of "main" main_loop_wait()
 * ran so far (each serves the monitor, signals and main's AioContext).
 * Any thread.
 */
guint64 main_loop_get_iterations(void);

/**
 * main_loop_shutdown_devices: the device part of the orderly shutdown on its
 * own (used by qemu_main_loop()): quiesce every device of the "devices"
 * container, run the main context until all drained or @timeout_ms passed,
 * then flush them.  Returns the number of devices that did not drain.
 */
guint main_loop_shutdown_devices(gint64 timeout_ms);

/**
 * main_loop_cleanup: unrealize and delete every device, then delete every
 * object (stopping every context thread), then remove the pidfile.  Safe to
 * call more than once.
 */
void main_loop_cleanup(void);

/**
 * ShutdownNotifier: called on the main thread when a shutdown request is
 * taken up by the main loop (before devices are quiesced).
 */
typedef void (*ShutdownNotifier)(ShutdownCause cause, gpointer opaque);

/**
 * main_loop_add_shutdown_notifier: call @fn at shutdown (e.g. the monitor
 * emits its SHUTDOWN event).  Notifiers run in the order they were added.
 */
void main_loop_add_shutdown_notifier(ShutdownNotifier fn, gpointer opaque);

/* ------------------------------------------------------------------------ */
/* Daemon identity and process setup                                         */
/* ------------------------------------------------------------------------ */

/**
 * main_loop_set_name: the daemon's name (-name): returned by query-name and
 * given to the main thread (truncated to 15 bytes by the kernel).
 */
void main_loop_set_name(const char *name);

/** main_loop_get_name: the name set with main_loop_set_name(), or NULL. */
const char *main_loop_get_name(void);

/**
 * os_pidfile_create: create @path, lock it (fcntl F_SETLK write lock, held
 * until exit) and write the pid into it.  Fails with a clear message if
 * another running process holds the lock.  The file is removed by
 * os_pidfile_remove() (and by main_loop_cleanup()).
 */
gboolean os_pidfile_create(const char *path, GError **errp);

/** os_pidfile_remove: remove the pidfile created above, if any.
 * Async-signal-safe. */
void os_pidfile_remove(void);

/**
 * os_daemonize_start: fork; the parent waits on a pipe until the child
 * reports ready (exit 0) or an error (print it, exit 1) and never returns.
 * The child calls setsid() and continues; it must call
 * os_daemonize_ready() once initialized, or os_daemonize_fail().
 */
gboolean os_daemonize_start(GError **errp);

/**
 * os_daemonize_ready: tell the waiting parent the daemon is ready (it
 * exits 0), change to "/" (relative paths given on the command line must
 * have been resolved by then) and redirect stdin/stdout/stderr to
 * /dev/null.  No-op when not daemonized.
 */
void os_daemonize_ready(void);

/**
 * os_daemonize_fail: send @message to the waiting parent (which prints it
 * and exits 1).  No-op when not daemonized.
 */
void os_daemonize_fail(const char *message);

/** os_is_daemonized: TRUE in the child after os_daemonize_start(). */
gboolean os_is_daemonized(void);

G_END_DECLS

#endif /* MAIN_LOOP_MAIN_LOOP_H */

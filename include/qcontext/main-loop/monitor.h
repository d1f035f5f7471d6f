/*
 * main-loop/monitor.h - the QMP-style JSON monitor of qcontextd.
 *
 * A monitor is a listening UNIX socket (any number of clients at once) or
 * the daemon's stdin/stdout.  Each client is a source on the "main" context
 * (the default GMainContext) and speaks QMP's framing:
 *
 *   S: {"QMP": {"version": {"qcontext": {"major": 0, "minor": 1, "micro": 0},
 *               "package": ""}, "capabilities": []}}
 *   C: {"execute": "qmp_capabilities"}
 *   S: {"return": {}}
 *   C: {"execute": "query-qcontexts", "id": 1}
 *   S: {"return": [...], "id": 1}
 *   S: {"event": "DEVICE_MOVED", "data": {...},
 *       "timestamp": {"seconds": ..., "microseconds": ...}}
 *
 * Events: DEVICE_MOVED and DEVICE_DELETED (from the device layer's event
 * hook, which monitor_add() installs), SHUTDOWN (see below).
 *
 * Every function here must be called from the main thread (the thread that
 * iterates the default GMainContext), except monitor_emit_event() and
 * monitor_emit_shutdown() which any thread may call.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_MONITOR_H
#define MAIN_LOOP_MONITOR_H

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/** Error domain of the monitor (bad -monitor specs, sockets in use...). */
#define MONITOR_ERROR (monitor_error_quark())
/** monitor_error_quark: the GQuark behind the error domain macro above. */
GQuark monitor_error_quark(void);

/** The largest JSON message a client may send (bytes). */
#define MONITOR_MAX_MESSAGE (64 * 1024)

/**
 * monitor_add: start a monitor described by @spec (the `-monitor` argument):
 *   "unix:PATH[,server=on][,wait=off]"  listen on PATH (mode 0600).  A stale
 *                                       socket file is removed; if a live
 *                                       process listens there, fail.
 *   "unix:PATH,server=off"              connect to PATH as one client.
 *   "stdio"                             one client on stdin/stdout; from
 *                                       then on the process's other stdout
 *                                       output goes to stderr, so that it
 *                                       cannot corrupt the JSON stream.
 * The sources are attached to the default GMainContext ("main"); they start
 * serving when the main loop runs.  Returns FALSE with @errp set on a bad
 * spec or a socket error (the message does not repeat the spec: the caller
 * says which option it was).  A path this process already listens on is
 * refused as given twice.  Main thread only.
 */
gboolean monitor_add(const char *spec, GError **errp);

/**
 * monitor_emit_event: send the event @name with @data (transfer full; may
 * be NULL for an empty object) to every client that completed capabilities
 * negotiation, stamped with the current wall-clock time.  Any thread: from
 * another thread the event is handed to the main thread and sent from
 * there, in call order.  Without monitors the event is dropped.
 */
void monitor_emit_event(const char *name, JsonObject *data);

/**
 * monitor_emit_shutdown: emit the SHUTDOWN event {"guest": false, "reason":
 * @reason} ("host-qmp-quit", "host-signal", ...) at most once per process;
 * later calls do nothing.  The `quit` command calls it, and monitor_add()
 * registers a main-loop shutdown notifier that calls it with the shutdown
 * cause, so clients see exactly one SHUTDOWN whatever stopped the daemon.
 * Any thread.
 */
void monitor_emit_shutdown(const char *reason);

/**
 * monitor_flush_all: write out (blocking briefly, at most ~1 s in all) what
 * is queued for every client, e.g. the SHUTDOWN event before exit.  Main
 * thread only.
 */
void monitor_flush_all(void);

/**
 * monitor_cleanup_all: flush, disconnect every client, close the listening
 * sockets and unlink their files.  Pending asynchronous commands are
 * answered nowhere.  Idempotent.  Main thread only.
 */
void monitor_cleanup_all(void);

/**
 * monitor_client_count: the number of connected clients (for tests and
 * diagnostics).  Main thread only.
 */
guint monitor_client_count(void);

G_END_DECLS

#endif /* MAIN_LOOP_MONITOR_H */

/*
 * main-loop/monitor/monitor-priv.h - between the files of the monitor core
 * (clients, dispatch, events, endpoints).  Command families do not include
 * it: they see monitor-core.h only.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_MONITOR_PRIV_H
#define MAIN_LOOP_MONITOR_PRIV_H

#include "monitor-core.h"

/* ------------------------------------------------------------------------ */
/* Clients (client.c)                                                        */
/* ------------------------------------------------------------------------ */

/** One connection: a socket client or stdin/stdout. */
typedef struct MonitorClient MonitorClient;

/** Unread output a client may hold before it is disconnected (bytes). */
#define MONITOR_OUT_MAX (16u << 20)

/**
 * Unread output all clients together may hold (bytes); beyond it the
 * client with the most is disconnected, then the next, until under.
 */
#define MONITOR_OUT_TOTAL_MAX (64u << 20)

/**
 * monitor_set_output_limits: change the two limits above (0 restores a
 * default).  For tests.  Main thread.
 */
void monitor_set_output_limits(gsize per_client, gsize total);

/**
 * monitor_client_new: a client reading @in_fd and writing @out_fd (both
 * non-blocking; the same fd for a socket); sends the greeting and starts
 * reading.  The client list owns it; it closes @in_fd (socket) or @out_fd
 * (stdio) when it ends.
 */
void monitor_client_new(int in_fd, int out_fd, gboolean is_socket);

/** monitor_client_ref / monitor_client_unref: keep @c alive. */
MonitorClient *monitor_client_ref(MonitorClient *c);
void monitor_client_unref(MonitorClient *c);

/** monitor_client_send: queue @msg (borrowed) as one line to @c. */
void monitor_client_send(MonitorClient *c, JsonObject *msg);

/** monitor_client_is_negotiated: TRUE after qmp_capabilities. */
gboolean monitor_client_is_negotiated(MonitorClient *c);

/** monitor_client_set_negotiated: @c completed capabilities negotiation. */
void monitor_client_set_negotiated(MonitorClient *c);

/**
 * monitor_client_set_busy: while busy (an asynchronous command runs) @c
 * handles no further message; clearing it resumes them from an idle
 * callback.
 */
void monitor_client_set_busy(MonitorClient *c, gboolean busy);

/**
 * monitor_clients_broadcast: send @line (one JSON text without line end)
 * to every client that completed negotiation.
 */
void monitor_clients_broadcast(const char *line);

/** monitor_clients_close_all: disconnect every client (after a flush). */
void monitor_clients_close_all(void);

/** monitor_json_object_to_line: @msg as compact JSON text (transfer full). */
char *monitor_json_object_to_line(JsonObject *msg);

/* ------------------------------------------------------------------------ */
/* Dispatch (dispatch.c)                                                     */
/* ------------------------------------------------------------------------ */

/**
 * monitor_dispatch: handle one framed message @msg of @c, or the framing
 * error @error (then @msg is NULL): parse, check, run, reply.
 */
void monitor_dispatch(MonitorClient *c, const char *msg, gsize len, const char *error);

/**
 * monitor_json_read: parse @len bytes of @text as one strict JSON value
 * (RFC 8259; no duplicate keys, numbers that fit: int64 or finite double,
 * no \u0000, valid UTF-8).  NULL with @errp set to "JSON parse error: ..."
 * otherwise.  In json-reader.c.
 */
JsonNode *monitor_json_read(const char *text, gsize len, GError **errp);

/** monitor_greeting_new: the greeting object sent to each new client. */
JsonObject *monitor_greeting_new(void);

/* ------------------------------------------------------------------------ */
/* Events (events.c)                                                         */
/* ------------------------------------------------------------------------ */

/** Events other threads may queue for the main thread before new ones drop. */
#define MONITOR_EVENT_QUEUE_MAX 10000

/**
 * monitor_events_start: from now on events are delivered; the calling
 * thread is the main thread.  Registers the SHUTDOWN notifier once.
 */
void monitor_events_start(void);

/** monitor_events_stop: drop queued events; later ones are dropped too. */
void monitor_events_stop(void);

/**
 * monitor_events_drain: send the events other threads queued and those
 * throttling holds back (before exit).  Main thread.
 */
void monitor_events_drain(void);

/* ------------------------------------------------------------------------ */
/* Setup (monitor.c)                                                         */
/* ------------------------------------------------------------------------ */

/**
 * monitor_init: register every family of commands and start events.
 * Idempotent; monitor_add() calls it.  Main thread.
 */
void monitor_init(void);

#endif /* MAIN_LOOP_MONITOR_PRIV_H */

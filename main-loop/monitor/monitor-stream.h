/*
 * main-loop/monitor-stream.h - split a byte stream into JSON messages.
 *
 * A small streaming framer for the monitor: it finds where each top-level
 * JSON value ends by counting brackets outside strings (with escapes), over
 * arbitrary chunking, without parsing.  Each complete message is handed to
 * a callback as text; json-glib parses it afterwards.  Messages larger than
 * the size cap or nested deeper than the depth cap are reported once as an
 * error and discarded up to their end, so one bad message never takes the
 * connection down.  A raw control character (e.g. a newline) inside a
 * string is reported as an error too, and framing restarts after it: a
 * missing closing quote costs one message, not the connection.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_MONITOR_STREAM_H
#define MAIN_LOOP_MONITOR_STREAM_H

#include <glib.h>

/** Deepest bracket nesting accepted in one message. */
#define MONITOR_STREAM_MAX_DEPTH 1024

typedef struct MonitorStream MonitorStream;

/**
 * MonitorStreamFunc: called for each complete top-level value with its
 * text in @msg (NUL-terminated, @len bytes, borrowed) and @error NULL; or,
 * for a message that had to be dropped, with @msg NULL and @error a
 * user-readable reason (borrowed).
 */
typedef void (*MonitorStreamFunc)(void *opaque, const char *msg, gsize len,
                                  const char *error);

/**
 * monitor_stream_new: a framer that delivers messages of at most @max_len
 * bytes nested at most @max_depth deep to @fn(@opaque, ...).
 */
MonitorStream *monitor_stream_new(gsize max_len, guint max_depth, MonitorStreamFunc fn,
                                  void *opaque);

/**
 * monitor_stream_feed: feed @len bytes; calls the callback for each message
 * that ends within them (synchronously, in order).
 */
void monitor_stream_feed(MonitorStream *s, const char *buf, gsize len);

/**
 * monitor_stream_finish: end of input: a pending top-level scalar (e.g.
 * "42" without a trailing newline) is delivered; an unfinished object or
 * string is dropped.
 */
void monitor_stream_finish(MonitorStream *s);

/** monitor_stream_free: free @s (NULL is ignored). */
void monitor_stream_free(MonitorStream *s);

#endif /* MAIN_LOOP_MONITOR_STREAM_H */

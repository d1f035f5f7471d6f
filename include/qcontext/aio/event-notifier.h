/*
 * aio/event-notifier.h - EventNotifier, an eventfd with QEMU's API.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AIO_EVENT_NOTIFIER_H
#define AIO_EVENT_NOTIFIER_H

#include <stdbool.h>

/** An eventfd (rfd == wfd). */
typedef struct EventNotifier {
    int rfd;          /**< the fd to poll and read */
    int wfd;          /**< the fd to write (the same eventfd) */
    bool initialized; /**< event_notifier_init() succeeded */
} EventNotifier;

/**
 * event_notifier_init: create a non-blocking, close-on-exec eventfd; set it
 * already signalled if @active.  Returns 0 or -errno.
 */
int event_notifier_init(EventNotifier *e, int active);

/** event_notifier_cleanup: close the eventfd (no-op if not initialized). */
void event_notifier_cleanup(EventNotifier *e);

/** event_notifier_set: signal @e (any thread).  Returns 0 or -errno. */
int event_notifier_set(EventNotifier *e);

/**
 * event_notifier_test_and_clear: clear @e; returns true if it was signalled.
 */
bool event_notifier_test_and_clear(EventNotifier *e);

/** event_notifier_get_fd: the fd to poll for readability. */
int event_notifier_get_fd(const EventNotifier *e);

#endif /* AIO_EVENT_NOTIFIER_H */

/*
 * main-loop/iohandler.h - fd and event-notifier handlers of the main loop.
 *
 * QEMU-style "iohandlers": handlers for the daemon's own file descriptors
 * (monitor sockets, the signal pipe...).  They live in a separate AioContext
 * whose GSource is attached to the default GMainContext, so that they run
 * only from the main loop itself and never from a nested aio_poll() of the
 * main AioContext (qemu_get_aio_context()).
 *
 * All functions here are for the main thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_IOHANDLER_H
#define MAIN_LOOP_IOHANDLER_H

#include <glib.h>
#include "qcontext/aio/aio.h"

G_BEGIN_DECLS

/**
 * iohandler_init: create the iohandler AioContext on the calling (main)
 * thread and attach its GSource to the default GMainContext.  Idempotent.
 * Called by qemu_init_main_loop().
 */
gboolean iohandler_init(GError **errp);

/**
 * iohandler_get_aio_context: the iohandler AioContext, made by
 * qemu_init_main_loop() (a critical and NULL before).  Borrowed.
 */
AioContext *iohandler_get_aio_context(void);

/**
 * iohandler_get_g_source: the GSource of the iohandler AioContext, as
 * attached to the default GMainContext (a critical and NULL before
 * qemu_init_main_loop()).  Borrowed.
 */
GSource *iohandler_get_g_source(void);

/**
 * qemu_set_fd_handler: run @fd_read(@opaque) when @fd is readable and
 * @fd_write(@opaque) when it is writable, from the main loop.  Both NULL
 * removes the handler.  Level-triggered.
 */
void qemu_set_fd_handler(int fd, IOHandler *fd_read, IOHandler *fd_write, void *opaque);

/**
 * event_notifier_set_handler: run @handler(@e) from the main loop when @e
 * is signalled (the handler clears it with event_notifier_test_and_clear()).
 * NULL removes the handler.
 */
void event_notifier_set_handler(EventNotifier *e, EventNotifierHandler *handler);

/**
 * iohandler_cleanup: detach and free the iohandler AioContext (all handlers
 * must have been removed).  For tests and orderly exit.
 */
void iohandler_cleanup(void);

G_END_DECLS

#endif /* MAIN_LOOP_IOHANDLER_H */

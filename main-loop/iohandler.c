/*
 * main-loop/iohandler.c - the iohandler AioContext of the main loop.
 *
 * The daemon's own fds (signal notifier, monitor sockets...) are watched by
 * an AioContext of their own, separate from the main AioContext that
 * devices and block code poll.  Its GSource is attached to the default
 * GMainContext, so these handlers run only when the main loop iterates and
 * never from inside a nested aio_poll(qemu_get_aio_context(), ...).
 *
 * SPDX-License-Identifier: MIT
 */
#include "qcontext/main-loop/iohandler.h"

static AioContext *iohandler_ctx; /* main thread */
static GSource *iohandler_source; /* attached to the default GMainContext */

gboolean iohandler_init(GError **errp)
{
    if (iohandler_ctx) {
        return TRUE;
    }
    iohandler_ctx = aio_context_new(errp);
    if (!iohandler_ctx) {
        g_prefix_error(errp, "cannot create the iohandler context: ");
        return FALSE;
    }
    iohandler_source = aio_get_g_source(iohandler_ctx);
    g_source_set_name(iohandler_source, "iohandler");
    g_source_attach(iohandler_source, NULL);
    return TRUE;
}

AioContext *iohandler_get_aio_context(void)
{
    if (!iohandler_ctx) {
        g_critical("iohandler_get_aio_context: called before qemu_init_main_loop()");
    }
    return iohandler_ctx;
}

GSource *iohandler_get_g_source(void)
{
    if (!iohandler_source) {
        g_critical("iohandler_get_g_source: called before qemu_init_main_loop()");
    }
    return iohandler_source;
}

void qemu_set_fd_handler(int fd, IOHandler *fd_read, IOHandler *fd_write, void *opaque)
{
    aio_set_fd_handler(iohandler_get_aio_context(), fd, fd_read, fd_write, NULL, NULL,
                       opaque);
}

void event_notifier_set_handler(EventNotifier *e, EventNotifierHandler *handler)
{
    aio_set_event_notifier(iohandler_get_aio_context(), e, handler, NULL, NULL);
}

void iohandler_cleanup(void)
{
    if (!iohandler_ctx) {
        return;
    }
    g_source_destroy(iohandler_source);
    g_clear_pointer(&iohandler_source, g_source_unref);
    g_clear_pointer(&iohandler_ctx, aio_context_unref);
}

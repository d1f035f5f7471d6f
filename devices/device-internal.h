/*
 * devices/device-internal.h - shared between device.c and device-realize.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_DEVICE_INTERNAL_H
#define DEVICES_DEVICE_INTERNAL_H

#include "qcontext/devices/device.h"

/* The "main" context's AioContext (where DeviceDoneFuncs run). */
AioContext *device_main_aio(void);

/*
 * On the device's (new) context thread: record @aio as the attached
 * AioContext, register the device's sources there and resume it if
 * @resume.  Used by realize and by the move steps.
 */
void device_attach(Device *dev, AioContext *aio, gboolean resume);

/* On the device's context thread: remove its sources; no AioContext attached. */
void device_detach(Device *dev);

/* Main-thread accessors of the private state (device.c). */
QContext *device_priv_ctx(Device *dev);
void device_priv_set_ctx(Device *dev, QContext *ctx);
void device_priv_set_state(Device *dev, DeviceState state);

/*
 * Fail the queued operations and end the running one (aborting a drain
 * that waits for requests), iterating the default GMainContext meanwhile.
 * Main thread.
 */
void device_priv_wait_idle(Device *dev);

/* TRUE unless a move is under way or operations are queued (main thread). */
gboolean device_can_delete(Device *dev);

/* Emit @event through the hook, if one is installed. */
void device_emit_event(Device *dev, DeviceEvent event, QContext *from, QContext *to);

/* FALSE with @errp set if devices cannot run in @ctx (no thread runs it). */
gboolean device_context_usable(QContext *ctx, const char *dev_id, GError **errp);

/* QomObjectClass hooks and teardown (device-realize.c). */
gboolean device_complete(QomObject *obj, GError **errp);
void device_unparent(QomObject *obj);
void device_unrealize_sync(Device *dev);

/* Built-in device types. */
GType ticker_get_type(void);

#endif /* DEVICES_DEVICE_INTERNAL_H */

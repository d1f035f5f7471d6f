/*
 * devices/device-realize.c - realize (the QomObject completion step),
 * unrealize (unparent and dispose), the deletion veto and type registration.
 *
 * Realize and unrealize are synchronous: the context-thread part (attach or
 * detach of the device's sources) is run there with a one-shot BH while the
 * main thread waits on a condition variable.  The context threads never
 * wait for the main thread, so this cannot deadlock.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdbool.h>

#include "device-internal.h"

typedef void (*DeviceSyncFn)(Device *dev, AioContext *aio);

typedef struct {
    Device *dev;
    AioContext *aio;
    DeviceSyncFn fn;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done; /* guarded by lock */
} SyncCall;

static void sync_call_bh(void *opaque)
{
    SyncCall *call = opaque;

    call->fn(call->dev, call->aio);
    pthread_mutex_lock(&call->lock);
    call->done = true;
    pthread_cond_signal(&call->cond);
    pthread_mutex_unlock(&call->lock);
}

/*
 * Run @fn(dev, ctx's AioContext) on @ctx's thread and wait for it.  Runs it
 * right here when the caller is that thread or when no thread iterates @ctx
 * (the main context from the main thread, non-threaded or stopped ones).
 */
static void device_run_sync(Device *dev, QContext *ctx, DeviceSyncFn fn)
{
    SyncCall call = {.dev = dev, .aio = qcontext_get_aio_context(ctx), .fn = fn};

    if (!qcontext_is_running(ctx) || qcontext_in_thread(ctx)) {
        fn(dev, call.aio);
        return;
    }
    pthread_mutex_init(&call.lock, NULL);
    pthread_cond_init(&call.cond, NULL);
    aio_bh_schedule_oneshot(call.aio, sync_call_bh, &call);
    pthread_mutex_lock(&call.lock);
    while (!call.done) {
        pthread_cond_wait(&call.cond, &call.lock);
    }
    pthread_mutex_unlock(&call.lock);
    pthread_cond_destroy(&call.cond);
    pthread_mutex_destroy(&call.lock);
}

/* Context thread: register the sources and start taking requests. */
static void device_start_fn(Device *dev, AioContext *aio)
{
    device_attach(dev, aio, TRUE);
}

/* Context thread: remove the sources of a quiesced device. */
static void device_stop_quiesced_fn(Device *dev, AioContext *aio)
{
    device_detach(dev);
}

/* Context thread: stop taking requests, then remove the sources. */
static void device_stop_running_fn(Device *dev, AioContext *aio)
{
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);

    if (klass->quiesce) {
        klass->quiesce(dev);
    }
    device_detach(dev);
}

gboolean device_context_usable(QContext *ctx, const char *dev_id, GError **errp)
{
    if (ctx != qcontext_get_main() && !qcontext_is_threaded(ctx)) {
        g_set_error(
            errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
            "device '%s': context '%s' has no thread (threaded=no); devices run "
            "in 'main' or in a threaded context",
            dev_id, qcontext_get_name(ctx));
        return FALSE;
    }
    return TRUE;
}

gboolean device_complete(QomObject *obj, GError **errp)
{
    Device *dev = DEVICE(obj);
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);
    QContext *ctx;

    if (!QOM_OBJECT_CLASS(g_type_class_peek(QOM_TYPE_OBJECT))->complete(obj, errp)) {
        return FALSE;
    }
    device_main_aio(); /* create "main" on this (the main) thread if needed */
    ctx = device_priv_ctx(dev);
    if (!ctx) {
        ctx = qcontext_get_main();
        device_priv_set_ctx(dev, ctx);
    }
    if (!qom_object_is_completed(QOM_OBJECT(ctx))) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "device '%s': context '%s' is not ready", device_get_id(dev),
                    qcontext_get_name(ctx));
        return FALSE;
    }
    if (!device_context_usable(ctx, device_get_id(dev), errp)) {
        return FALSE;
    }
    if (klass->realize && !klass->realize(dev, errp)) {
        return FALSE;
    }
    device_run_sync(dev, ctx, device_start_fn);
    device_priv_set_state(dev, DEVICE_STATE_RUNNING);
    return TRUE;
}

void device_unrealize_sync(Device *dev)
{
    DeviceClass *klass = QDEV_DEVICE_GET_CLASS(dev);
    DeviceState state = device_get_state(dev);

    if (state == DEVICE_STATE_UNREALIZED) {
        return;
    }
    device_priv_wait_idle(dev);
    state = device_get_state(dev);
    device_run_sync(dev, device_priv_ctx(dev),
                    state == DEVICE_STATE_RUNNING ? device_stop_running_fn
                                                  : device_stop_quiesced_fn);
    if (klass->unrealize) {
        klass->unrealize(dev);
    }
    device_priv_set_state(dev, DEVICE_STATE_UNREALIZED);
}

void device_unparent(QomObject *obj)
{
    Device *dev = DEVICE(obj);
    gboolean was_realized = device_is_realized(dev);
    QContext *ctx = device_priv_ctx(dev);

    device_unrealize_sync(dev);
    if (was_realized) {
        device_emit_event(dev, DEVICE_EVENT_DELETED, ctx, ctx);
    }
}

/* ------------------------------------------------------------------------ */
/* Deletion veto and registration                                            */
/* ------------------------------------------------------------------------ */

static gboolean device_del_check(QomObject *obj, GError **errp)
{
    GList *devs;
    gboolean ok = TRUE;

    if (IS_DEVICE(obj)) {
        if (!device_can_delete(DEVICE(obj))) {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                        "device '%s' is busy (a move is in progress); try again",
                        qom_object_get_id(obj));
            return FALSE;
        }
        return TRUE;
    }
    if ((QContext *)obj == qcontext_get_main()) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                    "context '%s' is the main loop's and cannot be deleted",
                    qom_object_get_id(obj));
        return FALSE;
    }
    devs = qom_container_list(QOM_CONTAINER_DEVICES);
    for (GList *l = devs; l && ok; l = l->next) {
        Device *dev = l->data;
        if (!device_uses_object(dev, obj)) {
            continue;
        }
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                    "%s '%s' is in use by device '%s'",
                    QCONTEXT_IS_CONTEXT(obj) ? "context" : "object",
                    qom_object_get_id(obj), device_get_id(dev));
        ok = FALSE;
    }
    g_list_free_full(devs, g_object_unref);
    return ok;
}

void devices_register_types(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        qom_type_register("device", DEVICE_TYPE);
        qom_type_register("ticker", ticker_get_type());
        qom_container_set_del_check(device_del_check);
        g_once_init_leave(&done, 1);
    }
}

/*
 * main-loop/shutdown.c - the device part of an orderly shutdown.
 *
 * Every realized device is quiesced (it takes no new request) and drains
 * the requests in flight; the main context keeps running meanwhile, so
 * completions that need the main thread still happen.  The wait is bounded
 * by a deadline.  Devices that drained are then flushed (same bound).
 * Devices that did not drain are reported; their requests are failed when
 * they are unrealized by main_loop_cleanup().
 *
 * SPDX-License-Identifier: MIT
 */
#include "qcontext/main-loop/main-loop.h"
#include "main-loop-internal.h"
#include "qcontext/devices/device.h"

/* Shared by the waits and their callbacks, which may outlive a timed-out
 * wait: refcounted (main thread only). */
typedef struct {
    int refs;
    guint pending;
    gboolean finished; /* the wait is over: late results are not reported */
    GHashTable *done;  /* Device * that reported */
} ShutdownWait;

static ShutdownWait *shutdown_wait_new(void)
{
    ShutdownWait *w = g_new0(ShutdownWait, 1);

    w->refs = 1;
    w->done = g_hash_table_new(NULL, NULL);
    return w;
}

static void shutdown_wait_unref(ShutdownWait *w)
{
    if (--w->refs == 0) {
        g_hash_table_unref(w->done);
        g_free(w);
    }
}

/* One more step reports to @w: returns @w for the step's callback. */
static ShutdownWait *shutdown_wait_expect(ShutdownWait *w)
{
    w->pending++;
    w->refs++;
    return w;
}

static void shutdown_step_done(Device *dev, const GError *err, gpointer opaque)
{
    ShutdownWait *w = opaque;

    if (err && !w->finished) {
        main_loop_report("device '%s': %s", device_get_id(dev), err->message);
    } else {
        g_hash_table_add(w->done, dev);
    }
    w->pending--;
    shutdown_wait_unref(w);
}

static gboolean deadline_reached(gpointer opaque)
{
    *(gboolean *)opaque = TRUE;
    return G_SOURCE_REMOVE;
}

/*
 * Run the main context until @w has nothing pending or @timeout_ms passed;
 * results that come later are not reported.
 */
static void shutdown_wait_run(ShutdownWait *w, gint64 timeout_ms)
{
    gboolean expired = FALSE;
    GSource *timer = g_timeout_source_new((guint)MIN(timeout_ms, G_MAXUINT));

    g_source_set_callback(timer, deadline_reached, &expired, NULL);
    g_source_attach(timer, NULL);
    while (w->pending && !expired) {
        main_loop_wait(false);
    }
    g_source_destroy(timer);
    g_source_unref(timer);
    w->finished = TRUE;
}

static guint report_undrained(GList *devs, ShutdownWait *w, gint64 timeout_ms)
{
    guint undrained = 0;

    for (GList *l = devs; l; l = l->next) {
        Device *dev = l->data;
        if (!device_is_realized(dev) || g_hash_table_contains(w->done, dev)) {
            continue;
        }
        undrained++;
        main_loop_report("device '%s': %" G_GUINT64_FORMAT
                         " requests still in flight after %.3g s; failing them",
                         device_get_id(dev), device_get_in_flight(dev),
                         timeout_ms / 1000.0);
    }
    return undrained;
}

guint main_loop_shutdown_devices(gint64 timeout_ms)
{
    GList *devs = qom_container_list(QOM_CONTAINER_DEVICES);
    ShutdownWait *drain = shutdown_wait_new();
    ShutdownWait *flush = shutdown_wait_new();
    guint undrained;

    for (GList *l = devs; l; l = l->next) {
        if (device_is_realized(l->data) &&
            !device_quiesce(l->data, shutdown_step_done, shutdown_wait_expect(drain),
                            NULL)) {
            drain->pending--; /* being deleted: it drains on its own */
            shutdown_wait_unref(drain);
        }
    }
    shutdown_wait_run(drain, timeout_ms);
    undrained = report_undrained(devs, drain, timeout_ms);

    for (GList *l = devs; l; l = l->next) {
        if (g_hash_table_contains(drain->done, l->data) &&
            !device_flush(l->data, shutdown_step_done, shutdown_wait_expect(flush),
                          NULL)) {
            flush->pending--;
            shutdown_wait_unref(flush);
        }
    }
    shutdown_wait_run(flush, MAX(timeout_ms, 1000));
    if (flush->pending) {
        main_loop_report("%u device(s) did not finish flushing", flush->pending);
    }
    shutdown_wait_unref(drain);
    shutdown_wait_unref(flush);
    g_list_free_full(devs, g_object_unref);
    return undrained;
}

/* A device deleted by main_loop_delete_devices() is gone. */
static void delete_done(Device *dev, const GError *err, gpointer opaque)
{
    shutdown_step_done(dev, NULL, opaque);
}

void main_loop_delete_devices(gint64 timeout_ms)
{
    GList *devs = devices_get_live();
    ShutdownWait *w = shutdown_wait_new();

    for (GList *l = devs; l; l = l->next) {
        if (!device_del(l->data, 0, delete_done, shutdown_wait_expect(w), NULL)) {
            w->pending--;
            shutdown_wait_unref(w);
        }
    }
    shutdown_wait_run(w, timeout_ms);
    if (w->pending) {
        main_loop_report("%u device(s) could not be deleted", w->pending);
    }
    shutdown_wait_unref(w);
    g_list_free_full(devs, g_object_unref);
}

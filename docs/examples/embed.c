/*
 * docs/examples/embed.c - qcontext embedded in a program of your own.
 *
 * Two contexts, each on a thread of its own; a function run on one of them
 * with qcontext_invoke(); a device (the built-in "ticker", a load generator)
 * running on the first, moved to the second while it runs; its request
 * counters; an orderly cleanup.  Build it against an installed qcontext:
 *
 *     cc embed.c $(pkg-config --cflags --libs qcontext) -o embed
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include <qcontext/aio-qcontext.h>
#include <qcontext/devices/device.h>
#include <qcontext/glib-qcontext.h>
#include <qcontext/main-loop/main-loop.h>

/* Runs on io0's thread (qcontext_invoke). */
static void hello(gpointer opaque)
{
    QContext *ctx = opaque;

    printf("hello from %s's thread (tid %d)\n", qcontext_get_name(ctx),
           qcontext_get_thread_id(ctx));
}

typedef struct {
    gboolean done;
    char *error;
} Move;

/* Runs on the main thread when the move finished. */
static void moved(Device *dev, const GError *err, gpointer opaque)
{
    Move *m = opaque;

    m->error = err ? g_strdup(err->message) : NULL;
    m->done = TRUE;
}

/* Iterate the main loop (devices report to it) for @ms milliseconds. */
static void run_main_for(int ms)
{
    gint64 end = g_get_monotonic_time() + ms * G_TIME_SPAN_MILLISECOND;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

int main(void)
{
    GError *err = NULL;
    QContext *io0, *ui0;
    QomObject *obj;
    Device *tick;
    DeviceStats st;
    Move move = {0};

    /* "main" first: the calling thread becomes the main loop's */
    if (!qemu_init_main_loop(&err)) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    devices_register_types();

    /* -object aio-qcontext,id=io0,threaded=on and a glib-qcontext */
    io0 = aio_qcontext_new("io0", TRUE, &err);
    ui0 = io0 ? glib_qcontext_new("ui0", TRUE, &err) : NULL;
    if (!ui0) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    g_object_set(io0, "poll-max-ns", (gint64)16384, NULL); /* like qom-set */
    qcontext_invoke(io0, hello, io0, NULL);

    /* -device ticker,id=tick0,context=io0,interval-us=500 */
    obj =
        qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE,
                                   "ticker,id=tick0,context=io0,interval-us=500", &err);
    if (!obj) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    tick = DEVICE(obj);
    run_main_for(100);

    /* move it to ui0 while it runs: no request is lost */
    if (!device_set_context(tick, ui0, moved, &move, &err)) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    while (!move.done) {
        g_main_context_iteration(NULL, TRUE);
    }
    if (move.error) {
        fprintf(stderr, "move failed: %s\n", move.error);
        return 1;
    }
    run_main_for(100);
    device_get_stats(tick, &st);
    printf(
        "tick0 runs on %s: %" G_GUINT64_FORMAT " requests completed, %" G_GUINT64_FORMAT
        " failed, %" G_GUINT64_FORMAT " move(s)\n",
        qcontext_get_name(device_get_context(tick)), st.completed, st.failed, st.moves);

    /* devices first, then the contexts (their threads stop) */
    main_loop_cleanup();
    g_object_unref(io0);
    g_object_unref(ui0);
    return st.completed > 0 && st.failed == 0 && st.moves == 1 ? 0 : 1;
}

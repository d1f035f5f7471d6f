/*
 * bench/bench-glib.c - raw GLib: g_main_context_invoke() to a GMainContext
 * that a thread iterates (blocking).  From a thread that does not own the
 * context, each invoke allocates an idle GSource, attaches it (taking the
 * context lock) and wakes the context through its GWakeup eventfd.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bench.h"

typedef struct {
    BenchPing *ping;
    GMainContext *ctx;
    _Atomic bool stop;
    _Atomic int tid;
    pthread_t thread;
} GlibMech;

static void *glib_mech_thread(void *opaque)
{
    GlibMech *s = opaque;

    g_main_context_push_thread_default(s->ctx);
    /* acquire pairs with the release store in glib_mech_stop_cb() */
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        g_main_context_iteration(s->ctx, TRUE);
    }
    g_main_context_pop_thread_default(s->ctx);
    return NULL;
}

static gboolean glib_mech_cb(gpointer opaque)
{
    GlibMech *s = opaque;

    bench_pong(s->ping);
    return G_SOURCE_REMOVE;
}

static gboolean glib_mech_stop_cb(gpointer opaque)
{
    GlibMech *s = opaque;

    /* release pairs with the acquire load in glib_mech_thread() */
    atomic_store_explicit(&s->stop, true, memory_order_release);
    return G_SOURCE_REMOVE;
}

static void *glib_mech_setup(BenchPing *ping, GError **errp)
{
    GlibMech *s = g_new0(GlibMech, 1);

    s->ping = ping;
    s->ctx = g_main_context_new();
    if (!bench_thread_start(&s->thread, "bench/glib", glib_mech_thread, s, &s->tid,
                            errp)) {
        g_main_context_unref(s->ctx);
        g_free(s);
        return NULL;
    }
    return s;
}

static void glib_mech_signal(void *state)
{
    GlibMech *s = state;

    g_main_context_invoke(s->ctx, glib_mech_cb, s);
}

static int glib_mech_tid(void *state)
{
    GlibMech *s = state;

    return atomic_load_explicit(&s->tid, memory_order_relaxed);
}

static void glib_mech_teardown(void *state)
{
    GlibMech *s = state;

    g_main_context_invoke(s->ctx, glib_mech_stop_cb, s);
    pthread_join(s->thread, NULL);
    g_main_context_unref(s->ctx);
    g_free(s);
}

const BenchMechOps bench_mech_glib = {
    .name = "glib-invoke",
    .what = "raw GLib: g_main_context_invoke() to a GMainContext iterated by B",
    .floor = BENCH_FLOOR_BLOCKING,
    .setup = glib_mech_setup,
    .signal = glib_mech_signal,
    .b_tid = glib_mech_tid,
    .teardown = glib_mech_teardown,
};

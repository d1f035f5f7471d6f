/*
 * bench/bench-peers.c - other event-loop libraries, for comparison.
 *
 * libuv: B runs uv_run() on a loop with a uv_async_t; A calls
 *   uv_async_send() (an atomic flag plus an eventfd write when B may sleep).
 * libevent: B runs event_base_loop() on a base made thread-safe with
 *   evthread_use_pthreads(); A calls event_active() on an event of that base
 *   (takes the base lock, queues the callback, wakes the base through its
 *   notification fd).
 *
 * Built only when meson found the libraries (BENCH_HAVE_LIBUV,
 * BENCH_HAVE_LIBEVENT); otherwise the rows report "not built".
 *
 * SPDX-License-Identifier: MIT
 */
#include <gio/gio.h>

#include "bench.h"

static G_GNUC_UNUSED void *peer_not_built(const char *lib, GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "qcontext-bench was built without %s (meson -Dbench_peers=enabled)",
                lib);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* libuv                                                                      */
/* ------------------------------------------------------------------------ */

#ifdef BENCH_HAVE_LIBUV
#include <uv.h>

typedef struct {
    BenchPing *ping;
    uv_loop_t loop;
    uv_async_t async;
    _Atomic bool stop;
    _Atomic int tid;
    pthread_t thread;
} UvMech;

static void uv_mech_cb(uv_async_t *handle)
{
    UvMech *s = handle->data;

    /* acquire pairs with the release store in uv_mech_teardown() */
    if (atomic_load_explicit(&s->stop, memory_order_acquire)) {
        uv_close((uv_handle_t *)&s->async, NULL);
        return;
    }
    bench_pong(s->ping);
}

static void *uv_mech_thread(void *opaque)
{
    UvMech *s = opaque;

    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void *uv_mech_setup(BenchPing *ping, GError **errp)
{
    UvMech *s = g_new0(UvMech, 1);
    int err;

    s->ping = ping;
    err = uv_loop_init(&s->loop);
    if (err) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED, "uv_loop_init failed: %s",
                    uv_strerror(err));
        g_free(s);
        return NULL;
    }
    err = uv_async_init(&s->loop, &s->async, uv_mech_cb);
    if (err) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED, "uv_async_init failed: %s",
                    uv_strerror(err));
        uv_loop_close(&s->loop);
        g_free(s);
        return NULL;
    }
    s->async.data = s;
    if (!bench_thread_start(&s->thread, "bench/libuv", uv_mech_thread, s, &s->tid,
                            errp)) {
        uv_close((uv_handle_t *)&s->async, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        g_free(s);
        return NULL;
    }
    return s;
}

static void uv_mech_signal(void *state)
{
    UvMech *s = state;

    uv_async_send(&s->async);
}

static int uv_mech_tid(void *state)
{
    UvMech *s = state;

    return atomic_load_explicit(&s->tid, memory_order_relaxed);
}

static void uv_mech_teardown(void *state)
{
    UvMech *s = state;

    /* release pairs with the acquire load in uv_mech_cb() */
    atomic_store_explicit(&s->stop, true, memory_order_release);
    uv_async_send(&s->async);
    pthread_join(s->thread, NULL);
    uv_loop_close(&s->loop);
    g_free(s);
}

#define UV_SETUP uv_mech_setup
#else
static void *uv_mech_setup_missing(BenchPing *ping, GError **errp)
{
    return peer_not_built("libuv", errp);
}
#define UV_SETUP uv_mech_setup_missing
#define uv_mech_signal NULL
#define uv_mech_tid NULL
#define uv_mech_teardown NULL
#endif

const BenchMechOps bench_mech_libuv = {
    .name = "libuv-async",
    .what = "libuv: uv_async_send() to a uv_loop_t run by B",
    .floor = BENCH_FLOOR_BLOCKING,
    .setup = UV_SETUP,
    .signal = uv_mech_signal,
    .b_tid = uv_mech_tid,
    .teardown = uv_mech_teardown,
};

/* ------------------------------------------------------------------------ */
/* libevent                                                                   */
/* ------------------------------------------------------------------------ */

#ifdef BENCH_HAVE_LIBEVENT
#include <event2/event.h>
#include <event2/thread.h>

typedef struct {
    BenchPing *ping;
    struct event_base *base;
    struct event *ev;
    _Atomic int tid;
    pthread_t thread;
} EvMech;

static void ev_mech_cb(evutil_socket_t fd, short what, void *opaque)
{
    EvMech *s = opaque;

    bench_pong(s->ping);
}

static void *ev_mech_thread(void *opaque)
{
    EvMech *s = opaque;

    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void *ev_mech_setup(BenchPing *ping, GError **errp)
{
    static gsize threads_once;
    EvMech *s;

    if (g_once_init_enter(&threads_once)) {
        g_once_init_leave(&threads_once, evthread_use_pthreads() == 0 ? 1 : 2);
    }
    if (threads_once != 1) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "libevent: evthread_use_pthreads() failed");
        return NULL;
    }
    s = g_new0(EvMech, 1);
    s->ping = ping;
    s->base = event_base_new();
    s->ev = s->base ? event_new(s->base, -1, 0, ev_mech_cb, s) : NULL;
    if (!s->ev) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "libevent: cannot create an event base");
        goto fail;
    }
    if (!bench_thread_start(&s->thread, "bench/libevent", ev_mech_thread, s, &s->tid,
                            errp)) {
        goto fail;
    }
    return s;

fail:
    if (s->ev) {
        event_free(s->ev);
    }
    if (s->base) {
        event_base_free(s->base);
    }
    g_free(s);
    return NULL;
}

static void ev_mech_signal(void *state)
{
    EvMech *s = state;

    event_active(s->ev, EV_READ, 0);
}

static int ev_mech_tid(void *state)
{
    EvMech *s = state;

    return atomic_load_explicit(&s->tid, memory_order_relaxed);
}

static void ev_mech_teardown(void *state)
{
    EvMech *s = state;

    event_base_loopbreak(s->base);
    pthread_join(s->thread, NULL);
    event_free(s->ev);
    event_base_free(s->base);
    g_free(s);
}

#define EV_SETUP ev_mech_setup
#else
static void *ev_mech_setup_missing(BenchPing *ping, GError **errp)
{
    return peer_not_built("libevent", errp);
}
#define EV_SETUP ev_mech_setup_missing
#define ev_mech_signal NULL
#define ev_mech_tid NULL
#define ev_mech_teardown NULL
#endif

const BenchMechOps bench_mech_libevent = {
    .name = "libevent-active",
    .what = "libevent: event_active() on an event of an event_base run by B "
            "(evthread_use_pthreads)",
    .floor = BENCH_FLOOR_BLOCKING,
    .setup = EV_SETUP,
    .signal = ev_mech_signal,
    .b_tid = ev_mech_tid,
    .teardown = ev_mech_teardown,
};

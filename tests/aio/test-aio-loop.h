/*
 * tests/aio/test-aio-loop.h - drive an AioContext either with aio_poll()
 * or through its GSource with g_main_context_iteration(), so that each aio
 * core test is written once and runs with both drivers.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TEST_AIO_LOOP_H
#define TEST_AIO_LOOP_H

#include <stddef.h>

#include <glib.h>

#include "qcontext/aio/aio.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

typedef enum {
    DRIVER_AIO_POLL, /* aio_poll(ctx, blocking) */
    DRIVER_GSOURCE,  /* g_main_context_iteration(gctx, blocking) */
    DRIVER_COUNT
} TestDriver;

static const char *const test_driver_names[DRIVER_COUNT] = {"aio-poll", "gsource"};

typedef struct TestLoop {
    TestDriver driver;
    AioContext *ctx;
    GMainContext *gctx; /* DRIVER_GSOURCE */
    GSource *source;    /* DRIVER_GSOURCE */
} TestLoop;

/* A new AioContext at home on the calling thread, with its driver. */
static inline TestLoop *test_loop_new(TestDriver driver)
{
    TestLoop *l = g_new0(TestLoop, 1);
    GError *err = NULL;

    l->driver = driver;
    l->ctx = aio_context_new(&err);
    g_assert_no_error(err);
    g_assert_nonnull(l->ctx);
    if (driver == DRIVER_GSOURCE) {
        l->gctx = g_main_context_new();
        l->source = aio_get_g_source(l->ctx);
        g_source_attach(l->source, l->gctx);
    }
    return l;
}

/*
 * One iteration.  Returns true if a handler, BH or timer ran ("progress").
 * With the GSource driver, progress is read from the context's dispatch
 * counter, since g_main_context_iteration() also returns TRUE for a
 * dispatch that only consumed a notification.
 */
static inline bool test_loop_iterate(TestLoop *l, bool blocking)
{
    AioContextStats before, after;
    bool progress;

    if (l->driver == DRIVER_AIO_POLL) {
        return aio_poll(l->ctx, blocking);
    }
    aio_context_get_stats(l->ctx, &before);
    g_main_context_iteration(l->gctx, blocking);
    aio_context_get_stats(l->ctx, &after);
    progress = after.dispatches != before.dispatches;
    return progress;
}

static inline void test_loop_free(TestLoop *l)
{
    if (l->source) {
        g_source_destroy(l->source);
        g_source_unref(l->source);
        g_main_context_unref(l->gctx);
    }
    aio_context_unref(l->ctx);
    g_free(l);
}

/* Register @fn as /aio/<driver>/<name> for every driver. */
static inline void test_add_for_each_driver(const char *name, GTestDataFunc fn)
{
    for (int d = 0; d < DRIVER_COUNT; d++) {
        g_autofree char *path =
            g_strdup_printf("/aio/%s/%s", test_driver_names[d], name);

        g_test_add_data_func(path, GINT_TO_POINTER(d), fn);
    }
}

#endif /* TEST_AIO_LOOP_H */

/*
 * tests/qcontext/test-embed.c - the embedder's API: aio_qcontext_new(),
 * glib_qcontext_new() and qcontext_invoke().
 *
 * SPDX-License-Identifier: MIT
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "qcontext/aio-qcontext.h"
#include "qcontext/glib-qcontext.h"
#include "qctx-test.h"

typedef QContext *(*NewFunc)(const char *id, gboolean threaded, GError **errp);

typedef struct {
    NewFunc new_func;
    const char *type;
} Ctor;

static const Ctor ctors[] = {
    {aio_qcontext_new, "aio-qcontext"},
    {glib_qcontext_new, "glib-qcontext"},
};

static int gettid_(void)
{
    return (int)syscall(SYS_gettid);
}

/* Run @ctx's loop (main thread, a context that is not threaded) until *@flag. */
static void iterate_until(QContext *ctx, int *flag)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;

    while (!ts_get(flag)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        qcontext_iterate(ctx, FALSE);
        g_usleep(1000);
    }
}

static void wait_for(int *flag)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;

    while (!ts_get(flag)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
}

static void test_new(gconstpointer data)
{
    const Ctor *c = data;
    GError *err = NULL;
    QContext *ctx = c->new_func("embed0", TRUE, &err), *again;

    g_assert_no_error(err);
    g_assert_true(QCONTEXT_IS_CONTEXT(ctx));
    g_assert_cmpstr(qom_object_get_type_name(QOM_OBJECT(ctx)), ==, c->type);
    g_assert_cmpstr(qcontext_get_name(ctx), ==, "embed0");
    g_assert_true(qom_object_is_completed(QOM_OBJECT(ctx)));
    g_assert_true(qcontext_find_by_name("embed0") == ctx);
    g_assert_true(qcontext_is_threaded(ctx));
    g_assert_true(qcontext_is_running(ctx));
    g_assert_cmpint(qcontext_get_thread_id(ctx), !=, gettid_());
    g_assert_false(qcontext_in_thread(ctx));

    /* the same id again, a malformed id: one-line errors, nothing created */
    again = c->new_func("embed0", FALSE, &err);
    g_assert_null(again);
    g_assert_error(err, QOM_ERROR, QOM_ERROR_DUPLICATE_ID);
    g_assert_cmpstr(err->message, ==, "duplicate id 'embed0'");
    g_clear_error(&err);
    g_assert_null(c->new_func("0bad,threaded=on", FALSE, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_INVALID_ID);
    g_clear_error(&err);

    /* the caller's reference outlives the container's */
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "embed0", &err));
    g_assert_null(qcontext_find_by_name("embed0"));
    g_assert_false(qcontext_is_running(ctx));
    g_object_unref(ctx);
}

static void test_new_not_threaded(gconstpointer data)
{
    const Ctor *c = data;
    GError *err = NULL;
    QContext *ctx = c->new_func("embed1", FALSE, &err);

    g_assert_no_error(err);
    g_assert_false(qcontext_is_threaded(ctx));
    g_assert_true(qcontext_in_thread(ctx)); /* at home on the creating thread */
    g_assert_cmpint(qcontext_get_thread_id(ctx), ==, gettid_());
    g_object_unref(ctx); /* the container keeps it */
    g_assert_nonnull(qcontext_find_by_name("embed1"));
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "embed1", &err));
}

typedef struct {
    QContext *ctx;
    int ran;               /* atomic: func calls */
    int tid;               /* atomic: the thread func ran on */
    int in_thread;         /* atomic: qcontext_in_thread(ctx) inside func */
    int notified;          /* atomic: notify calls */
    int ran_at_notify;     /* atomic: ran when notify was called */
    int nested_ran_inside; /* atomic: a nested invoke ran inside its call */
} Invoked;

static void on_invoke(gpointer opaque)
{
    Invoked *inv = opaque;

    ts_set(&inv->tid, gettid_());
    ts_set(&inv->in_thread, qcontext_in_thread(inv->ctx));
    ts_inc(&inv->ran);
}

static void on_notify(gpointer opaque)
{
    Invoked *inv = opaque;

    ts_set(&inv->ran_at_notify, ts_get(&inv->ran));
    ts_inc(&inv->notified);
}

static void test_invoke_threaded(gconstpointer data)
{
    const Ctor *c = data;
    Invoked inv = {0};

    inv.ctx = c->new_func("embed2", TRUE, NULL);
    qcontext_invoke(inv.ctx, on_invoke, &inv, on_notify);
    wait_for(&inv.notified);
    g_assert_cmpint(ts_get(&inv.ran), ==, 1);
    g_assert_cmpint(ts_get(&inv.ran_at_notify), ==, 1); /* notify after func */
    g_assert_cmpint(ts_get(&inv.tid), ==, qcontext_get_thread_id(inv.ctx));
    g_assert_true(ts_get(&inv.in_thread));
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "embed2", NULL));
    g_object_unref(inv.ctx);
    g_assert_cmpint(ts_get(&inv.notified), ==, 1);
}

/*
 * Many invocations from another thread, one after the other: each must run
 * although the source has no fd and is only ready in prepare (a glib-qcontext
 * once ran its prepare while the source was attached but not yet bound, then
 * slept with nothing to wake it).
 */
static void test_invoke_many(gconstpointer data)
{
    const Ctor *c = data;
    QContext *ctx = c->new_func("embed5", TRUE, NULL);

    for (int i = 0; i < 300; i++) {
        Invoked inv = {.ctx = ctx};

        qcontext_invoke(ctx, on_invoke, &inv, on_notify);
        wait_for(&inv.notified);
        g_assert_cmpint(ts_get(&inv.ran), ==, 1);
    }
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "embed5", NULL));
    g_object_unref(ctx);
}

/* From the context's own thread: queued for the next iteration, not run. */
static void on_invoke_nested(gpointer opaque)
{
    Invoked *inv = opaque;
    Invoked *inner = inv + 1;

    qcontext_invoke(inv->ctx, on_invoke, inner, on_notify);
    ts_set(&inv->nested_ran_inside, ts_get(&inner->ran));
    ts_inc(&inv->ran);
}

static void test_invoke_nested(gconstpointer data)
{
    const Ctor *c = data;
    Invoked inv[2] = {{0}};

    inv[0].ctx = inv[1].ctx = c->new_func("embed3", TRUE, NULL);
    qcontext_invoke(inv[0].ctx, on_invoke_nested, &inv[0], NULL);
    wait_for(&inv[1].notified);
    g_assert_cmpint(ts_get(&inv[0].ran), ==, 1);
    g_assert_cmpint(ts_get(&inv[0].nested_ran_inside), ==, 0);
    g_assert_cmpint(ts_get(&inv[1].ran), ==, 1);
    g_assert_cmpint(ts_get(&inv[1].tid), ==, qcontext_get_thread_id(inv[0].ctx));
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "embed3", NULL));
    g_object_unref(inv[0].ctx);
}

/* "main" runs it when the main thread iterates it, and only then. */
static void test_invoke_main(void)
{
    QContext *main_ctx = qcontext_get_main();
    Invoked inv = {.ctx = main_ctx};

    qcontext_invoke(main_ctx, on_invoke, &inv, on_notify);
    g_usleep(20 * 1000);
    g_assert_cmpint(ts_get(&inv.ran), ==, 0);
    iterate_until(main_ctx, &inv.notified);
    g_assert_cmpint(ts_get(&inv.ran), ==, 1);
    g_assert_cmpint(ts_get(&inv.tid), ==, gettid_());
    g_assert_true(ts_get(&inv.in_thread));
}

/* A context deleted before it ran the function: notify, never func. */
static void test_invoke_deleted(gconstpointer data)
{
    const Ctor *c = data;
    Invoked inv = {0};

    inv.ctx = c->new_func("embed4", FALSE, NULL); /* nobody iterates it */
    qcontext_invoke(inv.ctx, on_invoke, &inv, on_notify);
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "embed4", NULL));
    g_object_unref(inv.ctx);
    g_assert_cmpint(ts_get(&inv.notified), ==, 1);
    g_assert_cmpint(ts_get(&inv.ran), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(NULL));
    for (size_t i = 0; i < G_N_ELEMENTS(ctors); i++) {
        const char *t = ctors[i].type;
        g_autofree char *p1 = g_strdup_printf("/embed/%s/new", t);
        g_autofree char *p2 = g_strdup_printf("/embed/%s/new-not-threaded", t);
        g_autofree char *p3 = g_strdup_printf("/embed/%s/invoke", t);
        g_autofree char *p4 = g_strdup_printf("/embed/%s/invoke-nested", t);
        g_autofree char *p5 = g_strdup_printf("/embed/%s/invoke-deleted", t);
        g_autofree char *p6 = g_strdup_printf("/embed/%s/invoke-many", t);

        g_test_add_data_func(p1, &ctors[i], test_new);
        g_test_add_data_func(p2, &ctors[i], test_new_not_threaded);
        g_test_add_data_func(p3, &ctors[i], test_invoke_threaded);
        g_test_add_data_func(p4, &ctors[i], test_invoke_nested);
        g_test_add_data_func(p5, &ctors[i], test_invoke_deleted);
        g_test_add_data_func(p6, &ctors[i], test_invoke_many);
    }
    g_test_add_func("/embed/invoke-main", test_invoke_main);
    return g_test_run();
}

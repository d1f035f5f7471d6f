/*
 * tests/qcontext/test-qcontext.c - the QContext RFC's cases on one thread:
 * init, QSource init, attach, iterate with two event notifiers, prepare
 * short-circuit, detach, poll fds changed while attached; errors from
 * option strings; the main context; glib-qcontext's own GMainContext
 * (plain GSources, also on a context thread); CPU lists.
 *
 * Each generic test runs on every context type (data = the type name).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "qctx-test.h"
#include "../../qcontext/qcontext-internal.h"

static int ctx_serial;

/* A fresh non-threaded context of @type with a unique id. */
static QContext *new_ctx(const char *type, char **id)
{
    *id = g_strdup_printf("t%d", ++ctx_serial);
    return qctx_new(type, *id, NULL);
}

static gboolean skip_unavailable(const char *type)
{
    if (!qctx_type_available(type)) {
        g_test_skip("type not built yet");
        return TRUE;
    }
    return FALSE;
}

static void test_init(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    QContext *ctx;

    if (skip_unavailable(type)) {
        return;
    }
    ctx = new_ctx(type, &id);
    g_assert_cmpstr(qcontext_get_name(ctx), ==, id);
    g_assert_true(qcontext_find_by_name(id) == ctx);
    g_assert_cmpstr(qom_object_get_type_name(QOM_OBJECT(ctx)), ==, type);
    g_assert_false(qcontext_is_threaded(ctx));
    g_assert_false(qcontext_is_running(ctx));
    /* non-threaded: its creator's */
    g_assert_cmpint(qcontext_get_thread_id(ctx), ==, gettid());
    g_assert_nonnull(qcontext_get_aio_context(ctx));
    g_assert_true(qcontext_in_thread(ctx));
    g_assert_null(qcontext_find_source_by_name(ctx, "nothing"));
    qctx_flush(ctx);
    g_assert_false(qcontext_iterate(ctx, FALSE));
    qctx_del(id);
}

static gboolean flag_callback(gpointer opaque)
{
    (*(int *)opaque)++;
    return G_SOURCE_CONTINUE;
}

static void test_qsource_init(void)
{
    static const QSourceFuncs no_funcs;
    TestSource *ts = ts_new("src0");
    int x = 0;
    QSource *cb_src = qsource_new(&no_funcs, flag_callback, NULL, &x);

    g_assert_cmpstr(qsource_get_name(ts->src), ==, "src0");
    g_assert_true(qsource_get_opaque(ts->src) == ts);
    g_assert_null(qsource_get_context(ts->src));
    g_assert_null(qsource_get_name(cb_src));
    g_assert_true(qsource_get_callback(cb_src) == flag_callback);
    g_assert_true(qsource_get_opaque(cb_src) == &x);

    /* refcounting: finalize runs once, with the last reference */
    g_assert_true(qsource_ref(ts->src) == ts->src);
    qsource_unref(ts->src);
    g_assert_cmpint(ts->finalized, ==, 0);
    qsource_remove_poll(ts->src, &ts->pfd);
    qsource_unref(cb_src);
    ts_free(ts);
}

static void test_attach(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL, *id2 = NULL, *msg = NULL;
    g_autoptr(GError) err = NULL;
    TestSource *ts = ts_new("src1");
    QContext *ctx, *ctx2;

    if (skip_unavailable(type)) {
        ts_free(ts);
        return;
    }
    ctx = new_ctx(type, &id);
    ctx2 = new_ctx(type, &id2);

    g_assert_true(qcontext_attach(ctx, ts->src, &err));
    g_assert_no_error(err);
    g_assert_true(qsource_get_context(ts->src) == ctx);
    g_assert_true(qcontext_find_source_by_name(ctx, "src1") == ts->src);
    g_assert_null(qcontext_find_source_by_name(ctx2, "src1"));

    /* attached already: to the same context or another */
    g_assert_false(qcontext_attach(ctx, ts->src, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    msg = g_strdup_printf("source 'src1' is already attached to context '%s'", id);
    g_assert_cmpstr(err->message, ==, msg);
    g_clear_error(&err);
    g_assert_false(qcontext_attach(ctx2, ts->src, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);

    /* detach from the wrong context fails and changes nothing */
    g_assert_false(qcontext_detach(ctx2, ts->src, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_NOT_FOUND);
    g_clear_error(&err);
    g_assert_true(qsource_get_context(ts->src) == ctx);

    g_assert_true(qcontext_detach(ctx, ts->src, &err));
    g_assert_no_error(err);
    g_assert_null(qsource_get_context(ts->src));
    g_assert_null(qcontext_find_source_by_name(ctx, "src1"));
    g_assert_false(qcontext_detach(ctx, ts->src, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);

    /* re-attach elsewhere; deleting the context detaches it */
    g_assert_true(qcontext_attach(ctx2, ts->src, NULL));
    qctx_del(id2);
    g_assert_null(qsource_get_context(ts->src));
    qctx_del(id);
    g_assert_cmpint(ts->finalized, ==, 0);
    ts_free(ts);
}

/* The RFC's iterate test: two sources, each watching an event notifier. */
static void test_iterate(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    TestSource *a = ts_new("a"), *b = ts_new("b");
    QContext *ctx;
    int timeout;

    if (skip_unavailable(type)) {
        ts_free(a);
        ts_free(b);
        return;
    }
    ctx = new_ctx(type, &id);
    g_assert_true(qcontext_attach(ctx, a->src, NULL));
    g_assert_true(qcontext_attach(ctx, b->src, NULL));
    qctx_flush(ctx);

    /* idle: nothing is ready, nothing dispatched */
    g_assert_false(qcontext_iterate(ctx, FALSE));
    g_assert_cmpint(a->dispatch_count + b->dispatch_count, ==, 0);
    g_assert_cmpint(a->prepare_count, >=, 1);
    timeout = 1234;
    g_assert_false(qcontext_prepare(ctx, &timeout));
    g_assert_cmpint(timeout, ==, -1); /* no source bounds the poll */
    g_assert_false(qcontext_poll(ctx, 0));
    g_assert_false(qcontext_check(ctx));
    qcontext_dispatch(ctx);
    g_assert_cmpint(a->dispatch_count + b->dispatch_count, ==, 0);

    /* a signalled: prepare not ready, poll ready, check ready, a dispatched */
    event_notifier_set(&a->en);
    int a_checks = a->check_count, b_checks = b->check_count;
    g_assert_false(qcontext_prepare(ctx, &timeout));
    g_assert_true(qcontext_poll(ctx, 1000));
    g_assert_true(qcontext_check(ctx));
    g_assert_cmpint(a->check_count, ==, a_checks + 1);
    g_assert_cmpint(b->check_count, ==, b_checks + 1);
    g_assert_cmpint(a->dispatch_count, ==, 0);
    qcontext_dispatch(ctx);
    g_assert_cmpint(a->dispatch_count, ==, 1);
    g_assert_cmpint(b->dispatch_count, ==, 0);

    /* cleared by the dispatch: nothing more */
    g_assert_false(qcontext_iterate(ctx, FALSE));
    g_assert_cmpint(a->dispatch_count, ==, 1);

    /* both signalled: one blocking iteration dispatches both */
    event_notifier_set(&a->en);
    event_notifier_set(&b->en);
    g_assert_true(qcontext_iterate(ctx, TRUE));
    g_assert_cmpint(a->dispatch_count, ==, 2);
    g_assert_cmpint(b->dispatch_count, ==, 1);
    g_assert_false(qcontext_iterate(ctx, FALSE));

    /* b signalled only */
    event_notifier_set(&b->en);
    g_assert_true(qcontext_iterate(ctx, TRUE));
    g_assert_cmpint(a->dispatch_count, ==, 2);
    g_assert_cmpint(b->dispatch_count, ==, 2);

    /* detached: a's fd is ready but a never runs again */
    g_assert_true(qcontext_detach(ctx, a->src, NULL));
    int a_prepares = a->prepare_count;
    event_notifier_set(&a->en);
    qctx_flush(ctx);
    g_assert_false(qcontext_iterate(ctx, FALSE));
    g_assert_cmpint(a->dispatch_count, ==, 2);
    g_assert_cmpint(a->prepare_count, ==, a_prepares);

    qctx_del(id);
    ts_free(a);
    ts_free(b);
}

/* prepare returning TRUE dispatches without polling or checking it. */
static void test_prepare_ready(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    TestSource *a = ts_new("a");
    QContext *ctx;
    int timeout = -1;

    if (skip_unavailable(type)) {
        ts_free(a);
        return;
    }
    ctx = new_ctx(type, &id);
    g_assert_true(qcontext_attach(ctx, a->src, NULL));
    qctx_flush(ctx);

    ts_set(&a->force_ready, 1);
    int checks = a->check_count;
    g_assert_true(qcontext_prepare(ctx, &timeout));
    g_assert_cmpint(timeout, ==, 0);
    qcontext_dispatch(ctx);
    g_assert_cmpint(a->dispatch_count, ==, 1);
    g_assert_cmpint(a->check_count, ==, checks);

    /* the same through iterate: even a blocking one does not block */
    g_assert_true(qcontext_iterate(ctx, TRUE));
    g_assert_cmpint(a->dispatch_count, ==, 2);
    g_assert_cmpint(a->check_count, ==, checks);
    ts_set(&a->force_ready, 0);
    g_assert_false(qcontext_iterate(ctx, FALSE));

    /* a prepare timeout bounds a blocking iteration */
    ts_set(&a->prepare_timeout, 20);
    g_assert_false(qcontext_prepare(ctx, &timeout));
    g_assert_cmpint(timeout, >, 0);
    g_assert_cmpint(timeout, <=, 20);
    g_assert_false(qcontext_check(ctx));
    gint64 start = g_get_monotonic_time();
    g_assert_false(qcontext_iterate(ctx, TRUE)); /* returns: nothing ready */
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 10 * 1000);

    qctx_del(id);
    ts_free(a);
}

/* Poll fds added to or removed from an attached source take effect. */
static void test_poll_fds_attached(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    TestSource *a = ts_new("a");
    EventNotifier en2;
    GPollFD pfd2;
    QContext *ctx;

    if (skip_unavailable(type)) {
        ts_free(a);
        return;
    }
    ctx = new_ctx(type, &id);
    g_assert_cmpint(event_notifier_init(&en2, 0), ==, 0);
    pfd2 = (GPollFD){.fd = event_notifier_get_fd(&en2), .events = G_IO_IN};
    qsource_remove_poll(a->src, &a->pfd);
    g_assert_true(qcontext_attach(ctx, a->src, NULL));
    qctx_flush(ctx);

    /* a's own notifier is not watched yet */
    event_notifier_set(&a->en);
    qctx_flush(ctx);
    g_assert_cmpint(a->dispatch_count, ==, 0);

    /* now it is */
    qsource_add_poll(a->src, &a->pfd);
    g_assert_true(qcontext_iterate(ctx, TRUE));
    g_assert_cmpint(a->dispatch_count, ==, 1);

    /* a second fd on the same source: check sees its revents */
    qsource_add_poll(a->src, &pfd2);
    event_notifier_set(&en2);
    g_assert_false(qcontext_prepare(ctx, NULL));
    g_assert_true(qcontext_poll(ctx, 1000));
    qcontext_check(ctx);
    g_assert_true(pfd2.revents & G_IO_IN);
    qcontext_dispatch(ctx);
    event_notifier_test_and_clear(&en2);
    qctx_flush(ctx);

    /* removed again: no more dispatches for it */
    qsource_remove_poll(a->src, &a->pfd);
    int n = a->dispatch_count;
    event_notifier_set(&a->en);
    qctx_flush(ctx);
    g_assert_cmpint(a->dispatch_count, ==, n);

    qsource_remove_poll(a->src, &pfd2);
    qctx_del(id);
    event_notifier_cleanup(&en2);
    ts_free(a);
}

/* dispatch returning G_SOURCE_REMOVE detaches the source. */
static void test_dispatch_remove(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    TestSource *a = ts_new("a");
    QContext *ctx;

    if (skip_unavailable(type)) {
        ts_free(a);
        return;
    }
    ctx = new_ctx(type, &id);
    g_assert_true(qcontext_attach(ctx, a->src, NULL));
    ts_set(&a->remove_on_dispatch, 1);
    a->clear_on_dispatch = 0;
    event_notifier_set(&a->en);
    g_assert_true(qcontext_iterate(ctx, TRUE));
    g_assert_cmpint(a->dispatch_count, ==, 1);
    g_assert_null(qsource_get_context(a->src));
    g_assert_null(qcontext_find_source_by_name(ctx, "a"));
    qctx_flush(ctx);
    g_assert_cmpint(a->dispatch_count, ==, 1);

    /* and it can be attached again */
    ts_set(&a->remove_on_dispatch, 0);
    g_assert_true(qcontext_attach(ctx, a->src, NULL));
    g_assert_true(qcontext_iterate(ctx, TRUE));
    g_assert_cmpint(a->dispatch_count, ==, 2);
    qctx_del(id);
    ts_free(a);
}

/*
 * A source of a non-threaded context that deletes the context from its
 * dispatch would free it under qcontext_iterate(): refused; the context is
 * deletable once the iteration is over.
 */
typedef struct {
    const char *id;
    int runs;
    gboolean deleted;
    char *msg;
} DeleteInDispatch;

static gboolean delete_ctx_dispatch(QSource *src)
{
    DeleteInDispatch *d = qsource_get_opaque(src);
    g_autoptr(GError) err = NULL;

    d->runs++;
    d->deleted = qom_container_del(QOM_CONTAINER_OBJECTS, d->id, &err);
    d->msg = err ? g_strdup(err->message) : NULL;
    return G_SOURCE_REMOVE;
}

static gboolean always_ready(QSource *src, int *timeout)
{
    return TRUE;
}

static const QSourceFuncs delete_ctx_funcs = {
    .prepare = always_ready,
    .dispatch = delete_ctx_dispatch,
};

static void test_delete_in_dispatch(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL, *want = NULL;
    DeleteInDispatch d = {0};
    QSource *src = qsource_new(&delete_ctx_funcs, NULL, "deleter", &d);
    QContext *ctx;

    if (skip_unavailable(type)) {
        qsource_unref(src);
        return;
    }
    ctx = new_ctx(type, &id);
    d.id = id;
    g_assert_true(qcontext_attach(ctx, src, NULL));
    g_assert_true(qcontext_iterate(ctx, FALSE));
    g_assert_cmpint(d.runs, ==, 1);
    g_assert_false(d.deleted);
    want = g_strdup_printf("context '%s' cannot be deleted from its own thread", id);
    g_assert_cmpstr(d.msg, ==, want);
    g_assert_true(qcontext_find_by_name(id) == ctx);
    qctx_del(id); /* outside its iteration: fine */
    qsource_unref(src);
    g_free(d.msg);
}

/* Errors of option strings, with the real types. */
static void test_errors(void)
{
    g_autoptr(GArray) online = qcontext_online_cpus();
    guint missing = g_array_index(online, guint, online->len - 1) + 1;
    g_autofree char *have = qcontext_format_cpulist(online);
    g_autofree char *opt = NULL, *want = NULL;
    int tasks = qctx_count_tasks_settled();
    char *msg;

#define EXPECT(optstr, expected)                                                       \
    do {                                                                               \
        msg = qctx_new_error(optstr);                                                  \
        g_assert_nonnull(msg);                                                         \
        g_assert_cmpstr(msg, ==, expected);                                            \
        g_free(msg);                                                                   \
    } while (0)
#define EXPECT_SUB(optstr, sub)                                                        \
    do {                                                                               \
        msg = qctx_new_error(optstr);                                                  \
        g_assert_nonnull(msg);                                                         \
        g_assert_nonnull(strstr(msg, sub));                                            \
        g_free(msg);                                                                   \
    } while (0)

    EXPECT("glib-qcontext,id=ctx0,thraded=yes",
           "unknown property 'thraded' for type 'glib-qcontext'");
    EXPECT("foo,id=ctx0", "unknown object type 'foo'");
    EXPECT("glib-qcontext,id=ctx0,threaded=maybe",
           "glib-qcontext: property 'threaded' expects a boolean (on/off, yes/no, "
           "true/false), got 'maybe'");
    EXPECT("glib-qcontext,id=ctx0,thread-id=5",
           "glib-qcontext: property 'thread-id' is read-only");
    EXPECT("glib-qcontext,id=0ctx",
           "invalid id '0ctx': an id starts with a letter and contains only letters, "
           "digits, '-', '.' and '_'");
    EXPECT("glib-qcontext,threaded=yes", "glib-qcontext: parameter 'id' is missing");
    if (qctx_type_available("aio-qcontext")) {
        EXPECT("aio-qcontext,id=io0,threaded=yes,poll-max-ns=fast",
               "aio-qcontext: property 'poll-max-ns' expects an integer in "
               "[0, 2^63-1], got 'fast'");
        EXPECT("aio-qcontext,id=io0,poll-max-ns=-1",
               "aio-qcontext: property 'poll-max-ns' expects an integer in "
               "[0, 2^63-1], got '-1'");
        EXPECT("aio-qcontext,id=io0,fdmon=kqueue",
               "aio-qcontext: property 'fdmon' expects one of epoll, io_uring, poll, "
               "got 'kqueue'");
    }
    EXPECT_SUB("glib-qcontext,id=ctx0,threaded=yes,cpu-affinity=1-0",
               "cpu-affinity: invalid CPU list '1-0'");
    EXPECT_SUB("glib-qcontext,id=ctx0,threaded=yes,cpu-affinity=0,,x", "cpu-affinity");
    EXPECT_SUB("glib-qcontext,id=ctx0,cpu-affinity=0",
               "cpu-affinity: needs threaded=yes");
    opt = g_strdup_printf("glib-qcontext,id=ctx0,threaded=yes,cpu-affinity=0,,%u",
                          missing);
    want = g_strdup_printf(
        "cpu-affinity: CPU %u does not exist (this machine has CPUs %s)", missing,
        have);
    EXPECT(opt, want);
    g_assert_null(qcontext_find_by_name("ctx0"));
    qctx_assert_tasks(tasks);

    qctx_new("glib-qcontext", "ctx0", NULL);
    EXPECT("glib-qcontext,id=ctx0", "duplicate id 'ctx0'");
    EXPECT("glib-qcontext,id=main", "duplicate id 'main'");
    if (qctx_type_available("aio-qcontext")) {
        EXPECT("aio-qcontext,id=ctx0,threaded=yes", "duplicate id 'ctx0'");
    }
    qctx_del("ctx0");
    /* nothing of the failed ones is left: no object, no thread */
    g_assert_null(qcontext_find_by_name("io0"));
    g_assert_null(qcontext_find_by_name("ctx1"));
    qctx_assert_tasks(tasks);
#undef EXPECT
#undef EXPECT_SUB
}

static gboolean set_flag_once(gpointer p)
{
    *(gboolean *)p = TRUE;
    return G_SOURCE_REMOVE;
}

static void test_main(void)
{
    QContext *main_ctx = qcontext_get_main();

    g_assert_nonnull(main_ctx);
    g_assert_true(qcontext_get_main() == main_ctx);
    g_assert_true(qcontext_find_by_name("main") == main_ctx);
    g_assert_cmpstr(qcontext_get_name(main_ctx), ==, QCONTEXT_MAIN_NAME);
    g_assert_true(GLIB_IS_QCONTEXT(main_ctx));
    g_assert_true(glib_qcontext_get_main_context(main_ctx) == g_main_context_default());
    g_assert_false(qcontext_is_threaded(main_ctx));
    g_assert_true(qcontext_in_thread(main_ctx));
    g_assert_true(qcontext_is_main(main_ctx));
    /* the main thread's, also in the kernel's words */
    g_assert_cmpint(qcontext_get_thread_id(main_ctx), ==, getpid());
    /* whose thread is this: main's (it was NULL on the main thread) */
    g_assert_true(qcontext_current() == main_ctx);
    /* it lives as long as the process */
    g_autoptr(GError) err = NULL;
    g_assert_false(qom_container_del(QOM_CONTAINER_OBJECTS, "main", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_assert_cmpstr(err->message, ==,
                    "context 'main' is the main loop's and cannot be deleted");
    g_assert_true(qcontext_find_by_name("main") == main_ctx);
    /* init again from the same thread: nothing changes */
    g_assert_true(qcontext_init_main(NULL));
    g_assert_true(qcontext_get_main() == main_ctx);

    /* a plain GSource on the main context runs with qcontext_iterate */
    gboolean ran = FALSE;
    GSource *idle = g_idle_source_new();
    g_source_set_callback(idle, set_flag_once, &ran, NULL);
    g_source_attach(idle, g_main_context_default());
    g_source_unref(idle);
    g_assert_true(qcontext_iterate(main_ctx, FALSE));
    g_assert_true(ran);
}

/*
 * A glib-qcontext other than "main" owns a new GMainContext and exposes it:
 * plain GSources attached to it run when the context iterates, and with
 * threaded=yes on the context's thread.
 */
typedef struct {
    int ran; /* atomic */
    int tid; /* atomic: the thread it ran on */
} IdleProbe;

static gboolean idle_probe(gpointer opaque)
{
    IdleProbe *p = opaque;

    ts_set(&p->tid, gettid());
    ts_inc(&p->ran);
    return G_SOURCE_REMOVE;
}

static void attach_idle(GMainContext *gctx, IdleProbe *p)
{
    GSource *idle = g_idle_source_new();

    g_source_set_callback(idle, idle_probe, p, NULL);
    g_source_attach(idle, gctx);
    g_source_unref(idle);
}

static void test_glib_main_context(void)
{
    QContext *a = qctx_new("glib-qcontext", "ga", NULL);
    QContext *b = qctx_new("glib-qcontext", "gb", NULL);
    GMainContext *ga = glib_qcontext_get_main_context(a);
    IdleProbe pa = {0}, pb = {0};

    g_assert_nonnull(ga);
    g_assert_true(ga != g_main_context_default());
    g_assert_true(ga != glib_qcontext_get_main_context(b));

    /* a's GSource runs when a iterates, not when b or main do */
    attach_idle(ga, &pa);
    qctx_flush(b);
    qctx_flush(qcontext_get_main());
    g_assert_cmpint(ts_get(&pa.ran), ==, 0);
    g_assert_true(qcontext_iterate(a, FALSE));
    g_assert_cmpint(ts_get(&pa.ran), ==, 1);
    g_assert_cmpint(ts_get(&pa.tid), ==, gettid());
    qctx_del("gb");
    qctx_del("ga");

    /* threaded: the GSource runs on qctx/gt's thread */
    a = qctx_new("glib-qcontext", "gt", "threaded=yes");
    attach_idle(glib_qcontext_get_main_context(a), &pb);
    g_main_context_wakeup(glib_qcontext_get_main_context(a));
    g_assert_true(ts_wait_ge(&pb.ran, 1));
    g_assert_cmpint(ts_get(&pb.tid), ==, qcontext_get_thread_id(a));
    g_assert_cmpint(ts_get(&pb.tid), !=, gettid());
    qctx_del("gt");

    /* only glib-qcontexts have one */
    if (qctx_type_available("aio-qcontext")) {
        QContext *io = qctx_new("aio-qcontext", "aio9", NULL);
        g_assert_null(glib_qcontext_get_main_context(io));
        qctx_del("aio9");
    }
}

static void test_cpulist(void)
{
    g_autoptr(GError) err = NULL;
    GArray *cpus = qcontext_parse_cpulist("3,0,2-3,7", &err);
    g_autofree char *s = NULL;

    g_assert_no_error(err);
    g_assert_cmpint(cpus->len, ==, 4);
    s = qcontext_format_cpulist(cpus);
    g_assert_cmpstr(s, ==, "0,2-3,7");
    g_array_unref(cpus);
    for (guint i = 0; i < 5; i++) {
        const char *bad[] = {"", "1-", "-1", "a", "1,,2"};
        g_assert_null(qcontext_parse_cpulist(bad[i], &err));
        g_assert_error(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE);
        g_clear_error(&err);
    }
}

/*
 * "main" is reserved for qcontext_init_main(): a user object cannot take it,
 * even before the main context exists (run in a fresh process, which does
 * not create it at start).  Nothing creates it behind the caller's back:
 * looking it up before qcontext_init_main() finds nothing.
 */
static void test_main_reserved(void)
{
    if (g_test_subprocess()) {
        char *msg;

        g_assert_null(qcontext_get_main());
        g_assert_null(qcontext_find_by_name("main"));
        g_assert_null(qom_container_find(QOM_CONTAINER_OBJECTS, "main"));
        msg = qctx_new_error("glib-qcontext,id=main");
        g_assert_cmpstr(msg, ==, "id 'main' is reserved for the main loop's context");
        g_free(msg);
        g_assert_null(qom_container_find(QOM_CONTAINER_OBJECTS, "main"));
        /* ... and the real one is still a glib-qcontext on the default loop */
        g_assert_true(qcontext_init_main(NULL));
        g_assert_true(glib_qcontext_get_main_context(qcontext_get_main()) ==
                      g_main_context_default());
        g_assert_true(qcontext_find_by_name("main") == qcontext_get_main());
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qcontext_register_types();
    if (!g_test_subprocess()) {
        g_assert_true(qcontext_init_main(NULL)); /* as qcontextd does first */
    }

    g_test_add_func("/qcontext/qsource/init", test_qsource_init);
    g_test_add_func("/qcontext/errors", test_errors);
    g_test_add_func("/qcontext/main", test_main);
    g_test_add_func("/qcontext/main-reserved", test_main_reserved);
    g_test_add_func("/qcontext/glib-qcontext/main-context", test_glib_main_context);
    g_test_add_func("/qcontext/cpulist", test_cpulist);
    for (guint i = 0; i < G_N_ELEMENTS(qctx_test_types); i++) {
        const char *t = qctx_test_types[i];
        static const struct {
            const char *name;
            GTestDataFunc fn;
        } cases[] = {
            {"init", test_init},
            {"attach", test_attach},
            {"iterate", test_iterate},
            {"prepare-ready", test_prepare_ready},
            {"poll-fds-attached", test_poll_fds_attached},
            {"dispatch-remove", test_dispatch_remove},
            {"delete-in-dispatch", test_delete_in_dispatch},
        };
        for (guint j = 0; j < G_N_ELEMENTS(cases); j++) {
            g_autofree char *path =
                g_strdup_printf("/qcontext/%s/%s", t, cases[j].name);
            g_test_add_data_func(path, t, cases[j].fn);
        }
    }
    return g_test_run();
}

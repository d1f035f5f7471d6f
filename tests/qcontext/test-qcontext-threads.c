/*
 * tests/qcontext/test-qcontext-threads.c - threaded contexts: start/stop
 * cycles without leaks, sources attached and detached from another thread
 * while the context runs, poll fds changed while running, thread names,
 * CPU affinity, BHs from other threads on the context's AioContext, whose
 * thread is this (qcontext_current, qcontext_in_thread), and deleting a
 * context from its own thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include <sched.h>
#include <string.h>

#include "qctx-test.h"

#define START_STOP_CYCLES 1000
#define ATTACH_CYCLES 1000

static int ctx_serial;

static gboolean skip_unavailable(const char *type)
{
    if (!qctx_type_available(type)) {
        g_test_skip("type not built yet");
        return TRUE;
    }
    return FALSE;
}

static QContext *new_threaded(const char *type, char **id, const char *extra)
{
    g_autofree char *opts =
        g_strdup_printf("threaded=yes%s%s", extra ? "," : "", extra ? extra : "");

    *id = g_strdup_printf("th%d", ++ctx_serial);
    return qctx_new(type, *id, opts);
}

/* Start and stop a threaded context many times: no thread or fd leaks. */
static void test_start_stop(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    g_autoptr(GError) err = NULL;
    QContext *ctx;
    int fds, tasks;

    if (skip_unavailable(type)) {
        return;
    }
    ctx = new_threaded(type, &id, NULL);
    g_assert_true(qcontext_is_threaded(ctx));
    g_assert_true(qcontext_is_running(ctx));
    g_assert_cmpint(qcontext_get_thread_id(ctx), >, 0);
    g_assert_false(qcontext_in_thread(ctx));
    qcontext_stop(ctx);
    g_assert_false(qcontext_is_running(ctx));
    g_assert_cmpint(qcontext_get_thread_id(ctx), ==, 0);

    fds = qctx_count_dir("/proc/self/fd");
    tasks = qctx_count_tasks_settled();
    for (int i = 0; i < START_STOP_CYCLES; i++) {
        g_assert_true(qcontext_start(ctx, &err));
        g_assert_no_error(err);
        g_assert_true(qcontext_start(ctx, NULL)); /* idempotent */
        g_assert_cmpint(qcontext_get_thread_id(ctx), >, 0);
        qcontext_stop(ctx);
        qcontext_stop(ctx); /* idempotent */
    }
    g_assert_cmpint(qctx_count_dir("/proc/self/fd"), ==, fds);
    qctx_assert_tasks(tasks);

    /* deleting a running context stops its thread */
    g_assert_true(qcontext_start(ctx, NULL));
    qctx_assert_tasks(tasks + 1);
    qctx_del(id);
    qctx_assert_tasks(tasks);
}

static gpointer start_stop_hammer(gpointer opaque)
{
    QContext *ctx = opaque;

    for (int i = 0; i < 200; i++) {
        if (i % 2) {
            qcontext_stop(ctx);
        } else {
            g_assert_true(qcontext_start(ctx, NULL));
        }
    }
    return NULL;
}

/* Start and stop from several threads at once: always a consistent state. */
static void test_start_stop_concurrent(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    GThread *threads[3];
    QContext *ctx;
    int tasks;

    if (skip_unavailable(type)) {
        return;
    }
    ctx = new_threaded(type, &id, NULL);
    tasks = qctx_count_tasks_settled();
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
        threads[i] = g_thread_new("hammer", start_stop_hammer, ctx);
    }
    for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
        g_thread_join(threads[i]);
    }
    /* each hammer ended with a stop, but another may have started it since */
    qcontext_stop(ctx);
    g_assert_false(qcontext_is_running(ctx));
    qctx_assert_tasks(tasks - 1);
    g_assert_true(qcontext_start(ctx, NULL));
    g_assert_true(qcontext_is_running(ctx));
    qctx_del(id);
}

/* A non-threaded context has no thread to start. */
static void test_start_unthreaded(void)
{
    g_autoptr(GError) err = NULL;
    QContext *ctx = qctx_new("glib-qcontext", "plain0", NULL);

    g_assert_false(qcontext_start(ctx, &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_FAILED);
    qcontext_stop(ctx); /* no-op */
    qctx_del("plain0");
}

typedef struct {
    QContext *ctx;
    int stop;
    int cycles;
} StressArgs;

/* Attach and detach a busy source from another thread while the context
 * dispatches it: dispatches only on the context thread, none after detach. */
static void test_attach_detach(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    TestSource *ts = ts_new("busy");
    QContext *ctx;
    int waited = 0;

    if (skip_unavailable(type)) {
        ts_free(ts);
        return;
    }
    ctx = new_threaded(type, &id, NULL);
    ts_set(&ts->expect_tid, qcontext_get_thread_id(ctx));
    ts->clear_on_dispatch = 0; /* level-triggered: it fires all the time */
    ts->dispatch_delay_us = 20;
    event_notifier_set(&ts->en);

    for (int i = 0; i < ATTACH_CYCLES; i++) {
        int before = ts_get(&ts->dispatch_count);
        ts_set(&ts->detached_flag, 0);
        g_assert_true(qcontext_attach(ctx, ts->src, NULL));
        if (i % 4 == 0) {
            /* sometimes let it run before detaching */
            g_assert_true(ts_wait_ge(&ts->dispatch_count, before + 1));
            waited++;
        }
        g_assert_true(qcontext_detach(ctx, ts->src, NULL));
        ts_set(&ts->detached_flag, 1);
        g_assert_null(qsource_get_context(ts->src));
        if (i % 16 == 0) {
            g_usleep(100); /* a window for a late dispatch to show up */
        }
    }
    g_assert_cmpint(ts_get(&ts->wrong_thread), ==, 0);
    g_assert_cmpint(ts_get(&ts->after_detach), ==, 0);
    g_assert_cmpint(ts_get(&ts->dispatch_count), >=, waited);

    /* a dispatch that removes itself, on the context thread */
    ts_set(&ts->remove_on_dispatch, 1);
    ts_set(&ts->detached_flag, 0);
    int before = ts_get(&ts->dispatch_count);
    g_assert_true(qcontext_attach(ctx, ts->src, NULL));
    g_assert_true(ts_wait_ge(&ts->dispatch_count, before + 1));
    for (int i = 0; i < 10000 && qsource_get_context(ts->src); i++) {
        g_usleep(100);
    }
    g_assert_null(qsource_get_context(ts->src));
    g_assert_cmpint(ts_get(&ts->dispatch_count), ==, before + 1);

    qctx_del(id);
    ts_free(ts);
}

/* Poll fds added and removed from another thread while the context runs. */
static void test_poll_fds_running(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    TestSource *ts = ts_new("fds");
    QContext *ctx;

    if (skip_unavailable(type)) {
        ts_free(ts);
        return;
    }
    ctx = new_threaded(type, &id, NULL);
    qsource_remove_poll(ts->src, &ts->pfd);
    g_assert_true(qcontext_attach(ctx, ts->src, NULL));

    for (int i = 0; i < 100; i++) {
        int before = ts_get(&ts->dispatch_count);
        event_notifier_set(&ts->en);
        qsource_add_poll(ts->src, &ts->pfd);
        g_assert_true(ts_wait_ge(&ts->dispatch_count, before + 1));
        qsource_remove_poll(ts->src, &ts->pfd);
        /* make sure the dispatch cleared it, then signal with no fd watched */
        event_notifier_test_and_clear(&ts->en);
        before = ts_get(&ts->dispatch_count);
        event_notifier_set(&ts->en);
        qcontext_notify(ctx);
        g_usleep(i % 10 == 0 ? 1000 : 10);
        g_assert_cmpint(ts_get(&ts->dispatch_count), ==, before);
        event_notifier_test_and_clear(&ts->en);
    }
    qctx_del(id);
    ts_free(ts);
}

/* The thread is named qctx/<id>, cut to the kernel's 15 characters. */
static void test_thread_name(gconstpointer data)
{
    const char *type = data;
    g_autofree char *path = NULL, *comm = NULL;
    QContext *ctx;

    if (skip_unavailable(type)) {
        return;
    }
    ctx = qctx_new(type, "io0", "threaded=yes");
    path = g_strdup_printf("/proc/self/task/%d/comm", qcontext_get_thread_id(ctx));
    g_assert_true(g_file_get_contents(path, &comm, NULL, NULL));
    g_assert_cmpstr(g_strchomp(comm), ==, "qctx/io0");
    qctx_del("io0");
    g_clear_pointer(&path, g_free);
    g_clear_pointer(&comm, g_free);

    ctx = qctx_new(type, "a-rather-long-context-id", "threaded=yes");
    path = g_strdup_printf("/proc/self/task/%d/comm", qcontext_get_thread_id(ctx));
    g_assert_true(g_file_get_contents(path, &comm, NULL, NULL));
    g_assert_cmpstr(g_strchomp(comm), ==, "qctx/a-rather-l");
    qctx_del("a-rather-long-context-id");
}

/* cpu-affinity binds the context thread. */
static void test_affinity(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    cpu_set_t mine, set;
    int cpu = -1;
    QContext *ctx;

    if (skip_unavailable(type)) {
        return;
    }
    /* pick a CPU this process may use */
    g_assert_cmpint(sched_getaffinity(0, sizeof(mine), &mine), ==, 0);
    for (int c = CPU_SETSIZE - 1; c >= 0; c--) {
        if (CPU_ISSET(c, &mine)) {
            cpu = c;
        }
    }
    g_assert_cmpint(cpu, >=, 0);
    g_autofree char *opt = g_strdup_printf("cpu-affinity=%d", cpu);
    ctx = new_threaded(type, &id, opt);
    g_assert_cmpint(sched_getaffinity(qcontext_get_thread_id(ctx), sizeof(set), &set),
                    ==, 0);
    g_assert_cmpint(CPU_COUNT(&set), ==, 1);
    g_assert_true(CPU_ISSET(cpu, &set));
    g_autofree char *back =
        qom_property_to_string(QOM_OBJECT(ctx), "cpu-affinity", NULL);
    g_assert_cmpstr(back, ==, opt + strlen("cpu-affinity="));
    qctx_del(id);
}

typedef struct {
    QContext *ctx;
    int ran;
    int tid;
    int in_thread;
    QContext *current;
} BHProbe;

static void bh_probe(void *opaque)
{
    BHProbe *p = opaque;

    p->tid = gettid();
    p->in_thread = qcontext_in_thread(p->ctx);
    p->current = qcontext_current();
    /* Release pairs with the acquire in ts_wait_ge()'s load (seq_cst). */
    __atomic_store_n(&p->ran, 1, __ATOMIC_SEQ_CST);
}

static gpointer bh_scheduler(gpointer opaque)
{
    BHProbe *p = opaque;

    aio_bh_schedule_oneshot(qcontext_get_aio_context(p->ctx), bh_probe, p);
    return NULL;
}

/* A BH scheduled from another thread runs on the context thread. */
static void test_bh_other_thread(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    BHProbe p = {0};

    if (skip_unavailable(type)) {
        return;
    }
    p.ctx = new_threaded(type, &id, NULL);
    for (int i = 0; i < 20; i++) {
        p.ran = 0;
        g_thread_join(g_thread_new("bh-scheduler", bh_scheduler, &p));
        g_assert_true(ts_wait_ge(&p.ran, 1));
        g_assert_cmpint(p.tid, ==, qcontext_get_thread_id(p.ctx));
        g_assert_true(p.in_thread);
        g_assert_true(p.current == p.ctx);
    }
    qctx_del(id);
}

/*
 * The context thread stops its own context while another thread is in
 * qcontext_stop() (holding the state lock and joining it): the self-stop
 * must not wait for that lock, or both threads wait for each other.
 */
typedef struct {
    QContext *ctx;
    int entered;  /* atomic: the BH runs */
    int returned; /* atomic: its qcontext_stop() returned */
} SelfStop;

static void self_stop_bh(void *opaque)
{
    SelfStop *s = opaque;

    ts_set(&s->entered, 1);
    /* Wait until the other thread's qcontext_stop() cleared "running". */
    while (qcontext_is_running(s->ctx)) {
        sched_yield();
    }
    qcontext_stop(s->ctx);
    ts_set(&s->returned, 1);
}

static void test_stop_self_concurrent(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    SelfStop s = {0};

    if (skip_unavailable(type)) {
        return;
    }
    s.ctx = new_threaded(type, &id, NULL);
    aio_bh_schedule_oneshot(qcontext_get_aio_context(s.ctx), self_stop_bh, &s);
    g_assert_true(ts_wait_ge(&s.entered, 1));
    qcontext_stop(s.ctx); /* joins the thread: hangs if the BH's stop blocks */
    g_assert_cmpint(ts_get(&s.returned), ==, 1);
    g_assert_false(qcontext_is_running(s.ctx));
    qctx_del(id);
}

/*
 * After qcontext_detach() returns, the context no longer writes the
 * source's poll fds (their revents), even if its current iteration took
 * the source before the detach.  Source "gate" is checked before "fd" in
 * each iteration; its check blocks while the test detaches "fd".
 */
typedef struct {
    int armed;   /* atomic: block in the next check */
    int blocked; /* atomic: a check is blocked */
    int release; /* atomic: let it go */
    int checks;  /* atomic: checks done */
} Gate;

static gboolean gate_check(QSource *src)
{
    Gate *g = qsource_get_opaque(src);

    if (ts_get(&g->armed)) {
        ts_set(&g->armed, 0);
        ts_set(&g->blocked, 1);
        while (!ts_get(&g->release)) {
            sched_yield();
        }
    }
    ts_inc(&g->checks);
    return FALSE;
}

static const QSourceFuncs gate_funcs = {.check = gate_check};

#define REVENTS_SENTINEL 0x4000

static void test_detach_no_revents_write(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL;
    TestSource *ts = ts_new("fd");
    Gate g = {0};
    QSource *gate = qsource_new(&gate_funcs, NULL, "gate", &g);
    QContext *ctx;
    int checks;

    if (skip_unavailable(type)) {
        qsource_unref(gate);
        ts_free(ts);
        return;
    }
    ctx = new_threaded(type, &id, NULL);
    ts->clear_on_dispatch = 0; /* stays readable: revents G_IO_IN each round */
    event_notifier_set(&ts->en);
    g_assert_true(qcontext_attach(ctx, gate, NULL));
    g_assert_true(qcontext_attach(ctx, ts->src, NULL));
    g_assert_true(ts_wait_ge(&ts->dispatch_count, 1));

    ts_set(&g.armed, 1);
    g_assert_true(ts_wait_ge(&g.blocked, 1)); /* mid-check, "fd" still to come */
    g_assert_true(qcontext_detach(ctx, ts->src, NULL));
    ts->pfd.revents = REVENTS_SENTINEL; /* ours again: the context must not touch it */
    checks = ts_get(&g.checks);
    ts_set(&g.release, 1);
    g_assert_true(ts_wait_ge(&g.checks, checks + 1));
    qcontext_notify(ctx); /* one more round: the blocked one is over */
    g_assert_true(ts_wait_ge(&g.checks, checks + 2));
    g_assert_cmpint(ts->pfd.revents, ==, REVENTS_SENTINEL);

    g_assert_true(qcontext_detach(ctx, gate, NULL));
    qctx_del(id);
    qsource_unref(gate);
    ts_free(ts);
}

/*
 * Deleting a context from its own thread (here from a BH it runs) would
 * free it under its running loop: refused with an error, and the context
 * keeps running; from another thread the deletion then works.
 */
typedef struct {
    const char *id;
    int done;    /* atomic */
    int deleted; /* whether qom_container_del() returned TRUE */
    char msg[160];
} SelfDelete;

static void self_delete_bh(void *opaque)
{
    SelfDelete *d = opaque;
    GError *err = NULL;

    d->deleted = qom_container_del(QOM_CONTAINER_OBJECTS, d->id, &err);
    if (err) {
        g_strlcpy(d->msg, err->message, sizeof(d->msg));
        g_error_free(err);
    }
    ts_set(&d->done, 1); /* seq_cst: publishes deleted and msg */
}

static void test_delete_self(gconstpointer data)
{
    const char *type = data;
    g_autofree char *id = NULL, *want = NULL;
    SelfDelete d = {0};
    QContext *ctx;

    if (skip_unavailable(type)) {
        return;
    }
    ctx = new_threaded(type, &id, NULL);
    d.id = id;
    aio_bh_schedule_oneshot(qcontext_get_aio_context(ctx), self_delete_bh, &d);
    g_assert_true(ts_wait_ge(&d.done, 1));
    g_assert_false(d.deleted);
    want = g_strdup_printf("context '%s' cannot be deleted from its own thread", id);
    g_assert_cmpstr(d.msg, ==, want);
    g_assert_true(qcontext_find_by_name(id) == ctx);
    g_assert_true(qcontext_is_running(ctx));
    qctx_del(id);
}

/* Whose thread is this: main's on the main thread, nobody's on a plain one. */
typedef struct {
    QContext *current;
    gboolean in_main;
    int main_tid;
} PlainProbe;

static gpointer plain_probe(gpointer opaque)
{
    PlainProbe *p = opaque;

    p->current = qcontext_current();
    p->in_main = qcontext_in_thread(qcontext_get_main());
    p->main_tid = qcontext_get_thread_id(qcontext_get_main());
    return NULL;
}

static void test_current(void)
{
    PlainProbe p = {0};

    g_assert_true(qcontext_current() == qcontext_get_main());
    g_assert_true(qcontext_in_thread(qcontext_get_main()));
    g_thread_join(g_thread_new("plain", plain_probe, &p));
    g_assert_null(p.current);
    g_assert_false(p.in_main);
    g_assert_cmpint(p.main_tid, ==, getpid());
}

static gpointer iterate_main(gpointer opaque)
{
    return GINT_TO_POINTER(qcontext_iterate(qcontext_get_main(), FALSE));
}

/* Only a context's own thread may iterate it (a critical elsewhere). */
static void test_iterate_foreign(void)
{
    if (g_test_subprocess()) {
        g_thread_join(g_thread_new("foreign", iterate_main, NULL));
        return;
    }
    g_test_trap_subprocess(NULL, 5 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*context 'main' belongs to another thread*");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(NULL)); /* this is the main thread */

    g_test_add_func("/qcontext/thread/start-unthreaded", test_start_unthreaded);
    g_test_add_func("/qcontext/thread/current", test_current);
    g_test_add_func("/qcontext/thread/iterate-foreign", test_iterate_foreign);
    for (guint i = 0; i < G_N_ELEMENTS(qctx_test_types); i++) {
        const char *t = qctx_test_types[i];
        static const struct {
            const char *name;
            GTestDataFunc fn;
        } cases[] = {
            {"start-stop", test_start_stop},
            {"start-stop-concurrent", test_start_stop_concurrent},
            {"attach-detach", test_attach_detach},
            {"poll-fds-running", test_poll_fds_running},
            {"thread-name", test_thread_name},
            {"affinity", test_affinity},
            {"bh-other-thread", test_bh_other_thread},
            {"stop-self-concurrent", test_stop_self_concurrent},
            {"detach-no-revents-write", test_detach_no_revents_write},
            {"delete-self", test_delete_self},
        };
        for (guint j = 0; j < G_N_ELEMENTS(cases); j++) {
            g_autofree char *path =
                g_strdup_printf("/qcontext/%s/thread/%s", t, cases[j].name);
            g_test_add_data_func(path, t, cases[j].fn);
        }
    }
    return g_test_run();
}

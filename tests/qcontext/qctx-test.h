/*
 * tests/qcontext/qctx-test.h - helpers shared by the qcontext tests: a
 * counting QSource watching an eventfd, context creation by type, and
 * process resource counts (fds, threads).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_QCTX_TEST_H
#define TESTS_QCTX_TEST_H

#include <dirent.h>
#include <sched.h>
#include <unistd.h>

#include "qcontext/aio/aio.h"
#include "qcontext/qcontext.h"
#include "qcontext/glib-qcontext.h"

#ifdef __SANITIZE_THREAD__
/*
 * GLib (2.74) locks a GMainContext with futex-based GMutexes, which
 * ThreadSanitizer does not see; GLib hands its own allocations (poll
 * records, source lists) between threads under those locks, so TSan
 * reports the malloc/free inside libglib as races.  Ignore what GLib's
 * interceptor calls do; our own code is still checked (and synchronizes
 * with pthread primitives and atomics).
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "called_from_lib:libglib-2.0.so\n";
}
#endif

/* The context types every generic test runs on. */
static const char *const qctx_test_types[] = {"glib-qcontext", "aio-qcontext"};

/* A QSource counting its callbacks; its poll fd watches @en. */
typedef struct {
    QSource *src;
    EventNotifier en;
    GPollFD pfd;
    int prepare_count;      /* atomic */
    int check_count;        /* atomic */
    int dispatch_count;     /* atomic */
    int force_ready;        /* atomic: prepare returns TRUE */
    int prepare_timeout;    /* atomic: if >= 0, prepare lowers the timeout to it */
    int clear_on_dispatch;  /* dispatch clears the notifier */
    int remove_on_dispatch; /* atomic: dispatch returns G_SOURCE_REMOVE */
    int expect_tid;         /* atomic: dispatch must run on this thread (0: any) */
    int wrong_thread;       /* atomic: dispatches on another thread */
    int detached_flag;      /* atomic: set by the test right after detach */
    int after_detach;       /* atomic: dispatches seen with detached_flag set */
    int finalized;          /* set by finalize */
    int dispatch_delay_us;  /* dispatch takes that long (widens race windows) */
} TestSource;

static inline int ts_get(int *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void ts_set(int *p, int v)
{
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static inline void ts_inc(int *p)
{
    __atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST);
}

static inline gboolean ts_prepare(QSource *src, int *timeout)
{
    TestSource *ts = qsource_get_opaque(src);
    int t = ts_get(&ts->prepare_timeout);

    ts_inc(&ts->prepare_count);
    if (t >= 0 && (*timeout < 0 || t < *timeout)) {
        *timeout = t;
    }
    return ts_get(&ts->force_ready);
}

static inline gboolean ts_check(QSource *src)
{
    TestSource *ts = qsource_get_opaque(src);

    ts_inc(&ts->check_count);
    return (ts->pfd.revents & G_IO_IN) != 0;
}

static inline gboolean ts_dispatch(QSource *src)
{
    TestSource *ts = qsource_get_opaque(src);
    int tid = ts_get(&ts->expect_tid);

    if (ts_get(&ts->detached_flag)) {
        ts_inc(&ts->after_detach);
    }
    if (tid && tid != gettid()) {
        ts_inc(&ts->wrong_thread);
    }
    if (ts->clear_on_dispatch) {
        event_notifier_test_and_clear(&ts->en);
        ts->pfd.revents = 0; /* stays stale once the fd is no longer watched */
    }
    if (ts->dispatch_delay_us) {
        g_usleep(ts->dispatch_delay_us);
    }
    /* still attached at the end: detach must have waited for us */
    if (ts_get(&ts->detached_flag)) {
        ts_inc(&ts->after_detach);
    }
    ts_inc(&ts->dispatch_count);
    return ts_get(&ts->remove_on_dispatch) ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static inline void ts_finalize(QSource *src)
{
    TestSource *ts = qsource_get_opaque(src);

    ts->finalized++;
}

static const QSourceFuncs ts_funcs = {
    .prepare = ts_prepare,
    .check = ts_check,
    .dispatch = ts_dispatch,
    .finalize = ts_finalize,
};

/* A source named @name watching a fresh eventfd (its poll fd is added). */
static inline TestSource *ts_new(const char *name)
{
    TestSource *ts = g_new0(TestSource, 1);

    g_assert_cmpint(event_notifier_init(&ts->en, 0), ==, 0);
    ts->pfd.fd = event_notifier_get_fd(&ts->en);
    ts->pfd.events = G_IO_IN;
    ts->prepare_timeout = -1;
    ts->clear_on_dispatch = 1;
    ts->src = qsource_new(&ts_funcs, NULL, name, ts);
    qsource_add_poll(ts->src, &ts->pfd);
    return ts;
}

/* Drop the test's reference; the source must be finalized by then. */
static inline void ts_free(TestSource *ts)
{
    qsource_unref(ts->src);
    g_assert_cmpint(ts->finalized, ==, 1);
    event_notifier_cleanup(&ts->en);
    g_free(ts);
}

/* Create "TYPE,id=ID[,extra]" in the objects container, or fail the test. */
static inline QContext *qctx_new(const char *type, const char *id, const char *extra)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *opt =
        g_strdup_printf("%s,id=%s%s%s", type, id, extra ? "," : "", extra ? extra : "");
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE, opt, &err);

    g_assert_no_error(err);
    g_assert_nonnull(obj);
    return QCONTEXT_CONTEXT(obj);
}

/* Delete context @id (stops its thread). */
static inline void qctx_del(const char *id)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, id, &err));
    g_assert_no_error(err);
    g_assert_null(qcontext_find_by_name(id));
}

/* Try to create from @opt; returns the error message (g_free) or NULL. */
static inline char *qctx_new_error(const char *opt)
{
    g_autoptr(GError) err = NULL;
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE, opt, &err);

    if (obj) {
        return NULL;
    }
    g_assert_nonnull(err);
    return g_strdup(err->message);
}

/* Number of entries of a /proc directory (fds or tasks). */
static inline int qctx_count_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    g_assert_nonnull(d);
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - (g_str_equal(path, "/proc/self/fd") ? 1 : 0); /* opendir's own */
}

/*
 * Threads in /proc/self/task.  A joined thread leaves the directory a
 * moment after pthread_join() returns (the kernel releases the task after
 * clearing its tid), so counts are taken once they settle.
 */
static inline int qctx_count_tasks_settled(void)
{
    int last = qctx_count_dir("/proc/self/task");

    for (int i = 0; i < 100; i++) {
        int now;

        g_usleep(5000);
        now = qctx_count_dir("/proc/self/task");
        if (now == last) {
            return now;
        }
        last = now;
    }
    return last;
}

/* Assert that the task count reaches @expected within 2 s. */
#define qctx_assert_tasks(expected)                                                    \
    do {                                                                               \
        int want_ = (expected), have_ = qctx_count_dir("/proc/self/task");             \
        for (int i_ = 0; i_ < 400 && have_ != want_; i_++) {                           \
            g_usleep(5000);                                                            \
            have_ = qctx_count_dir("/proc/self/task");                                 \
        }                                                                              \
        g_assert_cmpint(have_, ==, want_);                                             \
    } while (0)

/* Wait until *@p >= @v (up to 10 s); returns whether it got there. */
static inline gboolean ts_wait_ge(int *p, int v)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (ts_get(p) < v) {
        if (g_get_monotonic_time() > end) {
            return FALSE;
        }
        sched_yield();
        g_usleep(50);
    }
    return TRUE;
}

/* Run non-blocking iterations until nothing is dispatched (max 100). */
static inline void qctx_flush(QContext *ctx)
{
    for (int i = 0; i < 100 && qcontext_iterate(ctx, FALSE); i++) {
    }
}

/* Is @type available in this build (aio-qcontext comes in a later phase)? */
static inline gboolean qctx_type_available(const char *type)
{
    return qom_type_lookup(type) != G_TYPE_INVALID;
}

#endif /* TESTS_QCTX_TEST_H */

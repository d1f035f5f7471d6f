/*
 * tests/qcontext/test-qsource-events.c - what a QSource is told, the same on
 * every context type: a source ready at prepare that is attached to an idle
 * threaded context runs without any other wakeup; a poll fd whose number is
 * reused (closed and reopened inside dispatch) keeps being watched;
 * G_IO_HUP/G_IO_ERR reach the source; a hung-up fd watched only by io_poll
 * does not make the loop spin.
 *
 * Each case runs on glib-qcontext and on aio-qcontext with each fd monitor.
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "qctx-test.h"

/* A context type and its options: "glib-qcontext", or "aio-qcontext,fdmon=X". */
typedef struct {
    const char *type;
    const char *opts; /* extra options, or NULL */
} CtxKind;

static const CtxKind kinds[] = {
    {"glib-qcontext", NULL},
    {"aio-qcontext", "fdmon=epoll"},
    {"aio-qcontext", "fdmon=poll"},
    {"aio-qcontext", "fdmon=io_uring"},
};

static int ctx_serial;

/* A new context of @k (threaded or not); *@id gets its id. */
static QContext *kind_new(const CtxKind *k, gboolean threaded, char **id)
{
    g_autofree char *opts =
        g_strdup_printf("%s%s%s", threaded ? "threaded=yes" : "threaded=no",
                        k->opts ? "," : "", k->opts ? k->opts : "");
    GLogLevelFlags fatal;
    QContext *ctx;

    *id = g_strdup_printf("ev%d", ++ctx_serial);
    /* io_uring may be refused by the kernel: the context warns, uses epoll */
    fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    ctx = qctx_new(k->type, *id, opts);
    g_log_set_always_fatal(fatal);
    return ctx;
}

/* ------------------------------------------------------------------------ */
/* A source ready at prepare, attached to an idle threaded context          */
/* ------------------------------------------------------------------------ */

#define ATTACHES 400

static gboolean ready_prepare(QSource *src, int *timeout)
{
    return TRUE;
}

static gboolean count_once_dispatch(QSource *src)
{
    ts_inc(qsource_get_opaque(src));
    return G_SOURCE_REMOVE;
}

static const QSourceFuncs ready_funcs = {
    .prepare = ready_prepare,
    .dispatch = count_once_dispatch,
};

/* Wait until *@p >= @v for at most @ms milliseconds. */
static gboolean wait_ge_ms(int *p, int v, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (ts_get(p) < v) {
        if (g_get_monotonic_time() > end) {
            return FALSE;
        }
        g_usleep(20);
    }
    return TRUE;
}

/*
 * The attach itself must wake the context: nothing else does here.  (GLib
 * wakes the context inside g_source_attach(), before the QSource binding is
 * live; the context thread then prepared the source with the old
 * generation, which is refused, and slept with no timeout.)
 */
static void test_attach_wakes(gconstpointer data)
{
    const CtxKind *k = data;
    g_autofree char *id = NULL;
    QContext *ctx = kind_new(k, TRUE, &id);
    int dispatched = 0;

    for (int i = 0; i < ATTACHES; i++) {
        QSource *src = qsource_new(&ready_funcs, NULL, "ready", &dispatched);

        g_assert_true(qcontext_attach(ctx, src, NULL));
        if (!wait_ge_ms(&dispatched, i + 1, 1000)) {
            g_error("attach %d of %d: not dispatched within 1 s", i + 1, ATTACHES);
        }
        qsource_unref(src); /* the binding keeps it until its dispatch detached it */
    }
    qctx_del(id);
}

/* ------------------------------------------------------------------------ */
/* A poll fd number reused inside dispatch (a reconnect)                     */
/* ------------------------------------------------------------------------ */

#define RECONNECTS 20

typedef struct {
    EventNotifier en;
    GPollFD pfd;
    int dispatched;  /* atomic */
    int same_number; /* reconnects whose new fd got the old number */
} Reconnect;

static gboolean reconnect_check(QSource *src)
{
    Reconnect *r = qsource_get_opaque(src);

    return (r->pfd.revents & G_IO_IN) != 0;
}

/*
 * Each dispatch drops its fd and opens a new one, which gets the same
 * number, and makes it readable at once: the context must watch the new
 * file although nothing about the number changed.
 */
static gboolean reconnect_dispatch(QSource *src)
{
    Reconnect *r = qsource_get_opaque(src);
    int old_fd = r->pfd.fd;

    if (ts_get(&r->dispatched) + 1 < RECONNECTS) {
        qsource_remove_poll(src, &r->pfd);
        event_notifier_cleanup(&r->en);
        g_assert_cmpint(event_notifier_init(&r->en, 0), ==, 0);
        r->pfd.fd = event_notifier_get_fd(&r->en);
        r->pfd.revents = 0;
        r->same_number += r->pfd.fd == old_fd;
        qsource_add_poll(src, &r->pfd);
        event_notifier_set(&r->en);
    } else {
        event_notifier_test_and_clear(&r->en);
    }
    ts_inc(&r->dispatched);
    return G_SOURCE_CONTINUE;
}

static const QSourceFuncs reconnect_funcs = {
    .check = reconnect_check,
    .dispatch = reconnect_dispatch,
};

static void test_fd_reuse(gconstpointer data)
{
    const CtxKind *k = data;
    g_autofree char *id = NULL;
    QContext *ctx = kind_new(k, TRUE, &id);
    Reconnect r = {0};
    QSource *src = qsource_new(&reconnect_funcs, NULL, "reconnect", &r);

    g_assert_cmpint(event_notifier_init(&r.en, 0), ==, 0);
    r.pfd = (GPollFD){.fd = event_notifier_get_fd(&r.en), .events = G_IO_IN};
    qsource_add_poll(src, &r.pfd);
    /* Set before the attach, which orders it before the dispatch that closes it. */
    event_notifier_set(&r.en);
    g_assert_true(qcontext_attach(ctx, src, NULL));
    for (int i = 1; i <= RECONNECTS; i++) {
        if (!wait_ge_ms(&r.dispatched, i, 2000)) {
            g_error("reconnect %d: the new fd was never dispatched", i - 1);
        }
    }
    g_assert_true(qcontext_detach(ctx, src, NULL));
    /* the case we meant: the numbers were reused (the context saw no change) */
    g_assert_cmpint(r.same_number, ==, RECONNECTS - 1);
    qsource_remove_poll(src, &r.pfd);
    qsource_unref(src);
    event_notifier_cleanup(&r.en);
    qctx_del(id);
}

/* ------------------------------------------------------------------------ */
/* G_IO_HUP and G_IO_ERR                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    GPollFD pfd;
    int seen; /* union of the revents the check saw */
} HupWatch;

static gboolean hup_check(QSource *src)
{
    HupWatch *w = qsource_get_opaque(src);

    w->seen |= w->pfd.revents;
    return w->pfd.revents != 0;
}

static gboolean hup_dispatch(QSource *src)
{
    return G_SOURCE_REMOVE; /* once is enough: it stays hung up */
}

static const QSourceFuncs hup_funcs = {
    .check = hup_check,
    .dispatch = hup_dispatch,
};

/* Watch @fd for @events on a fresh context of @k; return what check saw. */
static int watch_once(const CtxKind *k, int fd, int events)
{
    g_autofree char *id = NULL;
    QContext *ctx = kind_new(k, FALSE, &id);
    HupWatch w = {.pfd = {.fd = fd, .events = events}};
    QSource *src = qsource_new(&hup_funcs, NULL, "hup", &w);

    qsource_add_poll(src, &w.pfd);
    g_assert_true(qcontext_attach(ctx, src, NULL));
    for (int i = 0; i < 100 && !w.seen; i++) {
        qcontext_iterate(ctx, TRUE); /* returns at once: the fd is ready */
    }
    qcontext_detach(ctx, src, NULL); /* usually detached by its dispatch already */
    qsource_remove_poll(src, &w.pfd);
    qsource_unref(src);
    qctx_del(id);
    return w.seen;
}

/*
 * The read end of a pipe whose writer is gone reports HUP; the write end of
 * a pipe whose reader is gone reports ERR.  A source watching them for
 * G_IO_IN/G_IO_OUT is told so on every context type, as GLib tells it.
 */
static void test_hup_err(gconstpointer data)
{
    const CtxKind *k = data;
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC | O_NONBLOCK), ==, 0);
    close(p[1]);
    g_assert_cmpint(watch_once(k, p[0], G_IO_IN) & G_IO_HUP, ==, G_IO_HUP);
    close(p[0]);

    g_assert_cmpint(pipe2(p, O_CLOEXEC | O_NONBLOCK), ==, 0);
    close(p[0]);
    g_assert_cmpint(watch_once(k, p[1], G_IO_OUT) & G_IO_ERR, ==, G_IO_ERR);
    close(p[1]);
}

/* ------------------------------------------------------------------------ */
/* io_poll only, on a hung-up fd                                             */
/* ------------------------------------------------------------------------ */

#define SPIN_WINDOW_MS 100
#define SPIN_MAX_ITERATIONS 20

static bool never_ready(void *opaque)
{
    return false;
}

static void set_flag(void *opaque)
{
    *(int *)opaque = 1;
}

/*
 * A handler with only io_poll (no read or write handler) on a hung-up fd:
 * the fd monitor must not keep reporting the hang-up that nobody consumes.
 * A blocking iteration must sleep until the timer that ends the window, not
 * return at once again and again.
 */
static void test_io_poll_hup_sleeps(gconstpointer data)
{
    const CtxKind *k = data;
    g_autofree char *id = NULL;
    QContext *ctx = kind_new(k, FALSE, &id);
    AioContext *aio = qcontext_get_aio_context(ctx);
    QEMUTimer *timer;
    int fired = 0, iterations = 0;
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC | O_NONBLOCK), ==, 0);
    close(p[1]);
    aio_set_fd_handler(aio, p[0], NULL, NULL, never_ready, NULL, NULL);
    qctx_flush(ctx);

    timer = aio_timer_new(aio, QEMU_CLOCK_REALTIME, SCALE_MS, set_flag, &fired);
    timer_mod(timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + SPIN_WINDOW_MS);
    while (!fired && iterations < 100000) {
        qcontext_iterate(ctx, TRUE);
        iterations++;
    }
    g_test_message("%d iterations in %d ms", iterations, SPIN_WINDOW_MS);
    g_assert_cmpint(iterations, <=, SPIN_MAX_ITERATIONS);

    timer_free(timer);
    aio_set_fd_handler(aio, p[0], NULL, NULL, NULL, NULL, NULL);
    qctx_flush(ctx);
    close(p[0]);
    qctx_del(id);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(NULL));

    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
        static const struct {
            const char *name;
            GTestDataFunc fn;
        } cases[] = {
            {"attach-wakes", test_attach_wakes},
            {"fd-reuse", test_fd_reuse},
            {"hup-err", test_hup_err},
            {"io-poll-hup-sleeps", test_io_poll_hup_sleeps},
        };
        const CtxKind *k = &kinds[i];
        g_autofree char *kind = g_strdup_printf("%s%s%s", k->type, k->opts ? "-" : "",
                                                k->opts ? k->opts + 6 : "");

        for (guint j = 0; j < G_N_ELEMENTS(cases); j++) {
            g_autofree char *path =
                g_strdup_printf("/qsource-events/%s/%s", kind, cases[j].name);
            g_test_add_data_func(path, k, cases[j].fn);
        }
    }
    return g_test_run();
}

/*
 * bench/bench-idle.c - the cost of one non-blocking loop iteration with
 * 1, 16, 64 and 256 registered fds of which none is ready.
 *
 * Columns, all on the calling thread with the same eventfds:
 *   aio        aio_poll(ctx, false), fds registered with aio_set_fd_handler()
 *   glib       g_main_context_iteration(ctx, FALSE), one g_unix_fd_source per
 *              fd (what g_unix_fd_add() gives a program with N handlers)
 *   glib-1src  same, one GSource holding all fds (g_source_add_unix_fd())
 *   epoll      epoll_wait(epfd, .., 0): the syscall floor of an epoll loop
 *   ppoll      ppoll(fds, n, {0, 0}): the syscall floor of a poll loop
 * Each value is the median over batches of ns per call; the five are set up
 * together and their batches interleaved (bench_time_calls()).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "bench.h"

static const int bench_idle_counts[] = {1, 16, 64, 256};

static gboolean idle_unix_fd_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    return G_SOURCE_CONTINUE;
}

static gboolean idle_one_src_dispatch(GSource *src, GSourceFunc cb, gpointer opaque)
{
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs idle_one_src_funcs = {
    .dispatch = idle_one_src_dispatch,
};

static void glib_iterate_once(void *opaque)
{
    g_main_context_iteration(opaque, FALSE);
}

/* @one_source: one GSource with all fds, otherwise one source per fd */
static GMainContext *idle_glib_new(const int *fds, int n, gboolean one_source)
{
    GMainContext *ctx = g_main_context_new();

    if (one_source) {
        GSource *one = g_source_new(&idle_one_src_funcs, sizeof(GSource));

        for (int i = 0; i < n; i++) {
            g_source_add_unix_fd(one, fds[i], G_IO_IN);
        }
        g_source_attach(one, ctx);
        g_source_unref(one);
        return ctx;
    }
    for (int i = 0; i < n; i++) {
        GSource *src = g_unix_fd_source_new(fds[i], G_IO_IN);

        g_source_set_callback(src, G_SOURCE_FUNC(idle_unix_fd_cb), NULL, NULL);
        g_source_attach(src, ctx);
        g_source_unref(src);
    }
    return ctx;
}

typedef struct {
    int epfd;
    struct epoll_event *events;
    struct pollfd *pfds;
    int n;
} SyscallFloor;

static void epoll_once(void *opaque)
{
    SyscallFloor *f = opaque;

    if (epoll_wait(f->epfd, f->events, f->n, 0) < 0) {
        g_warning("epoll_wait: %s", g_strerror(errno));
    }
}

static void ppoll_once(void *opaque)
{
    SyscallFloor *f = opaque;
    const struct timespec zero = {0, 0};

    if (ppoll(f->pfds, (nfds_t)f->n, &zero, NULL) < 0) {
        g_warning("ppoll: %s", g_strerror(errno));
    }
}

static void syscall_floor_init(SyscallFloor *f, const int *fds, int n)
{
    f->n = n;
    f->events = g_new0(struct epoll_event, n);
    f->pfds = g_new0(struct pollfd, n);
    f->epfd = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};

        if (f->epfd >= 0 && epoll_ctl(f->epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
            close(f->epfd);
            f->epfd = -1;
        }
        f->pfds[i].fd = fds[i];
        f->pfds[i].events = POLLIN;
    }
}

static void syscall_floor_clear(SyscallFloor *f)
{
    if (f->epfd >= 0) {
        close(f->epfd);
    }
    g_free(f->events);
    g_free(f->pfds);
}

enum { IDLE_AIO, IDLE_GLIB, IDLE_GLIB_ONE, IDLE_EPOLL, IDLE_PPOLL, IDLE_N };

/* all five set up on the same fds, timed in interleaved batches */
static void idle_measure_fds(BenchRun *run, const int *fds, int n, BenchIdleResult *r)
{
    GMainContext *glib = idle_glib_new(fds, n, FALSE);
    GMainContext *glib_one = idle_glib_new(fds, n, TRUE);
    GError *err = NULL;
    void *aio = bench_idle_aio_new(fds, n, &err);
    SyscallFloor f;
    BenchTimedCall calls[IDLE_N] = {
        [IDLE_AIO] = {aio ? bench_idle_aio_poll : NULL, aio},
        [IDLE_GLIB] = {glib_iterate_once, glib},
        [IDLE_GLIB_ONE] = {glib_iterate_once, glib_one},
        [IDLE_EPOLL] = {epoll_once, &f},
        [IDLE_PPOLL] = {ppoll_once, &f},
    };

    syscall_floor_init(&f, fds, n);
    if (f.epfd < 0) {
        calls[IDLE_EPOLL].fn = NULL;
    }
    bench_time_calls(calls, IDLE_N, run->opt.quick ? 5 : 11,
                     run->opt.quick ? 1000 : 3000);
    r->ok = aio != NULL;
    r->aio_ns = calls[IDLE_AIO].ns;
    r->glib_ns = calls[IDLE_GLIB].ns;
    r->glib_one_ns = calls[IDLE_GLIB_ONE].ns;
    r->epoll_ns = calls[IDLE_EPOLL].ns;
    r->ppoll_ns = calls[IDLE_PPOLL].ns;
    if (aio) {
        r->fdmon = g_strdup(bench_idle_aio_fdmon(aio));
        bench_idle_aio_free(aio);
    } else {
        r->error = g_strdup(err->message);
        g_clear_error(&err);
    }
    syscall_floor_clear(&f);
    /* unref destroys the sources still attached */
    g_main_context_unref(glib);
    g_main_context_unref(glib_one);
}

static void idle_measure(BenchRun *run, int n, BenchIdleResult *r)
{
    int *fds = g_new(int, n);
    int opened = 0;

    r->fds = n;
    for (; opened < n; opened++) {
        fds[opened] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fds[opened] < 0) {
            r->error =
                g_strdup_printf("Cannot create %d eventfds: %s", n, g_strerror(errno));
            break;
        }
    }
    if (opened == n) {
        idle_measure_fds(run, fds, n, r);
    }
    for (int i = 0; i < opened; i++) {
        close(fds[i]);
    }
    g_free(fds);
}

void bench_idle_run(BenchRun *run)
{
    run->idle = g_array_new(FALSE, TRUE, sizeof(BenchIdleResult));
    for (size_t i = 0; i < G_N_ELEMENTS(bench_idle_counts); i++) {
        BenchIdleResult r = {0};

        idle_measure(run, bench_idle_counts[i], &r);
        g_array_append_val(run->idle, r);
    }
}

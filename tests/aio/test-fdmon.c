/*
 * tests/aio/test-fdmon.c - EventNotifier semantics, and the same fd handler
 * tests for every fd monitor (epoll, io_uring, ppoll), driven by aio_poll()
 * directly and through the context's GSource.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <glib.h>
#include <liburing.h>

#include "qcontext/aio/aio.h"
#include "test-aio-loop.h"
#include "aio/aio-internal.h" /* white box: ctx->deleted_handlers */

/* ------------------------------------------------------------------------ */
/* EventNotifier                                                              */
/* ------------------------------------------------------------------------ */

static void test_notifier_semantics(void)
{
    EventNotifier e;

    g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
    g_assert_true(e.initialized);
    g_assert_cmpint(event_notifier_get_fd(&e), >=, 0);
    g_assert_cmpint(fcntl(event_notifier_get_fd(&e), F_GETFL) & O_NONBLOCK, !=, 0);
    g_assert_cmpint(fcntl(event_notifier_get_fd(&e), F_GETFD) & FD_CLOEXEC, !=, 0);

    g_assert_false(event_notifier_test_and_clear(&e));
    g_assert_cmpint(event_notifier_set(&e), ==, 0);
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_false(event_notifier_test_and_clear(&e));

    /* Several sets before a clear count as one. */
    g_assert_cmpint(event_notifier_set(&e), ==, 0);
    g_assert_cmpint(event_notifier_set(&e), ==, 0);
    g_assert_cmpint(event_notifier_set(&e), ==, 0);
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_false(event_notifier_test_and_clear(&e));

    event_notifier_cleanup(&e);
    g_assert_false(e.initialized);
    g_assert_cmpint(event_notifier_set(&e), ==, -EBADF);
    g_assert_false(event_notifier_test_and_clear(&e));
    event_notifier_cleanup(&e); /* twice is a no-op */
}

static void test_notifier_active_and_saturated(void)
{
    EventNotifier e;
    uint64_t almost_full = UINT64_MAX - 1;

    g_assert_cmpint(event_notifier_init(&e, 1), ==, 0);
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_false(event_notifier_test_and_clear(&e));

    /* A saturated counter makes write() fail with EAGAIN: still "set". */
    g_assert_cmpint(write(event_notifier_get_fd(&e), &almost_full, 8), ==, 8);
    g_assert_cmpint(event_notifier_set(&e), ==, 0);
    g_assert_cmpint(event_notifier_set(&e), ==, 0);
    g_assert_true(event_notifier_test_and_clear(&e));
    g_assert_false(event_notifier_test_and_clear(&e));
    event_notifier_cleanup(&e);
}

/* ------------------------------------------------------------------------ */
/* fd monitors                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    AioFdMonKind kind;
    bool use_gsource;
} FdMonCase;

static const FdMonCase cases[] = {
    {AIO_FDMON_EPOLL, false},   {AIO_FDMON_EPOLL, true}, {AIO_FDMON_IO_URING, false},
    {AIO_FDMON_IO_URING, true}, {AIO_FDMON_POLL, false}, {AIO_FDMON_POLL, true},
};

static const char *kind_name(AioFdMonKind kind)
{
    return kind == AIO_FDMON_EPOLL      ? "epoll"
           : kind == AIO_FDMON_IO_URING ? "io-uring"
                                        : "poll";
}

/* A context on @c's fd monitor, driven by @c's driver. */
static TestLoop *loop_new(const FdMonCase *c)
{
    TestLoop *l = test_loop_new(c->use_gsource ? DRIVER_GSOURCE : DRIVER_AIO_POLL);
    GError *err = NULL;

    g_assert_cmpint(aio_context_get_fdmon(l->ctx), ==, AIO_FDMON_EPOLL);
    g_assert_true(aio_context_set_fdmon(l->ctx, c->kind, &err));
    g_assert_no_error(err);
    g_assert_cmpint(aio_context_get_fdmon(l->ctx), ==, c->kind);
    return l;
}

/* Non-blocking iterations until nothing more happens. */
static void loop_drain(TestLoop *l)
{
    for (int i = 0; i < 5; i++) {
        test_loop_iterate(l, false);
    }
}

typedef struct {
    EventNotifier e;
    int count;
    bool clear; /* test_and_clear in the handler (else stays readable) */
} Counter;

static void counter_read(EventNotifier *e)
{
    Counter *c = (Counter *)e;

    c->count++;
    if (c->clear) {
        g_assert_true(event_notifier_test_and_clear(e));
    }
}

static void counter_init(Counter *c)
{
    g_assert_cmpint(event_notifier_init(&c->e, 0), ==, 0);
    c->count = 0;
    c->clear = true;
}

static void test_readable_once(gconstpointer data)
{
    TestLoop *l = loop_new(data);
    Counter c;

    counter_init(&c);
    aio_set_event_notifier(l->ctx, &c.e, counter_read, NULL, NULL);
    loop_drain(l);
    g_assert_cmpint(c.count, ==, 0);

    event_notifier_set(&c.e);
    while (c.count == 0) {
        test_loop_iterate(l, true);
    }
    loop_drain(l);
    g_assert_cmpint(c.count, ==, 1);

    /* Again, after the handler cleared it. */
    event_notifier_set(&c.e);
    while (c.count == 1) {
        test_loop_iterate(l, true);
    }
    loop_drain(l);
    g_assert_cmpint(c.count, ==, 2);

    aio_set_event_notifier(l->ctx, &c.e, NULL, NULL, NULL);
    loop_drain(l);
    event_notifier_cleanup(&c.e);
    test_loop_free(l);
}

/* Level-triggered: a handler that does not clear runs on every iteration. */
static void test_level_triggered(gconstpointer data)
{
    TestLoop *l = loop_new(data);
    Counter c;

    counter_init(&c);
    c.clear = false;
    aio_set_event_notifier(l->ctx, &c.e, counter_read, NULL, NULL);
    event_notifier_set(&c.e);
    while (c.count < 3) {
        test_loop_iterate(l, true);
    }
    aio_set_event_notifier(l->ctx, &c.e, NULL, NULL, NULL);
    loop_drain(l);
    event_notifier_cleanup(&c.e);
    test_loop_free(l);
}

static void test_remove_no_dispatch(gconstpointer data)
{
    TestLoop *l = loop_new(data);
    Counter c;

    counter_init(&c);
    aio_set_event_notifier(l->ctx, &c.e, counter_read, NULL, NULL);
    loop_drain(l);
    event_notifier_set(&c.e);
    aio_set_event_notifier(l->ctx, &c.e, NULL, NULL, NULL);
    loop_drain(l);
    g_usleep(2000);
    loop_drain(l);
    g_assert_cmpint(c.count, ==, 0);

    /* Re-adding it dispatches the pending event. */
    aio_set_event_notifier(l->ctx, &c.e, counter_read, NULL, NULL);
    while (c.count == 0) {
        test_loop_iterate(l, true);
    }
    g_assert_cmpint(c.count, ==, 1);
    aio_set_event_notifier(l->ctx, &c.e, NULL, NULL, NULL);
    loop_drain(l);
    event_notifier_cleanup(&c.e);
    test_loop_free(l);
}

#define MANY 100

static int sum_counts(Counter *cs, int parity)
{
    int sum = 0;

    for (int i = parity; i < MANY; i += 2) {
        g_assert_cmpint(cs[i].count, <=, 1);
        sum += cs[i].count;
    }
    return sum;
}

static void test_many_fds(gconstpointer data)
{
    TestLoop *l = loop_new(data);
    Counter *cs = g_new0(Counter, MANY);

    for (int i = 0; i < MANY; i++) {
        counter_init(&cs[i]);
        aio_set_event_notifier(l->ctx, &cs[i].e, counter_read, NULL, NULL);
    }
    loop_drain(l);
    for (int i = 1; i < MANY; i += 2) {
        event_notifier_set(&cs[i].e);
    }
    while (sum_counts(cs, 1) < MANY / 2) {
        test_loop_iterate(l, true);
    }
    loop_drain(l);
    g_assert_cmpint(sum_counts(cs, 1), ==, MANY / 2);
    g_assert_cmpint(sum_counts(cs, 0), ==, 0);

    /* Remove the odd ones, set everything: only the even ones run. */
    for (int i = 1; i < MANY; i += 2) {
        aio_set_event_notifier(l->ctx, &cs[i].e, NULL, NULL, NULL);
    }
    for (int i = 0; i < MANY; i++) {
        event_notifier_set(&cs[i].e);
    }
    while (sum_counts(cs, 0) < MANY / 2) {
        test_loop_iterate(l, true);
    }
    loop_drain(l);
    g_assert_cmpint(sum_counts(cs, 0), ==, MANY / 2);
    g_assert_cmpint(sum_counts(cs, 1), ==, MANY / 2);

    for (int i = 0; i < MANY; i += 2) {
        aio_set_event_notifier(l->ctx, &cs[i].e, NULL, NULL, NULL);
    }
    loop_drain(l);
    for (int i = 0; i < MANY; i++) {
        event_notifier_cleanup(&cs[i].e);
    }
    g_free(cs);
    test_loop_free(l);
}

/* A pipe: io_write runs while writable, io_read once data arrives. */
typedef struct {
    int fds[2];
    int reads, writes;
    AioContext *ctx;
} PipeState;

static void pipe_read(void *opaque)
{
    PipeState *p = opaque;
    char buf[16];

    g_assert_cmpint(read(p->fds[0], buf, sizeof(buf)), ==, 1);
    p->reads++;
}

static void pipe_write(void *opaque)
{
    PipeState *p = opaque;

    g_assert_cmpint(write(p->fds[1], "x", 1), ==, 1);
    p->writes++;
    /* One write is enough: stop watching for writability. */
    aio_set_fd_handler(p->ctx, p->fds[1], NULL, NULL, NULL, NULL, NULL);
}

static void test_read_write(gconstpointer data)
{
    TestLoop *l = loop_new(data);
    PipeState p = {.ctx = l->ctx};

    g_assert_cmpint(pipe2(p.fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
    aio_set_fd_handler(l->ctx, p.fds[0], pipe_read, NULL, NULL, NULL, &p);
    aio_set_fd_handler(l->ctx, p.fds[1], NULL, pipe_write, NULL, NULL, &p);
    while (p.reads == 0) {
        test_loop_iterate(l, true);
    }
    loop_drain(l);
    g_assert_cmpint(p.writes, ==, 1);
    g_assert_cmpint(p.reads, ==, 1);
    aio_set_fd_handler(l->ctx, p.fds[0], NULL, NULL, NULL, NULL, NULL);
    loop_drain(l);
    close(p.fds[0]);
    close(p.fds[1]);
    test_loop_free(l);
}

/* Handlers registered before a switch of monitor keep working after it. */
static void test_switch_monitor(void)
{
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    static const AioFdMonKind order[] = {AIO_FDMON_IO_URING, AIO_FDMON_POLL,
                                         AIO_FDMON_EPOLL,    AIO_FDMON_POLL,
                                         AIO_FDMON_IO_URING, AIO_FDMON_EPOLL};
    Counter c;

    g_assert_no_error(err);
    counter_init(&c);
    aio_set_event_notifier(ctx, &c.e, counter_read, NULL, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        g_assert_true(aio_context_set_fdmon(ctx, order[i], &err));
        g_assert_no_error(err);
        g_assert_cmpint(aio_context_get_fdmon(ctx), ==, order[i]);
        event_notifier_set(&c.e);
        while (c.count == (int)i) {
            aio_poll(ctx, true);
        }
        g_assert_cmpint(c.count, ==, (int)i + 1);
    }
    aio_set_event_notifier(ctx, &c.e, NULL, NULL, NULL);
    aio_poll(ctx, false);
    event_notifier_cleanup(&c.e);
    aio_context_unref(ctx);
}

/*
 * io_uring may be refused by the kernel (seccomp, sysctl): then switching
 * must fail with an error and keep epoll.  This machine allows it, so the
 * probe decides which of the two behaviours is checked.
 */
static void test_io_uring_available_or_refused(void)
{
    struct io_uring ring;
    int ret = io_uring_queue_init(4, &ring, 0);
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);

    g_assert_no_error(err);
    if (ret == 0) {
        io_uring_queue_exit(&ring);
        g_assert_true(aio_context_set_fdmon(ctx, AIO_FDMON_IO_URING, &err));
        g_assert_no_error(err);
        g_assert_cmpint(aio_context_get_fdmon(ctx), ==, AIO_FDMON_IO_URING);
    } else {
        g_test_message("io_uring refused here: %s", g_strerror(-ret));
        g_assert_false(aio_context_set_fdmon(ctx, AIO_FDMON_IO_URING, &err));
        g_assert_error(err, AIO_ERROR, err->code);
        g_assert_cmpint(aio_context_get_fdmon(ctx), ==, AIO_FDMON_EPOLL);
        g_clear_error(&err);
        g_assert_false(aio_poll(ctx, false));
    }
    aio_context_unref(ctx);
}

/* Make io_uring_setup() fail with EPERM in this process (seccomp filter). */
static void refuse_io_uring(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = G_N_ELEMENTS(filter), .filter = filter};

    g_assert_cmpint(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), ==, 0);
    g_assert_cmpint(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), ==, 0);
}

static void refused_read_cb(EventNotifier *e)
{
    event_notifier_test_and_clear(e);
}

/*
 * The refusal path, whatever this machine allows: in a child process whose
 * io_uring_setup() fails (as under a seccomp policy or
 * kernel.io_uring_disabled), switching to io_uring fails with an error, the
 * context stays on epoll and its handlers and notify keep working.
 */
static void test_io_uring_refused(void)
{
    GError *err = NULL;
    EventNotifier e;
    AioContext *ctx;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        g_test_trap_assert_stdout("*io_uring refused, epoll kept*");
        return;
    }
    refuse_io_uring();
    ctx = aio_context_new(&err);
    g_assert_no_error(err);
    g_assert_cmpint(event_notifier_init(&e, 0), ==, 0);
    aio_set_event_notifier(ctx, &e, refused_read_cb, NULL, NULL);

    g_assert_false(aio_context_set_fdmon(ctx, AIO_FDMON_IO_URING, &err));
    g_assert_error(err, AIO_ERROR, err->code);
    g_assert_nonnull(strstr(err->message, "io_uring"));
    g_clear_error(&err);
    g_assert_cmpint(aio_context_get_fdmon(ctx), ==, AIO_FDMON_EPOLL);

    event_notifier_set(&e);
    g_assert_true(aio_poll(ctx, true));
    g_assert_false(aio_poll(ctx, false));
    aio_notify(ctx);
    g_assert_false(aio_poll(ctx, true));

    aio_set_event_notifier(ctx, &e, NULL, NULL, NULL);
    event_notifier_cleanup(&e);
    aio_context_unref(ctx);
    g_print("io_uring refused, epoll kept\n");
}

/* Handlers added, replaced and removed many times while their fd is ready. */
static void test_churn(gconstpointer data)
{
    TestLoop *l = loop_new(data);
    Counter cs[4];

    for (int i = 0; i < 4; i++) {
        counter_init(&cs[i]);
        cs[i].clear = false;
        event_notifier_set(&cs[i].e);
    }
    for (int round = 0; round < 200; round++) {
        Counter *c = &cs[round % 4];

        switch (round % 3) {
        case 0:
            aio_set_event_notifier(l->ctx, &c->e, counter_read, NULL, NULL);
            break;
        case 1:
            aio_set_event_notifier(l->ctx, &c->e, NULL, NULL, NULL);
            break;
        default: /* replace: same fd, new node */
            aio_set_event_notifier(l->ctx, &c->e, counter_read, NULL, NULL);
            aio_set_event_notifier(l->ctx, &c->e, counter_read, NULL, NULL);
            break;
        }
        test_loop_iterate(l, false);
    }
    /* Whatever is still registered keeps being dispatched. */
    for (int i = 0; i < 4; i++) {
        aio_set_event_notifier(l->ctx, &cs[i].e, counter_read, NULL, NULL);
        cs[i].count = 0;
    }
    while (cs[0].count < 2 || cs[1].count < 2 || cs[2].count < 2 || cs[3].count < 2) {
        test_loop_iterate(l, true);
    }
    for (int i = 0; i < 4; i++) {
        aio_set_event_notifier(l->ctx, &cs[i].e, NULL, NULL, NULL);
    }
    loop_drain(l);
    for (int i = 0; i < 4; i++) {
        event_notifier_cleanup(&cs[i].e);
    }
    test_loop_free(l);
}

/* Another thread adds a handler for a ready fd while the loop is blocked. */
typedef struct {
    AioContext *ctx;
    Counter *c;
} AddArgs;

static void *add_thread(void *opaque)
{
    AddArgs *args = opaque;

    g_usleep(20000);
    event_notifier_set(&args->c->e);
    aio_set_event_notifier(args->ctx, &args->c->e, counter_read, NULL, NULL);
    return NULL;
}

static void test_add_from_thread(gconstpointer data)
{
    TestLoop *l = loop_new(data);
    Counter c;
    AddArgs args = {.ctx = l->ctx, .c = &c};
    pthread_t thread;

    counter_init(&c);
    g_assert_cmpint(pthread_create(&thread, NULL, add_thread, &args), ==, 0);
    while (c.count == 0) {
        test_loop_iterate(l, true);
    }
    pthread_join(thread, NULL);
    g_assert_cmpint(c.count, ==, 1);
    aio_set_event_notifier(l->ctx, &c.e, NULL, NULL, NULL);
    loop_drain(l);
    event_notifier_cleanup(&c.e);
    test_loop_free(l);
}

/*
 * The context's first home thread arms the fd monitor and exits; the loop
 * moves to another thread.  io_uring cancels the requests of an exiting
 * submitter: the monitor must re-arm them.
 */
typedef struct {
    const FdMonCase *fc;
    AioContext *ctx;
    Counter *c;
} FirstHomeArgs;

static void *first_home_thread(void *opaque)
{
    FirstHomeArgs *args = opaque;
    GError *err = NULL;

    args->ctx = aio_context_new(&err);
    g_assert_no_error(err);
    g_assert_true(aio_context_set_fdmon(args->ctx, args->fc->kind, &err));
    g_assert_no_error(err);
    aio_set_event_notifier(args->ctx, &args->c->e, counter_read, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        aio_poll(args->ctx, false);
    }
    return NULL;
}

static void test_home_thread_exits(gconstpointer data)
{
    Counter c;
    FirstHomeArgs args = {.fc = data, .c = &c};
    pthread_t thread;

    counter_init(&c);
    g_assert_cmpint(pthread_create(&thread, NULL, first_home_thread, &args), ==, 0);
    pthread_join(thread, NULL);
    aio_context_set_home_thread(args.ctx);
    for (int i = 0; i < 3; i++) {
        aio_poll(args.ctx, false);
    }
    g_assert_cmpint(c.count, ==, 0);
    event_notifier_set(&c.e);
    while (c.count == 0) {
        aio_poll(args.ctx, true);
    }
    g_assert_cmpint(c.count, ==, 1);
    aio_set_event_notifier(args.ctx, &c.e, NULL, NULL, NULL);
    aio_poll(args.ctx, false);
    event_notifier_cleanup(&c.e);
    aio_context_unref(args.ctx);
}

/*
 * io_uring: a handler whose POLL_ADD fails (a bad fd) and is then removed
 * must be freed, not kept as if a request were still in the kernel.
 */
static void bad_fd_read(void *opaque)
{
    (void)opaque;
}

static void test_io_uring_bad_fd_freed(void)
{
    GError *err = NULL;
    AioContext *ctx = aio_context_new(&err);
    int fds[2];

    g_assert_no_error(err);
    if (!aio_context_set_fdmon(ctx, AIO_FDMON_IO_URING, &err)) {
        g_test_skip("io_uring refused here");
        g_clear_error(&err);
        aio_context_unref(ctx);
        return;
    }
    g_assert_cmpint(pipe(fds), ==, 0);
    close(fds[0]);
    close(fds[1]); /* fds[0] is now a bad fd number */
    aio_set_fd_handler(ctx, fds[0], bad_fd_read, NULL, NULL, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        aio_poll(ctx, false); /* submit the POLL_ADD, reap its -EBADF */
    }
    aio_set_fd_handler(ctx, fds[0], NULL, NULL, NULL, NULL, NULL);
    aio_poll(ctx, false);
    g_assert_null(__atomic_load_n(&ctx->deleted_handlers, __ATOMIC_RELAXED));
    aio_context_unref(ctx);
}

/* One raw iteration: g_main_context_iteration's or aio_poll's own answer. */
static bool raw_iterate(TestLoop *l, bool blocking)
{
    if (l->driver == DRIVER_GSOURCE) {
        return g_main_context_iteration(l->gctx, blocking);
    }
    return aio_poll(l->ctx, blocking);
}

/*
 * Every fd event costs one iteration, and so does nothing else: after the
 * iteration that ran the handler, and after a handler is set, replaced or
 * removed on the home thread, the next non-blocking iteration dispatches
 * nothing.  (io_uring through the GSource used to answer "ready" at
 * prepare to submit the re-arm of the POLL_ADD, and to dispatch for the
 * completions of cancelled POLL_ADDs: a GLib round with no progress.)
 */
static void test_no_idle_round(gconstpointer data)
{
    TestLoop *l = loop_new(data);
    Counter c;
    int rounds = 0;

    counter_init(&c);
    aio_set_event_notifier(l->ctx, &c.e, counter_read, NULL, NULL);
    while (raw_iterate(l, false) && rounds < 10) {
        rounds++;
    }
    g_assert_cmpint(rounds, <, 10);
    g_assert_false(raw_iterate(l, false));
    for (int i = 1; i <= 5; i++) {
        event_notifier_set(&c.e);
        g_assert_true(raw_iterate(l, true));
        g_assert_cmpint(c.count, ==, i);
        g_assert_false(raw_iterate(l, false));
    }
    /* replaced (a new node: for io_uring a cancel and a new POLL_ADD) */
    aio_set_event_notifier(l->ctx, &c.e, counter_read, NULL, NULL);
    g_assert_false(raw_iterate(l, false));
    g_assert_false(raw_iterate(l, false));
    event_notifier_set(&c.e);
    g_assert_true(raw_iterate(l, true));
    g_assert_cmpint(c.count, ==, 6);
    g_assert_false(raw_iterate(l, false));
    /* removed */
    aio_set_event_notifier(l->ctx, &c.e, NULL, NULL, NULL);
    g_assert_false(raw_iterate(l, false));
    g_assert_false(raw_iterate(l, false));
    event_notifier_cleanup(&c.e);
    test_loop_free(l);
}

static void add_all(const char *name, GTestDataFunc fn)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/fdmon/%s/%s/%s", kind_name(cases[i].kind),
                            cases[i].use_gsource ? "gsource" : "aio-poll", name);
        g_test_add_data_func(path, &cases[i], fn);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/event-notifier/semantics", test_notifier_semantics);
    g_test_add_func("/event-notifier/active-and-saturated",
                    test_notifier_active_and_saturated);
    g_test_add_func("/fdmon/io-uring-available", test_io_uring_available_or_refused);
    g_test_add_func("/fdmon/io-uring-refused", test_io_uring_refused);
    g_test_add_func("/fdmon/switch-monitor", test_switch_monitor);
    g_test_add_func("/fdmon/io-uring-bad-fd-freed", test_io_uring_bad_fd_freed);
    add_all("readable-once", test_readable_once);
    add_all("level-triggered", test_level_triggered);
    add_all("remove-no-dispatch", test_remove_no_dispatch);
    add_all("many-fds", test_many_fds);
    add_all("read-write", test_read_write);
    add_all("churn", test_churn);
    add_all("add-from-thread", test_add_from_thread);
    add_all("no-idle-round", test_no_idle_round);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i += 2) {
        g_autofree char *path =
            g_strdup_printf("/fdmon/%s/home-thread-exits", kind_name(cases[i].kind));
        g_test_add_data_func(path, &cases[i], test_home_thread_exits);
    }
    return g_test_run();
}

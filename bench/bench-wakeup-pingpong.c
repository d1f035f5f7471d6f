/*
 * bench/bench-wakeup-pingpong.c - round trips between two loops, each
 * woken by the other (X pinned like A, Y like B; the main thread only
 * starts a batch and waits for it).  X times each round trip itself:
 *
 *   t0 = now; wake Y -> Y wakes X -> X: t1 = now; record t1 - t0
 *
 * eventfd-pingpong (the floor of the blocking ping-pong): X and Y each block
 *   in epoll_wait() on an eventfd of their own and write the other's.
 * aio-pingpong-blocking: two "aio-qcontext,threaded=yes,poll-max-ns=0"
 *   objects; X's BH schedules a oneshot BH on Y's AioContext
 *   (aio_bh_schedule_oneshot()), which schedules one back on X's.
 * aio-pingpong-polling: the same with poll-max-ns=262144; its floor is the
 *   busy-poll round trip (two threads spinning on each other's atomics).
 *   Adaptive polling starts polling only when an event comes within
 *   poll-max-ns of the sleep; a blocking round trip is two cross-CPU
 *   wakeups (~66 us on a VM's vCPUs), so with 32768 the loops reached poll
 *   mode only by luck (3 of 16 runs here) and the row measured that luck.
 *   Once both poll, a round trip is ~1 us and the window never matters.
 *
 * After each round trip X pauses: blocking rows sleep --gap-us (X in its
 * loop on a timer, so that both loops are asleep when the next one starts),
 * polling rows spin --poll-gap-ns (the next ping lands in Y's poll window).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>

#include "qcontext/aio/aio.h"
#include "qcontext/qcontext.h"

#include "bench.h"

/* a batch that takes longer than this failed (a lost wakeup) */
#define PP_BATCH_TIMEOUT_NS (20ull * 1000 * 1000 * 1000)

/* What one batch asks for and where it stores its samples (X's thread). */
typedef struct {
    size_t warm, count, done;
    uint64_t gap_ns;
    uint64_t *samples;
    uint64_t t0;
} PPBatch;

/* The main thread waits for X to finish a batch. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool finished; /* under lock */
} PPDone;

static void pp_done_init(PPDone *d)
{
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
}

static void pp_done_destroy(PPDone *d)
{
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
}

static void pp_done_signal(PPDone *d)
{
    pthread_mutex_lock(&d->lock);
    d->finished = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

/* Wait for the batch; FALSE after PP_BATCH_TIMEOUT_NS. */
static gboolean pp_done_wait(PPDone *d, GError **errp)
{
    gint64 end = g_get_monotonic_time() + (gint64)(PP_BATCH_TIMEOUT_NS / 1000);
    gboolean ok = TRUE;

    pthread_mutex_lock(&d->lock);
    while (!d->finished && ok) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        ok = g_get_monotonic_time() < end;
    }
    ok = d->finished;
    d->finished = false;
    pthread_mutex_unlock(&d->lock);
    if (!ok) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                    "a batch of round trips did not finish within %llu s",
                    PP_BATCH_TIMEOUT_NS / 1000000000ull);
    }
    return ok;
}

/* X's side of a round trip's end: record; TRUE if the batch goes on. */
static bool pp_batch_record(PPBatch *b, uint64_t t1)
{
    if (b->done >= b->warm) {
        b->samples[b->done - b->warm] = t1 > b->t0 ? t1 - b->t0 : 1;
    }
    return ++b->done < b->warm + b->count;
}

static void pp_spin_ns(uint64_t ns)
{
    uint64_t end = bench_now_ns() + ns;

    while (bench_now_ns() < end) {
        bench_cpu_relax();
    }
}

/* ------------------------------------------------------------------------ */
/* eventfd + epoll ping-pong (floor)                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    int efd, epfd;
    _Atomic int tid;
    pthread_t thread;
} PPEnd;

typedef struct {
    PPEnd x, y;
    PPBatch batch; /* X's; handed over under done.lock / start eventfd */
    PPDone done;
    int start_efd; /* main -> X: run a batch (X's epoll watches it too) */
    _Atomic bool stop;
} EpollPingPong;

static bool pp_end_open(PPEnd *e)
{
    struct epoll_event ev = {.events = EPOLLIN};

    e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    ev.data.fd = e->efd;
    return e->efd >= 0 && e->epfd >= 0 &&
           epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->efd, &ev) == 0;
}

static void pp_end_close(PPEnd *e)
{
    if (e->epfd >= 0) {
        close(e->epfd);
    }
    if (e->efd >= 0) {
        close(e->efd);
    }
}

static void efd_write(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        g_warning("eventfd write failed: %s", g_strerror(errno));
    }
}

/* Block in epoll_wait on @e; return the fd that woke it. */
static int pp_end_wait(PPEnd *e)
{
    struct epoll_event ev;
    uint64_t cnt;

    while (epoll_wait(e->epfd, &ev, 1, -1) != 1) {
    }
    if (read(ev.data.fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
        g_warning("eventfd read failed: %s", g_strerror(errno));
    }
    return ev.data.fd;
}

static void *epoll_pp_y(void *opaque)
{
    EpollPingPong *s = opaque;

    for (;;) {
        pp_end_wait(&s->y);
        /* acquire pairs with the release store in epoll_pp_teardown() */
        if (atomic_load_explicit(&s->stop, memory_order_acquire)) {
            return NULL;
        }
        efd_write(s->x.efd);
    }
}

static void *epoll_pp_x(void *opaque)
{
    EpollPingPong *s = opaque;

    for (;;) {
        PPBatch *b = &s->batch;

        pp_end_wait(&s->x); /* the start eventfd: a batch, or stop */
        /* acquire pairs with the release store in epoll_pp_teardown() */
        if (atomic_load_explicit(&s->stop, memory_order_acquire)) {
            return NULL;
        }
        for (bool more = true; more;) {
            struct timespec gap = {.tv_sec = (time_t)(b->gap_ns / 1000000000u),
                                   .tv_nsec = (long)(b->gap_ns % 1000000000u)};

            b->t0 = bench_now_ns();
            efd_write(s->y.efd);
            pp_end_wait(&s->x);
            more = pp_batch_record(b, bench_now_ns());
            if (more && b->gap_ns) {
                nanosleep(&gap, NULL); /* X asleep too, as in the aio rows */
            }
        }
        pp_done_signal(&s->done);
    }
}

static void epoll_pp_free(EpollPingPong *s)
{
    pp_end_close(&s->x);
    pp_end_close(&s->y);
    if (s->start_efd >= 0) {
        close(s->start_efd);
    }
    pp_done_destroy(&s->done);
    g_free(s);
}

static void *epoll_pp_setup(BenchPing *ping, GError **errp)
{
    EpollPingPong *s = g_new0(EpollPingPong, 1);
    struct epoll_event ev = {.events = EPOLLIN};

    pp_done_init(&s->done);
    s->x.efd = s->y.efd = s->x.epfd = s->y.epfd = -1;
    s->start_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ev.data.fd = s->start_efd;
    if (!pp_end_open(&s->x) || !pp_end_open(&s->y) || s->start_efd < 0 ||
        epoll_ctl(s->x.epfd, EPOLL_CTL_ADD, s->start_efd, &ev) < 0) {
        int err = errno;

        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(err),
                    "Cannot set up two eventfds + epoll: %s", g_strerror(err));
        epoll_pp_free(s);
        return NULL;
    }
    if (!bench_thread_start(&s->y.thread, "bench/pp-y", epoll_pp_y, s, &s->y.tid,
                            errp)) {
        epoll_pp_free(s);
        return NULL;
    }
    if (!bench_thread_start(&s->x.thread, "bench/pp-x", epoll_pp_x, s, &s->x.tid,
                            errp)) {
        atomic_store_explicit(&s->stop, true, memory_order_release);
        efd_write(s->y.efd);
        pthread_join(s->y.thread, NULL);
        epoll_pp_free(s);
        return NULL;
    }
    return s;
}

static gboolean epoll_pp_batch(void *state, size_t warm, size_t count, uint64_t gap_ns,
                               uint64_t *samples, GError **errp)
{
    EpollPingPong *s = state;

    s->batch =
        (PPBatch){.warm = warm, .count = count, .gap_ns = gap_ns, .samples = samples};
    efd_write(s->start_efd); /* X reads the batch after this write */
    return pp_done_wait(&s->done, errp);
}

static int epoll_pp_a_tid(void *state)
{
    return atomic_load_explicit(&((EpollPingPong *)state)->x.tid, memory_order_relaxed);
}

static int epoll_pp_b_tid(void *state)
{
    return atomic_load_explicit(&((EpollPingPong *)state)->y.tid, memory_order_relaxed);
}

static void epoll_pp_teardown(void *state)
{
    EpollPingPong *s = state;

    /* release pairs with the acquire loads in epoll_pp_x() and epoll_pp_y() */
    atomic_store_explicit(&s->stop, true, memory_order_release);
    efd_write(s->start_efd);
    efd_write(s->y.efd);
    pthread_join(s->x.thread, NULL);
    pthread_join(s->y.thread, NULL);
    epoll_pp_free(s);
}

const BenchMechOps bench_mech_eventfd_pingpong = {
    .name = "eventfd-pingpong",
    .what = "floor: X and Y each block in epoll_wait on an eventfd of their own and "
            "write the other's; X times X -> Y -> X",
    .floor = BENCH_FLOOR_PINGPONG,
    .is_floor = true,
    .setup = epoll_pp_setup,
    .batch = epoll_pp_batch,
    .a_tid = epoll_pp_a_tid,
    .b_tid = epoll_pp_b_tid,
    .teardown = epoll_pp_teardown,
};

/* ------------------------------------------------------------------------ */
/* BH ping-pong between two aio-qcontexts                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *id;
    QContext *qc; /* own reference */
    AioContext *aio;
} PPCtx;

typedef struct {
    PPCtx x, y;
    PPBatch batch; /* X's thread only during a batch */
    PPDone done;
    QEMUTimer *gap_timer; /* on X: the blocking rows' pause */
    bool polling;
    AioContextStats snap[2], now[2];
    uint64_t poll_hits, poll_misses, wakeups, round_trips;
} AioPingPong;

static void aio_pp_back(void *opaque);

/* On Y: the ping arrived; send the pong. */
static void aio_pp_pong(void *opaque)
{
    AioPingPong *s = opaque;

    aio_bh_schedule_oneshot(s->x.aio, aio_pp_back, s);
}

/* On X: start a round trip. */
static void aio_pp_ping(void *opaque)
{
    AioPingPong *s = opaque;

    s->batch.t0 = bench_now_ns();
    aio_bh_schedule_oneshot(s->y.aio, aio_pp_pong, s);
}

/* On X: the pong arrived. */
static void aio_pp_back(void *opaque)
{
    AioPingPong *s = opaque;
    uint64_t t1 = bench_now_ns();

    if (!pp_batch_record(&s->batch, t1)) {
        pp_done_signal(&s->done);
    } else if (!s->polling && s->batch.gap_ns) {
        timer_mod_ns(s->gap_timer, (int64_t)(t1 + s->batch.gap_ns));
    } else {
        pp_spin_ns(s->batch.gap_ns);
        aio_pp_ping(s);
    }
}

static void pp_ctx_free(PPCtx *c)
{
    GError *err = NULL;

    if (c->qc) {
        if (!qom_container_del(QOM_CONTAINER_OBJECTS, c->id, &err)) {
            g_printerr("qcontext-bench: cannot delete %s: %s\n", c->id, err->message);
            g_clear_error(&err);
        }
        g_object_unref(c->qc);
    }
    g_free(c->id);
}

static gboolean pp_ctx_new(PPCtx *c, const char *id, int64_t poll_max_ns, GError **errp)
{
    g_autofree char *opts =
        g_strdup_printf("aio-qcontext,id=%s,threaded=yes,poll-max-ns=%" G_GINT64_FORMAT,
                        id, poll_max_ns);
    QomObject *obj;

    qcontext_register_types();
    c->id = g_strdup(id);
    obj = qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE, opts, errp);
    if (!obj) {
        g_prefix_error(errp, "%s: ", opts);
        return FALSE;
    }
    c->qc = g_object_ref(QCONTEXT_CONTEXT(obj));
    c->aio = qcontext_get_aio_context(c->qc);
    return TRUE;
}

static void aio_pp_free_timer_bh(void *opaque)
{
    AioPingPong *s = opaque;

    g_clear_pointer(&s->gap_timer, timer_free); /* on X's thread: never running */
    pp_done_signal(&s->done);
}

static void aio_pp_free(AioPingPong *s)
{
    if (s->gap_timer) {
        GError *err = NULL;

        aio_bh_schedule_oneshot(s->x.aio, aio_pp_free_timer_bh, s);
        if (!pp_done_wait(&s->done, &err)) {
            g_printerr("qcontext-bench: %s\n", err->message);
            g_error_free(err);
        }
    }
    pp_ctx_free(&s->x);
    pp_ctx_free(&s->y);
    pp_done_destroy(&s->done);
    g_free(s);
}

static void *aio_pp_setup(bool polling, GError **errp)
{
    AioPingPong *s = g_new0(AioPingPong, 1);
    int64_t max_ns = polling ? 262144 : 0; /* > a blocking round trip: see above */

    pp_done_init(&s->done);
    s->polling = polling;
    if (!pp_ctx_new(&s->x, polling ? "bench-pp-poll-x" : "bench-pp-block-x", max_ns,
                    errp) ||
        !pp_ctx_new(&s->y, polling ? "bench-pp-poll-y" : "bench-pp-block-y", max_ns,
                    errp)) {
        aio_pp_free(s);
        return NULL;
    }
    /* Armed only from X's thread; timer_mod from there needs no notify. */
    s->gap_timer =
        aio_timer_new(s->x.aio, QEMU_CLOCK_REALTIME, SCALE_NS, aio_pp_ping, s);
    return s;
}

static void *aio_pp_block_setup(BenchPing *ping, GError **errp)
{
    return aio_pp_setup(false, errp);
}

static void *aio_pp_poll_setup(BenchPing *ping, GError **errp)
{
    return aio_pp_setup(true, errp);
}

static void aio_pp_stats(AioPingPong *s, AioContextStats st[2])
{
    aio_context_get_stats(s->x.aio, &st[0]);
    aio_context_get_stats(s->y.aio, &st[1]);
}

static gboolean aio_pp_batch(void *state, size_t warm, size_t count, uint64_t gap_ns,
                             uint64_t *samples, GError **errp)
{
    AioPingPong *s = state;
    gboolean ok;

    aio_pp_stats(s, s->snap);
    /* Handed to X by the BH below (its scheduling publishes these). */
    s->batch =
        (PPBatch){.warm = warm, .count = count, .gap_ns = gap_ns, .samples = samples};
    aio_bh_schedule_oneshot(s->x.aio, aio_pp_ping, s);
    ok = pp_done_wait(&s->done, errp);
    aio_pp_stats(s, s->now);
    for (int i = 0; i < 2; i++) {
        s->poll_hits += s->now[i].poll_hits - s->snap[i].poll_hits;
        s->poll_misses += s->now[i].poll_misses - s->snap[i].poll_misses;
        s->wakeups += s->now[i].wakeups - s->snap[i].wakeups;
    }
    s->round_trips += warm + count;
    return ok;
}

static int pp_tid(PPCtx *c)
{
    uint64_t t0 = bench_now_ns();
    int tid;

    while ((tid = qcontext_get_thread_id(c->qc)) == 0 &&
           bench_now_ns() - t0 < 2000000000ull) {
        g_usleep(1000);
    }
    return tid;
}

static int aio_pp_a_tid(void *state)
{
    return pp_tid(&((AioPingPong *)state)->x);
}

static int aio_pp_b_tid(void *state)
{
    return pp_tid(&((AioPingPong *)state)->y);
}

static void aio_pp_extra(void *state, BenchMechResult *res)
{
    AioPingPong *s = state;
    double rt = s->round_trips ? (double)s->round_trips : 1;
    double polls = (double)(s->poll_hits + s->poll_misses);

    bench_result_add(res, "poll_hit_rate",
                     polls > 0 ? (double)s->poll_hits / polls : 0);
    bench_result_add(res, "wakeups_per_round_trip", (double)s->wakeups / rt);
}

static void aio_pp_teardown(void *state)
{
    aio_pp_free(state);
}

const BenchMechOps bench_mech_aio_pingpong_block = {
    .name = "aio-pingpong-blocking",
    .what = "two aio-qcontexts (threaded, poll-max-ns=0) send each other oneshot BHs "
            "(aio_bh_schedule_oneshot); X times X -> Y -> X",
    .floor = BENCH_FLOOR_PINGPONG,
    .setup = aio_pp_block_setup,
    .batch = aio_pp_batch,
    .a_tid = aio_pp_a_tid,
    .b_tid = aio_pp_b_tid,
    .extra = aio_pp_extra,
    .teardown = aio_pp_teardown,
};

const BenchMechOps bench_mech_aio_pingpong_poll = {
    .name = "aio-pingpong-polling",
    .what = "the same with poll-max-ns=262144: each side busy-polls for the other's BH",
    .floor = BENCH_FLOOR_POLLING,
    .polling = true,
    .setup = aio_pp_poll_setup,
    .batch = aio_pp_batch,
    .a_tid = aio_pp_a_tid,
    .b_tid = aio_pp_b_tid,
    .extra = aio_pp_extra,
    .teardown = aio_pp_teardown,
};

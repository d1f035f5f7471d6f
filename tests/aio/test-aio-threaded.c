/*
 * tests/aio/test-aio-threaded.c - four AioContexts on four threads pass
 * tokens to each other for ~2 s as BHs and oneshot BHs.  Each callback must
 * run exactly once, on its receiver's thread (per sender/receiver counters
 * match), and no wakeup may be lost: a watchdog fails the test if a thread
 * makes no progress for 1 s.  Runs with both drivers (aio_poll, GSource).
 *
 * Tokens: every thread starts TOKENS_PER_THREAD tokens; a callback that
 * receives one forwards it to a random context (maybe its own), as a
 * per-(sender, receiver) BH when that BH is idle, else as a oneshot.  The
 * number of tokens in flight is constant, so a lost wakeup parks tokens on a
 * sleeping thread until none circulate and the watchdog fires.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <string.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "test-aio-loop.h"

#define NTHREADS 4
#define TOKENS_PER_THREAD 8
#define RUN_MS 2000
#define STALL_MS 1000
#define TICK_MS 50

typedef struct Peer Peer;

typedef struct {
    int from, to;
} Route;

struct Peer {
    int index;
    TestDriver driver;
    pthread_t thread;
    TestLoop *loop;
    AioContext *ctx;   /* a reference held for main until the end */
    GRand *rand;       /* this thread only */
    uint64_t progress; /* atomic: callbacks run here */

    /* written by this thread only, read by main after join */
    uint64_t sent_oneshot[NTHREADS]; /* [receiver] */
    uint64_t sent_bh[NTHREADS];
    uint64_t recv_oneshot[NTHREADS]; /* [sender] */
    uint64_t recv_bh[NTHREADS];

    QEMUBH *bh[NTHREADS]; /* [sender]: BHs of this context */
    Route bh_route[NTHREADS];
    int bh_armed[NTHREADS]; /* atomic: [sender] scheduled, not yet run */
};

static Peer peers[NTHREADS];
static int stop; /* atomic */
static pthread_barrier_t started, left_loop, drained;
static __thread int my_index = -1;

static void oneshot_cb(void *opaque);

static void forward(Peer *self)
{
    int to = g_rand_int_range(self->rand, 0, NTHREADS);
    Peer *dst = &peers[to];

    if (g_rand_boolean(self->rand) &&
        __atomic_exchange_n(&dst->bh_armed[self->index], 1, __ATOMIC_ACQ_REL) == 0) {
        self->sent_bh[to]++;
        qemu_bh_schedule(dst->bh[self->index]);
    } else {
        Route *r = g_new(Route, 1);

        r->from = self->index;
        r->to = to;
        self->sent_oneshot[to]++;
        aio_bh_schedule_oneshot(dst->ctx, oneshot_cb, r);
    }
}

/* A token arrives at @to, from @from. */
static void deliver(int from, int to, bool is_bh)
{
    Peer *self = &peers[to];

    /* On the receiver's own thread and context. */
    g_assert_cmpint(my_index, ==, to);
    g_assert_true(qemu_get_current_aio_context() == self->ctx);
    g_assert_true(in_aio_context_home_thread(self->ctx));
    if (is_bh) {
        self->recv_bh[from]++;
    } else {
        self->recv_oneshot[from]++;
    }
    __atomic_fetch_add(&self->progress, 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        forward(self);
    }
}

static void oneshot_cb(void *opaque)
{
    Route *r = opaque;

    deliver(r->from, r->to, false);
    g_free(r);
}

static void bh_cb(void *opaque)
{
    Route *r = opaque;

    /* Idle again before forwarding: the sender may schedule it again now. */
    __atomic_store_n(&peers[r->to].bh_armed[r->from], 0, __ATOMIC_RELEASE);
    deliver(r->from, r->to, true);
}

static void *peer_thread(void *opaque)
{
    Peer *p = opaque;

    my_index = p->index;
    p->loop = test_loop_new(p->driver);
    p->ctx = p->loop->ctx;
    aio_context_set_home_thread(p->ctx); /* this thread runs it: its current one */
    aio_context_ref(p->ctx);             /* for main's aio_notify() at the end */
    p->rand = g_rand_new_with_seed(1234 + p->index);
    for (int i = 0; i < NTHREADS; i++) {
        p->bh_route[i] = (Route){.from = i, .to = p->index};
        p->bh[i] = aio_bh_new(p->ctx, bh_cb, &p->bh_route[i]);
    }
    pthread_barrier_wait(&started); /* every context exists */

    for (int t = 0; t < TOKENS_PER_THREAD; t++) {
        forward(p);
    }
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        test_loop_iterate(p->loop, true);
    }

    /* After this barrier no callback forwards (stop is set): drain. */
    pthread_barrier_wait(&left_loop);
    while (test_loop_iterate(p->loop, false)) {
    }
    pthread_barrier_wait(&drained);

    for (int i = 0; i < NTHREADS; i++) {
        qemu_bh_delete(p->bh[i]);
    }
    while (test_loop_iterate(p->loop, false)) {
    }
    g_rand_free(p->rand);
    test_loop_free(p->loop);
    return NULL;
}

/* Fail if some thread made no progress for STALL_MS during the run. */
static void watch_for_stalls(void)
{
    uint64_t last[NTHREADS] = {0};
    int64_t last_change[NTHREADS];
    int64_t start = g_get_monotonic_time();

    for (int i = 0; i < NTHREADS; i++) {
        last_change[i] = start;
    }
    while (g_get_monotonic_time() - start < RUN_MS * 1000) {
        g_usleep(TICK_MS * 1000);
        for (int i = 0; i < NTHREADS; i++) {
            uint64_t now_progress =
                __atomic_load_n(&peers[i].progress, __ATOMIC_RELAXED);
            int64_t now = g_get_monotonic_time();

            if (now_progress != last[i]) {
                last[i] = now_progress;
                last_change[i] = now;
            } else if (now - last_change[i] >= STALL_MS * 1000) {
                g_error("thread %d made no progress for %d ms: lost wakeup?", i,
                        STALL_MS);
            }
        }
    }
}

static void test_threaded_tokens(gconstpointer data)
{
    TestDriver driver = GPOINTER_TO_INT(data);
    uint64_t total = 0;

    memset(peers, 0, sizeof(peers));
    __atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
    pthread_barrier_init(&started, NULL, NTHREADS + 1);
    pthread_barrier_init(&left_loop, NULL, NTHREADS);
    pthread_barrier_init(&drained, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        peers[i].index = i;
        peers[i].driver = driver;
        g_assert_cmpint(pthread_create(&peers[i].thread, NULL, peer_thread, &peers[i]),
                        ==, 0);
    }
    pthread_barrier_wait(&started);

    watch_for_stalls();
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < NTHREADS; i++) {
        aio_notify(peers[i].ctx); /* wake threads blocked with no token */
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(peers[i].thread, NULL);
    }

    for (int s = 0; s < NTHREADS; s++) {
        for (int r = 0; r < NTHREADS; r++) {
            g_assert_cmpuint(peers[s].sent_oneshot[r], ==, peers[r].recv_oneshot[s]);
            g_assert_cmpuint(peers[s].sent_bh[r], ==, peers[r].recv_bh[s]);
            total += peers[r].recv_oneshot[s] + peers[r].recv_bh[s];
        }
    }
    g_test_message("%" G_GUINT64_FORMAT " tokens delivered", total);
    g_assert_cmpuint(total, >, NTHREADS * TOKENS_PER_THREAD);
    for (int i = 0; i < NTHREADS; i++) {
        aio_context_unref(peers[i].ctx);
    }
    pthread_barrier_destroy(&started);
    pthread_barrier_destroy(&left_loop);
    pthread_barrier_destroy(&drained);
}

/*
 * Another thread adds, replaces and removes handlers of two always-readable
 * notifiers while the home thread polls (with busy-polling on) and the
 * handlers replace themselves: ASan checks that no removed node is used
 * after free, TSan that the list publication is race-free.
 */
typedef struct {
    AioContext *ctx;
    EventNotifier e[2];
    int stop;      /* atomic */
    uint64_t runs; /* atomic */
    uint64_t changes;
} Churn;

static Churn churn;

static void churn_read_b(EventNotifier *e);

static void churn_read_a(EventNotifier *e)
{
    __atomic_fetch_add(&churn.runs, 1, __ATOMIC_RELAXED);
    /* Replace self from the callback, racing with the other thread. */
    aio_set_event_notifier(churn.ctx, e, churn_read_b, NULL, NULL);
}

static void churn_read_b(EventNotifier *e)
{
    __atomic_fetch_add(&churn.runs, 1, __ATOMIC_RELAXED);
}

static bool churn_poll(void *opaque)
{
    return false;
}

static void *churn_thread(void *opaque)
{
    for (unsigned i = 0; !__atomic_load_n(&churn.stop, __ATOMIC_ACQUIRE); i++) {
        EventNotifier *e = &churn.e[i % 2];

        aio_set_event_notifier(churn.ctx, e, (i & 2) ? churn_read_a : churn_read_b,
                               (i & 4) ? churn_poll : NULL, NULL);
        if (i % 3 == 0) {
            aio_set_event_notifier(churn.ctx, e, NULL, NULL, NULL);
        }
        churn.changes++;
    }
    return NULL;
}

/* @data: the driver, plus the fd monitor kind << 4 */
static void test_threaded_handler_churn(gconstpointer data)
{
    TestLoop *l = test_loop_new(GPOINTER_TO_INT(data) & 0xf);
    AioFdMonKind kind = GPOINTER_TO_INT(data) >> 4;
    int64_t end = g_get_monotonic_time() + 500 * 1000;
    GError *err = NULL;
    pthread_t th;

    if (!aio_context_set_fdmon(l->ctx, kind, &err)) {
        g_test_skip(err->message);
        g_error_free(err);
        test_loop_free(l);
        return;
    }
    memset(&churn, 0, sizeof(churn));
    churn.ctx = l->ctx;
    g_assert_true(aio_context_set_poll_params(l->ctx, 20000, 0, 0, NULL));
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(event_notifier_init(&churn.e[i], 1), ==, 0);
    }
    g_assert_cmpint(pthread_create(&th, NULL, churn_thread, NULL), ==, 0);
    while (g_get_monotonic_time() < end) {
        test_loop_iterate(l, true);
    }
    __atomic_store_n(&churn.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    for (int i = 0; i < 2; i++) {
        aio_set_event_notifier(l->ctx, &churn.e[i], NULL, NULL, NULL);
    }
    while (test_loop_iterate(l, false)) {
    }
    g_test_message("%" G_GUINT64_FORMAT " handler changes, %" G_GUINT64_FORMAT " runs",
                   churn.changes, churn.runs);
    g_assert_cmpuint(churn.runs, >, 0);
    g_assert_cmpuint(churn.changes, >, 0);
    for (int i = 0; i < 2; i++) {
        event_notifier_cleanup(&churn.e[i]);
    }
    test_loop_free(l);
}

/*
 * Only the home thread may block in aio_poll() (asserted): another thread
 * may poll without blocking, and a blocking poll from it aborts.  After
 * aio_context_set_home_thread() the new thread is at home and may block.
 */
typedef struct {
    AioContext *ctx;
    bool blocking;
    bool take_home;
    bool was_home;
} ForeignPoll;

static void *foreign_poll_thread(void *opaque)
{
    ForeignPoll *f = opaque;

    if (f->take_home) {
        aio_context_set_home_thread(f->ctx);
        aio_notify(f->ctx); /* so the blocking poll below returns */
    }
    f->was_home = in_aio_context_home_thread(f->ctx);
    g_assert_false(aio_poll(f->ctx, f->blocking));
    return NULL;
}

static void foreign_poll(AioContext *ctx, bool blocking, bool take_home)
{
    ForeignPoll f = {.ctx = ctx, .blocking = blocking, .take_home = take_home};
    pthread_t th;

    g_assert_cmpint(pthread_create(&th, NULL, foreign_poll_thread, &f), ==, 0);
    pthread_join(th, NULL);
    g_assert_true(f.was_home == take_home);
}

static void test_home_thread_assert(void)
{
    AioContext *ctx;

    if (g_test_subprocess()) {
        ctx = aio_context_new(NULL);
        g_assert_nonnull(ctx);
        foreign_poll(ctx, true, false); /* must abort */
        return;
    }
    ctx = aio_context_new(NULL);
    g_assert_nonnull(ctx);
    g_assert_true(in_aio_context_home_thread(ctx));
    foreign_poll(ctx, false, false); /* non-blocking from elsewhere: fine */
    foreign_poll(ctx, true, true);   /* at home there after set_home_thread */
    g_assert_false(in_aio_context_home_thread(ctx));
    aio_context_unref(ctx);

    /* Without the assertion the child would block: the timeout fails it. */
    g_test_trap_subprocess(NULL, 5 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*in_aio_context_home_thread*");
}

/*
 * Layers take their AioContext slots from any thread, at once: each gets its
 * own, and (under TSan) the slot table is seen to be locked.
 */
static void *take_slot_thread(void *opaque)
{
    int *slot = opaque;

    *slot = aio_context_slot_new(NULL);
    return NULL;
}

static void test_slots_concurrent(void)
{
    pthread_t th[4];
    int slot[4];

    for (int i = 0; i < 4; i++) {
        g_assert_cmpint(pthread_create(&th[i], NULL, take_slot_thread, &slot[i]), ==,
                        0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        g_assert_cmpint(slot[i], >=, 0);
        g_assert_cmpint(slot[i], <, AIO_CONTEXT_MAX_SLOTS);
        for (int k = 0; k < i; k++) {
            g_assert_cmpint(slot[k], !=, slot[i]);
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/aio/threaded/home-thread-assert", test_home_thread_assert);
    g_test_add_func("/aio/threaded/slots-concurrent", test_slots_concurrent);
    test_add_for_each_driver("threaded/tokens", test_threaded_tokens);
    test_add_for_each_driver("threaded/handler-churn", test_threaded_handler_churn);
    g_test_add_data_func("/aio/aio-poll/threaded/handler-churn-ppoll",
                         GINT_TO_POINTER(DRIVER_AIO_POLL | AIO_FDMON_POLL << 4),
                         test_threaded_handler_churn);
    g_test_add_data_func("/aio/aio-poll/threaded/handler-churn-io-uring",
                         GINT_TO_POINTER(DRIVER_AIO_POLL | AIO_FDMON_IO_URING << 4),
                         test_threaded_handler_churn);
    g_test_add_data_func("/aio/gsource/threaded/handler-churn-ppoll",
                         GINT_TO_POINTER(DRIVER_GSOURCE | AIO_FDMON_POLL << 4),
                         test_threaded_handler_churn);
    return g_test_run();
}

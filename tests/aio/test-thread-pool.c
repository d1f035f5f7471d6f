/*
 * tests/aio/test-thread-pool.c - the thread pool of an AioContext:
 * submission with and without completion, callbacks on the home thread,
 * synchronous and asynchronous cancellation, thread limits.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>

#include "qcontext/aio/thread-pool.h"

#define WAIT_LIMIT_US (10 * G_USEC_PER_SEC)

static AioContext *ctx;
static pthread_t home;
/* Driver of the test being run: aio_poll(), or the GSource in gctx. */
static bool use_gsource;
static GMainContext *gctx;
static GSource *gsrc;

static void setup(void)
{
    GError *err = NULL;

    ctx = aio_context_new(&err);
    g_assert_no_error(err);
    home = pthread_self();
    if (use_gsource) {
        gctx = g_main_context_new();
        gsrc = aio_get_g_source(ctx);
        g_source_attach(gsrc, gctx);
    }
}

static void teardown(void)
{
    thread_pool_free(aio_get_thread_pool(ctx));
    if (gsrc) {
        g_source_destroy(gsrc);
        g_source_unref(gsrc);
        g_main_context_unref(gctx);
        gsrc = NULL;
        gctx = NULL;
    }
    aio_context_unref(ctx);
    ctx = NULL;
}

/* One iteration of ctx with the test's driver; true if something ran. */
static bool loop_iterate(bool blocking)
{
    if (use_gsource) {
        return g_main_context_iteration(gctx, blocking);
    }
    return aio_poll(ctx, blocking);
}

/* Poll ctx (non-blocking, so a missed wakeup cannot hang) until *flag. */
static void poll_until(int *flag, int value)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

    while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) < value) {
        if (!loop_iterate(false)) {
            g_usleep(1000);
        }
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
}

/* ------------------------------------------------------------------------ */
/* A gate that blocks worker functions until the test opens it.              */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int gate_entered; /* functions that reached the gate */

static void gate_reset(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = false;
    gate_entered = 0;
    pthread_mutex_unlock(&gate_lock);
}

static void gate_release(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static int gate_count(void)
{
    int n;

    pthread_mutex_lock(&gate_lock);
    n = gate_entered;
    pthread_mutex_unlock(&gate_lock);
    return n;
}

static void gate_wait_entered(int n)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

    while (gate_count() < n) {
        g_usleep(500);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
}

static int gated_func(void *opaque)
{
    pthread_mutex_lock(&gate_lock);
    gate_entered++;
    while (!gate_open) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    pthread_mutex_unlock(&gate_lock);
    return GPOINTER_TO_INT(opaque);
}

static void *open_gate_later(void *arg)
{
    g_usleep(20 * 1000);
    gate_release();
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Submission                                                                 */
/* ------------------------------------------------------------------------ */

static int set_flag(void *opaque)
{
    __atomic_store_n((int *)opaque, 1, __ATOMIC_RELEASE);
    return 0;
}

static void test_submit(void)
{
    int flag = 0;

    setup();
    thread_pool_submit(ctx, set_flag, &flag);
    poll_until(&flag, 1);
    g_assert_cmpint(thread_pool_get_thread_count(aio_get_thread_pool(ctx)), >=, 1);
    teardown();
}

#define MANY 1000

typedef struct {
    int ran[MANY];       /* worker side, atomic */
    int completed[MANY]; /* home thread */
    int total;
    bool wrong_thread;
} ManyState;

typedef struct {
    ManyState *st;
    int index;
} ManyReq;

static int many_func(void *opaque)
{
    ManyReq *r = opaque;

    __atomic_fetch_add(&r->st->ran[r->index], 1, __ATOMIC_RELAXED);
    return r->index;
}

static void many_cb(void *opaque, int ret)
{
    ManyReq *r = opaque;

    g_assert_cmpint(ret, ==, r->index);
    if (!pthread_equal(pthread_self(), home) || !in_aio_context_home_thread(ctx)) {
        r->st->wrong_thread = true;
    }
    r->st->completed[r->index]++;
    r->st->total++;
}

static void test_submit_many(void)
{
    ManyState *st = g_new0(ManyState, 1);
    ManyReq *reqs = g_new0(ManyReq, MANY);

    setup();
    for (int i = 0; i < MANY; i++) {
        reqs[i].st = st;
        reqs[i].index = i;
        thread_pool_submit_aio(ctx, many_func, &reqs[i], many_cb, &reqs[i]);
    }
    while (st->total < MANY) {
        loop_iterate(true);
    }
    /* A little more polling: nothing may complete twice. */
    while (loop_iterate(false)) {
    }
    g_assert_false(st->wrong_thread);
    for (int i = 0; i < MANY; i++) {
        g_assert_cmpint(__atomic_load_n(&st->ran[i], __ATOMIC_RELAXED), ==, 1);
        g_assert_cmpint(st->completed[i], ==, 1);
    }
    teardown();
    g_free(reqs);
    g_free(st);
}

/* ------------------------------------------------------------------------ */
/* Cancellation                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    int calls;
    int ret;
} CbRecord;

static void record_cb(void *opaque, int ret)
{
    CbRecord *r = opaque;

    r->calls++;
    r->ret = ret;
}

static int never_run; /* atomic */

static int must_not_run(void *opaque)
{
    __atomic_fetch_add(&never_run, 1, __ATOMIC_RELAXED);
    return 0;
}

static void test_cancel(void)
{
    CbRecord a = {0}, b = {0};
    BlockAIOCB *acb_a, *acb_b;
    pthread_t opener;

    setup();
    gate_reset();
    __atomic_store_n(&never_run, 0, __ATOMIC_RELAXED);
    thread_pool_set_minmax_threads(ctx, 0, 1);
    acb_a = thread_pool_submit_aio(ctx, gated_func, GINT_TO_POINTER(42), record_cb, &a);
    acb_b = thread_pool_submit_aio(ctx, must_not_run, NULL, record_cb, &b);
    gate_wait_entered(1);

    /* B is queued behind A: cancelled at once, its function never runs. */
    bdrv_aio_cancel(acb_b);
    g_assert_cmpint(b.calls, ==, 1);
    g_assert_cmpint(b.ret, ==, -ECANCELED);
    g_assert_cmpint(a.calls, ==, 0);

    /* A is running: cancel waits for it and it completes normally. */
    pthread_create(&opener, NULL, open_gate_later, NULL);
    bdrv_aio_cancel(acb_a);
    g_assert_cmpint(a.calls, ==, 1);
    g_assert_cmpint(a.ret, ==, 42);
    pthread_join(opener, NULL);

    teardown();
    g_assert_cmpint(__atomic_load_n(&never_run, __ATOMIC_RELAXED), ==, 0);
    g_assert_cmpint(b.calls, ==, 1);
}

static void test_cancel_async(void)
{
    CbRecord a = {0}, b = {0};
    BlockAIOCB *acb_a, *acb_b;

    setup();
    gate_reset();
    __atomic_store_n(&never_run, 0, __ATOMIC_RELAXED);
    thread_pool_set_minmax_threads(ctx, 0, 1);
    acb_a = thread_pool_submit_aio(ctx, gated_func, GINT_TO_POINTER(7), record_cb, &a);
    acb_b = thread_pool_submit_aio(ctx, must_not_run, NULL, record_cb, &b);
    gate_wait_entered(1);

    /* Asynchronous: nothing is called from inside the cancel. */
    bdrv_aio_cancel_async(acb_b);
    bdrv_aio_cancel_async(acb_a);
    g_assert_cmpint(b.calls, ==, 0);
    g_assert_cmpint(a.calls, ==, 0);

    /* B completes with -ECANCELED at the next completion round. */
    poll_until(&b.calls, 1);
    g_assert_cmpint(b.ret, ==, -ECANCELED);
    g_assert_cmpint(a.calls, ==, 0);

    /* A was running: it completes normally once released. */
    gate_release();
    poll_until(&a.calls, 1);
    g_assert_cmpint(a.ret, ==, 7);

    teardown();
    g_assert_cmpint(__atomic_load_n(&never_run, __ATOMIC_RELAXED), ==, 0);
    g_assert_cmpint(a.calls, ==, 1);
    g_assert_cmpint(b.calls, ==, 1);
}

/* A callback that cancels another request polls the context (nested). */
typedef struct {
    BlockAIOCB *other;
    CbRecord *other_rec;
    int calls;
    int other_calls_seen;
} NestedState;

static void nested_cb(void *opaque, int ret)
{
    NestedState *n = opaque;

    n->calls++;
    bdrv_aio_cancel(n->other);
    n->other_calls_seen = n->other_rec->calls;
}

static void test_cancel_from_callback(void)
{
    NestedState n = {0};
    CbRecord b = {0};

    setup();
    gate_reset();
    thread_pool_set_minmax_threads(ctx, 0, 1);
    thread_pool_submit_aio(ctx, gated_func, GINT_TO_POINTER(1), nested_cb, &n);
    n.other =
        thread_pool_submit_aio(ctx, gated_func, GINT_TO_POINTER(2), record_cb, &b);
    n.other_rec = &b;
    gate_release();
    /* Both finish on the worker; wait so that both are usually done. */
    gate_wait_entered(2);
    g_usleep(10 * 1000);
    poll_until(&n.calls, 1);
    g_assert_cmpint(n.other_calls_seen, ==, 1);
    g_assert_cmpint(b.ret, ==, 2);
    g_assert_cmpint(b.calls, ==, 1);
    teardown();
}

/* ------------------------------------------------------------------------ */
/* Thread limits                                                              */
/* ------------------------------------------------------------------------ */

static void test_minmax(void)
{
    CbRecord recs[8] = {{0}};
    ThreadPool *pool;
    int done = 0;

    setup();
    gate_reset();
    pool = aio_get_thread_pool(ctx);
    thread_pool_set_minmax_threads(ctx, 0, 2);
    for (int i = 0; i < 8; i++) {
        thread_pool_submit_aio(ctx, gated_func, GINT_TO_POINTER(i), record_cb,
                               &recs[i]);
    }
    gate_wait_entered(2);
    g_usleep(20 * 1000);
    /* Never more than max workers, so never more than 2 at the gate. */
    g_assert_cmpint(gate_count(), ==, 2);
    g_assert_cmpint(thread_pool_get_thread_count(pool), <=, 2);

    /* Raising min starts workers at once. */
    thread_pool_set_minmax_threads(ctx, 3, 4);
    g_assert_cmpint(thread_pool_get_thread_count(pool), >=, 3);

    gate_release();
    while (done < 8) {
        loop_iterate(true);
        done = 0;
        for (int i = 0; i < 8; i++) {
            done += recs[i].calls;
        }
    }
    for (int i = 0; i < 8; i++) {
        g_assert_cmpint(recs[i].calls, ==, 1);
        g_assert_cmpint(recs[i].ret, ==, i);
    }
    g_assert_cmpint(thread_pool_get_thread_count(pool), <=, 4);
    teardown();
}

/* A test and the driver it runs with. */
typedef struct {
    bool gsource;
    void (*fn)(void);
} DriverCase;

/* ------------------------------------------------------------------------ */
/* Teardown off the home thread                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    AioContext *ctx;
    int completed; /* atomic */
} OrphanState;

static void orphan_cb(void *opaque, int ret)
{
    OrphanState *st = opaque;

    g_assert_cmpint(ret, ==, 7);
    __atomic_add_fetch(&st->completed, 1, __ATOMIC_RELAXED);
}

/* The context's home thread submits pool work, then goes away. */
static void *orphan_home(void *arg)
{
    OrphanState *st = arg;
    g_autoptr(GError) err = NULL;

    st->ctx = aio_context_new(&err);
    g_assert_no_error(err);
    thread_pool_submit_aio(st->ctx, gated_func, GINT_TO_POINTER(7), orphan_cb, st);
    gate_wait_entered(1);
    return NULL;
}

/*
 * The last unref of a context whose home thread has exited, with a request
 * still running on the pool: the freeing thread adopts the context, waits
 * for the request and runs its completion, instead of asserting.
 */
static void test_unref_off_home_thread(void)
{
    OrphanState st = {0};
    pthread_t t, opener;

    gate_reset();
    pthread_create(&t, NULL, orphan_home, &st);
    pthread_join(t, NULL);
    pthread_create(&opener, NULL, open_gate_later, NULL);
    aio_context_unref(st.ctx);
    pthread_join(opener, NULL);
    g_assert_cmpint(__atomic_load_n(&st.completed, __ATOMIC_RELAXED), ==, 1);
}

static void run_with_driver(gconstpointer data)
{
    const DriverCase *c = data;

    use_gsource = c->gsource;
    c->fn();
}

/* Register @fn with the aio_poll() driver and with the GSource driver. */
static void add_both(const char *name, void (*fn)(void))
{
    for (int d = 0; d < 2; d++) {
        DriverCase *c = g_new(DriverCase, 1);
        g_autofree char *path =
            g_strdup_printf("/thread-pool/%s/%s", d ? "gsource" : "aio-poll", name);

        c->gsource = d;
        c->fn = fn;
        g_test_add_data_func_full(path, c, run_with_driver, g_free);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add_both("submit", test_submit);
    add_both("submit-many", test_submit_many);
    add_both("cancel", test_cancel);
    add_both("cancel-async", test_cancel_async);
    add_both("cancel-from-callback", test_cancel_from_callback);
    add_both("minmax", test_minmax);
    g_test_add_func("/thread-pool/unref-off-home-thread", test_unref_off_home_thread);
    return g_test_run();
}

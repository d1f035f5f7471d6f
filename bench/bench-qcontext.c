/*
 * bench/bench-qcontext.c - the rows that use qcontext itself.
 *
 * aio-qcontext-blocking: an "aio-qcontext,threaded=yes,poll-max-ns=0"
 *   object; its thread blocks in aio_poll(); A calls qemu_bh_schedule() on a
 *   BH of that AioContext created once (the device hot path: no allocation).
 * aio-qcontext-polling: the same with poll-max-ns=32768; round trips run
 *   back-to-back (A pauses only --poll-gap-ns) so that the next BH arrives
 *   inside the poll window.  The AioContext's poll hits/misses are reported
 *   to show that the window was used.
 * glib-qcontext: a "glib-qcontext,threaded=yes" object; A calls
 *   qemu_bh_schedule() on a BH of qcontext_get_aio_context(), i.e. the
 *   AioContext whose GSource is attached to the context's GMainContext.
 *
 * Also the AioContext half of the idle-fd benchmark (bench-idle.c).
 *
 * SPDX-License-Identifier: MIT
 */
#include <sched.h>
#include <unistd.h>

#include <gio/gio.h>

#include "qcontext/aio/aio.h"
#include "qcontext/qcontext.h"

#include "bench.h"

#define QCTX_WAIT_NS (2ull * 1000 * 1000 * 1000)

typedef struct {
    BenchPing *ping;
    char *id;
    QContext *qc; /* own reference */
    AioContext *ctx;
    QEMUBH *bh;
    AioContextStats *snap; /* taken at begin */
    AioContextStats *now;
    uint64_t poll_hits, poll_misses, wakeups, iterations, round_trips;
    _Atomic bool bh_deleted;
} QctxMech;

static void qctx_bh_cb(void *opaque)
{
    QctxMech *s = opaque;

    bench_pong(s->ping);
}

static void qctx_free(QctxMech *s)
{
    GError *err = NULL;

    if (s->qc) {
        if (!qom_container_del(QOM_CONTAINER_OBJECTS, s->id, &err)) {
            g_printerr("qcontext-bench: cannot delete %s: %s\n", s->id, err->message);
            g_clear_error(&err);
        }
        g_object_unref(s->qc);
    }
    g_free(s->snap);
    g_free(s->now);
    g_free(s->id);
    g_free(s);
}

/* @type_opts: "aio-qcontext,poll-max-ns=0" etc.; ",id=..,threaded=yes" added */
static void *qctx_setup(BenchPing *ping, const char *id, const char *type_opts,
                        GError **errp)
{
    QctxMech *s = g_new0(QctxMech, 1);
    g_autofree char *opts = g_strdup_printf("%s,id=%s,threaded=yes", type_opts, id);
    QomObject *obj;

    qcontext_register_types();
    s->ping = ping;
    s->id = g_strdup(id);
    s->snap = g_new0(AioContextStats, 1);
    s->now = g_new0(AioContextStats, 1);
    obj = qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE, opts, errp);
    if (!obj) {
        g_prefix_error(errp, "%s: ", opts);
        qctx_free(s);
        return NULL;
    }
    s->qc = g_object_ref(QCONTEXT_CONTEXT(obj));
    s->ctx = qcontext_get_aio_context(s->qc);
    s->bh = aio_bh_new(s->ctx, qctx_bh_cb, s);
    return s;
}

static void *aio_block_setup(BenchPing *ping, GError **errp)
{
    return qctx_setup(ping, "bench-aio-blocking", "aio-qcontext,poll-max-ns=0", errp);
}

static void *aio_poll_setup(BenchPing *ping, GError **errp)
{
    return qctx_setup(ping, "bench-aio-polling", "aio-qcontext,poll-max-ns=32768",
                      errp);
}

static void *glib_qctx_setup(BenchPing *ping, GError **errp)
{
    return qctx_setup(ping, "bench-glib-qcontext", "glib-qcontext", errp);
}

static void qctx_begin(void *state)
{
    QctxMech *s = state;

    aio_context_get_stats(s->ctx, s->snap);
}

static void qctx_signal(void *state)
{
    QctxMech *s = state;

    qemu_bh_schedule(s->bh);
    s->round_trips++;
}

static void qctx_end(void *state)
{
    QctxMech *s = state;

    aio_context_get_stats(s->ctx, s->now);
    s->poll_hits += s->now->poll_hits - s->snap->poll_hits;
    s->poll_misses += s->now->poll_misses - s->snap->poll_misses;
    s->wakeups += s->now->wakeups - s->snap->wakeups;
    s->iterations += s->now->iterations - s->snap->iterations;
}

static void qctx_extra(void *state, BenchMechResult *res)
{
    QctxMech *s = state;
    double rt = s->round_trips ? (double)s->round_trips : 1;
    double polls = (double)(s->poll_hits + s->poll_misses);

    bench_result_add(res, "poll_hit_rate",
                     polls > 0 ? (double)s->poll_hits / polls : 0);
    bench_result_add(res, "poll_hits", (double)s->poll_hits);
    bench_result_add(res, "poll_misses", (double)s->poll_misses);
    bench_result_add(res, "wakeups_per_round_trip", (double)s->wakeups / rt);
    bench_result_add(res, "iterations_per_round_trip", (double)s->iterations / rt);
}

static int qctx_b_tid(void *state)
{
    QctxMech *s = state;
    uint64_t t0 = bench_now_ns();
    int tid;

    /* the thread starts at completion; give it a moment to report its tid */
    while ((tid = qcontext_get_thread_id(s->qc)) == 0 &&
           bench_now_ns() - t0 < QCTX_WAIT_NS) {
        g_usleep(1000);
    }
    return tid;
}

static void qctx_delete_bh_cb(void *opaque)
{
    QctxMech *s = opaque;

    qemu_bh_delete(s->bh);
    /* release pairs with the acquire load in qctx_teardown() */
    atomic_store_explicit(&s->bh_deleted, true, memory_order_release);
}

static void qctx_teardown(void *state)
{
    QctxMech *s = state;
    uint64_t t0 = bench_now_ns();

    /* delete the BH on its own context's thread, then stop that thread */
    aio_bh_schedule_oneshot(s->ctx, qctx_delete_bh_cb, s);
    /* acquire pairs with the release store in qctx_delete_bh_cb() */
    while (!atomic_load_explicit(&s->bh_deleted, memory_order_acquire)) {
        if (bench_now_ns() - t0 > QCTX_WAIT_NS) {
            g_printerr("qcontext-bench: %s did not run its BH; leaking it\n", s->id);
            break;
        }
        g_usleep(100);
    }
    qctx_free(s);
}

const BenchMechOps bench_mech_aio_block = {
    .name = "aio-qcontext-blocking",
    .what = "aio-qcontext threaded, poll-max-ns=0: B blocks in aio_poll, A calls "
            "qemu_bh_schedule() on a BH of B's AioContext",
    .floor = BENCH_FLOOR_BLOCKING,
    .setup = aio_block_setup,
    .begin = qctx_begin,
    .signal = qctx_signal,
    .end = qctx_end,
    .b_tid = qctx_b_tid,
    .extra = qctx_extra,
    .teardown = qctx_teardown,
};

const BenchMechOps bench_mech_aio_poll = {
    .name = "aio-qcontext-polling",
    .what = "aio-qcontext threaded, poll-max-ns=32768, back-to-back: B busy-polls in "
            "aio_poll, A calls qemu_bh_schedule() on a BH of B's AioContext",
    .floor = BENCH_FLOOR_POLLING,
    .polling = true,
    .setup = aio_poll_setup,
    .begin = qctx_begin,
    .signal = qctx_signal,
    .end = qctx_end,
    .b_tid = qctx_b_tid,
    .extra = qctx_extra,
    .teardown = qctx_teardown,
};

const BenchMechOps bench_mech_glib_qctx = {
    .name = "glib-qcontext",
    .what = "glib-qcontext threaded: B iterates its GMainContext, A calls "
            "qemu_bh_schedule() on a BH of qcontext_get_aio_context() (the AioContext "
            "GSource)",
    .floor = BENCH_FLOOR_BLOCKING,
    .setup = glib_qctx_setup,
    .begin = qctx_begin,
    .signal = qctx_signal,
    .end = qctx_end,
    .b_tid = qctx_b_tid,
    .extra = qctx_extra,
    .teardown = qctx_teardown,
};

/* ------------------------------------------------------------------------ */
/* Idle fds: non-blocking aio_poll                                            */
/* ------------------------------------------------------------------------ */

static void idle_read_cb(void *opaque)
{
}

typedef struct {
    AioContext *ctx;
    int *fds;
    int n;
} IdleAio;

void bench_idle_aio_poll(void *opaque)
{
    IdleAio *ia = opaque;

    aio_poll(ia->ctx, false);
}

const char *bench_idle_aio_fdmon(void *opaque)
{
    IdleAio *ia = opaque;

    return aio_fdmon_kind_name(aio_context_get_fdmon(ia->ctx));
}

void *bench_idle_aio_new(const int *fds, int n, GError **errp)
{
    AioContext *ctx = aio_context_new(errp);
    IdleAio *ia;

    if (!ctx) {
        return NULL;
    }
    ia = g_new0(IdleAio, 1);
    ia->ctx = ctx;
    ia->fds = g_memdup2(fds, sizeof(int) * (gsize)n);
    ia->n = n;
    for (int i = 0; i < n; i++) {
        aio_set_fd_handler(ctx, fds[i], idle_read_cb, NULL, NULL, NULL, NULL);
    }
    aio_poll(ctx, false); /* let the fd monitor take the registrations */
    return ia;
}

void bench_idle_aio_free(void *opaque)
{
    IdleAio *ia = opaque;

    for (int i = 0; i < ia->n; i++) {
        aio_set_fd_handler(ia->ctx, ia->fds[i], NULL, NULL, NULL, NULL, NULL);
    }
    aio_poll(ia->ctx, false);
    aio_context_unref(ia->ctx);
    g_free(ia->fds);
    g_free(ia);
}

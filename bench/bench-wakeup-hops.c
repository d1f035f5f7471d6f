/*
 * bench/bench-wakeup-hops.c - qcontext-bench-hops: the user-space cost of a
 * BH hop between two loops, for instruction counts (callgrind), not time.
 *
 *   valgrind --tool=callgrind --toggle-collect=hops_run \
 *       qcontext-bench-hops [HOPS]
 *
 * One thread, two non-threaded aio-qcontexts X and Y.  A hop: a BH running
 * on one context schedules a oneshot BH on the other
 * (aio_bh_schedule_oneshot()), and the thread runs one non-blocking
 * iteration of the other, through the class's iterate as a context thread
 * does (qcontext_iterate() adds its argument checks), which runs it.
 * Nobody sleeps, so no system call is made: what is counted is exactly the
 * loop's own work per hop (allocation, enqueue, notify, iteration, BH run,
 * statistics), deterministically, run after run.  Divide the collected
 * instructions by HOPS (default 100000).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "qcontext/aio/aio.h"
#include "qcontext/qcontext.h"

typedef struct {
    QContext *ctx[2];
    AioContext *aio[2];
    long left;
    int turn; /* the context whose BH runs next */
} Hops;

static void hop_cb(void *opaque)
{
    Hops *h = opaque;

    h->turn ^= 1;
    if (--h->left > 0) {
        aio_bh_schedule_oneshot(h->aio[h->turn], hop_cb, h);
    }
}

static void hops_loop(Hops *h)
{
    aio_bh_schedule_oneshot(h->aio[h->turn], hop_cb, h);
    while (h->left > 0) {
        QContext *ctx = h->ctx[h->turn];

        QCONTEXT_CONTEXT_GET_CLASS(ctx)->iterate(ctx, FALSE);
    }
}

/* The measured part (callgrind --toggle-collect=hops_run). */
__attribute__((noinline)) void hops_run(Hops *h);
__attribute__((noinline)) void hops_run(Hops *h)
{
    hops_loop(h);
}

static QContext *hops_ctx(const char *id)
{
    g_autofree char *opts = g_strdup_printf("aio-qcontext,id=%s,poll-max-ns=0", id);
    GError *err = NULL;
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE, opts, &err);

    if (!obj) {
        g_printerr("qcontext-bench-hops: %s\n", err->message);
        exit(1);
    }
    return QCONTEXT_CONTEXT(obj);
}

int main(int argc, char **argv)
{
    Hops h = {.left = argc > 1 ? atol(argv[1]) : 100000};

    if (h.left <= 0) {
        g_printerr("usage: qcontext-bench-hops [HOPS]\n");
        return 2;
    }
    qcontext_register_types();
    for (int i = 0; i < 2; i++) {
        h.ctx[i] = hops_ctx(i ? "hop-y" : "hop-x");
        h.aio[i] = qcontext_get_aio_context(h.ctx[i]);
        qcontext_iterate(h.ctx[i], FALSE); /* settle: first-use allocations */
    }
    /* Warm the BH cache and the allocator outside the measured part. */
    h.left = 100;
    hops_loop(&h);
    h.left = argc > 1 ? atol(argv[1]) : 100000;
    hops_run(&h);
    qom_container_del(QOM_CONTAINER_OBJECTS, "hop-x", NULL);
    qom_container_del(QOM_CONTAINER_OBJECTS, "hop-y", NULL);
    return 0;
}

/*
 * tests/vhost-user/vu-test-loop.c - aio_poll() threads (see vu-test-loop.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "qcontext/aio/atomic.h"
#include "vu-test-loop.h"

/* ------------------------------------------------------------------------ */
/* Loops                                                                     */
/* ------------------------------------------------------------------------ */

static gpointer test_loop_thread(gpointer opaque)
{
    TestLoop *l = opaque;

    l->ctx = aio_context_new(NULL);
    aio_context_set_home_thread(l->ctx); /* the thread's current context */
    pthread_mutex_lock(&l->lock);
    l->ready = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    while (!qatomic_load_acquire(&l->stop)) {
        aio_poll(l->ctx, true);
    }
    /* Run what is left (BHs scheduled before the stop). */
    while (aio_poll(l->ctx, false)) {
    }
    aio_context_clear_home_thread(l->ctx);
    return NULL;
}

void test_loop_start(TestLoop *l, const char *name)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->thread = g_thread_new(name, test_loop_thread, l);
    pthread_mutex_lock(&l->lock);
    while (!l->ready) {
        pthread_cond_wait(&l->cond, &l->lock);
    }
    pthread_mutex_unlock(&l->lock);
}

void test_loop_stop(TestLoop *l)
{
    /* Pairs with the qatomic_load_acquire() in test_loop_thread(). */
    qatomic_store_release(&l->stop, 1);
    aio_notify(l->ctx);
    g_thread_join(l->thread);
    aio_context_unref(l->ctx);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
}

typedef struct RunCall {
    void (*fn)(void *);
    void *arg;
    TestLoop *l;
    bool done;
} RunCall;

static void test_loop_run_bh(void *opaque)
{
    RunCall *c = opaque;

    c->fn(c->arg);
    pthread_mutex_lock(&c->l->lock);
    c->done = true;
    pthread_cond_broadcast(&c->l->cond);
    pthread_mutex_unlock(&c->l->lock);
}

void test_loop_run(TestLoop *l, void (*fn)(void *), void *arg)
{
    RunCall c = {.fn = fn, .arg = arg, .l = l};

    aio_bh_schedule_oneshot(l->ctx, test_loop_run_bh, &c);
    pthread_mutex_lock(&l->lock);
    while (!c.done) {
        pthread_cond_wait(&l->cond, &l->lock);
    }
    pthread_mutex_unlock(&l->lock);
}

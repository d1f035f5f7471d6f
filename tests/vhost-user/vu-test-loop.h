/*
 * tests/vhost-user/vu-test-loop.h - a thread running aio_poll() on an
 * AioContext of its own, for tests and test programs.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_VHOST_USER_VU_TEST_LOOP_H
#define TESTS_VHOST_USER_VU_TEST_LOOP_H

#include <pthread.h>
#include <stdbool.h>

#include "qcontext/aio/aio.h"

/* A thread running aio_poll() on its own AioContext. */
typedef struct TestLoop {
    GThread *thread;
    AioContext *ctx;
    int stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool ready;
} TestLoop;

void test_loop_start(TestLoop *l, const char *name);
void test_loop_stop(TestLoop *l);
/* Run @fn(@arg) on @l's thread and wait for it. */
void test_loop_run(TestLoop *l, void (*fn)(void *), void *arg);

#endif /* TESTS_VHOST_USER_VU_TEST_LOOP_H */

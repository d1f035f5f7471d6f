/*
 * tests/devices/test-mover.h - "test-mover", a device for the move tests.
 *
 * It has a steady stream of requests from three sources: a generator timer
 * (one request per period), an event notifier fd handler that takes
 * requests submitted from other threads (test_mover_submit()), and each
 * request completes either on its own timer or from a shared BH.  Every
 * request id is recorded in a bitmap when it starts and when it completes,
 * so a lost, duplicated or twice-completed request is caught.  Every
 * callback asserts it runs on the thread recorded at attach, and attach
 * asserts it runs on the thread the test expects (expect_tid).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_TEST_MOVER_H
#define TESTS_TEST_MOVER_H

#include <pthread.h>

#include "qcontext/devices/device.h"

#define TEST_MOVER_MAX_REQS (1u << 20)

typedef struct TestMover TestMover;

/** test_mover_register: register the type "test-mover" (idempotent). */
void test_mover_register(void);

/** test_mover_set_expect_tid: attach must run on kernel thread @tid. */
void test_mover_set_expect_tid(TestMover *m, int tid);

/** test_mover_submit: queue @n requests from any thread. */
void test_mover_submit(TestMover *m, guint n);

/**
 * test_mover_settled_gen: the latest attach generation (1 = the attach at
 * realize, +1 per move) in which two requests completed; reported by a BH
 * on the main AioContext, which also wakes the main loop.  Main thread.
 */
guint test_mover_settled_gen(TestMover *m);

/** test_mover_submitted / test_mover_taken: external requests so far. */
guint test_mover_submitted(TestMover *m);
guint test_mover_taken(TestMover *m);

/**
 * test_mover_check_all_done: call while quiesced: every started request
 * completed exactly once.  Returns the number of requests.
 */
guint test_mover_check_all_done(TestMover *m);

/** test_mover_attach_count: attaches so far (main thread, while quiesced). */
guint test_mover_attach_count(TestMover *m);

/** TEST_MOVER: cast a Device to TestMover (unchecked). */
#define TEST_MOVER(dev) ((TestMover *)(dev))

#endif /* TESTS_TEST_MOVER_H */

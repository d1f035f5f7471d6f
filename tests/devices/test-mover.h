/*
 * tests/devices/test-mover.h - "test-mover", a multiqueue device for the
 * device-model tests.
 *
 * Each queue has a steady stream of requests from two sources: a generator
 * timer (one request per period) and an event notifier that takes requests
 * submitted from other threads (test_mover_submit()); a request completes
 * either on its own timer (even ids) or from the queue's BH (odd ids).
 * Every request id is recorded in a bitmap when it starts and when it
 * completes, so a lost, doubled or twice-completed request is caught.
 * Every callback asserts it runs on the thread its queue was attached on,
 * and each attach asserts it runs on the thread the test expects.  The
 * control plane has a heartbeat timer that stays armed across moves.  A
 * "poke" BH per queue can be scheduled from any thread at any time.  All
 * of it is the base class's tracked sources: the mover has no attach or
 * detach code of its own except the checks.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_TEST_MOVER_H
#define TESTS_TEST_MOVER_H

#include <pthread.h>

#include "qcontext/devices/device.h"

#define TEST_MOVER_MAX_REQS (1u << 22)

typedef struct TestMover TestMover;

/** TEST_MOVER: cast a Device to TestMover (unchecked). */
#define TEST_MOVER(dev) ((TestMover *)(dev))

/* Queue arguments: 0..num-queues-1, or -1 for the control plane. */

/** test_mover_set_expect_tid: the next attach of @queue must run on @tid (0: any). */
void test_mover_set_expect_tid(TestMover *m, int queue, int tid);

/** test_mover_submit: queue @n requests on @queue from any thread. */
void test_mover_submit(TestMover *m, int queue, guint n);

/** test_mover_submitted / test_mover_taken: external requests of @queue. */
guint test_mover_submitted(TestMover *m, int queue);
guint test_mover_taken(TestMover *m, int queue);

/**
 * test_mover_settled_gen: the latest attach generation of @queue (1 = the
 * attach at realize) in which two requests completed (control plane: two
 * heartbeats); reported by a BH on main.  Main thread.
 */
guint test_mover_settled_gen(TestMover *m, int queue);

/** test_mover_attach_count: attaches of @queue so far (main, while idle). */
guint test_mover_attach_count(TestMover *m, int queue);

/** test_mover_poke: schedule @queue's poke BH from any thread; returns its number. */
guint test_mover_poke(TestMover *m, int queue);

/** test_mover_poked: the highest poke number @queue's BH has seen. */
guint test_mover_poked(TestMover *m, int queue);

/** Kernel thread ids of the last hooks of @queue ran on. */
typedef struct {
    int quiesce, detach, attach, resume;
} TestMoverHookTids;

/** test_mover_hook_tids: where @queue's last hooks ran (main, while idle). */
TestMoverHookTids test_mover_hook_tids(TestMover *m, int queue);

/**
 * test_mover_on_control: run @fn(@opaque) once on the control plane's
 * thread, wherever it is then (a tracked BH: it follows moves).  One at a
 * time.  Any thread.
 */
void test_mover_on_control(TestMover *m, void (*fn)(void *), void *opaque);

/** test_mover_resets: times the class's reset hook ran. */
guint test_mover_resets(TestMover *m);

/**
 * test_mover_check_all_done: call while every queue is stopped: every
 * started request completed exactly once.  Returns the number of requests.
 */
guint test_mover_check_all_done(TestMover *m);

#endif /* TESTS_TEST_MOVER_H */

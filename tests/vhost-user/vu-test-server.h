/*
 * tests/vhost-user/vu-test-server.h - a virtio-blk vhost-user back-end for
 * tests, in the test process: the control context and each queue's context
 * run on threads of their own, the disk is a RAM buffer whose completions
 * the test can hold back (to have requests in flight at will).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_VHOST_USER_VU_TEST_SERVER_H
#define TESTS_VHOST_USER_VU_TEST_SERVER_H

#include "qcontext/devices/blk/virtio-blk.h"
#include "qcontext/devices/vhost-user/vhost-user.h"
#include "vu-test-loop.h"

/* Counters of the RAM disk (atomic). */
typedef struct TestDiskStats {
    unsigned reads, writes, flushes, discards, write_zeroes, plugs, unplugs;
} TestDiskStats;

typedef struct TestServerOpts {
    unsigned num_queues; /* default 1 */
    bool read_only;
    uint64_t size;       /* default 16 MiB */
    bool queues_on_ctrl; /* every queue on the control loop */
    const char *serial;
} TestServerOpts;

typedef struct TestServer TestServer;

TestServer *test_server_new(const TestServerOpts *opts);
void test_server_free(TestServer *s);
const char *test_server_path(TestServer *s);
/* Read or fill the RAM disk (under the lock its requests take). */
void test_server_disk_read(TestServer *s, uint64_t off, void *buf, size_t len);
void test_server_disk_fill(TestServer *s, uint64_t off, int byte, size_t len);
void test_server_disk_stats(TestServer *s, TestDiskStats *st);
/* Hold completions back (true) or release every held one (false). */
void test_server_hold(TestServer *s, bool hold);
/* Completions held back right now. */
unsigned test_server_held(TestServer *s);
/* Disconnections seen (VuDevOps.disconnected). */
unsigned test_server_disconnects(TestServer *s);
/* Wait until @n disconnections were seen. */
void test_server_wait_disconnects(TestServer *s, unsigned n);
/* The thread each queue's requests last ran on. */
GThread *test_server_queue_thread(TestServer *s, unsigned q);
GThread *test_server_loop_thread(TestServer *s, unsigned q);
void test_server_stats(TestServer *s, VuDevStats *st);

/* Count the "vhost-user" warnings logged (install with test_log_init()). */
void test_log_init(void);
unsigned test_log_warnings(void);
/* Wait until at least @n warnings were logged. */
void test_log_wait(unsigned n);

#endif /* TESTS_VHOST_USER_VU_TEST_SERVER_H */

/*
 * tests/frontend/fake-vsock.h - a small vhost-user-vsock back-end for the
 * front-end's own tests, in a thread of the test: the control protocol
 * (features, CONFIG, memory table, rings), a split-ring device side
 * (indirect, EVENT_IDX) and a host with a few services:
 *
 *   FAKE_VSOCK_ECHO_PORT  echoes what it gets (within the guest's credit);
 *                         SHUTDOWN(SEND) is echoed once the data is;
 *                         SHUTDOWN(both) is answered with RST
 *   FAKE_VSOCK_SINK_PORT  accepts, reads nothing until fake_vsock_drain_sink()
 *   any other port        RST
 *
 * It counts what the guest got wrong (data beyond the credit the host gave,
 * malformed packets) so tests can assert the driver obeyed the spec.  It is
 * test scaffolding: the product back-end is devices/vsock/.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_FRONTEND_FAKE_VSOCK_H
#define TESTS_FRONTEND_FAKE_VSOCK_H

#include <stdint.h>

#include <glib.h>

#define FAKE_VSOCK_CID 3
#define FAKE_VSOCK_ECHO_PORT 1000
#define FAKE_VSOCK_SINK_PORT 1001
#define FAKE_VSOCK_HOST_BUF 65536 /* the host's buf_alloc per connection */
#define FAKE_VSOCK_SINK_BUF 16384 /* the sink's */

typedef struct FakeVsock FakeVsock;

/** What the fake saw. */
typedef struct FakeVsockCounters {
    uint64_t tx_packets;      /* packets the guest sent */
    uint64_t rx_packets;      /* packets delivered to the guest */
    uint64_t credit_overruns; /* guest data beyond our credit */
    uint64_t bad_packets;     /* malformed guest packets */
    uint64_t rsts_sent;
    uint64_t rsts_received;
    uint64_t echoed_bytes;
    unsigned connections; /* open now */
} FakeVsockCounters;

/** fake_vsock_new: listen on a new socket in a temporary directory. */
FakeVsock *fake_vsock_new(void);

/** fake_vsock_path: its socket. */
const char *fake_vsock_path(FakeVsock *f);

/** fake_vsock_counters: a snapshot (any thread). */
void fake_vsock_counters(FakeVsock *f, FakeVsockCounters *out);

/** fake_vsock_connect_guest: the host opens a connection to guest @port. */
void fake_vsock_connect_guest(FakeVsock *f, uint32_t port);

/** fake_vsock_drain_sink: the sink reads what it holds (and says so). */
void fake_vsock_drain_sink(FakeVsock *f);

/** fake_vsock_drop_client: close the front-end's connection. */
void fake_vsock_drop_client(FakeVsock *f);

/** fake_vsock_free: stop the thread, unmap, close, remove the directory. */
void fake_vsock_free(FakeVsock *f);

#endif /* TESTS_FRONTEND_FAKE_VSOCK_H */

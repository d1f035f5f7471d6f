/*
 * tests/vhost-user/vu-test-client.h - a minimal vhost-user front-end for
 * tests: raw messages (for hostile input), the QEMU-like handshake, rings in
 * memfd guest memory, and synchronous virtio-blk requests.
 *
 * Not a product: wp6's front-end (frontend/) is the real client; this one
 * exists so that the back-end can be tested byte by byte.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_VHOST_USER_VU_TEST_CLIENT_H
#define TESTS_VHOST_USER_VU_TEST_CLIENT_H

#include "qcontext/devices/vhost-user/vhost-user-proto.h"
#include "vu-test-driver.h"

#define TC_MAX_QUEUES 4
#define TC_TIMEOUT_MS 10000
#define TC_MAX_QSIZE 256
#define TC_MEM_SIZE (32u << 20)
#define TC_MEM_GPA 0x40000000ULL

typedef struct TestClient {
    int sock;
    TestGuestMem mem;
    unsigned nq;
    uint16_t qsize;
    TestVring vr[TC_MAX_QUEUES];
    int kick[TC_MAX_QUEUES], call[TC_MAX_QUEUES], err[TC_MAX_QUEUES];
    uint64_t features;  /* acked */
    uint64_t pfeatures; /* acked protocol features */
    int inflight_fd;    /* from GET_INFLIGHT_FD, or -1 */
    uint64_t inflight_size;
    uint8_t used_seen[TC_MAX_QUEUES][TC_MAX_QSIZE]; /* head completed, not yet waited */
    uint32_t used_len[TC_MAX_QUEUES][TC_MAX_QSIZE];
} TestClient;

/* Options of tc_setup(). */
typedef struct TcOpts {
    unsigned nq;     /* queues to set up (default 1) */
    uint16_t qsize;  /* default 16 */
    bool no_enable;  /* skip SET_VRING_ENABLE */
    bool inflight;   /* GET_INFLIGHT_FD + SET_INFLIGHT_FD */
    int inflight_fd; /* reuse this region (reconnect), with inflight */
    uint64_t inflight_size;
    bool keep_memory; /* reuse c->mem (reconnect): base = used idx */
    bool add_mem_reg; /* ADD_MEM_REG instead of SET_MEM_TABLE */
    bool no_event_idx;
} TcOpts;

/* A connected socket to @path (retries while the server starts). */
int tc_connect_path(const char *path);
/* sendmsg() @len bytes of @buf with @nfds fds. */
void tc_send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);
/* Send one message. */
void tc_send(int sock, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
             const int *fds, unsigned nfds);
/* Receive one reply (header + payload, and an fd if any); false on EOF/timeout. */
bool tc_recv(int sock, VhostUserMsg *reply, int *fd, int timeout_ms);
/* True if the peer closes @sock within @timeout_ms (nothing else arrives). */
bool tc_wait_closed(int sock, int timeout_ms);
/* True if nothing arrives on @sock for @ms milliseconds. */
bool tc_quiet(int sock, int ms);
/* Send @req with no payload and return the u64 reply. */
uint64_t tc_get_u64(int sock, uint32_t req);

/* Connect to @path and run the handshake of @opts (QEMU's order). */
void tc_setup(TestClient *c, const char *path, const TcOpts *opts);
/* Close everything the client holds (socket, eventfds, memory, inflight fd). */
void tc_cleanup(TestClient *c);
/* Close only the socket (a front-end that goes away, memory kept). */
void tc_disconnect(TestClient *c);
/* A message that asks REPLY_ACK; returns the ack value. */
uint64_t tc_send_acked(TestClient *c, uint32_t req, const void *payload, uint32_t size,
                       const int *fds, unsigned nfds);

/* virtio-blk: one request, submitted and (with tc_blk_wait) completed. */
typedef struct TcBlkReq {
    unsigned q;
    uint16_t head;
    uint64_t hdr_gpa, data_gpa, status_gpa;
    size_t len;
} TcBlkReq;

/* Build and publish a request of @type at @sector over @len bytes of a
 * fresh data buffer (filled from @data for writes); kicks unless @no_kick. */
void tc_blk_submit(TestClient *c, TcBlkReq *r, unsigned q, uint32_t type,
                   uint64_t sector, const void *data, size_t len, bool no_kick);
/* Wait until @r is used; returns its status byte, copies read data to @out. */
int tc_blk_wait(TestClient *c, TcBlkReq *r, void *out);
/* Submit and wait. */
int tc_blk(TestClient *c, unsigned q, uint32_t type, uint64_t sector, void *buf,
           size_t len);
/* Wait up to @ms for @q's call eventfd; true if it was signalled. */
bool tc_wait_call(TestClient *c, unsigned q, int ms);

#endif /* TESTS_VHOST_USER_VU_TEST_CLIENT_H */

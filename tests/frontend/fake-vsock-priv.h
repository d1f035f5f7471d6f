/*
 * tests/frontend/fake-vsock-priv.h - what the two halves of the fake
 * vhost-user-vsock back-end share: fake-vsock-dev.c (control messages,
 * memory, device side of the rings) and fake-vsock.c (the host's vsock
 * logic and the thread).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_FRONTEND_FAKE_VSOCK_PRIV_H
#define TESTS_FRONTEND_FAKE_VSOCK_PRIV_H

#include <pthread.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#include "fake-vsock.h"

#define HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define MAX_PKT (HDR + 65536)

typedef struct {
    uint64_t gpa, uva, size;
    uint8_t *hva;
    void *map;
    size_t map_len;
} Region;

typedef struct {
    unsigned num;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint16_t last_avail, used_idx;
    int kick_fd, call_fd;
    gboolean started;
} Ring;

typedef struct {
    struct iovec iov[64];
    unsigned n_out, n_in; /* readable first, then writable */
    uint16_t head;
} Chain;

typedef enum { SVC_ECHO, SVC_SINK } Service;

typedef struct {
    uint32_t guest_port, host_port;
    Service svc;
    gboolean connecting; /* host-initiated, no RESPONSE yet */
    GByteArray *pending; /* echo data not yet sent back */
    uint16_t type;       /* STREAM or SEQPACKET */
    GQueue msgs;         /* SEQPACKET: lengths of the messages in @pending */
    uint32_t partial;    /* SEQPACKET: bytes of the message still arriving */
    gboolean shut_pending;
    uint32_t buf_alloc, fwd_cnt, rx_cnt; /* ours */
    uint32_t guest_buf_alloc, guest_fwd_cnt, tx_cnt;
} HostConn;

typedef struct {
    struct virtio_vsock_hdr hdr;
} OutPkt;

typedef enum { CMD_CONNECT, CMD_DRAIN, CMD_DROP, CMD_STOP } CmdKind;

typedef struct {
    CmdKind kind;
    uint32_t port;
} Cmd;

struct FakeVsock {
    char *dir, *path;
    int listen_fd, client_fd, cmd_fd;
    GThread *thread;
    GAsyncQueue *cmds;
    uint64_t features, proto;
    Region regions[8];
    unsigned nregions;
    Ring rings[2];     /* 0 rx, 1 tx */
    GHashTable *conns; /* key -> HostConn */
    GQueue out;        /* OutPkt * control packets to deliver */
    uint32_t next_host_port;
    pthread_mutex_t lock; /* the counters (pthread: TSan sees it) */
    FakeVsockCounters c;
};

/* fake-vsock-dev.c */
gboolean fake_ring_pop(FakeVsock *f, Ring *r, Chain *c);
void fake_ring_push(FakeVsock *f, Ring *r, uint16_t head, uint32_t len);
void fake_chain_write(Chain *c, size_t off, const void *src, size_t len);
size_t fake_chain_room(const Chain *c);
gboolean fake_control(FakeVsock *f); /* FALSE: the front-end went away */
void fake_dev_reset(FakeVsock *f);

#endif /* TESTS_FRONTEND_FAKE_VSOCK_PRIV_H */

/*
 * frontend/fe-vsock-internal.h - what fe-vsock.c (device, rings, packets)
 * and fe-vsock-conn.c (connections) share.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_VSOCK_INTERNAL_H
#define FRONTEND_FE_VSOCK_INTERNAL_H

#include "frontend/fe-vsock.h"

#define FE_VSOCK_HDR_SIZE ((uint32_t)sizeof(struct virtio_vsock_hdr))

/* A posted rx buffer: header + payload, contiguous in guest memory. */
typedef struct {
    uint8_t *buf;
    uint64_t gpa;
} FeVsockRxBuf;

/* A tx packet slot. */
typedef struct {
    uint8_t *buf;
    uint64_t gpa;
    unsigned index;
} FeVsockTxSlot;

struct FeVsock {
    FeVsockOptions opt;
    FeDevice *dev;
    FeVq *rx, *tx;
    uint64_t cid;
    FeVsockRxBuf *rxb;
    FeVsockTxSlot *txs;
    unsigned *tx_free; /* stack of free slot indexes */
    unsigned n_tx_free;
    GQueue unclaimed;      /* FeVsockPkt * */
    GHashTable *conns;     /* conn_key() -> FeVsockConn * */
    GHashTable *listeners; /* guest port -> GQueue * of accepted connections */
    uint32_t next_port;
    FeVsockStats stats;
};

struct FeVsockConn {
    FeVsock *v;
    uint32_t local_port, peer_port;
    uint64_t peer_cid;
    uint16_t type;
    FeVsockState state;
    uint32_t peer_shutdown, our_shutdown;
    GByteArray *rxdata;   /* received, not yet read */
    GQueue msg_lens;      /* SEQPACKET: lengths of complete messages in rxdata */
    uint32_t partial_msg; /* SEQPACKET: bytes of the message still arriving */
    uint32_t buf_alloc, fwd_cnt;
    uint32_t adv_fwd_cnt; /* the fwd_cnt the peer last heard from us */
    uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt, rx_cnt;
    gboolean auto_credit;
    gboolean accepted; /* waiting in a listener's queue */
};

/* fe-vsock.c */
gboolean fe_vsock_wait_until(FeVsock *v, gint64 deadline, GError **errp);
gint64 fe_vsock_deadline(int timeout_ms);

/* fe-vsock-conn.c */
uint64_t fe_vsock_conn_key(uint32_t local_port, uint32_t peer_port);
void fe_vsock_dispatch(FeVsock *v, const struct virtio_vsock_hdr *hdr,
                       const uint8_t *data, uint32_t len);
void fe_vsock_conns_free(FeVsock *v);

#endif /* FRONTEND_FE_VSOCK_INTERNAL_H */

/*
 * frontend/fe-vsock.h - a virtio-vsock driver (virtio 1.x, 5.10) on the
 * vhost-user front-end, playing the guest for tests and benchmarks of a
 * vhost-user-vsock back-end (device 19).
 *
 * As QEMU's vhost-user-vsock does, the back-end gets the rx (0) and tx (1)
 * queues; the event queue stays with the VMM (here: not modelled).  The
 * guest's CID comes from the config space (le64 guest_cid).
 *
 * Two levels, usable together:
 *
 *  - packets: fe_vsock_send_pkt() puts a header and payload on the tx
 *    queue, fe_vsock_send_bytes() any bytes in any number of descriptors
 *    (hostile tests), fe_vsock_recv_pkt() returns the next received packet
 *    that no connection or listener claimed;
 *  - stream connections, as a guest kernel keeps them: fe_vsock_connect()
 *    (REQUEST -> RESPONSE or RST), fe_vsock_listen()/fe_vsock_accept()
 *    for host-initiated ones, fe_vsock_send()/fe_vsock_recv() within
 *    credit (peer_free = peer_buf_alloc - (tx_cnt - peer_fwd_cnt)),
 *    CREDIT_UPDATE sent as the application reads (or only on request:
 *    fe_vsock_conn_set_auto_credit()), CREDIT_REQUEST answered,
 *    fe_vsock_shutdown(), fe_vsock_rst(); SEQPACKET messages with EOM.
 *
 * Everything a received packet triggers happens inside fe_vsock_poll(),
 * which every blocking helper calls; nothing runs behind the caller's back.
 * Packets the device sends that break the spec (a header longer than its
 * buffer, data beyond the credit we gave, an unknown op) are counted in
 * FeVsockStats so tests can assert there were none.
 *
 * Thread safety: one thread drives an FeVsock and its connections.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_VSOCK_H
#define FRONTEND_FE_VSOCK_H

#include <stdint.h>

#include <glib.h>
#include <linux/virtio_vsock.h>

#include "frontend/fe-device.h"

G_BEGIN_DECLS

/** The host's CID (the destination of guest-initiated connections). */
#define FE_VSOCK_HOST_CID 2
/** VIRTIO_VSOCK_F_STREAM (virtio 1.2; absent from older uapi headers). */
#define FE_VSOCK_F_STREAM 0
/** Queue indexes. */
#define FE_VSOCK_RX_QUEUE 0
#define FE_VSOCK_TX_QUEUE 1

/** Options of fe_vsock_open().  Zero is the default of every field. */
typedef struct FeVsockOptions {
    const char *socket_path; /**< the back-end's socket */
    int timeout_ms;          /**< bound of every exchange and blocking helper (5000) */
    unsigned queue_size;     /**< entries of each ring (128) */
    unsigned rx_buffers;     /**< rx buffers kept posted (queue_size) */
    unsigned rx_buf_size; /**< payload bytes per rx buffer, after the header (4096) */
    gboolean rx_split;    /**< post rx buffers as header + payload descriptors */
    unsigned tx_slots;    /**< tx packets in flight at most (32) */
    unsigned tx_max_payload; /**< payload bytes per tx packet at most (64 KiB) */
    gboolean tx_split;       /**< send header and payload in separate descriptors */
    uint32_t buf_alloc;      /**< receive buffer of each connection (256 KiB) */
    gboolean seqpacket;      /**< negotiate VIRTIO_VSOCK_F_SEQPACKET if offered */
    gboolean reject_unknown; /**< answer unclaimed REQUESTs (and stray packets) with
                                  RST, as a guest kernel does; else queue them for
                                  fe_vsock_recv_pkt() */
    uint64_t guest_cid;      /**< override the config space's CID (0: use it) */
    gboolean no_event_idx, no_indirect, no_mem_slots;
} FeVsockOptions;

typedef struct FeVsock FeVsock;
typedef struct FeVsockConn FeVsockConn;

/** A received packet (header in host order: little-endian hosts only). */
typedef struct FeVsockPkt {
    struct virtio_vsock_hdr hdr;
    uint8_t *data; /**< hdr.len bytes (g_malloc), NULL when 0 */
    uint32_t len;  /**< bytes of data actually received */
} FeVsockPkt;

/** Counters of what the driver saw. */
typedef struct FeVsockStats {
    uint64_t rx_packets, tx_packets;
    uint64_t rx_bytes, tx_bytes; /**< payload bytes */
    uint64_t bad_packets;     /**< header longer than its buffer, short used length */
    uint64_t credit_overruns; /**< data beyond the receive credit we advertised */
    uint64_t unknown_ops;     /**< ops the spec does not define, on known connections */
    uint64_t credit_updates_sent, credit_requests_answered;
} FeVsockStats;

/** fe_vsock_open: connect, negotiate, read guest_cid, start rx and tx. */
FeVsock *fe_vsock_open(const FeVsockOptions *opt, GError **errp);

/** fe_vsock_close: free every connection (no packets), stop, disconnect. */
void fe_vsock_close(FeVsock *v);

/** fe_vsock_device: the underlying device (raw access). */
FeDevice *fe_vsock_device(FeVsock *v);

/** fe_vsock_guest_cid: our CID (config space or the override). */
uint64_t fe_vsock_guest_cid(const FeVsock *v);

/** fe_vsock_stats: the counters so far. */
const FeVsockStats *fe_vsock_stats(const FeVsock *v);

/**
 * fe_vsock_poll: take what the device completed (rx packets: dispatched to
 * connections/listeners or queued; tx buffers: reclaimed), waiting up to
 * @timeout_ms (0: do not wait; < 0: forever) if there was nothing.  FALSE
 * on a lost back-end or a broken ring.  TRUE also on a plain timeout.
 */
gboolean fe_vsock_poll(FeVsock *v, int timeout_ms, GError **errp);

/* ------------------------------------------------------------------------ */
/* Packets                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * fe_vsock_hdr_init: a STREAM header from us (src_cid = guest CID) to the
 * host (dst_cid = 2) with @op, ports, payload @len, buf_alloc and fwd_cnt 0.
 */
void fe_vsock_hdr_init(const FeVsock *v, struct virtio_vsock_hdr *hdr, uint16_t op,
                       uint32_t src_port, uint32_t dst_port, uint32_t len);

/**
 * fe_vsock_send_pkt: put @hdr (sent as given) and @len bytes of @payload on
 * the tx queue and kick.  Waits (bounded) for a free tx slot.
 */
gboolean fe_vsock_send_pkt(FeVsock *v, const struct virtio_vsock_hdr *hdr,
                           const void *payload, uint32_t len, GError **errp);

/**
 * fe_vsock_send_bytes: put @len arbitrary bytes (<= header + tx_max_payload)
 * on the tx queue as one chain of @nsegs descriptors (1..8; a short packet,
 * a header split anywhere...).
 */
gboolean fe_vsock_send_bytes(FeVsock *v, const void *bytes, size_t len, unsigned nsegs,
                             GError **errp);

/**
 * fe_vsock_recv_pkt: the next unclaimed packet, waiting up to @timeout_ms.
 * FE_ERROR_TIMEOUT if none came.  Free @out with fe_vsock_pkt_clear().
 */
gboolean fe_vsock_recv_pkt(FeVsock *v, FeVsockPkt *out, int timeout_ms, GError **errp);

/** fe_vsock_pkt_clear: free the packet's data. */
void fe_vsock_pkt_clear(FeVsockPkt *pkt);

/** fe_vsock_pending_pkts: unclaimed packets waiting for fe_vsock_recv_pkt(). */
unsigned fe_vsock_pending_pkts(const FeVsock *v);

/** fe_vsock_op_name: "REQUEST", "RW"... ("INVALID" for others). */
const char *fe_vsock_op_name(uint16_t op);

/* ------------------------------------------------------------------------ */
/* Connections                                                               */
/* ------------------------------------------------------------------------ */

/** A connection's state. */
typedef enum FeVsockState {
    FE_VSOCK_CONNECTING,  /**< REQUEST sent, no answer yet */
    FE_VSOCK_ESTABLISHED, /**< data may flow (maybe half-closed) */
    FE_VSOCK_CLOSED,      /**< RST received or sent */
} FeVsockState;

/**
 * fe_vsock_connect: connect to host port @port (CID 2): REQUEST, then wait
 * for RESPONSE.  An RST is FE_ERROR_REFUSED ("nobody listens there").
 * @type: VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET.
 */
FeVsockConn *fe_vsock_connect(FeVsock *v, uint32_t port, uint16_t type, GError **errp);

/**
 * fe_vsock_connect_start: send the REQUEST only; the connection is
 * CONNECTING until fe_vsock_poll() sees the answer (many at once).
 */
FeVsockConn *fe_vsock_connect_start(FeVsock *v, uint32_t port, uint16_t type,
                                    GError **errp);

/** fe_vsock_listen: accept host-initiated connections to guest port @port. */
void fe_vsock_listen(FeVsock *v, uint32_t port);

/**
 * fe_vsock_accept: the next connection the host opened to listened port
 * @port (RESPONSE already sent), waiting up to @timeout_ms.
 */
FeVsockConn *fe_vsock_accept(FeVsock *v, uint32_t port, int timeout_ms, GError **errp);

/**
 * fe_vsock_send: send all of @buf, as many RW packets as the peer's credit
 * allows at a time, waiting (up to @timeout_ms in all) for credit updates.
 * Returns the bytes sent (less than @len on timeout, with @errp set), -1
 * if nothing could be sent.  SEQPACKET: one message, EOM on its last packet.
 */
gssize fe_vsock_send(FeVsockConn *c, const void *buf, size_t len, int timeout_ms,
                     GError **errp);

/**
 * fe_vsock_recv: up to @len received bytes, waiting up to @timeout_ms for
 * the first.  Returns > 0 bytes; 0 at end of stream (the peer shut down
 * sending, or reset, and everything was read); -1 with @errp set on
 * timeout or a lost back-end.  SEQPACKET: at most one message.
 */
gssize fe_vsock_recv(FeVsockConn *c, void *buf, size_t len, int timeout_ms,
                     GError **errp);

/** fe_vsock_recv_all: exactly @len bytes or FALSE (EOF first, timeout...). */
gboolean fe_vsock_recv_all(FeVsockConn *c, void *buf, size_t len, int timeout_ms,
                           GError **errp);

/**
 * fe_vsock_shutdown: SHUTDOWN with @flags (VIRTIO_VSOCK_SHUTDOWN_RCV,
 * _SEND, both).
 */
gboolean fe_vsock_shutdown(FeVsockConn *c, uint32_t flags, GError **errp);

/** fe_vsock_rst: send RST; the connection is CLOSED. */
gboolean fe_vsock_rst(FeVsockConn *c, GError **errp);

/**
 * fe_vsock_wait_closed: wait up to @timeout_ms for the peer's RST.  TRUE
 * if the connection is CLOSED.
 */
gboolean fe_vsock_wait_closed(FeVsockConn *c, int timeout_ms, GError **errp);

/** fe_vsock_conn_free: forget @c (sends nothing: RST first if you want one). */
void fe_vsock_conn_free(FeVsockConn *c);

/** fe_vsock_conn_state: where @c is. */
FeVsockState fe_vsock_conn_state(const FeVsockConn *c);

/** fe_vsock_conn_local_port / peer_port: the ports. */
uint32_t fe_vsock_conn_local_port(const FeVsockConn *c);
uint32_t fe_vsock_conn_peer_port(const FeVsockConn *c);

/** fe_vsock_conn_peer_shutdown: the SHUTDOWN flags the peer sent so far. */
uint32_t fe_vsock_conn_peer_shutdown(const FeVsockConn *c);

/** fe_vsock_conn_readable: received bytes not yet read. */
size_t fe_vsock_conn_readable(const FeVsockConn *c);

/** fe_vsock_conn_peer_free: what the peer's credit lets us send now. */
uint32_t fe_vsock_conn_peer_free(const FeVsockConn *c);

/** Credit counters of a connection, as the spec names them. */
typedef struct FeVsockCredit {
    uint32_t buf_alloc, fwd_cnt;           /**< ours */
    uint32_t peer_buf_alloc, peer_fwd_cnt; /**< the peer's, last seen */
    uint32_t tx_cnt, rx_cnt;               /**< payload bytes sent / received */
} FeVsockCredit;

/** fe_vsock_conn_credit: the counters. */
void fe_vsock_conn_credit(const FeVsockConn *c, FeVsockCredit *out);

/**
 * fe_vsock_conn_set_auto_credit: return credit as the application reads
 * (default on): every packet carries the current fwd_cnt and a
 * CREDIT_UPDATE goes out once a quarter of buf_alloc was read.  Off ("a
 * guest that never returns credit"): packets keep carrying the fwd_cnt
 * last advertised; only fe_vsock_credit_update() advances it.
 */
void fe_vsock_conn_set_auto_credit(FeVsockConn *c, gboolean on);

/** fe_vsock_credit_update: send CREDIT_UPDATE now. */
gboolean fe_vsock_credit_update(FeVsockConn *c, GError **errp);

/** fe_vsock_credit_request: send CREDIT_REQUEST. */
gboolean fe_vsock_credit_request(FeVsockConn *c, GError **errp);

G_END_DECLS

#endif /* FRONTEND_FE_VSOCK_H */

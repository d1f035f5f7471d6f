/*
 * devices/vsock/vsock-internal.h - the muxer's parts: connections (the
 * protocol state machine, vsock-conn.c), endpoints (the host side of a
 * connection: a unix socket, vsock-unix.c, or an in-process service,
 * vsock-local.c), the listener (vsock-listen.c), byte rings and iovec
 * helpers (vsock-buf.c), and the muxer that routes packets (vsock-mux.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_VSOCK_INTERNAL_H
#define DEVICES_VSOCK_INTERNAL_H

#include <pthread.h>

#include "qcontext/devices/vsock/vsock.h"

/* Both shutdown bits. */
#define VSOCK_SHUT_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)
/* Seqpacket connections advertise at most this buffer (one message fits). */
#define VSOCK_SEQ_BUF_ALLOC (64 * 1024)
/* Most complete seqpacket messages one connection queues for its host peer. */
#define VSOCK_SEQ_MAX_QUEUED 4096
/* Longest "CONNECT <port>\n" line a host process may send. */
#define VSOCK_CONNECT_LINE_MAX 32
/* Host-initiated connections get host ports in [1 << 30, 1 << 31). */
#define VSOCK_LOCAL_PORT_BASE (1u << 30)

/* ------------------------------------------------------------------------ */
/* Byte rings and iovecs (vsock-buf.c)                                       */
/* ------------------------------------------------------------------------ */

/* A byte ring whose storage is allocated on first use and freed when empty. */
typedef struct VsockRing {
    uint8_t *buf;
    uint32_t cap;
    uint32_t head;
    uint32_t len;
} VsockRing;

void vsock_ring_init(VsockRing *r, uint32_t cap);
/* Append @len bytes of @iov from @offset; the caller made sure they fit. */
void vsock_ring_push_iov(VsockRing *r, const struct iovec *iov, unsigned iovcnt,
                         size_t offset, size_t len);
void vsock_ring_push(VsockRing *r, const void *data, size_t len);
/* The queued bytes as up to two runs (@max bytes at most); returns the count. */
unsigned vsock_ring_peek(const VsockRing *r, size_t max, struct iovec out[2]);
void vsock_ring_consume(VsockRing *r, size_t len);
void vsock_ring_free(VsockRing *r);
static inline uint32_t vsock_ring_space(const VsockRing *r)
{
    return r->cap - r->len;
}

size_t vsock_iov_size(const struct iovec *iov, unsigned iovcnt);
size_t vsock_iov_to_buf(const struct iovec *iov, unsigned iovcnt, size_t offset,
                        void *buf, size_t len);
size_t vsock_iov_from_buf(const struct iovec *iov, unsigned iovcnt, size_t offset,
                          const void *buf, size_t len);
/*
 * Up to @dst_max entries of @dst describe @len bytes of @src from @offset
 * (fewer if @src is shorter or @dst too small).  Returns the entry count;
 * *@got = the bytes described.
 */
unsigned vsock_iov_slice(const struct iovec *src, unsigned iovcnt, size_t offset,
                         size_t len, struct iovec *dst, unsigned dst_max, size_t *got);

/* ------------------------------------------------------------------------ */
/* Connections (vsock-conn.c)                                                */
/* ------------------------------------------------------------------------ */

typedef struct VsockConn VsockConn;

/* Packets a connection owes the guest, sent in this order of priority. */
enum {
    VSOCK_PEND_RST = 1 << 0,
    VSOCK_PEND_REQUEST = 1 << 1,
    VSOCK_PEND_RESPONSE = 1 << 2,
    VSOCK_PEND_RW = 1 << 3, /* the endpoint may have data (or its end) */
    VSOCK_PEND_SHUTDOWN = 1 << 4,
    VSOCK_PEND_CREDIT_REQUEST = 1 << 5,
    VSOCK_PEND_CREDIT_UPDATE = 1 << 6,
};

typedef enum {
    VSOCK_CONN_CONNECTING, /* host-initiated: REQUEST sent, awaiting RESPONSE */
    VSOCK_CONN_ESTABLISHED,
    VSOCK_CONN_DEAD, /* host side closed; the RST to the guest is pending */
} VsockConnState;

/* Results of VsockEndpointOps.read besides a byte count. */
#define VSOCK_EP_AGAIN 0
#define VSOCK_EP_EOF (-1)
#define VSOCK_EP_ERROR (-2)

/*
 * The host side of a connection.  Its memory lives as long as the connection
 * (freed by @free); @close releases the host resources early (socket, BHs).
 */
typedef struct VsockEndpointOps {
    /*
     * Host bytes for the guest: at most @max into @iov.  Returns the count,
     * VSOCK_EP_AGAIN (nothing now: the endpoint calls vsock_conn_rx_ready()
     * when there is), VSOCK_EP_EOF (the host sends no more; *@shut gets
     * VIRTIO_VSOCK_SHUTDOWN_RCV too if it receives no more either) or
     * VSOCK_EP_ERROR.  *@flags gets EOM/EOR for seqpacket.
     */
    ssize_t (*read)(VsockConn *c, const struct iovec *iov, unsigned iovcnt, size_t max,
                    uint32_t *flags, uint32_t *shut);
    /*
     * Guest bytes for the host (within credit, so they always fit): 0, or
     * -EPIPE if the host receives no more, or another -errno (reset).  The
     * endpoint reports them with vsock_conn_forwarded() once passed on.
     */
    int (*write)(VsockConn *c, const struct iovec *iov, unsigned iovcnt, size_t offset,
                 size_t len, uint32_t flags);
    /* The guest shut down @how (RCV and/or SEND bits), newly. */
    void (*shutdown)(VsockConn *c, uint32_t how);
    /* The connection is established (host-initiated: the guest accepted). */
    void (*established)(VsockConn *c);
    /* True while guest bytes wait for the host (not yet forwarded). */
    bool (*tx_pending)(VsockConn *c);
    /* Guest credit changed: @peer_free bytes may now be sent to the guest. */
    void (*credit)(VsockConn *c, uint32_t peer_free);
    /* Release host resources (idempotent); @reset: the close is abortive. */
    void (*close)(VsockConn *c, bool reset);
    void (*free)(VsockConn *c);
} VsockEndpointOps;

struct VsockConn {
    uint64_t key; /* local_port << 32 | peer_port: the table key */
    VsockMux *mux;
    uint32_t local_port;
    uint32_t peer_port;
    uint16_t type;
    bool host_initiated;
    uint64_t binding; /* the VsockBinding.id that accepted it; 0: a unix socket */
    VsockConnState state;
    uint32_t pending;

    /* Our receive side (guest -> host). */
    uint32_t buf_alloc;
    uint32_t rx_cnt;       /* payload bytes received from the guest */
    uint32_t fwd_cnt;      /* ... of which passed on to the host */
    uint32_t last_fwd_cnt; /* fwd_cnt as the guest last saw it */

    /* The guest's receive side (host -> guest). */
    uint32_t tx_cnt; /* payload bytes sent to the guest */
    uint32_t peer_buf_alloc;
    uint32_t peer_fwd_cnt;
    bool credit_stalled; /* data waits for guest credit; CREDIT_REQUEST sent */

    uint32_t guest_shut; /* SHUTDOWN bits received */
    uint32_t host_shut;  /* SHUTDOWN bits to send / sent */
    bool host_eof;       /* the endpoint's data ended */

    bool in_rxq;
    bool in_killq;
    GList rx_link;   /* in mux->rxq: has packets for the guest */
    GList kill_link; /* in mux->killq: reset at expiry_ns unless answered */
    int64_t expiry_ns;

    const VsockEndpointOps *ep_ops;
    void *ep;
};

VsockConn *vsock_conn_new(VsockMux *mux, uint32_t local_port, uint32_t peer_port,
                          uint16_t type);
/* A guest packet for @c (header already checked by the muxer). */
void vsock_conn_tx(VsockConn *c, const struct virtio_vsock_hdr *hdr,
                   const struct iovec *iov, unsigned iovcnt);
/*
 * Produce @c's next packet: fills @hdr, writes the payload into @iov (the
 * buffer past the header, @room bytes).  Returns the payload length, or -1
 * if @c has nothing after all.
 */
ssize_t vsock_conn_fill(VsockConn *c, struct virtio_vsock_hdr *hdr,
                        const struct iovec *iov, unsigned iovcnt, size_t room);
/* Add pending packets to @c (schedules it). */
void vsock_conn_set_pending(VsockConn *c, uint32_t pend);
/* Abort: close the host side now, RST to the guest. */
void vsock_conn_abort(VsockConn *c);
/* The kill-queue deadline passed. */
void vsock_conn_expire(VsockConn *c);

/* Endpoint -> connection. */
void vsock_conn_rx_ready(VsockConn *c);
void vsock_conn_forwarded(VsockConn *c, uint32_t len);
/* The host receives no more (a write failed with EPIPE). */
void vsock_conn_host_no_recv(VsockConn *c);
/* The endpoint flushed everything it held for the host (tx_pending false). */
void vsock_conn_flushed(VsockConn *c);
/* The local service closed: @reset, or gracefully, after its queued bytes. */
void vsock_conn_local_close(VsockConn *c, bool reset);

uint32_t vsock_conn_peer_free(const VsockConn *c);

/* ------------------------------------------------------------------------ */
/* Endpoints                                                                 */
/* ------------------------------------------------------------------------ */

/* A connected unix socket @fd (nonblocking; taken over); @prefix: host bytes
 * already read (after a CONNECT line) to deliver first. */
void vsock_unix_attach(VsockConn *c, int fd, bool seqpacket, const void *prefix,
                       size_t prefix_len);
/* Connect to "<uds-path>_<port>" for a guest REQUEST; -errno on failure. */
int vsock_unix_connect(VsockMux *mux, uint32_t port, bool seqpacket);

/* A new in-process endpoint for @c (the service attaches in its accept). */
VsockLocal *vsock_local_new(VsockConn *c);

/* ------------------------------------------------------------------------ */
/* Listener (vsock-listen.c)                                                 */
/* ------------------------------------------------------------------------ */

typedef struct VsockListener VsockListener;

VsockListener *vsock_listener_new(VsockMux *mux, const char *path, GError **errp);
void vsock_listener_free(VsockListener *l);
/* Close every host socket still sending its CONNECT line. */
void vsock_listener_drop_pending(VsockListener *l);

/* ------------------------------------------------------------------------ */
/* The muxer (vsock-mux.c)                                                   */
/* ------------------------------------------------------------------------ */

typedef struct VsockBinding {
    VsockAcceptFn *accept;
    void *opaque;
    uint64_t id; /* its connections carry it (VsockConn.binding) */
} VsockBinding;

typedef struct VsockRst {
    uint32_t local_port;
    uint32_t peer_port;
    uint16_t type;
} VsockRst;

struct VsockMux {
    AioContext *ctx;
    uint64_t guest_cid;
    char *uds_path;
    uint32_t max_conns;
    uint32_t buf_alloc;
    int64_t timeout_ns;
    bool seqpacket;

    GHashTable *conns;       /* &conn->key -> conn */
    GHashTable *local_ports; /* host ports of host-initiated connections */
    uint32_t local_port_last;
    pthread_mutex_t bind_lock; /* bindings, next_binding, unbound */
    GHashTable *bindings;      /* port -> VsockBinding */
    uint64_t next_binding;
    GArray *unbound; /* ids of bindings removed, their connections to reset */
    QEMUBH *unbind_bh;
    uint32_t pending_host; /* host sockets still sending their CONNECT line */
    VsockListener *listener;

    GQueue rxq;     /* connections with pending packets, round robin */
    VsockRst *rsts; /* RSTs owed for packets of no connection (a ring) */
    uint32_t rst_cap, rst_head, rst_len;
    QEMUBH *rx_bh;
    VsockRxNotify *rx_notify;
    void *rx_opaque;

    GQueue killq; /* closing connections, in expiry order */
    QEMUTimer *kill_timer;

    VsockMuxStats stats;
};

/* Connection bookkeeping used by the listener and the connections. */
bool vsock_mux_has_room(VsockMux *mux);
uint32_t vsock_mux_alloc_local_port(VsockMux *mux);
void vsock_mux_add_conn(VsockMux *mux, VsockConn *c);
void vsock_mux_schedule(VsockMux *mux, VsockConn *c);
void vsock_mux_kill_later(VsockMux *mux, VsockConn *c);
void vsock_mux_kill_cancel(VsockMux *mux, VsockConn *c);
void vsock_mux_push_rst(VsockMux *mux, uint32_t local_port, uint32_t peer_port,
                        uint16_t type);
void vsock_mux_buffered(VsockMux *mux, int64_t delta);

#endif /* DEVICES_VSOCK_INTERNAL_H */

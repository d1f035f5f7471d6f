/*
 * devices/vsock/vsock.h - the virtio-vsock connection muxer: the device logic
 * of vhost-user-vsock, independent of the transport.
 *
 * A VsockMux speaks the virtio socket device protocol (virtio 1.2, "Socket
 * Device") with one guest, packet by packet, and maps every guest connection
 * to the host the way Firecracker's hybrid vsock does:
 *
 * - a guest connection to CID 2 port P is a connection to the unix socket
 *   "<uds-path>_P" (SOCK_STREAM, or SOCK_SEQPACKET for seqpacket sockets);
 *   nobody listening there -> RST to the guest;
 * - a host process connects to "<uds-path>", writes "CONNECT <port>\n"
 *   ("connect" in any case; bytes after the newline are payload), and once
 *   the guest accepted, reads "OK <host-port>\n" and then the stream;
 * - a port bound with vsock_mux_bind_port() is served in-process instead
 *   (the pipe device), through a VsockLocal endpoint (below).
 *
 * The transport hands the muxer guest->host packets (tx queue) with
 * vsock_mux_tx() and asks it for host->guest packets (rx queue) with
 * vsock_mux_rx() whenever it has an rx buffer; the muxer calls the rx-notify
 * callback when rx work appears.  Replies the guest cannot take yet (rx
 * full) wait in bounded per-connection state, so tx is always drained.
 *
 * Threads: a VsockMux lives on one AioContext (its host sockets are fd
 * handlers there); every vsock_mux_*() call is made on that context's home
 * thread, except vsock_mux_new() and vsock_mux_bind_port()/_unbind_port(),
 * which any thread may call.  The VsockLocal service-side calls
 * (vsock_local_*) are made on the thread of the AioContext given to
 * vsock_local_attach().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_VSOCK_VSOCK_H
#define QCONTEXT_DEVICES_VSOCK_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <glib.h>
#include <linux/virtio_vsock.h>

#include "qcontext/aio/aio.h"

G_BEGIN_DECLS

/** The host's well-known CID. */
#define VSOCK_HOST_CID 2
/** Size of the packet header that starts every packet. */
#define VSOCK_HDR_LEN ((size_t)sizeof(struct virtio_vsock_hdr))
/** The largest payload of one packet, in either direction (Linux's limit). */
#define VSOCK_MAX_PKT_PAYLOAD (64 * 1024)

#ifndef VIRTIO_VSOCK_F_STREAM
/** Feature bit 0: stream sockets (virtio 1.2; absent from older headers). */
#define VIRTIO_VSOCK_F_STREAM 0
#endif

/** Defaults of VsockMuxConfig (a zero field takes these). */
#define VSOCK_DEFAULT_BUF_ALLOC (256 * 1024) /**< buf_alloc: bytes per connection */
#define VSOCK_DEFAULT_MAX_CONNS 4096         /**< max_conns */
#define VSOCK_DEFAULT_TIMEOUT_MS 2000        /**< request and close timeouts */

/** Error domain of the vsock device logic. */
#define VSOCK_ERROR (vsock_error_quark())
/** vsock_error_quark: the GQuark behind VSOCK_ERROR. */
GQuark vsock_error_quark(void);

/** The vsock muxer of one device: guest packets to host sockets (opaque). */
typedef struct VsockMux VsockMux;
/** An in-process endpoint of a muxer (the pipe device's side; opaque). */
typedef struct VsockLocal VsockLocal;

/** VsockRxNotify: rx work appeared (called from a BH on the muxer's context). */
typedef void VsockRxNotify(void *opaque);

/**
 * VsockMuxConfig: what vsock_mux_new() is built from.
 * @guest_cid: the guest's CID (3 .. 0xfffffffe).
 * @uds_path: the host unix socket path of hybrid vsock; NULL = no host
 *   sockets (only bound ports are served).
 * @max_conns: cap on connections at once (guest or host initiated, also
 *   those waiting for their CONNECT line); beyond it a guest REQUEST gets an
 *   RST and a host connection is closed at once.  0 = 4096.
 * @buf_alloc: receive buffer per connection advertised to the guest: the
 *   most guest bytes the muxer holds for one connection whose host peer does
 *   not read.  0 = 256 KiB.  Seqpacket connections use at most 64 KiB.
 * @timeout_ms: how long a host-initiated REQUEST waits for the guest's
 *   answer, and a closing connection for the guest's RST, before the muxer
 *   resets it.  0 = 2000.
 * @rx_notify: the rx-notify callback from the start (see
 *   vsock_mux_set_rx_notify()); may be NULL.
 * @rx_opaque: the data passed to @rx_notify.
 */
typedef struct VsockMuxConfig {
    uint64_t guest_cid;
    const char *uds_path;
    uint32_t max_conns;
    uint32_t buf_alloc;
    uint32_t timeout_ms;
    VsockRxNotify *rx_notify;
    void *rx_opaque;
} VsockMuxConfig;

/**
 * VsockMuxStats: counters of a muxer.  @conns: connections now (including
 * host sockets still sending their CONNECT line); @buffered: guest bytes held
 * now for host peers that do not read, plus host bytes held for the guest
 * (seqpacket messages, local endpoints); the rest count since creation.
 */
typedef struct VsockMuxStats {
    uint64_t conns;       /**< connections now */
    uint64_t conns_total; /**< connections since creation */
    uint64_t buffered;    /**< bytes held now, both ways */
    uint64_t tx_packets;  /**< packets from the guest */
    uint64_t tx_bytes;    /**< payload bytes from the guest */
    uint64_t rx_packets;  /**< packets to the guest */
    uint64_t rx_bytes;    /**< payload bytes to the guest */
    uint64_t dropped;     /**< guest packets dropped (malformed, unknown) */
    uint64_t rst_sent;    /**< RSTs sent to the guest */
    uint64_t rst_lost;    /**< RSTs that found no rx buffer in time */
} VsockMuxStats;

/**
 * vsock_mux_new: a muxer on @ctx for @cfg.  With a @uds_path, listens there
 * (mode 0600; a stale socket file nobody listens on is replaced, a live one
 * is an error).  Any thread: the muxer runs on @ctx's home thread from the
 * moment it returns (host processes may connect at once).
 */
VsockMux *vsock_mux_new(AioContext *ctx, const VsockMuxConfig *cfg, GError **errp);

/**
 * vsock_mux_free: close every connection (host sockets closed, nothing sent
 * to the guest), stop listening, remove the socket file, free @mux.
 */
void vsock_mux_free(VsockMux *mux);

/** vsock_mux_set_rx_notify: set the callback run when rx work appears. */
void vsock_mux_set_rx_notify(VsockMux *mux, VsockRxNotify *cb, void *opaque);

/**
 * vsock_mux_set_features: the virtio features the driver accepted.  Without
 * VIRTIO_VSOCK_F_SEQPACKET, seqpacket packets are answered with RST as an
 * unknown type.
 */
void vsock_mux_set_features(VsockMux *mux, uint64_t features);

/**
 * vsock_mux_tx: one packet from the guest's tx queue: the header and its
 * payload as the guest laid them out in @iov (any split; bytes past the
 * header's len are ignored).  The packet is always consumed: malformed or
 * unexpected packets are dropped or answered with RST (never an RST to an
 * RST), so the tx queue is drained even while rx is full.
 */
void vsock_mux_tx(VsockMux *mux, const struct iovec *iov, unsigned iovcnt);

/**
 * vsock_mux_rx_pending: true if the muxer may have a packet for the guest
 * (vsock_mux_rx() may still find nothing: a host socket that looked
 * readable may have no data).
 */
bool vsock_mux_rx_pending(VsockMux *mux);

/**
 * vsock_mux_rx: write the next host->guest packet (header, then payload)
 * into the guest rx buffer @iov.  Returns the bytes written (header +
 * payload), 0 if there is nothing to send (the buffer is untouched; give it
 * back), or -EMSGSIZE if the buffer is smaller than a header.
 */
ssize_t vsock_mux_rx(VsockMux *mux, const struct iovec *iov, unsigned iovcnt);

/**
 * vsock_mux_reset: the front-end went away: close every connection's host
 * side now and queue an RST for each for the guest (delivered by the next
 * vsock_mux_rx() calls, e.g. after a reconnect), so nothing silently
 * resumes.  The muxer keeps listening and serves new connections.
 */
void vsock_mux_reset(VsockMux *mux);

/** vsock_mux_get_stats: a snapshot of @mux's counters. */
void vsock_mux_get_stats(VsockMux *mux, VsockMuxStats *stats);

/** vsock_mux_get_guest_cid: the guest CID @mux was built with. */
uint64_t vsock_mux_get_guest_cid(VsockMux *mux);

/* ------------------------------------------------------------------------ */
/* In-process endpoints: ports served by the daemon itself (pipe device)      */
/* ------------------------------------------------------------------------ */

/**
 * VsockAcceptFn: a guest REQUEST for a bound port.  Runs on the muxer's
 * thread.  Return true after vsock_local_attach(@local, ...) to accept (the
 * guest gets RESPONSE); false to refuse (RST; @local is freed by the muxer).
 */
typedef bool VsockAcceptFn(VsockLocal *local, void *opaque);

/**
 * vsock_mux_bind_port: serve guest connections to host port @port with
 * @accept instead of "<uds-path>_@port".  Fails if @port is bound already.
 * Any thread: a REQUEST the muxer handles after it returns is @accept's.
 */
bool vsock_mux_bind_port(VsockMux *mux, uint32_t port, VsockAcceptFn *accept,
                         void *opaque, GError **errp);

/**
 * vsock_mux_unbind_port: stop serving @port: no connection to it is
 * accepted once this returns; those already open are reset (RST to the
 * guest, closed callback to their service) on the muxer's thread: now if
 * called there, else soon.  Any thread.
 */
void vsock_mux_unbind_port(VsockMux *mux, uint32_t port);

/**
 * VsockLocalOps: the service side of an in-process connection.  Each runs
 * on the thread of the AioContext given to vsock_local_attach(), from a BH.
 * @readable: guest bytes (or the guest's end of data) can be read with
 *   vsock_local_peek()/vsock_local_consume().
 * @writable: vsock_local_send() may accept bytes again (after it accepted
 *   fewer than asked).
 * @closed: the connection is gone (guest RST or close, timeout, unbind,
 *   front-end reset, or the service's own vsock_local_close() completed):
 *   no callback follows; call vsock_local_release().
 */
typedef struct VsockLocalOps {
    void (*readable)(VsockLocal *local, void *opaque);
    void (*writable)(VsockLocal *local, void *opaque);
    void (*closed)(VsockLocal *local, void *opaque);
} VsockLocalOps;

/**
 * vsock_local_attach: in a VsockAcceptFn, bind the service side of @local:
 * its callbacks run on @ctx's home thread with @opaque.
 */
void vsock_local_attach(VsockLocal *local, AioContext *ctx, const VsockLocalOps *ops,
                        void *opaque);

/** vsock_local_guest_port: the guest's port of @local's connection (any thread). */
uint32_t vsock_local_guest_port(VsockLocal *local);

/**
 * vsock_local_peek: the guest bytes not yet consumed, as one contiguous run
 * (*@data, return value; a second call after vsock_local_consume() returns
 * the rest).  0 if none.  Service thread.
 */
size_t vsock_local_peek(VsockLocal *local, const uint8_t **data);

/**
 * vsock_local_consume: @len bytes of those peeked are used: the guest gets
 * their credit back.  Service thread.
 */
void vsock_local_consume(VsockLocal *local, size_t len);

/**
 * vsock_local_eof: true once the guest shut down its sending side and every
 * byte it sent was consumed.  Service thread.
 */
bool vsock_local_eof(VsockLocal *local);

/**
 * vsock_local_send: queue up to @len bytes for the guest; returns how many
 * were taken: never more than the guest's free credit minus what is already
 * queued (bounded by a per-connection cap).  If fewer than @len, @writable
 * is called once more can be taken.  0 after a close.  Service thread.
 */
size_t vsock_local_send(VsockLocal *local, const void *data, size_t len);

/**
 * vsock_local_shutdown_send: the service sends nothing more: once queued
 * bytes are delivered the guest reads end-of-file.  Service thread.
 */
void vsock_local_shutdown_send(VsockLocal *local);

/**
 * vsock_local_close: close the connection once the queued bytes are
 * delivered: gracefully (SHUTDOWN both ways; the guest answers RST) or, with
 * @reset, with an RST.  @closed follows.  Service thread.
 */
void vsock_local_close(VsockLocal *local, bool reset);

/**
 * vsock_local_release: drop the service's reference, after @closed (or
 * after vsock_local_close(), if the service will not wait for @closed: then
 * no callback runs any more).  Service thread.
 */
void vsock_local_release(VsockLocal *local);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_VSOCK_VSOCK_H */

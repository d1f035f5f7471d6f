/*
 * devices/vsock/vhost-user-vsock.h - the vhost-user-vsock device: virtio
 * device 19 over vhost-user, hybrid vsock to host unix sockets (the muxer
 * of vsock.h) and in-process ports (the pipe device).
 *
 *   -device vhost-user-vsock,id=ID,socket=PATH|fd=N,guest-cid=CID
 *           [,uds-path=PATH][,max-connections=N][,buf-alloc=SIZE][,context=CTX]
 *
 * The front-end (QEMU's vhost-user-vsock-pci) hands the back-end the rx (0)
 * and tx (1) queues and keeps the event queue; it reads guest_cid from the
 * config space (le64).  Features: VIRTIO_VSOCK_F_STREAM and
 * VIRTIO_VSOCK_F_SEQPACKET.
 *
 * One context: the connection muxer, the vhost-user socket and both queues
 * run on the device's `context` (a queue-contexts that puts a queue
 * elsewhere is refused; so is any move).  A front-end that disconnects
 * closes every connection: host sockets are closed at once and the guest
 * gets an RST for each from the next front-end; nothing silently resumes.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_VSOCK_VHOST_USER_VSOCK_H
#define QCONTEXT_DEVICES_VSOCK_VHOST_USER_VSOCK_H

#include "qcontext/devices/vhost-user/vu-device.h"
#include "qcontext/devices/vsock/vsock.h"

G_BEGIN_DECLS

/**
 * VHOST_USER_VSOCK_TYPE:
 *
 * The GType of VhostUserVsock ("vhost-user-vsock").
 */
#define VHOST_USER_VSOCK_TYPE (vhost_user_vsock_get_type())
/**
 * VhostUserVsock:
 *
 * The vhost-user-vsock device: virtio device 19, its rx and tx queues and
 * the hybrid-vsock muxer on the device's context.
 */
G_DECLARE_FINAL_TYPE(VhostUserVsock, vhost_user_vsock, QDEV, VHOST_USER_VSOCK,
                     VhostUserDevice)

/** VHOST_USER_VSOCK: cast to VhostUserVsock (checked). */
#define VHOST_USER_VSOCK(obj) QDEV_VHOST_USER_VSOCK(obj)

/**
 * vhost_user_vsock_bind_port: serve guest connections to host port @port
 * in-process with @accept (see vsock_mux_bind_port()) until
 * vhost_user_vsock_unbind_port() or the device's deletion (which resets
 * them).  Any thread.  Fails if the port is served already or the device
 * is not running (being deleted, or gone).
 */
gboolean vhost_user_vsock_bind_port(VhostUserVsock *vs, uint32_t port,
                                    VsockAcceptFn *accept, void *opaque, GError **errp);

/**
 * vhost_user_vsock_unbind_port: stop serving @port: nothing is accepted on
 * it once this returns; its open connections are reset on the device's
 * thread.  Any thread.  Nothing to do if the device is gone.
 */
void vhost_user_vsock_unbind_port(VhostUserVsock *vs, uint32_t port);

/**
 * vhost_user_vsock_get_stats: the muxer's counters.  On the device's
 * context thread; FALSE (and zeros) once the device is gone.
 */
gboolean vhost_user_vsock_get_stats(VhostUserVsock *vs, VsockMuxStats *stats);

/** vhost_user_vsock_get_guest_cid: the guest-cid property.  Any thread. */
uint64_t vhost_user_vsock_get_guest_cid(VhostUserVsock *vs);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_VSOCK_VHOST_USER_VSOCK_H */

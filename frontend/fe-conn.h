/*
 * frontend/fe-conn.h - the front-end's end of one vhost-user connection:
 * framing, file-descriptor passing, replies, REPLY_ACK and timeouts, as
 * QEMU's docs/interop/vhost-user.rst specifies them for the front-end.
 *
 * Every call is bounded by the connection's timeout.  A send or receive
 * error, a timeout, a malformed reply or the back-end closing the socket
 * marks the connection dead: later calls fail at once with
 * FE_ERROR_DISCONNECTED, so nothing waits on a back-end that is gone.
 *
 * Thread safety: requests are serialized by a lock, so any thread may send
 * them; fe_conn_is_dead() may be called from any thread at any time.
 *
 * Two levels: typed requests (fe_conn_get_features(), ...) that build the
 * payload, check the reply and close fds on every error path; and raw
 * access (fe_conn_send_raw(), fe_conn_send(), fe_conn_recv()) that sends
 * whatever the caller asks -- wrong sizes, wrong fd counts, unknown
 * requests -- for tests of hostile front-ends.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_CONN_H
#define FRONTEND_FE_CONN_H

#include <stdint.h>

#include <glib.h>

#include "qcontext/devices/vhost-user/vhost-user-proto.h"
#include "frontend/fe-error.h"
#include "frontend/fe-mem.h"

G_BEGIN_DECLS

/** Default bound of each exchange with the back-end, in milliseconds. */
#define FE_CONN_DEFAULT_TIMEOUT_MS 5000

typedef struct FeConn FeConn;

/** A message received from the back-end, with the fds that came with it. */
typedef struct FeMsg {
    VhostUserMsg msg; /**< header and payload (hdr.size bytes of it) */
    int fds[VHOST_USER_MAX_FDS];
    unsigned nfds; /**< fds received; the receiver owns and closes them */
} FeMsg;

/**
 * fe_conn_connect: connect to the back-end listening at unix socket @path.
 * While the socket does not exist or refuses connections (a back-end still
 * starting), retries for up to @timeout_ms, which also becomes the
 * connection's timeout (<= 0: FE_CONN_DEFAULT_TIMEOUT_MS).
 */
FeConn *fe_conn_connect(const char *path, int timeout_ms, GError **errp);

/**
 * fe_conn_new_fd: adopt connected stream socket @fd (made non-blocking;
 * closed by fe_conn_free()).
 */
FeConn *fe_conn_new_fd(int fd, int timeout_ms);

/** fe_conn_free: close the socket and free @c.  NULL is allowed. */
void fe_conn_free(FeConn *c);

/** fe_conn_fd: the socket (owned by @c), e.g. to watch for POLLHUP. */
int fe_conn_fd(const FeConn *c);

/** fe_conn_set_timeout: the bound of each later exchange (ms, > 0). */
void fe_conn_set_timeout(FeConn *c, int timeout_ms);

/** fe_conn_timeout: the current bound of each exchange, in ms. */
int fe_conn_timeout(const FeConn *c);

/** fe_conn_is_dead: an error or hang-up was seen (any thread). */
gboolean fe_conn_is_dead(const FeConn *c);

/**
 * fe_conn_check_alive: poll the socket without blocking; if the back-end
 * hung up, mark @c dead.  Returns !fe_conn_is_dead().  Any thread.
 */
gboolean fe_conn_check_alive(FeConn *c);

/**
 * fe_conn_set_reply_ack: ask for a REPLY_ACK on every request that has no
 * reply of its own.  Only honoured once REPLY_ACK was negotiated with
 * fe_conn_set_protocol_features() (on by default then).
 */
void fe_conn_set_reply_ack(FeConn *c, gboolean on);

/* ------------------------------------------------------------------------ */
/* Raw access (hostile tests)                                                 */
/* ------------------------------------------------------------------------ */

/**
 * fe_conn_send_raw: send @len bytes (anything) with @nfds (<= 8) fds as
 * SCM_RIGHTS; the fds stay the caller's.  No reply is read.
 */
gboolean fe_conn_send_raw(FeConn *c, const void *buf, size_t len, const int *fds,
                          unsigned nfds, GError **errp);

/**
 * fe_conn_send: send a header {@request, @flags, @size} and @size bytes of
 * @payload (may be NULL when @size is 0) with @nfds fds.  @flags is sent as
 * given (pass VHOST_USER_VERSION for a well-formed request).
 */
gboolean fe_conn_send(FeConn *c, uint32_t request, uint32_t flags, const void *payload,
                      uint32_t size, const int *fds, unsigned nfds, GError **errp);

/**
 * fe_conn_recv: receive one message into @out within the timeout.  A
 * payload larger than VhostUserPayload is a protocol error.  On success
 * the caller owns @out->fds; on failure none are left open.
 */
gboolean fe_conn_recv(FeConn *c, FeMsg *out, GError **errp);

/**
 * fe_conn_wait_closed: wait up to @timeout_ms for the back-end to close
 * the connection, discarding anything it sends (and closing fds) until
 * then.  TRUE if it closed.  For tests: "the back-end drops a front-end
 * that sent garbage".
 */
gboolean fe_conn_wait_closed(FeConn *c, int timeout_ms);

/* ------------------------------------------------------------------------ */
/* Requests                                                                   */
/* ------------------------------------------------------------------------ */

/** fe_request_name: "GET_FEATURES", ... ("UNKNOWN" otherwise). */
const char *fe_request_name(uint32_t request);

/** fe_request_has_reply: @request always gets a reply (GET_*, ...). */
gboolean fe_request_has_reply(uint32_t request);

/**
 * fe_conn_request: send @request with @payload/@size and @fds, then read
 * the reply if the request has one (into @reply, which may be NULL only
 * for requests without one), or the REPLY_ACK if acks are on (a non-zero
 * ack is FE_ERROR_REFUSED).  The reply's request code and REPLY flag are
 * checked; its size is the caller's to check.
 */
gboolean fe_conn_request(FeConn *c, uint32_t request, const void *payload,
                         uint32_t size, const int *fds, unsigned nfds, FeMsg *reply,
                         GError **errp);

/** fe_conn_get_u64: a request without payload whose reply is a u64. */
gboolean fe_conn_get_u64(FeConn *c, uint32_t request, uint64_t *out, GError **errp);

/** fe_conn_set_u64: a request whose payload is one u64 (SET_FEATURES...). */
gboolean fe_conn_set_u64(FeConn *c, uint32_t request, uint64_t value, GError **errp);

/** fe_conn_get_features: VHOST_USER_GET_FEATURES. */
gboolean fe_conn_get_features(FeConn *c, uint64_t *features, GError **errp);

/** fe_conn_set_features: VHOST_USER_SET_FEATURES. */
gboolean fe_conn_set_features(FeConn *c, uint64_t features, GError **errp);

/** fe_conn_get_protocol_features: VHOST_USER_GET_PROTOCOL_FEATURES. */
gboolean fe_conn_get_protocol_features(FeConn *c, uint64_t *features, GError **errp);

/**
 * fe_conn_set_protocol_features: VHOST_USER_SET_PROTOCOL_FEATURES; from
 * then on REPLY_ACK is used if @features has it.
 */
gboolean fe_conn_set_protocol_features(FeConn *c, uint64_t features, GError **errp);

/** fe_conn_protocol_features: what fe_conn_set_protocol_features() set. */
uint64_t fe_conn_protocol_features(const FeConn *c);

/** fe_conn_set_owner: VHOST_USER_SET_OWNER. */
gboolean fe_conn_set_owner(FeConn *c, GError **errp);

/**
 * fe_conn_set_mem_table: VHOST_USER_SET_MEM_TABLE with every region of
 * @mem (at most 8) and their fds.
 */
gboolean fe_conn_set_mem_table(FeConn *c, const FeMem *mem, GError **errp);

/** fe_conn_add_mem_reg: VHOST_USER_ADD_MEM_REG of region @r with its fd. */
gboolean fe_conn_add_mem_reg(FeConn *c, const FeMemRegion *r, GError **errp);

/** fe_conn_rem_mem_reg: VHOST_USER_REM_MEM_REG of region @r (no fd). */
gboolean fe_conn_rem_mem_reg(FeConn *c, const FeMemRegion *r, GError **errp);

/** fe_conn_set_vring_state: SET_VRING_NUM/BASE/ENABLE {@index, @num}. */
gboolean fe_conn_set_vring_state(FeConn *c, uint32_t request, uint32_t index,
                                 uint32_t num, GError **errp);

/**
 * fe_conn_get_vring_base: VHOST_USER_GET_VRING_BASE: stops ring @index and
 * returns the back-end's next avail index in *@base.
 */
gboolean fe_conn_get_vring_base(FeConn *c, uint32_t index, uint32_t *base,
                                GError **errp);

/** fe_conn_set_vring_addr: VHOST_USER_SET_VRING_ADDR (user addresses). */
gboolean fe_conn_set_vring_addr(FeConn *c, const VhostUserVringAddr *addr,
                                GError **errp);

/**
 * fe_conn_set_vring_fd: SET_VRING_KICK/CALL/ERR for ring @index with
 * eventfd @fd, or with the NOFD flag when @fd < 0.
 */
gboolean fe_conn_set_vring_fd(FeConn *c, uint32_t request, uint32_t index, int fd,
                              GError **errp);

/**
 * fe_conn_get_config: VHOST_USER_GET_CONFIG of @size (<= 256) bytes at
 * @offset into @buf.  A reply of another size (the back-end's error
 * signal) is FE_ERROR_REFUSED.
 */
gboolean fe_conn_get_config(FeConn *c, uint32_t offset, uint32_t size, void *buf,
                            GError **errp);

/** fe_conn_set_config: VHOST_USER_SET_CONFIG (flags: VHOST_SET_CONFIG_TYPE_*). */
gboolean fe_conn_set_config(FeConn *c, uint32_t offset, uint32_t size, const void *buf,
                            uint32_t flags, GError **errp);

/**
 * fe_conn_get_inflight_fd: VHOST_USER_GET_INFLIGHT_FD for @num_queues
 * queues of @queue_size: returns the back-end's shared buffer in *@fd (the
 * caller owns it) and its size and offset in *@info.
 */
gboolean fe_conn_get_inflight_fd(FeConn *c, uint16_t num_queues, uint16_t queue_size,
                                 int *fd, VhostUserInflight *info, GError **errp);

/** fe_conn_set_inflight_fd: VHOST_USER_SET_INFLIGHT_FD with @fd and @info. */
gboolean fe_conn_set_inflight_fd(FeConn *c, int fd, const VhostUserInflight *info,
                                 GError **errp);

G_END_DECLS

#endif /* FRONTEND_FE_CONN_H */

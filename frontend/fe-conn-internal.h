/*
 * frontend/fe-conn-internal.h - what fe-conn.c (the socket, bounded I/O,
 * raw access) and fe-conn-req.c (requests and replies) share.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_CONN_INTERNAL_H
#define FRONTEND_FE_CONN_INTERNAL_H

#include <pthread.h>

#include "frontend/fe-conn.h"

struct FeConn {
    int fd;
    int timeout_ms;
    int dead;             /* qatomic: set once, read by any thread */
    pthread_mutex_t lock; /* one exchange at a time (pthread: TSan sees it) */
    uint64_t protocol_features;
    gboolean ack; /* the caller wants REPLY_ACK when negotiated */
};

/* Mark @c dead: every later call fails at once. */
void fe_conn_mark_dead(FeConn *c);

/* TRUE (with @errp set) if @c is dead. */
gboolean fe_conn_dead_error(FeConn *c, GError **errp);

/* At most VHOST_USER_MAX_FDS fds. */
gboolean fe_conn_check_nfds(unsigned nfds, GError **errp);

/* Send one message (lock held); marks @c dead on failure. */
gboolean fe_conn_send_locked(FeConn *c, uint32_t request, uint32_t flags,
                             const void *payload, uint32_t size, const int *fds,
                             unsigned nfds, GError **errp);

/* Receive one message (lock held); marks @c dead on failure. */
gboolean fe_conn_recv_locked(FeConn *c, FeMsg *out, GError **errp);

/* Close and forget @nfds fds. */
void fe_conn_close_fds(int *fds, unsigned *nfds);

#endif /* FRONTEND_FE_CONN_INTERNAL_H */

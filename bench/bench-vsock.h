/*
 * bench/bench-vsock.h - `qcontext-bench vsock`: stream throughput and
 * small-message round trips between the front-end's guest side
 * (frontend/fe-vsock.h, this process's main thread) and a host unix socket
 * (a thread of this process) through qcontextd's -device vhost-user-vsock,
 * against a plain unix-socket pair between the same two pinned threads as
 * the floor, rounds interleaved.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BENCH_BENCH_VSOCK_H
#define BENCH_BENCH_VSOCK_H

#include <stdint.h>

#include <glib.h>

#include "frontend/fe-vsock.h"

G_BEGIN_DECLS

/** Options of `qcontext-bench vsock`. */
typedef struct VbOptions {
    char *qcontextd;    /**< the daemon to start (else --socket/--uds) */
    char *socket;       /**< an existing device's vhost-user socket */
    char *uds;          /**< ... and its uds-path */
    unsigned msg_size;  /**< throughput: bytes per send (64 KiB) */
    uint64_t bytes;     /**< throughput: bytes per round and direction */
    unsigned rtt_size;  /**< round trip: message bytes (64) */
    unsigned rtt_count; /**< round trips per round */
    unsigned rounds;
    uint64_t buf_alloc; /**< receive buffer per connection, both sides (256 KiB) */
    int cpu_guest, cpu_host, cpu_device; /**< -1: not pinned */
    gboolean json;
    gboolean quick;
} VbOptions;

/** A running device: the daemon (if started here) and the guest's driver. */
typedef struct Vb {
    VbOptions opt;
    char *dir;
    char *socket, *uds;
    GPid daemon;
    FeVsock *v;
    uint32_t next_port;
} Vb;

/** What one measurement found. */
typedef struct VbRates {
    GArray *vsock_g2h, *vsock_h2g, *floor;      /**< MB/s per round (double) */
    GArray *rtt_vsock, *rtt_floor, *rtt_wakeup; /**< ns per round trip (uint64) */
} VbRates;

/* bench-vsock-run.c: one round of each; FALSE with @errp set on failure. */
gboolean vb_tput_vsock(Vb *b, gboolean to_host, double *mb_s, GError **errp);
gboolean vb_tput_floor(Vb *b, double *mb_s, GError **errp);
gboolean vb_rtt_vsock(Vb *b, GArray *samples, GError **errp);
gboolean vb_rtt_floor(Vb *b, GArray *samples, GError **errp);
gboolean vb_rtt_wakeup(Vb *b, GArray *samples, GError **errp);

/* bench-vsock.c */
int bench_vsock_main(int argc, char **argv);

G_END_DECLS

#endif /* BENCH_BENCH_VSOCK_H */

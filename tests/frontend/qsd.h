/*
 * tests/frontend/qsd.h - a vhost-user-blk back-end process for the
 * front-end's tests: qemu-storage-daemon (the reference) or the project's
 * own tests/vhost-user/vu-blk-server ($VU_BLK_SERVER); spawn, kill,
 * restart.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_FRONTEND_QSD_H
#define TESTS_FRONTEND_QSD_H

#include <stdint.h>

#include <glib.h>

/** The QSD binary to run: $QSD, else qemu-storage-daemon in $PATH (or NULL). */
const char *qsd_binary(void);

/** The project's test back-end: $VU_BLK_SERVER (or NULL). */
const char *qsd_vu_blk_server(void);

/** A running daemon. */
typedef struct Qsd {
    GPid pid;        /* 0 once reaped */
    char *dir;       /* temporary directory (removed by qsd_free) */
    char *sock;      /* the vhost-user socket */
    char *image;     /* raw image path, or NULL for null-co */
    GPtrArray *args; /* the command line, for restarts */
} Qsd;

/** Options of qsd_new(). */
typedef struct QsdOptions {
    uint64_t size;     /* disk bytes (64 MiB) */
    gboolean file;     /* a raw file with aio=native, cache.direct=on (else null-co) */
    gboolean readonly; /* writable=off */
    unsigned num_queues; /* export num-queues (1) */
    uint64_t latency_ns; /* null-co latency-ns (0) */
    gboolean iothread;   /* --object iothread,id=io0 + export iothread=io0 */
    /*
     * Run vu-blk-server instead of QSD: always a raw file (aio=native,
     * O_DIRECT), latency_ns rounded to ms, GET_ID answers QSD_VU_SERIAL.
     */
    gboolean vu_blk;
} QsdOptions;

/** The serial vu-blk-server is started with. */
#define QSD_VU_SERIAL "fe-test-serial"

/** qsd_new: start QSD in a new temporary directory; asserts on failure. */
Qsd *qsd_new(const QsdOptions *opt);

/** qsd_kill: SIGKILL the daemon and reap it. */
void qsd_kill(Qsd *q);

/** qsd_restart: start the same command line again (after qsd_kill). */
void qsd_restart(Qsd *q);

/** qsd_free: stop (SIGTERM, then SIGKILL), reap, remove the directory. */
void qsd_free(Qsd *q);

#endif /* TESTS_FRONTEND_QSD_H */

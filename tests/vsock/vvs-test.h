/*
 * tests/vsock/vvs-test.h - helpers of the vhost-user-vsock device tests: the
 * device in this process (its own threaded context; the test's main thread
 * runs "main"), the front-end's vsock driver as the guest, and the host
 * side's unix sockets (hybrid vsock).
 *
 * The front-end blocks the main thread while it waits; that is fine: the
 * device's vhost-user socket, queues and muxer all run on the device's
 * context, and only creation and deletion need "main" to iterate.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_VSOCK_VVS_TEST_H
#define TESTS_VSOCK_VVS_TEST_H

#include <stdint.h>
#include <glib.h>

#include "frontend/fe-vsock.h"
#include "qcontext/devices/device.h"
#include "qcontext/devices/vsock/vhost-user-vsock.h"
#include "qcontext/qcontext.h"

#define VVS_TIMEOUT 5000
#define VVS_CID 3

/* One device and its paths. */
typedef struct VvsFixture {
    char *dir;  /* temp dir, removed at the end */
    char *sock; /* the vhost-user socket */
    char *uds;  /* uds-path */
    char *id;
    Device *dev;
    VhostUserVsock *vs;
    FeVsock *v; /* the guest, once opened */
} VvsFixture;

/* qcontext_init_main, the types, the context "vvs-io" every device runs on. */
void vvs_init(int *argc, char ***argv);

/*
 * Warnings matching @pattern (a g_pattern_match_simple() glob on the
 * message) are expected from now on: counted, not fatal.
 */
void vvs_expect_warning(const char *pattern);

/*
 * How many expected warnings came, after waiting up to @timeout_ms for
 * @want of them; expects none any more.
 */
unsigned vvs_expected_warnings(unsigned want, int timeout_ms);

/* The context the devices run on. */
QContext *vvs_context(void);

/*
 * A device with @extra properties (",max-connections=64"...; may be NULL)
 * and a running front-end (@opt may be NULL; its socket_path is set here).
 */
void vvs_setup(VvsFixture *fx, const char *extra, const FeVsockOptions *opt);

/* Only the device (no front-end). */
void vvs_setup_device(VvsFixture *fx, const char *extra);

/* Open the front-end on fx->sock (fx->v). */
void vvs_open(VvsFixture *fx, const FeVsockOptions *opt);

/* The front-end saw no spec violation; close it; delete the device. */
void vvs_teardown(VvsFixture *fx);

/* Delete the device (waits until it is gone; front-end left alone). */
void vvs_delete_device(VvsFixture *fx);

/* Run @fn(@opaque) on the device's thread and wait for it. */
void vvs_run_on_device(void (*fn)(void *opaque), void *opaque);

/* The muxer's counters (read on the device's thread). */
void vvs_stats(VvsFixture *fx, VsockMuxStats *stats);

/* Create a device from @spec; NULL with @errp set if refused. */
Device *vvs_try_device(const char *spec, GError **errp);

/* ---- the host side -------------------------------------------------------- */

/* Listen on the unix socket @path (created). */
int vvs_unix_listen_path(const char *path);

/* Listen on "<uds>_<port>" (the guest's connections to @port land here). */
int vvs_host_listen(VvsFixture *fx, uint32_t port);

/* The same with a SOCK_SEQPACKET socket (for seqpacket guest sockets). */
int vvs_host_listen_seqpacket(VvsFixture *fx, uint32_t port);

/* Accept one connection on @lfd within @timeout_ms; -1 if none. */
int vvs_host_accept(int lfd, int timeout_ms);

/* Connect to the uds-path and send "CONNECT <port>\n" (+ @extra bytes). */
int vvs_host_connect(VvsFixture *fx, uint32_t port, const char *extra);

/* Connect to the uds-path and send @bytes as they are. */
int vvs_host_connect_raw(VvsFixture *fx, const char *bytes);

/* Read one line ("OK 1073741824\n") within @timeout_ms; NULL on EOF/timeout. */
char *vvs_host_read_line(int fd, int timeout_ms);

/*
 * Read up to @len bytes within @timeout_ms: > 0 bytes, 0 at EOF, -1 on
 * timeout, -errno on an error (e.g. -ECONNRESET).
 */
gssize vvs_host_read(int fd, void *buf, size_t len, int timeout_ms);

/* Read exactly @len bytes or fail the test. */
void vvs_host_read_all(int fd, void *buf, size_t len);

/* Write all of @buf (blocking, bounded) or fail the test. */
void vvs_host_write_all(int fd, const void *buf, size_t len);

/* TRUE if @fd's peer closed (EOF or reset) within @timeout_ms. */
gboolean vvs_host_wait_closed(int fd, int timeout_ms);

/* ---- the guest side ------------------------------------------------------- */

/* Connect to host port @port or fail the test. */
FeVsockConn *vvs_connect(VvsFixture *fx, uint32_t port);

/* Accept a host-initiated connection to guest port @port or fail. */
FeVsockConn *vvs_accept(VvsFixture *fx, uint32_t port);

/* Receive exactly @len bytes or fail. */
void vvs_recv_all(FeVsockConn *c, void *buf, size_t len);

/* Send all of @len bytes or fail. */
void vvs_send_all(FeVsockConn *c, const void *buf, size_t len);

/* Deterministic bytes. */
void vvs_fill(uint8_t *buf, size_t len, uint32_t seed);

#endif /* TESTS_VSOCK_VVS_TEST_H */

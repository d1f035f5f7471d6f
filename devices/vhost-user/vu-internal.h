/*
 * devices/vhost-user/vu-internal.h - the state of a vhost-user back-end,
 * shared by the files of devices/vhost-user/.
 *
 *   vu-dev.c      lifetime, connections, the deferred-reply engine, teardown
 *   vu-io.c       sockets: listening, reading messages with fds, replies
 *   vu-msg.c      message validation and the feature / ring handlers
 *   vu-mem.c      memory table, inflight region and config handlers
 *   vu-ring.c     ring start / stop and the ring fds (kick, call, err)
 *   vu-queue.c    the queue-thread API and the AioContext kick handlers
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_VHOST_USER_VU_INTERNAL_H
#define DEVICES_VHOST_USER_VU_INTERNAL_H

#include <stddef.h>
#include <linux/virtio_config.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/vhost-user/vhost-user.h"
#include "qcontext/devices/vhost-user/vhost-user-proto.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

/* The device-independent virtio features the library offers. */
#define VU_LIB_FEATURES                                                                \
    ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |            \
     (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES))

/* One message as received: header, payload, fds (owned until taken). */
typedef struct VuMsg {
    VhostUserHeader hdr;
    VhostUserPayload payload;
    int fds[VHOST_USER_MAX_FDS];
    unsigned nfds;
} VuMsg;

/* Incremental reader of one message from a non-blocking socket. */
typedef struct VuReader {
    VuMsg msg;
    size_t got;       /* bytes of header + payload read so far */
    bool fds_overrun; /* more fds than a message may carry */
} VuReader;

typedef enum VuRingState {
    VU_RING_STOPPED,
    VU_RING_STARTING, /* queue_start called, vu_queue_started() pending */
    VU_RING_STARTED,
    VU_RING_STOPPING, /* queue_stop called, the drain pending */
} VuRingState;

struct VuQueue {
    VuDev *dev;
    uint16_t index;

    /* The front-end's configuration (control thread). */
    uint16_t num; /* 0: not set */
    bool addr_set;
    VhostUserVringAddr addr;
    uint16_t base;      /* SET_VRING_BASE, or where the ring stopped */
    EventNotifier kick; /* initialized: a kick fd is set */
    int call_fd;        /* stable fd number (dup3 target); -1: none */
    int err_fd;
    bool call_active; /* atomic: false after a NOFD SET_VRING_CALL */
    bool err_active;  /* atomic */
    bool enabled;     /* atomic: read by the queue thread */
    VuRingState state;
    bool signal_once; /* inflight recovery: signal call once started */
    bool map_warned;  /* "addresses outside memory" logged */

    /* The ring itself: the queue thread's while started. */
    VirtQueue vq;
    bool stop_requested; /* queue thread: stop once in_use drops to 0 */
    bool broken_logged;

    AioContext *aio_ctx;      /* for vu_aio_queue_start() */
    AioContext *attached_ctx; /* vu_queue_attach_aio() */
    void *opaque;
};

/* What a message handler returns. */
typedef enum VuStatus {
    VU_OK,       /* done; acked with 0 if the front-end asked */
    VU_REPLIED,  /* done; the handler sent the reply */
    VU_REFUSED,  /* refused; acked with 1 if asked, the connection stays */
    VU_CLOSE,    /* malformed: dev->error says why, the connection closes */
    VU_DEFERRED, /* a step set with vu_then() finishes it */
} VuStatus;

typedef void VuStep(VuDev *dev);

struct VuDev {
    char *id;
    const VuDevOps *ops;
    void *opaque;
    AioContext *ctx;
    uint16_t num_queues;
    uint16_t max_queue_size; /* 0: VIRTQ_MAX_SIZE */
    VuQueue *queues;

    /* Listening socket. */
    int listen_fd;
    char *path; /* socket=PATH, unlinked at close if still ours */
    dev_t path_dev;
    ino_t path_ino;
    bool accepting;   /* listen_fd watched */
    bool served_once; /* fd=N was a connected socket */

    /* The connection. */
    int conn_fd;
    bool watch_read;  /* conn_fd read handler installed */
    bool watch_write; /* conn_fd write handler installed */
    VuReader rd;
    GByteArray *out; /* reply bytes not yet sent */
    int out_fd;      /* fd to send with the first byte of @out, or -1 */

    /* What the front-end negotiated and set. */
    uint64_t features;
    uint64_t protocol_features;
    VirtioMemTable mem;
    void *inflight_map; /* mapping of the inflight fd */
    size_t inflight_map_len;
    uint8_t *inflight_base; /* queue 0's region */
    uint16_t inflight_nq, inflight_qsize;

    /* The message being handled and the deferred-reply engine. */
    VuMsg cur;
    bool busy;        /* @cur is being handled (reading paused) */
    unsigned pending; /* queue start/stop operations in flight */
    VuStep *cont;     /* run once @pending is 0 */
    bool advancing;
    VuStatus status;           /* result carried to the final step */
    GError *error;             /* why the connection closes */
    VuQueue *target;           /* the queue a deferred ring message is about */
    int (*apply)(VuDev *dev);  /* vu_reconfigure(): the change itself */
    VirtioMemTable staged_mem; /* SET_MEM_TABLE being applied */
    VirtioMemRegion staged_region;
    int staged_remove; /* REM_MEM_REG: index to remove */
    void *staged_inflight_map;
    size_t staged_inflight_len;
    uint8_t *staged_inflight_base;
    uint16_t staged_inflight_nq, staged_inflight_qsize;

    /* Teardown. */
    bool closing;       /* the connection is being torn down */
    bool shutting_down; /* vu_dev_close() */
    void (*close_done)(void *opaque);
    void *close_opaque;

    VuDevStats stats;
};

/* vu-dev.c */
void vu_then(VuDev *dev, VuStep *step);
void vu_advance(VuDev *dev);
void vu_op_begin(VuDev *dev);
void vu_msg_finish(VuDev *dev, VuStatus status);
void vu_conn_drop(VuDev *dev, const char *reason);
void vu_conn_watch(VuDev *dev);
VuStatus vu_fail(VuDev *dev, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
VuStatus vu_reconfigure(VuDev *dev, VuQueue *q, int (*apply)(VuDev *dev));
void vu_listen_watch(VuDev *dev, bool on);
void vu_set_fd_handler(VuDev *dev, int fd, IOHandler *io_read, IOHandler *io_write);

/* vu-io.c */
bool vu_io_listen_path(VuDev *dev, const char *path, GError **errp);
bool vu_io_listen_fd(VuDev *dev, int fd, GError **errp);
void vu_io_close_listener(VuDev *dev);
int vu_io_accept(VuDev *dev);
int vu_io_read_msg(VuDev *dev, GError **errp);
void vu_io_reader_reset(VuReader *rd);
void vu_io_send(VuDev *dev, const VhostUserHeader *req, const void *payload,
                uint32_t size, int fd);
bool vu_io_flush(VuDev *dev);
int vu_msg_take_fd(VuMsg *msg, unsigned i);
void vu_msg_close_fds(VuMsg *msg);

/* vu-msg.c */
void vu_dispatch(VuDev *dev);
const char *vu_request_name(uint32_t request);

/* vu-mem.c */
VuStatus vu_handle_set_mem_table(VuDev *dev, VuMsg *msg);
VuStatus vu_handle_add_mem_reg(VuDev *dev, VuMsg *msg);
VuStatus vu_handle_rem_mem_reg(VuDev *dev, VuMsg *msg);
VuStatus vu_handle_get_inflight_fd(VuDev *dev, VuMsg *msg);
VuStatus vu_handle_set_inflight_fd(VuDev *dev, VuMsg *msg);
VuStatus vu_handle_get_config(VuDev *dev, VuMsg *msg);
VuStatus vu_handle_set_config(VuDev *dev, VuMsg *msg);
void vu_inflight_unmap(VuDev *dev);
void vu_staged_clear(VuDev *dev);

/* vu-ring.c */
void vu_ring_sync(VuQueue *q);
void vu_ring_stop(VuQueue *q);
void vu_rings_stop_all(VuDev *dev);
void vu_rings_sync_all(VuDev *dev);
void vu_ring_op_done(VuQueue *q);
void vu_ring_reset(VuQueue *q);
bool vu_ring_check_eventfd(VuDev *dev, int fd, const char *what, GError **errp);
void vu_ring_set_kick(VuQueue *q, int fd);
void vu_ring_set_call(VuQueue *q, int fd, bool err);
void vu_ring_enable(VuQueue *q, bool enable);
void vu_ring_signal(VuQueue *q, bool err);

#endif /* DEVICES_VHOST_USER_VU_INTERNAL_H */

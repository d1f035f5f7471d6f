/*
 * devices/vhost-user/vhost-user-proto.h - the vhost-user wire format, as
 * QEMU's docs/interop/vhost-user.rst specifies it: message header, request
 * codes, flags, protocol feature bits and payload layouts.
 *
 * Shared by the back-end (devices/vhost-user/) and the front-end used by
 * qcontext-bench and the tests, so both speak exactly one definition.  Only
 * definitions here: no code.  All fields are little-endian on the wire; this
 * runtime is built for little-endian hosts only (checked below).
 *
 * A message is a 12-byte header followed by `size` bytes of payload, sent in
 * one sendmsg() with any file descriptors as SCM_RIGHTS ancillary data.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_VHOST_USER_PROTO_H
#define QCONTEXT_DEVICES_VHOST_USER_PROTO_H

#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vhost-user and virtio are little-endian; big-endian hosts are not supported"
#endif

/** Front-end -> back-end requests. */
typedef enum VhostUserRequest {
    VHOST_USER_NONE = 0,
    VHOST_USER_GET_FEATURES = 1,
    VHOST_USER_SET_FEATURES = 2,
    VHOST_USER_SET_OWNER = 3,
    VHOST_USER_RESET_OWNER = 4,
    VHOST_USER_SET_MEM_TABLE = 5,
    VHOST_USER_SET_LOG_BASE = 6,
    VHOST_USER_SET_LOG_FD = 7,
    VHOST_USER_SET_VRING_NUM = 8,
    VHOST_USER_SET_VRING_ADDR = 9,
    VHOST_USER_SET_VRING_BASE = 10,
    VHOST_USER_GET_VRING_BASE = 11,
    VHOST_USER_SET_VRING_KICK = 12,
    VHOST_USER_SET_VRING_CALL = 13,
    VHOST_USER_SET_VRING_ERR = 14,
    VHOST_USER_GET_PROTOCOL_FEATURES = 15,
    VHOST_USER_SET_PROTOCOL_FEATURES = 16,
    VHOST_USER_GET_QUEUE_NUM = 17,
    VHOST_USER_SET_VRING_ENABLE = 18,
    VHOST_USER_SEND_RARP = 19,
    VHOST_USER_NET_SET_MTU = 20,
    VHOST_USER_SET_BACKEND_REQ_FD = 21,
    VHOST_USER_IOTLB_MSG = 22,
    VHOST_USER_SET_VRING_ENDIAN = 23,
    VHOST_USER_GET_CONFIG = 24,
    VHOST_USER_SET_CONFIG = 25,
    VHOST_USER_CREATE_CRYPTO_SESSION = 26,
    VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
    VHOST_USER_POSTCOPY_ADVISE = 28,
    VHOST_USER_POSTCOPY_LISTEN = 29,
    VHOST_USER_POSTCOPY_END = 30,
    VHOST_USER_GET_INFLIGHT_FD = 31,
    VHOST_USER_SET_INFLIGHT_FD = 32,
    VHOST_USER_GPU_SET_SOCKET = 33,
    VHOST_USER_RESET_DEVICE = 34,
    VHOST_USER_VRING_KICK = 35,
    VHOST_USER_GET_MAX_MEM_SLOTS = 36,
    VHOST_USER_ADD_MEM_REG = 37,
    VHOST_USER_REM_MEM_REG = 38,
    VHOST_USER_SET_STATUS = 39,
    VHOST_USER_GET_STATUS = 40,
    VHOST_USER_MAX
} VhostUserRequest;

/* Header flags. */
#define VHOST_USER_VERSION_MASK 0x3u         /**< bits 0-1: protocol version */
#define VHOST_USER_VERSION 0x1u              /**< the only version */
#define VHOST_USER_REPLY_MASK (1u << 2)      /**< set in every reply */
#define VHOST_USER_NEED_REPLY_MASK (1u << 3) /**< REPLY_ACK requested */

/** The feature bit (in GET/SET_FEATURES) that enables the protocol features. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30
/** Dirty-page logging during migration (not offered by this runtime). */
#define VHOST_F_LOG_ALL 26

/** Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
typedef enum VhostUserProtocolFeature {
    VHOST_USER_PROTOCOL_F_MQ = 0,
    VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
    VHOST_USER_PROTOCOL_F_RARP = 2,
    VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
    VHOST_USER_PROTOCOL_F_NET_MTU = 4,
    VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
    VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
    VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
    VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
    VHOST_USER_PROTOCOL_F_CONFIG = 9,
    VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10,
    VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
    VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
    VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
    VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
    VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
    VHOST_USER_PROTOCOL_F_STATUS = 16,
} VhostUserProtocolFeature;

/** Regions in one SET_MEM_TABLE (and fds in one message). */
#define VHOST_MEMORY_BASELINE_NREGIONS 8
/** Most fds any message carries. */
#define VHOST_USER_MAX_FDS 8
/** Largest config space a GET/SET_CONFIG carries. */
#define VHOST_USER_MAX_CONFIG_SIZE 256

/* u64 payload of SET_VRING_KICK/CALL/ERR: the queue index and "no fd". */
#define VHOST_USER_VRING_IDX_MASK 0xffu      /**< the queue index */
#define VHOST_USER_VRING_NOFD_MASK (1u << 8) /**< no fd is attached */

/** Message header: 12 bytes. */
typedef struct __attribute__((packed)) VhostUserHeader {
    uint32_t request; /**< VhostUserRequest */
    uint32_t flags;   /**< version | REPLY | NEED_REPLY */
    uint32_t size;    /**< payload bytes that follow */
} VhostUserHeader;

/** SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE. */
typedef struct VhostUserVringState {
    uint32_t index; /**< the ring */
    uint32_t num;   /**< its size, base index or enable flag */
} VhostUserVringState;

/* VhostUserVringAddr.flags */
#define VHOST_VRING_F_LOG 0 /**< log_guest_addr is valid: log used ring writes */

/** SET_VRING_ADDR: front-end virtual addresses of the ring parts. */
typedef struct VhostUserVringAddr {
    uint32_t index;           /**< the ring */
    uint32_t flags;           /**< VHOST_VRING_F_LOG */
    uint64_t desc_user_addr;  /**< the descriptor table */
    uint64_t used_user_addr;  /**< the used ring */
    uint64_t avail_user_addr; /**< the available ring */
    uint64_t log_guest_addr;  /**< the used ring's guest address, for logging */
} VhostUserVringAddr;

/** One memory region: guest physical range, front-end VA, offset in its fd. */
typedef struct VhostUserMemoryRegion {
    uint64_t guest_phys_addr; /**< guest physical address of its first byte */
    uint64_t memory_size;     /**< bytes */
    uint64_t userspace_addr;  /**< the front-end's virtual address of its first byte */
    uint64_t mmap_offset;     /**< offset of its first byte in its fd */
} VhostUserMemoryRegion;

/** SET_MEM_TABLE: one fd per region, in order. */
typedef struct VhostUserMemory {
    uint32_t nregions; /**< regions (and fds) in the message */
    uint32_t padding;  /**< zero */
    VhostUserMemoryRegion regions[VHOST_MEMORY_BASELINE_NREGIONS]; /**< the regions */
} VhostUserMemory;

/** ADD_MEM_REG / REM_MEM_REG: one region (ADD carries its fd). */
typedef struct VhostUserMemRegMsg {
    uint64_t padding;             /**< zero */
    VhostUserMemoryRegion region; /**< the region */
} VhostUserMemRegMsg;

/** SET_LOG_BASE. */
typedef struct VhostUserLog {
    uint64_t mmap_size;   /**< bytes of the log */
    uint64_t mmap_offset; /**< its offset in the fd */
} VhostUserLog;

/* VhostUserConfig.flags */
#define VHOST_SET_CONFIG_TYPE_FRONTEND 0  /**< a write of the driver */
#define VHOST_SET_CONFIG_TYPE_MIGRATION 1 /**< restored by a migration */

/** GET_CONFIG / SET_CONFIG: a window of the device's config space. */
typedef struct VhostUserConfig {
    uint32_t offset; /**< first byte of the window in the config space */
    uint32_t size;   /**< bytes of the window */
    uint32_t flags;  /**< VHOST_SET_CONFIG_TYPE_* */
    uint8_t region[VHOST_USER_MAX_CONFIG_SIZE]; /**< the bytes */
} VhostUserConfig;

/** Bytes of VhostUserConfig before its region. */
#define VHOST_USER_CONFIG_HDR_SIZE 12

/** GET_INFLIGHT_FD / SET_INFLIGHT_FD. */
typedef struct VhostUserInflight {
    uint64_t mmap_size;   /**< bytes of the region */
    uint64_t mmap_offset; /**< its offset in the fd */
    uint16_t num_queues;  /**< queues it covers */
    uint16_t queue_size;  /**< descriptors per queue */
} VhostUserInflight;

/** Split-ring inflight tracking: one per descriptor of a queue. */
typedef struct VhostUserInflightDescSplit {
    uint8_t inflight;   /**< 1 while the head is popped and not completed */
    uint8_t padding[5]; /**< zero */
    uint16_t next;      /**< list of the last batch of used heads */
    uint64_t counter;   /**< pop order of a head descriptor */
} VhostUserInflightDescSplit;

/** Split-ring inflight region of one queue. */
typedef struct VhostUserInflightQueueSplit {
    uint64_t features;                 /**< 0 for now */
    uint16_t version;                  /**< 1; 0 = not yet initialized (fresh) */
    uint16_t desc_num;                 /**< the queue size */
    uint16_t last_batch_head;          /**< head of the last used batch */
    uint16_t used_idx;                 /**< used->idx as last recorded */
    VhostUserInflightDescSplit desc[]; /**< one per descriptor (desc_num of them) */
} VhostUserInflightQueueSplit;

/** Payload of any message. */
typedef union VhostUserPayload {
    uint64_t
        u64; /**< a number (features, sizes, a ring index with VHOST_USER_VRING_*) */
    VhostUserVringState state;  /**< vring state requests */
    VhostUserVringAddr addr;    /**< SET_VRING_ADDR */
    VhostUserMemory memory;     /**< SET_MEM_TABLE */
    VhostUserMemRegMsg mem_reg; /**< ADD_MEM_REG / REM_MEM_REG */
    VhostUserLog log;           /**< SET_LOG_BASE */
    VhostUserConfig config;     /**< GET_CONFIG / SET_CONFIG */
    VhostUserInflight inflight; /**< GET_INFLIGHT_FD / SET_INFLIGHT_FD */
} VhostUserPayload;

/** A whole message as laid out on the wire (header + largest payload). */
typedef struct __attribute__((packed)) VhostUserMsg {
    VhostUserHeader hdr;      /**< the header */
    VhostUserPayload payload; /**< hdr.size bytes of it follow */
} VhostUserMsg;

_Static_assert(sizeof(VhostUserHeader) == 12, "vhost-user header is 12 bytes");
_Static_assert(sizeof(VhostUserVringAddr) == 40, "vring address payload");
_Static_assert(sizeof(VhostUserMemoryRegion) == 32, "memory region");
_Static_assert(sizeof(VhostUserMemory) == 8 + 8 * 32, "memory table payload");
_Static_assert(sizeof(VhostUserMemRegMsg) == 40, "single region payload");
_Static_assert(sizeof(VhostUserInflight) == 24, "inflight payload (padded)");
_Static_assert(sizeof(VhostUserInflightDescSplit) == 16, "inflight descriptor state");
_Static_assert(sizeof(VhostUserInflightQueueSplit) == 16, "inflight queue header");

#endif /* QCONTEXT_DEVICES_VHOST_USER_PROTO_H */

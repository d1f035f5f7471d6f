/*
 * devices/vhost-user/vu-msg.c - validating each message (known request,
 * offered protocol feature, exact payload size, fd count) and the handlers
 * of the feature, ownership and ring messages.
 *
 * Supported requests are exactly those the protocol features we offer
 * imply: MQ, REPLY_ACK, CONFIG (if the device has a config space),
 * CONFIGURE_MEM_SLOTS, INFLIGHT_SHMFD.  Anything else (logging, postcopy,
 * IOTLB, STATUS, back-end channel, in-band notifications...) is malformed
 * for us and closes the connection.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "vhost-user"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "vu-internal.h"

typedef VuStatus VuHandler(VuDev *dev, VuMsg *msg);

typedef struct VuMsgSpec {
    const char *name;
    VuHandler *handler; /* NULL: not supported */
    uint16_t min_size, max_size;
    uint8_t min_fds, max_fds;
    int8_t need_pf; /* protocol feature that must be negotiated, or -1 */
} VuMsgSpec;

#define NO_PF -1

static uint64_t vu_offered_protocol_features(VuDev *dev)
{
    uint64_t pf = (1ULL << VHOST_USER_PROTOCOL_F_MQ) |
                  (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
                  (1ULL << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
                  (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD);

    if (dev->ops->get_config) {
        pf |= 1ULL << VHOST_USER_PROTOCOL_F_CONFIG;
    }
    return pf;
}

static uint64_t vu_offered_features(VuDev *dev)
{
    return dev->ops->get_features(dev) | VU_LIB_FEATURES;
}

static VuStatus vu_reply_u64(VuDev *dev, uint64_t value)
{
    vu_io_send(dev, &dev->cur.hdr, &value, sizeof(value), -1);
    return VU_REPLIED;
}

/* The queue a state/u64 payload names, or NULL (connection closes). */
static VuQueue *vu_queue_arg(VuDev *dev, uint32_t idx)
{
    if (idx >= dev->num_queues) {
        vu_fail(dev, "%s for queue %u, but the device has %u",
                vu_request_name(dev->cur.hdr.request), idx, dev->num_queues);
        return NULL;
    }
    return &dev->queues[idx];
}

/* ------------------------------------------------------------------------ */
/* Features and ownership                                                    */
/* ------------------------------------------------------------------------ */

static VuStatus vu_get_features(VuDev *dev, VuMsg *msg)
{
    return vu_reply_u64(dev, vu_offered_features(dev));
}

static VuStatus vu_set_features(VuDev *dev, VuMsg *msg)
{
    uint64_t f = msg->payload.u64;
    uint64_t extra = f & ~vu_offered_features(dev);

    if (extra) {
        return vu_fail(dev,
                       "SET_FEATURES acknowledges features 0x%" PRIx64
                       " that were not offered",
                       extra);
    }
    dev->features = f;
    if (dev->ops->set_features) {
        dev->ops->set_features(dev, f);
    }
    if (!(f & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES))) {
        /* Rings are enabled from the start; this never disables one. */
        for (unsigned i = 0; i < dev->num_queues; i++) {
            vu_ring_enable(&dev->queues[i], true);
        }
    }
    return VU_OK;
}

static VuStatus vu_get_protocol_features(VuDev *dev, VuMsg *msg)
{
    return vu_reply_u64(dev, vu_offered_protocol_features(dev));
}

static VuStatus vu_set_protocol_features(VuDev *dev, VuMsg *msg)
{
    uint64_t pf = msg->payload.u64;
    uint64_t extra = pf & ~vu_offered_protocol_features(dev);

    if (extra) {
        return vu_fail(dev,
                       "SET_PROTOCOL_FEATURES acknowledges features 0x%" PRIx64
                       " that were not offered",
                       extra);
    }
    dev->protocol_features = pf;
    return VU_OK;
}

static VuStatus vu_set_owner(VuDev *dev, VuMsg *msg)
{
    return VU_OK;
}

static VuStatus vu_reset_owner(VuDev *dev, VuMsg *msg)
{
    /* Deprecated; the spec recommends ignoring it. */
    return VU_OK;
}

static VuStatus vu_get_queue_num(VuDev *dev, VuMsg *msg)
{
    return vu_reply_u64(dev, dev->num_queues);
}

static VuStatus vu_get_max_mem_slots(VuDev *dev, VuMsg *msg)
{
    return vu_reply_u64(dev, VIRTIO_MEM_MAX_REGIONS);
}

/* ------------------------------------------------------------------------ */
/* Rings                                                                     */
/* ------------------------------------------------------------------------ */

static int vu_apply_vring_num(VuDev *dev)
{
    dev->target->num = (uint16_t)dev->cur.payload.state.num;
    return VU_OK;
}

static VuStatus vu_set_vring_num(VuDev *dev, VuMsg *msg)
{
    uint32_t num = msg->payload.state.num;

    if (!(dev->target = vu_queue_arg(dev, msg->payload.state.index))) {
        return VU_CLOSE;
    }
    if (num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1))) {
        return vu_fail(dev, "queue %u: size %u is not a power of 2 up to %d",
                       msg->payload.state.index, num, VIRTQ_MAX_SIZE);
    }
    if (dev->max_queue_size && num > dev->max_queue_size) {
        return vu_fail(dev,
                       "queue %u: size %u is larger than the device's queue-size %u",
                       msg->payload.state.index, num, dev->max_queue_size);
    }
    return vu_reconfigure(dev, dev->target, vu_apply_vring_num);
}

static int vu_apply_vring_addr(VuDev *dev)
{
    dev->target->addr = dev->cur.payload.addr;
    dev->target->addr_set = true;
    dev->target->map_warned = false;
    return VU_OK;
}

static VuStatus vu_set_vring_addr(VuDev *dev, VuMsg *msg)
{
    if (!(dev->target = vu_queue_arg(dev, msg->payload.addr.index))) {
        return VU_CLOSE;
    }
    if (msg->payload.addr.flags & (1u << VHOST_VRING_F_LOG)) {
        return vu_fail(dev, "queue %u: dirty logging was not negotiated",
                       msg->payload.addr.index);
    }
    return vu_reconfigure(dev, dev->target, vu_apply_vring_addr);
}

static int vu_apply_vring_base(VuDev *dev)
{
    dev->target->base = (uint16_t)dev->cur.payload.state.num;
    return VU_OK;
}

static VuStatus vu_set_vring_base(VuDev *dev, VuMsg *msg)
{
    if (!(dev->target = vu_queue_arg(dev, msg->payload.state.index))) {
        return VU_CLOSE;
    }
    if (msg->payload.state.num > UINT16_MAX) {
        return vu_fail(dev, "queue %u: base %u out of range for a split ring",
                       msg->payload.state.index, msg->payload.state.num);
    }
    return vu_reconfigure(dev, dev->target, vu_apply_vring_base);
}

static void vu_get_vring_base_reply(VuDev *dev)
{
    VuQueue *q = dev->target;
    VhostUserVringState st = {.index = q->index, .num = q->base};

    /* Stopped: it restarts with the next SET_VRING_KICK.  Nothing else is
     * reset (the enable state, the addresses and the index stay). */
    vu_ring_set_kick(q, -1);
    vu_io_send(dev, &dev->cur.hdr, &st, sizeof(st), -1);
    vu_msg_finish(dev, VU_REPLIED);
}

static VuStatus vu_get_vring_base(VuDev *dev, VuMsg *msg)
{
    if (!(dev->target = vu_queue_arg(dev, msg->payload.state.index))) {
        return VU_CLOSE;
    }
    vu_ring_stop(dev->target);
    vu_then(dev, vu_get_vring_base_reply);
    return VU_DEFERRED;
}

/* Parse the u64 of SET_VRING_KICK/CALL/ERR: queue, and fd or "no fd". */
static VuQueue *vu_vring_fd_arg(VuDev *dev, VuMsg *msg, int *fd)
{
    uint64_t v = msg->payload.u64;
    bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
    const char *name = vu_request_name(msg->hdr.request);
    VuQueue *q;

    if (v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) {
        vu_fail(dev, "%s with unknown bits 0x%" PRIx64, name, v);
        return NULL;
    }
    if (!(q = vu_queue_arg(dev, (uint32_t)(v & VHOST_USER_VRING_IDX_MASK)))) {
        return NULL;
    }
    if (nofd != (msg->nfds == 0)) {
        vu_fail(dev, "%s for queue %u with %u fds%s", name, q->index, msg->nfds,
                nofd ? " and the no-fd flag" : "");
        return NULL;
    }
    *fd = nofd ? -1 : msg->fds[0];
    if (*fd >= 0 && !vu_ring_check_eventfd(dev, *fd, name, &dev->error)) {
        return NULL;
    }
    return q;
}

static int vu_apply_vring_kick(VuDev *dev)
{
    vu_ring_set_kick(dev->target, vu_msg_take_fd(&dev->cur, 0));
    return VU_OK;
}

static VuStatus vu_set_vring_kick(VuDev *dev, VuMsg *msg)
{
    int fd;

    if (!(dev->target = vu_vring_fd_arg(dev, msg, &fd))) {
        return VU_CLOSE;
    }
    if (fd < 0) {
        return vu_fail(dev,
                       "queue %u: polling mode (SET_VRING_KICK without fd) is not "
                       "supported",
                       dev->target->index);
    }
    /* A running ring is restarted on the new fd, never disabled. */
    return vu_reconfigure(dev, dev->target, vu_apply_vring_kick);
}

static VuStatus vu_set_vring_call_or_err(VuDev *dev, VuMsg *msg, bool err)
{
    VuQueue *q;
    int fd;

    if (!(q = vu_vring_fd_arg(dev, msg, &fd))) {
        return VU_CLOSE;
    }
    vu_ring_set_call(q, vu_msg_take_fd(msg, 0), err);
    return VU_OK;
}

static VuStatus vu_set_vring_call(VuDev *dev, VuMsg *msg)
{
    return vu_set_vring_call_or_err(dev, msg, false);
}

static VuStatus vu_set_vring_err(VuDev *dev, VuMsg *msg)
{
    return vu_set_vring_call_or_err(dev, msg, true);
}

static VuStatus vu_set_vring_enable(VuDev *dev, VuMsg *msg)
{
    VuQueue *q = vu_queue_arg(dev, msg->payload.state.index);

    if (!q) {
        return VU_CLOSE;
    }
    if (msg->payload.state.num > 1) {
        return vu_fail(dev, "SET_VRING_ENABLE for queue %u with %u (not 0 or 1)",
                       q->index, msg->payload.state.num);
    }
    vu_ring_enable(q, msg->payload.state.num);
    return VU_OK;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                 */
/* ------------------------------------------------------------------------ */

#define U64 sizeof(uint64_t)
#define STATE sizeof(VhostUserVringState)
#define CFG_MAX (VHOST_USER_CONFIG_HDR_SIZE + VHOST_USER_MAX_CONFIG_SIZE)
#define MEM_MIN offsetof(VhostUserMemory, regions)
/* 20 bytes: front-ends (rust-vmm) that send the struct unpadded. */
#define INFL_MIN 20

#define MSG(req, fn, smin, smax, fmin, fmax, pf)                                       \
    [VHOST_USER_##req] = {#req, fn, smin, smax, fmin, fmax, pf}

static const VuMsgSpec vu_msgs[VHOST_USER_MAX] = {
    MSG(GET_FEATURES, vu_get_features, 0, 0, 0, 0, NO_PF),
    MSG(SET_FEATURES, vu_set_features, U64, U64, 0, 0, NO_PF),
    MSG(SET_OWNER, vu_set_owner, 0, 0, 0, 0, NO_PF),
    MSG(RESET_OWNER, vu_reset_owner, 0, 0, 0, 0, NO_PF),
    MSG(SET_MEM_TABLE, vu_handle_set_mem_table, MEM_MIN, sizeof(VhostUserMemory), 0,
        VHOST_MEMORY_BASELINE_NREGIONS, NO_PF),
    MSG(SET_LOG_BASE, NULL, 0, 0, 0, 0, NO_PF),
    MSG(SET_LOG_FD, NULL, 0, 0, 0, 0, NO_PF),
    MSG(SET_VRING_NUM, vu_set_vring_num, STATE, STATE, 0, 0, NO_PF),
    MSG(SET_VRING_ADDR, vu_set_vring_addr, sizeof(VhostUserVringAddr),
        sizeof(VhostUserVringAddr), 0, 0, NO_PF),
    MSG(SET_VRING_BASE, vu_set_vring_base, STATE, STATE, 0, 0, NO_PF),
    MSG(GET_VRING_BASE, vu_get_vring_base, STATE, STATE, 0, 0, NO_PF),
    MSG(SET_VRING_KICK, vu_set_vring_kick, U64, U64, 0, 1, NO_PF),
    MSG(SET_VRING_CALL, vu_set_vring_call, U64, U64, 0, 1, NO_PF),
    MSG(SET_VRING_ERR, vu_set_vring_err, U64, U64, 0, 1, NO_PF),
    MSG(GET_PROTOCOL_FEATURES, vu_get_protocol_features, 0, 0, 0, 0, NO_PF),
    MSG(SET_PROTOCOL_FEATURES, vu_set_protocol_features, U64, U64, 0, 0, NO_PF),
    MSG(GET_QUEUE_NUM, vu_get_queue_num, 0, 0, 0, 0, VHOST_USER_PROTOCOL_F_MQ),
    MSG(SET_VRING_ENABLE, vu_set_vring_enable, STATE, STATE, 0, 0, NO_PF),
    MSG(SEND_RARP, NULL, 0, 0, 0, 0, NO_PF),
    MSG(NET_SET_MTU, NULL, 0, 0, 0, 0, NO_PF),
    MSG(SET_BACKEND_REQ_FD, NULL, 0, 0, 0, 0, NO_PF),
    MSG(IOTLB_MSG, NULL, 0, 0, 0, 0, NO_PF),
    MSG(SET_VRING_ENDIAN, NULL, 0, 0, 0, 0, NO_PF),
    MSG(GET_CONFIG, vu_handle_get_config, VHOST_USER_CONFIG_HDR_SIZE, CFG_MAX, 0, 0,
        VHOST_USER_PROTOCOL_F_CONFIG),
    MSG(SET_CONFIG, vu_handle_set_config, VHOST_USER_CONFIG_HDR_SIZE, CFG_MAX, 0, 0,
        VHOST_USER_PROTOCOL_F_CONFIG),
    MSG(CREATE_CRYPTO_SESSION, NULL, 0, 0, 0, 0, NO_PF),
    MSG(CLOSE_CRYPTO_SESSION, NULL, 0, 0, 0, 0, NO_PF),
    MSG(POSTCOPY_ADVISE, NULL, 0, 0, 0, 0, NO_PF),
    MSG(POSTCOPY_LISTEN, NULL, 0, 0, 0, 0, NO_PF),
    MSG(POSTCOPY_END, NULL, 0, 0, 0, 0, NO_PF),
    MSG(GET_INFLIGHT_FD, vu_handle_get_inflight_fd, INFL_MIN, sizeof(VhostUserInflight),
        0, 0, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD),
    MSG(SET_INFLIGHT_FD, vu_handle_set_inflight_fd, INFL_MIN, sizeof(VhostUserInflight),
        1, 1, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD),
    MSG(GPU_SET_SOCKET, NULL, 0, 0, 0, 0, NO_PF),
    MSG(RESET_DEVICE, NULL, 0, 0, 0, 0, NO_PF),
    MSG(VRING_KICK, NULL, 0, 0, 0, 0, NO_PF),
    MSG(GET_MAX_MEM_SLOTS, vu_get_max_mem_slots, 0, 0, 0, 0,
        VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
    MSG(ADD_MEM_REG, vu_handle_add_mem_reg, sizeof(VhostUserMemRegMsg),
        sizeof(VhostUserMemRegMsg), 1, 1, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
    MSG(REM_MEM_REG, vu_handle_rem_mem_reg, sizeof(VhostUserMemRegMsg),
        sizeof(VhostUserMemRegMsg), 0, 1, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
    MSG(SET_STATUS, NULL, 0, 0, 0, 0, NO_PF),
    MSG(GET_STATUS, NULL, 0, 0, 0, 0, NO_PF),
};

const char *vu_request_name(uint32_t request)
{
    if (request < VHOST_USER_MAX && vu_msgs[request].name) {
        return vu_msgs[request].name;
    }
    return "unknown request";
}

/* Check the header, size, fds and negotiation of dev->cur. */
static const VuMsgSpec *vu_validate(VuDev *dev, VuMsg *msg)
{
    const VuMsgSpec *s;

    if ((msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
        (msg->hdr.flags & VHOST_USER_REPLY_MASK)) {
        vu_fail(dev, "request %u with flags 0x%x (version 1 requests only)",
                msg->hdr.request, msg->hdr.flags);
        return NULL;
    }
    if (msg->hdr.request >= VHOST_USER_MAX || !vu_msgs[msg->hdr.request].name) {
        vu_fail(dev, "unknown request %u", msg->hdr.request);
        return NULL;
    }
    s = &vu_msgs[msg->hdr.request];
    if (!s->handler) {
        vu_fail(dev, "%s is not supported (its feature was not offered)", s->name);
        return NULL;
    }
    if (s->need_pf != NO_PF && !(dev->protocol_features & (1ULL << s->need_pf))) {
        vu_fail(dev, "%s but its protocol feature was not negotiated", s->name);
        return NULL;
    }
    if (msg->hdr.size < s->min_size || msg->hdr.size > s->max_size) {
        vu_fail(dev, "%s with a %u-byte payload (expected %u..%u)", s->name,
                msg->hdr.size, s->min_size, s->max_size);
        return NULL;
    }
    if (msg->nfds < s->min_fds || msg->nfds > s->max_fds) {
        vu_fail(dev, "%s with %u fds (expected %u..%u)", s->name, msg->nfds, s->min_fds,
                s->max_fds);
        return NULL;
    }
    return s;
}

void vu_dispatch(VuDev *dev)
{
    VuMsg *msg = &dev->cur;
    const VuMsgSpec *s;
    VuStatus st;

    /* Bytes past the payload read are zero, never a previous message's. */
    memset((uint8_t *)&msg->payload + msg->hdr.size, 0,
           sizeof(msg->payload) - MIN(msg->hdr.size, sizeof(msg->payload)));
    s = vu_validate(dev, msg);
    st = s ? s->handler(dev, msg) : VU_CLOSE;
    if (st != VU_DEFERRED) {
        vu_msg_finish(dev, st);
        return;
    }
    vu_advance(dev);
    vu_conn_watch(dev); /* still busy: stop reading until the reply went */
}

/*
 * frontend/fe-conn-req.c - vhost-user requests from the front-end: the
 * request table, replies and REPLY_ACK, and the typed requests that build
 * each payload and check each reply.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <unistd.h>

#include "frontend/fe-conn-internal.h"

static const char *const request_names[VHOST_USER_MAX] = {
    [VHOST_USER_GET_FEATURES] = "GET_FEATURES",
    [VHOST_USER_SET_FEATURES] = "SET_FEATURES",
    [VHOST_USER_SET_OWNER] = "SET_OWNER",
    [VHOST_USER_RESET_OWNER] = "RESET_OWNER",
    [VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
    [VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
    [VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
    [VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
    [VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
    [VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
    [VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
    [VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
    [VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VHOST_USER_SEND_RARP] = "SEND_RARP",
    [VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
    [VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
    [VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
    [VHOST_USER_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
    [VHOST_USER_GET_CONFIG] = "GET_CONFIG",
    [VHOST_USER_SET_CONFIG] = "SET_CONFIG",
    [VHOST_USER_CREATE_CRYPTO_SESSION] = "CREATE_CRYPTO_SESSION",
    [VHOST_USER_CLOSE_CRYPTO_SESSION] = "CLOSE_CRYPTO_SESSION",
    [VHOST_USER_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
    [VHOST_USER_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
    [VHOST_USER_POSTCOPY_END] = "POSTCOPY_END",
    [VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
    [VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
    [VHOST_USER_GPU_SET_SOCKET] = "GPU_SET_SOCKET",
    [VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
    [VHOST_USER_VRING_KICK] = "VRING_KICK",
    [VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    [VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
    [VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
    [VHOST_USER_SET_STATUS] = "SET_STATUS",
    [VHOST_USER_GET_STATUS] = "GET_STATUS",
};

const char *fe_request_name(uint32_t request)
{
    if (request < VHOST_USER_MAX && request_names[request]) {
        return request_names[request];
    }
    return "UNKNOWN";
}

gboolean fe_request_has_reply(uint32_t request)
{
    switch (request) {
    case VHOST_USER_GET_FEATURES:
    case VHOST_USER_GET_PROTOCOL_FEATURES:
    case VHOST_USER_GET_VRING_BASE:
    case VHOST_USER_GET_QUEUE_NUM:
    case VHOST_USER_GET_CONFIG:
    case VHOST_USER_GET_INFLIGHT_FD:
    case VHOST_USER_GET_MAX_MEM_SLOTS:
    case VHOST_USER_GET_STATUS:
        return TRUE;
    default:
        return FALSE;
    }
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */
/* ------------------------------------------------------------------------ */

static gboolean check_reply(uint32_t request, const FeMsg *r, GError **errp)
{
    if (r->msg.hdr.request != request ||
        (r->msg.hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
        !(r->msg.hdr.flags & VHOST_USER_REPLY_MASK)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "The vhost-user back-end answered %s with request %u, flags 0x%x",
                    fe_request_name(request), r->msg.hdr.request, r->msg.hdr.flags);
        return FALSE;
    }
    return TRUE;
}

static gboolean wants_ack(const FeConn *c, uint32_t request)
{
    return c->ack && !fe_request_has_reply(request) &&
           (c->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
}

/* the u64 of a REPLY_ACK: 0 is success */
static gboolean check_ack(uint32_t request, FeMsg *r, GError **errp)
{
    if (r->msg.hdr.size != sizeof(uint64_t)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "The vhost-user back-end acknowledged %s with a %u-byte payload",
                    fe_request_name(request), r->msg.hdr.size);
        return FALSE;
    }
    if (r->msg.payload.u64 != 0) {
        g_set_error(errp, FE_ERROR, FE_ERROR_REFUSED,
                    "The vhost-user back-end refused %s (status %" G_GUINT64_FORMAT ")",
                    fe_request_name(request), (guint64)r->msg.payload.u64);
        return FALSE;
    }
    return TRUE;
}

gboolean fe_conn_request(FeConn *c, uint32_t request, const void *payload,
                         uint32_t size, const int *fds, unsigned nfds, FeMsg *reply,
                         GError **errp)
{
    gboolean has_reply = fe_request_has_reply(request);
    gboolean ack = wants_ack(c, request);
    uint32_t flags = VHOST_USER_VERSION | (ack ? VHOST_USER_NEED_REPLY_MASK : 0);
    g_autoptr(GError) err = NULL;
    FeMsg local;
    FeMsg *r = reply ? reply : &local;
    gboolean ok;

    g_return_val_if_fail(!has_reply || reply, FALSE);
    r->nfds = 0;
    if (!fe_conn_check_nfds(nfds, errp) || fe_conn_dead_error(c, errp)) {
        return FALSE;
    }
    pthread_mutex_lock(&c->lock);
    ok = fe_conn_send_locked(c, request, flags, payload, size, fds, nfds, &err);
    if (ok && (has_reply || ack)) {
        ok = fe_conn_recv_locked(c, r, &err) && check_reply(request, r, &err) &&
             (has_reply || check_ack(request, r, &err));
        if (!ok) {
            fe_conn_close_fds(r->fds, &r->nfds);
        }
    }
    if (!ok && !g_error_matches(err, FE_ERROR, FE_ERROR_REFUSED)) {
        fe_conn_mark_dead(c); /* out of step with the back-end: no way back */
    }
    pthread_mutex_unlock(&c->lock);
    if (ok && r == &local) {
        fe_conn_close_fds(local.fds, &local.nfds);
    }
    if (!ok) {
        g_propagate_prefixed_error(errp, g_steal_pointer(&err),
                                   "%s: ", fe_request_name(request));
    }
    return ok;
}

gboolean fe_conn_get_u64(FeConn *c, uint32_t request, uint64_t *out, GError **errp)
{
    FeMsg r;

    if (!fe_conn_request(c, request, NULL, 0, NULL, 0, &r, errp)) {
        return FALSE;
    }
    fe_conn_close_fds(r.fds, &r.nfds);
    if (r.msg.hdr.size != sizeof(uint64_t)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "%s: the vhost-user back-end replied with %u bytes, not 8",
                    fe_request_name(request), r.msg.hdr.size);
        fe_conn_mark_dead(c);
        return FALSE;
    }
    *out = r.msg.payload.u64;
    return TRUE;
}

gboolean fe_conn_set_u64(FeConn *c, uint32_t request, uint64_t value, GError **errp)
{
    return fe_conn_request(c, request, &value, sizeof(value), NULL, 0, NULL, errp);
}

gboolean fe_conn_get_features(FeConn *c, uint64_t *features, GError **errp)
{
    return fe_conn_get_u64(c, VHOST_USER_GET_FEATURES, features, errp);
}

gboolean fe_conn_set_features(FeConn *c, uint64_t features, GError **errp)
{
    return fe_conn_set_u64(c, VHOST_USER_SET_FEATURES, features, errp);
}

gboolean fe_conn_get_protocol_features(FeConn *c, uint64_t *features, GError **errp)
{
    return fe_conn_get_u64(c, VHOST_USER_GET_PROTOCOL_FEATURES, features, errp);
}

gboolean fe_conn_set_protocol_features(FeConn *c, uint64_t features, GError **errp)
{
    /* this request itself is never acked: acks start with the next one */
    if (!fe_conn_set_u64(c, VHOST_USER_SET_PROTOCOL_FEATURES, features, errp)) {
        return FALSE;
    }
    c->protocol_features = features;
    return TRUE;
}

gboolean fe_conn_set_owner(FeConn *c, GError **errp)
{
    return fe_conn_request(c, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL, errp);
}

static void region_payload(const FeMemRegion *r, VhostUserMemoryRegion *out)
{
    out->guest_phys_addr = r->gpa;
    out->memory_size = r->size;
    out->userspace_addr = (uint64_t)(uintptr_t)r->hva;
    out->mmap_offset = r->mmap_offset;
}

gboolean fe_conn_set_mem_table(FeConn *c, const FeMem *mem, GError **errp)
{
    VhostUserMemory m = {.nregions = fe_mem_n_regions(mem)};
    int fds[VHOST_MEMORY_BASELINE_NREGIONS];

    if (m.nregions > VHOST_MEMORY_BASELINE_NREGIONS) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "SET_MEM_TABLE carries at most %d regions, not %u",
                    VHOST_MEMORY_BASELINE_NREGIONS, m.nregions);
        return FALSE;
    }
    for (unsigned i = 0; i < m.nregions; i++) {
        region_payload(fe_mem_region(mem, i), &m.regions[i]);
        fds[i] = fe_mem_region(mem, i)->fd;
    }
    return fe_conn_request(c, VHOST_USER_SET_MEM_TABLE, &m,
                           (uint32_t)(8 + m.nregions * sizeof(VhostUserMemoryRegion)),
                           fds, m.nregions, NULL, errp);
}

gboolean fe_conn_add_mem_reg(FeConn *c, const FeMemRegion *r, GError **errp)
{
    VhostUserMemRegMsg m = {.padding = 0};

    region_payload(r, &m.region);
    return fe_conn_request(c, VHOST_USER_ADD_MEM_REG, &m, sizeof(m), &r->fd, 1, NULL,
                           errp);
}

gboolean fe_conn_rem_mem_reg(FeConn *c, const FeMemRegion *r, GError **errp)
{
    VhostUserMemRegMsg m = {.padding = 0};

    region_payload(r, &m.region);
    return fe_conn_request(c, VHOST_USER_REM_MEM_REG, &m, sizeof(m), NULL, 0, NULL,
                           errp);
}

gboolean fe_conn_set_vring_state(FeConn *c, uint32_t request, uint32_t index,
                                 uint32_t num, GError **errp)
{
    VhostUserVringState s = {.index = index, .num = num};

    return fe_conn_request(c, request, &s, sizeof(s), NULL, 0, NULL, errp);
}

gboolean fe_conn_get_vring_base(FeConn *c, uint32_t index, uint32_t *base,
                                GError **errp)
{
    VhostUserVringState s = {.index = index, .num = 0};
    FeMsg r;

    if (!fe_conn_request(c, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), NULL, 0, &r,
                         errp)) {
        return FALSE;
    }
    fe_conn_close_fds(r.fds, &r.nfds);
    if (r.msg.hdr.size != sizeof(s) || r.msg.payload.state.index != index) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "GET_VRING_BASE: malformed reply (%u bytes, ring %u)",
                    r.msg.hdr.size, r.msg.payload.state.index);
        fe_conn_mark_dead(c);
        return FALSE;
    }
    *base = r.msg.payload.state.num;
    return TRUE;
}

gboolean fe_conn_set_vring_addr(FeConn *c, const VhostUserVringAddr *addr,
                                GError **errp)
{
    return fe_conn_request(c, VHOST_USER_SET_VRING_ADDR, addr, sizeof(*addr), NULL, 0,
                           NULL, errp);
}

gboolean fe_conn_set_vring_fd(FeConn *c, uint32_t request, uint32_t index, int fd,
                              GError **errp)
{
    uint64_t u =
        (index & VHOST_USER_VRING_IDX_MASK) | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

    return fe_conn_request(c, request, &u, sizeof(u), fd < 0 ? NULL : &fd,
                           fd < 0 ? 0 : 1, NULL, errp);
}

gboolean fe_conn_get_config(FeConn *c, uint32_t offset, uint32_t size, void *buf,
                            GError **errp)
{
    VhostUserConfig cfg = {.offset = offset, .size = size, .flags = 0};
    FeMsg r;

    if (size > VHOST_USER_MAX_CONFIG_SIZE) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "GET_CONFIG reads at most %d bytes", VHOST_USER_MAX_CONFIG_SIZE);
        return FALSE;
    }
    if (!fe_conn_request(c, VHOST_USER_GET_CONFIG, &cfg,
                         VHOST_USER_CONFIG_HDR_SIZE + size, NULL, 0, &r, errp)) {
        return FALSE;
    }
    fe_conn_close_fds(r.fds, &r.nfds);
    if (r.msg.hdr.size != VHOST_USER_CONFIG_HDR_SIZE + size ||
        r.msg.payload.config.size != size) {
        g_set_error(errp, FE_ERROR, FE_ERROR_REFUSED,
                    "GET_CONFIG: the vhost-user back-end refused to read %u bytes at "
                    "offset %u",
                    size, offset);
        return FALSE;
    }
    memcpy(buf, r.msg.payload.config.region, size);
    return TRUE;
}

gboolean fe_conn_set_config(FeConn *c, uint32_t offset, uint32_t size, const void *buf,
                            uint32_t flags, GError **errp)
{
    VhostUserConfig cfg = {.offset = offset, .size = size, .flags = flags};

    if (size > VHOST_USER_MAX_CONFIG_SIZE) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "SET_CONFIG writes at most %d bytes", VHOST_USER_MAX_CONFIG_SIZE);
        return FALSE;
    }
    memcpy(cfg.region, buf, size);
    return fe_conn_request(c, VHOST_USER_SET_CONFIG, &cfg,
                           VHOST_USER_CONFIG_HDR_SIZE + size, NULL, 0, NULL, errp);
}

gboolean fe_conn_get_inflight_fd(FeConn *c, uint16_t num_queues, uint16_t queue_size,
                                 int *fd, VhostUserInflight *info, GError **errp)
{
    VhostUserInflight in = {.num_queues = num_queues, .queue_size = queue_size};
    FeMsg r;

    if (!fe_conn_request(c, VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), NULL, 0, &r,
                         errp)) {
        return FALSE;
    }
    if (r.msg.hdr.size != sizeof(in) || r.nfds != 1 ||
        r.msg.payload.inflight.mmap_size == 0) {
        g_set_error(errp, FE_ERROR, FE_ERROR_PROTOCOL,
                    "GET_INFLIGHT_FD: malformed reply (%u bytes, %u fds, size "
                    "%" G_GUINT64_FORMAT ")",
                    r.msg.hdr.size, r.nfds, (guint64)r.msg.payload.inflight.mmap_size);
        fe_conn_close_fds(r.fds, &r.nfds);
        fe_conn_mark_dead(c);
        return FALSE;
    }
    *fd = r.fds[0];
    *info = r.msg.payload.inflight;
    return TRUE;
}

gboolean fe_conn_set_inflight_fd(FeConn *c, int fd, const VhostUserInflight *info,
                                 GError **errp)
{
    return fe_conn_request(c, VHOST_USER_SET_INFLIGHT_FD, info, sizeof(*info), &fd, 1,
                           NULL, errp);
}

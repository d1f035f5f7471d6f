/*
 * tests/frontend/fake-vsock-dev.c - the vhost-user half of the fake
 * vsock back-end: control messages, the memory table, and the device side
 * of split rings (indirect, EVENT_IDX).  Test scaffolding.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/vhost-user/vhost-user-proto.h"
#include "fake-vsock-priv.h"

/* ------------------------------------------------------------------------ */
/* Memory                                                                    */

static void *gpa_to_hva(FakeVsock *f, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < f->nregions; i++) {
        Region *r = &f->regions[i];

        if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
            len <= r->size - (gpa - r->gpa)) {
            return r->hva + (gpa - r->gpa);
        }
    }
    return NULL;
}

static void *uva_to_hva(FakeVsock *f, uint64_t uva, uint64_t len)
{
    for (unsigned i = 0; i < f->nregions; i++) {
        Region *r = &f->regions[i];

        if (uva >= r->uva && uva - r->uva <= r->size &&
            len <= r->size - (uva - r->uva)) {
            return r->hva + (uva - r->uva);
        }
    }
    return NULL;
}

static void unmap_all(FakeVsock *f)
{
    for (unsigned i = 0; i < f->nregions; i++) {
        munmap(f->regions[i].map, f->regions[i].map_len);
    }
    f->nregions = 0;
}

/* ------------------------------------------------------------------------ */
/* Rings, device side                                                        */

gboolean fake_ring_pop(FakeVsock *f, Ring *r, Chain *c)
{
    struct vring_desc *table;
    unsigned i, max, count = 0;

    if (!r->started || qatomic_load_acquire(&r->avail->idx) == r->last_avail) {
        return FALSE;
    }
    memset(c, 0, sizeof(*c));
    c->head = qatomic_read(&r->avail->ring[r->last_avail % r->num]);
    r->last_avail++;
    if (f->features & (1ull << VIRTIO_RING_F_EVENT_IDX)) {
        /* ask for a kick on the next one */
        qatomic_set((uint16_t *)&r->used->ring[r->num], r->last_avail);
        smp_mb();
    }
    g_assert_cmpuint(c->head, <, r->num);
    table = r->desc;
    i = c->head;
    max = r->num;
    if (table[i].flags & VRING_DESC_F_INDIRECT) {
        g_assert_cmpuint(table[i].len % 16, ==, 0);
        max = table[i].len / 16;
        table = gpa_to_hva(f, table[i].addr, table[i].len);
        g_assert_nonnull(table);
        i = 0;
    }
    for (;;) {
        struct vring_desc d = table[i];
        void *p = gpa_to_hva(f, d.addr, d.len);

        g_assert_cmpuint(++count, <=, max);
        g_assert_cmpuint(c->n_out + c->n_in, <, G_N_ELEMENTS(c->iov));
        g_assert_nonnull(p);
        if (d.flags & VRING_DESC_F_WRITE) {
            c->iov[c->n_out + c->n_in++] = (struct iovec){p, d.len};
        } else {
            g_assert_cmpuint(c->n_in, ==, 0); /* readable before writable */
            c->iov[c->n_out++] = (struct iovec){p, d.len};
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return TRUE;
        }
        i = d.next;
        g_assert_cmpuint(i, <, max);
    }
}

void fake_ring_push(FakeVsock *f, Ring *r, uint16_t head, uint32_t len)
{
    uint16_t old = r->used_idx;
    gboolean notify;
    uint64_t one = 1;

    r->used->ring[r->used_idx % r->num] = (struct vring_used_elem){head, len};
    r->used_idx++;
    /* release pairs with the driver's acquire load of used->idx */
    qatomic_store_release(&r->used->idx, r->used_idx);
    /* full fence pairs with the driver's smp_mb() in fe_vq_enable_cb() */
    smp_mb();
    if (f->features & (1ull << VIRTIO_RING_F_EVENT_IDX)) {
        notify =
            vring_need_event(qatomic_read(&r->avail->ring[r->num]), r->used_idx, old);
    } else {
        notify = !(qatomic_read(&r->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
    }
    if (notify && r->call_fd >= 0) {
        g_assert_cmpint(write(r->call_fd, &one, 8), ==, 8);
    }
}

/* Copy @len bytes to the writable part of @c. */
void fake_chain_write(Chain *c, size_t off, const void *src, size_t len)
{
    const uint8_t *s = src;

    for (unsigned k = c->n_out; k < c->n_out + c->n_in && len; k++) {
        struct iovec *v = &c->iov[k];

        if (off >= v->iov_len) {
            off -= v->iov_len;
            continue;
        }
        size_t n = MIN(len, v->iov_len - off);
        memcpy((uint8_t *)v->iov_base + off, s, n);
        s += n;
        len -= n;
        off = 0;
    }
}

size_t fake_chain_room(const Chain *c)
{
    size_t room = 0;

    for (unsigned k = c->n_out; k < c->n_out + c->n_in; k++) {
        room += c->iov[k].iov_len;
    }
    return room;
}

/* ------------------------------------------------------------------------ */
/* Control messages                                                          */

static void reply(FakeVsock *f, const VhostUserMsg *req, const void *payload,
                  uint32_t size)
{
    VhostUserMsg m = {
        .hdr = {req->hdr.request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, size}};

    memcpy(&m.payload, payload, size);
    g_assert_cmpint(send(f->client_fd, &m, 12 + size, MSG_NOSIGNAL), ==,
                    12 + (ssize_t)size);
}

static void set_mem_table(FakeVsock *f, const VhostUserMsg *m, int *fds, unsigned nfds)
{
    unmap_all(f);
    g_assert_cmpuint(nfds, ==, m->payload.memory.nregions);
    for (unsigned i = 0; i < nfds; i++) {
        VhostUserMemoryRegion copy = m->payload.memory.regions[i];
        const VhostUserMemoryRegion *mr = &copy;
        Region *r = &f->regions[f->nregions++];

        r->map_len = mr->memory_size + mr->mmap_offset;
        r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
        g_assert_true(r->map != MAP_FAILED);
        r->hva = (uint8_t *)r->map + mr->mmap_offset;
        r->gpa = mr->guest_phys_addr;
        r->uva = mr->userspace_addr;
        r->size = mr->memory_size;
        close(fds[i]);
    }
}

static void vring_msg(FakeVsock *f, const VhostUserMsg *m, int *fds, unsigned nfds)
{
    unsigned idx = m->payload.state.index;
    Ring *r;

    if (m->hdr.request == VHOST_USER_SET_VRING_KICK ||
        m->hdr.request == VHOST_USER_SET_VRING_CALL) {
        idx = m->payload.u64 & VHOST_USER_VRING_IDX_MASK;
    }
    g_assert_cmpuint(idx, <, 2);
    r = &f->rings[idx];
    switch (m->hdr.request) {
    case VHOST_USER_SET_VRING_NUM:
        r->num = m->payload.state.num;
        break;
    case VHOST_USER_SET_VRING_BASE:
        r->last_avail = (uint16_t)m->payload.state.num;
        r->used_idx = r->last_avail;
        break;
    case VHOST_USER_SET_VRING_ADDR:
        r->desc = uva_to_hva(f, m->payload.addr.desc_user_addr, 16ull * r->num);
        r->avail = uva_to_hva(f, m->payload.addr.avail_user_addr, 6 + 2ull * r->num);
        r->used = uva_to_hva(f, m->payload.addr.used_user_addr, 6 + 8ull * r->num);
        g_assert_true(r->desc && r->avail && r->used);
        r->used_idx = r->used->idx;
        break;
    case VHOST_USER_SET_VRING_KICK:
        g_assert_cmpuint(nfds, ==, 1);
        if (r->kick_fd >= 0) {
            close(r->kick_fd);
        }
        r->kick_fd = fds[0];
        r->started = TRUE;
        break;
    case VHOST_USER_SET_VRING_CALL:
        g_assert_cmpuint(nfds, ==, 1);
        if (r->call_fd >= 0) {
            close(r->call_fd);
        }
        r->call_fd = fds[0];
        break;
    default:
        break;
    }
}

/* Forget the front-end: rings, memory, its socket. */
void fake_dev_reset(FakeVsock *f)
{
    for (int i = 0; i < 2; i++) {
        if (f->rings[i].kick_fd >= 0) {
            close(f->rings[i].kick_fd);
        }
        if (f->rings[i].call_fd >= 0) {
            close(f->rings[i].call_fd);
        }
        f->rings[i] = (Ring){.kick_fd = -1, .call_fd = -1};
    }
    unmap_all(f);
    if (f->client_fd >= 0) {
        close(f->client_fd);
        f->client_fd = -1;
    }
}

/* Receive one message with its fds; FALSE when the front-end went away. */
static gboolean recv_msg(FakeVsock *f, VhostUserMsg *m, int *fds, unsigned *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {&m->hdr, 12};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};

    *nfds = 0;
    if (recvmsg(f->client_fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC) != 12) {
        return FALSE;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        *nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        memcpy(fds, CMSG_DATA(cm), *nfds * sizeof(int));
    }
    g_assert_cmpuint(m->hdr.size, <=, sizeof(m->payload));
    return m->hdr.size == 0 ||
           recv(f->client_fd, &m->payload, m->hdr.size, MSG_WAITALL) == m->hdr.size;
}

gboolean fake_control(FakeVsock *f)
{
    VhostUserMsg m;
    int fds[8];
    unsigned nfds;
    uint64_t u;
    gboolean replied = FALSE;

    if (!recv_msg(f, &m, fds, &nfds)) {
        return FALSE;
    }
    switch (m.hdr.request) {
    case VHOST_USER_GET_FEATURES:
        u = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
            (1ull << VIRTIO_RING_F_EVENT_IDX) |
            (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
            (1ull << VIRTIO_VSOCK_F_SEQPACKET) | 1ull; /* VIRTIO_VSOCK_F_STREAM */
        reply(f, &m, &u, 8);
        replied = TRUE;
        break;
    case VHOST_USER_SET_FEATURES:
        f->features = m.payload.u64;
        break;
    case VHOST_USER_GET_PROTOCOL_FEATURES:
        u = (1ull << VHOST_USER_PROTOCOL_F_MQ) |
            (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
            (1ull << VHOST_USER_PROTOCOL_F_CONFIG);
        reply(f, &m, &u, 8);
        replied = TRUE;
        break;
    case VHOST_USER_SET_PROTOCOL_FEATURES:
        f->proto = m.payload.u64;
        break;
    case VHOST_USER_GET_QUEUE_NUM:
        u = 2;
        reply(f, &m, &u, 8);
        replied = TRUE;
        break;
    case VHOST_USER_GET_CONFIG: {
        VhostUserConfig cfg = m.payload.config;
        uint64_t cid = FAKE_VSOCK_CID;

        g_assert_cmpuint(cfg.offset + cfg.size, <=, 8);
        memcpy(cfg.region, (uint8_t *)&cid + cfg.offset, cfg.size);
        reply(f, &m, &cfg, VHOST_USER_CONFIG_HDR_SIZE + cfg.size);
        replied = TRUE;
        break;
    }
    case VHOST_USER_SET_MEM_TABLE:
        set_mem_table(f, &m, fds, nfds);
        nfds = 0;
        break;
    case VHOST_USER_GET_VRING_BASE: {
        VhostUserVringState s = m.payload.state;

        g_assert_cmpuint(s.index, <, 2);
        f->rings[s.index].started = FALSE;
        s.num = f->rings[s.index].last_avail;
        reply(f, &m, &s, sizeof(s));
        replied = TRUE;
        break;
    }
    case VHOST_USER_SET_VRING_NUM:
    case VHOST_USER_SET_VRING_BASE:
    case VHOST_USER_SET_VRING_ADDR:
    case VHOST_USER_SET_VRING_KICK:
    case VHOST_USER_SET_VRING_CALL:
        vring_msg(f, &m, fds, nfds);
        nfds = 0;
        break;
    default: /* SET_OWNER, SET_VRING_ENABLE...: nothing to do */
        break;
    }
    for (unsigned i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    if (!replied && (m.hdr.flags & VHOST_USER_NEED_REPLY_MASK)) {
        u = 0;
        reply(f, &m, &u, 8);
    }
    return TRUE;
}

/*
 * tests/vhost-user/vu-test-client.c - a minimal vhost-user front-end for
 * tests (see vu-test-client.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "qcontext/aio/atomic.h"
#include "vu-test-client.h"

int tc_connect_path(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    for (int i = 0; i < 500; i++) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return fd;
        }
        g_usleep(10000);
    }
    g_error("cannot connect to %s: %s", path, g_strerror(errno));
}

void tc_send_raw(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
    char control[CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    g_assert_cmpuint(nfds, <=, 16);
    if (nfds) {
        struct cmsghdr *c;

        memset(control, 0, sizeof(control));
        mh.msg_control = control;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    /* A server that already closed may refuse it: that is its right. */
    g_assert_true(n == (ssize_t)len ||
                  (n < 0 && (errno == EPIPE || errno == ECONNRESET)));
}

void tc_send(int sock, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
             const int *fds, unsigned nfds)
{
    uint8_t buf[sizeof(VhostUserHeader) + sizeof(VhostUserPayload) + 64];
    VhostUserHeader h = {
        .request = req, .flags = flags | VHOST_USER_VERSION, .size = size};

    g_assert_cmpuint(size, <=, sizeof(buf) - sizeof(h));
    memcpy(buf, &h, sizeof(h));
    if (size) {
        memcpy(buf + sizeof(h), payload, size);
    }
    tc_send_raw(sock, buf, sizeof(h) + size, fds, nfds);
}

static bool wait_readable(int sock, int timeout_ms)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};

    return poll(&p, 1, timeout_ms) == 1;
}

/* Read exactly @len bytes (collecting one fd); false on EOF or timeout. */
static bool recv_all(int sock, void *buf, size_t len, int *fd, int timeout_ms)
{
    size_t got = 0;

    while (got < len) {
        char control[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = (char *)buf + got, .iov_len = len - got};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = control,
                            .msg_controllen = sizeof(control)};
        ssize_t n;

        if (!wait_readable(sock, timeout_ms)) {
            return false;
        }
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n <= 0) {
            return false;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_type == SCM_RIGHTS && fd) {
                memcpy(fd, CMSG_DATA(c), sizeof(int));
            }
        }
        got += (size_t)n;
    }
    return true;
}

bool tc_recv(int sock, VhostUserMsg *reply, int *fd, int timeout_ms)
{
    if (fd) {
        *fd = -1;
    }
    memset(reply, 0, sizeof(*reply));
    if (!recv_all(sock, &reply->hdr, sizeof(reply->hdr), fd, timeout_ms)) {
        return false;
    }
    g_assert_cmpuint(reply->hdr.size, <=, sizeof(reply->payload));
    g_assert_cmpuint(reply->hdr.flags, ==, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
    return reply->hdr.size == 0 ||
           recv_all(sock, &reply->payload, reply->hdr.size, fd, timeout_ms);
}

bool tc_wait_closed(int sock, int timeout_ms)
{
    char b;
    ssize_t n;

    if (!wait_readable(sock, timeout_ms)) {
        return false;
    }
    /* A server closing with our bytes unread resets the connection. */
    n = recv(sock, &b, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

bool tc_quiet(int sock, int ms)
{
    return !wait_readable(sock, ms);
}

uint64_t tc_get_u64(int sock, uint32_t req)
{
    VhostUserMsg r;

    tc_send(sock, req, 0, NULL, 0, NULL, 0);
    g_assert_true(tc_recv(sock, &r, NULL, TC_TIMEOUT_MS));
    g_assert_cmpuint(r.hdr.request, ==, req);
    g_assert_cmpuint(r.hdr.size, ==, 8);
    return r.payload.u64;
}

uint64_t tc_send_acked(TestClient *c, uint32_t req, const void *payload, uint32_t size,
                       const int *fds, unsigned nfds)
{
    VhostUserMsg r;

    tc_send(c->sock, req, VHOST_USER_NEED_REPLY_MASK, payload, size, fds, nfds);
    g_assert_true(tc_recv(c->sock, &r, NULL, TC_TIMEOUT_MS));
    g_assert_cmpuint(r.hdr.request, ==, req);
    g_assert_cmpuint(r.hdr.size, ==, 8);
    return r.payload.u64;
}

/* ------------------------------------------------------------------------ */
/* The handshake                                                             */
/* ------------------------------------------------------------------------ */

static void tc_send_u64(TestClient *c, uint32_t req, uint64_t v)
{
    g_assert_cmpuint(tc_send_acked(c, req, &v, sizeof(v), NULL, 0), ==, 0);
}

static void tc_send_state(TestClient *c, uint32_t req, uint32_t idx, uint32_t num)
{
    VhostUserVringState st = {.index = idx, .num = num};

    g_assert_cmpuint(tc_send_acked(c, req, &st, sizeof(st), NULL, 0), ==, 0);
}

static void tc_setup_memory(TestClient *c, const TcOpts *o)
{
    VhostUserMemRegMsg reg = {.region = {.guest_phys_addr = c->mem.gpa,
                                         .memory_size = c->mem.size,
                                         .userspace_addr = (uintptr_t)c->mem.base,
                                         .mmap_offset = 0}};
    VhostUserMemory m = {.nregions = 1};

    if (o->add_mem_reg) {
        g_assert_cmpuint(tc_get_u64(c->sock, VHOST_USER_GET_MAX_MEM_SLOTS), >=, 8);
        g_assert_cmpuint(
            tc_send_acked(c, VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), &c->mem.fd, 1),
            ==, 0);
        return;
    }
    m.regions[0] = reg.region;
    g_assert_cmpuint(
        tc_send_acked(c, VHOST_USER_SET_MEM_TABLE, &m,
                      offsetof(VhostUserMemory, regions) + sizeof(m.regions[0]),
                      &c->mem.fd, 1),
        ==, 0);
}

static void tc_setup_inflight(TestClient *c, const TcOpts *o)
{
    VhostUserInflight in = {.num_queues = (uint16_t)c->nq, .queue_size = c->qsize};
    VhostUserMsg r;
    int fd;

    if (o->inflight_fd >= 0 && o->inflight_size) {
        c->inflight_fd = o->inflight_fd;
        c->inflight_size = o->inflight_size;
    } else {
        tc_send(c->sock, VHOST_USER_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);
        g_assert_true(tc_recv(c->sock, &r, &fd, TC_TIMEOUT_MS));
        g_assert_cmpuint(r.hdr.size, ==, sizeof(VhostUserInflight));
        g_assert_cmpint(fd, >=, 0);
        c->inflight_fd = fd;
        c->inflight_size = r.payload.inflight.mmap_size;
        g_assert_cmpuint(r.payload.inflight.mmap_offset, ==, 0);
    }
    in.mmap_size = c->inflight_size;
    in.mmap_offset = 0;
    g_assert_cmpuint(tc_send_acked(c, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in),
                                   &c->inflight_fd, 1),
                     ==, 0);
}

static void tc_setup_ring(TestClient *c, unsigned q, const TcOpts *o)
{
    TestVring *vr = &c->vr[q];
    VhostUserVringAddr a;
    uint64_t v = q;

    if (!o->keep_memory) {
        tvr_init(vr, &c->mem, c->qsize);
    }
    tc_send_state(c, VHOST_USER_SET_VRING_NUM, q, c->qsize);
    /* As QEMU after a back-end restart: the base is the used index. */
    tc_send_state(c, VHOST_USER_SET_VRING_BASE, q,
                  o->keep_memory ? tvr_used_idx(vr) : 0);
    a = (VhostUserVringAddr){.index = q,
                             .desc_user_addr = tgm_uva(&c->mem, vr->desc_gpa),
                             .used_user_addr = tgm_uva(&c->mem, vr->used_gpa),
                             .avail_user_addr = tgm_uva(&c->mem, vr->avail_gpa)};
    g_assert_cmpuint(
        tc_send_acked(c, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), ==, 0);
    g_assert_cmpuint(tc_send_acked(c, VHOST_USER_SET_VRING_KICK, &v, 8, &c->kick[q], 1),
                     ==, 0);
    g_assert_cmpuint(tc_send_acked(c, VHOST_USER_SET_VRING_CALL, &v, 8, &c->call[q], 1),
                     ==, 0);
    g_assert_cmpuint(tc_send_acked(c, VHOST_USER_SET_VRING_ERR, &v, 8, &c->err[q], 1),
                     ==, 0);
}

void tc_setup(TestClient *c, const char *path, const TcOpts *opts)
{
    TcOpts o = opts ? *opts : (TcOpts){.inflight_fd = -1};
    uint64_t f;

    if (!o.keep_memory) {
        memset(c, 0, sizeof(*c));
        c->nq = o.nq ? o.nq : 1;
        c->qsize = o.qsize ? o.qsize : 16;
        tgm_init(&c->mem, TC_MEM_SIZE, TC_MEM_GPA);
        for (unsigned q = 0; q < c->nq; q++) {
            c->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            c->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            c->err[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        }
        c->inflight_fd = -1;
    }
    c->sock = tc_connect_path(path);
    f = tc_get_u64(c->sock, VHOST_USER_GET_FEATURES);
    g_assert_true(f & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
    c->pfeatures = tc_get_u64(c->sock, VHOST_USER_GET_PROTOCOL_FEATURES);
    g_assert_cmpuint(c->pfeatures & (1ULL << VHOST_USER_PROTOCOL_F_STATUS), ==, 0);
    tc_send(c->sock, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &c->pfeatures, 8, NULL, 0);
    g_assert_cmpuint(tc_get_u64(c->sock, VHOST_USER_GET_QUEUE_NUM), >=, c->nq);
    tc_send(c->sock, VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0);
    if (o.no_event_idx) {
        f &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
    }
    c->features = f;
    tc_send_u64(c, VHOST_USER_SET_FEATURES, f);
    if (o.inflight) {
        tc_setup_inflight(c, &o);
    }
    tc_setup_memory(c, &o);
    for (unsigned q = 0; q < c->nq; q++) {
        tc_setup_ring(c, q, &o);
    }
    for (unsigned q = 0; q < c->nq && !o.no_enable; q++) {
        tc_send_state(c, VHOST_USER_SET_VRING_ENABLE, q, 1);
    }
}

void tc_disconnect(TestClient *c)
{
    if (c->sock >= 0) {
        close(c->sock);
        c->sock = -1;
    }
}

void tc_cleanup(TestClient *c)
{
    tc_disconnect(c);
    for (unsigned q = 0; q < c->nq; q++) {
        close(c->kick[q]);
        close(c->call[q]);
        close(c->err[q]);
    }
    if (c->inflight_fd >= 0) {
        close(c->inflight_fd);
    }
    tgm_cleanup(&c->mem);
    c->nq = 0;
}

/* ------------------------------------------------------------------------ */
/* virtio-blk requests                                                       */
/* ------------------------------------------------------------------------ */

void tc_blk_submit(TestClient *c, TcBlkReq *r, unsigned q, uint32_t type,
                   uint64_t sector, const void *data, size_t len, bool no_kick)
{
    struct virtio_blk_outhdr *h;
    bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
    TvBuf b[3];
    unsigned n = 0;
    uint64_t one = 1;

    memset(r, 0, sizeof(*r));
    r->q = q;
    r->len = len;
    r->hdr_gpa = tgm_alloc(&c->mem, sizeof(*h), 16);
    h = tgm_ptr(&c->mem, r->hdr_gpa);
    h->type = type;
    h->sector = sector;
    b[n++] = (TvBuf){r->hdr_gpa, sizeof(*h), false};
    if (len) {
        r->data_gpa = tgm_alloc(&c->mem, len, 512);
        if (data) {
            memcpy(tgm_ptr(&c->mem, r->data_gpa), data, len);
        }
        b[n++] = (TvBuf){r->data_gpa, (uint32_t)len, in};
    }
    r->status_gpa = tgm_alloc(&c->mem, 1, 1);
    *(uint8_t *)tgm_ptr(&c->mem, r->status_gpa) = 0xee;
    b[n++] = (TvBuf){r->status_gpa, 1, true};
    r->head = tvr_add_indirect(&c->vr[q], b, n);
    tvr_publish(&c->vr[q], r->head);
    if (!no_kick) {
        g_assert_cmpint(write(c->kick[q], &one, 8), ==, 8);
    }
}

bool tc_wait_call(TestClient *c, unsigned q, int ms)
{
    struct pollfd p = {.fd = c->call[q], .events = POLLIN};
    uint64_t v;

    if (poll(&p, 1, ms) != 1) {
        return false;
    }
    return read(c->call[q], &v, 8) == 8;
}

int tc_blk_wait(TestClient *c, TcBlkReq *r, void *out)
{
    gint64 deadline = g_get_monotonic_time() + TC_TIMEOUT_MS * 1000LL;
    uint32_t id, len;

    while (!c->used_seen[r->q][r->head]) {
        while (tvr_get_used(&c->vr[r->q], &id, &len)) {
            g_assert_cmpuint(id, <, c->qsize);
            g_assert_false(c->used_seen[r->q][id]); /* never completed twice */
            c->used_seen[r->q][id] = 1;
            c->used_len[r->q][id] = len;
        }
        if (c->used_seen[r->q][r->head]) {
            break;
        }
        if (g_get_monotonic_time() > deadline) {
            g_error("request %u on queue %u never completed", r->head, r->q);
        }
        tc_wait_call(c, r->q, 10);
    }
    c->used_seen[r->q][r->head] = 0;
    if (out && r->len) {
        memcpy(out, tgm_ptr(&c->mem, r->data_gpa), r->len);
    }
    return *(uint8_t *)tgm_ptr(&c->mem, r->status_gpa);
}

int tc_blk(TestClient *c, unsigned q, uint32_t type, uint64_t sector, void *buf,
           size_t len)
{
    TcBlkReq r;

    tc_blk_submit(c, &r, q, type, sector, buf, len, false);
    return tc_blk_wait(
        c, &r, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID ? buf : NULL);
}

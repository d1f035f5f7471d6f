/*
 * tests/frontend/test-fe-unit.c - the front-end's pieces without a real
 * back-end: guest memory bounds and allocator, the split virtqueue driver
 * against a device simulated here (reading descriptors and writing the used
 * ring as a back-end does), and the message layer against a scripted peer
 * on a socketpair (replies, REPLY_ACK, fds, timeouts, hang-ups, garbage).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "frontend/fe-conn.h"
#include "frontend/fe-vq.h"

/* ------------------------------------------------------------------------ */
/* Guest memory                                                              */

static void test_mem_bounds(void)
{
    g_autoptr(GError) err = NULL;
    FeMem *m = fe_mem_new(1 << 20, &err);
    const FeMemRegion *r;

    g_assert_no_error(err);
    r = fe_mem_region(m, 0);
    g_assert_cmphex(r->gpa, ==, FE_MEM_GPA_BASE);
    g_assert_cmpuint(r->size, ==, 1 << 20);
    g_assert_true(fe_mem_translate(m, FE_MEM_GPA_BASE, 1 << 20) == r->hva);
    g_assert_null(fe_mem_translate(m, FE_MEM_GPA_BASE, (1 << 20) + 1));
    g_assert_null(fe_mem_translate(m, FE_MEM_GPA_BASE - 1, 2));
    g_assert_null(fe_mem_translate(m, G_MAXUINT64 - 1, 4));
    g_assert_null(fe_mem_translate(m, FE_MEM_GPA_BASE + 8, G_MAXUINT64));
    g_assert_nonnull(fe_mem_translate(m, FE_MEM_GPA_BASE + (1 << 20) - 1, 1));

    /* overlapping or unaligned regions are refused */
    g_assert_cmpint(fe_mem_add_region(m, FE_MEM_GPA_BASE + 4096, 4096, &err), ==, -1);
    g_assert_error(err, FE_ERROR, FE_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_cmpint(fe_mem_add_region(m, 123, 4096, &err), ==, -1);
    g_clear_error(&err);
    g_assert_cmpint(fe_mem_add_region(m, 0x100000000ull, 8192, &err), ==, 1);
    g_assert_no_error(err);
    g_assert_cmpuint(fe_mem_n_regions(m), ==, 2);
    g_assert_cmphex(fe_mem_end(m), ==, 0x100000000ull + 8192);
    fe_mem_free(m);
}

static void test_mem_alloc(void)
{
    g_autoptr(GError) err = NULL;
    FeMem *m = fe_mem_new(64 * 1024, &err);
    void *blocks[16];
    uint64_t gpa;
    uint8_t *p;

    p = fe_mem_alloc(m, 100, 4096, &gpa);
    g_assert_nonnull(p);
    g_assert_cmphex(gpa % 4096, ==, 0);
    g_assert_cmphex(fe_mem_gpa(m, p), ==, gpa);
    g_assert_true(fe_mem_translate(m, gpa, 100) == p);
    fe_mem_release(m, p);
    /* 16 x 4 KiB fill it; one more does not fit; freeing in any order
     * merges the space back into one piece */
    for (int i = 0; i < 16; i++) {
        blocks[i] = fe_mem_alloc(m, 4096, 8, NULL);
        g_assert_nonnull(blocks[i]);
    }
    g_assert_null(fe_mem_alloc(m, 8, 8, NULL));
    for (int i = 0; i < 16; i += 2) {
        fe_mem_release(m, blocks[i]);
    }
    g_assert_null(fe_mem_alloc(m, 8192, 8, NULL)); /* fragmented */
    for (int i = 1; i < 16; i += 2) {
        fe_mem_release(m, blocks[i]);
    }
    p = fe_mem_alloc(m, 64 * 1024, 8, NULL);
    g_assert_nonnull(p);
    g_assert_cmpuint(p[65535], ==, 0);
    fe_mem_release(m, p);
    fe_mem_free(m);
}

/* ------------------------------------------------------------------------ */
/* A simulated device on the other side of the rings                        */

typedef struct {
    FeMem *mem;
    FeVq *vq;
    uint16_t last_avail;
    uint16_t used_idx;
} SimDev;

/* A walked chain as the device sees it. */
typedef struct {
    uint16_t head;
    unsigned n;
    FeVqBuf bufs[64];
    gboolean indirect;
} SimChain;

static gboolean sim_pop(SimDev *d, SimChain *c)
{
    struct vring_avail *avail = fe_vq_avail(d->vq);
    struct vring_desc *desc = fe_vq_desc_table(d->vq);
    unsigned size = fe_vq_size(d->vq);
    struct vring_desc *table = desc;
    unsigned i, max = size;

    if (__atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE) == d->last_avail) {
        return FALSE;
    }
    memset(c, 0, sizeof(*c));
    c->head = avail->ring[d->last_avail++ % size];
    i = c->head;
    if (desc[i].flags & VRING_DESC_F_INDIRECT) {
        g_assert_false(desc[i].flags & VRING_DESC_F_NEXT);
        g_assert_cmpuint(desc[i].len % 16, ==, 0);
        table = fe_mem_translate(d->mem, desc[i].addr, desc[i].len);
        g_assert_nonnull(table);
        max = desc[i].len / 16;
        c->indirect = TRUE;
        i = 0;
    }
    for (;;) {
        g_assert_cmpuint(i, <, max);
        g_assert_cmpuint(c->n, <, max);
        g_assert_false(table[i].flags & VRING_DESC_F_INDIRECT);
        c->bufs[c->n++] = (FeVqBuf){.gpa = table[i].addr,
                                    .len = table[i].len,
                                    .write = !!(table[i].flags & VRING_DESC_F_WRITE)};
        if (!(table[i].flags & VRING_DESC_F_NEXT)) {
            return TRUE;
        }
        i = table[i].next;
    }
}

static void sim_push(SimDev *d, uint32_t id, uint32_t len)
{
    struct vring_used *used = fe_vq_used(d->vq);

    used->ring[d->used_idx % fe_vq_size(d->vq)] = (struct vring_used_elem){id, len};
    d->used_idx++;
    __atomic_store_n(&used->idx, d->used_idx, __ATOMIC_RELEASE);
}

/* the kick eventfd's counter (read and cleared) */
static uint64_t kicks(FeVq *vq)
{
    uint64_t v = 0;

    if (read(fe_vq_kick_fd(vq), &v, sizeof(v)) < 0) {
        g_assert_cmpint(errno, ==, EAGAIN);
        return 0;
    }
    return v;
}

static FeVq *new_vq(FeMem **mem, unsigned size, uint64_t features, unsigned indirect)
{
    g_autoptr(GError) err = NULL;
    FeVq *vq;

    *mem = fe_mem_new(1 << 20, &err);
    g_assert_no_error(err);
    vq = fe_vq_new(*mem, 0, size, features, indirect, &err);
    g_assert_no_error(err);
    return vq;
}

static void test_vq_chains(void)
{
    FeMem *mem;
    FeVq *vq = new_vq(&mem, 8, 1ull << VIRTIO_RING_F_INDIRECT_DESC, 4);
    SimDev d = {.mem = mem, .vq = vq};
    FeVqBuf bufs[3] = {
        {0x40001000, 16, FALSE}, {0x40002000, 4096, TRUE}, {0x40003000, 1, TRUE}};
    int tok_a, tok_b;
    SimChain c;
    uint32_t len;

    /* indirect: one main descriptor */
    g_assert_cmpint(fe_vq_add(vq, bufs, 3, &tok_a), >=, 0);
    g_assert_cmpuint(fe_vq_num_free(vq), ==, 7);
    /* direct when disabled: three */
    fe_vq_set_indirect(vq, FALSE);
    g_assert_cmpint(fe_vq_add(vq, bufs, 3, &tok_b), >=, 0);
    g_assert_cmpuint(fe_vq_num_free(vq), ==, 4);
    g_assert_cmpuint(fe_vq_outstanding(vq), ==, 2);

    for (int k = 0; k < 2; k++) {
        g_assert_true(sim_pop(&d, &c));
        g_assert_cmpint(c.indirect, ==, k == 0);
        g_assert_cmpuint(c.n, ==, 3);
        for (int i = 0; i < 3; i++) {
            g_assert_cmphex(c.bufs[i].gpa, ==, bufs[i].gpa);
            g_assert_cmpuint(c.bufs[i].len, ==, bufs[i].len);
            g_assert_cmpint(c.bufs[i].write, ==, bufs[i].write);
        }
        sim_push(&d, c.head, 4097);
    }
    g_assert_false(sim_pop(&d, &c));
    g_assert_true(fe_vq_get_used(vq, &len) == &tok_a);
    g_assert_cmpuint(len, ==, 4097);
    g_assert_true(fe_vq_get_used(vq, &len) == &tok_b);
    g_assert_null(fe_vq_get_used(vq, &len));
    g_assert_cmpuint(fe_vq_num_free(vq), ==, 8);
    g_assert_cmpuint(fe_vq_outstanding(vq), ==, 0);

    /* a full ring refuses */
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(fe_vq_add(vq, bufs, 3, &tok_a), >=, 0);
    }
    g_assert_cmpint(fe_vq_add(vq, bufs, 3, &tok_a), ==, -1);
    fe_vq_free(vq);
    fe_mem_free(mem);
}

/* Many rounds with out-of-order completion: every token comes back once. */
static void test_vq_out_of_order(void)
{
    FeMem *mem;
    FeVq *vq = new_vq(&mem, 16, 0, 0);
    SimDev d = {.mem = mem, .vq = vq};
    int tokens[16];
    unsigned seen[16] = {0};
    FeVqBuf bufs[2] = {{0x40001000, 512, FALSE}, {0x40002000, 1, TRUE}};

    for (int round = 0; round < 200; round++) {
        SimChain chains[8];
        unsigned n = 0;
        void *t;

        while (fe_vq_num_free(vq) >= 2) {
            g_assert_cmpint(fe_vq_add(vq, bufs, 2, &tokens[n % 16]), >=, 0);
            n++;
        }
        g_assert_cmpuint(n, ==, round == 0 ? 8 : n);
        n = 0;
        while (sim_pop(&d, &chains[n])) {
            n++;
        }
        /* complete in reverse order */
        for (unsigned i = n; i-- > 0;) {
            sim_push(&d, chains[i].head, 1);
        }
        while ((t = fe_vq_get_used(vq, NULL))) {
            seen[(int *)t - tokens]++;
        }
        g_assert_cmpuint(fe_vq_outstanding(vq), ==, 0);
        g_assert_cmpuint(fe_vq_num_free(vq), ==, 16);
    }
    g_assert_cmpuint(seen[0], ==, 200);
    g_assert_null(fe_vq_error(vq));
    fe_vq_free(vq);
    fe_mem_free(mem);
}

static void test_vq_notify_flags(void)
{
    FeMem *mem;
    FeVq *vq = new_vq(&mem, 8, 0, 0);
    SimDev d = {.mem = mem, .vq = vq};
    FeVqBuf b = {0x40001000, 1, TRUE};
    int tok;
    SimChain c;

    fe_vq_add(vq, &b, 1, &tok);
    g_assert_true(fe_vq_kick(vq));
    g_assert_cmpuint(kicks(vq), ==, 1);
    g_assert_false(fe_vq_kick(vq)); /* nothing new */
    /* the device suppresses kicks */
    fe_vq_used(vq)->flags = VRING_USED_F_NO_NOTIFY;
    fe_vq_add(vq, &b, 1, &tok);
    g_assert_false(fe_vq_kick(vq));
    g_assert_cmpuint(kicks(vq), ==, 0);
    fe_vq_used(vq)->flags = 0;

    /* interrupts: the flag follows enable/disable */
    fe_vq_disable_cb(vq);
    g_assert_cmphex(fe_vq_avail(vq)->flags, ==, VRING_AVAIL_F_NO_INTERRUPT);
    g_assert_true(fe_vq_enable_cb(vq));
    g_assert_cmphex(fe_vq_avail(vq)->flags, ==, 0);
    sim_pop(&d, &c);
    sim_push(&d, c.head, 0);
    g_assert_false(fe_vq_enable_cb(vq)); /* a completion is already there */
    fe_vq_free(vq);
    fe_mem_free(mem);
}

static void test_vq_event_idx(void)
{
    FeMem *mem;
    FeVq *vq = new_vq(&mem, 8, 1ull << VIRTIO_RING_F_EVENT_IDX, 0);
    SimDev d = {.mem = mem, .vq = vq};
    uint16_t *avail_event = (uint16_t *)&fe_vq_used(vq)->ring[8];
    uint16_t *used_event = &fe_vq_avail(vq)->ring[8];
    FeVqBuf b = {0x40001000, 1, TRUE};
    int tok;
    SimChain c;

    /* the device wants a kick when avail->idx passes 0 */
    *avail_event = 0;
    fe_vq_add(vq, &b, 1, &tok);
    g_assert_true(fe_vq_kick(vq));
    g_assert_cmpuint(kicks(vq), ==, 1);
    /* ... then only after index 3: adds at 1 and 2 are not kicked */
    *avail_event = 3;
    fe_vq_add(vq, &b, 1, &tok);
    g_assert_false(fe_vq_kick(vq));
    fe_vq_add(vq, &b, 1, &tok);
    g_assert_false(fe_vq_kick(vq));
    fe_vq_add(vq, &b, 1, &tok);
    fe_vq_add(vq, &b, 1, &tok); /* 3 and 4 in one batch: crosses 3 */
    g_assert_true(fe_vq_kick(vq));
    g_assert_cmpuint(kicks(vq), ==, 1);
    /* flags stay 0 with EVENT_IDX; used_event follows the harvest */
    fe_vq_disable_cb(vq);
    g_assert_cmphex(fe_vq_avail(vq)->flags, ==, 0);
    for (int i = 0; i < 2; i++) {
        sim_pop(&d, &c);
        sim_push(&d, c.head, 0);
    }
    g_assert_nonnull(fe_vq_get_used(vq, NULL));
    g_assert_false(fe_vq_enable_cb(vq));
    g_assert_cmpuint(*used_event, ==, 1);
    g_assert_nonnull(fe_vq_get_used(vq, NULL));
    g_assert_true(fe_vq_enable_cb(vq));
    g_assert_cmpuint(*used_event, ==, 2);
    fe_vq_free(vq);
    fe_mem_free(mem);
}

/* A back-end that returns garbage breaks the queue, never the driver. */
static void test_vq_bad_used(void)
{
    FeMem *mem;
    FeVq *vq = new_vq(&mem, 8, 0, 0);
    SimDev d = {.mem = mem, .vq = vq};
    FeVqBuf b = {0x40001000, 1, TRUE};
    int tok;

    fe_vq_add(vq, &b, 1, &tok);
    sim_push(&d, 5, 0); /* head 5 was never exposed */
    g_assert_null(fe_vq_get_used(vq, NULL));
    g_assert_nonnull(fe_vq_error(vq));
    g_assert_cmpint(fe_vq_add(vq, &b, 1, &tok), ==, -1);
    fe_vq_reset(vq, NULL, NULL);
    g_assert_null(fe_vq_error(vq));

    d.used_idx = 0;
    fe_vq_add(vq, &b, 1, &tok);
    sim_push(&d, 4000, 0); /* out of range */
    g_assert_null(fe_vq_get_used(vq, NULL));
    g_assert_nonnull(strstr(fe_vq_error(vq), "out-of-range"));
    fe_vq_free(vq);
    fe_mem_free(mem);
}

static void count_abort(void *token, void *opaque)
{
    (*(int *)opaque)++;
}

static void test_vq_raw(void)
{
    FeMem *mem;
    FeVq *vq = new_vq(&mem, 8, 0, 0);
    SimDev d = {.mem = mem, .vq = vq};
    struct vring_desc *t = fe_vq_desc_table(vq);
    uint16_t ids[3];
    int tok, aborted = 0;

    /* a looping chain, as a hostile test writes it */
    g_assert_true(fe_vq_reserve(vq, 3, ids));
    g_assert_cmpuint(fe_vq_num_free(vq), ==, 5);
    for (int i = 0; i < 3; i++) {
        t[ids[i]] = (struct vring_desc){.addr = 0xdead0000,
                                        .len = 512,
                                        .flags = VRING_DESC_F_NEXT,
                                        .next = ids[(i + 1) % 3]};
    }
    fe_vq_push_raw(vq, ids, 3, &tok);
    g_assert_cmpuint(fe_vq_avail(vq)->idx, ==, 1);
    g_assert_cmpuint(fe_vq_avail(vq)->ring[0], ==, ids[0]);
    /* the back-end returns it anyway: the reservation comes back */
    sim_push(&d, ids[0], 0);
    g_assert_true(fe_vq_get_used(vq, NULL) == &tok);
    g_assert_cmpuint(fe_vq_num_free(vq), ==, 8);

    fe_vq_push_head(vq, 0xffff);
    g_assert_cmpuint(fe_vq_avail(vq)->ring[1], ==, 0xffff);
    fe_vq_set_avail_idx(vq, 100);
    g_assert_cmpuint(fe_vq_avail(vq)->idx, ==, 100);

    fe_vq_reset(vq, count_abort, &aborted);
    g_assert_cmpint(aborted, ==, 0);
    fe_vq_add(vq, &(FeVqBuf){0x40001000, 1, TRUE}, 1, &tok);
    fe_vq_add(vq, &(FeVqBuf){0x40001000, 1, TRUE}, 1, &tok);
    fe_vq_reset(vq, count_abort, &aborted);
    g_assert_cmpint(aborted, ==, 2);
    g_assert_cmpuint(fe_vq_avail(vq)->idx, ==, 0);
    fe_vq_free(vq);
    fe_mem_free(mem);
}

static void test_vq_wait(void)
{
    FeMem *mem;
    FeVq *vq = new_vq(&mem, 8, 0, 0);
    int sv[2];
    uint64_t one = 1;
    g_autoptr(GError) err = NULL;

    g_assert_false(fe_vq_wait(vq, 10, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_TIMEOUT);
    g_clear_error(&err);
    g_assert_cmpint(write(fe_vq_call_fd(vq), &one, 8), ==, 8);
    g_assert_true(fe_vq_wait(vq, 1000, &err));
    g_assert_false(fe_vq_wait(vq, 0, &err)); /* cleared */
    g_clear_error(&err);
    /* the back-end's socket hangs up: the wait fails at once */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    fe_vq_set_watch_fd(vq, sv[0]);
    close(sv[1]);
    g_assert_false(fe_vq_wait(vq, 60000, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_DISCONNECTED);
    close(sv[0]);
    fe_vq_free(vq);
    fe_mem_free(mem);
}

/* ------------------------------------------------------------------------ */
/* The message layer against a scripted peer                                */

/* Receive one message on the peer's end (blocking); fds into @fds. */
static void peer_recv(int fd, VhostUserMsg *m, int *fds, unsigned *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = &m->hdr, .iov_len = sizeof(m->hdr)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *cm;

    g_assert_cmpint(recvmsg(fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC), ==, 12);
    *nfds = 0;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        *nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        memcpy(fds, CMSG_DATA(cm), *nfds * sizeof(int));
    }
    if (m->hdr.size) {
        g_assert_cmpint(recv(fd, &m->payload, m->hdr.size, MSG_WAITALL), ==,
                        (ssize_t)m->hdr.size);
    }
}

static void peer_reply(int fd, uint32_t request, uint32_t flags, const void *p,
                       uint32_t size)
{
    VhostUserMsg m = {.hdr = {request, flags, size}};

    memcpy(&m.payload, p, size);
    g_assert_cmpint(send(fd, &m, 12 + size, MSG_NOSIGNAL), ==, 12 + (ssize_t)size);
}

#define REPLY (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK)

static FeConn *pair(int *peer, int timeout_ms)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    *peer = sv[1];
    return fe_conn_new_fd(sv[0], timeout_ms);
}

/* Scripted exchanges run by a thread playing the back-end. */
typedef struct {
    int fd;
    int step;
} Peer;

static gpointer peer_main(gpointer opaque)
{
    Peer *p = opaque;
    VhostUserMsg m;
    int fds[8];
    unsigned nfds;
    uint64_t v;

    /* 1: GET_FEATURES -> features */
    peer_recv(p->fd, &m, fds, &nfds);
    g_assert_cmpuint(m.hdr.request, ==, VHOST_USER_GET_FEATURES);
    g_assert_cmpuint(m.hdr.flags, ==, VHOST_USER_VERSION);
    v = 0x140000000ull;
    peer_reply(p->fd, VHOST_USER_GET_FEATURES, REPLY, &v, 8);
    /* 2: SET_PROTOCOL_FEATURES (REPLY_ACK): no ack asked for this one */
    peer_recv(p->fd, &m, fds, &nfds);
    g_assert_cmpuint(m.hdr.request, ==, VHOST_USER_SET_PROTOCOL_FEATURES);
    g_assert_cmpuint(m.hdr.flags, ==, VHOST_USER_VERSION);
    /* 3: SET_VRING_KICK with an fd: NEED_REPLY now; ack 0 */
    peer_recv(p->fd, &m, fds, &nfds);
    g_assert_cmpuint(m.hdr.request, ==, VHOST_USER_SET_VRING_KICK);
    g_assert_cmpuint(m.hdr.flags, ==, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK);
    g_assert_cmpuint(nfds, ==, 1);
    g_assert_cmphex(m.payload.u64, ==, 3);
    close(fds[0]);
    v = 0;
    peer_reply(p->fd, VHOST_USER_SET_VRING_KICK, REPLY, &v, 8);
    /* 4: SET_VRING_CALL without fd: NOFD flag; ack 1 = refused */
    peer_recv(p->fd, &m, fds, &nfds);
    g_assert_cmpuint(nfds, ==, 0);
    g_assert_cmphex(m.payload.u64, ==, 2 | VHOST_USER_VRING_NOFD_MASK);
    v = 1;
    peer_reply(p->fd, VHOST_USER_SET_VRING_CALL, REPLY, &v, 8);
    /* 5: GET_VRING_BASE: answered with the wrong request code */
    peer_recv(p->fd, &m, fds, &nfds);
    g_assert_cmpuint(m.hdr.request, ==, VHOST_USER_GET_VRING_BASE);
    peer_reply(p->fd, VHOST_USER_GET_FEATURES, REPLY, &m.payload.state, 8);
    return NULL;
}

static void test_conn_exchanges(void)
{
    Peer p = {0};
    FeConn *c = pair(&p.fd, 5000);
    GThread *t = g_thread_new("peer", peer_main, &p);
    g_autoptr(GError) err = NULL;
    uint64_t features;
    uint32_t base;
    int efd = eventfd(0, EFD_CLOEXEC);

    g_assert_true(fe_conn_get_features(c, &features, &err));
    g_assert_no_error(err);
    g_assert_cmphex(features, ==, 0x140000000ull);
    g_assert_true(fe_conn_set_protocol_features(
        c, 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK, &err));
    g_assert_true(fe_conn_set_vring_fd(c, VHOST_USER_SET_VRING_KICK, 3, efd, &err));
    g_assert_no_error(err);
    g_assert_false(fe_conn_set_vring_fd(c, VHOST_USER_SET_VRING_CALL, 2, -1, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_REFUSED);
    g_clear_error(&err);
    g_assert_false(fe_conn_is_dead(c)); /* a refusal keeps the session */
    g_assert_false(fe_conn_get_vring_base(c, 0, &base, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_PROTOCOL);
    g_clear_error(&err);
    g_assert_true(fe_conn_is_dead(c)); /* out of step: dead */
    g_assert_false(fe_conn_get_features(c, &features, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_DISCONNECTED);
    g_thread_join(t);
    close(efd);
    close(p.fd);
    fe_conn_free(c);
}

static void test_conn_timeout_and_hangup(void)
{
    int peer;
    FeConn *c = pair(&peer, 100);
    g_autoptr(GError) err = NULL;
    uint64_t v;

    /* the peer never answers */
    g_assert_false(fe_conn_get_features(c, &v, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_TIMEOUT);
    g_assert_true(fe_conn_is_dead(c));
    fe_conn_free(c);
    close(peer);

    c = pair(&peer, 5000);
    close(peer);
    g_clear_error(&err);
    g_assert_false(fe_conn_get_features(c, &v, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_DISCONNECTED);
    fe_conn_free(c);

    c = pair(&peer, 5000);
    g_assert_true(fe_conn_check_alive(c));
    close(peer);
    g_assert_false(fe_conn_check_alive(c));
    fe_conn_free(c);
}

static void test_conn_bad_replies(void)
{
    int peer;
    FeConn *c = pair(&peer, 2000);
    g_autoptr(GError) err = NULL;
    uint8_t huge[12 + 512] = {0};
    VhostUserHeader *h = (VhostUserHeader *)huge;
    uint64_t v;

    /* a reply larger than any payload */
    h->request = VHOST_USER_GET_FEATURES;
    h->flags = REPLY;
    h->size = 100000;
    g_assert_cmpint(send(peer, huge, sizeof(huge), 0), ==, sizeof(huge));
    g_assert_false(fe_conn_get_features(c, &v, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_PROTOCOL);
    fe_conn_free(c);
    close(peer);

    /* a u64 reply of 4 bytes */
    c = pair(&peer, 2000);
    g_clear_error(&err);
    peer_reply(peer, VHOST_USER_GET_FEATURES, REPLY, &v, 4);
    g_assert_false(fe_conn_get_features(c, &v, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_PROTOCOL);
    fe_conn_free(c);
    close(peer);

    /* no REPLY flag */
    c = pair(&peer, 2000);
    g_clear_error(&err);
    peer_reply(peer, VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, &v, 8);
    g_assert_false(fe_conn_get_features(c, &v, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_PROTOCOL);
    fe_conn_free(c);
    close(peer);
}

static void test_conn_raw(void)
{
    int peer, fds[8];
    unsigned nfds;
    FeConn *c = pair(&peer, 2000);
    g_autoptr(GError) err = NULL;
    int efd[2] = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)};
    VhostUserMsg m;
    char junk[5] = "abcd";

    /* a header that lies about its size, with two fds where one belongs */
    g_assert_true(fe_conn_send(c, VHOST_USER_SET_VRING_KICK, VHOST_USER_VERSION,
                               "12345678", 8, efd, 2, &err));
    g_assert_no_error(err);
    peer_recv(peer, &m, fds, &nfds);
    g_assert_cmpuint(nfds, ==, 2);
    close(fds[0]);
    close(fds[1]);
    g_assert_true(fe_conn_send_raw(c, junk, 4, NULL, 0, &err));
    g_assert_cmpint(recv(peer, &m, 4, MSG_WAITALL), ==, 4);
    g_assert_false(fe_conn_send_raw(c, junk, 4, efd, 9, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_INVALID);

    /* the peer answers garbage, then hangs up: wait_closed sees it */
    g_assert_cmpint(send(peer, "garbage", 7, 0), ==, 7);
    close(peer);
    g_assert_true(fe_conn_wait_closed(c, 2000));
    g_assert_true(fe_conn_is_dead(c));
    fe_conn_free(c);

    /* a peer that stays: no close within the bound */
    c = pair(&peer, 2000);
    g_assert_false(fe_conn_wait_closed(c, 50));
    fe_conn_free(c);
    close(peer);
    close(efd[0]);
    close(efd[1]);
}

static void test_conn_connect(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("fe-conn-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "none.sock", NULL);

    g_assert_null(fe_conn_connect(path, 50, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_DISCONNECTED);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/frontend/mem/bounds", test_mem_bounds);
    g_test_add_func("/frontend/mem/alloc", test_mem_alloc);
    g_test_add_func("/frontend/vq/chains", test_vq_chains);
    g_test_add_func("/frontend/vq/out-of-order", test_vq_out_of_order);
    g_test_add_func("/frontend/vq/notify-flags", test_vq_notify_flags);
    g_test_add_func("/frontend/vq/event-idx", test_vq_event_idx);
    g_test_add_func("/frontend/vq/bad-used", test_vq_bad_used);
    g_test_add_func("/frontend/vq/raw", test_vq_raw);
    g_test_add_func("/frontend/vq/wait", test_vq_wait);
    g_test_add_func("/frontend/conn/exchanges", test_conn_exchanges);
    g_test_add_func("/frontend/conn/timeout-and-hangup", test_conn_timeout_and_hangup);
    g_test_add_func("/frontend/conn/bad-replies", test_conn_bad_replies);
    g_test_add_func("/frontend/conn/raw", test_conn_raw);
    g_test_add_func("/frontend/conn/connect", test_conn_connect);
    return g_test_run();
}

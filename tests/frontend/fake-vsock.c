/*
 * tests/frontend/fake-vsock.c - see fake-vsock.h.  One thread: accept a
 * front-end, answer its control messages, process the tx ring, fill the
 * rx ring.  Deliberately simple; every guest address is bounds-checked.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/vhost-user/vhost-user-proto.h"
#include "fake-vsock-priv.h"

/* ------------------------------------------------------------------------ */
/* Host side of vsock                                                        */

static uint64_t key_of(uint32_t guest_port, uint32_t host_port)
{
    return ((uint64_t)guest_port << 32) | host_port;
}

static void count(FakeVsock *f, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&f->lock);
    *field += n;
    pthread_mutex_unlock(&f->lock);
}

static void make_hdr(struct virtio_vsock_hdr *h, uint16_t op, uint32_t host_port,
                     uint32_t guest_port, const HostConn *hc)
{
    memset(h, 0, sizeof(*h));
    h->src_cid = 2;
    h->dst_cid = FAKE_VSOCK_CID;
    h->src_port = host_port;
    h->dst_port = guest_port;
    h->type = VIRTIO_VSOCK_TYPE_STREAM;
    h->op = op;
    if (hc) {
        h->type = hc->type;
        h->buf_alloc = hc->buf_alloc;
        h->fwd_cnt = hc->fwd_cnt;
    }
}

static void queue_ctl(FakeVsock *f, uint16_t op, uint32_t flags, uint32_t host_port,
                      uint32_t guest_port, const HostConn *hc)
{
    OutPkt *p = g_new0(OutPkt, 1);

    make_hdr(&p->hdr, op, host_port, guest_port, hc);
    p->hdr.flags = flags;
    g_queue_push_tail(&f->out, p);
    if (op == VIRTIO_VSOCK_OP_RST) {
        count(f, &f->c.rsts_sent, 1);
    }
}

static HostConn *conn_add(FakeVsock *f, uint32_t guest_port, uint32_t host_port,
                          Service svc)
{
    HostConn *hc = g_new0(HostConn, 1);

    hc->guest_port = guest_port;
    hc->host_port = host_port;
    hc->svc = svc;
    hc->pending = g_byte_array_new();
    hc->type = VIRTIO_VSOCK_TYPE_STREAM;
    g_queue_init(&hc->msgs);
    hc->buf_alloc = svc == SVC_SINK ? FAKE_VSOCK_SINK_BUF : FAKE_VSOCK_HOST_BUF;
    g_hash_table_insert(f->conns,
                        g_memdup2(&(uint64_t){key_of(guest_port, host_port)}, 8), hc);
    pthread_mutex_lock(&f->lock);
    f->c.connections++;
    pthread_mutex_unlock(&f->lock);
    return hc;
}

static void conn_free(gpointer p)
{
    HostConn *hc = p;

    g_byte_array_unref(hc->pending);
    g_queue_clear(&hc->msgs);
    g_free(hc);
}

static void conn_del(FakeVsock *f, HostConn *hc)
{
    pthread_mutex_lock(&f->lock);
    f->c.connections--;
    pthread_mutex_unlock(&f->lock);
    g_hash_table_remove(f->conns, &(uint64_t){key_of(hc->guest_port, hc->host_port)});
}

static void guest_data(FakeVsock *f, HostConn *hc, const struct virtio_vsock_hdr *h,
                       const uint8_t *data)
{
    uint32_t len = h->len;

    if ((uint64_t)(hc->rx_cnt - hc->fwd_cnt) + len > hc->buf_alloc) {
        count(f, &f->c.credit_overruns, 1);
    }
    hc->rx_cnt += len;
    if (hc->svc == SVC_ECHO) {
        g_byte_array_append(hc->pending, data, len);
        hc->partial += len;
        if (hc->type == VIRTIO_VSOCK_TYPE_SEQPACKET &&
            (h->flags & VIRTIO_VSOCK_SEQ_EOM)) {
            g_queue_push_tail(&hc->msgs, GUINT_TO_POINTER(hc->partial));
            hc->partial = 0;
        }
    }
}

static void guest_packet_conn(FakeVsock *f, HostConn *hc,
                              const struct virtio_vsock_hdr *h, const uint8_t *data)
{
    hc->guest_buf_alloc = h->buf_alloc;
    hc->guest_fwd_cnt = h->fwd_cnt;
    switch (h->op) {
    case VIRTIO_VSOCK_OP_RESPONSE:
        hc->connecting = FALSE;
        break;
    case VIRTIO_VSOCK_OP_RW:
        guest_data(f, hc, h, data);
        break;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        if ((h->flags & 3) == 3) {
            queue_ctl(f, VIRTIO_VSOCK_OP_RST, 0, hc->host_port, hc->guest_port, hc);
            conn_del(f, hc);
        } else if (h->flags & VIRTIO_VSOCK_SHUTDOWN_SEND) {
            hc->shut_pending = TRUE;
        }
        break;
    case VIRTIO_VSOCK_OP_RST:
        count(f, &f->c.rsts_received, 1);
        conn_del(f, hc);
        break;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        queue_ctl(f, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, hc->host_port, hc->guest_port,
                  hc);
        break;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
        break;
    default:
        count(f, &f->c.bad_packets, 1);
        break;
    }
}

static void guest_packet(FakeVsock *f, const struct virtio_vsock_hdr *h,
                         const uint8_t *data)
{
    HostConn *hc =
        g_hash_table_lookup(f->conns, &(uint64_t){key_of(h->src_port, h->dst_port)});

    if (h->src_cid != FAKE_VSOCK_CID || h->dst_cid != 2) {
        count(f, &f->c.bad_packets, 1);
        return;
    }
    if (hc) {
        guest_packet_conn(f, hc, h, data);
    } else if (h->op == VIRTIO_VSOCK_OP_REQUEST &&
               (h->dst_port == FAKE_VSOCK_ECHO_PORT ||
                h->dst_port == FAKE_VSOCK_SINK_PORT)) {
        hc = conn_add(f, h->src_port, h->dst_port,
                      h->dst_port == FAKE_VSOCK_ECHO_PORT ? SVC_ECHO : SVC_SINK);
        hc->type = h->type;
        hc->guest_buf_alloc = h->buf_alloc;
        hc->guest_fwd_cnt = h->fwd_cnt;
        queue_ctl(f, VIRTIO_VSOCK_OP_RESPONSE, 0, h->dst_port, h->src_port, hc);
    } else if (h->op == VIRTIO_VSOCK_OP_RST) {
        count(f, &f->c.rsts_received, 1);
    } else {
        queue_ctl(f, VIRTIO_VSOCK_OP_RST, 0, h->dst_port, h->src_port, NULL);
    }
}

/* The tx ring: every packet the guest sent. */
static void process_tx(FakeVsock *f)
{
    static uint8_t buf[MAX_PKT];
    Ring *r = &f->rings[1];
    Chain c;

    while (fake_ring_pop(f, r, &c)) {
        size_t len = 0;
        struct virtio_vsock_hdr h;
        gboolean ok = TRUE;

        for (unsigned k = 0; k < c.n_out && ok; k++) {
            ok = len + c.iov[k].iov_len <= sizeof(buf);
            if (ok) {
                memcpy(buf + len, c.iov[k].iov_base, c.iov[k].iov_len);
                len += c.iov[k].iov_len;
            }
        }
        memcpy(&h, buf, sizeof(h));
        count(f, &f->c.tx_packets, 1);
        if (!ok || c.n_in || len < HDR || h.len != len - HDR) {
            count(f, &f->c.bad_packets, 1);
        } else {
            guest_packet(f, &h, buf + HDR);
        }
        fake_ring_push(f, r, c.head, 0);
    }
}

/* An echo connection that may send now: data within the guest's credit. */
static HostConn *next_sender(FakeVsock *f)
{
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, f->conns);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        HostConn *hc = v;
        uint32_t credit = hc->guest_buf_alloc - (hc->tx_cnt - hc->guest_fwd_cnt);

        gboolean ready =
            hc->type != VIRTIO_VSOCK_TYPE_SEQPACKET || !g_queue_is_empty(&hc->msgs);

        if (!hc->connecting && hc->pending->len && ready && credit > 0 &&
            hc->tx_cnt - hc->guest_fwd_cnt <= hc->guest_buf_alloc) {
            return hc;
        }
        if (!hc->connecting && !hc->pending->len && hc->shut_pending) {
            return hc;
        }
    }
    return NULL;
}

static void deliver_one(FakeVsock *f, Chain *c, HostConn *hc, OutPkt *p)
{
    struct virtio_vsock_hdr h;
    uint32_t len = 0;

    if (p) {
        h = p->hdr;
    } else if (hc->pending->len) {
        uint32_t credit = hc->guest_buf_alloc - (hc->tx_cnt - hc->guest_fwd_cnt);

        size_t avail = hc->pending->len;
        gboolean eom = FALSE;

        if (hc->type == VIRTIO_VSOCK_TYPE_SEQPACKET) {
            avail = GPOINTER_TO_UINT(g_queue_peek_head(&hc->msgs));
        }
        len = (uint32_t)MIN(MIN((size_t)credit, avail), fake_chain_room(c) - HDR);
        if (hc->type == VIRTIO_VSOCK_TYPE_SEQPACKET) {
            uint32_t left = (uint32_t)avail - len;

            g_queue_pop_head(&hc->msgs);
            if (left) {
                g_queue_push_head(&hc->msgs, GUINT_TO_POINTER(left));
            }
            eom = left == 0;
        }
        hc->tx_cnt += len;
        hc->fwd_cnt += len; /* echoed = consumed */
        make_hdr(&h, VIRTIO_VSOCK_OP_RW, hc->host_port, hc->guest_port, hc);
        h.len = len;
        h.flags = eom ? VIRTIO_VSOCK_SEQ_EOM : 0;
        fake_chain_write(c, HDR, hc->pending->data, len);
        g_byte_array_remove_range(hc->pending, 0, len);
        count(f, &f->c.echoed_bytes, len);
    } else {
        hc->shut_pending = FALSE;
        make_hdr(&h, VIRTIO_VSOCK_OP_SHUTDOWN, hc->host_port, hc->guest_port, hc);
        h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
    }
    fake_chain_write(c, 0, &h, HDR);
    fake_ring_push(f, &f->rings[0], c->head, HDR + len);
    count(f, &f->c.rx_packets, 1);
}

/* Fill rx buffers with what is waiting. */
static void process_rx(FakeVsock *f)
{
    Ring *r = &f->rings[0];

    for (;;) {
        OutPkt *p = g_queue_peek_head(&f->out);
        HostConn *hc = p ? NULL : next_sender(f);
        Chain c;

        if ((!p && !hc) || !fake_ring_pop(f, r, &c)) {
            return;
        }
        g_assert_cmpuint(fake_chain_room(&c), >, HDR);
        deliver_one(f, &c, hc, p ? g_queue_pop_head(&f->out) : NULL);
        g_free(p);
    }
}

/* The front-end left (or is dropped): forget its connections too. */
static void drop_client(FakeVsock *f)
{
    OutPkt *p;

    fake_dev_reset(f);
    g_hash_table_remove_all(f->conns);
    while ((p = g_queue_pop_head(&f->out))) {
        g_free(p);
    }
    pthread_mutex_lock(&f->lock);
    f->c.connections = 0;
    pthread_mutex_unlock(&f->lock);
}

/* ------------------------------------------------------------------------ */
/* The thread                                                                */

static gboolean command(FakeVsock *f)
{
    uint64_t junk;
    Cmd *c;

    while (read(f->cmd_fd, &junk, 8) < 0 && errno == EINTR) {
    }
    while ((c = g_async_queue_try_pop(f->cmds))) {
        CmdKind kind = c->kind;

        if (kind == CMD_CONNECT && f->client_fd >= 0) {
            HostConn *hc = conn_add(f, c->port, f->next_host_port++, SVC_ECHO);

            hc->connecting = TRUE;
            queue_ctl(f, VIRTIO_VSOCK_OP_REQUEST, 0, hc->host_port, hc->guest_port, hc);
        } else if (kind == CMD_DRAIN) {
            GHashTableIter it;
            gpointer k, v;

            g_hash_table_iter_init(&it, f->conns);
            while (g_hash_table_iter_next(&it, &k, &v)) {
                HostConn *hc = v;

                if (hc->svc == SVC_SINK && hc->fwd_cnt != hc->rx_cnt) {
                    hc->fwd_cnt = hc->rx_cnt;
                    queue_ctl(f, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, hc->host_port,
                              hc->guest_port, hc);
                }
            }
        } else if (kind == CMD_DROP) {
            drop_client(f);
        }
        g_free(c);
        if (kind == CMD_STOP) {
            return FALSE;
        }
    }
    return TRUE;
}

static gpointer fake_main(gpointer opaque)
{
    FakeVsock *f = opaque;

    for (;;) {
        struct pollfd p[4] = {
            {.fd = f->cmd_fd, .events = POLLIN},
            {.fd = f->client_fd >= 0 ? f->client_fd : f->listen_fd, .events = POLLIN},
            {.fd = f->rings[0].kick_fd, .events = POLLIN},
            {.fd = f->rings[1].kick_fd, .events = POLLIN}};
        uint64_t junk;

        if (poll(p, 4, -1) < 0) {
            g_assert_cmpint(errno, ==, EINTR);
            continue;
        }
        if ((p[0].revents & POLLIN) && !command(f)) {
            break;
        }
        if (p[1].revents & (POLLIN | POLLHUP)) {
            if (f->client_fd < 0) {
                f->client_fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            } else {
                if (!fake_control(f)) {
                    drop_client(f);
                }
            }
        }
        for (int i = 2; i < 4; i++) {
            if (p[i].fd >= 0 && (p[i].revents & POLLIN)) {
                g_assert_cmpint(read(p[i].fd, &junk, 8), ==, 8);
            }
        }
        if (f->client_fd >= 0) {
            process_tx(f);
            process_rx(f);
        }
    }
    drop_client(f);
    return NULL;
}

FakeVsock *fake_vsock_new(void)
{
    FakeVsock *f = g_new0(FakeVsock, 1);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    f->dir = g_dir_make_tmp("fake-vsock-XXXXXX", NULL);
    f->path = g_build_filename(f->dir, "vsock.sock", NULL);
    g_strlcpy(sa.sun_path, f->path, sizeof(sa.sun_path));
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(f->listen_fd, 4), ==, 0);
    f->client_fd = -1;
    f->cmd_fd = eventfd(0, EFD_CLOEXEC);
    for (int i = 0; i < 2; i++) {
        f->rings[i] = (Ring){.kick_fd = -1, .call_fd = -1};
    }
    f->cmds = g_async_queue_new();
    f->conns = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, conn_free);
    g_queue_init(&f->out);
    f->next_host_port = 5000;
    pthread_mutex_init(&f->lock, NULL);
    f->thread = g_thread_new("fake-vsock", fake_main, f);
    return f;
}

const char *fake_vsock_path(FakeVsock *f)
{
    return f->path;
}

void fake_vsock_counters(FakeVsock *f, FakeVsockCounters *out)
{
    pthread_mutex_lock(&f->lock);
    *out = f->c;
    pthread_mutex_unlock(&f->lock);
}

static void send_cmd(FakeVsock *f, CmdKind kind, uint32_t port)
{
    Cmd *c = g_new0(Cmd, 1);
    uint64_t one = 1;

    c->kind = kind;
    c->port = port;
    g_async_queue_push(f->cmds, c);
    g_assert_cmpint(write(f->cmd_fd, &one, 8), ==, 8);
}

void fake_vsock_connect_guest(FakeVsock *f, uint32_t port)
{
    send_cmd(f, CMD_CONNECT, port);
}

void fake_vsock_drain_sink(FakeVsock *f)
{
    send_cmd(f, CMD_DRAIN, 0);
}

void fake_vsock_drop_client(FakeVsock *f)
{
    send_cmd(f, CMD_DROP, 0);
}

void fake_vsock_free(FakeVsock *f)
{
    send_cmd(f, CMD_STOP, 0);
    g_thread_join(f->thread);
    g_hash_table_destroy(f->conns);
    g_async_queue_unref(f->cmds);
    close(f->cmd_fd);
    close(f->listen_fd);
    g_unlink(f->path);
    g_rmdir(f->dir);
    pthread_mutex_destroy(&f->lock);
    g_free(f->path);
    g_free(f->dir);
    g_free(f);
}

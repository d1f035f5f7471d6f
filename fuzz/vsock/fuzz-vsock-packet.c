/*
 * fuzz/vsock/fuzz-vsock-packet.c - libFuzzer target for the vsock muxer's
 * packet handler: the input is a program of steps run against a fresh
 * muxer: guest packets (split over iovecs as the input says), rx buffers of
 * any size, host peers that connect, write, half-close and vanish, loop
 * iterations and front-end resets.  After every step the muxer's answers
 * must be well-formed and its memory bounded.
 *
 * Input: a sequence of steps, each one byte of kind then its arguments.
 *
 * SPDX-License-Identifier: MIT
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qcontext/devices/vsock/vsock.h"

#define CID 3
#define MAX_HOST 16
#define MAX_CONNS 32
#define BUF_ALLOC 8192

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

typedef struct Fuzz {
    AioContext *ctx;
    char *dir;
    char uds[108];
    int listen[3]; /* "<uds>_1" stream, "<uds>_2" stream, "<uds>_3" seqpacket */
    int host[MAX_HOST];
    VsockMux *mux;
} Fuzz;

static Fuzz fz;

static uint8_t take8(Input *in)
{
    if (!in->left) {
        return 0;
    }
    in->left--;
    return *in->p++;
}

static uint16_t take16(Input *in)
{
    return take8(in) | take8(in) << 8;
}

static const uint8_t *take_bytes(Input *in, size_t *len)
{
    const uint8_t *p = in->p;

    *len = MIN(*len, in->left);
    in->p += *len;
    in->left -= *len;
    return p;
}

static int listen_on(int port, int type)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%d", fz.uds, port);

    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        abort(); /* the temp dir's path is short; this cannot happen */
    }
    unlink(sa.sun_path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 64) < 0) {
        abort();
    }
    return fd;
}

/* At exit: the sockets and the directory go (replays run in CI). */
static void fuzz_cleanup(void)
{
    for (int l = 0; l < 3; l++) {
        char path[128];

        close(fz.listen[l]);
        snprintf(path, sizeof(path), "%s_%d", fz.uds, l + 1);
        unlink(path);
    }
    rmdir(fz.dir);
}

static void fuzz_init_once(void)
{
    if (fz.ctx) {
        return;
    }
    fz.ctx = aio_context_new(NULL);
    fz.dir = g_dir_make_tmp("qc-fuzz-vsock-XXXXXX", NULL);
    if (!fz.ctx || !fz.dir) {
        abort();
    }
    snprintf(fz.uds, sizeof(fz.uds), "%s/v", fz.dir);
    fz.listen[0] = listen_on(1, SOCK_STREAM);
    fz.listen[1] = listen_on(2, SOCK_STREAM);
    fz.listen[2] = listen_on(3, SOCK_SEQPACKET);
    for (int i = 0; i < MAX_HOST; i++) {
        fz.host[i] = -1;
    }
    atexit(fuzz_cleanup);
}

static void host_add(int fd)
{
    for (int i = 0; i < MAX_HOST; i++) {
        if (fz.host[i] < 0) {
            fz.host[i] = fd;
            return;
        }
    }
    close(fd);
}

static void host_close_all(void)
{
    for (int i = 0; i < MAX_HOST; i++) {
        if (fz.host[i] >= 0) {
            close(fz.host[i]);
            fz.host[i] = -1;
        }
    }
    for (int l = 0; l < 3; l++) {
        int fd;

        while ((fd = accept4(fz.listen[l], NULL, NULL, SOCK_CLOEXEC)) >= 0) {
            close(fd);
        }
    }
}

/* A guest packet: header fields mostly from the input, sane or not. */
static void step_tx(Input *in)
{
    uint8_t pkt[VSOCK_HDR_LEN + 512];
    struct virtio_vsock_hdr h;
    uint8_t mode = take8(in);
    size_t plen = take16(in) % 513;
    const uint8_t *payload = take_bytes(in, &plen);
    size_t hlen = VSOCK_HDR_LEN;
    const uint8_t *raw = take_bytes(in, &hlen);
    size_t total, cut1, cut2;
    struct iovec iov[3];

    memset(&h, 0, sizeof(h));
    memcpy(&h, raw, hlen);
    if (mode & 1) { /* plausible: the right CIDs, few ports, real ops */
        h.src_cid = htole64(CID);
        h.dst_cid = htole64(VSOCK_HOST_CID);
        h.src_port = htole32(le32toh(h.src_port) % 4);
        h.dst_port = htole32(le32toh(h.dst_port) % 5);
        h.type = htole16(le16toh(h.type) % 4);
        h.op = htole16(le16toh(h.op) % 9);
        h.flags = htole32(le32toh(h.flags) % 8);
    }
    if (mode & 2) {
        h.len = htole32(plen);
    }
    if (mode & 4) {
        h.buf_alloc = htole32(le32toh(h.buf_alloc) % 65536);
    }
    memcpy(pkt, &h, sizeof(h));
    memcpy(pkt + VSOCK_HDR_LEN, payload, plen);
    total = VSOCK_HDR_LEN + plen;
    if (mode & 8) {
        total = take8(in) % (total + 1); /* truncated */
    }
    cut1 = take8(in) % (total + 1);
    cut2 = cut1 + take8(in) % (total - cut1 + 1);
    iov[0] = (struct iovec){pkt, cut1};
    iov[1] = (struct iovec){pkt + cut1, cut2 - cut1};
    iov[2] = (struct iovec){pkt + cut2, total - cut2};
    vsock_mux_tx(fz.mux, iov, 3);
}

/* An rx buffer: every packet out must be well-formed and fit. */
static void step_rx(Input *in)
{
    uint8_t buf[VSOCK_HDR_LEN + 4096];
    size_t size = take16(in) % (sizeof(buf) + 1);
    size_t cut = take8(in) % (size + 1);
    struct iovec iov[2] = {{buf, cut}, {buf + cut, size - cut}};
    struct virtio_vsock_hdr h;
    ssize_t n = vsock_mux_rx(fz.mux, iov, 2);

    if (n == -EMSGSIZE) {
        if (size >= VSOCK_HDR_LEN) {
            abort();
        }
        return;
    }
    if (n == 0) {
        return;
    }
    if (n < (ssize_t)VSOCK_HDR_LEN || (size_t)n > size) {
        abort();
    }
    memcpy(&h, buf, sizeof(h));
    if (le64toh(h.src_cid) != VSOCK_HOST_CID || le64toh(h.dst_cid) != CID ||
        VSOCK_HDR_LEN + le32toh(h.len) != (size_t)n || le16toh(h.op) == 0 ||
        le16toh(h.op) > VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
        abort();
    }
}

/* Host peers: connect (with a CONNECT line), write, shut down, vanish. */
static void step_host(Input *in)
{
    uint8_t what = take8(in);
    int i = take8(in) % MAX_HOST;
    int fd = fz.host[i];
    size_t len = take8(in);
    const uint8_t *data = take_bytes(in, &len);

    switch (what % 6) {
    case 0: {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        g_strlcpy(sa.sun_path, fz.uds, sizeof(sa.sun_path));
        if (c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            send(c, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            host_add(c);
        } else if (c >= 0) {
            close(c);
        }
        break;
    }
    case 1:
        for (int l = 0; l < 3; l++) {
            int a = accept4(fz.listen[l], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

            if (a >= 0) {
                host_add(a);
            }
        }
        break;
    case 2:
        if (fd >= 0) {
            send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        break;
    case 3:
        if (fd >= 0) {
            char buf[4096];

            while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
            }
        }
        break;
    case 4:
        if (fd >= 0) {
            shutdown(fd, what & 8 ? SHUT_RD : SHUT_WR);
        }
        break;
    case 5:
        if (fd >= 0) {
            close(fd);
            fz.host[i] = -1;
        }
        break;
    }
}

static void check_bounds(void)
{
    VsockMuxStats s;

    vsock_mux_get_stats(fz.mux, &s);
    /* Per connection: its guest bytes, a seqpacket message, a CONNECT rest. */
    if (s.conns > MAX_CONNS || s.buffered > (uint64_t)MAX_CONNS * (BUF_ALLOC + 65536)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VsockMuxConfig cfg = {
        .guest_cid = CID,
        .max_conns = MAX_CONNS,
        .buf_alloc = BUF_ALLOC,
        .timeout_ms = 1,
    };
    Input in = {data, size};

    fuzz_init_once();
    cfg.uds_path = fz.uds;
    fz.mux = vsock_mux_new(fz.ctx, &cfg, NULL);
    if (!fz.mux) {
        abort();
    }
    vsock_mux_set_features(fz.mux,
                           take8(&in) & 1 ? 1ull << VIRTIO_VSOCK_F_SEQPACKET : 0);
    while (in.left > 0) {
        switch (take8(&in) % 5) {
        case 0:
            step_tx(&in);
            break;
        case 1:
            step_rx(&in);
            break;
        case 2:
            step_host(&in);
            break;
        case 3:
            aio_poll(fz.ctx, false);
            break;
        case 4:
            if (take8(&in) == 0x5a) {
                vsock_mux_reset(fz.mux);
            }
            break;
        }
        check_bounds();
    }
    vsock_mux_free(fz.mux);
    fz.mux = NULL;
    host_close_all();
    while (aio_poll(fz.ctx, false)) {
    }
    return 0;
}

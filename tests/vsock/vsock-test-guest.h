/*
 * tests/vsock/vsock-test-guest.h - a fake guest driver for the vsock muxer:
 * it feeds packets to vsock_mux_tx() and takes them from vsock_mux_rx() as a
 * Linux guest would (credit, shutdown, RST), with knobs to misbehave; plus
 * helpers for the host side (unix sockets) and a loop that drives it all.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_VSOCK_TEST_GUEST_H
#define TESTS_VSOCK_TEST_GUEST_H

#include <sys/resource.h>

#include "qcontext/devices/vsock/vsock.h"

#define TG_CID 3

typedef enum {
    TG_CONNECTING,
    TG_OPEN,
    TG_RESET,  /* got an RST */
    TG_CLOSED, /* we sent the RST */
} TgState;

typedef struct TgConn {
    uint32_t port;      /* the guest's port */
    uint32_t host_port; /* the host's port */
    uint16_t type;
    TgState state;
    uint32_t buf_alloc; /* our receive buffer */
    uint32_t fwd_cnt;   /* bytes we consumed */
    uint32_t last_fwd_sent;
    uint32_t rx_cnt;
    uint32_t tx_cnt;
    uint32_t peer_buf_alloc;
    uint32_t peer_fwd_cnt;
    uint32_t peer_shut;
    GByteArray *rx;      /* every byte received (if the guest keeps them) */
    uint32_t unconsumed; /* received, not consumed yet */
    GArray *msg_ends;    /* seqpacket: rx_cnt at each EOM */
    unsigned eor_count;
    bool auto_consume; /* consume and return credit as data arrives */
    bool rst_on_shut;  /* answer SHUTDOWN both with RST (as Linux) */
    unsigned credit_requests;
    unsigned credit_updates;
} TgConn;

typedef struct TestGuest {
    AioContext *ctx;
    VsockMux *mux;
    GHashTable *conns; /* (port << 32 | host_port) -> TgConn, open ones */
    GPtrArray *all;    /* every TgConn ever, freed at the end */
    GHashTable *listening;
    uint32_t next_port;
    size_t rx_room;     /* payload room of each rx buffer */
    bool rx_split;      /* header and payload in separate iovecs */
    long rx_budget;     /* rx buffers left; -1 = unlimited */
    uint32_t buf_alloc; /* given to new connections */
    bool auto_consume;
    bool keep_rx;         /* keep received bytes in TgConn.rx */
    bool ignore_requests; /* never answer the host's REQUESTs */
    void (*on_data)(TgConn *c, const uint8_t *data, size_t len, void *opaque);
    void *on_data_opaque;
    GArray *log;      /* every header received */
    TgConn *accepted; /* the last connection the host opened to us */
    unsigned notifies;
    unsigned orphans; /* packets for no connection of ours */
} TestGuest;

TestGuest *tg_new(AioContext *ctx, VsockMux *mux);
void tg_free(TestGuest *g);

/* Send a raw packet (header fields in host order) with @len payload bytes. */
void tg_send_raw(TestGuest *g, uint16_t op, uint16_t type, uint32_t src_port,
                 uint32_t dst_port, uint32_t flags, uint32_t buf_alloc,
                 uint32_t fwd_cnt, const void *payload, uint32_t len);
/* Send a packet for @c with our credit; updates tx_cnt for RW. */
void tg_send_op(TestGuest *g, TgConn *c, uint16_t op, uint32_t flags,
                const void *payload, uint32_t len);

TgConn *tg_connect(TestGuest *g, uint32_t host_port, uint16_t type);
void tg_listen(TestGuest *g, uint32_t port);
/* Send as much of @data as the host's credit allows (packets <= 64 KiB). */
size_t tg_send(TestGuest *g, TgConn *c, const void *data, size_t len);
/*
 * Seqpacket, as Linux: send message @data in packets as credit allows, from
 * *@done on; true once the last packet (EOM) went.
 */
bool tg_send_msg(TestGuest *g, TgConn *c, const void *data, size_t len, bool eor,
                 size_t *done);
void tg_shutdown(TestGuest *g, TgConn *c, uint32_t flags);
void tg_rst(TestGuest *g, TgConn *c);
/* Consume @n received bytes; sends CREDIT_UPDATE when the host's view is low. */
void tg_consume(TestGuest *g, TgConn *c, size_t n);

/* Take every packet the muxer has (within the rx budget); returns the count. */
unsigned tg_pump(TestGuest *g);
/* One round: aio_poll (not blocking) + pump; true if anything happened. */
bool tg_poll(TestGuest *g);
typedef bool TgCond(TestGuest *g, void *data);
/* Poll until @cond holds (true) or @timeout_ms passed (false). */
bool tg_wait(TestGuest *g, TgCond *cond, void *data, int timeout_ms);
/* Poll for about @ms. */
void tg_idle(TestGuest *g, int ms);
/* How many packets with @op were received. */
unsigned tg_count(TestGuest *g, uint16_t op);
/* The last header received. */
const struct virtio_vsock_hdr *tg_last(TestGuest *g);

/* Host side. */
int th_listen(const char *path, int type);
int th_connect(const char *path);
int th_accept(int lfd, int timeout_ms);
/* Read what is there (non-blocking) into @into; true once EOF was read. */
bool th_drain(int fd, GByteArray *into);
/* Write what fits (non-blocking); returns bytes written, -1 on error. */
ssize_t th_write(int fd, const void *data, size_t len);

/* Deterministic test data: byte @i of stream @seed. */
void tg_fill_pattern(uint8_t *buf, size_t len, uint64_t seed, uint64_t offset);

/* Raise RLIMIT_NOFILE to its hard limit; returns the soft limit now. */
rlim_t tg_raise_nofile(void);

#endif /* TESTS_VSOCK_TEST_GUEST_H */

/*
 * tests/vhost-user/test-vhost-user.c - the vhost-user back-end and
 * virtio-blk through a front-end on a real socket: I/O, config, protocol
 * features and REPLY_ACK, ring states (enable, scan at start, deferred
 * GET_VRING_BASE, call fd replacement), memory-table changes while rings
 * run, and a bad chain from the guest.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "vu-test-client.h"
#include "vu-test-server.h"

/* Nothing is used on queue @q for @ms milliseconds (the request waits). */
static void assert_not_served(TestClient *c, unsigned q, int ms)
{
    uint16_t before = tvr_used_idx(&c->vr[q]);

    g_usleep((gulong)ms * 1000);
    g_assert_cmpuint(tvr_used_idx(&c->vr[q]), ==, before);
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 31 + seed);
    }
}

static void test_io_basic(void)
{
    TestServerOpts so = {.serial = "serial-of-vblk0"};
    TestServer *s = test_server_new(&so);
    TestClient c;
    uint8_t wbuf[8192], rbuf[8192];
    char id[VIRTIO_BLK_ID_BYTES + 1] = {0};
    TestDiskStats st;

    tc_setup(&c, test_server_path(s), NULL);
    fill_pattern(wbuf, sizeof(wbuf), 7);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_OUT, 8, wbuf, sizeof(wbuf)), ==,
                    VIRTIO_BLK_S_OK);
    /* The data is on the disk, at sector 8. */
    test_server_disk_read(s, 8 * 512, rbuf, sizeof(rbuf));
    g_assert_cmpmem(rbuf, sizeof(rbuf), wbuf, sizeof(wbuf));
    memset(rbuf, 0, sizeof(rbuf));
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 8, rbuf, sizeof(rbuf)), ==,
                    VIRTIO_BLK_S_OK);
    g_assert_cmpmem(rbuf, sizeof(rbuf), wbuf, sizeof(wbuf));
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES), ==,
                    VIRTIO_BLK_S_OK);
    g_assert_cmpstr(id, ==, "serial-of-vblk0");
    g_assert_cmpint(tc_blk(&c, 0, 0x12345, 0, NULL, 0), ==, VIRTIO_BLK_S_UNSUPP);
    test_server_disk_stats(s, &st);
    g_assert_cmpuint(st.writes, ==, 1);
    g_assert_cmpuint(st.reads, ==, 1);
    g_assert_cmpuint(st.flushes, ==, 1);
    g_assert_cmpuint(st.plugs, ==, st.unplugs);
    g_assert_cmpuint(st.plugs, >=, 5);
    tc_cleanup(&c);
    test_server_free(s);
}

/* Past the capacity, not a multiple of 512, misaligned: IOERR, and the disk
 * is never called. */
static void test_io_out_of_range(void)
{
    TestServerOpts so = {.size = 1 << 20};
    TestServer *s = test_server_new(&so);
    uint64_t sectors = (1 << 20) / 512;
    uint8_t buf[1024];
    TestDiskStats st;
    TestClient c;

    tc_setup(&c, test_server_path(s), NULL);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, sectors, buf, 512), ==,
                    VIRTIO_BLK_S_IOERR);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_OUT, sectors - 1, buf, 1024), ==,
                    VIRTIO_BLK_S_IOERR);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, UINT64_MAX / 256, buf, 512), ==,
                    VIRTIO_BLK_S_IOERR);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_OUT, 0, buf, 100), ==,
                    VIRTIO_BLK_S_IOERR);
    test_server_disk_stats(s, &st);
    g_assert_cmpuint(st.reads + st.writes, ==, 0);
    /* The last sector itself is fine. */
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, sectors - 1, buf, 512), ==,
                    VIRTIO_BLK_S_OK);
    tc_cleanup(&c);
    test_server_free(s);
}

static void test_io_readonly(void)
{
    TestServerOpts so = {.read_only = true};
    TestServer *s = test_server_new(&so);
    uint8_t buf[512] = {1};
    TestDiskStats st;
    TestClient c;

    tc_setup(&c, test_server_path(s), NULL);
    g_assert_true(c.features & (1ULL << VIRTIO_BLK_F_RO));
    g_assert_false(c.features & (1ULL << VIRTIO_BLK_F_DISCARD));
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_OUT, 0, buf, 512), ==,
                    VIRTIO_BLK_S_IOERR);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 0, buf, 512), ==, VIRTIO_BLK_S_OK);
    test_server_disk_stats(s, &st);
    g_assert_cmpuint(st.writes, ==, 0);
    tc_cleanup(&c);
    test_server_free(s);
}

static int dwz(TestClient *c, uint32_t type, uint64_t sector, uint32_t num,
               uint32_t flags)
{
    struct virtio_blk_discard_write_zeroes seg = {
        .sector = sector, .num_sectors = num, .flags = flags};

    return tc_blk(c, 0, type, 0, &seg, sizeof(seg));
}

static void test_io_discard_write_zeroes(void)
{
    TestServer *s = test_server_new(NULL);
    uint8_t zero[4096] = {0}, disk[64 * 1024];
    TestClient c;

    tc_setup(&c, test_server_path(s), NULL);
    g_assert_true(c.features & (1ULL << VIRTIO_BLK_F_DISCARD));
    g_assert_true(c.features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
    test_server_disk_fill(s, 0, 0xab, sizeof(disk));
    g_assert_cmpint(dwz(&c, VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpint(
        dwz(&c, VIRTIO_BLK_T_WRITE_ZEROES, 16, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
        ==, VIRTIO_BLK_S_OK);
    g_assert_cmpint(dwz(&c, VIRTIO_BLK_T_DISCARD, 32, 8, 0), ==, VIRTIO_BLK_S_OK);
    test_server_disk_read(s, 0, disk, sizeof(disk));
    g_assert_cmpmem(disk + 4096, 4096, zero, 4096);
    g_assert_cmpuint(disk[4095], ==, 0xab);
    g_assert_cmpmem(disk + 8192, 4096, zero, 4096);
    g_assert_cmpuint(disk[12288], ==, 0xab);
    g_assert_cmpmem(disk + 16384, 4096, zero, 4096);
    /* The spec: UNSUPP for unknown flags, and for UNMAP on a discard. */
    g_assert_cmpint(
        dwz(&c, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), ==,
        VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpint(dwz(&c, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2), ==,
                    VIRTIO_BLK_S_UNSUPP);
    /* Past the end: IOERR. */
    g_assert_cmpint(dwz(&c, VIRTIO_BLK_T_WRITE_ZEROES, (16 << 20) / 512 - 4, 8, 0), ==,
                    VIRTIO_BLK_S_IOERR);
    test_server_disk_read(s, 0, disk, sizeof(disk));
    g_assert_cmpuint(disk[0], ==, 0xab);
    tc_cleanup(&c);
    test_server_free(s);
}

static void test_config(void)
{
    TestServerOpts so = {.num_queues = 2, .size = 8 << 20};
    TestServer *s = test_server_new(&so);
    struct {
        VhostUserConfig c;
    } req = {{.offset = 0, .size = sizeof(struct virtio_blk_config)}};
    struct virtio_blk_config cfg;
    VhostUserMsg r;
    TestClient c;

    tc_setup(&c, test_server_path(s), NULL);
    g_assert_true(c.pfeatures & (1ULL << VHOST_USER_PROTOCOL_F_CONFIG));
    tc_send(c.sock, VHOST_USER_GET_CONFIG, 0, &req,
            VHOST_USER_CONFIG_HDR_SIZE + sizeof(struct virtio_blk_config), NULL, 0);
    g_assert_true(tc_recv(c.sock, &r, NULL, TC_TIMEOUT_MS));
    g_assert_cmpuint(r.hdr.size, ==,
                     VHOST_USER_CONFIG_HDR_SIZE + sizeof(struct virtio_blk_config));
    memcpy(&cfg, r.payload.config.region, sizeof(cfg));
    g_assert_cmpuint(cfg.capacity, ==, (8 << 20) / 512);
    g_assert_cmpuint(cfg.blk_size, ==, 512);
    g_assert_cmpuint(cfg.num_queues, ==, 2);
    g_assert_cmpuint(cfg.seg_max, >=, 1);
    g_assert_cmpuint(cfg.physical_block_exp, ==, 3);
    g_assert_cmpuint(cfg.max_discard_seg, ==, 1);
    /* A window past our config space reads as zeroes. */
    req.c.offset = 200;
    req.c.size = 56;
    tc_send(c.sock, VHOST_USER_GET_CONFIG, 0, &req, VHOST_USER_CONFIG_HDR_SIZE + 56,
            NULL, 0);
    g_assert_true(tc_recv(c.sock, &r, NULL, TC_TIMEOUT_MS));
    g_assert_cmpuint(r.hdr.size, ==, VHOST_USER_CONFIG_HDR_SIZE + 56);
    for (int i = 0; i < 56; i++) {
        g_assert_cmpuint(r.payload.config.region[i], ==, 0);
    }
    /* SET_CONFIG: no writable field (CONFIG_WCE is not offered): refused. */
    req.c.offset = 0;
    req.c.size = 1;
    g_assert_cmpuint(tc_send_acked(&c, VHOST_USER_SET_CONFIG, &req,
                                   VHOST_USER_CONFIG_HDR_SIZE + 1, NULL, 0),
                     !=, 0);
    /* The connection is still good. */
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), ==, VIRTIO_BLK_S_OK);
    tc_cleanup(&c);
    test_server_free(s);
}

static void test_features(void)
{
    TestServer *s = test_server_new(NULL);
    int sock = tc_connect_path(test_server_path(s));
    uint64_t f = tc_get_u64(sock, VHOST_USER_GET_FEATURES);
    uint64_t pf = tc_get_u64(sock, VHOST_USER_GET_PROTOCOL_FEATURES);

    g_assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
    g_assert_true(f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
    g_assert_true(f & (1ULL << VIRTIO_RING_F_EVENT_IDX));
    g_assert_true(f & (1ULL << VIRTIO_BLK_F_FLUSH));
    g_assert_true(f & (1ULL << VIRTIO_BLK_F_MQ));
    g_assert_false(f & (1ULL << VIRTIO_F_RING_PACKED));
    g_assert_cmpuint(pf, ==,
                     (1ULL << VHOST_USER_PROTOCOL_F_MQ) |
                         (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
                         (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |
                         (1ULL << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
                         (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD));
    close(sock);
    test_server_free(s);
}

/* ------------------------------------------------------------------------ */
/* Rings                                                                     */
/* ------------------------------------------------------------------------ */

/* Two queues on two threads: each one's requests run on its own thread. */
static void test_multiqueue(void)
{
    TestServerOpts so = {.num_queues = 2};
    TestServer *s = test_server_new(&so);
    TcOpts o = {.nq = 2, .inflight_fd = -1};
    uint8_t a[4096], b[4096], r[4096];
    TcBlkReq ra, rb;
    TestClient c;

    tc_setup(&c, test_server_path(s), &o);
    fill_pattern(a, sizeof(a), 1);
    fill_pattern(b, sizeof(b), 2);
    for (int i = 0; i < 50; i++) {
        tc_blk_submit(&c, &ra, 0, VIRTIO_BLK_T_OUT, 0, a, sizeof(a), false);
        tc_blk_submit(&c, &rb, 1, VIRTIO_BLK_T_OUT, 64, b, sizeof(b), false);
        g_assert_cmpint(tc_blk_wait(&c, &ra, NULL), ==, VIRTIO_BLK_S_OK);
        g_assert_cmpint(tc_blk_wait(&c, &rb, NULL), ==, VIRTIO_BLK_S_OK);
    }
    g_assert_cmpint(tc_blk(&c, 1, VIRTIO_BLK_T_IN, 0, r, sizeof(r)), ==,
                    VIRTIO_BLK_S_OK);
    g_assert_cmpmem(r, sizeof(r), a, sizeof(a));
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 64, r, sizeof(r)), ==,
                    VIRTIO_BLK_S_OK);
    g_assert_cmpmem(r, sizeof(r), b, sizeof(b));
    g_assert_true(test_server_queue_thread(s, 0) == test_server_loop_thread(s, 0));
    g_assert_true(test_server_queue_thread(s, 1) == test_server_loop_thread(s, 1));
    g_assert_true(test_server_loop_thread(s, 0) != test_server_loop_thread(s, 1));
    tc_cleanup(&c);
    test_server_free(s);
}

/* With F_PROTOCOL_FEATURES a ring starts disabled: nothing is processed
 * until SET_VRING_ENABLE, which scans the ring without a kick. */
static void test_enable_scans(void)
{
    TestServer *s = test_server_new(NULL);
    TcOpts o = {.no_enable = true, .inflight_fd = -1};
    VhostUserVringState en = {.index = 0, .num = 1};
    uint8_t buf[512];
    TestDiskStats st;
    TcBlkReq r;
    TestClient c;

    tc_setup(&c, test_server_path(s), &o);
    tc_blk_submit(&c, &r, 0, VIRTIO_BLK_T_IN, 0, NULL, sizeof(buf), false);
    assert_not_served(&c, 0, 200);
    test_server_disk_stats(s, &st);
    g_assert_cmpuint(st.reads, ==, 0);
    g_assert_cmpuint(
        tc_send_acked(&c, VHOST_USER_SET_VRING_ENABLE, &en, sizeof(en), NULL, 0), ==,
        0);
    g_assert_cmpint(tc_blk_wait(&c, &r, buf), ==, VIRTIO_BLK_S_OK);
    /* SET_FEATURES again never disables the ring. */
    g_assert_cmpuint(
        tc_send_acked(&c, VHOST_USER_SET_FEATURES, &c.features, 8, NULL, 0), ==, 0);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf)), ==,
                    VIRTIO_BLK_S_OK);
    /* Disabled again: requests wait (not lost) until re-enabled. */
    en.num = 0;
    g_assert_cmpuint(
        tc_send_acked(&c, VHOST_USER_SET_VRING_ENABLE, &en, sizeof(en), NULL, 0), ==,
        0);
    tc_blk_submit(&c, &r, 0, VIRTIO_BLK_T_IN, 0, NULL, sizeof(buf), false);
    assert_not_served(&c, 0, 100);
    en.num = 1;
    g_assert_cmpuint(
        tc_send_acked(&c, VHOST_USER_SET_VRING_ENABLE, &en, sizeof(en), NULL, 0), ==,
        0);
    g_assert_cmpint(tc_blk_wait(&c, &r, buf), ==, VIRTIO_BLK_S_OK);
    tc_cleanup(&c);
    test_server_free(s);
}

/* GET_VRING_BASE stops the ring and waits for requests in flight; the reply
 * comes after their completions, with the index past them. */
static void test_get_vring_base_waits(void)
{
    TestServer *s = test_server_new(NULL);
    VhostUserVringState st = {.index = 0};
    uint8_t buf[512];
    TcBlkReq r[3];
    VhostUserMsg reply;
    TestClient c;

    tc_setup(&c, test_server_path(s), NULL);
    test_server_hold(s, true);
    for (int i = 0; i < 3; i++) {
        tc_blk_submit(&c, &r[i], 0, VIRTIO_BLK_T_IN, (uint64_t)i, NULL, sizeof(buf),
                      false);
    }
    while (test_server_held(s) < 3) {
        g_usleep(1000);
    }
    tc_send(c.sock, VHOST_USER_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);
    g_assert_true(tc_quiet(c.sock, 200)); /* deferred: requests are in flight */
    /* Replies stay in order: this one waits behind GET_VRING_BASE. */
    tc_send(c.sock, VHOST_USER_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
    g_assert_true(tc_quiet(c.sock, 100));
    test_server_hold(s, false);
    g_assert_true(tc_recv(c.sock, &reply, NULL, TC_TIMEOUT_MS));
    g_assert_cmpuint(reply.hdr.request, ==, VHOST_USER_GET_VRING_BASE);
    g_assert_cmpuint(reply.payload.state.num, ==, 3);
    /* Every completion was published before the reply. */
    g_assert_cmpuint(tvr_used_idx(&c.vr[0]), ==, 3);
    g_assert_true(tc_recv(c.sock, &reply, NULL, TC_TIMEOUT_MS));
    g_assert_cmpuint(reply.hdr.request, ==, VHOST_USER_GET_QUEUE_NUM);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(tc_blk_wait(&c, &r[i], NULL), ==, VIRTIO_BLK_S_OK);
    }
    tc_cleanup(&c);
    test_server_free(s);
}

/* A guest that queued and kicked before the ring started is served when
 * it starts (no second kick); after GET_VRING_BASE a new SET_VRING_KICK
 * restarts the ring where it stopped. */
static void test_restart_and_scan(void)
{
    TestServer *s = test_server_new(NULL);
    VhostUserVringState st = {.index = 0};
    uint64_t v = 0;
    uint8_t buf[512];
    VhostUserMsg reply;
    TcBlkReq r;
    TestClient c;

    tc_setup(&c, test_server_path(s), NULL);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf)), ==,
                    VIRTIO_BLK_S_OK);
    tc_send(c.sock, VHOST_USER_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);
    g_assert_true(tc_recv(c.sock, &reply, NULL, TC_TIMEOUT_MS));
    g_assert_cmpuint(reply.payload.state.num, ==, 1);
    /* Stopped: a kicked request waits. */
    tc_blk_submit(&c, &r, 0, VIRTIO_BLK_T_IN, 0, NULL, sizeof(buf), false);
    assert_not_served(&c, 0, 100);
    /* SET_VRING_BASE keeps the index; the new kick fd starts the ring. */
    st.num = 1;
    g_assert_cmpuint(
        tc_send_acked(&c, VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), ==, 0);
    g_assert_cmpuint(tc_send_acked(&c, VHOST_USER_SET_VRING_KICK, &v, 8, &c.kick[0], 1),
                     ==, 0);
    g_assert_cmpint(tc_blk_wait(&c, &r, buf), ==, VIRTIO_BLK_S_OK);
    tc_cleanup(&c);
    test_server_free(s);
}

/* The call fd is replaced while the ring runs (QEMU masking a vector). */
static void test_call_swap(void)
{
    TestServer *s = test_server_new(NULL);
    TcOpts o = {.no_event_idx = true, .inflight_fd = -1};
    uint64_t v = 0;
    int old, newfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    uint8_t buf[512];
    TestClient c;

    tc_setup(&c, test_server_path(s), &o);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf)), ==,
                    VIRTIO_BLK_S_OK);
    old = c.call[0];
    g_assert_cmpuint(tc_send_acked(&c, VHOST_USER_SET_VRING_CALL, &v, 8, &newfd, 1), ==,
                     0);
    c.call[0] = newfd;
    tc_wait_call(&c, 0, 0); /* clear */
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf)), ==,
                    VIRTIO_BLK_S_OK);
    /* The old eventfd is no longer signalled. */
    c.call[0] = old;
    tc_wait_call(&c, 0, 0);
    c.call[0] = newfd;
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf)), ==,
                    VIRTIO_BLK_S_OK);
    c.call[0] = old;
    g_assert_false(tc_wait_call(&c, 0, 50));
    c.call[0] = newfd;
    close(old);
    tc_cleanup(&c);
    test_server_free(s);
}

/* ADD_MEM_REG / REM_MEM_REG, with the rings running. */
static void test_mem_slots(void)
{
    TestServer *s = test_server_new(NULL);
    TcOpts o = {.add_mem_reg = true, .inflight_fd = -1};
    TestGuestMem extra;
    VhostUserMemRegMsg reg;
    uint8_t *p;
    uint64_t gpa;
    TestClient c;
    TcBlkReq r;
    struct virtio_blk_outhdr *h;
    TvBuf b[3];

    tc_setup(&c, test_server_path(s), &o);
    tgm_init(&extra, 1 << 20, 0x900000000ULL);
    reg = (VhostUserMemRegMsg){.region = {.guest_phys_addr = extra.gpa,
                                          .memory_size = extra.size,
                                          .userspace_addr = (uintptr_t)extra.base}};
    g_assert_cmpuint(
        tc_send_acked(&c, VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), &extra.fd, 1), ==,
        0);
    /* A read into a buffer of the new region. */
    test_server_disk_fill(s, 0, 0x5a, 512);
    gpa = tgm_alloc(&extra, 512, 512);
    memset(&r, 0, sizeof(r));
    r.hdr_gpa = tgm_alloc(&c.mem, 16, 16);
    h = tgm_ptr(&c.mem, r.hdr_gpa);
    h->type = VIRTIO_BLK_T_IN;
    h->sector = 0;
    r.status_gpa = tgm_alloc(&c.mem, 1, 1);
    b[0] = (TvBuf){r.hdr_gpa, 16, false};
    b[1] = (TvBuf){gpa, 512, true};
    b[2] = (TvBuf){r.status_gpa, 1, true};
    r.head = tvr_add_indirect(&c.vr[0], b, 3);
    tvr_publish(&c.vr[0], r.head);
    g_assert_cmpint(write(c.kick[0], &(uint64_t){1}, 8), ==, 8);
    g_assert_cmpint(tc_blk_wait(&c, &r, NULL), ==, VIRTIO_BLK_S_OK);
    p = tgm_ptr(&extra, gpa);
    g_assert_cmpuint(p[0], ==, 0x5a);
    g_assert_cmpuint(p[511], ==, 0x5a);
    /* Removing it: the ring (in the first region) keeps running. */
    g_assert_cmpuint(
        tc_send_acked(&c, VHOST_USER_REM_MEM_REG, &reg, sizeof(reg), NULL, 0), ==, 0);
    /* Removing it again: refused, the connection stays. */
    g_assert_cmpuint(
        tc_send_acked(&c, VHOST_USER_REM_MEM_REG, &reg, sizeof(reg), NULL, 0), !=, 0);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), ==, VIRTIO_BLK_S_OK);
    tgm_cleanup(&extra);
    tc_cleanup(&c);
    test_server_free(s);
}

/* A looping chain from the guest: one log line, the err fd, that queue
 * stops; the connection and the other queue keep working. */
static void test_bad_chain(void)
{
    TestServerOpts so = {.num_queues = 2};
    TestServer *s = test_server_new(&so);
    TcOpts o = {.nq = 2, .inflight_fd = -1};
    unsigned warnings = test_log_warnings();
    uint64_t b, v;
    TestClient c;

    tc_setup(&c, test_server_path(s), &o);
    b = tgm_alloc(&c.mem, 16, 16);
    tvr_set_desc(&c.vr[0], 0, b, 16, VRING_DESC_F_NEXT, 1);
    tvr_set_desc(&c.vr[0], 1, b, 16, VRING_DESC_F_NEXT, 0);
    tvr_publish(&c.vr[0], 0);
    g_assert_cmpint(write(c.kick[0], &(uint64_t){1}, 8), ==, 8);
    test_log_wait(warnings + 1);
    g_assert_cmpint(read(c.err[0], &v, 8), ==, 8);
    g_assert_cmpint(tc_blk(&c, 1, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(tc_get_u64(c.sock, VHOST_USER_GET_QUEUE_NUM), ==, 2);
    g_assert_cmpuint(test_log_warnings(), ==, warnings + 1);
    tc_cleanup(&c);
    test_server_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_log_init();
    g_test_add_func("/vhost-user/io/basic", test_io_basic);
    g_test_add_func("/vhost-user/io/out-of-range", test_io_out_of_range);
    g_test_add_func("/vhost-user/io/readonly", test_io_readonly);
    g_test_add_func("/vhost-user/io/discard-write-zeroes",
                    test_io_discard_write_zeroes);
    g_test_add_func("/vhost-user/config", test_config);
    g_test_add_func("/vhost-user/features", test_features);
    g_test_add_func("/vhost-user/ring/multiqueue", test_multiqueue);
    g_test_add_func("/vhost-user/ring/enable-scans", test_enable_scans);
    g_test_add_func("/vhost-user/ring/get-vring-base-waits", test_get_vring_base_waits);
    g_test_add_func("/vhost-user/ring/restart-and-scan", test_restart_and_scan);
    g_test_add_func("/vhost-user/ring/call-swap", test_call_swap);
    g_test_add_func("/vhost-user/mem/slots", test_mem_slots);
    g_test_add_func("/vhost-user/guest/bad-chain", test_bad_chain);
    return g_test_run();
}

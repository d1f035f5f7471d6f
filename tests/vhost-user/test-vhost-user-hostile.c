/*
 * tests/vhost-user/test-vhost-user-hostile.c - a hostile front-end on a raw
 * socket: truncated messages, wrong fd counts, out-of-range queue indexes,
 * more regions than allowed, a region larger than its fd, unknown and
 * unsupported requests, wrong sizes...  Each time: exactly one log line,
 * the connection closed, no fd left behind, and the next front-end gets
 * working I/O.  Then disconnects (also in the middle of I/O) and
 * reconnects leave no fd and no mapping behind (/proc/self/fd and maps).
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_blk.h>

#include "vu-test-client.h"
#include "vu-test-server.h"

static TestServer *server;

static unsigned count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    g_assert_nonnull(d);
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

/* Lines of /proc/self/maps, and those that map a memfd. */
static void count_maps(unsigned *lines, unsigned *memfds)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) v = NULL;

    g_assert_true(g_file_get_contents("/proc/self/maps", &text, NULL, NULL));
    v = g_strsplit(text, "\n", -1);
    *lines = *memfds = 0;
    for (char **l = v; *l; l++) {
        if (**l) {
            (*lines)++;
            *memfds += strstr(*l, "/memfd:") != NULL;
        }
    }
}

/* A front-end doing one write and one read: the server works. */
static void check_working_io(void)
{
    uint8_t w[4096], r[4096];
    TestClient c;

    for (size_t i = 0; i < sizeof(w); i++) {
        w[i] = (uint8_t)g_random_int();
    }
    tc_setup(&c, test_server_path(server), NULL);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_OUT, 16, w, sizeof(w)), ==,
                    VIRTIO_BLK_S_OK);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 16, r, sizeof(r)), ==,
                    VIRTIO_BLK_S_OK);
    g_assert_cmpmem(w, sizeof(w), r, sizeof(r));
    tc_cleanup(&c);
}

/* Negotiate features and protocol features on a raw socket. */
static void negotiate(int sock)
{
    uint64_t f = tc_get_u64(sock, VHOST_USER_GET_FEATURES);
    uint64_t pf = tc_get_u64(sock, VHOST_USER_GET_PROTOCOL_FEATURES);

    tc_send(sock, VHOST_USER_SET_FEATURES, 0, &f, 8, NULL, 0);
    tc_send(sock, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0);
}

typedef struct HostileCase {
    const char *name;
    void (*send)(int sock);
    bool negotiate; /* send the bad message after features are negotiated */
} HostileCase;

static void h_truncated_payload(int sock)
{
    VhostUserHeader h = {VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 8};
    uint8_t buf[sizeof(h) + 4] = {0};

    memcpy(buf, &h, sizeof(h));
    tc_send_raw(sock, buf, sizeof(buf), NULL, 0);
    shutdown(sock, SHUT_WR);
}

static void h_truncated_header(int sock)
{
    uint8_t buf[6] = {1, 0, 0, 0, 1, 0};

    tc_send_raw(sock, buf, sizeof(buf), NULL, 0);
    shutdown(sock, SHUT_WR);
}

static void h_two_kick_fds(int sock)
{
    int fds[2] = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)};
    uint64_t v = 0;

    tc_send(sock, VHOST_USER_SET_VRING_KICK, 0, &v, 8, fds, 2);
    close(fds[0]);
    close(fds[1]);
}

static void h_mem_table_no_fd(int sock)
{
    VhostUserMemory m = {.nregions = 1,
                         .regions = {{.guest_phys_addr = 0, .memory_size = 4096}}};

    tc_send(sock, VHOST_USER_SET_MEM_TABLE, 0, &m, 8 + 32, NULL, 0);
}

static void h_fd_on_get_features(int sock)
{
    int fd = eventfd(0, EFD_CLOEXEC);

    tc_send(sock, VHOST_USER_GET_FEATURES, 0, NULL, 0, &fd, 1);
    close(fd);
}

static void h_nine_fds(int sock)
{
    VhostUserMemory m = {.nregions = 8};
    int fds[9];

    for (int i = 0; i < 9; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC);
    }
    tc_send(sock, VHOST_USER_SET_MEM_TABLE, 0, &m, sizeof(m), fds, 9);
    for (int i = 0; i < 9; i++) {
        close(fds[i]);
    }
}

static void h_queue_out_of_range(int sock)
{
    VhostUserVringState st = {.index = 5, .num = 16};

    tc_send(sock, VHOST_USER_SET_VRING_NUM, 0, &st, sizeof(st), NULL, 0);
}

static void h_kick_queue_out_of_range(int sock)
{
    int fd = eventfd(0, EFD_CLOEXEC);
    uint64_t v = 200;

    tc_send(sock, VHOST_USER_SET_VRING_KICK, 0, &v, 8, &fd, 1);
    close(fd);
}

static void h_too_many_regions(int sock)
{
    VhostUserMemory m = {.nregions = 9};

    tc_send(sock, VHOST_USER_SET_MEM_TABLE, 0, &m, sizeof(m), NULL, 0);
}

static void h_region_larger_than_fd(int sock)
{
    TestGuestMem mem;
    VhostUserMemory m = {.nregions = 1};

    tgm_init(&mem, 1 << 20, 0);
    m.regions[0] = (VhostUserMemoryRegion){.guest_phys_addr = 0,
                                           .memory_size = (1 << 20) + 4096,
                                           .userspace_addr = (uintptr_t)mem.base};
    tc_send(sock, VHOST_USER_SET_MEM_TABLE, 0, &m, 8 + 32, &mem.fd, 1);
    tgm_cleanup(&mem);
}

static void h_region_offset_wraps(int sock)
{
    TestGuestMem mem;
    VhostUserMemRegMsg r = {.region = {.guest_phys_addr = 0,
                                       .memory_size = 4096,
                                       .mmap_offset = UINT64_MAX - 100}};

    tgm_init(&mem, 1 << 20, 0);
    tc_send(sock, VHOST_USER_ADD_MEM_REG, 0, &r, sizeof(r), &mem.fd, 1);
    tgm_cleanup(&mem);
}

static void h_overlapping_regions(int sock)
{
    TestGuestMem mem;
    VhostUserMemory m = {.nregions = 2};

    tgm_init(&mem, 1 << 20, 0);
    m.regions[0] = (VhostUserMemoryRegion){0, 1 << 20, (uintptr_t)mem.base, 0};
    m.regions[1] = (VhostUserMemoryRegion){4096, 4096, 1ULL << 45, 0};
    tc_send(sock, VHOST_USER_SET_MEM_TABLE, 0, &m, 8 + 64, (int[]){mem.fd, mem.fd}, 2);
    tgm_cleanup(&mem);
}

static void h_region_not_memory(int sock)
{
    int p[2];
    VhostUserMemory m = {.nregions = 1, .regions = {{0, 4096, 0x1000, 0}}};

    g_assert_cmpint(pipe(p), ==, 0);
    tc_send(sock, VHOST_USER_SET_MEM_TABLE, 0, &m, 8 + 32, &p[0], 1);
    close(p[0]);
    close(p[1]);
}

static void h_unknown_request(int sock)
{
    tc_send(sock, 99, 0, NULL, 0, NULL, 0);
}

static void h_request_zero(int sock)
{
    tc_send(sock, VHOST_USER_NONE, 0, NULL, 0, NULL, 0);
}

static void h_unsupported_log(int sock)
{
    uint64_t v = 0;

    tc_send(sock, VHOST_USER_SET_LOG_BASE, 0, &v, 8, NULL, 0);
}

static void h_unsupported_status(int sock)
{
    uint64_t v = 0xf;

    tc_send(sock, VHOST_USER_SET_STATUS, 0, &v, 8, NULL, 0);
}

static void h_short_set_features(int sock)
{
    uint32_t v = 0;

    tc_send(sock, VHOST_USER_SET_FEATURES, 0, &v, 4, NULL, 0);
}

static void h_payload_on_get(int sock)
{
    uint64_t v = 0;

    tc_send(sock, VHOST_USER_GET_FEATURES, 0, &v, 8, NULL, 0);
}

static void h_huge_size(int sock)
{
    VhostUserHeader h = {VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 10000};

    tc_send_raw(sock, &h, sizeof(h), NULL, 0);
}

static void h_bad_version(int sock)
{
    VhostUserHeader h = {VHOST_USER_GET_FEATURES, 2, 0};

    tc_send_raw(sock, &h, sizeof(h), NULL, 0);
}

static void h_reply_flag(int sock)
{
    tc_send(sock, VHOST_USER_GET_FEATURES, VHOST_USER_REPLY_MASK, NULL, 0, NULL, 0);
}

static void h_unoffered_features(int sock)
{
    uint64_t v = 1ULL << 63;

    tc_send(sock, VHOST_USER_SET_FEATURES, 0, &v, 8, NULL, 0);
}

static void h_unoffered_protocol_features(int sock)
{
    uint64_t v = 1ULL << VHOST_USER_PROTOCOL_F_STATUS;

    tc_send(sock, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &v, 8, NULL, 0);
}

static void h_kick_not_eventfd(int sock)
{
    int p[2];
    uint64_t v = 0;

    g_assert_cmpint(pipe(p), ==, 0);
    tc_send(sock, VHOST_USER_SET_VRING_KICK, 0, &v, 8, &p[0], 1);
    close(p[0]);
    close(p[1]);
}

static void h_nofd_with_fd(int sock)
{
    int fd = eventfd(0, EFD_CLOEXEC);
    uint64_t v = VHOST_USER_VRING_NOFD_MASK;

    tc_send(sock, VHOST_USER_SET_VRING_CALL, 0, &v, 8, &fd, 1);
    close(fd);
}

static void h_kick_polling(int sock)
{
    uint64_t v = VHOST_USER_VRING_NOFD_MASK;

    tc_send(sock, VHOST_USER_SET_VRING_KICK, 0, &v, 8, NULL, 0);
}

static void h_config_not_negotiated(int sock)
{
    VhostUserConfig c = {.offset = 0, .size = 8};

    tc_send(sock, VHOST_USER_GET_CONFIG, 0, &c, VHOST_USER_CONFIG_HDR_SIZE + 8, NULL,
            0);
}

static void h_config_bad_window(int sock)
{
    VhostUserConfig c = {.offset = 250, .size = 8};

    tc_send(sock, VHOST_USER_GET_CONFIG, 0, &c, VHOST_USER_CONFIG_HDR_SIZE + 8, NULL,
            0);
}

static void h_vring_num_not_pow2(int sock)
{
    VhostUserVringState st = {.index = 0, .num = 3};

    tc_send(sock, VHOST_USER_SET_VRING_NUM, 0, &st, sizeof(st), NULL, 0);
}

static void h_vring_base_too_big(int sock)
{
    VhostUserVringState st = {.index = 0, .num = 70000};

    tc_send(sock, VHOST_USER_SET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);
}

static void h_enable_two(int sock)
{
    VhostUserVringState st = {.index = 0, .num = 2};

    tc_send(sock, VHOST_USER_SET_VRING_ENABLE, 0, &st, sizeof(st), NULL, 0);
}

static void h_inflight_larger_than_fd(int sock)
{
    VhostUserInflight in = {.mmap_size = 1 << 20, .num_queues = 1, .queue_size = 16};
    int fd = memfd_create("small", MFD_CLOEXEC);

    g_assert_cmpint(ftruncate(fd, 4096), ==, 0);
    tc_send(sock, VHOST_USER_SET_INFLIGHT_FD, 0, &in, sizeof(in), &fd, 1);
    close(fd);
}

static void h_inflight_queues(int sock)
{
    VhostUserInflight in = {.num_queues = 64, .queue_size = 16};

    tc_send(sock, VHOST_USER_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);
}

static const HostileCase cases[] = {
    {"truncated-payload", h_truncated_payload},
    {"truncated-header", h_truncated_header},
    {"two-kick-fds", h_two_kick_fds},
    {"mem-table-without-fd", h_mem_table_no_fd},
    {"fd-on-get-features", h_fd_on_get_features},
    {"nine-fds", h_nine_fds},
    {"queue-out-of-range", h_queue_out_of_range},
    {"kick-queue-out-of-range", h_kick_queue_out_of_range},
    {"too-many-regions", h_too_many_regions},
    {"region-larger-than-fd", h_region_larger_than_fd},
    {"region-offset-wraps", h_region_offset_wraps, true},
    {"overlapping-regions", h_overlapping_regions},
    {"region-not-memory", h_region_not_memory},
    {"unknown-request", h_unknown_request},
    {"request-zero", h_request_zero},
    {"unsupported-log", h_unsupported_log},
    {"unsupported-status", h_unsupported_status},
    {"short-set-features", h_short_set_features},
    {"payload-on-get", h_payload_on_get},
    {"huge-size", h_huge_size},
    {"bad-version", h_bad_version},
    {"reply-flag", h_reply_flag},
    {"unoffered-features", h_unoffered_features},
    {"unoffered-protocol-features", h_unoffered_protocol_features},
    {"kick-not-eventfd", h_kick_not_eventfd},
    {"nofd-with-fd", h_nofd_with_fd},
    {"kick-polling", h_kick_polling},
    {"config-not-negotiated", h_config_not_negotiated},
    {"config-bad-window", h_config_bad_window, true},
    {"vring-num-not-pow2", h_vring_num_not_pow2},
    {"vring-base-too-big", h_vring_base_too_big},
    {"enable-two", h_enable_two},
    {"inflight-larger-than-fd", h_inflight_larger_than_fd, true},
    {"inflight-queues", h_inflight_queues, true},
};

static void test_hostile(gconstpointer data)
{
    const HostileCase *hc = data;
    unsigned disconnects = test_server_disconnects(server);
    unsigned warnings = test_log_warnings();
    unsigned fds = count_fds();
    VuDevStats st0, st1;
    int sock;

    test_server_stats(server, &st0);
    sock = tc_connect_path(test_server_path(server));
    if (hc->negotiate) {
        negotiate(sock);
    }
    hc->send(sock);
    g_assert_true(tc_wait_closed(sock, TC_TIMEOUT_MS));
    close(sock);
    test_server_wait_disconnects(server, disconnects + 1);
    g_assert_cmpuint(test_log_warnings(), ==, warnings + 1); /* exactly one line */
    test_server_stats(server, &st1);
    g_assert_cmpuint(st1.protocol_errors, ==, st0.protocol_errors + 1);
    g_assert_cmpuint(count_fds(), ==, fds); /* every received fd was closed */
    check_working_io();
    test_server_wait_disconnects(server, disconnects + 2);
    g_assert_cmpuint(test_log_warnings(), ==, warnings + 1);
}

/* ------------------------------------------------------------------------ */
/* Disconnect and reconnect                                                  */
/* ------------------------------------------------------------------------ */

/* One session: set up, I/O, and (if @mid_io) disconnect with requests in
 * flight; returns once the server tore the session down. */
static void session(bool mid_io)
{
    unsigned d = test_server_disconnects(server);
    uint8_t buf[4096];
    TcBlkReq r[4];
    TestClient c;
    TestDiskStats st0, st1;

    memset(buf, 0x3c, sizeof(buf));
    tc_setup(&c, test_server_path(server), NULL);
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf)), ==,
                    VIRTIO_BLK_S_OK);
    if (mid_io) {
        test_server_disk_stats(server, &st0);
        test_server_hold(server, true);
        for (int i = 0; i < 4; i++) {
            tc_blk_submit(&c, &r[i], 0, VIRTIO_BLK_T_OUT, 8 * (uint64_t)(i + 1), buf,
                          sizeof(buf), false);
        }
        while (test_server_held(server) < 4) {
            g_usleep(1000);
        }
        tc_disconnect(&c);
        /* The teardown waits for the requests in flight. */
        g_usleep(50000);
        g_assert_cmpuint(test_server_disconnects(server), ==, d);
        test_server_hold(server, false);
        test_server_wait_disconnects(server, d + 1);
        test_server_disk_stats(server, &st1);
        g_assert_cmpuint(st1.writes, ==, st0.writes + 4);
        /* They completed into the guest's memory before it was unmapped. */
        for (int i = 0; i < 4; i++) {
            g_assert_cmpint(tc_blk_wait(&c, &r[i], NULL), ==, VIRTIO_BLK_S_OK);
        }
    } else {
        tc_disconnect(&c);
        test_server_wait_disconnects(server, d + 1);
    }
    tc_cleanup(&c);
}

static void test_reconnect_leaks(void)
{
    unsigned fds, lines, memfds, fds1, lines1, memfds1;

    session(false); /* warm up: allocator arenas, thread pools... */
    session(true);
    fds = count_fds();
    count_maps(&lines, &memfds);
    for (int i = 0; i < 10; i++) {
        session(i % 2 == 1);
    }
    fds1 = count_fds();
    count_maps(&lines1, &memfds1);
    g_assert_cmpuint(fds1, ==, fds);
    g_assert_cmpuint(memfds1, ==, memfds);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    /* Sanitizer allocators map memory of their own as they go. */
    g_assert_cmpuint(lines1, ==, lines);
#endif
    g_assert_cmpuint(memfds, ==, 0);
}

/* A front-end that connects while another one is served waits its turn. */
static void test_one_at_a_time(void)
{
    TestClient c;
    int second;
    uint64_t f;

    tc_setup(&c, test_server_path(server), NULL);
    second = tc_connect_path(test_server_path(server));
    tc_send(second, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0);
    g_assert_true(tc_quiet(second, 200)); /* not served yet */
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), ==, VIRTIO_BLK_S_OK);
    tc_cleanup(&c);
    /* The first one left: the second is served now. */
    {
        VhostUserMsg r;

        g_assert_true(tc_recv(second, &r, NULL, TC_TIMEOUT_MS));
        f = r.payload.u64;
    }
    g_assert_true(f & (1ULL << VHOST_USER_F_PROTOCOL_FEATURES));
    close(second);
}

/* The listening socket is 0600 and stays the same for the server's life. */
static void test_socket_mode(void)
{
    struct stat st0, st1;

    g_assert_cmpint(stat(test_server_path(server), &st0), ==, 0);
    g_assert_true(S_ISSOCK(st0.st_mode));
    g_assert_cmpuint(st0.st_mode & 0777, ==, 0600);
    check_working_io();
    g_assert_cmpint(stat(test_server_path(server), &st1), ==, 0);
    g_assert_cmpuint(st0.st_ino, ==, st1.st_ino);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_log_init();
    server = test_server_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/vhost-user/hostile/%s", cases[i].name);

        g_test_add_data_func(path, &cases[i], test_hostile);
    }
    g_test_add_func("/vhost-user/reconnect/no-leaks", test_reconnect_leaks);
    g_test_add_func("/vhost-user/reconnect/one-at-a-time", test_one_at_a_time);
    g_test_add_func("/vhost-user/socket/mode", test_socket_mode);
    ret = g_test_run();
    test_server_free(server);
    return ret;
}

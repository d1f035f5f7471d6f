/*
 * tests/vhost-user/test-vhost-user-crash.c - INFLIGHT_SHMFD end to end: a
 * back-end process (vu-blk-server) is killed with SIGKILL while requests
 * are in flight, a new one is started on the same socket, the front-end
 * reconnects with the same inflight region, and every request that was in
 * flight completes exactly once, its data in the file.
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <linux/virtio_blk.h>

#include "vu-test-client.h"

static char *server_bin;

static GPid spawn_server(const char *sock, const char *file, const char *latency)
{
    const char *argv[] = {server_bin, "--socket",     sock,    "--file",
                          file,       "--latency-ms", latency, NULL};
    GError *err = NULL;
    GPid pid;

    g_assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                NULL, NULL, &pid, &err));
    g_assert_no_error(err);
    return pid;
}

static int wait_exit(GPid pid)
{
    int status;

    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    return status;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(seed * 7 + i * 13 + 1);
    }
}

/* Heads the inflight region marks in flight for queue 0. */
static unsigned inflight_count(const VhostUserInflightQueueSplit *r, uint16_t qsize)
{
    unsigned n = 0;

    for (unsigned i = 0; i < qsize; i++) {
        n += __atomic_load_n(&r->desc[i].inflight, __ATOMIC_RELAXED) == 1;
    }
    return n;
}

static void test_kill_and_resubmit(void)
{
    g_autofree char *dir = g_dir_make_tmp("vu-crash-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "vblk.sock", NULL);
    g_autofree char *file = g_build_filename(dir, "disk.raw", NULL);
    TcOpts o = {.inflight = true, .inflight_fd = -1};
    VhostUserInflightQueueSplit *region;
    uint8_t data[6][4096], back[4096];
    TcBlkReq r[6];
    TestClient c;
    int disk, seals;
    GPid pid;

    disk = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(ftruncate(disk, 16 << 20), ==, 0);
    pid = spawn_server(sock, file, "1500");
    tc_setup(&c, sock, &o);

    /* The region: a sealed memfd, one split-layout queue region. */
    seals = fcntl(c.inflight_fd, F_GET_SEALS);
    g_assert_cmpint(seals & (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), ==,
                    F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    g_assert_cmpuint(c.inflight_size, >=, 16 + 16 * c.qsize);
    region = mmap(NULL, c.inflight_size, PROT_READ, MAP_SHARED, c.inflight_fd, 0);
    g_assert_true(region != MAP_FAILED);
    g_assert_cmpuint(region->version, ==, 1); /* initialized at ring start */
    g_assert_cmpuint(region->desc_num, ==, c.qsize);

    /* Two requests complete, so the used index is not 0 at the crash. */
    for (int i = 0; i < 6; i++) {
        pattern(data[i], sizeof(data[i]), (unsigned)i);
    }
    for (int i = 0; i < 2; i++) {
        tc_blk_submit(&c, &r[i], 0, VIRTIO_BLK_T_OUT, 8 * (uint64_t)i, data[i], 4096,
                      false);
    }
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(tc_blk_wait(&c, &r[i], NULL), ==, VIRTIO_BLK_S_OK);
    }
    /* Four more, in flight when the back-end dies. */
    for (int i = 2; i < 6; i++) {
        tc_blk_submit(&c, &r[i], 0, VIRTIO_BLK_T_OUT, 8 * (uint64_t)i, data[i], 4096,
                      false);
    }
    for (int n = 0; inflight_count(region, c.qsize) < 4; n++) {
        g_assert_cmpint(n, <, 5000);
        g_usleep(1000);
    }
    kill(pid, SIGKILL);
    wait_exit(pid);
    g_assert_cmpuint(tvr_used_idx(&c.vr[0]), ==, 2);
    g_assert_cmpint(pread(disk, back, 4096, 8 * 512 * 5), ==, 4096);
    g_assert_cmpuint(back[0], ==, 0); /* not written yet */

    /* A new back-end; the front-end reconnects with the same region. */
    pid = spawn_server(sock, file, "0");
    tc_disconnect(&c);
    o = (TcOpts){.inflight = true,
                 .inflight_fd = c.inflight_fd,
                 .inflight_size = c.inflight_size,
                 .keep_memory = true};
    tc_setup(&c, sock, &o);
    for (int i = 2; i < 6; i++) {
        g_assert_cmpint(tc_blk_wait(&c, &r[i], NULL), ==, VIRTIO_BLK_S_OK);
    }
    g_assert_cmpuint(tvr_used_idx(&c.vr[0]), ==, 6); /* each exactly once */
    g_assert_cmpuint(inflight_count(region, c.qsize), ==, 0);
    for (int i = 0; i < 6; i++) {
        g_assert_cmpint(pread(disk, back, 4096, 8 * 512 * i), ==, 4096);
        g_assert_cmpmem(back, 4096, data[i], 4096);
    }
    /* And it keeps working. */
    g_assert_cmpint(tc_blk(&c, 0, VIRTIO_BLK_T_IN, 8, back, 4096), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(back, 4096, data[1], 4096);

    kill(pid, SIGTERM);
    {
        int st = wait_exit(pid);

        g_assert_true(WIFEXITED(st));
        g_assert_cmpint(WEXITSTATUS(st), ==, 0); /* clean exit, no leak report */
    }
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS)); /* unlinked at exit */
    munmap(region, c.inflight_size);
    tc_cleanup(&c);
    close(disk);
    g_unlink(file);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_autofree char *dir = g_path_get_dirname(argv[0]);
    int ret;

    g_test_init(&argc, &argv, NULL);
    server_bin = g_build_filename(dir, "vu-blk-server", NULL);
    g_test_add_func("/vhost-user/inflight/kill-and-resubmit", test_kill_and_resubmit);
    ret = g_test_run();
    g_free(server_bin);
    return ret;
}

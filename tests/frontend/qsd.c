/*
 * tests/frontend/qsd.c - spawn qemu-storage-daemon (or vu-blk-server)
 * for the tests.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qsd.h"

const char *qsd_binary(void)
{
    static char *path;

    if (!path) {
        const char *env = g_getenv("QSD");

        path = env ? g_strdup(env) : g_find_program_in_path("qemu-storage-daemon");
    }
    return path;
}

const char *qsd_vu_blk_server(void)
{
    return g_getenv("VU_BLK_SERVER");
}

static void add(GPtrArray *a, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void add(GPtrArray *a, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_ptr_array_add(a, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static void make_image(const char *path, uint64_t size)
{
    int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, (off_t)size), ==, 0);
    close(fd);
}

/* In the child: die with the test, so that a failed test leaves no daemon
 * holding its output pipe open. */
static void child_setup(gpointer unused)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void spawn(Qsd *q)
{
    g_autoptr(GError) err = NULL;

    g_ptr_array_add(q->args, NULL);
    g_spawn_async(NULL, (char **)q->args->pdata, NULL,
                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, child_setup,
                  NULL, &q->pid, &err);
    g_ptr_array_remove_index(q->args, q->args->len - 1);
    g_assert_no_error(err);
}

static void vu_blk_args(Qsd *q, const QsdOptions *opt)
{
    add(q->args, "%s", qsd_vu_blk_server());
    add(q->args, "--socket=%s", q->sock);
    add(q->args, "--file=%s", q->image);
    add(q->args, "--queues=%u", MAX(opt->num_queues, 1u));
    add(q->args, "--aio=native");
    add(q->args, "--direct");
    add(q->args, "--serial=" QSD_VU_SERIAL);
    if (opt->readonly) {
        add(q->args, "--readonly");
    }
    if (opt->latency_ns) {
        add(q->args, "--latency-ms=%" G_GUINT64_FORMAT,
            MAX(opt->latency_ns / 1000000, 1));
    }
}

static void qsd_args(Qsd *q, const QsdOptions *opt, uint64_t size)
{
    const char *node = "null0";

    add(q->args, "%s", qsd_binary());
    if (opt->file) {
        add(q->args, "--blockdev");
        add(q->args,
            "driver=file,node-name=file0,filename=%s,aio=native,cache.direct=on",
            q->image);
        add(q->args, "--blockdev");
        add(q->args, "driver=raw,node-name=disk0,file=file0");
        node = "disk0";
    } else {
        add(q->args, "--blockdev");
        add(q->args,
            "driver=null-co,node-name=null0,size=%" G_GUINT64_FORMAT
            ",latency-ns=%" G_GUINT64_FORMAT ",read-zeroes=on",
            size, opt->latency_ns);
    }
    if (opt->iothread) {
        add(q->args, "--object");
        add(q->args, "iothread,id=io0");
    }
    add(q->args, "--export");
    add(q->args,
        "type=vhost-user-blk,id=exp0,node-name=%s,addr.type=unix,addr.path=%s,"
        "writable=%s,num-queues=%u%s",
        node, q->sock, opt->readonly ? "off" : "on", MAX(opt->num_queues, 1u),
        opt->iothread ? ",iothread=io0" : "");
}

Qsd *qsd_new(const QsdOptions *opt)
{
    Qsd *q = g_new0(Qsd, 1);
    uint64_t size = opt->size ? opt->size : 64ull << 20;
    g_autoptr(GError) err = NULL;

    g_assert_nonnull(opt->vu_blk ? qsd_vu_blk_server() : qsd_binary());
    q->dir = g_dir_make_tmp("qsd-XXXXXX", &err);
    g_assert_no_error(err);
    q->sock = g_build_filename(q->dir, "vblk.sock", NULL);
    q->args = g_ptr_array_new_with_free_func(g_free);
    if (opt->file || opt->vu_blk) {
        q->image = g_build_filename(q->dir, "disk.raw", NULL);
        make_image(q->image, size);
    }
    if (opt->vu_blk) {
        vu_blk_args(q, opt);
    } else {
        qsd_args(q, opt, size);
    }
    spawn(q);
    return q;
}

static void reap(Qsd *q, int sig)
{
    int status;

    if (!q->pid) {
        return;
    }
    kill(q->pid, sig);
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(q->pid, &status, WNOHANG);

        if (r == q->pid || (r < 0 && errno == ECHILD)) {
            q->pid = 0;
            return;
        }
        g_usleep(10000);
    }
    kill(q->pid, SIGKILL);
    waitpid(q->pid, &status, 0);
    q->pid = 0;
}

void qsd_kill(Qsd *q)
{
    reap(q, SIGKILL);
}

void qsd_restart(Qsd *q)
{
    g_assert_cmpint(q->pid, ==, 0);
    g_unlink(q->sock); /* a killed daemon leaves its socket behind */
    spawn(q);
}

void qsd_free(Qsd *q)
{
    if (!q) {
        return;
    }
    reap(q, SIGTERM);
    if (q->image) {
        g_unlink(q->image);
    }
    g_unlink(q->sock);
    g_rmdir(q->dir);
    g_ptr_array_free(q->args, TRUE);
    g_free(q->image);
    g_free(q->sock);
    g_free(q->dir);
    g_free(q);
}

/*
 * tests/vhost-user/test-virtio-blk-ops.c - virtio-blk in this process,
 * driven by the C device API and by a front-end (frontend/fe-blk.h) on a
 * thread of its own while the main thread runs the main loop.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "frontend/fe-blk.h"
#include "qcontext/block/drive.h"
#include "qcontext/devices/device.h"
#include "qcontext/qcontext.h"
#include "../devices/device-test-util.h"
#include <glib/gstdio.h>

typedef struct {
    const char *sock;
    gboolean ok;
    int done;
} FrontJob;

/* The front-end: open (the rings start), write and read on both queues
 * (a null drive: reads give zeroes), close. */
static gpointer front_thread(gpointer opaque)
{
    FrontJob *j = opaque;
    FeBlkOptions o = {.socket_path = j->sock, .num_queues = 2, .timeout_ms = 5000};
    uint8_t w[4096], r[4096];
    GError *err = NULL;
    FeBlk *blk = fe_blk_open(&o, &err);

    if (blk) {
        memset(w, 0x5a, sizeof(w));
        memset(r, 0xa5, sizeof(r));
        j->ok = fe_blk_write(blk, 0, 8192, w, sizeof(w), &err) &&
                fe_blk_read(blk, 1, 8192, r, sizeof(r), &err) && r[0] == 0 &&
                r[sizeof(r) - 1] == 0;
        fe_blk_close(blk);
    }
    if (err) {
        g_test_message("front-end: %s", err->message);
        g_error_free(err);
    }
    g_atomic_int_set(&j->done, 1);
    return NULL;
}

/*
 * An operator's device_quiesce + device_resume before the front-end starts
 * its rings: the planes run already when the rings start, and each ring
 * still gets its kick handler (a start alone leaves a running plane be:
 * the requests were never seen).
 */
static void test_resume_before_start(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vblk-ops-XXXXXX", &err);
    g_autofree char *sock = g_build_filename(dir, "vb.sock", NULL);
    g_autofree char *spec = g_strdup_printf(
        "virtio-blk,id=vb-ops,drive=d-ops,socket=%s,context=io-ops,num-queues=2", sock);
    FrontJob job = {.sock = sock};
    OpResult del = {0};
    Device *dev;
    GThread *t;

    g_assert_no_error(err);
    dev = dt_new_device(spec);
    dt_sync_op(device_quiesce, dev);
    dt_sync_op(device_resume, dev);
    t = g_thread_new("front-end", front_thread, &job);
    while (!g_atomic_int_get(&job.done)) {
        dt_poll_main();
    }
    g_thread_join(t);
    g_assert_true(job.ok);
    g_assert_true(device_del(dev, 5000, dt_op_done, &del, NULL));
    dt_wait_ok(&del);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;

    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(&err));
    block_register_types();
    devices_register_types();
    dt_new_aio_context("io-ops");
    qom_object_new_from_string(QOM_CONTAINER_OBJECTS, DRIVE_TYPE,
                               "drive,id=d-ops,format=null,size=1M", &err);
    g_assert_no_error(err);
    g_test_add_func("/virtio-blk/ops/resume-before-start", test_resume_before_start);
    return g_test_run();
}

/*
 * tests/block/test-drive.c - the "drive" object and the aio-qcontext
 * tunables block I/O uses, in process: drives from option strings (raw and
 * null, every property, every error), qom-set refused on a drive, the
 * deletion veto through a test-only device that links to a drive, and
 * aio-max-batch / thread-pool-min / thread-pool-max set at creation and
 * live with qom-set while a drive is used from the context's thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>

#include "qcontext/aio-qcontext.h"
#include "qcontext/block/drive.h"
#include "qcontext/devices/device.h"
#include "block-test-util.h"

#define WAIT_LIMIT_US (20 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------------ */
/* "test-blkdev": a device with a drive link and nothing else                */
/* ------------------------------------------------------------------------ */

#define TEST_BLKDEV_TYPE (test_blkdev_get_type())
G_DECLARE_FINAL_TYPE(TestBlkdev, test_blkdev, TEST, BLKDEV, Device)

struct _TestBlkdev {
    Device parent;
    Drive *drive;
};

G_DEFINE_FINAL_TYPE(TestBlkdev, test_blkdev, DEVICE_TYPE)

enum { PROP_0, PROP_DRIVE };

static void test_blkdev_set_property(GObject *obj, guint id, const GValue *value,
                                     GParamSpec *pspec)
{
    TestBlkdev *self = TEST_BLKDEV(obj);

    g_assert_cmpuint(id, ==, PROP_DRIVE);
    g_clear_object(&self->drive);
    self->drive = g_value_dup_object(value);
}

static void test_blkdev_get_property(GObject *obj, guint id, GValue *value,
                                     GParamSpec *pspec)
{
    g_assert_cmpuint(id, ==, PROP_DRIVE);
    g_value_set_object(value, TEST_BLKDEV(obj)->drive);
}

static void test_blkdev_dispose(GObject *obj)
{
    g_clear_object(&TEST_BLKDEV(obj)->drive);
    G_OBJECT_CLASS(test_blkdev_parent_class)->dispose(obj);
}

static void test_blkdev_init(TestBlkdev *self)
{
}

static void test_blkdev_class_init(TestBlkdevClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->set_property = test_blkdev_set_property;
    oc->get_property = test_blkdev_get_property;
    oc->dispose = test_blkdev_dispose;
    g_object_class_install_property(
        oc, PROP_DRIVE,
        g_param_spec_object("drive", "drive", "The drive", DRIVE_TYPE,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                G_PARAM_STATIC_STRINGS));
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

static QomObject *new_object(const char *spec, GError **errp)
{
    return qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QOM_TYPE_OBJECT, spec,
                                      errp);
}

static Drive *new_drive(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static Drive *new_drive(const char *fmt, ...)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = NULL;
    va_list ap;
    QomObject *obj;

    va_start(ap, fmt);
    spec = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    obj = new_object(spec, &err);
    g_assert_no_error(err);
    g_assert_true(BLOCK_IS_DRIVE(obj));
    return BLOCK_DRIVE(obj);
}

/* Creating @spec fails with a message containing @needle. */
static void assert_create_fails(const char *spec, const char *needle)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(new_object(spec, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, needle)) {
        g_error("'%s': '%s' does not contain '%s'", spec, err->message, needle);
    }
    g_assert_null(strchr(err->message, '\n'));
}

static void del_object(const char *id)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, id, &err));
    g_assert_no_error(err);
}

static char *prop_string(QomObject *obj, const char *name)
{
    g_autoptr(GError) err = NULL;
    char *s = qom_property_to_string(obj, name, &err);

    g_assert_no_error(err);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Drives                                                                     */
/* ------------------------------------------------------------------------ */

static void test_create(void)
{
    g_autofree char *path = NULL;
    g_autofree char *s = NULL;
    BlockInfo info;
    Drive *d;
    int fd;

    if (!test_dir) {
        g_test_skip("no disk-backed temporary directory (only tmpfs)");
        return;
    }
    path = make_file("create", 1024 * 1024);
    d = new_drive("drive,id=d0,file=%s,aio=native,cache=none,discard=unmap", path);
    blk_get_info(drive_get_blk(d), &info);
    g_assert_cmpuint(info.size, ==, 1024 * 1024);
    g_assert_true(info.direct);
    g_assert_true(info.discard_unmap);
    g_assert_false(info.read_only);
    g_assert_cmpint(blk_get_aio_mode(drive_get_blk(d)), ==, BLOCK_AIO_NATIVE);
    g_assert_cmpstr(blk_get_filename(drive_get_blk(d)), ==, path);
    s = prop_string(QOM_OBJECT(d), "aio");
    g_assert_cmpstr(s, ==, "native");
    g_clear_pointer(&s, g_free);
    s = prop_string(QOM_OBJECT(d), "size");
    g_assert_cmpstr(s, ==, "1048576");
    g_assert_cmpint(count_fds_of(path, &fd), ==, 1);
    {
        g_autoptr(GError) err = NULL;
        Drive *found = drive_find("d0", &err);
        g_assert_no_error(err);
        g_assert_true(found == d);
        g_object_unref(found);
        g_assert_null(drive_find("nope", &err));
        g_assert_nonnull(strstr(err->message, "no drive 'nope'"));
    }
    /* Options are fixed once the drive exists. */
    {
        g_autoptr(GError) err = NULL;
        g_assert_false(
            qom_object_set_property_str(QOM_OBJECT(d), "readonly", "on", &err));
        g_assert_nonnull(strstr(err->message, "cannot be changed after creation"));
    }
    del_object("d0");
    g_assert_cmpint(count_fds_of(path, &fd), ==, 0);

    d = new_drive("drive,id=n0,format=null,size=64M,latency-ns=1000,readonly=on");
    blk_get_info(drive_get_blk(d), &info);
    g_assert_cmpuint(info.size, ==, 64 * 1024 * 1024);
    g_assert_true(info.read_only);
    g_assert_null(blk_get_filename(drive_get_blk(d)));
    del_object("n0");
    unlink(path);
}

static void test_create_errors(void)
{
    g_autofree char *path = NULL;
    g_autofree char *spec = NULL;

    assert_create_fails("drive,id=e0", "parameter 'file' is missing");
    assert_create_fails("drive,id=e0,file=/nonexistent/x.img",
                        "Could not open '/nonexistent/x.img'");
    assert_create_fails("drive,id=e0,file=/dev/null,format=qcow2",
                        "property 'format' expects one of null, raw");
    assert_create_fails("drive,id=e0,file=/dev/null,aio=posix",
                        "property 'aio' expects one of io_uring, native, threads");
    assert_create_fails("drive,id=e0,file=/dev/null,cache=directsync",
                        "property 'cache' expects one of none, writeback");
    assert_create_fails("drive,id=e0,file=/dev/null,discard=on",
                        "property 'discard' expects one of ignore, unmap");
    assert_create_fails("drive,id=e0,file=/dev/null,size=1M", "'size' is only valid");
    assert_create_fails("drive,id=e0,file=/dev/null,latency-ns=5",
                        "'latency-ns' is only valid");
    assert_create_fails("drive,id=e0,format=null", "parameter 'size' is missing");
    assert_create_fails("drive,id=e0,format=null,size=0", "size of a null drive");
    assert_create_fails("drive,id=e0,format=null,size=1M,file=/dev/null",
                        "format=null takes no 'file'");
    assert_create_fails("drive,id=e0,format=null,size=1M,latency-ns=-1",
                        "property 'latency-ns' expects");
    assert_create_fails("drive,id=e0,format=null,size=1M,bogus=1",
                        "unknown property 'bogus'");
    assert_create_fails("drive,file=/dev/null", "parameter 'id' is missing");
    /* /dev/null is a character device: neither a file nor a block device. */
    assert_create_fails("drive,id=e0,file=/dev/null", "neither a regular file");
    if (!test_dir) {
        return;
    }
    path = make_file("not-writable", 4096);
    if (make_not_writable(path)) {
        spec = g_strdup_printf("drive,id=e0,file=%s", path);
        assert_create_fails(spec, "(use readonly=on)");
        g_free(spec);
        spec = g_strdup_printf("drive,id=e0,file=%s,readonly=on", path);
        new_drive("%s", spec);
        del_object("e0");
        make_writable(path);
    }
    unlink(path);
    /* Nothing was left behind by the failures. */
    g_assert_null(qom_container_find(QOM_CONTAINER_OBJECTS, "e0"));
}

static void test_help(void)
{
    g_autofree char *text = drive_help();

    g_assert_true(g_str_has_prefix(text, "drive options:"));
    for (const char *p[] = {"aio=", "cache=", "discard=", "file=", "format=",
                            "latency-ns=", "readonly=", "size="},
                    **q = p;
         q < p + 8; q++) {
        g_assert_nonnull(strstr(text, *q));
    }
}

/* Device deletion is asynchronous: run main until every device is gone. */
static void wait_devices_gone(void)
{
    GList *live;

    while ((live = devices_get_live())) {
        g_list_free_full(live, g_object_unref);
        qcontext_iterate(qcontext_get_main(), FALSE);
        g_usleep(1000);
    }
}

/* A device links to the drive: the drive cannot go until the device did. */
static void test_del_veto(void)
{
    g_autoptr(GError) err = NULL;
    Drive *d = new_drive("drive,id=vd0,format=null,size=1M");
    QomObject *dev;

    dev = qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE,
                                     "test-blkdev,id=vdev0,drive=vd0", &err);
    g_assert_no_error(err);
    g_assert_true(TEST_BLKDEV(dev)->drive == d);
    g_assert_false(qom_container_del(QOM_CONTAINER_OBJECTS, "vd0", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_assert_nonnull(strstr(err->message, "'vd0' is in use by device 'vdev0'"));
    g_clear_error(&err);
    g_assert_true(qom_container_find(QOM_CONTAINER_OBJECTS, "vd0") == (gpointer)d);
    g_object_unref(d);

    g_assert_true(qom_container_del(QOM_CONTAINER_DEVICES, "vdev0", &err));
    g_assert_no_error(err);
    /* Deletion is asynchronous: the drive stays in use until the device is gone. */
    g_assert_false(qom_container_del(QOM_CONTAINER_OBJECTS, "vd0", &err));
    g_clear_error(&err);
    wait_devices_gone();
    del_object("vd0");

    /* A link to something that is not a drive is refused. */
    g_assert_nonnull(new_object("glib-qcontext,id=notadrive", &err));
    g_assert_no_error(err);
    g_assert_null(qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE,
                                             "test-blkdev,id=vdev1,drive=notadrive",
                                             &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    del_object("notadrive");
}

/* ------------------------------------------------------------------------ */
/* aio-qcontext: aio-max-batch, thread-pool-min/max                           */
/* ------------------------------------------------------------------------ */

/* Run @fn(@opaque) on @ctx's thread and wait until it says it is done. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    void (*fn)(void *opaque);
    void *opaque;
} OnThread;

static void on_thread_bh(void *opaque)
{
    OnThread *t = opaque;

    t->fn(t->opaque);
}

static void on_thread_finish(OnThread *t)
{
    pthread_mutex_lock(&t->lock);
    t->done = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

static void run_on(QContext *ctx, void (*fn)(void *), void *opaque, OnThread *t)
{
    *t = (OnThread){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, fn,
                    opaque};
    aio_bh_schedule_oneshot(qcontext_get_aio_context(ctx), on_thread_bh, t);
    pthread_mutex_lock(&t->lock);
    while (!t->done) {
        pthread_cond_wait(&t->cond, &t->lock);
    }
    pthread_mutex_unlock(&t->lock);
}

/* A plugged batch of @n writes on the context's thread. */
typedef struct {
    OnThread *t;
    BlockBackend *blk;
    void *buf;
    int n, completed, errors, max_pool_threads;
    uint64_t submits; /* kernel submissions the batch took before completing */
} Batch;

static void batch_cb(void *opaque, int ret)
{
    Batch *b = opaque;
    AioContext *ctx = qemu_get_current_aio_context();
    ThreadPool *pool = aio_get_thread_pool(ctx);

    b->max_pool_threads = MAX(b->max_pool_threads, thread_pool_get_thread_count(pool));
    b->errors += ret != 0;
    if (++b->completed == b->n) {
        on_thread_finish(b->t);
    }
}

static void batch_fn(void *opaque)
{
    Batch *b = opaque;
    AioContext *ctx = qemu_get_current_aio_context();
    BlockStats before, after;

    blk_get_stats(b->blk, &before);
    blk_io_plug(b->blk, ctx);
    for (int i = 0; i < b->n; i++) {
        struct iovec iov = {(char *)b->buf + i * 4096, 4096};
        blk_aio_pwritev(b->blk, ctx, i * 4096, &iov, 1, batch_cb, b);
    }
    blk_io_unplug(b->blk, ctx);
    blk_get_stats(b->blk, &after);
    b->submits = after.kernel_submits - before.kernel_submits;
}

static Batch run_batch(QContext *ctx, BlockBackend *blk, void *buf, int n)
{
    OnThread t;
    Batch b = {.t = &t, .blk = blk, .buf = buf, .n = n};

    run_on(ctx, batch_fn, &b, &t);
    g_assert_cmpint(b.errors, ==, 0);
    return b;
}

static void qom_set(QomObject *obj, const char *name, const char *value)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(qom_object_set_property_str(obj, name, value, &err));
    g_assert_no_error(err);
}

static int pool_threads(QContext *ctx)
{
    return thread_pool_get_thread_count(
        aio_get_thread_pool(qcontext_get_aio_context(ctx)));
}

static void wait_pool_threads_at_most(QContext *ctx, int max)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

    while (pool_threads(ctx) > max) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
}

static void test_tunables(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree char *s = NULL;
    QomObject *io0;
    QContext *ctx;
    Drive *d;
    void *buf;
    Batch b;

    if (!test_dir) {
        g_test_skip("no disk-backed temporary directory (only tmpfs)");
        return;
    }
    assert_create_fails("aio-qcontext,id=bad,thread-pool-min=8,thread-pool-max=2",
                        "thread-pool-min (8) must not be above thread-pool-max (2)");
    assert_create_fails("aio-qcontext,id=bad,aio-max-batch=-1",
                        "property 'aio-max-batch' expects");
    assert_create_fails("aio-qcontext,id=bad,thread-pool-max=0",
                        "property 'thread-pool-max' expects");
    io0 = new_object("aio-qcontext,id=io0,threaded=yes,aio-max-batch=4,"
                     "thread-pool-min=2,thread-pool-max=8",
                     &err);
    g_assert_no_error(err);
    ctx = QCONTEXT_CONTEXT(io0);
    g_assert_cmpint(aio_context_get_aio_max_batch(qcontext_get_aio_context(ctx)), ==,
                    4);
    g_assert_cmpint(pool_threads(ctx), ==, 2); /* started at once */

    path = make_file("tunables", 1024 * 1024);
    d = new_drive("drive,id=td0,file=%s,aio=io_uring,cache=none", path);
    buf = blk_blockalign(drive_get_blk(d), 16 * 4096);
    memset(buf, 0x3c, 16 * 4096);

    /* 16 plugged writes in batches of aio-max-batch=4, then 8, then no bound. */
    b = run_batch(ctx, drive_get_blk(d), buf, 16);
    g_assert_cmpuint(b.submits, ==, 4);
    qom_set(io0, "aio-max-batch", "8");
    s = prop_string(io0, "aio-max-batch");
    g_assert_cmpstr(s, ==, "8");
    b = run_batch(ctx, drive_get_blk(d), buf, 16);
    g_assert_cmpuint(b.submits, ==, 2);
    qom_set(io0, "aio-max-batch", "0");
    b = run_batch(ctx, drive_get_blk(d), buf, 16);
    g_assert_cmpuint(b.submits, ==, 1);
    del_object("td0");

    /* The pool limits, live; min <= max is enforced. */
    qom_set(io0, "thread-pool-min", "4");
    g_assert_cmpint(pool_threads(ctx), ==, 4);
    g_assert_false(qom_object_set_property_str(io0, "thread-pool-max", "3", &err));
    g_assert_nonnull(strstr(err->message, "thread-pool-min (4) must not be above"));
    g_clear_error(&err);
    g_clear_pointer(&s, g_free);
    s = prop_string(io0, "thread-pool-max");
    g_assert_cmpstr(s, ==, "8");
    qom_set(io0, "thread-pool-min", "0");
    qom_set(io0, "thread-pool-max", "1");
    wait_pool_threads_at_most(ctx, 1);

    /* aio=threads on a pool of one: never more than one worker. */
    d = new_drive("drive,id=td1,file=%s,aio=threads", path);
    b = run_batch(ctx, drive_get_blk(d), buf, 16);
    g_assert_cmpint(b.max_pool_threads, ==, 1);
    qom_set(io0, "thread-pool-max", "3");
    b = run_batch(ctx, drive_get_blk(d), buf, 16);
    g_assert_cmpint(b.max_pool_threads, <=, 3);
    g_assert_cmpint(b.max_pool_threads, >=, 1);
    del_object("td1");
    free(buf);
    del_object("io0");
    unlink(path);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qcontext_register_types();
    block_register_types();
    devices_register_types();
    qom_type_register("test-blkdev", TEST_BLKDEV_TYPE);
    g_assert_true(qcontext_init_main(NULL)); /* this thread is main's */
    test_dir = make_test_dir();

    g_test_add_func("/drive/create", test_create);
    g_test_add_func("/drive/create-errors", test_create_errors);
    g_test_add_func("/drive/help", test_help);
    g_test_add_func("/drive/del-veto", test_del_veto);
    g_test_add_func("/drive/aio-qcontext-tunables", test_tunables);
    ret = g_test_run();

    qom_container_del_all(QOM_CONTAINER_DEVICES);
    qom_container_del_all(QOM_CONTAINER_OBJECTS);
    if (test_dir) {
        g_assert_cmpint(rmdir(test_dir), ==, 0);
        g_free(test_dir);
    }
    return ret;
}

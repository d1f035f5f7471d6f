/*
 * tests/main-loop/test-main-loop.c - the main loop in-process: iohandlers
 * (not run by a nested aio_poll of the main AioContext), shutdown requests
 * from other threads, the device shutdown sequence, pidfile locking, -name.
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "qcontext/devices/device.h"
#include "qcontext/main-loop/main-loop.h"

static int fd_reads;
static int notifier_reads;

static void pipe_read(void *opaque)
{
    int fd = GPOINTER_TO_INT(opaque);
    char c;

    g_assert_cmpint(read(fd, &c, 1), ==, 1);
    fd_reads++;
}

static void notifier_read(EventNotifier *e)
{
    g_assert_true(event_notifier_test_and_clear(e));
    notifier_reads++;
}

/* iohandlers run from the main loop, never from aio_poll(main AioContext). */
static void test_iohandler_not_nested(void)
{
    EventNotifier en;
    int fds[2];

    g_assert_cmpint(pipe2(fds, O_CLOEXEC | O_NONBLOCK), ==, 0);
    g_assert_cmpint(event_notifier_init(&en, 0), ==, 0);
    qemu_set_fd_handler(fds[0], pipe_read, NULL, GINT_TO_POINTER(fds[0]));
    event_notifier_set_handler(&en, notifier_read);
    g_assert_true(iohandler_get_aio_context() != qemu_get_aio_context());

    g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
    event_notifier_set(&en);
    for (int i = 0; i < 5; i++) {
        aio_poll(qemu_get_aio_context(), false);
    }
    g_assert_cmpint(fd_reads, ==, 0);
    g_assert_cmpint(notifier_reads, ==, 0);
    while (fd_reads == 0 || notifier_reads == 0) {
        main_loop_wait(false);
    }
    g_assert_cmpint(fd_reads, ==, 1);
    g_assert_cmpint(notifier_reads, ==, 1);

    qemu_set_fd_handler(fds[0], NULL, NULL, NULL);
    event_notifier_set_handler(&en, NULL);
    g_assert_cmpint(write(fds[1], "y", 1), ==, 1);
    main_loop_wait(true);
    g_assert_cmpint(fd_reads, ==, 1);
    close(fds[0]);
    close(fds[1]);
    event_notifier_cleanup(&en);
}

static void bh_count(void *opaque)
{
    (*(int *)opaque)++;
}

/* A BH scheduled on the main AioContext from another thread wakes the loop. */
static void *schedule_from_thread(void *opaque)
{
    aio_bh_schedule_oneshot(qemu_get_aio_context(), bh_count, opaque);
    return NULL;
}

static void test_main_aio_bh(void)
{
    pthread_t thread;
    int ran = 0;

    pthread_create(&thread, NULL, schedule_from_thread, &ran);
    while (!ran) {
        main_loop_wait(false);
    }
    pthread_join(thread, NULL);
    g_assert_cmpint(ran, ==, 1);
}

/* ------------------------------------------------------------------------ */
/* Device shutdown                                                           */
/* ------------------------------------------------------------------------ */

static Device *new_ticker(const char *spec)
{
    g_autoptr(GError) err = NULL;
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE, spec, &err);

    g_assert_no_error(err);
    return DEVICE(g_object_ref(obj));
}

static void wait_started(Device *dev, guint64 n)
{
    DeviceStats st;

    /* The device may run on another thread: nothing wakes us, so poll. */
    for (;;) {
        main_loop_wait(true);
        device_get_stats(dev, &st);
        if (st.started >= n) {
            break;
        }
        g_usleep(1000);
    }
}

/* Deletion is asynchronous: run the main loop until @dev is gone. */
static void wait_deleted(Device *dev)
{
    while (device_is_realized(dev)) {
        main_loop_wait(true);
    }
}

static void ensure_ctx0(void)
{
    g_autoptr(GError) err = NULL;

    if (!qcontext_find_by_name("ctx0")) {
        qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE,
                                   "glib-qcontext,id=ctx0,threaded=yes", &err);
        g_assert_no_error(err);
    }
}

/*
 * "test-drive": a device with a flush hook, standing in for a writable
 * drive.  The flush records that it ran on the device's context thread with
 * no request in flight.
 */
typedef struct {
    Device parent;
    int flushes;           /* atomic */
    int flushed_in_home;   /* atomic */
    int flushed_in_flight; /* atomic: requests in flight at the flush */
} TestDrive;

typedef struct {
    DeviceClass parent_class;
} TestDriveClass;

static GType test_drive_get_type(void);
G_DEFINE_TYPE(TestDrive, test_drive, DEVICE_TYPE)

static void test_drive_flush(Device *dev, DeviceDoneFunc done, gpointer opaque)
{
    TestDrive *d = (TestDrive *)dev;
    AioContext *aio = device_get_aio_context(dev);

    __atomic_store_n(&d->flushed_in_home, aio && in_aio_context_home_thread(aio),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&d->flushed_in_flight, (int)device_get_in_flight(dev),
                     __ATOMIC_RELAXED);
    __atomic_fetch_add(&d->flushes, 1, __ATOMIC_RELAXED);
    done(dev, NULL, opaque);
}

static void test_drive_class_init(TestDriveClass *klass)
{
    QDEV_DEVICE_CLASS(klass)->flush = test_drive_flush;
}

static void test_drive_init(TestDrive *d)
{
}

/* Every request in flight completes before the devices are quiesced. */
static void test_shutdown_drain(void)
{
    Device *a, *b;
    DeviceStats st;
    g_autoptr(GError) err = NULL;

    ensure_ctx0();
    a = new_ticker("ticker,id=ta,context=ctx0,interval-us=200,latency-us=20000");
    b = new_ticker("ticker,id=tb,interval-us=300,latency-us=5000");
    TestDrive *drive = (TestDrive *)new_ticker("test-drive,id=drv,context=ctx0");

    wait_started(a, 20);
    wait_started(b, 5);
    g_assert_cmpint(drive->flushes, ==, 0);
    g_assert_cmpuint(main_loop_shutdown_devices(10000), ==, 0);
    /* Drained devices are flushed, once each, on their context's thread. */
    g_assert_cmpint(__atomic_load_n(&drive->flushes, __ATOMIC_RELAXED), ==, 1);
    g_assert_true(__atomic_load_n(&drive->flushed_in_home, __ATOMIC_RELAXED));
    g_assert_cmpint(__atomic_load_n(&drive->flushed_in_flight, __ATOMIC_RELAXED), ==,
                    0);
    g_assert_true(qom_container_del(QOM_CONTAINER_DEVICES, "drv", &err));
    g_assert_no_error(err);
    wait_deleted(DEVICE(drive));
    g_object_unref(drive);
    for (Device **d = (Device *[]){a, b, NULL}; *d; d++) {
        device_get_stats(*d, &st);
        g_assert_cmpint(device_get_state(*d), ==, DEVICE_STATE_QUIESCED);
        g_assert_cmpuint(st.in_flight, ==, 0);
        g_assert_cmpuint(st.completed, ==, st.started);
        g_assert_true(
            qom_container_del(QOM_CONTAINER_DEVICES, device_get_id(*d), &err));
        g_assert_no_error(err);
        wait_deleted(*d);
        g_object_unref(*d);
    }
}

/* The drain is bounded; the rest fails when the device is unrealized. */
static void test_shutdown_timeout(void)
{
    Device *dev;
    DeviceStats st;
    g_autoptr(GError) err = NULL;

    ensure_ctx0();
    dev =
        new_ticker("ticker,id=tslow,context=ctx0,interval-us=500,latency-us=60000000");
    wait_started(dev, 3);
    g_assert_cmpuint(main_loop_shutdown_devices(50), ==, 1);
    g_assert_cmpint(device_get_state(dev), ==, DEVICE_STATE_QUIESCING);
    g_assert_true(qom_container_del(QOM_CONTAINER_DEVICES, "tslow", &err));
    g_assert_no_error(err);
    wait_deleted(dev);
    device_get_stats(dev, &st);
    g_assert_cmpuint(st.in_flight, ==, 0);
    g_assert_cmpuint(st.completed, ==, 0);
    g_assert_cmpuint(st.failed, ==, st.started);
    g_assert_cmpuint(st.started, >=, 3);
    g_object_unref(dev);
}

/* ------------------------------------------------------------------------ */
/* Shutdown requests (in a subprocess: a request cannot be taken back)       */
/* ------------------------------------------------------------------------ */

static ShutdownCause notified_cause;

static void on_shutdown(ShutdownCause cause, gpointer opaque)
{
    notified_cause = cause;
    (*(int *)opaque)++;
}

static void *request_from_thread(void *opaque)
{
    g_usleep(10 * 1000);
    main_loop_request_shutdown(SHUTDOWN_CAUSE_HOST_QMP_QUIT);
    main_loop_request_shutdown(SHUTDOWN_CAUSE_HOST_SIGNAL); /* ignored */
    return NULL;
}

static void test_shutdown_request(void)
{
    pthread_t thread;
    int calls = 0;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        return;
    }
    g_assert_cmpint(main_loop_shutdown_requested(), ==, SHUTDOWN_CAUSE_NONE);
    main_loop_add_shutdown_notifier(on_shutdown, &calls);
    pthread_create(&thread, NULL, request_from_thread, NULL);
    g_assert_cmpint(qemu_main_loop(), ==, 0);
    pthread_join(thread, NULL);
    g_assert_cmpint(calls, ==, 1);
    g_assert_cmpint(notified_cause, ==, SHUTDOWN_CAUSE_HOST_QMP_QUIT);
    g_assert_cmpint(main_loop_shutdown_requested(), ==, SHUTDOWN_CAUSE_HOST_QMP_QUIT);
    g_assert_cmpstr(shutdown_cause_str(SHUTDOWN_CAUSE_HOST_SIGNAL), ==, "host-signal");
    main_loop_cleanup();
}

/* ------------------------------------------------------------------------ */
/* Pidfile and name                                                          */
/* ------------------------------------------------------------------------ */

static char *pidfile_path_for(pid_t owner)
{
    return g_strdup_printf("%s/test-main-loop-%d.pid", g_get_tmp_dir(), (int)owner);
}

static void test_pidfile(void)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    if (g_test_subprocess()) {
        /* Another process: it sees the lock and leaves the file alone. */
        g_autofree char *want =
            g_strdup_printf("is in use by a running process (pid %d)", (int)getppid());
        path = pidfile_path_for(getppid());
        g_assert_false(os_pidfile_create(path, &err));
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err->message, want));
        return;
    }
    /* A stale file (no lock) is taken over. */
    path = pidfile_path_for(getpid());
    g_assert_true(g_file_set_contents(path, "99999999\n", -1, NULL));
    g_assert_true(os_pidfile_create(path, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpint(g_ascii_strtoll(text, NULL, 10), ==, getpid());

    g_test_trap_subprocess(NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_clear_pointer(&text, g_free);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpint(g_ascii_strtoll(text, NULL, 10), ==, getpid());

    os_pidfile_remove();
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    os_pidfile_remove(); /* idempotent */
}

static void test_name(void)
{
    g_autofree char *path =
        g_strdup_printf("/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
    g_autofree char *comm = NULL;

    main_loop_set_name("a-rather-long-daemon-name");
    g_assert_cmpstr(main_loop_get_name(), ==, "a-rather-long-daemon-name");
    g_assert_true(g_file_get_contents(path, &comm, NULL, NULL));
    g_assert_cmpstr(g_strstrip(comm), ==, "a-rather-long-d");
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;

    g_test_init(&argc, &argv, NULL);
    g_assert_true(qemu_init_main_loop(&err));
    devices_register_types();
    qom_type_register("test-drive", test_drive_get_type());
    g_test_add_func("/main-loop/iohandler/not-nested", test_iohandler_not_nested);
    g_test_add_func("/main-loop/main-aio-bh", test_main_aio_bh);
    g_test_add_func("/main-loop/shutdown/drain", test_shutdown_drain);
    g_test_add_func("/main-loop/shutdown/timeout", test_shutdown_timeout);
    g_test_add_func("/main-loop/shutdown/request", test_shutdown_request);
    g_test_add_func("/main-loop/pidfile", test_pidfile);
    g_test_add_func("/main-loop/name", test_name);
    int ret = g_test_run();
    main_loop_cleanup();
    iohandler_cleanup();
    return ret;
}

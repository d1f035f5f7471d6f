/*
 * tests/vhost-user/test-virtio-blk-qmp.c - qcontextd's -device virtio-blk,
 * driven by the vhost-user front-end of qcontext-bench (frontend/fe-blk.h,
 * a guest's virtio-blk driver) and by QMP: data on two queues on two contexts lands in
 * the drive's file, FLUSH, GET_ID, DISCARD/WRITE_ZEROES, out-of-range, a read-only
 * drive; device-set-context of queues and of the whole device while I/O runs (nothing
 * lost, doubled or failed); device_add / device_del; bad options.
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <pthread.h>
#include <linux/virtio_blk.h>

#include "../main-loop/test-monitor-util.h"
#include "frontend/fe-blk.h"

#define DISK_SIZE (32u << 20)

static char *dir;

static char *path_in(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static void make_disk(const char *name, size_t size)
{
    g_autofree char *p = path_in(name);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, (off_t)size), ==, 0);
    close(fd);
}

static void read_file(const char *name, uint64_t off, void *buf, size_t len)
{
    g_autofree char *p = path_in(name);
    int fd = open(p, O_RDONLY);

    g_assert_cmpint(pread(fd, buf, len, (off_t)off), ==, (ssize_t)len);
    close(fd);
}

/* qcontextd with three threaded contexts, drive d0 (rw, discard=unmap) and
 * d1 (read-only), and the extra arguments. */
static TestDaemon *start_daemon(const char *first, ...)
{
    g_autofree char *d0 = NULL, *d1 = NULL;
    g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
    va_list ap;

    make_disk("disk0.raw", DISK_SIZE);
    make_disk("disk1.raw", 1 << 20);
    d0 = g_strdup_printf("file=%s/disk0.raw,id=d0,format=raw,aio=threads,discard=unmap",
                         dir);
    d1 = g_strdup_printf("file=%s/disk1.raw,id=d1,format=raw,readonly=on", dir);
    for (int i = 0; i < 3; i++) {
        g_ptr_array_add(args, g_strdup("-object"));
        g_ptr_array_add(args, g_strdup_printf("aio-qcontext,id=io%d,threaded=yes", i));
    }
    g_ptr_array_add(args, g_strdup("-drive"));
    g_ptr_array_add(args, g_strdup(d0));
    g_ptr_array_add(args, g_strdup("-drive"));
    g_ptr_array_add(args, g_strdup(d1));
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        g_ptr_array_add(args, g_strdup(a));
    }
    va_end(ap);
    g_ptr_array_add(args, NULL);
    return td_start_argv((const char *const *)args->pdata);
}

static char *dev_opts(const char *id, const char *drive, const char *extra)
{
    return g_strdup_printf("virtio-blk,id=%s,drive=%s,socket=%s/%s.sock%s", id, drive,
                           dir, id, extra);
}

static void assert_ok(JsonObject *reply)
{
    tq_return(reply);
    json_object_unref(reply);
}

/* The front-end on @sock with @nq queues; @unchecked: it sends what the
 * spec forbids (past capacity, writes to a read-only disk). */
static FeBlk *open_blk(const char *sock, unsigned nq, gboolean unchecked)
{
    FeBlkOptions o = {.socket_path = sock,
                      .num_queues = nq,
                      .unchecked = unchecked,
                      .queue_size = 64};
    GError *err = NULL;
    FeBlk *blk = fe_blk_open(&o, &err);

    g_assert_no_error(err);
    return blk;
}

/* Run one request, return its status. */
static int exec_status(FeBlk *blk, unsigned q, uint32_t type, uint64_t sector,
                       const void *in, void *out, uint32_t len)
{
    GError *err = NULL;
    uint8_t status = 0xee;

    g_assert_true(fe_blk_exec(blk, q, type, sector, in, out, len, &status, &err));
    g_assert_no_error(err);
    return status;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(seed * 131 + i * 7 + 3);
    }
}

/* The "queues" of device @id in query-devices, and each one's context. */
static void assert_queue_contexts(TestQmp *q, const char *id, const char *c0,
                                  const char *c1)
{
    JsonObject *r = tq_cmd(q, "{\"execute\": \"query-devices\"}");
    JsonObject *dev = tq_find_id(json_node_get_array(tq_return(r)), id);
    JsonArray *queues = json_object_get_array_member(dev, "queues");

    g_assert_cmpuint(json_array_get_length(queues), ==, 2);
    g_assert_cmpstr(json_object_get_string_member(
                        json_array_get_object_element(queues, 0), "context"),
                    ==, c0);
    g_assert_cmpstr(json_object_get_string_member(
                        json_array_get_object_element(queues, 1), "context"),
                    ==, c1);
    json_object_unref(r);
}

static void test_io(void)
{
    g_autofree char *opts = dev_opts("vb0", "d0",
                                     ",context=io0,num-queues=2,"
                                     "queue-contexts=io0:io1,serial=vb0-serial");
    g_autofree char *sock = path_in("vb0.sock");
    TestDaemon *d = start_daemon("-device", opts, NULL);
    TestQmp *q = tq_connect(d->sock);
    uint8_t w[8192], r[8192], zero[4096] = {0};
    char id[VIRTIO_BLK_ID_BYTES + 1] = {0};
    GError *err = NULL;
    struct stat st;
    FeBlk *blk;

    g_assert_cmpint(stat(sock, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
    blk = open_blk(sock, 2, TRUE);
    g_assert_false(fe_blk_has_feature(blk, VIRTIO_BLK_F_RO));
    g_assert_cmpuint(fe_blk_capacity(blk), ==, DISK_SIZE);
    g_assert_cmpuint(fe_blk_config(blk)->num_queues, ==, 2);
    /* Written on queue 0 (io0), read back on queue 1 (io1), in the file. */
    pattern(w, sizeof(w), 1);
    g_assert_true(fe_blk_write(blk, 0, 64 * 512, w, sizeof(w), &err));
    g_assert_true(fe_blk_read(blk, 1, 64 * 512, r, sizeof(r), &err));
    g_assert_no_error(err);
    g_assert_cmpmem(r, sizeof(r), w, sizeof(w));
    g_assert_true(fe_blk_flush(blk, 1, &err));
    read_file("disk0.raw", 64 * 512, r, sizeof(r));
    g_assert_cmpmem(r, sizeof(r), w, sizeof(w));
    g_assert_true(fe_blk_get_id(blk, 0, id, &err));
    g_assert_cmpstr(id, ==, "vb0-serial");
    /* DISCARD and WRITE_ZEROES zero the range in the file. */
    g_assert_true(fe_blk_discard(blk, 0, 64 * 512, 4096, &err));
    g_assert_true(fe_blk_write_zeroes(blk, 1, 72 * 512, 4096, FALSE, &err));
    g_assert_no_error(err);
    read_file("disk0.raw", 64 * 512, r, sizeof(r));
    g_assert_cmpmem(r, 4096, zero, 4096);
    g_assert_cmpmem(r + 4096, 4096, zero, 4096);
    /* Past the end: IOERR, the file is not touched. */
    g_assert_cmpint(
        exec_status(blk, 1, VIRTIO_BLK_T_OUT, DISK_SIZE / 512, w, NULL, 512), ==,
        VIRTIO_BLK_S_IOERR);
    g_assert_cmpint(
        exec_status(blk, 0, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, NULL, r, 1024), ==,
        VIRTIO_BLK_S_IOERR);
    assert_queue_contexts(q, "vb0", "io0", "io1");
    fe_blk_close(blk);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
    g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS)); /* unlinked */
}

static void test_readonly(void)
{
    g_autofree char *opts = dev_opts("vb1", "d1", "");
    g_autofree char *sock = path_in("vb1.sock");
    TestDaemon *d = start_daemon("-device", opts, NULL);
    uint8_t w[512], r[512] = {0}, zero[512] = {0};
    GError *err = NULL;
    FeBlk *blk = open_blk(sock, 1, TRUE);

    g_assert_true(fe_blk_has_feature(blk, VIRTIO_BLK_F_RO));
    memset(w, 0x77, sizeof(w));
    g_assert_cmpint(exec_status(blk, 0, VIRTIO_BLK_T_OUT, 0, w, NULL, sizeof(w)), ==,
                    VIRTIO_BLK_S_IOERR);
    g_assert_true(fe_blk_read(blk, 0, 0, r, sizeof(r), &err));
    g_assert_no_error(err);
    read_file("disk1.raw", 0, r, sizeof(r));
    g_assert_cmpmem(r, sizeof(r), zero, sizeof(zero));
    fe_blk_close(blk);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Moves while I/O runs                                                      */
/* ------------------------------------------------------------------------ */

typedef struct IoLoad {
    FeBlk *blk;
    int stop;
    unsigned rounds;
} IoLoad;

/* Both queues: 64 KiB written on one queue, read back on the other. */
static void *io_thread(void *opaque)
{
    IoLoad *l = opaque;
    static uint8_t w[2][65536], r[65536];
    GError *err = NULL;

    while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
        unsigned round = l->rounds;

        for (unsigned q = 0; q < 2; q++) {
            pattern(w[q], sizeof(w[q]), round * 2 + q);
            g_assert_true(
                fe_blk_write(l->blk, q, q * sizeof(w[q]), w[q], sizeof(w[q]), &err));
            g_assert_no_error(err);
        }
        for (unsigned q = 0; q < 2; q++) {
            g_assert_true(
                fe_blk_read(l->blk, 1 - q, q * sizeof(r), r, sizeof(r), &err));
            g_assert_no_error(err);
            g_assert_cmpmem(r, sizeof(r), w[q], sizeof(w[q]));
        }
        __atomic_store_n(&l->rounds, round + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* The context of queue @queue of vb0 (-1: its control plane). */
static char *where(TestQmp *q, int queue)
{
    JsonObject *r = tq_cmd(q, "{\"execute\": \"query-devices\"}");
    JsonObject *dev = tq_find_id(json_node_get_array(tq_return(r)), "vb0");
    char *ctx;

    if (queue < 0) {
        ctx = g_strdup(json_object_get_string_member(dev, "context"));
    } else {
        JsonArray *queues = json_object_get_array_member(dev, "queues");

        ctx = g_strdup(json_object_get_string_member(
            json_array_get_object_element(queues, (guint)queue), "context"));
    }
    json_object_unref(r);
    return ctx;
}

/* Move queue @queue (-1: the whole device) to another context. */
static void move(TestQmp *q, int queue)
{
    g_autofree char *from = where(q, queue);
    const char *to = !strcmp(from, "io0")   ? "io1"
                     : !strcmp(from, "io1") ? "io2"
                                            : "io0";
    g_autofree char *qarg =
        queue >= 0 ? g_strdup_printf(", \"queue\": %d", queue) : g_strdup("");
    g_autofree char *now = NULL;
    JsonObject *ev, *data;

    assert_ok(tq_cmd(q,
                     "{\"execute\": \"device-set-context\", \"arguments\": {\"id\": "
                     "\"vb0\", \"context\": \"%s\"%s}}",
                     to, qarg));
    ev = tq_wait_event(q, "DEVICE_MOVED");
    data = json_object_get_object_member(ev, "data");
    g_assert_cmpstr(json_object_get_string_member(data, "device"), ==, "vb0");
    if (queue >= 0) {
        g_assert_cmpint(json_object_get_int_member(data, "queue"), ==, queue);
    } else {
        g_assert_false(json_object_has_member(data, "queue"));
    }
    json_object_unref(ev);
    now = where(q, queue);
    g_assert_cmpstr(now, ==, to);
}

/*
 * query-devices once @id's request counters have caught up with what the
 * front-end saw: a queue publishes a completion (used ring, call fd) just
 * before it counts the request ended, so a reply may still show the last
 * one in flight for a moment (a loaded machine may preempt the queue's
 * thread in between).  Waits up to 10 s for in-flight 0.
 */
static JsonObject *settled_requests(TestQmp *q, const char *id)
{
    for (int i = 0;; i++) {
        JsonObject *r = tq_cmd(q, "{\"execute\": \"query-devices\"}");
        JsonObject *dev = tq_find_id(json_node_get_array(tq_return(r)), id);
        JsonObject *req = json_object_get_object_member(dev, "requests");

        if (json_object_get_int_member(req, "in-flight") == 0 || i == 1000) {
            return r;
        }
        json_object_unref(r);
        g_usleep(10 * 1000);
    }
}

static void test_move_under_io(void)
{
    g_autofree char *opts =
        dev_opts("vb0", "d0", ",context=io0,num-queues=2,queue-contexts=io0:io1");
    g_autofree char *sock = path_in("vb0.sock");
    TestDaemon *d = start_daemon("-device", opts, NULL);
    TestQmp *q = tq_connect(d->sock);
    IoLoad *l = g_new0(IoLoad, 1);
    pthread_t t;
    unsigned seen;

    l->blk = open_blk(sock, 2, FALSE);
    g_assert_cmpint(pthread_create(&t, NULL, io_thread, l), ==, 0);
    for (int i = 0; i < 12; i++) {
        seen = __atomic_load_n(&l->rounds, __ATOMIC_ACQUIRE);
        move(q, 0);
        move(q, 1);
        move(q, -1);
        /* I/O goes on between the moves. */
        while (__atomic_load_n(&l->rounds, __ATOMIC_ACQUIRE) < seen + 1) {
            g_usleep(1000);
        }
    }
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    g_assert_cmpuint(l->rounds, >=, 12);
    {
        JsonObject *r = settled_requests(q, "vb0");
        JsonObject *dev = tq_find_id(json_node_get_array(tq_return(r)), "vb0");
        JsonObject *req = json_object_get_object_member(dev, "requests");

        g_assert_cmpint(json_object_get_int_member(req, "failed"), ==, 0);
        g_assert_cmpint(json_object_get_int_member(req, "in-flight"), ==, 0);
        g_assert_cmpint(json_object_get_int_member(req, "completed"), ==,
                        json_object_get_int_member(req, "started"));
        g_assert_cmpint(json_object_get_int_member(req, "started"), >=, 12 * 4);
        g_assert_cmpint(json_object_get_int_member(dev, "moves"), >=, 36);
        json_object_unref(r);
    }
    fe_blk_close(l->blk);
    g_free(l);
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* device_add / device_del                                                   */
/* ------------------------------------------------------------------------ */

static void wait_deleted(TestQmp *q, const char *id)
{
    for (;;) {
        JsonObject *ev = tq_wait_event(q, "DEVICE_DELETED");
        gboolean match =
            !g_strcmp0(json_object_get_string_member(
                           json_object_get_object_member(ev, "data"), "device"),
                       id);

        json_object_unref(ev);
        if (match) {
            return;
        }
    }
}

static void device_add(TestQmp *q, const char *id)
{
    assert_ok(
        tq_cmd(q,
               "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
               "\"virtio-blk\", \"id\": \"%s\", \"drive\": \"d0\", \"socket\": "
               "\"%s/%s.sock\", \"num-queues\": 2, \"queue-contexts\": \"io1:io2\"}}",
               id, dir, id));
}

static void test_add_del(void)
{
    g_autofree char *sock = path_in("hot.sock");
    TestDaemon *d = start_daemon(NULL);
    TestQmp *q = tq_connect(d->sock);
    uint8_t w[4096], r[4096];
    GError *err = NULL;
    FeBlk *blk;

    for (unsigned round = 0; round < 2; round++) {
        device_add(q, "hot");
        blk = open_blk(sock, 2, FALSE);
        pattern(w, sizeof(w), round);
        g_assert_true(fe_blk_write(blk, round, 0, w, sizeof(w), &err));
        g_assert_true(fe_blk_read(blk, 1 - round, 0, r, sizeof(r), &err));
        g_assert_no_error(err);
        g_assert_cmpmem(r, sizeof(r), w, sizeof(w));
        /* Unplugged with the front-end connected: it is disconnected, the
         * socket goes, the same id and socket can be plugged again. */
        assert_ok(tq_cmd(
            q, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"hot\"}}"));
        wait_deleted(q, "hot");
        g_assert_true(
            fe_conn_wait_closed(fe_device_conn(fe_blk_device(blk)), TD_TIMEOUT_MS));
        g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
        fe_blk_close(blk);
    }
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void add_fails(TestQmp *q, const char *props, const char *needle)
{
    tq_assert_error(tq_cmd(q,
                           "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
                           "\"virtio-blk\", \"id\": \"bad\", %s}}",
                           props),
                    "GenericError", needle);
}

static void test_bad_options(void)
{
    g_autofree char *opts = dev_opts("vb0", "d0", "");
    TestDaemon *d = start_daemon("-device", opts, NULL);
    TestQmp *q = tq_connect(d->sock);
    g_autofree char *s = g_strdup_printf("\"socket\": \"%s/bad.sock\"", dir);
    g_autofree char *taken =
        g_strdup_printf("\"drive\": \"d0\", \"socket\": \"%s/vb0.sock\"", dir);
    g_autofree char *p = NULL;

    add_fails(q, s, "drive is required");
    p = g_strdup_printf("\"drive\": \"d0\", %s, \"fd\": 3", s);
    add_fails(q, p, "exactly one of socket=PATH and fd=N");
    g_free(p);
    p = g_strdup_printf("\"drive\": \"d0\", %s, \"queue-size\": 100", s);
    add_fails(q, p, "queue-size 100 is not a power of 2");
    g_free(p);
    p = g_strdup_printf("\"drive\": \"d0\", %s, \"serial\": \"123456789012345678901\"",
                        s);
    add_fails(q, p, "serial is longer than 20 bytes");
    g_free(p);
    p = g_strdup_printf("\"drive\": \"d0\", %s, \"logical-block-size\": 1024", s);
    add_fails(q, p, "logical-block-size must be 512 or 4096");
    add_fails(q, taken, "is in use by another server");
    add_fails(q, "\"drive\": \"d0\", \"socket\": \"/nonexistent/dir/x.sock\"",
              "cannot create the socket");
    add_fails(q, "\"drive\": \"nope\", \"socket\": \"/tmp/x.sock\"", "nope");
    tq_free(q);
    g_assert_cmpint(td_stop(d), ==, 0);
}

static void test_help(void)
{
    const char *argv[] = {td_binary(), "-device", "virtio-blk,help", NULL};
    g_autofree char *out = NULL;
    int status;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, NULL, &status, NULL));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    static const char *const opts[] = {
        "drive=",      "socket=",         "fd=",
        "queue-size=", "serial=",         "logical-block-size=",
        "num-queues=", "queue-contexts=", "context="};

    for (size_t i = 0; i < G_N_ELEMENTS(opts); i++) {
        g_assert_nonnull(strstr(out, opts[i]));
    }
}

/*
 * A polling context needs no kicks: while its poll loop watches the ring,
 * the device leaves EVENT_IDX's avail_event behind, so the driver does not
 * write the kick eventfd for its requests.  An event-driven context is
 * kicked for each one.
 */
static unsigned kicks_for(FeBlk *blk, unsigned n)
{
    FeVq *vq = fe_blk_queue_vq(fe_blk_queue(blk, 0));
    uint64_t k0 = fe_vq_kicks(vq);
    uint8_t buf[4096];
    GError *err = NULL;

    for (unsigned i = 0; i < n; i++) {
        g_assert_true(fe_blk_read(blk, 0, (i % 64) * 4096ull, buf, sizeof(buf), &err));
        g_assert_no_error(err);
    }
    return (unsigned)(fe_vq_kicks(vq) - k0);
}

static void test_polling_no_kicks(void)
{
    g_autofree char *popts = dev_opts("vbp", "d0", ",context=pio");
    g_autofree char *eopts = dev_opts("vbe", "d0", ",context=eio");
    g_autofree char *psock = path_in("vbp.sock"), *esock = path_in("vbe.sock");
    TestDaemon *d = start_daemon(
        "-object", "aio-qcontext,id=pio,threaded=yes,poll-max-ns=200000000", "-object",
        "aio-qcontext,id=eio,threaded=yes,poll-max-ns=0", "-device", popts, "-device",
        eopts, NULL);
    FeBlk *blk = open_blk(psock, 1, FALSE);
    unsigned kicks;

    kicks_for(blk, 100); /* the poll window grows from 0 */
    kicks = kicks_for(blk, 200);
    g_test_message("polling context: %u kicks for 200 requests", kicks);
    g_assert_cmpuint(kicks, <, 100); /* every one, before */
    fe_blk_close(blk);

    blk = open_blk(esock, 1, FALSE);
    /* The ring start scans the ring (notifications off meanwhile): a first
     * request made during that scan is found without a kick. */
    kicks_for(blk, 1);
    g_assert_cmpuint(kicks_for(blk, 50), ==, 50);
    fe_blk_close(blk);
    g_assert_cmpint(td_stop(d), ==, 0);
}

/*
 * A batch of completions is published once: 32 reads of a null drive
 * completed in one pass of its completion loop write the call eventfd
 * once (the driver asked for every notification: no EVENT_IDX, interrupts
 * on), not once per request.
 */
static void test_batch_one_signal(void)
{
    g_autofree char *opts = dev_opts("vbn", "n0", ",context=eio");
    g_autofree char *sock = path_in("vbn.sock");
    TestDaemon *d = start_daemon(
        "-object", "aio-qcontext,id=eio,threaded=yes,poll-max-ns=0", "-drive",
        "id=n0,format=null,size=67108864", "-device", opts, NULL);
    FeBlkOptions o = {.socket_path = sock,
                      .num_queues = 1,
                      .queue_size = 64,
                      .iodepth = 32,
                      .no_event_idx = TRUE};
    GError *err = NULL;
    FeBlk *blk = fe_blk_open(&o, &err);
    FeBlkQueue *bq;
    uint64_t signals = 0;
    gint64 deadline;
    unsigned done = 0;

    g_assert_no_error(err);
    bq = fe_blk_queue(blk, 0);
    for (unsigned i = 0; i < 32; i++) {
        FeBlkReq *r = fe_blk_req_get(bq);

        g_assert_nonnull(r);
        r->type = VIRTIO_BLK_T_IN;
        r->sector = i * 8;
        r->len = 4096;
        g_assert_true(fe_blk_submit(bq, r, &err));
        g_assert_no_error(err);
    }
    fe_blk_kick(bq); /* one kick: the device pops all 32 in one pass */
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (done < 32 && g_get_monotonic_time() < deadline) {
        FeBlkReq *r = fe_blk_complete(bq);

        if (r) {
            g_assert_cmpint(r->status, ==, VIRTIO_BLK_S_OK);
            fe_blk_req_put(bq, r);
            done++;
        } else {
            g_usleep(100);
        }
    }
    g_assert_cmpuint(done, ==, 32);
    /* The eventfd's counter is the number of writes since the last read. */
    g_assert_cmpint(read(fe_vq_call_fd(fe_blk_queue_vq(bq)), &signals, sizeof(signals)),
                    ==, sizeof(signals));
    g_test_message("32 completions, %" G_GUINT64_FORMAT " signals", signals);
    g_assert_cmpuint(signals, <=, 4); /* 32 before */
    fe_blk_close(blk);
    g_assert_cmpint(td_stop(d), ==, 0);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    dir = g_dir_make_tmp("vblk-qmp-XXXXXX", NULL);
    g_test_add_func("/virtio-blk/qmp/io", test_io);
    g_test_add_func("/virtio-blk/qmp/readonly", test_readonly);
    g_test_add_func("/virtio-blk/qmp/move-under-io", test_move_under_io);
    g_test_add_func("/virtio-blk/qmp/add-del", test_add_del);
    g_test_add_func("/virtio-blk/qmp/bad-options", test_bad_options);
    g_test_add_func("/virtio-blk/qmp/help", test_help);
    g_test_add_func("/virtio-blk/qmp/polling-no-kicks", test_polling_no_kicks);
    g_test_add_func("/virtio-blk/qmp/batch-one-signal", test_batch_one_signal);
    ret = g_test_run();
    {
        g_autofree char *a = path_in("disk0.raw"), *b = path_in("disk1.raw");

        g_unlink(a);
        g_unlink(b);
    }
    g_rmdir(dir);
    g_free(dir);
    return ret;
}

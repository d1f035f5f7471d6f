/*
 * tests/frontend/test-fe-qsd.c - the vhost-user front-end and its
 * virtio-blk driver against qemu-storage-daemon, the reference back-end,
 * and against the project's own back-end (tests/vhost-user/vu-blk-server):
 * negotiation, data integrity on a raw file with aio=native, every request
 * type, multiqueue, read-only, out-of-range, disconnect/reconnect, and a
 * killed back-end restarted with its inflight requests.
 *
 * The QSD cases skip (with a message) only when qemu-storage-daemon is not
 * installed (scripts/install-deps.sh installs it).
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <unistd.h>

#include "frontend/fe-blk.h"
#include "qsd.h"

#define MiB (1024 * 1024)

/* Which back-end the current case runs against (see main()). */
static gboolean use_vu_blk;

static Qsd *backend_new(QsdOptions o)
{
    o.vu_blk = use_vu_blk;
    return qsd_new(&o);
}

static FeBlk *open_blk(Qsd *q, const FeBlkOptions *extra)
{
    FeBlkOptions o = extra ? *extra : (FeBlkOptions){0};
    g_autoptr(GError) err = NULL;
    FeBlk *blk;

    o.socket_path = q->sock;
    blk = fe_blk_open(&o, &err);
    g_assert_no_error(err);
    g_assert_nonnull(blk);
    return blk;
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)((i * 7 + seed * 131 + (i >> 9)) & 0xff);
    }
}

/* The bytes at @offset of the image file, read behind the back-end's back. */
static uint8_t *read_image(const Qsd *q, uint64_t offset, size_t len)
{
    uint8_t *buf = g_malloc(len);
    int fd = open(q->image, O_RDONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, (off_t)offset), ==, (ssize_t)len);
    close(fd);
    return buf;
}

/* ------------------------------------------------------------------------ */

static void test_negotiate(void)
{
    Qsd *q = backend_new((QsdOptions){.size = 32 * MiB, .num_queues = 2});
    FeBlk *blk = open_blk(q, NULL);
    FeDevice *dev = fe_blk_device(blk);

    g_assert_true(fe_device_has_feature(dev, VIRTIO_F_VERSION_1));
    g_assert_true(fe_device_has_feature(dev, VHOST_USER_F_PROTOCOL_FEATURES));
    /* the front-end never accepts what was not offered */
    g_assert_cmphex(fe_device_features(dev) & ~fe_device_offered_features(dev), ==, 0);
    g_assert_cmphex(fe_device_protocol_features(dev) &
                        ~fe_device_offered_protocol_features(dev),
                    ==, 0);
    g_assert_true(fe_device_protocol_features(dev) &
                  (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
    g_assert_cmpuint(fe_blk_capacity(blk), ==, 32 * MiB);
    g_assert_true(fe_blk_has_feature(blk, VIRTIO_BLK_F_MQ));
    g_assert_cmpuint(fe_blk_config(blk)->num_queues, ==, 2);
    g_assert_true(fe_device_is_started(dev));
    fe_blk_close(blk);
    qsd_free(q);
}

/* Data written reads back identical through the client and is in the file. */
static void check_rw(const FeBlkOptions *o)
{
    Qsd *q = backend_new((QsdOptions){.size = 16 * MiB, .file = TRUE});
    FeBlk *blk = open_blk(q, o);
    size_t len = 1 * MiB + 4096; /* several max_io chunks, not a multiple */
    g_autofree uint8_t *out = g_malloc(len), *in = g_malloc(len), *disk = NULL;
    g_autoptr(GError) err = NULL;

    fill_pattern(out, len, 1);
    g_assert_true(fe_blk_write(blk, 0, 3 * MiB + 512, out, len, &err));
    g_assert_no_error(err);
    g_assert_true(fe_blk_flush(blk, 0, &err));
    g_assert_no_error(err);
    g_assert_true(fe_blk_read(blk, 0, 3 * MiB + 512, in, len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(in, len, out, len);
    disk = read_image(q, 3 * MiB + 512, len);
    g_assert_cmpmem(disk, len, out, len);
    fe_blk_close(blk);
    qsd_free(q);
}

static void test_rw_default(void)
{
    check_rw(NULL);
}

static void test_rw_variants(void)
{
    /* plain chains, no EVENT_IDX, SET_MEM_TABLE, several data segments */
    check_rw(&(FeBlkOptions){.no_indirect = TRUE});
    check_rw(&(FeBlkOptions){.no_event_idx = TRUE, .no_mem_slots = TRUE});
    check_rw(&(FeBlkOptions){.data_segs = 4, .max_io = 64 * 1024, .queue_size = 64});
    check_rw(&(FeBlkOptions){.no_inflight = TRUE, .iodepth = 2});
}

static void test_requests(void)
{
    Qsd *q = backend_new((QsdOptions){.size = 8 * MiB, .file = TRUE});
    FeBlk *blk = open_blk(q, NULL);
    g_autofree uint8_t *buf = g_malloc(64 * 1024), *zero = g_malloc0(64 * 1024);
    g_autofree uint8_t *disk = NULL;
    g_autoptr(GError) err = NULL;
    char id[VIRTIO_BLK_ID_BYTES + 1];

    g_assert_true(fe_blk_get_id(blk, 0, id, &err));
    g_assert_no_error(err);
    if (use_vu_blk) {
        g_assert_cmpstr(id, ==, QSD_VU_SERIAL);
    } else {
        g_assert_cmpuint(strlen(id), >, 0); /* QSD answers a fixed name */
    }

    g_assert_true(fe_blk_has_feature(blk, VIRTIO_BLK_F_WRITE_ZEROES));
    fill_pattern(buf, 64 * 1024, 2);
    g_assert_true(fe_blk_write(blk, 0, 1 * MiB, buf, 64 * 1024, &err));
    g_assert_true(fe_blk_write_zeroes(blk, 0, 1 * MiB + 4096, 8192, FALSE, &err));
    g_assert_no_error(err);
    g_assert_true(fe_blk_read(blk, 0, 1 * MiB, buf, 64 * 1024, &err));
    g_assert_cmpmem(buf + 4096, 8192, zero, 8192);
    disk = read_image(q, 1 * MiB + 4096, 8192);
    g_assert_cmpmem(disk, 8192, zero, 8192);
    /* neighbours untouched */
    g_assert_cmpuint(buf[4095], !=, 0);

    if (fe_blk_has_feature(blk, VIRTIO_BLK_F_DISCARD)) {
        /* discard may or may not zero: it must succeed */
        g_assert_true(fe_blk_discard(blk, 0, 2 * MiB, 1 * MiB, &err));
        g_assert_no_error(err);
    }
    fe_blk_close(blk);
    qsd_free(q);
}

/*
 * Guest memory in several regions, announced by SET_MEM_TABLE or one
 * ADD_MEM_REG each (and one more added while running): a request whose
 * buffers live in the second and third regions works.
 */
static void check_regions(gboolean mem_slots)
{
    Qsd *q = backend_new((QsdOptions){.size = 1 * MiB, .file = TRUE});
    FeDeviceOptions o = {.socket_path = q->sock,
                         .config_size = FE_BLK_CONFIG_SIZE,
                         .no_mem_slots = !mem_slots};
    g_autoptr(GError) err = NULL;
    FeDevice *dev = fe_device_new(&o, &err);
    FeMem *mem;
    const FeMemRegion *r1, *r2;
    struct virtio_blk_outhdr *hdr;
    uint8_t *data, *status;
    FeVq *vq;
    uint32_t len;

    g_assert_no_error(err);
    g_assert_cmpint(!!(fe_device_protocol_features(dev) &
                       (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)),
                    ==, mem_slots);
    mem = fe_device_mem(dev);
    g_assert_cmpint(fe_mem_add_region(mem, 0x200000000ull, 1 * MiB, &err), ==, 1);
    g_assert_true(fe_device_start(dev, &err));
    g_assert_no_error(err);
    r1 = fe_mem_region(mem, 1);
    if (mem_slots) {
        /* hot-added after start */
        g_assert_cmpint(fe_mem_add_region(mem, 0x300000000ull, 1 * MiB, &err), ==, 2);
        r2 = fe_mem_region(mem, 2);
        g_assert_true(fe_conn_add_mem_reg(fe_device_conn(dev), r2, &err));
        g_assert_no_error(err);
    } else {
        r2 = r1;
    }
    /* header and status in region 1, the data buffer in the last region */
    hdr = (struct virtio_blk_outhdr *)r1->hva;
    status = r1->hva + 64;
    data = r2->hva + 4096;
    *hdr = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_OUT, .sector = 8};
    memset(data, 0x5a, 4096);
    vq = fe_device_vq(dev, 0);
    g_assert_cmpint(fe_vq_add(vq,
                              (FeVqBuf[]){{r1->gpa, 16, FALSE},
                                          {r2->gpa + 4096, 4096, FALSE},
                                          {r1->gpa + 64, 1, TRUE}},
                              3, hdr),
                    >=, 0);
    fe_vq_kick(vq);
    while (!fe_vq_get_used(vq, &len)) {
        g_assert_true(fe_vq_enable_cb(vq) ? fe_vq_wait(vq, 5000, &err) : TRUE);
        g_assert_no_error(err);
    }
    g_assert_cmpuint(*status, ==, VIRTIO_BLK_S_OK);
    g_autofree uint8_t *disk = read_image(q, 8 * 512, 4096);
    g_assert_cmpmem(disk, 4096, data, 4096);
    if (mem_slots) {
        g_assert_true(fe_conn_rem_mem_reg(fe_device_conn(dev), r2, &err));
        g_assert_no_error(err);
    }
    fe_device_free(dev);
    qsd_free(q);
}

static void test_mem_regions(void)
{
    check_regions(TRUE);
    check_regions(FALSE);
}

static void test_out_of_range(void)
{
    Qsd *q = backend_new((QsdOptions){.size = 1 * MiB, .file = TRUE});
    FeBlk *blk = open_blk(q, NULL);
    FeBlk *raw = NULL;
    uint8_t buf[4096] = {0};
    uint8_t status = 0;
    g_autoptr(GError) err = NULL;

    /* the checked driver refuses without sending */
    g_assert_false(fe_blk_read(blk, 0, 1 * MiB, buf, 4096, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_INVALID);
    g_clear_error(&err);
    fe_blk_close(blk);

    /* the device refuses with IOERR */
    raw = open_blk(q, &(FeBlkOptions){.unchecked = TRUE});
    g_assert_true(fe_blk_exec(raw, 0, VIRTIO_BLK_T_IN, 1 * MiB / 512, NULL, buf, 4096,
                              &status, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(status, ==, VIRTIO_BLK_S_IOERR);
    g_assert_false(fe_blk_write(raw, 0, 1 * MiB - 512, buf, 4096, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_IO);
    g_clear_error(&err);
    /* an unknown request type is UNSUPP */
    g_assert_true(fe_blk_exec(raw, 0, 0x77, 0, NULL, buf, 512, &status, &err));
    g_assert_cmpuint(status, ==, VIRTIO_BLK_S_UNSUPP);
    /* the connection still works */
    g_assert_true(fe_blk_read(raw, 0, 0, buf, 4096, &err));
    g_assert_no_error(err);
    fe_blk_close(raw);
    qsd_free(q);
}

static void test_readonly(void)
{
    Qsd *q = backend_new((QsdOptions){.size = 1 * MiB, .file = TRUE, .readonly = TRUE});
    FeBlk *blk = open_blk(q, NULL), *raw;
    uint8_t buf[4096];
    g_autoptr(GError) err = NULL;

    g_assert_true(fe_blk_has_feature(blk, VIRTIO_BLK_F_RO));
    g_assert_false(fe_blk_write(blk, 0, 0, buf, 4096, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_true(fe_blk_read(blk, 0, 0, buf, 4096, &err));
    fe_blk_close(blk);

    raw = open_blk(q, &(FeBlkOptions){.unchecked = TRUE});
    memset(buf, 0xab, sizeof(buf));
    g_assert_false(fe_blk_write(raw, 0, 0, buf, 4096, &err));
    g_assert_nonnull(err); /* IOERR or UNSUPP: refused by the device */
    g_clear_error(&err);
    fe_blk_close(raw);
    g_autofree uint8_t *disk = read_image(q, 0, 4096);
    g_assert_cmpuint(disk[0], ==, 0);
    qsd_free(q);
}

/* ------------------------------------------------------------------------ */
/* Multiqueue: one thread per queue, each writing and checking its own area */

typedef struct {
    FeBlk *blk;
    unsigned q;
    gboolean ok;
} MqJob;

static gpointer mq_job(gpointer opaque)
{
    MqJob *j = opaque;
    g_autofree uint8_t *out = g_malloc(256 * 1024), *in = g_malloc(256 * 1024);
    uint64_t base = (uint64_t)j->q * 4 * MiB;

    j->ok = TRUE;
    for (uint32_t round = 0; round < 8 && j->ok; round++) {
        g_autoptr(GError) err = NULL;

        fill_pattern(out, 256 * 1024, j->q * 100 + round);
        j->ok = fe_blk_write(j->blk, j->q, base + round * 256 * 1024, out, 256 * 1024,
                             &err) &&
                fe_blk_read(j->blk, j->q, base + round * 256 * 1024, in, 256 * 1024,
                            &err) &&
                memcmp(in, out, 256 * 1024) == 0;
        if (err) {
            g_printerr("queue %u: %s\n", j->q, err->message);
        }
    }
    return NULL;
}

static void test_multiqueue(void)
{
    Qsd *q = backend_new((QsdOptions){
        .size = 16 * MiB, .file = TRUE, .num_queues = 2, .iothread = TRUE});
    FeBlk *blk = open_blk(q, &(FeBlkOptions){.num_queues = 2});
    MqJob jobs[2] = {{.blk = blk, .q = 0}, {.blk = blk, .q = 1}};
    GThread *t[2];

    for (int i = 0; i < 2; i++) {
        t[i] = g_thread_new("mq-job", mq_job, &jobs[i]);
    }
    for (int i = 0; i < 2; i++) {
        g_thread_join(t[i]);
        g_assert_true(jobs[i].ok);
    }
    fe_blk_close(blk);
    qsd_free(q);
}

static void test_too_many_queues(void)
{
    Qsd *q = backend_new((QsdOptions){.num_queues = 2});
    FeBlkOptions o = {.socket_path = q->sock, .num_queues = 4};
    g_autoptr(GError) err = NULL;

    g_assert_null(fe_blk_open(&o, &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_UNSUPPORTED);
    qsd_free(q);
}

/* ------------------------------------------------------------------------ */
/* Disconnect and reconnect                                                  */

static void test_reconnect(void)
{
    Qsd *q = backend_new((QsdOptions){.size = 8 * MiB, .file = TRUE});
    g_autofree uint8_t *out = g_malloc(64 * 1024), *in = g_malloc(64 * 1024);
    g_autoptr(GError) err = NULL;
    FeBlk *blk = open_blk(q, NULL);
    FeBlkQueue *bq = fe_blk_queue(blk, 0);

    fill_pattern(out, 64 * 1024, 5);
    g_assert_true(fe_blk_write(blk, 0, 0, out, 64 * 1024, &err));
    g_assert_no_error(err);

    /* a front-end that vanishes with requests in flight */
    for (int i = 0; i < 32; i++) {
        FeBlkReq *r = fe_blk_req_get(bq);

        r->type = VIRTIO_BLK_T_IN;
        r->sector = (uint64_t)i * 8;
        r->len = 4096;
        g_assert_true(fe_blk_submit(bq, r, &err));
    }
    fe_blk_kick(bq);
    fe_device_disconnect(fe_blk_device(blk));
    fe_blk_close(blk);

    /* the next front-end sees the data and works */
    blk = open_blk(q, NULL);
    g_assert_true(fe_blk_read(blk, 0, 0, in, 64 * 1024, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(in, 64 * 1024, out, 64 * 1024);

    /* clean stop and restart on a new connection, same rings */
    g_assert_true(fe_device_stop(fe_blk_device(blk), &err));
    g_assert_no_error(err);
    g_assert_true(fe_blk_reconnect(blk, &err));
    g_assert_no_error(err);
    g_assert_true(fe_blk_read(blk, 0, 0, in, 64 * 1024, &err));
    g_assert_cmpmem(in, 64 * 1024, out, 64 * 1024);
    fe_blk_close(blk);
    qsd_free(q);
}

static gpointer kill_later(gpointer opaque)
{
    g_usleep(300 * 1000);
    qsd_kill(opaque);
    return NULL;
}

/* A back-end that dies: a blocking call fails at once, no hang. */
static void test_backend_dies(void)
{
    Qsd *q = backend_new((QsdOptions){.latency_ns = 60ull * 1000000000});
    FeBlk *blk = open_blk(q, &(FeBlkOptions){.timeout_ms = 60000});
    GThread *killer = g_thread_new("killer", kill_later, q);
    uint8_t buf[4096];
    g_autoptr(GError) err = NULL;
    gint64 t0 = g_get_monotonic_time();

    /* the read would take a minute; the daemon dies after 0.3 s */
    g_assert_false(fe_blk_read(blk, 0, 0, buf, sizeof(buf), &err));
    g_assert_error(err, FE_ERROR, FE_ERROR_DISCONNECTED);
    /* generous: anything well below the 60 s timeout shows it did not wait */
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 30 * G_USEC_PER_SEC);
    g_thread_join(killer);
    fe_blk_close(blk);
    qsd_free(q);
}

/*
 * kill -9 the back-end with requests in flight, restart it, reconnect.
 * With INFLIGHT_SHMFD (vu-blk-server offers it) the back-end resubmits them
 * from the same inflight buffer and they complete with the disk's data;
 * without it (QSD 7.2 does not offer it) the driver fails them with
 * FE_BLK_S_ABORTED, never leaves them hanging.  Either way the new session
 * works.
 */
static void test_restart(void)
{
    Qsd *q = backend_new((QsdOptions){.latency_ns = 2ull * 1000000000});
    FeBlk *blk = open_blk(q, &(FeBlkOptions){.timeout_ms = 20000});
    FeBlkQueue *bq = fe_blk_queue(blk, 0);
    gboolean inflight = fe_device_inflight(fe_blk_device(blk), NULL) != NULL;
    g_autoptr(GError) err = NULL;
    uint8_t buf[512];
    unsigned done = 0;
    FeBlkReq *r;

    g_test_message("back-end %s INFLIGHT_SHMFD",
                   inflight ? "offers" : "does not offer");
    for (int i = 0; i < 4; i++) {
        r = fe_blk_req_get(bq);
        r->type = VIRTIO_BLK_T_IN;
        r->sector = (uint64_t)i * 8;
        r->len = 4096;
        memset(r->data, 0xcc, 4096);
        g_assert_true(fe_blk_submit(bq, r, &err));
    }
    fe_blk_kick(bq);
    g_usleep(300 * 1000); /* the daemon has popped them: 2 s each to go */
    qsd_kill(q);
    qsd_restart(q);
    g_assert_true(fe_blk_reconnect(blk, &err));
    g_assert_no_error(err);
    while (done < 4) {
        while ((r = fe_blk_complete(bq))) {
            g_assert_cmpuint(r->status, ==,
                             inflight ? VIRTIO_BLK_S_OK : FE_BLK_S_ABORTED);
            fe_blk_req_put(bq, r);
            done++;
        }
        if (done < 4) {
            g_assert_true(fe_blk_wait(bq, 20000, &err));
            g_assert_no_error(err);
        }
    }
    g_assert_cmpuint(fe_blk_inflight(bq), ==, 0);
    g_assert_true(fe_blk_read(blk, 0, 0, buf, sizeof(buf), &err));
    g_assert_no_error(err);
    fe_blk_close(blk);
    qsd_free(q);
}

typedef struct {
    const char *name;
    void (*fn)(void);
    gboolean vu_blk;
} Case;

static void run_case(gconstpointer data)
{
    const Case *c = data;

    use_vu_blk = c->vu_blk;
    c->fn();
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    {"negotiate", test_negotiate},
    {"rw", test_rw_default},
    {"rw-variants", test_rw_variants},
    {"requests", test_requests},
    {"mem-regions", test_mem_regions},
    {"out-of-range", test_out_of_range},
    {"readonly", test_readonly},
    {"multiqueue", test_multiqueue},
    {"too-many-queues", test_too_many_queues},
    {"reconnect", test_reconnect},
    {"backend-dies", test_backend_dies},
    {"restart", test_restart},
};

/*
 * Every case runs against qemu-storage-daemon (/frontend/qsd/...) and
 * against the project's vhost-user back-end, tests/vhost-user/vu-blk-server
 * (/frontend/vu-blk/...): the same client, two implementations.
 */
int main(int argc, char **argv)
{
    static Case all[2][G_N_ELEMENTS(cases)];
    const char *prefix[2] = {"/frontend/qsd/", "/frontend/vu-blk/"};
    gboolean have[2] = {qsd_binary() != NULL, qsd_vu_blk_server() != NULL};

    g_test_init(&argc, &argv, NULL);
    if (!have[0] && !have[1]) {
        g_test_skip("neither qemu-storage-daemon (scripts/install-deps.sh) nor "
                    "$VU_BLK_SERVER is available");
        return g_test_run();
    }
    for (int k = 0; k < 2; k++) {
        for (unsigned i = 0; have[k] && i < G_N_ELEMENTS(cases); i++) {
            g_autofree char *path = g_strconcat(prefix[k], cases[i].name, NULL);

            all[k][i] = (Case){cases[i].name, cases[i].fn, k == 1};
            g_test_add_data_func(path, &all[k][i], run_case);
        }
    }
    return g_test_run();
}

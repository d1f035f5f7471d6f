/*
 * tests/vhost-user/test-virtqueue.c - the device side of the split
 * virtqueue against a driver-side ring built in a memfd: chains direct and
 * indirect, hostile chains (outside memory, loops, too long, nested
 * indirect, bad indexes), zero-length buffers, notification suppression,
 * un-pop, and inflight recovery.
 *
 * The device sees guest memory through its own mapping of the memfd (the
 * memory table), as a vhost-user back-end does; the tests check that every
 * iovec it produces lies inside that mapping.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <linux/virtio_config.h>

#include "qcontext/devices/virtio/iov.h"
#include "qcontext/devices/virtio/virtqueue.h"
#include "vu-test-driver.h"

#define GUEST_GPA 0x100000ULL
#define GUEST_SIZE (1u << 20)
#define QSIZE 8
#define FEATURES ((1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_F_VERSION_1))

typedef struct Fixture {
    TestGuestMem mem;
    VirtioMemTable table;
    TestVring ring;
    VirtQueue vq;
    VirtQueueElement elem;
    struct iovec iov[64];
} Fixture;

static void *host(Fixture *f, uint64_t gpa, uint64_t len)
{
    void *p = virtio_mem_gpa_to_host(&f->table, gpa, len);

    g_assert_nonnull(p);
    return p;
}

static void fixture_vq_init(Fixture *f, uint64_t features, uint16_t last_avail)
{
    virtq_init(&f->vq, &f->table, f->ring.num, host(f, f->ring.desc_gpa, 16 * QSIZE),
               host(f, f->ring.avail_gpa, 6 + 2 * QSIZE),
               host(f, f->ring.used_gpa, 6 + 8 * QSIZE), features, last_avail);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    VirtioMemRegion r;
    GError *err = NULL;

    tgm_init(&f->mem, GUEST_SIZE, GUEST_GPA);
    memset(&f->table, 0, sizeof(f->table));
    g_assert_true(virtio_mem_region_map(&r, f->mem.fd, GUEST_GPA, GUEST_SIZE,
                                        (uintptr_t)f->mem.base, 0, &err));
    g_assert_no_error(err);
    g_assert_true(virtio_mem_table_insert(&f->table, &r, NULL));
    tvr_init(&f->ring, &f->mem, QSIZE);
    memset(&f->vq, 0, sizeof(f->vq));
    fixture_vq_init(f, FEATURES, 0);
    f->elem.iov = f->iov;
    f->elem.iov_cap = G_N_ELEMENTS(f->iov);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    virtq_cleanup(&f->vq);
    virtio_mem_table_clear(&f->table);
    tgm_cleanup(&f->mem);
}

/* Every iovec lies inside the device's mapping of guest memory. */
static void assert_iov_inside(Fixture *f)
{
    const VirtioMemRegion *r = &f->table.regions[0];

    for (unsigned i = 0; i < f->elem.out_num + f->elem.in_num; i++) {
        uint8_t *p = f->elem.iov[i].iov_base;

        g_assert_true(p >= r->host && p + f->elem.iov[i].iov_len <= r->host + r->size);
    }
}

static uint64_t buf(Fixture *f, size_t len, char fill)
{
    uint64_t gpa = tgm_alloc(&f->mem, len, 8);

    memset(tgm_ptr(&f->mem, gpa), fill, len);
    return gpa;
}

static void expect_broken(Fixture *f, const char *why)
{
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, -1);
    g_assert_true(virtq_is_broken(&f->vq));
    g_assert_nonnull(strstr(virtq_error(&f->vq), why));
    g_assert_cmpuint(virtq_in_use(&f->vq), ==, 0);
    /* A broken queue pops nothing more and publishes nothing. */
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 0);
    g_assert_false(virtq_has_work(&f->vq));
}

/* ------------------------------------------------------------------------ */

static void test_simple_chain(Fixture *f, gconstpointer data)
{
    TvBuf b[3] = {{buf(f, 16, 'h'), 16, false},
                  {buf(f, 512, 'd'), 512, false},
                  {buf(f, 1, 0), 1, true}};
    uint16_t head = tvr_add_chain(&f->ring, b, 3);
    uint32_t id, len;
    char tmp[528];

    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 0);
    g_assert_false(virtq_has_work(&f->vq));
    tvr_publish(&f->ring, head);
    g_assert_true(virtq_has_work(&f->vq));
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.index, ==, head);
    g_assert_cmpuint(f->elem.out_num, ==, 2);
    g_assert_cmpuint(f->elem.in_num, ==, 1);
    assert_iov_inside(f);
    g_assert_cmpuint(iov_to_buf(f->elem.iov, 2, 0, tmp, sizeof(tmp)), ==, 528);
    g_assert_cmpint(tmp[0], ==, 'h');
    g_assert_cmpint(tmp[527], ==, 'd');
    *(uint8_t *)virtq_elem_in_iov(&f->elem)[0].iov_base = 7;
    g_assert_cmpuint(virtq_in_use(&f->vq), ==, 1);

    virtq_push(&f->vq, &f->elem, 1);
    g_assert_false(tvr_get_used(&f->ring, &id, &len)); /* not flushed yet */
    virtq_flush(&f->vq);
    g_assert_true(tvr_get_used(&f->ring, &id, &len));
    g_assert_cmpuint(id, ==, head);
    g_assert_cmpuint(len, ==, 1);
    g_assert_cmpint(*(uint8_t *)tgm_ptr(&f->mem, b[2].gpa), ==, 7);
    g_assert_cmpuint(virtq_in_use(&f->vq), ==, 0);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 0);
}

static void test_indirect(Fixture *f, gconstpointer data)
{
    TvBuf b[4] = {{buf(f, 16, 'a'), 16, false},
                  {buf(f, 100, 'b'), 100, false},
                  {buf(f, 200, 0), 200, true},
                  {buf(f, 1, 0), 1, true}};
    uint16_t head = tvr_add_indirect(&f->ring, b, 4);

    tvr_publish(&f->ring, head);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.out_num, ==, 2);
    g_assert_cmpuint(f->elem.in_num, ==, 2);
    g_assert_cmpuint(iov_size(virtq_elem_in_iov(&f->elem), 2), ==, 201);
    assert_iov_inside(f);
}

/* The spec: zero or more direct descriptors followed by one indirect. */
static void test_direct_then_indirect(Fixture *f, gconstpointer data)
{
    TvBuf t[2] = {{buf(f, 64, 'x'), 64, false}, {buf(f, 1, 0), 1, true}};
    uint64_t table = tgm_alloc(&f->mem, 32, 16);
    struct vring_desc *d = tgm_ptr(&f->mem, table);

    d[0] = (struct vring_desc){t[0].gpa, 64, VRING_DESC_F_NEXT, 1};
    d[1] = (struct vring_desc){t[1].gpa, 1, VRING_DESC_F_WRITE, 0};
    tvr_set_desc(&f->ring, 0, buf(f, 16, 'h'), 16, VRING_DESC_F_NEXT, 1);
    tvr_set_desc(&f->ring, 1, table, 32, VRING_DESC_F_INDIRECT, 0);
    tvr_publish(&f->ring, 0);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.out_num, ==, 2);
    g_assert_cmpuint(f->elem.in_num, ==, 1);
}

static void test_zero_length(Fixture *f, gconstpointer data)
{
    /* Zero-length buffers are skipped, whatever their address says. */
    tvr_set_desc(&f->ring, 0, buf(f, 16, 'h'), 16, VRING_DESC_F_NEXT, 1);
    tvr_set_desc(&f->ring, 1, 0xdead000000000000ULL, 0, VRING_DESC_F_NEXT, 2);
    tvr_set_desc(&f->ring, 2, buf(f, 1, 0), 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                 3);
    tvr_set_desc(&f->ring, 3, ~0ULL, 0, VRING_DESC_F_WRITE, 0);
    tvr_publish(&f->ring, 0);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.out_num, ==, 1);
    g_assert_cmpuint(f->elem.in_num, ==, 1);
    assert_iov_inside(f);

    /* A chain of nothing but zero-length buffers is a valid, empty element. */
    tvr_set_desc(&f->ring, 4, 0, 0, 0, 0);
    tvr_publish(&f->ring, 4);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.out_num + f->elem.in_num, ==, 0);
}

static void test_outside_memory(Fixture *f, gconstpointer data)
{
    /* Straddles the end of guest memory by 8 bytes. */
    tvr_set_desc(&f->ring, 0, GUEST_GPA + GUEST_SIZE - 8, 16, 0, 0);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "outside guest memory");
}

static void test_wrapping_address(Fixture *f, gconstpointer data)
{
    tvr_set_desc(&f->ring, 0, UINT64_MAX - 4, 16, 0, 0);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "outside guest memory");
}

static void test_loop(Fixture *f, gconstpointer data)
{
    uint64_t b = buf(f, 16, 'l');

    tvr_set_desc(&f->ring, 0, b, 16, VRING_DESC_F_NEXT, 1);
    tvr_set_desc(&f->ring, 1, b, 16, VRING_DESC_F_NEXT, 0);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "longer than the queue");
}

static void test_indirect_loop(Fixture *f, gconstpointer data)
{
    uint64_t table = tgm_alloc(&f->mem, 48, 16);
    struct vring_desc *d = tgm_ptr(&f->mem, table);
    uint64_t b = buf(f, 8, 'l');

    d[0] = (struct vring_desc){b, 8, VRING_DESC_F_NEXT, 1};
    d[1] = (struct vring_desc){b, 8, VRING_DESC_F_NEXT, 2};
    d[2] = (struct vring_desc){b, 8, VRING_DESC_F_NEXT, 0};
    tvr_set_desc(&f->ring, 0, table, 48, VRING_DESC_F_INDIRECT, 0);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "loops");
}

static void test_nested_indirect(Fixture *f, gconstpointer data)
{
    uint64_t inner = tgm_alloc(&f->mem, 16, 16);
    uint64_t outer = tgm_alloc(&f->mem, 16, 16);
    struct vring_desc *di = tgm_ptr(&f->mem, inner), *dout = tgm_ptr(&f->mem, outer);

    di[0] = (struct vring_desc){buf(f, 8, 'i'), 8, 0, 0};
    dout[0] = (struct vring_desc){inner, 16, VRING_DESC_F_INDIRECT, 0};
    tvr_set_desc(&f->ring, 0, outer, 16, VRING_DESC_F_INDIRECT, 0);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "indirect descriptor inside an indirect table");
}

static void test_indirect_not_negotiated(Fixture *f, gconstpointer data)
{
    TvBuf b[1] = {{buf(f, 8, 'a'), 8, false}};

    fixture_vq_init(f, 0, 0);
    tvr_publish(&f->ring, tvr_add_indirect(&f->ring, b, 1));
    expect_broken(f, "INDIRECT_DESC was not negotiated");
}

static void test_indirect_bad_size(Fixture *f, gconstpointer data)
{
    tvr_set_desc(&f->ring, 0, tgm_alloc(&f->mem, 32, 16), 20, VRING_DESC_F_INDIRECT, 0);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "multiple of 16");
}

static void test_indirect_with_next(Fixture *f, gconstpointer data)
{
    tvr_set_desc(&f->ring, 0, tgm_alloc(&f->mem, 16, 16), 16,
                 VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "NEXT");
}

static void test_indirect_table_outside(Fixture *f, gconstpointer data)
{
    tvr_set_desc(&f->ring, 0, GUEST_GPA + GUEST_SIZE - 16, 32, VRING_DESC_F_INDIRECT,
                 0);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "indirect table outside guest memory");
}

static void test_write_then_read(Fixture *f, gconstpointer data)
{
    tvr_set_desc(&f->ring, 0, buf(f, 8, 0), 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                 1);
    tvr_set_desc(&f->ring, 1, buf(f, 8, 0), 8, 0, 0);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "device-readable descriptor after a device-writable one");
}

static void test_bad_indexes(Fixture *f, gconstpointer data)
{
    /* An available head out of range. */
    f->ring.avail->ring[0] = QSIZE;
    f->ring.avail->idx = 1;
    expect_broken(f, "available ring entry out of range");
}

static void test_bad_next(Fixture *f, gconstpointer data)
{
    tvr_set_desc(&f->ring, 0, buf(f, 8, 0), 8, VRING_DESC_F_NEXT, QSIZE + 3);
    tvr_publish(&f->ring, 0);
    expect_broken(f, "next index out of range");
}

static void test_avail_jump(Fixture *f, gconstpointer data)
{
    f->ring.avail->idx = QSIZE + 1;
    expect_broken(f, "available index moved by more than the queue size");
}

static void test_too_many_segments(Fixture *f, gconstpointer data)
{
    TvBuf b[4];

    for (int i = 0; i < 4; i++) {
        b[i] = (TvBuf){buf(f, 8, 's'), 8, false};
    }
    f->elem.iov_cap = 3;
    tvr_publish(&f->ring, tvr_add_chain(&f->ring, b, 4));
    expect_broken(f, "too many segments");
}

/* A buffer crossing two regions adjacent in guest memory: two iovecs. */
static void test_span_regions(Fixture *f, gconstpointer data)
{
    VirtioMemTable t2 = {0};
    VirtioMemRegion r;
    uint64_t half = GUEST_SIZE / 2;

    g_assert_true(virtio_mem_region_map(&r, f->mem.fd, GUEST_GPA, half,
                                        (uintptr_t)f->mem.base, 0, NULL));
    g_assert_true(virtio_mem_table_insert(&t2, &r, NULL));
    g_assert_true(virtio_mem_region_map(&r, f->mem.fd, GUEST_GPA + half, half,
                                        (uintptr_t)f->mem.base + half, half, NULL));
    g_assert_true(virtio_mem_table_insert(&t2, &r, NULL));
    f->vq.mem = &t2;
    tvr_set_desc(&f->ring, 0, GUEST_GPA + half - 100, 200, 0, 0);
    tvr_publish(&f->ring, 0);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.out_num, ==, 2);
    g_assert_cmpuint(f->elem.iov[0].iov_len, ==, 100);
    g_assert_cmpuint(f->elem.iov[1].iov_len, ==, 100);
    g_assert_true((uint8_t *)f->elem.iov[1].iov_base == t2.regions[1].host);
    /* Overlapping regions are refused. */
    g_assert_true(virtio_mem_region_map(&r, f->mem.fd, GUEST_GPA + half - 4096, 8192,
                                        1ULL << 40, 0, NULL));
    g_assert_false(virtio_mem_table_insert(&t2, &r, NULL));
    virtio_mem_region_unmap(&r);
    virtio_mem_table_clear(&t2);
}

static void test_region_checks(Fixture *f, gconstpointer data)
{
    VirtioMemRegion r;
    GError *err = NULL;

    /* Larger than its file. */
    g_assert_false(
        virtio_mem_region_map(&r, f->mem.fd, 0, GUEST_SIZE + 4096, 0, 0, &err));
    g_assert_nonnull(strstr(err->message, "larger than its file"));
    g_clear_error(&err);
    /* An offset that pushes it past the end, and one that wraps. */
    g_assert_false(virtio_mem_region_map(&r, f->mem.fd, 0, 8192, 0, GUEST_SIZE, &err));
    g_clear_error(&err);
    g_assert_false(
        virtio_mem_region_map(&r, f->mem.fd, 0, 8192, 0, UINT64_MAX - 10, &err));
    g_clear_error(&err);
    g_assert_false(
        virtio_mem_region_map(&r, f->mem.fd, UINT64_MAX - 10, 8192, 0, 0, &err));
    g_clear_error(&err);
    g_assert_false(virtio_mem_region_map(&r, f->mem.fd, 0, 0, 0, 0, &err));
    g_clear_error(&err);
    /* Not a memory file. */
    g_assert_false(virtio_mem_region_map(&r, 0, 0, 4096, 0, 0, &err));
    g_clear_error(&err);
    /* Translation bounds. */
    g_assert_null(virtio_mem_gpa_to_host(&f->table, GUEST_GPA - 1, 2));
    g_assert_null(virtio_mem_gpa_to_host(&f->table, GUEST_GPA + GUEST_SIZE, 1));
    g_assert_null(virtio_mem_gpa_to_host(&f->table, GUEST_GPA, GUEST_SIZE + 1));
    g_assert_null(virtio_mem_gpa_to_host(&f->table, GUEST_GPA, 0));
    g_assert_nonnull(virtio_mem_gpa_to_host(&f->table, GUEST_GPA, GUEST_SIZE));
    g_assert_null(virtio_mem_uva_to_host(&f->table, (uintptr_t)f->mem.base - 1, 1));
    g_assert_null(
        virtio_mem_uva_to_host(&f->table, (uintptr_t)f->mem.base, UINT64_MAX));
}

static void test_event_idx(Fixture *f, gconstpointer data)
{
    TvBuf b[1] = {{buf(f, 1, 0), 1, true}};

    fixture_vq_init(f, FEATURES | (1ULL << VIRTIO_RING_F_EVENT_IDX), 0);
    for (int i = 0; i < 3; i++) {
        tvr_publish(&f->ring, tvr_add_chain(&f->ring, b, 1));
    }
    /* The driver wants a notification when entry 1 is used (idx reaches 2). */
    tvr_set_used_event(&f->ring, 1);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(tvr_avail_event(&f->ring), ==, 1); /* kick me for the next */
    virtq_push(&f->vq, &f->elem, 1);
    virtq_flush(&f->vq);
    g_assert_true(virtq_should_notify(&f->vq)); /* first one: always */
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    virtq_push(&f->vq, &f->elem, 1);
    virtq_flush(&f->vq);
    g_assert_true(virtq_should_notify(&f->vq)); /* crossed used_event 1 */
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    virtq_push(&f->vq, &f->elem, 1);
    virtq_flush(&f->vq);
    g_assert_false(virtq_should_notify(&f->vq)); /* used_event still 1 */
    /* Enabling notifications publishes the avail index as avail_event. */
    virtq_set_notification(&f->vq, true);
    g_assert_cmpuint(tvr_avail_event(&f->ring), ==, 3);
}

/* Kicks suppressed (a device polling its ring): pops leave avail_event
 * where a driver that honours it never kicks. */
static void test_event_idx_suppressed(Fixture *f, gconstpointer data)
{
    TvBuf b[1] = {{buf(f, 1, 0), 1, true}};

    fixture_vq_init(f, FEATURES | (1ULL << VIRTIO_RING_F_EVENT_IDX), 0);
    g_assert_true(virtq_get_notification(&f->vq));
    for (int i = 0; i < 2; i++) {
        tvr_publish(&f->ring, tvr_add_chain(&f->ring, b, 1));
    }
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(tvr_avail_event(&f->ring), ==, 1);
    virtq_set_notification(&f->vq, false);
    g_assert_false(virtq_get_notification(&f->vq));
    g_assert_cmpuint(tvr_avail_event(&f->ring), ==, 0); /* passed already */
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(tvr_avail_event(&f->ring), ==, 0); /* not moved by a pop */
    /* The driver adds entries 2..5: none of them needs a kick. */
    for (uint16_t i = 2; i < 6; i++) {
        g_assert_false(vring_need_event(tvr_avail_event(&f->ring), i + 1, i));
    }
    /* Enabling asks for a kick at the next entry (the avail index, 2). */
    virtq_set_notification(&f->vq, true);
    g_assert_true(virtq_get_notification(&f->vq));
    g_assert_cmpuint(tvr_avail_event(&f->ring), ==, 2);
    g_assert_true(vring_need_event(tvr_avail_event(&f->ring), 3, 2));
}

static void test_no_interrupt(Fixture *f, gconstpointer data)
{
    TvBuf b[1] = {{buf(f, 1, 0), 1, true}};

    tvr_publish(&f->ring, tvr_add_chain(&f->ring, b, 1));
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    virtq_push(&f->vq, &f->elem, 1);
    virtq_flush(&f->vq);
    g_assert_true(virtq_should_notify(&f->vq));
    f->ring.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
    g_assert_false(virtq_should_notify(&f->vq));
    /* Kick suppression without EVENT_IDX: the used ring's NO_NOTIFY flag. */
    virtq_set_notification(&f->vq, false);
    g_assert_cmpuint(f->ring.used->flags & VRING_USED_F_NO_NOTIFY, ==,
                     VRING_USED_F_NO_NOTIFY);
    virtq_set_notification(&f->vq, true);
    g_assert_cmpuint(f->ring.used->flags & VRING_USED_F_NO_NOTIFY, ==, 0);
}

static void test_unpop(Fixture *f, gconstpointer data)
{
    TvBuf b[1] = {{buf(f, 4, 0), 4, true}};
    uint16_t h0 = tvr_add_chain(&f->ring, b, 1), h1 = tvr_add_chain(&f->ring, b, 1);

    tvr_publish(&f->ring, h0);
    tvr_publish(&f->ring, h1);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.index, ==, h0);
    virtq_unpop(&f->vq, &f->elem);
    g_assert_cmpuint(virtq_in_use(&f->vq), ==, 0);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.index, ==, h0);
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
    g_assert_cmpuint(f->elem.index, ==, h1);
}

/* Index wrap-around at 65535. */
static void test_index_wrap(Fixture *f, gconstpointer data)
{
    TvBuf b[1] = {{buf(f, 4, 0), 4, true}};
    uint32_t id, len;

    f->ring.avail->idx = 65534;
    f->ring.used->idx = 65534;
    f->ring.last_used = 65534;
    fixture_vq_init(f, FEATURES, 65534);
    for (int i = 0; i < 4; i++) {
        tvr_publish(&f->ring, tvr_add_chain(&f->ring, b, 1));
        g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
        virtq_push(&f->vq, &f->elem, 4);
        virtq_flush(&f->vq);
        g_assert_true(tvr_get_used(&f->ring, &id, &len));
        g_assert_cmpuint(id, ==, f->elem.index);
    }
    g_assert_cmpuint(tvr_used_idx(&f->ring), ==, 2);
}

/* ------------------------------------------------------------------------ */
/* Inflight tracking                                                         */
/* ------------------------------------------------------------------------ */

static VhostUserInflightQueueSplit *inflight_region(void)
{
    return g_malloc0(virtq_inflight_region_size(QSIZE));
}

static void test_inflight_fresh(Fixture *f, gconstpointer data)
{
    VhostUserInflightQueueSplit *r = inflight_region();

    memset(r->desc, 0xff, QSIZE * sizeof(r->desc[0])); /* garbage is cleared */
    g_assert_cmpuint(virtq_inflight_recover(&f->vq, r), ==, 0);
    g_assert_cmpuint(r->version, ==, 1);
    g_assert_cmpuint(r->desc_num, ==, QSIZE);
    g_assert_cmpuint(r->desc[3].inflight, ==, 0);
    g_assert_cmpuint(virtq_in_use(&f->vq), ==, 0);
    virtq_cleanup(&f->vq);
    g_free(r);
}

/* Pop four, complete the second, "die"; a new device resubmits the rest in
 * pop order and continues after them. */
static void test_inflight_resubmit(Fixture *f, gconstpointer data)
{
    VhostUserInflightQueueSplit *r = inflight_region();
    TvBuf b[1] = {{buf(f, 4, 0), 4, true}};
    uint16_t heads[5];
    VirtQueueElement popped[4];
    struct iovec iovs[4][4];

    virtq_inflight_recover(&f->vq, r);
    for (int i = 0; i < 5; i++) {
        heads[i] = tvr_add_chain(&f->ring, b, 1);
        tvr_publish(&f->ring, heads[i]);
    }
    for (int i = 0; i < 4; i++) {
        popped[i] = (VirtQueueElement){.iov = iovs[i], .iov_cap = 4};
        g_assert_cmpint(virtq_pop(&f->vq, &popped[i]), ==, 1);
        g_assert_cmpuint(r->desc[heads[i]].inflight, ==, 1);
    }
    virtq_push(&f->vq, &popped[1], 4);
    virtq_flush(&f->vq);
    g_assert_cmpuint(r->desc[heads[1]].inflight, ==, 0);
    g_assert_cmpuint(r->used_idx, ==, 1);

    /* The back-end dies; a new one starts from SET_VRING_BASE = used idx. */
    fixture_vq_init(f, FEATURES, tvr_used_idx(&f->ring));
    g_assert_cmpuint(virtq_inflight_recover(&f->vq, r), ==, 3);
    g_assert_cmpuint(virtq_last_avail_idx(&f->vq), ==, 4);
    g_assert_cmpuint(virtq_in_use(&f->vq), ==, 3);
    for (int i = 0; i < 4; i++) {
        if (i == 1) {
            continue;
        }
        g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1);
        g_assert_cmpuint(f->elem.index, ==, heads[i]);
        virtq_push(&f->vq, &f->elem, 4);
    }
    g_assert_cmpint(virtq_pop(&f->vq, &f->elem), ==, 1); /* then new work */
    g_assert_cmpuint(f->elem.index, ==, heads[4]);
    virtq_push(&f->vq, &f->elem, 4);
    virtq_flush(&f->vq);
    g_assert_cmpuint(virtq_in_use(&f->vq), ==, 0);
    g_assert_cmpuint(tvr_used_idx(&f->ring), ==, 5);
    virtq_cleanup(&f->vq);
    g_free(r);
}

/* Death after used->idx was published but before the batch was cleared:
 * the recovery clears the batch from last_batch_head. */
static void test_inflight_reconcile(Fixture *f, gconstpointer data)
{
    VhostUserInflightQueueSplit *r = inflight_region();

    r->version = 1;
    r->desc_num = QSIZE;
    for (int i = 0; i < 3; i++) {
        r->desc[i].inflight = 1;
        r->desc[i].counter = 10 - i; /* popped in order 2, 1, 0 */
    }
    /* Heads 1 and 0 were pushed (list 0 -> 1) and used->idx moved to 2. */
    r->desc[1].next = 5;
    r->desc[0].next = 1;
    r->last_batch_head = 0;
    r->used_idx = 0;
    f->ring.used->idx = 2;
    fixture_vq_init(f, FEATURES, 2);
    g_assert_cmpuint(virtq_inflight_recover(&f->vq, r), ==, 1);
    g_assert_cmpuint(r->used_idx, ==, 2);
    g_assert_cmpuint(r->desc[0].inflight, ==, 0);
    g_assert_cmpuint(r->desc[1].inflight, ==, 0);
    g_assert_cmpuint(r->desc[2].inflight, ==, 1);
    g_assert_cmpuint(virtq_last_avail_idx(&f->vq), ==, 3);
    virtq_drop_resubmits(&f->vq);
    g_assert_cmpuint(virtq_in_use(&f->vq), ==, 0);
    virtq_cleanup(&f->vq);
    g_free(r);
}

/* The region is the front-end's too: garbage in it must not take us out of
 * bounds. */
static void test_inflight_hostile(Fixture *f, gconstpointer data)
{
    VhostUserInflightQueueSplit *r = inflight_region();

    r->version = 7;
    r->desc_num = 60000;
    r->last_batch_head = 60000;
    r->used_idx = 100;
    for (int i = 0; i < QSIZE; i++) {
        r->desc[i].inflight = 1;
        r->desc[i].next = 60000;
        r->desc[i].counter = (uint64_t)g_random_int();
    }
    g_assert_cmpuint(virtq_inflight_recover(&f->vq, r), ==, QSIZE);
    virtq_cleanup(&f->vq);
    g_free(r);
}

#define ADD(name, fn)                                                                  \
    g_test_add("/virtqueue/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("simple-chain", test_simple_chain);
    ADD("indirect", test_indirect);
    ADD("direct-then-indirect", test_direct_then_indirect);
    ADD("zero-length", test_zero_length);
    ADD("hostile/outside-memory", test_outside_memory);
    ADD("hostile/wrapping-address", test_wrapping_address);
    ADD("hostile/loop", test_loop);
    ADD("hostile/indirect-loop", test_indirect_loop);
    ADD("hostile/nested-indirect", test_nested_indirect);
    ADD("hostile/indirect-not-negotiated", test_indirect_not_negotiated);
    ADD("hostile/indirect-bad-size", test_indirect_bad_size);
    ADD("hostile/indirect-with-next", test_indirect_with_next);
    ADD("hostile/indirect-table-outside", test_indirect_table_outside);
    ADD("hostile/write-then-read", test_write_then_read);
    ADD("hostile/head-out-of-range", test_bad_indexes);
    ADD("hostile/next-out-of-range", test_bad_next);
    ADD("hostile/avail-jump", test_avail_jump);
    ADD("hostile/too-many-segments", test_too_many_segments);
    ADD("memory/span-regions", test_span_regions);
    ADD("memory/region-checks", test_region_checks);
    ADD("notify/event-idx", test_event_idx);
    ADD("notify/event-idx-suppressed", test_event_idx_suppressed);
    ADD("notify/no-interrupt", test_no_interrupt);
    ADD("unpop", test_unpop);
    ADD("index-wrap", test_index_wrap);
    ADD("inflight/fresh", test_inflight_fresh);
    ADD("inflight/resubmit", test_inflight_resubmit);
    ADD("inflight/reconcile", test_inflight_reconcile);
    ADD("inflight/hostile", test_inflight_hostile);
    return g_test_run();
}

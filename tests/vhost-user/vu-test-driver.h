/*
 * tests/vhost-user/vu-test-driver.h - the driver side of split virtqueues
 * for tests: guest memory in a memfd (with its own guest physical base) and
 * rings built in it the way a virtio driver builds them, plus raw access to
 * descriptors for hostile chains.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_VHOST_USER_VU_TEST_DRIVER_H
#define TESTS_VHOST_USER_VU_TEST_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>
#include <glib.h>

/* Guest memory: one memfd, mapped here, at guest physical address @gpa. */
typedef struct TestGuestMem {
    int fd;
    uint8_t *base; /* the driver's (and front-end's) mapping */
    uint64_t gpa;
    size_t size;
    size_t brk; /* bump allocator */
} TestGuestMem;

void tgm_init(TestGuestMem *m, size_t size, uint64_t gpa);
void tgm_cleanup(TestGuestMem *m);
/* Allocate @len bytes aligned to @align (zeroed); returns the GPA. */
uint64_t tgm_alloc(TestGuestMem *m, size_t len, size_t align);
/* The driver's pointer to guest address @gpa. */
void *tgm_ptr(TestGuestMem *m, uint64_t gpa);
/* The front-end's virtual address of @gpa (what vhost-user ring addresses use). */
uint64_t tgm_uva(TestGuestMem *m, uint64_t gpa);

/* One buffer of a chain. */
typedef struct TvBuf {
    uint64_t gpa;
    uint32_t len;
    bool write; /* device-writable */
} TvBuf;

typedef struct TestVring {
    TestGuestMem *mem;
    uint16_t num;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    uint16_t next_desc; /* next free descriptor (round robin) */
    uint16_t last_used;
} TestVring;

/* Lay out a ring of @num entries in @m (desc, avail, used). */
void tvr_init(TestVring *r, TestGuestMem *m, uint16_t num);
/* Write @n buffers as a chain of direct descriptors; returns the head. */
uint16_t tvr_add_chain(TestVring *r, const TvBuf *bufs, unsigned n);
/* Write @n buffers into a new indirect table; one descriptor refers to it. */
uint16_t tvr_add_indirect(TestVring *r, const TvBuf *bufs, unsigned n);
/* Make @head available (ring entry, write barrier, avail->idx). */
void tvr_publish(TestVring *r, uint16_t head);
/* Set descriptor @i of the main table raw. */
void tvr_set_desc(TestVring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next);
/* Take the next used entry; false if none. */
bool tvr_get_used(TestVring *r, uint32_t *id, uint32_t *len);
/* used->idx as the device published it. */
uint16_t tvr_used_idx(TestVring *r);
/* avail_event / used_event words (EVENT_IDX). */
uint16_t tvr_avail_event(TestVring *r);
void tvr_set_used_event(TestVring *r, uint16_t v);

#endif /* TESTS_VHOST_USER_VU_TEST_DRIVER_H */

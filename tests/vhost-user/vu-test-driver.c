/*
 * tests/vhost-user/vu-test-driver.c - driver-side rings for tests.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qcontext/aio/atomic.h"
#include "vu-test-driver.h"

void tgm_init(TestGuestMem *m, size_t size, uint64_t gpa)
{
    memset(m, 0, sizeof(*m));
    m->fd = memfd_create("test-guest-ram", MFD_CLOEXEC);
    g_assert_cmpint(m->fd, >=, 0);
    g_assert_cmpint(ftruncate(m->fd, (off_t)size), ==, 0);
    m->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    g_assert(m->base != MAP_FAILED);
    m->gpa = gpa;
    m->size = size;
}

void tgm_cleanup(TestGuestMem *m)
{
    if (m->base) {
        munmap(m->base, m->size);
    }
    if (m->fd >= 0) {
        close(m->fd);
    }
    memset(m, 0, sizeof(*m));
    m->fd = -1;
}

uint64_t tgm_alloc(TestGuestMem *m, size_t len, size_t align)
{
    size_t off = (m->brk + align - 1) & ~(align - 1);

    g_assert_cmpuint(off + len, <=, m->size);
    m->brk = off + len;
    memset(m->base + off, 0, len);
    return m->gpa + off;
}

void *tgm_ptr(TestGuestMem *m, uint64_t gpa)
{
    g_assert_cmpuint(gpa - m->gpa, <, m->size);
    return m->base + (gpa - m->gpa);
}

uint64_t tgm_uva(TestGuestMem *m, uint64_t gpa)
{
    return (uint64_t)(uintptr_t)tgm_ptr(m, gpa);
}

void tvr_init(TestVring *r, TestGuestMem *m, uint16_t num)
{
    memset(r, 0, sizeof(*r));
    r->mem = m;
    r->num = num;
    r->desc_gpa = tgm_alloc(m, 16u * num, 16);
    r->avail_gpa = tgm_alloc(m, 6u + 2u * num, 2);
    r->used_gpa = tgm_alloc(m, 6u + 8u * num, 4);
    r->desc = tgm_ptr(m, r->desc_gpa);
    r->avail = tgm_ptr(m, r->avail_gpa);
    r->used = tgm_ptr(m, r->used_gpa);
}

void tvr_set_desc(TestVring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next)
{
    r->desc[i].addr = addr;
    r->desc[i].len = len;
    r->desc[i].flags = flags;
    r->desc[i].next = next;
}

static void fill(struct vring_desc *table, uint16_t first, uint16_t count,
                 const TvBuf *bufs, unsigned n, uint16_t (*idx)(uint16_t, uint16_t))
{
    for (unsigned k = 0; k < n; k++) {
        uint16_t i = idx(first, (uint16_t)k);

        table[i].addr = bufs[k].gpa;
        table[i].len = bufs[k].len;
        table[i].flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
                         (k + 1 < n ? VRING_DESC_F_NEXT : 0);
        table[i].next = idx(first, (uint16_t)(k + 1)) % count;
    }
}

static uint16_t idx_plain(uint16_t first, uint16_t k)
{
    return (uint16_t)(first + k);
}

uint16_t tvr_add_chain(TestVring *r, const TvBuf *bufs, unsigned n)
{
    uint16_t head = r->next_desc;

    g_assert_cmpuint(n, <=, r->num);
    for (unsigned k = 0; k < n; k++) {
        uint16_t i = (uint16_t)((head + k) % r->num);
        uint16_t nx = (uint16_t)((head + k + 1) % r->num);

        r->desc[i].addr = bufs[k].gpa;
        r->desc[i].len = bufs[k].len;
        r->desc[i].flags = (bufs[k].write ? VRING_DESC_F_WRITE : 0) |
                           (k + 1 < n ? VRING_DESC_F_NEXT : 0);
        r->desc[i].next = nx;
    }
    r->next_desc = (uint16_t)((head + n) % r->num);
    return head;
}

uint16_t tvr_add_indirect(TestVring *r, const TvBuf *bufs, unsigned n)
{
    uint64_t table_gpa = tgm_alloc(r->mem, 16u * n, 16);
    struct vring_desc *table = tgm_ptr(r->mem, table_gpa);
    uint16_t head = r->next_desc;

    fill(table, 0, (uint16_t)n, bufs, n, idx_plain);
    tvr_set_desc(r, head, table_gpa, 16u * n, VRING_DESC_F_INDIRECT, 0);
    r->next_desc = (uint16_t)((head + 1) % r->num);
    return head;
}

void tvr_publish(TestVring *r, uint16_t head)
{
    uint16_t idx = r->avail->idx;

    r->avail->ring[idx % r->num] = head;
    /* The driver's barrier: the entry before the index (pairs with the
     * device's acquire load of avail->idx). */
    qatomic_store_release(&r->avail->idx, (uint16_t)(idx + 1));
}

bool tvr_get_used(TestVring *r, uint32_t *id, uint32_t *len)
{
    /* Pairs with the device's release store of used->idx (virtq_flush). */
    uint16_t idx = qatomic_load_acquire(&r->used->idx);
    struct vring_used_elem *e;

    if (idx == r->last_used) {
        return false;
    }
    e = &r->used->ring[r->last_used % r->num];
    *id = e->id;
    *len = e->len;
    r->last_used++;
    return true;
}

uint16_t tvr_used_idx(TestVring *r)
{
    return qatomic_load_acquire(&r->used->idx);
}

uint16_t tvr_avail_event(TestVring *r)
{
    return qatomic_read((uint16_t *)&r->used->ring[r->num]);
}

void tvr_set_used_event(TestVring *r, uint16_t v)
{
    qatomic_set(&r->avail->ring[r->num], v);
}
